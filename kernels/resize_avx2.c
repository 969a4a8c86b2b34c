/*
 * kernels/resize_avx2.c: the AVX2 resize micro-kernels (kernels/resize.h).
 *
 * Horizontal: one output pixel per accumulator, two taps per 256-bit multiply. The pixels of
 * a tap pair (6 bytes, R G B R G B) are spread to 32-bit lanes R G B _ R G B _ by a byte
 * shuffle and a zero extension, and multiplied by the taps' weights broadcast to the matching
 * halves; the two halves are added at the end. Four output pixels are finished together so
 * that their bytes are packed and stored at once.
 * Vertical: 32 output bytes per step in four accumulators of eight 32-bit lanes, one multiply
 * per tap and lane (vpmulld), then 8-byte steps and a scalar tail.
 *
 * The sums are exact integers, so the bytes equal the reference's. Loads past the last tap
 * byte (at most 2) are allowed only where the driver's `avail` says the bytes exist; other
 * pixels take the scalar path. Nothing here allocates.
 */
#include <immintrin.h>
#include <string.h>

#include "resize.h"

#define HALF (1 << (GRAFT__RESIZE_PRECISION - 1))

/* Bytes R0 G0 B0 R1 G1 B1 at p -> 32-bit lanes R0 G0 B0 x R1 G1 B1 x (reads 8 bytes). */
static inline __m256i load_tap_pair(const uint8_t *p) {
    const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    return _mm256_cvtepu8_epi32(_mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)p), spread));
}

/* One pixel at p -> 32-bit lanes R G B x (reads 4 bytes). */
static inline __m128i load_tap(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
}

/* The unrounded sums R G B x of one output pixel. */
static inline __m128i h_sum(const uint8_t *px, int K, const int32_t *k) {
    const __m256i dup = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    __m256i acc = _mm256_setzero_si256();
    int t = 0;
    for (; t + 2 <= K; t += 2) {
        __m256i w = _mm256_permutevar8x32_epi32(
            _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)(k + t))), dup);
        acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(load_tap_pair(px + 3 * t), w));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    if (t < K) s = _mm_add_epi32(s, _mm_mullo_epi32(load_tap(px + 3 * t), _mm_set1_epi32(k[t])));
    return s;
}

static inline __m128i h_finish(__m128i s) {
    return _mm_srai_epi32(_mm_add_epi32(s, _mm_set1_epi32(HALF)), GRAFT__RESIZE_PRECISION);
}

void graft__resize_h_avx2(uint8_t *restrict dst, const uint8_t *restrict src, size_t avail,
                          int count, int K, const int32_t *restrict start,
                          const int32_t *restrict coef) {
    /* Pixels [0, safe) may load 2 bytes past their last tap; starts never decrease. */
    int safe = count;
    while (safe > 0 && 3 * ((size_t)start[safe - 1] + (size_t)K) + 2 > avail) safe--;
    const __m128i pack12 = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    int i = 0;
    for (; i + 4 <= safe; i += 4) {
        const int32_t *k = coef + (size_t)i * K;
        __m128i s0 = h_finish(h_sum(src + 3 * (size_t)start[i + 0], K, k));
        __m128i s1 = h_finish(h_sum(src + 3 * (size_t)start[i + 1], K, k + K));
        __m128i s2 = h_finish(h_sum(src + 3 * (size_t)start[i + 2], K, k + 2 * K));
        __m128i s3 = h_finish(h_sum(src + 3 * (size_t)start[i + 3], K, k + 3 * K));
        /* Signed saturation to 16 bits keeps every value that matters, then unsigned
         * saturation to 8 bits is Pillow's clip to 0..255. */
        __m128i b = _mm_packus_epi16(_mm_packs_epi32(s0, s1), _mm_packs_epi32(s2, s3));
        b = _mm_shuffle_epi8(b, pack12);
        uint8_t *o = dst + 3 * (size_t)i;
        _mm_storel_epi64((__m128i *)o, b);
        int32_t tail = _mm_extract_epi32(b, 2);
        memcpy(o + 8, &tail, 4);
    }
    for (; i < safe; i++) {
        __m128i s = h_finish(h_sum(src + 3 * (size_t)start[i], K, coef + (size_t)i * K));
        __m128i b = _mm_packus_epi16(_mm_packs_epi32(s, s), s);
        int32_t v = _mm_cvtsi128_si32(b);
        memcpy(dst + 3 * (size_t)i, &v, 2);
        dst[3 * (size_t)i + 2] = (uint8_t)(v >> 16);
    }
    for (; i < count; i++)
        graft__resize_h_pixel(dst + 3 * (size_t)i, src + 3 * (size_t)start[i], K,
                              coef + (size_t)i * K);
}

static inline __m256i v_finish(__m256i s) {
    return _mm256_srai_epi32(s, GRAFT__RESIZE_PRECISION);
}

void graft__resize_v_avx2(uint8_t *restrict dst, const uint8_t *restrict src, size_t stride,
                          int K, const int32_t *restrict coef, size_t bytes) {
    const __m256i half = _mm256_set1_epi32(HALF);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t b = 0;
    for (; b + 32 <= bytes; b += 32) {
        __m256i a0 = half, a1 = half, a2 = half, a3 = half;
        const uint8_t *row = src + b;
        for (int t = 0; t < K; t++, row += stride) {
            const __m256i w = _mm256_set1_epi32(coef[t]);
            a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + 0))), w));
            a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + 8))), w));
            a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + 16))), w));
            a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + 24))), w));
        }
        /* packs/packus work within 128-bit lanes; the permute puts the 4-byte groups back
         * in order. */
        __m256i p = _mm256_packus_epi16(_mm256_packs_epi32(v_finish(a0), v_finish(a1)),
                                        _mm256_packs_epi32(v_finish(a2), v_finish(a3)));
        _mm256_storeu_si256((__m256i *)(dst + b), _mm256_permutevar8x32_epi32(p, order));
    }
    for (; b + 8 <= bytes; b += 8) {
        __m256i a = half;
        const uint8_t *row = src + b;
        for (int t = 0; t < K; t++, row += stride)
            a = _mm256_add_epi32(a, _mm256_mullo_epi32(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)row)),
                _mm256_set1_epi32(coef[t])));
        a = v_finish(a);
        __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        _mm_storel_epi64((__m128i *)(dst + b), _mm_packus_epi16(p, p));
    }
    for (; b < bytes; b++) {
        int32_t s = HALF;
        for (int t = 0; t < K; t++) s += src[(size_t)t * stride + b] * coef[t];
        dst[b] = graft__resize_clip8(s);
    }
}
