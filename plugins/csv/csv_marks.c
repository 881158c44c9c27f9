/*
 * plugins/csv/csv_marks.c - checkpoint marks and system samples of the open
 * run (ABI 1.2 hooks), each appended as a record to a CSV file of the run's
 * folder (README.md "Checkpoint marks", "System samples"):
 *   checkpoints.csv  attempt,seq,step,time,path,size,sha256,error
 *   system.csv       attempt,time,key,value,max
 * A mark is written twice (at the call, then with its size and hash); the
 * reader takes the last record of each (attempt, seq).  An attempt replayed
 * into its own folder again (the same journal) skips the records the file
 * holds already, so a replay adds no duplicate.
 */
#include "csv_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char ck_header[] = "attempt,seq,step,time,path,size,sha256,error\r\n";
static const char sys_header[] = "attempt,time,key,value,max\r\n";

/* The end of the CSV record starting at p (past its CRLF; a quoted cell
 * may hold CR and LF), or NULL when the text ends first (a torn record). */
static const char *record_end(const char *p, const char *end)
{
    int quoted = 0;
    for (; p < end; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && *p == '\r' && p + 1 < end && p[1] == '\n')
            return p + 2;
    }
    return NULL;
}

static int rec_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether s holds the record [p, p + n). */
static int recset_has(const csv_recset *s, const char *p, size_t n)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *r = s->rec[mid];
        int cmp = strncmp(r, p, n);
        if (cmp == 0)
            cmp = r[n] != '\0'; /* r is longer: after p */
        if (cmp == 0)
            return 1;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static void recset_free(const tropt_host *h, csv_recset *s)
{
    for (size_t i = 0; i < s->n; i++)
        h->free(s->rec[i]);
    h->free(s->rec);
    s->rec = NULL;
    s->n = 0;
}

/* The whole of the file fd (size bytes) into host memory, NUL-terminated;
 * NULL with errno. */
static char *read_whole(const tropt_host *h, int fd, size_t size)
{
    char *text = h->malloc(size + 1);
    if (!text) {
        errno = ENOMEM;
        return NULL;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, text + got, size - got, (off_t)got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0)
                errno = EIO;
            h->free(text);
            return NULL;
        }
        got += (size_t)n;
    }
    text[size] = '\0';
    return text;
}

/* Copy the record [p, p + n) into s (cap: its room); -1 out of memory. */
static int recset_add(const tropt_host *h, csv_recset *s, size_t *cap, const char *p, size_t n)
{
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **r = h->realloc(s->rec, nc * sizeof *r);
        if (!r)
            return -1;
        s->rec = r;
        *cap = nc;
    }
    char *copy = h->malloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, p, n);
    copy[n] = '\0';
    s->rec[s->n++] = copy;
    return 0;
}

/* The complete records of attempt c->attempt the file fd (size bytes)
 * holds, into s, sorted.  0, or -1 with errno. */
static int recset_load(csv *c, int fd, size_t size, csv_recset *s)
{
    char *text = read_whole(c->h, fd, size);
    if (!text)
        return -1;
    char prefix[CSV_NUM_MAX + 1];
    size_t np = tropt_put_i64(prefix, c->attempt);
    prefix[np++] = ',';
    size_t cap = 0;
    const char *end = text + size, *e;
    for (const char *p = text; p < end && (e = record_end(p, end)) != NULL; p = e) {
        size_t n = (size_t)(e - p) - 2;
        if (n >= np && memcmp(p, prefix, np) == 0 && recset_add(c->h, s, &cap, p, n) != 0) {
            c->h->free(text);
            recset_free(c->h, s);
            errno = ENOMEM;
            return -1;
        }
    }
    c->h->free(text);
    if (s->n > 1)
        qsort(s->rec, s->n, sizeof *s->rec, rec_cmp);
    return 0;
}

/* Open (creating) the side file `name` for appending; a new file gets
 * `header`, a file whose last record a killed writer cut gets a line end
 * (the cut record stays unreadable, the next one whole).  An attempt being
 * continued (a replay) notes the records the file holds of it in seen.
 * -1 with errno. */
static int side_open(csv *c, const char *name, const char *header, csv_recset *seen)
{
    int fd = openat(c->rfd, name, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    struct stat st;
    char last = '\n';
    int ok = fstat(fd, &st) == 0;
    if (ok && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
        ok = 0;
    if (ok && st.st_size > 0 && c->continued && recset_load(c, fd, (size_t)st.st_size, seen) != 0)
        ok = 0;
    if (ok && st.st_size == 0)
        ok = write(fd, header, strlen(header)) == (ssize_t)strlen(header);
    else if (ok && last != '\n')
        ok = write(fd, "\r\n", 2) == 2;
    if (!ok) {
        int e = errno;
        close(fd);
        recset_free(c->h, seen);
        errno = e;
        return -1;
    }
    return fd;
}

/* Drop from b the records seen holds already (b's records are whole). */
static void drop_seen(tev_buf *b, const csv_recset *seen)
{
    if (!seen->n || !b->len)
        return;
    const char *end = b->data + b->len, *e;
    size_t out = 0;
    for (const char *p = b->data; p < end; p = e) {
        e = record_end(p, end);
        if (!e)
            e = end;
        size_t n = (size_t)(e - p);
        if (!recset_has(seen, p, n >= 2 ? n - 2 : n)) {
            memmove(b->data + out, p, n);
            out += n;
        }
    }
    b->len = out;
    b->data[out] = '\0';
}

/* Append b's bytes as records to the side file *fd (opened on first use),
 * synced unless fsync=off: as durable as a logged step.  Records a
 * continued attempt holds there already are skipped (b is changed). */
static int side_append(csv *c, int *fd, const char *name, const char *header, csv_recset *seen,
                       tev_buf *b)
{
    if (*fd < 0 && (*fd = side_open(c, name, header, seen)) < 0)
        return errno == ENOMEM ? oom(c)
                               : c->h->error(TROPT_EBACKEND, "cannot open '%s/%s': %s", c->run_dir,
                                             name, strerror(errno));
    drop_seen(b, seen);
    if (!b->len)
        return TROPT_OK;
    if (write(*fd, b->data, b->len) != (ssize_t)b->len ||
        (c->sync != SYNC_OFF && fdatasync(*fd) != 0))
        return c->h->error(TROPT_EBACKEND, "cannot write '%s/%s': %s", c->run_dir, name,
                           errno ? strerror(errno) : "short write");
    return TROPT_OK;
}

static int put_i64(tev_buf *b, int64_t v)
{
    char num[CSV_NUM_MAX];
    return tev_buf_append(b, num, tropt_put_i64(num, v));
}

static int put_real(csv *c, tev_buf *b, double v)
{
    char num[CSV_NUM_MAX];
    return tev_buf_append(b, num, c->h->format_real(num, sizeof num, v));
}

static int put_text(tev_buf *b, const char *s)
{
    return s ? csv_put_cell(b, s, strlen(s)) : 0;
}

/* The mark as one record of checkpoints.csv into b; -1 out of memory. */
static int mark_record(csv *c, tev_buf *b, const tropt_checkpoint *m)
{
    b->len = 0;
    int bad = put_i64(b, m->attempt) || tev_buf_puts(b, ",") || put_i64(b, m->seq) ||
              tev_buf_puts(b, ",") || put_i64(b, m->step) || tev_buf_puts(b, ",") ||
              put_real(c, b, m->time) || tev_buf_puts(b, ",") || put_text(b, m->path);
    bad = bad || tev_buf_puts(b, ",") || (m->size >= 0 && put_i64(b, m->size)) ||
          tev_buf_puts(b, ",") || put_text(b, m->sha256) || tev_buf_puts(b, ",") ||
          put_text(b, m->error) || tev_buf_puts(b, "\r\n");
    return bad ? -1 : 0;
}

int csv_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *m)
{
    csv *c = self;
    (void)run;
    if (!c->open)
        return c->h->error(TROPT_ESTATE, "no open run");
    if (mark_record(c, &c->scratch, m) != 0)
        return oom(c);
    int rc = side_append(c, &c->ckfd, "checkpoints.csv", ck_header, &c->ckseen, &c->scratch);
    json_t *cs = json_object_get(c->meta, "checkpoint_step");
    if (rc == TROPT_OK && (!json_is_integer(cs) || m->step > json_integer_value(cs)) &&
        json_object_set_new(c->meta, "checkpoint_step", json_integer((json_int_t)m->step)) != 0)
        rc = oom(c); /* the mark is in checkpoints.csv; run.json cannot name it */
    return rc;
}

int csv_log_system(void *self, const tropt_run *run, double time, const tropt_sample *s, size_t n)
{
    csv *c = self;
    (void)run;
    if (!c->open)
        return c->h->error(TROPT_ESTATE, "no open run");
    tev_buf *b = &c->scratch;
    b->len = 0;
    for (size_t i = 0; i < n; i++)
        if (put_i64(b, c->attempt) || tev_buf_puts(b, ",") || put_real(c, b, time) ||
            tev_buf_puts(b, ",") || put_text(b, s[i].key) || tev_buf_puts(b, ",") ||
            put_real(c, b, s[i].value) || tev_buf_puts(b, ",") || put_real(c, b, s[i].max) ||
            tev_buf_puts(b, "\r\n"))
            return oom(c);
    return n ? side_append(c, &c->sysfd, "system.csv", sys_header, &c->sysseen, b) : TROPT_OK;
}

void marks_close(csv *c)
{
    if (c->ckfd >= 0)
        close(c->ckfd);
    if (c->sysfd >= 0)
        close(c->sysfd);
    c->ckfd = c->sysfd = -1;
    recset_free(c->h, &c->ckseen);
    recset_free(c->h, &c->sysseen);
}
