/*
 * plugins/tensorboard/tb_store.c - the store beyond one event file (SPEC
 * 14, 15): the folder a run's attempt goes to, the claims that make one
 * process win when two start the same attempt or the same resume key, the
 * tombstones of deleted runs, and changes to stored runs (metadata,
 * deletion).  README.md, "The store", lists the files.
 *
 *   <logdir>/.tropt/deleted/<run id>     a deleted run (empty file)
 *   <logdir>/.tropt/keys/<sha1 of key>   {"key":...,"run_id":...}
 *   <run folder>/.tropt-attempt-<k>      {"run_id":...,"attempt":k,
 *                                         "started_at":...,"host":...,"pid":...}
 *
 * A claim is made whole or not at all: its text goes to a file of its own,
 * which link(2) then puts under the claim's name (failing when the name is
 * taken), so a process that loses reads the winner's whole claim.
 */
#include "tb_priv.h"

#include "tb_format.h"
#include "tb_ident.h"
#include "tb_read.h"
#include "tb_record.h"
#include "tb_scan.h"
#include "tropt_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLAIM_MAX 4096

static atomic_uint tmp_seq;

/* ---- small files ------------------------------------------------------------ */

/* Put `text` under `name` in the folder dfd unless the name is taken:
 * TROPT_OK, 1 when it is taken, or an error naming `where`. */
static int create_whole(tb *c, int dfd, const char *name, const char *text, const char *where)
{
    if (tropt_create_whole(dfd, name, text, strlen(text), c->sync != SYNC_OFF) != 0) {
        if (errno == EEXIST)
            return 1;
        return c->h->error(TROPT_EBACKEND, "cannot create '%s/%s': %s", where, name,
                           strerror(errno));
    }
    if (c->sync != SYNC_OFF && fsync(dfd) != 0)
        TROPT_HOST_LOG(c->h, TROPT_LEVEL_WARNING, "cannot sync folder '%s': %s", where,
                       strerror(errno));
    return TROPT_OK;
}

/* The JSON object in the small file `name` of dfd, or NULL (errno: ENOENT
 * when there is none, ENOMEM, or EINVAL when it is not one). */
static json_t *read_small(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char buf[CLAIM_MAX];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    json_error_t err;
    json_t *o = n > 0 ? json_loadb(buf, (size_t)n, 0, &err) : NULL;
    if (!o || !json_is_object(o)) {
        errno = o || json_error_code(&err) != json_error_out_of_memory ? EINVAL : ENOMEM;
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Open (made first) <logdir>/.tropt/<sub> below the logdir dfd: its
 * descriptor, or -1 with an error reported. */
static int store_dir(tb *c, int dfd, const char *sub, int *out)
{
    int made, top = -1;
    char *path = tb_join(c->h, c->logdir, TB_STORE_DIR);
    char *subpath = path ? tb_join(c->h, path, sub) : NULL;
    int rc = subpath ? tb_open_subdir(c, dfd, TB_STORE_DIR, path, 1, &made, &top) : tb_oom(c);
    if (rc == TROPT_OK)
        rc = tb_open_subdir(c, top, sub, subpath, 1, &made, out);
    if (top >= 0)
        close(top);
    c->h->free(path);
    c->h->free(subpath);
    return rc;
}

/* ---- deleted runs ------------------------------------------------------------ */

static int is_deleted(int dfd, const char *run_id)
{
    char rel[128];
    snprintf(rel, sizeof rel, TB_STORE_DIR "/deleted/%.40s", run_id);
    return faccessat(dfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int tb_store_check_deleted(tb *c, int dfd, const char *run_id)
{
    if (!is_deleted(dfd, run_id))
        return TROPT_OK;
    return c->h->error(TROPT_EINVAL,
                       "run %s was deleted from '%s' (tropt rm): it is not written again (a "
                       "replay of events that still hold it does not bring it back)",
                       run_id, c->logdir);
}

/* ---- the run's folder --------------------------------------------------------- */

/* 1 when the folder open as fd holds run `run_id` (a replayed or continued
 * run), 0 when it holds another run or nothing of ours yet. */
static int holds_run(tb *c, int fd, const char *run_id)
{
    json_t *rec = NULL;
    if (tb_folder_identity(c->h, fd, &rec) != 1)
        return 0;
    const char *id = json_string_value(json_object_get(rec, "run_id"));
    int same = id && strcmp(id, run_id) == 0;
    json_decref(rec);
    return same;
}

/* Keep the folder fd (path dir, owned) as the run's. */
static void take_folder(tb *c, char *dir, int fd)
{
    c->run_dir = dir;
    c->rfd = fd;
}

/*
 * A new run's folder in the experiment folder efd: `name`, made now or
 * holding this run already; else "<name>-<first 8 of the id>" likewise;
 * else (the first 8 characters of a UUIDv7 are its time to about a minute,
 * so two runs of one name started together share them) "<name>-<id>".
 * Another run's folder (or one being made by another writer: empty) is
 * never shared, so two runs never merge.
 */
static int choose_run_folder(tb *c, int efd, const char *exp_dir, const char *name,
                             const char *run_id)
{
    char alt[256], full[256];
    snprintf(alt, sizeof alt, "%.200s-%.8s", name, run_id);
    snprintf(full, sizeof full, "%.200s-%.40s", name, run_id);
    const char *tries[3] = {name, alt, full};
    for (int i = 0; i < 3; i++) {
        char *dir = tb_join(c->h, exp_dir, tries[i]);
        if (!dir)
            return tb_oom(c);
        int made, fd, rc = tb_open_subdir(c, efd, tries[i], dir, 1, &made, &fd);
        if (rc == TROPT_OK && (made || holds_run(c, fd, run_id))) {
            take_folder(c, dir, fd);
            c->made_dir = made;
            if (made && c->sync != SYNC_OFF && fsync(efd) != 0)
                TROPT_HOST_LOG(c->h, TROPT_LEVEL_WARNING, "cannot sync folder '%s': %s", exp_dir,
                               strerror(errno));
            return TROPT_OK;
        }
        c->h->free(dir);
        if (fd >= 0)
            close(fd);
        if (rc != TROPT_OK)
            return rc;
    }
    return c->h->error(TROPT_EBACKEND,
                       "cannot make a folder for run %s in '%s': '%s', '%s' and '%s' hold other "
                       "runs",
                       run_id, exp_dir, name, alt, full);
}

/* A continued run's folder, whatever its name now (a renamed run keeps
 * its folder): the folder of the experiment that holds it, if any. */
static int find_run_folder(tb *c, int efd, const char *exp_dir, const char *run_id)
{
    int fd = openat(efd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return TROPT_OK;
    }
    int rc = TROPT_OK;
    struct dirent *de;
    while (c->rfd < 0 && rc == TROPT_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
            continue;
        int sfd = openat(efd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
            continue;
        if (!holds_run(c, sfd, run_id)) {
            close(sfd);
            continue;
        }
        char *dir = tb_join(c->h, exp_dir, de->d_name);
        if (dir)
            take_folder(c, dir, sfd);
        else {
            close(sfd);
            rc = tb_oom(c);
        }
    }
    closedir(d);
    return rc;
}

/* ---- the attempt -------------------------------------------------------------- */

/* Whether claim or identity record rec is this attempt of this run (0 no,
 * 1 from this writer: a replay, 2 from another).  start_key: the member
 * holding the attempt's start. */
static int same_attempt(const tb *c, const tropt_run *run, const json_t *rec, const char *start_key)
{
    const char *id = json_string_value(json_object_get(rec, "run_id"));
    const json_t *att = json_object_get(rec, "attempt");
    int64_t k = json_is_integer(att) ? (int64_t)json_integer_value(att) : 1;
    if (!id || strcmp(id, run->run_id) != 0 || k != c->attempt)
        return 0;
    double start = tb_attempt_start(c, run);
    const json_t *s = json_object_get(rec, start_key);
    const char *host = json_string_value(json_object_get(rec, "host"));
    int64_t pid = (int64_t)json_integer_value(json_object_get(rec, "pid"));
    int same = json_is_number(s) && json_number_value(s) == start && host &&
               strcmp(host, run->host ? run->host : "") == 0 && pid == run->pid;
    return same ? 1 : 2;
}

typedef struct attempt_seen {
    tb *c;
    const tropt_run *run;
    int found; /* same_attempt's answer for the first record of the attempt */
    char host[128];
    int64_t pid;
} attempt_seen;

static void note_other(attempt_seen *a, const json_t *rec)
{
    const char *host = json_string_value(json_object_get(rec, "host"));
    snprintf(a->host, sizeof a->host, "%s", host ? host : "?");
    a->pid = (int64_t)json_integer_value(json_object_get(rec, "pid"));
}

static int see_identity(void *ud, const json_t *rec)
{
    attempt_seen *a = ud;
    int r = same_attempt(a->c, a->run, rec, "attempt_started_at");
    if (r == 2)
        note_other(a, rec);
    if (r && !a->found)
        a->found = r;
    return 0;
}

static int refuse_attempt(tb *c, const tropt_run *run, const attempt_seen *a)
{
    return c->h->error(TROPT_EBACKEND,
                       "run %s already has attempt %" PRId64
                       " from another process (%s, pid %" PRId64
                       ", in '%s'): two processes continued the run at once, and this one lost",
                       run->run_id, c->attempt, a->host, a->pid, c->run_dir);
}

/* The claim's text of this attempt. */
static int claim_text(tb *c, const tropt_run *run, tev_buf *b)
{
    const char *host = run->host ? run->host : "";
    return tev_buf_puts(b, "{\"run_id\":") || tev_put_string(b, run->run_id, strlen(run->run_id)) ||
           tev_buf_printf(b, ",\"attempt\":%" PRId64 ",\"started_at\":", c->attempt) ||
           tev_put_real(b, tb_attempt_start(c, run), c->h->format_real) ||
           tev_buf_puts(b, ",\"host\":") || tev_put_string(b, host, strlen(host)) ||
           tev_buf_printf(b, ",\"pid\":%" PRId64 "}\n", run->pid);
}

/* The folder's event files, then the claim, say whether the attempt is
 * new (claimed now), a replay, or another process's (refused). */
static int check_attempt(tb *c, const tropt_run *run)
{
    attempt_seen a = {c, run, 0, "", 0};
    if (tb_each_identity(c->h, c->rfd, see_identity, &a) != 0 && errno == ENOMEM)
        return tb_oom(c);
    if (a.found == 2)
        return refuse_attempt(c, run, &a);
    if (a.found == 1) {
        c->replay = 1;
        return TROPT_OK;
    }
    char name[64];
    snprintf(name, sizeof name, TB_CLAIM_PREFIX "%" PRId64, c->attempt);
    tev_buf b;
    tev_buf_init(&b, c->h->realloc, c->h->free);
    int rc = claim_text(c, run, &b) ? tb_oom(c) : create_whole(c, c->rfd, name, b.data, c->run_dir);
    tev_buf_free(&b);
    if (rc == TROPT_OK) {
        c->claim = c->attempt;
        return TROPT_OK;
    }
    if (rc != 1)
        return rc;
    json_t *claim = read_small(c->rfd, name);
    int r = claim ? same_attempt(c, run, claim, "started_at") : 2;
    if (claim)
        note_other(&a, claim);
    json_decref(claim);
    if (!claim && errno == ENOMEM)
        return tb_oom(c);
    if (r == 1) {
        c->replay = 1;
        return TROPT_OK;
    }
    return refuse_attempt(c, run, &a);
}

/* ---- the resume key ------------------------------------------------------------- */

static void key_name(const char *key, char out[41])
{
    unsigned char d[20];
    tb_sha1(key, strlen(key), d);
    for (int i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* A new run carries resume key `key`: claimed, unless another run of the
 * store (not deleted) carries it. */
static int claim_key(tb *c, int dfd, const tropt_run *run, const char *key)
{
    int kfd = -1, rc = store_dir(c, dfd, "keys", &kfd);
    if (rc != TROPT_OK)
        return rc;
    char name[41];
    key_name(key, name);
    tev_buf b;
    tev_buf_init(&b, c->h->realloc, c->h->free);
    if (tev_buf_puts(&b, "{\"key\":") || tev_put_string(&b, key, strlen(key)) ||
        tev_buf_puts(&b, ",\"run_id\":") || tev_put_string(&b, run->run_id, strlen(run->run_id)) ||
        tev_buf_puts(&b, "}\n"))
        rc = tb_oom(c);
    for (int tries = 0; rc == TROPT_OK && tries < 2; tries++) {
        rc = create_whole(c, kfd, name, b.data, c->logdir);
        if (rc != 1)
            break;
        json_t *held = read_small(kfd, name);
        const char *id = json_string_value(json_object_get(held, "run_id"));
        if (id && strcmp(id, run->run_id) == 0) {
            rc = TROPT_OK; /* this run's own key (its journal replayed) */
        } else if (id && is_deleted(dfd, id) && tries == 0) {
            unlinkat(kfd, name, 0); /* a deleted run's key is free again */
            rc = TROPT_OK;
            json_decref(held);
            continue;
        } else {
            rc = c->h->error(TROPT_EBACKEND,
                             "resume_key '%s' is carried by run %s already in '%s' (two processes "
                             "started with one key at once, and this one lost)",
                             key, id ? id : "(unreadable claim)", c->logdir);
        }
        json_decref(held);
        break;
    }
    if (rc == TROPT_OK && !c->key_claim && !(c->key_claim = tropt_host_strdup(c->h, name)))
        rc = tb_oom(c);
    tev_buf_free(&b);
    close(kfd);
    return rc;
}

int tb_store_place(tb *c, int dfd, int efd, const char *exp_dir, const char *name,
                   const tropt_run *run)
{
    int rc = TROPT_OK;
    if (c->attempt > 1)
        rc = find_run_folder(c, efd, exp_dir, run->run_id);
    if (rc == TROPT_OK && c->rfd < 0)
        rc = choose_run_folder(c, efd, exp_dir, name, run->run_id);
    if (rc == TROPT_OK)
        rc = check_attempt(c, run);
    const char *key = tb_resume_key(c, run);
    if (rc == TROPT_OK && !c->replay && c->attempt == 1 && key)
        rc = claim_key(c, dfd, run, key);
    return rc;
}

void tb_store_release(tb *c)
{
    if (c->claim && c->rfd >= 0) {
        char name[64];
        snprintf(name, sizeof name, TB_CLAIM_PREFIX "%" PRId64, c->claim);
        unlinkat(c->rfd, name, 0);
    }
    c->claim = 0;
    if (c->made_dir && c->run_dir && rmdir(c->run_dir) != 0)
        TROPT_HOST_LOG(c->h, TROPT_LEVEL_DEBUG, "folder '%s' kept: %s", c->run_dir,
                       strerror(errno));
    c->made_dir = 0;
    if (!c->key_claim)
        return;
    char *rel = tb_join(c->h, TB_STORE_DIR "/keys", c->key_claim);
    int dfd = rel ? open(c->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        unlinkat(dfd, rel, 0);
        close(dfd);
    }
    c->h->free(rel);
    c->h->free(c->key_claim);
    c->key_claim = NULL;
}

/* ---- stored runs ---------------------------------------------------------------- */

/* The stored run run_id, found as the reader finds runs (r: the reader to
 * close afterwards).  TROPT_EINVAL naming the id when there is none. */
static int lookup(tb *c, const char *run_id, tbr **r, tbr_run **run)
{
    *r = NULL;
    *run = NULL;
    if (access(c->logdir, F_OK) != 0 && errno == ENOENT)
        return c->h->error(TROPT_EINVAL, "no run %s in '%s' (no such folder)", run_id, c->logdir);
    int rc = tbr_open_logdir(r, c->logdir, c->h);
    return rc == TROPT_OK ? tbr_lookup(*r, run_id, run) : rc;
}

/* A new event file in the folder dfd (path dir) holding the records in b
 * after the version record. */
static int write_change_file(tb *c, int dfd, const char *dir, const tev_buf *b)
{
    char me[128] = "", host[128], name[256];
    if (gethostname(me, sizeof me - 1) != 0)
        me[0] = '\0';
    tb_host_part(me, host, sizeof host);
    tev_buf all;
    tev_buf_init(&all, c->h->realloc, c->h->free);
    double now = c->h->now();
    if (tb_encode_file_version(&all, now) || tev_buf_append(&all, b->data, b->len)) {
        tev_buf_free(&all);
        return tb_oom(c);
    }
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(name, sizeof name, TB_FILE_PREFIX "%010lld.%s.%ld.m%u", (long long)now, host,
                 (long)getpid(), atomic_fetch_add(&tmp_seq, 1));
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    int e = fd < 0 ? errno : 0;
    if (fd >= 0 && (tropt_pwrite_all(fd, all.data, all.len, 0) != 0 ||
                    (c->sync != SYNC_OFF && fsync(fd) != 0))) {
        e = errno ? errno : EIO;
        unlinkat(dfd, name, 0);
    }
    if (fd >= 0)
        close(fd);
    tev_buf_free(&all);
    if (e)
        return c->h->error(TROPT_EBACKEND, "cannot write '%s/%s': %s", dir, name, strerror(e));
    if (c->sync != SYNC_OFF)
        fsync(dfd);
    return TROPT_OK;
}

int tb_store_annotate(tb *c, const char *run_id, const tropt_annotation *a)
{
    tbr *r;
    tbr_run *run;
    int rc = lookup(c, run_id, &r, &run);
    tev_buf b;
    tev_buf_init(&b, c->h->realloc, c->h->free);
    if (rc == TROPT_OK && tb_encode_note(c, &b, run_id, a) != 0)
        rc = tb_oom(c);
    int dfd = rc == TROPT_OK ? open(run->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (rc == TROPT_OK && dfd < 0)
        rc = c->h->error(TROPT_EBACKEND, "cannot open folder '%s': %s", run->dir, strerror(errno));
    if (rc == TROPT_OK)
        rc = write_change_file(c, dfd, run->dir, &b);
    if (dfd >= 0)
        close(dfd);
    tev_buf_free(&b);
    tbr_reader_close(r);
    return rc;
}

/* Remember run_id as deleted. */
static int tombstone(tb *c, const char *run_id)
{
    int dfd = open(c->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ddir = -1;
    if (dfd < 0)
        return c->h->error(TROPT_EBACKEND, "cannot open folder '%s': %s", c->logdir,
                           strerror(errno));
    int rc = store_dir(c, dfd, "deleted", &ddir);
    if (rc == TROPT_OK) {
        rc = create_whole(c, ddir, run_id, "", c->logdir);
        rc = rc == 1 ? TROPT_OK : rc;
    }
    if (ddir >= 0)
        close(ddir);
    close(dfd);
    return rc;
}

/* The run's resume key claim, when it is this run's. */
static void drop_key(tb *c, const char *run_id, const char *key)
{
    if (!key)
        return;
    char name[41];
    key_name(key, name);
    char *rel = tb_join(c->h, TB_STORE_DIR "/keys", name);
    int dfd = rel ? open(c->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    json_t *held = dfd >= 0 ? read_small(dfd, rel) : NULL;
    const char *id = json_string_value(json_object_get(held, "run_id"));
    if (id && strcmp(id, run_id) == 0)
        unlinkat(dfd, rel, 0);
    json_decref(held);
    if (dfd >= 0)
        close(dfd);
    c->h->free(rel);
}

/* Remove our hidden files from folder dir (claims, a writer's left-over
 * temporary files), then the folder if nothing else is in it. */
static void clear_folder(tb *c, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, TB_CLAIM_PREFIX, sizeof TB_CLAIM_PREFIX - 1) == 0 ||
            strncmp(de->d_name, TROPT_WHOLE_TMP_PREFIX, sizeof TROPT_WHOLE_TMP_PREFIX - 1) == 0)
            unlinkat(fd, de->d_name, 0);
    closedir(d);
    if (rmdir(dir) != 0 && errno != ENOENT)
        TROPT_HOST_LOG(c->h, TROPT_LEVEL_WARNING,
                       "deleted the run's event files but kept folder '%s': %s (it holds files "
                       "that are not the run's)",
                       dir, strerror(errno));
}

/* Remove file f (an event file) and its index. */
static void remove_file(tb *c, const tbr_file *f)
{
    if (unlink(f->path) != 0 && errno != ENOENT)
        TROPT_HOST_LOG(c->h, TROPT_LEVEL_WARNING, "cannot remove '%s': %s", f->path,
                       strerror(errno));
    char name[TB_IDX_NAME_MAX];
    tb_stats_index_name(f->base, name);
    size_t dlen = (size_t)(f->base - f->path);
    char *idx = c->h->malloc(dlen + sizeof name);
    if (idx) {
        memcpy(idx, f->path, dlen);
        strcpy(idx + dlen, name);
        unlink(idx);
        c->h->free(idx);
    }
}

int tb_store_delete(tb *c, const char *run_id)
{
    if (c->open && strcmp(c->run_id, run_id) == 0)
        return c->h->error(TROPT_ESTATE, "run %s is open: finish it before deleting it", run_id);
    tbr *r;
    tbr_run *run;
    int rc = lookup(c, run_id, &r, &run);
    if (rc == TROPT_OK)
        rc = tombstone(c, run_id);
    if (rc == TROPT_OK) {
        for (size_t i = 0; i < run->nfiles; i++)
            remove_file(c, &run->files[i]);
        /* the folders the files were in (a run may span several) */
        for (size_t i = 0; i < run->nfiles; i++) {
            const tbr_file *f = &run->files[i];
            size_t dlen = (size_t)(f->base - f->path - 1);
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++)
                seen = run->files[j].base - run->files[j].path - 1 == (ptrdiff_t)dlen &&
                       memcmp(run->files[j].path, f->path, dlen) == 0;
            char *dir = seen ? NULL : tropt_host_strndup(c->h, f->path, dlen);
            if (dir)
                clear_folder(c, dir);
            c->h->free(dir);
        }
        drop_key(c, run_id, run->resume_key);
    }
    tbr_reader_close(r);
    return rc;
}
