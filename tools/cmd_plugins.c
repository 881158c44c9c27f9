/* tools/cmd_plugins.c - `tropt plugins`: every plugin on the search path,
 * with its ABI, description and declared options. */
#include <stdio.h>
#include <string.h>

#include <tropt/host.h>

#include "cli.h"

static void print_option(const tropt_option_def *d)
{
    char type[256];
    snprintf(type, sizeof type, "%s", tropt_option_type_name(d->type));
    if (d->type == TROPT_OPT_ENUM && d->choices) {
        size_t used = strlen(type);
        for (size_t i = 0; d->choices[i] && used < sizeof type - 2; i++) {
            int n = snprintf(type + used, sizeof type - used, "%s%s", i ? "|" : " ", d->choices[i]);
            if (n < 0)
                break;
            used += (size_t)n;
        }
    }
    printf("    %-16s %-24s default: %-14s", d->name, type,
           d->default_value ? tropt_option_display(d, d->default_value)
                            : ((d->flags & TROPT_OPT_REQUIRED) ? "(required)" : "(unset)"));
    if (d->flags & TROPT_OPT_HAS_RANGE) {
        char range[112];
        tropt_option_range(d, range, sizeof range);
        printf(" range: %s", range);
    }
    if (d->flags & TROPT_OPT_SECRET)
        printf(" secret");
    if (d->help)
        printf("\n    %-16s %s", "", d->help);
    printf("\n");
}

static int visit(const char *path, const tropt_plugin *p, const char *error, int shadowed, void *ud)
{
    int *count = ud;
    (*count)++;
    if (!p) {
        printf("%s\n  UNUSABLE: %s\n\n", path, error);
        return 0;
    }
    /* listed under the name it is loaded by: the <name> of tropt-<name>.so */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    int n = len > 9 && strncmp(base, "tropt-", 6) == 0 ? (int)(len - 9) : -1;
    if (n > 0 && ((size_t)n != strlen(p->name) || strncmp(base + 6, p->name, (size_t)n) != 0))
        printf("%.*s  (%s)%s\n  NOTE: its hook table calls it '%s'; it loads as '%.*s'\n", n,
               base + 6, path, shadowed ? "  [shadowed by an earlier folder]" : "", p->name, n,
               base + 6);
    else
        printf("%s  (%s)%s\n", p->name, path, shadowed ? "  [shadowed by an earlier folder]" : "");
    printf("  ABI %u.%u  %s\n", (unsigned)(p->abi_version >> 16),
           (unsigned)(p->abi_version & 0xffff), p->description ? p->description : "");
    printf("  options:\n");
    for (size_t i = 0; p->options && p->options[i].name; i++)
        print_option(&p->options[i]);
    printf("    %-16s %-24s default: %-14s\n    %-16s %s\n", "on_error", "enum fail|warn", "fail",
           "", "host option: warn turns this backend's failures into warnings");
    printf("\n");
    return 0;
}

const cli_opt cmd_plugins_opts[] = {CLI_END};

int cmd_plugins(const cli_command *self, int argc, char **argv)
{
    int none = 0;
    int prc = cli_parse(self, argc, argv, &none);
    if (prc != CLI_GO)
        return prc;
    int count = 0;
    int rc = tropt_plugins_foreach(visit, &count);
    if (rc != TROPT_OK) {
        fprintf(stderr, "tropt: %s\n", tropt_error_message());
        return 1;
    }
    if (count == 0) {
        printf("no plugins found (searched $TROPT_PLUGIN_PATH and %s)\n", tropt_plugin_dir());
        return 1;
    }
    return 0;
}
