/*
 * pipeline/finetune/act.c: trainable-path activations (ONNX Relu, Clip, LeakyRelu, Sigmoid,
 * Tanh, HardSigmoid, HardSwish, Gelu, Exp, Log, Abs, Sqrt, Sign, and SiLU as TFLite or a
 * fusion names it), and how every layer writes a fused ReLU/ReLU6 into ONNX.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "kernels.h"

typedef struct act_layer {
    graft__tlayer base;
    graft_unary_op op;
} act_layer;

static int act_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    act_layer *a = (act_layer *)l;
    const graft__tval *y = &t->vals[l->out];
    return graft_unary_apply(&a->op, y->data, t->vals[l->in[0]].data, (size_t)n * y->per);
}

static int act_backward(graft_top *t, graft__tlayer *l, int n) {
    act_layer *a = (act_layer *)l;
    graft__tval *x = &t->vals[l->in[0]], *y = &t->vals[l->out];
    if (!x->grad) return 0;
    return graft_unary_backward(&a->op, x->grad, y->grad, x->data, y->data, (size_t)n * y->per);
}

/* A scalar initializer named after the node, for Clip's bounds and the like. */
static int scalar(graft__onnx_builder *b, const char *name, float v) {
    return graft__onnx_initializer(b, name, 0, NULL, &v);
}

int graft__export_unary(graft__onnx_builder *b, const graft_unary_op *op, const char *in,
                        const char *out) {
    char n1[200], n2[200];
    const char *ins[3] = {in, n1, n2};
    graft__onnx_attr at[2] = {{.name = "alpha", .type = GRAFT__ONNX_ATTR_FLOAT, .f = op->alpha},
                              {.name = "beta", .type = GRAFT__ONNX_ATTR_FLOAT, .f = op->beta}};
    static const char *const plain[GRAFT_UNARY_COUNT] = {
        [GRAFT_UNARY_RELU] = "Relu",        [GRAFT_UNARY_SIGMOID] = "Sigmoid",
        [GRAFT_UNARY_TANH] = "Tanh",        [GRAFT_UNARY_HARD_SWISH] = "HardSwish",
        [GRAFT_UNARY_EXP] = "Exp",          [GRAFT_UNARY_LOG] = "Log",
        [GRAFT_UNARY_ABS] = "Abs",          [GRAFT_UNARY_SQRT] = "Sqrt",
        [GRAFT_UNARY_SIGN] = "Sign"};
    if (op->kind < GRAFT_UNARY_COUNT && plain[op->kind])
        return graft__onnx_node(b, plain[op->kind], NULL, &in, 1, &out, 1, NULL, 0);
    switch (op->kind) {
    case GRAFT_UNARY_CLIP: /* opset 11's form: the bounds are inputs */
        snprintf(n1, sizeof n1, "%s.min", out);
        snprintf(n2, sizeof n2, "%s.max", out);
        return scalar(b, n1, op->alpha) || scalar(b, n2, op->beta) ||
               graft__onnx_node(b, "Clip", NULL, ins, 3, &out, 1, NULL, 0);
    case GRAFT_UNARY_LEAKY_RELU:
        return graft__onnx_node(b, "LeakyRelu", NULL, &in, 1, &out, 1, at, 1);
    case GRAFT_UNARY_HARD_SIGMOID:
        return graft__onnx_node(b, "HardSigmoid", NULL, &in, 1, &out, 1, at, 2);
    case GRAFT_UNARY_SILU: /* x * sigmoid(x) */
        snprintf(n1, sizeof n1, "%s.sigmoid", out);
        ins[1] = n1;
        return graft__onnx_node(b, "Sigmoid", NULL, &in, 1, ins + 1, 1, NULL, 0) ||
               graft__onnx_node(b, "Mul", NULL, ins, 2, &out, 1, NULL, 0);
    case GRAFT_UNARY_GELU: { /* 0.5 x (1 + erf(x / sqrt 2)), before opset 20's Gelu */
        char k[200], one[200], half[200], sx[200], ex[200], px[200], hx[200];
        snprintf(k, sizeof k, "%s.rsqrt2", out);
        snprintf(one, sizeof one, "%s.one", out);
        snprintf(half, sizeof half, "%s.half", out);
        snprintf(sx, sizeof sx, "%s.scaled", out);
        snprintf(ex, sizeof ex, "%s.erf", out);
        snprintf(px, sizeof px, "%s.plus1", out);
        snprintf(hx, sizeof hx, "%s.halfx", out);
        const char *m1[2] = {in, k}, *m2 = sx, *m3[2] = {ex, one}, *m4[2] = {in, half};
        const char *m5[2] = {hx, px}, *o1 = ex, *o2 = px, *o3 = hx;
        return scalar(b, k, 0.70710678118654752f) || scalar(b, one, 1.0f) ||
               scalar(b, half, 0.5f) ||
               graft__onnx_node(b, "Mul", NULL, m1, 2, &m2, 1, NULL, 0) ||
               graft__onnx_node(b, "Erf", NULL, &m2, 1, &o1, 1, NULL, 0) ||
               graft__onnx_node(b, "Add", NULL, m3, 2, &o2, 1, NULL, 0) ||
               graft__onnx_node(b, "Mul", NULL, m4, 2, &o3, 1, NULL, 0) ||
               graft__onnx_node(b, "Mul", NULL, m5, 2, &out, 1, NULL, 0);
    }
    default:
        return graft__fail(GRAFT_EUNSUPPORTED, "export: activation kind %d has no ONNX form "
                           "here", (int)op->kind);
    }
}

int graft__export_act(graft__onnx_builder *b, graft_act act, const char *in, const char *out) {
    graft_unary_op op = {act == GRAFT_ACT_RELU ? GRAFT_UNARY_RELU : GRAFT_UNARY_CLIP, 0.0f, 6.0f};
    return graft__export_unary(b, &op, in, out);
}

static int act_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b) {
    const act_layer *a = (const act_layer *)l;
    return graft__export_unary(b, &a->op, t->vals[l->in[0]].name, t->vals[l->out].name);
}

static void act_destroy(graft__tlayer *l) { free(l); }

static const graft__tlayer_vt act_vt = {"Activation", act_forward, act_backward, act_export,
                                        act_destroy};

int graft__tl_act(graft_top *t, const graft__node *nd, int in, int out) {
    if (in < 0)
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): its input is a "
                           "constant", nd->name, nd->src_op);
    act_layer *a = calloc(1, sizeof *a);
    if (!a) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    a->base.vt = &act_vt;
    a->base.node = nd;
    snprintf(a->base.name, sizeof a->base.name, "%s",
             nd->name[0] ? nd->name : t->g->values[nd->out[0]].name);
    a->base.in[0] = in, a->base.n_in = 1, a->base.out = out;
    a->op = nd->a.unary;
    return graft__top_append(t, &a->base);
}
