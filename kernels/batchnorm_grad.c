/*
 * kernels/batchnorm_grad.c: batch normalisation for fine-tuning on NHWC data seen as
 * (pixels, C): the training-mode forward that normalises with this batch's statistics
 * (graft_batchnorm_train_nhwc) and the backward pass, with frozen or batch statistics
 * (graft_batchnorm_backward_nhwc). Public API in include/graft/kernels.h; the inference
 * forward with running statistics is graft_batchnorm_nhwc (eltwise.c).
 *
 * Every per-channel reduction (mean, variance, sum dy, sum dy * xhat) runs in double over the
 * pixels in increasing order, and the work is split by blocks of channels, never by pixels:
 * one task owns a channel for the whole call, so results are bit-identical for any thread
 * count. Loops run pixel-outer, channel-inner over a block, so they read whole cache lines of
 * NHWC data and the compiler can vectorise them along C. No ISA-specific code, no allocation.
 */
#include <math.h>
#include <stdint.h>

#include "pooling.h"

/* Channels per unit of work: one 64-byte line of floats, and the stack arrays' size. */
#define CBLOCK 16
/* Below this many elements a call runs on one thread. */
#define PARALLEL_MIN 32768

typedef struct bn_job {
    float *y, *mean, *var;            /* train forward outputs */
    float *dx, *dgamma, *dbeta;       /* backward outputs */
    const float *x, *dy, *gamma, *beta;
    const float *mean_in, *var_in;    /* backward inputs */
    size_t pixels;
    int C, cblocks, training, tasks;
    float eps;
    void (*unit)(const struct bn_job *J, int c0, int cb);
} bn_job;

static void bn_task(void *ctx, int task, int thread) {
    const bn_job *J = ctx;
    int u0 = (int)((long long)J->cblocks * task / J->tasks);
    int u1 = (int)((long long)J->cblocks * (task + 1) / J->tasks);
    for (int u = u0; u < u1; u++) {
        int c0 = u * CBLOCK;
        J->unit(J, c0, J->C - c0 < CBLOCK ? J->C - c0 : CBLOCK);
    }
}

static int bn_run(bn_job *J) {
    J->cblocks = (J->C + CBLOCK - 1) / CBLOCK;
    if (J->cblocks == 1 || (double)J->pixels * J->C < PARALLEL_MIN) {
        J->tasks = 1;
        bn_task(J, 0, 0);
        return GRAFT_OK;
    }
    int threads, err = graft__pool_begin(0, &threads);
    if (err) return err;
    J->tasks = threads < J->cblocks ? threads : J->cblocks;
    graft__pool_run(J->tasks, bn_task, J);
    graft__pool_end();
    return GRAFT_OK;
}

/* ---- training forward ------------------------------------------------------------------ */

static void train_unit(const bn_job *J, int c0, int cb) {
    const size_t C = (size_t)J->C, P = J->pixels;
    const float *x = J->x + c0;
    double sum[CBLOCK] = {0}, mean[CBLOCK], sq[CBLOCK] = {0};
    for (size_t p = 0; p < P; p++)
        for (int c = 0; c < cb; c++) sum[c] += x[p * C + c];
    for (int c = 0; c < cb; c++) mean[c] = sum[c] / (double)P;
    /* Two passes: the sum of squared deviations does not cancel as E[x^2] - E[x]^2 would. */
    for (size_t p = 0; p < P; p++)
        for (int c = 0; c < cb; c++) {
            double d = x[p * C + c] - mean[c];
            sq[c] += d * d;
        }
    float m[CBLOCK], scale[CBLOCK], shift[CBLOCK];
    for (int c = 0; c < cb; c++) {
        m[c] = (float)mean[c];
        float v = (float)(sq[c] / (double)P);
        J->mean[c0 + c] = m[c];
        J->var[c0 + c] = v;
        scale[c] = J->gamma[c0 + c] / sqrtf(v + J->eps);
        shift[c] = J->beta[c0 + c];
    }
    /* Written after the reductions, so y may be x (in place). */
    float *y = J->y + c0;
    for (size_t p = 0; p < P; p++)
        for (int c = 0; c < cb; c++) y[p * C + c] = (x[p * C + c] - m[c]) * scale[c] + shift[c];
}

int graft_batchnorm_train_nhwc(float *y, float *mean, float *var, const float *x, size_t pixels,
                               int C, const float *gamma, const float *beta, float eps) {
    if (pixels < 1 || C < 1)
        return graft__fail(GRAFT_EINVAL, "batchnorm_train: pixels = %zu, C = %d; both must be"
                           " >= 1", pixels, C);
    if (!(eps > 0.0f) || isinf(eps))
        return graft__fail(GRAFT_EINVAL, "batchnorm_train: eps = %g must be positive and finite"
                           " (a constant batch has variance 0)", eps);
    size_t elems = pixels;
    if (!graft__elems_mul(&elems, (size_t)C))
        return graft__fail(GRAFT_ERANGE, "batchnorm_train: %zu pixels of %d channels cannot be"
                           " addressed", pixels, C);
    if (!y || !mean || !var || !x || !gamma || !beta)
        return graft__fail(GRAFT_EINVAL, "batchnorm_train: NULL %s",
                           !y ? "y" : !mean ? "mean" : !var ? "var" : !x ? "x"
                           : !gamma ? "gamma" : "beta");
    size_t bytes = elems * sizeof(float), cbytes = (size_t)C * sizeof(float);
    if ((y != x && graft__overlap(y, bytes, x, bytes)) || graft__overlap(mean, cbytes, x, bytes) ||
        graft__overlap(var, cbytes, x, bytes) || graft__overlap(mean, cbytes, y, bytes) ||
        graft__overlap(var, cbytes, y, bytes) || graft__overlap(mean, cbytes, var, cbytes))
        return graft__fail(GRAFT_EINVAL, "batchnorm_train: overlapping buffers (only y == x is"
                           " allowed)");
    graft_isa isa;
    int err = graft_isa_current(&isa);
    if (err) return err;
    bn_job J = {.y = y, .mean = mean, .var = var, .x = x, .gamma = gamma, .beta = beta,
                .pixels = pixels, .C = C, .eps = eps, .unit = train_unit};
    return bn_run(&J);
}

/* ---- backward -------------------------------------------------------------------------- */

static void backward_unit(const bn_job *J, int c0, int cb) {
    const size_t C = (size_t)J->C, P = J->pixels;
    const float *x = J->x + c0, *dy = J->dy + c0;
    double mean[CBLOCK], invstd[CBLOCK], sum_dy[CBLOCK] = {0}, sum_dyxh[CBLOCK] = {0};
    for (int c = 0; c < cb; c++) {
        mean[c] = J->mean_in[c0 + c];
        invstd[c] = 1.0 / sqrt((double)J->var_in[c0 + c] + (double)J->eps);
    }
    int reduce = J->training || J->dgamma || J->dbeta;
    if (reduce) {
        for (size_t p = 0; p < P; p++)
            for (int c = 0; c < cb; c++) {
                double g = dy[p * C + c];
                sum_dy[c] += g;
                sum_dyxh[c] += g * (x[p * C + c] - mean[c]);
            }
        for (int c = 0; c < cb; c++) sum_dyxh[c] *= invstd[c];
        if (J->dgamma)
            for (int c = 0; c < cb; c++) J->dgamma[c0 + c] += (float)sum_dyxh[c];
        if (J->dbeta)
            for (int c = 0; c < cb; c++) J->dbeta[c0 + c] += (float)sum_dy[c];
    }
    if (!J->dx) return;
    float *dx = J->dx + c0;
    if (!J->training) {
        /* Frozen statistics: the layer is an affine map per channel. */
        float k[CBLOCK];
        for (int c = 0; c < cb; c++) k[c] = (float)(J->gamma[c0 + c] * invstd[c]);
        for (size_t p = 0; p < P; p++)
            for (int c = 0; c < cb; c++) dx[p * C + c] += dy[p * C + c] * k[c];
        return;
    }
    /*
     * Batch statistics: with xhat = (x - mean) * invstd and M = pixels,
     *   dx = gamma * invstd * (dy - sum(dy) / M - xhat * sum(dy * xhat) / M).
     */
    double k[CBLOCK], a[CBLOCK], b[CBLOCK];
    for (int c = 0; c < cb; c++) {
        k[c] = J->gamma[c0 + c] * invstd[c];
        a[c] = sum_dy[c] / (double)P;
        b[c] = sum_dyxh[c] / (double)P * invstd[c];
    }
    for (size_t p = 0; p < P; p++)
        for (int c = 0; c < cb; c++) {
            double xm = x[p * C + c] - mean[c];
            dx[p * C + c] += (float)(k[c] * (dy[p * C + c] - a[c] - xm * b[c]));
        }
}

int graft_batchnorm_backward_nhwc(float *dx, float *dgamma, float *dbeta, const float *dy,
                                  const float *x, size_t pixels, int C, const float *gamma,
                                  const float *mean, const float *var, float eps, int training) {
    if (pixels < 1 || C < 1)
        return graft__fail(GRAFT_EINVAL, "batchnorm_backward: pixels = %zu, C = %d; both must be"
                           " >= 1", pixels, C);
    if (training != 0 && training != 1)
        return graft__fail(GRAFT_EINVAL, "batchnorm_backward: training = %d is not 0 or 1",
                           training);
    size_t elems = pixels;
    if (!graft__elems_mul(&elems, (size_t)C))
        return graft__fail(GRAFT_ERANGE, "batchnorm_backward: %zu pixels of %d channels cannot"
                           " be addressed", pixels, C);
    if (!dy || !x || !gamma || !mean || !var)
        return graft__fail(GRAFT_EINVAL, "batchnorm_backward: NULL %s",
                           !dy ? "dy" : !x ? "x" : !gamma ? "gamma" : !mean ? "mean" : "var");
    for (int c = 0; c < C; c++)
        if (!((double)var[c] + (double)eps > 0.0) || isinf(var[c]) || isinf(eps))
            return graft__fail(GRAFT_EINVAL, "batchnorm_backward: channel %d has var + eps ="
                               " %g + %g, which must be positive and finite", c, var[c], eps);
    size_t bytes = elems * sizeof(float), cbytes = (size_t)C * sizeof(float);
    const void *ins[] = {dy, x};
    for (int i = 0; i < 2; i++)
        if (graft__overlap(dx, dx ? bytes : 0, ins[i], bytes) ||
            graft__overlap(dgamma, dgamma ? cbytes : 0, ins[i], bytes) ||
            graft__overlap(dbeta, dbeta ? cbytes : 0, ins[i], bytes))
            return graft__fail(GRAFT_EINVAL, "batchnorm_backward: a gradient output overlaps"
                               " %s", i == 0 ? "dy" : "x");
    graft_isa isa;
    int err = graft_isa_current(&isa);
    if (err) return err;
    if (!dx && !dgamma && !dbeta) return GRAFT_OK;
    bn_job J = {.dx = dx, .dgamma = dgamma, .dbeta = dbeta, .x = x, .dy = dy, .gamma = gamma,
                .mean_in = mean, .var_in = var, .pixels = pixels, .C = C, .eps = eps,
                .training = training, .unit = backward_unit};
    return bn_run(&J);
}
