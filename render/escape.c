/*
 * escape.c: the only place where text becomes Mermaid text.
 *
 * Every label of every diagram type goes through one encoder
 * (../shared/MERMAID.md, "Labels"): [A-Za-z0-9 ] pass through, every other
 * code point is written as a decimal entity #N;. Mermaid swaps entity codes
 * for placeholders before any lexer runs and restores them only in the final
 * SVG, so an entity can never become syntax, a comment, a directive or HTML.
 * The output alphabet is therefore [A-Za-z0-9 #;] and nothing else, which is
 * what the property tests check. On top of that:
 *  - the word "direction" (any case) is broken by encoding its first letter,
 *    because the flowchart and state lexers swallow a line that matches
 *    `.*direction\s+(TB|BT|RL|LR|TD)`;
 *  - an empty (or all-blank) label becomes #160;, as empty labels are parse
 *    errors in several places;
 *  - labels are cut at max_cp code points, the cut shown as an ellipsis;
 *  - runs of blanks collapse to one space and the ends are trimmed, so the
 *    text Mermaid trims anyway does not cost budget.
 * Ids are generated here too, never derived from names.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CP_ELLIPSIS 0x2026u
#define CP_NBSP 0xA0u
#define CP_REPLACEMENT 0xFFFDu

/*
 * Decodes one UTF-8 code point at s (n bytes left). Returns the number of
 * bytes used (>= 1) and sets *cp; an invalid or truncated sequence, an
 * overlong form or a surrogate consumes one byte and yields U+FFFD.
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2; v = c & 0x1F; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; v = c & 0x0F; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; v = c & 0x07; min = 0x10000;
    } else {
        *cp = CP_REPLACEMENT;
        return 1;
    }
    if (n < len) {
        *cp = CP_REPLACEMENT;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = CP_REPLACEMENT;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = CP_REPLACEMENT;
        return 1;
    }
    *cp = v;
    return len;
}

/* Characters that are dropped: controls and the bidirectional overrides,
 * which could make a label display as something else than it says. */
static bool cp_dropped(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0xFEFF;
}

static bool cp_blank(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
           cp == 0x2028 || cp == 0x2029;
}

static bool cp_plain(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
           (cp >= '0' && cp <= '9') || cp == ' ';
}

static int lower(uint32_t cp)
{
    return (cp >= 'A' && cp <= 'Z') ? (int)(cp - 'A' + 'a') : (int)cp;
}

/* Does the word "direction" start at cps[i]? */
static bool at_direction(const uint32_t *cps, size_t n, size_t i)
{
    static const char w[] = "direction";
    if (n - i < sizeof w - 1)
        return false;
    for (size_t k = 0; k < sizeof w - 1; k++)
        if (cps[i + k] > 0x7F || lower(cps[i + k]) != w[k])
            return false;
    return true;
}

static void put_entity(lmr__out *o, uint32_t cp)
{
    char e[16];
    int k = snprintf(e, sizeof e, "#%" PRIu32 ";", cp);
    lmr__outn(o, e, (size_t)k);
}

/*
 * The shared encoder. Cleans s into at most `cap` code points (blank runs
 * collapsed, ends trimmed, controls dropped), then writes them. Cost: O(len
 * of s) time; the cleaned text lives on the stack (LMR__LABEL_HARD_MAX + 1).
 */
static void esc(lmr__out *o, const char *s, size_t max_cp, bool first_enc)
{
    uint32_t cps[LMR__LABEL_HARD_MAX + 1];
    size_t cap = (max_cp == 0 || max_cp > LMR__LABEL_HARD_MAX)
                     ? LMR__LABEL_HARD_MAX : max_cp;
    if (cap < 2)
        cap = 2; /* room for one character and the ellipsis */
    size_t n = 0;
    bool cut = false, pending_blank = false;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t left = strlen((const char *)p);
    while (left > 0) {
        uint32_t cp;
        size_t used = utf8_next(p, left, &cp);
        p += used;
        left -= used;
        if (cp_blank(cp)) {
            pending_blank = n > 0;
            continue;
        }
        if (cp_dropped(cp))
            continue;
        size_t need = pending_blank ? 2 : 1;
        if (n + need > cap) {
            cut = true;
            break;
        }
        if (pending_blank)
            cps[n++] = ' ';
        pending_blank = false;
        cps[n++] = cp;
    }
    if (cut) {
        /* Keep cap - 1 code points and show the cut. */
        while (n > cap - 1)
            n--;
        while (n > 0 && cps[n - 1] == ' ')
            n--;
        cps[n++] = CP_ELLIPSIS;
    }
    if (n == 0) {
        put_entity(o, CP_NBSP);
        return;
    }
    /* Worst case 10 bytes per code point ("#1114111;"); written once. */
    char outb[(LMR__LABEL_HARD_MAX + 1) * 10 + 1];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = cps[i];
        if (cp_plain(cp) && !(first_enc && i == 0) && !at_direction(cps, n, i))
            outb[k++] = (char)cp;
        else
            k += (size_t)snprintf(outb + k, sizeof outb - k, "#%" PRIu32 ";",
                                  cp);
    }
    lmr__outn(o, outb, k);
}

void lmr__esc_label(lmr__out *o, const char *s, size_t max_cp)
{
    esc(o, s, max_cp, false);
}

void lmr__esc_gantt(lmr__out *o, const char *s, size_t max_cp)
{
    esc(o, s, max_cp, true);
}

void lmr__id(lmr__out *o, const char *prefix, uint64_t n)
{
    /* Only our fixed, lowercase, keyword-free prefixes are used; a prefix
     * with anything else would be a programming error, so fall back to "x". */
    const char *p = prefix;
    for (const char *q = prefix; *q; q++)
        if (*q < 'a' || *q > 'z')
            p = "x";
    if (!*p || strlen(p) > 4)
        p = "x";
    lmr__printf(o, "%s%" PRIu64, p, n);
}

void lmr__begin_diagram(lmr__out *o, const char *title, const char *config,
                        const char *keyword)
{
    if ((title && *title) || config) {
        lmr__puts(o, "---\n");
        if (title && *title) {
            /* A YAML double-quoted scalar holding only [A-Za-z0-9 #;]: no
             * quote, backslash or line break can end it early. */
            lmr__puts(o, "title: \"");
            lmr__esc_label(o, title, 120);
            lmr__puts(o, "\"\n");
        }
        if (config)
            lmr__puts(o, config);
        lmr__puts(o, "---\n");
    }
    lmr__puts(o, keyword);
    lmr__puts(o, "\n");
}

void lmr__node(lmr__out *o, const char *id, const char *open, const char *close,
               const char *const *parts, size_t max_cp)
{
    lmr__printf(o, "    %s%s\"", id, open);
    for (size_t i = 0; parts[i]; i++) {
        if (i)
            lmr__puts(o, "<br/>");
        lmr__esc_label(o, parts[i], max_cp);
    }
    lmr__printf(o, "\"%s\n", close);
}
