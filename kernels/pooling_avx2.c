/*
 * kernels/pooling_avx2.c: the AVX2 pooling kernels, vectorised along C (contiguous in NHWC).
 * Each window is reduced in blocks of four ymm accumulators (32 channels, enough independent
 * chains to hide the add latency), then single vectors, then one masked vector for the last
 * C % 8 channels, whose masked-off lanes are neither read from memory nor stored.
 *
 * Every channel sees the reference's operations in the reference's order (maxps is exactly
 * m > v ? m : v, addps one IEEE add), so the results equal pooling_ref.c's bit for bit. The
 * driver (pooling.c) does the checking and threading; nothing here allocates.
 */
#include <immintrin.h>
#include <math.h>

#include "pooling.h"

/* Lane j is on when j < valid. */
static inline __m256i lane_mask(int valid) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __attribute__((always_inline)) __m256 reduce(const int MAX, __m256 acc, __m256 v) {
    return MAX ? _mm256_max_ps(acc, v) : _mm256_add_ps(acc, v);
}

static inline __attribute__((always_inline)) __m256 finish(const int MAX, __m256 acc,
                                                           __m256 inv) {
    return MAX ? acc : _mm256_mul_ps(acc, inv);
}

/* y (C) from one window, MAX a compile-time constant of each inlined copy. */
static inline __attribute__((always_inline)) void window(const int MAX, const graft__pool_win *w,
                                                         float *restrict y, int C) {
    const __m256 init = _mm256_set1_ps(MAX ? -INFINITY : 0.0f), inv = _mm256_set1_ps(w->inv);
    int c = 0;
    for (; c + 32 <= C; c += 32) {
        __m256 a0 = init, a1 = init, a2 = init, a3 = init;
        for (int i = 0; i < w->taps_h; i++) {
            const float *row = w->x + i * w->step_h + c;
            for (int j = 0; j < w->taps_w; j++) {
                const float *p = row + j * w->step_w;
                a0 = reduce(MAX, a0, _mm256_loadu_ps(p));
                a1 = reduce(MAX, a1, _mm256_loadu_ps(p + 8));
                a2 = reduce(MAX, a2, _mm256_loadu_ps(p + 16));
                a3 = reduce(MAX, a3, _mm256_loadu_ps(p + 24));
            }
        }
        _mm256_storeu_ps(y + c, finish(MAX, a0, inv));
        _mm256_storeu_ps(y + c + 8, finish(MAX, a1, inv));
        _mm256_storeu_ps(y + c + 16, finish(MAX, a2, inv));
        _mm256_storeu_ps(y + c + 24, finish(MAX, a3, inv));
    }
    for (; c + 8 <= C; c += 8) {
        __m256 a = init;
        for (int i = 0; i < w->taps_h; i++)
            for (int j = 0; j < w->taps_w; j++)
                a = reduce(MAX, a, _mm256_loadu_ps(w->x + i * w->step_h + j * w->step_w + c));
        _mm256_storeu_ps(y + c, finish(MAX, a, inv));
    }
    if (c < C) {
        __m256i m = lane_mask(C - c);
        __m256 a = init;
        for (int i = 0; i < w->taps_h; i++)
            for (int j = 0; j < w->taps_w; j++) {
                const float *p = w->x + i * w->step_h + j * w->step_w + c;
                a = reduce(MAX, a, _mm256_maskload_ps(p, m));
            }
        _mm256_maskstore_ps(y + c, m, finish(MAX, a, inv));
    }
}

void graft__pool_row_avx2(const graft__pool_shape *s, float *restrict y, const float *restrict x,
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
    const __m256 init = _mm256_set1_ps(MAX ? -INFINITY : 0.0f);
    const __m256 inv = _mm256_set1_ps(1.0f / (float)pixels);
    int c = 0;
    for (; c + 32 <= C; c += 32) {
        __m256 a0 = init, a1 = init, a2 = init, a3 = init;
        for (size_t p = 0; p < pixels; p++) {
            const float *xp = x + p * ldx + c;
            a0 = reduce(MAX, a0, _mm256_loadu_ps(xp));
            a1 = reduce(MAX, a1, _mm256_loadu_ps(xp + 8));
            a2 = reduce(MAX, a2, _mm256_loadu_ps(xp + 16));
            a3 = reduce(MAX, a3, _mm256_loadu_ps(xp + 24));
        }
        _mm256_storeu_ps(y + c, finish(MAX, a0, inv));
        _mm256_storeu_ps(y + c + 8, finish(MAX, a1, inv));
        _mm256_storeu_ps(y + c + 16, finish(MAX, a2, inv));
        _mm256_storeu_ps(y + c + 24, finish(MAX, a3, inv));
    }
    for (; c + 8 <= C; c += 8) {
        __m256 a = init;
        for (size_t p = 0; p < pixels; p++) a = reduce(MAX, a, _mm256_loadu_ps(x + p * ldx + c));
        _mm256_storeu_ps(y + c, finish(MAX, a, inv));
    }
    if (c < C) {
        __m256i m = lane_mask(C - c);
        __m256 a = init;
        for (size_t p = 0; p < pixels; p++)
            a = reduce(MAX, a, _mm256_maskload_ps(x + p * ldx + c, m));
        _mm256_maskstore_ps(y + c, m, finish(MAX, a, inv));
    }
}

void graft__global_pool_avx2(int kind, float *restrict y, const float *restrict x, size_t pixels,
                             size_t ldx, int C) {
    if (kind == GRAFT_POOL_MAX)
        global(1, y, x, pixels, ldx, C);
    else
        global(0, y, x, pixels, ldx, C);
}
