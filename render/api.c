/*
 * api.c: lmr_render_file, the library's one-call render, and the input
 * handling it shares with inspect.c.
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
 * Opens `path` ("-" = stdin) for two passes. *name is what messages call it.
 * *size is its size in bytes (0 if unknown). Caller fcloses the result.
 */
FILE *lmr__open_trace(const char *path, const char **name, uint64_t *size,
                      lmr_error *err)
{
    *size = 0;
    if (!path || strcmp(path, "-") == 0) {
        *name = "<stdin>";
        FILE *fp = spool(stdin, *name, err);
        if (fp) {
            struct stat st;
            if (fstat(fileno(fp), &st) == 0)
                *size = (uint64_t)st.st_size;
        }
        return fp;
    }
    *name = path;
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

/* Progress on stderr only for big inputs and only on a terminal. */
void lmr__progress_maybe(FILE *warn, uint64_t size, const char *what)
{
    if (warn && size >= PROGRESS_MIN_BYTES && isatty(fileno(warn)))
        lmr__progress_set(warn, size, what);
    else
        lmr__progress_set(NULL, 0, NULL);
}

/*
 * The two passes every consumer of a whole trace shares: open the input,
 * pass 1 builds the model (teeing decoded events into a spill), --tasks /
 * --exclude select, pass 2 feeds renderer r through the walker into lo.
 */
int lmr__run_passes(const char *path, const lmr_options *o,
                    const lmr__renderer *r, lmr__out *lo, FILE *warn,
                    lmr_error *err)
{
    const char *name;
    uint64_t size;
    FILE *fp = lmr__open_trace(path, &name, &size, err);
    if (!fp)
        return err->code;
    lmr__model m;
    /* Pass 1 also copies the decoded events to a spill, so pass 2 need not
     * parse the YAML again. Without a spill (no temporary file, a write
     * error) pass 2 reads the trace itself: slower, same result. */
    FILE *spill = tmpfile();
    /* Freed after fclose(spill), which still writes through it. Without it
     * (no memory) stdio's own buffer does: slower, same result. */
    char *spill_buf = spill ? malloc(SPILL_BUF) : NULL;
    if (spill_buf && setvbuf(spill, spill_buf, _IOFBF, SPILL_BUF) != 0) {
        free(spill_buf);
        spill_buf = NULL;
    }
    lmr__read_tee(spill);
    lmr__progress_maybe(warn, size, "reading");
    int rc = lmr__model_build(fp, name, &m, warn, err);
    lmr__progress_set(NULL, 0, NULL);
    if (lmr__read_tee(NULL) != 0 || (spill && (fflush(spill) != 0 ||
                                               fseeko(spill, 0, SEEK_SET))))
    {
        if (spill)
            fclose(spill);
        spill = NULL;
    }
    if (rc) {
        if (spill)
            fclose(spill);
        free(spill_buf);
        fclose(fp);
        return rc;
    }
    if ((rc = lmr__select(&m, o, err)) != 0)
        goto done;
    lmr__warn_selection(&m, o, warn);
    if (!spill && fseeko(fp, 0, SEEK_SET) != 0) {
        rc = lmr__err(err, LMR_EIO, name, 0, 0, "cannot rewind: %s",
                      strerror(errno));
        goto done;
    }
    lmr__progress_maybe(warn, size, "rendering");
    rc = spill ? lmr__walk_spill(spill, name, &m, o, r, lo, err)
               : lmr__walk(fp, name, &m, o, r, lo, err);
    lmr__progress_set(NULL, 0, NULL);
done:
    lmr__model_free(&m);
    if (spill)
        fclose(spill);
    free(spill_buf);
    fclose(fp);
    return rc;
}

int lmr_render_file(const char *path, const lmr_options *o, lmr_buf *out,
                    FILE *warn, lmr_error *err)
{
    lmr_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    lmr_options defaults;
    if (!o) {
        lmr_options_init(&defaults);
        o = &defaults;
    }
    if (o->quiet)
        warn = NULL;
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
    rc = lmr__run_passes(path, o, r, &lo, warn, err);
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
