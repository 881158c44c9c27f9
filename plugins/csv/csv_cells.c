/*
 * plugins/csv/csv_cells.c - the reader's side of a cell: its value by the
 * type types.csv records for its key, or by its text for a folder written
 * before types.csv; and types.csv itself read alongside metrics.csv
 * (csv_read.h; the format is README.md "Types").
 */
#include "csv_read.h"

#include "tropt_id.h"
#include "tropt_mem.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* s (len bytes) as an int64 written by the writer: [-]digits, in range. */
static int parse_int(const char *s, size_t len, int64_t *v)
{
    size_t i = s[0] == '-';
    if (i >= len || strspn(s + i, "0123456789") != len - i)
        return -1;
    errno = 0;
    long long x = strtoll(s, NULL, 10);
    if (errno)
        return -1;
    *v = x;
    return 0;
}

/* s as a real written by the writer: nan, inf, -inf, or decimal text. */
static int parse_real(const char *s, size_t len, double *v)
{
    if (strcmp(s, "nan") == 0 || strcmp(s, "inf") == 0 || strcmp(s, "-inf") == 0) {
        *v = s[0] == 'n' ? NAN : s[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (strspn(s, "0123456789+-.eE") != len || !strpbrk(s, "0123456789"))
        return -1;
    char *end;
    *v = strtod(s, &end);
    return *end ? -1 : 0;
}

/* s as an array or object of JSON text, into *owned. */
static int parse_json(const char *s, size_t len, json_t **owned)
{
    if (s[0] != '[' && s[0] != '{')
        return -1;
    *owned = json_loadb(s, len, JSON_DECODE_ANY, NULL);
    return *owned ? 0 : -1;
}

/* An unquoted empty cell: 0 (not logged) or null. */
static int empty_cell(int empty_is_null, tropt_field *f)
{
    if (!empty_is_null)
        return 0;
    f->type = TROPT_NULL;
    return 1;
}

/* s typed as t (not NULL nor STRING), "null" already ruled out. */
static int typed_value(const char *s, size_t len, int t, tropt_field *f, json_t **owned)
{
    switch (t) {
    case CSV_T_BOOL:
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
            return -1;
        f->type = TROPT_BOOL;
        f->v.b = s[0] == 't';
        return 1;
    case CSV_T_INT:
        if (parse_int(s, len, &f->v.i) != 0)
            return -1;
        f->type = TROPT_INT;
        return 1;
    case CSV_T_REAL:
        if (parse_real(s, len, &f->v.r) != 0)
            return -1;
        f->type = TROPT_REAL;
        return 1;
    case CSV_T_JSON:
        if (parse_json(s, len, owned) != 0)
            return -1;
        f->type = TROPT_JSON;
        f->v.json = *owned;
        return 1;
    }
    return -1; /* CSV_T_NULL: only "null" */
}

int csv_cell_typed(const char *s, size_t len, int quoted, int empty_is_null, int t, tropt_field *f,
                   json_t **owned)
{
    *owned = NULL;
    if (len == 0 && !quoted)
        return empty_cell(empty_is_null, f);
    if (t == CSV_T_STRING) {
        f->type = TROPT_STRING;
        f->v.s = s;
        return 1;
    }
    if (strcmp(s, "null") == 0) {
        f->type = TROPT_NULL;
        return 1;
    }
    return typed_value(s, len, t, f, owned);
}

int csv_cell_guess(const char *s, size_t len, int quoted, int empty_is_null, tropt_field *f,
                   json_t **owned)
{
    *owned = NULL;
    if (len == 0 && !quoted)
        return empty_cell(empty_is_null, f);
    /* JSON: an array or the empty object, as the writer prints them */
    int json = s[0] == '[' || strcmp(s, "{}") == 0;
    static const int order[] = {CSV_T_BOOL, CSV_T_INT, CSV_T_REAL, CSV_T_JSON};
    for (size_t i = 0; len && i < sizeof order / sizeof *order - !json; i++) {
        tropt_field g = *f;
        if (typed_value(s, len, order[i], &g, owned) == 1) {
            *f = g;
            return 1;
        }
    }
    f->type = TROPT_STRING;
    f->v.s = s;
    return 1;
}

/* ---- types.csv ---------------------------------------------------------- */

int csv_typer_open(csv_typer *t, const tropt_host *h, const char *folder, const char *name)
{
    memset(t, 0, sizeof *t);
    t->h = h;
    t->next_row = UINT64_MAX;
    size_t n = strlen(folder) + strlen(name) + 2;
    if (!(t->path = h->malloc(n)))
        return h->error(TROPT_ENOMEM, "out of memory");
    snprintf(t->path, n, "%s/%s", folder, name);
    if (!(t->f = fopen(t->path, "rb")))
        return 0;
    t->line = 1;
    int got = csv_read_record(h, t->f, &t->rec); /* the header */
    if (got < 0)
        return h->error(TROPT_ENOMEM, "out of memory");
    t->line += t->rec.lines;
    const csv_cell *c = t->rec.cells;
    const char *b = t->rec.buf;
    if (got != 1 || t->rec.n != 3 || strcmp(b + c[0].off, "row") != 0 ||
        strcmp(b + c[1].off, "key") != 0 || strcmp(b + c[2].off, "type") != 0) {
        TROPT_HOST_LOG(h, TROPT_LEVEL_WARNING,
                       "%s: no header row,key,type: not a type record, ignored (values are "
                       "typed by their text)",
                       t->path);
        fclose(t->f);
        t->f = NULL;
        return 0;
    }
    t->stale = 1;
    return 0;
}

/* Read the next well-formed record into t->rec (next_row its row), or
 * none (UINT64_MAX).  0, or -1 when out of memory. */
static int typer_advance(csv_typer *t)
{
    int got;
    t->next_row = UINT64_MAX;
    while ((got = csv_read_record(t->h, t->f, &t->rec)) == 1) {
        long line = t->line;
        t->line += t->rec.lines;
        const char *row = t->rec.buf + t->rec.cells[0].off;
        char *end;
        errno = 0;
        unsigned long long r = t->rec.n == 3 ? strtoull(row, &end, 10) : 0;
        if (t->rec.n == 3 && !errno && row[0] >= '0' && row[0] <= '9' && !*end &&
            csv_type_of_name(t->rec.buf + t->rec.cells[2].off) != CSV_T_NONE) {
            t->next_row = r;
            return 0;
        }
        TROPT_HOST_LOG(t->h, TROPT_LEVEL_WARNING, "%s: line %ld: not a type record, skipped",
                       t->path, line);
    }
    return got < 0 ? -1 : 0;
}

int csv_typer_next(csv_typer *t, uint64_t row, const char **key, int *type)
{
    if (!t->f)
        return 0;
    if (t->stale) {
        t->stale = 0;
        if (typer_advance(t) != 0)
            return t->h->error(TROPT_ENOMEM, "out of memory");
    }
    if (t->next_row > row)
        return 0;
    *key = t->rec.buf + t->rec.cells[1].off;
    *type = csv_type_of_name(t->rec.buf + t->rec.cells[2].off);
    t->stale = 1; /* key stays valid until the next call reads over it */
    return 1;
}

void csv_typer_close(csv_typer *t)
{
    if (!t->h)
        return; /* never opened */
    if (t->f)
        fclose(t->f);
    csv_record_free(t->h, &t->rec);
    t->h->free(t->path);
    t->f = NULL;
    t->path = NULL;
}
