/*
 * tools/cmd_from.c - `tropt runs|show|replay --from SPEC`: the commands
 * driven by the reader hooks (SPEC 9), so they work on every readable
 * backend (sqlite, csv, jsonl, and any plugin with reader hooks).
 *
 * `--from sqlite:path=P` (and `--db P`) keeps the sqlite commands' own SQL
 * path: cli_from_dispatch() rewrites it to `--db P`.  Every other --from
 * goes through tropt_reader_*.
 */
#include "cli.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

/* The value of --from (NULL when absent); *at gets the argv index of the
 * option, *width how many argv entries it spans. */
static const char *find_from(int argc, char **argv, int *at, int *width)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            *at = i;
            *width = 2;
            return argv[i + 1];
        }
        if (strncmp(argv[i], "--from=", 7) == 0) {
            *at = i;
            *width = 1;
            return argv[i] + 7;
        }
    }
    return NULL;
}

/* "sqlite:path=P" (nothing else) -> P; else NULL. */
static char *sqlite_path(const char *spec)
{
    if (strcmp(spec, "sqlite") == 0)
        return strdup("tropt.db");
    if (strncmp(spec, "sqlite:path=", 12) != 0 || strchr(spec + 12, ','))
        return NULL;
    return strdup(spec + 12);
}

static void print_time(const char *label, double t)
{
    char buf[64] = "-";
    if (!isnan(t)) {
        time_t s = (time_t)t;
        struct tm tm;
        localtime_r(&s, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    }
    printf("%-12s%s\n", label, buf);
}

/* ---- runs --------------------------------------------------------------- */

static int list_line(const tropt_stored_run *run, void *ud)
{
    int *n = ud;
    if ((*n)++ == 0)
        printf("%-36s  %-20s  %-9s  %s\n", "run", "experiment", "status", "steps");
    char steps[32] = "?";
    if (run->n_steps >= 0)
        snprintf(steps, sizeof steps, "%" PRId64, run->n_steps);
    printf("%-36s  %-20s  %-9s  %s\n", run->run_id, run->experiment, run->status, steps);
    return 0;
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

static int open_reader(const char *spec, tropt_reader **r)
{
    int rc = tropt_reader_open(r, spec);
    if (rc != TROPT_OK)
        fprintf(stderr, "tropt: cannot read '%s': %s\n", cli_shown_spec(spec),
                tropt_error_message());
    return rc;
}

static int from_runs(const char *spec)
{
    tropt_reader *r = NULL;
    if (open_reader(spec, &r))
        return 1;
    int n = 0;
    int rc = tropt_reader_list_runs(r, list_line, &n);
    if (rc != TROPT_OK)
        fprintf(stderr, "tropt: %s\n", tropt_error_message());
    else if (n == 0)
        printf("no runs in %s\n", cli_shown_spec(spec));
    tropt_reader_free(r);
    return rc == TROPT_OK ? 0 : 1;
}

/* ---- show --------------------------------------------------------------- */

static void print_value(const tropt_field *f)
{
    char *js;
    switch (f->type) {
    case TROPT_NULL:
        fputs("null", stdout);
        break;
    case TROPT_BOOL:
        fputs(f->v.b ? "true" : "false", stdout);
        break;
    case TROPT_INT:
        printf("%" PRId64, f->v.i);
        break;
    case TROPT_REAL:
        if (isnan(f->v.r))
            fputs("nan", stdout);
        else if (isinf(f->v.r))
            fputs(f->v.r > 0 ? "inf" : "-inf", stdout);
        else
            printf("%.17g", f->v.r);
        break;
    case TROPT_STRING:
        fputs(f->v.s, stdout);
        break;
    case TROPT_JSON:
        js = json_dumps(f->v.json, JSON_COMPACT | JSON_ENCODE_ANY);
        fputs(js ? js : "?", stdout);
        free(js);
        break;
    }
}

typedef struct showing {
    int64_t steps;
    /* the last value of each key: key -> [step, text], in first-seen order */
    json_t *last;
    int oom;
} showing;

/* The display text of a field's value (malloc'd), as print_value writes it. */
static char *value_text(const tropt_field *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    FILE *saved = stdout;
    stdout = m;
    print_value(f);
    stdout = saved;
    if (fclose(m) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int show_event(const tropt_event *ev, void *ud)
{
    showing *s = ud;
    switch (ev->kind) {
    case TROPT_EVENT_START:
        printf("run         %s\n", ev->run->run_id);
        printf("experiment  %s\n", ev->run->experiment);
        printf("status      %s\n", ev->run->status);
        if (ev->run->host)
            printf("host        %s (pid %" PRId64 ")\n", ev->run->host, ev->run->pid);
        print_time("started", ev->run->started_at);
        if (ev->n)
            printf("\nconfig\n");
        for (size_t i = 0; i < ev->n; i++) {
            printf("  %s = ", ev->fields[i].key);
            print_value(&ev->fields[i]);
            putchar('\n');
        }
        fflush(stdout);
        break;
    case TROPT_EVENT_STEP:
        s->steps++;
        for (size_t i = 0; i < ev->n && !s->oom; i++) {
            char *text = value_text(&ev->fields[i]);
            json_t *v = text ? json_pack("[I, s]", (json_int_t)ev->step, text) : NULL;
            free(text);
            if (!v || json_object_set_new(s->last, ev->fields[i].key, v) != 0)
                s->oom = 1;
        }
        break;
    case TROPT_EVENT_END:
        print_time("ended", ev->ended_at);
        if (ev->n)
            printf("\nsummary\n");
        for (size_t i = 0; i < ev->n; i++) {
            printf("  %s = ", ev->fields[i].key);
            print_value(&ev->fields[i]);
            putchar('\n');
        }
        break;
    default: /* attempts, checkpoint marks, system samples */
        break;
    }
    return 0;
}

static int from_show(const char *spec, const char *run)
{
    tropt_reader *r = NULL;
    if (open_reader(spec, &r))
        return 1;
    showing s = {.last = json_object()};
    int rc = s.last ? tropt_reader_read_run(r, run, show_event, &s) : TROPT_ENOMEM;
    if (rc == TROPT_OK && s.oom)
        rc = TROPT_ENOMEM;
    if (rc != TROPT_OK) {
        fprintf(stderr, "tropt: %s\n",
                rc == TROPT_ENOMEM ? "out of memory" : tropt_error_message());
    } else {
        printf("steps       %" PRId64 "\n", s.steps);
        if (json_object_size(s.last))
            printf("\nmetrics, last value of each key\n");
        const char *key;
        json_t *v;
        json_object_foreach(s.last, key, v)
        {
            printf("  %s = %s  (step %" JSON_INTEGER_FORMAT ")\n", key,
                   json_string_value(json_array_get(v, 1)),
                   json_integer_value(json_array_get(v, 0)));
        }
    }
    json_decref(s.last);
    tropt_reader_free(r);
    return rc == TROPT_OK ? 0 : 1;
}

/* ---- replay ------------------------------------------------------------- */

typedef struct replaying {
    tropt_tracker *t;
    tropt_reader *r;
    long runs, steps;
    int failed;
} replaying;

static int replay_event(const tropt_event *ev, void *ud)
{
    replaying *p = ud;
    int rc = TROPT_OK;
    switch (ev->kind) {
    case TROPT_EVENT_START: {
        tropt_run_info info = {.run_id = ev->run->run_id,
                               .experiment = ev->run->experiment,
                               .started_at = ev->run->started_at,
                               .host = ev->run->host,
                               .pid = ev->run->pid};
        rc = tropt_tracker_init_run(p->t, &info, ev->config);
        break;
    }
    case TROPT_EVENT_STEP:
        rc = tropt_tracker_log_fields_at(p->t, ev->step, ev->time, ev->fields, ev->n);
        p->steps++;
        break;
    case TROPT_EVENT_END:
        rc = tropt_tracker_finish_run(p->t, ev->status, ev->ended_at, ev->summary);
        break;
    default: /* attempts, checkpoint marks, system samples */
        break;
    }
    if (rc != TROPT_OK) {
        fprintf(stderr, "tropt: replay of run %s failed: %s\n", ev->run->run_id,
                tropt_error_message());
        p->failed = 1;
        return 1;
    }
    return 0;
}

static int replay_run(const tropt_stored_run *run, void *ud)
{
    replaying *p = ud;
    /* run ids are copied: the listing's strings are borrowed */
    char id[64];
    snprintf(id, sizeof id, "%s", run->run_id);
    p->runs++;
    int rc = tropt_reader_read_run(p->r, id, replay_event, p);
    if (rc < 0) {
        fprintf(stderr, "tropt: %s\n", tropt_error_message());
        p->failed = 1;
    }
    return 0;
}

/* Two passes so that the listing's cursor is not held while a run streams
 * (some stores, e.g. one sqlite file read and written, prefer that). */
typedef struct idlist {
    char (*ids)[64];
    size_t n, cap;
} idlist;

static int collect(const tropt_stored_run *run, void *ud)
{
    idlist *l = ud;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        void *v = realloc(l->ids, nc * sizeof *l->ids);
        if (!v)
            return 1;
        l->ids = v;
        l->cap = nc;
    }
    snprintf(l->ids[l->n++], 64, "%s", run->run_id);
    return 0;
}

static int from_replay(const char *spec, const char *tracker_spec)
{
    replaying p = {0};
    if (open_reader(spec, &p.r))
        return 1;
    if (tropt_tracker_open(&p.t, tracker_spec, NULL, NULL) != TROPT_OK) {
        fprintf(stderr, "tropt: %s\n", tropt_error_message());
        tropt_reader_free(p.r);
        return 1;
    }
    idlist l = {0};
    int rc = tropt_reader_list_runs(p.r, collect, &l);
    if (rc != TROPT_OK) {
        fprintf(stderr, "tropt: %s\n", rc > 0 ? "out of memory" : tropt_error_message());
        p.failed = 1;
    }
    for (size_t i = 0; !p.failed && i < l.n; i++) {
        tropt_stored_run one = {.run_id = l.ids[i]};
        replay_run(&one, &p);
        if (!p.failed && tropt_tracker_is_active(p.t)) /* a run without END stays open */
            tropt_tracker_finish_run(p.t, "crashed", -1, NULL);
    }
    free(l.ids);
    if (tropt_tracker_flush(p.t) != TROPT_OK && !p.failed) {
        fprintf(stderr, "tropt: %s\n", tropt_error_message());
        p.failed = 1;
    }
    tropt_tracker_free(p.t);
    tropt_reader_free(p.r);
    if (!p.failed)
        printf("replayed %ld run(s), %ld step(s) from %s\n", p.runs, p.steps, cli_shown_spec(spec));
    return p.failed ? 1 : 0;
}

/* ---- dispatch ----------------------------------------------------------- */

int cli_from_dispatch(int argc, char **argv, int (*self)(int, char **), int *exit_code)
{
    int at = 0, width = 0;
    const char *spec = find_from(argc, argv, &at, &width);
    if (!spec)
        return 0;
    const char *cmd = argv[0];
    char *db = sqlite_path(spec);
    if (db && strcmp(cmd, "replay") != 0) {
        /* sqlite keeps its own SQL path: --from sqlite:path=P is --db P */
        char **nv = calloc((size_t)argc + 2, sizeof *nv);
        if (!nv) {
            free(db);
            *exit_code = 1;
            return 1;
        }
        int n = 0;
        for (int i = 0; i < argc; i++) {
            if (i == at) {
                nv[n++] = "--db";
                nv[n++] = db;
                i += width - 1;
                continue;
            }
            nv[n++] = argv[i];
        }
        *exit_code = self(n, nv);
        free(nv);
        free(db);
        return 1;
    }
    free(db);
    const char *positional = NULL, *tracker = NULL;
    for (int i = 1; i < argc; i++) {
        if (i == at) {
            i += width - 1;
        } else if (strcmp(argv[i], "--tracker") == 0 && i + 1 < argc) {
            tracker = argv[++i];
        } else if (strncmp(argv[i], "--tracker=", 10) == 0) {
            tracker = argv[i] + 10;
        } else if (argv[i][0] == '-') {
            *exit_code = cli_usage("runs|show RUN|replay --from SPEC [--tracker SPEC]",
                                   "unknown option '%s'", argv[i]);
            return 1;
        } else if (!positional) {
            positional = argv[i];
        } else {
            *exit_code = cli_usage("runs|show RUN|replay --from SPEC [--tracker SPEC]",
                                   "unexpected argument '%s'", argv[i]);
            return 1;
        }
    }
    if (strcmp(cmd, "runs") == 0) {
        *exit_code = positional
                         ? cli_usage("runs --from SPEC", "unexpected argument '%s'", positional)
                         : from_runs(spec);
    } else if (strcmp(cmd, "show") == 0) {
        *exit_code = !positional ? cli_usage("show RUN --from SPEC", "missing RUN")
                                 : from_show(spec, positional);
    } else {
        if (positional) {
            *exit_code =
                cli_usage("replay --from SPEC --tracker SPEC", "give --from or PATH, not both");
            return 1;
        }
        *exit_code = from_replay(spec, tracker);
    }
    return 1;
}
