/*
 * test_vocab.c: docs/trace-format.md and tracer/lm_vocab.h spell the same
 * vocabulary. Both halves print and decode from the table, so the table is
 * the code's word; the document is the reader's. Every token the document
 * lists (section 4's sets, section 3's kinds and keys) must be in the table,
 * and every table entry in the document.
 */
#include "lm_vocab.h"
#include "loopmaid.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC "docs/trace-format.md"
#define MAX_WORDS 64

/* A set of words, each owned. */
typedef struct words {
    char *w[MAX_WORDS];
    int n;
} words;

static void add(words *s, const char *p, size_t len)
{
    for (int i = 0; i < s->n; i++)
        if (strlen(s->w[i]) == len && memcmp(s->w[i], p, len) == 0)
            return; /* a token listed twice is still one token */
    cr_assert_lt(s->n, MAX_WORDS, "too many words in one set");
    s->w[s->n] = strndup(p, len);
    cr_assert_not_null(s->w[s->n]);
    s->n++;
}

static bool has(const words *s, const char *w)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->w[i], w) == 0)
            return true;
    return false;
}

static void words_free(words *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->w[i]);
    s->n = 0;
}

/* The document's lines, NUL-terminated, in one buffer (caller frees). */
static char **read_lines(size_t *nlines, char **buf)
{
    FILE *fp = fopen(DOC, "rb");
    cr_assert_not_null(fp, "cannot open %s (tests run from the top)", DOC);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    cr_assert_gt(len, 0);
    *buf = malloc((size_t)len + 1);
    cr_assert_not_null(*buf);
    cr_assert_eq(fread(*buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    (*buf)[len] = '\0';
    size_t cap = 1;
    for (long i = 0; i < len; i++)
        cap += (*buf)[i] == '\n';
    char **lines = calloc(cap, sizeof *lines);
    cr_assert_not_null(lines);
    size_t n = 0;
    for (char *p = *buf; p && *p; n++) {
        lines[n] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    *nlines = n;
    return lines;
}

typedef struct doc {
    char *buf;
    char **line;
    size_t n;
} doc;

static void doc_open(doc *d) { d->line = read_lines(&d->n, &d->buf); }

static void doc_close(doc *d)
{
    free(d->line);
    free(d->buf);
}

/* The lines of the part that starts with a line beginning with `head` and
 * ends before the next heading of that level (as many '#'s) or higher. */
static void part(const doc *d, const char *head, size_t *from, size_t *to)
{
    size_t level = strspn(head, "#");
    for (size_t i = 0; i < d->n; i++) {
        if (strncmp(d->line[i], head, strlen(head)) != 0)
            continue;
        size_t j = i + 1;
        while (j < d->n) {
            size_t l = strspn(d->line[j], "#");
            if (l > 0 && l <= level && d->line[j][l] == ' ')
                break;
            j++;
        }
        *from = i + 1;
        *to = j;
        return;
    }
    cr_assert_fail("%s has no heading \"%s\"", DOC, head);
}

/* The `code spans` of s, in order; at paren depth 0 only when top_only. */
static int spans(const char *s, bool top_only, const char *out[], size_t len[],
                 int max)
{
    int n = 0, depth = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')' && depth > 0)
            depth--;
        else if (*p == '`') {
            const char *e = strchr(p + 1, '`');
            if (!e)
                break;
            if ((!top_only || depth == 0) && n < max) {
                out[n] = p + 1;
                len[n] = (size_t)(e - p - 1);
                n++;
            }
            p = e;
        }
    }
    return n;
}

/* Adds the space-separated words of s[0..len) to set. */
static void add_split(words *set, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ')
            i++;
        size_t j = i;
        while (j < len && s[j] != ' ')
            j++;
        if (j > i)
            add(set, s + i, j - i);
        i = j;
    }
}

/* The code spans of each table row's first cell in lines [from, to). */
static void first_cells(const doc *d, size_t from, size_t to, words *set)
{
    for (size_t i = from; i < to; i++) {
        const char *l = d->line[i];
        if (l[0] != '|')
            continue;
        const char *end = strchr(l + 1, '|');
        if (!end)
            continue;
        char cell[256];
        snprintf(cell, sizeof cell, "%.*s", (int)(end - l - 1), l + 1);
        const char *sp[16];
        size_t sl[16];
        int n = spans(cell, false, sp, sl, 16);
        for (int k = 0; k < n; k++)
            add(set, sp[k], sl[k]);
    }
}

/* Both directions: what one side lists and the other does not. */
static void same(const char *what, const words *docset, const words *table)
{
    for (int i = 0; i < docset->n; i++)
        cr_expect(has(table, docset->w[i]),
                  "%s: \"%s\" is in %s but not in tracer/lm_vocab.h", what,
                  docset->w[i], DOC);
    for (int i = 0; i < table->n; i++)
        cr_expect(has(docset, table->w[i]),
                  "%s: \"%s\" is in tracer/lm_vocab.h but not in %s", what,
                  table->w[i], DOC);
    cr_expect_gt(docset->n, 0, "%s: %s lists none", what, DOC);
}

#define TABLE(set, LIST)                                                       \
    do {                                                                       \
        static const char *const tok_[] = {                                   \
            LIST(TOK_STR)                                                      \
        };                                                                     \
        for (size_t i_ = 0; i_ < sizeof tok_ / sizeof tok_[0]; i_++)           \
            add((set), tok_[i_], strlen(tok_[i_]));                            \
    } while (0)
#define TOK_STR(id, tok) tok,

Test(vocab, states_match_section_4_1)
{
    doc d;
    doc_open(&d);
    size_t a, b;
    part(&d, "### 4.1 ", &a, &b);
    words docset = {0}, table = {0};
    /* The set is the first line that is one code span. */
    for (size_t i = a; i < b && docset.n == 0; i++) {
        const char *sp[4];
        size_t sl[4];
        if (d.line[i][0] == '`' && spans(d.line[i], false, sp, sl, 4) == 1)
            add_split(&docset, sp[0], sl[0]);
    }
    TABLE(&table, LM_VOCAB_STATES);
    same("4.1 states", &docset, &table);
    /* The tracer's public names (lm_state_name) are the same words. */
    for (int s = LM_STATE_CREATED; s <= LM_STATE_CANCELLED; s++)
        cr_expect_str_eq(lm_state_name((lm_state)s), table.w[s]);
    words_free(&docset);
    words_free(&table);
    doc_close(&d);
}

/* The first cell of every table row in the part under heading is the set
 * table holds (freed here). */
static void first_cells_match(const char *heading, const char *what,
                              words *table)
{
    doc d;
    doc_open(&d);
    size_t a, b;
    part(&d, heading, &a, &b);
    words docset = {0};
    first_cells(&d, a, b, &docset);
    same(what, &docset, table);
    words_free(&docset);
    words_free(table);
    doc_close(&d);
}

Test(vocab, on_matches_section_4_2)
{
    words table = {0};
    TABLE(&table, LM_VOCAB_ON);
    first_cells_match("### 4.2 ", "4.2 on", &table);
}

Test(vocab, by_matches_section_4_3)
{
    words table = {0};
    TABLE(&table, LM_VOCAB_BY);
    first_cells_match("### 4.3 ", "4.3 by", &table);
}

/* 4.4 is prose: the tokens are the code spans outside parentheses (inside
 * them are API names and examples). */
Test(vocab, reason_matches_section_4_4)
{
    doc d;
    doc_open(&d);
    size_t a, b;
    part(&d, "### 4.4 ", &a, &b);
    words docset = {0}, table = {0};
    for (size_t i = a; i < b; i++) {
        const char *sp[16];
        size_t sl[16];
        int n = spans(d.line[i], true, sp, sl, 16);
        for (int k = 0; k < n; k++)
            add(&docset, sp[k], sl[k]);
    }
    TABLE(&table, LM_VOCAB_REASON);
    same("4.4 reason", &docset, &table);
    words_free(&docset);
    words_free(&table);
    doc_close(&d);
}

/* 4.5: one bullet per set, "- [group] `name` (open): `tok tok ...`". */
static void bullet(const doc *d, size_t a, size_t b, const char *name,
                   words *set)
{
    for (size_t i = a; i < b; i++) {
        const char *sp[4];
        size_t sl[4];
        if (strncmp(d->line[i], "- ", 2) != 0)
            continue;
        int n = spans(d->line[i], false, sp, sl, 4);
        if (n >= 2 && sl[0] == strlen(name) && memcmp(sp[0], name, sl[0]) == 0) {
            add_split(set, sp[n - 1], sl[n - 1]);
            return;
        }
    }
    cr_assert_fail("section 4.5 has no bullet for `%s`", name);
}

Test(vocab, other_tokens_match_section_4_5)
{
    doc d;
    doc_open(&d);
    size_t a, b;
    part(&d, "### 4.5 ", &a, &b);
    struct {
        const char *name;
        words doc, table;
    } sets[5] = {{.name = "kind"}, {.name = "mode"}, {.name = "outcome"},
                 {.name = "dir"}, {.name = "clock"}};
    TABLE(&sets[0].table, LM_VOCAB_GROUP_KIND);
    TABLE(&sets[1].table, LM_VOCAB_MODE);
    TABLE(&sets[2].table, LM_VOCAB_OUTCOME);
    TABLE(&sets[3].table, LM_VOCAB_DIR);
    TABLE(&sets[4].table, LM_VOCAB_CLOCK);
    for (int k = 0; k < 5; k++) {
        char what[32];
        snprintf(what, sizeof what, "4.5 %s", sets[k].name);
        bullet(&d, a, b, sets[k].name, &sets[k].doc);
        same(what, &sets[k].doc, &sets[k].table);
        words_free(&sets[k].doc);
        words_free(&sets[k].table);
    }
    doc_close(&d);
}

/* Section 3: one "### `kind`: ..." heading per event kind. */
Test(vocab, kinds_match_section_3)
{
    doc d;
    doc_open(&d);
    size_t a, b;
    part(&d, "## 3. ", &a, &b);
    words docset = {0}, table = {0};
    for (size_t i = a; i < b; i++) {
        const char *sp[2];
        size_t sl[2];
        if (strncmp(d.line[i], "### `", 5) == 0 &&
            spans(d.line[i], false, sp, sl, 2) >= 1)
            add(&docset, sp[0], sl[0]);
    }
    TABLE(&table, LM_VOCAB_EVENTS);
    same("3 event kinds", &docset, &table);
    words_free(&docset);
    words_free(&table);
    doc_close(&d);
}

/* Section 3's key tables: the first cell of every row is a key. */
Test(vocab, keys_match_section_3)
{
    words table = {0};
    TABLE(&table, LM_VOCAB_KEYS);
    first_cells_match("## 3. ", "3 keys", &table);
}
