#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *tu_strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    return s;
}

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = tu_strdupf("%s/tropt-test-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_msg(mkdtemp(tmpl) != NULL, "mkdtemp: %s", strerror(errno));
    return tmpl;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p) == 0 ? 0 : 0;
}

void tu_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_path(const char *dir, const char *name)
{
    return tu_strdupf("%s/%s", dir, name);
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int tu_write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(data);
    int ok = fwrite(data, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int tu_run(const char *cmd, char **out, int merge_stderr)
{
    char *full = merge_stderr ? tu_strdupf("(%s) 2>&1", cmd) : tu_strdupf("%s", cmd);
    FILE *p = popen(full, "r");
    free(full);
    ck_assert_ptr_nonnull(p);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        size_t r = fread(buf + n, 1, cap - n - 1, p);
        if (r == 0)
            break;
        n += r;
    }
    buf[n] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (st == -1)
        return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;
static char *cap_buf;
static size_t cap_len;
static int cap_counts[TROPT_LEVEL_OFF + 1];

static void cap_handler(tropt_level level, const char *message, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&cap_lock);
    char *line = NULL;
    int n = asprintf(&line, "%s: %s\n", tropt_level_name(level), message);
    if (n > 0) {
        char *nb = realloc(cap_buf, cap_len + (size_t)n + 1);
        if (nb) {
            cap_buf = nb;
            memcpy(cap_buf + cap_len, line, (size_t)n + 1);
            cap_len += (size_t)n;
        }
        free(line);
    }
    if (level <= TROPT_LEVEL_OFF)
        cap_counts[level]++;
    pthread_mutex_unlock(&cap_lock);
}

void tu_capture_start(void)
{
    pthread_mutex_lock(&cap_lock);
    free(cap_buf);
    cap_buf = calloc(1, 1);
    cap_len = 0;
    memset(cap_counts, 0, sizeof cap_counts);
    pthread_mutex_unlock(&cap_lock);
    tropt_set_log_handler(cap_handler, NULL);
}

void tu_capture_stop(void)
{
    tropt_set_log_handler(NULL, NULL);
}

/* Under the lock: a plugin thread (a commit timer, a sender) may log
 * while the test reads what was captured. */
const char *tu_captured(void)
{
    pthread_mutex_lock(&cap_lock);
    const char *s = cap_buf ? cap_buf : "";
    pthread_mutex_unlock(&cap_lock);
    return s;
}

int tu_captured_count(tropt_level level)
{
    pthread_mutex_lock(&cap_lock);
    int n = level <= TROPT_LEVEL_OFF ? cap_counts[level] : 0;
    pthread_mutex_unlock(&cap_lock);
    return n;
}

const char *tu_build_root(void)
{
    const char *s = getenv("TROPT_TEST_BUILD_ROOT");
    return s ? s : ".";
}

const char *tu_source_root(void)
{
    const char *s = getenv("TROPT_TEST_SOURCE_ROOT");
    return s ? s : ".";
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- the chaos allocator ---------------------------------------------- */

static long chaos_budget = -1; /* allocations left before failing; -1: no limit */
static long chaos_failed;

/* 1 when this allocation must fail (and counts it). */
static int chaos_fail_now(void)
{
    if (chaos_budget == 0) {
        chaos_failed++;
        return 1;
    }
    if (chaos_budget > 0)
        chaos_budget--;
    return 0;
}

static void *chaos_malloc(size_t n)
{
    return chaos_fail_now() ? NULL : malloc(n);
}

static void *chaos_realloc(void *p, size_t n)
{
    return chaos_fail_now() ? NULL : realloc(p, n);
}

const tropt_allocator tu_chaos_allocator = {chaos_malloc, chaos_realloc, free};

void tu_chaos_budget(long budget)
{
    chaos_budget = budget;
    chaos_failed = 0;
}

long tu_chaos_failed(void)
{
    return chaos_failed;
}

/* The sanitizers announce themselves to the compiler (GCC and clang). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TU_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(undefined_behavior_sanitizer)
#define TU_SANITIZED 1
#endif
#endif

double tu_time_scale(void)
{
    const char *s = getenv("TROPT_TEST_TIME_SCALE");
    if (s && *s) {
        char *end = NULL;
        double x = strtod(s, &end);
        if (end && !*end && x > 0)
            return x;
    }
#ifdef TU_SANITIZED
    return 3.0;
#else
    return 1.0;
#endif
}

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void tu_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

double tu_deadline(double seconds)
{
    return tu_now() + seconds * tu_time_scale();
}

int tu_poll(double deadline)
{
    double left = deadline - tu_now();
    if (left <= 0)
        return 0;
    tu_sleep_ms(left < 0.01 ? (long)(left * 1000) + 1 : 10);
    return 1;
}

int tu_wait_until(int (*cond)(void *arg), void *arg, double seconds)
{
    double dl = tu_deadline(seconds);
    while (!cond(arg))
        if (!tu_poll(dl))
            return cond(arg) != 0;
    return 1;
}

void tu_stop_init(tu_stop *s, int fd)
{
    *s = (tu_stop){fd, 0, 0};
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int tu_stop_check(tu_stop *s, int seen)
{
    char c;
    if (!s->told && read(s->fd, &c, 1) >= 0) { /* a byte or EOF */
        s->told = 1;
        s->deadline = tu_deadline(TU_WAIT_S);
    }
    if (!s->told)
        return 0;
    if (seen)
        return 1;
    return tu_now() > s->deadline ? -1 : 0;
}
