/*
 * kernels/vmath_neon.c: the activations, softmax rows and LRN on 4-float Advanced SIMD
 * vectors (aarch64), with SLEEF's 1-ULP AdvSIMD functions (Sleef_expf4_u10advsimd and
 * friends) for exp, tanh, erf, log and pow. Built only for aarch64.
 *
 * Each function follows the scalar reference (vmath_ref.c) operation for operation. FMAX and
 * FMIN order signed zeros (max(0, -0) = +0) where the reference's ternaries keep -0, so the
 * clamps are written as compare-and-select, which matches the reference exactly, NaNs
 * included. Tails go through the same vector code via a small stack buffer, so an element's
 * result never depends on its position. No threading, no argument checks: vmath.c does those.
 */
#include <arm_neon.h>
#include <math.h>
#include <sleef.h>
#include <string.h>

#include "vmath.h"

#define W 4

/* t < lo ? lo : t and t > hi ? hi : t, as the reference writes them. */
static inline float32x4_t floor_at(float32x4_t t, float32x4_t lo) {
    return vbslq_f32(vcltq_f32(t, lo), lo, t);
}
static inline float32x4_t ceil_at(float32x4_t t, float32x4_t hi) {
    return vbslq_f32(vcgtq_f32(t, hi), hi, t);
}

static inline float32x4_t sigmoid4(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    float32x4_t e = Sleef_expf4_u10advsimd(vnegq_f32(vabsq_f32(x))); /* exp(-|x|) */
    float32x4_t num = vbslq_f32(vcgeq_f32(x, vdupq_n_f32(0.0f)), one, e);
    return vdivq_f32(num, vaddq_f32(one, e));
}

/* x * h, and 0 where h is 0 (see the reference's gated()). */
static inline float32x4_t gated4(float32x4_t x, float32x4_t h) {
    uint32x4_t zero_gate = vceqq_f32(h, vdupq_n_f32(0.0f));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(vmulq_f32(x, h)), zero_gate));
}

static inline float32x4_t unary4(graft_unary kind, float32x4_t x, float32x4_t a, float32x4_t b) {
    const float32x4_t zero = vdupq_n_f32(0.0f), one = vdupq_n_f32(1.0f);
    const float32x4_t half = vdupq_n_f32(0.5f);
    float32x4_t t;
    switch (kind) {
    case GRAFT_UNARY_RELU:
        return floor_at(x, zero);
    case GRAFT_UNARY_CLIP:
        return ceil_at(floor_at(x, a), b);
    case GRAFT_UNARY_LEAKY_RELU:
        return vbslq_f32(vcltq_f32(x, zero), vmulq_f32(a, x), x);
    case GRAFT_UNARY_SIGMOID:
        return sigmoid4(x);
    case GRAFT_UNARY_TANH:
        return Sleef_tanhf4_u10advsimd(x);
    case GRAFT_UNARY_HARD_SIGMOID:
        t = vaddq_f32(vmulq_f32(a, x), b);
        return floor_at(ceil_at(t, one), zero);
    case GRAFT_UNARY_HARD_SWISH:
        t = vaddq_f32(vmulq_f32(x, vdupq_n_f32(1.0f / 6.0f)), half);
        return gated4(x, floor_at(ceil_at(t, one), zero));
    case GRAFT_UNARY_SILU:
        return gated4(x, sigmoid4(x));
    case GRAFT_UNARY_GELU:
        t = Sleef_erff4_u10advsimd(vmulq_f32(x, vdupq_n_f32(GRAFT__SQRT1_2)));
        return gated4(x, vmulq_f32(half, vaddq_f32(one, t)));
    case GRAFT_UNARY_GELU_TANH:
        t = vmulq_f32(vdupq_n_f32(GRAFT__GELU_TANH_C1), vmulq_f32(x, x));
        t = vmulq_f32(x, vaddq_f32(vdupq_n_f32(GRAFT__GELU_TANH_C0), t));
        return gated4(x, vmulq_f32(half, vaddq_f32(one, Sleef_tanhf4_u10advsimd(t))));
    case GRAFT_UNARY_EXP:
        return Sleef_expf4_u10advsimd(x);
    case GRAFT_UNARY_LOG:
        return Sleef_logf4_u10advsimd(x);
    case GRAFT_UNARY_ABS:
        return vabsq_f32(x);
    case GRAFT_UNARY_SQRT:
        return vsqrtq_f32(x);
    case GRAFT_UNARY_SIGN:
        t = vsubq_f32(vbslq_f32(vcgtq_f32(x, zero), one, zero),
                      vbslq_f32(vcltq_f32(x, zero), one, zero));
        return vbslq_f32(vceqq_f32(x, x), t, x); /* NaN stays */
    case GRAFT_UNARY_COUNT:
        break;
    }
    return x; /* unreachable: vmath.c checked the kind */
}

/* A tail of rem < W floats as a vector, the unused lanes filled with `fill`. */
static inline float32x4_t load_tail(const float *x, size_t rem, float fill) {
    float buf[W] = {fill, fill, fill, fill};
    memcpy(buf, x, rem * sizeof(float));
    return vld1q_f32(buf);
}
static inline void store_tail(float *y, size_t rem, float32x4_t v) {
    float buf[W];
    vst1q_f32(buf, v);
    memcpy(y, buf, rem * sizeof(float));
}

/* One loop per kind, so the loop body carries no branch. */
#define UNARY_LOOP(KIND)                                                                       \
    do {                                                                                       \
        for (; i + W <= n; i += W) vst1q_f32(y + i, unary4(KIND, vld1q_f32(x + i), a, b));     \
        if (i < n) store_tail(y + i, n - i, unary4(KIND, load_tail(x + i, n - i, 0.0f), a, b)); \
    } while (0)

void graft_vmath_unary_neon(const graft_unary_op *op, float *y, const float *x, size_t n) {
    const float32x4_t a = vdupq_n_f32(op->alpha), b = vdupq_n_f32(op->beta);
    size_t i = 0;
    switch (op->kind) {
    case GRAFT_UNARY_RELU: UNARY_LOOP(GRAFT_UNARY_RELU); break;
    case GRAFT_UNARY_CLIP: UNARY_LOOP(GRAFT_UNARY_CLIP); break;
    case GRAFT_UNARY_LEAKY_RELU: UNARY_LOOP(GRAFT_UNARY_LEAKY_RELU); break;
    case GRAFT_UNARY_SIGMOID: UNARY_LOOP(GRAFT_UNARY_SIGMOID); break;
    case GRAFT_UNARY_TANH: UNARY_LOOP(GRAFT_UNARY_TANH); break;
    case GRAFT_UNARY_HARD_SIGMOID: UNARY_LOOP(GRAFT_UNARY_HARD_SIGMOID); break;
    case GRAFT_UNARY_HARD_SWISH: UNARY_LOOP(GRAFT_UNARY_HARD_SWISH); break;
    case GRAFT_UNARY_SILU: UNARY_LOOP(GRAFT_UNARY_SILU); break;
    case GRAFT_UNARY_GELU: UNARY_LOOP(GRAFT_UNARY_GELU); break;
    case GRAFT_UNARY_GELU_TANH: UNARY_LOOP(GRAFT_UNARY_GELU_TANH); break;
    case GRAFT_UNARY_EXP: UNARY_LOOP(GRAFT_UNARY_EXP); break;
    case GRAFT_UNARY_LOG: UNARY_LOOP(GRAFT_UNARY_LOG); break;
    case GRAFT_UNARY_ABS: UNARY_LOOP(GRAFT_UNARY_ABS); break;
    case GRAFT_UNARY_SQRT: UNARY_LOOP(GRAFT_UNARY_SQRT); break;
    case GRAFT_UNARY_SIGN: UNARY_LOOP(GRAFT_UNARY_SIGN); break;
    case GRAFT_UNARY_COUNT: break;
    }
}

/* FMAX propagates NaN, so a row holding one returns NaN (vmath.h allows either). */
float graft_vmath_row_max_neon(const float *x, size_t D) {
    float32x4_t acc = vdupq_n_f32(-INFINITY);
    size_t i = 0;
    for (; i + W <= D; i += W) acc = vmaxq_f32(acc, vld1q_f32(x + i));
    if (i < D) acc = vmaxq_f32(acc, load_tail(x + i, D - i, -INFINITY));
    return vmaxvq_f32(acc);
}

void graft_vmath_softmax_row_neon(float *y, const float *x, size_t D, float max,
                                  int log_softmax) {
    const float32x4_t vmax = vdupq_n_f32(max);
    float32x4_t acc = vdupq_n_f32(0.0f);
    size_t i = 0;
    /* y is written only for softmax: log-softmax reads x again, and y may be x. */
    for (; i + W <= D; i += W) {
        float32x4_t e = Sleef_expf4_u10advsimd(vsubq_f32(vld1q_f32(x + i), vmax));
        if (!log_softmax) vst1q_f32(y + i, e);
        acc = vaddq_f32(acc, e);
    }
    if (i < D) {
        /* Unused lanes hold -inf, whose exp is 0: they add nothing to the sum. */
        float32x4_t e = Sleef_expf4_u10advsimd(vsubq_f32(load_tail(x + i, D - i, -INFINITY),
                                                         vmax));
        if (!log_softmax) store_tail(y + i, D - i, e);
        acc = vaddq_f32(acc, e);
    }
    const float32x4_t sum = vdupq_n_f32(vaddvq_f32(acc));
    if (log_softmax) {
        const float32x4_t log_sum = Sleef_logf4_u10advsimd(sum);
        for (i = 0; i + W <= D; i += W)
            vst1q_f32(y + i, vsubq_f32(vsubq_f32(vld1q_f32(x + i), vmax), log_sum));
        if (i < D)
            store_tail(y + i, D - i,
                       vsubq_f32(vsubq_f32(load_tail(x + i, D - i, 0.0f), vmax), log_sum));
        return;
    }
    for (i = 0; i + W <= D; i += W) vst1q_f32(y + i, vdivq_f32(vld1q_f32(y + i), sum));
    if (i < D) store_tail(y + i, D - i, vdivq_f32(load_tail(y + i, D - i, 0.0f), sum));
}

/*
 * sq holds each pixel's squares between lo and hi zeros (vmath.h), so channel c's window is
 * sq[c .. c + lo + hi] for every c and a vector of channels sums lo + hi + 1 shifted loads.
 * The slack after the row is zeroed once so that the tail's unused lanes read zeros.
 */
void graft_vmath_lrn_neon(float *y, const float *x, size_t pixels, size_t C,
                          const graft__lrn_args *a, float *sq) {
    const size_t taps = a->lo + a->hi + 1;
    const float32x4_t scale = vdupq_n_f32(a->scale), beta = vdupq_n_f32(a->beta);
    const float32x4_t bias = vdupq_n_f32(a->bias);
    float *row = sq + a->lo;
    for (size_t j = 0; j < a->lo; j++) sq[j] = 0.0f;
    for (size_t j = 0; j < a->hi + GRAFT__LRN_SLACK; j++) row[C + j] = 0.0f;
    for (size_t p = 0; p < pixels; p++, x += C, y += C) {
        size_t c = 0;
        for (; c + W <= C; c += W) {
            float32x4_t v = vld1q_f32(x + c);
            vst1q_f32(row + c, vmulq_f32(v, v));
        }
        for (; c < C; c++) row[c] = x[c] * x[c];
        for (c = 0; c < C; c += W) {
            float32x4_t sum = vdupq_n_f32(0.0f);
            for (size_t j = 0; j < taps; j++) sum = vaddq_f32(sum, vld1q_f32(sq + c + j));
            float32x4_t den = Sleef_powf4_u10advsimd(vfmaq_f32(bias, scale, sum), beta);
            if (c + W <= C)
                vst1q_f32(y + c, vdivq_f32(vld1q_f32(x + c), den));
            else
                store_tail(y + c, C - c, vdivq_f32(load_tail(x + c, C - c, 0.0f), den));
        }
    }
}
