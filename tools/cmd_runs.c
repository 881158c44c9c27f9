/* tropt runs / tropt show: built in the sqlite issue. */
#include "cli.h"

int cmd_runs(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tropt: this build has no sqlite support (configure with -Dsqlite=enabled)\n");
    return 1;
}

int cmd_show(int argc, char **argv)
{
    return cmd_runs(argc, argv);
}
