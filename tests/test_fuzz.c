/*
 * test_fuzz.c: the fuzz targets' checks, replayed in the ordinary suite.
 *
 * The four libFuzzer entry points of fuzz/ are compiled in here under other
 * names and fed, file by file:
 *  - every input under tests/data/fuzz-regressions/NAME/: the inputs that
 *    once crashed, leaked, hung or broke a property (scripts/fuzz.sh saves
 *    them there), so a fixed bug stays fixed under plain, ASan and valgrind
 *    runs without needing clang;
 *  - the seed corpus fuzz/corpus/NAME/ and, for the trace reader, every
 *    trace under tests/data/ (each renders through every view, and each
 *    diagram is checked for injected directives, HTML and click lines).
 * An entry point that finds a violated property calls abort(), which
 * Criterion reports as a crash of that test with the message on stderr.
 */
#include <criterion/criterion.h>

#include "lmr_internal.h"

#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LM_FUZZ_ENTRY fuzz_reader_one
#include "../fuzz/fuzz_reader.c"
#undef LM_FUZZ_ENTRY
#define LM_FUZZ_ENTRY fuzz_config_one
#include "../fuzz/fuzz_config.c"
#undef LM_FUZZ_ENTRY
#define LM_FUZZ_ENTRY fuzz_escape_one
#include "../fuzz/fuzz_escape.c"
#undef LM_FUZZ_ENTRY
#define LM_FUZZ_ENTRY fuzz_fastpath_one
#include "../fuzz/fuzz_fastpath.c"
#undef LM_FUZZ_ENTRY
#define LM_FUZZ_ENTRY fuzz_convert_one
#include "../fuzz/fuzz_convert.c"
#undef LM_FUZZ_ENTRY

typedef int (*entry_fn)(const uint8_t *, size_t);

static entry_fn replay_fn;
static const char *replay_suffix; /* only files ending so; NULL = all */
static size_t replayed;

/* Inputs bigger than this are not fuzz inputs (libFuzzer's -max_len stays
 * far below it); they would only slow the suite. */
#define REPLAY_MAX (512u * 1024u)

static int replay_one(const char *path, const struct stat *sb, int type,
                      struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || sb->st_size > (off_t)REPLAY_MAX)
        return 0;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!strcmp(base, "README.md"))
        return 0;
    size_t pl = strlen(path), sl = replay_suffix ? strlen(replay_suffix) : 0;
    if (replay_suffix && (pl < sl || strcmp(path + pl - sl, replay_suffix)))
        return 0;
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    uint8_t *buf = malloc((size_t)sb->st_size + 1);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, (size_t)sb->st_size, fp);
    fclose(fp);
    /* Printed before the call, so a crash names its input. */
    fprintf(stderr, "replay %s\n", path);
    replay_fn(buf, n);
    free(buf);
    replayed++;
    return 0;
}

/* Replays every file under dir (recursively); a missing dir replays none. */
static size_t replay_dir(entry_fn fn, const char *dir, const char *suffix)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return 0;
    replay_fn = fn;
    replay_suffix = suffix;
    replayed = 0;
    cr_assert_eq(nftw(dir, replay_one, 16, FTW_PHYS), 0, "walking %s", dir);
    return replayed;
}

Test(fuzz, reader_regressions_and_corpus, .timeout = 300)
{
    replay_dir(fuzz_reader_one, "tests/data/fuzz-regressions/reader", NULL);
    cr_expect_gt(replay_dir(fuzz_reader_one, "fuzz/corpus/reader", NULL), 0);
    cr_expect_gt(replay_dir(fuzz_reader_one, "tests/data", ".yaml"), 20,
                 "the suite's traces should be replayed too");
}

Test(fuzz, config_regressions_and_corpus)
{
    /* The first config leak fuzz_config found (a config that is not valid
     * YAML leaked the config's directory name) is among these. */
    replay_dir(fuzz_config_one, "tests/data/fuzz-regressions/config", NULL);
    cr_expect_gt(replay_dir(fuzz_config_one, "fuzz/corpus/config", NULL), 0);
    replay_dir(fuzz_config_one, "loopmaid.yaml", NULL);
}

/* The reader's fast path and libyaml agree (fuzz/fuzz_fastpath.c) on the
 * saved regressions, the corpus and every trace of the suite. */
Test(fuzz, fastpath_regressions_and_corpus, .timeout = 300)
{
    replay_dir(fuzz_fastpath_one, "tests/data/fuzz-regressions/fastpath", NULL);
    cr_expect_gt(replay_dir(fuzz_fastpath_one, "fuzz/corpus/fastpath", NULL), 0);
    cr_expect_gt(replay_dir(fuzz_fastpath_one, "tests/data", ".yaml"), 20);
}

/* The binary trace decoder (fuzz/fuzz_convert.c): the corpus holds real
 * .lmt files, each converts and reads; every .yaml of the suite is refused
 * (no magic) with a message. */
Test(fuzz, convert_regressions_and_corpus, .timeout = 300)
{
    replay_dir(fuzz_convert_one, "tests/data/fuzz-regressions/convert", NULL);
    cr_expect_gt(replay_dir(fuzz_convert_one, "tests/data/examples", ".yaml"), 5);
    /* The corpus is real binary traces: each converts to YAML that reads. */
    DIR *d = opendir("fuzz/corpus/convert");
    cr_assert_not_null(d, "no fuzz/corpus/convert");
    size_t real = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "README.md"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "fuzz/corpus/convert/%s", de->d_name);
        FILE *fp = fopen(path, "rb");
        cr_assert_not_null(fp, "%s", path);
        static uint8_t buf[REPLAY_MAX];
        size_t n = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        cr_assert(lm_trace_is_binary(buf, n), "%s is not a binary trace", path);
        fuzz_convert_one(buf, n);
        cr_expect_eq(fuzz_convert_last_read, 0, "%s: did not convert and read",
                     path);
        real++;
    }
    closedir(d);
    cr_expect_gt(real, 0);
}

Test(fuzz, escape_regressions_and_corpus)
{
    replay_dir(fuzz_escape_one, "tests/data/fuzz-regressions/escape", NULL);
    cr_expect_gt(replay_dir(fuzz_escape_one, "fuzz/corpus/escape", NULL), 0);
}

/* The entry points themselves must catch what they claim to: a hostile
 * trace whose names are all injection attempts renders clean. */
Test(fuzz, hostile_trace_renders_clean)
{
    cr_expect_gt(replay_dir(fuzz_reader_one, "tests/data/hostile.yaml", NULL), 0);
}
