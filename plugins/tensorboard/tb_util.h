/*
 * plugins/tensorboard/tb_util.h - small tools the writer and the reader
 * share: a string-keyed table, folder names, paths, and the name-based
 * UUID of a foreign run folder.  Memory comes from the host's allocator.
 */
#ifndef TROPT_TB_UTIL_H
#define TROPT_TB_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <tropt/plugin.h>

/* A set of byte strings (any bytes; each stored NUL-terminated), each with
 * an int value.  Open addressing, at most half full. */
typedef struct tb_map {
    const tropt_host *h;
    char **keys;  /* slot -> key, or NULL */
    size_t *lens; /* slot -> key length */
    int *vals;
    size_t cap, n;
} tb_map;

void tb_map_init(tb_map *m, const tropt_host *h);
/* Forget every key (the table keeps its capacity). */
void tb_map_clear(tb_map *m);
void tb_map_free(tb_map *m);
/* The slot of key k (n bytes), or (size_t)-1 when absent. */
size_t tb_map_find(const tb_map *m, const void *k, size_t n);
/* The slot of k, added with value v when absent (*added says which).
 * (size_t)-1 when memory ran out (nothing changed). */
size_t tb_map_add(tb_map *m, const void *k, size_t n, int v, int *added);

/* "<a>/<b>" from h->malloc, or NULL. */
char *tb_join(const tropt_host *h, const char *a, const char *b);

/* The whole of the small file `path` (at most max bytes, never through a
 * symbolic link, never blocking), NUL-terminated, from h->malloc; *n its
 * length.  NULL when it cannot be read, is larger, or memory ran out. */
char *tb_read_small_file(const tropt_host *h, const char *path, size_t max, size_t *n);

/* The SHA-1 digest of n bytes (for the name-based UUID). */
void tb_sha1(const void *p, size_t n, unsigned char out[20]);

/* The RFC 4122 name-based UUID (version 5, SHA-1) of `name` in the URL
 * namespace (6ba7b811-9dad-11d1-80b4-00c04fd430c8), in text form, as
 * Python's uuid.uuid5(uuid.NAMESPACE_URL, name) gives it.  out: 37 bytes. */
void tb_uuid5_url(const char *name, char out[37]);

#endif
