/*
 * test_reader.c: the streaming reader and pass-1 validation on bad input.
 * Every bad file under tests/data/bad/ must fail with one specific code, a
 * message naming the problem, and the line and column of the culprit.
 */
#include "fastline.h" /* lmr__read_fastpath */
#include "lmr_internal.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Runs pass 1 (reader + model) on a file; returns the code, fills err. */
static int build(const char *path, lmr_error *err, lmr__model *m_out)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    lmr__model m;
    int rc = lmr__model_build(fp, path, &m, NULL, err);
    fclose(fp);
    if (m_out && rc == 0)
        *m_out = m;
    else if (rc == 0)
        lmr__model_free(&m);
    return rc;
}

typedef struct bad_case {
    const char *file;
    int code;
    const char *msg; /* a substring of the message */
    int line, col;
} bad_case;

static const bad_case bad_cases[] = {
    {"not_yaml", LMR_ESYNTAX, "did not find expected ',' or '}'", 7, 22},
    {"version2", LMR_EVERSION,
     "unsupported trace format version 2 (this reader knows 1)", 1, 11},
    {"version_text", LMR_ESCHEMA, "key 'loopmaid' expects the trace format "
                                  "version (an integer), found \"one\"",
     1, 11},
    {"no_version", LMR_ESCHEMA, "missing key 'loopmaid'", 3, 1},
    {"not_mapping", LMR_ESCHEMA, "not a loopmaid trace", 1, 1},
    {"mistyped_t", LMR_ESCHEMA, "key 't' expects an integer, found \"soon\"",
     7, 9},
    {"missing_ev", LMR_ESCHEMA, "event has no 'ev' key", 7, 5},
    {"missing_key", LMR_ESCHEMA,
     "'state' event has no 'task' key (expected a non-negative integer)", 7,
     5},
    {"bad_state", LMR_ESCHEMA, "key 'to' expects a state", 7, 52},
    {"unknown_task", LMR_ESEMANTIC, "unknown task 9 in 'state' event", 7, 5},
    {"illegal_transition", LMR_ESEMANTIC,
     "illegal transition created -> running for task 1 \"main\"", 7, 5},
    {"wrong_from", LMR_ESEMANTIC,
     "task 1 \"main\" is pending, but this event moves it from running", 8,
     5},
    {"awaiting_cancelled", LMR_ESEMANTIC,
     "illegal transition awaiting -> cancelled", 10, 5},
    {"two_running", LMR_ESEMANTIC,
     "task 2 \"other\" starts running while task 1 \"main\" is still running",
     11, 5},
    {"backwards", LMR_ESEMANTIC, "time goes backwards in loop 1: t = 5 after "
                                 "t = 10",
     7, 5},
    {"anchor", LMR_ESCHEMA, "anchors", 7, 5},
    {"alias", LMR_ESCHEMA, "aliases", 7, 5},
    {"deep", LMR_ELIMIT, "limit of 32 levels", 7, 55},
    {"nul", LMR_ESYNTAX, "control characters are not allowed", 7, 40},
    {"bad_utf8", LMR_ESYNTAX, "UTF-8", 7, 43},
    {"duplicate_key", LMR_ESCHEMA, "duplicate key 't'", 7, 43},
    {"spawned_twice", LMR_ESEMANTIC, "spawned twice (first at line 6)", 7, 5},
    {"unknown_group", LMR_ESEMANTIC, "unknown group 4", 7, 5},
    {"two_docs", LMR_ESCHEMA, "a second YAML document", 8, 1},
    {"empty", LMR_ETRUNCATED, "empty file", 1, 1},
    {"members_bad", LMR_ESCHEMA, "key 'members' expects a list of task ids",
     7, 71},
    {"bad_dir", LMR_ESCHEMA, "key 'dir' expects read, write or readwrite", 7,
     42},
    {"event_scalar", LMR_ESCHEMA, "expected an event like", 7, 5},
    {"truncated_header", LMR_ETRUNCATED, "truncated before its first event",
     2, 1},
    {"negative_task", LMR_ESCHEMA,
     "key 'task' expects a non-negative integer, found \"-1\"", 7, 29},
    {"events_mapping", LMR_ESCHEMA, "key 'events' expects a sequence", 2, 9},
    {"bad_clock", LMR_ESCHEMA,
     "key 'clock' expects virtual or monotonic, found \"sundial\"", 3, 8},
};

Test(reader, every_bad_file_fails_once_with_position)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        char path[256];
        snprintf(path, sizeof path, "tests/data/bad/%s.yaml", c->file);
        lmr_error err;
        int rc = build(path, &err, NULL);
        cr_expect_eq(rc, c->code, "%s: code %d (%s), want %d", c->file, rc,
                     err.msg, c->code);
        cr_expect_eq(err.code, rc, "%s: err.code", c->file);
        cr_expect(strstr(err.msg, c->msg) != NULL, "%s: message '%s' lacks '%s'",
                  c->file, err.msg, c->msg);
        cr_expect_eq(err.line, c->line, "%s: line %d, want %d (%s)", c->file,
                     err.line, c->line, err.msg);
        cr_expect_eq(err.col, c->col, "%s: col %d, want %d (%s)", c->file,
                     err.col, c->col, err.msg);
        cr_expect_str_eq(err.file, path);
    }
}

Test(reader, error_print_format)
{
    lmr_error e;
    lmr__err(&e, LMR_ESCHEMA, "t.yaml", 3, 7, "key '%s' is wrong", "x");
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    lmr_error_print(&e, fp);
    lmr__err(&e, LMR_EIO, "t.yaml", 0, 0, "cannot open");
    lmr_error_print(&e, fp);
    fclose(fp);
    cr_assert_str_eq(buf, "t.yaml:3:7: key 'x' is wrong\nt.yaml: cannot open\n");
    free(buf);
    cr_assert_str_eq(lmr_strerror(LMR_ELIMIT), "trace exceeds a size limit");
    cr_assert_str_eq(lmr_strerror(12345), "unknown error");
}

/* ------------------------------------------------------------------------ */
/* Truncated traces: a warning, and every complete event                    */
/* ------------------------------------------------------------------------ */

static int count_cb(void *ctx, const lmr__header *h, const lmr__event *e,
                    lmr_error *err)
{
    (void)h;
    (void)e;
    (void)err;
    (*(int *)ctx)++;
    return 0;
}

static void expect_cut(const char *file, int events, int line)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/truncated/%s.yaml", file);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    lmr__header h;
    lmr_error err;
    int n = 0, truncated = -1;
    int rc = lmr__read(fp, path, &h, count_cb, &n, &truncated, &err);
    fclose(fp);
    lmr__header_free(&h);
    cr_expect_eq(rc, 0, "%s: rc %d (%s)", file, rc, err.msg);
    cr_expect_eq(truncated, 1, "%s: not reported truncated", file);
    cr_expect_eq(n, events, "%s: %d events, want %d", file, n, events);
    cr_expect_eq(err.code, LMR_ETRUNCATED, "%s", file);
    cr_expect_eq(err.line, line, "%s: line %d", file, err.line);
    cr_expect_eq(err.col, 1);
    char want[96];
    snprintf(want, sizeof want, "truncated after event %d;", events);
    cr_expect(strstr(err.msg, want) != NULL, "%s: %s", file, err.msg);
}

Test(reader, cut_mid_line_reads_complete_events)
{
    expect_cut("midline", 3, 8);
    expect_cut("dash", 3, 8);
    expect_cut("string", 3, 8);
    expect_cut("utf8", 3, 8);
}

Test(reader, missing_loop_end_is_truncated_with_warning)
{
    const char *path = "tests/data/truncated/no_loop_end.yaml";
    FILE *fp = fopen(path, "rb");
    char *wbuf = NULL;
    size_t wn = 0;
    FILE *warn = open_memstream(&wbuf, &wn);
    lmr__model m;
    lmr_error err;
    int rc = lmr__model_build(fp, path, &m, warn, &err);
    fclose(fp);
    fclose(warn);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_expect(m.truncated);
    cr_expect_eq(m.events, 3);
    cr_expect_str_eq(wbuf, "tests/data/truncated/no_loop_end.yaml:8:1: "
                           "warning: trace is truncated after event 3 (loop "
                           "1 has no loop_end); rendering what was recorded\n");
    free(wbuf);
    lmr__model_free(&m);
}

Test(reader, complete_last_line_without_newline_is_kept)
{
    const char *path = "tests/data/truncated/no_newline.yaml";
    lmr__model m;
    lmr_error err;
    cr_assert_eq(build(path, &err, &m), 0, "%s", err.msg);
    cr_expect_eq(m.events, 4);
    cr_expect_eq(m.tasks[0].state, LMR__ST_RUNNING);
    lmr__model_free(&m);
}

Test(reader, midline_warning_text)
{
    const char *path = "tests/data/truncated/midline.yaml";
    FILE *fp = fopen(path, "rb");
    char *wbuf = NULL;
    size_t wn = 0;
    FILE *warn = open_memstream(&wbuf, &wn);
    lmr__model m;
    lmr_error err;
    int rc = lmr__model_build(fp, path, &m, warn, &err);
    fclose(fp);
    fclose(warn);
    cr_assert_eq(rc, 0);
    cr_expect_str_eq(wbuf, "tests/data/truncated/midline.yaml:8:1: warning: "
                           "trace is truncated after event 3; rendering what "
                           "was recorded\n");
    cr_expect(m.truncated);
    free(wbuf);
    lmr__model_free(&m);
}

/* ------------------------------------------------------------------------ */
/* Decoding, forward compatibility, limits on generated input               */
/* ------------------------------------------------------------------------ */

/* Runs the reader over a string (through a temporary file). */
static int read_str(const char *text, size_t len, lmr__event_fn cb, void *ctx,
                    int *truncated, lmr_error *err)
{
    FILE *fp = tmpfile();
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(text, 1, len, fp), len);
    rewind(fp);
    lmr__header h;
    int rc = lmr__read(fp, "mem", &h, cb, ctx, truncated, err);
    lmr__header_free(&h);
    fclose(fp);
    return rc;
}

typedef struct grab {
    int n;
    lmr__event last;
    char name[64], on[16];
    uint64_t members[4];
    size_t nmembers;
    int kinds[LMR__EV__COUNT];
} grab;

static int grab_cb(void *ctx, const lmr__header *h, const lmr__event *e,
                   lmr_error *err)
{
    (void)h;
    (void)err;
    grab *g = ctx;
    g->n++;
    g->kinds[e->kind]++;
    g->last = *e;
    if (e->name)
        snprintf(g->name, sizeof g->name, "%s", e->name);
    if (e->on)
        snprintf(g->on, sizeof g->on, "%s", e->on);
    if (e->kind == LMR__EV_GROUP) {
        g->nmembers = e->nmembers;
        for (size_t i = 0; i < e->nmembers && i < 4; i++)
            g->members[i] = e->members[i];
    }
    return 0;
}

#define HDR "loopmaid: 1\nprogram: \"p\"\nclock: virtual\nevents:\n"

Test(reader, decodes_keys_and_escapes)
{
    const char *t = HDR
        "  - {t: 0, ev: spawn, task: 7, name: \"a \\\"b\\\"\\n\\u2028c\", "
        "parent: 0}\n"
        "  - {t: 5, ev: state, task: 7, from: running, to: awaiting, on: io, "
        "fd: 9, dir: write, loop: 3}\n"
        "  - {t: 6, ev: group, group: 2, kind: gather, owner: 7, members: [8, "
        "9, 10], timeout: 100}\n";
    grab g = {0};
    lmr_error err;
    int tr;
    cr_assert_eq(read_str(t, strlen(t), grab_cb, &g, &tr, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(g.n, 3);
    cr_expect_eq(tr, 0);
    cr_expect_str_eq(g.name, "a \"b\"\n\xe2\x80\xa8" "c");
    cr_expect_str_eq(g.on, "io");
    cr_expect_eq(g.nmembers, 3);
    cr_expect_eq(g.members[2], 10);
    cr_expect_eq(g.last.timeout, 100);
    cr_expect_eq(g.last.group, 2);
    cr_expect_eq(g.last.line, 7);
    cr_expect_eq(g.last.col, 5);
}

Test(reader, unknown_keys_and_kinds_are_skipped)
{
    const char *t = "loopmaid: 1\nfuture_header: {a: [1, 2]}\n"
                    "program: \"p\"\nclock: virtual\nevents:\n"
                    "  - {t: 0, ev: hologram, depth: {x: [1, [2]]}}\n"
                    "  - {t: 1, ev: tick, n: 1, ran: 0, io: 0, timers: 0, "
                    "later: [a, b], why: {x: 1}}\n";
    grab g = {0};
    lmr_error err;
    cr_assert_eq(read_str(t, strlen(t), grab_cb, &g, NULL, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(g.n, 2);
    cr_expect_eq(g.kinds[LMR__EV_UNKNOWN], 1);
    cr_expect_eq(g.kinds[LMR__EV_TICK], 1);
}

Test(reader, minor_version_of_major_one_is_accepted)
{
    const char *t = "loopmaid: 1.4\nevents: []\n";
    lmr_error err;
    cr_expect_eq(read_str(t, strlen(t), NULL, NULL, NULL, &err), 0, "%s",
                 err.msg);
}

/* A generated document with one scalar of `n` bytes as a task name. */
static char *with_name(size_t n, size_t *len)
{
    const char *pre = HDR "  - {t: 0, ev: spawn, task: 1, parent: 0, name: \"";
    const char *post = "\"}\n";
    *len = strlen(pre) + n + strlen(post);
    char *s = malloc(*len + 1);
    cr_assert_not_null(s);
    strcpy(s, pre);
    memset(s + strlen(pre), 'n', n);
    strcpy(s + strlen(pre) + n, post);
    return s;
}

Test(reader, limits)
{
    size_t len;
    lmr_error err;
    /* The format's largest string (64 KiB - 1) reads fine. */
    char *s = with_name(65535, &len);
    cr_expect_eq(read_str(s, len, NULL, NULL, NULL, &err), 0, "%s", err.msg);
    free(s);
    /* A name over the name limit. */
    s = with_name(LMR__MAX_NAME + 1, &len);
    cr_expect_eq(read_str(s, len, NULL, NULL, NULL, &err), LMR_ELIMIT);
    cr_expect(strstr(err.msg, "limit of 65536 bytes") != NULL, "%s", err.msg);
    cr_expect_eq(err.line, 5);
    free(s);
    /* Any scalar over the scalar limit. */
    s = with_name(LMR__MAX_SCALAR + 10, &len);
    cr_expect_eq(read_str(s, len, NULL, NULL, NULL, &err), LMR_ELIMIT);
    cr_expect(strstr(err.msg, "limit of 262144 bytes") != NULL, "%s", err.msg);
    free(s);
    /* A giant token is refused before libyaml has buffered all of it. */
    s = with_name(3 * LMR__MAX_TOKEN, &len);
    cr_expect_eq(read_str(s, len, NULL, NULL, NULL, &err), LMR_ELIMIT);
    cr_expect(strstr(err.msg, "limit of 4194304 bytes") != NULL, "%s",
              err.msg);
    cr_expect_gt(err.line, 0);
    free(s);
}

Test(reader, too_many_members)
{
    size_t cap = (LMR__MAX_MEMBERS + 10) * 8 + 256;
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, HDR "  - {t: 0, ev: group, group: 1, "
                                            "kind: gather, owner: 1, members: [");
    for (unsigned i = 0; i <= LMR__MAX_MEMBERS; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s%u", i ? "," : "", i + 2);
    n += (size_t)snprintf(s + n, cap - n, "]}\n");
    lmr_error err;
    cr_expect_eq(read_str(s, n, NULL, NULL, NULL, &err), LMR_ELIMIT);
    cr_expect(strstr(err.msg, "limit of 1048576 members") != NULL, "%s",
              err.msg);
    free(s);
}

Test(reader, billion_laughs_is_refused_at_the_first_anchor)
{
    const char *t = "loopmaid: 1\nlol: &a [x, x, x]\nlol2: &b [*a, *a, *a]\n"
                    "events: []\n";
    lmr_error err;
    cr_expect_eq(read_str(t, strlen(t), NULL, NULL, NULL, &err), LMR_ESCHEMA);
    cr_expect_eq(err.line, 2);
    cr_expect(strstr(err.msg, "anchors") != NULL);
}

static int stop_cb(void *ctx, const lmr__header *h, const lmr__event *e,
                   lmr_error *err)
{
    (void)h;
    (*(int *)ctx)++;
    return lmr__err(err, LMR_ESEMANTIC, "mem", e->line, e->col, "stop here");
}

Test(reader, callback_error_stops_the_read)
{
    const char *t = HDR "  - {t: 0, ev: tick, n: 1, ran: 0, io: 0, timers: 0}\n"
                        "  - {t: 1, ev: tick, n: 2, ran: 0, io: 0, timers: 0}\n";
    lmr_error err;
    int n = 0;
    cr_expect_eq(read_str(t, strlen(t), stop_cb, &n, NULL, &err),
                 LMR_ESEMANTIC);
    cr_expect_eq(n, 1);
    cr_expect_str_eq(err.msg, "stop here");
    cr_expect_eq(err.line, 5);
}

/*
 * Tokens (issue 16): every token of lm_vocab.h's open and closed sets, and an
 * unknown one per open set, decode to the same id whichever path reads the
 * line (libyaml, the fast path) and after the spill's round trip, and the
 * string as written survives for unknown tokens.
 */
typedef struct toks {
    char s[1 << 15];
    size_t n;
    int events;
} toks;

static int toks_cb(void *ctx, const lmr__header *h, const lmr__event *e,
                   lmr_error *err)
{
    (void)h;
    (void)err;
    toks *d = ctx;
    d->events++;
#define S(x) ((x) ? (x) : "-")
    int k = snprintf(d->s + d->n, sizeof d->s - d->n,
                     "%d %d/%s %d/%s %d/%s %d/%s %d/%s %d/%s %d/%s\n",
                     (int)e->kind, (int)e->on_id, S(e->on), (int)e->by_id,
                     S(e->by), (int)e->dir_id, S(e->dir), (int)e->kind_id,
                     S(e->group_kind), (int)e->mode_id, S(e->mode),
                     (int)e->outcome_id, S(e->outcome), (int)e->reason_id,
                     S(e->reason));
#undef S
    cr_assert(k > 0 && (size_t)k < sizeof d->s - d->n, "toks buffer full");
    d->n += (size_t)k;
    return 0;
}

static int spill_cb(void *ctx, const lmr__header *h, const lmr__event *e,
                    lmr_error *err)
{
    (void)h;
    (void)err;
    return lmr__spill_put(ctx, e);
}

/* Appends one line per token of LIST, "  - {t: 0, ev: <pre><tok><post>}". */
static size_t lines(char *dst, size_t cap, const char *pre,
                    const char *const *tok, size_t ntok, const char *post)
{
    size_t n = 0;
    for (size_t i = 0; i < ntok; i++) {
        int k = snprintf(dst + n, cap - n, "  - {t: 0, ev: %s%s%s}\n", pre,
                         tok[i], post);
        cr_assert(k > 0 && (size_t)k < cap - n);
        n += (size_t)k;
    }
    return n;
}

#define TOKS(LIST, ...)                                                        \
    (const char *const[]){LIST(TOK_STR) __VA_ARGS__}
#define TOK_STR(id, tok) tok,
#define NTOKS(arr) (sizeof(arr) / sizeof(arr)[0])

Test(reader, tokens_decode_to_the_table_on_every_path)
{
    static char t[1 << 15];
    size_t n = (size_t)snprintf(t, sizeof t, "%s", HDR);
    /* The first event is libyaml's; the fast path may take all the rest. */
    n += (size_t)snprintf(t + n, sizeof t - n,
                          "  - {t: 0, ev: loop_start, loop: 1}\n");
    const char *const *on = TOKS(LM_VOCAB_ON, "hologram");
    size_t non = NTOKS(TOKS(LM_VOCAB_ON, "hologram"));
    const char *const *by = TOKS(LM_VOCAB_BY, "hologram");
    size_t nby = NTOKS(TOKS(LM_VOCAB_BY, "hologram"));
    const char *const *rs = TOKS(LM_VOCAB_REASON, "hologram");
    size_t nrs = NTOKS(TOKS(LM_VOCAB_REASON, "hologram"));
    const char *const *gk = TOKS(LM_VOCAB_GROUP_KIND, "hologram");
    size_t ngk = NTOKS(TOKS(LM_VOCAB_GROUP_KIND, "hologram"));
    const char *const *md = TOKS(LM_VOCAB_MODE, "hologram");
    size_t nmd = NTOKS(TOKS(LM_VOCAB_MODE, "hologram"));
    const char *const *oc = TOKS(LM_VOCAB_OUTCOME, "hologram");
    size_t noc = NTOKS(TOKS(LM_VOCAB_OUTCOME, "hologram"));
    const char *const *dr = TOKS(LM_VOCAB_DIR);
    size_t ndr = NTOKS(TOKS(LM_VOCAB_DIR));
    n += lines(t + n, sizeof t - n,
               "state, task: 1, from: running, to: awaiting, on: ", on, non,
               "");
    n += lines(t + n, sizeof t - n,
               "state, task: 1, from: awaiting, to: pending, by: ", by, nby,
               "");
    n += lines(t + n, sizeof t - n, "cancel, task: 1, reason: ", rs, nrs, "");
    n += lines(t + n, sizeof t - n, "group, group: 1, kind: ", gk, ngk,
               ", owner: 1, members: [2]");
    n += lines(t + n, sizeof t - n,
               "group, group: 1, kind: wait, owner: 1, members: [2], mode: ",
               md, nmd, "");
    n += lines(t + n, sizeof t - n, "group_end, group: 1, outcome: ", oc, noc,
               "");
    n += lines(t + n, sizeof t - n, "io, task: 1, fd: 3, dir: ", dr, ndr, "");

    /* libyaml alone, then the fast path: the same events, the same ids. */
    toks *slow = calloc(1, sizeof *slow), *fast = calloc(1, sizeof *fast),
         *replay = calloc(1, sizeof *replay);
    cr_assert(slow && fast && replay);
    lmr_error err;
    lmr__read_fastpath(0);
    cr_assert_eq(read_str(t, n, toks_cb, slow, NULL, &err), 0, "%s", err.msg);
    lmr__read_fastpath(1);
    lmr__read_fast_events();
    cr_assert_eq(read_str(t, n, toks_cb, fast, NULL, &err), 0, "%s", err.msg);
    cr_expect_gt(lmr__read_fast_events(), 0, "the fast path did not run");
    lmr__read_fastpath(-1);
    cr_expect_str_eq(fast->s, slow->s);

    /* Through the spill and back: known tokens travel as numbers. */
    FILE *sp = tmpfile();
    cr_assert_not_null(sp);
    cr_assert_eq(read_str(t, n, spill_cb, sp, NULL, &err), 0, "%s", err.msg);
    rewind(sp);
    cr_assert_eq(lmr__spill_replay(sp, "spill", toks_cb, replay, &err), 0,
                 "%s", err.msg);
    fclose(sp);
    cr_expect_str_eq(replay->s, slow->s);

    /* And the ids are the table's: position + 1, OTHER for the unknown. */
    char want[1 << 15];
    size_t w = 0;
#define WANT(fmt, ...)                                                         \
    w += (size_t)snprintf(want + w, sizeof want - w, fmt "\n", __VA_ARGS__)
    WANT("%d 0/- 0/- 0/- 0/- 0/- 0/- 0/-", LMR__EV_LOOP_START);
    for (size_t i = 0; i < non; i++)
        WANT("%d %zu/%s 0/- 0/- 0/- 0/- 0/- 0/-", LMR__EV_STATE, i + 1, on[i]);
    for (size_t i = 0; i < nby; i++)
        WANT("%d 0/- %zu/%s 0/- 0/- 0/- 0/- 0/-", LMR__EV_STATE, i + 1, by[i]);
    for (size_t i = 0; i < nrs; i++)
        WANT("%d 0/- 0/- 0/- 0/- 0/- 0/- %zu/%s", LMR__EV_CANCEL, i + 1, rs[i]);
    for (size_t i = 0; i < ngk; i++)
        WANT("%d 0/- 0/- 0/- %zu/%s 0/- 0/- 0/-", LMR__EV_GROUP, i + 1, gk[i]);
    for (size_t i = 0; i < nmd; i++)
        WANT("%d 0/- 0/- 0/- %d/wait %zu/%s 0/- 0/-", LMR__EV_GROUP,
             LMR__GK_WAIT, i + 1, md[i]);
    for (size_t i = 0; i < noc; i++)
        WANT("%d 0/- 0/- 0/- 0/- 0/- %zu/%s 0/-", LMR__EV_GROUP_END, i + 1,
             oc[i]);
    for (size_t i = 0; i < ndr; i++)
        WANT("%d 0/- 0/- %zu/%s 0/- 0/- 0/- 0/-", LMR__EV_IO, i + 1, dr[i]);
#undef WANT
    cr_expect_str_eq(slow->s, want);
    /* the unknown tokens are the sets' OTHER */
    cr_expect_eq(non, LMR__ON_OTHER);
    cr_expect_eq(nby, LMR__BY_OTHER);
    cr_expect_eq(nrs, LMR__REASON_OTHER);
    cr_expect_eq(ngk, LMR__GK_OTHER);
    cr_expect_eq(nmd, LMR__MODE_OTHER);
    cr_expect_eq(noc, LMR__OUT_OTHER);
    free(slow);
    free(fast);
    free(replay);
}

/* dir is closed: an unknown one is refused, on both paths alike. */
Test(reader, unknown_dir_is_refused)
{
    const char *t = HDR "  - {t: 0, ev: loop_start, loop: 1}\n"
                        "  - {t: 0, ev: io, task: 1, fd: 3, dir: sideways}\n";
    for (int fast = 0; fast <= 1; fast++) {
        toks *d = calloc(1, sizeof *d);
        cr_assert_not_null(d);
        lmr_error err;
        lmr__read_fastpath(fast);
        cr_expect_eq(read_str(t, strlen(t), toks_cb, d, NULL, &err),
                     LMR_ESCHEMA);
        lmr__read_fastpath(-1);
        cr_expect(strstr(err.msg, "read, write or readwrite"), "%s", err.msg);
        cr_expect_eq(err.line, 6);
        free(d);
    }
}
