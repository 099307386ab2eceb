/*
 * lm_bench.c: loopmaid's side of every benchmark workload, written against
 * the public header (loopmaid.h) only, the way a user would write it.
 *
 *     lm_bench WORKLOAD N        WORKLOAD: yields pingpong spawn timers echo
 *
 *  - yields:   one task calls lm_yield() N times.
 *  - pingpong: two tasks hand control back and forth through two lm_events,
 *              N round trips (asyncio's peer does the same with asyncio.Event).
 *  - spawn:    N tasks that each lm_sleep(1 ms), then lm_gather on all of them.
 *  - timers:   N lm_call_later callbacks due at 0 or 1 ms; the last one sets an
 *              event the main task waits on.
 *  - echo:     an accept task plus one echo task per connection, and 100
 *              client tasks, all on 127.0.0.1 in one loop, TCP_NODELAY; each
 *              client writes 32 bytes and reads them back until N round trips
 *              are done in total.
 *
 * LOOPMAID_TRACE=path turns tracing on (lm_loop_new reads it), which is how
 * the trace-overhead workload runs this same program traced and untraced.
 * Prints the result line of bench_util.h; the measured region is
 * lm_loop_run(), task shutdown included. Exits non-zero when the workload did
 * not complete exactly.
 */
#include "bench_util.h"

#include "loopmaid.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static long n_arg;
static long base_rss; /* peak RSS before the loop runs */

static void die(const char *what, int err)
{
    fprintf(stderr, "lm_bench: %s: %s\n", what, lm_strerror(err));
    exit(1);
}

/* ---------------------------------------------------------------- yields */

static int yields_main(void *arg)
{
    long *done = arg;
    for (long i = 0; i < n_arg; i++) {
        int rc = lm_yield();
        if (rc < 0)
            return rc;
        ++*done;
    }
    return 0;
}

/* -------------------------------------------------------------- pingpong */

typedef struct pingpong {
    lm_event *ping, *pong;
    long done;
} pingpong;

static int ponger(void *arg)
{
    pingpong *pp = arg;
    for (long i = 0; i < n_arg; i++) {
        int rc = lm_event_wait(pp->pong);
        if (rc < 0)
            return rc;
        lm_event_clear(pp->pong);
        lm_event_set(pp->ping);
    }
    return 0;
}

static int pingpong_main(void *arg)
{
    pingpong *pp = arg;
    pp->ping = lm_event_new();
    pp->pong = lm_event_new();
    if (pp->ping == NULL || pp->pong == NULL)
        die("lm_event_new", LM_ENOMEM);
    lm_task *t = lm_spawn("ponger", ponger, pp);
    if (t == NULL)
        die("lm_spawn", LM_ENOMEM);
    for (long i = 0; i < n_arg; i++) {
        lm_event_set(pp->pong);
        int rc = lm_event_wait(pp->ping);
        if (rc < 0)
            return rc;
        lm_event_clear(pp->ping);
        pp->done++;
    }
    int rc = lm_join(t, NULL);
    lm_task_release(t);
    lm_event_free(pp->ping);
    lm_event_free(pp->pong);
    return rc;
}

/* ----------------------------------------------------------------- spawn */

static int sleeper(void *arg)
{
    (void)arg;
    return lm_sleep(LM_MSEC(1));
}

static int spawn_main(void *arg)
{
    long *done = arg;
    lm_task **tasks = malloc((size_t)n_arg * sizeof *tasks);
    if (tasks == NULL)
        die("malloc", LM_ENOMEM);
    for (long i = 0; i < n_arg; i++) {
        tasks[i] = lm_spawn(NULL, sleeper, NULL);
        if (tasks[i] == NULL)
            die("lm_spawn", LM_ENOMEM);
    }
    int errors_seen = 0;
    int rc = lm_gather(tasks, (size_t)n_arg, 0, NULL, NULL);
    for (long i = 0; i < n_arg; i++) {
        if (lm_task_error(tasks[i]) == 0)
            ++*done;
        else
            errors_seen++;
        lm_task_release(tasks[i]);
    }
    free(tasks);
    return rc < 0 ? rc : errors_seen ? LM_EFAILED : 0;
}

/* ---------------------------------------------------------------- timers */

typedef struct timers {
    lm_event *finished;
    long fired;
} timers;

static void timer_cb(void *arg)
{
    timers *tm = arg;
    if (++tm->fired == n_arg)
        lm_event_set(tm->finished);
}

static int timers_main(void *arg)
{
    timers *tm = arg;
    lm_loop *loop = lm_loop_current();
    tm->finished = lm_event_new();
    if (tm->finished == NULL)
        die("lm_event_new", LM_ENOMEM);
    for (long i = 0; i < n_arg; i++) {
        if (lm_call_later(loop, LM_MSEC(i & 1), timer_cb, tm) == NULL)
            die("lm_call_later", LM_ENOMEM);
    }
    int rc = lm_event_wait(tm->finished);
    lm_event_free(tm->finished);
    return rc;
}

/* ------------------------------------------------------------------ echo */

static const char echo_msg[BENCH_ECHO_MSG] = "loopmaid echo benchmark payload";
static int echo_port;
static long echo_done;
/* Server connections still open, and the event set when that reaches zero
 * after the clients are done: main waits for a clean close of both sides,
 * as the libuv peer closes every handle inside its measured region. */
static long echo_conns;
static lm_event *echo_conns_closed;

static void nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Echoes one connection until the peer closes it. */
static int echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    int rc = 0;
    nodelay(fd);
    for (;;) {
        ssize_t r = lm_read(fd, buf, sizeof buf);
        if (r <= 0) {
            rc = r == 0 || r == LM_ECONNRESET ? 0 : (int)r;
            break;
        }
        ssize_t w = lm_write_all(fd, buf, (size_t)r);
        if (w < 0) {
            rc = (int)w;
            break;
        }
    }
    close(fd);
    if (--echo_conns == 0)
        lm_event_set(echo_conns_closed);
    return rc;
}

/* Accepts until cancelled at shutdown; each connection gets its own task. */
static int echo_accept(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = lm_accept(lfd);
        if (fd < 0)
            return fd; /* LM_ECANCELED at shutdown */
        lm_task *t = lm_spawn("conn", echo_conn, (void *)(intptr_t)fd);
        if (t == NULL)
            die("lm_spawn", LM_ENOMEM);
        echo_conns++;
        lm_task_release(t);
    }
}

static int echo_client(void *arg)
{
    long rounds = (long)(intptr_t)arg;
    char reply[BENCH_ECHO_MSG];
    int fd = lm_tcp_connect("127.0.0.1", echo_port);
    if (fd < 0)
        return fd;
    nodelay(fd);
    int rc = 0;
    for (long i = 0; i < rounds; i++) {
        ssize_t w = lm_write_all(fd, echo_msg, sizeof echo_msg);
        if (w < 0) {
            rc = (int)w;
            break;
        }
        ssize_t r = lm_read_full(fd, reply, sizeof reply);
        if (r != (ssize_t)sizeof reply || memcmp(reply, echo_msg, sizeof reply)) {
            rc = r < 0 ? (int)r : LM_EIO;
            break;
        }
        echo_done++;
    }
    close(fd);
    return rc;
}

static int echo_main(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    lm_task *acceptor = lm_spawn("accept", echo_accept, (void *)(intptr_t)lfd);
    lm_task *clients[BENCH_ECHO_CLIENTS];
    size_t nc = 0;
    long per = n_arg / BENCH_ECHO_CLIENTS, extra = n_arg % BENCH_ECHO_CLIENTS;
    echo_conns_closed = lm_event_new();
    if (acceptor == NULL || echo_conns_closed == NULL)
        die("lm_spawn", LM_ENOMEM);
    for (long i = 0; i < BENCH_ECHO_CLIENTS; i++) {
        long rounds = per + (i < extra ? 1 : 0);
        if (rounds == 0)
            continue;
        clients[nc] = lm_spawn("client", echo_client, (void *)(intptr_t)rounds);
        if (clients[nc] == NULL)
            die("lm_spawn", LM_ENOMEM);
        nc++;
    }
    int rc = lm_gather(clients, nc, 0, NULL, NULL);
    for (size_t i = 0; i < nc; i++)
        lm_task_release(clients[i]);
    /* The acceptor is cancelled and awaited, and every connection task is
     * awaited (they end when their client has closed): nothing is left for
     * the loop's shutdown, as in a well-behaved server. */
    lm_cancel(acceptor);
    (void)lm_join(acceptor, NULL); /* LM_ECANCELED: what was asked for */
    lm_task_release(acceptor);
    if (rc == 0 && echo_conns > 0)
        rc = lm_event_wait(echo_conns_closed);
    lm_event_free(echo_conns_closed);
    return rc;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: lm_bench yields|pingpong|spawn|timers|echo N\n");
        return 2;
    }
    const char *w = argv[1];
    n_arg = bench_parse_n("lm_bench", argv[2]);

    lm_coro_fn fn;
    void *arg;
    long done_counter = 0, *done = &done_counter;
    pingpong pp = {0};
    timers tm = {0};
    int lfd = -1;
    if (strcmp(w, "yields") == 0) {
        fn = yields_main;
        arg = done;
    } else if (strcmp(w, "pingpong") == 0) {
        fn = pingpong_main;
        arg = &pp;
        done = &pp.done;
    } else if (strcmp(w, "spawn") == 0) {
        fn = spawn_main;
        arg = done;
    } else if (strcmp(w, "timers") == 0) {
        fn = timers_main;
        arg = &tm;
        done = &tm.fired;
    } else if (strcmp(w, "echo") == 0) {
        lfd = lm_tcp_listen("127.0.0.1", 0, 256);
        if (lfd < 0)
            die("lm_tcp_listen", lfd);
        echo_port = lm_socket_port(lfd);
        if (echo_port < 0)
            die("lm_socket_port", echo_port);
        fn = echo_main;
        arg = (void *)(intptr_t)lfd;
        done = &echo_done;
    } else {
        fprintf(stderr, "lm_bench: unknown workload '%s'\n", w);
        return 2;
    }

    lm_loop *loop = lm_loop_new(NULL);
    if (loop == NULL) {
        perror("lm_bench: lm_loop_new");
        return 1;
    }
    base_rss = bench_rss_kib();
    double c0 = bench_cpu(), l0 = bench_thread_cpu();
    double t0 = bench_now();
    int rc = lm_loop_run(loop, "main", fn, arg, NULL);
    double t1 = bench_now();
    double c1 = bench_cpu(), l1 = bench_thread_cpu();
    lm_loop_free(loop);
    if (lfd >= 0)
        close(lfd);
    if (rc != 0)
        die(w, rc);
    if (*done != n_arg) {
        fprintf(stderr, "lm_bench: %s completed %ld of %ld\n", w, *done, n_arg);
        return 1;
    }
    bench_report(w, n_arg, t1 - t0, c1 - c0, base_rss, l1 - l0);
    return 0;
}
