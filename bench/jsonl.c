/* bench/jsonl.c - the jsonl backend against a hand-written loop that builds
 * the same NDJSON events with jansson, serializes them with json_dumps and
 * appends each with write(2) (the backend's default durability: every event
 * reaches the kernel before log returns; fsync at finish). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"

/* One event, one write: the text of json_dumps and its '\n'. */
static int write_line(int fd, char *s)
{
    if (!s)
        return -1;
    size_t n = strlen(s);
    struct iovec iov[2] = {{s, n}, {(void *)"\n", 1}};
    return writev(fd, iov, 2) == (ssize_t)(n + 1) ? 0 : -1;
}

static int run_raw(void *arg, int64_t steps, double *secs)
{
    bench_ctx *c = arg;
    char dir[1024], path[1100];
    if (bench_mkdir(c, "jsonl-raw", dir, sizeof dir) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/raw.jsonl", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    const char *run_id = "019b0000-0000-7000-8000-000000000000";
    json_t *start = json_pack("{s:s, s:s, s:f, s:s, s:s, s:i, s:n}", "type", "run_start", "run_id",
                              run_id, "time", bench_realtime(), "experiment", "bench", "host",
                              "localhost", "pid", (int)getpid(), "config");
    char *line = json_dumps(start, JSON_COMPACT);
    int rc = write_line(fd, line);
    free(line);
    json_decref(start);
    tropt_field f[BENCH_NFIELDS];
    double t0 = bench_mono();
    for (int64_t s = 0; s < steps && rc == 0; s++) {
        bench_fill(s, f);
        json_t *data = json_object();
        for (int i = 0; i < BENCH_NFIELDS; i++)
            json_object_set_new_nocheck(data, f[i].key,
                                        f[i].type == TROPT_INT ? json_integer(f[i].v.i)
                                                               : json_real(f[i].v.r));
        json_t *ev = json_object();
        json_object_set_new_nocheck(ev, "type", json_string_nocheck("log"));
        json_object_set_new_nocheck(ev, "run_id", json_string_nocheck(run_id));
        json_object_set_new_nocheck(ev, "time", json_real(bench_realtime()));
        json_object_set_new_nocheck(ev, "step", json_integer(s));
        json_object_set_new_nocheck(ev, "data", data);
        char *text = json_dumps(ev, JSON_COMPACT);
        rc = write_line(fd, text);
        free(text);
        json_decref(ev);
    }
    json_t *end = json_pack("{s:s, s:s, s:f, s:s, s:n}", "type", "run_end", "run_id", run_id,
                            "time", bench_realtime(), "status", "finished", "summary");
    line = json_dumps(end, JSON_COMPACT);
    if (rc == 0)
        rc = write_line(fd, line);
    free(line);
    json_decref(end);
    if (fsync(fd) != 0)
        rc = -1;
    *secs = bench_mono() - t0;
    close(fd);
    bench_rmrf(dir);
    return rc;
}

static int run_lib(void *arg, int64_t steps, double *secs)
{
    bench_ctx *c = arg;
    char dir[1024], spec[2048];
    if (bench_mkdir(c, "jsonl-lib", dir, sizeof dir) != 0)
        return -1;
    snprintf(spec, sizeof spec, "jsonl:path=%s/lib.jsonl", dir);
    int rc = bench_lib_run(spec, steps, secs);
    bench_rmrf(dir);
    return rc;
}

void scen_jsonl(bench_ctx *c)
{
    const char *sc = "jsonl";
    if (!bench_want(c, sc))
        return;
    char path[1024];
    if (!bench_plugin_found("jsonl", path, sizeof path)) {
        bench_skip(c, sc, "plugin tropt-jsonl.so not found on TROPT_PLUGIN_PATH");
        return;
    }
    bench_variant v[] = {
        {"jsonl (default: write(2) per event)", run_lib, c, 0, 0},
        {"raw jansson + json_dumps + write(2) (baseline)", run_raw, c, 0, 0},
    };
    if (bench_interleave(c, v, 2, c->steps) != 0) {
        bench_fail(c, sc, "a variant failed");
        return;
    }
    bench_row(c, sc, &v[0], &v[1], "speed", NULL, 0, NULL);
    bench_row(c, sc, &v[1], NULL, NULL, NULL, 0, NULL);
    bench_ran(c, sc, NULL);
}
