/* bench/tensorboard.c - the tensorboard backend (1,000,000 steps of ten
 * scalars, issue 33) against a hand-written loop that encodes the same
 * records (Event{wall_time, step, summary{value{tag, rank-0 DT_DOUBLE or
 * DT_INT64 tensor, the scalars plugin's metadata on a tag's first value}}}
 * for scalars=double; for the default scalars=float a rank-0 DT_FLOAT
 * tensor, then the exact value under _tropt_/exact/<key> when float32 does
 * not hold it),
 * TFRecord framing with masked CRC-32C by slicing-by-8) and writes them in
 * the same batches: one write(2) per step, and one per 1000 steps.  Both
 * fsync the file once at the end, as the backend's default fsync=normal
 * does at finish.  The batched pair runs twice: timed by the wall clock,
 * and by the process's CPU time (steadier on a machine shared with other
 * jobs). */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define TB_STEPS 1000000

/* ---- the hand-written encoder ------------------------------------------------ */

static uint32_t crc_table[8][256];

static void crc_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            crc_table[k][b] = (crc_table[k - 1][b] >> 8) ^ crc_table[0][crc_table[k - 1][b] & 0xFF];
}

static uint32_t masked_crc(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* x86-64: little-endian */
        w ^= c;
        c = crc_table[7][w & 0xFF] ^ crc_table[6][(w >> 8) & 0xFF] ^
            crc_table[5][(w >> 16) & 0xFF] ^ crc_table[4][(w >> 24) & 0xFF] ^
            crc_table[3][(w >> 32) & 0xFF] ^ crc_table[2][(w >> 40) & 0xFF] ^
            crc_table[1][(w >> 48) & 0xFF] ^ crc_table[0][w >> 56];
    }
    while (n--)
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xFF];
    c ^= 0xFFFFFFFFu;
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static unsigned char *varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static const unsigned char meta[] = {0x4a, 0x0b, 0x0a, 0x09, 0x0a, 0x07, 's',
                                     'c',  'a',  'l',  'a',  'r',  's'};

/* One Summary.Value of a step: tag prefix + key, dtype, tensor_content. */
typedef struct raw_val {
    const char *pfx, *key;
    unsigned char dtype; /* 1 DT_FLOAT, 2 DT_DOUBLE, 9 DT_INT64 */
    unsigned char width; /* bytes of tensor_content: 4 or 8 */
    int meta;            /* the scalars plugin's metadata follows */
    unsigned char bytes[8];
} raw_val;

static const char exact_pfx[] = "_tropt_/exact/";

/* The values field f makes: scalars=double one, its own type; scalars=float
 * its DT_FLOAT, then its exact value under _tropt_/exact/<key> when float32
 * does not hold it (always for an integer).  Returns how many (1 or 2). */
static int field_vals(raw_val *v, const tropt_field *f, int first, int flt)
{
    int is_int = f->type == TROPT_INT;
    v[0] = (raw_val){"", f->key, is_int ? 9 : 2, 8, first, {0}};
    memcpy(v[0].bytes, &f->v, 8);
    if (!flt)
        return 1;
    double x = is_int ? (double)f->v.i : f->v.r;
    float y = (float)x;
    double back = y;
    v[1] = v[0];
    v[1].pfx = exact_pfx;
    v[1].meta = 0;
    v[0].dtype = 1;
    v[0].width = 4;
    memcpy(v[0].bytes, &y, 4);
    return !is_int && memcmp(&back, &x, 8) == 0 ? 1 : 2;
}

static size_t val_size(const raw_val *v)
{
    size_t tl = strlen(v->pfx) + strlen(v->key);
    return 2 + tl + 2 + 6 + v->width + (v->meta ? sizeof meta : 0);
}

static unsigned char *put_val(unsigned char *q, const raw_val *v)
{
    size_t pl = strlen(v->pfx), kl = strlen(v->key);
    *q++ = 0x0a;
    q = varint(q, val_size(v));
    *q++ = 0x0a;
    *q++ = (unsigned char)(pl + kl);
    memcpy(q, v->pfx, pl);
    memcpy(q + pl, v->key, kl);
    q += pl + kl;
    const unsigned char head[] = {
        0x42, (unsigned char)(6 + v->width), 0x08, v->dtype, 0x12, 0x00, 0x22, v->width};
    memcpy(q, head, sizeof head);
    memcpy(q + sizeof head, v->bytes, v->width);
    q += sizeof head + v->width;
    if (v->meta) {
        memcpy(q, meta, sizeof meta);
        q += sizeof meta;
    }
    return q;
}

/* One framed record of step s at p; returns its end.  first: the step
 * whose values carry the metadata; flt: scalars=float. */
static unsigned char *encode_step(unsigned char *p, int64_t s, double wall, const tropt_field *f,
                                  int first, int flt)
{
    raw_val v[2 * BENCH_NFIELDS];
    size_t nv = 0, sum = 0;
    for (int i = 0; i < BENCH_NFIELDS; i++)
        nv += (size_t)field_vals(&v[nv], &f[i], first, flt);
    for (size_t i = 0; i < nv; i++)
        sum += 1 + varint_len(val_size(&v[i])) + val_size(&v[i]);
    size_t ev = 9 + (s ? 1 + varint_len((uint64_t)s) : 0) + 1 + varint_len(sum) + sum;
    unsigned char *r = p, *q = p + 12;
    *q++ = 0x09;
    memcpy(q, &wall, 8);
    q += 8;
    if (s) {
        *q++ = 0x10;
        q = varint(q, (uint64_t)s);
    }
    *q++ = 0x2a;
    q = varint(q, sum);
    for (size_t i = 0; i < nv; i++)
        q = put_val(q, &v[i]);
    uint64_t n = ev;
    memcpy(r, &n, 8);
    uint32_t c = masked_crc(r, 8);
    memcpy(r + 8, &c, 4);
    c = masked_crc(r + 12, ev);
    memcpy(q, &c, 4);
    return q + 4;
}

typedef struct tb_arg {
    bench_ctx *c;
    int batch; /* steps per write */
    int cpu;   /* time the process's CPU (user + system), not the wall clock */
    int flt;   /* scalars=float (the default), else scalars=double */
} tb_arg;

/* The clock a variant is timed by: on a machine shared with other jobs
 * the process's CPU time leaves out the time it waited for a core. */
static double clock_of(const tb_arg *a)
{
    if (!a->cpu)
        return bench_mono();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run_raw(void *arg, int64_t steps, double *secs)
{
    tb_arg *a = arg;
    char dir[1024], path[1100];
    if (bench_mkdir(a->c, "tb-raw", dir, sizeof dir) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/events.out.tfevents.0.raw.0.0", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    size_t cap = (size_t)a->batch * 1024 + 4096; /* a step: < 800 bytes */
    unsigned char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -1;
    }
    int rc = 0;
    tropt_field f[BENCH_NFIELDS];
    double t0 = clock_of(a);
    unsigned char *p = buf;
    static const char version[] = "\x1a\x0d"
                                  "brain.Event:2";
    unsigned char *r = p;
    double now = bench_realtime();
    p += 12;
    *p++ = 0x09;
    memcpy(p, &now, 8);
    p += 8;
    memcpy(p, version, sizeof version - 1);
    p += sizeof version - 1;
    uint64_t n = (uint64_t)(p - r - 12);
    memcpy(r, &n, 8);
    uint32_t c = masked_crc(r, 8);
    memcpy(r + 8, &c, 4);
    c = masked_crc(r + 12, n);
    memcpy(p, &c, 4);
    p += 4;
    for (int64_t s = 0; s < steps && rc == 0; s++) {
        bench_fill(s, f);
        p = encode_step(p, s, bench_realtime(), f, s == 0, a->flt);
        if ((s + 1) % a->batch == 0 || s + 1 == steps) {
            size_t len = (size_t)(p - buf);
            rc = write(fd, buf, len) == (ssize_t)len ? 0 : -1;
            p = buf;
        }
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -1;
    *secs = clock_of(a) - t0;
    close(fd);
    free(buf);
    bench_rmrf(dir);
    return rc;
}

static int run_lib(void *arg, int64_t steps, double *secs)
{
    tb_arg *a = arg;
    char dir[1024], spec[2048];
    if (bench_mkdir(a->c, "tb-lib", dir, sizeof dir) != 0)
        return -1;
    snprintf(spec, sizeof spec, "tensorboard:logdir=%s,flush_every=%d,scalars=%s", dir, a->batch,
             a->flt ? "float" : "double");
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "bench", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        fprintf(stderr, "tropt-bench: %s: %s\n", spec, tropt_error_message());
        tropt_tracker_free(t);
        bench_rmrf(dir);
        return -1;
    }
    tropt_field f[BENCH_NFIELDS];
    int rc = 0;
    double t0 = clock_of(a);
    for (int64_t s = 0; s < steps && rc == 0; s++) {
        bench_fill(s, f);
        rc = tropt_tracker_log_fields(t, f, BENCH_NFIELDS) == TROPT_OK ? 0 : -1;
    }
    if (rc == 0 && tropt_tracker_finish(t, NULL) != TROPT_OK)
        rc = -1;
    *secs = clock_of(a) - t0;
    if (rc)
        fprintf(stderr, "tropt-bench: %s: %s\n", spec, tropt_error_message());
    tropt_tracker_free(t);
    bench_rmrf(dir);
    return rc;
}

void scen_tensorboard(bench_ctx *c)
{
    if (!bench_want(c, "tensorboard"))
        return;
    char path[1024];
    if (!bench_plugin_found("tensorboard", path, sizeof path)) {
        bench_skip(c, "tensorboard", "plugin tropt-tensorboard.so not found on TROPT_PLUGIN_PATH");
        return;
    }
    crc_init();
    int64_t steps = c->quick ? c->steps : TB_STEPS;
    tb_arg one = {c, 1, 0, 0}, many = {c, 1000, 0, 0}, many_cpu = {c, 1000, 1, 0};
    tb_arg fone = {c, 1, 0, 1}, fmany = {c, 1000, 0, 1};
    bench_variant v[] = {
        {"tensorboard scalars=double, a write(2) per step", run_lib, &one, 0, 0},
        {"hand-written encoder, a write(2) per step (baseline)", run_raw, &one, 0, 0},
        {"tensorboard scalars=double flush_every=1000", run_lib, &many, 0, 0},
        {"hand-written encoder, a write(2) per 1000 steps (baseline)", run_raw, &many, 0, 0},
        {"tensorboard scalars=double flush_every=1000, CPU time", run_lib, &many_cpu, 0, 0},
        {"hand-written, a write(2) per 1000 steps, CPU time (baseline)", run_raw, &many_cpu, 0, 0},
        {"tensorboard (default scalars=float, a write(2) per step)", run_lib, &fone, 0, 0},
        {"hand-written float encoder, a write(2) per step (baseline)", run_raw, &fone, 0, 0},
        {"tensorboard scalars=float flush_every=1000", run_lib, &fmany, 0, 0},
        {"hand-written float encoder, a write(2) per 1000 steps (baseline)", run_raw, &fmany, 0, 0},
    };
    /* two groups (bench_interleave takes at most 8): scalars=double, then
     * scalars=float, each pair interleaved with its baseline */
    if (bench_interleave(c, v, 6, steps) != 0 || bench_interleave(c, v + 6, 4, steps) != 0) {
        bench_fail(c, "tensorboard", "a variant failed");
        return;
    }
    static const char *const notes[] = {
        "same records, same batches: a write per step",
        "same records, same batches: a write per 1000 steps",
        "the same, timed by the process's CPU time (user + system)",
        "scalars=float: DT_FLOAT and the exact value beside, a write per step",
        "scalars=float: the same, a write per 1000 steps",
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i += 2) {
        bench_row(c, "tensorboard", &v[i], &v[i + 1], "cost", "<=", 1.5, notes[i / 2]);
        bench_row(c, "tensorboard", &v[i + 1], NULL, NULL, NULL, 0, NULL);
    }
    bench_ran(c, "tensorboard", NULL);
}
