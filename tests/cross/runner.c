/*
 * tests/cross/runner.c: main() for a test file built against the Criterion
 * stand-in (tests/cross/criterion/criterion.h). See that header for why.
 *
 *   test_x [--filter GLOB] [--skip GLOB]... [--list] [--jobs N]
 *
 * Runs every registered test (or those whose "suite/name" matches GLOB, minus
 * those matching a --skip) one at a time, each in its own child process, so
 * a crash fails one test and a test's static state never leaks into the
 * next. A test passes when its child exits 0, or dies of the .signal or
 * exits with the .exit_code it declared. .timeout is multiplied by
 * CRX_TIMEOUT_SCALE (default 1; mk/cross.mk sets it for qemu, which runs
 * code several times slower); a test without one gets CRX_DEFAULT_TIMEOUT
 * seconds (default 600), so nothing hangs. --jobs is accepted and ignored
 * (scripts that run Criterion binaries pass it).
 *
 * Prints one line per test and ends with Criterion's summary line,
 *   [====] Synthesis: Tested: N | Passing: N | Failing: N | Crashing: N
 * Exit status 0 only if every test that ran passed (skips are not failures).
 */
#include "criterion/criterion.h"

#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A child reports a failed check or a skip by its exit status. */
#define CRX_EXIT_FAILED 101
#define CRX_EXIT_SKIPPED 102

static struct crx_test *crx_tests;
static struct crx_test *crx_current;
static int crx_expect_failed;

void crx_register(struct crx_test *t)
{
    /* Constructors run in file order or its reverse depending on the
     * toolchain: keep the list sorted by suite, then name, as Criterion
     * reports them, so output does not depend on it. */
    struct crx_test **p = &crx_tests;
    while (*p != NULL) {
        int c = strcmp((*p)->suite, t->suite);
        if (c > 0 || (c == 0 && strcmp((*p)->name, t->name) > 0))
            break;
        p = &(*p)->next;
    }
    t->next = *p;
    *p = t;
}

void crx_fail(int fatal, const char *file, int line, const char *expr, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: %s/%s: check failed: %s", file, line,
            crx_current ? crx_current->suite : "?", crx_current ? crx_current->name : "?", expr);
    if (fmt != NULL && *fmt != '\0') {
        va_list ap;
        va_start(ap, fmt);
        fputs(": ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    if (fatal) {
        if (crx_current != NULL && crx_current->opts.fini != NULL)
            crx_current->opts.fini();
        fflush(NULL);
        _exit(CRX_EXIT_FAILED);
    }
    crx_expect_failed = 1;
}

_Noreturn void crx_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s/%s: skipped: ", crx_current ? crx_current->suite : "?",
            crx_current ? crx_current->name : "?");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(NULL);
    _exit(CRX_EXIT_SKIPPED);
}

void crx_log(const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s] ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double crx_env_double(const char *name, double dflt)
{
    const char *e = getenv(name);
    if (e == NULL || *e == '\0')
        return dflt;
    char *end = NULL;
    double v = strtod(e, &end);
    return (end != e && v > 0) ? v : dflt;
}

static double crx_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Noreturn void crx_child(struct crx_test *t, unsigned timeout)
{
    crx_current = t;
    /* SIGALRM's default action kills the child: a timeout is a crash. */
    alarm(timeout);
    if (t->opts.init != NULL)
        t->opts.init();
    t->fn();
    if (t->opts.fini != NULL)
        t->opts.fini();
    fflush(NULL);
    _exit(crx_expect_failed ? CRX_EXIT_FAILED : 0);
}

enum crx_result { CRX_PASS, CRX_FAIL, CRX_CRASH, CRX_SKIP };

static enum crx_result crx_run(struct crx_test *t, double scale, double dflt)
{
    double secs = t->opts.timeout > 0 ? t->opts.timeout * scale : dflt;
    unsigned timeout = secs < 1 ? 1 : (unsigned)(secs + 0.5);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s/%s: fork: %s\n", t->suite, t->name, strerror(errno));
        return CRX_CRASH;
    }
    if (pid == 0)
        crx_child(t, timeout);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "%s/%s: waitpid: %s\n", t->suite, t->name, strerror(errno));
            return CRX_CRASH;
        }
    }
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        if (t->opts.signal != 0 && sig == t->opts.signal)
            return CRX_PASS;
        fprintf(stderr, "%s/%s: killed by signal %d (%s)%s\n", t->suite, t->name, sig,
                strsignal(sig), sig == SIGALRM ? ": timed out" : "");
        return CRX_CRASH;
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code == CRX_EXIT_SKIPPED)
        return CRX_SKIP;
    if (t->opts.signal != 0) {
        fprintf(stderr, "%s/%s: exited with %d, expected signal %d (%s)\n", t->suite, t->name,
                code, t->opts.signal, strsignal(t->opts.signal));
        return CRX_FAIL;
    }
    if (code == t->opts.exit_code)
        return CRX_PASS;
    if (code != CRX_EXIT_FAILED)
        fprintf(stderr, "%s/%s: exited with %d, expected %d\n", t->suite, t->name, code,
                t->opts.exit_code);
    return CRX_FAIL;
}

static int crx_usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--filter GLOB] [--skip GLOB]... [--list] [--jobs N]\n", argv0);
    return 2;
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    const char *skips[64];
    int nskips = 0, list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if (strncmp(a, "--filter=", 9) == 0)
            filter = a + 9;
        else if (strncmp(a, "--skip=", 7) == 0)
            v = a + 7;
        else if (strcmp(a, "--filter") == 0 && i + 1 < argc)
            filter = argv[++i];
        else if (strcmp(a, "--skip") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strcmp(a, "--list") == 0 || strcmp(a, "-l") == 0)
            list = 1;
        else if (strncmp(a, "--jobs", 6) == 0 || strncmp(a, "-j", 2) == 0) {
            if (strcmp(a, "--jobs") == 0 && i + 1 < argc)
                i++;
        } else
            return crx_usage(argv[0]);
        if (v != NULL) {
            if (nskips == (int)(sizeof skips / sizeof skips[0]))
                return crx_usage(argv[0]);
            skips[nskips++] = v;
        }
    }
    double scale = crx_env_double("CRX_TIMEOUT_SCALE", 1);
    double dflt = crx_env_double("CRX_DEFAULT_TIMEOUT", 600);
    int tested = 0, passing = 0, failing = 0, crashing = 0, skipped = 0;
    for (struct crx_test *t = crx_tests; t != NULL; t = t->next) {
        char full[256];
        snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
        if (filter != NULL && fnmatch(filter, full, 0) != 0)
            continue;
        int skip = t->opts.disabled;
        for (int k = 0; k < nskips && !skip; k++)
            skip = fnmatch(skips[k], full, 0) == 0;
        if (list) {
            printf("%s%s\n", full, skip ? " (skipped)" : "");
            continue;
        }
        if (skip) {
            printf("[SKIP] %s\n", full);
            skipped++;
            continue;
        }
        double t0 = crx_seconds();
        enum crx_result r = crx_run(t, scale, dflt);
        double dt = crx_seconds() - t0;
        tested++;
        static const char *const tag[] = {"PASS", "FAIL", "CRASH", "SKIP"};
        printf("[%s] %s (%.2fs)\n", tag[r], full, dt);
        if (r == CRX_PASS)
            passing++;
        else if (r == CRX_FAIL)
            failing++;
        else if (r == CRX_CRASH)
            crashing++;
        else {
            tested--;
            skipped++;
        }
    }
    if (list)
        return 0;
    printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: %d | Skipped: %d\n",
           tested, passing, failing, crashing, skipped);
    return (failing == 0 && crashing == 0) ? 0 : 1;
}
