/*
 * cli.h: lmr__main, the entry of the `loopmaid` program (cli.c), which lives
 * outside both libraries: main.c calls it, nothing in libloopmaid-render does (the
 * Makefile builds cli.c and build*.c into the program only). Never
 * installed.
 */
#ifndef LMR_CLI_H
#define LMR_CLI_H

/*
 * The whole CLI: `loopmaid render|inspect|diff|export|build|help|version ...`.
 * Returns the process exit code (0 ok, 1 bad input, 2 bad usage).
 */
int lmr__main(int argc, char **argv);

#endif /* LMR_CLI_H */
