/*
 * escape.c: the only place where text becomes Mermaid text.
 *
 * Every label of every diagram type goes through one encoder
 * (../shared/MERMAID.md, "Labels"). Characters that some Mermaid context
 * would read as syntax are written as decimal entity codes #N; (Mermaid
 * swaps entity codes for placeholders before any lexer runs and restores
 * them only in the final SVG, so an entity can never become syntax, a
 * comment, a directive or HTML); everything else is written as itself, so
 * that the Mermaid source stays readable in a Markdown diff (`GET /login?`
 * reads as that, not as `GET #47;login#63;`).
 *
 * Which characters are safe raw where was decided by rendering every
 * printable ASCII character, runs of it and hostile words (arrows, `end`,
 * `wrap:`, `$$x$$`, `@{ shape }`, markdown markers, `[[join]]`...) in each
 * context in Mermaid 10.9, 11 and 12 and comparing the SVG's text with the
 * input (tests/conformance/escape-probe.mjs). The result, per context:
 *  - always encoded: `" # ; % < > & ` $ \ @` (quote ends labels, # starts
 *    comments, ; ends statements, %% starts comments and directives, < > &
 *    are HTML, the backtick starts markdown strings, $$ starts KaTeX math,
 *    @{ starts v11 shape syntax, \ is eaten by the state lexer);
 *  - LMR__ESC_ANY (lmr__esc_label: safe in every context but gantt, used by
 *    the state view's quoted names, transition labels and notes): also `:`
 *    (ends a state label), `*`, `[` `]` (`[[join]]` changes a state's
 *    type), `_` unless between letters or digits (markdown emphasis in
 *    v11+ state labels), and a leading `-`/`+` or the `.`/`)` after a
 *    leading number (markdown lists);
 *  - LMR__ESC_QUOTED (flowchart "..." node, subgraph and edge labels, via
 *    lmr__node): nothing more;
 *  - LMR__ESC_SEQ (sequence participants, messages, notes, block labels):
 *    the `:` of a leading `wrap:`/`nowrap:` (Mermaid reads it as a wrap
 *    directive);
 *  - LMR__ESC_GANTT (task text and section names): `:` (task text ends
 *    there) and always the first character (a keyword or a date at the
 *    start of a task line changes its meaning).
 * In every context:
 *  - non-ASCII text is written as UTF-8, except blanks that look like a
 *    space (no-break, em, ideographic...), written as entities;
 *  - the word "direction" (any case) is broken by encoding its first letter,
 *    because the flowchart and state lexers swallow a line that matches
 *    `.*direction\s+(TB|BT|RL|LR|TD)`;
 *  - an empty (or all-blank) label becomes #160;, as empty labels are parse
 *    errors in several places;
 *  - labels are cut at max_cp code points, the cut shown as an ellipsis;
 *  - runs of blanks collapse to one space and the ends are trimmed, so the
 *    text Mermaid trims anyway does not cost budget; invalid UTF-8 becomes
 *    U+FFFD, controls and bidirectional overrides are dropped.
 * Titles have their own rule (lmr__begin_diagram): a front-matter title is
 * not entity-decoded by Mermaid, so it is written raw as a YAML string.
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

/* Blanks other than the space that Mermaid would show (or trim) as a space:
 * written as entities so the source shows what they are. */
static bool cp_space_like(uint32_t cp)
{
    return cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200F) ||
           (cp >= 0x202F && cp <= 0x202F) || (cp >= 0x205F && cp <= 0x2064) ||
           cp == 0x3000;
}

static bool cp_alnum(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
           (cp >= '0' && cp <= '9') || cp > 0x7F;
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

/* Do cps[0..n) start with the ASCII word w (any case)? */
static bool starts_with(const uint32_t *cps, size_t n, const char *w)
{
    size_t k = 0;
    for (; w[k]; k++)
        if (k >= n || cps[k] > 0x7F || lower(cps[k]) != w[k])
            return false;
    return true;
}

/* Must cps[i] be written as an entity in context ctx? */
static bool must_encode(const uint32_t *cps, size_t n, size_t i, int ctx)
{
    uint32_t cp = cps[i];
    if (at_direction(cps, n, i))
        return true;
    if (ctx == LMR__ESC_GANTT && i == 0)
        return true;
    if (cp > 0x7F)
        return cp_space_like(cp);
    if (cp_alnum(cp) || cp == ' ')
        return false;
    if (strchr("\"#;%<>&`$\\@", (int)cp))
        return true;
    switch (ctx) {
    case LMR__ESC_ANY:
        if (strchr(":*[]", (int)cp))
            return true;
        if (cp == '_')
            return !(i > 0 && cp_alnum(cps[i - 1]) && i + 1 < n &&
                     cp_alnum(cps[i + 1]));
        if (i == 0 && (cp == '-' || cp == '+'))
            return true;
        if (cp == '.' || cp == ')') {
            size_t k = 0;
            while (k < i && cps[k] >= '0' && cps[k] <= '9')
                k++;
            return k == i && i > 0;
        }
        return false;
    case LMR__ESC_SEQ:
        return cp == ':' && ((i == 4 && starts_with(cps, n, "wrap")) ||
                             (i == 6 && starts_with(cps, n, "nowrap")));
    case LMR__ESC_GANTT:
        return cp == ':';
    default:
        return false;
    }
}

static void put_entity(lmr__out *o, uint32_t cp)
{
    char e[16];
    int k = snprintf(e, sizeof e, "#%" PRIu32 ";", cp);
    lmr__outn(o, e, (size_t)k);
}

/*
 * Cleans s into at most `cap` code points of cps (blank runs collapsed,
 * ends trimmed, controls dropped, a cut shown as an ellipsis); returns how
 * many. cps holds LMR__LABEL_HARD_MAX + 1. Cost: O(len of s).
 */
static size_t clean(const char *s, size_t max_cp, uint32_t *cps)
{
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
    return n;
}

/* Appends cp as UTF-8 at b[k]; returns the new k. */
static size_t put_utf8(char *b, size_t k, uint32_t cp)
{
    if (cp < 0x80) {
        b[k++] = (char)cp;
    } else if (cp < 0x800) {
        b[k++] = (char)(0xC0 | (cp >> 6));
        b[k++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        b[k++] = (char)(0xE0 | (cp >> 12));
        b[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[k++] = (char)(0x80 | (cp & 0x3F));
    } else {
        b[k++] = (char)(0xF0 | (cp >> 18));
        b[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[k++] = (char)(0x80 | (cp & 0x3F));
    }
    return k;
}

/* The shared encoder: cleans s, then writes each code point raw or as an
 * entity as context ctx requires. The text lives on the stack. */
static void esc(lmr__out *o, const char *s, size_t max_cp, int ctx)
{
    uint32_t cps[LMR__LABEL_HARD_MAX + 1];
    size_t n = clean(s, max_cp, cps);
    if (n == 0) {
        put_entity(o, CP_NBSP);
        return;
    }
    /* Worst case 10 bytes per code point ("#1114111;"); written once. */
    char outb[(LMR__LABEL_HARD_MAX + 1) * 10 + 1];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = cps[i];
        if (must_encode(cps, n, i, ctx)) {
            k += (size_t)snprintf(outb + k, sizeof outb - k, "#%" PRIu32 ";",
                                  cp);
        } else {
            k = put_utf8(outb, k, cp);
        }
    }
    lmr__outn(o, outb, k);
}

void lmr__esc(lmr__out *o, const char *s, size_t max_cp, lmr__esc_ctx ctx)
{
    esc(o, s, max_cp, (int)ctx);
}

void lmr__esc_label(lmr__out *o, const char *s, size_t max_cp)
{
    esc(o, s, max_cp, LMR__ESC_ANY);
}

void lmr__esc_gantt(lmr__out *o, const char *s, size_t max_cp)
{
    esc(o, s, max_cp, LMR__ESC_GANTT);
}

void lmr__esc_seq(lmr__out *o, const char *s, size_t max_cp)
{
    esc(o, s, max_cp, LMR__ESC_SEQ);
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
            /* Mermaid does not decode entity codes in a front-matter title,
             * so the title is written as itself, as a YAML double-quoted
             * scalar: `"` and `\\` are escaped for YAML, `%` as \\x25 (the
             * %%{ directive regex reads the raw text, YAML decodes it
             * after), and `<` is shown as U+2039 (Mermaid sanitises the
             * title as HTML: a `<` would show as "&lt;" or open a tag).
             * Line breaks cannot occur: the cleaner made them spaces. */
            uint32_t cps[LMR__LABEL_HARD_MAX + 1];
            size_t n = clean(title, 120, cps);
            char tb[(LMR__LABEL_HARD_MAX + 1) * 4 + 1];
            lmr__puts(o, "title: \"");
            for (size_t i = 0; i < n; i++) {
                size_t k = 0;
                if (cps[i] == '"' || cps[i] == '\\') {
                    tb[k++] = '\\';
                    tb[k++] = (char)cps[i];
                } else if (cps[i] == '%') {
                    memcpy(tb, "\\x25", 4);
                    k = 4;
                } else {
                    k = put_utf8(tb, 0, cps[i] == '<' ? 0x2039u : cps[i]);
                }
                lmr__outn(o, tb, k);
            }
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
        esc(o, parts[i], max_cp, LMR__ESC_QUOTED);
    }
    lmr__printf(o, "\"%s\n", close);
}
