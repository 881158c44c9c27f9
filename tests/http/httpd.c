/* tests/http/httpd.c - see httpd.h. */
#include "httpd.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 16

typedef struct conn {
    int fd;
    char *buf;
    size_t len, cap;
    int hung;
} conn;

double httpd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

int httpd_dead_port(void)
{
    int port;
    int fd = listen_loopback(&port);
    close(fd); /* never listened: connections are refused */
    return port;
}

static void header_value(const char *head, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    for (const char *p = head; p && *p; p = strstr(p, "\r\n")) {
        if (p[0] == '\r')
            p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r\n");
            if (n >= outsz)
                n = outsz - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
}

static void send_str(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Send n bytes without blocking the server for good: gives up when the
 * peer goes away or the server stops.  Returns 0 or -1. */
static int stream_bytes(httpd *h, int fd, const char *p, size_t n)
{
    while (n) {
        if (atomic_load(&h->stop))
            return -1;
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        int pr = poll(&pf, 1, 50);
        if (pr < 0 && errno != EINTR)
            return -1;
        if (pr <= 0)
            continue;
        if (pf.revents & (POLLERR | POLLHUP | POLLNVAL))
            return -1;
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        pthread_mutex_lock(&h->mu);
        h->bytes_streamed += w;
        pthread_mutex_unlock(&h->mu);
    }
    return 0;
}

static const char filler[65536] = {'x'};

/* HTTPD_HUGE: status line, Content-Length, then `bytes` bytes of body. */
static void send_huge(httpd *h, int fd, int status, long long bytes)
{
    char head[160];
    snprintf(head, sizeof head, "HTTP/1.1 %d Huge\r\nContent-Length: %lld\r\n\r\n", status, bytes);
    if (stream_bytes(h, fd, head, strlen(head)) != 0)
        return;
    while (bytes > 0) {
        size_t n = bytes < (long long)sizeof filler ? (size_t)bytes : sizeof filler;
        if (stream_bytes(h, fd, filler, n) != 0)
            return;
        bytes -= (long long)n;
    }
}

/* HTTPD_ENDLESS: a 200 whose chunked body never ends (until the peer
 * leaves or the server stops). */
static void send_endless(httpd *h, int fd)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    if (stream_bytes(h, fd, head, sizeof head - 1) != 0)
        return;
    char size_line[16];
    snprintf(size_line, sizeof size_line, "%zx\r\n", sizeof filler);
    for (;;) {
        if (stream_bytes(h, fd, size_line, strlen(size_line)) != 0 ||
            stream_bytes(h, fd, filler, sizeof filler) != 0 || stream_bytes(h, fd, "\r\n", 2) != 0)
            return;
    }
}

static void record_body(httpd *h, const char *p, size_t n)
{
    char *body = malloc(n + 1);
    memcpy(body, p, n);
    body[n] = '\0';
    pthread_mutex_lock(&h->mu);
    h->bodies = realloc(h->bodies, (h->n_bodies + 1) * sizeof *h->bodies);
    h->bodies[h->n_bodies++] = body;
    pthread_mutex_unlock(&h->mu);
}

static void close_conn(conn *c, int reset)
{
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* Wait while h->hold is set (see httpd.h). */
static void hold_answer(httpd *h)
{
    double dl = tu_deadline(TU_WAIT_S);
    while (atomic_load(&h->hold) && !atomic_load(&h->stop))
        if (!tu_poll(dl)) {
            atomic_store(&h->hold_expired, 1);
            atomic_store(&h->hold, 0);
        }
}

void httpd_release(httpd *h)
{
    atomic_store(&h->hold, 0);
}

/* Handle every complete request in c's buffer.  Returns -1 when closed. */
static int serve(httpd *h, conn *c)
{
    for (;;) {
        if (c->hung)
            return 0;
        char *end = c->len ? strstr(c->buf, "\r\n\r\n") : NULL;
        if (!end)
            return 0;
        size_t head_len = (size_t)(end - c->buf) + 4;
        char cl[32] = "0";
        c->buf[head_len - 2] = '\0';
        header_value(c->buf, "Content-Length", cl, sizeof cl);
        size_t body_len = (size_t)strtoul(cl, NULL, 10);
        c->buf[head_len - 2] = '\r';
        if (c->len < head_len + body_len)
            return 0;

        pthread_mutex_lock(&h->mu);
        int idx = h->n_requests++;
        h->req_times = realloc(h->req_times, (size_t)h->n_requests * sizeof(double));
        h->req_times[idx] = httpd_now();
        c->buf[head_len - 2] = '\0';
        header_value(c->buf, "Authorization", h->auth, sizeof h->auth);
        header_value(c->buf, "Content-Type", h->ctype, sizeof h->ctype);
        header_value(c->buf, "X-Test", h->custom, sizeof h->custom);
        httpd_kind kind = idx < h->n_bad ? h->bad : HTTPD_OK;
        int delay = h->delay_ms;
        pthread_mutex_unlock(&h->mu);

        switch (kind) {
        case HTTPD_OK: {
            hold_answer(h);
            if (delay > 0) {
                struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
            record_body(h, c->buf + head_len, body_len);
            send_str(c->fd, "HTTP/1.1 204 No Content\r\n\r\n");
            break;
        }
        case HTTPD_503:
            send_str(c->fd, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
            break;
        case HTTPD_429:
            send_str(c->fd, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n"
                            "Content-Length: 0\r\n\r\n");
            break;
        case HTTPD_400:
            send_str(c->fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 9\r\n\r\nbad batch");
            break;
        case HTTPD_401:
            send_str(c->fd, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nwho are you?");
            break;
        case HTTPD_RESET:
            close_conn(c, 1);
            return -1;
        case HTTPD_HANG:
            c->hung = 1;
            return 0;
        case HTTPD_GARBAGE:
            send_str(c->fd, "\x01\x02 this is not HTTP \xff\xfe\r\n\r\n");
            close_conn(c, 0);
            return -1;
        case HTTPD_TRUNCATED:
            send_str(c->fd, "HTTP/1.1 20");
            close_conn(c, 0);
            return -1;
        case HTTPD_TRUNCATED_BODY:
            send_str(c->fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
            close_conn(c, 0);
            return -1;
        case HTTPD_BOGUS_STATUS:
            send_str(c->fd, "HTTP/1.1 abc Whatever\r\nContent-Length: 0\r\n\r\n");
            close_conn(c, 0);
            return -1;
        case HTTPD_BAD_HEADER:
            send_str(c->fd, "HTTP/1.1 204 No Content\r\nthis is not a header\r\n\r\n");
            close_conn(c, 0);
            return -1;
        case HTTPD_HUGE: {
            int status = h->huge_status ? h->huge_status : 200;
            long long bytes = h->huge_bytes ? h->huge_bytes : 64LL << 20;
            if (status >= 200 && status < 300)
                record_body(h, c->buf + head_len, body_len);
            send_huge(h, c->fd, status, bytes);
            close_conn(c, 0);
            return -1;
        }
        case HTTPD_ENDLESS:
            send_endless(h, c->fd);
            close_conn(c, 0);
            return -1;
        }
        memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
        c->len -= head_len + body_len;
        c->buf[c->len] = '\0';
    }
}

static void *httpd_main(void *arg)
{
    httpd *h = arg;
    conn conns[MAX_CONN];
    for (int i = 0; i < MAX_CONN; i++) {
        memset(&conns[i], 0, sizeof conns[i]);
        conns[i].fd = -1;
    }
    while (!atomic_load(&h->stop)) {
        struct pollfd pf[MAX_CONN + 1];
        int map[MAX_CONN + 1];
        int n = 0;
        pf[n].fd = h->lfd;
        pf[n].events = POLLIN;
        map[n++] = -1;
        for (int i = 0; i < MAX_CONN; i++)
            if (conns[i].fd >= 0) {
                pf[n].fd = conns[i].fd;
                pf[n].events = POLLIN;
                map[n++] = i;
            }
        if (poll(pf, (nfds_t)n, 20) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!pf[k].revents)
                continue;
            if (map[k] < 0) {
                int fd = accept(h->lfd, NULL, NULL);
                if (fd < 0)
                    continue;
                int slot = -1;
                for (int i = 0; i < MAX_CONN; i++)
                    if (conns[i].fd < 0) {
                        slot = i;
                        break;
                    }
                if (slot < 0) {
                    close(fd);
                    continue;
                }
                conns[slot].fd = fd;
                continue;
            }
            conn *c = &conns[map[k]];
            if (c->cap - c->len < 65536 + 1) {
                c->cap = c->cap ? c->cap * 2 : 131072;
                c->buf = realloc(c->buf, c->cap);
            }
            ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
            if (r <= 0) {
                close_conn(c, 0);
                continue;
            }
            c->len += (size_t)r;
            c->buf[c->len] = '\0';
            serve(h, c);
        }
    }
    for (int i = 0; i < MAX_CONN; i++)
        if (conns[i].fd >= 0)
            close_conn(&conns[i], 0);
    return NULL;
}

void httpd_start(httpd *h)
{
    pthread_mutex_init(&h->mu, NULL);
    h->lfd = listen_loopback(&h->port);
    ck_assert_int_eq(listen(h->lfd, 64), 0);
    atomic_store(&h->stop, 0);
    ck_assert_int_eq(pthread_create(&h->thread, NULL, httpd_main, h), 0);
}

void httpd_stop(httpd *h)
{
    if (h->lfd <= 0)
        return;
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    close(h->lfd);
    h->lfd = -1;
}

void httpd_free(httpd *h)
{
    httpd_stop(h);
    for (size_t i = 0; i < h->n_bodies; i++)
        free(h->bodies[i]);
    free(h->bodies);
    free(h->req_times);
    pthread_mutex_destroy(&h->mu);
}
