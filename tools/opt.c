/* tools/opt.c - one option parser over a command's option table, and the
 * usage and help printed from the same table (see opt.h). */
#include "opt.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One parse in progress. */
typedef struct parser {
    const cli_command *cmd;
    int argc;
    char **argv;
    int i;        /* the argv entry being read */
    void *args;   /* the command's struct */
    size_t n_pos; /* positionals taken so far */
    FILE *out, *err;
} parser;

static void *field(const parser *p, const cli_opt *o)
{
    return (char *)p->args + o->offset;
}

/* ---- printing from the table ---------------------------------------------- */

static void put_row_usage(FILE *f, const cli_opt *o)
{
    switch (o->kind) {
    case CLI_OPT_FLAG:
        fprintf(f, "--%s", o->name);
        break;
    case CLI_OPT_VALUE:
    case CLI_OPT_LIST:
        fprintf(f, "--%s %s", o->name, o->value ? o->value : "VALUE");
        break;
    case CLI_OPT_ARG:
        fputs(o->name, f);
        break;
    case CLI_OPT_ARGS:
        fprintf(f, (o->flags & CLI_MIN2) ? "%s %s..." : "%s...", o->name, o->name);
        break;
    case CLI_OPT_END:
        break;
    }
}

static int is_positional(const cli_opt *o)
{
    return o->kind == CLI_OPT_ARG || o->kind == CLI_OPT_ARGS;
}

/* Whether a row (the first of its group) is shown in brackets. */
static int optional_row(const cli_opt *o)
{
    if (is_positional(o))
        return (o->flags & CLI_OPTIONAL) != 0;
    return (o->flags & CLI_REQUIRED) == 0;
}

void cli_print_usage(FILE *f, const cli_command *cmd)
{
    fprintf(f, "usage: tropt %s", cmd->name);
    int bracket = 0; /* the group being printed is in brackets */
    for (const cli_opt *o = cmd->opts; o && o->kind; o++) {
        if (o->flags & CLI_OR_PREV) {
            fputs(" | ", f);
        } else {
            bracket = optional_row(o);
            fputs(bracket ? " [" : " ", f);
        }
        put_row_usage(f, o);
        if (bracket && !(o[1].kind && (o[1].flags & CLI_OR_PREV)))
            fputs(o->kind == CLI_OPT_LIST ? "]..." : "]", f);
    }
    fputc('\n', f);
}

void cli_print_help(FILE *f, const cli_command *cmd)
{
    cli_print_usage(f, cmd);
    if (cmd->summary)
        fprintf(f, "\n%s\n", cmd->summary);
    fputs("\narguments and options:\n", f);
    for (const cli_opt *o = cmd->opts; o && o->kind; o++) {
        char syn[128] = "";
        FILE *m = fmemopen(syn, sizeof syn - 1, "w");
        if (m) {
            if (o->alias)
                fprintf(m, "-%c, ", o->alias);
            put_row_usage(m, o);
            fclose(m);
        }
        fprintf(f, "  %-24s  %s\n", syn, o->help ? o->help : "");
    }
    fprintf(f, "  %-24s  %s\n", "-h, --help", "print this help and exit");
}

static int usage_v(const cli_command *cmd, FILE *err, const char *fmt, va_list ap)
{
    fputs("tropt: ", err);
    vfprintf(err, fmt, ap);
    fputc('\n', err);
    cli_print_usage(err, cmd);
    fprintf(err, "(tropt %s --help lists every option)\n", cmd->name);
    return 2;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = usage_v(cmd, stderr, fmt, ap);
    va_end(ap);
    return rc;
}

static int perr(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    usage_v(p->cmd, p->err, fmt, ap);
    va_end(ap);
    return 2;
}

/* ---- parsing --------------------------------------------------------------- */

static int list_add(cli_list *l, const char *v)
{
    const char **a = realloc(l->v, (l->n + 1) * sizeof *a);
    if (!a)
        return -1;
    a[l->n++] = v;
    l->v = a;
    return 0;
}

void cli_args_free(const cli_command *cmd, void *args)
{
    for (const cli_opt *o = cmd->opts; o && o->kind; o++) {
        if (o->kind != CLI_OPT_LIST && o->kind != CLI_OPT_ARGS)
            continue;
        cli_list *l = (cli_list *)((char *)args + o->offset);
        free(l->v);
        l->v = NULL;
        l->n = 0;
    }
}

/* The row of a long name (len bytes of name) or of a short alias. */
static const cli_opt *find_long(const cli_command *cmd, const char *name, size_t len)
{
    for (const cli_opt *o = cmd->opts; o && o->kind; o++)
        if (!is_positional(o) && strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static const cli_opt *find_short(const cli_command *cmd, char c)
{
    for (const cli_opt *o = cmd->opts; o && o->kind; o++)
        if (!is_positional(o) && o->alias == c)
            return o;
    return NULL;
}

/* Store the value of row o (NULL for a flag).  0, or 2 after an error. */
static int store(parser *p, const cli_opt *o, const char *value)
{
    if (o->kind == CLI_OPT_FLAG) {
        *(int *)field(p, o) = 1;
        return 0;
    }
    if (o->kind == CLI_OPT_VALUE) {
        *(const char **)field(p, o) = value;
        return 0;
    }
    if (list_add(field(p, o), value) != 0) {
        fprintf(p->err, "tropt: out of memory\n");
        return 2;
    }
    return 0;
}

/* Row o was named by `shown`; `inline_v` is its attached value (--x=V,
 * -xV) or NULL.  Takes the value from the next argv entry when needed. */
static int take(parser *p, const cli_opt *o, const char *shown, const char *inline_v)
{
    if (o->kind == CLI_OPT_FLAG) {
        if (inline_v)
            return perr(p, "%s takes no value", shown);
        return store(p, o, NULL);
    }
    if (!inline_v) {
        if (p->i + 1 >= p->argc)
            return perr(p, "%s needs a value (%s)", shown, o->value ? o->value : "VALUE");
        inline_v = p->argv[++p->i];
    }
    if (!*inline_v)
        return perr(p, "%s needs a non-empty %s", shown, o->value ? o->value : "VALUE");
    return store(p, o, inline_v);
}

static int long_opt(parser *p, const char *a)
{
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cli_opt *o = find_long(p->cmd, name, len);
    if (!o)
        return perr(p, "unknown option '--%.*s'", (int)(len < 64 ? len : 64), name);
    char shown[80];
    snprintf(shown, sizeof shown, "--%s", o->name);
    return take(p, o, shown, eq ? eq + 1 : NULL);
}

static int short_opt(parser *p, const char *a)
{
    const cli_opt *o = find_short(p->cmd, a[1]);
    if (!o)
        return perr(p, "unknown option '-%c'", a[1]);
    char shown[8] = {'-', a[1], '\0'};
    if (o->kind == CLI_OPT_FLAG && a[2])
        return perr(p, "unknown option '%s'", a);
    return take(p, o, shown, a[2] ? a + 2 : NULL);
}

/* The positional row that takes the next positional, NULL when none. */
static const cli_opt *positional_row(const parser *p)
{
    size_t k = 0;
    for (const cli_opt *o = p->cmd->opts; o && o->kind; o++) {
        if (o->kind == CLI_OPT_ARGS)
            return o;
        if (o->kind == CLI_OPT_ARG && k++ == p->n_pos)
            return o;
    }
    return NULL;
}

static int positional(parser *p, const char *a)
{
    const cli_opt *o = positional_row(p);
    if (!o)
        return perr(p, "unexpected argument '%.200s'", a);
    p->n_pos++;
    if (o->kind == CLI_OPT_ARG) {
        *(const char **)field(p, o) = a;
        return 0;
    }
    return store(p, o, a);
}

static int is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* After the last argv entry: every required row is there. */
static int check_required(parser *p)
{
    for (const cli_opt *o = p->cmd->opts; o && o->kind; o++) {
        if (o->kind == CLI_OPT_VALUE && (o->flags & CLI_REQUIRED) && !*(const char **)field(p, o))
            return perr(p, "missing --%s %s", o->name, o->value ? o->value : "VALUE");
        if (!is_positional(o) || (o->flags & CLI_OPTIONAL))
            continue;
        size_t need = o->kind == CLI_OPT_ARGS && (o->flags & CLI_MIN2) ? 2 : 1;
        size_t have = o->kind == CLI_OPT_ARGS ? ((cli_list *)field(p, o))->n
                                              : *(const char **)field(p, o) != NULL;
        if (have < need)
            return perr(p, need == 2 ? "give at least two of %s" : "missing %s", o->name);
    }
    return 0;
}

/* One argv entry; *dashdash is set by "--".  0 or an exit code. */
static int one(parser *p, int *dashdash)
{
    const char *a = p->argv[p->i];
    if (*dashdash || a[0] != '-' || a[1] == '\0')
        return positional(p, a);
    if (strcmp(a, "--") == 0) {
        *dashdash = 1;
        return 0;
    }
    return a[1] == '-' ? long_opt(p, a) : short_opt(p, a);
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (is_help(argv[i]))
            return 1;
    return 0;
}

int cli_parse_to(const cli_command *cmd, int argc, char **argv, void *args, FILE *out, FILE *err)
{
    if (wants_help(argc, argv)) {
        cli_print_help(out, cmd);
        return 0;
    }
    parser p = {cmd, argc, argv, 1, args, 0, out, err};
    int dashdash = 0, rc = 0;
    for (; rc == 0 && p.i < argc; p.i++)
        rc = one(&p, &dashdash);
    if (rc == 0)
        rc = check_required(&p);
    if (rc == 0)
        return CLI_GO;
    cli_args_free(cmd, args);
    return rc;
}

int cli_parse(const cli_command *cmd, int argc, char **argv, void *args)
{
    return cli_parse_to(cmd, argc, argv, args, stdout, stderr);
}
