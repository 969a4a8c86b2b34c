/*
 * kernels/winograd_neon.c: the NEON F(4x4, 3x3) transforms, 4 channels per vector and the
 * channel tail through a zero-padded copy. The arithmetic is in winograd_body.h.
 */
#include <arm_neon.h>
#include <string.h>

#include "winograd.h"

static inline __attribute__((always_inline)) float32x4_t act4(graft_act act, float32x4_t v) {
    if (act == GRAFT_ACT_NONE) return v;
    v = vmaxq_f32(v, vdupq_n_f32(0.0f));
    return act == GRAFT_ACT_RELU6 ? vminq_f32(v, vdupq_n_f32(6.0f)) : v;
}

static inline __attribute__((always_inline)) float32x4_t load4_n(const float *p, int n) {
    float t[4] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return vld1q_f32(t);
}

static inline __attribute__((always_inline)) void store4_n(float *p, float32x4_t v, int n) {
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, sizeof(float) * (size_t)n);
}

#define WINO_VEC float32x4_t
#define WINO_LANES 4
#define WINO_LOAD(p) vld1q_f32(p)
#define WINO_STORE(p, v) vst1q_f32((p), (v))
#define WINO_LOAD_N(p, n) load4_n((p), (n))
#define WINO_STORE_N(p, v, n) store4_n((p), (v), (n))
#define WINO_ZERO() vdupq_n_f32(0.0f)
#define WINO_SET1(x) vdupq_n_f32(x)
#define WINO_ADD(a, b) vaddq_f32((a), (b))
#define WINO_SUB(a, b) vsubq_f32((a), (b))
#define WINO_FMA(a, b, c) vfmaq_f32((c), (a), (b))
#define WINO_ACT(act, v) act4((act), (v))
#define WINO_INPUT_FN graft_wino_f4_input_neon
#define WINO_OUTPUT_FN graft_wino_f4_output_neon
#include "winograd_body.h"
