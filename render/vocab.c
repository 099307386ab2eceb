/*
 * vocab.c: the trace's tokens as the reader decodes them, and the display
 * names of task states (--states) and of the tokens the views print.
 *
 * The trace always spells states the same way (created pending running
 * awaiting done failed cancelled); a vocabulary only changes what the
 * diagrams call them, so one trace can be drawn in asyncio's words (seed
 * 000), seed 002's, or a team's own. Names chosen here are still escaped on
 * output like any other text.
 */
#include "lmr_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The spellings, from tracer/lm_vocab.h (the tracer prints the same). */
const char *const lmr__ev_tok[LMR__EV__COUNT] = {
#define TOK(id, tok) [LMR__EV_##id] = tok,
    LM_VOCAB_EVENTS(TOK)
#undef TOK
};
const char *const lmr__state_tok[LMR__ST__COUNT] = {
#define TOK(id, tok) [LMR__ST_##id] = tok,
    LM_VOCAB_STATES(TOK)
#undef TOK
};

/*
 * The token sets of section 4: for each, its spellings by id (P_NONE, 0,
 * has none; P_OTHER, the last, is a token this reader does not know) and,
 * for those the reader decodes per event, one lookup made from its list: a
 * chain of tests on the first byte, then a compare with a literal (which
 * the compiler inlines). That runs for every event, so it must cost a few
 * compares, not a loop of calls. Compares to the first NUL, as the views'
 * strcmp did. ENTRY and MATCH are the set's one-line element macros, since
 * an X-macro's element cannot be given the set's prefix otherwise.
 */
#define SPELLINGS(name, P, LIST, ENTRY)                                        \
    const char *const lmr__##name##_tok[P##_OTHER + 1] = {LIST(ENTRY)};
#define DECODER(fn, type, P, LIST, MATCH)                                      \
    static type fn(const char *s)                                              \
    {                                                                          \
        if (!s)                                                                \
            return P##_NONE;                                                   \
        LIST(MATCH)                                                            \
        return P##_OTHER;                                                      \
    }
#define MATCH(ID, tok)                                                         \
    if (s[0] == (tok)[0] && strcmp(s, tok) == 0)                               \
        return ID;

#define ON_E(id, tok) [LMR__ON_##id] = tok,
#define ON_M(id, tok) MATCH(LMR__ON_##id, tok)
#define BY_E(id, tok) [LMR__BY_##id] = tok,
#define BY_M(id, tok) MATCH(LMR__BY_##id, tok)
#define REASON_E(id, tok) [LMR__REASON_##id] = tok,
#define REASON_M(id, tok) MATCH(LMR__REASON_##id, tok)
#define GK_E(id, tok) [LMR__GK_##id] = tok,
#define GK_M(id, tok) MATCH(LMR__GK_##id, tok)
#define MODE_E(id, tok) [LMR__MODE_##id] = tok,
#define MODE_M(id, tok) MATCH(LMR__MODE_##id, tok)
#define OUT_E(id, tok) [LMR__OUT_##id] = tok,
#define OUT_M(id, tok) MATCH(LMR__OUT_##id, tok)
#define DIR_E(id, tok) [LMR__DIR_##id] = tok,
#define DIR_M(id, tok) MATCH(LMR__DIR_##id, tok)
#define CLOCK_E(id, tok) [LMR__CLOCK_##id] = tok,

SPELLINGS(on, LMR__ON, LM_VOCAB_ON, ON_E)
SPELLINGS(by, LMR__BY, LM_VOCAB_BY, BY_E)
SPELLINGS(reason, LMR__REASON, LM_VOCAB_REASON, REASON_E)
SPELLINGS(gkind, LMR__GK, LM_VOCAB_GROUP_KIND, GK_E)
SPELLINGS(mode, LMR__MODE, LM_VOCAB_MODE, MODE_E)
SPELLINGS(outcome, LMR__OUT, LM_VOCAB_OUTCOME, OUT_E)
SPELLINGS(dir, LMR__DIR, LM_VOCAB_DIR, DIR_E)
SPELLINGS(clock, LMR__CLOCK, LM_VOCAB_CLOCK, CLOCK_E)

DECODER(on_id, lmr__on, LMR__ON, LM_VOCAB_ON, ON_M)
DECODER(by_id, lmr__by, LMR__BY, LM_VOCAB_BY, BY_M)
DECODER(dir_id, lmr__dir, LMR__DIR, LM_VOCAB_DIR, DIR_M)
DECODER(kind_id, lmr__gkind, LMR__GK, LM_VOCAB_GROUP_KIND, GK_M)
DECODER(mode_id, lmr__mode, LMR__MODE, LM_VOCAB_MODE, MODE_M)
DECODER(outcome_id, lmr__outcome, LMR__OUT, LM_VOCAB_OUTCOME, OUT_M)
DECODER(reason_id, lmr__reason, LMR__REASON, LM_VOCAB_REASON, REASON_M)

bool lmr__clock_is_virtual(const char *clock)
{
    return LMR__TOK_ID(lmr__clock_tok, clock) == LMR__CLOCK_VIRTUAL;
}

void lmr__event_tokens(lmr__event *e)
{
    e->on_id = on_id(e->on);
    e->by_id = by_id(e->by);
    e->dir_id = dir_id(e->dir);
    e->kind_id = kind_id(e->group_kind);
    e->mode_id = mode_id(e->mode);
    e->outcome_id = outcome_id(e->outcome);
    e->reason_id = reason_id(e->reason);
}

int lmr__tok_id(const char *const *tab, int n, const char *s)
{
    if (!s)
        return 0;
    /* The first byte rejects almost every entry without a call. */
    for (int i = 1; i < n - 1; i++)
        if (tab[i][0] == s[0] && strcmp(tab[i], s) == 0)
            return i;
    return n - 1;
}

typedef struct vocab_def {
    const char *name;
    const char *st[LMR__ST__COUNT];
} vocab_def;

/*
 * asyncio (seed 000) has one more step than loopmaid: Coroutine -> Task ->
 * Pending. loopmaid's `created` is the un-started coroutine and `pending` is
 * the scheduled task, so created = "Coroutine" and pending = "Pending"; the
 * state view labels the created -> pending edge with create_task-like words.
 */
static const vocab_def vocabs[] = {
    {"loopmaid", { /* the trace's own words */
#define TOK(id, tok) tok,
                  LM_VOCAB_STATES(TOK)
#undef TOK
                 }},
    {"asyncio", {"Coroutine", "Pending", "Running", "Awaiting", "Done",
                 "Failed", "Cancelled"}},
    {"seed002", {"Created", "Scheduled", "Running", "Suspended", "Done",
                 "Error", "Cancelled"}},
};
#define NVOCABS (sizeof vocabs / sizeof vocabs[0])

static const vocab_def *find_vocab(const char *s, size_t n)
{
    for (size_t i = 0; i < NVOCABS; i++)
        if (strlen(vocabs[i].name) == n && strncasecmp(vocabs[i].name, s, n) == 0)
            return &vocabs[i];
    return NULL;
}

static void set_base(lmr__vocab *v, const vocab_def *d)
{
    for (int i = 0; i < LMR__ST__COUNT; i++) {
        strncpy(v->name[i], d->st[i], LMR__VOCAB_NAME_MAX - 1);
        v->name[i][LMR__VOCAB_NAME_MAX - 1] = '\0';
    }
}

static int vocab_err(lmr_error *err, const char *fmt, const char *a, size_t an)
{
    if (!err)
        return LMR_EUSAGE;
    memset(err, 0, sizeof *err);
    err->code = LMR_EUSAGE;
    char item[64];
    size_t k = an < sizeof item - 1 ? an : sizeof item - 1;
    memcpy(item, a, k);
    item[k] = '\0';
    snprintf(err->msg, sizeof err->msg, fmt, item);
    return LMR_EUSAGE;
}

int lmr__vocab_parse(const char *spec, lmr__vocab *v, lmr_error *err)
{
    set_base(v, &vocabs[0]);
    if (!spec || !*spec)
        return 0;
    bool seen[LMR__ST__COUNT] = {false};
    const char *p = spec;
    bool first = true;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq) {
            const vocab_def *d = first ? find_vocab(p, n) : NULL;
            if (!d)
                return vocab_err(err,
                    first ? "unknown vocabulary '%s' (use loopmaid, "
                            "asyncio, seed002 or STATE=NAME,...)"
                          : "'%s' is not STATE=NAME (a base "
                            "vocabulary may only come first)", p, n);
            set_base(v, d);
        } else {
            size_t kn = (size_t)(eq - p), vn = n - kn - 1;
            int st = -1;
            for (int i = 0; i < LMR__ST__COUNT; i++)
                if (strlen(lmr__state_tok[i]) == kn &&
                    strncmp(lmr__state_tok[i], p, kn) == 0)
                    st = i;
            if (st < 0)
                return vocab_err(err, "unknown state '%s' (states are "
                                 "created pending running awaiting done failed "
                                 "cancelled)", p, kn);
            if (seen[st])
                return vocab_err(err, "state '%s' named twice", p, kn);
            if (vn == 0)
                return vocab_err(err, "empty name for state '%s'", p, kn);
            if (vn >= LMR__VOCAB_NAME_MAX)
                return vocab_err(err, "the name for state '%s' is "
                                 "longer than 63 bytes", p, kn);
            seen[st] = true;
            memcpy(v->name[st], eq + 1, vn);
            v->name[st][vn] = '\0';
        }
        first = false;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/*
 * The options carry the spec as text; parsing it each call would be cheap
 * but returns no stable storage, so the last parse is cached per thread
 * (renderers ask for the same vocabulary hundreds of times). An invalid spec
 * (the CLI rejects those first) falls back to the trace spellings.
 */
const char *lmr__state_label(const lmr_options *o, int state)
{
    static _Thread_local char cached_spec[1024];
    static _Thread_local bool cached_ok;
    static _Thread_local lmr__vocab cached;
    if (state < 0 || state >= LMR__ST__COUNT)
        return "unknown";
    const char *spec = (o && o->states) ? o->states : "";
    if (!cached_ok || strncmp(cached_spec, spec, sizeof cached_spec) != 0) {
        if (strlen(spec) >= sizeof cached_spec ||
            lmr__vocab_parse(spec, &cached, NULL) < 0)
            set_base(&cached, &vocabs[0]);
        strncpy(cached_spec, spec, sizeof cached_spec - 1);
        cached_spec[sizeof cached_spec - 1] = '\0';
        cached_ok = true;
    }
    return cached.name[state];
}

/* ------------------------------------------------------------------------ */
/* Words for causes (state and tasks views)                                  */
/* ------------------------------------------------------------------------ */

/* Both seed vocabularies come from asyncio docs, so both speak asyncio. */
bool lmr__speaks_asyncio(const lmr_options *o)
{
    const char *s = o && o->states ? o->states : "";
    static const char *const bases[] = {"asyncio", "seed002"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(bases[i]);
        if (strncasecmp(s, bases[i], n) == 0 && (s[n] == '\0' || s[n] == ','))
            return true;
    }
    return false;
}

/* Words for one token, indexed by its id; {NULL, NULL} where a token has
 * none (it is then shown as written). */
typedef struct word_pair {
    const char *loopmaid, *asyncio;
} word_pair;

/* What an `on` token awaits, in each vocabulary. Unknown tokens (the set is
 * open) are shown as written. */
static const word_pair await_words[LMR__ON_OTHER + 1] = {
    [LMR__ON_SLEEP] = {"await sleep", "await asyncio.sleep()"},
    [LMR__ON_IO] = {"await I/O", "await socket I/O"},
    [LMR__ON_TASK] = {"await task", "await task"},
    [LMR__ON_GATHER] = {"await gather", "await asyncio.gather()"},
    [LMR__ON_WAIT] = {"await wait", "await asyncio.wait()"},
    [LMR__ON_TASKGROUP] = {"await task group", "async with TaskGroup()"},
    [LMR__ON_WAIT_FOR] = {"await wait_for", "await asyncio.wait_for()"},
    [LMR__ON_FUTURE] = {"await future", "await future"},
    [LMR__ON_EVENT] = {"await event", "await event.wait()"},
    [LMR__ON_QUEUE] = {"await queue", "await queue"},
    [LMR__ON_LOCK] = {"await lock", "async with lock"},
    [LMR__ON_SEMAPHORE] = {"await semaphore", "async with semaphore"},
    [LMR__ON_THREAD] = {"await thread", "await asyncio.to_thread()"},
};

/* What woke an awaiting task (`by`), in each vocabulary. */
static const word_pair wake_words[LMR__BY_OTHER + 1] = {
    [LMR__BY_TIMER] = {"timer", "sleep ended"},
    [LMR__BY_TIMEOUT] = {"deadline", "deadline passed"},
    [LMR__BY_IO] = {"I/O ready", "socket ready"},
    [LMR__BY_TASK] = {"task finished", "awaited task done"},
    [LMR__BY_FUTURE] = {"future set", "future set"},
    [LMR__BY_EVENT] = {"event set", "event set"},
    [LMR__BY_QUEUE] = {"queue", "queue ready"},
    [LMR__BY_LOCK] = {"lock released", "lock released"},
    [LMR__BY_SEMAPHORE] = {"semaphore released", "semaphore released"},
    [LMR__BY_THREAD] = {"thread finished", "thread finished"},
    [LMR__BY_CANCEL] = {"cancel", "cancel()"},
    [LMR__BY_SPAWN] = {"spawn", "create_task()"},
    [LMR__BY_YIELD] = {"yield", "await asyncio.sleep(0)"},
};

static const char *words(const word_pair *w, const lmr_options *o)
{
    return lmr__speaks_asyncio(o) ? w->asyncio : w->loopmaid;
}

void lmr__await_words(const lmr_options *o, lmr__on on, const char *written,
                      char *dst, size_t n)
{
    const char *w = words(&await_words[on], o);
    if (w)
        snprintf(dst, n, "%s", w);
    else
        snprintf(dst, n, "await%s%s", written ? " " : "",
                 written ? written : "");
}

const char *lmr__wake_words(const lmr_options *o, lmr__by by,
                            const char *written)
{
    const char *w = words(&wake_words[by], o);
    return w ? w : written ? written : "woken";
}

const char *lmr__cancel_words(const lmr_options *o, const char *reason)
{
    bool a = lmr__speaks_asyncio(o);
    switch ((lmr__reason)LMR__TOK_ID(lmr__reason_tok, reason)) {
    case LMR__REASON_NONE:
    case LMR__REASON_EXPLICIT:
        return a ? "task.cancel()" : "cancel";
    case LMR__REASON_TIMEOUT:
        return a ? "wait_for() deadline: cancel()" : "cancel at the deadline";
    case LMR__REASON_GROUP:
        return a ? "group cancel()" : "group cancel";
    case LMR__REASON_SHUTDOWN:
        return a ? "cancel() at loop shutdown" : "cancel at shutdown";
    case LMR__REASON_SIGNAL:
        return a ? "cancel() on KeyboardInterrupt" : "cancel on a signal";
    default:
        return reason;
    }
}
