/*
 * kernels/resize_neon.c: the NEON resize micro-kernels (kernels/resize.h) for aarch64.
 *
 * Horizontal: per output pixel, one tap per step: the tap's 4 bytes (R G B and the next
 * pixel's R, ignored) widened to 32-bit lanes and multiply-accumulated with the weight.
 * Vertical: 16 output bytes per step, widened to four vectors of 32-bit lanes and
 * multiply-accumulated with each row's weight (vmlaq_n_s32), then a scalar tail.
 *
 * Exact integer sums, so the bytes equal the reference's. Horizontal loads reach 1 byte past
 * the last tap byte and only where `avail` allows. Nothing here allocates.
 */
#include <arm_neon.h>
#include <string.h>

#include "resize.h"

#define HALF (1 << (GRAFT__RESIZE_PRECISION - 1))

void graft__resize_h_neon(uint8_t *restrict dst, const uint8_t *restrict src, size_t avail,
                          int count, int K, const int32_t *restrict start,
                          const int32_t *restrict coef) {
    int safe = count;
    while (safe > 0 && 3 * ((size_t)start[safe - 1] + (size_t)K) + 1 > avail) safe--;
    int i = 0;
    for (; i < safe; i++) {
        const uint8_t *px = src + 3 * (size_t)start[i];
        const int32_t *k = coef + (size_t)i * K;
        int32x4_t acc = vdupq_n_s32(HALF);
        for (int t = 0; t < K; t++) {
            uint32_t v;
            memcpy(&v, px + 3 * t, 4);
            uint16x4_t w16 = vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(v))));
            acc = vmlaq_n_s32(acc, vreinterpretq_s32_u32(vmovl_u16(w16)), k[t]);
        }
        int32x4_t s = vshrq_n_s32(acc, GRAFT__RESIZE_PRECISION);
        uint8x8_t b = vqmovun_s16(vcombine_s16(vqmovn_s32(s), vqmovn_s32(s)));
        uint8_t *o = dst + 3 * (size_t)i;
        o[0] = vget_lane_u8(b, 0);
        o[1] = vget_lane_u8(b, 1);
        o[2] = vget_lane_u8(b, 2);
    }
    for (; i < count; i++)
        graft__resize_h_pixel(dst + 3 * (size_t)i, src + 3 * (size_t)start[i], K,
                              coef + (size_t)i * K);
}

void graft__resize_v_neon(uint8_t *restrict dst, const uint8_t *restrict src, size_t stride,
                          int K, const int32_t *restrict coef, size_t bytes) {
    size_t b = 0;
    for (; b + 16 <= bytes; b += 16) {
        int32x4_t a0 = vdupq_n_s32(HALF), a1 = a0, a2 = a0, a3 = a0;
        const uint8_t *row = src + b;
        for (int t = 0; t < K; t++, row += stride) {
            const uint8x16_t v = vld1q_u8(row);
            const int16x8_t lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(v)));
            const int16x8_t hi = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(v)));
            const int32_t w = coef[t];
            a0 = vmlaq_n_s32(a0, vmovl_s16(vget_low_s16(lo)), w);
            a1 = vmlaq_n_s32(a1, vmovl_s16(vget_high_s16(lo)), w);
            a2 = vmlaq_n_s32(a2, vmovl_s16(vget_low_s16(hi)), w);
            a3 = vmlaq_n_s32(a3, vmovl_s16(vget_high_s16(hi)), w);
        }
        int16x8_t p0 = vcombine_s16(vqmovn_s32(vshrq_n_s32(a0, GRAFT__RESIZE_PRECISION)),
                                    vqmovn_s32(vshrq_n_s32(a1, GRAFT__RESIZE_PRECISION)));
        int16x8_t p1 = vcombine_s16(vqmovn_s32(vshrq_n_s32(a2, GRAFT__RESIZE_PRECISION)),
                                    vqmovn_s32(vshrq_n_s32(a3, GRAFT__RESIZE_PRECISION)));
        vst1q_u8(dst + b, vcombine_u8(vqmovun_s16(p0), vqmovun_s16(p1)));
    }
    for (; b < bytes; b++) {
        int32_t s = HALF;
        for (int t = 0; t < K; t++) s += src[(size_t)t * stride + b] * coef[t];
        dst[b] = graft__resize_clip8(s);
    }
}
