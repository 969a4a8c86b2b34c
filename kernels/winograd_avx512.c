/*
 * kernels/winograd_avx512.c: the AVX-512 F(4x4, 3x3) transforms, 16 channels per vector and a
 * masked vector for the channel tail. The arithmetic is in winograd_body.h.
 */
#include <immintrin.h>

#include "winograd.h"

static inline __attribute__((always_inline)) __m512 act16(graft_act act, __m512 v) {
    if (act == GRAFT_ACT_NONE) return v;
    v = _mm512_max_ps(v, _mm512_setzero_ps());
    return act == GRAFT_ACT_RELU6 ? _mm512_min_ps(v, _mm512_set1_ps(6.0f)) : v;
}

#define WINO_VEC __m512
#define WINO_LANES 16
#define WINO_MASK(n) ((__mmask16)((1u << (n)) - 1))
#define WINO_LOAD(p) _mm512_loadu_ps(p)
#define WINO_STORE(p, v) _mm512_storeu_ps((p), (v))
#define WINO_LOAD_N(p, n) _mm512_maskz_loadu_ps(WINO_MASK(n), (p))
#define WINO_STORE_N(p, v, n) _mm512_mask_storeu_ps((p), WINO_MASK(n), (v))
#define WINO_ZERO() _mm512_setzero_ps()
#define WINO_SET1(x) _mm512_set1_ps(x)
#define WINO_ADD(a, b) _mm512_add_ps((a), (b))
#define WINO_SUB(a, b) _mm512_sub_ps((a), (b))
#define WINO_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define WINO_ACT(act, v) act16((act), (v))
#define WINO_INPUT_FN graft_wino_f4_input_avx512
#define WINO_OUTPUT_FN graft_wino_f4_output_avx512
#include "winograd_body.h"
