/* tests/http/vmtu.c - see vmtu.h. */
#include "vmtu.h"

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

const char *vmtu_find(const char *arg)
{
    static char path[4096];
    if (arg && *arg)
        return access(arg, X_OK) == 0 ? arg : NULL;
    const char *env = getenv("PATH");
    char *dirs = strdup(env ? env : "");
    char *save = NULL;
    const char *found = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, sizeof path, "%s/victoria-metrics", d);
        if (access(path, X_OK) == 0)
            found = path;
    }
    free(dirs);
    if (!found && access("/usr/bin/victoria-metrics", X_OK) == 0)
        found = "/usr/bin/victoria-metrics";
    return found;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct grow {
    char *p;
    size_t n;
} grow;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    grow *g = ud;
    size_t n = size * nmemb;
    char *q = realloc(g->p, g->n + n + 1);
    if (!q)
        return 0;
    g->p = q;
    memcpy(g->p + g->n, p, n);
    g->n += n;
    g->p[g->n] = '\0';
    return n;
}

long vmtu_get(const char *url, char **body)
{
    CURL *e = curl_easy_init();
    ck_assert_ptr_nonnull(e);
    grow g = {0};
    long status = 0;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (body)
        *body = g.p ? g.p : strdup("");
    else
        free(g.p);
    return status;
}

void vmtu_start(vmtu *vm, const char *bin, int port, const char *dir)
{
    memset(vm, 0, sizeof *vm);
    vm->port = port;
    vm->base = tu_strdupf("http://127.0.0.1:%d", port);
    vm->log = tu_path(dir, "victoria-metrics.log");
    char *listen = tu_strdupf("-httpListenAddr=127.0.0.1:%d", port);
    char *storage = tu_strdupf("-storageDataPath=%s/vm-data", dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(vm->log, "w", stdout))
            _exit(126);
        dup2(fileno(stdout), 2);
        execl(bin, bin, listen, storage, "-retentionPeriod=100y", (char *)NULL);
        _exit(127);
    }
    vm->pid = pid;
    free(listen);
    free(storage);
    char *health = tu_strdupf("%s/health", vm->base);
    int healthy = 0, st;
    double deadline = mono() + 60;
    while (!(healthy = vmtu_get(health, NULL) == 200) && mono() < deadline &&
           waitpid(pid, &st, WNOHANG) == 0)
        nap_ms(20);
    free(health);
    ck_assert_msg(healthy, "victoria-metrics did not become healthy (see %s)", vm->log);
}

void vmtu_stop(vmtu *vm)
{
    if (vm->pid > 0) {
        kill(vm->pid, SIGTERM);
        int st;
        double deadline = mono() + 20;
        while (waitpid(vm->pid, &st, WNOHANG) == 0) {
            if (mono() > deadline) {
                kill(vm->pid, SIGKILL);
                waitpid(vm->pid, &st, 0);
                break;
            }
            nap_ms(20);
        }
    }
    free(vm->base);
    free(vm->log);
    memset(vm, 0, sizeof *vm);
}

static vmtu_series *series_for(vmtu_series **all, size_t *n, const char *name, json_t *labels)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*all)[i].name, name) == 0)
            return &(*all)[i];
    *all = realloc(*all, (*n + 1) * sizeof **all);
    ck_assert_ptr_nonnull(*all);
    vmtu_series *s = &(*all)[(*n)++];
    memset(s, 0, sizeof *s);
    s->name = strdup(name);
    s->labels = json_incref(labels);
    return s;
}

static void add_line(vmtu_series **all, size_t *n, json_t *o)
{
    json_t *metric = json_object_get(o, "metric");
    const char *name = json_string_value(json_object_get(metric, "__name__"));
    json_t *vals = json_object_get(o, "values"), *tss = json_object_get(o, "timestamps");
    ck_assert_msg(name && json_is_array(vals) && json_is_array(tss), "an export line without "
                                                                     "__name__, values or "
                                                                     "timestamps");
    vmtu_series *s = series_for(all, n, name, metric);
    size_t k = json_array_size(vals);
    s->v = realloc(s->v, (s->n + k) * sizeof *s->v);
    s->ts = realloc(s->ts, (s->n + k) * sizeof *s->ts);
    ck_assert(s->v && s->ts);
    for (size_t i = 0; i < k; i++) {
        s->v[s->n + i] = json_number_value(json_array_get(vals, i));
        s->ts[s->n + i] = (long long)json_integer_value(json_array_get(tss, i));
    }
    s->n += k;
}

size_t vmtu_export(const vmtu *vm, const char *selector, vmtu_series **out)
{
    char *flush = tu_strdupf("%s/internal/force_flush", vm->base);
    vmtu_get(flush, NULL);
    free(flush);
    CURL *e = curl_easy_init();
    char *q = curl_easy_escape(e, selector, 0);
    char *url = tu_strdupf("%s/api/v1/export?match[]=%s", vm->base, q);
    curl_free(q);
    curl_easy_cleanup(e);
    char *body = NULL;
    long status = vmtu_get(url, &body);
    ck_assert_msg(status == 200, "GET %s: %ld %s", url, status, body);
    free(url);
    *out = NULL;
    size_t n = 0;
    for (char *line = body; *line;) {
        size_t len = strcspn(line, "\n");
        json_error_t err;
        json_t *o = len ? json_loadb(line, len, 0, &err) : NULL;
        ck_assert_msg(o || !len, "export line not JSON: %.*s", (int)len, line);
        if (o)
            add_line(out, &n, o);
        json_decref(o);
        line += len + (line[len] == '\n');
    }
    free(body);
    return n;
}

void vmtu_series_free(vmtu_series *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].name);
        json_decref(s[i].labels);
        free(s[i].v);
        free(s[i].ts);
    }
    free(s);
}

vmtu_series *vmtu_find_series(vmtu_series *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    return NULL;
}
