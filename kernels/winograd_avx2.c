/*
 * kernels/winograd_avx2.c: the AVX2 F(4x4, 3x3) transforms, 8 channels per vector. The channel
 * tail goes through a zero-padded copy, since masked loads and stores are slow on AMD cores.
 * The arithmetic is in winograd_body.h.
 */
#include <immintrin.h>
#include <string.h>

#include "winograd.h"

static inline __attribute__((always_inline)) __m256 act8(graft_act act, __m256 v) {
    if (act == GRAFT_ACT_NONE) return v;
    v = _mm256_max_ps(v, _mm256_setzero_ps());
    return act == GRAFT_ACT_RELU6 ? _mm256_min_ps(v, _mm256_set1_ps(6.0f)) : v;
}

static inline __attribute__((always_inline)) __m256 load8_n(const float *p, int n) {
    float t[8] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return _mm256_loadu_ps(t);
}

static inline __attribute__((always_inline)) void store8_n(float *p, __m256 v, int n) {
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(p, t, sizeof(float) * (size_t)n);
}

#define WINO_VEC __m256
#define WINO_LANES 8
#define WINO_LOAD(p) _mm256_loadu_ps(p)
#define WINO_STORE(p, v) _mm256_storeu_ps((p), (v))
#define WINO_LOAD_N(p, n) load8_n((p), (n))
#define WINO_STORE_N(p, v, n) store8_n((p), (v), (n))
#define WINO_ZERO() _mm256_setzero_ps()
#define WINO_SET1(x) _mm256_set1_ps(x)
#define WINO_ADD(a, b) _mm256_add_ps((a), (b))
#define WINO_SUB(a, b) _mm256_sub_ps((a), (b))
#define WINO_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define WINO_ACT(act, v) act8((act), (v))
#define WINO_INPUT_FN graft_wino_f4_input_avx2
#define WINO_OUTPUT_FN graft_wino_f4_output_avx2
#include "winograd_body.h"
