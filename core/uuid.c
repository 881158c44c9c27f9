/* core/uuid.c - run ids: UUIDv7 (RFC 9562), time-ordered and strictly
 * increasing within a process (rand_a holds a per-millisecond counter). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "internal.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;
static unsigned counter;

static int fill_random(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int tropt__uuid7(char out[TROPT__UUID_LEN + 1])
{
    unsigned char rnd[10];
    if (fill_random(rnd, sizeof rnd) != 0)
        return tropt__error(TROPT_EBACKEND, "cannot read random bytes for a run id");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;

    pthread_mutex_lock(&lock);
    if (ms > last_ms) {
        last_ms = ms;
        counter = ((unsigned)rnd[0] << 8 | rnd[1]) & 0x3ff; /* leave room to count up */
    } else {
        counter++;
        if (counter > 0xfff) {
            last_ms++;
            counter = 0;
        }
        ms = last_ms;
    }
    unsigned ctr = counter;
    pthread_mutex_unlock(&lock);

    unsigned char b[16];
    b[0] = (unsigned char)(ms >> 40);
    b[1] = (unsigned char)(ms >> 32);
    b[2] = (unsigned char)(ms >> 24);
    b[3] = (unsigned char)(ms >> 16);
    b[4] = (unsigned char)(ms >> 8);
    b[5] = (unsigned char)ms;
    b[6] = (unsigned char)(0x70 | ((ctr >> 8) & 0x0f));
    b[7] = (unsigned char)ctr;
    b[8] = (unsigned char)(0x80 | (rnd[2] & 0x3f));
    memcpy(b + 9, rnd + 3, 7);

    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
    return TROPT_OK;
}

int tropt__uuid_valid(const char *s)
{
    if (!s || strlen(s) != TROPT__UUID_LEN)
        return 0;
    for (int i = 0; i < TROPT__UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

double tropt__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
