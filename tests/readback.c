/*
 * tests/readback.c - a stored run read back as one text (readback.h).
 */
#include "readback.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *rb_field(const tropt_field *f)
{
    char *js, *out = NULL;
    uint64_t bits;
    switch (f->type) {
    case TROPT_NULL:
        return tu_strdupf("%s=null", f->key);
    case TROPT_BOOL:
        return tu_strdupf("%s=bool:%d", f->key, f->v.b != 0);
    case TROPT_INT:
        return tu_strdupf("%s=int:%" PRId64, f->key, f->v.i);
    case TROPT_REAL:
        memcpy(&bits, &f->v.r, sizeof bits);
        return tu_strdupf("%s=real:%016" PRIx64, f->key, bits);
    case TROPT_STRING:
        return tu_strdupf("%s=str:%s", f->key, f->v.s);
    case TROPT_JSON:
        js = json_dumps(f->v.json, JSON_COMPACT | JSON_ENCODE_ANY);
        out = tu_strdupf("%s=json:%s", f->key, js ? js : "?");
        free(js);
        return out;
    }
    return tu_strdupf("%s=?%d", f->key, (int)f->type);
}

/* Append "<head> | f1; f2; ...\n" to *text. */
static void add_line(char **text, const char *head, const tropt_field *f, size_t n)
{
    char *line = tu_strdupf("%s%s |", *text, head);
    for (size_t i = 0; i < n; i++) {
        char *v = rb_field(&f[i]);
        char *next = tu_strdupf("%s%s %s", line, i ? ";" : "", v);
        free(v);
        free(line);
        line = next;
    }
    free(*text);
    *text = tu_strdupf("%s\n", line);
    free(line);
}

static int on_event(const tropt_event *ev, void *ud)
{
    char **text = ud;
    char *head = NULL;
    uint64_t bits;
    switch (ev->kind) {
    case TROPT_EVENT_START:
        head = tu_strdupf("start %s %s", ev->run->run_id, ev->run->experiment);
        break;
    case TROPT_EVENT_STEP:
        memcpy(&bits, &ev->time, sizeof bits);
        head = tu_strdupf("step %" PRId64 " %016" PRIx64, ev->step, bits);
        break;
    case TROPT_EVENT_END:
        head = tu_strdupf("end %s", ev->status);
        break;
    default: /* ABI 1.2 kinds */
        head = tu_strdupf("event %d", (int)ev->kind);
        break;
    }
    add_line(text, head ? head : "?", ev->fields, ev->n);
    free(head);
    return 0;
}

char *rb_run_text(const char *spec, const char *run_id)
{
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s: %s", spec, tropt_error_message());
    char *text = tu_strdupf("%s", "");
    int rc = tropt_reader_read_run(r, run_id, on_event, &text);
    ck_assert_msg(rc == TROPT_OK, "%s: read %s: %s", spec, run_id, tropt_error_message());
    tropt_reader_free(r);
    return text;
}

static int on_run(const tropt_stored_run *run, void *ud)
{
    char **text = ud;
    char *next = tu_strdupf("%s%s %" PRId64 "\n", *text, run->run_id, run->n_steps);
    free(*text);
    *text = next;
    return 0;
}

char *rb_list_text(const char *spec)
{
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s: %s", spec, tropt_error_message());
    char *text = tu_strdupf("%s", "");
    ck_assert_msg(tropt_reader_list_runs(r, on_run, &text) == TROPT_OK, "%s: %s", spec,
                  tropt_error_message());
    tropt_reader_free(r);
    return text;
}

/* One read with the allocations after the first `budget` failing: 1 when
 * a failure was injected (the loop goes on). */
static int read_failing(const char *spec, const char *run_id, const char *want, long budget)
{
    tu_chaos_budget(budget);
    ck_assert_int_eq(tropt_set_allocator(&tu_chaos_allocator), TROPT_OK);
    tropt_reader *r = NULL;
    char *text = tu_strdupf("%s", "");
    int rc = tropt_reader_open(&r, spec);
    if (rc == TROPT_OK)
        rc = tropt_reader_read_run(r, run_id, on_event, &text);
    tropt_reader_free(r);
    ck_assert_int_eq(tropt_set_allocator(NULL), TROPT_OK);
    ck_assert_msg(rc == TROPT_OK || rc == TROPT_ENOMEM, "allocations past %ld failing: %d %s",
                  budget, rc, tropt_error_message());
    if (rc == TROPT_OK)
        ck_assert_msg(strcmp(text, want) == 0, "allocations past %ld failing, read:\n%s", budget,
                      text);
    free(text);
    return tu_chaos_failed() > 0;
}

void rb_alloc_fail_loop(const char *spec, const char *run_id, const char *want)
{
    tu_capture_start();
    long budget = 0;
    while (budget < 100000 && read_failing(spec, run_id, want, budget))
        budget++;
    tu_capture_stop();
    tu_chaos_budget(-1);
    fprintf(stderr, "%s: read with %ld allocation budgets\n", spec, budget);
}
