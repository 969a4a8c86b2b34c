/*
 * tests/pipeline/test_learn.c: the Criterion suite around the plain checks of check_learn.c
 * (the linear learners, their head file and metrics, LIBLINEAR parity, hymenoptera).
 */

#include "../crit_check.h"

#define LEARN_TEST(name) GRAFT_CHECK_TEST(learn, graft_checks_learn, name)

LEARN_TEST(gradient_softmax)
LEARN_TEST(gradient_squared_hinge)
LEARN_TEST(gradient_hinge)
LEARN_TEST(gradient_crammer_singer)
LEARN_TEST(scaler_streaming_equals_batch)
LEARN_TEST(partial_fit_chunks_equal_one_call)
LEARN_TEST(incremental_matches_batch)
LEARN_TEST(deterministic_for_seed_and_threads)
LEARN_TEST(head_roundtrip_bit_exact)
LEARN_TEST(head_refuses_bad_files)
LEARN_TEST(liblinear_parity_s2)
LEARN_TEST(liblinear_parity_s0)
LEARN_TEST(balanced_weights)
LEARN_TEST(every_solver_learns)
LEARN_TEST(progress_and_holdout)
LEARN_TEST(sweep)
LEARN_TEST(eval_metrics_and_reports)
LEARN_TEST(options_refused)
LEARN_TEST(hymenoptera_accuracy)
