/*
 * tests/kernels/test_vmath.c: the Criterion suite around the plain checks of check_vmath.c
 * (kept in plain C so the aarch64 build can run them under qemu), plus the one error that
 * needs a fresh process: a GRAFT_ISA naming a variant this CPU lacks, which every call of the
 * three functions must report as GRAFT_EUNSUPPORTED.
 */
#include <stdlib.h>

#include "../crit_check.h"
#include "graft/graft.h"
#include "graft/kernels.h"


#define VMATH_TEST(name) GRAFT_CHECK_TEST(vmath, graft_checks_vmath, name)

VMATH_TEST(reference_matches_double)
VMATH_TEST(scalar_known_values)
VMATH_TEST(avx2_known_values)
VMATH_TEST(avx512_known_values)
VMATH_TEST(neon_known_values)
VMATH_TEST(scalar_unary_matches_reference)
VMATH_TEST(avx2_unary_matches_reference)
VMATH_TEST(avx512_unary_matches_reference)
VMATH_TEST(neon_unary_matches_reference)
VMATH_TEST(scalar_softmax_matches_reference)
VMATH_TEST(avx2_softmax_matches_reference)
VMATH_TEST(avx512_softmax_matches_reference)
VMATH_TEST(neon_softmax_matches_reference)
VMATH_TEST(scalar_lrn_matches_reference)
VMATH_TEST(avx2_lrn_matches_reference)
VMATH_TEST(avx512_lrn_matches_reference)
VMATH_TEST(neon_lrn_matches_reference)
VMATH_TEST(rejects_bad_arguments)

/*
 * The ISA is chosen once per process, at the first kernel call; Criterion runs each test in a
 * fresh process, so setting GRAFT_ISA first makes that choice here.
 */
Test(vmath, unavailable_isa_is_reported) {
    const char *missing = NULL;
    for (int i = GRAFT_ISA_SCALAR; i < GRAFT_ISA_COUNT; i++)
        if (!graft_isa_available((graft_isa)i)) missing = graft_isa_name((graft_isa)i);
    if (!missing) cr_skip_test("this CPU has every variant");
    cr_assert_eq(setenv("GRAFT_ISA", missing, 1), 0);
    float x[4] = {1, 2, 3, 4}, y[4] = {0};
    graft_unary_op op = {GRAFT_UNARY_SIGMOID, 0, 0};
    int err = graft_unary_apply(&op, y, x, 4);
    if (err == GRAFT_OK) cr_skip_test("the ISA was chosen before this test (run with fork)");
    cr_assert_eq(err, GRAFT_EUNSUPPORTED, "%s", graft_err_name(err));
    cr_assert(strstr(graft_last_error(), "not available"), "%s", graft_last_error());
    cr_assert_eq(graft_softmax(y, x, 1, 4, 0), GRAFT_EUNSUPPORTED);
    cr_assert_eq(graft_lrn_nhwc(y, x, 1, 4, 3, 1e-4f, 0.75f, 1.0f), GRAFT_EUNSUPPORTED);
    for (int i = 0; i < 4; i++) cr_assert_eq(y[i], 0.0f, "y[%d] written by a failed call", i);
}
