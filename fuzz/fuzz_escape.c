/*
 * fuzz_escape.c: libFuzzer target for the one Mermaid escaper
 * (render/escape.c: lmr__esc in its four contexts), checked by property.
 *
 * Input layout: byte 0 picks max_cp (0 = the hard cap, else 1..255), the
 * rest is the text (cut at the first NUL, as a C string would be).
 *
 * The properties (/work/shared/MERMAID.md; the same ones tests/test_escape.c
 * checks on a fixed random sample), in every context:
 *  - the output is non-empty valid UTF-8 without control characters;
 *  - every '#' starts an entity "#DIGITS;" and every ';' ends one, so
 *    nothing can end a label, a message or a statement early;
 *  - no raw '"' '%' '<' '>' '&' '`' '$' '\\' '@' (quotes, comments and
 *    directives, HTML, markdown strings, KaTeX, v11 shapes);
 *  - the word "direction" never appears in any case;
 *  - no blank at either end; at most max_cp code points shown (an entity or
 *    a UTF-8 sequence is one), max_cp clamped to [2, LMR__LABEL_HARD_MAX];
 * and per context: no raw ':' '*' '[' ']' and no leading '-'/'+' in
 * LMR__ESC_ANY (state labels); no raw ':' and an encoded first character in
 * LMR__ESC_GANTT; no leading "wrap:"/"nowrap:" in LMR__ESC_SEQ.
 * The escaper must also stay inside its budget: an unlimited lmr__out never
 * reports an error.
 */
#include "lmr_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* tests/test_fuzz.c includes this file with LM_FUZZ_ENTRY renamed, to replay
 * the corpus and every saved crash in the ordinary suite. */
#ifndef LM_FUZZ_ENTRY
#define LM_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int LM_FUZZ_ENTRY(const uint8_t *data, size_t size);

static void fail(const char *why, const char *in, const char *out)
{
    fprintf(stderr, "escaper property violated: %s\n  in:  [%s]\n  out: [%s]\n",
            why, in, out);
    abort();
}

static bool utf8_ok(const unsigned char *p)
{
    while (*p) {
        size_t len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2
                   : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0)
            return false;
        for (size_t i = 1; i < len; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += len;
    }
    return true;
}

static void check(const char *in, const char *out, size_t max_cp,
                  lmr__esc_ctx ctx)
{
    if (!*out)
        fail("empty output", in, out);
    if (!utf8_ok((const unsigned char *)out))
        fail("invalid UTF-8", in, out);
    size_t shown = 0;
    for (const char *p = out; *p; shown++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7F)
            fail("control character", in, out);
        if (strchr("\"%<>&`$\\@", ch))
            fail("raw syntax character", in, out);
        if ((ctx == LMR__ESC_ANY || ctx == LMR__ESC_GANTT) && ch == ':')
            fail("raw ':'", in, out);
        if (ctx == LMR__ESC_ANY && strchr("*[]", ch))
            fail("raw markdown or [[ ]] in a state label", in, out);
        if (*p == '#') {
            const char *q = p + 1;
            while (isdigit((unsigned char)*q))
                q++;
            if (q == p + 1 || *q != ';')
                fail("'#' that does not start an entity", in, out);
            p = q + 1;
        } else if (*p == ';') {
            fail("';' outside an entity", in, out);
        } else {
            p++;
            while ((*p & 0xC0) == 0x80)
                p++;
        }
    }
    if (strcasestr(out, "direction"))
        fail("the word direction", in, out);
    if (out[0] == ' ' || out[strlen(out) - 1] == ' ')
        fail("blank at an end", in, out);
    size_t cap = (max_cp == 0 || max_cp > LMR__LABEL_HARD_MAX)
                     ? LMR__LABEL_HARD_MAX
                     : (max_cp < 2 ? 2 : max_cp);
    if (shown > cap)
        fail("longer than max_cp", in, out);
    if (ctx == LMR__ESC_ANY && (out[0] == '-' || out[0] == '+'))
        fail("list marker at the start of a state label", in, out);
    if (ctx == LMR__ESC_GANTT && out[0] != '#')
        fail("gantt text does not start with an entity", in, out);
    if (ctx == LMR__ESC_SEQ &&
        (!strncasecmp(out, "wrap:", 5) || !strncasecmp(out, "nowrap:", 7)))
        fail("sequence text starts with a wrap directive", in, out);
}

int LM_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t max_cp = data[0];
    char *in = malloc(size);
    if (!in)
        return 0;
    memcpy(in, data + 1, size - 1);
    in[size - 1] = '\0';
    for (int g = LMR__ESC_ANY; g <= LMR__ESC_GANTT; g++) {
        lmr_buf b = {0};
        lmr__out o = {.buf = &b, .max_chars = (size_t)1 << 40};
        lmr__esc(&o, in, max_cp, (lmr__esc_ctx)g);
        if (o.err)
            fail("lmr__out error", in, "");
        check(in, b.data ? b.data : "", max_cp, (lmr__esc_ctx)g);
        lmr_buf_free(&b);
    }
    free(in);
    return 0;
}
