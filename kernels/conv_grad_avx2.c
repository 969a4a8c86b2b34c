/*
 * kernels/conv_grad_avx2.c: the AVX2 depthwise convolution backward kernels, 8 channels per
 * vector. The channel tail goes through a zero-padded copy, since masked loads are slow on
 * AMD cores. The loops are in conv_grad_body.h.
 */
#include <immintrin.h>
#include <string.h>

#include "conv_grad.h"

/* Loads 8 floats, or the first n of them and zeros (n < 8: the channel tail). */
static inline __attribute__((always_inline)) __m256 load8(const float *p, int n) {
    if (n >= 8) return _mm256_loadu_ps(p);
    float t[8] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return _mm256_loadu_ps(t);
}

static inline __attribute__((always_inline)) void store8(float *p, __m256 v, int n) {
    if (n >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(p, t, sizeof(float) * (size_t)n);
}

#define DWG_VEC __m256
#define DWG_LANES 8
#define DWG_MASK int
#define DWG_MASK_FOR(n) (n)
#define DWG_LOAD(p, m) load8((p), (m))
#define DWG_STORE(p, v, m) store8((p), (v), (m))
#define DWG_LOADU(p) _mm256_loadu_ps(p)
#define DWG_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define DWG_ZERO() _mm256_setzero_ps()
#define DWG_FMA(a, b, acc) _mm256_fmadd_ps((a), (b), (acc))
#define DWG_ADD(a, b) _mm256_add_ps((a), (b))
#define DWG_DATA_FN graft_dwconv_grad_data_row_avx2
#define DWG_WEIGHT_FN graft_dwconv_grad_weight_avx2
#include "conv_grad_body.h"
