/*
 * kernels/pooling_grad.c: the backward passes of 2-D and global pooling on NHWC batches
 * (graft_pool2d_backward_nhwc, graft_global_pool_backward_nhwc; public API in
 * include/graft/kernels.h). Fine-tuning calls them between the backward of the layer after a
 * pooling and the one before it.
 *
 * The geometry (output size, taps inside the image, the average's divisor) comes from
 * pooling.h's helpers, the very ones the forward uses, so the two can never disagree. The work
 * is split by image and block of channels: a dx element is only ever written by the one task
 * owning its image and channel, and it receives its contributions in the fixed order of the
 * outputs (oh, ow), so results are bit-identical for any thread count. MAX routes each output's
 * gradient to the first tap in (kh, kw) order holding the window's maximum, a NaN tap winning
 * as in PyTorch's CPU kernel (`val > maxval || isnan(val)`). Portable C, vectorised along C by
 * the compiler only; nothing here allocates.
 */
#include <math.h>
#include <stdint.h>

#include "pooling.h"

/* Channels per unit of work, and the size of the per-channel running maxima on the stack. */
#define CBLOCK 64
/* Below this many tap visits a call runs on one thread: waking the pool would cost more. */
#define PARALLEL_MIN 65536.0

/* ---- 2-D pooling ----------------------------------------------------------------------- */

typedef struct pool_grad_job {
    graft__pool_shape s;
    float *dx;
    const float *dy, *x;
    int cblocks;
    size_t units; /* N * cblocks */
    int tasks;
} pool_grad_job;

/* One image, channels [c0, c0 + cb): every output pixel's gradient back into its window. */
static void pool_grad_unit(const pool_grad_job *J, size_t n, int c0, int cb) {
    const graft__pool_shape *s = &J->s;
    size_t in_image = (size_t)s->H * s->W * s->C;
    float *dx = J->dx + n * in_image + c0;
    const float *x = J->x ? J->x + n * in_image + c0 : NULL;
    const float *dy = J->dy + n * (size_t)s->OH * s->OW * s->C + c0;
    for (int oh = 0; oh < s->OH; oh++)
        for (int ow = 0; ow < s->OW; ow++, dy += s->C) {
            /* The window is located in dx, which has x's layout; x is read at the same offset. */
            graft__pool_win w;
            graft__pool_window(s, dx, oh, ow, &w);
            size_t first = (size_t)(w.x - dx);
            if (s->kind == GRAFT_POOL_AVG) {
                for (int th = 0; th < w.taps_h; th++)
                    for (int tw = 0; tw < w.taps_w; tw++) {
                        float *d = dx + first + th * w.step_h + tw * w.step_w;
                        for (int c = 0; c < cb; c++) d[c] += dy[c] * w.inv;
                    }
                continue;
            }
            float best[CBLOCK];
            size_t where[CBLOCK];
            for (int c = 0; c < cb; c++) {
                best[c] = -INFINITY;
                where[c] = first;
            }
            for (int th = 0; th < w.taps_h; th++)
                for (int tw = 0; tw < w.taps_w; tw++) {
                    size_t off = first + th * w.step_h + tw * w.step_w;
                    for (int c = 0; c < cb; c++) {
                        float v = x[off + c];
                        if (v > best[c] || isnan(v)) {
                            best[c] = v;
                            where[c] = off;
                        }
                    }
                }
            for (int c = 0; c < cb; c++) dx[where[c] + c] += dy[c];
        }
}

static void pool_grad_task(void *ctx, int task, int thread) {
    const pool_grad_job *J = ctx;
    size_t u0 = J->units * task / J->tasks, u1 = J->units * (task + 1) / J->tasks;
    for (size_t u = u0; u < u1; u++) {
        int c0 = (int)(u % J->cblocks) * CBLOCK;
        pool_grad_unit(J, u / J->cblocks, c0, J->s.C - c0 < CBLOCK ? J->s.C - c0 : CBLOCK);
    }
}

int graft_pool2d_backward_nhwc(const graft_pool2d *p, float *dx, const float *dy, const float *x,
                               int N, int H, int W, int C) {
    int OH = 0, OW = 0;
    int err = graft_pool2d_output_size(p, H, W, &OH, &OW);
    if (err) return err;
    if (N < 0) return graft__fail(GRAFT_EINVAL, "pool2d_backward: N = %d is negative", N);
    if (C < 1)
        return graft__fail(GRAFT_EINVAL, "pool2d_backward: C = %d; need at least one channel",
                           C);
    size_t x_elems = 0, y_elems = 0;
    if ((err = graft__tensor_elems("pool2d_backward", "x", N, H, W, C, &x_elems)) ||
        (err = graft__tensor_elems("pool2d_backward", "dy", N, OH, OW, C, &y_elems)))
        return err;
    if (N == 0) return GRAFT_OK;
    if (!dx || !dy || (p->kind == GRAFT_POOL_MAX && !x))
        return graft__fail(GRAFT_EINVAL, "pool2d_backward: NULL %s",
                           !dx ? "dx" : !dy ? "dy" : "x (MAX reads the forward input)");
    size_t x_bytes = x_elems * sizeof(float);
    if (graft__overlap(dx, x_bytes, dy, y_elems * sizeof(float)) ||
        (x && graft__overlap(dx, x_bytes, x, x_bytes)))
        return graft__fail(GRAFT_EINVAL, "pool2d_backward: dx overlaps %s",
                           graft__overlap(dx, x_bytes, dy, y_elems * sizeof(float)) ? "dy"
                                                                                     : "x");
    graft_isa isa;
    if ((err = graft_isa_current(&isa))) return err; /* GRAFT_ISA must be honoured or refused */

    pool_grad_job J = {.dx = dx, .dy = dy, .x = p->kind == GRAFT_POOL_MAX ? x : NULL};
    J.s = graft__pool_shape_of(p, H, W, C, OH, OW);
    J.cblocks = (C + CBLOCK - 1) / CBLOCK;
    J.units = (size_t)N * J.cblocks;
    double visits = (double)y_elems * p->kernel_h * p->kernel_w;
    if (visits < PARALLEL_MIN || J.units == 1) {
        J.tasks = 1;
        pool_grad_task(&J, 0, 0);
        return GRAFT_OK;
    }
    int threads;
    if ((err = graft__pool_begin(0, &threads))) return err;
    size_t tasks = (size_t)threads * 4;
    J.tasks = (int)(tasks < J.units ? tasks : J.units);
    graft__pool_run(J.tasks, pool_grad_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}

/* ---- global pooling -------------------------------------------------------------------- */

typedef struct global_grad_job {
    int kind, C, cblocks;
    size_t pixels, units;
    float *dx;
    const float *dy, *x;
    int tasks;
} global_grad_job;

static void global_grad_unit(const global_grad_job *J, size_t n, int c0, int cb) {
    size_t C = (size_t)J->C;
    float *dx = J->dx + n * J->pixels * C + c0;
    const float *dy = J->dy + n * C + c0;
    if (J->kind == GRAFT_POOL_AVG) {
        /* The forward multiplies the sum by this reciprocal, so it is the exact derivative. */
        float inv = 1.0f / (float)J->pixels;
        float g[CBLOCK];
        for (int c = 0; c < cb; c++) g[c] = dy[c] * inv;
        for (size_t p = 0; p < J->pixels; p++)
            for (int c = 0; c < cb; c++) dx[p * C + c] += g[c];
        return;
    }
    const float *x = J->x + n * J->pixels * C + c0;
    float best[CBLOCK];
    size_t where[CBLOCK];
    for (int c = 0; c < cb; c++) {
        best[c] = -INFINITY;
        where[c] = 0;
    }
    for (size_t p = 0; p < J->pixels; p++)
        for (int c = 0; c < cb; c++) {
            float v = x[p * C + c];
            if (v > best[c] || isnan(v)) {
                best[c] = v;
                where[c] = p;
            }
        }
    for (int c = 0; c < cb; c++) dx[where[c] * C + c] += dy[c];
}

static void global_grad_task(void *ctx, int task, int thread) {
    const global_grad_job *J = ctx;
    size_t u0 = J->units * task / J->tasks, u1 = J->units * (task + 1) / J->tasks;
    for (size_t u = u0; u < u1; u++) {
        int c0 = (int)(u % J->cblocks) * CBLOCK;
        global_grad_unit(J, u / J->cblocks, c0, J->C - c0 < CBLOCK ? J->C - c0 : CBLOCK);
    }
}

int graft_global_pool_backward_nhwc(int kind, float *dx, const float *dy, const float *x, int N,
                                    int H, int W, int C) {
    if (kind != GRAFT_POOL_MAX && kind != GRAFT_POOL_AVG)
        return graft__fail(GRAFT_EINVAL,
                           "global_pool_backward: kind = %d is not GRAFT_POOL_MAX or _AVG", kind);
    if (N < 0 || H < 1 || W < 1 || C < 1)
        return graft__fail(GRAFT_EINVAL,
                           "global_pool_backward: N = %d, H = %d, W = %d, C = %d; need N >= 0"
                           " and H, W, C >= 1", N, H, W, C);
    size_t x_elems = 0;
    int err = graft__tensor_elems("global_pool_backward", "x", N, H, W, C, &x_elems);
    if (err) return err;
    if (N == 0) return GRAFT_OK;
    if (!dx || !dy || (kind == GRAFT_POOL_MAX && !x))
        return graft__fail(GRAFT_EINVAL, "global_pool_backward: NULL %s",
                           !dx ? "dx" : !dy ? "dy" : "x (MAX reads the forward input)");
    size_t x_bytes = x_elems * sizeof(float), y_bytes = (size_t)N * C * sizeof(float);
    int over_dy = graft__overlap(dx, x_bytes, dy, y_bytes);
    if (over_dy || (kind == GRAFT_POOL_MAX && graft__overlap(dx, x_bytes, x, x_bytes)))
        return graft__fail(GRAFT_EINVAL, "global_pool_backward: dx overlaps %s",
                           over_dy ? "dy" : "x");
    graft_isa isa;
    if ((err = graft_isa_current(&isa))) return err;

    global_grad_job J = {.kind = kind, .C = C, .dx = dx, .dy = dy, .x = x};
    J.pixels = (size_t)H * W;
    J.cblocks = (C + CBLOCK - 1) / CBLOCK;
    J.units = (size_t)N * J.cblocks;
    if ((double)x_elems < PARALLEL_MIN || J.units == 1) {
        J.tasks = 1;
        global_grad_task(&J, 0, 0);
        return GRAFT_OK;
    }
    int threads;
    if ((err = graft__pool_begin(0, &threads))) return err;
    size_t tasks = (size_t)threads * 4;
    J.tasks = (int)(tasks < J.units ? tasks : J.units);
    graft__pool_run(J.tasks, global_grad_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}
