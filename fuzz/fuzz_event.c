/*
 * fuzz/fuzz_event.c - the NDJSON event decoder (plugins/common/tropt_event.c,
 * tev_decode), the format `tropt replay` reads from journals and spools.
 *
 * Properties: no crash, leak or undefined behaviour on any line; a failure
 * gives a reason; and a decoded event survives the round trip: encoding it
 * again (tev_encode_run_start / _log / _run_end) gives exactly one line that
 * decodes to the same event - same type, run id, time, step, fields (type
 * and value; NaN and +-Inf included), experiment, host, pid, status, config
 * and summary.
 */
#include <math.h>
#include <unistd.h>

#include "tropt_event.h"
#include "fuzz_util.h"

static int same_real(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_json(const json_t *a, const json_t *b)
{
    return (!a && !b) || (a && b && json_equal(a, b));
}

static void same_field(const tropt_field *a, const tropt_field *b, size_t i)
{
    FUZZ_CHECK(strcmp(a->key, b->key) == 0, "field %zu key '%s' != '%s'", i, a->key, b->key);
    FUZZ_CHECK(a->type == b->type, "field '%s' type %d != %d", a->key, a->type, b->type);
    switch (a->type) {
    case TROPT_BOOL:
        FUZZ_CHECK(a->v.b == b->v.b, "field '%s' bool", a->key);
        break;
    case TROPT_INT:
        FUZZ_CHECK(a->v.i == b->v.i, "field '%s' int %lld != %lld", a->key, (long long)a->v.i,
                   (long long)b->v.i);
        break;
    case TROPT_REAL:
        FUZZ_CHECK(same_real(a->v.r, b->v.r), "field '%s' real %.17g != %.17g", a->key, a->v.r,
                   b->v.r);
        break;
    case TROPT_STRING:
        FUZZ_CHECK(strcmp(a->v.s, b->v.s) == 0, "field '%s' string", a->key);
        break;
    case TROPT_JSON:
        FUZZ_CHECK(json_equal(a->v.json, b->v.json), "field '%s' json", a->key);
        break;
    default:
        break;
    }
}

/* The journal reader on the input as a whole file: every non-blank line
 * is an event, a malformed line or a truncated last line. */
static void read_journal(const unsigned char *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/dev/shm/tropt-fuzz-event-%d.jsonl", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return; /* no /dev/shm: skip this part */
    fwrite(data, 1, size, f);
    fclose(f);
    long lines = 0;
    for (size_t a = 0; a < size;) {
        const unsigned char *nl = memchr(data + a, '\n', size - a);
        size_t end = nl ? (size_t)(nl - data) : size, len = end - a;
        while (len && strchr("\n\r \t", data[a + len - 1]) && data[a + len - 1])
            len--;
        lines += len > 0;
        a = end + 1;
    }
    tev_reader r;
    FUZZ_CHECK(tev_reader_open(&r, path, NULL, NULL) == 0, "reader_open");
    long events = 0;
    tev_event ev;
    int rc;
    while ((rc = tev_reader_next(&r, &ev)) == 1) {
        events++;
        tev_event_clear(&ev);
    }
    FUZZ_CHECK(rc == 0, "read error");
    FUZZ_CHECK(events + r.n_malformed + r.n_truncated == lines,
               "%ld events + %ld malformed + %ld truncated != %ld lines", events, r.n_malformed,
               r.n_truncated, lines);
    tev_reader_close(&r);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    read_journal(data, size);
    tev_event ev;
    char err[256];
    err[0] = '\0';
    if (tev_decode((const char *)data, size, &ev, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0], "failure without a reason");
        FUZZ_CHECK(ev.root == NULL && ev.fields == NULL, "failure left the event allocated");
        return 0;
    }
    FUZZ_CHECK(ev.run_id && *ev.run_id, "no run id");
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    int rc = -1;
    switch (ev.type) {
    case TEV_RUN_START: {
        tropt_run run = {ev.run_id, ev.experiment, ev.time, ev.host, ev.pid};
        rc = tev_encode_run_start(&b, &run, ev.config, NULL);
        break;
    }
    case TEV_LOG:
        rc = tev_encode_log(&b, ev.run_id, ev.step, ev.time, ev.fields, ev.n_fields, NULL);
        break;
    case TEV_RUN_END:
        rc = tev_encode_run_end(&b, ev.run_id, ev.time, ev.status, ev.summary, NULL);
        break;
    default:
        FUZZ_CHECK(0, "type %d", (int)ev.type);
    }
    FUZZ_CHECK(rc == 0, "encoding failed");
    FUZZ_CHECK(b.len > 0 && b.data[b.len - 1] == '\n' &&
                   memchr(b.data, '\n', b.len) == b.data + b.len - 1,
               "encoding is not one line: %.*s", (int)b.len, b.data);
    tev_event ev2;
    FUZZ_CHECK(tev_decode(b.data, b.len, &ev2, err, sizeof err) == 0,
               "re-encoded event does not decode (%s): %.*s", err, (int)b.len, b.data);
    FUZZ_CHECK(ev2.type == ev.type, "type");
    FUZZ_CHECK(strcmp(ev2.run_id, ev.run_id) == 0, "run id");
    FUZZ_CHECK(same_real(ev2.time, ev.time), "time %.17g != %.17g", ev.time, ev2.time);
    switch (ev.type) {
    case TEV_RUN_START:
        FUZZ_CHECK(same_str(ev.experiment, ev2.experiment), "experiment");
        FUZZ_CHECK(same_str(ev.host, ev2.host) || (!ev.host && ev2.host && !*ev2.host), "host");
        FUZZ_CHECK(ev.pid == ev2.pid, "pid");
        FUZZ_CHECK(same_json(ev.config, ev2.config), "config");
        break;
    case TEV_LOG:
        FUZZ_CHECK(ev.step == ev2.step, "step");
        FUZZ_CHECK(ev.n_fields == ev2.n_fields, "%zu fields != %zu", ev.n_fields, ev2.n_fields);
        for (size_t i = 0; i < ev.n_fields; i++)
            same_field(&ev.fields[i], &ev2.fields[i], i);
        break;
    case TEV_RUN_END:
        FUZZ_CHECK(same_str(ev.status, ev2.status), "status");
        FUZZ_CHECK(same_json(ev.summary, ev2.summary), "summary");
        break;
    }
    tev_event_clear(&ev2);
    tev_buf_free(&b);
    tev_event_clear(&ev);
    return 0;
}
