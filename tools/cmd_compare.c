/* tools/cmd_compare.c - `tropt compare RUN RUN...`: the config keys that
 * differ and each metric's last/min/max, side by side. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "report_data.h"

#define COMPARE_USAGE "compare RUN RUN... [--db PATH | --from SPEC] [--format text|csv|json]"

/* One output row: kind ("run", "config", "metric"), key, stat, one value
 * per run (malloc'd strings; NULL: the run has none). */
typedef struct {
    const char *kind, *key, *stat;
    char **v;
} row;

typedef struct {
    row *r;
    size_t n, cap, nv;
    int oom;
} rows;

static char **add_row(rows *t, const char *kind, const char *key, const char *stat)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 32;
        row *a = realloc(t->r, cap * sizeof *a);
        if (!a) {
            t->oom = 1;
            return NULL;
        }
        t->r = a;
        t->cap = cap;
    }
    char **v = calloc(t->nv ? t->nv : 1, sizeof *v);
    if (!v) {
        t->oom = 1;
        return NULL;
    }
    t->r[t->n++] = (row){kind, key, stat, v};
    return v;
}

static int num_digits = 15;
static char *num(double x)
{
    char b[48];
    rp_fmt(b, sizeof b, x, num_digits);
    return strdup(b);
}

static const rp_series *series_of(const rp_run *r, const char *key)
{
    for (size_t i = 0; i < r->n_series; i++)
        if (strcmp(r->series[i].key, key) == 0)
            return &r->series[i];
    return NULL;
}

static const char *param_of(const rp_run *r, const char *key)
{
    for (size_t i = 0; i < r->n_params; i++)
        if (strcmp(r->params[i].key, key) == 0)
            return r->params[i].value;
    return NULL;
}

static int cmp_pstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted unique keys of params (which 1) or series (0); borrowed strings. */
static const char **keys_of(rp_run *const *runs, size_t n, int which, size_t *nk)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += which ? runs[i]->n_params : runs[i]->n_series;
    *nk = 0;
    const char **k = malloc((total ? total : 1) * sizeof *k);
    if (!k)
        return NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < (which ? runs[i]->n_params : runs[i]->n_series); j++)
            k[(*nk)++] = which ? runs[i]->params[j].key : runs[i]->series[j].key;
    qsort(k, *nk, sizeof *k, cmp_pstr);
    size_t u = 0;
    for (size_t i = 0; i < *nk; i++)
        if (u == 0 || strcmp(k[u - 1], k[i]) != 0)
            k[u++] = k[i];
    *nk = u;
    return k;
}

static void csv_field(FILE *f, const char *s)
{
    if (!s)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL && s[0] != ' ' && (s[0] == '\0' || s[strlen(s) - 1] != ' ')) {
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

/* A value for JSON: the text parsed as JSON when it is a number or literal
 * (config values and numbers), else the string itself; NULL: json null. */
static json_t *jval(const char *s, int parse)
{
    if (!s)
        return json_null();
    if (parse) {
        json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
        if (j)
            return j;
    }
    json_t *j = json_string(s);
    if (j)
        return j;
    /* Not UTF-8: keep the ASCII, mark the rest. */
    char *c = strdup(s);
    for (char *p = c; p && *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(c ? c : "");
    free(c);
    return j;
}

static size_t u8len(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void pad(FILE *f, const char *s, size_t w)
{
    fputs(s ? s : "-", f);
    for (size_t i = u8len(s ? s : "-"); i < w; i++)
        fputc(' ', f);
}

int cmd_compare(int argc, char **argv)
{
    const char *db = "tropt.db", *format = "text", *from = NULL;
    const char **ids = calloc((size_t)argc + 1, sizeof *ids);
    size_t n_ids = 0;
    if (!ids) {
        fprintf(stderr, "tropt compare: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--db") == 0 || strcmp(a, "--format") == 0 || strcmp(a, "--from") == 0) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0') {
                free(ids);
                return cli_usage(COMPARE_USAGE, "%s needs a value", a);
            }
            *(a[2] == 'd' ? &db : a[3] == 'o' ? &format : &from) = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            free(ids);
            return cli_usage(COMPARE_USAGE, "unknown option '%s'", a);
        } else
            ids[n_ids++] = a;
    }
    if (strcmp(format, "text") && strcmp(format, "csv") && strcmp(format, "json")) {
        free(ids);
        return cli_usage(COMPARE_USAGE, "unknown format '%s' (text, csv or json)", format);
    }
    if (n_ids < 2) {
        free(ids);
        return cli_usage(COMPARE_USAGE, "give at least two runs (ids or unique prefixes)");
    }
    if (strcmp(format, "text") == 0)
        num_digits = 6;
    rp_query q = {.db = from ? cli_shown_spec(from) : db,
                  .from = from,
                  .runs = ids,
                  .n_runs = n_ids,
                  .buckets = 1};
    rp_data d;
    char *err = NULL;
    if (rp_load(&q, &d, &err)) {
        fprintf(stderr, "tropt compare: %s\n", err);
        free(err);
        free(ids);
        return 1;
    }
    /* Columns in the order given (a run named twice appears once). */
    rp_run **runs = calloc(n_ids, sizeof *runs);
    size_t n = 0;
    for (size_t i = 0; runs && i < n_ids; i++)
        for (size_t j = 0; j < d.n; j++)
            if (strncmp(d.runs[j].id, ids[i], strlen(ids[i])) == 0) {
                int dup = 0;
                for (size_t k = 0; k < n; k++)
                    dup |= runs[k] == &d.runs[j];
                if (!dup)
                    runs[n++] = &d.runs[j];
            }
    free(ids);
    size_t n_p = 0, n_m = 0;
    const char **pk = runs ? keys_of(runs, n, 1, &n_p) : NULL;
    const char **mk = runs ? keys_of(runs, n, 0, &n_m) : NULL;
    rows t = {.nv = n};
    if (!runs || !pk || !mk)
        t.oom = 1;
    char **v;
    if (!t.oom && (v = add_row(&t, "run", "experiment", "")))
        for (size_t i = 0; i < n; i++)
            v[i] = strdup(runs[i]->experiment);
    if (!t.oom && (v = add_row(&t, "run", "status", "")))
        for (size_t i = 0; i < n; i++)
            v[i] = strdup(runs[i]->status ? runs[i]->status : "");
    if (!t.oom && (v = add_row(&t, "run", "steps", "")))
        for (size_t i = 0; i < n; i++) {
            char b[32];
            snprintf(b, sizeof b, "%zu", runs[i]->steps);
            v[i] = strdup(b);
        }
    for (size_t k = 0; !t.oom && k < n_p; k++) {
        const char *first = param_of(runs[0], pk[k]);
        int diff = 0;
        for (size_t i = 1; i < n; i++) {
            const char *o = param_of(runs[i], pk[k]);
            diff |= !first != !o || (first && o && strcmp(first, o) != 0);
        }
        if (diff && (v = add_row(&t, "config", pk[k], "")))
            for (size_t i = 0; i < n; i++) {
                const char *o = param_of(runs[i], pk[k]);
                v[i] = o ? strdup(o) : NULL;
            }
    }
    static const char *const stats[3] = {"last", "min", "max"};
    for (size_t k = 0; !t.oom && k < n_m; k++)
        for (int s = 0; s < 3 && !t.oom; s++) {
            int text = 1;
            for (size_t i = 0; i < n; i++) {
                const rp_series *se = series_of(runs[i], mk[k]);
                text &= !se || !se->rows;
            }
            if (text && s > 0)
                break;
            if (!(v = add_row(&t, "metric", mk[k], stats[s])))
                break;
            for (size_t i = 0; i < n; i++) {
                const rp_series *se = series_of(runs[i], mk[k]);
                if (!se)
                    continue;
                if (!se->rows)
                    v[i] = s == 0 && se->last_text ? strdup(se->last_text) : NULL;
                else
                    v[i] = num(s == 0 ? se->last : s == 1 ? se->min : se->max);
            }
        }
    int ret = 0;
    if (t.oom) {
        fprintf(stderr, "tropt compare: out of memory\n");
        ret = 1;
    } else if (strcmp(format, "csv") == 0) {
        fputs("kind,key,stat", stdout);
        for (size_t i = 0; i < n; i++) {
            fputc(',', stdout);
            csv_field(stdout, runs[i]->id);
        }
        fputs("\r\n", stdout);
        for (size_t r = 0; r < t.n; r++) {
            csv_field(stdout, t.r[r].kind);
            fputc(',', stdout);
            csv_field(stdout, t.r[r].key);
            fputc(',', stdout);
            csv_field(stdout, t.r[r].stat);
            for (size_t i = 0; i < n; i++) {
                fputc(',', stdout);
                csv_field(stdout, t.r[r].v[i]);
            }
            fputs("\r\n", stdout);
        }
    } else if (strcmp(format, "json") == 0) {
        json_t *root = json_object(), *jr = json_array(), *jc = json_object(), *jm = json_object();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(jr, json_string(runs[i]->id));
        json_object_set_new(root, "runs", jr);
        json_t *info = json_object();
        for (size_t r = 0; r < t.n; r++) {
            json_t *dst = strcmp(t.r[r].kind, "run") == 0      ? info
                          : strcmp(t.r[r].kind, "config") == 0 ? jc
                                                               : jm;
            json_t *per = json_object_get(dst, t.r[r].key);
            if (!per) {
                per = json_object();
                json_object_set_new(dst, t.r[r].key, per);
            }
            for (size_t i = 0; i < n; i++) {
                json_t *val = jval(t.r[r].v[i], dst != info);
                if (dst == jm) {
                    json_t *o = json_object_get(per, runs[i]->id);
                    if (!o) {
                        o = json_object();
                        json_object_set_new(per, runs[i]->id, o);
                    }
                    json_object_set_new(o, t.r[r].stat, val);
                } else
                    json_object_set_new(per, runs[i]->id, val);
            }
        }
        json_object_set_new(root, "run", info);
        json_object_set_new(root, "config", jc);
        json_object_set_new(root, "metrics", jm);
        if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
            ret = 1;
        fputc('\n', stdout);
        json_decref(root);
    } else {
        size_t wl = strlen("metric"), *w = calloc(n ? n : 1, sizeof *w);
        if (!w)
            ret = 1;
        for (size_t r = 0; w && r < t.n; r++) {
            size_t l = u8len(t.r[r].key) + (t.r[r].stat[0] ? u8len(t.r[r].stat) + 1 : 0) + 2;
            if (l > wl)
                wl = l;
        }
        char idb[24];
        for (size_t i = 0; w && i < n; i++) {
            snprintf(idb, sizeof idb, "%.13s", runs[i]->id);
            w[i] = u8len(idb);
            for (size_t r = 0; r < t.n; r++)
                if (u8len(t.r[r].v[i] ? t.r[r].v[i] : "-") > w[i])
                    w[i] = u8len(t.r[r].v[i] ? t.r[r].v[i] : "-");
        }
        const char *section = "";
        for (size_t r = 0; w && r <= t.n; r++) {
            if (r == 0) {
                pad(stdout, "RUN", wl);
                for (size_t i = 0; i < n; i++) {
                    snprintf(idb, sizeof idb, "%.13s", runs[i]->id);
                    fputs("  ", stdout);
                    pad(stdout, idb, i + 1 < n ? w[i] : 0);
                }
                fputc('\n', stdout);
            }
            if (r == t.n)
                break;
            if (strcmp(section, t.r[r].kind) != 0) {
                section = t.r[r].kind;
                if (strcmp(section, "config") == 0)
                    puts("config (differing keys)");
                else if (strcmp(section, "metric") == 0)
                    puts("metrics");
            }
            char lab[1024];
            snprintf(lab, sizeof lab, "  %s%s%s", t.r[r].key, t.r[r].stat[0] ? " " : "",
                     t.r[r].stat);
            pad(stdout, strcmp(section, "run") == 0 ? lab + 2 : lab, wl);
            for (size_t i = 0; i < n; i++) {
                fputs("  ", stdout);
                pad(stdout, t.r[r].v[i], i + 1 < n ? w[i] : 0);
            }
            fputc('\n', stdout);
        }
        free(w);
    }
    for (size_t r = 0; r < t.n; r++) {
        for (size_t i = 0; i < n; i++)
            free(t.r[r].v[i]);
        free(t.r[r].v);
    }
    free(t.r);
    free(pk);
    free(mk);
    free(runs);
    rp_free(&d);
    return ret;
}
