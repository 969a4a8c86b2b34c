/*
 * tests/kernels/conv_reference.h: what the convolution checks (check_conv.c, the general
 * driver; check_winograd.c, the Winograd path) compare against: a seeded generator for their
 * data, a naive direct convolution in double, and the agreement of 1, 2 and 3 threads.
 * Header-only, since both files are checks of their own and neither is the other's
 * dependency.
 */
#ifndef GRAFT_TESTS_CONV_REFERENCE_H
#define GRAFT_TESTS_CONV_REFERENCE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "graft/graft.h"
#include "graft/kernels.h"

static inline uint64_t conv_rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Uniform in [-1, 1), 24-bit resolution. */
static inline float conv_rnd(uint64_t *s) {
    return (float)((conv_rng_next(s) >> 40) / (double)(1ull << 24)) * 2 - 1;
}

/*
 * Direct convolution of x (N, H, W, C_in) by w (OIHW) plus bias, then d->act, in double:
 * ref (N, OH, OW, C_out), and mag the sum of |x * w| (+ |bias|) each output saw, for
 * tolerances that scale with the arithmetic.
 */
static inline void conv_reference(const graft_conv2d *d, int N, int H, int W, int OH, int OW,
                                  const float *x, const float *w, const float *bias,
                                  double *ref, double *mag) {
    int cin_g = d->C_in / d->groups, cout_g = d->C_out / d->groups;
    for (int n = 0; n < N; n++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++)
                for (int o = 0; o < d->C_out; o++) {
                    int g = o / cout_g;
                    double s = bias ? bias[o] : 0, m = bias ? fabs(bias[o]) : 0;
                    for (int ci = 0; ci < cin_g; ci++)
                        for (int kh = 0; kh < d->kernel_h; kh++)
                            for (int kw = 0; kw < d->kernel_w; kw++) {
                                int ih = oh * d->stride_h - d->pad_top + kh * d->dilation_h;
                                int iw = ow * d->stride_w - d->pad_left + kw * d->dilation_w;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                double xv = x[(((size_t)n * H + ih) * W + iw) * d->C_in +
                                              g * cin_g + ci];
                                double wv = w[(((size_t)o * cin_g + ci) * d->kernel_h + kh) *
                                                  d->kernel_w + kw];
                                s += xv * wv;
                                m += fabs(xv * wv);
                            }
                    if (d->act != GRAFT_ACT_NONE) s = s > 0 ? s : 0;
                    if (d->act == GRAFT_ACT_RELU6) s = s < 6 ? s : 6;
                    size_t at = (((size_t)n * OH + oh) * OW + ow) * d->C_out + o;
                    ref[at] = s;
                    mag[at] = m;
                }
}

/*
 * Runs plan on x with 1 thread into y1, then with 2 and 3 threads into y2 (tasks are cut for
 * the thread count: column slices that must each be written once), each time over NaN so
 * that an output no task writes fails. Returns 0 when every run agrees with y1 bit for bit,
 * the first thread count that differs, or -1 on an error (graft_last_error() says why).
 * Leaves the pool at 2 threads.
 */
static inline int conv_threads_agree(const graft_conv2d_plan *plan, const float *x, int N,
                                     int H, int W, float *y1, float *y2, size_t ny) {
    int rc = 0;
    graft_threads_set(1);
    if (graft_conv2d_forward(plan, y1, x, N, H, W)) rc = -1;
    for (int threads = 2; !rc && threads <= 3; threads++) {
        for (size_t i = 0; i < ny; i++) y2[i] = NAN;
        graft_threads_set(threads);
        if (graft_conv2d_forward(plan, y2, x, N, H, W))
            rc = -1;
        else if (memcmp(y1, y2, sizeof(float) * ny) != 0)
            rc = threads;
    }
    graft_threads_set(2);
    return rc;
}

#endif
