/*
 * tests/kernels/check_lrn_grad.c: checks of the LRN backward pass (graft_lrn_backward_nhwc,
 * kernels/lrn_grad*.c) on every variant the CPU has; the others are reported as skipped.
 *
 * 1. Against central differences in double of ONNX LRN's forward, written here from the
 *    operator's definition (window [c - floor((size - 1) / 2), c + ceil((size - 1) / 2)]), and
 *    against the gradient formula evaluated in double by brute force (every channel whose
 *    window holds c), on awkward shapes: C = 1, 3, 7, 17, 69 (vector tails of every width),
 *    sizes 1 to 5 (even ones too) and 9 (wider than some C), 1 and 13 pixels, with weak and
 *    strong alpha. Gradients start from random dx, so += is checked everywhere.
 * 2. Values known in closed form: one channel with beta 1 and bias 0 (dx = -dy / (alpha x^2)),
 *    and size 2 on two channels, where ONNX's window puts the extra channel after c (y[1]
 *    does not depend on x[0]): PyTorch's LocalResponseNorm puts it before, so this pins the
 *    direction.
 * 3. Each SIMD variant against the scalar one on unaligned buffers with guard floats around dx,
 *    zeros in x and dy, and many pixels.
 * 4. 1 and 2 threads bit for bit, on shapes of several chunks and on pixels wider than a chunk.
 * 5. The error paths, dx untouched.
 *
 * Not here: the forward (check_vmath.c), the layer in the trainable top (tests/finetune/).
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

typedef struct lrn_params {
    float alpha, beta, bias;
} lrn_params;

/* ONNX's defaults; AlexNet's k = 2 with a strong alpha; beta above 1; a small bias. */
static const lrn_params params[] = {{1e-4f, 0.75f, 1.0f}, {1.0f, 0.75f, 2.0f},
                                    {2.0f, 1.5f, 1.0f}, {3.0f, 0.5f, 0.25f}};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

/* ---- the operator in double -------------------------------------------------------------- */

/* ONNX LRN's window of channel c, from the operator's definition, clipped to [0, C). */
static void onnx_window(long c, long C, int size, long *first, long *last) {
    *first = c - (long)floor((size - 1) / 2.0);
    *last = c + (long)ceil((size - 1) / 2.0);
    if (*first < 0) *first = 0;
    if (*last > C - 1) *last = C - 1;
}

static double s_double(const double *x, long c, long C, int size, const lrn_params *p) {
    long first, last;
    onnx_window(c, C, size, &first, &last);
    double sum = 0;
    for (long j = first; j <= last; j++) sum += x[j] * x[j];
    return p->bias + (double)p->alpha / size * sum;
}

/* sum_c dy[c] y[c] over one pixel: the objective whose gradient the kernel computes. */
static double objective(const double *x, const float *dy, long C, int size,
                        const lrn_params *p) {
    double L = 0;
    for (long c = 0; c < C; c++)
        L += (double)dy[c] * x[c] / pow(s_double(x, c, C, size, p), p->beta);
    return L;
}

/*
 * The gradient formula in double for channel c of one pixel, by brute force over the channels
 * c2 whose window holds c; *mag gets the sum of the terms' magnitudes, the scale of float
 * rounding in the kernel.
 */
static double grad_double(const double *x, const float *dy, long c, long C, int size,
                          const lrn_params *p, double *mag) {
    const double a = p->alpha, b = p->beta;
    double s = s_double(x, c, C, size, p);
    double g = dy[c] * pow(s, -b), cross = 0, cross_mag = 0;
    for (long c2 = 0; c2 < C; c2++) {
        long first, last;
        onnx_window(c2, C, size, &first, &last);
        if (c < first || c > last) continue;
        double s2 = s_double(x, c2, C, size, p);
        double t = dy[c2] * x[c2] * pow(s2, -b - 1);
        cross += t;
        cross_mag += fabs(t);
    }
    double k = 2 * a * b / size;
    *mag = fabs(g) + k * fabs(x[c]) * cross_mag;
    return g - k * x[c] * cross;
}

static void fill(rng *r, float *x, float *dy, float *dx0, size_t n) {
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)rng_uniform(r, -3, 3);
        dy[i] = (float)rng_uniform(r, -1, 1);
        dx0[i] = (float)rng_uniform(r, -1, 1);
    }
}

/* ---- 1. finite differences and the formula in double ------------------------------------ */

static const size_t fd_channels[] = {1, 3, 7, 17, 69};
static const int fd_sizes[] = {1, 2, 3, 4, 5, 9};
static const size_t fd_pixels[] = {1, 13};

static int lrn_backward_matches_finite_differences(char *msg, size_t msglen) {
    const int saved = graft_threads_get();
    const size_t nmax = 13 * 69;
    int ran[NISAS] = {0}, status = GRAFT_CHECK_PASS, idx = 0;
    double worst_fd = 0, worst_formula = 0; /* as fractions of the tolerances */
    float *buf = falloc(4 * (nmax + 1));
    double *xd = malloc(sizeof(double) * 69);
    if (!buf || !xd) {
        free(buf), free(xd);
        return graft_check_fail(msg, msglen, "out of memory");
    }
    /* Offset by one float so that no vector load is aligned. */
    float *x = buf + 1, *dy = x + nmax, *dx0 = dy + nmax, *dx = dx0 + nmax;
    for (int v = 0; v < NISAS && status == GRAFT_CHECK_PASS; v++) {
        if (!use(all_isas[v], 1)) continue;
        ran[v] = 1;
        for (size_t ci = 0; ci < sizeof fd_channels / sizeof fd_channels[0]; ci++)
            for (size_t si = 0; si < sizeof fd_sizes / sizeof fd_sizes[0]; si++)
                for (size_t pi = 0; pi < sizeof fd_pixels / sizeof fd_pixels[0]; pi++, idx++) {
                    if (status != GRAFT_CHECK_PASS) break;
                    const size_t C = fd_channels[ci], P = fd_pixels[pi];
                    const int size = fd_sizes[si];
                    const lrn_params *p = &params[graft_check_pick(idx, 0, NPARAMS)];
                    rng r = rng_seed((uint64_t)idx);
                    fill(&r, x, dy, dx0, P * C);
                    memcpy(dx, dx0, sizeof(float) * P * C);
                    if (graft_lrn_backward_nhwc(dx, dy, x, P, C, size, p->alpha, p->beta,
                                                p->bias)) {
                        status = graft_check_fail(msg, msglen, "%s: %s",
                                                  graft_isa_name(all_isas[v]),
                                                  graft_last_error());
                        break;
                    }
                    for (size_t px = 0; px < P && status == GRAFT_CHECK_PASS; px++) {
                        const float *xp = x + px * C, *dyp = dy + px * C;
                        for (size_t c = 0; c < C; c++) xd[c] = xp[c];
                        for (size_t c = 0; c < C; c++) {
                            size_t i = px * C + c;
                            double mag;
                            double want = grad_double(xd, dyp, (long)c, (long)C, size, p, &mag);
                            double h = 1e-5 * (1 + fabs(xd[c])), x0 = xd[c];
                            xd[c] = x0 + h;
                            double lp = objective(xd, dyp, (long)C, size, p);
                            xd[c] = x0 - h;
                            double lm = objective(xd, dyp, (long)C, size, p);
                            xd[c] = x0;
                            double fd = (lp - lm) / (2 * h);
                            double got = (double)dx[i] - dx0[i];
                            /* Float rounding: the window sums, pow, a few products, the +=. */
                            double tol = (size + 24) * FLT_EPSILON * mag +
                                         2 * FLT_EPSILON * fabs(dx0[i]) + FLT_MIN;
                            /* Plus the differences' own O(h^2) error. */
                            double tol_fd = 1e-5 * mag + 2 * FLT_EPSILON * fabs(dx0[i]) + 1e-8;
                            double e = fabs(got - want) / tol, e_fd = fabs(got - fd) / tol_fd;
                            if (!(e <= 1) || !(e_fd <= 1)) {
                                status = graft_check_fail(
                                    msg, msglen, "%s pixels %zu C %zu size %d alpha %g beta %g "
                                    "bias %g: dx[%zu][%zu] - dx0 = %.9g, formula in double "
                                    "%.9g, finite differences %.9g (tolerances %.3g, %.3g)",
                                    graft_isa_name(all_isas[v]), P, C, size, p->alpha, p->beta,
                                    p->bias, px, c, got, want, fd, tol, tol_fd);
                                break;
                            }
                            worst_formula = fmax(worst_formula, e);
                            worst_fd = fmax(worst_fd, e_fd);
                        }
                    }
                }
    }
    restore(saved);
    free(buf), free(xd);
    if (status == GRAFT_CHECK_PASS) {
        ran_note(msg, msglen, ran);
        graft_check_append(msg, msglen, "; worst %.2g of the formula's tolerance, %.2g of the "
                           "finite differences'", worst_formula, worst_fd);
    }
    return status;
}

/* ---- 2. closed forms ---------------------------------------------------------------------- */

static int lrn_backward_known_values(char *msg, size_t msglen) {
    const int saved = graft_threads_get();
    int ran[NISAS] = {0}, status = GRAFT_CHECK_PASS;
    for (int v = 0; v < NISAS && status == GRAFT_CHECK_PASS; v++) {
        if (!use(all_isas[v], 1)) continue;
        ran[v] = 1;
        /* One channel, beta 1, bias 0: y = 1 / (alpha x), dy/dx = -1 / (alpha x^2). */
        const float x1[3] = {0.5f, -2.0f, 3.0f}, dy1[3] = {1.0f, 0.25f, -2.0f};
        float dx1[3] = {0.0f, 1.0f, -1.0f};
        const float alpha = 0.8f;
        if (graft_lrn_backward_nhwc(dx1, dy1, x1, 3, 1, 1, alpha, 1.0f, 0.0f)) {
            status = graft_check_fail(msg, msglen, "%s: %s", graft_isa_name(all_isas[v]),
                                      graft_last_error());
            break;
        }
        const double start[3] = {0.0, 1.0, -1.0};
        for (int p = 0; p < 3 && status == GRAFT_CHECK_PASS; p++) {
            double want = start[p] - dy1[p] / ((double)alpha * x1[p] * x1[p]);
            if (!(fabs(dx1[p] - want) <= 16 * FLT_EPSILON * (fabs(want) + 1)))
                status = graft_check_fail(msg, msglen, "%s: size 1, x = %g: dx = %.9g, want %.9g",
                                          graft_isa_name(all_isas[v]), x1[p], dx1[p], want);
        }
        /*
         * Size 2 on two channels, beta 1, bias 0: ONNX's windows are {0, 1} and {1}, so
         * y1 = 2 / (alpha x1) ignores x0 and, with dy = (0, 1), dx0 = 0 exactly while
         * dx1 = -2 / (alpha x1^2). With dy = (1, 0), y0 = 2 x0 / (alpha (x0^2 + x1^2)) gives
         * dx0 = 2 (x1^2 - x0^2) / (alpha q^2) and dx1 = -4 x0 x1 / (alpha q^2), q = x0^2 + x1^2.
         */
        const float x2[2] = {1.5f, -0.5f};
        const float dys[2][2] = {{0.0f, 1.0f}, {1.0f, 0.0f}};
        const double x0 = x2[0], xx1 = x2[1], q = x0 * x0 + xx1 * xx1;
        const double want2[2][2] = {
            {0.0, -2.0 / (alpha * xx1 * xx1)},
            {2.0 * (xx1 * xx1 - x0 * x0) / (alpha * q * q), -4.0 * x0 * xx1 / (alpha * q * q)}};
        for (int k = 0; k < 2 && status == GRAFT_CHECK_PASS; k++) {
            float dx2[2] = {0.0f, 0.0f};
            if (graft_lrn_backward_nhwc(dx2, dys[k], x2, 1, 2, 2, alpha, 1.0f, 0.0f)) {
                status = graft_check_fail(msg, msglen, "%s: %s", graft_isa_name(all_isas[v]),
                                          graft_last_error());
                break;
            }
            for (int c = 0; c < 2 && status == GRAFT_CHECK_PASS; c++) {
                double want = want2[k][c];
                int ok = k == 0 && c == 0 ? dx2[c] == 0.0f
                                          : fabs(dx2[c] - want) <= 32 * FLT_EPSILON * fabs(want);
                if (!ok)
                    status = graft_check_fail(msg, msglen, "%s: size 2, dy = (%g, %g): dx[%d] = "
                                              "%.9g, ONNX's window gives %.9g",
                                              graft_isa_name(all_isas[v]), dys[k][0], dys[k][1],
                                              c, dx2[c], want);
            }
        }
    }
    restore(saved);
    if (status == GRAFT_CHECK_PASS) ran_note(msg, msglen, ran);
    return status;
}

/* ---- 3. SIMD against scalar ----------------------------------------------------------------- */

#define GUARD 19
#define GUARD_VALUE 12345.0f

static int lrn_backward_simd_matches_scalar(char *msg, size_t msglen) {
    const int saved = graft_threads_get();
    static const size_t channels[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 69, 100};
    static const int sizes[] = {1, 2, 3, 4, 5, 8, 9, 200};
    static const size_t pixel_counts[] = {1, 5, 61};
    const size_t nmax = 61 * 100;
    int ran[NISAS] = {0}, status = GRAFT_CHECK_PASS, simd = 0, idx = 0;
    double worst = 0;
    float *x = falloc(nmax + 1), *dy = falloc(nmax + 1), *dx0 = falloc(nmax);
    float *ref = falloc(nmax), *buf = falloc(nmax + 2 * GUARD + 1);
    if (!x || !dy || !dx0 || !ref || !buf) {
        status = graft_check_fail(msg, msglen, "out of memory");
        goto done;
    }
    ran[0] = graft_isa_available(GRAFT_ISA_SCALAR);
    for (size_t ci = 0; ci < sizeof channels / sizeof channels[0]; ci++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (size_t pi = 0; pi < sizeof pixel_counts / sizeof pixel_counts[0]; pi++, idx++) {
                if (status != GRAFT_CHECK_PASS) goto done;
                const size_t C = channels[ci], P = pixel_counts[pi], n = P * C;
                const int size = sizes[si];
                const lrn_params *p = &params[graft_check_pick(idx, 0, NPARAMS)];
                rng r = rng_seed(1000 + (uint64_t)idx);
                /* Unaligned x and dy; some zeros in both. */
                float *xu = x + 1, *dyu = dy + graft_check_pick(idx, 8, 2);
                fill(&r, xu, dyu, dx0, n);
                for (size_t i = 0; i < n; i += 11) xu[i] = 0.0f;
                for (size_t i = 5; i < n; i += 13) dyu[i] = 0.0f;
                if (!use(GRAFT_ISA_SCALAR, 1)) {
                    status = graft_check_fail(msg, msglen, "cannot select the scalar variant");
                    goto done;
                }
                memcpy(ref, dx0, sizeof(float) * n);
                if (graft_lrn_backward_nhwc(ref, dyu, xu, P, C, size, p->alpha, p->beta,
                                            p->bias)) {
                    status = graft_check_fail(msg, msglen, "scalar: %s", graft_last_error());
                    goto done;
                }
                for (int v = 1; v < NISAS && status == GRAFT_CHECK_PASS; v++) {
                    if (!use(all_isas[v], 1)) continue;
                    ran[v] = 1, simd = 1;
                    float *dx = buf + GUARD + (graft_check_pick(idx, 16, 3) == 0);
                    for (size_t i = 0; i < nmax + 2 * GUARD + 1; i++) buf[i] = GUARD_VALUE;
                    memcpy(dx, dx0, sizeof(float) * n);
                    if (graft_lrn_backward_nhwc(dx, dyu, xu, P, C, size, p->alpha, p->beta,
                                                p->bias)) {
                        status = graft_check_fail(msg, msglen, "%s: %s",
                                                  graft_isa_name(all_isas[v]),
                                                  graft_last_error());
                        break;
                    }
                    for (float *g = buf; g < dx; g++)
                        if (*g != GUARD_VALUE)
                            status = graft_check_fail(msg, msglen, "%s: wrote before dx",
                                                      graft_isa_name(all_isas[v]));
                    for (float *g = dx + n; g < dx + n + GUARD; g++)
                        if (*g != GUARD_VALUE)
                            status = graft_check_fail(msg, msglen, "%s: wrote after dx",
                                                      graft_isa_name(all_isas[v]));
                    /* The terms' magnitudes in double bound the rounding of either variant. */
                    double *xd = malloc(sizeof(double) * C);
                    if (!xd) {
                        status = graft_check_fail(msg, msglen, "out of memory");
                        break;
                    }
                    for (size_t px = 0; px < P && status == GRAFT_CHECK_PASS; px++) {
                        for (size_t c = 0; c < C; c++) xd[c] = xu[px * C + c];
                        for (size_t c = 0; c < C; c++) {
                            size_t i = px * C + c;
                            double mag;
                            grad_double(xd, dyu + px * C, (long)c, (long)C, size, p, &mag);
                            double tol = 2 * ((size < (int)C ? size : (int)C) + 24) *
                                             FLT_EPSILON * mag +
                                         2 * FLT_EPSILON * fabs(dx0[i]) + FLT_MIN;
                            double e = fabs((double)dx[i] - ref[i]) / tol;
                            if (!(e <= 1)) {
                                status = graft_check_fail(
                                    msg, msglen, "%s pixels %zu C %zu size %d alpha %g beta %g "
                                    "bias %g: dx[%zu][%zu] = %.9g, scalar %.9g (tolerance %.3g)",
                                    graft_isa_name(all_isas[v]), P, C, size, p->alpha, p->beta,
                                    p->bias, px, c, dx[i], ref[i], tol);
                                break;
                            }
                            worst = fmax(worst, e);
                        }
                    }
                    free(xd);
                }
            }
done:
    restore(saved);
    free(x), free(dy), free(dx0), free(ref), free(buf);
    if (status != GRAFT_CHECK_PASS) return status;
    if (!simd)
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "this CPU has no SIMD variant");
    ran_note(msg, msglen, ran);
    graft_check_append(msg, msglen, "; worst %.2g of the tolerance", worst);
    return GRAFT_CHECK_PASS;
}

/* ---- 4. thread counts --------------------------------------------------------------------- */

static int lrn_backward_bit_identical_for_1_and_2_threads(char *msg, size_t msglen) {
    const int saved = graft_threads_get();
    /* Several chunks of pixels; pixels wider than a chunk; an even size. */
    static const struct {
        size_t pixels, C;
        int size;
    } shapes[] = {{5000, 7, 5}, {3, 20000, 3}, {777, 69, 4}};
    const size_t nmax = 5000 * 7 > 3 * 20000 ? 5000 * 7 : 3 * 20000;
    int ran[NISAS] = {0}, status = GRAFT_CHECK_PASS;
    float *x = falloc(nmax), *dy = falloc(nmax), *dx0 = falloc(nmax);
    float *a = falloc(nmax), *b = falloc(nmax);
    if (!x || !dy || !dx0 || !a || !b) {
        status = graft_check_fail(msg, msglen, "out of memory");
        goto done;
    }
    rng r = rng_seed(5);
    fill(&r, x, dy, dx0, nmax);
    for (int v = 0; v < NISAS && status == GRAFT_CHECK_PASS; v++) {
        if (!graft_isa_available(all_isas[v])) continue;
        ran[v] = 1;
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0] && status == GRAFT_CHECK_PASS;
             k++) {
            const size_t n = shapes[k].pixels * shapes[k].C;
            const lrn_params *p = &params[1 + k % (NPARAMS - 1)];
            float *out[2] = {a, b};
            for (int t = 0; t < 2 && status == GRAFT_CHECK_PASS; t++) {
                if (!use(all_isas[v], t + 1)) {
                    status = graft_check_fail(msg, msglen, "cannot use %s with %d threads",
                                              graft_isa_name(all_isas[v]), t + 1);
                    break;
                }
                memcpy(out[t], dx0, sizeof(float) * n);
                if (graft_lrn_backward_nhwc(out[t], dy, x, shapes[k].pixels, shapes[k].C,
                                            shapes[k].size, p->alpha, p->beta, p->bias))
                    status = graft_check_fail(msg, msglen, "%s: %s",
                                              graft_isa_name(all_isas[v]), graft_last_error());
            }
            if (status == GRAFT_CHECK_PASS && memcmp(a, b, sizeof(float) * n))
                status = graft_check_fail(msg, msglen, "%s pixels %zu C %zu size %d: 1 and 2 "
                                          "threads differ", graft_isa_name(all_isas[v]),
                                          shapes[k].pixels, shapes[k].C, shapes[k].size);
        }
    }
done:
    restore(saved);
    free(x), free(dy), free(dx0), free(a), free(b);
    if (status == GRAFT_CHECK_PASS) ran_note(msg, msglen, ran);
    return status;
}

/* ---- 5. errors ------------------------------------------------------------------------------ */

static int lrn_backward_rejects_bad_arguments(char *msg, size_t msglen) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, dy[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    float dx[8] = {7, 7, 7, 7, 7, 7, 7, 7};
    EXPECT(graft_lrn_backward_nhwc(dx, dy, x, 2, 4, 0, 1e-4f, 0.75f, 1), GRAFT_EINVAL, "size 0");
    EXPECT(graft_lrn_backward_nhwc(dx, dy, x, 2, 4, -3, 1e-4f, 0.75f, 1), GRAFT_EINVAL,
           "size < 0");
    EXPECT(graft_lrn_backward_nhwc(dx, dy, x, 2, 4, 5, NAN, 0.75f, 1), GRAFT_EINVAL, "NaN alpha");
    EXPECT(graft_lrn_backward_nhwc(dx, dy, x, 2, 4, 5, 1e-4f, INFINITY, 1), GRAFT_EINVAL,
           "infinite beta");
    EXPECT(graft_lrn_backward_nhwc(dx, dy, x, 2, 4, 5, 1e-4f, 0.75f, -INFINITY), GRAFT_EINVAL,
           "infinite bias");
    EXPECT(graft_lrn_backward_nhwc(NULL, dy, x, 2, 4, 5, 1e-4f, 0.75f, 1), GRAFT_EINVAL,
           "NULL dx");
    EXPECT(graft_lrn_backward_nhwc(dx, NULL, x, 2, 4, 5, 1e-4f, 0.75f, 1), GRAFT_EINVAL,
           "NULL dy");
    EXPECT(graft_lrn_backward_nhwc(dx, dy, NULL, 2, 4, 5, 1e-4f, 0.75f, 1), GRAFT_EINVAL,
           "NULL x");
    if (!strstr(graft_last_error(), "x is NULL"))
        return graft_check_fail(msg, msglen, "NULL x message: %s", graft_last_error());
    EXPECT(graft_lrn_backward_nhwc(x, dy, x, 2, 4, 5, 1e-4f, 0.75f, 1), GRAFT_EINVAL, "dx == x");
    EXPECT(graft_lrn_backward_nhwc(dy, dy, x, 2, 4, 5, 1e-4f, 0.75f, 1), GRAFT_EINVAL,
           "dx == dy");
    EXPECT(graft_lrn_backward_nhwc(x + 3, dy, x, 1, 4, 5, 1e-4f, 0.75f, 1), GRAFT_EINVAL,
           "dx partly over x");
    if (!strstr(graft_last_error(), "overlaps x"))
        return graft_check_fail(msg, msglen, "overlap message: %s", graft_last_error());
    EXPECT(graft_lrn_backward_nhwc(dx, dy, x, SIZE_MAX / 2, 4, 5, 1e-4f, 0.75f, 1), GRAFT_ERANGE,
           "huge pixels");
    EXPECT(graft_lrn_backward_nhwc(dx, dy, x, 1, SIZE_MAX / 4, 5, 1e-4f, 0.75f, 1), GRAFT_ERANGE,
           "huge C");
    for (int i = 0; i < 8; i++)
        if (dx[i] != 7 || x[i] != (float)(i + 1) || dy[i] != 1)
            return graft_check_fail(msg, msglen, "a buffer was written by a failed call");
    /* Nothing to do is not an error, whatever the pointers. */
    EXPECT(graft_lrn_backward_nhwc(NULL, NULL, NULL, 0, 4, 5, 1e-4f, 0.75f, 1), GRAFT_OK,
           "pixels 0");
    EXPECT(graft_lrn_backward_nhwc(NULL, NULL, NULL, 3, 0, 5, 1e-4f, 0.75f, 1), GRAFT_OK, "C 0");
    return GRAFT_CHECK_PASS;
}

const graft_check graft_checks_lrn_grad[] = {
    {"lrn_grad", "lrn_backward_matches_finite_differences",
     lrn_backward_matches_finite_differences},
    {"lrn_grad", "lrn_backward_known_values", lrn_backward_known_values},
    {"lrn_grad", "lrn_backward_simd_matches_scalar", lrn_backward_simd_matches_scalar},
    {"lrn_grad", "lrn_backward_bit_identical_for_1_and_2_threads",
     lrn_backward_bit_identical_for_1_and_2_threads},
    {"lrn_grad", "lrn_backward_rejects_bad_arguments", lrn_backward_rejects_bad_arguments},
    {NULL, NULL, NULL},
};
