/*
 * kernels/lrn_grad_ref.c: the scalar reference of the LRN backward pass, written with libm's
 * powf. It is the specification the SIMD variants (lrn_grad_body.h, SLEEF) are tested against
 * and the variant GRAFT_ISA=scalar runs, so it stays plain: the windows are walked directly,
 * without the padded rows the SIMD variants use. Threading, argument checks and the window's
 * bounds live in lrn_grad.c.
 *
 * With s[c] = bias + scale * sum_{c' in [c - lo, c + hi]} x[c']^2 and y = x s^-beta,
 *   dx[c] += dy[c] s[c]^-beta - 2 scale beta x[c] sum_{c''} dy[c''] x[c''] s[c'']^(-beta-1)
 * where c'' runs over the channels whose window holds c, which are [c - hi, c + lo].
 */
#include <math.h>

#include "lrn_grad.h"

void graft__lrn_grad_ref(float *restrict dx, const float *restrict dy, const float *restrict x,
                         size_t pixels, size_t C, const graft__lrn_args *a, float coef,
                         float *restrict ws) {
    float *sq = ws, *g = sq + C, *t = g + C;
    for (size_t p = 0; p < pixels; p++, dx += C, dy += C, x += C) {
        for (size_t c = 0; c < C; c++) sq[c] = x[c] * x[c];
        /* s and its power as the forward (vmath_ref.c) computes them, window summed from 0. */
        for (size_t c = 0; c < C; c++) {
            size_t first = c > a->lo ? c - a->lo : 0;
            size_t last = c + a->hi < C ? c + a->hi : C - 1;
            float sum = 0.0f;
            for (size_t j = first; j <= last; j++) sum += sq[j];
            float s = a->bias + a->scale * sum;
            g[c] = dy[c] / powf(s, a->beta);
            t[c] = g[c] * x[c] / s;
        }
        for (size_t c = 0; c < C; c++) {
            size_t first = c > a->hi ? c - a->hi : 0;
            size_t last = c + a->lo < C ? c + a->lo : C - 1;
            float sum = 0.0f;
            for (size_t j = first; j <= last; j++) sum += t[j];
            dx[c] += g[c] - coef * (x[c] * sum);
        }
    }
}
