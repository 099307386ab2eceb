/*
 * fastline.h: the reader's fast path for canonical event lines (fastline.c).
 * Internal to render/; never installed. See fastline.c for the design.
 */
#ifndef LMR_FASTLINE_H
#define LMR_FASTLINE_H

#include "lmr_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Internal, so hidden (lmr_internal.h). */
#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility push(hidden)
#endif

/* The longest line the fast path takes (longer ones go to libyaml). Kept well
 * under LMR__MAX_TOKEN so that libyaml, reading the same line, could never
 * hit the per-token cap on it either. */
#define LMR__FL_MAX_LINE                                                       \
    (LMR__MAX_TOKEN / 4 < (1u << 20) ? LMR__MAX_TOKEN / 4 : (1u << 20))

enum { LMR__FL_PLAIN, LMR__FL_QUOTED, LMR__FL_SEQ };

/* One `key: value` of a canonical line. Columns are 0-based, in characters,
 * as libyaml counts them. */
typedef struct lmr__fl_field {
    const char *key;     /* into the line; [a-z_]+ */
    size_t klen;
    int kcol;
    int vkind;           /* LMR__FL_* */
    size_t voff, vlen;   /* plain: into the line; quoted: into fl->buf */
    int vcol;
    size_t moff, nmem;   /* seq: into fl->mem */
} lmr__fl_field;

/* What lmr__fl_parse found in one line (buffers reused line after line). */
typedef struct lmr__fl {
    const char *line;
    lmr__fl_field *f;
    size_t nf, capf;
    char *buf;           /* decoded quoted strings, NUL-separated */
    size_t blen, bcap;
    uint64_t *mem;       /* members lists */
    size_t nmem, capmem;
} lmr__fl;

void lmr__fl_free(lmr__fl *fl);

/*
 * Whether line[0..len) (its '\n' included) is EXACTLY a canonical event line
 * "  - {key: value, ...}\n" as tracer/trace_fmt.c writes it; fills *fl then.
 * Returns 1 (canonical), 0 (not: hand it to libyaml) or LMR_ENOMEM.
 */
int lmr__fl_parse(lmr__fl *fl, const char *line, size_t len);

/* Sequential reads of a regular file by offset (pread), line by line. */
typedef struct lmr__fl_src {
    int fd;
    off_t base;          /* file offset of pos 0 */
    uint64_t pos;        /* offset of buf[lo], relative to base */
    char *buf;
    size_t cap, lo, hi;
    bool eof;
} lmr__fl_src;

int lmr__fl_src_open(lmr__fl_src *s, int fd, off_t base, uint64_t pos);
void lmr__fl_src_close(lmr__fl_src *s);
/* The next line, its newline included, in *line and *len (valid until the
 * next call).
 * Returns 1, 0 at the end of the file, 2 for a last line without '\n' or a
 * line longer than LMR__FL_MAX_LINE (both left to libyaml; *len is what
 * there is), LMR_EIO or LMR_ENOMEM. */
int lmr__fl_src_line(lmr__fl_src *s, const char **line, size_t *len);

/*
 * The pre-scan (see fastline.c): whether the file behind fd (a regular
 * file; the trace starts at offset base), whose first event libyaml read as
 * the mapping on 0-based line line0 ending at character column endcol, holds
 * nothing but canonical lines after it, up to a final '\n'. Returns 1 and
 * the offset of the line after line0 (from base) in *first and the number of
 * lines from there in *nlines; 0 when it does not (or cannot tell).
 */
int lmr__fl_prove(int fd, off_t base, uint64_t line0, uint64_t endcol,
                  uint64_t *first, uint64_t *nlines);

/* Turns the reader's fast path on (1), off (0) or back to the default (-1)
 * for this thread; returns whether it was on. The default is on unless built
 * with -DLMR_FASTPATH=0 or LOOPMAID_FASTPATH=0 is in the environment (for
 * measuring and for the fuzz target, which compares both paths). */
int lmr__read_fastpath(int on);
/* How many events the fast path decoded on this thread since the last call
 * (for tests: proof that it ran). */
uint64_t lmr__read_fast_events(void);

#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility pop
#endif

#endif
