/*
 * tests/abi/test_abi11.c - a third-party plugin built against the ABI 1.1
 * header still loads and works unchanged (issue 28).
 *
 * tests/abi/v11/include/tropt/ holds the public headers a plugin includes
 * (plugin.h, common.h) exactly as they were before ABI 1.2 (commit 4e01a57,
 * the last change to plugin.h before e6aa56c).  The project's plugin
 * template (doc/plugin-template) is copied out of the tree and built by its
 * own Makefile against them (a tropt.pc of the test's points pkg-config
 * there), loaded into today's core by name, driven through whole runs
 * while the caller uses the ABI 1.2 API (a run name, a tag, a checkpoint
 * mark), and checked by `tropt conformance`: every promise that applies
 * kept, the ABI 1.2 ones skipped saying why.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abiutil.h"

/* Build the template in <dir>/src with its Makefile against the 1.1
 * headers; returns the .so (malloc'd). */
static char *build_template(const char *dir)
{
    const char *src = tu_source_root();
    char *pc = tu_strdupf("%s/pc/tropt.pc", dir);
    char *cmd = tu_strdupf("mkdir -p '%s/src' '%s/pc' && cp '%s/doc/plugin-template/Makefile' "
                           "'%s/doc/plugin-template/tropt-template.c' '%s/src/'",
                           dir, dir, src, src, dir);
    ck_assert_int_eq(tu_run(cmd, NULL, 1), 0);
    free(cmd);
    char *pc_text = tu_strdupf("plugindir=%s/plugins\n"
                               "Name: tropt\n"
                               "Description: tropt as the release before ABI 1.2 installed it\n"
                               "Version: 0.1.0\n"
                               "Requires: jansson\n"
                               "Cflags: -I%s/tests/abi/v11/include\n",
                               dir, src);
    ck_assert_int_eq(tu_write_file(pc, pc_text), 0);
    cmd = tu_strdupf("cd '%s/src' && PKG_CONFIG_PATH='%s/pc' CFLAGS='-O2 -g -Werror' make 2>&1",
                     dir, dir);
    char *log = NULL;
    int rc = tu_run(cmd, &log, 1);
    ck_assert_msg(rc == 0 && strstr(log, "tests/abi/v11/include"),
                  "the template did not build against the ABI 1.1 headers (exit %d):\n$ %s\n%s", rc,
                  cmd, log);
    free(log);
    free(cmd);
    free(pc_text);
    free(pc);
    return tu_strdupf("%s/src/tropt-template.so", dir);
}

/* The table says ABI 1.1 and has the 1.1 size (reader hooks, no more). */
static void assert_abi11_table(const char *so)
{
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "dlopen %s: %s", so, dlerror());
    const tropt_plugin *(*entry)(void) = NULL;
    *(void **)&entry = dlsym(h, TROPT_PLUGIN_ENTRY_SYMBOL);
    ck_assert_msg(entry != NULL, "%s: no %s", so, TROPT_PLUGIN_ENTRY_SYMBOL);
    const tropt_plugin *p = entry();
    ck_assert_msg(p->abi_version == ((1u << 16) | 1u) &&
                      p->struct_size == TROPT_PLUGIN_READER_SIZE &&
                      p->struct_size < TROPT_PLUGIN_V12_SIZE,
                  "abi_version 0x%x, struct_size %u (1.1: 0x10001, %zu)", p->abi_version,
                  p->struct_size, (size_t)TROPT_PLUGIN_READER_SIZE);
    dlclose(h);
}

static void log_at(tropt_tracker *t, int64_t step, double time, const tropt_field *f, size_t n)
{
    int rc = tropt_tracker_log_fields_at(t, step, time, f, n);
    ck_assert_msg(rc == TROPT_OK, "log: %s", tropt_error_message());
}

/* Run 1: named, tagged, a checkpoint mark, two steps, finished.  Run 2:
 * one step, then the tracker freed (aborted).  The ids into id1, id2. */
static void drive_runs(const char *dir, char id1[40], char id2[40])
{
    char *spec = tu_strdupf("template:path=%s/events.txt", dir);
    char *ckpt = tu_path(dir, "state.ckpt");
    ck_assert_int_eq(tu_write_file(ckpt, "state"), 0);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, "exp", NULL);
    ck_assert_msg(rc == TROPT_OK, "%s: %s", tropt_error_name(rc), tropt_error_message());
    ck_assert_int_eq(tropt_tracker_set_run_name(t, "v11-run"), TROPT_OK);
    json_t *cfg = json_pack("{s:f}", "lr", 0.5);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    snprintf(id1, 40, "%s", tropt_tracker_run_id(t));
    ck_assert_str_eq(tropt_tracker_run_name(t), "v11-run");
    rc = tropt_tracker_tag(t, "baseline"); /* no backend keeps metadata: ignored */
    ck_assert_msg(rc == TROPT_OK, "tag: %s", tropt_error_message());
    tropt_field f0[] = {TROPT_F_REAL("loss", 0.5), TROPT_F_INT("n", 7), TROPT_F_STR("s", "x\"y"),
                        TROPT_F_REAL("r", NAN)};
    log_at(t, 0, 1767225600.25, f0, 4);
    rc = tropt_tracker_checkpoint(t, ckpt); /* no backend stores marks: ignored */
    ck_assert_msg(rc == TROPT_OK, "checkpoint: %s", tropt_error_message());
    tropt_field f1[] = {TROPT_F_REAL("loss", 0.25)};
    log_at(t, 1, 1767225601.5, f1, 1);
    json_t *summary = json_pack("{s:f}", "best", 0.25);
    ck_assert_int_eq(tropt_tracker_finish(t, summary), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    snprintf(id2, 40, "%s", tropt_tracker_run_id(t));
    tropt_field f2[] = {TROPT_F_INT("i", 1)};
    log_at(t, 0, 1767225602.0, f2, 1);
    tropt_tracker_free(t); /* the second run ends aborted */
    json_decref(summary);
    json_decref(cfg);
    free(ckpt);
    free(spec);
}

START_TEST(template_built_against_abi11_works_unchanged)
{
    char *dir = tu_mkdtemp();
    char *so = build_template(dir);
    assert_abi11_table(so);
    char *src = tu_path(dir, "src");
    abi_set_path(src);
    char id1[40], id2[40];
    drive_runs(dir, id1, id2);
    abi_assert_not_loaded(so);

    char *events = tu_path(dir, "events.txt");
    char *got = tu_read_file(events, NULL);
    char *want = tu_strdupf("run %s  experiment=\"exp\"  lr=0.5\n"
                            "step 0  time=1767225600.25  loss=0.5  n=7  s=\"x\\\"y\"  r=nan\n"
                            "step 1  time=1767225601.5  loss=0.25\n"
                            "end finished  best=0.25\n"
                            "run %s  experiment=\"exp\"\n"
                            "step 0  time=1767225602  i=1\n"
                            "end aborted\n",
                            id1, id2);
    ck_assert_msg(got && strcmp(got, want) == 0, "events.txt:\n%s\nexpected:\n%s",
                  got ? got : "(none)", want);
    free(want);
    free(got);
    free(events);
    free(src);
    free(so);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* `tropt conformance` on it: no promise broken, the reader ones skipped for
 * lack of reader hooks, the ABI 1.2 ones for that and an ABI 1.2 table. */
START_TEST(template_built_against_abi11_keeps_its_promises)
{
    char *dir = tu_mkdtemp();
    char *so = build_template(dir);
    char *cmd = tu_strdupf("cd '%s' && '%s' conformance '%s'", dir, getenv("TROPT_CLI"), so);
    char *out = NULL;
    int st = tu_run(cmd, &out, 1);
    int kept = -1, ran = -1, skipped = -1;
    const char *last = strstr(out, "\nconformance: ");
    ck_assert_msg(st == 0 && !strstr(out, "FAIL") && last &&
                      sscanf(last, "\nconformance: %d/%d promises kept, %d skipped", &kept, &ran,
                             &skipped) == 3 &&
                      kept == ran && ran >= 8,
                  "$ %s (exit %d)\n%s", cmd, st, out);
    static const char *const v12[] = {"14  name: ",   "15  annotate: ",   "16  delete: ",
                                      "17  resume: ", "18  checkpoint: ", "19  system: "};
    for (size_t i = 0; i < sizeof v12 / sizeof v12[0]; i++) {
        const char *line = strstr(out, v12[i]);
        ck_assert_msg(line && strncmp(line - 5, "skip ", 5) == 0 &&
                          strstr(line, "(skipped: the plugin lacks reader hooks and an ABI 1.2 "
                                       "table") == strchr(line, '\n') + 7,
                      "%s: not skipped for want of ABI 1.2:\n%s", v12[i], out);
    }
    ck_assert_msg(strstr(out, "readback: everything logged reads back identical\n"
                              "      (skipped: the plugin lacks reader hooks)\n"),
                  "%s", out);
    free(out);
    free(cmd);
    free(so);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("abi-abi11");
    TCase *tc = tcase_create("abi11");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, template_built_against_abi11_works_unchanged);
    tcase_add_test(tc, template_built_against_abi11_keeps_its_promises);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
