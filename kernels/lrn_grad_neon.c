/*
 * kernels/lrn_grad_neon.c: the LRN backward pass on 4-float Advanced SIMD vectors (aarch64),
 * with SLEEF's 1-ULP AdvSIMD pow (the forward's, vmath_neon.c). Built only for aarch64.
 *
 * This file only names the Advanced SIMD operations; the kernel itself is lrn_grad_body.h,
 * shared with the other SIMD variants. Tails go through small stack buffers.
 */
#include <arm_neon.h>
#include <sleef.h>
#include <string.h>

#include "lrn_grad.h"

static inline float32x4_t load_tail(const float *p, size_t rem) {
    float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(buf, p, rem * sizeof(float));
    return vld1q_f32(buf);
}
static inline void store_tail(float *p, size_t rem, float32x4_t v) {
    float buf[4];
    vst1q_f32(buf, v);
    memcpy(p, buf, rem * sizeof(float));
}

#define LRNG_VEC float32x4_t
#define LRNG_LANES 4
#define LRNG_ZERO() vdupq_n_f32(0.0f)
#define LRNG_SET1(x) vdupq_n_f32(x)
#define LRNG_ADD(a, b) vaddq_f32((a), (b))
#define LRNG_SUB(a, b) vsubq_f32((a), (b))
#define LRNG_MUL(a, b) vmulq_f32((a), (b))
#define LRNG_DIV(a, b) vdivq_f32((a), (b))
#define LRNG_FMADD(a, b, c) vfmaq_f32((c), (a), (b))
#define LRNG_POW(b, e) Sleef_powf4_u10advsimd((b), (e))
#define LRNG_LOAD(p) vld1q_f32(p)
#define LRNG_STORE(p, v) vst1q_f32((p), (v))
#define LRNG_TAIL size_t
#define LRNG_TAIL_FOR(rem) (rem)
#define LRNG_LOAD_TAIL(p, t) load_tail((p), (t))
#define LRNG_STORE_TAIL(p, t, v) store_tail((p), (t), (v))
#define LRNG_FN graft__lrn_grad_neon
#include "lrn_grad_body.h"
