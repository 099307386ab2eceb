/*
 * seq_layout.h: the sequence view's line layout (seq_layout.c), private to
 * view_sequence.c. The view composes one Mermaid line per message or note;
 * the layout folds runs of identical blocks into `loop N times` and writes
 * the lines within the character budget and --max-messages, counting what
 * it could not write.
 */
#ifndef LMR_SEQ_LAYOUT_H
#define LMR_SEQ_LAYOUT_H

#include "lmr_internal.h"

/* Internal, so hidden (lmr_internal.h). */
#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility push(hidden)
#endif

#define LMR__SL_FOLD_K 24 /* longest repeated block that folds */

typedef struct lmr__sl_line {
    char *text; /* one line without indentation or newline; owned */
    size_t len;
    uint64_t hash; /* FNV-1a of text: most comparisons stop here */
    int64_t t;
} lmr__sl_line;

typedef struct lmr__sl {
    lmr__out *out;
    size_t max_messages;   /* 0 = no limit */
    lmr__sl_line hist[2 * LMR__SL_FOLD_K + 1];
    size_t nhist;
    lmr__sl_line block[LMR__SL_FOLD_K];
    size_t k, pos;
    uint64_t reps;
    bool repeating;
    bool stopped;          /* the budget or --max-messages is reached */
    uint64_t messages;     /* lines written */
    uint64_t not_shown;    /* lines counted instead of written */
    int64_t ns_first, ns_last; /* their time span */
} lmr__sl;

/* Starts a layout writing to out. */
void lmr__sl_init(lmr__sl *s, lmr__out *out, size_t max_messages);
/* Queues one line (copied) happening at t. Cost: O(FOLD_K^2) compares at
 * worst; out->err is set when a copy cannot be allocated. */
void lmr__sl_push(lmr__sl *s, const char *text, size_t len, int64_t t);
/* Counts a line that will not be drawn (e.g. after the stop). */
void lmr__sl_count(lmr__sl *s, int64_t t);
/* Writes everything still pending; the layout stays usable. */
void lmr__sl_flush(lmr__sl *s);
/* Frees what is still pending without writing it. */
void lmr__sl_free(lmr__sl *s);
/* Is --max-messages reached (for the closing note's wording)? */
bool lmr__sl_over_messages(const lmr__sl *s);

#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility pop
#endif

#endif /* LMR_SEQ_LAYOUT_H */
