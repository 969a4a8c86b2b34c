/*
 * tests/onnx/check_onnx_ops.c: graft's NN kernels on the ONNX node conformance tests of
 * Debian's libonnx-testdata (data/node and the pytorch-converted Conv2d/Pool2d/BatchNorm2d
 * tests). Each test's single node is mapped to the kernel that implements it (NCHW tensors are
 * converted to graft's NHWC and back), run on test_data_set_0, and compared with the expected
 * outputs within ONNX's backend-test tolerance (rtol 1e-3, atol 1e-5).
 *
 * A check covers one family of tests by name prefix and reports "passed/total" with the
 * skipped ones named; it fails when any test it can run disagrees. A test is skipped, never
 * counted as passed, when it needs what these kernels do not offer: a graph of several nodes
 * (the *_expanded tests, for the runtime issue), 1-D or 3-D tensors, an integer element type,
 * or extra outputs (argmax indices, training-mode statistics).
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../check.h"
#include "graft/graft.h"
#include "graft/kernels.h"
#include "onnx_case.h"

enum { RUN_OK = 0, RUN_SKIP = 1, RUN_FAIL = 2 };


/* ---- attributes ------------------------------------------------------------------------ */

static int64_t attr_i(const graft_onnx_node *n, const char *name, int64_t dflt) {
    const graft_onnx_attr *a = graft_onnx_node_attr(n, name);
    return a && a->type == GRAFT_ONNX_ATTR_INT ? a->i : dflt;
}
static float attr_f(const graft_onnx_node *n, const char *name, float dflt) {
    const graft_onnx_attr *a = graft_onnx_node_attr(n, name);
    return a && a->type == GRAFT_ONNX_ATTR_FLOAT ? a->f : dflt;
}
/* Copies up to `count` ints of an INTS attribute; returns how many it had (0 when absent). */
static size_t attr_ints(const graft_onnx_node *n, const char *name, int64_t *dst, size_t count) {
    const graft_onnx_attr *a = graft_onnx_node_attr(n, name);
    if (!a || a->type != GRAFT_ONNX_ATTR_INTS) return 0;
    for (size_t i = 0; i < a->int_count && i < count; i++) dst[i] = a->ints[i];
    return a->int_count;
}
static int attr_s_is(const graft_onnx_node *n, const char *name, const char *value) {
    const graft_onnx_attr *a = graft_onnx_node_attr(n, name);
    if (!a || a->type != GRAFT_ONNX_ATTR_STRING) return strcmp(value, "NOTSET") == 0;
    return a->s.len == strlen(value) && memcmp(a->s.data, value, a->s.len) == 0;
}

/*
 * The 2-D window geometry shared by Conv and the pools: kernel, strides, dilations and pads,
 * with auto_pad SAME_UPPER/SAME_LOWER resolved as ONNX defines it (the odd pixel at the end for
 * SAME_UPPER, at the start for SAME_LOWER).
 */
typedef struct window {
    int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} window;

static int window_from(const graft_onnx_node *n, int kh, int kw, int H, int W, window *w,
                       char *msg, size_t len) {
    int64_t v[4];
    *w = (window){kh, kw, 1, 1, 1, 1, 0, 0, 0, 0};
    if (attr_ints(n, "strides", v, 2) == 2) w->sh = (int)v[0], w->sw = (int)v[1];
    if (attr_ints(n, "dilations", v, 2) == 2) w->dh = (int)v[0], w->dw = (int)v[1];
    if (attr_ints(n, "pads", v, 4) == 4)
        w->pt = (int)v[0], w->pl = (int)v[1], w->pb = (int)v[2], w->pr = (int)v[3];
    int upper = attr_s_is(n, "auto_pad", "SAME_UPPER"), lower = attr_s_is(n, "auto_pad", "SAME_LOWER");
    if (upper || lower) {
        int out_h = (H + w->sh - 1) / w->sh, out_w = (W + w->sw - 1) / w->sw;
        int th = (out_h - 1) * w->sh + (kh - 1) * w->dh + 1 - H;
        int tw = (out_w - 1) * w->sw + (kw - 1) * w->dw + 1 - W;
        th = th > 0 ? th : 0, tw = tw > 0 ? tw : 0;
        w->pt = upper ? th / 2 : th - th / 2, w->pb = th - w->pt;
        w->pl = upper ? tw / 2 : tw - tw / 2, w->pr = tw - w->pl;
    } else if (!attr_s_is(n, "auto_pad", "NOTSET") && !attr_s_is(n, "auto_pad", "VALID")) {
        return graft_check_say(msg, len, RUN_SKIP, "auto_pad value not supported");
    }
    return RUN_OK;
}

/* ---- tensors ---------------------------------------------------------------------------- */

/*
 * The node's input i by name: a test input, or an initializer converted to float (owned by
 * `owned`, freed after the test). Returns 0 for an absent (empty-named or missing) input.
 */
typedef struct owned_list {
    float *p[16];
    graft_onnx_case_tensor t[16];
    int n;
} owned_list;

static const graft_onnx_case_tensor *node_input(const graft_onnx_case *c, size_t i,
                                                owned_list *owned) {
    const graft_onnx_node *n = c->node;
    if (i >= n->input_count || !n->inputs[i][0]) return NULL;
    for (size_t k = 0; k < c->input_count; k++)
        if (c->inputs[k].name && !strcmp(c->inputs[k].name, n->inputs[i])) return &c->inputs[k];
    const graft_onnx_tensor *t = graft_onnx_graph_initializer(c->graph, n->inputs[i]);
    if (!t || owned->n == 16) return NULL;
    float *data = malloc(sizeof(float) * (t->numel ? t->numel : 1));
    if (!data || graft_onnx_tensor_to_float(t, data, t->numel)) {
        free(data);
        return NULL;
    }
    graft_onnx_case_tensor *ct = &owned->t[owned->n];
    *ct = (graft_onnx_case_tensor){t->name, t->data_type, t->dims, t->rank, t->numel, data,
                                   NULL, t};
    owned->p[owned->n++] = data;
    return ct;
}

static int is_4d_float(const graft_onnx_case_tensor *t) {
    return t && t->rank == 4 && t->data_type == GRAFT_ONNX_DTYPE_FLOAT;
}

static float *nhwc_of(const graft_onnx_case_tensor *t) {
    float *x = malloc(sizeof(float) * (t->numel ? t->numel : 1));
    if (x)
        graft_nchw_to_nhwc(x, t->data, (int)t->dims[0], (int)t->dims[1], (int)t->dims[2],
                           (int)t->dims[3]);
    return x;
}

/* ---- the ops ---------------------------------------------------------------------------- */

static int run_conv(const graft_onnx_case *c, float *out, char *msg, size_t len,
                    owned_list *own) {
    const graft_onnx_node *n = c->node;
    const graft_onnx_case_tensor *X = node_input(c, 0, own), *Wt = node_input(c, 1, own);
    const graft_onnx_case_tensor *B = node_input(c, 2, own);
    const graft_onnx_case_tensor *Y = &c->outputs[0];
    if (!is_4d_float(X) || !is_4d_float(Wt) || !is_4d_float(Y))
        return graft_check_say(msg, len, RUN_SKIP, "not a 2-D float convolution");
    int N = (int)X->dims[0], C = (int)X->dims[1], H = (int)X->dims[2], W = (int)X->dims[3];
    window w;
    int st = window_from(n, (int)Wt->dims[2], (int)Wt->dims[3], H, W, &w, msg, len);
    if (st) return st;
    graft_conv2d d = {C, (int)Wt->dims[0], (int)attr_i(n, "group", 1), w.kh, w.kw, w.sh, w.sw,
                      w.dh, w.dw, w.pt, w.pl, w.pb, w.pr, GRAFT_ACT_NONE};
    graft_conv2d_plan *plan = NULL;
    float *x = nhwc_of(X), *y = malloc(sizeof(float) * Y->numel);
    int err = x && y ? graft_conv2d_plan_create(&d, Wt->data, B ? B->data : NULL, &plan)
                     : GRAFT_ENOMEM;
    if (!err) err = graft_conv2d_forward(plan, y, x, N, H, W);
    if (!err)
        graft_nhwc_to_nchw(out, y, N, (int)Y->dims[1], (int)Y->dims[2], (int)Y->dims[3]);
    graft_conv2d_plan_destroy(plan);
    free(x);
    free(y);
    return err ? graft_check_say(msg, len, RUN_FAIL, "%s", graft_last_error()) : RUN_OK;
}

static int run_pool(const graft_onnx_case *c, float *out, char *msg, size_t len, int kind,
                    int global, owned_list *own) {
    const graft_onnx_node *n = c->node;
    const graft_onnx_case_tensor *X = node_input(c, 0, own), *Y = &c->outputs[0];
    if (!is_4d_float(X) || c->output_count != 1)
        return graft_check_say(msg, len, RUN_SKIP, "not a 2-D float pool with one output");
    int N = (int)X->dims[0], C = (int)X->dims[1], H = (int)X->dims[2], W = (int)X->dims[3];
    float *x = nhwc_of(X), *y = malloc(sizeof(float) * Y->numel);
    int err = x && y ? GRAFT_OK : GRAFT_ENOMEM;
    if (!err && global) {
        err = graft_global_pool_nhwc(kind, y, x, N, H, W, C);
        if (!err) memcpy(out, y, sizeof(float) * Y->numel); /* (N, C, 1, 1) == (N, C) */
    } else if (!err) {
        int64_t k[2] = {0, 0};
        attr_ints(n, "kernel_shape", k, 2);
        window w;
        int st = window_from(n, (int)k[0], (int)k[1], H, W, &w, msg, len);
        if (st) {
            free(x), free(y);
            return st;
        }
        graft_pool2d p = {kind, w.kh, w.kw, w.sh, w.sw, w.dh, w.dw, w.pt, w.pl, w.pb, w.pr,
                          (int)attr_i(n, "ceil_mode", 0), (int)attr_i(n, "count_include_pad", 0)};
        err = graft_pool2d_nhwc(&p, y, x, N, H, W, C);
        if (!err) graft_nhwc_to_nchw(out, y, N, C, (int)Y->dims[2], (int)Y->dims[3]);
    }
    free(x);
    free(y);
    return err ? graft_check_say(msg, len, RUN_FAIL, "%s", graft_last_error()) : RUN_OK;
}

static int run_unary(const graft_onnx_case *c, float *out, char *msg, size_t len,
                     owned_list *own) {
    const graft_onnx_node *n = c->node;
    const char *op = n->op_type;
    graft_unary_op u = {GRAFT_UNARY_RELU, 0, 0};
    if (!strcmp(op, "Relu")) {
        u.kind = GRAFT_UNARY_RELU;
    } else if (!strcmp(op, "Sigmoid")) {
        u.kind = GRAFT_UNARY_SIGMOID;
    } else if (!strcmp(op, "Tanh")) {
        u.kind = GRAFT_UNARY_TANH;
    } else if (!strcmp(op, "HardSwish")) {
        u.kind = GRAFT_UNARY_HARD_SWISH;
    } else if (!strcmp(op, "LeakyRelu")) {
        u = (graft_unary_op){GRAFT_UNARY_LEAKY_RELU, attr_f(n, "alpha", 0.01f), 0};
    } else if (!strcmp(op, "HardSigmoid")) {
        u = (graft_unary_op){GRAFT_UNARY_HARD_SIGMOID, attr_f(n, "alpha", 0.2f),
                             attr_f(n, "beta", 0.5f)};
    } else if (!strcmp(op, "Clip")) {
        /* Opset 11 moved min and max from attributes to optional inputs. */
        u = (graft_unary_op){GRAFT_UNARY_CLIP, attr_f(n, "min", -INFINITY),
                             attr_f(n, "max", INFINITY)};
        for (size_t i = 1; i <= 2; i++) {
            const graft_onnx_case_tensor *bound = node_input(c, i, own);
            if (!bound) continue;
            if (bound->numel != 1) return graft_check_say(msg, len, RUN_SKIP, "non-scalar bound");
            if (i == 1) u.alpha = bound->data[0];
            if (i == 2) u.beta = bound->data[0];
        }
    } else {
        return graft_check_say(msg, len, RUN_SKIP, "no kernel for %s", op);
    }
    const graft_onnx_case_tensor *X = node_input(c, 0, own);
    if (!X || X->data_type != GRAFT_ONNX_DTYPE_FLOAT)
        return graft_check_say(msg, len, RUN_SKIP, "integer tensor");
    int err = graft_unary_apply(&u, out, X->data, X->numel);
    return err ? graft_check_say(msg, len, RUN_FAIL, "%s", graft_last_error()) : RUN_OK;
}

/* Softmax over `axis`: opsets < 13 flatten from axis on; 13+ normalise along axis alone. */
static int run_softmax(const graft_onnx_case *c, float *out, char *msg, size_t len, int log) {
    const graft_onnx_case_tensor *X = &c->inputs[0];
    int rank = (int)X->rank;
    int64_t axis = attr_i(c->node, "axis", c->opset >= 13 ? -1 : 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return graft_check_say(msg, len, RUN_FAIL, "axis out of range");
    size_t outer = 1, D = 1, inner = 1;
    for (int i = 0; i < rank; i++) {
        if (i < axis) outer *= (size_t)X->dims[i];
        else if (i == axis || c->opset < 13) D *= (size_t)X->dims[i];
        else inner *= (size_t)X->dims[i];
    }
    int err;
    if (inner == 1) {
        err = graft_softmax(out, X->data, outer, D, log);
    } else {
        /* Gather each strided row, normalise it, scatter it back. */
        float *row = malloc(sizeof(float) * D * 2);
        if (!row) return graft_check_say(msg, len, RUN_FAIL, "out of memory");
        err = GRAFT_OK;
        for (size_t o = 0; o < outer && !err; o++)
            for (size_t i = 0; i < inner && !err; i++) {
                for (size_t d = 0; d < D; d++) row[d] = X->data[(o * D + d) * inner + i];
                err = graft_softmax(row + D, row, 1, D, log);
                for (size_t d = 0; d < D; d++) out[(o * D + d) * inner + i] = row[D + d];
            }
        free(row);
    }
    return err ? graft_check_say(msg, len, RUN_FAIL, "%s", graft_last_error()) : RUN_OK;
}

static int run_lrn(const graft_onnx_case *c, float *out, char *msg, size_t len) {
    const graft_onnx_case_tensor *X = &c->inputs[0];
    if (!is_4d_float(X)) return graft_check_say(msg, len, RUN_SKIP, "not a 4-D float tensor");
    int N = (int)X->dims[0], C = (int)X->dims[1], H = (int)X->dims[2], W = (int)X->dims[3];
    float *x = nhwc_of(X), *y = malloc(sizeof(float) * X->numel);
    int err = x && y ? graft_lrn_nhwc(y, x, (size_t)N * H * W, (size_t)C,
                                      (int)attr_i(c->node, "size", 0),
                                      attr_f(c->node, "alpha", 1e-4f),
                                      attr_f(c->node, "beta", 0.75f),
                                      attr_f(c->node, "bias", 1.0f))
                     : GRAFT_ENOMEM;
    if (!err) graft_nhwc_to_nchw(out, y, N, C, H, W);
    free(x);
    free(y);
    return err ? graft_check_say(msg, len, RUN_FAIL, "%s", graft_last_error()) : RUN_OK;
}

static int run_batchnorm(const graft_onnx_case *c, float *out, char *msg, size_t len,
                         owned_list *own) {
    const graft_onnx_case_tensor *X = node_input(c, 0, own);
    const graft_onnx_case_tensor *sc = node_input(c, 1, own), *bi = node_input(c, 2, own);
    const graft_onnx_case_tensor *mu = node_input(c, 3, own), *va = node_input(c, 4, own);
    if (!X || !sc || !bi || !mu || !va) return graft_check_say(msg, len, RUN_FAIL, "missing an input");
    if (c->output_count != 1 || attr_i(c->node, "training_mode", 0))
        return graft_check_say(msg, len, RUN_SKIP, "training mode (running statistics as outputs)");
    if (X->rank < 2 || X->data_type != GRAFT_ONNX_DTYPE_FLOAT)
        return graft_check_say(msg, len, RUN_SKIP, "not a float tensor with channels");
    /* Any rank: (N, C, spatial...) is NHWC-like after moving C last. */
    int N = (int)X->dims[0], C = (int)X->dims[1], S = 1;
    for (size_t i = 2; i < X->rank; i++) S *= (int)X->dims[i];
    float *x = malloc(sizeof(float) * X->numel), *y = malloc(sizeof(float) * X->numel);
    int err = x && y ? GRAFT_OK : GRAFT_ENOMEM;
    if (!err) {
        graft_nchw_to_nhwc(x, X->data, N, C, S, 1);
        err = graft_batchnorm_nhwc(y, x, (size_t)N * S, C, sc->data, bi->data, mu->data,
                                   va->data, attr_f(c->node, "epsilon", 1e-5f));
    }
    if (!err) graft_nhwc_to_nchw(out, y, N, C, S, 1);
    free(x);
    free(y);
    return err ? graft_check_say(msg, len, RUN_FAIL, "%s", graft_last_error()) : RUN_OK;
}

static int run_binary(const graft_onnx_case *c, float *out, char *msg, size_t len, int op) {
    const graft_onnx_case_tensor *A = &c->inputs[0], *B = &c->inputs[1], *Y = &c->outputs[0];
    if (A->data_type != GRAFT_ONNX_DTYPE_FLOAT || B->data_type != GRAFT_ONNX_DTYPE_FLOAT)
        return graft_check_say(msg, len, RUN_SKIP, "integer tensor");
    int err = graft_binary_broadcast(op, out, Y->dims, (int)Y->rank, A->data, A->dims,
                                     (int)A->rank, B->data, B->dims, (int)B->rank);
    return err ? graft_check_say(msg, len, RUN_FAIL, "%s", graft_last_error()) : RUN_OK;
}

static int run_concat(const graft_onnx_case *c, float *out, char *msg, size_t len) {
    const float *in[16];
    const int64_t *dims[16];
    if (c->input_count > 16) return graft_check_say(msg, len, RUN_SKIP, "too many inputs for this test");
    for (size_t i = 0; i < c->input_count; i++) {
        if (c->inputs[i].data_type != GRAFT_ONNX_DTYPE_FLOAT)
            return graft_check_say(msg, len, RUN_SKIP, "integer tensor");
        in[i] = c->inputs[i].data;
        dims[i] = c->inputs[i].dims;
    }
    int err = graft_concat(out, in, dims, (int)c->input_count, (int)c->inputs[0].rank,
                           (int)attr_i(c->node, "axis", 0));
    return err ? graft_check_say(msg, len, RUN_FAIL, "%s", graft_last_error()) : RUN_OK;
}

/* Runs the node of `c` into out (shaped as its first expected output). */
static int run_node(const graft_onnx_case *c, float *out, char *msg, size_t len,
                    owned_list *own) {
    const char *op = c->node->op_type;
    if (!strcmp(op, "Conv")) return run_conv(c, out, msg, len, own);
    if (!strcmp(op, "MaxPool")) return run_pool(c, out, msg, len, GRAFT_POOL_MAX, 0, own);
    if (!strcmp(op, "AveragePool")) return run_pool(c, out, msg, len, GRAFT_POOL_AVG, 0, own);
    if (!strcmp(op, "GlobalMaxPool")) return run_pool(c, out, msg, len, GRAFT_POOL_MAX, 1, own);
    if (!strcmp(op, "GlobalAveragePool"))
        return run_pool(c, out, msg, len, GRAFT_POOL_AVG, 1, own);
    if (!strcmp(op, "BatchNormalization")) return run_batchnorm(c, out, msg, len, own);
    /* The rest take every input from the test data. */
    for (size_t i = 0; i < c->node->input_count; i++)
        if (c->node->inputs[i][0] && !node_input(c, i, own))
            return graft_check_say(msg, len, RUN_SKIP, "input %s is neither test data nor an initializer",
                       c->node->inputs[i]);
    if (!strcmp(op, "Softmax")) return run_softmax(c, out, msg, len, 0);
    if (!strcmp(op, "LogSoftmax")) return run_softmax(c, out, msg, len, 1);
    if (!strcmp(op, "LRN")) return run_lrn(c, out, msg, len);
    if (!strcmp(op, "Add")) return run_binary(c, out, msg, len, GRAFT_BINARY_ADD);
    if (!strcmp(op, "Mul")) return run_binary(c, out, msg, len, GRAFT_BINARY_MUL);
    if (!strcmp(op, "Concat")) return run_concat(c, out, msg, len);
    return run_unary(c, out, msg, len, own);
}

/* Loads, runs and compares one test directory. */
static int run_case(const char *dir, char *msg, size_t len) {
    graft_onnx_case *c = NULL;
    char why[512] = "";
    int err = graft_onnx_case_load(dir, &c, why, sizeof why);
    if (err == GRAFT_EUNSUPPORTED) return graft_check_say(msg, len, RUN_SKIP, "%s", why);
    if (err) return graft_check_say(msg, len, RUN_FAIL, "load: %s", why);
    int st;
    if (!c->node) {
        st = graft_check_say(msg, len, RUN_SKIP, "a graph of several nodes");
    } else if (c->output_count < 1 || c->outputs[0].data_type != GRAFT_ONNX_DTYPE_FLOAT) {
        st = graft_check_say(msg, len, RUN_SKIP, "non-float output");
    } else {
        const graft_onnx_case_tensor *Y = &c->outputs[0];
        float *out = calloc(Y->numel ? Y->numel : 1, sizeof(float));
        owned_list own = {.n = 0};
        st = out ? run_node(c, out, msg, len, &own) : graft_check_say(msg, len, RUN_FAIL, "out of memory");
        for (int k = 0; k < own.n; k++) free(own.p[k]);
        for (size_t i = 0; st == RUN_OK && i < Y->numel; i++) {
            double want = Y->data[i], got = out[i];
            if (!(fabs(got - want) <= 1e-5 + 1e-3 * fabs(want)) &&
                !(isinf(want) && got == want))
                st = graft_check_say(msg, len, RUN_FAIL, "%s: output[%zu] = %.7g, expected %.7g",
                          c->node->op_type, i, got, want);
        }
        free(out);
    }
    graft_onnx_case_destroy(c);
    return st;
}

/*
 * Runs every test under data/<sub> whose name starts with one of `prefixes` (NULL-ended);
 * the message lists the counts and the skipped tests.
 */
static int run_family(const char *sub, const char *const *prefixes, int min_passed, char *msg,
                      size_t len) {
    char root[1024];
    snprintf(root, sizeof root, "%s/%s", graft_onnx_case_root(), sub);
    struct stat sb;
    if (stat(root, &sb) != 0)
        return graft_check_say(msg, len, GRAFT_CHECK_SKIP, "%s is absent: install Debian's "
                   "libonnx-testdata to run the ONNX conformance checks", root);
    int passed = 0, total = 0, skipped = 0;
    char skips[600] = "";
    for (const char *const *p = prefixes; *p; p++) {
        char **names = NULL;
        size_t count = 0;
        char why[256];
        if (graft_onnx_case_list(root, *p, &names, &count, why, sizeof why))
            return graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s", why);
        for (size_t i = 0; i < count; i++) {
            char dir[2048], one[400] = "";
            snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
            int st = run_case(dir, one, sizeof one);
            total++;
            if (st == RUN_FAIL) {
                graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s: %s", names[i], one);
                graft_onnx_case_list_free(names, count);
                return GRAFT_CHECK_FAIL;
            }
            if (st == RUN_SKIP) {
                skipped++;
                size_t at = strlen(skips);
                snprintf(skips + at, sizeof skips - at, "%s%s", at ? ", " : "", names[i]);
            } else {
                passed++;
            }
        }
        graft_onnx_case_list_free(names, count);
    }
    printf("onnx conformance %s/%s*...: %d/%d passed, %d skipped%s%s\n", sub, prefixes[0] ? prefixes[0] : "",
           passed, total, skipped, skipped ? ": " : "", skips);
    if (passed < min_passed)
        return graft_check_say(msg, len, GRAFT_CHECK_FAIL, "only %d of %d tests ran (expected at least %d); "
                   "skipped: %s", passed, total, min_passed, skips);
    graft_check_say(msg, len, GRAFT_CHECK_PASS, "%d/%d passed, %d skipped", passed, total, skipped);
    return GRAFT_CHECK_PASS;
}

#define FAMILY(fn, sub, min, ...)                                                             \
    static int fn(char *msg, size_t len) {                                                    \
        static const char *const prefixes[] = {__VA_ARGS__, NULL};                           \
        return run_family(sub, prefixes, min, msg, len);                                      \
    }

FAMILY(conv_node, "node", 4, "test_conv_")
FAMILY(conv_pytorch, "pytorch-converted", 11, "test_Conv2d")
FAMILY(pool_node, "node", 22, "test_maxpool_", "test_averagepool_", "test_globalaveragepool",
       "test_globalmaxpool")
FAMILY(pool_pytorch, "pytorch-converted", 4, "test_AvgPool2d", "test_MaxPool2d")
FAMILY(activation_node, "node", 18, "test_relu", "test_clip", "test_leakyrelu", "test_sigmoid",
       "test_hardsigmoid", "test_hardswish")
FAMILY(softmax_node, "node", 14, "test_softmax_", "test_logsoftmax_")
FAMILY(lrn_node, "node", 2, "test_lrn")
FAMILY(batchnorm_node, "node", 2, "test_batchnorm_")
FAMILY(batchnorm_pytorch, "pytorch-converted", 2, "test_BatchNorm2d_")
FAMILY(eltwise_node, "node", 5, "test_add", "test_mul")
FAMILY(concat_node, "node", 12, "test_concat_")

const graft_check graft_checks_onnx_ops[] = {
    {"onnx_ops", "conv", conv_node},
    {"onnx_ops", "conv_pytorch", conv_pytorch},
    {"onnx_ops", "pool", pool_node},
    {"onnx_ops", "pool_pytorch", pool_pytorch},
    {"onnx_ops", "activations", activation_node},
    {"onnx_ops", "softmax", softmax_node},
    {"onnx_ops", "lrn", lrn_node},
    {"onnx_ops", "batchnorm", batchnorm_node},
    {"onnx_ops", "batchnorm_pytorch", batchnorm_pytorch},
    {"onnx_ops", "add_mul", eltwise_node},
    {"onnx_ops", "concat", concat_node},
    {NULL, NULL, NULL},
};
