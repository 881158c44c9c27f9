/* tools/main.c - the entry point of `tropt` (the tool is tools/tropt.c). */
#include "cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
