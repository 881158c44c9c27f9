/*
 * fuzz/fuzz_tensorboard.c - the tensorboard backend's reader: TFRecord
 * framing, Event/Summary/TensorProto decoding, the segments and cuts of
 * restarted runs and the merge of a run's files (plugins/tensorboard,
 * through its reader hooks, on files written from the input).
 *
 * The first input byte chooses what the rest is:
 *   0 mod 3  the bytes of an event file, as they are (framing, CRCs, torn
 *            records); with (byte / 3) odd, two files: two bytes give the
 *            first one's length (big-endian), the rest is the second;
 *   1 mod 3  records: [n][n bytes]... each framed with valid CRCs, so that
 *            the protobuf decoders see the input;
 *   2 mod 3  fields: each (type byte, key, value) is encoded by the writer's
 *            encoder into one step of a well-formed file of ours.
 * In the other modes the rest, split at its middle, makes two event files
 * of one run folder.
 *
 * Properties: no crash, leak or undefined behaviour; list_runs and read_run
 * agree on every run's steps (read_run yields every attempt's, ascending
 * within each, after START and its ATTEMPT; counted as the host does, the
 * superseded left out), each key once per step; for 2 mod 3 every field
 * reads back identical (type, bits).
 */
#include "fuzz_util.h"

#include "tb_encode.h"
#include "tb_read.h"
#include "tb_record.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static int fz_error(int code, const char *fmt, ...)
{
    (void)fmt;
    return code;
}

static void fz_log(tropt_level level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
}

static void fz_log_from(const tropt_host *h, tropt_level level, const char *fmt, ...)
{
    (void)h;
    (void)level;
    (void)fmt;
}

static double fz_now(void)
{
    return 1.7e9;
}

static size_t fz_format_real(char *buf, size_t size, double x)
{
    return (size_t)snprintf(buf, size, "%.17g", x);
}

static const tropt_host host = {
    .version = TROPT_HOST_VERSION,
    .struct_size = sizeof(tropt_host),
    .error = fz_error,
    .log = fz_log,
    .malloc = malloc,
    .realloc = realloc,
    .free = free,
    .now = fz_now,
    .format_real = fz_format_real,
    .log_from = fz_log_from,
};

static char logdir[256];
static char files[2][512];

static void cleanup(void)
{
    char run[300];
    snprintf(run, sizeof run, "%s/run", logdir);
    unlink(files[0]);
    unlink(files[1]);
    rmdir(run);
    rmdir(logdir);
}

/* A logdir of its own for this process (or FUZZ_TB_HOME): run/ in it holds
 * the two files; removed at exit. */
static void setup(void)
{
    if (logdir[0])
        return;
    /* tmpfs when there is one: a file system that writes back files
     * rewritten in place (ext4's auto_da_alloc) costs milliseconds a run */
    struct stat st;
    const char *tmp = getenv("TMPDIR")                                    ? getenv("TMPDIR")
                      : stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
                                                                          : "/tmp";
    /* FUZZ_TB_HOME: a folder fuzz/run.sh gives a reproducible run, so that
     * no path the reader resolves holds the process id */
    const char *home = getenv("FUZZ_TB_HOME");
    if (home && *home)
        snprintf(logdir, sizeof logdir, "%s", home);
    else
        snprintf(logdir, sizeof logdir, "%s/fuzz-tb-%ld", tmp, (long)getpid());
    char run[300];
    snprintf(run, sizeof run, "%s/run", logdir);
    FUZZ_CHECK((mkdir(logdir, 0700) == 0 || errno == EEXIST) &&
                   (mkdir(run, 0700) == 0 || errno == EEXIST),
               "%s: %s", run, strerror(errno));
    for (int i = 0; i < 2; i++)
        snprintf(files[i], sizeof files[i], "%s/events.out.tfevents.%d.host.1.0", run, 1700 + i);
    atexit(cleanup);
}

static void put_file(int i, const void *p, size_t n)
{
    unlink(files[i]); /* a new file each time, never one truncated and rewritten */
    int fd = open(files[i], O_WRONLY | O_CREAT | O_EXCL, 0600);
    FUZZ_CHECK(fd >= 0, "%s: %s", files[i], strerror(errno));
    FUZZ_CHECK(n == 0 || write(fd, p, n) == (ssize_t)n, "write %s", files[i]);
    close(fd);
}

/* [n][n bytes]... framed as records. */
static tev_buf framed(const unsigned char *p, size_t n)
{
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    size_t i = 0;
    while (i < n) {
        size_t len = p[i++];
        if (len > n - i)
            len = n - i;
        FUZZ_CHECK(tev_buf_reserve(&b, len + TB_REC_OVERHEAD) == 0, "memory");
        unsigned char *r = (unsigned char *)b.data + b.len;
        memcpy(r + TB_REC_HEAD, p + i, len);
        tb_record_frame(r, len);
        b.len += len + TB_REC_OVERHEAD;
        i += len;
    }
    return b;
}

/* ---- 2 mod 3: fields through the encoder, read back ---------------------- */

#define MAX_FIELDS 16

typedef struct expect {
    tb_value v[MAX_FIELDS];
    char keys[MAX_FIELDS][24];
    size_t n;
} expect;

/* Fields from the input: a type byte, a key of up to 8 bytes (no NUL, not
 * "_tropt_/", unique), 8 value bytes or a text of up to 16. */
static tev_buf encoded(const unsigned char *p, size_t n, expect *e)
{
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    e->n = 0;
    size_t i = 0;
    while (i + 2 <= n && e->n < MAX_FIELDS) {
        int kind = p[i++] % 3;
        size_t klen = p[i++] % 9;
        char *k = e->keys[e->n];
        snprintf(k, sizeof e->keys[0], "k%zu/", e->n); /* unique, not ours */
        size_t at = strlen(k);
        for (size_t j = 0; j < klen && i < n; j++, i++)
            k[at++] = p[i] ? (char)p[i] : '0';
        k[at] = '\0';
        tb_value *v = &e->v[e->n++];
        *v = (tb_value){.pfx = "", .tag = k, .tag_len = at, .kind = (tb_vkind)kind, .meta = 1};
        uint64_t u = 0;
        for (size_t j = 0; j < 8 && i < n; j++, i++)
            u = u << 8 | p[i];
        memcpy(&v->d, &u, sizeof u);
        v->i = (int64_t)u;
        if (kind == TBV_FLOAT) { /* a text here (floats are the writer's) */
            v->kind = TBV_TEXT;
            v->s = (const char *)p + i;
            v->n = 0;
            while (v->n < 16 && i < n && p[i]) {
                v->n++;
                i++;
            }
        }
    }
    FUZZ_CHECK(tb_encode_file_version(&b, 1.7e9) == 0, "memory");
    FUZZ_CHECK(tb_encode_summary(&b, 1.7e9, 3, e->v, e->n) == 0, "memory");
    return b;
}

static void same_value(const tb_value *v, const tropt_field *f)
{
    if (v->kind == TBV_DOUBLE) {
        FUZZ_CHECK(f->type == TROPT_REAL && memcmp(&f->v.r, &v->d, 8) == 0, "real %s", f->key);
    } else if (v->kind == TBV_INT64) {
        FUZZ_CHECK(f->type == TROPT_INT && f->v.i == v->i, "int %s", f->key);
    } else {
        FUZZ_CHECK(f->type == TROPT_STRING && strlen(f->v.s) == v->n &&
                       memcmp(f->v.s, v->s, v->n) == 0,
                   "text %s", f->key);
    }
}

/* ---- reading ------------------------------------------------------------ */

/* What read_run gave: every step of every attempt, ascending within one;
 * counted as the host's reader layer counts them (a step of attempt a is
 * superseded from the lowest from_step of the attempts after it). */
typedef struct seen {
    int64_t steps, last, attempt, current;
    int64_t cutoff[64];
    size_t n_cutoff;
    const expect *e;
} seen;

static void start_cutoffs(seen *s, const tropt_event *ev)
{
    int64_t low = INT64_MAX;
    s->n_cutoff = ev->n_attempts < 64 ? ev->n_attempts : 64;
    for (size_t i = s->n_cutoff; i-- > 0;) {
        s->cutoff[i] = low;
        FUZZ_CHECK(ev->attempts[i].attempt == (int64_t)i + 1, "attempt %lld listed at %zu",
                   (long long)ev->attempts[i].attempt, i);
        if (ev->attempts[i].from_step < low)
            low = ev->attempts[i].from_step;
    }
}

static int on_event(const tropt_event *ev, void *ud)
{
    seen *s = ud;
    if (ev->kind == TROPT_EVENT_START) {
        start_cutoffs(s, ev);
        s->attempt = 1;
    }
    if (ev->kind == TROPT_EVENT_ATTEMPT) {
        FUZZ_CHECK(ev->attempt == s->attempt + 1, "attempt %lld after %lld", (long long)ev->attempt,
                   (long long)s->attempt);
        s->attempt = ev->attempt;
        s->steps = 0;
    }
    if (ev->kind != TROPT_EVENT_STEP)
        return 0;
    FUZZ_CHECK(ev->attempt == s->attempt, "a step of attempt %lld in %lld", (long long)ev->attempt,
               (long long)s->attempt);
    FUZZ_CHECK(s->steps == 0 || ev->step > s->last, "step %lld after %lld", (long long)ev->step,
               (long long)s->last);
    for (size_t i = 0; i < ev->n; i++)
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(ev->fields[i].key, ev->fields[j].key) != 0, "key %s twice",
                       ev->fields[i].key);
    if (s->e) {
        FUZZ_CHECK(ev->step == 3 && ev->n == s->e->n, "%zu fields of %zu", ev->n, s->e->n);
        for (size_t i = 0; i < ev->n; i++) {
            FUZZ_CHECK(strcmp(ev->fields[i].key, s->e->keys[i]) == 0, "key %s", s->e->keys[i]);
            same_value(&s->e->v[i], &ev->fields[i]);
        }
    }
    size_t a = (size_t)(ev->attempt - 1);
    s->current += a >= s->n_cutoff || ev->step < s->cutoff[a];
    s->steps++;
    s->last = ev->step;
    return 0;
}

typedef struct listed {
    char ids[4][40];
    int64_t steps[4];
    int n;
} listed;

static int on_run(const tropt_stored_run *run, void *ud)
{
    listed *l = ud;
    FUZZ_CHECK(l->n < 4, "more runs than folders");
    snprintf(l->ids[l->n], sizeof l->ids[0], "%s", run->run_id);
    l->steps[l->n++] = run->n_steps;
    return 0;
}

static void read_all(const expect *e)
{
    tropt_optval opts[TB_OPT_COUNT] = {[TB_OPT_LOGDIR] = {.is_set = 1, .text = logdir}};
    void *r = NULL;
    FUZZ_CHECK(tbr_reader_open(&r, opts, &host) == TROPT_OK, "reader_open");
    listed l = {0};
    int rc = tbr_list_runs(r, on_run, &l);
    FUZZ_CHECK(rc == TROPT_OK || rc == TROPT_EBACKEND, "list_runs: %d", rc);
    for (int i = 0; i < l.n && rc == TROPT_OK; i++) {
        seen s = {.e = e};
        FUZZ_CHECK(tbr_read_run(r, l.ids[i], on_event, &s) == TROPT_OK, "read_run");
        FUZZ_CHECK(s.current == l.steps[i], "read %lld current steps, listed %lld",
                   (long long)s.current, (long long)l.steps[i]);
    }
    FUZZ_CHECK(!e || l.n == 1, "the run of fields is not listed");
    tbr_reader_close(r);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    setup();
    int mode = data[0] % 3;
    const unsigned char *p = data + 1;
    size_t n = size - 1, half = n / 2;
    expect e;
    if (mode == 0 && (data[0] / 3) % 2 == 0) {
        put_file(0, p, n);
        put_file(1, NULL, 0);
    } else if (mode == 0) {
        size_t first = n >= 2 ? (size_t)(p[0] << 8 | p[1]) : 0;
        p += n >= 2 ? 2 : n;
        n -= n >= 2 ? 2 : n;
        first = first < n ? first : n;
        put_file(0, p, first);
        put_file(1, p + first, n - first);
    } else if (mode == 1) {
        for (int i = 0; i < 2; i++) {
            tev_buf b = framed(p + (i ? half : 0), i ? n - half : half);
            put_file(i, b.data, b.len);
            tev_buf_free(&b);
        }
    } else {
        tev_buf b = encoded(p, n, &e);
        put_file(0, b.data, b.len);
        put_file(1, NULL, 0);
        tev_buf_free(&b);
    }
    read_all(mode == 2 ? &e : NULL);
    return 0;
}
