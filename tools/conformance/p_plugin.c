/*
 * tools/conformance/p_plugin.c - the promises about the plugin's table and
 * options: a table the host accepts, unknown options refused, secrets never
 * shown.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

/* The first defect of one option declaration, reported; 0 when none. */
static int option_defect(const tropt_plugin *p, const tropt_option_def *d)
{
    if ((d->flags & TROPT_OPT_REQUIRED) && d->default_value)
        return kit_broken("a required option has no default", "option '%s' has default '%s'",
                          d->name, (d->flags & TROPT_OPT_SECRET) ? "<secret>" : d->default_value);
    if ((d->flags & TROPT_OPT_HAS_RANGE) && d->min > d->max)
        return kit_broken("min <= max for a ranged option", "option '%s': min %g > max %g", d->name,
                          d->min, d->max);
    if ((d->flags & TROPT_OPT_HAS_RANGE) && d->type != TROPT_OPT_INT &&
        d->type != TROPT_OPT_DOUBLE && d->type != TROPT_OPT_DURATION)
        return kit_broken("a range only on INT, DOUBLE or DURATION options",
                          "option '%s' (%s) declares a range that never applies", d->name,
                          tropt_option_type_name(d->type));
    for (const tropt_option_def *e = p->options; e != d; e++)
        if (strcmp(e->name, d->name) == 0)
            return kit_broken("option names are unique", "'%s' declared twice", d->name);
    return 0;
}

int p_table(const kit *k)
{
    const tropt_plugin *p = k->table;
    if (TROPT_PLUGIN_ABI_MAJOR_OF(p->abi_version) != TROPT_PLUGIN_ABI_MAJOR)
        return kit_broken("ABI major 1", "abi_version 0x%x", (unsigned)p->abi_version);
    if (p->struct_size < TROPT_PLUGIN_MIN_SIZE)
        return kit_broken("struct_size >= the ABI 1.0 table", "%u", (unsigned)p->struct_size);
    for (const tropt_option_def *d = p->options; d && d->name; d++)
        if (option_defect(p, d))
            return KIT_BROKEN;
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, k->spec, "conformance", NULL) != TROPT_OK)
        return kit_broken("the host accepts the table and options", "%s", tropt_error_message());
    tropt_tracker_free(t);
    return KIT_KEPT;
}

static char *with_unknown_option(const kit *k)
{
    char *bad = NULL;
    const char *colon = strchr(k->spec, ':');
    if (asprintf(&bad, "%s%cno_such_option_x=1", k->spec, colon ? ',' : ':') < 0)
        return NULL;
    return bad;
}

int p_options(const kit *k)
{
    char *bad = with_unknown_option(k);
    if (!bad)
        return kit_broken("memory", "asprintf failed");
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, bad, "conformance", NULL);
    free(bad);
    if (rc != TROPT_EINVAL || !strstr(tropt_error_message(), "no_such_option_x")) {
        tropt_tracker_free(t);
        return kit_broken("an unknown option refused with EINVAL naming it", "%s (%s)",
                          tropt_error_name(rc), tropt_error_message());
    }
    return KIT_KEPT;
}

/* ---- secrets ------------------------------------------------------------- */

/* The error messages of failing calls, one after the other. */
typedef struct msgs {
    char text[8192];
    size_t len;
} msgs;

static void note_rc(msgs *m, int rc)
{
    if (rc == TROPT_OK || m->len + 2 >= sizeof m->text)
        return;
    int n = snprintf(m->text + m->len, sizeof m->text - m->len, "%s\n", tropt_error_message());
    if (n > 0)
        m->len += (size_t)n < sizeof m->text - m->len ? (size_t)n : sizeof m->text - m->len - 1;
}

/* Two runs and an aborted third: every hook, every path that may talk. */
static void drive_runs(tropt_tracker *t, msgs *m, char ids[3][40])
{
    json_t *cfg = json_pack("{s:f,s:s}", "lr", 0.1, "opt", "adam");
    json_t *sum = json_pack("{s:f}", "best", 0.5);
    for (int run = 0; run < 3; run++) {
        int rc = tropt_tracker_init(t, cfg);
        note_rc(m, rc);
        snprintf(ids[run], 40, "%s", rc ? "" : tropt_tracker_run_id(t));
        for (int s = 0; s < 3 && !rc; s++)
            note_rc(m, tropt_tracker_log_fields(t, kit_edge, KIT_N_EDGE_NO_NAN));
        note_rc(m, tropt_tracker_flush(t));
        if (run == 0)
            note_rc(m, tropt_tracker_finish(t, sum));
        /* run 1 ends by the next init (aborted), run 2 by free (aborted) */
    }
    json_decref(sum);
    json_decref(cfg);
}

static int read_nothing(const tropt_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    return 0;
}

static int list_nothing(const tropt_stored_run *run, void *ud)
{
    (void)run;
    (void)ud;
    return 0;
}

static void drive_reader(const kit *k, msgs *m, char ids[3][40])
{
    tropt_reader *r = NULL;
    int rc = tropt_reader_open(&r, k->spec);
    note_rc(m, rc);
    if (rc != TROPT_OK)
        return;
    note_rc(m, tropt_reader_list_runs(r, list_nothing, NULL));
    for (int i = 0; i < 3; i++)
        if (ids[i][0])
            note_rc(m, tropt_reader_read_run(r, ids[i], read_nothing, NULL));
    tropt_reader_free(r);
}

/* Every call that may show an option: open with an unknown option, runs,
 * and reading them back. */
static void drive(const kit *k, msgs *m)
{
    char *bad = with_unknown_option(k);
    tropt_tracker *t = NULL;
    if (bad)
        note_rc(m, tropt_tracker_open(&t, bad, "conformance", NULL));
    tropt_tracker_free(t);
    free(bad);
    t = NULL;
    char ids[3][40] = {"", "", ""};
    int rc = tropt_tracker_open(&t, k->spec, "conformance", NULL);
    note_rc(m, rc);
    if (rc == TROPT_OK)
        drive_runs(t, m, ids);
    tropt_tracker_free(t);
    if (k->caps & KIT_NEEDS_READER)
        drive_reader(k, m, ids);
}

/* The whole content of an open stream (from its start); NULL on failure. */
static char *slurp(FILE *f, size_t *len)
{
    if (fflush(f) != 0 || fseek(f, 0, SEEK_END) != 0)
        return NULL;
    long sz = ftell(f);
    char *text = sz >= 0 ? malloc((size_t)sz + 1) : NULL;
    rewind(f);
    *len = text ? fread(text, 1, (size_t)sz, f) : 0;
    if (text)
        text[*len] = '\0';
    return text;
}

/* The file under the promise's folder that holds a secret. */
static const kit *scan_kit;
static char scan_found[512];
static const char *scan_secret;

static int scan_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type != FTW_F)
        return 0;
    FILE *f = fopen(path, "rb");
    size_t len = 0;
    char *text = f ? slurp(f, &len) : NULL;
    if (f)
        fclose(f);
    for (size_t i = 0; text && i < scan_kit->n_secrets && !scan_found[0]; i++)
        if (memmem(text, len, scan_kit->secrets[i], strlen(scan_kit->secrets[i]))) {
            snprintf(scan_found, sizeof scan_found, "the file %s", path);
            scan_secret = scan_kit->secrets[i];
        }
    free(text);
    return scan_found[0] != 0;
}

/* Where a secret of k appears in output, or NULL; *which names it. */
static const char *leak(const kit *k, const char *out, size_t out_len, const msgs *m, size_t *which)
{
    const char *logged = kit_secret_logged();
    scan_kit = k;
    scan_found[0] = '\0';
    nftw(".", scan_file, 16, FTW_PHYS);
    for (size_t i = 0; i < k->n_secrets; i++) {
        const char *s = k->secrets[i];
        *which = i;
        if (logged == s)
            return "a log line";
        if (strstr(m->text, s))
            return "an error message";
        if (out && memmem(out, out_len, s, strlen(s)))
            return "stdout/stderr";
        if (scan_secret == s)
            return scan_found;
    }
    return NULL;
}

/* Run drive() with stdout and stderr into a temporary file; its text. */
static char *drive_captured(const kit *k, msgs *m, size_t *len)
{
    FILE *out = tmpfile();
    if (!out)
        return NULL;
    fflush(stdout);
    fflush(stderr);
    int o1 = dup(1), o2 = dup(2);
    dup2(fileno(out), 1);
    dup2(fileno(out), 2);
    tropt_set_log_level(TROPT_LEVEL_DEBUG);
    drive(k, m);
    fflush(stdout);
    fflush(stderr);
    dup2(o1, 1);
    dup2(o2, 2);
    close(o1);
    close(o2);
    char *text = slurp(out, len);
    fclose(out);
    return text;
}

int p_secret(const kit *k)
{
    msgs m = {.len = 0};
    m.text[0] = '\0';
    size_t len = 0, which = 0;
    char *out = drive_captured(k, &m, &len);
    if (!out)
        return kit_broken("a temporary file for stdout/stderr", "%s", strerror(errno));
    const char *where = leak(k, out, len, &m, &which);
    free(out);
    if (where)
        return kit_broken("a secret option's value never appears in any output",
                          "the value of secret option '%s'%s appeared in %s", k->secret_keys[which],
                          k->secret_invented[which] ? " (the kit's own value)" : "", where);
    for (size_t i = 0; i < k->n_secrets; i++)
        kit_say("%s%s%s", i ? ", " : "(looked for the value of ", k->secret_keys[i],
                i + 1 == k->n_secrets ? ")" : "");
    return KIT_KEPT;
}
