/*
 * plugins/csv/csv_runinfo.c - the reader's ABI 1.2 side (README.md
 * "run.json", "Attempts"): run.json into tropt_stored_run (name, tags,
 * note, provenance, attempts, last_step from the attempts' counts brought
 * up to date by scanning only the records written since), and the marks
 * and samples of checkpoints.csv and system.csv as events.
 */
#include "csv_read.h"
#include "tropt_mem.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static double jreal(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static char *path_of(const tropt_host *h, const char *folder, const char *name)
{
    size_t n = strlen(folder) + strlen(name) + 2;
    char *p = h->malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", folder, name);
    return p;
}

/* The attempts of run.json, counts brought up to date from their files
 * (a killed writer's last rows); a folder written before attempts gets
 * one from its top-level members. */
static int attempts_fill(const tropt_host *h, const char *folder, const json_t *run, csv_info *ci)
{
    const json_t *arr = json_object_get(run, "attempts");
    size_t n = json_is_array(arr) && json_array_size(arr) ? json_array_size(arr) : 1;
    ci->atts = h->malloc(n * sizeof *ci->atts);
    ci->counts = json_array();
    if (!ci->atts || !ci->counts)
        return -1;
    ci->n_atts = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_is_array(arr) ? json_array_get(arr, i) : run;
        tropt_attempt *t = &ci->atts[i];
        t->attempt = json_is_array(arr) ? json_integer_value(json_object_get(a, "attempt")) : 1;
        t->from_step = json_integer_value(json_object_get(a, "from_step"));
        t->started_at = jreal(a, "started_at");
        t->ended_at = jreal(a, "ended_at");
        t->status = jstr(a, "status") ? jstr(a, "status") : "running";
        t->host = jstr(a, "host");
        t->pid = json_integer_value(json_object_get(a, "pid"));
        json_t *cnt = json_deep_copy(a);
        if (!cnt || json_array_append_new(ci->counts, cnt) != 0)
            return -1;
        char name[48];
        csv_attempt_file(t->attempt, "metrics", name, sizeof name);
        char *p = path_of(h, folder, name);
        FILE *f = p ? fopen(p, "rb") : NULL;
        h->free(p);
        if (!p)
            return -1;
        if (!f)
            continue;
        csv_stepstat st;
        csv_stat_get(json_is_array(arr) ? a : NULL, &st);
        int got = csv_stat_refresh(h, f, ci->long_layout, &st);
        fclose(f);
        if (got < 0 || (got > 0 && csv_stat_put(cnt, &st) != 0))
            return -1;
    }
    return 0;
}

static void tags_fill(const json_t *run, csv_info *ci, const char **tags)
{
    const json_t *arr = json_object_get(run, "tags");
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (json_is_string(json_array_get(arr, i)))
            tags[ci->ri.n_tags++] = json_string_value(json_array_get(arr, i));
    ci->ri.tags = tags;
}

static void provenance_fill(const json_t *run, csv_info *ci)
{
    const json_t *p = json_object_get(run, "provenance");
    if (!json_is_object(p))
        return;
    ci->prov = (tropt_provenance){.command = jstr(p, "command"),
                                  .cwd = jstr(p, "cwd"),
                                  .git_commit = jstr(p, "git_commit"),
                                  .version = jstr(p, "version")};
    ci->ri.provenance = &ci->prov;
}

int csv_info_fill(const tropt_host *h, const char *folder, const json_t *run, csv_info *ci)
{
    tropt_stored_run *ri = &ci->ri;
    ri->name = jstr(run, "name");
    ri->note = jstr(run, "note");
    ri->resume_key = jstr(run, "resume_key");
    ri->pidns = jstr(run, "pidns");
    ri->heartbeat_age = ri->stale_after = NAN;
    provenance_fill(run, ci);
    size_t nt = json_array_size(json_object_get(run, "tags"));
    ci->tags = h->malloc((nt ? nt : 1) * sizeof *ci->tags);
    if (!ci->tags || attempts_fill(h, folder, run, ci) != 0)
        return h->error(TROPT_ENOMEM, "out of memory reading '%s'", folder);
    tags_fill(run, ci, ci->tags);
    ri->attempts = (int64_t)ci->n_atts;
    int64_t last, n;
    csv_run_steps(ci->counts, &last, &n);
    ri->last_step = last;
    if (json_is_array(json_object_get(run, "attempts")) ||
        !json_is_integer(json_object_get(run, "steps")))
        ri->n_steps = n;
    int rc = csv_marks_load(h, folder, &ci->marks);
    ri->checkpoint_step = ci->marks.n ? ci->marks.v[ci->marks.n - 1].step : -1;
    json_t *cs = json_object_get(run, "checkpoint_step");
    if (json_is_integer(cs) && json_integer_value(cs) > ri->checkpoint_step && !ci->marks.n)
        ri->checkpoint_step = json_integer_value(cs);
    return rc;
}

void csv_info_free(const tropt_host *h, csv_info *ci)
{
    h->free(ci->tags);
    h->free(ci->atts);
    json_decref(ci->counts);
    csv_marks_free(h, &ci->marks);
    ci->tags = NULL;
    ci->atts = NULL;
    ci->counts = NULL;
}

/* ---- checkpoints.csv ------------------------------------------------------ */

static const char *cell(const csv_record *r, size_t i)
{
    return i < r->n ? r->buf + r->cells[i].off : "";
}

static int64_t cell_i64(const csv_record *r, size_t i, int64_t none)
{
    const char *s = cell(r, i);
    return *s ? strtoll(s, NULL, 10) : none;
}

static char *cell_dup(const tropt_host *h, const csv_record *r, size_t i, int *bad)
{
    if (i >= r->n || (r->cells[i].len == 0 && !r->cells[i].quoted))
        return NULL;
    char *s = tropt_host_strdup(h, cell(r, i));
    *bad |= !s;
    return s;
}

static void mark_free(const tropt_host *h, tropt_checkpoint *m)
{
    h->free((void *)m->path);
    h->free((void *)m->sha256);
    h->free((void *)m->error);
}

/* A record of checkpoints.csv into the list: a later record of the same
 * (attempt, seq) replaces the earlier one (its size and hash arrived). */
static int mark_add(const tropt_host *h, csv_marks *mk, const csv_record *r)
{
    tropt_checkpoint m = {.attempt = cell_i64(r, 0, 1),
                          .seq = cell_i64(r, 1, 0),
                          .step = cell_i64(r, 2, -1),
                          .time = strtod(cell(r, 3), NULL),
                          .size = cell_i64(r, 5, -1)};
    int bad = 0;
    m.path = cell_dup(h, r, 4, &bad);
    m.sha256 = cell_dup(h, r, 6, &bad);
    m.error = cell_dup(h, r, 7, &bad);
    size_t i = 0;
    while (i < mk->n && (mk->v[i].attempt != m.attempt || mk->v[i].seq != m.seq))
        i++;
    if (!bad && i == mk->n &&
        tropt_host_grow(h, (void **)&mk->v, &mk->cap, mk->n + 1, sizeof *mk->v) != 0)
        bad = 1;
    if (bad) {
        mark_free(h, &m);
        return -1;
    }
    if (i < mk->n)
        mark_free(h, &mk->v[i]);
    else
        mk->n++;
    mk->v[i] = m;
    return 0;
}

int csv_marks_load(const tropt_host *h, const char *folder, csv_marks *mk)
{
    memset(mk, 0, sizeof *mk);
    char *p = path_of(h, folder, "checkpoints.csv");
    if (!p)
        return h->error(TROPT_ENOMEM, "out of memory");
    FILE *f = fopen(p, "rb");
    h->free(p);
    if (!f)
        return TROPT_OK;
    csv_record rec = {0};
    int got, first = 1, rc = TROPT_OK;
    while (rc == TROPT_OK && (got = csv_read_record(h, f, &rec)) == 1) {
        if (!first && rec.n == 8 && mark_add(h, mk, &rec) != 0)
            rc = h->error(TROPT_ENOMEM, "out of memory");
        first = 0;
    }
    if (rc == TROPT_OK && got < 0)
        rc = h->error(TROPT_ENOMEM, "out of memory");
    csv_record_free(h, &rec);
    fclose(f);
    return rc;
}

void csv_marks_free(const tropt_host *h, csv_marks *mk)
{
    for (size_t i = 0; i < mk->n; i++)
        mark_free(h, &mk->v[i]);
    h->free(mk->v);
    memset(mk, 0, sizeof *mk);
}

int csv_marks_emit(const csv_marks *mk, int64_t attempt, const tropt_stored_run *ri,
                   tropt_event_fn fn, void *ud)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < mk->n; i++) {
        if (mk->v[i].attempt != attempt)
            continue;
        tropt_event ev = {.kind = TROPT_EVENT_CHECKPOINT,
                          .run = ri,
                          .step = mk->v[i].step,
                          .time = mk->v[i].time,
                          .attempt = attempt,
                          .checkpoint = &mk->v[i]};
        rc = fn(&ev, ud);
    }
    return rc;
}

/* ---- system.csv ------------------------------------------------------------ */

typedef struct sysrow {
    double time;
    char *key;
    double value, max;
} sysrow;

static int by_time(const void *a, const void *b)
{
    const sysrow *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* The samples of `attempt` in system.csv, sorted by time then key, a
 * repeated (time, key) (a replayed attempt) kept once. */
static int sys_load(const tropt_host *h, FILE *f, int64_t attempt, sysrow **v, size_t *n)
{
    size_t cap = 0;
    csv_record rec = {0};
    int got, first = 1, rc = 0;
    while (!rc && (got = csv_read_record(h, f, &rec)) == 1) {
        if (first || rec.n != 5 || cell_i64(&rec, 0, 1) != attempt) {
            first = 0;
            continue;
        }
        if (tropt_host_grow(h, (void **)v, &cap, *n + 1, sizeof **v) != 0 ||
            !((*v)[*n].key = tropt_host_strdup(h, cell(&rec, 2)))) {
            rc = -1;
            break;
        }
        sysrow *s = &(*v)[(*n)++];
        s->time = strtod(cell(&rec, 1), NULL);
        s->value = strtod(cell(&rec, 3), NULL);
        s->max = strtod(cell(&rec, 4), NULL);
    }
    csv_record_free(h, &rec);
    if (rc || got < 0)
        return -1;
    if (*n)
        qsort(*v, *n, sizeof **v, by_time);
    return 0;
}

/* The rows [i, j) of one time as one SYSTEM event (repeats dropped). */
static int sys_emit_one(const tropt_host *h, const sysrow *v, size_t i, size_t j, int64_t attempt,
                        const tropt_stored_run *ri, tropt_event_fn fn, void *ud)
{
    tropt_sample *s = h->malloc((j - i) * sizeof *s);
    if (!s)
        return h->error(TROPT_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t k = i; k < j; k++)
        if (k == i || strcmp(v[k].key, v[k - 1].key) != 0)
            s[n++] = (tropt_sample){.key = v[k].key, .value = v[k].value, .max = v[k].max};
    tropt_event ev = {.kind = TROPT_EVENT_SYSTEM,
                      .run = ri,
                      .time = v[i].time,
                      .attempt = attempt,
                      .samples = s,
                      .n_samples = n};
    int rc = fn(&ev, ud);
    h->free(s);
    return rc;
}

int csv_system_emit(const tropt_host *h, const char *folder, int64_t attempt,
                    const tropt_stored_run *ri, tropt_event_fn fn, void *ud)
{
    char *p = path_of(h, folder, "system.csv");
    if (!p)
        return h->error(TROPT_ENOMEM, "out of memory");
    FILE *f = fopen(p, "rb");
    h->free(p);
    if (!f)
        return 0;
    sysrow *v = NULL;
    size_t n = 0;
    int rc = sys_load(h, f, attempt, &v, &n) != 0 ? h->error(TROPT_ENOMEM, "out of memory") : 0;
    fclose(f);
    for (size_t i = 0, j; !rc && i < n; i = j) {
        for (j = i + 1; j < n && v[j].time == v[i].time;)
            j++;
        rc = sys_emit_one(h, v, i, j, attempt, ri, fn, ud);
    }
    for (size_t i = 0; i < n; i++)
        h->free(v[i].key);
    h->free(v);
    return rc;
}
