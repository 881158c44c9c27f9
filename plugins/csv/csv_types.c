/*
 * plugins/csv/csv_types.c - the type record, types.csv: a record
 * "row,key,type" whenever a key's cells change type, its first value
 * included, so a reader gives back each value's type exactly while
 * metrics.csv stays a plain CSV (README.md "Types").
 * See csv_priv.h for the state and who updates it.
 */
#include "csv_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char types_header[] = "row,key,type\r\n";

/* The type key col takes with field f, or CSV_T_NONE when its record
 * stands: a null is written "null", which no value of a bool, int, real or
 * JSON column is, so only a string column (or a new key) changes type for
 * it. */
static int new_type(const csv *c, size_t col, const tropt_field *f)
{
    int t = csv_type_of_field(f), cur = c->ktype[col];
    if (t == CSV_T_NULL && cur != CSV_T_NONE && cur != CSV_T_STRING)
        return CSV_T_NONE;
    return t == cur ? CSV_T_NONE : t;
}

int types_note(csv *c, const tropt_field *f, size_t n)
{
    const cell *cells = c->cells + c->ncells - n;
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        if (new_type(c, cells[i].col, &f[i]) != CSV_T_NONE)
            need += TROPT_I64_DIGITS_MAX + c->kcell_len[cells[i].col] + 12;
    if (need == 0)
        return 0;
    if (tev_buf_reserve(&c->tq, need) != 0)
        return -1;
    /* the row's index in metrics.csv: rows (wide) or values (long) */
    uint64_t row = c->rows_disk + (c->layout == LAYOUT_LONG ? c->ncells - n + c->nempty : c->nrows);
    for (size_t i = 0; i < n; i++) {
        size_t col = cells[i].col;
        int t = new_type(c, col, &f[i]);
        if (t == CSV_T_NONE)
            continue;
        tev_buf *b = &c->tq;
        b->len += tropt_put_i64(b->data + b->len, (int64_t)(row + (c->layout == LAYOUT_LONG) * i));
        b->data[b->len++] = ',';
        memcpy(b->data + b->len, c->kcell[col], c->kcell_len[col]);
        b->len += c->kcell_len[col];
        b->len += (size_t)sprintf(b->data + b->len, ",%s\r\n", csv_type_name(t));
        c->ktype[col] = (unsigned char)t;
    }
    return 0;
}

/* A fresh types.csv holding its header and the records of b (NULL: none),
 * replacing whatever had the name, then opened for appending. */
static int types_create(csv *c, const tev_buf *b)
{
    tev_buf head;
    tev_buf_init(&head, c->h->realloc, c->h->free);
    int rc = TROPT_OK;
    if (tev_buf_puts(&head, types_header) != 0 || (b && tev_buf_append(&head, b->data, b->len)))
        rc = oom(c);
    else
        rc = write_file_atomic(c, c->tname, &head);
    c->tysize = (off_t)head.len;
    tev_buf_free(&head);
    if (rc != TROPT_OK)
        return rc;
    c->tyfd = openat(c->rfd, c->tname, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (c->tyfd < 0)
        return c->h->error(TROPT_EBACKEND, "cannot open '%s': %s", c->types_path, strerror(errno));
    return TROPT_OK;
}

/* A record of a continued types.csv: kept (into b, and its key's type into
 * ktype) when its row is in metrics.csv; 1 when kept, 0 when dropped, -1
 * when out of memory. */
static int keep_record(csv *c, const csv_record *rec, tev_buf *b)
{
    const char *rowtext = rec->buf + rec->cells[0].off;
    const char *key = rec->buf + rec->cells[1].off;
    int t = csv_type_of_name(rec->buf + rec->cells[2].off);
    char *end;
    errno = 0;
    unsigned long long row = strtoull(rowtext, &end, 10);
    if (errno || *end || rowtext[0] < '0' || rowtext[0] > '9' || t == CSV_T_NONE ||
        row >= c->rows_disk)
        return 0; /* a row the file lost (a writer killed with queued rows) */
    size_t col = c->layout == LAYOUT_LONG ? key_col(c, key) : key_find(c, key);
    if (col == (size_t)-1)
        return c->layout == LAYOUT_LONG ? -1 : 0;
    c->ktype[col] = (unsigned char)t;
    if (tev_buf_printf(b, "%llu,", row) != 0 || csv_put_cell(b, key, rec->cells[1].len) != 0 ||
        tev_buf_printf(b, ",%s\r\n", csv_type_name(t)) != 0)
        return -1;
    return 1;
}

/* Read a continued folder's types.csv back: the records of rows that
 * metrics.csv holds into b (and ktype); *dropped counts the others. */
static int types_load(csv *c, FILE *f, tev_buf *b, long *dropped)
{
    csv_record rec = {0};
    int got = csv_read_record(c->h, f, &rec), rc = TROPT_OK;
    while (got == 1 && (got = csv_read_record(c->h, f, &rec)) == 1) {
        int kept = rec.n == 3 ? keep_record(c, &rec, b) : 0;
        if (kept < 0) {
            rc = oom(c);
            break;
        }
        *dropped += kept == 0;
    }
    if (rc == TROPT_OK && got < 0)
        rc = oom(c);
    *dropped += got == 2;
    csv_record_free(c->h, &rec);
    return rc;
}

int types_open(csv *c, int continued)
{
    c->ty_dirty = 0;
    tev_buf_clear(&c->tq);
    int fd = continued ? openat(c->rfd, c->tname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (fd >= 0 && !f)
        close(fd);
    if (!f)
        return types_create(c, NULL); /* new, or one written before types.csv */
    tev_buf kept;
    tev_buf_init(&kept, c->h->realloc, c->h->free);
    long dropped = 0;
    int rc = types_load(c, f, &kept, &dropped);
    fclose(f);
    if (rc == TROPT_OK && dropped)
        TROPT_HOST_LOG(c->h, TROPT_LEVEL_DEBUG,
                       "'%s/types.csv': %ld records of rows not in metrics.csv dropped", c->run_dir,
                       dropped);
    if (rc == TROPT_OK)
        rc = types_create(c, &kept);
    tev_buf_free(&kept);
    return rc;
}
