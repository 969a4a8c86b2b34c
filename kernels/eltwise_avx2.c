/*
 * kernels/eltwise_avx2.c: AVX2 kernels of the elementwise drivers (eltwise.c): binary ops on
 * contiguous runs, batch norm's per-channel multiply-add along C, and the 8 x 8 register
 * transpose of the layout conversions (also used by the AVX-512 variant: every AVX-512 CPU
 * has AVX2, and the transpose is bound by memory, not by vector width).
 *
 * Binary ops are one IEEE operation per element, so they equal the reference bit for bit;
 * the tails use masked loads and stores so nothing past a run is touched. No checking,
 * threading or allocation here.
 */
#include <immintrin.h>

#include "pooling.h"

/* Lane j is on when j < valid. */
static inline __m256i lane_mask(int valid) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __attribute__((always_inline)) __m256 op8(const int OP, __m256 a, __m256 b) {
    switch (OP) {
    case GRAFT_BINARY_ADD: return _mm256_add_ps(a, b);
    case GRAFT_BINARY_SUB: return _mm256_sub_ps(a, b);
    case GRAFT_BINARY_MUL: return _mm256_mul_ps(a, b);
    default: return _mm256_div_ps(a, b);
    }
}

/* One run, OP and MODE compile-time constants of each inlined copy. */
static inline __attribute__((always_inline)) void run(const int OP, const int MODE, float *y,
                                                      const float *a, const float *b, size_t n) {
    const __m256 sa = _mm256_set1_ps(a[0]), sb = _mm256_set1_ps(b[0]);
#define LOAD_A(i) (MODE == GRAFT__BINARY_SV ? sa : _mm256_loadu_ps(a + (i)))
#define LOAD_B(i) (MODE == GRAFT__BINARY_VS ? sb : _mm256_loadu_ps(b + (i)))
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 r0 = op8(OP, LOAD_A(i), LOAD_B(i));
        __m256 r1 = op8(OP, LOAD_A(i + 8), LOAD_B(i + 8));
        __m256 r2 = op8(OP, LOAD_A(i + 16), LOAD_B(i + 16));
        __m256 r3 = op8(OP, LOAD_A(i + 24), LOAD_B(i + 24));
        _mm256_storeu_ps(y + i, r0);
        _mm256_storeu_ps(y + i + 8, r1);
        _mm256_storeu_ps(y + i + 16, r2);
        _mm256_storeu_ps(y + i + 24, r3);
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, op8(OP, LOAD_A(i), LOAD_B(i)));
#undef LOAD_A
#undef LOAD_B
    if (i < n) {
        __m256i m = lane_mask((int)(n - i));
        __m256 va = MODE == GRAFT__BINARY_SV ? sa : _mm256_maskload_ps(a + i, m);
        __m256 vb = MODE == GRAFT__BINARY_VS ? sb : _mm256_maskload_ps(b + i, m);
        _mm256_maskstore_ps(y + i, m, op8(OP, va, vb));
    }
}

#define RUN_MODES(OP)                                                                          \
    case OP * 3 + GRAFT__BINARY_VV: run(OP, GRAFT__BINARY_VV, y, a, b, n); return;             \
    case OP * 3 + GRAFT__BINARY_VS: run(OP, GRAFT__BINARY_VS, y, a, b, n); return;             \
    case OP * 3 + GRAFT__BINARY_SV: run(OP, GRAFT__BINARY_SV, y, a, b, n); return;

void graft__binary_avx2(int op, int mode, float *y, const float *a, const float *b, size_t n) {
    switch (op * 3 + mode) {
        RUN_MODES(GRAFT_BINARY_ADD)
        RUN_MODES(GRAFT_BINARY_SUB)
        RUN_MODES(GRAFT_BINARY_MUL)
        RUN_MODES(GRAFT_BINARY_DIV)
    }
}

void graft__scale_shift_avx2(float *y, const float *x, size_t pixels, int C,
                             const float *restrict scale, const float *restrict shift) {
    const __m256i tail = lane_mask(C % 8);
    const int full = C / 8 * 8;
    for (size_t p = 0; p < pixels; p++) {
        const float *xp = x + p * C;
        float *yp = y + p * C;
        for (int c = 0; c < full; c += 8)
            _mm256_storeu_ps(yp + c, _mm256_fmadd_ps(_mm256_loadu_ps(xp + c),
                                                     _mm256_loadu_ps(scale + c),
                                                     _mm256_loadu_ps(shift + c)));
        if (full < C)
            _mm256_maskstore_ps(yp + full, tail,
                                _mm256_fmadd_ps(_mm256_maskload_ps(xp + full, tail),
                                                _mm256_maskload_ps(scale + full, tail),
                                                _mm256_maskload_ps(shift + full, tail)));
    }
}

/* Rows r[0..7] become columns: the classic unpack / shuffle / lane-permute sequence. */
static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

void graft__transpose_avx2(float *restrict dst, size_t ldd, const float *restrict src,
                           size_t lds, int rows, int cols) {
    const int rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
    for (int i = 0; i < rows8; i += 8) {
        for (int j = 0; j < cols8; j += 8) {
            __m256 r[8];
            for (int k = 0; k < 8; k++) r[k] = _mm256_loadu_ps(src + (size_t)(i + k) * lds + j);
            transpose8(r);
            for (int k = 0; k < 8; k++) _mm256_storeu_ps(dst + (size_t)(j + k) * ldd + i, r[k]);
        }
        for (int k = 0; k < 8; k++)
            for (int j = cols8; j < cols; j++)
                dst[(size_t)j * ldd + i + k] = src[(size_t)(i + k) * lds + j];
    }
    for (int i = rows8; i < rows; i++)
        for (int j = 0; j < cols; j++) dst[(size_t)j * ldd + i] = src[(size_t)i * lds + j];
}
