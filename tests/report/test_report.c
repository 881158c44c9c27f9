/*
 * tests/report/test_report.c - `tropt report` and `tropt compare` run as the
 * built binary ($TROPT_CLI) on real sqlite databases: the golden page, the
 * page's content, bad input, compare's three formats read back by real
 * parsers (python3's csv module, jansson).  The page in headless Chromium
 * is tested by test_browser.py.
 *
 * The golden page is tests/report/golden.html, made from golden.jsonl;
 * after an intended change of the page, regenerate it with
 *     TROPT_REPORT_REGEN=1 meson test -C build report
 * and review the diff.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "sqlite_tu.h"

static char *dir;

static void setup(void)
{
    dir = tu_mkdtemp();
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

static char *src_path(const char *name)
{
    return tu_strdupf("%s/tests/report/%s", tu_source_root(), name);
}

/* Replay golden.jsonl into dir/golden.db (fixed run ids and times). */
static char *golden_db(void)
{
    char *db = tu_path(dir, "golden.db");
    char *jl = src_path("golden.jsonl");
    char *args = tu_strdupf("replay '%s' --tracker 'sqlite:path=%s'", jl, db);
    char *out = NULL;
    ck_assert_msg(tq_cli(args, &out) == 0, "replay failed: %s", out);
    free(out);
    free(args);
    free(jl);
    return db;
}

/* Run `tropt report --db db -o dir/name [extra]`: exit code, output. */
static int report(const char *db, const char *name, const char *extra, char **html, char **out)
{
    char *path = tu_path(dir, name);
    char *args = tu_strdupf("report --db '%s' -o '%s' %s", db, path, extra ? extra : "");
    int rc = tq_cli(args, out);
    if (html)
        *html = rc == 0 ? tu_read_file(path, NULL) : NULL;
    free(args);
    free(path);
    return rc;
}

/* A whole page: doctype, the CSP, the end tag, and a data block that parses. */
static json_t *check_page(const char *html)
{
    ck_assert_ptr_nonnull(html);
    ck_assert(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
    ck_assert_ptr_nonnull(
        strstr(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"));
    size_t n = strlen(html);
    ck_assert(n > 16 && strcmp(html + n - 8, "</html>\n") == 0);
    const char *tag = "<script type=\"application/json\" id=\"tropt-data\">";
    const char *a = strstr(html, tag);
    ck_assert_ptr_nonnull(a);
    a += strlen(tag);
    const char *b = strstr(a, "</script>");
    ck_assert_ptr_nonnull(b);
    json_error_t e;
    json_t *j = json_loadb(a, (size_t)(b - a), 0, &e);
    ck_assert_msg(j != NULL, "data block: %s (line %d)", e.text, e.line);
    ck_assert(json_is_array(json_object_get(j, "runs")));
    ck_assert(json_is_array(json_object_get(j, "metrics")));
    return j;
}

/* The packed numbers of the data block (tools/report/report_pack.h),
 * decoded here independently of the page's script. */
static int b64_digit(char c)
{
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(a, c) : NULL;
    return p ? (int)(p - a) : -1;
}

/* The base64 string s of binary32 (wide 0) or binary64 (wide 1) values:
 * their count in *n, the values (free them). */
static double *unpack_floats(const char *s, int wide, size_t *n)
{
    size_t len = strlen(s), nb = 0;
    unsigned char *b = malloc(len);
    for (size_t i = 0; i + 3 < len; i += 4) {
        int d[4];
        for (int k = 0; k < 4; k++)
            d[k] = s[i + k] == '=' ? 0 : b64_digit(s[i + k]);
        ck_assert(d[0] >= 0 && d[1] >= 0 && d[2] >= 0 && d[3] >= 0);
        unsigned v = (unsigned)(d[0] << 18 | d[1] << 12 | d[2] << 6 | d[3]);
        unsigned char t[3] = {(unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
        int keep = s[i + 2] == '=' ? 1 : s[i + 3] == '=' ? 2 : 3;
        memcpy(b + nb, t, (size_t)keep);
        nb += (size_t)keep;
    }
    size_t size = wide ? 8 : 4;
    *n = nb / size;
    double *v = calloc(*n + 1, sizeof *v);
    for (size_t i = 0; i < *n; i++) {
        uint64_t bits = 0;
        for (size_t k = 0; k < size; k++)
            bits |= (uint64_t)b[i * size + k] << (8 * k);
        if (wide) {
            memcpy(&v[i], &bits, 8);
        } else {
            uint32_t b32 = (uint32_t)bits;
            float f;
            memcpy(&f, &b32, 4);
            v[i] = f;
        }
    }
    free(b);
    return v;
}

/* The zigzag varint differences of s: the values (free them), *n. */
static int64_t *unpack_deltas(const char *s, size_t *n)
{
    size_t len = strlen(s);
    int64_t *v = calloc(len + 1, sizeof *v), prev = 0;
    uint64_t z = 0;
    int shift = 0;
    *n = 0;
    for (size_t i = 0; i < len; i++) {
        int d = b64_digit(s[i]);
        ck_assert(d >= 0);
        z |= (uint64_t)(d & 31) << shift;
        shift += 5;
        if (d & 32)
            continue;
        int64_t diff = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        prev += diff;
        v[(*n)++] = prev;
        z = 0;
        shift = 0;
    }
    return v;
}

/* The values ("y") of a series object: *n of them (free them). */
static double *series_y(json_t *se, size_t *n)
{
    int wide = json_integer_value(json_object_get(se, "w")) == 1;
    const char *y = json_string_value(json_object_get(se, "y"));
    ck_assert_ptr_nonnull(y);
    return unpack_floats(y, wide, n);
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The page without what the build inlines: the content of each <style>
 * and code <script> element and the hashes naming them in the CSP are
 * blanked, so the golden file holds the skeleton and the data block. */
static char *skeleton(const char *html)
{
    char *s = strdup(html), *w = s;
    const char *r = html;
    while (*r) {
        const char *close = NULL;
        if (strncmp(r, "<style>", 7) == 0)
            close = "</style>";
        else if (strncmp(r, "<script>", 8) == 0)
            close = "</script>";
        else if (strncmp(r, "'sha256-", 8) == 0)
            close = "'";
        if (!close) {
            *w++ = *r++;
            continue;
        }
        const char *gt = close[0] == '\'' ? r + 1 : strchr(r, '>') + 1;
        memcpy(w, r, (size_t)(gt - r));
        w += gt - r;
        const char *end = strstr(gt, close);
        ck_assert_ptr_nonnull(end);
        memcpy(w, "...", 3);
        w += 3;
        r = end;
        memcpy(w, close, strlen(close));
        w += strlen(close);
        r += strlen(close);
    }
    *w = '\0';
    return s;
}

START_TEST(test_golden)
{
    char *db = golden_db();
    char *html = NULL, *out = NULL;
    ck_assert_int_eq(report(db, "g.html", NULL, &html, &out), 0);
    free(out);
    char *page = html;
    html = skeleton(page);
    char *golden_path = src_path("golden.html");
    if (getenv("TROPT_REPORT_REGEN"))
        ck_assert_int_eq(tu_write_file(golden_path, html), 0);
    char *golden = tu_read_file(golden_path, NULL);
    ck_assert_msg(golden != NULL, "missing %s (TROPT_REPORT_REGEN=1 makes it)", golden_path);
    ck_assert_msg(strcmp(golden, html) == 0,
                  "the page differs from %s; if intended, regenerate it (see the header)",
                  golden_path);
    /* Same input, same bytes: a second report and a second database. */
    char *html2 = NULL;
    ck_assert_int_eq(report(db, "g2.html", NULL, &html2, &out), 0);
    free(out);
    ck_assert_str_eq(page, html2);
    json_decref(check_page(page));
    free(page);
    free(html2);
    free(golden);
    free(golden_path);
    free(html);
    free(db);
}
END_TEST

/* --from reads any backend through the reader API: the golden journal read
 * as a jsonl store draws the same charts (the same data block) as the
 * sqlite database it was replayed into; a store that cannot be read is an
 * error naming it, and no page is left behind. */
START_TEST(test_from_reader)
{
    char *db = golden_db();
    char *a = NULL, *b = NULL, *out = NULL;
    ck_assert_int_eq(report(db, "a.html", NULL, &a, &out), 0);
    free(out);
    char *jl = src_path("golden.jsonl");
    char *path = tu_path(dir, "b.html");
    char *args = tu_strdupf("report --from 'jsonl:path=%s' -o '%s'", jl, path);
    ck_assert_msg(tq_cli(args, &out) == 0, "%s", out);
    free(out);
    free(args);
    b = tu_read_file(path, NULL);
    json_t *ja = check_page(a), *jb = check_page(b);
    ck_assert_msg(json_equal(json_object_get(ja, "metrics"), json_object_get(jb, "metrics")),
                  "the charts differ between --db and --from jsonl");
    ck_assert_uint_eq(json_array_size(json_object_get(jb, "runs")), 3);
    ck_assert_ptr_nonnull(strstr(b, "first NaN at step"));
    json_decref(ja);
    json_decref(jb);
    free(a);
    free(b);
    /* compare reads the same way */
    args =
        tu_strdupf("compare 01940000-0000 01940000-0001 --from 'jsonl:path=%s' --format json", jl);
    ck_assert_msg(tq_cli(args, &out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "\"seed\"") && strstr(out, "\"loss\""), "%s", out);
    free(out);
    free(args);
    /* unreadable: an error naming the path, no page */
    char *bad = tu_path(dir, "none.jsonl");
    char *p2 = tu_path(dir, "c.html");
    args = tu_strdupf("report --from 'jsonl:path=%s' -o '%s'", bad, p2);
    ck_assert_int_ne(tq_cli(args, &out), 0);
    ck_assert_msg(strstr(out, "none.jsonl") != NULL, "%s", out);
    ck_assert_int_eq(access(p2, F_OK), -1);
    free(out);
    free(args);
    free(bad);
    free(p2);
    free(path);
    free(jl);
    free(db);
}
END_TEST

START_TEST(test_page_content)
{
    char *db = golden_db();
    char *html = NULL, *out = NULL;
    ck_assert_int_eq(report(db, "g.html", NULL, &html, &out), 0);
    free(out);
    json_t *j = check_page(html);
    /* Three runs; acc, allnan and loss are charted, phase (text) is not. */
    ck_assert_uint_eq(json_array_size(json_object_get(j, "runs")), 3);
    json_t *m = json_object_get(j, "metrics");
    ck_assert_uint_eq(json_array_size(m), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "key")), "acc");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 2), "key")), "loss");
    ck_assert_uint_eq(count(html, "<div class=\"chart\""), 3);
    /* Non-finite values: marked in the data and counted with their step. */
    ck_assert_ptr_nonnull(strstr(html, "1 NaN (first NaN at step 5), 1 +Inf (first +Inf at step "
                                       "7), 1 -Inf (first -Inf at step 9)"));
    ck_assert_ptr_nonnull(strstr(html, "25 NaN (first NaN at step 0)"));
    size_t nly = 0;
    double *ly = series_y(json_array_get(json_object_get(json_array_get(m, 2), "series"), 0), &nly);
    ck_assert_uint_gt(nly, 9);
    ck_assert(isnan(ly[5]));
    ck_assert(isinf(ly[7]) && ly[7] > 0);
    ck_assert(isinf(ly[9]) && ly[9] < 0);
    free(ly);
    /* The crashed run is flagged; times are UTC; durations. */
    ck_assert_ptr_nonnull(strstr(html, "<tr data-run=\"1\" class=\"crashed\"><td class=\"name\""));
    ck_assert_ptr_nonnull(strstr(html, "&#9888; crashed"));
    ck_assert_ptr_nonnull(strstr(html, "<td>2026-01-01 00:00:00 UTC</td><td>20.0 s</td>"));
    /* Config: differing keys highlighted, equal ones not; text escaped. */
    ck_assert_ptr_nonnull(strstr(html, "<tr class=\"diff\"><th>lr</th>"));
    ck_assert_ptr_nonnull(strstr(html, "<tr class=\"diff\"><th>opt/name</th>"));
    ck_assert_ptr_nonnull(strstr(html, "<tr><th>opt/beta</th>"));
    ck_assert_ptr_nonnull(strstr(html, "a &lt;b&gt; &amp; &quot;c&quot;"));
    ck_assert_ptr_null(strstr(html, "a <b>"));
    /* Summaries. */
    ck_assert_ptr_nonnull(strstr(html, "<tr><th>best_loss</th><td>0.25</td><td></td><td></td>"));
    /* --experiment and --run choose runs. */
    char *h2 = NULL;
    ck_assert_int_eq(report(db, "o.html", "--experiment other", &h2, &out), 0);
    free(out);
    json_t *j2 = check_page(h2);
    ck_assert_uint_eq(json_array_size(json_object_get(j2, "runs")), 1);
    json_decref(j2);
    free(h2);
    /* An experiment that matches nothing is an error naming it and the
     * experiments there are; no page. */
    ck_assert_int_eq(report(db, "n.html", "--experiment nosuch", &h2, &out), 1);
    ck_assert_msg(strstr(out, "no run of experiment 'nosuch' in ") &&
                      strstr(out, "'golden', 'other'"),
                  "%s", out);
    free(out);
    char *npath = tu_path(dir, "n.html");
    ck_assert_int_eq(access(npath, F_OK), -1);
    free(npath);
    ck_assert_int_eq(report(db, "r.html", "--run 01940000-0001 --run 01940000-0000", &h2, &out), 0);
    free(out);
    j2 = check_page(h2);
    ck_assert_uint_eq(json_array_size(json_object_get(j2, "runs")), 2);
    json_decref(j2);
    free(h2);
    json_decref(j);
    free(html);
    free(db);
}
END_TEST

START_TEST(test_bad_input)
{
    char *html = NULL, *out = NULL;
    /* No runs: a database that holds none is an error naming it, and no
     * page is written (issue 26: an empty page and exit 0 hid typos). */
    char *empty = tu_path(dir, "empty.db");
    tropt_tracker_free(tq_open(empty, NULL, "e"));
    ck_assert_int_eq(report(empty, "e.html", NULL, &html, &out), 1);
    ck_assert_msg(strstr(out, "tropt report: ") && strstr(out, "empty.db holds no runs"), "%s",
                  out);
    free(out);
    char *epath = tu_path(dir, "e.html");
    ck_assert_int_eq(access(epath, F_OK), -1);
    free(epath);

    /* One run with zero steps. */
    char *zero = tu_path(dir, "zero.db");
    tropt_tracker *t = tq_open(zero, NULL, "z");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    ck_assert_int_eq(report(zero, "z.html", NULL, &html, &out), 0);
    free(out);
    json_t *j = check_page(html);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "runs")), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "metrics")), 0);
    ck_assert_ptr_nonnull(strstr(html, "<td class=\"num\">0</td>"));
    json_decref(j);
    free(html);

    /* String-only metrics: in the table, no chart. */
    char *str = tu_path(dir, "str.db");
    t = tq_open(str, NULL, "s");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    for (int s = 0; s < 3; s++) {
        tropt_field f[] = {TROPT_F_STR("phase", s < 2 ? "warm" : "<done>")};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 1), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    ck_assert_int_eq(report(str, "s.html", NULL, &html, &out), 0);
    free(out);
    j = check_page(html);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "metrics")), 0);
    ck_assert_ptr_nonnull(strstr(html, "<td class=\"text\">&lt;done&gt;</td>"));
    json_decref(j);
    free(html);

    /* 10,000 keys in one step: a bounded page, charts capped, tables whole. */
    char *many = tu_path(dir, "many.db");
    t = tq_open(many, NULL, "m");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    enum { NK = 10000 };
    tropt_field *f = calloc(NK, sizeof *f);
    char(*names)[16] = calloc(NK, 16);
    for (int k = 0; k < NK; k++) {
        snprintf(names[k], 16, "k%05d", k);
        tropt_field one = TROPT_F_REAL(names[k], k * 0.5);
        f[k] = one;
    }
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, NK), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    free(f);
    free(names);
    ck_assert_int_eq(report(many, "m.html", NULL, &html, &out), 0);
    free(out);
    j = check_page(html);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "metrics")), 200);
    ck_assert_ptr_nonnull(strstr(html, "9800 more numeric metrics are not charted"));
    ck_assert_ptr_nonnull(strstr(html, "<tr><td>k09999</td>"));
    ck_assert_uint_lt(strlen(html), 5u << 20);
    json_decref(j);
    free(html);

    /* A prefix matching two runs, or none: a clear error and no file. */
    char *two = tu_path(dir, "two.db");
    t = tq_open(two, NULL, "t");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id1 = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id2 = strdup(tropt_tracker_run_id(t));
    tropt_tracker_free(t);
    ck_assert_int_eq(report(two, "a.html", "--run 01", &html, &out), 1);
    ck_assert_msg(strstr(out, "run prefix '01' is ambiguous, it matches 2 runs:") &&
                      strstr(out, id1) && strstr(out, id2),
                  "%s", out);
    free(out);
    char *apath = tu_path(dir, "a.html");
    struct stat sb;
    ck_assert_int_ne(stat(apath, &sb), 0);
    ck_assert_int_eq(report(two, "a.html", "--run ffff", &html, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "no run matches 'ffff'"));
    free(out);
    ck_assert_int_ne(stat(apath, &sb), 0);
    char *args = tu_strdupf("compare --db '%s' 01 %s", two, id2);
    ck_assert_int_eq(tq_cli(args, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "is ambiguous"));
    free(out);
    free(args);
    /* Not a database at all. */
    char *junk = tu_path(dir, "junk.db");
    ck_assert_int_eq(tu_write_file(junk, "not a database, just text\n"), 0);
    ck_assert_int_eq(report(junk, "j.html", NULL, &html, &out), 1);
    ck_assert_msg(strstr(out, "tropt report: ") && strstr(out, "junk.db") &&
                      strstr(out, "not an SQLite database"),
                  "%s", out);
    free(out);
    free(apath);
    free(junk);
    free(id1);
    free(id2);
    free(two);
    free(many);
    free(str);
    free(zero);
    free(empty);
}
END_TEST

/* Keys and values that are not UTF-8 (the C API and sqlite keep them) and
 * control characters: the page stays valid UTF-8, its data block parses,
 * and what cannot be shown is U+FFFD or a control picture. */
START_TEST(test_invalid_utf8)
{
    char *db = tu_path(dir, "u8.db");
    tropt_tracker *t = tq_open(db, NULL, "u8");
    json_t *cfg = json_pack("{s:s}", "note", "bell\a esc\x1b[2J");
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    json_decref(cfg);
    for (int s = 0; s < 3; s++) {
        tropt_field f[] = {TROPT_F_REAL("bad\xff\xfekey", s), TROPT_F_STR("text", "x\xc3(y")};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 2), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *html = NULL, *out = NULL;
    ck_assert_int_eq(report(db, "u.html", NULL, &html, &out), 0);
    free(out);
    json_t *j = check_page(html); /* jansson refuses invalid UTF-8 */
    json_t *m = json_array_get(json_object_get(j, "metrics"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(m, "key")),
                     "bad\xef\xbf\xbd\xef\xbf\xbdkey");
    ck_assert_ptr_null(strstr(html, "\xff"));
    ck_assert_ptr_nonnull(strstr(html, "x\xef\xbf\xbd(y"));
    ck_assert_ptr_nonnull(strstr(html, "bell&#x2407; esc&#x241b;[2J"));
    ck_assert_ptr_null(strstr(html, "\x1b"));
    json_decref(j);
    free(html);
    free(db);
}
END_TEST

/* The reader's names and tags of the runs (SPEC 14), collected here. */
typedef struct {
    char *name[4];
    char *tag[4];
    int n;
} named;

static int collect_names(const tropt_stored_run *sr, void *ud)
{
    named *nm = ud;
    if (nm->n < 4) {
        nm->name[nm->n] = strdup(sr->name ? sr->name : "");
        nm->tag[nm->n] = sr->n_tags ? strdup(sr->tags[0]) : NULL;
        nm->n++;
    }
    return 0;
}

/* The page shows each run under the name the reader gives it (the stored
 * one, or the one the reader layer derives), and its tags, escaped; --run
 * takes a name. */
START_TEST(test_names_and_tags)
{
    char *db = tu_path(dir, "names.db");
    tropt_tracker *t = tq_open(db, NULL, "n");
    const char *given[2] = {"lr-0.1 <b>", "lr-0.01"};
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(tropt_tracker_set_run_name(t, given[r]), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_tag(t, r ? "baseline" : "<i>x"), TROPT_OK);
        tropt_field f[] = {TROPT_F_REAL("loss", 1.0 + r)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 1), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    }
    tropt_tracker_free(t);
    named nm = {0};
    tropt_reader *rd = NULL;
    char *spec = tu_strdupf("sqlite:path=%s", db);
    ck_assert_int_eq(tropt_reader_open(&rd, spec), TROPT_OK);
    ck_assert_int_eq(tropt_reader_list_runs(rd, collect_names, &nm), TROPT_OK);
    tropt_reader_free(rd);
    free(spec);
    ck_assert_int_eq(nm.n, 2);
    char *html = NULL, *out = NULL;
    ck_assert_int_eq(report(db, "n.html", NULL, &html, &out), 0);
    free(out);
    json_t *j = check_page(html);
    json_t *runs = json_object_get(j, "runs");
    for (int r = 0; r < 2; r++) {
        json_t *run = json_array_get(runs, (size_t)r);
        ck_assert_str_eq(json_string_value(json_object_get(run, "name")), nm.name[r]);
        json_t *tags = json_object_get(run, "tags");
        if (nm.tag[r])
            ck_assert_str_eq(json_string_value(json_array_get(tags, 0)), nm.tag[r]);
        else
            ck_assert_uint_eq(json_array_size(tags), 0);
        /* the runs table, the name escaped (the stored name holds markup) */
        char *cell = strcmp(nm.name[r], "lr-0.1 <b>") == 0
                         ? strdup("<code>lr-0.1 &lt;b&gt;</code>")
                         : tu_strdupf("<code>%s</code>", nm.name[r]);
        ck_assert_ptr_nonnull(strstr(html, cell));
        free(cell);
    }
    ck_assert_ptr_null(strstr(html, "<b>"));
    ck_assert_ptr_null(strstr(html, "<i>x"));
    json_decref(j);
    free(html);
    char *extra = tu_strdupf("--run '%s'", nm.name[1]);
    ck_assert_int_eq(report(db, "n2.html", extra, &html, &out), 0);
    free(out);
    free(extra);
    j = check_page(html);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "runs")), 1);
    json_decref(j);
    free(html);
    for (int r = 0; r < nm.n; r++) {
        free(nm.name[r]);
        free(nm.tag[r]);
    }
    free(db);
}
END_TEST

/* End to end: a 20,000-step run's page keeps a bounded number of points,
 * and its spikes and its NaN are among them. */
START_TEST(test_spikes_survive)
{
    char *db = tu_path(dir, "long.db");
    tropt_tracker *t = tq_open(db, "commit_every=1000", "long");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    for (int s = 0; s < 20000; s++) {
        double v = s == 12345 ? 1e9 : s == 777 ? -5 : s == 15000 ? NAN : 1.0 + (s % 10) * 1e-3;
        tropt_field f[] = {TROPT_F_REAL("loss", v)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 1), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *html = NULL, *out = NULL;
    ck_assert_int_eq(report(db, "l.html", NULL, &html, &out), 0);
    free(out);
    json_t *j = check_page(html);
    json_t *se = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "metrics"), 0), "series"), 0);
    size_t n = 0, ny = 0;
    int64_t *st = unpack_deltas(json_string_value(json_object_get(se, "s")), &n);
    double *y = series_y(se, &ny);
    ck_assert_uint_gt(n, 100);
    ck_assert_uint_le(n, 7 * 500);
    ck_assert_uint_eq(ny, n);
    int spike = 0, dip = 0, nan = 0;
    for (size_t i = 0; i < n; i++) {
        spike |= st[i] == 12345 && y[i] == 1e9;
        dip |= st[i] == 777 && y[i] == -5;
        nan |= st[i] == 15000 && isnan(y[i]);
    }
    ck_assert(spike && dip && nan);
    free(st);
    free(y);
    ck_assert_ptr_nonnull(strstr(html, "1 NaN (first NaN at step 15000)"));
    ck_assert_ptr_nonnull(strstr(html, "<td class=\"num\">20000</td>"));
    json_decref(j);
    free(html);
    free(db);
}
END_TEST

/* The options come from the tools' one table parser: the help lists them,
 * every form of an option is read, and a usage error exits 2 with the
 * reason and the usage line, writing no page. */
START_TEST(test_usage)
{
    char *out = NULL;
    ck_assert_int_eq(tq_cli("report --help", &out), 0);
    const char *named[] = {"usage: tropt report", "--db PATH", "--from SPEC",
                           "--experiment NAME",   "--run RUN", "-o, --output FILE",
                           "--watch INTERVAL"};
    for (size_t i = 0; i < sizeof named / sizeof *named; i++)
        ck_assert_msg(strstr(out, named[i]) != NULL, "help lacks %s:\n%s", named[i], out);
    free(out);
    const struct {
        const char *args, *says;
    } bad[] = {{"--frobnicate", "unknown option"},  {"--db", "--db"},
               {"--db a --from b", "not both"},     {"--watch 5x", "--watch wants an interval"},
               {"--watch 1s -o -", "give -o FILE"}, {"extra", "extra"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *args = tu_strdupf("report %s", bad[i].args);
        ck_assert_int_eq(tq_cli(args, &out), 2);
        ck_assert_msg(strstr(out, bad[i].says) && strstr(out, "usage: tropt report"),
                      "tropt %s:\n%s", args, out);
        free(out);
        free(args);
    }
    char *db = golden_db();
    char *page = tu_path(dir, "forms.html");
    char *args = tu_strdupf(
        "report --db='%s' -o'%s' --run=01940000-0000-7000-8000-00000000000a --experiment golden",
        db, page);
    ck_assert_int_eq(tq_cli(args, &out), 0);
    free(out);
    char *html = tu_read_file(page, NULL);
    json_decref(check_page(html));
    free(html);
    free(args);
    free(page);
    free(db);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_page_content);
    tcase_add_test(tc, test_from_reader);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_names_and_tags);
    tcase_add_test(tc, test_spikes_survive);
    tcase_add_test(tc, test_usage);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
