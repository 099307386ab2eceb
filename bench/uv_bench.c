/*
 * uv_bench.c: the libuv peer of every loopmaid benchmark workload.
 *
 *     uv_bench WORKLOAD N        WORKLOAD: yields pingpong spawn timers echo
 *
 * libuv has no tasks, so each workload is written the way a C programmer would
 * write it with plain libuv callbacks, using the cheapest handle that does the
 * job (a weak peer proves nothing):
 *
 *  - yields:   one idle handle whose callback runs N times, one per loop
 *              iteration (the libuv spelling of "let the loop go round").
 *  - pingpong: two idle handles that start each other and stop themselves, so
 *              control passes A -> B -> A through the loop, N round trips.
 *              Idle handles are plain list operations; uv_async would add an
 *              eventfd write and an epoll round trip per hand-off.
 *  - spawn:    N timers of 1 ms in one array (one allocation), a counter as
 *              the "gather"; closes every handle before the clock stops,
 *              since loopmaid frees its tasks inside the measured region too.
 *  - timers:   N one-shot timers due at 0 or 1 ms (libuv's resolution is a
 *              millisecond), run to completion.
 *  - echo:     a uv_tcp server and 100 uv_tcp clients in one loop on
 *              127.0.0.1, TCP_NODELAY, each client writes 32 bytes and reads
 *              them back until N round trips are done in total. Writes use
 *              uv_try_write (no request, no copy) and fall back to uv_write
 *              only when the kernel buffer is full.
 *
 * Prints the result line described in bench_util.h. Exits non-zero when the
 * workload did not complete exactly, so a broken peer cannot look fast.
 */
#include "bench_util.h"

#include <uv.h>

#define CHECK(call)                                                            \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ < 0) {                                                         \
            fprintf(stderr, "uv_bench: %s: %s\n", #call, uv_strerror(rc_));    \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static uv_loop_t *loop;

/* ---------------------------------------------------------------- yields */

static long yields_left;

static void yield_cb(uv_idle_t *h)
{
    if (--yields_left == 0)
        uv_idle_stop(h);
}

static long run_yields(long n)
{
    uv_idle_t idle;
    yields_left = n;
    CHECK(uv_idle_init(loop, &idle));
    CHECK(uv_idle_start(&idle, yield_cb));
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    uv_close((uv_handle_t *)&idle, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return n - yields_left;
}

/* -------------------------------------------------------------- pingpong */

static uv_idle_t ping_h, pong_h;
static long rounds_left, rounds_done;

static void pong_cb(uv_idle_t *h);

static void ping_cb(uv_idle_t *h)
{
    uv_idle_stop(h);
    uv_idle_start(&pong_h, pong_cb);
}

static void pong_cb(uv_idle_t *h)
{
    uv_idle_stop(h);
    rounds_done++;
    if (--rounds_left > 0)
        uv_idle_start(&ping_h, ping_cb);
}

static long run_pingpong(long n)
{
    rounds_left = n;
    rounds_done = 0;
    CHECK(uv_idle_init(loop, &ping_h));
    CHECK(uv_idle_init(loop, &pong_h));
    CHECK(uv_idle_start(&ping_h, ping_cb));
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    uv_close((uv_handle_t *)&ping_h, NULL);
    uv_close((uv_handle_t *)&pong_h, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return rounds_done;
}

/* -------------------------------------------------------- spawn / timers */

static long timers_fired;

static void timer_cb(uv_timer_t *t)
{
    (void)t;
    timers_fired++;
}

/* N timers in one array; timeout(i) in ms. Returns how many fired. */
static long run_timer_array(long n, int alternate)
{
    uv_timer_t *ts = malloc((size_t)n * sizeof *ts);
    if (ts == NULL) {
        fprintf(stderr, "uv_bench: out of memory\n");
        exit(1);
    }
    timers_fired = 0;
    for (long i = 0; i < n; i++) {
        CHECK(uv_timer_init(loop, &ts[i]));
        CHECK(uv_timer_start(&ts[i], timer_cb, alternate ? (uint64_t)(i & 1) : 1,
                             0));
    }
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    for (long i = 0; i < n; i++)
        uv_close((uv_handle_t *)&ts[i], NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    free(ts);
    return timers_fired;
}

/* ------------------------------------------------------------------ echo */

/* One accepted connection on the server side; the read buffer lives inside,
 * so a read needs no allocation. */
typedef struct conn {
    uv_tcp_t tcp;
    char buf[65536];
} conn;

/* A write that could not complete at once: owns a copy of the bytes. */
typedef struct pending_write {
    uv_write_t req;
    char data[];
} pending_write;

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    long left;     /* round trips still to do */
    size_t got;    /* bytes of the current reply received */
    char buf[256]; /* read buffer */
} client;

static uv_tcp_t server;
static long echo_done, clients_open;
static const char echo_msg[BENCH_ECHO_MSG] = "loopmaid echo benchmark payload";

static void on_close_free(uv_handle_t *h) { free(h); }

static void on_pending_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

/* Writes everything: uv_try_write first, a copied uv_write for the rest. */
static void write_all(uv_stream_t *s, const char *p, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
    int w = uv_try_write(s, &b, 1);
    if (w == (int)len)
        return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, NULL);
        return;
    }
    size_t off = w > 0 ? (size_t)w : 0;
    pending_write *pw = malloc(sizeof *pw + len - off);
    if (pw == NULL) {
        fprintf(stderr, "uv_bench: out of memory\n");
        exit(1);
    }
    memcpy(pw->data, p + off, len - off);
    uv_buf_t rest = uv_buf_init(pw->data, (unsigned)(len - off));
    CHECK(uv_write(&pw->req, s, &rest, 1, on_pending_written));
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = (conn *)h;
    *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        write_all(s, buf->base, (size_t)nread);
    } else if (nread < 0) {
        uv_close((uv_handle_t *)s, on_close_free);
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    CHECK(status);
    conn *c = malloc(sizeof *c);
    if (c == NULL) {
        fprintf(stderr, "uv_bench: out of memory\n");
        exit(1);
    }
    CHECK(uv_tcp_init(loop, &c->tcp));
    CHECK(uv_accept(srv, (uv_stream_t *)&c->tcp));
    CHECK(uv_tcp_nodelay(&c->tcp, 1));
    CHECK(uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read));
}

static void client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    client *c = (client *)h;
    *buf = uv_buf_init(c->buf + c->got, (unsigned)(sizeof c->buf - c->got));
}

static void client_closed(uv_handle_t *h)
{
    (void)h;
    if (--clients_open == 0)
        uv_close((uv_handle_t *)&server, NULL);
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    client *c = (client *)s;
    if (nread < 0) {
        fprintf(stderr, "uv_bench: client read: %s\n", uv_strerror((int)nread));
        exit(1);
    }
    c->got += (size_t)nread;
    if (c->got < BENCH_ECHO_MSG)
        return;
    if (c->got != BENCH_ECHO_MSG || memcmp(c->buf, echo_msg, BENCH_ECHO_MSG)) {
        fprintf(stderr, "uv_bench: echo reply corrupted\n");
        exit(1);
    }
    c->got = 0;
    echo_done++;
    if (--c->left > 0) {
        write_all(s, echo_msg, BENCH_ECHO_MSG);
    } else {
        uv_read_stop(s);
        uv_close((uv_handle_t *)s, client_closed);
    }
}

static void client_connected(uv_connect_t *req, int status)
{
    CHECK(status);
    client *c = req->data;
    CHECK(uv_tcp_nodelay(&c->tcp, 1));
    CHECK(uv_read_start((uv_stream_t *)&c->tcp, client_alloc, client_read));
    write_all((uv_stream_t *)&c->tcp, echo_msg, BENCH_ECHO_MSG);
}

static long run_echo(long n)
{
    struct sockaddr_in addr;
    int len = sizeof addr;
    CHECK(uv_ip4_addr("127.0.0.1", 0, &addr));
    CHECK(uv_tcp_init(loop, &server));
    CHECK(uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0));
    CHECK(uv_listen((uv_stream_t *)&server, 256, on_connection));
    CHECK(uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len));

    static client clients[BENCH_ECHO_CLIENTS];
    long per = n / BENCH_ECHO_CLIENTS, extra = n % BENCH_ECHO_CLIENTS;
    echo_done = 0;
    clients_open = 0;
    for (long i = 0; i < BENCH_ECHO_CLIENTS; i++) {
        client *c = &clients[i];
        c->left = per + (i < extra ? 1 : 0);
        c->got = 0;
        if (c->left == 0)
            continue;
        CHECK(uv_tcp_init(loop, &c->tcp));
        c->connect.data = c;
        CHECK(uv_tcp_connect(&c->connect, &c->tcp,
                             (const struct sockaddr *)&addr, client_connected));
        clients_open++;
    }
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    return echo_done;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: uv_bench yields|pingpong|spawn|timers|echo N\n");
        return 2;
    }
    const char *w = argv[1];
    long n = bench_parse_n("uv_bench", argv[2]);
    uv_loop_t storage;
    loop = &storage;
    CHECK(uv_loop_init(loop));

    long base = bench_rss_kib(), done;
    double c0 = bench_cpu();
    double t0 = bench_now();
    if (strcmp(w, "yields") == 0)
        done = run_yields(n);
    else if (strcmp(w, "pingpong") == 0)
        done = run_pingpong(n);
    else if (strcmp(w, "spawn") == 0)
        done = run_timer_array(n, 0);
    else if (strcmp(w, "timers") == 0)
        done = run_timer_array(n, 1);
    else if (strcmp(w, "echo") == 0)
        done = run_echo(n);
    else {
        fprintf(stderr, "uv_bench: unknown workload '%s'\n", w);
        return 2;
    }
    double t1 = bench_now();
    double c1 = bench_cpu();
    if (done != n) {
        fprintf(stderr, "uv_bench: %s completed %ld of %ld\n", w, done, n);
        return 1;
    }
    bench_report(w, n, t1 - t0, c1 - c0, base, -1);
    CHECK(uv_loop_close(loop));
    return 0;
}
