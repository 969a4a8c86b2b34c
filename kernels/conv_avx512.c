/*
 * kernels/conv_avx512.c: the AVX-512 depthwise convolution row (NHWC). Channels are the
 * vector dimension, 16 at a time (a masked block for the tail). For each block of channels the
 * row of output pixels is swept with the valid taps of each pixel precomputed, so padding costs
 * no per-element test; 3x3 and 5x5 kernels get bodies with the tap loops fully unrolled.
 */
#include <immintrin.h>

#include "conv.h"

static inline __attribute__((always_inline)) __m512 act16(graft_act act, __m512 v) {
    if (act == GRAFT_ACT_NONE) return v;
    v = _mm512_max_ps(v, _mm512_setzero_ps());
    return act == GRAFT_ACT_RELU6 ? _mm512_min_ps(v, _mm512_set1_ps(6.0f)) : v;
}

/*
 * One block of (at most 16) channels at offset c, over the whole output row. KH_/KW_ are
 * compile-time tap counts (0 = take them from a).
 */
static inline __attribute__((always_inline)) void row_block(const int KH_, const int KW_,
                                                             float *restrict y, int oh, int c,
                                                             __mmask16 m,
                                                             const graft__dw_args *a) {
    const int KH = KH_ ? KH_ : a->KH, KW = KW_ ? KW_ : a->KW, C = a->C;
    const int ih0 = oh * a->SH - a->pad_t;
    int kh_lo, kh_hi;
    graft__tap_range(ih0, a->DH, KH, a->H, &kh_lo, &kh_hi);
    const __m512 b = a->bias ? _mm512_maskz_loadu_ps(m, a->bias + c) : _mm512_setzero_ps();
    const float *xc = a->x + c, *wc = a->w + c;
    for (int ow = 0; ow < a->OW; ow++) {
        int iw0 = ow * a->SW - a->pad_l, kw_lo, kw_hi;
        graft__tap_range(iw0, a->DW, KW, a->W, &kw_lo, &kw_hi);
        __m512 acc = b;
#pragma GCC unroll 5
        for (int kh = 0; kh < KH; kh++) {
            if (kh < kh_lo || kh >= kh_hi) continue;
            const float *xr = xc + (size_t)(ih0 + kh * a->DH) * a->W * C;
            const float *wr = wc + (size_t)kh * KW * C;
#pragma GCC unroll 5
            for (int kw = 0; kw < KW; kw++) {
                if (kw < kw_lo || kw >= kw_hi) continue;
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xr + (size_t)(iw0 + kw * a->DW) * C),
                                      _mm512_maskz_loadu_ps(m, wr + (size_t)kw * C), acc);
            }
        }
        _mm512_mask_storeu_ps(y + (size_t)ow * C + c, m, act16(a->act, acc));
    }
}

void graft_dwconv_row_avx512(float *restrict y, int oh, const graft__dw_args *a) {
    for (int c = 0; c < a->C; c += 16) {
        int left = a->C - c;
        __mmask16 m = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
        if (a->KH == 3 && a->KW == 3)
            row_block(3, 3, y, oh, c, m, a);
        else if (a->KH == 5 && a->KW == 5)
            row_block(5, 5, y, oh, c, m, a);
        else
            row_block(0, 0, y, oh, c, m, a);
    }
}
