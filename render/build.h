/*
 * build.h: what the files of `loopmaid build` share (render/build*.c);
 * never installed. The command and its guarantees are described in build.c.
 *
 *   build.c         the command: flags, running `run:` commands (time
 *                   limit, process group), making traces, writing targets
 *   build_config.c  the config file: loading and validating loopmaid.yaml
 *   build_md.c      Markdown regions: finding the markers, the checksum,
 *                   composing a target's new bytes
 *   build_diff.c    the unified diff that --diff prints
 */
#ifndef LMR_BUILD_H
#define LMR_BUILD_H

#include "lmr_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A config larger than this is not a config: refuse it before parsing. */
#define BUILD_MAX_CONFIG (1u << 20)
/* A target file larger than this is refused (the diff is quadratic-ish). */
#define BUILD_MAX_TARGET (16u << 20)
#define BUILD_MAX_ENTRIES 1000
/* A `run:` without `timeout:` gets this long (ns). */
#define BUILD_RUN_TIMEOUT (60LL * 1000000000LL)
/* After the time limit: SIGTERM to the group, this long (ns), then SIGKILL. */
#define BUILD_KILL_GRACE (1000000000LL)

typedef struct build_pos {
    int line, col;
} build_pos;

/* One diagram of the config. Strings are owned. */
typedef struct build_entry {
    char *name;
    build_pos pos;          /* of the entry's mapping */
    char *trace;            /* resolved against the config's directory */
    build_pos trace_pos;
    char *run;              /* optional shell command; cwd = config dir */
    build_pos run_pos;
    int64_t timeout;        /* ns; 0 = BUILD_RUN_TIMEOUT */
    char *target;           /* resolved */
    build_pos target_pos;
    char *region;           /* NULL: the target is a whole .mmd file */
    build_pos region_pos;
    char *title, *tasks, *exclude, *states;
    build_pos tasks_pos, exclude_pos;
    unsigned given;         /* LMR__OPT_* bits of the options it sets */
    build_pos given_pos[LMR__OPT__COUNT];
    lmr_options opts;
} build_entry;

typedef struct build_config {
    char *path;             /* as given */
    char *dir;              /* its directory, for relative paths */
    build_entry *entries;
    size_t n;
} build_config;

typedef struct build_flags {
    bool check, diff, force, quiet;
} build_flags;

/* A region found in a Markdown text (build_md.c): byte offsets. */
typedef struct md_region {
    size_t open_start, open_end;   /* the opening marker line, with its EOL */
    size_t body_start, body_end;   /* between the markers */
    size_t close_start;            /* the closing marker line */
    bool has_sum;
    uint64_t sum;
    int line, col;                 /* of the opening marker */
} md_region;

/* build_config.c ------------------------------------------------------- */

char *lmr__build_strdup(const char *s);
/* Reads a whole file (at most `max` bytes). Returns 0, or -ENOENT etc. */
int lmr__build_slurp(const char *path, size_t max, char **out, size_t *len);
/* Loads and validates the config; 0 or an error (LMR_ECONFIG, LMR_EREGEX,
 * LMR_EIO, LMR_ENOMEM) with its position. Free with lmr__build_config_free. */
int lmr__build_load_config(const char *path, build_config *c, lmr_error *err);
void lmr__build_config_free(build_config *c);

/* build_md.c ------------------------------------------------------------ */

/* The checksum of a region's body (FNV-1a 64, CRLF read as LF). */
uint64_t lmr__build_sum(const char *s, size_t n);
/* Finds region `name` in text (found = false when absent), checking that
 * every marker is balanced. */
int lmr__build_md_scan(const char *file, const char *text, size_t len,
                       const char *name, md_region *r, bool *found,
                       lmr_error *err);
/* The file's line ending: CRLF when its first line ends so. */
const char *lmr__build_eol(const char *text, size_t len);
/* Appends s to b, turning every "\n" into eol; false when out of memory. */
bool lmr__build_put_eol(lmr_buf *b, const char *s, size_t n, const char *eol);
/* The new bytes of e's target into *next, given its current bytes (cur NULL
 * when it does not exist) and the diagram. 0 or an error. */
int lmr__build_compose(const build_config *c, const build_entry *e,
                       const char *cur, size_t curlen, const lmr_buf *diagram,
                       const build_flags *fl, lmr_buf *next, lmr_error *err);

/* build_diff.c ---------------------------------------------------------- */

/* Prints a unified diff of old -> new with 3 lines of context. */
void lmr__build_print_diff(FILE *out, const char *path, const char *old,
                           size_t on, const char *neu, size_t nn);

#endif /* LMR_BUILD_H */
