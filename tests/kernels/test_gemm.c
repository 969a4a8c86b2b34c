/*
 * tests/kernels/test_gemm.c: the Criterion suite around the plain GEMM checks of
 * check_gemm.c (kept in plain C so the aarch64 build can run them under qemu).
 */

#include "../crit_check.h"


#define GEMM_TEST(name) GRAFT_CHECK_TEST(gemm, graft_checks_gemm, name)

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
