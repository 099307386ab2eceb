/*
 * loop_internals.c: one program that exercises every phase of a loop tick.
 *
 * Reproduces seed 000's "Event Loop Internals": each tick the loop runs the
 * ready tasks and callbacks one at a time, polls for I/O, moves the tasks
 * whose sockets became ready back to the ready queue, and fires the timers
 * that expired. Here:
 *
 *   ready work  "counter" yields three times (it is ready again at once),
 *               and a plain callback is queued with lm_call_soon;
 *   I/O         "client" sends "ping" to "echo server" over a real loopback
 *               TCP connection and awaits the "pong": both wait in the poller;
 *   timers      "sleeper" sleeps 20 ms, the echo server waits 10 ms before
 *               answering, and a callback is scheduled with lm_call_later.
 *
 * At the end it prints the loop's own counters (lm_loop_stats_get), which
 * the `flowchart` view shows on the tick diagram's edges.
 *
 *   LOOPMAID_CLOCK=virtual LOOPMAID_TRACE=loop_internals.yaml build/examples/loop_internals
 *   build/loopmaid render --view flowchart loop_internals.yaml
 */
#include "loopmaid.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Ready work: three steps, giving the loop back between them. */
static int counter(void *arg)
{
    (void)arg;
    for (int i = 1; i <= 3; i++) {
        lm_notef("step %d", i);
        int rc = lm_yield(); /* running -> pending: stays in the ready queue */
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Timers: a plain sleep. */
static int sleeper(void *arg)
{
    (void)arg;
    return lm_sleep(LM_MSEC(20));
}

/* I/O: answers one "ping" with "pong", after a short pause (a timer). */
static int echo_server(void *arg)
{
    int listen_fd = *(int *)arg;
    int fd = lm_accept(listen_fd); /* awaits the listening socket */
    if (fd < 0)
        return fd;
    lm_fd_label(fd, "client"); /* the diagrams name the peer, not the fd */
    char buf[16];
    ssize_t n = lm_read(fd, buf, sizeof buf); /* awaits the request */
    int rc = n < 0 ? (int)n : lm_sleep(LM_MSEC(10));
    if (rc == 0)
        rc = (int)lm_write_all(fd, "pong", 4);
    close(fd);
    return rc < 0 ? rc : 0;
}

static int client(void *arg)
{
    int port = *(int *)arg;
    int fd = lm_tcp_connect("127.0.0.1", port); /* awaits the connection */
    if (fd < 0)
        return fd;
    lm_fd_label(fd, "echo server");
    char buf[16] = "";
    ssize_t n = lm_write_all(fd, "ping", 4);
    if (n >= 0)
        n = lm_read_full(fd, buf, sizeof buf - 1); /* awaits "pong" + EOF */
    close(fd);
    if (n < 0)
        return (int)n;
    lm_notef("got %s", buf);
    return strcmp(buf, "pong") == 0 ? 0 : lm_fail(LM_EUSER, "wrong reply");
}

/* Plain callbacks run by the loop itself, outside any task. */
static void soon(void *arg)
{
    (void)arg;
    lm_note("call_soon callback");
}

/* When lm_call_later was called: the note says the delay the loop gave it,
 * as measured on its clock, not as typed. */
static lm_time later_scheduled;

static void later(void *arg)
{
    (void)arg;
    lm_notef("call_later callback, run %lld ms after it was scheduled",
             (long long)((lm_now() - later_scheduled) / LM_MSEC(1)));
}

static int main_task(void *arg)
{
    (void)arg;
    lm_loop *loop = lm_loop_current();
    int lfd = lm_tcp_listen("127.0.0.1", 0, 4);
    if (lfd < 0)
        return lfd;
    int port = lm_socket_port(lfd);
    lm_fd_label(lfd, "listening socket");

    lm_task *t[4] = {
        lm_spawn("counter", counter, NULL),
        lm_spawn("echo server", echo_server, &lfd),
        lm_spawn("client", client, &port),
        lm_spawn("sleeper", sleeper, NULL),
    };
    lm_call_soon(loop, soon, NULL);
    later_scheduled = lm_now();
    lm_call_later(loop, LM_MSEC(15), later, NULL);

    int errors[4];
    int rc = lm_gather(t, 4, LM_GATHER_RETURN_EXCEPTIONS, NULL, errors);
    for (int i = 0; i < 4; i++) {
        if (errors[i] != 0)
            rc = errors[i];
        lm_task_release(t[i]);
    }
    close(lfd);

    lm_loop_stats st;
    lm_loop_stats_get(loop, &st);
    printf("ticks %llu: %llu task steps and %llu callbacks run one at a time,\n"
           "%llu polls for I/O, %llu tasks woken by I/O, %llu timers fired\n",
           (unsigned long long)st.ticks, (unsigned long long)st.steps,
           (unsigned long long)st.callbacks, (unsigned long long)st.polls,
           (unsigned long long)st.io_wakeups, (unsigned long long)st.timers_fired);
    return rc;
}

int main(void)
{
    int rc = lm_run("main", main_task, NULL);
    if (rc != 0)
        fprintf(stderr, "loop_internals: %s\n", lm_strerror(rc));
    return rc == 0 ? 0 : 1;
}
