/*
 * tools/cmd_compare.c - `tropt compare RUN RUN...`: the config keys that
 * differ between runs and each metric's last/min/max side by side, as a
 * terminal table, CSV (RFC 4180) or JSON.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

#define COMPARE_USAGE "compare RUN RUN... [--db PATH] [--format text|csv|json]"

enum fmt { F_TEXT, F_CSV, F_JSON };

/* Terminal text: control characters shown as '?', so a stored name cannot
 * move the cursor or change colours. */
static void put_term(FILE *f, const char *s, size_t width)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        fputc(*p < 0x20 || *p == 0x7F ? '?' : *p, f);
        w += (*p & 0xC0) != 0x80;
    }
    for (; w < width; w++)
        fputc(' ', f);
}

static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void put_csv(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
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

/* The table: rows of (section, key, stat) and one cell per run. */
struct table {
    size_t n_rows, cap, n_runs;
    char **cells; /* n_rows * (3 + n_runs) */
};

static int add_row(struct table *t, const char *section, const char *key, const char *stat,
                   char **vals /* n_runs, taken */)
{
    size_t w = 3 + t->n_runs;
    if (t->n_rows == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 32;
        char **n = realloc(t->cells, c * w * sizeof *n);
        if (!n)
            return -1;
        t->cells = n;
        t->cap = c;
    }
    char **row = t->cells + t->n_rows * w;
    row[0] = strdup(section);
    row[1] = strdup(key);
    row[2] = strdup(stat);
    for (size_t i = 0; i < t->n_runs; i++)
        row[3 + i] = vals[i];
    t->n_rows++;
    return row[0] && row[1] && row[2] ? 0 : -1;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n_rows * (3 + t->n_runs); i++)
        free(t->cells[i]);
    free(t->cells);
}

static char *real_text(double x)
{
    char buf[40];
    rp_fmt_real(buf, sizeof buf, x);
    return strdup(buf);
}

static int build(const struct rp_data *d, struct table *t)
{
    t->n_runs = d->n_runs;
    char **vals = calloc(d->n_runs, sizeof *vals);
    if (!vals)
        return -1;
    int ret = 0;
    size_t n = 0;
    const char **keys = rp_differing_params(d, &n);
    for (size_t i = 0; i < n && !ret; i++) {
        for (size_t r = 0; r < d->n_runs; r++) {
            const char *v = json_string_value(json_object_get(d->runs[r].params, keys[i]));
            vals[r] = v ? strdup(v) : NULL;
        }
        ret = add_row(t, "config", keys[i], "", vals);
    }
    free(keys);
    keys = rp_metric_keys(d, &n);
    static const char *const stats[3] = {"last", "min", "max"};
    for (size_t i = 0; i < n && !ret; i++)
        for (int s = 0; s < 3 && !ret; s++) {
            for (size_t r = 0; r < d->n_runs; r++) {
                const struct rp_metric *m = rp_find_metric(&d->runs[r], keys[i]);
                vals[r] = !m               ? NULL
                          : s == 0         ? (m->last ? strdup(m->last) : NULL)
                          : !m->has_minmax ? NULL
                                           : real_text(s == 1 ? m->min : m->max);
            }
            ret = add_row(t, "metric", keys[i], stats[s], vals);
        }
    free(keys);
    free(vals);
    return ret;
}

static void print_text(const struct rp_data *d, const struct table *t)
{
    size_t w = 3 + t->n_runs;
    size_t *width = calloc(w, sizeof *width);
    if (!width)
        return;
    width[1] = 3;
    for (size_t r = 0; r < t->n_runs; r++)
        width[3 + r] = 8;
    for (size_t i = 0; i < t->n_rows; i++)
        for (size_t c = 1; c < w; c++) {
            const char *s = t->cells[i * w + c];
            size_t l = s ? text_width(s) : 1;
            if (c == 1 && t->cells[i * w + 2][0])
                l += 1 + text_width(t->cells[i * w + 2]);
            if (c != 2 && l > width[c])
                width[c] = l;
        }
    for (int sec = 0; sec < 2; sec++) {
        const char *name = sec ? "metric" : "config";
        size_t rows = 0;
        for (size_t i = 0; i < t->n_rows; i++)
            rows += strcmp(t->cells[i * w], name) == 0;
        printf("%s%s\n", sec ? "\n" : "",
               sec ? "metrics (last, min, max)" : "config keys that differ");
        if (!rows) {
            printf("  (none)\n");
            continue;
        }
        fputs("  ", stdout);
        put_term(stdout, sec ? "metric" : "key", width[1]);
        for (size_t r = 0; r < t->n_runs; r++) {
            char sid[64];
            snprintf(sid, sizeof sid, "%.*s", rp_id_chars(d), d->runs[r].id);
            fputs("  ", stdout);
            put_term(stdout, sid, r + 1 < t->n_runs ? width[3 + r] : 0);
        }
        fputc('\n', stdout);
        for (size_t i = 0; i < t->n_rows; i++) {
            char **row = t->cells + i * w;
            if (strcmp(row[0], name) != 0)
                continue;
            char label[4096];
            snprintf(label, sizeof label, "%s%s%s", row[1], row[2][0] ? " " : "", row[2]);
            fputs("  ", stdout);
            put_term(stdout, label, width[1]);
            for (size_t r = 0; r < t->n_runs; r++) {
                fputs("  ", stdout);
                put_term(stdout, row[3 + r] ? row[3 + r] : "-",
                         r + 1 < t->n_runs ? width[3 + r] : 0);
            }
            fputc('\n', stdout);
        }
    }
    free(width);
}

static void print_csv(const struct rp_data *d, const struct table *t)
{
    size_t w = 3 + t->n_runs;
    fputs("section,key,stat", stdout);
    for (size_t r = 0; r < d->n_runs; r++) {
        fputc(',', stdout);
        put_csv(stdout, d->runs[r].id);
    }
    fputs("\r\n", stdout);
    for (size_t i = 0; i < t->n_rows; i++) {
        for (size_t c = 0; c < w; c++) {
            if (c)
                fputc(',', stdout);
            if (t->cells[i * w + c])
                put_csv(stdout, t->cells[i * w + c]);
        }
        fputs("\r\n", stdout);
    }
}

static int print_json(const struct rp_data *d, const struct table *t)
{
    size_t w = 3 + t->n_runs;
    json_t *root = json_object(), *runs = json_array(), *config = json_object(),
           *metrics = json_object();
    int bad = !root || !runs || !config || !metrics;
    for (size_t r = 0; !bad && r < d->n_runs; r++)
        bad = json_array_append_new(runs, json_string(d->runs[r].id)) != 0;
    for (size_t i = 0; !bad && i < t->n_rows; i++) {
        char **row = t->cells + i * w;
        json_t *vals = json_array();
        for (size_t r = 0; vals && r < t->n_runs; r++)
            if (json_array_append_new(vals, row[3 + r] ? json_string(row[3 + r]) : json_null()))
                bad = 1;
        if (!vals) {
            bad = 1;
            break;
        }
        if (strcmp(row[0], "config") == 0) {
            bad |= json_object_set_new(config, row[1], vals) != 0;
        } else {
            json_t *m = json_object_get(metrics, row[1]);
            if (!m && (m = json_object()) && json_object_set_new(metrics, row[1], m) != 0)
                m = NULL;
            bad |= !m || json_object_set_new(m, row[2], vals) != 0;
        }
    }
    if (!bad) {
        json_object_set(root, "runs", runs);
        json_object_set(root, "config", config);
        json_object_set(root, "metrics", metrics);
    }
    char *s = bad ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(runs);
    json_decref(config);
    json_decref(metrics);
    json_decref(root);
    if (!s) {
        fputs("tropt: out of memory\n", stderr);
        return 1;
    }
    puts(s);
    free(s);
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    const char *db = "tropt.db";
    enum fmt fmt = F_TEXT;
    const char **runs = calloc((size_t)argc + 1, sizeof *runs);
    size_t n = 0;
    if (!runs) {
        fputs("tropt: out of memory\n", stderr);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: tropt %s\n", COMPARE_USAGE);
            free(runs);
            return 0;
        }
        if (strcmp(a, "--db") == 0 || strcmp(a, "--format") == 0) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                free(runs);
                return cli_usage(COMPARE_USAGE, "%s needs a value", a);
            }
            const char *v = argv[++i];
            if (a[2] == 'd') {
                db = v;
            } else if (strcmp(v, "text") == 0) {
                fmt = F_TEXT;
            } else if (strcmp(v, "csv") == 0) {
                fmt = F_CSV;
            } else if (strcmp(v, "json") == 0) {
                fmt = F_JSON;
            } else {
                free(runs);
                return cli_usage(COMPARE_USAGE, "unknown format '%s' (text, csv or json)", v);
            }
        } else if (a[0] == '-' && a[1]) {
            free(runs);
            return cli_usage(COMPARE_USAGE, "unknown option '%s'", a);
        } else {
            runs[n++] = a;
        }
    }
    if (n < 2) {
        free(runs);
        return cli_usage(COMPARE_USAGE, "give at least two runs (ids or unique prefixes)");
    }
    struct rp_select sel = {.runs = runs, .series = 0, .buckets = 1};
    struct rp_data d;
    int rc = rp_load(db, &sel, &d);
    free(runs);
    if (rc)
        return 1;
    struct table t = {0};
    if (build(&d, &t) != 0) {
        fputs("tropt: out of memory\n", stderr);
        table_free(&t);
        rp_data_free(&d);
        return 1;
    }
    int ret = 0;
    if (fmt == F_TEXT)
        print_text(&d, &t);
    else if (fmt == F_CSV)
        print_csv(&d, &t);
    else
        ret = print_json(&d, &t);
    if (fflush(stdout) != 0)
        ret = 1;
    table_free(&t);
    rp_data_free(&d);
    return ret;
}
