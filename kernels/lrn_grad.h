/*
 * kernels/lrn_grad.h: what the LRN backward driver (lrn_grad.c) shares with its per-ISA loops
 * (lrn_grad_ref.c, lrn_grad_avx2.c, lrn_grad_avx512.c, lrn_grad_neon.c, the SIMD ones written
 * once in lrn_grad_body.h). Internal to libgraft.
 *
 * The driver checks arguments, clamps the window as the forward's driver does (vmath.c, whose
 * graft__lrn_args it reuses), picks the variant of graft_isa_current() and splits the pixels
 * among the pool's threads; the loops only walk the memory they are handed. A pixel's channels
 * depend only on that pixel, and each is computed with the same operations whatever its vector
 * lane (tails go through the same vector code, masked), so every variant is bit-identical for
 * any thread count. The SIMD variants call SLEEF's 1-ULP pow, the reference libm's powf: they
 * agree within a few ULP, not bit for bit.
 */
#ifndef GRAFT_LRN_GRAD_INTERNAL_H
#define GRAFT_LRN_GRAD_INTERNAL_H

#include <stddef.h>

#include "vmath.h"

/*
 * A variant: for each of `pixels` rows of C channels, with s[c] = bias + scale * (the window
 * sum of x^2, as the forward sums it), g[c] = dy[c] / s[c]^beta and t[c] = g[c] x[c] / s[c]
 * (= dy x s^(-beta-1)),
 *   dx[c] += g[c] - coef * x[c] * sum of t[c''] over the c'' whose window holds c,
 * that is over c'' in [c - hi, c + lo], with coef = 2 alpha beta / size. ws is this thread's
 * scratch of graft__lrn_grad_scratch_floats(C, a) floats; dx overlaps none of dy, x, ws.
 */
typedef void (*graft__lrn_grad_fn)(float *restrict dx, const float *restrict dy,
                                   const float *restrict x, size_t pixels, size_t C,
                                   const graft__lrn_args *a, float coef, float *restrict ws);

/*
 * Scratch: the squares of one pixel padded with lo zeros before and hi after, g, and t padded
 * with hi zeros before and lo after (the transposed window), each followed by a vector of
 * slack that whole-vector loads of the last channels may read.
 */
static inline size_t graft__lrn_grad_scratch_floats(size_t C, const graft__lrn_args *a) {
    return 3 * (C + GRAFT__LRN_SLACK) + 2 * (a->lo + a->hi);
}

void graft__lrn_grad_ref(float *restrict dx, const float *restrict dy, const float *restrict x,
                         size_t pixels, size_t C, const graft__lrn_args *a, float coef,
                         float *restrict ws);
#if defined(__x86_64__)
void graft__lrn_grad_avx2(float *restrict dx, const float *restrict dy, const float *restrict x,
                          size_t pixels, size_t C, const graft__lrn_args *a, float coef,
                          float *restrict ws);
void graft__lrn_grad_avx512(float *restrict dx, const float *restrict dy,
                            const float *restrict x, size_t pixels, size_t C,
                            const graft__lrn_args *a, float coef, float *restrict ws);
#endif
#if defined(__aarch64__)
void graft__lrn_grad_neon(float *restrict dx, const float *restrict dy, const float *restrict x,
                          size_t pixels, size_t C, const graft__lrn_args *a, float coef,
                          float *restrict ws);
#endif

#endif
