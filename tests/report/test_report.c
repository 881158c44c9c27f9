/*
 * tests/report/test_report.c - `tropt report` and `tropt compare`.
 *
 * Databases are made the way users make them: a deterministic journal
 * (mkjournal.py) replayed into sqlite by `tropt replay`.  The report is read
 * back as bytes (golden file, size bound), by Python's csv/json parsers
 * (compare), and by a real browser, headless Chromium, which runs the page's
 * script from file:// (charts drawn, no error, no Content-Security-Policy
 * violation, no request leaving the page, a screenshot that is not blank).
 *
 * Run with the case name as argument (each is its own meson test).
 * TROPT_REGEN_GOLDEN=1 rewrites tests/report/golden.html.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tools/report.h"
#include "testutil.h"

#define PY "/usr/bin/python3"

static char *dir;

static const char *cli(void)
{
    const char *c = getenv("TROPT_CLI");
    ck_assert_msg(c != NULL, "TROPT_CLI is not set");
    return c;
}

static void setup(void)
{
    dir = tu_mkdtemp();
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

/* Run cmd in the test folder; returns the exit status, output in *out. */
static int run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *body = NULL;
    if (vasprintf(&body, fmt, ap) < 0)
        body = NULL;
    va_end(ap);
    ck_assert(body != NULL);
    char *cmd = tu_strdupf("cd '%s' && %s", dir, body);
    free(body);
    char *o = NULL;
    int rc = tu_run(cmd, &o, 1);
    free(cmd);
    if (out)
        *out = o;
    else
        free(o);
    return rc;
}

/* A database <name>.db from mkjournal's scenario. */
static void make_db(const char *scenario, const char *name)
{
    char *out = NULL;
    int rc = run(&out,
                 PY " '%s/tests/report/mkjournal.py' %s %s.jsonl && '%s' replay %s.jsonl "
                    "--tracker sqlite:path=%s.db",
                 tu_source_root(), scenario, name, cli(), name, name);
    ck_assert_msg(rc == 0, "making %s failed (%d): %s", scenario, rc, out ? out : "");
    free(out);
}

static char *read_in_dir(const char *name, size_t *len)
{
    char *p = tu_path(dir, name);
    char *s = tu_read_file(p, len);
    free(p);
    return s;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- M4 downsampling: property test against the definition --------------- */

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

START_TEST(m4_keeps_every_interval_extremes)
{
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = next() % 5000, buckets = 1 + next() % 300;
        double *y = malloc((n + 1) * sizeof *y);
        size_t *keep = malloc(4 * buckets * sizeof *keep);
        ck_assert(y && keep);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = next();
            switch (r % 50) {
            case 0:
                y[i] = NAN;
                break;
            case 1:
                y[i] = INFINITY;
                break;
            case 2:
                y[i] = -INFINITY;
                break;
            case 3:
                y[i] = (double)(r % 7) * 1e6;
                break; /* spikes */
            default:
                y[i] = (double)(r % 1000) / 10.0 - (double)(r % 3);
            }
        }
        size_t k = rp_m4(y, n, buckets, keep);
        ck_assert_uint_le(k, 4 * buckets > n ? n : 4 * buckets);
        for (size_t i = 0; i < k; i++) {
            ck_assert_uint_lt(keep[i], n);
            ck_assert(isfinite(y[keep[i]]));
            if (i)
                ck_assert_uint_gt(keep[i], keep[i - 1]);
        }
        /* the definition: cut [0, n) as rp_m4 documents; every interval's
         * first, last, smallest and largest finite value is kept */
        size_t nb = n <= 4 * buckets ? n : buckets;
        for (size_t b = 0; b < nb; b++) {
            size_t lo = n * b / nb, hi = n * (b + 1) / nb;
            double mn = INFINITY, mx = -INFINITY;
            size_t first = SIZE_MAX, last = SIZE_MAX;
            for (size_t i = lo; i < hi; i++)
                if (isfinite(y[i])) {
                    if (first == SIZE_MAX)
                        first = i;
                    last = i;
                    mn = fmin(mn, y[i]);
                    mx = fmax(mx, y[i]);
                }
            if (first == SIZE_MAX)
                continue;
            int got_min = 0, got_max = 0, got_first = 0, got_last = 0;
            for (size_t i = 0; i < k; i++) {
                if (keep[i] < lo || keep[i] >= hi)
                    continue;
                got_min |= y[keep[i]] == mn;
                got_max |= y[keep[i]] == mx;
                got_first |= keep[i] == first;
                got_last |= keep[i] == last;
            }
            ck_assert_msg(got_min && got_max && got_first && got_last,
                          "case %d: interval %zu [%zu,%zu) lost an extreme", iter, b, lo, hi);
        }
        free(y);
        free(keep);
    }
}
END_TEST

/* ---- Bytes ---------------------------------------------------------------- */

START_TEST(golden)
{
    make_db("golden", "golden");
    char *out = NULL;
    int rc =
        run(&out, "'%s' report --db golden.db -o a.html && '%s' report --db golden.db -o b.html",
            cli(), cli());
    ck_assert_msg(rc == 0, "report failed: %s", out);
    ck_assert_msg(strstr(out, "wrote a.html: 3 runs") != NULL, "%s", out);
    free(out);
    size_t la, lb, lg;
    char *a = read_in_dir("a.html", &la), *b = read_in_dir("b.html", &lb);
    ck_assert(a && b);
    ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "two reports of one database differ");
    char *gpath = tu_path(tu_source_root(), "tests/report/golden.html");
    if (getenv("TROPT_REGEN_GOLDEN")) {
        ck_assert_int_eq(tu_write_file(gpath, a), 0);
    }
    char *g = tu_read_file(gpath, &lg);
    ck_assert_msg(g != NULL, "missing %s (TROPT_REGEN_GOLDEN=1 writes it)", gpath);
    ck_assert_msg(lg == la && memcmp(g, a, la) == 0,
                  "the report differs from %s; if the change is meant, rerun with "
                  "TROPT_REGEN_GOLDEN=1 and review the diff",
                  gpath);
    /* what the golden file must hold, so a regenerated one is checked too */
    ck_assert(strstr(a, "Content-Security-Policy") && strstr(a, "default-src 'none'"));
    /* no address but the SVG namespace name, nothing to load */
    ck_assert_uint_eq(count(a, "http://"), count(a, "'http://www.w3.org/2000/svg'"));
    ck_assert(!strstr(a, "https://") && !strstr(a, "src=") && !strstr(a, "url(") &&
              !strstr(a, "@import"));
    ck_assert(strstr(a, "first NaN at step 20") != NULL);
    ck_assert(strstr(a, "1 +Inf, first at step 33") != NULL);
    ck_assert(strstr(a, "1 -Inf, first at step 5") != NULL);
    ck_assert(strstr(a, "base &lt;b&gt;") != NULL && !strstr(a, "base <b>"));
    ck_assert_uint_eq(count(a, "<tr class=\"diff\"><td>lr</td>"), 1);
    ck_assert_uint_eq(count(a, "<tr class=\"same\"><td>opt/name</td>"), 1);
    ck_assert(strstr(a, "not numeric: no chart") != NULL); /* phase */
    free(gpath);
    free(g);
    free(a);
    free(b);
}
END_TEST

START_TEST(size_bounded)
{
    make_db("long20000", "short");
    make_db("long400000", "long");
    char *out = NULL;
    int rc = run(&out, "'%s' report --db short.db -o s.html && '%s' report --db long.db -o l.html",
                 cli(), cli());
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    size_t ls, ll;
    char *s = read_in_dir("s.html", &ls), *l = read_in_dir("l.html", &ll);
    ck_assert(s && l);
    /* 20x the steps, about the same file (the numbers get a digit longer) */
    ck_assert_msg(ll < ls + ls / 2, "20k steps: %zu bytes, 400k steps: %zu bytes", ls, ll);
    /* every spike (50 above a sine) survives downsampling: the max is drawn */
    const char *data = strstr(l, "id=\"tropt-data\"");
    ck_assert(data != NULL);
    size_t spikes = 0;
    for (const char *p = strstr(data, "\"y\":["); p && *p && *p != ']'; p++)
        if (p[0] == ',' && strtod(p + 1, NULL) > 40)
            spikes++;
    ck_assert_uint_eq(spikes, 400000 / 9973 + (400000 % 9973 > 4321));
    free(s);
    free(l);
}
END_TEST

/* ---- compare ---------------------------------------------------------------- */

START_TEST(compare_formats)
{
    make_db("golden", "g");
    char *out = NULL;
    const char *ids = "0192a000-0000-7000-8000-000000000001 0192a000-0000-7000-8000-000000000002";
    int rc = run(&out,
                 "'%s' compare --db g.db %s --format csv > c.csv && " PY " -c \""
                 "import csv,sys\n"
                 "rows=list(csv.reader(open('c.csv',newline='')))\n"
                 "h=rows[0]; assert h[:3]==['section','key','stat'] and len(h)==5, h\n"
                 "d={(r[0],r[1],r[2]):r[3:] for r in rows[1:]}\n"
                 "assert d[('config','lr','')]==['0.1','0.01'], d\n"
                 "assert ('config','seed','') not in d\n"
                 "assert d[('metric','loss','max')]==['10.3','10.3'], d[('metric','loss','max')]\n"
                 "assert d[('metric','phase','last')]==['main','main']\n"
                 "print('csv ok')\"",
                 cli(), ids);
    ck_assert_msg(rc == 0 && strstr(out, "csv ok"), "%s", out);
    free(out);
    rc = run(&out,
             "'%s' compare --db g.db %s --format json > c.json && " PY " -c \""
             "import json\n"
             "j=json.load(open('c.json'))\n"
             "assert len(j['runs'])==2\n"
             "assert j['config']=={'lr':['0.1','0.01']}, j['config']\n"
             "assert j['metrics']['acc']['last']==['1','1']\n"
             "assert set(j['metrics']['loss'])=={'last','min','max'}\n"
             "print('json ok')\"",
             cli(), ids);
    ck_assert_msg(rc == 0 && strstr(out, "json ok"), "%s", out);
    free(out);
    rc = run(&out, "'%s' compare --db g.db %s", cli(), ids);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert(strstr(out, "config keys that differ") && strstr(out, "lr "));
    ck_assert(strstr(out, "loss max") != NULL);
    free(out);
    rc = run(&out, "'%s' compare --db g.db %s --format yaml", cli(), ids);
    ck_assert_int_eq(rc, 2);
    ck_assert(strstr(out, "unknown format 'yaml'") != NULL);
    free(out);
}
END_TEST

START_TEST(ambiguous_prefix)
{
    make_db("twins", "t");
    char *out = NULL;
    int rc =
        run(&out, "'%s' compare --db t.db 0192a000 0192a000-0000-7000-8000-000000000011", cli());
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "run id prefix '0192a000' is ambiguous") != NULL, "%s", out);
    free(out);
    rc = run(&out, "'%s' report --db t.db --run 0192a000-0000-7000-8000-00000000001 -o r.html",
             cli());
    ck_assert_int_eq(rc, 1);
    ck_assert(strstr(out, "ambiguous") != NULL);
    free(out);
    char *p = tu_path(dir, "r.html");
    ck_assert_int_eq(access(p, F_OK), -1); /* no file, not a broken one */
    free(p);
    rc = run(&out, "'%s' report --db t.db --run 0192a000-0000-7000-8000-000000000012 -o r.html",
             cli());
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    char *html = read_in_dir("r.html", NULL);
    ck_assert(html && strstr(html, "0192a000-0000-7000-8000-000000000012") &&
              !strstr(html, "0192a000-0000-7000-8000-000000000011"));
    free(html);
    rc = run(&out, "'%s' compare --db t.db 0192a000-0000-7000-8000-000000000011 zzz", cli());
    ck_assert_int_eq(rc, 1);
    ck_assert(strstr(out, "no run zzz") != NULL);
    free(out);
}
END_TEST

/* ---- Bad input -------------------------------------------------------------- */

START_TEST(bad_input)
{
    char *out = NULL, *html;
    /* a missing file, a folder, a file that is not a database */
    ck_assert_int_eq(run(&out, "'%s' report --db nope.db", cli()), 1);
    ck_assert(strstr(out, "cannot open nope.db") != NULL);
    free(out);
    ck_assert_int_eq(run(&out, "mkdir d.db && '%s' report --db d.db", cli()), 1);
    ck_assert(strstr(out, "not a regular file") != NULL);
    free(out);
    ck_assert_int_eq(run(&out, "echo hello > x.db && '%s' report --db x.db", cli()), 1);
    ck_assert_msg(strstr(out, "x.db") != NULL, "%s", out);
    free(out);
    /* no runs selected: a page that says so */
    make_db("zero", "z");
    ck_assert_int_eq(run(&out, "'%s' report --db z.db --experiment nope -o e.html", cli()), 0);
    free(out);
    html = read_in_dir("e.html", NULL);
    ck_assert(html && strstr(html, "<p id=\"empty\">No runs to show.</p>"));
    free(html);
    /* a run with zero steps */
    ck_assert_int_eq(run(&out, "'%s' report --db z.db -o z.html", cli()), 0);
    free(out);
    html = read_in_dir("z.html", NULL);
    ck_assert(html && strstr(html, "No metrics were logged.") && strstr(html, "\"metrics\":[]"));
    free(html);
    /* a metric that is all NaN: charted as markers, counted */
    make_db("allnan", "n");
    ck_assert_int_eq(run(&out, "'%s' report --db n.db -o n.html", cli()), 0);
    free(out);
    html = read_in_dir("n.html", NULL);
    ck_assert(html && strstr(html, "50 NaN, first NaN at step 0") && strstr(html, "\"nan\":["));
    free(html);
    /* string and boolean metrics only: tables, no chart */
    make_db("strings", "s");
    ck_assert_int_eq(run(&out, "'%s' report --db s.db -o s.html", cli()), 0);
    free(out);
    html = read_in_dir("s.html", NULL);
    ck_assert(html && count(html, "not numeric: no chart") == 2 && strstr(html, "\"metrics\":[]"));
    ck_assert(strstr(html, "<td class=\"num\">p4</td>") && strstr(html, ">true</td>"));
    free(html);
    /* 10,000 keys: the first 200 shown, the rest named in a note */
    make_db("keys10k", "k");
    ck_assert_int_eq(run(&out, "'%s' report --db k.db -o k.html", cli()), 0);
    free(out);
    size_t len;
    html = read_in_dir("k.html", &len);
    ck_assert(html && strstr(html, "9800 more metrics are not shown"));
    ck_assert_uint_eq(count(html, "<section class=\"metric\">"), 200);
    ck_assert_uint_lt(len, 1u << 20);
    free(html);
}
END_TEST

/* ---- In a real browser ---------------------------------------------------------- */

static const char *chromium(void)
{
    static const char *const c[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser",
                                    "/usr/bin/google-chrome"};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (access(c[i], X_OK) == 0)
            return c[i];
    return NULL;
}

#define CHROME_FLAGS                                                                               \
    "--headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars "                      \
    "--user-data-dir=prof --virtual-time-budget=5000"

static int need_chromium(void)
{
    if (chromium())
        return 1;
    ck_assert_msg(!getenv("CI") && !getenv("TROPT_REQUIRE_CHROMIUM"),
                  "chromium is not installed (apt-get install chromium)");
    fprintf(stderr, "skipping: chromium is not installed\n");
    return 0;
}

/* The attribute value attr="..." of the <body> element in dom, as a number. */
static long body_attr(const char *dom, const char *attr)
{
    const char *b = strstr(dom, "<body");
    ck_assert(b != NULL);
    char *key = tu_strdupf("%s=\"", attr);
    const char *p = strstr(b, key);
    const char *end = strchr(b, '>');
    ck_assert_msg(p && p < end, "<body> has no %s", attr);
    long v = strtol(p + strlen(key), NULL, 10);
    free(key);
    return v;
}

START_TEST(browser_draws_offline)
{
    if (!need_chromium())
        return;
    make_db("golden", "g");
    char *out = NULL;
    int rc = run(&out,
                 "'%s' report --db g.db -o g.html && '%s' " CHROME_FLAGS
                 " --dump-dom \"file://$PWD/g.html\" > dom.html 2> chrome.log",
                 cli(), chromium());
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    char *dom = read_in_dir("dom.html", NULL);
    ck_assert(dom != NULL);
    ck_assert_int_eq(body_attr(dom, "data-charts-drawn"), 3); /* acc, grad/norm, loss */
    ck_assert_int_eq(body_attr(dom, "data-errors"), 0);
    ck_assert_int_eq(body_attr(dom, "data-csp-violations"), 0);
    ck_assert_uint_eq(count(dom, "<svg class=\"chart\""), 3);
    /* one series per run that logged the metric: 3 + 1 + 3 */
    ck_assert_uint_eq(count(dom, "class=\"series\""), 7);
    const char *loss = strstr(dom, "data-metric=\"loss\"");
    ck_assert(loss != NULL);
    const char *loss_end = strstr(loss, "</svg>");
    size_t in_loss = 0;
    for (const char *p = loss; (p = strstr(p, "class=\"series\"")) && p < loss_end; p++)
        in_loss++;
    ck_assert_uint_eq(in_loss, 3);
    ck_assert(strstr(loss, "marker-nan") && strstr(loss, "marker-pinf"));
    ck_assert_msg(!strstr(dom, " d=\"\""), "an empty series path");
    free(dom);
    char *log = read_in_dir("chrome.log", NULL);
    ck_assert(log != NULL);
    ck_assert_msg(!strstr(log, "Refused to") && !strstr(log, "net::ERR"), "%s", log);
    free(log);
}
END_TEST

/* The CSP is enforced: a report with an external image and script planted
 * in it makes no request (a listening socket on loopback gets nothing) and
 * the page counts the violations. */
START_TEST(browser_blocks_external_loads)
{
    if (!need_chromium())
        return;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    ck_assert(bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 8) == 0);
    ck_assert(getsockname(s, (struct sockaddr *)&a, &alen) == 0);
    int port = ntohs(a.sin_port);
    make_db("golden", "g");
    char *out = NULL;
    int rc =
        run(&out,
            "'%s' report --db g.db -o g.html && sed 's|<h1>|<img src=\"http://127.0.0.1:%d/i."
            "png\"><script src=\"http://127.0.0.1:%d/x.js\"></script><h1>|' g.html > bad.html "
            "&& '%s' " CHROME_FLAGS " --dump-dom \"file://$PWD/bad.html\" > dom.html 2>/dev/null",
            cli(), port, port, chromium());
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    struct pollfd p = {.fd = s, .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 0) == 0, "the browser connected to 127.0.0.1:%d", port);
    close(s);
    char *dom = read_in_dir("dom.html", NULL);
    ck_assert(dom != NULL);
    ck_assert_int_ge(body_attr(dom, "data-csp-violations"), 1);
    ck_assert_int_eq(body_attr(dom, "data-charts-drawn"), 3);
    free(dom);
}
END_TEST

START_TEST(browser_screenshot_not_blank)
{
    if (!need_chromium())
        return;
    make_db("golden", "g");
    char *out = NULL;
    int rc = run(&out,
                 "'%s' report --db g.db -o g.html && '%s' " CHROME_FLAGS
                 " --window-size=1000,1400 --screenshot=\"$PWD/shot.png\" \"file://$PWD/g.html\" "
                 ">/dev/null 2>&1 && " PY " '%s/tests/report/pngstat.py' shot.png",
                 cli(), chromium(), tu_source_root());
    ck_assert_msg(rc == 0, "%s", out);
    /* its last line: "W H distinct_colours coloured_fraction" */
    int w = 0, h = 0, colours = 0;
    double coloured = 0;
    const char *last = strstr(out, "\n");
    last = last ? last + 1 : out;
    ck_assert_msg(sscanf(last, "%d %d %d %lf", &w, &h, &colours, &coloured) == 4, "%s", out);
    ck_assert_int_eq(w, 1000);
    ck_assert_int_eq(h, 1400);
    ck_assert_msg(colours >= 4, "%d colours: blank page", colours);
    ck_assert_msg(coloured > 0.001, "%f of the pixels are run colours", coloured);
    free(out);
}
END_TEST

int main(int argc, char **argv)
{
    const struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"m4", m4_keeps_every_interval_extremes},
        {"golden", golden},
        {"size", size_bounded},
        {"compare", compare_formats},
        {"ambiguous", ambiguous_prefix},
        {"bad-input", bad_input},
        {"browser", browser_draws_offline},
        {"browser-csp", browser_blocks_external_loads},
        {"browser-screenshot", browser_screenshot_not_blank},
    };
    Suite *s = suite_create("report");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return tu_run_suite(s);
}
