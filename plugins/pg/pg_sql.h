/*
 * plugins/pg/pg_sql.h - every SQL text of the pg backend.  "%1$s" is the
 * schema, already quoted as an identifier (see pg.c: quote_ident).
 *
 * Tables (private, may change with the schema version):
 *   tropt_version  one row: the schema version.
 *   tropt_run      one row per run, with its heartbeat (server clock, Unix
 *                  seconds) and the bound after which it counts as crashed.
 *   tropt_key      every key once, with an integer id.
 *   tropt_log      one row per step: run id, step, time, and its fields as
 *                  parallel arrays (key ids, kinds, r, i, t).  PRIMARY KEY
 *                  (run, step): a retried or replayed step never adds a row,
 *                  and one index entry per step (not per field) keeps writes
 *                  fast; the metrics view unnests the arrays.
 *   tropt_param, tropt_summary  keyed by (run_id, key).
 * kind: 0 null, 1 bool, 2 int, 3 real, 4 string, 5 json.  r holds every
 * number as float8 (reals bit-exact, NaN/Infinity native), i integers and
 * booleans exactly, t strings and JSON text.
 *
 * Views (the contract): runs, params, metrics, summary.
 */
#ifndef TROPT_PG_SQL_H
#define TROPT_PG_SQL_H

/* The schema version this plugin writes. */
#define PGS_VERSION 1

/* Arbitrary first key of the two-key advisory lock (the second is a hash of
 * the schema name): "Trop". */
#define PGS_LOCK_KEY "1416785776"

#define PGS_NOW "extract(epoch FROM clock_timestamp())::float8"

#define PGS_KIND_TEXT                                                                              \
    "CASE kind WHEN 0 THEN 'null' WHEN 1 THEN 'bool' WHEN 2 THEN 'int' WHEN 3 THEN 'real'"         \
    " WHEN 4 THEN 'string' ELSE 'json' END"

#define PGS_IS_STALE "(status = 'running' AND heartbeat < " PGS_NOW " - stale_after)"

/* Quick check without the lock: the version, if the schema exists. */
#define PGS_VERSION_GET "SELECT version FROM %1$s.tropt_version"

/* Under pg_advisory_xact_lock, in one transaction. */
#define PGS_LOCK "SELECT pg_advisory_xact_lock(" PGS_LOCK_KEY ", hashtext($1))"
#define PGS_CREATE_SCHEMA                                                                          \
    "CREATE SCHEMA IF NOT EXISTS %1$s;"                                                            \
    "CREATE TABLE IF NOT EXISTS %1$s.tropt_version (version integer NOT NULL)"

#define PGS_CREATE_V1                                                                              \
    "CREATE TABLE %1$s.tropt_run (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"            \
    " run_id text NOT NULL UNIQUE, experiment text NOT NULL,"                                      \
    " status text NOT NULL, started_at float8 NOT NULL, ended_at float8, host text NOT NULL,"      \
    " pid bigint NOT NULL, config text, heartbeat float8 NOT NULL, stale_after float8 NOT NULL);"  \
    "CREATE TABLE %1$s.tropt_key (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"            \
    " key text NOT NULL UNIQUE);"                                                                  \
    "CREATE TABLE %1$s.tropt_log (run integer NOT NULL, step bigint NOT NULL,"                     \
    " time float8 NOT NULL, keys integer[] NOT NULL, kinds smallint[] NOT NULL,"                   \
    " r float8[] NOT NULL, i bigint[] NOT NULL, t text[] NOT NULL, PRIMARY KEY (run, step));"      \
    "CREATE TABLE %1$s.tropt_param (run_id text NOT NULL, key text NOT NULL,"                      \
    " kind smallint NOT NULL, r float8, i bigint, t text, PRIMARY KEY (run_id, key));"             \
    "CREATE TABLE %1$s.tropt_summary (run_id text NOT NULL, key text NOT NULL,"                    \
    " kind smallint NOT NULL, r float8, i bigint, t text, PRIMARY KEY (run_id, key));"             \
    "CREATE VIEW %1$s.runs AS SELECT run_id, experiment,"                                          \
    " CASE WHEN " PGS_IS_STALE " THEN 'crashed' ELSE status END AS status, started_at,"            \
    " CASE WHEN " PGS_IS_STALE " THEN heartbeat ELSE ended_at END AS ended_at,"                    \
    " host, pid, config, heartbeat FROM %1$s.tropt_run;"                                           \
    "CREATE VIEW %1$s.params AS SELECT run_id, key, r AS value, i AS value_int,"                   \
    " t AS value_text, " PGS_KIND_TEXT " AS kind FROM %1$s.tropt_param;"                           \
    "CREATE VIEW %1$s.metrics AS SELECT u.run_id, l.step, l.time, k.key, x.r AS value,"            \
    " x.i AS value_int, x.t AS value_text, " PGS_KIND_TEXT " AS kind"                              \
    " FROM %1$s.tropt_log l JOIN %1$s.tropt_run u ON u.id = l.run"                                 \
    " CROSS JOIN LATERAL unnest(l.keys, l.kinds, l.r, l.i, l.t) AS x(key, kind, r, i, t)"          \
    " JOIN %1$s.tropt_key k ON k.id = x.key;"                                                      \
    "CREATE VIEW %1$s.summary AS SELECT run_id, key, r AS value, i AS value_int,"                  \
    " t AS value_text, " PGS_KIND_TEXT " AS kind FROM %1$s.tropt_summary;"                         \
    "INSERT INTO %1$s.tropt_version VALUES (1)"

/* A key's id, inserting it if new.  Empty when another session inserted it
 * after this statement's snapshot: run it again. */
#define PGS_KEY_ID                                                                                 \
    "WITH ins AS (INSERT INTO %1$s.tropt_key (key) VALUES ($1) ON CONFLICT (key) DO NOTHING"       \
    " RETURNING id) SELECT id FROM ins UNION ALL SELECT id FROM %1$s.tropt_key WHERE key = $1"

/* Runs left running whose heartbeat is older than their bound: crashed. */
#define PGS_MARK_STALE                                                                             \
    "UPDATE %1$s.tropt_run SET status = 'crashed', ended_at = heartbeat WHERE " PGS_IS_STALE

/* $1 run_id $2 experiment $3 started_at $4 host $5 pid $6 config $7 stale_after */
#define PGS_RUN_UPSERT                                                                             \
    "INSERT INTO %1$s.tropt_run (run_id, experiment, status, started_at, ended_at, host, pid,"     \
    " config, heartbeat, stale_after) VALUES ($1, $2, 'running', $3::float8, NULL, $4,"            \
    " $5::bigint, $6, " PGS_NOW ", $7::float8) ON CONFLICT (run_id) DO UPDATE SET"                 \
    " experiment = EXCLUDED.experiment, status = 'running', started_at = EXCLUDED.started_at,"     \
    " ended_at = NULL, host = EXCLUDED.host, pid = EXCLUDED.pid, config = EXCLUDED.config,"        \
    " heartbeat = EXCLUDED.heartbeat, stale_after = EXCLUDED.stale_after RETURNING id"

#define PGS_HEARTBEAT                                                                              \
    "UPDATE %1$s.tropt_run SET heartbeat = " PGS_NOW " WHERE run_id = $1 AND status = 'running'"

/* $1 run_id $2 status $3 ended_at */
#define PGS_RUN_END                                                                                \
    "UPDATE %1$s.tropt_run SET status = $2, ended_at = $3::float8, heartbeat = " PGS_NOW           \
    " WHERE run_id = $1"

#define PGS_PARAM_CLEAR "DELETE FROM %1$s.tropt_param WHERE run_id = $1"
#define PGS_SUMMARY_CLEAR "DELETE FROM %1$s.tropt_summary WHERE run_id = $1"
/* + " VALUES ($1, $2, $3, $4, $5, $6)" (run_id key kind r i t) */
#define PGS_PARAM_INSERT "INSERT INTO %1$s.tropt_param (run_id, key, kind, r, i, t)"
#define PGS_SUMMARY_INSERT "INSERT INTO %1$s.tropt_summary (run_id, key, kind, r, i, t)"

/* Steps of tropt_log: + n times "($1, $k, ...)" + PGS_LOG_CONFLICT. */
#define PGS_LOG_INSERT "INSERT INTO %1$s.tropt_log (run, step, time, keys, kinds, r, i, t) VALUES "
#define PGS_LOG_CONFLICT " ON CONFLICT (run, step) DO NOTHING"
#define PGS_LOG_COPY                                                                               \
    "COPY %1$s.tropt_log (run, step, time, keys, kinds, r, i, t) FROM STDIN (FORMAT binary)"

#endif
