/*
 * tests/reliability/test_security.c - what the library promises about files
 * and secrets:
 *   - every file and folder a backend creates respects the process umask:
 *     it is never more permissive than 0666 & ~umask (files) or
 *     0777 & ~umask (folders), so a journal, a CSV folder, a database or a
 *     spool is never world-writable (checked under umask 002 and 077);
 *   - a secret option's value (the recorder's `secret_level`, the http
 *     backend's `headers`, the token read through `token_env`) never appears
 *     in `tropt plugins`, `tropt check` (success or any failure), in
 *     tropt_error_message() or in any diagnostic line at debug level.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define SECRET "918273645"

static int plugin_present(const char *name)
{
    const char *pp = getenv("TROPT_PLUGIN_PATH");
    if (!pp)
        return 0;
    char *copy = strdup(pp);
    int found = 0;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && !found;
         d = strtok_r(NULL, ":", &save)) {
        char f[4096];
        snprintf(f, sizeof f, "%s/tropt-%s.so", d, name);
        found = access(f, R_OK) == 0;
    }
    free(copy);
    return found;
}

#define ck_assert_no_secret(text, what)                                                            \
    ck_assert_msg(strstr((text), SECRET) == NULL, "the secret value appears in %s:\n%s", (what),   \
                  (text))

/* ---- umask ---------------------------------------------------------------- */

static mode_t walk_umask;
static char walk_bad[8192];
static int walk_count;

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)f;
    if (f->level == 0)
        return 0; /* the test's own folder */
    mode_t perm = st->st_mode & 07777;
    mode_t allowed;
    if (flag == FTW_D || flag == FTW_DP)
        allowed = 0777 & ~walk_umask;
    else if (S_ISREG(st->st_mode))
        allowed = 0666 & ~walk_umask;
    else
        return 0;
    walk_count++;
    if ((perm & ~allowed) != 0 || (perm & S_IWOTH)) {
        size_t used = strlen(walk_bad);
        snprintf(walk_bad + used, sizeof walk_bad - used, "  %04o %s (umask %03o allows %04o)\n",
                 (unsigned)perm, path, (unsigned)walk_umask, (unsigned)allowed);
    }
    return 0;
}

/* A run with every kind of call, under umask `um`, on `spec`; then every
 * file and folder under dir must respect um.  Returns the number of entries
 * checked. */
static int run_under_umask(const char *dir, const char *spec, mode_t um)
{
    mode_t old = umask(um);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, "perm exp", NULL);
    ck_assert_msg(rc == TROPT_OK, "open %s: %s", spec, tropt_error_message());
    json_t *cfg = json_pack("{s:i}", "seed", 1);
    json_t *d1 = json_pack("{s:f}", "loss", 1.0);
    json_t *d2 = json_pack("{s:f, s:f}", "loss", 0.5, "late_key", 2.0); /* csv rewrite */
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log(t, d1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log(t, d2), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_OK);
    rc = tropt_tracker_finish(t, d1);
    ck_assert_msg(rc == TROPT_OK, "finish: %s", tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log(t, d1), TROPT_OK);
    tropt_tracker_free(t); /* aborted run */
    json_decref(cfg);
    json_decref(d1);
    json_decref(d2);
    umask(old);

    walk_umask = um;
    walk_bad[0] = '\0';
    walk_count = 0;
    nftw(dir, walk_one, 16, FTW_PHYS);
    ck_assert_msg(walk_bad[0] == '\0', "%s created entries more permissive than the umask:\n%s",
                  spec, walk_bad);
    return walk_count;
}

typedef struct perm_case {
    const char *plugin;
    const char *fmt; /* spec, %1$s = the folder */
} perm_case;

static const perm_case perm_cases[] = {
    {"jsonl", "jsonl:path=%1$s/j.jsonl"},
    {"csv", "csv:dir=%1$s/csv"},
    {"csv", "csv:dir=%1$s/csv,layout=long"},
    {"sqlite", "sqlite:path=%1$s/t.db"},
    {"sqlite", "sqlite:path=%1$s/t.db,commit_every=10"},
    {"http", "http:url=http://127.0.0.1:1/,spool_dir=%1$s/spool,retries=0,timeout=200ms,"
             "flush_timeout=300ms,retry_initial=10ms"},
};

START_TEST(backend_files_respect_umask)
{
    const perm_case *pc = &perm_cases[_i];
    if (!plugin_present(pc->plugin)) {
        printf("umask: %s not built, skipped\n", pc->plugin);
        return;
    }
    tropt_set_log_handler(NULL, NULL);
    tropt_set_log_level(TROPT_LEVEL_ERROR); /* the http spool warns */
    static const mode_t masks[] = {002, 077, 022};
    for (size_t m = 0; m < sizeof masks / sizeof *masks; m++) {
        char *dir = tu_mkdtemp();
        char *spec = tu_strdupf(pc->fmt, dir);
        int n = run_under_umask(dir, spec, masks[m]);
        ck_assert_msg(n > 0, "%s created no file under %s", spec, dir);
        tu_rmtree(dir);
        free(dir);
        free(spec);
    }
    tropt_set_log_level((tropt_level)-1);
}
END_TEST

/* ---- secrets through the CLI --------------------------------------------- */

static char *cli(const char *args, int *status)
{
    const char *tool = getenv("TROPT_CLI");
    ck_assert_msg(tool != NULL, "TROPT_CLI is not set");
    char *cmd = tu_strdupf("TROPT_LOG_LEVEL=debug '%s' %s", tool, args);
    char *out = NULL;
    int st = tu_run(cmd, &out, 1);
    if (status)
        *status = st;
    free(cmd);
    return out;
}

START_TEST(secret_never_in_plugins_listing)
{
    int st;
    char *out = cli("plugins", &st);
    ck_assert_msg(st == 0, "tropt plugins exited %d:\n%s", st, out);
    ck_assert_msg(strstr(out, "secret_level") != NULL, "recorder not listed:\n%s", out);
    /* The recorder's secret_level defaults to 4242: the listing must not show
     * that default either. */
    const char *line = strstr(out, "secret_level");
    const char *eol = strchr(line, '\n');
    char *l = strndup(line, eol ? (size_t)(eol - line) : strlen(line));
    ck_assert_msg(strstr(l, "4242") == NULL, "secret default shown: %s", l);
    free(l);
    free(out);
}
END_TEST

/* `tropt check` with the secret in every position a message could quote it. */
static const char *const check_specs[] = {
    /* success: the option listing */
    "recorder:secret_level=" SECRET,
    "recorder:tag=x,secret_level=" SECRET ",level=2",
    "recorder:secret_level=\"" SECRET "\"",
    /* ill-typed secret */
    "recorder:secret_level=" SECRET "x",
    "recorder:secret_level=x" SECRET,
    "recorder:secret_level=" SECRET SECRET SECRET, /* out of int64 range */
    /* failures next to the secret */
    "recorder:secret_level=" SECRET ",bogus=1",
    "recorder:secret_level=" SECRET ",level=99",
    "recorder:secret_level=" SECRET ",secret_level=1",
    "recorder:secret_level=1,secret_level=" SECRET,
    "recorder:secret_level=" SECRET ",fail=create",
    "recorder:secret_level=" SECRET ",out=/nonexistent-dir/x/y",
    "recorder:secret_level=" SECRET ";nosuchplugin",
    "recorder:secret_level=" SECRET ";recorder:secret_level=" SECRET ",mode=z",
    "recorder:secret_level=" SECRET ",on_error=maybe",
    /* malformed specs: the parser cannot know which value is secret, so it
     * must never quote a value */
    "recorder:secret_level=\"" SECRET "\"junk",
    "recorder:secret_level=" SECRET "\"",
    "recorder:secret_level=\"" SECRET,
    "recorder:secret_level=\"" SECRET "\\q\"",
    "recorder:secret_level=" SECRET ",",
    "recorder:secret_level=" SECRET ",=",
    "recorder:secret_level=" SECRET ",a b=1",
    "recorder:secret_level=" SECRET ";;",
};

START_TEST(secret_never_in_check_output)
{
    const char *spec = check_specs[_i];
    /* single-quote the spec for sh */
    char *arg = tu_strdupf("check '%s'", spec);
    int st;
    char *out = cli(arg, &st);
    ck_assert_msg(st == 0 || st == 1, "tropt check %s exited %d:\n%s", spec, st, out);
    ck_assert_no_secret(out, arg);
    if (_i < 3) {
        ck_assert_msg(st == 0 && strstr(out, "secret_level=<secret>"),
                      "expected OK and secret_level=<secret>:\n%s", out);
    } else {
        ck_assert_msg(st == 1 && strstr(out, "ERROR"), "expected an error:\n%s", out);
    }
    free(out);
    free(arg);
}
END_TEST

START_TEST(http_secrets_never_shown)
{
    if (!plugin_present("http")) {
        printf("http not built, skipped\n");
        return;
    }
    setenv("TROPT_TEST_SECRET_TOKEN", "tok-" SECRET, 1);
    static const char *const specs[] = {
        "check 'http:url=http://127.0.0.1:1/,headers=X-Api-Key: " SECRET "'",
        "check 'http:url=http://127.0.0.1:1/,headers=X-Api-Key " SECRET "'", /* malformed */
        "check 'http:url=http://127.0.0.1:1/,headers=A: 1|" SECRET "'",      /* malformed 2nd */
        "check 'http:url=http://127.0.0.1:1/,headers=X-Api-Key: " SECRET ",bogus=1'",
        "check 'http:url=http://127.0.0.1:1/,token_env=TROPT_TEST_SECRET_TOKEN'",
        "check 'http:url=http://127.0.0.1:1/,token_env=TROPT_TEST_SECRET_TOKEN,format=x'",
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        int st;
        char *out = cli(specs[i], &st);
        ck_assert_msg(st == 0 || st == 1, "%s exited %d:\n%s", specs[i], st, out);
        ck_assert_no_secret(out, specs[i]);
        free(out);
    }
    unsetenv("TROPT_TEST_SECRET_TOKEN");
}
END_TEST

/* ---- secrets through the library ------------------------------------------ */

START_TEST(secret_never_in_messages_or_diagnostics)
{
    char *dir = tu_mkdtemp();
    tropt_set_log_level(TROPT_LEVEL_DEBUG);
    tu_capture_start();
    static const char *const fmts[] = {
        "recorder:out=%s/c.txt,secret_level=" SECRET,
        "recorder:out=%s/c.txt,secret_level=" SECRET ",fail=init",
        "recorder:out=%s/c.txt,secret_level=" SECRET ",fail=log,on_error=warn",
        "recorder:out=%s/c.txt,secret_level=" SECRET ",fail=finish,fail_times=1",
        "recorder:out=%s/c.txt,secret_level=" SECRET ",fail=flush",
        "recorder:out=%s/c.txt,secret_level=" SECRET "x",
        "recorder:out=%s/c.txt,secret_level=" SECRET ",nope=2",
    };
    json_t *d = json_pack("{s:i}", "x", 1);
    for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++) {
        char *spec = tu_strdupf(fmts[i], dir);
        tropt_tracker *t = NULL;
        int rc = tropt_tracker_open(&t, spec, NULL, NULL);
        ck_assert_no_secret(tropt_error_message(), spec);
        if (rc == TROPT_OK) {
            const char *what[] = {"init", "log", "flush", "finish", "finish again"};
            int rcs[5];
            rcs[0] = tropt_tracker_init(t, NULL);
            ck_assert_no_secret(tropt_error_message(), what[0]);
            rcs[1] = tropt_tracker_log(t, d);
            ck_assert_no_secret(tropt_error_message(), what[1]);
            rcs[2] = tropt_tracker_flush(t);
            ck_assert_no_secret(tropt_error_message(), what[2]);
            rcs[3] = tropt_tracker_finish(t, NULL);
            ck_assert_no_secret(tropt_error_message(), what[3]);
            rcs[4] = tropt_tracker_finish(t, NULL);
            ck_assert_no_secret(tropt_error_message(), what[4]);
            (void)rcs;
            tropt_tracker_free(t);
        } else {
            ck_assert_int_eq(rc, TROPT_EINVAL);
        }
        free(spec);
    }
    json_decref(d);
    tu_capture_stop();
    ck_assert_no_secret(tu_captured(), "the diagnostics");
    tropt_set_log_level((tropt_level)-1);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("security");
    TCase *tc = tcase_create("umask");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, backend_files_respect_umask, 0,
                        (int)(sizeof perm_cases / sizeof *perm_cases));
    suite_add_tcase(s, tc);
    tc = tcase_create("secrets");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, secret_never_in_plugins_listing);
    tcase_add_loop_test(tc, secret_never_in_check_output, 0,
                        (int)(sizeof check_specs / sizeof *check_specs));
    tcase_add_test(tc, http_secrets_never_shown);
    tcase_add_test(tc, secret_never_in_messages_or_diagnostics);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
