/*
 * tests/cross/criterion/criterion.h: a small stand-in for Criterion, so the
 * runtime's Criterion test files (tests/test_coro.c, test_task.c, ...)
 * compile and run unchanged where Criterion cannot be installed: the aarch64
 * cross build run under qemu-user (mk/cross.mk). Debian ships no
 * libcriterion for a cross sysroot, and the tests are worth more run as
 * they are than rewritten for a second harness.
 *
 * Only the part of Criterion's API the runtime tests use is here: Test()
 * with .init, .fini, .signal, .exit_code, .timeout, .disabled; the
 * cr_assert_* (fatal) and cr_expect_* (not fatal) checks; cr_skip_test;
 * cr_log_*. A test file that needs more fails to compile here, which is the
 * cue to add it. tests/cross/runner.c runs each test in its own child
 * process as Criterion does (a crash, a wrong signal or a timeout fails that
 * test only) and ends with Criterion's own summary line.
 *
 * Found first because mk/cross.mk puts -Itests/cross before every other
 * include directory; the native build never sees this file.
 */
#ifndef CRX_CRITERION_H
#define CRX_CRITERION_H

/* What <criterion/criterion.h> brings in, which test files rely on. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a Test() may ask for (Criterion's field names). */
struct crx_opts {
    int crx_unused_; /* lets Test(suite, name) have no options at all */
    void (*init)(void);
    void (*fini)(void);
    int signal;          /* the test passes only if killed by this signal */
    int exit_code;       /* ... or only if it exits with this status */
    double timeout;      /* seconds (scaled by CRX_TIMEOUT_SCALE); 0: none */
    bool disabled;
    const char *description;
};

struct crx_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    struct crx_opts opts;
    struct crx_test *next;
};

void crx_register(struct crx_test *t);
/* Reports a failed check at file:line; a fatal one ends the test. fmt is
 * the optional message of the check ("" when there is none). */
void crx_fail(int fatal, const char *file, int line, const char *expr, const char *fmt, ...);
_Noreturn void crx_skip(const char *fmt, ...);
void crx_log(const char *level, const char *fmt, ...);

#define Test(suite, name, ...)                                                 \
    static void crx_fn_##suite##_##name(void);                                 \
    static struct crx_test crx_t_##suite##_##name = {                          \
        #suite, #name, crx_fn_##suite##_##name,                                \
        {.crx_unused_ = 0, __VA_ARGS__}, NULL};                                \
    __attribute__((constructor)) static void crx_reg_##suite##_##name(void)    \
    {                                                                          \
        crx_register(&crx_t_##suite##_##name);                                 \
    }                                                                          \
    static void crx_fn_##suite##_##name(void)

#define TestSuite(...) struct crx_unused_suite_

/* "" __VA_ARGS__: the message is optional and always a string literal. */
#define CRX_CHECK(fatal, cond, text, ...)                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            crx_fail((fatal), __FILE__, __LINE__, (text), "" __VA_ARGS__);     \
    } while (0)

#define CRX_OP(fatal, op, a, b, ...)                                           \
    CRX_CHECK(fatal, (a) op (b), #a " " #op " " #b, __VA_ARGS__)

#define cr_assert(cond, ...)        CRX_CHECK(1, cond, #cond, __VA_ARGS__)
#define cr_expect(cond, ...)        CRX_CHECK(0, cond, #cond, __VA_ARGS__)
#define cr_assert_not(cond, ...)    CRX_CHECK(1, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_expect_not(cond, ...)    CRX_CHECK(0, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_assert_fail(...)         crx_fail(1, __FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_expect_fail(...)         crx_fail(0, __FILE__, __LINE__, "cr_expect_fail", "" __VA_ARGS__)

#define cr_assert_eq(a, b, ...)     CRX_OP(1, ==, a, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)    CRX_OP(1, !=, a, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)     CRX_OP(1, <, a, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)    CRX_OP(1, <=, a, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)     CRX_OP(1, >, a, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)    CRX_OP(1, >=, a, b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...)     CRX_OP(0, ==, a, b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...)    CRX_OP(0, !=, a, b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...)     CRX_OP(0, <, a, b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...)    CRX_OP(0, <=, a, b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...)     CRX_OP(0, >, a, b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...)    CRX_OP(0, >=, a, b, __VA_ARGS__)

#define cr_assert_null(p, ...)      CRX_CHECK(1, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...)  CRX_CHECK(1, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_null(p, ...)      CRX_CHECK(0, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...)  CRX_CHECK(0, (p) != NULL, #p " != NULL", __VA_ARGS__)

#define cr_assert_str_eq(a, b, ...)  CRX_CHECK(1, strcmp((a), (b)) == 0, #a " == " #b " (strings)", __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) CRX_CHECK(1, strcmp((a), (b)) != 0, #a " != " #b " (strings)", __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...)  CRX_CHECK(0, strcmp((a), (b)) == 0, #a " == " #b " (strings)", __VA_ARGS__)
#define cr_expect_str_neq(a, b, ...) CRX_CHECK(0, strcmp((a), (b)) != 0, #a " != " #b " (strings)", __VA_ARGS__)

#define cr_assert_arr_eq(a, b, size, ...) CRX_CHECK(1, memcmp((a), (b), (size)) == 0, #a " == " #b " (bytes)", __VA_ARGS__)
#define cr_expect_arr_eq(a, b, size, ...) CRX_CHECK(0, memcmp((a), (b), (size)) == 0, #a " == " #b " (bytes)", __VA_ARGS__)

#define cr_assert_float_eq(a, b, eps, ...) CRX_CHECK(1, fabs((double)(a) - (double)(b)) <= (eps), #a " ~= " #b, __VA_ARGS__)
#define cr_expect_float_eq(a, b, eps, ...) CRX_CHECK(0, fabs((double)(a) - (double)(b)) <= (eps), #a " ~= " #b, __VA_ARGS__)

#define cr_skip_test(...)   crx_skip("" __VA_ARGS__)
#define cr_log_info(...)    crx_log("info", "" __VA_ARGS__)
#define cr_log_warn(...)    crx_log("warn", "" __VA_ARGS__)
#define cr_log_error(...)   crx_log("error", "" __VA_ARGS__)

#endif /* CRX_CRITERION_H */
