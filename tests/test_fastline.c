/*
 * test_fastline.c: the reader's fast path (render/fastline.c): which lines it
 * takes, how it decodes them, and that the reader gives the same events and
 * the same errors with it on and off. fuzz/fuzz_fastpath.c checks the last
 * point on random input; tests/test_fuzz.c replays it on every suite trace.
 */
#include "fastline.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lmr__fl fl;

static int parse(const char *line)
{
    return lmr__fl_parse(&fl, line, strlen(line));
}

Test(fastline, canonical_line_is_decoded)
{
    const char *line = "  - {t: 5, ev: note, text: \"\xC3\xBC\\\"\\\\\\n\\t\\r"
                       "\\x41\\xE9\\u2028\", n: -7, members: [1, 22], x: y}\n";
    cr_assert_eq(parse(line), 1);
    cr_assert_eq(fl.nf, 6);
    cr_expect_eq(fl.f[0].klen, 1);
    cr_expect_eq(fl.f[0].kcol, 5);
    cr_expect_eq(fl.f[0].vcol, 8);
    cr_expect_eq(fl.f[1].vkind, LMR__FL_PLAIN);
    cr_expect_eq(fl.f[1].vlen, 4);
    cr_expect_eq(memcmp(line + fl.f[1].voff, "note", 4), 0);
    const lmr__fl_field *t = &fl.f[2];
    cr_expect_eq(t->vkind, LMR__FL_QUOTED);
    static const char want[] = "\xC3\xBC\"\\\n\t\rA\xC3\xA9\xE2\x80\xA8";
    cr_expect_eq(t->vlen, sizeof want - 1);
    cr_expect_eq(memcmp(fl.buf + t->voff, want, sizeof want - 1), 0);
    /* Columns count characters as libyaml does: the raw u-umlaut is one. */
    const char *n = strstr(line, "n: -7");
    cr_expect_eq(fl.f[3].kcol, (int)(n - line) - 1);
    cr_expect_eq(fl.f[4].vkind, LMR__FL_SEQ);
    cr_expect_eq(fl.f[4].nmem, 2);
    cr_expect_eq(fl.mem[fl.f[4].moff + 1], 22);
    cr_expect_eq(fl.f[5].klen, 1);
}

Test(fastline, deviations_are_left_to_libyaml)
{
    static const char *const lines[] = {
        "  - {t: 0, ev: x}",                 /* no newline: a cut line */
        "  - {t: 0, ev: x} \n",              /* trailing space */
        "  - {t: 0,  ev: x}\n",              /* other spacing */
        "  - {t: 0,ev: x}\n",
        "  - {t : 0, ev: x}\n",
        "   - {t: 0, ev: x}\n",              /* other indentation */
        "- {t: 0, ev: x}\n",
        "  - {t: 0, ev: 'x'}\n",             /* single quotes */
        "  - {t: 0, ev: x} # note\n",        /* a comment */
        "  - {t: 0, ev: \"a\\qb\"}\n",       /* unknown escape */
        "  - {t: 0, ev: \"\\uD800\"}\n",     /* surrogate: libyaml's error */
        "  - {t: 0, ev: \"\\x4\"}\n",
        "  - {t: 0, ev: \"a\tb\"}\n",         /* raw tab */
        "  - {t: 0, ev: \"a\xE2\x80\xA8" "b\"}\n", /* raw U+2028: a break */
        "  - {t: 0, ev: \"a\xC2\x85" "b\"}\n", /* raw NEL */
        "  - {t: 0, ev: \"\xC3\"}\n",        /* invalid UTF-8 */
        "  - {t: 0, ev: \"\xEF\xBB\xBF\"}\n", /* raw BOM */
        "  - {t: 0, ev: \"a}\n",             /* unterminated */
        "  - {t: 0, ev: x, tags: [1]}\n",    /* a list for another key */
        "  - {t: 0, ev: x, members: [-1]}\n",
        "  - {t: 0, ev: x, members: [1,2]}\n",
        "  - {t: 0, ev: x, members: [99999999999999999999]}\n",
        "  - {t: 1.5, ev: x}\n",
        "  - {t: 0, ev: X}\n",               /* tokens are [a-z_]+ */
        "  - {t: 0, ev: ~}\n",
        "  - {t: 0, ev: }\n",
        "  - {}\n",
        "  - {t: 0, ev: x}}\n",
        "  - {t: 0, ev: x}\r\n",
        "  - {t: 0, ev: {a: 1}}\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cr_expect_eq(parse(lines[i]), 0, "taken: %s", lines[i]);
}

/* Reads text with the fast path on or off; dumps events into out. */
typedef struct dump {
    char s[8192];
    size_t n;
} dump;

static int dump_cb(void *ctx, const lmr__header *h, const lmr__event *e,
                   lmr_error *err)
{
    (void)h;
    (void)err;
    dump *d = ctx;
    int k = snprintf(d->s + d->n, sizeof d->s - d->n,
                     "%d %s t=%lld task=%llu %d:%d name=%s text=%s m=%zu\n",
                     e->kind, e->ev, (long long)e->t,
                     (unsigned long long)e->task, e->line, e->col,
                     e->name ? e->name : "-", e->text ? e->text : "-",
                     e->nmembers);
    if (k > 0 && (size_t)k < sizeof d->s - d->n)
        d->n += (size_t)k;
    return 0;
}

static int read_text(const char *text, int fast, dump *d, lmr_error *err,
                     int *truncated)
{
    FILE *fp = tmpfile();
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(text, 1, strlen(text), fp), strlen(text));
    rewind(fp);
    lmr__header h;
    memset(d, 0, sizeof *d);
    lmr__read_fastpath(fast);
    int rc = lmr__read(fp, "mem", &h, dump_cb, d, truncated, err);
    lmr__read_fastpath(-1); /* back to the default */
    lmr__header_free(&h);
    fclose(fp);
    return rc;
}

#define HEAD "loopmaid: 1\nprogram: \"t\"\nclock: virtual\nevents:\n"
#define EV0 "  - {t: 0, ev: loop_start, loop: 1, name: \"loop\"}\n"
#define EV1 "  - {t: 0, ev: spawn, task: 1, name: \"m\xC3\xA4in\", parent: 0}\n"
#define EV2 "  - {t: 3, ev: note, task: 1, text: \"hi\\n\"}\n"

/* Reads text both ways: same result; returns the fast path's event count. */
static uint64_t both_ways(const char *text, int want_rc, lmr_error *err)
{
    dump a, b;
    lmr_error ea, eb;
    int ta, tb;
    lmr__read_fast_events();
    int ra = read_text(text, 1, &a, &ea, &ta);
    uint64_t fast = lmr__read_fast_events();
    int rb = read_text(text, 0, &b, &eb, &tb);
    cr_expect_eq(lmr__read_fast_events(), 0, "fast path ran while off");
    cr_expect_eq(ra, want_rc, "rc %d: %s", ra, ea.msg);
    cr_expect_eq(ra, rb);
    cr_expect_eq(ta, tb);
    cr_expect_eq(ea.code, eb.code);
    cr_expect_eq(ea.line, eb.line);
    cr_expect_eq(ea.col, eb.col);
    cr_expect_str_eq(ea.msg, eb.msg);
    cr_expect_eq(a.n, b.n);
    cr_expect_str_eq(a.s, b.s);
    if (err)
        *err = ea;
    return fast;
}

Test(fastline, reader_takes_only_files_it_can_prove)
{
    /* All canonical after the first event: the fast path reads the rest. */
    cr_expect_eq(both_ways(HEAD EV0 EV1 EV2, 0, NULL), 2);
    /* Non-ASCII before the closing brace of the first event: columns are
     * characters on both sides of the proof. */
    cr_expect_eq(both_ways(HEAD "  - {t: 0, ev: loop_start, name: "
                                "\"l\xC3\xB6\xF0\x9F\x98\x80p\"}\n" EV1 EV2,
                           0, NULL),
                 2);
    /* One event only: nothing left for it. */
    cr_expect_eq(both_ways(HEAD EV0, 0, NULL), 0);
    /* Anything else anywhere after the first event: libyaml reads it all. */
    cr_expect_eq(both_ways(HEAD EV0 EV1 "  # a comment\n" EV2, 0, NULL), 0);
    cr_expect_eq(both_ways(HEAD EV0 EV1 EV2 "\n", 0, NULL), 0);
    cr_expect_eq(both_ways(HEAD EV0 EV1 "  - {t: 3, ev: note, task: 1, "
                                       "text: 'hi'}\n", 0, NULL), 0);
    cr_expect_eq(both_ways(HEAD EV0 EV1 "  - {t: 3, ev: no", 0, NULL), 0);
    /* A first event libyaml read in another shape. */
    cr_expect_eq(both_ways(HEAD "  - {t: 0, ev: loop_start,\n    loop: 1}\n"
                                EV1 EV2, 0, NULL), 0);
    cr_expect_eq(both_ways(HEAD "- {t: 0, ev: loop_start}\n" EV1, LMR_ESYNTAX,
                           NULL), 0);
    /* A header where libyaml counts lines differently ('\r'). */
    cr_expect_eq(both_ways("loopmaid: 1\r\nprogram: \"t\"\nclock: virtual\n"
                           "events:\n" EV0 EV1 EV2, 0, NULL), 0);
}

Test(fastline, errors_on_fast_lines_are_libyamls)
{
    lmr_error e;
    cr_expect_eq(both_ways(HEAD EV0 EV1 "  - {t: 4, ev: note, task: 1, "
                                       "text: \"a\", task: 2}\n",
                           LMR_ESCHEMA, &e),
                 2);
    cr_expect_str_eq(e.msg, "duplicate key 'task' in one event");
    cr_expect_eq(e.line, 7);
    cr_expect_eq(e.col, 42);
    /* The same after multi-byte characters on the line. */
    cr_expect_eq(both_ways(HEAD EV0 "  - {t: 4, ev: note, text: "
                                    "\"\xE6\x97\xA5\xE6\x9C\xAC\", "
                                    "task: 1, t: 5}\n",
                           LMR_ESCHEMA, &e),
                 1);
    cr_expect_eq(e.col, 43); /* characters, not bytes (47) */
    cr_expect_eq(both_ways(HEAD EV0 "  - {t: 4, ev: state, task: 1, "
                                    "from: created, to: sideways}\n",
                           LMR_ESCHEMA, &e),
                 1);
    cr_expect_eq(e.line, 6);
    cr_expect_eq(e.col, 51);
    cr_expect_eq(both_ways(HEAD EV0 "  - {t: -4, ev: tick, n: 1, ran: 0, "
                                    "io: 0, timers: 0}\n",
                           LMR_ESCHEMA, &e),
                 1);
    cr_expect_eq(e.col, 9);
}

/* Plain scalars over the reader's limits on otherwise canonical lines: the
 * limit errors are libyaml's path's (found by review: a 300 KB integer was
 * once decoded here and reported as mistyped instead of too long). */
Test(fastline, scalars_over_the_limits_are_libyamls)
{
    size_t big = LMR__MAX_SCALAR + 10;
    char *doc = malloc(big + 256);
    cr_assert_not_null(doc);
    int k = snprintf(doc, 256, "%s%s  - {t: ", HEAD, EV0);
    memset(doc + k, '7', big);
    strcpy(doc + k + big, ", ev: tick}\n");
    lmr_error e;
    cr_expect_eq(both_ways(doc, LMR_ELIMIT, &e), 0);
    cr_expect_eq(e.line, 6);
    cr_expect_eq(e.col, 9);
    /* A plain name just over the name limit. */
    k = snprintf(doc, 256, "%s%s  - {t: 0, ev: spawn, task: 1, name: ", HEAD,
                 EV0);
    memset(doc + k, 'a', LMR__MAX_NAME + 1);
    strcpy(doc + k + LMR__MAX_NAME + 1, ", parent: 0}\n");
    cr_expect_eq(both_ways(doc, LMR_ELIMIT, &e), 0);
    cr_expect(strstr(e.msg, "name") != NULL, "%s", e.msg);
    free(doc);
}
