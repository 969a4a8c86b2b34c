/*
 * kernels/act_grad_neon.c: the activation gradients on 4-float Advanced SIMD vectors
 * (aarch64), with SLEEF's 1-ULP AdvSIMD exp, tanh and erf for SILU, GELU and GELU_TANH. Built
 * only for aarch64.
 *
 * Each kind follows the scalar reference (act_grad_ref.c) operation for operation, its
 * compares written as the reference's (ordered compare-and-select, so a NaN x takes the same
 * branch). The compiler may fuse a product with the add into dx, in this file as in the
 * reference, so the two agree within an ulp or so. Tails go through the same vector code via
 * small stack buffers. No threading, no argument checks: act_grad.c does those.
 */
#include <arm_neon.h>
#include <sleef.h>
#include <string.h>

#include "grad.h"
#include "vmath.h"

#define W 4

static inline float32x4_t sigmoid4(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    float32x4_t e = Sleef_expf4_u10advsimd(vnegq_f32(vabsq_f32(x))); /* exp(-|x|) */
    float32x4_t num = vbslq_f32(vcgeq_f32(x, vdupq_n_f32(0.0f)), one, e);
    return vdivq_f32(num, vaddq_f32(one, e));
}

/* x * h, and 0 where h is 0 (the reference's gated()). */
static inline float32x4_t gated4(float32x4_t x, float32x4_t h) {
    uint32x4_t zero_gate = vceqq_f32(h, vdupq_n_f32(0.0f));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(vmulq_f32(x, h)), zero_gate));
}

/* v where keep is set, else +0. */
static inline float32x4_t keep_or_zero(uint32x4_t keep, float32x4_t v) {
    return vreinterpretq_f32_u32(vandq_u32(keep, vreinterpretq_u32_f32(v)));
}

#define SET1 vdupq_n_f32

/* dy * f'(x), the term added to dx. */
static inline float32x4_t grad4(graft_unary kind, float32x4_t dy, float32x4_t x, float32x4_t y,
                                float32x4_t a, float32x4_t b) {
    const float32x4_t zero = SET1(0.0f), one = SET1(1.0f), half = SET1(0.5f);
    float32x4_t s, t, u;
    switch (kind) {
    case GRAFT_UNARY_RELU:
        return vbslq_f32(vcleq_f32(x, zero), zero, dy);
    case GRAFT_UNARY_CLIP:
        return vbslq_f32(vorrq_u32(vcleq_f32(x, a), vcgeq_f32(x, b)), zero, dy);
    case GRAFT_UNARY_LEAKY_RELU:
        return vbslq_f32(vcgtq_f32(x, zero), dy, vmulq_f32(dy, a));
    case GRAFT_UNARY_SIGMOID:
        return vmulq_f32(vmulq_f32(dy, vsubq_f32(one, y)), y);
    case GRAFT_UNARY_TANH:
        return vmulq_f32(dy, vsubq_f32(one, vmulq_f32(y, y)));
    case GRAFT_UNARY_HARD_SIGMOID:
        t = vaddq_f32(vmulq_f32(a, x), b);
        return keep_or_zero(vandq_u32(vcgtq_f32(t, zero), vcltq_f32(t, one)), vmulq_f32(dy, a));
    case GRAFT_UNARY_HARD_SWISH:
        t = vmulq_f32(dy, vaddq_f32(vdivq_f32(x, SET1(3.0f)), half));
        t = vbslq_f32(vcleq_f32(x, SET1(3.0f)), t, dy);
        return vbslq_f32(vcltq_f32(x, SET1(-3.0f)), zero, t);
    case GRAFT_UNARY_SILU:
        s = sigmoid4(x);
        return vmulq_f32(dy, gated4(vaddq_f32(one, gated4(x, vsubq_f32(one, s))), s));
    case GRAFT_UNARY_GELU:
        s = Sleef_erff4_u10advsimd(vmulq_f32(x, SET1(GRAFT__SQRT1_2)));
        s = vmulq_f32(half, vaddq_f32(one, s));
        t = Sleef_expf4_u10advsimd(vmulq_f32(vmulq_f32(SET1(-0.5f), x), x));
        t = vmulq_f32(SET1(GRAFT__INV_SQRT_2PI), t);
        return vmulq_f32(dy, vaddq_f32(s, gated4(x, t)));
    case GRAFT_UNARY_GELU_TANH:
        u = vmulq_f32(vmulq_f32(SET1(GRAFT__GELU_TANH_C1), x), x);
        t = Sleef_tanhf4_u10advsimd(vmulq_f32(x, vaddq_f32(SET1(GRAFT__GELU_TANH_C0), u)));
        s = vsubq_f32(one, vmulq_f32(t, t));
        u = vmulq_f32(vmulq_f32(SET1(GRAFT__GELU_TANH_3C1), x), x);
        u = vmulq_f32(vmulq_f32(half, x), vaddq_f32(SET1(GRAFT__GELU_TANH_C0), u));
        u = gated4(u, s);
        return vmulq_f32(dy, vaddq_f32(vmulq_f32(half, vaddq_f32(one, t)), u));
    case GRAFT_UNARY_EXP:
        return vmulq_f32(dy, y);
    case GRAFT_UNARY_LOG:
        return vdivq_f32(dy, x);
    case GRAFT_UNARY_ABS:
        t = vbslq_f32(vcltq_f32(x, zero), vnegq_f32(dy), zero);
        return vbslq_f32(vcgtq_f32(x, zero), dy, t);
    case GRAFT_UNARY_SQRT:
        return vdivq_f32(dy, vmulq_f32(SET1(2.0f), y));
    case GRAFT_UNARY_SIGN:
    case GRAFT_UNARY_COUNT:
        break;
    }
    return zero;
}

static inline float32x4_t load_tail(const float *p, size_t rem) {
    float buf[W] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(buf, p, rem * sizeof(float));
    return vld1q_f32(buf);
}
static inline void store_tail(float *p, size_t rem, float32x4_t v) {
    float buf[W];
    vst1q_f32(buf, v);
    memcpy(p, buf, rem * sizeof(float));
}

/* One loop per kind, so that the switch in grad4 folds away; y is loaded only when read. */
#define GRAD_LOOP(KIND)                                                                        \
    do {                                                                                       \
        const int ny = graft__unary_grad_needs_y(KIND);                                        \
        for (; i + W <= n; i += W) {                                                           \
            float32x4_t yv = ny ? vld1q_f32(y + i) : vdupq_n_f32(0.0f);                        \
            float32x4_t g = grad4(KIND, vld1q_f32(dy + i), vld1q_f32(x + i), yv, a, b);        \
            vst1q_f32(dx + i, vaddq_f32(vld1q_f32(dx + i), g));                                \
        }                                                                                      \
        if (i < n) {                                                                           \
            size_t r = n - i;                                                                  \
            float32x4_t yv = ny ? load_tail(y + i, r) : vdupq_n_f32(0.0f);                     \
            float32x4_t g = grad4(KIND, load_tail(dy + i, r), load_tail(x + i, r), yv, a, b);  \
            store_tail(dx + i, r, vaddq_f32(load_tail(dx + i, r), g));                         \
        }                                                                                      \
    } while (0)

void graft__unary_grad_neon(const graft_unary_op *op, float *restrict dx,
                            const float *restrict dy, const float *restrict x,
                            const float *restrict y, size_t n) {
    const float32x4_t a = vdupq_n_f32(op->alpha), b = vdupq_n_f32(op->beta);
    size_t i = 0;
    switch (op->kind) {
    case GRAFT_UNARY_RELU: GRAD_LOOP(GRAFT_UNARY_RELU); break;
    case GRAFT_UNARY_CLIP: GRAD_LOOP(GRAFT_UNARY_CLIP); break;
    case GRAFT_UNARY_LEAKY_RELU: GRAD_LOOP(GRAFT_UNARY_LEAKY_RELU); break;
    case GRAFT_UNARY_SIGMOID: GRAD_LOOP(GRAFT_UNARY_SIGMOID); break;
    case GRAFT_UNARY_TANH: GRAD_LOOP(GRAFT_UNARY_TANH); break;
    case GRAFT_UNARY_HARD_SIGMOID: GRAD_LOOP(GRAFT_UNARY_HARD_SIGMOID); break;
    case GRAFT_UNARY_HARD_SWISH: GRAD_LOOP(GRAFT_UNARY_HARD_SWISH); break;
    case GRAFT_UNARY_SILU: GRAD_LOOP(GRAFT_UNARY_SILU); break;
    case GRAFT_UNARY_GELU: GRAD_LOOP(GRAFT_UNARY_GELU); break;
    case GRAFT_UNARY_GELU_TANH: GRAD_LOOP(GRAFT_UNARY_GELU_TANH); break;
    case GRAFT_UNARY_EXP: GRAD_LOOP(GRAFT_UNARY_EXP); break;
    case GRAFT_UNARY_LOG: GRAD_LOOP(GRAFT_UNARY_LOG); break;
    case GRAFT_UNARY_ABS: GRAD_LOOP(GRAFT_UNARY_ABS); break;
    case GRAFT_UNARY_SQRT: GRAD_LOOP(GRAFT_UNARY_SQRT); break;
    case GRAFT_UNARY_SIGN: /* zero almost everywhere: nothing to add */
    case GRAFT_UNARY_COUNT: break;
    }
}
