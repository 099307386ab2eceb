/*
 * fetch.c: three fetches in flight at once on one thread, gathered.
 *
 * Reproduces seed 002's "Async/Await Execution Flow": tasks A, B and C each
 * send an HTTP request, give the loop back while they wait for the answer,
 * and are resumed one by one as the answers arrive. B (posts) answers first,
 * then A (user), then C (comments), and the whole gather takes about as long
 * as the slowest fetch, not the sum of the three.
 *
 * Everything is real: a small HTTP server runs in the same program (the task
 * "server", one handler task per connection) on a loopback TCP port, and the
 * clients talk to it through non-blocking sockets. The server answers each
 * path after a different delay, which is what decides the order.
 *
 *   make build/examples/fetch
 *   LOOPMAID_CLOCK=virtual LOOPMAID_TRACE=fetch.yaml build/examples/fetch
 *   build/loopmaid render --view sequence --exclude '^server' fetch.yaml
 *
 * Under LOOPMAID_CLOCK=virtual the delays cost no real time and the trace is
 * the same on every run; with the real clock the program takes about 0.3 s.
 */
#include "loopmaid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the server knows: each resource, how long it "thinks", its body. */
typedef struct resource {
    const char *path;
    lm_time delay;
    const char *body;
} resource;

static const resource resources[] = {
    {"/user", LM_MSEC(200), "{\"name\": \"ada\", \"items\": 1}"},
    {"/posts", LM_MSEC(100), "{\"name\": \"posts\", \"items\": 3}"},
    {"/comments", LM_MSEC(300), "{\"name\": \"comments\", \"items\": 7}"},
};
#define NRESOURCES (sizeof resources / sizeof resources[0])

/* ---- the server ------------------------------------------------------- */

/* One connection: read the request line, wait the resource's delay (a
 * slow database, say), answer, close. The fd is passed in the pointer. */
static int handle_connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    lm_fd_label(fd, "client");
    char req[256];
    ssize_t n = lm_read(fd, req, sizeof req - 1);
    if (n <= 0) {
        close(fd);
        return n == 0 ? 0 : (int)n;
    }
    req[n] = '\0';

    const resource *r = NULL;
    for (size_t i = 0; i < NRESOURCES; i++) {
        size_t len = strlen(resources[i].path);
        /* "GET /posts HTTP/1.0": the path follows "GET " up to a space. */
        if (strncmp(req + 4, resources[i].path, len) == 0 && req[4 + len] == ' ')
            r = &resources[i];
    }

    char reply[512];
    int len;
    if (r != NULL) {
        int rc = lm_sleep(r->delay); /* the server is busy elsewhere */
        if (rc < 0) {
            close(fd);
            return rc;
        }
        len = snprintf(reply, sizeof reply,
                       "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       strlen(r->body), r->body);
    } else {
        len = snprintf(reply, sizeof reply, "HTTP/1.0 404 Not Found\r\n\r\n");
    }
    ssize_t w = lm_write_all(fd, reply, (size_t)len);
    close(fd); /* the client reads until end of file */
    return w < 0 ? (int)w : 0;
}

/* Accepts exactly `expected` connections, one handler task each, and waits
 * for all of them in a task group (so a failing handler cannot be lost). */
typedef struct server_args {
    int listen_fd;
    int expected;
} server_args;

static int server(void *arg)
{
    server_args *s = arg;
    lm_taskgroup *g = lm_taskgroup_new("connections");
    if (g == NULL)
        return LM_ENOMEM;
    int rc = 0;
    for (int i = 0; i < s->expected && rc == 0; i++) {
        int fd = lm_accept(s->listen_fd);
        if (fd < 0) {
            rc = fd;
            break;
        }
        char name[32];
        snprintf(name, sizeof name, "server: conn %d", i + 1);
        if (lm_taskgroup_spawn(g, name, handle_connection, (void *)(intptr_t)fd) == NULL) {
            close(fd);
            rc = LM_ENOMEM;
        }
    }
    int wrc = lm_taskgroup_wait(g);
    lm_taskgroup_free(g);
    return rc != 0 ? rc : wrc;
}

/* ---- the clients ------------------------------------------------------ */

typedef struct fetch_args {
    int port;
    const char *path;
    char result[64]; /* filled by the task; owned by main */
    lm_time took;    /* how long this fetch took, measured by the task */
} fetch_args;

static int fetch(void *arg)
{
    fetch_args *f = arg;
    lm_time start = lm_now();
    int fd = lm_tcp_connect("127.0.0.1", f->port);
    if (fd < 0)
        return lm_fail(fd, "connect failed");
    lm_fd_label(fd, "server"); /* the diagrams name the peer, not the fd */

    lm_note("Send HTTP request");
    char req[128];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", f->path);
    ssize_t n = lm_write_all(fd, req, (size_t)len);

    /* The await: this task is suspended until the socket is readable, and
     * the loop runs the other fetches meanwhile. lm_read_full reads until
     * the server closes the connection. */
    char reply[1024];
    if (n >= 0)
        n = lm_read_full(fd, reply, sizeof reply - 1);
    close(fd); /* always: this is the task's cleanup, also when cancelled */
    if (n < 0)
        return (int)n; /* LM_ECANCELED or an I/O error */
    reply[n] = '\0';

    lm_note("Parse JSON, return data");
    const char *body = strstr(reply, "\r\n\r\n");
    const char *items = body != NULL ? strstr(body, "\"items\": ") : NULL;
    if (items == NULL)
        return lm_fail(LM_EUSER, "reply without a JSON body");
    snprintf(f->result, sizeof f->result, "%s: %ld items", f->path + 1,
             strtol(items + 9, NULL, 10));
    f->took = lm_now() - start;
    lm_return(f->result);
    return 0;
}

/* ---- main ------------------------------------------------------------- */

static int main_task(void *arg)
{
    (void)arg;
    int lfd = lm_tcp_listen("127.0.0.1", 0, 16);
    if (lfd < 0)
        return lfd;
    int port = lm_socket_port(lfd);
    lm_fd_label(lfd, "listening socket");

    server_args srv = {lfd, 3};
    lm_task *server_task = lm_spawn("server", server, &srv);

    fetch_args args[3] = {{port, "/user", "", 0}, {port, "/posts", "", 0},
                          {port, "/comments", "", 0}};
    lm_task *tasks[3] = {
        lm_spawn("Task A (fetch user)", fetch, &args[0]),
        lm_spawn("Task B (fetch posts)", fetch, &args[1]),
        lm_spawn("Task C (fetch comments)", fetch, &args[2]),
    };

    /* asyncio.gather(A, B, C): results come back in the order asked for,
     * whatever order the answers arrived in. */
    lm_time start = lm_now();
    void *results[3] = {NULL, NULL, NULL};
    int rc = lm_gather(tasks, 3, 0, results, NULL);
    lm_time took = lm_now() - start;

    if (rc == 0) {
        /* Every figure below is measured by the fetches themselves. */
        lm_time slowest = 0, sum = 0;
        for (int i = 0; i < 3; i++) {
            sum += args[i].took;
            if (args[i].took > slowest)
                slowest = args[i].took;
        }
        lm_notef("All tasks complete in %lld ms (slowest fetch: %lld ms, "
                 "sum of the three: %lld ms)",
                 (long long)(took / LM_MSEC(1)),
                 (long long)(slowest / LM_MSEC(1)),
                 (long long)(sum / LM_MSEC(1)));
        printf("gather(A, B, C) returned, in order:\n");
        for (int i = 0; i < 3; i++)
            printf("  %s\n", (const char *)results[i]);
        printf("total %lld ms: about the slowest fetch (%lld ms), not the sum (%lld ms)\n",
               (long long)(took / LM_MSEC(1)), (long long)(slowest / LM_MSEC(1)),
               (long long)(sum / LM_MSEC(1)));
    } else {
        printf("gather failed: %s\n", lm_strerror(rc));
    }

    int src = lm_join(server_task, NULL);
    for (int i = 0; i < 3; i++)
        lm_task_release(tasks[i]);
    lm_task_release(server_task);
    close(lfd);
    return rc != 0 ? rc : src;
}

int main(void)
{
    int rc = lm_run("main", main_task, NULL);
    if (rc != 0)
        fprintf(stderr, "fetch: %s\n", lm_strerror(rc));
    return rc == 0 ? 0 : 1;
}
