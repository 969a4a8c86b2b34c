/*
 * tests/kernels/test_eltwise.c: the Criterion suite around the plain elementwise checks of
 * check_eltwise.c (layout conversions, broadcasting, batch norm, folding, concat).
 */
#include <criterion/criterion.h>

#include "../check.h"

static void run_check(const char *name) {
    for (const graft_check *c = graft_checks_eltwise; c->name; c++) {
        if (strcmp(c->name, name) != 0) continue;
        char msg[1024] = "";
        int st = c->fn(msg, sizeof msg);
        if (st == GRAFT_CHECK_SKIP) cr_skip_test("%s", msg);
        cr_assert_eq(st, GRAFT_CHECK_PASS, "%s", msg);
        return;
    }
    cr_assert_fail("no check named %s", name);
}

#define ELTWISE_TEST(name) \
    Test(eltwise, name, .timeout = 300) { run_check(#name); }

ELTWISE_TEST(scalar_layout_conversions)
ELTWISE_TEST(avx2_layout_conversions)
ELTWISE_TEST(avx512_layout_conversions)
ELTWISE_TEST(neon_layout_conversions)
ELTWISE_TEST(scalar_broadcasting)
ELTWISE_TEST(avx2_broadcasting)
ELTWISE_TEST(avx512_broadcasting)
ELTWISE_TEST(neon_broadcasting)
ELTWISE_TEST(scalar_binary_in_place)
ELTWISE_TEST(avx2_binary_in_place)
ELTWISE_TEST(avx512_binary_in_place)
ELTWISE_TEST(neon_binary_in_place)
ELTWISE_TEST(scalar_batchnorm)
ELTWISE_TEST(avx2_batchnorm)
ELTWISE_TEST(avx512_batchnorm)
ELTWISE_TEST(neon_batchnorm)
ELTWISE_TEST(fold_matches_batchnorm)
ELTWISE_TEST(concat_every_axis)
ELTWISE_TEST(rejects_bad_arguments)
