/*
 * kernels/vmath_avx512.c: the activations, softmax rows and LRN on 16-float AVX-512 vectors,
 * with SLEEF's 1-ULP AVX-512F functions (Sleef_expf16_u10avx512f and friends) for exp, tanh,
 * erf, log and pow. Compiled with -mavx512f/vl/dq/bw -mfma and called only when the
 * dispatcher chose AVX-512.
 *
 * Each function follows the scalar reference (vmath_ref.c) operation for operation; MAXPS and
 * MINPS (a > b ? a : b) are ordered so that NaNs and signed zeros come out as the reference's
 * ternaries make them. Tails run through the same vector code under a lane mask, so an
 * element's result never depends on its position. No threading, no argument checks.
 */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "vmath.h"

#define W 16

/* Lanes [0, rem) of a tail, rem < W. */
static inline __mmask16 tail_mask(size_t rem) { return (__mmask16)((1u << rem) - 1u); }

static inline __m512 sigmoid16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = Sleef_expf16_u10avx512f(_mm512_or_ps(x, _mm512_set1_ps(-0.0f))); /* exp(-|x|) */
    __mmask16 nonneg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_div_ps(_mm512_mask_blend_ps(nonneg, e, one), _mm512_add_ps(one, e));
}

/* x * h, and 0 where h is 0 (see the reference's gated()). */
static inline __m512 gated16(__m512 x, __m512 h) {
    __mmask16 open = _mm512_cmp_ps_mask(h, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    return _mm512_maskz_mul_ps(open, x, h);
}

static inline __m512 unary16(graft_unary kind, __m512 x, __m512 a, __m512 b) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    const __m512 half = _mm512_set1_ps(0.5f);
    __m512 t;
    switch (kind) {
    case GRAFT_UNARY_RELU:
        return _mm512_max_ps(zero, x);
    case GRAFT_UNARY_CLIP:
        return _mm512_min_ps(b, _mm512_max_ps(a, x));
    case GRAFT_UNARY_LEAKY_RELU:
        return _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), a, x);
    case GRAFT_UNARY_SIGMOID:
        return sigmoid16(x);
    case GRAFT_UNARY_TANH:
        return Sleef_tanhf16_u10avx512f(x);
    case GRAFT_UNARY_HARD_SIGMOID:
        t = _mm512_add_ps(_mm512_mul_ps(a, x), b);
        return _mm512_max_ps(zero, _mm512_min_ps(one, t));
    case GRAFT_UNARY_HARD_SWISH:
        t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.0f / 6.0f)), half);
        return gated16(x, _mm512_max_ps(zero, _mm512_min_ps(one, t)));
    case GRAFT_UNARY_SILU:
        return gated16(x, sigmoid16(x));
    case GRAFT_UNARY_GELU:
        t = Sleef_erff16_u10avx512f(_mm512_mul_ps(x, _mm512_set1_ps(GRAFT__SQRT1_2)));
        return gated16(x, _mm512_mul_ps(half, _mm512_add_ps(one, t)));
    case GRAFT_UNARY_GELU_TANH:
        t = _mm512_mul_ps(_mm512_set1_ps(GRAFT__GELU_TANH_C1), _mm512_mul_ps(x, x));
        t = _mm512_mul_ps(x, _mm512_add_ps(_mm512_set1_ps(GRAFT__GELU_TANH_C0), t));
        return gated16(x, _mm512_mul_ps(half, _mm512_add_ps(one, Sleef_tanhf16_u10avx512f(t))));
    case GRAFT_UNARY_EXP:
        return Sleef_expf16_u10avx512f(x);
    case GRAFT_UNARY_LOG:
        return Sleef_logf16_u10avx512f(x);
    case GRAFT_UNARY_ABS:
        return _mm512_abs_ps(x);
    case GRAFT_UNARY_SQRT:
        return _mm512_sqrt_ps(x);
    case GRAFT_UNARY_SIGN:
        t = _mm512_sub_ps(_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ), one),
                          _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), one));
        return _mm512_mask_mov_ps(t, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x); /* NaN stays */
    case GRAFT_UNARY_COUNT:
        break;
    }
    return x; /* unreachable: vmath.c checked the kind */
}

/* One loop per kind, so the loop body carries no branch. */
#define UNARY_LOOP(KIND)                                                                       \
    do {                                                                                       \
        for (; i + W <= n; i += W)                                                             \
            _mm512_storeu_ps(y + i, unary16(KIND, _mm512_loadu_ps(x + i), a, b));              \
        if (i < n) {                                                                           \
            __mmask16 m = tail_mask(n - i);                                                    \
            _mm512_mask_storeu_ps(y + i, m,                                                    \
                                  unary16(KIND, _mm512_maskz_loadu_ps(m, x + i), a, b));       \
        }                                                                                      \
    } while (0)

void graft_vmath_unary_avx512(const graft_unary_op *op, float *y, const float *x, size_t n) {
    const __m512 a = _mm512_set1_ps(op->alpha), b = _mm512_set1_ps(op->beta);
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

/* MAXPS(v, acc) keeps acc when v is NaN, so NaNs are skipped (vmath.h allows either). */
float graft_vmath_row_max_avx512(const float *x, size_t D) {
    __m512 acc = _mm512_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + W <= D; i += W) acc = _mm512_max_ps(_mm512_loadu_ps(x + i), acc);
    if (i < D) acc = _mm512_max_ps(_mm512_mask_loadu_ps(acc, tail_mask(D - i), x + i), acc);
    return _mm512_reduce_max_ps(acc);
}

void graft_vmath_softmax_row_avx512(float *y, const float *x, size_t D, float max,
                                    int log_softmax) {
    const __m512 vmax = _mm512_set1_ps(max);
    __m512 acc = _mm512_setzero_ps();
    size_t i = 0;
    /* y is written only for softmax: log-softmax reads x again, and y may be x. */
    for (; i + W <= D; i += W) {
        __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmax));
        if (!log_softmax) _mm512_storeu_ps(y + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < D) {
        __mmask16 m = tail_mask(D - i);
        __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmax));
        e = _mm512_maskz_mov_ps(m, e);
        if (!log_softmax) _mm512_mask_storeu_ps(y + i, m, e);
        acc = _mm512_add_ps(acc, e);
    }
    const __m512 sum = _mm512_set1_ps(_mm512_reduce_add_ps(acc));
    if (log_softmax) {
        const __m512 log_sum = Sleef_logf16_u10avx512f(sum);
        for (i = 0; i + W <= D; i += W)
            _mm512_storeu_ps(y + i, _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmax),
                                                  log_sum));
        if (i < D) {
            __mmask16 m = tail_mask(D - i);
            __m512 v = _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmax),
                                     log_sum);
            _mm512_mask_storeu_ps(y + i, m, v);
        }
        return;
    }
    for (i = 0; i + W <= D; i += W)
        _mm512_storeu_ps(y + i, _mm512_div_ps(_mm512_loadu_ps(y + i), sum));
    if (i < D) {
        __mmask16 m = tail_mask(D - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, y + i), sum));
    }
}

/*
 * sq holds each pixel's squares between lo and hi zeros (vmath.h), so channel c's window is
 * sq[c .. c + lo + hi] for every c and a vector of channels sums lo + hi + 1 shifted loads.
 * The slack after the row is zeroed once so that the tail's unused lanes read zeros.
 */
void graft_vmath_lrn_avx512(float *y, const float *x, size_t pixels, size_t C,
                            const graft__lrn_args *a, float *sq) {
    const size_t taps = a->lo + a->hi + 1;
    const __m512 scale = _mm512_set1_ps(a->scale), beta = _mm512_set1_ps(a->beta);
    const __m512 bias = _mm512_set1_ps(a->bias);
    float *row = sq + a->lo;
    for (size_t j = 0; j < a->lo; j++) sq[j] = 0.0f;
    for (size_t j = 0; j < a->hi + GRAFT__LRN_SLACK; j++) row[C + j] = 0.0f;
    for (size_t p = 0; p < pixels; p++, x += C, y += C) {
        for (size_t c = 0; c < C; c += W) {
            __mmask16 m = c + W <= C ? (__mmask16)0xffff : tail_mask(C - c);
            __m512 v = _mm512_maskz_loadu_ps(m, x + c);
            _mm512_mask_storeu_ps(row + c, m, _mm512_mul_ps(v, v));
        }
        for (size_t c = 0; c < C; c += W) {
            __mmask16 m = c + W <= C ? (__mmask16)0xffff : tail_mask(C - c);
            __m512 sum = _mm512_setzero_ps();
            for (size_t j = 0; j < taps; j++) sum = _mm512_add_ps(sum, _mm512_loadu_ps(sq + c + j));
            __m512 den = Sleef_powf16_u10avx512f(_mm512_fmadd_ps(scale, sum, bias), beta);
            _mm512_mask_storeu_ps(y + c, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + c), den));
        }
    }
}
