/*
 * kernels/lrn_grad_avx512.c: the LRN backward pass on 16-float AVX-512 vectors, with SLEEF's
 * 1-ULP AVX-512F pow (the forward's, vmath_avx512.c). Compiled with -mavx512f/vl/dq/bw -mfma
 * and called only when the dispatcher chose AVX-512.
 *
 * This file only names the AVX-512 operations; the kernel itself is lrn_grad_body.h, shared
 * with the other SIMD variants. Tails run under a lane mask.
 */
#include <immintrin.h>
#include <sleef.h>

#include "lrn_grad.h"

static inline __mmask16 tail_mask(size_t rem) { return (__mmask16)((1u << rem) - 1u); }

#define LRNG_VEC __m512
#define LRNG_LANES 16
#define LRNG_ZERO() _mm512_setzero_ps()
#define LRNG_SET1(x) _mm512_set1_ps(x)
#define LRNG_ADD(a, b) _mm512_add_ps((a), (b))
#define LRNG_SUB(a, b) _mm512_sub_ps((a), (b))
#define LRNG_MUL(a, b) _mm512_mul_ps((a), (b))
#define LRNG_DIV(a, b) _mm512_div_ps((a), (b))
#define LRNG_FMADD(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define LRNG_POW(b, e) Sleef_powf16_u10avx512f((b), (e))
#define LRNG_LOAD(p) _mm512_loadu_ps(p)
#define LRNG_STORE(p, v) _mm512_storeu_ps((p), (v))
#define LRNG_TAIL __mmask16
#define LRNG_TAIL_FOR(rem) tail_mask(rem)
#define LRNG_LOAD_TAIL(p, t) _mm512_maskz_loadu_ps((t), (p))
#define LRNG_STORE_TAIL(p, t, v) _mm512_mask_storeu_ps((p), (t), (v))
#define LRNG_FN graft__lrn_grad_avx512
#include "lrn_grad_body.h"
