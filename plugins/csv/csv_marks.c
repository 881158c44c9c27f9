/*
 * plugins/csv/csv_marks.c - checkpoint marks and system samples of the open
 * run (ABI 1.2 hooks), each appended as a record to a CSV file of the run's
 * folder (README.md "Checkpoint marks", "System samples"):
 *   checkpoints.csv  attempt,seq,step,time,path,size,sha256,error
 *   system.csv       attempt,time,key,value,max
 * A mark is written twice (at the call, then with its size and hash); the
 * reader takes the last record of each (attempt, seq).  A replayed attempt
 * may repeat records: the reader keeps one of each.
 */
#include "csv_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char ck_header[] = "attempt,seq,step,time,path,size,sha256,error\r\n";
static const char sys_header[] = "attempt,time,key,value,max\r\n";

/* Open (creating) the side file `name` for appending; a new file gets
 * `header`, a file whose last record a killed writer cut gets a line end
 * (the cut record stays unreadable, the next one whole).  -1 with errno. */
static int side_open(csv *c, const char *name, const char *header)
{
    int fd = openat(c->rfd, name, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    struct stat st;
    char last = '\n';
    int ok = fstat(fd, &st) == 0;
    if (ok && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
        ok = 0;
    if (ok && st.st_size == 0)
        ok = write(fd, header, strlen(header)) == (ssize_t)strlen(header);
    else if (ok && last != '\n')
        ok = write(fd, "\r\n", 2) == 2;
    if (!ok) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Append b's bytes as records to the side file *fd (opened on first use),
 * synced unless fsync=off: as durable as a logged step. */
static int side_append(csv *c, int *fd, const char *name, const char *header, const tev_buf *b)
{
    if (*fd < 0 && (*fd = side_open(c, name, header)) < 0)
        return c->h->error(TROPT_EBACKEND, "cannot open '%s/%s': %s", c->run_dir, name,
                           strerror(errno));
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
    int rc = side_append(c, &c->ckfd, "checkpoints.csv", ck_header, &c->scratch);
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
    return n ? side_append(c, &c->sysfd, "system.csv", sys_header, b) : TROPT_OK;
}

void marks_close(csv *c)
{
    if (c->ckfd >= 0)
        close(c->ckfd);
    if (c->sysfd >= 0)
        close(c->sysfd);
    c->ckfd = c->sysfd = -1;
}
