/* tools/source.c - the run source: a reader over one backend, the runs it
 * lists and one run loaded into a cli_run (see source.h). */
#include "source.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tropt/host.h>

#include "cli.h"
#include "tropt_num.h"

#define DEFAULT_DB "tropt.db"

struct cli_source {
    tropt_reader *r;
    char *spec;  /* the whole spec read */
    char *shown; /* cli_shown_spec of the spec */
    char *err;   /* the last failure's message */
};

/* ---- messages -------------------------------------------------------------- */

static int fail(cli_source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(cli_source *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(s->err);
    if (vasprintf(&s->err, fmt, ap) < 0)
        s->err = NULL;
    va_end(ap);
    return -1;
}

static int fail_reader(cli_source *s, int rc)
{
    if (rc == TROPT_ENOMEM || rc > 0)
        return fail(s, "out of memory");
    return fail(s, "%s", tropt_error_message());
}

const char *cli_source_error(const cli_source *s)
{
    return s && s->err ? s->err : "out of memory";
}

const char *cli_source_name(const cli_source *s)
{
    return s->shown;
}

const char *cli_source_spec(const cli_source *s)
{
    return s->spec;
}

/* The spec as messages show it: the backend name and its path= or dir=
 * option only, so that a secret option (pg's conninfo with a password, a
 * token) never reaches the terminal.  Static buffer: one message at a time. */
const char *cli_shown_spec(const char *spec)
{
    static char buf[1024];
    size_t name = strcspn(spec, ":");
    snprintf(buf, sizeof buf, "%.*s", (int)(name < 200 ? name : 200), spec);
    const char *opts = spec[name] == ':' ? spec + name + 1 : NULL;
    while (opts && *opts) {
        size_t len = strcspn(opts, ",");
        if (strncmp(opts, "path=", 5) == 0 || strncmp(opts, "dir=", 4) == 0) {
            size_t used = strlen(buf);
            snprintf(buf + used, sizeof buf - used, "%c%.*s", strchr(buf, ':') ? ',' : ':',
                     (int)len, opts);
        }
        opts = opts[len] ? opts + len + 1 : NULL;
    }
    return buf;
}

/* ---- opening ----------------------------------------------------------------- */

/* "sqlite:path=PATH", the value quoted when PATH holds a character the spec
 * grammar gives a meaning (core/spec.c). */
static char *db_spec(const char *path)
{
    char *spec = NULL;
    if (path[0] && !strpbrk(path, ",;\"\\ \t\r\n"))
        return asprintf(&spec, "sqlite:path=%s", path) < 0 ? NULL : spec;
    char *q = malloc(2 * strlen(path) + 16), *o = q;
    if (!q)
        return NULL;
    o += sprintf(o, "sqlite:path=\"");
    for (const char *p = path; *p; p++) {
        if (*p == '"' || *p == '\\')
            *o++ = '\\';
        *o++ = *p;
    }
    strcpy(o, "\"");
    return q;
}

static int open_spec(cli_source *s, const char *spec, int is_default)
{
    if (!(s->shown = strdup(cli_shown_spec(spec))))
        return fail(s, "out of memory");
    struct stat st;
    /* a run logged with TROPT_TRACKER set went there: say how to read it
     * (naming the variable, never its value: a spec may hold a password) */
    const char *env = getenv("TROPT_TRACKER");
    if (is_default && stat(DEFAULT_DB, &st) != 0 && errno == ENOENT)
        return fail(s,
                    "no %s in this folder (the default store); give --db PATH for an sqlite "
                    "database, or --from SPEC for any backend (--from csv:dir=tropt-logs, --from "
                    "jsonl:path=tropt.jsonl)%s",
                    DEFAULT_DB,
                    env && *env ? "; TROPT_TRACKER is set: give --from the backend of it that "
                                  "reads back (--from \"$TROPT_TRACKER\" when it names one)"
                                : "");
    int rc = tropt_reader_open(&s->r, spec);
    return rc == TROPT_OK ? 0 : fail_reader(s, rc);
}

void cli_source_free(cli_source *s)
{
    if (!s)
        return;
    tropt_reader_free(s->r);
    free(s->spec);
    free(s->shown);
    free(s->err);
    free(s);
}

int cli_source_open(cli_source **out, const char *db, const char *from, char **err)
{
    *out = NULL;
    *err = NULL;
    cli_source *s = calloc(1, sizeof *s);
    char *spec = from ? strdup(from) : db_spec(db ? db : DEFAULT_DB);
    if (!s || !spec) {
        free(s);
        free(spec);
        *err = strdup("out of memory");
        return -1;
    }
    s->spec = spec;
    int rc = open_spec(s, spec, !db && !from);
    if (rc != 0) {
        *err = s->err ? s->err : strdup("out of memory");
        s->err = NULL;
        cli_source_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* ---- listing ----------------------------------------------------------------- */

static void strings_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void prov_free(cli_provenance *p)
{
    free(p->command);
    free(p->cwd);
    free(p->git_commit);
    free(p->version);
}

static void info_free(cli_run_info *i)
{
    free(i->run_id);
    free(i->experiment);
    free(i->status);
    free(i->host);
    free(i->name);
    strings_free(i->tags, i->n_tags);
    free(i->note);
    free(i->resume_key);
    prov_free(&i->prov);
}

void cli_run_infos_free(cli_run_info *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        info_free(&v[i]);
    free(v);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* *to = a copy of from (NULL stays NULL); 0, or -1 when memory ran out. */
static int dup_into(char **to, const char *from)
{
    *to = dup_or_null(from);
    return *to || !from ? 0 : -1;
}

static int prov_copy(cli_provenance *to, const tropt_provenance *p)
{
    if (!p)
        return 0;
    return dup_into(&to->command, p->command) | dup_into(&to->cwd, p->cwd) |
           dup_into(&to->git_commit, p->git_commit) | dup_into(&to->version, p->version);
}

static int tags_copy(cli_run_info *to, const tropt_stored_run *run)
{
    if (run->n_tags == 0 || !run->tags)
        return 0;
    if (!(to->tags = calloc(run->n_tags, sizeof *to->tags)))
        return -1;
    to->n_tags = run->n_tags;
    int rc = 0;
    for (size_t i = 0; i < run->n_tags; i++)
        rc |= dup_into(&to->tags[i], run->tags[i] ? run->tags[i] : "");
    return rc;
}

/* The ABI 1.2 members (the reader layer fills them for every plugin). */
static int info_copy_v12(cli_run_info *to, const tropt_stored_run *run)
{
    to->attempts = run->attempts > 0 ? run->attempts : 1;
    to->last_step = run->last_step;
    to->checkpoint_step = run->checkpoint_step;
    int rc = dup_into(&to->name, run->name ? run->name : run->run_id) |
             dup_into(&to->note, run->note) | dup_into(&to->resume_key, run->resume_key);
    return rc | tags_copy(to, run) | prov_copy(&to->prov, run->provenance);
}

/* Copy a stored run; 0, or -1 when memory ran out (*to freed). */
static int info_copy(cli_run_info *to, const tropt_stored_run *run)
{
    *to = (cli_run_info){.run_id = strdup(run->run_id ? run->run_id : ""),
                         .experiment = strdup(run->experiment ? run->experiment : ""),
                         .status = strdup(run->status ? run->status : "running"),
                         .host = dup_or_null(run->host),
                         .started_at = run->started_at,
                         .ended_at = run->ended_at,
                         .pid = run->pid};
    int rc = info_copy_v12(to, run);
    if (rc == 0 && to->run_id && to->experiment && to->status && (to->host || !run->host))
        return 0;
    info_free(to);
    return -1;
}

const cli_run_info *cli_run_infos_find(const cli_run_info *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].run_id, id) == 0)
            return &v[i];
    return NULL;
}

typedef struct listing {
    cli_run_info *v;
    size_t n, cap;
} listing;

static int collect(const tropt_stored_run *run, void *ud)
{
    listing *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        cli_run_info *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return 1;
        l->v = v;
        l->cap = cap;
    }
    if (info_copy(&l->v[l->n], run) != 0)
        return 1;
    l->n++;
    return 0;
}

int cli_source_list(cli_source *s, cli_run_info **out, size_t *n)
{
    listing l = {0};
    int rc = tropt_reader_list_runs(s->r, collect, &l);
    if (rc != TROPT_OK) {
        cli_run_infos_free(l.v, l.n);
        return fail_reader(s, rc);
    }
    *out = l.v;
    *n = l.n;
    return 0;
}

/* ---- finding a run by prefix ---------------------------------------------- */

int cli_source_find(cli_source *s, const char *ref, char **id)
{
    *id = NULL;
    char full[37];
    /* one rule for every command and backend: a full id, a unique id prefix
     * or a name (tropt_reader_resolve; an ambiguous one lists candidates) */
    if (tropt_reader_resolve(s->r, ref, full) != TROPT_OK)
        return fail(s, "%s (in %s)", tropt_error_message(), s->shown);
    if (!(*id = strdup(full)))
        return fail(s, "out of memory");
    return 0;
}

/* ---- loading a run ----------------------------------------------------------- */

static void field_free(tropt_field *f)
{
    free((char *)f->key);
    if (f->type == TROPT_STRING)
        free((char *)f->v.s);
    if (f->type == TROPT_JSON)
        json_decref((json_t *)f->v.json);
    f->type = TROPT_NULL;
}

/* Copy the value of `from` into *to (whose key stays); -1 on memory. */
static int value_copy(tropt_field *to, const tropt_field *from)
{
    to->type = from->type;
    to->v = from->v;
    if (from->type == TROPT_STRING && !(to->v.s = strdup(from->v.s)))
        return -1;
    if (from->type == TROPT_JSON && !(to->v.json = json_deep_copy(from->v.json)))
        return -1;
    return 0;
}

static void fields_free(tropt_field *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        field_free(&f[i]);
    free(f);
}

static int cmp_field(const void *a, const void *b)
{
    return strcmp(((const tropt_field *)a)->key, ((const tropt_field *)b)->key);
}

/* A sorted owned copy of n fields; -1 on memory. */
static int fields_copy(tropt_field **out, size_t *n_out, const tropt_field *f, size_t n)
{
    tropt_field *c = calloc(n ? n : 1, sizeof *c);
    size_t k = 0;
    for (; c && k < n; k++) {
        c[k].type = TROPT_NULL;
        if (!(c[k].key = strdup(f[k].key)) || value_copy(&c[k], &f[k]) != 0) {
            c[k].type = TROPT_NULL;
            break;
        }
    }
    if (!c || k < n) {
        fields_free(c, c ? k + 1 : 0);
        return -1;
    }
    qsort(c, n, sizeof *c, cmp_field);
    *out = c;
    *n_out = n;
    return 0;
}

/* The metrics of a run being loaded: an array and an open-addressing index
 * (slot: index + 1, 0 empty). */
typedef struct loading {
    cli_run *run;
    size_t cap;
    size_t *slot, n_slot;
    int oom;
} loading;

static size_t slot_of(const loading *l, const char *key)
{
    size_t h = (size_t)tropt_hash_str(key, NULL) & (l->n_slot - 1);
    while (l->slot[h] && strcmp(l->run->metrics[l->slot[h] - 1].key, key) != 0)
        h = (h + 1) & (l->n_slot - 1);
    return h;
}

static int grow(loading *l)
{
    size_t n_slot = l->n_slot ? 2 * l->n_slot : 64;
    size_t *slot = calloc(n_slot, sizeof *slot);
    cli_metric *m = slot ? realloc(l->run->metrics, n_slot / 2 * sizeof *m) : NULL;
    if (!m) {
        free(slot);
        return -1;
    }
    l->run->metrics = m;
    free(l->slot);
    l->slot = slot;
    l->n_slot = n_slot;
    for (size_t i = 0; i < l->run->n_metrics; i++)
        l->slot[slot_of(l, m[i].key)] = i + 1;
    return 0;
}

/* The metric of key, added when new; NULL on memory. */
static cli_metric *metric_of(loading *l, const char *key)
{
    if (2 * (l->run->n_metrics + 1) > l->n_slot && grow(l) != 0)
        return NULL;
    size_t h = slot_of(l, key);
    if (l->slot[h])
        return &l->run->metrics[l->slot[h] - 1];
    cli_metric *m = &l->run->metrics[l->run->n_metrics];
    *m = (cli_metric){.key = strdup(key), .last_step = -1, .min = NAN, .max = NAN};
    if (!m->key)
        return NULL;
    m->last.type = TROPT_NULL;
    l->slot[h] = ++l->run->n_metrics;
    return m;
}

static void metric_stats(cli_metric *m, const tropt_field *f)
{
    double x = f->type == TROPT_INT ? (double)f->v.i : f->type == TROPT_REAL ? f->v.r : NAN;
    if (f->type != TROPT_INT && f->type != TROPT_REAL)
        return;
    m->n_num++;
    if (isnan(x))
        return;
    if (isnan(m->min) || x < m->min)
        m->min = x;
    if (isnan(m->max) || x > m->max)
        m->max = x;
}

static int step_field(loading *l, int64_t step, const tropt_field *f)
{
    cli_metric *m = metric_of(l, f->key);
    if (!m)
        return -1;
    m->n++;
    metric_stats(m, f);
    if (step < m->last_step)
        return 0;
    tropt_field old = m->last;
    old.key = NULL;
    m->last.key = m->key;
    m->last_step = step;
    if (value_copy(&m->last, f) != 0) {
        m->last.type = TROPT_NULL;
        field_free(&old);
        return -1;
    }
    field_free(&old);
    return 0;
}

static int on_step(loading *l, const tropt_event *ev)
{
    l->run->steps++;
    if (ev->step > l->run->max_step)
        l->run->max_step = ev->step;
    for (size_t i = 0; i < ev->n; i++)
        if (step_field(l, ev->step, &ev->fields[i]) != 0)
            return -1;
    return 0;
}

/* ---- attempts and checkpoint marks ------------------------------------------- */

static void attempt_free(cli_attempt *a)
{
    free(a->status);
    free(a->host);
}

static void mark_free(cli_mark *m)
{
    free(m->path);
    free(m->sha256);
    free(m->error);
}

static int attempt_copy(cli_attempt *to, const tropt_attempt *a)
{
    *to = (cli_attempt){.attempt = a->attempt,
                        .from_step = a->from_step,
                        .started_at = a->started_at,
                        .ended_at = a->ended_at,
                        .pid = a->pid};
    return dup_into(&to->status, a->status ? a->status : "running") | dup_into(&to->host, a->host);
}

/* The attempts START lists; none listed: one attempt from step 0 with the
 * run's identity. */
static int on_attempts(cli_run *r, const tropt_event *ev)
{
    const tropt_stored_run *run = ev->run;
    tropt_attempt one = {1, 0, run->started_at, run->ended_at, run->status, run->host, run->pid};
    const tropt_attempt *v = ev->n_attempts && ev->attempts ? ev->attempts : &one;
    size_t n = ev->n_attempts && ev->attempts ? ev->n_attempts : 1;
    if (!(r->attempts = calloc(n, sizeof *r->attempts)))
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++, r->n_attempts++)
        rc |= attempt_copy(&r->attempts[i], &v[i]);
    return rc;
}

static int on_start(cli_run *r, const tropt_event *ev)
{
    if (r->info.run_id) /* a second START: keep the first */
        return 0;
    int rc = info_copy(&r->info, ev->run);
    if (rc == 0)
        rc = fields_copy(&r->config, &r->n_config, ev->fields, ev->n);
    return rc == 0 ? on_attempts(r, ev) : rc;
}

/* A later attempt: the run's config is the latest attempt's (as the sqlite
 * and pg `params` views show it). */
static int on_attempt(cli_run *r, const tropt_event *ev)
{
    tropt_field *config = NULL;
    size_t n = 0;
    if (fields_copy(&config, &n, ev->fields, ev->n) != 0)
        return -1;
    fields_free(r->config, r->n_config);
    r->config = config;
    r->n_config = n;
    return 0;
}

static int mark_copy(cli_mark *to, const tropt_checkpoint *m)
{
    *to = (cli_mark){.attempt = m->attempt < 1 ? 1 : m->attempt,
                     .seq = m->seq,
                     .step = m->step,
                     .time = m->time,
                     .size = m->size};
    return dup_into(&to->path, m->path ? m->path : "") | dup_into(&to->sha256, m->sha256) |
           dup_into(&to->error, m->error);
}

/* A mark read again (its hash came later) replaces the earlier one. */
static int on_mark(cli_run *r, const tropt_event *ev)
{
    const tropt_checkpoint *m = ev->checkpoint;
    if (!m)
        return 0;
    int64_t attempt = m->attempt < 1 ? 1 : m->attempt;
    size_t i = 0;
    while (i < r->n_marks && !(r->marks[i].attempt == attempt && r->marks[i].seq == m->seq))
        i++;
    if (i == r->n_marks) {
        cli_mark *v = realloc(r->marks, (r->n_marks + 1) * sizeof *v);
        if (!v)
            return -1;
        r->marks = v;
        r->n_marks++;
    } else {
        mark_free(&r->marks[i]);
    }
    int rc = mark_copy(&r->marks[i], m);
    if (rc != 0) /* keep the array whole for cli_run_free */
        r->marks[i] = (cli_mark){0};
    return rc;
}

static int on_end(cli_run *r, const tropt_event *ev)
{
    char *status = strdup(ev->status ? ev->status : "finished");
    int rc = status ? fields_copy(&r->summary, &r->n_summary, ev->fields, ev->n) : -1;
    if (status) {
        free(r->info.status);
        r->info.status = status;
    }
    r->info.ended_at = ev->ended_at;
    return rc;
}

static int on_event(const tropt_event *ev, void *ud)
{
    loading *l = ud;
    cli_run *r = l->run;
    int rc = 0;
    switch (ev->kind) {
    case TROPT_EVENT_START:
        rc = on_start(r, ev);
        break;
    case TROPT_EVENT_STEP:
        rc = on_step(l, ev);
        break;
    case TROPT_EVENT_ATTEMPT:
        rc = on_attempt(r, ev);
        break;
    case TROPT_EVENT_CHECKPOINT:
        rc = on_mark(r, ev);
        break;
    case TROPT_EVENT_SYSTEM:
        r->n_system++;
        break;
    case TROPT_EVENT_END:
        rc = on_end(r, ev);
        break;
    }
    l->oom = rc != 0;
    return l->oom;
}

const char *cli_attempt_status(const cli_run *r, size_t i)
{
    if (i + 1 == r->n_attempts)
        return r->info.status;
    const char *s = r->attempts[i].status;
    return strcmp(s, "running") == 0 ? "crashed" : s;
}

static int cmp_metric(const void *a, const void *b)
{
    return strcmp(((const cli_metric *)a)->key, ((const cli_metric *)b)->key);
}

void cli_run_free(cli_run *r)
{
    info_free(&r->info);
    fields_free(r->config, r->n_config);
    fields_free(r->summary, r->n_summary);
    for (size_t i = 0; i < r->n_metrics; i++) {
        r->metrics[i].last.key = NULL;
        field_free(&r->metrics[i].last);
        free(r->metrics[i].key);
    }
    free(r->metrics);
    for (size_t i = 0; i < r->n_attempts; i++)
        attempt_free(&r->attempts[i]);
    free(r->attempts);
    for (size_t i = 0; i < r->n_marks; i++)
        mark_free(&r->marks[i]);
    free(r->marks);
    memset(r, 0, sizeof *r);
}

int cli_source_load(cli_source *s, const char *id, cli_run *out)
{
    memset(out, 0, sizeof *out);
    out->max_step = -1;
    loading l = {.run = out};
    int rc = tropt_reader_read_run(s->r, id, on_event, &l);
    free(l.slot);
    if (rc == TROPT_OK && !out->info.run_id) {
        cli_run_free(out);
        return fail(s, "%s: run %s has no start", s->shown, id);
    }
    if (rc != TROPT_OK) {
        cli_run_free(out);
        return l.oom ? fail(s, "out of memory") : fail_reader(s, rc);
    }
    if (out->n_metrics)
        qsort(out->metrics, out->n_metrics, sizeof *out->metrics, cmp_metric);
    for (size_t i = 0; i < out->n_metrics; i++)
        out->metrics[i].last.key = out->metrics[i].key;
    return 0;
}

static int streamed(cli_source *s, int rc)
{
    if (rc == TROPT_OK)
        return 0;
    if (rc > 0)
        return fail(s, "stopped");
    return fail_reader(s, rc);
}

int cli_source_stream(cli_source *s, const char *id, tropt_event_fn fn, void *userdata)
{
    return streamed(s, tropt_reader_read_run(s->r, id, fn, userdata));
}

int cli_source_history(cli_source *s, const char *id, tropt_event_fn fn, void *userdata)
{
    return streamed(s, tropt_reader_read_history(s->r, id, fn, userdata));
}

/* ---- changing the store ----------------------------------------------------- */

int cli_source_tracker(cli_source *s, tropt_tracker **t)
{
    *t = NULL;
    int rc = tropt_tracker_open(t, s->spec, NULL, NULL);
    return rc == TROPT_OK ? 0 : fail_reader(s, rc);
}

/* ---- lookups ----------------------------------------------------------------- */

const cli_metric *cli_run_metric(const cli_run *r, const char *key)
{
    cli_metric want = {.key = (char *)key};
    if (!r->n_metrics)
        return NULL;
    return bsearch(&want, r->metrics, r->n_metrics, sizeof want, cmp_metric);
}

const tropt_field *cli_fields_find(const tropt_field *f, size_t n, const char *key)
{
    tropt_field want = {.key = key};
    return n ? bsearch(&want, f, n, sizeof want, cmp_field) : NULL;
}

const cli_metric *cli_run_primary(const cli_run *r, const char *key)
{
    if (key)
        return cli_run_metric(r, key);
    const cli_metric *m = cli_run_metric(r, "loss"), *found = NULL;
    if (m)
        return m;
    for (size_t i = 0; i < r->n_metrics; i++) {
        const char *slash = strrchr(r->metrics[i].key, '/');
        if (!slash || strcmp(slash + 1, "loss") != 0)
            continue;
        if (found)
            return NULL; /* two candidates: none is the primary */
        found = &r->metrics[i];
    }
    return found;
}
