/*
 * tests/cli/test_tag.c - `tropt tag`, `untag`, `note` and `rename` as a
 * user runs them, on every storing backend that keeps run metadata: a run
 * named and tagged during the run (tropt-demo --run-name --tag), then
 * tagged, untagged, noted and renamed afterwards; read back by `tropt show`,
 * by the reader API, by SQL (sqlite's runs view), and filtered by `tropt
 * runs --tag`.  Bad tags and names, unknown runs, usage errors; a store
 * whose backend keeps no metadata (a third party's ABI 1.1 plugin) gets an
 * error naming it.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include <tropt/host.h>

#include "cli_tu.h"
#include "sqlite_tu.h"

/* A stored run's tags (joined by ',') and note, through the reader API. */
typedef struct meta_read {
    const char *id;
    char tags[512];
    char *note;
    char *name;
    int found;
} meta_read;

static int see(const tropt_stored_run *run, void *ud)
{
    meta_read *m = ud;
    if (strcmp(run->run_id, m->id) != 0)
        return 0;
    m->found = 1;
    for (size_t i = 0; i < run->n_tags; i++) {
        if (i)
            strcat(m->tags, ",");
        strncat(m->tags, run->tags[i], sizeof m->tags - strlen(m->tags) - 2);
    }
    m->note = run->note ? strdup(run->note) : NULL;
    m->name = strdup(run->name);
    return 1;
}

static meta_read read_meta(const char *spec, const char *id)
{
    meta_read m = {.id = id};
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    tropt_reader_list_runs(r, see, &m);
    tropt_reader_free(r);
    ck_assert_msg(m.found, "%s holds no run %s", spec, id);
    return m;
}

static void meta_free(meta_read *m)
{
    free(m->note);
    free(m->name);
}

/* `tropt ARGS --from 'SPEC'` exits want; returns the result. */
static result on(const char *spec, int want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static result on(const char *spec, int want, const char *fmt, ...)
{
    char *args = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    result r = tropt("%s --from '%s'", args, spec);
    ck_assert_msg(r.rc == want, "tropt %s --from %s: exit %d, expected %d\n%s%s", args, spec, r.rc,
                  want, r.out, r.err);
    free(args);
    return r;
}

/* sqlite's runs view holds the name, the tags (a JSON array) and the note. */
static void sql_meta(const char *spec, const char *id, const char *name, const char *tags_json,
                     const char *note)
{
    sqlite3 *db = tq_db(spec + strlen("sqlite:path="));
    tq_text_eq(db, name, "SELECT name FROM runs WHERE run_id = %Q", id);
    char *tags = tq_text(db, "SELECT tags FROM runs WHERE run_id = %Q", id);
    json_t *got = json_loads(tags ? tags : "null", 0, NULL), *want = json_loads(tags_json, 0, NULL);
    ck_assert_msg(got && json_equal(got, want), "tags %s, expected %s", tags, tags_json);
    json_decref(got);
    json_decref(want);
    free(tags);
    tq_text_eq(db, note, "SELECT note FROM runs WHERE run_id = %Q", id);
    sqlite3_close(db);
}

static void tag_note_rename_on(const char *backend)
{
    if (!store_keeps_meta(backend)) {
        printf("tag: %s keeps no run metadata yet: skipped\n", backend);
        return;
    }
    char *dir = tu_mkdtemp(), *spec = meta_spec(backend, dir), *id, *name, *other, *oname;
    char *args = tu_strdupf("--tracker '%s' --steps 5 --run-name 'tag me' --tag during", spec);
    demo_run(args, &id, &name);
    ck_assert_str_eq(name, "tag me");
    free(args);
    args = tu_strdupf("--tracker '%s' --steps 5", spec);
    demo_run(args, &other, &oname);
    free(args);

    /* the tag given during the run is there */
    meta_read m = read_meta(spec, id);
    ck_assert_str_eq(m.tags, "during");
    ck_assert_ptr_null(m.note);
    meta_free(&m);

    /* afterwards: tag, untag, note (two lines) */
    result r = on(spec, 0, "tag 'tag me' a b");
    char *said = tu_strdupf("tagged tag me (%s): a, b\n", id);
    ck_assert_str_eq(r.out, said);
    free(said);
    result_free(&r);
    r = on(spec, 0, "untag 'tag me' a missing");
    result_free(&r);
    r = on(spec, 0, "note 'tag me' 'first line\nsecond line'");
    result_free(&r);
    m = read_meta(spec, id);
    ck_assert_str_eq(m.tags, "during,b");
    ck_assert_str_eq(m.note, "first line\nsecond line");
    meta_free(&m);
    if (strcmp(backend, "sqlite") == 0)
        sql_meta(spec, id, "tag me", "[\"during\", \"b\"]", "first line\nsecond line");
    r = on(spec, 0, "show 'tag me'");
    ck_assert_msg(strstr(r.out, "\ntags        during, b\n") &&
                      strstr(r.out, "\nnote        first line\n            second line\n"),
                  "%s", r.out);
    result_free(&r);

    /* runs --tag: every tag given must be on the run */
    r = on(spec, 0, "runs --tag b");
    ck_assert_msg(strstr(r.out, "\ntag me ") && !strstr(r.out, oname), "%s", r.out);
    ck_assert_msg(strstr(r.out, " during,b\n"), "the TAGS column: %s", r.out);
    result_free(&r);
    r = on(spec, 0, "runs --tag b --tag during");
    ck_assert_msg(strstr(r.out, "\ntag me "), "%s", r.out);
    result_free(&r);
    r = on(spec, 0, "runs --tag b --tag a");
    ck_assert_msg(strstr(r.out, "no runs in ") && strstr(r.out, " match"), "%s", r.out);
    result_free(&r);

    /* rename; the old name names nothing; the note removed with '' */
    r = on(spec, 0, "rename 'tag me' renamed");
    said = tu_strdupf("renamed tag me (%s) to renamed\n", id);
    ck_assert_str_eq(r.out, said);
    free(said);
    result_free(&r);
    r = on(spec, 1, "show 'tag me'");
    ck_assert_msg(strstr(r.err, "no run has the id, id prefix or name 'tag me'"), "%s", r.err);
    result_free(&r);
    r = on(spec, 0, "note renamed ''");
    result_free(&r);
    r = on(spec, 0, "show renamed");
    ck_assert_msg(strncmp(r.out, "name        renamed\n", 20) == 0 && !strstr(r.out, "\nnote "),
                  "%s", r.out);
    result_free(&r);
    m = read_meta(spec, id);
    ck_assert_str_eq(m.name, "renamed");
    ck_assert_ptr_null(m.note);
    meta_free(&m);

    /* what the core refuses: a tag with '/', a name with a leading '.' */
    r = on(spec, 1, "tag renamed 'a/b'");
    ck_assert_msg(strstr(r.err, "tag") && strstr(r.err, "/"), "%s", r.err);
    result_free(&r);
    r = on(spec, 1, "rename renamed .hidden");
    result_free(&r);
    r = on(spec, 1, "tag nosuchrun x");
    ck_assert_msg(strstr(r.err, "no run has the id, id prefix or name 'nosuchrun'"), "%s", r.err);
    result_free(&r);
    m = read_meta(spec, id);
    ck_assert_str_eq(m.tags, "during,b");
    ck_assert_str_eq(m.name, "renamed");
    meta_free(&m);

    free(id);
    free(name);
    free(other);
    free(oname);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(tag_note_rename)
{
    tag_note_rename_on(meta_backends[_i]);
}
END_TEST

/* A third party's ABI 1.1 store reads back but keeps no metadata: every
 * command that changes it says so, naming the backend, and exits 1. */
START_TEST(store_without_metadata_hooks)
{
    static const char *const cmds[] = {"tag %s x", "untag %s x", "note %s text", "rename %s other",
                                       "rm --yes %s"};
    const char *id = "01940000-0000-7000-8000-00000000f00d";
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *cmd = tu_strdupf(cmds[i], "01940000-0000-7000-8000-00000000f00d");
        char *args = tu_strdupf("TROPT_PLUGIN_PATH='%s':\"$TROPT_PLUGIN_PATH\" '%s' %s "
                                "--from frozen:id=%s",
                                fixture_dir(), cli(), cmd, id);
        result r = run("/usr/bin/env", args);
        ck_assert_msg(r.rc == 1, "%s: exit %d\n%s%s", cmd, r.rc, r.out, r.err);
        ck_assert_msg(strstr(r.err, "frozen") && strstr(r.err, "no backend of the spec can"),
                      "%s: %s", cmd, r.err);
        result_free(&r);
        free(args);
        free(cmd);
    }
}
END_TEST

START_TEST(usage_errors)
{
    const char *bad[] = {"tag",        "tag RUN",           "untag RUN",
                         "note RUN",   "note RUN a b",      "rename",
                         "rename RUN", "tag RUN x --bogus", "tag RUN x --db"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_usage_error(cli(), bad[i]);
    result r = tropt("tag RUN x --db a.db --from sqlite:path=a.db");
    ck_assert_msg(r.rc == 2 && strstr(r.err, "give --db or --from, not both"), "%s", r.err);
    result_free(&r);
}
END_TEST

/* The README's "Finding runs" block, run as written in a new folder (the
 * demo and the tool on PATH, the default store ./tropt.db). */
START_TEST(readme_finding_runs_block)
{
    if (!store_keeps_meta("sqlite")) {
        printf("tag: sqlite keeps no run metadata yet: the README block is skipped\n");
        return;
    }
    char *readme = tu_path(tu_source_root(), "README.md");
    char *text = tu_read_file(readme, NULL);
    ck_assert_ptr_nonnull(text);
    char *at = strstr(text, "### Finding runs");
    ck_assert_ptr_nonnull(at);
    at = strstr(at, "\n\n    ") + 2;
    char *end = strstr(at, "\n\n"), *dir = tu_mkdtemp();
    *end = '\0';
    char *bin = strdup(cli()), *dbin = strdup(demo());
    *strrchr(bin, '/') = '\0';
    *strrchr(dbin, '/') = '\0';
    char *cmd =
        tu_strdupf("cd '%s' && unset TROPT_TRACKER && PATH='%s:%s':\"$PATH\" && set -e -x\n%s\n",
                   dir, bin, dbin, at);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "the README block exits %d:\n%s", rc, out);
    /* the last `runs --sort started --reverse` lists the renamed run */
    ck_assert_msg(strstr(out, "\nadam-baseline ") && strstr(out, "adam,keep"), "%s", out);
    free(out);
    free(cmd);
    free(bin);
    free(dbin);
    free(text);
    free(readme);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli-tag");
    TCase *tc = tcase_create("tag");
    tcase_add_unchecked_fixture(tc, meta_servers_start, meta_servers_stop);
    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, tag_note_rename, 0, (int)n_meta_backends);
    tcase_add_test(tc, store_without_metadata_hooks);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, readme_finding_runs_block);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
