/* plugins/csv/csv_read.c - reading csv run folders back (SPEC 9).
 *
 * A run folder is <dir>/<experiment folder>/<run_id>/ with run.json,
 * config.json, summary.json and metrics.csv (README.md).  `dir` may also be
 * one run folder itself.  metrics.csv is read record by record (RFC 4180),
 * so memory is bounded by one record.
 *
 * Cells carry no type, so a value is typed by its text, the inverse of
 * what the writer prints: true/false -> BOOL, an integer -> INT, a real or
 * nan/inf/-inf -> REAL, a JSON array or {} -> JSON, a quoted empty cell ""
 * -> the empty STRING, anything else -> STRING.  An unquoted empty cell is
 * "not logged" in the wide layout and null in the long one.  What the
 * format cannot tell apart (a string "42" vs the int 42, an integral real
 * printed as "3", null vs not logged in wide) reads back as the former. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "csv_read.h"
#include "csv_text.h"
#include "tropt_mem.h"

typedef struct reader {
    const tropt_host *host;
    char *dir;
    int single; /* dir is itself a run folder */
} reader;

static char *xasprintf(const tropt_host *h, const char *fmt, const char *a, const char *b)
{
    size_t n = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *s = h->malloc(n);
    if (s)
        snprintf(s, n, fmt, a, b ? b : "");
    return s;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void tcr_reader_close(void *self)
{
    reader *r = self;
    if (!r)
        return;
    r->host->free(r->dir);
    r->host->free(r);
}

/* Walk <dir>/<exp>/<run>/run.json (or dir/run.json); fn(folder) non-zero
 * stops. */
typedef int (*folder_fn)(reader *r, const char *folder, void *ud);

static int walk(reader *r, folder_fn fn, void *ud)
{
    if (r->single)
        return fn(r, r->dir, ud);
    DIR *d = opendir(r->dir);
    if (!d)
        return r->host->error(TROPT_EBACKEND, "%s: cannot read the folder: %s", r->dir,
                              strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *exp = xasprintf(r->host, "%s/%s", r->dir, e->d_name);
        DIR *d2 = exp ? opendir(exp) : NULL;
        struct dirent *e2;
        while (!rc && d2 && (e2 = readdir(d2)) != NULL) {
            if (e2->d_name[0] == '.')
                continue;
            char *folder = xasprintf(r->host, "%s/%s", exp, e2->d_name);
            char *rj = folder ? xasprintf(r->host, "%s/run.json", folder, NULL) : NULL;
            if (!rj)
                rc = r->host->error(TROPT_ENOMEM, "out of memory");
            else if (is_file(rj))
                rc = fn(r, folder, ud);
            r->host->free(rj);
            r->host->free(folder);
        }
        if (d2)
            closedir(d2);
        if (!exp)
            rc = r->host->error(TROPT_ENOMEM, "out of memory");
        r->host->free(exp);
    }
    closedir(d);
    return rc;
}

static int found_one(reader *r, const char *folder, void *ud)
{
    (void)r;
    (void)folder;
    *(int *)ud = 1;
    return 1;
}

int tcr_reader_open(void **out, const tropt_optval *opts, const tropt_host *host)
{
    const char *dir = opts[0].text ? opts[0].text : "tropt-logs";
    reader *r = host->malloc(sizeof *r);
    if (!r)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    r->host = host;
    int rc = TROPT_OK;
    if (!(r->dir = tropt_host_strdup(host, dir))) {
        rc = host->error(TROPT_ENOMEM, "out of memory");
        goto fail;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = host->error(TROPT_EBACKEND, "%s: not a folder: %s", dir,
                         errno && !S_ISDIR(st.st_mode) ? strerror(errno) : "not a directory");
        goto fail;
    }
    char *rj = xasprintf(host, "%s/run.json", dir, NULL);
    if (!rj) {
        rc = host->error(TROPT_ENOMEM, "out of memory");
        goto fail;
    }
    r->single = is_file(rj);
    host->free(rj);
    int any = 0;
    if (!r->single && (rc = walk(r, found_one, &any)) < 0)
        goto fail;
    rc = TROPT_OK;
    if (!r->single && !any) {
        rc = host->error(TROPT_EBACKEND,
                         "%s: not a csv folder (no <experiment>/<run_id>/run.json in it, and no "
                         "run.json of its own)",
                         dir);
        goto fail;
    }
    *out = r;
    return TROPT_OK;
fail:
    tcr_reader_close(r);
    return rc;
}

/* ---- run.json --------------------------------------------------------- */

static json_t *load_json(reader *r, const char *folder, const char *name, int required, int *rc)
{
    char *p = xasprintf(r->host, "%s/%s", folder, name);
    if (!p) {
        *rc = r->host->error(TROPT_ENOMEM, "out of memory");
        return NULL;
    }
    json_error_t je;
    json_t *j = NULL;
    if (is_file(p) || required) {
        j = json_load_file(p, 0, &je);
        if (!j && required)
            *rc = r->host->error(TROPT_EBACKEND, "%s: %s", p, je.text);
    }
    r->host->free(p);
    return j;
}

static double jreal(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void info_of(const json_t *run, tropt_stored_run *ri)
{
    memset(ri, 0, sizeof *ri);
    ri->run_id = jstr(run, "run_id") ? jstr(run, "run_id") : "";
    ri->experiment = jstr(run, "experiment") ? jstr(run, "experiment") : "";
    ri->status = jstr(run, "status") ? jstr(run, "status") : "running";
    ri->started_at = jreal(run, "started_at");
    ri->ended_at = jreal(run, "ended_at");
    ri->host = jstr(run, "host");
    ri->pid = json_integer_value(json_object_get(run, "pid"));
    const json_t *s = json_object_get(run, "steps");
    ri->n_steps = json_is_integer(s) ? json_integer_value(s) : -1;
}

typedef struct listing {
    tropt_run_list_fn fn;
    void *ud;
} listing;

static int list_one(reader *r, const char *folder, void *ud)
{
    listing *l = ud;
    int rc = 0;
    json_t *run = load_json(r, folder, "run.json", 1, &rc);
    if (!run)
        return rc;
    tropt_stored_run ri;
    memset(&ri, 0, sizeof ri); /* ABI 1.2 members: none filled */
    info_of(run, &ri);
    rc = l->fn(&ri, l->ud);
    json_decref(run);
    return rc;
}

/* Runs are listed oldest first: gather (id, started_at, folder) then sort. */
typedef struct entry {
    double started_at;
    char *folder;
} entry;

typedef struct entries {
    entry *v;
    size_t n, cap;
    const char *prefix;
} entries;

static int gather(reader *r, const char *folder, void *ud)
{
    entries *e = ud;
    int rc = 0;
    json_t *run = load_json(r, folder, "run.json", 1, &rc);
    if (!run)
        return rc;
    const char *id = jstr(run, "run_id");
    if (e->prefix && (!id || strncmp(id, e->prefix, strlen(e->prefix)) != 0)) {
        json_decref(run);
        return 0;
    }
    if (tropt_host_grow(r->host, (void **)&e->v, &e->cap, e->n + 1, sizeof *e->v) != 0) {
        json_decref(run);
        return r->host->error(TROPT_ENOMEM, "out of memory");
    }
    e->v[e->n].started_at = jreal(run, "started_at");
    e->v[e->n].folder = tropt_host_strdup(r->host, folder);
    json_decref(run);
    if (!e->v[e->n].folder)
        return r->host->error(TROPT_ENOMEM, "out of memory");
    e->n++;
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return x->started_at < y->started_at ? -1 : x->started_at > y->started_at;
}

static void entries_free(reader *r, entries *e)
{
    for (size_t i = 0; i < e->n; i++)
        r->host->free(e->v[i].folder);
    r->host->free(e->v);
}

int tcr_list_runs(void *self, tropt_run_list_fn fn, void *userdata)
{
    reader *r = self;
    entries e = {0};
    int rc = walk(r, gather, &e);
    if (!rc) {
        qsort(e.v, e.n, sizeof *e.v, by_start);
        listing l = {fn, userdata};
        for (size_t i = 0; !rc && i < e.n; i++)
            rc = list_one(r, e.v[i].folder, &l);
    }
    entries_free(r, &e);
    return rc;
}

/* ---- metrics.csv ------------------------------------------------------ */

typedef struct cell {
    size_t off, len;
    int quoted;
} cell;

typedef struct record {
    char *buf;
    size_t len, cap;
    cell *cells;
    size_t n, ncap;
} record;

static int rec_putc(const tropt_host *h, record *rec, char c)
{
    if (tropt_host_grow(h, (void **)&rec->buf, &rec->cap, rec->len + 2, 1) != 0)
        return -1;
    rec->buf[rec->len++] = c;
    return 0;
}

static int rec_end_cell(const tropt_host *h, record *rec, size_t start, int quoted)
{
    if (tropt_host_grow(h, (void **)&rec->cells, &rec->ncap, rec->n + 1, sizeof *rec->cells) != 0)
        return -1;
    rec->cells[rec->n++] = (cell){start, rec->len - start, quoted};
    return rec_putc(h, rec, '\0');
}

/* Read one record: 1 read, 0 end of file, -1 out of memory, 2 a last
 * record cut before its line end (dropped). */
static int read_record(const tropt_host *h, FILE *f, record *rec)
{
    rec->len = rec->n = 0;
    int c = getc(f);
    if (c == EOF)
        return 0;
    size_t start = 0;
    int quoted = 0, inq = 0;
    for (;; c = getc(f)) {
        if (c == EOF)
            return 2;
        if (inq) {
            if (c == '"') {
                int d = getc(f);
                if (d == '"') {
                    if (rec_putc(h, rec, '"'))
                        return -1;
                    continue;
                }
                inq = 0;
                ungetc(d, f);
                continue;
            }
            if (rec_putc(h, rec, (char)c))
                return -1;
            continue;
        }
        if (c == '"' && rec->len == start) {
            inq = quoted = 1;
            continue;
        }
        if (c == ',' || c == '\n') {
            if (rec_end_cell(h, rec, start, quoted))
                return -1;
            if (c == '\n')
                return 1;
            start = rec->len;
            quoted = 0;
            continue;
        }
        if (c == '\r')
            continue; /* CRLF */
        if (rec_putc(h, rec, (char)c))
            return -1;
    }
}

static void rec_free(const tropt_host *h, record *rec)
{
    h->free(rec->buf);
    h->free(rec->cells);
}

/* Type a cell; returns 0 when the cell holds nothing (wide: not logged). */
static int type_cell(const char *s, size_t len, int quoted, int empty_is_null, tropt_field *f,
                     json_t **owned)
{
    *owned = NULL;
    if (len == 0) {
        if (quoted) {
            f->type = TROPT_STRING;
            f->v.s = s;
            return 1;
        }
        if (!empty_is_null)
            return 0;
        f->type = TROPT_NULL;
        return 1;
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        f->type = TROPT_BOOL;
        f->v.b = s[0] == 't';
        return 1;
    }
    if (strcmp(s, "nan") == 0 || strcmp(s, "inf") == 0 || strcmp(s, "-inf") == 0) {
        f->type = TROPT_REAL;
        f->v.r = s[0] == 'n' ? NAN : s[0] == '-' ? -INFINITY : INFINITY;
        return 1;
    }
    size_t i = s[0] == '-' ? 1 : 0;
    if (i < len && strspn(s + i, "0123456789") == len - i) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == 0) {
            f->type = TROPT_INT;
            f->v.i = v;
            return 1;
        }
    }
    if (strspn(s, "0123456789+-.eE") == len && strpbrk(s, "0123456789")) {
        char *end;
        double d = strtod(s, &end);
        if (*end == '\0') {
            f->type = TROPT_REAL;
            f->v.r = d;
            return 1;
        }
    }
    if (s[0] == '[' || strcmp(s, "{}") == 0) {
        json_t *j = json_loadb(s, len, JSON_DECODE_ANY, NULL);
        if (j) {
            f->type = TROPT_JSON;
            f->v.json = j;
            *owned = j;
            return 1;
        }
    }
    f->type = TROPT_STRING;
    f->v.s = s;
    return 1;
}

typedef struct stepper {
    reader *r;
    tropt_stored_run *info;
    tropt_event_fn fn;
    void *ud;
    tropt_field *f;
    json_t **owned;
    size_t n, cap;
    int64_t step;
    double time;
    int have;
    int own_keys; /* long layout: each field's key (and text) is one owned block */
} stepper;

static int st_push(stepper *s, const tropt_field *f, json_t *owned)
{
    void **const arrays[] = {(void **)&s->f, (void **)&s->owned};
    const size_t elem[] = {sizeof *s->f, sizeof *s->owned};
    if (tropt_host_grow_all(s->r->host, &s->cap, s->n + 1, 2, arrays, elem) != 0)
        return -1;
    s->f[s->n] = *f;
    s->owned[s->n++] = owned;
    return 0;
}

static void st_clear(stepper *s)
{
    for (size_t i = 0; i < s->n; i++) {
        json_decref(s->owned[i]);
        if (s->own_keys)
            s->r->host->free((void *)s->f[i].key);
    }
    s->n = 0;
}

static int st_emit(stepper *s)
{
    if (!s->have)
        return 0;
    tropt_event ev = {.kind = TROPT_EVENT_STEP,
                      .run = s->info,
                      .step = s->step,
                      .time = s->time,
                      .fields = s->f,
                      .n = s->n};
    int rc = s->fn(&ev, s->ud);
    st_clear(s);
    s->have = 0;
    return rc;
}

static int parse_step(const record *rec, int64_t *step, double *time)
{
    if (rec->n < 2)
        return -1;
    char *end;
    errno = 0;
    *step = strtoll(rec->buf + rec->cells[0].off, &end, 10);
    if (errno || *end)
        return -1;
    *time = strtod(rec->buf + rec->cells[1].off, &end);
    return *end ? -1 : 0;
}

static int read_metrics(stepper *s, const char *folder, int long_layout)
{
    reader *r = s->r;
    const tropt_host *h = r->host;
    char *path = xasprintf(h, "%s/metrics.csv", folder, NULL);
    if (!path)
        return h->error(TROPT_ENOMEM, "out of memory");
    FILE *f = fopen(path, "rb");
    if (!f) {
        int rc = errno == ENOENT ? 0 /* a run that logged nothing yet */
                                 : h->error(TROPT_EBACKEND, "%s: %s", path, strerror(errno));
        h->free(path);
        return rc;
    }
    record hdr = {0}, rec = {0};
    int rc = 0, got = read_record(h, f, &hdr);
    if (got != 1) {
        rc = got < 0 ? h->error(TROPT_ENOMEM, "out of memory") : 0;
        goto out;
    }
    long line = 1;
    while (!rc && (got = read_record(h, f, &rec)) == 1) {
        line++;
        int64_t step;
        double time;
        if (parse_step(&rec, &step, &time) || (long_layout ? rec.n != 4 : rec.n != hdr.n)) {
            h->log(TROPT_LEVEL_WARNING, "%s: record %ld: malformed, skipped", path, line);
            continue;
        }
        if (s->have && step != s->step && (rc = st_emit(s)) != 0)
            break;
        s->step = step;
        s->time = time;
        s->have = 1;
        if (long_layout) {
            tropt_field fl = {.key = NULL};
            json_t *owned;
            type_cell(rec.buf + rec.cells[3].off, rec.cells[3].len, rec.cells[3].quoted, 1, &fl,
                      &owned);
            /* the records of one step are gathered, so key and text are
             * copied out of rec.buf (reused by the next record) */
            size_t klen = rec.cells[2].len;
            char *k = h->malloc(klen + 1 + (fl.type == TROPT_STRING ? rec.cells[3].len + 1 : 0));
            if (!k) {
                json_decref(owned);
                rc = h->error(TROPT_ENOMEM, "out of memory");
                break;
            }
            memcpy(k, rec.buf + rec.cells[2].off, klen + 1);
            if (fl.type == TROPT_STRING) {
                memcpy(k + klen + 1, fl.v.s, rec.cells[3].len + 1);
                fl.v.s = k + klen + 1;
            }
            fl.key = k;
            if (st_push(s, &fl, owned)) {
                h->free(k);
                json_decref(owned);
                rc = h->error(TROPT_ENOMEM, "out of memory");
            }
        } else {
            for (size_t c = 2; c < rec.n && !rc; c++) {
                tropt_field fl = {.key = csv_column_key(hdr.buf + hdr.cells[c].off)};
                json_t *owned;
                if (type_cell(rec.buf + rec.cells[c].off, rec.cells[c].len, rec.cells[c].quoted, 0,
                              &fl, &owned) &&
                    st_push(s, &fl, owned)) {
                    json_decref(owned);
                    rc = h->error(TROPT_ENOMEM, "out of memory");
                }
            }
            if (!rc)
                rc = st_emit(s); /* one record is one step in wide */
        }
    }
    if (!rc && got == 2)
        h->log(TROPT_LEVEL_WARNING,
               "%s: last record cut before its line end (a crash mid-write), skipped", path);
    if (!rc && got < 0)
        rc = h->error(TROPT_ENOMEM, "out of memory");
    if (!rc)
        rc = st_emit(s);
out:
    st_clear(s);
    rec_free(h, &rec);
    rec_free(h, &hdr);
    fclose(f);
    h->free(path);
    return rc;
}

/* ---- read_run --------------------------------------------------------- */

/* The flattened object (config, summary) as fields; keys owned by keys[]. */
static int flatten(const tropt_host *h, const json_t *obj, const char *prefix, tropt_field **f,
                   char ***keys, size_t *n, size_t *cap)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        char *key = xasprintf(h, prefix ? "%s/%s" : "%s%s", prefix ? prefix : k, prefix ? k : "");
        if (!key)
            return -1;
        if (json_is_object(v) && json_object_size(v) > 0) {
            int rc = flatten(h, v, key, f, keys, n, cap);
            h->free(key);
            if (rc)
                return rc;
            continue;
        }
        void **const arrays[] = {(void **)f, (void **)keys};
        const size_t elem[] = {sizeof **f, sizeof **keys};
        if (tropt_host_grow_all(h, cap, *n + 1, 2, arrays, elem) != 0) {
            h->free(key);
            return -1;
        }
        tropt_field *o = &(*f)[*n];
        (*keys)[(*n)++] = key;
        *o = json_is_integer(v)
                 ? (tropt_field){.key = key, .type = TROPT_INT, .v.i = json_integer_value(v)}
             : json_is_real(v)
                 ? (tropt_field){.key = key, .type = TROPT_REAL, .v.r = json_real_value(v)}
             : json_is_boolean(v)
                 ? (tropt_field){.key = key, .type = TROPT_BOOL, .v.b = json_is_true(v)}
             : json_is_string(v)
                 ? (tropt_field){.key = key, .type = TROPT_STRING, .v.s = json_string_value(v)}
             : json_is_null(v) ? (tropt_field){.key = key, .type = TROPT_NULL}
                               : (tropt_field){.key = key, .type = TROPT_JSON, .v.json = v};
    }
    return 0;
}

static int emit_obj(reader *r, tropt_event *ev, const json_t *obj, tropt_event_fn fn, void *ud)
{
    tropt_field *f = NULL;
    char **keys = NULL;
    size_t n = 0, cap = 0;
    int rc = obj && flatten(r->host, obj, NULL, &f, &keys, &n, &cap)
                 ? r->host->error(TROPT_ENOMEM, "out of memory")
                 : 0;
    if (!rc) {
        ev->fields = f;
        ev->n = n;
        rc = fn(ev, ud);
    }
    for (size_t i = 0; i < n; i++)
        r->host->free(keys[i]);
    r->host->free(keys);
    r->host->free(f);
    return rc;
}

int tcr_read_run(void *self, const char *run_id, tropt_event_fn fn, void *userdata)
{
    reader *r = self;
    const tropt_host *h = r->host;
    if (strlen(run_id) < 8)
        return h->error(TROPT_EINVAL, "%s: '%s' is not a run id (or a prefix of 8+)", r->dir,
                        run_id);
    entries e = {.prefix = run_id};
    int rc = walk(r, gather, &e);
    if (!rc && e.n != 1)
        rc = h->error(TROPT_EINVAL, e.n ? "%s: run id prefix '%s' is ambiguous" : "%s: no run '%s'",
                      r->dir, run_id);
    json_t *run = NULL, *config = NULL, *summary = NULL;
    if (rc)
        goto out;
    const char *folder = e.v[0].folder;
    if (!(run = load_json(r, folder, "run.json", 1, &rc)))
        goto out;
    config = load_json(r, folder, "config.json", 0, &rc);
    summary = load_json(r, folder, "summary.json", 0, &rc);
    tropt_stored_run info;
    memset(&info, 0, sizeof info); /* ABI 1.2 members: none filled */
    info_of(run, &info);
    const char *layout = jstr(run, "layout");
    tropt_event ev = {.kind = TROPT_EVENT_START,
                      .run = &info,
                      .time = info.started_at,
                      .config = json_object_size(config) ? config : NULL};
    if ((rc = emit_obj(r, &ev, ev.config, fn, userdata)) != 0)
        goto out;
    int long_layout = layout && strcmp(layout, "long") == 0;
    stepper s = {.r = r, .info = &info, .fn = fn, .ud = userdata, .own_keys = long_layout};
    rc = read_metrics(&s, folder, long_layout);
    h->free(s.f);
    h->free(s.owned);
    if (rc)
        goto out;
    if (strcmp(info.status, "running") != 0) {
        ev = (tropt_event){.kind = TROPT_EVENT_END,
                           .run = &info,
                           .status = info.status,
                           .ended_at = info.ended_at,
                           .summary = json_object_size(summary) ? summary : NULL};
        rc = emit_obj(r, &ev, ev.summary, fn, userdata);
    }
out:
    json_decref(run);
    json_decref(config);
    json_decref(summary);
    entries_free(r, &e);
    return rc;
}
