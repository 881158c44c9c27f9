/*
 * plugins/pg/pg_read.h - what the reader's two files share (pg_read.c lists
 * runs and opens the reader, pg_read_run.c reads one run back).
 */
#ifndef TROPT_PG_READ_H
#define TROPT_PG_READ_H

#include <jansson.h>

#include "pg_priv.h"

/* A stored run as listed: every ABI 1.2 member, from the run's record and
 * index probes (its highest step, its latest mark, the attempts' n_live),
 * never a scan of its steps.  Columns: 0 run_id 1 experiment 2 status
 * 3 started_at 4 ended_at 5 host 6 pid 7 config 8 n_steps 9 name 10 tags
 * (JSON) 11 note 12 attempts 13 last_step 14 checkpoint_step 15 resume_key
 * 16 pidns 17 heartbeat_age 18 stale_after 19 command 20 cwd 21 git_commit
 * 22 version 23 id.  Version 1 of the schema (read as it is, never upgraded
 * by a reader): the first nine. */
#define PGR_RUNS_V2                                                                                \
    "SELECT u.run_id, u.experiment, CASE WHEN " PGS_IS_STALE " THEN 'crashed' ELSE u.status END,"  \
    " u.started_at, CASE WHEN " PGS_IS_STALE " THEN u.heartbeat ELSE u.ended_at END, u.host,"      \
    " u.pid, u.config, (SELECT coalesce(sum(a.n_live), 0) FROM %1$s.tropt_attempt a"               \
    " WHERE a.run = u.id), u.name, array_to_json(u.tags)::text, u.note, u.attempts,"               \
    " coalesce((SELECT max(l.step) FROM %1$s.tropt_log l WHERE l.run = u.id), -1),"                \
    " coalesce((SELECT m.step FROM %1$s.tropt_mark m WHERE m.run = u.id"                           \
    " ORDER BY m.attempt DESC, m.seq DESC LIMIT 1), -1), u.resume_key, u.pidns,"                   \
    " " PGS_NOW " - u.heartbeat, u.stale_after, u.command, u.cwd, u.git_commit, u.version, u.id"   \
    " FROM %1$s.tropt_run u"
/* The same columns from a store of version 1 (read as it is): one attempt,
 * no name, tags, note, key, mark or provenance; the highest step from the
 * primary key (run, step). */
#define PGR_RUNS_V1                                                                                \
    "SELECT u.run_id, u.experiment, CASE WHEN " PGS_IS_STALE " THEN 'crashed' ELSE u.status END,"  \
    " u.started_at, CASE WHEN " PGS_IS_STALE " THEN u.heartbeat ELSE u.ended_at END, u.host,"      \
    " u.pid, u.config, (SELECT count(*) FROM %1$s.tropt_log l WHERE l.run = u.id), NULL, NULL,"    \
    " NULL, 1, coalesce((SELECT max(l.step) FROM %1$s.tropt_log l WHERE l.run = u.id), -1), -1,"   \
    " NULL, NULL, " PGS_NOW " - u.heartbeat, u.stale_after, NULL, NULL, NULL, NULL, u.id"          \
    " FROM %1$s.tropt_run u"

/* Result rows kept while their values are handed out: a step's fields, or
 * the samples of one time. */
typedef struct stepbuf {
    PGresult **res;
    tropt_field *f;
    tropt_sample *s;
    json_t **js;
    size_t n, cap, nj;
} stepbuf;

void pgr_sb_clear(stepbuf *b);
void pgr_sb_free(const tropt_host *h, stepbuf *b);
/* Room for one more row.  0, or -1 out of memory. */
int pgr_sb_grow(const tropt_host *h, stepbuf *b);

/* Report a failed read (the result cleared).  Returns TROPT_EBACKEND. */
int pgr_fail(pg *p, const char *what, PGresult *r);
/* A command that returns no rows (BEGIN, COMMIT).  TROPT_OK or the error. */
int pgr_exec_cmd(pg *p, const char *sql);
/* A query of the schema (template with %1$s) with text parameters; NULL out
 * of memory.  The caller clears the result. */
PGresult *pgr_query(pg *p, const char *tpl, int n, const char *const *vals);
/* A float8 column as a double (NULL: NaN). */
double pgr_real(const PGresult *r, int row, int col);
/* The typed value of a (key, value, value_int, value_text, kind) row at
 * column c into f (a JSON value is kept in b).  0, or -1 when it does not
 * parse. */
int pgr_typed(stepbuf *b, const PGresult *r, int row, int c, tropt_field *f);

/* A stored run of a result of PGR_RUNS_V2 (or _V1): strings borrowed from
 * the result; tags parsed into memory of its own (pgr_run_clear). */
typedef struct pgr_run {
    tropt_stored_run ri;
    tropt_provenance prov;
    json_t *tags_json;
    const char **tags;
    int64_t id; /* tropt_run.id */
} pgr_run;

/* Fill run from row i.  TROPT_OK, or TROPT_ENOMEM (reported). */
int pgr_run_fill(pg *p, const PGresult *r, int i, pgr_run *run);
void pgr_run_clear(pg *p, pgr_run *run);

#endif
