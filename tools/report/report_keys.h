/*
 * tools/report/report_keys.h - the keys a page shows, in the order it
 * shows them: metrics grouped by their first `/` segment (ungrouped keys
 * last) and sorted naturally (`layer.2` before `layer.10`); config and
 * summary keys, with whether the runs differ on each.
 */
#ifndef TROPT_REPORT_KEYS_H
#define TROPT_REPORT_KEYS_H

#include "report_data.h"

/* Natural order: runs of digits compare as numbers, the rest bytewise. */
int rp_natcmp(const char *a, const char *b);

/* Whether key is a system metric (SPEC 16: "sys/..."), drawn against wall
 * time in its own group, after the other groups. */
int rp_is_system(const char *key);

/* The length of key's group (its first `/` segment), 0 when it has none. */
size_t rp_group_len(const char *key);

typedef struct {
    const char **key; /* borrowed from the runs */
    char *numeric;    /* metrics: some run logged a number under it */
    char *diff;       /* config: the runs differ on it (absent counts) */
    size_t n;
} rp_keys;

/* The union of the runs' metric keys (which 0, in chart order), config
 * keys (1) or summary keys (2, both sorted naturally).  Returns 0, or -1
 * when out of memory (*k empty). */
int rp_keys_get(const rp_data *d, int which, rp_keys *k);
void rp_keys_free(rp_keys *k);

/* Run r's series, config or summary row under key, or NULL. */
const rp_series *rp_find_series(const rp_run *r, const char *key);
const rp_kv *rp_find_kv(const rp_kv *kv, size_t n, const char *key);

#endif
