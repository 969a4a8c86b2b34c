/*
 * kernels/eltwise_neon.c: aarch64 Advanced SIMD kernels of the elementwise drivers
 * (eltwise.c): binary ops on contiguous runs, batch norm's per-channel multiply-add along C,
 * and the 4 x 4 register transpose of the layout conversions. Tails shorter than a vector run
 * in scalar code, with the same operation per element.
 *
 * Binary ops are one IEEE operation per element (vdivq included), so they equal the reference
 * bit for bit. No checking, threading or allocation here.
 */
#include <arm_neon.h>

#include "pooling.h"

static inline __attribute__((always_inline)) float32x4_t op4(const int OP, float32x4_t a,
                                                             float32x4_t b) {
    switch (OP) {
    case GRAFT_BINARY_ADD: return vaddq_f32(a, b);
    case GRAFT_BINARY_SUB: return vsubq_f32(a, b);
    case GRAFT_BINARY_MUL: return vmulq_f32(a, b);
    default: return vdivq_f32(a, b);
    }
}

/* One run, OP and MODE compile-time constants of each inlined copy. */
static inline __attribute__((always_inline)) void run(const int OP, const int MODE, float *y,
                                                      const float *a, const float *b, size_t n) {
    const float32x4_t sa = vdupq_n_f32(a[0]), sb = vdupq_n_f32(b[0]);
#define LOAD_A(i) (MODE == GRAFT__BINARY_SV ? sa : vld1q_f32(a + (i)))
#define LOAD_B(i) (MODE == GRAFT__BINARY_VS ? sb : vld1q_f32(b + (i)))
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t r0 = op4(OP, LOAD_A(i), LOAD_B(i));
        float32x4_t r1 = op4(OP, LOAD_A(i + 4), LOAD_B(i + 4));
        float32x4_t r2 = op4(OP, LOAD_A(i + 8), LOAD_B(i + 8));
        float32x4_t r3 = op4(OP, LOAD_A(i + 12), LOAD_B(i + 12));
        vst1q_f32(y + i, r0);
        vst1q_f32(y + i + 4, r1);
        vst1q_f32(y + i + 8, r2);
        vst1q_f32(y + i + 12, r3);
    }
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, op4(OP, LOAD_A(i), LOAD_B(i)));
#undef LOAD_A
#undef LOAD_B
    for (; i < n; i++)
        y[i] = graft__binary_apply(OP, MODE == GRAFT__BINARY_SV ? a[0] : a[i],
                                   MODE == GRAFT__BINARY_VS ? b[0] : b[i]);
}

#define RUN_MODES(OP)                                                                          \
    case OP * 3 + GRAFT__BINARY_VV: run(OP, GRAFT__BINARY_VV, y, a, b, n); return;             \
    case OP * 3 + GRAFT__BINARY_VS: run(OP, GRAFT__BINARY_VS, y, a, b, n); return;             \
    case OP * 3 + GRAFT__BINARY_SV: run(OP, GRAFT__BINARY_SV, y, a, b, n); return;

void graft__binary_neon(int op, int mode, float *y, const float *a, const float *b, size_t n) {
    switch (op * 3 + mode) {
        RUN_MODES(GRAFT_BINARY_ADD)
        RUN_MODES(GRAFT_BINARY_SUB)
        RUN_MODES(GRAFT_BINARY_MUL)
        RUN_MODES(GRAFT_BINARY_DIV)
    }
}

void graft__scale_shift_neon(float *y, const float *x, size_t pixels, int C,
                             const float *restrict scale, const float *restrict shift) {
    const int full = C / 4 * 4;
    for (size_t p = 0; p < pixels; p++) {
        const float *xp = x + p * C;
        float *yp = y + p * C;
        for (int c = 0; c < full; c += 4)
            vst1q_f32(yp + c, vfmaq_f32(vld1q_f32(shift + c), vld1q_f32(xp + c),
                                        vld1q_f32(scale + c)));
        for (int c = full; c < C; c++) yp[c] = xp[c] * scale[c] + shift[c];
    }
}

void graft__transpose_neon(float *restrict dst, size_t ldd, const float *restrict src,
                           size_t lds, int rows, int cols) {
    const int rows4 = rows / 4 * 4, cols4 = cols / 4 * 4;
    for (int i = 0; i < rows4; i += 4) {
        for (int j = 0; j < cols4; j += 4) {
            const float *s = src + (size_t)i * lds + j;
            float32x4_t r0 = vld1q_f32(s), r1 = vld1q_f32(s + lds);
            float32x4_t r2 = vld1q_f32(s + 2 * lds), r3 = vld1q_f32(s + 3 * lds);
            /* Pairs of rows interleaved by element, then the pairs by 64-bit halves. */
            float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1));
            float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1));
            float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3));
            float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
            float *d = dst + (size_t)j * ldd + i;
            vst1q_f32(d, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
            vst1q_f32(d + ldd, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
            vst1q_f32(d + 2 * ldd, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
            vst1q_f32(d + 3 * ldd, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
        }
        for (int k = 0; k < 4; k++)
            for (int j = cols4; j < cols; j++)
                dst[(size_t)j * ldd + i + k] = src[(size_t)(i + k) * lds + j];
    }
    for (int i = rows4; i < rows; i++)
        for (int j = 0; j < cols; j++) dst[(size_t)j * ldd + i] = src[(size_t)i * lds + j];
}
