/*
 * tests/kernels/test_winograd.c: the Criterion suite around the Winograd convolution checks of
 * check_winograd.c.
 */

#include "../crit_check.h"

#define WINOGRAD_TEST(name) GRAFT_CHECK_TEST(winograd, graft_checks_winograd, name)

WINOGRAD_TEST(scalar_matches_reference)
WINOGRAD_TEST(avx2_matches_reference)
WINOGRAD_TEST(avx512_matches_reference)
WINOGRAD_TEST(neon_matches_reference)
WINOGRAD_TEST(planner_rule_and_override)
