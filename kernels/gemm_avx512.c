/*
 * kernels/gemm_avx512.c: the AVX-512 SGEMM micro-kernel, a 14 x 32 tile of C in 28 zmm
 * accumulators. Per k step it loads two vectors of packed B and broadcasts 14 elements of
 * packed A straight from memory into the FMAs (embedded {1to16} broadcasts), so 28 FMAs cost
 * 2 vector loads and 14 scalar loads: enough independent chains to hide the 4-cycle FMA latency
 * on two FMA pipes, and few enough loads for the load ports.
 *
 * Partial tiles: the row count is a compile-time constant of an inlined body (one copy per
 * m in 1..14), so a short tile does no wasted FMAs and never reads A beyond its rows; columns
 * past n are masked on load and store.
 */
#include <assert.h>
#include <immintrin.h>

#include "kernels.h"

#define MR 14
#define NR 32

static inline __attribute__((always_inline)) __m512 epi_row(const graft__ukr_epi *e, __m512 acc,
                                                             const float *c, __mmask16 mask,
                                                             float brow, const float *bcol) {
    __m512 x = _mm512_mul_ps(_mm512_set1_ps(e->alpha), acc);
    if (e->beta != 0.0f)
        x = _mm512_fmadd_ps(_mm512_set1_ps(e->beta), _mm512_maskz_loadu_ps(mask, c), x);
    if (e->bias_row) x = _mm512_add_ps(x, _mm512_set1_ps(brow));
    if (bcol) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, bcol));
    if (e->act != GRAFT_ACT_NONE) {
        x = _mm512_max_ps(x, _mm512_setzero_ps());
        if (e->act == GRAFT_ACT_RELU6) x = _mm512_min_ps(x, _mm512_set1_ps(6.0f));
    }
    return x;
}

static inline __attribute__((always_inline)) void tile(const int M, size_t kc,
                                                        const float *restrict a,
                                                        const float *restrict b,
                                                        float *restrict c, size_t ldc, int n,
                                                        const graft__ukr_epi *e) {
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 14
    for (int i = 0; i < M; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();

#pragma GCC unroll 4
    for (size_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
        for (int i = 0; i < M; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
            acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
        }
        a += MR;
        b += NR;
    }

    __mmask16 m0 = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xffff : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    const float *bc = e->bias_col;
#pragma GCC unroll 14
    for (int i = 0; i < M; i++) {
        float *ci = c + (size_t)i * ldc;
        float brow = e->bias_row ? e->bias_row[i] : 0.0f;
        _mm512_mask_storeu_ps(ci, m0, epi_row(e, acc0[i], ci, m0, brow, bc));
        if (m1)
            _mm512_mask_storeu_ps(ci + 16, m1,
                                  epi_row(e, acc1[i], ci + 16, m1, brow, bc ? bc + 16 : NULL));
    }
}

void graft_sgemm_ukr_14x32_avx512(size_t kc, const float *restrict a, const float *restrict b,
                                  float *restrict c, size_t ldc, int m, int n,
                                  const graft__ukr_epi *epi) {
    assert(m >= 1 && m <= MR && n >= 1 && n <= NR);
    switch (m) {
#define CASE(M_) \
    case M_:     \
        tile(M_, kc, a, b, c, ldc, n, epi); \
        break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7)
        CASE(8) CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14)
#undef CASE
    }
}
