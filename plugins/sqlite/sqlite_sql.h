/*
 * plugins/sqlite/sqlite_sql.h - every SQL string of the sqlite backend and of
 * `tropt runs` / `tropt show`, in one place.
 *
 * Storage (schema version 2, PRAGMA user_version = 2, application_id "Trop"):
 *
 *   tropt_key      interned key names; every other table refers to a key by
 *                  its integer id, so a key costs its text once per database.
 *   tropt_run      one row per run; integer rowid `id`, the UUID in `uuid`,
 *                  and where its rows of tropt_log lie (see below).
 *   tropt_log      one row per logged field: run, step, key, time, value,
 *                  kind, in a plain rowid table that is only ever appended
 *                  to (a step that carried no field gets one row with key
 *                  NULL, so that it still counts).  No index: a commit
 *                  writes the rightmost leaf and nothing else.
 *   tropt_param    (run, key) -> value, kind: the flattened config.
 *   tropt_summary  (run, key) -> value, kind: the flattened summary.
 *
 * Finding a run's rows without an index.  Rows are appended, so a run's
 * rows lie between two rowids, interleaved only with those of runs written
 * at the same time.  tropt_run records:
 *   first_row   the rowid of the run's first row (NULL: no row yet), set in
 *               the transaction that writes it;
 *   last_row    the rowid of its last row as of the last progress stamp;
 *               final once the run is no longer `running`;
 *   steps       the number of distinct steps as of that stamp;
 *   max_step    the largest step as of that stamp (NULL: none).
 * A writer stamps the progress with its first rows, then at most once a
 * second, at finish and when a run is marked crashed; readers add the rows
 * after last_row of a run that is still running.  Every per-run query is a
 * rowid range scan, as it was a primary-key range scan before.
 *
 * Uniqueness of (run, step, key): the host hands a backend unique keys per
 * step, and a step larger than any the run stored cannot exist yet, so such
 * steps are appended without a lookup.  A step that may already be stored
 * (a replayed run, an explicit step number at or below the largest one) goes
 * through the connection's TEMP table tropt_seen, built from the run's rows
 * the first time it is needed: rows found there are updated in place, the
 * others appended.
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
 * transaction.  TSQL_MIGRATE_0_1 is the version 1 schema as it shipped and
 * must not change: a new database is made by running every migration.
 */
#ifndef TROPT_SQLITE_SQL_H
#define TROPT_SQLITE_SQL_H

#define TSQL_SCHEMA_VERSION 2
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

/* The last rowid of the rows of run alias r: final unless it is running. */
#define TSQL_R_END "(CASE WHEN r.status = 'running' THEN 9223372036854775807 ELSE r.last_row END)"
/* Its number of steps: the progress stamp plus, while it runs, the new steps
 * of the rows after the stamp. */
#define TSQL_R_STEPS                                                                               \
    "(r.steps + CASE WHEN r.status = 'running' THEN"                                               \
    " (SELECT count(DISTINCT t.step) FROM tropt_log t"                                             \
    "  WHERE t.rowid > coalesce(r.last_row, r.first_row - 1) AND t.run = r.id"                     \
    "  AND t.step > coalesce(r.max_step, -1)) ELSE 0 END)"

/* From an empty database (user_version 0) to version 1 (as shipped). */
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

/* Version 1 to 2: tropt_step + tropt_metric (WITHOUT ROWID, a B-tree search
 * per row and three pages per commit) become the append-only tropt_log with
 * the time in every row; each run's rowid range and progress go into
 * tropt_run.  Rows are copied in (run, step, key) order, so every run's rows
 * are contiguous.  In the metrics view, the unary + on m.run and m.key keeps
 * SQLite from building an automatic index over the whole table for them
 * (seconds per million rows): a run's rows are read as its rowid range, or
 * the table is scanned once. */
#define TSQL_MIGRATE_1_2                                                                           \
    "ALTER TABLE tropt_run ADD COLUMN first_row INTEGER;"                                          \
    "ALTER TABLE tropt_run ADD COLUMN last_row INTEGER;"                                           \
    "ALTER TABLE tropt_run ADD COLUMN steps INTEGER NOT NULL DEFAULT 0;"                           \
    "ALTER TABLE tropt_run ADD COLUMN max_step INTEGER;"                                           \
    "CREATE TABLE tropt_log ("                                                                     \
    "  run INTEGER NOT NULL,"                                                                      \
    "  step INTEGER NOT NULL,"                                                                     \
    "  key INTEGER,"                                                                               \
    "  time REAL NOT NULL,"                                                                        \
    "  value,"                                                                                     \
    "  kind INTEGER);"                                                                             \
    "INSERT INTO tropt_log(run, step, key, time, value, kind)"                                     \
    "  SELECT s.run, s.step, m.key, s.time, m.value, m.kind"                                       \
    "  FROM tropt_step s LEFT JOIN tropt_metric m ON m.run = s.run AND m.step = s.step"            \
    "  ORDER BY s.run, s.step, m.key;"                                                             \
    "UPDATE tropt_run SET first_row = g.lo, last_row = g.hi, steps = g.n, max_step = g.ms"         \
    "  FROM (SELECT run, min(rowid) AS lo, max(rowid) AS hi, count(DISTINCT step) AS n,"           \
    "               max(step) AS ms FROM tropt_log GROUP BY run) AS g"                             \
    "  WHERE g.run = tropt_run.id;"                                                                \
    "DROP VIEW metrics;"                                                                           \
    "DROP TABLE tropt_metric;"                                                                     \
    "DROP TABLE tropt_step;"                                                                       \
    "CREATE VIEW metrics AS"                                                                       \
    "  SELECT r.uuid AS run_id, m.step AS step, m.time AS time,"                                   \
    "         k.name AS key, m.value AS value"                                                     \
    "  FROM tropt_run r"                                                                           \
    "  JOIN tropt_log m ON m.rowid BETWEEN r.first_row AND " TSQL_R_END "    AND +m.run = r.id"    \
    "  JOIN tropt_key k ON k.id = +m.key;"

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

/* Progress of the open run (see the top of this file). */
/* Read before a run is (re)opened: where its rows are, and its status then. */
#define TSQL_RUN_STATE                                                                             \
    "SELECT first_row, last_row, steps, max_step, status FROM tropt_run WHERE uuid = ?1"
#define TSQL_RUN_PROGRESS                                                                          \
    "UPDATE tropt_run SET first_row = ?2, last_row = ?3, steps = ?4, max_step = ?5 WHERE id = ?1"

/* Appending rows: ?1 run, ?2 step, ?3 time, then key, value, kind per row
 * (parameters 4 + 3i, 5 + 3i, 6 + 3i for row i).  The statement for n rows
 * is TSQL_LOG_INSERT followed by n - 1 times TSQL_LOG_INSERT_MORE; one step
 * of up to TSQL_LOG_ROWS fields is one statement execution. */
#define TSQL_LOG_ROWS 16
#define TSQL_LOG_INSERT                                                                            \
    "INSERT INTO tropt_log(run, step, time, key, value, kind) VALUES (?1, ?2, ?3, ?, ?, ?)"
#define TSQL_LOG_INSERT_MORE ", (?1, ?2, ?3, ?, ?, ?)"

/* The checked path for steps that may already be stored.  tropt_seen maps
 * (step, key) to the row holding it (key 0: the row of a step without
 * fields); it lives in the connection's TEMP database, so it costs the file
 * nothing and disappears with the connection. */
#define TSQL_SEEN_CREATE                                                                           \
    "CREATE TEMP TABLE IF NOT EXISTS tropt_seen(step INTEGER NOT NULL,"                            \
    " key INTEGER NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY (step, key)) WITHOUT ROWID"
#define TSQL_SEEN_CLEAR "DELETE FROM temp.tropt_seen"
/* ?1 run, ?2 .. ?3 the rowids its rows may have. */
#define TSQL_SEEN_LOAD                                                                             \
    "INSERT OR REPLACE INTO temp.tropt_seen(step, key, rid)"                                       \
    " SELECT step, coalesce(key, 0), rowid FROM main.tropt_log"                                    \
    " WHERE rowid BETWEEN ?2 AND ?3 AND run = ?1 ORDER BY rowid"
#define TSQL_SEEN_STATS "SELECT count(DISTINCT step), max(step) FROM temp.tropt_seen"
#define TSQL_SEEN_ADD "INSERT OR REPLACE INTO temp.tropt_seen(step, key, rid) VALUES (?1, ?2, ?3)"
#define TSQL_SEEN_STEP "SELECT 1 FROM temp.tropt_seen WHERE step = ?1 LIMIT 1"
#define TSQL_SEEN_FIND "SELECT rid FROM temp.tropt_seen WHERE step = ?1 AND key = ?2"
/* A step written again takes the new time (in all its rows, as before). */
#define TSQL_LOG_RETIME                                                                            \
    "UPDATE main.tropt_log SET time = ?2"                                                          \
    " WHERE rowid IN (SELECT rid FROM temp.tropt_seen WHERE step = ?1)"
#define TSQL_LOG_UPDATE "UPDATE main.tropt_log SET value = ?2, kind = ?3 WHERE rowid = ?1"

/* Stale runs: `running` rows of this host whose pid is gone.  The candidates
 * are read first (?1 host, ?2 own pid, which is alive by definition), then
 * each dead one is marked under the write lock, re-checking its status.
 * Only the rows after the last progress stamp are read (at most a second of
 * the dead writer's rows): they give the end time and complete the stamp. */
#define TSQL_STALE_CANDIDATES                                                                      \
    "SELECT id, pid FROM tropt_run WHERE status = 'running' AND host = ?1 AND pid <> ?2"
#define TSQL_STALE_TAIL_                                                                           \
    "FROM tropt_log t WHERE t.rowid >= coalesce(last_row, first_row) AND t.run = ?1"
#define TSQL_STALE_MARK                                                                            \
    "UPDATE tropt_run SET status = 'crashed',"                                                     \
    "  ended_at = coalesce((SELECT max(t.time) " TSQL_STALE_TAIL_ "), started_at),"                \
    "  steps = steps + (SELECT count(DISTINCT t.step) " TSQL_STALE_TAIL_                           \
    "    AND t.step > coalesce(max_step, -1)),"                                                    \
    "  max_step = coalesce((SELECT max(t.step) " TSQL_STALE_TAIL_ "), max_step),"                  \
    "  last_row = coalesce((SELECT max(t.rowid) " TSQL_STALE_TAIL_ "), last_row)"                  \
    " WHERE id = ?1 AND status = 'running'"

/* ---- `tropt runs` / `tropt show` ---------------------------------------- */

/* The loss rows of run alias r (lk: the CTE holding the id of key loss). */
#define TSQL_R_LOSS_ROWS                                                                           \
    "FROM tropt_log m WHERE m.rowid BETWEEN r.first_row AND " TSQL_R_END                           \
    " AND m.run = r.id AND m.key = (SELECT id FROM lk)"

/* experiment, uuid, status, started_at, host, pid, steps, last loss, its
 * kind, best loss.  The last loss is that of the largest step: the newest
 * loss row (read backwards from the run's end, so at once) when its step is
 * the run's final max_step, else found by a scan (a running run, or one
 * whose last step logged no loss or was re-logged). */
#define TSQL_CLI_RUNS                                                                              \
    "WITH lk AS (SELECT id FROM tropt_key WHERE name = 'loss')"                                    \
    " SELECT x.experiment, x.uuid, x.status, x.started_at, x.host, x.pid, x.steps,"                \
    "  l.value, l.kind, x.best FROM ("                                                             \
    "  SELECT r.id, r.experiment, r.uuid, r.status, r.started_at, r.host, r.pid,"                  \
    "   " TSQL_R_STEPS " AS steps,"                                                                \
    "   (SELECT CASE WHEN r.status <> 'running' AND f.step >= r.max_step THEN f.rowid"             \
    "     ELSE (SELECT m.rowid " TSQL_R_LOSS_ROWS                                                  \
    "      ORDER BY m.step DESC, m.rowid DESC LIMIT 1) END"                                        \
    "    FROM (SELECT m.rowid, m.step " TSQL_R_LOSS_ROWS                                           \
    "     ORDER BY m.rowid DESC LIMIT 1) AS f) AS last_rid,"                                       \
    "   (SELECT min(m.value) " TSQL_R_LOSS_ROWS                                                    \
    "     AND typeof(m.value) IN ('integer', 'real')) AS best"                                     \
    "  FROM tropt_run r) x"                                                                        \
    " LEFT JOIN tropt_log l ON l.rowid = x.last_rid"                                               \
    " ORDER BY x.started_at, x.id"

/* Runs whose UUID starts with ?1 (?2 = its length); a handful is enough to
 * tell a unique prefix and to list an ambiguous one.  The last two columns
 * are the run's rowid range in tropt_log (NULL: no rows). */
#define TSQL_CLI_FIND                                                                              \
    "SELECT id, uuid, experiment, status, started_at, ended_at, host, pid,"                        \
    "       config, " TSQL_R_STEPS ", first_row, " TSQL_R_END                                      \
    " FROM tropt_run r WHERE substr(uuid, 1, ?2) = ?1 ORDER BY uuid LIMIT 6"

#define TSQL_CLI_PARAMS                                                                            \
    "SELECT k.name, p.value, p.kind FROM tropt_param p"                                            \
    " JOIN tropt_key k ON k.id = p.key WHERE p.run = ?1 ORDER BY k.id"
#define TSQL_CLI_SUMMARY                                                                           \
    "SELECT k.name, s.value, s.kind FROM tropt_summary s"                                          \
    " JOIN tropt_key k ON k.id = s.key WHERE s.run = ?1 ORDER BY k.id"
/* The rows of run ?1 between rowids ?2 and ?3, in one pass: `tropt show`
 * keeps the row of the largest step per key (no sort of the run's rows). */
#define TSQL_CLI_ROWS                                                                              \
    "SELECT key, step, value, kind FROM tropt_log"                                                 \
    " WHERE rowid BETWEEN ?2 AND ?3 AND run = ?1 AND key IS NOT NULL"
#define TSQL_CLI_KEY "SELECT name FROM tropt_key WHERE id = ?1"

/* The same queries on a version 1 file (the CLI only reads, so it cannot
 * upgrade one; a tracker opening it does). */
#define TSQL_CLI_RUNS_V1                                                                           \
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
#define TSQL_CLI_FIND_V1                                                                           \
    "SELECT id, uuid, experiment, status, started_at, ended_at, host, pid,"                        \
    "       config, (SELECT count(*) FROM tropt_step s WHERE s.run = r.id), 0, 0"                  \
    " FROM tropt_run r WHERE substr(uuid, 1, ?2) = ?1 ORDER BY uuid LIMIT 6"
#define TSQL_CLI_ROWS_V1 "SELECT key, step, value, kind FROM tropt_metric WHERE run = ?1"

#endif /* TROPT_SQLITE_SQL_H */
