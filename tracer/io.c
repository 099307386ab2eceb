/*
 * io.c: waiting for file descriptors, and the non-blocking socket helpers
 * built on it.
 *
 * The fd table (loop->fds, indexed by fd) says which task waits to read and
 * which to write. Registration with the poller is lazy: an fd stays
 * registered after its waiter woke, so a task reading a stream in a loop
 * costs one epoll_ctl for the whole stream instead of two per read; an fd
 * is dropped from the poller only when it reports readiness that nobody
 * waits for. A closed fd leaves the poller by itself (the kernel does it),
 * and the backend re-adds a reused number transparently.
 *
 * Read after write. A request/response exchange (an echo, an RPC) reads
 * right after writing, when the answer cannot be there yet: the peer has
 * not run. Asking anyway costs a read(2) that fails with EAGAIN on every
 * round trip, on both sides. The sockets lm_accept and lm_tcp_connect make
 * have TCP_INQ on, so every read also learns how many bytes are left
 * (recvmsg, no extra system call; a received FIN counts as one, so an EOF
 * is never hidden). When a read left the queue empty and the task then
 * wrote to the same fd, both in one task step, the next read of that fd
 * in that step goes straight to the wait that EAGAIN would have led to.
 * The trace is the same (the park was there before; only the failed system
 * call goes), and so is every result. Within one step no other task or
 * callback of the loop runs, a write through lm_write_all to any other fd
 * (which might be the peer) drops the hint, and a peer that closed or reset
 * the connection makes that write fail (or the FIN shows). What remains is
 * an answer that bypasses the library within those microseconds: another
 * thread or process, or the task's own raw write(2) to the peer. The task
 * then gets it at the next tick, through the poll, as if it had come a
 * moment later (tests/test_io.c, read_after_write_*).
 */
#include "lm_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the fd table -------------------------------------------------------- */

/* Grows the table to hold fd (the slow half of fd_reserve). */
static int fd_grow(lm_loop *loop, int fd)
{
    int cap = loop->fds_cap > 0 ? loop->fds_cap : 64;
    while (cap <= fd)
        cap *= 2;
    lm__fdw *n = realloc(loop->fds, (size_t)cap * sizeof *n);
    if (n == NULL)
        return LM_ENOMEM;
    memset(n + loop->fds_cap, 0, (size_t)(cap - loop->fds_cap) * sizeof *n);
    loop->fds = n;
    loop->fds_cap = cap;
    return 0;
}

/* Makes room for fd; the only allocation on the I/O path (new highest fd).
 * The check is inline: every wait makes it. */
static inline int fd_reserve(lm_loop *loop, int fd)
{
    return fd < loop->fds_cap ? 0 : fd_grow(loop, fd);
}

void lm__io_free(lm_loop *loop)
{
    for (int fd = 0; fd < loop->fds_cap; fd++)
        free(loop->fds[fd].label);
    free(loop->fds);
    loop->fds = NULL;
    loop->fds_cap = 0;
}

static void io_wake(lm_loop *loop, lm_task *t, int fd, unsigned bits)
{
    loop->stats.io_wakeups++;
    LM__TRACE(loop, lm__tr_io, t->id, fd, (int)bits);
    lm__wake(t, LM__BY_IO, 0, (int)bits);
}

void lm__io_ready(lm_loop *loop, int fd, unsigned events)
{
    if (fd < 0 || fd >= loop->fds_cap)
        return;
    lm__fdw *w = &loop->fds[fd];
    lm_task *rd = w->reader, *wr = w->writer;
    unsigned waited = (rd != NULL ? LM_READABLE : 0) | (wr != NULL ? LM_WRITABLE : 0);
    if (rd != NULL && (events & LM_READABLE)) {
        unsigned bits = LM_READABLE;
        w->reader = NULL;
        if (wr == rd) { /* one task waiting for either direction */
            bits |= events & LM_WRITABLE;
            w->writer = NULL;
            wr = NULL;
        }
        io_wake(loop, rd, fd, bits);
    }
    if (wr != NULL && (events & LM_WRITABLE)) {
        w->writer = NULL;
        io_wake(loop, wr, fd, LM_WRITABLE);
    }
    unsigned idle = events & w->registered & ~waited;
    if (idle != 0) {
        unsigned now = w->registered & ~idle;
        (void)lm__poller_set(loop->poller, fd, w->registered, now);
        w->registered = now;
    }
}

/* The body of every fd wait: task t of loop waits for events (valid, fd
 * >= 0) until the absolute deadline (negative: none). Inlined into
 * lm_wait_fd and the read path, so a task parked in lm_read has one frame
 * fewer on its stack: each is a few more cold cache lines and a
 * mispredicted return every time the task resumes (lm_coro.h). */
static inline __attribute__((always_inline)) int
wait_fd(lm_loop *loop, lm_task *t, int fd, unsigned events, lm_time deadline)
{
    if (t->cancel_pending) {
        t->cancel_pending = false;
        return LM_ECANCELED;
    }
    if (fd_reserve(loop, fd) != 0)
        return LM_ENOMEM;
    lm__fdw *w = &loop->fds[fd];
    if (((events & LM_READABLE) && w->reader != NULL) ||
        ((events & LM_WRITABLE) && w->writer != NULL))
        return LM_EBUSY;
    unsigned want = w->registered | events;
    if (want != w->registered) {
        int rc = lm__poller_set(loop->poller, fd, w->registered, want);
        if (rc != 0) {
            errno = -rc;
            return rc == -EBADF ? LM_EINVAL : LM_ESYS;
        }
        w->registered = want;
    }
    if (events & LM_READABLE)
        w->reader = t;
    if (events & LM_WRITABLE)
        w->writer = t;
    loop->io_waiters++;
    lm__reason r = {.on = LM__ON_IO, .fd = fd, .dir = (uint8_t)events,
                    .label = w->label};
    int rc = lm__park(&r, deadline);
    loop->io_waiters--;
    w = &loop->fds[fd]; /* the table may have grown meanwhile */
    if (w->reader == t)
        w->reader = NULL;
    if (w->writer == t)
        w->writer = NULL;
    return rc;
}

int lm_wait_fd(int fd, int events, lm_time timeout)
{
    lm_loop *loop = lm__loop();
    lm_task *t = loop != NULL ? loop->current : NULL;
    if (t == NULL)
        return LM_ENOTASK;
    events &= LM_READABLE | LM_WRITABLE;
    if (fd < 0 || events == 0)
        return LM_EINVAL;
    return wait_fd(loop, t, fd, (unsigned)events,
                   timeout >= 0 ? lm__loop_refresh(loop) + timeout : -1);
}

/*
 * A reader of a diagram knows "the slow server", not "fd 8": the label goes
 * into every await on fd from now on (the trace's `label` beside `fd`), so
 * the views can name the peer. Kept until replaced, cleared with NULL, or
 * the loop is freed; a closed fd's number keeps it, so label a reused fd
 * again (or clear it) when it means something else.
 */
int lm_fd_label(int fd, const char *label)
{
    lm_loop *loop = lm__loop();
    if (loop == NULL || loop->current == NULL)
        return LM_ENOTASK;
    if (fd < 0)
        return LM_EINVAL;
    if (label != NULL && label[0] == '\0')
        label = NULL;
    if (label == NULL && fd >= loop->fds_cap)
        return 0;
    char *copy = NULL;
    if (label != NULL && (copy = strdup(label)) == NULL)
        return LM_ENOMEM;
    if (fd_reserve(loop, fd) != 0) {
        free(copy);
        return LM_ENOMEM;
    }
    free(loop->fds[fd].label);
    loop->fds[fd].label = copy;
    return 0;
}

/* A socket the helpers just made is a new thing even if its number is not:
 * an old label on the number must not name it. */
static void fd_forget(int fd)
{
    lm_loop *loop = lm__loop();
    if (loop == NULL)
        return;
    if (fd >= 0 && fd < loop->fds_cap) {
        free(loop->fds[fd].label);
        loop->fds[fd].label = NULL;
        loop->fds[fd].inq = false;
    }
    if (loop->quiet_fd == fd)
        loop->quiet_step = 0;
}

/* Turns TCP_INQ on for a connected socket of ours (read after write, at the
 * top of this file). Without it (an old kernel, no memory for the fd
 * table) reads are plain read(2)s, as before. */
static void fd_track_inq(int fd)
{
    lm_loop *loop = lm__loop();
    int one = 1;
    if (loop != NULL && fd_reserve(loop, fd) == 0 &&
        setsockopt(fd, IPPROTO_TCP, TCP_INQ, &one, sizeof one) == 0)
        loop->fds[fd].inq = true;
}

/* ---- sockets -------------------------------------------------------------- */

static int sys_error(int e)
{
    switch (e) {
    case ECONNREFUSED:
        return LM_ECONNREFUSED;
    case ECONNRESET:
        return LM_ECONNRESET;
    case EPIPE:
        return LM_EPIPE;
    case ETIMEDOUT:
        return LM_ETIMEDOUT;
    case ENOMEM:
    case ENOBUFS:
        return LM_ENOMEM;
    case EBADF:
    case EINVAL:
        errno = e;
        return LM_EINVAL;
    default:
        errno = e;
        return LM_ESYS;
    }
}

static int resolve(const char *host, int port, int flags, struct addrinfo **out)
{
    if (port < 0 || port > 65535)
        return LM_EINVAL;
    char serv[16];
    snprintf(serv, sizeof serv, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | flags;
    int rc = getaddrinfo(host != NULL ? host : "127.0.0.1", serv, &hints, out);
    if (rc == EAI_MEMORY)
        return LM_ENOMEM;
    if (rc != 0)
        return LM_ENOENT;
    return 0;
}

int lm_tcp_listen(const char *host, int port, int backlog)
{
    struct addrinfo *ai;
    int rc = resolve(host, port, AI_PASSIVE, &ai);
    if (rc != 0)
        return rc;
    int err = LM_ENOENT;
    for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        a->ai_protocol);
        if (fd < 0) {
            err = sys_error(errno);
            continue;
        }
        fd_forget(fd);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 &&
            listen(fd, backlog > 0 ? backlog : 128) == 0) {
            freeaddrinfo(ai);
            return fd;
        }
        err = sys_error(errno);
        int e = errno;
        close(fd);
        errno = e;
    }
    freeaddrinfo(ai);
    return err;
}

int lm_socket_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return sys_error(errno);
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return LM_EINVAL;
}

int lm_accept(int listen_fd)
{
    if (lm__current() == NULL)
        return LM_ENOTASK;
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            fd_forget(fd);
            fd_track_inq(fd);
            return fd;
        }
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            int rc = lm_wait_fd(listen_fd, LM_READABLE, -1);
            if (rc < 0)
                return rc;
        } else if (e != EINTR && e != ECONNABORTED) {
            return sys_error(e);
        }
    }
}

/* Connects one address: non-blocking connect, await writability, then ask
 * SO_ERROR how it went. Returns the fd or a code; closes the fd on error. */
static int connect_one(const struct addrinfo *a)
{
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
    if (fd < 0)
        return sys_error(errno);
    fd_forget(fd);
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        int rc = sys_error(errno);
        close(fd);
        return rc;
    }
    /* The await is drawn as "write to new connection", not "fd 8": the
     * caller can only label the fd once it has it. */
    (void)lm_fd_label(fd, "new connection");
    int rc = lm_wait_fd(fd, LM_WRITABLE, -1);
    fd_forget(fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr != 0) {
        close(fd);
        return sys_error(soerr);
    }
    return fd;
}

int lm_tcp_connect(const char *host, int port)
{
    if (lm__current() == NULL)
        return LM_ENOTASK;
    struct addrinfo *ai;
    int rc = resolve(host, port, 0, &ai);
    if (rc != 0)
        return rc;
    rc = LM_ENOENT;
    for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
        rc = connect_one(a);
        if (rc >= 0 || rc == LM_ECANCELED)
            break;
    }
    freeaddrinfo(ai);
    if (rc >= 0) {
        int one = 1;
        setsockopt(rc, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fd_track_inq(rc);
    }
    return rc;
}

/* One read(2); on a socket with TCP_INQ a recvmsg that also sets *empty
 * when nothing is left to read after it (and no FIN arrived). */
static ssize_t read_once(lm_loop *loop, int fd, void *buf, size_t len, bool *empty)
{
    *empty = false;
    if (fd < loop->fds_cap && loop->fds[fd].inq) {
        struct iovec iov = {.iov_base = buf, .iov_len = len};
        union {
            char bytes[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
                           .msg_control = ctl.bytes,
                           .msg_controllen = sizeof ctl.bytes};
        ssize_t n = recvmsg(fd, &m, 0);
        if (n > 0) {
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
                if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ) {
                    int inq;
                    memcpy(&inq, CMSG_DATA(c), sizeof inq);
                    *empty = inq == 0;
                }
            }
        }
        if (n >= 0 || errno != ENOTSOCK)
            return n;
        /* The number was closed behind our back and now names a file. */
        loop->fds[fd].inq = false;
    }
    return read(fd, buf, len);
}

/* The read-after-write hint holds for fd: this step emptied fd's queue and
 * then wrote to fd (top of this file). Consumes it. */
static bool quiet_take(lm_loop *loop, int fd)
{
    bool hit = loop->quiet_step == loop->stats.steps && loop->quiet_fd == fd &&
               loop->quiet_written;
    loop->quiet_step = 0;
    return hit;
}

/* One read attempt loop with an absolute deadline (negative: none). */
static ssize_t read_until(int fd, void *buf, size_t len, lm_time deadline)
{
    lm_loop *loop = lm__loop();
    if (loop == NULL || loop->current == NULL)
        return LM_ENOTASK;
    /* A read of nothing returns at once, hint or not. */
    bool wait_first = len > 0 && quiet_take(loop, fd);
    for (;;) {
        if (!wait_first) {
            bool empty;
            ssize_t n = read_once(loop, fd, buf, len, &empty);
            if (n >= 0) {
                if (empty) {
                    loop->quiet_step = loop->stats.steps;
                    loop->quiet_fd = fd;
                    loop->quiet_written = false;
                }
                return n;
            }
            int e = errno;
            if (e == EINTR)
                continue;
            if (e != EAGAIN && e != EWOULDBLOCK)
                return sys_error(e);
        }
        wait_first = false;
        /* A deadline already past still parks once, until the next tick,
         * as a timeout of 0 does. */
        lm_time until = -1;
        if (deadline >= 0) {
            lm_time now = lm__loop_refresh(loop);
            until = deadline > now ? deadline : now;
        }
        int rc = fd < 0 ? LM_EINVAL : wait_fd(loop, loop->current, fd, LM_READABLE, until);
        if (rc < 0)
            return rc;
    }
}

ssize_t lm_read(int fd, void *buf, size_t len)
{
    return read_until(fd, buf, len, -1);
}

ssize_t lm_read_timeout(int fd, void *buf, size_t len, lm_time timeout)
{
    lm_loop *loop = lm__loop();
    if (loop == NULL || loop->current == NULL)
        return LM_ENOTASK;
    return read_until(fd, buf, len, timeout >= 0 ? lm__loop_refresh(loop) + timeout : -1);
}

ssize_t lm_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = lm_read(fd, (char *)buf + got, len - got);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

ssize_t lm_write_all(int fd, const void *buf, size_t len)
{
    lm_loop *loop = lm__loop();
    if (loop == NULL || loop->current == NULL)
        return LM_ENOTASK;
    /* The read-after-write hint (top of this file): writing anywhere else,
     * perhaps to the hinted fd's peer, drops it; writing to it arms it. */
    if (loop->quiet_fd != fd)
        loop->quiet_step = 0;
    size_t done = 0;
    bool sock = true;
    while (done < len) {
        ssize_t n;
        if (sock) {
            /* MSG_NOSIGNAL: a closed peer is an LM_EPIPE, not a SIGPIPE. */
            n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
            if (n < 0 && errno == ENOTSOCK) {
                sock = false;
                continue;
            }
        } else {
            n = write(fd, (const char *)buf + done, len - done);
        }
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EAGAIN && e != EWOULDBLOCK)
            return sys_error(e);
        int rc = lm_wait_fd(fd, LM_WRITABLE, -1);
        if (rc < 0)
            return rc;
    }
    loop->quiet_written = true; /* kept only if still this step's, for fd */
    return (ssize_t)len;
}
