/*
 * tests/sqlite/test_sqlite_media.c - failures of the medium: a file that is
 * not a database, a missing or unwritable folder, a full disk, a database
 * locked for longer than busy_timeout.  Each must come back as
 * TROPT_EBACKEND with a message naming the file and the cause, and never
 * lose data already accepted.
 *
 * The full-disk and read-only cases mount a small tmpfs, which needs root;
 * without it they say so and skip.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_tu.h"

static void expect_open_fails(const char *path, const char *cause)
{
    char *spec = tq_spec(path, NULL);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, NULL, NULL);
    ck_assert_msg(rc == TROPT_EBACKEND, "open %s: %s (%s)", spec, tropt_error_name(rc),
                  tropt_error_message());
    ck_assert_ptr_null(t);
    const char *msg = tropt_error_message();
    ck_assert_msg(strstr(msg, path) != NULL, "message does not name %s: %s", path, msg);
    ck_assert_msg(strstr(msg, cause) != NULL, "message does not say '%s': %s", cause, msg);
    free(spec);
}

START_TEST(test_not_a_database)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "notes.db");
    char text[8192];
    for (size_t i = 0; i + 1 < sizeof text; i++)
        text[i] = "just some text, not a database\n"[i % 31];
    text[sizeof text - 1] = '\0';
    ck_assert_int_eq(tu_write_file(path, text), 0);
    expect_open_fails(path, "not a database");
    /* Left exactly as it was. */
    size_t len = 0;
    char *after = tu_read_file(path, &len);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert_int_eq(memcmp(after, text, len), 0);
    free(after);
    /* `tropt runs` says so too, exit 1. */
    char *args = tu_strdupf("runs --db '%s'", path), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 1);
    ck_assert_msg(strstr(out, path) && strstr(out, "not a database"), "%s", out);
    free(out);
    free(args);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

START_TEST(test_missing_folder)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "no/such/folder/x.db");
    expect_open_fails(path, "No such file or directory");
    /* A regular file where a folder should be. */
    char *file = tu_path(dir, "file");
    ck_assert_int_eq(tu_write_file(file, "x"), 0);
    char *under = tu_path(file, "x.db");
    expect_open_fails(under, "Not a directory");
    /* A folder where the file should be. */
    expect_open_fails(dir, "Is a directory");
    free(under);
    free(file);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* A read-only folder: a read-only tmpfs as root (root ignores permission
 * bits), chmod 0555 otherwise. */
START_TEST(test_unwritable_folder)
{
    char *dir = tu_mkdtemp();
    char *ro = tu_path(dir, "ro");
    ck_assert_int_eq(mkdir(ro, 0755), 0);
    const char *cause;
    int mounted = 0;
    if (geteuid() == 0) {
        if (mount("tropt-test", ro, "tmpfs", MS_RDONLY, "size=64k") != 0) {
            fprintf(stderr, "test_unwritable_folder: SKIP: cannot mount a tmpfs: %s\n",
                    strerror(errno));
            goto out;
        }
        mounted = 1;
        cause = "Read-only file system";
    } else {
        ck_assert_int_eq(chmod(ro, 0555), 0);
        cause = "Permission denied";
    }
    char *path = tu_path(ro, "x.db");
    expect_open_fails(path, cause);
    ck_assert_int_ne(access(path, F_OK), 0);
    free(path);
out:
    if (mounted)
        umount2(ro, MNT_DETACH);
    chmod(ro, 0755);
    tu_rmtree(dir);
    free(ro);
    free(dir);
}
END_TEST

/* A fresh folder with a tmpfs of `size` mounted on it, or NULL (after
 * saying SKIP for test `who`) without root or when mounting fails. */
static char *small_tmpfs(const char *who, const char *size)
{
    if (geteuid() != 0) {
        fprintf(stderr, "%s: SKIP: mounting a small tmpfs needs root\n", who);
        return NULL;
    }
    char *dir = tu_mkdtemp();
    char opts[32];
    snprintf(opts, sizeof opts, "size=%s", size);
    if (mount("tropt-test", dir, "tmpfs", 0, opts) != 0) {
        fprintf(stderr, "%s: SKIP: cannot mount a tmpfs: %s\n", who, strerror(errno));
        tu_rmtree(dir);
        free(dir);
        return NULL;
    }
    return dir;
}

/* Disk full: log big steps into a 1 MiB tmpfs until a log fails; the steps
 * that returned TROPT_OK stay intact, the failed one is kept in memory, and
 * once space is freed the next log writes both. */
START_TEST(test_disk_full)
{
    char *dir = small_tmpfs("test_disk_full", "1m");
    if (!dir)
        return;
    char *filler = tu_path(dir, "filler");
    {
        static char block[256 * 1024];
        memset(block, 'f', sizeof block - 1);
        ck_assert_int_eq(tu_write_file(filler, block), 0);
    }
    char *path = tu_path(dir, "full.db");
    tropt_tracker *t = tq_open(path, NULL, "full");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    static char big[16 * 1024];
    int64_t ok = 0;
    int rc = TROPT_OK;
    for (; ok < 1000; ok++) {
        memset(big, 'a' + (int)(ok % 26), sizeof big - 1);
        tropt_field fl[] = {TROPT_F_INT("i", ok), TROPT_F_STR("big", big)};
        rc = tropt_tracker_log_fields(t, fl, 2);
        if (rc != TROPT_OK)
            break;
    }
    ck_assert_msg(rc == TROPT_EBACKEND, "no failure after %lld steps: %s", (long long)ok,
                  tropt_error_name(rc));
    ck_assert_int_gt(ok, 3);
    const char *msg = tropt_error_message();
    ck_assert_msg(strstr(msg, path) && strstr(msg, "full"), "message: %s", msg);
    fprintf(stderr, "test_disk_full: after %lld steps: %s\n", (long long)ok, msg);

    /* The steps that returned are on disk, whole. */
    sqlite3 *db = tq_db(path);
    tq_assert_integrity(db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE key = 'i' AND value = step"),
                     ok);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM metrics WHERE key = 'big' AND"
                            " length(value) = %d AND substr(value, 1, 1) = char(97 + step %% 26)",
                            (int)sizeof big - 1),
                     ok);
    sqlite3_close(db);

    /* Space again: flush commits the failed step, the next one commits. */
    ck_assert_int_eq(unlink(filler), 0);
    ck_assert_msg(tropt_tracker_flush(t) == TROPT_OK, "after freeing space: %s",
                  tropt_error_message());
    tropt_field fl[] = {TROPT_F_INT("i", ok + 1), TROPT_F_STR("big", "small")};
    rc = tropt_tracker_log_fields(t, fl, 2);
    ck_assert_msg(rc == TROPT_OK, "after freeing space: %s", tropt_error_message());
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    db = tq_db(path);
    tq_assert_integrity(db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE key = 'i' AND value = step"),
                     ok + 2);
    tq_text_eq(db, "finished", "SELECT status FROM runs");
    sqlite3_close(db);
    umount2(dir, MNT_DETACH);
    tu_rmtree(dir);
    free(dir);
    free(filler);
    free(path);
}
END_TEST

/* While the disk stays full, log does not retry the failing commit on
 * every call (issue 18 finding 11: each call rewrote the whole pending
 * batch, 18 ms on average): it keeps the step and says so, tries a commit
 * at most once a second, and refuses steps past a stated bound
 * (TSQ_MAX_FAILING_VALUES) with an error, never growing silently.  Once
 * space is back, flush writes every step that was kept. */
START_TEST(test_disk_full_log_paced_and_bounded)
{
    char *dir = small_tmpfs("test_disk_full_log_paced_and_bounded", "64m");
    if (!dir)
        return;
    char *filler = tu_path(dir, "filler");
    char *path = tu_path(dir, "full.db");
    tropt_tracker *t = tq_open(path, NULL, "paced");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field one[] = {TROPT_F_INT("i", 0)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, one, 1), TROPT_OK);
    /* fill what is left of the tmpfs */
    FILE *f = fopen(filler, "w");
    ck_assert_ptr_nonnull(f);
    static char block[65536];
    memset(block, 'f', sizeof block);
    while (fwrite(block, 1, sizeof block, f) == sizeof block && fflush(f) == 0)
        ;
    fclose(f);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long kept = 0, attempts = 0, paced = 0, refused = 0;
    int64_t step = 1;
    for (; step < 400000 && refused == 0; step++) {
        tropt_field fl[] = {TROPT_F_INT("i", step), TROPT_F_REAL("x", 0.5)};
        int rc = tropt_tracker_log_fields(t, fl, 2);
        ck_assert_int_ne(rc, TROPT_OK); /* nothing can be committed */
        const char *msg = tropt_error_message();
        if (strstr(msg, "not stored")) {
            refused++;
        } else if (strstr(msg, "the next commit is tried within 1 s")) {
            paced++;
            kept++;
        } else {
            ck_assert_msg(strstr(msg, "kept in memory for the next commit") != NULL, "%s", msg);
            attempts++;
            kept++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    fprintf(stderr,
            "test_disk_full_log_paced_and_bounded: %ld kept (%ld commit attempts, %ld "
            "paced) then refused, in %.2f s\n",
            kept, attempts, paced, secs);
    ck_assert_int_eq(refused, 1);
    ck_assert_int_gt(kept, 1000);
    /* at most one attempt per second (plus the first) */
    ck_assert_msg(attempts <= 2 + (long)secs, "%ld commit attempts in %.2f s", attempts, secs);
    ck_assert_msg(strstr(tropt_error_message(), "steps already wait for a commit") != NULL, "%s",
                  tropt_error_message());

    ck_assert_int_eq(unlink(filler), 0);
    ck_assert_msg(tropt_tracker_flush(t) == TROPT_OK, "after freeing space: %s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    sqlite3 *db = tq_db(path);
    tq_assert_integrity(db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE key = 'i' AND value = step"),
                     1 + kept);
    sqlite3_close(db);
    umount2(dir, MNT_DETACH);
    tu_rmtree(dir);
    free(dir);
    free(filler);
    free(path);
}
END_TEST

struct locker {
    const char *path;
    int hold_ms;    /* > 0: hold the lock that long; 0: until `release` reads */
    int ready[2];   /* 'y' once the lock is held ('n': it could not be taken) */
    int release[2]; /* a byte written here ends a hold_ms = 0 lock */
};

static void *hold_lock(void *arg)
{
    struct locker *l = arg;
    sqlite3 *db = NULL;
    sqlite3_open(l->path, &db);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    char c = rc == SQLITE_OK ? 'y' : 'n';
    if (write(l->ready[1], &c, 1) != 1)
        c = 'n';
    if (l->hold_ms > 0)
        tu_sleep_ms(l->hold_ms); /* the writer waits this lock out: the time is the test */
    else if (c == 'y' && read(l->release[0], &c, 1) != 1)
        c = 'n';
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return NULL;
}

/* Start a thread holding the write lock of l->path; returns once it holds. */
static pthread_t lock_db(struct locker *l)
{
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, hold_lock, l), 0);
    char c;
    ck_assert_int_eq(read(l->ready[0], &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    return th;
}

/* End a hold_ms = 0 lock and join its thread. */
static void unlock_db(struct locker *l, pthread_t th)
{
    ck_assert_int_eq(write(l->release[1], "x", 1), 1);
    pthread_join(th, NULL);
}

static void locker_init(struct locker *l, const char *path, int hold_ms)
{
    *l = (struct locker){path, hold_ms, {-1, -1}, {-1, -1}};
    ck_assert_int_eq(pipe(l->ready), 0);
    ck_assert_int_eq(pipe(l->release), 0);
}

static void locker_close(struct locker *l)
{
    close(l->ready[0]);
    close(l->ready[1]);
    close(l->release[0]);
    close(l->release[1]);
}

/* The database file deleted mid-run: commits still succeed into the
 * unlinked file, so flush and finish must say the data is gone instead of
 * returning OK (issue 18 #16). */
START_TEST(test_deleted_mid_run)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "gone.db");
    tropt_tracker *t = tq_open(path, NULL, "deleted");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_REAL("loss", 1);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_OK);
    char *cmd = tu_strdupf("rm -f '%s' '%s-wal' '%s-shm'", path, path, path);
    ck_assert_int_eq(tu_run(cmd, NULL, 1), 0);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK); /* accepted, in memory */
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), path) &&
                      strstr(tropt_error_message(), "was deleted or replaced"),
                  "%s", tropt_error_message());
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_EBACKEND);
    ck_assert(strstr(tropt_error_message(), "was deleted or replaced") != NULL);
    tu_capture_start(); /* free finishes the open run as aborted: it fails the same way */
    tropt_tracker_free(t);
    tu_capture_stop();
    free(cmd);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Another writer holding the lock: waited out within busy_timeout; past it,
 * TROPT_EBACKEND "database is locked" and the step is kept for the next
 * commit. */
START_TEST(test_locked_database)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "locked.db");
    struct locker l;

    /* 1: held 100 ms, well under busy_timeout: log waits and succeeds. */
    tropt_tracker *t = tq_open(path, "busy_timeout=60s", "patient");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    locker_init(&l, path, 100);
    pthread_t th = lock_db(&l);
    tropt_field f0[] = {TROPT_F_INT("i", 0)};
    ck_assert_msg(tropt_tracker_log_fields(t, f0, 1) == TROPT_OK, "%s", tropt_error_message());
    pthread_join(th, NULL);
    locker_close(&l);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);

    /* 2: held until log has given up, past busy_timeout: a clear error,
     * nothing lost. */
    t = tq_open(path, "busy_timeout=300ms", "locked");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    locker_init(&l, path, 0);
    th = lock_db(&l);
    tropt_field f1[] = {TROPT_F_INT("i", 0)};
    int rc = tropt_tracker_log_fields(t, f1, 1);
    const char *msg = tropt_error_message();
    ck_assert_int_eq(rc, TROPT_EBACKEND);
    ck_assert_msg(strstr(msg, path) && strstr(msg, "locked"), "message: %s", msg);
    fprintf(stderr, "test_locked_database: %s\n", msg);
    unlock_db(&l, th);
    locker_close(&l);
    /* A failed commit is retried at most once a second (TSQ_RETRY_EVERY):
     * past that, the next log commits the kept step with its own.  The
     * pause is the pacing under test; it only ever lasts longer. */
    tu_sleep_ms(1100);
    tropt_field f2[] = {TROPT_F_INT("i", 1)};
    ck_assert_msg(tropt_tracker_log_fields(t, f2, 1) == TROPT_OK, "%s", tropt_error_message());
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE value = step"), 3);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics m JOIN runs r USING (run_id)"
                                " WHERE r.experiment = 'locked'"),
                     2);
    sqlite3_close(db);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* The commit timer meets a lock held past busy_timeout: it warns, keeps
 * the steps and commits them once the lock is gone, with no log call.  The
 * lock is held until the warning came, however late the timer runs. */
START_TEST(test_locked_timer)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "timer.db");
    tropt_tracker *t = tq_open(path, "commit_interval=1s,busy_timeout=100ms", "timer");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tu_capture_start();
    struct locker l;
    locker_init(&l, path, 0);
    pthread_t th = lock_db(&l);
    tropt_field f0[] = {TROPT_F_INT("i", 0)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, f0, 1), TROPT_OK); /* only buffered */
    double dl = tu_deadline(TU_WAIT_S);
    while (tu_captured_count(TROPT_LEVEL_WARNING) < 1)
        ck_assert_msg(tu_poll(dl), "no warning after %.0f s: %s", TU_WAIT_S, tu_captured());
    ck_assert_msg(strstr(tu_captured(), "locked") && strstr(tu_captured(), "will retry"), "%s",
                  tu_captured());
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 0);
    unlock_db(&l, th);
    locker_close(&l);
    dl = tu_deadline(TU_WAIT_S);
    while (tq_int(db, "SELECT count(*) FROM metrics") == 0)
        ck_assert_msg(tu_poll(dl), "the timer never committed");
    sqlite3_close(db);
    tu_capture_stop();
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sqlite-media");
    TCase *tc = tcase_create("media");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_not_a_database);
    tcase_add_test(tc, test_missing_folder);
    tcase_add_test(tc, test_unwritable_folder);
    tcase_add_test(tc, test_disk_full);
    tcase_add_test(tc, test_disk_full_log_paced_and_bounded);
    tcase_add_test(tc, test_deleted_mid_run);
    tcase_add_test(tc, test_locked_database);
    tcase_add_test(tc, test_locked_timer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
