/*
 * timeout.c: wait_for on a slow task, cancellation at the await, cleanup.
 *
 * Reproduces seed 000's "Sequence: Timeout and Cancellation". The main task
 * gives "Slow Task" two seconds (lm_wait_for, asyncio.wait_for). The slow
 * task sends a request over a real loopback TCP connection and awaits the
 * reply, but the server takes five seconds to answer. When the deadline
 * passes the loop cancels the slow task: its lm_read returns LM_ECANCELED at
 * the await, it runs its cleanup (the C form of `finally:`: close the socket,
 * leave a note), and only after that does main get LM_ETIMEDOUT, never
 * LM_ECANCELED.
 *
 *   LOOPMAID_CLOCK=virtual LOOPMAID_TRACE=timeout.yaml build/examples/timeout
 *   build/loopmaid render --view sequence --exclude '^server' timeout.yaml
 *
 * With the real clock the program takes two real seconds.
 */
#include "loopmaid.h"

#include <stdio.h>
#include <unistd.h>

/* A server that reads the request and then takes far too long. */
static int server(void *arg)
{
    int listen_fd = *(int *)arg;
    int fd = lm_accept(listen_fd);
    if (fd < 0)
        return fd;
    lm_fd_label(fd, "client"); /* the diagrams say "client", not "fd 9" */
    char req[128];
    ssize_t n = lm_read(fd, req, sizeof req);
    int rc = n < 0 ? (int)n : lm_sleep(LM_SEC(5)); /* thinking... */
    if (rc == 0)
        rc = (int)lm_write_all(fd, "late answer\n", 12);
    close(fd);
    return rc < 0 ? rc : 0;
}

/* The slow task: one request, one awaited reply. */
static int slow_task(void *arg)
{
    int port = *(int *)arg;
    int fd = lm_tcp_connect("127.0.0.1", port);
    if (fd < 0)
        return fd;
    lm_fd_label(fd, "slow server");

    char reply[64];
    ssize_t n = lm_write_all(fd, "GET /slow\n", 10);
    if (n >= 0) {
        lm_note("Working... await read(slow server)");
        n = lm_read(fd, reply, sizeof reply); /* the await point */
    }

    /* "finally:" runs whichever way we leave: the answer came, an error, or
     * LM_ECANCELED delivered at the await above because wait_for gave up. */
    if (n == LM_ECANCELED)
        lm_note("CancelledError at the await");
    lm_note("finally: cleanup (close the socket)");
    close(fd);
    return n < 0 ? (int)n : 0;
}

static int main_task(void *arg)
{
    (void)arg;
    int lfd = lm_tcp_listen("127.0.0.1", 0, 4);
    if (lfd < 0)
        return lfd;
    int port = lm_socket_port(lfd);
    lm_fd_label(lfd, "listening socket");
    lm_task *srv = lm_spawn("server", server, &lfd);

    lm_time start = lm_now();
    lm_task *slow = lm_spawn("Slow Task", slow_task, &port);
    int rc = lm_wait_for(slow, LM_SEC(2), NULL); /* wait_for(slow_task(), 2.0) */
    lm_time took = lm_now() - start;

    if (rc == LM_ETIMEDOUT) {
        lm_note("Handle timeout gracefully");
        printf("wait_for gave up after %.1f s: %s (%s)\n", (double)took / 1e9,
               lm_err_name(rc), lm_strerror(rc));
        printf("the slow task ended %s, after its cleanup ran\n",
               lm_state_name(lm_task_state(slow)));
    } else {
        printf("unexpected: wait_for returned %s\n", lm_err_name(rc));
    }

    /* The server is still "thinking": cancel it as well and wait for it. */
    lm_cancel(srv);
    lm_join(srv, NULL);
    lm_task_release(srv);
    lm_task_release(slow);
    close(lfd);
    return rc == LM_ETIMEDOUT ? 0 : LM_EFAILED;
}

int main(void)
{
    int rc = lm_run("main", main_task, NULL);
    if (rc != 0)
        fprintf(stderr, "timeout: %s\n", lm_strerror(rc));
    return rc == 0 ? 0 : 1;
}
