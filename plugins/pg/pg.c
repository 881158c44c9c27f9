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
 * A run is opened by init (pg_run.c) as one of its attempts (SPEC 15): the
 * steps of every attempt are kept, each with its attempt number, and the
 * views show the current value of each step once (metrics) or every row
 * with what superseded it (metrics_history).
 *
 * Steps are buffered (rows copied, keys interned) and written by commit(),
 * one tropt_log row per step with its fields as arrays: up to 16 steps as
 * one multi-row INSERT ... ON CONFLICT (run, step, attempt) DO NOTHING in
 * autocommit (one round trip, durable when it returns), more with a binary
 * COPY in a transaction; a COPY that meets a step already stored (a replayed
 * or retried step) rolls back and is written again through the ON CONFLICT
 * path.  Values travel in binary, so reals are bit-exact.
 *
 * When the server is gone (unreachable at init, or the connection lost and
 * one reset failed), or a statement waited lock_timeout for a lock another
 * session holds, the run is spooled for the rest of its life: its
 * run_start (with its attempt, name and provenance), the pending steps and
 * every later event (steps, checkpoint marks, system samples, tags) go to
 * one file in spool_dir in the tropt event format, finish returns TROPT_OK
 * with a warning naming the file and the replay command.
 *
 * The conninfo option is secret: messages name the server by host, port,
 * database and user only, and every libpq message is scrubbed of the
 * password before it is shown.
 */
#include "pg_priv.h"

static const tropt_option_def pg_options[] = {
    [PGO_CONNINFO] = TROPT_OPTION_STRING(
        "conninfo", TROPT_OPT_SECRET, NULL,
        "libpq connection string or URI (default: libpq's PG* defaults; never shown)"),
    [PGO_PASSWORD_ENV] = TROPT_OPTION_STRING(
        "password_env", 0, NULL, "environment variable holding the password (never shown)"),
    [PGO_SCHEMA] = TROPT_OPTION_STRING(
        "schema", 0, "tropt",
        "schema holding the tables and the views runs, params, metrics, summary"),
    [PGO_COMMIT_EVERY] =
        TROPT_OPTION_INT("commit_every", "1", 1, 1e9, "commit once N steps are pending"),
    [PGO_COMMIT_INTERVAL] = TROPT_OPTION_DURATION(
        "commit_interval", "0", 0, 3600000, "also commit once the oldest pending step is this old"),
    [PGO_SPOOL_DIR] =
        TROPT_OPTION_PATH("spool_dir", "tropt-spool",
                          "folder for events while the server is gone (replay with tropt replay)"),
    [PGO_HEARTBEAT] = TROPT_OPTION_DURATION(
        "heartbeat", "10s", 100, 3600000,
        "heartbeat period; a run silent for 4x this (at least 2s) is crashed"),
    [PGO_LOCK_TIMEOUT] = TROPT_OPTION_DURATION(
        "lock_timeout", "5s", 0, 3600000,
        "longest wait for a lock another session holds; then the run is spooled (0: no limit)"),
    [PGO_SPOOL] =
        TROPT_OPTION_BOOL("spool", "on",
                          "off: what cannot be written is an error, never spooled (the replay "
                          "command sets it)"),
    [PGO_COUNT] = TROPT_OPTIONS_END,
};
TROPT_OPTIONS_CHECK(pg_options, PGO_COUNT);

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

/* An instance configured from its options (secrets kept out of `shown`),
 * not connected yet.  Shared by create and the reader.  Returns TROPT_OK
 * with *out set, or the error (recorded with host->error) and nothing
 * allocated. */
int pg_configure(pg **out, const tropt_optval *opts, const tropt_host *host)
{
    *out = NULL;
    pg *p = host->malloc(sizeof *p);
    if (!p)
        return host->error(TROPT_ENOMEM, "out of memory");
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
    p->commit_every = opts[PGO_COMMIT_EVERY].i;
    p->commit_interval = opts[PGO_COMMIT_INTERVAL].i;
    p->heartbeat_ms = opts[PGO_HEARTBEAT].i;
    p->lock_timeout_ms = opts[PGO_LOCK_TIMEOUT].i;
    p->no_spool = opts[PGO_SPOOL].i == 0;
    /* Only commit_interval given: no step-count bound (as sqlite). */
    if (!opts[PGO_COMMIT_EVERY].is_set && opts[PGO_COMMIT_INTERVAL].is_set &&
        p->commit_interval > 0)
        p->commit_every = INT64_MAX;
    p->conninfo =
        tropt_host_strdup(p->host, opts[PGO_CONNINFO].text ? opts[PGO_CONNINFO].text : "");
    p->schema = tropt_host_strdup(p->host, opts[PGO_SCHEMA].text);
    p->spool_dir = tropt_host_strdup(p->host, opts[PGO_SPOOL_DIR].text);
    int rc = TROPT_OK;
    if (!p->conninfo || !p->schema || !p->spool_dir) {
        rc = host->error(TROPT_ENOMEM, "out of memory");
        goto fail;
    }
    if (!valid_schema(p->schema)) {
        rc = host->error(TROPT_EINVAL,
                         "schema: '%s' is not a plain name ([a-z_][a-z0-9_]*, at most 63)",
                         p->schema);
        goto fail;
    }
    size_t qn = strlen(p->schema) + 3;
    p->qschema = host->malloc(qn);
    if (!p->qschema) {
        rc = host->error(TROPT_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(p->qschema, qn, "\"%s\"", p->schema);
    if (opts[PGO_PASSWORD_ENV].text) {
        const char *pw = getenv(opts[PGO_PASSWORD_ENV].text);
        if (!pw || !*pw) {
            rc = host->error(TROPT_EINVAL,
                             "password_env: environment variable %s is not set or empty",
                             opts[PGO_PASSWORD_ENV].text);
            goto fail;
        }
        p->password = tropt_host_strdup(p->host, pw);
        if (!p->password) {
            rc = host->error(TROPT_ENOMEM, "out of memory");
            goto fail;
        }
    }
    rc = pg_conf_conninfo(p, opts[PGO_PASSWORD_ENV].text);
    if (rc != TROPT_OK)
        goto fail;
    *out = p;
    return TROPT_OK;
fail:
    pg_destroy(p);
    return rc;
}

static int pg_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    pg *p;
    int rc = pg_configure(&p, opts, host);
    if (rc != TROPT_OK)
        return rc;

    int c = pg_open_store(p);
    if (c == 1 && p->no_spool) {
        rc = host->error(TROPT_EBACKEND, "cannot reach %s (%s); spool=off", p->shown, p->err);
        goto fail;
    }
    if (c == 1) {
        TROPT_HOST_LOG(host, TROPT_LEVEL_WARNING,
                       "cannot reach %s (%s); runs will be spooled to %s until it is back",
                       p->shown, p->err, p->spool_dir);
    } else if (c != TROPT_OK) {
        rc = host->error(c, "%s: %s", p->shown, p->err);
        goto fail;
    }
    int e = pthread_create(&p->thread, NULL, pg_background, p);
    if (e != 0) {
        rc = host->error(TROPT_EBACKEND, "cannot start the background thread: %s", strerror(e));
        goto fail;
    }
    p->thread_running = 1;
    *self = p;
    return TROPT_OK;
fail:
    pg_destroy(p);
    return rc;
}

void pg_free_run(pg *p)
{
    p->host->free(p->run_id);
    p->run_id = NULL;
    p->host->free(p->start_line);
    p->start_line = NULL;
    p->active = 0;
    p->spooling = 0;
    p->n_spooled = 0;
    pg_batch_clear(p);
    if (p->spool_fd >= 0)
        close(p->spool_fd);
    p->spool_fd = -1;
    p->host->free(p->spool_path);
    p->spool_path = NULL;
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
        if (tev_encode_log_at(&p->scratch, p->run_id, p->attempt, step, time, fields, n,
                              p->host->format_real) != 0)
            rc = p->host->error(TROPT_ENOMEM, "out of memory");
        else if (pg_spool_bytes(p, p->scratch.data, p->scratch.len) != 0)
            rc = p->host->error(TROPT_EBACKEND, "%s", p->err);
        else
            p->n_spooled++;
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    if (p->nrows >= PG_MAX_PENDING_ROWS * 2) {
        pthread_mutex_unlock(&p->mu);
        return p->host->error(
            TROPT_EBACKEND, "%s (too many steps pending; step %" PRId64 " refused)", p->err, step);
    }
    size_t nrows0 = p->nrows, alen0 = p->alen;
    int bad = 0;
    for (size_t k = 0; k < n && !bad; k++) {
        row w;
        w.step = step;
        w.time = time;
        w.first = k == 0;
        bad = pg_key_intern(p, fields[k].key, &w.key) != 0 ||
              pg_field_row(p, &fields[k], &w) != 0 || pg_push_row(p, &w) != 0;
    }
    if (!bad && n == 0) {
        row w = {.step = step, .time = time, .key = NO_KEY, .first = 1, .kind = K_NULL};
        bad = pg_push_row(p, &w) != 0;
    }
    if (bad) {
        p->nrows = nrows0;
        p->alen = alen0;
        pthread_mutex_unlock(&p->mu);
        return p->host->error(TROPT_ENOMEM, "out of memory");
    }
    if (p->nsteps++ == 0)
        p->first_at = pg_monotonic();
    int rc = TROPT_OK;
    if (p->nsteps >= p->commit_every || p->nrows >= PG_MAX_PENDING_ROWS ||
        (p->commit_interval > 0 &&
         pg_monotonic() - p->first_at >= (double)p->commit_interval / 1000.0))
        rc = pg_commit(p);
    else if (p->commit_interval > 0 && p->nsteps == 1)
        pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int pg_spool_sync(pg *p)
{
    if (p->spool_fd >= 0 && fsync(p->spool_fd) != 0)
        return p->host->error(TROPT_EBACKEND, "cannot sync the spool %s: %s", p->spool_path,
                              strerror(errno));
    return TROPT_OK;
}

void pg_warn_spooled(pg *p)
{
    TROPT_HOST_LOG(p->host, TROPT_LEVEL_WARNING,
                   "%" PRId64 " events of run %s could not be written to %s and are safe in the "
                   "spool %s; send them with: %s",
                   p->n_spooled, p->run_id, p->shown, p->spool_path ? p->spool_path : "",
                   p->replay_hint);
}

static int pg_flush(void *self)
{
    pg *p = self;
    pthread_mutex_lock(&p->mu);
    int rc = pg_commit(p);
    if (rc == TROPT_OK)
        rc = pg_spool_sync(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void pg_destroy(void *self)
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
    pg_free_run(p);
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
    p->host->free(p->replay_hint);
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
    .reader_open = pg_reader_open,
    .list_runs = pg_list_runs,
    .read_run = pg_read_run,
    .reader_close = pg_reader_close,
    .annotate = pg_annotate,
    .delete_run = pg_delete_run,
    .checkpoint = pg_checkpoint,
    .log_system = pg_log_system,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &pg_plugin;
}
