/*
 * fuzz/fuzz_event.c - the NDJSON event decoder (plugins/common/tropt_event.c,
 * tev_decode), the format `tropt replay` reads from journals and spools.
 *
 * Properties: no crash, leak or undefined behaviour on any line; a failure
 * gives a reason; and a decoded event survives the round trip: encoding it
 * again (tev_encode_*) gives exactly one line that decodes to the same
 * event - same type, run id, time, attempt, step, fields (type and value;
 * NaN and +-Inf included), experiment, host, pid, name, provenance, status,
 * config, summary, checkpoint marks, system samples and annotations.
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

static int encode(tev_buf *b, const tev_event *ev)
{
    switch (ev->type) {
    case TEV_RUN_START: {
        tropt_run run = {.run_id = ev->run_id,
                         .experiment = ev->experiment,
                         .started_at = ev->run_started_at,
                         .host = ev->host,
                         .pid = ev->pid,
                         .name = ev->name,
                         .attempt = ev->attempt,
                         .from_step = ev->from_step,
                         .attempt_started_at = ev->time,
                         .resume_key = ev->resume_key,
                         .pidns = ev->pidns,
                         .provenance = &ev->provenance};
        return tev_encode_run_start_v12(b, &run, ev->config, NULL);
    }
    case TEV_LOG:
        return tev_encode_log_at(b, ev->run_id, ev->attempt, ev->step, ev->time, ev->fields,
                                 ev->n_fields, NULL);
    case TEV_RUN_END:
        return tev_encode_run_end(b, ev->run_id, ev->time, ev->status, ev->summary, NULL);
    case TEV_CHECKPOINT:
        return tev_encode_checkpoint(b, ev->run_id, &ev->checkpoint, NULL);
    case TEV_SYSTEM:
        return tev_encode_system(b, ev->run_id, ev->attempt, ev->time, ev->samples, ev->n_samples,
                                 NULL);
    case TEV_ANNOTATE:
        return tev_encode_annotate(b, ev->run_id, &ev->annotation, NULL);
    case TEV_DELETE:
        return tev_encode_delete(b, ev->run_id, ev->time, NULL);
    }
    FUZZ_CHECK(0, "type %d", (int)ev->type);
    return -1;
}

static void compare_start(const tev_event *a, const tev_event *b)
{
    FUZZ_CHECK(same_str(a->experiment, b->experiment), "experiment");
    FUZZ_CHECK(same_str(a->host, b->host) || (!a->host && b->host && !*b->host), "host");
    FUZZ_CHECK(a->pid == b->pid, "pid");
    FUZZ_CHECK(same_json(a->config, b->config), "config");
    FUZZ_CHECK(same_str(a->name, b->name) && same_str(a->resume_key, b->resume_key) &&
                   same_str(a->pidns, b->pidns),
               "name, resume key or pidns");
    FUZZ_CHECK(a->attempt == 1 || (a->from_step == b->from_step &&
                                   same_real(a->run_started_at, b->run_started_at)),
               "from_step or started_at");
    FUZZ_CHECK(same_str(a->provenance.command, b->provenance.command) &&
                   same_str(a->provenance.cwd, b->provenance.cwd) &&
                   same_str(a->provenance.git_commit, b->provenance.git_commit) &&
                   same_str(a->provenance.version, b->provenance.version),
               "provenance");
}

static void compare(const tev_event *a, const tev_event *b)
{
    switch (a->type) {
    case TEV_RUN_START:
        compare_start(a, b);
        break;
    case TEV_LOG:
        FUZZ_CHECK(a->step == b->step, "step");
        FUZZ_CHECK(a->n_fields == b->n_fields, "%zu fields != %zu", a->n_fields, b->n_fields);
        for (size_t i = 0; i < a->n_fields; i++)
            same_field(&a->fields[i], &b->fields[i], i);
        break;
    case TEV_RUN_END:
        FUZZ_CHECK(same_str(a->status, b->status), "status");
        FUZZ_CHECK(same_json(a->summary, b->summary), "summary");
        break;
    case TEV_CHECKPOINT:
        FUZZ_CHECK(a->checkpoint.seq == b->checkpoint.seq &&
                       a->checkpoint.step == b->checkpoint.step &&
                       a->checkpoint.size == b->checkpoint.size &&
                       same_str(a->checkpoint.path, b->checkpoint.path) &&
                       same_str(a->checkpoint.sha256, b->checkpoint.sha256) &&
                       same_str(a->checkpoint.error, b->checkpoint.error),
                   "checkpoint");
        break;
    case TEV_SYSTEM:
        FUZZ_CHECK(a->n_samples == b->n_samples, "samples");
        for (size_t i = 0; i < a->n_samples; i++)
            FUZZ_CHECK(strcmp(a->samples[i].key, b->samples[i].key) == 0 &&
                           same_real(a->samples[i].value, b->samples[i].value) &&
                           same_real(a->samples[i].max, b->samples[i].max),
                       "sample %zu", i);
        break;
    case TEV_ANNOTATE:
        FUZZ_CHECK(a->annotation.kind == b->annotation.kind &&
                       strcmp(a->annotation.text, b->annotation.text) == 0,
                   "annotation");
        break;
    case TEV_DELETE:
        break;
    }
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
    int rc = encode(&b, &ev);
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
    FUZZ_CHECK(ev2.attempt == ev.attempt, "attempt");
    compare(&ev, &ev2);
    tev_event_clear(&ev2);
    tev_buf_free(&b);
    tev_event_clear(&ev);
    return 0;
}
