/*
 * tests/conformance/test_conformance.c - `tropt conformance` as a plugin
 * author runs it: every shipped plugin it applies to keeps every promise
 * that applies to it (exit 0, "conformance: N/N promises kept", the
 * promises it lacks a capability for skipped); each defective plugin of
 * defect.c breaks exactly the promises made for its defect, printed with
 * what was expected and what was observed, and exits 1; no secret option's
 * value ever appears in what the kit prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define SECRET "s3cr3t-value"

__attribute__((noinline)) static char *conformance(const char *args, int *status)
{
    char *cmd = tu_strdupf("'%s' conformance %s", getenv("TROPT_CLI"), args);
    char *out = NULL;
    *status = tu_run(cmd, &out, 1);
    free(cmd);
    return out;
}

/* The numbers of the last line: "conformance: KEPT/RAN promises kept[,
 * SKIPPED skipped]"; 0 when there is no such line. */
static int last_line(const char *out, int *kept, int *ran, int *skipped)
{
    const char *line = NULL;
    for (const char *p = strstr(out, "conformance: "); p; p = strstr(p + 1, "conformance: "))
        line = p;
    *skipped = 0;
    return line &&
           sscanf(line, "conformance: %d/%d promises kept, %d skipped", kept, ran, skipped) >= 2;
}

/* The ids of the promises reported with `word` (FAIL, skip, ok), as
 * "id,id,..." in report order. */
static char *ids_of(const char *out, const char *word)
{
    char *ids = tu_strdupf("%s", "");
    size_t wl = strlen(word);
    for (const char *line = out; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char id[32];
        int num;
        if (strncmp(line, word, wl) != 0 || sscanf(line + wl, " %d %31[a-z]:", &num, id) != 2)
            continue;
        char *more = tu_strdupf("%s%s%s", ids, *ids ? "," : "", id);
        free(ids);
        ids = more;
    }
    return ids;
}

/* `tropt conformance --help`. */
static const char *help_text(void)
{
    static char *out;
    int st;
    if (!out) {
        out = conformance("--help", &st);
        ck_assert_msg(st == 0 && strstr(out, "\npromises:\n"), "--help: exit %d\n%s", st, out);
    }
    return out;
}

/* The ids of the promises --help lists with a need that holds `what` (NULL:
 * every promise), as "id,id,..."; *n their number. */
static char *listed(const char *what, int *n)
{
    char *ids = tu_strdupf("%s", "");
    *n = 0;
    for (const char *p = strstr(help_text(), "\npromises:\n") + 1; p; p = strchr(p + 1, '\n')) {
        int num;
        char id[32];
        const char *eol = strchr(p + 1, '\n'), *needs = strstr(p + 1, "(needs ");
        if (sscanf(p + 1, " %d %31s", &num, id) != 2)
            continue;
        if (what && !(needs && (!eol || needs < eol) && strstr(needs, what) &&
                      (!eol || strstr(needs, what) < eol)))
            continue;
        char *more = tu_strdupf("%s%s%s", ids, *ids ? "," : "", id);
        free(ids);
        ids = more;
        (*n)++;
    }
    return ids;
}

static int promise_count(void)
{
    int n;
    free(listed(NULL, &n));
    ck_assert_msg(n >= 13, "--help lists %d promises:\n%s", n, help_text());
    return n;
}

/* `ids` ("a,b,c") without the ids also in `drop`. */
static char *without(const char *ids, const char *drop)
{
    char *out = tu_strdupf("%s", ""), *copy = tu_strdupf("%s", ids), *save = NULL;
    char *pad = tu_strdupf(",%s,", drop);
    for (char *id = strtok_r(copy, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        char *key = tu_strdupf(",%s,", id);
        if (!strstr(pad, key)) {
            char *more = tu_strdupf("%s%s%s", out, *out ? "," : "", id);
            free(out);
            out = more;
        }
        free(key);
    }
    free(pad);
    free(copy);
    return out;
}

/* Every promise that ran was kept; exactly `skipped` (ids) were skipped,
 * besides any of `may_skip` (the ABI 1.2 promises of a backend whose ABI
 * 1.2 store lands on another branch), each skip with its reason. */
static void all_kept(const char *args, const char *skipped, const char *may_skip)
{
    int st, kept = -1, ran = -1, nskip = -1;
    char *out = conformance(args, &st);
    ck_assert_msg(st == 0 && !strstr(out, "FAIL") && last_line(out, &kept, &ran, &nskip) &&
                      kept == ran && ran + nskip == promise_count(),
                  "tropt conformance %s (exit %d):\n%s", args, st, out);
    char *skips = ids_of(out, "skip"), *must = without(skips, may_skip);
    ck_assert_msg(strcmp(must, skipped) == 0,
                  "%s: skipped '%s', expected '%s' (and any of '%s'):\n%s", args, skips, skipped,
                  may_skip, out);
    int reasons = 0;
    for (const char *p = strstr(out, "\n      (skipped: "); p;
         p = strstr(p + 1, "\n      (skipped: "))
        reasons++;
    ck_assert_msg(reasons == nskip, "%s: %d skipped, %d with a reason:\n%s", args, nskip, reasons,
                  out);
    ck_assert_msg(!strstr(out, SECRET), "%s: a secret value in the output:\n%s", args, out);
    /* each pass of the allocation promise has a store of its own, so the
     * passes end: every allocation point was failed once */
    ck_assert_msg(strstr(out, " allocation points failed one at a time\n") &&
                      !strstr(out, "(of more)"),
                  "%s: not every allocation point was tried:\n%s", args, out);
    free(must);
    free(skips);
    free(out);
}

START_TEST(shipped_plugins_keep_every_promise)
{
    int n;
    char *reader = listed("reader hooks", &n); /* readback,order,times,status,... */
    char *secret = listed("secret", &n);       /* secrets */
    char *v12 = listed("ABI 1.2", &n);         /* name,annotate,...: ABI 1.2 stores */
    char *none = tu_strdupf("%s,%s", secret, reader);
    ck_assert_msg(strcmp(secret, "secrets") == 0 && strncmp(reader, "readback,order,", 15) == 0 &&
                      strcmp(v12, "name,annotate,delete,resume,checkpoint,system") == 0,
                  "--help:\n%s", help_text());
    all_kept("null", none, "");
    all_kept("print", none, "");
    all_kept("sqlite", secret, v12);
    all_kept("csv", secret, v12);
    all_kept("csv layout=long", secret, v12);
    all_kept("jsonl", secret, v12);
    all_kept("tensorboard", secret, v12);
    all_kept("tensorboard scalars=double", secret, v12);
    const char *dir = getenv("TROPT_CONFORMANCE_DIR");
    char *good = tu_strdupf("%s/tropt-memgood.so token=" SECRET, dir);
    all_kept(good, "", "");
    free(good);
    /* without a token the kit gives it a value of its own */
    good = tu_strdupf("%s/tropt-memgood.so", dir);
    all_kept(good, "", "");
    free(good);
    free(none);
    free(secret);
    free(reader);
    free(v12);
}
END_TEST

/* An ABI 1.2 plugin that stores none of what ABI 1.2 adds (no hooks, its
 * reader leaving the members unfilled) has those promises skipped, each
 * saying why; a writer without a reader (the recorder) likewise. */
START_TEST(abi12_promises_skipped_with_reason)
{
    const char *dir = getenv("TROPT_CONFORMANCE_DIR");
    char *args = tu_strdupf("%s/tropt-plainreader.so token=" SECRET, dir);
    int n, st;
    char *v12 = listed("ABI 1.2", &n);
    all_kept(args, v12, "");
    char *out = conformance(args, &st);
    ck_assert_msg(
        strstr(out,
               "name: a run's name, given or default, reads back\n      (skipped: the plugin's "
               "reader gives back no run name") &&
            strstr(out, "resume: a resumed run: its attempts, each step once, latest value\n"
                        "      (skipped: the plugin's reader gives back no name and no resume key "
                        "(its ABI 1.2 members unfilled): it stores no attempts)\n") &&
            strstr(out, "annotate: tags, a note and a new name read back\n      (skipped: the "
                        "plugin lacks the annotate and delete_run hooks)\n") &&
            strstr(out, "checkpoint: a checkpoint mark reads back with size and SHA-256\n      "
                        "(skipped: the plugin lacks the checkpoint hook)\n"),
        "%s", out);
    free(out);
    free(args);
    /* the recorder: ABI 1.2 hooks for marks and samples, no reader */
    char *rec = tu_strdupf("%s", "recorder out=rec.log");
    out = conformance(rec, &st);
    ck_assert_msg(st == 0 &&
                      strstr(out, "checkpoint: a checkpoint mark reads back with size and "
                                  "SHA-256\n      (skipped: the plugin lacks reader hooks)\n"),
                  "%s", out);
    free(out);
    free(rec);
    free(v12);
}
END_TEST

/* A promise skipped for a missing capability says which. */
START_TEST(skipped_promises_say_why)
{
    int st;
    char *out = conformance("null", &st);
    ck_assert_msg(st == 0 && strstr(out, "skip 10  readback: ") &&
                      strstr(out, "readback: everything logged reads back identical\n"
                                  "      (skipped: the plugin lacks reader hooks)\n") &&
                      strstr(out, "secrets: a secret option's value never appears in any output\n"
                                  "      (skipped: the plugin lacks a secret option the kit can "
                                  "set)\n"),
                  "%s", out);
    free(out);
}
END_TEST

static const struct {
    const char *plugin;
    const char *broken; /* the promises it must break, in report order */
    const char *words;  /* in the report: what was expected and observed */
} defects[] = {
    {"nancrash", "values,readback",
     "expected: no crash\n      observed: killed by signal 6 (Aborted)\n"
     "      its last output:\n      | memory: cannot store a NaN\n"},
    {"losevalue", "readback", "read back nothing"},
    {"roundreals", "readback", "read back real"},
    {"leakinit", "alloc", "leaked"},
    {"printsecret", "secrets",
     "observed: the value of secret option 'token' appeared in a log line"},
    {"nomessage", "failures", "with message"},
    {"slowlog", "latency", "p99"},
    {"sharedbuf", "threads", "holds"},
    {"badoptions", "table", "option 'label' (string) declares a range that never applies"},
    {"steporder", "order,resume",
     "expected: steps 0,1,2,3,10,11,12 read back once each, in that order\n"
     "      observed: steps 0,2,1,3,10,11,12\n"},
    {"steptwice", "order,resume", "      observed: steps 0,1,1,3,10,11,12\n"},
    {"nannull", "readback",
     "observed: key \"nan\": logged real nan (0x7ff8000000000000), read back null\n"},
    {"allfinished", "status",
     "observed: run 2, ended by tropt_tracker_finish_run(\"aborted\"): status \"aborted\" "
     "expected, its END event says \"finished\"\n"},
    {"wholeseconds", "times",
     "expected: times read back exact to the double (start, each step, end)\n"
     "      observed: step 0's time: logged real 1767225600.45679, read back real 1767225600\n"},
    {"secretstderr", "secrets", "appeared in stdout/stderr"},
    {"secretfile", "secrets", "appeared in the file ./tropt-memory.cfg"},
    /* the report shows the plugin's message with the token masked */
    {"secretmessage", "secrets,status",
     "(tropt_tracker_finish_run(\"aborted\")): " /* the plugin's message, token masked */},
    /* ABI 1.2: each lie about what was stored is caught */
    {"namecut", "name,annotate",
     "      observed: \"conformance run \"\n"}, /* the rename is cut too */
    {"untagignored", "annotate", "observed: listed: tags \"first,second,third\""},
    {"notombstone", "delete",
     "expected: a later init of the deleted run's id refused with EINVAL, saying it was deleted\n"
     "      observed: accepted\n"},
    {"fromzero", "resume", "observed: 5 steps\n"},
    {"nohash", "checkpoint", "size -1, SHA-256 (none)"},
    {"maxismean", "system",
     "record 0, sys/proc/cpu_cores: another value or max (1.5, max 2.25 sent)"},
};

START_TEST(each_defect_breaks_its_promises)
{
    const char *dir = getenv("TROPT_CONFORMANCE_DIR");
    char *args = tu_strdupf("%s/tropt-%s.so token=" SECRET, dir, defects[_i].plugin);
    int st, kept = -1, ran = -1, skipped = -1;
    char *out = conformance(args, &st);
    ck_assert_msg(st == 1, "%s: exit %d\n%s", defects[_i].plugin, st, out);
    char *fails = ids_of(out, "FAIL");
    ck_assert_msg(strcmp(fails, defects[_i].broken) == 0, "%s: broke '%s', expected '%s':\n%s",
                  defects[_i].plugin, fails, defects[_i].broken, out);
    int n_broken = 1 + (int)(strchr(defects[_i].broken, ',') != NULL);
    ck_assert_msg(last_line(out, &kept, &ran, &skipped) && kept == ran - n_broken && skipped == 0 &&
                      ran == promise_count(),
                  "%s: last line:\n%s", defects[_i].plugin, out);
    const char *words = defects[_i].words;
    const char *fail = strstr(out, "\nFAIL ");
    ck_assert_msg(fail && strstr(fail, "expected: ") && strstr(fail, "observed: ") &&
                      strstr(fail, words),
                  "%s: report lacks expected/observed/'%s':\n%s", defects[_i].plugin, words, out);
    ck_assert_msg(!strstr(out, SECRET), "%s: the secret in the output:\n%s", defects[_i].plugin,
                  out);
    if (strcmp(defects[_i].plugin, "printsecret") == 0) /* its warning while the kit loads it */
        ck_assert_msg(strstr(out, "      while loading: warning: ") &&
                          strstr(out, "connecting with token <secret>\n"),
                      "the warning, token masked:\n%s", out);
    if (strcmp(defects[_i].plugin, "secretmessage") == 0) {
        char *msg = tu_strdupf("%s/tropt-secretmessage.so: server refused token <secret>\n", dir);
        ck_assert_msg(strstr(out, msg), "the message, token masked:\n%s", out);
        free(msg);
    }
    free(fails);
    free(out);
    free(args);
}
END_TEST

/* A plugin that shows its secret is caught without being given one: the
 * kit gives the secret option a value of its own. */
START_TEST(secret_caught_without_options)
{
    static const char *const leaky[] = {"printsecret", "secretstderr", "secretfile"};
    for (size_t i = 0; i < sizeof leaky / sizeof leaky[0]; i++) {
        char *args = tu_strdupf("%s/tropt-%s.so", getenv("TROPT_CONFORMANCE_DIR"), leaky[i]);
        int st;
        char *out = conformance(args, &st);
        char *fails = ids_of(out, "FAIL");
        ck_assert_msg(st == 1 && strcmp(fails, "secrets") == 0 &&
                          strstr(out, "the value of secret option 'token' (the kit's own value) "
                                      "appeared in ") &&
                          !strstr(out, "tropt-kit-secret-"),
                      "%s:\n%s", leaky[i], out);
        free(fails);
        free(out);
        free(args);
    }
}
END_TEST

/* One spec string, as every other command takes (SPEC 7): a name or a
 * relative path with its options after ':'. */
START_TEST(one_spec_string)
{
    int n;
    char *v12 = listed("ABI 1.2", &n);
    all_kept("jsonl:path=runs.jsonl,batch=2", "secrets", v12);
    free(v12);
    int st;
    char *args = tu_strdupf("'./tropt-memgood.so:token=" SECRET "'");
    char *cmd = tu_strdupf("cd '%s' && '%s' conformance %s", getenv("TROPT_CONFORMANCE_DIR"),
                           getenv("TROPT_CLI"), args);
    char *out = NULL;
    st = tu_run(cmd, &out, 1);
    char *first = tu_strdupf("conformance of %s/tropt-memgood.so:token=<secret>\n",
                             getenv("TROPT_CONFORMANCE_DIR"));
    ck_assert_msg(st == 0 && strncmp(out, first, strlen(first)) == 0 && !strstr(out, SECRET),
                  "%s:\n%s", cmd, out);
    free(first);
    free(out);
    free(cmd);
    free(args);
}
END_TEST

START_TEST(usage_errors)
{
    static const struct {
        const char *args, *words;
    } bad[] = {
        {"", "missing PLUGIN"},
        {"'sqlite;csv'", "conformance checks one plugin"},
        {"'sqlite:path=a.db;csv'", "conformance checks one plugin"},
        {"sqlite:path", "expected KEY=VALUE at column 1 of the options"},
        {"sqlite nokey", "options are KEY=VALUE, not 'nokey'"},
        {"'sqlite:path=\"a.db'", "option 'path': a value is raw text"},
        {"--db x", "unknown option '--db'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st;
        char *out = conformance(bad[i].args, &st);
        ck_assert_msg(st == 2 && strstr(out, bad[i].words) &&
                          strstr(out, "usage: tropt conformance"),
                      "%s: exit %d\n%s", bad[i].args, st, out);
        free(out);
    }
}
END_TEST

START_TEST(missing_plugin)
{
    int st;
    char *out = conformance("no-such-plugin-zz token=" SECRET, &st);
    ck_assert_msg(st == 1 && strstr(out, "conformance of no-such-plugin-zz:token=<hidden>\n") &&
                      strstr(out, "no-such-plugin-zz") && strstr(out, "FAIL") &&
                      !strstr(out, SECRET),
                  "%s", out);
    free(out);
}
END_TEST

/* A kit stopped half-way (its output closed, Ctrl-C) kills the running
 * promise and removes its temporary folder (under $TMPDIR). */
START_TEST(stopped_kit_leaves_nothing)
{
    char *tmp = tu_mkdtemp();
    static const char *const how[] = {"'%s' conformance csv | head -2",
                                      "timeout -s INT 1 '%s' conformance csv"};
    for (size_t i = 0; i < sizeof how / sizeof how[0]; i++) {
        char *kit = tu_strdupf(how[i], getenv("TROPT_CLI"));
        char *cmd = tu_strdupf("TMPDIR='%s' %s; ls -A '%s'", tmp, kit, tmp);
        char *out = NULL;
        tu_run(cmd, &out, 0);
        ck_assert_msg(strstr(out, "conformance of csv\n") && !strstr(out, "tropt-conformance-"),
                      "%s: left behind:\n%s", cmd, out);
        free(out);
        free(cmd);
        free(kit);
    }
    tu_rmtree(tmp);
    free(tmp);
}
END_TEST

/* Three cases, each a meson test of its own (CK_RUN_CASE) so they run side
 * by side: the shipped and test plugins that keep their promises, the
 * defective ones, and the command's own behaviour. */
static Suite *conformance_suite(void)
{
    Suite *s = suite_create("conformance");
    TCase *tc = tcase_create("kept");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, shipped_plugins_keep_every_promise);
    tcase_add_test(tc, skipped_promises_say_why);
    tcase_add_test(tc, abi12_promises_skipped_with_reason);
    suite_add_tcase(s, tc);
    tc = tcase_create("defects");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, each_defect_breaks_its_promises, 0,
                        (int)(sizeof defects / sizeof defects[0]));
    tcase_add_test(tc, secret_caught_without_options);
    suite_add_tcase(s, tc);
    tc = tcase_create("command");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, one_spec_string);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, missing_plugin);
    tcase_add_test(tc, stopped_kit_leaves_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(conformance_suite());
}
