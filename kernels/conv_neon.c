/*
 * kernels/conv_neon.c: the NEON depthwise convolution row (NHWC), the scheme of conv_avx2.c
 * with 4 channels per vector and the channel tail through a zero-padded copy.
 */
#include <arm_neon.h>
#include <string.h>

#include "conv.h"

static inline __attribute__((always_inline)) float32x4_t act4(graft_act act, float32x4_t v) {
    if (act == GRAFT_ACT_NONE) return v;
    v = vmaxq_f32(v, vdupq_n_f32(0.0f));
    return act == GRAFT_ACT_RELU6 ? vminq_f32(v, vdupq_n_f32(6.0f)) : v;
}

static inline __attribute__((always_inline)) float32x4_t load4(const float *p, int n) {
    if (n >= 4) return vld1q_f32(p);
    float t[4] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return vld1q_f32(t);
}

static inline __attribute__((always_inline)) void row_block(const int KH_, const int KW_,
                                                             float *restrict y, int oh, int c,
                                                             int n, const graft__dw_args *a) {
    const int KH = KH_ ? KH_ : a->KH, KW = KW_ ? KW_ : a->KW, C = a->C;
    const int ih0 = oh * a->SH - a->pad_t;
    int kh_lo, kh_hi;
    graft__tap_range(ih0, a->DH, KH, a->H, &kh_lo, &kh_hi);
    const float32x4_t b = a->bias ? load4(a->bias + c, n) : vdupq_n_f32(0.0f);
    const float *xc = a->x + c, *wc = a->w + c;
    for (int ow = 0; ow < a->OW; ow++) {
        int iw0 = ow * a->SW - a->pad_l, kw_lo, kw_hi;
        graft__tap_range(iw0, a->DW, KW, a->W, &kw_lo, &kw_hi);
        float32x4_t acc = b;
#pragma GCC unroll 5
        for (int kh = 0; kh < KH; kh++) {
            if (kh < kh_lo || kh >= kh_hi) continue;
            const float *xr = xc + (size_t)(ih0 + kh * a->DH) * a->W * C;
            const float *wr = wc + (size_t)kh * KW * C;
#pragma GCC unroll 5
            for (int kw = 0; kw < KW; kw++) {
                if (kw < kw_lo || kw >= kw_hi) continue;
                acc = vfmaq_f32(acc, load4(xr + (size_t)(iw0 + kw * a->DW) * C, n),
                                load4(wr + (size_t)kw * C, n));
            }
        }
        acc = act4(a->act, acc);
        if (n >= 4) {
            vst1q_f32(y + (size_t)ow * C + c, acc);
        } else {
            float t[4];
            vst1q_f32(t, acc);
            memcpy(y + (size_t)ow * C + c, t, sizeof(float) * (size_t)n);
        }
    }
}

void graft_dwconv_row_neon(float *restrict y, int oh, const graft__dw_args *a) {
    for (int c = 0; c < a->C; c += 4) {
        int n = a->C - c;
        if (a->KH == 3 && a->KW == 3)
            row_block(3, 3, y, oh, c, n, a);
        else if (a->KH == 5 && a->KW == 5)
            row_block(5, 5, y, oh, c, n, a);
        else
            row_block(0, 0, y, oh, c, n, a);
    }
}
