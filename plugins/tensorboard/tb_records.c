/*
 * plugins/tensorboard/tb_records.c - what a run writes: its steps (each
 * numeric field a scalar, each string a text, nulls, bools and JSON values
 * as JSON text under TB_PFX_JSON) and the records of its start and end
 * (identity, config as hparams and as text, status and summary), queued in
 * c->out as framed records.  See tb_priv.h for who updates what.
 */
#include "tb_priv.h"

#include "tb_format.h"
#include "tb_proto.h"

#include <math.h>
#include <string.h>

const char *tb_run_name(const tb *c, const tropt_run *run)
{
#if TROPT_PLUGIN_ABI_MINOR >= 2
    if (TROPT_HOST_RUN_V12(c->h) && run->name && run->name[0])
        return run->name;
#else
    (void)c;
#endif
    return run->run_id;
}

int64_t tb_resume_step(const tb *c, const tropt_run *run)
{
#if TROPT_PLUGIN_ABI_MINOR >= 2
    if (TROPT_HOST_RUN_V12(c->h) && run->attempt > 1)
        return run->from_step;
#else
    (void)c;
    (void)run;
#endif
    return -1;
}

int64_t tb_run_attempt(const tb *c, const tropt_run *run)
{
    return TROPT_HOST_RUN_V12(c->h) && run->attempt > 1 ? run->attempt : 1;
}

double tb_attempt_start(const tb *c, const tropt_run *run)
{
    return TROPT_HOST_RUN_V12(c->h) && run->attempt > 1 ? run->attempt_started_at : run->started_at;
}

const char *tb_resume_key(const tb *c, const tropt_run *run)
{
    return TROPT_HOST_RUN_V12(c->h) ? run->resume_key : NULL;
}

int64_t tb_current_step(const tb *c)
{
    return c->steps > 0 ? c->last_step : c->from_step;
}

/* ---- steps ------------------------------------------------------------------ */

enum { CLS_SCALAR = 1, CLS_TEXT = 2 };

static int grow_vals(tb *c, size_t n)
{
    if (n <= c->vals_cap)
        return 0;
    size_t cap = c->vals_cap;
    void **const arrays[] = {(void **)&c->vals, (void **)&c->hint};
    const size_t elem[] = {sizeof *c->vals, sizeof *c->hint};
    if (tropt_host_grow_all(c->h, &cap, n, 2, arrays, elem) != 0)
        return -1;
    memset(c->hint + c->vals_cap, 0, (cap - c->vals_cap) * sizeof *c->hint);
    c->vals_cap = cap;
    return 0;
}

/* Whether value i (tag pfx + key, of plugin cls) carries its metadata: the
 * tag's first value in this file, or the first after its plugin changed. */
static int needs_meta(tb *c, size_t i, const char *pfx, size_t pfx_len, const char *key,
                      size_t key_len, int cls)
{
    const struct tb_hint *hk = &c->hint[i];
    if (hk->tag && hk->cls == cls && hk->len == pfx_len + key_len &&
        (pfx_len == 0 || memcmp(hk->tag, pfx, pfx_len) == 0) &&
        memcmp(hk->tag + pfx_len, key, key_len) == 0)
        return 0;
    tev_buf_clear(&c->tag);
    if (tev_buf_append(&c->tag, pfx, pfx_len) || tev_buf_append(&c->tag, key, key_len))
        return -1;
    int added;
    size_t slot = tb_map_add(&c->seen, c->tag.data, c->tag.len, cls, &added);
    if (slot == (size_t)-1)
        return -1;
    int meta = added || c->seen.vals[slot] != cls;
    c->seen.vals[slot] = cls;
    c->hint[i] = (struct tb_hint){.tag = c->seen.keys[slot], .len = c->seen.lens[slot], .cls = cls};
    return meta;
}

/* The values of field f from v on (JSON texts: offsets into c->json, made
 * pointers once every field is done): one, or with scalars=float a
 * DT_FLOAT scalar and, when that is not exact, the exact value beside it.
 * Returns how many, or -1 when memory ran out. */
static int field_values(tb *c, size_t i, const tropt_field *f, tb_value *v)
{
    size_t klen = strlen(f->key);
    int ours = f->key[0] == TB_PREFIX[0] && strncmp(f->key, TB_PREFIX, sizeof TB_PREFIX - 1) == 0;
    /* every member encoding reads is set (not the whole struct: a hot loop) */
    v->pfx = "";
    v->pfx_len = 0;
    v->tag = f->key;
    v->tag_len = klen;
    v->pre = NULL;
    v->s = NULL;
    if (ours) {
        v->pfx = TB_PFX_KEY;
        v->pfx_len = sizeof TB_PFX_KEY - 1;
    }
    switch (f->type) {
    case TROPT_REAL:
        v->kind = TBV_DOUBLE;
        v->d = f->v.r;
        break;
    case TROPT_INT:
        v->kind = TBV_INT64;
        v->i = f->v.i;
        break;
    case TROPT_STRING:
        v->kind = TBV_TEXT;
        v->s = f->v.s;
        v->n = strlen(f->v.s);
        break;
    default: /* null, bool, JSON: their JSON text */
        v->kind = TBV_TEXT;
        v->pfx = TB_PFX_JSON;
        v->pfx_len = sizeof TB_PFX_JSON - 1;
        v->s = NULL;
        v->i = (int64_t)c->json.len;
        if (tev_put_field_value(&c->json, f, c->h->format_real) != 0)
            return -1;
        v->n = c->json.len - (size_t)v->i;
        break;
    }
    int meta = needs_meta(c, i, v->pfx, v->pfx_len, f->key, klen,
                          v->kind == TBV_TEXT ? CLS_TEXT : CLS_SCALAR);
    if (meta < 0)
        return -1;
    v->meta = meta;
    struct tb_hint *hk = &c->hint[i];
    if (!meta && hk->pre_len && hk->pre_kind == (int)v->kind && !c->scalars_float) {
        v->pre = hk->pre;
        v->pre_len = hk->pre_len;
    }
    if (!c->scalars_float || v->kind == TBV_TEXT)
        return 1;
    /* scalars=float: what every TensorBoard charts, the exact value beside */
    double x = v->kind == TBV_DOUBLE ? v->d : (double)v->i;
    double back = (double)tb_to_float(x);
    v[1] = v[0];
    v[0].kind = TBV_FLOAT;
    v[0].d = x;
    if (v[1].kind == TBV_DOUBLE && memcmp(&back, &x, sizeof x) == 0)
        return 1;
    v[1].pfx = TB_PFX_EXACT;
    v[1].pfx_len = sizeof TB_PFX_EXACT - 1;
    v[1].meta = 0; /* no plugin's: TensorBoard shows it nowhere */
    return 2;
}

/* After a step (one value per field): keep each number's entry prefix,
 * written without metadata, for the next step at the same position. */
static void keep_prefixes(tb *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const tb_value *v = &c->vals[i];
        struct tb_hint *hk = &c->hint[i];
        if (v->kind == TBV_TEXT || v->meta || v->pre)
            continue;
        size_t len = 1 + pb_varint_len(v->size) + v->size - TB_VALUE_WIDTH(v->kind);
        hk->pre_len = 0;
        if (len > TB_PRE_MAX)
            continue;
        memcpy(hk->pre, c->out.data + v->at, len);
        hk->pre_len = (unsigned char)len;
        hk->pre_kind = (int)v->kind;
    }
}

int tb_queue_step(tb *c, int64_t step, double time, const tropt_field *f, size_t n)
{
    if (grow_vals(c, 2 * n) != 0)
        return tb_oom(c);
    tev_buf_clear(&c->json);
    int bad = 0;
    size_t k = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        int got = field_values(c, i, &f[i], &c->vals[k]);
        bad = got < 0;
        k += got > 0 ? (size_t)got : 0;
    }
    for (size_t i = 0; i < k && !bad; i++)
        if (c->vals[i].kind == TBV_TEXT && !c->vals[i].s)
            c->vals[i].s = c->json.data + c->vals[i].i;
    if (!bad && tb_encode_summary(&c->out, time, step, c->vals, k) == 0) {
        if (!c->scalars_float)
            keep_prefixes(c, n);
        tb_stats_step(&c->st, step);
        return TROPT_OK;
    }
    /* Tags marked written with their metadata were not: forget them all,
     * so that the next step writes the metadata again. */
    tb_map_clear(&c->seen);
    memset(c->hint, 0, c->vals_cap * sizeof *c->hint);
    return tb_oom(c);
}

/* ---- the run's own records -------------------------------------------------- */

/* One text record (our tag, with the text plugin's metadata) at step. */
static int queue_text(tb *c, double time, int64_t step, const char *tag, const tev_buf *text)
{
    tb_value v = {.pfx = "",
                  .tag = tag,
                  .tag_len = strlen(tag),
                  .kind = TBV_TEXT,
                  .meta = 1,
                  .s = text->data ? text->data : "",
                  .n = text->len};
    return tb_encode_summary(&c->out, time, step, &v, 1);
}

/* "key":"value", with a comma before unless first. */
static int put_str_member(tev_buf *b, const char *key, const char *value)
{
    return tev_buf_putc(b, b->len > 1 ? ',' : '{') || tev_put_string(b, key, strlen(key)) ||
           tev_buf_putc(b, ':') || tev_put_string(b, value, strlen(value));
}

static int put_raw_member(tev_buf *b, const char *key)
{
    return tev_buf_putc(b, b->len > 1 ? ',' : '{') || tev_put_string(b, key, strlen(key)) ||
           tev_buf_putc(b, ':');
}

/* "provenance":{...} with the members known (NULL ones left out). */
static int put_provenance(tev_buf *b, const tropt_provenance *p)
{
    const char *keys[4] = {"command", "cwd", "git_commit", "version"};
    const char *vals[4] = {p->command, p->cwd, p->git_commit, p->version};
    tev_buf_clear(b);
    int bad = 0;
    for (int i = 0; i < 4 && !bad; i++)
        bad = vals[i] && put_str_member(b, keys[i], vals[i]);
    return bad || (b->len == 0 ? tev_buf_puts(b, "{}") : tev_buf_putc(b, '}'));
}

/* The ABI 1.2 members of the identity record (attempt and from_step always). */
static int run_json_v12(tb *c, tev_buf *b, tev_buf *tmp, const tropt_run *run)
{
    int bad = put_raw_member(b, "attempt") || tev_buf_put_i64(b, c->attempt) ||
              put_raw_member(b, "from_step") || tev_buf_put_i64(b, c->from_step) ||
              put_raw_member(b, "attempt_started_at") ||
              tev_put_real(b, tb_attempt_start(c, run), c->h->format_real);
    if (bad || !TROPT_HOST_RUN_V12(c->h))
        return bad;
    return (run->pidns && put_str_member(b, "pidns", run->pidns)) ||
           (run->resume_key && put_str_member(b, "resume_key", run->resume_key)) ||
           (run->provenance &&
            (put_provenance(tmp, run->provenance) || put_raw_member(b, "provenance") ||
             tev_buf_append(b, tmp->data, tmp->len)));
}

/* The identity record: {"format":2,"run_id":...,"experiment":...,"name":
 * ...,"folder":...,"host":...,"pid":...,"started_at":...,"attempt":...,
 * "from_step":...,"attempt_started_at":...,"pidns":...,"resume_key":...,
 * "provenance":{...},"config":...} (README). */
static int run_json(tb *c, tev_buf *b, tev_buf *tmp, const tropt_run *run, const json_t *config)
{
    const char *folder = strrchr(c->run_dir, '/');
    tev_buf_clear(b);
    return tev_buf_printf(b, "{\"format\":%d", TB_FORMAT) ||
           put_str_member(b, "run_id", run->run_id) ||
           put_str_member(b, "experiment", run->experiment) ||
           put_str_member(b, "name", tb_run_name(c, run)) ||
           put_str_member(b, "folder", folder ? folder + 1 : c->run_dir) ||
           put_str_member(b, "host", run->host ? run->host : "") || put_raw_member(b, "pid") ||
           tev_buf_put_i64(b, run->pid) || put_raw_member(b, "started_at") ||
           tev_put_real(b, run->started_at, c->h->format_real) || run_json_v12(c, b, tmp, run) ||
           put_raw_member(b, "config") ||
           (config ? tev_put_json(b, config, c->h->format_real) : tev_buf_puts(b, "null")) ||
           tev_buf_putc(b, '}');
}

/* The config for people: its pretty JSON as a Markdown code block (every
 * line indented by four spaces). */
static int config_text(tb *c, tev_buf *b, tev_buf *tmp, const json_t *config)
{
    tev_buf_clear(tmp);
    tev_buf_clear(b);
    if (tev_put_json_indent(tmp, config, c->h->format_real, 2) != 0 || tev_buf_puts(b, "    ") != 0)
        return -1;
    for (size_t i = 0; i < tmp->len; i++) {
        if (tev_buf_putc(b, tmp->data[i]) != 0 ||
            (tmp->data[i] == '\n' && tev_buf_puts(b, "    ") != 0))
            return -1;
    }
    return 0;
}

int tb_queue_start(tb *c, const tropt_run *run, const json_t *config, const tropt_field *params,
                   size_t n_params)
{
    int64_t from = tb_resume_step(c, run);
    int64_t at = from > 0 ? from : 0;
    double t = tb_attempt_start(c, run);
    tev_buf b, tmp;
    tev_buf_init(&b, c->h->realloc, c->h->free);
    tev_buf_init(&tmp, c->h->realloc, c->h->free);
    int bad = tb_encode_file_version(&c->out, t) ||
              (from >= 0 && tb_encode_session_log(&c->out, t, from, SESSION_START)) ||
              run_json(c, &b, &tmp, run, config) || queue_text(c, t, at, TB_TAG_RUN, &b);
    int has_config = config && json_object_size(config) > 0;
    if (!bad && has_config)
        bad = tb_encode_hparams_start(&c->out, t, params, n_params, t, c->h->format_real) ||
              config_text(c, &b, &tmp, config) || queue_text(c, t, at, TB_TAG_CONFIG, &b);
    tev_buf_free(&b);
    tev_buf_free(&tmp);
    return bad ? tb_oom(c) : TROPT_OK;
}

int tb_queue_end(tb *c, const char *status, double ended_at, const json_t *summary)
{
    tev_buf b;
    tev_buf_init(&b, c->h->realloc, c->h->free);
    size_t mark = c->out.len;
    int bad = put_str_member(&b, "status", status) || put_raw_member(&b, "ended_at") ||
              tev_put_real(&b, ended_at, c->h->format_real) || put_raw_member(&b, "steps") ||
              tev_buf_put_i64(&b, c->steps) || put_raw_member(&b, "summary") ||
              (summary ? tev_put_json(&b, summary, c->h->format_real) : tev_buf_puts(&b, "null")) ||
              tev_buf_putc(&b, '}') || queue_text(c, ended_at, c->last_step, TB_TAG_END, &b) ||
              tb_encode_hparams_end(&c->out, ended_at, c->last_step,
                                    strcmp(status, "finished") == 0 ? HP_STATUS_SUCCESS
                                                                    : HP_STATUS_FAILURE,
                                    ended_at);
    tev_buf_free(&b);
    if (bad) {
        c->out.len = mark; /* no half of the end queued */
        return tb_oom(c);
    }
    tb_stats_end(&c->st, status, ended_at);
    return TROPT_OK;
}

/* ---- metadata, marks, system samples (ABI 1.2) ------------------------------ */

/* A record of ours that TensorBoard shows nowhere: the event-format line
 * in b (its newline left out) under tag, alone in an Event at step. */
static int queue_line(tev_buf *out, double time, int64_t step, const char *tag, const tev_buf *b)
{
    tb_value v = {.pfx = "",
                  .tag = tag,
                  .tag_len = strlen(tag),
                  .kind = TBV_TEXT,
                  .s = b->data,
                  .n = b->len && b->data[b->len - 1] == '\n' ? b->len - 1 : b->len};
    return tb_encode_summary(out, time, step, &v, 1);
}

int tb_encode_note(tb *c, tev_buf *out, const char *run_id, const tropt_annotation *a)
{
    tev_buf b;
    tev_buf_init(&b, c->h->realloc, c->h->free);
    int bad = tev_encode_annotate(&b, run_id, a, c->h->format_real) ||
              queue_line(out, a->time, c->open ? tb_current_step(c) : 0, TB_TAG_ANNOTATE, &b);
    tev_buf_free(&b);
    return bad ? -1 : 0;
}

int tb_queue_note(tb *c, const tropt_annotation *a)
{
    size_t mark = c->out.len;
    if (tb_encode_note(c, &c->out, c->run_id, a) != 0 ||
        tb_stats_note(&c->st, (int)a->kind, a->text, a->time) != 0) {
        c->out.len = mark;
        return tb_oom(c);
    }
    return TROPT_OK;
}

int tb_queue_mark(tb *c, const tropt_checkpoint *m)
{
    tev_buf b;
    tev_buf_init(&b, c->h->realloc, c->h->free);
    int bad = tev_encode_checkpoint(&b, c->run_id, m, c->h->format_real) ||
              queue_line(&c->out, m->time, m->step >= 0 ? m->step : tb_current_step(c),
                         TB_TAG_CHECKPOINT, &b);
    tev_buf_free(&b);
    if (bad)
        return tb_oom(c);
    tb_stats_mark(&c->st, m->attempt, m->seq, m->step);
    return TROPT_OK;
}

/* Whether a scalar of tag `key` carries the scalars plugin's metadata: the
 * tag's first value in the file, or the first after its plugin changed.
 * -1 when memory ran out. */
static int scalar_meta(tb *c, const char *key)
{
    int added;
    size_t slot = tb_map_add(&c->seen, key, strlen(key), CLS_SCALAR, &added);
    if (slot == (size_t)-1)
        return -1;
    int meta = added || c->seen.vals[slot] != CLS_SCALAR;
    c->seen.vals[slot] = CLS_SCALAR;
    return meta;
}

int tb_queue_system(tb *c, double time, const tropt_sample *s, size_t n)
{
    if (grow_vals(c, n + 1) != 0)
        return tb_oom(c);
    tev_buf b;
    tev_buf_init(&b, c->h->realloc, c->h->free);
    int bad = tev_encode_system(&b, c->run_id, c->attempt, time, s, n, c->h->format_real);
    tb_value *v = c->vals;
    v[0] = (tb_value){.pfx = "",
                      .tag = TB_TAG_SYSTEM,
                      .tag_len = sizeof TB_TAG_SYSTEM - 1,
                      .kind = TBV_TEXT,
                      .s = b.data,
                      .n = b.len ? b.len - 1 : 0};
    for (size_t i = 0; i < n && !bad; i++) {
        int meta = scalar_meta(c, s[i].key);
        bad = meta < 0;
        v[i + 1] = (tb_value){.pfx = "",
                              .tag = s[i].key,
                              .tag_len = strlen(s[i].key),
                              .kind = TBV_FLOAT,
                              .meta = meta > 0,
                              .d = s[i].value};
    }
    bad = bad || tb_encode_summary(&c->out, time, tb_current_step(c), v, n + 1);
    tev_buf_free(&b);
    return bad ? tb_oom(c) : TROPT_OK;
}
