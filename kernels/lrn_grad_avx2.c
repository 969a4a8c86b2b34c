/*
 * kernels/lrn_grad_avx2.c: the LRN backward pass on 8-float AVX2 vectors, with SLEEF's 1-ULP
 * AVX2 pow (the forward's, vmath_avx2.c). Compiled with -mavx2 -mfma and called only when the
 * dispatcher chose AVX2.
 *
 * This file only names the AVX2 operations; the kernel itself is lrn_grad_body.h, shared with
 * the other SIMD variants. Tails use masked loads and stores.
 */
#include <immintrin.h>
#include <sleef.h>

#include "lrn_grad.h"

static inline __m256i tail_mask(size_t rem) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define LRNG_VEC __m256
#define LRNG_LANES 8
#define LRNG_ZERO() _mm256_setzero_ps()
#define LRNG_SET1(x) _mm256_set1_ps(x)
#define LRNG_ADD(a, b) _mm256_add_ps((a), (b))
#define LRNG_SUB(a, b) _mm256_sub_ps((a), (b))
#define LRNG_MUL(a, b) _mm256_mul_ps((a), (b))
#define LRNG_DIV(a, b) _mm256_div_ps((a), (b))
#define LRNG_FMADD(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define LRNG_POW(b, e) Sleef_powf8_u10avx2((b), (e))
#define LRNG_LOAD(p) _mm256_loadu_ps(p)
#define LRNG_STORE(p, v) _mm256_storeu_ps((p), (v))
#define LRNG_TAIL __m256i
#define LRNG_TAIL_FOR(rem) tail_mask(rem)
#define LRNG_LOAD_TAIL(p, t) _mm256_maskload_ps((p), (t))
#define LRNG_STORE_TAIL(p, t, v) _mm256_maskstore_ps((p), (t), (v))
#define LRNG_FN graft__lrn_grad_avx2
#include "lrn_grad_body.h"
