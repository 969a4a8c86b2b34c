/*
 * kernels/eltwise_avx512.c: AVX-512 kernels of the elementwise drivers (eltwise.c): binary ops
 * on contiguous runs and batch norm's per-channel multiply-add along C, 16 lanes at a time with
 * a lane mask for the tail, so nothing past a run is read or written. (The layout conversions
 * use the AVX2 transpose; see eltwise_avx2.c.)
 *
 * Binary ops are one IEEE operation per element, so they equal the reference bit for bit. No
 * checking, threading or allocation here.
 */
#include <immintrin.h>

#include "pooling.h"

static inline __mmask16 lane_mask(int valid) { return (__mmask16)((1u << valid) - 1u); }

static inline __attribute__((always_inline)) __m512 op16(const int OP, __m512 a, __m512 b) {
    switch (OP) {
    case GRAFT_BINARY_ADD: return _mm512_add_ps(a, b);
    case GRAFT_BINARY_SUB: return _mm512_sub_ps(a, b);
    case GRAFT_BINARY_MUL: return _mm512_mul_ps(a, b);
    default: return _mm512_div_ps(a, b);
    }
}

/* One run, OP and MODE compile-time constants of each inlined copy. */
static inline __attribute__((always_inline)) void run(const int OP, const int MODE, float *y,
                                                      const float *a, const float *b, size_t n) {
    const __m512 sa = _mm512_set1_ps(a[0]), sb = _mm512_set1_ps(b[0]);
#define LOAD_A(i) (MODE == GRAFT__BINARY_SV ? sa : _mm512_loadu_ps(a + (i)))
#define LOAD_B(i) (MODE == GRAFT__BINARY_VS ? sb : _mm512_loadu_ps(b + (i)))
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 r0 = op16(OP, LOAD_A(i), LOAD_B(i));
        __m512 r1 = op16(OP, LOAD_A(i + 16), LOAD_B(i + 16));
        __m512 r2 = op16(OP, LOAD_A(i + 32), LOAD_B(i + 32));
        __m512 r3 = op16(OP, LOAD_A(i + 48), LOAD_B(i + 48));
        _mm512_storeu_ps(y + i, r0);
        _mm512_storeu_ps(y + i + 16, r1);
        _mm512_storeu_ps(y + i + 32, r2);
        _mm512_storeu_ps(y + i + 48, r3);
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, op16(OP, LOAD_A(i), LOAD_B(i)));
#undef LOAD_A
#undef LOAD_B
    if (i < n) {
        __mmask16 m = lane_mask((int)(n - i));
        /* Masked-off lanes load 1, not 0, so that a division there raises nothing. */
        const __m512 one = _mm512_set1_ps(1.0f);
        __m512 va = MODE == GRAFT__BINARY_SV ? sa : _mm512_mask_loadu_ps(one, m, a + i);
        __m512 vb = MODE == GRAFT__BINARY_VS ? sb : _mm512_mask_loadu_ps(one, m, b + i);
        _mm512_mask_storeu_ps(y + i, m, op16(OP, va, vb));
    }
}

#define RUN_MODES(OP)                                                                          \
    case OP * 3 + GRAFT__BINARY_VV: run(OP, GRAFT__BINARY_VV, y, a, b, n); return;             \
    case OP * 3 + GRAFT__BINARY_VS: run(OP, GRAFT__BINARY_VS, y, a, b, n); return;             \
    case OP * 3 + GRAFT__BINARY_SV: run(OP, GRAFT__BINARY_SV, y, a, b, n); return;

void graft__binary_avx512(int op, int mode, float *y, const float *a, const float *b, size_t n) {
    switch (op * 3 + mode) {
        RUN_MODES(GRAFT_BINARY_ADD)
        RUN_MODES(GRAFT_BINARY_SUB)
        RUN_MODES(GRAFT_BINARY_MUL)
        RUN_MODES(GRAFT_BINARY_DIV)
    }
}

void graft__scale_shift_avx512(float *y, const float *x, size_t pixels, int C,
                               const float *restrict scale, const float *restrict shift) {
    const __mmask16 tail = lane_mask(C % 16);
    const int full = C / 16 * 16;
    for (size_t p = 0; p < pixels; p++) {
        const float *xp = x + p * C;
        float *yp = y + p * C;
        for (int c = 0; c < full; c += 16)
            _mm512_storeu_ps(yp + c, _mm512_fmadd_ps(_mm512_loadu_ps(xp + c),
                                                     _mm512_loadu_ps(scale + c),
                                                     _mm512_loadu_ps(shift + c)));
        if (full < C)
            _mm512_mask_storeu_ps(yp + full, tail,
                                  _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, xp + full),
                                                  _mm512_maskz_loadu_ps(tail, scale + full),
                                                  _mm512_maskz_loadu_ps(tail, shift + full)));
    }
}
