/*
 * tests/kernels/test_pooling.c: the Criterion suite around the plain pooling checks of
 * check_pooling.c (kept in plain C so the aarch64 build can run them under qemu).
 */

#include "../crit_check.h"


#define POOLING_TEST(name) GRAFT_CHECK_TEST(pooling, graft_checks_pooling, name)

POOLING_TEST(scalar_matches_reference)
POOLING_TEST(avx2_matches_reference)
POOLING_TEST(avx512_matches_reference)
POOLING_TEST(neon_matches_reference)
POOLING_TEST(reference_matches_naive_nchw)
POOLING_TEST(matches_worked_examples)
POOLING_TEST(rejects_bad_arguments)
