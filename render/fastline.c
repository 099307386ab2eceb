/*
 * fastline.c: the reader's fast path for canonical event lines.
 *
 * The tracer writes one event per line, always in the same shape
 * (tracer/trace_fmt.c, docs/trace-format.md section 1):
 *
 *     "  - {" KEY ": " VALUE (", " KEY ": " VALUE)* "}\n"
 *     KEY   = [a-z_]+
 *     VALUE = -?[0-9]+ | [a-z_]+ | "double-quoted" | [N, N, ...] (members)
 *
 * where a quoted string holds printable ASCII, UTF-8 characters from U+00A0
 * up (not U+2028/2029/FEFF/FFFE/FFFF) and the escapes \" \\ \n \t \r \xHH
 * \uHHHH. Recognising exactly that form and decoding it directly costs a
 * fraction of a general YAML parse. Everything else stays libyaml's.
 *
 * How the two are switched (reader.c, fast_rest): never mid-stream in the
 * libyaml -> fast direction more than once, and never back. libyaml reads the
 * header and the FIRST event as always. When that event was the line
 * "  - {...}\n" at the start of a block sequence at column 2 (so that every
 * further canonical line is one more complete entry of that sequence and the
 * parser is back where it was after each), the reader PRE-SCANS the rest of
 * the file with lmr__fl_parse, reading it by offset (pread) without touching
 * the FILE libyaml reads from. Only when every remaining line is canonical
 * and the file ends with '\n' does it decode those lines here instead of
 * asking libyaml; otherwise it goes on with libyaml, whose state the pre-scan
 * did not disturb. So a file takes the fast path only when it is provable
 * what libyaml would have produced from it: one flow mapping per line, then
 * SEQUENCE_END, MAPPING_END, DOCUMENT_END, STREAM_END with no error (nothing
 * in a canonical line can be a libyaml reader, scanner or parser error, nor
 * reach the reader's depth, token, scalar, name or members limits: those
 * lines are refused here and left to libyaml). Schema errors (a missing
 * key, a bad state, a duplicate key) come from the same code on both paths,
 * reader.c's decode(), with the same positions: lines and character columns
 * are computed here as libyaml counts them (the header must hold no '\r' nor
 * raw U+0085/2028/2029, which libyaml would count as line breaks).
 *
 * The cost of that proof is a second read of the file and a second parse of
 * each line (both cheap next to libyaml; see bench/README.md). The pre-scan
 * looks at the last line first, so the usual file that fails it (a trace cut
 * off mid-line) costs one small read more than before; a trace cut
 * off by a crash, hand-edited or reformatted renders through libyaml as
 * before, with the same results and errors. fuzz/fuzz_fastpath.c checks
 * that both paths agree on every input.
 */
#include "fastline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(LMR__MAX_DEPTH >= 4, "a canonical line nests 4 deep");
_Static_assert(LMR__MAX_TOKEN >= 128u * 1024u, "fast lines fit in a token");

/* Decoded strings longer than this are left to libyaml (its limits). */
#define FL_MAX_STR                                                             \
    (LMR__MAX_NAME < LMR__MAX_SCALAR ? LMR__MAX_NAME : LMR__MAX_SCALAR)

void lmr__fl_free(lmr__fl *fl)
{
    free(fl->f);
    free(fl->buf);
    free(fl->mem);
    memset(fl, 0, sizeof *fl);
}

static int grow(void **p, size_t *cap, size_t need, size_t elt)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elt);
    if (!q)
        return LMR_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* [a-z_] by table: one load per byte in the scans below, which are most
 * of lmr__fl_parse's instructions (callgrind). */
static const bool word_char[256] = {
    ['_'] = true,
    ['a'] = true, ['b'] = true, ['c'] = true, ['d'] = true, ['e'] = true,
    ['f'] = true, ['g'] = true, ['h'] = true, ['i'] = true, ['j'] = true,
    ['k'] = true, ['l'] = true, ['m'] = true, ['n'] = true, ['o'] = true,
    ['p'] = true, ['q'] = true, ['r'] = true, ['s'] = true, ['t'] = true,
    ['u'] = true, ['v'] = true, ['w'] = true, ['x'] = true, ['y'] = true,
    ['z'] = true,
};
static bool is_word(unsigned char c) { return word_char[c]; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Appends code point cp as UTF-8 (cp is valid, not a surrogate). */
static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * The length (2..4) of the well-formed UTF-8 character at s[0..n) that the
 * writer leaves raw (U+00A0 and up, minus U+2028/2029/FEFF/FFFE/FFFF), or 0.
 */
static size_t raw_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF, v;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        unsigned d = s[i];
        if (d < lo || d > hi)
            return 0;
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (d & 0x3F);
    }
    if (v < 0xA0 || v == 0x2028 || v == 0x2029 || v == 0xFEFF || v == 0xFFFE ||
        v == 0xFFFF)
        return 0;
    return len;
}

/*
 * A double-quoted string at s[*i] (the opening quote), decoded into fl->buf.
 * *cont counts UTF-8 continuation bytes (for character columns). Returns 1,
 * 0 (not canonical) or LMR_ENOMEM.
 */
static int quoted(lmr__fl *fl, const unsigned char *s, size_t n, size_t *i,
                  size_t *cont, size_t *off, size_t *olen)
{
    size_t j = *i + 1;
    /* The decoded text is never longer than the raw one. */
    if (grow((void **)&fl->buf, &fl->bcap, fl->blen + (n - j) + 1, 1))
        return LMR_ENOMEM;
    char *o = fl->buf + fl->blen;
    size_t k = 0;
    for (;;) {
        if (j >= n)
            return 0;
        unsigned c = s[j];
        if (c == '"')
            break;
        if (c >= 0x20 && c < 0x7F && c != '\\') {
            o[k++] = (char)c;
            j++;
            continue;
        }
        if (c >= 0x80) {
            size_t w = raw_char(s + j, n - j);
            if (!w)
                return 0;
            memcpy(o + k, s + j, w);
            k += w;
            j += w;
            *cont += w - 1;
            continue;
        }
        if (c != '\\' || j + 1 >= n)
            return 0;
        unsigned e = s[j + 1];
        j += 2;
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case 'x':
        case 'u': {
            size_t nd = e == 'x' ? 2 : 4;
            if (j + nd > n)
                return 0;
            unsigned cp = 0;
            for (size_t d = 0; d < nd; d++) {
                int h = hexval(s[j + d]);
                if (h < 0)
                    return 0;
                cp = cp * 16 + (unsigned)h;
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                return 0; /* libyaml's error, not ours */
            j += nd;
            /* Never longer than the escape: \xHH (4) -> at most 2 bytes,
             * \uHHHH (6) -> at most 3. */
            k += put_utf8(o + k, cp);
            break;
        }
        default:
            return 0;
        }
    }
    if (k > FL_MAX_STR)
        return 0;
    o[k] = '\0';
    *off = fl->blen;
    *olen = k;
    fl->blen += k + 1;
    *i = j + 1;
    return 1;
}

int lmr__fl_parse(lmr__fl *fl, const char *line, size_t len)
{
    const unsigned char *s = (const unsigned char *)line;
    fl->line = line;
    fl->nf = fl->blen = fl->nmem = 0;
    if (len < 8 || len > LMR__FL_MAX_LINE || memcmp(s, "  - {", 5) != 0 ||
        s[len - 1] != '\n' || s[len - 2] != '}')
        return 0;
    size_t n = len - 1; /* without the '\n' */
    /* s[n - 1] is '}' and s[n] is '\n', neither a word character nor a
     * digit, and every scan below starts at some i <= n: the word and digit
     * scans stop at those sentinels without testing i < n for each byte. */
    size_t i = 5, cont = 0;
    for (;;) {
        if (grow((void **)&fl->f, &fl->capf, fl->nf + 1, sizeof *fl->f))
            return LMR_ENOMEM;
        lmr__fl_field *f = &fl->f[fl->nf];
        memset(f, 0, sizeof *f);
        f->key = line + i;
        f->kcol = (int)(i - cont);
        while (is_word(s[i]))
            i++;
        f->klen = (size_t)(line + i - f->key);
        /* Plain scalars, keys too, obey the reader's scalar limits: long
         * ones are libyaml's to refuse. */
        if (f->klen == 0 || f->klen > FL_MAX_STR || i + 2 >= n ||
            s[i] != ':' || s[i + 1] != ' ')
            return 0;
        i += 2;
        f->vcol = (int)(i - cont);
        if (s[i] == '"') {
            f->vkind = LMR__FL_QUOTED;
            int rc = quoted(fl, s, n, &i, &cont, &f->voff, &f->vlen);
            if (rc != 1)
                return rc;
        } else if (s[i] == '[') {
            /* Only `members` holds a list (of task ids). */
            if (f->klen != 7 || memcmp(f->key, "members", 7) != 0)
                return 0;
            f->vkind = LMR__FL_SEQ;
            f->moff = fl->nmem;
            i++;
            if (s[i] != ']') {
                for (;;) {
                    size_t d0 = i;
                    uint64_t v = 0;
                    while (is_digit(s[i])) {
                        unsigned dd = (unsigned)(s[i] - '0');
                        if (v > (UINT64_MAX - dd) / 10)
                            return 0;
                        v = v * 10 + dd;
                        i++;
                    }
                    if (i == d0 || i >= n)
                        return 0;
                    if (f->nmem >= LMR__MAX_MEMBERS)
                        return 0;
                    if (grow((void **)&fl->mem, &fl->capmem, fl->nmem + 1,
                             sizeof *fl->mem))
                        return LMR_ENOMEM;
                    fl->mem[fl->nmem++] = v;
                    f->nmem++;
                    if (s[i] == ']')
                        break;
                    if (s[i] != ',' || i + 1 >= n || s[i + 1] != ' ')
                        return 0;
                    i += 2;
                }
            }
            i++; /* the ']' */
        } else {
            size_t v0 = i;
            if (s[i] == '-' || is_digit(s[i])) {
                i += s[i] == '-';
                size_t d0 = i;
                while (is_digit(s[i]))
                    i++;
                if (i == d0)
                    return 0;
            } else {
                while (is_word(s[i]))
                    i++;
                if (i == v0)
                    return 0;
            }
            if (i - v0 > FL_MAX_STR)
                return 0;
            f->vkind = LMR__FL_PLAIN;
            f->voff = v0;
            f->vlen = i - v0;
        }
        fl->nf++;
        if (i == n - 1 && s[i] == '}')
            return 1;
        if (i + 1 >= n || s[i] != ',' || s[i + 1] != ' ')
            return 0;
        i += 2;
    }
}

/* ------------------------------------------------------------------------ */
/* Reading by offset                                                        */
/* ------------------------------------------------------------------------ */

#define FL_CHUNK (1u << 20)

int lmr__fl_src_open(lmr__fl_src *s, int fd, off_t base, uint64_t pos)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->base = base;
    s->pos = pos;
    /* Small files get a small buffer; it grows to FL_CHUNK, and beyond only
     * for a line longer than what it holds. */
    struct stat st;
    uint64_t left = fstat(fd, &st) == 0 && st.st_size > base + (off_t)pos
                        ? (uint64_t)(st.st_size - base) - pos
                        : 0;
    s->cap = left + 1 < FL_CHUNK ? (size_t)left + 1 : FL_CHUNK;
    if (s->cap < 4096)
        s->cap = 4096;
    s->buf = malloc(s->cap);
    return s->buf ? 0 : LMR_ENOMEM;
}

void lmr__fl_src_close(lmr__fl_src *s)
{
    free(s->buf);
    s->buf = NULL;
}

int lmr__fl_src_line(lmr__fl_src *s, const char **line, size_t *len)
{
    for (;;) {
        char *nl = s->hi > s->lo ? memchr(s->buf + s->lo, '\n', s->hi - s->lo)
                                 : NULL;
        size_t have = s->hi - s->lo;
        if (nl) {
            size_t n = (size_t)(nl - (s->buf + s->lo)) + 1;
            *line = s->buf + s->lo;
            *len = n;
            s->lo += n;
            s->pos += n;
            return n > LMR__FL_MAX_LINE ? 2 : 1;
        }
        if (have > LMR__FL_MAX_LINE || s->eof) {
            *line = s->buf + s->lo;
            *len = have;
            return have ? 2 : 0;
        }
        /* Keep the partial line, read on after it. */
        memmove(s->buf, s->buf + s->lo, have);
        s->lo = 0;
        s->hi = have;
        if (s->hi == s->cap) {
            char *b = realloc(s->buf, s->cap * 2);
            if (!b)
                return LMR_ENOMEM;
            s->buf = b;
            s->cap *= 2;
        }
        size_t want = s->cap - s->hi;
        ssize_t got;
        do
            got = pread(s->fd, s->buf + s->hi, want,
                        s->base + (off_t)(s->pos + have));
        while (got < 0 && errno == EINTR);
        if (got < 0)
            return LMR_EIO;
        if (got == 0)
            s->eof = true;
        s->hi += (size_t)got;
    }
}

/* ------------------------------------------------------------------------ */
/* The proof that the rest of a file is ours                                */
/* ------------------------------------------------------------------------ */

/* Whether s[0..n) holds no byte sequence libyaml counts as a line break
 * besides '\n' ('\r', U+0085, U+2028, U+2029): then its lines are ours. */
static bool only_lf_breaks(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        if (u[i] == '\r')
            return false;
        if (u[i] == 0xC2 && i + 1 < n && u[i + 1] == 0x85)
            return false;
        if (u[i] == 0xE2 && i + 2 < n && u[i + 1] == 0x80 &&
            (u[i + 2] == 0xA8 || u[i + 2] == 0xA9))
            return false;
    }
    return true;
}

/* Characters (as libyaml counts columns) in s[0..n) of valid UTF-8. */
static size_t nchars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/*
 * A quick look at the end before the full pre-scan: a trace cut off by a
 * crash (the usual file that is not all canonical) fails here at the cost of
 * one small read, instead of after reading the whole file. Returns false only
 * when the last line is certainly not canonical.
 */
static bool last_line_ok(int fd, off_t base, uint64_t from,
                         const struct stat *st, lmr__fl *fl)
{
    enum { TAIL = 64 * 1024 };
    char buf[TAIL];
    if (st->st_size <= base || (uint64_t)(st->st_size - base) <= from)
        return true; /* nothing after the first event (or it shrank) */
    uint64_t size = (uint64_t)(st->st_size - base);
    size_t n = size - from < TAIL ? (size_t)(size - from) : TAIL;
    ssize_t got;
    do
        got = pread(fd, buf, n, base + (off_t)(size - n));
    while (got < 0 && errno == EINTR);
    if (got != (ssize_t)n)
        return true; /* the full pre-scan will tell */
    if (buf[n - 1] != '\n')
        return false; /* a last line without its newline */
    const char *nl = n > 1 ? memrchr(buf, '\n', n - 1) : NULL;
    if (!nl) /* the last line starts before buf, or right at from */
        return n < TAIL ? lmr__fl_parse(fl, buf, n) == 1 : true;
    size_t start = (size_t)(nl - buf) + 1;
    return lmr__fl_parse(fl, buf + start, n - start) == 1;
}

int lmr__fl_prove(int fd, off_t base, uint64_t line0, uint64_t endcol,
                  uint64_t *first, uint64_t *nlines)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    lmr__fl_src src;
    lmr__fl fl = {0};
    const char *ln;
    size_t len;
    int rc = 0;
    if (lmr__fl_src_open(&src, fd, base, 0) != 0)
        goto out;
    /* The lines before the first event: '\n' must be their only breaks, so
     * that our line numbers are libyaml's. */
    for (uint64_t l = 0; l < line0; l++)
        if (lmr__fl_src_line(&src, &ln, &len) != 1 || !only_lf_breaks(ln, len))
            goto out;
    /* The first event's line: canonical, and libyaml's mapping ended at its
     * closing brace (so after it the parser awaits the next "  - "). */
    if (lmr__fl_src_line(&src, &ln, &len) != 1 ||
        lmr__fl_parse(&fl, ln, len) != 1 || endcol != nchars(ln, len - 1))
        goto out;
    *first = src.pos;
    *nlines = 0;
    if (!last_line_ok(fd, base, src.pos, &st, &fl))
        goto out;
    /* Every line from here to the end must be canonical. */
    for (;;) {
        int k = lmr__fl_src_line(&src, &ln, &len);
        if (k == 0)
            break;
        if (k != 1 || lmr__fl_parse(&fl, ln, len) != 1)
            goto out;
        ++*nlines;
    }
    rc = 1;
out:
    lmr__fl_src_close(&src);
    lmr__fl_free(&fl);
    return rc;
}
