/*
 * reader.c: the streaming trace reader (lmr__read).
 *
 * A trace (docs/trace-format.md, v1) is one YAML document: a header mapping
 * and an `events:` sequence of one-line flow mappings. We read it with
 * libyaml's EVENT API, never its document API, and decode one trace event at
 * a time into a reused scratch area, so memory is O(longest event), whatever
 * the number of events. Nothing here allocates per event once the scratch
 * buffers have grown to the largest event seen.
 *
 * Hostile input is expected (traces are files people pass around), so every
 * way the bytes could make us use unbounded memory or time is capped, each
 * cap reported as LMR_ELIMIT with the limit in the message:
 *
 *   LMR__MAX_TOKEN   4 MiB   raw bytes libyaml may read while producing ONE
 *                            parser event. libyaml buffers a whole scalar
 *                            before it hands it over, so without this a 1 GB
 *                            scalar would cost 1 GB before we could refuse it.
 *                            We count bytes in our read handler and make it
 *                            fail once one yaml_parser_parse call has read
 *                            more than this.
 *   LMR__MAX_SCALAR  256 KiB one decoded scalar (the format asks readers to
 *                            accept 256 KiB; the writer caps strings at 64 KiB).
 *   LMR__MAX_NAME    64 KiB  a task/loop name or the program name.
 *   LMR__MAX_DEPTH   32      collections nested in each other (a trace needs
 *                            4; unknown keys may carry a little structure).
 *   LMR__MAX_MEMBERS 1 Mi    members of one `group` event: exactly what the
 *                            tracer allows in one call (LM_GROUP_MAX_MEMBERS),
 *                            so its traces always read; 8 MiB of ids at most.
 *
 * YAML aliases and anchors are refused outright: a trace never needs them,
 * and they are what "billion laughs" documents are made of. Invalid UTF-8,
 * NUL and other control bytes are refused by libyaml's reader; we turn its
 * byte offset into a line and column by re-reading the file up to it.
 *
 * Errors are reported once, with the position of the offending node:
 * `FILE:LINE:COL: message` (1-based, from libyaml's 0-based marks).
 *
 * Truncation: a program that crashed may leave a last line without its
 * newline. When libyaml (or the event check) fails on that last, unterminated
 * line after the events began, lmr__read stops there, returns 0, sets
 * *truncated and leaves in *err an LMR_ETRUNCATED record with the position of
 * the partial line, for the caller to print as a warning.
 *
 * Fast path: when the first event is "  - {...}" and every later line is in
 * the tracer's canonical one-line form, fastline.c decodes those lines
 * instead of libyaml (same slots, same decode(), same errors); see its
 * header for why that is provably what libyaml would have given.
 */
#include "lmr_internal.h"
#include "loopmaid.h" /* LM_GROUP_MAX_MEMBERS */
#include "fastline.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <yaml.h>

/* An internal return meaning "the trace stops here: truncated". */
#define RD_TRUNC 1

/* The event keys we know (tracer/lm_vocab.h). Everything else is skipped
 * unread. */
enum {
#define TOK(id, tok) K_##id,
    LM_VOCAB_KEYS(TOK)
#undef TOK
    K__COUNT
};

/* read_event tracks the filled slots in one 64-bit mask. */
_Static_assert(K__COUNT <= 64, "slot mask too small");

static const char *const key_names[K__COUNT] = {
#define TOK(id, tok) [K_##id] = tok,
    LM_VOCAB_KEYS(TOK)
#undef TOK
};

/* One key's value inside the event being decoded. */
typedef struct slot {
    bool set;
    bool null;       /* plain empty, ~ or null */
    bool seq;        /* a sequence (members) */
    size_t off, len; /* into rd.arena */
    int line, col;   /* 1-based, of the value */
} slot;

typedef struct rd {
    yaml_parser_t p;
    yaml_event_t ev;
    bool have_ev;
    FILE *fp;
    const char *name;
    lmr_error *err;
    lmr__header *h;
    /* Input accounting, kept by read_handler. */
    uint64_t nread;      /* bytes handed to libyaml */
    uint64_t step_bytes; /* bytes read during the current parse call */
    uint64_t nl;         /* '\n' bytes seen */
    uint64_t last_nl;    /* offset just after the last '\n'; 0 = none */
    int last_byte;       /* -1 before any byte */
    bool eof, limit_hit, io_error;
    off_t start;         /* ftello(fp) when we began; -1 when unseekable */
    int depth;
    yaml_mark_t last_mark; /* end of the last event libyaml gave us */
    /* Events. */
    bool in_events;
    bool fast_done;      /* fastline.c read the rest of the events */
    uint64_t nevents;
    slot slots[K__COUNT];
    uint64_t used;       /* bit k: slots[k] was filled by the last event */
    char *arena;         /* NUL-separated scalar values of one event */
    size_t alen, acap;
    uint64_t *mem;       /* members of one event */
    size_t nmem, capmem;
    /* Told how far the read has come (api.c's progress); NULL = nobody. */
    lmr__bytes_fn on_bytes;
    void *bytes_ctx;
} rd;

/* ------------------------------------------------------------------------ */
/* Input                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * The number of '\n' bytes in buf. Eight bytes at a time: a word's bytes
 * equal to '\n' become zero after the XOR, and the classic "which bytes are
 * zero" bit trick (exact, no false positives) marks each with its top bit,
 * and one multiply adds the marks up. Several times faster than a byte loop, which
 * matters because every input byte passes here.
 */
static uint64_t count_newlines(const unsigned char *buf, size_t n)
{
    const uint64_t ones7 = 0x7f7f7f7f7f7f7f7full;
    const uint64_t nls = 0x0a0a0a0a0a0a0a0aull;
    uint64_t nl = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        uint64_t x = w ^ nls;
        uint64_t y = ((x & ones7) + ones7) | x | ones7;
        /* One 0/1 per byte, summed into the top byte by a multiply. */
        nl += (((~y >> 7) & 0x0101010101010101ull) * 0x0101010101010101ull) >>
              56;
    }
    for (; i < n; i++)
        nl += buf[i] == '\n';
    return nl;
}

/*
 * libyaml's read callback. Counts what passes (for positions, truncation and
 * the per-token cap) and refuses to read on once one parse step has consumed
 * LMR__MAX_TOKEN bytes. Returns 1 on success (size_read 0 = end of input).
 */
static int read_handler(void *data, unsigned char *buf, size_t size,
                        size_t *size_read)
{
    rd *r = data;
    *size_read = 0;
    if (r->step_bytes > LMR__MAX_TOKEN) {
        r->limit_hit = true;
        return 0;
    }
    size_t n = fread(buf, 1, size, r->fp);
    if (n == 0) {
        if (ferror(r->fp)) {
            r->io_error = true;
            return 0;
        }
        r->eof = true;
        return 1;
    }
    /* Counting newlines is one cheap pass next to libyaml's own scanning;
     * it tells us which line is the last one (truncation check). */
    uint64_t nl = count_newlines(buf, n);
    if (nl) {
        r->nl += nl;
        const unsigned char *q = memrchr(buf, '\n', n);
        r->last_nl = r->nread + (uint64_t)(q - buf) + 1;
    }
    r->nread += n;
    r->step_bytes += n;
    r->last_byte = buf[n - 1];
    if (r->on_bytes)
        r->on_bytes(r->bytes_ctx, r->nread);
    *size_read = n;
    return 1;
}

/* All input has been read (the error, if any, is about the final bytes). */
static bool at_eof(const rd *r) { return r->eof || feof(r->fp); }

/* The 1-based number of the input's last line (libyaml reports errors at
 * the end of input one line further: it closes the stream with a break). */
static int last_line(const rd *r)
{
    return r->nl >= INT32_MAX ? INT32_MAX : (int)r->nl + 1;
}

/* Whether a problem on 0-based `line` is on a last line cut short. */
static bool on_cut_line(const rd *r, uint64_t line)
{
    return r->in_events && at_eof(r) && r->last_byte >= 0 &&
           r->last_byte != '\n' && line >= r->nl;
}

/*
 * Turns a byte offset of the input into a 1-based line and column (column in
 * characters) by reading the input again from where we started. Only on the
 * error path; O(offset). Leaves 0/0 when the input cannot be re-read.
 */
static void offset_to_pos(rd *r, uint64_t off, int *line, int *col)
{
    *line = *col = 0;
    if (r->start < 0 || fseeko(r->fp, r->start, SEEK_SET) != 0)
        return;
    clearerr(r->fp);
    unsigned char buf[8192];
    uint64_t pos = 0, l = 1, c = 1;
    while (pos < off) {
        size_t want = sizeof buf;
        if (off - pos < want)
            want = (size_t)(off - pos);
        size_t n = fread(buf, 1, want, r->fp);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                l++;
                c = 1;
            } else if ((buf[i] & 0xC0) != 0x80) {
                c++;
            }
        }
        pos += n;
    }
    *line = l > INT32_MAX ? INT32_MAX : (int)l;
    *col = c > INT32_MAX ? INT32_MAX : (int)c;
}

static int mline(const yaml_mark_t *m)
{
    return m->line >= INT32_MAX ? INT32_MAX : (int)m->line + 1;
}
static int mcol(const yaml_mark_t *m)
{
    return m->column >= INT32_MAX ? INT32_MAX : (int)m->column + 1;
}

/*
 * The input ends in a partial line at the given 1-based position. After the
 * events began, that is a crashed program's trace: say so and stop (a
 * warning). Before, there is nothing to show: an error.
 */
static int cut_here(rd *r, int line, int col)
{
    if (!r->in_events)
        return lmr__err(r->err, LMR_ETRUNCATED, r->name, line, col,
                        "trace is truncated before its first event");
    lmr__err(r->err, LMR_ETRUNCATED, r->name, line, col,
             "trace is truncated after event %" PRIu64
             "; rendering what was recorded",
             r->nevents);
    return RD_TRUNC;
}

/* Copies at most `max` bytes of s, made safe to print on a terminal. */
static const char *shown(const char *s, size_t len, char *out, size_t max)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 4 < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[j++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (len > 0 && j + 4 >= max) {
        /* Do not leave half a UTF-8 sequence before the ellipsis. */
        while (j > 0 && ((unsigned char)out[j - 1] & 0xC0) == 0x80)
            j--;
        if (j > 0 && ((unsigned char)out[j - 1] & 0xC0) == 0xC0)
            j--;
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
    return out;
}

/* Converts libyaml's error into ours. Returns RD_TRUNC or a negative code. */
static int yaml_fail(rd *r)
{
    if (r->io_error)
        return lmr__err(r->err, LMR_EIO, r->name, 0, 0, "cannot read: %s",
                        strerror(errno));
    if (r->limit_hit)
        return lmr__err(r->err, LMR_ELIMIT, r->name, mline(&r->last_mark),
                        mcol(&r->last_mark),
                        "a YAML token after this point is longer than the "
                        "limit of %u bytes",
                        (unsigned)LMR__MAX_TOKEN);
    const char *problem = r->p.problem ? r->p.problem : "unknown problem";
    switch (r->p.error) {
    case YAML_MEMORY_ERROR:
        return lmr__err(r->err, LMR_ENOMEM, r->name, 0, 0, "out of memory");
    case YAML_READER_ERROR: {
        uint64_t off = r->p.problem_offset;
        if (at_eof(r) && r->last_byte != '\n' && off >= r->last_nl)
            return cut_here(r, last_line(r), 1);
        int line, col;
        offset_to_pos(r, off, &line, &col);
        if (r->p.problem_value >= 0)
            return lmr__err(r->err, LMR_ESYNTAX, r->name, line, col,
                            "not valid YAML: %s (value 0x%X at byte %" PRIu64
                            ")",
                            problem, (unsigned)r->p.problem_value, off);
        return lmr__err(r->err, LMR_ESYNTAX, r->name, line, col,
                        "not valid YAML: %s (at byte %" PRIu64 ")", problem,
                        off);
    }
    default: {
        const yaml_mark_t *m = &r->p.problem_mark;
        if (at_eof(r) && r->last_byte >= 0 && r->last_byte != '\n' &&
            m->line >= r->nl)
            return cut_here(r, last_line(r), 1);
        if (r->p.context)
            return lmr__err(r->err, LMR_ESYNTAX, r->name, mline(m), mcol(m),
                            "not valid YAML: %s %s (started at %d:%d)",
                            problem, r->p.context, mline(&r->p.context_mark),
                            mcol(&r->p.context_mark));
        return lmr__err(r->err, LMR_ESYNTAX, r->name, mline(m), mcol(m),
                        "not valid YAML: %s", problem);
    }
    }
}

static int err_at(rd *r, int code, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int err_at(rd *r, int code, const yaml_mark_t *m, const char *fmt, ...)
{
    char msg[sizeof r->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lmr__err(r->err, code, r->name, mline(m), mcol(m), "%s", msg);
}

/*
 * The next libyaml event into r->ev (the previous one is freed). Enforces the
 * limits that apply to every node: no aliases or anchors, nesting depth,
 * scalar size. Returns 0, RD_TRUNC or a negative code.
 */
static int next(rd *r)
{
    if (r->have_ev) {
        r->last_mark = r->ev.end_mark;
        yaml_event_delete(&r->ev);
        r->have_ev = false;
    }
    r->step_bytes = 0;
    if (!yaml_parser_parse(&r->p, &r->ev))
        return yaml_fail(r);
    r->have_ev = true;
    yaml_event_t *e = &r->ev;
    const yaml_char_t *anchor = NULL;
    switch (e->type) {
    case YAML_ALIAS_EVENT:
        return err_at(r, LMR_ESCHEMA, &e->start_mark,
                      "YAML aliases (*name) are not allowed in a trace");
    case YAML_SCALAR_EVENT:
        anchor = e->data.scalar.anchor;
        if (e->data.scalar.length > LMR__MAX_SCALAR)
            return err_at(r, LMR_ELIMIT, &e->start_mark,
                          "a scalar of %zu bytes is longer than the limit of "
                          "%u bytes",
                          e->data.scalar.length, (unsigned)LMR__MAX_SCALAR);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        anchor = e->type == YAML_SEQUENCE_START_EVENT
                     ? e->data.sequence_start.anchor
                     : e->data.mapping_start.anchor;
        if (++r->depth > LMR__MAX_DEPTH)
            return err_at(r, LMR_ELIMIT, &e->start_mark,
                          "YAML nested deeper than the limit of %d levels",
                          LMR__MAX_DEPTH);
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        r->depth--;
        break;
    default:
        break;
    }
    if (anchor)
        return err_at(r, LMR_ESCHEMA, &e->start_mark,
                      "YAML anchors (&name) are not allowed in a trace");
    return 0;
}

/* Skips the node whose first event is r->ev (a scalar or a collection). */
static int skip_node(rd *r)
{
    if (r->ev.type != YAML_SEQUENCE_START_EVENT &&
        r->ev.type != YAML_MAPPING_START_EVENT)
        return 0;
    int base = r->depth - 1, rc;
    while (r->depth > base)
        if ((rc = next(r)) != 0)
            return rc;
    return 0;
}

static const char *scalar(const rd *r) { return (const char *)r->ev.data.scalar.value; }

static bool is_null_scalar(const yaml_event_t *e)
{
    if (e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)e->data.scalar.value;
    if (*s && *s != '~' && *s != 'n' && *s != 'N')
        return false; /* the common case, decided by one byte */
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* Describes the node in r->ev for "found ..." in messages. */
static const char *found(const rd *r, char *buf, size_t n)
{
    switch (r->ev.type) {
    case YAML_SCALAR_EVENT: {
        char tmp[64];
        snprintf(buf, n, "\"%s\"",
                 shown(scalar(r), r->ev.data.scalar.length, tmp, sizeof tmp));
        return buf;
    }
    case YAML_SEQUENCE_START_EVENT:
        return "a sequence";
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* ------------------------------------------------------------------------ */
/* Integers                                                                 */
/* ------------------------------------------------------------------------ */

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_i64(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    uint64_t v;
    if (!parse_u64(s + neg, &v))
        return false;
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return false;
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v)
               : (int64_t)v;
    return true;
}

/* ------------------------------------------------------------------------ */
/* One trace event                                                          */
/* ------------------------------------------------------------------------ */

/*
 * Keys, kinds and states are matched by length first and then by one
 * fixed-size memcmp (which the compiler inlines), not by a strcmp chain:
 * this runs for every key of every event, so it is the reader's hot path.
 * The chain of tests is made from lm_vocab.h's lists (keys most frequent
 * first); a rejected entry costs one compare of the length.
 */
#define MATCH(ID, tok)                                                         \
    if (len == sizeof(tok) - 1 && memcmp(k, tok, sizeof(tok) - 1) == 0)        \
        return ID;

/* The key spelled by k[0..len), or -1. */
static int key_lookup(const char *k, size_t len)
{
    /* A scalar may hold an escaped NUL ("t\0x"); like the strcmp this
     * replaces, compare up to the first NUL (a key is at most 8 bytes). */
    if (len > 8)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!k[i]) {
            len = i;
            break;
        }
#define TOK(id, tok) MATCH(K_##id, tok)
    LM_VOCAB_KEYS(TOK)
#undef TOK
    return -1;
}

/* The kind named by `ev` (len bytes, NUL-terminated); UNKNOWN otherwise. */
static lmr__ev_kind kind_lookup(const char *k, size_t len)
{
#define TOK(id, tok) MATCH(LMR__EV_##id, tok)
    LM_VOCAB_EVENTS(TOK)
#undef TOK
    return LMR__EV_UNKNOWN;
}

/* A state's number, or -1 when `k` (len bytes) names none. */
static int state_lookup(const char *k, size_t len)
{
#define TOK(id, tok) MATCH(LMR__ST_##id, tok)
    LM_VOCAB_STATES(TOK)
#undef TOK
    return -1;
}
#undef MATCH

static int arena_add(rd *r, const char *s, size_t len, size_t *off)
{
    if (r->alen + len + 1 > r->acap) {
        size_t cap = r->acap ? r->acap : 1024;
        while (cap < r->alen + len + 1)
            cap *= 2;
        char *a = realloc(r->arena, cap);
        if (!a)
            return lmr__err(r->err, LMR_ENOMEM, r->name, 0, 0,
                            "out of memory");
        r->arena = a;
        r->acap = cap;
    }
    memcpy(r->arena + r->alen, s, len);
    r->arena[r->alen + len] = '\0';
    *off = r->alen;
    r->alen += len + 1;
    return 0;
}

/* Whatever the tracer can write, the reader reads (issue 15). */
_Static_assert(LMR__MAX_MEMBERS >= LM_GROUP_MAX_MEMBERS,
               "the reader must read every group the tracer can write");

/* The members list: a sequence of task ids. r->ev is its SEQUENCE_START. */
static int read_members(rd *r, slot *sl)
{
    int rc;
    char fb[96];
    sl->seq = true;
    r->nmem = 0;
    for (;;) {
        if ((rc = next(r)) != 0)
            return rc;
        if (r->ev.type == YAML_SEQUENCE_END_EVENT)
            return 0;
        uint64_t v;
        if (r->ev.type != YAML_SCALAR_EVENT || !parse_u64(scalar(r), &v))
            return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                          "key 'members' expects a list of task ids "
                          "(integers), found %s",
                          found(r, fb, sizeof fb));
        if (r->nmem >= LMR__MAX_MEMBERS)
            return err_at(r, LMR_ELIMIT, &r->ev.start_mark,
                          "a group has more than the limit of %u members",
                          (unsigned)LMR__MAX_MEMBERS);
        if (r->nmem == r->capmem) {
            size_t cap = r->capmem ? r->capmem * 2 : 64;
            uint64_t *m = realloc(r->mem, cap * sizeof *m);
            if (!m)
                return lmr__err(r->err, LMR_ENOMEM, r->name, 0, 0,
                                "out of memory");
            r->mem = m;
            r->capmem = cap;
        }
        r->mem[r->nmem++] = v;
    }
}

typedef struct decoder {
    rd *r;
    const char *kind;         /* for messages */
    const yaml_mark_t *start; /* the event's mapping */
} decoder;

static const char *sval(const decoder *d, int k)
{
    const slot *s = &d->r->slots[k];
    return s->set && !s->null && !s->seq ? d->r->arena + s->off : NULL;
}

static int missing(const decoder *d, int k, const char *what)
{
    return err_at(d->r, LMR_ESCHEMA, d->start,
                  "'%s' event has no '%s' key (expected %s)", d->kind,
                  key_names[k], what);
}

static int mistyped(const decoder *d, int k, const char *what)
{
    const slot *s = &d->r->slots[k];
    char tmp[64];
    const char *v = s->seq ? "a sequence" : NULL;
    char q[80];
    if (!v) {
        snprintf(q, sizeof q, "\"%s\"",
                 shown(d->r->arena + s->off, s->len, tmp, sizeof tmp));
        v = q;
    }
    return lmr__err(d->r->err, LMR_ESCHEMA, d->r->name, s->line, s->col,
                    "key '%s' expects %s, found %s", key_names[k], what, v);
}

/* Reads an unsigned key; *out keeps its default when the key is absent. */
static int get_u(const decoder *d, int k, bool required, uint64_t *out)
{
    const slot *s = &d->r->slots[k];
    if (!s->set || s->null)
        return required ? missing(d, k, "a non-negative integer") : 0;
    if (s->seq || !parse_u64(d->r->arena + s->off, out))
        return mistyped(d, k, "a non-negative integer");
    return 0;
}

static int get_i(const decoder *d, int k, bool required, int64_t *out)
{
    const slot *s = &d->r->slots[k];
    if (!s->set || s->null)
        return required ? missing(d, k, "an integer") : 0;
    if (s->seq || !parse_i64(d->r->arena + s->off, out))
        return mistyped(d, k, "an integer");
    return 0;
}

static int get_u32(const decoder *d, int k, bool required, uint32_t *out)
{
    uint64_t v = *out;
    int rc = get_u(d, k, required, &v);
    if (rc)
        return rc;
    if (v > UINT32_MAX)
        return mistyped(d, k, "an integer below 2^32");
    *out = (uint32_t)v;
    return 0;
}

static int get_s(const decoder *d, int k, bool required, const char **out)
{
    const slot *s = &d->r->slots[k];
    if (s->seq)
        return mistyped(d, k, "a string");
    if (!s->set || s->null) {
        if (required)
            return missing(d, k, "a string");
        return 0;
    }
    *out = d->r->arena + s->off;
    return 0;
}

static int get_state(const decoder *d, int k, int *out)
{
    const char *v = NULL;
    int rc = get_s(d, k, true, &v);
    if (rc)
        return rc;
    int st = state_lookup(v, strlen(v)); /* to the first NUL, as before */
    if (st >= 0) {
        *out = st;
        return 0;
    }
    return mistyped(d, k,
                    "a state (created, pending, running, awaiting, done, "
                    "failed or cancelled)");
}

/* `dir` is a closed token set (docs/trace-format.md, 4.5). */
static int get_dir(const decoder *d, bool required, const char **out)
{
    int rc = get_s(d, K_DIR, required, out);
    if (rc || !*out)
        return rc;
    if (LMR__TOK_ID(lmr__dir_tok, *out) == LMR__DIR_OTHER)
        return mistyped(d, K_DIR, "read, write or readwrite");
    return 0;
}

#define TRY(x)                                                                 \
    do {                                                                       \
        int rc_ = (x);                                                         \
        if (rc_)                                                               \
            return rc_;                                                        \
    } while (0)

/* The defaults, then what every event has: ev, t and loop. */
static inline int decode_head(decoder *d, lmr__event *e)
{
    rd *r = d->r;
    const yaml_mark_t *start = d->start;
    memset(e, 0, sizeof *e);
    e->loop = 1;
    e->from = e->to = -1;
    e->fd = -1;
    e->timeout = -1;
    e->line = mline(start);
    e->col = mcol(start);

    const char *ev = sval(d, K_EV);
    if (!r->slots[K_EV].set || !ev)
        return err_at(r, LMR_ESCHEMA, start,
                      "event has no 'ev' key (its kind, e.g. ev: state)");
    if (r->slots[K_EV].seq)
        return mistyped(d, K_EV, "an event kind");
    e->ev = ev;
    d->kind = ev;
    e->kind = kind_lookup(ev, strlen(ev)); /* to the first NUL, as before */
    TRY(get_i(d, K_T, true, &e->t));
    if (e->t < 0)
        return mistyped(d, K_T, "a time in nanoseconds (0 or more)");
    TRY(get_u32(d, K_LOOP, false, &e->loop));
    if (e->loop == 0)
        return mistyped(d, K_LOOP, "a loop number (1 or more)");
    return 0;
}

static inline int decode_state(decoder *d, lmr__event *e)
{
    TRY(get_u(d, K_TASK, true, &e->task));
    TRY(get_state(d, K_FROM, &e->from));
    TRY(get_state(d, K_TO, &e->to));
    TRY(get_s(d, K_ON, false, &e->on));
    TRY(get_i(d, K_FD, false, &e->fd));
    TRY(get_dir(d, false, &e->dir));
    TRY(get_u(d, K_AWAITS, false, &e->awaits));
    TRY(get_u32(d, K_GROUP, false, &e->group));
    TRY(get_s(d, K_BY, false, &e->by));
    TRY(get_u(d, K_BY_TASK, false, &e->by_task));
    TRY(get_s(d, K_ERROR, false, &e->error));
    TRY(get_i(d, K_CODE, false, &e->code));
    TRY(get_s(d, K_MESSAGE, false, &e->message));
    TRY(get_s(d, K_LABEL, false, &e->label));
    return 0;
}

/* The members point into the reader's list: valid until the next event. */
static inline int decode_group(decoder *d, lmr__event *e)
{
    rd *r = d->r;
    TRY(get_u32(d, K_GROUP, true, &e->group));
    TRY(get_s(d, K_KIND, true, &e->group_kind));
    TRY(get_u(d, K_OWNER, true, &e->owner));
    if (!r->slots[K_MEMBERS].set)
        return missing(d, K_MEMBERS, "a list of task ids like [2, 3]");
    if (!r->slots[K_MEMBERS].null) {
        if (!r->slots[K_MEMBERS].seq)
            return mistyped(d, K_MEMBERS, "a list of task ids like [2, 3]");
        e->members = r->mem;
        e->nmembers = r->nmem;
    }
    TRY(get_s(d, K_MODE, false, &e->mode));
    TRY(get_i(d, K_TIMEOUT, false, &e->timeout));
    TRY(get_s(d, K_LABEL, false, &e->label));
    return 0;
}

/* The loop's own bookkeeping: poll, tick and gap. */
static inline int decode_loop_stats(decoder *d, lmr__event *e)
{
    switch (e->kind) {
    case LMR__EV_POLL:
        TRY(get_i(d, K_TIMEOUT, true, &e->timeout));
        TRY(get_i(d, K_WAITED, true, &e->waited));
        TRY(get_i(d, K_READY, true, &e->ready));
        if (e->waited < 0)
            return mistyped(d, K_WAITED, "a duration in nanoseconds");
        break;
    case LMR__EV_TICK:
        TRY(get_u(d, K_N, true, &e->n));
        TRY(get_u(d, K_RAN, true, &e->ran));
        TRY(get_u(d, K_IO, true, &e->io));
        TRY(get_u(d, K_TIMERS, true, &e->timers));
        break;
    case LMR__EV_GAP:
        TRY(get_i(d, K_DROPPED, true, &e->dropped));
        if (e->dropped < 0)
            return mistyped(d, K_DROPPED, "a count (0 or more)");
        break;
    default:
        break;
    }
    return 0;
}

/* The keys of e->kind, in the order their errors are reported. */
static inline int decode_body(decoder *d, lmr__event *e)
{
    switch (e->kind) {
    case LMR__EV_UNKNOWN: /* forward compatibility: skipped by consumers */
    case LMR__EV_LOOP_END:
    case LMR__EV__COUNT:
        break;
    case LMR__EV_LOOP_START: /* without a name, the loop is "loop" */
        TRY(get_s(d, K_NAME, false, &e->name));
        break;
    case LMR__EV_SPAWN:
        TRY(get_u(d, K_TASK, true, &e->task));
        TRY(get_s(d, K_NAME, true, &e->name));
        TRY(get_u(d, K_PARENT, true, &e->parent));
        break;
    case LMR__EV_STATE:
        return decode_state(d, e);
    case LMR__EV_NOTE:
        TRY(get_u(d, K_TASK, true, &e->task));
        TRY(get_s(d, K_TEXT, true, &e->text));
        break;
    case LMR__EV_NAME:
        TRY(get_u(d, K_TASK, true, &e->task));
        TRY(get_s(d, K_NAME, true, &e->name));
        break;
    case LMR__EV_GROUP:
        return decode_group(d, e);
    case LMR__EV_GROUP_END:
        TRY(get_u32(d, K_GROUP, true, &e->group));
        TRY(get_s(d, K_OUTCOME, true, &e->outcome));
        TRY(get_s(d, K_ERROR, false, &e->error));
        break;
    case LMR__EV_CANCEL:
        TRY(get_u(d, K_TASK, true, &e->task));
        TRY(get_s(d, K_REASON, true, &e->reason));
        TRY(get_u(d, K_BY_TASK, false, &e->by_task));
        break;
    case LMR__EV_IO:
        TRY(get_u(d, K_TASK, true, &e->task));
        TRY(get_i(d, K_FD, true, &e->fd));
        TRY(get_dir(d, true, &e->dir));
        break;
    case LMR__EV_TIMER:
        TRY(get_u(d, K_TASK, true, &e->task));
        break;
    case LMR__EV_CALL:
        TRY(get_s(d, K_LABEL, false, &e->label));
        break;
    case LMR__EV_POLL:
    case LMR__EV_TICK:
    case LMR__EV_GAP:
        return decode_loop_stats(d, e);
    }
    return 0;
}

/* Fills *e from the slots of the event that began at `start`. */
static int decode(rd *r, const yaml_mark_t *start, lmr__event *e)
{
    decoder d = {r, "?", start};
    TRY(decode_head(&d, e));
    TRY(decode_body(&d, e));
    lmr__event_tokens(e); /* the one place a token becomes its id */
    return 0;
}

/* Length caps for names, beyond the general scalar cap. */
static bool too_long(int k, size_t len)
{
    return k == K_NAME && len > LMR__MAX_NAME;
}

/* Clears only the slots the previous event filled (a handful), not all of
 * them: this runs once per event. */
static void slots_clear(rd *r)
{
    for (uint64_t u = r->used; u; u &= u - 1)
        memset(&r->slots[__builtin_ctzll(u)], 0, sizeof r->slots[0]);
    r->used = 0;
    r->alen = 0;
    r->nmem = 0;
}

static int finish_event(rd *r, const yaml_mark_t *start, lmr__event_fn cb,
                        void *ctx);

/* Reads one event mapping (r->ev is its MAPPING_START) and hands it on. */
static int read_event(rd *r, lmr__event_fn cb, void *ctx)
{
    yaml_mark_t start = r->ev.start_mark;
    int rc;
    char fb[96];
    slots_clear(r);
    for (;;) {
        if ((rc = next(r)) != 0)
            return rc;
        if (r->ev.type == YAML_MAPPING_END_EVENT)
            break;
        if (r->ev.type != YAML_SCALAR_EVENT)
            return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                          "event keys must be plain words, found %s",
                          found(r, fb, sizeof fb));
        int k = key_lookup(scalar(r), r->ev.data.scalar.length);
        yaml_mark_t kmark = r->ev.start_mark;
        if ((rc = next(r)) != 0)
            return rc;
        if (k < 0) {
            if ((rc = skip_node(r)) != 0)
                return rc;
            continue;
        }
        slot *sl = &r->slots[k];
        if (sl->set)
            return err_at(r, LMR_ESCHEMA, &kmark,
                          "duplicate key '%s' in one event", key_names[k]);
        sl->set = true;
        r->used |= 1ull << k;
        sl->line = mline(&r->ev.start_mark);
        sl->col = mcol(&r->ev.start_mark);
        if (r->ev.type == YAML_SCALAR_EVENT) {
            size_t len = r->ev.data.scalar.length;
            if (too_long(k, len))
                return err_at(r, LMR_ELIMIT, &r->ev.start_mark,
                              "a name of %zu bytes is longer than the limit "
                              "of %u bytes",
                              len, (unsigned)LMR__MAX_NAME);
            sl->null = is_null_scalar(&r->ev);
            sl->len = len;
            if ((rc = arena_add(r, scalar(r), len, &sl->off)) != 0)
                return rc;
        } else if (r->ev.type == YAML_SEQUENCE_START_EVENT &&
                   k == K_MEMBERS) {
            if ((rc = read_members(r, sl)) != 0)
                return rc;
        } else {
            return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                          "key '%s' expects a single value, found %s",
                          key_names[k], found(r, fb, sizeof fb));
        }
    }
    return finish_event(r, &start, cb, ctx);
}

/* Decodes the filled slots of the event that began at `start` and hands it
 * to the callback. Shared by both paths. */
static int finish_event(rd *r, const yaml_mark_t *start, lmr__event_fn cb,
                        void *ctx)
{
    int rc;
    lmr__event e;
    if ((rc = decode(r, start, &e)) != 0)
        return rc;
    r->nevents++;
    if (cb && (rc = cb(ctx, r->h, &e, r->err)) != 0) {
        if (rc > 0 || r->err->code == 0)
            rc = lmr__err(r->err, LMR_ESEMANTIC, r->name, e.line, e.col,
                          "event rejected");
        return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The fast path: canonical event lines (fastline.c has the design)         */
/* ------------------------------------------------------------------------ */

#ifndef LMR_FASTPATH
#define LMR_FASTPATH 1 /* build with -DLMR_FASTPATH=0 to leave it off */
#endif

static _Thread_local int fast_pref = -1; /* -1: the default */

static bool fast_on(void)
{
    if (fast_pref >= 0)
        return fast_pref;
    /* A debugging switch: 0 or 1; any other value is said once and ignored
     * (the result is the same either way, only the speed differs). */
    const char *v = getenv("LOOPMAID_FASTPATH");
    if (v && *v) {
        if (!strcmp(v, "0") || !strcmp(v, "1"))
            return v[0] == '1';
        static _Thread_local bool said;
        if (!said)
            fprintf(stderr, "loopmaid: LOOPMAID_FASTPATH=%s: expected 0 or 1; "
                            "ignored\n", v);
        said = true;
    }
    return LMR_FASTPATH;
}

/* Events fastline.c decoded on this thread (lmr__read_fast_events). */
static _Thread_local uint64_t fast_count;

uint64_t lmr__read_fast_events(void)
{
    uint64_t n = fast_count;
    fast_count = 0;
    return n;
}

int lmr__read_fastpath(int on)
{
    int old = fast_on();
    fast_pref = on < 0 ? -1 : on != 0;
    return old;
}

/* Fills the slots from canonical line `line` (0-based) and hands the event
 * on, exactly as read_event does with libyaml's events. */
static int fast_event(rd *r, const lmr__fl *fl, uint64_t line,
                      lmr__event_fn cb, void *ctx)
{
    int rc;
    slots_clear(r);
    for (size_t i = 0; i < fl->nf; i++) {
        const lmr__fl_field *f = &fl->f[i];
        int k = key_lookup(f->key, f->klen);
        if (k < 0)
            continue; /* unknown keys are skipped, as read_event does */
        slot *sl = &r->slots[k];
        if (sl->set) {
            yaml_mark_t km = {0, line, (size_t)f->kcol};
            return err_at(r, LMR_ESCHEMA, &km,
                          "duplicate key '%s' in one event", key_names[k]);
        }
        yaml_mark_t vm = {0, line, (size_t)f->vcol};
        sl->set = true;
        r->used |= 1ull << k;
        sl->line = mline(&vm);
        sl->col = mcol(&vm);
        if (f->vkind == LMR__FL_SEQ) {
            sl->seq = true;
            if (f->nmem > r->capmem) {
                uint64_t *m = realloc(r->mem, f->nmem * sizeof *m);
                if (!m)
                    return lmr__err(r->err, LMR_ENOMEM, r->name, 0, 0,
                                    "out of memory");
                r->mem = m;
                r->capmem = f->nmem;
            }
            if (f->nmem)
                memcpy(r->mem, fl->mem + f->moff, f->nmem * sizeof *r->mem);
            r->nmem = f->nmem;
            continue;
        }
        const char *v = f->vkind == LMR__FL_QUOTED ? fl->buf + f->voff
                                                   : fl->line + f->voff;
        /* too_long() cannot apply: fastline.c leaves such names to libyaml. */
        sl->null = f->vkind == LMR__FL_PLAIN && f->vlen == 4 &&
                   memcmp(v, "null", 4) == 0;
        sl->len = f->vlen;
        if ((rc = arena_add(r, v, f->vlen, &sl->off)) != 0)
            return rc;
    }
    yaml_mark_t start = {0, line, 4};
    return finish_event(r, &start, cb, ctx);
}

/*
 * After libyaml read the first event (item: its MAPPING_START mark, end: its
 * MAPPING_END's end mark), reads the rest of the events with fastline.c when
 * the whole rest of the file is canonical lines. Returns 0 when it did
 * (r->fast_done), 1 when it declined (libyaml goes on, its input untouched),
 * or a negative code (an error in an event, as libyaml's path would give).
 */
static int fast_rest(rd *r, const yaml_mark_t *item, const yaml_mark_t *end,
                     lmr__event_fn cb, void *ctx)
{
    uint64_t first, nlines;
    int fd = fileno(r->fp);
    if (r->start < 0 || end->line != item->line ||
        lmr__fl_prove(fd, r->start, item->line, end->column, &first,
                      &nlines) != 1)
        return 1;
    lmr__fl_src src;
    lmr__fl fl = {0};
    const char *ln;
    size_t len;
    int rc = lmr__fl_src_open(&src, fd, r->start, first);
    if (rc != 0)
        return lmr__err(r->err, rc, r->name, 0, 0, "out of memory");
    r->fast_done = true;
    for (uint64_t l = 1; l <= nlines && rc == 0; l++) {
        int k = lmr__fl_src_line(&src, &ln, &len);
        int p = k == 1 ? lmr__fl_parse(&fl, ln, len) : 0;
        if (k == LMR_ENOMEM || p == LMR_ENOMEM) {
            rc = lmr__err(r->err, LMR_ENOMEM, r->name, 0, 0, "out of memory");
            break;
        }
        if (p != 1) { /* it was canonical a moment ago */
            rc = lmr__err(r->err, LMR_EIO, r->name, 0, 0,
                          "the trace changed while it was being read");
            break;
        }
        rc = fast_event(r, &fl, item->line + l, cb, ctx);
        fast_count++;
        if (r->on_bytes && (l & 4095) == 0)
            r->on_bytes(r->bytes_ctx, src.pos);
    }
    lmr__fl_src_close(&src);
    lmr__fl_free(&fl);
    return rc;
}

/* The value of `events:` (r->ev is its first event). */
static int read_events(rd *r, lmr__event_fn cb, void *ctx)
{
    int rc;
    char fb[96];
    if (r->ev.type == YAML_SCALAR_EVENT && is_null_scalar(&r->ev))
        return 0; /* `events:` and nothing yet */
    if (r->ev.type != YAML_SEQUENCE_START_EVENT)
        return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                      "key 'events' expects a sequence of events, found %s",
                      found(r, fb, sizeof fb));
    r->in_events = true;
    yaml_mark_t seq = r->ev.start_mark;
    bool block = r->ev.data.sequence_start.style == YAML_BLOCK_SEQUENCE_STYLE;
    for (;;) {
        if ((rc = next(r)) != 0)
            return rc;
        if (r->ev.type == YAML_SEQUENCE_END_EVENT)
            return 0;
        if (r->ev.type == YAML_MAPPING_START_EVENT) {
            yaml_mark_t item = r->ev.start_mark;
            bool flow = r->ev.data.mapping_start.style ==
                        YAML_FLOW_MAPPING_STYLE;
            if ((rc = read_event(r, cb, ctx)) != 0)
                return rc;
            /* The first event was "  - {...}" opening a block sequence at
             * column 2: the rest may be canonical lines (fastline.c). */
            if (r->nevents == 1 && block && flow && seq.column == 2 &&
                seq.line == item.line && item.column == 4 && fast_on() &&
                (rc = fast_rest(r, &item, &r->ev.end_mark, cb, ctx)) <= 0)
                return rc;
            continue;
        }
        /* A bare "  -" at the very end is a line cut short, not a mistake. */
        if (r->ev.type == YAML_SCALAR_EVENT &&
            on_cut_line(r, r->ev.start_mark.line))
            return cut_here(r, last_line(r), 1);
        return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                      "expected an event like {t: 0, ev: KIND, ...}, found %s",
                      found(r, fb, sizeof fb));
    }
}

static char *dup_scalar(rd *r)
{
    char *s = strdup(scalar(r));
    if (!s)
        lmr__err(r->err, LMR_ENOMEM, r->name, 0, 0, "out of memory");
    return s;
}

/* The version: `1`, or `1.N` for a later minor revision of major 1. */
static int read_version(rd *r)
{
    const char *v = scalar(r);
    char buf[32];
    size_t n = strcspn(v, ".");
    uint64_t major, minor;
    bool ok = n > 0 && n < sizeof buf;
    if (ok) {
        memcpy(buf, v, n);
        buf[n] = '\0';
        ok = parse_u64(buf, &major) && (!v[n] || parse_u64(v + n + 1, &minor));
    }
    if (!ok) {
        char tmp[64];
        return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                      "key 'loopmaid' expects the trace format version (an "
                      "integer), found \"%s\"",
                      shown(v, r->ev.data.scalar.length, tmp, sizeof tmp));
    }
    if (major != LMR_TRACE_FORMAT_MAJOR)
        return err_at(r, LMR_EVERSION, &r->ev.start_mark,
                      "unsupported trace format version %" PRIu64
                      " (this reader knows %d)",
                      major, LMR_TRACE_FORMAT_MAJOR);
    r->h->version = (int)major;
    return 0;
}

/* The whole stream. Returns 0, RD_TRUNC or a negative code. */
static int read_stream(rd *r, lmr__event_fn cb, void *ctx)
{
    char fb[96];
    TRY(next(r)); /* STREAM_START */
    TRY(next(r));
    if (r->ev.type == YAML_STREAM_END_EVENT)
        return lmr__err(r->err, LMR_ETRUNCATED, r->name, 1, 1,
                        "empty file: no trace header (expected 'loopmaid: %d')",
                        LMR_TRACE_FORMAT_MAJOR);
    TRY(next(r)); /* after DOCUMENT_START */
    if (r->ev.type != YAML_MAPPING_START_EVENT)
        return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                      "not a loopmaid trace: expected a mapping that starts "
                      "with 'loopmaid: %d', found %s",
                      LMR_TRACE_FORMAT_MAJOR, found(r, fb, sizeof fb));
    yaml_mark_t top = r->ev.start_mark;
    bool have_events = false;
    for (;;) {
        TRY(next(r));
        if (r->ev.type == YAML_MAPPING_END_EVENT)
            break;
        if (r->ev.type != YAML_SCALAR_EVENT)
            return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                          "header keys must be plain words, found %s",
                          found(r, fb, sizeof fb));
        char key[16];
        snprintf(key, sizeof key, "%s", scalar(r));
        if (r->ev.data.scalar.length >= sizeof key)
            key[0] = '\0'; /* too long to be one we know */
        yaml_mark_t kmark = r->ev.start_mark;
        TRY(next(r));
        bool is_scalar = r->ev.type == YAML_SCALAR_EVENT;
        if (strcmp(key, "loopmaid") == 0) {
            if (!is_scalar)
                return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                              "key 'loopmaid' expects the trace format "
                              "version (an integer), found %s",
                              found(r, fb, sizeof fb));
            TRY(read_version(r));
        } else if (strcmp(key, "program") == 0 || strcmp(key, "clock") == 0) {
            if (!is_scalar)
                return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                              "key '%s' expects a string, found %s", key,
                              found(r, fb, sizeof fb));
            if (r->ev.data.scalar.length > LMR__MAX_NAME)
                return err_at(r, LMR_ELIMIT, &r->ev.start_mark,
                              "'%s' is longer than the limit of %u bytes",
                              key, (unsigned)LMR__MAX_NAME);
            if (key[0] == 'c' && /* a closed set */
                LMR__TOK_ID(lmr__clock_tok, scalar(r)) == LMR__CLOCK_OTHER)
                return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                              "key 'clock' expects virtual or monotonic, "
                              "found %s",
                              found(r, fb, sizeof fb));
            char **dst = key[0] == 'p' ? &r->h->program : &r->h->clock;
            free(*dst);
            if (!(*dst = dup_scalar(r)))
                return LMR_ENOMEM;
        } else if (strcmp(key, "ring") == 0) {
            int64_t v;
            if (!is_scalar || !parse_i64(scalar(r), &v) || v < 0)
                return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                              "key 'ring' expects the flight recorder's "
                              "capacity (an integer), found %s",
                              found(r, fb, sizeof fb));
            r->h->ring = v;
        } else if (strcmp(key, "events") == 0) {
            if (!r->h->version)
                return err_at(r, LMR_ESCHEMA, &kmark,
                              "not a loopmaid trace: missing key 'loopmaid' "
                              "(the format version) before 'events'");
            have_events = true;
            TRY(read_events(r, cb, ctx));
            if (r->fast_done)
                return 0; /* the rest is known: see fastline.c */
        } else {
            TRY(skip_node(r)); /* a header key from a later v1 */
        }
    }
    if (!r->h->version)
        return err_at(r, LMR_ESCHEMA, &top,
                      "not a loopmaid trace: missing key 'loopmaid' (the "
                      "format version)");
    if (!have_events) {
        /* A program that died right after writing its header. */
        r->in_events = true;
        return cut_here(r, mline(&r->last_mark), 1);
    }
    TRY(next(r)); /* DOCUMENT_END */
    TRY(next(r));
    if (r->ev.type == YAML_DOCUMENT_START_EVENT)
        return err_at(r, LMR_ESCHEMA, &r->ev.start_mark,
                      "a second YAML document: a trace is one document");
    return 0;
}

void lmr__header_free(lmr__header *h)
{
    if (!h)
        return;
    free(h->program);
    free(h->clock);
    h->program = h->clock = NULL;
}

int lmr__read(FILE *fp, const char *name, lmr__header *h, lmr__event_fn cb,
              void *ctx, int *truncated, lmr_error *err)
{
    return lmr__read_counted(fp, name, h, cb, ctx, NULL, NULL, truncated, err);
}

int lmr__read_counted(FILE *fp, const char *name, lmr__header *h,
                      lmr__event_fn cb, void *ctx, lmr__bytes_fn on_bytes,
                      void *bytes_ctx, int *truncated, lmr_error *err)
{
    lmr_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    memset(h, 0, sizeof *h);
    h->ring = -1;
    if (truncated)
        *truncated = 0;
    rd *r = calloc(1, sizeof *r);
    if (!r)
        return lmr__err(err, LMR_ENOMEM, name, 0, 0, "out of memory");
    r->fp = fp;
    r->name = name ? name : "-";
    r->err = err;
    r->h = h;
    r->on_bytes = on_bytes;
    r->bytes_ctx = bytes_ctx;
    r->last_byte = -1;
    r->start = ftello(fp);
    if (!yaml_parser_initialize(&r->p)) {
        free(r);
        return lmr__err(err, LMR_ENOMEM, name, 0, 0, "out of memory");
    }
    yaml_parser_set_input(&r->p, read_handler, r);
    int rc = read_stream(r, cb, ctx);
    if (rc == RD_TRUNC) {
        if (truncated)
            *truncated = 1;
        /* err keeps the LMR_ETRUNCATED record: where, and after how many
         * events, for the caller's warning. */
        rc = 0;
    } else if (rc == 0 && err->code == 0) {
        memset(err, 0, sizeof *err);
    }
    if (r->have_ev)
        yaml_event_delete(&r->ev);
    yaml_parser_delete(&r->p);
    free(r->arena);
    free(r->mem);
    free(r);
    if (rc < 0 && truncated)
        *truncated = 0;
    return rc;
}
