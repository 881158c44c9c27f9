/* plugins/tensorboard/tb_util.c - the string table, folder names, paths,
 * SHA-1 and the name-based UUID. */
#include "tb_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>
#include <string.h>

/* FNV-1a over n bytes. */
static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void tb_map_init(tb_map *m, const tropt_host *h)
{
    memset(m, 0, sizeof *m);
    m->h = h;
}

void tb_map_clear(tb_map *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i])
            m->h->free(m->keys[i]);
        m->keys[i] = NULL;
    }
    m->n = 0;
}

void tb_map_free(tb_map *m)
{
    if (m->keys)
        tb_map_clear(m);
    m->h->free(m->keys);
    m->h->free(m->lens);
    m->h->free(m->vals);
    m->keys = NULL;
    m->lens = NULL;
    m->vals = NULL;
    m->cap = 0;
}

size_t tb_map_find(const tb_map *m, const void *k, size_t n)
{
    if (!m->cap)
        return (size_t)-1;
    for (size_t i = (size_t)hash_bytes(k, n) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (m->lens[i] == n && memcmp(m->keys[i], k, n) == 0)
            return i;
    return (size_t)-1;
}

/* Double the table (16 slots at first).  0 or -1. */
static int grow(tb_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    const tropt_host *h = m->h;
    char **keys = h->malloc(cap * sizeof *keys);
    size_t *lens = h->malloc(cap * sizeof *lens);
    int *vals = h->malloc(cap * sizeof *vals);
    if (!keys || !lens || !vals) {
        h->free(keys);
        h->free(lens);
        h->free(vals);
        return -1;
    }
    memset(keys, 0, cap * sizeof *keys);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = (size_t)hash_bytes(m->keys[i], m->lens[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        lens[j] = m->lens[i];
        vals[j] = m->vals[i];
    }
    h->free(m->keys);
    h->free(m->lens);
    h->free(m->vals);
    m->keys = keys;
    m->lens = lens;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

size_t tb_map_add(tb_map *m, const void *k, size_t n, int v, int *added)
{
    *added = 0;
    size_t i = tb_map_find(m, k, n);
    if (i != (size_t)-1)
        return i;
    if (2 * (m->n + 1) > m->cap && grow(m) != 0)
        return (size_t)-1;
    char *copy = m->h->malloc(n + 1);
    if (!copy)
        return (size_t)-1;
    memcpy(copy, k, n);
    copy[n] = '\0';
    i = (size_t)hash_bytes(k, n) & (m->cap - 1);
    while (m->keys[i])
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = copy;
    m->lens[i] = n;
    m->vals[i] = v;
    m->n++;
    *added = 1;
    return i;
}

char *tb_join(const tropt_host *h, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = h->malloc(na + nb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

/* ---- SHA-1 (FIPS 180-4) ------------------------------------------------------ */

static uint32_t rol(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

static void sha1_block(uint32_t h[5], const unsigned char *b)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (bb & c) | (~bb & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = bb ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (bb & c) | (bb & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = bb ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(bb, 30);
        bb = a;
        a = t;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

typedef struct sha1 {
    uint32_t h[5];
    unsigned char block[64];
    size_t fill;
    uint64_t total;
} sha1;

static void sha1_init(sha1 *c)
{
    static const uint32_t h0[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    memcpy(c->h, h0, sizeof h0);
    c->fill = 0;
    c->total = 0;
}

static void sha1_update(sha1 *c, const void *p, size_t n)
{
    const unsigned char *s = p;
    c->total += n;
    while (n > 0) {
        size_t k = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->block + c->fill, s, k);
        c->fill += k;
        s += k;
        n -= k;
        if (c->fill == 64) {
            sha1_block(c->h, c->block);
            c->fill = 0;
        }
    }
}

static void sha1_final(sha1 *c, unsigned char out[20])
{
    uint64_t bits = c->total * 8;
    unsigned char pad[72] = {0x80};
    size_t k = c->fill < 56 ? 56 - c->fill : 120 - c->fill;
    for (int i = 0; i < 8; i++)
        pad[k + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_update(c, pad, k + 8);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (unsigned char)(c->h[i] >> (24 - 8 * j));
}

void tb_sha1(const void *p, size_t n, unsigned char out[20])
{
    sha1 c;
    sha1_init(&c);
    sha1_update(&c, p, n);
    sha1_final(&c, out);
}

void tb_uuid5_url(const char *name, char out[37])
{
    static const unsigned char ns[16] = {0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                         0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    unsigned char d[20];
    sha1 c;
    sha1_init(&c);
    sha1_update(&c, ns, sizeof ns);
    sha1_update(&c, name, strlen(name));
    sha1_final(&c, d);
    d[6] = (unsigned char)((d[6] & 0x0F) | 0x50);
    d[8] = (unsigned char)((d[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0],
             d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13],
             d[14], d[15]);
}

char *tb_read_small_file(const tropt_host *h, const char *path, size_t max, size_t *n)
{
    *n = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= max &&
        (buf = h->malloc((size_t)st.st_size + 1)) != NULL) {
        ssize_t got = pread(fd, buf, (size_t)st.st_size, 0);
        if (got < 0) {
            h->free(buf);
            buf = NULL;
        } else {
            buf[got] = '\0';
            *n = (size_t)got;
        }
    }
    close(fd);
    return buf;
}
