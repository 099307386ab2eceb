/*
 * loopmaid_render.h: the public API of loopmaid's render half.
 *
 * Reads trace files (format v1, docs/trace-format.md) with a streaming libyaml
 * reader and prints Mermaid text: stateDiagram-v2, sequenceDiagram,
 * flowchart and gantt. The `loopmaid` CLI is a thin layer over these calls.
 *
 * Conventions: functions return 0 on success or a negative LMR_E* code and
 * fill an lmr_error with {code, msg, file, line, col} (1-based; 0 when the
 * problem has no position). Memory returned to the caller says who frees it.
 */
#ifndef LOOPMAID_RENDER_H
#define LOOPMAID_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LMR_TRACE_FORMAT_MAJOR 1

#define LMR_ERRNO_MAP(X)                                                       \
    X(ESYNTAX, -1, "not valid YAML")                                           \
    X(ETRUNCATED, -2, "trace is truncated")                                    \
    X(EVERSION, -3, "unsupported trace format version")                        \
    X(ESCHEMA, -4, "trace does not follow the format")                         \
    X(ESEMANTIC, -5, "trace is inconsistent")                                  \
    X(ELIMIT, -6, "trace exceeds a size limit")                                \
    X(EIO, -7, "input/output error")                                           \
    X(ENOMEM, -8, "out of memory")                                             \
    X(EUSAGE, -9, "bad usage")                                                 \
    X(EREGEX, -10, "bad regular expression")                                   \
    X(ECONFIG, -11, "bad configuration")                                       \
    X(ESTALE, -12, "output is stale")                                          \
    X(EEDITED, -13, "region was edited by hand")

typedef enum lmr_errno {
    LMR_OK = 0,
#define LMR__ERRNO_ENUM(name, val, text) LMR_##name = (val),
    LMR_ERRNO_MAP(LMR__ERRNO_ENUM)
#undef LMR__ERRNO_ENUM
} lmr_errno;

const char *lmr_strerror(int code); /* static text; never NULL */

/* A problem, with where it is. */
typedef struct lmr_error {
    int code;       /* LMR_E* */
    char file[256]; /* the input's name ("-" = stdin); may be empty */
    int line, col;  /* 1-based; 0 = no position */
    char msg[512];  /* one sentence, no trailing newline */
} lmr_error;

/* Writes "file:line:col: msg\n" (or "file: msg" without a position). */
void lmr_error_print(const lmr_error *e, FILE *fp);

/* A growable byte buffer. Zero-initialise; free with lmr_buf_free. */
typedef struct lmr_buf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len, cap;
} lmr_buf;
void lmr_buf_free(lmr_buf *b);

typedef enum lmr_view {
    LMR_VIEW_STATE = 0, /* stateDiagram-v2 of task transitions */
    LMR_VIEW_SEQUENCE,  /* sequenceDiagram of the loop and tasks */
    LMR_VIEW_FLOWCHART, /* the tick structure, annotated with measurements */
    LMR_VIEW_TASKS,     /* flowchart of the task tree and groups */
    LMR_VIEW_GANTT,     /* timeline of running / awaiting per task */
    LMR_VIEW_ADVISE,    /* decision tree: sync vs async vs threads */
    LMR_VIEW__COUNT
} lmr_view;

/* "state", "sequence", ...; NULL for an unknown view. */
const char *lmr_view_name(lmr_view v);
/* Parses a view name; negative when unknown. */
int lmr_view_parse(const char *name);

typedef enum lmr_format {
    LMR_FORMAT_MMD = 0, /* plain Mermaid text */
    LMR_FORMAT_MD       /* a fenced ```mermaid block */
} lmr_format;

typedef struct lmr_options {
    lmr_view view;
    lmr_format format;
    const char *tasks;      /* PCRE2 on task names: keep matches; NULL = all */
    const char *exclude;    /* PCRE2 on task names: drop matches; NULL = none */
    const char *title;      /* NULL = none */
    const char *states;     /* vocabulary: "loopmaid", "asyncio", "seed002",
                               or "created=Coroutine,pending=Scheduled,..." */
    size_t max_chars;       /* 0 = 50000 */
    size_t max_messages;    /* sequence: 0 = as many as max_chars allows */
    int64_t from, to;       /* time window in ns; to < 0 = no end */
    int counts;             /* state view: label edges with how often */
    int quiet;              /* no warnings / progress on stderr */
    /*
     * Caps: how much a view draws before it folds the rest into a "... N
     * more" element (what is left out is always said in the diagram). 0 =
     * the view's default (in brackets). Which tasks are kept first is one
     * ranking for all views (failed, timed out, cancelled, the slowest, then
     * the rest in spawn order; lmr__rank in walk.c).
     */
    size_t max_nodes;       /* tasks view: task nodes [150] */
    size_t max_children;    /* tasks view: children drawn per task [8] */
    size_t max_groups;      /* tasks view: gather/wait/group nodes [30] */
    size_t max_members;     /* tasks view: member edges per group [10] */
    size_t max_causes;      /* state view: causes per state edge [6] */
    size_t max_rows;        /* gantt view: task rows [30] */
    size_t max_participants; /* sequence view: task lifelines [8] */
} lmr_options;

void lmr_options_init(lmr_options *o);

/*
 * Renders the trace at `path` ("-" = stdin) into out (appended). Warnings
 * (e.g. a truncated trace) go to `warn` unless NULL or o->quiet.
 * Returns 0 or a negative code with *err filled in.
 */
int lmr_render_file(const char *path, const lmr_options *o, lmr_buf *out,
                    FILE *warn, lmr_error *err);

/* Prints a human summary of the trace (loopmaid inspect). advise != 0 adds
 * the I/O-bound vs CPU-bound analysis. */
int lmr_inspect_file(const char *path, int advise, FILE *out, FILE *warn,
                     lmr_error *err);
/*
 * The same summary appended to out, for the tasks o selects (o->tasks,
 * o->exclude) and the time window o->from / o->to (durations clipped to
 * it), as plain text or, with o->format == LMR_FORMAT_MD, as Markdown.
 * Other options are ignored. o == NULL: defaults. Returns 0 or a negative
 * code with *err filled in (out then holds nothing new).
 */
int lmr_inspect(const char *path, const lmr_options *o, int advise,
                lmr_buf *out, FILE *warn, lmr_error *err);

/*
 * Writes the trace at `path` ("-" = stdin) to `out` as Chrome trace-event
 * JSON (Perfetto UI, chrome://tracing): one track per task under its loop,
 * slices for running / awaiting / ready, instants for notes, cancellations
 * and failures, flow arrows for wakes. Honours o->tasks, o->exclude,
 * o->from, o->to and o->quiet (NULL: all of the trace). Streams: memory grows
 * with the number of tasks, not of events. On an error part of the JSON may
 * have been written already: write to a temporary file when that matters.
 * Returns 0 or a negative code with *err filled in.
 */
int lmr_export_file(const char *path, const lmr_options *o, FILE *out,
                    FILE *warn, lmr_error *err);

/* What `loopmaid diff` compares and how it reports. */
typedef struct lmr_diff_options {
    int view;               /* -1: a text summary; else LMR_VIEW_STATE,
                               LMR_VIEW_TASKS or LMR_VIEW_SEQUENCE: one
                               Mermaid diagram of both runs, changes marked */
    lmr_format format;      /* for a view: mmd or md */
    const char *tasks;      /* PCRE2: compare only these tasks; NULL = all */
    const char *exclude;    /* PCRE2: leave these out; NULL = none */
    const char *title;      /* a view's title; NULL = none */
    int64_t tolerance;      /* ns a lifetime may move before it is a change
                               (default 1 ms) */
    double tolerance_pct;   /* > 0: relative instead, in percent */
    int quiet;
} lmr_diff_options;

void lmr_diff_options_init(lmr_diff_options *o);

/*
 * Compares two traces of the same program: tasks are matched by their place
 * in the task tree (the path of names from the root, "main/fetch#2"), not by
 * id; reported are tasks added and removed, changed outcomes (with the cause
 * of a cancellation), changed await sequences and lifetimes that moved
 * beyond the tolerance. Appends the report to out. Returns 0 when the runs
 * agree, 1 when they differ, or a negative code with *err filled in.
 * Memory: O(tasks) of both traces, whatever their number of events.
 */
int lmr_diff_files(const char *a, const char *b, const lmr_diff_options *o,
                   lmr_buf *out, FILE *warn, lmr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* LOOPMAID_RENDER_H */
