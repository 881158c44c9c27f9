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
} reader;

typedef struct runrec {
    char run_id[40];
    char *experiment;
    char *host;
    int64_t pid;
    double started_at, ended_at;
    char status[16];
    int64_t n_steps;
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
    while ((got = tev_reader_next(&tr, &ev)) == 1) {
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
        rr->started_at = ev->time;
        rr->pid = ev->pid;
        r->host->free(rr->experiment);
        r->host->free(rr->host);
        rr->experiment = tropt_host_strdup(r->host, ev->experiment ? ev->experiment : "");
        rr->host = ev->host ? tropt_host_strdup(r->host, ev->host) : NULL;
        if (!rr->experiment || (ev->host && !rr->host))
            return r->host->error(TROPT_ENOMEM, "out of memory");
        break;
    case TEV_LOG:
        if (isnan(rr->started_at))
            rr->started_at = ev->time;
        rr->n_steps++;
        break;
    case TEV_RUN_END:
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
    ri->n_steps = rr->n_steps;
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

typedef struct emitting {
    const runrec *rec;
    tropt_stored_run info;
    tropt_event_fn fn;
    void *ud;
    int started;
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

static int emit(reader *r, const tev_event *ev, void *ud)
{
    emitting *em = ud;
    if (strcmp(ev->run_id, em->rec->run_id) != 0)
        return 0;
    int rc = 0;
    if (ev->type == TEV_RUN_START) {
        if (em->started)
            return 0; /* a repeated run_start (a replayed or re-spooled run) */
        return emit_start(r, em, ev->config);
    }
    if (!em->started && (rc = emit_start(r, em, NULL)) != 0)
        return rc;
    if (ev->type == TEV_LOG) {
        tropt_event e = {.kind = TROPT_EVENT_STEP,
                         .run = &em->info,
                         .step = ev->step,
                         .time = ev->time,
                         .fields = ev->fields,
                         .n = ev->n_fields};
        return em->fn(&e, em->ud);
    }
    flat fl = {0};
    rc = flatten(r, &fl, ev->summary);
    if (!rc) {
        tropt_event e = {.kind = TROPT_EVENT_END,
                         .run = &em->info,
                         .status = ev->status,
                         .ended_at = ev->time,
                         .summary = ev->summary,
                         .fields = fl.f,
                         .n = fl.n};
        rc = em->fn(&e, em->ud);
    }
    flat_free(r, &fl);
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
        rc = scan(r, 0, emit, &em);
    }
    runlist_free(r, &l);
    return rc;
}
