/*
 * tests/kernels/test_lrn_grad.c: the Criterion suite around the plain checks of
 * check_lrn_grad.c (the LRN backward pass), kept in plain C so the aarch64 build can run them
 * under qemu, plus the one check that needs a fresh process: a GRAFT_ISA the CPU lacks.
 */
#include <stdlib.h>

#include "../crit_check.h"
#include "graft/graft.h"
#include "graft/kernels.h"

#define LRN_GRAD_TEST(name) GRAFT_CHECK_TEST(lrn_grad, graft_checks_lrn_grad, name)

LRN_GRAD_TEST(lrn_backward_matches_finite_differences)
LRN_GRAD_TEST(lrn_backward_known_values)
LRN_GRAD_TEST(lrn_backward_simd_matches_scalar)
LRN_GRAD_TEST(lrn_backward_bit_identical_for_1_and_2_threads)
LRN_GRAD_TEST(lrn_backward_rejects_bad_arguments)

/*
 * The ISA is chosen once per process, at the first kernel call; Criterion runs each test in a
 * fresh process, so setting GRAFT_ISA first makes that choice here.
 */
Test(lrn_grad, unavailable_isa_is_reported) {
    const char *missing = NULL;
    for (int i = GRAFT_ISA_SCALAR; i < GRAFT_ISA_COUNT; i++)
        if (!graft_isa_available((graft_isa)i)) missing = graft_isa_name((graft_isa)i);
    if (!missing) cr_skip_test("this CPU has every variant");
    cr_assert_eq(setenv("GRAFT_ISA", missing, 1), 0);
    float x[4] = {1, 2, 3, 4}, dy[4] = {1, 1, 1, 1}, dx[4] = {0};
    int err = graft_lrn_backward_nhwc(dx, dy, x, 1, 4, 3, 1e-4f, 0.75f, 1.0f);
    if (err == GRAFT_OK) cr_skip_test("the ISA was chosen before this test (run with fork)");
    cr_assert_eq(err, GRAFT_EUNSUPPORTED, "%s", graft_err_name(err));
    for (int i = 0; i < 4; i++) cr_assert_eq(dx[i], 0.0f, "dx[%d] written by a failed call", i);
}
