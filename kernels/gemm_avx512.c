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

/*
 * Packs one micro-panel of non-transposed A (rows at a + i * lda, k contiguous) into
 * dst[k * 14 + i], zeroing rows >= m. Sixteen k at a time, the 14 rows (and two zero rows) go
 * through a 16 x 16 register transpose, so the copy costs a few shuffles per element instead
 * of one scattered scalar store each: A is packed for every block, and for skinny products
 * and convolutions (activations are A) this packing rivals the arithmetic.
 */
void graft_sgemm_pack_a_14_avx512(const float *restrict a, size_t lda, int m, int kc,
                                  float *restrict dst) {
    assert(m >= 1 && m <= MR);
    int k = 0;
    for (; k + 16 <= kc; k += 16) {
        __m512 r[16], t[16], u[16], v[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < m ? _mm512_loadu_ps(a + (size_t)i * lda + k) : _mm512_setzero_ps();
        for (int i = 0; i < 16; i += 2) {
            t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int i = 0; i < 16; i += 4) {
            u[i + 0] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
            u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
            u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
            u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
        }
        for (int h = 0; h < 16; h += 8)
            for (int j = 0; j < 4; j++) {
                v[h + j] = _mm512_shuffle_f32x4(u[h + j], u[h + 4 + j], 0x88);
                v[h + 4 + j] = _mm512_shuffle_f32x4(u[h + j], u[h + 4 + j], 0xDD);
            }
        /* Column c of the 16 x 16 block: c = j (0x88) or j + 8 (0xDD), j = v's index mod 8. */
        for (int j = 0; j < 8; j++) {
            _mm512_mask_storeu_ps(dst + (size_t)(k + j) * MR, 0x3fff,
                                  _mm512_shuffle_f32x4(v[j], v[8 + j], 0x88));
            _mm512_mask_storeu_ps(dst + (size_t)(k + 8 + j) * MR, 0x3fff,
                                  _mm512_shuffle_f32x4(v[j], v[8 + j], 0xDD));
        }
    }
    for (; k < kc; k++)
        for (int i = 0; i < MR; i++) dst[(size_t)k * MR + i] = i < m ? a[(size_t)i * lda + k] : 0;
}
