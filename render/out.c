/*
 * out.c: the renderers' only way to write text, with a character budget.
 *
 * Mermaid refuses diagram text over maxTextSize (50,000 by default) by
 * rendering an error picture instead, so every renderer must know how much
 * it has written and how much is left. Renderers emit pure ASCII (the
 * escaper writes every other code point as a #N; entity), so a byte here is
 * a character for Mermaid too.
 *
 * Also home of the lmr_buf growth helpers the render half shares.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lmr_buf_free(lmr_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Grows b so that `more` bytes plus a NUL fit. Amortised O(1): doubles. */
static int buf_grow(lmr_buf *b, size_t more)
{
    if (more > SIZE_MAX / 2 - b->len - 1)
        return LMR_ENOMEM;
    size_t need = b->len + more + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return LMR_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int lmr__buf_append(lmr_buf *b, const char *s, size_t n)
{
    if (buf_grow(b, n) < 0)
        return LMR_ENOMEM;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void lmr__buf_cut(lmr_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

void lmr__outn(lmr__out *o, const char *s, size_t n)
{
    if (o->err)
        return;
    if (lmr__buf_append(o->buf, s, n) < 0)
        o->err = LMR_ENOMEM;
}

void lmr__puts(lmr__out *o, const char *s) { lmr__outn(o, s, strlen(s)); }

void lmr__printf(lmr__out *o, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->err = LMR_EIO;
        return;
    }
    if ((size_t)n < sizeof small) {
        lmr__outn(o, small, (size_t)n);
        return;
    }
    /* Rare: a long line. Format straight into the buffer. */
    if (o->err || buf_grow(o->buf, (size_t)n) < 0) {
        o->err = o->err ? o->err : LMR_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(o->buf->data + o->buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    o->buf->len += (size_t)n;
}

size_t lmr__used(const lmr__out *o) { return o->buf->len - o->start; }

size_t lmr__budget(const lmr__out *o)
{
    return o->max_chars ? o->max_chars : LMR__DEFAULT_MAX_CHARS;
}

bool lmr__fits(const lmr__out *o, size_t more)
{
    size_t max = lmr__budget(o);
    size_t used = lmr__used(o);
    if (o->reserve > max)
        return false;
    return used <= max - o->reserve && more <= max - o->reserve - used;
}

size_t lmr__mark(const lmr__out *o) { return o->buf->len; }

void lmr__rollback(lmr__out *o, size_t mark)
{
    if (mark >= o->start)
        lmr__buf_cut(o->buf, mark);
}

void lmr__out_scratch(lmr__out *o, lmr_buf *b)
{
    memset(o, 0, sizeof *o);
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
    o->buf = b;
    o->start = 0;
    o->max_chars = SIZE_MAX / 4;
}

void lmr__cut_name(char *dst, size_t n, const char *s, size_t max_cp)
{
    size_t j = 0, cps = 0;
    for (; s[j] && j + 4 < n; j++) {
        if (((unsigned char)s[j] & 0xC0) != 0x80 && ++cps > max_cp)
            break;
        dst[j] = s[j];
    }
    while (j > 0 && ((unsigned char)dst[j - 1] & 0xC0) == 0xC0)
        j--; /* never end on a lead byte */
    dst[j] = '\0';
    if (s[j] && j + 4 <= n)
        memcpy(dst + j, "\xE2\x80\xA6", 4);
}

size_t lmr__ellipsis(char *buf, size_t j)
{
    /* Back over the last code point unless it is ASCII: it may be in half
     * (a whole one goes too, which costs a character, never validity). */
    while (j > 0 && ((unsigned char)buf[j - 1] & 0xC0) == 0x80)
        j--;
    if (j > 0 && ((unsigned char)buf[j - 1] & 0xC0) == 0xC0)
        j--;
    memcpy(buf + j, "...", 3);
    return j + 3;
}

/*
 * Durations as whole numbers with a unit chosen so that the number stays
 * below 10,000: no decimal point, so the text needs no escaping to read well.
 */
void lmr__fmt_dur(char *dst, size_t n, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    static const struct { const char *unit; int64_t div; } u[] = {
        {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}};
    size_t i = 0;
    while (i + 1 < sizeof u / sizeof u[0] && ns / u[i].div >= 10000)
        i++;
    snprintf(dst, n, "%" PRId64 " %s", ns / u[i].div, u[i].unit);
}
