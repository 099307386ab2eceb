/*
 * build.c: `loopmaid build`, docs builds driven by a config file. This file:
 * the command, running `run:` commands and writing targets; the config is
 * build_config.c, Markdown regions build_md.c, the diff build_diff.c.
 *
 *   loopmaid build [-c loopmaid.yaml] [--check] [--diff] [--force] [-q]
 *
 * The config (YAML) lists diagrams; each names a trace, a view with the same
 * options as `render`, and a target: a whole `.mmd` file, or a named region
 * of a Markdown file between
 *
 *     <!-- loopmaid:NAME sum=0123456789abcdef -->
 *     ```mermaid
 *     ...
 *     ```
 *     <!-- /loopmaid -->
 *
 * The sum is a checksum (FNV-1a 64) of what loopmaid last wrote between the
 * markers. If the region no longer matches it, somebody edited the generated
 * block by hand, and the build refuses to overwrite it unless --force.
 * A region whose opening marker has no sum yet is filled without question.
 *
 * Why a checksum in the marker and not a side file: the Markdown file stays
 * self-contained, so copying or renaming it keeps the protection.
 *
 * Output is byte-stable: nothing here depends on the time, the machine or the
 * order of the filesystem, so an unchanged trace never changes a target, and
 * `--check` in CI fails exactly when a target is stale. Targets are written
 * through the one writer (outfile.c: atomic, mode kept, links followed) and
 * only when their bytes change; text outside the markers is never touched; a
 * CRLF file keeps CRLF.
 *
 * `run:` commands run under the virtual clock with a time limit (`timeout:`,
 * default 60 s) in their own process group, which is killed when the time
 * is up and once the command has exited, so nothing it started outlives the
 * build. A build writes the trace to a temporary file beside the trace path
 * (creating the folders it needs) and renames it into place only when the
 * command succeeded; --check and --diff write it into a temporary folder
 * instead, so they change no file at all.
 */
#include "build.h"
#include "cli.h" /* lmr__trace_in: binary traces */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits until pid has ended or `deadline` (monotonic ns) passed; true when
 * it ended. It is not reaped (WNOWAIT): while it is a zombie its pid, and so
 * its process group id, cannot be reused, so killing the group stays safe. */
static bool wait_until(pid_t pid, int64_t deadline)
{
    long nap = 1000000; /* 1 ms, doubling to 50 ms: quick commands stay quick */
    for (;;) {
        siginfo_t si;
        si.si_pid = 0;
        int w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (w == 0 && si.si_pid == pid)
            return true;
        if (w < 0 && errno != EINTR)
            return true; /* lost it (ECHILD): nothing left to wait for */
        int64_t left = deadline - mono_ns();
        if (left <= 0)
            return false;
        struct timespec ts = {0, nap < left ? nap : (long)left};
        nanosleep(&ts, NULL);
        if (nap < 50000000)
            nap *= 2;
    }
}

/*
 * Runs an entry's `run:` command under the virtual clock with its trace
 * going to `dest` (absolute), in its own process group, for at most its
 * timeout. When the time is up the whole group gets SIGTERM, then SIGKILL
 * after a grace second; a timeout is reported at the `run:` value.
 */
static int run_command(const build_config *c, const build_entry *e,
                       const char *dest, lmr_error *err)
{
    int64_t limit = e->timeout > 0 ? e->timeout : BUILD_RUN_TIMEOUT;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                        "cannot start '%s': %s", e->run, strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        if (chdir(c->dir) != 0)
            _exit(126);
        setenv("LOOPMAID_CLOCK", "virtual", 1);
        setenv("LOOPMAID_TRACE", dest, 1);
        /* Descriptor numbers show up in traces (fd: N): close everything the
         * build inherited above stderr so a command's trace does not depend
         * on what the caller happened to leave open. */
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        /* stdin too: a command that reads it must not wait for a CI log. */
        int in = open("/dev/null", O_RDONLY), out = open("/dev/null", O_WRONLY);
        if (in >= 0)
            dup2(in, 0);
        if (out >= 0)
            dup2(out, 1);
        if (in > 2)
            close(in);
        if (out > 2)
            close(out);
        execl("/bin/sh", "sh", "-c", e->run, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: whichever runs first, the group exists */
    int st = 0;
    bool ended = wait_until(pid, mono_ns() + limit);
    if (!ended) {
        kill(-pid, SIGTERM);
        if (!wait_until(pid, mono_ns() + BUILD_KILL_GRACE))
            kill(-pid, SIGKILL);
    }
    /* Whatever it left running in its group (a `&` job) ends with it;
     * then the leader is reaped. */
    kill(-pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!ended) {
        char d[32];
        lmr__fmt_dur(d, sizeof d, limit);
        return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                        "diagram '%s': 'run: %s' did not finish within %s; "
                        "killed it and its process group (raise the entry's "
                        "'timeout:' if it needs longer)",
                        e->name, e->run, d);
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st))
        return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                        "diagram '%s': 'run: %s' exited with status %d",
                        e->name, e->run, WEXITSTATUS(st));
    return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                    "diagram '%s': 'run: %s' was killed by signal %d", e->name,
                    e->run, WTERMSIG(st));
}

/* p made absolute against the current directory. Caller frees. */
static char *abs_path(const char *p)
{
    if (p[0] == '/')
        return lmr__build_strdup(p);
    char *cwd = getcwd(NULL, 0);
    char *r = cwd ? lmr__path_join(cwd, p) : NULL;
    free(cwd);
    return r;
}

/* mkdir -p of the folder that holds `path`. 0 or -errno. */
static int make_parent_dirs(const char *path)
{
    char *d = lmr__build_strdup(path);
    if (!d)
        return -ENOMEM;
    char *slash = strrchr(d, '/');
    int rc = 0;
    if (slash && slash != d) {
        *slash = '\0';
        for (char *q = d + 1;; q++) {
            if (*q != '/' && *q != '\0')
                continue;
            char was = *q;
            *q = '\0';
            if (mkdir(d, 0777) != 0 && errno != EEXIST) {
                rc = -errno;
                break;
            }
            *q = was;
            if (!was)
                break;
        }
    }
    free(d);
    return rc;
}

/* A command that succeeded but left its trace empty wrote it somewhere else
 * (by name instead of to $LOOPMAID_TRACE): say so, and keep the old trace. */
static int check_wrote(const build_config *c, const build_entry *e,
                       const char *dest, lmr_error *err)
{
    struct stat st;
    if (stat(dest, &st) == 0 && (st.st_size > 0 || !S_ISREG(st.st_mode)))
        return 0;
    return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                    "diagram '%s': 'run: %s' wrote no trace to $LOOPMAID_TRACE "
                    "(the build points it at a temporary file; loopmaid "
                    "programs write there by themselves, a script must too)",
                    e->name, e->run);
}

/*
 * Makes e's trace by running its command. A build writes it beside the trace
 * path (folders created) and renames it into place only on success; a dry
 * run (--check, --diff) writes into a fresh temporary folder and sets
 * *scratch to it (the caller removes it with drop_scratch). *path is where
 * the trace now is.
 */
static int make_trace(const build_config *c, const build_entry *e, bool dry,
                      char **path, char **scratch, lmr_error *err)
{
    *path = NULL;
    *scratch = NULL;
    if (dry) {
        const char *tmp = getenv("TMPDIR");
        char tmpl[512];
        snprintf(tmpl, sizeof tmpl, "%s/loopmaid-build.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl))
            return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                            "cannot make a temporary folder for the trace: %s",
                            strerror(errno));
        *scratch = lmr__build_strdup(tmpl);
        size_t n = strlen(tmpl) + 16;
        *path = malloc(n);
        if (!*scratch || !*path)
            return lmr__err(err, LMR_ENOMEM, c->path, 0, 0, "out of memory");
        /* The same kind of trace as a real build makes: the tracer writes
         * a binary one when the name ends in .lmt. */
        size_t tl = strlen(e->trace);
        bool lmt = tl > 4 && strcmp(e->trace + tl - 4, ".lmt") == 0;
        snprintf(*path, n, "%s/trace.%s", tmpl, lmt ? "lmt" : "yaml");
        int rc = run_command(c, e, *path, err);
        return rc ? rc : check_wrote(c, e, *path, err);
    }
    int mk = make_parent_dirs(e->trace);
    if (mk != 0)
        return lmr__err(err, LMR_EIO, c->path, e->trace_pos.line, e->trace_pos.col,
                        "cannot make the folder for trace '%s': %s", e->trace,
                        strerror(-mk));
    const char *inputs[] = {c->path};
    lmr__outfile of;
    int rc = lmr__outfile_open(&of, e->trace, inputs, 1, err);
    if (rc != 0)
        return rc;
    char *dest = abs_path(of.tmp ? of.tmp : e->trace);
    if (!dest) {
        lmr__outfile_abort(&of);
        return lmr__err(err, LMR_ENOMEM, c->path, 0, 0, "out of memory");
    }
    if (of.fd >= 0 && of.close_fd) {
        close(of.fd); /* the tracer opens it by name */
        of.fd = -1;
    }
    rc = run_command(c, e, dest, err);
    if (rc == 0)
        rc = check_wrote(c, e, dest, err);
    free(dest);
    if (rc != 0) {
        lmr__outfile_abort(&of);
        return rc;
    }
    if ((rc = lmr__outfile_commit(&of, err)) != 0)
        return rc;
    *path = lmr__build_strdup(e->trace);
    return *path ? 0 : lmr__err(err, LMR_ENOMEM, c->path, 0, 0, "out of memory");
}

static void drop_scratch(char *path, char *scratch)
{
    if (scratch) {
        if (path)
            unlink(path);
        rmdir(scratch);
    }
    free(path);
    free(scratch);
}

/* Outcome of one target. */
enum { T_SAME = 0, T_CHANGED = 1 };

/*
 * Traces a dry run made, by entry: an entry without `run:` that reads the
 * trace an earlier entry's command makes (advise_io reads fetch's) reads the
 * copy made in this run, as a real build would.
 */
typedef struct build_made {
    char **path, **scratch; /* per entry; NULL when it made none */
} build_made;

static const char *made_trace(const build_config *c, const build_made *m,
                              const build_entry *e)
{
    for (size_t i = 0; i < c->n && &c->entries[i] != e; i++)
        if (m->path[i] && !strcmp(c->entries[i].trace, e->trace))
            return m->path[i];
    return NULL;
}

/*
 * --diff on an entry with `run:`: besides the Mermaid text, what changed in
 * behaviour between the trace on disk (the last build's) and the one just
 * made (loopmaid diff's report, each line prefixed), so a CI log says why a
 * diagram went stale. Says nothing when there is no earlier trace to compare
 * or when the runs agree (the diagram changed for another reason: the view,
 * the options, loopmaid itself).
 */
static void print_behaviour_diff(const build_entry *e, const char *fresh)
{
    if (!fresh || access(e->trace, R_OK) != 0)
        return;
    lmr_diff_options o;
    lmr_diff_options_init(&o);
    o.quiet = 1;
    lmr_buf out = {0};
    lmr_error derr;
    lmr__trace_in in_a, in_b;
    if (lmr__trace_in_open(&in_a, e->trace, true) != 0)
        return;
    if (lmr__trace_in_open(&in_b, fresh, true) != 0) {
        lmr__trace_in_close(&in_a);
        return;
    }
    int rc = lmr_diff_files(in_a.path, in_b.path, &o, &out, NULL, &derr);
    lmr__trace_in_close(&in_a);
    lmr__trace_in_close(&in_b);
    if (rc == 1 && out.data) {
        printf("behaviour of %s (loopmaid diff %s <new run>):\n", e->name, e->trace);
        /* the report's first line names the two files: the header says it */
        const char *p = strchr(out.data, '\n');
        for (p = p ? p + 1 : out.data; *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            printf("  %.*s\n", (int)n, p);
            p += n + (nl != NULL);
        }
    } else if (rc < 0) {
        printf("behaviour of %s: not compared (%s)\n", e->name, derr.msg);
    }
    lmr_buf_free(&out);
}

static int build_entry_run(const build_config *c, const build_entry *e,
                           const build_flags *fl, build_made *made,
                           int *outcome, lmr_error *err)
{
    *outcome = T_SAME;
    bool dry = fl->check || fl->diff;
    size_t idx = (size_t)(e - c->entries);
    int rc;
    char *trace = NULL;
    const char *earlier = dry ? made_trace(c, made, e) : NULL;
    if (e->run) {
        rc = make_trace(c, e, dry, &made->path[idx], &made->scratch[idx], err);
        if (rc != 0)
            return rc;
        trace = lmr__build_strdup(made->path[idx]);
    } else {
        trace = lmr__build_strdup(earlier ? earlier : e->trace);
    }
    if (!trace)
        return lmr__err(err, LMR_ENOMEM, c->path, 0, 0, "out of memory");
    if (access(trace, R_OK) != 0) {
        rc = lmr__err(err, LMR_ECONFIG, c->path, e->trace_pos.line,
                      e->trace_pos.col, "trace '%s' cannot be read: %s%s",
                      e->run ? trace : e->trace, strerror(errno),
                      e->run ? " (its 'run:' command did not write it)"
                             : " (add a 'run:' command that makes it, or make it first)");
        free(trace);
        return rc;
    }
    lmr_buf diagram = {0};
    lmr_options o = e->opts;
    o.format = LMR_FORMAT_MMD;
    o.quiet = fl->quiet;
    /* A trace the entry names or its run: makes may be binary (.lmt). */
    lmr__trace_in in;
    if (lmr__trace_in_open(&in, trace, fl->quiet) != 0) {
        rc = lmr__err(err, LMR_EIO, trace, 0, 0,
                      "cannot convert the binary trace (said above)");
        free(trace);
        return rc;
    }
    rc = lmr_render_file(in.path, &o, &diagram, fl->quiet ? NULL : stderr, err);
    lmr__trace_in_close(&in);
    free(trace);
    if (rc != 0) {
        lmr_buf_free(&diagram);
        return rc;
    }
    char *cur = NULL;
    size_t curlen = 0;
    int sr = lmr__build_slurp(e->target, BUILD_MAX_TARGET, &cur, &curlen);
    if (sr != 0 && sr != -ENOENT) {
        lmr_buf_free(&diagram);
        return lmr__err(err, LMR_EIO, c->path, e->target_pos.line,
                        e->target_pos.col, "cannot read target '%s': %s",
                        e->target, sr == -EFBIG ? "file too large" : strerror(-sr));
    }
    lmr_buf next = {0};
    rc = lmr__build_compose(c, e, cur, curlen, &diagram, fl, &next, err);
    lmr_buf_free(&diagram);
    if (rc == 0) {
        bool same = cur && next.len == curlen &&
                    (curlen == 0 || memcmp(next.data, cur, curlen) == 0);
        if (!same) {
            *outcome = T_CHANGED;
            if (fl->diff)
                lmr__build_print_diff(stdout, e->target, cur ? cur : "", cur ? curlen : 0,
                           next.data ? next.data : "", next.len);
            if (fl->diff && dry && e->run)
                print_behaviour_diff(e, made->path[idx]);
            if (!dry) {
                /* The trace and the config are inputs: a target naming
                 * either (by any link) is refused, not overwritten. */
                const char *inputs[] = {e->trace, c->path};
                rc = lmr__write_file(e->target, next.data ? next.data : "",
                                     next.len, inputs, 2, err);
            }
        }
    }
    free(cur);
    lmr_buf_free(&next);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */
/* ------------------------------------------------------------------------ */

static void build_usage(FILE *fp)
{
    fputs("usage: loopmaid build [-c CONFIG] [--check] [--diff] [--force] [-q] [NAME...]\n"
          "\n"
          "Regenerates the diagrams listed in CONFIG (default: loopmaid.yaml): each\n"
          "entry renders a trace with a view into a .mmd file or into a named region\n"
          "of a Markdown file, between <!-- loopmaid:NAME --> and <!-- /loopmaid -->.\n"
          "NAMEs limit the build to those diagrams.\n"
          "\n"
          "  -c, --config FILE  the config file (default: loopmaid.yaml)\n"
          "      --check        write no file: run each 'run:' command with its trace\n"
          "                     going to a temporary folder (removed after), render,\n"
          "                     and compare with the targets; list every stale\n"
          "                     target and exit 1 if there is one. Trace files and\n"
          "                     targets are left exactly as they are.\n"
          "      --diff         write no file either: print a unified diff of what a\n"
          "                     build would change (with --check: and exit 1 if\n"
          "                     anything would), and for entries with 'run:' what\n"
          "                     changed in behaviour between the trace on disk and\n"
          "                     the new run (as loopmaid diff says it); without\n"
          "                     --check/--diff, a build rewrites the stale targets\n"
          "                     and, for entries with 'run:', the traces\n"
          "      --force        overwrite regions that were edited by hand\n"
          "  -q, --quiet        print only errors\n"
          "  -h, --help         this text\n"
          "\n"
          "Config format (YAML):\n"
          "  version: 1\n"
          "  diagrams:\n"
          "    - name: fetch                      # letters, digits, - _ .\n"
          "      run: build/examples/fetch        # optional; runs under the virtual clock\n"
          "      timeout: 10s                     # optional limit for run: (default 60s);\n"
          "                                       #   then its process group is killed\n"
          "      trace: build/demo/fetch.yaml     # the trace it writes / to read\n"
          "      view: sequence                   # state sequence flowchart tasks gantt advise\n"
          "      target: README.md                # a .md region (named like the diagram) or a .mmd file\n"
          "      region: fetch                    # optional region name for .md targets\n"
          "      # optional, as for render: title tasks exclude states max_chars\n"
          "      #   max_messages from to counts, and the caps max_nodes\n"
          "      #   max_children max_groups max_members max_causes max_rows\n"
          "      #   max_participants\n"
          "Paths are relative to the config file's directory. A build creates the\n"
          "folders a trace path needs. Options a view does not use are refused, as\n"
          "by render. Targets are written as by render -o (atomically, mode kept,\n"
          "symlinks followed; a target that is the trace or the config is refused).\n"
          "\n"
          "Exit status: 0 done (or nothing stale), 1 stale targets or bad input, 2 bad usage.\n",
          fp);
}

/* What the command line asked for: the config, the flags and the NAMEs. */
typedef struct {
    const char *config;
    build_flags fl;
    const char **only; /* argc + 1 slots, owned */
    size_t nonly;
} build_args;

/* Reads argv into *ba. Returns -1 to go on, else the exit status (after -h
 * or a usage error). */
static int parse_args(int argc, char **argv, build_args *ba)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            build_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--check")) {
            ba->fl.check = true;
        } else if (!strcmp(a, "--diff")) {
            ba->fl.diff = true;
        } else if (!strcmp(a, "--force")) {
            ba->fl.force = true;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            ba->fl.quiet = true;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "loopmaid build: %s needs a file name\n", a);
                return 2;
            }
            ba->config = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            ba->config = a + 9;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "loopmaid build: unknown option '%s' (see loopmaid build --help)\n", a);
            return 2;
        } else {
            ba->only[ba->nonly++] = a;
        }
    }
    return -1;
}

static bool is_wanted(const build_args *ba, const char *name)
{
    bool wanted = ba->nonly == 0;
    for (size_t k = 0; k < ba->nonly; k++)
        wanted |= !strcmp(name, ba->only[k]);
    return wanted;
}

/* A NAME the config does not have is a usage error, said before any work. */
static bool names_known(const build_args *ba, const build_config *c)
{
    for (size_t k = 0; k < ba->nonly; k++) {
        bool known = false;
        for (size_t i = 0; i < c->n; i++)
            known |= !strcmp(c->entries[i].name, ba->only[k]);
        if (!known) {
            fprintf(stderr, "loopmaid build: no diagram named '%s' in %s\n",
                    ba->only[k], ba->config);
            return false;
        }
    }
    return true;
}

/* What a run did, for the closing line. */
typedef struct {
    size_t stale, written, failed, checked;
} build_counts;

/* Builds (or checks) each wanted entry; returns 1 if one failed, else 0. */
static int run_entries(const build_args *ba, const build_config *c,
                       build_made *made, build_counts *n)
{
    int status = 0;
    for (size_t i = 0; i < c->n; i++) {
        const build_entry *e = &c->entries[i];
        if (!is_wanted(ba, e->name))
            continue;
        int outcome;
        lmr_error err;
        n->checked++;
        memset(&err, 0, sizeof err);
        if (build_entry_run(c, e, &ba->fl, made, &outcome, &err) != 0) {
            lmr_error_print(&err, stderr);
            n->failed++;
            status = 1;
            continue;
        }
        if (outcome == T_CHANGED) {
            if (ba->fl.check || ba->fl.diff) {
                n->stale++;
                printf("stale: %s (%s%s%s)\n", e->target, e->name,
                       e->region ? ", region " : "", e->region ? e->region : "");
            } else {
                n->written++;
                if (!ba->fl.quiet)
                    printf("wrote: %s (%s)\n", e->target, e->name);
            }
        }
    }
    return status;
}

/* The closing line; returns the status, made 1 by stale targets under --check. */
static int summarize(const build_args *ba, const build_counts *n, int status)
{
    const build_flags *fl = &ba->fl;
    /* Counts are of what this run looked at (NAMEs limit it). */
    if ((fl->check || fl->diff) && n->stale > 0) {
        printf("%zu of %zu target%s stale%s: run `loopmaid build%s%s` to update\n",
               n->stale, n->checked, n->checked == 1 ? "" : "s",
               fl->check ? "" : " (--diff: nothing written)",
               strcmp(ba->config, "loopmaid.yaml") ? " -c " : "",
               strcmp(ba->config, "loopmaid.yaml") ? ba->config : "");
        if (fl->check)
            status = 1;
    } else if (!fl->quiet && n->failed == 0) {
        if (fl->check || fl->diff)
            printf("%zu target%s up to date\n", n->checked, n->checked == 1 ? "" : "s");
        else if (n->written == 0)
            printf("nothing to do: %zu target%s up to date\n", n->checked,
                   n->checked == 1 ? "" : "s");
    }
    return status;
}

/* Loads the config and runs the wanted entries; the caller owns ba. */
static int build_with(const build_args *ba)
{
    build_config c;
    lmr_error err;
    memset(&err, 0, sizeof err);
    if (lmr__build_load_config(ba->config, &c, &err) != 0) {
        lmr_error_print(&err, stderr);
        return 1;
    }
    if (!names_known(ba, &c)) {
        lmr__build_config_free(&c);
        return 2;
    }
    build_made made = {calloc(c.n + 1, sizeof(char *)), calloc(c.n + 1, sizeof(char *))};
    if (!made.path || !made.scratch) {
        fputs("loopmaid build: out of memory\n", stderr);
        free(made.path);
        free(made.scratch);
        lmr__build_config_free(&c);
        return 1;
    }
    build_counts n = {0};
    int status = run_entries(ba, &c, &made, &n);
    /* A dry run's scratch traces go; a build's are where they belong. */
    for (size_t i = 0; i < c.n; i++)
        drop_scratch(made.path[i], made.scratch[i]);
    free(made.path);
    free(made.scratch);
    status = summarize(ba, &n, status);
    lmr__build_config_free(&c);
    return status;
}

int lmr__build_main(int argc, char **argv)
{
    build_args ba = {.config = "loopmaid.yaml"};
    ba.only = calloc((size_t)argc + 1, sizeof *ba.only);
    if (!ba.only) {
        fputs("loopmaid build: out of memory\n", stderr);
        return 1;
    }
    int status = parse_args(argc, argv, &ba);
    if (status < 0)
        status = build_with(&ba);
    free(ba.only);
    return status;
}
