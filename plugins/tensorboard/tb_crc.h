/*
 * plugins/tensorboard/tb_crc.h - CRC-32C (Castagnoli), as TFRecord framing
 * checksums every length and every record: the reflected polynomial
 * 0x82F63B78, initial value and final XOR 0xFFFFFFFF (RFC 3720 B.4: the
 * CRC of "123456789" is 0xE3069283), computed with slicing-by-8 tables.
 * libc only; thread-safe (the tables are built once, by the first call).
 */
#ifndef TROPT_TB_CRC_H
#define TROPT_TB_CRC_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of the n bytes at p.  Cannot fail. */
uint32_t tb_crc32c(const void *p, size_t n);

/* A CRC as TFRecord stores it: ((crc >> 15) | (crc << 17)) + 0xa282ead8
 * (modulo 2^32).  Cannot fail. */
uint32_t tb_crc_mask(uint32_t crc);

/* The masked CRC-32C of the n bytes at p. */
static inline uint32_t tb_masked_crc32c(const void *p, size_t n)
{
    return tb_crc_mask(tb_crc32c(p, n));
}

#endif
