/*
 * lmr_internal.h: what the render half's modules share. Never installed.
 * Internal, non-static names carry the `lmr__` prefix.
 *
 * The flow (two passes, so memory grows with tasks, not events):
 *   reader.c   streams a trace file through libyaml's event API and hands one
 *              decoded lmr__event at a time to a callback (lmr__read).
 *   model.c    pass 1: builds the lmr__model (header, task table, groups,
 *              totals) and validates the transitions.
 *   walk.c     pass 2: the ONE shared walker: applies filters and the time
 *              window, then calls the selected renderer's hooks per event.
 *   escape.c   ALL Mermaid escaping and id generation.
 *   view_*.c   one renderer per diagram type (state, sequence, flowchart,
 *              tasks, gantt, advise), each an lmr__renderer.
 *   analysis.c where the wall time went (loop idle, loop busy, thread pool
 *              busy), for the advise view and inspect --advise.
 *   inspect.c  `loopmaid inspect`: a summary, walking like a renderer.
 *   cli.c      lmr__main: flags and dispatch only.
 * Stdin is spooled to a temporary file so that it can be read twice; and
 * pass 1 tees the decoded events into a compact binary spill (spill.c) that
 * pass 2 replays, so a render parses the YAML only once.
 */
#ifndef LMR_INTERNAL_H
#define LMR_INTERNAL_H

#include "loopmaid_render.h"
#include "lm_vocab.h" /* the trace vocabulary, shared with the tracer */

#include <stdbool.h>
#include <stdint.h>

/* Internal to libloopmaid-render, so hidden, for the reasons
 * tracer/lm_internal.h gives; the program and the tests link the archives. */
#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility push(hidden)
#endif

/* ------------------------------------------------------------------------ */
/* Events, as the reader decodes them                                        */
/* ------------------------------------------------------------------------ */

/* Event kinds (LMR__EV_GAP: in flight-recorder mode, `dropped` events are
 * missing here). */
typedef enum lmr__ev_kind {
    LMR__EV_UNKNOWN = 0, /* a kind this reader does not know: skipped */
#define LMR__X(id, tok) LMR__EV_##id,
    LM_VOCAB_EVENTS(LMR__X)
#undef LMR__X
    LMR__EV__COUNT
} lmr__ev_kind;

/* Task states, in trace spelling order: created pending running awaiting
 * done failed cancelled. */
typedef enum lmr__state {
#define LMR__X(id, tok) LMR__ST_##id,
    LM_VOCAB_STATES(LMR__X)
#undef LMR__X
    LMR__ST__COUNT
} lmr__state;

/*
 * The token sets of docs/trace-format.md section 4, decoded once by the
 * reader so that the model and the views switch on numbers. Each enum is
 * NONE (0: the key is absent), the table's tokens in lm_vocab.h's order, then
 * OTHER: a token this reader does not know (the open sets may grow; the
 * string as written stays in the event, and views show it as it is).
 */
typedef enum lmr__on {
    LMR__ON_NONE = 0,
#define LMR__X(id, tok) LMR__ON_##id,
    LM_VOCAB_ON(LMR__X)
#undef LMR__X
    LMR__ON_OTHER
} lmr__on;
typedef enum lmr__by {
    LMR__BY_NONE = 0,
#define LMR__X(id, tok) LMR__BY_##id,
    LM_VOCAB_BY(LMR__X)
#undef LMR__X
    LMR__BY_OTHER
} lmr__by;
typedef enum lmr__reason {
    LMR__REASON_NONE = 0,
#define LMR__X(id, tok) LMR__REASON_##id,
    LM_VOCAB_REASON(LMR__X)
#undef LMR__X
    LMR__REASON_OTHER
} lmr__reason;
/* group kinds */
typedef enum lmr__gkind {
    LMR__GK_NONE = 0,
#define LMR__X(id, tok) LMR__GK_##id,
    LM_VOCAB_GROUP_KIND(LMR__X)
#undef LMR__X
    LMR__GK_OTHER
} lmr__gkind;
typedef enum lmr__mode {
    LMR__MODE_NONE = 0,
#define LMR__X(id, tok) LMR__MODE_##id,
    LM_VOCAB_MODE(LMR__X)
#undef LMR__X
    LMR__MODE_OTHER
} lmr__mode;
typedef enum lmr__outcome {
    LMR__OUT_NONE = 0,
#define LMR__X(id, tok) LMR__OUT_##id,
    LM_VOCAB_OUTCOME(LMR__X)
#undef LMR__X
    LMR__OUT_OTHER
} lmr__outcome;
/* dir is closed: the reader rejects OTHER, so no view ever sees it. */
typedef enum lmr__dir {
    LMR__DIR_NONE = 0,
#define LMR__X(id, tok) LMR__DIR_##id,
    LM_VOCAB_DIR(LMR__X)
#undef LMR__X
    LMR__DIR_OTHER
} lmr__dir;

/* The header's clock (closed). */
typedef enum lmr__clock {
    LMR__CLOCK_NONE = 0,
#define LMR__X(id, tok) LMR__CLOCK_##id,
    LM_VOCAB_CLOCK(LMR__X)
#undef LMR__X
    LMR__CLOCK_OTHER
} lmr__clock;

/* The spellings, indexed by those enums (vocab.c); NULL at NONE and OTHER. */
extern const char *const lmr__ev_tok[LMR__EV__COUNT];
extern const char *const lmr__state_tok[LMR__ST__COUNT];
extern const char *const lmr__on_tok[LMR__ON_OTHER + 1];
extern const char *const lmr__by_tok[LMR__BY_OTHER + 1];
extern const char *const lmr__reason_tok[LMR__REASON_OTHER + 1];
extern const char *const lmr__gkind_tok[LMR__GK_OTHER + 1];
extern const char *const lmr__mode_tok[LMR__MODE_OTHER + 1];
extern const char *const lmr__outcome_tok[LMR__OUT_OTHER + 1];
extern const char *const lmr__dir_tok[LMR__DIR_OTHER + 1];
extern const char *const lmr__clock_tok[LMR__CLOCK_OTHER + 1];

/*
 * The id of token s in tab[0..n) (tab[0] and tab[n - 1] NULL: NONE and
 * OTHER): 0 when s is NULL, n - 1 (OTHER) when no entry spells it. Compares
 * to the first NUL, as the views' strcmp did. O(n) with a call per entry whose
 * first byte matches: for the rare lookups (the header's clock, a string the
 * model kept); each event's tokens are decoded by lmr__event_tokens.
 */
int lmr__tok_id(const char *const *tab, int n, const char *s);
#define LMR__TOK_ID(tab, s)                                                    \
    lmr__tok_id((tab), (int)(sizeof(tab) / sizeof(tab)[0]), (s))

struct lmr__event;
/* Sets the event's token ids (on_id ... reason_id) from its token strings:
 * what the reader does once per event, for events made by hand (tests). */
void lmr__event_tokens(struct lmr__event *e);
/* Whether a header's clock (NULL: absent) is the virtual clock. */
bool lmr__clock_is_virtual(const char *clock);

/*
 * Reader limits (reader.c, model.c). Each one bounds memory or time whatever
 * the bytes of the input; going over one is LMR_ELIMIT with the limit named in
 * the message. The trace format caps strings at 65,535 bytes and asks readers
 * to accept 256 KiB decoded scalars, hence the scalar limit.
 */
#define LMR__MAX_MEMBERS (1u << 20)      /* members of one group event: the
                                            tracer's LM_GROUP_MAX_MEMBERS, so
                                            what it writes, we read */
#define LMR__MAX_SCALAR (256u * 1024u)   /* bytes of one decoded scalar */
#define LMR__MAX_NAME (64u * 1024u)      /* bytes of a name / program */
#define LMR__MAX_TOKEN (4u * 1024u * 1024u) /* raw bytes libyaml may buffer
                                               for one token */
#define LMR__MAX_DEPTH 32                /* YAML nesting depth */
#define LMR__MAX_TASKS 10000000u         /* tasks in one trace */
#define LMR__MAX_GROUPS 10000000u        /* groups in one trace */
#define LMR__MAX_GROUP_MEMBERS (64u * 1024u * 1024u) /* members, all groups */
#define LMR__MAX_LOOPS 4096u             /* distinct loops in one trace */

/*
 * One decoded event. Strings point into the reader's buffers and are valid
 * only during the callback; copy what you keep. Absent keys are NULL / -1.
 */
typedef struct lmr__event {
    lmr__ev_kind kind;
    const char *ev;      /* the kind as written (for unknown kinds) */
    int64_t t;           /* ns since loop start */
    uint32_t loop;       /* 1 when absent */
    int line, col;       /* where the event starts (1-based) */
    uint64_t task;       /* spawn, state, note, name, cancel, io, timer */
    uint64_t parent;     /* spawn */
    const char *name;    /* spawn, name */
    int from, to;        /* state: lmr__state, -1 when absent */
    const char *on;      /* state -> awaiting: what it awaits */
    const char *label;   /* state, group, call */
    int64_t fd;          /* state (on: io), io */
    const char *dir;     /* "read" / "write" */
    const char *by;      /* state -> pending/cancelled: what woke it; cancel: reason */
    uint64_t by_task;    /* state (task that woke it), cancel (who cancelled) */
    const char *error;   /* state -> failed */
    const char *text;    /* note */
    uint32_t group;      /* group, group_end, state (on: gather...) */
    const char *group_kind;  /* group */
    uint64_t owner;      /* group */
    const uint64_t *members; size_t nmembers; /* group */
    const char *mode;    /* group (wait mode, gather mode) */
    int64_t timeout;     /* group, poll: ns, -1 = none */
    const char *outcome; /* group_end: ok failed cancelled timeout */
    const char *reason;  /* cancel: explicit timeout group shutdown signal */
    /* The tokens above as the reader decoded them (NONE when absent, OTHER
     * when unknown): what the model and the views switch on. */
    lmr__on on_id;
    lmr__by by_id;
    lmr__dir dir_id;
    lmr__gkind kind_id;
    lmr__mode mode_id;
    lmr__outcome outcome_id;
    lmr__reason reason_id;
    int64_t waited;      /* poll: ns */
    int64_t ready;       /* poll: fds ready */
    uint64_t n, ran, io, timers; /* tick */
    /* added with docs/trace-format.md v1: */
    uint64_t awaits;     /* state (on: task): the awaited task; 0 = absent */
    int64_t code;        /* state -> failed: numeric code; 0 = absent */
    const char *message; /* state -> failed: lm_fail's text; NULL = absent */
    int64_t dropped;     /* gap: events missing here */
} lmr__event;

/* The header fields before `events:`. */
typedef struct lmr__header {
    int version;      /* major */
    char *program;    /* owned */
    char *clock;      /* "virtual" / "monotonic"; owned */
    int64_t ring;     /* flight-recorder capacity; -1 = not a ring trace */
} lmr__header;

/* Called for each event; return 0 to go on, a negative code to stop. */
typedef int (*lmr__event_fn)(void *ctx, const lmr__header *h,
                             const lmr__event *ev, lmr_error *err);

/*
 * Streams the trace in fp through cb. `name` is used in error messages.
 * On a cut-off file (a crashed program) it stops after the last complete
 * event and sets *truncated = 1 (returns 0). Fills h (caller frees with
 * lmr__header_free). Bounded memory whatever the input: scalars, nesting
 * depth and member lists have limits (LMR_ELIMIT).
 */
int lmr__read(FILE *fp, const char *name, lmr__header *h, lmr__event_fn cb,
              void *ctx, int *truncated, lmr_error *err);
void lmr__header_free(lmr__header *h);

/* ------------------------------------------------------------------------ */
/* The model: pass 1's summary of the whole trace                             */
/* ------------------------------------------------------------------------ */

typedef struct lmr__task {
    uint64_t id;
    uint32_t loop;
    char *name;          /* owned; latest display name */
    uint64_t parent;
    int state;           /* last state (lmr__state) */
    int64_t t_spawn, t_end; /* t_end = -1 while not finished */
    int64_t time_in[LMR__ST__COUNT]; /* ns spent in each state */
    int64_t t_state;     /* when the current state began */
    uint64_t steps;      /* times it went running */
    int64_t longest_step;  /* longest running stretch, ns */
    int64_t longest_await; /* longest awaiting stretch, ns */
    char *longest_await_on; /* owned; what it awaited then */
    char *error;         /* owned; when failed: the error's name, or the
                            message when the trace has no name */
    char *message;       /* owned; when failed: lm_fail's text; may be NULL */
    uint64_t cancelled_by; /* task id, when cancelled */
    char *cancel_reason; /* owned */
    lmr__reason cancel_reason_id; /* cancel_reason decoded; NONE: never */
    int64_t t_cancel;    /* when the first cancel request came; -1 = none */
    bool timed_out;      /* cancelled by a wait_for timeout */
    bool selected;       /* passes --tasks / --exclude */
    bool implicit;       /* first seen after a flight-recorder gap, no spawn */
    uint32_t ord;        /* 0-based index in spawn order: for generated ids */
} lmr__task;

typedef struct lmr__group {
    uint32_t id;
    uint32_t loop;
    char *kind;          /* owned */
    lmr__gkind kind_id;  /* kind decoded */
    uint64_t owner;
    uint64_t *members;   /* owned */
    size_t nmembers;
    char *mode;          /* owned; may be NULL */
    int64_t timeout;
    char *label;         /* owned; may be NULL */
    char *outcome;       /* owned; NULL until group_end */
    lmr__outcome outcome_id; /* outcome decoded; NONE until group_end */
    char *error;         /* owned; group_end's error for the owner; may be NULL */
    size_t returned_done; /* members already finished when the await
                             returned (group_end), in trace order */
    int64_t t_start, t_end;
} lmr__group;

/*
 * What a group's members did (lmr__group_tally): their own outcomes, never
 * the group's. `returned_done` / `returned_pending` split the members at the
 * moment the await returned (wait()'s done and pending sets); `first_failed`
 * is the member that failed first (the error a gather or task group raises),
 * NULL when none did.
 */
typedef struct lmr__tally {
    size_t done, failed, cancelled, timed_out, unfinished, missing;
    size_t returned_done, returned_pending; /* only when the group ended */
    const lmr__task *first_failed;
} lmr__tally;
struct lmr__model;
/* As seen at time `until` (ns; -1 = the end): a member that ended later is
 * unfinished, and the returned sets are empty when the await ended later. */
void lmr__group_tally(const struct lmr__model *m, const lmr__group *g,
                      int64_t until, lmr__tally *t);

/* One event loop of the trace (several when several threads wrote it). */
typedef struct lmr__loop {
    uint32_t id;         /* `loop:` number, 1-based */
    char *name;          /* owned; "loop" unless renamed */
    int64_t t_start, t_end; /* t_end = -1 without loop_end */
    int64_t t_last;      /* time of its last event */
    bool ended;          /* saw loop_end */
} lmr__loop;

typedef struct lmr__model {
    lmr__header header;
    lmr__task *tasks;    /* sorted by (loop, id) */
    size_t ntasks;
    lmr__group *groups;  /* in order of appearance */
    size_t ngroups;
    uint64_t events, ticks, steps, polls, io_wakeups, timers_fired, calls,
        notes, cancels;
    int64_t poll_waited; /* total ns waited in polls */
    int64_t t_first, t_last;
    uint32_t nloops;
    bool truncated;
    /* the longest task step: task id and duration */
    uint64_t longest_step_task;
    int64_t longest_step;
    /* added by the reader work: */
    uint32_t longest_step_loop; /* loop of longest_step_task */
    lmr__loop *loops;    /* sorted by id; nloops of them */
    uint64_t gaps, dropped; /* flight recorder: gap events, events lost */
    /* Time all tasks spent awaiting, by what they awaited (the advise view
     * and `inspect --advise`): io, sleep, thread offload, anything else. */
    int64_t await_io, await_sleep, await_thread, await_other;
    int64_t run_total;   /* ns all tasks spent running */
    uint64_t failed, done, cancelled, timed_out; /* tasks by outcome */
    void *priv;          /* model.c's lookup indexes; owned */
} lmr__model;

/* Finds a task by (loop, id); NULL when unknown. O(log n). */
lmr__task *lmr__model_task(const lmr__model *m, uint32_t loop, uint64_t id);
const lmr__group *lmr__model_group(const lmr__model *m, uint32_t loop,
                                   uint32_t id);
/* A loop by its number; NULL when unknown. O(log n). */
const lmr__loop *lmr__model_loop(const lmr__model *m, uint32_t loop);
/* Pass 1 over fp. */
int lmr__model_build(FILE *fp, const char *name, lmr__model *m, FILE *warn,
                     lmr_error *err);
void lmr__model_free(lmr__model *m);

/* ------------------------------------------------------------------------ */
/* Output with a budget                                                      */
/* ------------------------------------------------------------------------ */

/*
 * Renderers write through lmr__out: it appends to a buffer and tracks how
 * much of the character budget (max_chars) is left, so a renderer can stop
 * in time and still close the diagram with a "... N not shown" note.
 */
typedef struct lmr__out {
    lmr_buf *buf;
    size_t start;     /* buf->len when the diagram began */
    size_t max_chars; /* the budget for the diagram text */
    size_t reserve;   /* kept back for the closing lines */
    int err;          /* LMR_ENOMEM once an append failed; later writes no-op */
    FILE *sink;       /* a streaming renderer (export.c) drains buf here;
                         NULL for the views, which build one diagram */
    void *user;       /* a consumer's own result (diff.c collects into it) */
} lmr__out;

#define LMR__DEFAULT_MAX_CHARS 50000 /* Mermaid's default maxTextSize */
#define LMR__MIN_MAX_CHARS 1000      /* smallest --max-chars the views honour */
#define LMR__MAX_EDGES 500           /* Mermaid's default flowchart maxEdges */

/* out.c also owns lmr_buf: lmr_buf_free and this append (0 / LMR_ENOMEM). */
int lmr__buf_append(lmr_buf *b, const char *s, size_t n);
/* Cuts b back to len bytes (no-op when it is not longer): how an entry that
 * fails hands back the caller's buffer as it was, never half a result. */
void lmr__buf_cut(lmr_buf *b, size_t len);
void lmr__outn(lmr__out *o, const char *s, size_t n);

void lmr__puts(lmr__out *o, const char *s);
void lmr__printf(lmr__out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Characters used so far / left before the reserve. */
size_t lmr__used(const lmr__out *o);
bool lmr__fits(const lmr__out *o, size_t more);
/* The effective budget: max_chars, or LMR__DEFAULT_MAX_CHARS when 0. */
size_t lmr__budget(const lmr__out *o);
/* A position to roll back to (e.g. a line that turned out not to fit). */
size_t lmr__mark(const lmr__out *o);
void lmr__rollback(lmr__out *o, size_t mark);
/* Points o at b (emptied) with no budget: for composing a line first. */
void lmr__out_scratch(lmr__out *o, lmr_buf *b);
/* "12 ms", "850 us", "3 s": whole numbers, always ASCII [0-9a-z ]. */
void lmr__fmt_dur(char *dst, size_t n, int64_t ns);

/*
 * out.c: cutting text for display. lmr__cut_name copies s into dst (n
 * bytes) cut to max_cp code points on a UTF-8 boundary, with "\u2026" when
 * cut (4 bytes; dst needs room for them); escaping is the caller's, later.
 * lmr__ellipsis ends buf[0..j), a text that was cut, with "..." on a whole
 * code point and returns its new length (at most j + 3; the caller leaves
 * room for the 3 bytes and writes the NUL).
 */
void lmr__cut_name(char *dst, size_t n, const char *s, size_t max_cp);
size_t lmr__ellipsis(char *buf, size_t j);

/* ------------------------------------------------------------------------ */
/* Escaping (escape.c): the only place Mermaid text is made safe             */
/* ------------------------------------------------------------------------ */

/*
 * Mermaid contexts with their own escaping needs (escape.c says which
 * characters each one encodes and why). Every context encodes what can end
 * a label or start a comment, a directive, HTML or markdown, breaks the word
 * "direction", writes an empty label as #160; and writes the rest as
 * itself, so the source stays readable.
 */
typedef enum lmr__esc_ctx {
    LMR__ESC_ANY = 0, /* safe in every context but gantt (state labels) */
    LMR__ESC_QUOTED,  /* flowchart "..." labels (nodes, subgraphs, edges) */
    LMR__ESC_SEQ,     /* sequence participants, messages, notes, blocks */
    LMR__ESC_GANTT    /* gantt task text and section names */
} lmr__esc_ctx;
/* Appends `s` escaped for ctx, cut at max_cp code points with an ellipsis. */
void lmr__esc(lmr__out *o, const char *s, size_t max_cp, lmr__esc_ctx ctx);
/* lmr__esc(LMR__ESC_ANY): safe wherever a label goes, gantt aside. */
void lmr__esc_label(lmr__out *o, const char *s, size_t max_cp);
/* lmr__esc(LMR__ESC_GANTT): first character always encoded, no ':'. */
void lmr__esc_gantt(lmr__out *o, const char *s, size_t max_cp);
/* lmr__esc(LMR__ESC_SEQ). */
void lmr__esc_seq(lmr__out *o, const char *s, size_t max_cp);
/* Labels are cut at most here whatever max_cp asks (0 means this cap). */
#define LMR__LABEL_HARD_MAX 1000
/*
 * A generated id: prefix (one of the fixed lowercase prefixes the views use,
 * e.g. "p", "s", "n", "t", "g", "lp") followed by n. Never derived from
 * trace text, and never one of Mermaid's own ids (start<N>, end<N>...).
 */
void lmr__id(lmr__out *o, const char *prefix, uint64_t n);
/*
 * Starts a diagram: optional front matter (title as a YAML double-quoted
 * string of the cleaned title, `"` `\` `%` YAML-escaped and `<` shown as
 * U+2039, so no YAML, directive or HTML can come from it; `config` is a fixed YAML block from the renderer, may be NULL),
 * then the diagram keyword line.
 */
void lmr__begin_diagram(lmr__out *o, const char *title, const char *config,
                        const char *keyword);

/* ------------------------------------------------------------------------ */
/* State vocabularies (vocab.c)                                              */
/* ------------------------------------------------------------------------ */

#define LMR__VOCAB_NAME_MAX 64
typedef struct lmr__vocab {
    char name[LMR__ST__COUNT][LMR__VOCAB_NAME_MAX];
} lmr__vocab;
/*
 * Parses --states: "loopmaid" (trace spellings), "asyncio" (seed 000),
 * "seed002", or a list "created=Coroutine,pending=Scheduled,..." whose
 * first item may be one of those names as the base ("asyncio,failed=Oops").
 * States not listed keep the base's name (loopmaid's by default). NULL or ""
 * is "loopmaid". Returns 0 or LMR_EUSAGE with a message in *err.
 */
int lmr__vocab_parse(const char *spec, lmr__vocab *v, lmr_error *err);
/*
 * Words for causes, so that a diagram drawn --states asyncio speaks asyncio
 * on its edges too (create_task(), await asyncio.sleep(), task.cancel()...)
 * and the others read as plain words instead of trace tokens. Unknown
 * tokens (the sets are open) come back as written. Static text.
 */
bool lmr__speaks_asyncio(const lmr_options *o); /* base asyncio or seed002 */
/* running -> awaiting: on as decoded, `written` as the trace spells it */
void lmr__await_words(const lmr_options *o, lmr__on on, const char *written,
                      char *dst, size_t n);
const char *lmr__wake_words(const lmr_options *o, lmr__by by,
                            const char *written);
const char *lmr__cancel_words(const lmr_options *o, const char *reason);

/* ------------------------------------------------------------------------ */
/* The advise analysis (analysis.c): the advise view and inspect --advise    */
/* ------------------------------------------------------------------------ */

typedef enum lmr__verdict {
    LMR__ADV_NOTHING = 0, /* no task time at all: nothing to judge */
    LMR__ADV_ASYNC,       /* I/O-bound, several operations in flight at once */
    LMR__ADV_SYNC_ONE,    /* I/O-bound, one operation at a time */
    LMR__ADV_SYNC,        /* neither waits nor computes much */
    LMR__ADV_CPU_POOL,    /* CPU-bound, the work runs in the thread pool */
    LMR__ADV_CPU_LOOP,    /* CPU-bound on the loop: long steps block it */
    LMR__ADV_UNMEASURED   /* virtual clock, no waiting: CPU time unknowable */
} lmr__verdict;

/*
 * What a trace says about where its time went, as WALL time inside the
 * window (never summed over tasks that waited at the same time), plus the
 * task-time sums for "N ms over K tasks". Under the virtual clock only
 * timers move time, so running and thread time are not measured
 * (cpu_measured false) and no CPU question is answered.
 */
typedef struct lmr__advice {
    int64_t t0, t1, span;  /* the window analysed, ns */
    bool cpu_measured;     /* real clock: running / thread time mean something */
    int64_t wall_run;      /* some task running on the loop */
    int64_t wall_thread;   /* some task awaiting the thread pool */
    int64_t wall_cpu;      /* either of the two */
    int64_t wall_wait;     /* some task awaiting I/O or a timer, and nothing
                              running or in a thread: the loop was idle */
    int64_t sum_run, sum_io, sum_sleep, sum_thread, sum_other; /* task time */
    uint64_t peak_inflight; /* most tasks awaiting I/O or a timer at once */
    uint64_t ntasks;       /* selected tasks alive in the window */
    int64_t longest_step;  /* longest running stretch in the window, ns */
    uint64_t longest_step_task; uint32_t longest_step_loop;
    bool waits_on_io;      /* Q1: the idle waiting outweighs the computing */
    bool multiple_io;      /* Q2: two or more waits were in flight at once */
    bool cpu_heavy;        /* Q3: computing took half the window, or one
                              step blocked the loop for 100 ms or more */
    lmr__verdict verdict;
} lmr__advice;

#define LMR__BLOCKING_STEP_NS (100 * 1000000LL) /* asyncio's slow callback */

/* The analysis, fed the events the walker keeps for a whole_time renderer
 * (it clips to the window itself). O(tasks) memory, O(1) per event. */
typedef struct lmr__analysis lmr__analysis;
/* NULL when out of memory. */
lmr__analysis *lmr__analysis_new(const lmr__model *m, const lmr_options *o);
void lmr__analysis_event(lmr__analysis *a, const lmr__event *ev);
/* Fills *out and frees a (a may be NULL: then *out is all zero). */
void lmr__analysis_finish(lmr__analysis *a, lmr__advice *out);
/* One sentence for a verdict (static text). */
const char *lmr__advise_text(lmr__verdict v);
/*
 * The task whose failure made a group cancel t (reason `group`): the
 * canceller when it failed, else a member of one of t's groups that failed
 * no later than t ended; NULL when none (or the trace has over 100,000
 * groups: the search is bounded). Shared by gantt and inspect so both name
 * the same cause.
 */
const lmr__task *lmr__group_culprit(const lmr__model *m, const lmr__task *t);

/* ------------------------------------------------------------------------ */
/* Renderers and the shared walker (walk.c)                                  */
/* ------------------------------------------------------------------------ */

typedef struct lmr__render_ctx {
    const lmr__model *model;
    const lmr_options *opts;
    lmr__out *out;
    void *state;      /* the renderer's own data */
    /* Set by begin(): event() also gets the selected tasks' events outside
     * the --from/--to window, so the renderer knows each task's state at
     * the window's start and clips durations to the window itself. */
    bool whole_time;
} lmr__render_ctx;

typedef struct lmr__renderer {
    const char *name;                 /* as in --view */
    int (*begin)(lmr__render_ctx *c); /* header lines; allocate c->state */
    /* one call per event that passes the filters and window; may be NULL */
    int (*event)(lmr__render_ctx *c, const lmr__event *ev);
    int (*end)(lmr__render_ctx *c);   /* closing lines; free c->state */
} lmr__renderer;

/*
 * Views that also read the events of selected tasks BEFORE --from, to know
 * each task's state at the window's start (they never draw them). walk.c
 * calls the one that belongs to the renderer (lmr__prior_for); the hook is
 * not a renderer field so that the views without one need no change.
 */
typedef int (*lmr__event_hook)(lmr__render_ctx *c, const lmr__event *ev);
int lmr__state_prior(lmr__render_ctx *c, const lmr__event *ev);
lmr__event_hook lmr__prior_for(const lmr__renderer *r);

extern const lmr__renderer lmr__view_state, lmr__view_sequence,
    lmr__view_flowchart, lmr__view_tasks, lmr__view_gantt, lmr__view_advise;

/* The renderer for a view. */
const lmr__renderer *lmr__renderer_for(lmr_view v);

/*
 * Pass 2: streams fp again, keeps the events of selected tasks inside the
 * time window (loop-wide events are always kept), and feeds them to r.
 */
int lmr__walk(FILE *fp, const char *name, const lmr__model *m,
              const lmr_options *o, const lmr__renderer *r, lmr__out *out,
              lmr_error *err);

/*
 * Sets every task's `selected` from o->tasks / o->exclude (PCRE2 compiled
 * once, matched once per task on its final name). lmr__model_build leaves all
 * tasks selected. Returns 0 or LMR_EREGEX with *err filled in.
 */
int lmr__select(lmr__model *m, const lmr_options *o, lmr_error *err);

/* ------------------------------------------------------------------------ */
/* Composing a pass: what api.c wraps around the reader                      */
/* ------------------------------------------------------------------------ */

/*
 * The reader only reads: it neither copies events into the spill nor shows
 * progress. api.c composes both around it: the spill tee wraps the event
 * callback, the progress display watches the bytes consumed, and the
 * composition is handed to pass 1 (model.c) and pass 2 (walk.c) as an
 * lmr__read_fn.
 */

/* Told how far a read has come: `done` bytes of the input consumed, at each
 * refill of the input buffer (about every 4,096 lines on the fast path). */
typedef void (*lmr__bytes_fn)(void *ctx, uint64_t done);
/* lmr__read that also tells on_bytes (may be NULL) its progress. */
int lmr__read_counted(FILE *fp, const char *name, lmr__header *h,
                      lmr__event_fn cb, void *ctx, lmr__bytes_fn on_bytes,
                      void *bytes_ctx, int *truncated, lmr_error *err);

/* A way to run one read, with lmr__read's contract; rctx is its own state.
 * Wherever one is taken, NULL means plain lmr__read. */
typedef int (*lmr__read_fn)(void *rctx, FILE *fp, const char *name,
                            lmr__header *h, lmr__event_fn cb, void *ctx,
                            int *truncated, lmr_error *err);
/* lmr__model_build, reading through read(rctx, ...) (model.c). */
int lmr__model_build_via(FILE *fp, const char *name, lmr__model *m,
                         FILE *warn, lmr__read_fn read, void *rctx,
                         lmr_error *err);
/* lmr__walk, reading through read(rctx, ...) (walk.c). */
int lmr__walk_via(FILE *fp, const char *name, const lmr__model *m,
                  const lmr_options *o, const lmr__renderer *r, lmr__out *out,
                  lmr__read_fn read, void *rctx, lmr_error *err);

/*
 * spill.c: a compact binary copy of decoded events, so that pass 2 replays
 * pass 1's events instead of parsing the YAML again. The tee is an
 * lmr__event_fn wrapped around the consumer's callback (cb, ctx): it appends
 * each event to `spill`, then calls cb. A failed write never stops the read:
 * it leaves LMR_EIO in `rc` and no further writes are made (then replay must
 * not be used). lmr__read_teed is lmr__read through a tee, as an
 * lmr__read_fn (rctx: an lmr__tee with `spill` set; it fills cb and ctx).
 * Replay calls cb per event (h holds only the version); returns 0, cb's
 * code, or LMR_EIO / LMR_ENOMEM.
 */
typedef struct lmr__tee {
    FILE *spill;
    int rc;            /* 0, or LMR_EIO once a write failed */
    lmr__event_fn cb;  /* the consumer's callback; may be NULL */
    void *ctx;
} lmr__tee;
int lmr__tee_event(void *tee, const lmr__header *h, const lmr__event *ev,
                   lmr_error *err);
int lmr__read_teed(void *tee, FILE *fp, const char *name, lmr__header *h,
                   lmr__event_fn cb, void *ctx, int *truncated,
                   lmr_error *err);
int lmr__spill_put(FILE *spill, const lmr__event *e);
int lmr__spill_replay(FILE *spill, const char *name, lmr__event_fn cb,
                      void *ctx, lmr_error *err);
/* lmr__walk over a spill written during pass 1 (rewound by the caller). */
int lmr__walk_spill(FILE *spill, const char *name, const lmr__model *m,
                    const lmr_options *o, const lmr__renderer *r,
                    lmr__out *out, lmr_error *err);

/*
 * api.c: the start every library entry shares. lmr__entry_begin points
 * e->err at err or, when err is NULL, at a local record (cleared either
 * way), e->o at o or the defaults, and e->warn at warn unless o->quiet.
 * The pointers may point into *e: use it in place, never copy it.
 */
typedef struct lmr__entry {
    lmr_error *err;
    const lmr_options *o;
    FILE *warn;
    lmr_error own_err;
    lmr_options own_opts;
} lmr__entry;
void lmr__entry_begin(lmr__entry *e, const lmr_options *o, FILE *warn,
                      lmr_error *err);

/*
 * api.c: opens a trace for two passes ("-" = stdin; unseekable input is
 * spooled to a temporary file). Sets *name for messages ("<stdin>" for "-")
 * and *size in bytes. Returns NULL with *err filled in; caller fcloses.
 */
FILE *lmr__open_trace(const char *path, const char **name, uint64_t *size,
                      lmr_error *err);
/* What messages call the trace at path: "<stdin>" for "-" or NULL, an
 * alias's name for its path. */
const char *lmr__trace_name(const char *path);
/* An alias (at most two at a time, per thread): the library reads `path` but
 * names it `shown` ("-": <stdin>) everywhere, as the CLI wants for a binary
 * trace it converted to /dev/fd/N. shown NULL removes path's alias. 0 or
 * LMR_EUSAGE (no room). lmr__shown_name: the alias of path, or path. */
int lmr__trace_alias(const char *path, const char *shown);
const char *lmr__shown_name(const char *path);

/*
 * api.c: the two passes over a trace that every command on a whole trace
 * shares (render, export, diff, inspect): open, pass 1 (the model, teed
 * into a spill, "reading" progress on a terminal), select, pass 2 walking r
 * into lo. A command that draws (`drawing`) also gets, on warn, the
 * warnings about a selection that leaves the drawing empty, and pass 2 is
 * shown as "rendering"; inspect's summary says both itself. 0 or a
 * negative code with *err filled in.
 */
int lmr__run_passes(const char *path, const lmr_options *o,
                    const lmr__renderer *r, lmr__out *lo, FILE *warn,
                    bool drawing, lmr_error *err);

/* A task the views draw: selected by --tasks/--exclude and alive at some
 * point inside the --from/--to window. */
bool lmr__task_in_window(const lmr_options *o, const lmr__task *t);

/*
 * Interest (walk.c): the ONE ranking every view uses when it must leave
 * tasks out. Tiers, in order: failed, timed out, cancelled (outcomes reached
 * inside the window), the LMR__SLOWEST longest-lived tasks and the
 * LMR__SLOWEST with the longest steps (the loop was blocked), then the rest.
 * The first four take turns (a failed, a timed out, a cancelled, a slow one,
 * again), so a small cap shows each kind; within a tier spawn order (the
 * slow ones: slowest first); the rest in spawn order. Only tasks that
 * lmr__task_in_window accepts (the filter's matches) are ranked at all.
 */
enum { LMR__INT_FAILED = 0, LMR__INT_TIMED_OUT, LMR__INT_CANCELLED,
       LMR__INT_SLOW, LMR__INT_REST };
#define LMR__SLOWEST 10
int lmr__interest(const lmr_options *o, const lmr__task *t);
/* Fills idx (m->ntasks entries) with task indexes, most interesting first,
 * and tier (may be NULL) with each one's tier. Returns how many. */
size_t lmr__rank(const lmr__model *m, const lmr_options *o, size_t *idx,
                 int *tier);
/* How long a task was alive inside the window, ns. */
int64_t lmr__task_span(const lmr__model *m, const lmr_options *o,
                       const lmr__task *t);
/* On warn (stderr): a filter that matches no task, a window past the end
 * of the trace or before its start, a window no selected task lives in. */
void lmr__warn_selection(const lmr__model *m, const lmr_options *o,
                         FILE *warn);
/* A cap option: v, or the view's default when v is 0. */
static inline size_t lmr__cap(size_t v, size_t def) { return v ? v : def; }

/* Writes a flowchart node `    ID OPEN"part<br/>part..."CLOSE` from the
 * NULL-terminated parts, each escaped and cut at max_cp code points. */
void lmr__node(lmr__out *o, const char *id, const char *open, const char *close,
               const char *const *parts, size_t max_cp);

/* Display name of a state under the options' vocabulary. */
const char *lmr__state_label(const lmr_options *o, int state);

/* Sets *e (code, file, line, col, printf-style message). Returns code. */
int lmr__err(lmr_error *e, int code, const char *file, int line, int col,
             const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ------------------------------------------------------------------------ */
/* Writing the user's files (outfile.c)                                      */
/* ------------------------------------------------------------------------ */

/*
 * The one writer for every file a command writes (render -o, inspect -o,
 * build's targets and traces). "-" is stdout; a symlink is followed; a
 * regular file (or a new name) is replaced atomically keeping its mode and,
 * where allowed, owner; anything else (device, FIFO, /dev/stdout, /dev/fd/N)
 * is written in place. Refused: a read-only regular file, a directory, and
 * an output that is the same file (st_dev/st_ino) as one of inputs[0..n)
 * ("-" = stdin; NULL entries are skipped), LMR_EUSAGE. Errors name `path`.
 */
typedef struct lmr__outfile {
    int fd;
    bool close_fd;     /* false for stdout and the caller's own descriptors */
    char *tmp;         /* the temporary file to rename; NULL: in place */
    char *final;       /* the file the rename replaces (links followed) */
    const char *name;  /* as given, for messages */
} lmr__outfile;
int lmr__outfile_open(lmr__outfile *f, const char *path,
                      const char *const *inputs, size_t ninputs,
                      lmr_error *err);
int lmr__outfile_write(lmr__outfile *f, const char *data, size_t len,
                       lmr_error *err);
/* Syncs, renames into place (or just closes), frees. 0 or LMR_EIO. */
int lmr__outfile_commit(lmr__outfile *f, lmr_error *err);
/* Drops the temporary file; the target is untouched. Frees. */
void lmr__outfile_abort(lmr__outfile *f);
/* open + write + commit. */
int lmr__write_file(const char *path, const char *data, size_t len,
                    const char *const *inputs, size_t ninputs, lmr_error *err);

/* outfile.c: "dir/name", for every path the render half puts together (a
 * link's target, build's paths). Caller frees; NULL when out of memory. */
char *lmr__path_join(const char *dir, const char *name);

/* ------------------------------------------------------------------------ */
/* Shared with the CLI's parsers (cli.c)                                     */
/* ------------------------------------------------------------------------ */

/*
 * The one time parser (--from, --to, build's from/to/timeout): an integer or
 * decimal number with an optional unit ns, us (or µs), ms, s; no unit = ns.
 * 1.5ms = 1500000. False on anything else, a sign, or overflow.
 */
bool lmr__parse_time(const char *s, int64_t *out);

/* Option bits for lmr__view_refuses: options only some views honour. */
enum {
    LMR__OPT_TASKS = 1u << 0,        /* --tasks */
    LMR__OPT_EXCLUDE = 1u << 1,      /* --exclude */
    LMR__OPT_FROM = 1u << 2,         /* --from */
    LMR__OPT_TO = 1u << 3,           /* --to */
    LMR__OPT_STATES = 1u << 4,       /* --states */
    LMR__OPT_COUNTS = 1u << 5,       /* --counts */
    LMR__OPT_MAX_MESSAGES = 1u << 6, /* --max-messages */
    LMR__OPT_MAX_NODES = 1u << 7,    /* --max-nodes ... : the caps, in the */
    LMR__OPT_MAX_CHILDREN = 1u << 8, /* order of lmr__caps[] */
    LMR__OPT_MAX_GROUPS = 1u << 9,
    LMR__OPT_MAX_MEMBERS = 1u << 10,
    LMR__OPT_MAX_CAUSES = 1u << 11,
    LMR__OPT_MAX_ROWS = 1u << 12,
    LMR__OPT_MAX_PARTICIPANTS = 1u << 13,
    LMR__OPT__COUNT = 14
};
/* The cap options (one table for the CLI's flags and the config's keys):
 * LMR__OPT_MAX_NODES << i is caps[i]'s bit; `offset` is its size_t field. */
typedef struct lmr__cap_opt {
    const char *flag;   /* "max-nodes" (--max-nodes) */
    const char *key;    /* "max_nodes" (loopmaid.yaml) */
    size_t offset;      /* in lmr_options */
} lmr__cap_opt;
#define LMR__NCAPS 7
extern const lmr__cap_opt lmr__caps[LMR__NCAPS];

/* The first option of `given` (LMR__OPT_* bits) that view v does not honour,
 * as its flag name ("--counts"), or NULL when v honours them all. cli.c's
 * table; build.c asks it too (config keys are the same options). */
const char *lmr__view_refuses(lmr_view v, unsigned given);

/* ------------------------------------------------------------------------ */
/* Docs builds (build.c): `loopmaid build [-c loopmaid.yaml] [--check] ...`  */
/* ------------------------------------------------------------------------ */

/* The `build` subcommand; argv[0] is "build". Returns the exit code. */
int lmr__build_main(int argc, char **argv);
/* Loads and validates a build config without running or writing anything
 * (for fuzzing and `--check` of the config alone). 0 or LMR_ECONFIG etc. */
int lmr__build_check_config(const char *path, lmr_error *err);

#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility pop
#endif

#endif /* LMR_INTERNAL_H */
