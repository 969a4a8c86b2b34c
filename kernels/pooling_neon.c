/*
 * kernels/pooling_neon.c: the aarch64 Advanced SIMD pooling kernels, vectorised along C
 * (contiguous in NHWC): blocks of four q-register accumulators (16 channels), then single
 * vectors of 4, then the last C % 4 channels one by one in scalar code.
 *
 * NEON's fmax differs from the reference on NaN and on max(+0, -0), so MAX is spelled as a
 * compare and select, m > v ? m : v, exactly the reference's; AVG adds tap by tap in the same
 * order and multiplies by the same reciprocal. The results therefore equal pooling_ref.c's bit
 * for bit. The driver (pooling.c) does the checking and threading; nothing here allocates.
 */
#include <arm_neon.h>
#include <math.h>

#include "pooling.h"

static inline __attribute__((always_inline)) float32x4_t reduce(const int MAX, float32x4_t acc,
                                                                float32x4_t v) {
    return MAX ? vbslq_f32(vcgtq_f32(acc, v), acc, v) : vaddq_f32(acc, v);
}

static inline __attribute__((always_inline)) float32x4_t finish(const int MAX, float32x4_t acc,
                                                                float inv) {
    return MAX ? acc : vmulq_n_f32(acc, inv);
}

static inline __attribute__((always_inline)) float reduce1(const int MAX, float acc, float v) {
    return MAX ? (acc > v ? acc : v) : acc + v;
}

/* y (C) from one window, MAX a compile-time constant of each inlined copy. */
static inline __attribute__((always_inline)) void window(const int MAX, const graft__pool_win *w,
                                                         float *restrict y, int C) {
    const float init1 = MAX ? -INFINITY : 0.0f;
    const float32x4_t init = vdupq_n_f32(init1);
    int c = 0;
    for (; c + 16 <= C; c += 16) {
        float32x4_t a0 = init, a1 = init, a2 = init, a3 = init;
        for (int i = 0; i < w->taps_h; i++) {
            const float *row = w->x + i * w->step_h + c;
            for (int j = 0; j < w->taps_w; j++) {
                const float *p = row + j * w->step_w;
                a0 = reduce(MAX, a0, vld1q_f32(p));
                a1 = reduce(MAX, a1, vld1q_f32(p + 4));
                a2 = reduce(MAX, a2, vld1q_f32(p + 8));
                a3 = reduce(MAX, a3, vld1q_f32(p + 12));
            }
        }
        vst1q_f32(y + c, finish(MAX, a0, w->inv));
        vst1q_f32(y + c + 4, finish(MAX, a1, w->inv));
        vst1q_f32(y + c + 8, finish(MAX, a2, w->inv));
        vst1q_f32(y + c + 12, finish(MAX, a3, w->inv));
    }
    for (; c + 4 <= C; c += 4) {
        float32x4_t a = init;
        for (int i = 0; i < w->taps_h; i++)
            for (int j = 0; j < w->taps_w; j++)
                a = reduce(MAX, a, vld1q_f32(w->x + i * w->step_h + j * w->step_w + c));
        vst1q_f32(y + c, finish(MAX, a, w->inv));
    }
    for (; c < C; c++) {
        float a = init1;
        for (int i = 0; i < w->taps_h; i++)
            for (int j = 0; j < w->taps_w; j++)
                a = reduce1(MAX, a, w->x[i * w->step_h + j * w->step_w + c]);
        y[c] = MAX ? a : a * w->inv;
    }
}

void graft__pool_row_neon(const graft__pool_shape *s, float *restrict y, const float *restrict x,
                          int oh) {
    for (int ow = 0; ow < s->OW; ow++) {
        graft__pool_win w;
        graft__pool_window(s, x, oh, ow, &w);
        if (s->kind == GRAFT_POOL_MAX)
            window(1, &w, y + (size_t)ow * s->C, s->C);
        else
            window(0, &w, y + (size_t)ow * s->C, s->C);
    }
}

static inline __attribute__((always_inline)) void global(const int MAX, float *restrict y,
                                                         const float *restrict x, size_t pixels,
                                                         size_t ldx, int C) {
    const float init1 = MAX ? -INFINITY : 0.0f, inv = 1.0f / (float)pixels;
    const float32x4_t init = vdupq_n_f32(init1);
    int c = 0;
    for (; c + 16 <= C; c += 16) {
        float32x4_t a0 = init, a1 = init, a2 = init, a3 = init;
        for (size_t p = 0; p < pixels; p++) {
            const float *xp = x + p * ldx + c;
            a0 = reduce(MAX, a0, vld1q_f32(xp));
            a1 = reduce(MAX, a1, vld1q_f32(xp + 4));
            a2 = reduce(MAX, a2, vld1q_f32(xp + 8));
            a3 = reduce(MAX, a3, vld1q_f32(xp + 12));
        }
        vst1q_f32(y + c, finish(MAX, a0, inv));
        vst1q_f32(y + c + 4, finish(MAX, a1, inv));
        vst1q_f32(y + c + 8, finish(MAX, a2, inv));
        vst1q_f32(y + c + 12, finish(MAX, a3, inv));
    }
    for (; c + 4 <= C; c += 4) {
        float32x4_t a = init;
        for (size_t p = 0; p < pixels; p++) a = reduce(MAX, a, vld1q_f32(x + p * ldx + c));
        vst1q_f32(y + c, finish(MAX, a, inv));
    }
    for (; c < C; c++) {
        float a = init1;
        for (size_t p = 0; p < pixels; p++) a = reduce1(MAX, a, x[p * ldx + c]);
        y[c] = MAX ? a : a * inv;
    }
}

void graft__global_pool_neon(int kind, float *restrict y, const float *restrict x, size_t pixels,
                             size_t ldx, int C) {
    if (kind == GRAFT_POOL_MAX)
        global(1, y, x, pixels, ldx, C);
    else
        global(0, y, x, pixels, ldx, C);
}
