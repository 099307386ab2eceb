/*
 * fuzz_reader.c: libFuzzer target for everything that reads a trace file.
 *
 * One input is one trace file. It goes through
 *   1. lmr__read (the streaming libyaml reader) with a callback that touches
 *      every string of every event, so ASan sees any pointer that outlived
 *      the reader's buffers;
 *   2. lmr__model_build (pass 1: the model and its validation);
 *   3. lmr_render_file once per view (pass 2 through the shared walker and
 *      each renderer), with small budgets so the elision paths run too.
 * The bytes live in a memfd, so the reader sees a real, seekable file (the
 * two-pass design rewinds it) and nothing touches the disk.
 *
 * What counts as a failure, besides the sanitizers' reports: an error
 * without a message or with a code that is not one of LMR_E*, and a
 * rendered diagram that holds a Mermaid directive (%%{), HTML other than
 * the renderers' own <br/>, or a line that starts with `click`/`href`
 * (trace text must never become Mermaid syntax).
 */
#include "lmr_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* tests/test_fuzz.c includes this file with LM_FUZZ_ENTRY renamed, to replay
 * the corpus and every saved crash in the ordinary suite. */
#ifndef LM_FUZZ_ENTRY
#define LM_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int LM_FUZZ_ENTRY(const uint8_t *data, size_t size);

/* Reads every byte of s so that a dangling pointer is caught right here. */
static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

static int on_event(void *ctx, const lmr__header *h, const lmr__event *ev,
                    lmr_error *err)
{
    (void)err;
    size_t *sum = ctx;
    *sum += touch(h->program) + touch(h->clock);
    *sum += touch(ev->ev) + touch(ev->name) + touch(ev->on) + touch(ev->label) +
            touch(ev->dir) + touch(ev->by) + touch(ev->error) + touch(ev->text) +
            touch(ev->group_kind) + touch(ev->mode) + touch(ev->outcome) +
            touch(ev->reason) + touch(ev->message);
    for (size_t i = 0; i < ev->nmembers; i++)
        *sum += (size_t)(ev->members[i] & 1);
    return 0;
}

static void check_error(int rc, const lmr_error *err)
{
    if (rc == 0)
        return;
    /* Every failure is one of the documented codes with a message. */
    if (rc > 0 || rc < LMR_EEDITED || err->code != rc || err->msg[0] == '\0') {
        fprintf(stderr, "bad error report: rc=%d code=%d msg=[%s]\n", rc,
                err->code, err->msg);
        abort();
    }
}

/* Trace text must never turn into Mermaid or HTML syntax. */
static void check_diagram(const char *s, size_t n)
{
    if (memmem(s, n, "%%{", 3)) {
        fprintf(stderr, "directive in output:\n%.*s\n", (int)n, s);
        abort();
    }
    for (const char *p = s; (p = memchr(p, '<', n - (size_t)(p - s))) != NULL; p++) {
        size_t left = n - (size_t)(p - s);
        char c = left > 1 ? p[1] : '\0';
        bool tagish = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      c == '/' || c == '!' || c == '?';
        if (tagish && !(left >= 5 && memcmp(p, "<br/>", 5) == 0)) {
            fprintf(stderr, "HTML in output at offset %zu:\n%.*s\n",
                    (size_t)(p - s), (int)n, s);
            abort();
        }
    }
    const char *line = s, *end = s + n;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *q = line;
        while (q < (nl ? nl : end) && (*q == ' ' || *q == '\t'))
            q++;
        size_t left = (size_t)((nl ? nl : end) - q);
        if ((left >= 6 && memcmp(q, "click ", 6) == 0) ||
            (left >= 5 && memcmp(q, "href ", 5) == 0)) {
            fprintf(stderr, "interaction line in output:\n%.*s\n", (int)n, s);
            abort();
        }
        if (!nl)
            break;
        line = nl + 1;
    }
}

int LM_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    int fd = memfd_create("trace", 0);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    /* 1. The reader alone. */
    FILE *fp = fopen(path, "rb");
    if (fp) {
        lmr__header h;
        memset(&h, 0, sizeof h);
        lmr_error err;
        memset(&err, 0, sizeof err);
        int truncated = 0;
        size_t sum = 0;
        int rc = lmr__read(fp, "fuzz", &h, on_event, &sum, &truncated, &err);
        check_error(rc, &err);
        lmr__header_free(&h);
        fclose(fp);
    }

    /* 2. Pass 1. */
    int model_rc = -1;
    fp = fopen(path, "rb");
    if (fp) {
        lmr__model m;
        memset(&m, 0, sizeof m);
        lmr_error err;
        memset(&err, 0, sizeof err);
        model_rc = lmr__model_build(fp, "fuzz", &m, NULL, &err);
        check_error(model_rc, &err);
        lmr__model_free(&m);
        fclose(fp);
    }

    /* 3. Every view, when pass 1 accepted the trace (a rejected trace is
     * rejected the same way by lmr_render_file, so rendering it again would
     * only spend the fuzzer's time). Small budgets exercise the elision. */
    if (model_rc == 0) {
        for (int v = 0; v < LMR_VIEW__COUNT; v++) {
            lmr_options o;
            lmr_options_init(&o);
            o.view = (lmr_view)v;
            o.quiet = 1;
            o.max_chars = (size & 1) ? LMR__MIN_MAX_CHARS : 0;
            o.counts = (int)((size >> 1) & 1);
            o.format = (size & 4) ? LMR_FORMAT_MD : LMR_FORMAT_MMD;
            lmr_buf out = {0};
            lmr_error err;
            memset(&err, 0, sizeof err);
            int rc = lmr_render_file(path, &o, &out, NULL, &err);
            check_error(rc, &err);
            if (rc == 0 && out.len)
                check_diagram(out.data, out.len);
            lmr_buf_free(&out);
        }
    }
    close(fd);
    return 0;
}
