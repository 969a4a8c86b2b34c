/*
 * tests/kernels/test_conv_grad.c: the Criterion suite around the plain convolution backward
 * checks of check_conv_grad.c.
 */

#include "../crit_check.h"

#define CONV_GRAD_TEST(name) GRAFT_CHECK_TEST(conv_grad, graft_checks_conv_grad, name)

CONV_GRAD_TEST(scalar_matches_finite_differences)
CONV_GRAD_TEST(scalar_matches_definition)
CONV_GRAD_TEST(avx2_matches_definition)
CONV_GRAD_TEST(avx512_matches_definition)
CONV_GRAD_TEST(neon_matches_definition)
CONV_GRAD_TEST(simd_matches_scalar)
CONV_GRAD_TEST(rejects_bad_calls)
CONV_GRAD_TEST(accumulates)
