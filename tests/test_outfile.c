/*
 * test_outfile.c: the one writer (render/outfile.c) as a user meets it,
 * through `loopmaid render -o`: every kind of output name, as root and as
 * an unprivileged user (setpriv to nobody when the suite runs as root; as
 * the current user otherwise). Root-only cases skip themselves with a
 * message when not root.
 *
 * No test ever points the writer at a system device: device cases use a node
 * made with mknod in the scratch directory (the same major/minor as
 * /dev/full and /dev/null), and check that it is still that device after.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

static char bin[512];
static char dir[64];
static char *out_text, *err_text, *want;

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return strdup("");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return strdup(buf);
}

static const char *at(const char *name)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* The prefix that runs a command unprivileged: setpriv to nobody as root,
 * nothing otherwise (then we already are unprivileged). */
static const char *unpriv(void)
{
    return geteuid() == 0
               ? "setpriv --reuid=65534 --regid=65534 --clear-groups "
               : "";
}

static void need_root(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (mknod, chown, or a root-only guarantee); "
                     "skipped as uid %d", (int)geteuid());
}

/* Runs `cd DIR && WHO sh -c 'COMMAND'`, where COMMAND may use $L (the CLI)
 * and $T (the trace). stdout / stderr land in out_text / err_text. */
static int sh(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(const char *who, const char *fmt, ...)
{
    char body[1024], cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && L='%s' T=trace.yaml %sbash -c '%s' >'%s/.out' 2>'%s/.err'",
             dir, bin, who, body, dir, dir);
    int st = system(cmd);
    free(out_text);
    free(err_text);
    out_text = slurp(at(".out"));
    err_text = slurp(at(".err"));
    unlink(at(".out"));
    unlink(at(".err"));
    cr_assert(WIFEXITED(st), "%s: did not exit normally", cmd);
    return WEXITSTATUS(st);
}

static void mkfile(const char *name, const char *text, mode_t mode, uid_t uid)
{
    FILE *fp = fopen(at(name), "wb");
    cr_assert_not_null(fp, "%s: %s", at(name), strerror(errno));
    fputs(text, fp);
    fclose(fp);
    cr_assert_eq(chmod(at(name), mode), 0);
    if (geteuid() == 0)
        cr_assert_eq(chown(at(name), uid, uid), 0);
}

/* Files in the directory other than the ones named (a temp file left?). */
static int entries(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    cr_assert_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static void setup(void)
{
    ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 16);
    cr_assert_gt(n, 0);
    bin[n] = '\0';
    *strrchr(bin, '/') = '\0';
    strcpy(strrchr(bin, '/') + 1, "loopmaid");
    cr_assert_eq(access(bin, X_OK), 0, "no CLI at %s", bin);
    snprintf(dir, sizeof dir, "/tmp/lmout.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chmod(dir, 0755), 0);
    /* The unprivileged user owns the scratch directory, as a user owns the
     * directory they render into. */
    if (geteuid() == 0)
        cr_assert_eq(chown(dir, NOBODY, NOBODY), 0);
    char *trace = slurp("tests/data/traces/gather3.yaml");
    cr_assert_gt(strlen(trace), 100);
    mkfile("trace.yaml", trace, 0644, NOBODY);
    free(trace);
    cr_assert_eq(sh("", "$L render $T"), 0);
    want = strdup(out_text);
    cr_assert_gt(strlen(want), 20);
}

static void teardown(void)
{
    free(out_text);
    free(err_text);
    free(want);
    out_text = err_text = want = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(outfile, .init = setup, .fini = teardown, .timeout = 60);

/* ---- a regular file: replaced atomically, mode (and owner) kept ---------- */

static void regular_file(const char *who, uid_t owner)
{
    mkfile("out.mmd", "old\n", 0640, owner);
    struct stat before, after;
    cr_assert_eq(stat(at("out.mmd"), &before), 0);
    cr_assert_eq(sh(who, "$L render -o out.mmd $T"), 0, "%s", err_text);
    char *got = slurp(at("out.mmd"));
    cr_expect_str_eq(got, want);
    free(got);
    cr_assert_eq(stat(at("out.mmd"), &after), 0);
    cr_expect_neq(before.st_ino, after.st_ino, "not replaced by a rename");
    cr_expect_eq(after.st_mode & 07777, 0640, "mode %o", after.st_mode & 07777);
    cr_expect_eq(after.st_uid, before.st_uid);
    cr_expect_eq(after.st_gid, before.st_gid);
    cr_expect_eq(entries(), 2, "a temporary file was left behind");
    /* A new name gets 0666 & ~umask (022 here). */
    cr_assert_eq(sh(who, "umask 022; $L render -o new.mmd $T"), 0, "%s", err_text);
    cr_assert_eq(stat(at("new.mmd"), &after), 0);
    cr_expect_eq(after.st_mode & 07777, 0644, "mode %o", after.st_mode & 07777);
}

Test(outfile, regular_file_replaced_keeping_mode_as_root)
{
    need_root();
    regular_file("", 0);
}

Test(outfile, regular_file_replaced_keeping_mode_unprivileged)
{
    regular_file(unpriv(), NOBODY);
}

/* Root replaces a user's file: the user still owns it afterwards. */
Test(outfile, root_keeps_the_owner)
{
    need_root();
    mkfile("theirs.mmd", "old\n", 0664, NOBODY);
    cr_assert_eq(sh("", "$L render -o theirs.mmd $T"), 0, "%s", err_text);
    struct stat st;
    cr_assert_eq(stat(at("theirs.mmd"), &st), 0);
    cr_expect_eq(st.st_uid, (uid_t)NOBODY);
    cr_expect_eq(st.st_gid, (gid_t)NOBODY);
    cr_expect_eq(st.st_mode & 07777, 0664);
}

/* ---- a symlink: followed, its target written, the link kept ------------- */

static void symlink_followed(const char *who, uid_t owner)
{
    cr_assert_eq(mkdir(at("sub"), 0755), 0);
    if (geteuid() == 0)
        cr_assert_eq(chown(at("sub"), owner, owner), 0);
    mkfile("sub/real.mmd", "old\n", 0600, owner);
    cr_assert_eq(symlink("sub/real.mmd", at("link.mmd")), 0);
    cr_assert_eq(symlink("link.mmd", at("link2.mmd")), 0); /* a chain */
    cr_assert_eq(symlink("../sub/real.mmd", at("sub/rel.mmd")), 0);
    cr_assert_eq(symlink("sub/fresh.mmd", at("dangling.mmd")), 0);
    for (int i = 0; i < 3; i++) {
        const char *name = i == 0 ? "link.mmd" : i == 1 ? "link2.mmd" : "sub/rel.mmd";
        cr_assert_eq(unlink(at("sub/real.mmd")) == 0 || errno == ENOENT, 1);
        mkfile("sub/real.mmd", "old\n", 0600, owner);
        cr_assert_eq(sh(who, "$L render -o %s $T", name), 0, "%s", err_text);
        struct stat st;
        cr_assert_eq(lstat(at(name), &st), 0);
        cr_expect(S_ISLNK(st.st_mode), "%s was replaced, not followed", name);
        char *got = slurp(at("sub/real.mmd"));
        cr_expect_str_eq(got, want, "through %s", name);
        free(got);
        cr_assert_eq(stat(at("sub/real.mmd"), &st), 0);
        cr_expect_eq(st.st_mode & 07777, 0600);
    }
    /* A dangling link: its target is created, the link stays a link. */
    cr_assert_eq(sh(who, "$L render -o dangling.mmd $T"), 0, "%s", err_text);
    struct stat st;
    cr_assert_eq(lstat(at("dangling.mmd"), &st), 0);
    cr_expect(S_ISLNK(st.st_mode));
    char *got = slurp(at("sub/fresh.mmd"));
    cr_expect_str_eq(got, want);
    free(got);
}

Test(outfile, symlink_target_written_as_root)
{
    need_root();
    symlink_followed("", 0);
}

Test(outfile, symlink_target_written_unprivileged)
{
    symlink_followed(unpriv(), NOBODY);
}

/* ---- not a regular file: written in place, never replaced --------------- */

static void expect_chardev(const char *name, unsigned maj, unsigned min)
{
    struct stat st;
    cr_assert_eq(lstat(at(name), &st), 0);
    cr_expect(S_ISCHR(st.st_mode), "%s is no longer a character device (mode %o)",
              name, st.st_mode);
    cr_expect_eq(major(st.st_rdev), maj);
    cr_expect_eq(minor(st.st_rdev), min);
}

static void devices(const char *who)
{
    /* Our own nodes, never the system's: same numbers as /dev/full and
     * /dev/null. */
    cr_assert_eq(mknod(at("full"), S_IFCHR | 0666, makedev(1, 7)), 0, "%s", strerror(errno));
    cr_assert_eq(mknod(at("null"), S_IFCHR | 0666, makedev(1, 3)), 0, "%s", strerror(errno));
    cr_assert_eq(chmod(at("full"), 0666), 0);
    cr_assert_eq(chmod(at("null"), 0666), 0);
    cr_expect_eq(sh(who, "$L render -o full $T"), 1);
    cr_expect(strstr(err_text, "full: cannot write: No space left on device") != NULL,
              "%s", err_text);
    expect_chardev("full", 1, 7);
    cr_expect_eq(sh(who, "$L render -o null $T"), 0, "%s", err_text);
    expect_chardev("null", 1, 3);
    /* Through a symlink too. */
    cr_assert_eq(symlink("full", at("tofull")), 0);
    cr_expect_eq(sh(who, "$L render -o tofull $T"), 1);
    expect_chardev("full", 1, 7);
    cr_expect_eq(entries(), 4, "a temporary file was left behind");
}

Test(outfile, device_node_written_in_place_as_root)
{
    need_root();
    devices("");
}

Test(outfile, device_node_written_in_place_unprivileged)
{
    need_root(); /* mknod needs root; the render itself runs as nobody */
    devices(unpriv());
}

/* Without root, the system's own nodes: we cannot replace them anyway, and
 * this is what used to fail ("cannot create a temporary file"). */
Test(outfile, dev_null_and_dev_full_as_a_user)
{
    const char *who = unpriv();
    cr_expect_eq(sh(who, "$L render -o /dev/null $T"), 0, "%s", err_text);
    cr_expect_eq(sh(who, "$L render -o /dev/full $T"), 1);
    cr_expect(strstr(err_text, "No space left on device") != NULL, "%s", err_text);
    struct stat st;
    cr_assert_eq(stat("/dev/null", &st), 0);
    cr_expect(S_ISCHR(st.st_mode));
}

static void fifo(const char *who)
{
    cr_assert_eq(mkfifo(at("pipe"), 0666), 0);
    cr_assert_eq(chmod(at("pipe"), 0666), 0);
    cr_expect_eq(sh(who, "timeout 10 cat pipe > got & timeout 10 $L render -o pipe $T; rc=$?; wait; exit $rc"),
                 0, "%s", err_text);
    struct stat st;
    cr_assert_eq(lstat(at("pipe"), &st), 0);
    cr_expect(S_ISFIFO(st.st_mode), "the FIFO was replaced");
    char *got = slurp(at("got"));
    cr_expect_str_eq(got, want);
    free(got);
}

Test(outfile, fifo_written_in_place_as_root)
{
    need_root();
    fifo("");
}

Test(outfile, fifo_written_in_place_unprivileged)
{
    fifo(unpriv());
}

/* As root the system's /dev/stdout is never named: a writer that replaced
 * links would replace it (it did, once). Root uses a link of its own to the
 * same place; the unprivileged user, who cannot touch /dev, the real one. */
static void stdout_and_fds(const char *who, const char *dev_stdout)
{
    cr_assert_eq(symlink("/proc/self/fd/1", at("mystdout")), 0);
    cr_expect_eq(sh(who, "$L render -o %s $T", dev_stdout), 0, "%s", err_text);
    cr_expect_str_eq(out_text, want);
    cr_expect_eq(sh(who, "$L render -o mystdout $T"), 0, "%s", err_text);
    cr_expect_str_eq(out_text, want);
    cr_expect_eq(sh(who, "$L render -o /proc/self/fd/1 $T"), 0, "%s", err_text);
    cr_expect_str_eq(out_text, want);
    cr_expect_eq(sh(who, "$L render -o /dev/fd/1 $T"), 0, "%s", err_text);
    cr_expect_str_eq(out_text, want);
    cr_expect_eq(sh(who, "$L render -o - $T"), 0, "%s", err_text);
    cr_expect_str_eq(out_text, want);
    /* `>> log`: appended at the descriptor's own offset, not truncated. */
    cr_expect_eq(sh(who, "echo before > log; $L render -o mystdout $T >> log; cat log"),
                 0, "%s", err_text);
    cr_expect(strncmp(out_text, "before\n", 7) == 0, "%s", out_text);
    cr_expect_str_eq(out_text + 7, want);
    /* Process substitution: /dev/fd/63 or so, a pipe. */
    cr_expect_eq(sh(who, "$L render -o >(cat > got) $T; sleep 0.2; cat got"), 0,
                 "%s", err_text);
    cr_expect_str_eq(out_text, want);
    struct stat st;
    cr_assert_eq(lstat(at("mystdout"), &st), 0);
    cr_expect(S_ISLNK(st.st_mode), "the link to /proc/self/fd/1 was replaced");
    cr_assert_eq(lstat("/dev/stdout", &st), 0);
    cr_expect(S_ISLNK(st.st_mode), "/dev/stdout is no longer a symlink");
}

Test(outfile, stdout_and_process_substitution_as_root)
{
    need_root();
    stdout_and_fds("", "/proc/self/fd/1");
}

Test(outfile, stdout_and_process_substitution_unprivileged)
{
    stdout_and_fds(unpriv(), "/dev/stdout");
}

/* ---- refused -------------------------------------------------------------- */

static void read_only(const char *who, uid_t owner)
{
    mkfile("ro.mmd", "keep\n", 0444, owner);
    struct stat before, after;
    cr_assert_eq(stat(at("ro.mmd"), &before), 0);
    cr_expect_eq(sh(who, "$L render -o ro.mmd $T"), 1);
    cr_expect(strstr(err_text, "ro.mmd: is read-only") != NULL, "%s", err_text);
    char *got = slurp(at("ro.mmd"));
    cr_expect_str_eq(got, "keep\n");
    free(got);
    cr_assert_eq(stat(at("ro.mmd"), &after), 0);
    cr_expect_eq(before.st_ino, after.st_ino);
    cr_expect_eq(after.st_mode & 07777, 0444);
    cr_expect_eq(entries(), 2);
}

Test(outfile, read_only_file_refused_as_root)
{
    need_root();
    read_only("", 0);
}

Test(outfile, read_only_file_refused_unprivileged)
{
    read_only(unpriv(), NOBODY);
}

/* A file of someone else's (root's, 0644) in the user's own directory: the
 * directory would let a rename replace it, the file does not allow writing. */
Test(outfile, someone_elses_file_refused_unprivileged)
{
    need_root();
    mkfile("roots.mmd", "keep\n", 0644, 0);
    cr_expect_eq(sh(unpriv(), "$L render -o roots.mmd $T"), 1);
    cr_expect(strstr(err_text, "is read-only") != NULL, "%s", err_text);
    struct stat st;
    cr_assert_eq(stat(at("roots.mmd"), &st), 0);
    cr_expect_eq(st.st_uid, 0u);
    char *got = slurp(at("roots.mmd"));
    cr_expect_str_eq(got, "keep\n");
    free(got);
}

static void same_as_input(const char *who)
{
    char *before = slurp(at("trace.yaml"));
    cr_assert_eq(symlink("trace.yaml", at("tl.yaml")), 0);
    cr_assert_eq(link(at("trace.yaml"), at("hard.yaml")), 0);
    const char *cmds[] = {
        "$L render -o trace.yaml trace.yaml",
        "$L render -o tl.yaml trace.yaml",   /* through a symlink */
        "$L render -o hard.yaml trace.yaml", /* another name of it */
        "$L render -o ./trace.yaml tl.yaml",
        "$L render -o trace.yaml - < trace.yaml", /* stdin is the file */
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        cr_expect_eq(sh(who, "%s", cmds[i]), 2, "%s", cmds[i]);
        cr_expect(strstr(err_text, "is the same file as the input") != NULL,
                  "%s: %s", cmds[i], err_text);
        char *now = slurp(at("trace.yaml"));
        cr_expect_str_eq(now, before, "%s damaged the trace", cmds[i]);
        free(now);
    }
    free(before);
}

Test(outfile, output_same_as_input_refused_as_root)
{
    need_root();
    same_as_input("");
}

Test(outfile, output_same_as_input_refused_unprivileged)
{
    same_as_input(unpriv());
}

Test(outfile, directory_and_missing_folder_refused)
{
    cr_assert_eq(mkdir(at("adir"), 0777), 0);
    cr_expect_eq(sh(unpriv(), "$L render -o adir $T"), 1);
    cr_expect(strstr(err_text, "Is a directory") != NULL, "%s", err_text);
    cr_expect_eq(sh(unpriv(), "$L render -o nodir/x.mmd $T"), 1);
    cr_expect(strstr(err_text, "cannot create a temporary file") != NULL, "%s", err_text);
    cr_assert_eq(symlink("loop2", at("loop1")), 0);
    cr_assert_eq(symlink("loop1", at("loop2")), 0);
    cr_expect_eq(sh(unpriv(), "$L render -o loop1 $T"), 1);
    cr_expect(strstr(err_text, "Too many levels of symbolic links") != NULL, "%s", err_text);
}
