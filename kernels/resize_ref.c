/*
 * kernels/resize_ref.c: the scalar reference of the resize micro-kernels (kernels/resize.h):
 * Pillow's ImagingResampleHorizontal/Vertical inner loops on RGB rows with padded plans. It
 * is the specification the SIMD variants are tested against and stays plain; it reads no
 * byte past a tap, so `avail` is not needed here.
 */
#include "resize.h"

void graft__resize_h_ref(uint8_t *restrict dst, const uint8_t *restrict src, size_t avail,
                         int count, int K, const int32_t *restrict start,
                         const int32_t *restrict coef) {
    (void)avail;
    for (int i = 0; i < count; i++)
        graft__resize_h_pixel(dst + 3 * (size_t)i, src + 3 * (size_t)start[i], K,
                              coef + (size_t)i * K);
}

void graft__resize_v_ref(uint8_t *restrict dst, const uint8_t *restrict src, size_t stride,
                         int K, const int32_t *restrict coef, size_t bytes) {
    for (size_t b = 0; b < bytes; b++) {
        int32_t s = 1 << (GRAFT__RESIZE_PRECISION - 1);
        for (int t = 0; t < K; t++) s += src[(size_t)t * stride + b] * coef[t];
        dst[b] = graft__resize_clip8(s);
    }
}
