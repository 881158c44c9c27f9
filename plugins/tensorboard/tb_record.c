/* plugins/tensorboard/tb_record.c - TFRecord framing: writing in place and
 * reading with every CRC checked, through one growable buffer per file. */
#include "tb_record.h"

#include "tb_crc.h"
#include "tb_proto.h"

#include <errno.h>
#include <unistd.h>

void tb_record_frame(unsigned char *rec, size_t n)
{
    pb_fixed64(rec, (uint64_t)n);
    pb_fixed32(rec + 8, tb_masked_crc32c(rec, 8));
    pb_fixed32(rec + TB_REC_HEAD + n, tb_masked_crc32c(rec + TB_REC_HEAD, n));
}

void tb_recin_init(tb_recin *r, const tropt_host *h, int fd, off_t start, off_t limit)
{
    r->h = h;
    r->fd = fd;
    r->off = start;
    r->limit = limit;
    r->buf = NULL;
    r->cap = 0;
    r->buf_off = start;
    r->have = 0;
    r->done = 0;
}

void tb_recin_free(tb_recin *r)
{
    if (r->buf)
        r->h->free(r->buf);
    r->buf = NULL;
    r->cap = r->have = 0;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Make bytes [off, off + n) of the file available in the buffer.  Returns
 * 0, 1 when the file (up to limit) ends before them, -1 on error. */
static int fill(tb_recin *r, off_t off, size_t n)
{
    if ((uint64_t)off + n > (uint64_t)r->limit)
        return 1;
    if (off >= r->buf_off && (uint64_t)(off - r->buf_off) + n <= r->have)
        return 0;
    enum { CHUNK = 1 << 16 };
    size_t want = n > CHUNK ? n : CHUNK;
    if ((uint64_t)off + want > (uint64_t)r->limit)
        want = (size_t)(r->limit - off);
    if (want > r->cap) {
        void *nb = r->h->realloc(r->buf, want);
        if (!nb) {
            errno = ENOMEM;
            return -1;
        }
        r->buf = nb;
        r->cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t k = pread(r->fd, r->buf + got, want - got, off + (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break; /* the file shrank since it was listed */
        got += (size_t)k;
    }
    r->buf_off = off;
    r->have = got;
    return got >= n ? 0 : 1;
}

tb_rec_status tb_recin_next(tb_recin *r, const unsigned char **data, size_t *len, off_t *at)
{
    if (r->done)
        return TB_REC_END;
    *at = r->off;
    if (r->off >= r->limit) {
        r->done = 1;
        return TB_REC_END;
    }
    int f = fill(r, r->off, TB_REC_HEAD);
    if (f != 0) {
        r->done = 1;
        return f < 0 ? TB_REC_IOERR : TB_REC_TORN;
    }
    const unsigned char *h = r->buf + (r->off - r->buf_off);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | h[i];
    if (tb_masked_crc32c(h, 8) != le32(h + 8)) {
        r->done = 1;
        return TB_REC_BAD_LEN;
    }
    uint64_t room = (uint64_t)(r->limit - r->off);
    if (room < TB_REC_OVERHEAD || n > room - TB_REC_OVERHEAD) {
        r->done = 1;
        return TB_REC_TORN;
    }
    f = fill(r, r->off, TB_REC_OVERHEAD + (size_t)n);
    if (f != 0) {
        r->done = 1;
        return f < 0 ? TB_REC_IOERR : TB_REC_TORN;
    }
    const unsigned char *d = r->buf + (r->off - r->buf_off) + TB_REC_HEAD;
    r->off += TB_REC_OVERHEAD + (off_t)n;
    if (tb_masked_crc32c(d, (size_t)n) != le32(d + n))
        return TB_REC_BAD_DATA;
    *data = d;
    *len = (size_t)n;
    return TB_REC_OK;
}
