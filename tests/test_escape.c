/*
 * test_escape.c: the Mermaid escaper, the output budget and the state
 * vocabularies (render/escape.c, out.c, vocab.c). Unit cases pin the exact
 * encoding; property cases throw thousands of random and hostile strings
 * at it and check the invariants every diagram type relies on.
 */
#include <criterion/criterion.h>

#include "lmr_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Escapes s for ctx into a fresh string (caller frees). */
static char *esc_ctx(const char *s, size_t max_cp, lmr__esc_ctx ctx)
{
    lmr_buf b = {0};
    lmr__out o = {.buf = &b, .max_chars = 1000000};
    lmr__esc(&o, s, max_cp, ctx);
    cr_assert_eq(o.err, 0);
    char *r = strdup(b.data ? b.data : "");
    lmr_buf_free(&b);
    return r;
}

/* The named entry points (what the views call) are the contexts. */
static char *esc(const char *s, size_t max_cp, bool gantt)
{
    lmr_buf b = {0};
    lmr__out o = {.buf = &b, .max_chars = 1000000};
    if (gantt)
        lmr__esc_gantt(&o, s, max_cp);
    else
        lmr__esc_label(&o, s, max_cp);
    cr_assert_eq(o.err, 0);
    char *r = strdup(b.data ? b.data : "");
    lmr_buf_free(&b);
    return r;
}

#define EXPECT_CTX(ctx, in, max, out)                                          \
    do {                                                                       \
        char *got_ = esc_ctx(in, max, ctx);                                    \
        cr_expect_str_eq(got_, out, "escaping [%s] in context %d", in,        \
                         (int)(ctx));                                          \
        free(got_);                                                            \
    } while (0)
#define EXPECT(in, max, out) EXPECT_CTX(LMR__ESC_ANY, in, max, out)

static const lmr__esc_ctx all_ctx[] = {LMR__ESC_ANY, LMR__ESC_QUOTED,
                                       LMR__ESC_SEQ, LMR__ESC_GANTT};

Test(escape, plain_text_passes)
{
    EXPECT("Task A 42", 0, "Task A 42");
}

/* issue 14: the source stays readable; only syntax is encoded. */
Test(escape, punctuation_stays_readable)
{
    for (size_t i = 0; i < 3; i++) {
        EXPECT_CTX(all_ctx[i], "GET /login?", 0, "GET /login?");
        EXPECT_CTX(all_ctx[i], "wait_for(Slow Task), a.b!", 0,
                   "wait_for(Slow Task), a.b!");
        EXPECT_CTX(all_ctx[i], "x = y + 1 ~ 'q' ^ {z} | w", 0,
                   "x = y + 1 ~ 'q' ^ {z} | w");
    }
    EXPECT_CTX(LMR__ESC_SEQ, "finally: cleanup (close)", 0,
               "finally: cleanup (close)");
    EXPECT_CTX(LMR__ESC_QUOTED, "https://x.y/z [a] *b*", 0,
               "https://x.y/z [a] *b*");
    EXPECT_CTX(LMR__ESC_SEQ, "A->>B: hi -- end", 0, "A-#62;#62;B: hi -- end");
    EXPECT_CTX(LMR__ESC_GANTT, "fetch (user) /x", 0, "#102;etch (user) /x");
}

Test(escape, syntax_characters_become_entities)
{
    for (size_t i = 0; i < 4; i++) {
        EXPECT_CTX(all_ctx[i], "a;b", 0, i == 3 ? "#97;#59;b" : "a#59;b");
        EXPECT_CTX(all_ctx[i], "x#", 0, i == 3 ? "#120;#35;" : "x#35;");
        EXPECT_CTX(all_ctx[i], "x\"y\"", 0,
                   i == 3 ? "#120;#34;y#34;" : "x#34;y#34;");
        EXPECT_CTX(all_ctx[i], "x%%{init}%%", 0,
                   i == 3 ? "#120;#37;#37;{init}#37;#37;"
                          : "x#37;#37;{init}#37;#37;");
        EXPECT_CTX(all_ctx[i], "x<b>&`$$\\@{", 0,
                   i == 3 ? "#120;#60;b#62;#38;#96;#36;#36;#92;#64;{"
                          : "x#60;b#62;#38;#96;#36;#36;#92;#64;{");
    }
    EXPECT("a:b", 0, "a#58;b");
    EXPECT_CTX(LMR__ESC_GANTT, "a:b", 0, "#97;#58;b");
    EXPECT_CTX(LMR__ESC_SEQ, "a:b", 0, "a:b");
    EXPECT_CTX(LMR__ESC_QUOTED, "a:b", 0, "a:b");
}

/* State labels (LMR__ESC_ANY) are markdown in Mermaid 11+. */
Test(escape, markdown_markers_in_state_labels)
{
    EXPECT("-->", 0, "#45;-#62;");
    EXPECT("+ x", 0, "#43; x");
    EXPECT("1. item", 0, "1#46; item");
    EXPECT("12) item", 0, "12#41; item");
    EXPECT("v1.2", 0, "v1.2");
    EXPECT("_x_ __u__", 0, "#95;x#95; #95;#95;u#95;#95;");
    EXPECT("wait_for create_task", 0, "wait_for create_task");
    EXPECT("a*b*c [[join]]", 0, "a#42;b#42;c #91;#91;join#93;#93;");
    EXPECT_CTX(LMR__ESC_SEQ, "- item _x_ *b*", 0, "- item _x_ *b*");
}

Test(escape, sequence_wrap_prefix_is_broken)
{
    EXPECT_CTX(LMR__ESC_SEQ, "wrap: x", 0, "wrap#58; x");
    EXPECT_CTX(LMR__ESC_SEQ, "NoWrap:y", 0, "NoWrap#58;y");
    EXPECT_CTX(LMR__ESC_SEQ, "x wrap: y", 0, "x wrap: y");
}

Test(escape, non_ascii_is_written_as_itself)
{
    EXPECT("\xC3\xA9", 0, "\xC3\xA9");               /* é */
    EXPECT("\xF0\x9F\x98\x80 \xE4\xB8\xAD", 0, "\xF0\x9F\x98\x80 \xE4\xB8\xAD");
    EXPECT("a\xC2\xA0" "b", 0, "a#160;b");           /* no-break space */
    EXPECT("a\xE3\x80\x80" "b", 0, "a#12288;b");     /* ideographic space */
}

Test(escape, invalid_utf8_is_replaced)
{
    EXPECT("a\xFF" "b", 0, "a\xEF\xBF\xBD" "b");
    EXPECT("\xC3", 0, "\xEF\xBF\xBD");                /* truncated */
    EXPECT("\xED\xA0\x80", 0, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT("\xC0\xAF", 0, "\xEF\xBF\xBD\xEF\xBF\xBD"); /* overlong */
}

Test(escape, controls_dropped_and_blanks_collapsed)
{
    EXPECT("a\nb\r\n\tc", 0, "a b c");
    EXPECT("  lead  and   trail  ", 0, "lead and trail");
    EXPECT("x\x01\x7F" "y", 0, "xy");
    EXPECT("\xE2\x80\xAE" "bidi", 0, "bidi");     /* U+202E dropped */
}

Test(escape, empty_becomes_nbsp)
{
    EXPECT("", 0, "#160;");
    EXPECT("   \n\t", 0, "#160;");
    EXPECT("\x01", 0, "#160;");
    char *g = esc(NULL, 0, false);
    cr_expect_str_eq(g, "#160;");
    free(g);
}

Test(escape, direction_is_broken)
{
    for (size_t i = 0; i < 4; i++) {
        EXPECT_CTX(all_ctx[i], "x direction LR", 0, i == 3 ? "#120; #100;irection LR" : "x #100;irection LR");
        EXPECT_CTX(all_ctx[i], "x DIRECTION TB", 0, i == 3 ? "#120; #68;IRECTION TB" : "x #68;IRECTION TB");
    }
    EXPECT("directiondirection", 0, "#100;irection#100;irection");
    EXPECT("direct", 0, "direct");
}

Test(escape, cut_with_ellipsis)
{
    EXPECT("abcdef", 4, "abc\xE2\x80\xA6");
    EXPECT("abcd", 4, "abcd");
    EXPECT("ab   cdef", 4, "ab\xE2\x80\xA6"); /* no blank before the ellipsis */
    char big[6000];
    memset(big, 'N', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *g = esc(big, 0, false); /* 0 = the hard cap */
    cr_expect_eq(strlen(g), LMR__LABEL_HARD_MAX - 1 + strlen("\xE2\x80\xA6"));
    free(g);
}

Test(escape, gantt_encodes_first_character)
{
    char *g = esc("section x", 0, true);
    cr_expect_str_eq(g, "#115;ection x");
    free(g);
    g = esc("", 0, true);
    cr_expect_str_eq(g, "#160;");
    free(g);
    g = esc("2024-01-01", 0, true);
    cr_expect_str_eq(g, "#50;024-01-01");
    free(g);
}

/* Decodes the entity codes of an escaper output into UTF-8 (what Mermaid
 * shows). Caller frees. */
static char *decode(const char *s)
{
    size_t n = strlen(s);
    char *r = malloc(n + 1), *w = r;
    cr_assert(r);
    for (const char *p = s; *p;) {
        if (*p == '#') {
            char *end;
            unsigned long cp = strtoul(p + 1, &end, 10);
            cr_assert(end > p + 1 && *end == ';', "bad entity in [%s]", s);
            if (cp < 0x80) {
                *w++ = (char)cp;
            } else if (cp < 0x800) {
                *w++ = (char)(0xC0 | (cp >> 6));
                *w++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *w++ = (char)(0xE0 | (cp >> 12));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *w++ = (char)(0xF0 | (cp >> 18));
                *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char)(0x80 | (cp & 0x3F));
            }
            p = end + 1;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return r;
}

/* Displayed code points: an entity or a UTF-8 sequence counts as one. */
static size_t shown_cps(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p;) {
        if (*p == '#') {
            const char *q = strchr(p, ';');
            cr_assert(q, "unterminated entity in [%s]", s);
            for (const char *d = p + 1; d < q; d++)
                cr_assert(isdigit((unsigned char)*d), "bad entity in [%s]", s);
            cr_assert(q > p + 1, "empty entity in [%s]", s);
            p = q + 1;
        } else {
            p++;
            while ((*p & 0xC0) == 0x80)
                p++;
        }
        n++;
    }
    return n;
}

static bool ascii_alnum_or_high(char c)
{
    return isalnum((unsigned char)c) || (unsigned char)c >= 0x80;
}

/* What every context guarantees, and what each adds (escape.c). */
static void check_invariants(const char *in, const char *out, size_t max_cp,
                             lmr__esc_ctx ctx)
{
    cr_assert(*out, "empty output for [%s]", in);
    for (const char *p = out; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        cr_assert(ch >= 0x20 && ch != 0x7F, "control 0x%02x in [%s]", ch, out);
        cr_assert(!strchr("\"%<>&`$\\@", ch), "raw '%c' in [%s]", ch, out);
        if (ctx == LMR__ESC_ANY || ctx == LMR__ESC_GANTT)
            cr_assert(ch != ':', "raw ':' in [%s]", out);
        if (ctx == LMR__ESC_ANY) {
            cr_assert(!strchr("*[]", ch), "raw '%c' in [%s]", ch, out);
            if (ch == '_')
                /* an entity beside it stands for a letter (direction) */
                cr_assert(p > out && (ascii_alnum_or_high(p[-1]) || p[-1] == ';') &&
                              (ascii_alnum_or_high(p[1]) || p[1] == '#'),
                          "'_' not inside a word in [%s]", out);
        }
    }
    cr_assert(!strcasestr(out, "direction"), "[%s]", out);
    cr_assert(out[0] != ' ' && out[strlen(out) - 1] != ' ', "blank end [%s]", out);
    if (ctx == LMR__ESC_ANY)
        cr_assert(out[0] != '-' && out[0] != '+', "list marker [%s]", out);
    if (ctx == LMR__ESC_GANTT)
        cr_assert(out[0] == '#', "gantt text must start encoded [%s]", out);
    if (ctx == LMR__ESC_SEQ)
        cr_assert(strncasecmp(out, "wrap:", 5) && strncasecmp(out, "nowrap:", 7),
                  "wrap directive [%s]", out);
    size_t cap = max_cp == 0 || max_cp > LMR__LABEL_HARD_MAX
                     ? LMR__LABEL_HARD_MAX : (max_cp < 2 ? 2 : max_cp);
    cr_assert_leq(shown_cps(out), cap, "cut not respected for [%s]", out);
    /* Every '#' starts an entity and every ';' ends one: a raw ';' would end
     * a sequence message, a raw '#' start a comment. */
    for (const char *p = out; (p = strchr(p, '#')) != NULL; p++) {
        const char *q = p + 1;
        while (isdigit((unsigned char)*q))
            q++;
        cr_assert(q > p + 1 && *q == ';', "stray '#' in [%s]", out);
    }
    for (const char *p = out; (p = strchr(p, ';')) != NULL; p++) {
        const char *h = p;
        while (h > out && isdigit((unsigned char)h[-1]))
            h--;
        cr_assert(h > out && h[-1] == '#' && h < p, "stray ';' in [%s]", out);
    }
}

Test(escape, property_random_and_hostile)
{
    static const char *const parts[] = {
        "direction", "DiReCtIoN", "dir", "ection", " ", "  ", "\n", "\t", "%%",
        "%%{init: {\"theme\":\"dark\"}}%%", "<script>", "</b>", "\"", "'", ";",
        "#", "#35;", ":", "-->", "end", "click", "href", "\xC3\xA9",
        "\xF0\x9F\x98\x80", "\xE2\x80\xA8", "\xFF", "\xC3", "\x01", "\x7F",
        "a", "Z", "9", "&amp;", "`", "\\", "|", "{", "}", "[[", "]]", "<<",
        ">>", "---", "%", "title", "section", "\xE2\x80\xAE", "", "wrap:",
        "nowrap:", "_", "*", "$$", "@{", "1.", "- ", "+", "\xC2\xA0", ""};
    const size_t np = sizeof parts / sizeof parts[0];
    srand(12345); /* deterministic */
    char in[4096];
    for (int iter = 0; iter < 5000; iter++) {
        size_t len = 0;
        int pieces = rand() % 24;
        for (int k = 0; k < pieces; k++) {
            const char *p;
            char rnd[2] = {(char)(rand() % 255 + 1), 0};
            p = (rand() % 4 == 0) ? rnd : parts[(size_t)rand() % np];
            size_t pl = strlen(p);
            if (len + pl >= sizeof in)
                break;
            memcpy(in + len, p, pl);
            len += pl;
        }
        in[len] = '\0';
        size_t max_cp = (size_t)(rand() % 3 == 0 ? 0 : rand() % 60);
        for (size_t g = 0; g < 4; g++) {
            char *out = esc_ctx(in, max_cp, all_ctx[g]);
            check_invariants(in, out, max_cp, all_ctx[g]);
            free(out);
        }
    }
}

/* Nothing is lost: decoding the entities gives back the text, for any
 * printable ASCII with single blanks (what the cleaner leaves alone). */
Test(escape, property_round_trip)
{
    srand(777);
    char in[80];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 1 + (size_t)rand() % (sizeof in - 2);
        for (size_t i = 0; i < n; i++) {
            char ch = (char)(0x21 + rand() % 94);
            if (i > 0 && i + 1 < n && in[i - 1] != ' ' && rand() % 5 == 0)
                ch = ' ';
            in[i] = ch;
        }
        in[n] = '\0';
        for (size_t g = 0; g < 4; g++) {
            char *out = esc_ctx(in, 0, all_ctx[g]);
            char *back = decode(out);
            cr_assert_str_eq(back, in, "context %zu: [%s] -> [%s]", g, in, out);
            free(back);
            free(out);
        }
    }
}

Test(escape, ids_are_generated)
{
    lmr_buf b = {0};
    lmr__out o = {.buf = &b, .max_chars = 1000};
    lmr__id(&o, "p", 12);
    lmr__puts(&o, " ");
    lmr__id(&o, "lp", 1);
    lmr__puts(&o, " ");
    lmr__id(&o, "Bad!", 3); /* not one of ours: falls back */
    cr_expect_str_eq(b.data, "p12 lp1 x3");
    lmr_buf_free(&b);
}

/* issue 14: Mermaid does not decode entity codes in a front-matter title,
 * so the title is the text itself, YAML-escaped. */
Test(escape, title_front_matter_is_quoted_and_escaped)
{
    lmr_buf b = {0};
    lmr__out o = {.buf = &b, .max_chars = 1000};
    lmr__begin_diagram(&o, "a\"b\\c\n---\n%%{init}%% #x; <b> & Crawl: 3", NULL,
                       "flowchart TD");
    cr_expect_str_eq(b.data, "---\ntitle: \"a\\\"b\\\\c --- \\x25\\x25{init}"
                             "\\x25\\x25 #x; \xE2\x80\xB9" "b> & Crawl: 3\"\n"
                             "---\nflowchart TD\n");
    cr_expect(!strstr(b.data, "%%"));
    lmr_buf_free(&b);
    lmr__out o2 = {.buf = &b, .max_chars = 1000};
    lmr__begin_diagram(&o2, NULL, NULL, "gantt");
    cr_expect_str_eq(b.data, "gantt\n");
    lmr_buf_free(&b);
}

Test(out, budget_and_rollback)
{
    lmr_buf b = {0};
    lmr__buf_append(&b, "```mermaid\n", 11); /* before the diagram: free */
    lmr__out o = {.buf = &b, .start = b.len, .max_chars = 20, .reserve = 5};
    cr_expect(lmr__fits(&o, 15));
    cr_expect(!lmr__fits(&o, 16));
    lmr__puts(&o, "0123456789");
    cr_expect_eq(lmr__used(&o), 10);
    cr_expect(lmr__fits(&o, 5));
    cr_expect(!lmr__fits(&o, 6));
    size_t m = lmr__mark(&o);
    lmr__printf(&o, "%d-%s", 42, "xyz");
    cr_expect_eq(lmr__used(&o), 16);
    cr_expect(!lmr__fits(&o, 0)); /* into the reserve */
    lmr__rollback(&o, m);
    cr_expect_eq(lmr__used(&o), 10);
    cr_expect_str_eq(b.data, "```mermaid\n0123456789");
    o.reserve = 50; /* a reserve above the budget: nothing fits */
    cr_expect(!lmr__fits(&o, 0));
    lmr__out d = {.buf = &b, .start = b.len};
    cr_expect_eq(lmr__budget(&d), LMR__DEFAULT_MAX_CHARS);
    lmr_buf_free(&b);
}

Test(out, long_printf)
{
    lmr_buf b = {0};
    lmr__out o = {.buf = &b, .max_chars = 100000};
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    lmr__printf(&o, "[%s]", big);
    cr_expect_eq(b.len, 1001);
    cr_expect_eq(b.data[1000], ']');
    lmr_buf_free(&b);
}

Test(out, durations_are_whole_numbers)
{
    char s[32];
    lmr__fmt_dur(s, sizeof s, 0);
    cr_expect_str_eq(s, "0 ns");
    lmr__fmt_dur(s, sizeof s, 9999);
    cr_expect_str_eq(s, "9999 ns");
    lmr__fmt_dur(s, sizeof s, 5000000);
    cr_expect_str_eq(s, "5000 us");
    lmr__fmt_dur(s, sizeof s, 12000000);
    cr_expect_str_eq(s, "12 ms");
    lmr__fmt_dur(s, sizeof s, 3600LL * 1000000000LL);
    cr_expect_str_eq(s, "3600 s");
}

Test(vocab, builtin_vocabularies)
{
    lmr__vocab v;
    lmr_error e;
    cr_assert_eq(lmr__vocab_parse("asyncio", &v, &e), 0);
    cr_expect_str_eq(v.name[LMR__ST_CREATED], "Coroutine");
    cr_expect_str_eq(v.name[LMR__ST_PENDING], "Pending");
    cr_expect_str_eq(v.name[LMR__ST_FAILED], "Failed");
    cr_assert_eq(lmr__vocab_parse("seed002", &v, &e), 0);
    cr_expect_str_eq(v.name[LMR__ST_PENDING], "Scheduled");
    cr_expect_str_eq(v.name[LMR__ST_AWAITING], "Suspended");
    cr_expect_str_eq(v.name[LMR__ST_FAILED], "Error");
    cr_assert_eq(lmr__vocab_parse(NULL, &v, &e), 0);
    cr_expect_str_eq(v.name[LMR__ST_AWAITING], "awaiting");
}

Test(vocab, custom_lists)
{
    lmr__vocab v;
    lmr_error e;
    cr_assert_eq(lmr__vocab_parse("created=Coroutine,pending=Scheduled", &v, &e), 0);
    cr_expect_str_eq(v.name[LMR__ST_CREATED], "Coroutine");
    cr_expect_str_eq(v.name[LMR__ST_PENDING], "Scheduled");
    cr_expect_str_eq(v.name[LMR__ST_RUNNING], "running");
    cr_assert_eq(lmr__vocab_parse("seed002,failed=Boom <b>", &v, &e), 0);
    cr_expect_str_eq(v.name[LMR__ST_FAILED], "Boom <b>");
    cr_expect_str_eq(v.name[LMR__ST_PENDING], "Scheduled");
}

Test(vocab, bad_vocabularies_say_why)
{
    lmr__vocab v;
    lmr_error e;
    cr_expect_eq(lmr__vocab_parse("klingon", &v, &e), LMR_EUSAGE);
    cr_expect(strstr(e.msg, "unknown vocabulary 'klingon'"), "%s", e.msg);
    cr_expect_eq(lmr__vocab_parse("created=A,bogus=B", &v, &e), LMR_EUSAGE);
    cr_expect(strstr(e.msg, "unknown state 'bogus'"), "%s", e.msg);
    cr_expect_eq(lmr__vocab_parse("created=A,created=B", &v, &e), LMR_EUSAGE);
    cr_expect(strstr(e.msg, "named twice"), "%s", e.msg);
    cr_expect_eq(lmr__vocab_parse("done=", &v, &e), LMR_EUSAGE);
    cr_expect(strstr(e.msg, "empty name for state 'done'"), "%s", e.msg);
    cr_expect_eq(lmr__vocab_parse("done=A,asyncio", &v, &e), LMR_EUSAGE);
    cr_expect(strstr(e.msg, "'asyncio' is not STATE=NAME"), "%s", e.msg);
    char longname[200] = "done=";
    memset(longname + 5, 'x', 100);
    cr_expect_eq(lmr__vocab_parse(longname, &v, &e), LMR_EUSAGE);
    cr_expect(strstr(e.msg, "longer than 63"), "%s", e.msg);
}

Test(vocab, state_label_follows_options)
{
    lmr_options o;
    lmr_options_init(&o);
    cr_expect_str_eq(lmr__state_label(&o, LMR__ST_DONE), "done");
    o.states = "asyncio";
    cr_expect_str_eq(lmr__state_label(&o, LMR__ST_CREATED), "Coroutine");
    o.states = "awaiting=Parked";
    cr_expect_str_eq(lmr__state_label(&o, LMR__ST_AWAITING), "Parked");
    cr_expect_str_eq(lmr__state_label(&o, LMR__ST_CREATED), "created");
    o.states = "nonsense";
    cr_expect_str_eq(lmr__state_label(&o, LMR__ST_CREATED), "created");
    cr_expect_str_eq(lmr__state_label(&o, 99), "unknown");
}
