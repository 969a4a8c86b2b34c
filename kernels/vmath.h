/*
 * kernels/vmath.h: what the activation / softmax / LRN driver (vmath.c) shares with its per-ISA
 * loops (vmath_ref.c, vmath_avx2.c, vmath_avx512.c, vmath_neon.c). Internal to libgraft.
 *
 * The driver checks arguments, picks the variant of graft_isa_current(), handles the rows of a
 * softmax whose maximum is not finite, and splits the work among the pool's threads. The loops
 * below only walk the memory they are handed. Each computes an element from its own inputs
 * with the same operations whatever its position, the vector lane it falls in (tails go
 * through the same vector code, masked) or the thread running it, so every variant is
 * bit-identical for any thread count, length and alignment. The SIMD variants call SLEEF's
 * 1-ULP functions, the reference calls libm: they agree within a few ULP, not bit for bit.
 */
#ifndef GRAFT_VMATH_INTERNAL_H
#define GRAFT_VMATH_INTERNAL_H

#include <stddef.h>

#include "kernels.h"

/* One LRN call's constants, already checked and clamped by vmath.c. */
typedef struct graft__lrn_args {
    size_t lo, hi;     /* window [c - lo, c + hi], both already clamped to C - 1 */
    float scale;       /* alpha / size */
    float beta, bias;
} graft__lrn_args;

/*
 * A variant. x and y are either the same pointer or do not overlap (checked by nothing: the
 * public header forbids partial overlap).
 *
 * unary: y[i] = f(x[i]) for i < n, f as graft_unary in include/graft/kernels.h; op->kind is
 *   valid and its parameters checked.
 * row_max: the largest of x[0..D), D >= 1. With a NaN present it may return NaN or the largest
 *   other element; the driver's handling is correct either way.
 * softmax_row: one row of D >= 1 elements whose largest element `max` is finite:
 *   y[i] = exp(x[i] - max) / sum_j exp(x[j] - max), or (log_softmax)
 *   y[i] = (x[i] - max) - log(sum_j exp(x[j] - max)).
 * lrn: `pixels` rows of C channels, y[c] = x[c] / (bias + scale * sum_window x^2)^beta, the
 *   window sum taken in increasing channel order starting from 0. sq is this thread's scratch
 *   of graft__lrn_scratch_floats(C, a) floats.
 */
typedef struct graft__vmath_kernel {
    graft_isa isa;
    void (*unary)(const graft_unary_op *op, float *y, const float *x, size_t n);
    float (*row_max)(const float *x, size_t D);
    void (*softmax_row)(float *y, const float *x, size_t D, float max, int log_softmax);
    void (*lrn)(float *y, const float *x, size_t pixels, size_t C, const graft__lrn_args *a,
                float *sq);
} graft__vmath_kernel;

/*
 * LRN scratch: the squares of one pixel with lo zeros before and hi after (so that every
 * channel's window is a fixed-length run of the padded row, whose extra terms add exact
 * zeros), plus one vector of slack that masked tails may read.
 */
#define GRAFT__LRN_SLACK 16
static inline size_t graft__lrn_scratch_floats(size_t C, const graft__lrn_args *a) {
    return a->lo + C + a->hi + GRAFT__LRN_SLACK;
}

#define GRAFT__VMATH_DECLARE(isa)                                                              \
    void graft_vmath_unary_##isa(const graft_unary_op *op, float *y, const float *x,          \
                                 size_t n);                                                    \
    float graft_vmath_row_max_##isa(const float *x, size_t D);                                 \
    void graft_vmath_softmax_row_##isa(float *y, const float *x, size_t D, float max,          \
                                       int log_softmax);                                       \
    void graft_vmath_lrn_##isa(float *y, const float *x, size_t pixels, size_t C,             \
                               const graft__lrn_args *a, float *sq);

GRAFT__VMATH_DECLARE(ref)
#if defined(__x86_64__)
GRAFT__VMATH_DECLARE(avx2)
GRAFT__VMATH_DECLARE(avx512)
#endif
#if defined(__aarch64__)
GRAFT__VMATH_DECLARE(neon)
#endif

/*
 * Constants every variant uses, kept in one place so that they cannot drift apart. GELU's tanh
 * form is evaluated as u = x * (C0 + C1 * x * x) with C0 = sqrt(2 / pi), C1 = C0 * 0.044715.
 */
#define GRAFT__GELU_TANH_C0 0.7978845608028654f
#define GRAFT__GELU_TANH_C1 0.0356774081363001f
#define GRAFT__SQRT1_2 0.7071067811865476f

#endif
