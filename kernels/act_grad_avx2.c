/*
 * kernels/act_grad_avx2.c: the activation gradients on 8-float AVX2 vectors, with SLEEF's
 * 1-ULP AVX2 exp, tanh and erf for SILU, GELU and GELU_TANH. Compiled with -mavx2 -mfma and
 * called only when the dispatcher chose AVX2.
 *
 * Each kind follows the scalar reference (act_grad_ref.c) operation for operation and its
 * compares are the reference's (ordered, so a NaN x takes the same branch). The compiler may
 * fuse a product with the add into dx, so results agree with the reference within an ulp or
 * so, and exactly for RELU, CLIP and ABS, which only select. Tails run through the same vector
 * code with masked loads and stores. No threading, no argument checks: act_grad.c does those.
 */
#include <immintrin.h>
#include <sleef.h>

#include "grad.h"
#include "vmath.h"

#define W 8

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

/* x * h, and 0 where h is 0 (the reference's gated()). */
static inline __m256 gated8(__m256 x, __m256 h) {
    __m256 zero_gate = _mm256_cmp_ps(h, _mm256_setzero_ps(), _CMP_EQ_OQ);
    return _mm256_andnot_ps(zero_gate, _mm256_mul_ps(x, h));
}

#define SET1 _mm256_set1_ps
#define CMP _mm256_cmp_ps

/* dy * f'(x), the term added to dx. */
static inline __m256 grad8(graft_unary kind, __m256 dy, __m256 x, __m256 y, __m256 a, __m256 b) {
    const __m256 zero = _mm256_setzero_ps(), one = SET1(1.0f), half = SET1(0.5f);
    __m256 s, t, u;
    switch (kind) {
    case GRAFT_UNARY_RELU:
        return _mm256_andnot_ps(CMP(x, zero, _CMP_LE_OQ), dy);
    case GRAFT_UNARY_CLIP:
        return _mm256_andnot_ps(_mm256_or_ps(CMP(x, a, _CMP_LE_OQ), CMP(x, b, _CMP_GE_OQ)), dy);
    case GRAFT_UNARY_LEAKY_RELU:
        return _mm256_blendv_ps(_mm256_mul_ps(dy, a), dy, CMP(x, zero, _CMP_GT_OQ));
    case GRAFT_UNARY_SIGMOID:
        return _mm256_mul_ps(_mm256_mul_ps(dy, _mm256_sub_ps(one, y)), y);
    case GRAFT_UNARY_TANH:
        return _mm256_mul_ps(dy, _mm256_sub_ps(one, _mm256_mul_ps(y, y)));
    case GRAFT_UNARY_HARD_SIGMOID:
        t = _mm256_add_ps(_mm256_mul_ps(a, x), b);
        return _mm256_and_ps(_mm256_and_ps(CMP(t, zero, _CMP_GT_OQ), CMP(t, one, _CMP_LT_OQ)),
                             _mm256_mul_ps(dy, a));
    case GRAFT_UNARY_HARD_SWISH:
        t = _mm256_mul_ps(dy, _mm256_add_ps(_mm256_div_ps(x, SET1(3.0f)), half));
        t = _mm256_blendv_ps(dy, t, CMP(x, SET1(3.0f), _CMP_LE_OQ));
        return _mm256_andnot_ps(CMP(x, SET1(-3.0f), _CMP_LT_OQ), t);
    case GRAFT_UNARY_SILU:
        s = sigmoid8(x);
        return _mm256_mul_ps(dy, gated8(_mm256_add_ps(one, gated8(x, _mm256_sub_ps(one, s))), s));
    case GRAFT_UNARY_GELU:
        s = Sleef_erff8_u10avx2(_mm256_mul_ps(x, SET1(GRAFT__SQRT1_2)));
        s = _mm256_mul_ps(half, _mm256_add_ps(one, s));
        t = Sleef_expf8_u10avx2(_mm256_mul_ps(_mm256_mul_ps(SET1(-0.5f), x), x));
        t = _mm256_mul_ps(SET1(GRAFT__INV_SQRT_2PI), t);
        return _mm256_mul_ps(dy, _mm256_add_ps(s, gated8(x, t)));
    case GRAFT_UNARY_GELU_TANH:
        u = _mm256_mul_ps(_mm256_mul_ps(SET1(GRAFT__GELU_TANH_C1), x), x);
        t = Sleef_tanhf8_u10avx2(_mm256_mul_ps(x, _mm256_add_ps(SET1(GRAFT__GELU_TANH_C0), u)));
        s = _mm256_sub_ps(one, _mm256_mul_ps(t, t));
        u = _mm256_mul_ps(_mm256_mul_ps(SET1(GRAFT__GELU_TANH_3C1), x), x);
        u = _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(SET1(GRAFT__GELU_TANH_C0), u));
        u = gated8(u, s);
        return _mm256_mul_ps(dy, _mm256_add_ps(_mm256_mul_ps(half, _mm256_add_ps(one, t)), u));
    case GRAFT_UNARY_EXP:
        return _mm256_mul_ps(dy, y);
    case GRAFT_UNARY_LOG:
        return _mm256_div_ps(dy, x);
    case GRAFT_UNARY_ABS:
        t = _mm256_and_ps(CMP(x, zero, _CMP_LT_OQ), _mm256_xor_ps(dy, SET1(-0.0f)));
        return _mm256_blendv_ps(t, dy, CMP(x, zero, _CMP_GT_OQ));
    case GRAFT_UNARY_SQRT:
        return _mm256_div_ps(dy, _mm256_mul_ps(SET1(2.0f), y));
    case GRAFT_UNARY_SIGN:
    case GRAFT_UNARY_COUNT:
        break;
    }
    return zero;
}

/* One loop per kind, so that the switch in grad8 folds away; y is loaded only when read. */
#define GRAD_LOOP(KIND)                                                                        \
    do {                                                                                       \
        const int ny = graft__unary_grad_needs_y(KIND);                                        \
        for (; i + W <= n; i += W) {                                                           \
            __m256 yv = ny ? _mm256_loadu_ps(y + i) : _mm256_setzero_ps();                     \
            __m256 g = grad8(KIND, _mm256_loadu_ps(dy + i), _mm256_loadu_ps(x + i), yv, a, b); \
            _mm256_storeu_ps(dx + i, _mm256_add_ps(_mm256_loadu_ps(dx + i), g));               \
        }                                                                                      \
        if (i < n) {                                                                           \
            __m256i m = tail_mask(n - i);                                                      \
            __m256 yv = ny ? _mm256_maskload_ps(y + i, m) : _mm256_setzero_ps();               \
            __m256 g = grad8(KIND, _mm256_maskload_ps(dy + i, m), _mm256_maskload_ps(x + i, m), \
                             yv, a, b);                                                        \
            _mm256_maskstore_ps(dx + i, m, _mm256_add_ps(_mm256_maskload_ps(dx + i, m), g));   \
        }                                                                                      \
    } while (0)

void graft__unary_grad_avx2(const graft_unary_op *op, float *restrict dx,
                            const float *restrict dy, const float *restrict x,
                            const float *restrict y, size_t n) {
    const __m256 a = _mm256_set1_ps(op->alpha), b = _mm256_set1_ps(op->beta);
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
