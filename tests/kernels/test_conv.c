/*
 * tests/kernels/test_conv.c: the Criterion suite around the plain convolution checks of
 * check_conv.c.
 */
#include <criterion/criterion.h>

#include "../check.h"

static void run_check(const char *name) {
    for (const graft_check *c = graft_checks_conv; c->name; c++) {
        if (strcmp(c->name, name) != 0) continue;
        char msg[512] = "";
        int st = c->fn(msg, sizeof msg);
        if (st == GRAFT_CHECK_SKIP) cr_skip_test("%s", msg);
        cr_assert_eq(st, GRAFT_CHECK_PASS, "%s", msg);
        return;
    }
    cr_assert_fail("no check named %s", name);
}

#define CONV_TEST(name) \
    Test(conv, name, .timeout = 300) { run_check(#name); }

CONV_TEST(scalar_matches_reference)
CONV_TEST(avx2_matches_reference)
CONV_TEST(avx512_matches_reference)
CONV_TEST(neon_matches_reference)
CONV_TEST(rejects_impossible_layers)
