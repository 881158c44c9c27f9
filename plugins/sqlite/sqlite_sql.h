/*
 * plugins/sqlite/sqlite_sql.h - every SQL string of the sqlite backend and of
 * `tropt runs` / `tropt show`, in one place.
 *
 * Storage (schema version 1, PRAGMA user_version = 1, application_id "Trop"):
 *
 *   tropt_key      interned key names; every other table refers to a key by
 *                  its integer id, so a key costs its text once per database.
 *   tropt_run      one row per run; integer rowid `id`, the UUID in `uuid`.
 *   tropt_step     (run, step) -> time: one row per logged step, also for
 *                  steps that carried no field.
 *   tropt_metric   (run, step, key) -> value, kind.
 *   tropt_param    (run, key) -> value, kind: the flattened config.
 *   tropt_summary  (run, key) -> value, kind: the flattened summary.
 *
 * `value` has no declared type, so SQLite keeps the storage class it is
 * given: INTEGER, REAL (+-Inf included), TEXT or NULL.  `kind` records what
 * the SQL type alone cannot say: NULL (the SQL type says it all), 1 boolean
 * (value INTEGER 0/1), 2 NaN (value NULL), 3 JSON text (an array or an empty
 * object kept whole).  A JSON null is value NULL, kind NULL.
 *
 * The public contract is the four views runs, params, metrics, summary with
 * the columns of SPEC section 6; the tables behind them may change between
 * schema versions.  A later release adds a migration (TSQL_MIGRATE_<n>_<n+1>)
 * and bumps TSQL_SCHEMA_VERSION; opening an older database upgrades it in one
 * transaction.
 */
#ifndef TROPT_SQLITE_SQL_H
#define TROPT_SQLITE_SQL_H

#define TSQL_SCHEMA_VERSION 1
#define TSQL_APPLICATION_ID 0x54726f70 /* "Trop" */

/* Values of the kind column. */
#define TSQL_KIND_BOOL 1
#define TSQL_KIND_NAN 2
#define TSQL_KIND_JSON 3

/* ---- Connection setup --------------------------------------------------- */

#define TSQL_WAL "PRAGMA journal_mode=WAL"
#define TSQL_SYNC_NORMAL "PRAGMA synchronous=NORMAL"
#define TSQL_SYNC_FULL "PRAGMA synchronous=FULL"
#define TSQL_USER_VERSION "PRAGMA user_version"
#define TSQL_APP_ID "PRAGMA application_id"
#define TSQL_HAS_TABLE "SELECT 1 FROM sqlite_master WHERE name = ?1"

/* ---- Schema and migrations ---------------------------------------------- */

/* From an empty database (user_version 0) to version 1. */
#define TSQL_MIGRATE_0_1                                                                           \
    "CREATE TABLE tropt_key ("                                                                     \
    "  id INTEGER PRIMARY KEY,"                                                                    \
    "  name TEXT NOT NULL UNIQUE);"                                                                \
    "CREATE TABLE tropt_run ("                                                                     \
    "  id INTEGER PRIMARY KEY,"                                                                    \
    "  uuid TEXT NOT NULL UNIQUE,"                                                                 \
    "  experiment TEXT NOT NULL,"                                                                  \
    "  status TEXT NOT NULL"                                                                       \
    "    CHECK (status IN ('running','finished','aborted','crashed')),"                            \
    "  started_at REAL NOT NULL,"                                                                  \
    "  ended_at REAL,"                                                                             \
    "  host TEXT NOT NULL,"                                                                        \
    "  pid INTEGER NOT NULL,"                                                                      \
    "  config TEXT);"                                                                              \
    "CREATE TABLE tropt_step ("                                                                    \
    "  run INTEGER NOT NULL,"                                                                      \
    "  step INTEGER NOT NULL,"                                                                     \
    "  time REAL NOT NULL,"                                                                        \
    "  PRIMARY KEY (run, step)) WITHOUT ROWID;"                                                    \
    "CREATE TABLE tropt_metric ("                                                                  \
    "  run INTEGER NOT NULL,"                                                                      \
    "  step INTEGER NOT NULL,"                                                                     \
    "  key INTEGER NOT NULL,"                                                                      \
    "  value,"                                                                                     \
    "  kind INTEGER,"                                                                              \
    "  PRIMARY KEY (run, step, key)) WITHOUT ROWID;"                                               \
    "CREATE TABLE tropt_param ("                                                                   \
    "  run INTEGER NOT NULL,"                                                                      \
    "  key INTEGER NOT NULL,"                                                                      \
    "  value,"                                                                                     \
    "  kind INTEGER,"                                                                              \
    "  PRIMARY KEY (run, key)) WITHOUT ROWID;"                                                     \
    "CREATE TABLE tropt_summary ("                                                                 \
    "  run INTEGER NOT NULL,"                                                                      \
    "  key INTEGER NOT NULL,"                                                                      \
    "  value,"                                                                                     \
    "  kind INTEGER,"                                                                              \
    "  PRIMARY KEY (run, key)) WITHOUT ROWID;"                                                     \
    "CREATE VIEW runs AS"                                                                          \
    "  SELECT uuid AS run_id, experiment, status, started_at, ended_at,"                           \
    "         host, pid, config"                                                                   \
    "  FROM tropt_run;"                                                                            \
    "CREATE VIEW params AS"                                                                        \
    "  SELECT r.uuid AS run_id, k.name AS key, p.value AS value"                                   \
    "  FROM tropt_param p"                                                                         \
    "  JOIN tropt_run r ON r.id = p.run"                                                           \
    "  JOIN tropt_key k ON k.id = p.key;"                                                          \
    "CREATE VIEW metrics AS"                                                                       \
    "  SELECT r.uuid AS run_id, m.step AS step, s.time AS time,"                                   \
    "         k.name AS key, m.value AS value"                                                     \
    "  FROM tropt_metric m"                                                                        \
    "  JOIN tropt_run r ON r.id = m.run"                                                           \
    "  JOIN tropt_step s ON s.run = m.run AND s.step = m.step"                                     \
    "  JOIN tropt_key k ON k.id = m.key;"                                                          \
    "CREATE VIEW summary AS"                                                                       \
    "  SELECT r.uuid AS run_id, k.name AS key, s.value AS value"                                   \
    "  FROM tropt_summary s"                                                                       \
    "  JOIN tropt_run r ON r.id = s.run"                                                           \
    "  JOIN tropt_key k ON k.id = s.key;"

/* Stamped after the last migration (the numbers are spliced in by the code). */
#define TSQL_SET_VERSION_FMT "PRAGMA application_id=%d; PRAGMA user_version=%d"

/* ---- Transactions ------------------------------------------------------- */

#define TSQL_BEGIN "BEGIN IMMEDIATE"
#define TSQL_COMMIT "COMMIT"
#define TSQL_ROLLBACK "ROLLBACK"

/* ---- The writer's statements -------------------------------------------- */

#define TSQL_KEY_INSERT "INSERT OR IGNORE INTO tropt_key(name) VALUES (?1)"
#define TSQL_KEY_SELECT "SELECT id FROM tropt_key WHERE name = ?1"

/* Replaying a run (same UUID) reopens its row instead of duplicating it. */
#define TSQL_RUN_UPSERT                                                                            \
    "INSERT INTO tropt_run(uuid, experiment, status, started_at, ended_at,"                        \
    "                      host, pid, config)"                                                     \
    " VALUES (?1, ?2, 'running', ?3, NULL, ?4, ?5, ?6)"                                            \
    " ON CONFLICT(uuid) DO UPDATE SET experiment = excluded.experiment,"                           \
    "   status = 'running', started_at = excluded.started_at, ended_at = NULL,"                    \
    "   host = excluded.host, pid = excluded.pid, config = excluded.config"
#define TSQL_RUN_ID "SELECT id FROM tropt_run WHERE uuid = ?1"
#define TSQL_RUN_END "UPDATE tropt_run SET status = ?2, ended_at = ?3 WHERE id = ?1"

#define TSQL_PARAM_CLEAR "DELETE FROM tropt_param WHERE run = ?1"
#define TSQL_PARAM_INSERT                                                                          \
    "INSERT OR REPLACE INTO tropt_param(run, key, value, kind) VALUES (?1, ?2, ?3, ?4)"
#define TSQL_SUMMARY_CLEAR "DELETE FROM tropt_summary WHERE run = ?1"
#define TSQL_SUMMARY_INSERT                                                                        \
    "INSERT OR REPLACE INTO tropt_summary(run, key, value, kind) VALUES (?1, ?2, ?3, ?4)"

/* OR REPLACE: replaying a step writes it once. */
#define TSQL_STEP_INSERT "INSERT OR REPLACE INTO tropt_step(run, step, time) VALUES (?1, ?2, ?3)"
#define TSQL_METRIC_INSERT                                                                         \
    "INSERT OR REPLACE INTO tropt_metric(run, step, key, value, kind)"                             \
    " VALUES (?1, ?2, ?3, ?4, ?5)"
/* The same for TSQL_METRIC_ROWS rows at once (parameters 5 per row, in
 * order): one statement execution per 8 rows instead of per row. */
#define TSQL_METRIC_ROWS 8
#define TSQL_METRIC_ROW_ "(?, ?, ?, ?, ?)"
#define TSQL_METRIC_INSERT_N                                                                       \
    "INSERT OR REPLACE INTO tropt_metric(run, step, key, value, kind) VALUES "                     \
    TSQL_METRIC_ROW_ "," TSQL_METRIC_ROW_ "," TSQL_METRIC_ROW_ "," TSQL_METRIC_ROW_                \
    "," TSQL_METRIC_ROW_ "," TSQL_METRIC_ROW_ "," TSQL_METRIC_ROW_ "," TSQL_METRIC_ROW_

/* Stale runs: `running` rows of this host whose pid is gone.  The candidates
 * are read first (?1 host, ?2 own pid, which is alive by definition), then
 * each dead one is marked under the write lock, re-checking its status. */
#define TSQL_STALE_CANDIDATES                                                                      \
    "SELECT id, pid FROM tropt_run WHERE status = 'running' AND host = ?1 AND pid <> ?2"
#define TSQL_STALE_MARK                                                                            \
    "UPDATE tropt_run SET status = 'crashed', ended_at = coalesce("                                \
    "  (SELECT max(time) FROM tropt_step WHERE run = ?1), started_at)"                             \
    " WHERE id = ?1 AND status = 'running'"

/* ---- `tropt runs` / `tropt show` ---------------------------------------- */

/* experiment, uuid, status, started_at, host, pid, steps, last loss, best loss */
#define TSQL_CLI_RUNS                                                                              \
    "WITH lk AS (SELECT id FROM tropt_key WHERE name = 'loss')"                                    \
    " SELECT r.experiment, r.uuid, r.status, r.started_at, r.host, r.pid,"                         \
    "  (SELECT count(*) FROM tropt_step s WHERE s.run = r.id),"                                    \
    "  (SELECT m.value FROM tropt_metric m WHERE m.run = r.id"                                     \
    "     AND m.key = (SELECT id FROM lk) ORDER BY m.step DESC LIMIT 1),"                          \
    "  (SELECT m.kind FROM tropt_metric m WHERE m.run = r.id"                                      \
    "     AND m.key = (SELECT id FROM lk) ORDER BY m.step DESC LIMIT 1),"                          \
    "  (SELECT min(m.value) FROM tropt_metric m WHERE m.run = r.id"                                \
    "     AND m.key = (SELECT id FROM lk)"                                                         \
    "     AND typeof(m.value) IN ('integer', 'real'))"                                             \
    " FROM tropt_run r ORDER BY r.started_at, r.id"

/* Runs whose UUID starts with ?1 (?2 = its length); a handful is enough to
 * tell a unique prefix and to list an ambiguous one. */
#define TSQL_CLI_FIND                                                                              \
    "SELECT id, uuid, experiment, status, started_at, ended_at, host, pid,"                        \
    "       config, (SELECT count(*) FROM tropt_step s WHERE s.run = r.id)"                        \
    " FROM tropt_run r WHERE substr(uuid, 1, ?2) = ?1 ORDER BY uuid LIMIT 6"

#define TSQL_CLI_PARAMS                                                                            \
    "SELECT k.name, p.value, p.kind FROM tropt_param p"                                            \
    " JOIN tropt_key k ON k.id = p.key WHERE p.run = ?1 ORDER BY k.id"
#define TSQL_CLI_SUMMARY                                                                           \
    "SELECT k.name, s.value, s.kind FROM tropt_summary s"                                          \
    " JOIN tropt_key k ON k.id = s.key WHERE s.run = ?1 ORDER BY k.id"
/* The last value of every key (SQLite takes the bare columns from the row
 * holding max(step)). */
#define TSQL_CLI_LAST                                                                              \
    "SELECT k.name, m.value, m.kind, max(m.step) FROM tropt_metric m"                              \
    " JOIN tropt_key k ON k.id = m.key WHERE m.run = ?1"                                           \
    " GROUP BY m.key ORDER BY m.key"

#endif /* TROPT_SQLITE_SQL_H */
