/*
 * tools/report/embed.c - the report's resources as C byte arrays, at build
 * time (GoAccess's bin2c is the model).  Run by meson, never installed:
 *
 *     report-embed OUT.c OUT.h NAME=FILE...
 *
 * For each NAME it writes `const unsigned char rp_res_NAME[]` (the file's
 * bytes, NUL-terminated so the page writer may fputs them),
 * `const size_t rp_res_NAME_len` (without the NUL) and
 * `const char rp_res_NAME_sha256[]` (the base64 SHA-256 of the bytes, for
 * the page's Content-Security-Policy, which allows an inline script or
 * style only by its hash).  A file that could end its <script> or <style>
 * element early ("</", "<!--") or holds a NUL is refused: exit 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-256 (FIPS 180-4) ---- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + K[i] + w[i];
        uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof *v);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += v[i];
}

static void sha256(const unsigned char *data, size_t n, unsigned char out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t full = n / 64 * 64;
    for (size_t i = 0; i < full; i += 64)
        block(h, data + i);
    unsigned char tail[128] = {0};
    size_t rest = n - full, len = rest + 9 <= 64 ? 64 : 128;
    memcpy(tail, data + full, rest);
    tail[rest] = 0x80;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        tail[len - 1 - (size_t)i] = (unsigned char)(bits >> (8 * i));
    for (size_t i = 0; i < len; i += 64)
        block(h, tail + i);
    for (int i = 0; i < 32; i++)
        out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static void base64(const unsigned char *in, size_t n, char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        *out++ = A[v >> 18 & 63];
        *out++ = A[v >> 12 & 63];
        *out++ = i + 1 < n ? A[v >> 6 & 63] : '=';
        *out++ = i + 2 < n ? A[v & 63] : '=';
    }
    *out = '\0';
}

/* ---- the generator ---- */

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0, got;
    unsigned char *b = malloc(cap);
    while (b && (got = fread(b + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    fclose(f);
    *n = len;
    return b;
}

/* Why the bytes cannot sit inside an inline element, or NULL. */
static const char *unsafe(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\0')
            return "a NUL byte";
        if (b[i] == '<' && i + 1 < n && (b[i + 1] == '/' || b[i + 1] == '!'))
            return "\"</\" or \"<!\" (it would end or break the inline element)";
    }
    return NULL;
}

static int emit(FILE *c, FILE *h, const char *name, const char *path)
{
    size_t n = 0;
    unsigned char *b = slurp(path, &n);
    if (!b) {
        fprintf(stderr, "report-embed: cannot read %s\n", path);
        return -1;
    }
    const char *why = unsafe(b, n);
    if (why) {
        fprintf(stderr, "report-embed: %s holds %s\n", path, why);
        free(b);
        return -1;
    }
    unsigned char d[32];
    char b64[48];
    sha256(b, n, d);
    base64(d, 32, b64);
    fprintf(c, "\n/* %s */\nconst unsigned char rp_res_%s[] = {", path, name);
    for (size_t i = 0; i < n; i++)
        fprintf(c, "%s0x%02x,", i % 16 ? "" : "\n    ", b[i]);
    fprintf(c, "\n    0x00};\nconst size_t rp_res_%s_len = %zu;\n", name, n);
    fprintf(c, "const char rp_res_%s_sha256[] = \"%s\";\n", name, b64);
    fprintf(h, "extern const unsigned char rp_res_%s[];\nextern const size_t rp_res_%s_len;\n",
            name, name);
    fprintf(h, "extern const char rp_res_%s_sha256[];\n", name);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: report-embed OUT.c OUT.h NAME=FILE...\n");
        return 2;
    }
    FILE *c = fopen(argv[1], "wb"), *h = fopen(argv[2], "wb");
    if (!c || !h) {
        fprintf(stderr, "report-embed: cannot write %s / %s\n", argv[1], argv[2]);
        return 1;
    }
    fputs("/* Generated by tools/report/embed.c from the files named below. */\n"
          "#include <stddef.h>\n#include \"report_res.h\"\n",
          c);
    fputs("/* Generated by tools/report/embed.c: the report's resources. */\n"
          "#ifndef TROPT_REPORT_RES_H\n#define TROPT_REPORT_RES_H\n#include <stddef.h>\n",
          h);
    int rc = 0;
    for (int i = 3; i < argc && rc == 0; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "report-embed: '%s' is not NAME=FILE\n", argv[i]);
            rc = -1;
            break;
        }
        *eq = '\0';
        rc = emit(c, h, argv[i], eq + 1);
    }
    fputs("#endif\n", h);
    if (fclose(c) != 0 || fclose(h) != 0)
        rc = -1;
    if (rc) {
        remove(argv[1]);
        remove(argv[2]);
    }
    return rc ? 1 : 0;
}
