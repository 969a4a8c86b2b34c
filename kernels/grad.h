/*
 * kernels/grad.h: what the activation-gradient driver (act_grad.c) shares with its per-ISA
 * loops (act_grad_ref.c, act_grad_avx2.c, act_grad_avx512.c, act_grad_neon.c). Internal to
 * libgraft. The pooling and batch norm backward passes (pooling_grad.c, batchnorm_grad.c) and
 * the losses (loss.c) are portable C and need nothing from here.
 *
 * The driver checks arguments, picks the variant of graft_isa_current() and splits the array
 * among the pool's threads; the loops only walk the memory they are handed. Each computes an
 * element from its own inputs with the same operations whatever its position or vector lane
 * (tails go through the same vector code, masked), so every variant is bit-identical for any
 * thread count, length and alignment. The SIMD variants call SLEEF's 1-ULP functions, the
 * reference calls libm: they agree within a few ULP, not bit for bit.
 */
#ifndef GRAFT_GRAD_INTERNAL_H
#define GRAFT_GRAD_INTERNAL_H

#include <stddef.h>

#include "kernels.h"

/*
 * dx[i] += dy[i] * f'(x[i]) for i < n, f as op (kind valid, parameters checked). The kinds
 * whose derivative is a function of the output (graft__unary_grad_needs_y) read y, which the
 * driver always supplies for them (the caller's, or the same variant's forward computed into a
 * stack block); the other kinds never read y. dx overlaps none of dy, x, y.
 */
typedef void (*graft__unary_grad_fn)(const graft_unary_op *op, float *restrict dx,
                                     const float *restrict dy, const float *restrict x,
                                     const float *restrict y, size_t n);

/* SIGMOID, TANH, EXP and SQRT differentiate through y = f(x), as PyTorch's autograd does. */
static inline int graft__unary_grad_needs_y(graft_unary kind) {
    return kind == GRAFT_UNARY_SIGMOID || kind == GRAFT_UNARY_TANH || kind == GRAFT_UNARY_EXP ||
           kind == GRAFT_UNARY_SQRT;
}

void graft__unary_grad_ref(const graft_unary_op *op, float *restrict dx, const float *restrict dy,
                           const float *restrict x, const float *restrict y, size_t n);
#if defined(__x86_64__)
void graft__unary_grad_avx2(const graft_unary_op *op, float *restrict dx,
                            const float *restrict dy, const float *restrict x,
                            const float *restrict y, size_t n);
void graft__unary_grad_avx512(const graft_unary_op *op, float *restrict dx,
                              const float *restrict dy, const float *restrict x,
                              const float *restrict y, size_t n);
#endif
#if defined(__aarch64__)
void graft__unary_grad_neon(const graft_unary_op *op, float *restrict dx,
                            const float *restrict dy, const float *restrict x,
                            const float *restrict y, size_t n);
#endif

/*
 * Constants of the derivatives, kept in one place so the variants cannot drift apart: GELU's
 * pdf factor 1 / sqrt(2 pi), and 3 C1 for GELU_TANH's inner derivative C0 + 3 C1 x^2 (C0, C1
 * are the forward's, in vmath.h).
 */
#define GRAFT__INV_SQRT_2PI 0.3989422804014327f
#define GRAFT__GELU_TANH_3C1 0.1070322244089003f

#endif
