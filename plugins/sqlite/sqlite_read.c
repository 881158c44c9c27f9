/* plugins/sqlite/sqlite_read.c - reading a tropt database back (SPEC 9).
 *
 * Reads only through the documented views runs, params, metrics, summary
 * (plugins/sqlite/README.md), never the tables behind them, on a read-only
 * connection: the storage may change underneath as long as the views keep
 * their columns.  Values come back with their SQL type: INTEGER -> INT,
 * REAL -> REAL, TEXT -> STRING, NULL -> NULL.  When a view also offers a
 * `kind` column (bool, NaN, JSON text), it is used to restore those types.
 *
 * A run's steps are streamed from one SELECT ordered by step, grouping the
 * rows of one step into a field array that is reused: memory is bounded by
 * the largest step. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "sqlite_read.h"
#include "sqlite_sql.h"
#include "tropt_mem.h"

typedef struct reader {
    const tropt_host *host;
    sqlite3 *db;
    char *path;
    int has_kind;        /* the views carry a kind column */
    sqlite3_stmt *pidns; /* a run's writer pid namespace (schema 3+), else NULL */
    char my_ns[64];      /* this process's pid namespace, "" if unknown */
} reader;

/* A growable set of fields whose keys and strings live in one arena.
 * While a step is gathered, key and string pointers hold arena offsets
 * (the arena may move); fb_fix() turns them into pointers before the
 * event is handed out. */
typedef struct fieldbuf {
    tropt_field *f;
    size_t n, cap;
    char *arena;
    size_t alen, acap;
    json_t **js;
    size_t nj, jcap;
} fieldbuf;

static int fail(const reader *r, const char *what)
{
    return r->host->error(TROPT_EBACKEND, "%s: %s: %s", r->path, what, sqlite3_errmsg(r->db));
}

static void fb_clear(const tropt_host *h, fieldbuf *b)
{
    (void)h;
    for (size_t i = 0; i < b->nj; i++)
        json_decref(b->js[i]);
    b->n = b->alen = b->nj = 0;
}

static void fb_free(const tropt_host *h, fieldbuf *b)
{
    fb_clear(h, b);
    h->free(b->f);
    h->free(b->arena);
    h->free(b->js);
    memset(b, 0, sizeof *b);
}

/* Offsets -> pointers (call once, right before handing the fields out). */
static void fb_fix(fieldbuf *b)
{
    for (size_t i = 0; i < b->n; i++) {
        b->f[i].key = b->arena + (uintptr_t)b->f[i].key;
        if (b->f[i].type == TROPT_STRING)
            b->f[i].v.s = b->arena + (uintptr_t)b->f[i].v.s;
    }
}

/* Copy s into the arena; returns its offset + 1 (0: out of memory). */
static size_t fb_str(const tropt_host *h, fieldbuf *b, const unsigned char *s, int len)
{
    size_t n = s ? (size_t)len : 0;
    if (tropt_host_grow(h, (void **)&b->arena, &b->acap, b->alen + n + 1, 1))
        return 0;
    size_t off = b->alen;
    if (n)
        memcpy(b->arena + off, s, n);
    b->arena[off + n] = '\0';
    b->alen += n + 1;
    return off + 1;
}

/* Append the field (key column kc, value column vc, kind column or -1). */
static int fb_add(const reader *r, fieldbuf *b, sqlite3_stmt *st, int kc, int vc, int kindc)
{
    const tropt_host *h = r->host;
    if (tropt_host_grow(h, (void **)&b->f, &b->cap, b->n + 1, sizeof *b->f))
        return h->error(TROPT_ENOMEM, "out of memory");
    tropt_field *f = &b->f[b->n];
    memset(f, 0, sizeof *f);
    size_t koff = fb_str(h, b, sqlite3_column_text(st, kc), sqlite3_column_bytes(st, kc));
    if (!koff)
        return h->error(TROPT_ENOMEM, "out of memory");
    f->key = (const char *)(uintptr_t)(koff - 1);
    int kind = kindc >= 0 ? sqlite3_column_int(st, kindc) : 0;
    switch (sqlite3_column_type(st, vc)) {
    case SQLITE_INTEGER:
        f->type = kind == TSQL_KIND_BOOL ? TROPT_BOOL : TROPT_INT;
        if (f->type == TROPT_BOOL)
            f->v.b = sqlite3_column_int64(st, vc) != 0;
        else
            f->v.i = sqlite3_column_int64(st, vc);
        break;
    case SQLITE_FLOAT:
        f->type = TROPT_REAL;
        f->v.r = sqlite3_column_double(st, vc);
        break;
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
        const unsigned char *t = sqlite3_column_text(st, vc);
        int len = sqlite3_column_bytes(st, vc);
        if (kind == TSQL_KIND_JSON) {
            json_error_t je;
            json_t *j = json_loadb((const char *)t, (size_t)len, JSON_DECODE_ANY, &je);
            if (j) {
                if (tropt_host_grow(h, (void **)&b->js, &b->jcap, b->nj + 1, sizeof *b->js)) {
                    json_decref(j);
                    return h->error(TROPT_ENOMEM, "out of memory");
                }
                b->js[b->nj++] = j;
                f->type = TROPT_JSON;
                f->v.json = j;
                break;
            }
        }
        size_t soff = fb_str(h, b, t, len);
        if (!soff)
            return h->error(TROPT_ENOMEM, "out of memory");
        f->type = TROPT_STRING;
        f->v.s = (const char *)(uintptr_t)(soff - 1);
        break;
    }
    default:
        if (kind == TSQL_KIND_NAN) {
            f->type = TROPT_REAL;
            f->v.r = NAN;
        } else {
            f->type = TROPT_NULL;
        }
        break;
    }
    b->n++;
    return TROPT_OK;
}

static int pragma_int(reader *r, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Say what a path that cannot be a database is, before SQLite does: it
 * would block forever opening a FIFO and call a folder a "disk I/O error". */
static int check_file(reader *r, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return r->host->error(TROPT_EBACKEND, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return r->host->error(
            TROPT_EBACKEND, "%s is a folder, not a tropt database (give the database file)", path);
    if (!S_ISREG(st.st_mode))
        return r->host->error(TROPT_EBACKEND, "%s is not a regular file, so not a tropt database",
                              path);
    return TROPT_OK;
}

void tsq_reader_close(void *self)
{
    reader *r = self;
    if (!r)
        return;
    sqlite3_finalize(r->pidns);
    sqlite3_close(r->db);
    r->host->free(r->path);
    r->host->free(r);
}

int tsq_reader_open(void **out, const tropt_optval *opts, const tropt_host *host)
{
    const char *path = opts[0].text ? opts[0].text : "tropt.db";
    reader *r = host->malloc(sizeof *r);
    if (!r)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    r->host = host;
    if (!(r->path = tropt_host_strdup(host, path))) {
        host->free(r);
        return host->error(TROPT_ENOMEM, "out of memory");
    }
    int rc = check_file(r, path);
    if (rc != TROPT_OK)
        goto fail;
    /* NOMUTEX: a reader is used by one thread at a time (host.h), so the
     * per-call connection mutex of SQLite's serialized mode is pure cost
     * (about a tenth of a read). */
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = host->error(TROPT_EBACKEND, "%s: cannot open for reading: %s", path,
                         r->db ? sqlite3_errmsg(r->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(r->db, 5000);
    int app = 0, ver = 0;
    if (pragma_int(r, "PRAGMA application_id", &app) ||
        pragma_int(r, "PRAGMA user_version", &ver)) {
        rc = fail(r, "not an SQLite database");
        goto fail;
    }
    if (app != TSQL_APPLICATION_ID) {
        rc = host->error(TROPT_EBACKEND, "%s: not a tropt database (application_id %d)", path, app);
        goto fail;
    }
    if (ver > TSQL_SCHEMA_VERSION) {
        rc = host->error(TROPT_EBACKEND,
                         "%s: written by a newer tropt (schema version %d, this reader knows up "
                         "to %d); upgrade tropt to read it",
                         path, ver, TSQL_SCHEMA_VERSION);
        goto fail;
    }
    /* From schema 2 on, each value's kind (bool, NaN, JSON text) is kept
     * beside it but the documented views leave it out.  Views of this
     * connection only (TEMP, shadowing main's views by name; the file is not
     * touched) add it, so what comes back is exactly what was logged. */
    static const char kind_views[] =
        "CREATE TEMP VIEW params AS SELECT r.uuid AS run_id, k.name AS key,"
        " p.value AS value, p.kind AS kind FROM main.tropt_param p"
        " JOIN main.tropt_run r ON r.id = p.run JOIN main.tropt_key k ON k.id = p.key;"
        "CREATE TEMP VIEW summary AS SELECT r.uuid AS run_id, k.name AS key,"
        " s.value AS value, s.kind AS kind FROM main.tropt_summary s"
        " JOIN main.tropt_run r ON r.id = s.run JOIN main.tropt_key k ON k.id = s.key";
    /* Every stored step, one that logged no field too (a row with key
     * NULL), so that a read yields what was logged and counts what the
     * writer counted. */
    const char *metrics_view =
        ver == 1 ? "CREATE TEMP VIEW metrics AS SELECT r.uuid AS run_id, s.step AS step,"
                   " s.time AS time, k.name AS key, m.value AS value, m.kind AS kind"
                   " FROM main.tropt_run r JOIN main.tropt_step s ON s.run = r.id"
                   " LEFT JOIN main.tropt_metric m ON m.run = s.run AND m.step = s.step"
                   " LEFT JOIN main.tropt_key k ON k.id = m.key"
        : ver == 2
            ? "CREATE TEMP VIEW metrics AS SELECT r.uuid AS run_id, m.step AS step,"
              " m.time AS time, k.name AS key, m.value AS value, m.kind AS kind"
              " FROM main.tropt_run r JOIN main.tropt_log m ON m.rowid BETWEEN r.first_row"
              " AND " TSQL_R_END " AND +m.run = r.id LEFT JOIN main.tropt_key k ON k.id = +m.key"
            : "CREATE TEMP VIEW metrics AS SELECT r.uuid AS run_id, t.step AS step,"
              " t.value AS time, k.name AS key, m.value AS value, m.kind AS kind"
              " FROM main.tropt_run r"
              " JOIN main.tropt_val t ON t.run = r.id AND t.key = 0"
              " LEFT JOIN main.tropt_val m ON m.run = t.run AND m.step = t.step AND m.key > 0"
              " LEFT JOIN main.tropt_key k ON k.id = m.key";
    if (ver >= 1 && (sqlite3_exec(r->db, metrics_view, NULL, NULL, NULL) != SQLITE_OK ||
                     sqlite3_exec(r->db, kind_views, NULL, NULL, NULL) != SQLITE_OK)) {
        rc = fail(r, "cannot read");
        goto fail;
    }
    sqlite3_stmt *st = NULL;
    r->has_kind =
        sqlite3_prepare_v2(r->db, "SELECT kind FROM metrics LIMIT 0", -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    if (ver >= 3 && sqlite3_prepare_v2(r->db, "SELECT pidns FROM main.tropt_run WHERE uuid = ?1",
                                       -1, &r->pidns, NULL) != SQLITE_OK)
        r->pidns = NULL;
    ssize_t nsl = readlink("/proc/self/ns/pid", r->my_ns, sizeof r->my_ns - 1);
    r->my_ns[nsl > 0 ? nsl : 0] = '\0';
    *out = r;
    return TROPT_OK;
fail:
    tsq_reader_close(r);
    return rc;
}

static double col_real(sqlite3_stmt *st, int c)
{
    return sqlite3_column_type(st, c) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c);
}

static const char *col_text(sqlite3_stmt *st, int c)
{
    return (const char *)sqlite3_column_text(st, c);
}

#define RUN_COLS "run_id, experiment, status, started_at, ended_at, host, pid, config"

/* A running run written from another pid namespace (a container with the
 * same host name): its pid means nothing here, so it is reported as 0 and
 * the core's status rule (tropt_run_status) cannot call it crashed.  Once
 * this reader is built for ABI 1.2 it hands the pid namespace itself
 * (tropt_stored_run.pidns) and this goes. */
static int foreign_pid(reader *r, const char *run_id)
{
    if (!r->pidns || !run_id)
        return 0;
    sqlite3_bind_text(r->pidns, 1, run_id, -1, SQLITE_STATIC);
    int foreign = 0;
    if (sqlite3_step(r->pidns) == SQLITE_ROW && sqlite3_column_type(r->pidns, 0) != SQLITE_NULL)
        foreign = strcmp((const char *)sqlite3_column_text(r->pidns, 0), r->my_ns) != 0;
    sqlite3_reset(r->pidns);
    return foreign;
}

static void fill_info(reader *r, sqlite3_stmt *st, tropt_stored_run *ri)
{
    ri->run_id = col_text(st, 0);
    ri->experiment = col_text(st, 1) ? col_text(st, 1) : "";
    ri->status = col_text(st, 2) ? col_text(st, 2) : "running";
    ri->started_at = col_real(st, 3);
    ri->ended_at = col_real(st, 4);
    ri->host = col_text(st, 5);
    ri->pid = sqlite3_column_int64(st, 6);
    ri->n_steps = -1;
    if (strcmp(ri->status, "running") == 0 && foreign_pid(r, ri->run_id))
        ri->pid = 0;
}

int tsq_list_runs(void *self, tropt_run_list_fn fn, void *userdata)
{
    reader *r = self;
    sqlite3_stmt *st = NULL, *cnt = NULL;
    if (sqlite3_prepare_v2(r->db, "SELECT " RUN_COLS " FROM runs ORDER BY started_at, run_id", -1,
                           &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db, "SELECT count(DISTINCT step) FROM metrics WHERE run_id = ?1", -1,
                           &cnt, NULL) != SQLITE_OK) {
        int rc = fail(r, "cannot list runs");
        sqlite3_finalize(st);
        return rc;
    }
    int rc = TROPT_OK, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        tropt_stored_run ri;
        memset(&ri, 0, sizeof ri); /* ABI 1.2 members: none filled */
        fill_info(r, st, &ri);
        sqlite3_bind_text(cnt, 1, ri.run_id, -1, SQLITE_STATIC);
        if (sqlite3_step(cnt) == SQLITE_ROW)
            ri.n_steps = sqlite3_column_int64(cnt, 0);
        sqlite3_reset(cnt);
        if ((rc = fn(&ri, userdata)) != 0)
            break;
    }
    if (rc == TROPT_OK && s != SQLITE_DONE)
        rc = fail(r, "cannot list runs");
    sqlite3_finalize(cnt);
    sqlite3_finalize(st);
    return rc;
}

/* Read the rows of a params/summary query into b. */
static int read_kv(reader *r, const char *view, const char *run_id, fieldbuf *b)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT key, value%s FROM %s WHERE run_id = ?1 ORDER BY key",
             r->has_kind ? ", kind" : "", view);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        /* A view without kind while metrics has it: retry without. */
        snprintf(sql, sizeof sql, "SELECT key, value FROM %s WHERE run_id = ?1 ORDER BY key", view);
        if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
            return fail(r, view);
    }
    int kindc = sqlite3_column_count(st) > 2 ? 2 : -1;
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    int rc = TROPT_OK, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fb_add(r, b, st, 0, 1, kindc)) != TROPT_OK)
            break;
    if (rc == TROPT_OK && s != SQLITE_DONE)
        rc = fail(r, view);
    sqlite3_finalize(st);
    return rc;
}

static json_t *col_json(sqlite3_stmt *st, int c)
{
    if (sqlite3_column_type(st, c) == SQLITE_NULL)
        return NULL;
    return json_loadb((const char *)sqlite3_column_text(st, c), (size_t)sqlite3_column_bytes(st, c),
                      0, NULL);
}

/* Find the one run whose id is run_id or starts with it. */
static int find_run(reader *r, const char *run_id, sqlite3_stmt **out)
{
    size_t len = strlen(run_id);
    if (len < 8 || strspn(run_id, "0123456789abcdef-") != len)
        return r->host->error(TROPT_EINVAL, "%s: '%s' is not a run id (or a prefix of 8+)", r->path,
                              run_id);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT " RUN_COLS " FROM runs WHERE substr(run_id, 1, ?2) = ?1 "
                           "ORDER BY run_id LIMIT 2",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(r, "cannot read runs");
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)len);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return r->host->error(TROPT_EINVAL, "%s: no run '%s'", r->path, run_id);
    }
    *out = st;
    return TROPT_OK;
}

/* Hand the step gathered in b to fn, then empty b.  fn's nonzero return
 * (stop the walk) is returned. */
static int emit_step(const tropt_host *h, fieldbuf *b, const tropt_stored_run *run, int64_t step,
                     double time, tropt_event_fn fn, void *userdata)
{
    fb_fix(b);
    tropt_event ev = {.kind = TROPT_EVENT_STEP,
                      .run = run,
                      .step = step,
                      .time = time,
                      .fields = b->f,
                      .n = b->n};
    int rc = fn(&ev, userdata);
    if (rc == 0)
        fb_clear(h, b);
    return rc;
}

int tsq_read_run(void *self, const char *run_id, tropt_event_fn fn, void *userdata)
{
    reader *r = self;
    const tropt_host *h = r->host;
    sqlite3_stmt *run = NULL, *m = NULL;
    int rc = find_run(r, run_id, &run);
    if (rc)
        return rc;
    tropt_stored_run ri;
    memset(&ri, 0, sizeof ri); /* ABI 1.2 members: none filled */
    fill_info(r, run, &ri);
    fieldbuf b = {0};
    tropt_event ev = {.run = &ri};
    json_t *config = col_json(run, 7), *summary = NULL;

    /* START */
    if ((rc = read_kv(r, "params", ri.run_id, &b)) != TROPT_OK)
        goto out;
    fb_fix(&b);
    ev.kind = TROPT_EVENT_START;
    ev.config = config;
    ev.fields = b.f;
    ev.n = b.n;
    ev.time = ri.started_at;
    if ((rc = fn(&ev, userdata)) != 0)
        goto out;
    fb_clear(h, &b);

    /* STEPs */
    const char *sql = r->has_kind
                          ? "SELECT step, time, key, value, kind FROM metrics WHERE run_id = ?1 "
                            "ORDER BY step"
                          : "SELECT step, time, key, value FROM metrics WHERE run_id = ?1 "
                            "ORDER BY step";
    if (sqlite3_prepare_v2(r->db, sql, -1, &m, NULL) != SQLITE_OK) {
        rc = fail(r, "cannot read metrics");
        goto out;
    }
    sqlite3_bind_text(m, 1, ri.run_id, -1, SQLITE_STATIC);
    int s, have = 0;
    int64_t cur = 0;
    double cur_time = 0;
    while ((s = sqlite3_step(m)) == SQLITE_ROW) {
        int64_t step = sqlite3_column_int64(m, 0);
        if (have && step != cur) {
            if ((rc = emit_step(h, &b, &ri, cur, cur_time, fn, userdata)) != 0)
                goto out;
        }
        if (!have || step != cur) /* every row of a step carries its time */
            cur_time = sqlite3_column_double(m, 1);
        cur = step;
        have = 1;
        /* a step that logged no field may show as a row with key NULL */
        if (sqlite3_column_text(m, 2) != NULL &&
            (rc = fb_add(r, &b, m, 2, 3, r->has_kind ? 4 : -1)) != TROPT_OK)
            goto out;
    }
    if (s != SQLITE_DONE) {
        rc = fail(r, "cannot read metrics");
        goto out;
    }
    if (have) {
        if ((rc = emit_step(h, &b, &ri, cur, cur_time, fn, userdata)) != 0)
            goto out;
    }

    /* END */
    if (strcmp(ri.status, "running") != 0) {
        if ((rc = read_kv(r, "summary", ri.run_id, &b)) != TROPT_OK)
            goto out;
        fb_fix(&b);
        /* the summary as an object, rebuilt from its flattened rows */
        summary = json_object();
        for (size_t i = 0; summary && i < b.n; i++) {
            const tropt_field *f = &b.f[i];
            json_t *v = f->type == TROPT_INT      ? json_integer(f->v.i)
                        : f->type == TROPT_REAL   ? json_real(f->v.r)
                        : f->type == TROPT_BOOL   ? json_boolean(f->v.b)
                        : f->type == TROPT_STRING ? json_string(f->v.s)
                        : f->type == TROPT_JSON   ? json_incref((json_t *)f->v.json)
                                                  : json_null();
            if (v)
                json_object_set_new(summary, f->key, v);
        }
        ev = (tropt_event){.kind = TROPT_EVENT_END,
                           .run = &ri,
                           .status = ri.status,
                           .ended_at = ri.ended_at,
                           .summary = b.n ? summary : NULL,
                           .fields = b.f,
                           .n = b.n};
        rc = fn(&ev, userdata);
    }
out:
    fb_free(h, &b);
    json_decref(config);
    json_decref(summary);
    sqlite3_finalize(m);
    sqlite3_finalize(run);
    return rc;
}
