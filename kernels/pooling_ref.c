/*
 * kernels/pooling_ref.c: the portable scalar pooling kernels. They are the specification the
 * SIMD variants are tested against, bit for bit, and the fallback on CPUs without them, so they
 * stay plain: one channel at a time, taps in (kh, kw) order. The driver (pooling.c) checks the
 * geometry and splits rows among threads; nothing here checks, allocates or threads.
 */
#include <math.h>

#include "pooling.h"

void graft__pool_row_ref(const graft__pool_shape *s, float *restrict y, const float *restrict x,
                         int oh) {
    const int max = s->kind == GRAFT_POOL_MAX;
    for (int ow = 0; ow < s->OW; ow++) {
        graft__pool_win w;
        graft__pool_window(s, x, oh, ow, &w);
        float *yo = y + (size_t)ow * s->C;
        for (int c = 0; c < s->C; c++) {
            float acc = max ? -INFINITY : 0.0f;
            for (int i = 0; i < w.taps_h; i++)
                for (int j = 0; j < w.taps_w; j++) {
                    float v = w.x[i * w.step_h + j * w.step_w + c];
                    acc = max ? (acc > v ? acc : v) : acc + v;
                }
            yo[c] = max ? acc : acc * w.inv;
        }
    }
}

void graft__global_pool_ref(int kind, float *restrict y, const float *restrict x, size_t pixels,
                            size_t ldx, int C) {
    const int max = kind == GRAFT_POOL_MAX;
    const float inv = 1.0f / (float)pixels;
    for (int c = 0; c < C; c++) {
        float acc = max ? -INFINITY : 0.0f;
        for (size_t p = 0; p < pixels; p++) {
            float v = x[p * ldx + c];
            acc = max ? (acc > v ? acc : v) : acc + v;
        }
        y[c] = max ? acc : acc * inv;
    }
}
