/*
 * tests/kernels/check_pooling.c: pooling checks. Every SIMD variant of graft_pool2d_nhwc and
 * graft_global_pool_nhwc must equal the scalar reference bit for bit (the kernels promise the
 * same operations in the same order) on awkward geometries: 1x1 images, kernels larger than
 * their stride, dilation, asymmetric pads, ceil_mode with and without the last-window rule,
 * count_include_pad, and C in {1, 3, 7, 16, 17, 33, 64}, with 1 and 2 threads; a variant the
 * CPU lacks is skipped. The reference itself is checked against a naive pooling written
 * independently on NCHW data (so the layout conversions are exercised too) and against values
 * worked out by hand from ONNX's and PyTorch's definitions. Then every error the API returns.
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

typedef struct rng {
    uint64_t s;
} rng;
static float rng_float(rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (float)((r->s >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static float *alloc_random(size_t n, uint64_t seed) {
    rng r = {seed * 0x9e3779b97f4a7c15ull + 1};
    float *x = malloc(sizeof(float) * (n ? n : 1));
    if (x)
        for (size_t i = 0; i < n; i++) x[i] = rng_float(&r);
    return x;
}

/* One geometry: the attributes and the input size they are applied to. */
typedef struct geometry {
    graft_pool2d p;
    int H, W;
} geometry;

#define GEO(kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, ceil, cip, h, w)                          \
    {{GRAFT_POOL_MAX, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, ceil, cip}, h, w}

static const geometry geometries[] = {
    GEO(1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1),  /* 1x1 image, 1x1 window */
    GEO(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1),  /* 1x1 image, window mostly padding */
    GEO(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1),  /* the same, padding counted */
    GEO(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 7, 5),  /* kernel larger than stride */
    GEO(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 7, 5),  /* ceil_mode, padding counted */
    GEO(2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 8, 8),  /* the plain 2x2 / 2 */
    GEO(3, 2, 1, 2, 2, 3, 1, 0, 2, 1, 0, 0, 9, 11), /* dilation, asymmetric pads */
    GEO(3, 2, 1, 2, 2, 3, 1, 0, 2, 1, 1, 1, 9, 11), /* the same, ceil_mode, counted */
    GEO(2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 5, 5),  /* ceil_mode's last window dropped */
    GEO(5, 5, 3, 3, 1, 1, 2, 1, 0, 2, 1, 1, 13, 6), /* ceil_mode window past the padding */
    GEO(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 17, 13), /* big enough to run on 2 threads */
    GEO(7, 7, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 7, 7),  /* a single whole-image window */
    GEO(2, 3, 3, 1, 3, 1, 0, 2, 1, 0, 1, 0, 10, 4), /* dilation with ceil_mode */
    GEO(1, 4, 1, 4, 1, 1, 0, 1, 0, 2, 1, 1, 1, 9),  /* a single row */
};
#define NGEOS ((int)(sizeof geometries / sizeof geometries[0]))

static const int channel_counts[] = {1, 3, 7, 16, 17, 33, 64};
#define NCHANNELS ((int)(sizeof channel_counts / sizeof channel_counts[0]))

/* Guard floats after each output, which no call may write. */
#define GUARD 19
static const float guard_value = 12345.0f;

static int guards_intact(const float *y, size_t n) {
    for (size_t i = n; i < n + GUARD; i++)
        if (y[i] != guard_value) return 0;
    return 1;
}

/* Runs one pooling with `isa` and `threads` into y (NaN-poisoned, guarded). */
static int pool_with(graft_isa isa, int threads, const graft_pool2d *p, float *y, size_t y_len,
                     const float *x, int N, int H, int W, int C) {
    for (size_t i = 0; i < y_len; i++) y[i] = NAN;
    for (size_t i = y_len; i < y_len + GUARD; i++) y[i] = guard_value;
    int err = graft_isa_set(isa);
    if (!err) err = graft_threads_set(threads);
    if (!err) err = graft_pool2d_nhwc(p, y, x, N, H, W, C);
    return err;
}

static int global_with(graft_isa isa, int threads, int kind, float *y, size_t y_len,
                       const float *x, int N, int H, int W, int C) {
    for (size_t i = 0; i < y_len; i++) y[i] = NAN;
    for (size_t i = y_len; i < y_len + GUARD; i++) y[i] = guard_value;
    int err = graft_isa_set(isa);
    if (!err) err = graft_threads_set(threads);
    if (!err) err = graft_global_pool_nhwc(kind, y, x, N, H, W, C);
    return err;
}

/* The first element where a and b differ in bits, or -1. */
static long first_difference(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) return (long)i;
    return -1;
}

/* One geometry, kind and C: the variant with 1 and 2 threads against the reference. */
static int compare_one(graft_isa isa, const geometry *g, int kind, int N, int C, char *msg,
                       size_t len) {
    graft_pool2d p = g->p;
    p.kind = kind;
    int OH, OW;
    if (graft_pool2d_output_size(&p, g->H, g->W, &OH, &OW) != GRAFT_OK) {
        snprintf(msg, len, "geometry %dx%d rejected: %s", g->H, g->W, graft_last_error());
        return GRAFT_CHECK_FAIL;
    }
    size_t x_len = (size_t)N * g->H * g->W * C, y_len = (size_t)N * OH * OW * C;
    float *x = alloc_random(x_len, (uint64_t)(g->H * 131 + g->W * 7 + C));
    float *ref = malloc(sizeof(float) * (y_len + GUARD));
    float *got = malloc(sizeof(float) * (y_len + GUARD));
    int st = GRAFT_CHECK_PASS;
    if (!x || !ref || !got) {
        snprintf(msg, len, "out of memory");
        st = GRAFT_CHECK_FAIL;
        goto done;
    }
    if (pool_with(GRAFT_ISA_SCALAR, 1, &p, ref, y_len, x, N, g->H, g->W, C) != GRAFT_OK) {
        snprintf(msg, len, "reference failed: %s", graft_last_error());
        st = GRAFT_CHECK_FAIL;
        goto done;
    }
    for (int threads = 1; threads <= 2; threads++) {
        if (pool_with(isa, threads, &p, got, y_len, x, N, g->H, g->W, C) != GRAFT_OK) {
            snprintf(msg, len, "%s failed: %s", graft_isa_name(isa), graft_last_error());
            st = GRAFT_CHECK_FAIL;
            goto done;
        }
        long at = first_difference(ref, got, y_len);
        if (at >= 0 || !guards_intact(got, y_len)) {
            snprintf(msg, len,
                     "%s, %d thread(s), kind %d, N=%d %dx%d C=%d, kernel %dx%d stride %dx%d "
                     "dilation %dx%d pads %d,%d,%d,%d ceil %d cip %d: %s %ld (%.9g, want %.9g)",
                     graft_isa_name(isa), threads, kind, N, g->H, g->W, C, p.kernel_h,
                     p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_top,
                     p.pad_left, p.pad_bottom, p.pad_right, p.ceil_mode, p.count_include_pad,
                     at >= 0 ? "differs at" : "wrote past the output, y_len", at >= 0 ? at : 0L,
                     at >= 0 ? got[at] : 0.0, at >= 0 ? ref[at] : 0.0);
            st = GRAFT_CHECK_FAIL;
            goto done;
        }
    }
done:
    free(x);
    free(ref);
    free(got);
    return st;
}

static int global_one(graft_isa isa, int kind, int N, int H, int W, int C, char *msg,
                      size_t len) {
    size_t x_len = (size_t)N * H * W * C, y_len = (size_t)N * C;
    float *x = alloc_random(x_len, (uint64_t)(N * 1000 + H * 31 + W + C));
    float *ref = malloc(sizeof(float) * (y_len + GUARD));
    float *got = malloc(sizeof(float) * (y_len + GUARD));
    int st = GRAFT_CHECK_PASS;
    if (!x || !ref || !got) {
        snprintf(msg, len, "out of memory");
        st = GRAFT_CHECK_FAIL;
        goto done;
    }
    if (global_with(GRAFT_ISA_SCALAR, 1, kind, ref, y_len, x, N, H, W, C) != GRAFT_OK) {
        snprintf(msg, len, "reference failed: %s", graft_last_error());
        st = GRAFT_CHECK_FAIL;
        goto done;
    }
    /* The reference itself against a double-precision loop. */
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double acc = kind == GRAFT_POOL_MAX ? -INFINITY : 0.0, mag = 0.0;
            for (int q = 0; q < H * W; q++) {
                double v = x[((size_t)n * H * W + q) * C + c];
                acc = kind == GRAFT_POOL_MAX ? fmax(acc, v) : acc + v;
                mag += fabs(v);
            }
            if (kind == GRAFT_POOL_AVG) acc /= H * W, mag /= H * W;
            double got1 = ref[(size_t)n * C + c];
            if (!(fabs(got1 - acc) <= 1e-7 + 2.0 * FLT_EPSILON * (H * W + 2) * mag)) {
                snprintf(msg, len, "reference: kind %d N=%d %dx%d C=%d: y[%d][%d] = %.9g, want"
                         " %.9g", kind, N, H, W, C, n, c, got1, acc);
                st = GRAFT_CHECK_FAIL;
                goto done;
            }
        }
    for (int threads = 1; threads <= 2; threads++) {
        if (global_with(isa, threads, kind, got, y_len, x, N, H, W, C) != GRAFT_OK) {
            snprintf(msg, len, "%s failed: %s", graft_isa_name(isa), graft_last_error());
            st = GRAFT_CHECK_FAIL;
            goto done;
        }
        long at = first_difference(ref, got, y_len);
        if (at >= 0 || !guards_intact(got, y_len)) {
            snprintf(msg, len, "global %s, %d thread(s), kind %d, N=%d %dx%d C=%d: %s %ld",
                     graft_isa_name(isa), threads, kind, N, H, W, C,
                     at >= 0 ? "differs at" : "wrote past the output", at);
            st = GRAFT_CHECK_FAIL;
            goto done;
        }
    }
done:
    free(x);
    free(ref);
    free(got);
    return st;
}

/* Every geometry, kind and channel count, plus global pooling, for one variant. */
static int sweep(graft_isa isa, char *msg, size_t len) {
    if (graft_isa_set(isa) != GRAFT_OK) {
        snprintf(msg, len, "%s not available on this CPU", graft_isa_name(isa));
        return GRAFT_CHECK_SKIP;
    }
    int st = GRAFT_CHECK_PASS, runs = 0;
    for (int g = 0; g < NGEOS && st == GRAFT_CHECK_PASS; g++)
        for (int kind = 0; kind < 2 && st == GRAFT_CHECK_PASS; kind++)
            for (int c = 0; c < NCHANNELS && st == GRAFT_CHECK_PASS; c++, runs++)
                st = compare_one(isa, &geometries[g], kind, g == 10 ? 3 : 2, channel_counts[c],
                                 msg, len);
    static const int global_shapes[][3] = {{1, 1, 1}, {2, 3, 5}, {3, 7, 7}, {2, 13, 11},
                                           {8, 16, 16}};
    for (int s = 0; s < 5 && st == GRAFT_CHECK_PASS; s++)
        for (int kind = 0; kind < 2 && st == GRAFT_CHECK_PASS; kind++)
            for (int c = 0; c < NCHANNELS && st == GRAFT_CHECK_PASS; c++, runs++)
                st = global_one(isa, kind, global_shapes[s][0], global_shapes[s][1],
                                global_shapes[s][2], channel_counts[c], msg, len);
    graft_isa_set(GRAFT_ISA_AUTO);
    graft_threads_set(2);
    if (st == GRAFT_CHECK_PASS) snprintf(msg, len, "%d comparisons", runs);
    return st;
}

static int sweep_scalar(char *m, size_t l) { return sweep(GRAFT_ISA_SCALAR, m, l); }
static int sweep_avx2(char *m, size_t l) { return sweep(GRAFT_ISA_AVX2, m, l); }
static int sweep_avx512(char *m, size_t l) { return sweep(GRAFT_ISA_AVX512, m, l); }
static int sweep_neon(char *m, size_t l) { return sweep(GRAFT_ISA_NEON, m, l); }

/*
 * An independent pooling on NCHW data, in double: the output size by counting windows, each
 * window by testing all its taps, the AVG divisor by counting taps inside the padded extent.
 */
static int naive_count(int size, int k, int s, int d, int p0, int p1, int ceil_mode) {
    int span = d * (k - 1) + 1, padded = size + p0 + p1, o = 0;
    if (!ceil_mode) {
        while (o * s + span <= padded) o++; /* windows that fit wholly */
        return o;
    }
    /* Windows that start before the padded end minus span, rounded up by one stride... */
    while ((o - 1) * s + span < padded) o++;
    /* ...whose start lies inside the input or the leading padding. */
    while (o > 0 && (o - 1) * s - p0 >= size) o--;
    return o;
}

static void naive_pool_nchw(const graft_pool2d *p, double *y, const float *x, int N, int C,
                            int H, int W, int OH, int OW) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = p->kind == GRAFT_POOL_MAX ? -INFINITY : 0.0;
                    int inside = 0, padded = 0;
                    for (int kh = 0; kh < p->kernel_h; kh++)
                        for (int kw = 0; kw < p->kernel_w; kw++) {
                            int ih = oh * p->stride_h - p->pad_top + kh * p->dilation_h;
                            int iw = ow * p->stride_w - p->pad_left + kw * p->dilation_w;
                            if (ih < H + p->pad_bottom && iw < W + p->pad_right) padded++;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            double v = x[(((size_t)n * C + c) * H + ih) * W + iw];
                            acc = p->kind == GRAFT_POOL_MAX ? fmax(acc, v) : acc + v;
                            inside++;
                        }
                    if (p->kind == GRAFT_POOL_AVG) acc /= p->count_include_pad ? padded : inside;
                    y[(((size_t)n * C + c) * OH + oh) * OW + ow] = acc;
                }
}

/* NCHW -> NHWC, the reference pooling, NHWC -> NCHW, against naive_pool_nchw. */
static int reference_vs_naive(const graft_pool2d *p, int N, int C, int H, int W,
                              const float *given_x, const double *given_y, char *msg,
                              size_t len) {
    int OH, OW;
    if (graft_pool2d_output_size(p, H, W, &OH, &OW) != GRAFT_OK) {
        snprintf(msg, len, "%dx%d rejected: %s", H, W, graft_last_error());
        return GRAFT_CHECK_FAIL;
    }
    int nOH = naive_count(H, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top,
                          p->pad_bottom, p->ceil_mode);
    int nOW = naive_count(W, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left,
                          p->pad_right, p->ceil_mode);
    if (OH != nOH || OW != nOW) {
        snprintf(msg, len, "%dx%d kernel %dx%d stride %dx%d ceil %d: output %dx%d, want %dx%d",
                 H, W, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->ceil_mode, OH, OW,
                 nOH, nOW);
        return GRAFT_CHECK_FAIL;
    }
    size_t x_len = (size_t)N * C * H * W, y_len = (size_t)N * C * OH * OW;
    float *x = given_x ? NULL : alloc_random(x_len, (uint64_t)(H * 17 + W * 3 + C));
    const float *xs = given_x ? given_x : x;
    float *x_nhwc = malloc(sizeof(float) * x_len), *y_nhwc = malloc(sizeof(float) * y_len);
    float *y_nchw = malloc(sizeof(float) * y_len);
    double *want = malloc(sizeof(double) * y_len);
    int st = GRAFT_CHECK_PASS;
    if (!xs || !x_nhwc || !y_nhwc || !y_nchw || !want) {
        snprintf(msg, len, "out of memory");
        st = GRAFT_CHECK_FAIL;
        goto done;
    }
    naive_pool_nchw(p, want, xs, N, C, H, W, OH, OW);
    if (graft_nchw_to_nhwc(x_nhwc, xs, N, C, H, W) || graft_pool2d_nhwc(p, y_nhwc, x_nhwc, N, H,
                                                                        W, C) ||
        graft_nhwc_to_nchw(y_nchw, y_nhwc, N, C, OH, OW)) {
        snprintf(msg, len, "call failed: %s", graft_last_error());
        st = GRAFT_CHECK_FAIL;
        goto done;
    }
    for (size_t i = 0; i < y_len; i++) {
        double w = given_y ? given_y[i] : want[i];
        if (given_y && fabs(want[i] - given_y[i]) > 1e-12) {
            snprintf(msg, len, "the naive pooling gives %.9g at %zu, the worked value %.9g",
                     want[i], i, given_y[i]);
            st = GRAFT_CHECK_FAIL;
            break;
        }
        if (!(fabs(y_nchw[i] - w) <= 1e-5 * (1.0 + fabs(w)))) {
            snprintf(msg, len,
                     "kind %d N=%d C=%d %dx%d kernel %dx%d stride %dx%d dilation %dx%d pads "
                     "%d,%d,%d,%d ceil %d cip %d: y[%zu] = %.9g, want %.9g",
                     p->kind, N, C, H, W, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w,
                     p->dilation_h, p->dilation_w, p->pad_top, p->pad_left, p->pad_bottom,
                     p->pad_right, p->ceil_mode, p->count_include_pad, i, y_nchw[i], w);
            st = GRAFT_CHECK_FAIL;
            break;
        }
    }
done:
    free(x);
    free(x_nhwc);
    free(y_nhwc);
    free(y_nchw);
    free(want);
    return st;
}

static int reference_matches_naive_nchw(char *msg, size_t len) {
    graft_isa_set(GRAFT_ISA_SCALAR);
    int st = GRAFT_CHECK_PASS;
    for (int g = 0; g < NGEOS && st == GRAFT_CHECK_PASS; g++)
        for (int kind = 0; kind < 2 && st == GRAFT_CHECK_PASS; kind++) {
            graft_pool2d p = geometries[g].p;
            p.kind = kind;
            st = reference_vs_naive(&p, 2, g % 2 ? 3 : 5, geometries[g].H, geometries[g].W,
                                    NULL, NULL, msg, len);
        }
    graft_isa_set(GRAFT_ISA_AUTO);
    return st;
}

/*
 * Values worked out by hand from the ONNX operator tests and PyTorch's definitions, on
 * x = 1, 2, 3, ... (row-major, one image, one channel).
 */
static int matches_worked_examples(char *msg, size_t len) {
    static const struct {
        graft_pool2d p;
        int H, W;
        double y[9];
    } cases[] = {
        /* ONNX maxpool_2d_ceil and averagepool_2d_ceil: 4x4, kernel 3, stride 2, ceil. */
        {{GRAFT_POOL_MAX, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0}, 4, 4, {11, 12, 15, 16}},
        {{GRAFT_POOL_AVG, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0}, 4, 4, {6, 7.5, 12, 13.5}},
        /* ONNX maxpool_2d_dilations: 4x4, kernel 2, dilation 2, stride 1. */
        {{GRAFT_POOL_MAX, 2, 2, 1, 1, 2, 2, 0, 0, 0, 0, 0, 0}, 4, 4, {11, 12, 15, 16}},
        /* 3x3, kernel 2, stride 2, pads 1: padding counted or not. */
        {{GRAFT_POOL_AVG, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0, 1}, 3, 3, {0.25, 1.25, 2.75, 7}},
        {{GRAFT_POOL_AVG, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, 3, 3, {1, 2.5, 5.5, 7}},
        /* ceil_mode window past the padded extent: the divisor is clipped to it (PyTorch). */
        {{GRAFT_POOL_AVG, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1}, 3, 3, {3, 4.5, 7.5, 9}},
        /* 4x4, kernel 3, stride 2, pads 1, ceil, counted: corner windows of 9 and of 4 taps. */
        {{GRAFT_POOL_AVG, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
         4,
         4,
         {14.0 / 9, 30.0 / 9, 2, 57.0 / 9, 11, 6, 4.5, 7.5, 4}},
        /* ceil_mode's rule: 5 wide, kernel 2, stride 2, pads 1: 3 outputs, not 4. */
        {{GRAFT_POOL_MAX, 1, 2, 1, 2, 1, 1, 0, 1, 0, 1, 1, 0}, 1, 5, {1, 3, 5}},
    };
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)(i + 1);
    graft_isa_set(GRAFT_ISA_SCALAR);
    int st = GRAFT_CHECK_PASS;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0] && st == GRAFT_CHECK_PASS; c++) {
        st = reference_vs_naive(&cases[c].p, 1, 1, cases[c].H, cases[c].W, x, cases[c].y, msg,
                                len);
        if (st != GRAFT_CHECK_PASS) {
            size_t at = strlen(msg);
            snprintf(msg + at, len - at, " (worked example %zu)", c);
        }
    }
    graft_isa_set(GRAFT_ISA_AUTO);
    return st;
}

#define EXPECT_ERR(call, code, text)                                                           \
    do {                                                                                       \
        int e_ = (call);                                                                       \
        if (e_ != (code)) {                                                                    \
            snprintf(msg, len, "%s returned %s, want %s (%s)", #call, graft_err_name(e_),      \
                     graft_err_name(code), graft_last_error());                                \
            return GRAFT_CHECK_FAIL;                                                           \
        }                                                                                      \
        if (!strstr(graft_last_error(), (text))) {                                             \
            snprintf(msg, len, "%s: message \"%s\" does not mention \"%s\"", #call,            \
                     graft_last_error(), (text));                                              \
            return GRAFT_CHECK_FAIL;                                                           \
        }                                                                                      \
    } while (0)

/* Every error of the pooling API, each with its message; outputs untouched. */
static int rejects_bad_arguments(char *msg, size_t len) {
    const graft_pool2d ok = {GRAFT_POOL_MAX, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0};
    float x[64] = {0}, y[64];
    for (int i = 0; i < 64; i++) y[i] = 42.0f;
    int OH = -7, OW = -7;
    graft_pool2d p;
#define WITH(field, value) (p = ok, p.field = (value), &p)
    EXPECT_ERR(graft_pool2d_output_size(NULL, 4, 4, &OH, &OW), GRAFT_EINVAL, "NULL");
    EXPECT_ERR(graft_pool2d_output_size(WITH(kind, 2), 4, 4, &OH, &OW), GRAFT_EINVAL, "kind");
    EXPECT_ERR(graft_pool2d_output_size(WITH(kernel_w, 0), 4, 4, &OH, &OW), GRAFT_EINVAL,
               "kernel 2 x 0");
    EXPECT_ERR(graft_pool2d_output_size(WITH(stride_h, 0), 4, 4, &OH, &OW), GRAFT_EINVAL,
               "stride 0 x 2");
    EXPECT_ERR(graft_pool2d_output_size(WITH(dilation_w, -1), 4, 4, &OH, &OW), GRAFT_EINVAL,
               "dilation");
    EXPECT_ERR(graft_pool2d_output_size(WITH(pad_right, -1), 4, 4, &OH, &OW), GRAFT_EINVAL,
               "negative pad");
    EXPECT_ERR(graft_pool2d_output_size(WITH(ceil_mode, 2), 4, 4, &OH, &OW), GRAFT_EINVAL,
               "ceil_mode = 2");
    EXPECT_ERR(graft_pool2d_output_size(WITH(count_include_pad, -1), 4, 4, &OH, &OW),
               GRAFT_EINVAL, "count_include_pad = -1");
    EXPECT_ERR(graft_pool2d_output_size(&ok, 0, 4, &OH, &OW), GRAFT_EINVAL, "input 0 x 4");
    /* A kernel larger than the padded input, plainly or through dilation. */
    EXPECT_ERR(graft_pool2d_output_size(WITH(kernel_h, 6), 4, 4, &OH, &OW), GRAFT_EINVAL,
               "more than the padded input");
    EXPECT_ERR(graft_pool2d_output_size(WITH(dilation_w, 4), 4, 4, &OH, &OW), GRAFT_EINVAL,
               "spans 5 pixels along W");
    /* A window wholly in the padding, and one whose dilated taps jump over the input. */
    EXPECT_ERR(graft_pool2d_output_size(WITH(pad_top, 2), 4, 4, &OH, &OW), GRAFT_EINVAL,
               "output H index 0");
    p = ok, p.kernel_w = 2, p.dilation_w = 2, p.pad_left = 1, p.pad_right = 1;
    EXPECT_ERR(graft_pool2d_output_size(&p, 4, 1, &OH, &OW), GRAFT_EINVAL, "no input pixel");
    p = ok, p.stride_h = 1, p.pad_bottom = 3;
    EXPECT_ERR(graft_pool2d_output_size(&p, 4, 4, &OH, &OW), GRAFT_EINVAL, "output H index 4");
    EXPECT_ERR(graft_pool2d_output_size(WITH(pad_top, 1 << 29), 4, 4, &OH, &OW), GRAFT_ERANGE,
               "over");
    if (OH != -7 || OW != -7) {
        snprintf(msg, len, "a failed graft_pool2d_output_size wrote its outputs");
        return GRAFT_CHECK_FAIL;
    }

    EXPECT_ERR(graft_pool2d_nhwc(&ok, y, x, 1, 4, 4, 0), GRAFT_EINVAL, "C = 0");
    EXPECT_ERR(graft_pool2d_nhwc(&ok, y, x, -1, 4, 4, 2), GRAFT_EINVAL, "N = -1");
    EXPECT_ERR(graft_pool2d_nhwc(WITH(stride_w, 0), y, x, 1, 4, 4, 2), GRAFT_EINVAL, "stride");
    EXPECT_ERR(graft_pool2d_nhwc(&ok, NULL, x, 1, 4, 4, 2), GRAFT_EINVAL, "NULL y");
    EXPECT_ERR(graft_pool2d_nhwc(&ok, y, NULL, 1, 4, 4, 2), GRAFT_EINVAL, "NULL x");
    EXPECT_ERR(graft_pool2d_nhwc(&ok, x + 8, x, 1, 4, 4, 2), GRAFT_EINVAL, "overlaps");
    EXPECT_ERR(graft_pool2d_nhwc(&ok, y, x, 1 << 30, 1 << 14, 1 << 14, 1 << 30), GRAFT_ERANGE,
               "too large");
    EXPECT_ERR(graft_global_pool_nhwc(5, y, x, 1, 4, 4, 2), GRAFT_EINVAL, "kind = 5");
    EXPECT_ERR(graft_global_pool_nhwc(GRAFT_POOL_AVG, y, x, 1, 4, 4, 0), GRAFT_EINVAL, "C = 0");
    EXPECT_ERR(graft_global_pool_nhwc(GRAFT_POOL_AVG, y, x, 1, 0, 4, 2), GRAFT_EINVAL, "H = 0");
    EXPECT_ERR(graft_global_pool_nhwc(GRAFT_POOL_MAX, NULL, x, 1, 4, 4, 2), GRAFT_EINVAL,
               "NULL y");
    EXPECT_ERR(graft_global_pool_nhwc(GRAFT_POOL_MAX, x + 3, x, 1, 4, 4, 2), GRAFT_EINVAL,
               "overlaps");
    EXPECT_ERR(graft_global_pool_nhwc(GRAFT_POOL_MAX, y, x, 1 << 30, 1 << 14, 1 << 14, 1 << 30),
               GRAFT_ERANGE, "too large");
#undef WITH
    for (int i = 0; i < 64; i++)
        if (y[i] != 42.0f) {
            snprintf(msg, len, "y[%d] was written by a failed call", i);
            return GRAFT_CHECK_FAIL;
        }
    /* N == 0 is an empty batch, not an error, and writes nothing. */
    EXPECT_ERR(graft_pool2d_nhwc(&ok, y, x, 0, 4, 4, 2), GRAFT_OK, "");
    EXPECT_ERR(graft_global_pool_nhwc(GRAFT_POOL_AVG, y, x, 0, 4, 4, 2), GRAFT_OK, "");
    if (y[0] != 42.0f) {
        snprintf(msg, len, "an empty batch wrote y");
        return GRAFT_CHECK_FAIL;
    }
    return GRAFT_CHECK_PASS;
}

const graft_check graft_checks_pooling[] = {
    {"pooling", "scalar_matches_reference", sweep_scalar},
    {"pooling", "avx2_matches_reference", sweep_avx2},
    {"pooling", "avx512_matches_reference", sweep_avx512},
    {"pooling", "neon_matches_reference", sweep_neon},
    {"pooling", "reference_matches_naive_nchw", reference_matches_naive_nchw},
    {"pooling", "matches_worked_examples", matches_worked_examples},
    {"pooling", "rejects_bad_arguments", rejects_bad_arguments},
    {NULL, NULL, NULL},
};
