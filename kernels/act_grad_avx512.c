/*
 * kernels/act_grad_avx512.c: the activation gradients on 16-float AVX-512 vectors, with
 * SLEEF's 1-ULP AVX-512F exp, tanh and erf for SILU, GELU and GELU_TANH. Compiled with
 * -mavx512f/vl/dq/bw -mfma and called only when the dispatcher chose AVX-512.
 *
 * This file only names the AVX-512 operations; the kernel itself is act_grad_body.h, shared
 * with the other SIMD variants. Compares yield lane masks, selects are masked blends, and
 * tails run under a lane mask.
 */
#include <immintrin.h>
#include <sleef.h>

#include "grad.h"
#include "vmath.h"

static inline __mmask16 tail_mask(size_t rem) { return (__mmask16)((1u << rem) - 1u); }

/* As vmath_avx512.c's sigmoid16 (the reference's formula). */
static inline __m512 sigmoid16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = Sleef_expf16_u10avx512f(_mm512_or_ps(x, _mm512_set1_ps(-0.0f)));
    __mmask16 nonneg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_div_ps(_mm512_mask_blend_ps(nonneg, e, one), _mm512_add_ps(one, e));
}

#define ACTG_VEC __m512
#define ACTG_LANES 16
#define ACTG_LT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ)
#define ACTG_LE(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LE_OQ)
#define ACTG_GT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GT_OQ)
#define ACTG_GE(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GE_OQ)
#define ACTG_EQ(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_EQ_OQ)
#define ACTG_OR(c, d) ((__mmask16)((c) | (d)))
#define ACTG_AND(c, d) ((__mmask16)((c) & (d)))
#define ACTG_SELECT(c, a, b) _mm512_mask_blend_ps((c), (b), (a))
#define ACTG_ZERO() _mm512_setzero_ps()
#define ACTG_SET1(x) _mm512_set1_ps(x)
#define ACTG_ADD(a, b) _mm512_add_ps((a), (b))
#define ACTG_SUB(a, b) _mm512_sub_ps((a), (b))
#define ACTG_MUL(a, b) _mm512_mul_ps((a), (b))
#define ACTG_DIV(a, b) _mm512_div_ps((a), (b))
#define ACTG_NEG(a) _mm512_xor_ps((a), _mm512_set1_ps(-0.0f))
#define ACTG_SIGMOID(v) sigmoid16(v)
#define ACTG_EXP(v) Sleef_expf16_u10avx512f(v)
#define ACTG_ERF(v) Sleef_erff16_u10avx512f(v)
#define ACTG_TANH(v) Sleef_tanhf16_u10avx512f(v)
#define ACTG_LOAD(p) _mm512_loadu_ps(p)
#define ACTG_STORE(p, v) _mm512_storeu_ps((p), (v))
#define ACTG_TAIL __mmask16
#define ACTG_TAIL_FOR(rem) tail_mask(rem)
#define ACTG_LOAD_TAIL(p, t) _mm512_maskz_loadu_ps((t), (p))
#define ACTG_STORE_TAIL(p, t, v) _mm512_mask_storeu_ps((p), (t), (v))
#define ACTG_FN graft__unary_grad_avx512
#include "act_grad_body.h"
