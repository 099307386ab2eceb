/* main.c: the `loopmaid` executable. Everything lives in lmr__main (cli.c) so
 * that tests can drive the CLI in-process too. */
#include "cli.h"

int main(int argc, char **argv) { return lmr__main(argc, argv); }
