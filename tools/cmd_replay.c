/* tropt replay: built in the http/jsonl issue. */
#include "cli.h"

int cmd_replay(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tropt: replay is not built yet\n");
    return 1;
}
