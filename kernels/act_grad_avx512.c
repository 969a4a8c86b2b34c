/*
 * kernels/act_grad_avx512.c: the activation gradients on 16-float AVX-512 vectors, with
 * SLEEF's 1-ULP AVX-512F exp, tanh and erf for SILU, GELU and GELU_TANH. Compiled with
 * -mavx512f/vl/dq/bw -mfma and called only when the dispatcher chose AVX-512.
 *
 * Each kind follows the scalar reference (act_grad_ref.c) operation for operation and its
 * compares are the reference's (ordered, so a NaN x takes the same branch). The compiler may
 * fuse a product with the add into dx, so results agree with the reference within an ulp or
 * so, and exactly for RELU, CLIP and ABS, which only select. Tails run through the same vector
 * code under a lane mask. No threading, no argument checks: act_grad.c does those.
 */
#include <immintrin.h>
#include <sleef.h>

#include "grad.h"
#include "vmath.h"

#define W 16

static inline __mmask16 tail_mask(size_t rem) { return (__mmask16)((1u << rem) - 1u); }

/* As vmath_avx512.c's sigmoid16 (the reference's formula). */
static inline __m512 sigmoid16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = Sleef_expf16_u10avx512f(_mm512_or_ps(x, _mm512_set1_ps(-0.0f)));
    __mmask16 nonneg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_div_ps(_mm512_mask_blend_ps(nonneg, e, one), _mm512_add_ps(one, e));
}

/* x * h, and 0 where h is 0 (the reference's gated()). */
static inline __m512 gated16(__m512 x, __m512 h) {
    __mmask16 open = _mm512_cmp_ps_mask(h, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    return _mm512_maskz_mul_ps(open, x, h);
}

#define SET1 _mm512_set1_ps
#define CMP _mm512_cmp_ps_mask

/* dy * f'(x), the term added to dx. */
static inline __m512 grad16(graft_unary kind, __m512 dy, __m512 x, __m512 y, __m512 a,
                            __m512 b) {
    const __m512 zero = _mm512_setzero_ps(), one = SET1(1.0f), half = SET1(0.5f);
    __m512 s, t, u;
    switch (kind) {
    case GRAFT_UNARY_RELU:
        return _mm512_mask_mov_ps(dy, CMP(x, zero, _CMP_LE_OQ), zero);
    case GRAFT_UNARY_CLIP:
        return _mm512_mask_mov_ps(dy, CMP(x, a, _CMP_LE_OQ) | CMP(x, b, _CMP_GE_OQ), zero);
    case GRAFT_UNARY_LEAKY_RELU:
        return _mm512_mask_blend_ps(CMP(x, zero, _CMP_GT_OQ), _mm512_mul_ps(dy, a), dy);
    case GRAFT_UNARY_SIGMOID:
        return _mm512_mul_ps(_mm512_mul_ps(dy, _mm512_sub_ps(one, y)), y);
    case GRAFT_UNARY_TANH:
        return _mm512_mul_ps(dy, _mm512_sub_ps(one, _mm512_mul_ps(y, y)));
    case GRAFT_UNARY_HARD_SIGMOID:
        t = _mm512_add_ps(_mm512_mul_ps(a, x), b);
        return _mm512_maskz_mul_ps(CMP(t, zero, _CMP_GT_OQ) & CMP(t, one, _CMP_LT_OQ), dy, a);
    case GRAFT_UNARY_HARD_SWISH:
        t = _mm512_mul_ps(dy, _mm512_add_ps(_mm512_div_ps(x, SET1(3.0f)), half));
        t = _mm512_mask_blend_ps(CMP(x, SET1(3.0f), _CMP_LE_OQ), dy, t);
        return _mm512_mask_mov_ps(t, CMP(x, SET1(-3.0f), _CMP_LT_OQ), zero);
    case GRAFT_UNARY_SILU:
        s = sigmoid16(x);
        return _mm512_mul_ps(dy, gated16(_mm512_add_ps(one, gated16(x, _mm512_sub_ps(one, s))),
                                         s));
    case GRAFT_UNARY_GELU:
        s = Sleef_erff16_u10avx512f(_mm512_mul_ps(x, SET1(GRAFT__SQRT1_2)));
        s = _mm512_mul_ps(half, _mm512_add_ps(one, s));
        t = Sleef_expf16_u10avx512f(_mm512_mul_ps(_mm512_mul_ps(SET1(-0.5f), x), x));
        t = _mm512_mul_ps(SET1(GRAFT__INV_SQRT_2PI), t);
        return _mm512_mul_ps(dy, _mm512_add_ps(s, gated16(x, t)));
    case GRAFT_UNARY_GELU_TANH:
        u = _mm512_mul_ps(_mm512_mul_ps(SET1(GRAFT__GELU_TANH_C1), x), x);
        t = Sleef_tanhf16_u10avx512f(_mm512_mul_ps(x, _mm512_add_ps(SET1(GRAFT__GELU_TANH_C0),
                                                                    u)));
        s = _mm512_sub_ps(one, _mm512_mul_ps(t, t));
        u = _mm512_mul_ps(_mm512_mul_ps(SET1(GRAFT__GELU_TANH_3C1), x), x);
        u = _mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(SET1(GRAFT__GELU_TANH_C0), u));
        u = gated16(u, s);
        return _mm512_mul_ps(dy, _mm512_add_ps(_mm512_mul_ps(half, _mm512_add_ps(one, t)), u));
    case GRAFT_UNARY_EXP:
        return _mm512_mul_ps(dy, y);
    case GRAFT_UNARY_LOG:
        return _mm512_div_ps(dy, x);
    case GRAFT_UNARY_ABS:
        t = _mm512_maskz_mov_ps(CMP(x, zero, _CMP_LT_OQ), _mm512_xor_ps(dy, SET1(-0.0f)));
        return _mm512_mask_mov_ps(t, CMP(x, zero, _CMP_GT_OQ), dy);
    case GRAFT_UNARY_SQRT:
        return _mm512_div_ps(dy, _mm512_mul_ps(SET1(2.0f), y));
    case GRAFT_UNARY_SIGN:
    case GRAFT_UNARY_COUNT:
        break;
    }
    return zero;
}

/* One loop per kind, so that the switch in grad16 folds away; y is loaded only when read. */
#define GRAD_LOOP(KIND)                                                                        \
    do {                                                                                       \
        const int ny = graft__unary_grad_needs_y(KIND);                                        \
        for (; i + W <= n; i += W) {                                                           \
            __m512 yv = ny ? _mm512_loadu_ps(y + i) : _mm512_setzero_ps();                     \
            __m512 g = grad16(KIND, _mm512_loadu_ps(dy + i), _mm512_loadu_ps(x + i), yv, a, b); \
            _mm512_storeu_ps(dx + i, _mm512_add_ps(_mm512_loadu_ps(dx + i), g));               \
        }                                                                                      \
        if (i < n) {                                                                           \
            __mmask16 m = tail_mask(n - i);                                                    \
            __m512 yv = ny ? _mm512_maskz_loadu_ps(m, y + i) : _mm512_setzero_ps();            \
            __m512 g = grad16(KIND, _mm512_maskz_loadu_ps(m, dy + i),                          \
                              _mm512_maskz_loadu_ps(m, x + i), yv, a, b);                      \
            _mm512_mask_storeu_ps(dx + i, m,                                                   \
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m, dx + i), g));         \
        }                                                                                      \
    } while (0)

void graft__unary_grad_avx512(const graft_unary_op *op, float *restrict dx,
                              const float *restrict dy, const float *restrict x,
                              const float *restrict y, size_t n) {
    const __m512 a = _mm512_set1_ps(op->alpha), b = _mm512_set1_ps(op->beta);
    size_t i = 0;
    switch (op->kind) {
    case GRAFT_UNARY_RELU: GRAD_LOOP(GRAFT_UNARY_RELU); break;
    case GRAFT_UNARY_CLIP: GRAD_LOOP(GRAFT_UNARY_CLIP); break;
    case GRAFT_UNARY_LEAKY_RELU: GRAD_LOOP(GRAFT_UNARY_LEAKY_RELU); break;
    case GRAFT_UNARY_SIGMOID: GRAD_LOOP(GRAFT_UNARY_SIGMOID); break;
    case GRAFT_UNARY_TANH: GRAD_LOOP(GRAFT_UNARY_TANH); break;
    case GRAFT_UNARY_HARD_SIGMOID: GRAD_LOOP(GRAFT_UNARY_HARD_SIGMOID); break;
    case GRAFT_UNARY_HARD_SWISH: GRAD_LOOP(GRAFT_UNARY_HARD_SWISH); break;
    case GRAFT_UNARY_SILU: GRAD_LOOP(GRAFT_UNARY_SILU); break;
    case GRAFT_UNARY_GELU: GRAD_LOOP(GRAFT_UNARY_GELU); break;
    case GRAFT_UNARY_GELU_TANH: GRAD_LOOP(GRAFT_UNARY_GELU_TANH); break;
    case GRAFT_UNARY_EXP: GRAD_LOOP(GRAFT_UNARY_EXP); break;
    case GRAFT_UNARY_LOG: GRAD_LOOP(GRAFT_UNARY_LOG); break;
    case GRAFT_UNARY_ABS: GRAD_LOOP(GRAFT_UNARY_ABS); break;
    case GRAFT_UNARY_SQRT: GRAD_LOOP(GRAFT_UNARY_SQRT); break;
    case GRAFT_UNARY_SIGN: /* zero almost everywhere: nothing to add */
    case GRAFT_UNARY_COUNT: break;
    }
}
