/*
 * seq_layout.c: folding and budgeted writing of the sequence view's lines.
 *
 *  - folding: a run of identical message blocks (up to LMR__SL_FOLD_K lines
 *    long) repeated back to back becomes one `loop N times` block, written
 *    whole or not at all (its `end` is always there);
 *  - once the character budget (lmr__fits) or --max-messages is reached,
 *    every later line is only counted, with its time, so the view can end
 *    with a note saying how many events were not shown and over which span.
 * Deterministic: what is written depends only on the lines and the budget.
 * Memory: at most 3 * LMR__SL_FOLD_K pending lines.
 *
 * (Until issue 14 a `par start together` block also grouped the first steps
 * of tasks started in one tick; those steps ran one after another on one
 * thread, so a `par` misdrew them and it is gone.)
 */
#include "seq_layout.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIST_MAX (2 * LMR__SL_FOLD_K)

void lmr__sl_init(lmr__sl *s, lmr__out *out, size_t max_messages)
{
    memset(s, 0, sizeof *s);
    s->out = out;
    s->max_messages = max_messages;
}

static void line_free(lmr__sl_line *l)
{
    free(l->text);
    l->text = NULL;
}

void lmr__sl_count(lmr__sl *s, int64_t t)
{
    if (s->not_shown == 0 || t < s->ns_first)
        s->ns_first = t;
    if (s->not_shown == 0 || t > s->ns_last)
        s->ns_last = t;
    s->not_shown++;
}

static bool over(const lmr__sl *s, uint64_t more)
{
    return s->max_messages && s->messages + more > s->max_messages;
}

bool lmr__sl_over_messages(const lmr__sl *s)
{
    return over(s, 1);
}

/* Writes one line at top level, or stops when it does not fit. Frees it. */
static void write_plain(lmr__sl *s, lmr__sl_line *l)
{
    if (!s->stopped && (over(s, 1) || !lmr__fits(s->out, l->len + 5)))
        s->stopped = true;
    if (s->stopped) {
        lmr__sl_count(s, l->t);
    } else {
        lmr__puts(s->out, "    ");
        lmr__outn(s->out, l->text, l->len);
        lmr__puts(s->out, "\n");
        s->messages++;
    }
    line_free(l);
}

/* Writes the current repeated block as `loop N times`, then puts the lines
 * of an incomplete last repetition back at the top level. */
static void flush_block(lmr__sl *s)
{
    if (!s->repeating)
        return;
    s->repeating = false;
    char times[48];
    snprintf(times, sizeof times, "%" PRIu64 " times", s->reps);
    size_t need = 20 + strlen(times);
    for (size_t i = 0; i < s->k; i++)
        need += s->block[i].len + 9;
    if (!s->stopped && (over(s, s->k) || !lmr__fits(s->out, need)))
        s->stopped = true;
    if (s->stopped) {
        for (uint64_t r = 0; r < s->reps; r++)
            for (size_t i = 0; i < s->k; i++)
                lmr__sl_count(s, s->block[i].t);
    } else {
        lmr__puts(s->out, "    loop ");
        lmr__esc_seq(s->out, times, 0);
        lmr__puts(s->out, "\n");
        for (size_t i = 0; i < s->k; i++) {
            lmr__puts(s->out, "        ");
            lmr__outn(s->out, s->block[i].text, s->block[i].len);
            lmr__puts(s->out, "\n");
        }
        lmr__puts(s->out, "    end\n");
        s->messages += s->k;
    }
    /* The partial repetition: its lines were matched but not yet shown. */
    for (size_t i = 0; i < s->pos; i++) {
        lmr__sl_line copy = s->block[i];
        copy.text = malloc(copy.len + 1);
        if (copy.text) {
            memcpy(copy.text, s->block[i].text, copy.len + 1);
            write_plain(s, &copy);
        } else {
            s->out->err = LMR_ENOMEM;
        }
    }
    for (size_t i = 0; i < s->k; i++)
        line_free(&s->block[i]);
    s->k = s->pos = 0;
    s->reps = 0;
}

static bool line_eq(const lmr__sl_line *a, const lmr__sl_line *b)
{
    return a->hash == b->hash && a->len == b->len &&
           memcmp(a->text, b->text, a->len) == 0;
}

static void push_line(lmr__sl *s, lmr__sl_line *l)
{
    if (s->stopped) {
        lmr__sl_count(s, l->t);
        line_free(l);
        return;
    }
    if (s->repeating) {
        if (line_eq(l, &s->block[s->pos])) {
            line_free(l);
            if (++s->pos == s->k) {
                s->pos = 0;
                s->reps++;
            }
            return;
        }
        flush_block(s);
    }
    s->hist[s->nhist++] = *l;
    for (size_t k = 1; k <= LMR__SL_FOLD_K && 2 * k <= s->nhist; k++) {
        size_t a = s->nhist - 2 * k, b = s->nhist - k;
        bool same = true;
        for (size_t i = 0; i < k && same; i++)
            same = line_eq(&s->hist[a + i], &s->hist[b + i]);
        if (!same)
            continue;
        for (size_t i = 0; i < a; i++)
            write_plain(s, &s->hist[i]);
        for (size_t i = 0; i < k; i++) {
            s->block[i] = s->hist[b + i];
            line_free(&s->hist[a + i]);
        }
        s->k = k;
        s->pos = 0;
        s->reps = 2;
        s->repeating = true;
        s->nhist = 0;
        return;
    }
    if (s->nhist > HIST_MAX) {
        write_plain(s, &s->hist[0]);
        memmove(&s->hist[0], &s->hist[1], (s->nhist - 1) * sizeof s->hist[0]);
        s->nhist--;
    }
}

void lmr__sl_push(lmr__sl *s, const char *text, size_t len, int64_t t)
{
    lmr__sl_line l = {NULL, len, 1469598103934665603ull, t};
    l.text = malloc(len + 1);
    if (!l.text) {
        s->out->err = LMR_ENOMEM;
        return;
    }
    memcpy(l.text, text ? text : "", len);
    l.text[len] = '\0';
    for (size_t i = 0; i < len; i++)
        l.hash = (l.hash ^ (unsigned char)l.text[i]) * 1099511628211ull;
    push_line(s, &l);
}

void lmr__sl_flush(lmr__sl *s)
{
    flush_block(s);
    for (size_t i = 0; i < s->nhist; i++)
        write_plain(s, &s->hist[i]);
    s->nhist = 0;
}

void lmr__sl_free(lmr__sl *s)
{
    for (size_t i = 0; i < s->nhist; i++)
        line_free(&s->hist[i]);
    for (size_t i = 0; i < s->k; i++)
        line_free(&s->block[i]);
    s->nhist = s->k = 0;
}
