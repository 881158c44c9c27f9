/* tools/replay_runs.c - the runs of a replay's input (see replay_runs.h). */
#include "replay_runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tropt_event.h"
#include "tropt_num.h"

static size_t slot_of(const rruns *m, const char *id)
{
    size_t h = (size_t)tropt_hash_str(id, NULL) & (m->n_slot - 1);
    while (m->slot[h] && strcmp(m->v[m->slot[h] - 1].id, id) != 0)
        h = (h + 1) & (m->n_slot - 1);
    return h;
}

rrun *rruns_find(rruns *m, const char *id)
{
    if (!m->n_slot)
        return NULL;
    size_t h = slot_of(m, id);
    return m->slot[h] ? &m->v[m->slot[h] - 1] : NULL;
}

static int grow(rruns *m)
{
    size_t n_slot = m->n_slot ? 2 * m->n_slot : 64;
    size_t *slot = calloc(n_slot, sizeof *slot);
    rrun *v = slot ? realloc(m->v, n_slot / 2 * sizeof *v) : NULL;
    if (!v) {
        free(slot);
        return -1;
    }
    m->v = v;
    m->cap = n_slot / 2;
    free(m->slot);
    m->slot = slot;
    m->n_slot = n_slot;
    for (size_t i = 0; i < m->n; i++)
        m->slot[slot_of(m, m->v[i].id)] = i + 1;
    return 0;
}

rrun *rruns_add(rruns *m, const char *id)
{
    rrun *r = rruns_find(m, id);
    if (r)
        return r;
    if (m->n == m->cap && grow(m) != 0)
        return NULL;
    r = &m->v[m->n];
    memset(r, 0, sizeof *r);
    if (!(r->id = strdup(id)))
        return NULL;
    m->slot[slot_of(m, id)] = ++m->n;
    return r;
}

void rruns_free(rruns *m)
{
    for (size_t i = 0; i < m->n; i++) {
        rrun *r = &m->v[i];
        tropt_tracker_free(r->t);
        for (size_t k = 0; k < r->n_ann; k++)
            free((char *)r->ann[k].text);
        free(r->ann);
        free(r->deleted_at);
        free(r->id);
    }
    free(m->v);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

/* ---- the first reading ------------------------------------------------------- */

static int add_change(rrun *r, const tropt_annotation *a)
{
    tropt_annotation *v = realloc(r->ann, (r->n_ann + 1) * sizeof *v);
    if (!v)
        return -1;
    r->ann = v;
    v[r->n_ann] = *a;
    if (!(v[r->n_ann].text = strdup(a->text)))
        return -1;
    r->n_ann++;
    return 0;
}

/* One decoded annotate or delete event. */
static int note_event(rruns *m, const tev_event *ev, const char *path, long lineno)
{
    rrun *r = rruns_add(m, ev->run_id);
    if (!r)
        return -1;
    if (ev->type == TEV_ANNOTATE)
        return add_change(r, &ev->annotation);
    if (r->deleted_at)
        return 0;
    return asprintf(&r->deleted_at, "%s:%ld", path, lineno) < 0 ? (r->deleted_at = NULL, -1) : 0;
}

/* A line that may be an annotate or delete event (cheap: no JSON parse). */
static int may_matter(const char *line)
{
    return strstr(line, "\"annotate\"") || strstr(line, "\"delete\"");
}

static int prescan_file(rruns *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f)
        return 0;
    long long limit = fstat(fileno(f), &st) == 0 ? (long long)st.st_size : -1;
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (limit < 0 || (long long)ftello(f) < limit) &&
           (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        tev_event ev;
        char err[300];
        if (!may_matter(line) || tev_decode(line, (size_t)n, &ev, err, sizeof err) != 0)
            continue;
        if (ev.type == TEV_ANNOTATE || ev.type == TEV_DELETE)
            rc = note_event(m, &ev, path, lineno);
        tev_event_clear(&ev);
    }
    free(line);
    fclose(f);
    return rc;
}

int rruns_prescan(rruns *m, char *const *files, int n_files)
{
    for (int i = 0; i < n_files; i++)
        if (prescan_file(m, files[i]) != 0)
            return -1;
    return 0;
}
