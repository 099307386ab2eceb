/*
 * poll_epoll.c: the epoll backend of the poller contract (lm_runtime.h).
 *
 * Level-triggered: the loop registers an fd only while a task waits on it
 * and removes it when the wait ends, so a ready fd nobody waits for never
 * spins the loop. epoll_pwait2 gives nanosecond timeouts where the kernel
 * has it (5.11+); elsewhere epoll_wait with the timeout rounded UP to whole
 * milliseconds, so a timer is never polled for before it is due.
 */
#include "lm_runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

struct lm__poller {
    int epfd;
    bool no_pwait2; /* the kernel said ENOSYS once */
};

lm__poller *lm__poller_new(void)
{
    lm__poller *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        int e = errno;
        free(p);
        errno = e;
        return NULL;
    }
#ifdef RUNNING_ON_VALGRIND
    /* Older valgrinds do not know epoll_pwait2 and warn on every call. */
    if (RUNNING_ON_VALGRIND)
        p->no_pwait2 = true;
#endif
    return p;
}

void lm__poller_free(lm__poller *p)
{
    close(p->epfd);
    free(p);
}

int lm__poller_set(lm__poller *p, int fd, unsigned old, unsigned now)
{
    struct epoll_event ev = {0};
    ev.data.fd = fd;
    if (now & LM_READABLE)
        ev.events |= EPOLLIN | EPOLLRDHUP;
    if (now & LM_WRITABLE)
        ev.events |= EPOLLOUT;
    int op = now == 0 ? EPOLL_CTL_DEL : old == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(p->epfd, op, fd, &ev) == 0)
        return 0;
    /* The loop's idea of the registration can be stale: the kernel drops a
     * closed fd by itself, and the number may come back as a new file. */
    if (op == EPOLL_CTL_MOD && errno == ENOENT)
        op = EPOLL_CTL_ADD;
    else if (op == EPOLL_CTL_ADD && errno == EEXIST)
        op = EPOLL_CTL_MOD;
    else if (op == EPOLL_CTL_DEL && (errno == ENOENT || errno == EBADF))
        return 0;
    else
        return -errno;
    if (epoll_ctl(p->epfd, op, fd, &ev) == 0)
        return 0;
    return -errno;
}

int lm__poller_wait(lm__poller *p, lm__poll_event *out, int max, lm_time timeout)
{
    struct epoll_event ev[64];
    if (max > 64)
        max = 64;
    int n = -1;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
    if (!p->no_pwait2) {
        struct timespec ts, *tsp = NULL;
        if (timeout >= 0) {
            ts.tv_sec = (time_t)(timeout / 1000000000LL);
            ts.tv_nsec = (long)(timeout % 1000000000LL);
            tsp = &ts;
        }
        n = epoll_pwait2(p->epfd, ev, max, tsp, NULL);
        if (n < 0 && errno == ENOSYS)
            p->no_pwait2 = true;
    }
#else
    p->no_pwait2 = true;
#endif
    if (p->no_pwait2) {
        int ms = -1;
        if (timeout >= 0) {
            lm_time m = (timeout + 999999) / 1000000;
            ms = m > 0x7fffffff ? 0x7fffffff : (int)m;
        }
        n = epoll_wait(p->epfd, ev, max, ms);
    }
    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++) {
        unsigned e = 0;
        if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLPRI))
            e |= LM_READABLE;
        if (ev[i].events & EPOLLOUT)
            e |= LM_WRITABLE;
        if (ev[i].events & (EPOLLERR | EPOLLHUP))
            e |= LM_READABLE | LM_WRITABLE;
        out[i].fd = ev[i].data.fd;
        out[i].events = e;
    }
    return n;
}
