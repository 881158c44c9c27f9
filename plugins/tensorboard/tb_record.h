/*
 * plugins/tensorboard/tb_record.h - TFRecord framing, the container of
 * TensorBoard's event files:
 *
 *     uint64 length | uint32 masked CRC-32C of those 8 bytes | data |
 *     uint32 masked CRC-32C of the data                (all little-endian)
 *
 * Writing frames a record in place; reading walks a file's records with
 * every CRC checked, telling a torn last record (a crash cut the file) from
 * a damaged one in the middle.
 */
#ifndef TROPT_TB_RECORD_H
#define TROPT_TB_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <tropt/plugin.h>

/* Bytes a record adds around its data: the 12-byte header, the 4-byte CRC. */
#define TB_REC_HEAD 12
#define TB_REC_OVERHEAD 16

/* Frame the record whose data (n bytes) sits at rec + TB_REC_HEAD: write
 * the header before it and the data's CRC after it (rec must have room for
 * n + TB_REC_OVERHEAD bytes).  Cannot fail. */
void tb_record_frame(unsigned char *rec, size_t n);

/* What tb_recin_next found. */
typedef enum {
    TB_REC_END = 0,      /* the end of the file (or of the bytes to read) */
    TB_REC_OK = 1,       /* a record whose CRCs both hold: data, len, at */
    TB_REC_BAD_DATA = 2, /* the data's CRC does not hold: the record (at) is
                          * skipped; the next call reads the one after it */
    TB_REC_BAD_LEN = 3,  /* the length's CRC does not hold at `at`: no next
                          * record can be found; the file ends here */
    TB_REC_TORN = 4,     /* the file ends inside the record at `at` (a write
                          * cut by a crash, or one still under way) */
    TB_REC_IOERR = -1    /* pread failed (errno set); or memory ran out
                          * (errno ENOMEM) */
} tb_rec_status;

/* A file being read record by record (from `off` up to `limit`). */
typedef struct tb_recin {
    const tropt_host *h;
    int fd;
    off_t off;   /* offset of the next record */
    off_t limit; /* bytes of the file read, at most */
    unsigned char *buf;
    size_t cap;
    off_t buf_off; /* file offset of buf[0] */
    size_t have;   /* valid bytes in buf */
    int done;      /* END, BAD_LEN or TORN was returned */
} tb_recin;

/* Start reading fd (borrowed) at offset start, up to offset limit (the file
 * size when it was listed, so that records appended later are not read).
 * Allocates nothing yet. */
void tb_recin_init(tb_recin *r, const tropt_host *h, int fd, off_t start, off_t limit);

/* The next record.  On TB_REC_OK, *data and *len are its bytes, valid until the
 * next call; *at is the record's offset for every status but END and
 * IOERR.  After END, BAD_LEN or TORN every later call returns END. */
tb_rec_status tb_recin_next(tb_recin *r, const unsigned char **data, size_t *len, off_t *at);

/* Free the buffer (the fd stays open). */
void tb_recin_free(tb_recin *r);

#endif
