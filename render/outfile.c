/*
 * outfile.c: the one way loopmaid writes a file the user named (`render -o`,
 * `inspect -o`, the targets and traces of `loopmaid build`).
 *
 * What happens depends on what the name is, as with good Unix tools:
 *   - "-": standard output, written in place.
 *   - a symlink: followed (hop by hop, relative targets against the link's
 *     own directory); its target is what gets written, so the link stays.
 *   - a regular file: replaced atomically: a temporary file in the SAME
 *     directory (rename(2) cannot cross file systems), given the old file's
 *     mode and, where the system allows, its owner and group; written,
 *     fsync'd, renamed over the old one. Readers see the old bytes or the
 *     new ones, never half, and a failed write leaves the old file intact.
 *   - a name that does not exist yet: the same, with mode 0666 & ~umask.
 *   - anything else that exists (a character or block device, a FIFO,
 *     /dev/stdout, /dev/fd/N from `-o >(cmd)`, /dev/null): opened and
 *     written in place, never created, truncated, renamed or unlinked, so a
 *     device node stays a device node. /proc/self/fd/N (and /dev/fd/N,
 *     /dev/stdout, which lead there) are written straight to descriptor N,
 *     at its own offset, so `>> log` keeps appending.
 * Refused, before anything is written:
 *   - a regular file nobody may write (no w bit) or this process may not
 *     (access(2)), even in a writable directory where rename would succeed;
 *   - an output that is the same file as an input (st_dev and st_ino, so
 *     links and other names of it count), e.g. `render -o t.yaml t.yaml`;
 *   - a directory, and chains of more than 40 symlinks.
 * docs/reliability.md lists these guarantees; tests/test_outfile.c tests
 * each, as root and as an unprivileged user.
 */
#include "lmr_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define OUTFILE_MAX_HOPS 40

static char *dup_dir(const char *p)
{
    const char *slash = strrchr(p, '/');
    if (!slash)
        return strdup(".");
    if (slash == p)
        return strdup("/");
    return strndup(p, (size_t)(slash - p));
}

static const char *base_of(const char *p)
{
    const char *slash = strrchr(p, '/');
    return slash ? slash + 1 : p;
}

/* A link that lives in procfs (/proc/PID/fd/N, reached also through
 * /dev/fd/N and /dev/stdout) is a "magic" link: readlink gives "pipe:[..]"
 * or a path the descriptor once had, not something to open or replace. */
static bool in_procfs(const char *p)
{
    char *d = dup_dir(p);
    struct statfs sf;
    bool yes = d && statfs(d, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
    free(d);
    return yes;
}

/* When p is /proc/self/fd/N (by any name), N; else -1. */
static int own_fd_of(const char *p)
{
    const char *b = base_of(p);
    if (*b < '0' || *b > '9')
        return -1;
    long n = 0;
    for (const char *s = b; *s; s++) {
        if (*s < '0' || *s > '9' || n > 1000000)
            return -1;
        n = n * 10 + (*s - '0');
    }
    char *d = dup_dir(p);
    struct stat a, b2;
    bool self = d && stat(d, &a) == 0 && stat("/proc/self/fd", &b2) == 0 &&
                a.st_dev == b2.st_dev && a.st_ino == b2.st_ino;
    free(d);
    return self && fcntl((int)n, F_GETFD) >= 0 ? (int)n : -1;
}

char *lmr__path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *r = malloc(a + b + 2);
    if (!r)
        return NULL;
    memcpy(r, dir, a);
    r[a] = '/';
    memcpy(r + a + 1, name, b + 1);
    return r;
}

/* Joins the directory of `link` and a relative link target. */
static char *join_link(const char *link, const char *target)
{
    char *d = dup_dir(link);
    char *r = d ? lmr__path_join(d, target) : NULL;
    free(d);
    return r;
}

static int fail(lmr_error *err, int code, const char *name, const char *fmt,
                const char *arg, int e)
{
    char what[300];
    snprintf(what, sizeof what, fmt, arg);
    if (e)
        return lmr__err(err, code, name, 0, 0, "%s: %s", what, strerror(e));
    return lmr__err(err, code, name, 0, 0, "%s", what);
}

/* Refuses st when it is the same file as one of the inputs. */
static int check_inputs(const lmr__outfile *f, const struct stat *st,
                        const char *const *inputs, size_t ninputs,
                        lmr_error *err)
{
    for (size_t i = 0; i < ninputs; i++) {
        if (!inputs[i])
            continue;
        struct stat in;
        int ok = strcmp(inputs[i], "-") == 0 ? fstat(0, &in) : stat(inputs[i], &in);
        if (ok == 0 && S_ISREG(in.st_mode) && in.st_dev == st->st_dev &&
            in.st_ino == st->st_ino)
            return lmr__err(err, LMR_EUSAGE, f->name, 0, 0,
                            "is the same file as the input '%s'; not "
                            "overwriting it (choose another output)",
                            strcmp(inputs[i], "-") ? inputs[i] : "<stdin>");
    }
    return 0;
}

void lmr__outfile_abort(lmr__outfile *f)
{
    if (f->fd >= 0 && f->close_fd)
        close(f->fd);
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    free(f->final);
    f->fd = -1;
    f->tmp = f->final = NULL;
}

/* The suffix a temporary file keeps from its final name: ".lmt", because
 * the tracer picks the binary format by the name's end and `loopmaid build`
 * hands it the temporary name (LOOPMAID_TRACE=.x.lmt.XXXXXX would be YAML
 * under x.lmt). Every other name keeps none, as before. */
static const char *kept_suffix(const char *final)
{
    size_t n = strlen(final);
    return n > 4 && strcmp(final + n - 4, ".lmt") == 0 ? ".lmt" : "";
}

/* Opens a temporary file beside `final` for an atomic replace; mode, uid and
 * gid are the new file's (uid/gid (uid_t)-1 = ours). */
static int open_temp(lmr__outfile *f, mode_t mode, uid_t uid, gid_t gid,
                     lmr_error *err)
{
    char *d = dup_dir(f->final);
    const char *sfx = kept_suffix(f->final);
    size_t n = d ? strlen(d) + strlen(base_of(f->final)) + strlen(sfx) + 16 : 0;
    f->tmp = d ? malloc(n) : NULL;
    if (!f->tmp) {
        free(d);
        return lmr__err(err, LMR_ENOMEM, f->name, 0, 0, "out of memory");
    }
    snprintf(f->tmp, n, "%s/.%s.XXXXXX%s", d, base_of(f->final), sfx);
    int fd = mkostemps(f->tmp, (int)strlen(sfx), O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(f->tmp);
        f->tmp = NULL;
        int rc = fail(err, LMR_EIO, f->name,
                      "cannot create a temporary file in '%s' to replace it",
                      d, e);
        free(d);
        return rc;
    }
    free(d);
    f->fd = fd;
    f->close_fd = true;
    /* Owner first: chown clears set-id bits, and when it is not allowed
     * (not root) the set-id bits must not be given to our own copy. */
    if (uid != (uid_t)-1 && (uid != geteuid() || gid != getegid()) &&
        fchown(fd, uid, gid) != 0 && fchown(fd, (uid_t)-1, gid) != 0)
        mode &= ~(mode_t)(S_ISUID | S_ISGID);
    if (fchmod(fd, mode) != 0) {
        int e = errno;
        lmr__outfile_abort(f);
        return fail(err, LMR_EIO, f->name, "%s", "cannot set the mode of the new file", e);
    }
    return 0;
}

int lmr__outfile_open(lmr__outfile *f, const char *path,
                      const char *const *inputs, size_t ninputs,
                      lmr_error *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->name = path;
    fflush(stdout); /* what stdio holds goes first if fd 1 is the output */
    if (strcmp(path, "-") == 0) {
        f->name = "<stdout>";
        f->fd = 1;
        struct stat st;
        if (fstat(1, &st) == 0 && S_ISREG(st.st_mode))
            return check_inputs(f, &st, inputs, ninputs, err);
        return 0;
    }
    char *p = strdup(path);
    if (!p)
        return lmr__err(err, LMR_ENOMEM, path, 0, 0, "out of memory");
    struct stat st;
    bool exists = false;
    for (int hops = 0;; hops++) {
        if (lstat(p, &st) != 0) {
            if (errno != ENOENT) {
                int e = errno;
                free(p);
                return fail(err, LMR_EIO, path, "%s", "cannot look at it", e);
            }
            break; /* a new file (or a dangling link's target) */
        }
        if (!S_ISLNK(st.st_mode)) {
            exists = true;
            break;
        }
        if (hops >= OUTFILE_MAX_HOPS) {
            free(p);
            return fail(err, LMR_EIO, path, "%s", "cannot follow its links", ELOOP);
        }
        if (in_procfs(p)) {
            /* A descriptor: write in place, never replace. */
            int n = own_fd_of(p);
            int rc = 0;
            if (n >= 0) {
                f->fd = n;
            } else {
                f->fd = open(p, O_WRONLY | O_NOCTTY | O_CLOEXEC);
                f->close_fd = true;
                if (f->fd < 0)
                    rc = fail(err, LMR_EIO, path, "%s", "cannot open it", errno);
            }
            if (rc == 0 && fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode))
                rc = check_inputs(f, &st, inputs, ninputs, err);
            free(p);
            if (rc != 0)
                lmr__outfile_abort(f);
            return rc;
        }
        char buf[4096];
        ssize_t k = readlink(p, buf, sizeof buf - 1);
        if (k < 0 || (size_t)k >= sizeof buf - 1) {
            int e = k < 0 ? errno : ENAMETOOLONG;
            free(p);
            return fail(err, LMR_EIO, path, "%s", "cannot read its link", e);
        }
        buf[k] = '\0';
        char *next = buf[0] == '/' ? strdup(buf) : join_link(p, buf);
        free(p);
        if (!next)
            return lmr__err(err, LMR_ENOMEM, path, 0, 0, "out of memory");
        p = next;
    }
    f->final = p;
    if (exists && S_ISDIR(st.st_mode)) {
        lmr__outfile_abort(f);
        return fail(err, LMR_EIO, path, "%s", "cannot write it", EISDIR);
    }
    if (exists && !S_ISREG(st.st_mode)) {
        /* Device, FIFO, socket: in place. No O_CREAT, no O_TRUNC. */
        f->fd = open(p, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        f->close_fd = true;
        if (f->fd < 0) {
            int e = errno;
            lmr__outfile_abort(f);
            return fail(err, LMR_EIO, path, "%s", "cannot open it", e);
        }
        free(f->final);
        f->final = NULL;
        return 0;
    }
    int rc;
    if (exists) {
        if ((st.st_mode & 0222) == 0 || access(p, W_OK) != 0) {
            lmr__outfile_abort(f);
            return lmr__err(err, LMR_EIO, path, 0, 0,
                            "is read-only; not replacing it (make it "
                            "writable or choose another output)");
        }
        rc = check_inputs(f, &st, inputs, ninputs, err);
        if (rc != 0) {
            lmr__outfile_abort(f);
            return rc;
        }
        rc = open_temp(f, st.st_mode & 07777, st.st_uid, st.st_gid, err);
    } else {
        mode_t um = umask(0);
        umask(um);
        rc = open_temp(f, 0666 & ~um, (uid_t)-1, (gid_t)-1, err);
    }
    if (rc != 0)
        lmr__outfile_abort(f); /* frees f->final too (found by ASan) */
    return rc;
}

int lmr__outfile_write(lmr__outfile *f, const char *data, size_t len,
                       lmr_error *err)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(f->fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return fail(err, LMR_EIO, f->name, "%s", "cannot write", errno);
        }
        off += (size_t)w;
    }
    return 0;
}

int lmr__outfile_commit(lmr__outfile *f, lmr_error *err)
{
    int rc = 0;
    if (f->tmp) {
        /* fd < 0: someone else wrote the file by name (build's tracer). */
        if (f->fd >= 0 && fsync(f->fd) != 0)
            rc = fail(err, LMR_EIO, f->name, "%s", "cannot write", errno);
        int fd = f->fd;
        f->fd = -1;
        if (fd >= 0 && close(fd) != 0 && rc == 0)
            rc = fail(err, LMR_EIO, f->name, "%s", "cannot write", errno);
        if (rc == 0 && rename(f->tmp, f->final) != 0)
            rc = fail(err, LMR_EIO, f->name, "%s", "cannot replace it", errno);
        if (rc == 0) {
            free(f->tmp); /* renamed: nothing to unlink */
            f->tmp = NULL;
        }
    } else if (f->fd >= 0 && f->close_fd) {
        int fd = f->fd;
        f->fd = -1;
        if (close(fd) != 0)
            rc = fail(err, LMR_EIO, f->name, "%s", "cannot write", errno);
    }
    lmr__outfile_abort(f);
    return rc;
}

int lmr__write_file(const char *path, const char *data, size_t len,
                    const char *const *inputs, size_t ninputs, lmr_error *err)
{
    lmr__outfile f;
    int rc = lmr__outfile_open(&f, path, inputs, ninputs, err);
    if (rc != 0)
        return rc;
    if ((rc = lmr__outfile_write(&f, data, len, err)) != 0) {
        lmr__outfile_abort(&f);
        return rc;
    }
    return lmr__outfile_commit(&f, err);
}
