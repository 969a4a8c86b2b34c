/*
 * tests/kernels/check_grad.c: checks of the non-convolution backward kernels and the losses
 * (graft_unary_backward, graft_pool2d_backward_nhwc, graft_global_pool_backward_nhwc,
 * graft_batchnorm_train_nhwc, graft_batchnorm_backward_nhwc, graft_softmax_xent,
 * graft_multimargin).
 *
 * Every gradient is compared with central differences in double of its forward, away from the
 * kinks: the activations' forward is written here in double from its definition; pooling's is
 * graft_pool2d_nhwc itself, probed along random directions on inputs and steps chosen so that
 * every perturbed value and every window sum is exact in float; batch norm's and the losses'
 * are written here in double. Every check runs with the scalar variant and each SIMD variant
 * the CPU has (the others are reported as skipped). The values at the kinks are asserted
 * against PyTorch's autograd, measured once with torch 1.13 (relu'(0) = 0, relu6'(6) = 0,
 * leaky'(0) = alpha, hardswish'(-3) = -0.5, hardswish'(3) = 1.5, hardsigmoid'(+-3) = 0, max
 * pooling ties to the first tap). Gradients start from random dx, so += is checked everywhere.
 * Then SIMD against scalar on awkward lengths and unaligned pointers, thread-count invariance,
 * and the error paths.
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

#include "variants.h"

/* ---- activations: forward in double ----------------------------------------------------- */

typedef struct kind_case {
    graft_unary_op op;
    double lo, hi; /* x range for the finite differences */
} kind_case;

static const kind_case kind_cases[] = {
    {{GRAFT_UNARY_RELU, 0, 0}, -4, 4},
    {{GRAFT_UNARY_CLIP, 0.0f, 6.0f}, -2, 8},
    {{GRAFT_UNARY_CLIP, -1.0f, 0.5f}, -2, 2},
    {{GRAFT_UNARY_LEAKY_RELU, 0.1f, 0}, -4, 4},
    {{GRAFT_UNARY_SIGMOID, 0, 0}, -4, 4},
    {{GRAFT_UNARY_TANH, 0, 0}, -3, 3},
    {{GRAFT_UNARY_HARD_SIGMOID, 0.2f, 0.5f}, -4, 4},
    {{GRAFT_UNARY_HARD_SIGMOID, 1.0f / 6.0f, 0.5f}, -5, 5},
    {{GRAFT_UNARY_HARD_SWISH, 0, 0}, -5, 5},
    {{GRAFT_UNARY_SILU, 0, 0}, -6, 6},
    {{GRAFT_UNARY_GELU, 0, 0}, -4, 4},
    {{GRAFT_UNARY_GELU_TANH, 0, 0}, -4, 4},
    {{GRAFT_UNARY_EXP, 0, 0}, -4, 4},
    {{GRAFT_UNARY_LOG, 0, 0}, 0.25, 4},
    {{GRAFT_UNARY_ABS, 0, 0}, -4, 4},
    {{GRAFT_UNARY_SQRT, 0, 0}, 0.25, 4},
    {{GRAFT_UNARY_SIGN, 0, 0}, -4, 4},
};
#define NKINDS ((int)(sizeof kind_cases / sizeof kind_cases[0]))

static double f_double(const graft_unary_op *op, double x) {
    const double a = op->alpha, b = op->beta;
    switch (op->kind) {
    case GRAFT_UNARY_RELU: return x > 0 ? x : 0;
    case GRAFT_UNARY_CLIP: return fmin(fmax(x, a), b);
    case GRAFT_UNARY_LEAKY_RELU: return x < 0 ? a * x : x;
    case GRAFT_UNARY_SIGMOID: return 1 / (1 + exp(-x));
    case GRAFT_UNARY_TANH: return tanh(x);
    case GRAFT_UNARY_HARD_SIGMOID: return fmax(0, fmin(1, a * x + b));
    case GRAFT_UNARY_HARD_SWISH: return x * fmax(0, fmin(1, x / 6 + 0.5));
    case GRAFT_UNARY_SILU: return x / (1 + exp(-x));
    case GRAFT_UNARY_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case GRAFT_UNARY_GELU_TANH:
        return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case GRAFT_UNARY_EXP: return exp(x);
    case GRAFT_UNARY_LOG: return log(x);
    case GRAFT_UNARY_ABS: return fabs(x);
    case GRAFT_UNARY_SQRT: return sqrt(x);
    case GRAFT_UNARY_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
    default: return NAN;
    }
}

/* Distance from x to the nearest kink of the kind (inf for smooth kinds). */
static double kink_distance(const graft_unary_op *op, double x) {
    const double a = op->alpha, b = op->beta;
    switch (op->kind) {
    case GRAFT_UNARY_RELU:
    case GRAFT_UNARY_LEAKY_RELU:
    case GRAFT_UNARY_ABS:
    case GRAFT_UNARY_SIGN: return fabs(x);
    case GRAFT_UNARY_CLIP: return fmin(fabs(x - a), fabs(x - b));
    case GRAFT_UNARY_HARD_SIGMOID: return fmin(fabs(x + b / a), fabs(x - (1 - b) / a));
    case GRAFT_UNARY_HARD_SWISH: return fmin(fabs(x + 3), fabs(x - 3));
    default: return INFINITY;
    }
}

/* x away from kinks, within the case's range. */
static float smooth_x(rng *r, const kind_case *kc) {
    for (;;) {
        float x = (float)rng_uniform(r, kc->lo, kc->hi);
        if (kink_distance(&kc->op, x) > 0.02) return x;
    }
}

/* ---- activations: finite differences -------------------------------------------------- */

static int unary_matches_finite_differences(char *msg, size_t msglen) {
    const int saved = graft_threads_get();
    const size_t n = 37; /* a tail for every vector width */
    int ran[NISAS] = {0}, status = GRAFT_CHECK_PASS;
    float *buf = falloc(5 * (n + 1));
    if (!buf) return graft_check_fail(msg, msglen, "out of memory");
    /* Offset by one float so that no vector load is aligned. */
    float *x = buf + 1, *dy = x + n + 1, *y = dy + n + 1, *dx = y + n + 1, *dx0 = dx + n + 1;
    for (int v = 0; v < NISAS && status == GRAFT_CHECK_PASS; v++) {
        if (!use(all_isas[v], 1)) continue;
        ran[v] = 1;
        for (int k = 0; k < NKINDS && status == GRAFT_CHECK_PASS; k++) {
            const kind_case *kc = &kind_cases[k];
            rng r = rng_seed(100 + k);
            for (size_t i = 0; i < n; i++) {
                x[i] = smooth_x(&r, kc);
                dy[i] = (float)rng_uniform(&r, -2, 2);
                dx0[i] = (float)rng_uniform(&r, -1, 1);
            }
            if (graft_unary_apply(&kc->op, y, x, n) != GRAFT_OK) {
                status = graft_check_fail(msg, msglen, "unary_apply: %s", graft_last_error());
                break;
            }
            for (int with_y = 0; with_y < 2 && status == GRAFT_CHECK_PASS; with_y++) {
                memcpy(dx, dx0, n * sizeof(float));
                int err = graft_unary_backward(&kc->op, dx, dy, x, with_y ? y : NULL, n);
                if (err) {
                    status = graft_check_fail(msg, msglen, "%s kind %d: %s",
                                              graft_isa_name(all_isas[v]), kc->op.kind,
                                              graft_last_error());
                    break;
                }
                for (size_t i = 0; i < n; i++) {
                    const double h = 1e-4;
                    double fd = (f_double(&kc->op, (double)x[i] + h) -
                                 f_double(&kc->op, (double)x[i] - h)) / (2 * h);
                    double want = (double)dx0[i] + (double)dy[i] * fd;
                    double tol = 1e-5 * fabs(dx0[i]) + 3e-5 * fabs(dy[i]) * (fabs(fd) + 0.05);
                    if (!(fabs(dx[i] - want) <= tol)) {
                        status = graft_check_fail(
                            msg, msglen, "%s kind %d (alpha %g beta %g) y %s: x = %.9g dy = %g:"
                            " dx0 + dy f' = %.9g, got %.9g (f' by differences %.9g)",
                            graft_isa_name(all_isas[v]), kc->op.kind, kc->op.alpha,
                            kc->op.beta, with_y ? "given" : "NULL", x[i], dy[i], want, dx[i],
                            fd);
                        break;
                    }
                }
            }
        }
    }
    restore(saved);
    free(buf);
    if (status == GRAFT_CHECK_PASS) ran_note(msg, msglen, ran);
    return status;
}

/* ---- activations: kinks as PyTorch ------------------------------------------------------ */

typedef struct kink_case {
    graft_unary_op op;
    float x, want; /* dx after dx = 0, dy = 1 */
} kink_case;

static const kink_case kink_cases[] = {
    {{GRAFT_UNARY_RELU, 0, 0}, 0.0f, 0.0f},
    {{GRAFT_UNARY_RELU, 0, 0}, -0.0f, 0.0f},
    {{GRAFT_UNARY_RELU, 0, 0}, 1e-30f, 1.0f},
    {{GRAFT_UNARY_CLIP, 0.0f, 6.0f}, 0.0f, 0.0f},
    {{GRAFT_UNARY_CLIP, 0.0f, 6.0f}, 6.0f, 0.0f},
    {{GRAFT_UNARY_CLIP, 0.0f, 6.0f}, 3.0f, 1.0f},
    {{GRAFT_UNARY_CLIP, 0.0f, 6.0f}, 7.0f, 0.0f},
    {{GRAFT_UNARY_CLIP, -INFINITY, 1.0f}, -1e30f, 1.0f},
    {{GRAFT_UNARY_LEAKY_RELU, 0.1f, 0}, 0.0f, 0.1f},
    {{GRAFT_UNARY_LEAKY_RELU, 0.1f, 0}, 1e-30f, 1.0f},
    {{GRAFT_UNARY_HARD_SIGMOID, 1.0f / 6.0f, 0.5f}, -3.0f, 0.0f},
    {{GRAFT_UNARY_HARD_SIGMOID, 1.0f / 6.0f, 0.5f}, 3.0f, 0.0f},
    {{GRAFT_UNARY_HARD_SIGMOID, 1.0f / 6.0f, 0.5f}, 0.0f, 1.0f / 6.0f},
    {{GRAFT_UNARY_HARD_SIGMOID, 0.2f, 0.5f}, -2.5f, 0.0f},
    {{GRAFT_UNARY_HARD_SIGMOID, 0.2f, 0.5f}, 2.5f, 0.0f},
    {{GRAFT_UNARY_HARD_SWISH, 0, 0}, -3.0f, -0.5f},
    {{GRAFT_UNARY_HARD_SWISH, 0, 0}, 3.0f, 1.5f},
    {{GRAFT_UNARY_HARD_SWISH, 0, 0}, -3.0001f, 0.0f},
    {{GRAFT_UNARY_HARD_SWISH, 0, 0}, 3.0001f, 1.0f},
    {{GRAFT_UNARY_HARD_SWISH, 0, 0}, 0.0f, 0.5f},
    {{GRAFT_UNARY_ABS, 0, 0}, 0.0f, 0.0f},
    {{GRAFT_UNARY_ABS, 0, 0}, -2.0f, -1.0f},
    {{GRAFT_UNARY_SIGN, 0, 0}, 0.0f, 0.0f},
    {{GRAFT_UNARY_SIGN, 0, 0}, 1.0f, 0.0f},
    {{GRAFT_UNARY_SILU, 0, 0}, -INFINITY, 0.0f},
    {{GRAFT_UNARY_SILU, 0, 0}, INFINITY, 1.0f},
    {{GRAFT_UNARY_GELU, 0, 0}, -INFINITY, 0.0f},
    {{GRAFT_UNARY_GELU, 0, 0}, INFINITY, 1.0f},
    {{GRAFT_UNARY_GELU_TANH, 0, 0}, -INFINITY, 0.0f},
    {{GRAFT_UNARY_GELU_TANH, 0, 0}, INFINITY, 1.0f},
    {{GRAFT_UNARY_GELU, 0, 0}, 0.0f, 0.5f},
    {{GRAFT_UNARY_SILU, 0, 0}, 0.0f, 0.5f},
};
#define NKINKS ((int)(sizeof kink_cases / sizeof kink_cases[0]))

static int unary_kinks_follow_pytorch(char *msg, size_t msglen) {
    const int saved = graft_threads_get();
    int ran[NISAS] = {0}, status = GRAFT_CHECK_PASS;
    for (int v = 0; v < NISAS && status == GRAFT_CHECK_PASS; v++) {
        if (!use(all_isas[v], 1)) continue;
        ran[v] = 1;
        for (int k = 0; k < NKINKS; k++) {
            /* The kink value at every position of a 19-long array: vector body and tail. */
            float x[19], dy[19], dx[19];
            for (int i = 0; i < 19; i++) {
                x[i] = kink_cases[k].x;
                dy[i] = 1.0f;
                dx[i] = 0.0f;
            }
            int err = graft_unary_backward(&kink_cases[k].op, dx, dy, x, NULL, 19);
            for (int i = 0; i < 19 && !err; i++)
                if (dx[i] != kink_cases[k].want) {
                    err = 1;
                    status = graft_check_fail(msg, msglen, "%s kind %d (alpha %g beta %g): f'(%g)"
                                              " = %.9g at [%d], PyTorch's is %.9g",
                                              graft_isa_name(all_isas[v]), kink_cases[k].op.kind,
                                              kink_cases[k].op.alpha, kink_cases[k].op.beta,
                                              kink_cases[k].x, dx[i], i, kink_cases[k].want);
                }
            if (err) {
                if (status == GRAFT_CHECK_PASS)
                    status = graft_check_fail(msg, msglen, "%s", graft_last_error());
                break;
            }
        }
    }
    restore(saved);
    if (status == GRAFT_CHECK_PASS) ran_note(msg, msglen, ran);
    return status;
}

/* ---- activations: SIMD against scalar ---------------------------------------------------- */

static int exact_kind(graft_unary kind) {
    return kind == GRAFT_UNARY_RELU || kind == GRAFT_UNARY_CLIP || kind == GRAFT_UNARY_ABS ||
           kind == GRAFT_UNARY_SIGN;
}

static int same_value(float a, float b) { return a == b || (isnan(a) && isnan(b)); }

static int unary_simd_matches_scalar(char *msg, size_t msglen) {
    static const size_t lengths[] = {1, 2, 3, 5, 7, 8, 13, 15, 16, 17, 31, 33, 64, 101, 997,
                                     40009};
    const size_t nmax = 40009 + 1;
    const float specials[] = {0.0f, -0.0f, -3.0f, 3.0f, 6.0f, -1.0f, 0.5f, -2.5f, 2.5f,
                              INFINITY, -INFINITY, NAN, 1e-40f, 88.0f, -90.0f};
    const int nspecial = (int)(sizeof specials / sizeof specials[0]);
    const int saved = graft_threads_get();
    int ran[NISAS] = {0}, status = GRAFT_CHECK_PASS;
    float *x = falloc(nmax), *dy = falloc(nmax), *y = falloc(nmax), *dx0 = falloc(nmax);
    float *ref = falloc(nmax), *got = falloc(nmax), *got_y = falloc(nmax);
    if (!x || !dy || !y || !dx0 || !ref || !got || !got_y) {
        status = graft_check_fail(msg, msglen, "out of memory");
        goto done;
    }
    rng r = rng_seed(7);
    for (size_t i = 0; i < nmax; i++) {
        x[i] = i % 5 == 3 ? specials[(i / 5) % nspecial] : (float)rng_uniform(&r, -8, 8);
        dy[i] = (float)rng_uniform(&r, -2, 2);
        dx0[i] = (float)rng_uniform(&r, -1, 1);
    }
    for (int v = 1; v < NISAS && status == GRAFT_CHECK_PASS; v++) {
        if (!use(all_isas[v], 2)) continue;
        ran[v] = 1;
        for (int k = 0; k < NKINDS && status == GRAFT_CHECK_PASS; k++) {
            const graft_unary_op *op = &kind_cases[k].op;
            for (int li = 0; li < (int)(sizeof lengths / sizeof lengths[0]); li++) {
                size_t n = lengths[li], off = li & 1; /* odd lengths start unaligned */
                memcpy(ref, dx0, n * sizeof(float));
                graft_isa_set(GRAFT_ISA_SCALAR);
                int err = graft_unary_backward(op, ref, dy + off, x + off, NULL, n);
                graft_isa_set(all_isas[v]);
                memcpy(got + off, dx0, n * sizeof(float));
                memcpy(got_y, dx0, n * sizeof(float));
                if (!err) err = graft_unary_backward(op, got + off, dy + off, x + off, NULL, n);
                if (!err) err = graft_unary_apply(op, y, x + off, n);
                if (!err) err = graft_unary_backward(op, got_y, dy + off, x + off, y, n);
                if (err) {
                    status = graft_check_fail(msg, msglen, "%s", graft_last_error());
                    break;
                }
                for (size_t i = 0; i < n; i++) {
                    float a = ref[i], b = got[off + i];
                    if (memcmp(&got[off + i], &got_y[i], sizeof(float)) != 0) {
                        status = graft_check_fail(msg, msglen, "%s kind %d n %zu: y given and"
                                                  " y NULL differ at %zu (%.9g, %.9g)",
                                                  graft_isa_name(all_isas[v]), op->kind, n, i,
                                                  got_y[i], b);
                        break;
                    }
                    /*
                     * Besides a few ulp of each term, an absolute error of about an ulp of 1
                     * times dy and the polynomial's size: 1 - tanh^2 and the like are formed
                     * in float, where SLEEF and libm round tanh(-8.8) to -1 or to its
                     * neighbour.
                     */
                    double g = fabs((double)a - dx0[i]), ax = fmin(fabs(x[off + i]), 8.0);
                    double tol = exact_kind(op->kind) ? 0.0
                                 : 2 * FLT_EPSILON * (fabs(dx0[i]) + g) + 3e-5 * g +
                                       3e-7 * fabs(dy[off + i]) * (1 + ax * ax * ax / 8);
                    int ok = same_value(a, b) ||
                             (!exact_kind(op->kind) && isfinite(a) && fabs(a - b) <= tol);
                    if (!ok) {
                        status = graft_check_fail(
                            msg, msglen, "%s kind %d (alpha %g beta %g) n %zu offset %zu: at %zu,"
                            " x = %.9g dy = %.9g dx0 = %.9g: scalar %.9g, %s %.9g",
                            graft_isa_name(all_isas[v]), op->kind, op->alpha, op->beta, n, off,
                            i, x[off + i], dy[off + i], dx0[i], a, graft_isa_name(all_isas[v]),
                            b);
                        break;
                    }
                }
                if (status != GRAFT_CHECK_PASS) break;
            }
        }
    }
done:
    restore(saved);
    free(x), free(dy), free(y), free(dx0), free(ref), free(got), free(got_y);
    if (status == GRAFT_CHECK_PASS) {
        int any = 0;
        for (int v = 1; v < NISAS; v++) any |= ran[v];
        if (!any) return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "no SIMD variant here");
        ran_note(msg, msglen, ran);
    }
    return status;
}

/* ---- pooling --------------------------------------------------------------------------- */

typedef struct pool_geo {
    graft_pool2d p;
    int H, W;
} pool_geo;

#define PGEO(kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, ceil, cip, h, w)                         \
    {{GRAFT_POOL_MAX, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, ceil, cip}, h, w}

static const pool_geo pool_geos[] = {
    PGEO(1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1),
    PGEO(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1),
    PGEO(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1),
    PGEO(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 7, 5),
    PGEO(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 7, 5),
    PGEO(2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 8, 8),
    PGEO(3, 2, 1, 2, 2, 3, 1, 0, 2, 1, 0, 0, 9, 11),
    PGEO(3, 2, 1, 2, 2, 3, 1, 0, 2, 1, 1, 1, 9, 11),
    PGEO(5, 5, 3, 3, 1, 1, 2, 1, 0, 2, 1, 1, 13, 6),
    PGEO(7, 7, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 7, 7),
    PGEO(2, 3, 3, 1, 3, 1, 0, 2, 1, 0, 1, 0, 10, 4),
};
#define NPGEOS ((int)(sizeof pool_geos / sizeof pool_geos[0]))

/*
 * x: distinct multiples of 2^-8 (a permutation), so no two taps tie and a step of 2^-10
 * along a direction of multiples of 1/8 keeps every value and window sum exact in float and
 * every maximum where it was.
 */
static void distinct_grid(float *x, size_t n, rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_next(r) % i;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
    for (size_t i = 0; i < n; i++) x[i] = (x[i] - (float)(n / 2)) / 256.0f;
}

/* sum dy * pool(x) in double, with graft's forward. */
static int pool_objective(const graft_pool2d *p, int global, const float *x, const float *dy,
                          float *y, int N, int H, int W, int C, size_t ny, double *out) {
    int err = global ? graft_global_pool_nhwc(p->kind, y, x, N, H, W, C)
                     : graft_pool2d_nhwc(p, y, x, N, H, W, C);
    if (err) return err;
    double s = 0;
    for (size_t i = 0; i < ny; i++) s += (double)dy[i] * y[i];
    *out = s;
    return GRAFT_OK;
}

/* One geometry (global: whole-image windows): directional finite differences against dx. */
static int pool_fd_one(char *msg, size_t msglen, const graft_pool2d *p, int global, int N, int H,
                       int W, int C, const char *isa) {
    int OH = 1, OW = 1;
    if (!global && graft_pool2d_output_size(p, H, W, &OH, &OW))
        return graft_check_fail(msg, msglen, "output_size: %s", graft_last_error());
    size_t nx = (size_t)N * H * W * C, ny = (size_t)N * OH * OW * C;
    float *x = falloc(nx), *xp = falloc(nx), *dx = falloc(nx), *dx0 = falloc(nx);
    float *dy = falloc(ny), *y = falloc(ny);
    int status = GRAFT_CHECK_PASS;
    if (!x || !xp || !dx || !dx0 || !dy || !y) {
        status = graft_check_fail(msg, msglen, "out of memory");
        goto done;
    }
    rng r = rng_seed((uint64_t)(H * 131 + W * 7 + C + p->kind * 1000 + global * 7777));
    distinct_grid(x, nx, &r);
    for (size_t i = 0; i < ny; i++) dy[i] = (float)rng_uniform(&r, -1, 1);
    for (size_t i = 0; i < nx; i++) dx[i] = dx0[i] = (float)rng_uniform(&r, -1, 1);
    int err = global ? graft_global_pool_backward_nhwc(p->kind, dx, dy, x, N, H, W, C)
                     : graft_pool2d_backward_nhwc(p, dx, dy, x, N, H, W, C);
    if (err) {
        status = graft_check_fail(msg, msglen, "backward: %s", graft_last_error());
        goto done;
    }
    const double h = 1.0 / 1024;
    for (int dir = 0; dir < 4 && status == GRAFT_CHECK_PASS; dir++) {
        double dot = 0, scale = 0, lp, lm;
        rng rd = rng_seed(1000 + dir);
        for (size_t i = 0; i < nx; i++) {
            double vi = (double)((int)(rng_next(&rd) % 17) - 8) / 8;
            double g = (double)dx[i] - dx0[i];
            dot += g * vi;
            scale += fabs(g * vi);
            xp[i] = (float)(x[i] + h * vi);
        }
        if ((err = pool_objective(p, global, xp, dy, y, N, H, W, C, ny, &lp))) break;
        rd = rng_seed(1000 + dir);
        for (size_t i = 0; i < nx; i++) {
            double vi = (double)((int)(rng_next(&rd) % 17) - 8) / 8;
            xp[i] = (float)(x[i] - h * vi);
        }
        if ((err = pool_objective(p, global, xp, dy, y, N, H, W, C, ny, &lm))) break;
        double fd = (lp - lm) / (2 * h);
        if (!(fabs(fd - dot) <= 1e-4 * scale + 1e-4))
            status = graft_check_fail(msg, msglen, "%s %s %s pool k %dx%d s %dx%d d %dx%d pads"
                                      " %d,%d,%d,%d ceil %d cip %d on %dx%dx%dx%d: <dx, v> = %.9g,"
                                      " differences %.9g", isa, global ? "global" : "2-D",
                                      p->kind == GRAFT_POOL_MAX ? "max" : "avg", p->kernel_h,
                                      p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                                      p->dilation_w, p->pad_top, p->pad_left, p->pad_bottom,
                                      p->pad_right, p->ceil_mode, p->count_include_pad, N, H, W,
                                      C, dot, fd);
    }
    if (err) status = graft_check_fail(msg, msglen, "forward: %s", graft_last_error());
done:
    free(x), free(xp), free(dx), free(dx0), free(dy), free(y);
    return status;
}

static int pool_backward_matches_finite_differences(char *msg, size_t msglen) {
    static const int channels[] = {1, 5, 17, 70};
    const int saved = graft_threads_get();
    int ran[NISAS] = {0}, status = GRAFT_CHECK_PASS;
    for (int v = 0; v < NISAS && status == GRAFT_CHECK_PASS; v++) {
        if (!use(all_isas[v], 2)) continue;
        ran[v] = 1;
        for (int g = 0; g < NPGEOS && status == GRAFT_CHECK_PASS; g++)
            for (int kind = 0; kind < 2 && status == GRAFT_CHECK_PASS; kind++)
                for (int ci = 0; ci < 4 && status == GRAFT_CHECK_PASS; ci++) {
                    graft_pool2d p = pool_geos[g].p;
                    p.kind = kind;
                    status = pool_fd_one(msg, msglen, &p, 0, 2, pool_geos[g].H, pool_geos[g].W,
                                         channels[ci], graft_isa_name(all_isas[v]));
                }
        for (int kind = 0; kind < 2 && status == GRAFT_CHECK_PASS; kind++)
            for (int ci = 0; ci < 4 && status == GRAFT_CHECK_PASS; ci++) {
                graft_pool2d p = {.kind = kind};
                status = pool_fd_one(msg, msglen, &p, 1, 3, 5, 7, channels[ci],
                                     graft_isa_name(all_isas[v]));
                if (status == GRAFT_CHECK_PASS)
                    status = pool_fd_one(msg, msglen, &p, 1, 2, 1, 1, channels[ci],
                                         graft_isa_name(all_isas[v]));
            }
    }
    restore(saved);
    if (status == GRAFT_CHECK_PASS) ran_note(msg, msglen, ran);
    return status;
}

/* Ties go to the first tap in (kh, kw) order; padding never receives anything. */
static int pool_max_ties_go_to_first(char *msg, size_t msglen) {
    /* 2x2 input, C = 2, all equal: a 2x2 window gives everything to (0, 0). */
    graft_pool2d p = {GRAFT_POOL_MAX, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    float x[8], dy[2] = {1.5f, -2.0f}, dx[8] = {0};
    for (int i = 0; i < 8; i++) x[i] = 1.0f;
    if (graft_pool2d_backward_nhwc(&p, dx, dy, x, 1, 2, 2, 2))
        return graft_check_fail(msg, msglen, "%s", graft_last_error());
    const float want1[8] = {1.5f, -2.0f, 0, 0, 0, 0, 0, 0};
    if (memcmp(dx, want1, sizeof dx))
        return graft_check_fail(msg, msglen, "tie: dx = %g %g %g %g %g %g %g %g", dx[0], dx[1],
                                dx[2], dx[3], dx[4], dx[5], dx[6], dx[7]);
    /* [[1, 3], [3, 1]], C = 1: the first 3, at (0, 1). Same answer from PyTorch. */
    float x2[4] = {1, 3, 3, 1}, dx2[4] = {0}, dy2[1] = {1};
    if (graft_pool2d_backward_nhwc(&p, dx2, dy2, x2, 1, 2, 2, 1) || dx2[1] != 1 || dx2[2] != 0)
        return graft_check_fail(msg, msglen, "[[1,3],[3,1]]: dx = %g %g %g %g", dx2[0], dx2[1],
                                dx2[2], dx2[3]);
    /* 3x3 window with pad 1 on a 2x2 of -inf: the first tap inside the image, (0, 0). */
    graft_pool2d q = {GRAFT_POOL_MAX, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    float x3[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, dx3[4] = {0};
    float dy3[4] = {1, 10, 100, 1000};
    if (graft_pool2d_backward_nhwc(&q, dx3, dy3, x3, 1, 2, 2, 1) || dx3[0] != 1111 ||
        dx3[1] != 0 || dx3[2] != 0 || dx3[3] != 0)
        return graft_check_fail(msg, msglen, "-inf with padding: dx = %g %g %g %g", dx3[0],
                                dx3[1], dx3[2], dx3[3]);
    /* Global max: the first pixel holding the maximum. */
    float x4[6] = {2, 5, 5, 5, 2, 1}, dx4[6] = {0}, dy4[2] = {1, 2}; /* H*W = 3, C = 2 */
    if (graft_global_pool_backward_nhwc(GRAFT_POOL_MAX, dx4, dy4, x4, 1, 3, 1, 2) ||
        dx4[2] != 1 || dx4[1] != 2 || dx4[3] != 0 || dx4[0] != 0)
        return graft_check_fail(msg, msglen, "global tie: dx = %g %g %g %g %g %g", dx4[0],
                                dx4[1], dx4[2], dx4[3], dx4[4], dx4[5]);
    /* AVG with count_include_pad = 1: a 3x3 padded window over 1x1 divides by 9. */
    graft_pool2d a = {GRAFT_POOL_AVG, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1};
    float x5[1] = {4}, dx5[1] = {1}, dy5[1] = {9};
    if (graft_pool2d_backward_nhwc(&a, dx5, dy5, x5, 1, 1, 1, 1) ||
        dx5[0] != 1 + 9 * (1.0f / 9.0f))
        return graft_check_fail(msg, msglen, "avg counting pads: dx = %g, want %g", dx5[0],
                                1 + 9 * (1.0f / 9.0f));
    return GRAFT_CHECK_PASS;
}

/* ---- batch norm ------------------------------------------------------------------------ */

/* y = bn(x) in double with batch statistics (training) or the given ones. */
static void bn_double(double *y, const double *x, size_t P, int C, const double *gamma,
                      const double *beta, const float *mean_in, const float *var_in, double eps,
                      int training) {
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        if (training) {
            for (size_t p = 0; p < P; p++) m += x[p * C + c];
            m /= (double)P;
            for (size_t p = 0; p < P; p++) v += (x[p * C + c] - m) * (x[p * C + c] - m);
            v /= (double)P;
        } else {
            m = mean_in[c];
            v = var_in[c];
        }
        for (size_t p = 0; p < P; p++)
            y[p * C + c] = (x[p * C + c] - m) / sqrt(v + eps) * gamma[c] + beta[c];
    }
}

static double bn_objective(const double *dy, const double *x, size_t P, int C,
                           const double *gamma, const double *beta, const float *mean,
                           const float *var, double eps, int training, double *scratch) {
    bn_double(scratch, x, P, C, gamma, beta, mean, var, eps, training);
    double s = 0;
    for (size_t i = 0; i < P * (size_t)C; i++) s += dy[i] * scratch[i];
    return s;
}

static int batchnorm_train_matches_double(char *msg, size_t msglen) {
    static const int channels[] = {1, 5, 17, 33};
    static const size_t pixel_counts[] = {1, 2, 37, 300};
    const float eps = 1e-3f;
    int status = GRAFT_CHECK_PASS;
    for (int ci = 0; ci < 4 && status == GRAFT_CHECK_PASS; ci++)
        for (int pi = 0; pi < 4 && status == GRAFT_CHECK_PASS; pi++) {
            int C = channels[ci];
            size_t P = pixel_counts[pi], n = P * C;
            float *x = falloc(n), *y = falloc(n), *g = falloc(C), *b = falloc(C);
            float *mean = falloc(C), *var = falloc(C);
            double *xd = malloc(sizeof(double) * n), *yd = malloc(sizeof(double) * n);
            double *gd = malloc(sizeof(double) * C), *bd = malloc(sizeof(double) * C);
            rng r = rng_seed(P * 31 + C);
            for (size_t i = 0; i < n; i++) xd[i] = x[i] = (float)rng_uniform(&r, -3, 5);
            for (int c = 0; c < C; c++) {
                gd[c] = g[c] = (float)rng_uniform(&r, 0.5, 2);
                bd[c] = b[c] = (float)rng_uniform(&r, -1, 1);
            }
            if (graft_batchnorm_train_nhwc(y, mean, var, x, P, C, g, b, eps)) {
                status = graft_check_fail(msg, msglen, "%s", graft_last_error());
            } else {
                bn_double(yd, xd, P, C, gd, bd, NULL, NULL, eps, 1);
                for (int c = 0; c < C && status == GRAFT_CHECK_PASS; c++) {
                    double m = 0, v = 0;
                    for (size_t p = 0; p < P; p++) m += xd[p * C + c];
                    m /= (double)P;
                    for (size_t p = 0; p < P; p++) v += (xd[p * C + c] - m) * (xd[p * C + c] - m);
                    v /= (double)P;
                    if (fabs(mean[c] - m) > 1e-6 * (1 + fabs(m)) || fabs(var[c] - v) > 1e-6 * v)
                        status = graft_check_fail(msg, msglen, "P %zu C %d channel %d: mean %.9g"
                                                  " var %.9g, double %.9g %.9g", P, C, c,
                                                  mean[c], var[c], m, v);
                }
                for (size_t i = 0; i < n && status == GRAFT_CHECK_PASS; i++)
                    if (!(fabs(y[i] - yd[i]) <= 2e-5 * (1 + fabs(yd[i]))))
                        status = graft_check_fail(msg, msglen, "P %zu C %d: y[%zu] = %.9g, double"
                                                  " %.9g", P, C, i, y[i], yd[i]);
            }
            /* In place gives the same bits. */
            if (status == GRAFT_CHECK_PASS) {
                float *xi = falloc(n);
                memcpy(xi, x, n * sizeof(float));
                if (graft_batchnorm_train_nhwc(xi, mean, var, xi, P, C, g, b, eps) ||
                    memcmp(xi, y, n * sizeof(float)))
                    status = graft_check_fail(msg, msglen, "P %zu C %d: in place differs", P, C);
                free(xi);
            }
            free(x), free(y), free(g), free(b), free(mean), free(var);
            free(xd), free(yd), free(gd), free(bd);
        }
    return status;
}

static int batchnorm_backward_matches_finite_differences(char *msg, size_t msglen) {
    static const int channels[] = {1, 3, 17, 20};
    const size_t P = 7;
    const float eps = 1e-2f;
    int status = GRAFT_CHECK_PASS;
    for (int training = 0; training < 2 && status == GRAFT_CHECK_PASS; training++)
        for (int ci = 0; ci < 4 && status == GRAFT_CHECK_PASS; ci++) {
            int C = channels[ci];
            size_t n = P * C;
            float *x = falloc(n), *y = falloc(n), *dy = falloc(n), *dx = falloc(n);
            float *dx0 = falloc(n), *g = falloc(C), *b = falloc(C), *mean = falloc(C);
            float *var = falloc(C), *dg = falloc(C), *db = falloc(C), *dg0 = falloc(C);
            float *db0 = falloc(C);
            double *xd = malloc(sizeof(double) * n), *dyd = malloc(sizeof(double) * n);
            double *s = malloc(sizeof(double) * n), *gd = malloc(sizeof(double) * C);
            double *bd = malloc(sizeof(double) * C);
            rng r = rng_seed(900 + training * 10 + C);
            for (size_t i = 0; i < n; i++) {
                xd[i] = x[i] = (float)rng_uniform(&r, -2, 3);
                dyd[i] = dy[i] = (float)rng_uniform(&r, -1, 1);
                dx[i] = dx0[i] = (float)rng_uniform(&r, -1, 1);
            }
            for (int c = 0; c < C; c++) {
                gd[c] = g[c] = (float)rng_uniform(&r, 0.5, 2);
                bd[c] = b[c] = (float)rng_uniform(&r, -1, 1);
                dg[c] = dg0[c] = (float)rng_uniform(&r, -1, 1);
                db[c] = db0[c] = (float)rng_uniform(&r, -1, 1);
                mean[c] = (float)rng_uniform(&r, -0.5, 0.5); /* running statistics */
                var[c] = (float)rng_uniform(&r, 0.5, 2);
            }
            int err = training ? graft_batchnorm_train_nhwc(y, mean, var, x, P, C, g, b, eps) : 0;
            if (!err)
                err = graft_batchnorm_backward_nhwc(dx, dg, db, dy, x, P, C, g, mean, var, eps,
                                                    training);
            if (err) {
                status = graft_check_fail(msg, msglen, "%s", graft_last_error());
                goto next;
            }
            const double h = 1e-5;
            /* d/dx, d/dgamma, d/dbeta of sum dy * y, one coordinate at a time. */
            for (size_t i = 0; i < n + 2 * (size_t)C && status == GRAFT_CHECK_PASS; i++) {
                double *p = i < n ? &xd[i] : i < n + C ? &gd[i - n] : &bd[i - n - C];
                double keep = *p;
                *p = keep + h;
                double lp = bn_objective(dyd, xd, P, C, gd, bd, mean, var, eps, training, s);
                *p = keep - h;
                double lm = bn_objective(dyd, xd, P, C, gd, bd, mean, var, eps, training, s);
                *p = keep;
                double fd = (lp - lm) / (2 * h);
                double got = i < n ? (double)dx[i] - dx0[i]
                             : i < n + C ? (double)dg[i - n] - dg0[i - n]
                                         : (double)db[i - n - C] - db0[i - n - C];
                if (!(fabs(got - fd) <= 2e-4 * (1 + fabs(fd))))
                    status = graft_check_fail(msg, msglen, "training %d C %d: d%s[%zu] added"
                                              " %.9g, differences %.9g", training, C,
                                              i < n ? "x" : i < n + C ? "gamma" : "beta",
                                              i < n ? i : i < n + C ? i - n : i - n - C, got, fd);
            }
            /* NULL outputs are skipped, and the others come out the same. */
            if (status == GRAFT_CHECK_PASS) {
                float *dx2 = falloc(n), *dg2 = falloc(C);
                memcpy(dx2, dx0, n * sizeof(float));
                memcpy(dg2, dg0, C * sizeof(float));
                if (graft_batchnorm_backward_nhwc(dx2, NULL, NULL, dy, x, P, C, g, mean, var,
                                                  eps, training) ||
                    memcmp(dx2, dx, n * sizeof(float)) ||
                    graft_batchnorm_backward_nhwc(NULL, dg2, NULL, dy, x, P, C, g, mean, var,
                                                  eps, training) ||
                    memcmp(dg2, dg, C * sizeof(float)))
                    status = graft_check_fail(msg, msglen, "training %d C %d: NULL outputs"
                                              " change the others", training, C);
                free(dx2), free(dg2);
            }
        next:
            free(x), free(y), free(dy), free(dx), free(dx0), free(g), free(b), free(mean);
            free(var), free(dg), free(db), free(dg0), free(db0);
            free(xd), free(dyd), free(s), free(gd), free(bd);
        }
    return status;
}

/* ---- losses ---------------------------------------------------------------------------- */

static double xent_double(const double *z, const int *labels, int N, int K, double s) {
    double total = 0;
    for (int n = 0; n < N; n++) {
        const double *row = z + (size_t)n * K;
        double m = row[0], sum = 0, sum_logp = 0;
        for (int k = 1; k < K; k++) m = fmax(m, row[k]);
        for (int k = 0; k < K; k++) sum += exp(row[k] - m);
        double lse = m + log(sum);
        for (int k = 0; k < K; k++) sum_logp += row[k] - lse;
        total += -(1 - s) * (row[labels[n]] - lse) - s / K * sum_logp;
    }
    return total / N;
}

static double margin_double(const double *z, const int *labels, int N, int K) {
    double total = 0;
    for (int n = 0; n < N; n++) {
        const double *row = z + (size_t)n * K;
        double sum = 0;
        for (int k = 0; k < K; k++)
            if (k != labels[n]) sum += fmax(0, 1 - row[labels[n]] + row[k]);
        total += sum / K;
    }
    return total / N;
}

static int losses_match_double_and_finite_differences(char *msg, size_t msglen) {
    static const int shapes[][2] = {{1, 1}, {1, 2}, {3, 5}, {4, 10}, {2, 37}};
    static const float smoothings[] = {0.0f, 0.1f, 0.35f};
    int status = GRAFT_CHECK_PASS;
    for (int si = 0; si < 5 && status == GRAFT_CHECK_PASS; si++)
        for (int li = 0; li < 4 && status == GRAFT_CHECK_PASS; li++) {
            int N = shapes[si][0], K = shapes[si][1];
            size_t n = (size_t)N * K;
            float *z = falloc(n), *d = falloc(n);
            double *zd = malloc(sizeof(double) * n);
            int *labels = malloc(sizeof(int) * N);
            rng r = rng_seed(si * 10 + li);
            /*
             * Logits on a 1/8 grid plus distinct offsets below 1/8 (n <= 74): every margin
             * 1 - z[y] + z[k] is at least 1/1024 away from its kink.
             */
            for (size_t i = 0; i < n; i++)
                zd[i] = z[i] = (float)((double)(rng_next(&r) % 49) / 8 - 3 + (i + 1) / 1024.0);
            for (int i = 0; i < N; i++) labels[i] = (int)(rng_next(&r) % K);
            int margin = li == 3;
            double s = margin ? 0 : smoothings[li];
            float loss = -1;
            int err = margin ? graft_multimargin(&loss, d, z, labels, N, K)
                             : graft_softmax_xent(&loss, d, z, labels, N, K, (float)s);
            if (err) {
                status = graft_check_fail(msg, msglen, "%s", graft_last_error());
            } else {
                double want = margin ? margin_double(zd, labels, N, K)
                                     : xent_double(zd, labels, N, K, s);
                if (!(fabs(loss - want) <= 1e-6 * (1 + fabs(want))))
                    status = graft_check_fail(msg, msglen, "%s N %d K %d s %g: loss %.9g, double"
                                              " %.9g", margin ? "multimargin" : "xent", N, K, s,
                                              loss, want);
                for (size_t i = 0; i < n && status == GRAFT_CHECK_PASS; i++) {
                    const double h = 1e-6;
                    double keep = zd[i];
                    zd[i] = keep + h;
                    double lp = margin ? margin_double(zd, labels, N, K)
                                       : xent_double(zd, labels, N, K, s);
                    zd[i] = keep - h;
                    double lm = margin ? margin_double(zd, labels, N, K)
                                       : xent_double(zd, labels, N, K, s);
                    zd[i] = keep;
                    double fd = (lp - lm) / (2 * h);
                    if (!(fabs(d[i] - fd) <= 1e-6 + 1e-5 * fabs(fd)))
                        status = graft_check_fail(msg, msglen, "%s N %d K %d s %g: dlogits[%zu] ="
                                                  " %.9g, differences %.9g",
                                                  margin ? "multimargin" : "xent", N, K, s, i,
                                                  d[i], fd);
                }
            }
            free(z), free(d), free(zd), free(labels);
        }
    if (status != GRAFT_CHECK_PASS) return status;

    /* By hand: two equal logits, label 0, no smoothing: log 2 and gradient (-1/2, 1/2). */
    float z2[2] = {0.5f, 0.5f}, d2[2], loss;
    int lab0 = 0;
    if (graft_softmax_xent(&loss, d2, z2, &lab0, 1, 2, 0.0f) || fabs(loss - log(2.0)) > 1e-7 ||
        d2[0] != -0.5f || d2[1] != 0.5f)
        return graft_check_fail(msg, msglen, "xent of (0.5, 0.5): %.9g, grad %g %g", loss, d2[0],
                                d2[1]);
    /* Huge logits neither overflow nor make NaNs. */
    float zb[3] = {1e30f, -1e30f, 3e4f}, db[3];
    if (graft_softmax_xent(&loss, db, zb, &lab0, 1, 3, 0.1f) || !isfinite(loss) ||
        !isfinite(db[0]) || !isfinite(db[1]) || !isfinite(db[2]))
        return graft_check_fail(msg, msglen, "xent of huge logits: %g (%g %g %g)", loss, db[0],
                                db[1], db[2]);
    /* MultiMargin at the kink (margin exactly 0) contributes nothing, as in PyTorch. */
    float zm[3] = {2.0f, 1.0f, 0.0f}, dm[3];
    if (graft_multimargin(&loss, dm, zm, &lab0, 1, 3) || loss != 0.0f || dm[0] != 0 ||
        dm[1] != 0 || dm[2] != 0)
        return graft_check_fail(msg, msglen, "multimargin at the kink: %g (%g %g %g)", loss,
                                dm[0], dm[1], dm[2]);
    /* dlogits is overwritten, not accumulated; NULL is allowed. */
    float dz[2] = {100, 100};
    if (graft_softmax_xent(&loss, dz, z2, &lab0, 1, 2, 0.0f) || dz[0] != -0.5f ||
        graft_multimargin(&loss, NULL, z2, &lab0, 1, 2) || loss != 0.5f)
        return graft_check_fail(msg, msglen, "overwrite / NULL dlogits: %g %g, loss %g", dz[0],
                                dz[1], loss);
    return GRAFT_CHECK_PASS;
}

/* ---- thread-count invariance ----------------------------------------------------------- */

static int backward_bit_identical_for_1_and_2_threads(char *msg, size_t msglen) {
    const int saved = graft_threads_get();
    const int N = 4, H = 32, W = 32, C = 70;
    const size_t nx = (size_t)N * H * W * C;
    int ran[NISAS] = {0}, status = GRAFT_CHECK_PASS;
    float *x = falloc(nx), *dy = falloc(nx), *a = falloc(nx), *b = falloc(nx);
    float *g = falloc(C), *bt = falloc(C), *mean = falloc(C), *var = falloc(C);
    float *dga = falloc(C), *dgb = falloc(C), *dba = falloc(C), *dbb = falloc(C);
    if (!x || !dy || !a || !b || !g || !bt || !mean || !var || !dga || !dgb || !dba || !dbb) {
        status = graft_check_fail(msg, msglen, "out of memory");
        goto done;
    }
    rng r = rng_seed(5);
    for (size_t i = 0; i < nx; i++) {
        x[i] = (float)rng_uniform(&r, -4, 4);
        dy[i] = (float)rng_uniform(&r, -1, 1);
    }
    for (int c = 0; c < C; c++) {
        g[c] = (float)rng_uniform(&r, 0.5, 2);
        bt[c] = (float)rng_uniform(&r, -1, 1);
    }
    graft_pool2d pmax = {GRAFT_POOL_MAX, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0};
    graft_pool2d pavg = {GRAFT_POOL_AVG, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1};
    for (int v = 0; v < NISAS && status == GRAFT_CHECK_PASS; v++) {
        if (!graft_isa_available(all_isas[v])) continue;
        ran[v] = 1;
        for (int test = 0; test < 6 && status == GRAFT_CHECK_PASS; test++) {
            float *out[2] = {a, b}, *dgs[2] = {dga, dgb}, *dbs[2] = {dba, dbb};
            for (int t = 0; t < 2; t++) {
                if (!use(all_isas[v], t + 1)) break;
                memset(out[t], 0, nx * sizeof(float));
                memset(dgs[t], 0, C * sizeof(float));
                memset(dbs[t], 0, C * sizeof(float));
                int err = 0;
                graft_unary_op op = {GRAFT_UNARY_GELU_TANH, 0, 0};
                switch (test) {
                case 0: err = graft_unary_backward(&op, out[t], dy, x, NULL, nx); break;
                case 1: err = graft_pool2d_backward_nhwc(&pmax, out[t], dy, x, N, H, W, C); break;
                case 2: err = graft_pool2d_backward_nhwc(&pavg, out[t], dy, x, N, H, W, C); break;
                case 3:
                    err = graft_global_pool_backward_nhwc(GRAFT_POOL_MAX, out[t], dy, x, N, H, W,
                                                          C);
                    break;
                case 4:
                    err = graft_batchnorm_train_nhwc(out[t], mean, var, x, nx / C, C, g, bt,
                                                     1e-5f);
                    break;
                case 5:
                    err = graft_batchnorm_train_nhwc(out[t], mean, var, x, nx / C, C, g, bt,
                                                     1e-5f);
                    memset(out[t], 0, nx * sizeof(float));
                    if (!err)
                        err = graft_batchnorm_backward_nhwc(out[t], dgs[t], dbs[t], dy, x,
                                                            nx / C, C, g, mean, var, 1e-5f, 1);
                    break;
                }
                if (err) {
                    status = graft_check_fail(msg, msglen, "test %d: %s", test,
                                              graft_last_error());
                    break;
                }
            }
            if (status == GRAFT_CHECK_PASS &&
                (memcmp(a, b, nx * sizeof(float)) || memcmp(dga, dgb, C * sizeof(float)) ||
                 memcmp(dba, dbb, C * sizeof(float))))
                status = graft_check_fail(msg, msglen, "%s test %d: 1 and 2 threads differ",
                                          graft_isa_name(all_isas[v]), test);
        }
    }
done:
    restore(saved);
    free(x), free(dy), free(a), free(b), free(g), free(bt), free(mean), free(var);
    free(dga), free(dgb), free(dba), free(dbb);
    if (status == GRAFT_CHECK_PASS) ran_note(msg, msglen, ran);
    return status;
}

/* ---- errors ---------------------------------------------------------------------------- */

static int rejects_bad_arguments(char *msg, size_t msglen) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, dy[8] = {0}, dx[8] = {0}, g[2] = {1, 1};
    float m[2] = {0, 0}, v[2] = {1, 1}, loss = 42;
    graft_unary_op relu = {GRAFT_UNARY_RELU, 0, 0}, bad = {GRAFT_UNARY_COUNT, 0, 0};
    graft_unary_op leaky_inf = {GRAFT_UNARY_LEAKY_RELU, INFINITY, 0};
    EXPECT(graft_unary_backward(NULL, dx, dy, x, NULL, 8), GRAFT_EINVAL, "NULL op");
    EXPECT(graft_unary_backward(&bad, dx, dy, x, NULL, 8), GRAFT_EINVAL, "unknown kind");
    EXPECT(graft_unary_backward(&leaky_inf, dx, dy, x, NULL, 8), GRAFT_EINVAL, "infinite alpha");
    EXPECT(graft_unary_backward(&relu, NULL, dy, x, NULL, 8), GRAFT_EINVAL, "NULL dx");
    EXPECT(graft_unary_backward(&relu, dx, NULL, x, NULL, 8), GRAFT_EINVAL, "NULL dy");
    EXPECT(graft_unary_backward(&relu, dx, dy, NULL, NULL, 8), GRAFT_EINVAL, "NULL x");
    EXPECT(graft_unary_backward(&relu, x, dy, x, NULL, 8), GRAFT_EINVAL, "dx == x");
    EXPECT(graft_unary_backward(&relu, NULL, NULL, NULL, NULL, 0), GRAFT_OK, "n = 0");
    EXPECT(graft_unary_backward(&relu, dx, dy, x, NULL, SIZE_MAX), GRAFT_ERANGE, "huge n");

    graft_pool2d p = {GRAFT_POOL_MAX, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    graft_pool2d pbad = p;
    pbad.stride_h = 0;
    EXPECT(graft_pool2d_backward_nhwc(&pbad, dx, dy, x, 1, 2, 2, 2), GRAFT_EINVAL, "stride 0");
    EXPECT(graft_pool2d_backward_nhwc(NULL, dx, dy, x, 1, 2, 2, 2), GRAFT_EINVAL, "NULL p");
    EXPECT(graft_pool2d_backward_nhwc(&p, dx, dy, NULL, 1, 2, 2, 2), GRAFT_EINVAL, "MAX no x");
    EXPECT(graft_pool2d_backward_nhwc(&p, NULL, dy, x, 1, 2, 2, 2), GRAFT_EINVAL, "NULL dx");
    EXPECT(graft_pool2d_backward_nhwc(&p, dx, dy, x, -1, 2, 2, 2), GRAFT_EINVAL, "N < 0");
    EXPECT(graft_pool2d_backward_nhwc(&p, dx, dy, x, 1, 2, 2, 0), GRAFT_EINVAL, "C = 0");
    EXPECT(graft_pool2d_backward_nhwc(&p, x, dy, x, 1, 2, 2, 2), GRAFT_EINVAL, "dx == x");
    EXPECT(graft_pool2d_backward_nhwc(&p, dx, dy, x, 0, 2, 2, 2), GRAFT_OK, "N = 0");
    EXPECT(graft_global_pool_backward_nhwc(7, dx, dy, x, 1, 2, 2, 2), GRAFT_EINVAL, "bad kind");
    EXPECT(graft_global_pool_backward_nhwc(GRAFT_POOL_MAX, dx, dy, NULL, 1, 2, 2, 2),
           GRAFT_EINVAL, "global MAX no x");
    EXPECT(graft_global_pool_backward_nhwc(GRAFT_POOL_AVG, dx, dy, NULL, 1, 2, 2, 2), GRAFT_OK,
           "global AVG without x");
    EXPECT(graft_global_pool_backward_nhwc(GRAFT_POOL_AVG, dx, dy, x, 1, 0, 2, 2), GRAFT_EINVAL,
           "H = 0");

    EXPECT(graft_batchnorm_train_nhwc(dx, m, v, x, 0, 2, g, g, 1e-5f), GRAFT_EINVAL, "pixels 0");
    EXPECT(graft_batchnorm_train_nhwc(dx, m, v, x, 4, 2, g, NULL, 1e-5f), GRAFT_EINVAL,
           "NULL beta");
    EXPECT(graft_batchnorm_train_nhwc(dx, m, v, x, 4, 2, g, g, 0.0f), GRAFT_EINVAL, "eps 0");
    EXPECT(graft_batchnorm_train_nhwc(dx + 1, m, v, dx, 4, 2, g, g, 1e-5f), GRAFT_EINVAL,
           "partial overlap");
    EXPECT(graft_batchnorm_backward_nhwc(dx, NULL, NULL, dy, x, 4, 2, g, m, v, 1e-5f, 2),
           GRAFT_EINVAL, "training 2");
    EXPECT(graft_batchnorm_backward_nhwc(dx, NULL, NULL, dy, x, 4, 0, g, m, v, 1e-5f, 0),
           GRAFT_EINVAL, "C 0");
    EXPECT(graft_batchnorm_backward_nhwc(dx, NULL, NULL, dy, x, 4, 2, NULL, m, v, 1e-5f, 0),
           GRAFT_EINVAL, "NULL gamma");
    float vneg[2] = {1, -1};
    EXPECT(graft_batchnorm_backward_nhwc(dx, NULL, NULL, dy, x, 4, 2, g, m, vneg, 1e-5f, 0),
           GRAFT_EINVAL, "negative var");
    if (!strstr(graft_last_error(), "channel 1"))
        return graft_check_fail(msg, msglen, "negative var message: %s", graft_last_error());
    EXPECT(graft_batchnorm_backward_nhwc(x, NULL, NULL, dy, x, 4, 2, g, m, v, 1e-5f, 0),
           GRAFT_EINVAL, "dx == x");

    float z[6] = {0}, d[6] = {7, 7, 7, 7, 7, 7};
    int labels[2] = {1, 3};
    EXPECT(graft_softmax_xent(&loss, d, z, labels, 2, 3, 0.0f), GRAFT_EINVAL, "label 3 of 3");
    if (!strstr(graft_last_error(), "row 1"))
        return graft_check_fail(msg, msglen, "bad label message names no row: %s",
                                graft_last_error());
    labels[1] = -1;
    EXPECT(graft_multimargin(&loss, d, z, labels, 2, 3), GRAFT_EINVAL, "label -1");
    if (!strstr(graft_last_error(), "row 1"))
        return graft_check_fail(msg, msglen, "bad label message names no row: %s",
                                graft_last_error());
    labels[1] = 2;
    EXPECT(graft_softmax_xent(&loss, d, z, labels, 2, 3, 1.0f), GRAFT_EINVAL, "smoothing 1");
    EXPECT(graft_softmax_xent(&loss, d, z, labels, 2, 3, -0.1f), GRAFT_EINVAL, "smoothing < 0");
    EXPECT(graft_softmax_xent(&loss, d, z, labels, 2, 3, NAN), GRAFT_EINVAL, "smoothing NaN");
    EXPECT(graft_softmax_xent(&loss, d, z, labels, 0, 3, 0.0f), GRAFT_EINVAL, "N 0");
    EXPECT(graft_multimargin(&loss, d, z, labels, 2, 0), GRAFT_EINVAL, "K 0");
    EXPECT(graft_softmax_xent(NULL, d, z, labels, 2, 3, 0.0f), GRAFT_EINVAL, "NULL loss");
    EXPECT(graft_multimargin(&loss, d, NULL, labels, 2, 3), GRAFT_EINVAL, "NULL logits");
    EXPECT(graft_multimargin(&loss, d, z, NULL, 2, 3), GRAFT_EINVAL, "NULL labels");
    if (loss != 42 || d[0] != 7 || d[5] != 7)
        return graft_check_fail(msg, msglen, "outputs written on error");
    return GRAFT_CHECK_PASS;
}

const graft_check graft_checks_grad[] = {
    {"grad", "unary_matches_finite_differences", unary_matches_finite_differences},
    {"grad", "unary_kinks_follow_pytorch", unary_kinks_follow_pytorch},
    {"grad", "unary_simd_matches_scalar", unary_simd_matches_scalar},
    {"grad", "pool_backward_matches_finite_differences",
     pool_backward_matches_finite_differences},
    {"grad", "pool_max_ties_go_to_first", pool_max_ties_go_to_first},
    {"grad", "batchnorm_train_matches_double", batchnorm_train_matches_double},
    {"grad", "batchnorm_backward_matches_finite_differences",
     batchnorm_backward_matches_finite_differences},
    {"grad", "losses_match_double_and_finite_differences",
     losses_match_double_and_finite_differences},
    {"grad", "backward_bit_identical_for_1_and_2_threads",
     backward_bit_identical_for_1_and_2_threads},
    {"grad", "rejects_bad_arguments", rejects_bad_arguments},
    {NULL, NULL, NULL},
};
