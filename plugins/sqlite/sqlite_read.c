/* plugins/sqlite/sqlite_read.c - reading a tropt database back (SPEC 9).
 *
 * Reads on a read-only connection, through views of that connection only
 * (TEMP, TSQL_READ_V<n> in sqlite_sql.h, one set per schema version), so a
 * file of any version is read as it is, never upgraded.  Values come back
 * as they were logged: the SQL type (INTEGER -> INT, REAL -> REAL, TEXT ->
 * STRING, NULL -> NULL) and the kind column beside it (bool, NaN, JSON
 * text), which every schema version keeps; a step that logged no field
 * comes back as a step without fields.
 *
 * A run whose id is not a UUID (every id this project writes is one) is
 * not handed on: a crafted file could hold markup or terminal control
 * sequences there.  It is skipped with a warning naming the file.
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
#include "tropt_id.h"
#include "tropt_mem.h"

typedef struct reader {
    const tropt_host *host;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *pidns; /* a run's writer pid namespace (schema 3+), else NULL */
    char my_ns[64];      /* this process's pid namespace, "" if unknown */
    int ver;             /* the file's schema version */
    sqlite3_stmt *run12; /* TSQL_READ_RUN12 (schema 4), else NULL */
    sqlite3_stmt *tags;  /* TSQL_READ_TAGS (schema 4), else NULL */
    sqlite3_stmt *last;  /* the largest step of a run (schema 1-3) */
} reader;

/* What a run's ABI 1.2 members point to, valid until the next run. */
typedef struct run12 {
    const char **tags;
    size_t cap;
    char *text; /* the tags' texts */
    size_t tlen, tcap;
    tropt_provenance prov;
    int64_t id; /* tropt_run.id (schema 4), 0 otherwise */
} run12;

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

/* Append the field (key column kc, value column vc, kind column kindc). */
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
    int kind = sqlite3_column_int(st, kindc);
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

/* The statements of the ABI 1.2 members: schema 4 stores them; older
 * files get the defaults (one attempt, the largest step by a seek). */
static int prepare_extra(reader *r)
{
    if (r->ver >= 4)
        return sqlite3_prepare_v2(r->db, TSQL_READ_RUN12, -1, &r->run12, NULL) ||
                       sqlite3_prepare_v2(r->db, TSQL_READ_TAGS, -1, &r->tags, NULL)
                   ? -1
                   : TROPT_OK;
    if (r->ver >= 3 && sqlite3_prepare_v2(r->db, "SELECT pidns FROM main.tropt_run WHERE uuid = ?1",
                                          -1, &r->pidns, NULL) != SQLITE_OK)
        r->pidns = NULL;
    return sqlite3_prepare_v2(r->db,
                              "SELECT max(step), count(*) FROM tropt_read_steps WHERE run_id = ?1",
                              -1, &r->last, NULL)
               ? -1
               : TROPT_OK;
}

void tsq_reader_close(void *self)
{
    reader *r = self;
    if (!r)
        return;
    sqlite3_finalize(r->pidns);
    sqlite3_finalize(r->run12);
    sqlite3_finalize(r->tags);
    sqlite3_finalize(r->last);
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
    if (ver < 1) {
        rc = host->error(TROPT_EBACKEND, "%s: not a tropt database (no schema: version %d)", path,
                         ver);
        goto fail;
    }
    static const char *const views[] = {TSQL_READ_V1, TSQL_READ_V2, TSQL_READ_V3, TSQL_READ_V4};
    _Static_assert(sizeof views / sizeof *views == TSQL_SCHEMA_VERSION,
                   "a reader's views for every schema version");
    if (sqlite3_exec(r->db, views[ver - 1], NULL, NULL, NULL) != SQLITE_OK) {
        rc = fail(r, "cannot read");
        goto fail;
    }
    r->ver = ver;
    if (prepare_extra(r) != TROPT_OK) {
        rc = fail(r, "cannot read");
        goto fail;
    }
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

/* The tags of run id (schema 4) into x->tags / ri->n_tags. */
static int read_tags(reader *r, int64_t id, tropt_stored_run *ri, run12 *x)
{
    sqlite3_bind_int64(r->tags, 1, id);
    int s;
    x->tlen = 0;
    while ((s = sqlite3_step(r->tags)) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(r->tags, 0);
        if (tropt_host_grow(r->host, (void **)&x->tags, &x->cap, ri->n_tags + 1, sizeof *x->tags) ||
            tropt_host_grow(r->host, (void **)&x->text, &x->tcap, x->tlen + len + 1, 1)) {
            sqlite3_reset(r->tags);
            return r->host->error(TROPT_ENOMEM, "out of memory");
        }
        memcpy(x->text + x->tlen, sqlite3_column_text(r->tags, 0), len);
        x->text[x->tlen + len] = '\0';
        x->tags[ri->n_tags++] = (const char *)(uintptr_t)x->tlen; /* an offset until done */
        x->tlen += len + 1;
    }
    sqlite3_reset(r->tags);
    for (size_t i = 0; i < ri->n_tags; i++)
        x->tags[i] = x->text + (uintptr_t)x->tags[i];
    ri->tags = x->tags;
    return s == SQLITE_DONE ? TROPT_OK : fail(r, "cannot read tags");
}

/* Schema 4: the ABI 1.2 members from TSQL_READ_RUN12 (left stepped on the
 * run's row until the next run, as its texts are borrowed). */
static int fill_v12(reader *r, tropt_stored_run *ri, run12 *x)
{
    sqlite3_stmt *st = r->run12;
    sqlite3_reset(st);
    sqlite3_reset(r->tags);
    ri->n_tags = 0;
    sqlite3_bind_text(st, 1, ri->run_id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW)
        return fail(r, "cannot read a run");
    ri->name = col_text(st, 0);
    ri->note = col_text(st, 1);
    ri->resume_key = col_text(st, 2);
    ri->pidns = col_text(st, 3);
    x->prov =
        (tropt_provenance){col_text(st, 4), col_text(st, 5), col_text(st, 6), col_text(st, 7)};
    ri->provenance = &x->prov;
    ri->attempts = sqlite3_column_int64(st, 8);
    ri->last_step = sqlite3_column_int64(st, 9);
    ri->checkpoint_step = sqlite3_column_int64(st, 10);
    ri->n_steps = sqlite3_column_int64(st, 11);
    x->id = sqlite3_column_int64(st, 12);
    return read_tags(r, x->id, ri, x);
}

/* Schema 1-3: one attempt, no mark, the largest step and the number of
 * steps from the steps. */
static int fill_old(reader *r, tropt_stored_run *ri)
{
    sqlite3_bind_text(r->last, 1, ri->run_id, -1, SQLITE_STATIC);
    if (sqlite3_step(r->last) == SQLITE_ROW) {
        if (sqlite3_column_type(r->last, 0) != SQLITE_NULL)
            ri->last_step = sqlite3_column_int64(r->last, 0);
        ri->n_steps = sqlite3_column_int64(r->last, 1);
    }
    int rc = sqlite3_reset(r->last) == SQLITE_OK ? TROPT_OK : fail(r, "cannot count steps");
    ri->attempts = 1;
    return rc;
}

/* The ABI 1.2 members of run ri (after fill_info). */
static int fill_more(reader *r, tropt_stored_run *ri, run12 *x)
{
    ri->last_step = ri->checkpoint_step = -1;
    ri->heartbeat_age = ri->stale_after = NAN;
    ri->attempts = 1;
    x->id = 0;
    return r->ver >= 4 ? fill_v12(r, ri, x) : fill_old(r, ri);
}

/* The run of a row of TSQL_READ_RUNS / TSQL_READ_RUN (ABI 1.2 members:
 * fill_more). */
static void fill_info(reader *r, sqlite3_stmt *st, tropt_stored_run *ri)
{
    memset(ri, 0, sizeof *ri);
    ri->run_id = col_text(st, 0);
    ri->experiment = col_text(st, 1) ? col_text(st, 1) : "";
    ri->status = col_text(st, 2) ? col_text(st, 2) : "running";
    ri->started_at = col_real(st, 3);
    ri->ended_at = col_real(st, 4);
    ri->host = col_text(st, 5);
    ri->pid = sqlite3_column_int64(st, 6);
    ri->n_steps = -1;
    if (r->ver < 4 && strcmp(ri->status, "running") == 0 && foreign_pid(r, ri->run_id))
        ri->pid = 0;
}

/* 1 when the run id of column c of st is a UUID; otherwise 0, warning
 * that the run is skipped. */
static int id_ok(const reader *r, sqlite3_stmt *st, int c)
{
    const char *id = col_text(st, c);
    if (tropt_id_valid(id))
        return 1;
    char shown[TROPT_ID_SHOWN_MAX];
    TROPT_HOST_LOG(r->host, TROPT_LEVEL_WARNING,
                   "%s: run id '%s' is not a UUID (not written by tropt); run skipped", r->path,
                   tropt_id_shown(shown, id));
    return 0;
}

int tsq_list_runs(void *self, tropt_run_list_fn fn, void *userdata)
{
    reader *r = self;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, TSQL_READ_RUNS, -1, &st, NULL) != SQLITE_OK)
        return fail(r, "cannot list runs");
    run12 x = {0};
    int rc = TROPT_OK, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (!id_ok(r, st, 0))
            continue;
        tropt_stored_run ri;
        fill_info(r, st, &ri);
        if ((rc = fill_more(r, &ri, &x)) != TROPT_OK || (rc = fn(&ri, userdata)) != 0)
            break;
    }
    if (rc == TROPT_OK && s != SQLITE_DONE)
        rc = fail(r, "cannot list runs");
    r->host->free(x.tags);
    r->host->free(x.text);
    sqlite3_finalize(st);
    return rc;
}

/* Read the rows of a params/summary query (key, value, kind) into b. */
static int read_kv(reader *r, const char *sql, const char *run_id, fieldbuf *b)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(r, "cannot read the config or summary");
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    int rc = TROPT_OK, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fb_add(r, b, st, 0, 1, 2)) != TROPT_OK)
            break;
    if (rc == TROPT_OK && s != SQLITE_DONE)
        rc = fail(r, "cannot read the config or summary");
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

/* The full id of the one run whose id is run_id or starts with it (runs
 * whose id is not a UUID skipped, with a warning), into id. */
static int find_id(reader *r, const char *run_id, char id[TROPT_ID_LEN + 1])
{
    size_t len = strlen(run_id);
    if (len < 8 || strspn(run_id, "0123456789abcdefABCDEF-") != len)
        return r->host->error(TROPT_EINVAL, "%s: '%s' is not a run id (or a prefix of 8+)", r->path,
                              run_id);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, TSQL_READ_FIND, -1, &st, NULL) != SQLITE_OK)
        return fail(r, "cannot read runs");
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)len);
    int n = 0, s = SQLITE_DONE;
    while (n < 2 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        if (id_ok(r, st, 0) && n++ == 0)
            memcpy(id, col_text(st, 0), TROPT_ID_LEN + 1);
    }
    int rc = s != SQLITE_ROW && s != SQLITE_DONE ? fail(r, "cannot read runs") : TROPT_OK;
    sqlite3_finalize(st);
    if (rc == TROPT_OK && n != 1)
        rc = r->host->error(TROPT_EINVAL,
                            n ? "%s: run id prefix '%s' is ambiguous" : "%s: no run '%s'", r->path,
                            run_id);
    return rc;
}

/* The row of TSQL_READ_RUN for the run run_id (a full id or a unique
 * prefix) in *out (the caller finalizes it). */
static int find_run(reader *r, const char *run_id, sqlite3_stmt **out)
{
    char id[TROPT_ID_LEN + 1];
    int rc = find_id(r, run_id, id);
    if (rc != TROPT_OK)
        return rc;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, TSQL_READ_RUN, -1, &st, NULL) != SQLITE_OK)
        return fail(r, "cannot read runs");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = fail(r, "cannot read runs");
        sqlite3_finalize(st);
        return rc;
    }
    *out = st;
    return TROPT_OK;
}

/* Hand the step gathered in b to fn, then empty b.  fn's nonzero return
 * (stop the walk) is returned. */
static int emit_step(const tropt_host *h, fieldbuf *b, const tropt_stored_run *run, int64_t step,
                     double time, int64_t attempt, tropt_event_fn fn, void *userdata)
{
    fb_fix(b);
    tropt_event ev = {.kind = TROPT_EVENT_STEP,
                      .run = run,
                      .attempt = attempt,
                      .step = step,
                      .time = time,
                      .fields = b->f,
                      .n = b->n};
    int rc = fn(&ev, userdata);
    if (rc == 0)
        fb_clear(h, b);
    return rc;
}

/* 1 when the row's step (column 0) is a step tropt writes: an integer >= 0.
 * Otherwise 0, counted in *bad; the first such is warned about at the end
 * (a replay would renumber a negative step, as the other readers refuse). */
static int step_ok(sqlite3_stmt *m, long *bad, char *first, size_t size)
{
    if (sqlite3_column_type(m, 0) == SQLITE_INTEGER && sqlite3_column_int64(m, 0) >= 0)
        return 1;
    if ((*bad)++ == 0) {
        const char *t = (const char *)sqlite3_column_text(m, 0);
        tropt_text_shown(first, size, t ? t : "NULL");
    }
    return 0;
}

/* One read of a run: its cursors, in (attempt, ...) order each. */
typedef struct walk {
    reader *r;
    const tropt_stored_run *ri;
    tropt_event_fn fn;
    void *ud;
    fieldbuf *b;
    sqlite3_stmt *m;           /* the rows: step, time, key, value, kind, attempt */
    sqlite3_stmt *marks;       /* TSQL_READ_MARKS (schema 4) */
    sqlite3_stmt *sys;         /* TSQL_READ_SYSTEM (schema 4) */
    int mrow, markrow, sysrow; /* the cursor holds a row not handed out yet */
    long bad;
    char first[64];
} walk;

/* Advance cursor st (*row: it holds a row).  TROPT_OK or a failure. */
static int next_row(walk *w, sqlite3_stmt *st, int *row)
{
    int s = sqlite3_step(st);
    *row = s == SQLITE_ROW;
    return s == SQLITE_ROW || s == SQLITE_DONE ? TROPT_OK : fail(w->r, "cannot read a run");
}

/* Stream the steps of attempt k (every row while the cursor's attempt is
 * k) through fn, one event per step (a step that logged no field too: its
 * one row has key NULL). */
static int read_steps(walk *w, int64_t k)
{
    sqlite3_stmt *m = w->m;
    int have = 0, rc = TROPT_OK;
    int64_t cur = 0;
    double cur_time = 0;
    while (w->mrow && sqlite3_column_int64(m, 5) <= k) {
        if (step_ok(m, &w->bad, w->first, sizeof w->first)) {
            int64_t step = sqlite3_column_int64(m, 0);
            if (have && step != cur &&
                (rc = emit_step(w->r->host, w->b, w->ri, cur, cur_time, k, w->fn, w->ud)))
                return rc;
            if (!have || step != cur) /* every row of a step carries its time */
                cur_time = sqlite3_column_double(m, 1);
            cur = step;
            have = 1;
            if (sqlite3_column_type(m, 2) != SQLITE_NULL &&
                (rc = fb_add(w->r, w->b, m, 2, 3, 4)) != TROPT_OK)
                return rc;
        }
        if ((rc = next_row(w, m, &w->mrow)) != TROPT_OK)
            return rc;
    }
    return have ? emit_step(w->r->host, w->b, w->ri, cur, cur_time, k, w->fn, w->ud) : TROPT_OK;
}

/* The checkpoint marks of attempt k. */
static int read_marks(walk *w, int64_t k)
{
    sqlite3_stmt *c = w->marks;
    int rc = TROPT_OK;
    while (!rc && w->markrow && sqlite3_column_int64(c, 0) <= k) {
        tropt_checkpoint mk = {.attempt = sqlite3_column_int64(c, 0),
                               .seq = sqlite3_column_int64(c, 1),
                               .step = sqlite3_column_int64(c, 2),
                               .time = sqlite3_column_double(c, 3),
                               .path = col_text(c, 4),
                               .size = sqlite3_column_int64(c, 5),
                               .sha256 = col_text(c, 6),
                               .error = col_text(c, 7)};
        tropt_event ev = {.kind = TROPT_EVENT_CHECKPOINT,
                          .run = w->ri,
                          .attempt = mk.attempt,
                          .step = mk.step,
                          .time = mk.time,
                          .checkpoint = &mk};
        if ((rc = w->fn(&ev, w->ud)) == 0)
            rc = next_row(w, c, &w->markrow);
    }
    return rc;
}

/* Gather the samples of the system cursor's current (attempt, time) into
 * *v (keys in b's arena, as offsets); the cursor moves past them. */
static int gather_samples(walk *w, tropt_sample **v, size_t *n, size_t *cap)
{
    sqlite3_stmt *y = w->sys;
    int64_t a = sqlite3_column_int64(y, 0);
    double t = sqlite3_column_double(y, 1);
    int rc = TROPT_OK;
    *n = 0;
    while (!rc && w->sysrow && sqlite3_column_int64(y, 0) == a &&
           sqlite3_column_double(y, 1) == t) {
        size_t off =
            fb_str(w->r->host, w->b, sqlite3_column_text(y, 2), sqlite3_column_bytes(y, 2));
        if (!off || tropt_host_grow(w->r->host, (void **)v, cap, *n + 1, sizeof **v))
            return w->r->host->error(TROPT_ENOMEM, "out of memory");
        (*v)[(*n)++] =
            (tropt_sample){(const char *)(uintptr_t)(off - 1), col_real(y, 3), col_real(y, 4)};
        rc = next_row(w, y, &w->sysrow);
    }
    return rc;
}

/* The system samples of attempt k, one event per time. */
static int read_system(walk *w, int64_t k)
{
    tropt_sample *v = NULL;
    size_t n = 0, cap = 0;
    int rc = TROPT_OK;
    while (!rc && w->sysrow && sqlite3_column_int64(w->sys, 0) <= k) {
        int64_t a = sqlite3_column_int64(w->sys, 0);
        double t = sqlite3_column_double(w->sys, 1);
        if ((rc = gather_samples(w, &v, &n, &cap)) != TROPT_OK)
            break;
        for (size_t i = 0; i < n; i++)
            v[i].key = w->b->arena + (uintptr_t)v[i].key;
        tropt_event ev = {.kind = TROPT_EVENT_SYSTEM,
                          .run = w->ri,
                          .attempt = a,
                          .time = t,
                          .samples = v,
                          .n_samples = n};
        rc = w->fn(&ev, w->ud);
        fb_clear(w->r->host, w->b);
    }
    w->r->host->free(v);
    return rc;
}

/* Everything attempt k stored after its START/ATTEMPT event. */
static int read_attempt(walk *w, int64_t k)
{
    int rc = w->marks ? read_marks(w, k) : TROPT_OK;
    if (!rc && w->sys)
        rc = read_system(w, k);
    return rc ? rc : read_steps(w, k);
}

/* The summary as an object, rebuilt from its flattened fields (keys and
 * strings kept byte for byte, valid UTF-8 or not).  NULL when out of
 * memory. */
static json_t *summary_object(const fieldbuf *b)
{
    json_t *summary = json_object();
    for (size_t i = 0; summary && i < b->n; i++) {
        const tropt_field *f = &b->f[i];
        json_t *v = f->type == TROPT_INT      ? json_integer(f->v.i)
                    : f->type == TROPT_REAL   ? json_real(f->v.r)
                    : f->type == TROPT_BOOL   ? json_boolean(f->v.b)
                    : f->type == TROPT_STRING ? json_string_nocheck(f->v.s)
                    : f->type == TROPT_JSON   ? json_incref((json_t *)f->v.json)
                                              : json_null();
        if (!v || json_object_set_new_nocheck(summary, f->key, v) != 0) {
            json_decref(summary);
            summary = NULL;
        }
    }
    return summary;
}

/* The END event of a run that ended: status, end time, summary. */
static int read_end(reader *r, const tropt_stored_run *ri, fieldbuf *b, tropt_event_fn fn,
                    void *userdata)
{
    int rc = read_kv(r, TSQL_READ_SUMMARY, ri->run_id, b);
    if (rc != TROPT_OK)
        return rc;
    fb_fix(b);
    json_t *summary = summary_object(b);
    if (!summary)
        return r->host->error(TROPT_ENOMEM, "out of memory");
    tropt_event ev = {.kind = TROPT_EVENT_END,
                      .run = ri,
                      .status = ri->status,
                      .ended_at = ri->ended_at,
                      .summary = b->n ? summary : NULL,
                      .fields = b->f,
                      .n = b->n};
    rc = fn(&ev, userdata);
    json_decref(summary);
    return rc;
}

/* A run's attempts (schema 4), for START and the ATTEMPT events. */
typedef struct atts {
    tropt_attempt *a;
    json_t **cfg;
    size_t n, cap, ccap;
} atts;

static void atts_free(const tropt_host *h, atts *t)
{
    for (size_t i = 0; i < t->n; i++) {
        h->free((char *)t->a[i].status);
        h->free((char *)t->a[i].host);
        json_decref(t->cfg[i]);
    }
    h->free(t->a);
    h->free(t->cfg);
}

static int add_attempt(reader *r, atts *t, sqlite3_stmt *st)
{
    const tropt_host *h = r->host;
    if (tropt_host_grow(h, (void **)&t->a, &t->cap, t->n + 1, sizeof *t->a) ||
        tropt_host_grow(h, (void **)&t->cfg, &t->ccap, t->n + 1, sizeof *t->cfg))
        return h->error(TROPT_ENOMEM, "out of memory");
    tropt_attempt *a = &t->a[t->n];
    *a = (tropt_attempt){.attempt = sqlite3_column_int64(st, 0),
                         .from_step = sqlite3_column_int64(st, 1),
                         .started_at = col_real(st, 2),
                         .ended_at = col_real(st, 3),
                         .status = tropt_host_strdup(h, col_text(st, 4) ? col_text(st, 4) : ""),
                         .host = tropt_host_strdup(h, col_text(st, 5) ? col_text(st, 5) : ""),
                         .pid = sqlite3_column_int64(st, 6)};
    t->cfg[t->n++] = col_json(st, 7);
    return a->status && a->host ? TROPT_OK : h->error(TROPT_ENOMEM, "out of memory");
}

static int load_attempts(reader *r, int64_t id, atts *t)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, TSQL_READ_ATTEMPTS, -1, &st, NULL) != SQLITE_OK)
        return fail(r, "cannot read attempts");
    sqlite3_bind_int64(st, 1, id);
    int s, rc = TROPT_OK;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = add_attempt(r, t, st);
    if (!rc && s != SQLITE_DONE)
        rc = fail(r, "cannot read attempts");
    sqlite3_finalize(st);
    return rc;
}

/* Open cursor *st on sql for run (integer id or the uuid) and read its
 * first row. */
static int open_cursor(walk *w, const char *sql, int64_t id, sqlite3_stmt **st, int *row)
{
    if (sqlite3_prepare_v2(w->r->db, sql, -1, st, NULL) != SQLITE_OK)
        return fail(w->r, "cannot read a run");
    if (id)
        sqlite3_bind_int64(*st, 1, id);
    else
        sqlite3_bind_text(*st, 1, w->ri->run_id, -1, SQLITE_STATIC);
    return next_row(w, *st, row);
}

/* The START (k 1) or ATTEMPT event of attempt k: its config; the
 * flattened params (the latest attempt's merged config) with the latest. */
static int emit_begin(walk *w, const atts *t, json_t *config, int64_t k)
{
    const tropt_stored_run *ri = w->ri;
    int latest = k >= ri->attempts;
    int rc = latest ? read_kv(w->r, TSQL_READ_PARAMS, ri->run_id, w->b) : TROPT_OK;
    if (rc)
        return rc;
    fb_fix(w->b);
    tropt_event ev = {.kind = k > 1 ? TROPT_EVENT_ATTEMPT : TROPT_EVENT_START,
                      .run = ri,
                      .attempt = k,
                      .config = config,
                      .fields = w->b->f,
                      .n = w->b->n,
                      .time = t->n >= (size_t)k ? t->a[k - 1].started_at : ri->started_at,
                      .attempts = k == 1 ? t->a : NULL,
                      .n_attempts = k == 1 ? t->n : 0};
    rc = w->fn(&ev, w->ud);
    fb_clear(w->r->host, w->b);
    return rc;
}

static int walk_run(walk *w, const atts *t, json_t *config1, int64_t id)
{
    int rc = open_cursor(w, w->r->ver >= 4 ? TSQL_READ_METRICS_V4 : TSQL_READ_METRICS, 0, &w->m,
                         &w->mrow);
    if (!rc && id)
        rc = open_cursor(w, TSQL_READ_MARKS, id, &w->marks, &w->markrow);
    if (!rc && id)
        rc = open_cursor(w, TSQL_READ_SYSTEM, id, &w->sys, &w->sysrow);
    int64_t n = t->n ? (int64_t)t->n : 1;
    for (int64_t k = 1; !rc && k <= n; k++) {
        rc = emit_begin(w, t, k == 1 ? config1 : t->cfg[k - 1], k);
        if (!rc)
            rc = read_attempt(w, k);
    }
    if (w->bad)
        TROPT_HOST_LOG(w->r->host, TROPT_LEVEL_WARNING,
                       "%s: run %s: %ld rows whose step is not a non-negative integer skipped "
                       "(the first: '%s')",
                       w->r->path, w->ri->run_id, w->bad, w->first);
    return rc;
}

int tsq_read_run(void *self, const char *run_id, tropt_event_fn fn, void *userdata)
{
    reader *r = self;
    const tropt_host *h = r->host;
    sqlite3_stmt *run = NULL;
    int rc = find_run(r, run_id, &run);
    if (rc)
        return rc;
    tropt_stored_run ri;
    fill_info(r, run, &ri);
    fieldbuf b = {0};
    run12 x = {0};
    atts t = {0};
    walk w = {.r = r, .ri = &ri, .fn = fn, .ud = userdata, .b = &b};
    json_t *config = NULL;
    if ((rc = fill_more(r, &ri, &x)) != TROPT_OK)
        goto out;
    if (x.id && (rc = load_attempts(r, x.id, &t)) != TROPT_OK)
        goto out;
    config = t.n ? json_incref(t.cfg[0]) : col_json(run, 7);
    if ((rc = walk_run(&w, &t, config, x.id)) == 0 && strcmp(ri.status, "running") != 0)
        rc = read_end(r, &ri, &b, fn, userdata);
out:
    sqlite3_finalize(w.m);
    sqlite3_finalize(w.marks);
    sqlite3_finalize(w.sys);
    atts_free(h, &t);
    fb_free(h, &b);
    h->free(x.tags);
    h->free(x.text);
    json_decref(config);
    sqlite3_finalize(run);
    return rc;
}
