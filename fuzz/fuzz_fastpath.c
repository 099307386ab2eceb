/*
 * fuzz_fastpath.c: libFuzzer target proving the reader's fast path
 * (render/fastline.c) and libyaml agree.
 *
 * Each input is read by lmr__read twice, once with the fast path on and once
 * with it off (lmr__read_fastpath), from a memfd (a real, seekable file, as
 * the fast path needs). Every decoded event is written out field by field,
 * with the header, the return code, the truncation flag and the error fp_record
 * (code, line, column, message); any difference aborts.
 *
 * A mutated line rarely leaves a whole file canonical, and the fast path only
 * runs on files whose every event line is; so besides the input as it is,
 * each of its first lines is also checked alone, behind a fixed header and a
 * canonical first event: that is where a line the fast path takes but decodes
 * differently from libyaml (or takes when libyaml would refuse it) shows.
 */
#include "lmr_internal.h"
#include "fastline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* tests/test_fuzz.c includes this file with LM_FUZZ_ENTRY renamed. */
#ifndef LM_FUZZ_ENTRY
#define LM_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int LM_FUZZ_ENTRY(const uint8_t *data, size_t size);

typedef struct fp_out {
    char *s;
    size_t n, cap;
} fp_out;

static void fp_add(fp_out *o, const char *p, size_t n)
{
    if (o->n + n + 1 > o->cap) {
        size_t c = o->cap ? o->cap : 4096;
        while (c < o->n + n + 1)
            c *= 2;
        char *q = realloc(o->s, c);
        if (!q)
            abort();
        o->s = q;
        o->cap = c;
    }
    memcpy(o->s + o->n, p, n);
    o->n += n;
    o->s[o->n] = '\0';
}

static void fp_str(fp_out *o, const char *tag, const char *s)
{
    fp_add(o, tag, strlen(tag));
    if (!s) {
        fp_add(o, "~", 1);
    } else {
        /* Length first: strings may hold anything but NUL. */
        char len[24];
        int k = snprintf(len, sizeof len, "%zu:", strlen(s));
        fp_add(o, len, (size_t)k);
        fp_add(o, s, strlen(s));
    }
    fp_add(o, ";", 1);
}

static void fp_num(fp_out *o, const char *tag, long long v)
{
    char b[48];
    int k = snprintf(b, sizeof b, "%s%lld;", tag, v);
    fp_add(o, b, (size_t)k);
}

static int fp_record(void *ctx, const lmr__header *h, const lmr__event *e,
                  lmr_error *err)
{
    (void)err;
    fp_out *o = ctx;
    fp_str(o, "P", h->program);
    fp_str(o, "C", h->clock);
    fp_num(o, "R", h->ring);
    fp_num(o, "V", h->version);
    fp_num(o, "k", e->kind);
    fp_str(o, "ev", e->ev);
    fp_num(o, "t", e->t);
    fp_num(o, "lp", e->loop);
    fp_num(o, "ln", e->line);
    fp_num(o, "cl", e->col);
    fp_num(o, "tk", (long long)e->task);
    fp_num(o, "pa", (long long)e->parent);
    fp_str(o, "nm", e->name);
    fp_num(o, "fr", e->from);
    fp_num(o, "to", e->to);
    fp_str(o, "on", e->on);
    fp_str(o, "lb", e->label);
    fp_num(o, "fd", e->fd);
    fp_str(o, "dr", e->dir);
    fp_str(o, "by", e->by);
    fp_num(o, "bt", (long long)e->by_task);
    fp_str(o, "er", e->error);
    fp_str(o, "tx", e->text);
    fp_num(o, "gr", e->group);
    fp_str(o, "gk", e->group_kind);
    fp_num(o, "ow", (long long)e->owner);
    fp_num(o, "nmem", (long long)e->nmembers);
    for (size_t i = 0; i < e->nmembers; i++)
        fp_num(o, "m", (long long)e->members[i]);
    fp_str(o, "md", e->mode);
    fp_num(o, "to", e->timeout);
    fp_str(o, "oc", e->outcome);
    fp_str(o, "rs", e->reason);
    fp_num(o, "wt", e->waited);
    fp_num(o, "rd", e->ready);
    fp_num(o, "n", (long long)e->n);
    fp_num(o, "ran", (long long)e->ran);
    fp_num(o, "io", (long long)e->io);
    fp_num(o, "tm", (long long)e->timers);
    fp_num(o, "aw", (long long)e->awaits);
    fp_num(o, "cd", e->code);
    fp_str(o, "ms", e->message);
    fp_num(o, "dp", e->dropped);
    fp_add(o, "\n", 1);
    return 0;
}

/* Reads the file behind fd with the fast path on or off, into *o. */
static void fp_read_with(int fd, int fast, fp_out *o)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        abort();
    lmr__header h;
    lmr_error err;
    int truncated = 0;
    lmr__read_fastpath(fast);
    int rc = lmr__read(fp, "fuzz", &h, fp_record, o, &truncated, &err);
    lmr__read_fastpath(-1); /* back to the default */
    fp_num(o, "rc", rc);
    fp_num(o, "trunc", truncated);
    fp_num(o, "code", err.code);
    fp_num(o, "line", err.line);
    fp_num(o, "col", err.col);
    fp_str(o, "msg", err.msg);
    fp_str(o, "P", h.program);
    fp_str(o, "C", h.clock);
    fp_num(o, "R", h.ring);
    fp_num(o, "V", h.version);
    lmr__header_free(&h);
    fclose(fp);
}

static void fp_check(const uint8_t *data, size_t size)
{
    int fd = memfd_create("trace", 0);
    if (fd < 0)
        return;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return;
    }
    fp_out a = {0}, b = {0};
    fp_read_with(fd, 1, &a);
    fp_read_with(fd, 0, &b);
    close(fd);
    if (a.n != b.n || memcmp(a.s, b.s, a.n) != 0) {
        fprintf(stderr, "fast path and libyaml differ on:\n%.*s\n"
                        "--- fast:\n%s\n--- libyaml:\n%s\n",
                (int)(size < 4096 ? size : 4096), (const char *)data, a.s,
                b.s);
        abort();
    }
    free(a.s);
    free(b.s);
}

int LM_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fp_check(data, size);
    /* Each of the first lines alone, after a header and a first event that
     * let the fast path start. */
    static const char head[] = "loopmaid: 1\nprogram: \"f\"\nclock: virtual\n"
                               "events:\n  - {t: 0, ev: loop_start, loop: 1}\n";
    const uint8_t *p = data, *end = data + size;
    for (int k = 0; k < 8 && p < end; k++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        uint8_t *doc = malloc(sizeof head + n + 64);
        if (!doc)
            abort();
        size_t m = sizeof head - 1;
        memcpy(doc, head, m);
        memcpy(doc + m, p, n);
        m += n;
        fp_check(doc, m);
        /* The same line followed by one more canonical event. */
        static const char tail[] = "  - {t: 1, ev: loop_end}\n";
        if (nl) {
            memcpy(doc + m, tail, sizeof tail - 1);
            fp_check(doc, m + sizeof tail - 1);
        }
        free(doc);
        p += n;
    }
    return 0;
}
