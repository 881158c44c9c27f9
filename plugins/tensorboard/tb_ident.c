/* plugins/tensorboard/tb_ident.c - which run a folder holds. */
#include "tb_ident.h"

#include "tb_decode.h"
#include "tb_format.h"
#include "tb_record.h"
#include "tropt_mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tb_is_event_file(const char *name)
{
    return name[0] != '.' && strstr(name, TB_FILE_MARK) != NULL;
}

json_t *tb_record_json(const tb_sval *v)
{
    tb_tensor t;
    const unsigned char *s;
    size_t n;
    if (v->kind != TBS_TENSOR || tb_decode_tensor(v->tensor, v->tensor_len, &t) != 0 ||
        tb_tensor_string(&t, &s, &n) != 0)
        return NULL;
    json_t *j = json_loadb((const char *)s, n, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* The identity in one decoded record, or NULL. */
static json_t *record_identity(const unsigned char *d, size_t n)
{
    tb_event ev;
    if (tb_decode_event(d, n, &ev) != 0 || ev.what != TBE_SUMMARY)
        return NULL;
    pb_in in = pb_in_of(ev.summary, ev.summary_len);
    tb_sval v;
    while (tb_next_value(&in, &v) == 1)
        if (v.tag_len == sizeof TB_TAG_RUN - 1 && memcmp(v.tag, TB_TAG_RUN, v.tag_len) == 0)
            return tb_record_json(&v);
    return NULL;
}

int tb_file_identity(const tropt_host *h, int dfd, const char *name, json_t **rec)
{
    *rec = NULL;
    /* O_NONBLOCK: a FIFO planted under an event file's name never blocks */
    int fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : S_ISREG(st.st_mode) ? 0 : EISDIR;
    if (e) {
        close(fd);
        errno = e;
        return -1;
    }
    tb_recin r;
    tb_recin_init(&r, h, fd, 0, st.st_size);
    const unsigned char *d;
    size_t n;
    off_t at;
    tb_rec_status s = TB_REC_END;
    for (int i = 0; i < TB_IDENT_RECORDS && !*rec; i++) {
        s = tb_recin_next(&r, &d, &n, &at);
        if (s == TB_REC_OK)
            *rec = record_identity(d, n);
        else if (s != TB_REC_BAD_DATA)
            break;
    }
    e = errno;
    tb_recin_free(&r);
    close(fd);
    if (!*rec && s == TB_REC_IOERR) {
        errno = e;
        return -1;
    }
    return *rec != NULL;
}

void tb_names_free(const tropt_host *h, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h->free(names[i]);
    h->free(names);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tb_event_files(const tropt_host *h, int dfd, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (!tb_is_event_file(de->d_name) ||
            (de->d_type != DT_REG && de->d_type != DT_LNK && de->d_type != DT_UNKNOWN))
            continue; /* a link is followed when read, as TensorBoard does */
        char *copy = tropt_host_strdup(h, de->d_name);
        if (!copy || tropt_host_grow(h, (void **)names, &cap, *n + 1, sizeof **names) != 0) {
            h->free(copy);
            rc = -1;
            errno = ENOMEM;
            break;
        }
        (*names)[(*n)++] = copy;
    }
    closedir(d);
    if (rc) {
        tb_names_free(h, *names, *n);
        *names = NULL;
        *n = 0;
        errno = ENOMEM;
        return -1;
    }
    if (*n > 1)
        qsort(*names, *n, sizeof **names, cmp_name);
    return 0;
}

int tb_folder_identity(const tropt_host *h, int dfd, json_t **rec)
{
    *rec = NULL;
    char **names;
    size_t n;
    if (tb_event_files(h, dfd, &names, &n) != 0)
        return -1;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        int r = tb_file_identity(h, dfd, names[i], rec);
        if (r < 0 && errno == ENOMEM) {
            tb_names_free(h, names, n);
            return -1;
        }
        found = r == 1;
    }
    tb_names_free(h, names, n);
    return found;
}

int tb_each_identity(const tropt_host *h, int dfd, int (*fn)(void *ud, const json_t *rec), void *ud)
{
    char **names;
    size_t n;
    if (tb_event_files(h, dfd, &names, &n) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *rec = NULL;
        int r = tb_file_identity(h, dfd, names[i], &rec);
        if (r < 0 && errno == ENOMEM)
            rc = -1;
        else if (r == 1)
            rc = fn(ud, rec);
        json_decref(rec);
    }
    int e = errno;
    tb_names_free(h, names, n);
    errno = e;
    return rc;
}
