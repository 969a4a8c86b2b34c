/*
 * tests/kernels/check_conv_grad.c: the convolution backward kernels (graft_conv2d_backward_*)
 * against (1) central finite differences of a double-precision forward convolution, for the
 * scalar variant on small layers; (2) a direct double-precision gradient written from the
 * definition, for every ISA variant the CPU has, with 1 and 2 threads (which must agree to the
 * bit), on awkward layers: 1x1 images, primes, channel tails, 1x1 / 3x3 / 5x5 / 7x1 / 9x9
 * kernels, strides, dilation, asymmetric pads, groups, depthwise with multiplier 1 and 2, and
 * MobileNetV2's last layers; (3) the errors, which leave the outputs untouched; (4) that the
 * gradients accumulate.
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

#define CONV(Ci, Co, G, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR) \
    {Ci, Co, G, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, GRAFT_ACT_NONE}

typedef struct grad_case {
    int N, H, W;
    graft_conv2d d;
} grad_case;

/* Small enough for finite differences: two forward passes per input and weight element. */
static const grad_case fd_cases[] = {
    {2, 5, 4, CONV(3, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
    {1, 6, 7, CONV(4, 6, 2, 3, 2, 2, 1, 1, 2, 0, 1, 2, 0)},
    {2, 5, 5, CONV(3, 6, 3, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1)},  /* depthwise, multiplier 2 */
    {1, 6, 5, CONV(5, 5, 5, 3, 3, 1, 1, 2, 1, 2, 1, 2, 1)},  /* depthwise, dilation */
    {2, 3, 3, CONV(5, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)},  /* 1x1 GEMM */
    {1, 1, 1, CONV(3, 2, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
};
#define FD_CASES ((int)(sizeof fd_cases / sizeof fd_cases[0]))

static const grad_case cases[] = {
    {2, 7, 7, CONV(160, 960, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)},  /* MobileNetV2 expand */
    {2, 7, 7, CONV(960, 960, 960, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)}, /* ... depthwise */
    {2, 7, 7, CONV(960, 160, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)},  /* ... project */
    {3, 1, 1, CONV(7, 13, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
    {1, 11, 9, CONV(13, 7, 1, 5, 5, 2, 2, 1, 1, 2, 1, 0, 2)},
    {2, 9, 6, CONV(6, 10, 1, 7, 1, 1, 1, 1, 1, 3, 0, 2, 0)},
    {1, 10, 11, CONV(9, 5, 1, 3, 3, 1, 2, 2, 2, 2, 1, 2, 3)},
    {3, 8, 7, CONV(10, 14, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
    {1, 9, 9, CONV(16, 33, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0)},
    {2, 7, 5, CONV(8, 4, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)},
    {2, 9, 8, CONV(7, 14, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1)},    /* depthwise, multiplier 2 */
    {1, 11, 10, CONV(13, 13, 13, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2)},
    {1, 12, 13, CONV(37, 37, 37, 3, 3, 1, 1, 2, 2, 2, 1, 3, 2)},
    {2, 9, 6, CONV(19, 19, 19, 7, 1, 1, 1, 1, 1, 3, 0, 3, 0)},
    {3, 1, 1, CONV(17, 17, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
    {1, 14, 14, CONV(24, 24, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
    {1, 14, 15, CONV(40, 40, 40, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1)},
    {1, 12, 12, CONV(5, 5, 5, 9, 9, 1, 1, 1, 1, 4, 4, 4, 4)},    /* 81 taps: two batches */
    {2, 6, 5, CONV(1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
    {1, 8, 8, CONV(1, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

typedef struct sizes {
    int OH, OW;
    size_t nx, ny, nw, ws;
} sizes;

static int case_sizes(const grad_case *c, sizes *s) {
    const graft_conv2d *d = &c->d;
    if (graft_conv2d_output_size(d, c->H, c->W, &s->OH, &s->OW)) return -1;
    s->nx = (size_t)c->N * c->H * c->W * d->C_in;
    s->ny = (size_t)c->N * s->OH * s->OW * d->C_out;
    s->nw = (size_t)d->C_out * (d->C_in / d->groups) * d->kernel_h * d->kernel_w;
    s->ws = graft_conv2d_backward_workspace(d, c->N, c->H, c->W);
    return 0;
}

/*
 * The gradients from the definition, in double: gx (nx), gw (nw), gb (C_out) and the sums of
 * the absolute values of their terms (mx, mw, mb), for tolerances that scale with them.
 * With abs set, every input is taken by its absolute value (the magnitudes).
 */
static void grad_reference(const grad_case *c, const sizes *s, const float *x, const float *w,
                           const float *dy, double *gx, double *gw, double *gb, int abs_in) {
    const graft_conv2d *d = &c->d;
    int cin_g = d->C_in / d->groups, cout_g = d->C_out / d->groups;
    memset(gx, 0, sizeof(double) * s->nx);
    memset(gw, 0, sizeof(double) * s->nw);
    memset(gb, 0, sizeof(double) * d->C_out);
    for (int n = 0; n < c->N; n++)
        for (int oh = 0; oh < s->OH; oh++)
            for (int ow = 0; ow < s->OW; ow++)
                for (int o = 0; o < d->C_out; o++) {
                    int g = o / cout_g;
                    double gy = dy[(((size_t)n * s->OH + oh) * s->OW + ow) * d->C_out + o];
                    if (abs_in) gy = fabs(gy);
                    gb[o] += gy;
                    for (int ci = 0; ci < cin_g; ci++)
                        for (int kh = 0; kh < d->kernel_h; kh++)
                            for (int kw = 0; kw < d->kernel_w; kw++) {
                                int ih = oh * d->stride_h - d->pad_top + kh * d->dilation_h;
                                int iw = ow * d->stride_w - d->pad_left + kw * d->dilation_w;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                size_t xi = (((size_t)n * c->H + ih) * c->W + iw) * d->C_in +
                                            (size_t)g * cin_g + ci;
                                size_t wi = (((size_t)o * cin_g + ci) * d->kernel_h + kh) *
                                                d->kernel_w + kw;
                                double xv = abs_in ? fabs(x[xi]) : x[xi];
                                double wv = abs_in ? fabs(w[wi]) : w[wi];
                                gx[xi] += gy * wv;
                                gw[wi] += gy * xv;
                            }
                }
}

/* The variant's gradients, accumulated onto the given starting values of gx, gw, gb. */
static int run_backward(const grad_case *c, const sizes *s, const float *x, const float *w,
                        const float *dy, float *gx, float *gw, float *gb, float *ws) {
    int e = graft_conv2d_backward_data(&c->d, gx, dy, w, c->N, c->H, c->W, ws);
    if (e) return e;
    return graft_conv2d_backward_weights(&c->d, gw, gb, x, dy, c->N, c->H, c->W, ws);
}

/* |got - want| <= atol + rtol * mag with rtol growing with the reduction length. */
static int close_all(const char *what, int ci, const float *got, const double *want,
                     const double *mag, size_t n, double terms, double scale, char *msg,
                     size_t len) {
    double rtol = scale * 4.0 * FLT_EPSILON * (terms + 2);
    for (size_t i = 0; i < n; i++) {
        double tol = 1e-5 + rtol * mag[i];
        if (!(fabs(got[i] - want[i]) <= tol)) {
            snprintf(msg, len, "case %d: %s[%zu] = %.9g, want %.9g (tol %.3g)", ci, what, i,
                     got[i], want[i], tol);
            return GRAFT_CHECK_FAIL;
        }
    }
    return GRAFT_CHECK_PASS;
}

typedef struct bufs {
    float *x, *w, *dy, *ws;
    float *gx[2], *gw[2], *gb[2];
    double *rx, *rw, *rb, *mx, *mw, *mb;
} bufs;

static void bufs_free(bufs *b) {
    free(b->x), free(b->w), free(b->dy), free(b->ws);
    for (int i = 0; i < 2; i++) free(b->gx[i]), free(b->gw[i]), free(b->gb[i]);
    free(b->rx), free(b->rw), free(b->rb), free(b->mx), free(b->mw), free(b->mb);
}

static int bufs_alloc(bufs *b, const grad_case *c, const sizes *s) {
    memset(b, 0, sizeof *b);
    int C_out = c->d.C_out;
    b->x = malloc(sizeof(float) * s->nx);
    b->w = malloc(sizeof(float) * s->nw);
    b->dy = malloc(sizeof(float) * s->ny);
    b->ws = malloc(sizeof(float) * (s->ws ? s->ws : 1));
    int ok = b->x && b->w && b->dy && b->ws;
    for (int i = 0; i < 2; i++) {
        b->gx[i] = malloc(sizeof(float) * s->nx);
        b->gw[i] = malloc(sizeof(float) * s->nw);
        b->gb[i] = malloc(sizeof(float) * C_out);
        ok = ok && b->gx[i] && b->gw[i] && b->gb[i];
    }
    b->rx = malloc(sizeof(double) * s->nx), b->mx = malloc(sizeof(double) * s->nx);
    b->rw = malloc(sizeof(double) * s->nw), b->mw = malloc(sizeof(double) * s->nw);
    b->rb = malloc(sizeof(double) * C_out), b->mb = malloc(sizeof(double) * C_out);
    ok = ok && b->rx && b->mx && b->rw && b->mw && b->rb && b->mb;
    if (!ok) bufs_free(b);
    return ok ? 0 : -1;
}

static void fill(float *p, size_t n, uint64_t *s) {
    for (size_t i = 0; i < n; i++) p[i] = conv_rnd(s);
}

/* ---- (1) finite differences ------------------------------------------------------------- */

/* loss = sum(dy * conv(x, w) + b) in double, from double tensors. */
static double loss_of(const grad_case *c, const sizes *s, const double *x, const double *w,
                      const double *b, const float *dy) {
    const graft_conv2d *d = &c->d;
    int cin_g = d->C_in / d->groups, cout_g = d->C_out / d->groups;
    double loss = 0;
    for (int n = 0; n < c->N; n++)
        for (int oh = 0; oh < s->OH; oh++)
            for (int ow = 0; ow < s->OW; ow++)
                for (int o = 0; o < d->C_out; o++) {
                    int g = o / cout_g;
                    double y = b[o];
                    for (int ci = 0; ci < cin_g; ci++)
                        for (int kh = 0; kh < d->kernel_h; kh++)
                            for (int kw = 0; kw < d->kernel_w; kw++) {
                                int ih = oh * d->stride_h - d->pad_top + kh * d->dilation_h;
                                int iw = ow * d->stride_w - d->pad_left + kw * d->dilation_w;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                y += x[(((size_t)n * c->H + ih) * c->W + iw) * d->C_in +
                                       (size_t)g * cin_g + ci] *
                                     w[(((size_t)o * cin_g + ci) * d->kernel_h + kh) *
                                           d->kernel_w + kw];
                            }
                    loss += dy[(((size_t)n * s->OH + oh) * s->OW + ow) * d->C_out + o] * y;
                }
    return loss;
}

/* Central differences of loss_of in each element of t (n), into fd. */
static void central_diff(const grad_case *c, const sizes *s, double *xd, double *wd, double *bd,
                         const float *dy, double *t, size_t n, double *fd) {
    const double h = 1e-3;
    for (size_t i = 0; i < n; i++) {
        double keep = t[i];
        t[i] = keep + h;
        double up = loss_of(c, s, xd, wd, bd, dy);
        t[i] = keep - h;
        double down = loss_of(c, s, xd, wd, bd, dy);
        t[i] = keep;
        fd[i] = (up - down) / (2 * h);
    }
}

static int fd_case(int ci, char *msg, size_t len) {
    const grad_case *c = &fd_cases[ci];
    sizes s;
    bufs b;
    if (case_sizes(c, &s)) return graft_check_fail(msg, len, "fd case %d: %s", ci,
                                                   graft_last_error());
    if (bufs_alloc(&b, c, &s)) return graft_check_fail(msg, len, "out of memory");
    int C_out = c->d.C_out, st = GRAFT_CHECK_FAIL;
    double *xd = malloc(sizeof(double) * s.nx), *wd = malloc(sizeof(double) * s.nw);
    double *bd = calloc((size_t)C_out, sizeof(double));
    if (!xd || !wd || !bd) {
        snprintf(msg, len, "out of memory");
        goto done;
    }
    uint64_t seed = 0xfd5eedull + (uint64_t)ci * 131;
    fill(b.x, s.nx, &seed), fill(b.w, s.nw, &seed), fill(b.dy, s.ny, &seed);
    for (size_t i = 0; i < s.nx; i++) xd[i] = b.x[i];
    for (size_t i = 0; i < s.nw; i++) wd[i] = b.w[i];
    central_diff(c, &s, xd, wd, bd, b.dy, xd, s.nx, b.rx);
    central_diff(c, &s, xd, wd, bd, b.dy, wd, s.nw, b.rw);
    central_diff(c, &s, xd, wd, bd, b.dy, bd, (size_t)C_out, b.rb);
    double *scratch = malloc(sizeof(double) * (s.nx + s.nw + C_out));
    if (!scratch) {
        snprintf(msg, len, "out of memory");
        goto done;
    }
    grad_reference(c, &s, b.x, b.w, b.dy, scratch, scratch + s.nx, scratch + s.nx + s.nw, 1);
    memcpy(b.mx, scratch, sizeof(double) * s.nx);
    memcpy(b.mw, scratch + s.nx, sizeof(double) * s.nw);
    memcpy(b.mb, scratch + s.nx + s.nw, sizeof(double) * C_out);
    free(scratch);
    memset(b.gx[0], 0, sizeof(float) * s.nx);
    memset(b.gw[0], 0, sizeof(float) * s.nw);
    memset(b.gb[0], 0, sizeof(float) * C_out);
    if (run_backward(c, &s, b.x, b.w, b.dy, b.gx[0], b.gw[0], b.gb[0], b.ws)) {
        snprintf(msg, len, "fd case %d: %s", ci, graft_last_error());
        goto done;
    }
    /* The differences of a linear loss carry only double rounding: 1e-5 is ample. */
    double terms = (double)s.ny;
    if ((st = close_all("dx", ci, b.gx[0], b.rx, b.mx, s.nx, terms, 1, msg, len)) ||
        (st = close_all("dweight", ci, b.gw[0], b.rw, b.mw, s.nw, terms, 1, msg, len)) ||
        (st = close_all("dbias", ci, b.gb[0], b.rb, b.mb, (size_t)C_out, terms, 1, msg, len)))
        goto done;
    st = GRAFT_CHECK_PASS;
done:
    free(xd), free(wd), free(bd);
    bufs_free(&b);
    return st;
}

static int scalar_matches_finite_differences(char *msg, size_t len) {
    if (graft_isa_set(GRAFT_ISA_SCALAR))
        return graft_check_fail(msg, len, "scalar: %s", graft_last_error());
    int st = GRAFT_CHECK_PASS;
    for (int i = 0; i < FD_CASES && st == GRAFT_CHECK_PASS; i++) st = fd_case(i, msg, len);
    graft_isa_set(GRAFT_ISA_AUTO);
    if (st == GRAFT_CHECK_PASS) snprintf(msg, len, "%d layers", FD_CASES);
    return st;
}

/* ---- (2) every variant against the definition, 1 and 2 threads ------------------------ */

static int variant_case(graft_isa isa, int ci, char *msg, size_t len) {
    const grad_case *c = &cases[ci];
    sizes s;
    bufs b;
    if (case_sizes(c, &s)) return graft_check_fail(msg, len, "case %d: %s", ci,
                                                   graft_last_error());
    if (bufs_alloc(&b, c, &s)) return graft_check_fail(msg, len, "out of memory");
    int C_out = c->d.C_out, st = GRAFT_CHECK_FAIL;
    uint64_t seed = 0x6a7full + (uint64_t)ci * 7919;
    fill(b.x, s.nx, &seed), fill(b.w, s.nw, &seed), fill(b.dy, s.ny, &seed);
    grad_reference(c, &s, b.x, b.w, b.dy, b.rx, b.rw, b.rb, 0);
    grad_reference(c, &s, b.x, b.w, b.dy, b.mx, b.mw, b.mb, 1);
    /* Start from non-zero gradients: the kernels must add, not overwrite. */
    uint64_t init_seed = 0x1417ull + (uint64_t)ci;
    for (int t = 0; t < 2; t++) {
        uint64_t s2 = init_seed;
        fill(b.gx[t], s.nx, &s2), fill(b.gw[t], s.nw, &s2), fill(b.gb[t], (size_t)C_out, &s2);
    }
    for (size_t i = 0; i < s.nx; i++) b.rx[i] += b.gx[0][i], b.mx[i] += fabs(b.gx[0][i]);
    for (size_t i = 0; i < s.nw; i++) b.rw[i] += b.gw[0][i], b.mw[i] += fabs(b.gw[0][i]);
    for (int i = 0; i < C_out; i++) b.rb[i] += b.gb[0][i], b.mb[i] += fabs(b.gb[0][i]);
    for (int t = 0; t < 2; t++) {
        graft_threads_set(t + 1);
        if (run_backward(c, &s, b.x, b.w, b.dy, b.gx[t], b.gw[t], b.gb[t], b.ws)) {
            snprintf(msg, len, "case %d (%s, %d threads): %s", ci, graft_isa_name(isa), t + 1,
                     graft_last_error());
            goto done;
        }
    }
    const graft_conv2d *d = &c->d;
    double data_terms = (double)(d->C_out / d->groups) * d->kernel_h * d->kernel_w;
    double weight_terms = (double)c->N * s.OH * s.OW;
    if ((st = close_all("dx", ci, b.gx[0], b.rx, b.mx, s.nx, data_terms, 1, msg, len)) ||
        (st = close_all("dweight", ci, b.gw[0], b.rw, b.mw, s.nw, weight_terms, 1, msg, len)) ||
        (st = close_all("dbias", ci, b.gb[0], b.rb, b.mb, (size_t)C_out, weight_terms, 1, msg,
                        len)))
        goto done;
    st = GRAFT_CHECK_FAIL;
    if (memcmp(b.gx[0], b.gx[1], sizeof(float) * s.nx) ||
        memcmp(b.gw[0], b.gw[1], sizeof(float) * s.nw) ||
        memcmp(b.gb[0], b.gb[1], sizeof(float) * C_out)) {
        snprintf(msg, len, "case %d (%s): 1 and 2 threads differ", ci, graft_isa_name(isa));
        goto done;
    }
    st = GRAFT_CHECK_PASS;
done:
    bufs_free(&b);
    return st;
}

static int sweep(graft_isa isa, char *msg, size_t len) {
    if (graft_isa_set(isa) != GRAFT_OK)
        return graft_check_say(msg, len, GRAFT_CHECK_SKIP, "%s not available on this CPU",
                               graft_isa_name(isa));
    int threads = graft_threads_get(), st = GRAFT_CHECK_PASS;
    for (int i = 0; i < NCASES && st == GRAFT_CHECK_PASS; i++)
        st = variant_case(isa, i, msg, len);
    graft_threads_set(threads);
    graft_isa_set(GRAFT_ISA_AUTO);
    if (st == GRAFT_CHECK_PASS) snprintf(msg, len, "%d layers", NCASES);
    return st;
}

static int scalar_matches_definition(char *m, size_t l) { return sweep(GRAFT_ISA_SCALAR, m, l); }
static int avx2_matches_definition(char *m, size_t l) { return sweep(GRAFT_ISA_AVX2, m, l); }
static int avx512_matches_definition(char *m, size_t l) { return sweep(GRAFT_ISA_AVX512, m, l); }
static int neon_matches_definition(char *m, size_t l) { return sweep(GRAFT_ISA_NEON, m, l); }

/*
 * The SIMD variants against the scalar one on the same layers, with tolerances from the
 * magnitudes: what differs is only the rounding of fused multiply-adds.
 */
static int simd_matches_scalar(char *msg, size_t len) {
    int ran = 0;
    for (int isa = GRAFT_ISA_AVX2; isa < GRAFT_ISA_COUNT; isa++) {
        if (graft_isa_set((graft_isa)isa) != GRAFT_OK) continue;
        ran++;
        for (int ci = 0; ci < NCASES; ci++) {
            const grad_case *c = &cases[ci];
            sizes s;
            bufs b;
            if (case_sizes(c, &s) || bufs_alloc(&b, c, &s))
                return graft_check_fail(msg, len, "case %d: setup failed", ci);
            int C_out = c->d.C_out, st = GRAFT_CHECK_FAIL;
            uint64_t seed = 0x51dull + (uint64_t)ci;
            fill(b.x, s.nx, &seed), fill(b.w, s.nw, &seed), fill(b.dy, s.ny, &seed);
            grad_reference(c, &s, b.x, b.w, b.dy, b.mx, b.mw, b.mb, 1);
            for (int t = 0; t < 2; t++) {
                memset(b.gx[t], 0, sizeof(float) * s.nx);
                memset(b.gw[t], 0, sizeof(float) * s.nw);
                memset(b.gb[t], 0, sizeof(float) * C_out);
                graft_isa_set(t == 0 ? GRAFT_ISA_SCALAR : (graft_isa)isa);
                if (run_backward(c, &s, b.x, b.w, b.dy, b.gx[t], b.gw[t], b.gb[t], b.ws)) {
                    snprintf(msg, len, "case %d: %s", ci, graft_last_error());
                    bufs_free(&b);
                    return GRAFT_CHECK_FAIL;
                }
            }
            for (size_t i = 0; i < s.nx; i++) b.rx[i] = b.gx[0][i];
            for (size_t i = 0; i < s.nw; i++) b.rw[i] = b.gw[0][i];
            for (int i = 0; i < C_out; i++) b.rb[i] = b.gb[0][i];
            const graft_conv2d *d = &c->d;
            double dt = (double)(d->C_out / d->groups) * d->kernel_h * d->kernel_w;
            double wt = (double)c->N * s.OH * s.OW;
            if (!(st = close_all("dx", ci, b.gx[1], b.rx, b.mx, s.nx, dt, 2, msg, len)) &&
                !(st = close_all("dweight", ci, b.gw[1], b.rw, b.mw, s.nw, wt, 2, msg, len)))
                st = close_all("dbias", ci, b.gb[1], b.rb, b.mb, (size_t)C_out, wt, 2, msg, len);
            bufs_free(&b);
            if (st != GRAFT_CHECK_PASS) {
                size_t l = strlen(msg);
                snprintf(msg + l, len - l, " (%s vs scalar)", graft_isa_name((graft_isa)isa));
                graft_isa_set(GRAFT_ISA_AUTO);
                return st;
            }
        }
    }
    graft_isa_set(GRAFT_ISA_AUTO);
    if (!ran) return graft_check_say(msg, len, GRAFT_CHECK_SKIP, "no SIMD variant on this CPU");
    snprintf(msg, len, "%d SIMD variants x %d layers", ran, NCASES);
    return GRAFT_CHECK_PASS;
}

/* ---- (3) errors, (4) accumulation -------------------------------------------------------- */

#define EXPECT(call, code)                                                                     \
    do {                                                                                       \
        int e_ = (call);                                                                       \
        if (e_ != (code) || (e_ && !graft_last_error()[0])) {                                  \
            snprintf(msg, len, "%s returned %s, want %s", #call, graft_err_name(e_),           \
                     graft_err_name(code));                                                    \
            return GRAFT_CHECK_FAIL;                                                           \
        }                                                                                      \
    } while (0)

static int untouched(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 7.0f) return 0;
    return 1;
}

static int rejects_bad_calls(char *msg, size_t len) {
    enum { CAP = 4096 };
    static float x[CAP], dy[CAP], w[CAP], dx[CAP], dw[CAP], db[64], ws[CAP];
    const graft_conv2d k3 = CONV(2, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
    const graft_conv2d one = CONV(2, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0);
    const graft_conv2d dw3 = CONV(4, 4, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0);
    for (int i = 0; i < CAP; i++) x[i] = dy[i] = w[i] = 1.0f, dx[i] = dw[i] = 7.0f;
    for (int i = 0; i < 64; i++) db[i] = 7.0f;
    const graft_conv2d *layers[] = {&k3, &one, &dw3};
    for (int l = 0; l < 3; l++) {
        const graft_conv2d *d = layers[l];
        EXPECT(graft_conv2d_backward_data(d, NULL, dy, w, 1, 4, 4, ws), GRAFT_EINVAL);
        EXPECT(graft_conv2d_backward_data(d, dx, NULL, w, 1, 4, 4, ws), GRAFT_EINVAL);
        EXPECT(graft_conv2d_backward_data(d, dx, dy, NULL, 1, 4, 4, ws), GRAFT_EINVAL);
        EXPECT(graft_conv2d_backward_data(NULL, dx, dy, w, 1, 4, 4, ws), GRAFT_EINVAL);
        EXPECT(graft_conv2d_backward_data(d, dx, dy, w, 0, 4, 4, ws), GRAFT_EINVAL);
        EXPECT(graft_conv2d_backward_weights(d, NULL, db, x, dy, 1, 4, 4, ws), GRAFT_EINVAL);
        EXPECT(graft_conv2d_backward_weights(d, dw, db, NULL, dy, 1, 4, 4, ws), GRAFT_EINVAL);
        EXPECT(graft_conv2d_backward_weights(d, dw, db, x, NULL, 1, 4, 4, ws), GRAFT_EINVAL);
        EXPECT(graft_conv2d_backward_weights(d, dw, db, x, dy, -1, 4, 4, ws), GRAFT_EINVAL);
        EXPECT(graft_conv2d_backward_weights(d, dw, db, x, dy, 1, 0, 4, ws), GRAFT_EINVAL);
    }
    /* The unpadded depthwise 3x3 does not fit 2 rows. */
    EXPECT(graft_conv2d_backward_data(&dw3, dx, dy, w, 1, 2, 5, ws), GRAFT_EINVAL);
    EXPECT(graft_conv2d_backward_weights(&dw3, dw, db, x, dy, 1, 5, 2, ws), GRAFT_EINVAL);
    graft_conv2d big = k3;
    big.pad_top = big.pad_bottom = 0;
    EXPECT(graft_conv2d_backward_data(&big, dx, dy, w, 1, 2, 4, ws), GRAFT_EINVAL);
    EXPECT(graft_conv2d_backward_weights(&big, dw, db, x, dy, 1, 2, 4, ws), GRAFT_EINVAL);
    graft_conv2d bad = k3;
    bad.groups = 2;
    EXPECT(graft_conv2d_backward_data(&bad, dx, dy, w, 1, 4, 4, ws), GRAFT_EINVAL);
    bad = k3;
    bad.stride_w = 0;
    EXPECT(graft_conv2d_backward_weights(&bad, dw, db, x, dy, 1, 4, 4, ws), GRAFT_EINVAL);
    /* A layer needing a workspace refuses NULL; 1x1 and depthwise layers need none. */
    if (graft_conv2d_backward_workspace(&k3, 1, 4, 4) == 0 ||
        graft_conv2d_backward_workspace(&one, 1, 4, 4) != 0 ||
        graft_conv2d_backward_workspace(&dw3, 1, 4, 4) != 0)
        return graft_check_fail(msg, len, "workspace sizes: 3x3 %zu, 1x1 %zu, depthwise %zu",
                                graft_conv2d_backward_workspace(&k3, 1, 4, 4),
                                graft_conv2d_backward_workspace(&one, 1, 4, 4),
                                graft_conv2d_backward_workspace(&dw3, 1, 4, 4));
    if (graft_conv2d_backward_workspace(&big, 1, 2, 4) != 0)
        return graft_check_fail(msg, len, "workspace of an impossible layer is not 0");
    EXPECT(graft_conv2d_backward_data(&k3, dx, dy, w, 1, 4, 4, NULL), GRAFT_EINVAL);
    EXPECT(graft_conv2d_backward_weights(&k3, dw, db, x, dy, 1, 4, 4, NULL), GRAFT_EINVAL);
    if (!untouched(dx, CAP) || !untouched(dw, CAP) || !untouched(db, 64))
        return graft_check_fail(msg, len, "a failed call wrote its outputs");
    /* And the good calls do write (NULL dbias: not wanted). */
    EXPECT(graft_conv2d_backward_data(&dw3, dx, dy, w, 1, 4, 4, NULL), GRAFT_OK);
    EXPECT(graft_conv2d_backward_weights(&one, dw, NULL, x, dy, 1, 4, 4, NULL), GRAFT_OK);
    if (untouched(dx, 64) || untouched(dw, 6) || !untouched(db, 64))
        return graft_check_fail(msg, len, "good calls did not write as expected");
    return GRAFT_CHECK_PASS;
}

/* Twice the call gives twice the gradient (within the rounding of the second addition). */
static int accumulates(char *msg, size_t len) {
    static const int picks[] = {0, 1, 4, 7, 10};
    for (size_t k = 0; k < sizeof picks / sizeof picks[0]; k++) {
        int ci = picks[k];
        const grad_case *c = &cases[ci];
        sizes s;
        bufs b;
        if (case_sizes(c, &s) || bufs_alloc(&b, c, &s))
            return graft_check_fail(msg, len, "case %d: setup failed", ci);
        int C_out = c->d.C_out, st = GRAFT_CHECK_FAIL;
        uint64_t seed = 0xacc0ull + (uint64_t)ci;
        fill(b.x, s.nx, &seed), fill(b.w, s.nw, &seed), fill(b.dy, s.ny, &seed);
        grad_reference(c, &s, b.x, b.w, b.dy, b.mx, b.mw, b.mb, 1);
        for (int t = 0; t < 2; t++) {
            memset(b.gx[t], 0, sizeof(float) * s.nx);
            memset(b.gw[t], 0, sizeof(float) * s.nw);
            memset(b.gb[t], 0, sizeof(float) * C_out);
            for (int r = 0; r <= t; r++)
                if (run_backward(c, &s, b.x, b.w, b.dy, b.gx[t], b.gw[t], b.gb[t], b.ws)) {
                    snprintf(msg, len, "case %d: %s", ci, graft_last_error());
                    bufs_free(&b);
                    return GRAFT_CHECK_FAIL;
                }
        }
        for (size_t i = 0; i < s.nx; i++) b.rx[i] = 2.0 * b.gx[0][i], b.mx[i] *= 2;
        for (size_t i = 0; i < s.nw; i++) b.rw[i] = 2.0 * b.gw[0][i], b.mw[i] *= 2;
        for (int i = 0; i < C_out; i++) b.rb[i] = 2.0 * b.gb[0][i], b.mb[i] *= 2;
        const graft_conv2d *d = &c->d;
        double dt = (double)(d->C_out / d->groups) * d->kernel_h * d->kernel_w;
        double wt = (double)c->N * s.OH * s.OW;
        if (!(st = close_all("dx", ci, b.gx[1], b.rx, b.mx, s.nx, dt, 1, msg, len)) &&
            !(st = close_all("dweight", ci, b.gw[1], b.rw, b.mw, s.nw, wt, 1, msg, len)))
            st = close_all("dbias", ci, b.gb[1], b.rb, b.mb, (size_t)C_out, wt, 1, msg, len);
        bufs_free(&b);
        if (st != GRAFT_CHECK_PASS) return st;
    }
    return GRAFT_CHECK_PASS;
}

const graft_check graft_checks_conv_grad[] = {
    {"conv_grad", "scalar_matches_finite_differences", scalar_matches_finite_differences},
    {"conv_grad", "scalar_matches_definition", scalar_matches_definition},
    {"conv_grad", "avx2_matches_definition", avx2_matches_definition},
    {"conv_grad", "avx512_matches_definition", avx512_matches_definition},
    {"conv_grad", "neon_matches_definition", neon_matches_definition},
    {"conv_grad", "simd_matches_scalar", simd_matches_scalar},
    {"conv_grad", "rejects_bad_calls", rejects_bad_calls},
    {"conv_grad", "accumulates", accumulates},
    {NULL, NULL, NULL},
};
