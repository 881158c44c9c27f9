/* Built when the sqlite backend is disabled: report reads sqlite. */
#include "cli.h"

int cmd_report(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tropt: this build has no sqlite support (configure with -Dsqlite=enabled)\n");
    return 1;
}
