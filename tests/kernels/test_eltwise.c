/*
 * tests/kernels/test_eltwise.c: the Criterion suite around the plain elementwise checks of
 * check_eltwise.c (layout conversions, broadcasting, batch norm, folding, concat).
 */

#include "../crit_check.h"


#define ELTWISE_TEST(name) GRAFT_CHECK_TEST(eltwise, graft_checks_eltwise, name)

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
