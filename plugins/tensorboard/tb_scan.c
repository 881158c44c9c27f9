/*
 * plugins/tensorboard/tb_scan.c - the first pass over a run's event files
 * (see tb_scan.h): segments and cuts, what each value is, our records, the
 * run's times, status and config, and the count of what was skipped.
 */
#include "tb_scan.h"

#include "tb_format.h"
#include "tb_ident.h"
#include "tb_record.h"
#include "tropt_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- what a value is ---------------------------------------------------------- */

static int plugin_kind(const unsigned char *name, size_t n)
{
    if (n == 0)
        return PK_NONE;
    if (n == sizeof TB_PLUGIN_SCALARS - 1 && memcmp(name, TB_PLUGIN_SCALARS, n) == 0)
        return PK_SCALARS;
    if (n == sizeof TB_PLUGIN_TEXT - 1 && memcmp(name, TB_PLUGIN_TEXT, n) == 0)
        return PK_TEXT;
    if (n == sizeof TB_PLUGIN_HPARAMS - 1 && memcmp(name, TB_PLUGIN_HPARAMS, n) == 0)
        return PK_HPARAMS;
    return PK_OTHER;
}

static int is(const unsigned char *s, size_t n, const char *lit, size_t litlen)
{
    return n == litlen && memcmp(s, lit, n) == 0;
}

static int has_prefix(const unsigned char *s, size_t n, const char *lit, size_t litlen)
{
    return n >= litlen && memcmp(s, lit, litlen) == 0;
}

/* Append n bytes and a NUL to the arena; their offset in *off.  0 or -1. */
static int arena_put(tev_buf *a, const void *p, size_t n, size_t *off)
{
    *off = a->len;
    return tev_buf_append(a, p, n) || tev_buf_putc(a, '\0');
}

/* A plain value: simple_value, or a one-element number or string tensor.
 * 1: *f (type, number) or *str and *slen (TROPT_STRING); 0: not one. */
static int plain_value(const tb_sval *v, tropt_field *f, const unsigned char **str, size_t *slen)
{
    if (v->kind == TBS_SIMPLE) {
        f->type = TROPT_REAL;
        f->v.r = (double)v->simple;
        return 1;
    }
    tb_tensor t;
    if (v->kind != TBS_TENSOR || tb_decode_tensor(v->tensor, v->tensor_len, &t) != 0)
        return 0;
    if (tb_tensor_number(&t, f) == 0)
        return 1;
    if (tb_tensor_string(&t, str, slen) != 0 || memchr(*str, '\0', *slen))
        return 0;
    f->type = TROPT_STRING;
    return 1;
}

/* The field of a JSON text (our TB_PFX_JSON records): 1 with *f (its json
 * owned by the caller for arrays and objects), 0 when it is not JSON. */
static int json_value(const unsigned char *text, size_t n, tropt_field *f, json_t **keep)
{
    *keep = NULL;
    json_t *j = json_loadb((const char *)text, n, JSON_DECODE_ANY, NULL);
    if (!j)
        return 0;
    if (json_is_boolean(j)) {
        f->type = TROPT_BOOL;
        f->v.b = json_is_true(j);
    } else if (json_is_null(j)) {
        f->type = TROPT_NULL;
    } else if (json_is_integer(j)) {
        f->type = TROPT_INT;
        f->v.i = json_integer_value(j);
    } else if (json_is_real(j)) {
        f->type = TROPT_REAL;
        f->v.r = json_real_value(j);
    } else {
        f->type = json_is_string(j) ? TROPT_STRING : TROPT_JSON;
        *keep = j;
        return 1;
    }
    json_decref(j);
    return 1;
}

/* A user field: key (klen bytes), from the plain value or, json set, from
 * the value's JSON text.  Into *it when it is not NULL. */
static tbr_vclass user_field(const tb_sval *v, const unsigned char *key, size_t klen, int json,
                             tev_buf *arena, tbr_item *it)
{
    tropt_field f = {.type = TROPT_NULL};
    const unsigned char *str = NULL;
    size_t slen = 0;
    json_t *keep = NULL;
    if (memchr(key, '\0', klen) || !plain_value(v, &f, &str, &slen))
        return VC_SKIP;
    if (json && (f.type != TROPT_STRING || !json_value(str, slen, &f, &keep)))
        return VC_SKIP;
    if (keep && json_is_string(keep)) {
        str = (const unsigned char *)json_string_value(keep);
        slen = json_string_length(keep);
        if (memchr(str, '\0', slen)) {
            json_decref(keep);
            return VC_SKIP;
        }
    }
    if (!it) {
        json_decref(keep);
        return VC_USER;
    }
    *it = (tbr_item){.type = f.type, .i = f.v.i, .r = f.v.r};
    if (f.type == TROPT_BOOL)
        it->i = f.v.b;
    int bad = arena_put(arena, key, klen, &it->key) ||
              (f.type == TROPT_STRING && arena_put(arena, str, slen, &it->s));
    if (f.type == TROPT_JSON)
        it->json = keep;
    else
        json_decref(keep);
    if (bad) {
        json_decref(it->json);
        it->json = NULL;
        return (tbr_vclass)-1;
    }
    return VC_USER;
}

int tbr_classify(tbr_scan *s, const tb_sval *v, tev_buf *arena, tbr_item *it)
{
    int pk = PK_NONE;
    if (v->has_meta) {
        pk = plugin_kind(v->plugin, v->plugin_len);
        int added;
        if (tb_map_add(&s->tags, v->tag, v->tag_len, pk, &added) == (size_t)-1)
            return -1;
    } else {
        size_t slot = tb_map_find(&s->tags, v->tag, v->tag_len);
        pk = slot == (size_t)-1 ? PK_NONE : s->tags.vals[slot];
    }
    const unsigned char *t = v->tag;
    size_t n = v->tag_len;
    if (has_prefix(t, n, TB_PREFIX, sizeof TB_PREFIX - 1)) {
        if (is(t, n, TB_TAG_RUN, sizeof TB_TAG_RUN - 1))
            return VC_RUN;
        if (is(t, n, TB_TAG_END, sizeof TB_TAG_END - 1))
            return VC_END;
        if (is(t, n, TB_TAG_CONFIG, sizeof TB_TAG_CONFIG - 1))
            return VC_OURS;
        if (is(t, n, TB_TAG_ANNOTATE, sizeof TB_TAG_ANNOTATE - 1))
            return VC_NOTE;
        if (is(t, n, TB_TAG_CHECKPOINT, sizeof TB_TAG_CHECKPOINT - 1))
            return VC_MARK;
        if (is(t, n, TB_TAG_SYSTEM, sizeof TB_TAG_SYSTEM - 1))
            return VC_SYSTEM;
        size_t pj = sizeof TB_PFX_JSON - 1, pk_ = sizeof TB_PFX_KEY - 1,
               px = sizeof TB_PFX_EXACT - 1;
        if (has_prefix(t, n, TB_PFX_JSON, pj))
            return (int)user_field(v, t + pj, n - pj, 1, arena, it);
        if (has_prefix(t, n, TB_PFX_EXACT, px)) {
            tbr_vclass c = user_field(v, t + px, n - px, 0, arena, it);
            if (c == VC_USER && it)
                it->exact = 1;
            return (int)c;
        }
        if (has_prefix(t, n, TB_PFX_KEY, pk_))
            return (int)user_field(v, t + pk_, n - pk_, 0, arena, it);
        return VC_SKIP;
    }
    if (pk == PK_HPARAMS)
        return VC_HPARAMS;
    if (pk == PK_OTHER)
        return VC_SKIP;
    return (int)user_field(v, t, n, 0, arena, it);
}

int tbr_is_system(const unsigned char *summary, size_t n)
{
    pb_in in = pb_in_of(summary, n);
    tb_sval v;
    return tb_next_value(&in, &v) == 1 &&
           is(v.tag, v.tag_len, TB_TAG_SYSTEM, sizeof TB_TAG_SYSTEM - 1);
}

/* ---- reporting ------------------------------------------------------------------ */

/* 1 the first time key is seen by this reader. */
static int first_time(tbr *r, const char *key)
{
    int added = 0;
    tb_map_add(&r->warned, key, strlen(key), 1, &added);
    return added;
}

void tbr_damage(tbr *r, const char *path, off_t at, const char *what)
{
    char key[4200];
    snprintf(key, sizeof key, "%s:%lld", path, (long long)at);
    if (first_time(r, key))
        TROPT_HOST_LOG(r->h, TROPT_LEVEL_WARNING, "%s: record at byte %lld: %s", path,
                       (long long)at, what);
}

/* What the pass read and skipped, said once per run and reader. */
static void report(tbr_scan *s)
{
    char key[4200];
    snprintf(key, sizeof key, "counts:%s", s->run->dir);
    if (!first_time(s->r, key))
        return;
    long skipped = s->n_unknown + s->n_bad + s->n_malformed + s->n_torn;
    TROPT_HOST_LOG(s->r->h, skipped ? TROPT_LEVEL_INFO : TROPT_LEVEL_DEBUG,
                   "%s: %ld records read from %zu event file(s); skipped: %ld not understood "
                   "(graphs, histograms, images, audio, other plugins' data, session logs other "
                   "than START), %ld with a bad CRC, %ld malformed, %ld cut short at the end of "
                   "a file",
                   s->run->dir, s->n_records, s->run->nfiles, s->n_unknown, s->n_bad,
                   s->n_malformed, s->n_torn);
}

/* ---- the first pass -------------------------------------------------------------- */

static int push_seg(tbr_scan *s, tbr_file *f, off_t at, int64_t start, int start_log)
{
    if (tropt_host_grow(s->r->h, (void **)&f->segs, &f->segcap, f->nsegs + 1, sizeof *f->segs))
        return s->r->h->error(TROPT_ENOMEM, "out of memory");
    f->segs[f->nsegs++] =
        (tbr_seg){.off = at, .start = start, .cut = INT64_MAX, .start_log = start_log};
    return TROPT_OK;
}

/* A relevant event at `step`: a step lower than the last opens a segment. */
static int step_order(tbr_scan *s, tbr_file *f, off_t at, int64_t step)
{
    int rc = TROPT_OK;
    if (s->have_prev && step < s->prev_step)
        rc = push_seg(s, f, at, step, 0);
    s->have_prev = 1;
    s->prev_step = step;
    return rc;
}

static void keep_json(json_t **slot, json_t *j)
{
    json_decref(*slot);
    *slot = j;
}

/* The hparams of a foreign run (session_start_info) as a config object. */
static int add_hparam(void *ud, const unsigned char *key, size_t klen, const tropt_field *f,
                      size_t slen)
{
    json_t *obj = ud, *v;
    if (memchr(key, '\0', klen))
        return 0;
    switch (f->type) {
    case TROPT_REAL:
        v = isfinite(f->v.r) ? json_real(f->v.r) : json_null();
        break;
    case TROPT_STRING:
        v = json_stringn(f->v.s, slen);
        break;
    case TROPT_BOOL:
        v = json_boolean(f->v.b);
        break;
    default:
        v = json_null();
    }
    return v && json_object_setn_new(obj, (const char *)key, klen, v) == 0 ? 0 : -1;
}

static int record_hparams(tbr_scan *s, const tb_sval *v)
{
    json_t *obj = json_object();
    double start = NAN;
    if (!obj)
        return s->r->h->error(TROPT_ENOMEM, "out of memory");
    int r = tb_decode_hparams(v->content, v->content_len, add_hparam, obj, &start);
    if (r == 0 && json_object_size(obj) > 0)
        keep_json(&s->hparams, obj);
    else
        json_decref(obj);
    if (r < 0)
        s->n_malformed++;
    return TROPT_OK;
}

/* The event-format line of our record v, decoded (of type want): 1, 0 when
 * it is not one (counted malformed), -1 when memory ran out. */
static int record_line(tbr_scan *s, const tb_sval *v, tev_type want, tev_event *ev)
{
    tb_tensor t;
    const unsigned char *text;
    size_t n;
    char err[160];
    memset(ev, 0, sizeof *ev);
    if (v->kind != TBS_TENSOR || tb_decode_tensor(v->tensor, v->tensor_len, &t) != 0 ||
        tb_tensor_string(&t, &text, &n) != 0) {
        s->n_malformed++;
        return 0;
    }
    if (tev_decode((const char *)text, n, ev, err, sizeof err) != 0) {
        if (strstr(err, "memory"))
            return -1;
        s->n_malformed++;
        return 0;
    }
    if (ev->type != want) {
        tev_event_clear(ev);
        s->n_malformed++;
        return 0;
    }
    return 1;
}

/* A metadata change or a checkpoint mark of ours: into the file's stats
 * (and the scan's marks). */
static int record_change(tbr_scan *s, tbr_file *f, const tb_sval *v, tbr_vclass cls)
{
    tev_event ev;
    int r = record_line(s, v, cls == VC_NOTE ? TEV_ANNOTATE : TEV_CHECKPOINT, &ev);
    if (r <= 0)
        return r < 0 ? s->r->h->error(TROPT_ENOMEM, "out of memory") : TROPT_OK;
    int bad = 0;
    if (cls == VC_NOTE) {
        bad = tb_stats_note(&f->st, (int)ev.annotation.kind, ev.annotation.text,
                            ev.annotation.time) != 0;
    } else {
        const tropt_checkpoint *m = &ev.checkpoint;
        tb_stats_mark(&f->st, m->attempt, m->seq, m->step);
        if (!s->marks)
            s->marks = json_array();
        char *text = s->marks ? json_dumps(ev.root, JSON_COMPACT) : NULL;
        json_t *entry =
            text ? json_pack("[I, I, s]", (json_int_t)m->attempt, (json_int_t)m->seq, text) : NULL;
        free(text);
        bad = !entry || json_array_append_new(s->marks, entry) != 0;
    }
    tev_event_clear(&ev);
    return bad ? s->r->h->error(TROPT_ENOMEM, "out of memory") : TROPT_OK;
}

/* Our end record: the file's stats and last end. */
static void record_end(tbr_scan *s, tbr_file *f, const tb_sval *v)
{
    json_t *j = tb_record_json(v);
    const char *status = json_string_value(json_object_get(j, "status"));
    const json_t *at = json_object_get(j, "ended_at");
    if (!j || !status) {
        json_decref(j);
        s->n_malformed++;
        return;
    }
    tb_stats_end(&f->st, status, json_is_number(at) ? json_number_value(at) : NAN);
    keep_json(&f->end, j);
}

/* One value of a summary event of file f. */
static int prescan_value(tbr_scan *s, tbr_file *f, const tb_sval *v, int cls)
{
    switch (cls) {
    case VC_END:
        record_end(s, f, v);
        return TROPT_OK;
    case VC_NOTE:
    case VC_MARK:
        return record_change(s, f, v, (tbr_vclass)cls);
    case VC_HPARAMS:
        return record_hparams(s, v);
    case VC_SKIP:
        s->n_unknown++;
        return TROPT_OK;
    default:
        return TROPT_OK;
    }
}

/* One summary event: each value classified (our records and hparams
 * kept); the relevant ones take part in the step order, and a step goes
 * into the file's stats.  System samples are neither. */
static int prescan_summary(tbr_scan *s, tbr_file *f, const tb_event *ev, off_t at)
{
    if (tbr_is_system(ev->summary, ev->summary_len))
        return TROPT_OK;
    pb_in in = pb_in_of(ev->summary, ev->summary_len);
    tb_sval v;
    int r, nvals = 0, relevant = 0, user = 0, rc = TROPT_OK;
    while (rc == TROPT_OK && (r = tb_next_value(&in, &v)) == 1) {
        nvals++;
        int cls = tbr_classify(s, &v, NULL, NULL);
        if (cls < 0)
            return s->r->h->error(TROPT_ENOMEM, "out of memory");
        user |= cls == VC_USER;
        relevant |= cls == VC_USER || cls == VC_RUN || cls == VC_END;
        rc = prescan_value(s, f, &v, cls);
    }
    if (rc != TROPT_OK)
        return rc;
    if (r < 0)
        s->n_malformed++;
    if (nvals == 0 || user)
        tb_stats_step(&f->st, ev->step);
    else if (relevant)
        tb_stats_order(&f->st, ev->step);
    return nvals == 0 || relevant ? step_order(s, f, at, ev->step) : TROPT_OK;
}

static int prescan_record(tbr_scan *s, tbr_file *f, const unsigned char *d, size_t n, off_t at)
{
    tb_event ev;
    s->n_records++;
    s->seq++;
    if (tb_decode_event(d, n, &ev) != 0) {
        s->n_malformed++;
        return TROPT_OK;
    }
    if (ev.wall_time > 0 && isfinite(ev.wall_time)) {
        if (ev.wall_time < s->t_min)
            s->t_min = ev.wall_time;
        if (ev.wall_time > s->t_max)
            s->t_max = ev.wall_time;
    }
    switch (ev.what) {
    case TBE_FILE_VERSION:
        return TROPT_OK;
    case TBE_SUMMARY:
        return prescan_summary(s, f, &ev, at);
    case TBE_SESSION_LOG:
        if (ev.session_status == SESSION_START && s->run->ours)
            return TROPT_OK; /* an attempt of ours: its identity says it all */
        if (ev.session_status == SESSION_START) {
            s->have_prev = 1;
            s->prev_step = ev.step;
            return push_seg(s, f, at, ev.step, 1);
        }
        s->n_unknown++;
        return TROPT_OK;
    default:
        s->n_unknown++;
        return TROPT_OK;
    }
}

/* Handle what the record reader found; 1: go on, 0: the file ends. */
static int record_status(tbr_scan *s, tbr_file *f, tb_rec_status st, off_t at)
{
    char what[160];
    switch (st) {
    case TB_REC_BAD_DATA:
        s->n_bad++;
        tbr_damage(s->r, f->path, at, "its data does not match its CRC: skipped");
        return 1;
    case TB_REC_BAD_LEN:
        s->n_bad++;
        snprintf(what, sizeof what,
                 "its length does not match its CRC: the %lld bytes from there cannot be read",
                 (long long)(f->size - at));
        tbr_damage(s->r, f->path, at, what);
        return 0;
    case TB_REC_TORN:
        s->n_torn++;
        snprintf(what, sizeof what, "torn:%s", f->path);
        if (first_time(s->r, what))
            TROPT_HOST_LOG(s->r->h, TROPT_LEVEL_INFO,
                           "%s: the last record (at byte %lld) is cut short (a crash, or a write "
                           "under way): skipped",
                           f->path, (long long)at);
        return 0;
    default:
        return 0;
    }
}

/* Open file f for reading: its descriptor, or -1 when it cannot be read
 * (said once per reader; the file is then left out, as TensorBoard leaves
 * it out).  f->size: its size now. */
static int open_file(tbr_scan *s, tbr_file *f)
{
    int fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    int e = fd < 0 ? errno : fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EISDIR : 0;
    f->size = 0;
    if (!e) {
        f->size = st.st_size;
        return fd;
    }
    char key[4200];
    snprintf(key, sizeof key, "unreadable:%s", f->path);
    if (first_time(s->r, key))
        TROPT_HOST_LOG(s->r->h, TROPT_LEVEL_WARNING, "%s: cannot read it (%s): left out", f->path,
                       strerror(e));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* The records of file fd from offset `from` to its end, each through
 * prescan_record. */
static int scan_records(tbr_scan *s, tbr_file *f, int fd, off_t from)
{
    const tropt_host *h = s->r->h;
    int rc = TROPT_OK;
    tb_recin in;
    tb_recin_init(&in, h, fd, from, f->size);
    while (rc == TROPT_OK) {
        const unsigned char *d;
        size_t n;
        off_t at;
        tb_rec_status r = tb_recin_next(&in, &d, &n, &at);
        if (r == TB_REC_END)
            break;
        if (r == TB_REC_IOERR) {
            rc = errno == ENOMEM
                     ? h->error(TROPT_ENOMEM, "out of memory")
                     : h->error(TROPT_EBACKEND, "cannot read '%s': %s", f->path, strerror(errno));
        } else if (r == TB_REC_OK) {
            rc = prescan_record(s, f, d, n, at);
        } else if (!record_status(s, f, r, at)) {
            break;
        }
    }
    tb_recin_free(&in);
    return rc;
}

/* Forget what an earlier scan found in f. */
static void file_reset(tbr_file *f)
{
    f->nsegs = 0;
    tb_stats_free(&f->st);
    json_decref(f->end);
    f->end = NULL;
}

static int prescan_file(tbr_scan *s, tbr_file *f)
{
    file_reset(f);
    int fd = open_file(s, f);
    s->have_prev = 0;
    int rc = push_seg(s, f, 0, INT64_MIN, 0);
    if (fd < 0)
        return rc;
    if (rc == TROPT_OK)
        rc = scan_records(s, f, fd, 0);
    close(fd);
    return rc;
}

/* The index of file f (tb_stats.h) into f->st: the bytes it describes, or
 * 0 when there is none usable (then f->st is empty). */
static off_t read_index(tbr_scan *s, tbr_file *f)
{
    char name[TB_IDX_NAME_MAX];
    tb_stats_index_name(f->base, name);
    size_t dlen = (size_t)(f->base - f->path);
    char *path = s->r->h->malloc(dlen + sizeof name);
    if (!path)
        return 0;
    memcpy(path, f->path, dlen);
    strcpy(path + dlen, name);
    size_t n = 0;
    char *text = tb_read_small_file(s->r->h, path, 64u << 20, &n);
    s->r->h->free(path);
    off_t size = 0;
    if (text && (tb_stats_get(&f->st, &size, text, n, f->base) != 1 || size > f->size))
        size = 0;
    s->r->h->free(text);
    if (size == 0)
        tb_stats_free(&f->st);
    return size;
}

int tbr_quick_scan(tbr_scan *s)
{
    int rc = TROPT_OK;
    for (size_t i = 0; i < s->run->nfiles && rc == TROPT_OK; i++) {
        tbr_file *f = &s->run->files[i];
        file_reset(f);
        int fd = open_file(s, f);
        if (fd < 0)
            continue;
        s->have_prev = 0;
        rc = push_seg(s, f, 0, INT64_MIN, 0);
        if (rc == TROPT_OK)
            rc = scan_records(s, f, fd, read_index(s, f));
        close(fd);
    }
    return rc == TROPT_OK ? tbr_conclude(s) : rc;
}

/* Each segment's cut: the lowest start of the later segments of its file
 * and, in a foreign run, of the START segments of later files (see
 * tb_scan.h). */
static void compute_cuts(tbr_run *run)
{
    int64_t later_files = INT64_MAX;
    for (size_t fi = run->nfiles; fi-- > 0;) {
        tbr_file *f = &run->files[fi];
        int64_t later_same = INT64_MAX, starts = INT64_MAX;
        for (size_t k = f->nsegs; k-- > 0;) {
            tbr_seg *g = &f->segs[k];
            g->cut = later_same < later_files ? later_same : later_files;
            if (k > 0 && g->start < later_same)
                later_same = g->start;
            if (g->start_log && g->start < starts)
                starts = g->start;
        }
        if (starts < later_files && !run->ours)
            later_files = starts;
    }
}

void tbr_scan_init(tbr_scan *s, tbr *r, tbr_run *run)
{
    memset(s, 0, sizeof *s);
    s->r = r;
    s->run = run;
    tb_map_init(&s->tags, r->h);
    s->t_min = INFINITY;
    s->t_max = -INFINITY;
}

int tbr_prescan(tbr_scan *s)
{
    int rc = TROPT_OK;
    for (size_t i = 0; i < s->run->nfiles && rc == TROPT_OK; i++)
        rc = prescan_file(s, &s->run->files[i]);
    if (rc != TROPT_OK)
        return rc;
    compute_cuts(s->run);
    report(s);
    return tbr_conclude(s);
}

void tbr_scan_free(tbr_scan *s)
{
    tb_map_free(&s->tags);
    json_decref(s->hparams);
    json_decref(s->marks);
    s->hparams = s->marks = NULL;
}
