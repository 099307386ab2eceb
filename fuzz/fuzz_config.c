/*
 * fuzz_config.c: libFuzzer target for the docs-build config reader
 * (render/build_config.c, `loopmaid build -c FILE`).
 *
 * lmr__build_check_config only loads and validates: it never runs a `run:`
 * command and never writes a target, so arbitrary configs are safe to feed
 * it. The input sits in a memfd and is named through /proc/self/fd, so
 * relative paths in it resolve under /proc/self/fd, where nothing can be
 * created either.
 *
 * Failures besides the sanitizers' reports: an error without a message or
 * with a code outside LMR_E*.
 */
#include "lmr_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* tests/test_fuzz.c includes this file with LM_FUZZ_ENTRY renamed, to replay
 * the corpus and every saved crash in the ordinary suite. */
#ifndef LM_FUZZ_ENTRY
#define LM_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int LM_FUZZ_ENTRY(const uint8_t *data, size_t size);

int LM_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    int fd = memfd_create("config", 0);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    lmr_error err;
    memset(&err, 0, sizeof err);
    int rc = lmr__build_check_config(path, &err);
    if (rc != 0 &&
        (rc > 0 || rc < LMR_EEDITED || err.code != rc || err.msg[0] == '\0')) {
        fprintf(stderr, "bad error report: rc=%d code=%d msg=[%s]\n", rc,
                err.code, err.msg);
        abort();
    }
    close(fd);
    return 0;
}
