/*
 * kernels/gemm_avx512.c: the AVX-512 SGEMM micro-kernel, a 14 x 32 tile of C in 28 zmm
 * accumulators. Per k step it loads two vectors of packed B and broadcasts 14 elements of
 * packed A straight from memory into the FMAs (embedded {1to16} broadcasts), so 28 FMAs cost
 * 2 vector loads and 14 scalar loads: enough independent chains to hide the 4-cycle FMA latency
 * on two FMA pipes, and few enough loads for the load ports.
 *
 * Partial tiles: the row count and the number of B vectors (one for n <= 16) are compile-time
 * constants of an inlined body (one copy per pair), so a short tile does no wasted FMAs and
 * never reads A beyond its rows; columns past n are masked on load and store.
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

static inline __attribute__((always_inline)) void tile(const int M, const int NV, size_t kc,
                                                        const float *restrict a,
                                                        const float *restrict b, size_t ldb,
                                                        float *restrict c, size_t ldc, int n,
                                                        const graft__ukr_epi *e) {
    /* C's rows are needed only after the k loop; start fetching them now. */
#pragma GCC unroll 14
    for (int i = 0; i < M; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + NR - 1), _MM_HINT_T0);
    }
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 14
    for (int i = 0; i < M; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();

#pragma GCC unroll 4
    for (size_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = NV > 1 ? _mm512_loadu_ps(b + 16) : b0;
#pragma GCC unroll 14
        for (int i = 0; i < M; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
            if (NV > 1) acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
        }
        a += MR;
        b += ldb;
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
                                  size_t ldb, float *restrict c, size_t ldc, int m, int n,
                                  const graft__ukr_epi *epi) {
    assert(m >= 1 && m <= MR && n >= 1 && n <= NR);
    /* A tile of at most 16 columns needs one vector of B per k, not two. */
    switch (m + (n <= 16 ? 0 : 16)) {
#define CASE(M_)                                    \
    case M_:                                        \
        tile(M_, 1, kc, a, b, ldb, c, ldc, n, epi);      \
        break;                                      \
    case M_ + 16:                                   \
        tile(M_, 2, kc, a, b, ldb, c, ldc, n, epi);      \
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
        for (int i = 0; i < 16; i++) {
            /* Rows stream from L3 or memory; ask for the lines two steps ahead. */
            if (i < m) _mm_prefetch((const char *)(a + (size_t)i * lda + k + 32), _MM_HINT_T0);
            r[i] = i < m ? _mm512_loadu_ps(a + (size_t)i * lda + k) : _mm512_setzero_ps();
        }
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

/*
 * Matrix-vector products, for GEMMs with M or N equal to 1 (a single image through a
 * classifier, a GEMV-shaped layer). They are bound by reading x once, so they skip packing
 * altogether and stream x's rows as they are stored.
 *
 * dot: y[r] = sum_k x[r * ldx + k] * v[k]. Each row keeps two vector accumulators over k in
 * steps of 32, whether it is processed in a group of four rows or alone, so its result does
 * not depend on how rows are grouped or split among threads.
 */
static inline __attribute__((always_inline)) void dot_rows(const int R, const float *restrict x,
                                                           size_t ldx, int K,
                                                           const float *restrict v,
                                                           float *restrict y) {
    __m512 acc0[4], acc1[4];
    for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        __m512 v0 = _mm512_loadu_ps(v + k), v1 = _mm512_loadu_ps(v + k + 16);
        for (int r = 0; r < R; r++) {
            acc0[r] = _mm512_fmadd_ps(_mm512_loadu_ps(x + r * ldx + k), v0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(_mm512_loadu_ps(x + r * ldx + k + 16), v1, acc1[r]);
        }
    }
    for (; k < K; k += 16) {
        __mmask16 m = K - k >= 16 ? 0xffff : (__mmask16)((1u << (K - k)) - 1);
        __m512 v0 = _mm512_maskz_loadu_ps(m, v + k);
        for (int r = 0; r < R; r++)
            acc0[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + r * ldx + k), v0, acc0[r]);
    }
    for (int r = 0; r < R; r++) y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

void graft_sgemv_dot_avx512(const float *restrict x, size_t ldx, int rows, int K,
                            const float *restrict v, float *restrict y) {
    int r = 0;
    for (; r + 4 <= rows; r += 4) dot_rows(4, x + (size_t)r * ldx, ldx, K, v, y + r);
    for (; r < rows; r++) dot_rows(1, x + (size_t)r * ldx, ldx, K, v, y + r);
}

/*
 * axpy: y[j] += sum_k v[k] * x[k * ldx + j]. 128 columns at a time live in eight registers
 * while every row of x streams past, so each y[j] is one chain of FMAs in increasing k.
 */
void graft_sgemv_axpy_avx512(const float *restrict x, size_t ldx, int K, int cols,
                             const float *restrict v, float *restrict y) {
    for (int j0 = 0; j0 < cols; j0 += 128) {
        __mmask16 m[8];
        __m512 acc[8];
        for (int q = 0; q < 8; q++) {
            int left = cols - j0 - 16 * q;
            m[q] = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            acc[q] = _mm512_maskz_loadu_ps(m[q], y + j0 + 16 * q);
        }
        if (cols - j0 >= 128) {
            for (int k = 0; k < K; k++) {
                __m512 vk = _mm512_set1_ps(v[k]);
                const float *xk = x + (size_t)k * ldx + j0;
                for (int q = 0; q < 8; q++)
                    acc[q] = _mm512_fmadd_ps(vk, _mm512_loadu_ps(xk + 16 * q), acc[q]);
            }
        } else {
            for (int k = 0; k < K; k++) {
                __m512 vk = _mm512_set1_ps(v[k]);
                const float *xk = x + (size_t)k * ldx + j0;
                for (int q = 0; q < 8; q++)
                    if (m[q])
                        acc[q] = _mm512_fmadd_ps(vk, _mm512_maskz_loadu_ps(m[q], xk + 16 * q),
                                                 acc[q]);
            }
        }
        for (int q = 0; q < 8; q++) _mm512_mask_storeu_ps(y + j0 + 16 * q, m[q], acc[q]);
    }
}
