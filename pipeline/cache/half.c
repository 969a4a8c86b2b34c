/*
 * pipeline/cache/half.c: IEEE 754 binary16 <-> binary32, for caches that store codes as
 * float16 (graft/cache.h).
 *
 * Portable scalar bit manipulation, exact by construction: float -> half rounds to nearest,
 * ties to even, through the subnormal range; overflow gives infinity; NaN stays NaN (quiet,
 * with the top payload bits kept). It deliberately uses no F16C or NEON instructions: the
 * cache converts a segment's codes once per write, far off the hot path.
 */
#include <string.h>

#include "graft/cache.h"

uint16_t graft_f32_to_f16(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    const uint32_t abs = bits & 0x7fffffffu;
    if (abs >= 0x7f800000u) {
        if (abs == 0x7f800000u) return sign | 0x7c00u;
        /* NaN: the quiet bit set so that payloads whose top bits are zero stay NaN. */
        return (uint16_t)(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
    }
    /* 65520 = 65504 + half an ulp: the tie rounds to the even side, which is infinity. */
    if (abs >= 0x477ff000u) return sign | 0x7c00u;
    if (abs < 0x38800000u) {
        /* Below 2^-14, the smallest normal half: the result is a multiple of 2^-24. Anything
         * below 2^-25 rounds to zero; 2^-25 itself is a tie that goes to (even) zero. */
        if (abs < 0x33000000u) return sign;
        const uint32_t exp = abs >> 23, mant = (abs & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - exp; /* 14 .. 24 */
        uint32_t q = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (q & 1))) q++;
        return (uint16_t)(sign | q); /* q == 0x400 is the smallest normal: still right */
    }
    /* Normal: rebias the exponent (127 -> 15) and round off 13 mantissa bits; a carry out
     * of the mantissa increments the exponent, as it should. */
    const uint32_t r = abs - 0x38000000u;
    uint32_t q = r >> 13;
    const uint32_t rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1))) q++;
    return (uint16_t)(sign | q);
}

float graft_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | mant << 13;
    } else if (exp == 0) {
        if (!mant) {
            bits = sign;
        } else {
            /* Subnormal: normalise; every half subnormal is a normal float. */
            int e = 1;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                e--;
            }
            bits = sign | (uint32_t)(e + 112) << 23 | (mant & 0x3ffu) << 13;
        }
    } else {
        bits = sign | (exp + 112) << 23 | mant << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
