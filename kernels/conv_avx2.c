/*
 * kernels/conv_avx2.c: the AVX2 depthwise convolution row (NHWC), the scheme of
 * conv_avx512.c with 8 channels per vector. The channel tail goes through a zero-padded copy of
 * the block instead of masked loads, which are slow on AMD cores.
 */
#include <immintrin.h>
#include <string.h>

#include "conv.h"

static inline __attribute__((always_inline)) __m256 act8(graft_act act, __m256 v) {
    if (act == GRAFT_ACT_NONE) return v;
    v = _mm256_max_ps(v, _mm256_setzero_ps());
    return act == GRAFT_ACT_RELU6 ? _mm256_min_ps(v, _mm256_set1_ps(6.0f)) : v;
}

/* Loads 8 floats, or the first n of them and zeros (n < 8: the channel tail). */
static inline __attribute__((always_inline)) __m256 load8(const float *p, int n) {
    if (n >= 8) return _mm256_loadu_ps(p);
    float t[8] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return _mm256_loadu_ps(t);
}

static inline __attribute__((always_inline)) void row_block(const int KH_, const int KW_,
                                                             float *restrict y, int oh, int c,
                                                             int n, const graft__dw_args *a) {
    const int KH = KH_ ? KH_ : a->KH, KW = KW_ ? KW_ : a->KW, C = a->C;
    const int ih0 = oh * a->SH - a->pad_t;
    int kh_lo, kh_hi;
    graft__tap_range(ih0, a->DH, KH, a->H, &kh_lo, &kh_hi);
    const __m256 b = a->bias ? load8(a->bias + c, n) : _mm256_setzero_ps();
    const float *xc = a->x + c, *wc = a->w + c;
    for (int ow = 0; ow < a->OW; ow++) {
        int iw0 = ow * a->SW - a->pad_l, kw_lo, kw_hi;
        graft__tap_range(iw0, a->DW, KW, a->W, &kw_lo, &kw_hi);
        __m256 acc = b;
#pragma GCC unroll 5
        for (int kh = 0; kh < KH; kh++) {
            if (kh < kh_lo || kh >= kh_hi) continue;
            const float *xr = xc + (size_t)(ih0 + kh * a->DH) * a->W * C;
            const float *wr = wc + (size_t)kh * KW * C;
#pragma GCC unroll 5
            for (int kw = 0; kw < KW; kw++) {
                if (kw < kw_lo || kw >= kw_hi) continue;
                acc = _mm256_fmadd_ps(load8(xr + (size_t)(iw0 + kw * a->DW) * C, n),
                                      load8(wr + (size_t)kw * C, n), acc);
            }
        }
        acc = act8(a->act, acc);
        if (n >= 8) {
            _mm256_storeu_ps(y + (size_t)ow * C + c, acc);
        } else {
            float t[8];
            _mm256_storeu_ps(t, acc);
            memcpy(y + (size_t)ow * C + c, t, sizeof(float) * (size_t)n);
        }
    }
}

void graft_dwconv_row_avx2(float *restrict y, int oh, const graft__dw_args *a) {
    for (int c = 0; c < a->C; c += 8) {
        int n = a->C - c;
        if (a->KH == 3 && a->KW == 3)
            row_block(3, 3, y, oh, c, n, a);
        else if (a->KH == 5 && a->KW == 5)
            row_block(5, 5, y, oh, c, n, a);
        else
            row_block(0, 0, y, oh, c, n, a);
    }
}
