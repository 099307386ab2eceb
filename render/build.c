/*
 * build.c: `loopmaid build`, docs builds from a config file. Being written;
 * until then the subcommand says so.
 */
#include "lmr_internal.h"

#include <stdio.h>

int lmr__build_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "loopmaid build: not implemented yet\n");
    return 2;
}
