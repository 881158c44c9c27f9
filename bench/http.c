/* bench/http.c - the http backend (influx line protocol):
 *   http-vm    into a real VictoriaMetrics on loopback (--vm URL): sustained
 *              values/s end to end (log loop + finish, which waits for
 *              delivery) and log latency;
 *   http-slow  into a receiver of our own that adds 50 ms to every request;
 *   http-down  to a closed loopback port.
 * For slow and down only the caller's side matters: log must not wait on
 * the network, so its latency is the figure (target p99 < 5 us). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* ---- a slow receiver ---------------------------------------------------- */

typedef struct {
    int lfd;
    int port;
    volatile int stop;
    pthread_t th;
    long requests;
} slow_server;

static int read_some(int fd, char *buf, size_t cap, size_t *len)
{
    ssize_t n;
    do {
        n = recv(fd, buf + *len, cap - *len, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    *len += (size_t)n;
    return 0;
}

/* The connection's read buffer: cap bytes (and a NUL), len held. */
typedef struct conn_buf {
    int fd;
    char *buf;
    size_t cap, len;
} conn_buf;

/* Reads until the headers' end; their length (with CRLF CRLF) into *hlen,
 * what they say into *clen, *chunked and *expect.  0, or -1 when the peer
 * closed or the headers overflow. */
static int read_headers(conn_buf *c, size_t *hlen, long *clen, int *chunked, int *expect)
{
    char *end;
    c->buf[c->len] = '\0';
    while (!(end = strstr(c->buf, "\r\n\r\n"))) {
        if (c->len == c->cap || read_some(c->fd, c->buf, c->cap, &c->len) != 0)
            return -1;
        c->buf[c->len] = '\0';
    }
    *hlen = (size_t)(end - c->buf) + 4;
    *clen = 0;
    *chunked = *expect = 0;
    for (char *l = c->buf; l < end; l = strstr(l, "\r\n") + 2) {
        if (strncasecmp(l, "Content-Length:", 15) == 0)
            *clen = strtol(l + 15, NULL, 10);
        else if (strncasecmp(l, "Transfer-Encoding:", 18) == 0 && strstr(l, "chunked") &&
                 strstr(l, "chunked") < strstr(l, "\r\n"))
            *chunked = 1;
        else if (strncasecmp(l, "Expect:", 7) == 0)
            *expect = 1;
    }
    return 0;
}

/* Skips a chunked body up to its last chunk; 0 or -1. */
static int skip_chunked(conn_buf *c)
{
    c->buf[c->len] = '\0';
    while (!strstr(c->buf, "0\r\n\r\n")) {
        if (c->len == c->cap) { /* keep the tail only */
            memmove(c->buf, c->buf + c->len - 8, 8);
            c->len = 8;
        }
        if (read_some(c->fd, c->buf, c->cap, &c->len) != 0)
            return -1;
        c->buf[c->len] = '\0';
    }
    char *z = strstr(c->buf, "0\r\n\r\n") + 5;
    size_t used = (size_t)(z - c->buf);
    memmove(c->buf, z, c->len - used);
    c->len -= used;
    return 0;
}

/* Skips a body of clen bytes; 0 or -1. */
static int skip_sized(conn_buf *c, long clen)
{
    while ((long)c->len < clen) {
        if (c->len == c->cap) {
            clen -= (long)c->len;
            c->len = 0;
        }
        if (read_some(c->fd, c->buf, c->cap, &c->len) != 0)
            return -1;
    }
    memmove(c->buf, c->buf + clen, c->len - (size_t)clen);
    c->len -= (size_t)clen;
    return 0;
}

/* One request read and answered 204 after 50 ms; 0, or -1 to close. */
static int serve_one(conn_buf *c)
{
    size_t hlen;
    long clen;
    int chunked, expect;
    if (read_headers(c, &hlen, &clen, &chunked, &expect) != 0)
        return -1;
    if (expect && send(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL) != 25)
        return -1;
    /* body: drop what we have of it and read the rest */
    memmove(c->buf, c->buf + hlen, c->len - hlen);
    c->len -= hlen;
    if ((chunked ? skip_chunked(c) : skip_sized(c, clen)) != 0)
        return -1;
    struct timespec d = {0, 50 * 1000000L};
    nanosleep(&d, NULL);
    static const char resp[] = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
    return send(c->fd, resp, sizeof resp - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof resp - 1) ? 0 : -1;
}

static void *serve_conn(void *arg)
{
    conn_buf c = {(int)(intptr_t)arg, NULL, 1 << 20, 0};
    c.buf = malloc(c.cap + 1);
    while (c.buf && serve_one(&c) == 0)
        ;
    free(c.buf);
    close(c.fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    slow_server *s = arg;
    while (!s->stop) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        s->requests++;
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, serve_conn, (void *)(intptr_t)fd) != 0)
            close(fd);
        pthread_attr_destroy(&at);
    }
    return NULL;
}

/* A loopback listening socket on a free port; with listen_too 0 the socket
 * is closed again, leaving a port nobody listens on. */
static int loopback_socket(int *port, int listen_too)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0 || (listen_too && listen(fd, 64) != 0)) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    if (!listen_too) {
        close(fd);
        return 0;
    }
    return fd;
}

static int slow_start(slow_server *s)
{
    memset(s, 0, sizeof *s);
    s->lfd = loopback_socket(&s->port, 1);
    if (s->lfd < 0)
        return -1;
    if (pthread_create(&s->th, NULL, accept_loop, s) != 0) {
        close(s->lfd);
        return -1;
    }
    return 0;
}

static void slow_stop(slow_server *s)
{
    s->stop = 1;
    shutdown(s->lfd, SHUT_RDWR);
    close(s->lfd);
    pthread_join(s->th, NULL);
}

/* ---- the scenarios ------------------------------------------------------ */

/* ",name=value" when the plugin declares the option, else "". */
static void opt_if(char *spec, size_t size, const char *name, const char *value)
{
    if (!bench_plugin_has_option("http", name))
        return;
    size_t l = strlen(spec);
    snprintf(spec + l, size - l, ",%s=%s", name, value);
}

static void http_spec(char *spec, size_t size, const char *url, const char *spool,
                      const char *flush_timeout, const char *extra)
{
    snprintf(spec, size, "http:url=\"%s\",format=influx", url);
    opt_if(spec, size, "spool_dir", spool);
    opt_if(spec, size, "flush_timeout", flush_timeout);
    if (extra && *extra) {
        size_t l = strlen(spec);
        snprintf(spec + l, size - l, "%s%s", extra[0] == ',' ? "" : ",", extra);
    }
}

static void absolute_row(bench_ctx *c, const char *scenario, const char *variant,
                         const lat_result *r, int64_t steps)
{
    double vps = r->total_s > 0 ? (double)steps * BENCH_NFIELDS / r->total_s : 0;
    json_t *row = json_object();
    json_object_set_new(row, "scenario", json_string(scenario));
    json_object_set_new(row, "variant", json_string(variant));
    json_object_set_new(row, "steps", json_integer(steps));
    json_object_set_new(row, "ns_per_step", json_real(r->total_s * 1e9 / (double)steps));
    json_object_set_new(row, "values_per_s", json_real(vps));
    if (strcmp(scenario, "http-vm") == 0) {
        /* Delivered only if finish succeeded and nothing was spooled. */
        json_object_set_new(row, "target", json_string("values/s >= 1e6"));
        json_object_set_new(row, "met",
                            json_boolean(vps >= 1e6 && !r->finish_failed && !r->n_warnings));
    }
    if (r->finish_failed)
        json_object_set_new(row, "note", json_sprintf("finish: %s", r->err));
    else if (r->n_warnings)
        json_object_set_new(row, "note",
                            json_sprintf("%d warnings, last: %s", r->n_warnings, r->last_warning));
    json_array_append_new(c->results, row);
}

static void latency_row_http(bench_ctx *c, const char *scenario, const char *label,
                             const lat_result *r, int64_t steps)
{
    bench_latency_row(c, scenario, label, r, steps, 0);
    json_t *row = json_array_get(c->latency, json_array_size(c->latency) - 1);
    json_object_set_new(row, "target", json_string("p99 < 5 us"));
    json_object_set_new(row, "met", json_boolean(r->p99 < 5000));
    if (r->finish_failed)
        json_object_set_new(row, "note", json_sprintf("finish: %s", r->err));
}

void scen_http(bench_ctx *c)
{
    char path[1024];
    int found = bench_plugin_found("http", path, sizeof path);
    const char *names[] = {"http-vm", "http-slow", "http-down"};
    for (int k = 0; k < 3; k++) {
        const char *sc = names[k];
        if (!bench_want(c, sc))
            continue;
        if (!found) {
            bench_skip(c, sc, "plugin tropt-http.so not found on TROPT_PLUGIN_PATH");
            continue;
        }
        if (k == 0 && !c->vm_url) {
            bench_skip(c, sc, "no --vm URL given (bench/run.sh starts VictoriaMetrics)");
            continue;
        }
        char dir[1024], spool[1100], url[1024], spec[4096];
        if (bench_mkdir(c, sc, dir, sizeof dir) != 0) {
            bench_fail(c, sc, "cannot create a folder");
            continue;
        }
        snprintf(spool, sizeof spool, "%s/spool", dir);
        slow_server srv;
        int64_t steps = c->steps;
        lat_result r;
        int rc;
        if (k == 0) {
            snprintf(url, sizeof url, "%s/write", c->vm_url);
            http_spec(spec, sizeof spec, url, spool, "60s", c->http_opts);
            steps = c->steps * 2;
        } else if (k == 1) {
            if (slow_start(&srv) != 0) {
                bench_fail(c, sc, "cannot start the slow receiver: %s", strerror(errno));
                continue;
            }
            snprintf(url, sizeof url, "http://127.0.0.1:%d/write", srv.port);
            http_spec(spec, sizeof spec, url, spool, "2s", c->http_opts);
        } else {
            int port;
            if (loopback_socket(&port, 0) != 0) {
                bench_fail(c, sc, "no free port");
                continue;
            }
            snprintf(url, sizeof url, "http://127.0.0.1:%d/write", port);
            http_spec(spec, sizeof spec, url, spool, "1s", c->http_opts);
        }
        printf("  %s: %lld steps: %s\n", sc, (long long)steps, spec);
        fflush(stdout);
        rc = bench_latency_measure(spec, steps, k != 0, &r);
        if (k == 1)
            slow_stop(&srv);
        bench_rmrf(dir);
        if (rc != 0) {
            bench_fail(c, sc, "%s", r.err);
            continue;
        }
        const char *label = k == 0   ? "http influx -> VictoriaMetrics"
                            : k == 1 ? "http influx -> receiver +50 ms/request"
                                     : "http influx -> closed port";
        absolute_row(c, sc, label, &r, steps);
        latency_row_http(c, sc, label, &r, steps);
        bench_ran(c, sc, r.finish_failed ? r.err : NULL);
    }
}
