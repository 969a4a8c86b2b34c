/*
 * kernels/conv_grad_neon.c: the NEON depthwise convolution backward kernels, 4 channels per
 * vector and the channel tail through a zero-padded copy. The loops are in conv_grad_body.h.
 */
#include <arm_neon.h>
#include <string.h>

#include "conv_grad.h"

/* Loads 4 floats, or the first n of them and zeros (n < 4: the channel tail). */
static inline __attribute__((always_inline)) float32x4_t load4(const float *p, int n) {
    if (n >= 4) return vld1q_f32(p);
    float t[4] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return vld1q_f32(t);
}

static inline __attribute__((always_inline)) void store4(float *p, float32x4_t v, int n) {
    if (n >= 4) {
        vst1q_f32(p, v);
        return;
    }
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, sizeof(float) * (size_t)n);
}

#define DWG_VEC float32x4_t
#define DWG_LANES 4
#define DWG_MASK int
#define DWG_MASK_FOR(n) (n)
#define DWG_LOAD(p, m) load4((p), (m))
#define DWG_STORE(p, v, m) store4((p), (v), (m))
#define DWG_LOADU(p) vld1q_f32(p)
#define DWG_STOREU(p, v) vst1q_f32((p), (v))
#define DWG_ZERO() vdupq_n_f32(0.0f)
#define DWG_FMA(a, b, acc) vfmaq_f32((acc), (a), (b))
#define DWG_ADD(a, b) vaddq_f32((a), (b))
#define DWG_DATA_FN graft_dwconv_grad_data_row_neon
#define DWG_WEIGHT_FN graft_dwconv_grad_weight_neon
#include "conv_grad_body.h"
