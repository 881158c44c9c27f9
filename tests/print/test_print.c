/*
 * tests/print/test_print.c - the print backend: what a user sees.
 *
 * Trackers are opened through the public API; the stream (stdout or
 * stderr) is redirected into a file and the exact lines are compared.
 */
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <pty.h>
#include <termios.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Redirect fd (1 or 2) into a fresh file; returns the saved descriptor. */
typedef struct capture {
    int fd, saved;
    char *path;
} capture;

static capture cap_begin(int fd)
{
    capture c = {fd, -1, NULL};
    char *dir = tu_mkdtemp();
    c.path = tu_path(dir, "out.txt");
    free(dir);
    fflush(NULL);
    c.saved = dup(fd);
    int f = open(c.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(f, 0);
    dup2(f, fd);
    close(f);
    return c;
}

static char *cap_end(capture *c)
{
    fflush(NULL);
    dup2(c->saved, c->fd);
    close(c->saved);
    char *s = tu_read_file(c->path, NULL);
    ck_assert_ptr_nonnull(s);
    unlink(c->path);
    char *slash = strrchr(c->path, '/');
    *slash = '\0';
    tu_rmtree(c->path);
    free(c->path);
    return s;
}

static tropt_tracker *open_print(const char *opts)
{
    char *spec = tu_strdupf("print%s%s", opts && *opts ? ":" : "", opts ? opts : "");
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, spec, "exp", NULL) == TROPT_OK, "%s: %s", spec,
                  tropt_error_message());
    free(spec);
    return t;
}

/* Replace every occurrence of the run id by "RID". */
static char *mask(const char *s, const char *rid)
{
    size_t n = strlen(rid);
    char *o = malloc(strlen(s) + 1), *w = o;
    while (*s) {
        if (strncmp(s, rid, n) == 0) {
            memcpy(w, "RID", 3);
            w += 3;
            s += n;
        } else {
            *w++ = *s++;
        }
    }
    *w = '\0';
    return o;
}

/* Drop the " in X.XX s" timing of the last line. */
static void strip_timing(char *s)
{
    char *p = strstr(s, " steps in ");
    ck_assert_ptr_nonnull(p);
    char *e = strstr(p, " s\n");
    ck_assert_ptr_nonnull(e);
    memmove(p + 6, e + 2, strlen(e + 2) + 1);
}

/* Log steps 0..n-1: loss halves, best_loss follows, iters counts, a string
 * and a bool that are not shown by default, "late" from step 2. */
static int log_steps(tropt_tracker *t, int n)
{
    for (int i = 0; i < n; i++) {
        double loss = 1.0 / (double)(2 << i);
        tropt_field f[6] = {TROPT_F_REAL("loss", loss),  TROPT_F_REAL("best_loss", loss),
                            TROPT_F_INT("iters", i + 3), TROPT_F_STR("note", "hello\nworld"),
                            TROPT_F_BOOL("flag", i & 1), TROPT_F_REAL("late", 1e-5)};
        int rc = tropt_tracker_log_fields(t, f, i >= 2 ? 6 : 5);
        if (rc != TROPT_OK)
            return rc;
    }
    return TROPT_OK;
}

static char *run_to(int fd, const char *opts, int steps, int with_summary)
{
    capture c = cap_begin(fd);
    tropt_tracker *t = open_print(opts);
    json_t *cfg = json_pack("{s:f,s:s,s:{s:i}}", "lr", 0.001, "name", "a b", "opt", "depth", 2);
    json_t *sum = json_pack("{s:f,s:i}", "best", 0.5, "steps", steps);
    ck_assert_int_eq(tropt_tracker_set_run_name(t, "NAME"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    char *rid = tu_strdupf("%s", tropt_tracker_run_id(t));
    ck_assert_int_eq(log_steps(t, steps), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, with_summary ? sum : NULL), TROPT_OK);
    tropt_tracker_free(t);
    json_decref(cfg);
    json_decref(sum);
    char *raw = cap_end(&c);
    char *out = mask(raw, rid);
    strip_timing(out);
    free(raw);
    free(rid);
    return out;
}

START_TEST(test_default_format)
{
    char *out = run_to(1, "stream=stdout", 3, 1);
    ck_assert_str_eq(out, "run RID (NAME) | experiment=exp\n"
                          "config: lr=0.001 | name=a b | opt/depth=2\n"
                          "step=   0 | loss=0.5000 | best_loss=0.5000 | iters=3\n"
                          "step=   1 | loss=0.2500 | best_loss=0.2500 | iters=4\n"
                          "step=   2 | loss=0.1250 | best_loss=0.1250 | iters=5 | late=1.0000e-05\n"
                          "summary: best=0.5000 | steps=3\n"
                          "run RID finished after 3 steps\n");
    free(out);
}
END_TEST

START_TEST(test_stderr_is_default)
{
    char *out = run_to(2, "", 1, 0);
    ck_assert_str_eq(out, "run RID (NAME) | experiment=exp\n"
                          "config: lr=0.001 | name=a b | opt/depth=2\n"
                          "step=   0 | loss=0.5000 | best_loss=0.5000 | iters=3\n"
                          "run RID finished after 1 steps\n");
    free(out);
}
END_TEST

START_TEST(test_every_shows_last)
{
    char *out = run_to(1, "stream=stdout,every=2,precision=2", 4, 0);
    ck_assert_str_eq(out, "run RID (NAME) | experiment=exp\n"
                          "config: lr=0.001 | name=a b | opt/depth=2\n"
                          "step=   0 | loss=0.50 | best_loss=0.50 | iters=3\n"
                          "step=   2 | loss=0.12 | best_loss=0.12 | iters=5 | late=1.00e-05\n"
                          "step=   3 | loss=0.06 | best_loss=0.06 | iters=6 | late=1.00e-05\n"
                          "run RID finished after 4 steps\n");
    free(out);
}
END_TEST

START_TEST(test_chosen_keys)
{
    /* '+' separates keys; ',' does inside a quoted value; any type shows */
    const char *opts[] = {"stream=stdout,keys=note+loss+flag+missing+loss",
                          "stream=stdout,keys=\"note, loss,flag,missing\""};
    for (int i = 0; i < 2; i++) {
        char *out = run_to(1, opts[i], 2, 0);
        ck_assert_str_eq(out, "run RID (NAME) | experiment=exp\n"
                              "config: lr=0.001 | name=a b | opt/depth=2\n"
                              "step=   0 | note=hello\\nworld | loss=0.5000 | flag=false\n"
                              "step=   1 | note=hello\\nworld | loss=0.2500 | flag=true\n"
                              "run RID finished after 2 steps\n");
        free(out);
    }
}
END_TEST

START_TEST(test_special_values)
{
    capture c = cap_begin(1);
    tropt_tracker *t = open_print("stream=stdout,precision=3");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f[6] = {TROPT_F_REAL("a", NAN),       TROPT_F_REAL("b", INFINITY),
                        TROPT_F_REAL("c", -INFINITY), TROPT_F_REAL("d", 123456789.0),
                        TROPT_F_REAL("e", -0.25),     TROPT_F_INT("f", INT64_MIN)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, 6), TROPT_OK);
    tropt_tracker_free(t);
    char *out = cap_end(&c);
    ck_assert_msg(strstr(out, "step=   0 | a=nan | b=inf | c=-inf | d=1.235e+08 | e=-0.250 | "
                              "f=-9223372036854775808\n") != NULL,
                  "%s", out);
    ck_assert_ptr_nonnull(strstr(out, " aborted after 1 steps"));
    free(out);
}
END_TEST

START_TEST(test_live_status_line)
{
    /* live=on redraws one line; a pipe or file gets none of that by default */
    char *out = run_to(1, "stream=stdout,live=on", 5, 1);
    ck_assert_msg(strstr(out, "config: lr=0.001 | name=a b | opt/depth=2\n\r\033[Kstep=   0 | ") !=
                      NULL,
                  "%s", out);
    /* steps 1..3 come faster than the redraw limit; the last one is drawn,
     * then the line is ended before the summary */
    ck_assert_msg(strstr(out, "\r\033[Kstep=   4 | loss=0.0312 | best_loss=0.0312 | iters=7 | "
                              "late=1.0000e-05\nsummary: best=0.5000 | steps=5\n") != NULL,
                  "%s", out);
    ck_assert_ptr_null(strstr(out, "step=   0 | loss=0.5000 | best_loss=0.5000 | iters=3\n"));
    free(out);
    out = run_to(1, "stream=stdout,live=auto", 5, 0);
    ck_assert_ptr_null(strchr(out, '\r'));
    ck_assert_ptr_null(strchr(out, '\033'));
    free(out);
}
END_TEST

/* System samples: a line each off a terminal, the latest at the end of the
 * live line on one; checkpoint marks when taken and when hashed; a resumed
 * attempt says so on its first line. */
START_TEST(test_system_checkpoint_and_attempt_lines)
{
    char *dir = tu_mkdtemp(), *ck = tu_path(dir, "ck.bin");
    tu_write_file(ck, "abc");
    for (int live = 0; live < 2; live++) {
        capture c = cap_begin(1);
        tropt_tracker *t = open_print(live ? "stream=stdout,live=on" : "stream=stdout");
        tropt_run_record rec = {.struct_size = sizeof rec,
                                .run_id = "01890a5d-ac96-774b-bcce-b302099a8057",
                                .name = "sweep-3",
                                .attempt = 2,
                                .from_step = 50};
        ck_assert_int_eq(tropt_tracker_import_run(t, &rec, NULL), TROPT_OK);
        tropt_sample s[2] = {{"sys/proc/rss_bytes", 1048576, 2097152},
                             {"sys/gpu0/util_pct", 57, 90}};
        ck_assert_int_eq(tropt_tracker_import_system(t, 1.0, s, 2), TROPT_OK);
        ck_assert_int_eq(log_steps(t, 1), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_checkpoint(t, ck), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
        tropt_tracker_free(t);
        char *out = cap_end(&c);
        ck_assert_msg(strstr(out, "run 01890a5d-ac96-774b-bcce-b302099a8057 (sweep-3) | attempt 2 "
                                  "from step 50 | experiment=exp\n"),
                      "%s", out);
        if (!live)
            ck_assert_msg(strstr(out, "system: proc/rss=1.0MiB gpu0/util_pct=57\nstep=  50 "), "%s",
                          out);
        else
            ck_assert_msg(strstr(out, "step=  50 | loss=0.5000 | best_loss=0.5000 | iters=3 | sys "
                                      "proc/rss=1.0MiB gpu0/util_pct=57"),
                          "%s", out);
        ck_assert_msg(strstr(out, "checkpoint after step 50: "), "%s", out);
        ck_assert_msg(strstr(out,
                             "(3 bytes, sha256 "
                             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad)"),
                      "%s", out);
        free(out);
    }
    tu_rmtree(dir);
    free(dir);
    free(ck);
}
END_TEST

/* live=auto on a terminal (a pseudo-terminal here) redraws a status line. */
START_TEST(test_live_auto_on_terminal)
{
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    struct termios tio;
    tcgetattr(slave, &tio);
    cfmakeraw(&tio); /* no CR/LF translation: see the bytes as written */
    tcsetattr(slave, TCSANOW, &tio);
    fflush(NULL);
    int saved = dup(2);
    dup2(slave, 2);
    tropt_tracker *t = open_print("live=auto");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(log_steps(t, 3), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    dup2(saved, 2);
    close(saved);
    close(slave);
    char buf[4096];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(master, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r; /* ends with EIO once the slave side is closed */
    buf[n] = '\0';
    close(master);
    ck_assert_msg(strstr(buf, "\r\033[Kstep=   0 | loss=0.5000") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "\r\033[Kstep=   2 | loss=0.1250") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "late=1.0000e-05\nrun ") != NULL, "%s", buf);
}
END_TEST

START_TEST(test_bad_options)
{
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, "print:every=0", NULL, NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_open(&t, "print:precision=18", NULL, NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_open(&t, "print:stream=file", NULL, NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_open(&t, "print:live=maybe", NULL, NULL), TROPT_EINVAL);
    ck_assert_ptr_null(t);
}
END_TEST

/* Fail the Nth allocation through open/init/log/finish: clean failures, no
 * crash, no leak (ASan). */
START_TEST(test_allocation_failures)
{
    ck_assert_int_eq(tropt_set_allocator(&tu_chaos_allocator), TROPT_OK);
    tropt_set_log_level(TROPT_LEVEL_OFF);
    capture c = cap_begin(1);
    long n;
    for (n = 0; n < 100000; n++) {
        tu_chaos_budget(n);
        tropt_tracker *t = NULL;
        int ok = tropt_tracker_open(&t, "print:stream=stdout,every=2,keys=note+loss+x", "e",
                                    NULL) == TROPT_OK;
        json_t *cfg = json_pack("{s:f}", "lr", 0.5);
        if (ok)
            ok = tropt_tracker_init(t, cfg) == TROPT_OK;
        json_decref(cfg);
        if (ok)
            ok = log_steps(t, 5) == TROPT_OK;
        if (ok)
            ok = tropt_tracker_finish(t, NULL) == TROPT_OK;
        tropt_tracker_free(t);
        if (ok && tu_chaos_failed() == 0)
            break;
    }
    tu_chaos_budget(-1);
    free(cap_end(&c));
    tropt_set_allocator(NULL);
    tropt_set_log_level(TROPT_LEVEL_WARNING);
    ck_assert_int_gt(n, 5);
    ck_assert_int_lt(n, 100000);
}
END_TEST

/* `tropt-demo --tracker print`: a readable run on stderr. */
START_TEST(test_demo_print)
{
    const char *demo = getenv("TROPT_DEMO");
    if (!demo || access(demo, X_OK) != 0) {
        printf("demo: %s not built, skipped\n", demo ? demo : "TROPT_DEMO unset");
        return;
    }
    char *dir = tu_mkdtemp();
    char *err = tu_path(dir, "stderr.txt");
    char *cmd = tu_strdupf("'%s' --tracker print --steps 30 2>'%s'", demo, err);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 0);
    ck_assert_msg(rc == 0, "%s: %s", cmd, out);
    char *text = tu_read_file(err, NULL);
    ck_assert_ptr_nonnull(text);
    regex_t run_re, cfg_re, step_re, sum_re, end_re;
    ck_assert_int_eq(regcomp(&run_re,
                             "^run [0-9a-f-]{36} \\([a-z]+-[a-z]+-[0-9]+\\) \\| experiment=[^ ]+$",
                             REG_EXTENDED),
                     0);
    ck_assert_int_eq(regcomp(&cfg_re, "^config: [^=| ]+=[^|]*( \\| [^=| ]+=[^|]*)*$", REG_EXTENDED),
                     0);
    ck_assert_int_eq(regcomp(&step_re,
                             "^step= *([0-9]+) \\| loss=-?[0-9]+\\.[0-9]{4}(e[-+][0-9]+)? \\| "
                             "best_loss=-?[0-9]+\\.[0-9]{4}(e[-+][0-9]+)?( \\| [^=| ]+=[^|]*)*$",
                             REG_EXTENDED),
                     0);
    ck_assert_int_eq(
        regcomp(&sum_re, "^summary: [^=| ]+=[^|]*( \\| [^=| ]+=[^|]*)*$", REG_EXTENDED), 0);
    ck_assert_int_eq(
        regcomp(&end_re, "^run [0-9a-f-]{36} finished after 30 steps in [0-9.]+ s$", REG_EXTENDED),
        0);
    int steps = 0, line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        regmatch_t m[2];
        if (line_no == 0)
            ck_assert_msg(regexec(&run_re, line, 0, NULL, 0) == 0, "first line: %s", line);
        else if (line_no == 1)
            ck_assert_msg(regexec(&cfg_re, line, 0, NULL, 0) == 0, "config line: %s", line);
        else if (strncmp(line, "step=", 5) == 0) {
            ck_assert_msg(regexec(&step_re, line, 2, m, 0) == 0, "step line: %s", line);
            ck_assert_int_eq(atoi(line + m[1].rm_so), steps);
            ck_assert_int_eq(m[1].rm_so,
                             5 + (steps < 1000 ? 3 - (steps >= 10) - (steps >= 100) : 0));
            steps++;
        } else if (strncmp(line, "summary:", 8) == 0)
            ck_assert_msg(regexec(&sum_re, line, 0, NULL, 0) == 0, "summary line: %s", line);
        else
            ck_assert_msg(regexec(&end_re, line, 0, NULL, 0) == 0, "last line: %s", line);
        line_no++;
    }
    ck_assert_int_eq(steps, 30);
    regfree(&run_re);
    regfree(&cfg_re);
    regfree(&step_re);
    regfree(&sum_re);
    regfree(&end_re);
    free(text);
    free(out);
    free(cmd);
    free(err);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("print");
    TCase *tc = tcase_create("print");
    tcase_add_test(tc, test_default_format);
    tcase_add_test(tc, test_stderr_is_default);
    tcase_add_test(tc, test_every_shows_last);
    tcase_add_test(tc, test_chosen_keys);
    tcase_add_test(tc, test_special_values);
    tcase_add_test(tc, test_live_status_line);
    tcase_add_test(tc, test_live_auto_on_terminal);
    tcase_add_test(tc, test_system_checkpoint_and_attempt_lines);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_allocation_failures);
    tcase_add_test(tc, test_demo_print);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
