/*
 * tests/pipeline/check_net.c: the model runtime on small ONNX graphs the test writes itself
 * (a minimal protobuf writer below), so that every path is checked without external files:
 * fusion and the default tap, results against loops written here, the memory planner's reuse,
 * micro-batching equal to the whole batch bit for bit, taps (names, ReLU, pooling, fused-away
 * names), and bad models: truncated, not ONNX, cycles, undefined inputs, unknown operators,
 * absurd sizes, with the error code and a message naming the culprit. A second network with
 * fully-connected layers on a flattened map checks them run as convolutions at a larger input
 * (Gemm with either transB, MatMul + Add), and the error for a smaller one.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "graft/model.h"
#include "../../pipeline/net/net.h" /* n_lanes: whether passes ran one per thread */

/* ---- a minimal protobuf writer ---------------------------------------------------------- */

typedef struct pb {
    uint8_t *b;
    size_t n, cap;
} pb;

static void pb_put(pb *p, const void *d, size_t n) {
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2 + 64;
        p->b = realloc(p->b, p->cap);
    }
    memcpy(p->b + p->n, d, n);
    p->n += n;
}
static void pb_varint(pb *p, uint64_t v) {
    uint8_t t[10];
    int k = 0;
    do {
        t[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_put(p, t, (size_t)k);
}
static void pb_key(pb *p, int field, int wire) { pb_varint(p, (uint64_t)field << 3 | (uint64_t)wire); }
static void pb_int(pb *p, int field, int64_t v) {
    pb_key(p, field, 0);
    pb_varint(p, (uint64_t)v);
}
static void pb_bytes(pb *p, int field, const void *d, size_t n) {
    pb_key(p, field, 2);
    pb_varint(p, n);
    pb_put(p, d, n);
}
static void pb_str(pb *p, int field, const char *s) { pb_bytes(p, field, s, strlen(s)); }
static void pb_msg(pb *p, int field, pb *sub) {
    pb_bytes(p, field, sub->b, sub->n);
    free(sub->b);
    memset(sub, 0, sizeof *sub);
}
static void pb_float(pb *p, int field, float f) {
    pb_key(p, field, 5);
    pb_put(p, &f, 4);
}

/* ONNX pieces. */
static void tensor(pb *graph, const char *name, int rank, const int64_t *dims, const float *v) {
    pb t = {0};
    size_t n = 1;
    for (int d = 0; d < rank; d++) {
        pb_int(&t, 1, dims[d]);
        n *= (size_t)dims[d];
    }
    pb_int(&t, 2, 1); /* FLOAT */
    pb_str(&t, 8, name);
    pb_bytes(&t, 9, v, n * 4);
    pb_msg(graph, 5, &t);
}

static void value_info(pb *graph, int field, const char *name, int rank, const int64_t *dims) {
    pb shape = {0}, tt = {0}, type = {0}, vi = {0};
    for (int d = 0; d < rank; d++) {
        pb dim = {0};
        if (dims[d] >= 0) pb_int(&dim, 1, dims[d]);
        else pb_str(&dim, 2, "N");
        pb_msg(&shape, 1, &dim);
    }
    pb_int(&tt, 1, 1);
    pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(graph, field, &vi);
}

typedef struct attr {
    const char *name;
    int type; /* 1 float, 2 int, 7 ints */
    float f;
    int64_t i;
    int64_t ints[8];
    int n_ints;
} attr;

static void node(pb *graph, const char *name, const char *op, const char *const *in, int n_in,
                 const char *const *out, int n_out, const attr *attrs, int n_attrs) {
    pb nd = {0};
    for (int i = 0; i < n_in; i++) pb_str(&nd, 1, in[i]);
    for (int i = 0; i < n_out; i++) pb_str(&nd, 2, out[i]);
    pb_str(&nd, 3, name);
    pb_str(&nd, 4, op);
    for (int a = 0; a < n_attrs; a++) {
        pb at = {0};
        pb_str(&at, 1, attrs[a].name);
        pb_int(&at, 20, attrs[a].type);
        if (attrs[a].type == 1) pb_float(&at, 2, attrs[a].f);
        if (attrs[a].type == 2) pb_int(&at, 3, attrs[a].i);
        for (int k = 0; attrs[a].type == 7 && k < attrs[a].n_ints; k++) pb_int(&at, 8, attrs[a].ints[k]);
        pb_msg(&nd, 5, &at);
    }
    pb_msg(graph, 1, &nd);
}

static void model(pb *out, pb *graph) {
    pb opset = {0};
    pb_int(out, 1, 8); /* ir_version */
    pb_str(out, 2, "graft-test");
    pb_str(&opset, 1, "");
    pb_int(&opset, 2, 13);
    pb_msg(out, 8, &opset);
    pb_msg(out, 7, graph);
}

/* ---- the test network --------------------------------------------------------------------- */

enum { C_IN = 3, C_OUT = 5, K = 3, CLASSES = 4 };

static float wconv[C_OUT * C_IN * K * K], bconv[C_OUT], wfc[CLASSES * C_OUT], bfc[CLASSES];

static void init_weights(void) {
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof wconv / 4; i++) {
        s = s * 1664525u + 1013904223u;
        wconv[i] = ((float)(s >> 8) / 16777216.0f - 0.5f);
    }
    for (int i = 0; i < C_OUT; i++) bconv[i] = 0.1f * (float)(i - 2);
    for (size_t i = 0; i < sizeof wfc / 4; i++) wfc[i] = 0.05f * (float)((int)(i % 7) - 3);
    for (int i = 0; i < CLASSES; i++) bfc[i] = 0.01f * (float)i;
}

/*
 * x (N, 3, H, W) -> Conv 3x3 pad 1 -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> logits,
 * with `variant` breaking it on purpose: 1 a cycle, 2 an undefined input, 3 an unknown op,
 * 4 absurd dims on an initializer.
 */
static void build(pb *out, int variant) {
    pb g = {0};
    int64_t wd[4] = {C_OUT, C_IN, K, K}, bd[1] = {C_OUT}, fd[2] = {CLASSES, C_OUT}, fb[1] = {CLASSES};
    init_weights();
    if (variant == 6) {
        /* W's bytes in an external file beside the model (ONNX external data), at an offset. */
        pb t = {0}, e = {0};
        for (int d = 0; d < 4; d++) pb_int(&t, 1, wd[d]);
        pb_int(&t, 2, 1);
        pb_str(&t, 8, "W");
        pb_str(&e, 1, "location");
        pb_str(&e, 2, "weights.bin");
        pb_msg(&t, 13, &e);
        pb_str(&e, 1, "offset");
        pb_str(&e, 2, "16");
        pb_msg(&t, 13, &e);
        pb_str(&e, 1, "length");
        char len[32];
        snprintf(len, sizeof len, "%zu", sizeof wconv);
        pb_str(&e, 2, len);
        pb_msg(&t, 13, &e);
        pb_int(&t, 14, 1); /* data_location EXTERNAL */
        pb_msg(&g, 5, &t);
    } else if (variant == 5) {
        /* int8 weights, per output channel scales, through DequantizeLinear. */
        int8_t q[C_OUT * C_IN * K * K], zp[C_OUT] = {0};
        float scale[C_OUT];
        for (int o = 0; o < C_OUT; o++) scale[o] = 0.004f * (float)(o + 1);
        for (int i = 0; i < C_OUT * C_IN * K * K; i++) {
            int o = i / (C_IN * K * K);
            float r = roundf(wconv[i] / scale[o]);
            q[i] = (int8_t)(r > 127 ? 127 : r < -128 ? -128 : r);
            wconv[i] = (float)q[i] * scale[o];
        }
        pb t = {0};
        for (int d = 0; d < 4; d++) pb_int(&t, 1, wd[d]);
        pb_int(&t, 2, 3); /* INT8 */
        pb_str(&t, 8, "Wq");
        pb_bytes(&t, 9, q, sizeof q);
        pb_msg(&g, 5, &t);
        tensor(&g, "S", 1, bd, scale);
        pb z = {0};
        pb_int(&z, 1, C_OUT);
        pb_int(&z, 2, 3);
        pb_str(&z, 8, "Z");
        pb_bytes(&z, 9, zp, sizeof zp);
        pb_msg(&g, 5, &z);
        attr ax[1] = {{"axis", 2, 0, 0, {0}, 0}};
        const char *din[3] = {"Wq", "S", "Z"}, *dout[1] = {"W"};
        node(&g, "dq", "DequantizeLinear", din, 3, dout, 1, ax, 1);
    } else if (variant == 4) {
        int64_t huge[2] = {(int64_t)1 << 40, 1 << 20};
        pb t = {0};
        pb_int(&t, 1, huge[0]);
        pb_int(&t, 1, huge[1]);
        pb_int(&t, 2, 1);
        pb_str(&t, 8, "W");
        pb_bytes(&t, 9, wconv, 16);
        pb_msg(&g, 5, &t);
    } else {
        tensor(&g, "W", 4, wd, wconv);
    }
    tensor(&g, "B", 1, bd, bconv);
    tensor(&g, "FW", 2, fd, wfc);
    tensor(&g, "FB", 1, fb, bfc);
    int64_t xd[4] = {-1, C_IN, 8, 8}, yd[2] = {-1, CLASSES};
    value_info(&g, 11, "x", 4, xd);
    value_info(&g, 12, "logits", 2, yd);
    attr conv_a[2] = {{"kernel_shape", 7, 0, 0, {K, K}, 2}, {"pads", 7, 0, 0, {1, 1, 1, 1}, 4}};
    const char *cin[3] = {variant == 1 ? "pooled" : "x", "W", "B"};
    const char *cout_[1] = {"conv"};
    node(&g, "conv1", "Conv", cin, 3, cout_, 1, conv_a, 2);
    const char *rin[1] = {variant == 2 ? "nowhere" : "conv"}, *rout[1] = {"relu"};
    node(&g, "relu1", variant == 3 ? "FancyRelu" : "Relu", rin, 1, rout, 1, NULL, 0);
    const char *pin[1] = {"relu"}, *pout[1] = {"pooled"};
    node(&g, "gap", "GlobalAveragePool", pin, 1, pout, 1, NULL, 0);
    const char *fin[1] = {"pooled"}, *fout[1] = {"flat"};
    node(&g, "flatten", "Flatten", fin, 1, fout, 1, NULL, 0);
    attr gemm_a[1] = {{"transB", 2, 0, 1, {0}, 0}};
    const char *gin[3] = {"flat", "FW", "FB"}, *gout[1] = {"logits"};
    node(&g, "fc", "Gemm", gin, 3, gout, 1, gemm_a, 1);
    model(out, &g);
}

/* The same network in plain loops: logits (N, CLASSES) and the pooled codes (N, C_OUT). */
static void reference(const float *x, int N, int H, int W, float *logits, float *codes) {
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < C_OUT; o++) {
            double acc_sum = 0;
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++) {
                    double acc = bconv[o];
                    for (int c = 0; c < C_IN; c++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                int ih = h + kh - 1, iw = w + kw - 1;
                                if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
                                acc += (double)wconv[((o * C_IN + c) * K + kh) * K + kw] *
                                       x[((n * C_IN + c) * H + ih) * W + iw];
                            }
                    acc_sum += acc > 0 ? acc : 0;
                }
            codes[n * C_OUT + o] = (float)(acc_sum / (H * W));
        }
        for (int k = 0; k < CLASSES; k++) {
            double acc = bfc[k];
            for (int o = 0; o < C_OUT; o++) acc += (double)wfc[k * C_OUT + o] * codes[n * C_OUT + o];
            logits[n * CLASSES + k] = (float)acc;
        }
    }
}

static int close_to(const float *a, const float *b, size_t n, float tol, char *msg, size_t len,
                    const char *what) {
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(a[i] - b[i]) <= tol * (1 + fabsf(b[i])))) {
            snprintf(msg, len, "%s[%zu] = %g, want %g", what, i, a[i], b[i]);
            return 0;
        }
    return 1;
}

static int load_variant(int variant, graft_model **m, char *path, size_t plen) {
    pb p = {0};
    build(&p, variant);
    int err;
    if (variant == 6) {
        /* A directory holding model.onnx and weights.bin (16 bytes of padding, then W). */
        char dir[] = "/tmp/graft-check-net-ext-XXXXXX", bin[96];
        if (!mkdtemp(dir)) return -1000;
        snprintf(path, plen, "%s/model.onnx", dir);
        snprintf(bin, sizeof bin, "%s/weights.bin", dir);
        FILE *f = fopen(path, "wb"), *b = fopen(bin, "wb");
        int ok = f && b && fwrite(p.b, 1, p.n, f) == p.n && fwrite("0123456789abcdef", 1, 16, b) == 16 &&
                 fwrite(wconv, 1, sizeof wconv, b) == sizeof wconv;
        if (f) fclose(f);
        if (b) fclose(b);
        free(p.b);
        err = ok ? graft_model_load(path, NULL, m) : -1000;
        unlink(bin);
        unlink(path);
        rmdir(dir);
        return err;
    }
    err = graft_check_write_temp(p.b, p.n, path, plen);
    free(p.b);
    if (err) return -1000;
    err = graft_model_load(path, NULL, m);
    return err;
}

/* ---- fully-connected layers on a flattened map -------------------------------------------- */

/* x (N, 3, 4, 3) -> MaxPool 2x2 stride 1 -> (N, 3, 3, 2) -> Flatten -> 18 features. */
enum { FC_C = 3, FC_H = 4, FC_W = 3, FC_MH = 3, FC_MW = 2, FC_K = FC_C * FC_MH * FC_MW,
       FC_HID = 5, FC_CLS = 4 };

static float w1[FC_HID * FC_K], b1[FC_HID], w2[FC_CLS * FC_HID], b2[FC_CLS]; /* (out, in) */

static void fc_init_weights(void) {
    uint32_t s = 777;
    for (size_t i = 0; i < sizeof w1 / 4; i++) {
        s = s * 1664525u + 1013904223u;
        w1[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.5f;
    }
    for (size_t i = 0; i < sizeof w2 / 4; i++) {
        s = s * 1664525u + 1013904223u;
        w2[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    for (int i = 0; i < FC_HID; i++) b1[i] = 0.05f * (float)(i - 2);
    for (int i = 0; i < FC_CLS; i++) b2[i] = -0.03f * (float)i;
}

/* A (rows, cols) matrix as (cols, rows). */
static void transpose(float *dst, const float *src, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

/*
 * pool -> Flatten -> fc1 -> Relu (hidden) -> fc2 (logits) -> Softmax (probs). variant 0: fc1
 * Gemm transB=1, fc2 Gemm transB=0; 1: fc1 transB=0, fc2 transB=1; 2: fc1 a MatMul + Add;
 * 3: variant 0 with a second output, the logits transposed (an op that mixes the batch).
 */
static void build_fc(pb *out, int variant) {
    pb g = {0};
    fc_init_weights();
    float w1t[FC_K * FC_HID], w2t[FC_HID * FC_CLS];
    transpose(w1t, w1, FC_HID, FC_K);
    transpose(w2t, w2, FC_CLS, FC_HID);
    int64_t d1[2] = {FC_HID, FC_K}, d1t[2] = {FC_K, FC_HID}, d2[2] = {FC_CLS, FC_HID};
    int64_t d2t[2] = {FC_HID, FC_CLS}, db1[1] = {FC_HID}, db2[1] = {FC_CLS};
    if (variant == 0 || variant == 3) tensor(&g, "W1", 2, d1, w1);
    else tensor(&g, "W1", 2, d1t, w1t);
    tensor(&g, "B1", 1, db1, b1);
    if (variant == 1) tensor(&g, "W2", 2, d2, w2);
    else tensor(&g, "W2", 2, d2t, w2t);
    tensor(&g, "B2", 1, db2, b2);
    int64_t xd[4] = {-1, FC_C, FC_H, FC_W}, yd[2] = {-1, FC_CLS};
    value_info(&g, 11, "x", 4, xd);
    value_info(&g, 12, "probs", 2, yd);
    value_info(&g, 12, "logits", 2, yd);
    attr pool_a[2] = {{"kernel_shape", 7, 0, 0, {2, 2}, 2}, {"strides", 7, 0, 0, {1, 1}, 2}};
    const char *pin[1] = {"x"}, *pout[1] = {"pooled"};
    node(&g, "pool", "MaxPool", pin, 1, pout, 1, pool_a, 2);
    const char *fin[1] = {"pooled"}, *fout[1] = {"flat"};
    node(&g, "flatten", "Flatten", fin, 1, fout, 1, NULL, 0);
    attr tb1[1] = {{"transB", 2, 0, 1, {0}, 0}}, tb0[1] = {{"transB", 2, 0, 0, {0}, 0}};
    if (variant == 2) {
        const char *min[2] = {"flat", "W1"}, *mout[1] = {"mm"};
        node(&g, "fc1", "MatMul", min, 2, mout, 1, NULL, 0);
        const char *ain[2] = {"mm", "B1"}, *aout[1] = {"pre"};
        node(&g, "fc1_bias", "Add", ain, 2, aout, 1, NULL, 0);
    } else {
        const char *gin[3] = {"flat", "W1", "B1"}, *gout[1] = {"pre"};
        node(&g, "fc1", "Gemm", gin, 3, gout, 1, variant == 1 ? tb0 : tb1, 1);
    }
    const char *rin[1] = {"pre"}, *rout[1] = {"hidden"};
    node(&g, "relu", "Relu", rin, 1, rout, 1, NULL, 0);
    const char *gin2[3] = {"hidden", "W2", "B2"}, *gout2[1] = {"logits"};
    node(&g, "fc2", "Gemm", gin2, 3, gout2, 1, variant == 1 ? tb1 : tb0, 1);
    const char *sin[1] = {"logits"}, *sout[1] = {"probs"};
    node(&g, "softmax", "Softmax", sin, 1, sout, 1, NULL, 0);
    if (variant == 3) {
        int64_t td[2] = {FC_CLS, -1};
        value_info(&g, 12, "swapped", 2, td);
        attr perm[1] = {{"perm", 7, 0, 0, {1, 0}, 2}};
        const char *tin[1] = {"logits"}, *tout[1] = {"swapped"};
        node(&g, "swap", "Transpose", tin, 1, tout, 1, perm, 1);
    }
    model(out, &g);
}

/*
 * The network convolved over an input of H x W in plain loops: the trained 3x2 map's 18
 * features in Flatten's (c, y, x) order at each of a x b positions. Maps (N, D, a, b) NCHW.
 */
static void fc_reference(const float *x, int N, int H, int W, float *hidden, float *logits,
                         float *probs) {
    int MH = H - 1, MW = W - 1, A = MH - FC_MH + 1, B = MW - FC_MW + 1;
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < A; oy++)
            for (int ox = 0; ox < B; ox++) {
                double f[FC_K], h[FC_HID], z[FC_CLS], zmax = -1e300, sum = 0;
                for (int c = 0; c < FC_C; c++)
                    for (int dy = 0; dy < FC_MH; dy++)
                        for (int dx = 0; dx < FC_MW; dx++) {
                            const float *p =
                                x + ((size_t)(n * FC_C + c) * H + oy + dy) * W + ox + dx;
                            float m = p[0];
                            m = p[1] > m ? p[1] : m;
                            m = p[W] > m ? p[W] : m;
                            m = p[W + 1] > m ? p[W + 1] : m;
                            f[(c * FC_MH + dy) * FC_MW + dx] = m;
                        }
                for (int j = 0; j < FC_HID; j++) {
                    double acc = b1[j];
                    for (int k = 0; k < FC_K; k++) acc += (double)w1[j * FC_K + k] * f[k];
                    h[j] = acc > 0 ? acc : 0;
                    hidden[((n * FC_HID + j) * A + oy) * B + ox] = (float)h[j];
                }
                for (int k = 0; k < FC_CLS; k++) {
                    double acc = b2[k];
                    for (int j = 0; j < FC_HID; j++) acc += (double)w2[k * FC_HID + j] * h[j];
                    z[k] = acc;
                    zmax = acc > zmax ? acc : zmax;
                    logits[((n * FC_CLS + k) * A + oy) * B + ox] = (float)acc;
                }
                for (int k = 0; k < FC_CLS; k++) sum += exp(z[k] - zmax);
                for (int k = 0; k < FC_CLS; k++)
                    probs[((n * FC_CLS + k) * A + oy) * B + ox] = (float)(exp(z[k] - zmax) / sum);
            }
}

/* One variant at one input size: the taps' shapes, values, and the node listing. */
static int fc_run(graft_model *m, int variant, int N, int H, int W, char *msg, size_t msglen) {
    int A = H - FC_MH, B = W - FC_MW, spatial = A * B > 1;
    size_t P = (size_t)N * A * B;
    float *x = malloc(sizeof(float) * (size_t)N * FC_C * H * W);
    float *hid = malloc(sizeof(float) * P * FC_HID), *lg = malloc(sizeof(float) * P * FC_CLS);
    float *pr = malloc(sizeof(float) * P * FC_CLS), *pooled = malloc(sizeof(float) * N * FC_HID);
    for (int i = 0; i < N * FC_C * H * W; i++) x[i] = sinf((float)i * 0.53f + (float)variant);
    fc_reference(x, N, H, W, hid, lg, pr);
    graft_net *net = NULL, *avg = NULL;
    int ok = 0;
    const char *taps[3] = {"hidden", "logits", "probs"};
    graft_tap_options to = {.pool = GRAFT_TAP_POOL_AVG};
    if (graft_net_create(m, N, H, W, taps, 3, NULL, &net) ||
        graft_net_create(m, N, H, W, NULL, 0, &to, &avg) ||
        graft_net_run(net, x, GRAFT_LAYOUT_NCHW) || graft_net_run(avg, x, GRAFT_LAYOUT_NCHW)) {
        snprintf(msg, msglen, "variant %d at %dx%d: %s", variant, H, W, graft_last_error());
        goto done;
    }
    const float *want[3] = {hid, lg, pr};
    const int depth[3] = {FC_HID, FC_CLS, FC_CLS};
    for (int t = 0; t < 3; t++) {
        const float *y;
        int rank;
        int64_t dims[8];
        graft_net_tap(net, t, &y, &rank, dims);
        int shape_ok = spatial ? rank == 4 && dims[0] == N && dims[1] == depth[t] &&
                                     dims[2] == A && dims[3] == B
                               : rank == 2 && dims[0] == N && dims[1] == depth[t];
        if (!shape_ok) {
            snprintf(msg, msglen, "variant %d at %dx%d: tap %s has rank %d (%lld, %lld, ...), "
                     "want (%d, %d, %d, %d)", variant, H, W, taps[t], rank, (long long)dims[0],
                     (long long)dims[1], N, depth[t], A, B);
            goto done;
        }
        char what[64];
        snprintf(what, sizeof what, "variant %d %dx%d %s", variant, H, W, taps[t]);
        if (!close_to(y, want[t], P * (size_t)depth[t], 1e-5f, msg, msglen, what)) goto done;
    }
    /*
     * What classify reports: per image, the class probabilities averaged over the positions,
     * the same from the logits (softmaxed per position) as from the probabilities (taken as
     * they are, not softmaxed again).
     */
    for (int n = 0; n < N; n++) {
        float avg_p[FC_CLS], got[FC_CLS];
        for (int k = 0; k < FC_CLS; k++) {
            double acc = 0;
            for (int q = 0; q < A * B; q++) acc += pr[(size_t)(n * FC_CLS + k) * A * B + q];
            avg_p[k] = (float)(acc / (A * B));
        }
        for (int t = 1; t <= 2; t++) {
            char what[64];
            snprintf(what, sizeof what, "variant %d %dx%d image %d class probs from %s", variant,
                     H, W, n, taps[t]);
            if (graft_net_class_probs(net, t, n, got, FC_CLS)) {
                snprintf(msg, msglen, "%s: %s", what, graft_last_error());
                goto done;
            }
            if (!close_to(got, avg_p, FC_CLS, 1e-5f, msg, msglen, what)) goto done;
        }
    }
    float spare[FC_CLS + 1];
    if (graft_net_class_probs(net, 1, N, spare, FC_CLS) != GRAFT_EINVAL ||
        graft_net_class_probs(net, 1, 0, spare, FC_CLS + 1) != GRAFT_EINVAL) {
        snprintf(msg, msglen, "variant %d: class_probs takes an image or class count out of "
                 "range", variant);
        goto done;
    }
    /* The default tap is the classifier's input, pooled back into a vector on request. */
    for (int n = 0; n < N; n++)
        for (int j = 0; j < FC_HID; j++) {
            double acc = 0;
            for (int p = 0; p < A * B; p++) acc += hid[(size_t)(n * FC_HID + j) * A * B + p];
            pooled[n * FC_HID + j] = (float)(acc / (A * B));
        }
    const float *y;
    int rank;
    int64_t dims[8];
    graft_net_tap(avg, 0, &y, &rank, dims);
    if (strcmp(graft_net_tap_name(avg, 0), "hidden") || rank != 2 || dims[1] != FC_HID) {
        snprintf(msg, msglen, "variant %d: default tap '%s' of rank %d", variant,
                 graft_net_tap_name(avg, 0), rank);
        goto done;
    }
    if (!close_to(y, pooled, (size_t)N * FC_HID, 1e-5f, msg, msglen, "avg-pooled default tap"))
        goto done;
    /* The listing says how fc1 runs. */
    int listed = !spatial;
    for (int i = 0; i < graft_net_node_count(net); i++) {
        graft_node_info ni;
        if (!graft_net_node_info(net, i, &ni) && !strcmp(ni.name, "fc1") &&
            strstr(ni.op, "as 3x2 conv"))
            listed = 1;
    }
    if (!listed) {
        snprintf(msg, msglen, "variant %d at %dx%d: fc1 is not listed as a 3x2 conv", variant, H,
                 W);
        goto done;
    }
    ok = 1;
done:
    graft_net_destroy(net);
    graft_net_destroy(avg);
    free(x);
    free(hid);
    free(lg);
    free(pr);
    free(pooled);
    return ok;
}

/*
 * Fully-connected layers on a flattened map, trained at 4x3: at the trained size they give
 * vectors; at 7x6 and 9x4 (with micro-batches of 1 and the whole batch, bit for bit the
 * same) maps of scores computed as convolutions; at 3x3 a clear error; an operator that
 * cannot act per position is refused by name at a larger size only.
 */
static int check_fc_as_conv(char *msg, size_t msglen) {
    for (int variant = 0; variant < 4; variant++) {
        pb p = {0};
        char path[64];
        build_fc(&p, variant);
        int werr = graft_check_write_temp(p.b, p.n, path, sizeof path);
        free(p.b);
        graft_model *m = NULL;
        int err = werr ? -1 : graft_model_load(path, NULL, &m);
        unlink(path);
        if (err) {
            snprintf(msg, msglen, "variant %d: load: %s", variant, graft_last_error());
            return GRAFT_CHECK_FAIL;
        }
        int ok = fc_run(m, variant, 2, FC_H, FC_W, msg, msglen) &&
                 fc_run(m, variant, 3, 7, 6, msg, msglen) &&
                 fc_run(m, variant, 1, 9, 4, msg, msglen);
        /* Micro-batches of one image give the same bits as the whole batch. */
        graft_net *a = NULL, *b = NULL;
        float x[4 * FC_C * 8 * 7];
        for (size_t i = 0; i < sizeof x / 4; i++) x[i] = cosf((float)i * 0.7f);
        setenv("GRAFT_MICROBATCH", "1", 1);
        int e1 = graft_net_create(m, 4, 8, 7, NULL, 0, NULL, &a);
        setenv("GRAFT_MICROBATCH", "4", 1);
        int e2 = graft_net_create(m, 4, 8, 7, NULL, 0, NULL, &b);
        unsetenv("GRAFT_MICROBATCH");
        if (ok && (e1 || e2 || graft_net_run(a, x, GRAFT_LAYOUT_NCHW) ||
                   graft_net_run(b, x, GRAFT_LAYOUT_NCHW))) {
            snprintf(msg, msglen, "variant %d micro-batched: %s", variant, graft_last_error());
            ok = 0;
        }
        if (ok) {
            const float *ya, *yb;
            int64_t da[8], dbb[8];
            int ra, rb;
            graft_net_tap(a, 0, &ya, &ra, da);
            graft_net_tap(b, 0, &yb, &rb, dbb);
            if (graft_net_microbatch(a) != 1 || ra != 4 || rb != 4 ||
                memcmp(ya, yb, sizeof(float) * 4 * FC_HID * (8 - FC_MH) * (7 - FC_MW))) {
                snprintf(msg, msglen, "variant %d: micro-batches of 1 (%d) differ from the batch",
                         variant, graft_net_microbatch(a));
                ok = 0;
            }
        }
        graft_net_destroy(a);
        graft_net_destroy(b);
        /* Smaller than trained: refused, naming the layer and the smallest input. */
        graft_net *net = NULL;
        if (ok) {
            err = graft_net_create(m, 1, 3, 3, NULL, 0, NULL, &net);
            const char *e = graft_last_error();
            if (err != GRAFT_EINVAL || !strstr(e, "'fc1'") || !strstr(e, "too small") ||
                !strstr(e, "smallest input it takes is 4x3")) {
                snprintf(msg, msglen, "variant %d at 3x3: %d '%s'", variant, err, e);
                ok = 0;
            }
        }
        graft_net_destroy(net);
        net = NULL;
        const char *swapped[1] = {"swapped"};
        if (ok && variant == 3) {
            int e_small = graft_net_create(m, 2, FC_H, FC_W, swapped, 1, NULL, &net);
            graft_net_destroy(net);
            net = NULL;
            err = graft_net_create(m, 2, 7, 6, swapped, 1, NULL, &net);
            const char *e = graft_last_error();
            if (e_small || err != GRAFT_EUNSUPPORTED || !strstr(e, "'swap'") ||
                !strstr(e, "Transpose")) {
                snprintf(msg, msglen, "a transpose of the scores: at 4x3 %d, at 7x6 %d '%s'",
                         e_small, err, e);
                ok = 0;
            }
        }
        graft_net_destroy(net);
        graft_model_destroy(m);
        if (!ok) return GRAFT_CHECK_FAIL;
    }
    return GRAFT_CHECK_PASS;
}

/* ---- checks ------------------------------------------------------------------------------ */

static int forward_variant(int variant, char *msg, size_t msglen);
static int check_forward(char *msg, size_t msglen) { return forward_variant(0, msg, msglen); }
/* int8 weights dequantized at load give the same network as their float values. */
static int check_int8_weights(char *msg, size_t msglen) { return forward_variant(5, msg, msglen); }
/* Weights kept in an external data file beside the model. */
static int check_external_data(char *msg, size_t msglen) { return forward_variant(6, msg, msglen); }

static int forward_variant(int variant, char *msg, size_t msglen) {
    char path[64];
    graft_model *m = NULL;
    graft_net *net = NULL;
    int rc = GRAFT_CHECK_FAIL, N = 3, H = 7, W = 9; /* not the 8x8 the file names */
    if (load_variant(variant, &m, path, sizeof path)) {
        snprintf(msg, msglen, "load: %s", graft_last_error());
        unlink(path);
        return GRAFT_CHECK_FAIL;
    }
    unlink(path);
    float *x = malloc(sizeof(float) * N * C_IN * H * W), logits[3 * CLASSES], codes[3 * C_OUT];
    for (int i = 0; i < N * C_IN * H * W; i++) x[i] = sinf((float)i * 0.37f);
    reference(x, N, H, W, logits, codes);
    if (strcmp(graft_model_default_tap(m), "flat")) {
        snprintf(msg, msglen, "default tap is '%s', want 'flat' (the classifier's input)",
                 graft_model_default_tap(m));
        goto done;
    }
    if (graft_model_param_count(m) != C_OUT * C_IN * K * K + C_OUT + CLASSES * C_OUT + CLASSES) {
        snprintf(msg, msglen, "parameter count %lld", (long long)graft_model_param_count(m));
        goto done;
    }
    const char *taps[2] = {"logits", "flat"};
    if (graft_net_create(m, N, H, W, taps, 2, NULL, &net)) {
        snprintf(msg, msglen, "net: %s", graft_last_error());
        goto done;
    }
    /* Conv and Relu run as one node. */
    int fused = 0;
    for (int i = 0; i < graft_net_node_count(net); i++) {
        graft_node_info ni;
        if (!graft_net_node_info(net, i, &ni) && !strcmp(ni.op, "Conv+Relu")) fused = 1;
    }
    if (!fused) {
        snprintf(msg, msglen, "Conv+Relu was not fused");
        goto done;
    }
    if (graft_net_run(net, x, GRAFT_LAYOUT_NCHW)) {
        snprintf(msg, msglen, "run: %s", graft_last_error());
        goto done;
    }
    const float *y;
    int rank;
    int64_t dims[8];
    graft_net_tap(net, 0, &y, &rank, dims);
    if (rank != 2 || dims[0] != N || dims[1] != CLASSES) {
        snprintf(msg, msglen, "logits shape rank %d (%lld, %lld)", rank, (long long)dims[0],
                 (long long)dims[1]);
        goto done;
    }
    if (!close_to(y, logits, (size_t)N * CLASSES, 1e-5f, msg, msglen, "logits")) goto done;
    graft_net_tap(net, 1, &y, &rank, dims);
    if (!close_to(y, codes, (size_t)N * C_OUT, 1e-5f, msg, msglen, "codes")) goto done;
    rc = GRAFT_CHECK_PASS;
done:
    free(x);
    graft_net_destroy(net);
    graft_model_destroy(m);
    return rc;
}

static int check_taps(char *msg, size_t msglen) {
    char path[64];
    graft_model *m = NULL;
    graft_net *net = NULL;
    int rc = GRAFT_CHECK_FAIL, N = 2, H = 5, W = 6;
    if (load_variant(0, &m, path, sizeof path)) {
        snprintf(msg, msglen, "load: %s", graft_last_error());
        unlink(path);
        return GRAFT_CHECK_FAIL;
    }
    unlink(path);
    /* A name fusion removed, and a name that does not exist, are refused by name. */
    const char *fused[1] = {"conv"}, *unknown[1] = {"conv9"};
    int e1 = graft_net_create(m, N, H, W, fused, 1, NULL, &net);
    const char *m1 = graft_last_error();
    if (e1 != GRAFT_EINVAL || !strstr(m1, "'conv'") || !strstr(m1, "fused")) {
        snprintf(msg, msglen, "tap on a fused-away tensor: %d '%s'", e1, m1);
        goto done;
    }
    int e2 = graft_net_create(m, N, H, W, unknown, 1, NULL, &net);
    if (e2 != GRAFT_EINVAL || !strstr(graft_last_error(), "conv9")) {
        snprintf(msg, msglen, "unknown tap: %d '%s'", e2, graft_last_error());
        goto done;
    }
    graft_model_destroy(m);
    m = NULL;
    /* With the name kept, the pre-activation output can be tapped, ReLU'd and pooled: the
       result must equal the pooled codes of the default tap. */
    pb p = {0};
    build(&p, 0);
    graft_check_write_temp(p.b, p.n, path, sizeof path);
    free(p.b);
    const char *keep[2] = {"conv", NULL};
    graft_model_options mo = {.keep = keep};
    int err = graft_model_load(path, &mo, &m);
    unlink(path);
    if (err) {
        snprintf(msg, msglen, "load with keep: %s", graft_last_error());
        goto done;
    }
    graft_tap_options to = {.relu = 1, .pool = GRAFT_TAP_POOL_AVG};
    if (graft_net_create(m, N, H, W, fused, 1, &to, &net)) {
        snprintf(msg, msglen, "net on kept tensor: %s", graft_last_error());
        goto done;
    }
    float *x = malloc(sizeof(float) * N * C_IN * H * W), logits[2 * CLASSES], codes[2 * C_OUT];
    for (int i = 0; i < N * C_IN * H * W; i++) x[i] = cosf((float)i * 0.11f);
    reference(x, N, H, W, logits, codes);
    err = graft_net_run(net, x, GRAFT_LAYOUT_NCHW);
    free(x);
    if (err) {
        snprintf(msg, msglen, "run: %s", graft_last_error());
        goto done;
    }
    const float *y;
    int rank;
    int64_t dims[8];
    graft_net_tap(net, 0, &y, &rank, dims);
    if (rank != 2 || dims[0] != N || dims[1] != C_OUT) {
        snprintf(msg, msglen, "pooled tap rank %d", rank);
        goto done;
    }
    if (!close_to(y, codes, (size_t)N * C_OUT, 1e-5f, msg, msglen, "relu+avg tap")) goto done;
    rc = GRAFT_CHECK_PASS;
done:
    graft_net_destroy(net);
    graft_model_destroy(m);
    return rc;
}

/* Micro-batched runs equal the whole batch bit for bit, in both input layouts. */
static int check_microbatch(char *msg, size_t msglen) {
    char path[64];
    graft_model *m = NULL;
    graft_net *a = NULL, *b = NULL;
    int rc = GRAFT_CHECK_FAIL, N = 6, H = 11, W = 4;
    if (load_variant(0, &m, path, sizeof path)) {
        snprintf(msg, msglen, "load: %s", graft_last_error());
        unlink(path);
        return GRAFT_CHECK_FAIL;
    }
    unlink(path);
    float *x = malloc(sizeof(float) * N * C_IN * H * W);
    for (int i = 0; i < N * C_IN * H * W; i++) x[i] = sinf((float)i * 1.7f) * 3;
    setenv("GRAFT_MICROBATCH", "2", 1);
    int e1 = graft_net_create(m, N, H, W, NULL, 0, NULL, &a);
    setenv("GRAFT_MICROBATCH", "6", 1);
    int e2 = graft_net_create(m, N, H, W, NULL, 0, NULL, &b);
    unsetenv("GRAFT_MICROBATCH");
    if (e1 || e2) {
        snprintf(msg, msglen, "net: %s", graft_last_error());
        goto done;
    }
    for (int layout = 0; layout < 2; layout++) {
        if (graft_net_run(a, x, (graft_layout)layout) || graft_net_run(b, x, (graft_layout)layout)) {
            snprintf(msg, msglen, "run: %s", graft_last_error());
            goto done;
        }
        const float *ya, *yb;
        int ra, rb;
        int64_t da[8], db[8];
        graft_net_tap(a, 0, &ya, &ra, da);
        graft_net_tap(b, 0, &yb, &rb, db);
        if (ra != rb || da[0] != N || db[0] != N || da[1] != db[1] ||
            memcmp(ya, yb, sizeof(float) * (size_t)(da[0] * da[1]))) {
            snprintf(msg, msglen, "micro-batches of 2 differ from one batch of 6 (layout %d)",
                     layout);
            goto done;
        }
        /* The first 3 images alone (two passes of 2): the same rows. */
        if (graft_net_run_partial(a, x, (graft_layout)layout, 3) ||
            memcmp(ya, yb, sizeof(float) * (size_t)(3 * da[1]))) {
            snprintf(msg, msglen, "a partial run of 3 images differs (layout %d): %s", layout,
                     graft_last_error());
            goto done;
        }
    }
    /*
     * Passes of one image, one thread's inner net each (two or three threads, six passes):
     * the same bits as the batch, for whole and partial runs.
     */
    if (graft_net_run(b, x, GRAFT_LAYOUT_NCHW)) {
        snprintf(msg, msglen, "run: %s", graft_last_error());
        goto done;
    }
    for (int threads = 2; threads <= 3; threads++) {
        graft_net *c = NULL;
        graft_threads_set(threads);
        setenv("GRAFT_MICROBATCH", "1", 1);
        int err = graft_net_create(m, N, H, W, NULL, 0, NULL, &c);
        unsetenv("GRAFT_MICROBATCH");
        const float *yb, *yc;
        int rb, rcn;
        int64_t db[8], dc[8];
        int bad = err || c->n_lanes != threads - 1;
        for (int n = N; !bad && n >= N - 1; n--) {
            bad = graft_net_run_partial(c, x, GRAFT_LAYOUT_NCHW, n) != 0;
            graft_net_tap(b, 0, &yb, &rb, db);
            graft_net_tap(c, 0, &yc, &rcn, dc);
            bad = bad || rb != rcn || memcmp(yb, yc, sizeof(float) * (size_t)(n * db[1]));
        }
        if (bad)
            snprintf(msg, msglen, "%d threads, a pass each (%d lanes): %s", threads,
                     err ? -1 : c->n_lanes, err ? graft_last_error() : "results differ");
        graft_net_destroy(c);
        graft_threads_set(2);
        if (bad) goto done;
    }
    if (graft_net_run_partial(a, x, GRAFT_LAYOUT_NHWC, 0) != GRAFT_EINVAL ||
        graft_net_run_partial(a, x, GRAFT_LAYOUT_NHWC, N + 1) != GRAFT_EINVAL) {
        snprintf(msg, msglen, "partial runs of 0 or N + 1 images were not refused");
        goto done;
    }
    rc = GRAFT_CHECK_PASS;
done:
    free(x);
    graft_net_destroy(a);
    graft_net_destroy(b);
    graft_model_destroy(m);
    return rc;
}

/* Each broken model fails with its code and a message naming what is wrong. */
static int check_bad_models(char *msg, size_t msglen) {
    static const struct {
        int variant, err;
        const char *needle;
    } cases[] = {
        {1, GRAFT_EINVAL, "cycle"},
        {2, GRAFT_EINVAL, "nowhere"},
        {3, GRAFT_EUNSUPPORTED, "FancyRelu"},
        {4, GRAFT_ERANGE, "W"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[64];
        graft_model *m = NULL;
        int err = load_variant(cases[i].variant, &m, path, sizeof path);
        unlink(path);
        graft_model_destroy(m);
        if (err != cases[i].err || !strstr(graft_last_error(), cases[i].needle)) {
            snprintf(msg, msglen, "variant %d: got %d '%s', want %d naming '%s'",
                     cases[i].variant, err, graft_last_error(), cases[i].err, cases[i].needle);
            return GRAFT_CHECK_FAIL;
        }
    }
    /* Truncations at every tenth byte never crash and never load. */
    pb p = {0};
    build(&p, 0);
    for (size_t cut = 0; cut < p.n; cut += p.n / 10 + 1) {
        char path[64];
        pb q = {p.b, cut, cut};
        graft_check_write_temp(q.b, q.n, path, sizeof path);
        graft_model *m = NULL;
        int err = graft_model_load(path, NULL, &m);
        unlink(path);
        graft_model_destroy(m);
        if (!err || (err != GRAFT_ECORRUPT && err != GRAFT_EINVAL && err != GRAFT_ERANGE)) {
            snprintf(msg, msglen, "file cut at %zu of %zu bytes: %d '%s'", cut, p.n, err,
                     graft_last_error());
            free(p.b);
            return GRAFT_CHECK_FAIL;
        }
    }
    free(p.b);
    /* Not a model at all, and a missing file. */
    graft_model *m = NULL;
    int err = graft_model_load("/nonexistent/model.onnx", NULL, &m);
    if (err != GRAFT_EIO || !strstr(graft_last_error(), "/nonexistent/model.onnx")) {
        snprintf(msg, msglen, "missing file: %d '%s'", err, graft_last_error());
        return GRAFT_CHECK_FAIL;
    }
    pb junk = {0};
    pb_put(&junk, "GIF89a this is not a network at all", 35);
    char path[64];
    graft_check_write_temp(junk.b, junk.n, path, sizeof path);
    free(junk.b);
    err = graft_model_load(path, NULL, &m);
    unlink(path);
    if (err != GRAFT_ECORRUPT) {
        snprintf(msg, msglen, "junk file: %d '%s'", err, graft_last_error());
        return GRAFT_CHECK_FAIL;
    }
    return GRAFT_CHECK_PASS;
}

/* Activation memory is reused: the arena is smaller than all activations side by side. */
static int check_memory_plan(char *msg, size_t msglen) {
    char path[64];
    graft_model *m = NULL;
    graft_net *net = NULL;
    if (load_variant(0, &m, path, sizeof path)) {
        snprintf(msg, msglen, "load: %s", graft_last_error());
        unlink(path);
        return GRAFT_CHECK_FAIL;
    }
    unlink(path);
    int N = 1, H = 64, W = 64;
    const char *taps[1] = {"logits"};
    setenv("GRAFT_MICROBATCH", "1", 1);
    int err = graft_net_create(m, N, H, W, taps, 1, NULL, &net);
    unsetenv("GRAFT_MICROBATCH");
    int rc = GRAFT_CHECK_PASS;
    if (err) {
        snprintf(msg, msglen, "net: %s", graft_last_error());
        rc = GRAFT_CHECK_FAIL;
    } else {
        /* The NHWC conv output (5 x 64 x 64 floats) is the largest value; everything after it
           is tiny. The arena must hold it plus the small values, not a copy per value. */
        size_t conv_bytes = (size_t)C_OUT * H * W * 4, got = graft_net_activation_bytes(net);
        if (got < conv_bytes || got > conv_bytes + 4096) {
            snprintf(msg, msglen, "arena %zu bytes for a largest activation of %zu", got,
                     conv_bytes);
            rc = GRAFT_CHECK_FAIL;
        }
    }
    graft_net_destroy(net);
    graft_model_destroy(m);
    return rc;
}

const graft_check graft_checks_net[] = {
    {"net", "forward_matches_loops", check_forward},
    {"net", "int8_weights", check_int8_weights},
    {"net", "external_data", check_external_data},
    {"net", "taps", check_taps},
    {"net", "microbatch_equals_batch", check_microbatch},
    {"net", "bad_models", check_bad_models},
    {"net", "memory_plan", check_memory_plan},
    {"net", "fc_as_conv", check_fc_as_conv},
    {NULL, NULL, NULL},
};
