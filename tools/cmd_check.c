/* tools/cmd_check.c - `tropt check SPEC`: open the spec (load every plugin,
 * validate every option) and report what is wrong, or OK.  Secret option
 * values are never printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tropt/host.h>

#include "cli.h"
#include "tropt_url.h"

typedef struct check_args {
    const char *spec;
} check_args;

const cli_opt cmd_check_opts[] = {
    CLI_ARG("SPEC", check_args, spec, "the backends and their options, e.g. sqlite:path=runs.db"),
    CLI_END};

int cmd_check(const cli_command *self, int argc, char **argv)
{
    check_args a = {0};
    int prc = cli_parse(self, argc, argv, &a);
    if (prc != CLI_GO)
        return prc;
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, a.spec, NULL, NULL);
    if (rc != TROPT_OK) {
        printf("ERROR %s: %s\n", tropt_error_name(rc), tropt_error_message());
        return 1;
    }
    size_t n = tropt_tracker_backend_count(t);
    printf("OK: %zu backend%s\n", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        const tropt_plugin *p;
        const char *path;
        const tropt_optval *vals;
        int warn;
        tropt_tracker_backend(t, i, &p, &path, &vals, &warn);
        printf("  %s (%s)%s\n", p->name, path, warn ? " on_error=warn" : "");
        for (size_t j = 0; p->options && p->options[j].name; j++) {
            /* a value that is a URL keeps its credentials to itself */
            const char *shown = tropt_option_display(&p->options[j], vals[j].text);
            char *masked = NULL;
            if (shown && strstr(shown, "://")) {
                size_t cap = strlen(shown) * 2 + 16;
                masked = malloc(cap);
                if (masked)
                    shown = tropt_url_masked(shown, masked, cap);
                else
                    shown = "<hidden: out of memory>";
            }
            printf("    %s=%s%s\n", p->options[j].name, shown, vals[j].is_set ? "" : " (default)");
            free(masked);
        }
    }
    tropt_tracker_free(t);
    return 0;
}
