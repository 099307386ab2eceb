/*
 * api.c: lmr_render_file, the library's one-call render, and what every
 * command on a whole trace shares (render, export, diff, inspect): the entry
 * boilerplate, opening the input, and the two passes (lmr__run_passes) with
 * what they are composed of. The reader only reads; here it is wrapped in
 * the spill tee (pass 1) and in the progress display on a terminal.
 *
 * A render is two passes over the trace (model.c, then walk.c), so the input
 * must be readable twice: a regular file is rewound; stdin, a pipe or any
 * other unseekable input is first spooled to an anonymous temporary file
 * (tmpfile(3): removed when closed), which costs one copy on disk but keeps
 * memory bounded whatever the trace's size.
 */
#include "lmr_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The spill's stdio buffer. stdio's default (the file system's block size,
 * often 4 KiB) costs one write(2) per 4 KiB, some 5,000 system calls for a
 * million events; 256 KiB makes that a hundred, for 256 KiB of memory that
 * does not grow with the trace. */
#define SPILL_BUF (256u * 1024u)

/* Progress is worth showing only when reading takes a noticeable time. */
#define PROGRESS_MIN_BYTES (16u * 1024u * 1024u)

/* Copies all of src into a new temporary file, rewound. NULL on error. */
static FILE *spool(FILE *src, const char *name, lmr_error *err)
{
    FILE *tmp = tmpfile();
    if (!tmp) {
        lmr__err(err, LMR_EIO, name, 0, 0,
                 "cannot create a temporary file to hold the input: %s",
                 strerror(errno));
        return NULL;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, src)) > 0)
        if (fwrite(buf, 1, n, tmp) != n) {
            lmr__err(err, LMR_EIO, name, 0, 0,
                     "cannot spool the input to a temporary file: %s",
                     strerror(errno));
            fclose(tmp);
            return NULL;
        }
    if (ferror(src)) {
        lmr__err(err, LMR_EIO, name, 0, 0, "cannot read: %s", strerror(errno));
        fclose(tmp);
        return NULL;
    }
    if (fflush(tmp) != 0 || fseeko(tmp, 0, SEEK_SET) != 0) {
        lmr__err(err, LMR_EIO, name, 0, 0, "cannot spool the input: %s",
                 strerror(errno));
        fclose(tmp);
        return NULL;
    }
    return tmp;
}

/*
 * The operands the program read on the library's behalf (a binary trace the
 * CLI converted to /dev/fd/N, cli.c): what every message and report calls
 * them instead. Per thread, as a program's own calls would be; two, for
 * diff's two runs.
 */
#define NALIASES 2
static _Thread_local struct {
    const char *path, *shown;
} aliases[NALIASES];

int lmr__trace_alias(const char *path, const char *shown)
{
    for (int i = 0; i < NALIASES; i++)
        if (shown ? !aliases[i].path : aliases[i].path == path) {
            aliases[i].path = shown ? path : NULL;
            aliases[i].shown = shown;
            return 0;
        }
    return shown ? LMR_EUSAGE : 0;
}

const char *lmr__shown_name(const char *path)
{
    for (int i = 0; path && i < NALIASES; i++)
        if (aliases[i].path && strcmp(aliases[i].path, path) == 0)
            return aliases[i].shown;
    return path;
}

/*
 * Opens `path` ("-" = stdin) for two passes. *name is what messages call it.
 * *size is its size in bytes (0 if unknown). Caller fcloses the result.
 */
const char *lmr__trace_name(const char *path)
{
    path = lmr__shown_name(path);
    return !path || strcmp(path, "-") == 0 ? "<stdin>" : path;
}

FILE *lmr__open_trace(const char *path, const char **name, uint64_t *size,
                      lmr_error *err)
{
    *size = 0;
    *name = lmr__trace_name(path);
    if (!path || strcmp(path, "-") == 0) {
        FILE *fp = spool(stdin, *name, err);
        if (fp) {
            struct stat st;
            if (fstat(fileno(fp), &st) == 0)
                *size = (uint64_t)st.st_size;
        }
        return fp;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        lmr__err(err, LMR_EIO, path, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        lmr__err(err, LMR_EIO, path, 0, 0, "cannot read: it is a directory");
        return NULL;
    }
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) &&
        fseeko(fp, 0, SEEK_SET) == 0) {
        *size = (uint64_t)st.st_size;
        return fp;
    }
    /* A FIFO, a character device, /dev/stdin...: read it once, keep it. */
    FILE *tmp = spool(fp, path, err);
    fclose(fp);
    if (tmp && fstat(fileno(tmp), &st) == 0)
        *size = (uint64_t)st.st_size;
    return tmp;
}

/* ------------------------------------------------------------------------ */
/* Progress on a terminal                                                   */
/* ------------------------------------------------------------------------ */

/* "\rloopmaid: WHAT NN%" on tty, rewritten about every 1% of `total` bytes.
 * tty is NULL when nothing is shown. */
typedef struct progress {
    FILE *tty;
    uint64_t total;
    const char *what;
    int pct;             /* the figure on screen; -1 = none yet */
} progress;

/* Shown on stderr only for big inputs and only on a terminal. */
static void progress_start(progress *p, FILE *warn, uint64_t size,
                           const char *what)
{
    bool show = warn && size >= PROGRESS_MIN_BYTES && isatty(fileno(warn));
    *p = (progress){.tty = show ? warn : NULL, .total = size, .what = what,
                    .pct = -1};
}

/* An lmr__bytes_fn: O(1), and it writes only when the figure changes. */
static void progress_at(void *ctx, uint64_t done)
{
    progress *p = ctx;
    if (!p->tty)
        return;
    int pct = (int)(done >= p->total ? 100 : done * 100 / p->total);
    if (pct != p->pct) {
        p->pct = pct;
        fprintf(p->tty, "\rloopmaid: %s %3d%%", p->what, pct);
        fflush(p->tty);
    }
}

/* Clears the line, so that what follows starts at its left edge. */
static void progress_end(progress *p)
{
    if (p->tty) {
        fputs("\r                                        \r", p->tty);
        fflush(p->tty);
    }
    p->tty = NULL;
}

/* ------------------------------------------------------------------------ */
/* The two passes                                                            */
/* ------------------------------------------------------------------------ */

/* What one pass reads through: the tee when there is a spill to fill (pass
 * 1), and the progress display. */
typedef struct pass_reader {
    lmr__tee *tee;       /* NULL: events go straight to the consumer */
    progress *progress;
} pass_reader;

/* An lmr__read_fn: lmr__read composed with the tee and the progress. */
static int pass_read(void *rctx, FILE *fp, const char *name, lmr__header *h,
                     lmr__event_fn cb, void *ctx, int *truncated,
                     lmr_error *err)
{
    pass_reader *pr = rctx;
    if (pr->tee) {
        pr->tee->cb = cb;
        pr->tee->ctx = ctx;
        cb = lmr__tee_event;
        ctx = pr->tee;
    }
    return lmr__read_counted(fp, name, h, cb, ctx, progress_at, pr->progress,
                             truncated, err);
}

/* A temporary file for the spill with a big stdio buffer (*buf: freed by
 * the caller after fclose, which still writes through it). NULL when there
 * is no temporary file: then pass 2 reads the trace itself, slower, same
 * result. Without the buffer (no memory) stdio's own serves. */
static FILE *spill_open(char **buf)
{
    FILE *spill = tmpfile();
    *buf = spill ? malloc(SPILL_BUF) : NULL;
    if (*buf && setvbuf(spill, *buf, _IOFBF, SPILL_BUF) != 0) {
        free(*buf);
        *buf = NULL;
    }
    return spill;
}

/*
 * Pass 1: the model, the decoded events teed into *spill. When the spill
 * cannot be used (a write failed, it cannot be rewound) it is closed and
 * *spill set to NULL; pass 2 then reads the trace again.
 */
static int pass1(FILE *fp, const char *name, uint64_t size, lmr__model *m,
                 FILE **spill, FILE *warn, lmr_error *err)
{
    progress pg;
    lmr__tee tee = {.spill = *spill};
    pass_reader pr = {.tee = *spill ? &tee : NULL, .progress = &pg};
    progress_start(&pg, warn, size, "reading");
    int rc = lmr__model_build_via(fp, name, m, warn, pass_read, &pr, err);
    progress_end(&pg);
    if (*spill && (tee.rc != 0 || fflush(*spill) != 0 ||
                   fseeko(*spill, 0, SEEK_SET) != 0)) {
        fclose(*spill);
        *spill = NULL;
    }
    return rc;
}

/* Pass 2: r walks the spill, or the trace again when there is none.
 * Progress is shown when warn is set. */
static int pass2(FILE *fp, const char *name, uint64_t size, FILE *spill,
                 const lmr__model *m, const lmr_options *o,
                 const lmr__renderer *r, lmr__out *lo, FILE *warn,
                 lmr_error *err)
{
    if (!spill && fseeko(fp, 0, SEEK_SET) != 0)
        return lmr__err(err, LMR_EIO, name, 0, 0, "cannot rewind: %s",
                        strerror(errno));
    progress pg;
    pass_reader pr = {.progress = &pg};
    progress_start(&pg, warn, size, "rendering");
    int rc = spill ? lmr__walk_spill(spill, name, m, o, r, lo, err)
                   : lmr__walk_via(fp, name, m, o, r, lo, pass_read, &pr, err);
    progress_end(&pg);
    return rc;
}

int lmr__run_passes(const char *path, const lmr_options *o,
                    const lmr__renderer *r, lmr__out *lo, FILE *warn,
                    bool drawing, lmr_error *err)
{
    const char *name;
    uint64_t size;
    FILE *fp = lmr__open_trace(path, &name, &size, err);
    if (!fp)
        return err->code;
    char *spill_buf;
    FILE *spill = spill_open(&spill_buf);
    lmr__model m;
    int rc = pass1(fp, name, size, &m, &spill, warn, err);
    if (rc == 0) {
        rc = lmr__select(&m, o, err);
        if (rc == 0 && drawing)
            lmr__warn_selection(&m, o, warn);
        if (rc == 0)
            rc = pass2(fp, name, size, spill, &m, o, r, lo,
                       drawing ? warn : NULL, err);
        lmr__model_free(&m);
    }
    if (spill)
        fclose(spill);
    free(spill_buf);
    fclose(fp);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The entries                                                               */
/* ------------------------------------------------------------------------ */

void lmr__entry_begin(lmr__entry *e, const lmr_options *o, FILE *warn,
                      lmr_error *err)
{
    e->err = err ? err : &e->own_err;
    memset(e->err, 0, sizeof *e->err);
    if (!o) {
        lmr_options_init(&e->own_opts);
        o = &e->own_opts;
    }
    e->o = o;
    e->warn = o->quiet ? NULL : warn;
}

int lmr_render_file(const char *path, const lmr_options *o, lmr_buf *out,
                    FILE *warn, lmr_error *err)
{
    lmr__entry e;
    lmr__entry_begin(&e, o, warn, err);
    o = e.o;
    err = e.err;
    const lmr__renderer *r = lmr__renderer_for(o->view);
    if (!r)
        return lmr__err(err, LMR_EUSAGE, "loopmaid", 0, 0,
                        "view '%s' is not available in this build",
                        lmr_view_name(o->view) ? lmr_view_name(o->view)
                                               : "?");
    lmr__vocab vocab;
    int rc = lmr__vocab_parse(o->states, &vocab, err);
    if (rc)
        return rc;

    size_t len0 = out->len;
    if (o->format == LMR_FORMAT_MD &&
        lmr__buf_append(out, "```mermaid\n", 11) < 0)
        return lmr__err(err, LMR_ENOMEM, path ? path : "-", 0, 0,
                        "out of memory");
    lmr__out lo = {.buf = out,
                   .start = out->len,
                   .max_chars = o->max_chars ? o->max_chars
                                             : LMR__DEFAULT_MAX_CHARS};
    rc = lmr__run_passes(path, o, r, &lo, e.warn, true, err);
    /* A fence is closed on its own line even if a renderer forgot the
     * final newline. */
    if (rc == 0 && o->format == LMR_FORMAT_MD) {
        if (out->len > 0 && out->data[out->len - 1] != '\n' &&
            lmr__buf_append(out, "\n", 1) < 0)
            rc = LMR_ENOMEM;
        if (rc == 0 && lmr__buf_append(out, "```\n", 4) < 0)
            rc = LMR_ENOMEM;
        if (rc)
            lmr__err(err, rc, path ? path : "-", 0, 0, "out of memory");
    }
    if (rc) {
        /* Never hand back half a diagram. */
        out->len = len0;
        if (out->data)
            out->data[len0] = '\0';
    }
    return rc;
}
