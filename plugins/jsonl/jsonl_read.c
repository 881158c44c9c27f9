/* plugins/jsonl/jsonl_read.c - reading a journal (or a spool folder) back
 * (SPEC 9) with the event decoder of plugins/common (the one `tropt replay`
 * uses).  Events of a run are streamed as the files hold them; memory is
 * bounded by one line plus, for list_runs, one record per run.  A line cut
 * by a crash or a malformed line is skipped with a warning naming the file
 * and line, and so is an event whose run id is not a UUID (every run id
 * this project writes is one; a crafted journal could hold markup or
 * terminal control sequences there).  Each read warns once per line: a
 * read_run that walks the files twice warns on its first walk only. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "jsonl_read.h"
#include "tropt_event.h"
#include "tropt_id.h"
#include "tropt_mem.h"

typedef struct reader {
    const tropt_host *host;
    char *path;
    char **files; /* the journal, or the folder's *.jsonl in name order */
    size_t n_files, files_cap;
    /* where the event being scanned was read from (files[cur_file], at or
     * after offset cur_off: only lines that do not decode come between) */
    size_t cur_file;
    off_t cur_off;
} reader;

typedef struct runrec {
    char run_id[40];
    char *experiment;
    char *host;
    int64_t pid;
    double started_at, ended_at;
    char status[16];
    int64_t n_logs, last_step;
    int started;   /* a run_start was seen (the first one names the run) */
    int ended;     /* a run_end was seen (the last one says how it ended) */
    int unordered; /* a log whose step is not above the one before it */
} runrec;

void tjl_reader_close(void *self)
{
    reader *r = self;
    if (!r)
        return;
    for (size_t i = 0; i < r->n_files; i++)
        r->host->free(r->files[i]);
    r->host->free(r->files);
    r->host->free(r->path);
    r->host->free(r);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(reader *r, const char *file)
{
    if (tropt_host_grow(r->host, (void **)&r->files, &r->files_cap, r->n_files + 1,
                        sizeof *r->files) != 0)
        return -1;
    if (!(r->files[r->n_files] = tropt_host_strdup(r->host, file)))
        return -1;
    r->n_files++;
    return 0;
}

int tjl_reader_open(void **out, const tropt_optval *opts, const tropt_host *host)
{
    const char *path = opts[0].text ? opts[0].text : "tropt.jsonl";
    reader *r = host->malloc(sizeof *r);
    if (!r)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    r->host = host;
    int rc = TROPT_OK;
    if (!(r->path = tropt_host_strdup(host, path))) {
        rc = host->error(TROPT_ENOMEM, "out of memory");
        goto fail;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        rc = host->error(TROPT_EBACKEND, "%s: cannot read the journal: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            rc = host->error(TROPT_EBACKEND, "%s: cannot read the folder: %s", path,
                             strerror(errno));
            goto fail;
        }
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            size_t len = strlen(de->d_name);
            if (len <= 6 || strcmp(de->d_name + len - 6, ".jsonl") != 0)
                continue;
            char *file = host->malloc(strlen(path) + len + 2);
            if (!file || (sprintf(file, "%s/%s", path, de->d_name), add_file(r, file))) {
                host->free(file);
                closedir(d);
                rc = host->error(TROPT_ENOMEM, "out of memory");
                goto fail;
            }
            host->free(file);
        }
        closedir(d);
        if (r->n_files == 0) {
            rc = host->error(TROPT_EBACKEND,
                             "%s: a folder without *.jsonl files (not a journal or spool folder)",
                             path);
            goto fail;
        }
        qsort(r->files, r->n_files, sizeof *r->files, cmp_name);
    } else if (add_file(r, path)) {
        rc = host->error(TROPT_ENOMEM, "out of memory");
        goto fail;
    }
    *out = r;
    return TROPT_OK;
fail:
    tjl_reader_close(r);
    return rc;
}

static void warn_cb(void *userdata, const char *message)
{
    const reader *r = userdata;
    char shown[1024];
    TROPT_HOST_LOG(r->host, TROPT_LEVEL_WARNING, "%s",
                   tropt_text_shown(shown, sizeof shown, message));
}

/* Call fn on every event of every file, in order.  fn returns non-zero to
 * stop (returned). */
typedef int (*scan_fn)(reader *r, const tev_event *ev, void *ud);

/* 1 when ev's run id is a UUID; otherwise 0, with a warning (when warn)
 * for the first such line of the file and a count of the rest at its end
 * (*skipped). */
static int id_ok(reader *r, const tev_reader *tr, const tev_event *ev, int warn, long *skipped)
{
    if (tropt_id_valid(ev->run_id))
        return 1;
    char shown[TROPT_ID_SHOWN_MAX];
    if (warn && (*skipped)++ == 0)
        TROPT_HOST_LOG(r->host, TROPT_LEVEL_WARNING,
                       "%s: line %ld: run id '%s' is not a UUID (not written by tropt); event "
                       "skipped",
                       tr->path, tr->lineno, tropt_id_shown(shown, ev->run_id));
    return 0;
}

/* One file; warn: report the lines skipped (else silent). */
static int scan_file(reader *r, const char *file, int warn, scan_fn fn, void *ud)
{
    tev_reader tr;
    if (tev_reader_open(&tr, file, warn ? warn_cb : NULL, r) != 0)
        return r->host->error(TROPT_EBACKEND, "%s: cannot read: %s", file, strerror(errno));
    int rc = 0, got;
    long skipped = 0;
    tev_event ev;
    while ((r->cur_off = ftello(tr.f)) >= 0 && (got = tev_reader_next(&tr, &ev)) == 1) {
        if (id_ok(r, &tr, &ev, warn, &skipped))
            rc = fn(r, &ev, ud);
        tev_event_clear(&ev);
        if (rc)
            break;
    }
    if (!rc && got < 0)
        rc = r->host->error(TROPT_EBACKEND, "%s: read error: %s", file, strerror(errno));
    if (!rc && skipped > 1)
        TROPT_HOST_LOG(r->host, TROPT_LEVEL_WARNING,
                       "%s: %ld more events whose run id is not a UUID skipped", file, skipped - 1);
    tev_reader_close(&tr);
    return rc;
}

static int scan(reader *r, int warn, scan_fn fn, void *ud)
{
    for (size_t i = 0; i < r->n_files; i++) {
        r->cur_file = i;
        int rc = scan_file(r, r->files[i], warn, fn, ud);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- list_runs -------------------------------------------------------- */

typedef struct runlist {
    runrec *v;
    size_t n, cap;
    const char *prefix; /* only runs whose id starts with it (or NULL) */
} runlist;

static runrec *find_or_add(reader *r, runlist *l, const char *run_id)
{
    for (size_t i = l->n; i-- > 0;)
        if (strcmp(l->v[i].run_id, run_id) == 0)
            return &l->v[i];
    if (tropt_host_grow(r->host, (void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) != 0)
        return NULL;
    runrec *rr = &l->v[l->n++];
    memset(rr, 0, sizeof *rr);
    snprintf(rr->run_id, sizeof rr->run_id, "%s", run_id);
    rr->started_at = rr->ended_at = NAN;
    strcpy(rr->status, "running");
    return rr;
}

/* The run's identity from its first run_start. */
static int gather_start(reader *r, runrec *rr, const tev_event *ev)
{
    if (rr->started)
        return 0; /* a repeated run_start (a replayed or re-spooled run) */
    rr->started = 1;
    rr->started_at = ev->time;
    rr->pid = ev->pid;
    rr->experiment = tropt_host_strdup(r->host, ev->experiment ? ev->experiment : "");
    rr->host = ev->host ? tropt_host_strdup(r->host, ev->host) : NULL;
    if (!rr->experiment || (ev->host && !rr->host))
        return r->host->error(TROPT_ENOMEM, "out of memory");
    return 0;
}

static int gather(reader *r, const tev_event *ev, void *ud)
{
    runlist *l = ud;
    if (l->prefix && strncmp(ev->run_id, l->prefix, strlen(l->prefix)) != 0)
        return 0;
    runrec *rr = find_or_add(r, l, ev->run_id);
    if (!rr)
        return r->host->error(TROPT_ENOMEM, "out of memory");
    switch (ev->type) {
    case TEV_RUN_START:
        return gather_start(r, rr, ev);
    case TEV_LOG:
        if (!rr->started && isnan(rr->started_at))
            rr->started_at = ev->time;
        rr->unordered |= rr->n_logs > 0 && ev->step <= rr->last_step;
        rr->last_step = ev->step;
        rr->n_logs++;
        break;
    case TEV_RUN_END:
        rr->ended = 1;
        rr->ended_at = ev->time;
        snprintf(rr->status, sizeof rr->status, "%s", ev->status ? ev->status : "finished");
        break;
    default: /* ABI 1.2 events: read back once the jsonl reader keeps them */
        break;
    }
    return 0;
}

static void runlist_free(reader *r, runlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        r->host->free(l->v[i].experiment);
        r->host->free(l->v[i].host);
    }
    r->host->free(l->v);
}

static void to_info(const runrec *rr, tropt_stored_run *ri)
{
    memset(ri, 0, sizeof *ri); /* ABI 1.2 members: none filled */
    ri->run_id = rr->run_id;
    ri->experiment = rr->experiment ? rr->experiment : "";
    ri->status = rr->status;
    ri->started_at = rr->started_at;
    ri->ended_at = rr->ended_at;
    ri->host = rr->host;
    ri->pid = rr->pid;
    /* steps repeated or out of order: counted once each by read_run */
    ri->n_steps = rr->unordered ? -1 : rr->n_logs;
}

int tjl_list_runs(void *self, tropt_run_list_fn fn, void *userdata)
{
    reader *r = self;
    runlist l = {0};
    int rc = scan(r, 1, gather, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        tropt_stored_run ri;
        to_info(&l.v[i], &ri);
        rc = fn(&ri, userdata);
    }
    runlist_free(r, &l);
    return rc;
}

/* ---- read_run --------------------------------------------------------- */

/* The flattened form of a config or summary object: keys "a/b", objects
 * with members expanded, everything else one typed field. */
typedef struct flat {
    tropt_field *f;
    size_t n, cap;
    char **keys;
} flat;

static int flat_add(reader *r, flat *fl, const char *prefix, const char *key, const json_t *v)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    char *k = r->host->malloc(plen + strlen(key) + 2);
    if (!k)
        return -1;
    if (prefix)
        sprintf(k, "%s/%s", prefix, key);
    else
        strcpy(k, key);
    if (json_is_object(v) && json_object_size(v) > 0) {
        const char *mk;
        json_t *mv;
        int rc = 0;
        json_object_foreach((json_t *)v, mk, mv)
        {
            if ((rc = flat_add(r, fl, k, mk, mv)) != 0)
                break;
        }
        r->host->free(k);
        return rc;
    }
    void **const arrays[] = {(void **)&fl->f, (void **)&fl->keys};
    const size_t elem[] = {sizeof *fl->f, sizeof *fl->keys};
    if (tropt_host_grow_all(r->host, &fl->cap, fl->n + 1, 2, arrays, elem) != 0) {
        r->host->free(k);
        return -1;
    }
    fl->keys[fl->n] = k;
    tropt_field *f = &fl->f[fl->n++];
    f->key = k;
    if (json_is_integer(v))
        *f = (tropt_field){.key = k, .type = TROPT_INT, .v.i = json_integer_value(v)};
    else if (json_is_real(v))
        *f = (tropt_field){.key = k, .type = TROPT_REAL, .v.r = json_real_value(v)};
    else if (json_is_boolean(v))
        *f = (tropt_field){.key = k, .type = TROPT_BOOL, .v.b = json_is_true(v)};
    else if (json_is_string(v))
        *f = (tropt_field){.key = k, .type = TROPT_STRING, .v.s = json_string_value(v)};
    else if (json_is_null(v))
        *f = (tropt_field){.key = k, .type = TROPT_NULL};
    else
        *f = (tropt_field){.key = k, .type = TROPT_JSON, .v.json = v};
    return 0;
}

static void flat_free(reader *r, flat *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        r->host->free(fl->keys[i]);
    r->host->free(fl->keys);
    r->host->free(fl->f);
    memset(fl, 0, sizeof *fl);
}

static int flatten(reader *r, flat *fl, const json_t *obj)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj))
        return 0;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (flat_add(r, fl, NULL, k, v))
            return r->host->error(TROPT_ENOMEM, "out of memory");
    }
    return 0;
}

/* A log line of the run read, found again by read_indexed. */
typedef struct logpos {
    int64_t step;
    size_t seq; /* its order in the journal: the last of a step wins */
    size_t file;
    off_t off;
} logpos;

/*
 * One run streamed: START (the first run_start's config), each step once in
 * ascending order, END once (the last run_end's status and summary) if the
 * run ended.  A journal holds a step more than once when a run was replayed
 * into it again or went back to earlier steps (a restart): its steps are
 * then first indexed (logpos, 32 bytes per log line), sorted, and the last
 * line of each step read again.
 */
typedef struct emitting {
    const runrec *rec;
    tropt_stored_run info;
    tropt_event_fn fn;
    void *ud;
    int started, seen_start;
    json_t *config;  /* unordered: the first run_start's, until START */
    json_t *summary; /* the last run_end's */
    logpos *pos;
    size_t npos, poscap;
} emitting;

static int emit_start(reader *r, emitting *em, const json_t *config)
{
    flat fl = {0};
    int rc = flatten(r, &fl, config);
    if (!rc) {
        tropt_event ev = {.kind = TROPT_EVENT_START,
                          .run = &em->info,
                          .time = em->info.started_at,
                          .config = config,
                          .fields = fl.f,
                          .n = fl.n};
        rc = em->fn(&ev, em->ud);
    }
    flat_free(r, &fl);
    em->started = 1;
    return rc;
}

static int emit_step(emitting *em, const tev_event *ev)
{
    tropt_event e = {.kind = TROPT_EVENT_STEP,
                     .run = &em->info,
                     .step = ev->step,
                     .time = ev->time,
                     .fields = ev->fields,
                     .n = ev->n_fields};
    return em->fn(&e, em->ud);
}

static int emit_end(reader *r, emitting *em)
{
    flat fl = {0};
    int rc = flatten(r, &fl, em->summary);
    if (!rc) {
        tropt_event e = {.kind = TROPT_EVENT_END,
                         .run = &em->info,
                         .status = em->rec->status,
                         .ended_at = em->rec->ended_at,
                         .summary = em->summary,
                         .fields = fl.f,
                         .n = fl.n};
        rc = em->fn(&e, em->ud);
    }
    flat_free(r, &fl);
    return rc;
}

/* Keep a reference to v (NULL allowed) in *slot, dropping the one there. */
static void keep(json_t **slot, const json_t *v)
{
    json_decref(*slot);
    *slot = json_incref((json_t *)v);
}

static int note_log(reader *r, emitting *em, const tev_event *ev)
{
    if (tropt_host_grow(r->host, (void **)&em->pos, &em->poscap, em->npos + 1, sizeof *em->pos))
        return r->host->error(TROPT_ENOMEM, "out of memory");
    em->pos[em->npos] = (logpos){ev->step, em->npos, r->cur_file, r->cur_off};
    em->npos++;
    return 0;
}

static int emit(reader *r, const tev_event *ev, void *ud)
{
    emitting *em = ud;
    if (strcmp(ev->run_id, em->rec->run_id) != 0)
        return 0;
    int unordered = em->rec->unordered, rc = 0;
    switch (ev->type) {
    case TEV_RUN_START:
        if (em->seen_start++)
            return 0; /* a repeated run_start */
        if (!unordered)
            return emit_start(r, em, ev->config);
        em->config = json_incref((json_t *)ev->config);
        return 0;
    case TEV_LOG:
        if (unordered)
            return note_log(r, em, ev);
        if (!em->started && (rc = emit_start(r, em, NULL)) != 0)
            return rc;
        return emit_step(em, ev);
    case TEV_RUN_END:
        keep(&em->summary, ev->summary);
        return 0;
    default: /* ABI 1.2 events: read back once the jsonl reader keeps them */
        return 0;
    }
}

static int by_step(const void *a, const void *b)
{
    const logpos *x = a, *y = b;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The log line at p read again into *ev (the caller clears it). */
static int reread(reader *r, tev_reader *tr, size_t *open_file, const logpos *p, tev_event *ev)
{
    if (*open_file != p->file) {
        if (*open_file != (size_t)-1)
            tev_reader_close(tr);
        *open_file = (size_t)-1;
        if (tev_reader_open(tr, r->files[p->file], NULL, NULL) != 0)
            return r->host->error(TROPT_EBACKEND, "%s: cannot read: %s", r->files[p->file],
                                  strerror(errno));
        *open_file = p->file;
    }
    if (fseeko(tr->f, p->off, SEEK_SET) != 0 || tev_reader_next(tr, ev) != 1)
        return r->host->error(TROPT_EBACKEND, "%s: changed while being read", r->files[p->file]);
    return 0;
}

/* The steps of an unordered run, its index sorted by distinct_steps: the
 * last log line of each step, in step order. */
static int emit_indexed(reader *r, emitting *em)
{
    tev_reader tr;
    size_t open_file = (size_t)-1;
    int rc = 0;
    for (size_t i = 0; !rc && i < em->npos; i++) {
        if (i + 1 < em->npos && em->pos[i + 1].step == em->pos[i].step)
            continue; /* a later line of the same step wins */
        tev_event ev;
        if ((rc = reread(r, &tr, &open_file, &em->pos[i], &ev)) != 0)
            break;
        if (ev.type != TEV_LOG || ev.step != em->pos[i].step ||
            strcmp(ev.run_id, em->rec->run_id) != 0)
            rc = r->host->error(TROPT_EBACKEND, "%s: changed while being read",
                                r->files[em->pos[i].file]);
        else
            rc = emit_step(em, &ev);
        tev_event_clear(&ev);
    }
    if (open_file != (size_t)-1)
        tev_reader_close(&tr);
    return rc;
}

/* Sort the index by step (then journal order) and count its steps. */
static int64_t distinct_steps(emitting *em)
{
    qsort(em->pos, em->npos, sizeof *em->pos, by_step);
    int64_t n = 0;
    for (size_t i = 0; i < em->npos; i++)
        n += i == 0 || em->pos[i].step != em->pos[i - 1].step;
    return n;
}

static int read_one(reader *r, emitting *em)
{
    int rc = scan(r, 0, emit, em);
    if (!rc && em->rec->unordered) {
        em->info.n_steps = distinct_steps(em);
        if ((rc = emit_start(r, em, em->config)) == 0)
            rc = emit_indexed(r, em);
    }
    if (!rc && !em->started)
        rc = emit_start(r, em, NULL);
    if (!rc && em->rec->ended)
        rc = emit_end(r, em);
    json_decref(em->config);
    json_decref(em->summary);
    r->host->free(em->pos);
    return rc;
}

int tjl_read_run(void *self, const char *run_id, tropt_event_fn fn, void *userdata)
{
    reader *r = self;
    size_t len = strlen(run_id);
    if (len < 8)
        return r->host->error(TROPT_EINVAL, "%s: '%s' is not a run id (or a prefix of 8+)", r->path,
                              run_id);
    runlist l = {.prefix = run_id};
    int rc = scan(r, 1, gather, &l);
    if (!rc && l.n == 0)
        rc = r->host->error(TROPT_EINVAL, "%s: no run '%s'", r->path, run_id);
    else if (!rc && l.n > 1)
        rc = r->host->error(TROPT_EINVAL, "%s: run id prefix '%s' is ambiguous (%zu runs)", r->path,
                            run_id, l.n);
    if (!rc) {
        emitting em = {.rec = &l.v[0], .fn = fn, .ud = userdata};
        to_info(&l.v[0], &em.info);
        rc = read_one(r, &em);
    }
    runlist_free(r, &l);
    return rc;
}

/* ---- for the writer's metadata hooks ----------------------------------- */

int tjl_holds_run(const char *path, const tropt_host *host, const char *run_id)
{
    tev_reader tr;
    if (tev_reader_open(&tr, path, NULL, NULL) != 0)
        return host->error(TROPT_EBACKEND, "%s: cannot read the journal: %s", path,
                           strerror(errno));
    tev_event ev;
    int got, found = 0, deleted = 0;
    while ((got = tev_reader_next(&tr, &ev)) == 1) {
        if (strcmp(ev.run_id, run_id) == 0) {
            found |= ev.type == TEV_RUN_START;
            deleted = ev.type == TEV_DELETE ? 1 : ev.type == TEV_RUN_START ? 0 : deleted;
        }
        tev_event_clear(&ev);
    }
    tev_reader_close(&tr);
    if (got < 0)
        return host->error(TROPT_EBACKEND, "%s: read error: %s", path, strerror(errno));
    if (!found || deleted)
        return host->error(TROPT_EINVAL, "%s holds no run %s%s", path, run_id,
                           deleted ? " (it was deleted)" : "");
    return TROPT_OK;
}
