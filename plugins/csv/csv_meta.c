/*
 * plugins/csv/csv_meta.c - run.json under ABI 1.2 (README.md "run.json"):
 * the run's identity, its attempts (each with its start, writer, config,
 * status and the counts of its metrics file), the tags, note and name that
 * `tropt tag|note|rename` may change from another process meanwhile.
 *
 * One process writes a run at a time (it holds byte 0 of the run's .lock,
 * csv_store.c); anyone changing run.json holds byte 1 while it reads,
 * changes and replaces the file, so the writer's updates and another
 * process's annotations never undo each other: the writer takes the
 * annotations of a run.json it did not write itself before replacing it.
 * See csv_priv.h for the state and who updates it.
 */
#include "csv_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void attempt_names(csv *c, int64_t k)
{
    if (k <= 1)
        snprintf(c->mbase, sizeof c->mbase, "metrics");
    else
        snprintf(c->mbase, sizeof c->mbase, "metrics.attempt%lld", (long long)k);
    snprintf(c->mname, sizeof c->mname, "%s.csv", c->mbase);
    snprintf(c->pname, sizeof c->pname, "%s.pending.csv", c->mbase);
    csv_attempt_file(k, "types", c->tname, sizeof c->tname);
    c->attempt = k;
}

/* ---- reading run.json ---------------------------------------------------- */

/* The JSON file `name` of the folder open as dfd (never through a link):
 * *out NULL when there is none.  TROPT_EBACKEND naming `path` when it
 * cannot be read or parsed. */
static int load_at(csv *c, int dfd, const char *name, const char *path, json_t **out)
{
    *out = NULL;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TROPT_OK
                               : c->h->error(TROPT_EBACKEND, "cannot open '%s/%s': %s", path, name,
                                             strerror(errno));
    json_error_t je;
    *out = json_loadfd(fd, 0, &je);
    close(fd);
    if (!*out && json_error_code(&je) == json_error_out_of_memory)
        return oom(c);
    if (!*out)
        return c->h->error(TROPT_EBACKEND, "cannot read '%s/%s': %s", path, name, je.text);
    return TROPT_OK;
}

static int64_t jint(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- annotations ---------------------------------------------------------- */

static int tag_index(const json_t *tags, const char *tag)
{
    for (size_t i = 0; i < json_array_size(tags); i++)
        if (json_is_string(json_array_get(tags, i)) &&
            strcmp(json_string_value(json_array_get(tags, i)), tag) == 0)
            return (int)i;
    return -1;
}

int meta_annotate(json_t *meta, const tropt_annotation *a)
{
    json_t *tags = json_object_get(meta, "tags");
    if (!json_is_array(tags)) {
        if (json_object_set_new(meta, "tags", json_array()) != 0)
            return -1;
        tags = json_object_get(meta, "tags");
    }
    int at = tag_index(tags, a->text);
    switch (a->kind) {
    case TROPT_ANNOTATE_TAG:
        return at >= 0 ? 0 : json_array_append_new(tags, json_string(a->text));
    case TROPT_ANNOTATE_UNTAG:
        return at < 0 ? 0 : json_array_remove(tags, (size_t)at);
    case TROPT_ANNOTATE_NOTE:
        return json_object_set_new(meta, "note", *a->text ? json_string(a->text) : json_null());
    case TROPT_ANNOTATE_RENAME:
        return json_object_set_new(meta, "name", json_string(a->text));
    }
    return 0;
}

int meta_take_annotations(json_t *to, const json_t *from)
{
    static const char *const keys[] = {"name", "tags", "note"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_t *v = json_object_get(from, keys[i]);
        if (v && json_object_set_new(to, keys[i], json_deep_copy(v)) != 0)
            return -1;
    }
    return 0;
}

/* ---- a new run.json --------------------------------------------------------- */

/* This attempt's object: its identity, config and counts (none yet). */
static json_t *attempt_new(csv *c, const tropt_run *run, const json_t *config)
{
    int v12 = TROPT_HOST_RUN_V12(c->h);
    double started = v12 ? run->attempt_started_at : run->started_at;
    json_t *a =
        json_pack("{s:I, s:I, s:f, s:n, s:s, s:s?, s:I, s:s?, s:s}", "attempt",
                  (json_int_t)c->attempt, "from_step", (json_int_t)(v12 ? run->from_step : 0),
                  "started_at", started, "ended_at", "status", "running", "host", run->host, "pid",
                  (json_int_t)run->pid, "pidns", v12 ? run->pidns : NULL, "file", c->mname);
    json_t *cfg = config ? json_deep_copy(config) : json_object();
    if (!a || !cfg) { /* either failed: the other is this function's to drop */
        json_decref(a);
        json_decref(cfg);
        return NULL;
    }
    if (json_object_set_new(a, "config", cfg) != 0) { /* set_new dropped cfg */
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *provenance_json(const tropt_run *run, int v12)
{
    const tropt_provenance *p = v12 ? run->provenance : NULL;
    if (!p)
        return json_null();
    return json_pack("{s:s?, s:s?, s:s?, s:s?}", "command", p->command, "cwd", p->cwd, "git_commit",
                     p->git_commit, "version", p->version);
}

static json_t *meta_new(csv *c, const tropt_run *run, const char *folder, const json_t *config)
{
    int v12 = TROPT_HOST_RUN_V12(c->h);
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:s?, s:[], s:n, s:s?, s:I, s:s?, s:f, s:n, s:s, s:s, s:s?, s:o, "
        "s:[o], s:I}",
        "run_id", run->run_id, "experiment", run->experiment, "folder", folder, "name",
        v12 ? run->name : NULL, "tags", "note", "host", run->host, "pid", (json_int_t)run->pid,
        "pidns", v12 ? run->pidns : NULL, "started_at", run->started_at, "ended_at", "status",
        "running", "layout", c->layout == LAYOUT_LONG ? "long" : "wide", "resume_key",
        v12 ? run->resume_key : NULL, "provenance", provenance_json(run, v12), "attempts",
        attempt_new(c, run, config), "checkpoint_step", (json_int_t)-1);
    return m;
}

/* ---- continuing a stored run.json ------------------------------------------------ */

/* A run.json written before attempts (no "attempts"): its one attempt, from
 * its top-level members and config.json, marked "legacy" (no writer owns
 * it: a replay into it continues it, as before attempts). */
static int legacy_attempts(csv *c, json_t *m)
{
    if (json_is_array(json_object_get(m, "attempts")))
        return TROPT_OK;
    json_t *cfg = NULL;
    int rc = load_at(c, c->rfd, "config.json", c->run_dir, &cfg);
    if (rc != TROPT_OK)
        return rc;
    json_t *a = json_pack("{s:I, s:I, s:O?, s:O?, s:O?, s:O?, s:O?, s:s, s:o, s:b}", "attempt",
                          (json_int_t)1, "from_step", (json_int_t)0, "started_at",
                          json_object_get(m, "started_at"), "ended_at",
                          json_object_get(m, "ended_at"), "status", json_object_get(m, "status"),
                          "host", json_object_get(m, "host"), "pid", json_object_get(m, "pid"),
                          "file", "metrics.csv", "config", cfg ? cfg : json_object(), "legacy", 1);
    if (!a || json_object_set_new(m, "attempts", json_pack("[o]", a)) != 0)
        return oom(c);
    return TROPT_OK;
}

static json_t *find_attempt(const json_t *attempts, int64_t k, size_t *pos)
{
    size_t i;
    for (i = 0; i < json_array_size(attempts); i++) {
        const json_t *a = json_array_get(attempts, i);
        if (jint(a, "attempt") == k)
            return (json_t *)a;
        if (jint(a, "attempt") > k)
            break;
    }
    *pos = i;
    return NULL;
}

/* The attempt a stored was written by this writer (the same host and
 * process: the same events replayed, whose start is the same too, or this
 * process opening it again); a host of ABI 1.1 gives no attempts: always. */
static int same_writer(const csv *c, const json_t *a, const tropt_run *run)
{
    const char *host = jstr(a, "host");
    if (!TROPT_HOST_RUN_V12(c->h) || json_is_true(json_object_get(a, "legacy")))
        return 1; /* a folder written before attempts: any writer continues it */
    return jint(a, "pid") == run->pid && host && run->host && strcmp(host, run->host) == 0;
}

/* Earlier attempts stored as running: their writer is gone (this one holds
 * the run's lock), so they are recorded crashed. */
static int crash_earlier(json_t *attempts, int64_t k)
{
    for (size_t i = 0; i < json_array_size(attempts); i++) {
        json_t *a = json_array_get(attempts, i);
        const char *st = jstr(a, "status");
        if (jint(a, "attempt") < k && st && strcmp(st, "running") == 0 &&
            json_object_set_new(a, "status", json_string("crashed")) != 0)
            return -1;
    }
    return 0;
}

/* Bring the counts of attempt a's file up to what it holds (a killed
 * writer left rows run.json does not count yet). */
static int refresh_one(csv *c, json_t *a)
{
    char name[48];
    csv_attempt_file(jint(a, "attempt"), "metrics", name, sizeof name);
    int fd = openat(c->rfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return TROPT_OK; /* none: nothing was written */
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return oom(c);
    }
    csv_stepstat st;
    csv_stat_get(a, &st);
    int got = csv_stat_refresh(c->h, f, c->layout == LAYOUT_LONG, &st);
    int e = errno;
    fclose(f);
    if (got < 0)
        return e == ENOMEM ? oom(c)
                           : c->h->error(TROPT_EBACKEND, "cannot read '%s/%s': %s", c->run_dir,
                                         name, strerror(e));
    return got > 0 && csv_stat_put(a, &st) != 0 ? oom(c) : TROPT_OK;
}

/* The counts of every attempt but a brought up to date. */
static int refresh_others(csv *c, json_t *attempts, const json_t *a)
{
    for (size_t i = 0; i < json_array_size(attempts); i++) {
        json_t *o = json_array_get(attempts, i);
        int rc = o != a ? refresh_one(c, o) : TROPT_OK;
        if (rc != TROPT_OK)
            return rc;
    }
    return TROPT_OK;
}

/* A stored run.json without a resume key or name (a folder written before
 * them) gets the attempt's.  -1 when out of memory. */
static int keep_identity(csv *c, json_t *m, const tropt_run *run)
{
    int v12 = TROPT_HOST_RUN_V12(c->h);
    const char *key = v12 ? run->resume_key : NULL, *name = v12 ? run->name : NULL;
    if (key && !jstr(m, "resume_key") && json_object_set_new(m, "resume_key", json_string(key)))
        return -1;
    if (name && !jstr(m, "name") && json_object_set_new(m, "name", json_string(name)))
        return -1;
    return 0;
}

/* Record attempt c->attempt in the stored run.json m, or continue it (a
 * replay); refuse it when another process holds it. */
static int continue_meta(csv *c, json_t *m, const tropt_run *run, const json_t *config)
{
    int rc = legacy_attempts(c, m);
    if (rc != TROPT_OK)
        return rc;
    json_t *attempts = json_object_get(m, "attempts");
    size_t pos = 0;
    json_t *a = find_attempt(attempts, c->attempt, &pos);
    if (a && !same_writer(c, a, run)) {
        const char *host = jstr(a, "host");
        return c->h->error(TROPT_EBACKEND,
                           "run %s already holds attempt %lld from another process (pid %lld on "
                           "%s): two processes cannot continue one run at once",
                           run->run_id, (long long)c->attempt, (long long)jint(a, "pid"),
                           host ? host : "an unknown host");
    }
    c->continued = a != NULL; /* a replay: its side files may hold its records */
    if (!a && (!(a = attempt_new(c, run, config)) || json_array_insert_new(attempts, pos, a) != 0))
        return oom(c);
    if (json_object_set_new(a, "status", json_string("running")) != 0 ||
        json_object_set_new(a, "ended_at", json_null()) != 0 ||
        crash_earlier(attempts, c->attempt) != 0)
        return oom(c);
    if ((rc = refresh_others(c, attempts, a)) != TROPT_OK)
        return rc;
    if (keep_identity(c, m, run) != 0)
        return oom(c);
    c->att = a;
    c->latest = json_array_get(attempts, json_array_size(attempts) - 1) == a;
    return TROPT_OK;
}

int meta_open(csv *c, const tropt_run *run, const char *folder, const json_t *config)
{
    json_t *m = NULL;
    int rc = load_at(c, c->rfd, "run.json", c->run_dir, &m);
    if (rc != TROPT_OK)
        return rc;
    struct stat sb;
    c->meta_ino =
        m && fstatat(c->rfd, "run.json", &sb, AT_SYMLINK_NOFOLLOW) == 0 ? (int64_t)sb.st_ino : 0;
    if (m) {
        rc = continue_meta(c, m, run, config);
        if (rc != TROPT_OK) {
            json_decref(m);
            return rc;
        }
        c->meta = m;
        return TROPT_OK;
    }
    c->continued = 0;
    if (!(c->meta = meta_new(c, run, folder, config)))
        return oom(c);
    c->att = json_array_get(json_object_get(c->meta, "attempts"), 0);
    c->latest = 1;
    return TROPT_OK;
}

/* ---- writing run.json ---------------------------------------------------------- */

/* Another process replaced run.json since this one wrote it (tropt tag,
 * note, rename): its annotations are taken, the rest is this writer's. */
static int merge_disk(csv *c)
{
    struct stat sb;
    if (fstatat(c->rfd, "run.json", &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
        (int64_t)sb.st_ino == c->meta_ino)
        return TROPT_OK;
    json_t *disk = NULL;
    int rc = load_at(c, c->rfd, "run.json", c->run_dir, &disk);
    if (rc == TROPT_OK && disk && meta_take_annotations(c->meta, disk) != 0)
        rc = oom(c);
    json_decref(disk);
    return rc;
}

/* The run's members that follow its attempts: the latest attempt's writer
 * and status, the counts. */
static int sync_top(csv *c)
{
    json_t *m = c->meta, *attempts = json_object_get(m, "attempts");
    json_t *last = json_array_get(attempts, json_array_size(attempts) - 1);
    static const char *const follow[] = {"host", "pid", "pidns", "status", "ended_at"};
    if (c->att && csv_stat_put(c->att, &c->st) != 0)
        return -1;
    for (size_t i = 0; last && i < sizeof follow / sizeof *follow; i++) {
        json_t *v = json_object_get(last, follow[i]);
        if (json_object_set_new(m, follow[i], v ? json_incref(v) : json_null()) != 0)
            return -1;
    }
    int64_t last_step, n_steps;
    csv_run_steps(attempts, &last_step, &n_steps);
    return json_object_set_new(m, "last_step", json_integer((json_int_t)last_step)) ||
           json_object_set_new(m, "steps",
                               n_steps < 0 ? json_null() : json_integer((json_int_t)n_steps));
}

int meta_write_with(csv *c, const tropt_annotation *a)
{
    if (lock_byte(c->lockfd, 1, 1) != 0)
        return c->h->error(TROPT_EBACKEND, "cannot lock '%s/.lock': %s", c->run_dir,
                           strerror(errno));
    int rc = merge_disk(c);
    if (rc == TROPT_OK && a && meta_annotate(c->meta, a) != 0)
        rc = oom(c);
    if (rc == TROPT_OK && sync_top(c) != 0)
        rc = oom(c);
    if (rc == TROPT_OK)
        rc = write_json_file(c, "run.json", c->meta);
    struct stat sb;
    if (rc == TROPT_OK) {
        c->meta_ino =
            fstatat(c->rfd, "run.json", &sb, AT_SYMLINK_NOFOLLOW) == 0 ? (int64_t)sb.st_ino : 0;
        c->meta_bytes = c->st.bytes;
        c->meta_due = 0;
        c->meta_warned = 0;
    }
    unlock_byte(c->lockfd, 1);
    return rc;
}

int meta_write(csv *c)
{
    return meta_write_with(c, NULL);
}

void meta_progress(csv *c, int any)
{
    if (!c->meta || (!c->meta_due && c->st.bytes - c->meta_bytes < (any ? 1 : CSV_PROGRESS_BYTES)))
        return;
    errno = 0;
    if (meta_write(c) == TROPT_OK)
        return;
    int e = errno;
    c->meta_due = 1;
    if (!c->meta_warned)
        TROPT_HOST_LOG(c->h, TROPT_LEVEL_WARNING,
                       "cannot update the counts in '%s/run.json' (%s); a reader counts the "
                       "rows itself until it can",
                       c->run_dir, e ? strerror(e) : "out of memory");
    c->meta_warned = 1;
}

int meta_finish(csv *c, const char *status, double ended_at)
{
    if (json_object_set_new(c->att, "ended_at", json_real(ended_at)) != 0 ||
        json_object_set_new(c->att, "status", json_string(status)) != 0 ||
        json_object_set_new(c->att, "header_rewrites", json_integer((json_int_t)c->rewrites)) ||
        json_object_set_new(c->att, "bytes_rewritten", json_integer((json_int_t)c->rewritten)))
        return oom(c);
    if (c->latest &&
        (json_object_set_new(c->meta, "metrics_bytes", json_integer((json_int_t)c->size)) != 0 ||
         json_object_set_new(c->meta, "header_rewrites", json_integer((json_int_t)c->rewrites)) ||
         json_object_set_new(c->meta, "bytes_rewritten", json_integer((json_int_t)c->rewritten))))
        return oom(c);
    return meta_write(c);
}
