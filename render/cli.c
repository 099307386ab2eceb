/*
 * cli.c: lmr_main, the `loopmaid` command line. Flags and dispatch only; the
 * work is in lmr_render_file, lmr_inspect_file and lmr__build_main.
 *
 * Exit codes: 0 ok, 1 bad input (the trace, a file), 2 bad usage (flags,
 * a bad regular expression or vocabulary). Every message goes to stderr,
 * once, as `loopmaid COMMAND: ...` or `FILE:LINE:COL: ...`.
 */
#include "lmr_internal.h"
#include "loopmaid.h" /* LM_VERSION_STRING */

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
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
    "  -o, --output FILE  write to FILE (atomically) instead of stdout\n"
    "  --states VOCAB     state names: loopmaid, asyncio, seed002, or\n"
    "                     created=Coroutine,pending=Scheduled,...\n"
    "  --max-chars N      diagram text budget (default 50000, at least 1000)\n"
    "  --max-messages N   sequence view: at most N messages\n"
    "  --max-participants N  sequence view: at most N task lifelines\n"
    "                     (default 8; failed, cancelled, timed-out and the\n"
    "                     slowest tasks are kept first)\n"
    "  --from T, --to T   time window; T in ns or with a unit: 1500ns, 20us,\n"
    "                     3ms, 2s\n"
    "  --counts           state view: label edges with how often\n"
    "  -q, --quiet        no warnings or progress on stderr\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad input, 2 bad usage.\n";

static const char usage_inspect[] =
    "usage: loopmaid inspect [--advise] TRACE\n"
    "\n"
    "Checks TRACE (- reads stdin) and prints what happened: tasks by outcome,\n"
    "time in each state, ticks, the longest step (a step that blocked the\n"
    "loop), the longest awaits, and what cancelled what.\n"
    "\n"
    "  --advise     add how I/O-bound or CPU-bound the program was, and what\n"
    "               to use (seed 002's \"When to Use Which Approach\")\n"
    "  -q, --quiet  no warnings or progress on stderr\n"
    "  -h, --help   this help\n"
    "\n"
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

/*
 * A time: an integer or decimal number with an optional unit ns, us, ms, s
 * (no unit = ns). 1.5ms = 1500000. Returns false on anything else or on
 * overflow.
 */
static bool parse_time(const char *s, int64_t *out)
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

/*
 * Writes data to `path` atomically: a temporary file in the same directory
 * (so rename(2) cannot cross file systems), flushed and synced, then renamed
 * over the target. Readers see the old file or the new one, never half.
 */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char *d = strdup(path), *b = strdup(path);
    char *tmp = NULL;
    int rc = EXIT_INPUT;
    if (!d || !b)
        goto out;
    const char *dir = dirname(d), *base = basename(b);
    size_t n = strlen(dir) + strlen(base) + 32;
    tmp = malloc(n);
    if (!tmp)
        goto out;
    snprintf(tmp, n, "%s/.%s.XXXXXX", dir, base);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "loopmaid: %s: cannot create a temporary file: %s\n",
                path, strerror(errno));
        goto out;
    }
    /* mkstemp makes the file 0600; give it the usual umask-based mode. */
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        off += (size_t)w;
    }
    int werr = off < len ? errno : 0;
    if (!werr && fsync(fd) != 0 && errno != EINVAL)
        werr = errno;
    if (close(fd) != 0 && !werr)
        werr = errno;
    if (werr) {
        fprintf(stderr, "loopmaid: %s: cannot write: %s\n", path,
                strerror(werr));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "loopmaid: %s: cannot replace: %s\n", path,
                strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = EXIT_OK;
out:
    if (rc && !tmp)
        fprintf(stderr, "loopmaid: out of memory\n");
    free(tmp);
    free(d);
    free(b);
    return rc;
}

static int write_stdout(const char *data, size_t len)
{
    if ((len && fwrite(data, 1, len, stdout) != len) || fflush(stdout) != 0) {
        fprintf(stderr, "loopmaid: cannot write the output: %s\n",
                strerror(errno));
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

enum {
    OPT_VIEW = 256, OPT_TASKS, OPT_EXCLUDE, OPT_TITLE, OPT_FORMAT, OPT_STATES,
    OPT_MAX_CHARS, OPT_MAX_MESSAGES, OPT_MAX_PARTICIPANTS, OPT_FROM, OPT_TO, OPT_COUNTS, OPT_ADVISE
};

/* getopt keeps global state; lmr_main may run many times in one process. */
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

static int cmd_render(int argc, char **argv)
{
    static const struct option longs[] = {
        {"view", required_argument, NULL, OPT_VIEW},
        {"tasks", required_argument, NULL, OPT_TASKS},
        {"exclude", required_argument, NULL, OPT_EXCLUDE},
        {"title", required_argument, NULL, OPT_TITLE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"output", required_argument, NULL, 'o'},
        {"states", required_argument, NULL, OPT_STATES},
        {"max-chars", required_argument, NULL, OPT_MAX_CHARS},
        {"max-messages", required_argument, NULL, OPT_MAX_MESSAGES},
        {"max-participants", required_argument, NULL, OPT_MAX_PARTICIPANTS},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"counts", no_argument, NULL, OPT_COUNTS},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "render";
    lmr_options o;
    lmr_options_init(&o);
    const char *output = NULL;
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":o:qh", longs, NULL)) != -1) {
        switch (c) {
        case OPT_VIEW: {
            int v = lmr_view_parse(optarg);
            if (v < 0)
                return usage_error(cmd,
                                   "unknown view '%s' (expected state, "
                                   "sequence, flowchart, tasks, gantt or "
                                   "advise)",
                                   optarg);
            o.view = (lmr_view)v;
            break;
        }
        case OPT_TASKS:
            o.tasks = optarg;
            break;
        case OPT_EXCLUDE:
            o.exclude = optarg;
            break;
        case OPT_TITLE:
            o.title = optarg;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "mmd") == 0)
                o.format = LMR_FORMAT_MMD;
            else if (strcmp(optarg, "md") == 0)
                o.format = LMR_FORMAT_MD;
            else
                return usage_error(cmd,
                                   "unknown format '%s' (expected mmd or md)",
                                   optarg);
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_STATES:
            o.states = optarg;
            break;
        case OPT_MAX_CHARS:
            if (!parse_count(optarg, &o.max_chars))
                return usage_error(cmd, "--max-chars expects a number, not '%s'",
                                   optarg);
            if (o.max_chars < LMR__MIN_MAX_CHARS)
                return usage_error(cmd,
                                   "--max-chars %s is too small (at least "
                                   "1000)",
                                   optarg);
            break;
        case OPT_MAX_MESSAGES:
            if (!parse_count(optarg, &o.max_messages) || !o.max_messages)
                return usage_error(cmd,
                                   "--max-messages expects a positive number, "
                                   "not '%s'",
                                   optarg);
            break;
        case OPT_MAX_PARTICIPANTS:
            if (!parse_count(optarg, &o.max_participants) ||
                !o.max_participants || o.max_participants > 1000)
                return usage_error(cmd,
                                   "--max-participants expects a number from "
                                   "1 to 1000, not '%s'",
                                   optarg);
            break;
        case OPT_FROM:
            if (!parse_time(optarg, &o.from))
                return usage_error(cmd,
                                   "--from expects a time like 1500ns, 20us, "
                                   "3ms or 2s, not '%s'",
                                   optarg);
            break;
        case OPT_TO:
            if (!parse_time(optarg, &o.to))
                return usage_error(cmd,
                                   "--to expects a time like 1500ns, 20us, "
                                   "3ms or 2s, not '%s'",
                                   optarg);
            break;
        case OPT_COUNTS:
            o.counts = 1;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            fputs(usage_render, stdout);
            return EXIT_OK;
        default:
            return bad_option(cmd, c, argv);
        }
    }
    if (optind >= argc)
        return usage_error(cmd, "%s", "missing the TRACE to render");
    if (argc - optind > 1)
        return usage_error(cmd, "one TRACE at a time, but '%s' follows it",
                           argv[optind + 1]);
    if (o.to >= 0 && o.to < o.from)
        return usage_error(cmd, "%s", "--to is before --from");
    lmr_error err;
    lmr__vocab vocab;
    if (lmr__vocab_parse(o.states, &vocab, &err) != 0) {
        fprintf(stderr, "loopmaid render: --states: %s\n", err.msg);
        return EXIT_USAGE;
    }
    const char *trace = argv[optind];
    lmr_buf out = {0};
    int rc = lmr_render_file(trace, &o, &out, stderr, &err);
    if (rc) {
        if (rc == LMR_EREGEX)
            fprintf(stderr, "loopmaid render: %s: %s\n", err.file, err.msg);
        else
            lmr_error_print(&err, stderr);
        lmr_buf_free(&out);
        return exit_for(rc);
    }
    int ex = output && strcmp(output, "-") != 0
                 ? write_atomic(output, out.data ? out.data : "", out.len)
                 : write_stdout(out.data, out.len);
    lmr_buf_free(&out);
    return ex;
}

static int cmd_inspect(int argc, char **argv)
{
    static const struct option longs[] = {
        {"advise", no_argument, NULL, OPT_ADVISE},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "inspect";
    int advise = 0, quiet = 0;
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":qh", longs, NULL)) != -1) {
        switch (c) {
        case OPT_ADVISE:
            advise = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(usage_inspect, stdout);
            return EXIT_OK;
        default:
            return bad_option(cmd, c, argv);
        }
    }
    if (optind >= argc)
        return usage_error(cmd, "%s", "missing the TRACE to inspect");
    if (argc - optind > 1)
        return usage_error(cmd, "one TRACE at a time, but '%s' follows it",
                           argv[optind + 1]);
    lmr_error err;
    int rc = lmr_inspect_file(argv[optind], advise, stdout,
                              quiet ? NULL : stderr, &err);
    if (rc) {
        fflush(stdout);
        lmr_error_print(&err, stderr);
        return exit_for(rc);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "loopmaid: cannot write the output: %s\n",
                strerror(errno));
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stdout);
        return EXIT_OK;
    }
    const char *what = argv[1];
    if (strcmp(what, "render") == 0)
        fputs(usage_render, stdout);
    else if (strcmp(what, "inspect") == 0)
        fputs(usage_inspect, stdout);
    else if (strcmp(what, "build") == 0) {
        char *bargv[] = {"build", "--help", NULL};
        return lmr__build_main(2, bargv);
    } else if (strcmp(what, "help") == 0)
        fputs(usage_main, stdout);
    else
        return usage_error(NULL, "no help for unknown command '%s'", what);
    return EXIT_OK;
}

int lmr_main(int argc, char **argv)
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
