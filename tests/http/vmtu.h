/*
 * tests/http/vmtu.h - a real VictoriaMetrics (Debian's victoria-metrics)
 * for the http suites: started on a loopback port chosen by the test, with
 * its storage in a temporary folder, read back through /api/v1/export.
 */
#ifndef TROPT_TEST_VMTU_H
#define TROPT_TEST_VMTU_H

#include <stddef.h>
#include <sys/types.h>

typedef struct vmtu {
    pid_t pid;  /* > 0 while running */
    int port;   /* as given to vmtu_start */
    char *base; /* "http://127.0.0.1:PORT" */
    char *log;  /* its stdout and stderr */
} vmtu;

/* The victoria-metrics binary: `arg` when given (meson's option), else the
 * first on PATH, else /usr/bin's.  NULL when there is none (the caller
 * skips, saying so). */
const char *vmtu_find(const char *arg);

/* Start it on 127.0.0.1:port with its storage and log in dir, and wait
 * until /health answers 200 (deadline 60 s: a loaded machine is slow).
 * Fails the test when it does not become healthy. */
void vmtu_start(vmtu *vm, const char *bin, int port, const char *dir);

/* SIGTERM, reaped (SIGKILL after 20 s); frees what vmtu_start allocated. */
void vmtu_stop(vmtu *vm);

/* GET url: the HTTP status (0 when the connection failed), the body in
 * *body (malloc'd, may be NULL when not wanted). */
long vmtu_get(const char *url, char **body);

/* One exported series: its labels (a JSON object, owned) and points. */
typedef struct vmtu_series {
    char *name;
    void *labels; /* json_t * */
    size_t n;
    double *v;
    long long *ts; /* milliseconds */
} vmtu_series;

/* Every series whose labels match the PromQL selector (e.g.
 * {run_id="..."}), after /internal/force_flush so fresh points are
 * searchable.  Points of one series spread over several lines are merged.
 * Returns the count; *out is malloc'd (free with vmtu_series_free). */
size_t vmtu_export(const vmtu *vm, const char *selector, vmtu_series **out);
void vmtu_series_free(vmtu_series *s, size_t n);
/* The series named name, or NULL. */
vmtu_series *vmtu_find_series(vmtu_series *s, size_t n, const char *name);

#endif
