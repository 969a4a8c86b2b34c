/*
 * kernels/gemm_avx2.c: the AVX2+FMA SGEMM micro-kernel, a 6 x 16 tile of C in 12 ymm
 * accumulators; with two vectors of B and one broadcast of A that is 15 of the 16 ymm
 * registers, the largest tile that does not spill. Same partial-tile scheme as the AVX-512
 * kernel: one inlined body per row count, columns past n handled with masked loads/stores.
 */
#include <assert.h>
#include <immintrin.h>
#include <stdint.h>

#include "kernels.h"

#define MR 6
#define NR 16

static inline __attribute__((always_inline)) __m256 epi_row(const graft__ukr_epi *e, __m256 acc,
                                                             const float *c, __m256i mask,
                                                             float brow, const float *bcol) {
    __m256 x = _mm256_mul_ps(_mm256_set1_ps(e->alpha), acc);
    if (e->beta != 0.0f)
        x = _mm256_fmadd_ps(_mm256_set1_ps(e->beta), _mm256_maskload_ps(c, mask), x);
    if (e->bias_row) x = _mm256_add_ps(x, _mm256_set1_ps(brow));
    if (bcol) x = _mm256_add_ps(x, _mm256_maskload_ps(bcol, mask));
    if (e->act != GRAFT_ACT_NONE) {
        x = _mm256_max_ps(x, _mm256_setzero_ps());
        if (e->act == GRAFT_ACT_RELU6) x = _mm256_min_ps(x, _mm256_set1_ps(6.0f));
    }
    return x;
}

/*
 * The epilogue of a full tile in the common case (alpha 1, beta 0, no row bias: every
 * convolution), with its tests hoisted out of the rows. Tested row by row in epi_row, they
 * held a quarter of the micro-kernel's samples on a 1x1 layer with K = 16. Same arithmetic as
 * epi_row; stream: non-temporal stores (tile_streamed: rows on 64-byte lines).
 */
static inline __attribute__((always_inline)) void store_full(const int M, const int has_bias,
                                                              const int stream,
                                                              const graft_act act,
                                                              const __m256 *acc0,
                                                              const __m256 *acc1, float *c,
                                                              size_t ldc, const float *bc) {
    __m256 b0 = has_bias ? _mm256_loadu_ps(bc) : _mm256_setzero_ps();
    __m256 b1 = has_bias ? _mm256_loadu_ps(bc + 8) : _mm256_setzero_ps();
    const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
#pragma GCC unroll 6
    for (int i = 0; i < M; i++) {
        __m256 x0 = has_bias ? _mm256_add_ps(acc0[i], b0) : acc0[i];
        __m256 x1 = has_bias ? _mm256_add_ps(acc1[i], b1) : acc1[i];
        if (act != GRAFT_ACT_NONE) {
            x0 = _mm256_max_ps(x0, zero);
            x1 = _mm256_max_ps(x1, zero);
        }
        if (act == GRAFT_ACT_RELU6) {
            x0 = _mm256_min_ps(x0, six);
            x1 = _mm256_min_ps(x1, six);
        }
        if (stream) {
            _mm256_stream_ps(c + (size_t)i * ldc, x0);
            _mm256_stream_ps(c + (size_t)i * ldc + 8, x1);
        } else {
            _mm256_storeu_ps(c + (size_t)i * ldc, x0);
            _mm256_storeu_ps(c + (size_t)i * ldc + 8, x1);
        }
    }
}

/* store_full with the activation as a constant; every act but NONE is at least ReLU there. */
static inline __attribute__((always_inline)) void store_full_act(const int M, const int has_bias,
                                                                  const int stream,
                                                                  graft_act act,
                                                                  const __m256 *acc0,
                                                                  const __m256 *acc1, float *c,
                                                                  size_t ldc, const float *bc) {
    if (act == GRAFT_ACT_NONE)
        store_full(M, has_bias, stream, GRAFT_ACT_NONE, acc0, acc1, c, ldc, bc);
    else if (act == GRAFT_ACT_RELU6)
        store_full(M, has_bias, stream, GRAFT_ACT_RELU6, acc0, acc1, c, ldc, bc);
    else
        store_full(M, has_bias, stream, GRAFT_ACT_RELU, acc0, acc1, c, ldc, bc);
}

/* Lane j is on when j < valid (valid may be <= 0 or >= 8). */
static inline __m256i lane_mask(int valid) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __attribute__((always_inline)) void tile(const int M, const int NV, const int ST,
                                                        size_t kc,
                                                        const float *restrict a,
                                                        const float *restrict b, size_t ldb,
                                                        float *restrict c, size_t ldc, int n,
                                                        const graft__ukr_epi *e) {
    /* C's rows are needed only after the k loop; start fetching them now (unless streamed). */
#pragma GCC unroll 14
    for (int i = 0; i < M && !ST; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + NR - 1), _MM_HINT_T0);
    }
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
    for (int i = 0; i < M; i++) acc0[i] = acc1[i] = _mm256_setzero_ps();

#pragma GCC unroll 4
    for (size_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = NV > 1 ? _mm256_loadu_ps(b + 8) : b0;
#pragma GCC unroll 6
        for (int i = 0; i < M; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
            if (NV > 1) acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
        }
        a += MR;
        b += ldb;
    }

    const float *bc = e->bias_col;
    if (n == NR && e->alpha == 1.0f && e->beta == 0.0f && !e->bias_row) {
        if (bc)
            store_full_act(M, 1, ST, e->act, acc0, acc1, c, ldc, bc);
        else
            store_full_act(M, 0, ST, e->act, acc0, acc1, c, ldc, bc);
        return;
    }
    if (n == NR) {
        __m256i all = _mm256_set1_epi32(-1);
#pragma GCC unroll 6
        for (int i = 0; i < M; i++) {
            float *ci = c + (size_t)i * ldc;
            float brow = e->bias_row ? e->bias_row[i] : 0.0f;
            _mm256_storeu_ps(ci, epi_row(e, acc0[i], ci, all, brow, bc));
            _mm256_storeu_ps(ci + 8, epi_row(e, acc1[i], ci + 8, all, brow, bc ? bc + 8 : NULL));
        }
        return;
    }
    __m256i m0 = lane_mask(n), m1 = lane_mask(n - 8);
#pragma GCC unroll 6
    for (int i = 0; i < M; i++) {
        float *ci = c + (size_t)i * ldc;
        float brow = e->bias_row ? e->bias_row[i] : 0.0f;
        _mm256_maskstore_ps(ci, m0, epi_row(e, acc0[i], ci, m0, brow, bc));
        if (n > 8)
            _mm256_maskstore_ps(ci + 8, m1,
                                epi_row(e, acc1[i], ci + 8, m1, brow, bc ? bc + 8 : NULL));
    }
}

static __attribute__((noinline)) void tile_streamed(size_t kc, const float *restrict a,
                                                    const float *restrict b, size_t ldb,
                                                    float *restrict c, size_t ldc,
                                                    const graft__ukr_epi *e) {
    tile(MR, 2, 1, kc, a, b, ldb, c, ldc, NR, e);
}

void graft_sgemm_ukr_6x16_avx2(size_t kc, const float *restrict a, const float *restrict b,
                               size_t ldb, float *restrict c, size_t ldc, int m, int n,
                               const graft__ukr_epi *epi) {
    assert(m >= 1 && m <= MR && n >= 1 && n <= NR);
    /*
     * Streamed (epi->stream) where each row of the tile is one whole 64-byte line, written by
     * two stores before the next row's: write-combining then sends full lines. Its own
     * function, so that the plain tiles' code is as it was without it.
     */
    if (epi->stream && m == MR && n == NR && !((uintptr_t)c & 63) && !(ldc & 15)) {
        tile_streamed(kc, a, b, ldb, c, ldc, epi);
        return;
    }
    /* A tile of at most 8 columns needs one vector of B per k, not two. */
    switch (m + (n <= 8 ? 0 : 8)) {
    case 1: tile(1, 1, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 2: tile(2, 1, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 3: tile(3, 1, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 4: tile(4, 1, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 5: tile(5, 1, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 6: tile(6, 1, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 9: tile(1, 2, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 10: tile(2, 2, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 11: tile(3, 2, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 12: tile(4, 2, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 13: tile(5, 2, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    case 14: tile(6, 2, 0, kc, a, b, ldb, c, ldc, n, epi); break;
    }
}

/*
 * Packs one micro-panel of non-transposed A into dst[k * 6 + i], zeroing rows >= m: eight k
 * at a time through an 8 x 8 register transpose (rows 6 and 7 zero), for the same reason as
 * the AVX-512 packer.
 */
void graft_sgemm_pack_a_6_avx2(const float *restrict a, size_t lda, int m, int kc,
                               float *restrict dst) {
    assert(m >= 1 && m <= MR);
    const __m256i six = lane_mask(MR);
    int k = 0;
    for (; k + 8 <= kc; k += 8) {
        __m256 r[8], t[8], u[8];
        for (int i = 0; i < 8; i++) {
            if (i < m && (k & 15) == 0)
                _mm_prefetch((const char *)(a + (size_t)i * lda + k + 32), _MM_HINT_T0);
            r[i] = i < m ? _mm256_loadu_ps(a + (size_t)i * lda + k) : _mm256_setzero_ps();
        }
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int i = 0; i < 8; i += 4) {
            u[i + 0] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
            u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
            u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
            u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
        }
        /*
         * Plain 8-float stores in increasing k: each spills two floats into the next k's
         * slot, which the next store overwrites. Masked stores are slow on AMD cores; only the
         * last k of the panel, with nothing after it, needs one.
         */
        for (int j = 0; j < 4; j++)
            _mm256_storeu_ps(dst + (size_t)(k + j) * MR,
                             _mm256_permute2f128_ps(u[j], u[4 + j], 0x20));
        for (int j = 0; j < 3; j++)
            _mm256_storeu_ps(dst + (size_t)(k + 4 + j) * MR,
                             _mm256_permute2f128_ps(u[j], u[4 + j], 0x31));
        __m256 last = _mm256_permute2f128_ps(u[3], u[7], 0x31);
        if (k + 8 < kc)
            _mm256_storeu_ps(dst + (size_t)(k + 7) * MR, last);
        else
            _mm256_maskstore_ps(dst + (size_t)(k + 7) * MR, six, last);
    }
    for (; k < kc; k++)
        for (int i = 0; i < MR; i++) dst[(size_t)k * MR + i] = i < m ? a[(size_t)i * lda + k] : 0;
}

/* Matrix-vector products for M or N equal to 1; see gemm_avx512.c for the scheme. */
static inline __attribute__((always_inline)) void dot_rows(const int R, const float *restrict x,
                                                           size_t ldx, int K,
                                                           const float *restrict v,
                                                           float *restrict y) {
    __m256 acc0[4], acc1[4];
    for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m256 v0 = _mm256_loadu_ps(v + k), v1 = _mm256_loadu_ps(v + k + 8);
        for (int r = 0; r < R; r++) {
            acc0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * ldx + k), v0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * ldx + k + 8), v1, acc1[r]);
        }
    }
    for (; k < K; k += 8) {
        __m256i m = lane_mask(K - k);
        __m256 v0 = _mm256_maskload_ps(v + k, m);
        for (int r = 0; r < R; r++)
            acc0[r] = _mm256_fmadd_ps(_mm256_maskload_ps(x + r * ldx + k, m), v0, acc0[r]);
    }
    for (int r = 0; r < R; r++) {
        __m256 s = _mm256_add_ps(acc0[r], acc1[r]);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        y[r] = _mm_cvtss_f32(h);
    }
}

void graft_sgemv_dot_avx2(const float *restrict x, size_t ldx, int rows, int K,
                          const float *restrict v, float *restrict y) {
    int r = 0;
    for (; r + 4 <= rows; r += 4) dot_rows(4, x + (size_t)r * ldx, ldx, K, v, y + r);
    for (; r < rows; r++) dot_rows(1, x + (size_t)r * ldx, ldx, K, v, y + r);
}

void graft_sgemv_axpy_avx2(const float *restrict x, size_t ldx, int K, int cols,
                           const float *restrict v, float *restrict y) {
    for (int j0 = 0; j0 < cols; j0 += 64) {
        __m256i m[8];
        __m256 acc[8];
        for (int q = 0; q < 8; q++) {
            m[q] = lane_mask(cols - j0 - 8 * q);
            acc[q] = _mm256_maskload_ps(y + j0 + 8 * q, m[q]);
        }
        int full = cols - j0 >= 64;
        for (int k = 0; k < K; k++) {
            __m256 vk = _mm256_broadcast_ss(v + k);
            const float *xk = x + (size_t)k * ldx + j0;
            for (int q = 0; q < 8; q++)
                acc[q] = _mm256_fmadd_ps(vk, full ? _mm256_loadu_ps(xk + 8 * q)
                                                  : _mm256_maskload_ps(xk + 8 * q, m[q]),
                                         acc[q]);
        }
        for (int q = 0; q < 8; q++) _mm256_maskstore_ps(y + j0 + 8 * q, m[q], acc[q]);
    }
}
