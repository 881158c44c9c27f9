/* core/sha256.h - SHA-256 for checkpoint marks (core/sha256.c). */
#ifndef TROPT_SHA256_H
#define TROPT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct tropt__sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    unsigned char buf[64];
    size_t used;
} tropt__sha256;

void tropt__sha256_init(tropt__sha256 *s);
void tropt__sha256_update(tropt__sha256 *s, const void *data, size_t n);
/* Finish and write the digest as 64 lowercase hex digits and a NUL. */
void tropt__sha256_hex(tropt__sha256 *s, char out[65]);

#endif
