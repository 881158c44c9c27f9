/* tests/core/test_run.c - a run's identity (SPEC 14, 15): names (given,
 * $TROPT_RUN_NAME, defaults), provenance (command line, working directory,
 * git commit read without git), tags and other metadata through the
 * ABI 1.2 hooks, checkpoint marks with their SHA-256 computed off the
 * caller's thread, the host options resume/resume_key/sys, and the status
 * rule.  Observed through the recorder test plugin. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* The value of " key=[...]" in a recorded line, malloc'd. */
static char *bracketed(const char *line, const char *key)
{
    char *pat = tu_strdupf(" %s=[", key);
    const char *p = strstr(line, pat);
    ck_assert_msg(p != NULL, "no %s in: %s", key, line);
    p += strlen(pat);
    free(pat);
    const char *end = strchr(p, ']');
    ck_assert_ptr_nonnull(end);
    return strndup(p, (size_t)(end - p));
}

/* The name the recorder saw for the n-th init. */
static char *init_name(rec_fixture *fx, int n)
{
    char *text = rec_text(fx);
    char *line = nth_line(text, "init ", n);
    ck_assert_msg(line != NULL, "no init %d in:\n%s", n, text);
    char *name = bracketed(line, "name");
    free(line);
    free(text);
    return name;
}

/* ---- names ------------------------------------------------------------- */

START_TEST(a_given_name_names_the_next_run_only)
{
    unsetenv("TROPT_RUN_NAME");
    rec_fixture fx;
    rec_open(&fx, "", "exp", NULL);
    ck_assert_int_eq(tropt_tracker_set_run_name(fx.t, "lr=0.01 seed 3"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_str_eq(tropt_tracker_run_name(fx.t), "lr=0.01 seed 3");
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    ck_assert_ptr_null(tropt_tracker_run_name(fx.t));
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    char *first = init_name(&fx, 0), *second = init_name(&fx, 1);
    ck_assert_str_eq(first, "lr=0.01 seed 3");
    ck_assert_str_ne(second, "lr=0.01 seed 3"); /* the next run got a default */
    ck_assert_str_eq(second, tropt_tracker_run_name(fx.t));
    free(first);
    free(second);
    rec_close(&fx);
}
END_TEST

START_TEST(invalid_names_are_refused_saying_why)
{
    static const struct {
        const char *name, *why;
    } bad[] = {
        {"", "run name is empty"},
        {"   ", "run name is empty"},
        {"a/b", "holds '/'"},
        {".hidden", "starts with '.'"},
        {"tab\there", "holds a control character"},
        {"esc\x1b[2J", "holds a control character"},
        {"c1\xc2\x85", "holds a control character"},
        {"bad\xff utf8", "is not valid UTF-8"},
    };
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, "null", NULL, NULL), TROPT_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(tropt_tracker_set_run_name(t, bad[i].name), TROPT_EINVAL);
        ck_assert_msg(strstr(tropt_error_message(), bad[i].why), "%zu: '%s' lacks '%s'", i,
                      tropt_error_message(), bad[i].why);
    }
    char long_name[TROPT_MAX_NAME + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    ck_assert_int_eq(tropt_tracker_set_run_name(t, long_name), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_set_run_name(t, "caf\xc3\xa9 \xe2\x9c\x93 run-1"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "x"), TROPT_ESTATE); /* no run */
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "a,b"), TROPT_EINVAL); /* ',' in a tag */
    ck_assert_int_eq(tropt_tracker_tag(t, "a/b"), TROPT_EINVAL);
    tropt_tracker_free(t);
}
END_TEST

START_TEST(env_name_names_the_first_run_then_numbers_the_others)
{
    /* in a child: the counter of $TROPT_RUN_NAME is per process */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("TROPT_RUN_NAME", "sweep", 1);
        rec_fixture fx;
        rec_open(&fx, "", NULL, NULL);
        for (int i = 0; i < 3; i++) {
            if (tropt_tracker_init(fx.t, NULL) != TROPT_OK)
                _exit(10 + i);
        }
        ck_assert_int_eq(tropt_tracker_set_run_name(fx.t, "given"), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
        const char *want[] = {"sweep", "sweep-2", "sweep-3", "given", "sweep-4"};
        for (int i = 0; i < 5; i++) {
            char *got = init_name(&fx, i);
            if (strcmp(got, want[i]) != 0) {
                fprintf(stderr, "run %d named '%s', want '%s'\n", i, got, want[i]);
                _exit(20 + i);
            }
            free(got);
        }
        rec_close(&fx);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}
END_TEST

START_TEST(default_names_are_words_and_a_number)
{
    unsetenv("TROPT_RUN_NAME");
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    char *names[4];
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
        names[i] = init_name(&fx, i);
        /* <adjective>-<noun>-<n>: lowercase words, a number, nothing else */
        char adj[32], noun[32];
        int n = 0, used = 0;
        ck_assert_msg(sscanf(names[i], "%31[a-z]-%31[a-z]-%d%n", adj, noun, &n, &used) == 3 &&
                          used == (int)strlen(names[i]) && n >= 1,
                      "default name '%s'", names[i]);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(names[i], names[j]);
    }
    for (int i = 0; i < 4; i++)
        free(names[i]);
    /* a run stored without a name reads back with the name derived from its
     * id: the same at every call */
    char a[64], b[64];
    const char *id = "01890a5d-ac96-774b-bcce-b302099a8057";
    ck_assert_uint_gt(tropt_run_default_name(id, a, sizeof a), 5);
    tropt_run_default_name(id, b, sizeof b);
    ck_assert_str_eq(a, b);
    tropt_run_default_name("not an id", a, sizeof a);
    ck_assert_str_eq(a, "run");
    rec_close(&fx);
}
END_TEST

/* ---- provenance -------------------------------------------------------- */

static char *init_field(rec_fixture *fx, const char *key)
{
    char *text = rec_text(fx);
    char *line = nth_line(text, "init ", 0);
    ck_assert_msg(line != NULL, "no init in:\n%s", text);
    char *v = bracketed(line, key);
    free(line);
    free(text);
    return v;
}

/* Run one init with the working directory `dir`; returns what the recorder
 * saw for `key`. */
static char *provenance_in(const char *dir, const char *key)
{
    char here[4096];
    ck_assert_ptr_nonnull(getcwd(here, sizeof here));
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(chdir(dir), 0);
    int rc = tropt_tracker_init(fx.t, NULL);
    ck_assert_int_eq(chdir(here), 0);
    ck_assert_int_eq(rc, TROPT_OK);
    char *v = init_field(&fx, key);
    rec_close(&fx);
    return v;
}

START_TEST(provenance_has_command_line_cwd_and_version)
{
    char *dir = tu_mkdtemp();
    char *cwd = provenance_in(dir, "cwd");
    char real[4096];
    ck_assert_ptr_nonnull(realpath(dir, real));
    ck_assert_str_eq(cwd, real);
    char *git = provenance_in(dir, "git");
    ck_assert_str_eq(git, ""); /* not a git work tree */
    char *version = provenance_in(dir, "version");
    ck_assert_str_eq(version, tropt_version());
    char *cmd = provenance_in(dir, "cmd");
    ck_assert_msg(strstr(cmd, "test_run") != NULL, "command line '%s'", cmd);
    free(cwd);
    free(git);
    free(version);
    free(cmd);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A real repository made by git: the commit read from .git (loose ref,
 * packed ref, detached HEAD, a sub-folder, a linked work tree) is the one
 * `git rev-parse HEAD` prints. */
START_TEST(git_commit_is_read_from_dot_git_without_git)
{
    if (system("git --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "git_commit_is_read_from_dot_git_without_git: SKIP: no git\n");
        return;
    }
    char *dir = tu_mkdtemp();
    char *cmd = tu_strdupf(
        "cd '%s' && git init -q -b main repo && cd repo && git -c user.email=t@t -c user.name=t "
        "commit -q --allow-empty -m one && mkdir -p sub/deep && git rev-parse HEAD",
        dir);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    out[strcspn(out, "\n")] = '\0';
    char *repo = tu_path(dir, "repo"), *deep = tu_path(dir, "repo/sub/deep");
    char *git = provenance_in(deep, "git");
    ck_assert_str_eq(git, out); /* loose ref, from a sub-folder */
    free(git);
    free(cmd);
    /* packed refs, then a detached HEAD at a second commit */
    cmd = tu_strdupf("cd '%s' && git pack-refs --all && git -c user.email=t@t -c user.name=t "
                     "commit -q --allow-empty -m two && git checkout -q --detach && "
                     "git rev-parse HEAD",
                     repo);
    char *out2 = NULL;
    ck_assert_int_eq(tu_run(cmd, &out2, 0), 0);
    out2[strcspn(out2, "\n")] = '\0';
    git = provenance_in(repo, "git");
    ck_assert_str_eq(git, out2);
    free(git);
    free(cmd);
    /* a linked work tree on a packed branch: .git is a file */
    cmd = tu_strdupf("cd '%s' && git branch -q other %s && git pack-refs --all && "
                     "git worktree add -q ../wt other",
                     repo, out);
    ck_assert_int_eq(tu_run(cmd, NULL, 1), 0);
    char *wt = tu_path(dir, "wt");
    git = provenance_in(wt, "git");
    ck_assert_str_eq(git, out);
    free(git);
    free(cmd);
    free(wt);
    free(out);
    free(out2);
    free(repo);
    free(deep);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- metadata ---------------------------------------------------------- */

START_TEST(tags_and_edits_reach_backends_with_the_hooks)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    char id[64];
    strcpy(id, tropt_tracker_run_id(fx.t));
    ck_assert_int_eq(tropt_tracker_tag(fx.t, "baseline"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    tropt_annotation note = {TROPT_ANNOTATE_NOTE, "diverged after 3k steps", 1.0};
    tropt_annotation ren = {TROPT_ANNOTATE_RENAME, "the-good-one", 2.0};
    tropt_annotation bad = {TROPT_ANNOTATE_RENAME, "no/slash", 3.0};
    ck_assert_int_eq(tropt_tracker_annotate_run(fx.t, id, &note), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_annotate_run(fx.t, id, &ren), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_annotate_run(fx.t, id, &bad), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_delete_run(fx.t, tropt_tracker_run_id(fx.t)), TROPT_ESTATE);
    ck_assert_int_eq(tropt_tracker_delete_run(fx.t, id), TROPT_OK);
    char *text = rec_text(&fx);
    char *want = tu_strdupf("annotate run=%s kind=tag text=[baseline]\n"
                            "finish run=%s",
                            id, id);
    ck_assert_contains(text, want);
    free(want);
    want = tu_strdupf("annotate run=%s kind=note text=[diverged after 3k steps]\n"
                      "annotate run=%s kind=rename text=[the-good-one]\n",
                      id, id);
    ck_assert_contains(text, want);
    free(want);
    want = tu_strdupf("delete run=%s\n", id);
    ck_assert_contains(text, want);
    ck_assert_int_eq(count_prefix(text, "annotate "), 3);
    free(want);
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(edits_without_a_backend_that_keeps_them_name_the_backends)
{
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, "null", NULL, NULL), TROPT_OK);
    tropt_annotation a = {TROPT_ANNOTATE_TAG, "x", 1.0};
    const char *id = "01890a5d-ac96-774b-bcce-b302099a8057";
    ck_assert_int_eq(tropt_tracker_annotate_run(t, id, &a), TROPT_EPLUGIN);
    ck_assert_msg(strstr(tropt_error_message(), "null keep no run metadata"), "%s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_delete_run(t, id), TROPT_EPLUGIN);
    /* during a run a tag on such a backend is no error: nothing keeps it */
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "x"), TROPT_OK);
    tropt_tracker_free(t);
}
END_TEST

/* ---- checkpoint marks -------------------------------------------------- */

static char *sha256sum(const char *path)
{
    char *cmd = tu_strdupf("sha256sum '%s'", path), *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    out[64] = '\0';
    free(cmd);
    return out;
}

static void write_bytes(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++)
        fputc((int)((i * 2654435761u) >> 13) & 0xff, f);
    fclose(f);
}

START_TEST(checkpoint_marks_carry_step_then_size_and_sha256)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    /* sizes around SHA-256's block and padding edges, and one of 3 MiB + 5 */
    static const size_t sizes[] = {0, 1, 55, 56, 63, 64, 65, 3 * 1048576 + 5};
    enum { N = sizeof sizes / sizeof sizes[0] };
    char *paths[N];
    ck_assert_int_eq(tropt_tracker_checkpoint(fx.t, "/"), TROPT_ESTATE);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    for (size_t i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "ck%zu.bin", i);
        paths[i] = tu_path(fx.dir, name);
        write_bytes(paths[i], sizes[i]);
        tropt_field f = TROPT_F_INT("i", (int64_t)i);
        ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &f, 1), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_checkpoint(fx.t, paths[i]), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_checkpoint(fx.t, "/no/such/file"), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_flush(fx.t), TROPT_OK); /* waits for every hash */
    char *text = rec_text(&fx);
    for (size_t i = 0; i < N; i++) {
        char *sum = sha256sum(paths[i]);
        /* at the call: the step just logged, no size yet; then the hash */
        char *first =
            tu_strdupf("seq=%zu step=%zu path=[%s] size=-1 sha256=- error=[]\n", i, i, paths[i]);
        char *second = tu_strdupf("seq=%zu step=%zu path=[%s] size=%zu sha256=%s error=[]\n", i, i,
                                  paths[i], sizes[i], sum);
        ck_assert_contains(text, first);
        ck_assert_contains(text, second);
        free(first);
        free(second);
        free(sum);
    }
    ck_assert_int_eq(count_prefix(text, "checkpoint "), 2 * N);
    /* flush came after every hash reached the backends */
    char *last = nth_line(text, "checkpoint ", 2 * N - 1);
    ck_assert(strstr(text, last) < strstr(text, "flush\n"));
    free(last);
    free(text);
    for (size_t i = 0; i < N; i++)
        free(paths[i]);
    rec_close(&fx);
}
END_TEST

START_TEST(a_checkpoint_not_hashed_says_why_and_finish_waits)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    char *big = tu_path(fx.dir, "big.bin");
    write_bytes(big, 8 * 1048576);
    ck_assert_int_eq(tropt_tracker_checkpoint(fx.t, big), TROPT_OK);
    char *folder = tu_path(fx.dir, "ckpt-folder");
    ck_assert_int_eq(mkdir(folder, 0755), 0);
    ck_assert_int_eq(tropt_tracker_checkpoint(fx.t, folder), TROPT_OK);
    char *fifo = tu_path(fx.dir, "fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(tropt_tracker_checkpoint(fx.t, fifo), TROPT_OK); /* never blocks */
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    char *text = rec_text(&fx);
    char *sum = sha256sum(big);
    char *want = tu_strdupf("size=%d sha256=%s error=[]", 8 * 1048576, sum);
    ck_assert_contains(text, want);
    ck_assert_contains(text, "seq=1 step=-1 path=[");
    ck_assert_contains(text, "size=-1 sha256=- error=[a folder: not hashed");
    ck_assert_contains(text, "size=-1 sha256=- error=[not a regular file: not hashed]");
    /* every mark was complete before the run's finish */
    char *fin = nth_line(text, "finish ", 0);
    char *last = nth_line(text, "checkpoint ", 5);
    ck_assert_ptr_nonnull(last);
    ck_assert(strstr(text, last) < strstr(text, fin));
    free(fin);
    free(last);
    free(want);
    free(sum);
    free(text);
    free(big);
    free(folder);
    free(fifo);
    rec_close(&fx);
}
END_TEST

/* ---- system samples and host options ----------------------------------- */

START_TEST(system_samples_reach_backends_with_the_hook)
{
    rec_fixture fx;
    rec_open(&fx, ";null", NULL, NULL);
    tropt_sample s[2] = {{"sys/proc/rss_bytes", 1048576.0, 2097152.0},
                         {"sys/gpu0/util_pct", NAN, INFINITY}};
    ck_assert_int_eq(tropt_tracker_import_system(fx.t, 12.5, s, 2), TROPT_ESTATE);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_import_system(fx.t, 12.5, s, 2), TROPT_OK);
    char *text = rec_text(&fx);
    ck_assert_contains(text, "system run=");
    ck_assert_contains(text, " time=12.500000 n=2 | sys/proc/rss_bytes=1048576/2097152 "
                             "sys/gpu0/util_pct=nan/inf\n");
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(host_options_come_from_spec_env_and_set_option)
{
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, "null:resume_key=job-1", NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume", "sometimes"), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_set_option(t, "colour", "red"), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_set_option(t, "on_error", "warn"), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_set_option(t, "sys", "off"), TROPT_OK);
    /* resume with a backend that cannot read back: said plainly */
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume", "allow"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_EPLUGIN);
    ck_assert_msg(strstr(tropt_error_message(), "no backend of the spec can read back"), "%s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_is_active(t), 0);
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume_key", ""), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_EINVAL); /* allow without a key */
    ck_assert_msg(strstr(tropt_error_message(), "resume=allow needs resume_key"), "%s",
                  tropt_error_message());
    tropt_tracker_free(t);
    /* the environment gives defaults, checked at open */
    setenv("TROPT_RESUME", "maybe", 1);
    ck_assert_int_eq(tropt_tracker_open(&t, "null", NULL, NULL), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "TROPT_RESUME: option resume=maybe"), "%s",
                  tropt_error_message());
    /* ... and the spec wins over them */
    ck_assert_int_eq(tropt_tracker_open(&t, "null:resume=never", NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    unsetenv("TROPT_RESUME");
}
END_TEST

START_TEST(resume_without_a_store_that_reads_is_refused)
{
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, "null", NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_resume(t, "brave-otter-3", -1, NULL), TROPT_EPLUGIN);
    ck_assert_int_eq(tropt_tracker_resume(t, NULL, -1, NULL), TROPT_EINVAL);
    tropt_tracker_free(t);
}
END_TEST

/* ---- the status rule --------------------------------------------------- */

START_TEST(status_rule_crashed_only_when_the_writer_is_known_gone)
{
    char host[256];
    ck_assert_int_eq(gethostname(host, sizeof host), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child); /* its pid is gone now */
    tropt_stored_run r;
    memset(&r, 0, sizeof r);
    r.run_id = "01890a5d-ac96-774b-bcce-b302099a8057";
    r.status = "running";
    r.host = host;
    r.pid = child;
    r.heartbeat_age = r.stale_after = NAN;
    ck_assert_str_eq(tropt_run_status(&r), "crashed");
    r.pidns = "pid:[1]"; /* another pid namespace: its pid means nothing here */
    ck_assert_str_eq(tropt_run_status(&r), "running");
    r.pidns = NULL;
    r.host = "another-host";
    ck_assert_str_eq(tropt_run_status(&r), "running");
    r.heartbeat_age = 50; /* a store that keeps heartbeats decides from any host */
    r.stale_after = 40;
    ck_assert_str_eq(tropt_run_status(&r), "crashed");
    r.heartbeat_age = 5;
    ck_assert_str_eq(tropt_run_status(&r), "running");
    r.host = host; /* a fresh heartbeat, but its writer of this host is gone: at once */
    ck_assert_str_eq(tropt_run_status(&r), "crashed");
    r.pid = getpid();
    r.heartbeat_age = r.stale_after = NAN;
    ck_assert_str_eq(tropt_run_status(&r), "running");
    r.status = "finished";
    r.pid = child;
    ck_assert_str_eq(tropt_run_status(&r), "finished");
    r.status = "<script>"; /* what a hostile store says is not echoed */
    ck_assert_str_eq(tropt_run_status(&r), "unknown");
    ck_assert_str_eq(tropt_run_status(NULL), "unknown");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("run");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_given_name_names_the_next_run_only);
    tcase_add_test(tc, invalid_names_are_refused_saying_why);
    tcase_add_test(tc, env_name_names_the_first_run_then_numbers_the_others);
    tcase_add_test(tc, default_names_are_words_and_a_number);
    tcase_add_test(tc, provenance_has_command_line_cwd_and_version);
    tcase_add_test(tc, git_commit_is_read_from_dot_git_without_git);
    tcase_add_test(tc, tags_and_edits_reach_backends_with_the_hooks);
    tcase_add_test(tc, edits_without_a_backend_that_keeps_them_name_the_backends);
    tcase_add_test(tc, checkpoint_marks_carry_step_then_size_and_sha256);
    tcase_add_test(tc, a_checkpoint_not_hashed_says_why_and_finish_waits);
    tcase_add_test(tc, system_samples_reach_backends_with_the_hook);
    tcase_add_test(tc, host_options_come_from_spec_env_and_set_option);
    tcase_add_test(tc, resume_without_a_store_that_reads_is_refused);
    tcase_add_test(tc, status_rule_crashed_only_when_the_writer_is_known_gone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
