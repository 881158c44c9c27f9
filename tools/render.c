/* tools/render.c - the one text renderer of runs, values and stored text
 * (see render.h). */
#include "render.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h" /* tropt__format_real (core/dtoa.c) */
#include "tropt_event.h"

/* ---- values ------------------------------------------------------------- */

void cli_format_real(char *buf, size_t size, double x)
{
    if (tropt__format_real(buf, size, x) >= size)
        snprintf(buf, size, "%.17g", x);
}

void cli_format_time(char *buf, size_t size, double t)
{
    struct tm tm;
    time_t sec = (time_t)floor(t);
    if (!isfinite(t) || fabs(t) > 253402300799.0 || !gmtime_r(&sec, &tm) ||
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "-");
}

size_t cli_real_json_fn(char *buf, size_t size, double x)
{
    cli_format_real(buf, size, x);
    return strlen(buf);
}

/* The text of a scalar value into b; 0 or -1 on memory. */
static int put_value(tev_buf *b, const tropt_field *f)
{
    char num[64];
    switch (f->type) {
    case TROPT_BOOL:
        return tev_buf_puts(b, f->v.b ? "true" : "false");
    case TROPT_INT:
        return tev_buf_put_i64(b, f->v.i);
    case TROPT_REAL:
        cli_format_real(num, sizeof num, f->v.r);
        return tev_buf_puts(b, num);
    case TROPT_STRING:
        return tev_put_string(b, f->v.s, strlen(f->v.s));
    case TROPT_JSON:
        return tev_put_json(b, f->v.json, cli_real_json_fn);
    case TROPT_NULL:
        break;
    }
    return tev_buf_puts(b, "null");
}

char *cli_value_text(const tropt_field *f)
{
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    if (put_value(&b, f) != 0 || !b.data) {
        tev_buf_free(&b);
        return NULL;
    }
    return tev_buf_steal(&b);
}

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c < 0x80                 ? 1
               : c >= 0xC2 && c <= 0xDF ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((n == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))) ||
        (n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))))
        return 0;
    return n;
}

char *cli_utf8_clean(const char *s)
{
    char *out = malloc(3 * strlen(s) + 1), *o = out;
    const unsigned char *p = (const unsigned char *)s;
    while (out && *p) {
        size_t n = utf8_seq(p);
        if (n == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
            continue;
        }
        memcpy(o, p, n);
        o += n;
        p += n;
    }
    if (out)
        *o = '\0';
    return out;
}

static json_t *real_json(double x)
{
    if (isfinite(x))
        return json_real(x);
    return json_string(isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
}

static json_t *string_json(const char *s)
{
    char *c = cli_utf8_clean(s);
    json_t *j = c ? json_string(c) : NULL;
    free(c);
    return j;
}

json_t *cli_value_json(const tropt_field *f)
{
    switch (f->type) {
    case TROPT_BOOL:
        return json_boolean(f->v.b);
    case TROPT_INT:
        return json_integer(f->v.i);
    case TROPT_REAL:
        return real_json(f->v.r);
    case TROPT_STRING:
        return string_json(f->v.s);
    case TROPT_JSON:
        return json_deep_copy(f->v.json);
    case TROPT_NULL:
        break;
    }
    return json_null();
}

/* ---- the terminal ----------------------------------------------------------- */

/* A control character (C0, DEL, C1) of n bytes at p. */
static int is_control(const unsigned char *p, size_t n)
{
    return (n == 1 && (*p < 0x20 || *p == 0x7F)) || (n == 2 && p[0] == 0xC2 && p[1] < 0xA0);
}

void cli_put_term(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "-");
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0) {
            fputs("\xEF\xBF\xBD", f);
            p++;
        } else if (is_control(p, n)) {
            fputc('?', f);
            p += n;
        } else {
            fwrite(p, 1, n, f);
            p += n;
        }
    }
}

size_t cli_term_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "-");
    while (*p) {
        size_t n = utf8_seq(p);
        p += n ? n : 1;
        w++;
    }
    return w;
}

void cli_put_padded(FILE *f, const char *s, size_t w, int right)
{
    size_t n = cli_term_width(s);
    for (size_t i = n; right && i < w; i++)
        fputc(' ', f);
    cli_put_term(f, s);
    for (size_t i = n; !right && i < w; i++)
        fputc(' ', f);
}

void cli_print_error(const char *msg)
{
    const char *p = msg ? msg : "out of memory";
    fputs("tropt: ", stderr);
    for (;;) {
        size_t n = strcspn(p, "\n");
        char *line = strndup(p, n);
        cli_put_term(stderr, line ? line : "?");
        free(line);
        fputc('\n', stderr);
        if (!p[n])
            break;
        p += n + 1;
    }
}

/* ---- CSV -------------------------------------------------------------------- */

void cli_put_csv(FILE *f, const char *s)
{
    if (!s)
        return;
    size_t len = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL || (len && (s[0] == ' ' || s[len - 1] == ' '));
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* ---- a text table ------------------------------------------------------------- */

int cli_table_add(cli_table *t, char **row)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **c = realloc(t->cells, cap * t->ncol * sizeof *c);
        if (!c) {
            for (size_t i = 0; i < t->ncol; i++)
                free(row[i]);
            return -1;
        }
        t->cells = c;
        t->cap = cap;
    }
    memcpy(t->cells + t->rows * t->ncol, row, t->ncol * sizeof *row);
    t->rows++;
    return 0;
}

void cli_table_free(cli_table *t)
{
    for (size_t i = 0; i < t->rows * t->ncol; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->rows = t->cap = 0;
}

static void print_row(FILE *f, const cli_table *t, const char *const *cells, const size_t *w)
{
    fprintf(f, "%*s", (int)t->indent, "");
    for (size_t c = 0; c < t->ncol; c++) {
        int last = c + 1 == t->ncol;
        cli_put_padded(f, cells[c], last && !(t->right && t->right[c]) ? 0 : w[c],
                       t->right && t->right[c]);
        fputs(last ? "\n" : "  ", f);
    }
}

void cli_table_print(FILE *f, const cli_table *t)
{
    size_t *w = calloc(t->ncol, sizeof *w);
    if (!w)
        return;
    for (size_t c = 0; c < t->ncol; c++) {
        w[c] = cli_term_width(t->head[c]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t cw = cli_term_width(t->cells[r * t->ncol + c]);
            w[c] = cw > w[c] ? cw : w[c];
        }
    }
    print_row(f, t, t->head, w);
    for (size_t r = 0; r < t->rows; r++)
        print_row(f, t, (const char *const *)t->cells + r * t->ncol, w);
    free(w);
}

/* ---- runs --------------------------------------------------------------------- */

char *cli_vstrf(const char *fmt, va_list ap)
{
    char *s = NULL;
    return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

char *cli_strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = cli_vstrf(fmt, ap);
    va_end(ap);
    return s;
}

static char *time_text(double t)
{
    char buf[64];
    cli_format_time(buf, sizeof buf, t);
    return strdup(buf);
}

static char *col_name(const cli_runs_row *row)
{
    return strdup(row->run->info.name ? row->run->info.name : row->run->info.run_id);
}

static char *col_experiment(const cli_runs_row *row)
{
    return strdup(row->run->info.experiment);
}

static char *col_id(const cli_runs_row *row)
{
    return strndup(row->run->info.run_id, row->id_len);
}

static char *col_status(const cli_runs_row *row)
{
    return strdup(row->run->info.status);
}

static char *col_started(const cli_runs_row *row)
{
    return time_text(row->run->info.started_at);
}

static char *col_steps(const cli_runs_row *row)
{
    return cli_strf("%" PRId64, row->run->steps);
}

static char *col_attempts(const cli_runs_row *row)
{
    return cli_strf("%" PRId64, row->run->info.attempts);
}

static char *col_last(const cli_runs_row *row)
{
    const cli_metric *m = cli_run_primary(row->run, row->metric);
    return m ? cli_value_text(&m->last) : NULL;
}

static char *col_best(const cli_runs_row *row)
{
    const cli_metric *m = cli_run_primary(row->run, row->metric);
    char buf[64];
    if (!m || isnan(m->min))
        return NULL;
    cli_format_real(buf, sizeof buf, m->min);
    return strdup(buf);
}

/* The tags joined by ',' (a tag holds none); NULL (shown "-") when none. */
static char *join_tags(const cli_run_info *info, const char *sep)
{
    if (info->n_tags == 0)
        return NULL;
    size_t len = 1;
    for (size_t i = 0; i < info->n_tags; i++)
        len += strlen(info->tags[i]) + strlen(sep);
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < info->n_tags; i++) {
        if (i)
            strcat(out, sep);
        strcat(out, info->tags[i]);
    }
    return out;
}

static char *col_tags(const cli_runs_row *row)
{
    return join_tags(&row->run->info, ",");
}

/* The columns of `tropt runs`, in order.  A new column is one row here;
 * the two metric columns are at METRIC_COL and METRIC_COL + 1. */
static const cli_run_column run_columns[] = {
    {"NAME", 0, col_name},         {"EXPERIMENT", 0, col_experiment}, {"ID", 0, col_id},
    {"STATUS", 0, col_status},     {"STARTED", 0, col_started},       {"STEPS", 1, col_steps},
    {"ATTEMPTS", 1, col_attempts}, {"LAST LOSS", 1, col_last},        {"BEST LOSS", 1, col_best},
    {"TAGS", 0, col_tags},
};
#define N_RUN_COLUMNS (sizeof run_columns / sizeof run_columns[0])
#define METRIC_COL 7

static size_t common_prefix(const char *a, const char *b)
{
    size_t n = 0;
    while (a[n] && a[n] == b[n])
        n++;
    return n;
}

size_t cli_id_prefix_len(const char *const *sorted, size_t n, const char *id, size_t min)
{
    size_t lo = 0, hi = n, need = min, full = strlen(id);
    while (lo < hi) { /* the first id not below `id` */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(sorted[mid], id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* the ids sharing most with `id` are its neighbours in sorted order */
    size_t at = lo < n && strcmp(sorted[lo], id) == 0 ? lo + 1 : lo;
    if (lo > 0 && common_prefix(sorted[lo - 1], id) + 1 > need)
        need = common_prefix(sorted[lo - 1], id) + 1;
    if (at < n && common_prefix(sorted[at], id) + 1 > need)
        need = common_prefix(sorted[at], id) + 1;
    return need < full ? need : full;
}

int cli_print_runs(FILE *f, const cli_run *runs, size_t n, const char *metric, const size_t *id_len)
{
    const char *head[N_RUN_COLUMNS];
    int right[N_RUN_COLUMNS];
    char *last = metric ? cli_strf("LAST %s", metric) : NULL,
         *best = metric ? cli_strf("MIN %s", metric) : NULL;
    for (size_t c = 0; c < N_RUN_COLUMNS; c++) {
        head[c] = run_columns[c].head;
        right[c] = run_columns[c].right;
    }
    if (metric) {
        head[METRIC_COL] = last ? last : "LAST";
        head[METRIC_COL + 1] = best ? best : "MIN";
    }
    cli_table t = {.ncol = N_RUN_COLUMNS, .head = head, .right = right};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cli_runs_row r = {&runs[i], metric, id_len ? id_len[i] : strlen(runs[i].info.run_id)};
        char *row[N_RUN_COLUMNS];
        for (size_t c = 0; c < N_RUN_COLUMNS; c++)
            row[c] = run_columns[c].cell(&r);
        rc = cli_table_add(&t, row);
    }
    if (rc == 0)
        cli_table_print(f, &t);
    cli_table_free(&t);
    free(last);
    free(best);
    return rc;
}

/* ---- one run -------------------------------------------------------------------- */

/* A line of a run's identity: its label and its text (malloc'd; NULL:
 * the line is left out).  A new line is one row of detail_rows. */
typedef struct detail_row {
    const char *label;
    char *(*text)(const cli_run *r);
} detail_row;

static char *d_name(const cli_run *r)
{
    return strdup(r->info.name ? r->info.name : r->info.run_id);
}

static char *d_run(const cli_run *r)
{
    return strdup(r->info.run_id);
}

static char *d_experiment(const cli_run *r)
{
    return strdup(r->info.experiment);
}

static char *d_status(const cli_run *r)
{
    return strdup(r->info.status);
}

static char *d_tags(const cli_run *r)
{
    return join_tags(&r->info, ", ");
}

static char *d_note(const cli_run *r)
{
    return r->info.note && r->info.note[0] ? strdup(r->info.note) : NULL;
}

static char *d_host(const cli_run *r)
{
    if (!r->info.host)
        return NULL;
    return cli_strf("%s (pid %" PRId64 ")", r->info.host, r->info.pid);
}

static char *d_started(const cli_run *r)
{
    return time_text(r->info.started_at);
}

static char *d_ended(const cli_run *r)
{
    char buf[64];
    if (isnan(r->info.ended_at))
        return NULL;
    cli_format_time(buf, sizeof buf, r->info.ended_at);
    return cli_strf("%s (%.3f s)", buf, r->info.ended_at - r->info.started_at);
}

static char *d_steps(const cli_run *r)
{
    return cli_strf("%" PRId64, r->steps);
}

static char *d_attempts(const cli_run *r)
{
    return cli_strf("%" PRId64, r->info.attempts);
}

static char *d_resume_key(const cli_run *r)
{
    return r->info.resume_key ? strdup(r->info.resume_key) : NULL;
}

static char *d_system(const cli_run *r)
{
    return r->n_system ? cli_strf("%zu sample records", r->n_system) : NULL;
}

static const detail_row detail_rows[] = {
    {"name", d_name},     {"run", d_run},           {"experiment", d_experiment},
    {"status", d_status}, {"tags", d_tags},         {"note", d_note},
    {"host", d_host},     {"started", d_started},   {"ended", d_ended},
    {"steps", d_steps},   {"attempts", d_attempts}, {"resume key", d_resume_key},
    {"system", d_system},
};

/* "label       text", a text of several lines (a note) with its later
 * lines under the first. */
static void print_labelled(FILE *f, const char *label, const char *text)
{
    fprintf(f, "%-12s", label);
    for (const char *p = text;;) {
        size_t n = strcspn(p, "\n");
        char *line = strndup(p, n);
        cli_put_term(f, line ? line : "?");
        free(line);
        fputc('\n', f);
        if (!p[n] || !p[n + 1])
            break;
        p += n + 1;
        fprintf(f, "%-12s", "");
    }
}

static void print_identity(FILE *f, const cli_run *r)
{
    for (size_t i = 0; i < sizeof detail_rows / sizeof detail_rows[0]; i++) {
        char *text = detail_rows[i].text(r);
        if (!text)
            continue;
        print_labelled(f, detail_rows[i].label, text);
        free(text);
    }
}

/* Where the run came from: only the lines known. */
static void print_provenance(FILE *f, const cli_run *r)
{
    const cli_provenance *p = &r->info.prov;
    const char *label[] = {"command", "cwd", "git commit", "version"};
    const char *value[] = {p->command, p->cwd, p->git_commit, p->version};
    int any = 0;
    for (size_t i = 0; i < 4; i++) {
        if (!value[i])
            continue;
        if (!any++)
            fprintf(f, "\nprovenance\n");
        fprintf(f, "  %-12s", label[i]);
        cli_put_term(f, value[i]);
        fputc('\n', f);
    }
}

static char *i64_text(int64_t v)
{
    return cli_strf("%" PRId64, v);
}

/* One row of the attempts table: n, from step, started, ended, status, host, pid. */
static int attempt_row(cli_table *t, const cli_run *r, size_t i)
{
    const cli_attempt *a = &r->attempts[i];
    char *row[7] = {i64_text(a->attempt),
                    i64_text(a->from_step),
                    time_text(a->started_at),
                    isnan(a->ended_at) ? NULL : time_text(a->ended_at),
                    strdup(cli_attempt_status(r, i)),
                    a->host ? strdup(a->host) : NULL,
                    a->pid > 0 ? i64_text(a->pid) : NULL};
    return cli_table_add(t, row);
}

static int print_attempts(FILE *f, const cli_run *r)
{
    static const char *const head[] = {"ATTEMPT", "FROM STEP", "STARTED", "ENDED",
                                       "STATUS",  "HOST",      "PID"};
    static const int right[] = {1, 1, 0, 0, 0, 0, 1};
    cli_table t = {.ncol = 7, .head = head, .right = right, .indent = 2};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n_attempts; i++)
        rc = attempt_row(&t, r, i);
    if (rc == 0) {
        fprintf(f, "\nattempts\n");
        cli_table_print(f, &t);
    }
    cli_table_free(&t);
    return rc;
}

/* A mark's hash, or why it is missing. */
static char *mark_hash(const cli_mark *m)
{
    if (m->sha256)
        return strdup(m->sha256);
    return m->error ? cli_strf("hash missing (%s)", m->error) : strdup("hash missing");
}

static int print_marks(FILE *f, const cli_run *r)
{
    static const char *const head[] = {"STEP", "ATTEMPT", "SIZE", "SHA256", "PATH"};
    static const int right[] = {1, 1, 1, 0, 0};
    if (r->n_marks == 0)
        return 0;
    cli_table t = {.ncol = 5, .head = head, .right = right, .indent = 2};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n_marks; i++) {
        const cli_mark *m = &r->marks[i];
        char *row[5] = {i64_text(m->step), i64_text(m->attempt),
                        m->size >= 0 ? i64_text(m->size) : NULL, mark_hash(m), strdup(m->path)};
        rc = cli_table_add(&t, row);
    }
    if (rc == 0) {
        fprintf(f, "\ncheckpoints\n");
        cli_table_print(f, &t);
    }
    cli_table_free(&t);
    return rc;
}

/* Key column width of a section: the widest key, at most 48. */
static size_t key_width(const char *const *keys, size_t n, size_t stride)
{
    size_t kw = 0;
    for (size_t i = 0; i < n; i++) {
        size_t w = cli_term_width(*(const char *const *)((const char *)keys + i * stride));
        kw = w > kw ? w : kw;
    }
    return kw > 48 ? 48 : kw;
}

/* "  key  value" and, when step is not the run's last, "  (at step N)". */
static int print_kv(FILE *f, const char *key, size_t kw, const tropt_field *v, const char *suffix)
{
    char *text = cli_value_text(v);
    if (!text)
        return -1;
    fputs("  ", f);
    cli_put_padded(f, key, kw, 0);
    fputs("  ", f);
    cli_put_term(f, text);
    fprintf(f, "%s\n", suffix ? suffix : "");
    free(text);
    return 0;
}

static int print_fields(FILE *f, const char *title, const tropt_field *v, size_t n)
{
    fprintf(f, n ? "\n%s\n" : "\n%s (none)\n", title);
    size_t kw = n ? key_width(&v->key, n, sizeof *v) : 0;
    for (size_t i = 0; i < n; i++)
        if (print_kv(f, v[i].key, kw, &v[i], NULL) != 0)
            return -1;
    return 0;
}

static int print_metrics(FILE *f, const cli_run *r)
{
    const char *title = "metrics, last value";
    if (r->n_metrics == 0) {
        fprintf(f, "\n%s (none)\n", title);
        return 0;
    }
    fprintf(f, "\n%s at step %" PRId64 "\n", title, r->max_step);
    size_t kw = key_width((const char *const *)&r->metrics->key, r->n_metrics, sizeof *r->metrics);
    for (size_t i = 0; i < r->n_metrics; i++) {
        const cli_metric *m = &r->metrics[i];
        char at[48] = "";
        if (m->last_step != r->max_step)
            snprintf(at, sizeof at, "  (at step %" PRId64 ")", m->last_step);
        if (print_kv(f, m->key, kw, &m->last, at) != 0)
            return -1;
    }
    return 0;
}

int cli_print_run(FILE *f, const cli_run *r)
{
    print_identity(f, r);
    print_provenance(f, r);
    if (print_fields(f, "config", r->config, r->n_config) != 0 ||
        print_fields(f, "summary", r->summary, r->n_summary) != 0 || print_attempts(f, r) != 0 ||
        print_marks(f, r) != 0)
        return -1;
    return print_metrics(f, r);
}
