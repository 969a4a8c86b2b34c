/*
 * tests/kernels/check_eltwise.c: checks of the elementwise drivers (kernels/eltwise.c):
 * NCHW <-> NHWC conversions, binary ops with numpy / ONNX broadcasting, inference batch norm
 * and its folding into a convolution, and concat. Each ISA variant runs with 1 and 2 threads
 * against naive loops written here (a variant the CPU lacks is skipped): conversions, binary
 * ops and concat must match bit for bit (they copy or do one IEEE operation per element), batch
 * norm within a few ulps of a double-precision evaluation and bit-identical across thread
 * counts and in place. Then every error the API returns, each with its message.
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

/* n random floats in [-1, 1), or (nonzero) with magnitude in [0.5, 1.5) so they can divide. */
static float *alloc_random(size_t n, uint64_t seed, int nonzero) {
    rng r = {seed * 0x9e3779b97f4a7c15ull + 1};
    float *x = malloc(sizeof(float) * (n ? n : 1));
    if (!x) return NULL;
    for (size_t i = 0; i < n; i++) {
        float v = rng_float(&r);
        x[i] = nonzero ? (v < 0 ? v - 0.5f : v + 0.5f) : v;
    }
    return x;
}

#define GUARD 17
static const float guard_value = -777.0f;

static void poison(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = NAN;
    for (size_t i = n; i < n + GUARD; i++) y[i] = guard_value;
}

static int guards_intact(const float *y, size_t n) {
    for (size_t i = n; i < n + GUARD; i++)
        if (y[i] != guard_value) return 0;
    return 1;
}

static long first_difference(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) return (long)i;
    return -1;
}

static int use(graft_isa isa, int threads, char *msg, size_t len) {
    if (graft_isa_set(isa) != GRAFT_OK) {
        snprintf(msg, len, "%s not available on this CPU", graft_isa_name(isa));
        return GRAFT_CHECK_SKIP;
    }
    if (graft_threads_set(threads) != GRAFT_OK) {
        snprintf(msg, len, "cannot use %d threads: %s", threads, graft_last_error());
        return GRAFT_CHECK_FAIL;
    }
    return GRAFT_CHECK_PASS;
}

static void restore(void) {
    graft_isa_set(GRAFT_ISA_AUTO);
    graft_threads_set(2);
}

/* ---- layout conversions ---------------------------------------------------------------- */

static int layout(graft_isa isa, char *msg, size_t len) {
    static const int shapes[][4] = {{1, 1, 1, 1},  {2, 3, 5, 7},   {1, 17, 9, 13}, {2, 64, 8, 8},
                                    {3, 33, 70, 70}, {1, 1, 13, 9}, {2, 130, 1, 1}, {1, 3, 100, 100},
                                    {2, 7, 65, 1}, {1, 67, 3, 43},  {0, 3, 4, 4}};
    int st = GRAFT_CHECK_PASS;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && st == GRAFT_CHECK_PASS; s++) {
        const int N = shapes[s][0], C = shapes[s][1], H = shapes[s][2], W = shapes[s][3];
        size_t n = (size_t)N * C * H * W;
        float *x = alloc_random(n, s + 1, 0), *want = malloc(sizeof(float) * (n + 1));
        float *got = malloc(sizeof(float) * (n + GUARD)), *back = malloc(sizeof(float) * (n + GUARD));
        if (!x || !want || !got || !back) {
            snprintf(msg, len, "out of memory");
            st = GRAFT_CHECK_FAIL;
        }
        for (int b = 0; b < N && st == GRAFT_CHECK_PASS; b++)
            for (int c = 0; c < C; c++)
                for (int h = 0; h < H; h++)
                    for (int w = 0; w < W; w++)
                        want[(((size_t)b * H + h) * W + w) * C + c] =
                            x[(((size_t)b * C + c) * H + h) * W + w];
        for (int threads = 1; threads <= 2 && st == GRAFT_CHECK_PASS; threads++) {
            if ((st = use(isa, threads, msg, len)) != GRAFT_CHECK_PASS) break;
            poison(got, n);
            poison(back, n);
            int e1 = graft_nchw_to_nhwc(got, x, N, C, H, W);
            int e2 = graft_nhwc_to_nchw(back, got, N, C, H, W);
            long at1 = first_difference(got, want, n), at2 = first_difference(back, x, n);
            if (e1 || e2 || at1 >= 0 || at2 >= 0 || !guards_intact(got, n) ||
                !guards_intact(back, n)) {
                snprintf(msg, len, "%s, %d thread(s), N=%d C=%d H=%d W=%d: %s (to NHWC: %ld, "
                         "back: %ld)", graft_isa_name(isa), threads, N, C, H, W,
                         e1 || e2 ? graft_last_error() : "wrong result or guard", at1, at2);
                st = GRAFT_CHECK_FAIL;
            }
        }
        free(x);
        free(want);
        free(got);
        free(back);
    }
    restore();
    return st;
}

/* ---- broadcasting ---------------------------------------------------------------------- */

typedef struct bcase {
    int ar, br, yr;
    int64_t a[8], b[8], y[8]; /* y: the broadcast shape, worked out by hand */
} bcase;

static const bcase bcases[] = {
    /* The examples of ONNX's Broadcasting.md, and the task's. */
    {4, 1, 4, {2, 3, 4, 5}, {5}, {2, 3, 4, 5}},
    {4, 0, 4, {2, 3, 4, 5}, {0}, {2, 3, 4, 5}},
    {4, 4, 4, {2, 3, 4, 5}, {1, 3, 1, 5}, {2, 3, 4, 5}},
    {2, 2, 2, {3, 1}, {1, 4}, {3, 4}},
    {2, 4, 4, {4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}},
    {3, 4, 4, {1, 4, 5}, {2, 3, 1, 1}, {2, 3, 4, 5}},
    {3, 4, 4, {3, 4, 5}, {2, 1, 1, 1}, {2, 3, 4, 5}},
    /* Same shape, scalars both ways, rank 0 with rank 0. */
    {4, 4, 4, {2, 3, 4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}},
    {0, 1, 1, {0}, {7}, {7}},
    {0, 0, 0, {0}, {0}, {0}},
    {1, 1, 1, {1}, {1}, {1}},
    {3, 3, 3, {5, 1, 1}, {1, 1, 1}, {5, 1, 1}},
    /* Per-channel biases on NHWC tensors, C not a multiple of any vector width. */
    {4, 1, 4, {2, 9, 7, 17}, {17}, {2, 9, 7, 17}},
    {4, 1, 4, {1, 5, 5, 64}, {64}, {1, 5, 5, 64}},
    {4, 1, 4, {3, 3, 3, 3}, {3}, {3, 3, 3, 3}},
    {1, 4, 4, {33}, {2, 1, 3, 33}, {2, 1, 3, 33}},
    /* Large enough for 2 threads: per-channel, outer broadcast, scalar, same shape. */
    {4, 1, 4, {4, 32, 32, 33}, {33}, {4, 32, 32, 33}},
    {3, 3, 3, {8, 128, 130}, {8, 1, 130}, {8, 128, 130}},
    {1, 0, 1, {70001}, {0}, {70001}},
    {2, 2, 2, {301, 257}, {301, 257}, {301, 257}},
    {2, 2, 2, {1, 70003}, {3, 1}, {3, 70003}},
    /* Empty tensors broadcast too (1 against 0 gives 0), and rank 8. */
    {2, 2, 2, {0, 3}, {1, 3}, {0, 3}},
    {8, 8, 8, {2, 1, 2, 1, 2, 1, 2, 3}, {1, 2, 1, 2, 1, 2, 1, 3}, {2, 2, 2, 2, 2, 2, 2, 3}},
};

static size_t count_of(const int64_t *d, int r) {
    size_t n = 1;
    for (int i = 0; i < r; i++) n *= (size_t)d[i];
    return n;
}

static float apply(int op, float a, float b) {
    switch (op) {
    case GRAFT_BINARY_ADD: return a + b;
    case GRAFT_BINARY_SUB: return a - b;
    case GRAFT_BINARY_MUL: return a * b;
    default: return a / b;
    }
}

/* y[i] by walking y's index and reading each operand at its broadcast position. */
static void naive_binary(int op, float *y, const bcase *c, const float *a, const float *b) {
    size_t n = count_of(c->y, c->yr);
    for (size_t e = 0; e < n; e++) {
        size_t rest = e, ao = 0, bo = 0, as = 1, bs = 1;
        for (int i = c->yr - 1; i >= 0; i--) {
            size_t idx = rest % (size_t)c->y[i];
            rest /= (size_t)c->y[i];
            int ia = i - (c->yr - c->ar), ib = i - (c->yr - c->br);
            if (ia >= 0) {
                if (c->a[ia] != 1) ao += idx * as;
                as *= (size_t)c->a[ia];
            }
            if (ib >= 0) {
                if (c->b[ib] != 1) bo += idx * bs;
                bs *= (size_t)c->b[ib];
            }
        }
        y[e] = apply(op, a[ao], b[bo]);
    }
}

static int binary(graft_isa isa, char *msg, size_t len) {
    int st = use(isa, 1, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    for (size_t k = 0; k < sizeof bcases / sizeof bcases[0] && st == GRAFT_CHECK_PASS; k++) {
        const bcase *c = &bcases[k];
        int64_t shape[GRAFT_MAX_RANK] = {0};
        int rank = -1;
        if (graft_binary_output_shape(shape, &rank, c->a, c->ar, c->b, c->br) != GRAFT_OK ||
            rank != c->yr || memcmp(shape, c->y, sizeof(int64_t) * (size_t)rank) != 0) {
            snprintf(msg, len, "case %zu: output shape wrong (rank %d): %s", k, rank,
                     graft_last_error());
            st = GRAFT_CHECK_FAIL;
            break;
        }
        size_t na = count_of(c->a, c->ar), nb = count_of(c->b, c->br), ny = count_of(c->y, c->yr);
        float *a = alloc_random(na, 2 * k + 1, 0), *b = alloc_random(nb, 2 * k + 2, 1);
        float *want = malloc(sizeof(float) * (ny + 1)), *got = malloc(sizeof(float) * (ny + GUARD));
        if (!a || !b || !want || !got) {
            snprintf(msg, len, "out of memory");
            st = GRAFT_CHECK_FAIL;
        }
        for (int op = 0; op < 4 && st == GRAFT_CHECK_PASS; op++) {
            naive_binary(op, want, c, a, b);
            for (int threads = 1; threads <= 2 && st == GRAFT_CHECK_PASS; threads++) {
                if ((st = use(isa, threads, msg, len)) != GRAFT_CHECK_PASS) break;
                poison(got, ny);
                int err = graft_binary_broadcast(op, got, c->y, c->yr, a, c->a, c->ar, b, c->b,
                                                 c->br);
                long at = first_difference(got, want, ny);
                if (err || at >= 0 || !guards_intact(got, ny)) {
                    snprintf(msg, len, "%s, %d thread(s), case %zu, op %d: %s at %ld (%.9g, "
                             "want %.9g)", graft_isa_name(isa), threads, k, op,
                             err ? graft_last_error() : "wrong result or guard", at,
                             at >= 0 ? got[at] : 0.0, at >= 0 ? want[at] : 0.0);
                    st = GRAFT_CHECK_FAIL;
                }
            }
        }
        free(a);
        free(b);
        free(want);
        free(got);
    }
    restore();
    return st;
}

/* y == a and y == b with equal shapes (a residual add in place) give the out-of-place bits. */
static int binary_in_place(graft_isa isa, char *msg, size_t len) {
    int st = use(isa, 2, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    static const int64_t big[2] = {257, 301}, row[1] = {301};
    const size_t n = 257 * 301;
    float *a = alloc_random(n, 5, 0), *b = alloc_random(n, 6, 1), *want = malloc(sizeof(float) * n);
    float *y = malloc(sizeof(float) * n);
    if (!a || !b || !want || !y) {
        snprintf(msg, len, "out of memory");
        st = GRAFT_CHECK_FAIL;
    }
    for (int op = 0; op < 4 && st == GRAFT_CHECK_PASS; op++)
        for (int which = 0; which < 3 && st == GRAFT_CHECK_PASS; which++) {
            /* which: 0 y == a (same shapes), 1 y == b (same shapes), 2 y == a, b per row */
            const int64_t *bd = which == 2 ? row : big;
            int br = which == 2 ? 1 : 2;
            int err = graft_binary_broadcast(op, want, big, 2, a, big, 2, b, bd, br);
            memcpy(y, which == 1 ? b : a, sizeof(float) * n);
            if (!err)
                err = which == 1 ? graft_binary_broadcast(op, y, big, 2, a, big, 2, y, big, 2)
                                 : graft_binary_broadcast(op, y, big, 2, y, big, 2, b, bd, br);
            long at = err ? -1 : first_difference(y, want, n);
            if (err || at >= 0) {
                snprintf(msg, len, "%s op %d in place (%d): %s at %ld", graft_isa_name(isa), op,
                         which, err ? graft_last_error() : "differs", at);
                st = GRAFT_CHECK_FAIL;
            }
        }
    free(a);
    free(b);
    free(want);
    free(y);
    restore();
    return st;
}

/* ---- batch norm ------------------------------------------------------------------------ */

static const int channel_counts[] = {1, 3, 7, 16, 17, 33, 64};
#define NCHANNELS ((int)(sizeof channel_counts / sizeof channel_counts[0]))

static int batchnorm(graft_isa isa, char *msg, size_t len) {
    int st = use(isa, 1, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    static const size_t pixel_counts[] = {1, 5, 49, 3001};
    for (int ci = 0; ci < NCHANNELS && st == GRAFT_CHECK_PASS; ci++)
        for (int pi = 0; pi < 4 && st == GRAFT_CHECK_PASS; pi++) {
            const int C = channel_counts[ci];
            const size_t P = pixel_counts[pi], n = P * C;
            const float eps = 1e-5f;
            float *x = alloc_random(n, (uint64_t)(C * 10 + pi), 0);
            float *gamma = alloc_random(C, 100 + C, 1), *beta = alloc_random(C, 200 + C, 0);
            float *mean = alloc_random(C, 300 + C, 0), *var = alloc_random(C, 400 + C, 1);
            float *y1 = malloc(sizeof(float) * (n + GUARD)), *y2 = malloc(sizeof(float) * (n + GUARD));
            float *yi = malloc(sizeof(float) * n);
            if (!x || !gamma || !beta || !mean || !var || !y1 || !y2 || !yi) {
                snprintf(msg, len, "out of memory");
                st = GRAFT_CHECK_FAIL;
                goto next;
            }
            for (int c = 0; c < C; c++) var[c] = fabsf(var[c]) - 0.4f; /* some near 0 */
            poison(y1, n);
            poison(y2, n);
            memcpy(yi, x, sizeof(float) * n);
            int e1 = use(isa, 1, msg, len) ? -1
                     : graft_batchnorm_nhwc(y1, x, P, C, gamma, beta, mean, var, eps);
            int e2 = use(isa, 2, msg, len) ? -1
                     : graft_batchnorm_nhwc(y2, x, P, C, gamma, beta, mean, var, eps);
            int e3 = graft_batchnorm_nhwc(yi, yi, P, C, gamma, beta, mean, var, eps);
            if (e1 || e2 || e3) {
                snprintf(msg, len, "%s C=%d P=%zu: %s", graft_isa_name(isa), C, P,
                         graft_last_error());
                st = GRAFT_CHECK_FAIL;
                goto next;
            }
            if (first_difference(y1, y2, n) >= 0 || first_difference(y1, yi, n) >= 0 ||
                !guards_intact(y1, n) || !guards_intact(y2, n)) {
                snprintf(msg, len, "%s C=%d P=%zu: 1 thread, 2 threads and in place differ (or "
                         "a guard was written)", graft_isa_name(isa), C, P);
                st = GRAFT_CHECK_FAIL;
                goto next;
            }
            for (size_t i = 0; i < n && st == GRAFT_CHECK_PASS; i++) {
                int c = (int)(i % C);
                double s = gamma[c] / sqrt((double)var[c] + eps);
                double want = ((double)x[i] - mean[c]) * s + beta[c];
                double mag = fabs(x[i] * s) + fabs(mean[c] * s) + fabs(beta[c]);
                if (!(fabs(y1[i] - want) <= 1e-7 + 8 * FLT_EPSILON * mag)) {
                    snprintf(msg, len, "%s C=%d P=%zu: y[%zu] = %.9g, want %.9g",
                             graft_isa_name(isa), C, P, i, y1[i], want);
                    st = GRAFT_CHECK_FAIL;
                }
            }
        next:
            free(x);
            free(gamma);
            free(beta);
            free(mean);
            free(var);
            free(y1);
            free(y2);
            free(yi);
        }
    restore();
    return st;
}

/*
 * A 3x3 convolution (NCHW, no padding) computed naively, once with the folded weights and once
 * followed by graft_batchnorm_nhwc on its NHWC output: both must agree, with and without a
 * bias; and a fully-connected layer the same way.
 */
static void naive_conv(float *y, const float *x, const float *w, const float *bias, int Ci,
                       int Co, int H, int W, int K) {
    int OH = H - K + 1, OW = W - K + 1;
    for (int o = 0; o < Co; o++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double acc = bias[o];
                for (int i = 0; i < Ci; i++)
                    for (int kh = 0; kh < K; kh++)
                        for (int kw = 0; kw < K; kw++)
                            acc += (double)w[((o * Ci + i) * K + kh) * K + kw] *
                                   x[(i * H + oh + kh) * W + ow + kw];
                y[(o * OH + oh) * OW + ow] = (float)acc;
            }
}

static int fold_matches_batchnorm(char *msg, size_t len) {
    enum { Ci = 3, Co = 5, H = 6, W = 7, K = 3, OH = H - K + 1, OW = W - K + 1 };
    const float eps = 1e-3f;
    float *x = alloc_random(Ci * H * W, 1, 0), *w = alloc_random(Co * Ci * K * K, 2, 0);
    float *gamma = alloc_random(Co, 3, 1), *beta = alloc_random(Co, 4, 0);
    float *mean = alloc_random(Co, 5, 0), *var = alloc_random(Co, 6, 1);
    float *b0 = alloc_random(Co, 7, 0);
    int st = GRAFT_CHECK_PASS;
    if (!x || !w || !gamma || !beta || !mean || !var || !b0) {
        snprintf(msg, len, "out of memory");
        st = GRAFT_CHECK_FAIL;
        goto done;
    }
    for (int o = 0; o < Co; o++) var[o] = fabsf(var[o]);
    for (int with_bias = 0; with_bias < 2 && st == GRAFT_CHECK_PASS; with_bias++) {
        float bias[Co], fw[Co * Ci * K * K], fb[Co];
        float conv[Co * OH * OW], conv_nhwc[Co * OH * OW], folded[Co * OH * OW],
            folded_nhwc[Co * OH * OW];
        for (int o = 0; o < Co; o++) bias[o] = with_bias ? b0[o] : 0.0f;
        memcpy(fw, w, sizeof fw);
        memcpy(fb, bias, sizeof fb);
        naive_conv(conv, x, w, bias, Ci, Co, H, W, K);
        if (graft_batchnorm_fold(fw, fb, Co, Ci * K * K, gamma, beta, mean, var, eps) ||
            graft_nchw_to_nhwc(conv_nhwc, conv, 1, Co, OH, OW) ||
            graft_batchnorm_nhwc(conv_nhwc, conv_nhwc, OH * OW, Co, gamma, beta, mean, var, eps)) {
            snprintf(msg, len, "call failed: %s", graft_last_error());
            st = GRAFT_CHECK_FAIL;
            break;
        }
        naive_conv(folded, x, fw, fb, Ci, Co, H, W, K);
        graft_nchw_to_nhwc(folded_nhwc, folded, 1, Co, OH, OW);
        for (int i = 0; i < Co * OH * OW; i++) {
            int o = i % Co;
            double s = fabs(gamma[o]) / sqrt(var[o] + eps), mag = 0;
            for (int k = 0; k < Ci * K * K; k++) mag += fabs(w[o * Ci * K * K + k]);
            mag = (mag + fabs(bias[o]) + fabs(mean[o])) * s + fabs(beta[o]);
            if (!(fabs(folded_nhwc[i] - conv_nhwc[i]) <= 1e-6 + 16 * FLT_EPSILON * mag)) {
                snprintf(msg, len, "bias %d: folded conv %.9g, batchnorm(conv) %.9g at %d",
                         with_bias, folded_nhwc[i], conv_nhwc[i], i);
                st = GRAFT_CHECK_FAIL;
                break;
            }
        }
    }
    /* A fully-connected layer: y = W x + b with W (Co, Ci * H * W). */
    if (st == GRAFT_CHECK_PASS) {
        const int D = Ci * H * W;
        float *fw = malloc(sizeof(float) * Co * D), fb[Co], y[Co], yf[Co];
        if (!fw) {
            snprintf(msg, len, "out of memory");
            st = GRAFT_CHECK_FAIL;
            goto done;
        }
        for (int i = 0; i < Co * D; i++) fw[i] = x[i % D] * 0.5f - w[i % (Co * Ci * K * K)];
        for (int o = 0; o < Co; o++) {
            double acc = b0[o];
            for (int k = 0; k < D; k++) acc += (double)fw[o * D + k] * x[k];
            y[o] = (float)acc;
            fb[o] = b0[o];
        }
        int err = graft_batchnorm_fold(fw, fb, Co, (size_t)D, gamma, beta, mean, var, eps);
        if (!err) err = graft_batchnorm_nhwc(y, y, 1, Co, gamma, beta, mean, var, eps);
        for (int o = 0; o < Co && !err; o++) {
            double acc = fb[o], mag = fabs(fb[o]);
            for (int k = 0; k < D; k++) {
                acc += (double)fw[o * D + k] * x[k];
                mag += fabs((double)fw[o * D + k] * x[k]);
            }
            yf[o] = (float)acc;
            if (!(fabs(yf[o] - y[o]) <= 1e-6 + 16 * FLT_EPSILON * (mag + fabs(beta[o])))) {
                snprintf(msg, len, "fc: folded %.9g, batchnorm(fc) %.9g at %d", yf[o], y[o], o);
                st = GRAFT_CHECK_FAIL;
                break;
            }
        }
        if (err) {
            snprintf(msg, len, "fc: %s", graft_last_error());
            st = GRAFT_CHECK_FAIL;
        }
        free(fw);
    }
done:
    free(x);
    free(w);
    free(gamma);
    free(beta);
    free(mean);
    free(var);
    free(b0);
    return st;
}

/* ---- concat ---------------------------------------------------------------------------- */

/* Concat of `count` tensors shaped like base except on axis (sizes[i]), against a naive walk. */
static int concat_case(graft_isa isa, const int64_t *base, int rank, int axis, const int *sizes,
                       int count, char *msg, size_t len) {
    int ax = axis < 0 ? axis + rank : axis;
    int64_t dims[4][GRAFT_MAX_RANK], ydims[GRAFT_MAX_RANK];
    const int64_t *dp[4];
    float *in[4] = {NULL};
    const float *ip[4];
    memcpy(ydims, base, sizeof(int64_t) * rank);
    ydims[ax] = 0;
    for (int i = 0; i < count; i++) {
        memcpy(dims[i], base, sizeof(int64_t) * rank);
        dims[i][ax] = sizes[i];
        ydims[ax] += sizes[i];
        dp[i] = dims[i];
    }
    size_t ny = count_of(ydims, rank), inner = count_of(ydims + ax + 1, rank - ax - 1);
    float *want = malloc(sizeof(float) * (ny + 1)), *got = malloc(sizeof(float) * (ny + GUARD));
    int st = want && got ? GRAFT_CHECK_PASS : GRAFT_CHECK_FAIL;
    for (int i = 0; i < count; i++) {
        in[i] = alloc_random(count_of(dims[i], rank), (uint64_t)(i * 7 + ax + rank), 0);
        ip[i] = in[i];
        if (!in[i]) st = GRAFT_CHECK_FAIL;
    }
    if (st != GRAFT_CHECK_PASS) {
        snprintf(msg, len, "out of memory");
        goto done;
    }
    /* y's element e: which input holds its position along the axis, and where. */
    for (size_t e = 0; e < ny; e++) {
        size_t outer = e / (inner * (size_t)ydims[ax]), along = e / inner % (size_t)ydims[ax];
        size_t within = e % inner;
        int i = 0;
        while (along >= (size_t)sizes[i]) along -= (size_t)sizes[i++];
        want[e] = in[i][(outer * (size_t)sizes[i] + along) * inner + within];
    }
    for (int threads = 1; threads <= 2 && st == GRAFT_CHECK_PASS; threads++) {
        if ((st = use(isa, threads, msg, len)) != GRAFT_CHECK_PASS) break;
        poison(got, ny);
        int err = graft_concat(got, ip, dp, count, rank, axis);
        long at = first_difference(got, want, ny);
        if (err || at >= 0 || !guards_intact(got, ny)) {
            snprintf(msg, len, "%d thread(s), rank %d axis %d, %d inputs: %s at %ld", threads,
                     rank, axis, count, err ? graft_last_error() : "wrong result or guard", at);
            st = GRAFT_CHECK_FAIL;
        }
    }
done:
    for (int i = 0; i < count; i++) free(in[i]);
    free(want);
    free(got);
    return st;
}

static int concat_every_axis(char *msg, size_t len) {
    static const int64_t bases[][4] = {{5}, {2, 3}, {2, 3, 4}, {2, 3, 4, 5}};
    static const int sizes[][3] = {{3, 0, 5}, {1, 4, 2}, {2, 2, 2}};
    int st = GRAFT_CHECK_PASS;
    for (int r = 1; r <= 4 && st == GRAFT_CHECK_PASS; r++)
        for (int axis = -r; axis < r && st == GRAFT_CHECK_PASS; axis++)
            for (int s = 0; s < 3 && st == GRAFT_CHECK_PASS; s++)
                for (int count = 1; count <= 3 && st == GRAFT_CHECK_PASS; count++)
                    st = concat_case(GRAFT_ISA_AUTO, bases[r - 1], r, axis, sizes[s], count, msg,
                                     len);
    /* Big enough for 2 threads, on the outer and the inner axis. */
    static const int64_t big[3] = {4, 300, 300};
    static const int big_sizes[3] = {300, 100, 7};
    if (st == GRAFT_CHECK_PASS) st = concat_case(GRAFT_ISA_AUTO, big, 3, 1, big_sizes, 3, msg, len);
    if (st == GRAFT_CHECK_PASS) st = concat_case(GRAFT_ISA_AUTO, big, 3, -1, big_sizes, 2, msg, len);
    if (st == GRAFT_CHECK_PASS) st = concat_case(GRAFT_ISA_AUTO, big, 3, 0, big_sizes + 2, 1, msg, len);
    restore();
    return st;
}

/* ---- errors ---------------------------------------------------------------------------- */

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

static int untouched(const float *y, int n, char *msg, size_t len) {
    for (int i = 0; i < n; i++)
        if (y[i] != 42.0f) {
            snprintf(msg, len, "y[%d] was written by a failed call", i);
            return 0;
        }
    return 1;
}

static int rejects_bad_arguments(char *msg, size_t len) {
    float x[64] = {0}, y[64], w[64], b[8];
    for (int i = 0; i < 64; i++) y[i] = w[i] = 42.0f;
    for (int i = 0; i < 8; i++) b[i] = 42.0f;
    float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1}, zeros[8] = {0}, bad_var[8] = {1, 1, -2, 1, 1, 1, 1, 1};
    float nan_var[8] = {1, NAN, 1, 1, 1, 1, 1, 1};

    /* Layout conversions. */
    EXPECT_ERR(graft_nchw_to_nhwc(y, x, 1, -2, 4, 4), GRAFT_EINVAL, "negative size");
    EXPECT_ERR(graft_nhwc_to_nchw(NULL, x, 1, 2, 4, 4), GRAFT_EINVAL, "NULL dst");
    EXPECT_ERR(graft_nchw_to_nhwc(x + 4, x, 1, 2, 4, 4), GRAFT_EINVAL, "overlaps");
    EXPECT_ERR(graft_nchw_to_nhwc(y, x, 1 << 16, 1 << 16, 1 << 16, 1 << 16), GRAFT_ERANGE,
               "too large");

    /* Batch norm and folding. */
    EXPECT_ERR(graft_batchnorm_nhwc(y, x, 4, 0, ones, zeros, zeros, ones, 0), GRAFT_EINVAL,
               "C = 0");
    EXPECT_ERR(graft_batchnorm_nhwc(y, x, 4, 4, ones, zeros, zeros, bad_var, 1e-5f),
               GRAFT_EINVAL, "channel 2");
    EXPECT_ERR(graft_batchnorm_nhwc(y, x, 4, 4, ones, zeros, zeros, nan_var, 1e-5f),
               GRAFT_EINVAL, "channel 1");
    EXPECT_ERR(graft_batchnorm_nhwc(y, x, 4, 4, ones, zeros, zeros, zeros, 0.0f), GRAFT_EINVAL,
               "channel 0");
    EXPECT_ERR(graft_batchnorm_nhwc(y, x, 4, 4, NULL, zeros, zeros, ones, 0), GRAFT_EINVAL,
               "NULL gamma");
    EXPECT_ERR(graft_batchnorm_nhwc(NULL, x, 4, 4, ones, zeros, zeros, ones, 0), GRAFT_EINVAL,
               "NULL y");
    EXPECT_ERR(graft_batchnorm_nhwc(x + 1, x, 4, 4, ones, zeros, zeros, ones, 0), GRAFT_EINVAL,
               "partly overlaps");
    EXPECT_ERR(graft_batchnorm_nhwc(y, x, SIZE_MAX / 2, 4, ones, zeros, zeros, ones, 0),
               GRAFT_ERANGE, "too large");
    EXPECT_ERR(graft_batchnorm_fold(w, b, 4, 0, ones, zeros, zeros, ones, 0), GRAFT_EINVAL,
               "weight_per_out = 0");
    EXPECT_ERR(graft_batchnorm_fold(w, NULL, 4, 4, ones, zeros, zeros, ones, 0), GRAFT_EINVAL,
               "NULL bias");
    EXPECT_ERR(graft_batchnorm_fold(w, b, 4, 4, ones, zeros, zeros, bad_var, 0), GRAFT_EINVAL,
               "channel 2");
    EXPECT_ERR(graft_batchnorm_fold(w, b, 0, 4, ones, zeros, zeros, ones, 0), GRAFT_EINVAL,
               "C = 0");
    if (!untouched(y, 64, msg, len) || !untouched(w, 64, msg, len) || !untouched(b, 8, msg, len))
        return GRAFT_CHECK_FAIL;

    /* Broadcasting. */
    const int64_t d23[2] = {2, 3}, d32[2] = {3, 2}, d3[1] = {3}, d2[1] = {2}, dneg[2] = {2, -3};
    const int64_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, dhuge[2] = {1ll << 40, 1ll << 40};
    int64_t shape[GRAFT_MAX_RANK];
    int rank = -5;
    EXPECT_ERR(graft_binary_output_shape(shape, &rank, d23, 2, d2, 1), GRAFT_EINVAL,
               "shapes (2, 3) and (2) do not broadcast: 3 against 2");
    EXPECT_ERR(graft_binary_output_shape(shape, &rank, d23, 2, d32, 2), GRAFT_EINVAL,
               "(3, 2)");
    EXPECT_ERR(graft_binary_output_shape(shape, &rank, d9, 9, d2, 1), GRAFT_EINVAL, "rank 9");
    EXPECT_ERR(graft_binary_output_shape(shape, &rank, dneg, 2, d2, 1), GRAFT_EINVAL,
               "negative dimension: (2, -3)");
    EXPECT_ERR(graft_binary_output_shape(shape, &rank, NULL, 2, d2, 1), GRAFT_EINVAL,
               "NULL dims");
    if (rank != -5) {
        snprintf(msg, len, "a failed graft_binary_output_shape wrote its rank");
        return GRAFT_CHECK_FAIL;
    }
    EXPECT_ERR(graft_binary_broadcast(4, y, d23, 2, x, d23, 2, x, d3, 1), GRAFT_EINVAL,
               "op = 4");
    EXPECT_ERR(graft_binary_broadcast(0, y, d23, 2, x, d23, 2, x, d2, 1), GRAFT_EINVAL,
               "3 against 2");
    EXPECT_ERR(graft_binary_broadcast(0, y, d32, 2, x, d23, 2, x, d3, 1), GRAFT_EINVAL,
               "y has shape (3, 2), but a (2, 3) and b (3) broadcast to (2, 3)");
    EXPECT_ERR(graft_binary_broadcast(0, y, d3, 1, x, d3, 1, x, d23, 2), GRAFT_EINVAL,
               "broadcast to (2, 3)");
    EXPECT_ERR(graft_binary_broadcast(0, y, d23, 2, NULL, d23, 2, x, d3, 1), GRAFT_EINVAL,
               "NULL a");
    EXPECT_ERR(graft_binary_broadcast(0, x + 2, d23, 2, x, d23, 2, w, d3, 1), GRAFT_EINVAL,
               "y overlaps a");
    EXPECT_ERR(graft_binary_broadcast(0, x, d23, 2, w, d23, 2, x, d3, 1), GRAFT_EINVAL,
               "y overlaps b");
    EXPECT_ERR(graft_binary_broadcast(0, y, dhuge, 2, x, dhuge, 2, x, d2 + 0, 0), GRAFT_ERANGE,
               "too many elements");
    if (!untouched(y, 64, msg, len)) return GRAFT_CHECK_FAIL;

    /* Concat. */
    const float *ins[2] = {x, w};
    const int64_t *dims_ok[2] = {d23, d23}, *dims_bad[2] = {d23, d32}, *dims_null[2] = {d23, NULL};
    const int64_t *dims_huge[2] = {dhuge, dhuge};
    const float *ins_null[2] = {x, NULL}, *ins_self[2] = {x, y};
    EXPECT_ERR(graft_concat(y, ins, dims_ok, 0, 2, 0), GRAFT_EINVAL, "count = 0");
    EXPECT_ERR(graft_concat(y, ins, dims_ok, 2, 0, 0), GRAFT_EINVAL, "rank = 0");
    EXPECT_ERR(graft_concat(y, ins, dims_ok, 2, 9, 0), GRAFT_EINVAL, "rank = 9");
    EXPECT_ERR(graft_concat(y, ins, dims_ok, 2, 2, 2), GRAFT_EINVAL, "axis = 2");
    EXPECT_ERR(graft_concat(y, ins, dims_ok, 2, 2, -3), GRAFT_EINVAL, "axis = -3");
    EXPECT_ERR(graft_concat(y, ins, dims_bad, 2, 2, 0), GRAFT_EINVAL,
               "input 1 has shape (3, 2) and input 0 (2, 3): they differ on axis 1");
    EXPECT_ERR(graft_concat(y, ins, dims_bad, 2, 2, -1), GRAFT_EINVAL, "differ on axis 0");
    EXPECT_ERR(graft_concat(y, ins, dims_null, 2, 2, 0), GRAFT_EINVAL, "NULL dims for input 1");
    EXPECT_ERR(graft_concat(y, ins_null, dims_ok, 2, 2, 0), GRAFT_EINVAL, "NULL input 1");
    EXPECT_ERR(graft_concat(y, NULL, dims_ok, 2, 2, 0), GRAFT_EINVAL, "NULL inputs");
    EXPECT_ERR(graft_concat(NULL, ins, dims_ok, 2, 2, 0), GRAFT_EINVAL, "NULL y");
    EXPECT_ERR(graft_concat(y, ins_self, dims_ok, 2, 2, 0), GRAFT_EINVAL, "y overlaps input 1");
    EXPECT_ERR(graft_concat(y, ins, dims_huge, 2, 2, 1), GRAFT_ERANGE, "too many elements");
    if (!untouched(y, 64, msg, len)) return GRAFT_CHECK_FAIL;
    return GRAFT_CHECK_PASS;
}

#define VARIANT_CHECKS(name, isa)                                                             \
    static int layout_##name(char *m, size_t l) { return layout(isa, m, l); }                  \
    static int binary_##name(char *m, size_t l) { return binary(isa, m, l); }                  \
    static int in_place_##name(char *m, size_t l) { return binary_in_place(isa, m, l); }       \
    static int batchnorm_##name(char *m, size_t l) { return batchnorm(isa, m, l); }
VARIANT_CHECKS(scalar, GRAFT_ISA_SCALAR)
VARIANT_CHECKS(avx2, GRAFT_ISA_AVX2)
VARIANT_CHECKS(avx512, GRAFT_ISA_AVX512)
VARIANT_CHECKS(neon, GRAFT_ISA_NEON)

const graft_check graft_checks_eltwise[] = {
    {"eltwise", "scalar_layout_conversions", layout_scalar},
    {"eltwise", "avx2_layout_conversions", layout_avx2},
    {"eltwise", "avx512_layout_conversions", layout_avx512},
    {"eltwise", "neon_layout_conversions", layout_neon},
    {"eltwise", "scalar_broadcasting", binary_scalar},
    {"eltwise", "avx2_broadcasting", binary_avx2},
    {"eltwise", "avx512_broadcasting", binary_avx512},
    {"eltwise", "neon_broadcasting", binary_neon},
    {"eltwise", "scalar_binary_in_place", in_place_scalar},
    {"eltwise", "avx2_binary_in_place", in_place_avx2},
    {"eltwise", "avx512_binary_in_place", in_place_avx512},
    {"eltwise", "neon_binary_in_place", in_place_neon},
    {"eltwise", "scalar_batchnorm", batchnorm_scalar},
    {"eltwise", "avx2_batchnorm", batchnorm_avx2},
    {"eltwise", "avx512_batchnorm", batchnorm_avx512},
    {"eltwise", "neon_batchnorm", batchnorm_neon},
    {"eltwise", "fold_matches_batchnorm", fold_matches_batchnorm},
    {"eltwise", "concat_every_axis", concat_every_axis},
    {"eltwise", "rejects_bad_arguments", rejects_bad_arguments},
    {NULL, NULL, NULL},
};
