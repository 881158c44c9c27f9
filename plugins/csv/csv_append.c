/*
 * plugins/csv/csv_append.c - appending to an existing metrics.csv (a run replayed
 * again): its header, its torn tail, the steps of its rows.
 * See csv_priv.h for the state and who updates it.
 */
#include "csv_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Split one CSV record (without its CRLF) into fields, unquoting them;
 * calls fn for each.  -1 when fn fails or out of memory. */
static int split_record(csv *c, const char *s, size_t n, int (*fn)(csv *, const char *, void *),
                        void *ud)
{
    tev_buf f;
    tev_buf_init(&f, c->h->realloc, c->h->free);
    size_t i = 0;
    int rc = 0;
    for (;;) {
        f.len = 0;
        if (tev_buf_reserve(&f, 0) != 0) {
            rc = -1;
            break;
        }
        f.data[0] = '\0';
        if (i < n && s[i] == '"') {
            for (i++; i < n; i++) {
                if (s[i] == '"' && !(i + 1 < n && s[i + 1] == '"'))
                    break;
                if (s[i] == '"')
                    i++;
                if (tev_buf_putc(&f, s[i]) != 0)
                    rc = -1;
            }
            i++;
        }
        while (i < n && s[i] != ',')
            if (tev_buf_putc(&f, s[i++]) != 0)
                rc = -1;
        if (rc != 0 || fn(c, f.data, ud) != 0) {
            rc = -1;
            break;
        }
        if (i >= n)
            break;
        i++;
    }
    tev_buf_free(&f);
    return rc;
}

void seen_free(csv *c)
{
    c->h->free(c->seen);
    c->h->free(c->seen_used);
    c->seen = NULL;
    c->seen_used = NULL;
    c->nseen = c->seen_cap = c->seen_left = 0;
}

/* 1 when a row of step `step` is in the continued file and not matched by
 * a log yet (it is marked matched now), 0 otherwise. */
int seen_take(csv *c, int64_t step)
{
    size_t lo = 0, hi = c->nseen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->seen[mid] < step)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < c->nseen && c->seen[lo] == step; lo++) {
        if (!c->seen_used[lo]) {
            c->seen_used[lo] = 1;
            if (--c->seen_left == 0)
                seen_free(c);
            return 1;
        }
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The step and time cells of the record being scanned, and of the last row
 * recorded (the long layout writes a row as several records sharing them). */
typedef struct rec_scan {
    size_t field, sn, tn, psn, ptn;
    char step[32], time[48], pstep[32], ptime[48];
    int sorted;
} rec_scan;

static void scan_char(rec_scan *r, char ch)
{
    if (ch == ',')
        r->field++;
    else if (r->field == 0 && r->sn < sizeof r->step - 1)
        r->step[r->sn++] = ch;
    else if (r->field == 1 && r->tn < sizeof r->time - 1)
        r->time[r->tn++] = ch;
}

/* A record of the continued file ended: note its row's step.  -1 when out
 * of memory. */
static int scan_record_end(csv *c, rec_scan *r)
{
    int same = c->layout == LAYOUT_LONG && c->nseen > 0 && r->sn == r->psn && r->tn == r->ptn &&
               memcmp(r->step, r->pstep, r->sn) == 0 && memcmp(r->time, r->ptime, r->tn) == 0;
    if (!same) {
        r->step[r->sn] = '\0';
        int64_t step = strtoll(r->step, NULL, 10);
        if (tropt_host_grow(c->h, (void **)&c->seen, &c->seen_cap, c->nseen + 1, sizeof *c->seen) !=
            0)
            return -1;
        if (c->nseen > 0 && step < c->seen[c->nseen - 1])
            r->sorted = 0;
        c->seen[c->nseen++] = step;
        csv_stat_add(&c->st, step);
        memcpy(r->pstep, r->step, r->sn);
        memcpy(r->ptime, r->time, r->tn);
        r->psn = r->sn;
        r->ptn = r->tn;
    }
    r->field = r->sn = r->tn = 0;
    return 0;
}

typedef struct header_check {
    size_t i;
    int bad;
} header_check;

static int header_field(csv *c, const char *name, void *ud)
{
    header_check *hc = ud;
    static const char *const fixed[] = {"step", "time", "key", "value"};
    size_t nfixed = c->layout == LAYOUT_LONG ? 4 : 2;
    if (hc->i < nfixed) {
        hc->bad |= strcmp(name, fixed[hc->i]) != 0;
    } else if (c->layout == LAYOUT_LONG) {
        hc->bad = 1;
    } else if (key_col(c, csv_column_key(name)) == (size_t)-1) {
        return -1;
    }
    hc->i++;
    return 0;
}

/* Open metrics.csv (it exists) for reading and appending; *st its stat. */
static int append_file_open(csv *c, struct stat *st)
{
    const tropt_host *h = c->h;
    c->fd = openat(c->rfd, c->mname, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (c->fd < 0 && errno == ELOOP)
        return h->error(TROPT_EBACKEND,
                        "refusing '%s': it is a symbolic link (the csv backend never writes "
                        "through one)",
                        c->metrics_path);
    if (c->fd < 0)
        return h->error(TROPT_EBACKEND, "cannot open '%s': %s", c->metrics_path, strerror(errno));
    if (fstat(c->fd, st) != 0)
        return h->error(TROPT_EBACKEND, "cannot stat '%s': %s", c->metrics_path, strerror(errno));
    if (!S_ISREG(st->st_mode))
        return h->error(TROPT_EBACKEND, "refusing '%s': not a regular file", c->metrics_path);
    return TROPT_OK;
}

/* Where the scan of metrics.csv found things. */
typedef struct file_scan {
    off_t hdr_end;    /* the end of the header record; -1: none */
    off_t good_end;   /* the end of the last whole record */
    uint64_t records; /* rows after the header */
    int inq;          /* inside a quoted cell */
    rec_scan rs;
} file_scan;

/* One chunk of the file: record ends are LFs outside quotes (every CR and
 * LF inside a cell is quoted).  0, or -1 out of memory. */
static int scan_chunk(csv *c, file_scan *fs, const char *p, ssize_t got, off_t off)
{
    for (ssize_t i = 0; i < got; i++) {
        char ch = p[i];
        if (ch == '"') {
            fs->inq = !fs->inq;
        } else if (fs->inq) {
            continue;
        } else if (ch == '\n') {
            off_t end = off + i + 1;
            if (fs->hdr_end < 0) {
                fs->hdr_end = end;
                fs->rs.field = fs->rs.sn = fs->rs.tn = 0;
            } else {
                fs->records++;
                if (scan_record_end(c, &fs->rs) != 0)
                    return -1;
            }
            fs->good_end = end;
        } else {
            scan_char(&fs->rs, ch);
        }
    }
    return 0;
}

/* Read the whole file once, noting the header, the rows' steps and the end
 * of the last whole record. */
static int scan_file(csv *c, off_t size, file_scan *fs)
{
    enum { CHUNK = 1 << 16 };
    if (tev_buf_reserve(&c->scratch, CHUNK) != 0)
        return oom(c);
    memset(fs, 0, sizeof *fs);
    fs->hdr_end = -1;
    fs->rs.sorted = 1;
    for (off_t off = 0; off < size;) {
        ssize_t got = pread(c->fd, c->scratch.data, CHUNK, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return c->h->error(TROPT_EBACKEND, "cannot read '%s': %s", c->metrics_path,
                               got < 0 ? strerror(errno) : "file shrank");
        if (scan_chunk(c, fs, c->scratch.data, got, off) != 0)
            return oom(c);
        off += got;
    }
    if (fs->hdr_end < 2 || fs->hdr_end > (1 << 26))
        return c->h->error(TROPT_EBACKEND, "'%s' has no header; not continuing it",
                           c->metrics_path);
    return TROPT_OK;
}

/* The header read back into the key table; a header of another layout or
 * another program refused. */
static int read_header(csv *c, off_t hdr_end)
{
    const tropt_host *h = c->h;
    char *hdr = h->malloc((size_t)hdr_end);
    if (!hdr)
        return oom(c);
    int rc = TROPT_OK;
    header_check hc = {0, 0};
    if (pread(c->fd, hdr, (size_t)hdr_end, 0) != hdr_end) {
        rc = h->error(TROPT_EBACKEND, "cannot read '%s': %s", c->metrics_path, strerror(errno));
    } else if (split_record(c, hdr, (size_t)hdr_end - 2, header_field, &hc) != 0) {
        rc = oom(c);
    } else if (hc.bad || hc.i < 2) {
        rc = h->error(TROPT_EBACKEND,
                      "'%s' is not a %s metrics.csv of this backend; not continuing it",
                      c->metrics_path, c->layout == LAYOUT_LONG ? "long" : "wide");
    }
    h->free(hdr);
    return rc;
}

/* The rows written, sorted for seen_take. */
static int seen_prepare(csv *c, int sorted)
{
    if (c->nseen == 0)
        return TROPT_OK;
    if (!sorted)
        qsort(c->seen, c->nseen, sizeof *c->seen, cmp_i64);
    if (!(c->seen_used = c->h->malloc(c->nseen)))
        return oom(c);
    memset(c->seen_used, 0, c->nseen);
    c->seen_left = c->nseen;
    return TROPT_OK;
}

/*
 * Rows a killed writer had deferred: kept aside under a name no earlier
 * writer's rows hold (metrics.pending.old.csv, then metrics.pending.old.1.csv,
 * ...), never lost: the first deferral of this writer removes
 * metrics.pending.csv, so a file that cannot be moved aside fails the run's
 * init instead.
 */
static int pending_aside(csv *c)
{
    struct stat pst;
    if (fstatat(c->rfd, c->pname, &pst, AT_SYMLINK_NOFOLLOW) != 0)
        return TROPT_OK;
    char old[80];
    snprintf(old, sizeof old, "%s.pending.old.csv", c->mbase);
    int e = EEXIST;
    for (int k = 1; k <= 1000 && e == EEXIST; k++) {
        e = linkat(c->rfd, c->pname, c->rfd, old, 0) == 0 ? 0 : errno;
        if (e == EEXIST)
            snprintf(old, sizeof old, "%s.pending.old.%d.csv", c->mbase, k);
    }
    if (e == 0 && unlinkat(c->rfd, c->pname, 0) != 0)
        e = errno;
    if (e != 0)
        return c->h->error(TROPT_EBACKEND,
                           "cannot move the deferred rows of an earlier writer, '%s', aside: %s",
                           c->pending_path, strerror(e));
    TROPT_HOST_LOG(c->h, TROPT_LEVEL_WARNING, "deferred rows of an earlier writer kept in '%s/%s'",
                   c->run_dir, old);
    return TROPT_OK;
}

/*
 * metrics.csv exists already: a run replayed into this folder again (run
 * ids are unique otherwise).  Continue it: read its header back into the
 * key table, cut a torn last record, and note the step of every row so
 * that the rows already written are skipped when they are logged again
 * (each row once, whatever the order of the steps: a run may log a step
 * twice, or go back to an earlier step after a restart).
 */
int csv_append_open(csv *c)
{
    const tropt_host *h = c->h;
    struct stat st;
    file_scan fs;
    int rc = append_file_open(c, &st);
    if (rc == TROPT_OK)
        rc = scan_file(c, st.st_size, &fs);
    if (rc == TROPT_OK)
        rc = read_header(c, fs.hdr_end);
    if (rc == TROPT_OK)
        rc = seen_prepare(c, fs.rs.sorted);
    if (rc != TROPT_OK)
        return rc;
    if (fs.good_end < st.st_size) {
        TROPT_HOST_LOG(h, TROPT_LEVEL_WARNING, "'%s': cutting a torn last record (%lld bytes)",
                       c->metrics_path, (long long)(st.st_size - fs.good_end));
        if (ftruncate(c->fd, fs.good_end) != 0)
            return h->error(TROPT_EBACKEND, "cannot truncate '%s': %s", c->metrics_path,
                            strerror(errno));
    }
    c->size = fs.good_end;
    c->st.bytes = (int64_t)fs.good_end;
    c->st.inode = (int64_t)st.st_ino;
    c->hdr_len = (size_t)fs.hdr_end;
    c->ncols_disk = c->nkeys;
    c->rows_disk = fs.records;
    rc = pending_aside(c);
    if (rc != TROPT_OK)
        return rc;
    TROPT_HOST_LOG(h, TROPT_LEVEL_DEBUG,
                   "continuing '%s': %zu rows in it are skipped when logged again", c->metrics_path,
                   c->nseen);
    return TROPT_OK;
}
