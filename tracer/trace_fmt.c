/*
 * trace_fmt.c: turns binary trace records into YAML lines (format v1,
 * docs/trace-format.md). Everything here is async-signal-safe: no stdio, no
 * locale, no allocation (the emitter's flush callback decides whether room is
 * made by growing a heap buffer or by write(2)), so the crash handler uses the
 * very same code as the normal path and both produce identical bytes.
 */
#include "lm_trace.h"

#include <string.h>

/* The spellings, all from lm_vocab.h (which the reader shares), indexed by
 * the tracer's enums; a NULL entry is an enum's "none". */
const char *const lm__state_tok[LM_STATE_CANCELLED + 1] = {
#define TOK(id, tok) [LM_STATE_##id] = tok,
    LM_VOCAB_STATES(TOK)
#undef TOK
};
const char *const lm__on_tok[LM__ON__COUNT] = {
#define TOK(id, tok) [LM__ON_##id] = tok,
    LM_VOCAB_ON(TOK)
#undef TOK
};
const char *const lm__by_tok[LM__BY__COUNT] = {
#define TOK(id, tok) [LM__BY_##id] = tok,
    LM_VOCAB_BY(TOK)
#undef TOK
};
const char *const lm__reason_tok[LM__CANCEL__COUNT] = {
#define TOK(id, tok) [LM__CANCEL_##id] = tok,
    LM_VOCAB_REASON(TOK)
#undef TOK
};
const char *const lm__kind_tok[LM__GROUP__COUNT] = {
#define TOK(id, tok) [LM__GROUP_##id] = tok,
    LM_VOCAB_GROUP_KIND(TOK)
#undef TOK
};
const char *const lm__outcome_tok[LM__OUT__COUNT] = {
#define TOK(id, tok) [LM__OUT_##id] = tok,
    LM_VOCAB_OUTCOME(TOK)
#undef TOK
};

/* Group modes as trace.c stores them in p1: the table's position + 1
 * (0: no mode). */
static const char *const mode_tok[] = {
    NULL,
#define TOK(id, tok) tok,
    LM_VOCAB_MODE(TOK)
#undef TOK
};

/* dir as the LM_READABLE | LM_WRITABLE bits (1..3). */
static const char *const dir_tok[4] = {
    NULL,
#define TOK(id, tok) tok,
    LM_VOCAB_DIR(TOK)
#undef TOK
};

/* The header's clock, in the table's order. */
enum {
#define TOK(id, tok) CLK_##id,
    LM_VOCAB_CLOCK(TOK)
#undef TOK
};
static const char *const clock_tok[] = {
#define TOK(id, tok) [CLK_##id] = tok,
    LM_VOCAB_CLOCK(TOK)
#undef TOK
};

static const char *const kind_name[LM__R__COUNT] = {
#define TOK(id, tok) [LM__R_##id] = tok,
    LM_VOCAB_EVENTS(TOK)
#undef TOK
};

/* The keys, each as the ", key: " that introduces it, with its length: one
 * copy per key, as cheap as the literals they replace (the index is a
 * constant, so the compiler folds the lookup). */
enum {
#define TOK(id, tok) KEY_##id,
    LM_VOCAB_KEYS(TOK)
#undef TOK
};
static const struct {
    const char *s;
    unsigned char n;
} key_sep[] = {
#define TOK(id, tok) [KEY_##id] = {", " tok ": ", sizeof(", " tok ": ") - 1},
    LM_VOCAB_KEYS(TOK)
#undef TOK
};

/* Our own copy of the code -> name map, made from the same X-macro as the
 * enum, so it cannot drift and is safe to call from a signal handler. */
const char *lm__err_tok(int err)
{
    switch (err) {
#define LM__ERR_TOK(name, val, text) case val: return "LM_" #name;
        LM_ERRNO_MAP(LM__ERR_TOK)
#undef LM__ERR_TOK
    default:
        return err < LM_EUSER ? "LM_EUSER" : "LM_EUNKNOWN";
    }
}

/* ------------------------------------------------------------------------ */
/* The emitter                                                               */
/* ------------------------------------------------------------------------ */

static bool room(lm__emit *e, size_t need)
{
    if (e->failed)
        return false;
    if (e->len + need <= e->cap)
        return true;
    if (e->flush && e->flush(e, need) == 0 && e->len + need <= e->cap)
        return true;
    e->failed = true;
    return false;
}

void lm__emit_bytes(lm__emit *e, const char *p, size_t n)
{
    /* Copy in pieces no larger than the buffer, so a small fixed buffer (the
     * crash path) can carry a long string by writing it out as it goes. */
    while (n > 0) {
        size_t chunk = n;
        if (e->cap > 0 && chunk > e->cap / 2)
            chunk = e->cap / 2 > 0 ? e->cap / 2 : 1;
        if (!room(e, chunk))
            return;
        memcpy(e->buf + e->len, p, chunk);
        e->len += chunk;
        p += chunk;
        n -= chunk;
    }
}

void lm__emit_str(lm__emit *e, const char *s) { lm__emit_bytes(e, s, strlen(s)); }

/* The common case inline: room in the buffer, copy, done. Formatting cost is
 * mostly these small copies, so literals carry their length (PUTL). */
static inline void put(lm__emit *e, const char *p, size_t n)
{
    if (LM__LIKELY(e->len + n <= e->cap && !e->failed)) {
        memcpy(e->buf + e->len, p, n);
        e->len += n;
    } else {
        lm__emit_bytes(e, p, n);
    }
}
#define PUTL(e, lit) put((e), (lit), sizeof(lit) - 1)
#define PUTS(e, str) put((e), (str), strlen(str))

/* "00".."99": integers are written two digits per division. Every line has
 * a time stamp and most have ids, so this was the writer thread's hottest
 * function with one digit per division. */
static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* u in decimal, right-aligned in tmp[0..24); returns where it starts. */
static size_t fmt_u64(char tmp[24], uint64_t u)
{
    size_t i = 24;
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        tmp[--i] = digits2[d + 1];
        tmp[--i] = digits2[d];
    }
    if (u >= 10) {
        tmp[--i] = digits2[u * 2 + 1];
        tmp[--i] = digits2[u * 2];
    } else {
        tmp[--i] = (char)('0' + u);
    }
    return i;
}

void lm__emit_i64(lm__emit *e, int64_t v)
{
    char tmp[24];
    /* Negate in unsigned arithmetic: INT64_MIN has no positive twin. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t i = fmt_u64(tmp, u);
    if (v < 0)
        tmp[--i] = '-';
    put(e, tmp + i, sizeof tmp - i);
}

static const char hexd[] = "0123456789ABCDEF";

static void emit_esc_x(lm__emit *e, unsigned c)
{
    char b[4] = {'\\', 'x', hexd[(c >> 4) & 15], hexd[c & 15]};
    lm__emit_bytes(e, b, 4);
}

static void emit_esc_u(lm__emit *e, unsigned c)
{
    char b[6] = {'\\', 'u', hexd[(c >> 12) & 15], hexd[(c >> 8) & 15],
                 hexd[(c >> 4) & 15], hexd[c & 15]};
    lm__emit_bytes(e, b, 6);
}

/*
 * Length of the well-formed UTF-8 sequence at s[0..n) (2..4) with its code
 * point in *cp, or 0 when it is ill-formed; then *bad is the length of the
 * maximal ill-formed subpart to replace with one U+FFFD (Unicode's
 * "substitution of maximal subparts" practice, as most decoders do).
 */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp,
                       size_t *bad)
{
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF, v;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2; v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        unsigned d = i < n ? s[i] : 0;
        if (i >= n || d < lo || d > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (d & 0x3F);
    }
    *cp = v;
    return len;
}

void lm__emit_quoted(lm__emit *e, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0; /* s[run..i) is a stretch written as is */
    PUTL(e, "\"");
    while (i < n) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            unsigned cp = 0;
            size_t bad = 0, len = utf8_seq(s + i, n - i, &cp, &bad);
            if (len != 0 && cp >= 0xA0 && cp != 0x2028 && cp != 0x2029 &&
                cp != 0xFEFF && cp != 0xFFFE && cp != 0xFFFF) {
                i += len; /* printable: stays in the raw run */
                continue;
            }
            put(e, (const char *)s + run, i - run);
            if (len == 0) {
                lm__emit_bytes(e, "\xEF\xBF\xBD", 3); /* U+FFFD */
                i += bad;
            } else {
                if (cp < 0x100)
                    emit_esc_x(e, cp); /* C1 controls, U+0085 included */
                else
                    emit_esc_u(e, cp);
                i += len;
            }
            run = i;
            continue;
        }
        put(e, (const char *)s + run, i - run);
        switch (c) {
        case '"': lm__emit_bytes(e, "\\\"", 2); break;
        case '\\': lm__emit_bytes(e, "\\\\", 2); break;
        case '\n': lm__emit_bytes(e, "\\n", 2); break;
        case '\t': lm__emit_bytes(e, "\\t", 2); break;
        case '\r': lm__emit_bytes(e, "\\r", 2); break;
        default: emit_esc_x(e, c); break; /* other C0 controls and DEL */
        }
        run = ++i;
    }
    put(e, (const char *)s + run, i - run);
    PUTL(e, "\"");
}

/* ------------------------------------------------------------------------ */
/* Header and events                                                         */
/* ------------------------------------------------------------------------ */

void lm__emit_header(lm__emit *e, const char *program, lm_clock_kind clock,
                     size_t ring)
{
    PUTL(e, "loopmaid: 1\nprogram: ");
    lm__emit_quoted(e, program, strlen(program));
    PUTL(e, "\nclock: ");
    PUTS(e, clock_tok[clock == LM_CLOCK_VIRTUAL ? CLK_VIRTUAL
                                                : CLK_MONOTONIC]);
    PUTL(e, "\n");
    if (ring > 0) {
        PUTL(e, "ring: ");
        lm__emit_i64(e, (int64_t)ring);
        PUTL(e, "\n");
    }
    PUTL(e, "events:\n");
}

/* ", key: " then an integer / a token / a quoted string; id is KEY_id's. */
static void put_u64(lm__emit *e, uint64_t v)
{
    char tmp[24];
    size_t i = fmt_u64(tmp, v);
    put(e, tmp + i, sizeof tmp - i);
}
#define KEY(e, id) put((e), key_sep[KEY_##id].s, key_sep[KEY_##id].n)
#define kv_int(e, id, v) (KEY(e, id), lm__emit_i64(e, v))
#define kv_u64(e, id, v) (KEY(e, id), put_u64(e, v))
#define kv_tok(e, id, tok) (KEY(e, id), PUTS(e, tok))
#define kv_istr(e, v, id, ref) (KEY(e, id), istr_val(e, v, ref))
#define kv_astr(e, v, id, ref) (KEY(e, id), astr_val(e, v, ref))

/* Interned / arena strings: a missing string (out of memory when recorded)
 * is written as "" so the line stays well-formed. */
static void istr_val(lm__emit *e, const lm__strs *v, uint32_t ref)
{
    size_t n = 0;
    const char *s = lm__strs_i(v, ref, &n);
    lm__emit_quoted(e, s ? s : "", s ? n : 0);
}

static void astr_val(lm__emit *e, const lm__strs *v, uint32_t ref)
{
    size_t n = 0;
    const char *s = lm__strs_a(v, ref, &n);
    lm__emit_quoted(e, s ? s : "", s ? n : 0);
}

static const char *tok_or(const char *const *tab, size_t n, unsigned i,
                          const char *dflt)
{
    return i < n && tab[i] ? tab[i] : dflt;
}

#define NSTATES (sizeof lm__state_tok / sizeof lm__state_tok[0])

static void emit_state(lm__emit *e, const lm__strs *v, const lm__rec *r)
{
    unsigned from = r->p0 & 15, to = r->p0 >> 4;
    kv_u64(e, TASK, r->a);
    kv_tok(e, FROM, tok_or(lm__state_tok, NSTATES, from, "unknown"));
    kv_tok(e, TO, tok_or(lm__state_tok, NSTATES, to, "unknown"));
    if (r->p1 != LM__ON_NONE) {
        kv_tok(e, ON, tok_or(lm__on_tok, LM__ON__COUNT, r->p1, "unknown"));
        switch (r->p1) {
        case LM__ON_IO:
            kv_int(e, FD, r->i);
            if (r->c >= 1 && r->c <= 3)
                kv_tok(e, DIR, dir_tok[r->c]);
            break;
        case LM__ON_GATHER:
        case LM__ON_WAIT:
        case LM__ON_TASKGROUP:
        case LM__ON_WAIT_FOR:
            if (r->c > 0)
                kv_int(e, GROUP, r->c);
            break;
        default:
            break;
        }
        /* The awaited task: lm_join, and wait_for's single member. */
        if (r->b != 0)
            kv_u64(e, AWAITS, r->b);
    }
    if (r->p2 != LM__BY_NONE) {
        kv_tok(e, BY, tok_or(lm__by_tok, LM__BY__COUNT, r->p2, "unknown"));
        if (r->b != 0)
            kv_u64(e, BY_TASK, r->b);
    }
    if (to == LM_STATE_FAILED) {
        KEY(e, ERROR);
        PUTL(e, "\"");
        PUTS(e, lm__err_tok(r->i));
        PUTL(e, "\"");
        kv_int(e, CODE, r->i);
        if (r->s2)
            kv_astr(e, v, MESSAGE, r->s2);
    }
    if (r->s1)
        kv_istr(e, v, LABEL, r->s1);
}

static void emit_group(lm__emit *e, const lm__strs *v, const lm__rec *r)
{
    kv_u64(e, GROUP, r->a);
    kv_tok(e, KIND, tok_or(lm__kind_tok, LM__GROUP__COUNT, r->p0, "unknown"));
    kv_u64(e, OWNER, r->b);
    KEY(e, MEMBERS);
    PUTL(e, "[");
    size_t n = 0;
    const char *blob = lm__strs_a(v, r->s2, &n);
    for (size_t k = 0; blob && k < n / 8; k++) {
        uint64_t id;
        memcpy(&id, blob + 8 * k, 8);
        if (k > 0)
            PUTL(e, ", ");
        put_u64(e, id);
    }
    PUTL(e, "]");
    if (r->p1 > 0 && r->p1 < sizeof mode_tok / sizeof mode_tok[0])
        kv_tok(e, MODE, mode_tok[r->p1]);
    if (r->c >= 0)
        kv_int(e, TIMEOUT, r->c);
    if (r->s1)
        kv_istr(e, v, LABEL, r->s1);
}


void lm__emit_rec(lm__emit *e, const lm__trace *tr, const lm__rec *r)
{
    lm__strs v = lm__trace_strs(tr);
    lm__emit_rec_strs(e, &v, r);
}

void lm__emit_rec_strs(lm__emit *e, const lm__strs *v, const lm__rec *r)
{
    if (r->kind == 0 || r->kind >= LM__R__COUNT)
        return; /* never recorded; nothing sensible to write */
    PUTL(e, "  - {");
    put(e, key_sep[KEY_T].s + 2, key_sep[KEY_T].n - 2u); /* no ", " first */
    lm__emit_i64(e, r->t);
    KEY(e, EV);
    PUTS(e, kind_name[r->kind]);
    uint32_t loop = v->loopno ? v->loopno : 1;
    if (loop != 1 || r->kind == LM__R_LOOP_START || r->kind == LM__R_LOOP_END)
        kv_int(e, LOOP, loop);
    switch (r->kind) {
    case LM__R_LOOP_START:
        if (r->s2)
            kv_astr(e, v, NAME, r->s2);
        break;
    case LM__R_LOOP_END:
        break;
    case LM__R_SPAWN:
        kv_u64(e, TASK, r->a);
        kv_astr(e, v, NAME, r->s2);
        kv_u64(e, PARENT, r->b);
        break;
    case LM__R_STATE:
        emit_state(e, v, r);
        break;
    case LM__R_NOTE:
        kv_u64(e, TASK, r->a);
        kv_astr(e, v, TEXT, r->s2);
        break;
    case LM__R_NAME:
        kv_u64(e, TASK, r->a);
        kv_astr(e, v, NAME, r->s2);
        break;
    case LM__R_GROUP:
        emit_group(e, v, r);
        break;
    case LM__R_GROUP_END:
        kv_u64(e, GROUP, r->a);
        if (r->p0 != LM__OUT_OTHER && r->p0 < LM__OUT__COUNT)
            kv_tok(e, OUTCOME, lm__outcome_tok[r->p0]);
        else if (r->s1)
            kv_istr(e, v, OUTCOME, r->s1);
        else
            kv_tok(e, OUTCOME, "unknown");
        if (r->i != 0) {
            KEY(e, ERROR);
            PUTL(e, "\"");
            PUTS(e, lm__err_tok(r->i));
            PUTL(e, "\"");
        }
        break;
    case LM__R_CANCEL:
        kv_u64(e, TASK, r->a);
        kv_tok(e, REASON,
               tok_or(lm__reason_tok, LM__CANCEL__COUNT, r->p0, "unknown"));
        if (r->b != 0)
            kv_u64(e, BY_TASK, r->b);
        break;
    case LM__R_POLL:
        kv_int(e, TIMEOUT, r->c < 0 ? -1 : r->c);
        kv_int(e, WAITED, (int64_t)r->b);
        kv_int(e, READY, r->i);
        break;
    case LM__R_IO:
        kv_u64(e, TASK, r->a);
        kv_int(e, FD, r->i);
        kv_tok(e, DIR, r->p0 >= 1 && r->p0 <= 3 ? dir_tok[r->p0] : "read");
        break;
    case LM__R_TIMER:
        kv_u64(e, TASK, r->a);
        break;
    case LM__R_CALL:
        if (r->s1)
            kv_istr(e, v, LABEL, r->s1);
        break;
    case LM__R_TICK:
        kv_u64(e, N, r->a);
        kv_int(e, RAN, r->i);
        kv_u64(e, IO, r->b);
        kv_int(e, TIMERS, r->c);
        break;
    case LM__R_GAP:
        kv_u64(e, DROPPED, r->a);
        break;
    default:
        break;
    }
    PUTL(e, "}\n");
}
