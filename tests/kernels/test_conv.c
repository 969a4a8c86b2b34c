/*
 * tests/kernels/test_conv.c: the Criterion suite around the plain convolution checks of
 * check_conv.c.
 */

#include "../crit_check.h"


#define CONV_TEST(name) GRAFT_CHECK_TEST(conv, graft_checks_conv, name)

CONV_TEST(scalar_matches_reference)
CONV_TEST(avx2_matches_reference)
CONV_TEST(avx512_matches_reference)
CONV_TEST(neon_matches_reference)
CONV_TEST(rejects_impossible_layers)
