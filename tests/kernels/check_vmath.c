/*
 * tests/kernels/check_vmath.c: the activations, softmax and LRN (kernels/vmath*.c). The scalar
 * reference is checked against exact values and against the same formulas in double
 * precision; every SIMD variant the CPU has is checked against the reference (a variant it
 * lacks is reported as skipped) on awkward lengths, extreme values, random bit patterns (every
 * binade, subnormals included) and exp's whole range, with 1 and 2 threads
 * (bit for bit), in place (bit for bit), misaligned, with guard elements around the output;
 * then every error code the three functions return.
 *
 * Tolerances. u = 2^-24 is the unit roundoff of float; a 1-ULP function errs by at most 2u
 * relative. A result passes when |got - ref| <= k * u * max(|ref|, FLT_MIN) + (an absolute
 * term where a formula cancels), per function:
 *   RELU, CLIP, LEAKY_RELU: k = 0, exact (same comparisons and one multiply everywhere).
 *   TANH: k = 4: SLEEF's and libm's tanhf are each within 1 ULP of the truth.
 *   EXP, LOG: k = 4, as TANH. Where exp is subnormal (x < -87.3) an ULP is 2^-149 absolute,
 *     and the FLT_MIN floor of the magnitude makes k u FLT_MIN = 2 such steps, more than the
 *     1.5 by which a 1-ULP and a correctly rounded function can differ.
 *   SIGMOID: k = 10: e = exp(-|x|) differs by up to 4u (both 1-ULP), 1 + e then by up to 4u
 *     (2u from e, as e <= 1 + e, plus one rounding each side), and the quotient's rounding
 *     adds u each side: 4 + 4 + 2.
 *   SILU = x * sigmoid: k = 12 (one more rounding each side), plus 2 |x| 2^-149: where
 *     sigmoid is subnormal (x < -87) it is quantised to 2^-149, and x multiplies that.
 *   GELU = x * h, h = 0.5 (1 + erf): erf differs by 4u absolute (|erf| <= 1), 1 + erf adds a
 *     rounding of up to 2u each side, so h differs by up to 4u absolute, times |x|; then the
 *     product's rounding: k = 4 plus 4u |x|. The |x| term is the cancellation in 1 + erf for
 *     x << 0, which no relative bound covers.
 *   GELU_TANH: as GELU with tanh, plus the SIMD code may fuse the cubic's multiply-add
 *     (differs by u |u'| in the argument, |tanh'| <= 1): k = 4 plus 6u |x|.
 *   HARD_SIGMOID / HARD_SWISH: alpha x + beta may be fused in one and not the other (one
 *     rounding of alpha x, at most u |alpha x|), clamped to [0, 1]; HARD_SWISH multiplies that
 *     by x with |x| <= 3 wherever the clamp is not active: k = 2 plus 2u (|alpha x| + |beta|),
 *     resp. 2u |x|.
 *   softmax: e_i differs by 4u; a sum of D positive terms by at most (D - 1) u rounding each
 *     side plus the 4u of its terms; the division one rounding each side: k = 2 D + 8. This
 *     is the worst case (typical errors are near sqrt(D) u); a wrong or missing term still
 *     shows, because rows of equal inputs give errors of 1 / D.
 *   log-softmax: x - m is computed identically; log(sum) differs by the sum's relative error
 *     ((2 D + 6) u) plus 1 ULP of log each side; the subtraction one rounding each side:
 *     absolute (2 D + 8) u + 4u (|ref| + log D + 1).
 *   LRN: the window sums are bit-identical; bias + scale * sum may be fused (2u), which pow
 *     scales by |beta|; each pow is within 1 ULP (4u), each division rounds once (2u):
 *     k = 6 + 2 |beta|.
 * The reference against double precision uses the same bounds: its own error is at most
 * half of them.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "graft/graft.h"
#include "graft/kernels.h"

#define U ((double)FLT_EPSILON / 2)

typedef struct rng {
    uint64_t s;
} rng;
static double rng_unit(rng *r) { /* [-1, 1) */
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (double)(r->s >> 11) / (double)(1ull << 52) - 1.0;
}

/* Float buffers with a guard element on each side and a one-float misalignment. */
#define GUARD_BITS 0x7fc0abcdu
typedef struct buf {
    float *base, *p;
    size_t n;
} buf;

static int buf_make(buf *b, size_t n) {
    b->n = n;
    b->base = malloc(sizeof(float) * (n + 3));
    if (!b->base) return -1;
    /* base[0] pads to an odd offset, base[1] and base[n + 2] are the guards. */
    b->p = b->base + 2;
    uint32_t g = GUARD_BITS;
    for (size_t i = 0; i < n + 3; i++) memcpy(&b->base[i], &g, sizeof g);
    return 0;
}
static int buf_guards_ok(const buf *b) {
    uint32_t lo, hi;
    memcpy(&lo, b->p - 1, sizeof lo);
    memcpy(&hi, b->p + b->n, sizeof hi);
    return lo == GUARD_BITS && hi == GUARD_BITS;
}
static void buf_free(buf *b) {
    free(b->base);
    b->base = b->p = NULL;
}

static int same_bits(const float *a, const float *b, size_t n) {
    return n == 0 || memcmp(a, b, n * sizeof(float)) == 0;
}

/* NaN matches NaN, an infinity itself, anything else within tol. */
static int close_enough(float got, float want, double tol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs((double)got - (double)want) <= tol;
}

static int use_isa(graft_isa isa, char *msg, size_t len) {
    if (graft_isa_set(isa) != GRAFT_OK) {
        snprintf(msg, len, "%s not available on this CPU", graft_isa_name(isa));
        return GRAFT_CHECK_SKIP;
    }
    return GRAFT_CHECK_PASS;
}

/* ---- activations ----------------------------------------------------------------------- */

typedef struct unary_case {
    graft_unary_op op;
    const char *name;
} unary_case;

static const unary_case unary_cases[] = {
    {{GRAFT_UNARY_RELU, 0, 0}, "relu"},
    {{GRAFT_UNARY_CLIP, 0, 6}, "clip(0,6)"},
    {{GRAFT_UNARY_CLIP, -INFINITY, 1.5f}, "clip(-inf,1.5)"},
    {{GRAFT_UNARY_CLIP, -2.0f, INFINITY}, "clip(-2,inf)"},
    {{GRAFT_UNARY_CLIP, 2.0f, -1.0f}, "clip(2,-1)"},
    {{GRAFT_UNARY_LEAKY_RELU, 0.01f, 0}, "leaky(0.01)"},
    {{GRAFT_UNARY_LEAKY_RELU, 3.0f, 0}, "leaky(3)"},
    {{GRAFT_UNARY_SIGMOID, 0, 0}, "sigmoid"},
    {{GRAFT_UNARY_TANH, 0, 0}, "tanh"},
    {{GRAFT_UNARY_HARD_SIGMOID, 0.2f, 0.5f}, "hard_sigmoid(0.2,0.5)"},
    {{GRAFT_UNARY_HARD_SIGMOID, -1.5f, 0.25f}, "hard_sigmoid(-1.5,0.25)"},
    {{GRAFT_UNARY_HARD_SWISH, 0, 0}, "hard_swish"},
    {{GRAFT_UNARY_SILU, 0, 0}, "silu"},
    {{GRAFT_UNARY_GELU, 0, 0}, "gelu"},
    {{GRAFT_UNARY_GELU_TANH, 0, 0}, "gelu_tanh"},
    {{GRAFT_UNARY_EXP, 0, 0}, "exp"},
    {{GRAFT_UNARY_LOG, 0, 0}, "log"},
    {{GRAFT_UNARY_ABS, 0, 0}, "abs"},
    {{GRAFT_UNARY_SQRT, 0, 0}, "sqrt"},
    {{GRAFT_UNARY_SIGN, 0, 0}, "sign"},
};
#define N_UNARY_CASES ((int)(sizeof unary_cases / sizeof unary_cases[0]))

/* The bounds of the header comment. */
static double unary_tol(const graft_unary_op *op, float x, float ref) {
    double mag = fmax(fabs((double)ref), FLT_MIN), ax = fabs((double)x);
    switch (op->kind) {
    case GRAFT_UNARY_TANH:
    case GRAFT_UNARY_EXP:
    case GRAFT_UNARY_LOG: return 4 * U * mag;
    case GRAFT_UNARY_SIGMOID: return 10 * U * mag;
    case GRAFT_UNARY_SILU: return 12 * U * mag + 2 * ax * FLT_TRUE_MIN;
    case GRAFT_UNARY_GELU: return 4 * U * mag + 4 * U * ax;
    case GRAFT_UNARY_GELU_TANH: return 4 * U * mag + 6 * U * ax;
    case GRAFT_UNARY_HARD_SIGMOID:
        return 2 * U * mag + 2 * U * (fabs((double)op->alpha * x) + fabs((double)op->beta));
    case GRAFT_UNARY_HARD_SWISH: return 2 * U * mag + 2 * U * ax;
    default: return 0.0;
    }
}

/*
 * Values where activations change regime or arithmetic breaks down (for exp: -87.5 and
 * -103.5 give subnormals, 88.72 is just below overflow; for log: 1 and its neighbours).
 */
static const float specials[] = {
    0.0f, -0.0f, FLT_TRUE_MIN, -FLT_TRUE_MIN, 1e-40f, -1e-40f, FLT_MIN, -FLT_MIN, 1e-30f,
    -1e-20f, 1e-8f, -3e-5f, 0.5f, -0.5f, 1.0f, -1.0f, 0.99999994f, 1.00000012f, 3.0f, -3.0f,
    2.5f, -2.5f, 6.0f, -6.0f, 20.0f, -20.0f, -87.5f, 88.7f, -88.7f, 88.72f, 89.0f, -89.0f,
    100.0f, -100.0f, 103.0f, -103.5f, -104.0f, 110.0f, -110.0f, 1e4f, -1e4f, 3e12f, -3e12f,
    1e20f, -1e20f, FLT_MAX, -FLT_MAX, INFINITY, -INFINITY, NAN};
#define N_SPECIALS ((int)(sizeof specials / sizeof specials[0]))

/* Random values over several scales, with a special value at every fourth position. */
static void fill_unary(float *x, size_t n, uint64_t seed) {
    static const double scales[] = {0.01, 1, 4, 12, 100};
    rng r = {seed * 0x9e3779b97f4a7c15ull + 1};
    for (size_t i = 0; i < n; i++)
        x[i] = i % 4 == 3 ? specials[(i / 4 + seed) % N_SPECIALS]
                          : (float)(rng_unit(&r) * scales[i % 5]);
}

/*
 * Every binade at even positions (random bit patterns: both signs, subnormals, a few NaNs and
 * infinities), exp's whole range [-105, 90) at odd ones.
 */
static void fill_wide(float *x, size_t n, uint64_t seed) {
    rng r = {seed * 0x9e3779b97f4a7c15ull + 5};
    for (size_t i = 0; i < n; i++) {
        double u = rng_unit(&r);
        uint32_t bits = (uint32_t)(r.s >> 32);
        if (i % 2 == 0)
            memcpy(&x[i], &bits, sizeof bits);
        else
            x[i] = (float)(-7.5 + 97.5 * u);
    }
}
#define WIDE_N 4099

static const size_t unary_lengths[] = {0,  1,   2,    3,    7,     15, 16, 17,
                                       31, 33, 100, 1000, 4099, 40000};
#define N_UNARY_LENGTHS ((int)(sizeof unary_lengths / sizeof unary_lengths[0]))

/* Runs y = op(x) under `isa` with `threads`; 0 on success, else fills msg. */
static int unary_run(graft_isa isa, int threads, const graft_unary_op *op, float *y,
                     const float *x, size_t n, char *msg, size_t len) {
    if (graft_isa_set(isa) || graft_threads_set(threads) || graft_unary_apply(op, y, x, n)) {
        snprintf(msg, len, "%s n=%zu: %s", graft_isa_name(isa), n, graft_last_error());
        return -1;
    }
    return 0;
}

static int unary_sweep(graft_isa isa, char *msg, size_t len) {
    int st = use_isa(isa, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    int bad = 0, checked = 0;
    for (int k = 0; k < N_UNARY_CASES && !bad; k++) {
        const unary_case *uc = &unary_cases[k];
        /* The lengths, then all the special values in a row, then every binade. */
        for (int l = 0; l < N_UNARY_LENGTHS + 2 && !bad; l++) {
            size_t n = l < N_UNARY_LENGTHS    ? unary_lengths[l]
                       : l == N_UNARY_LENGTHS ? (size_t)N_SPECIALS
                                              : (size_t)WIDE_N;
            buf x = {0}, ref = {0}, y1 = {0}, y2 = {0}, yin = {0};
            if (buf_make(&x, n) | buf_make(&ref, n) | buf_make(&y1, n) | buf_make(&y2, n) |
                buf_make(&yin, n)) {
                snprintf(msg, len, "out of memory");
                bad = 1;
            } else {
                if (l < N_UNARY_LENGTHS)
                    fill_unary(x.p, n, (uint64_t)(k * 31 + l));
                else if (l == N_UNARY_LENGTHS)
                    memcpy(x.p, specials, sizeof specials);
                else
                    fill_wide(x.p, n, (uint64_t)k);
                if (n) memcpy(yin.p, x.p, n * sizeof(float));
                bad = unary_run(GRAFT_ISA_SCALAR, 1, &uc->op, ref.p, x.p, n, msg, len) ||
                      unary_run(isa, 1, &uc->op, y1.p, x.p, n, msg, len) ||
                      unary_run(isa, 2, &uc->op, y2.p, x.p, n, msg, len) ||
                      unary_run(isa, 2, &uc->op, yin.p, yin.p, n, msg, len);
            }
            for (size_t i = 0; i < n && !bad; i++)
                if (!close_enough(y1.p[i], ref.p[i], unary_tol(&uc->op, x.p[i], ref.p[i]))) {
                    snprintf(msg, len, "%s n=%zu: y[%zu] = %.9g for x = %.9g, reference %.9g"
                             " (tol %.3g)", uc->name, n, i, y1.p[i], x.p[i], ref.p[i],
                             unary_tol(&uc->op, x.p[i], ref.p[i]));
                    bad = 1;
                }
            if (!bad && !(buf_guards_ok(&y1) && buf_guards_ok(&y2) && buf_guards_ok(&yin))) {
                snprintf(msg, len, "%s n=%zu: wrote outside y", uc->name, n);
                bad = 1;
            }
            if (!bad && !same_bits(y1.p, y2.p, n)) {
                snprintf(msg, len, "%s n=%zu: 1 and 2 threads differ", uc->name, n);
                bad = 1;
            }
            if (!bad && !same_bits(y1.p, yin.p, n)) {
                snprintf(msg, len, "%s n=%zu: in place differs", uc->name, n);
                bad = 1;
            }
            buf_free(&x), buf_free(&ref), buf_free(&y1), buf_free(&y2), buf_free(&yin);
            checked++;
        }
    }
    graft_isa_set(GRAFT_ISA_AUTO);
    if (bad) return GRAFT_CHECK_FAIL;
    snprintf(msg, len, "%d cases", checked);
    return GRAFT_CHECK_PASS;
}

/* The activations' definitions in double precision, for checking the reference. */
static double unary_truth(const graft_unary_op *op, double x) {
    double a = op->alpha, b = op->beta, h;
    if (isnan(x)) return NAN; /* C's fmin and fmax would drop it */
    switch (op->kind) {
    case GRAFT_UNARY_RELU: return x < 0 ? 0 : x;
    case GRAFT_UNARY_CLIP: return fmin(fmax(x, a), b);
    case GRAFT_UNARY_LEAKY_RELU: return x < 0 ? a * x : x;
    case GRAFT_UNARY_SIGMOID: return 1 / (1 + exp(-x));
    case GRAFT_UNARY_TANH: return tanh(x);
    case GRAFT_UNARY_HARD_SIGMOID: return fmax(0, fmin(1, a * x + b));
    case GRAFT_UNARY_HARD_SWISH: h = fmax(0, fmin(1, x / 6 + 0.5)); break;
    case GRAFT_UNARY_SILU: h = 1 / (1 + exp(-x)); break;
    case GRAFT_UNARY_GELU: h = 0.5 * (1 + erf(x / sqrt(2.0))); break;
    case GRAFT_UNARY_GELU_TANH:
        h = 0.5 * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        break;
    case GRAFT_UNARY_EXP: return exp(x);
    case GRAFT_UNARY_LOG: return log(x); /* NaN below 0, -inf at +-0, as ONNX */
    case GRAFT_UNARY_ABS: return fabs(x);
    case GRAFT_UNARY_SQRT: return sqrt(x);
    case GRAFT_UNARY_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
    default: return NAN;
    }
    return h == 0 ? 0 : x * h;
}

/*
 * The reference against its definitions in double, over a grid, the special values and
 * every binade.
 */
static int reference_matches_double(char *msg, size_t len) {
    if (graft_isa_set(GRAFT_ISA_SCALAR)) {
        snprintf(msg, len, "%s", graft_last_error());
        return GRAFT_CHECK_FAIL;
    }
    enum { GRID = 400, WIDE = 2000 };
    static float x[GRID + N_SPECIALS + WIDE], y[GRID + N_SPECIALS + WIDE];
    for (int i = 0; i < GRID; i++) x[i] = -30.0f + 0.15f * (float)i + 0.0123f;
    memcpy(x + GRID, specials, sizeof specials);
    fill_wide(x + GRID + N_SPECIALS, WIDE, 99);
    const size_t n = GRID + N_SPECIALS + WIDE;
    for (int k = 0; k < N_UNARY_CASES; k++) {
        const graft_unary_op *op = &unary_cases[k].op;
        if (graft_unary_apply(op, y, x, n)) {
            snprintf(msg, len, "%s: %s", unary_cases[k].name, graft_last_error());
            return GRAFT_CHECK_FAIL;
        }
        for (size_t i = 0; i < n; i++) {
            double want = unary_truth(op, x[i]);
            /* Rounded to float: a true value beyond FLT_MAX is inf, as the reference gives. */
            float want_f = (float)want;
            if (!close_enough(y[i], want_f, unary_tol(op, x[i], want_f) + U * fabs(want))) {
                snprintf(msg, len, "%s(%.9g) = %.9g, want %.9g", unary_cases[k].name, x[i],
                         y[i], want);
                return GRAFT_CHECK_FAIL;
            }
        }
    }
    graft_isa_set(GRAFT_ISA_AUTO);
    return GRAFT_CHECK_PASS;
}

/* ---- softmax --------------------------------------------------------------------------- */

#define ROW_KINDS 10

/*
 * Row r of D values by kind r % ROW_KINDS: 0 moderate, 1 +-1e4, 2 two +inf, 3 all -inf,
 * 4 a NaN, 5 half -inf, 6 subnormals and zeros, 7 +-3e38, 8 all equal, 9 spread over [-80, 80]
 * (some exps underflow).
 */
static void fill_softmax_row(float *x, size_t D, size_t r, rng *g) {
    for (size_t i = 0; i < D; i++) {
        double u = rng_unit(g);
        switch (r % ROW_KINDS) {
        case 0: x[i] = (float)(5 * u); break;
        case 1: x[i] = i % 3 == 0 ? (i % 2 ? -1e4f : 1e4f) : (float)(1e4 * u); break;
        case 2: x[i] = (i == 0 || i == D / 2) ? INFINITY : (float)(5 * u); break;
        case 3: x[i] = -INFINITY; break;
        case 4: x[i] = i == D - 1 ? NAN : (float)(5 * u); break;
        case 5: x[i] = i % 2 ? -INFINITY : (float)(5 * u); break;
        case 6: x[i] = i % 3 == 0 ? 0.0f : (float)(1e-40 * u); break;
        case 7: x[i] = u < 0 ? -3e38f : 3e38f; break;
        case 8: x[i] = 7.0f; break;
        default: x[i] = (float)(80 * u); break;
        }
    }
}

static double softmax_tol(int log_softmax, size_t D, float ref) {
    if (log_softmax)
        return (2.0 * D + 8) * U + 4 * U * (fabs((double)ref) + log((double)D) + 1);
    return (2.0 * D + 8) * U * fmax(fabs((double)ref), FLT_MIN);
}

static int softmax_run(graft_isa isa, int threads, float *y, const float *x, size_t rows,
                       size_t D, int lg, char *msg, size_t len) {
    if (graft_isa_set(isa) || graft_threads_set(threads) || graft_softmax(y, x, rows, D, lg)) {
        snprintf(msg, len, "%s rows=%zu D=%zu: %s", graft_isa_name(isa), rows, D,
                 graft_last_error());
        return -1;
    }
    return 0;
}

static int softmax_sweep(graft_isa isa, char *msg, size_t len) {
    int st = use_isa(isa, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    /* Every row kind for each D, then shapes that take several chunks of rows. */
    static const size_t shapes[][2] = {{ROW_KINDS, 1},    {ROW_KINDS, 2},    {ROW_KINDS, 3},
                                       {ROW_KINDS, 17},   {ROW_KINDS, 1000}, {ROW_KINDS, 1001},
                                       {1, 1001},         {40, 1001},        {3000, 17},
                                       {2, 20000}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    int bad = 0;
    for (int s = 0; s < nshapes && !bad; s++) {
        for (int lg = 0; lg < 2 && !bad; lg++) {
            size_t rows = shapes[s][0], D = shapes[s][1], n = rows * D;
            buf x = {0}, ref = {0}, y1 = {0}, y2 = {0}, yin = {0};
            if (buf_make(&x, n) | buf_make(&ref, n) | buf_make(&y1, n) | buf_make(&y2, n) |
                buf_make(&yin, n)) {
                snprintf(msg, len, "out of memory");
                bad = 1;
            } else {
                rng g = {(uint64_t)s * 7919 + 17};
                for (size_t r = 0; r < rows; r++) fill_softmax_row(x.p + r * D, D, r, &g);
                memcpy(yin.p, x.p, n * sizeof(float));
                bad = softmax_run(GRAFT_ISA_SCALAR, 1, ref.p, x.p, rows, D, lg, msg, len) ||
                      softmax_run(isa, 1, y1.p, x.p, rows, D, lg, msg, len) ||
                      softmax_run(isa, 2, y2.p, x.p, rows, D, lg, msg, len) ||
                      softmax_run(isa, 2, yin.p, yin.p, rows, D, lg, msg, len);
            }
            for (size_t i = 0; i < n && !bad; i++)
                if (!close_enough(y1.p[i], ref.p[i], softmax_tol(lg, D, ref.p[i]))) {
                    snprintf(msg, len, "%s rows=%zu D=%zu: y[%zu][%zu] = %.9g, reference %.9g"
                             " (x = %.9g, tol %.3g)", lg ? "log_softmax" : "softmax", rows, D,
                             i / D, i % D, y1.p[i], ref.p[i], x.p[i],
                             softmax_tol(lg, D, ref.p[i]));
                    bad = 1;
                }
            if (!bad && !(buf_guards_ok(&y1) && buf_guards_ok(&y2) && buf_guards_ok(&yin))) {
                snprintf(msg, len, "rows=%zu D=%zu log=%d: wrote outside y", rows, D, lg);
                bad = 1;
            }
            if (!bad && !same_bits(y1.p, y2.p, n)) {
                snprintf(msg, len, "rows=%zu D=%zu log=%d: 1 and 2 threads differ", rows, D, lg);
                bad = 1;
            }
            if (!bad && !same_bits(y1.p, yin.p, n)) {
                snprintf(msg, len, "rows=%zu D=%zu log=%d: in place differs", rows, D, lg);
                bad = 1;
            }
            buf_free(&x), buf_free(&ref), buf_free(&y1), buf_free(&y2), buf_free(&yin);
        }
    }
    graft_isa_set(GRAFT_ISA_AUTO);
    return bad ? GRAFT_CHECK_FAIL : GRAFT_CHECK_PASS;
}

/* ---- LRN ------------------------------------------------------------------------------- */

typedef struct lrn_params {
    float alpha, beta, bias;
} lrn_params;

static int lrn_run(graft_isa isa, int threads, float *y, const float *x, size_t pixels,
                   size_t C, int size, const lrn_params *p, char *msg, size_t len) {
    if (graft_isa_set(isa) || graft_threads_set(threads) ||
        graft_lrn_nhwc(y, x, pixels, C, size, p->alpha, p->beta, p->bias)) {
        snprintf(msg, len, "%s pixels=%zu C=%zu size=%d: %s", graft_isa_name(isa), pixels, C,
                 size, graft_last_error());
        return -1;
    }
    return 0;
}

/* One LRN problem through the reference and `isa` (1 and 2 threads, in place). */
static int lrn_case(graft_isa isa, size_t pixels, size_t C, int size, const lrn_params *p,
                    uint64_t seed, char *msg, size_t len) {
    size_t n = pixels * C;
    buf x = {0}, ref = {0}, y1 = {0}, y2 = {0}, yin = {0};
    int bad = 0;
    if (buf_make(&x, n) | buf_make(&ref, n) | buf_make(&y1, n) | buf_make(&y2, n) |
        buf_make(&yin, n)) {
        snprintf(msg, len, "out of memory");
        bad = 1;
    } else {
        rng g = {seed * 0x9e3779b97f4a7c15ull + 3};
        static const float odd[] = {0.0f, -0.0f, 1e-40f, 1e20f, -1e3f, INFINITY, NAN};
        for (size_t i = 0; i < n; i++)
            x.p[i] = (float)(10 * rng_unit(&g));
        /* Extreme values in a few pixels only, so most windows stay ordinary. */
        for (size_t i = 0; i < n; i += 37) x.p[i] = odd[(i / 37 + seed) % 7];
        memcpy(yin.p, x.p, n * sizeof(float));
        bad = lrn_run(GRAFT_ISA_SCALAR, 1, ref.p, x.p, pixels, C, size, p, msg, len) ||
              lrn_run(isa, 1, y1.p, x.p, pixels, C, size, p, msg, len) ||
              lrn_run(isa, 2, y2.p, x.p, pixels, C, size, p, msg, len) ||
              lrn_run(isa, 2, yin.p, yin.p, pixels, C, size, p, msg, len);
    }
    double k = 6 + 2 * fabs((double)p->beta);
    for (size_t i = 0; i < n && !bad; i++) {
        double tol = k * U * fmax(fabs((double)ref.p[i]), FLT_MIN);
        if (!close_enough(y1.p[i], ref.p[i], tol)) {
            snprintf(msg, len, "pixels=%zu C=%zu size=%d beta=%g: y[%zu][%zu] = %.9g,"
                     " reference %.9g (tol %.3g)", pixels, C, size, p->beta, i / C, i % C,
                     y1.p[i], ref.p[i], tol);
            bad = 1;
        }
    }
    if (!bad && !(buf_guards_ok(&y1) && buf_guards_ok(&y2) && buf_guards_ok(&yin))) {
        snprintf(msg, len, "pixels=%zu C=%zu size=%d: wrote outside y", pixels, C, size);
        bad = 1;
    }
    if (!bad && !(same_bits(y1.p, y2.p, n) && same_bits(y1.p, yin.p, n))) {
        snprintf(msg, len, "pixels=%zu C=%zu size=%d: 1 vs 2 threads or in place differ",
                 pixels, C, size);
        bad = 1;
    }
    buf_free(&x), buf_free(&ref), buf_free(&y1), buf_free(&y2), buf_free(&yin);
    return bad;
}

static int lrn_sweep(graft_isa isa, char *msg, size_t len) {
    int st = use_isa(isa, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    static const size_t pixel_counts[] = {1, 2, 7, 33};
    static const size_t channels[] = {1, 2, 3, 7, 15, 16, 17, 31, 33, 100};
    static const int sizes[] = {1, 2, 3, 5, 8, 200};
    static const lrn_params params[] = {{1e-4f, 0.75f, 1.0f}, {2.0f, 0.5f, 2.0f},
                                        {1.0f, 1.5f, 0.5f}};
    int bad = 0, idx = 0;
    for (int a = 0; a < 4 && !bad; a++)
        for (int b = 0; b < 10 && !bad; b++)
            for (int c = 0; c < 6 && !bad; c++, idx++)
                bad = lrn_case(isa, pixel_counts[a], channels[b], sizes[c],
                               &params[graft_check_pick((uint64_t)idx, 0, 3)], (uint64_t)idx,
                               msg, len);
    /* Several chunks of pixels, and pixels wider than a chunk. */
    if (!bad) bad = lrn_case(isa, 5000, 7, 5, &params[0], 1001, msg, len);
    if (!bad) bad = lrn_case(isa, 3, 20000, 3, &params[1], 1002, msg, len);
    graft_isa_set(GRAFT_ISA_AUTO);
    return bad ? GRAFT_CHECK_FAIL : GRAFT_CHECK_PASS;
}

/* ---- exact and known values of the reference ------------------------------------------- */

#define EXPECT(cond, ...)                                                                      \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            snprintf(msg, len, __VA_ARGS__);                                                   \
            return GRAFT_CHECK_FAIL;                                                           \
        }                                                                                      \
    } while (0)

static int one(graft_unary kind, float alpha, float beta, float x, float *y) {
    graft_unary_op op = {kind, alpha, beta};
    return graft_unary_apply(&op, y, &x, 1);
}

/*
 * Known values, in every variant. Exact where the arithmetic is exact (0.5, 1 / D, clamps),
 * within the header's bounds of a double-precision value otherwise.
 */
static int known_values(graft_isa isa, char *msg, size_t len) {
    int st = use_isa(isa, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    static const struct {
        graft_unary kind;
        float alpha, beta, x, want;
    } exact[] = {
        {GRAFT_UNARY_SIGMOID, 0, 0, 0.0f, 0.5f}, {GRAFT_UNARY_SIGMOID, 0, 0, INFINITY, 1},
        {GRAFT_UNARY_SIGMOID, 0, 0, -INFINITY, 0}, {GRAFT_UNARY_TANH, 0, 0, 0.0f, 0.0f},
        {GRAFT_UNARY_TANH, 0, 0, INFINITY, 1}, {GRAFT_UNARY_TANH, 0, 0, -INFINITY, -1},
        {GRAFT_UNARY_RELU, 0, 0, -3, 0}, {GRAFT_UNARY_RELU, 0, 0, 2.5f, 2.5f},
        {GRAFT_UNARY_CLIP, 0, 6, -1, 0}, {GRAFT_UNARY_CLIP, 0, 6, 7, 6},
        {GRAFT_UNARY_CLIP, 0, 6, 3, 3}, {GRAFT_UNARY_LEAKY_RELU, 0.01f, 0, -2, -0.02f},
        {GRAFT_UNARY_LEAKY_RELU, 0.01f, 0, 2, 2}, {GRAFT_UNARY_HARD_SIGMOID, 0.2f, 0.5f, 0, 0.5f},
        {GRAFT_UNARY_HARD_SIGMOID, 0.2f, 0.5f, 2.5f, 1},
        {GRAFT_UNARY_HARD_SIGMOID, 0.2f, 0.5f, -2.5f, 0},
        {GRAFT_UNARY_HARD_SIGMOID, 0.2f, 0.5f, 10, 1}, {GRAFT_UNARY_HARD_SWISH, 0, 0, 3, 3},
        {GRAFT_UNARY_HARD_SWISH, 0, 0, -3, 0}, {GRAFT_UNARY_HARD_SWISH, 0, 0, 0, 0},
        {GRAFT_UNARY_HARD_SWISH, 0, 0, 6, 6}, {GRAFT_UNARY_HARD_SWISH, 0, 0, -INFINITY, 0},
        {GRAFT_UNARY_HARD_SWISH, 0, 0, INFINITY, INFINITY}, {GRAFT_UNARY_SILU, 0, 0, 0, 0},
        {GRAFT_UNARY_SILU, 0, 0, -INFINITY, 0}, {GRAFT_UNARY_SILU, 0, 0, INFINITY, INFINITY},
        {GRAFT_UNARY_GELU, 0, 0, 0, 0}, {GRAFT_UNARY_GELU, 0, 0, -INFINITY, 0},
        {GRAFT_UNARY_GELU, 0, 0, INFINITY, INFINITY}, {GRAFT_UNARY_GELU_TANH, 0, 0, 0, 0},
        {GRAFT_UNARY_GELU_TANH, 0, 0, -INFINITY, 0},
        {GRAFT_UNARY_GELU_TANH, 0, 0, INFINITY, INFINITY}, {GRAFT_UNARY_EXP, 0, 0, 0, 1},
        {GRAFT_UNARY_EXP, 0, 0, -0.0f, 1}, {GRAFT_UNARY_EXP, 0, 0, FLT_TRUE_MIN, 1},
        {GRAFT_UNARY_EXP, 0, 0, -1e-40f, 1}, {GRAFT_UNARY_EXP, 0, 0, -INFINITY, 0},
        {GRAFT_UNARY_EXP, 0, 0, INFINITY, INFINITY}, {GRAFT_UNARY_EXP, 0, 0, -200, 0},
        {GRAFT_UNARY_EXP, 0, 0, 200, INFINITY}, {GRAFT_UNARY_EXP, 0, 0, -FLT_MAX, 0},
        {GRAFT_UNARY_EXP, 0, 0, FLT_MAX, INFINITY}, {GRAFT_UNARY_LOG, 0, 0, 1, 0},
        {GRAFT_UNARY_LOG, 0, 0, 0, -INFINITY}, {GRAFT_UNARY_LOG, 0, 0, -0.0f, -INFINITY},
        {GRAFT_UNARY_LOG, 0, 0, INFINITY, INFINITY},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        float y;
        EXPECT(one(exact[i].kind, exact[i].alpha, exact[i].beta, exact[i].x, &y) == GRAFT_OK,
               "%s", graft_last_error());
        EXPECT(y == exact[i].want, "kind %d (%g, %g) of %g = %.9g, want %.9g", exact[i].kind,
               exact[i].alpha, exact[i].beta, exact[i].x, y, exact[i].want);
    }
    for (int k = 0; k < GRAFT_UNARY_COUNT; k++) {
        float y;
        EXPECT(one((graft_unary)k, 0.5f, 1.0f, NAN, &y) == GRAFT_OK && isnan(y),
               "kind %d of NaN = %g, want NaN", k, y);
    }
    /* ONNX Log of anything below 0, however small or large, is NaN. */
    static const float log_nan[] = {-1.0f, -FLT_TRUE_MIN, -1e-40f, -FLT_MAX, -INFINITY};
    for (size_t i = 0; i < sizeof log_nan / sizeof log_nan[0]; i++) {
        float y;
        EXPECT(one(GRAFT_UNARY_LOG, 0, 0, log_nan[i], &y) == GRAFT_OK && isnan(y),
               "log(%g) = %g, want NaN", log_nan[i], y);
    }
    /*
     * exp and log against libm's double, within 1 ULP each way (4u relative) plus one step of
     * 2^-149 where exp is subnormal; log of subnormals must not be flushed to log(0).
     */
    static const struct {
        graft_unary kind;
        float x;
    } exp_log[] = {
        {GRAFT_UNARY_EXP, 1},       {GRAFT_UNARY_EXP, -1},      {GRAFT_UNARY_EXP, 10},
        {GRAFT_UNARY_EXP, 88},      {GRAFT_UNARY_EXP, 88.72f},  {GRAFT_UNARY_EXP, -87},
        {GRAFT_UNARY_EXP, -100},    {GRAFT_UNARY_EXP, -103},    {GRAFT_UNARY_LOG, 2},
        {GRAFT_UNARY_LOG, 0.5f},    {GRAFT_UNARY_LOG, 10},      {GRAFT_UNARY_LOG, FLT_MAX},
        {GRAFT_UNARY_LOG, FLT_MIN}, {GRAFT_UNARY_LOG, 1e-40f},  {GRAFT_UNARY_LOG, FLT_TRUE_MIN},
        {GRAFT_UNARY_LOG, 1 + FLT_EPSILON}, {GRAFT_UNARY_LOG, 1 - FLT_EPSILON / 2},
    };
    for (size_t i = 0; i < sizeof exp_log / sizeof exp_log[0]; i++) {
        float y;
        double x = exp_log[i].x;
        double want = exp_log[i].kind == GRAFT_UNARY_EXP ? exp(x) : log(x);
        EXPECT(one(exp_log[i].kind, 0, 0, exp_log[i].x, &y) == GRAFT_OK, "%s",
               graft_last_error());
        EXPECT(fabs(y - want) <= 4 * U * fabs(want) + FLT_TRUE_MIN, "%s(%.9g) = %.9g, want %.9g",
               exp_log[i].kind == GRAFT_UNARY_EXP ? "exp" : "log", x, y, want);
    }
    /* Textbook values: GELU(1) = Phi(1), HardSwish(1) = 2/3, sigmoid(-1), GELU_TANH(1). */
    static const struct {
        graft_unary kind;
        float x;
        double want;
    } approx[] = {{GRAFT_UNARY_GELU, 1, 0.8413447460685429}, {GRAFT_UNARY_HARD_SWISH, 1, 2.0 / 3},
                  {GRAFT_UNARY_SIGMOID, -1, 0.2689414213699951},
                  {GRAFT_UNARY_GELU_TANH, 1, 0.8411919906082768}};
    for (size_t i = 0; i < sizeof approx / sizeof approx[0]; i++) {
        float y;
        EXPECT(one(approx[i].kind, 0, 0, approx[i].x, &y) == GRAFT_OK, "%s", graft_last_error());
        EXPECT(fabs(y - approx[i].want) <= 8 * U * approx[i].want,
               "kind %d of %g = %.9g, want %.9g", approx[i].kind, approx[i].x, y, approx[i].want);
    }

    /* Softmax of equal inputs: exactly 1 / D (a sum of ones is exact); log: -log D. */
    static const size_t Ds[] = {1, 2, 3, 4, 17, 1000};
    static float row[1000], out[1000];
    for (size_t d = 0; d < sizeof Ds / sizeof Ds[0]; d++) {
        size_t D = Ds[d];
        for (size_t i = 0; i < D; i++) row[i] = -3.25f;
        EXPECT(graft_softmax(out, row, 1, D, 0) == GRAFT_OK, "%s", graft_last_error());
        for (size_t i = 0; i < D; i++)
            EXPECT(out[i] == 1.0f / (float)D, "softmax of %zu equal inputs: y[%zu] = %.9g", D,
                   i, out[i]);
        EXPECT(graft_softmax(out, row, 1, D, 1) == GRAFT_OK, "%s", graft_last_error());
        for (size_t i = 0; i < D; i++)
            EXPECT(fabs(out[i] + log((double)D)) <= 4 * U * (log((double)D) + 1),
                   "log_softmax of %zu equal inputs: y[%zu] = %.9g", D, i, out[i]);
    }
    /* Large, infinite and NaN inputs. */
    static const struct {
        float x[3];
        size_t D;
        float soft[3], logsoft[3];
    } rows[] = {
        {{1e4f, -1e4f}, 2, {1, 0}, {0, -2e4f}},
        {{-1e4f, 1e4f, 1e4f}, 3, {0, 0.5f, 0.5f}, {-20000.6931f, -0.693147182f, -0.693147182f}},
        {{INFINITY, 1, INFINITY}, 3, {0.5f, 0, 0.5f}, {-0.693147182f, -INFINITY, -0.693147182f}},
        {{-INFINITY, -INFINITY, -INFINITY}, 3, {1.0f / 3, 1.0f / 3, 1.0f / 3},
         {-1.09861231f, -1.09861231f, -1.09861231f}},
        {{-INFINITY, 0}, 2, {0, 1}, {-INFINITY, 0}},
        {{1, NAN, 2}, 3, {NAN, NAN, NAN}, {NAN, NAN, NAN}},
        {{INFINITY, NAN}, 2, {NAN, NAN}, {NAN, NAN}},
        {{3e38f, -3e38f}, 2, {1, 0}, {0, -INFINITY}},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        for (int lg = 0; lg < 2; lg++) {
            EXPECT(graft_softmax(out, rows[r].x, 1, rows[r].D, lg) == GRAFT_OK, "%s",
                   graft_last_error());
            for (size_t i = 0; i < rows[r].D; i++) {
                float want = lg ? rows[r].logsoft[i] : rows[r].soft[i];
                EXPECT(close_enough(out[i], want, 2 * U * fabs(want)),
                       "%s row %zu: y[%zu] = %.9g, want %.9g", lg ? "log_softmax" : "softmax",
                       r, i, out[i], want);
            }
        }
    }
    /* softmax(1, 2, 3) against double. */
    const float x123[3] = {1, 2, 3};
    EXPECT(graft_softmax(out, x123, 1, 3, 0) == GRAFT_OK, "%s", graft_last_error());
    double s123 = exp(1.0) + exp(2.0) + exp(3.0);
    for (int i = 0; i < 3; i++)
        EXPECT(fabs(out[i] - exp(i + 1.0) / s123) <= 14 * U * exp(i + 1.0) / s123,
               "softmax(1, 2, 3)[%d] = %.9g", i, out[i]);

    /* LRN: x = (1, 2, 3), beta = 1, bias = 0, alpha = size so the scale is 1. */
    const float x3[3] = {1, 2, 3};
    static const struct {
        int size;
        double want[3];
    } lrn[] = {
        {1, {1.0, 0.5, 1.0 / 3}},                   /* x / x^2 */
        {2, {1.0 / 5, 2.0 / 13, 3.0 / 9}},          /* window [c, c + 1] */
        {3, {1.0 / 5, 2.0 / 14, 3.0 / 13}},         /* window [c - 1, c + 1] */
        {4, {1.0 / 14, 2.0 / 14, 3.0 / 13}},        /* window [c - 1, c + 2] */
    };
    for (size_t t = 0; t < sizeof lrn / sizeof lrn[0]; t++) {
        EXPECT(graft_lrn_nhwc(out, x3, 1, 3, lrn[t].size, (float)lrn[t].size, 1, 0) == GRAFT_OK,
               "%s", graft_last_error());
        for (int c = 0; c < 3; c++)
            EXPECT(fabs(out[c] - lrn[t].want[c]) <= 10 * U * lrn[t].want[c],
                   "lrn size %d: y[%d] = %.9g, want %.9g", lrn[t].size, c, out[c],
                   lrn[t].want[c]);
    }
    /* ONNX's defaults on one channel: x / (1 + 1e-4 x^2)^0.75. */
    EXPECT(graft_lrn_nhwc(out, x3 + 2, 1, 1, 5, 1e-4f, 0.75f, 1.0f) == GRAFT_OK, "%s",
           graft_last_error());
    double want = 3.0 / pow(1.0 + 1e-4 / 5 * 9.0, 0.75);
    EXPECT(fabs(out[0] - want) <= 10 * U * want, "lrn defaults: %.9g, want %.9g", out[0], want);
    graft_isa_set(GRAFT_ISA_AUTO);
    return GRAFT_CHECK_PASS;
}

/* ---- errors ---------------------------------------------------------------------------- */

#define EXPECT_ERR(call, code)                                                                 \
    do {                                                                                       \
        int e_ = (call);                                                                       \
        if (e_ != (code)) {                                                                    \
            snprintf(msg, len, "%s returned %s, want %s", #call, graft_err_name(e_),           \
                     graft_err_name(code));                                                    \
            return GRAFT_CHECK_FAIL;                                                           \
        }                                                                                      \
        if ((code) != GRAFT_OK && graft_last_error()[0] == '\0') {                             \
            snprintf(msg, len, "%s left no message", #call);                                   \
            return GRAFT_CHECK_FAIL;                                                           \
        }                                                                                      \
    } while (0)

/* Every error the three functions return from their arguments, each with a message. */
static int rejects_bad_arguments(char *msg, size_t len) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8];
    for (int i = 0; i < 8; i++) y[i] = 42.0f;
    const graft_unary_op relu = {GRAFT_UNARY_RELU, 0, 0};
    const graft_unary_op bad_kind = {(graft_unary)GRAFT_UNARY_COUNT, 0, 0};
    const graft_unary_op neg_kind = {(graft_unary)-1, 0, 0};
    const graft_unary_op clip_nan = {GRAFT_UNARY_CLIP, NAN, 6};
    const graft_unary_op clip_inf = {GRAFT_UNARY_CLIP, -INFINITY, INFINITY};
    const graft_unary_op leaky_inf = {GRAFT_UNARY_LEAKY_RELU, INFINITY, 0};
    const graft_unary_op hsig_inf = {GRAFT_UNARY_HARD_SIGMOID, 0.2f, -INFINITY};
    const graft_unary_op relu_nan = {GRAFT_UNARY_RELU, NAN, NAN}; /* RELU reads neither */
    const graft_unary_op exp_inf = {GRAFT_UNARY_EXP, INFINITY, NAN}; /* nor EXP and LOG */
    const graft_unary_op log_ignored = {GRAFT_UNARY_LOG, NAN, -INFINITY};

    EXPECT_ERR(graft_unary_apply(NULL, y, x, 8), GRAFT_EINVAL);
    EXPECT_ERR(graft_unary_apply(&bad_kind, y, x, 8), GRAFT_EINVAL);
    EXPECT_ERR(graft_unary_apply(&neg_kind, y, x, 8), GRAFT_EINVAL);
    EXPECT_ERR(graft_unary_apply(&clip_nan, y, x, 8), GRAFT_EINVAL);
    EXPECT_ERR(graft_unary_apply(&leaky_inf, y, x, 8), GRAFT_EINVAL);
    EXPECT_ERR(graft_unary_apply(&hsig_inf, y, x, 8), GRAFT_EINVAL);
    EXPECT_ERR(graft_unary_apply(&relu, NULL, x, 8), GRAFT_EINVAL);
    EXPECT_ERR(graft_unary_apply(&relu, y, NULL, 8), GRAFT_EINVAL);
    EXPECT_ERR(graft_unary_apply(&relu, y, x, SIZE_MAX / 2), GRAFT_ERANGE);

    EXPECT_ERR(graft_softmax(y, x, 2, 4, 2), GRAFT_EINVAL);
    EXPECT_ERR(graft_softmax(y, x, 2, 4, -1), GRAFT_EINVAL);
    EXPECT_ERR(graft_softmax(NULL, x, 2, 4, 0), GRAFT_EINVAL);
    EXPECT_ERR(graft_softmax(y, NULL, 2, 4, 1), GRAFT_EINVAL);
    EXPECT_ERR(graft_softmax(y, x, SIZE_MAX / 8, 4, 0), GRAFT_ERANGE);

    EXPECT_ERR(graft_lrn_nhwc(y, x, 2, 4, 0, 1e-4f, 0.75f, 1), GRAFT_EINVAL);
    EXPECT_ERR(graft_lrn_nhwc(y, x, 2, 4, -5, 1e-4f, 0.75f, 1), GRAFT_EINVAL);
    EXPECT_ERR(graft_lrn_nhwc(y, x, 2, 4, 5, NAN, 0.75f, 1), GRAFT_EINVAL);
    EXPECT_ERR(graft_lrn_nhwc(y, x, 2, 4, 5, 1e-4f, INFINITY, 1), GRAFT_EINVAL);
    EXPECT_ERR(graft_lrn_nhwc(y, x, 2, 4, 5, 1e-4f, 0.75f, NAN), GRAFT_EINVAL);
    EXPECT_ERR(graft_lrn_nhwc(NULL, x, 2, 4, 5, 1e-4f, 0.75f, 1), GRAFT_EINVAL);
    EXPECT_ERR(graft_lrn_nhwc(y, NULL, 2, 4, 5, 1e-4f, 0.75f, 1), GRAFT_EINVAL);
    EXPECT_ERR(graft_lrn_nhwc(y, x, SIZE_MAX / 8, 4, 5, 1e-4f, 0.75f, 1), GRAFT_ERANGE);
    /*
     * A pixel of 2^58 channels needs 2^60 bytes of scratch, more than any address space, so
     * the pool's scratch cannot grow, whatever the overcommit policy; x is never read.
     */
    EXPECT_ERR(graft_lrn_nhwc(y, x, 1, (size_t)1 << 58, 5, 1e-4f, 0.75f, 1), GRAFT_ENOMEM);

    for (int i = 0; i < 8; i++)
        if (y[i] != 42.0f) {
            snprintf(msg, len, "y[%d] was written by a failed call", i);
            return GRAFT_CHECK_FAIL;
        }
    /* Empty calls succeed and accept NULL; parameters a kind ignores are not checked. */
    EXPECT_ERR(graft_unary_apply(&relu, NULL, NULL, 0), GRAFT_OK);
    EXPECT_ERR(graft_unary_apply(&relu_nan, y, x, 8), GRAFT_OK);
    EXPECT_ERR(graft_unary_apply(&exp_inf, y, x, 8), GRAFT_OK);
    EXPECT_ERR(graft_unary_apply(&log_ignored, y, x, 8), GRAFT_OK);
    EXPECT_ERR(graft_unary_apply(&clip_inf, y, x, 8), GRAFT_OK);
    EXPECT_ERR(graft_softmax(NULL, NULL, 0, 4, 0), GRAFT_OK);
    EXPECT_ERR(graft_softmax(NULL, NULL, 4, 0, 1), GRAFT_OK);
    EXPECT_ERR(graft_lrn_nhwc(NULL, NULL, 0, 4, 5, 1e-4f, 0.75f, 1), GRAFT_OK);
    EXPECT_ERR(graft_lrn_nhwc(NULL, NULL, 4, 0, 5, 1e-4f, 0.75f, 1), GRAFT_OK);
    return GRAFT_CHECK_PASS;
}

#define VARIANT_CHECKS(name, isa)                                                              \
    static int unary_##name(char *m, size_t l) { return unary_sweep(isa, m, l); }              \
    static int softmax_##name(char *m, size_t l) { return softmax_sweep(isa, m, l); }          \
    static int lrn_##name(char *m, size_t l) { return lrn_sweep(isa, m, l); }                  \
    static int known_##name(char *m, size_t l) { return known_values(isa, m, l); }
VARIANT_CHECKS(scalar, GRAFT_ISA_SCALAR)
VARIANT_CHECKS(avx2, GRAFT_ISA_AVX2)
VARIANT_CHECKS(avx512, GRAFT_ISA_AVX512)
VARIANT_CHECKS(neon, GRAFT_ISA_NEON)

const graft_check graft_checks_vmath[] = {
    {"vmath", "reference_matches_double", reference_matches_double},
    {"vmath", "scalar_known_values", known_scalar},
    {"vmath", "avx2_known_values", known_avx2},
    {"vmath", "avx512_known_values", known_avx512},
    {"vmath", "neon_known_values", known_neon},
    {"vmath", "scalar_unary_matches_reference", unary_scalar},
    {"vmath", "avx2_unary_matches_reference", unary_avx2},
    {"vmath", "avx512_unary_matches_reference", unary_avx512},
    {"vmath", "neon_unary_matches_reference", unary_neon},
    {"vmath", "scalar_softmax_matches_reference", softmax_scalar},
    {"vmath", "avx2_softmax_matches_reference", softmax_avx2},
    {"vmath", "avx512_softmax_matches_reference", softmax_avx512},
    {"vmath", "neon_softmax_matches_reference", softmax_neon},
    {"vmath", "scalar_lrn_matches_reference", lrn_scalar},
    {"vmath", "avx2_lrn_matches_reference", lrn_avx2},
    {"vmath", "avx512_lrn_matches_reference", lrn_avx512},
    {"vmath", "neon_lrn_matches_reference", lrn_neon},
    {"vmath", "rejects_bad_arguments", rejects_bad_arguments},
    {NULL, NULL, NULL},
};
