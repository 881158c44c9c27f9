/* plugins/csv/csv_read.c - reading csv run folders back (SPEC 9).
 *
 * A run folder is <dir>/<experiment folder>/<run_id>/ with run.json,
 * config.json, summary.json, metrics.csv and types.csv (README.md).  `dir`
 * may also be one run folder itself.  metrics.csv is read record by record
 * (RFC 4180), types.csv alongside it, so memory is bounded by one record
 * and the keys' types.
 *
 * Each cell is typed by the type types.csv records for its key from that
 * row on (csv_cells.c), so what comes back is what was logged: the string
 * "3" a string, the real 3.0 a real, null a null (the cell "null"), an
 * empty cell not logged.  A folder written before types.csv is typed by
 * its text, as before (README.md "Types": what that cannot tell apart).
 *
 * What a hand edit or a crafted folder may hold is refused with a warning
 * naming the file and line: a record whose step is not a non-negative
 * integer (a replay would renumber a negative one), a record of the wrong
 * width, a run.json whose run_id is not a UUID (markup, control sequences:
 * every id tropt writes is a UUID). */
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
#include "tropt_id.h"
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

/* dir holds what only a csv store writes besides runs (.deleted/, the
 * tombstones of deleted runs; .resume_keys/): a store whose runs were all
 * deleted is a store with no runs, not a foreign folder. */
static int store_marked(reader *r)
{
    static const char *const marks[] = {".deleted", ".resume_keys"};
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++) {
        char *p = xasprintf(r->host, "%s/%s", r->dir, marks[i]);
        struct stat st;
        int is_dir = p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
        r->host->free(p);
        if (is_dir)
            return 1;
    }
    return 0;
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
    int serr = stat(dir, &st) != 0 ? errno : 0; /* st is unset when stat fails */
    if (serr || !S_ISDIR(st.st_mode)) {
        rc = host->error(TROPT_EBACKEND, "%s: not a folder: %s", dir,
                         serr ? strerror(serr) : "not a directory");
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
    if (!r->single && !any && !store_marked(r)) {
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

/* How load_json treats a file it cannot load. */
enum { JSON_OPTIONAL, JSON_REQUIRED, JSON_WARN };

/* <folder>/name parsed, or NULL: missing and optional; cannot be loaded
 * (*rc set, JSON_REQUIRED; a warning and *rc untouched, JSON_WARN). */
static json_t *load_json(reader *r, const char *folder, const char *name, int mode, int *rc)
{
    char *p = xasprintf(r->host, "%s/%s", folder, name);
    if (!p) {
        *rc = r->host->error(TROPT_ENOMEM, "out of memory");
        return NULL;
    }
    json_error_t je;
    json_t *j = NULL;
    if (is_file(p) || mode != JSON_OPTIONAL) {
        j = json_load_file(p, 0, &je);
        if (!j && mode == JSON_REQUIRED)
            *rc = r->host->error(TROPT_EBACKEND, "%s: %s", p, je.text);
        else if (!j && mode == JSON_WARN)
            TROPT_HOST_LOG(r->host, TROPT_LEVEL_WARNING, "%s: %s; run skipped", p, je.text);
    }
    r->host->free(p);
    return j;
}

/* run.json of folder, when it names a run: NULL (with a warning) when it
 * cannot be loaded or its run_id is not a UUID (every id tropt writes is
 * one: a crafted folder could hold markup or control sequences there). */
static json_t *load_run(reader *r, const char *folder, int *rc)
{
    json_t *run = load_json(r, folder, "run.json", JSON_WARN, rc);
    const char *id = json_string_value(json_object_get(run, "run_id"));
    if (!run || tropt_id_valid(id))
        return run;
    char shown[TROPT_ID_SHOWN_MAX];
    TROPT_HOST_LOG(r->host, TROPT_LEVEL_WARNING,
                   "%s/run.json: run_id '%s' is not a UUID (not written by tropt); run skipped",
                   folder, tropt_id_shown(shown, id));
    json_decref(run);
    return NULL;
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

static int is_long(const json_t *run)
{
    const char *layout = jstr(run, "layout");
    return layout && strcmp(layout, "long") == 0;
}

typedef struct listing {
    tropt_run_list_fn fn;
    void *ud;
} listing;

static int list_one(reader *r, const char *folder, void *ud)
{
    listing *l = ud;
    int rc = 0;
    json_t *run = load_json(r, folder, "run.json", JSON_REQUIRED, &rc);
    if (!run)
        return rc;
    if (!tropt_id_valid(jstr(run, "run_id"))) { /* changed since gather */
        json_decref(run);
        return 0;
    }
    csv_info ci;
    memset(&ci, 0, sizeof ci);
    info_of(run, &ci.ri);
    ci.long_layout = is_long(run);
    rc = csv_info_fill(r->host, folder, run, &ci);
    if (!rc)
        rc = l->fn(&ci.ri, l->ud);
    csv_info_free(r->host, &ci);
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
    json_t *run = load_run(r, folder, &rc);
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
        if (e.n)
            qsort(e.v, e.n, sizeof *e.v, by_start);
        listing l = {fn, userdata};
        for (size_t i = 0; !rc && i < e.n; i++)
            rc = list_one(r, e.v[i].folder, &l);
    }
    entries_free(r, &e);
    return rc;
}

/* ---- metrics.csv ------------------------------------------------------ */

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
    int own_keys;    /* long layout: each field's key (and text) is one owned block */
    int64_t attempt; /* the attempt whose file is read */
    int merge;       /* the records of one step come together (read by step):
                        one event, each key's last value (as a later log at
                        the same step merges into it in sqlite) */
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

/* st_push, or (merging) the field replacing the step's field of that key;
 * a string pointing into the record (wide) is copied first, since the
 * step's next record reuses the buffer. */
static int st_put(stepper *s, const tropt_field *in, json_t *owned)
{
    tropt_field copy = *in;
    const tropt_field *f = in;
    if (s->merge && !s->own_keys && in->type == TROPT_STRING && !owned) {
        if (!(owned = json_string_nocheck(in->v.s)))
            return -1;
        copy.v.s = json_string_value(owned);
        f = &copy;
    }
    for (size_t i = 0; s->merge && i < s->n; i++) {
        if (strcmp(s->f[i].key, f->key) != 0)
            continue;
        json_decref(s->owned[i]);
        if (s->own_keys)
            s->r->host->free((void *)s->f[i].key);
        s->f[i] = *f;
        s->owned[i] = owned;
        return 0;
    }
    int rc = st_push(s, f, owned);
    if (rc && f == &copy)
        json_decref(owned);
    return rc;
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
                      .n = s->n,
                      .attempt = s->attempt};
    int rc = s->fn(&ev, s->ud);
    st_clear(s);
    s->have = 0;
    return rc;
}

/* metrics.csv being read, and the type in force for each key (types.csv,
 * read alongside: README.md "Types"). */
typedef struct metrics_in {
    stepper *s;
    const tropt_host *h;
    const char *path;
    const char *tname; /* the attempt's types file */
    FILE *f;
    int long_layout;
    csv_record hdr, rec;
    long line;    /* the line rec starts on */
    uint64_t row; /* rec's index among the data records */
    csv_typer ty;
    json_t *cols;           /* wide: key -> its column */
    unsigned char *coltype; /* wide: the type in force per column */
    unsigned char *skip;    /* wide: a column repeating an earlier one's key */
    json_t *ktypes;         /* long: key -> the type in force */
    json_t *seen;           /* long: the keys of the step gathered */
    const csv_typemap *tm;  /* rows read out of order: types.csv in memory */
    char ptime[64];         /* long: the time cell of the step gathered */
} metrics_in;

static void mi_free(metrics_in *m)
{
    csv_record_free(m->h, &m->hdr);
    csv_record_free(m->h, &m->rec);
    csv_typer_close(&m->ty);
    json_decref(m->cols);
    json_decref(m->ktypes);
    json_decref(m->seen);
    m->h->free(m->coltype);
    m->h->free(m->skip);
}

/* After the header: the key -> column map of the wide layout. */
static int mi_setup(metrics_in *m, const char *folder)
{
    int rc = csv_typer_open(&m->ty, m->h, folder, m->tname);
    if (rc)
        return rc;
    if (!m->ty.f)
        TROPT_HOST_LOG(m->h, TROPT_LEVEL_DEBUG,
                       "%s: no types.csv (a folder written before it): values are typed by "
                       "their text",
                       folder);
    if (m->long_layout)
        return (m->ktypes = json_object()) && (m->seen = json_object())
                   ? 0
                   : m->h->error(TROPT_ENOMEM, "out of memory");
    m->cols = json_object();
    m->coltype = m->h->malloc(m->hdr.n + 1);
    m->skip = m->h->malloc(m->hdr.n + 1);
    if (!m->cols || !m->coltype || !m->skip)
        return m->h->error(TROPT_ENOMEM, "out of memory");
    memset(m->coltype, CSV_T_NONE, m->hdr.n + 1);
    memset(m->skip, 0, m->hdr.n + 1);
    for (size_t c = 2; c < m->hdr.n; c++) {
        const char *key = csv_column_key(m->hdr.buf + m->hdr.cells[c].off);
        if (json_object_get(m->cols, key)) { /* a hand edit: a step has a key once */
            char shown[256];
            m->skip[c] = 1;
            TROPT_HOST_LOG(m->h, TROPT_LEVEL_WARNING,
                           "%s: column %zu repeats the key '%s' of an earlier column; its cells "
                           "are skipped",
                           m->path, c + 1, tropt_text_shown(shown, sizeof shown, key));
        } else if (json_object_set_new_nocheck(m->cols, key, json_integer((json_int_t)c)) != 0) {
            return m->h->error(TROPT_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* Bring the types in force up to the record m->row. */
static int mi_types(metrics_in *m)
{
    const char *key;
    int t, got;
    if (m->tm) { /* rows in any order: each column's type at this row */
        for (size_t c = 2; !m->long_layout && c < m->hdr.n; c++)
            m->coltype[c] = (unsigned char)csv_typemap_at(
                m->tm, csv_column_key(m->hdr.buf + m->hdr.cells[c].off), m->row);
        return 0;
    }
    while ((got = csv_typer_next(&m->ty, m->row, &key, &t)) == 1) {
        if (m->long_layout) {
            if (json_object_set_new_nocheck(m->ktypes, key, json_integer(t)) != 0)
                return m->h->error(TROPT_ENOMEM, "out of memory");
            continue;
        }
        const json_t *col = json_object_get(m->cols, key);
        if (col)
            m->coltype[json_integer_value(col)] = (unsigned char)t;
    }
    return got;
}

/* The field of cell c of the record (key set by the caller): typed by its
 * key's record, else by its text.  1 a field, 0 not logged. */
static int mi_field(metrics_in *m, size_t c, int t, tropt_field *fl, json_t **owned)
{
    const csv_cell *x = &m->rec.cells[c];
    const char *text = m->rec.buf + x->off;
    int got = t == CSV_T_NONE
                  ? -1
                  : csv_cell_typed(text, x->len, x->quoted, m->long_layout, t, fl, owned);
    if (got >= 0)
        return got;
    if (t != CSV_T_NONE) {
        char k[256], v[256];
        TROPT_HOST_LOG(m->h, TROPT_LEVEL_WARNING,
                       "%s: line %ld: key '%s': '%s' is not a %s value as types.csv records; "
                       "typed by its text",
                       m->path, m->line, tropt_text_shown(k, sizeof k, fl->key),
                       tropt_text_shown(v, sizeof v, text), csv_type_name(t));
    }
    return csv_cell_guess(text, x->len, x->quoted, m->long_layout, fl, owned);
}

/* The record's step and time; 0, or -1 with a warning naming the file,
 * line and value (the record is skipped, as the jsonl reader skips such a
 * line: a negative step would be renumbered by a replay). */
static int mi_step(metrics_in *m, int64_t *step, double *time)
{
    const csv_record *rec = &m->rec;
    size_t want = m->long_layout ? 4 : m->hdr.n;
    char shown[256];
    if (rec->n != want) {
        TROPT_HOST_LOG(m->h, TROPT_LEVEL_WARNING,
                       "%s: line %ld: %zu cells where the header has %zu; record skipped", m->path,
                       m->line, rec->n, want);
        return -1;
    }
    const char *st = rec->buf + rec->cells[0].off, *tt = rec->buf + rec->cells[1].off;
    char *end;
    errno = 0;
    long long v = strtoll(st, &end, 10);
    if (errno || *end || st[0] < '0' || st[0] > '9' || v < 0) {
        TROPT_HOST_LOG(m->h, TROPT_LEVEL_WARNING,
                       "%s: line %ld: step '%s' is not a non-negative integer; record skipped",
                       m->path, m->line, tropt_text_shown(shown, sizeof shown, st));
        return -1;
    }
    *step = v;
    *time = strtod(tt, &end);
    if (!*tt || *end) {
        TROPT_HOST_LOG(m->h, TROPT_LEVEL_WARNING,
                       "%s: line %ld: time '%s' is not a number; record skipped", m->path, m->line,
                       tropt_text_shown(shown, sizeof shown, tt));
        return -1;
    }
    return 0;
}

/* A wide record: one step, a field per logged cell. */
static int mi_wide(metrics_in *m, int64_t step, double time)
{
    stepper *s = m->s;
    int rc = s->merge && s->have && step != s->step ? st_emit(s) : 0;
    if (rc)
        return rc;
    s->step = step;
    s->time = time;
    s->have = 1;
    for (size_t c = 2; c < m->rec.n; c++) {
        tropt_field fl = {.key = csv_column_key(m->hdr.buf + m->hdr.cells[c].off)};
        json_t *owned;
        if (m->skip[c])
            continue;
        if (mi_field(m, c, m->coltype[c], &fl, &owned) && st_put(s, &fl, owned)) {
            json_decref(owned);
            return m->h->error(TROPT_ENOMEM, "out of memory");
        }
    }
    return s->merge ? 0 : st_emit(s);
}

/* 1 when the long step gathered has no field of key yet (noted now), 0
 * when it has (a hand edit: a step has a key once; warned, the record is
 * skipped), TROPT_ENOMEM. */
static int key_once(metrics_in *m, const char *key, int64_t step)
{
    if (json_object_get(m->seen, key)) {
        char shown[256];
        TROPT_HOST_LOG(m->h, TROPT_LEVEL_WARNING,
                       "%s: line %ld: key '%s' again in step %lld; record skipped", m->path,
                       m->line, tropt_text_shown(shown, sizeof shown, key), (long long)step);
        return 0;
    }
    if (json_object_set_new_nocheck(m->seen, key, json_true()) != 0)
        return m->h->error(TROPT_ENOMEM, "out of memory");
    return 1;
}

/* A long record: one field of the step gathered (consecutive records with
 * the same step and time cells are one step, as the writer writes them).
 * Key and text are copied out of the record, which the next one reuses. */
static int mi_long(metrics_in *m, int64_t step, double time)
{
    stepper *s = m->s;
    const csv_record *rec = &m->rec;
    const char *tt = rec->buf + rec->cells[1].off;
    if (!s->have || step != s->step || (!s->merge && strcmp(tt, m->ptime) != 0)) {
        int rc = st_emit(s);
        if (rc)
            return rc;
        json_object_clear(m->seen);
    }
    s->step = step;
    s->time = time;
    s->have = 1;
    snprintf(m->ptime, sizeof m->ptime, "%s", tt);
    const csv_cell *kc = &rec->cells[2], *vc = &rec->cells[3];
    if (kc->len == 0 && !kc->quoted && vc->len == 0 && !vc->quoted)
        return 0; /* "step,time,,": a step without fields */
    const char *key = rec->buf + rec->cells[2].off;
    int once = s->merge ? 1 : key_once(m, key, step);
    if (once <= 0)
        return once;
    const json_t *t = m->tm ? NULL : json_object_get(m->ktypes, key);
    int type = m->tm ? csv_typemap_at(m->tm, key, m->row)
               : t   ? (int)json_integer_value(t)
                     : CSV_T_NONE;
    tropt_field fl = {.key = key};
    json_t *owned;
    mi_field(m, 3, type, &fl, &owned);
    size_t klen = rec->cells[2].len, vlen = fl.type == TROPT_STRING ? rec->cells[3].len + 1 : 0;
    char *k = m->h->malloc(klen + 1 + vlen);
    if (k) {
        memcpy(k, key, klen + 1);
        if (vlen)
            fl.v.s = memcpy(k + klen + 1, fl.v.s, vlen);
        fl.key = k;
    }
    if (!k || st_put(s, &fl, owned)) {
        m->h->free(k);
        json_decref(owned);
        return m->h->error(TROPT_ENOMEM, "out of memory");
    }
    return 0;
}

/* The record just read (m->rec at m->row, on line m->line). */
static int mi_one(metrics_in *m)
{
    int64_t step;
    double time;
    int rc = mi_types(m);
    if (!rc && mi_step(m, &step, &time) == 0)
        rc = m->long_layout ? mi_long(m, step, time) : mi_wide(m, step, time);
    return rc;
}

/* Each record of metrics.csv after its header, in file order. */
static int mi_records(metrics_in *m)
{
    long next_line = 1 + m->hdr.lines;
    int rc = 0, got;
    while (!rc && (got = csv_read_record(m->h, m->f, &m->rec)) == 1) {
        m->line = next_line;
        next_line += m->rec.lines;
        rc = mi_one(m);
        m->row++;
    }
    if (!rc && got == 2)
        TROPT_HOST_LOG(m->h, TROPT_LEVEL_WARNING,
                       "%s: last record cut before its line end (a crash mid-write), skipped",
                       m->path);
    if (!rc && got < 0)
        rc = m->h->error(TROPT_ENOMEM, "out of memory");
    return rc ? rc : st_emit(m->s);
}

/* The records of one step of the index, read again. */
static int mi_entry(metrics_in *m, const csv_steprec *e)
{
    if (fseeko(m->f, e->off, SEEK_SET) != 0)
        return m->h->error(TROPT_EBACKEND, "%s: %s", m->path, strerror(errno));
    m->row = e->row;
    long next_line = e->line;
    int rc = 0;
    for (uint64_t k = 0; !rc && k < e->nrec; k++, m->row++) {
        int got = csv_read_record(m->h, m->f, &m->rec);
        if (got != 1)
            return got < 0 ? m->h->error(TROPT_ENOMEM, "out of memory")
                           : m->h->error(TROPT_EBACKEND, "%s: changed while being read", m->path);
        m->line = next_line;
        next_line += m->rec.lines;
        rc = mi_one(m);
    }
    return rc;
}

/* A run whose steps are not ascending (csv_order.c): each step once, in
 * ascending order, its rows merged in file order (a key's last value
 * wins, as a later log at the same step merges in sqlite); types.csv held
 * in memory. */
static int mi_unordered(metrics_in *m, const char *folder, off_t off, long line)
{
    csv_steps idx = {0};
    csv_typemap tm;
    int rc = csv_typemap_load(&tm, m->h, folder, m->tname);
    if (!rc && csv_steps_scan(m->h, m->f, off, line, m->long_layout, &idx, NULL) < 0)
        rc = errno == ENOMEM ? m->h->error(TROPT_ENOMEM, "out of memory")
                             : m->h->error(TROPT_EBACKEND, "%s: %s", m->path, strerror(errno));
    if (!rc) {
        csv_steps_sort(&idx);
        m->tm = &tm;
        m->s->merge = 1;
    }
    for (size_t i = 0; !rc && i < idx.n; i++)
        rc = mi_entry(m, &idx.v[i]);
    if (!rc)
        rc = st_emit(m->s);
    m->s->merge = 0;
    m->tm = NULL;
    csv_typemap_free(&tm);
    csv_steps_free(m->h, &idx);
    return rc;
}

/* After the header: stream the records when the steps ascend (one quick
 * scan of the step cells says so), else read them by step. */
static int mi_read(metrics_in *m, const char *folder)
{
    int rc = mi_setup(m, folder);
    off_t off = ftello(m->f);
    long line = 1 + m->hdr.lines;
    if (rc)
        return rc;
    int ascending =
        off < 0 ? -1 : csv_steps_scan(m->h, m->f, off, line, m->long_layout, NULL, NULL);
    if (ascending < 0)
        return m->h->error(TROPT_EBACKEND, "%s: %s", m->path, strerror(errno));
    if (!ascending)
        return mi_unordered(m, folder, off, line);
    if (fseeko(m->f, off, SEEK_SET) != 0)
        return m->h->error(TROPT_EBACKEND, "%s: %s", m->path, strerror(errno));
    return mi_records(m);
}

/* The metrics file of attempt s->attempt (and its types file). */
static int read_metrics(stepper *s, const char *folder, int long_layout)
{
    const tropt_host *h = s->r->host;
    char mname[48], tname[48];
    csv_attempt_file(s->attempt, "metrics", mname, sizeof mname);
    csv_attempt_file(s->attempt, "types", tname, sizeof tname);
    metrics_in m = {.s = s, .h = h, .long_layout = long_layout, .tname = tname};
    char *path = xasprintf(h, "%s/%s", folder, mname);
    if (!path)
        return h->error(TROPT_ENOMEM, "out of memory");
    m.path = path;
    int rc = 0;
    if (!(m.f = fopen(path, "rb"))) {
        rc = errno == ENOENT ? 0 /* a run that logged nothing yet */
                             : h->error(TROPT_EBACKEND, "%s: %s", path, strerror(errno));
        goto out;
    }
    int got = csv_read_record(h, m.f, &m.hdr);
    if (got < 0)
        rc = h->error(TROPT_ENOMEM, "out of memory");
    else if (got == 1)
        rc = mi_read(&m, folder);
    st_clear(s);
    fclose(m.f);
out:
    mi_free(&m);
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

/* Attempt k's events: ATTEMPT (k > 1: its config), its marks, its system
 * samples, its steps. */
static int read_attempt(reader *r, const char *folder, csv_info *ci, size_t i, stepper *s,
                        const json_t *run)
{
    int64_t k = ci->atts[i].attempt;
    int rc = 0;
    if (i > 0) {
        const json_t *cfg =
            json_object_get(json_array_get(json_object_get(run, "attempts"), i), "config");
        tropt_event ev = {.kind = TROPT_EVENT_ATTEMPT,
                          .run = &ci->ri,
                          .step = ci->atts[i].from_step,
                          .time = ci->atts[i].started_at,
                          .attempt = k,
                          .config = json_object_size(cfg) ? cfg : NULL};
        rc = emit_obj(r, &ev, ev.config, s->fn, s->ud);
    }
    if (!rc)
        rc = csv_marks_emit(&ci->marks, k, &ci->ri, s->fn, s->ud);
    if (!rc)
        rc = csv_system_emit(r->host, folder, k, &ci->ri, s->fn, s->ud);
    s->attempt = k;
    return rc ? rc : read_metrics(s, folder, ci->long_layout);
}

/* START (attempt 1's config, every attempt), each attempt, END. */
static int read_events(reader *r, const char *folder, const json_t *run, csv_info *ci,
                       tropt_event_fn fn, void *userdata)
{
    int rc = 0;
    json_t *config = json_object_get(json_array_get(json_object_get(run, "attempts"), 0), "config");
    json_t *own = config ? NULL : load_json(r, folder, "config.json", JSON_OPTIONAL, &rc);
    json_t *summary = load_json(r, folder, "summary.json", JSON_OPTIONAL, &rc);
    config = config ? config : own;
    tropt_event ev = {.kind = TROPT_EVENT_START,
                      .run = &ci->ri,
                      .time = ci->ri.started_at,
                      .config = json_object_size(config) ? config : NULL,
                      .attempt = 1,
                      .attempts = ci->atts,
                      .n_attempts = ci->n_atts};
    if (!rc) /* out of memory: never a run read without its config */
        rc = emit_obj(r, &ev, ev.config, fn, userdata);
    stepper s = {.r = r, .info = &ci->ri, .fn = fn, .ud = userdata, .own_keys = ci->long_layout};
    for (size_t i = 0; !rc && i < ci->n_atts; i++)
        rc = read_attempt(r, folder, ci, i, &s, run);
    r->host->free(s.f);
    r->host->free(s.owned);
    if (!rc && strcmp(ci->ri.status, "running") != 0) {
        ev = (tropt_event){.kind = TROPT_EVENT_END,
                           .run = &ci->ri,
                           .status = ci->ri.status,
                           .ended_at = ci->ri.ended_at,
                           .summary = json_object_size(summary) ? summary : NULL};
        rc = emit_obj(r, &ev, ev.summary, fn, userdata);
    }
    json_decref(own);
    json_decref(summary);
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
    json_t *run = NULL;
    csv_info ci;
    memset(&ci, 0, sizeof ci);
    if (!rc && (run = load_json(r, e.v[0].folder, "run.json", JSON_REQUIRED, &rc))) {
        info_of(run, &ci.ri);
        ci.long_layout = is_long(run);
        rc = csv_info_fill(h, e.v[0].folder, run, &ci);
        if (!rc)
            rc = read_events(r, e.v[0].folder, run, &ci, fn, userdata);
    }
    csv_info_free(h, &ci);
    json_decref(run);
    entries_free(r, &e);
    return rc;
}
