/*
 * cli.c: lmr__main, the `loopmaid` command line. Flags and dispatch only; the
 * work is in lmr_render_file, lmr_inspect, lmr_diff_files, lmr_export_file
 * and lmr__build_main.
 *
 * Exit codes: 0 ok, 1 bad input (the trace, a file), 2 bad usage (flags,
 * a bad regular expression or vocabulary). Every message goes to stderr,
 * once, as `loopmaid COMMAND: ...` or `FILE:LINE:COL: ...`.
 */
#include "cli.h"
#include "lmr_internal.h"
#include "loopmaid.h" /* LM_VERSION_STRING */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_OK 0
#define EXIT_INPUT 1
#define EXIT_USAGE 2

static const char usage_main[] =
    "usage: loopmaid COMMAND [OPTIONS]\n"
    "\n"
    "Turns loopmaid traces into Mermaid diagrams.\n"
    "\n"
    "commands:\n"
    "  render    print a Mermaid diagram of a trace\n"
    "  inspect   check a trace and print a summary of what happened\n"
    "  build     regenerate diagrams in documentation (see loopmaid build "
    "--help)\n"
    "  diff      what changed between two traces of the same program\n"
    "  export    a trace as Chrome trace-event JSON (Perfetto, chrome://tracing)\n"
    "  convert   a binary trace (.lmt) as the YAML trace it stands for\n"
    "  help      show help for a command: loopmaid help COMMAND\n"
    "\n"
    "  loopmaid --version    print the version\n"
    "  loopmaid COMMAND --help\n"
    "\n"
    "Exit status: 0 ok, 1 bad input, 2 bad usage.\n";

static const char usage_render[] =
    "usage: loopmaid render [OPTIONS] TRACE\n"
    "\n"
    "Prints a Mermaid diagram of TRACE (a loopmaid trace file; - reads stdin).\n"
    "\n"
    "  --view NAME        state (default), sequence, flowchart, tasks, gantt,\n"
    "                     advise\n"
    "  --tasks REGEX      only tasks whose name matches (PCRE2)\n"
    "  --exclude REGEX    leave out tasks whose name matches (PCRE2)\n"
    "  --title TEXT       a diagram title\n"
    "  --format FMT       mmd (plain Mermaid, default) or md (a ```mermaid "
    "block)\n"
    "  -o, --output FILE  write to FILE instead of stdout: a file is replaced\n"
    "                     atomically (mode and owner kept), a symlink's target\n"
    "                     is written, a device or pipe is written in place;\n"
    "                     a read-only file or the TRACE itself is refused\n"
    "  --states VOCAB     state names: loopmaid, asyncio, seed002, or\n"
    "                     created=Coroutine,pending=Scheduled,...\n"
    "  --max-chars N      diagram text budget (default 50000, at least 1000)\n"
    "  --max-messages N   sequence view: at most N messages\n"
    "  --from T, --to T   time window; T in ns or with a unit: 1500ns, 20us,\n"
    "                     3ms, 2s\n"
    "  --counts           state: label edges with how often; gantt: the times\n"
    "                     each task ran, beside its name\n"
    "  -q, --quiet        no warnings or progress on stderr\n"
    "  -h, --help         this help\n"
    "\n"
    "Caps (when a view must leave things out it keeps failed, timed-out and\n"
    "cancelled tasks first, then the slowest, then the rest in spawn order,\n"
    "and says in the diagram what it left out; default in brackets):\n"
    "  --max-nodes N         tasks view: task nodes [150]\n"
    "  --max-children N      tasks view: children drawn under one task [8]\n"
    "  --max-groups N        tasks view: gather/wait/task group nodes [30]\n"
    "  --max-members N       tasks view: member edges of one group [10]\n"
    "  --max-causes N        state view: causes per state edge [6]\n"
    "  --max-rows N          gantt view: task rows [30]\n"
    "  --max-participants N  sequence view: task lifelines [8, at most 1000]\n"
    "A --tasks/--exclude that matches no task, or a --from/--to window outside\n"
    "the trace, is said on stderr.\n";

static const char usage_inspect[] =
    "usage: loopmaid inspect [OPTIONS] TRACE\n"
    "\n"
    "Checks TRACE (- reads stdin) and prints what happened: tasks by outcome,\n"
    "time in each state, ticks, the longest step (a step that blocked the\n"
    "loop), the longest awaits, each failure with its lm_fail message, and\n"
    "what cancelled what and why.\n"
    "\n"
    "  --advise           add where the time went (wall time: loop idle on\n"
    "                     I/O or timers, loop busy, thread pool busy) and\n"
    "                     what to use (seed 002's \"When to Use Which\n"
    "                     Approach\"); the same analysis as --view advise\n"
    "  --tasks REGEX      only tasks whose name matches (PCRE2)\n"
    "  --exclude REGEX    leave out tasks whose name matches (PCRE2)\n"
    "  --from T, --to T   time window (as for render); durations are clipped\n"
    "                     to it\n"
    "  --format FMT       text (default) or md (Markdown)\n"
    "  -o, --output FILE  write to FILE (as render -o does) instead of stdout\n"
    "  -q, --quiet        no warnings or progress on stderr\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad input, 2 bad usage.\n";

static const char usage_diff[] =
    "usage: loopmaid diff [OPTIONS] A.yaml B.yaml\n"
    "\n"
    "Compares two traces of the same program. Tasks are matched by their place\n"
    "in the task tree (the path of names from the root: main/fetch#2), not by\n"
    "id. Reports tasks added and removed, outcomes that changed (with who\n"
    "cancelled and why), await sequences that changed, and lifetimes that moved\n"
    "more than the tolerance.\n"
    "\n"
    "  --view NAME          draw both runs as one diagram, changes marked:\n"
    "                       tasks, state or sequence (default: a text summary)\n"
    "  --time-tolerance T   how far a lifetime may move before it counts:\n"
    "                       a time (1500ns, 20us, 3ms, 2s; default 1ms) or a\n"
    "                       percentage (10%)\n"
    "  --tasks REGEX        compare only tasks whose name matches (PCRE2)\n"
    "  --exclude REGEX      leave out tasks whose name matches (PCRE2)\n"
    "  --title TEXT         a diagram title (with --view)\n"
    "  --format FMT         with --view: mmd (default) or md (a ```mermaid block)\n"
    "  -o, --output FILE    write to FILE instead of stdout (as render -o)\n"
    "  -q, --quiet          no warnings on stderr\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 the runs agree, 1 they differ, 2 bad usage or bad input\n"
    "(like diff(1)).\n";

static const char usage_export[] =
    "usage: loopmaid export [OPTIONS] TRACE\n"
    "\n"
    "Writes TRACE (- reads stdin) in a format a timeline viewer opens.\n"
    "--format chrome: Chrome trace-event JSON for Perfetto UI and\n"
    "chrome://tracing: one track per task under its loop, slices for running,\n"
    "awaiting (named by what was awaited) and ready, instants for notes,\n"
    "cancellations and failures, arrows for every wake. Streams: memory grows\n"
    "with the number of tasks, not events.\n"
    "\n"
    "  --format FMT       chrome (the default and, for now, the only one)\n"
    "  --tasks REGEX      only tasks whose name matches (PCRE2)\n"
    "  --exclude REGEX    leave out tasks whose name matches (PCRE2)\n"
    "  --from T, --to T   time window; T in ns or with a unit: 1500ns, 20us,\n"
    "                     3ms, 2s\n"
    "  -o, --output FILE  write to FILE instead of stdout (as render -o)\n"
    "  -q, --quiet        no warnings or progress on stderr\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad input, 2 bad usage.\n";

static const char usage_convert[] =
    "usage: loopmaid convert [OPTIONS] IN.lmt\n"
    "\n"
    "Writes the YAML trace a binary trace (LOOPMAID_TRACE=FILE.lmt) stands for,\n"
    "byte for byte what LOOPMAID_TRACE=FILE.yaml would have written (IN - reads\n"
    "stdin). Every other command reads a binary trace as it is; convert is for\n"
    "keeping or reading the YAML itself.\n"
    "\n"
    "  -o, --output FILE  write to FILE (as render -o does) instead of stdout;\n"
    "                     IN itself is refused\n"
    "  -q, --quiet        no warnings on stderr\n"
    "  -h, --help         this help\n"
    "\n"
    "A damaged or cut binary trace is reported as IN: byte N: what is wrong\n"
    "(the other commands read a cut one up to the cut, with a warning).\n"
    "Exit status: 0 ok, 1 bad input, 2 bad usage.\n";

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "loopmaid%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see loopmaid %s%s--help)\n", cmd ? cmd : "",
            cmd ? " " : "");
    return EXIT_USAGE;
}

/* Exit status for a library error code. */
static int exit_for(int code)
{
    switch (code) {
    case LMR_OK:
        return EXIT_OK;
    case LMR_EUSAGE:
    case LMR_EREGEX:
    case LMR_ECONFIG:
        return EXIT_USAGE;
    default:
        return EXIT_INPUT;
    }
}

/* The one time parser (lmr_internal.h); build.c's config uses it too. */
bool lmr__parse_time(const char *s, int64_t *out)
{
    uint64_t whole = 0, frac = 0, fscale = 1;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > (UINT64_MAX - 9) / 10)
            return false;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        for (; *p >= '0' && *p <= '9'; p++)
            if (fscale < 1000000000u) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                fscale *= 10;
            }
    }
    uint64_t mult;
    if (!*p || strcmp(p, "ns") == 0)
        mult = 1;
    else if (strcmp(p, "us") == 0 || strcmp(p, "\xc2\xb5s") == 0)
        mult = 1000;
    else if (strcmp(p, "ms") == 0)
        mult = 1000000;
    else if (strcmp(p, "s") == 0)
        mult = 1000000000;
    else
        return false;
    if (whole > (uint64_t)INT64_MAX / mult)
        return false;
    uint64_t v = whole * mult + frac * mult / fscale;
    if (v > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

/*
 * Which view honours which option: ONE row per view. An option a view does
 * not use is refused (naming the option and the view), never accepted and
 * ignored. --view, --title, --format, -o, --max-chars and -q mean the same
 * for every view and are not in the table.
 */
#define O_SEL (LMR__OPT_TASKS | LMR__OPT_EXCLUDE)
#define O_WIN (LMR__OPT_FROM | LMR__OPT_TO)
static const unsigned view_honours[LMR_VIEW__COUNT] = {
    [LMR_VIEW_STATE] = O_SEL | O_WIN | LMR__OPT_STATES | LMR__OPT_COUNTS |
                       LMR__OPT_MAX_CAUSES,
    [LMR_VIEW_SEQUENCE] = O_SEL | O_WIN | LMR__OPT_STATES | LMR__OPT_MAX_MESSAGES |
                          LMR__OPT_MAX_PARTICIPANTS,
    [LMR_VIEW_FLOWCHART] = O_SEL | O_WIN,
    [LMR_VIEW_TASKS] = O_SEL | O_WIN | LMR__OPT_STATES | LMR__OPT_MAX_NODES |
                       LMR__OPT_MAX_CHILDREN | LMR__OPT_MAX_GROUPS |
                       LMR__OPT_MAX_MEMBERS,
    [LMR_VIEW_GANTT] = O_SEL | O_WIN | LMR__OPT_STATES | LMR__OPT_COUNTS |
                       LMR__OPT_MAX_ROWS,
    [LMR_VIEW_ADVISE] = O_WIN,
};
#undef O_SEL
#undef O_WIN

const char *lmr__view_refuses(lmr_view v, unsigned given)
{
    static const char *const names[LMR__OPT__COUNT] = {
        "--tasks", "--exclude", "--from", "--to",
        "--states", "--counts", "--max-messages", "--max-nodes",
        "--max-children", "--max-groups", "--max-members", "--max-causes",
        "--max-rows", "--max-participants"};
    unsigned honours = (unsigned)v < LMR_VIEW__COUNT ? view_honours[v] : 0;
    for (int i = 0; i < LMR__OPT__COUNT; i++)
        if ((given & (1u << i)) && !(honours & (1u << i)))
            return names[i];
    return NULL;
}

/* "state, sequence and gantt": the views that honour `bit`. */
static void views_honouring(unsigned bit, char *dst, size_t n)
{
    dst[0] = '\0';
    int k = 0, total = 0;
    for (int v = 0; v < LMR_VIEW__COUNT; v++)
        total += (view_honours[v] & bit) != 0;
    for (int v = 0; v < LMR_VIEW__COUNT; v++) {
        if (!(view_honours[v] & bit))
            continue;
        size_t l = strlen(dst);
        snprintf(dst + l, n - l, "%s%s", k == 0 ? "" : k == total - 1 ? " and " : ", ",
                 lmr_view_name((lmr_view)v));
        k++;
    }
}

static bool parse_count(const char *s, size_t *out)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || s[0] == '-' || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

enum {
    OPT_VIEW = 256, OPT_TASKS, OPT_EXCLUDE, OPT_TITLE, OPT_FORMAT, OPT_STATES,
    OPT_MAX_CHARS, OPT_MAX_MESSAGES, OPT_FROM, OPT_TO, OPT_COUNTS, OPT_ADVISE,
    OPT_TOLERANCE,
    OPT_CAP /* OPT_CAP + i: caps[i] */
};

/* The cap options: flag, config key, field. All are positive counts. */
const lmr__cap_opt lmr__caps[LMR__NCAPS] = {
    {"max-nodes", "max_nodes", offsetof(lmr_options, max_nodes)},
    {"max-children", "max_children", offsetof(lmr_options, max_children)},
    {"max-groups", "max_groups", offsetof(lmr_options, max_groups)},
    {"max-members", "max_members", offsetof(lmr_options, max_members)},
    {"max-causes", "max_causes", offsetof(lmr_options, max_causes)},
    {"max-rows", "max_rows", offsetof(lmr_options, max_rows)},
    {"max-participants", "max_participants",
     offsetof(lmr_options, max_participants)},
};
#define caps lmr__caps
#define NCAPS LMR__NCAPS

/* getopt keeps global state; lmr__main may run many times in one process. */
static void getopt_reset(void)
{
    optind = 0; /* GNU: 0 re-initialises */
    opterr = 0;
}

/* Reports the option getopt just refused. */
static int bad_option(const char *cmd, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return usage_error(cmd, "option '%s' needs a value", arg);
    return usage_error(cmd, "unknown option '%s'", arg);
}

/* render --help: the fixed text, then which view uses which option, made
 * from view_honours so the two cannot disagree. */
static void print_render_help(FILE *fp)
{
    static const struct { unsigned bit; const char *name; } rows[] = {
        {LMR__OPT_TASKS | LMR__OPT_EXCLUDE, "--tasks, --exclude"},
        {LMR__OPT_FROM | LMR__OPT_TO, "--from, --to"},
        {LMR__OPT_STATES, "--states"},
        {LMR__OPT_COUNTS, "--counts"},
        {LMR__OPT_MAX_MESSAGES, "--max-messages"},
        {LMR__OPT_MAX_NODES, "--max-nodes"},
        {LMR__OPT_MAX_CHILDREN, "--max-children"},
        {LMR__OPT_MAX_GROUPS, "--max-groups"},
        {LMR__OPT_MAX_MEMBERS, "--max-members"},
        {LMR__OPT_MAX_CAUSES, "--max-causes"},
        {LMR__OPT_MAX_ROWS, "--max-rows"},
        {LMR__OPT_MAX_PARTICIPANTS, "--max-participants"},
    };
    fputs(usage_render, fp);
    fputs("\nA view refuses an option it does not use. The options only some "
          "views use:\n", fp);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char which[128];
        views_honouring(rows[i].bit & -rows[i].bit, which, sizeof which);
        fprintf(fp, "  %-20s%s\n", rows[i].name, which[0] ? which : "(none)");
    }
    fputs("\nExit status: 0 ok, 1 bad input, 2 bad usage.\n", fp);
}

/* ------------------------------------------------------------------------ */
/* What the commands share                                                  */
/* ------------------------------------------------------------------------ */

/* A step of a command that went well and wants the next one (every exit
 * code is >= 0). */
#define GO_ON (-1)
/* An option a parser does not handle (the next one may). */
#define NOT_MINE (-2)

/* The flags of one command, as parsed. */
typedef struct args {
    lmr_options o;      /* what the library is asked for */
    const char *output; /* -o; NULL = stdout */
    unsigned given;     /* LMR__OPT_* bits of the options on the line */
} args;

static void args_init(args *a)
{
    lmr_options_init(&a->o);
    a->output = NULL;
    a->given = 0;
}

/* --from / --to: one time into *out. */
static int time_option(const char *cmd, const char *flag, const char *arg,
                       int64_t *out)
{
    if (lmr__parse_time(arg, out))
        return EXIT_OK;
    fprintf(stderr, "loopmaid %s: %s expects a time like 1500ns, 20us, 3ms or "
                    "2s, not '%s' (see loopmaid %s --help)\n",
            cmd, flag, arg, cmd);
    return EXIT_USAGE;
}

/*
 * The options that mean the same in every command that takes them: the
 * selection (--tasks, --exclude), the window (--from, --to), --title, -o
 * and -q. Each command's table says which it takes; this says what they do.
 * EXIT_OK, EXIT_USAGE after saying what is wrong, or NOT_MINE.
 */
static int shared_option(const char *cmd, int c, const char *arg, args *a)
{
    switch (c) {
    case OPT_TASKS:
        a->given |= LMR__OPT_TASKS;
        a->o.tasks = arg;
        return EXIT_OK;
    case OPT_EXCLUDE:
        a->given |= LMR__OPT_EXCLUDE;
        a->o.exclude = arg;
        return EXIT_OK;
    case OPT_FROM:
        a->given |= LMR__OPT_FROM;
        return time_option(cmd, "--from", arg, &a->o.from);
    case OPT_TO:
        a->given |= LMR__OPT_TO;
        return time_option(cmd, "--to", arg, &a->o.to);
    case OPT_TITLE:
        a->o.title = arg;
        return EXIT_OK;
    case 'o':
        a->output = arg;
        return EXIT_OK;
    case 'q':
        a->o.quiet = 1;
        return EXIT_OK;
    default:
        return NOT_MINE;
    }
}

/* The one TRACE operand after the options (argv[optind]), and a window that
 * does not end before it starts. GO_ON or EXIT_USAGE. */
static int one_trace(const char *cmd, int argc, char **argv,
                     const lmr_options *o)
{
    if (optind >= argc)
        return usage_error(cmd, "missing the TRACE to %s", cmd);
    if (argc - optind > 1)
        return usage_error(cmd, "one TRACE at a time, but '%s' follows it",
                           argv[optind + 1]);
    if (o->to >= 0 && o->to < o->from)
        return usage_error(cmd, "%s", "--to is before --from");
    return GO_ON;
}

/* --format: `plain` (what the command calls its plain output: mmd, or text
 * for inspect) or md. EXIT_OK, or EXIT_USAGE after saying what is wrong. */
static int format_option(const char *cmd, const char *plain, const char *arg,
                         lmr_format *out)
{
    if (strcmp(arg, plain) == 0) {
        *out = LMR_FORMAT_MMD;
    } else if (strcmp(arg, "md") == 0) {
        *out = LMR_FORMAT_MD;
    } else {
        char fmt[64];
        snprintf(fmt, sizeof fmt, "unknown format '%%s' (expected %s or md)",
                 plain);
        return usage_error(cmd, fmt, arg);
    }
    return EXIT_OK;
}

/* A library error on stderr: a bad --tasks/--exclude names the option (its
 * `file`), anything else is FILE:LINE:COL. Returns the exit code. */
static int report(const char *cmd, int rc, const lmr_error *err)
{
    if (rc == LMR_EREGEX)
        fprintf(stderr, "loopmaid %s: %s: %s\n", cmd, err->file, err->msg);
    else
        lmr_error_print(err, stderr);
    return exit_for(rc);
}

/* Writes data to `output` ("-" or NULL: stdout) through the one writer;
 * none of inputs[0..ninputs) is ever overwritten. `prefix` goes before the
 * message ("loopmaid render: "), or nothing when NULL. The exit code. */
static int emit(const char *prefix, const char *output, const char *data,
                size_t len, const char *const *inputs, size_t ninputs)
{
    lmr_error err;
    int rc = lmr__write_file(output ? output : "-", data, len, inputs, ninputs,
                             &err);
    if (rc) {
        if (prefix)
            fputs(prefix, stderr);
        lmr_error_print(&err, stderr);
    }
    return exit_for(rc);
}

/* ------------------------------------------------------------------------ */
/* Binary traces (.lmt): sniffed here, converted to a temporary YAML file    */
/* ------------------------------------------------------------------------ */

/*
 * Why here and not in lmr__open_trace: the decoder (lm_trace_convert) lives
 * in libloopmaid, the tracer, and libloopmaid-render must not need it; the
 * program links both. Every command that reads a trace goes through
 * lmr__trace_in_open, which leaves a YAML trace alone (no copy, no change in
 * what messages call it) and turns a binary one into an anonymous temporary
 * file (tmpfile(3)) that the library then reads as /dev/fd/N, so what comes
 * out is what the YAML gives, by construction.
 */

/* Reads up to n bytes from fd (short reads of a pipe joined). The count, or
 * -1 with errno set. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* A new temporary file holding head[0..nhead) then the rest of fd, rewound.
 * For input that cannot be read twice (a pipe): the sniff consumed the head.
 * NULL with errno set. */
static FILE *spool_fd(int fd, const char *head, size_t nhead)
{
    FILE *tmp = tmpfile();
    if (!tmp)
        return NULL;
    char buf[65536];
    ssize_t n;
    bool ok = fwrite(head, 1, nhead, tmp) == nhead;
    while (ok && (n = read_full(fd, buf, sizeof buf)) > 0)
        ok = fwrite(buf, 1, (size_t)n, tmp) == (size_t)n;
    if (ok && n < 0)
        ok = false;
    if (!ok || fflush(tmp) != 0 || fseeko(tmp, 0, SEEK_SET) != 0) {
        int e = errno;
        fclose(tmp);
        errno = e;
        return NULL;
    }
    return tmp;
}

/* "IN: byte N: msg" for a conversion that failed; the exit code (1). */
static int convert_failed(const char *name, int rc, const lm_convert_error *ce)
{
    if (ce->msg[0])
        fprintf(stderr, "%s: byte %" PRIu64 ": %s\n", name, ce->offset, ce->msg);
    else
        fprintf(stderr, "%s: byte %" PRIu64 ": cannot convert (error %d)\n",
                name, ce->offset, rc);
    return EXIT_INPUT;
}

/* The binary trace on in_fd (at its start) as YAML into a new temporary
 * file, rewound, in *out. EXIT_OK, or EXIT_INPUT after saying why. A reader
 * (cut_ok) takes a cut file as far as it goes; convert refuses it. */
static int convert_to_tmp(int in_fd, const char *name, bool cut_ok, bool quiet,
                          FILE **out)
{
    *out = NULL;
    FILE *tmp = tmpfile();
    if (!tmp) {
        fprintf(stderr, "%s: cannot create a temporary file for the YAML: %s\n",
                name, strerror(errno));
        return EXIT_INPUT;
    }
    lm_convert_error ce;
    memset(&ce, 0, sizeof ce);
    int rc = lm_trace_convert(in_fd, tmp, &ce);
    /* A cut file (a run killed by SIGKILL, a full disk) is read as far as
     * it goes, as a cut YAML trace is: everything before the cut chunk has
     * been converted. Anything else wrong with it is refused. */
    if (rc == LM_EOF_ && cut_ok) {
        if (!quiet)
            fprintf(stderr, "%s: byte %" PRIu64 ": warning: %s; reading what "
                    "was recorded before it\n", name, ce.offset,
                    ce.msg[0] ? ce.msg : "the binary trace is cut");
        rc = 0;
    }
    if (rc == 0 && (fflush(tmp) != 0 || fseeko(tmp, 0, SEEK_SET) != 0)) {
        fprintf(stderr, "%s: cannot write the converted trace: %s\n", name,
                strerror(errno));
        fclose(tmp);
        return EXIT_INPUT;
    }
    if (rc != 0) {
        fclose(tmp);
        return convert_failed(name, rc, &ce);
    }
    *out = tmp;
    return EXIT_OK;
}

/* Points t at the temporary YAML file tmp (kept open until close), which
 * the library's messages and reports call by the operand's name. */
static void trace_in_use(lmr__trace_in *t, FILE *tmp)
{
    t->tmp = tmp;
    snprintf(t->fdpath, sizeof t->fdpath, "/dev/fd/%d", fileno(tmp));
    t->path = t->fdpath;
    t->aliased = lmr__trace_alias(t->fdpath, t->operand) == 0;
}

/* stdin ("-"): a regular file is peeked at without moving it; a pipe is
 * spooled (the peek consumed it), and the library reads the spool, a YAML
 * one as it is, under the name "-" (so "<stdin>"), spooling nothing again. */
static int trace_in_stdin(lmr__trace_in *t, bool quiet)
{
    const char *name = "<stdin>";
    char head[8];
    struct stat st;
    if (fstat(0, &st) == 0 && S_ISREG(st.st_mode)) {
        off_t at = lseek(0, 0, SEEK_CUR);
        ssize_t n = at < 0 ? -1 : pread(0, head, sizeof head, at);
        if (n <= 0 || !lm_trace_is_binary(head, (size_t)n))
            return EXIT_OK;
        FILE *tmp;
        int ex = convert_to_tmp(0, name, true, quiet, &tmp);
        if (ex == EXIT_OK)
            trace_in_use(t, tmp);
        return ex;
    }
    ssize_t n = read_full(0, head, sizeof head);
    if (n < 0)
        return EXIT_OK; /* the library says it cannot read */
    FILE *sp = spool_fd(0, head, (size_t)n);
    if (!sp) {
        fprintf(stderr, "%s: cannot spool the input: %s\n", name,
                strerror(errno));
        return EXIT_INPUT;
    }
    if (!lm_trace_is_binary(head, (size_t)n)) {
        trace_in_use(t, sp);
        return EXIT_OK;
    }
    FILE *tmp;
    int ex = convert_to_tmp(fileno(sp), name, true, quiet, &tmp);
    fclose(sp);
    if (ex == EXIT_OK)
        trace_in_use(t, tmp);
    return ex;
}

int lmr__trace_in_open(lmr__trace_in *t, const char *operand, bool quiet)
{
    memset(t, 0, sizeof *t);
    t->path = t->operand = operand;
    if (strcmp(operand, "-") == 0)
        return trace_in_stdin(t, quiet);
    int fd = open(operand, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return EXIT_OK; /* the library says why, as it always has */
    struct stat st;
    char head[8];
    int ex = EXIT_OK;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        /* the library's message */
    } else if (S_ISREG(st.st_mode)) {
        ssize_t n = pread(fd, head, sizeof head, 0);
        FILE *tmp;
        if (n > 0 && lm_trace_is_binary(head, (size_t)n) &&
            (ex = convert_to_tmp(fd, operand, true, quiet, &tmp)) == EXIT_OK)
            trace_in_use(t, tmp);
    } else {
        /* A FIFO or a device is read once: spooled, then sniffed. */
        ssize_t n = read_full(fd, head, sizeof head);
        FILE *sp = n < 0 ? NULL : spool_fd(fd, head, (size_t)n);
        if (!sp) {
            fprintf(stderr, "%s: cannot read: %s\n", operand, strerror(errno));
            ex = EXIT_INPUT;
        } else if (!lm_trace_is_binary(head, (size_t)n)) {
            trace_in_use(t, sp);
        } else {
            FILE *tmp;
            ex = convert_to_tmp(fileno(sp), operand, true, quiet, &tmp);
            fclose(sp);
            if (ex == EXIT_OK)
                trace_in_use(t, tmp);
        }
    }
    close(fd);
    return ex;
}

void lmr__trace_in_close(lmr__trace_in *t)
{
    if (t->aliased)
        lmr__trace_alias(t->fdpath, NULL);
    t->aliased = false;
    if (t->tmp)
        fclose(t->tmp);
    t->tmp = NULL;
    t->path = NULL;
}

/* The help of command `cmd` on fp; false when there is none (build keeps
 * its own, in lmr__build_main). */
static bool print_help(const char *cmd, FILE *fp)
{
    if (strcmp(cmd, "render") == 0)
        print_render_help(fp);
    else if (strcmp(cmd, "inspect") == 0)
        fputs(usage_inspect, fp);
    else if (strcmp(cmd, "diff") == 0)
        fputs(usage_diff, fp);
    else if (strcmp(cmd, "export") == 0)
        fputs(usage_export, fp);
    else if (strcmp(cmd, "convert") == 0)
        fputs(usage_convert, fp);
    else if (strcmp(cmd, "help") == 0)
        fputs(usage_main, fp);
    else
        return false;
    return true;
}

/* The rows every command's option table ends with or may take; the table
 * says which options a command takes, shared_option what they do. */
#define LONGS_SELECTION                                                        \
    {"tasks", required_argument, NULL, OPT_TASKS},                             \
    {"exclude", required_argument, NULL, OPT_EXCLUDE}
#define LONGS_WINDOW                                                           \
    {"from", required_argument, NULL, OPT_FROM},                               \
    {"to", required_argument, NULL, OPT_TO}
#define LONGS_TAIL                                                             \
    {"output", required_argument, NULL, 'o'},                                  \
    {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},       \
    {NULL, 0, NULL, 0}

/* A command's own options, tried before the shared ones: EXIT_OK,
 * EXIT_USAGE after saying what is wrong, or NOT_MINE. `own` is what the
 * command keeps beyond args (NULL when nothing). */
typedef int (*option_fn)(int c, const char *arg, args *a, void *own);

/*
 * One command's flags by its table `longs` into a (and `own`): -h prints
 * the help, then each option goes to the command's own parser `mine`, then
 * to the shared ones; what neither takes is refused. GO_ON, or the exit
 * code (--help, a bad flag).
 */
static int parse_flags(const char *cmd, int argc, char **argv,
                       const struct option *longs, option_fn mine, void *own,
                       args *a)
{
    args_init(a);
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":o:qh", longs, NULL)) != -1) {
        if (c == 'h') {
            print_help(cmd, stdout);
            return EXIT_OK;
        }
        int ex = mine(c, optarg, a, own);
        if (ex == NOT_MINE)
            ex = shared_option(cmd, c, optarg, a);
        if (ex == NOT_MINE)
            return bad_option(cmd, c, argv);
        if (ex != EXIT_OK)
            return ex;
    }
    return GO_ON;
}

/* The end of a command that turns one trace into text (render, inspect):
 * on success the text goes to -o through the one writer, and the trace, an
 * input, is never overwritten (by any link); else the library's error is
 * reported. Frees out. The exit code. */
static int deliver(const char *cmd, const char *prefix, int rc,
                   const lmr_error *err, lmr_buf *out, const char *output,
                   const char *trace)
{
    int ex;
    if (rc == 0) {
        const char *inputs[] = {trace};
        ex = emit(prefix, output, out->data ? out->data : "", out->len, inputs,
                  1);
    } else {
        ex = report(cmd, rc, err);
    }
    lmr_buf_free(out);
    return ex;
}

/* ------------------------------------------------------------------------ */
/* render                                                                    */
/* ------------------------------------------------------------------------ */

/* --max-nodes and the other caps: a positive count into its field. */
static int cap_option(int c, const char *arg, args *a)
{
    if (c < OPT_CAP || c >= OPT_CAP + (int)NCAPS)
        return NOT_MINE;
    const lmr__cap_opt *cp = &caps[c - OPT_CAP];
    size_t v;
    if (!parse_count(arg, &v) || v == 0) {
        fprintf(stderr, "loopmaid render: --%s expects a positive number, not "
                        "'%s' (see loopmaid render --help)\n", cp->flag, arg);
        return EXIT_USAGE;
    }
    *(size_t *)((char *)&a->o + cp->offset) = v;
    a->given |= LMR__OPT_MAX_NODES << (c - OPT_CAP);
    return EXIT_OK;
}

/* The options only render takes (an option_fn; it keeps nothing of its
 * own). */
static int render_option(int c, const char *arg, args *a, void *own)
{
    (void)own;
    const char *cmd = "render";
    lmr_options *o = &a->o;
    switch (c) {
    case OPT_VIEW: {
        int v = lmr_view_parse(arg);
        if (v < 0)
            return usage_error(cmd,
                               "unknown view '%s' (expected state, sequence, "
                               "flowchart, tasks, gantt or advise)",
                               arg);
        o->view = (lmr_view)v;
        return EXIT_OK;
    }
    case OPT_FORMAT:
        return format_option(cmd, "mmd", arg, &o->format);
    case OPT_STATES:
        a->given |= LMR__OPT_STATES;
        o->states = arg;
        return EXIT_OK;
    case OPT_MAX_CHARS:
        if (!parse_count(arg, &o->max_chars))
            return usage_error(cmd, "--max-chars expects a number, not '%s'",
                               arg);
        if (o->max_chars < LMR__MIN_MAX_CHARS)
            return usage_error(cmd, "--max-chars %s is too small (at least "
                                    "1000)", arg);
        return EXIT_OK;
    case OPT_MAX_MESSAGES:
        a->given |= LMR__OPT_MAX_MESSAGES;
        if (!parse_count(arg, &o->max_messages) || !o->max_messages)
            return usage_error(cmd, "--max-messages expects a positive "
                                    "number, not '%s'", arg);
        return EXIT_OK;
    case OPT_COUNTS:
        a->given |= LMR__OPT_COUNTS;
        o->counts = 1;
        return EXIT_OK;
    default:
        return cap_option(c, arg, a);
    }
}

/* render's flags into a. GO_ON, or the exit code (--help, a bad flag). */
static int render_parse(int argc, char **argv, args *a)
{
    /* Not static: the cap flags come from lmr__caps, which is not a
     * constant expression in C. */
    const struct option longs[] = {
        {"view", required_argument, NULL, OPT_VIEW},
        {"title", required_argument, NULL, OPT_TITLE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"states", required_argument, NULL, OPT_STATES},
        {"max-chars", required_argument, NULL, OPT_MAX_CHARS},
        {"max-messages", required_argument, NULL, OPT_MAX_MESSAGES},
        {"counts", no_argument, NULL, OPT_COUNTS},
        LONGS_SELECTION,
        LONGS_WINDOW,
        {caps[0].flag, required_argument, NULL, OPT_CAP + 0},
        {caps[1].flag, required_argument, NULL, OPT_CAP + 1},
        {caps[2].flag, required_argument, NULL, OPT_CAP + 2},
        {caps[3].flag, required_argument, NULL, OPT_CAP + 3},
        {caps[4].flag, required_argument, NULL, OPT_CAP + 4},
        {caps[5].flag, required_argument, NULL, OPT_CAP + 5},
        {caps[6].flag, required_argument, NULL, OPT_CAP + 6},
        LONGS_TAIL,
    };
    _Static_assert(NCAPS == 7, "one long option per cap");
    return parse_flags("render", argc, argv, longs, render_option, NULL, a);
}

/* An option the view does not use: refused, naming the views that do. */
static int refuse_for_view(lmr_view view, unsigned given, const char *refused)
{
    char which[128];
    unsigned bit = 0;
    for (unsigned b = 1; b < (1u << LMR__OPT__COUNT); b <<= 1)
        if ((given & b) && lmr__view_refuses(view, b) == refused) {
            bit = b;
            break;
        }
    views_honouring(bit, which, sizeof which);
    fprintf(stderr,
            "loopmaid render: %s is not used by the %s view (%s%s); leave it "
            "out\n",
            refused, lmr_view_name(view),
            which[0] ? "only by " : "by no view yet", which);
    return EXIT_USAGE;
}

/* What the flags ask for must make sense together before the trace is
 * read: one TRACE, a window, options the view uses, a vocabulary that
 * parses. GO_ON or EXIT_USAGE. */
static int render_check(int argc, char **argv, const args *a)
{
    int ex = one_trace("render", argc, argv, &a->o);
    if (ex != GO_ON)
        return ex;
    const char *refused = lmr__view_refuses(a->o.view, a->given);
    if (refused)
        return refuse_for_view(a->o.view, a->given, refused);
    lmr_error err;
    lmr__vocab vocab;
    if (lmr__vocab_parse(a->o.states, &vocab, &err) != 0) {
        fprintf(stderr, "loopmaid render: --states: %s\n", err.msg);
        return EXIT_USAGE;
    }
    return GO_ON;
}

static int cmd_render(int argc, char **argv)
{
    args a;
    int ex = render_parse(argc, argv, &a);
    if (ex == GO_ON)
        ex = render_check(argc, argv, &a);
    if (ex != GO_ON)
        return ex;
    const char *trace = argv[optind];
    lmr__trace_in in;
    if (lmr__trace_in_open(&in, trace, a.o.quiet) != EXIT_OK)
        return EXIT_INPUT;
    lmr_error err;
    lmr_buf out = {0};
    int rc = lmr_render_file(in.path, &a.o, &out, stderr, &err);
    ex = deliver("render", "loopmaid render: ", rc, &err, &out, a.output,
                 trace);
    lmr__trace_in_close(&in);
    return ex;
}

/* ------------------------------------------------------------------------ */
/* inspect, diff, export                                                     */
/* ------------------------------------------------------------------------ */

/* inspect's own options (an option_fn); `own` is its --advise flag. */
static int inspect_option(int c, const char *arg, args *a, void *own)
{
    switch (c) {
    case OPT_ADVISE:
        *(int *)own = 1;
        return EXIT_OK;
    case OPT_FORMAT:
        return format_option("inspect", "text", arg, &a->o.format);
    default:
        return NOT_MINE;
    }
}

static int cmd_inspect(int argc, char **argv)
{
    static const struct option longs[] = {
        {"advise", no_argument, NULL, OPT_ADVISE},
        {"format", required_argument, NULL, OPT_FORMAT},
        LONGS_SELECTION,
        LONGS_WINDOW,
        LONGS_TAIL,
    };
    const char *cmd = "inspect";
    int advise = 0;
    args a;
    int ex = parse_flags(cmd, argc, argv, longs, inspect_option, &advise, &a);
    if (ex == GO_ON)
        ex = one_trace(cmd, argc, argv, &a.o);
    if (ex != GO_ON)
        return ex;
    const char *trace = argv[optind];
    lmr__trace_in in;
    if (lmr__trace_in_open(&in, trace, a.o.quiet) != EXIT_OK)
        return EXIT_INPUT;
    lmr_error err;
    lmr_buf out = {0};
    int rc = lmr_inspect(in.path, &a.o, advise, &out, stderr, &err);
    ex = deliver(cmd, NULL, rc, &err, &out, a.output, trace);
    lmr__trace_in_close(&in);
    return ex;
}

/* A tolerance: a time, or a percentage "10%" (0 < p <= 1000). */
static bool parse_tolerance(const char *s, lmr_diff_options *o)
{
    size_t n = strlen(s);
    if (n > 1 && s[n - 1] == '%') {
        char *end;
        errno = 0;
        double p = strtod(s, &end);
        if (end != s + n - 1 || errno || !(p > 0 && p <= 1000))
            return false;
        o->tolerance_pct = p;
        return true;
    }
    return lmr__parse_time(s, &o->tolerance);
}

/* What diff parses beyond args: its own options type. */
typedef struct diff_flags {
    lmr_diff_options o;
    bool format_set; /* --format was given (it goes with --view) */
} diff_flags;

/* diff's own options (an option_fn); `own` is a diff_flags. */
static int diff_option(int c, const char *arg, args *a, void *own)
{
    (void)a;
    const char *cmd = "diff";
    diff_flags *d = own;
    switch (c) {
    case OPT_VIEW:
        d->o.view = lmr_view_parse(arg);
        if (d->o.view != LMR_VIEW_TASKS && d->o.view != LMR_VIEW_STATE &&
            d->o.view != LMR_VIEW_SEQUENCE)
            return usage_error(cmd, "--view '%s': diff draws tasks, state "
                                    "or sequence", arg);
        return EXIT_OK;
    case OPT_TOLERANCE:
        if (!parse_tolerance(arg, &d->o))
            return usage_error(cmd, "--time-tolerance expects a time like "
                                    "3ms or a percentage like 10%%, not '%s'",
                               arg);
        return EXIT_OK;
    case OPT_FORMAT:
        d->format_set = true;
        return format_option(cmd, "mmd", arg, &d->o.format);
    default:
        return NOT_MINE;
    }
}

static int cmd_diff(int argc, char **argv)
{
    static const struct option longs[] = {
        {"view", required_argument, NULL, OPT_VIEW},
        {"time-tolerance", required_argument, NULL, OPT_TOLERANCE},
        {"title", required_argument, NULL, OPT_TITLE},
        {"format", required_argument, NULL, OPT_FORMAT},
        LONGS_SELECTION,
        LONGS_TAIL,
    };
    const char *cmd = "diff";
    diff_flags d = {.format_set = false};
    lmr_diff_options_init(&d.o);
    args a; /* the shared options; copied into d.o below */
    int ex = parse_flags(cmd, argc, argv, longs, diff_option, &d, &a);
    if (ex != GO_ON)
        return ex;
    lmr_diff_options *o = &d.o;
    o->tasks = a.o.tasks;
    o->exclude = a.o.exclude;
    o->title = a.o.title;
    o->quiet = a.o.quiet;
    if (o->view < 0 && (d.format_set || o->title))
        return usage_error(cmd, "%s", "--format and --title go with --view "
                                      "(the text summary has neither)");
    if (argc - optind != 2)
        return usage_error(cmd, "%s", "expected two traces: A.yaml B.yaml");
    const char *inputs[] = {argv[optind], argv[optind + 1]};
    lmr__trace_in in_a, in_b;
    if (lmr__trace_in_open(&in_a, inputs[0], a.o.quiet) != EXIT_OK)
        return EXIT_USAGE; /* diff(1): trouble is 2 */
    if (lmr__trace_in_open(&in_b, inputs[1], a.o.quiet) != EXIT_OK) {
        lmr__trace_in_close(&in_a);
        return EXIT_USAGE;
    }
    lmr_buf out = {0};
    lmr_error err;
    int rc = lmr_diff_files(in_a.path, in_b.path, o, &out, stderr, &err);
    lmr__trace_in_close(&in_a);
    lmr__trace_in_close(&in_b);
    if (rc < 0) {
        lmr_buf_free(&out);
        lmr_error_print(&err, stderr);
        return EXIT_USAGE; /* diff(1): 2 is trouble, 1 is "different" */
    }
    int wr = emit(NULL, a.output, out.data ? out.data : "", out.len, inputs,
                  2);
    lmr_buf_free(&out);
    return wr ? EXIT_USAGE : rc;
}

/* Copies the export streamed into tmp to `output` through the one writer
 * in chunks: memory stays bounded, and a failed copy leaves the target as
 * it was (never half a JSON document). The exit code. */
static int export_copy(FILE *tmp, const char *output, const char *input)
{
    lmr_error err;
    lmr__outfile of;
    const char *inputs[] = {input};
    int rc = lmr__outfile_open(&of, output ? output : "-", inputs, 1, &err);
    if (rc) {
        lmr_error_print(&err, stderr);
        return exit_for(rc);
    }
    rewind(tmp);
    char chunk[65536];
    size_t n;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, tmp)) > 0)
        rc = lmr__outfile_write(&of, chunk, n, &err);
    if (rc == 0 && ferror(tmp))
        rc = lmr__err(&err, LMR_EIO, "loopmaid", 0, 0,
                      "cannot read back the export: %s", strerror(errno));
    if (rc) {
        lmr__outfile_abort(&of);
        lmr_error_print(&err, stderr);
        return exit_for(rc);
    }
    if ((rc = lmr__outfile_commit(&of, &err)) != 0) {
        lmr_error_print(&err, stderr);
        return exit_for(rc);
    }
    return EXIT_OK;
}

/* export's own option (an option_fn): --format, of which there is one. */
static int export_option(int c, const char *arg, args *a, void *own)
{
    (void)a;
    (void)own;
    if (c != OPT_FORMAT)
        return NOT_MINE;
    if (strcmp(arg, "chrome") != 0)
        return usage_error("export", "--format '%s': the one export format "
                                     "is chrome", arg);
    return EXIT_OK;
}

static int cmd_export(int argc, char **argv)
{
    static const struct option longs[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        LONGS_SELECTION,
        LONGS_WINDOW,
        LONGS_TAIL,
    };
    const char *cmd = "export";
    args a;
    int ex = parse_flags(cmd, argc, argv, longs, export_option, NULL, &a);
    if (ex == GO_ON)
        ex = one_trace(cmd, argc, argv, &a.o);
    if (ex != GO_ON)
        return ex;
    const char *input = argv[optind];
    /* The JSON streams into a temporary file first (export_copy). */
    FILE *tmp = tmpfile();
    if (!tmp) {
        fprintf(stderr, "loopmaid export: cannot create a temporary file: %s\n",
                strerror(errno));
        return EXIT_INPUT;
    }
    lmr__trace_in in;
    if (lmr__trace_in_open(&in, input, a.o.quiet) != EXIT_OK) {
        fclose(tmp);
        return EXIT_INPUT;
    }
    lmr_error err;
    int rc = lmr_export_file(in.path, &a.o, tmp, stderr, &err);
    lmr__trace_in_close(&in);
    ex = rc == 0 ? export_copy(tmp, a.output, input) : report(cmd, rc, &err);
    fclose(tmp);
    return ex;
}

/* convert takes no option of its own (an option_fn). */
static int convert_option(int c, const char *arg, args *a, void *own)
{
    (void)c, (void)arg, (void)a, (void)own;
    return NOT_MINE;
}

/* The binary trace on in_fd as YAML straight into the new file of, which
 * the one writer renames into place only when it is whole (of->tmp set).
 * 0, or the exit code after saying why (of is dropped then). */
static int convert_into_new_file(int in_fd, const char *name, lmr__outfile *of)
{
    lmr_error err;
    int d = dup(of->fd);
    FILE *w = d < 0 ? NULL : fdopen(d, "wb");
    if (!w) {
        if (d >= 0)
            close(d);
        lmr__outfile_abort(of);
        fprintf(stderr, "%s: cannot write: %s\n", of->name, strerror(errno));
        return EXIT_INPUT;
    }
    lm_convert_error ce;
    memset(&ce, 0, sizeof ce);
    int rc = lm_trace_convert(in_fd, w, &ce);
    int e = errno;
    if (fclose(w) != 0 && rc == 0) {
        e = errno;
        rc = -1;
        ce.msg[0] = '\0';
    }
    if (rc != 0) {
        lmr__outfile_abort(of);
        if (ce.msg[0])
            return convert_failed(name, rc, &ce);
        fprintf(stderr, "%s: cannot write: %s\n", of->name, strerror(e));
        return EXIT_INPUT;
    }
    if ((rc = lmr__outfile_commit(of, &err)) != 0) {
        lmr_error_print(&err, stderr);
        return exit_for(rc);
    }
    return EXIT_OK;
}

/* The binary trace on in_fd through a temporary file into of, written in
 * place (stdout, a device, a pipe): nothing reaches it unless the whole
 * conversion worked, never half a trace. 0, or the exit code. */
static int convert_in_place(int in_fd, const char *name, lmr__outfile *of)
{
    lmr_error err;
    FILE *tmp;
    int ex = convert_to_tmp(in_fd, name, false, false, &tmp);
    if (ex != EXIT_OK) {
        lmr__outfile_abort(of);
        return ex;
    }
    int rc = 0;
    char chunk[65536];
    size_t n;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, tmp)) > 0)
        rc = lmr__outfile_write(of, chunk, n, &err);
    if (rc == 0 && ferror(tmp))
        rc = lmr__err(&err, LMR_EIO, "loopmaid", 0, 0,
                      "cannot read back the converted trace: %s",
                      strerror(errno));
    fclose(tmp);
    if (rc)
        lmr__outfile_abort(of);
    else
        rc = lmr__outfile_commit(of, &err);
    if (rc)
        lmr_error_print(&err, stderr);
    return exit_for(rc);
}

/*
 * convert: -o is opened through the one writer first, so IN itself (by any
 * name), a symlink, a device, a read-only file are handled as for render -o
 * and refused before any work. A file that is replaced gets the YAML
 * directly in its temporary twin (one write of what may be a gigabyte);
 * anything written in place gets it through a temporary file. Either way a
 * conversion that fails half-way leaves the target as it was.
 */
static int cmd_convert(int argc, char **argv)
{
    static const struct option longs[] = {LONGS_TAIL};
    const char *cmd = "convert";
    args a;
    int ex = parse_flags(cmd, argc, argv, longs, convert_option, NULL, &a);
    if (ex == GO_ON)
        ex = one_trace(cmd, argc, argv, &a.o);
    if (ex != GO_ON)
        return ex;
    const char *input = argv[optind];
    bool is_stdin = strcmp(input, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : input;
    int fd = is_stdin ? 0 : open(input, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot open: %s\n", name, strerror(errno));
        return EXIT_INPUT;
    }
    lmr_error err;
    lmr__outfile of;
    const char *inputs[] = {input};
    int rc = lmr__outfile_open(&of, a.output ? a.output : "-", inputs, 1, &err);
    if (rc) {
        lmr_error_print(&err, stderr);
        ex = exit_for(rc);
    } else {
        ex = of.tmp ? convert_into_new_file(fd, name, &of)
                    : convert_in_place(fd, name, &of);
    }
    if (!is_stdin)
        close(fd);
    return ex;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stdout);
        return EXIT_OK;
    }
    const char *what = argv[1];
    if (strcmp(what, "build") == 0) {
        char *bargv[] = {"build", "--help", NULL};
        return lmr__build_main(2, bargv);
    }
    if (!print_help(what, stdout))
        return usage_error(NULL, "no help for unknown command '%s'", what);
    return EXIT_OK;
}

int lmr__main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "render") == 0)
        return cmd_render(argc - 1, argv + 1);
    if (strcmp(cmd, "inspect") == 0)
        return cmd_inspect(argc - 1, argv + 1);
    if (strcmp(cmd, "diff") == 0)
        return cmd_diff(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "convert") == 0)
        return cmd_convert(argc - 1, argv + 1);
    /* `loopmaid build`: docs builds, owned by render/build.c. */
    if (strcmp(cmd, "build") == 0)
        return lmr__build_main(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0)
        return cmd_help(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("loopmaid %s (trace format %d)\n", LM_VERSION_STRING,
               LMR_TRACE_FORMAT_MAJOR);
        return EXIT_OK;
    }
    return usage_error(NULL, "unknown command '%s'", cmd);
}
