/*
 * test_io.c: fd waits and the socket helpers over loopback.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <ucontext.h>
#include <unistd.h>

#include "loopmaid.h"
#include "support/lm_test.h"

#ifndef BIG
#define BIG (4 * 1024 * 1024)
#endif

struct echo {
    int lfd;
    int port;
    size_t served;
};

static int echo_server(void *arg)
{
    struct echo *e = arg;
    int fd = lm_accept(e->lfd);
    cr_assert_geq(fd, 0, "accept: %s", lm_strerror(fd));
    char buf[8192]; /* task stacks are small (64 KiB by default) */
    for (;;) {
        ssize_t n = lm_read(fd, buf, sizeof buf);
        cr_assert_geq(n, 0, "read: %s", lm_strerror((int)n));
        if (n == 0)
            break;
        cr_assert_eq(lm_write_all(fd, buf, (size_t)n), n);
        e->served += (size_t)n;
    }
    close(fd);
    return 0;
}

struct client {
    int fd;
    unsigned char *out;
    size_t sent;
};

static int sender(void *arg)
{
    struct client *c = arg;
    ssize_t n = lm_write_all(c->fd, c->out, BIG);
    cr_assert_eq(n, BIG, "write_all: %s", lm_strerror((int)n));
    c->sent = (size_t)n;
    shutdown(c->fd, SHUT_WR);
    return 0;
}

static int echo_main(void *arg)
{
    struct echo *e = arg;
    lm_task *srv = lm_spawn("server", echo_server, e);
    int fd = lm_tcp_connect("127.0.0.1", e->port);
    cr_assert_geq(fd, 0, "connect: %s", lm_strerror(fd));
    /* A small send buffer forces many partial writes and EAGAINs. */
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    struct client c = {.fd = fd, .out = malloc(BIG)};
    for (size_t i = 0; i < BIG; i++)
        c.out[i] = (unsigned char)(i * 131 + (i >> 11));
    lm_task *snd = lm_spawn("sender", sender, &c);
    unsigned char *in = malloc(BIG);
    ssize_t got = lm_read_full(fd, in, BIG);
    cr_assert_eq(got, BIG, "read_full: %zd", got);
    cr_assert(memcmp(in, c.out, BIG) == 0, "echoed bytes differ");
    char extra;
    cr_assert_eq(lm_read(fd, &extra, 1), 0, "EOF after the echo");
    lm_join(snd, NULL);
    lm_join(srv, NULL);
    cr_assert_eq(e->served, BIG);
    lm_task_release(snd);
    lm_task_release(srv);
    close(fd);
    free(in);
    free(c.out);
    return 0;
}

Test(io, echo_over_loopback_with_partial_writes)
{
    struct echo e = {0};
    e.lfd = lm_tcp_listen(NULL, 0, 16);
    cr_assert_geq(e.lfd, 0);
    e.port = lm_socket_port(e.lfd);
    cr_assert_gt(e.port, 0);
    lm_loop *l = lmt_loop(LM_CLOCK_MONOTONIC);
    cr_assert_eq(lm_loop_run(l, "main", echo_main, &e, NULL), 0);
    lm_loop_stats st;
    lm_loop_stats_get(l, &st);
    cr_assert_gt(st.io_wakeups, 2, "the transfer must have waited for I/O");
    lm_loop_free(l);
    close(e.lfd);
}

static int pipefd[2];

static int wait_timeout_main(void *arg)
{
    (void)arg;
    lm_time t0 = lm_now();
    cr_assert_eq(lm_wait_fd(pipefd[0], LM_READABLE, LM_MSEC(30)), LM_ETIMEDOUT);
    cr_assert_geq(lm_now() - t0, LM_MSEC(30));
    char b;
    cr_assert_eq(lm_read_timeout(pipefd[0], &b, 1, LM_MSEC(5)), LM_ETIMEDOUT);
    /* Writable right away. */
    cr_assert_eq(lm_wait_fd(pipefd[1], LM_WRITABLE, LM_SEC(1)), LM_WRITABLE);
    cr_assert_eq(write(pipefd[1], "z", 1), 1);
    cr_assert_eq(lm_wait_fd(pipefd[0], LM_READABLE, 0), LM_READABLE);
    cr_assert_eq(lm_read_timeout(pipefd[0], &b, 1, LM_MSEC(5)), 1);
    cr_assert_eq(b, 'z');
    return 0;
}

static void mkpipe(void)
{
    cr_assert_eq(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC), 0);
}

Test(io, wait_fd_timeout_real_clock)
{
    mkpipe();
    lm_loop *l = lmt_loop(LM_CLOCK_MONOTONIC);
    cr_assert_eq(lm_loop_run(l, "main", wait_timeout_main, NULL, NULL), 0);
    lm_loop_free(l);
    close(pipefd[0]);
    close(pipefd[1]);
}

Test(io, wait_fd_timeout_virtual_clock)
{
    mkpipe();
    cr_assert_eq(lmt_run(wait_timeout_main, NULL), 0);
    close(pipefd[0]);
    close(pipefd[1]);
}

static int reader_rc;
static int blocked_reader(void *arg)
{
    (void)arg;
    char b;
    reader_rc = (int)lm_read(pipefd[0], &b, 1);
    return reader_rc < 0 ? reader_rc : 0;
}

static int writer_later(void *arg)
{
    (void)arg;
    lm_sleep(LM_MSEC(2));
    cr_assert_eq(write(pipefd[1], "q", 1), 1);
    return 0;
}

static int busy_cancel_main(void *arg)
{
    (void)arg;
    lm_task *r = lm_spawn("reader", blocked_reader, NULL);
    lm_yield();
    /* Same fd, same direction: refused rather than silently stolen. */
    cr_assert_eq(lm_wait_fd(pipefd[0], LM_READABLE, 0), LM_EBUSY);
    lm_cancel(r);
    lm_yield();
    cr_assert_eq(lm_task_state(r), LM_STATE_CANCELLED);
    cr_assert_eq(reader_rc, LM_ECANCELED);
    lm_task_release(r);
    /* The fd works again for a new reader, woken by I/O. */
    r = lm_spawn("reader2", blocked_reader, NULL);
    lm_task *w = lm_spawn("writer", writer_later, NULL);
    cr_assert_eq(lm_join(r, NULL), 0);
    cr_assert_eq(reader_rc, 1);
    lm_join(w, NULL);
    lm_task_release(r);
    lm_task_release(w);
    return 0;
}

Test(io, busy_fd_and_cancel_while_reading)
{
    mkpipe();
    lm_loop *l = lmt_loop(LM_CLOCK_MONOTONIC);
    cr_assert_eq(lm_loop_run(l, "main", busy_cancel_main, NULL, NULL), 0);
    lm_loop_free(l);
    close(pipefd[0]);
    close(pipefd[1]);
}

static int refused_main(void *arg)
{
    int port = *(int *)arg;
    cr_assert_eq(lm_tcp_connect("127.0.0.1", port), LM_ECONNREFUSED);
    cr_assert_eq(lm_tcp_connect("127.0.0.1", 70000), LM_EINVAL);
    return 0;
}

Test(io, connect_refused)
{
    /* A port that was just free and is closed again. */
    int lfd = lm_tcp_listen(NULL, 0, 1);
    int port = lm_socket_port(lfd);
    close(lfd);
    lm_loop *l = lmt_loop(LM_CLOCK_MONOTONIC);
    cr_assert_eq(lm_loop_run(l, "main", refused_main, &port, NULL), 0);
    lm_loop_free(l);
}

Test(io, calls_outside_tasks)
{
    char b;
    cr_assert_eq(lm_wait_fd(0, LM_READABLE, 0), LM_ENOTASK);
    cr_assert_eq(lm_read(0, &b, 1), LM_ENOTASK);
    cr_assert_eq(lm_accept(0), LM_ENOTASK);
    cr_assert_eq(lm_socket_port(-1), LM_EINVAL);
    cr_assert_lt(lm_tcp_listen("not an address at all", 0, 1), 0);
}

/* ---- read after write (io.c's hint) -------------------------------------- */

/* Both ends of one loopback connection, made by the helpers (so both have
 * TCP_INQ on): *a from lm_tcp_connect, *b from lm_accept. */
static void tcp_pair(int *a, int *b)
{
    int lfd = lm_tcp_listen(NULL, 0, 1);
    cr_assert_geq(lfd, 0, "listen: %s", lm_strerror(lfd));
    *a = lm_tcp_connect(NULL, lm_socket_port(lfd));
    cr_assert_geq(*a, 0, "connect: %s", lm_strerror(*a));
    *b = lm_accept(lfd);
    cr_assert_geq(*b, 0, "accept: %s", lm_strerror(*b));
    close(lfd);
}

static uint64_t io_wakeups(void)
{
    lm_loop_stats st;
    lm_loop_stats_get(lm_loop_current(), &st);
    return st.io_wakeups;
}

/* A peer answering past the library: the hint cannot see it. */
static void raw_send(int fd, const char *s)
{
    cr_assert_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static int read_after_write_main(void *arg)
{
    (void)arg;
    int a, b;
    char buf[16];
    uint64_t w0;

    /* Answers already queued (pipelining): a read that leaves bytes behind
     * sets no hint, so the read after the next write takes them at once. */
    tcp_pair(&a, &b);
    raw_send(b, "12");
    cr_assert_eq(lm_wait_fd(a, LM_READABLE, -1), LM_READABLE);
    cr_assert_eq(lm_read_full(a, buf, 1), 1);
    cr_assert_eq(lm_write_all(a, "x", 1), 1);
    w0 = io_wakeups();
    cr_assert_eq(lm_read(a, buf, sizeof buf), 1);
    cr_assert_eq(buf[0], '2');
    cr_assert_eq(io_wakeups(), w0, "a queued answer was waited for");

    /* An EOF right behind the data is never hidden: the kernel counts a
     * received FIN as a byte left, so the read after the write sees it at
     * once. */
    raw_send(b, "3");
    shutdown(b, SHUT_WR);
    cr_assert_eq(lm_wait_fd(a, LM_READABLE, -1), LM_READABLE);
    cr_assert_eq(lm_read(a, buf, 1), 1);
    cr_assert_eq(lm_write_all(a, "y", 1), 1);
    w0 = io_wakeups();
    cr_assert_eq(lm_read(a, buf, sizeof buf), 0);
    cr_assert_eq(io_wakeups(), w0, "an EOF was waited for");
    close(a);
    close(b);

    /* A write to another fd (here the peer) drops the hint: what it wrote
     * is read at once. */
    tcp_pair(&a, &b);
    raw_send(b, "4");
    cr_assert_eq(lm_wait_fd(a, LM_READABLE, -1), LM_READABLE);
    cr_assert_eq(lm_read(a, buf, sizeof buf), 1); /* a's queue is empty now */
    cr_assert_eq(lm_write_all(b, "5", 1), 1);
    cr_assert_eq(lm_write_all(a, "z", 1), 1);
    w0 = io_wakeups();
    cr_assert_eq(lm_read(a, buf, sizeof buf), 1);
    cr_assert_eq(buf[0], '5');
    cr_assert_eq(io_wakeups(), w0, "the peer's answer was waited for");

    /* The hint itself: emptied, then written to, in one step: the read
     * waits without trying first. Only an answer past the library in that
     * same step shows it: the bytes come through the poll, one wait later,
     * and are the same bytes. */
    raw_send(b, "6");
    cr_assert_eq(lm_wait_fd(a, LM_READABLE, -1), LM_READABLE);
    cr_assert_eq(lm_read(a, buf, sizeof buf), 1);
    cr_assert_eq(lm_write_all(a, "w", 1), 1);
    raw_send(b, "7");
    w0 = io_wakeups();
    cr_assert_eq(lm_read(a, buf, sizeof buf), 1);
    cr_assert_eq(buf[0], '7');
    cr_assert_eq(io_wakeups(), w0 + 1, "the read did not wait first");
    close(a);
    close(b);
    return 0;
}

Test(io, read_after_write_skips_only_the_read_that_would_fail)
{
    lm_loop *l = lmt_loop(LM_CLOCK_MONOTONIC);
    cr_assert_eq(lm_loop_run(l, "main", read_after_write_main, NULL, NULL), 0);
    lm_loop_free(l);
}

/* ---- the virtual clock with I/O pending --------------------------------- */

static lm_time reader_woke_at;
static int timed_reader(void *arg)
{
    (void)arg;
    char b;
    cr_assert_eq(lm_read(pipefd[0], &b, 1), 1);
    reader_woke_at = lm_now();
    return 0;
}

static int virtual_io_main(void *arg)
{
    (void)arg;
    /* I/O already there is taken before time jumps: the reader wakes at 0
     * although a timer (the sleep below) is pending. */
    lm_task *r = lm_spawn("reader", timed_reader, NULL);
    lm_yield();
    cr_assert_eq(write(pipefd[1], "a", 1), 1);
    lm_sleep(LM_MSEC(10));
    cr_assert_eq(lm_join(r, NULL), 0);
    cr_assert_eq(reader_woke_at, 0);
    lm_task_release(r);
    /* With a reader waiting and an hour-long timer, the loop must jump to
     * the timer instead of blocking in the poll for a real hour (the
     * Criterion timeout catches that). */
    r = lm_spawn("reader", timed_reader, NULL);
    lm_time t0 = lm_now();
    lm_sleep(LM_SEC(3600));
    cr_assert_eq(lm_now() - t0, LM_SEC(3600));
    cr_assert_eq(write(pipefd[1], "b", 1), 1);
    cr_assert_eq(lm_join(r, NULL), 0);
    cr_assert_eq(reader_woke_at, t0 + LM_SEC(3600));
    lm_task_release(r);
    /* An fd timeout is a timer too: it passes in no real time. */
    char b;
    cr_assert_eq(lm_read_timeout(pipefd[0], &b, 1, LM_SEC(7200)), LM_ETIMEDOUT);
    cr_assert_eq(lm_now() - t0, LM_SEC(3600 + 7200));
    return 0;
}

Test(io, virtual_clock_never_blocks_for_a_timer_while_io_is_pending, .timeout = 30)
{
    mkpipe();
    cr_assert_eq(lmt_run(virtual_io_main, NULL), 0);
    close(pipefd[0]);
    close(pipefd[1]);
}

/* Loopback TCP in one process under the virtual clock: a server that
 * answers after a (virtual) delay, a client with a read timeout. The log of
 * who did what when must be the same on every run. */
static char vlog[512];
static size_t vlog_len;
static void vlogf(const char *what)
{
    int n = snprintf(vlog + vlog_len, sizeof vlog - vlog_len, "%s@%lld ", what,
                     (long long)(lm_now() / 1000000));
    if (n > 0 && (size_t)n < sizeof vlog - vlog_len)
        vlog_len += (size_t)n;
}

static int delayed_server(void *arg)
{
    struct echo *e = arg;
    int fd = lm_accept(e->lfd);
    cr_assert_geq(fd, 0);
    vlogf("accepted");
    char buf[64];
    for (;;) {
        ssize_t n = lm_read(fd, buf, sizeof buf);
        cr_assert_geq(n, 0);
        if (n == 0)
            break;
        vlogf("request");
        lm_sleep(LM_MSEC(250));
        cr_assert_eq(lm_write_all(fd, buf, (size_t)n), n);
    }
    close(fd);
    return 0;
}

static int loopback_main(void *arg)
{
    struct echo *e = arg;
    lm_task *srv = lm_spawn("server", delayed_server, e);
    int fd = lm_tcp_connect("127.0.0.1", e->port);
    cr_assert_geq(fd, 0);
    vlogf("connected");
    char b[8];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(lm_write_all(fd, "ping", 4), 4);
        /* 100 ms is too short for a 250 ms answer, 1 s is enough. */
        ssize_t n = lm_read_timeout(fd, b, sizeof b, i == 1 ? LM_MSEC(100) : LM_SEC(1));
        if (i == 1) {
            cr_assert_eq(n, LM_ETIMEDOUT);
            vlogf("timeout");
            cr_assert_eq(lm_read_full(fd, b, 4), 4);
        } else {
            cr_assert_eq(n, 4);
        }
        vlogf("answer");
    }
    shutdown(fd, SHUT_WR);
    cr_assert_eq(lm_join(srv, NULL), 0);
    lm_task_release(srv);
    close(fd);
    return 0;
}

Test(io, virtual_clock_loopback_is_deterministic, .timeout = 30)
{
    char first[sizeof vlog];
    for (int run = 0; run < 3; run++) {
        vlog_len = 0;
        vlog[0] = '\0';
        struct echo e = {0};
        e.lfd = lm_tcp_listen(NULL, 0, 4);
        cr_assert_geq(e.lfd, 0);
        e.port = lm_socket_port(e.lfd);
        cr_assert_eq(lmt_run(loopback_main, &e), 0);
        close(e.lfd);
        if (run == 0)
            memcpy(first, vlog, sizeof first);
        else
            cr_assert_str_eq(vlog, first, "run %d", run);
    }
    cr_assert_str_eq(first, "accepted@0 connected@0 request@0 answer@250 request@250 "
                            "timeout@350 answer@500 request@500 answer@750 ");
}

/* ---- epoll_pwait2 missing (old kernels, valgrind) ------------------------ */

/* A seccomp filter makes epoll_pwait2 (441 on every architecture) trap; the
 * SIGSYS handler counts the call and makes it fail with ENOSYS, as a kernel
 * or a valgrind without it would. The poller must then fall back to
 * epoll_wait, and remember that: one trap, not one per tick. Criterion runs
 * each test in its own process, so the filter ends with the test. */
#define SYSNR_EPOLL_PWAIT2 441
static volatile sig_atomic_t pwait2_calls;

#if defined(__x86_64__) || defined(__aarch64__)
static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    pwait2_calls++;
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#else
    uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#endif
}

static int install_pwait2_trap(void)
{
#if defined(__x86_64__)
    const unsigned arch = AUDIT_ARCH_X86_64;
#else
    const unsigned arch = AUDIT_ARCH_AARCH64;
#endif
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYSNR_EPOLL_PWAIT2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static int fallback_main(void *arg)
{
    (void)arg;
    /* Timers through the poll's timeout (real clock), fd readiness, and a
     * reader woken by a writer: everything the poller does. */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(lm_sleep(LM_MSEC(1)), 0);
    char b;
    cr_assert_eq(lm_read_timeout(pipefd[0], &b, 1, LM_MSEC(2)), LM_ETIMEDOUT);
    lm_task *r = lm_spawn("reader", blocked_reader, NULL);
    lm_task *w = lm_spawn("writer", writer_later, NULL);
    cr_assert_eq(lm_join(r, NULL), 0);
    cr_assert_eq(reader_rc, 1);
    cr_assert_eq(lm_join(w, NULL), 0);
    lm_task_release(r);
    lm_task_release(w);
    return 0;
}

Test(io, epoll_pwait2_enosys_falls_back_to_epoll_wait_once, .timeout = 30)
{
    mkpipe();
    if (install_pwait2_trap() != 0)
        cr_skip_test("seccomp filters are not allowed here: %s", strerror(errno));
    lm_loop *l = lmt_loop(LM_CLOCK_MONOTONIC);
    cr_assert_eq(lm_loop_run(l, "main", fallback_main, NULL, NULL), 0);
    lm_loop_stats st;
    lm_loop_stats_get(l, &st);
    cr_assert_gt(st.polls, 5);
    /* One failed try at most (none under valgrind, which is detected). */
    cr_assert_leq(pwait2_calls, 1, "epoll_pwait2 tried %d times", (int)pwait2_calls);
    lm_loop_free(l);
    close(pipefd[0]);
    close(pipefd[1]);
}
#endif
