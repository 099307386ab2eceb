/*
 * trace_sink.c: where the YAML goes. Sinks are shared by the loops of a
 * process that name the same file (LOOPMAID_TRACE) or the same FILE; each
 * keeps a mutex so that whole lines from several traces never interleave.
 */
#include "lm_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static lm__sink *g_sinks; /* under g_mu */

/* A write failed (a full disk, a closed pipe, an I/O error): the sink stops
 * writing, and says so once on stderr, so that a trace cut short is never
 * a surprise found later. Not called from the crash handler (it only reads
 * `broken`); errno is the failed write's. */
static void sink_broke(lm__sink *s)
{
    int err = errno;
    if (s->broken)
        return;
    s->broken = 1;
    char eb[128];
    const char *why = strerror_r(err, eb, sizeof eb);
    char msg[512];
    int n = snprintf(msg, sizeof msg,
                     "loopmaid: cannot write the trace%s%s: %s; the rest of the "
                     "trace is lost\n",
                     s->path ? " to " : "", s->path ? s->path : "", why);
    if (n > 0) {
        size_t len = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
        ssize_t w = write(2, msg, len);
        (void)w; /* nowhere else to say it */
    }
    errno = err;
}

static lm__sink *sink_alloc(void)
{
    lm__sink *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->refs = 1;
    s->fd = -1;
    atomic_init(&s->nloops, 0);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

int lm__sink_open_file(FILE *fp, lm__sink **out)
{
    if (!fp)
        return LM_EINVAL;
    pthread_mutex_lock(&g_mu);
    for (lm__sink *s = g_sinks; s; s = s->next) {
        if (s->fp == fp) {
            s->refs++;
            pthread_mutex_unlock(&g_mu);
            *out = s;
            return 0;
        }
    }
    lm__sink *s = sink_alloc();
    if (!s) {
        pthread_mutex_unlock(&g_mu);
        return LM_ENOMEM;
    }
    s->fp = fp;
    s->fd = fileno(fp); /* -1 for memory streams: no crash-time output */
    s->next = g_sinks;
    g_sinks = s;
    pthread_mutex_unlock(&g_mu);
    *out = s;
    return 0;
}

int lm__sink_open_path(const char *path, bool env, lm__sink **out)
{
    return lm__sink_open_path_fmt(path, env, -1, out);
}

/* A path names a binary trace by its ending, as a YAML one by ".yaml". */
static bool lmt_name(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && strcmp(path + n - 4, ".lmt") == 0;
}

int lm__sink_open_path_fmt(const char *path, bool env, int fmt, lm__sink **out)
{
    if (!path || !*path)
        return LM_EINVAL;
    if (strcmp(path, "-") == 0) {
        int rc = lm__sink_open_file(stdout, out);
        if (rc == 0 && env && !(*out)->env) {
            (*out)->env = true; /* the env's own reference, kept until exit */
            pthread_mutex_lock(&g_mu);
            (*out)->refs++;
            pthread_mutex_unlock(&g_mu);
        }
        return rc;
    }
    /* "fd:N": a descriptor the program (or its parent) opened, e.g.
     * LOOPMAID_TRACE=fd:3 prog 3>trace.yaml: unlike "-" it cannot collide
     * with what the program prints. Written with write(2), never closed. */
    int given_fd = -1;
    if (strncmp(path, "fd:", 3) == 0) {
        long n = 0;
        const char *q = path + 3;
        if (*q < '0' || *q > '9')
            return LM_EINVAL;
        for (; *q >= '0' && *q <= '9'; q++)
            if ((n = n * 10 + (*q - '0')) > 1000000)
                return LM_EINVAL;
        if (*q)
            return LM_EINVAL;
        int fl = fcntl((int)n, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
            errno = EBADF; /* not open, or not for writing */
            return LM_ESYS;
        }
        given_fd = (int)n;
    }
    pthread_mutex_lock(&g_mu);
    if (env) {
        /* Loops of one process that trace through LOOPMAID_TRACE share the
         * file (each with its own loop number) instead of truncating it. */
        for (lm__sink *s = g_sinks; s; s = s->next) {
            if (s->env && s->path && strcmp(s->path, path) == 0) {
                s->refs++;
                pthread_mutex_unlock(&g_mu);
                *out = s;
                return 0;
            }
        }
    }
    lm__sink *s = sink_alloc();
    char *p = s ? strdup(path) : NULL;
    if (!p) {
        free(s);
        pthread_mutex_unlock(&g_mu);
        return LM_ENOMEM;
    }
    int fd = given_fd >= 0 ? given_fd
                           : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        free(p);
        pthread_mutex_destroy(&s->mu);
        free(s);
        pthread_mutex_unlock(&g_mu);
        errno = err;
        return LM_ESYS;
    }
    s->path = p;
    s->fd = fd;
    s->own_fd = given_fd < 0; /* the program's own descriptor stays open */
    /* The magic goes first, now: every later write is a whole chunk, and an
     * empty run still leaves a file the converter recognises. */
    s->binary = fmt == 1 || (fmt < 0 && lmt_name(path));
    if (s->binary && !lm__write_all(fd, LM__BIN_MAGIC, LM__BIN_MAGIC_LEN))
        sink_broke(s);
    if (env) {
        s->env = true;
        s->refs++; /* the env's reference */
    }
    s->next = g_sinks;
    g_sinks = s;
    pthread_mutex_unlock(&g_mu);
    *out = s;
    return 0;
}

static void sink_free_locked(lm__sink *s)
{
    for (lm__sink **pp = &g_sinks; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    else if (s->fp)
        fflush(s->fp);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

void lm__sink_release(lm__sink *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&g_mu);
    if (--s->refs == 0)
        sink_free_locked(s);
    pthread_mutex_unlock(&g_mu);
}

/* write(2) until done; false on a real error. Async-signal-safe. */
bool lm__write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* A TEXT chunk in one writev: its header and the bytes, so that chunks from
 * loops sharing the sink (serialised by s->mu) and from a forked child's
 * write(2) stay whole. */
static bool put_chunk(int fd, const char *p, size_t n)
{
    char hdr[LM__CH_HDR];
    lm__bin_hdr(hdr, LM__CH_TEXT, n);
    struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)p, n}};
    size_t left = sizeof hdr + n;
    int k = 0;
    while (left > 0) {
        ssize_t w = writev(fd, iov + k, 2 - k);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        left -= (size_t)w;
        for (size_t got = (size_t)w; got > 0 && k < 2;) {
            size_t take = got < iov[k].iov_len ? got : iov[k].iov_len;
            iov[k].iov_base = (char *)iov[k].iov_base + take;
            iov[k].iov_len -= take;
            got -= take;
            if (iov[k].iov_len == 0)
                k++;
        }
    }
    return true;
}

bool lm__sink_text(lm__sink *s, const char *p, size_t n)
{
    if (!s->binary)
        return lm__sink_put(s, p, n);
    if (s->broken)
        return false;
    while (n > 0) {
        size_t piece = n < LM__CH_TEXT_MAX ? n : LM__CH_TEXT_MAX;
        if (!put_chunk(s->fd, p, piece)) {
            sink_broke(s);
            return false;
        }
        p += piece;
        n -= piece;
    }
    return true;
}

/* Writes whole lines to the sink; s->mu held. */
bool lm__sink_put(lm__sink *s, const char *p, size_t n)
{
    if (s->broken)
        return false;
    bool ok;
    if (s->fp) {
        ok = fwrite(p, 1, n, s->fp) == n;
        /* Flushed at once: the crash handler writes to fileno(fp) directly
         * and must not overtake bytes still sitting in the FILE buffer. */
        ok = fflush(s->fp) == 0 && ok;
    } else {
        ok = lm__write_all(s->fd, p, n);
    }
    if (!ok)
        sink_broke(s); /* a full disk or a closed pipe: stop, do not spin */
    return ok;
}
