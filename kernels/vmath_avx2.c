/*
 * kernels/vmath_avx2.c: the activations, softmax rows and LRN on 8-float AVX2 vectors, with
 * SLEEF's 1-ULP AVX2 functions (Sleef_expf8_u10avx2 and friends) for exp, tanh, erf, log and
 * pow. Compiled with -mavx2 -mfma and called only when the dispatcher chose AVX2.
 *
 * Each function follows the scalar reference (vmath_ref.c) operation for operation; the
 * compares and blends are chosen so that RELU, CLIP, LEAKY_RELU and the clamps handle NaN and
 * signed zeros exactly as the reference's ternaries do (MAXPS(a, b) is a > b ? a : b). Tails
 * run through the same vector code with masked loads and stores, so an element's result never
 * depends on its position. No threading, no argument checks: vmath.c does those.
 */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "vmath.h"

#define W 8

/* Lanes [0, rem) of a tail, rem < W. */
static inline __m256i tail_mask(size_t rem) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __m256 sigmoid8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = Sleef_expf8_u10avx2(_mm256_or_ps(x, _mm256_set1_ps(-0.0f))); /* exp(-|x|) */
    __m256 num = _mm256_blendv_ps(e, one, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
    return _mm256_div_ps(num, _mm256_add_ps(one, e));
}

/* x * h, and 0 where h is 0 (see the reference's gated()). */
static inline __m256 gated8(__m256 x, __m256 h) {
    __m256 zero_gate = _mm256_cmp_ps(h, _mm256_setzero_ps(), _CMP_EQ_OQ);
    return _mm256_andnot_ps(zero_gate, _mm256_mul_ps(x, h));
}

static inline __m256 unary8(graft_unary kind, __m256 x, __m256 a, __m256 b) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    const __m256 half = _mm256_set1_ps(0.5f);
    __m256 t;
    switch (kind) {
    case GRAFT_UNARY_RELU:
        return _mm256_max_ps(zero, x);
    case GRAFT_UNARY_CLIP:
        return _mm256_min_ps(b, _mm256_max_ps(a, x));
    case GRAFT_UNARY_LEAKY_RELU:
        return _mm256_blendv_ps(x, _mm256_mul_ps(a, x), _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
    case GRAFT_UNARY_SIGMOID:
        return sigmoid8(x);
    case GRAFT_UNARY_TANH:
        return Sleef_tanhf8_u10avx2(x);
    case GRAFT_UNARY_HARD_SIGMOID:
        t = _mm256_add_ps(_mm256_mul_ps(a, x), b);
        return _mm256_max_ps(zero, _mm256_min_ps(one, t));
    case GRAFT_UNARY_HARD_SWISH:
        t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.0f / 6.0f)), half);
        return gated8(x, _mm256_max_ps(zero, _mm256_min_ps(one, t)));
    case GRAFT_UNARY_SILU:
        return gated8(x, sigmoid8(x));
    case GRAFT_UNARY_GELU:
        t = Sleef_erff8_u10avx2(_mm256_mul_ps(x, _mm256_set1_ps(GRAFT__SQRT1_2)));
        return gated8(x, _mm256_mul_ps(half, _mm256_add_ps(one, t)));
    case GRAFT_UNARY_GELU_TANH:
        t = _mm256_mul_ps(_mm256_set1_ps(GRAFT__GELU_TANH_C1), _mm256_mul_ps(x, x));
        t = _mm256_mul_ps(x, _mm256_add_ps(_mm256_set1_ps(GRAFT__GELU_TANH_C0), t));
        return gated8(x, _mm256_mul_ps(half, _mm256_add_ps(one, Sleef_tanhf8_u10avx2(t))));
    case GRAFT_UNARY_EXP:
        return Sleef_expf8_u10avx2(x);
    case GRAFT_UNARY_LOG:
        return Sleef_logf8_u10avx2(x);
    case GRAFT_UNARY_ABS:
        return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    case GRAFT_UNARY_SQRT:
        return _mm256_sqrt_ps(x);
    case GRAFT_UNARY_SIGN:
        t = _mm256_sub_ps(_mm256_and_ps(_mm256_cmp_ps(x, zero, _CMP_GT_OQ), one),
                          _mm256_and_ps(_mm256_cmp_ps(x, zero, _CMP_LT_OQ), one));
        return _mm256_blendv_ps(t, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)); /* NaN stays */
    case GRAFT_UNARY_COUNT:
        break;
    }
    return x; /* unreachable: vmath.c checked the kind */
}

/*
 * One loop per kind (the switch in unary8 folds away once kind is a constant), so the loop
 * body carries no branch.
 */
#define UNARY_LOOP(KIND)                                                                       \
    do {                                                                                       \
        for (; i + W <= n; i += W)                                                             \
            _mm256_storeu_ps(y + i, unary8(KIND, _mm256_loadu_ps(x + i), a, b));               \
        if (i < n) {                                                                           \
            __m256i m = tail_mask(n - i);                                                      \
            _mm256_maskstore_ps(y + i, m, unary8(KIND, _mm256_maskload_ps(x + i, m), a, b));   \
        }                                                                                      \
    } while (0)

void graft_vmath_unary_avx2(const graft_unary_op *op, float *y, const float *x, size_t n) {
    const __m256 a = _mm256_set1_ps(op->alpha), b = _mm256_set1_ps(op->beta);
    size_t i = 0;
    switch (op->kind) {
    case GRAFT_UNARY_RELU: UNARY_LOOP(GRAFT_UNARY_RELU); break;
    case GRAFT_UNARY_CLIP: UNARY_LOOP(GRAFT_UNARY_CLIP); break;
    case GRAFT_UNARY_LEAKY_RELU: UNARY_LOOP(GRAFT_UNARY_LEAKY_RELU); break;
    case GRAFT_UNARY_SIGMOID: UNARY_LOOP(GRAFT_UNARY_SIGMOID); break;
    case GRAFT_UNARY_TANH: UNARY_LOOP(GRAFT_UNARY_TANH); break;
    case GRAFT_UNARY_HARD_SIGMOID: UNARY_LOOP(GRAFT_UNARY_HARD_SIGMOID); break;
    case GRAFT_UNARY_HARD_SWISH: UNARY_LOOP(GRAFT_UNARY_HARD_SWISH); break;
    case GRAFT_UNARY_SILU: UNARY_LOOP(GRAFT_UNARY_SILU); break;
    case GRAFT_UNARY_GELU: UNARY_LOOP(GRAFT_UNARY_GELU); break;
    case GRAFT_UNARY_GELU_TANH: UNARY_LOOP(GRAFT_UNARY_GELU_TANH); break;
    case GRAFT_UNARY_EXP: UNARY_LOOP(GRAFT_UNARY_EXP); break;
    case GRAFT_UNARY_LOG: UNARY_LOOP(GRAFT_UNARY_LOG); break;
    case GRAFT_UNARY_ABS: UNARY_LOOP(GRAFT_UNARY_ABS); break;
    case GRAFT_UNARY_SQRT: UNARY_LOOP(GRAFT_UNARY_SQRT); break;
    case GRAFT_UNARY_SIGN: UNARY_LOOP(GRAFT_UNARY_SIGN); break;
    case GRAFT_UNARY_COUNT: break;
    }
}

static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* MAXPS(v, acc) keeps acc when v is NaN, so NaNs are skipped (vmath.h allows either). */
float graft_vmath_row_max_avx2(const float *x, size_t D) {
    __m256 acc = _mm256_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + W <= D; i += W) acc = _mm256_max_ps(_mm256_loadu_ps(x + i), acc);
    if (i < D) {
        __m256i m = tail_mask(D - i);
        __m256 v = _mm256_blendv_ps(acc, _mm256_maskload_ps(x + i, m), _mm256_castsi256_ps(m));
        acc = _mm256_max_ps(v, acc);
    }
    return hmax8(acc);
}

void graft_vmath_softmax_row_avx2(float *y, const float *x, size_t D, float max,
                                  int log_softmax) {
    const __m256 vmax = _mm256_set1_ps(max);
    __m256 acc = _mm256_setzero_ps();
    size_t i = 0;
    /* y is written only for softmax: log-softmax reads x again, and y may be x. */
    for (; i + W <= D; i += W) {
        __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        if (!log_softmax) _mm256_storeu_ps(y + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < D) {
        __m256i m = tail_mask(D - i);
        __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vmax));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(m));
        if (!log_softmax) _mm256_maskstore_ps(y + i, m, e);
        acc = _mm256_add_ps(acc, e);
    }
    const __m256 sum = _mm256_set1_ps(hsum8(acc));
    if (log_softmax) {
        const __m256 log_sum = Sleef_logf8_u10avx2(sum);
        for (i = 0; i + W <= D; i += W)
            _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax),
                                                  log_sum));
        if (i < D) {
            __m256i m = tail_mask(D - i);
            __m256 v = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vmax), log_sum);
            _mm256_maskstore_ps(y + i, m, v);
        }
        return;
    }
    for (i = 0; i + W <= D; i += W)
        _mm256_storeu_ps(y + i, _mm256_div_ps(_mm256_loadu_ps(y + i), sum));
    if (i < D) {
        __m256i m = tail_mask(D - i);
        _mm256_maskstore_ps(y + i, m, _mm256_div_ps(_mm256_maskload_ps(y + i, m), sum));
    }
}

/*
 * sq holds each pixel's squares between lo and hi zeros (vmath.h), so channel c's window is
 * sq[c .. c + lo + hi] for every c and a vector of channels sums lo + hi + 1 shifted loads.
 * The slack after the row is zeroed once so that the tail's unused lanes read zeros.
 */
void graft_vmath_lrn_avx2(float *y, const float *x, size_t pixels, size_t C,
                          const graft__lrn_args *a, float *sq) {
    const size_t taps = a->lo + a->hi + 1;
    const __m256 scale = _mm256_set1_ps(a->scale), beta = _mm256_set1_ps(a->beta);
    const __m256 bias = _mm256_set1_ps(a->bias);
    float *row = sq + a->lo;
    for (size_t j = 0; j < a->lo; j++) sq[j] = 0.0f;
    for (size_t j = 0; j < a->hi + GRAFT__LRN_SLACK; j++) row[C + j] = 0.0f;
    for (size_t p = 0; p < pixels; p++, x += C, y += C) {
        size_t c = 0;
        for (; c + W <= C; c += W) {
            __m256 v = _mm256_loadu_ps(x + c);
            _mm256_storeu_ps(row + c, _mm256_mul_ps(v, v));
        }
        for (; c < C; c++) row[c] = x[c] * x[c];
        for (c = 0; c < C; c += W) {
            __m256 sum = _mm256_setzero_ps();
            for (size_t j = 0; j < taps; j++) sum = _mm256_add_ps(sum, _mm256_loadu_ps(sq + c + j));
            __m256 base = _mm256_fmadd_ps(scale, sum, bias);
            __m256 den = Sleef_powf8_u10avx2(base, beta);
            if (c + W <= C) {
                _mm256_storeu_ps(y + c, _mm256_div_ps(_mm256_loadu_ps(x + c), den));
            } else {
                __m256i m = tail_mask(C - c);
                _mm256_maskstore_ps(y + c, m, _mm256_div_ps(_mm256_maskload_ps(x + c, m), den));
            }
        }
    }
}
