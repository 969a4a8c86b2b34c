/*
 * kernels/act_grad_avx2.c: the activation gradients on 8-float AVX2 vectors, with SLEEF's
 * 1-ULP AVX2 exp, tanh and erf for SILU, GELU and GELU_TANH. Compiled with -mavx2 -mfma and
 * called only when the dispatcher chose AVX2.
 *
 * This file only names the AVX2 operations; the kernel itself is act_grad_body.h, shared with
 * the other SIMD variants. Compares yield all-ones lanes, selects are blends, and tails use
 * masked loads and stores.
 */
#include <immintrin.h>
#include <sleef.h>

#include "grad.h"
#include "vmath.h"

static inline __m256i tail_mask(size_t rem) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* As vmath_avx2.c's sigmoid8 (the reference's formula). */
static inline __m256 sigmoid8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = Sleef_expf8_u10avx2(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
    __m256 num = _mm256_blendv_ps(e, one, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
    return _mm256_div_ps(num, _mm256_add_ps(one, e));
}

#define ACTG_VEC __m256
#define ACTG_LANES 8
#define ACTG_LT(a, b) _mm256_cmp_ps((a), (b), _CMP_LT_OQ)
#define ACTG_LE(a, b) _mm256_cmp_ps((a), (b), _CMP_LE_OQ)
#define ACTG_GT(a, b) _mm256_cmp_ps((a), (b), _CMP_GT_OQ)
#define ACTG_GE(a, b) _mm256_cmp_ps((a), (b), _CMP_GE_OQ)
#define ACTG_EQ(a, b) _mm256_cmp_ps((a), (b), _CMP_EQ_OQ)
#define ACTG_OR(c, d) _mm256_or_ps((c), (d))
#define ACTG_AND(c, d) _mm256_and_ps((c), (d))
#define ACTG_SELECT(c, a, b) _mm256_blendv_ps((b), (a), (c))
#define ACTG_ZERO() _mm256_setzero_ps()
#define ACTG_SET1(x) _mm256_set1_ps(x)
#define ACTG_ADD(a, b) _mm256_add_ps((a), (b))
#define ACTG_SUB(a, b) _mm256_sub_ps((a), (b))
#define ACTG_MUL(a, b) _mm256_mul_ps((a), (b))
#define ACTG_DIV(a, b) _mm256_div_ps((a), (b))
#define ACTG_NEG(a) _mm256_xor_ps((a), _mm256_set1_ps(-0.0f))
#define ACTG_SIGMOID(v) sigmoid8(v)
#define ACTG_EXP(v) Sleef_expf8_u10avx2(v)
#define ACTG_ERF(v) Sleef_erff8_u10avx2(v)
#define ACTG_TANH(v) Sleef_tanhf8_u10avx2(v)
#define ACTG_LOAD(p) _mm256_loadu_ps(p)
#define ACTG_STORE(p, v) _mm256_storeu_ps((p), (v))
#define ACTG_TAIL __m256i
#define ACTG_TAIL_FOR(rem) tail_mask(rem)
#define ACTG_LOAD_TAIL(p, t) _mm256_maskload_ps((p), (t))
#define ACTG_STORE_TAIL(p, t, v) _mm256_maskstore_ps((p), (t), (v))
#define ACTG_FN graft__unary_grad_avx2
#include "act_grad_body.h"
