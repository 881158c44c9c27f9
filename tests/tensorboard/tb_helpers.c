/*
 * tests/tensorboard/tb_helpers.c - what the tensorboard test programs
 * share: opening a tracker, running the independent decoder (tbcheck.py),
 * reading a run or the list of runs back through the reader API into JSON
 * that tells every type and bit apart.
 */
#include "tb_helpers.h"

#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tropt/host.h>

/* ---- helpers ------------------------------------------------------------------ */

tropt_tracker *open_spec(const char *spec, const char *exp)
{
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, exp, NULL);
    ck_assert_msg(rc == TROPT_OK, "open %s: %s", spec, tropt_error_message());
    return t;
}

/* Run tbcheck.py; assert it printed OK; returns its output (malloc'd). */
char *tbcheck(const char *args)
{
    char *cmd = tu_strdupf(PY " %s %s", TBCHECK_PY, args);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0 && strncmp(out, "OK", 2) == 0, "%s\n=> %d: %s", cmd, rc, out);
    free(cmd);
    return out;
}

/* A field's value as text that tells every type and bit apart. */
char *show(const tropt_field *f)
{
    uint64_t u;
    switch (f->type) {
    case TROPT_REAL:
        memcpy(&u, &f->v.r, sizeof u);
        return tu_strdupf("real:%016" PRIx64, u);
    case TROPT_INT:
        return tu_strdupf("int:%" PRId64, f->v.i);
    case TROPT_STRING:
        return tu_strdupf("str:%s", f->v.s);
    case TROPT_BOOL:
        return tu_strdupf("bool:%d", f->v.b != 0);
    case TROPT_NULL:
        return tu_strdupf("null");
    case TROPT_JSON: {
        char *j = json_dumps(f->v.json, JSON_COMPACT | JSON_ENCODE_ANY);
        char *s = tu_strdupf("json:%s", j);
        free(j);
        return s;
    }
    }
    return tu_strdupf("?");
}

json_t *fields_json(const tropt_field *f, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(!json_object_get(o, f[i].key), "key %s twice", f[i].key);
        char *s = show(&f[i]);
        json_object_set_new(o, f[i].key, json_string(s));
        free(s);
    }
    return o;
}

int collect(const tropt_event *ev, void *ud)
{
    got *g = ud;
    uint64_t tb;
    memcpy(&tb, &ev->time, sizeof tb);
    g->events++;
    if (ev->kind == TROPT_EVENT_START) {
        ck_assert_int_eq(g->events, 1);
        json_object_set_new(g->root, "start", fields_json(ev->fields, ev->n));
        json_object_set_new(g->root, "config",
                            ev->config ? json_deep_copy(ev->config) : json_null());
        json_object_set_new(g->root, "info",
                            json_pack("{s:s, s:s, s:s, s:f, s:s?, s:I}", "run_id", ev->run->run_id,
                                      "experiment", ev->run->experiment, "status", ev->run->status,
                                      "started_at",
                                      isnan(ev->run->started_at) ? -1.0 : ev->run->started_at,
                                      "host", ev->run->host, "pid", (json_int_t)ev->run->pid));
    } else if (ev->kind == TROPT_EVENT_STEP) {
        size_t n = json_array_size(g->steps);
        if (n)
            ck_assert_msg(json_integer_value(json_array_get(json_array_get(g->steps, n - 1), 0)) <
                              ev->step,
                          "step %" PRId64 " after a higher one", ev->step);
        char bits[20];
        snprintf(bits, sizeof bits, "%016" PRIx64, tb);
        json_array_append_new(g->steps, json_pack("[I, s, o]", (json_int_t)ev->step, bits,
                                                  fields_json(ev->fields, ev->n)));
    } else {
        json_object_set_new(g->root, "end",
                            json_pack("{s:s, s:f, s:o}", "status", ev->status, "ended_at",
                                      ev->ended_at, "summary", fields_json(ev->fields, ev->n)));
    }
    return 0;
}

/* Read run `id` of `spec` (a prefix is fine) into a got; free with
 * json_decref(g.root). */
got read_back(const char *spec, const char *id)
{
    got g = {json_object(), json_array(), 0};
    json_object_set_new(g.root, "steps", g.steps);
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s: %s", spec, tropt_error_message());
    int rc = tropt_reader_read_run(r, id, collect, &g);
    ck_assert_msg(rc == TROPT_OK, "read %s: %s", id, tropt_error_message());
    tropt_reader_free(r);
    return g;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The ABI 1.2 members of a listed run. */
static void add_v12(json_t *o, const tropt_stored_run *run)
{
    json_t *tags = json_array();
    for (size_t i = 0; i < run->n_tags; i++)
        json_array_append_new(tags, json_string(run->tags[i]));
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "name", str_or_null(run->name));
    json_object_set_new(o, "note", str_or_null(run->note));
    json_object_set_new(o, "attempts", json_integer(run->attempts));
    json_object_set_new(o, "last_step", json_integer(run->last_step));
    json_object_set_new(o, "checkpoint_step", json_integer(run->checkpoint_step));
    json_object_set_new(o, "resume_key", str_or_null(run->resume_key));
    json_object_set_new(o, "pidns", str_or_null(run->pidns));
    json_object_set_new(o, "heartbeat_nan",
                        json_boolean(isnan(run->heartbeat_age) && isnan(run->stale_after)));
    const tropt_provenance *p = run->provenance;
    json_object_set_new(o, "provenance",
                        p ? json_pack("{s:o, s:o, s:o, s:o}", "command", str_or_null(p->command),
                                      "cwd", str_or_null(p->cwd), "git_commit",
                                      str_or_null(p->git_commit), "version",
                                      str_or_null(p->version))
                          : json_null());
}

int list_one(const tropt_stored_run *run, void *ud)
{
    listing *l = ud;
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s?, s:I, s:f, s:f}", "experiment", run->experiment, "status",
                  run->status, "steps", (json_int_t)run->n_steps, "host", run->host, "pid",
                  (json_int_t)run->pid, "started", isnan(run->started_at) ? -1.0 : run->started_at,
                  "ended", isnan(run->ended_at) ? -1.0 : run->ended_at);
    add_v12(o, run);
    json_object_set_new(l->runs, run->run_id, o);
    return 0;
}

json_t *list_runs(const char *spec)
{
    listing l = {json_object()};
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s: %s", spec, tropt_error_message());
    ck_assert_msg(tropt_reader_list_runs(r, list_one, &l) == TROPT_OK, "%s", tropt_error_message());
    tropt_reader_free(r);
    return l.runs;
}

/* The only event file under dir (recursively). */
char *only_event_file(const char *dir)
{
    char *cmd = tu_strdupf("find '%s' -name 'events.out.tfevents.*' -type f", dir);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    char *nl = strchr(out, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "not one event file under %s:\n%s", dir, out);
    *nl = '\0';
    free(cmd);
    return out;
}

off_t file_size(const char *path)
{
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
    return st.st_size;
}
