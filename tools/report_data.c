/*
 * tools/report_data.c - read runs, their config, summary and metrics from a
 * tropt sqlite database for `tropt report` and `tropt compare` (read only).
 *
 * Runs, params and summaries come through the documented views.  Metric rows
 * of a schema this tool knows (1, 2) are read from the tables behind the
 * views, which also tell a NaN from a null (both NULL in the view); a newer
 * schema is read through the `metrics` view alone.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../plugins/sqlite/sqlite_sql.h"
#include "report.h"

/* Series points budget for the whole file when rp_select.buckets is 0. */
#define RP_POINT_BUDGET 120000
#define RP_MIN_BUCKETS 8
#define RP_MAX_BUCKETS 300
#define RP_MAX_SERIES_KEYS 200

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tropt: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

void rp_fmt_real(char *buf, size_t size, double x)
{
    if (isnan(x)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, size, x > 0 ? "inf" : "-inf");
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, x);
        if (p == 17 || strtod(buf, NULL) == x)
            return;
    }
}

/* Display text of a stored value and its kind (0 when unknown). */
static char *value_text(sqlite3_stmt *st, int col, int kind)
{
    char buf[64];
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
        if (kind == TSQL_KIND_BOOL)
            return strdup(sqlite3_column_int64(st, col) ? "true" : "false");
        snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_column_int64(st, col));
        return strdup(buf);
    case SQLITE_FLOAT:
        rp_fmt_real(buf, sizeof buf, sqlite3_column_double(st, col));
        return strdup(buf);
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
        const char *t = (const char *)sqlite3_column_text(st, col);
        return strdup(t ? t : "");
    }
    default:
        return strdup(kind == TSQL_KIND_NAN ? "nan" : "null");
    }
}

/* A `running` run of this host whose process is gone. */
static int gone(const char *status, const char *host, int64_t pid)
{
    char me[256] = "";
    if (strcmp(status, "running") != 0 || gethostname(me, sizeof me - 1) != 0)
        return 0;
    if (!host || strcmp(host, me) != 0 || pid <= 0 || (int64_t)(pid_t)pid != pid ||
        pid == (int64_t)getpid())
        return 0;
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

static char *dup_col(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    return strdup(t ? t : "");
}

/* ---- One key's rows, buffered until the key changes ---------------------- */

enum { V_NUM, V_NAN, V_PINF, V_NINF, V_OTHER };

struct keybuf {
    size_t n, cap;
    int64_t *step;
    double *time, *y;
    unsigned char *cls;
    size_t *keep;
    size_t keep_cap;
};

static int keybuf_push(struct keybuf *b, int64_t step, double time, double y, int cls)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        int64_t *s = realloc(b->step, cap * sizeof *s);
        if (s)
            b->step = s;
        double *t = realloc(b->time, cap * sizeof *t);
        if (t)
            b->time = t;
        double *y2 = realloc(b->y, cap * sizeof *y2);
        if (y2)
            b->y = y2;
        unsigned char *c = realloc(b->cls, cap);
        if (c)
            b->cls = c;
        if (!s || !t || !y2 || !c)
            return -1;
        b->cap = cap;
    }
    b->step[b->n] = step;
    b->time[b->n] = time;
    b->y[b->n] = y;
    b->cls[b->n] = (unsigned char)cls;
    b->n++;
    return 0;
}

static void keybuf_free(struct keybuf *b)
{
    free(b->step);
    free(b->time);
    free(b->y);
    free(b->cls);
    free(b->keep);
}

static void metric_free(struct rp_metric *m)
{
    free(m->key);
    free(m->last);
    free(m->step);
    free(m->time);
    free(m->y);
    for (int i = 0; i < 3; i++)
        free(m->mark[i]);
}

/* Statistics and downsampled series of the buffered key into m (whose key
 * and last are set by the caller).  Returns 0 or -1 (out of memory). */
static int keybuf_finish(struct keybuf *b, struct rp_metric *m, double t0, size_t buckets,
                         int series)
{
    size_t cnt[3] = {0, 0, 0};
    for (size_t i = 0; i < b->n; i++) {
        switch (b->cls[i]) {
        case V_NUM:
            m->n_num++;
            if (!m->has_minmax || b->y[i] < m->min)
                m->min = b->y[i];
            if (!m->has_minmax || b->y[i] > m->max)
                m->max = b->y[i];
            m->has_minmax = 1;
            break;
        case V_NAN:
        case V_PINF:
        case V_NINF: {
            int k = b->cls[i] - V_NAN;
            int64_t *first = k == 0 ? &m->first_nan : k == 1 ? &m->first_pinf : &m->first_ninf;
            if (cnt[k]++ == 0)
                *first = b->step[i];
            m->n_num++;
            break;
        }
        default:
            m->n_other++;
        }
    }
    m->n_nan = cnt[0];
    m->n_pinf = cnt[1];
    m->n_ninf = cnt[2];
    if (!series || m->n_num == 0)
        return 0;
    if (b->keep_cap < 4 * buckets) {
        size_t *k = realloc(b->keep, 4 * buckets * sizeof *k);
        if (!k)
            return -1;
        b->keep = k;
        b->keep_cap = 4 * buckets;
    }
    /* rp_m4 skips non-finite y; the non-numeric rows carry NaN there too */
    size_t kept = 0;
    if (b->n <= 4 * buckets) {
        for (size_t i = 0; i < b->n; i++)
            if (b->cls[i] == V_NUM)
                b->keep[kept++] = i;
    } else {
        kept = rp_m4(b->y, b->n, buckets, b->keep);
    }
    if (kept) {
        m->step = malloc(kept * sizeof *m->step);
        m->time = malloc(kept * sizeof *m->time);
        m->y = malloc(kept * sizeof *m->y);
        if (!m->step || !m->time || !m->y)
            return -1;
        for (size_t i = 0; i < kept; i++) {
            m->step[i] = b->step[b->keep[i]];
            m->time[i] = b->time[b->keep[i]] - t0;
            m->y[i] = b->y[b->keep[i]];
        }
        m->n_pts = kept;
    }
    /* markers: all of them, or the first of each of RP_MARKERS intervals */
    for (int k = 0; k < 3; k++) {
        if (!cnt[k])
            continue;
        size_t n = cnt[k] < RP_MARKERS ? cnt[k] : RP_MARKERS;
        m->mark[k] = malloc(n * sizeof *m->mark[k]);
        if (!m->mark[k])
            return -1;
        size_t seen = 0, next = 0, out = 0;
        for (size_t i = 0; i < b->n && out < n; i++) {
            if (b->cls[i] != V_NAN + k)
                continue;
            if (seen == next) {
                m->mark[k][out++] = b->step[i];
                next = (size_t)((unsigned long long)cnt[k] * out / n);
            }
            seen++;
        }
        m->n_mark[k] = out;
    }
    return 0;
}

/* ---- Loading -------------------------------------------------------------- */

struct loader {
    sqlite3 *db;
    const char *path;
    int version;
    size_t buckets;
    int series;
};

static int db_error(struct loader *L)
{
    return fail("cannot read %s: %s", L->path, sqlite3_errmsg(L->db));
}

/* key, step, time, value, kind of run ?1 ordered by key, step. */
static const char *metric_sql(int version)
{
    if (version == 2)
        return "SELECT k.name, l.step, l.time, l.value, l.kind FROM tropt_run r"
               " JOIN tropt_log l ON l.rowid BETWEEN r.first_row AND " TSQL_R_END
               " AND +l.run = r.id JOIN tropt_key k ON k.id = +l.key"
               " WHERE r.uuid = ?1 ORDER BY k.name, l.step, l.rowid";
    if (version == 1)
        return "SELECT k.name, m.step, s.time, m.value, m.kind FROM tropt_run r"
               " JOIN tropt_metric m ON m.run = r.id"
               " JOIN tropt_step s ON s.run = m.run AND s.step = m.step"
               " JOIN tropt_key k ON k.id = m.key WHERE r.uuid = ?1 ORDER BY k.name, m.step";
    return "SELECT key, step, time, value, NULL FROM metrics WHERE run_id = ?1"
           " ORDER BY key, step";
}

static int add_metric(struct rp_run *r, size_t *cap, struct rp_metric **out)
{
    if (r->n_metrics == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        struct rp_metric *m = realloc(r->metrics, c * sizeof *m);
        if (!m)
            return -1;
        r->metrics = m;
        *cap = c;
    }
    *out = &r->metrics[r->n_metrics++];
    memset(*out, 0, sizeof **out);
    return 0;
}

static int load_metrics(struct loader *L, struct rp_run *r)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(L->db, metric_sql(L->version), -1, &st, NULL) != SQLITE_OK)
        return db_error(L);
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    struct keybuf b = {0};
    size_t cap = 0, n_series = 0;
    struct rp_metric *cur = NULL;
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        if (!key)
            continue;
        if (!cur || strcmp(cur->key, key) != 0) {
            if (cur && keybuf_finish(&b, cur, r->started_at, L->buckets,
                                     L->series && n_series++ < RP_MAX_SERIES_KEYS) != 0)
                goto oom;
            b.n = 0;
            if (add_metric(r, &cap, &cur) != 0 || !(cur->key = strdup(key)))
                goto oom;
        }
        int kind = sqlite3_column_type(st, 4) == SQLITE_NULL ? 0 : sqlite3_column_int(st, 4);
        int type = sqlite3_column_type(st, 3);
        double y = NAN;
        int cls = V_OTHER;
        if (type == SQLITE_INTEGER && kind != TSQL_KIND_BOOL) {
            y = (double)sqlite3_column_int64(st, 3);
            cls = V_NUM;
        } else if (type == SQLITE_FLOAT) {
            y = sqlite3_column_double(st, 3);
            cls = isnan(y) ? V_NAN : isinf(y) ? (y > 0 ? V_PINF : V_NINF) : V_NUM;
            if (cls != V_NUM)
                y = NAN;
        } else if (type == SQLITE_NULL && kind == TSQL_KIND_NAN) {
            cls = V_NAN;
        }
        int64_t step = sqlite3_column_int64(st, 1);
        if (keybuf_push(&b, step, sqlite3_column_double(st, 2), y, cls) != 0)
            goto oom;
        free(cur->last);
        if (!(cur->last = value_text(st, 3, kind)))
            goto oom;
        cur->has_last = 1;
        cur->last_step = step;
    }
    if (rc != SQLITE_DONE) {
        ret = db_error(L);
    } else if (cur && keybuf_finish(&b, cur, r->started_at, L->buckets,
                                    L->series && n_series++ < RP_MAX_SERIES_KEYS) != 0) {
        goto oom;
    }
    keybuf_free(&b);
    sqlite3_finalize(st);
    return ret;
oom:
    keybuf_free(&b);
    sqlite3_finalize(st);
    return fail("cannot read %s: out of memory", L->path);
}

/* Flattened key -> display text of a (run) query on a params-like view. */
static int load_kv(struct loader *L, struct rp_run *r, const char *view, json_t **out)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT key, value FROM %s WHERE run_id = ?1 ORDER BY key", view);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(L->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(L);
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    *out = json_object();
    int rc;
    while (*out && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        char *v = value_text(st, 1, 0);
        json_t *s = v ? json_stringn_nocheck(v, strlen(v)) : NULL;
        free(v);
        if (!key || !s || json_object_set_new_nocheck(*out, key, s) != 0) {
            sqlite3_finalize(st);
            return fail("cannot read %s: out of memory", L->path);
        }
    }
    sqlite3_finalize(st);
    if (!*out)
        return fail("cannot read %s: out of memory", L->path);
    return rc == SQLITE_DONE ? 0 : db_error(L);
}

static int count_steps(struct loader *L, struct rp_run *r)
{
    const char *sql = L->version == 2
                          ? "SELECT " TSQL_R_STEPS " FROM tropt_run r WHERE r.uuid = ?1"
                          : "SELECT count(DISTINCT step) FROM metrics WHERE run_id = ?1";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(L->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(L);
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        r->steps = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_error(L);
}

static void run_free(struct rp_run *r)
{
    free(r->id);
    free(r->experiment);
    free(r->status);
    free(r->host);
    json_decref(r->params);
    json_decref(r->summary);
    for (size_t i = 0; i < r->n_metrics; i++)
        metric_free(&r->metrics[i]);
    free(r->metrics);
}

void rp_data_free(struct rp_data *d)
{
    for (size_t i = 0; i < d->n_runs; i++)
        run_free(&d->runs[i]);
    free(d->runs);
    free(d->path);
    memset(d, 0, sizeof *d);
}

/* Is run id selected (by an id or unique prefix in sel->runs)? */
static int selected(const struct rp_select *sel, const char *id)
{
    if (!sel->runs)
        return 1;
    for (const char *const *p = sel->runs; *p; p++)
        if (strncmp(id, *p, strlen(*p)) == 0)
            return 1;
    return 0;
}

/* Each prefix must match exactly one run of the (experiment-filtered) runs. */
static int check_prefixes(struct loader *L, const struct rp_select *sel)
{
    if (!sel->runs)
        return 0;
    for (const char *const *p = sel->runs; *p; p++) {
        if (!**p)
            return fail("an empty run id selects nothing");
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(L->db,
                               "SELECT run_id FROM runs WHERE substr(run_id, 1, ?2) = ?1"
                               " AND (?3 IS NULL OR experiment = ?3) ORDER BY run_id LIMIT 3",
                               -1, &st, NULL) != SQLITE_OK)
            return db_error(L);
        sqlite3_bind_text(st, 1, *p, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)strlen(*p));
        if (sel->experiment)
            sqlite3_bind_text(st, 3, sel->experiment, -1, SQLITE_STATIC);
        int n = 0;
        char first[2][64] = {"", ""};
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (n < 2)
                snprintf(first[n], sizeof first[n], "%s", sqlite3_column_text(st, 0));
            n++;
        }
        sqlite3_finalize(st);
        if (n == 0)
            return fail("no run %s%s%s in %s", *p, sel->experiment ? " in experiment " : "",
                        sel->experiment ? sel->experiment : "", L->path);
        if (n > 1)
            return fail("run id prefix '%s' is ambiguous in %s: %s, %s%s; give more characters", *p,
                        L->path, first[0], first[1], n > 2 ? ", ..." : "");
    }
    return 0;
}

static sqlite3 *open_ro(const char *path, int *version)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fail("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        fail("cannot open %s: not a regular file", path);
        return NULL;
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close_v2(db);
        db = NULL;
        rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    }
    if (rc != SQLITE_OK) {
        fail("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *q = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, TSQL_USER_VERSION, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (v < 1) {
        if (v == 0)
            fail("%s is not a tropt database (no runs were ever written to it)", path);
        else
            fail("cannot read %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close_v2(db);
        return NULL;
    }
    *version = v;
    return db;
}

int rp_load(const char *path, const struct rp_select *sel, struct rp_data *out)
{
    memset(out, 0, sizeof *out);
    struct loader L = {.path = path, .series = sel->series};
    if (!(L.db = open_ro(path, &L.version)))
        return 1;
    int ret = check_prefixes(&L, sel);
    sqlite3_stmt *st = NULL;
    if (!ret && sqlite3_prepare_v2(L.db,
                                   "SELECT run_id, experiment, status, started_at, ended_at, host,"
                                   " pid FROM runs WHERE (?1 IS NULL OR experiment = ?1)"
                                   " ORDER BY started_at, run_id",
                                   -1, &st, NULL) != SQLITE_OK)
        ret = db_error(&L);
    if (!ret && sel->experiment)
        sqlite3_bind_text(st, 1, sel->experiment, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc = SQLITE_DONE;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (!id || !selected(sel, id))
            continue;
        if (out->n_runs == cap) {
            size_t c = cap ? cap * 2 : 16;
            struct rp_run *r = realloc(out->runs, c * sizeof *r);
            if (!r) {
                ret = fail("cannot read %s: out of memory", path);
                break;
            }
            out->runs = r;
            cap = c;
        }
        struct rp_run *r = &out->runs[out->n_runs++];
        memset(r, 0, sizeof *r);
        r->id = dup_col(st, 0);
        r->experiment = dup_col(st, 1);
        r->status = dup_col(st, 2);
        r->host = dup_col(st, 5);
        r->started_at = sqlite3_column_double(st, 3);
        r->ended_at =
            sqlite3_column_type(st, 4) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 4);
        r->pid = sqlite3_column_int64(st, 6);
        if (!r->id || !r->experiment || !r->status || !r->host) {
            ret = fail("cannot read %s: out of memory", path);
            break;
        }
        r->crashed = strcmp(r->status, "crashed") == 0 || gone(r->status, r->host, r->pid);
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_error(&L);
    sqlite3_finalize(st);
    if (!ret) {
        if (sel->buckets) {
            L.buckets = sel->buckets;
        } else {
            size_t keys = 10;
            sqlite3_stmt *k = NULL;
            if (L.version <= 2 &&
                sqlite3_prepare_v2(L.db, "SELECT count(*) FROM tropt_key", -1, &k, NULL) ==
                    SQLITE_OK &&
                sqlite3_step(k) == SQLITE_ROW)
                keys = (size_t)sqlite3_column_int64(k, 0);
            sqlite3_finalize(k);
            if (keys > RP_MAX_SERIES_KEYS)
                keys = RP_MAX_SERIES_KEYS;
            size_t series = (out->n_runs ? out->n_runs : 1) * (keys ? keys : 1);
            size_t b = RP_POINT_BUDGET / 4 / series;
            L.buckets = b < RP_MIN_BUCKETS   ? RP_MIN_BUCKETS
                        : b > RP_MAX_BUCKETS ? RP_MAX_BUCKETS
                                             : b;
        }
    }
    for (size_t i = 0; !ret && i < out->n_runs; i++) {
        struct rp_run *r = &out->runs[i];
        ret = count_steps(&L, r);
        if (!ret)
            ret = load_kv(&L, r, "params", &r->params);
        if (!ret)
            ret = load_kv(&L, r, "summary", &r->summary);
        if (!ret)
            ret = load_metrics(&L, r);
    }
    sqlite3_close_v2(L.db);
    if (!ret && !(out->path = strdup(path)))
        ret = fail("cannot read %s: out of memory", path);
    if (ret)
        rp_data_free(out);
    return ret;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **rp_metric_keys(const struct rp_data *d, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < d->n_runs; i++)
        total += d->runs[i].n_metrics;
    *n = 0;
    if (!total)
        return NULL;
    const char **k = malloc(total * sizeof *k);
    if (!k)
        return NULL;
    for (size_t i = 0; i < d->n_runs; i++)
        for (size_t j = 0; j < d->runs[i].n_metrics; j++)
            k[(*n)++] = d->runs[i].metrics[j].key;
    qsort(k, *n, sizeof *k, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < *n; i++)
        if (u == 0 || strcmp(k[u - 1], k[i]) != 0)
            k[u++] = k[i];
    *n = u;
    return k;
}

const char **rp_differing_params(const struct rp_data *d, size_t *n)
{
    *n = 0;
    size_t total = 0;
    for (size_t i = 0; i < d->n_runs; i++)
        total += json_object_size(d->runs[i].params);
    if (!total)
        return NULL;
    const char **k = malloc(total * sizeof *k);
    if (!k)
        return NULL;
    size_t m = 0;
    for (size_t i = 0; i < d->n_runs; i++) {
        const char *key;
        json_t *v;
        json_object_foreach(d->runs[i].params, key, v) k[m++] = key;
    }
    qsort(k, m, sizeof *k, cmp_str);
    for (size_t i = 0; i < m; i++) {
        if (*n && strcmp(k[*n - 1], k[i]) == 0)
            continue;
        const char *first = NULL;
        int differ = 0;
        for (size_t r = 0; r < d->n_runs && !differ; r++) {
            const char *v = json_string_value(json_object_get(d->runs[r].params, k[i]));
            if (!v)
                differ = 1;
            else if (!first)
                first = v;
            else if (strcmp(first, v) != 0)
                differ = 1;
        }
        if (differ)
            k[(*n)++] = k[i];
    }
    if (!*n) {
        free(k);
        return NULL;
    }
    return k;
}

const struct rp_metric *rp_find_metric(const struct rp_run *r, const char *key)
{
    size_t lo = 0, hi = r->n_metrics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->metrics[mid].key, key);
        if (c == 0)
            return &r->metrics[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int rp_id_chars(const struct rp_data *d)
{
    int w = 8;
    for (size_t i = 0; i < d->n_runs; i++)
        for (size_t j = i + 1; j < d->n_runs; j++) {
            const char *a = d->runs[i].id, *b = d->runs[j].id;
            int k = 0;
            while (a[k] && a[k] == b[k])
                k++;
            if (k + 1 > w)
                w = k + 1;
        }
    return w;
}
