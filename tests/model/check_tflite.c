/*
 * tests/model/check_tflite.c: the TFLite importer (pipeline/model/tflite_import.c) and the
 * flatbuffer reader under it (tflite_fb.c).
 *
 *   - Small TFLite files written here by a tiny back-to-front flatbuffer builder (below), one
 *     per operator option: padding SAME/VALID on odd and even sizes, strides, dilations, every
 *     fused activation, groups, depth multipliers, uint8 per-tensor and int8 per-channel
 *     weights, int32 biases with and without their own scale, float16 weights behind
 *     DEQUANTIZE, broadcasting, axis remapping, reshapes that need NHWC order. Each is checked
 *     twice: the IR the importer builds (op, attributes, OIHW weights) and, through the public
 *     runtime (graft_model_load / graft_net_create / graft_net_run), the numbers, against a
 *     scalar NHWC implementation of TFLite's semantics written here (independent of the IR).
 *   - Preprocessing and labels: uint8 / int8 input quantization, the metadata's
 *     NormalizationOptions and the label file in the appended zip.
 *   - Bad input: unknown and custom operators, unsupported tensor types, bad indices, every
 *     truncation and every single-byte corruption of a valid file (run under ASan by
 *     `make check-san`), and the reader's own checks on hand-made buffers.
 *   - The real models in $GRAFT_SHARED/models (default ../shared): every .tflite reproduces
 *     the float reference vectors of its README (logits, features, probabilities, embedding)
 *     within 1e-3 of the largest reference value, and their top-1 classes, on the stored
 *     resized inputs; the embedding extractor agrees with the float ONNX conversion beside it
 *     run through graft's ONNX importer; a batch of 4 equals the 4 single runs. Skipped with
 *     a message when the directory is absent.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../pipeline/model/graph.h"
#include "../../pipeline/model/tflite_fb.h"
#include "../check.h"
#include "tflite_build.h"
#include "graft/graft.h"
#include "graft/model.h"
#include "graft/npy.h"


/* ---- helpers: random data, files, running ------------------------------------------------ */

static uint32_t rng_state;
static float frand(float lo, float hi) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(rng_state >> 8) / (float)(1u << 24);
}
static void fill(float *p, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) p[i] = frand(lo, hi);
}

/* Imports buf into the IR (graft__tflite_import directly), failing the check on error. */
static int import_ir(const uint8_t *buf, size_t len, graft__graph **g, char *msg, size_t msglen) {
    int err = graft__tflite_import(buf, len, NULL, g);
    if (err)
        return graft_check_fail(msg, msglen, "import: %s: %s", graft_err_name(err), graft_last_error());
    return GRAFT_CHECK_PASS;
}

/* The node writing the value named `name`, or NULL. */
static const graft__node *producer_of(const graft__graph *g, const char *name) {
    int v = graft__graph_find(g, name);
    if (v < 0 || g->values[v].producer < 0) return NULL;
    return &g->nodes[g->values[v].producer];
}

/* The first node of op type `op`, or NULL. */
static const graft__node *first_node(const graft__graph *g, int op) {
    for (int n = 0; n < g->n_nodes; n++)
        if (g->nodes[n].op == op) return &g->nodes[n];
    return NULL;
}

/*
 * Loads the model bytes through a temporary file with graft_model_load, runs it on x
 * (N, H, W, C NHWC floats) and returns tap `tap` in TFLite's order (NHWC for 4-D values) as a
 * malloc'd array of *count floats with its dims (TFLite order) in dims[0..*rank).
 */
static int run_model(const uint8_t *buf, size_t len, int N, int H, int W, const float *x,
                     const char *tap, float **y, size_t *count, int *rank, int64_t *dims,
                     char *msg, size_t msglen) {
    char path[512];
    if (graft_check_write_temp(buf, len, path, sizeof path))
        return graft_check_fail(msg, msglen, "cannot write a temporary file: %s", strerror(errno));
    graft_model *m = NULL;
    graft_net *net = NULL;
    int st = GRAFT_CHECK_PASS, err = graft_model_load(path, NULL, &m);
    unlink(path);
    if (err)
        return graft_check_fail(msg, msglen, "graft_model_load: %s: %s", graft_err_name(err),
                          graft_last_error());
    const char *taps[1] = {tap};
    err = graft_net_create(m, N, H, W, taps, 1, NULL, &net);
    if (!err) err = graft_net_run(net, x, GRAFT_LAYOUT_NHWC);
    const float *out = NULL;
    int r = 0;
    int64_t d[GRAFT_MODEL_MAX_RANK];
    if (!err) err = graft_net_tap(net, 0, &out, &r, d);
    if (err) {
        st = graft_check_fail(msg, msglen, "tap '%s': %s: %s", tap, graft_err_name(err),
                        graft_last_error());
        goto done;
    }
    size_t n = 1;
    for (int k = 0; k < r; k++) n *= (size_t)d[k];
    float *o = malloc(sizeof(float) * (n ? n : 1));
    if (!o) abort();
    if (r == 4) {
        /* NCHW -> NHWC */
        int64_t Nn = d[0], C = d[1], Hh = d[2], Ww = d[3];
        for (int64_t a = 0; a < Nn; a++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t i = 0; i < Hh; i++)
                    for (int64_t j = 0; j < Ww; j++)
                        o[((a * Hh + i) * Ww + j) * C + c] = out[((a * C + c) * Hh + i) * Ww + j];
        dims[0] = Nn, dims[1] = Hh, dims[2] = Ww, dims[3] = C;
    } else {
        memcpy(o, out, sizeof(float) * n);
        for (int k = 0; k < r; k++) dims[k] = d[k];
    }
    *y = o;
    *count = n;
    *rank = r;
done:
    graft_net_destroy(net);
    graft_model_destroy(m);
    return st;
}

/* |got - want| <= atol + rtol * |want| everywhere. */
static int compare(const char *what, const float *got, const float *want, size_t n, double atol,
                   double rtol, char *msg, size_t msglen) {
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= atol + rtol * fabs(want[i])))
            return graft_check_fail(msg, msglen, "%s: element %zu: got %.7g, want %.7g", what, i,
                              (double)got[i], (double)want[i]);
    }
    return GRAFT_CHECK_PASS;
}

/* Runs a built model whose input tensor is [N,H,W,C] on random data, taps `tap`, checks its
 * dims (TFLite order) and values against want (computed by the caller from *x_out). */
typedef void (*ref_fn)(const float *x, float *y, const void *ctx);

static int run_and_compare(const char *what, const tm_model *m, int N, int H, int W, int C,
                           const char *tap, int out_rank, const int64_t *out_dims, ref_fn ref,
                           const void *ctx, double tol, char *msg, size_t msglen) {
    size_t len, xn = (size_t)N * H * W * C, yn = 1;
    for (int k = 0; k < out_rank; k++) yn *= (size_t)out_dims[k];
    uint8_t *buf = tm_build(m, &len);
    float *x = malloc(sizeof(float) * xn), *want = malloc(sizeof(float) * (yn ? yn : 1)),
          *got = NULL;
    if (!x || !want) abort();
    fill(x, xn, -2, 2);
    ref(x, want, ctx);
    size_t count = 0;
    int rank = 0;
    int64_t dims[GRAFT_MODEL_MAX_RANK];
    int st = run_model(buf, len, N, H, W, x, tap, &got, &count, &rank, dims, msg, msglen);
    if (st == GRAFT_CHECK_PASS) {
        int same = rank == out_rank;
        for (int k = 0; same && k < rank; k++) same = dims[k] == out_dims[k];
        if (!same) {
            char a[128] = "", b[128] = "";
            for (int k = 0; k < rank; k++)
                snprintf(a + strlen(a), sizeof a - strlen(a), "%lld ", (long long)dims[k]);
            for (int k = 0; k < out_rank; k++)
                snprintf(b + strlen(b), sizeof b - strlen(b), "%lld ", (long long)out_dims[k]);
            st = graft_check_fail(msg, msglen, "%s: output dims [%s], expected [%s]", what, a, b);
        } else {
            st = compare(what, got, want, yn, tol, tol, msg, msglen);
        }
    } else {
        char prev[1024];
        snprintf(prev, sizeof prev, "%s", msg);
        snprintf(msg, msglen, "%s: %s", what, prev);
    }
    free(buf);
    free(x);
    free(want);
    free(got);
    return st;
}

/* ---- scalar references, TFLite semantics in NHWC ----------------------------------------- */

static float apply_act(float v, int act) {
    switch (act) {
    case A_RELU: return v > 0 ? v : 0;
    case A_RELU6: return v < 0 ? 0 : v > 6 ? 6 : v;
    case A_RELU_N1_TO_1: return v < -1 ? -1 : v > 1 ? 1 : v;
    case A_TANH: return tanhf(v);
    default: return v;
    }
}

/* TFLite's output size and leading padding along one axis. */
static int out_size(int in, int k, int s, int d, int same, int *pad_before) {
    int eff = (k - 1) * d + 1;
    int o = same ? (in + s - 1) / s : (in - eff) / s + 1;
    int total = (o - 1) * s + eff - in;
    *pad_before = same && total > 0 ? total / 2 : 0;
    return o;
}

typedef struct conv_case {
    const char *label;
    int depthwise, N, H, W, C, O, KH, KW, I; /* I: filter input channels (C / groups) */
    int sh, sw, dh, dw, same, act;
    int quant; /* 0 float, 1 uint8 per tensor, 2 int8 per channel, 3 uint8 with derived bias */
    int bias;
    int f16;   /* float16 filter behind DEQUANTIZE */
} conv_case;

typedef struct conv_ctx {
    const conv_case *c;
    const float *w, *b; /* dequantized, TFLite layout */
} conv_ctx;

static void ref_conv(const float *x, float *y, const void *vctx) {
    const conv_ctx *ctx = vctx;
    const conv_case *c = ctx->c;
    int pt, pl;
    int OH = out_size(c->H, c->KH, c->sh, c->dh, c->same, &pt);
    int OW = out_size(c->W, c->KW, c->sw, c->dw, c->same, &pl);
    int M = c->depthwise ? c->O / c->C : 0, groups = c->depthwise ? c->C : c->C / c->I;
    for (int n = 0; n < c->N; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int o = 0; o < c->O; o++) {
                    double acc = c->bias ? ctx->b[o] : 0;
                    for (int ky = 0; ky < c->KH; ky++)
                        for (int kx = 0; kx < c->KW; kx++) {
                            int iy = oy * c->sh + ky * c->dh - pt,
                                ix = ox * c->sw + kx * c->dw - pl;
                            if (iy < 0 || iy >= c->H || ix < 0 || ix >= c->W) continue;
                            const float *px = x + (((size_t)n * c->H + iy) * c->W + ix) * c->C;
                            if (c->depthwise) {
                                acc += (double)px[o / M] *
                                       ctx->w[((size_t)ky * c->KW + kx) * c->O + o];
                            } else {
                                int g = o / (c->O / groups);
                                for (int i = 0; i < c->I; i++)
                                    acc +=
                                        (double)px[g * c->I + i] *
                                        ctx->w[(((size_t)o * c->KH + ky) * c->KW + kx) * c->I + i];
                            }
                        }
                    y[(((size_t)n * OH + oy) * OW + ox) * c->O + o] = apply_act((float)acc, c->act);
                }
}

/* ---- conv and depthwise conv ---------------------------------------------------------------- */

static int run_conv_case(const conv_case *c, char *msg, size_t msglen) {
    tm_model m = {0};
    int wn = c->depthwise ? c->KH * c->KW * c->O : c->O * c->KH * c->KW * c->I;
    float *w = malloc(sizeof(float) * (size_t)wn), *b = malloc(sizeof(float) * (size_t)c->O);
    uint8_t *wq = malloc((size_t)wn * 2 + 4);
    int32_t *bq = malloc(sizeof(int32_t) * (size_t)c->O);
    if (!w || !b || !wq || !bq) abort();
    fill(w, (size_t)wn, -1, 1);
    fill(b, (size_t)c->O, -1, 1);
    int xs[4] = {c->N, c->H, c->W, c->C};
    int x = tm_tensor_add(&m, "x", c->quant == 3 ? T_U8 : T_F32, 4, xs);
    if (c->quant == 3) tm_quant(&m, x, 1, (float[]){0.5f}, (int64_t[]){10}, 0);
    int ws[4] = {c->depthwise ? 1 : c->O, c->KH, c->KW, c->depthwise ? c->O : c->I};
    int wt, bt = -1, ch_axis = c->depthwise ? 3 : 0;
    float scales[64];
    int64_t zps[64];
    if (c->quant == 1 || c->quant == 3) {
        /* uint8, one scale, zero point 128: the dequantized values are the reference's. */
        float s = 1.0f / 127;
        for (int i = 0; i < wn; i++) {
            int q = (int)lrintf(w[i] / s) + 128;
            wq[i] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
            w[i] = ((int)wq[i] - 128) * s;
        }
        wt = tm_const(&m, "w", T_U8, 4, ws, wq, (size_t)wn);
        tm_quant(&m, wt, 1, &s, (int64_t[]){128}, 0);
        scales[0] = s;
    } else if (c->quant == 2) {
        /* int8, one scale per output channel along quantized_dimension. */
        for (int o = 0; o < c->O; o++) scales[o] = 0.004f * (float)(o + 1), zps[o] = 0;
        for (int i = 0; i < wn; i++) {
            int o = c->depthwise ? i % c->O : i / (c->KH * c->KW * c->I);
            int q = (int)lrintf(w[i] / scales[o]);
            q = q < -127 ? -127 : q > 127 ? 127 : q;
            wq[i] = (uint8_t)(int8_t)q;
            w[i] = (float)q * scales[o];
        }
        wt = tm_const(&m, "w", T_I8, 4, ws, wq, (size_t)wn);
        tm_quant(&m, wt, c->O, scales, zps, ch_axis);
    } else if (c->f16) {
        /* float16 bits, behind DEQUANTIZE: values exactly representable as halves. */
        uint16_t *h = (uint16_t *)wq;
        for (int i = 0; i < wn; i++) {
            int q = (int)lrintf(w[i] * 64); /* k / 64, |k| <= 64 */
            w[i] = (float)q / 64;
            float a = fabsf(w[i]);
            uint16_t bits = 0;
            if (a > 0) {
                int e;
                float fr = frexpf(a, &e); /* a = fr * 2^e, fr in [0.5, 1) */
                bits = (uint16_t)(((e - 1 + 15) << 10) | ((int)lrintf((fr * 2 - 1) * 1024) & 1023));
            }
            h[i] = (uint16_t)(bits | (w[i] < 0 ? 0x8000 : 0));
        }
        int w16 = tm_const(&m, "w16", T_F16, 4, ws, h, (size_t)wn * 2);
        wt = tm_tensor_add(&m, "w", T_F32, 4, ws);
        tm_op_add(&m, OP_DEQUANTIZE, 0, 1, (int[]){w16}, 1, (int[]){wt});
    } else {
        wt = tm_const(&m, "w", T_F32, 4, ws, w, sizeof(float) * (size_t)wn);
    }
    if (c->bias) {
        int bs[1] = {c->O};
        if (c->quant == 1 || c->quant == 2 || c->quant == 3) {
            /* int32: its own scale per channel, or (quant 3) none: input x weight scale. */
            float bscale[64];
            for (int o = 0; o < c->O; o++) {
                bscale[o] = c->quant == 3 ? 0.5f * scales[0] : 0.001f * (float)(o + 1);
                bq[o] = (int32_t)lrintf(b[o] / bscale[o]);
                b[o] = (float)bq[o] * bscale[o];
            }
            bt = tm_const(&m, "b", T_I32, 1, bs, bq, sizeof(int32_t) * (size_t)c->O);
            if (c->quant != 3) tm_quant(&m, bt, c->O, bscale, NULL, 0);
        } else {
            bt = tm_const(&m, "b", T_F32, 1, bs, b, sizeof(float) * (size_t)c->O);
        }
    }
    int pt, pl;
    int OH = out_size(c->H, c->KH, c->sh, c->dh, c->same, &pt);
    int OW = out_size(c->W, c->KW, c->sw, c->dw, c->same, &pl);
    int ys[4] = {c->N, OH, OW, c->O};
    int y = tm_tensor_add(&m, "y", T_F32, 4, ys);
    tm_op *op = tm_op_add(&m, c->depthwise ? OP_DWCONV : OP_CONV, c->depthwise ? 2 : 1, 3,
                          (int[]){x, wt, bt}, 1, (int[]){y});
    opt_b(op, 0, c->same ? 0 : 1);
    opt_i(op, 1, c->sw);
    opt_i(op, 2, c->sh);
    if (c->depthwise) opt_i(op, 3, c->O / c->C);
    opt_b(op, c->depthwise ? 4 : 3, c->act);
    if (c->dw != 1) opt_i(op, c->depthwise ? 5 : 4, c->dw);
    if (c->dh != 1) opt_i(op, c->depthwise ? 6 : 5, c->dh);
    m.inputs[m.n_inputs++] = x;
    m.outputs[m.n_outputs++] = y;

    /* The IR: one Conv with the options, OIHW weights equal to the dequantized filter. */
    size_t len;
    uint8_t *buf = tm_build(&m, &len);
    graft__graph *g = NULL;
    int st = import_ir(buf, len, &g, msg, msglen);
    free(buf);
    if (st == GRAFT_CHECK_PASS) {
        const graft__node *n = first_node(g, GRAFT__OP_CONV);
        if (!n) {
            st = graft_check_fail(msg, msglen, "%s: no Conv node", c->label);
        } else {
            const graft_conv2d *d = &n->a.conv.d;
            int want_act = c->act == A_RELU ? GRAFT_ACT_RELU : c->act == A_RELU6 ? GRAFT_ACT_RELU6
                                                                                : GRAFT_ACT_NONE;
            int want_pad = c->same ? GRAFT__PAD_SAME_UPPER : GRAFT__PAD_VALID;
            int groups = c->depthwise ? c->C : c->C / c->I;
            const graft__value *wv = &g->values[n->in[1]];
            int I = c->depthwise ? 1 : c->I;
            if (d->stride_h != c->sh || d->stride_w != c->sw || d->dilation_h != c->dh ||
                d->dilation_w != c->dw || d->kernel_h != c->KH || d->kernel_w != c->KW ||
                d->groups != groups || d->C_in != c->C || d->C_out != c->O ||
                (int)d->act != want_act || n->a.conv.auto_pad != want_pad)
                st = graft_check_fail(msg, msglen, "%s: Conv attributes: stride %dx%d dil %dx%d "
                                "kernel %dx%d groups %d C %d->%d act %d auto_pad %d", c->label,
                                d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                                d->kernel_h, d->kernel_w, d->groups, d->C_in, d->C_out, d->act,
                                n->a.conv.auto_pad);
            else if (wv->rank != 4 || wv->dims[0] != c->O || wv->dims[1] != I ||
                     wv->dims[2] != c->KH || wv->dims[3] != c->KW || !wv->data)
                st = graft_check_fail(msg, msglen, "%s: weights are not a constant [%d,%d,%d,%d]",
                                c->label, c->O, I, c->KH, c->KW);
            for (int o = 0; st == GRAFT_CHECK_PASS && o < c->O; o++)
                for (int i = 0; i < I; i++)
                    for (int ky = 0; ky < c->KH; ky++)
                        for (int kx = 0; kx < c->KW; kx++) {
                            float got =
                                ((const float *)wv->data)[((o * I + i) * c->KH + ky) * c->KW + kx];
                            float want = c->depthwise
                                             ? w[(ky * c->KW + kx) * c->O + o]
                                             : w[((o * c->KH + ky) * c->KW + kx) * c->I + i];
                            if (fabsf(got - want) > 1e-6f * (1 + fabsf(want)) &&
                                st == GRAFT_CHECK_PASS)
                                st = graft_check_fail(msg, msglen, "%s: W[%d][%d][%d][%d] = %g, want %g",
                                                c->label, o, i, ky, kx, got, want);
                        }
            if (st == GRAFT_CHECK_PASS && c->bias) {
                const graft__value *bv = &g->values[n->in[2]];
                for (int o = 0; o < c->O && st == GRAFT_CHECK_PASS; o++)
                    if (fabsf(((const float *)bv->data)[o] - b[o]) > 1e-6f * (1 + fabsf(b[o])))
                        st = graft_check_fail(msg, msglen, "%s: bias[%d] = %g, want %g", c->label, o,
                                        ((const float *)bv->data)[o], b[o]);
            }
            if (st == GRAFT_CHECK_PASS && !c->bias && n->n_in > 2 && n->in[2] >= 0)
                st = graft_check_fail(msg, msglen, "%s: a bias appeared", c->label);
        }
    }
    graft__graph_destroy(g);
    if (st == GRAFT_CHECK_PASS) {
        conv_ctx ctx = {c, w, b};
        int64_t od[4] = {c->N, OH, OW, c->O};
        st = run_and_compare(c->label, &m, c->N, c->H, c->W, c->C, "y", 4, od, ref_conv, &ctx,
                             2e-5, msg, msglen);
    }
    free(w);
    free(b);
    free(wq);
    free(bq);
    return st;
}

static int check_conv_options(char *msg, size_t msglen) {
    enum { N1TO1 = A_RELU_N1_TO_1 };
    static const conv_case cases[] = {
        /* label                        dw N H  W  C  O  KH KW I  sh sw dh dw same act q bias f16 */
        {"conv 3x3 SAME s1",            0, 1, 5, 5, 3, 4, 3, 3, 3, 1, 1, 1, 1, 1, A_NONE, 0, 1, 0},
        {"conv 3x3 SAME s2 7x6 relu6",  0, 2, 7, 6, 3, 5, 3, 3, 3, 2, 2, 1, 1, 1, A_RELU6, 0, 1, 0},
        {"conv 3x3 VALID s2 dil2 relu", 0, 1, 9, 9, 2, 3, 3, 3, 2, 2, 2, 2, 2, 0, A_RELU, 0, 1, 0},
        {"conv 2x2 SAME s2 5x5 n1to1",  0, 1, 5, 5, 2, 3, 2, 2, 2, 2, 2, 1, 1, 1, N1TO1, 0, 1, 0},
        {"conv 1x1 VALID tanh",         0, 1, 4, 3, 5, 6, 1, 1, 5, 1, 1, 1, 1, 0, A_TANH, 0, 0, 0},
        {"conv 4x3 SAME even kernel",   0, 1, 6, 5, 2, 2, 4, 3, 2, 1, 1, 1, 1, 1, A_NONE, 0, 1, 0},
        {"conv SAME s3 dil 1x2",        0, 1, 8, 7, 2, 3, 3, 3, 2, 3, 2, 1, 2, 1, A_NONE, 0, 1, 0},
        {"conv grouped 2",              0, 1, 5, 5, 4, 6, 3, 3, 2, 1, 1, 1, 1, 1, A_RELU, 0, 1, 0},
        {"conv uint8 per-tensor",       0, 1, 6, 6, 3, 4, 3, 3, 3, 2, 2, 1, 1, 1, A_RELU6, 1, 1, 0},
        {"conv int8 per-channel",       0, 1, 6, 5, 3, 4, 3, 3, 3, 1, 1, 1, 1, 1, A_NONE, 2, 1, 0},
        {"conv uint8 derived bias",     0, 1, 5, 5, 3, 4, 3, 3, 3, 1, 1, 1, 1, 1, A_NONE, 3, 1, 0},
        {"conv float16 DEQUANTIZE",     0, 1, 5, 4, 3, 4, 3, 3, 3, 1, 1, 1, 1, 1, A_NONE, 0, 1, 1},
        {"dw 3x3 SAME s1 M2 relu6",     1, 1, 5, 5, 3, 6, 3, 3, 1, 1, 1, 1, 1, 1, A_RELU6, 0, 1, 0},
        {"dw 3x3 VALID s2 dil2",        1, 2, 9, 8, 4, 4, 3, 3, 1, 2, 2, 2, 2, 0, A_NONE, 0, 1, 0},
        {"dw 5x5 SAME s2 7x7",          1, 1, 7, 7, 3, 3, 5, 5, 1, 2, 2, 1, 1, 1, A_RELU, 0, 0, 0},
        {"dw int8 per-channel M3",      1, 1, 6, 6, 2, 6, 3, 3, 1, 1, 1, 1, 1, 1, A_RELU6, 2, 1, 0},
        {"dw uint8 s2 SAME tanh",       1, 1, 6, 6, 4, 4, 3, 3, 1, 2, 2, 1, 1, 1, A_TANH, 1, 1, 0},
    };
    rng_state = 1;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int st = run_conv_case(&cases[k], msg, msglen);
        if (st != GRAFT_CHECK_PASS) return st;
    }
    snprintf(msg, msglen, "%zu conv / depthwise cases", sizeof cases / sizeof cases[0]);
    return GRAFT_CHECK_PASS;
}

/* ---- pooling ---------------------------------------------------------------------------- */

typedef struct pool_case {
    const char *label;
    int max, N, H, W, C, KH, KW, sh, sw, same, act;
} pool_case;

static void ref_pool(const float *x, float *y, const void *vctx) {
    const pool_case *c = vctx;
    int pt, pl;
    int OH = out_size(c->H, c->KH, c->sh, 1, c->same, &pt);
    int OW = out_size(c->W, c->KW, c->sw, 1, c->same, &pl);
    for (int n = 0; n < c->N; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int ch = 0; ch < c->C; ch++) {
                    double acc = c->max ? -INFINITY : 0;
                    int count = 0;
                    for (int ky = 0; ky < c->KH; ky++)
                        for (int kx = 0; kx < c->KW; kx++) {
                            int iy = oy * c->sh + ky - pt, ix = ox * c->sw + kx - pl;
                            if (iy < 0 || iy >= c->H || ix < 0 || ix >= c->W) continue;
                            float v = x[(((size_t)n * c->H + iy) * c->W + ix) * c->C + ch];
                            acc = c->max ? fmax(acc, v) : acc + v;
                            count++;
                        }
                    if (!c->max) acc /= count; /* TFLite: only the pixels inside the image */
                    y[(((size_t)n * OH + oy) * OW + ox) * c->C + ch] =
                        apply_act((float)acc, c->act);
                }
}

static int check_pool_options(char *msg, size_t msglen) {
    static const pool_case cases[] = {
        {"avg 3x3 SAME s2 5x5", 0, 1, 5, 5, 3, 3, 3, 2, 2, 1, A_NONE},
        {"avg 2x2 VALID s2 7x6", 0, 2, 7, 6, 2, 2, 2, 2, 2, 0, A_NONE},
        {"avg 3x2 SAME s1 relu6", 0, 1, 4, 5, 2, 3, 2, 1, 1, 1, A_RELU6},
        {"avg global 7x7 VALID", 0, 1, 7, 7, 4, 7, 7, 2, 2, 0, A_NONE},
        {"max 3x3 SAME s2 6x6", 1, 1, 6, 6, 3, 3, 3, 2, 2, 1, A_NONE},
        {"max 2x2 VALID s2 relu", 1, 1, 5, 5, 2, 2, 2, 2, 2, 0, A_RELU},
        {"max 3x3 SAME s1 n1to1", 1, 1, 4, 4, 2, 3, 3, 1, 1, 1, A_RELU_N1_TO_1},
    };
    rng_state = 2;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const pool_case *c = &cases[k];
        tm_model m = {0};
        int pt, pl;
        int OH = out_size(c->H, c->KH, c->sh, 1, c->same, &pt);
        int OW = out_size(c->W, c->KW, c->sw, 1, c->same, &pl);
        int x = tm_tensor_add(&m, "x", T_F32, 4, (int[]){c->N, c->H, c->W, c->C});
        int y = tm_tensor_add(&m, "y", T_F32, 4, (int[]){c->N, OH, OW, c->C});
        tm_op *op = tm_op_add(&m, c->max ? OP_MAX_POOL : OP_AVG_POOL, 5, 1, &x, 1, &y);
        opt_b(op, 0, c->same ? 0 : 1);
        opt_i(op, 1, c->sw);
        opt_i(op, 2, c->sh);
        opt_i(op, 3, c->KW);
        opt_i(op, 4, c->KH);
        opt_b(op, 5, c->act);
        m.inputs[m.n_inputs++] = x;
        m.outputs[m.n_outputs++] = y;
        size_t len;
        uint8_t *buf = tm_build(&m, &len);
        graft__graph *g = NULL;
        int st = import_ir(buf, len, &g, msg, msglen);
        free(buf);
        if (st != GRAFT_CHECK_PASS) return st;
        const graft__node *n = first_node(g, GRAFT__OP_POOL);
        int ok = n && n->a.pool.p.kind == (c->max ? GRAFT_POOL_MAX : GRAFT_POOL_AVG) &&
                 n->a.pool.p.kernel_h == c->KH && n->a.pool.p.kernel_w == c->KW &&
                 n->a.pool.p.stride_h == c->sh && n->a.pool.p.stride_w == c->sw &&
                 n->a.pool.p.count_include_pad == 0 &&
                 n->a.pool.auto_pad == (c->same ? GRAFT__PAD_SAME_UPPER : GRAFT__PAD_VALID);
        /* A fused activation other than none follows as a Unary node. */
        const graft__node *after = producer_of(g, "y");
        if (ok && c->act != A_NONE) ok = after && after->op == GRAFT__OP_UNARY;
        graft__graph_destroy(g);
        if (!ok) return graft_check_fail(msg, msglen, "%s: Pool node attributes", c->label);
        int64_t od[4] = {c->N, OH, OW, c->C};
        st = run_and_compare(c->label, &m, c->N, c->H, c->W, c->C, "y", 4, od, ref_pool, c, 1e-5,
                             msg, msglen);
        if (st != GRAFT_CHECK_PASS) return st;
    }
    snprintf(msg, msglen, "%zu pooling cases", sizeof cases / sizeof cases[0]);
    return GRAFT_CHECK_PASS;
}

/* ---- fully connected ---------------------------------------------------------------------- */

typedef struct fc_ctx {
    int rows, in, out, act;
    const float *w, *b;
} fc_ctx;

static void ref_fc(const float *x, float *y, const void *vctx) {
    const fc_ctx *c = vctx;
    for (int r = 0; r < c->rows; r++)
        for (int o = 0; o < c->out; o++) {
            double acc = c->b ? c->b[o] : 0;
            for (int i = 0; i < c->in; i++)
                acc += (double)x[(size_t)r * c->in + i] * c->w[(size_t)o * c->in + i];
            y[(size_t)r * c->out + o] = apply_act((float)acc, c->act);
        }
}

static int check_fully_connected(char *msg, size_t msglen) {
    rng_state = 3;
    /* in: x dims (NHWC), keep_num_dims, quantized weights, bias, act */
    static const struct {
        const char *label;
        int x[4], keep, quant, bias, act;
    } cases[] = {
        {"fc 4-D input, NHWC flatten", {2, 2, 3, 4}, 0, 0, 1, A_NONE},
        {"fc [N,1,1,C] input relu", {3, 1, 1, 6}, 0, 0, 1, A_RELU},
        {"fc uint8 weights relu6", {1, 3, 2, 2}, 0, 1, 1, A_RELU6},
        {"fc no bias tanh", {2, 1, 2, 3}, 0, 0, 0, A_TANH},
        {"fc keep_num_dims", {2, 3, 2, 4}, 1, 0, 1, A_RELU},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int N = cases[k].x[0], H = cases[k].x[1], W = cases[k].x[2], C = cases[k].x[3];
        int keep = cases[k].keep, in = keep ? C : H * W * C, out = 5;
        int rows = keep ? N * H * W : N;
        float w[5 * 48], b[5];
        uint8_t wq[5 * 48];
        fill(w, (size_t)(out * in), -1, 1);
        fill(b, 5, -1, 1);
        tm_model m = {0};
        int x = tm_tensor_add(&m, "x", T_F32, 4, cases[k].x);
        int wt;
        if (cases[k].quant) {
            float s = 0.01f;
            for (int i = 0; i < out * in; i++) {
                int q = (int)lrintf(w[i] / s) + 120;
                wq[i] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
                w[i] = ((int)wq[i] - 120) * s;
            }
            wt = tm_const(&m, "w", T_U8, 2, (int[]){out, in}, wq, (size_t)(out * in));
            tm_quant(&m, wt, 1, &s, (int64_t[]){120}, 0);
        } else {
            wt = tm_const(&m, "w", T_F32, 2, (int[]){out, in}, w,
                          sizeof(float) * (size_t)(out * in));
        }
        int bt = cases[k].bias ? tm_const(&m, "b", T_F32, 1, (int[]){out}, b, sizeof b) : -1;
        int y = keep ? tm_tensor_add(&m, "y", T_F32, 4, (int[]){N, H, W, out})
                     : tm_tensor_add(&m, "y", T_F32, 2, (int[]){N, out});
        tm_op *op = tm_op_add(&m, OP_FC, 8, 3, (int[]){x, wt, bt}, 1, &y);
        opt_b(op, 0, cases[k].act);
        if (keep) opt_b(op, 2, 1);
        m.inputs[m.n_inputs++] = x;
        m.outputs[m.n_outputs++] = y;
        size_t len;
        uint8_t *buf = tm_build(&m, &len);
        graft__graph *g = NULL;
        int st = import_ir(buf, len, &g, msg, msglen);
        free(buf);
        if (st != GRAFT_CHECK_PASS) return st;
        const graft__node *gemm = first_node(g, GRAFT__OP_GEMM);
        int has_transpose = first_node(g, GRAFT__OP_TRANSPOSE) != NULL;
        int ok = gemm && gemm->a.gemm.trans_b == 1 && gemm->a.gemm.trans_a == 0 &&
                 gemm->a.gemm.alpha == 1;
        /* Flattening in NHWC order needs a Transpose exactly when H*W > 1 and C > 1. */
        int want_transpose = (H * W > 1 && C > 1) || (keep && H * W > 1);
        graft__graph_destroy(g);
        if (!ok) return graft_check_fail(msg, msglen, "%s: Gemm node attributes", cases[k].label);
        if (has_transpose != want_transpose)
            return graft_check_fail(msg, msglen, "%s: %s Transpose", cases[k].label,
                              has_transpose ? "an unneeded" : "no");
        fc_ctx ctx = {rows, in, out, cases[k].act, w, cases[k].bias ? b : NULL};
        int64_t od4[4] = {N, H, W, out}, od2[2] = {N, out};
        st = run_and_compare(cases[k].label, &m, N, H, W, C, "y", keep ? 4 : 2, keep ? od4 : od2,
                             ref_fc, &ctx, 2e-5, msg, msglen);
        if (st != GRAFT_CHECK_PASS) return st;
    }
    snprintf(msg, msglen, "%zu fully-connected cases", sizeof cases / sizeof cases[0]);
    return GRAFT_CHECK_PASS;
}

/* ---- elementwise, reductions, shapes -------------------------------------------------------
 * One generic reference: a tiny NHWC interpreter of the single operator under test. */

typedef struct op_ctx {
    int code, N, H, W, C;       /* input x [N,H,W,C] */
    int act;
    const float *k;              /* the constant operand, TFLite layout */
    int k_rank, k_dims[4];
    int axes[4], n_axes, keep;   /* MEAN, SQUEEZE, CONCATENATION (axes[0]) */
    int pads[8];                 /* PAD */
    float value, beta, alpha;
    int out_dims[4], out_rank;   /* RESHAPE target */
} op_ctx;

/* Index of element (n,h,w,c) broadcasting a tensor of k_dims (right-aligned) against NHWC. */
static size_t bcast_index(const op_ctx *c, int n, int h, int w, int ch) {
    int idx[4] = {n, h, w, ch}, full[4];
    for (int d = 0; d < 4; d++) full[d] = 1;
    for (int d = 0; d < c->k_rank; d++) full[4 - c->k_rank + d] = c->k_dims[d];
    size_t off = 0;
    for (int d = 0; d < 4; d++) off = off * (size_t)full[d] + (size_t)(full[d] == 1 ? 0 : idx[d]);
    return off;
}

static void ref_op(const float *x, float *y, const void *vctx) {
    const op_ctx *c = vctx;
    int N = c->N, H = c->H, W = c->W, C = c->C;
    size_t total = (size_t)N * H * W * C;
    switch (c->code) {
    case OP_ADD: case OP_MUL: case OP_SUB: case OP_DIV:
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    for (int ch = 0; ch < C; ch++) {
                        size_t i = (((size_t)n * H + h) * W + w) * C + ch;
                        float a = x[i], b = c->k ? c->k[bcast_index(c, n, h, w, ch)] : x[i];
                        float v = c->code == OP_ADD ? a + b : c->code == OP_MUL ? a * b
                                  : c->code == OP_SUB ? a - b : a / b;
                        y[i] = apply_act(v, c->act);
                    }
        break;
    case OP_LOGISTIC: for (size_t i = 0; i < total; i++) y[i] = 1 / (1 + expf(-x[i])); break;
    case OP_TANH: for (size_t i = 0; i < total; i++) y[i] = tanhf(x[i]); break;
    case OP_RELU: for (size_t i = 0; i < total; i++) y[i] = apply_act(x[i], A_RELU); break;
    case OP_RELU6: for (size_t i = 0; i < total; i++) y[i] = apply_act(x[i], A_RELU6); break;
    case OP_RELU_N1_TO_1:
        for (size_t i = 0; i < total; i++) y[i] = apply_act(x[i], A_RELU_N1_TO_1);
        break;
    case OP_LEAKY_RELU:
        for (size_t i = 0; i < total; i++) y[i] = x[i] < 0 ? c->alpha * x[i] : x[i];
        break;
    case OP_HARD_SWISH:
        for (size_t i = 0; i < total; i++) {
            float r = x[i] + 3;
            r = r < 0 ? 0 : r > 6 ? 6 : r;
            y[i] = x[i] * r / 6;
        }
        break;
    case OP_QUANTIZE: memcpy(y, x, sizeof(float) * total); break;
    case OP_SOFTMAX: /* over the last axis C */
        for (size_t r = 0; r < total / (size_t)C; r++) {
            double mx = -INFINITY, s = 0;
            for (int ch = 0; ch < C; ch++) mx = fmax(mx, c->beta * x[r * C + ch]);
            for (int ch = 0; ch < C; ch++) s += exp(c->beta * x[r * C + ch] - mx);
            for (int ch = 0; ch < C; ch++)
                y[r * C + ch] = (float)(exp(c->beta * x[r * C + ch] - mx) / s);
        }
        break;
    case OP_MEAN: {
        /* y has the kept axes in NHWC order (size 1 where reduced when keep). */
        int red[4] = {0};
        for (int k = 0; k < c->n_axes; k++) red[c->axes[k] < 0 ? c->axes[k] + 4 : c->axes[k]] = 1;
        int dims[4] = {N, H, W, C}, od[4];
        for (int d = 0; d < 4; d++) od[d] = red[d] ? 1 : dims[d];
        size_t on = (size_t)od[0] * od[1] * od[2] * od[3];
        double *acc = calloc(on, sizeof *acc);
        if (!acc) abort();
        int cnt = 1;
        for (int d = 0; d < 4; d++) cnt *= red[d] ? dims[d] : 1;
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    for (int ch = 0; ch < C; ch++) {
                        int o[4] = {red[0] ? 0 : n, red[1] ? 0 : h, red[2] ? 0 : w,
                                    red[3] ? 0 : ch};
                        acc[((size_t)(o[0] * od[1] + o[1]) * od[2] + o[2]) * od[3] + o[3]] +=
                            x[(((size_t)n * H + h) * W + w) * C + ch];
                    }
        for (size_t i = 0; i < on; i++) y[i] = (float)(acc[i] / cnt);
        free(acc);
        break;
    }
    case OP_PAD: case OP_PADV2: {
        int oh = H + c->pads[2] + c->pads[3], ow = W + c->pads[4] + c->pads[5];
        int oc = C + c->pads[6] + c->pads[7], on = N + c->pads[0] + c->pads[1];
        for (int n = 0; n < on; n++)
            for (int h = 0; h < oh; h++)
                for (int w = 0; w < ow; w++)
                    for (int ch = 0; ch < oc; ch++) {
                        int a = n - c->pads[0], i = h - c->pads[2], j = w - c->pads[4],
                            k = ch - c->pads[6];
                        int in = a >= 0 && a < N && i >= 0 && i < H && j >= 0 && j < W && k >= 0 &&
                                 k < C;
                        y[(((size_t)n * oh + h) * ow + w) * oc + ch] =
                            in ? x[(((size_t)a * H + i) * W + j) * C + k] : c->value;
                    }
        break;
    }
    case OP_CONCAT: {
        /* x ++ k along axes[0]; k has the dims of x except on that axis (k_dims). */
        int ax = c->axes[0], xd[4] = {N, H, W, C}, od[4];
        for (int d = 0; d < 4; d++) od[d] = d == ax ? xd[d] + c->k_dims[d] : xd[d];
        for (int n = 0; n < od[0]; n++)
            for (int h = 0; h < od[1]; h++)
                for (int w = 0; w < od[2]; w++)
                    for (int ch = 0; ch < od[3]; ch++) {
                        int i[4] = {n, h, w, ch};
                        float v;
                        if (i[ax] < xd[ax]) {
                            v = x[(((size_t)n * H + h) * W + w) * C + ch];
                        } else {
                            i[ax] -= xd[ax];
                            const int *kd = c->k_dims;
                            v = c->k[(((size_t)i[0] * kd[1] + i[1]) * kd[2] + i[2]) * kd[3] + i[3]];
                        }
                        y[(((size_t)n * od[1] + h) * od[2] + w) * od[3] + ch] =
                            apply_act(v, c->act);
                    }
        break;
    }
    default: /* RESHAPE, SQUEEZE: the NHWC memory order does not change */
        memcpy(y, x, sizeof(float) * total);
        break;
    }
}

typedef struct op_case {
    const char *label;
    int code, opt_type, x[4];
    int out_rank, out[4];
    op_ctx ctx;
} op_case;

/* Builds x -> OP(x[, constant]) -> y for one case, checks IR sanity and runs it. */
static int run_op_case(const op_case *c, char *msg, size_t msglen) {
    tm_model m = {0};
    op_ctx ctx = c->ctx;
    ctx.code = c->code;
    ctx.N = c->x[0], ctx.H = c->x[1], ctx.W = c->x[2], ctx.C = c->x[3];
    int x = tm_tensor_add(&m, "x", T_F32, 4, c->x);
    int y = tm_tensor_add(&m, "y", T_F32, c->out_rank, c->out);
    float kbuf[256];
    int32_t ibuf[16];
    int in[3] = {x, -1, -1}, n_in = 1;
    tm_op *op;
    switch (c->code) {
    case OP_ADD: case OP_MUL: case OP_SUB: case OP_DIV:
    case OP_CONCAT: {
        int kn = 1;
        for (int d = 0; d < ctx.k_rank; d++) kn *= ctx.k_dims[d];
        if (ctx.k_rank >= 0 && kn > 0 && ctx.k_rank > 0) {
            fill(kbuf, (size_t)kn, c->code == OP_DIV ? 0.5f : -2, 2);
            ctx.k = kbuf;
            in[1] =
                tm_const(&m, "k", T_F32, ctx.k_rank, ctx.k_dims, kbuf, sizeof(float) * (size_t)kn);
        } else {
            in[1] = x; /* x op x */
        }
        n_in = 2;
        break;
    }
    case OP_MEAN:
        for (int k = 0; k < ctx.n_axes; k++) ibuf[k] = ctx.axes[k];
        in[1] = tm_const(&m, "axes", T_I32, 1, (int[]){ctx.n_axes}, ibuf,
                         sizeof(int32_t) * (size_t)ctx.n_axes);
        n_in = 2;
        break;
    case OP_PAD: case OP_PADV2:
        for (int k = 0; k < 8; k++) ibuf[k] = ctx.pads[k];
        in[1] = tm_const(&m, "paddings", T_I32, 2, (int[]){4, 2}, ibuf, sizeof(int32_t) * 8);
        n_in = 2;
        if (c->code == OP_PADV2) {
            kbuf[0] = ctx.value;
            in[2] = tm_const(&m, "value", T_F32, 0, NULL, kbuf, sizeof(float));
            n_in = 3;
        }
        break;
    case OP_RESHAPE:
        for (int k = 0; k < c->out_rank; k++) ibuf[k] = c->out[k];
        in[1] = tm_const(&m, "shape", T_I32, 1, (int[]){c->out_rank}, ibuf,
                         sizeof(int32_t) * (size_t)c->out_rank);
        n_in = 2;
        break;
    default: break;
    }
    if (c->code == OP_QUANTIZE) {
        /* QUANTIZE then DEQUANTIZE: both identities on float values. */
        int q = tm_tensor_add(&m, "q", T_U8, 4, c->x);
        tm_quant(&m, q, 1, (float[]){0.02f}, (int64_t[]){128}, 0);
        tm_op_add(&m, OP_QUANTIZE, 0, 1, &x, 1, &q);
        op = tm_op_add(&m, OP_DEQUANTIZE, 0, 1, &q, 1, &y);
    } else {
        op = tm_op_add(&m, c->code, c->opt_type, n_in, in, 1, &y);
    }
    switch (c->code) {
    case OP_ADD: case OP_MUL: case OP_SUB: case OP_DIV: opt_b(op, 0, ctx.act); break;
    case OP_CONCAT: opt_i(op, 0, ctx.axes[1]); opt_b(op, 1, ctx.act); break;
    case OP_MEAN: opt_b(op, 0, ctx.keep); break;
    case OP_SOFTMAX: opt_f(op, 0, ctx.beta); break;
    case OP_LEAKY_RELU: opt_f(op, 0, ctx.alpha); break;
    case OP_SQUEEZE: if (ctx.n_axes) opt_v(op, 0, ctx.axes, ctx.n_axes); break;
    case OP_RESHAPE: {
        int32_t ns[4];
        for (int k = 0; k < c->out_rank; k++) ns[k] = c->out[k];
        opt_v(op, 0, ns, c->out_rank);
        break;
    }
    default: break;
    }
    m.inputs[m.n_inputs++] = x;
    m.outputs[m.n_outputs++] = y;
    size_t len;
    uint8_t *buf = tm_build(&m, &len);
    graft__graph *g = NULL;
    int st = import_ir(buf, len, &g, msg, msglen);
    free(buf);
    if (st != GRAFT_CHECK_PASS) {
        char prev[1024];
        snprintf(prev, sizeof prev, "%s", msg);
        return graft_check_fail(msg, msglen, "%s: %s", c->label, prev);
    }
    /* The output value keeps the file's rank (4-D relabelled NCHW). */
    int yv = graft__graph_find(g, "y");
    int ok = yv >= 0 && g->values[yv].rank == c->out_rank && g->values[yv].producer >= 0;
    graft__graph_destroy(g);
    if (!ok)
        return graft_check_fail(msg, msglen, "%s: output value missing or of the wrong rank", c->label);
    int64_t od[4];
    for (int k = 0; k < c->out_rank; k++) od[k] = c->out[k];
    return run_and_compare(c->label, &m, ctx.N, ctx.H, ctx.W, ctx.C, "y", c->out_rank, od, ref_op,
                           &ctx, 2e-5, msg, msglen);
}

static int run_op_cases(const op_case *cases, size_t n, const char *what, char *msg,
                        size_t msglen) {
    for (size_t k = 0; k < n; k++) {
        int st = run_op_case(&cases[k], msg, msglen);
        if (st != GRAFT_CHECK_PASS) return st;
    }
    snprintf(msg, msglen, "%zu %s cases", n, what);
    return GRAFT_CHECK_PASS;
}

static int check_binary_ops(char *msg, size_t msglen) {
    static const op_case cases[] = {
        {"add x+x relu", OP_ADD, 11, {1, 3, 4, 5}, 4, {1, 3, 4, 5}, {.act = A_RELU}},
        {"add const [1,1,1,C]", OP_ADD, 11, {2, 3, 4, 5}, 4, {2, 3, 4, 5},
         {.k_rank = 4, .k_dims = {1, 1, 1, 5}}},
        {"add const [H,W,C] relu6", OP_ADD, 11, {1, 3, 4, 5}, 4, {1, 3, 4, 5},
         {.act = A_RELU6, .k_rank = 3, .k_dims = {3, 4, 5}}},
        {"add const [1,H,1,1] n1to1", OP_ADD, 11, {1, 3, 4, 2}, 4, {1, 3, 4, 2},
         {.act = A_RELU_N1_TO_1, .k_rank = 4, .k_dims = {1, 3, 1, 1}}},
        {"mul const [C]", OP_MUL, 21, {1, 3, 4, 5}, 4, {1, 3, 4, 5},
         {.k_rank = 1, .k_dims = {5}}},
        {"mul const [W,C] tanh", OP_MUL, 21, {1, 3, 4, 5}, 4, {1, 3, 4, 5},
         {.act = A_TANH, .k_rank = 2, .k_dims = {4, 5}}},
        {"sub const [1,1,W,1]", OP_SUB, 28, {1, 2, 3, 4}, 4, {1, 2, 3, 4},
         {.k_rank = 4, .k_dims = {1, 1, 3, 1}}},
        {"div const [C]", OP_DIV, 29, {1, 2, 3, 4}, 4, {1, 2, 3, 4},
         {.k_rank = 1, .k_dims = {4}}},
    };
    rng_state = 4;
    return run_op_cases(cases, sizeof cases / sizeof cases[0], "binary", msg, msglen);
}

static int check_unary_ops(char *msg, size_t msglen) {
    static const op_case cases[] = {
        {"logistic", OP_LOGISTIC, 0, {1, 2, 3, 4}, 4, {1, 2, 3, 4}, {0}},
        {"tanh", OP_TANH, 0, {1, 2, 3, 4}, 4, {1, 2, 3, 4}, {0}},
        {"hard_swish", OP_HARD_SWISH, 0, {1, 2, 3, 4}, 4, {1, 2, 3, 4}, {0}},
        {"relu", OP_RELU, 0, {1, 2, 3, 4}, 4, {1, 2, 3, 4}, {0}},
        {"relu6", OP_RELU6, 0, {1, 2, 3, 4}, 4, {1, 2, 3, 4}, {0}},
        {"relu_n1_to_1", OP_RELU_N1_TO_1, 0, {1, 2, 3, 4}, 4, {1, 2, 3, 4}, {0}},
        {"leaky_relu", OP_LEAKY_RELU, 75, {1, 2, 3, 4}, 4, {1, 2, 3, 4}, {.alpha = 0.2f}},
        {"quantize+dequantize", OP_QUANTIZE, 0, {1, 2, 3, 4}, 4, {1, 2, 3, 4}, {0}},
        {"softmax 4-D on C", OP_SOFTMAX, 9, {1, 2, 2, 5}, 4, {1, 2, 2, 5}, {.beta = 1}},
        {"softmax [N,C] beta 0.5", OP_SOFTMAX, 9, {3, 1, 1, 7}, 4, {3, 1, 1, 7}, {.beta = 0.5f}},
    };
    rng_state = 5;
    return run_op_cases(cases, sizeof cases / sizeof cases[0], "unary", msg, msglen);
}

static int check_axis_ops(char *msg, size_t msglen) {
    static const op_case cases[] = {
        {"mean H,W", OP_MEAN, 27, {2, 3, 4, 5}, 2, {2, 5}, {.axes = {1, 2}, .n_axes = 2}},
        {"mean H,W keep", OP_MEAN, 27, {1, 3, 4, 5}, 4, {1, 1, 1, 5},
         {.axes = {1, 2}, .n_axes = 2, .keep = 1}},
        {"mean C", OP_MEAN, 27, {1, 3, 4, 5}, 3, {1, 3, 4}, {.axes = {3}, .n_axes = 1}},
        {"mean H (needs reorder)", OP_MEAN, 27, {1, 3, 4, 5}, 3, {1, 4, 5},
         {.axes = {1}, .n_axes = 1}},
        {"mean -1 keep", OP_MEAN, 27, {1, 3, 4, 5}, 4, {1, 3, 4, 1},
         {.axes = {-1}, .n_axes = 1, .keep = 1}},
        {"concat C", OP_CONCAT, 10, {1, 3, 4, 2}, 4, {1, 3, 4, 5},
         {.axes = {3, 3}, .k_rank = 4, .k_dims = {1, 3, 4, 3}}},
        {"concat -1 relu", OP_CONCAT, 10, {1, 3, 4, 2}, 4, {1, 3, 4, 3},
         {.axes = {3, -1}, .act = A_RELU, .k_rank = 4, .k_dims = {1, 3, 4, 1}}},
        {"concat H", OP_CONCAT, 10, {1, 2, 4, 3}, 4, {1, 5, 4, 3},
         {.axes = {1, 1}, .k_rank = 4, .k_dims = {1, 3, 4, 3}}},
        {"pad H,W", OP_PAD, 22, {1, 3, 4, 2}, 4, {1, 6, 5, 2},
         {.pads = {0, 0, 1, 2, 0, 1, 0, 0}}},
        {"padv2 W,C value", OP_PADV2, 0, {1, 3, 4, 2}, 4, {1, 3, 5, 4},
         {.pads = {0, 0, 0, 0, 1, 0, 1, 1}, .value = 0.5f}},
        {"squeeze 1,2", OP_SQUEEZE, 30, {2, 1, 1, 5}, 2, {2, 5}, {.axes = {1, 2}, .n_axes = 2}},
        {"squeeze W (needs reorder)", OP_SQUEEZE, 30, {1, 3, 1, 5}, 3, {1, 3, 5},
         {.axes = {2}, .n_axes = 1}},
        {"squeeze all ones", OP_SQUEEZE, 30, {2, 1, 1, 4}, 2, {2, 4}, {0}},
        {"reshape NHWC to [N,24]", OP_RESHAPE, 17, {1, 2, 3, 4}, 2, {1, 24}, {0}},
        {"reshape [N,1,1,C] to [N,C]", OP_RESHAPE, 17, {3, 1, 1, 6}, 2, {3, 6}, {0}},
        {"reshape to rank 3", OP_RESHAPE, 17, {1, 2, 3, 4}, 3, {1, 6, 4}, {0}},
        {"reshape 4-D to 4-D", OP_RESHAPE, 17, {1, 2, 3, 4}, 4, {1, 3, 4, 2}, {0}},
        {"reshape [N,1,1,C] to 4-D", OP_RESHAPE, 17, {2, 1, 1, 12}, 4, {2, 2, 2, 3}, {0}},
    };
    rng_state = 6;
    return run_op_cases(cases, sizeof cases / sizeof cases[0], "axis / shape", msg, msglen);
}

/* A two-operator chain written for batch 1 and run with N = 3: the reshape and the fully
 * connected layer must follow the batch (the importer makes it dynamic). */
static int check_dynamic_batch(char *msg, size_t msglen) {
    rng_state = 7;
    tm_model m = {0};
    float w[4 * 24], b[4];
    fill(w, 96, -1, 1);
    fill(b, 4, -1, 1);
    int x = tm_tensor_add(&m, "x", T_F32, 4, (int[]){1, 2, 3, 4});
    int r = tm_tensor_add(&m, "flat", T_F32, 2, (int[]){1, 24});
    int s = tm_const(&m, "shape", T_I32, 1, (int[]){2}, (int32_t[]){1, 24}, 8);
    int wt = tm_const(&m, "w", T_F32, 2, (int[]){4, 24}, w, sizeof w);
    int bt = tm_const(&m, "b", T_F32, 1, (int[]){4}, b, sizeof b);
    int y = tm_tensor_add(&m, "y", T_F32, 2, (int[]){1, 4});
    tm_op_add(&m, OP_RESHAPE, 0, 2, (int[]){x, s}, 1, &r);
    tm_op_add(&m, OP_FC, 8, 3, (int[]){r, wt, bt}, 1, &y);
    m.inputs[m.n_inputs++] = x;
    m.outputs[m.n_outputs++] = y;
    size_t len;
    uint8_t *buf = tm_build(&m, &len);
    graft__graph *g = NULL;
    int st = import_ir(buf, len, &g, msg, msglen);
    if (st == GRAFT_CHECK_PASS) {
        const graft__value *in = &g->values[g->input];
        if (in->rank != 4 || in->dims[0] != -1 || in->dims[1] != 4 || in->dims[2] != 2 ||
            in->dims[3] != 3)
            st = graft_check_fail(msg, msglen, "input dims [%lld,%lld,%lld,%lld], want [-1,4,2,3]",
                            (long long)in->dims[0], (long long)in->dims[1],
                            (long long)in->dims[2], (long long)in->dims[3]);
    }
    graft__graph_destroy(g);
    free(buf);
    if (st != GRAFT_CHECK_PASS) return st;
    fc_ctx ctx = {3, 24, 4, A_NONE, w, b};
    int64_t od[2] = {3, 4};
    return run_and_compare("batch 3 through a batch-1 file", &m, 3, 2, 3, 4, "y", 2, od, ref_fc,
                           &ctx, 2e-5, msg, msglen);
}

/* ---- preprocessing, metadata, labels ------------------------------------------------------ */

/* x -> RELU -> y with the input of `type` (quantized with scale/zp when not float). */
static void tiny_model(tm_model *m, int type, float scale, int64_t zp) {
    memset(m, 0, sizeof *m);
    int x = tm_tensor_add(m, "image", type, 4, (int[]){1, 6, 5, 3});
    if (type != T_F32) tm_quant(m, x, 1, &scale, &zp, 0);
    int y = tm_tensor_add(m, "y", T_F32, 4, (int[]){1, 6, 5, 3});
    tm_op_add(m, OP_RELU, 0, 1, &x, 1, &y);
    m->inputs[m->n_inputs++] = x;
    m->outputs[m->n_outputs++] = y;
    m->description = "TOCO Converted.";
}

static int near(float a, float b) { return fabsf(a - b) <= 1e-6f * (1 + fabsf(b)); }

static int check_preproc(char *msg, size_t msglen) {
    tm_model m;
    size_t len;
    graft__graph *g = NULL;
    int st;
    /* uint8 input, scale 1/128, zero point 128: the float net sees (pixel - 128) / 128. */
    tiny_model(&m, T_U8, 1.0f / 128, 128);
    uint8_t *buf = tm_build(&m, &len);
    st = import_ir(buf, len, &g, msg, msglen);
    free(buf);
    if (st != GRAFT_CHECK_PASS) return st;
    graft_model_preproc p = g->preproc;
    int ok = near(p.mean[0], 128.0f / 255) && near(p.std[2], 128.0f / 255) && p.resize == 0 &&
             p.from_file == 1 && p.height == 6 && p.width == 5 && p.channels == 3 &&
             !strcmp(g->format, "tflite") && !strcmp(g->producer, "TOCO Converted.") &&
             g->input >= 0 && !strcmp(g->values[g->input].name, "image") && g->n_outputs == 1 &&
             !g->labels;
    graft__graph_destroy(g);
    if (!ok)
        return graft_check_fail(msg, msglen, "uint8 input: mean %g std %g resize %d from_file %d %dx%d",
                          p.mean[0], p.std[0], p.resize, p.from_file, p.height, p.width);
    /* int8 input (pixel - 128), scale 1/255, zero point -128: x = pixel / 255. */
    tiny_model(&m, T_I8, 1.0f / 255, -128);
    buf = tm_build(&m, &len);
    st = import_ir(buf, len, &g, msg, msglen);
    free(buf);
    if (st != GRAFT_CHECK_PASS) return st;
    p = g->preproc;
    graft__graph_destroy(g);
    if (!(fabsf(p.mean[1]) < 1e-6f && near(p.std[1], 1.0f) && p.from_file == 1))
        return graft_check_fail(msg, msglen, "int8 input: mean %g std %g", p.mean[1], p.std[1]);
    /* float input with metadata: mean/std in pixels, per channel, and the labels file. */
    const float mean[3] = {127.5f, 120, 100}, stdv[3] = {127.5f, 60, 50};
    size_t mlen, zlen;
    uint8_t *md = metadata_build(mean, stdv, 3, "labels.txt", &mlen);
    uint8_t *zip = zip_stored("labels.txt", "cat\ndog\nbird\n", &zlen);
    tiny_model(&m, T_F32, 0, 0);
    m.metadata = md;
    m.metadata_len = mlen;
    m.appendix = zip;
    m.appendix_len = zlen;
    buf = tm_build(&m, &len);
    st = import_ir(buf, len, &g, msg, msglen);
    if (st == GRAFT_CHECK_PASS) {
        p = g->preproc;
        if (!(near(p.mean[0], 0.5f) && near(p.std[0], 0.5f) && near(p.mean[2], 100.0f / 255) &&
              near(p.std[1], 60.0f / 255) && p.from_file == 1 && p.resize == 0))
            st = graft_check_fail(msg, msglen, "metadata: mean %g %g %g std %g %g %g from_file %d",
                            p.mean[0], p.mean[1], p.mean[2], p.std[0], p.std[1], p.std[2],
                            p.from_file);
        else if (!g->labels || strcmp(g->labels, "cat\ndog\nbird\n"))
            st = graft_check_fail(msg, msglen, "labels: %s", g->labels ? g->labels : "(none)");
    }
    graft__graph_destroy(g);
    g = NULL;
    /* The same through the public API: the model hands out the labels. */
    if (st == GRAFT_CHECK_PASS) {
        char path[512];
        graft_model *model = NULL;
        if (graft_check_write_temp(buf, len, path, sizeof path))
            st = graft_check_fail(msg, msglen, "temporary file: %s", strerror(errno));
        int err = st == GRAFT_CHECK_PASS ? graft_model_load(path, NULL, &model) : 0;
        if (st == GRAFT_CHECK_PASS) unlink(path);
        if (err) st = graft_check_fail(msg, msglen, "load: %s", graft_last_error());
        if (model) {
            graft_model_get_preproc(model, &p);
            if (!p.labels || strcmp(p.labels, "cat\ndog\nbird\n") ||
                strcmp(graft_model_format(model), "tflite"))
                st = graft_check_fail(msg, msglen, "graft_model_get_preproc: labels %s, format %s",
                                p.labels ? p.labels : "(none)", graft_model_format(model));
            graft_model_destroy(model);
        }
    }
    free(buf);
    /* One mean for all channels; a label file the zip does not hold is left out. */
    free(md);
    md = metadata_build(mean, stdv, 1, "missing.txt", &mlen);
    tiny_model(&m, T_F32, 0, 0);
    m.metadata = md;
    m.metadata_len = mlen;
    m.appendix = zip;
    m.appendix_len = zlen;
    buf = tm_build(&m, &len);
    if (st == GRAFT_CHECK_PASS && (st = import_ir(buf, len, &g, msg, msglen)) == GRAFT_CHECK_PASS) {
        p = g->preproc;
        if (!(near(p.mean[2], 0.5f) && near(p.std[1], 0.5f)) || g->labels)
            st = graft_check_fail(msg, msglen, "one-value metadata: mean %g std %g labels %s",
                            p.mean[2], p.std[1], g->labels ? "present" : "none");
    }
    graft__graph_destroy(g);
    g = NULL;
    free(buf);
    free(md);
    free(zip);
    /* Float input without metadata: nothing from the file (the loader's defaults apply). */
    tiny_model(&m, T_F32, 0, 0);
    buf = tm_build(&m, &len);
    if (st == GRAFT_CHECK_PASS && (st = import_ir(buf, len, &g, msg, msglen)) == GRAFT_CHECK_PASS)
        if (g->preproc.from_file || g->labels)
            st = graft_check_fail(msg, msglen, "float input without metadata: from_file %d",
                            g->preproc.from_file);
    graft__graph_destroy(g);
    free(buf);
    return st;
}

/* ---- bad input ---------------------------------------------------------------------------- */

/* Imports buf (a heap copy: no path, so no page is released) and expects `want` with every
 * word of `words` in the message. */
static int expect_error(const char *what, const uint8_t *buf, size_t len, int want,
                        const char *const *words, char *msg, size_t msglen) {
    graft__graph *g = NULL;
    int err = graft__tflite_import(buf, len, NULL, &g);
    if (!err) {
        graft__graph_destroy(g);
        return graft_check_fail(msg, msglen, "%s: imported, expected %s", what, graft_err_name(want));
    }
    const char *m = graft_last_error();
    if (err != want)
        return graft_check_fail(msg, msglen, "%s: %s (%s), expected %s", what, graft_err_name(err), m,
                          graft_err_name(want));
    for (int k = 0; words && words[k]; k++)
        if (!strstr(m, words[k]))
            return graft_check_fail(msg, msglen, "%s: message \"%s\" does not name \"%s\"", what, m,
                              words[k]);
    return GRAFT_CHECK_PASS;
}

static int check_rejects_bad_models(char *msg, size_t msglen) {
    int st;
    size_t len;
    uint8_t *buf;
    tm_model m;
    /* An operator graft does not run: named with its index. */
    tiny_model(&m, T_F32, 0, 0);
    m.op[0].code = OP_TRANSPOSE_CONV;
    buf = tm_build(&m, &len);
    st = expect_error("unknown operator", buf, len, GRAFT_EUNSUPPORTED,
                      (const char *[]){"TRANSPOSE_CONV", "operator 0", NULL}, msg, msglen);
    if (!st) {
        /* Through the public API the message also names the file. */
        char path[512];
        graft_model *model = NULL;
        if (graft_check_write_temp(buf, len, path, sizeof path)) {
            st = graft_check_fail(msg, msglen, "temporary file: %s", strerror(errno));
        } else {
            int err = graft_model_load(path, NULL, &model);
            unlink(path);
            graft_model_destroy(model);
            if (err != GRAFT_EUNSUPPORTED || !strstr(graft_last_error(), path) ||
                !strstr(graft_last_error(), "TRANSPOSE_CONV"))
                st = graft_check_fail(msg, msglen, "graft_model_load: %s: %s", graft_err_name(err),
                                graft_last_error());
        }
    }
    free(buf);
    if (st) return st;
    /* An opcode past the enum graft knows (new schema field). */
    m.op[0].code = 300;
    buf = tm_build(&m, &len);
    st = expect_error("future operator", buf, len, GRAFT_EUNSUPPORTED,
                      (const char *[]){"300", NULL}, msg, msglen);
    free(buf);
    if (st) return st;
    m.op[0].code = OP_CUSTOM;
    m.op[0].custom = "TFLite_Detection_PostProcess";
    buf = tm_build(&m, &len);
    st = expect_error("custom operator", buf, len, GRAFT_EUNSUPPORTED,
                      (const char *[]){"TFLite_Detection_PostProcess", NULL}, msg, msglen);
    free(buf);
    if (st) return st;
    /* An input type graft does not feed. */
    tiny_model(&m, T_F32, 0, 0);
    m.t[0].type = T_BOOL;
    buf = tm_build(&m, &len);
    st = expect_error("bool input", buf, len, GRAFT_EUNSUPPORTED,
                      (const char *[]){"BOOL", "image", NULL}, msg, msglen);
    free(buf);
    if (st) return st;
    /* A filter of strings. */
    {
        static const char junk[2 * 3 * 3 * 2] = "abcdefghijklmnopqr";
        memset(&m, 0, sizeof m);
        int x = tm_tensor_add(&m, "x", T_F32, 4, (int[]){1, 4, 4, 2});
        int w = tm_const(&m, "strings", T_STRING, 4, (int[]){2, 3, 3, 1}, junk, sizeof junk);
        int y = tm_tensor_add(&m, "y", T_F32, 4, (int[]){1, 4, 4, 2});
        tm_op *op = tm_op_add(&m, OP_CONV, 1, 2, (int[]){x, w}, 1, &y);
        opt_i(op, 1, 1);
        opt_i(op, 2, 1);
        m.inputs[m.n_inputs++] = x;
        m.outputs[m.n_outputs++] = y;
        buf = tm_build(&m, &len);
        st = expect_error("string filter", buf, len, GRAFT_EUNSUPPORTED,
                          (const char *[]){"STRING", "strings", "CONV_2D", NULL}, msg, msglen);
        free(buf);
        if (st) return st;
        /* Filter bytes that do not match its shape. */
        m.t[w].type = T_F32;
        buf = tm_build(&m, &len);
        st = expect_error("short filter", buf, len, GRAFT_ECORRUPT,
                          (const char *[]){"strings", "bytes", NULL}, msg, msglen);
        free(buf);
        if (st) return st;
        /* A stride of 0 (the options omitted). */
        m.t[w].bytes = 2 * 3 * 3 * 1 * 4;
        m.t[w].data = calloc(1, m.t[w].bytes);
        m.op[0].n_opt = 0;
        buf = tm_build(&m, &len);
        st = expect_error("stride 0", buf, len, GRAFT_ECORRUPT,
                          (const char *[]){"stride", NULL}, msg, msglen);
        free(buf);
        free((void *)m.t[w].data);
        if (st) return st;
    }
    /* Indices out of range. */
    tiny_model(&m, T_F32, 0, 0);
    m.op[0].in[0] = 7;
    buf = tm_build(&m, &len);
    st = expect_error("tensor index", buf, len, GRAFT_ECORRUPT,
                      (const char *[]){"tensor 7", "out of range", NULL}, msg, msglen);
    free(buf);
    if (st) return st;
    tiny_model(&m, T_F32, 0, 0);
    m.outputs[0] = -3;
    buf = tm_build(&m, &len);
    st = expect_error("output index", buf, len, GRAFT_ECORRUPT, (const char *[]){"-3", NULL}, msg,
                      msglen);
    free(buf);
    if (st) return st;
    /* Schema version and identifier. */
    tiny_model(&m, T_F32, 0, 0);
    m.version = 2;
    buf = tm_build(&m, &len);
    st = expect_error("schema version", buf, len, GRAFT_EUNSUPPORTED,
                      (const char *[]){"version 2", NULL}, msg, msglen);
    if (!st) {
        m.version = 0;
        free(buf);
        buf = tm_build(&m, &len);
        buf[5] = 'X';
        st = expect_error("identifier", buf, len, GRAFT_ECORRUPT, (const char *[]){"TFL3", NULL},
                          msg, msglen);
    }
    free(buf);
    if (st) return st;
    /* A 3 GiB length is refused before anything is read. */
    uint8_t small[16] = {0};
    st = expect_error("size", small, (size_t)3 << 30, GRAFT_ERANGE, NULL, msg, msglen);
    if (st) return st;
    if (graft__tflite_sniff(small, sizeof small) || !graft__tflite_sniff("\0\0\0\0TFL3", 8))
        return graft_check_fail(msg, msglen, "graft__tflite_sniff");
    return GRAFT_CHECK_PASS;
}

/* Every prefix and every single-byte change of the sample models (tflite_build.h): an error
 * or a graph, never a crash (ASan watches under `make check-san`), and only the documented
 * codes. Sample 1 carries metadata and a zip, so their readers are covered too. */
static int check_truncated_and_corrupted(char *msg, size_t msglen) {
    size_t errors = 0, imported = 0, changed = 0;
    for (int sample = 0; sample < 3; sample++) {
        size_t len;
        uint8_t *full = tb_sample_model(sample, &len);
        graft__graph *g = NULL;
        int err = graft__tflite_import(full, len, NULL, &g);
        graft__graph_destroy(g);
        if (err) {
            free(full);
            return graft_check_fail(msg, msglen, "sample %d: %s", sample, graft_last_error());
        }
        for (size_t n = 0; n < len; n++) {
            uint8_t *p = malloc(n ? n : 1); /* exactly n bytes: ASan sees any over-read */
            if (!p) abort();
            memcpy(p, full, n);
            g = NULL;
            err = graft__tflite_import(p, n, NULL, &g);
            free(p);
            if (!err) {
                graft__graph_destroy(g);
                imported++; /* the bytes cut were never read (padding, the empty buffer 0) */
                continue;
            }
            if (err != GRAFT_ECORRUPT && err != GRAFT_EUNSUPPORTED && err != GRAFT_ERANGE) {
                free(full);
                return graft_check_fail(msg, msglen, "sample %d, prefix of %zu bytes: %s (%s)", sample,
                                  n, graft_err_name(err), graft_last_error());
            }
            errors++;
        }
        uint8_t *p = malloc(len);
        if (!p) abort();
        for (size_t i = 0; i < len; i++)
            for (int v = 0; v < 3; v++) {
                memcpy(p, full, len);
                p[i] = v == 0 ? (uint8_t)(p[i] ^ 0xff) : v == 1 ? (uint8_t)(p[i] + 1) : 0x80;
                g = NULL;
                err = graft__tflite_import(p, len, NULL, &g);
                graft__graph_destroy(g);
                changed++;
                if (err && err != GRAFT_ECORRUPT && err != GRAFT_EUNSUPPORTED &&
                    err != GRAFT_ERANGE) {
                    free(p);
                    free(full);
                    return graft_check_fail(msg, msglen, "sample %d, byte %zu changed: %s (%s)", sample,
                                      i, graft_err_name(err), graft_last_error());
                }
            }
        free(p);
        free(full);
    }
    snprintf(msg, msglen, "%zu prefixes refused, %zu imported; %zu corruptions survived", errors,
             imported, changed);
    return GRAFT_CHECK_PASS;
}

/* The sample models load and run through the public API (they seed the fuzzer). */
static int check_sample_models_run(char *msg, size_t msglen) {
    static const struct { int N, H, W, C; const char *tap; } io[3] = {
        {2, 5, 5, 2, "probs"}, {1, 4, 4, 3, "y"}, {3, 6, 6, 2, "y"}};
    for (int k = 0; k < 3; k++) {
        size_t len, count = 0, xn = (size_t)io[k].N * io[k].H * io[k].W * io[k].C;
        uint8_t *buf = tb_sample_model(k, &len);
        float *x = malloc(sizeof(float) * xn), *y = NULL;
        if (!x) abort();
        rng_state = 11;
        fill(x, xn, -1, 1);
        int rank = 0;
        int64_t dims[GRAFT_MODEL_MAX_RANK];
        int st = run_model(buf, len, io[k].N, io[k].H, io[k].W, x, io[k].tap, &y, &count, &rank,
                           dims, msg, msglen);
        for (size_t i = 0; st == GRAFT_CHECK_PASS && i < count; i++)
            if (!isfinite(y[i]))
                st = graft_check_fail(msg, msglen, "sample %d: output %zu is %g", k, i, y[i]);
        if (st == GRAFT_CHECK_PASS && (dims[0] != io[k].N || !count))
            st = graft_check_fail(msg, msglen, "sample %d: batch %lld", k, (long long)dims[0]);
        free(buf);
        free(x);
        free(y);
        if (st != GRAFT_CHECK_PASS) return st;
    }
    return GRAFT_CHECK_PASS;
}

/* The reader itself on hand-made buffers. */
static int check_reader_bounds(char *msg, size_t msglen) {
    graft__fb fb;
    graft__fb_table t;
    graft__fb_vec v;
    const char *s;
    size_t n;
    /* root at 8; its vtable 4 bytes before the table (soffset 4... set below) */
    uint8_t b[64] = {0};
    /* Layout: [0] root = 16; [4] "TEST"; [12] vtable {8, 8, 4, 0}... */
    b[0] = 16;
    memcpy(b + 4, "TEST", 4);
    /* vtable at 8: vt_len 8, obj_len 8, field0 at 4, field1 absent */
    b[8] = 8, b[10] = 8, b[12] = 4, b[14] = 0;
    /* table at 16: soffset 8 (vtable at 8), field0 = uoffset to a vector at 24 */
    b[16] = 8;
    b[20] = 4; /* 20 + 4 = 24 */
    b[24] = 3; /* vector of 3 int32 */
    b[28] = 1, b[32] = 2, b[36] = 3;
    int err = graft__fb_init(&fb, b, 40, "t");
    if (!err) err = graft__fb_root(&fb, "Root", &t);
    if (!err) err = graft__fb_vec_field(&t, 0, 4, &v) == 1 ? 0 : -99;
    if (err || v.n != 3 || graft__fb_vec_i32(&v, 2) != 3 || graft__fb_has(&t, 1) ||
        graft__fb_has(&t, 40))
        return graft_check_fail(msg, msglen, "reading a valid buffer: %d %s", err, graft_last_error());
    int32_t def;
    if (graft__fb_i32(&t, 1, 77, &def) || def != 77)
        return graft_check_fail(msg, msglen, "an absent field does not read its default");
    /* The vector running past the end. */
    b[24] = 4;
    graft__fb_init(&fb, b, 40, "t");
    graft__fb_root(&fb, "Root", &t);
    err = graft__fb_vec_field(&t, 0, 4, &v);
    if (err != GRAFT_ECORRUPT || !strstr(graft_last_error(), "Root field 0"))
        return graft_check_fail(msg, msglen, "long vector: %d %s", err, graft_last_error());
    /* A huge count must not wrap the size computation. */
    b[24] = 0xff, b[25] = 0xff, b[26] = 0xff, b[27] = 0x7f;
    err = graft__fb_vec_field(&t, 0, 8, &v);
    if (err != GRAFT_ECORRUPT) return graft_check_fail(msg, msglen, "huge vector: %d", err);
    /* As a string: not terminated inside the buffer. */
    b[24] = 12, b[25] = b[26] = b[27] = 0;
    b[40 - 1] = 'x';
    err = graft__fb_string_field(&t, 0, &s, &n);
    if (err != GRAFT_ECORRUPT) return graft_check_fail(msg, msglen, "long string: %d", err);
    b[24] = 11;
    err = graft__fb_string_field(&t, 0, &s, &n);
    if (err != GRAFT_ECORRUPT || !strstr(graft_last_error(), "NUL"))
        return graft_check_fail(msg, msglen, "unterminated string: %d %s", err, graft_last_error());
    b[39] = 0;
    err = graft__fb_string_field(&t, 0, &s, &n);
    if (err != 1 || n != 11) return graft_check_fail(msg, msglen, "valid string: %d", err);
    /* The field's offset pointing outside the file. */
    b[20] = 200;
    err = graft__fb_vec_field(&t, 0, 4, &v);
    if (err != GRAFT_ECORRUPT) return graft_check_fail(msg, msglen, "offset past the end: %d", err);
    b[20] = 4;
    /* A vtable entry beyond the table's inline size. */
    b[12] = 9;
    graft__fb_root(&fb, "Root", &t);
    err = graft__fb_i32(&t, 0, 0, &def);
    if (err != GRAFT_ECORRUPT) return graft_check_fail(msg, msglen, "field outside table: %d", err);
    b[12] = 4;
    /* The vtable outside the buffer (negative and past the end), odd vtable length. */
    b[16] = 100;
    if ((err = graft__fb_root(&fb, "Root", &t)) != GRAFT_ECORRUPT)
        return graft_check_fail(msg, msglen, "vtable before the buffer: %d", err);
    b[16] = 0xf0, b[17] = b[18] = b[19] = 0xff; /* -16: vtable at 32, its length past 40 */
    b[32] = 200;
    if ((err = graft__fb_root(&fb, "Root", &t)) != GRAFT_ECORRUPT)
        return graft_check_fail(msg, msglen, "vtable past the end: %d", err);
    b[16] = 8, b[17] = b[18] = b[19] = 0;
    b[8] = 7;
    if ((err = graft__fb_root(&fb, "Root", &t)) != GRAFT_ECORRUPT)
        return graft_check_fail(msg, msglen, "odd vtable length: %d", err);
    b[8] = 8;
    b[10] = 60; /* the table's inline size past the end */
    if ((err = graft__fb_root(&fb, "Root", &t)) != GRAFT_ECORRUPT)
        return graft_check_fail(msg, msglen, "inline size: %d", err);
    b[10] = 8;
    b[0] = 38; /* root past the end */
    if ((err = graft__fb_root(&fb, "Root", &t)) != GRAFT_ECORRUPT)
        return graft_check_fail(msg, msglen, "root past the end: %d", err);
    if ((err = graft__fb_init(&fb, b, 7, "t")) != GRAFT_ECORRUPT)
        return graft_check_fail(msg, msglen, "7-byte buffer: %d", err);
    return GRAFT_CHECK_PASS;
}

/* ---- the real models ------------------------------------------------------------------------ */

static const char *shared_models(char *msg, size_t msglen) {
    static char dir[1024];
    const char *root = getenv("GRAFT_SHARED");
    if (!root || !root[0]) root = "../shared";
    snprintf(dir, sizeof dir, "%s/models", root);
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/verification.json", dir);
    if (access(probe, R_OK) != 0) {
        snprintf(msg, msglen, "%s not found: set GRAFT_SHARED to the shared data directory "
                 "(default ../shared from the repository root)", probe);
        return NULL;
    }
    return dir;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

/* What verification.json says about one .tflite: its ONNX twin and its named tensors. */
typedef struct model_ref {
    char onnx_stem[128];
    char role[4][32], tensor[4][160];
    int n_roles;
} model_ref;

/* A small scan of verification.json (a JSON subset: the "models" entries are flat enough):
 * the object holding "tflite": "<file>", its "onnx" and the string values of its "roles". */
static int find_model_ref(const char *json, const char *tflite, model_ref *r) {
    memset(r, 0, sizeof *r);
    char key[300];
    snprintf(key, sizeof key, "\"tflite\": \"%s\"", tflite);
    const char *p = strstr(json, key);
    if (!p) return 0;
    const char *o = strstr(p, "\"onnx\": \""), *roles = strstr(p, "\"roles\": {");
    if (!o || !roles) return 0;
    o += strlen("\"onnx\": \"");
    const char *end = strstr(o, ".onnx\"");
    if (!end || end - o >= (long)sizeof r->onnx_stem) return 0;
    memcpy(r->onnx_stem, o, (size_t)(end - o));
    const char *q = roles + strlen("\"roles\": {"), *close = strchr(q, '}');
    while (q && q < close && r->n_roles < 4) {
        const char *k0 = strchr(q, '"');
        if (!k0 || k0 > close) break;
        const char *k1 = strchr(k0 + 1, '"');
        const char *colon = k1 ? strchr(k1, ':') : NULL;
        if (!colon) break;
        const char *v = colon + 1;
        while (*v == ' ') v++;
        const char *next = strchr(v, ',');
        if (!next || next > close) next = close;
        if (*v == '"') {
            const char *v1 = strchr(v + 1, '"');
            if (v1 && (size_t)(k1 - k0 - 1) < 32 && (size_t)(v1 - v - 1) < 160 &&
                strncmp(k0 + 1, "kind", 4)) {
                memcpy(r->role[r->n_roles], k0 + 1, (size_t)(k1 - k0 - 1));
                memcpy(r->tensor[r->n_roles], v + 1, (size_t)(v1 - v - 1));
                r->n_roles++;
            }
        }
        q = next + 1;
    }
    return 1;
}

/* uint8 HWC pixels -> float NHWC with the model's preprocessing. */
static float *to_input(const graft_npy *img, const graft_model_preproc *pp) {
    size_t n = img->count;
    float *x = malloc(sizeof(float) * n);
    if (!x) abort();
    const uint8_t *u = img->data;
    for (size_t i = 0; i < n; i++) x[i] = (u[i] / 255.0f - pp->mean[i % 3]) / pp->std[i % 3];
    return x;
}

static size_t argmax(const float *v, size_t n) {
    size_t a = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[a]) a = i;
    return a;
}

static const char *const ref_images[] = {"cat", "bird", "grace_hopper", "hot_dog"};

/* max |got - want| and (in *max_want) max |want|. Plain comparisons: gcc 12's aarch64
 * vectoriser crashes on this loop written as two fmax reductions. */
static double max_abs_diff(const float *got, const float *want, size_t n, double *max_want) {
    double md = 0, mw = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]), w = fabs((double)want[i]);
        if (d > md || d != d) md = d;
        if (w > mw) mw = w;
    }
    *max_want = mw;
    return md;
}

static int check_real_models(char *msg, size_t msglen) {
    const char *dir = shared_models(msg, msglen);
    if (!dir) return GRAFT_CHECK_SKIP;
    char path[2048];
    snprintf(path, sizeof path, "%s/verification.json", dir);
    char *json = read_text(path);
    snprintf(path, sizeof path, "%s/imagenet_labels.txt", dir);
    char *labels_file = read_text(path);
    DIR *d = opendir(dir);
    if (!json || !labels_file || !d) {
        free(json);
        free(labels_file);
        if (d) closedir(d);
        return graft_check_fail(msg, msglen, "cannot read %s", dir);
    }
    int st = GRAFT_CHECK_PASS, models = 0, compared = 0;
    double worst = 0;
    struct dirent *e;
    while (st == GRAFT_CHECK_PASS && (e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl < 8 || strcmp(e->d_name + nl - 7, ".tflite")) continue;
        model_ref ref;
        if (!find_model_ref(json, e->d_name, &ref)) {
            st = graft_check_fail(msg, msglen, "%s: no entry in verification.json", e->d_name);
            break;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        graft_model *m = NULL;
        int err = graft_model_load(path, NULL, &m);
        if (err) {
            st = graft_check_fail(msg, msglen, "%s", graft_last_error());
            break;
        }
        models++;
        graft_model_preproc pp;
        graft_model_get_preproc(m, &pp);
        /* A model with embedded labels has the same list as imagenet_labels.txt. */
        if (pp.labels && strcmp(pp.labels, labels_file)) {
            st = graft_check_fail(msg, msglen, "%s: embedded labels differ from imagenet_labels.txt",
                            e->d_name);
        }
        const char *taps[4];
        for (int k = 0; k < ref.n_roles; k++) taps[k] = ref.tensor[k];
        graft_net *net = NULL;
        for (size_t im = 0; st == GRAFT_CHECK_PASS && im < sizeof ref_images / sizeof *ref_images;
             im++) {
            char ipath[2300];
            snprintf(ipath, sizeof ipath, "%s/images/%s.%dx%d.rgb_u8.npy", dir, ref_images[im],
                     pp.height, pp.width);
            graft_npy img = {0};
            if ((err = graft_npy_read(ipath, &img))) {
                st = graft_check_fail(msg, msglen, "%s", graft_last_error());
                break;
            }
            float *x = to_input(&img, &pp);
            graft_npy_free(&img);
            if (!net && (err = graft_net_create(m, 1, pp.height, pp.width, taps, ref.n_roles,
                                                NULL, &net)))
                st = graft_check_fail(msg, msglen, "%s: net: %s", e->d_name, graft_last_error());
            if (!st && (err = graft_net_run(net, x, GRAFT_LAYOUT_NHWC)))
                st = graft_check_fail(msg, msglen, "%s: run: %s", e->d_name, graft_last_error());
            free(x);
            for (int k = 0; st == GRAFT_CHECK_PASS && k < ref.n_roles; k++) {
                char rpath[2300];
                snprintf(rpath, sizeof rpath, "%s/images/%s.%s.%s.npy", dir, ref_images[im],
                         ref.onnx_stem, ref.role[k]);
                graft_npy want = {0};
                if ((err = graft_npy_read(rpath, &want))) {
                    st = graft_check_fail(msg, msglen, "%s", graft_last_error());
                    break;
                }
                const float *got;
                int rank;
                int64_t dims[GRAFT_MODEL_MAX_RANK];
                graft_net_tap(net, k, &got, &rank, dims);
                size_t n = 1;
                for (int r = 0; r < rank; r++) n *= (size_t)dims[r];
                const float *w = want.data;
                double maxref = 0, maxdiff = 0;
                if (n != want.count) {
                    st = graft_check_fail(msg, msglen, "%s %s %s: %zu values, reference %zu",
                                    e->d_name, ref_images[im], ref.role[k], n, want.count);
                } else {
                    maxdiff = max_abs_diff(got, w, n, &maxref);
                    worst = fmax(worst, maxdiff / maxref);
                    compared++;
                    if (!(maxdiff <= 1e-3 * maxref))
                        st = graft_check_fail(msg, msglen, "%s %s %s: max |diff| %g over max |ref| %g",
                                        e->d_name, ref_images[im], ref.role[k], maxdiff, maxref);
                    else if (strcmp(ref.role[k], "features") && strcmp(ref.role[k], "embedding") &&
                             argmax(got, n) != argmax(w, n))
                        st = graft_check_fail(msg, msglen, "%s %s %s: top-1 %zu, reference %zu",
                                        e->d_name, ref_images[im], ref.role[k], argmax(got, n),
                                        argmax(w, n));
                }
                graft_npy_free(&want);
            }
        }
        graft_net_destroy(net);
        graft_model_destroy(m);
    }
    closedir(d);
    free(json);
    free(labels_file);
    if (st == GRAFT_CHECK_PASS && !models)
        return graft_check_fail(msg, msglen, "no .tflite file in %s", dir);
    if (st == GRAFT_CHECK_PASS)
        snprintf(msg, msglen, "%d models, %d reference vectors, worst max|diff| / max|ref| = %.2g",
                 models, compared, worst);
    return st;
}

/* The embedding extractor against the float ONNX conversion beside it, both through graft,
 * and a batch of the 4 images against the single runs. */
static int check_embedding_vs_onnx(char *msg, size_t msglen) {
    const char *dir = shared_models(msg, msglen);
    if (!dir) return GRAFT_CHECK_SKIP;
    char tpath[1200], opath[1200];
    snprintf(tpath, sizeof tpath, "%s/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite", dir);
    snprintf(opath, sizeof opath, "%s/mobilenet_v1_1.0_224_embedding.onnx", dir);
    graft_model *mt = NULL, *mo = NULL;
    graft_net *nt = NULL, *no = NULL, *nb = NULL;
    int st = GRAFT_CHECK_PASS, err;
    if ((err = graft_model_load(tpath, NULL, &mt)) || (err = graft_model_load(opath, NULL, &mo)))
        return graft_check_fail(msg, msglen, "%s", graft_last_error());
    const char *ttap[1] = {"MobilenetV1/Logits/AvgPool_1a/AvgPool"}, *otap[1] = {"embedding"};
    graft_tap_options flat = {0, GRAFT_TAP_POOL_AVG};
    if ((err = graft_net_create(mt, 1, 224, 224, ttap, 1, &flat, &nt)) ||
        (err = graft_net_create(mo, 1, 224, 224, otap, 1, NULL, &no)) ||
        (err = graft_net_create(mt, 4, 224, 224, ttap, 1, &flat, &nb))) {
        st = graft_check_fail(msg, msglen, "net: %s", graft_last_error());
        goto done;
    }
    graft_model_preproc pp;
    graft_model_get_preproc(mt, &pp);
    float *batch = malloc(sizeof(float) * 4 * 224 * 224 * 3), single[4][1024];
    if (!batch) abort();
    double worst = 0;
    for (int im = 0; im < 4 && st == GRAFT_CHECK_PASS; im++) {
        char p[1400];
        graft_npy img = {0}, xin = {0};
        snprintf(p, sizeof p, "%s/images/%s.224x224.rgb_u8.npy", dir, ref_images[im]);
        if ((err = graft_npy_read(p, &img))) {
            st = graft_check_fail(msg, msglen, "%s", graft_last_error());
            break;
        }
        /* The ONNX model gets the exact float input the reference used (NCHW). */
        snprintf(p, sizeof p, "%s/images/%s.224x224.input.npy", dir, ref_images[im]);
        if ((err = graft_npy_read(p, &xin))) {
            graft_npy_free(&img);
            st = graft_check_fail(msg, msglen, "%s", graft_last_error());
            break;
        }
        float *x = to_input(&img, &pp);
        memcpy(batch + (size_t)im * 224 * 224 * 3, x, sizeof(float) * 224 * 224 * 3);
        const float *yt, *yo;
        int rt, ro;
        int64_t dt[8], dd[8];
        if ((err = graft_net_run(nt, x, GRAFT_LAYOUT_NHWC)) ||
            (err = graft_net_run(no, xin.data, GRAFT_LAYOUT_NCHW))) {
            st = graft_check_fail(msg, msglen, "run: %s", graft_last_error());
        } else {
            graft_net_tap(nt, 0, &yt, &rt, dt);
            graft_net_tap(no, 0, &yo, &ro, dd);
            if (rt != 2 || dt[1] != 1024 || ro != 2 || dd[1] != 1024) {
                st = graft_check_fail(msg, msglen, "embedding shapes: rank %d [%lld], rank %d [%lld]",
                                rt, (long long)dt[1], ro, (long long)dd[1]);
            } else {
                double maxref, maxdiff = max_abs_diff(yt, yo, 1024, &maxref);
                memcpy(single[im], yt, sizeof single[im]);
                worst = fmax(worst, maxdiff / maxref);
                if (!(maxdiff <= 1e-3 * maxref))
                    st = graft_check_fail(msg, msglen, "%s: TFLite vs ONNX embedding: max |diff| %g "
                                    "over max %g", ref_images[im], maxdiff, maxref);
            }
        }
        free(x);
        graft_npy_free(&img);
        graft_npy_free(&xin);
    }
    if (st == GRAFT_CHECK_PASS) {
        const float *yb;
        int rb;
        int64_t db[8];
        if ((err = graft_net_run(nb, batch, GRAFT_LAYOUT_NHWC))) {
            st = graft_check_fail(msg, msglen, "batch run: %s", graft_last_error());
        } else {
            graft_net_tap(nb, 0, &yb, &rb, db);
            if (rb != 2 || db[0] != 4)
                st = graft_check_fail(msg, msglen, "batch tap rank %d, N %lld", rb, (long long)db[0]);
            for (int im = 0; st == GRAFT_CHECK_PASS && im < 4; im++)
                st = compare("batch of 4 vs single", yb + im * 1024, single[im], 1024, 1e-5, 1e-5,
                             msg, msglen);
        }
    }
    free(batch);
    if (st == GRAFT_CHECK_PASS)
        snprintf(msg, msglen, "4 images; worst max|diff| / max|ref| TFLite vs ONNX = %.2g", worst);
done:
    graft_net_destroy(nt);
    graft_net_destroy(no);
    graft_net_destroy(nb);
    graft_model_destroy(mt);
    graft_model_destroy(mo);
    return st;
}

const graft_check graft_checks_tflite[] = {
    {"tflite", "conv_options", check_conv_options},
    {"tflite", "pool_options", check_pool_options},
    {"tflite", "fully_connected", check_fully_connected},
    {"tflite", "binary_ops", check_binary_ops},
    {"tflite", "unary_ops", check_unary_ops},
    {"tflite", "axis_and_shape_ops", check_axis_ops},
    {"tflite", "dynamic_batch", check_dynamic_batch},
    {"tflite", "preproc_metadata_labels", check_preproc},
    {"tflite", "rejects_bad_models", check_rejects_bad_models},
    {"tflite", "truncated_and_corrupted", check_truncated_and_corrupted},
    {"tflite", "sample_models_run", check_sample_models_run},
    {"tflite", "reader_bounds", check_reader_bounds},
    {"tflite", "real_models_match_references", check_real_models},
    {"tflite", "embedding_matches_onnx", check_embedding_vs_onnx},
    {NULL, NULL, NULL},
};
