/*
 * fuzz_escape.c: libFuzzer target for the one Mermaid escaper
 * (render/escape.c: lmr__esc_label, lmr__esc_gantt), checked by property.
 *
 * Input layout: byte 0 picks max_cp (0 = the hard cap, else 1..255), the
 * rest is the text (cut at the first NUL, as a C string would be).
 *
 * The properties (docs/MERMAID.md; the same ones tests/test_escape.c checks
 * on a fixed random sample):
 *  - the output is non-empty and made only of [A-Za-z0-9 #;];
 *  - every '#' starts an entity "#DIGITS;" and every ';' ends one, so
 *    nothing can end a label, a message or a statement early;
 *  - no "%%" (comments and directives), no '<' (HTML), no '"' or ':';
 *  - the word "direction" never appears in any case;
 *  - no blank at either end; at most max_cp code points shown (an entity is
 *    one), max_cp clamped to [2, LMR__LABEL_HARD_MAX];
 *  - gantt text starts with an entity (a gantt task line cannot start with
 *    a keyword such as `section`).
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

static void check(const char *in, const char *out, size_t max_cp, bool gantt)
{
    if (!*out)
        fail("empty output", in, out);
    for (const char *p = out; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != ' ' && *p != '#' && *p != ';')
            fail("character outside [A-Za-z0-9 #;]", in, out);
    size_t shown = 0;
    for (const char *p = out; *p; shown++) {
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
    if (gantt && out[0] != '#')
        fail("gantt text does not start with an entity", in, out);
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
    for (int g = 0; g < 2; g++) {
        lmr_buf b = {0};
        lmr__out o = {.buf = &b, .max_chars = (size_t)1 << 40};
        if (g)
            lmr__esc_gantt(&o, in, max_cp);
        else
            lmr__esc_label(&o, in, max_cp);
        if (o.err)
            fail("lmr__out error", in, "");
        check(in, b.data ? b.data : "", max_cp, g);
        lmr_buf_free(&b);
    }
    free(in);
    return 0;
}
