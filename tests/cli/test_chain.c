/*
 * tests/cli/test_chain.c - a run's identity and its attempts carried by
 * `tropt replay` from store to store (issues 28, 29):
 *   - a run named, tagged and noted in sqlite (during the run and after it)
 *     replayed sqlite -> jsonl -> pg (sqlite again when pg is not built)
 *     keeps its name, tags and note;
 *   - a run preempted twice (SIGKILL) and continued by its resume key in a
 *     jsonl journal, replayed into a fresh sqlite and pg store, gives the
 *     same current steps and the same history (superseded rows marked) in
 *     each, by SQL and through the reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#include "attempts.h"
#include "cli_tu.h"
#include "readback.h"
#include "sqlite_tu.h"
#ifdef CLI_TU_PG
#include "pg_tu.h"
#endif

/* The last store of the chain: pg when it is built (and keeps metadata). */
static const char *last_backend(void)
{
    for (size_t i = 0; i < n_meta_backends; i++)
        if (strcmp(meta_backends[i], "pg") == 0 && store_keeps_meta("pg"))
            return "pg";
    return "sqlite";
}

static void replay(const char *from, const char *to)
{
    result r = tropt("replay --from '%s' --tracker '%s'", from, to);
    ck_assert_msg(r.rc == 0, "replay %s -> %s: exit %d\n%s%s", from, to, r.rc, r.out, r.err);
    result_free(&r);
}

typedef struct ident {
    const char *name;
    char id[40], tags[256], note[256];
    int n;
} ident;

static int see_ident(const tropt_stored_run *run, void *ud)
{
    ident *w = ud;
    if (!run->name || strcmp(run->name, w->name) != 0)
        return 0;
    w->n++;
    snprintf(w->id, sizeof w->id, "%s", run->run_id);
    w->tags[0] = '\0';
    for (size_t i = 0; i < run->n_tags; i++)
        snprintf(w->tags + strlen(w->tags), sizeof w->tags - strlen(w->tags), "%s%s", i ? "," : "",
                 run->tags[i]);
    snprintf(w->note, sizeof w->note, "%s", run->note ? run->note : "");
    return 0;
}

static ident identity(const char *spec, const char *name)
{
    ident w = {.name = name};
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    ck_assert_int_eq(tropt_reader_list_runs(r, see_ident, &w), TROPT_OK);
    tropt_reader_free(r);
    return w;
}

START_TEST(name_tags_and_note_survive_sqlite_jsonl_pg)
{
    char *dir = tu_mkdtemp(), *sub = tu_path(dir, "last");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    char *db = tu_strdupf("sqlite:path=%s/first.db", dir);
    char *journal = tu_strdupf("jsonl:path=%s/mid.jsonl", dir);
    char *last = meta_spec(last_backend(), sub);

    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, db, "chain", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_set_run_name(t, "chain-run"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "during"), TROPT_OK);
    tropt_field f = TROPT_F_REAL("loss", 0.25);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    /* after the run, as a user does it */
    result r = tropt("tag chain-run after gone --from '%s'", db);
    ck_assert_msg(r.rc == 0, "%s%s", r.out, r.err);
    result_free(&r);
    r = tropt("untag chain-run gone --from '%s'", db);
    ck_assert_msg(r.rc == 0, "%s%s", r.out, r.err);
    result_free(&r);
    r = tropt("note chain-run 'diverged \"twice\", <b>then</b> recovered' --from '%s'", db);
    ck_assert_msg(r.rc == 0, "%s%s", r.out, r.err);
    result_free(&r);

    replay(db, journal);
    replay(journal, last);
    const char *specs[] = {db, journal, last};
    ident first = identity(db, "chain-run");
    for (size_t i = 0; i < 3; i++) {
        ident w = identity(specs[i], "chain-run");
        ck_assert_msg(w.n == 1, "%s: %d runs named chain-run", specs[i], w.n);
        ck_assert_str_eq(w.id, first.id);
        ck_assert_str_eq(w.tags, "during,after");
        ck_assert_str_eq(w.note, "diverged \"twice\", <b>then</b> recovered");
    }
    r = tropt("runs --tag after --from '%s'", last);
    ck_assert_msg(r.rc == 0 && strstr(r.out, "chain-run"), "%s%s", r.out, r.err);
    result_free(&r);
    free(last), free(journal), free(db), free(sub);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- attempts ---------------------------------------------------------- */

/* Steps and marks apart: where a store puts its marks among the steps is
 * its own (each is in order among its kind). */
typedef struct rows {
    char *text, *marks;
} rows;

static int see_row(const tropt_event *ev, void *ud)
{
    rows *w = ud;
    if (ev->kind != TROPT_EVENT_STEP && ev->kind != TROPT_EVENT_CHECKPOINT)
        return 0;
    char *line;
    if (ev->kind == TROPT_EVENT_CHECKPOINT) {
        const tropt_checkpoint *m = ev->checkpoint;
        line = tu_strdupf("mark %lld/%lld step %lld size %lld %s\n", (long long)m->attempt,
                          (long long)m->seq, (long long)m->step, (long long)m->size,
                          m->sha256 ? m->sha256 : "-");
    } else {
        char *fields = strdup("");
        for (size_t i = 0; i < ev->n; i++) {
            char *one = rb_field(&ev->fields[i]), *more = tu_strdupf("%s %s", fields, one);
            free(one), free(fields);
            fields = more;
        }
        line = tu_strdupf("step %lld attempt %lld%s%s\n", (long long)ev->step,
                          (long long)(ev->attempt ? ev->attempt : 1),
                          ev->superseded ? " superseded" : "", fields);
        free(fields);
    }
    char **to = ev->kind == TROPT_EVENT_CHECKPOINT ? &w->marks : &w->text;
    char *more = tu_strdupf("%s%s", *to, line);
    free(*to), free(line);
    *to = more;
    return 0;
}

/* The run's current steps (history 0) or every row (history 1), as text. */
static char *steps_text(const char *spec, const char *id, int history)
{
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    rows w = {strdup(""), strdup("")};
    int rc = history ? tropt_reader_read_history(r, id, see_row, &w)
                     : tropt_reader_read_run(r, id, see_row, &w);
    ck_assert_msg(rc == TROPT_OK, "%s: %s", spec, tropt_error_message());
    tropt_reader_free(r);
    char *both = tu_strdupf("%s%s", w.text, w.marks);
    free(w.text), free(w.marks);
    return both;
}

static void sqlite_rows(const char *spec, const char *id)
{
    sqlite3 *db = tq_db(strchr(spec, '=') + 1);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id=%Q AND key='loss'", id),
                     200);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM metrics WHERE run_id=%Q AND key='loss' AND "
                            "value = (CASE WHEN step < 50 THEN 1000 WHEN step < 100 THEN 2000 "
                            "ELSE 3000 END) + step",
                            id),
                     200);
    ck_assert_int_eq(
        tq_int(db, "SELECT count(*) FROM metrics_history WHERE run_id=%Q AND key='loss'", id), 300);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM metrics_history WHERE run_id=%Q AND "
                            "key='loss' AND superseded",
                            id),
                     100);
    sqlite3_close(db);
}

#ifdef CLI_TU_PG
static void pg_rows(const char *spec, const char *id)
{
    const char *s = strstr(spec, "schema=");
    ck_assert_ptr_nonnull(s);
    char schema[64];
    snprintf(schema, sizeof schema, "%.*s", (int)strcspn(s + 7, ",;"), s + 7);
    PGconn *c = pgtu_connect();
    ck_assert_int_eq(
        pgtu_i64(c, "SELECT count(*) FROM %s.metrics WHERE run_id='%s' AND key='loss'", schema, id),
        200);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM %s.metrics WHERE run_id='%s' AND key='loss' "
                              "AND value = (CASE WHEN step < 50 THEN 1000 WHEN step < 100 THEN "
                              "2000 ELSE 3000 END) + step",
                              schema, id),
                     200);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM %s.metrics_history WHERE run_id='%s' AND "
                              "key='loss'",
                              schema, id),
                     300);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM %s.metrics_history WHERE run_id='%s' AND "
                              "key='loss' AND superseded",
                              schema, id),
                     100);
    PQfinish(c);
}
#endif

START_TEST(attempts_replayed_from_a_journal_read_the_same)
{
    char *dir = tu_mkdtemp(), *sub = tu_path(dir, "pg");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    char *journal = tu_strdupf("jsonl:path=%s/preempted.jsonl", dir);
    at_attempt_killed(journal, "slurm-77", dir, 1);
    at_attempt_killed(journal, "slurm-77", dir, 2);
    at_attempt_finished(journal, "slurm-77", dir, 3);
    char id[37];
    at_check_three_attempts(journal, "slurm-77", dir, id);

    char *db = tu_strdupf("sqlite:path=%s/replayed.db", dir);
    replay(journal, db);
    at_check_three_attempts(db, "slurm-77", dir, id);
    sqlite_rows(db, id);
    char *want_now = steps_text(journal, id, 0), *want_all = steps_text(journal, id, 1);
    const char *specs[2] = {db, NULL};
    char *pg = NULL;
    if (strcmp(last_backend(), "pg") == 0) {
        pg = meta_spec("pg", sub);
        replay(journal, pg);
        at_check_three_attempts(pg, "slurm-77", dir, id);
#ifdef CLI_TU_PG
        pg_rows(pg, id);
#endif
        specs[1] = pg;
    }
    for (size_t i = 0; i < 2 && specs[i]; i++) {
        char *now = steps_text(specs[i], id, 0), *all = steps_text(specs[i], id, 1);
        ck_assert_msg(strcmp(now, want_now) == 0,
                      "%s: current steps differ:\n%.2000s\njournal:\n%.2000s", specs[i], now,
                      want_now);
        ck_assert_msg(strcmp(all, want_all) == 0,
                      "%s: history differs:\n%.2000s\njournal:\n%.2000s", specs[i], all, want_all);
        free(now), free(all);
    }
    free(want_now), free(want_all), free(pg), free(db), free(journal), free(sub);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli-chain");
    TCase *tc = tcase_create("chain");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, meta_servers_start, meta_servers_stop);
    tcase_add_test(tc, name_tags_and_note_survive_sqlite_jsonl_pg);
    tcase_add_test(tc, attempts_replayed_from_a_journal_read_the_same);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
