/* tests/cli/cli_tu.c - helpers of the CLI tests (see cli_tu.h). */
#include "cli_tu.h"

#include <ctype.h>
#include <math.h>

#include <check.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_tu.h"
#include <tropt/host.h>

const char *cli(void)
{
    const char *v = getenv("TROPT_CLI");
    ck_assert_msg(v && *v, "TROPT_CLI is not set");
    return v;
}

const char *demo(void)
{
    const char *v = getenv("TROPT_DEMO");
    ck_assert_msg(v && *v, "TROPT_DEMO is not set");
    return v;
}

char *shq(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *q = malloc(n + 1), *w = q;
    ck_assert_ptr_nonnull(q);
    *w++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(w, "'\\''", 4);
            w += 4;
        } else {
            *w++ = *p;
        }
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

result run(const char *prog, const char *args)
{
    char *dir = tu_mkdtemp();
    char *errf = tu_path(dir, "stderr");
    char *cmd = tu_strdupf("'%s' %s 2>'%s'", prog, args, errf);
    result r = {0};
    r.rc = tu_run(cmd, &r.out, 0);
    r.err = tu_read_file(errf, NULL);
    ck_assert_ptr_nonnull(r.err);
    tu_rmtree(dir);
    free(cmd);
    free(errf);
    free(dir);
    return r;
}

result tropt(const char *fmt, ...)
{
    char *args = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    result r = run(cli(), args);
    free(args);
    return r;
}

void result_free(result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

void expect_usage_error(const char *prog, const char *args)
{
    result r = run(prog, args);
    ck_assert_msg(r.rc == 2, "%s %s exited %d, expected 2\n%s%s", prog, args, r.rc, r.out, r.err);
    ck_assert_msg(strstr(r.err, "usage:") != NULL, "%s %s: no usage line on stderr:\n%s", prog,
                  args, r.err);
    ck_assert_msg(r.out[0] == '\0', "%s %s: a usage error printed on stdout:\n%s", prog, args,
                  r.out);
    result_free(&r);
}

stores stores_new(void)
{
    stores s = {0};
    s.dir = tu_mkdtemp();
    s.db = tu_path(s.dir, "runs.db");
    s.jsonl = tu_path(s.dir, "runs.jsonl");
    s.csvdir = tu_path(s.dir, "csv");
    s.spec[0] = tu_strdupf("--db '%s'", s.db);
    s.spec[1] = tu_strdupf("--from 'sqlite:path=%s'", s.db);
    s.spec[2] = tu_strdupf("--from 'jsonl:path=%s'", s.jsonl);
    s.spec[3] = tu_strdupf("--from 'csv:dir=%s'", s.csvdir);
    return s;
}

void stores_replay(stores *s)
{
    result r =
        tropt("replay --db '%s' --tracker 'jsonl:path=%s;csv:dir=%s'", s->db, s->jsonl, s->csvdir);
    ck_assert_msg(r.rc == 0, "replay into jsonl and csv: %d\n%s%s", r.rc, r.out, r.err);
    result_free(&r);
}

void stores_free(stores *s)
{
    tu_rmtree(s->dir);
    free(s->dir);
    free(s->db);
    free(s->jsonl);
    free(s->csvdir);
    for (int i = 0; i < 4; i++)
        free(s->spec[i]);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Steps of the one run in db, and its id into id[37]; -1 while the file or
 * its schema is not there yet. */
static long long db_steps(const char *db, char id[37])
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (access(db, F_OK) == 0 && sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h,
                           "SELECT r.run_id, (SELECT count(DISTINCT step) FROM metrics m WHERE "
                           "m.run_id = r.run_id) FROM runs r",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        snprintf(id, 37, "%s", (const char *)sqlite3_column_text(st, 0));
        n = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

char *killed_run(const char *tracker_spec, const char *db, int steps)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(demo(), demo(), "--tracker", tracker_spec, "--steps", "100000", "--sleep-ms", "20",
              (char *)NULL);
        _exit(127);
    }
    char id[37] = "";
    long long n = -1;
    for (int i = 0; i < 3000 && n < steps; i++) { /* up to 60 s on a loaded machine */
        sleep_ms(20);
        n = db_steps(db, id);
    }
    kill(pid, SIGKILL);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(n >= steps, "the demo did not log %d steps (%lld)", steps, n);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the demo was not killed: %d", st);
    return strdup(id);
}

char *line_with(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    if (!p)
        return NULL;
    while (p > text && p[-1] != '\n')
        p--;
    size_t n = strcspn(p, "\n");
    return strndup(p, n);
}

/* ---- three runs in one sqlite database ---- */

/* Three runs: A (loss 3,2,1,1.5; finished), B (no loss; aborted), C (loss 5
 * then NaN, early only at step 0; finished), in experiments alpha and beta. */
db3 db3_make(void)
{
    db3 d;
    d.dir = tu_mkdtemp();
    d.path = tu_path(d.dir, "cli.db");
    tropt_tracker *t = tq_open(d.path, NULL, "alpha");
    json_t *cfg = json_pack("{s:f,s:{s:s},s:b}", "lr", 0.1, "opt", "name", "adam", "flag", 1);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    json_decref(cfg);
    d.a = strdup(tropt_tracker_run_id(t));
    const double la[] = {3, 2, 1, 1.5};
    for (int s = 0; s < 4; s++) {
        tropt_field fl[] = {TROPT_F_REAL("loss", la[s]), TROPT_F_STR("phase", "we \"go\""),
                            TROPT_F_BOOL("ok", s % 2)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, fl, 3), TROPT_OK);
    }
    json_t *sum = json_pack("{s:f,s:i}", "best_loss", 1.0, "steps", 4);
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    json_decref(sum);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    d.b = strdup(tropt_tracker_run_id(t));
    tropt_field fb[] = {TROPT_F_INT("x", 1)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, fb, 1), TROPT_OK);
    tropt_tracker_free(t); /* aborted */

    t = tq_open(d.path, NULL, "b\xc3\xa9ta");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    d.c = strdup(tropt_tracker_run_id(t));
    tropt_field c0[] = {TROPT_F_REAL("loss", 5), TROPT_F_INT("early", 1)};
    tropt_field c1[] = {TROPT_F_REAL("loss", NAN)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, c0, 2), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, c1, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *spec = tu_strdupf("sqlite:path=%s", d.path);
    d.na = run_name(spec, d.a);
    d.nb = run_name(spec, d.b);
    d.nc = run_name(spec, d.c);
    free(spec);
    return d;
}

typedef struct name_lookup {
    const char *id;
    char *name;
} name_lookup;

static int see_run(const tropt_stored_run *run, void *ud)
{
    name_lookup *l = ud;
    if (strcmp(run->run_id, l->id) != 0)
        return 0;
    l->name = strdup(run->name);
    return 1;
}

char *run_name(const char *spec, const char *id)
{
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s: %s", spec, tropt_error_message());
    name_lookup l = {id, NULL};
    tropt_reader_list_runs(r, see_run, &l);
    tropt_reader_free(r);
    ck_assert_msg(l.name != NULL, "%s holds no run %s", spec, id);
    return l.name;
}

void db3_free(db3 *d)
{
    tu_rmtree(d->dir);
    free(d->dir);
    free(d->path);
    free(d->a);
    free(d->b);
    free(d->c);
    free(d->na);
    free(d->nb);
    free(d->nc);
}

/* Whitespace-separated fields of a line, from the right: field k (0 = last). */
void expect_all(const char *text, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strstr(text, want[i]), "no '%s' in:\n%s", want[i], text);
}

void expect_tail(const char *line, const char *const *want, int n)
{
    char *copy = strdup(line);
    char *tok[32];
    int nt = 0;
    for (char *s = strtok(copy, " "); s && nt < 32; s = strtok(NULL, " "))
        tok[nt++] = s;
    ck_assert_int_ge(nt, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strcmp(tok[nt - n + i], want[i]) == 0, "'%s': field %d is '%s', not '%s'",
                      line, nt - n + i, tok[nt - n + i], want[i]);
    free(copy);
}

size_t col(const char *line, const char *s)
{
    const char *p = strstr(line, s);
    ck_assert_msg(p != NULL, "'%s' not in '%s'", s, line);
    return (size_t)(p - line);
}

stores stores_with_db3(db3 *d)
{
    *d = db3_make();
    stores s = stores_new();
    ck_assert_int_eq(rename(d->path, s.db), 0);
    free(d->path);
    d->path = strdup(s.db);
    stores_replay(&s);
    return s;
}

char *same_everywhere(const stores *s, const char *fmt, ...)
{
    char *cmd = NULL, *first = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&cmd, fmt, ap), 0);
    va_end(ap);
    for (int i = 0; i < 4; i++) {
        result r = tropt("%s %s", cmd, s->spec[i]);
        ck_assert_msg(r.rc == 0, "tropt %s %s: exit %d\n%s", cmd, s->spec[i], r.rc, r.err);
        if (i == 0) {
            first = r.out;
            r.out = NULL;
        } else {
            ck_assert_msg(strcmp(first, r.out) == 0, "tropt %s %s prints:\n%s\nbut with %s:\n%s",
                          cmd, s->spec[i], r.out, s->spec[0], first);
        }
        result_free(&r);
    }
    free(cmd);
    return first;
}

/* ---- stores that keep run metadata (ABI 1.2) ---- */

#ifdef CLI_TU_PG
#include "pg_tu.h"
const char *const meta_backends[] = {"sqlite", "csv", "jsonl", "pg"};
#else
const char *const meta_backends[] = {"sqlite", "csv", "jsonl"};
#endif
const size_t n_meta_backends = sizeof meta_backends / sizeof meta_backends[0];

typedef struct meta_probe {
    const char *name;
    int found, keeps;
} meta_probe;

static int probe_plugin(const char *path, const tropt_plugin *p, const char *error, int shadowed,
                        void *ud)
{
    meta_probe *m = ud;
    (void)path;
    (void)error;
    if (!p || shadowed || strcmp(p->name, m->name) != 0)
        return 0;
    m->found = 1;
    m->keeps = p->struct_size >= TROPT_PLUGIN_V12_SIZE && p->annotate && p->delete_run;
    return 1;
}

int store_keeps_meta(const char *name)
{
    meta_probe m = {name, 0, 0};
    tropt_plugins_foreach(probe_plugin, &m);
    ck_assert_msg(m.found, "no plugin %s on the search path", name);
    return m.keeps;
}

#ifdef CLI_TU_PG
/* A schema of its own per test folder: "cli_" and the folder name's
 * letters and digits, lower-case. */
static char *pg_meta_spec(const char *dir)
{
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    char schema[64] = "cli_";
    size_t n = strlen(schema);
    for (; *base && n + 1 < sizeof schema; base++)
        if (isalnum((unsigned char)*base))
            schema[n++] = (char)tolower((unsigned char)*base);
    schema[n] = '\0';
    ck_assert_msg(pgtu.running, "meta_servers_start was not called before a pg store test");
    return pgtu_spec(schema, NULL);
}
#endif

void meta_servers_start(void)
{
#ifdef CLI_TU_PG
    if (store_keeps_meta("pg"))
        pgtu_start();
#endif
}

void meta_servers_stop(void)
{
#ifdef CLI_TU_PG
    if (pgtu.dir)
        pgtu_destroy();
#endif
}

char *meta_spec(const char *backend, const char *dir)
{
#ifdef CLI_TU_PG
    if (strcmp(backend, "pg") == 0)
        return pg_meta_spec(dir);
#endif
    if (strcmp(backend, "sqlite") == 0)
        return tu_strdupf("sqlite:path=%s/s.db", dir);
    if (strcmp(backend, "csv") == 0)
        return tu_strdupf("csv:dir=%s/csv", dir);
    return tu_strdupf("%s:path=%s/s.%s", backend, dir, backend);
}

void skip_unless_meta(const char *suite)
{
    size_t keep = 0;
    for (size_t i = 0; i < n_meta_backends; i++) {
        if (store_keeps_meta(meta_backends[i]))
            keep++;
        else
            printf("%s: %s keeps no run metadata yet (ABI 1.2): its store tests are skipped\n",
                   suite, meta_backends[i]);
    }
    if (keep == 0) {
        printf("%s: skipped: no backend keeps run metadata yet\n", suite);
        fflush(stdout);
        exit(77);
    }
}

/* ---- a terminal ---- */

static int wait_output(int fd, char **buf, size_t *len, const char *want, int ms)
{
    for (int waited = 0; waited < ms;) {
        if (want && *buf && strstr(*buf, want))
            return 1;
        struct pollfd p = {fd, POLLIN, 0};
        int rc = poll(&p, 1, 100);
        waited += 100;
        if (rc <= 0)
            continue;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            return 0; /* EOF or EIO: the other side closed */
        *buf = realloc(*buf, *len + (size_t)n + 1);
        ck_assert_ptr_nonnull(*buf);
        memcpy(*buf + *len, chunk, (size_t)n);
        *len += (size_t)n;
        (*buf)[*len] = '\0';
    }
    return 0;
}

result tropt_tty(const char *args, const char *prompt, const char *answer)
{
    char *cmd = tu_strdupf("exec '%s' %s", cli(), args);
    int master = -1;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    result r = {0};
    size_t len = 0;
    r.out = calloc(1, 1);
    /* up to 60 s for the prompt on a loaded machine */
    if (prompt && wait_output(master, &r.out, &len, prompt, 60000))
        ck_assert_int_gt(write(master, answer, strlen(answer)), 0);
    wait_output(master, &r.out, &len, NULL, 60000);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    close(master);
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.err = calloc(1, 1);
    free(cmd);
    return r;
}

const char *fixture_dir(void)
{
    const char *v = getenv("TROPT_CLI_FIXTURE_DIR");
    ck_assert_msg(v && *v, "TROPT_CLI_FIXTURE_DIR is not set");
    return v;
}

void demo_run(const char *args, char **id, char **name)
{
    char *cmd = tu_strdupf("'%s' %s", demo(), args), *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
    /* its last line: "run <id> (<name>) finished: ..." */
    char *line = line_with(out, ") finished: ");
    ck_assert_msg(line && strncmp(line, "run ", 4) == 0, "%s: no run line in\n%s", cmd, out);
    char *open = strchr(line, '('), *close = strstr(line, ") finished: ");
    *id = strndup(line + 4, (size_t)(open - line - 5));
    *name = strndup(open + 1, (size_t)(close - open - 1));
    free(line);
    free(out);
    free(cmd);
}
