/*
 * plugins/tensorboard/tb_read.c - the reader hooks (SPEC 9, 17): the run
 * folders of a logdir, their identity, list_runs and read_run.  A run
 * folder is any folder below the logdir (itself included) holding event
 * files; the runs our writer made say who they are in their identity
 * record, the others get an id derived from their path.  Reading a run is
 * tb_scan.c's first pass and tb_merge.c's second.
 */
#include "tb_read.h"

#include "tb_format.h"
#include "tb_ident.h"
#include "tb_scan.h"
#include "tropt_mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 64

static int oom(const tbr *r)
{
    return r->h->error(TROPT_ENOMEM, "out of memory");
}

static void file_free(const tropt_host *h, tbr_file *f)
{
    h->free(f->path);
    h->free(f->segs);
    json_decref(f->ident);
    json_decref(f->end);
    tb_stats_free(&f->st);
}

static void run_free(const tropt_host *h, tbr_run *run)
{
    for (size_t i = 0; i < run->nfiles; i++)
        file_free(h, &run->files[i]);
    for (size_t i = 0; i < run->ntags; i++)
        h->free(run->tags[i]);
    h->free(run->tags);
    h->free(run->note);
    h->free(run->att);
    h->free(run->files);
    h->free(run->dir);
    h->free(run->folder);
    h->free(run->name);
    h->free(run->experiment);
    h->free(run->host);
    json_decref(run->hparams);
}

void tbr_reader_close(void *self)
{
    tbr *r = self;
    if (!r)
        return;
    for (size_t i = 0; i < r->nruns; i++)
        run_free(r->h, &r->runs[i]);
    r->h->free(r->runs);
    r->h->free(r->logdir);
    r->h->free(r->real);
    tb_map_free(&r->warned);
    r->h->free(r);
}

int tbr_open_logdir(tbr **out, const char *logdir, const tropt_host *host)
{
    *out = NULL;
    tbr *r = host->malloc(sizeof *r);
    if (!r)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    r->h = host;
    tb_map_init(&r->warned, host);
    int rc = TROPT_OK;
    char real[PATH_MAX];
    struct stat st;
    if (!(r->logdir = tropt_host_strdup(host, logdir))) {
        rc = oom(r);
    } else if (!realpath(logdir, real) || stat(real, &st) != 0) {
        rc =
            host->error(TROPT_EBACKEND, "cannot read the logdir '%s': %s", logdir, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        rc = host->error(TROPT_EBACKEND, "cannot read the logdir '%s': not a folder", logdir);
    } else if (!(r->real = tropt_host_strdup(host, real))) {
        rc = oom(r);
    }
    if (rc != TROPT_OK) {
        tbr_reader_close(r);
        return rc;
    }
    *out = r;
    return TROPT_OK;
}

int tbr_reader_open(void **out, const tropt_optval *opts, const tropt_host *host)
{
    const char *logdir = opts[TB_OPT_LOGDIR].text ? opts[TB_OPT_LOGDIR].text : "runs";
    tbr *r;
    int rc = tbr_open_logdir(&r, logdir, host);
    *out = r;
    return rc;
}

/* ---- finding the runs ----------------------------------------------------------- */

static char *dup_n(const tropt_host *h, const char *s, size_t n)
{
    return tropt_host_strndup(h, s, n);
}

static int all_digits(const char *s, size_t n)
{
    return n > 0 && strspn(s, "0123456789") >= n;
}

/* The part of a foreign file name after "events.out.tfevents.<secs>." as
 * TensorFlow, PyTorch and tensorboardX write it: <host>.<pid>.<n>, maybe
 * with one suffix (".v2"); else just <host>.  Sets run->host (and
 * run->pid).  0, or -1 when memory ran out. */
static int host_from_name(const tropt_host *h, tbr_run *run, const char *name)
{
    const char *p = strstr(name, TB_FILE_MARK ".");
    if (!p)
        return 0;
    p += sizeof TB_FILE_MARK;
    p += strspn(p, "0123456789");
    if (*p++ != '.' || !*p)
        return 0;
    size_t n = strlen(p);
    for (int drop = 0; drop < 2; drop++) {
        size_t m = n;
        const char *d = drop ? memrchr(p, '.', n) : NULL;
        if (drop)
            m = d ? (size_t)(d - p) : 0;
        const char *last = memrchr(p, '.', m);
        const char *prev = last ? memrchr(p, '.', (size_t)(last - p)) : NULL;
        if (prev && prev > p && all_digits(last + 1, m - (size_t)(last + 1 - p)) &&
            all_digits(prev + 1, (size_t)(last - prev - 1))) {
            run->pid = strtoll(prev + 1, NULL, 10);
            n = (size_t)(prev - p);
            break;
        }
    }
    run->host = dup_n(h, p, n);
    return run->host ? 0 : -1;
}

/* The last component of the first n bytes of path ("/" for none). */
static char *last_component(const tropt_host *h, const char *path, size_t n)
{
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && path[start - 1] != '/')
        start--;
    return n > start ? dup_n(h, path + start, n - start) : dup_n(h, "/", 1);
}

/* A foreign run's experiment: the folders above it relative to the
 * logdir; for a run just below the logdir, the logdir's name; for the
 * logdir itself, its parent's name. */
static char *foreign_experiment(const tbr *r, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    if (slash)
        return dup_n(r->h, rel, (size_t)(slash - rel));
    if (*rel)
        return last_component(r->h, r->real, strlen(r->real));
    const char *up = strrchr(r->real, '/');
    return last_component(r->h, r->real, up ? (size_t)(up - r->real) : 0);
}

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

/* The identity records of the files of folder dfd (f->ident). */
static int read_identities(tbr *r, tbr_run *run, int dfd)
{
    for (size_t i = 0; i < run->nfiles; i++) {
        tbr_file *f = &run->files[i];
        if (tb_file_identity(r->h, dfd, f->base, &f->ident) < 0 && errno == ENOMEM)
            return oom(r);
        const char *id = json_string_value(json_object_get(f->ident, "run_id"));
        if (f->ident && (!id || strlen(id) >= sizeof run->id)) {
            json_decref(f->ident);
            f->ident = NULL;
        }
    }
    return TROPT_OK;
}

/* Who the run of folder dir is: our identity record, else its path. */
static int identify(tbr *r, tbr_run *run, int dfd, const char *rel)
{
    const tropt_host *h = r->h;
    int rc = read_identities(r, run, dfd);
    if (rc != TROPT_OK)
        return rc;
    if (!(run->folder = tropt_host_strdup(h, basename_of(run->dir))))
        return oom(r);
    for (size_t i = 0; i < run->nfiles; i++) {
        const json_t *rec = run->files[i].ident;
        if (!rec)
            continue;
        const char *exp = json_string_value(json_object_get(rec, "experiment"));
        snprintf(run->id, sizeof run->id, "%s", json_string_value(json_object_get(rec, "run_id")));
        run->ours = 1;
        run->experiment = tropt_host_strdup(h, exp ? exp : "");
        return run->experiment ? TROPT_OK : oom(r);
    }
    char *url = h->malloc(strlen(run->dir) + 8);
    if (!url)
        return oom(r);
    sprintf(url, "file://%s", run->dir);
    tb_uuid5_url(url, run->id);
    h->free(url);
    run->experiment = foreign_experiment(r, rel);
    if (!run->experiment || (run->nfiles && host_from_name(h, run, run->files[0].base) != 0))
        return oom(r);
    return TROPT_OK;
}

/* Add the run of folder dir (relative path rel) with its event files. */
static int add_run(tbr *r, int dfd, const char *dir, const char *rel, char **names, size_t n)
{
    const tropt_host *h = r->h;
    if (tropt_host_grow(h, (void **)&r->runs, &r->rcap, r->nruns + 1, sizeof *r->runs))
        return oom(r);
    tbr_run *run = &r->runs[r->nruns++];
    memset(run, 0, sizeof *run);
    run->n_steps = -1;
    run->started_at = run->ended_at = NAN;
    snprintf(run->status, sizeof run->status, "finished");
    if (!(run->dir = tropt_host_strdup(h, dir)) ||
        !(run->files = h->malloc(n * sizeof *run->files)))
        return oom(r);
    run->fcap = n;
    memset(run->files, 0, n * sizeof *run->files);
    for (size_t i = 0; i < n; i++, run->nfiles++) {
        tbr_file *f = &run->files[i];
        tb_stats_init(&f->st);
        f->attempt = 1;
        if (!(f->path = tb_join(h, dir, names[i])))
            return oom(r);
        f->base = f->path + strlen(dir) + 1;
    }
    return identify(r, run, dfd, rel);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sub-folders of dfd (not links), sorted. */
static int subfolders(tbr *r, int dfd, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return TROPT_OK; /* unreadable: no sub-folders */
    }
    size_t cap = 0;
    struct dirent *de;
    int rc = TROPT_OK;
    while (rc == TROPT_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, TB_STORE_DIR) == 0 ||
            (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
            (de->d_type == DT_UNKNOWN &&
             (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))))
            continue;
        char *copy = tropt_host_strdup(r->h, de->d_name);
        if (!copy || tropt_host_grow(r->h, (void **)out, &cap, *n + 1, sizeof **out)) {
            r->h->free(copy);
            rc = oom(r);
        } else {
            (*out)[(*n)++] = copy;
        }
    }
    closedir(d);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_str);
    return rc;
}

static int walk(tbr *r, int dfd, const char *dir, const char *rel, int depth)
{
    const tropt_host *h = r->h;
    char **names = NULL, **subs = NULL;
    size_t n = 0, nsub = 0;
    int rc = TROPT_OK;
    if (tb_event_files(h, dfd, &names, &n) != 0)
        return errno == ENOMEM ? oom(r) : TROPT_OK;
    if (n)
        rc = add_run(r, dfd, dir, rel, names, n);
    tb_names_free(h, names, n);
    if (rc == TROPT_OK && depth < MAX_DEPTH)
        rc = subfolders(r, dfd, &subs, &nsub);
    for (size_t i = 0; i < nsub && rc == TROPT_OK; i++) {
        int sfd = openat(dfd, subs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
            continue;
        char *sdir = tb_join(h, dir, subs[i]);
        char *srel = *rel ? tb_join(h, rel, subs[i]) : tropt_host_strdup(h, subs[i]);
        rc = sdir && srel ? walk(r, sfd, sdir, srel, depth + 1) : oom(r);
        h->free(sdir);
        h->free(srel);
        close(sfd);
    }
    tb_names_free(h, subs, nsub);
    return rc;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const tbr_file *)a)->base, ((const tbr_file *)b)->base);
}

/* Folders that hold the same run (a run whose folder was renamed, say)
 * are one run: their files join the first's. */
static int join_same_ids(tbr *r)
{
    for (size_t i = 0; i < r->nruns; i++) {
        for (size_t j = i + 1; j < r->nruns;) {
            tbr_run *a = &r->runs[i], *b = &r->runs[j];
            if (strcmp(a->id, b->id) != 0) {
                j++;
                continue;
            }
            if (tropt_host_grow(r->h, (void **)&a->files, &a->fcap, a->nfiles + b->nfiles,
                                sizeof *a->files))
                return oom(r);
            memcpy(a->files + a->nfiles, b->files, b->nfiles * sizeof *b->files);
            a->nfiles += b->nfiles;
            b->nfiles = 0;
            qsort(a->files, a->nfiles, sizeof *a->files, cmp_file);
            run_free(r->h, b);
            memmove(b, b + 1, (r->nruns - j - 1) * sizeof *b);
            r->nruns--;
        }
    }
    return TROPT_OK;
}

/* The attempt each file of a run of ours belongs to: its identity's, or
 * (a file without one: metadata changes, another writer's) the one before
 * it in name order.  An identity of another run (a file copied in) counts
 * as none. */
static void assign_attempts(tbr_run *run)
{
    int64_t cur = 1;
    for (size_t i = 0; i < run->nfiles; i++) {
        tbr_file *f = &run->files[i];
        const char *id = json_string_value(json_object_get(f->ident, "run_id"));
        if (f->ident && (!id || strcmp(id, run->id) != 0)) {
            json_decref(f->ident);
            f->ident = NULL;
        }
        const json_t *att = json_object_get(f->ident, "attempt");
        if (f->ident)
            cur = json_is_integer(att) && json_integer_value(att) >= 1 &&
                          json_integer_value(att) <= TB_MAX_ATTEMPTS
                      ? (int64_t)json_integer_value(att)
                      : 1;
        f->attempt = cur;
    }
}

/* Leave out the runs deleted from the store (a tombstone in <logdir>/.tropt). */
static void drop_deleted(tbr *r, int dfd)
{
    for (size_t i = 0; i < r->nruns;) {
        char rel[128];
        snprintf(rel, sizeof rel, TB_STORE_DIR "/deleted/%s", r->runs[i].id);
        if (faccessat(dfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
            assign_attempts(&r->runs[i]);
            i++;
            continue;
        }
        run_free(r->h, &r->runs[i]);
        memmove(&r->runs[i], &r->runs[i + 1], (r->nruns - i - 1) * sizeof *r->runs);
        r->nruns--;
    }
}

static int discover(tbr *r)
{
    if (r->found)
        return TROPT_OK;
    int dfd = open(r->real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return r->h->error(TROPT_EBACKEND, "cannot read the logdir '%s': %s", r->logdir,
                           strerror(errno));
    int rc = walk(r, dfd, r->real, "", 0);
    if (rc == TROPT_OK)
        rc = join_same_ids(r);
    if (rc == TROPT_OK)
        drop_deleted(r, dfd);
    close(dfd);
    r->found = rc == TROPT_OK;
    if (rc != TROPT_OK) { /* the next call starts again from nothing */
        for (size_t i = 0; i < r->nruns; i++)
            run_free(r->h, &r->runs[i]);
        r->nruns = 0;
    }
    return rc;
}

/* ---- list_runs ------------------------------------------------------------------ */

static void to_info(const tbr_run *run, tropt_stored_run *ri)
{
    /* zeroed whole, then every member of ABI 1.2 filled (attempts >= 1) */
    memset(ri, 0, sizeof *ri);
    ri->run_id = run->id;
    ri->experiment = run->experiment ? run->experiment : "";
    ri->status = run->status;
    ri->started_at = run->started_at;
    ri->ended_at = run->ended_at;
    ri->host = run->host;
    ri->pid = run->pid;
    ri->n_steps = run->n_steps;
    ri->name = run->name;
    ri->tags = (const char *const *)run->tags;
    ri->n_tags = run->ntags;
    ri->note = run->note;
    ri->attempts = run->natt ? (int64_t)run->natt : 1;
    ri->last_step = run->last_step;
    ri->checkpoint_step = run->checkpoint_step;
    ri->resume_key = run->resume_key;
    ri->pidns = run->pidns;
    ri->heartbeat_age = NAN;
    ri->stale_after = NAN;
    ri->provenance = run->has_prov ? &run->prov : NULL;
}

/* Count the steps of every attempt of the scanned run (a full pass). */
static int count_steps(tbr_scan *s)
{
    tbr_run *run = s->run;
    int rc = TROPT_OK;
    int64_t bound = INT64_MAX;
    run->n_steps = 0;
    for (size_t k = run->natt; k-- > 0 && rc == TROPT_OK;) {
        rc = tbr_merge(s, run->att[k].attempt, bound, NULL, NULL, NULL);
        if (run->att[k].from_step < bound)
            bound = run->att[k].from_step;
    }
    return rc;
}

/* What list_runs says of a run: from the files' indexes and what was
 * written after them (runs of ours whose steps the indexes describe), else
 * from both passes over every file. */
static int survey(tbr *r, tbr_run *run)
{
    tbr_scan s;
    tbr_scan_init(&s, r, run);
    int rc = run->ours ? tbr_quick_scan(&s) : TROPT_OK;
    int quick = rc == TROPT_OK && run->ours ? tbr_count_from_stats(r, run) : 0;
    if (quick < 0)
        rc = oom(r);
    else if (quick == 0 && rc == TROPT_OK) {
        tbr_scan_free(&s);
        tbr_scan_init(&s, r, run);
        rc = tbr_prescan(&s);
        if (rc == TROPT_OK)
            rc = count_steps(&s);
    }
    tbr_scan_free(&s);
    return rc;
}

/* qsort's comparison reads the runs here (per thread). */
static _Thread_local const tbr_run *sort_runs;

/* Oldest first; runs without a start time last; then by id. */
static int cmp_start(const void *a, const void *b)
{
    const tbr_run *x = &sort_runs[*(const size_t *)a], *y = &sort_runs[*(const size_t *)b];
    int nx = isnan(x->started_at), ny = isnan(y->started_at);
    if (nx != ny)
        return nx - ny;
    if (!nx && x->started_at != y->started_at)
        return x->started_at < y->started_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

int tbr_list_runs(void *self, tropt_run_list_fn fn, void *userdata)
{
    tbr *r = self;
    int rc = discover(r);
    for (size_t i = 0; i < r->nruns && rc == TROPT_OK; i++)
        rc = survey(r, &r->runs[i]);
    if (rc != TROPT_OK)
        return rc;
    size_t *order = r->h->malloc((r->nruns ? r->nruns : 1) * sizeof *order);
    if (!order)
        return oom(r);
    for (size_t i = 0; i < r->nruns; i++)
        order[i] = i;
    sort_runs = r->runs;
    qsort(order, r->nruns, sizeof *order, cmp_start);
    for (size_t i = 0; i < r->nruns && rc == 0; i++) {
        tropt_stored_run ri;
        to_info(&r->runs[order[i]], &ri);
        rc = fn(&ri, userdata);
    }
    r->h->free(order);
    return rc;
}

/* ---- read_run ------------------------------------------------------------------- */

/* The flattened form of a config or summary object: keys "a/b" (owned by
 * keys[]), objects with members expanded, everything else one typed field. */
typedef struct flat {
    tropt_field *f;
    char **keys;
    size_t n, cap;
} flat;

static void flat_free(const tropt_host *h, flat *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        h->free(fl->keys[i]);
    h->free(fl->keys);
    h->free(fl->f);
    memset(fl, 0, sizeof *fl);
}

static void typed(tropt_field *f, const json_t *v)
{
    if (json_is_integer(v)) {
        f->type = TROPT_INT;
        f->v.i = json_integer_value(v);
    } else if (json_is_real(v)) {
        f->type = TROPT_REAL;
        f->v.r = json_real_value(v);
    } else if (json_is_boolean(v)) {
        f->type = TROPT_BOOL;
        f->v.b = json_is_true(v);
    } else if (json_is_string(v)) {
        f->type = TROPT_STRING;
        f->v.s = json_string_value(v);
    } else if (json_is_null(v)) {
        f->type = TROPT_NULL;
    } else {
        f->type = TROPT_JSON;
        f->v.json = v;
    }
}

static int flat_add(const tropt_host *h, flat *fl, const char *prefix, const char *key,
                    const json_t *v)
{
    size_t plen = prefix ? strlen(prefix) + 1 : 0;
    char *k = h->malloc(plen + strlen(key) + 1);
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
            if ((rc = flat_add(h, fl, k, mk, mv)) != 0)
                break;
        }
        h->free(k);
        return rc;
    }
    void **const arrays[] = {(void **)&fl->f, (void **)&fl->keys};
    const size_t elem[] = {sizeof *fl->f, sizeof *fl->keys};
    if (tropt_host_grow_all(h, &fl->cap, fl->n + 1, 2, arrays, elem) != 0) {
        h->free(k);
        return -1;
    }
    fl->keys[fl->n] = k;
    fl->f[fl->n].key = k;
    typed(&fl->f[fl->n++], v);
    return 0;
}

static int flatten(const tropt_host *h, flat *fl, const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (flat_add(h, fl, NULL, k, v))
            return -1;
    }
    return 0;
}

/* A START or END event with obj (config or summary) flattened. */
static int emit_with(tbr *r, tropt_event *ev, const json_t *obj, tropt_event_fn fn, void *ud)
{
    flat fl = {0};
    if (obj && flatten(r->h, &fl, obj) != 0) {
        flat_free(r->h, &fl);
        return oom(r);
    }
    ev->fields = fl.f;
    ev->n = fl.n;
    int rc = fn(ev, ud);
    flat_free(r->h, &fl);
    return rc;
}

/* The run of id (a full id, or a unique prefix of 8+ characters). */
static int find_run(tbr *r, const char *id, tbr_run **out)
{
    size_t len = strlen(id), hits = 0;
    *out = NULL;
    if (len < 8)
        return r->h->error(TROPT_EINVAL, "%s: '%s' is not a run id (or a prefix of 8+)", r->logdir,
                           id);
    for (size_t i = 0; i < r->nruns; i++) {
        if (strcmp(r->runs[i].id, id) == 0) {
            *out = &r->runs[i];
            return TROPT_OK;
        }
        if (strncmp(r->runs[i].id, id, len) == 0 && hits++ == 0)
            *out = &r->runs[i];
    }
    if (hits == 1)
        return TROPT_OK;
    *out = NULL;
    if (hits == 0)
        return r->h->error(TROPT_EINVAL, "%s: no run '%s'", r->logdir, id);
    return r->h->error(TROPT_EINVAL, "%s: run id prefix '%s' is ambiguous (%zu runs)", r->logdir,
                       id, hits);
}

/* The attempts of START (from h->malloc). */
static tropt_attempt *attempts_of(const tropt_host *h, const tbr_run *run)
{
    tropt_attempt *a = h->malloc((run->natt ? run->natt : 1) * sizeof *a);
    for (size_t k = 0; a && k < run->natt; k++) {
        const tbr_attempt *t = &run->att[k];
        a[k] = (tropt_attempt){t->attempt, t->from_step, t->started_at, t->ended_at,
                               t->status,  t->host,      t->pid};
        if (strcmp(t->status, "running") == 0 || strcmp(t->status, "crashed") == 0)
            a[k].ended_at = NAN;
    }
    return a;
}

/* The CHECKPOINT events of attempt k: each mark once, as last recorded
 * (its size and hash come in a second record). */
static int emit_marks(tbr_scan *s, int64_t k, const tropt_stored_run *info, tropt_event_fn fn,
                      void *ud)
{
    size_t n = json_array_size(s->marks);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const json_t *e = json_array_get(s->marks, i);
        int64_t a = json_integer_value(json_array_get(e, 0)),
                q = json_integer_value(json_array_get(e, 1));
        int later = a != k;
        for (size_t j = i + 1; j < n && !later; j++) {
            const json_t *o = json_array_get(s->marks, j);
            later = json_integer_value(json_array_get(o, 0)) == a &&
                    json_integer_value(json_array_get(o, 1)) == q;
        }
        if (later)
            continue;
        const char *text = json_string_value(json_array_get(e, 2));
        tev_event ev;
        char err[160];
        if (tev_decode(text, strlen(text), &ev, err, sizeof err) != 0)
            return strstr(err, "memory") ? oom(s->r) : 0;
        tropt_event out = {.kind = TROPT_EVENT_CHECKPOINT,
                           .run = info,
                           .step = ev.checkpoint.step,
                           .time = ev.checkpoint.time,
                           .attempt = k,
                           .checkpoint = &ev.checkpoint};
        rc = fn(&out, ud);
        tev_event_clear(&ev);
    }
    return rc;
}

/* Attempt k > 1 begins: its config. */
static int emit_attempt(tbr *r, const tbr_attempt *a, const tropt_stored_run *info,
                        tropt_event_fn fn, void *ud)
{
    const json_t *config = json_object_get(a->ident, "config");
    if (!json_is_object(config))
        config = NULL;
    tropt_event ev = {.kind = TROPT_EVENT_ATTEMPT,
                      .run = info,
                      .step = a->from_step,
                      .time = a->started_at,
                      .config = config,
                      .attempt = a->attempt};
    return emit_with(r, &ev, config, fn, ud);
}

/* Every attempt: its ATTEMPT (not the first's), steps, marks, samples. */
static int emit_attempts(tbr_scan *s, const tropt_stored_run *info, tropt_event_fn fn, void *ud)
{
    tbr_run *run = s->run;
    int rc = TROPT_OK;
    for (size_t k = 0; k < run->natt && rc == TROPT_OK; k++) {
        const tbr_attempt *a = &run->att[k];
        if (k > 0)
            rc = emit_attempt(s->r, a, info, fn, ud);
        if (rc == TROPT_OK)
            rc = tbr_merge(s, a->attempt, INT64_MAX, info, fn, ud);
        if (rc == TROPT_OK)
            rc = emit_marks(s, a->attempt, info, fn, ud);
        if (rc == TROPT_OK)
            rc = tbr_emit_system(s, a->attempt, info, fn, ud);
    }
    return rc;
}

int tbr_read_run(void *self, const char *run_id, tropt_event_fn fn, void *userdata)
{
    tbr *r = self;
    tbr_run *run;
    int rc = discover(r);
    if (rc == TROPT_OK)
        rc = find_run(r, run_id, &run);
    if (rc != TROPT_OK)
        return rc;
    tbr_scan s;
    tbr_scan_init(&s, r, run);
    rc = tbr_prescan(&s);
    tropt_stored_run info;
    to_info(run, &info);
    info.n_steps = -1;
    tropt_attempt *att = rc == TROPT_OK ? attempts_of(r->h, run) : NULL;
    if (rc == TROPT_OK && !att)
        rc = oom(r);
    if (rc == TROPT_OK) {
        tropt_event ev = {.kind = TROPT_EVENT_START,
                          .run = &info,
                          .time = info.started_at,
                          .config = run->config,
                          .attempt = 1,
                          .attempts = att,
                          .n_attempts = run->natt};
        rc = emit_with(r, &ev, run->config, fn, userdata);
    }
    if (rc == TROPT_OK)
        rc = emit_attempts(&s, &info, fn, userdata);
    if (rc == TROPT_OK && strcmp(run->status, "running") != 0) {
        tropt_event ev = {.kind = TROPT_EVENT_END,
                          .run = &info,
                          .status = run->status,
                          .ended_at = run->ended_at,
                          .summary = run->summary,
                          .attempt = (int64_t)run->natt};
        rc = emit_with(r, &ev, run->summary, fn, userdata);
    }
    r->h->free(att);
    tbr_scan_free(&s);
    return rc;
}

int tbr_lookup(tbr *r, const char *run_id, tbr_run **out)
{
    *out = NULL;
    int rc = discover(r);
    for (size_t i = 0; i < r->nruns && rc == TROPT_OK && !*out; i++)
        if (strcmp(r->runs[i].id, run_id) == 0)
            *out = &r->runs[i];
    if (rc == TROPT_OK && !*out)
        rc = r->h->error(TROPT_EINVAL, "no run %s in '%s'", run_id, r->logdir);
    return rc;
}
