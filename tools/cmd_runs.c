/*
 * tools/cmd_runs.c - `tropt runs` and `tropt show`: read an sqlite backend
 * database (never modify it) and print its runs or one run.
 *
 * The SQL lives with the backend's, in plugins/sqlite/sqlite_sql.h.  A run
 * still recorded as `running` whose process is gone (same host, pid not
 * alive) is reported as crashed.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../plugins/sqlite/sqlite_sql.h"

#define RUNS_USAGE "runs [--db PATH]"
#define SHOW_USAGE "show RUN [--db PATH]"
#define DEFAULT_DB "tropt.db"

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tropt: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* Parse [--db PATH] plus, for show, one positional RUN.  Returns 0, or the
 * exit code (2 usage error, or 0 after --help). */
static int parse_args(int argc, char **argv, const char *usage, const char **db, const char **run)
{
    *db = DEFAULT_DB;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: tropt %s\n", usage);
            return -1;
        } else if (strcmp(a, "--db") == 0) {
            if (i + 1 >= argc)
                return cli_usage(usage, "--db needs a PATH");
            *db = argv[++i];
        } else if (strncmp(a, "--db=", 5) == 0) {
            *db = a + 5;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage(usage, "unknown option '%s'", a);
        } else if (run && !*run) {
            *run = a;
        } else {
            return cli_usage(usage, "unexpected argument '%s'", a);
        }
    }
    if (**db == '\0')
        return cli_usage(usage, "--db needs a non-empty PATH");
    if (run && (!*run || !**run))
        return cli_usage(usage, "missing RUN (a run id or a unique prefix of one)");
    return 0;
}

/* Open an existing tropt database for reading; *ver gets its schema version
 * (which selects the TSQL_CLI_* strings).  Returns NULL after printing why. */
static sqlite3 *open_db(const char *path, int *ver)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fail("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    /* SQLite would block forever opening a FIFO and say "disk I/O error"
     * of a folder: say what it is instead */
    if (S_ISDIR(st.st_mode)) {
        fail("%s is a folder, not a tropt database (give the database file)", path);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        fail("%s is not a regular file, so not a tropt database", path);
        return NULL;
    }
    sqlite3 *db = NULL;
    /* Read-write without create, so a WAL file whose -shm is missing can be
     * read; fall back to read-only when the file or folder is not writable.
     * Nothing here writes. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close_v2(db);
        db = NULL;
        rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    }
    if (rc != SQLITE_OK) {
        fail("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *q = NULL;
    rc = sqlite3_prepare_v2(db, TSQL_USER_VERSION, -1, &q, NULL);
    int64_t version = -1;
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
        version = sqlite3_column_int64(q, 0);
    if (rc != SQLITE_ROW) {
        fail("cannot read %s: %s", path, sqlite3_errmsg(db));
        sqlite3_finalize(q);
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_finalize(q);
    if (version < 1 || version > TSQL_SCHEMA_VERSION) {
        if (version < 1)
            fail("%s is not a tropt database (no runs were ever written to it)", path);
        else
            fail("%s has schema version %lld, newer than this tropt knows (%d); upgrade tropt",
                 path, (long long)version, TSQL_SCHEMA_VERSION);
        sqlite3_close_v2(db);
        return NULL;
    }
    *ver = (int)version;
    return db;
}

static int prepare(sqlite3 *db, const char *path, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return fail("cannot read %s: %s", path, sqlite3_errmsg(db));
    return 0;
}

/* A `running` run of this host whose process is gone.  From schema 3 the
 * run also records its writer's pid namespace: a run written in another
 * one (a container with the same hostname) is never judged from here. */
static int is_stale(sqlite3 *db, int ver, const char *uuid, const char *status, const char *host,
                    int64_t pid)
{
    char me[256] = "";
    if (strcmp(status, "running") != 0 || gethostname(me, sizeof me - 1) != 0)
        return 0;
    if (!host || strcmp(host, me) != 0 || pid <= 0 || pid == (int64_t)getpid() ||
        (int64_t)(pid_t)pid != pid)
        return 0;
    if (!(kill((pid_t)pid, 0) == -1 && errno == ESRCH))
        return 0;
    if (ver < 3 || !uuid)
        return 1;
    char ns[64];
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    ns[n > 0 ? n : 0] = '\0';
    sqlite3_stmt *q = NULL;
    int stale = 1;
    if (sqlite3_prepare_v2(db, "SELECT pidns FROM tropt_run WHERE uuid = ?1", -1, &q, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(q, 1, uuid, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
            stale = strcmp((const char *)sqlite3_column_text(q, 0), ns) == 0;
    }
    sqlite3_finalize(q);
    return stale;
}

static void local_iso(double t, char *buf, size_t size)
{
    time_t sec = (time_t)floor(t);
    struct tm tm;
    if (!isfinite(t) || !localtime_r(&sec, &tm) ||
        strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(buf, size, "-");
}

/* Shortest %g text that reads back to x. */
static void fmt_real(char *buf, size_t size, double x, int max_digits)
{
    if (isnan(x)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, size, x > 0 ? "inf" : "-inf");
        return;
    }
    for (int p = 1; p <= max_digits; p++) {
        snprintf(buf, size, "%.*g", p, x);
        if (p == max_digits || strtod(buf, NULL) == x)
            return;
    }
}

/* Display text of a stored value v with its kind (0: none). */
static char *fmt_value_v(sqlite3_value *v, int kind, int max_digits)
{
    char buf[64];
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
        if (kind == TSQL_KIND_BOOL)
            return strdup(sqlite3_value_int64(v) ? "true" : "false");
        snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
        return strdup(buf);
    case SQLITE_FLOAT:
        fmt_real(buf, sizeof buf, sqlite3_value_double(v), max_digits);
        return strdup(buf);
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_value_text(v);
        if (!t)
            return NULL;
        if (kind == TSQL_KIND_JSON)
            return strdup(t);
        json_t *j = json_string(t);
        char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
        json_decref(j);
        return out ? out : strdup(t);
    }
    case SQLITE_BLOB:
        return strdup("<blob>");
    default:
        return strdup(kind == TSQL_KIND_NAN ? "nan" : "null");
    }
}

/* The same for columns vcol (value) and kcol (kind) of a row. */
static char *fmt_value(sqlite3_stmt *st, int vcol, int kcol, int max_digits)
{
    int kind = sqlite3_column_type(st, kcol) == SQLITE_NULL ? 0 : sqlite3_column_int(st, kcol);
    return fmt_value_v(sqlite3_column_value(st, vcol), kind, max_digits);
}

/* Display width of UTF-8 text (code points). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c < 0x80                 ? 1
               : c >= 0xC2 && c <= 0xDF ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((n == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))) ||
        (n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))))
        return 0;
    return n;
}

/* Write stored text for the terminal: control characters (C0, DEL, C1),
 * which could move the cursor or recolour the terminal, as '?', and bytes
 * that are not UTF-8 as U+FFFD (issue 18 #5). */
static void put_safe(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0) {
            fputs("\xEF\xBF\xBD", f);
            p++;
        } else if ((n == 1 && (*p < 0x20 || *p == 0x7F)) ||
                   (n == 2 && p[0] == 0xC2 && p[1] < 0xA0)) {
            fputc('?', f);
            p += n;
        } else {
            fwrite(p, 1, n, f);
            p += n;
        }
    }
}

static void pad(FILE *f, const char *s, size_t w, int right)
{
    size_t n = width(s);
    if (right)
        for (size_t i = n; i < w; i++)
            fputc(' ', f);
    put_safe(f, s);
    if (!right)
        for (size_t i = n; i < w; i++)
            fputc(' ', f);
}

/* ---- tropt runs ----------------------------------------------------------- */

enum { C_EXP, C_ID, C_STATUS, C_START, C_STEPS, C_LAST, C_BEST, NCOL };

int cmd_runs(int argc, char **argv)
{
    int from_rc;
    if (cli_from_dispatch(argc, argv, cmd_runs, &from_rc)) /* --from SPEC: cmd_from.c */
        return from_rc;
    const char *path;
    int rc = parse_args(argc, argv, RUNS_USAGE, &path, NULL);
    if (rc)
        return rc < 0 ? 0 : rc;
    int ver;
    sqlite3 *db = open_db(path, &ver);
    if (!db)
        return 1;
    sqlite3_stmt *st = NULL;
    if (prepare(db, path,
                ver == 1   ? TSQL_CLI_RUNS_V1
                : ver == 2 ? TSQL_CLI_RUNS_V2
                           : TSQL_CLI_RUNS,
                &st)) {
        sqlite3_close_v2(db);
        return 1;
    }
    static const char *const head[NCOL] = {"EXPERIMENT", "RUN ID",    "STATUS",   "STARTED",
                                           "STEPS",      "LAST LOSS", "BEST LOSS"};
    static const int right[NCOL] = {0, 0, 0, 0, 1, 1, 1};
    char **cells = NULL; /* rows * NCOL */
    size_t rows = 0, cap = 0, w[NCOL];
    for (int c = 0; c < NCOL; c++)
        w[c] = width(head[c]);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (rows == cap) {
            cap = cap ? cap * 2 : 16;
            char **n = realloc(cells, cap * NCOL * sizeof *n);
            if (!n) {
                src = SQLITE_NOMEM;
                break;
            }
            cells = n;
        }
        char **row = cells + rows * NCOL;
        char buf[64];
        const char *status = (const char *)sqlite3_column_text(st, 2);
        row[C_EXP] = strdup((const char *)sqlite3_column_text(st, 0));
        row[C_ID] = strdup((const char *)sqlite3_column_text(st, 1));
        row[C_STATUS] =
            strdup(is_stale(db, ver, (const char *)sqlite3_column_text(st, 1), status,
                            (const char *)sqlite3_column_text(st, 4), sqlite3_column_int64(st, 5))
                       ? "crashed"
                       : status);
        local_iso(sqlite3_column_double(st, 3), buf, sizeof buf);
        row[C_START] = strdup(buf);
        snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_column_int64(st, 6));
        row[C_STEPS] = strdup(buf);
        row[C_LAST] =
            sqlite3_column_type(st, 7) == SQLITE_NULL && sqlite3_column_type(st, 8) == SQLITE_NULL
                ? strdup("-")
                : fmt_value(st, 7, 8, 6);
        if (sqlite3_column_type(st, 9) == SQLITE_NULL) {
            row[C_BEST] = strdup("-");
        } else {
            fmt_real(buf, sizeof buf, sqlite3_column_double(st, 9), 6);
            row[C_BEST] = strdup(buf);
        }
        for (int c = 0; c < NCOL; c++) {
            if (!row[c])
                row[c] = strdup("?");
            if (row[c] && width(row[c]) > w[c])
                w[c] = width(row[c]);
        }
        rows++;
    }
    int ret = 0;
    if (src != SQLITE_DONE) {
        ret = fail("cannot read %s: %s", path,
                   src == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
    } else if (rows == 0) {
        printf("no runs in %s\n", path);
    } else {
        for (int c = 0; c < NCOL; c++) {
            pad(stdout, head[c], w[c], right[c]);
            fputs(c + 1 < NCOL ? "  " : "\n", stdout);
        }
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < NCOL; c++) {
                const char *cell = cells[r * NCOL + c];
                pad(stdout, cell ? cell : "?", c + 1 < NCOL ? w[c] : 0, right[c]);
                fputs(c + 1 < NCOL ? "  " : "\n", stdout);
            }
    }
    for (size_t i = 0; i < rows * NCOL; i++)
        free(cells[i]);
    free(cells);
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    return ret;
}

/* ---- tropt show ----------------------------------------------------------- */

/* Print "  key  value" lines of a (run) query whose columns are key, value,
 * kind. */
static int print_section(sqlite3 *db, const char *path, const char *title, const char *sql,
                         int64_t run)
{
    sqlite3_stmt *st = NULL;
    if (prepare(db, path, sql, &st))
        return 1;
    sqlite3_bind_int64(st, 1, run);
    /* Two passes: widths first. */
    size_t kw = 0, n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t w = width((const char *)sqlite3_column_text(st, 0));
        if (w > kw)
            kw = w;
        n++;
    }
    if (kw > 48)
        kw = 48;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        printf(n ? "\n%s\n" : "\n%s (none)\n", title);
    while (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
            break;
        char *v = fmt_value(st, 1, 2, 17);
        fputs("  ", stdout);
        pad(stdout, (const char *)sqlite3_column_text(st, 0), kw, 0);
        fputs("  ", stdout);
        put_safe(stdout, v ? v : "?");
        fputc('\n', stdout);
        free(v);
    }
    int ret = 0;
    if (rc != SQLITE_DONE)
        ret = fail("cannot read %s: %s", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ret;
}

/* The last value of every key of a run: one pass over the run's rows
 * (rowids lo..hi), keeping per key the row of the largest step (the later
 * row on a tie), then printed in key order like print_section. */
typedef struct last_val {
    int64_t key, step;
    int kind;
    sqlite3_value *value;
} last_val;

static int cmp_key(const void *a, const void *b)
{
    const last_val *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

static int print_last(sqlite3 *db, const char *path, int ver, int64_t run, int has_rows, int64_t lo,
                      int64_t hi)
{
    const char *title = "metrics, last value";
    last_val *v = NULL;
    size_t n = 0, *slot = NULL, nslot = 0; /* slot: index + 1, 0 empty */
    sqlite3_stmt *st = NULL, *kq = NULL;
    int ret = 0, rc = SQLITE_DONE;
    if (has_rows) {
        if (prepare(db, path,
                    ver == 1   ? TSQL_CLI_ROWS_V1
                    : ver == 2 ? TSQL_CLI_ROWS_V2
                               : TSQL_CLI_ROWS,
                    &st))
            return 1;
        sqlite3_bind_int64(st, 1, run);
        if (ver == 2) {
            sqlite3_bind_int64(st, 2, lo);
            sqlite3_bind_int64(st, 3, hi);
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int64_t key = sqlite3_column_int64(st, 0), step = sqlite3_column_int64(st, 1);
            if (2 * (n + 1) > nslot) { /* grow and rehash */
                size_t ns = nslot ? nslot * 2 : 64;
                size_t *nsl = calloc(ns, sizeof *nsl);
                last_val *nv = nsl ? realloc(v, ns / 2 * sizeof *nv) : NULL;
                if (!nv) {
                    free(nsl);
                    rc = SQLITE_NOMEM;
                    break;
                }
                v = nv;
                for (size_t i = 0; i < n; i++) {
                    size_t h = (size_t)v[i].key * 0x9E3779B97F4A7C15ull & (ns - 1);
                    while (nsl[h])
                        h = (h + 1) & (ns - 1);
                    nsl[h] = i + 1;
                }
                free(slot);
                slot = nsl;
                nslot = ns;
            }
            size_t h = (size_t)key * 0x9E3779B97F4A7C15ull & (nslot - 1);
            while (slot[h] && v[slot[h] - 1].key != key)
                h = (h + 1) & (nslot - 1);
            last_val *e;
            if (!slot[h]) {
                e = &v[n];
                *e = (last_val){.key = key, .step = step};
                slot[h] = ++n;
            } else {
                e = &v[slot[h] - 1];
                if (step < e->step)
                    continue;
                e->step = step;
                sqlite3_value_free(e->value);
            }
            e->value = sqlite3_value_dup(sqlite3_column_value(st, 2));
            e->kind = sqlite3_column_type(st, 3) == SQLITE_NULL ? 0 : sqlite3_column_int(st, 3);
            if (!e->value) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
    }
    if (rc != SQLITE_DONE) {
        ret = fail("cannot read %s: %s", path,
                   rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
        goto out;
    }
    if (n == 0) {
        printf("\n%s (none)\n", title);
        goto out;
    }
    qsort(v, n, sizeof *v, cmp_key);
    int64_t max_step = v[0].step;
    for (size_t i = 1; i < n; i++)
        if (v[i].step > max_step)
            max_step = v[i].step;
    if (prepare(db, path, TSQL_CLI_KEY, &kq)) {
        ret = 1;
        goto out;
    }
    char **names = calloc(n, sizeof *names);
    size_t kw = 0;
    for (size_t i = 0; names && i < n; i++) {
        sqlite3_bind_int64(kq, 1, v[i].key);
        rc = sqlite3_step(kq);
        const char *t = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(kq, 0) : NULL;
        names[i] = strdup(t ? t : "?");
        sqlite3_reset(kq);
        if (names[i] && width(names[i]) > kw)
            kw = width(names[i]);
    }
    if (!names) {
        ret = fail("out of memory");
        goto out;
    }
    if (kw > 48)
        kw = 48;
    printf("\n%s at step %lld\n", title, (long long)max_step);
    for (size_t i = 0; i < n; i++) {
        char *t = fmt_value_v(v[i].value, v[i].kind, 17);
        fputs("  ", stdout);
        pad(stdout, names[i] ? names[i] : "?", kw, 0);
        fputs("  ", stdout);
        put_safe(stdout, t ? t : "?");
        if (v[i].step != max_step)
            printf("  (at step %lld)", (long long)v[i].step);
        fputc('\n', stdout);
        free(t);
        free(names[i]);
    }
    free(names);
out:
    for (size_t i = 0; i < n; i++)
        sqlite3_value_free(v[i].value);
    free(v);
    free(slot);
    sqlite3_finalize(st);
    sqlite3_finalize(kq);
    return ret;
}

int cmd_show(int argc, char **argv)
{
    int from_rc;
    if (cli_from_dispatch(argc, argv, cmd_show, &from_rc)) /* --from SPEC: cmd_from.c */
        return from_rc;
    const char *path, *prefix = NULL;
    int rc = parse_args(argc, argv, SHOW_USAGE, &path, &prefix);
    if (rc)
        return rc < 0 ? 0 : rc;
    int ver;
    sqlite3 *db = open_db(path, &ver);
    if (!db)
        return 1;
    sqlite3_stmt *st = NULL;
    int ret = 0;
    if (prepare(db, path,
                ver == 1   ? TSQL_CLI_FIND_V1
                : ver == 2 ? TSQL_CLI_FIND_V2
                           : TSQL_CLI_FIND,
                &st)) {
        sqlite3_close_v2(db);
        return 1;
    }
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)strlen(prefix));
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ret = fail("no run matches '%s' in %s", prefix, path);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        ret = fail("cannot read %s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    int64_t run = sqlite3_column_int64(st, 0);
    char *uuid = strdup((const char *)sqlite3_column_text(st, 1));
    char *experiment = strdup((const char *)sqlite3_column_text(st, 2));
    char *status = strdup((const char *)sqlite3_column_text(st, 3));
    double started = sqlite3_column_double(st, 4);
    int has_end = sqlite3_column_type(st, 5) != SQLITE_NULL;
    double ended = sqlite3_column_double(st, 5);
    char *host = strdup((const char *)sqlite3_column_text(st, 6));
    int64_t pid = sqlite3_column_int64(st, 7);
    int64_t steps = sqlite3_column_int64(st, 9);
    int has_rows = sqlite3_column_type(st, 10) != SQLITE_NULL;
    int64_t lo = sqlite3_column_int64(st, 10), hi = sqlite3_column_int64(st, 11);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        fprintf(stderr, "tropt: run id prefix '%s' is ambiguous in %s; it matches:\n  %s\n", prefix,
                path, uuid ? uuid : "?");
        for (; rc == SQLITE_ROW; rc = sqlite3_step(st))
            fprintf(stderr, "  %s\n", (const char *)sqlite3_column_text(st, 1));
        fprintf(stderr, "give more characters of the run id\n");
        ret = 1;
    } else if (!uuid || !experiment || !status || !host) {
        ret = fail("out of memory");
    } else {
        char t0[64], t1[64];
        local_iso(started, t0, sizeof t0);
        printf("run         %s\n", uuid);
        fputs("experiment  ", stdout);
        put_safe(stdout, experiment);
        fputc('\n', stdout);
        if (is_stale(db, ver, uuid, status, host, pid))
            printf("status      crashed (recorded as running; process %lld is gone)\n",
                   (long long)pid);
        else
            printf("status      %s\n", status);
        fputs("host        ", stdout);
        put_safe(stdout, host);
        printf(" (pid %lld)\n", (long long)pid);
        printf("started     %s\n", t0);
        if (has_end) {
            local_iso(ended, t1, sizeof t1);
            printf("ended       %s (%.3f s)\n", t1, ended - started);
        }
        printf("steps       %lld\n", (long long)steps);
        ret = print_section(db, path, "config", TSQL_CLI_PARAMS, run);
        if (!ret)
            ret = print_section(db, path, "summary", TSQL_CLI_SUMMARY, run);
        if (!ret)
            ret = print_last(db, path, ver, run, has_rows, lo, hi);
    }
    free(uuid);
    free(experiment);
    free(status);
    free(host);
out:
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    return ret;
}
