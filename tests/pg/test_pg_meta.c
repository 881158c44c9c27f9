/*
 * tests/pg/test_pg_meta.c - a run's identity on pg (SPEC 14, 16; issues
 * 28, 32), read back by SQL and through the reader:
 *   - names given in C, by TROPT_RUN_NAME, and four default names; the
 *     provenance of each run;
 *   - tags and a note set during a run and afterwards (annotate_run), a
 *     rename; an unknown run refused naming its id;
 *   - delete_run: every row of the run gone, the store intact (amcheck), the
 *     id remembered so that a replay of a journal still holding the run is
 *     refused for that run with a clear message;
 *   - system samples (import_system) in the `system` view and the reader,
 *     exact;
 *   - the server down: the spool carries everything of a run under ABI 1.2
 *     in the event format (an attempt, its steps, a checkpoint mark, system
 *     samples, a tag), and handing those events back through the import API
 *     (as `tropt replay` does) reproduces the run.
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#include "pg_tu.h"
#include "tropt_event.h"

static tropt_tracker *open_t(const char *spec)
{
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, spec, "meta", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    return t;
}

/* init, one step, finish; the run's id (malloc'd). */
static char *short_run(tropt_tracker *t)
{
    ck_assert_msg(tropt_tracker_init(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    char *id = strdup(tropt_tracker_run_id(t));
    tropt_field f = TROPT_F_REAL("loss", 0.5);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    return id;
}

/* ---- names ----------------------------------------------------------------- */

typedef struct names_seen {
    int n;
    char name[8][64];
} names_seen;

static int on_name(const tropt_stored_run *r, void *ud)
{
    names_seen *s = ud;
    if (s->n < 8)
        snprintf(s->name[s->n++], sizeof s->name[0], "%s", r->name ? r->name : "(null)");
    return 0;
}

START_TEST(test_names_read_back)
{
    char *spec = pgtu_spec("names", NULL);
    tropt_tracker *t = open_t(spec);
    ck_assert_int_eq(tropt_tracker_set_run_name(t, "given-in-c"), TROPT_OK);
    free(short_run(t));
    setenv("TROPT_RUN_NAME", "from-env", 1);
    free(short_run(t));
    free(short_run(t));
    unsetenv("TROPT_RUN_NAME");
    for (int i = 0; i < 4; i++)
        free(short_run(t));
    tropt_tracker_free(t);
    PGconn *c = pgtu_connect();
    char *given = pgtu_text(c, "SELECT string_agg(name, ',' ORDER BY started_at) FROM"
                               " (SELECT * FROM names.runs ORDER BY started_at LIMIT 3) x");
    ck_assert_str_eq(given, "given-in-c,from-env,from-env-2");
    /* four default names: two words and a number, unique in the store */
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(DISTINCT name) FROM names.runs WHERE"
                                 " name ~ '^[a-z]+-[a-z]+-[0-9]+$' AND name NOT LIKE 'from-env%%'"),
                     4);
    /* provenance of every run: this program, this folder, the version */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM names.runs WHERE command LIKE"
                              " '%%test_pg_meta%%' AND cwd = '%s' AND version <> ''",
                              cwd),
                     7);
    /* the reader gives them back */
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_OK);
    names_seen s = {0};
    ck_assert_int_eq(tropt_reader_list_runs(r, on_name, &s), TROPT_OK);
    ck_assert_int_eq(s.n, 7);
    ck_assert_str_eq(s.name[0], "given-in-c");
    ck_assert_str_eq(s.name[2], "from-env-2");
    tropt_reader_free(r);
    PQfinish(c);
    free(given);
    free(spec);
}
END_TEST

/* ---- tags, note, rename ----------------------------------------------------- */

#define ODD_TAG "b \"c\" \\ ü {x} 'y'"

typedef struct meta_seen {
    char name[64], note[64], tags[256];
} meta_seen;

static int on_meta(const tropt_stored_run *r, void *ud)
{
    meta_seen *m = ud;
    snprintf(m->name, sizeof m->name, "%s", r->name ? r->name : "");
    snprintf(m->note, sizeof m->note, "%s", r->note ? r->note : "(none)");
    m->tags[0] = '\0';
    for (size_t i = 0; i < r->n_tags; i++)
        snprintf(m->tags + strlen(m->tags), sizeof m->tags - strlen(m->tags), "%s|", r->tags[i]);
    return 0;
}

static void annotate(tropt_tracker *t, const char *id, tropt_annotation_kind k, const char *text)
{
    tropt_annotation a = {k, text, 1.8e9};
    ck_assert_msg(tropt_tracker_annotate_run(t, id, &a) == TROPT_OK, "%s", tropt_error_message());
}

START_TEST(test_tags_and_note)
{
    char *spec = pgtu_spec("tags", NULL);
    tropt_tracker *t = open_t(spec);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_tag(t, "baseline"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "bad-seed"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "baseline"), TROPT_OK); /* kept once */
    ck_assert_int_eq(tropt_tracker_tag(t, ODD_TAG), TROPT_OK);
    PGconn *c = pgtu_connect();
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM tags.runs WHERE run_id = '%s' AND"
                              " tags::jsonb = jsonb_build_array('baseline', 'bad-seed', $t$" ODD_TAG
                              "$t$)",
                              id),
                     1);
    /* a note on the open run, stored at once */
    annotate(t, id, TROPT_ANNOTATE_NOTE, "started with lr=0.3");
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM tags.runs WHERE run_id = '%s' AND"
                              " note = 'started with lr=0.3' AND status = 'running'",
                              id),
                     1);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM tags.runs WHERE run_id = '%s' AND"
                              " note = 'started with lr=0.3' AND status = 'finished'",
                              id),
                     1);
    /* afterwards, from a tracker with no run open (as `tropt tag` does) */
    t = open_t(spec);
    annotate(t, id, TROPT_ANNOTATE_UNTAG, "bad-seed");
    annotate(t, id, TROPT_ANNOTATE_UNTAG, "never-there");
    annotate(t, id, TROPT_ANNOTATE_TAG, "x");
    annotate(t, id, TROPT_ANNOTATE_NOTE, "diverged after step 3; \"lr\" too high");
    annotate(t, id, TROPT_ANNOTATE_RENAME, "renamed-run");
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM tags.runs WHERE run_id = '%s' AND"
                              " tags::jsonb = jsonb_build_array('baseline', $t$" ODD_TAG
                              "$t$, 'x') AND note = 'diverged after step 3; \"lr\" too high'"
                              " AND name = 'renamed-run'",
                              id),
                     1);
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_OK);
    meta_seen m;
    ck_assert_int_eq(tropt_reader_list_runs(r, on_meta, &m), TROPT_OK);
    ck_assert_str_eq(m.name, "renamed-run");
    ck_assert_str_eq(m.tags, "baseline|" ODD_TAG "|x|");
    ck_assert_str_eq(m.note, "diverged after step 3; \"lr\" too high");
    annotate(t, id, TROPT_ANNOTATE_NOTE, ""); /* removes it */
    ck_assert_int_eq(tropt_reader_list_runs(r, on_meta, &m), TROPT_OK);
    ck_assert_str_eq(m.note, "(none)");
    tropt_reader_free(r);
    /* a run the store does not hold */
    tropt_annotation a = {TROPT_ANNOTATE_TAG, "y", 1.8e9};
    ck_assert_int_eq(tropt_tracker_annotate_run(t, "01a0b0c0-0000-7000-8000-00000000ffff", &a),
                     TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "no run 01a0b0c0-0000-7000-8000-00000000ffff"),
                  "%s", tropt_error_message());
    tropt_tracker_free(t);
    PQfinish(c);
    free(id);
    free(spec);
}
END_TEST

/* ---- delete ------------------------------------------------------------------ */

/* Rows of run `id` (integer id `num`) in every table. */
static int64_t rows_of(PGconn *c, const char *id, int64_t num)
{
    long long n = (long long)num;
    return pgtu_i64(c,
                    "SELECT (SELECT count(*) FROM del.tropt_run WHERE run_id = '%s') +"
                    " (SELECT count(*) FROM del.tropt_attempt WHERE run = %lld) +"
                    " (SELECT count(*) FROM del.tropt_log WHERE run = %lld) +"
                    " (SELECT count(*) FROM del.tropt_mark WHERE run = %lld) +"
                    " (SELECT count(*) FROM del.tropt_sys WHERE run = %lld) +"
                    " (SELECT count(*) FROM del.tropt_param WHERE run_id = '%s') +"
                    " (SELECT count(*) FROM del.tropt_summary WHERE run_id = '%s')",
                    id, n, n, n, n, id, id);
}

/* A run with every kind of row: config, steps, a mark, samples, tags, a
 * summary.  Its id (malloc'd). */
static char *full_run(tropt_tracker *t, const char *dir)
{
    json_t *cfg = json_pack("{s:f}", "lr", 0.1);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    json_decref(cfg);
    char *id = strdup(tropt_tracker_run_id(t));
    for (int i = 0; i < 10; i++) {
        tropt_field f = TROPT_F_INT("i", i);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    }
    char *ck = tu_path(dir, "state.bin");
    ck_assert_int_eq(tu_write_file(ck, "state"), 0);
    ck_assert_int_eq(tropt_tracker_checkpoint(t, ck), TROPT_OK);
    tropt_sample s = {"sys/proc/rss_bytes", 1e6, 2e6};
    ck_assert_int_eq(tropt_tracker_import_system(t, 1.8e9, &s, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "doomed"), TROPT_OK);
    json_t *sum = json_pack("{s:i}", "best", 3);
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    json_decref(sum);
    free(ck);
    return id;
}

START_TEST(test_delete_and_replay_refused)
{
    char *dir = tu_mkdtemp();
    char *journal = tu_path(dir, "j.jsonl");
    char *pg = pgtu_spec("del", NULL);
    char *both = tu_strdupf("%s;jsonl:path=%s", pg, journal);
    tropt_tracker *t = open_t(both);
    char *gone = full_run(t, dir);
    char *kept = full_run(t, dir);
    tropt_tracker_free(t);
    PGconn *c = pgtu_connect();
    int64_t num = pgtu_i64(c, "SELECT id FROM del.tropt_run WHERE run_id = '%s'", gone);
    int64_t kept_num = pgtu_i64(c, "SELECT id FROM del.tropt_run WHERE run_id = '%s'", kept);
    int64_t kept_rows = rows_of(c, kept, kept_num);
    ck_assert_int_eq(rows_of(c, gone, num), kept_rows);
    ck_assert_int_ge(kept_rows, 1 + 1 + 10 + 1 + 1 + 1 + 1);

    t = open_t(pg);
    ck_assert_msg(tropt_tracker_delete_run(t, gone) == TROPT_OK, "%s", tropt_error_message());
    ck_assert_int_eq(rows_of(c, gone, num), 0);
    ck_assert_int_eq(rows_of(c, kept, kept_num), kept_rows);
    ck_assert_int_eq(
        pgtu_i64(c, "SELECT count(*) FROM del.tropt_deleted WHERE run_id = '%s'", gone), 1);
    /* the store's integrity: every index and table of the schema checks */
    PQclear(pgtu_q(c, "CREATE EXTENSION IF NOT EXISTS amcheck"));
    ck_assert_int_ge(pgtu_i64(c, "SELECT count(*) FROM (SELECT bt_index_check(i.indexrelid, true)"
                                 " FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN"
                                 " pg_namespace n ON n.oid = x.relnamespace"
                                 " WHERE n.nspname = 'del') y"),
                     12);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM pg_class x JOIN pg_namespace n ON"
                                 " n.oid = x.relnamespace CROSS JOIN LATERAL verify_heapam(x.oid)"
                                 " WHERE n.nspname = 'del' AND x.relkind = 'r'"),
                     0);
    /* a second delete: no such run */
    ck_assert_int_eq(tropt_tracker_delete_run(t, gone), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), gone), "%s", tropt_error_message());
    /* the id is never written again */
    tropt_run_info info = {.run_id = gone, .started_at = 1.8e9};
    ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "was deleted"), "%s", tropt_error_message());
    tropt_tracker_free(t);
    /* a replay of the journal that still holds it: refused for that run,
     * with a message that says so; the other run is there as before */
    char *cmd =
        tu_strdupf("'%s' replay '%s' --tracker '%s' 2>&1", getenv("TROPT_CLI"), journal, pg);
    char *out = NULL;
    tu_run(cmd, &out, 1);
    char *says = tu_strdupf("run %s was deleted from schema del", gone);
    ck_assert_msg(out && strstr(out, says), "%s\n%s", cmd, out ? out : "");
    ck_assert_int_eq(rows_of(c, gone, num), 0);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM del.runs WHERE run_id = '%s'", gone), 0);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM del.metrics WHERE run_id = '%s'", kept), 10);
    free(says);
    free(out);
    free(cmd);
    PQfinish(c);
    free(gone);
    free(kept);
    free(both);
    free(pg);
    free(journal);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- system samples ------------------------------------------------------------- */

typedef struct sys_seen {
    int events;
    double time[4];
    size_t n[4];
    tropt_sample s[4][3];
    char keys[4][3][64];
} sys_seen;

static int on_sys(const tropt_event *ev, void *ud)
{
    sys_seen *s = ud;
    if (ev->kind != TROPT_EVENT_SYSTEM || s->events >= 4)
        return 0;
    int k = s->events++;
    s->time[k] = ev->time;
    s->n[k] = ev->n_samples;
    for (size_t i = 0; i < ev->n_samples && i < 3; i++) {
        s->s[k][i] = ev->samples[i];
        snprintf(s->keys[k][i], sizeof s->keys[k][i], "%s", ev->samples[i].key);
        s->s[k][i].key = s->keys[k][i];
    }
    return 0;
}

static void same_real(double a, double b)
{
    ck_assert_msg(memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b)), "%.17g != %.17g", a, b);
}

START_TEST(test_system_samples)
{
    char *spec = pgtu_spec("sysv", NULL);
    tropt_tracker *t = open_t(spec);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    tropt_sample a[] = {{"sys/job/mem_bytes", 0.1, 1e300},
                        {"sys/proc/cpu_cores", NAN, INFINITY},
                        {"sys/gpu0/\"odd,key\"", 5e-324, -0.0}};
    tropt_sample b[] = {{"sys/job/mem_bytes", 3.5, 4.0}};
    ck_assert_int_eq(tropt_tracker_import_system(t, 1.8e9 + 15.25, b, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_import_system(t, 1.8e9 + 0.5, a, 3), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    PGconn *c = pgtu_connect();
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM sysv.system WHERE run_id = '%s'", id), 4);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM sysv.system WHERE run_id = '%s' AND ("
                              "(key = 'sys/job/mem_bytes' AND time = 1800000000.5 AND"
                              " value = 0.1::float8 AND max = 1e300::float8) OR"
                              " (key = 'sys/proc/cpu_cores' AND value = 'NaN' AND"
                              " max = 'Infinity') OR (key = 'sys/gpu0/\"odd,key\"' AND"
                              " value = 5e-324::float8) OR (key = 'sys/job/mem_bytes' AND"
                              " time = 1800000015.25 AND value = 3.5 AND max = 4))",
                              id),
                     4);
    PQfinish(c);
    /* the reader: SYSTEM events in time order, exact */
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_OK);
    sys_seen s;
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(tropt_reader_read_run(r, id, on_sys, &s), TROPT_OK);
    ck_assert_int_eq(s.events, 2);
    same_real(s.time[0], 1.8e9 + 0.5);
    same_real(s.time[1], 1.8e9 + 15.25);
    ck_assert_uint_eq(s.n[0], 3);
    ck_assert_str_eq(s.s[0][0].key, "sys/gpu0/\"odd,key\""); /* by key within a time */
    same_real(s.s[0][0].value, 5e-324);
    same_real(s.s[0][0].max, -0.0);
    ck_assert_str_eq(s.s[0][1].key, "sys/job/mem_bytes");
    same_real(s.s[0][1].value, 0.1);
    same_real(s.s[0][1].max, 1e300);
    ck_assert(isnan(s.s[0][2].value) && isinf(s.s[0][2].max));
    same_real(s.s[1][0].value, 3.5);
    tropt_reader_free(r);
    free(id);
    free(spec);
}
END_TEST

/* ---- the spool ------------------------------------------------------------------ */

#define SPOOL_RUN "01a0b0c0-0000-7000-8000-00000000abcd"
#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Attempt 2 of a run, written while the server is down. */
static void write_spooled(const char *spec)
{
    tropt_tracker *t = open_t(spec);
    tropt_provenance prov = {"train.py --lr 0.1", "/work/job", NULL, "0.2.0"};
    tropt_run_record rec = {.struct_size = sizeof rec,
                            .run_id = SPOOL_RUN,
                            .name = "spooled-run",
                            .started_at = 1.8e9,
                            .host = "node-7",
                            .pid = 77,
                            .attempt = 2,
                            .from_step = 7,
                            .attempt_started_at = 1.8e9 + 60,
                            .resume_key = "spool-key",
                            .pidns = "pid:[4026531836]",
                            .provenance = &prov};
    json_t *cfg = json_pack("{s:f}", "lr", 0.1);
    ck_assert_msg(tropt_tracker_import_run(t, &rec, cfg) == TROPT_OK, "%s", tropt_error_message());
    json_decref(cfg);
    for (int64_t s = 7; s < 10; s++) {
        tropt_field f[] = {TROPT_F_INT("i", s), TROPT_F_REAL("nan", NAN)};
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, s, 1.8e9 + 60 + (double)s, f, 2), TROPT_OK);
    }
    tropt_checkpoint m = {2, 0, 8, 1.8e9 + 69, "/work/job/ck-8.pt", 10, SHA, NULL};
    ck_assert_int_eq(tropt_tracker_import_checkpoint(t, &m), TROPT_OK);
    tropt_sample smp[] = {{"sys/proc/rss_bytes", 1.5e9, 2e9}, {"sys/job/cpu_cores", 0.25, 1}};
    ck_assert_int_eq(tropt_tracker_import_system(t, 1.8e9 + 65, smp, 2), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "spooled-tag"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1.8e9 + 70, NULL), TROPT_OK);
    tropt_tracker_free(t);
}

typedef struct spool_seen {
    int start, logs, marks, samples, tags, end;
} spool_seen;

static void check_event(const tev_event *ev, spool_seen *s)
{
    ck_assert_str_eq(ev->run_id, SPOOL_RUN);
    switch (ev->type) {
    case TEV_RUN_START:
        s->start++;
        ck_assert(ev->attempt == 2 && ev->from_step == 7 && ev->run_started_at == 1.8e9 &&
                  ev->time == 1.8e9 + 60);
        ck_assert(ev->name && strcmp(ev->name, "spooled-run") == 0);
        ck_assert(ev->resume_key && strcmp(ev->resume_key, "spool-key") == 0);
        ck_assert(ev->pidns && strcmp(ev->pidns, "pid:[4026531836]") == 0);
        ck_assert(ev->has_provenance && strcmp(ev->provenance.command, "train.py --lr 0.1") == 0);
        break;
    case TEV_LOG:
        s->logs += ev->attempt == 2 && ev->n_fields == 2;
        break;
    case TEV_CHECKPOINT:
        s->marks += ev->checkpoint.attempt == 2 && ev->checkpoint.size == 10 &&
                    ev->checkpoint.sha256 && strcmp(ev->checkpoint.sha256, SHA) == 0;
        break;
    case TEV_SYSTEM:
        s->samples += ev->attempt == 2 && ev->n_samples == 2;
        break;
    case TEV_ANNOTATE:
        s->tags += ev->annotation.kind == TROPT_ANNOTATE_TAG &&
                   strcmp(ev->annotation.text, "spooled-tag") == 0;
        break;
    default:
        s->end += ev->type == TEV_RUN_END;
    }
}

/* Hand one decoded event to the import API, as `tropt replay` does. */
static void import_event(tropt_tracker *t, const tev_event *ev)
{
    int rc = TROPT_OK;
    if (ev->type == TEV_RUN_START) {
        tropt_run_record rec = {.struct_size = sizeof rec,
                                .run_id = ev->run_id,
                                .experiment = ev->experiment,
                                .name = ev->name,
                                .started_at = ev->run_started_at,
                                .host = ev->host,
                                .pid = ev->pid,
                                .attempt = ev->attempt,
                                .from_step = ev->from_step,
                                .attempt_started_at = ev->time,
                                .resume_key = ev->resume_key,
                                .pidns = ev->pidns,
                                .provenance = ev->has_provenance ? &ev->provenance : NULL};
        rc = tropt_tracker_import_run(t, &rec, ev->config);
    } else if (ev->type == TEV_LOG) {
        rc = tropt_tracker_log_fields_at(t, ev->step, ev->time, ev->fields, ev->n_fields);
    } else if (ev->type == TEV_CHECKPOINT) {
        rc = tropt_tracker_import_checkpoint(t, &ev->checkpoint);
    } else if (ev->type == TEV_SYSTEM) {
        rc = tropt_tracker_import_system(t, ev->time, ev->samples, ev->n_samples);
    } else if (ev->type == TEV_ANNOTATE) {
        rc = tropt_tracker_annotate_run(t, ev->run_id, &ev->annotation);
    } else if (ev->type == TEV_RUN_END) {
        rc = tropt_tracker_finish_run(t, ev->status, ev->time, ev->summary);
    }
    ck_assert_msg(rc == TROPT_OK, "event %d: %s", (int)ev->type, tropt_error_message());
}

/* Every event of every spool file: checked, and (t not NULL) imported. */
static spool_seen walk_spool(const char *dir, tropt_tracker *t)
{
    spool_seen s = {0};
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = tu_path(dir, e->d_name);
        tev_reader rd;
        ck_assert_int_eq(tev_reader_open(&rd, path, NULL, NULL), 0);
        tev_event ev;
        while (tev_reader_next(&rd, &ev) == 1) {
            check_event(&ev, &s);
            if (t)
                import_event(t, &ev);
            tev_event_clear(&ev);
        }
        tev_reader_close(&rd);
        free(path);
    }
    closedir(d);
    return s;
}

START_TEST(test_spool_carries_everything)
{
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *more = tu_strdupf("spool_dir=%s", spool);
    char *spec = pgtu_spec("spooled", more);
    pgtu_stop("fast");
    write_spooled(spec);
    pgtu_start();
    spool_seen s = walk_spool(spool, NULL);
    ck_assert_int_eq(s.start, 1);
    ck_assert_int_eq(s.logs, 3);
    ck_assert_int_eq(s.marks, 1);
    ck_assert_int_eq(s.samples, 1);
    ck_assert_int_eq(s.tags, 1);
    ck_assert_int_eq(s.end, 1);
    /* replayed twice through the import API: the run as written, once */
    for (int pass = 0; pass < 2; pass++) {
        tropt_tracker *t = open_t(spec);
        walk_spool(spool, t);
        tropt_tracker_free(t);
    }
    PGconn *c = pgtu_connect();
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM spooled.runs WHERE run_id = '" SPOOL_RUN
                                 "' AND name = 'spooled-run' AND attempts = 2 AND"
                                 " status = 'finished' AND tags = '[\"spooled-tag\"]' AND"
                                 " command = 'train.py --lr 0.1' AND started_at = 1.8e9"),
                     1);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM spooled.tropt_attempt WHERE attempt = 2 AND"
                                 " from_step = 7 AND started_at = 1.8e9 + 60 AND host = 'node-7'"
                                 " AND pid = 77 AND pidns = 'pid:[4026531836]'"),
                     1);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM spooled.tropt_attempt"), 1);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM spooled.metrics_history WHERE attempt = 2"
                                 " AND ((key = 'i' AND value_int = step) OR (key = 'nan' AND"
                                 " value = 'NaN'))"),
                     6);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM spooled.checkpoints WHERE attempt = 2 AND"
                                 " step = 8 AND size = 10 AND sha256 = '" SHA "'"),
                     1);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM spooled.system WHERE time = 1.8e9 + 65"), 2);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM spooled.params WHERE key = 'lr'"), 1);
    PQfinish(c);
    free(spec);
    free(more);
    free(spool);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    pgtu_start();
    Suite *s = suite_create("pg-meta");
    TCase *tc = tcase_create("meta");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_names_read_back);
    tcase_add_test(tc, test_tags_and_note);
    tcase_add_test(tc, test_delete_and_replay_refused);
    tcase_add_test(tc, test_system_samples);
    tcase_add_test(tc, test_spool_carries_everything);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    pgtu_destroy();
    return rc;
}
