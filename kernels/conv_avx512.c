/*
 * kernels/conv_avx512.c: the AVX-512 depthwise convolution row, 16 channels per vector and a
 * masked vector for the channel tail. The loops are in conv_dw_body.h,
 * and those of the direct rows (few input channels) in conv_direct_body.h.
 */
#include <immintrin.h>

#include <stdint.h>

#include "conv.h"

static inline __attribute__((always_inline)) __m512 act16(graft_act act, __m512 v) {
    if (act == GRAFT_ACT_NONE) return v;
    v = _mm512_max_ps(v, _mm512_setzero_ps());
    return act == GRAFT_ACT_RELU6 ? _mm512_min_ps(v, _mm512_set1_ps(6.0f)) : v;
}

#define DW_VEC __m512
#define DW_LANES 16
#define DW_MASK __mmask16
#define DW_MASK_FOR(n) \
    ((n) >= 16 ? (__mmask16)0xffff : (n) <= 0 ? (__mmask16)0 : (__mmask16)((1u << (n)) - 1))
#define DW_LOAD(p, m) _mm512_maskz_loadu_ps((m), (p))
#define DW_STORE(p, v, m) _mm512_mask_storeu_ps((p), (m), (v))
#define DW_ZERO() _mm512_setzero_ps()
#define DW_FMA(x, w, acc) _mm512_fmadd_ps((x), (w), (acc))
#define DW_ACT(act, v) act16((act), (v))
#define DW_ROW_FN graft_dwconv_row_avx512
#include "conv_dw_body.h"
#define DW_SET1(f) _mm512_set1_ps(f)
#define DIRECT_P 12
#define DIRECT_CV4 1
#define DIRECT_ROW_FN graft_direct_row_avx512
#include "conv_direct_body.h"
