/*
 * plugins/pg - the PostgreSQL backend (libpq): the runs of many machines in
 * one store.  See README.md for the views, the type mapping and the loss
 * table; every SQL text is in pg_sql.h.
 *
 * One connection per instance, guarded by `mu`, shared by the hooks and a
 * background thread of the instance that (a) refreshes the open run's
 * heartbeat every `heartbeat` (so a long step between two log calls is not
 * a crash) and (b) commits pending steps once the oldest is
 * `commit_interval` old.
 *
 * Steps are buffered (rows copied, keys interned) and written by commit(),
 * one tropt_log row per step with its fields as arrays: up to 16 steps as
 * one multi-row INSERT ... ON CONFLICT (run, step) DO NOTHING in autocommit
 * (one round trip, durable when it returns), more with a binary COPY in a
 * transaction; a COPY that meets a step already stored (a replayed or
 * retried step) rolls back and is written again through the ON CONFLICT
 * path.  Values travel in binary, so reals are bit-exact.
 *
 * When the server is gone (unreachable at init, or the connection lost and
 * one reset failed), the run is spooled for the rest of its life: its
 * run_start, the pending steps and every later event go to one file in
 * spool_dir in the tropt event format, finish returns TROPT_OK with a
 * warning naming the file and the replay command.
 *
 * The conninfo option is secret: messages name the server by host, port,
 * database and user only, and every libpq message is scrubbed of the
 * password before it is shown.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <tropt/plugin.h>

#include "pg_sql.h"
#include "tropt_event.h"

enum {
    O_CONNINFO,
    O_PASSWORD_ENV,
    O_SCHEMA,
    O_COMMIT_EVERY,
    O_COMMIT_INTERVAL,
    O_SPOOL_DIR,
    O_HEARTBEAT,
};

static const tropt_option_def pg_options[] = {
    [O_CONNINFO] = {"conninfo", TROPT_OPT_STRING, TROPT_OPT_SECRET, NULL, NULL, 0, 0,
                    "libpq connection string or URI (default: libpq's PG* defaults; never shown)"},
    [O_PASSWORD_ENV] = {"password_env", TROPT_OPT_STRING, 0, NULL, NULL, 0, 0,
                        "environment variable holding the password (never shown)"},
    [O_SCHEMA] = {"schema", TROPT_OPT_STRING, 0, "tropt", NULL, 0, 0,
                  "schema holding the tables and the views runs, params, metrics, summary"},
    [O_COMMIT_EVERY] = {"commit_every", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "1", NULL, 1, 1e9,
                        "commit once N steps are pending"},
    [O_COMMIT_INTERVAL] = {"commit_interval", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "0", NULL, 0,
                           3600000, "also commit once the oldest pending step is this old"},
    [O_SPOOL_DIR] = {"spool_dir", TROPT_OPT_PATH, 0, "tropt-spool", NULL, 0, 0,
                     "folder for events while the server is gone (replay with tropt replay)"},
    [O_HEARTBEAT] = {"heartbeat", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "10s", NULL, 100,
                     3600000,
                     "heartbeat period; a run silent for 4x this (at least 2s) is crashed"},
    {NULL, 0, 0, NULL, NULL, 0, 0, NULL},
};

/* Steps in one INSERT statement (7 parameters each, plus the run id). */
#define PG_INSERT_STEPS 16
/* Rows pending before a commit whatever the options (bounds memory). */
#define PG_MAX_PENDING_ROWS 65536

enum { K_NULL, K_BOOL, K_INT, K_REAL, K_STRING, K_JSON };

#define NO_KEY UINT32_MAX

/* An interned key: its name and its id in tropt_key (0 while unknown). */
#define HAS_R(w) ((w)->kind == K_BOOL || (w)->kind == K_INT || (w)->kind == K_REAL)
#define HAS_I(w) ((w)->kind == K_BOOL || (w)->kind == K_INT)
#define HAS_T(w) ((w)->kind == K_STRING || (w)->kind == K_JSON)

typedef struct pkey {
    char *name;
    uint64_t hash;
    int32_t id;
} pkey;

typedef struct row {
    int64_t step;
    double time;
    uint32_t key;  /* index in pg.keys, NO_KEY: a step without fields */
    uint8_t first; /* the first row of its step */
    size_t text;
    uint32_t text_len;
    uint8_t kind;
    int64_t i;
    double r;
} row;

typedef struct pg {
    const tropt_host *host;
    char *conninfo;
    char *password; /* from password_env, or NULL */
    char *secret;   /* the password in conninfo, or NULL (scrubbed from messages) */
    char *schema;   /* as given */
    char *qschema;  /* quoted identifier */
    char *shown;    /* "host=... port=... dbname=... user=..." without the password */
    char *spool_dir;
    int64_t commit_every;
    int64_t commit_interval; /* ms, 0: off */
    int64_t heartbeat_ms;

    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    int thread_running, stop;

    PGconn *conn;
    int prepared_rows[PG_INSERT_STEPS + 1]; /* statement insN prepared on conn */
    int prepared_hb;
    char *sql_insert[PG_INSERT_STEPS + 1];

    /* interned keys (ids valid for the database of conninfo) */
    pkey *keys;
    size_t nkeys, capkeys;
    uint32_t *slots; /* open addressing: key index + 1, 0 = empty */
    size_t nslots;   /* power of two */

    /* the open run */
    int active;
    int64_t run_num; /* tropt_run.id */
    char *run_id;
    char *start_line; /* its run_start event, for the spool */
    size_t start_len;
    int spooling; /* the run goes to the spool */
    double next_beat;
    double retry_at; /* monotonic: no background commit before (after a failure) */

    /* pending steps */
    row *rows;
    size_t nrows, caprows;
    int64_t nsteps;
    double first_at; /* monotonic time of the oldest pending step */
    char *arena;
    size_t alen, acap;

    /* spool */
    char *spool_path;
    int spool_fd;
    int64_t n_spooled;

    char err[1024];
    tev_buf scratch;
} pg;

static atomic_uint spool_seq;

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *xstrdup(pg *p, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = p->host->malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- messages without secrets ----------------------------------------- */

static void scrub_one(char *msg, const char *secret)
{
    if (!secret || !*secret)
        return;
    size_t n = strlen(secret);
    char *at;
    while ((at = strstr(msg, secret)) != NULL) {
        memset(at, '*', n > 3 ? 3 : n);
        if (n > 3)
            memmove(at + 3, at + n, strlen(at + n) + 1);
    }
}

/* Copy a libpq message into p->err (first line kept, trailing newline
 * dropped) with every known secret replaced by "***". */
static const char *set_err(pg *p, const char *what, const char *libpq_msg)
{
    snprintf(p->err, sizeof p->err, "%s%s%s", what, libpq_msg ? ": " : "",
             libpq_msg ? libpq_msg : "");
    size_t n = strlen(p->err);
    while (n && (p->err[n - 1] == '\n' || p->err[n - 1] == ' '))
        p->err[--n] = '\0';
    for (char *c = p->err; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
    scrub_one(p->err, p->secret);
    scrub_one(p->err, p->password);
    return p->err;
}

/* ---- SQL text ---------------------------------------------------------- */

/* The template with every "%1$s" replaced by the quoted schema (host
 * allocator; NULL on allocation failure). */
static char *sql(pg *p, const char *tpl)
{
    tev_buf b;
    tev_buf_init(&b, p->host->realloc, p->host->free);
    const char *s = tpl;
    const char *at;
    int bad = 0;
    while ((at = strstr(s, "%1$s")) != NULL) {
        bad |= tev_buf_append(&b, s, (size_t)(at - s)) | tev_buf_puts(&b, p->qschema);
        s = at + 4;
    }
    bad |= tev_buf_puts(&b, s);
    if (bad) {
        tev_buf_free(&b);
        return NULL;
    }
    return tev_buf_steal(&b);
}

static const char *sqlstate(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* The connection is gone (or was never there): spool rather than fail. */
static int conn_lost(pg *p, const PGresult *r)
{
    if (!p->conn || PQstatus(p->conn) == CONNECTION_BAD)
        return 1;
    const char *st = sqlstate(r);
    return !*st || strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0;
}

/* Run one statement (template with the schema) with text parameters.
 * Returns the result (caller clears) or NULL on allocation failure. */
static PGresult *exec_tpl(pg *p, const char *tpl, int n, const char *const *vals)
{
    char *q = sql(p, tpl);
    if (!q)
        return NULL;
    PGresult *r = n ? PQexecParams(p->conn, q, n, NULL, vals, NULL, NULL, 0) : PQexec(p->conn, q);
    p->host->free(q);
    return r;
}

/* 0 when r succeeded; else -1 with p->err set ("<what>: <cause>"). */
static int res_ok(pg *p, PGresult *r, const char *what)
{
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_COPY_IN)
        return 0;
    set_err(p, what, r ? PQresultErrorMessage(r) : "out of memory");
    return -1;
}

static int exec_ok(pg *p, const char *tpl, int n, const char *const *vals, const char *what)
{
    PGresult *r = exec_tpl(p, tpl, n, vals);
    int rc = res_ok(p, r, what);
    PQclear(r);
    return rc;
}

/* ---- connecting -------------------------------------------------------- */

static void forget_prepared(pg *p)
{
    memset(p->prepared_rows, 0, sizeof p->prepared_rows);
    p->prepared_hb = 0;
}

/* Server notices ("schema already exists, skipping") are not for the user. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Connect (p->conn set on success).  Returns TROPT_OK; TROPT_EBACKEND when
 * the server answered and refused (wrong password, no such database or
 * role): that will not get better by itself; 1 when the server cannot be
 * reached (p->err says why). */
static int connect_db(pg *p)
{
    if (p->conn) {
        PQfinish(p->conn);
        p->conn = NULL;
    }
    forget_prepared(p);
    const char *kw[6];
    const char *val[6];
    int k = 0;
    kw[k] = "connect_timeout"; /* overridden by the conninfo's own */
    val[k++] = "10";
    kw[k] = "fallback_application_name";
    val[k++] = "tropt";
    kw[k] = "dbname";
    val[k++] = p->conninfo;
    if (p->password) {
        kw[k] = "password";
        val[k++] = p->password;
    }
    kw[k] = NULL;
    val[k] = NULL;
    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (!c) {
        set_err(p, "cannot connect", "out of memory");
        return TROPT_ENOMEM;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        const char *m = PQerrorMessage(c);
        set_err(p, "cannot connect", m);
        /* A message from the server itself ("FATAL:") or a password that
         * was needed/used and refused: the server is there and said no. */
        int refused = strstr(m, "FATAL:") != NULL || PQconnectionNeedsPassword(c) ||
                      PQconnectionUsedPassword(c);
        PQfinish(c);
        return refused ? TROPT_EBACKEND : 1;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    p->conn = c;
    return TROPT_OK;
}

/* Create or check the schema.  Returns TROPT_OK, TROPT_EBACKEND (p->err:
 * a newer schema, or SQL refused), or 1 when the connection is gone. */
static int ensure_schema(pg *p)
{
    PGresult *r = exec_tpl(p, PGS_VERSION_GET, 0, NULL);
    int version = 0;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        version = atoi(PQgetvalue(r, 0, 0));
    int lost = !r || (PQresultStatus(r) != PGRES_TUPLES_OK && conn_lost(p, r));
    PQclear(r);
    if (lost) {
        set_err(p, "cannot read the schema version", PQerrorMessage(p->conn));
        return 1;
    }
    if (version == PGS_VERSION)
        return TROPT_OK;
    if (version == 0) {
        /* Create it under the lock; whoever comes second finds it done. */
        const char *v[1] = {p->schema};
        int rc = exec_ok(p, "BEGIN", 0, NULL, "cannot create the schema");
        if (rc == 0)
            rc = exec_ok(p, PGS_LOCK, 1, v, "cannot lock the schema");
        if (rc == 0)
            rc = exec_ok(p, PGS_CREATE_SCHEMA, 0, NULL, "cannot create the schema");
        if (rc == 0) {
            r = exec_tpl(p, PGS_VERSION_GET, 0, NULL);
            rc = res_ok(p, r, "cannot read the schema version");
            if (rc == 0 && PQntuples(r) == 1)
                version = atoi(PQgetvalue(r, 0, 0));
            PQclear(r);
        }
        if (rc == 0 && version == 0) {
            rc = exec_ok(p, PGS_CREATE_V1, 0, NULL, "cannot create the schema");
            if (rc == 0)
                version = PGS_VERSION;
        }
        if (rc == 0)
            rc = exec_ok(p, "COMMIT", 0, NULL, "cannot create the schema");
        if (rc != 0) {
            int gone = PQstatus(p->conn) == CONNECTION_BAD;
            PQclear(PQexec(p->conn, "ROLLBACK"));
            return gone ? 1 : TROPT_EBACKEND;
        }
    }
    if (version > PGS_VERSION) {
        snprintf(p->err, sizeof p->err,
                 "schema %s is version %d, newer than this plugin's version %d: use a newer tropt",
                 p->schema, version, PGS_VERSION);
        return TROPT_EBACKEND;
    }
    return TROPT_OK;
}

/* Connect and check the schema.  TROPT_OK, TROPT_EBACKEND, TROPT_ENOMEM, or
 * 1 when the server cannot be reached (connection closed). */
static int open_store(pg *p)
{
    int rc = connect_db(p);
    if (rc == TROPT_OK)
        rc = ensure_schema(p);
    if (rc != TROPT_OK && p->conn) {
        PQfinish(p->conn);
        p->conn = NULL;
    }
    return rc;
}

/* ---- the pending batch ------------------------------------------------- */

static int arena_put(pg *p, const char *s, size_t n, size_t *off)
{
    if (p->alen + n + 1 > p->acap) {
        size_t cap = p->acap ? p->acap : 4096;
        while (cap < p->alen + n + 1)
            cap *= 2;
        char *a = p->host->realloc(p->arena, cap);
        if (!a)
            return -1;
        p->arena = a;
        p->acap = cap;
    }
    memcpy(p->arena + p->alen, s, n);
    p->arena[p->alen + n] = '\0';
    *off = p->alen;
    p->alen += n + 1;
    return 0;
}

static int push_row(pg *p, const row *r)
{
    if (p->nrows == p->caprows) {
        size_t cap = p->caprows ? 2 * p->caprows : 64;
        row *v = p->host->realloc(p->rows, cap * sizeof *v);
        if (!v)
            return -1;
        p->rows = v;
        p->caprows = cap;
    }
    p->rows[p->nrows++] = *r;
    return 0;
}

/* One field into a row (text copied into the arena). */
static int field_row(pg *p, const tropt_field *f, row *r)
{
    r->kind = K_NULL;
    r->i = 0;
    r->r = 0;
    r->text = 0;
    r->text_len = 0;
    switch (f->type) {
    case TROPT_NULL:
        break;
    case TROPT_BOOL:
        r->kind = K_BOOL;
        r->i = f->v.b ? 1 : 0;
        r->r = (double)r->i;
        break;
    case TROPT_INT:
        r->kind = K_INT;
        r->i = f->v.i;
        r->r = (double)f->v.i;
        break;
    case TROPT_REAL:
        r->kind = K_REAL;
        r->r = f->v.r;
        break;
    case TROPT_STRING: {
        size_t n = strlen(f->v.s);
        if (n > UINT32_MAX || arena_put(p, f->v.s, n, &r->text) != 0)
            return -1;
        r->kind = K_STRING;
        r->text_len = (uint32_t)n;
        break;
    }
    case TROPT_JSON: {
        tev_buf_clear(&p->scratch);
        if (tev_put_json(&p->scratch, f->v.json, p->host->format_real) != 0 ||
            p->scratch.len > UINT32_MAX ||
            arena_put(p, p->scratch.data ? p->scratch.data : "", p->scratch.len, &r->text) != 0)
            return -1;
        r->kind = K_JSON;
        r->text_len = (uint32_t)p->scratch.len;
        break;
    }
    }
    return 0;
}

static void batch_clear(pg *p)
{
    p->nrows = 0;
    p->nsteps = 0;
    p->alen = 0;
}

/* ---- interned keys ----------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The index of key `name`, adding it if new.  0, or -1 out of memory. */
static int key_intern(pg *p, const char *name, uint32_t *index)
{
    uint64_t h = hash_str(name);
    if (p->nslots) {
        for (size_t i = h & (p->nslots - 1);; i = (i + 1) & (p->nslots - 1)) {
            uint32_t e = p->slots[i];
            if (!e)
                break;
            if (p->keys[e - 1].hash == h && strcmp(p->keys[e - 1].name, name) == 0) {
                *index = e - 1;
                return 0;
            }
        }
    }
    if (p->nkeys >= NO_KEY - 1)
        return -1;
    if (2 * (p->nkeys + 1) > p->nslots) {
        size_t ns = p->nslots ? 2 * p->nslots : 64;
        uint32_t *sl = p->host->malloc(ns * sizeof *sl);
        if (!sl)
            return -1;
        memset(sl, 0, ns * sizeof *sl);
        for (size_t k = 0; k < p->nkeys; k++) {
            size_t i = p->keys[k].hash & (ns - 1);
            while (sl[i])
                i = (i + 1) & (ns - 1);
            sl[i] = (uint32_t)k + 1;
        }
        p->host->free(p->slots);
        p->slots = sl;
        p->nslots = ns;
    }
    if (p->nkeys == p->capkeys) {
        size_t cap = p->capkeys ? 2 * p->capkeys : 32;
        pkey *v = p->host->realloc(p->keys, cap * sizeof *v);
        if (!v)
            return -1;
        p->keys = v;
        p->capkeys = cap;
    }
    char *copy = xstrdup(p, name);
    if (!copy)
        return -1;
    p->keys[p->nkeys] = (pkey){copy, h, 0};
    size_t i = h & (p->nslots - 1);
    while (p->slots[i])
        i = (i + 1) & (p->nslots - 1);
    p->slots[i] = (uint32_t)p->nkeys + 1;
    *index = (uint32_t)p->nkeys++;
    return 0;
}

/* Give every key of the pending rows its id in tropt_key.  0, or -1 with
 * p->err (and *lost when the connection is gone). */
static int resolve_keys(pg *p, int *lost)
{
    char *q = NULL;
    for (size_t k = 0; k < p->nrows; k++) {
        uint32_t ki = p->rows[k].key;
        if (ki == NO_KEY || p->keys[ki].id)
            continue;
        if (!q && !(q = sql(p, PGS_KEY_ID))) {
            set_err(p, "out of memory", NULL);
            return -1;
        }
        const char *v[1] = {p->keys[ki].name};
        for (int attempt = 0; attempt < 100 && !p->keys[ki].id; attempt++) {
            PGresult *r = PQexecParams(p->conn, q, 1, NULL, v, NULL, NULL, 0);
            if (res_ok(p, r, "cannot write a key") != 0) {
                *lost = conn_lost(p, r);
                PQclear(r);
                p->host->free(q);
                return -1;
            }
            if (PQntuples(r) >= 1)
                p->keys[ki].id = atoi(PQgetvalue(r, 0, 0));
            PQclear(r);
        }
        if (!p->keys[ki].id) {
            set_err(p, "cannot write a key", "no id after 100 attempts");
            p->host->free(q);
            return -1;
        }
    }
    p->host->free(q);
    return 0;
}

/* ---- writing rows ------------------------------------------------------ */

static void put_be64(char *b, uint64_t v)
{
    for (int k = 7; k >= 0; k--) {
        b[k] = (char)(v & 0xff);
        v >>= 8;
    }
}

static void put_be32(char *b, int32_t v)
{
    uint32_t u = (uint32_t)v;
    b[0] = (char)(u >> 24);
    b[1] = (char)(u >> 16);
    b[2] = (char)(u >> 8);
    b[3] = (char)u;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static int buf_be16(tev_buf *b, uint16_t v)
{
    char c[2] = {(char)(v >> 8), (char)(v & 0xff)};
    return tev_buf_append(b, c, 2);
}

static int buf_be32(tev_buf *b, int32_t v)
{
    char c[4];
    put_be32(c, v);
    return tev_buf_append(b, c, 4);
}

static int buf_be64(tev_buf *b, uint64_t v)
{
    char c[8];
    put_be64(c, v);
    return tev_buf_append(b, c, 8);
}

/* The end of the step whose first row is `first`. */
static size_t step_end(const pg *p, size_t first)
{
    size_t e = first + 1;
    while (e < p->nrows && !p->rows[e].first)
        e++;
    return e;
}

/* Append, in PostgreSQL's binary array format, column `col` of the step's
 * rows [first, end): 0 key ids (int4[]), 1 kinds (int2[]), 2 r (float8[]),
 * 3 i (int8[]), 4 t (text[]); absent values are NULL elements. */
static int put_array(pg *p, tev_buf *b, size_t first, size_t end, int col)
{
    static const int32_t elem[5] = {23, 21, 701, 20, 25};
    int32_t n = 0;
    int nulls = 0;
    for (size_t k = first; k < end; k++) {
        const row *w = &p->rows[k];
        if (w->key == NO_KEY)
            continue;
        n++;
        nulls |= (col == 2 && !HAS_R(w)) || (col == 3 && !HAS_I(w)) || (col == 4 && !HAS_T(w));
    }
    int bad = buf_be32(b, n ? 1 : 0) | buf_be32(b, nulls) | buf_be32(b, elem[col]);
    if (n)
        bad |= buf_be32(b, n) | buf_be32(b, 1);
    for (size_t k = first; k < end && !bad; k++) {
        const row *w = &p->rows[k];
        if (w->key == NO_KEY)
            continue;
        switch (col) {
        case 0:
            bad |= buf_be32(b, 4) | buf_be32(b, p->keys[w->key].id);
            break;
        case 1:
            bad |= buf_be32(b, 2) | buf_be16(b, w->kind);
            break;
        case 2:
            bad |= HAS_R(w) ? buf_be32(b, 8) | buf_be64(b, dbits(w->r)) : buf_be32(b, -1);
            break;
        case 3:
            bad |= HAS_I(w) ? buf_be32(b, 8) | buf_be64(b, (uint64_t)w->i) : buf_be32(b, -1);
            break;
        default:
            bad |= HAS_T(w) ? buf_be32(b, (int32_t)w->text_len) |
                                  tev_buf_append(b, p->arena + w->text, w->text_len)
                            : buf_be32(b, -1);
        }
    }
    return bad;
}

/* Parameters of one step: step time keys kinds r i t (binary). */
#define PG_STEP_PARAMS 7

/* Insert the steps starting at rows firsts[0..n) with ON CONFLICT DO NOTHING,
 * n <= PG_INSERT_STEPS, in one prepared statement with binary parameters.
 * Returns the result (NULL on allocation failure). */
static PGresult *insert_steps(pg *p, const size_t *firsts, size_t n)
{
    char name[16];
    snprintf(name, sizeof name, "ins%zu", n);
    if (!p->prepared_rows[n]) {
        if (!p->sql_insert[n]) {
            tev_buf b;
            tev_buf_init(&b, p->host->realloc, p->host->free);
            int bad = tev_buf_puts(&b, PGS_LOG_INSERT);
            for (size_t k = 0; k < n; k++) {
                size_t a = 2 + k * PG_STEP_PARAMS;
                bad |= tev_buf_printf(&b, "%s($1,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu)", k ? "," : "",
                                      a, a + 1, a + 2, a + 3, a + 4, a + 5, a + 6);
            }
            bad |= tev_buf_puts(&b, PGS_LOG_CONFLICT);
            char *tpl = bad ? NULL : tev_buf_steal(&b);
            tev_buf_free(&b);
            if (!tpl)
                return NULL;
            p->sql_insert[n] = sql(p, tpl);
            p->host->free(tpl);
            if (!p->sql_insert[n])
                return NULL;
        }
        Oid types[1 + PG_INSERT_STEPS * PG_STEP_PARAMS];
        types[0] = 23; /* int4 run */
        for (size_t k = 0; k < n; k++) {
            Oid *t = &types[1 + k * PG_STEP_PARAMS];
            t[0] = 20;   /* int8 step */
            t[1] = 701;  /* float8 time */
            t[2] = 1007; /* int4[] keys */
            t[3] = 1005; /* int2[] kinds */
            t[4] = 1022; /* float8[] r */
            t[5] = 1016; /* int8[] i */
            t[6] = 1009; /* text[] t */
        }
        PGresult *r =
            PQprepare(p->conn, name, p->sql_insert[n], (int)(1 + n * PG_STEP_PARAMS), types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return r;
        PQclear(r);
        p->prepared_rows[n] = 1;
    }
    enum { NP = 1 + PG_INSERT_STEPS * PG_STEP_PARAMS };
    const char *vals[NP];
    int lens[NP];
    int fmts[NP];
    size_t offs[NP];
    /* Every parameter's bytes in one buffer (pointers taken at the end, as
     * the buffer may move while it grows). */
    tev_buf *b = &p->scratch;
    tev_buf_clear(b);
    int bad = 0;
    offs[0] = b->len;
    bad |= buf_be32(b, (int32_t)p->run_num);
    lens[0] = 4;
    for (size_t k = 0; k < n && !bad; k++) {
        size_t first = firsts[k], end = step_end(p, first);
        size_t a = 1 + k * PG_STEP_PARAMS;
        offs[a] = b->len;
        bad |= buf_be64(b, (uint64_t)p->rows[first].step);
        offs[a + 1] = b->len;
        bad |= buf_be64(b, dbits(p->rows[first].time));
        for (int col = 0; col < 5; col++) {
            offs[a + 2 + col] = b->len;
            bad |= put_array(p, b, first, end, col);
        }
    }
    if (bad)
        return NULL;
    size_t np = 1 + n * PG_STEP_PARAMS;
    for (size_t j = 0; j < np; j++) {
        vals[j] = b->data + offs[j];
        if (j > 0)
            lens[j] = (int)((j + 1 < np ? offs[j + 1] : b->len) - offs[j]);
        fmts[j] = 1;
    }
    lens[0] = 4;
    return PQexecPrepared(p->conn, name, (int)np, vals, lens, fmts, 0);
}

/* The pending steps through the ON CONFLICT path: one statement in
 * autocommit when they fit, else a transaction.  0, or -1 with p->err set;
 * *lost set when the connection is gone. */
static int write_insert(pg *p, int *lost)
{
    size_t nsteps = 0;
    for (size_t k = 0; k < p->nrows; k = step_end(p, k))
        nsteps++;
    int multi = nsteps > PG_INSERT_STEPS;
    PGresult *r;
    if (multi) {
        r = PQexec(p->conn, "BEGIN");
        if (res_ok(p, r, "cannot write") != 0) {
            *lost = conn_lost(p, r);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    size_t firsts[PG_INSERT_STEPS];
    size_t k = 0;
    while (k < p->nrows) {
        size_t n = 0;
        while (k < p->nrows && n < PG_INSERT_STEPS) {
            firsts[n++] = k;
            k = step_end(p, k);
        }
        r = insert_steps(p, firsts, n);
        if (res_ok(p, r, "cannot write") != 0) {
            *lost = conn_lost(p, r);
            PQclear(r);
            if (multi)
                PQclear(PQexec(p->conn, "ROLLBACK"));
            return -1;
        }
        PQclear(r);
    }
    if (multi) {
        r = PQexec(p->conn, "COMMIT");
        if (res_ok(p, r, "cannot write") != 0) {
            *lost = conn_lost(p, r);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    return 0;
}

/* Append one array field of a COPY tuple: its length, then the array. */
static int copy_array(pg *p, tev_buf *b, size_t first, size_t end, int col)
{
    size_t at = b->len;
    if (buf_be32(b, 0) != 0 || put_array(p, b, first, end, col) != 0)
        return -1;
    put_be32(b->data + at, (int32_t)(b->len - at - 4));
    return 0;
}

/* The pending steps with one binary COPY in a transaction.  0; 1 when a step
 * is already stored (rolled back: use write_insert); -1 with p->err. */
static int write_copy(pg *p, int *lost)
{
    PGresult *r = PQexec(p->conn, "BEGIN");
    if (res_ok(p, r, "cannot write") != 0) {
        *lost = conn_lost(p, r);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    char *q = sql(p, PGS_LOG_COPY);
    r = q ? PQexec(p->conn, q) : NULL;
    p->host->free(q);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        res_ok(p, r, "cannot write");
        *lost = conn_lost(p, r);
        PQclear(r);
        PQclear(PQexec(p->conn, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    tev_buf *b = &p->scratch;
    tev_buf_clear(b);
    int bad = tev_buf_append(b, "PGCOPY\n\377\r\n\0", 11) | buf_be32(b, 0) | buf_be32(b, 0);
    int sent_ok = 1;
    for (size_t k = 0; k < p->nrows && !bad;) {
        size_t end = step_end(p, k);
        const row *w = &p->rows[k];
        bad |= buf_be16(b, 8) | buf_be32(b, 4) | buf_be32(b, (int32_t)p->run_num) | buf_be32(b, 8) |
               buf_be64(b, (uint64_t)w->step) | buf_be32(b, 8) | buf_be64(b, dbits(w->time));
        for (int col = 0; col < 5 && !bad; col++)
            bad |= copy_array(p, b, k, end, col);
        if (!bad && b->len >= (1u << 20)) {
            sent_ok &= PQputCopyData(p->conn, b->data, (int)b->len) == 1;
            tev_buf_clear(b);
        }
        k = end;
    }
    bad |= buf_be16(b, 0xffff);
    if (!bad && b->len)
        sent_ok &= PQputCopyData(p->conn, b->data, (int)b->len) == 1;
    tev_buf_clear(b);
    PQputCopyEnd(p->conn, bad ? "out of memory" : NULL);
    r = PQgetResult(p->conn);
    int rc = res_ok(p, r, "cannot write");
    int dup = rc != 0 && strcmp(sqlstate(r), "23505") == 0;
    if (rc != 0)
        *lost = conn_lost(p, r) || !sent_ok;
    PQclear(r);
    while ((r = PQgetResult(p->conn)) != NULL)
        PQclear(r);
    if (rc == 0) {
        r = PQexec(p->conn, "COMMIT");
        rc = res_ok(p, r, "cannot write");
        if (rc != 0)
            *lost = conn_lost(p, r);
        PQclear(r);
        return rc;
    }
    PQclear(PQexec(p->conn, "ROLLBACK"));
    return dup ? 1 : -1;
}

/* ---- spool ------------------------------------------------------------- */

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int spool_open(pg *p)
{
    if (p->spool_fd >= 0)
        return 0;
    if (mkdir(p->spool_dir, 0777) != 0 && errno != EEXIST)
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char name[96];
    snprintf(name, sizeof name, "%04d%02d%02dT%02d%02d%02d.%06ldZ-%ld-%u.jsonl", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
             (long)getpid(), atomic_fetch_add(&spool_seq, 1));
    size_t n = strlen(p->spool_dir) + strlen(name) + 2;
    char *path = p->host->malloc(n);
    if (!path) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(path, n, "%s/%s", p->spool_dir, name);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        p->host->free(path);
        errno = e;
        return -1;
    }
    p->spool_fd = fd;
    p->spool_path = path;
    return 0;
}

static int spool_bytes(pg *p, const char *s, size_t n)
{
    if (spool_open(p) != 0 || write_all(p->spool_fd, s, n) != 0) {
        snprintf(p->err, sizeof p->err, "cannot write the spool in %s: %s", p->spool_dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* Spool the pending steps (rows grouped back into log events). */
static int spool_pending(pg *p)
{
    size_t k = 0;
    tropt_field *f = NULL;
    size_t capf = 0;
    int rc = 0;
    while (k < p->nrows && rc == 0) {
        size_t end = step_end(p, k);
        size_t nf = 0;
        if (end - k > capf) {
            tropt_field *g = p->host->realloc(f, (end - k) * sizeof *g);
            if (!g) {
                rc = -1;
                snprintf(p->err, sizeof p->err, "out of memory");
                break;
            }
            f = g;
            capf = end - k;
        }
        json_t *js[64];
        size_t njs = 0;
        for (size_t j = k; j < end; j++) {
            const row *w = &p->rows[j];
            if (w->key == NO_KEY)
                continue;
            tropt_field *x = &f[nf++];
            x->key = p->keys[w->key].name;
            switch (w->kind) {
            case K_NULL:
                x->type = TROPT_NULL;
                break;
            case K_BOOL:
                x->type = TROPT_BOOL;
                x->v.b = (int)w->i;
                break;
            case K_INT:
                x->type = TROPT_INT;
                x->v.i = w->i;
                break;
            case K_REAL:
                x->type = TROPT_REAL;
                x->v.r = w->r;
                break;
            case K_STRING:
                x->type = TROPT_STRING;
                x->v.s = p->arena + w->text;
                break;
            default: {
                json_t *j2 = njs < 64 ? json_loads(p->arena + w->text,
                                                   JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                                      : NULL;
                if (j2) {
                    js[njs++] = j2;
                    x->type = TROPT_JSON;
                    x->v.json = j2;
                } else {
                    x->type = TROPT_STRING;
                    x->v.s = p->arena + w->text;
                }
            }
            }
        }
        tev_buf_clear(&p->scratch);
        if (tev_encode_log(&p->scratch, p->run_id, p->rows[k].step, p->rows[k].time, f, nf,
                           p->host->format_real) != 0) {
            snprintf(p->err, sizeof p->err, "out of memory");
            rc = -1;
        } else {
            rc = spool_bytes(p, p->scratch.data, p->scratch.len);
            if (rc == 0)
                p->n_spooled++;
        }
        for (size_t j = 0; j < njs; j++)
            json_decref(js[j]);
        k = end;
    }
    p->host->free(f);
    if (rc == 0)
        batch_clear(p);
    return rc;
}

/* The run goes to the spool from now on: its run_start, then what is
 * pending.  Returns TROPT_OK or TROPT_EBACKEND. */
static int start_spooling(pg *p, const char *why)
{
    if (!p->spooling) {
        p->spooling = 1;
        if (p->conn) {
            PQfinish(p->conn);
            p->conn = NULL;
        }
        if (spool_bytes(p, p->start_line, p->start_len) != 0)
            return p->host->error(TROPT_EBACKEND, "pg: %s; %s", why, p->err);
        p->n_spooled++;
        p->host->log(TROPT_LEVEL_WARNING, "pg: %s; run %s is spooled to %s", why, p->run_id,
                     p->spool_path);
    }
    if (spool_pending(p) != 0)
        return p->host->error(TROPT_EBACKEND, "pg: %s", p->err);
    return TROPT_OK;
}

/* ---- commit ------------------------------------------------------------ */

/* Write the pending steps.  mu held.  TROPT_OK (written, or spooled because
 * the server is gone), or an error code (set through host->error from a
 * hook; from the background thread only p->err). */
static int commit(pg *p)
{
    if (p->nrows == 0)
        return TROPT_OK;
    if (p->spooling)
        return start_spooling(p, "the server is gone");
    for (int attempt = 0; attempt < 2; attempt++) {
        int lost = 0;
        int rc = -1;
        if (p->conn) {
            rc = resolve_keys(p, &lost);
            if (rc == 0)
                rc = p->nsteps > PG_INSERT_STEPS ? write_copy(p, &lost) : 1;
            if (rc == 1)
                rc = write_insert(p, &lost);
        } else {
            lost = 1;
        }
        if (rc == 0) {
            batch_clear(p);
            return TROPT_OK;
        }
        if (!lost)
            return p->host->error(TROPT_EBACKEND,
                                  "pg: %s (%" PRId64 " step(s) kept for the next commit)", p->err,
                                  p->nsteps);
        /* The connection is gone: one fresh connection, else the spool. */
        if (attempt == 0 && open_store(p) == TROPT_OK)
            continue;
        char why[1200];
        snprintf(why, sizeof why, "lost the server %s (%s)", p->shown, p->err);
        return start_spooling(p, why);
    }
    return TROPT_OK;
}

/* ---- background thread ------------------------------------------------- */

static void heartbeat_now(pg *p)
{
    if (!p->conn || p->spooling || !p->active)
        return;
    if (!p->prepared_hb) {
        char *q = sql(p, PGS_HEARTBEAT);
        PGresult *r = q ? PQprepare(p->conn, "hb", q, 1, NULL) : NULL;
        p->host->free(q);
        p->prepared_hb = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!p->prepared_hb)
            return;
    }
    const char *v[1] = {p->run_id};
    PQclear(PQexecPrepared(p->conn, "hb", 1, v, NULL, NULL, 0));
}

static void *background(void *arg)
{
    pg *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        double now = monotonic();
        double wait = 3600;
        if (p->active && !p->spooling) {
            if (now >= p->next_beat) {
                heartbeat_now(p);
                p->next_beat = now + (double)p->heartbeat_ms / 1000.0;
            }
            wait = p->next_beat - now;
        }
        if (p->commit_interval > 0 && p->nrows > 0) {
            double due = p->first_at + (double)p->commit_interval / 1000.0;
            if (due < p->retry_at)
                due = p->retry_at;
            if (now >= due) {
                /* A failed commit keeps the steps; try again in a second
                 * (the next log call also does). */
                if (commit(p) != TROPT_OK)
                    p->retry_at = monotonic() + 1.0;
                continue;
            }
            if (due - now < wait)
                wait = due - now;
        }
        if (wait < 0.001)
            wait = 0.001;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + wait;
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&p->wake, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- hooks ------------------------------------------------------------- */

static int valid_schema(const char *s)
{
    if (!*s || strlen(s) > 63)
        return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || *c == '_' || (c != s && *c >= '0' && *c <= '9')))
            return 0;
    return 1;
}

/* "host=... port=... dbname=... user=..." from the conninfo, without the
 * password (the password goes to p->secret for scrubbing). */
static int describe(pg *p)
{
    char *perr = NULL;
    PQconninfoOption *o = PQconninfoParse(p->conninfo, &perr);
    if (!o) {
        PQfreemem(perr);
        return -1;
    }
    tev_buf b;
    tev_buf_init(&b, p->host->realloc, p->host->free);
    int bad = 0;
    static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user", "service"};
    for (PQconninfoOption *x = o; x->keyword; x++) {
        if (strcmp(x->keyword, "password") == 0 && x->val && *x->val) {
            p->secret = xstrdup(p, x->val);
            bad |= !p->secret;
        }
        for (size_t k = 0; k < sizeof shown / sizeof *shown; k++)
            if (strcmp(x->keyword, shown[k]) == 0 && x->val && *x->val)
                bad |= tev_buf_printf(&b, "%s%s=%s", b.len ? " " : "", x->keyword, x->val);
    }
    PQconninfoFree(o);
    if (!bad && b.len == 0)
        bad |= tev_buf_puts(&b, "(libpq defaults)");
    p->shown = bad ? NULL : tev_buf_steal(&b);
    tev_buf_free(&b);
    return p->shown ? 0 : -1;
}

static void pg_destroy(void *self);

static int pg_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    pg *p = host->malloc(sizeof *p);
    if (!p)
        return host->error(TROPT_ENOMEM, "pg: out of memory");
    memset(p, 0, sizeof *p);
    p->host = host;
    p->spool_fd = -1;
    tev_buf_init(&p->scratch, host->realloc, host->free);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &ca);
    pthread_condattr_destroy(&ca);
    p->commit_every = opts[O_COMMIT_EVERY].i;
    p->commit_interval = opts[O_COMMIT_INTERVAL].i;
    p->heartbeat_ms = opts[O_HEARTBEAT].i;
    /* Only commit_interval given: no step-count bound (as sqlite). */
    if (!opts[O_COMMIT_EVERY].is_set && opts[O_COMMIT_INTERVAL].is_set && p->commit_interval > 0)
        p->commit_every = INT64_MAX;
    p->conninfo = xstrdup(p, opts[O_CONNINFO].text ? opts[O_CONNINFO].text : "");
    p->schema = xstrdup(p, opts[O_SCHEMA].text);
    p->spool_dir = xstrdup(p, opts[O_SPOOL_DIR].text);
    int rc = TROPT_OK;
    if (!p->conninfo || !p->schema || !p->spool_dir) {
        rc = host->error(TROPT_ENOMEM, "pg: out of memory");
        goto fail;
    }
    if (!valid_schema(p->schema)) {
        rc = host->error(TROPT_EINVAL,
                         "pg: schema: '%s' is not a plain name ([a-z_][a-z0-9_]*, at most 63)",
                         p->schema);
        goto fail;
    }
    size_t qn = strlen(p->schema) + 3;
    p->qschema = host->malloc(qn);
    if (!p->qschema) {
        rc = host->error(TROPT_ENOMEM, "pg: out of memory");
        goto fail;
    }
    snprintf(p->qschema, qn, "\"%s\"", p->schema);
    if (opts[O_PASSWORD_ENV].text) {
        const char *pw = getenv(opts[O_PASSWORD_ENV].text);
        if (!pw || !*pw) {
            rc = host->error(TROPT_EINVAL,
                             "pg: password_env: environment variable %s is not set or empty",
                             opts[O_PASSWORD_ENV].text);
            goto fail;
        }
        p->password = xstrdup(p, pw);
        if (!p->password) {
            rc = host->error(TROPT_ENOMEM, "pg: out of memory");
            goto fail;
        }
    }
    if (describe(p) != 0) {
        rc =
            host->error(TROPT_EINVAL, "pg: conninfo is not a valid libpq connection string or URI");
        goto fail;
    }
    int c = open_store(p);
    if (c == 1) {
        host->log(TROPT_LEVEL_WARNING,
                  "pg: cannot reach %s (%s); runs will be spooled to %s until it is back", p->shown,
                  p->err, p->spool_dir);
    } else if (c != TROPT_OK) {
        rc = host->error(c, "pg: %s: %s", p->shown, p->err);
        goto fail;
    }
    if (pthread_create(&p->thread, NULL, background, p) != 0) {
        rc = host->error(TROPT_EBACKEND, "pg: cannot start the background thread");
        goto fail;
    }
    p->thread_running = 1;
    *self = p;
    return TROPT_OK;
fail:
    pg_destroy(p);
    return rc;
}

/* Write params or summary rows in the open transaction. */
static int put_kv(pg *p, const char *tpl, const tropt_field *f, size_t n)
{
    char *q = sql(p, tpl);
    if (!q)
        return -1;
    size_t ql = strlen(q);
    char *full = p->host->malloc(ql + 64);
    if (!full) {
        p->host->free(q);
        return -1;
    }
    snprintf(full, ql + 64, "%s VALUES ($1, $2, $3::int2, $4::float8, $5::int8, $6)", q);
    p->host->free(q);
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        row w;
        size_t mark = p->alen;
        if (field_row(p, &f[k], &w) != 0) {
            set_err(p, "out of memory", NULL);
            rc = -1;
            break;
        }
        char kind[8], rtxt[40], itxt[32];
        snprintf(kind, sizeof kind, "%d", w.kind);
        if (w.kind == K_REAL && isnan(w.r))
            snprintf(rtxt, sizeof rtxt, "NaN");
        else if (isinf(w.r))
            snprintf(rtxt, sizeof rtxt, "%sInfinity", w.r < 0 ? "-" : "");
        else
            p->host->format_real(rtxt, sizeof rtxt, w.r);
        snprintf(itxt, sizeof itxt, "%" PRId64, w.i);
        int num = w.kind == K_BOOL || w.kind == K_INT || w.kind == K_REAL;
        int in = w.kind == K_BOOL || w.kind == K_INT;
        int tx = w.kind == K_STRING || w.kind == K_JSON;
        const char *v[6] = {p->run_id,         f[k].key,         kind,
                            num ? rtxt : NULL, in ? itxt : NULL, tx ? p->arena + w.text : NULL};
        PGresult *r = PQexecParams(p->conn, full, 6, NULL, v, NULL, NULL, 0);
        rc = res_ok(p, r, "cannot write");
        PQclear(r);
        p->alen = mark;
    }
    p->host->free(full);
    return rc;
}

static void free_run(pg *p)
{
    p->host->free(p->run_id);
    p->run_id = NULL;
    p->host->free(p->start_line);
    p->start_line = NULL;
    p->active = 0;
    p->spooling = 0;
    p->n_spooled = 0;
    batch_clear(p);
    if (p->spool_fd >= 0)
        close(p->spool_fd);
    p->spool_fd = -1;
    p->host->free(p->spool_path);
    p->spool_path = NULL;
}

/* The run's row, its params, and stale runs marked, in one transaction.
 * 0, or -1 (p->err; *lost when the connection is gone). */
static int write_start(pg *p, const tropt_run *run, const json_t *config, const tropt_field *params,
                       size_t n_params, int *lost)
{
    char started[40], pid[32], stale[40];
    p->host->format_real(started, sizeof started, run->started_at);
    snprintf(pid, sizeof pid, "%" PRId64, run->pid);
    double bound = 4.0 * (double)p->heartbeat_ms / 1000.0;
    if (bound < 2.0)
        bound = 2.0;
    p->host->format_real(stale, sizeof stale, bound);
    tev_buf cfg;
    tev_buf_init(&cfg, p->host->realloc, p->host->free);
    if (config && tev_put_json(&cfg, config, p->host->format_real) != 0) {
        tev_buf_free(&cfg);
        set_err(p, "out of memory", NULL);
        return -1;
    }
    const char *v[7] = {run->run_id, run->experiment,
                        started,     run->host,
                        pid,         config ? (cfg.data ? cfg.data : "{}") : NULL,
                        stale};
    const char *one[1] = {run->run_id};
    int rc = exec_ok(p, "BEGIN", 0, NULL, "cannot start the run");
    if (rc == 0)
        rc = exec_ok(p, PGS_MARK_STALE, 0, NULL, "cannot mark crashed runs");
    if (rc == 0) {
        PGresult *r = exec_tpl(p, PGS_RUN_UPSERT, 7, v);
        rc = res_ok(p, r, "cannot start the run");
        if (rc == 0 && PQntuples(r) == 1)
            p->run_num = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    if (rc == 0)
        rc = exec_ok(p, PGS_PARAM_CLEAR, 1, one, "cannot write params");
    if (rc == 0)
        rc = put_kv(p, PGS_PARAM_INSERT, params, n_params);
    if (rc == 0)
        rc = exec_ok(p, "COMMIT", 0, NULL, "cannot start the run");
    tev_buf_free(&cfg);
    if (rc != 0) {
        *lost = PQstatus(p->conn) == CONNECTION_BAD;
        PQclear(PQexec(p->conn, "ROLLBACK"));
    }
    return rc;
}

static int pg_init(void *self, const tropt_run *run, const json_t *config,
                   const tropt_field *params, size_t n_params)
{
    pg *p = self;
    pthread_mutex_lock(&p->mu);
    free_run(p);
    int rc = TROPT_OK;
    p->run_id = xstrdup(p, run->run_id);
    tev_buf b;
    tev_buf_init(&b, p->host->realloc, p->host->free);
    if (!p->run_id || tev_encode_run_start(&b, run, config, p->host->format_real) != 0) {
        tev_buf_free(&b);
        free_run(p);
        pthread_mutex_unlock(&p->mu);
        return p->host->error(TROPT_ENOMEM, "pg: out of memory");
    }
    p->start_len = b.len;
    p->start_line = tev_buf_steal(&b);
    p->active = 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        int c = p->conn ? TROPT_OK : open_store(p);
        if (c == TROPT_OK) {
            int lost = 0;
            if (write_start(p, run, config, params, n_params, &lost) == 0) {
                p->next_beat = monotonic() + (double)p->heartbeat_ms / 1000.0;
                pthread_cond_signal(&p->wake);
                pthread_mutex_unlock(&p->mu);
                return TROPT_OK;
            }
            if (!lost) {
                rc = p->host->error(TROPT_EBACKEND, "pg: %s: %s", p->shown, p->err);
                free_run(p);
                pthread_mutex_unlock(&p->mu);
                return rc;
            }
            PQfinish(p->conn);
            p->conn = NULL;
            continue;
        }
        if (c != 1) {
            rc = p->host->error(c, "pg: %s: %s", p->shown, p->err);
            free_run(p);
            pthread_mutex_unlock(&p->mu);
            return rc;
        }
        break;
    }
    char why[1200];
    snprintf(why, sizeof why, "cannot reach %s (%s)", p->shown, p->err);
    rc = start_spooling(p, why);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int pg_log(void *self, const tropt_run *run, int64_t step, double time,
                  const tropt_field *fields, size_t n)
{
    pg *p = self;
    (void)run;
    pthread_mutex_lock(&p->mu);
    if (p->spooling) {
        tev_buf_clear(&p->scratch);
        int rc = TROPT_OK;
        if (tev_encode_log(&p->scratch, p->run_id, step, time, fields, n, p->host->format_real) !=
            0)
            rc = p->host->error(TROPT_ENOMEM, "pg: out of memory");
        else if (spool_bytes(p, p->scratch.data, p->scratch.len) != 0)
            rc = p->host->error(TROPT_EBACKEND, "pg: %s", p->err);
        else
            p->n_spooled++;
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    if (p->nrows >= PG_MAX_PENDING_ROWS * 2) {
        pthread_mutex_unlock(&p->mu);
        return p->host->error(TROPT_EBACKEND,
                              "pg: %s (too many steps pending; step %" PRId64 " refused)", p->err,
                              step);
    }
    size_t nrows0 = p->nrows, alen0 = p->alen;
    int bad = 0;
    for (size_t k = 0; k < n && !bad; k++) {
        row w;
        w.step = step;
        w.time = time;
        w.first = k == 0;
        bad = key_intern(p, fields[k].key, &w.key) != 0 || field_row(p, &fields[k], &w) != 0 ||
              push_row(p, &w) != 0;
    }
    if (!bad && n == 0) {
        row w = {.step = step, .time = time, .key = NO_KEY, .first = 1, .kind = K_NULL};
        bad = push_row(p, &w) != 0;
    }
    if (bad) {
        p->nrows = nrows0;
        p->alen = alen0;
        pthread_mutex_unlock(&p->mu);
        return p->host->error(TROPT_ENOMEM, "pg: out of memory");
    }
    if (p->nsteps++ == 0)
        p->first_at = monotonic();
    int rc = TROPT_OK;
    if (p->nsteps >= p->commit_every || p->nrows >= PG_MAX_PENDING_ROWS ||
        (p->commit_interval > 0 &&
         monotonic() - p->first_at >= (double)p->commit_interval / 1000.0))
        rc = commit(p);
    else if (p->commit_interval > 0 && p->nsteps == 1)
        pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int spool_sync(pg *p)
{
    if (p->spool_fd >= 0 && fsync(p->spool_fd) != 0)
        return p->host->error(TROPT_EBACKEND, "pg: cannot sync the spool %s: %s", p->spool_path,
                              strerror(errno));
    return TROPT_OK;
}

static void warn_spooled(pg *p)
{
    p->host->log(TROPT_LEVEL_WARNING,
                 "pg: %" PRId64 " events of run %s could not be written to %s and are safe in the "
                 "spool %s; send them with: tropt replay %s --tracker 'pg:conninfo=\"%s\"%s%s' "
                 "(give the password as before: PGPASSWORD, .pgpass or password_env)",
                 p->n_spooled, p->run_id, p->shown, p->spool_path ? p->spool_path : "",
                 p->spool_dir, p->shown, strcmp(p->schema, "tropt") ? ",schema=" : "",
                 strcmp(p->schema, "tropt") ? p->schema : "");
}

static int pg_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                     const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    pg *p = self;
    pthread_mutex_lock(&p->mu);
    int rc = commit(p);
    if (rc != TROPT_OK) {
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    if (!p->spooling) {
        char ended[40];
        p->host->format_real(ended, sizeof ended, ended_at);
        const char *v[3] = {run->run_id, status, ended};
        const char *one[1] = {run->run_id};
        int e = exec_ok(p, "BEGIN", 0, NULL, "cannot finish the run");
        if (e == 0)
            e = exec_ok(p, PGS_SUMMARY_CLEAR, 1, one, "cannot write the summary");
        if (e == 0)
            e = put_kv(p, PGS_SUMMARY_INSERT, flat, n_flat);
        if (e == 0)
            e = exec_ok(p, PGS_RUN_END, 3, v, "cannot finish the run");
        if (e == 0)
            e = exec_ok(p, "COMMIT", 0, NULL, "cannot finish the run");
        if (e != 0) {
            int lost = PQstatus(p->conn) == CONNECTION_BAD;
            PQclear(PQexec(p->conn, "ROLLBACK"));
            if (!lost) {
                rc = p->host->error(TROPT_EBACKEND, "pg: %s: %s", p->shown, p->err);
                pthread_mutex_unlock(&p->mu);
                return rc;
            }
            char why[1200];
            snprintf(why, sizeof why, "lost the server %s (%s)", p->shown, p->err);
            rc = start_spooling(p, why);
            if (rc != TROPT_OK) {
                pthread_mutex_unlock(&p->mu);
                return rc;
            }
        }
    }
    if (p->spooling) {
        tev_buf_clear(&p->scratch);
        if (tev_encode_run_end(&p->scratch, p->run_id, ended_at, status, summary,
                               p->host->format_real) != 0)
            rc = p->host->error(TROPT_ENOMEM, "pg: out of memory");
        else if (spool_bytes(p, p->scratch.data, p->scratch.len) != 0)
            rc = p->host->error(TROPT_EBACKEND, "pg: %s", p->err);
        else {
            p->n_spooled++;
            rc = spool_sync(p);
        }
        if (rc == TROPT_OK)
            warn_spooled(p);
    }
    if (rc == TROPT_OK)
        free_run(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int pg_flush(void *self)
{
    pg *p = self;
    pthread_mutex_lock(&p->mu);
    int rc = commit(p);
    if (rc == TROPT_OK)
        rc = spool_sync(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void pg_destroy(void *self)
{
    pg *p = self;
    if (!p)
        return;
    if (p->thread_running) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    free_run(p);
    if (p->conn)
        PQfinish(p->conn);
    for (size_t k = 0; k <= PG_INSERT_STEPS; k++)
        p->host->free(p->sql_insert[k]);
    if (p->password)
        memset(p->password, 0, strlen(p->password));
    if (p->secret)
        memset(p->secret, 0, strlen(p->secret));
    if (p->conninfo)
        memset(p->conninfo, 0, strlen(p->conninfo));
    p->host->free(p->password);
    p->host->free(p->secret);
    p->host->free(p->conninfo);
    p->host->free(p->schema);
    p->host->free(p->qschema);
    p->host->free(p->shown);
    p->host->free(p->spool_dir);
    p->host->free(p->rows);
    p->host->free(p->arena);
    for (size_t k = 0; k < p->nkeys; k++)
        p->host->free(p->keys[k].name);
    p->host->free(p->keys);
    p->host->free(p->slots);
    tev_buf_free(&p->scratch);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    p->host->free(p);
}

static const tropt_plugin pg_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "pg",
    .description = "PostgreSQL (libpq): the runs of many machines in one store, spooled while "
                   "the server is gone",
    .options = pg_options,
    .create = pg_create,
    .init = pg_init,
    .log = pg_log,
    .finish = pg_finish,
    .flush = pg_flush,
    .destroy = pg_destroy,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &pg_plugin;
}
