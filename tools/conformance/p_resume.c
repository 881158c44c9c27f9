/*
 * tools/conformance/p_resume.c - the promises about continuing a run (ABI
 * 1.2, SPEC 15, 16): a resumed run reads back with its attempts and each
 * step once with the latest attempt's value; a checkpoint mark reads back
 * with its size and SHA-256; system samples read back.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

/* ---- a resumed run: attempts, each step once, the latest value ------------ */

#define RESUME_KEY "conformance-resume-key"
#define N_RESUMED 17 /* steps 0..16 */

/* Attempt 1 logs steps 0-9; attempt 2 (resume=must, by the key) continues
 * at 10 and logs 10-14; attempt 3 (tropt_tracker_resume from step 12) logs
 * 12-16, superseding attempt 2's 12-14. */
static const int64_t att_first[4] = {0, 0, 10, 12}, att_last[4] = {0, 9, 14, 16};

static int64_t value_of(int64_t attempt, int64_t step)
{
    return attempt * 1000 + step;
}

/* The attempt whose value step s holds at the end. */
static int64_t owner_of(int64_t s)
{
    return s >= att_first[3] ? 3 : s >= att_first[2] ? 2 : 1;
}

static int log_attempt(tropt_tracker *t, int64_t a)
{
    int rc = TROPT_OK;
    for (int64_t s = att_first[a]; s <= att_last[a] && !rc; s++) {
        tropt_field f[] = {TROPT_F_INT("v", value_of(a, s)), TROPT_F_INT("attempt", a)};
        rc = tropt_tracker_log_fields(t, f, 2);
    }
    return rc;
}

/* Open the attempt on t: 1 and 2 by the resume key, 3 by the run's id. */
static int open_attempt(tropt_tracker *t, int64_t a, const char *id)
{
    if (a == 3)
        return tropt_tracker_resume(t, id, att_first[3], NULL);
    int rc = tropt_tracker_set_option(t, "resume", a == 1 ? "allow" : "must");
    if (!rc)
        rc = tropt_tracker_set_option(t, "resume_key", RESUME_KEY);
    if (!rc && a == 1)
        rc = tropt_tracker_set_run_name(t, "conformance-resume");
    return rc ? rc : tropt_tracker_init(t, NULL);
}

/* One attempt in a tracker of its own, finished (a run may be continued
 * after it finished as after it died; finishing keeps this promise apart
 * from the status promise). */
static int run_attempt(const kit *k, int64_t a, char id[40])
{
    static const char *const how[4] = {"", "init with resume=allow and a resume key",
                                       "init with resume=must and the same key",
                                       "tropt_tracker_resume(run, 12)"};
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    int rc = open_attempt(t, a, id);
    int64_t next = rc ? -1 : tropt_tracker_next_step(t);
    char got[40];
    snprintf(got, sizeof got, "%s", rc ? "" : tropt_tracker_run_id(t));
    if (a == 1)
        snprintf(id, 40, "%s", got);
    int right = strcmp(got, id) == 0 && next == att_first[a];
    if (!rc && right)
        rc = log_attempt(t, a);
    if (!rc && right)
        rc = tropt_tracker_finish(t, NULL);
    char msg[512];
    kit_escape(msg, sizeof msg, rc ? tropt_error_message() : "");
    tropt_tracker_free(t);
    if (rc)
        return kit_broken(how[a], "attempt %" PRId64 ": %s: %s", a, tropt_error_name(rc), msg);
    if (!right)
        return kit_broken(how[a],
                          "attempt %" PRId64 " opened run %s at step %" PRId64
                          " (run %s, step %" PRId64 " expected)",
                          a, got, next, id, att_first[a]);
    return KIT_KEPT;
}

typedef struct resumed {
    int64_t step[N_RESUMED + 8], attempt[N_RESUMED + 8];
    int64_t v[N_RESUMED + 8];
    size_t n, n_attempts, superseded, rows;
    int64_t from[4];
    int bad_superseded; /* a row marked superseded that is not, or the reverse */
} resumed;

static int64_t field_int(const tropt_event *ev, const char *key)
{
    for (size_t i = 0; i < ev->n; i++)
        if (strcmp(ev->fields[i].key, key) == 0 && ev->fields[i].type == TROPT_INT)
            return ev->fields[i].v.i;
    return -1;
}

static int resumed_event(const tropt_event *ev, void *ud)
{
    resumed *r = ud;
    if (ev->kind == TROPT_EVENT_START) {
        r->n_attempts = ev->n_attempts;
        for (size_t i = 0; i < ev->n_attempts && i < 4; i++)
            r->from[i] = ev->attempts[i].from_step;
    }
    if (ev->kind != TROPT_EVENT_STEP || r->n == N_RESUMED + 8)
        return 0;
    r->step[r->n] = ev->step;
    r->attempt[r->n] = ev->attempt;
    r->v[r->n++] = field_int(ev, "v");
    return 0;
}

static int history_event(const tropt_event *ev, void *ud)
{
    resumed *r = ud;
    if (ev->kind != TROPT_EVENT_STEP)
        return 0;
    r->rows++;
    r->superseded += ev->superseded != 0;
    int should = ev->step >= att_first[3] && ev->attempt == 2;
    r->bad_superseded += should != (ev->superseded != 0);
    return 0;
}

/* The current steps: 0..16 once each, ascending, each with its owner's
 * value and attempt. */
static int check_current(const resumed *r)
{
    int ok = r->n == N_RESUMED;
    size_t at = 0;
    for (; ok && at < r->n; at++) {
        int64_t a = owner_of((int64_t)at);
        ok = r->step[at] == (int64_t)at && r->attempt[at] == a &&
             r->v[at] == value_of(a, (int64_t)at);
    }
    if (ok)
        return KIT_KEPT;
    if (r->n != N_RESUMED)
        return kit_broken("steps 0-16 read back once each (0-9 of attempt 1, 10-11 of 2, "
                          "12-16 of 3)",
                          "%zu steps", r->n);
    at--;
    return kit_broken("steps 0-16 read back once each, each with the value of the latest "
                      "attempt that logged it",
                      "step %zu: step %" PRId64 " of attempt %" PRId64 ", v %" PRId64
                      " (attempt %" PRId64 ", v %" PRId64 " expected)",
                      at, r->step[at], r->attempt[at], r->v[at], owner_of((int64_t)at),
                      value_of(owner_of((int64_t)at), (int64_t)at));
}

/* The three attempts, from the list and from the run's START. */
static int check_attempts(const kit *k, const char *id, const resumed *r)
{
    kit_stored s;
    if (kit_stored_run(k, id, &s))
        return KIT_BROKEN;
    if (!s.found || s.attempts != 3 || s.last_step != 16 || strcmp(s.resume_key, RESUME_KEY) != 0)
        return kit_broken("the run is listed with 3 attempts, last step 16, its resume key",
                          "%s: %" PRId64 " attempts, last step %" PRId64 ", resume key \"%s\"",
                          s.found ? "listed" : "not listed", s.attempts, s.last_step, s.resume_key);
    if (r->n_attempts != 3 || r->from[0] != 0 || r->from[1] != 10 || r->from[2] != 12)
        return kit_broken("its START lists 3 attempts, from steps 0, 10, 12",
                          "%zu attempts, from %" PRId64 ", %" PRId64 ", %" PRId64, r->n_attempts,
                          r->from[0], r->from[1], r->from[2]);
    return KIT_KEPT;
}

static int read_resumed(const kit *k, const char *id)
{
    resumed r;
    memset(&r, 0, sizeof r);
    tropt_reader *rd = NULL;
    if (kit_open_reader(k, &rd))
        return KIT_BROKEN;
    int rc = tropt_reader_read_run(rd, id, resumed_event, &r);
    if (!rc)
        rc = tropt_reader_read_history(rd, id, history_event, &r);
    tropt_reader_free(rd);
    if (rc)
        return kit_broken("the resumed run reads back", "%s", tropt_error_message());
    if (check_current(&r) || check_attempts(k, id, &r))
        return KIT_BROKEN;
    if (r.rows != 20 || r.superseded != 3 || r.bad_superseded)
        return kit_broken("its history holds every row of every attempt (20), attempt 2's steps "
                          "12-14 marked superseded",
                          "%zu rows, %zu superseded, %d marked wrongly", r.rows, r.superseded,
                          r.bad_superseded);
    return KIT_KEPT;
}

int p_resume(const kit *k)
{
    char id[40] = "";
    if (run_attempt(k, 1, id))
        return KIT_BROKEN;
    kit_stored s;
    if (kit_stored_run(k, id, &s))
        return KIT_BROKEN;
    if (s.found && s.derived && !s.resume_key[0])
        return kit_skip(
            "(skipped: the plugin's reader gives back no name and no resume key (its ABI 1.2 "
            "members unfilled): it stores no attempts)");
    for (int64_t a = 2; a <= 3; a++)
        if (run_attempt(k, a, id))
            return KIT_BROKEN;
    return read_resumed(k, id);
}

/* ---- a checkpoint mark: step, path, size, SHA-256 ------------------------- */

/* The NIST test vector: one million 'a'. */
#define CKPT_BYTES 1000000
#define CKPT_SHA256 "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define CKPT_FILE "state.ckpt"

static int write_ckpt(char *path, size_t size)
{
    static char buf[CKPT_BYTES];
    memset(buf, 'a', sizeof buf);
    FILE *f = fopen(CKPT_FILE, "wb");
    int ok = f && fwrite(buf, 1, sizeof buf, f) == sizeof buf;
    ok = f && fclose(f) == 0 && ok;
    char cwd[1024];
    ok = ok && getcwd(cwd, sizeof cwd);
    if (ok)
        snprintf(path, size, "%s/%s", cwd, CKPT_FILE);
    return ok ? KIT_KEPT : kit_broken("the kit writes its checkpoint file", "cannot");
}

/* Steps 0-4, the mark, steps 5-6, finish (which waits for the hash). */
static int log_marked(tropt_tracker *t, char id[40])
{
    int rc = tropt_tracker_init(t, NULL);
    if (rc)
        return rc;
    snprintf(id, 40, "%s", tropt_tracker_run_id(t));
    for (int s = 0; s < 7 && !rc; s++) {
        tropt_field f[] = {TROPT_F_INT("n", s)};
        rc = tropt_tracker_log_fields(t, f, 1);
        if (!rc && s == 4)
            rc = tropt_tracker_checkpoint(t, CKPT_FILE);
    }
    return rc ? rc : tropt_tracker_finish(t, NULL);
}

typedef struct marks {
    int n;
    tropt_checkpoint got;
    char path[1100], sha[80], error[256];
} marks;

static int mark_event(const tropt_event *ev, void *ud)
{
    marks *m = ud;
    if (ev->kind != TROPT_EVENT_CHECKPOINT || !ev->checkpoint)
        return 0;
    if (m->n++ == 0) {
        m->got = *ev->checkpoint;
        snprintf(m->path, sizeof m->path, "%s", m->got.path ? m->got.path : "(none)");
        snprintf(m->sha, sizeof m->sha, "%s", m->got.sha256 ? m->got.sha256 : "(none)");
        snprintf(m->error, sizeof m->error, "%s", m->got.error ? m->got.error : "");
    }
    return 0;
}

int p_checkpoint(const kit *k)
{
    char path[1100];
    marks m;
    memset(&m, 0, sizeof m);
    if (write_ckpt(path, sizeof path) ||
        kit_log_and_read(k, "a run with a checkpoint mark after step 4", log_marked, mark_event,
                         &m))
        return KIT_BROKEN;
    char p[1200];
    kit_escape(p, sizeof p, m.path);
    if (m.n != 1 || m.got.step != 4 || strcmp(m.path, path) != 0 || m.got.size != CKPT_BYTES ||
        strcmp(m.sha, CKPT_SHA256) != 0 || m.error[0])
        return kit_broken("one mark reads back: step 4, the file's absolute path, size 1000000, "
                          "SHA-256 " CKPT_SHA256,
                          "%d mark(s); the first: step %" PRId64 ", path \"%s\", size %" PRId64
                          ", SHA-256 %s%s%s",
                          m.n, m.got.step, p, m.got.size, m.sha, m.error[0] ? ", error " : "",
                          m.error);
    return KIT_KEPT;
}

/* ---- system samples ------------------------------------------------------- */

typedef struct sysrec {
    double time;
    tropt_sample s[2];
    size_t n;
} sysrec;

static sysrec sys_sent[2];

static void make_samples(void)
{
    double t0 = (double)time(NULL) + 0.125;
    sys_sent[0] = (sysrec){
        t0,
        {{"sys/proc/cpu_cores", 1.5, 2.25}, {"sys/proc/rss_bytes", 123456789.0, 987654321.0}},
        2};
    sys_sent[1] = (sysrec){t0 + 15.5, {{"sys/proc/cpu_cores", 0.1, 0.1 + 0.2}}, 1};
}

static int log_sampled(tropt_tracker *t, char id[40])
{
    int rc = tropt_tracker_init(t, NULL);
    if (rc)
        return rc;
    snprintf(id, 40, "%s", tropt_tracker_run_id(t));
    tropt_field f[] = {TROPT_F_INT("n", 0)};
    rc = tropt_tracker_log_fields(t, f, 1);
    for (int i = 0; i < 2 && !rc; i++)
        rc = tropt_tracker_import_system(t, sys_sent[i].time, sys_sent[i].s, sys_sent[i].n);
    return rc ? rc : tropt_tracker_finish(t, NULL);
}

typedef struct sysread {
    int n;
    char diff[512];
} sysread;

static int same_real(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Event i holds exactly what was sent as record i. */
static void check_record(sysread *r, const tropt_event *ev, const sysrec *want)
{
    if (!same_real(ev->time, want->time) || ev->n_samples != want->n) {
        snprintf(r->diff, sizeof r->diff, "record %d: %zu samples at %.17g (%zu at %.17g sent)",
                 r->n, ev->n_samples, ev->time, want->n, want->time);
        return;
    }
    for (size_t i = 0; i < want->n && !r->diff[0]; i++) {
        const tropt_sample *got = NULL;
        for (size_t j = 0; j < ev->n_samples; j++)
            if (strcmp(ev->samples[j].key, want->s[i].key) == 0)
                got = &ev->samples[j];
        if (!got || !same_real(got->value, want->s[i].value) ||
            !same_real(got->max, want->s[i].max))
            snprintf(r->diff, sizeof r->diff, "record %d, %s: %s (%.17g, max %.17g sent)", r->n,
                     want->s[i].key, got ? "another value or max" : "missing", want->s[i].value,
                     want->s[i].max);
    }
}

static int sys_event(const tropt_event *ev, void *ud)
{
    sysread *r = ud;
    if (ev->kind != TROPT_EVENT_SYSTEM)
        return 0;
    if (r->n < 2 && !r->diff[0])
        check_record(r, ev, &sys_sent[r->n]);
    r->n++;
    return 0;
}

int p_system(const kit *k)
{
    sysread r;
    memset(&r, 0, sizeof r);
    make_samples();
    if (kit_log_and_read(k, "system samples accepted during a run", log_sampled, sys_event, &r))
        return KIT_BROKEN;
    if (r.n != 2 || r.diff[0])
        return kit_broken("two records of system samples read back in time order, times, means "
                          "and maxima exact to the double",
                          "%d record(s)%s%s", r.n, r.diff[0] ? "; " : "", r.diff);
    return KIT_KEPT;
}
