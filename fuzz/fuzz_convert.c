/*
 * fuzz_convert.c: libFuzzer target for the binary trace decoder (issue 18).
 *
 * One input is one binary trace (.lmt) as the tracer's writer thread would
 * have left it, or anything else. It goes through lm_trace_convert from a
 * memfd (a real, seekable file, nothing on disk) into another memfd; then
 *   - a failure must be a negative code with a message, its offset inside
 *     the input (the "IN: byte N: msg" of `loopmaid convert` points there);
 *   - a success goes through the project's reader (lmr__read: the fast path
 *     and libyaml), which must take it or refuse it with a proper LMR_E*
 *     error, never crash. Not "must take it": a TEXT chunk holds YAML bytes
 *     copied verbatim (docs/trace-format.md), so a fuzzed TEXT chunk is
 *     fuzzed YAML, which the reader rightly refuses; what the converter
 *     itself formats (RECS chunks) is checked byte for byte against the
 *     YAML trace in tests/test_cli.c and the tracer's tests, and the corpus
 *     replay in tests/test_fuzz.c requires every real .lmt to read.
 * Unbounded allocation and hangs are the fuzzer's -rss_limit_mb, -malloc_
 * limit_mb and -timeout (scripts/fuzz.sh); the YAML written is capped here
 * too, since a few bytes that claim a billion events must not become a
 * gigabyte of output.
 */
#include "lmr_internal.h"
#include "loopmaid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* tests/test_fuzz.c includes this file with LM_FUZZ_ENTRY renamed, to replay
 * the corpus and every saved crash in the ordinary suite. */
#ifndef LM_FUZZ_ENTRY
#define LM_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int LM_FUZZ_ENTRY(const uint8_t *data, size_t size);

/* The YAML one input may turn into: far more than any input this size can
 * honestly encode (an event is at least a byte or two) is a decoder that
 * multiplies what it is given. */
#define CONVERT_OUT_FACTOR 4096u
#define CONVERT_OUT_MIN (1u << 20)

static int count_event(void *ctx, const lmr__header *h, const lmr__event *ev,
                       lmr_error *err)
{
    (void)h, (void)ev, (void)err;
    (*(size_t *)ctx)++;
    return 0;
}

/* The reader's verdict on the converted YAML at out: 0, or an LMR_E* code
 * with its message (anything else aborts). */
static int read_back(FILE *out)
{
    lmr__header h;
    memset(&h, 0, sizeof h);
    lmr_error rerr;
    memset(&rerr, 0, sizeof rerr);
    int truncated = 0;
    size_t n = 0;
    int rrc = lmr__read(out, "fuzz", &h, count_event, &n, &truncated, &rerr);
    lmr__header_free(&h);
    if (rrc > 0 || (rrc < 0 && (rrc < LMR_EEDITED || rerr.code != rrc ||
                                rerr.msg[0] == '\0'))) {
        fprintf(stderr, "bad reader error on converted YAML: rc=%d code=%d "
                        "msg=[%s]\n", rrc, rerr.code, rerr.msg);
        abort();
    }
    return rrc;
}

/* For tests/test_fuzz.c: the reader's verdict on the last input that
 * converted (1 when it did not convert). */
static int fuzz_convert_last_read = 1;

int LM_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fuzz_convert_last_read = 1;
    int in = memfd_create("lmt", 0);
    if (in < 0)
        return 0;
    if (size && write(in, data, size) != (ssize_t)size) {
        close(in);
        return 0;
    }
    if (lseek(in, 0, SEEK_SET) != 0) {
        close(in);
        return 0;
    }
    int outfd = memfd_create("yaml", 0);
    FILE *out = outfd < 0 ? NULL : fdopen(outfd, "w+b");
    if (!out) {
        if (outfd >= 0)
            close(outfd);
        close(in);
        return 0;
    }
    bool binary = lm_trace_is_binary(data, size);
    lm_convert_error err;
    memset(&err, 0, sizeof err);
    int rc = lm_trace_convert(in, out, &err);
    close(in);
    if (rc > 0 || (rc < 0 && (err.msg[0] == '\0' || err.offset > size))) {
        fprintf(stderr, "bad error report: rc=%d code=%d offset=%llu msg=[%s]\n",
                rc, err.code, (unsigned long long)err.offset, err.msg);
        abort();
    }
    if (rc == 0 && !binary) {
        fprintf(stderr, "converted an input without the magic\n");
        abort();
    }
    if (rc == 0) {
        if (fflush(out) != 0 || fseeko(out, 0, SEEK_SET) != 0)
            abort();
        struct stat st;
        if (fstat(fileno(out), &st) != 0)
            abort();
        size_t cap = size * CONVERT_OUT_FACTOR;
        if (cap < CONVERT_OUT_MIN)
            cap = CONVERT_OUT_MIN;
        if ((uint64_t)st.st_size > cap) {
            fprintf(stderr, "%zu bytes became %lld bytes of YAML\n", size,
                    (long long)st.st_size);
            abort();
        }
        fuzz_convert_last_read = read_back(out);
    }
    fclose(out);
    return 0;
}
