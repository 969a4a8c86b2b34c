/*
 * kernels/resize.h: the micro-kernels of Pillow's separable fixed-point resampling (bilinear
 * and bicubic, antialiased) on 8-bit RGB rows, shared by the portable reference
 * (resize_ref.c), the SIMD variants (resize_avx2.c, resize_avx512.c, resize_neon.c) and their
 * driver, pipeline/decode/resize.c, which builds the per-axis plans and walks the rows.
 * Internal to libgraft.
 *
 * A plan gives every output index of an axis the same number of taps K: output i reads the K
 * inputs start[i] .. start[i] + K - 1 with the 22-bit fixed-point weights coef[i * K + t].
 * Pillow's own tap lists are shorter for some outputs; the driver pads them with zero weights
 * and slides the window left where it would pass the end of the axis, which changes no sum.
 * Every kernel adds pixel * weight in 32-bit integers to half an LSB and keeps bits 22 and up,
 * clipped to 0..255: exact integer arithmetic, so every variant gives the reference's bytes
 * whatever order it adds in. Kernels never allocate.
 */
#ifndef GRAFT_RESIZE_INTERNAL_H
#define GRAFT_RESIZE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

/* Fixed-point weights: 8 bits of pixel and 2 of headroom below 32 (Pillow's PRECISION_BITS). */
#define GRAFT__RESIZE_PRECISION 22

/*
 * Horizontal pass over one row: dst (count, 3) from src, a row of RGB pixels, where output
 * pixel i = sum_t src pixel start[i] + t times coef[i * K + t]. `avail` is how many bytes may
 * be read from src onwards (the row and whatever follows it in the same buffer): SIMD
 * variants load a few bytes past a pixel and fall back to scalar code for the pixels whose
 * loads would pass `avail`.
 */
typedef void (*graft__resize_h_fn)(uint8_t *restrict dst, const uint8_t *restrict src,
                                   size_t avail, int count, int K, const int32_t *restrict start,
                                   const int32_t *restrict coef);
/*
 * Vertical pass for one output row: dst[b] = sum_t src[t * stride + b] * coef[t] for
 * b < bytes (the K input rows start at src, `stride` bytes apart).
 */
typedef void (*graft__resize_v_fn)(uint8_t *restrict dst, const uint8_t *restrict src,
                                   size_t stride, int K, const int32_t *restrict coef,
                                   size_t bytes);

typedef struct graft__resize_kernels {
    graft_isa isa;
    graft__resize_h_fn h;
    graft__resize_v_fn v;
} graft__resize_kernels;

void graft__resize_h_ref(uint8_t *restrict dst, const uint8_t *restrict src, size_t avail,
                         int count, int K, const int32_t *restrict start,
                         const int32_t *restrict coef);
void graft__resize_v_ref(uint8_t *restrict dst, const uint8_t *restrict src, size_t stride,
                         int K, const int32_t *restrict coef, size_t bytes);
#if defined(__x86_64__)
void graft__resize_h_avx2(uint8_t *restrict dst, const uint8_t *restrict src, size_t avail,
                          int count, int K, const int32_t *restrict start,
                          const int32_t *restrict coef);
void graft__resize_v_avx2(uint8_t *restrict dst, const uint8_t *restrict src, size_t stride,
                          int K, const int32_t *restrict coef, size_t bytes);
void graft__resize_h_avx512(uint8_t *restrict dst, const uint8_t *restrict src, size_t avail,
                            int count, int K, const int32_t *restrict start,
                            const int32_t *restrict coef);
void graft__resize_v_avx512(uint8_t *restrict dst, const uint8_t *restrict src, size_t stride,
                            int K, const int32_t *restrict coef, size_t bytes);
#endif
#if defined(__aarch64__)
void graft__resize_h_neon(uint8_t *restrict dst, const uint8_t *restrict src, size_t avail,
                          int count, int K, const int32_t *restrict start,
                          const int32_t *restrict coef);
void graft__resize_v_neon(uint8_t *restrict dst, const uint8_t *restrict src, size_t stride,
                          int K, const int32_t *restrict coef, size_t bytes);
#endif

/*
 * The kernels for `isa`, or NULL when this build has none (resize.c). graft__resize_kernels_
 * current gives those of graft_isa_current(); on error it returns the code with the message
 * set (a GRAFT_ISA that cannot be honoured).
 */
const graft__resize_kernels *graft__resize_kernels_for(graft_isa isa);
int graft__resize_kernels_current(const graft__resize_kernels **out);

/* Pillow's clip8 of a finished sum (GCC shifts negative values arithmetically, the floor
 * Pillow's table relies on). */
static inline uint8_t graft__resize_clip8(int32_t ss) {
    int32_t v = ss >> GRAFT__RESIZE_PRECISION;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One output pixel of the horizontal pass, the reference arithmetic the SIMD tails share. */
static inline void graft__resize_h_pixel(uint8_t *restrict out, const uint8_t *restrict px,
                                         int K, const int32_t *restrict k) {
    int32_t s0 = 1 << (GRAFT__RESIZE_PRECISION - 1), s1 = s0, s2 = s0;
    for (int t = 0; t < K; t++) {
        s0 += px[3 * t + 0] * k[t];
        s1 += px[3 * t + 1] * k[t];
        s2 += px[3 * t + 2] * k[t];
    }
    out[0] = graft__resize_clip8(s0);
    out[1] = graft__resize_clip8(s1);
    out[2] = graft__resize_clip8(s2);
}

#endif
