/*
 * plugins/sqlite/sqlite_sql.h - every SQL string of the sqlite backend and of
 * `tropt runs` / `tropt show`, in one place.
 *
 * Storage (schema version 4, PRAGMA user_version = 4, application_id "Trop"):
 *
 *   tropt_key      interned key names; every other table refers to a key by
 *                  its integer id (ids start at 1), so a key costs its text
 *                  once per database.
 *   tropt_run      one row per run; integer rowid `id` (never reused: a
 *                  deleted run's id stays taken in tropt_deleted), the UUID
 *                  in `uuid`, its name, note, resume key (unique within the
 *                  file) and provenance.  status, ended_at, host, pid, pidns
 *                  (the writer's pid namespace, see TSQL_STALE_CANDIDATES)
 *                  and config are those of its latest attempt; started_at
 *                  is the first attempt's.
 *   tropt_attempt  (run, attempt) -> from_step, started_at, ended_at,
 *                  status, host, pid, pidns, config, cutoff: one row per
 *                  attempt (SPEC 15).  cutoff is the smallest from_step of
 *                  the later attempts (INT64_MAX: none), set when an attempt
 *                  begins: a row of attempt a at step s is superseded when
 *                  s >= cutoff(a), a column comparison.  The primary key
 *                  makes two processes beginning the same attempt exclusive.
 *   tropt_val      one row per logged field, (run, attempt, step, key) ->
 *                  value, kind, clustered on that primary key (WITHOUT
 *                  ROWID): an attempt's rows are one contiguous range of the
 *                  B-tree, in step order, whoever else wrote at the same
 *                  time, and a range ends where its superseded rows begin.
 *                  Every step also has one row of key 0 whose value is the
 *                  step's time: the time is stored once per step, next to
 *                  the step's values (same leaf page), and a step without
 *                  fields still counts.  A writer appending steps writes one
 *                  leaf page of its run per commit.  Rows of an earlier
 *                  attempt are never changed.
 *   tropt_stat     (run, key) -> n, last_step, last_value, last_kind, lo, hi,
 *                  nan_step: per run and key, over the run's current rows
 *                  (not superseded) up to S, the number of values, the value
 *                  of the largest step and its kind, the smallest and largest
 *                  INTEGER/REAL value (NULL: none), the first step whose
 *                  value was NaN (NULL: none); S is the last_step of the
 *                  run's key-0 row (the steps: n steps, the largest S, its
 *                  time; lo/hi the earliest and latest step time).  The
 *                  latest attempt's rows above S (the run's "tail") are not
 *                  counted yet: readers add them (TSQL_TAIL_: an index range
 *                  of at most about a second of the writer's rows, empty once
 *                  the run has finished or was marked crashed).  `tropt
 *                  runs`, the reader's list of runs and the view stats so
 *                  never scan the rows before S, whatever the size of the
 *                  file.
 *   tropt_mark_stat  a copy of a run's tropt_stat taken with its latest
 *                  checkpoint mark (tropt_run.mark_step: the mark's step,
 *                  NULL: no valid copy): the statistics of the current rows
 *                  up to that step, from which a run resumed at the mark
 *                  gets its statistics back without reading its rows.
 *   tropt_param    (run, key) -> value, kind: the flattened config (of the
 *                  latest attempt).
 *   tropt_summary  (run, key) -> value, kind: the flattened summary.
 *   tropt_tag      (run, tag): a run's tags, in the order of their rowids.
 *   tropt_checkpoint  (run, attempt, seq) -> step, time, path, size, sha256,
 *                  error: checkpoint marks (size/sha256 NULL until known).
 *   tropt_system   (run, attempt, time, key) -> value (the mean), max:
 *                  system samples on the wall-time axis.
 *   tropt_deleted  (uuid) -> id, deleted_at: runs deleted from the file
 *                  (a later init of the id is refused; ids stay taken).
 *
 * Writing.  A step larger than any the attempt stored (the writer keeps the
 * largest, read with one B-tree seek when a run is reopened) is new: its
 * rows are inserted without a lookup.  The writer aggregates what it writes
 * per key in memory and merges it into tropt_stat (one upsert per key,
 * raising S to its largest step) inside the transaction that writes rows
 * when a second has passed since the last merge, when the transaction holds
 * many steps, at finish, at a checkpoint mark, and whenever it writes a step
 * at or below S or its own largest.  Such a step may already be stored and
 * is looked up row by row: new rows are inserted, changed ones updated, and
 * the statistics of their keys recomputed from the run's current rows in
 * that transaction (rows rewritten with the same value change nothing).
 * The rows a writer that died left above S are folded in (TSQL_STAT_FOLD_*)
 * when its run is marked crashed or continued.  Per-step commits so pay one
 * B-tree page per commit; the statistics cost a page once a second.
 *
 * An attempt k > 1 from step f begins in one transaction (TSQL_SUP_*): the
 * previous writer's tail is folded, the attempt row inserted, the earlier
 * attempts' cutoffs lowered to f, and tropt_stat brought to the current rows:
 * from the copy of the latest mark when it is valid and older than f (plus
 * the current rows between them: none when resuming at that mark), else by
 * subtracting the superseded rows (a short tail when resuming from a recent
 * mark) and recomputing, per key, only what they can have changed (the last
 * value by a backward seek, the extremes and first NaN by a pass over the
 * run's rows only when a superseded row held one).
 *
 * `value` has no declared type, so SQLite keeps the storage class it is
 * given: INTEGER, REAL (+-Inf included), TEXT or NULL.  `kind` records what
 * the SQL type alone cannot say: NULL (the SQL type says it all), 1 boolean
 * (value INTEGER 0/1), 2 NaN (value NULL), 3 JSON text (an array or an empty
 * object kept whole).  A JSON null is value NULL, kind NULL.
 *
 * The public contract is the views runs, params, metrics, summary with the
 * columns of SPEC section 6, plus the view stats (from version 3) and
 * metrics_history, checkpoints and system and the runs view's identity
 * columns (from version 4); the tables behind them may change between
 * schema versions.  A later release adds a migration
 * (TSQL_MIGRATE_<n>_<n+1>) and bumps TSQL_SCHEMA_VERSION; opening an older
 * database upgrades it in one transaction.  TSQL_MIGRATE_0_1 is the version
 * 1 schema as it shipped and must not change: a new database is made by
 * running every migration.
 */
#ifndef TROPT_SQLITE_SQL_H
#define TROPT_SQLITE_SQL_H

#define TSQL_SCHEMA_VERSION 4
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

/* Version 3 to 4 (SPEC 14-16): attempts, names, tags, notes, provenance,
 * resume keys, checkpoint marks, system samples, deleted runs.  tropt_val
 * gains the attempt in its key (rows copied in key order into the new
 * table; every existing row is attempt 1), each run gets its attempt 1 from
 * its own row, and the views are made again. */
/* "No later attempt": a cutoff above every step, INT64_MAX included (the
 * REAL 2^63; SQLite compares INTEGER and REAL exactly). */
#define TSQL_NO_CUTOFF_ "9223372036854775808.0"
#define TSQL_STAT_COLS_                                                                            \
    "(run INTEGER NOT NULL, key INTEGER NOT NULL, n INTEGER NOT NULL,"                             \
    " last_step INTEGER NOT NULL, last_value, last_kind INTEGER, lo, hi, nan_step INTEGER,"        \
    " PRIMARY KEY (run, key)) WITHOUT ROWID"
/* The current rows of attempt alias a in tropt_val alias m (m.step below
 * the cutoff).  Every join of tropt_attempt with tropt_val is a CROSS JOIN:
 * SQLite then keeps the attempts as the outer loop, so each attempt's rows
 * are one primary-key range bounded by its step limits; left to itself, the
 * planner makes tropt_val the outer loop (run = ? AND attempt < ?) and reads
 * every row of the run (a second per million). */
#define TSQL_CURRENT_(m) " AND " m ".step < a.cutoff"
/* The metrics of every attempt (alias a) of run r: m the value rows, t their
 * step's time row, k the key. */
#define TSQL_ROWS_FROM_(cur)                                                                       \
    "  FROM tropt_run r"                                                                           \
    "  JOIN tropt_attempt a ON a.run = r.id"                                                       \
    "  CROSS JOIN tropt_val m ON m.run = a.run AND m.attempt = a.attempt" cur " AND m.key > 0"     \
    "  JOIN tropt_val t ON t.run = m.run AND t.attempt = m.attempt AND t.step = m.step"            \
    "    AND t.key = 0"                                                                            \
    "  JOIN tropt_key k ON k.id = m.key"
/* The latest attempt of run alias r. */
#define TSQL_LATEST_(r) "(SELECT max(la.attempt) FROM tropt_attempt la WHERE la.run = " r ".id)"
#define TSQL_MIGRATE_3_4                                                                           \
    "CREATE TABLE tropt_attempt ("                                                                 \
    "  run INTEGER NOT NULL,"                                                                      \
    "  attempt INTEGER NOT NULL,"                                                                  \
    "  from_step INTEGER NOT NULL,"                                                                \
    "  started_at REAL NOT NULL,"                                                                  \
    "  ended_at REAL,"                                                                             \
    "  status TEXT NOT NULL"                                                                       \
    "    CHECK (status IN ('running','finished','aborted','crashed')),"                            \
    "  host TEXT NOT NULL,"                                                                        \
    "  pid INTEGER NOT NULL,"                                                                      \
    "  pidns TEXT,"                                                                                \
    "  config TEXT,"                                                                               \
    "  cutoff INTEGER NOT NULL DEFAULT " TSQL_NO_CUTOFF_ ","                                       \
    "  PRIMARY KEY (run, attempt)) WITHOUT ROWID;"                                                 \
    "INSERT INTO tropt_attempt(run, attempt, from_step, started_at, ended_at, status, host,"       \
    "                          pid, pidns, config)"                                                \
    "  SELECT id, 1, 0, started_at, ended_at, status, host, pid, pidns, config FROM tropt_run;"    \
    "DROP VIEW runs;"                                                                              \
    "DROP VIEW metrics;"                                                                           \
    "DROP VIEW stats;"                                                                             \
    "ALTER TABLE tropt_val RENAME TO tropt_val3;"                                                  \
    "CREATE TABLE tropt_val ("                                                                     \
    "  run INTEGER NOT NULL,"                                                                      \
    "  attempt INTEGER NOT NULL,"                                                                  \
    "  step INTEGER NOT NULL,"                                                                     \
    "  key INTEGER NOT NULL,"                                                                      \
    "  value,"                                                                                     \
    "  kind INTEGER,"                                                                              \
    "  PRIMARY KEY (run, attempt, step, key)) WITHOUT ROWID;"                                      \
    "INSERT INTO tropt_val(run, attempt, step, key, value, kind)"                                  \
    "  SELECT run, 1, step, key, value, kind FROM tropt_val3 ORDER BY run, step, key;"             \
    "DROP TABLE tropt_val3;"                                                                       \
    "ALTER TABLE tropt_run ADD COLUMN name TEXT;"                                                  \
    "ALTER TABLE tropt_run ADD COLUMN note TEXT;"                                                  \
    "ALTER TABLE tropt_run ADD COLUMN resume_key TEXT;"                                            \
    "ALTER TABLE tropt_run ADD COLUMN command TEXT;"                                               \
    "ALTER TABLE tropt_run ADD COLUMN cwd TEXT;"                                                   \
    "ALTER TABLE tropt_run ADD COLUMN git_commit TEXT;"                                            \
    "ALTER TABLE tropt_run ADD COLUMN version TEXT;"                                               \
    "ALTER TABLE tropt_run ADD COLUMN mark_step INTEGER;"                                          \
    "CREATE UNIQUE INDEX tropt_run_resume_key ON tropt_run(resume_key)"                            \
    "  WHERE resume_key IS NOT NULL;"                                                              \
    "CREATE TABLE tropt_mark_stat " TSQL_STAT_COLS_ ";"                                            \
    "CREATE TABLE tropt_tag ("                                                                     \
    "  run INTEGER NOT NULL,"                                                                      \
    "  tag TEXT NOT NULL,"                                                                         \
    "  added_at REAL NOT NULL,"                                                                    \
    "  UNIQUE (run, tag));"                                                                        \
    "CREATE TABLE tropt_checkpoint ("                                                              \
    "  run INTEGER NOT NULL,"                                                                      \
    "  attempt INTEGER NOT NULL,"                                                                  \
    "  seq INTEGER NOT NULL,"                                                                      \
    "  step INTEGER NOT NULL,"                                                                     \
    "  time REAL NOT NULL,"                                                                        \
    "  path TEXT NOT NULL,"                                                                        \
    "  size INTEGER,"                                                                              \
    "  sha256 TEXT,"                                                                               \
    "  error TEXT,"                                                                                \
    "  PRIMARY KEY (run, attempt, seq)) WITHOUT ROWID;"                                            \
    "CREATE TABLE tropt_system ("                                                                  \
    "  run INTEGER NOT NULL,"                                                                      \
    "  attempt INTEGER NOT NULL,"                                                                  \
    "  time REAL NOT NULL,"                                                                        \
    "  key INTEGER NOT NULL,"                                                                      \
    "  value REAL,"                                                                                \
    "  max REAL,"                                                                                  \
    "  PRIMARY KEY (run, attempt, time, key)) WITHOUT ROWID;"                                      \
    "CREATE TABLE tropt_deleted ("                                                                 \
    "  uuid TEXT NOT NULL PRIMARY KEY,"                                                            \
    "  id INTEGER NOT NULL,"                                                                       \
    "  deleted_at REAL NOT NULL) WITHOUT ROWID;"
/* ... and its views (a second string: C compilers need not take strings
 * of more than 4095 characters). */
#define TSQL_MIGRATE_3_4_VIEWS                                                                     \
    "CREATE VIEW runs AS"                                                                          \
    "  SELECT r.uuid AS run_id, r.experiment AS experiment, r.status AS status,"                   \
    "         r.started_at AS started_at, r.ended_at AS ended_at, r.host AS host,"                 \
    "         r.pid AS pid, r.config AS config, r.name AS name,"                                   \
    "         (SELECT json_group_array(g.tag) FROM (SELECT tag FROM tropt_tag"                     \
    "           WHERE run = r.id ORDER BY rowid) AS g) AS tags,"                                   \
    "         r.note AS note, coalesce(" TSQL_LATEST_(                                             \
        "r") ", 1) AS attempts,"                                                                   \
             "         r.command AS command, r.cwd AS cwd, r.git_commit AS git_commit,"            \
             "         r.version AS version, r.resume_key AS resume_key"                           \
             "  FROM tropt_run r;"                                                                 \
             "CREATE VIEW metrics AS" TSQL_METRICS_COLS_                                           \
             TSQL_ROWS_FROM_(TSQL_CURRENT_(                                                        \
                 "m")) ";"                                                                         \
                       "CREATE VIEW metrics_history AS"                                            \
                       "  SELECT r.uuid AS run_id, m.attempt AS attempt, m.step AS step, t.value " \
                       "AS time,"                                                                  \
                       "         k.name AS key, m.value AS value, m.step >= a.cutoff AS "          \
                       "superseded" TSQL_ROWS_FROM_(                                               \
                           "") ";"                                                                 \
                               "CREATE VIEW checkpoints AS"                                        \
                               "  SELECT r.uuid AS run_id, c.attempt AS attempt, c.seq AS seq, "   \
                               "c.step AS step,"                                                   \
                               "         c.time AS time, c.path AS path, c.size AS size, "         \
                               "c.sha256 AS sha256,"                                               \
                               "         c.error AS error"                                         \
                               "  FROM tropt_checkpoint c JOIN tropt_run r ON r.id = c.run;"       \
                               "CREATE VIEW system AS"                                             \
                               "  SELECT r.uuid AS run_id, s.time AS time, k.name AS key, "        \
                               "s.value AS value, s.max AS max"                                    \
                               "  FROM tropt_system s JOIN tropt_run r ON r.id = s.run JOIN "      \
                               "tropt_key k ON k.id = s.key;"
#define TSQL_MIGRATE_3_4_STATS                                                                     \
    "CREATE VIEW stats AS"                                                                         \
    "  WITH sr AS (SELECT r.id AS run, r.uuid, coalesce(s0.last_step, -1) AS s,"                   \
    "    " TSQL_LATEST_(                                                                           \
        "r") " AS la"                                                                              \
             "    FROM tropt_run r LEFT JOIN tropt_stat s0 ON s0.run = r.id AND s0.key = 0),"      \
             "  tail AS (SELECT t.run, t.key, count(*) AS n, max(t.step) AS last_step,"            \
             "    min(" TSQL_NUM_TV_ ") AS lo, max(" TSQL_NUM_TV_ ") AS hi,"                       \
             "    min(CASE WHEN t.kind = 2 THEN t.step END) AS ns"                                 \
             "    FROM sr JOIN tropt_val t ON t.run = sr.run AND t.attempt = sr.la AND t.step > "  \
             "sr.s"                                                                                \
             "      AND t.key > 0"                                                                 \
             "    GROUP BY t.run, t.key),"                                                         \
             "  u AS (SELECT run, key FROM tropt_stat WHERE key > 0 UNION SELECT run, key FROM "   \
             "tail)"                                                                               \
             "  SELECT sr.uuid AS run_id, k.name AS key, coalesce(s.n, 0) + coalesce(g.n, 0) AS "  \
             "count,"                                                                              \
             "    coalesce(g.last_step, s.last_step) AS last_step,"                                \
             "    CASE WHEN g.n IS NULL THEN s.last_value ELSE (SELECT v.value FROM tropt_val v"   \
             "      WHERE v.run = u.run AND v.attempt = sr.la AND v.step = g.last_step"            \
             "      AND v.key = u.key) END AS last_value,"                                         \
             "    min(coalesce(s.lo, g.lo), coalesce(g.lo, s.lo)) AS min,"                         \
             "    max(coalesce(s.hi, g.hi), coalesce(g.hi, s.hi)) AS max,"                         \
             "    coalesce(s.nan_step, g.ns) AS first_nan_step"                                    \
             "  FROM u JOIN sr ON sr.run = u.run JOIN tropt_key k ON k.id = u.key"                 \
             "  LEFT JOIN tropt_stat s ON s.run = u.run AND s.key = u.key"                         \
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

/* ---- Runs and attempts -------------------------------------------------- */

#define TSQL_RUN_ID "SELECT id FROM tropt_run WHERE uuid = ?1"
#define TSQL_RUN_EXISTS "SELECT 1 FROM tropt_run WHERE id = ?1"
#define TSQL_RUN_DELETED "SELECT deleted_at FROM tropt_deleted WHERE uuid = ?1"
/* A run this file has not seen: ?1 uuid, ?2 experiment, ?3 started_at, ?4
 * host, ?5 pid, ?6 config, ?7 pidns, ?8 name, ?9 resume_key, ?10 command,
 * ?11 cwd, ?12 git_commit, ?13 version.  Its id is above every id the file
 * ever gave, a deleted run's too, so rows a writer of a deleted run may
 * still add never join another run. */
#define TSQL_RUN_INSERT                                                                            \
    "INSERT INTO tropt_run(id, uuid, experiment, status, started_at, ended_at, host, pid,"         \
    "                      config, pidns, name, resume_key, command, cwd, git_commit, version)"    \
    " VALUES (1 + coalesce((SELECT max(m) FROM (SELECT max(id) AS m FROM tropt_run"                \
    "   UNION ALL SELECT max(id) FROM tropt_deleted)), 0),"                                        \
    "  ?1, ?2, 'running', ?3, NULL, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
/* The run carrying resume key ?1 (a new run with it is refused). */
#define TSQL_RUN_BY_KEY "SELECT uuid FROM tropt_run WHERE resume_key = ?1"
/* The run follows its latest attempt (?1 id, ?2 host, ?3 pid, ?4 pidns, ?5
 * config), and gets name ?6 if it has none. */
#define TSQL_RUN_REOPEN                                                                            \
    "UPDATE tropt_run SET status = 'running', ended_at = NULL, host = ?2, pid = ?3, pidns = ?4,"   \
    " config = ?5, name = coalesce(name, ?6) WHERE id = ?1"
#define TSQL_RUN_END "UPDATE tropt_run SET status = ?2, ended_at = ?3 WHERE id = ?1"

/* Attempt ?2 of run ?1 from step ?3, started at ?4 by ?5 host, ?6 pid, ?7
 * pidns with config ?8.  The primary key refuses it when another process
 * began that attempt first. */
#define TSQL_ATT_INSERT                                                                            \
    "INSERT INTO tropt_attempt(run, attempt, from_step, started_at, status, host, pid, pidns,"     \
    "                          config)"                                                            \
    " VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8)"
#define TSQL_ATT_GET                                                                               \
    "SELECT started_at, host, pid, cutoff FROM tropt_attempt WHERE run = ?1 AND attempt = ?2"
#define TSQL_ATT_LATEST "SELECT max(attempt) FROM tropt_attempt WHERE run = ?1"
#define TSQL_ATT_REOPEN                                                                            \
    "UPDATE tropt_attempt SET status = 'running', ended_at = NULL WHERE run = ?1 AND attempt = ?2"
/* The earlier attempts still `running` when a later one begins: their
 * writer is gone (the host checked before continuing). */
#define TSQL_ATT_CRASHED                                                                           \
    "UPDATE tropt_attempt SET status = 'crashed'"                                                  \
    " WHERE run = ?1 AND attempt < ?2 AND status = 'running'"
#define TSQL_ATT_END                                                                               \
    "UPDATE tropt_attempt SET status = ?3, ended_at = ?4 WHERE run = ?1 AND attempt = ?2"

#define TSQL_PARAM_CLEAR "DELETE FROM tropt_param WHERE run = ?1"
#define TSQL_PARAM_INSERT                                                                          \
    "INSERT OR REPLACE INTO tropt_param(run, key, value, kind) VALUES (?1, ?2, ?3, ?4)"
#define TSQL_SUMMARY_CLEAR "DELETE FROM tropt_summary WHERE run = ?1"
#define TSQL_SUMMARY_INSERT                                                                        \
    "INSERT OR REPLACE INTO tropt_summary(run, key, value, kind) VALUES (?1, ?2, ?3, ?4)"

/* ---- Rows ------------------------------------------------------------------ */

/* Read when an attempt is (re)opened: its largest step stored (NULL: none;
 * a seek to the end of its range), and S (no row: -1). */
#define TSQL_RUN_MAX_STEP "SELECT max(step) FROM tropt_val WHERE run = ?1 AND attempt = ?2"
#define TSQL_RUN_STAT_STEP "SELECT last_step FROM tropt_stat WHERE run = ?1 AND key = 0"

/* Appending rows: ?1 run, ?2 attempt, ?3 step, then key, value, kind per row
 * (parameters 4 + 3i, 5 + 3i, 6 + 3i for row i).  The statement for n rows
 * is TSQL_VAL_INSERT followed by n - 1 times TSQL_VAL_INSERT_MORE; a step's
 * time row and up to TSQL_VAL_ROWS - 1 fields are one statement execution. */
#define TSQL_VAL_ROWS 16
#define TSQL_VAL_INSERT                                                                            \
    "INSERT INTO tropt_val(run, attempt, step, key, value, kind) VALUES (?1, ?2, ?3, ?, ?, ?)"
#define TSQL_VAL_INSERT_MORE ", (?1, ?2, ?3, ?, ?, ?)"

/* The checked path (a step that may be stored): ?1 run, ?2 attempt, ?3
 * step, ?4 key. */
#define TSQL_VAL_FIND                                                                              \
    "SELECT value, kind FROM tropt_val WHERE run = ?1 AND attempt = ?2 AND step = ?3 AND key = ?4"
#define TSQL_VAL_UPDATE                                                                            \
    "UPDATE tropt_val SET value = ?5, kind = ?6"                                                   \
    " WHERE run = ?1 AND attempt = ?2 AND step = ?3 AND key = ?4"

/* ---- Statistics -------------------------------------------------------------- */

#define TSQL_NUM_VV_ "CASE WHEN typeof(v.value) IN ('integer', 'real') THEN v.value END"
#define TSQL_NAN_VV_ "CASE WHEN v.kind = 2 THEN v.step END"

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
#define TSQL_STAT_MERGE_LAST_                                                                      \
    " ON CONFLICT(run, key) DO UPDATE SET n = n + excluded.n,"                                     \
    "  last_value = CASE WHEN excluded.last_step >= last_step"                                     \
    "    THEN excluded.last_value ELSE last_value END,"                                            \
    "  last_kind = CASE WHEN excluded.last_step >= last_step"                                      \
    "    THEN excluded.last_kind ELSE last_kind END,"                                              \
    "  last_step = max(last_step, excluded.last_step)"
#define TSQL_STAT_MERGE                                                                            \
    TSQL_STAT_MERGE_LAST_                                                                          \
    ","                                                                                            \
    "  lo = CASE WHEN lo IS NULL OR excluded.lo < lo THEN excluded.lo ELSE lo END,"                \
    "  hi = CASE WHEN hi IS NULL OR excluded.hi > hi THEN excluded.hi ELSE hi END,"                \
    "  nan_step = CASE WHEN nan_step IS NULL OR excluded.nan_step < nan_step"                      \
    "    THEN excluded.nan_step ELSE nan_step END"
/* Folding run ?1's current rows with ?2 < step < ?3 into tropt_stat: the
 * tail a writer that died (or left without finishing) left above S (?2 = S,
 * ?3 = INT64_MAX: only the latest attempt has current rows above S), or the
 * rows between a restored copy of the statistics and the step an attempt
 * begins at.  Count and last value first (bare columns: from the row of
 * max(step)), then the extremes and NaN step of the same rows. */
#define TSQL_FOLD_ROWS_                                                                            \
    " FROM tropt_attempt a CROSS JOIN tropt_val v ON v.run = a.run AND v.attempt = a.attempt"      \
    "  AND v.step > ?2 AND v.step < min(a.cutoff, ?3) WHERE a.run = ?1 GROUP BY v.key"
#define TSQL_STAT_FOLD_LAST                                                                        \
    "INSERT INTO tropt_stat(run, key, n, last_step, last_value, last_kind)"                        \
    " SELECT ?1, v.key, count(*), max(v.step), v.value, v.kind" TSQL_FOLD_ROWS_                    \
        TSQL_STAT_MERGE_LAST_
#define TSQL_STAT_FOLD_RANGE                                                                       \
    "UPDATE tropt_stat SET"                                                                        \
    "  lo = min(coalesce(tropt_stat.lo, g.lo), coalesce(g.lo, tropt_stat.lo)),"                    \
    "  hi = max(coalesce(tropt_stat.hi, g.hi), coalesce(g.hi, tropt_stat.hi)),"                    \
    "  nan_step = min(coalesce(tropt_stat.nan_step, g.ns), coalesce(g.ns, tropt_stat.nan_step))"   \
    " FROM (SELECT v.key AS key, min(" TSQL_NUM_VV_ ") AS lo, max(" TSQL_NUM_VV_ ") AS hi,"        \
    "   min(" TSQL_NAN_VV_ ") AS ns" TSQL_FOLD_ROWS_ ") AS g"                                      \
    " WHERE tropt_stat.run = ?1 AND tropt_stat.key = g.key"
/* Recomputing the statistics of run ?1, key ?2 from its current rows (after
 * a stored value was changed): the row goes, then one pass for the count and
 * the last value (the bare columns come from the row of max(step)), one for
 * the rest.  The rows of run ?1, key ?2 that are current: */
#define TSQL_KEY_ROWS_                                                                             \
    " FROM tropt_attempt a CROSS JOIN tropt_val v ON v.run = a.run AND v.attempt = a.attempt"      \
    "  AND v.step < a.cutoff AND v.key = ?2 WHERE a.run = ?1"
#define TSQL_STAT_UNCOUNT "DELETE FROM tropt_stat WHERE run = ?1 AND key = ?2"
#define TSQL_STAT_RECOUNT                                                                          \
    "INSERT INTO tropt_stat(run, key, n, last_step, last_value, last_kind)"                        \
    " SELECT ?1, ?2, count(*), max(v.step), v.value, v.kind" TSQL_KEY_ROWS_ " GROUP BY v.key"
#define TSQL_STAT_RERANGE                                                                          \
    "UPDATE tropt_stat SET (lo, hi, nan_step) = (SELECT min(" TSQL_NUM_VV_ "),"                    \
    "  max(" TSQL_NUM_VV_ "), min(" TSQL_NAN_VV_ ")" TSQL_KEY_ROWS_ ")"                            \
    " WHERE run = ?1 AND key = ?2"

/* ---- Superseding: attempt ?3 of run ?1 begins at step ?2 -------------------- */

/* The rows it supersedes: the current rows of the earlier attempts at or
 * after ?2 (ranges of the primary key, ending at each attempt's cutoff). */
#define TSQL_SUP_ROWS_                                                                             \
    " FROM tropt_attempt a CROSS JOIN tropt_val v ON v.run = a.run AND v.attempt = a.attempt"      \
    "  AND v.step >= ?2 AND v.step < a.cutoff WHERE a.run = ?1 AND a.attempt < ?3"
#define TSQL_SUP_ANY "SELECT 1" TSQL_SUP_ROWS_ " LIMIT 1"
/* Per key: the rows it loses, whether its last value is among them, and
 * whether one of them may be its smallest or largest value or first NaN. */
#define TSQL_SUP_KEYS                                                                              \
    "SELECT x.key, x.n, s.last_step >= ?2, x.lo <= s.lo OR x.hi >= s.hi OR x.ns <= s.nan_step"     \
    " FROM (SELECT v.key AS key, count(*) AS n, min(" TSQL_NUM_VV_ ") AS lo,"                      \
    "   max(" TSQL_NUM_VV_ ") AS hi, min(" TSQL_NAN_VV_ ") AS ns" TSQL_SUP_ROWS_                   \
    "   GROUP BY v.key) AS x"                                                                      \
    " JOIN tropt_stat s ON s.run = ?1 AND s.key = x.key"
#define TSQL_SUP_CUT                                                                               \
    "UPDATE tropt_attempt SET cutoff = ?2 WHERE run = ?1 AND attempt < ?3 AND cutoff > ?2"
#define TSQL_SUP_UNCOUNT "UPDATE tropt_stat SET n = n - ?3 WHERE run = ?1 AND key = ?2"
/* The attempts before ?2 with their (new) cutoffs; in attempt ?2 of run ?1,
 * the last row of key ?4 below step ?3 (a backward seek in the key's
 * attempt range, stopping at the first row of the key). */
#define TSQL_SUP_ATTEMPTS                                                                          \
    "SELECT attempt, cutoff FROM tropt_attempt WHERE run = ?1 AND attempt < ?2"
#define TSQL_SUP_LAST                                                                              \
    "SELECT step, value, kind FROM tropt_val"                                                      \
    " WHERE run = ?1 AND attempt = ?2 AND step < ?3 AND key = ?4 ORDER BY step DESC LIMIT 1"
#define TSQL_SUP_SETLAST                                                                           \
    "UPDATE tropt_stat SET last_step = ?3, last_value = ?4, last_kind = ?5"                        \
    " WHERE run = ?1 AND key = ?2"
#define TSQL_SUP_EMPTY "DELETE FROM tropt_stat WHERE run = ?1 AND n <= 0"

/* The copy of the statistics taken with a checkpoint mark (tropt_mark_stat,
 * valid for the steps up to tropt_run.mark_step). */
#define TSQL_STAT_COLS "run, key, n, last_step, last_value, last_kind, lo, hi, nan_step"
#define TSQL_MARK_STEP "SELECT mark_step FROM tropt_run WHERE id = ?1"
#define TSQL_MARK_SET "UPDATE tropt_run SET mark_step = ?2 WHERE id = ?1"
#define TSQL_MARK_CLEAR "DELETE FROM tropt_mark_stat WHERE run = ?1"
#define TSQL_MARK_SAVE                                                                             \
    "INSERT INTO tropt_mark_stat(" TSQL_STAT_COLS ") SELECT " TSQL_STAT_COLS                       \
    " FROM tropt_stat WHERE run = ?1"
#define TSQL_STAT_CLEAR "DELETE FROM tropt_stat WHERE run = ?1"
#define TSQL_MARK_LOAD                                                                             \
    "INSERT INTO tropt_stat(" TSQL_STAT_COLS ") SELECT " TSQL_STAT_COLS                            \
    " FROM tropt_mark_stat WHERE run = ?1"

/* ---- Run metadata, marks, system samples, deletion --------------------------- */

#define TSQL_TAG_ADD "INSERT OR IGNORE INTO tropt_tag(run, tag, added_at) VALUES (?1, ?2, ?3)"
#define TSQL_TAG_DEL "DELETE FROM tropt_tag WHERE run = ?1 AND tag = ?2"
#define TSQL_RUN_NOTE "UPDATE tropt_run SET note = nullif(?2, '') WHERE id = ?1"
#define TSQL_RUN_RENAME "UPDATE tropt_run SET name = ?2 WHERE id = ?1"
/* A checkpoint mark: ?1 run, ?2 attempt, ?3 seq, ?4 step, ?5 time, ?6 path,
 * ?7 size (NULL: not known yet), ?8 sha256, ?9 error.  Stored at the call;
 * the host's second call (size and hash known) completes it. */
#define TSQL_MARK_UPSERT                                                                           \
    "INSERT INTO tropt_checkpoint(run, attempt, seq, step, time, path, size, sha256, error)"       \
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"                                                 \
    " ON CONFLICT(run, attempt, seq) DO UPDATE SET step = excluded.step, time = excluded.time,"    \
    "  path = excluded.path, size = coalesce(excluded.size, size),"                                \
    "  sha256 = coalesce(excluded.sha256, sha256), error = coalesce(excluded.error, error)"
/* A system sample: ?1 run, ?2 attempt, ?3 time, ?4 key, ?5 mean, ?6 max. */
#define TSQL_SYS_INSERT                                                                            \
    "INSERT OR REPLACE INTO tropt_system(run, attempt, time, key, value, max)"                     \
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
/* Deleting run ?1 (uuid ?2, at ?3): every table's rows, then the run, and
 * its tombstone. */
#define TSQL_DELETE_ROWS                                                                           \
    {                                                                                              \
        "DELETE FROM tropt_val WHERE run = ?1", "DELETE FROM tropt_stat WHERE run = ?1",           \
            "DELETE FROM tropt_mark_stat WHERE run = ?1",                                          \
            "DELETE FROM tropt_param WHERE run = ?1", "DELETE FROM tropt_summary WHERE run = ?1",  \
            "DELETE FROM tropt_attempt WHERE run = ?1", "DELETE FROM tropt_tag WHERE run = ?1",    \
            "DELETE FROM tropt_checkpoint WHERE run = ?1",                                         \
            "DELETE FROM tropt_system WHERE run = ?1", "DELETE FROM tropt_run WHERE id = ?1"       \
    }
#define TSQL_TOMBSTONE                                                                             \
    "INSERT OR REPLACE INTO tropt_deleted(uuid, id, deleted_at) VALUES (?2, ?1, ?3)"

/* Stale runs: `running` rows of this host whose pid is gone (the run's
 * host, pid and pidns are its latest attempt's).  The candidates are read
 * first (?1 host, ?2 own pid, which is alive by definition), then each dead
 * one is marked under the write lock, re-checking its status, after its
 * tail was folded into tropt_stat: it ended at the time of its latest step
 * (tropt_stat key 0), or when it started if it logged none; its latest
 * attempt crashed. */
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
#define TSQL_STALE_ATTEMPT                                                                         \
    "UPDATE tropt_attempt SET status = 'crashed' WHERE run = ?1 AND status = 'running'"

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

/* Version 4: tropt_val keyed by (run, attempt, step, key); every row of
 * every attempt, superseded ones too (the host's reader layer decides what
 * is current).  Read by run, the rows come in (attempt, step) order from
 * the primary key, without a sort. */
#define TSQL_READ_V4                                                                               \
    TSQL_READ_KV_                                                                                  \
    "CREATE TEMP VIEW tropt_read_metrics AS SELECT r.uuid AS run_id, t.attempt AS attempt,"        \
    " t.step AS step, t.value AS time, k.name AS key, m.value AS value, m.kind AS kind"            \
    " FROM main.tropt_run r JOIN main.tropt_val t ON t.run = r.id AND t.key = 0"                   \
    " LEFT JOIN main.tropt_val m ON m.run = t.run AND m.attempt = t.attempt AND m.step = t.step"   \
    "  AND m.key > 0"                                                                              \
    " LEFT JOIN main.tropt_key k ON k.id = m.key;"                                                 \
    "CREATE TEMP VIEW tropt_read_steps AS SELECT DISTINCT r.uuid AS run_id, t.step AS step"        \
    " FROM main.tropt_run r JOIN main.tropt_val t ON t.run = r.id AND t.key = 0;"

/* ABI 1.2 members of run ?1 (a schema 4 file): name, note, resume_key,
 * pidns, command, cwd, git_commit, version, attempts, last_step (a seek to
 * the end of each attempt's range), checkpoint_step (a seek to the latest
 * mark), n_steps (the statistics plus the latest attempt's tail), the
 * integer id.  A few primary-key seeks per run, whatever its size. */
#define TSQL_READ_RUN12                                                                            \
    "SELECT r.name, r.note, r.resume_key, r.pidns, r.command, r.cwd, r.git_commit, r.version,"     \
    "  coalesce(" TSQL_LATEST_(                                                                    \
        "r") ", 1),"                                                                               \
             "  coalesce((SELECT max((SELECT max(v.step) FROM main.tropt_val v WHERE v.run = "     \
             "a.run"                                                                               \
             "    AND v.attempt = a.attempt)) FROM main.tropt_attempt a WHERE a.run = r.id), -1)," \
             "  coalesce((SELECT c.step FROM main.tropt_checkpoint c WHERE c.run = r.id"           \
             "    ORDER BY c.attempt DESC, c.seq DESC LIMIT 1), -1),"                              \
             "  coalesce((SELECT s.n FROM main.tropt_stat s WHERE s.run = r.id AND s.key = 0), 0)" \
             "   + (SELECT count(*) FROM main.tropt_val t WHERE t.run = r.id"                      \
             "    AND t.attempt = " TSQL_LATEST_("r") " AND t.step > " TSQL_R_S_                   \
                                                      " AND t.key = 0),"                           \
                                                      "  r.id"                                     \
                                                      " FROM main.tropt_run r WHERE r.uuid = ?1"
#define TSQL_READ_TAGS "SELECT tag FROM main.tropt_tag WHERE run = ?1 ORDER BY rowid"
/* Every attempt of run ?1 (integer id): attempt, from_step, started_at,
 * ended_at, status, host, pid, config. */
#define TSQL_READ_ATTEMPTS                                                                         \
    "SELECT attempt, from_step, started_at, ended_at, status, host, pid, config"                   \
    " FROM main.tropt_attempt WHERE run = ?1 ORDER BY attempt"
/* The checkpoint marks of run ?1 (integer id) in (attempt, seq) order. */
#define TSQL_READ_MARKS                                                                            \
    "SELECT attempt, seq, step, time, path, coalesce(size, -1), sha256, error"                     \
    " FROM main.tropt_checkpoint WHERE run = ?1 ORDER BY attempt, seq"
/* The system samples of run ?1 (integer id), by attempt and time. */
#define TSQL_READ_SYSTEM                                                                           \
    "SELECT s.attempt, s.time, k.name, s.value, s.max FROM main.tropt_system s"                    \
    " JOIN main.tropt_key k ON k.id = s.key WHERE s.run = ?1 ORDER BY s.attempt, s.time, k.name"
#define TSQL_READ_METRICS_V4                                                                       \
    "SELECT step, time, key, value, kind, attempt FROM tropt_read_metrics WHERE run_id = ?1"       \
    " ORDER BY attempt, step"

/* The runs (documented view), oldest first; one run by its exact id. */
#define TSQL_READ_RUN_COLS "run_id, experiment, status, started_at, ended_at, host, pid, config"
#define TSQL_READ_RUNS "SELECT " TSQL_READ_RUN_COLS " FROM runs ORDER BY started_at, run_id"
#define TSQL_READ_RUN "SELECT " TSQL_READ_RUN_COLS " FROM runs WHERE run_id = ?1"
/* The ids starting with ?1 (?2 its length), to find a run by a prefix. */
#define TSQL_READ_FIND "SELECT run_id FROM runs WHERE substr(run_id, 1, ?2) = ?1 ORDER BY run_id"
#define TSQL_READ_PARAMS                                                                           \
    "SELECT key, value, kind FROM tropt_read_params WHERE run_id = ?1 ORDER BY key"
#define TSQL_READ_SUMMARY                                                                          \
    "SELECT key, value, kind FROM tropt_read_summary WHERE run_id = ?1 ORDER BY key"
#define TSQL_READ_METRICS                                                                          \
    "SELECT step, time, key, value, kind FROM tropt_read_metrics WHERE run_id = ?1"                \
    " ORDER BY step"

#endif /* TROPT_SQLITE_SQL_H */
