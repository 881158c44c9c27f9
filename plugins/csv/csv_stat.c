/*
 * plugins/csv/csv_stat.c - the counts of an attempt's steps that run.json
 * keeps (csv_read.h, csv_stepstat): the writer adds each row as it reaches
 * the file, a reader brings them up to date by scanning only the records
 * written since, and a run's last step and number of current steps come
 * from them, so listing a run never reads a whole metrics file.
 */
#include "csv_read.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void csv_attempt_file(int64_t k, const char *what, char *buf, size_t size)
{
    if (k <= 1)
        snprintf(buf, size, "%s.csv", what);
    else
        snprintf(buf, size, "%s.attempt%lld.csv", what, (long long)k);
}

void csv_stat_add(csv_stepstat *st, int64_t step)
{
    if (st->rows == 0) {
        st->first = st->max = step;
        st->ascending = st->contiguous = 1;
    } else {
        st->ascending &= step > st->end;
        st->contiguous &= st->end < INT64_MAX && step == st->end + 1;
        if (step > st->max)
            st->max = step;
    }
    st->end = step;
    st->rows++;
}

int csv_stat_refresh(const tropt_host *h, FILE *f, int long_layout, csv_stepstat *st)
{
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0)
        return -1;
    if ((int64_t)sb.st_ino == st->inode && (int64_t)sb.st_size == st->bytes)
        return 0;
    int reset = (int64_t)sb.st_ino != st->inode || (int64_t)sb.st_size < st->bytes;
    if (reset) {
        /* another file (a rewrite replaced it) or a shorter one: count it all
         * again; the header is no step (its step cell is "step") */
        memset(st, 0, sizeof *st);
        st->inode = (int64_t)sb.st_ino;
    }
    int64_t before = st->bytes;
    if (csv_steps_scan(h, f, (off_t)st->bytes, 1, long_layout, NULL, st) < 0)
        return -1;
    return reset || st->bytes != before;
}

static int put_int(json_t *o, const char *k, int64_t v)
{
    return json_object_set_new(o, k, json_integer((json_int_t)v));
}

int csv_stat_put(json_t *att, const csv_stepstat *st)
{
    int bad = put_int(att, "rows", (int64_t)st->rows) || put_int(att, "bytes", st->bytes) ||
              put_int(att, "inode", st->inode);
    if (st->rows)
        bad = bad || put_int(att, "first_step", st->first) || put_int(att, "end_step", st->end) ||
              put_int(att, "last_step", st->max) ||
              json_object_set_new(att, "ascending", json_boolean(st->ascending)) ||
              json_object_set_new(att, "contiguous", json_boolean(st->contiguous));
    return bad ? -1 : 0;
}

static int64_t get_int(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

void csv_stat_get(const json_t *att, csv_stepstat *st)
{
    memset(st, 0, sizeof *st);
    json_int_t rows = json_integer_value(json_object_get(att, "rows"));
    st->bytes = get_int(att, "bytes");
    st->inode = get_int(att, "inode");
    if (rows <= 0)
        return;
    st->rows = (uint64_t)rows;
    st->first = get_int(att, "first_step");
    st->end = get_int(att, "end_step");
    st->max = get_int(att, "last_step");
    st->ascending = json_is_true(json_object_get(att, "ascending"));
    st->contiguous = json_is_true(json_object_get(att, "contiguous"));
}

/* The current steps of one attempt: those below `cut` (the lowest
 * from_step of the attempts after it); -1 when its counts cannot tell. */
static int64_t current_rows(const csv_stepstat *st, int64_t cut)
{
    if (st->rows == 0)
        return 0;
    if (!st->ascending)
        return -1;                         /* a step in several rows */
    if (cut == INT64_MAX || st->max < cut) /* INT64_MAX: no later attempt */
        return (int64_t)st->rows;
    if (!st->contiguous)
        return -1;
    return st->first >= cut ? 0 : cut - st->first;
}

void csv_run_steps(const json_t *attempts, int64_t *last_step, int64_t *n_steps)
{
    size_t n = json_array_size(attempts);
    int64_t cut = INT64_MAX, total = 0;
    *last_step = -1;
    for (size_t i = n; i-- > 0;) {
        const json_t *att = json_array_get(attempts, i);
        csv_stepstat st;
        csv_stat_get(att, &st);
        if (st.rows && st.max > *last_step)
            *last_step = st.max;
        int64_t k = current_rows(&st, cut);
        total = total < 0 || k < 0 ? -1 : total + k;
        int64_t from = get_int(att, "from_step");
        if (from < cut)
            cut = from;
    }
    *n_steps = total;
}
