/*
 * tests/kernels/test_grad.c: the Criterion suite around the plain checks of check_grad.c
 * (activation, pooling and batch norm backward passes, the losses), kept in plain C so the
 * aarch64 build can run them under qemu.
 */

#include "../crit_check.h"

#define GRAD_TEST(name) GRAFT_CHECK_TEST(grad, graft_checks_grad, name)

GRAD_TEST(unary_matches_finite_differences)
GRAD_TEST(unary_kinks_follow_pytorch)
GRAD_TEST(unary_simd_matches_scalar)
GRAD_TEST(pool_backward_matches_finite_differences)
GRAD_TEST(pool_max_ties_go_to_first)
GRAD_TEST(batchnorm_train_matches_double)
GRAD_TEST(batchnorm_backward_matches_finite_differences)
GRAD_TEST(losses_match_double_and_finite_differences)
GRAD_TEST(backward_bit_identical_for_1_and_2_threads)
GRAD_TEST(rejects_bad_arguments)
