/*
 * tools/conformance/runner.c - `tropt conformance PLUGIN[:OPTIONS]
 * [KEY=VALUE...]` (SPEC 10): run every promise of promises.c against one
 * plugin and print each, kept, broken (with what was expected and what was
 * observed) or skipped (a capability the plugin lacks), then
 * `conformance: N/M promises kept` (M the promises that ran), followed by
 * ", K skipped" when some were.  Exit 0 when every promise that ran holds.
 *
 * Each promise runs in a child process (so a crash breaks that promise
 * only) inside its own empty folder under a temporary directory (so the
 * plugin's default paths land there), its stdout and stderr in a file
 * beside that folder; the child reports on a pipe.  Nothing the kit prints
 * holds a secret option's value.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cli.h"
#include "kit.h"

/* A child's exit status is KIT_EXIT + its verdict, so that a plugin that
 * calls exit() itself is not taken for a verdict. */
#define KIT_EXIT 40
#define REPORT_SIZE 8192

typedef struct runner {
    kit_spec spec;
    kit k;
    char *spec_text;  /* k.spec */
    int user_open_ok; /* the plugin opened with the user's options alone */
    char root[1024];  /* the temporary folder, "" when there is none */
    char load_error[1024];
    char note[512];
    char probe_log[2048]; /* warnings while loading, shown masked */
    size_t probe_len;
} runner;

/* ---- stopping ------------------------------------------------------------- */

/* The signal that asked the kit to stop (Ctrl-C, a closed pipe), 0 if none:
 * the running promise is killed, the temporary folder removed, and the
 * signal raised again. */
static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    g_stop = sig;
}

static void catch_stops(void (*fn)(int))
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn; /* no SA_RESTART: a wait returns EINTR */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

/* ---- arguments --------------------------------------------------------- */

/* The capabilities of `needs`, for people: "reader hooks and ...". */
static void needs_text(unsigned needs, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned bit = 1; bit && len + 1 < size; bit <<= 1)
        if ((needs & bit) && kit_need_name(bit))
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? " and " : "",
                                    kit_need_name(bit));
}

/* The command's arguments, as its option table fills them. */
typedef struct conformance_args {
    const char *plugin;
    cli_list options;
} conformance_args;

const cli_opt cmd_conformance_opts[] = {
    CLI_ARG("PLUGIN", conformance_args, plugin,
            "a plugin name or a path to a .so, its options after ':' (sqlite:path=x.db)"),
    CLI_ARGS("KEY=VALUE", CLI_OPTIONAL, conformance_args, options, "more options of the plugin"),
    CLI_END};

/* After the table's help: what the kit prints, and its promises. */
static void help_promises(void)
{
    printf("\nEach promise prints ok, FAIL (with what was expected and what was observed)\n"
           "or skip (the plugin lacks a capability it needs, such as reader hooks).  The\n"
           "last line is \"conformance: N/M promises kept\" over the promises that ran,\n"
           "then how many were skipped; the exit status is 0 when every promise that ran\n"
           "holds.  A secret string option left unset gets a value of the kit's own,\n"
           "which must never appear in anything the plugin writes.\n\npromises:\n");
    for (size_t i = 0; i < kit_n_promises; i++) {
        char needs[256];
        needs_text(kit_promises[i].needs, needs, sizeof needs);
        printf("  %2zu  %-9s %s%s%s%s\n", i + 1, kit_promises[i].id, kit_promises[i].title,
               needs[0] ? " (needs " : "", needs, needs[0] ? ")" : "");
    }
}

/* The command line into *s: 0, 1, 2 (a usage error, said) or -1 after
 * --help (the table's, then the promises). */
static int parse_args(const cli_command *self, int argc, char **argv, kit_spec *s)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            cli_print_help(stdout, self);
            help_promises();
            return -1;
        }
    conformance_args a = {0};
    int rc = cli_parse(self, argc, argv, &a);
    if (rc != CLI_GO)
        return rc;
    rc = kit_spec_parse(s, a.plugin, a.options.v, a.options.n);
    cli_args_free(self, &a);
    if (rc == 2)
        cli_print_usage(stderr, self);
    return rc;
}

/* ---- loading the plugin (in the probe folder) --------------------------- */

/* The table of the plugin the spec opens, kept mapped; NULL when it does
 * not open (*rc says why). */
static const tropt_plugin *table_by_open(const char *spec, int *rc)
{
    tropt_tracker *t = NULL;
    const tropt_plugin *tab = NULL;
    const char *loaded = NULL;
    *rc = tropt_tracker_open(&t, spec, "conformance", NULL);
    /* The instance is freed before any promise forks (a child forked while
     * an http sender or a pg heartbeat holds a lock would wait for it
     * forever); the extra reference keeps the file mapped. */
    if (*rc == TROPT_OK && tropt_tracker_backend(t, 0, &tab, &loaded, NULL, NULL) == TROPT_OK &&
        !(loaded && dlopen(loaded, RTLD_NOW | RTLD_NOLOAD)))
        tab = NULL;
    tropt_tracker_free(t);
    return tab;
}

typedef struct found {
    const char *name;
    char *path;
} found;

static int visit(const char *path, const tropt_plugin *p, const char *err, int shadowed, void *ud)
{
    found *f = ud;
    const char *base = strrchr(path, '/');
    size_t n = strlen(f->name);
    (void)p;
    (void)err;
    base = base ? base + 1 : path;
    if (shadowed || strncmp(base, "tropt-", 6) != 0 || strncmp(base + 6, f->name, n) != 0 ||
        strcmp(base + 6 + n, ".so") != 0)
        return 0;
    f->path = strdup(path);
    return 1;
}

/* The table of a plugin the host refuses (to report on it), straight from
 * the file the spec names; NULL when there is none. */
static const tropt_plugin *table_by_file(const char *plugin)
{
    found f = {plugin, NULL};
    if (!strchr(plugin, '/'))
        tropt_plugins_foreach(visit, &f);
    const char *path = strchr(plugin, '/') ? plugin : f.path;
    void *h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    const tropt_plugin *(*entry)(void) = NULL;
    if (h)
        *(void **)&entry = dlsym(h, TROPT_PLUGIN_ENTRY_SYMBOL);
    free(f.path);
    return entry ? entry() : NULL;
}

static void find_table(runner *r)
{
    char *spec = kit_spec_string(&r->spec, 0);
    int rc = TROPT_ENOMEM;
    r->k.table = spec ? table_by_open(spec, &rc) : NULL;
    free(spec);
    r->user_open_ok = rc == TROPT_OK;
    if (!r->k.table) {
        snprintf(r->load_error, sizeof r->load_error, "%s",
                 spec ? tropt_error_message() : "out of memory");
        r->k.table = table_by_file(r->spec.plugin);
    }
}

/* Give string secret options the user left unset a value of the kit's own,
 * unless the plugin then refuses to open where it opened without. */
static void choose_secrets(runner *r)
{
    size_t before = r->spec.n_opts;
    if (kit_spec_secrets(&r->spec, r->k.table) != 0 || r->spec.n_opts == before)
        return;
    char *spec = kit_spec_string(&r->spec, 0);
    tropt_tracker *t = NULL;
    int rc = spec ? tropt_tracker_open(&t, spec, "conformance", NULL) : TROPT_ENOMEM;
    tropt_tracker_free(t);
    free(spec);
    if (rc != TROPT_OK && r->user_open_ok) {
        size_t len = (size_t)snprintf(r->note, sizeof r->note,
                                      "the plugin refuses values of the kit's own for its secret "
                                      "options; give them one to have it looked for:");
        for (size_t i = before; i < r->spec.n_opts && len < sizeof r->note; i++)
            len += (size_t)snprintf(r->note + len, sizeof r->note - len, " %s=...",
                                    r->spec.opts[i].key);
        kit_spec_drop_invented(&r->spec);
    }
}

static void add_secret(runner *r, const char *key, const char *value, int invented)
{
    kit *k = &r->k;
    if (strlen(value) < KIT_MIN_SECRET_LEN) {
        snprintf(r->note, sizeof r->note,
                 "the value of secret option '%s' is too short to be looked for", key);
        return;
    }
    if (k->n_secrets == KIT_MAX_SECRETS)
        return;
    k->secret_keys[k->n_secrets] = key;
    k->secret_invented[k->n_secrets] = invented;
    k->secrets[k->n_secrets++] = value;
}

/* The secrets to look for: the options' values and the declared defaults
 * of secret options left unset. */
static void collect_secrets(runner *r)
{
    for (size_t i = 0; i < r->spec.n_opts; i++)
        if (r->spec.opts[i].secret)
            add_secret(r, r->spec.opts[i].key, r->spec.opts[i].value, r->spec.opts[i].invented);
    for (const tropt_option_def *d = r->k.table ? r->k.table->options : NULL; d && d->name; d++) {
        int set = 0;
        for (size_t i = 0; i < r->spec.n_opts; i++)
            set |= strcmp(r->spec.opts[i].key, d->name) == 0;
        if ((d->flags & TROPT_OPT_SECRET) && d->default_value && !set)
            add_secret(r, d->name, d->default_value, 0);
    }
}

/* The ABI 1.2 capabilities of table p: hooks read only when its size
 * covers them. */
static unsigned v12_caps(const tropt_plugin *p)
{
    if (!p || p->struct_size < TROPT_PLUGIN_V12_SIZE)
        return 0;
    unsigned caps = KIT_NEEDS_V12;
    if (p->annotate && p->delete_run)
        caps |= KIT_NEEDS_META;
    if (p->checkpoint)
        caps |= KIT_NEEDS_MARKS;
    if (p->log_system)
        caps |= KIT_NEEDS_SYSTEM;
    return caps;
}

static int fill_kit(runner *r)
{
    kit *k = &r->k;
    collect_secrets(r);
    r->spec_text = kit_spec_string(&r->spec, 0);
    k->spec = r->spec_text;
    const tropt_plugin *p = k->table;
    if (p && p->struct_size >= TROPT_PLUGIN_READER_SIZE && p->reader_open)
        k->caps |= KIT_NEEDS_READER;
    if (k->n_secrets)
        k->caps |= KIT_NEEDS_SECRET;
    k->caps |= v12_caps(p);
    return r->spec_text ? 0 : 1;
}

/* While loading: warnings kept for the report (shown after the secrets
 * are known, masked; each once), never printed as they come. */
static void probe_handler(tropt_level level, const char *msg, void *ud)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    runner *r = ud;
    pthread_mutex_lock(&lock); /* a plugin's own thread may log too */
    size_t room = sizeof r->probe_log - r->probe_len;
    int n = level >= TROPT_LEVEL_WARNING && room > 1 && !strstr(r->probe_log, msg)
                ? snprintf(r->probe_log + r->probe_len, room, "%s%s: %s",
                           r->probe_len ? "\n      " : "", tropt_level_name(level), msg)
                : 0;
    r->probe_len += n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
    pthread_mutex_unlock(&lock);
}

/* Load the plugin and settle the spec, in the folder p0 under the root:
 * the kit never writes into the caller's folder (a backend's default path
 * is relative).  0, or 1 (said). */
static int load(runner *r)
{
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/p0", r->root);
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (here < 0 || mkdir(probe, 0700) != 0 || chdir(probe) != 0) {
        fprintf(stderr, "tropt: cannot work in %s: %s\n", probe, strerror(errno));
        if (here >= 0)
            close(here);
        return 1;
    }
    tropt_set_log_handler(probe_handler, r);
    find_table(r);
    if (r->k.table)
        choose_secrets(r);
    tropt_set_log_handler(NULL, NULL);
    int back = fchdir(here);
    close(here);
    if (back != 0) {
        fprintf(stderr, "tropt: cannot return to the working folder: %s\n", strerror(errno));
        return 1;
    }
    return fill_kit(r);
}

/* ---- printing ------------------------------------------------------------ */

static size_t secret_at(const runner *r, const char *p)
{
    for (size_t i = 0; i < r->k.n_secrets; i++) {
        size_t n = strlen(r->k.secrets[i]);
        if (strncmp(p, r->k.secrets[i], n) == 0)
            return n;
    }
    return 0;
}

/* text as the kit prints it: every secret value "<secret>", control
 * characters other than newlines escaped.  malloc'd; NULL on memory. */
static char *printable(const runner *r, const char *text)
{
    char *out = malloc(strlen(text) * 4 + 1); /* "\xNN" per byte at most */
    size_t n = 0;
    for (const char *p = text; out && *p;) {
        size_t s = secret_at(r, p);
        unsigned char c = (unsigned char)*p;
        if (s) {
            memcpy(out + n, "<secret>", 8);
            n += 8;
            p += s;
            continue;
        }
        p++;
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            n += (size_t)sprintf(out + n, "\\x%02x", c);
        else
            out[n++] = (char)c;
    }
    if (out)
        out[n] = '\0';
    return out;
}

static void print_result(const runner *r, size_t i, int verdict, const char *report)
{
    static const char *const word[] = {"ok  ", "FAIL", "skip"};
    printf("%s %2zu  %s: %s\n", word[verdict], i + 1, kit_promises[i].id, kit_promises[i].title);
    if (!report[0])
        return;
    char *text = printable(r, report);
    printf("      %s\n", text ? text : "(the report: out of memory)");
    free(text);
}

/* ---- one promise ----------------------------------------------------------- */

static void child(const runner *r, size_t i, int fd)
{
    char dir[1100], out[1100];
    snprintf(dir, sizeof dir, "%s/p%zu", r->root, i + 1);
    snprintf(out, sizeof out, "%s/p%zu.out", r->root, i + 1);
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (o < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0 || mkdir(dir, 0700) != 0 || chdir(dir) != 0)
        _exit(3);
    close(o);
    catch_stops(SIG_DFL);
    kit_child_begin(fd, &r->k);
    alarm(120);
    int verdict = kit_promises[i].run(&r->k);
    fflush(NULL);
    _exit(KIT_EXIT + verdict);
}

/* Append to report (length len, of size bytes); the new length, clamped. */
static size_t add(char *report, size_t size, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t add(char *report, size_t size, size_t len, const char *fmt, ...)
{
    if (len + 1 >= size)
        return len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(report + len, size - len, fmt, ap);
    va_end(ap);
    return n < 0 ? len : len + (size_t)n < size ? len + (size_t)n : size - 1;
}

/* The last lines the child wrote to stdout/stderr, after the report. */
static void append_output(const runner *r, size_t i, char *report, size_t size)
{
    char path[1100], tail[1024];
    snprintf(path, sizeof path, "%s/p%zu.out", r->root, i + 1);
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    if (fseek(f, -(long)(sizeof tail - 1), SEEK_END) != 0)
        rewind(f);
    size_t n = fread(tail, 1, sizeof tail - 1, f);
    fclose(f);
    tail[n] = '\0';
    const char *line = tail;
    if (n == sizeof tail - 1 && strchr(tail, '\n'))
        line = strchr(tail, '\n') + 1; /* from the first whole line */
    size_t len = strlen(report);
    if (*line)
        len = add(report, size, len, "\n      its last output:");
    while (*line) {
        size_t l = strcspn(line, "\n");
        len = add(report, size, len, "\n      | %.*s", (int)l, line);
        line += l + (line[l] == '\n');
    }
}

static int verdict_of(const runner *r, size_t i, int st, char *report, size_t size)
{
    if (WIFEXITED(st) && WEXITSTATUS(st) >= KIT_EXIT && WEXITSTATUS(st) <= KIT_EXIT + KIT_SKIPPED)
        return WEXITSTATUS(st) - KIT_EXIT;
    size_t len = strlen(report);
    const char *sep = len ? "\n      " : "";
    if (WIFSIGNALED(st))
        snprintf(report + len, size - len,
                 "%sexpected: no crash\n      observed: killed by signal %d (%s)", sep,
                 WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(report + len, size - len,
                 "%sexpected: the promise runs to its end\n      observed: its process exited "
                 "with status %d",
                 sep, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    append_output(r, i, report, size);
    return KIT_BROKEN;
}

static int run_child(const runner *r, size_t i, char *report, size_t size)
{
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(report, size, "expected: a pipe to the promise\n      observed: %s",
                 strerror(errno));
        return KIT_BROKEN;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        child(r, i, fd[1]);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t n;
    while (pid > 0 &&
           ((n = read(fd[0], report + len, size - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            len += (size_t)n;
        else if (g_stop)
            kill(pid, SIGKILL); /* its end closes the pipe */
    report[len] = '\0';
    close(fd[0]);
    int st = 0;
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        if (g_stop)
            kill(pid, SIGKILL);
    if (pid < 0)
        snprintf(report, size, "expected: a process for the promise\n      observed: %s",
                 strerror(errno));
    return pid < 0 ? KIT_BROKEN : verdict_of(r, i, st, report, size);
}

static int run_one(const runner *r, size_t i, char *report, size_t size)
{
    if (!r->k.table) {
        snprintf(report, size, "expected: a loadable plugin%s\n      observed: %s",
                 i == 0 ? " with a valid table" : "", r->load_error);
        return KIT_BROKEN;
    }
    unsigned missing = kit_promises[i].needs & ~r->k.caps;
    if (!missing)
        return run_child(r, i, report, size);
    char needs[256];
    needs_text(missing, needs, sizeof needs);
    snprintf(report, size, "(skipped: the plugin lacks %s)", needs[0] ? needs : "a capability");
    return KIT_SKIPPED;
}

static int run_all(const runner *r)
{
    char *shown = kit_spec_string(&r->spec, 1);
    char *text = shown ? printable(r, shown) : NULL;
    printf("conformance of %s\n", text ? text : "(out of memory)");
    free(text);
    free(shown);
    if (r->note[0])
        printf("      (%s)\n", r->note);
    if (r->probe_len) {
        text = printable(r, r->probe_log);
        printf("      while loading: %s\n", text ? text : "(out of memory)");
        free(text);
    }
    size_t count[3] = {0, 0, 0};
    static char report[REPORT_SIZE];
    for (size_t i = 0; i < kit_n_promises && !g_stop; i++) {
        report[0] = '\0';
        int verdict = run_one(r, i, report, sizeof report);
        print_result(r, i, verdict, report);
        count[verdict]++;
    }
    if (g_stop)
        return 1; /* stopped: no verdict */
    printf("conformance: %zu/%zu promises kept", count[KIT_KEPT],
           count[KIT_KEPT] + count[KIT_BROKEN]);
    if (count[KIT_SKIPPED])
        printf(", %zu skipped", count[KIT_SKIPPED]);
    printf("\n");
    return count[KIT_BROKEN] ? 1 : 0;
}

/* ---- the command ------------------------------------------------------------ */

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

/* Remove the kit's temporary folder and everything the promises left
 * (without following links). */
static void remove_root(const char *root)
{
    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int cmd_conformance(const cli_command *self, int argc, char **argv)
{
    static runner r;
    int rc = parse_args(self, argc, argv, &r.spec);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *tmp = getenv("TMPDIR");
    snprintf(r.root, sizeof r.root, "%s/tropt-conformance-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r.root)) {
        fprintf(stderr, "tropt: cannot create a temporary folder: %s\n", strerror(errno));
        r.root[0] = '\0'; /* a failed mkdtemp may have rewritten it: never removed */
        rc = 1;
    }
    catch_stops(on_stop);
    if (!rc)
        rc = load(&r) || g_stop ? 1 : run_all(&r);
    if (r.root[0])
        remove_root(r.root);
    kit_spec_clear(&r.spec);
    free(r.spec_text);
    catch_stops(SIG_DFL);
    if (g_stop)
        raise(g_stop);
    return rc;
}
