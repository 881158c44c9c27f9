/*
 * tests/http/httpd.h - a plain HTTP/1.1 receiver on loopback for the http
 * backend's tests: one thread, a listening socket on port 0, keep-alive,
 * Content-Length bodies.  Records the body of every request it accepts, in
 * order, and misbehaves on request as told.
 */
#ifndef TROPT_TEST_HTTPD_H
#define TROPT_TEST_HTTPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

typedef enum {
    HTTPD_OK,    /* 204, body recorded */
    HTTPD_503,   /* 503, not recorded */
    HTTPD_429,   /* 429 with Retry-After: 1 */
    HTTPD_400,   /* 400 "bad batch" */
    HTTPD_401,   /* 401 */
    HTTPD_RESET, /* connection reset (RST) instead of an answer */
    HTTPD_HANG,  /* never answer */
    /* broken answers (the connection is closed after each) */
    HTTPD_GARBAGE,        /* bytes that are not HTTP at all */
    HTTPD_TRUNCATED,      /* the status line cut short ("HTTP/1.1 20") */
    HTTPD_TRUNCATED_BODY, /* 200 promising 100 bytes of body, sending 3 */
    HTTPD_BOGUS_STATUS,   /* "HTTP/1.1 abc Whatever" */
    HTTPD_BAD_HEADER,     /* 204 with a header line without a colon */
    /* oversized answers */
    HTTPD_HUGE,    /* huge_status with a huge_bytes body (Content-Length);
                    * a 2xx records the request body */
    HTTPD_ENDLESS, /* 200, chunked, a body that never ends (not recorded) */
} httpd_kind;

typedef struct httpd {
    int port;
    /* behaviour: the first n_bad requests get `bad`, the rest HTTPD_OK
     * after delay_ms */
    int n_bad;
    httpd_kind bad;
    int delay_ms;
    /* HTTPD_HUGE: the status (default 200) and body size (default 64 MiB) */
    int huge_status;
    long long huge_bytes;
    /* hold: set before httpd_start, requests that would be answered
     * HTTPD_OK wait unanswered until httpd_release (a server that is as
     * slow as the test needs, however the scheduler runs); past
     * TU_WAIT_S x tu_time_scale() they are answered anyway and hold_expired
     * is set. */
    atomic_int hold, hold_expired;
    /* bytes of the answers sent by HTTPD_HUGE / HTTPD_ENDLESS (under mu) */
    long long bytes_streamed;

    /* records (read them after httpd_stop, or under mu) */
    pthread_mutex_t mu;
    char **bodies; /* accepted bodies, in order */
    size_t n_bodies;
    int n_requests;
    double *req_times; /* monotonic time of every request */
    char auth[256];
    char ctype[128];
    char custom[128];

    int lfd;
    pthread_t thread;
    atomic_int stop;
} httpd;

/* Start on 127.0.0.1:<free port>.  Configure n_bad/bad/delay_ms before. */
void httpd_start(httpd *h);
/* End the hold: held and later requests are answered. */
void httpd_release(httpd *h);
/* Stop, join; records stay until httpd_free. */
void httpd_stop(httpd *h);
void httpd_free(httpd *h);
/* A loopback port nothing listens on. */
int httpd_dead_port(void);
double httpd_now(void);

#endif
