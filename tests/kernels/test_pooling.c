/*
 * tests/kernels/test_pooling.c: the Criterion suite around the plain pooling checks of
 * check_pooling.c (kept in plain C so the aarch64 build can run them under qemu).
 */
#include <criterion/criterion.h>

#include "../check.h"

static void run_check(const char *name) {
    for (const graft_check *c = graft_checks_pooling; c->name; c++) {
        if (strcmp(c->name, name) != 0) continue;
        char msg[1024] = "";
        int st = c->fn(msg, sizeof msg);
        if (st == GRAFT_CHECK_SKIP) cr_skip_test("%s", msg);
        cr_assert_eq(st, GRAFT_CHECK_PASS, "%s", msg);
        return;
    }
    cr_assert_fail("no check named %s", name);
}

#define POOLING_TEST(name) \
    Test(pooling, name, .timeout = 300) { run_check(#name); }

POOLING_TEST(scalar_matches_reference)
POOLING_TEST(avx2_matches_reference)
POOLING_TEST(avx512_matches_reference)
POOLING_TEST(neon_matches_reference)
POOLING_TEST(reference_matches_naive_nchw)
POOLING_TEST(matches_worked_examples)
POOLING_TEST(rejects_bad_arguments)
