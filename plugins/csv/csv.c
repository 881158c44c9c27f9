/*
 * plugins/csv - files a spreadsheet or pandas opens as they are.
 *
 * One folder per run, <dir>/<experiment>/<run_id>/, holding
 *   metrics.csv   wide (step,time,<keys in first-seen order>) or long
 *                 (step,time,key,value), RFC 4180, CRLF record ends;
 *   config.json   the merged run config ({} when the run has none);
 *   summary.json  the summary given to finish ({} when none);
 *   run.json      the run's identity and status, rewritten at finish.
 * See README.md for the options, the flush policy and the bound on
 * header rewrites.
 *
 * How the wide file grows.  Rows are queued in memory as preformatted cell
 * texts and reach the file every `flush_every` rows (default 1: before log
 * returns).  Rows whose keys all have a column are appended with one
 * write(2).  A key without a column needs a new header, so the file is
 * rewritten: a temporary file in the run folder gets the new header, the old
 * records with one empty cell per new column, and the queued rows; it is
 * fsync'd (fsync=normal|full) and renamed over metrics.csv, so a reader sees
 * the old file or the new one, never a mix.
 *
 * The bound.  A rewrite costs the whole file, so a run whose keys keep
 * appearing would be quadratic.  A rewrite is done at once only while the
 * bytes rewritten so far, W, are at most rewrite_factor (c) times the new
 * file's size S: W <= c*S.  Otherwise the rows go, durably and in order, to
 * metrics.pending.csv (long layout) until the file has grown enough or a
 * flush/finish barrier folds them in.  So automatic rewrites never total
 * more than (c+1) times the final size of metrics.csv, plus one file size per
 * barrier that finds deferred rows (at most one at finish).
 */
#include "csv_read.h"
#include "csv_text.h"
#include "tropt_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    OPT_DIR,
    OPT_LAYOUT,
    OPT_FLUSH_EVERY,
    OPT_FLUSH_INTERVAL,
    OPT_FSYNC,
    OPT_REWRITE_FACTOR,
    OPT_PENDING_MAX,
    OPT_RETRY_INTERVAL
};
enum { LAYOUT_WIDE, LAYOUT_LONG };
enum { SYNC_OFF, SYNC_NORMAL, SYNC_FULL };

static const char *const layout_choices[] = {"wide", "long", NULL};
static const char *const fsync_choices[] = {"off", "normal", "full", NULL};

static const tropt_option_def csv_options[] = {
    {"dir", TROPT_OPT_PATH, 0, "tropt-logs", NULL, 0, 0,
     "folder holding <experiment>/<run_id>/metrics.csv, config.json, summary.json"},
    {"layout", TROPT_OPT_ENUM, 0, "wide", layout_choices, 0, 0,
     "wide: step,time,<one column per key>; long: step,time,key,value (never rewrites)"},
    {"flush_every", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "1", NULL, 1, 1e9,
     "write queued rows to the file every N rows (1: each row before log returns)"},
    {"flush_interval", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "0", NULL, 0, 86400000.0,
     "also write queued rows at the first log once the oldest is this old (0: off)"},
    {"fsync", TROPT_OPT_ENUM, 0, "normal", fsync_choices, 0, 0,
     "off: never; normal: before each rename and at flush/finish; full: after every write"},
    {"rewrite_factor", TROPT_OPT_DOUBLE, TROPT_OPT_HAS_RANGE, "4", NULL, 0, 1e9,
     "new keys' header rewrites cost at most (this+2) x the final file size; 0: no bound"},
    {"pending_max", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "67108864", NULL, 4096, 1099511627776.0,
     "bytes of rows held in memory until written; past it a failing write drops the step"},
    {"retry_interval", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "1s", NULL, 0, 86400000.0,
     "after a failed write, log retries at most this often (flush/finish always retry)"},
    {NULL, 0, 0, NULL, NULL, 0, 0, NULL},
};

/*
 * Closing the replaced metrics.csv is the kernel's eviction of an unlinked
 * inode: its page cache dropped and its blocks freed, synchronously in
 * close(2), about as long as writing the file (0.12 s of the 100k-step
 * csv-newkey bench).  Nothing waits for it, so a helper thread, started
 * at the first replacement, does those closes.
 */
enum { CLOSER_MAX = 16 };
typedef struct closer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started, stop, n;
    int fds[CLOSER_MAX];
} closer;

static void *closer_main(void *arg)
{
    closer *cl = arg;
    int fds[CLOSER_MAX];
    pthread_mutex_lock(&cl->mu);
    for (;;) {
        while (cl->n == 0 && !cl->stop)
            pthread_cond_wait(&cl->cv, &cl->mu);
        if (cl->n == 0)
            break; /* stop, and nothing left */
        int n = cl->n;
        memcpy(fds, cl->fds, (size_t)n * sizeof *fds);
        cl->n = 0;
        pthread_mutex_unlock(&cl->mu);
        for (int i = 0; i < n; i++)
            close(fds[i]);
        pthread_mutex_lock(&cl->mu);
    }
    pthread_mutex_unlock(&cl->mu);
    return NULL;
}

/* Close fd, on the helper thread when it runs and has room. */
static void close_later(closer *cl, int fd)
{
    pthread_mutex_lock(&cl->mu);
    if (!cl->started && pthread_create(&cl->th, NULL, closer_main, cl) == 0)
        cl->started = 1;
    if (cl->started && cl->n < CLOSER_MAX) {
        cl->fds[cl->n++] = fd;
        pthread_cond_signal(&cl->cv);
        fd = -1;
    }
    pthread_mutex_unlock(&cl->mu);
    if (fd >= 0)
        close(fd);
}

/* Wait for every pending close and end the thread. */
static void closer_stop(closer *cl)
{
    pthread_mutex_lock(&cl->mu);
    int started = cl->started;
    cl->stop = 1;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
    if (started)
        pthread_join(cl->th, NULL);
    cl->started = cl->stop = 0;
}

/* A queued row.  Its text in the arena is the record it makes when its
 * cells fill the columns in order: "step,time,v1,...,vn\r\n"; head_off and
 * head_len mark "step,time", each cell its value (after its comma). */
typedef struct row {
    size_t head_off, head_len;
    size_t cell0, ncells;
    size_t end;   /* arena offset after the CRLF */
    size_t bytes; /* head + cell texts, without separators */
    int ordered;  /* cell k is column k */
} row;

typedef struct cell {
    size_t col, off, len;
} cell;

typedef struct csv {
    const tropt_host *h;
    /* options */
    char *dir;
    int layout;
    int64_t flush_every;
    double flush_interval_s;
    int sync;
    double rewrite_factor;
    uint64_t pending_max;
    double retry_interval_s;

    /* the last write of queued rows failed (disk full...): at fail_at, with
     * errno fail_errno; log retries only retry_interval_s later */
    int failing, fail_errno;
    double fail_at;

    /* the open run */
    int open;
    char *run_dir, *metrics_path, *pending_path;
    int rfd;        /* the run folder, opened without following a link; every
                     * file of the run is opened relative to it */
    char *tmp_path; /* <run_dir>/<tmp_name>, naming it in messages */
    size_t tmp_dir_len;
    char tmp_name[128]; /* .<file>.<random>.tmp, the file being replaced */
    int fd;             /* metrics.csv */
    off_t size;         /* its bytes, all complete records */
    size_t hdr_len;     /* bytes of its header record */
    size_t ncols_disk;  /* key columns in its header */
    uint64_t rows_disk;
    int pfd; /* metrics.pending.csv, or -1 */
    off_t psize;
    uint64_t steps, rewrites, rewritten;
    /* A continued metrics.csv (the run replayed again): the step of each of
     * its rows, sorted, and which of them a log of this run has matched
     * already.  A logged step matching a row not matched yet is that row,
     * in the file already, and is skipped; the arrays are freed once every
     * row is matched. */
    int64_t *seen;
    unsigned char *seen_used;
    size_t nseen, seen_cap, seen_left;
    json_t *meta; /* run.json */

    /* keys in first-seen order, and a hash of them (slot = index + 1);
     * keys[i] is "<key>\0<key as a CSV cell>", kcell_len[i] the cell's
     * length (the long layout writes it) */
    char **keys;
    size_t nkeys, kcap;
    size_t *kcell_len;
    size_t kcell_cap;
    uint64_t keybytes; /* header bytes of the key columns, commas included */
    size_t *slots;
    size_t nslots;

    /* queued rows: [0, ndeferred) are in metrics.pending.csv already;
     * nfull of them are ordered with one cell per known key */
    row *rows;
    size_t nrows, rcap, ndeferred, nfull;
    cell *cells;
    size_t ncells, ccap;
    csv_buf arena;
    /* the queued rows [0, fmt_rows) as records of metrics.csv (fmt_ncols
     * key columns), kept when a write fails so a retry formats only the
     * rows queued since */
    csv_buf fmt;
    size_t fmt_rows, fmt_ncols;
    uint64_t qbytes; /* sum of rows[].bytes */
    double queued_since;

    closer cl; /* closes replaced files */

    /* scratch */
    csv_buf out, scratch;
    size_t *colmap; /* column -> cell index + 1, for the row being written */
    size_t colmap_cap;
    size_t *hint; /* field position -> the column its key had last step */
    size_t hint_n, hint_cap;
} csv;

/* ---- small helpers ---------------------------------------------------- */

static int oom(csv *c)
{
    return c->h->error(TROPT_ENOMEM, "out of memory");
}

static char *dupstr(csv *c, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = c->h->malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *joinpath(csv *c, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = c->h->malloc(na + nb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

/* Make room for need elements of elem bytes in *p (capacity *cap, doubled
 * as needed).  -1 when out of memory or when the size would overflow. */
static int grow(csv *c, void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    if (elem == 0 || need > SIZE_MAX / elem)
        return -1;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n = n > SIZE_MAX / 2 / elem ? need : n * 2;
    void *q = c->h->realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int write_all(int fd, const char *p, size_t n, off_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* mkdir -p, with a message naming the path that failed. */
static int make_dirs(csv *c, const char *path)
{
    char *p = dupstr(c, path);
    if (!p)
        return oom(c);
    int rc = TROPT_OK;
    size_t n = strlen(p);
    for (size_t i = 1; i <= n && rc == TROPT_OK; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        if (p[i - 1] == '/')
            continue;
        char save = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0) {
            struct stat st;
            int e = errno;
            if (e == EEXIST && stat(p, &st) == 0) {
                if (!S_ISDIR(st.st_mode))
                    rc = c->h->error(TROPT_EBACKEND,
                                     "cannot create folder '%s': '%s' exists and is not a folder",
                                     path, p);
            } else {
                rc = c->h->error(TROPT_EBACKEND, "cannot create folder '%s': %s: %s", path, p,
                                 strerror(e));
            }
        }
        p[i] = save;
    }
    c->h->free(p);
    return rc;
}

/*
 * Open the folder `name` inside the folder open as parent (created 0777 &
 * ~umask when missing), never following a symbolic link there: a link
 * planted where a run's folder goes (run ids are known in advance for
 * `tropt replay`) would make the writer put its files in the link's
 * target.  path names the folder in messages.  On success *out is the
 * folder's descriptor; otherwise *out is -1 and the error is returned.
 */
static int open_subdir(csv *c, int parent, const char *name, const char *path, int *out)
{
    const tropt_host *h = c->h;
    *out = -1;
    if (mkdirat(parent, name, 0777) != 0 && errno != EEXIST)
        return h->error(TROPT_EBACKEND, "cannot create folder '%s': %s", path, strerror(errno));
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
            return h->error(TROPT_EBACKEND,
                            "refusing folder '%s': it is a symbolic link (the csv backend "
                            "never writes through one)",
                            path);
        if (e == ENOTDIR)
            return h->error(TROPT_EBACKEND,
                            "cannot create folder '%s': '%s' exists and is not a folder", path,
                            path);
        return h->error(TROPT_EBACKEND, "cannot open folder '%s': %s", path, strerror(e));
    }
    *out = fd;
    return TROPT_OK;
}

/*
 * The folder name for an experiment: '/', '\\' and control characters
 * become '_', leading dots become '_' (so never "", "." or ".." nor a
 * hidden folder), and the name is cut to 200 bytes at a UTF-8 boundary.
 */
static char *folder_name(csv *c, const char *exp)
{
    size_t n = strlen(exp);
    if (n > 200) {
        n = 200;
        while (n > 0 && ((unsigned char)exp[n] & 0xC0) == 0x80)
            n--;
    }
    char *s = c->h->malloc(n + 2);
    if (!s)
        return NULL;
    int leading = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)exp[i];
        if (ch == '/' || ch == '\\' || ch < 0x20 || ch == 0x7f || (leading && ch == '.'))
            ch = '_';
        else
            leading = 0;
        s[i] = (char)ch;
    }
    if (n == 0)
        s[n++] = '_';
    s[n] = '\0';
    return s;
}

/* Column name of a key: a key matching _*(step|time) gets one more leading
 * '_', so the fixed step and time columns stay unique and the mapping stays
 * one-to-one. */
static int reserved_key(const char *k)
{
    while (*k == '_')
        k++;
    return strcmp(k, "step") == 0 || strcmp(k, "time") == 0;
}

/* Bytes of s as a CSV cell (see csv_put_cell). */
static uint64_t cell_len(const char *s)
{
    uint64_t n = 0, quote = *s == '\0';
    for (; *s; s++, n++) {
        if (*s == '"')
            n++;
        if (*s == '"' || *s == ',' || *s == '\r' || *s == '\n')
            quote = 1;
    }
    return n + 2 * quote;
}

/* ---- keys --------------------------------------------------------------- */

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static int rehash(csv *c, size_t nslots)
{
    size_t *slots = c->h->malloc(nslots * sizeof *slots);
    if (!slots)
        return -1;
    memset(slots, 0, nslots * sizeof *slots);
    for (size_t i = 0; i < c->nkeys; i++) {
        size_t j = hash_str(c->keys[i]) & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = i + 1;
    }
    c->h->free(c->slots);
    c->slots = slots;
    c->nslots = nslots;
    return 0;
}

/* The column of key k, adding it when new.  (size_t)-1 when out of memory. */
static size_t key_col(csv *c, const char *k)
{
    if ((c->nkeys + 1) * 2 > c->nslots && rehash(c, c->nslots ? c->nslots * 2 : 64) != 0)
        return (size_t)-1;
    size_t j = hash_str(k) & (c->nslots - 1);
    while (c->slots[j]) {
        if (strcmp(c->keys[c->slots[j] - 1], k) == 0)
            return c->slots[j] - 1;
        j = (j + 1) & (c->nslots - 1);
    }
    if (grow(c, (void **)&c->keys, &c->kcap, c->nkeys + 1, sizeof *c->keys) != 0 ||
        grow(c, (void **)&c->kcell_len, &c->kcell_cap, c->nkeys + 1, sizeof *c->kcell_len) != 0 ||
        grow(c, (void **)&c->colmap, &c->colmap_cap, c->nkeys + 1, sizeof *c->colmap) != 0)
        return (size_t)-1;
    size_t n = strlen(k);
    csv_buf cellform = {0};
    if (csv_put_cell(c->h, &cellform, k, n) != 0)
        return (size_t)-1;
    char *d = c->h->malloc(n + 1 + cellform.n + 1);
    if (d) {
        memcpy(d, k, n + 1);
        memcpy(d + n + 1, cellform.p, cellform.n + 1);
        c->kcell_len[c->nkeys] = cellform.n;
    }
    csv_buf_free(c->h, &cellform);
    if (!d)
        return (size_t)-1;
    c->colmap[c->nkeys] = 0;
    c->keys[c->nkeys] = d;
    c->keybytes += 1 + (uint64_t)reserved_key(k) + cell_len(k);
    c->slots[j] = ++c->nkeys;
    return c->nkeys - 1;
}

static void keys_clear(csv *c)
{
    for (size_t i = 0; i < c->nkeys; i++)
        c->h->free(c->keys[i]);
    c->nkeys = 0;
    c->keybytes = 0;
    if (c->slots)
        memset(c->slots, 0, c->nslots * sizeof *c->slots);
}

/* ---- rows ----------------------------------------------------------------- */

static void queue_clear(csv *c)
{
    c->nrows = c->ncells = c->ndeferred = c->nfull = 0;
    c->arena.n = 0;
    c->qbytes = 0;
    c->fmt.n = 0;
    c->fmt_rows = 0;
    /* a large buffer of a disk-full episode is not kept for the run */
    if (c->fmt.cap > (1u << 20))
        csv_buf_free(c->h, &c->fmt);
}

/* Bytes of memory the queued rows hold (what pending_max bounds). */
static uint64_t pending_bytes(const csv *c)
{
    return (uint64_t)c->arena.n + (uint64_t)c->fmt.n + (uint64_t)c->nrows * sizeof(row) +
           (uint64_t)c->ncells * sizeof(cell);
}

/* The column of the key at position i of a step: a step usually logs the
 * keys of the step before in the same order, so the column that position
 * had last time is tried first (one strcmp) before the hash. */
static size_t field_col(csv *c, size_t i, const char *key)
{
    size_t col = c->hint[i];
    if (col < c->nkeys && strcmp(c->keys[col], key) == 0)
        return col;
    col = key_col(c, key);
    c->hint[i] = col;
    return col;
}

/* Format one step into the queue: the record text, its cells marked. */
static int queue_row(csv *c, int64_t step, double time, const tropt_field *f, size_t n)
{
    const tropt_host *h = c->h;
    csv_buf *a = &c->arena;
    size_t arena0 = a->n, cells0 = c->ncells;
    if (grow(c, (void **)&c->rows, &c->rcap, c->nrows + 1, sizeof *c->rows) != 0 ||
        grow(c, (void **)&c->cells, &c->ccap, c->ncells + n, sizeof *c->cells) != 0 ||
        grow(c, (void **)&c->hint, &c->hint_cap, n, sizeof *c->hint) != 0)
        return oom(c);
    if (n > c->hint_n) { /* positions never seen: no hint yet */
        for (size_t i = c->hint_n; i < n; i++)
            c->hint[i] = (size_t)-1;
        c->hint_n = n;
    }
    if (csv_buf_reserve(h, a, 2 * CSV_NUM_MAX) != 0)
        return oom(c);
    row *r = &c->rows[c->nrows];
    r->head_off = a->n;
    char *o = a->p + a->n;
    o += csv_put_i64(o, step);
    *o++ = ',';
    o += h->format_real(o, CSV_NUM_MAX, time);
    a->n = (size_t)(o - a->p);
    r->head_len = a->n - r->head_off;
    r->bytes = r->head_len;
    r->cell0 = c->ncells;
    r->ordered = 1;
    for (size_t i = 0; i < n; i++) {
        size_t col = field_col(c, i, f[i].key);
        if (col == (size_t)-1)
            goto nomem;
        cell *x = &c->cells[c->ncells++];
        x->col = col;
        r->ordered &= col == i;
        if (a->cap - a->n < CSV_NUM_MAX + 2 && csv_buf_reserve(h, a, CSV_NUM_MAX + 1) != 0)
            goto nomem;
        a->p[a->n++] = ',';
        x->off = a->n;
        if (f[i].type == TROPT_REAL && f[i].v.r != 0) {
            a->n += h->format_real(a->p + a->n, CSV_NUM_MAX, f[i].v.r);
        } else if (f[i].type == TROPT_INT) {
            a->n += csv_put_i64(a->p + a->n, f[i].v.i);
        } else if (csv_put_value(h, a, &f[i], &c->scratch) != 0) {
            goto nomem;
        }
        x->len = a->n - x->off;
        r->bytes += x->len;
    }
    if (csv_buf_put(h, a, "\r\n", 2) != 0)
        goto nomem;
    r->end = a->n;
    r->ncells = c->ncells - r->cell0;
    c->nfull += r->ordered && r->ncells == c->nkeys;
    c->qbytes += r->bytes;
    c->nrows++;
    return TROPT_OK;
nomem:
    a->n = arena0;
    c->ncells = cells0;
    return oom(c);
}

static int put_header(csv *c, csv_buf *b)
{
    const tropt_host *h = c->h;
    if (csv_buf_puts(h, b, c->layout == LAYOUT_LONG ? "step,time,key,value" : "step,time") != 0)
        return -1;
    for (size_t i = 0; c->layout == LAYOUT_WIDE && i < c->nkeys; i++) {
        if (csv_buf_putc(h, b, ',') != 0 ||
            (reserved_key(c->keys[i]) && csv_buf_putc(h, b, '_') != 0) ||
            csv_put_cell(h, b, c->keys[i], strlen(c->keys[i])) != 0)
            return -1;
    }
    return csv_buf_put(h, b, "\r\n", 2);
}

/* Rows [from, to) as wide records of ncols key columns. */
static int put_wide_rows(csv *c, csv_buf *b, size_t from, size_t to, size_t ncols)
{
    const tropt_host *h = c->h;
    const char *a = c->arena.p;
    for (size_t i = from; i < to; i++) {
        const row *r = &c->rows[i];
        if (csv_buf_reserve(h, b, r->bytes + ncols + 2) != 0)
            return -1;
        if (r->ordered) { /* its text, then the columns it lacks */
            size_t len = r->end - 2 - r->head_off;
            char *o = b->p + b->n;
            memcpy(o, a + r->head_off, len);
            o += len;
            for (size_t col = r->ncells; col < ncols; col++)
                *o++ = ',';
            *o++ = '\r';
            *o++ = '\n';
            b->n = (size_t)(o - b->p);
            continue;
        }
        for (size_t k = 0; k < r->ncells; k++)
            c->colmap[c->cells[r->cell0 + k].col] = r->cell0 + k + 1;
        char *o = b->p + b->n;
        memcpy(o, a + r->head_off, r->head_len);
        o += r->head_len;
        for (size_t col = 0; col < ncols; col++) {
            *o++ = ',';
            if (c->colmap[col]) {
                const cell *x = &c->cells[c->colmap[col] - 1];
                memcpy(o, a + x->off, x->len);
                o += x->len;
            }
        }
        *o++ = '\r';
        *o++ = '\n';
        b->n = (size_t)(o - b->p);
        for (size_t k = 0; k < r->ncells; k++)
            c->colmap[c->cells[r->cell0 + k].col] = 0;
    }
    return 0;
}

/* Rows [from, to) as long records: step,time,key,value per cell. */
static int put_long_rows(csv *c, csv_buf *b, size_t from, size_t to)
{
    const tropt_host *h = c->h;
    const char *a = c->arena.p;
    for (size_t i = from; i < to; i++) {
        const row *r = &c->rows[i];
        for (size_t k = 0; k < r->ncells; k++) {
            const cell *x = &c->cells[r->cell0 + k];
            const char *key = c->keys[x->col];
            size_t klen = c->kcell_len[x->col];
            const char *kcell = key + strlen(key) + 1;
            size_t need = r->head_len + klen + x->len + 4;
            if (b->cap - b->n < need + 1 && csv_buf_reserve(h, b, need) != 0)
                return -1;
            char *o = b->p + b->n;
            memcpy(o, a + r->head_off, r->head_len);
            o += r->head_len;
            *o++ = ',';
            memcpy(o, kcell, klen);
            o += klen;
            *o++ = ',';
            memcpy(o, a + x->off, x->len);
            o += x->len;
            *o++ = '\r';
            *o++ = '\n';
            b->n = (size_t)(o - b->p);
        }
    }
    if (b->p)
        b->p[b->n] = '\0';
    return 0;
}

/* ---- files ---------------------------------------------------------------- */

/* Append b to fd at *size; on failure cut the file back to *size so that it
 * keeps ending with a complete record. */
static int append(csv *c, int fd, off_t *size, const char *path, const csv_buf *b)
{
    if (b->n == 0)
        return TROPT_OK;
    if (write_all(fd, b->p, b->n, *size) != 0) {
        int e = errno;
        c->fail_errno = e;
        if (ftruncate(fd, *size) != 0) {
            /* nothing more to do: the message reports the first cause */
        }
        return c->h->error(TROPT_EBACKEND, "cannot write '%s': %s", path, strerror(e));
    }
    if (c->sync == SYNC_FULL && fdatasync(fd) != 0)
        return c->h->error(TROPT_EBACKEND, "cannot sync '%s': %s", path, strerror(errno));
    *size += (off_t)b->n;
    return TROPT_OK;
}

/* Create a new temporary file in the run folder for <run_dir>/name, under
 * an unpredictable name, exclusively (see tropt_tmp_create): c->tmp_name
 * is its name, c->tmp_path its path for messages.  -1 with errno set when
 * it cannot be created. */
static int open_tmp(csv *c, const char *name)
{
    int fd = tropt_tmp_create(c->rfd, name, c->tmp_name, sizeof c->tmp_name);
    int e = errno;
    if (fd < 0)
        snprintf(c->tmp_name, sizeof c->tmp_name, ".%s.<random>.tmp", name);
    snprintf(c->tmp_path + c->tmp_dir_len, sizeof c->tmp_name + 1, "/%s", c->tmp_name);
    errno = e;
    return fd;
}

/* Copy the records of the current metrics.csv (after its header) into the
 * temporary file, adding k empty cells at the end of each record.  Record
 * ends are CRLF outside quotes; our cells quote every CR and LF. */
static int copy_widened(csv *c, int tfd, off_t *tsize, size_t k)
{
    const tropt_host *h = c->h;
    enum { CHUNK = 1 << 16 };
    if (csv_buf_reserve(h, &c->scratch, CHUNK + k) != 0)
        return oom(c);
    char *in = c->scratch.p;
    char *commas = in + CHUNK;
    memset(commas, ',', k);
    int inq = 0;
    off_t off = (off_t)c->hdr_len;
    c->out.n = 0;
    while (off < c->size) {
        size_t want = (size_t)(c->size - off) < CHUNK ? (size_t)(c->size - off) : CHUNK;
        ssize_t got = pread(c->fd, in, want, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return h->error(TROPT_EBACKEND, "cannot read '%s': %s", c->metrics_path,
                            got < 0 ? strerror(errno) : "file shrank");
        /* Room for the chunk and k commas per record end (at most one per
         * two bytes: CRLF), so the loop below copies without checks. */
        if (csv_buf_reserve(h, &c->out, (size_t)got + ((size_t)got / 2 + 1) * k) != 0)
            return oom(c);
        char *o = c->out.p + c->out.n;
        const char *p = in, *end = in + got;
        while (p < end) {
            /* The next quote bounds the stretch where a CR ends a record:
             * numeric rows have none, so memchr runs through whole chunks. */
            const char *q = memchr(p, '"', (size_t)(end - p));
            if (inq) {
                const char *stop = q ? q + 1 : end;
                memcpy(o, p, (size_t)(stop - p));
                o += stop - p;
                p = stop;
                inq = q == NULL;
                continue;
            }
            const char *lim = q ? q : end;
            const char *cr;
            while ((cr = memchr(p, '\r', (size_t)(lim - p))) != NULL) {
                memcpy(o, p, (size_t)(cr - p));
                o += cr - p;
                memcpy(o, commas, k);
                o += k;
                *o++ = '\r';
                p = cr + 1;
            }
            memcpy(o, p, (size_t)(lim - p));
            o += lim - p;
            p = lim;
            if (q) {
                *o++ = '"';
                p = q + 1;
                inq = 1;
            }
        }
        c->out.n = (size_t)(o - c->out.p);
        off += got;
        if (c->out.n >= CHUNK) {
            int rc = append(c, tfd, tsize, c->tmp_path, &c->out);
            if (rc != TROPT_OK)
                return rc;
            c->out.n = 0;
        }
    }
    int rc = append(c, tfd, tsize, c->tmp_path, &c->out);
    c->out.n = 0;
    return rc;
}

/*
 * Replace metrics.csv atomically by: the header of every known key, the
 * current records widened to it, and all queued rows.  On failure the old
 * file and the queue are untouched.
 */
static int rewrite(csv *c)
{
    const tropt_host *h = c->h;
    int rc;
    off_t tsize = 0;
    int tfd = open_tmp(c, "metrics.csv");
    if (tfd < 0)
        return h->error(TROPT_EBACKEND, "cannot create '%s': %s", c->tmp_path, strerror(errno));
    c->out.n = 0;
    if (put_header(c, &c->out) != 0) {
        rc = oom(c);
        goto fail;
    }
    size_t hdr_len = c->out.n;
    if ((rc = append(c, tfd, &tsize, c->tmp_path, &c->out)) != TROPT_OK)
        goto fail;
    if (c->fd >= 0 && c->size > (off_t)c->hdr_len &&
        (rc = copy_widened(c, tfd, &tsize, c->nkeys - c->ncols_disk)) != TROPT_OK)
        goto fail;
    c->out.n = 0;
    if (c->layout == LAYOUT_WIDE ? put_wide_rows(c, &c->out, 0, c->nrows, c->nkeys) != 0
                                 : put_long_rows(c, &c->out, 0, c->nrows) != 0) {
        rc = oom(c);
        goto fail;
    }
    if ((rc = append(c, tfd, &tsize, c->tmp_path, &c->out)) != TROPT_OK)
        goto fail;
    if (c->sync != SYNC_OFF && fsync(tfd) != 0) {
        rc = h->error(TROPT_EBACKEND, "cannot sync '%s': %s", c->tmp_path, strerror(errno));
        goto fail;
    }
    if (renameat(c->rfd, c->tmp_name, c->rfd, "metrics.csv") != 0) {
        rc = h->error(TROPT_EBACKEND, "cannot rename '%s' to '%s': %s", c->tmp_path,
                      c->metrics_path, strerror(errno));
        goto fail;
    }
    if (c->sync != SYNC_OFF && fsync(c->rfd) != 0)
        h->log(TROPT_LEVEL_WARNING, "csv: cannot sync folder '%s': %s", c->run_dir,
               strerror(errno));
    if (c->fd >= 0) {
        c->rewrites++;
        c->rewritten += (uint64_t)tsize;
        close_later(&c->cl, c->fd);
    }
    c->fd = tfd;
    c->size = tsize;
    c->hdr_len = hdr_len;
    c->ncols_disk = c->nkeys;
    c->rows_disk += c->nrows;
    queue_clear(c);
    if (c->pfd >= 0) {
        /* Its rows are in metrics.csv now.  Should this unlink fail, the
         * leftover file only repeats steps that metrics.csv holds. */
        close(c->pfd);
        c->pfd = -1;
        c->psize = 0;
        if (unlinkat(c->rfd, "metrics.pending.csv", 0) != 0)
            h->log(TROPT_LEVEL_WARNING, "csv: cannot remove '%s': %s", c->pending_path,
                   strerror(errno));
    }
    return TROPT_OK;
fail:
    close(tfd);
    unlinkat(c->rfd, c->tmp_name, 0);
    c->out.n = 0;
    return rc;
}

/* The size metrics.csv would have after a rewrite now (O(1): a run whose
 * rows are deferred calls this at every step). */
static uint64_t projected_size(const csv *c)
{
    return strlen("step,time\r\n") + c->keybytes + (uint64_t)(c->size - (off_t)c->hdr_len) +
           c->rows_disk * (c->nkeys - c->ncols_disk) + c->qbytes + c->nrows * (c->nkeys + 2);
}

/* Format the queued rows not formatted yet into c->fmt, as records of
 * metrics.csv (all of them again when the columns changed).  -1 when out
 * of memory (c->fmt then holds what it held). */
static int format_queued(csv *c)
{
    if (c->layout == LAYOUT_WIDE && c->fmt_ncols != c->nkeys) {
        c->fmt.n = 0;
        c->fmt_rows = 0;
    }
    size_t n0 = c->fmt.n;
    if (c->layout == LAYOUT_LONG
            ? put_long_rows(c, &c->fmt, c->fmt_rows, c->nrows) != 0
            : put_wide_rows(c, &c->fmt, c->fmt_rows, c->nrows, c->nkeys) != 0) {
        c->fmt.n = n0;
        return -1;
    }
    c->fmt_rows = c->nrows;
    c->fmt_ncols = c->nkeys;
    return 0;
}

/* Write the queued rows out.  force: a barrier, deferred rows are folded
 * into metrics.csv now. */
static int write_queued(csv *c, int force)
{
    const tropt_host *h = c->h;
    int rc;
    if (c->nrows == c->ndeferred && !(force && c->ndeferred))
        return TROPT_OK;
    c->out.n = 0;
    if (c->layout == LAYOUT_LONG) {
        if (format_queued(c) != 0)
            return oom(c);
        if ((rc = append(c, c->fd, &c->size, c->metrics_path, &c->fmt)) == TROPT_OK) {
            c->rows_disk += c->nrows;
            queue_clear(c);
        }
        return rc;
    }
    if (c->ndeferred == 0 && c->nkeys == c->ncols_disk) {
        const csv_buf *b = &c->out;
        csv_buf whole;
        if (c->nfull == c->nrows) {
            /* every row is its record already: write the arena as it is */
            whole.p = c->arena.p;
            whole.n = c->arena.n;
            whole.cap = 0;
            b = &whole;
        } else if (format_queued(c) != 0) {
            return oom(c);
        } else {
            b = &c->fmt;
        }
        if ((rc = append(c, c->fd, &c->size, c->metrics_path, b)) == TROPT_OK) {
            c->rows_disk += c->nrows;
            queue_clear(c);
        }
        return rc;
    }
    if (force || c->rewrite_factor <= 0 ||
        (double)c->rewritten <= c->rewrite_factor * (double)projected_size(c))
        return rewrite(c);
    /* Defer: the new rows go to metrics.pending.csv, in order. */
    if (c->pfd < 0) {
        /* A fresh file: whatever has this name (a leftover, a planted link)
         * is removed, never opened, so a link's target is never written. */
        if (unlinkat(c->rfd, "metrics.pending.csv", 0) != 0 && errno != ENOENT)
            return h->error(TROPT_EBACKEND, "cannot remove '%s': %s", c->pending_path,
                            strerror(errno));
        c->pfd = openat(c->rfd, "metrics.pending.csv",
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (c->pfd < 0)
            return h->error(TROPT_EBACKEND, "cannot create '%s': %s", c->pending_path,
                            strerror(errno));
        c->psize = 0;
        csv_buf hb = {"step,time,key,value\r\n", 21, 0};
        if ((rc = append(c, c->pfd, &c->psize, c->pending_path, &hb)) != TROPT_OK) {
            close(c->pfd);
            c->pfd = -1;
            unlinkat(c->rfd, "metrics.pending.csv", 0);
            return rc;
        }
    }
    c->out.n = 0;
    if (put_long_rows(c, &c->out, c->ndeferred, c->nrows) != 0)
        return oom(c);
    if ((rc = append(c, c->pfd, &c->psize, c->pending_path, &c->out)) == TROPT_OK)
        c->ndeferred = c->nrows;
    return rc;
}

/* Write text to <run_dir>/name atomically (temporary file, rename). */
static int write_file_atomic(csv *c, const char *name, const csv_buf *b)
{
    const tropt_host *h = c->h;
    char *path = joinpath(c, c->run_dir, name);
    if (!path)
        return oom(c);
    int rc = TROPT_OK;
    off_t sz = 0;
    int fd = open_tmp(c, name);
    if (fd < 0) {
        rc = h->error(TROPT_EBACKEND, "cannot create '%s': %s", c->tmp_path, strerror(errno));
        goto out;
    }
    if ((rc = append(c, fd, &sz, c->tmp_path, b)) != TROPT_OK)
        goto fail;
    if (c->sync != SYNC_OFF && fsync(fd) != 0) {
        rc = h->error(TROPT_EBACKEND, "cannot sync '%s': %s", c->tmp_path, strerror(errno));
        goto fail;
    }
    if (renameat(c->rfd, c->tmp_name, c->rfd, name) != 0) {
        rc = h->error(TROPT_EBACKEND, "cannot rename '%s' to '%s': %s", c->tmp_path, path,
                      strerror(errno));
        goto fail;
    }
    close(fd);
    if (c->sync != SYNC_OFF && fsync(c->rfd) != 0)
        h->log(TROPT_LEVEL_WARNING, "csv: cannot sync folder '%s': %s", c->run_dir,
               strerror(errno));
    goto out;
fail:
    close(fd);
    unlinkat(c->rfd, c->tmp_name, 0);
out:
    h->free(path);
    return rc;
}

static int write_json_file(csv *c, const char *name, const json_t *v)
{
    c->out.n = 0;
    json_t *empty = NULL;
    if (!v && !(v = empty = json_object()))
        return oom(c);
    int bad = csv_put_json(c->h, &c->out, v, 2) != 0 || csv_buf_putc(c->h, &c->out, '\n') != 0;
    json_decref(empty);
    if (bad)
        return oom(c);
    int rc = write_file_atomic(c, name, &c->out);
    c->out.n = 0;
    return rc;
}

/* ---- continuing a run folder ----------------------------------------------- */

/* Split one CSV record (without its CRLF) into fields, unquoting them;
 * calls fn for each.  -1 when fn fails or out of memory. */
static int split_record(csv *c, const char *s, size_t n, int (*fn)(csv *, const char *, void *),
                        void *ud)
{
    csv_buf f = {0};
    size_t i = 0;
    int rc = 0;
    for (;;) {
        f.n = 0;
        if (csv_buf_reserve(c->h, &f, 0) != 0) {
            rc = -1;
            break;
        }
        f.p[0] = '\0';
        if (i < n && s[i] == '"') {
            for (i++; i < n; i++) {
                if (s[i] == '"' && !(i + 1 < n && s[i + 1] == '"'))
                    break;
                if (s[i] == '"')
                    i++;
                if (csv_buf_putc(c->h, &f, s[i]) != 0)
                    rc = -1;
            }
            i++;
        }
        while (i < n && s[i] != ',')
            if (csv_buf_putc(c->h, &f, s[i++]) != 0)
                rc = -1;
        if (rc != 0 || fn(c, f.p, ud) != 0) {
            rc = -1;
            break;
        }
        if (i >= n)
            break;
        i++;
    }
    csv_buf_free(c->h, &f);
    return rc;
}

/* ---- rows already in a continued file ----------------------------------------- */

static void seen_free(csv *c)
{
    c->h->free(c->seen);
    c->h->free(c->seen_used);
    c->seen = NULL;
    c->seen_used = NULL;
    c->nseen = c->seen_cap = c->seen_left = 0;
}

/* 1 when a row of step `step` is in the continued file and not matched by
 * a log yet (it is marked matched now), 0 otherwise. */
static int seen_take(csv *c, int64_t step)
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
        if (grow(c, (void **)&c->seen, &c->seen_cap, c->nseen + 1, sizeof *c->seen) != 0)
            return -1;
        if (c->nseen > 0 && step < c->seen[c->nseen - 1])
            r->sorted = 0;
        c->seen[c->nseen++] = step;
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
    } else if (key_col(c, name + reserved_key(name)) == (size_t)-1) {
        return -1;
    }
    hc->i++;
    return 0;
}

/*
 * metrics.csv exists already: a run replayed into this folder again (run
 * ids are unique otherwise).  Continue it: read its header back into the
 * key table, cut a torn last record, and note the step of every row so
 * that the rows already written are skipped when they are logged again
 * (each row once, whatever the order of the steps: a run may log a step
 * twice, or go back to an earlier step after a restart).
 */
static int resume(csv *c)
{
    const tropt_host *h = c->h;
    int rc = TROPT_OK;
    c->fd = openat(c->rfd, "metrics.csv", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (c->fd < 0 && errno == ELOOP)
        return h->error(TROPT_EBACKEND,
                        "refusing '%s': it is a symbolic link (the csv backend never writes "
                        "through one)",
                        c->metrics_path);
    if (c->fd < 0)
        return h->error(TROPT_EBACKEND, "cannot open '%s': %s", c->metrics_path, strerror(errno));
    struct stat st;
    if (fstat(c->fd, &st) != 0)
        return h->error(TROPT_EBACKEND, "cannot stat '%s': %s", c->metrics_path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return h->error(TROPT_EBACKEND, "refusing '%s': not a regular file", c->metrics_path);
    /* record ends: LF outside quotes (every CR and LF inside a cell is quoted) */
    enum { CHUNK = 1 << 16 };
    if (csv_buf_reserve(h, &c->scratch, CHUNK) != 0)
        return oom(c);
    off_t off = 0, hdr_end = -1, good_end = 0;
    uint64_t records = 0;
    int inq = 0;
    rec_scan rs;
    memset(&rs, 0, sizeof rs);
    rs.sorted = 1;
    while (off < st.st_size) {
        ssize_t got = pread(c->fd, c->scratch.p, CHUNK, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return h->error(TROPT_EBACKEND, "cannot read '%s': %s", c->metrics_path,
                            got < 0 ? strerror(errno) : "file shrank");
        for (ssize_t i = 0; i < got; i++) {
            char ch = c->scratch.p[i];
            if (ch == '"') {
                inq = !inq;
            } else if (inq) {
                continue;
            } else if (ch == '\n') {
                off_t end = off + i + 1;
                if (hdr_end < 0) {
                    hdr_end = end;
                    rs.field = rs.sn = rs.tn = 0;
                } else {
                    records++;
                    if (scan_record_end(c, &rs) != 0)
                        return oom(c);
                }
                good_end = end;
            } else {
                scan_char(&rs, ch);
            }
        }
        off += got;
    }
    if (hdr_end < 2 || hdr_end > (1 << 26))
        return h->error(TROPT_EBACKEND, "'%s' has no header; not continuing it", c->metrics_path);
    /* the header */
    char *hdr = h->malloc((size_t)hdr_end);
    if (!hdr)
        return oom(c);
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
    if (rc != TROPT_OK)
        return rc;
    /* the rows written: sorted for seen_take */
    if (c->nseen > 0) {
        if (!rs.sorted)
            qsort(c->seen, c->nseen, sizeof *c->seen, cmp_i64);
        if (!(c->seen_used = h->malloc(c->nseen)))
            return oom(c);
        memset(c->seen_used, 0, c->nseen);
        c->seen_left = c->nseen;
    }
    if (good_end < st.st_size) {
        h->log(TROPT_LEVEL_WARNING, "csv: '%s': cutting a torn last record (%lld bytes)",
               c->metrics_path, (long long)(st.st_size - good_end));
        if (ftruncate(c->fd, good_end) != 0)
            return h->error(TROPT_EBACKEND, "cannot truncate '%s': %s", c->metrics_path,
                            strerror(errno));
    }
    c->size = good_end;
    c->hdr_len = (size_t)hdr_end;
    c->ncols_disk = c->nkeys;
    c->rows_disk = records;
    struct stat pst;
    if (fstatat(c->rfd, "metrics.pending.csv", &pst, AT_SYMLINK_NOFOLLOW) == 0) {
        /* rows a killed writer had deferred: keep them aside, never lose them */
        char *old = joinpath(c, c->run_dir, "metrics.pending.old.csv");
        if (!old || renameat(c->rfd, "metrics.pending.csv", c->rfd, "metrics.pending.old.csv") != 0)
            h->log(TROPT_LEVEL_WARNING, "csv: cannot move '%s' aside", c->pending_path);
        else
            h->log(TROPT_LEVEL_WARNING, "csv: deferred rows of an earlier writer kept in '%s'",
                   old);
        h->free(old);
    }
    h->log(TROPT_LEVEL_DEBUG, "csv: continuing '%s': %zu rows in it are skipped when logged again",
           c->metrics_path, c->nseen);
    return TROPT_OK;
}

/* ---- the run -------------------------------------------------------------- */

static void run_close(csv *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->pfd >= 0)
        close(c->pfd);
    if (c->rfd >= 0)
        close(c->rfd);
    c->fd = c->pfd = c->rfd = -1;
    const tropt_host *h = c->h;
    h->free(c->run_dir);
    h->free(c->metrics_path);
    h->free(c->pending_path);
    h->free(c->tmp_path);
    c->run_dir = c->metrics_path = c->pending_path = c->tmp_path = NULL;
    json_decref(c->meta);
    c->meta = NULL;
    keys_clear(c);
    queue_clear(c);
    seen_free(c);
    c->open = 0;
}

/*
 * Create and open the run folder <dir>/<folder>/<run_id> into c->rfd.  The
 * user's dir is created as needed (a link there is the user's choice and
 * followed); the experiment and run folders, which this backend creates,
 * are never followed when they are symbolic links: refused, named.
 */
static int open_run_folder(csv *c, const char *folder, const char *exp_dir, const char *run_id)
{
    const tropt_host *h = c->h;
    int rc = make_dirs(c, c->dir);
    if (rc != TROPT_OK)
        return rc;
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return h->error(TROPT_EBACKEND, "cannot open folder '%s': %s", c->dir, strerror(errno));
    int efd = -1;
    rc = open_subdir(c, dfd, folder, exp_dir, &efd);
    close(dfd);
    if (rc != TROPT_OK)
        return rc;
    rc = open_subdir(c, efd, run_id, c->run_dir, &c->rfd);
    /* the new run folder's entry in the experiment folder */
    if (rc == TROPT_OK && c->sync != SYNC_OFF && fsync(efd) != 0)
        h->log(TROPT_LEVEL_WARNING, "csv: cannot sync folder '%s': %s", exp_dir, strerror(errno));
    close(efd);
    return rc;
}

static int csv_init(void *self, const tropt_run *run, const json_t *config,
                    const tropt_field *params, size_t n_params)
{
    csv *c = self;
    const tropt_host *h = c->h;
    (void)params;
    (void)n_params;
    run_close(c);
    c->size = 0;
    c->hdr_len = 0;
    c->ncols_disk = 0;
    c->rows_disk = c->steps = c->rewrites = c->rewritten = 0;
    c->failing = c->fail_errno = 0;

    char *folder = folder_name(c, run->experiment);
    char *exp_dir = folder ? joinpath(c, c->dir, folder) : NULL;
    c->run_dir = exp_dir ? joinpath(c, exp_dir, run->run_id) : NULL;
    c->metrics_path = c->run_dir ? joinpath(c, c->run_dir, "metrics.csv") : NULL;
    c->pending_path = c->run_dir ? joinpath(c, c->run_dir, "metrics.pending.csv") : NULL;
    c->tmp_dir_len = c->run_dir ? strlen(c->run_dir) : 0;
    c->tmp_path = c->run_dir ? c->h->malloc(c->tmp_dir_len + sizeof c->tmp_name + 2) : NULL;
    if (c->tmp_path)
        memcpy(c->tmp_path, c->run_dir, c->tmp_dir_len);
    c->meta =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:n, s:s, s:s}", "run_id", run->run_id,
                  "experiment", run->experiment, "folder", folder ? folder : "", "host", run->host,
                  "pid", (json_int_t)run->pid, "started_at", run->started_at, "ended_at", "status",
                  "running", "layout", c->layout == LAYOUT_LONG ? "long" : "wide");
    int rc;
    if (!c->tmp_path || !c->meta || !c->metrics_path || !c->pending_path) {
        rc = oom(c);
        goto fail;
    }
    if ((rc = open_run_folder(c, folder, exp_dir, run->run_id)) != TROPT_OK)
        goto fail;
    h->free(folder);
    h->free(exp_dir);
    folder = exp_dir = NULL;
    struct stat st;
    if (fstatat(c->rfd, "metrics.csv", &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if ((rc = resume(c)) != TROPT_OK)
            goto fail;
    } else if ((rc = rewrite(c)) != TROPT_OK) {
        goto fail;
    }
    if ((rc = write_json_file(c, "config.json", config)) != TROPT_OK ||
        (rc = write_json_file(c, "run.json", c->meta)) != TROPT_OK)
        goto fail;
    c->open = 1;
    return TROPT_OK;
fail:
    h->free(folder);
    h->free(exp_dir);
    run_close(c);
    return rc;
}

/* write_queued, noting whether the medium failed (for retry_interval). */
static int attempt(csv *c, int force)
{
    c->fail_errno = 0;
    errno = 0;
    int rc = write_queued(c, force);
    int e = errno;
    if (rc == TROPT_EBACKEND) {
        c->failing = 1;
        c->fail_at = c->h->now();
        if (c->fail_errno == 0)
            c->fail_errno = e ? e : EIO;
    } else if (rc == TROPT_OK) {
        c->failing = 0;
    }
    return rc;
}

/* After a failed write, log waits retry_interval before trying again. */
static int retry_due(csv *c)
{
    return !c->failing || c->h->now() - c->fail_at >= c->retry_interval_s;
}

static int csv_log(void *self, const tropt_run *run, int64_t step, double time,
                   const tropt_field *fields, size_t n)
{
    csv *c = self;
    (void)run;
    if (!c->open)
        return c->h->error(TROPT_ESTATE, "no open run");
    /* in metrics.csv already (a replayed run); a long-layout row without a
     * field has no record, so it matches nothing */
    if (c->seen_left && !(c->layout == LAYOUT_LONG && n == 0) && seen_take(c, step))
        return TROPT_OK;
    int rc;
    if (pending_bytes(c) >= c->pending_max) {
        /* The bound: write now (deferred rows folded in), or, when that
         * fails or waits for retry_interval, refuse the step. */
        if (retry_due(c) && attempt(c, 1) == TROPT_OK && pending_bytes(c) < c->pending_max) {
            /* room again */
        } else {
            return c->h->error(TROPT_EBACKEND,
                               "csv: %" PRIu64 " bytes of rows wait for '%s' (pending_max=%" PRIu64
                               "): step %lld dropped; the last write failed: %s",
                               pending_bytes(c), c->metrics_path, c->pending_max, (long long)step,
                               strerror(c->fail_errno ? c->fail_errno : EIO));
        }
    }
    if ((rc = queue_row(c, step, time, fields, n)) != TROPT_OK)
        return rc;
    c->steps++;
    size_t queued = c->nrows - c->ndeferred;
    int due = (int64_t)queued >= c->flush_every;
    if (!due && c->flush_interval_s > 0) {
        double now = c->h->now();
        if (queued == 1)
            c->queued_since = now;
        else if (now - c->queued_since >= c->flush_interval_s)
            due = 1;
    }
    if (!due)
        return TROPT_OK;
    if (!retry_due(c))
        return c->h->error(TROPT_EBACKEND,
                           "cannot write '%s': %s (step %lld kept in memory with %zu more "
                           "rows, %" PRIu64 " bytes of pending_max=%" PRIu64
                           "; retried at most every %gs, and at flush and finish)",
                           c->metrics_path, strerror(c->fail_errno), (long long)step, c->nrows - 1,
                           pending_bytes(c), c->pending_max, c->retry_interval_s);
    return attempt(c, 0);
}

/* The barrier of flush and finish: every accepted row in metrics.csv, and
 * synced unless fsync=off. */
static int barrier(csv *c)
{
    int rc = attempt(c, 1);
    if (rc != TROPT_OK)
        return rc;
    if (c->sync != SYNC_OFF && fsync(c->fd) != 0)
        return c->h->error(TROPT_EBACKEND, "cannot sync '%s': %s", c->metrics_path,
                           strerror(errno));
    return TROPT_OK;
}

static int csv_flush(void *self)
{
    csv *c = self;
    return c->open ? barrier(c) : TROPT_OK;
}

static int csv_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                      const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    csv *c = self;
    (void)run;
    (void)flat;
    (void)n_flat;
    if (!c->open)
        return TROPT_OK;
    int rc = barrier(c);
    if (rc != TROPT_OK)
        return rc;
    if ((rc = write_json_file(c, "summary.json", summary)) != TROPT_OK)
        return rc;
    if (json_object_set_new(c->meta, "ended_at", json_real(ended_at)) != 0 ||
        json_object_set_new(c->meta, "status", json_string(status)) != 0 ||
        json_object_set_new(c->meta, "steps", json_integer((json_int_t)c->steps)) != 0 ||
        json_object_set_new(c->meta, "metrics_bytes", json_integer((json_int_t)c->size)) != 0 ||
        json_object_set_new(c->meta, "header_rewrites", json_integer((json_int_t)c->rewrites)) !=
            0 ||
        json_object_set_new(c->meta, "bytes_rewritten", json_integer((json_int_t)c->rewritten)) !=
            0)
        return oom(c);
    if ((rc = write_json_file(c, "run.json", c->meta)) != TROPT_OK)
        return rc;
    c->h->log(TROPT_LEVEL_DEBUG,
              "csv: run %s: %" PRIu64 " steps, %" PRIu64 " bytes, %" PRIu64
              " header rewrites of %" PRIu64 " bytes in all",
              run->run_id, c->steps, (uint64_t)c->size, c->rewrites, c->rewritten);
    run_close(c);
    return TROPT_OK;
}

/* ---- instance --------------------------------------------------------------- */

static void csv_destroy(void *self)
{
    csv *c = self;
    if (!c)
        return;
    const tropt_host *h = c->h;
    if (c->open && c->nrows > c->ndeferred && write_queued(c, 0) != TROPT_OK)
        h->log(TROPT_LEVEL_WARNING, "csv: %zu queued rows could not be written to '%s'",
               c->nrows - c->ndeferred, c->metrics_path);
    run_close(c);
    closer_stop(&c->cl);
    pthread_cond_destroy(&c->cl.cv);
    pthread_mutex_destroy(&c->cl.mu);
    h->free(c->dir);
    h->free(c->keys);
    h->free(c->kcell_len);
    h->free(c->slots);
    h->free(c->rows);
    h->free(c->cells);
    h->free(c->colmap);
    h->free(c->hint);
    csv_buf_free(h, &c->arena);
    csv_buf_free(h, &c->fmt);
    csv_buf_free(h, &c->out);
    csv_buf_free(h, &c->scratch);
    h->free(c);
}

static int csv_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    if (host->struct_size < TROPT_HOST_MIN_SIZE)
        return host->error(TROPT_EPLUGIN, "host too old for the csv plugin");
    csv *c = host->malloc(sizeof *c);
    if (!c)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(c, 0, sizeof *c);
    c->h = host;
    c->fd = c->pfd = c->rfd = -1;
    pthread_mutex_init(&c->cl.mu, NULL);
    pthread_cond_init(&c->cl.cv, NULL);
    c->dir = dupstr(c, opts[OPT_DIR].text);
    if (!c->dir) {
        csv_destroy(c);
        return host->error(TROPT_ENOMEM, "out of memory");
    }
    c->layout = (int)opts[OPT_LAYOUT].i;
    c->flush_every = opts[OPT_FLUSH_EVERY].i;
    c->flush_interval_s = opts[OPT_FLUSH_INTERVAL].d / 1000.0;
    c->sync = (int)opts[OPT_FSYNC].i;
    c->rewrite_factor = opts[OPT_REWRITE_FACTOR].d;
    c->pending_max = (uint64_t)opts[OPT_PENDING_MAX].i;
    c->retry_interval_s = opts[OPT_RETRY_INTERVAL].d / 1000.0;
    *self = c;
    return TROPT_OK;
}

static const tropt_plugin csv_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "csv",
    .description = "CSV files per run: metrics.csv (wide or long), config.json, summary.json",
    .options = csv_options,
    .create = csv_create,
    .init = csv_init,
    .log = csv_log,
    .finish = csv_finish,
    .flush = csv_flush,
    .destroy = csv_destroy,
    .reader_open = tcr_reader_open,
    .list_runs = tcr_list_runs,
    .read_run = tcr_read_run,
    .reader_close = tcr_reader_close,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &csv_plugin;
}
