/*
 * kernels/act_grad_neon.c: the activation gradients on 4-float Advanced SIMD vectors
 * (aarch64), with SLEEF's 1-ULP AdvSIMD exp, tanh and erf for SILU, GELU and GELU_TANH. Built
 * only for aarch64.
 *
 * This file only names the Advanced SIMD operations; the kernel itself is act_grad_body.h,
 * shared with the other SIMD variants. Compares yield all-ones lanes, selects are bit
 * selects, and tails go through small stack buffers.
 */
#include <arm_neon.h>
#include <sleef.h>
#include <string.h>

#include "grad.h"
#include "vmath.h"

static inline float32x4_t sigmoid4(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    float32x4_t e = Sleef_expf4_u10advsimd(vnegq_f32(vabsq_f32(x))); /* exp(-|x|) */
    float32x4_t num = vbslq_f32(vcgeq_f32(x, vdupq_n_f32(0.0f)), one, e);
    return vdivq_f32(num, vaddq_f32(one, e));
}

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

#define ACTG_VEC float32x4_t
#define ACTG_LANES 4
#define ACTG_LT(a, b) vcltq_f32((a), (b))
#define ACTG_LE(a, b) vcleq_f32((a), (b))
#define ACTG_GT(a, b) vcgtq_f32((a), (b))
#define ACTG_GE(a, b) vcgeq_f32((a), (b))
#define ACTG_EQ(a, b) vceqq_f32((a), (b))
#define ACTG_OR(c, d) vorrq_u32((c), (d))
#define ACTG_AND(c, d) vandq_u32((c), (d))
#define ACTG_SELECT(c, a, b) vbslq_f32((c), (a), (b))
#define ACTG_ZERO() vdupq_n_f32(0.0f)
#define ACTG_SET1(x) vdupq_n_f32(x)
#define ACTG_ADD(a, b) vaddq_f32((a), (b))
#define ACTG_SUB(a, b) vsubq_f32((a), (b))
#define ACTG_MUL(a, b) vmulq_f32((a), (b))
#define ACTG_DIV(a, b) vdivq_f32((a), (b))
#define ACTG_NEG(a) vnegq_f32(a)
#define ACTG_SIGMOID(v) sigmoid4(v)
#define ACTG_EXP(v) Sleef_expf4_u10advsimd(v)
#define ACTG_ERF(v) Sleef_erff4_u10advsimd(v)
#define ACTG_TANH(v) Sleef_tanhf4_u10advsimd(v)
#define ACTG_LOAD(p) vld1q_f32(p)
#define ACTG_STORE(p, v) vst1q_f32((p), (v))
#define ACTG_TAIL size_t
#define ACTG_TAIL_FOR(rem) (rem)
#define ACTG_LOAD_TAIL(p, t) load_tail((p), (t))
#define ACTG_STORE_TAIL(p, t, v) store_tail((p), (t), (v))
#define ACTG_FN graft__unary_grad_neon
#include "act_grad_body.h"
