/*
 * tools/cmd_compare.c - `tropt compare RUN RUN...`: the config keys that
 * differ and each metric's last/min/max, side by side, as text, CSV or
 * JSON.  Runs come through the run source (tools/source.h), values keep
 * their type (a string "true" stays a string), and every stored string is
 * escaped for where it goes (render.h).
 */
#include "cli.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "source.h"
#include "tropt_event.h"

/* ---- the model: rows of typed cells, one per run ------------------------- */

typedef enum { SEC_RUN, SEC_CONFIG, SEC_METRIC } section;

/* One cell: a value of one run, or absent. */
typedef struct cell {
    int present;
    tropt_field v; /* borrowed from the run, or a number made here */
} cell;

/* Which outputs show a row: the text names its columns by run name and
 * shows the id in a row; CSV and JSON key the runs by id and give the name
 * in a row. */
typedef enum { IN_ALL, IN_TEXT, IN_DATA } shown_in;

typedef struct row {
    section sec;
    const char *key;  /* borrowed */
    const char *stat; /* "last", "min", "max" or "" */
    cell *c;          /* one per run */
    shown_in in;
} row;

typedef struct cmp {
    cli_run *runs;
    size_t n;
    row *rows;
    size_t n_rows, cap;
} cmp;

static cell *add_row(cmp *t, section sec, const char *key, const char *stat)
{
    if (t->n_rows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 32;
        row *r = realloc(t->rows, cap * sizeof *r);
        if (!r)
            return NULL;
        t->rows = r;
        t->cap = cap;
    }
    cell *c = calloc(t->n, sizeof *c);
    if (c)
        t->rows[t->n_rows++] = (row){sec, key, stat, c, IN_ALL};
    return c;
}

static void cmp_free(cmp *t)
{
    for (size_t i = 0; i < t->n_rows; i++)
        free(t->rows[i].c);
    free(t->rows);
    for (size_t i = 0; i < t->n; i++)
        cli_run_free(&t->runs[i]);
    free(t->runs);
}

/* A row shown only in `in`. */
static cell *add_row_in(cmp *t, const char *key, shown_in in)
{
    cell *c = add_row(t, SEC_RUN, key, "");
    if (c)
        t->rows[t->n_rows - 1].in = in;
    return c;
}

/* name (CSV, JSON), id (text), experiment, status, steps, attempts */
static int run_rows(cmp *t)
{
    cell *nm = add_row_in(t, "name", IN_DATA), *id = nm ? add_row_in(t, "id", IN_TEXT) : NULL,
         *e = id ? add_row(t, SEC_RUN, "experiment", "") : NULL,
         *s = e ? add_row(t, SEC_RUN, "status", "") : NULL,
         *n = s ? add_row(t, SEC_RUN, "steps", "") : NULL,
         *at = n ? add_row(t, SEC_RUN, "attempts", "") : NULL;
    for (size_t i = 0; at && i < t->n; i++) {
        const cli_run_info *r = &t->runs[i].info;
        nm[i] = (cell){1, TROPT_F_STR("name", r->name)};
        id[i] = (cell){1, TROPT_F_STR("id", r->run_id)};
        e[i] = (cell){1, TROPT_F_STR("experiment", r->experiment)};
        s[i] = (cell){1, TROPT_F_STR("status", r->status)};
        n[i] = (cell){1, TROPT_F_INT("steps", t->runs[i].steps)};
        at[i] = (cell){1, TROPT_F_INT("attempts", r->attempts)};
    }
    return at ? 0 : -1;
}

/* The text that tells two values apart (type included); "" when absent. */
static int same_value(const tropt_field *a, const tropt_field *b)
{
    if (!a || !b)
        return !a && !b;
    char *x = cli_value_text(a), *y = cli_value_text(b);
    int same = x && y && a->type == b->type && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

static int cmp_pstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted unique keys of every run's config (which 0) or metrics (1);
 * borrowed strings in a malloc'd array. */
static const char **keys_of(const cmp *t, int which, size_t *nk)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < t->n; i++)
        total += which ? t->runs[i].n_metrics : t->runs[i].n_config;
    const char **v = malloc((total ? total : 1) * sizeof *v);
    for (size_t i = 0; v && i < t->n; i++)
        for (size_t j = 0; j < (which ? t->runs[i].n_metrics : t->runs[i].n_config); j++)
            v[k++] = which ? t->runs[i].metrics[j].key : t->runs[i].config[j].key;
    if (!v)
        return NULL;
    qsort(v, k, sizeof *v, cmp_pstr);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || strcmp(v[u - 1], v[i]) != 0)
            v[u++] = v[i];
    *nk = u;
    return v;
}

static const tropt_field *config_of(const cli_run *r, const char *key)
{
    return cli_fields_find(r->config, r->n_config, key);
}

static int config_rows(cmp *t)
{
    size_t nk = 0;
    const char **keys = keys_of(t, 0, &nk);
    int rc = keys ? 0 : -1;
    for (size_t k = 0; rc == 0 && k < nk; k++) {
        int differ = 0;
        for (size_t i = 1; i < t->n; i++)
            differ |= !same_value(config_of(&t->runs[0], keys[k]), config_of(&t->runs[i], keys[k]));
        cell *c = differ ? add_row(t, SEC_CONFIG, keys[k], "") : NULL;
        rc = differ && !c ? -1 : 0;
        for (size_t i = 0; c && i < t->n; i++) {
            const tropt_field *f = config_of(&t->runs[i], keys[k]);
            c[i] = f ? (cell){1, *f} : (cell){0, TROPT_F_NULL("")};
        }
    }
    free(keys);
    return rc;
}

/* The cell of one statistic of one run's metric. */
static cell stat_cell(const cli_metric *m, int stat)
{
    if (!m || (stat > 0 && m->n_num == 0))
        return (cell){0, TROPT_F_NULL("")};
    if (stat == 0)
        return (cell){1, m->last};
    return (cell){1, TROPT_F_REAL(m->key, stat == 1 ? m->min : m->max)};
}

static int metric_rows(cmp *t)
{
    static const char *const stats[3] = {"last", "min", "max"};
    size_t nk = 0;
    const char **keys = keys_of(t, 1, &nk);
    int rc = keys ? 0 : -1;
    for (size_t k = 0; rc == 0 && k < nk; k++) {
        size_t numeric = 0;
        for (size_t i = 0; i < t->n; i++) {
            const cli_metric *m = cli_run_metric(&t->runs[i], keys[k]);
            numeric += m ? m->n_num : 0;
        }
        for (int s = 0; rc == 0 && s < (numeric ? 3 : 1); s++) {
            cell *c = add_row(t, SEC_METRIC, keys[k], stats[s]);
            rc = c ? 0 : -1;
            for (size_t i = 0; c && i < t->n; i++)
                c[i] = stat_cell(cli_run_metric(&t->runs[i], keys[k]), s);
        }
    }
    free(keys);
    return rc;
}

/* ---- loading --------------------------------------------------------------- */

/* The runs the prefixes name, in the order given (a run named twice once). */
static int load_runs(cmp *t, cli_source *s, const cli_list *ids)
{
    t->runs = calloc(ids->n, sizeof *t->runs);
    if (!t->runs)
        return -1;
    for (size_t i = 0; i < ids->n; i++) {
        char *id = NULL;
        if (cli_source_find(s, ids->v[i], &id) != 0)
            return -1;
        int dup = 0;
        for (size_t j = 0; j < t->n; j++)
            dup |= strcmp(t->runs[j].info.run_id, id) == 0;
        int rc = dup ? 0 : cli_source_load(s, id, &t->runs[t->n]);
        free(id);
        if (rc != 0)
            return -1;
        t->n += !dup;
    }
    return 0;
}

/* ---- text -------------------------------------------------------------------- */

/* What a cell shows: the run rows' strings as they are, other values as
 * the renderer writes them, "-" when absent.  malloc'd. */
static char *cell_text(const row *r, const cell *c)
{
    if (!c->present)
        return strdup("-");
    if (r->sec == SEC_RUN && c->v.type == TROPT_STRING)
        return strdup(c->v.v.s);
    return cli_value_text(&c->v);
}

static char *row_label(const row *r)
{
    char *s = NULL;
    if (asprintf(&s, "%s%s%s%s", r->sec == SEC_RUN ? "" : "  ", r->key, r->stat[0] ? " " : "",
                 r->stat) < 0)
        return NULL;
    return s;
}

static const char *section_title(section s)
{
    return s == SEC_CONFIG ? "config (differing keys)" : s == SEC_METRIC ? "metrics" : NULL;
}

/* The text of every cell of the rows the text shows: *n_text rows of
 * (n + 1) strings, column 0 the label.  NULL entries: out of memory. */
static char **text_cells(const cmp *t, size_t *n_text)
{
    size_t w = t->n + 1, k = 0;
    char **cells = calloc(t->n_rows * w + 1, sizeof *cells);
    for (size_t r = 0; cells && r < t->n_rows; r++) {
        if (t->rows[r].in == IN_DATA)
            continue;
        cells[k * w] = row_label(&t->rows[r]);
        for (size_t i = 0; i < t->n; i++)
            cells[k * w + 1 + i] = cell_text(&t->rows[r], &t->rows[r].c[i]);
        k++;
    }
    *n_text = k;
    return cells;
}

static void column_widths(const cmp *t, char **cells, size_t n_text, char **head, size_t *wd)
{
    size_t w = t->n + 1;
    wd[0] = strlen("metric");
    for (size_t i = 0; i < t->n; i++)
        wd[1 + i] = cli_term_width(head[1 + i]);
    for (size_t r = 0; r < n_text; r++)
        for (size_t c = 0; c < w; c++) {
            size_t cw = cli_term_width(cells[r * w + c]);
            wd[c] = cw > wd[c] ? cw : wd[c];
        }
}

static void print_text_row(const cmp *t, char *const *cells, const size_t *wd)
{
    for (size_t c = 0; c <= t->n; c++) {
        if (c)
            fputs("  ", stdout);
        cli_put_padded(stdout, cells[c], c < t->n ? wd[c] : 0, 0);
    }
    fputc('\n', stdout);
}

/* The id row of the text shows as much of each id as tells the compared
 * runs apart (at least 8 characters).  0, or -1 on memory. */
static int short_ids(const cmp *t, char **out)
{
    const char **ids = calloc(t->n, sizeof *ids);
    if (!ids)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        ids[i] = t->runs[i].info.run_id;
    qsort(ids, t->n, sizeof *ids, cmp_pstr);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        const char *id = t->runs[i].info.run_id;
        rc = (out[i] = strndup(id, cli_id_prefix_len(ids, t->n, id, 8))) ? 0 : -1;
    }
    free(ids);
    return rc;
}

/* The text rows, a section's title before its first row. */
static void print_text_rows(const cmp *t, char **cells, const size_t *wd)
{
    size_t k = 0;
    const row *prev = NULL;
    for (size_t r = 0; r < t->n_rows; r++) {
        if (t->rows[r].in == IN_DATA)
            continue;
        const char *title = section_title(t->rows[r].sec);
        if (title && (!prev || prev->sec != t->rows[r].sec))
            puts(title);
        print_text_row(t, cells + k++ * (t->n + 1), wd);
        prev = &t->rows[r];
    }
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

/* The id row of the text shows the short ids (it borrows them); NULL on
 * memory. */
static char **patch_ids(const cmp *t)
{
    char **ids = calloc(t->n + 1, sizeof *ids);
    if (!ids || short_ids(t, ids) != 0) {
        free_ids(ids, t->n);
        return NULL;
    }
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t i = 0; t->rows[r].in == IN_TEXT && i < t->n; i++)
            t->rows[r].c[i].v.v.s = ids[i];
    return ids;
}

static int print_text(const cmp *t)
{
    size_t w = t->n + 1, n_text = 0;
    char **ids = patch_ids(t);
    if (!ids)
        return -1;
    char **cells = text_cells(t, &n_text);
    size_t *wd = calloc(w, sizeof *wd);
    char **head = calloc(w, sizeof *head);
    int rc = cells && wd && head ? 0 : -1;
    for (size_t k = 0; rc == 0 && k < n_text * w; k++)
        rc = cells[k] ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < t->n; i++)
        head[1 + i] = t->runs[i].info.name;
    if (rc == 0) {
        head[0] = "RUN";
        column_widths(t, cells, n_text, head, wd);
        print_text_row(t, head, wd);
        print_text_rows(t, cells, wd);
    }
    for (size_t k = 0; cells && k < n_text * w; k++)
        free(cells[k]);
    free_ids(ids, t->n);
    free(cells);
    free(head);
    free(wd);
    return rc;
}

/* ---- CSV --------------------------------------------------------------------- */

static const char *kind_name(section s)
{
    return s == SEC_RUN ? "run" : s == SEC_CONFIG ? "config" : "metric";
}

/* A CSV cell: a string as it is, other values as the renderer writes them,
 * nothing when absent. */
static int put_csv_cell(const cell *c)
{
    if (!c->present)
        return 0;
    if (c->v.type == TROPT_STRING) {
        cli_put_csv(stdout, c->v.v.s);
        return 0;
    }
    char *text = cli_value_text(&c->v);
    if (!text)
        return -1;
    cli_put_csv(stdout, text);
    free(text);
    return 0;
}

static int print_csv(const cmp *t)
{
    fputs("kind,key,stat", stdout);
    for (size_t i = 0; i < t->n; i++) {
        fputc(',', stdout);
        cli_put_csv(stdout, t->runs[i].info.run_id);
    }
    fputs("\r\n", stdout);
    int rc = 0;
    for (size_t r = 0; rc == 0 && r < t->n_rows; r++) {
        if (t->rows[r].in == IN_TEXT)
            continue;
        fprintf(stdout, "%s,", kind_name(t->rows[r].sec));
        cli_put_csv(stdout, t->rows[r].key);
        fputc(',', stdout);
        cli_put_csv(stdout, t->rows[r].stat);
        for (size_t i = 0; rc == 0 && i < t->n; i++) {
            fputc(',', stdout);
            rc = put_csv_cell(&t->rows[r].c[i]);
        }
        fputs("\r\n", stdout);
    }
    return rc;
}

/* ---- JSON -------------------------------------------------------------------- */

/* o[key] (key made valid UTF-8), created as an object when missing. */
static json_t *child(json_t *o, const char *key)
{
    char *k = cli_utf8_clean(key);
    json_t *c = k ? json_object_get(o, k) : NULL;
    if (k && !c && (c = json_object()) && json_object_set_new(o, k, c) != 0)
        c = NULL;
    free(k);
    return c;
}

/* Put one row's cells under `at`: at[run id] = value, or, for a metric,
 * at[run id][stat] = value; null where the run has none.  0, or -1. */
static int json_row(const cmp *t, const row *r, json_t *at)
{
    for (size_t i = 0; i < t->n; i++) {
        json_t *dst = r->sec == SEC_METRIC ? child(at, t->runs[i].info.run_id) : at;
        const char *name = r->sec == SEC_METRIC ? r->stat : t->runs[i].info.run_id;
        json_t *v = !dst ? NULL : r->c[i].present ? cli_value_json(&r->c[i].v) : json_null();
        char *k = cli_utf8_clean(name);
        if (!v || !k || json_object_set_new(dst, k, v) != 0) {
            free(k);
            return -1;
        }
        free(k);
    }
    return 0;
}

static json_t *clean_string(const char *s)
{
    char *c = cli_utf8_clean(s);
    json_t *j = c ? json_string(c) : NULL;
    free(c);
    return j;
}

static json_t *build_json(const cmp *t)
{
    json_t *root = json_pack("{s:[], s:{}, s:{}, s:{}}", "runs", "run", "config", "metrics");
    static const char *const sec_key[] = {"run", "config", "metrics"};
    int rc = root ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < t->n; i++)
        rc = json_array_append_new(json_object_get(root, "runs"),
                                   clean_string(t->runs[i].info.run_id));
    for (size_t r = 0; rc == 0 && r < t->n_rows; r++) {
        if (t->rows[r].in == IN_TEXT)
            continue;
        json_t *at = child(json_object_get(root, sec_key[t->rows[r].sec]), t->rows[r].key);
        rc = at ? json_row(t, &t->rows[r], at) : -1;
    }
    if (rc != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static int print_json(const cmp *t)
{
    json_t *root = build_json(t);
    if (!root)
        return -1;
    /* the lossless writer: reals in their shortest round-trip form, a
     * real that is integral still a real (1.0) */
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    int rc = tev_put_json_indent(&b, root, cli_real_json_fn, 2);
    if (rc == 0)
        printf("%s\n", b.data);
    tev_buf_free(&b);
    json_decref(root);
    return rc;
}

/* ---- the command ---------------------------------------------------------- */

typedef struct compare_args {
    cli_list runs;
    const char *db, *from, *format;
} compare_args;

const cli_opt cmd_compare_opts[] = {
    CLI_ARGS("RUN", CLI_MIN2, compare_args, runs,
             "two or more runs: names, ids or unique id prefixes"),
    CLI_VALUE("db", 0, compare_args, db, "PATH",
              "read this sqlite database (default ./tropt.db); the same as --from "
              "sqlite:path=PATH"),
    CLI_VALUE_OR("from", 0, compare_args, from, "SPEC",
                 "read any readable backend: sqlite:path=F, csv:dir=D, jsonl:path=F, ..."),
    CLI_VALUE("format", 0, compare_args, format, "text|csv|json", "the output (default text)"),
    CLI_END};

static int check_args(const cli_command *self, const compare_args *a)
{
    if (strcmp(a->format, "text") && strcmp(a->format, "csv") && strcmp(a->format, "json"))
        return cli_usage_error(self, "unknown format '%s' (text, csv or json)", a->format);
    if (a->db && a->from)
        return cli_usage_error(self, "give --db or --from, not both");
    return 0;
}

static int build(cmp *t)
{
    if (run_rows(t) || config_rows(t) || metric_rows(t))
        return -1;
    return 0;
}

static int compare(const compare_args *a, cli_source *s)
{
    cmp t = {0};
    int rc = load_runs(&t, s, &a->runs);
    if (rc != 0) {
        fprintf(stderr, "tropt compare: %s\n", cli_source_error(s));
        cmp_free(&t);
        return 1;
    }
    rc = build(&t);
    if (rc == 0)
        rc = a->format[0] == 'c'   ? print_csv(&t)
             : a->format[0] == 'j' ? print_json(&t)
                                   : print_text(&t);
    if (rc != 0)
        fprintf(stderr, "tropt compare: out of memory\n");
    cmp_free(&t);
    return rc ? 1 : 0;
}

int cmd_compare(const cli_command *self, int argc, char **argv)
{
    compare_args a = {.format = "text"};
    int rc = cli_parse(self, argc, argv, &a);
    if (rc != CLI_GO)
        return rc;
    if ((rc = check_args(self, &a)) == 0) {
        cli_source *s = NULL;
        char *err = NULL;
        if (cli_source_open(&s, a.db, a.from, &err) != 0) {
            fprintf(stderr, "tropt compare: %s\n", err ? err : "out of memory");
            rc = 1;
        } else {
            rc = compare(&a, s);
        }
        free(err);
        cli_source_free(s);
    }
    cli_args_free(self, &a);
    return rc;
}
