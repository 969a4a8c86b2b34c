/*
 * kernels/conv_avx2.c: the AVX2 depthwise convolution row, 8 channels per vector. The channel
 * tail goes through a zero-padded copy, since masked loads are slow on AMD cores. The loops
 * are in conv_dw_body.h, and those of the direct rows (few input channels) in
 * conv_direct_body.h.
 */
#include <immintrin.h>
#include <string.h>

#include <stdint.h>

#include "conv.h"

static inline __attribute__((always_inline)) __m256 act8(graft_act act, __m256 v) {
    if (act == GRAFT_ACT_NONE) return v;
    v = _mm256_max_ps(v, _mm256_setzero_ps());
    return act == GRAFT_ACT_RELU6 ? _mm256_min_ps(v, _mm256_set1_ps(6.0f)) : v;
}

/* Loads 8 floats, or the first n of them and zeros (n < 8: the channel tail). */
static inline __attribute__((always_inline)) __m256 load8(const float *p, int n) {
    if (n >= 8) return _mm256_loadu_ps(p);
    if (n <= 0) return _mm256_setzero_ps(); /* a vector wholly past the channels */
    float t[8] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return _mm256_loadu_ps(t);
}

static inline __attribute__((always_inline)) void store8(float *p, __m256 v, int n) {
    if (n >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    if (n <= 0) return; /* a vector wholly past the channels */
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(p, t, sizeof(float) * (size_t)n);
}

#define DW_VEC __m256
#define DW_LANES 8
#define DW_MASK int
#define DW_MASK_FOR(n) (n)
#define DW_LOAD(p, m) load8((p), (m))
#define DW_STORE(p, v, m) store8((p), (v), (m))
#define DW_ZERO() _mm256_setzero_ps()
#define DW_FMA(x, w, acc) _mm256_fmadd_ps((x), (w), (acc))
#define DW_ACT(act, v) act8((act), (v))
#define DW_ROW_FN graft_dwconv_row_avx2
#include "conv_dw_body.h"
#define DW_SET1(f) _mm256_set1_ps(f)
#define DIRECT_P 6
#define DIRECT_CV4 0
#define DIRECT_ROW_FN graft_direct_row_avx2
#include "conv_direct_body.h"
