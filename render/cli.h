/*
 * cli.h: lmr__main, the entry of the `loopmaid` program (cli.c), which lives
 * outside both libraries: main.c calls it, nothing in libloopmaid-render does (the
 * Makefile builds cli.c and build*.c into the program only). Never
 * installed.
 */
#ifndef LMR_CLI_H
#define LMR_CLI_H

#include <stdbool.h>
#include <stdio.h>

/*
 * The whole CLI: `loopmaid render|inspect|diff|export|build|help|version ...`.
 * Returns the process exit code (0 ok, 1 bad input, 2 bad usage).
 */
int lmr__main(int argc, char **argv);

/*
 * A trace operand as the library should read it: a YAML trace as it is
 * (path is the operand), a binary one (lm_trace_is_binary) converted to an
 * anonymous temporary file that path names as /dev/fd/N, which the library
 * calls by the operand's name in every message. The sniff is here,
 * in the program, because the decoder is libloopmaid's and
 * libloopmaid-render does not link it.
 */
typedef struct lmr__trace_in {
    const char *path; /* what to hand the library */
    const char *operand; /* what the user named ("-" = stdin) */
    FILE *tmp;        /* the converted YAML, or NULL */
    bool aliased;     /* messages call path by operand (lmr__trace_alias) */
    char fdpath[32];
} lmr__trace_in;

/* Opens operand ("-" = stdin). 0, or 1 (the exit code for bad input) after
 * saying on stderr what is wrong ("IN: byte N: msg"). A file that cannot be
 * opened is left for the library to report as it always has. A cut binary
 * trace is read up to the cut, with a warning unless quiet. */
int lmr__trace_in_open(lmr__trace_in *t, const char *operand, bool quiet);
void lmr__trace_in_close(lmr__trace_in *t);

#endif /* LMR_CLI_H */
