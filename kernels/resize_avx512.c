/*
 * kernels/resize_avx512.c: the AVX-512 resize micro-kernels (kernels/resize.h), the AVX2
 * scheme at twice the width.
 *
 * Horizontal: four taps per 512-bit multiply (12 bytes R G B x 4 spread to 32-bit lanes
 * R G B _ by one byte shuffle, weights broadcast to the matching quarters), the remaining
 * taps in pairs and singly, the quarters folded at the end; four output pixels are packed
 * and stored together. Vertical: 64 output bytes per step in four accumulators of sixteen
 * lanes, then 16-byte steps, then one masked step for the tail, whose masked-off bytes are
 * neither read nor written.
 *
 * Exact integer sums, so the bytes equal the reference's. Horizontal loads reach at most 4
 * bytes past the last tap byte and only where `avail` allows (other pixels take the scalar
 * path). Nothing here allocates.
 */
#include <immintrin.h>
#include <string.h>

#include "resize.h"

#define HALF (1 << (GRAFT__RESIZE_PRECISION - 1))

/* Bytes of 4 pixels at p -> 32-bit lanes R G B x per pixel (reads 16 bytes). */
static inline __m512i load_tap_quad(const uint8_t *p) {
    const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    return _mm512_cvtepu8_epi32(_mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), spread));
}

static inline __m256i load_tap_pair(const uint8_t *p) {
    const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    return _mm256_cvtepu8_epi32(_mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)p), spread));
}

static inline __m128i load_tap(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
}

static inline __m128i h_sum(const uint8_t *px, int K, const int32_t *k) {
    const __m512i dup4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m256i dup2 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    __m512i acc = _mm512_setzero_si512();
    int t = 0;
    for (; t + 4 <= K; t += 4) {
        __m512i w = _mm512_permutexvar_epi32(
            dup4, _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(k + t))));
        acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(load_tap_quad(px + 3 * t), w));
    }
    __m256i a2 = _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
    if (t + 2 <= K) {
        __m256i w = _mm256_permutevar8x32_epi32(
            _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)(k + t))), dup2);
        a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(load_tap_pair(px + 3 * t), w));
        t += 2;
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a2), _mm256_extracti128_si256(a2, 1));
    if (t < K) s = _mm_add_epi32(s, _mm_mullo_epi32(load_tap(px + 3 * t), _mm_set1_epi32(k[t])));
    return s;
}

static inline __m128i h_finish(__m128i s) {
    return _mm_srai_epi32(_mm_add_epi32(s, _mm_set1_epi32(HALF)), GRAFT__RESIZE_PRECISION);
}

void graft__resize_h_avx512(uint8_t *restrict dst, const uint8_t *restrict src, size_t avail,
                            int count, int K, const int32_t *restrict start,
                            const int32_t *restrict coef) {
    int safe = count;
    while (safe > 0 && 3 * ((size_t)start[safe - 1] + (size_t)K) + 4 > avail) safe--;
    const __m128i pack12 = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    int i = 0;
    for (; i + 4 <= safe; i += 4) {
        const int32_t *k = coef + (size_t)i * K;
        __m128i s0 = h_finish(h_sum(src + 3 * (size_t)start[i + 0], K, k));
        __m128i s1 = h_finish(h_sum(src + 3 * (size_t)start[i + 1], K, k + K));
        __m128i s2 = h_finish(h_sum(src + 3 * (size_t)start[i + 2], K, k + 2 * K));
        __m128i s3 = h_finish(h_sum(src + 3 * (size_t)start[i + 3], K, k + 3 * K));
        __m128i b = _mm_packus_epi16(_mm_packs_epi32(s0, s1), _mm_packs_epi32(s2, s3));
        _mm_mask_storeu_epi8(dst + 3 * (size_t)i, 0x0fff, _mm_shuffle_epi8(b, pack12));
    }
    for (; i < safe; i++) {
        __m128i s = h_finish(h_sum(src + 3 * (size_t)start[i], K, coef + (size_t)i * K));
        __m128i b = _mm_packus_epi16(_mm_packs_epi32(s, s), s);
        _mm_mask_storeu_epi8(dst + 3 * (size_t)i, 0x7, b);
    }
    for (; i < count; i++)
        graft__resize_h_pixel(dst + 3 * (size_t)i, src + 3 * (size_t)start[i], K,
                              coef + (size_t)i * K);
}

static inline __m512i v_tap(__m512i acc, const uint8_t *p, __m512i w) {
    return _mm512_add_epi32(acc,
        _mm512_mullo_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)), w));
}

/* 16 sums -> 16 clipped bytes. */
static inline __m128i v_bytes(__m512i s) {
    return _mm512_cvtusepi32_epi8(_mm512_max_epi32(
        _mm512_srai_epi32(s, GRAFT__RESIZE_PRECISION), _mm512_setzero_si512()));
}

void graft__resize_v_avx512(uint8_t *restrict dst, const uint8_t *restrict src, size_t stride,
                            int K, const int32_t *restrict coef, size_t bytes) {
    const __m512i half = _mm512_set1_epi32(HALF);
    size_t b = 0;
    for (; b + 64 <= bytes; b += 64) {
        __m512i a0 = half, a1 = half, a2 = half, a3 = half;
        const uint8_t *row = src + b;
        for (int t = 0; t < K; t++, row += stride) {
            const __m512i w = _mm512_set1_epi32(coef[t]);
            a0 = v_tap(a0, row + 0, w);
            a1 = v_tap(a1, row + 16, w);
            a2 = v_tap(a2, row + 32, w);
            a3 = v_tap(a3, row + 48, w);
        }
        _mm_storeu_si128((__m128i *)(dst + b + 0), v_bytes(a0));
        _mm_storeu_si128((__m128i *)(dst + b + 16), v_bytes(a1));
        _mm_storeu_si128((__m128i *)(dst + b + 32), v_bytes(a2));
        _mm_storeu_si128((__m128i *)(dst + b + 48), v_bytes(a3));
    }
    for (; b + 16 <= bytes; b += 16) {
        __m512i a = half;
        const uint8_t *row = src + b;
        for (int t = 0; t < K; t++, row += stride) a = v_tap(a, row, _mm512_set1_epi32(coef[t]));
        _mm_storeu_si128((__m128i *)(dst + b), v_bytes(a));
    }
    if (b < bytes) {
        const __mmask16 m = (__mmask16)((1u << (bytes - b)) - 1);
        __m512i a = half;
        const uint8_t *row = src + b;
        for (int t = 0; t < K; t++, row += stride)
            a = _mm512_add_epi32(a, _mm512_mullo_epi32(
                _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, row)), _mm512_set1_epi32(coef[t])));
        _mm_mask_storeu_epi8(dst + b, m, v_bytes(a));
    }
}
