/* tests/http/recs.c - decoded events and their assertions (see recs.h). */
#include "recs.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

void recs_add_text(recs *r, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len) {
            tev_event ev;
            char err[256];
            ck_assert_msg(tev_decode(p, len, &ev, err, sizeof err) == 0, "bad event: %s", err);
            if (r->n == r->cap) { /* geometric: a spool of 1e5 events stays linear */
                r->cap = r->cap ? 2 * r->cap : 256;
                r->v = realloc(r->v, r->cap * sizeof *r->v);
                ck_assert_ptr_nonnull(r->v);
            }
            rec *x = &r->v[r->n++];
            x->type = ev.type;
            snprintf(x->run_id, sizeof x->run_id, "%s", ev.run_id);
            x->step = ev.type == TEV_LOG ? ev.step : -1;
            tev_event_clear(&ev);
        }
        p += len + (nl ? 1 : 0);
    }
}

static int wanted_file(const char *name, const char *prefix)
{
    return name[0] != '.' && strncmp(name, prefix, strlen(prefix)) == 0 && !strstr(name, ".tmp");
}

int recs_from_dir(recs *r, const char *dir, const char *prefix)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    int files = 0;
    for (int i = 0; i < n; i++) {
        if (wanted_file(names[i]->d_name, prefix)) {
            char *p = tu_path(dir, names[i]->d_name);
            char *s = tu_read_file(p, NULL);
            ck_assert_ptr_nonnull(s);
            ck_assert_msg(!*s || s[strlen(s) - 1] == '\n', "%s ends mid-line", p);
            recs_add_text(r, s);
            free(s);
            free(p);
            files++;
        }
        free(names[i]);
    }
    if (n >= 0)
        free(names);
    return files;
}

int rec_eq(const rec *a, const rec *b)
{
    return a->type == b->type && strcmp(a->run_id, b->run_id) == 0 && a->step == b->step;
}

static void push(recs *e, tev_type type, const char *run_id, int64_t step)
{
    e->v[e->n] = (rec){type, "", step};
    snprintf(e->v[e->n].run_id, sizeof e->v[e->n].run_id, "%s", run_id);
    e->n++;
}

recs recs_expected(char run_ids[][40], int n_runs, int steps)
{
    recs e = {0};
    e.v = calloc((size_t)n_runs * ((size_t)steps + 2) + 1, sizeof *e.v);
    ck_assert_ptr_nonnull(e.v);
    for (int r = 0; r < n_runs; r++) {
        push(&e, TEV_RUN_START, run_ids[r], -1);
        for (int s = 0; s < steps; s++)
            push(&e, TEV_LOG, run_ids[r], s);
        push(&e, TEV_RUN_END, run_ids[r], -1);
    }
    return e;
}

recs recs_expected_run(const char *run_id, int steps)
{
    char id[1][40];
    snprintf(id[0], sizeof id[0], "%s", run_id);
    return recs_expected(id, 1, steps);
}

void recs_assert_in_order(const char *what, const recs *got, const recs *want)
{
    what = what ? what : "events";
    ck_assert_msg(got->n == want->n, "%s: %zu events, want %zu", what, got->n, want->n);
    for (size_t i = 0; i < want->n; i++)
        ck_assert_msg(rec_eq(&got->v[i], &want->v[i]),
                      "%s: event %zu is type %d step %lld, want type %d step %lld", what, i,
                      got->v[i].type, (long long)got->v[i].step, want->v[i].type,
                      (long long)want->v[i].step);
}

static int cmp_rec(const void *pa, const void *pb)
{
    const rec *a = pa, *b = pb;
    int c = strcmp(a->run_id, b->run_id);
    if (c)
        return c;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    return (a->step > b->step) - (a->step < b->step);
}

static int found_in(const recs *r, const rec *w)
{
    for (size_t i = 0; i < r->n; i++)
        if (rec_eq(&r->v[i], w))
            return 1;
    return 0;
}

void recs_assert_nothing_lost(const recs *acked, const recs *spooled, const recs *want)
{
    size_t j = 0;
    for (size_t i = 0; i < acked->n; i++) {
        while (j < want->n && !rec_eq(&acked->v[i], &want->v[j]))
            j++;
        ck_assert_msg(j < want->n, "acknowledged event %zu out of order or duplicated", i);
        j++;
    }
    rec *sorted = malloc((spooled->n + 1) * sizeof *sorted);
    ck_assert_ptr_nonnull(sorted);
    if (spooled->n)
        memcpy(sorted, spooled->v, spooled->n * sizeof *sorted);
    qsort(sorted, spooled->n, sizeof *sorted, cmp_rec);
    for (size_t i = 1; i < spooled->n; i++)
        ck_assert_msg(!rec_eq(&sorted[i - 1], &sorted[i]) || sorted[i].type == TEV_RUN_START,
                      "spooled twice: type %d step %lld", sorted[i].type,
                      (long long)sorted[i].step);
    free(sorted);
    for (size_t k = 0; k < want->n; k++)
        ck_assert_msg(found_in(acked, &want->v[k]) || found_in(spooled, &want->v[k]),
                      "event %zu (type %d step %lld) neither delivered nor spooled", k,
                      want->v[k].type, (long long)want->v[k].step);
}
