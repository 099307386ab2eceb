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

/* Escapes s into a fresh string (caller frees). */
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

#define EXPECT(in, max, out)                                                   \
    do {                                                                       \
        char *got_ = esc(in, max, false);                                      \
        cr_expect_str_eq(got_, out, "escaping [%s]", in);                      \
        free(got_);                                                            \
    } while (0)

Test(escape, plain_text_passes)
{
    EXPECT("Task A 42", 0, "Task A 42");
}

Test(escape, syntax_characters_become_entities)
{
    EXPECT("a;b", 0, "a#59;b");
    EXPECT("#", 0, "#35;");
    EXPECT("\"x\"", 0, "#34;x#34;");
    EXPECT("%%{init}%%", 0, "#37;#37;#123;init#125;#37;#37;");
    EXPECT("<b>&", 0, "#60;b#62;#38;");
    EXPECT("a:b", 0, "a#58;b");
    EXPECT("-->", 0, "#45;#45;#62;");
}

Test(escape, non_ascii_is_decimal)
{
    EXPECT("\xC3\xA9", 0, "#233;");               /* é */
    EXPECT("\xF0\x9F\x98\x80", 0, "#128512;");     /* emoji */
}

Test(escape, invalid_utf8_is_replaced)
{
    EXPECT("a\xFF" "b", 0, "a#65533;b");
    EXPECT("\xC3", 0, "#65533;");                 /* truncated */
    EXPECT("\xED\xA0\x80", 0, "#65533;#65533;#65533;"); /* surrogate */
    EXPECT("\xC0\xAF", 0, "#65533;#65533;");      /* overlong */
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
    EXPECT("direction LR", 0, "#100;irection LR");
    EXPECT("x DIRECTION TB", 0, "x #68;IRECTION TB");
    EXPECT("directiondirection", 0, "#100;irection#100;irection");
    EXPECT("direct", 0, "direct");
}

Test(escape, cut_with_ellipsis)
{
    EXPECT("abcdef", 4, "abc#8230;");
    EXPECT("abcd", 4, "abcd");
    EXPECT("ab   cdef", 4, "ab#8230;"); /* no blank before the ellipsis */
    char big[6000];
    memset(big, 'N', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *g = esc(big, 0, false); /* 0 = the hard cap */
    cr_expect_eq(strlen(g), LMR__LABEL_HARD_MAX - 1 + strlen("#8230;"));
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
    cr_expect_str_eq(g, "#50;024#45;01#45;01");
    free(g);
}

/* Displayed code points: an entity counts as one. */
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
        }
        n++;
    }
    return n;
}

static void check_invariants(const char *in, const char *out, size_t max_cp)
{
    cr_assert(*out, "empty output for [%s]", in);
    for (const char *p = out; *p; p++)
        cr_assert(isalnum((unsigned char)*p) || *p == ' ' || *p == '#' ||
                      *p == ';',
                  "byte 0x%02x in [%s]", (unsigned char)*p, out);
    cr_assert(!strcasestr(out, "direction"), "[%s]", out);
    cr_assert(!strstr(out, "%%") && !strchr(out, '<') && !strchr(out, '"') &&
                  !strchr(out, ':'),
              "[%s]", out);
    cr_assert(out[0] != ' ' && out[strlen(out) - 1] != ' ', "blank end [%s]", out);
    size_t cap = max_cp == 0 || max_cp > LMR__LABEL_HARD_MAX
                     ? LMR__LABEL_HARD_MAX : (max_cp < 2 ? 2 : max_cp);
    cr_assert_leq(shown_cps(out), cap, "cut not respected for [%s]", out);
    /* Every ';' ends an entity: raw ';' would end a sequence message. */
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
        ">>", "---", "%", "title", "section", "\xE2\x80\xAE", ""};
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
        for (int g = 0; g < 2; g++) {
            char *out = esc(in, max_cp, g);
            check_invariants(in, out, max_cp);
            if (g)
                cr_assert(out[0] == '#', "gantt text must start encoded [%s]", out);
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

Test(escape, title_front_matter_is_quoted_and_escaped)
{
    lmr_buf b = {0};
    lmr__out o = {.buf = &b, .max_chars = 1000};
    lmr__begin_diagram(&o, "a\"b\n---\n%%{init}%% #x", NULL, "flowchart TD");
    cr_expect_str_eq(b.data, "---\ntitle: \"a#34;b #45;#45;#45; "
                             "#37;#37;#123;init#125;#37;#37; #35;x\"\n---\n"
                             "flowchart TD\n");
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
