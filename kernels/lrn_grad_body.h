/*
 * kernels/lrn_grad_body.h: the LRN backward pass written once for every SIMD variant. An
 * lrn_grad_<isa>.c file defines the vector type and operations below, then includes this file,
 * which defines LRNG_FN from them:
 *   LRNG_VEC, LRNG_LANES              the vector type and its float count
 *   LRNG_ZERO(), LRNG_SET1(x), LRNG_ADD, LRNG_SUB, LRNG_MUL, LRNG_DIV
 *   LRNG_FMADD(a, b, c)               a * b + c, fused as the forward's (vmath_<isa>.c) is
 *   LRNG_POW(b, e)                    SLEEF's 1-ULP pow, the forward's
 *   LRNG_LOAD(p), LRNG_STORE(p, v)    whole vectors, unaligned
 *   LRNG_TAIL, LRNG_TAIL_FOR(rem), LRNG_LOAD_TAIL(p, t), LRNG_STORE_TAIL(p, t, v)
 *                                     the first rem < LRNG_LANES floats (loads fill zeros)
 *
 * Per pixel, as the forward: the squares go into a row padded with lo zeros before and hi
 * after, so channel c's window is the fixed run sq[c .. c + lo + hi] and a vector of channels
 * sums lo + hi + 1 shifted loads, from zero in increasing channel order; s and s^beta are then
 * the forward's bits. The terms t = dy x s^(-beta-1) go into a row padded the other way (hi
 * zeros before, lo after), because channel c receives from the channels c'' in [c - hi, c + lo]
 * whose windows hold it: another run of fixed length. The padding and the slack after each row
 * are zeroed once per call and never written again (tails store under a mask), so the extra
 * terms add exact zeros. No threading, no argument checks: lrn_grad.c does those.
 */
#include <string.h>

/* g = dy / s^beta and t = g x / s for one vector of channels, sq_win its first window. */
static inline void lrng_terms(const float *sq_win, size_t taps, LRNG_VEC dy, LRNG_VEC x,
                              LRNG_VEC scale, LRNG_VEC beta, LRNG_VEC bias, LRNG_VEC *g,
                              LRNG_VEC *t) {
    LRNG_VEC sum = LRNG_ZERO();
    for (size_t j = 0; j < taps; j++) sum = LRNG_ADD(sum, LRNG_LOAD(sq_win + j));
    LRNG_VEC s = LRNG_FMADD(scale, sum, bias);
    *g = LRNG_DIV(dy, LRNG_POW(s, beta));
    *t = LRNG_DIV(LRNG_MUL(*g, x), s);
}

/* g - coef * x * (the sum of t over the transposed window starting at t_win). */
static inline LRNG_VEC lrng_delta(const float *t_win, size_t taps, LRNG_VEC g, LRNG_VEC x,
                                  LRNG_VEC coef) {
    LRNG_VEC sum = LRNG_ZERO();
    for (size_t j = 0; j < taps; j++) sum = LRNG_ADD(sum, LRNG_LOAD(t_win + j));
    return LRNG_SUB(g, LRNG_MUL(coef, LRNG_MUL(x, sum)));
}

void LRNG_FN(float *restrict dx, const float *restrict dy, const float *restrict x,
             size_t pixels, size_t C, const graft__lrn_args *a, float coef,
             float *restrict ws) {
    const size_t lo = a->lo, hi = a->hi, taps = lo + hi + 1;
    const size_t full = C - C % LRNG_LANES;
    const LRNG_VEC scale = LRNG_SET1(a->scale), beta = LRNG_SET1(a->beta);
    const LRNG_VEC bias = LRNG_SET1(a->bias), coefv = LRNG_SET1(coef);
    float *sq = ws;                                 /* lo zeros, C squares, hi zeros, slack */
    float *g = sq + lo + C + hi + GRAFT__LRN_SLACK; /* C, slack */
    float *t = g + C + GRAFT__LRN_SLACK;            /* hi zeros, C terms, lo zeros, slack */
    float *sq_row = sq + lo, *t_row = t + hi;
    /* The paddings and slacks, and with them everything else: one pass over the scratch. */
    memset(ws, 0, graft__lrn_grad_scratch_floats(C, a) * sizeof(float));
    for (size_t p = 0; p < pixels; p++, dx += C, dy += C, x += C) {
        LRNG_VEC v, gv, tv;
        size_t c;
        for (c = 0; c < full; c += LRNG_LANES) {
            v = LRNG_LOAD(x + c);
            LRNG_STORE(sq_row + c, LRNG_MUL(v, v));
        }
        if (c < C) {
            LRNG_TAIL m = LRNG_TAIL_FOR(C - c);
            v = LRNG_LOAD_TAIL(x + c, m);
            LRNG_STORE_TAIL(sq_row + c, m, LRNG_MUL(v, v));
        }
        for (c = 0; c < full; c += LRNG_LANES) {
            lrng_terms(sq + c, taps, LRNG_LOAD(dy + c), LRNG_LOAD(x + c), scale, beta, bias, &gv,
                       &tv);
            LRNG_STORE(g + c, gv);
            LRNG_STORE(t_row + c, tv);
        }
        if (c < C) {
            LRNG_TAIL m = LRNG_TAIL_FOR(C - c);
            lrng_terms(sq + c, taps, LRNG_LOAD_TAIL(dy + c, m), LRNG_LOAD_TAIL(x + c, m), scale,
                       beta, bias, &gv, &tv);
            LRNG_STORE_TAIL(g + c, m, gv);
            LRNG_STORE_TAIL(t_row + c, m, tv);
        }
        for (c = 0; c < full; c += LRNG_LANES) {
            v = lrng_delta(t + c, taps, LRNG_LOAD(g + c), LRNG_LOAD(x + c), coefv);
            LRNG_STORE(dx + c, LRNG_ADD(LRNG_LOAD(dx + c), v));
        }
        if (c < C) {
            LRNG_TAIL m = LRNG_TAIL_FOR(C - c);
            v = lrng_delta(t + c, taps, LRNG_LOAD_TAIL(g + c, m), LRNG_LOAD_TAIL(x + c, m),
                           coefv);
            LRNG_STORE_TAIL(dx + c, m, LRNG_ADD(LRNG_LOAD_TAIL(dx + c, m), v));
        }
    }
}
