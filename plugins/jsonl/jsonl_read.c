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

#include "jsonl_priv.h"
#include "tropt_id.h"
#include "tropt_mem.h"

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

int tjl_scan(reader *r, int warn, scan_fn fn, void *ud)
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
    rr->last_step = rr->checkpoint_step = -1;
    rr->started_at = NAN;
    return rr;
}

/* *dst = a copy of src (NULL: NULL); -1 when memory ran out. */
static int set_str(reader *r, char **dst, const char *src)
{
    r->host->free(*dst);
    *dst = NULL;
    return src && !(*dst = tropt_host_strdup(r->host, src)) ? -1 : 0;
}

/* The run's identity as its first run_start gives it. */
static int first_start(reader *r, runrec *rr, const tev_event *ev)
{
    const tropt_provenance *p = &ev->provenance;
    rr->started = 1;
    rr->started_at = ev->run_started_at;
    if (set_str(r, &rr->experiment, ev->experiment ? ev->experiment : "") ||
        set_str(r, &rr->name, ev->name) || set_str(r, &rr->resume_key, ev->resume_key) ||
        set_str(r, &rr->command, p->command) || set_str(r, &rr->cwd, p->cwd) ||
        set_str(r, &rr->git_commit, p->git_commit) || set_str(r, &rr->version, p->version))
        return -1;
    return 0;
}

/* A run_start: a new attempt (or the same one again: a replay, ignored). */
static int gather_start(reader *r, runrec *rr, const tev_event *ev)
{
    jattempt *last = rr->n_att ? &rr->att[rr->n_att - 1] : NULL;
    if (last && ev->attempt <= last->attempt)
        return 0; /* an attempt the journal holds already (replayed) */
    if (!rr->started && first_start(r, rr, ev) != 0)
        return -1;
    if (tropt_host_grow(r->host, (void **)&rr->att, &rr->att_cap, rr->n_att + 1, sizeof *rr->att) !=
        0)
        return -1;
    jattempt *a = &rr->att[rr->n_att++];
    memset(a, 0, sizeof *a);
    a->attempt = ev->attempt;
    a->from_step = ev->attempt > 1 ? ev->from_step : 0;
    a->started_at = ev->time;
    a->ended_at = NAN;
    strcpy(a->status, "running");
    a->pid = ev->pid;
    a->file = r->cur_file;
    a->off = r->cur_off;
    rr->ended = 0;
    rr->deleted = 0; /* a run_start after a delete: refused by the writer, so a
                      * journal edited by hand; the later event wins */
    if (ev->pidns && set_str(r, &rr->pidns, ev->pidns))
        return -1;
    return ev->host && set_str(r, &a->host, ev->host) ? -1 : 0;
}

static int has_tag(const runrec *rr, const char *tag, size_t *at)
{
    for (size_t i = 0; i < rr->n_tags; i++)
        if (strcmp(rr->tags[i], tag) == 0) {
            *at = i;
            return 1;
        }
    return 0;
}

static int gather_annotate(reader *r, runrec *rr, const tropt_annotation *a)
{
    size_t at;
    switch (a->kind) {
    case TROPT_ANNOTATE_TAG:
        if (has_tag(rr, a->text, &at))
            return 0;
        if (tropt_host_grow(r->host, (void **)&rr->tags, &rr->tags_cap, rr->n_tags + 1,
                            sizeof *rr->tags) != 0)
            return -1;
        rr->tags[rr->n_tags] = NULL;
        return set_str(r, &rr->tags[rr->n_tags++], a->text);
    case TROPT_ANNOTATE_UNTAG:
        if (has_tag(rr, a->text, &at)) {
            r->host->free(rr->tags[at]);
            memmove(rr->tags + at, rr->tags + at + 1, (rr->n_tags - at - 1) * sizeof *rr->tags);
            rr->n_tags--;
        }
        return 0;
    case TROPT_ANNOTATE_NOTE:
        return set_str(r, &rr->note, *a->text ? a->text : NULL);
    case TROPT_ANNOTATE_RENAME:
        return set_str(r, &rr->name, a->text);
    }
    return 0;
}

static void gather_log(runrec *rr, const tev_event *ev)
{
    jattempt *a = rr->n_att ? &rr->att[rr->n_att - 1] : NULL;
    if (ev->step > rr->last_step)
        rr->last_step = ev->step;
    rr->n_logs++;
    if (!a || ev->attempt != a->attempt || ev->step < a->from_step ||
        (a->n > 0 && ev->step <= a->last)) {
        rr->unordered = 1; /* a step out of its attempt, or not ascending */
        return;
    }
    a->gaps |= a->n > 0 && ev->step != a->last + 1;
    if (a->n++ == 0)
        a->first = ev->step;
    a->last = ev->step;
}

/* Distinct steps with their current values, as the rule of attempts keeps
 * them (a step at or after a later attempt's first step is superseded):
 * counted from each attempt's range when its steps are consecutive; -1 when
 * that cannot tell without reading the steps again. */
static int64_t current_steps(const runrec *rr)
{
    if (rr->unordered)
        return -1;
    if (rr->n_att == 0)
        return 0;
    int64_t total = 0, below = INT64_MAX; /* the lowest first step of a later attempt */
    for (size_t i = rr->n_att; i-- > 0;) {
        const jattempt *a = &rr->att[i];
        if (a->n > 0 && below <= a->last) {
            if (a->gaps)
                return -1;
            total += below <= a->first ? 0 : below - a->first;
        } else {
            total += a->n;
        }
        if (a->from_step < below)
            below = a->from_step;
    }
    return total;
}

static void gather_end(runrec *rr, const tev_event *ev)
{
    rr->ended = 1;
    if (rr->n_att) {
        jattempt *a = &rr->att[rr->n_att - 1];
        a->ended_at = ev->time;
        snprintf(a->status, sizeof a->status, "%s", ev->status ? ev->status : "finished");
    }
}

static int gather(reader *r, const tev_event *ev, void *ud)
{
    runlist *l = ud;
    if (l->prefix && strncmp(ev->run_id, l->prefix, strlen(l->prefix)) != 0)
        return 0;
    runrec *rr = find_or_add(r, l, ev->run_id);
    int bad = !rr;
    switch (bad ? 0 : ev->type) {
    case TEV_RUN_START:
        bad = gather_start(r, rr, ev) != 0;
        break;
    case TEV_LOG:
        gather_log(rr, ev);
        break;
    case TEV_RUN_END:
        gather_end(rr, ev);
        break;
    case TEV_CHECKPOINT:
        rr->checkpoint_step = ev->checkpoint.step;
        rr->has_extra = 1;
        break;
    case TEV_SYSTEM:
        rr->has_extra = 1;
        break;
    case TEV_ANNOTATE:
        bad = gather_annotate(r, rr, &ev->annotation) != 0;
        break;
    case TEV_DELETE:
        rr->deleted = 1;
        break;
    default:
        break;
    }
    return bad ? r->host->error(TROPT_ENOMEM, "out of memory") : 0;
}

static void runrec_free(reader *r, runrec *rr)
{
    char **strs[] = {&rr->experiment, &rr->name, &rr->note,       &rr->resume_key, &rr->pidns,
                     &rr->command,    &rr->cwd,  &rr->git_commit, &rr->version};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        r->host->free(*strs[i]);
    for (size_t i = 0; i < rr->n_tags; i++)
        r->host->free(rr->tags[i]);
    r->host->free(rr->tags);
    for (size_t i = 0; i < rr->n_att; i++)
        r->host->free(rr->att[i].host);
    r->host->free(rr->att);
}

void tjl_runlist_free(reader *r, runlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        runrec_free(r, &l->v[i]);
    r->host->free(l->v);
    memset(l, 0, sizeof *l);
}

/* The runs of the journal: those deleted, or that have no run_start (a
 * spool piece holding only the steps of a run whose start is elsewhere is
 * still listed), are dropped. */
int tjl_gather_runs(reader *r, runlist *l)
{
    int rc = tjl_scan(r, 1, gather, l);
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].deleted) {
            runrec_free(r, &l->v[i]);
            continue;
        }
        l->v[k++] = l->v[i];
    }
    l->n = k;
    return rc;
}

void tjl_to_info(const runrec *rr, tropt_stored_run *ri, tropt_provenance *prov)
{
    memset(ri, 0, sizeof *ri);
    const jattempt *first = rr->n_att ? &rr->att[0] : NULL;
    const jattempt *last = rr->n_att ? &rr->att[rr->n_att - 1] : NULL;
    ri->run_id = rr->run_id;
    ri->experiment = rr->experiment ? rr->experiment : "";
    ri->status = last ? last->status : (rr->ended ? "finished" : "running");
    ri->started_at = rr->started ? rr->started_at : first ? first->started_at : NAN;
    ri->ended_at = last ? last->ended_at : NAN;
    ri->host = last ? last->host : NULL;
    ri->pid = last ? last->pid : 0;
    /* steps repeated, out of order or in several attempts: counted by read_run */
    ri->n_steps = current_steps(rr);
    ri->name = rr->name;
    ri->tags = (const char *const *)rr->tags;
    ri->n_tags = rr->n_tags;
    ri->note = rr->note;
    ri->attempts = rr->n_att ? rr->att[rr->n_att - 1].attempt : 1;
    ri->last_step = rr->last_step;
    ri->checkpoint_step = rr->checkpoint_step;
    ri->resume_key = rr->resume_key;
    ri->pidns = rr->pidns;
    ri->heartbeat_age = ri->stale_after = NAN;
    *prov = (tropt_provenance){rr->command, rr->cwd, rr->git_commit, rr->version};
    ri->provenance = prov;
}

int tjl_list_runs(void *self, tropt_run_list_fn fn, void *userdata)
{
    reader *r = self;
    runlist l = {0};
    int rc = tjl_gather_runs(r, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        tropt_stored_run ri;
        tropt_provenance prov;
        tjl_to_info(&l.v[i], &ri, &prov);
        rc = fn(&ri, userdata);
    }
    tjl_runlist_free(r, &l);
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

/* What the journal says of run_id before a writer opens it (again). */
typedef struct prior {
    const tropt_run *run;
    int deleted;      /* a delete event after its last run_start */
    int same;         /* run->attempt started already by this very process: a replay */
    int other;        /* run->attempt started already by another process */
    char by[256];     /* that other one: "pid P on H" */
    char key_run[64]; /* another live run carrying run->resume_key */
} prior;

/* Another run started with run's resume_key (and not deleted since). */
static void see_key(prior *p, const tev_event *ev)
{
    const char *key = p->run->resume_key;
    if (!key || strcmp(ev->run_id, p->run->run_id) == 0)
        return;
    if (ev->type == TEV_RUN_START && ev->resume_key && strcmp(ev->resume_key, key) == 0)
        snprintf(p->key_run, sizeof p->key_run, "%s", ev->run_id);
    else if (ev->type == TEV_DELETE && strcmp(ev->run_id, p->key_run) == 0)
        p->key_run[0] = '\0';
}

static void see_prior(prior *p, const tev_event *ev)
{
    const tropt_run *run = p->run;
    see_key(p, ev);
    if (strcmp(ev->run_id, run->run_id) != 0)
        return;
    if (ev->type == TEV_DELETE) {
        p->deleted = 1;
        return;
    }
    if (ev->type != TEV_RUN_START)
        return;
    p->deleted = 0;
    if (ev->attempt != run->attempt)
        return;
    double start = run->attempt > 1 ? run->attempt_started_at : run->started_at;
    int same = ev->time == start && ev->pid == run->pid && ev->host && run->host &&
               strcmp(ev->host, run->host) == 0;
    p->same |= same;
    if (!same && !p->other) {
        p->other = 1;
        snprintf(p->by, sizeof p->by, "pid %lld on %s", (long long)ev->pid,
                 ev->host ? ev->host : "?");
    }
}

int tjl_check_open(const char *path, const tropt_host *host, const tropt_run *run)
{
    tev_reader tr;
    if (tev_reader_open(&tr, path, NULL, NULL) != 0)
        return host->error(TROPT_EBACKEND, "%s: cannot read the journal: %s", path,
                           strerror(errno));
    prior p = {.run = run};
    tev_event ev;
    int got;
    while ((got = tev_reader_next(&tr, &ev)) == 1) {
        see_prior(&p, &ev);
        tev_event_clear(&ev);
    }
    tev_reader_close(&tr);
    if (got < 0)
        return host->error(TROPT_EBACKEND, "%s: read error: %s", path, strerror(errno));
    if (p.deleted)
        return host->error(TROPT_EINVAL,
                           "run %s was deleted from journal %s (tropt rm): it is not brought "
                           "back",
                           run->run_id, path);
    if (p.other && !p.same)
        return host->error(TROPT_EBACKEND,
                           "run %s: attempt %lld was already started in %s by %s (two processes "
                           "resumed the run at once: one run has one writer)",
                           run->run_id, (long long)run->attempt, path, p.by);
    if (p.key_run[0])
        return host->error(TROPT_EBACKEND,
                           "resume key '%s' already belongs to run %s in %s (two processes "
                           "started with one key at once: one run has one writer)",
                           run->resume_key, p.key_run, path);
    return TROPT_OK;
}
