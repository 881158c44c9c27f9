/*
 * plugins/sqlite/sqlite_sql.h - every SQL string of the sqlite backend and of
 * `tropt runs` / `tropt show`, in one place.
 *
 * Storage (schema version 3, PRAGMA user_version = 3, application_id "Trop"):
 *
 *   tropt_key      interned key names; every other table refers to a key by
 *                  its integer id (ids start at 1), so a key costs its text
 *                  once per database.
 *   tropt_run      one row per run; integer rowid `id`, the UUID in `uuid`,
 *                  and `pidns`, the writer's pid namespace (see
 *                  TSQL_STALE_CANDIDATES).
 *   tropt_val      one row per logged field, (run, step, key) -> value,
 *                  kind, clustered on that primary key (WITHOUT ROWID): a
 *                  run's rows are one contiguous range of the B-tree, in step
 *                  order, whoever else wrote at the same time.  Every step
 *                  also has one row of key 0 whose value is the step's time:
 *                  the time is stored once per step, next to the step's
 *                  values (same leaf page), and a step without fields still
 *                  counts.  A writer appending steps writes one leaf page of
 *                  its run per commit.
 *   tropt_stat     (run, key) -> n, last_step, last_value, last_kind, lo, hi,
 *                  nan_step: per run and key the number of values, the value
 *                  of the largest step and its kind, the smallest and largest
 *                  INTEGER/REAL value (NULL: none), the first step whose
 *                  value was NaN (NULL: none), over the run's steps up to S,
 *                  the last_step of the run's key-0 row (the steps: n steps,
 *                  the largest S, its time; lo/hi the earliest and latest
 *                  step time).  A run's rows above S (its "tail") are not
 *                  counted yet: readers add them (TSQL_TAIL_: an index range
 *                  of at most about a second of the writer's rows, empty once
 *                  the run has finished or was marked crashed).  `tropt runs`,
 *                  `tropt show` and the view stats so never scan the rows
 *                  before S, whatever the size of the file.
 *   tropt_param    (run, key) -> value, kind: the flattened config.
 *   tropt_summary  (run, key) -> value, kind: the flattened summary.
 *
 * Writing.  A step larger than any the run stored (the writer keeps the
 * largest, read with one B-tree seek when a run is reopened) is new: its rows
 * are inserted without a lookup.  The writer aggregates what it writes per
 * key in memory and merges it into tropt_stat (one upsert per key, raising
 * S to its largest step) inside the transaction that writes rows when a
 * second has passed since the last merge, when the transaction holds many
 * steps, at finish, and whenever it writes a step at or below S.  Such a
 * step may already be stored and is looked up row by row: new rows are
 * inserted, changed ones updated, and the statistics of their keys
 * recomputed from the run's rows in that transaction (rows rewritten with
 * the same value change nothing).  The rows a writer that died left above
 * S are folded in (TSQL_STAT_FOLD_*) when its run is marked crashed or
 * reopened.  Per-step commits so pay one B-tree page per commit, as before
 * schema 3; the statistics cost a page once a second.
 *
 * `value` has no declared type, so SQLite keeps the storage class it is
 * given: INTEGER, REAL (+-Inf included), TEXT or NULL.  `kind` records what
 * the SQL type alone cannot say: NULL (the SQL type says it all), 1 boolean
 * (value INTEGER 0/1), 2 NaN (value NULL), 3 JSON text (an array or an empty
 * object kept whole).  A JSON null is value NULL, kind NULL.
 *
 * The public contract is the four views runs, params, metrics, summary with
 * the columns of SPEC section 6, plus (from version 3) the view stats of the
 * per-run, per-key statistics; the tables behind them may change between
 * schema versions.  A later release adds a migration (TSQL_MIGRATE_<n>_<n+1>)
 * and bumps TSQL_SCHEMA_VERSION; opening an older database upgrades it in one
 * transaction.  TSQL_MIGRATE_0_1 is the version 1 schema as it shipped and
 * must not change: a new database is made by running every migration.
 */
#ifndef TROPT_SQLITE_SQL_H
#define TROPT_SQLITE_SQL_H

#define TSQL_SCHEMA_VERSION 3
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

/* ---- Schema and migrations ---------------------------------------------- */

/* Version 2 (tropt_log, rowid ranges in tropt_run): used by TSQL_MIGRATE_1_2
 * and by readers of a version 2 file.  The last rowid of the rows of run
 * alias r: final unless it is running. */
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

/* The metrics view from version 3 on (also what a reader shows, with the
 * kind column added: TSQL_METRICS_COLS_ then the kind). */
#define TSQL_METRICS_COLS_                                                                         \
    "  SELECT r.uuid AS run_id, m.step AS step, t.value AS time,"                                  \
    "         k.name AS key, m.value AS value"
#define TSQL_METRICS_FROM_                                                                         \
    "  FROM tropt_run r"                                                                           \
    "  JOIN tropt_val m ON m.run = r.id AND m.key > 0"                                             \
    "  JOIN tropt_val t ON t.run = m.run AND t.step = m.step AND t.key = 0"                        \
    "  JOIN tropt_key k ON k.id = m.key"
/* The numeric values a statistic's lo/hi consider (as min(value) over the
 * metrics did in `tropt runs`: INTEGER, booleans included, and REAL). */
#define TSQL_NUM_V_ "CASE WHEN typeof(value) IN ('integer', 'real') THEN value END"
#define TSQL_NUM_TV_ "CASE WHEN typeof(t.value) IN ('integer', 'real') THEN t.value END"

/* Version 2 to 3: tropt_log (a rowid table found through each run's rowid
 * range, time in every row) becomes the clustered tropt_val with the time in
 * one key-0 row per step, and tropt_stat is computed once from it.  The
 * progress columns of tropt_run go.  All in the one upgrade transaction. */
#define TSQL_MIGRATE_2_3                                                                           \
    "CREATE TABLE tropt_val ("                                                                     \
    "  run INTEGER NOT NULL,"                                                                      \
    "  step INTEGER NOT NULL,"                                                                     \
    "  key INTEGER NOT NULL,"                                                                      \
    "  value,"                                                                                     \
    "  kind INTEGER,"                                                                              \
    "  PRIMARY KEY (run, step, key)) WITHOUT ROWID;"                                               \
    "INSERT INTO tropt_val(run, step, key, value, kind)"                                           \
    "  SELECT run, step, 0, max(time), NULL FROM tropt_log GROUP BY run, step;"                    \
    "INSERT OR REPLACE INTO tropt_val(run, step, key, value, kind)"                                \
    "  SELECT run, step, key, value, kind FROM tropt_log WHERE key IS NOT NULL"                    \
    "  ORDER BY run, step, key, rowid;"                                                            \
    "CREATE TABLE tropt_stat ("                                                                    \
    "  run INTEGER NOT NULL,"                                                                      \
    "  key INTEGER NOT NULL,"                                                                      \
    "  n INTEGER NOT NULL,"                                                                        \
    "  last_step INTEGER NOT NULL,"                                                                \
    "  last_value,"                                                                                \
    "  last_kind INTEGER,"                                                                         \
    "  lo,"                                                                                        \
    "  hi,"                                                                                        \
    "  nan_step INTEGER,"                                                                          \
    "  PRIMARY KEY (run, key)) WITHOUT ROWID;"                                                     \
    "INSERT INTO tropt_stat(run, key, n, last_step, last_value, last_kind)"                        \
    "  SELECT run, key, count(*), max(step), value, kind FROM tropt_val GROUP BY run, key;"        \
    "UPDATE tropt_stat SET lo = g.lo, hi = g.hi, nan_step = g.ns"                                  \
    "  FROM (SELECT run, key, min(" TSQL_NUM_V_ ") AS lo, max(" TSQL_NUM_V_ ") AS hi,"             \
    "               min(CASE WHEN kind = 2 THEN step END) AS ns"                                   \
    "        FROM tropt_val GROUP BY run, key) AS g"                                               \
    "  WHERE g.run = tropt_stat.run AND g.key = tropt_stat.key;"                                   \
    "DROP VIEW metrics;"                                                                           \
    "DROP TABLE tropt_log;"                                                                        \
    "ALTER TABLE tropt_run DROP COLUMN first_row;"                                                 \
    "ALTER TABLE tropt_run DROP COLUMN last_row;"                                                  \
    "ALTER TABLE tropt_run DROP COLUMN steps;"                                                     \
    "ALTER TABLE tropt_run DROP COLUMN max_step;"                                                  \
    "ALTER TABLE tropt_run ADD COLUMN pidns TEXT;"                                                 \
    "CREATE VIEW metrics AS" TSQL_METRICS_COLS_ TSQL_METRICS_FROM_ ";"                             \
    "CREATE VIEW stats AS"                                                                         \
    "  WITH sr AS (SELECT r.id AS run, r.uuid, coalesce(s0.last_step, -1) AS s"                    \
    "    FROM tropt_run r LEFT JOIN tropt_stat s0 ON s0.run = r.id AND s0.key = 0),"               \
    "  tail AS (SELECT t.run, t.key, count(*) AS n, max(t.step) AS last_step,"                     \
    "    min(" TSQL_NUM_TV_ ") AS lo, max(" TSQL_NUM_TV_ ") AS hi,"                                \
    "    min(CASE WHEN t.kind = 2 THEN t.step END) AS ns"                                          \
    "    FROM sr JOIN tropt_val t ON t.run = sr.run AND t.step > sr.s AND t.key > 0"               \
    "    GROUP BY t.run, t.key),"                                                                  \
    "  u AS (SELECT run, key FROM tropt_stat WHERE key > 0 UNION SELECT run, key FROM tail)"       \
    "  SELECT sr.uuid AS run_id, k.name AS key, coalesce(s.n, 0) + coalesce(g.n, 0) AS count,"     \
    "    coalesce(g.last_step, s.last_step) AS last_step,"                                         \
    "    CASE WHEN g.n IS NULL THEN s.last_value ELSE (SELECT v.value FROM tropt_val v"            \
    "      WHERE v.run = u.run AND v.step = g.last_step AND v.key = u.key) END AS last_value,"     \
    "    min(coalesce(s.lo, g.lo), coalesce(g.lo, s.lo)) AS min,"                                  \
    "    max(coalesce(s.hi, g.hi), coalesce(g.hi, s.hi)) AS max,"                                  \
    "    coalesce(s.nan_step, g.ns) AS first_nan_step"                                             \
    "  FROM u JOIN sr ON sr.run = u.run JOIN tropt_key k ON k.id = u.key"                          \
    "  LEFT JOIN tropt_stat s ON s.run = u.run AND s.key = u.key"                                  \
    "  LEFT JOIN tail g ON g.run = u.run AND g.key = u.key;"

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
    "                      host, pid, config, pidns)"                                              \
    " VALUES (?1, ?2, 'running', ?3, NULL, ?4, ?5, ?6, ?7)"                                        \
    " ON CONFLICT(uuid) DO UPDATE SET experiment = excluded.experiment,"                           \
    "   status = 'running', started_at = excluded.started_at, ended_at = NULL,"                    \
    "   host = excluded.host, pid = excluded.pid, config = excluded.config,"                       \
    "   pidns = excluded.pidns"
#define TSQL_RUN_ID "SELECT id FROM tropt_run WHERE uuid = ?1"
#define TSQL_RUN_END "UPDATE tropt_run SET status = ?2, ended_at = ?3 WHERE id = ?1"

#define TSQL_PARAM_CLEAR "DELETE FROM tropt_param WHERE run = ?1"
#define TSQL_PARAM_INSERT                                                                          \
    "INSERT OR REPLACE INTO tropt_param(run, key, value, kind) VALUES (?1, ?2, ?3, ?4)"
#define TSQL_SUMMARY_CLEAR "DELETE FROM tropt_summary WHERE run = ?1"
#define TSQL_SUMMARY_INSERT                                                                        \
    "INSERT OR REPLACE INTO tropt_summary(run, key, value, kind) VALUES (?1, ?2, ?3, ?4)"

/* Read when a run is (re)opened: its largest step stored (NULL: none; a
 * seek to the end of the run's range), and S (no row: -1). */
#define TSQL_RUN_MAX_STEP "SELECT max(step) FROM tropt_val WHERE run = ?1"
#define TSQL_RUN_STAT_STEP "SELECT last_step FROM tropt_stat WHERE run = ?1 AND key = 0"

/* Appending rows: ?1 run, ?2 step, then key, value, kind per row
 * (parameters 3 + 3i, 4 + 3i, 5 + 3i for row i).  The statement for n rows
 * is TSQL_VAL_INSERT followed by n - 1 times TSQL_VAL_INSERT_MORE; a step's
 * time row and up to TSQL_VAL_ROWS - 1 fields are one statement execution. */
#define TSQL_VAL_ROWS 16
#define TSQL_VAL_INSERT                                                                            \
    "INSERT INTO tropt_val(run, step, key, value, kind) VALUES (?1, ?2, ?, ?, ?)"
#define TSQL_VAL_INSERT_MORE ", (?1, ?2, ?, ?, ?)"

/* The checked path (a step that may be stored): ?1 run, ?2 step, ?3 key. */
#define TSQL_VAL_FIND "SELECT value, kind FROM tropt_val WHERE run = ?1 AND step = ?2 AND key = ?3"
#define TSQL_VAL_UPDATE                                                                            \
    "UPDATE tropt_val SET value = ?4, kind = ?5 WHERE run = ?1 AND step = ?2 AND key = ?3"

/* Merging a batch's aggregates of n keys into tropt_stat: ?1 run, then per
 * key its id, n, last_step, last_value, last_kind, lo, hi, nan_step
 * (parameters 2 + 8i ... 9 + 8i), TSQL_STAT_INSERT followed by n - 1 times
 * TSQL_STAT_INSERT_MORE, then TSQL_STAT_MERGE.  In the DO UPDATE, a bare
 * column is the stored row's value (before the update). */
#define TSQL_STAT_ROWS 16
#define TSQL_STAT_INSERT                                                                           \
    "INSERT INTO tropt_stat(run, key, n, last_step, last_value, last_kind, lo, hi, nan_step)"      \
    " VALUES (?1, ?, ?, ?, ?, ?, ?, ?, ?)"
#define TSQL_STAT_INSERT_MORE ", (?1, ?, ?, ?, ?, ?, ?, ?, ?)"
#define TSQL_STAT_MERGE                                                                            \
    " ON CONFLICT(run, key) DO UPDATE SET n = n + excluded.n,"                                     \
    "  last_value = CASE WHEN excluded.last_step >= last_step"                                     \
    "    THEN excluded.last_value ELSE last_value END,"                                            \
    "  last_kind = CASE WHEN excluded.last_step >= last_step"                                      \
    "    THEN excluded.last_kind ELSE last_kind END,"                                              \
    "  last_step = max(last_step, excluded.last_step),"                                            \
    "  lo = CASE WHEN lo IS NULL OR excluded.lo < lo THEN excluded.lo ELSE lo END,"                \
    "  hi = CASE WHEN hi IS NULL OR excluded.hi > hi THEN excluded.hi ELSE hi END,"                \
    "  nan_step = CASE WHEN nan_step IS NULL OR excluded.nan_step < nan_step"                      \
    "    THEN excluded.nan_step ELSE nan_step END"
/* Folding the tail of run ?1 (the rows above step ?2 = S) into tropt_stat,
 * for a run whose writer died (or left without finishing): count and last
 * value first (bare columns: from the row of max(step)), then the extremes
 * and NaN step of the same rows. */
#define TSQL_STAT_FOLD_LAST                                                                        \
    "INSERT INTO tropt_stat(run, key, n, last_step, last_value, last_kind)"                        \
    " SELECT run, key, count(*), max(step), value, kind FROM tropt_val"                            \
    " WHERE run = ?1 AND step > ?2 GROUP BY key"                                                   \
    " ON CONFLICT(run, key) DO UPDATE SET n = n + excluded.n, last_step = excluded.last_step,"     \
    "  last_value = excluded.last_value, last_kind = excluded.last_kind"
#define TSQL_STAT_FOLD_RANGE                                                                       \
    "UPDATE tropt_stat SET"                                                                        \
    "  lo = min(coalesce(tropt_stat.lo, g.lo), coalesce(g.lo, tropt_stat.lo)),"                    \
    "  hi = max(coalesce(tropt_stat.hi, g.hi), coalesce(g.hi, tropt_stat.hi)),"                    \
    "  nan_step = coalesce(tropt_stat.nan_step, g.ns)"                                             \
    " FROM (SELECT key, min(" TSQL_NUM_V_ ") AS lo, max(" TSQL_NUM_V_ ") AS hi,"                   \
    "   min(CASE WHEN kind = 2 THEN step END) AS ns FROM tropt_val"                                \
    "   WHERE run = ?1 AND step > ?2 GROUP BY key) AS g"                                           \
    " WHERE tropt_stat.run = ?1 AND tropt_stat.key = g.key"
/* Recomputing the statistics of run ?1, key ?2 from its rows (after a stored
 * value was changed): one pass for the count and the last value (the bare
 * columns come from the row of max(step)), one for the rest. */
#define TSQL_STAT_RECOUNT                                                                          \
    "INSERT OR REPLACE INTO tropt_stat(run, key, n, last_step, last_value, last_kind)"             \
    " SELECT run, key, count(*), max(step), value, kind FROM tropt_val"                            \
    " WHERE run = ?1 AND key = ?2"
#define TSQL_STAT_RERANGE                                                                          \
    "UPDATE tropt_stat SET (lo, hi, nan_step) = (SELECT min(" TSQL_NUM_V_ "),"                     \
    "  max(" TSQL_NUM_V_ "), min(CASE WHEN kind = 2 THEN step END)"                                \
    "  FROM tropt_val WHERE run = ?1 AND key = ?2)"                                                \
    " WHERE run = ?1 AND key = ?2"

/* Stale runs: `running` rows of this host whose pid is gone.  The candidates
 * are read first (?1 host, ?2 own pid, which is alive by definition), then
 * each dead one is marked under the write lock, re-checking its status,
 * after its tail was folded into tropt_stat: it ended at the time of its
 * latest step (tropt_stat key 0), or when it started if it logged none. */
/* A run's pid means something only in its writer's pid namespace
 * (tropt_run.pidns, "pid:[inode]"; NULL when the writer was not the run's
 * own process, e.g. replay, or an older release): runs of another
 * namespace are never judged from here (?3 is ours, "" if unknown). */
#define TSQL_STALE_CANDIDATES                                                                      \
    "SELECT id, pid FROM tropt_run WHERE status = 'running' AND host = ?1 AND pid <> ?2"           \
    " AND coalesce(pidns, ?3) = ?3"
#define TSQL_STALE_MARK                                                                            \
    "UPDATE tropt_run SET status = 'crashed',"                                                     \
    "  ended_at = coalesce((SELECT s.hi FROM tropt_stat s WHERE s.run = ?1 AND s.key = 0),"        \
    "    started_at)"                                                                              \
    " WHERE id = ?1 AND status = 'running'"

/* ---- `tropt runs` / `tropt show` ---------------------------------------- */

/* experiment, uuid, status, started_at, host, pid, steps, last loss, its
 * kind, best loss: tropt_stat (key 0: the steps; key loss) plus the run's
 * tail (x.s: S, -1 without statistics), per run a few primary-key seeks and
 * the tail's rows, whatever the size of the file.  The last loss is that of
 * the largest step: in the tail if it has one, else the statistics'. */
#define TSQL_CLI_RUNS                                                                              \
    "WITH lk AS (SELECT id FROM tropt_key WHERE name = 'loss'),"                                   \
    " x AS (SELECT r.*, coalesce(s0.n, 0) AS n0, coalesce(s0.last_step, -1) AS s"                  \
    "  FROM tropt_run r LEFT JOIN tropt_stat s0 ON s0.run = r.id AND s0.key = 0),"                 \
    " y AS (SELECT x.*, (SELECT max(t.step) FROM tropt_val t WHERE t.run = x.id"                   \
    "   AND t.step > x.s AND t.key = (SELECT id FROM lk)) AS tl_step,"                             \
    "  (SELECT min(" TSQL_NUM_TV_ ") FROM tropt_val t WHERE t.run = x.id"                          \
    "   AND t.step > x.s AND t.key = (SELECT id FROM lk)) AS tl_lo FROM x)"                        \
    " SELECT y.experiment, y.uuid, y.status, y.started_at, y.host, y.pid,"                         \
    "  y.n0 + (SELECT count(*) FROM tropt_val t WHERE t.run = y.id AND t.step > y.s"               \
    "   AND t.key = 0),"                                                                           \
    "  CASE WHEN y.tl_step IS NULL THEN sl.last_value ELSE tl.value END,"                          \
    "  CASE WHEN y.tl_step IS NULL THEN sl.last_kind ELSE tl.kind END,"                            \
    "  min(coalesce(sl.lo, y.tl_lo), coalesce(y.tl_lo, sl.lo))"                                    \
    " FROM y"                                                                                      \
    " LEFT JOIN tropt_stat sl ON sl.run = y.id AND sl.key = (SELECT id FROM lk)"                   \
    " LEFT JOIN tropt_val tl ON tl.run = y.id AND tl.step = y.tl_step"                             \
    "  AND tl.key = (SELECT id FROM lk)"                                                           \
    " ORDER BY y.started_at, y.id"

/* S of run alias r (-1: no statistics yet). */
#define TSQL_R_S_                                                                                  \
    "coalesce((SELECT s0.last_step FROM tropt_stat s0 WHERE s0.run = r.id AND s0.key = 0), -1)"

/* Runs whose UUID starts with ?1 (?2 = its length); a handful is enough to
 * tell a unique prefix and to list an ambiguous one.  Column 10 is NULL when
 * the run has no metric value; column 11 is unused (0). */
#define TSQL_CLI_FIND                                                                              \
    "SELECT id, uuid, experiment, status, started_at, ended_at, host, pid, config,"                \
    "  coalesce((SELECT s.n FROM tropt_stat s WHERE s.run = r.id AND s.key = 0), 0)"               \
    "   + (SELECT count(*) FROM tropt_val t WHERE t.run = r.id AND t.step > " TSQL_R_S_            \
    "   AND t.key = 0),"                                                                           \
    "  coalesce((SELECT 1 FROM tropt_stat s WHERE s.run = r.id AND s.key > 0 LIMIT 1),"            \
    "   (SELECT 1 FROM tropt_val t WHERE t.run = r.id AND t.step > " TSQL_R_S_                     \
    "    AND t.key > 0 LIMIT 1)), 0"                                                               \
    " FROM tropt_run r WHERE substr(uuid, 1, ?2) = ?1 ORDER BY uuid LIMIT 6"

#define TSQL_CLI_PARAMS                                                                            \
    "SELECT k.name, p.value, p.kind FROM tropt_param p"                                            \
    " JOIN tropt_key k ON k.id = p.key WHERE p.run = ?1 ORDER BY k.id"
#define TSQL_CLI_SUMMARY                                                                           \
    "SELECT k.name, s.value, s.kind FROM tropt_summary s"                                          \
    " JOIN tropt_key k ON k.id = s.key WHERE s.run = ?1 ORDER BY k.id"
/* The last value of every key of run ?1 (key, step, value, kind): the
 * statistics, then the tail's rows (`tropt show` keeps, per key, the row of
 * the largest step). */
#define TSQL_CLI_ROWS                                                                              \
    "SELECT key, last_step, last_value, last_kind FROM tropt_stat WHERE run = ?1 AND key > 0"      \
    " UNION ALL SELECT key, step, value, kind FROM tropt_val WHERE run = ?1 AND key > 0"           \
    " AND step > coalesce((SELECT last_step FROM tropt_stat WHERE run = ?1 AND key = 0), -1)"
#define TSQL_CLI_KEY "SELECT name FROM tropt_key WHERE id = ?1"

/* The same queries on a version 2 file (the CLI only reads, so it cannot
 * upgrade one; a tracker opening it does).  The last loss is that of the
 * largest step; TSQL_CLI_ROWS_V2 reads the rows of run ?1 between rowids ?2
 * and ?3.  TSQL_CLI_FIND_V2's last two columns are that rowid range. */
/* The loss rows of run alias r (lk: the CTE holding the id of key loss). */
#define TSQL_R_LOSS_ROWS                                                                           \
    "FROM tropt_log m WHERE m.rowid BETWEEN r.first_row AND " TSQL_R_END                           \
    " AND m.run = r.id AND m.key = (SELECT id FROM lk)"

/* experiment, uuid, status, started_at, host, pid, steps, last loss, its
 * kind, best loss.  The last loss is that of the largest step: the newest
 * loss row (read backwards from the run's end, so at once) when its step is
 * the run's final max_step, else found by a scan (a running run, or one
 * whose last step logged no loss or was re-logged). */
#define TSQL_CLI_RUNS_V2                                                                           \
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
#define TSQL_CLI_FIND_V2                                                                           \
    "SELECT id, uuid, experiment, status, started_at, ended_at, host, pid,"                        \
    "       config, " TSQL_R_STEPS ", first_row, " TSQL_R_END                                      \
    " FROM tropt_run r WHERE substr(uuid, 1, ?2) = ?1 ORDER BY uuid LIMIT 6"

/* The rows of run ?1 between rowids ?2 and ?3, in one pass: `tropt show`
 * keeps the row of the largest step per key (no sort of the run's rows). */
#define TSQL_CLI_ROWS_V2                                                                           \
    "SELECT key, step, value, kind FROM tropt_log"                                                 \
    " WHERE rowid BETWEEN ?2 AND ?3 AND run = ?1 AND key IS NOT NULL"

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

/* ---- Reading back (sqlite_read.c) ---------------------------------------- */

/*
 * A reader's own views, TEMP (this connection only; the file is never
 * touched), one set per schema version, so that a file is read as it is,
 * never upgraded, and gives back exactly what was logged: the documented
 * views leave out `kind` (bool, NaN, JSON text) and the steps that logged
 * no field.  Every set has the same columns:
 *
 *   tropt_read_params   run_id, key, value, kind       the flattened config
 *   tropt_read_summary  run_id, key, value, kind       the flattened summary
 *   tropt_read_metrics  run_id, step, time, key, value, kind
 *                       one row per field; a step without fields is one row
 *                       with key, value and kind NULL.  Read by run and
 *                       step, a step's rows come in the order the file keeps
 *                       them (versions 1 and 3: key id, the order of first
 *                       appearance in the file) without a sort
 *   tropt_read_steps    run_id, step                   one row per step
 */
#define TSQL_READ_KV_                                                                              \
    "CREATE TEMP VIEW tropt_read_params AS SELECT r.uuid AS run_id, k.name AS key,"                \
    " p.value AS value, p.kind AS kind FROM main.tropt_param p"                                    \
    " JOIN main.tropt_run r ON r.id = p.run JOIN main.tropt_key k ON k.id = p.key;"                \
    "CREATE TEMP VIEW tropt_read_summary AS SELECT r.uuid AS run_id, k.name AS key,"               \
    " s.value AS value, s.kind AS kind FROM main.tropt_summary s"                                  \
    " JOIN main.tropt_run r ON r.id = s.run JOIN main.tropt_key k ON k.id = s.key;"

/* Version 1: tropt_step (one row per step, its time) and tropt_metric. */
#define TSQL_READ_V1                                                                               \
    TSQL_READ_KV_                                                                                  \
    "CREATE TEMP VIEW tropt_read_metrics AS SELECT r.uuid AS run_id, s.step AS step,"              \
    " s.time AS time, k.name AS key, m.value AS value, m.kind AS kind"                             \
    " FROM main.tropt_run r JOIN main.tropt_step s ON s.run = r.id"                                \
    " LEFT JOIN main.tropt_metric m ON m.run = s.run AND m.step = s.step"                          \
    " LEFT JOIN main.tropt_key k ON k.id = m.key;"                                                 \
    "CREATE TEMP VIEW tropt_read_steps AS SELECT r.uuid AS run_id, s.step AS step"                 \
    " FROM main.tropt_run r JOIN main.tropt_step s ON s.run = r.id;"

/* Version 2: tropt_log, the time in every row, a step without fields as a
 * row of key NULL; each run's rows are its rowid range (TSQL_R_END). */
#define TSQL_READ_V2                                                                               \
    TSQL_READ_KV_                                                                                  \
    "CREATE TEMP VIEW tropt_read_metrics AS SELECT r.uuid AS run_id, m.step AS step,"              \
    " m.time AS time, k.name AS key, m.value AS value, m.kind AS kind"                             \
    " FROM main.tropt_run r JOIN main.tropt_log m ON m.rowid BETWEEN r.first_row"                  \
    " AND " TSQL_R_END " AND +m.run = r.id LEFT JOIN main.tropt_key k ON k.id = +m.key;"           \
    "CREATE TEMP VIEW tropt_read_steps AS SELECT DISTINCT r.uuid AS run_id, m.step AS step"        \
    " FROM main.tropt_run r JOIN main.tropt_log m ON m.rowid BETWEEN r.first_row"                  \
    " AND " TSQL_R_END " AND +m.run = r.id;"

/* Version 3: tropt_val, every step a key-0 row holding its time, then the
 * step's fields (key > 0) in key order beside it. */
#define TSQL_READ_V3                                                                               \
    TSQL_READ_KV_                                                                                  \
    "CREATE TEMP VIEW tropt_read_metrics AS SELECT r.uuid AS run_id, t.step AS step,"              \
    " t.value AS time, k.name AS key, m.value AS value, m.kind AS kind"                            \
    " FROM main.tropt_run r JOIN main.tropt_val t ON t.run = r.id AND t.key = 0"                   \
    " LEFT JOIN main.tropt_val m ON m.run = t.run AND m.step = t.step AND m.key > 0"               \
    " LEFT JOIN main.tropt_key k ON k.id = m.key;"                                                 \
    "CREATE TEMP VIEW tropt_read_steps AS SELECT r.uuid AS run_id, t.step AS step"                 \
    " FROM main.tropt_run r JOIN main.tropt_val t ON t.run = r.id AND t.key = 0;"

/* The runs (documented view), oldest first; one run by its exact id. */
#define TSQL_READ_RUN_COLS "run_id, experiment, status, started_at, ended_at, host, pid, config"
#define TSQL_READ_RUNS "SELECT " TSQL_READ_RUN_COLS " FROM runs ORDER BY started_at, run_id"
#define TSQL_READ_RUN "SELECT " TSQL_READ_RUN_COLS " FROM runs WHERE run_id = ?1"
/* The ids starting with ?1 (?2 its length), to find a run by a prefix. */
#define TSQL_READ_FIND "SELECT run_id FROM runs WHERE substr(run_id, 1, ?2) = ?1 ORDER BY run_id"
#define TSQL_READ_NSTEPS "SELECT count(*) FROM tropt_read_steps WHERE run_id = ?1"
#define TSQL_READ_PARAMS                                                                           \
    "SELECT key, value, kind FROM tropt_read_params WHERE run_id = ?1 ORDER BY key"
#define TSQL_READ_SUMMARY                                                                          \
    "SELECT key, value, kind FROM tropt_read_summary WHERE run_id = ?1 ORDER BY key"
#define TSQL_READ_METRICS                                                                          \
    "SELECT step, time, key, value, kind FROM tropt_read_metrics WHERE run_id = ?1"                \
    " ORDER BY step"

#endif /* TROPT_SQLITE_SQL_H */
