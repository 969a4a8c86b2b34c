/*
 * tests/kernels/check_conv.c: graft_conv2d against a naive direct convolution in double
 * precision written from ONNX's definition (OIHW weights, NHWC tensors here), for every ISA
 * variant, 1, 2 and 3 threads (bit-identical), every algorithm the planner picks (1x1 GEMM,
 * im2col GEMM, grouped, depthwise, direct), awkward shapes (1x1 images, primes, asymmetric padding,
 * dilation, strides larger than the kernel), and the errors the API returns.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "conv_reference.h"
#include "graft/graft.h"
#include "graft/kernels.h"

typedef struct conv_case {
    int N, H, W;
    graft_conv2d d;
    const char *algo; /* the algorithm the plan must choose */
} conv_case;

#define CONV(Ci, Co, G, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, ACT) \
    {Ci, Co, G, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, ACT}

static const conv_case cases[] = {
    {1, 7, 5, CONV(13, 17, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_NONE), "gemm-1x1"},
    /* Pointwise contractions run direct, in chunks of pixels across rows and images. */
    {1, 7, 5, CONV(17, 13, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_NONE), "direct"},
    {3, 7, 11, CONV(70, 67, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_RELU6), "direct"},
    {2, 5, 3, CONV(1000, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_RELU), "direct"},
    /* MobileNetV2's 24 and 40 outputs: tails of three whole 8-lane vectors on AVX2. */
    {2, 9, 13, CONV(37, 24, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_NONE), "direct"},
    {1, 11, 5, CONV(41, 40, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_RELU6), "direct"},
    /*
     * Tasks in L2-sized strips (60 pixels here), each passed over by several channel blocks
     * (100 outputs: 4 + 2 + 1 vectors on AVX-512).
     */
    {1, 47, 53, CONV(520, 100, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_RELU6), "direct"},
    {2, 5, 3, CONV(1001, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_NONE), "gemm-1x1"},
    {2, 1, 1, CONV(3, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_RELU), "gemm-1x1"},
    {1, 9, 8, CONV(16, 33, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, GRAFT_ACT_NONE), "im2col-gemm"},
    {2, 11, 7, CONV(3, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_RELU6), "direct"},
    {1, 12, 13, CONV(5, 7, 1, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, GRAFT_ACT_RELU), "im2col-gemm"},
    {1, 15, 15, CONV(3, 8, 1, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, GRAFT_ACT_NONE), "direct"},
    {1, 10, 9, CONV(4, 6, 1, 5, 3, 1, 2, 2, 1, 2, 0, 3, 1, GRAFT_ACT_NONE), "direct"},
    {1, 1, 1, CONV(7, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_NONE), "im2col-gemm"},
    {1, 6, 6, CONV(4, 5, 1, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0, GRAFT_ACT_NONE), "direct"},
    {2, 8, 9, CONV(6, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_RELU), "grouped-gemm"},
    {1, 7, 7, CONV(8, 4, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_NONE), "grouped-gemm"},
    {1, 9, 9, CONV(5, 10, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, GRAFT_ACT_NONE), "grouped-gemm"},
    {2, 13, 11, CONV(37, 37, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_RELU6), "depthwise"},
    {1, 14, 15, CONV(32, 32, 32, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, GRAFT_ACT_RELU6), "depthwise"},
    {1, 17, 16, CONV(19, 19, 19, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, GRAFT_ACT_NONE), "depthwise"},
    {1, 9, 10, CONV(5, 5, 5, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, GRAFT_ACT_RELU), "depthwise"},
    {1, 12, 12, CONV(3, 3, 3, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, GRAFT_ACT_NONE), "depthwise"},
    {1, 1, 1, CONV(17, 17, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_NONE), "depthwise"},
    /*
     * Rows of at most 8 pixels: widths 2, 3 and 7 with both ends losing taps, then dilated
     * rows whose inner pixels lose taps too (the unspecialised narrow path).
     */
    {2, 3, 2, CONV(21, 21, 21, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_NONE), "depthwise"},
    {1, 4, 3, CONV(40, 40, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_RELU6), "depthwise"},
    {2, 7, 7, CONV(40, 40, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_RELU), "depthwise"},
    {1, 6, 5, CONV(9, 9, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, GRAFT_ACT_NONE), "depthwise"},
    {1, 4, 4, CONV(13, 13, 13, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, GRAFT_ACT_NONE), "depthwise"},
    {1, 8, 5, CONV(1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0, GRAFT_ACT_NONE), "depthwise"},
    {1, 20, 18, CONV(64, 64, 64, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, GRAFT_ACT_NONE), "depthwise"},
    {1, 30, 31, CONV(24, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_RELU), "im2col-gemm"},
    /*
     * Few chunks for the threads (ResNet-50's deep stride-2 layers at batch 1): one chunk of
     * 49 pixels and two of 98, each product cut into column slices.
     */
    {1, 13, 14, CONV(40, 70, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, GRAFT_ACT_RELU), "im2col-gemm"},
    {1, 28, 27, CONV(24, 65, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, GRAFT_ACT_NONE), "im2col-gemm"},
    /* Rows wide enough for the eight-pixel sliding kernels at strides 1 and 2. */
    {1, 9, 40, CONV(20, 20, 20, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, GRAFT_ACT_RELU6), "depthwise"},
    {2, 7, 37, CONV(18, 18, 18, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, GRAFT_ACT_NONE), "depthwise"},
    {1, 8, 41, CONV(33, 33, 33, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, GRAFT_ACT_RELU), "depthwise"},
    {1, 5, 29, CONV(16, 16, 16, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0, GRAFT_ACT_NONE), "depthwise"},
    /*
     * Few input channels, groups 1: the direct kernel. Rows wide enough for its full pixel
     * tiles (12 for AVX-512 and NEON, 6 for AVX2) and their 4- and 1-pixel tails; output
     * channels of 3, one vector and a bit, two vectors and a tail, and MobileNet's and
     * ResNet's first layers (3x3s2 with TF's bottom-right padding, 7x7s2 to 64 channels).
     */
    {1, 5, 47, CONV(3, 33, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, GRAFT_ACT_RELU6), "direct"},
    {2, 9, 61, CONV(3, 32, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, GRAFT_ACT_RELU), "direct"},
    {1, 23, 29, CONV(3, 64, 1, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, GRAFT_ACT_RELU), "direct"},
    {1, 4, 31, CONV(1, 3, 1, 3, 5, 1, 1, 1, 2, 1, 4, 1, 3, GRAFT_ACT_NONE), "direct"},
    {1, 3, 3, CONV(2, 17, 1, 5, 5, 1, 1, 1, 1, 1, 2, 1, 0, GRAFT_ACT_NONE), "direct"},
    {1, 7, 40, CONV(4, 9, 1, 1, 3, 1, 3, 1, 1, 0, 1, 0, 1, GRAFT_ACT_NONE), "direct"},
    {1, 1, 1, CONV(3, 40, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, GRAFT_ACT_NONE), "direct"},
    /*
     * Outputs over 8 MB: the depthwise and direct kernels write them through the thread's
     * scratch, a row (or a pointwise strip) at a time, and stream them out from there; the
     * GEMM's tiles (an expansion) stream themselves.
     */
    {1, 200, 100, CONV(16, 112, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_RELU6), "gemm-1x1"},
    {2, 131, 127, CONV(64, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_RELU6), "depthwise"},
    {2, 170, 131, CONV(48, 48, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_RELU), "direct"},
    {1, 241, 239, CONV(3, 39, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, GRAFT_ACT_NONE), "direct"},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static int run_case(const conv_case *c, int ci, int with_bias, char *msg, size_t len) {
    const graft_conv2d *d = &c->d;
    int OH, OW;
    if (graft_conv2d_output_size(d, c->H, c->W, &OH, &OW)) {
        snprintf(msg, len, "case %d: %s", ci, graft_last_error());
        return GRAFT_CHECK_FAIL;
    }
    size_t nx = (size_t)c->N * c->H * c->W * d->C_in, ny = (size_t)c->N * OH * OW * d->C_out;
    size_t nw = (size_t)d->C_out * (d->C_in / d->groups) * d->kernel_h * d->kernel_w;
    uint64_t s = 0x1234567ull + (uint64_t)ci * 7919;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw);
    /* Aligned as the runtime's arena is, so that streaming stores can be taken. */
    size_t ybytes = (sizeof(float) * ny + 63) & ~(size_t)63;
    float *b = malloc(sizeof(float) * d->C_out), *y1 = aligned_alloc(64, ybytes);
    float *y2 = aligned_alloc(64, ybytes);
    double *ref = malloc(sizeof(double) * ny), *mag = malloc(sizeof(double) * ny);
    int st = GRAFT_CHECK_FAIL;
    graft_conv2d_plan *plan = NULL;
    if (!x || !w || !b || !y1 || !y2 || !ref || !mag) {
        snprintf(msg, len, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nx; i++) x[i] = conv_rnd(&s);
    for (size_t i = 0; i < nw; i++) w[i] = conv_rnd(&s);
    for (int i = 0; i < d->C_out; i++) b[i] = conv_rnd(&s);
    conv_reference(&c->d, c->N, c->H, c->W, OH, OW, x, w, with_bias ? b : NULL, ref, mag);
    if (graft_conv2d_plan_create(d, w, with_bias ? b : NULL, &plan)) {
        snprintf(msg, len, "case %d: %s", ci, graft_last_error());
        goto done;
    }
    if (strcmp(graft_conv2d_plan_algorithm(plan), c->algo) != 0) {
        snprintf(msg, len, "case %d: planner chose %s, want %s", ci,
                 graft_conv2d_plan_algorithm(plan), c->algo);
        goto done;
    }
    int agree = conv_threads_agree(plan, x, c->N, c->H, c->W, y1, y2, ny);
    if (agree < 0) {
        snprintf(msg, len, "case %d: %s", ci, graft_last_error());
        goto done;
    }
    double tol_scale = 4.0 * FLT_EPSILON * (d->kernel_h * d->kernel_w * d->C_in / d->groups + 2);
    for (size_t i = 0; i < ny; i++) {
        double tol = 1e-6 + tol_scale * mag[i];
        if (!(fabs(y1[i] - ref[i]) <= tol)) {
            snprintf(msg, len, "case %d (%s, bias %d): y[%zu] = %.8g, want %.8g (tol %.2g)", ci,
                     c->algo, with_bias, i, y1[i], ref[i], tol);
            goto done;
        }
    }
    if (agree > 0) {
        snprintf(msg, len, "case %d: 1 and %d threads differ", ci, agree);
        goto done;
    }
    st = GRAFT_CHECK_PASS;
done:
    graft_conv2d_plan_destroy(plan);
    free(x), free(w), free(b), free(y1), free(y2), free(ref), free(mag);
    return st;
}

static int sweep(graft_isa isa, char *msg, size_t len) {
    if (graft_isa_set(isa) != GRAFT_OK) {
        snprintf(msg, len, "%s not available on this CPU", graft_isa_name(isa));
        return GRAFT_CHECK_SKIP;
    }
    int st = GRAFT_CHECK_PASS;
    for (int i = 0; i < NCASES && st == GRAFT_CHECK_PASS; i++)
        for (int with_bias = 0; with_bias < 2 && st == GRAFT_CHECK_PASS; with_bias++)
            st = run_case(&cases[i], i, with_bias, msg, len);
    graft_isa_set(GRAFT_ISA_AUTO);
    if (st == GRAFT_CHECK_PASS) snprintf(msg, len, "%d layers", NCASES);
    return st;
}

static int conv_scalar(char *m, size_t l) { return sweep(GRAFT_ISA_SCALAR, m, l); }
static int conv_avx2(char *m, size_t l) { return sweep(GRAFT_ISA_AVX2, m, l); }
static int conv_avx512(char *m, size_t l) { return sweep(GRAFT_ISA_AVX512, m, l); }
static int conv_neon(char *m, size_t l) { return sweep(GRAFT_ISA_NEON, m, l); }

#define EXPECT(call, code)                                                                     \
    do {                                                                                       \
        int e_ = (call);                                                                       \
        if (e_ != (code) || (e_ && !graft_last_error()[0])) {                                  \
            snprintf(msg, len, "%s returned %s, want %s", #call, graft_err_name(e_),           \
                     graft_err_name(code));                                                    \
            return GRAFT_CHECK_FAIL;                                                           \
        }                                                                                      \
    } while (0)

static int rejects_impossible_layers(char *msg, size_t len) {
    float w[64] = {0}, x[64] = {0}, y[64];
    graft_conv2d_plan *p = NULL;
    graft_conv2d ok = CONV(2, 2, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, GRAFT_ACT_NONE);
    graft_conv2d bad = ok;
    bad.groups = 3;
    EXPECT(graft_conv2d_plan_create(&bad, w, NULL, &p), GRAFT_EINVAL);
    bad = ok;
    bad.C_in = 0;
    EXPECT(graft_conv2d_plan_create(&bad, w, NULL, &p), GRAFT_EINVAL);
    bad = ok;
    bad.stride_h = 0;
    EXPECT(graft_conv2d_plan_create(&bad, w, NULL, &p), GRAFT_EINVAL);
    bad = ok;
    bad.pad_left = -1;
    EXPECT(graft_conv2d_plan_create(&bad, w, NULL, &p), GRAFT_EINVAL);
    bad = ok;
    bad.act = (graft_act)9;
    EXPECT(graft_conv2d_plan_create(&bad, w, NULL, &p), GRAFT_EINVAL);
    bad = ok;
    bad.kernel_h = 100000;
    bad.kernel_w = 100000;
    EXPECT(graft_conv2d_plan_create(&bad, w, NULL, &p), GRAFT_ERANGE);
    EXPECT(graft_conv2d_plan_create(&ok, NULL, NULL, &p), GRAFT_EINVAL);
    if (p) {
        snprintf(msg, len, "a failed create wrote its output");
        return GRAFT_CHECK_FAIL;
    }
    int oh, ow;
    EXPECT(graft_conv2d_output_size(&ok, 2, 5, &oh, &ow), GRAFT_EINVAL); /* 3x3 on 2 rows */
    EXPECT(graft_conv2d_plan_create(&ok, w, NULL, &p), GRAFT_OK);
    EXPECT(graft_conv2d_forward(p, y, x, 1, 2, 2), GRAFT_EINVAL);
    EXPECT(graft_conv2d_forward(p, y, x, 0, 4, 4), GRAFT_EINVAL);
    EXPECT(graft_conv2d_forward(p, NULL, x, 1, 4, 4), GRAFT_EINVAL);
    EXPECT(graft_conv2d_forward(p, y, x, 1, 4, 4), GRAFT_OK);
    /* A plan packed for one variant is refused by another rather than misread. */
    graft_isa cur;
    graft_isa_current(&cur);
    for (int i = GRAFT_ISA_SCALAR; i < GRAFT_ISA_COUNT; i++)
        if (i != (int)cur && graft_isa_set((graft_isa)i) == GRAFT_OK) {
            EXPECT(graft_conv2d_forward(p, y, x, 1, 4, 4), GRAFT_EINVAL);
            break;
        }
    graft_isa_set(GRAFT_ISA_AUTO);
    graft_conv2d_plan_destroy(p);
    graft_conv2d_plan_destroy(NULL);
    return GRAFT_CHECK_PASS;
}

const graft_check graft_checks_conv[] = {
    {"conv", "scalar_matches_reference", conv_scalar},
    {"conv", "avx2_matches_reference", conv_avx2},
    {"conv", "avx512_matches_reference", conv_avx512},
    {"conv", "neon_matches_reference", conv_neon},
    {"conv", "rejects_impossible_layers", rejects_impossible_layers},
    {NULL, NULL, NULL},
};
