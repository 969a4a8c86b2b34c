/*
 * tests/kernels/test_gemm.c: the Criterion suite around the plain GEMM checks of
 * check_gemm.c (kept in plain C so the aarch64 build can run them under qemu).
 */
#include <criterion/criterion.h>

#include "../check.h"

static void run_check(const char *name) {
    for (const graft_check *c = graft_checks_gemm; c->name; c++) {
        if (strcmp(c->name, name) != 0) continue;
        char msg[512] = "";
        int st = c->fn(msg, sizeof msg);
        if (st == GRAFT_CHECK_SKIP) cr_skip_test("%s", msg);
        cr_assert_eq(st, GRAFT_CHECK_PASS, "%s", msg);
        return;
    }
    cr_assert_fail("no check named %s", name);
}

#define GEMM_TEST(name) \
    Test(gemm, name, .timeout = 300) { run_check(#name); }

GEMM_TEST(scalar_matches_reference)
GEMM_TEST(avx2_matches_reference)
GEMM_TEST(avx512_matches_reference)
GEMM_TEST(neon_matches_reference)
GEMM_TEST(scalar_epilogue)
GEMM_TEST(avx2_epilogue)
GEMM_TEST(avx512_epilogue)
GEMM_TEST(neon_epilogue)
GEMM_TEST(scalar_packed_b_identical)
GEMM_TEST(avx2_packed_b_identical)
GEMM_TEST(avx512_packed_b_identical)
GEMM_TEST(neon_packed_b_identical)
GEMM_TEST(k0_and_alpha0_scale_c)
GEMM_TEST(rejects_bad_arguments)
