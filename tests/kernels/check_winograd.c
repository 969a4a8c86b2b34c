/*
 * tests/kernels/check_winograd.c: the F(4x4, 3x3) Winograd convolution (kernels/winograd.c)
 * against a naive direct convolution in double precision, for every ISA variant, with the
 * algorithm forced through GRAFT_CONV_ALGO=winograd: awkward shapes (1x1 images, sizes that are
 * not multiples of the 4x4 tile, 1 and prime channel counts, C_in in one and in two K blocks,
 * C_out split across tasks), every padding pattern (none, all sides, one side, wider than the
 * kernel's reach), batch 1 and 3, bias, ReLU and ReLU6; 1, 2 and 3 threads must agree bit for
 * bit. Also the planner's choice: the automatic rule, both overrides and a bad override.
 *
 * Tolerance: Winograd rounds the transformed operands and sums 36 products per output, so its
 * error is a few times a direct sum's. An element passes when
 *   |y - ref| <= 1e-5 + 8 * eps * (C_in + 16) * sum |x * w|
 * (the sum over the taps inside the image, bias included). It grows with C_in like the worst
 * case of the GEMM's sequential sums over C_in, and the 16 covers the transforms' own rounding,
 * which dominates for a few channels. The worst error these cases reach is 1.2 to 1.7 units
 * of eps * (C_in + 16) * sum |x * w| depending on the ISA (reported by the passing message),
 * so the limit of 8 units leaves a margin of more than 4; a wrong tap, padding or bias is off
 * by a whole product, far more.
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

typedef struct wino_case {
    int N, H, W;
    int C_in, C_out;
    int pt, pl, pb, pr; /* padding top, left, bottom, right */
    graft_act act;
} wino_case;

static const wino_case cases[] = {
    {1, 1, 1, 7, 3, 1, 1, 1, 1, GRAFT_ACT_NONE},     /* 1x1 image: one tile, mostly padding */
    {1, 3, 3, 1, 2, 0, 0, 0, 0, GRAFT_ACT_NONE},     /* one output pixel, one input channel */
    {1, 6, 5, 5, 1, 1, 1, 1, 1, GRAFT_ACT_NONE},     /* one output channel (1 -> 1 is depthwise) */
    {1, 4, 4, 1, 5, 1, 1, 1, 1, GRAFT_ACT_RELU},
    {3, 5, 7, 3, 17, 1, 1, 1, 1, GRAFT_ACT_RELU6},   /* sizes not multiples of 4, batch 3 */
    {1, 13, 13, 17, 37, 1, 1, 1, 1, GRAFT_ACT_NONE},
    {2, 13, 13, 37, 17, 0, 0, 0, 0, GRAFT_ACT_RELU},
    {1, 9, 11, 16, 16, 1, 0, 0, 1, GRAFT_ACT_NONE},  /* padding on one side of each axis */
    {1, 10, 7, 5, 9, 0, 1, 1, 0, GRAFT_ACT_RELU},
    {1, 6, 6, 8, 8, 2, 2, 2, 2, GRAFT_ACT_NONE},     /* padding wider than the kernel's reach */
    {1, 8, 8, 4, 4, 0, 2, 0, 0, GRAFT_ACT_RELU6},
    {3, 7, 7, 64, 64, 1, 1, 1, 1, GRAFT_ACT_RELU},   /* ResNet-like, 7x7: partial tiles only */
    {1, 14, 14, 48, 80, 1, 1, 1, 1, GRAFT_ACT_RELU},
    {1, 12, 16, 33, 65, 1, 1, 1, 1, GRAFT_ACT_NONE}, /* channel tails on every ISA */
    {1, 5, 6, 400, 24, 1, 1, 1, 1, GRAFT_ACT_NONE},  /* one deep K block: M replaces V */
    {1, 5, 6, 530, 24, 1, 1, 1, 1, GRAFT_ACT_RELU},  /* two K blocks (at most 512 each) */
    {1, 4, 4, 20, 200, 1, 1, 1, 1, GRAFT_ACT_RELU},  /* one tile: C_out split across tasks */
    {2, 30, 29, 24, 40, 1, 1, 1, 1, GRAFT_ACT_RELU6}, /* many blocks of tiles */
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static graft_conv2d desc_of(const wino_case *c) {
    return (graft_conv2d){.C_in = c->C_in, .C_out = c->C_out, .groups = 1, .kernel_h = 3,
                          .kernel_w = 3, .stride_h = 1, .stride_w = 1, .dilation_h = 1,
                          .dilation_w = 1, .pad_top = c->pt, .pad_left = c->pl,
                          .pad_bottom = c->pb, .pad_right = c->pr, .act = c->act};
}

/* Runs one case forced onto Winograd; *worst gets its largest error in tolerance units. */
static int run_case(const wino_case *c, int ci, int with_bias, double *worst, char *msg,
                    size_t len) {
    graft_conv2d d = desc_of(c);
    int OH, OW;
    if (graft_conv2d_output_size(&d, c->H, c->W, &OH, &OW)) {
        snprintf(msg, len, "case %d: %s", ci, graft_last_error());
        return GRAFT_CHECK_FAIL;
    }
    size_t nx = (size_t)c->N * c->H * c->W * c->C_in, ny = (size_t)c->N * OH * OW * c->C_out;
    size_t nw = (size_t)c->C_out * c->C_in * 9;
    uint64_t s = 0x9e3779b97f4a7c15ull + (uint64_t)ci * 7919;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw);
    float *b = malloc(sizeof(float) * c->C_out), *y1 = malloc(sizeof(float) * ny);
    float *y2 = malloc(sizeof(float) * ny);
    double *ref = malloc(sizeof(double) * ny), *mag = malloc(sizeof(double) * ny);
    int st = GRAFT_CHECK_FAIL;
    graft_conv2d_plan *plan = NULL;
    if (!x || !w || !b || !y1 || !y2 || !ref || !mag) {
        snprintf(msg, len, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nx; i++) x[i] = conv_rnd(&s);
    for (size_t i = 0; i < nw; i++) w[i] = conv_rnd(&s);
    for (int i = 0; i < c->C_out; i++) b[i] = conv_rnd(&s);
    conv_reference(&d, c->N, c->H, c->W, OH, OW, x, w, with_bias ? b : NULL, ref, mag);
    if (graft_conv2d_plan_create(&d, w, with_bias ? b : NULL, &plan)) {
        snprintf(msg, len, "case %d: %s", ci, graft_last_error());
        goto done;
    }
    if (strcmp(graft_conv2d_plan_algorithm(plan), "winograd-f4x4") != 0) {
        snprintf(msg, len, "case %d: planner chose %s under GRAFT_CONV_ALGO=winograd", ci,
                 graft_conv2d_plan_algorithm(plan));
        goto done;
    }
    /* NaN first (conv_threads_agree does y2): an output the kernel never writes must fail. */
    for (size_t i = 0; i < ny; i++) y1[i] = NAN;
    int agree = conv_threads_agree(plan, x, c->N, c->H, c->W, y1, y2, ny);
    if (agree < 0) {
        snprintf(msg, len, "case %d: %s", ci, graft_last_error());
        goto done;
    }
    double unit = FLT_EPSILON * (c->C_in + 16);
    for (size_t i = 0; i < ny; i++) {
        double err = fabs(y1[i] - ref[i]), tol = 1e-5 + 8.0 * unit * mag[i];
        if (!(err <= tol)) {
            size_t o = i % c->C_out, pix = i / c->C_out;
            snprintf(msg, len, "case %d (%dx%dx%d, %d->%d, pads %d %d %d %d, bias %d): "
                     "y[n=%zu][%zu][%zu][c=%zu] = %.8g, want %.8g (tol %.2g)", ci, c->N, c->H,
                     c->W, c->C_in, c->C_out, c->pt, c->pl, c->pb, c->pr, with_bias,
                     pix / ((size_t)OH * OW), pix / OW % OH, pix % OW, o, y1[i], ref[i], tol);
            goto done;
        }
        if (mag[i] > 0 && err / (unit * mag[i]) > *worst)
            *worst = err / (unit * mag[i]);
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

/* Sets GRAFT_CONV_ALGO for a check and puts the previous value back afterwards. */
typedef struct env_saved {
    char value[64];
    int was_set;
} env_saved;

static void algo_env_set(env_saved *saved, const char *value) {
    const char *old = getenv("GRAFT_CONV_ALGO");
    saved->was_set = old != NULL;
    if (old) snprintf(saved->value, sizeof saved->value, "%s", old);
    if (value)
        setenv("GRAFT_CONV_ALGO", value, 1);
    else
        unsetenv("GRAFT_CONV_ALGO");
}

static void algo_env_restore(const env_saved *saved) {
    if (saved->was_set)
        setenv("GRAFT_CONV_ALGO", saved->value, 1);
    else
        unsetenv("GRAFT_CONV_ALGO");
}

static int sweep(graft_isa isa, char *msg, size_t len) {
    if (graft_isa_set(isa) != GRAFT_OK) {
        snprintf(msg, len, "%s not available on this CPU", graft_isa_name(isa));
        return GRAFT_CHECK_SKIP;
    }
    env_saved saved;
    algo_env_set(&saved, "winograd");
    int st = GRAFT_CHECK_PASS;
    double worst = 0;
    for (int i = 0; i < NCASES && st == GRAFT_CHECK_PASS; i++)
        for (int with_bias = 0; with_bias < 2 && st == GRAFT_CHECK_PASS; with_bias++)
            st = run_case(&cases[i], i, with_bias, &worst, msg, len);
    algo_env_restore(&saved);
    graft_isa_set(GRAFT_ISA_AUTO);
    graft_threads_set(2);
    if (st == GRAFT_CHECK_PASS)
        snprintf(msg, len, "%d layers, worst error %.3f units of eps * (C_in + 16) * sum|x*w| "
                 "(limit 8)", NCASES, worst);
    return st;
}

static int wino_scalar(char *m, size_t l) { return sweep(GRAFT_ISA_SCALAR, m, l); }
static int wino_avx2(char *m, size_t l) { return sweep(GRAFT_ISA_AVX2, m, l); }
static int wino_avx512(char *m, size_t l) { return sweep(GRAFT_ISA_AVX512, m, l); }
static int wino_neon(char *m, size_t l) { return sweep(GRAFT_ISA_NEON, m, l); }

/*
 * The algorithm a plan for `d` (plan_create, or plan_create_lean when lean) gets under
 * GRAFT_CONV_ALGO=value (NULL: unset), and the Winograd bytes announced for it beforehand
 * against those the plan holds.
 */
static int planned(const graft_conv2d *d, int lean, const char *value, const char **algo,
                   char *msg, size_t len) {
    static float w[128 * 128 * 9];
    env_saved saved;
    algo_env_set(&saved, value);
    graft_conv2d_plan *p = NULL;
    size_t announced = lean ? 0 : graft_conv2d_winograd_bytes(d);
    int err = lean ? graft_conv2d_plan_create_lean(d, w, NULL, &p)
                   : graft_conv2d_plan_create(d, w, NULL, &p);
    algo_env_restore(&saved);
    if (err) {
        snprintf(msg, len, "GRAFT_CONV_ALGO=%s: %s", value ? value : "(unset)",
                 graft_last_error());
        return GRAFT_CHECK_FAIL;
    }
    *algo = graft_conv2d_plan_algorithm(p);
    /* plan_bytes adds the plan's own struct and the panels' padding to the transforms */
    size_t held = graft_conv2d_plan_bytes(p);
    int wino = !strcmp(*algo, "winograd-f4x4");
    graft_conv2d_plan_destroy(p);
    if (!lean && (wino ? !announced || announced > held || held - announced > 4096
                       : announced != 0)) {
        snprintf(msg, len, "%d->%d under GRAFT_CONV_ALGO=%s: winograd_bytes announced %zu, "
                 "the %s plan holds %zu", d->C_in, d->C_out, value ? value : "(unset)",
                 announced, *algo, held);
        return GRAFT_CHECK_FAIL;
    }
    return GRAFT_CHECK_PASS;
}

#define EXPECT_PLAN(d, lean, value, want)                                                      \
    do {                                                                                       \
        const char *got_;                                                                      \
        if (planned(&(d), (lean), (value), &got_, msg, len)) return GRAFT_CHECK_FAIL;          \
        if (strcmp(got_, (want)) != 0) {                                                       \
            snprintf(msg, len, "%s%s %d->%d under GRAFT_CONV_ALGO=%s: planner chose %s, "      \
                     "want %s", #d, (lean) ? " (lean)" : "", (d).C_in, (d).C_out,               \
                     (value) ? (value) : "(unset)", got_, (want));                             \
            return GRAFT_CHECK_FAIL;                                                           \
        }                                                                                      \
    } while (0)
#define EXPECT_ALGO(d, value, want) EXPECT_PLAN(d, 0, value, want)

static int planner_rule_and_override(char *msg, size_t len) {
    wino_case wide_case = {1, 8, 8, 128, 128, 1, 1, 1, 1, GRAFT_ACT_RELU};
    wino_case thin_case = {1, 8, 8, 3, 16, 1, 1, 1, 1, GRAFT_ACT_RELU};
    graft_conv2d wide = desc_of(&wide_case), thin = desc_of(&thin_case), strided = wide;
    strided.stride_h = strided.stride_w = 2;
    EXPECT_ALGO(wide, NULL, "winograd-f4x4");
    EXPECT_ALGO(wide, "auto", "winograd-f4x4");
    EXPECT_ALGO(wide, "im2col", "im2col-gemm");
    /* Three input channels run direct unless the variable asks for a GEMM algorithm. */
    EXPECT_ALGO(thin, NULL, "direct");
    EXPECT_ALGO(thin, "im2col", "im2col-gemm");
    EXPECT_ALGO(thin, "winograd", "winograd-f4x4");
    /* The override only reaches layers Winograd can run. */
    EXPECT_ALGO(strided, "winograd", "im2col-gemm");
    /* A lean plan (a model over its weight budget) holds no transform unless forced to. */
    EXPECT_PLAN(wide, 1, NULL, "im2col-gemm");
    EXPECT_PLAN(wide, 1, "winograd", "winograd-f4x4");

    env_saved saved;
    algo_env_set(&saved, "fft");
    graft_conv2d_plan *p = NULL;
    static float w[128 * 128 * 9];
    int err = graft_conv2d_plan_create(&wide, w, NULL, &p);
    algo_env_restore(&saved);
    if (err != GRAFT_EINVAL || p || !strstr(graft_last_error(), "GRAFT_CONV_ALGO")) {
        snprintf(msg, len, "GRAFT_CONV_ALGO=fft: plan_create returned %s (%s), want "
                 "GRAFT_EINVAL naming the variable", graft_err_name(err), graft_last_error());
        graft_conv2d_plan_destroy(p);
        return GRAFT_CHECK_FAIL;
    }
    return GRAFT_CHECK_PASS;
}

const graft_check graft_checks_winograd[] = {
    {"winograd", "scalar_matches_reference", wino_scalar},
    {"winograd", "avx2_matches_reference", wino_avx2},
    {"winograd", "avx512_matches_reference", wino_avx512},
    {"winograd", "neon_matches_reference", wino_neon},
    {"winograd", "planner_rule_and_override", planner_rule_and_override},
    {NULL, NULL, NULL},
};
