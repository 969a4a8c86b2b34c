/*
 * kernels/conv_neon.c: the NEON depthwise convolution row, 4 channels per vector and the
 * channel tail through a zero-padded copy. The loops are in conv_dw_body.h,
 * and those of the direct rows (few input channels) in conv_direct_body.h.
 */
#include <arm_neon.h>
#include <string.h>

#include <stdint.h>

#include "conv.h"

static inline __attribute__((always_inline)) float32x4_t act4(graft_act act, float32x4_t v) {
    if (act == GRAFT_ACT_NONE) return v;
    v = vmaxq_f32(v, vdupq_n_f32(0.0f));
    return act == GRAFT_ACT_RELU6 ? vminq_f32(v, vdupq_n_f32(6.0f)) : v;
}

/* Loads 4 floats, or the first n of them and zeros (n < 4: the channel tail). */
static inline __attribute__((always_inline)) float32x4_t load4(const float *p, int n) {
    if (n >= 4) return vld1q_f32(p);
    if (n <= 0) return vdupq_n_f32(0.0f); /* a vector wholly past the channels */
    float t[4] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return vld1q_f32(t);
}

static inline __attribute__((always_inline)) void store4(float *p, float32x4_t v, int n) {
    if (n >= 4) {
        vst1q_f32(p, v);
        return;
    }
    if (n <= 0) return; /* a vector wholly past the channels */
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, sizeof(float) * (size_t)n);
}

#define DW_VEC float32x4_t
#define DW_LANES 4
#define DW_MASK int
#define DW_MASK_FOR(n) (n)
#define DW_LOAD(p, m) load4((p), (m))
#define DW_STORE(p, v, m) store4((p), (v), (m))
#define DW_ZERO() vdupq_n_f32(0.0f)
#define DW_FMA(x, w, acc) vfmaq_f32((acc), (x), (w))
#define DW_ACT(act, v) act4((act), (v))
#define DW_ROW_FN graft_dwconv_row_neon
#include "conv_dw_body.h"
#define DW_SET1(f) vdupq_n_f32(f)
#define DIRECT_P 12
#define DIRECT_CV4 1
#define DIRECT_ROW_FN graft_direct_row_neon
#include "conv_direct_body.h"
