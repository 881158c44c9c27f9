/*
 * tests/sqlite/test_sqlite_concurrency.c - 8 processes x 4 threads, each
 * thread with a tracker of its own, logging into one database while another
 * process reads it (SQL and `tropt runs`): no call fails, every row is
 * there.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sqlite_tu.h"

enum { NPROC = 8, NTHREAD = 4, NSTEPS = 150, NFIELDS = 3 };

struct writer {
    const char *db;
    int proc, thread;
    atomic_int *failures;
};

static void *writer_thread(void *arg)
{
    struct writer *w = arg;
    /* Half the writers commit every step, half batch by time. */
    const char *opts = (w->thread % 2) ? "commit_interval=20ms" : NULL;
    char *spec = tq_spec(w->db, opts);
    char exp[32];
    snprintf(exp, sizeof exp, "p%d", w->proc);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, exp, NULL) != TROPT_OK) {
        fprintf(stderr, "open: %s\n", tropt_error_message());
        atomic_fetch_add(w->failures, 1);
        free(spec);
        return NULL;
    }
    free(spec);
    json_t *cfg = json_pack("{s:i,s:i}", "proc", w->proc, "thread", w->thread);
    if (tropt_tracker_init(t, cfg) != TROPT_OK) {
        fprintf(stderr, "init: %s\n", tropt_error_message());
        atomic_fetch_add(w->failures, 1);
    }
    json_decref(cfg);
    for (int s = 0; s < NSTEPS; s++) {
        tropt_field fl[NFIELDS] = {TROPT_F_INT("s", s), TROPT_F_REAL("loss", 1.0 / (s + 1)),
                                   TROPT_F_STR("who", exp)};
        if (tropt_tracker_log_fields(t, fl, NFIELDS) != TROPT_OK) {
            fprintf(stderr, "log: %s\n", tropt_error_message());
            atomic_fetch_add(w->failures, 1);
        }
    }
    if (tropt_tracker_finish(t, NULL) != TROPT_OK) {
        fprintf(stderr, "finish: %s\n", tropt_error_message());
        atomic_fetch_add(w->failures, 1);
    }
    tropt_tracker_free(t);
    return NULL;
}

struct proc_arg {
    const char *db;
    int proc;
    int go_fd; /* read one byte: start together */
};

static int writer_proc(void *arg, int fd)
{
    struct proc_arg *p = arg;
    (void)fd;
    char c;
    if (read(p->go_fd, &c, 1) != 1)
        return 10;
    atomic_int failures = 0;
    pthread_t th[NTHREAD];
    struct writer w[NTHREAD];
    for (int i = 0; i < NTHREAD; i++) {
        w[i] = (struct writer){p->db, p->proc, i, &failures};
        if (pthread_create(&th[i], NULL, writer_thread, &w[i]) != 0)
            return 11;
    }
    for (int i = 0; i < NTHREAD; i++)
        pthread_join(th[i], NULL);
    return atomic_load(&failures) ? 1 : 0;
}

struct reader_arg {
    const char *db;
    int stop_fd;  /* readable (EOF) when writers are done */
    int stop_wfd; /* its write end, closed in the reader */
};

/* Query the views and run `tropt runs` until told to stop, and at least
 * once with rows (however the scheduler ran the writers); report the
 * number of successful rounds, or a negative number on any failure.  A
 * child: no ck_* call here. */
static int reader_proc(void *arg, int fd)
{
    struct reader_arg *r = arg;
    close(r->stop_wfd);
    tu_stop stop;
    tu_stop_init(&stop, r->stop_fd);
    sqlite3 *db = NULL;
    /* Wait for the file to exist (the first writer creates it). */
    double dl = tu_deadline(TU_WAIT_S);
    while (access(r->db, F_OK) != 0)
        if (!tu_poll(dl))
            return 19;
    if (sqlite3_open_v2(r->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return 20;
    sqlite3_busy_timeout(db, 30000);
    int64_t rounds = 0, last = 0;
    int ret = 0, done;
    while ((done = tu_stop_check(&stop, last > 0)) <= 0) {
        if (done < 0) { /* the writers are done, yet no rows */
            ret = 24;
            break;
        }
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db,
                                    "SELECT (SELECT count(*) FROM metrics),"
                                    " (SELECT count(*) FROM runs WHERE status = 'finished')",
                                    -1, &st, NULL);
        if (rc == SQLITE_ERROR) { /* schema not created yet */
            sqlite3_finalize(st);
            tu_sleep_ms(1);
            continue;
        }
        if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
            fprintf(stderr, "reader: %s\n", sqlite3_errmsg(db));
            sqlite3_finalize(st);
            ret = 21;
            break;
        }
        int64_t rows = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (rows < last) {
            fprintf(stderr, "reader: row count went back from %lld to %lld\n", (long long)last,
                    (long long)rows);
            ret = 22;
            break;
        }
        last = rows;
        if (rounds % 25 == 0 && rows > 0) {
            char *args = tu_strdupf("'%s' runs --db '%s' >/dev/null", getenv("TROPT_CLI"), r->db);
            int st2 = system(args);
            free(args);
            if (st2 != 0) {
                fprintf(stderr, "reader: tropt runs failed (%d)\n", st2);
                ret = 23;
                break;
            }
        }
        rounds++;
        tu_sleep_ms(2); /* pacing the reader, not waiting for anything */
    }
    sqlite3_close(db);
    tq_write_i64(fd, ret ? -ret : rounds);
    return ret;
}

START_TEST(test_many_writers_one_reader)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "many.db");
    int go[2], stop[2];
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(stop), 0);

    struct reader_arg ra = {path, stop[0], stop[1]};
    int reader_fd;
    pid_t reader = tq_fork(reader_proc, &ra, &reader_fd);
    close(stop[0]);

    pid_t writers[NPROC];
    struct proc_arg pa[NPROC];
    for (int p = 0; p < NPROC; p++) {
        int unused;
        pa[p] = (struct proc_arg){path, p, go[0]};
        writers[p] = tq_fork(writer_proc, &pa[p], &unused); /* inherits stop[1]: */
        /* the reader sees EOF once every writer has exited and we close it */
        close(unused);
    }
    close(go[0]);
    char start[NPROC] = {0};
    ck_assert_int_eq(write(go[1], start, NPROC), NPROC); /* all at once */
    close(go[1]);
    for (int p = 0; p < NPROC; p++) {
        int st = tq_wait(writers[p]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d: status %d", p, st);
    }
    close(stop[1]); /* EOF: the reader stops */
    int64_t rounds = 0;
    ck_assert_int_eq(tq_read_i64(reader_fd, &rounds), 1);
    close(reader_fd);
    int st = tq_wait(reader);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader failed: %lld", (long long)rounds);
    ck_assert_int_gt(rounds, 0);

    sqlite3 *db = tq_db(path);
    tq_assert_integrity(db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM runs"), NPROC * NTHREAD);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM runs WHERE status = 'finished'"),
                     NPROC * NTHREAD);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"),
                     NPROC * NTHREAD * NSTEPS * NFIELDS);
    /* Per run: steps 0..NSTEPS-1 complete, each value where it belongs. */
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM (SELECT run_id, count(DISTINCT step) n,"
                            " max(step) m FROM metrics GROUP BY run_id)"
                            " WHERE n = %d AND m = %d",
                            NSTEPS, NSTEPS - 1),
                     NPROC * NTHREAD);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE key = 's' AND value = step"),
                     NPROC * NTHREAD * NSTEPS);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics m JOIN runs r USING (run_id)"
                                " WHERE m.key = 'who' AND m.value = r.experiment"),
                     NPROC * NTHREAD * NSTEPS);
    ck_assert_int_eq(tq_int(db, "SELECT count(DISTINCT run_id) FROM params WHERE key = 'thread'"),
                     NPROC * NTHREAD);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM tropt_key"), 5);
    sqlite3_close(db);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* A reader keeping a read transaction open (a pandas session, a paused
 * sqlite3 shell) never blocks a writer: every step commits at once, and the
 * reader keeps its snapshot until it ends the transaction. */
START_TEST(test_long_reader)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "reader.db");
    tropt_tracker *t = tq_open(path, "busy_timeout=0", "reader");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f0[] = {TROPT_F_INT("s", 0)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, f0, 1), TROPT_OK);
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 1);
    for (int s = 1; s < 100; s++) { /* no waiting allowed: busy_timeout=0 */
        tropt_field fl[] = {TROPT_F_INT("s", s)};
        ck_assert_msg(tropt_tracker_log_fields(t, fl, 1) == TROPT_OK, "step %d: %s", s,
                      tropt_error_message());
    }
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 1); /* its snapshot */
    ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 100);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    sqlite3_close(db);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* Entries of a /proc/self folder (fd, task): descriptors, threads. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Issue 17: trackers of one process writing one file share the file's
 * checkpointer (its connection and thread), so descriptors and threads do
 * not grow by five and one per tracker; the last one to go removes the
 * WAL as before. */
START_TEST(test_trackers_of_one_file_share_the_checkpointer)
{
    enum { N = 40 };
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "shared.db");
    char *wal = tu_strdupf("%s-wal", path);
    tropt_tracker *first = tq_open(path, NULL, "first");
    ck_assert_int_eq(tropt_tracker_init(first, NULL), TROPT_OK);
    int fds0 = count_entries("/proc/self/fd"), threads0 = count_entries("/proc/self/task");
    tropt_tracker *t[N];
    for (int i = 0; i < N; i++) {
        t[i] = tq_open(path, NULL, "shared");
        ck_assert_int_eq(tropt_tracker_init(t[i], NULL), TROPT_OK);
        tropt_field f[] = {TROPT_F_INT("i", i)};
        ck_assert_int_eq(tropt_tracker_log_fields(t[i], f, 1), TROPT_OK);
    }
    int fds = count_entries("/proc/self/fd") - fds0;
    int threads = count_entries("/proc/self/task") - threads0;
    fprintf(stderr, "%d more trackers of one file: %d more descriptors, %d more threads\n", N, fds,
            threads);
    ck_assert_msg(fds <= 2 * N, "%d descriptors for %d trackers", fds, N);
    ck_assert_msg(threads == 0, "%d threads for %d trackers", threads, N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(tropt_tracker_finish(t[i], NULL), TROPT_OK);
        tropt_tracker_free(t[i]);
    }
    ck_assert_int_eq(tropt_tracker_finish(first, NULL), TROPT_OK);
    tropt_tracker_free(first);
    ck_assert_msg(access(wal, F_OK) != 0, "%s is left behind", wal);
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE key = 'i'"), N);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), N + 1);
    sqlite3_close(db);
    free(wal);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sqlite-concurrency");
    TCase *tc = tcase_create("concurrency");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_many_writers_one_reader);
    tcase_add_test(tc, test_long_reader);
    tcase_add_test(tc, test_trackers_of_one_file_share_the_checkpointer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
