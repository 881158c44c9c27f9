/* plugins/pg/pg_conn.c - messages without secrets, SQL text, connecting, the schema. */
#include "pg_priv.h"

double pg_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- messages without secrets ----------------------------------------- */

void pg_scrub_one(char *msg, const char *secret)
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
const char *pg_set_err(pg *p, const char *what, const char *libpq_msg)
{
    snprintf(p->err, sizeof p->err, "%s%s%s", what, libpq_msg ? ": " : "",
             libpq_msg ? libpq_msg : "");
    size_t n = strlen(p->err);
    while (n && (p->err[n - 1] == '\n' || p->err[n - 1] == ' '))
        p->err[--n] = '\0';
    for (char *c = p->err; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
    pg_scrub_one(p->err, p->secret);
    pg_scrub_one(p->err, p->password);
    return p->err;
}

/* ---- SQL text ---------------------------------------------------------- */

/* The template with every "%1$s" replaced by the quoted schema (host
 * allocator; NULL on allocation failure). */
char *pg_sql(pg *p, const char *tpl)
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

const char *pg_sqlstate(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* The connection is gone (or was never there): spool rather than fail. */
int pg_conn_lost(pg *p, const PGresult *r)
{
    if (!p->conn || PQstatus(p->conn) == CONNECTION_BAD)
        return 1;
    const char *st = pg_sqlstate(r);
    return !*st || strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0;
}

/* Run one statement (template with the schema) with text parameters.
 * Returns the result (caller clears) or NULL on allocation failure. */
PGresult *pg_exec_tpl(pg *p, const char *tpl, int n, const char *const *vals)
{
    char *q = pg_sql(p, tpl);
    if (!q)
        return NULL;
    PGresult *r = n ? PQexecParams(p->conn, q, n, NULL, vals, NULL, NULL, 0) : PQexec(p->conn, q);
    p->host->free(q);
    return r;
}

/* 0 when r succeeded; else -1 with p->err set ("<what>: <cause>"). */
int pg_res_ok(pg *p, PGresult *r, const char *what)
{
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_COPY_IN)
        return 0;
    pg_set_err(p, what, r ? PQresultErrorMessage(r) : "out of memory");
    p->locked = strcmp(pg_sqlstate(r), "55P03") == 0; /* lock_not_available */
    return -1;
}

int pg_exec_ok(pg *p, const char *tpl, int n, const char *const *vals, const char *what)
{
    PGresult *r = pg_exec_tpl(p, tpl, n, vals);
    int rc = pg_res_ok(p, r, what);
    PQclear(r);
    return rc;
}

/* ---- connecting -------------------------------------------------------- */

void pg_forget_prepared(pg *p)
{
    memset(p->prepared_rows, 0, sizeof p->prepared_rows);
    p->prepared_hb = 0;
}

/* Server notices ("schema already exists, skipping") are not for the user. */
void pg_quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Connect (p->conn set on success).  Returns TROPT_OK; TROPT_EBACKEND when
 * the server answered and refused (wrong password, no such database or
 * role): that will not get better by itself; 1 when the server cannot be
 * reached (p->err says why). */
int pg_connect_db(pg *p)
{
    if (p->conn) {
        PQfinish(p->conn);
        p->conn = NULL;
    }
    pg_forget_prepared(p);
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
        pg_set_err(p, "cannot connect", "out of memory");
        return TROPT_ENOMEM;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        const char *m = PQerrorMessage(c);
        pg_set_err(p, "cannot connect", m);
        /* A message from the server itself ("FATAL:") or a password that
         * was needed/used and refused: the server is there and said no. */
        int refused = strstr(m, "FATAL:") != NULL || PQconnectionNeedsPassword(c) ||
                      PQconnectionUsedPassword(c);
        PQfinish(c);
        return refused ? TROPT_EBACKEND : 1;
    }
    PQsetNoticeProcessor(c, pg_quiet_notice, NULL);
    /* no statement waits longer than this for a lock (milliseconds) */
    char set[64];
    snprintf(set, sizeof set, "SET lock_timeout = %" PRId64, p->lock_timeout_ms);
    PGresult *r = PQexec(c, set);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_set_err(p, "cannot set lock_timeout", r ? PQresultErrorMessage(r) : "out of memory");
        int gone = PQstatus(c) == CONNECTION_BAD;
        PQclear(r);
        PQfinish(c);
        return gone ? 1 : TROPT_EBACKEND;
    }
    PQclear(r);
    p->conn = c;
    return TROPT_OK;
}

/* The schema's version (0: no schema yet) into *version.  0, or 1 with
 * p->err set when the connection is gone, or when another session (a
 * migration) holds the version table past lock_timeout: as if unreachable,
 * so the run is spooled. */
static int read_version(pg *p, int *version)
{
    PGresult *r = pg_exec_tpl(p, PGS_VERSION_GET, 0, NULL);
    *version = 0;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        *version = atoi(PQgetvalue(r, 0, 0));
    int lost = !r || (PQresultStatus(r) != PGRES_TUPLES_OK && pg_conn_lost(p, r));
    int locked = r && strcmp(pg_sqlstate(r), "55P03") == 0;
    if (lost || locked)
        pg_set_err(p, "cannot read the schema version",
                   locked ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
    PQclear(r);
    return lost || locked;
}

/* Inside the locked transaction: what the schema holds is brought to
 * PGS_VERSION step by step (a new schema is made as version 1 and upgraded,
 * so a new store and an upgraded one are the same).  0, or -1 (p->err). */
static int upgrade_steps(pg *p, int *version)
{
    static const struct {
        int from;
        const char *sql;
    } steps[] = {{0, PGS_CREATE_V1}, {1, PGS_UPGRADE_V2}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (*version != steps[i].from)
            continue;
        if (pg_exec_ok(p, steps[i].sql, 0, NULL,
                       *version ? "cannot upgrade the schema" : "cannot create the schema") != 0)
            return -1;
        *version = steps[i].from + 1;
    }
    return 0;
}

/* Create or upgrade the schema under the advisory lock, in one transaction;
 * whoever comes second finds it done.  *version: what is there afterwards.
 * TROPT_OK, TROPT_EBACKEND, or 1 when the connection is gone (or a lock was
 * held past lock_timeout: a long upgrade by another process). */
static int migrate(pg *p, int *version)
{
    const char *v[1] = {p->schema};
    int rc = pg_exec_ok(p, "BEGIN", 0, NULL, "cannot create the schema");
    if (rc == 0)
        rc = pg_exec_ok(p, PGS_LOCK, 1, v, "cannot lock the schema");
    if (rc == 0)
        rc = pg_exec_ok(p, PGS_CREATE_SCHEMA, 0, NULL, "cannot create the schema");
    if (rc == 0) {
        PGresult *r = pg_exec_tpl(p, PGS_VERSION_GET, 0, NULL);
        rc = pg_res_ok(p, r, "cannot read the schema version");
        *version = rc == 0 && PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
    }
    if (rc == 0)
        rc = upgrade_steps(p, version);
    if (rc == 0)
        rc = pg_exec_ok(p, "COMMIT", 0, NULL, "cannot create the schema");
    if (rc != 0) {
        int gone = PQstatus(p->conn) == CONNECTION_BAD || p->locked;
        PQclear(PQexec(p->conn, "ROLLBACK"));
        return gone ? 1 : TROPT_EBACKEND;
    }
    return TROPT_OK;
}

/* Create, upgrade or check the schema.  Returns TROPT_OK, TROPT_EBACKEND
 * (p->err: a newer schema, or SQL refused), or 1 when the connection is gone
 * (or the version table stayed locked past lock_timeout). */
int pg_ensure_schema(pg *p)
{
    int version;
    if (read_version(p, &version) != 0)
        return 1;
    if (version < PGS_VERSION) {
        int rc = migrate(p, &version);
        if (rc != TROPT_OK)
            return rc;
    }
    if (version > PGS_VERSION) {
        snprintf(p->err, sizeof p->err,
                 "schema %s is version %d, newer than this plugin's version %d: use a newer tropt",
                 p->schema, version, PGS_VERSION);
        return TROPT_EBACKEND;
    }
    p->version = version;
    return TROPT_OK;
}

/* Connect and check the schema.  TROPT_OK, TROPT_EBACKEND, TROPT_ENOMEM, or
 * 1 when the server cannot be reached (connection closed). */
int pg_open_store(pg *p)
{
    int rc = pg_connect_db(p);
    if (rc == TROPT_OK)
        rc = pg_ensure_schema(p);
    if (rc != TROPT_OK && p->conn) {
        PQfinish(p->conn);
        p->conn = NULL;
    }
    return rc;
}

int pg_ensure_conn(pg *p)
{
    return p->conn ? TROPT_OK : pg_open_store(p);
}

/* ---- values as text ---------------------------------------------------- */

void pg_real_text(const pg *p, char *buf, size_t size, double x)
{
    if (isnan(x))
        snprintf(buf, size, "NaN");
    else if (isinf(x))
        snprintf(buf, size, "%sInfinity", x < 0 ? "-" : "");
    else
        p->host->format_real(buf, size, x);
}

void pg_iso_time(double t, char *buf, size_t size)
{
    time_t sec = (time_t)floor(t);
    struct tm tm;
    if (!isfinite(t) || t < 0 || t > 253402300799.0 || !gmtime_r(&sec, &tm)) {
        snprintf(buf, size, "-");
        return;
    }
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
