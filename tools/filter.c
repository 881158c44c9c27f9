/* tools/filter.c - the filters and the order of the runs a command lists
 * (see filter.h). */
#include "filter.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

typedef enum {
    SORT_NAME,
    SORT_EXPERIMENT,
    SORT_ID,
    SORT_STATUS,
    SORT_STARTED,
    SORT_ENDED,
    SORT_STEPS,
    SORT_ATTEMPTS,
    SORT_LAST,
    SORT_MIN,
    SORT_MAX
} sort_by;

typedef struct where {
    char *key;
    tropt_field value;
} where;

struct cli_filter {
    char **tags;
    size_t n_tags;
    char *status, *experiment;
    where *where;
    size_t n_where;
    sort_by sort;
    char *sort_key; /* SORT_LAST, SORT_MIN, SORT_MAX */
    int reverse;
};

static char *msgf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *msgf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = cli_vstrf(fmt, ap);
    va_end(ap);
    return s ? s : strdup("out of memory");
}

/* ---- --where values ------------------------------------------------------ */

void cli_where_value_free(tropt_field *v)
{
    if (v->type == TROPT_STRING)
        free((char *)v->v.s);
    if (v->type == TROPT_JSON)
        json_decref((json_t *)v->v.json);
    v->type = TROPT_NULL;
}

/* An integer or a real, as the whole text; 1 when it is one. */
static int parse_number(const char *s, tropt_field *v)
{
    char *end;
    if (!*s || isspace((unsigned char)*s))
        return 0;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (!*end && errno == 0) {
        *v = TROPT_F_INT(NULL, i);
        return 1;
    }
    double d = strtod(s, &end); /* nan, inf, 1e999 (inf) included */
    if (!*end) {
        *v = TROPT_F_REAL(NULL, d);
        return 1;
    }
    return 0;
}

/* A JSON string or array; 1 when the text is one (0 with v untouched),
 * -1 on memory. */
static int parse_json(const char *s, tropt_field *v)
{
    if (s[0] != '"' && s[0] != '[')
        return 0;
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    if (!j)
        return 0;
    if (json_is_string(j)) {
        char *str = strdup(json_string_value(j));
        json_decref(j);
        if (!str)
            return -1;
        *v = TROPT_F_STR(NULL, str);
        return 1;
    }
    if (!json_is_array(j)) {
        json_decref(j);
        return 0;
    }
    *v = TROPT_F_JSON(NULL, j);
    return 1;
}

/* The typed value of a --where: null, true, false, a number, a JSON string
 * or array, else the text as a string.  0, or -1 on memory. */
static int parse_value(const char *s, tropt_field *v)
{
    if (strcmp(s, "null") == 0) {
        *v = TROPT_F_NULL(NULL);
        return 0;
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        *v = TROPT_F_BOOL(NULL, s[0] == 't');
        return 0;
    }
    if (parse_number(s, v))
        return 0;
    int rc = parse_json(s, v);
    if (rc != 0)
        return rc > 0 ? 0 : -1;
    char *str = strdup(s);
    if (!str)
        return -1;
    *v = TROPT_F_STR(NULL, str);
    return 0;
}

int cli_where_parse(const char *text, char **key, tropt_field *value, char **err)
{
    *key = NULL;
    *err = NULL;
    const char *eq = strchr(text, '=');
    if (!eq || eq == text) {
        *err = msgf("--where '%s': give KEY=VALUE (a config key, then its value)", text);
        return -1;
    }
    if (!(*key = strndup(text, (size_t)(eq - text))) || parse_value(eq + 1, value) != 0) {
        free(*key);
        *key = NULL;
        *err = strdup("out of memory");
        return -1;
    }
    value->key = *key;
    return 0;
}

static int is_number(const tropt_field *f)
{
    return f->type == TROPT_INT || f->type == TROPT_REAL;
}

/* Two numbers of equal value: integers exactly, a real and an integer when
 * the real is that integer, NaN matches NaN. */
static int same_number(const tropt_field *a, const tropt_field *b)
{
    if (a->type == TROPT_INT && b->type == TROPT_INT)
        return a->v.i == b->v.i;
    if (a->type == TROPT_REAL && b->type == TROPT_REAL)
        return a->v.r == b->v.r || (isnan(a->v.r) && isnan(b->v.r));
    const tropt_field *i = a->type == TROPT_INT ? a : b, *r = a->type == TROPT_INT ? b : a;
    return r->v.r >= -9223372036854775808.0 && r->v.r < 9223372036854775808.0 &&
           (double)(int64_t)r->v.r == r->v.r && (int64_t)r->v.r == i->v.i;
}

int cli_where_match(const tropt_field *want, const tropt_field *have)
{
    if (is_number(want) || is_number(have))
        return is_number(want) && is_number(have) && same_number(want, have);
    if (want->type != have->type)
        return 0;
    switch (want->type) {
    case TROPT_NULL:
        return 1;
    case TROPT_BOOL:
        return !want->v.b == !have->v.b;
    case TROPT_STRING:
        return strcmp(want->v.s, have->v.s) == 0;
    case TROPT_JSON:
        return json_equal((json_t *)want->v.json, (json_t *)have->v.json);
    default:
        return 0;
    }
}

/* ---- building the filter --------------------------------------------------- */

void cli_filter_free(cli_filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_tags; i++)
        free(f->tags[i]);
    free(f->tags);
    for (size_t i = 0; i < f->n_where; i++) {
        cli_where_value_free(&f->where[i].value);
        free(f->where[i].key);
    }
    free(f->where);
    free(f->status);
    free(f->experiment);
    free(f->sort_key);
    free(f);
}

static const char *const sort_names[] = {"name",    "experiment", "id",    "status",
                                         "started", "ended",      "steps", "attempts"};
#define N_SORT_NAMES (sizeof sort_names / sizeof sort_names[0])

static int parse_sort(cli_filter *f, const char *s, char **err)
{
    static const char *const metric[] = {"last:", "min:", "max:"};
    for (size_t i = 0; i < N_SORT_NAMES; i++)
        if (strcmp(s, sort_names[i]) == 0) {
            f->sort = (sort_by)i;
            return 0;
        }
    for (int i = 0; i < 3; i++)
        if (strncmp(s, metric[i], strlen(metric[i])) == 0 && s[strlen(metric[i])]) {
            f->sort = (sort_by)(SORT_LAST + i);
            if (!(f->sort_key = strdup(s + strlen(metric[i]))))
                *err = strdup("out of memory");
            return f->sort_key ? 0 : -1;
        }
    *err = msgf("--sort '%s': give one of name, experiment, id, status, started, ended, steps, "
                "attempts, or last:KEY, min:KEY, max:KEY for a metric",
                s);
    return -1;
}

static int check_status(const char *s, char **err)
{
    static const char *const known[] = {"running", "finished", "aborted", "crashed"};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(s, known[i]) == 0)
            return 0;
    *err = msgf("--status '%s': give running, finished, aborted or crashed", s);
    return -1;
}

static int copy_tags(cli_filter *f, const cli_list *tags, char **err)
{
    if (tags->n && !(f->tags = calloc(tags->n, sizeof *f->tags)))
        goto oom;
    for (; f->n_tags < tags->n; f->n_tags++)
        if (!(f->tags[f->n_tags] = strdup(tags->v[f->n_tags])))
            goto oom;
    return 0;
oom:
    *err = strdup("out of memory");
    return -1;
}

static int parse_wheres(cli_filter *f, const cli_list *w, char **err)
{
    if (w->n && !(f->where = calloc(w->n, sizeof *f->where))) {
        *err = strdup("out of memory");
        return -1;
    }
    for (; f->n_where < w->n; f->n_where++) {
        where *x = &f->where[f->n_where];
        if (cli_where_parse(w->v[f->n_where], &x->key, &x->value, err) != 0)
            return -1;
    }
    return 0;
}

static int dup_opt(char **to, const char *from, char **err)
{
    if (from && !(*to = strdup(from))) {
        *err = strdup("out of memory");
        return -1;
    }
    return 0;
}

int cli_filter_make(cli_filter **out, const cli_filter_args *a, char **err)
{
    *out = NULL;
    *err = NULL;
    cli_filter *f = calloc(1, sizeof *f);
    if (!f) {
        *err = strdup("out of memory");
        return -1;
    }
    f->sort = SORT_STARTED;
    f->reverse = a->reverse;
    int rc = a->status ? check_status(a->status, err) : 0;
    if (rc == 0)
        rc = dup_opt(&f->status, a->status, err);
    if (rc == 0)
        rc = dup_opt(&f->experiment, a->experiment, err);
    if (rc == 0)
        rc = copy_tags(f, &a->tags, err);
    if (rc == 0)
        rc = parse_wheres(f, &a->where, err);
    if (rc == 0 && a->sort)
        rc = parse_sort(f, a->sort, err);
    if (rc != 0) {
        cli_filter_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

/* ---- asking ------------------------------------------------------------------ */

static int has_tag(const cli_run_info *info, const char *tag)
{
    for (size_t i = 0; i < info->n_tags; i++)
        if (strcmp(info->tags[i], tag) == 0)
            return 1;
    return 0;
}

int cli_filter_info(const cli_filter *f, const cli_run_info *info)
{
    if (f->status && strcmp(info->status, f->status) != 0)
        return 0;
    if (f->experiment && strcmp(info->experiment, f->experiment) != 0)
        return 0;
    for (size_t i = 0; i < f->n_tags; i++)
        if (!has_tag(info, f->tags[i]))
            return 0;
    return 1;
}

int cli_filter_needs_config(const cli_filter *f)
{
    return f->n_where > 0;
}

static const tropt_field *config_get(const tropt_field *config, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(config[i].key, key) == 0)
            return &config[i];
    return NULL;
}

int cli_filter_config(const cli_filter *f, const tropt_field *config, size_t n)
{
    for (size_t i = 0; i < f->n_where; i++) {
        const tropt_field *have = config_get(config, n, f->where[i].key);
        if (!have || !cli_where_match(&f->where[i].value, have))
            return 0;
    }
    return 1;
}

int cli_filter_run(const cli_filter *f, const cli_run *r)
{
    return cli_filter_info(f, &r->info) && cli_filter_config(f, r->config, r->n_config);
}

/* ---- the order ------------------------------------------------------------------ */

static int cmp_num(double a, double b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* The sort value of a metric statistic; NaN when the run has none. */
static double metric_value(const cli_filter *f, const cli_run *r)
{
    const cli_metric *m = cli_run_metric(r, f->sort_key);
    if (!m)
        return NAN;
    if (f->sort == SORT_MIN)
        return m->min;
    if (f->sort == SORT_MAX)
        return m->max;
    return m->last.type == TROPT_INT    ? (double)m->last.v.i
           : m->last.type == TROPT_REAL ? m->last.v.r
                                        : NAN;
}

/* Runs without the value (NaN) after those with one, whatever the direction. */
static int cmp_metric(const cli_filter *f, const cli_run *a, const cli_run *b, int *missing)
{
    double x = metric_value(f, a), y = metric_value(f, b);
    if (isnan(x) || isnan(y)) {
        *missing = 1;
        return isnan(x) - isnan(y);
    }
    return cmp_num(x, y);
}

static int cmp_column(const cli_filter *f, const cli_run *a, const cli_run *b)
{
    const cli_run_info *x = &a->info, *y = &b->info;
    switch (f->sort) {
    case SORT_NAME:
        return cmp_str(x->name, y->name);
    case SORT_EXPERIMENT:
        return cmp_str(x->experiment, y->experiment);
    case SORT_ID:
        return cmp_str(x->run_id, y->run_id);
    case SORT_STATUS:
        return cmp_str(x->status, y->status);
    case SORT_ENDED: /* open runs (NaN) last */
        return isnan(x->ended_at) || isnan(y->ended_at) ? isnan(x->ended_at) - isnan(y->ended_at)
                                                        : cmp_num(x->ended_at, y->ended_at);
    case SORT_STEPS:
        return cmp_num((double)a->steps, (double)b->steps);
    case SORT_ATTEMPTS:
        return cmp_num((double)x->attempts, (double)y->attempts);
    default:
        return cmp_num(x->started_at, y->started_at);
    }
}

int cli_filter_cmp(const cli_filter *f, const cli_run *a, const cli_run *b)
{
    int missing = 0;
    int c = f->sort >= SORT_LAST ? cmp_metric(f, a, b, &missing) : cmp_column(f, a, b);
    return f->reverse && !missing ? -c : c;
}

typedef struct sorting {
    const cli_filter *f;
    const cli_run *base; /* the original order breaks ties */
} sorting;

static int cmp_index(const void *a, const void *b, void *ud)
{
    const sorting *s = ud;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = cli_filter_cmp(s->f, &s->base[i], &s->base[j]);
    return c ? c : (i > j) - (i < j);
}

int cli_filter_sort(const cli_filter *f, cli_run *runs, size_t n)
{
    if (n < 2)
        return 0;
    size_t *order = malloc(n * sizeof *order);
    cli_run *sorted = malloc(n * sizeof *sorted);
    int rc = order && sorted ? 0 : -1;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        sorting s = {f, runs};
        qsort_r(order, n, sizeof *order, cmp_index, &s);
        for (size_t i = 0; i < n; i++)
            sorted[i] = runs[order[i]];
        memcpy(runs, sorted, n * sizeof *runs);
    }
    free(order);
    free(sorted);
    return rc;
}
