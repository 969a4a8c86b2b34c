/*
 * kernels/pooling_avx512.c: the AVX-512 pooling kernels, vectorised along C (contiguous in
 * NHWC). Each window is reduced in blocks of four zmm accumulators (64 channels), then single
 * vectors, then one vector under a lane mask for the last C % 16 channels (masked-off lanes
 * are neither read nor stored, so nothing past the tensor is touched).
 *
 * Every channel sees the reference's operations in the reference's order (vmaxps is exactly
 * m > v ? m : v, vaddps one IEEE add), so the results equal pooling_ref.c's bit for bit. The
 * driver (pooling.c) does the checking and threading; nothing here allocates.
 */
#include <immintrin.h>
#include <math.h>

#include "pooling.h"

static inline __mmask16 lane_mask(int valid) { return (__mmask16)((1u << valid) - 1u); }

static inline __attribute__((always_inline)) __m512 reduce(const int MAX, __m512 acc, __m512 v) {
    return MAX ? _mm512_max_ps(acc, v) : _mm512_add_ps(acc, v);
}

static inline __attribute__((always_inline)) __m512 finish(const int MAX, __m512 acc,
                                                           __m512 inv) {
    return MAX ? acc : _mm512_mul_ps(acc, inv);
}

/* y (C) from one window, MAX a compile-time constant of each inlined copy. */
static inline __attribute__((always_inline)) void window(const int MAX, const graft__pool_win *w,
                                                         float *restrict y, int C) {
    const __m512 init = _mm512_set1_ps(MAX ? -INFINITY : 0.0f), inv = _mm512_set1_ps(w->inv);
    int c = 0;
    for (; c + 64 <= C; c += 64) {
        __m512 a0 = init, a1 = init, a2 = init, a3 = init;
        for (int i = 0; i < w->taps_h; i++) {
            const float *row = w->x + i * w->step_h + c;
            for (int j = 0; j < w->taps_w; j++) {
                const float *p = row + j * w->step_w;
                a0 = reduce(MAX, a0, _mm512_loadu_ps(p));
                a1 = reduce(MAX, a1, _mm512_loadu_ps(p + 16));
                a2 = reduce(MAX, a2, _mm512_loadu_ps(p + 32));
                a3 = reduce(MAX, a3, _mm512_loadu_ps(p + 48));
            }
        }
        _mm512_storeu_ps(y + c, finish(MAX, a0, inv));
        _mm512_storeu_ps(y + c + 16, finish(MAX, a1, inv));
        _mm512_storeu_ps(y + c + 32, finish(MAX, a2, inv));
        _mm512_storeu_ps(y + c + 48, finish(MAX, a3, inv));
    }
    for (; c + 16 <= C; c += 16) {
        __m512 a = init;
        for (int i = 0; i < w->taps_h; i++)
            for (int j = 0; j < w->taps_w; j++)
                a = reduce(MAX, a, _mm512_loadu_ps(w->x + i * w->step_h + j * w->step_w + c));
        _mm512_storeu_ps(y + c, finish(MAX, a, inv));
    }
    if (c < C) {
        __mmask16 m = lane_mask(C - c);
        __m512 a = init;
        for (int i = 0; i < w->taps_h; i++)
            for (int j = 0; j < w->taps_w; j++) {
                const float *p = w->x + i * w->step_h + j * w->step_w + c;
                a = reduce(MAX, a, _mm512_maskz_loadu_ps(m, p));
            }
        _mm512_mask_storeu_ps(y + c, m, finish(MAX, a, inv));
    }
}

void graft__pool_row_avx512(const graft__pool_shape *s, float *restrict y,
                            const float *restrict x, int oh) {
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
    const __m512 init = _mm512_set1_ps(MAX ? -INFINITY : 0.0f);
    const __m512 inv = _mm512_set1_ps(1.0f / (float)pixels);
    int c = 0;
    for (; c + 64 <= C; c += 64) {
        __m512 a0 = init, a1 = init, a2 = init, a3 = init;
        for (size_t p = 0; p < pixels; p++) {
            const float *xp = x + p * ldx + c;
            a0 = reduce(MAX, a0, _mm512_loadu_ps(xp));
            a1 = reduce(MAX, a1, _mm512_loadu_ps(xp + 16));
            a2 = reduce(MAX, a2, _mm512_loadu_ps(xp + 32));
            a3 = reduce(MAX, a3, _mm512_loadu_ps(xp + 48));
        }
        _mm512_storeu_ps(y + c, finish(MAX, a0, inv));
        _mm512_storeu_ps(y + c + 16, finish(MAX, a1, inv));
        _mm512_storeu_ps(y + c + 32, finish(MAX, a2, inv));
        _mm512_storeu_ps(y + c + 48, finish(MAX, a3, inv));
    }
    for (; c + 16 <= C; c += 16) {
        __m512 a = init;
        for (size_t p = 0; p < pixels; p++) a = reduce(MAX, a, _mm512_loadu_ps(x + p * ldx + c));
        _mm512_storeu_ps(y + c, finish(MAX, a, inv));
    }
    if (c < C) {
        __mmask16 m = lane_mask(C - c);
        __m512 a = init;
        for (size_t p = 0; p < pixels; p++)
            a = reduce(MAX, a, _mm512_maskz_loadu_ps(m, x + p * ldx + c));
        _mm512_mask_storeu_ps(y + c, m, finish(MAX, a, inv));
    }
}

void graft__global_pool_avx512(int kind, float *restrict y, const float *restrict x,
                               size_t pixels, size_t ldx, int C) {
    if (kind == GRAFT_POOL_MAX)
        global(1, y, x, pixels, ldx, C);
    else
        global(0, y, x, pixels, ldx, C);
}
