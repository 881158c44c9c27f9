/* Built when the sqlite backend is disabled: report/compare read sqlite. */
#include "cli.h"

int cmd_report(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tropt: this build has no sqlite support (configure with -Dsqlite=enabled)\n");
    return 1;
}

int cmd_compare(int argc, char **argv)
{
    return cmd_report(argc, argv);
}
