/*
 * plugins/tensorboard/tb_conclude.c - what a run is, once its files were
 * scanned (tb_scan.h): its attempts from their identity records, its
 * status, times, config and summary, its name, tags and note from the
 * metadata changes of every file in time order, its last step and the step
 * of its latest checkpoint mark; and its step count from the files' stats
 * when they suffice.
 */
#include "tb_scan.h"

#include "tropt_mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int oom(const tbr_scan *s)
{
    return s->r->h->error(TROPT_ENOMEM, "out of memory");
}

static void free_meta(const tropt_host *h, tbr_run *run)
{
    for (size_t i = 0; i < run->ntags; i++)
        h->free(run->tags[i]);
    h->free(run->tags);
    h->free(run->note);
    h->free(run->att);
    run->tags = NULL;
    run->ntags = 0;
    run->note = NULL;
    run->att = NULL;
    run->natt = 0;
}

/* ---- metadata changes ----------------------------------------------------- */

typedef struct change {
    int kind;
    const char *text;
    double time;
    size_t order;
} change;

static int cmp_change(const void *a, const void *b)
{
    const change *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Every file's changes, in time order (then file order). */
static change *gather_changes(const tbr_scan *s, size_t *n)
{
    const tbr_run *run = s->run;
    size_t total = 0, k = 0;
    for (size_t i = 0; i < run->nfiles; i++)
        total += json_array_size(run->files[i].st.notes);
    *n = total;
    change *c = s->r->h->malloc((total ? total : 1) * sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < run->nfiles; i++) {
        const json_t *notes = run->files[i].st.notes;
        for (size_t j = 0; j < json_array_size(notes); j++, k++) {
            const json_t *e = json_array_get(notes, j);
            c[k] = (change){(int)json_integer_value(json_array_get(e, 0)),
                            json_string_value(json_array_get(e, 1)),
                            json_number_value(json_array_get(e, 2)), k};
        }
    }
    qsort(c, total, sizeof *c, cmp_change);
    return c;
}

static int find_tag(const tbr_run *run, const char *tag)
{
    for (size_t i = 0; i < run->ntags; i++)
        if (strcmp(run->tags[i], tag) == 0)
            return (int)i;
    return -1;
}

static int apply_tag(const tropt_host *h, tbr_run *run, const change *c)
{
    int at = find_tag(run, c->text);
    if (c->kind == TROPT_ANNOTATE_UNTAG) {
        if (at >= 0) {
            h->free(run->tags[at]);
            memmove(run->tags + at, run->tags + at + 1,
                    (run->ntags - (size_t)at - 1) * sizeof *run->tags);
            run->ntags--;
        }
        return 0;
    }
    if (at >= 0)
        return 0;
    char *copy = tropt_host_strdup(h, c->text);
    char **grown = copy ? h->realloc(run->tags, (run->ntags + 1) * sizeof *run->tags) : NULL;
    if (!grown) {
        h->free(copy);
        return -1;
    }
    run->tags = grown;
    run->tags[run->ntags++] = copy;
    return 0;
}

/* Replace *slot by a copy of text (NULL: none). */
static int set_text(const tropt_host *h, char **slot, const char *text)
{
    char *copy = text ? tropt_host_strdup(h, text) : NULL;
    if (text && !copy)
        return -1;
    h->free(*slot);
    *slot = copy;
    return 0;
}

/* Name, tags and note: the changes over `base` (the name recorded when the
 * latest attempt began at since; renames before it are in it already). */
static int apply_changes(tbr_scan *s, const char *base, double since)
{
    const tropt_host *h = s->r->h;
    tbr_run *run = s->run;
    size_t n;
    change *c = gather_changes(s, &n);
    int bad = !c || set_text(h, &run->name, base);
    for (size_t i = 0; i < n && !bad; i++) {
        if (c[i].kind == TROPT_ANNOTATE_TAG || c[i].kind == TROPT_ANNOTATE_UNTAG)
            bad = apply_tag(h, run, &c[i]);
        else if (c[i].kind == TROPT_ANNOTATE_NOTE)
            bad = set_text(h, &run->note, c[i].text[0] ? c[i].text : NULL);
        else if (c[i].kind == TROPT_ANNOTATE_RENAME && c[i].time >= since && c[i].text[0])
            bad = set_text(h, &run->name, c[i].text);
    }
    h->free(c);
    return bad ? oom(s) : TROPT_OK;
}

/* ---- steps and marks ---------------------------------------------------------- */

static void steps_and_mark(tbr_run *run)
{
    int64_t ma = -1, ms = -1;
    run->last_step = run->checkpoint_step = -1;
    for (size_t i = 0; i < run->nfiles; i++) {
        const tb_stats *st = &run->files[i].st;
        if (st->has_steps && st->max > run->last_step)
            run->last_step = st->max;
        if (st->has_mark &&
            (st->mark_attempt > ma || (st->mark_attempt == ma && st->mark_seq >= ms))) {
            ma = st->mark_attempt;
            ms = st->mark_seq;
            run->checkpoint_step = st->mark_step;
        }
    }
}

/* ---- a foreign run ---------------------------------------------------------------- */

static int conclude_foreign(tbr_scan *s)
{
    tbr_run *run = s->run;
    int timed = s->t_min <= s->t_max;
    run->started_at = timed ? s->t_min : NAN;
    run->ended_at = timed ? s->t_max : NAN;
    snprintf(run->status, sizeof run->status, "finished");
    json_decref(run->hparams);
    run->hparams = s->hparams ? json_incref(s->hparams) : NULL;
    run->config = run->hparams;
    run->summary = NULL;
    if (!(run->att = s->r->h->malloc(sizeof *run->att)))
        return oom(s);
    run->natt = 1;
    run->att[0] = (tbr_attempt){.attempt = 1,
                                .started_at = run->started_at,
                                .ended_at = run->ended_at,
                                .host = run->host,
                                .pid = run->pid};
    snprintf(run->att[0].status, sizeof run->att[0].status, "finished");
    steps_and_mark(run);
    return apply_changes(s, run->folder, -INFINITY);
}

/* ---- a run of ours ------------------------------------------------------------------- */

static double member_real(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *member_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Attempt a from its identity record. */
static void fill_attempt(tbr_attempt *a, const json_t *ident)
{
    double start = member_real(ident, "attempt_started_at");
    const json_t *from = json_object_get(ident, "from_step");
    a->ident = ident;
    a->started_at = isnan(start) ? member_real(ident, "started_at") : start;
    a->from_step = a->attempt == 1 ? 0 : json_is_integer(from) ? json_integer_value(from) : 0;
    a->host = member_str(ident, "host");
    a->pidns = member_str(ident, "pidns");
    a->pid = (int64_t)json_integer_value(json_object_get(ident, "pid"));
}

/* The attempts, each from its first identity record and its last end. */
static int build_attempts(tbr_scan *s)
{
    tbr_run *run = s->run;
    int64_t k = 1;
    for (size_t i = 0; i < run->nfiles; i++)
        if (run->files[i].attempt > k)
            k = run->files[i].attempt;
    if (!(run->att = s->r->h->malloc((size_t)k * sizeof *run->att)))
        return oom(s);
    run->natt = (size_t)k;
    for (int64_t a = 0; a < k; a++) {
        run->att[a] = (tbr_attempt){
            .attempt = a + 1, .from_step = a ? INT64_MAX : 0, .started_at = NAN, .ended_at = NAN};
        snprintf(run->att[a].status, sizeof run->att[a].status, "%s",
                 a + 1 < k ? "crashed" : "running");
    }
    run->summary = NULL;
    for (size_t i = 0; i < run->nfiles; i++) {
        const tbr_file *f = &run->files[i];
        tbr_attempt *a = &run->att[f->attempt - 1];
        if (f->ident && !a->ident)
            fill_attempt(a, f->ident);
        if (!f->st.has_end)
            continue;
        snprintf(a->status, sizeof a->status, "%s", f->st.end_status);
        a->ended_at = f->st.end_at;
        if (a->attempt == k)
            run->summary = json_object_get(f->end, "summary");
    }
    if (!json_is_object(run->summary))
        run->summary = NULL;
    return TROPT_OK;
}

/* The latest attempt that has an identity record. */
static const tbr_attempt *latest_known(const tbr_run *run)
{
    for (size_t k = run->natt; k-- > 0;)
        if (run->att[k].ident)
            return &run->att[k];
    return &run->att[0];
}

static void provenance(tbr_run *run, const json_t *ident)
{
    const json_t *p = json_object_get(ident, "provenance");
    run->has_prov = json_is_object(p);
    run->prov = (tropt_provenance){member_str(p, "command"), member_str(p, "cwd"),
                                   member_str(p, "git_commit"), member_str(p, "version")};
}

static int conclude_ours(tbr_scan *s)
{
    tbr_run *run = s->run;
    int rc = build_attempts(s);
    if (rc != TROPT_OK)
        return rc;
    const tbr_attempt *last = &run->att[run->natt - 1], *known = latest_known(run);
    const json_t *first = run->att[0].ident ? run->att[0].ident : known->ident;
    run->started_at = member_real(first, "started_at");
    snprintf(run->status, sizeof run->status, "%s", last->status);
    run->ended_at = strcmp(last->status, "running") == 0 ? NAN : last->ended_at;
    const char *host = known->host;
    if (set_text(s->r->h, &run->host, host) != 0)
        return oom(s);
    run->pid = known->pid;
    run->pidns = known->pidns;
    run->resume_key = member_str(known->ident, "resume_key");
    const json_t *config = json_object_get(run->att[0].ident, "config");
    run->config = json_is_object(config) ? config : NULL;
    provenance(run, first);
    steps_and_mark(run);
    const char *name = member_str(known->ident, "name");
    return apply_changes(s, name && name[0] ? name : run->folder, known->started_at);
}

int tbr_conclude(tbr_scan *s)
{
    free_meta(s->r->h, s->run);
    s->run->n_steps = -1;
    return s->run->ours ? conclude_ours(s) : conclude_foreign(s);
}

/* ---- the step count from the files' stats ---------------------------------------------- */

typedef struct span {
    int64_t lo, hi;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Steps of attempt a below bound: the union of its files' ranges (the
 * spans array has room for every file). */
static int64_t count_attempt(const tbr_run *run, int64_t a, int64_t bound, span *sp)
{
    size_t n = 0;
    for (size_t i = 0; i < run->nfiles; i++) {
        const tb_stats *st = &run->files[i].st;
        if (run->files[i].attempt == a && st->has_steps)
            sp[n++] = (span){st->lo, st->hi < bound - 1 ? st->hi : bound - 1};
    }
    qsort(sp, n, sizeof *sp, cmp_span);
    int64_t count = 0, end = INT64_MIN; /* steps counted up to end */
    for (size_t i = 0; i < n; i++) {
        int64_t lo = sp[i].lo > end ? sp[i].lo : end + 1;
        if (sp[i].hi >= lo) {
            count += sp[i].hi - lo + 1;
            end = sp[i].hi;
        }
    }
    return count;
}

int tbr_count_from_stats(tbr *r, tbr_run *run)
{
    for (size_t i = 0; i < run->nfiles; i++)
        if (run->files[i].st.has_steps && !run->files[i].st.dense)
            return 0;
    span *sp = r->h->malloc((run->nfiles ? run->nfiles : 1) * sizeof *sp);
    if (!sp)
        return -1;
    int64_t bound = INT64_MAX;
    run->n_steps = 0;
    for (size_t k = run->natt; k-- > 0;) {
        run->n_steps += count_attempt(run, run->att[k].attempt, bound, sp);
        if (run->att[k].from_step < bound)
            bound = run->att[k].from_step;
    }
    r->h->free(sp);
    return 1;
}
