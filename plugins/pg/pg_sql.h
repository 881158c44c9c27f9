/*
 * plugins/pg/pg_sql.h - every SQL text of the pg backend.  "%1$s" is the
 * schema, already quoted as an identifier (see pg.c: quote_ident).
 *
 * Tables (private, may change with the schema version):
 *   tropt_version  one row: the schema version.
 *   tropt_run      one row per run: its identity, name, tags, note, resume
 *                  key, provenance, the latest attempt's writer (host, pid,
 *                  pidns, config), its heartbeat (server clock, Unix seconds)
 *                  and the bound after which it counts as crashed; `attempts`
 *                  is the latest attempt's number.
 *   tropt_attempt  one row per attempt (run, attempt): its start, writer,
 *                  config, from_step and end; `cutoff` = the smallest
 *                  from_step of the later attempts (its steps at or after it
 *                  are superseded), `n_live` = its steps not superseded (kept
 *                  by every write, so n_steps costs no scan).
 *   tropt_key      every key once, with an integer id.
 *   tropt_log      one row per step of an attempt: run id, step, attempt,
 *                  time, and the fields as parallel arrays (key ids, kinds,
 *                  r, i, t).  PRIMARY KEY (run, step, attempt): a retried or
 *                  replayed step never adds a row, one index entry per step
 *                  (not per field) keeps writes fast, and the highest step of
 *                  a run is one index probe; the metrics views unnest the
 *                  arrays.
 *   tropt_param    the flattened config of each attempt (run_id, attempt, key).
 *   tropt_summary  keyed by (run_id, key).
 *   tropt_mark     checkpoint marks (run, attempt, seq).
 *   tropt_sys      system samples (run, time, key): mean and max.
 *   tropt_deleted  the ids of deleted runs (a replay must not bring one back).
 * kind: 0 null, 1 bool, 2 int, 3 real, 4 string, 5 json.  r holds every
 * number as float8 (reals bit-exact, NaN/Infinity native), i integers and
 * booleans exactly, t strings and JSON text.
 *
 * Views (the contract): runs, params, metrics, metrics_history, summary,
 * checkpoints, system.
 *
 * Version 1 is kept verbatim (PGS_CREATE_V1): a new schema is made as
 * version 1 and upgraded to 2 in the same transaction, so a new store and an
 * upgraded one are the same.
 */
#ifndef TROPT_PG_SQL_H
#define TROPT_PG_SQL_H

/* The schema version this plugin writes. */
#define PGS_VERSION 2

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

/* ---- version 2 (issues 28, 29, 32): attempts, names, tags, marks, samples */

#define PGS_INT64_MAX "9223372036854775807"

/* The step rows of tropt_log joined with their attempt (its cutoff). */
#define PGS_LOG_ROWS                                                                               \
    " FROM %1$s.tropt_log l JOIN %1$s.tropt_run u ON u.id = l.run"                                 \
    " JOIN %1$s.tropt_attempt a ON a.run = l.run AND a.attempt = l.attempt"                        \
    " CROSS JOIN LATERAL unnest(l.keys, l.kinds, l.r, l.i, l.t) AS x(key, kind, r, i, t)"          \
    " JOIN %1$s.tropt_key k ON k.id = x.key"

#define PGS_UPGRADE_V2                                                                             \
    "ALTER TABLE %1$s.tropt_run ADD COLUMN name text,"                                             \
    " ADD COLUMN tags text[] NOT NULL DEFAULT '{}', ADD COLUMN note text,"                         \
    " ADD COLUMN attempts integer NOT NULL DEFAULT 1, ADD COLUMN resume_key text UNIQUE,"          \
    " ADD COLUMN pidns text, ADD COLUMN command text, ADD COLUMN cwd text,"                        \
    " ADD COLUMN git_commit text, ADD COLUMN version text;"                                        \
    "CREATE TABLE %1$s.tropt_attempt (run integer NOT NULL, attempt integer NOT NULL,"             \
    " from_step bigint NOT NULL, started_at float8 NOT NULL, ended_at float8,"                     \
    " status text NOT NULL, host text NOT NULL, pid bigint NOT NULL, pidns text, config text,"     \
    " cutoff bigint NOT NULL DEFAULT " PGS_INT64_MAX ", n_live bigint NOT NULL DEFAULT 0,"         \
    " PRIMARY KEY (run, attempt));"                                                                \
    "INSERT INTO %1$s.tropt_attempt (run, attempt, from_step, started_at, ended_at, status,"       \
    " host, pid, config, n_live) SELECT u.id, 1, 0, u.started_at, u.ended_at, u.status, u.host,"   \
    " u.pid, u.config, coalesce(c.n, 0) FROM %1$s.tropt_run u LEFT JOIN (SELECT run,"              \
    " count(*) AS n FROM %1$s.tropt_log GROUP BY run) c ON c.run = u.id;"                          \
    "ALTER TABLE %1$s.tropt_log ADD COLUMN attempt integer NOT NULL DEFAULT 1,"                    \
    " DROP CONSTRAINT tropt_log_pkey, ADD PRIMARY KEY (run, step, attempt);"                       \
    "ALTER TABLE %1$s.tropt_param ADD COLUMN attempt integer NOT NULL DEFAULT 1,"                  \
    " DROP CONSTRAINT tropt_param_pkey, ADD PRIMARY KEY (run_id, attempt, key);"                   \
    "CREATE TABLE %1$s.tropt_mark (run integer NOT NULL, attempt integer NOT NULL,"                \
    " seq bigint NOT NULL, step bigint NOT NULL, time float8 NOT NULL, path text NOT NULL,"        \
    " size bigint, sha256 text, error text, PRIMARY KEY (run, attempt, seq));"                     \
    "CREATE TABLE %1$s.tropt_sys (run integer NOT NULL, attempt integer NOT NULL,"                 \
    " time float8 NOT NULL, key text NOT NULL, value float8, max float8,"                          \
    " PRIMARY KEY (run, time, key));"                                                              \
    "CREATE TABLE %1$s.tropt_deleted (run_id text PRIMARY KEY, deleted_at float8 NOT NULL);"       \
    "CREATE OR REPLACE VIEW %1$s.runs AS SELECT run_id, experiment,"                               \
    " CASE WHEN " PGS_IS_STALE " THEN 'crashed' ELSE status END AS status, started_at,"            \
    " CASE WHEN " PGS_IS_STALE " THEN heartbeat ELSE ended_at END AS ended_at,"                    \
    " host, pid, config, heartbeat, name, array_to_json(tags)::text AS tags, note, attempts,"      \
    " command, cwd, git_commit, version FROM %1$s.tropt_run;"                                      \
    "CREATE OR REPLACE VIEW %1$s.params AS SELECT p.run_id, p.key, p.r AS value,"                  \
    " p.i AS value_int, p.t AS value_text, " PGS_KIND_TEXT " AS kind FROM %1$s.tropt_param p"      \
    " JOIN %1$s.tropt_run u ON u.run_id = p.run_id AND u.attempts = p.attempt;"                    \
    "CREATE OR REPLACE VIEW %1$s.metrics AS SELECT u.run_id, l.step, l.time, k.key,"               \
    " x.r AS value, x.i AS value_int, x.t AS value_text, " PGS_KIND_TEXT " AS kind" PGS_LOG_ROWS   \
    " WHERE l.step < a.cutoff;"                                                                    \
    "CREATE VIEW %1$s.metrics_history AS SELECT u.run_id, l.attempt, l.step, l.time, k.key,"       \
    " x.r AS value, x.i AS value_int, x.t AS value_text, " PGS_KIND_TEXT " AS kind,"               \
    " l.step >= a.cutoff AS superseded" PGS_LOG_ROWS ";"                                           \
    "CREATE VIEW %1$s.checkpoints AS SELECT u.run_id, m.attempt, m.seq, m.step, m.time, m.path,"   \
    " m.size, m.sha256, m.error FROM %1$s.tropt_mark m JOIN %1$s.tropt_run u ON u.id = m.run;"     \
    "CREATE VIEW %1$s.system AS SELECT u.run_id, y.time, y.key, y.value, y.max"                    \
    " FROM %1$s.tropt_sys y JOIN %1$s.tropt_run u ON u.id = y.run;"                                \
    "UPDATE %1$s.tropt_version SET version = 2"

/* A key's id, inserting it if new.  Empty when another session inserted it
 * after this statement's snapshot: run it again. */
#define PGS_KEY_ID                                                                                 \
    "WITH ins AS (INSERT INTO %1$s.tropt_key (key) VALUES ($1) ON CONFLICT (key) DO NOTHING"       \
    " RETURNING id) SELECT id FROM ins UNION ALL SELECT id FROM %1$s.tropt_key WHERE key = $1"

/* ---- opening a run (one transaction) ------------------------------------ */

/* $1 run_id: when it was deleted (a replay must not bring it back). */
#define PGS_DELETED_GET "SELECT deleted_at FROM %1$s.tropt_deleted WHERE run_id = $1"

/* Runs left running whose heartbeat is older than their bound: crashed,
 * with their latest attempt. */
#define PGS_MARK_STALE                                                                             \
    "WITH s AS (UPDATE %1$s.tropt_run SET status = 'crashed', ended_at = heartbeat "               \
    "WHERE " PGS_IS_STALE                                                                          \
    " RETURNING id, attempts) UPDATE %1$s.tropt_attempt a SET status = 'crashed'"                  \
    " FROM s WHERE a.run = s.id AND a.attempt = s.attempts AND a.status = 'running'"

/* A new run.  Empty when the run_id is stored already; SQLSTATE 23505 when
 * another run carries the resume key.
 * $1 run_id $2 experiment $3 started_at $4 host $5 pid $6 config
 * $7 stale_after $8 name $9 attempt $10 resume_key $11 pidns $12 command
 * $13 cwd $14 git_commit $15 version */
#define PGS_RUN_CREATE                                                                             \
    "INSERT INTO %1$s.tropt_run (run_id, experiment, status, started_at, ended_at, host, pid,"     \
    " config, heartbeat, stale_after, name, attempts, resume_key, pidns, command, cwd,"            \
    " git_commit, version) VALUES ($1, $2, 'running', $3::float8, NULL, $4, $5::bigint, "          \
    "$6, " PGS_NOW ", $7::float8, $8, $9::integer, $10, $11, $12, $13, $14, $15)"                  \
    " ON CONFLICT (run_id) DO NOTHING RETURNING id"

/* $1 run_id: the stored run, locked until the transaction ends. */
#define PGS_RUN_LOCK "SELECT id, attempts FROM %1$s.tropt_run WHERE run_id = $1 FOR UPDATE"

/* The stored run continues with the attempt opening (unless a later one is
 * stored: a replay of an earlier attempt leaves the run as it is).  The
 * same parameters as PGS_RUN_CREATE, $1 the run's integer id. */
#define PGS_RUN_CONTINUE                                                                           \
    "UPDATE %1$s.tropt_run SET experiment = $2, status = 'running', started_at = $3::float8,"      \
    " ended_at = NULL, host = $4, pid = $5::bigint, config = $6, heartbeat = " PGS_NOW ","         \
    " stale_after = $7::float8, name = coalesce(name, $8), attempts = $9::integer,"                \
    " resume_key = coalesce(resume_key, $10), pidns = $11, command = coalesce(command, $12),"      \
    " cwd = coalesce(cwd, $13), git_commit = coalesce(git_commit, $14),"                           \
    " version = coalesce(version, $15) WHERE id = $1::integer AND attempts <= $9::integer"

/* $1 run $2 attempt $3 from_step $4 started_at $5 host $6 pid $7 pidns
 * $8 config.  Empty when the attempt is stored already. */
#define PGS_ATTEMPT_CREATE                                                                         \
    "INSERT INTO %1$s.tropt_attempt (run, attempt, from_step, started_at, status, host, pid,"      \
    " pidns, config, cutoff) VALUES ($1::integer, $2::integer, $3::bigint, $4::float8,"            \
    " 'running', $5, $6::bigint, $7, $8, (SELECT coalesce(min(b.from_step), " PGS_INT64_MAX ")"    \
    " FROM %1$s.tropt_attempt b WHERE b.run = $1::integer AND b.attempt > $2::integer))"           \
    " ON CONFLICT (run, attempt) DO NOTHING RETURNING attempt"

/* The stored attempt: whether it is this one (same start, host, pid), and
 * who wrote it.  $1 run $2 attempt $3 started_at $4 host $5 pid */
#define PGS_ATTEMPT_WHO                                                                            \
    "SELECT started_at = $3::float8 AND host = $4 AND pid = $5::bigint, host, pid, started_at"     \
    " FROM %1$s.tropt_attempt WHERE run = $1::integer AND attempt = $2::integer"

/* A stored attempt opening again (a replay): parameters as PGS_ATTEMPT_CREATE. */
#define PGS_ATTEMPT_REOPEN                                                                         \
    "UPDATE %1$s.tropt_attempt SET from_step = $3::bigint, started_at = $4::float8,"               \
    " status = 'running', ended_at = NULL, host = $5, pid = $6::bigint, pidns = $7, config = $8"   \
    " WHERE run = $1::integer AND attempt = $2::integer"

/* Attempt $2 of run $1 continues from step $3: the steps of the earlier
 * attempts at or after it are superseded (counted out of n_live), and an
 * earlier attempt still marked running never ended: crashed. */
#define PGS_SUPERSEDE                                                                              \
    "UPDATE %1$s.tropt_attempt a SET status = CASE WHEN a.status = 'running' THEN 'crashed'"       \
    " ELSE a.status END, n_live = a.n_live - (SELECT count(*) FROM %1$s.tropt_log l"               \
    " WHERE l.run = a.run AND l.attempt = a.attempt AND l.step >= $3::bigint"                      \
    " AND l.step < a.cutoff), cutoff = least(a.cutoff, $3::bigint)"                                \
    " WHERE a.run = $1::integer AND a.attempt < $2::integer"

/* The run that carries resume key $1. */
#define PGS_RUN_BY_KEY "SELECT run_id FROM %1$s.tropt_run WHERE resume_key = $1"

/* $1 run_id $2 attempt */
#define PGS_PARAM_CLEAR "DELETE FROM %1$s.tropt_param WHERE run_id = $1 AND attempt = $2::integer"
#define PGS_PARAM_INSERT                                                                           \
    "INSERT INTO %1$s.tropt_param (run_id, key, kind, r, i, t, attempt)"                           \
    " VALUES ($1, $2, $3::int2, $4::float8, $5::int8, $6, $7::integer)"

/* ---- the open run ------------------------------------------------------- */

/* $1 run_id $2 attempt: only the latest attempt's writer keeps it alive. */
#define PGS_HEARTBEAT                                                                              \
    "UPDATE %1$s.tropt_run SET heartbeat = " PGS_NOW " WHERE run_id = $1 AND status = 'running'"   \
    " AND attempts = $2::integer"

/* $1 run $2 attempt $3 status $4 ended_at */
#define PGS_ATTEMPT_END                                                                            \
    "UPDATE %1$s.tropt_attempt SET status = $3, ended_at = $4::float8"                             \
    " WHERE run = $1::integer AND attempt = $2::integer"

/* $1 run_id $2 status $3 ended_at $4 attempt: the run ends with its latest
 * attempt (one row), not with the replay of an earlier one (none). */
#define PGS_RUN_END                                                                                \
    "UPDATE %1$s.tropt_run SET status = $2, ended_at = $3::float8, heartbeat = " PGS_NOW           \
    " WHERE run_id = $1 AND attempts <= $4::integer"

#define PGS_SUMMARY_CLEAR "DELETE FROM %1$s.tropt_summary WHERE run_id = $1"
#define PGS_SUMMARY_INSERT                                                                         \
    "INSERT INTO %1$s.tropt_summary (run_id, key, kind, r, i, t)"                                  \
    " VALUES ($1, $2, $3::int2, $4::float8, $5::int8, $6)"

/* Steps of tropt_log: PGS_LOG_INSERT + n times "($1, $2, $k, ...)" +
 * PGS_LOG_CONFLICT: one statement that also counts the new steps that are
 * not superseded into the attempt's n_live ($1 run, $2 attempt). */
#define PGS_LOG_INSERT                                                                             \
    "WITH ins AS (INSERT INTO %1$s.tropt_log (run, attempt, step, time, keys, kinds, r, i, t)"     \
    " VALUES "
#define PGS_LOG_CONFLICT                                                                           \
    " ON CONFLICT (run, step, attempt) DO NOTHING RETURNING step)"                                 \
    " UPDATE %1$s.tropt_attempt a SET n_live = a.n_live + (SELECT count(*) FROM ins"               \
    " WHERE ins.step < a.cutoff) WHERE a.run = $1 AND a.attempt = $2 AND EXISTS (SELECT 1"         \
    " FROM ins)"
#define PGS_LOG_COPY                                                                               \
    "COPY %1$s.tropt_log (run, attempt, step, time, keys, kinds, r, i, t) FROM STDIN"              \
    " (FORMAT binary)"
/* After a COPY, in its transaction: $1 run $2 attempt $3 the steps copied. */
#define PGS_LOG_COPIED                                                                             \
    "UPDATE %1$s.tropt_attempt SET n_live = n_live + (SELECT count(*) FROM"                        \
    " unnest($3::bigint[]) AS s(step) WHERE s.step < cutoff)"                                      \
    " WHERE run = $1::integer AND attempt = $2::integer"

/* A checkpoint mark, stored at the call and completed when hashed.
 * $1 run $2 attempt $3 seq $4 step $5 time $6 path $7 size $8 sha256 $9 error */
#define PGS_MARK_PUT                                                                               \
    "INSERT INTO %1$s.tropt_mark AS m (run, attempt, seq, step, time, path, size, sha256, error)"  \
    " VALUES ($1::integer, $2::integer, $3::bigint, $4::bigint, $5::float8, $6, $7::bigint, $8,"   \
    " $9) ON CONFLICT (run, attempt, seq) DO UPDATE SET size = coalesce(EXCLUDED.size, m.size),"   \
    " sha256 = coalesce(EXCLUDED.sha256, m.sha256), error = coalesce(EXCLUDED.error, m.error)"

/* System samples at one time.  $1 run $2 attempt $3 time $4 keys $5 means
 * $6 maxima (arrays) */
#define PGS_SYS_PUT                                                                                \
    "INSERT INTO %1$s.tropt_sys (run, attempt, time, key, value, max) SELECT $1::integer,"         \
    " $2::integer, $3::float8, x.k, x.v, x.m FROM unnest($4::text[], $5::float8[],"                \
    " $6::float8[]) AS x(k, v, m) ON CONFLICT (run, time, key) DO NOTHING"

/* ---- metadata of any stored run ($1 run_id $2 text) --------------------- */

#define PGS_TAG                                                                                    \
    "UPDATE %1$s.tropt_run SET tags = CASE WHEN $2 = ANY (tags) THEN tags"                         \
    " ELSE array_append(tags, $2) END WHERE run_id = $1"
#define PGS_UNTAG "UPDATE %1$s.tropt_run SET tags = array_remove(tags, $2) WHERE run_id = $1"
#define PGS_NOTE "UPDATE %1$s.tropt_run SET note = nullif($2, '') WHERE run_id = $1"
#define PGS_RENAME "UPDATE %1$s.tropt_run SET name = $2 WHERE run_id = $1"

/* $1 run_id: the run and every row of it gone, its id remembered, in one
 * statement.  Empty when the schema holds no such run. */
#define PGS_DELETE                                                                                 \
    "WITH u AS (SELECT id FROM %1$s.tropt_run WHERE run_id = $1 FOR UPDATE),"                      \
    " l AS (DELETE FROM %1$s.tropt_log WHERE run IN (SELECT id FROM u)),"                          \
    " a AS (DELETE FROM %1$s.tropt_attempt WHERE run IN (SELECT id FROM u)),"                      \
    " m AS (DELETE FROM %1$s.tropt_mark WHERE run IN (SELECT id FROM u)),"                         \
    " y AS (DELETE FROM %1$s.tropt_sys WHERE run IN (SELECT id FROM u)),"                          \
    " p AS (DELETE FROM %1$s.tropt_param WHERE run_id = $1 AND EXISTS (SELECT 1 FROM u)),"         \
    " s AS (DELETE FROM %1$s.tropt_summary WHERE run_id = $1 AND EXISTS (SELECT 1 FROM u)),"       \
    " r AS (DELETE FROM %1$s.tropt_run WHERE id IN (SELECT id FROM u))"                            \
    " INSERT INTO %1$s.tropt_deleted (run_id, deleted_at) SELECT $1, " PGS_NOW " FROM u"           \
    " ON CONFLICT (run_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at RETURNING run_id"

#endif
