/*
 * pipeline/finetune/conv.c: a trainable convolution layer (any kernel, stride, dilation,
 * padding, groups; the fused ReLU/ReLU6 of a Conv+BatchNorm+activation the loader made).
 *
 * The weights change at every step, so forward packs them into a fresh plan each pass; a
 * plan costs one pass over the weights, small beside a batch's convolution. Backward runs the
 * activation's derivative on the stored output, then the kernels' data and weight gradients.
 */
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "kernels.h"

typedef struct conv_layer {
    graft__tlayer base;
    graft_conv2d d;            /* pads resolved for the top's input size */
    int H, W;
    int has_bias;
} conv_layer;

static int conv_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    conv_layer *c = (conv_layer *)l;
    const graft_top_param *w = &t->params[l->param0];
    const float *b = c->has_bias ? t->params[l->param0 + 1].data : NULL;
    graft_conv2d_plan *plan;
    int err = graft_conv2d_plan_create(&c->d, w->data, b, &plan);
    if (err) return err;
    err = graft_conv2d_forward(plan, t->vals[l->out].data, t->vals[l->in[0]].data, n, c->H, c->W);
    graft_conv2d_plan_destroy(plan);
    return err;
}

static int conv_backward(graft_top *t, graft__tlayer *l, int n) {
    conv_layer *c = (conv_layer *)l;
    graft__tval *x = &t->vals[l->in[0]], *y = &t->vals[l->out];
    graft_top_param *w = &t->params[l->param0];
    const float *dy;
    int err = graft__act_grad(c->d.act, t->scratch, y->grad, y->data, (size_t)n * y->per, &dy);
    if (!err) err = graft_conv2d_backward_weights(&c->d, w->grad,
                                            c->has_bias ? t->params[l->param0 + 1].grad : NULL,
                                            x->data, dy, n, c->H, c->W, t->conv_ws);
    if (!err && x->grad)
        err = graft_conv2d_backward_data(&c->d, x->grad, dy, w->data, n, c->H, c->W, t->conv_ws);
    return err;
}

static int conv_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b) {
    const conv_layer *c = (const conv_layer *)l;
    const graft_top_param *w = &t->params[l->param0];
    int err = graft__onnx_initializer(b, w->name, 4, w->dims, w->data);
    const char *ins[3] = {t->vals[l->in[0]].name, w->name, NULL};
    if (c->has_bias) {
        const graft_top_param *bp = &t->params[l->param0 + 1];
        err |= graft__onnx_initializer(b, bp->name, 1, bp->dims, bp->data);
        ins[2] = bp->name;
    }
    graft__onnx_attr a[5] = {
        {.name = "kernel_shape", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 2,
         .ints = {c->d.kernel_h, c->d.kernel_w}},
        {.name = "strides", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 2,
         .ints = {c->d.stride_h, c->d.stride_w}},
        {.name = "dilations", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 2,
         .ints = {c->d.dilation_h, c->d.dilation_w}},
        {.name = "pads", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 4,
         .ints = {c->d.pad_top, c->d.pad_left, c->d.pad_bottom, c->d.pad_right}},
        {.name = "group", .type = GRAFT__ONNX_ATTR_INT, .i = c->d.groups},
    };
    char pre[160];
    snprintf(pre, sizeof pre, "%s.preact", t->vals[l->out].name);
    const char *out = t->vals[l->out].name;
    const char *conv_out = c->d.act == GRAFT_ACT_NONE ? out : pre;
    err |= graft__onnx_node(b, "Conv", l->name, ins, c->has_bias ? 3 : 2, &conv_out, 1, a, 5);
    if (!err && c->d.act != GRAFT_ACT_NONE)
        err = graft__export_act(b, c->d.act, pre, out);
    return err;
}

static void conv_destroy(graft__tlayer *l) { free(l); }

static const graft__tlayer_vt conv_vt = {"Conv", conv_forward, conv_backward, conv_export,
                                         conv_destroy};

int graft__tl_conv(graft_top *t, const graft__node *nd, int in, int out) {
    const graft__graph *g = t->g;
    const graft__value *w = &g->values[nd->in[1]];
    const graft__value *bv = nd->n_in > 2 && nd->in[2] >= 0 ? &g->values[nd->in[2]] : NULL;
    if (in < 0 || !w->data || w->rank != 4 || (bv && !bv->data))
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): only convolutions "
                           "with constant weights of rank 4 train", nd->name, nd->src_op);
    conv_layer *c = calloc(1, sizeof *c);
    if (!c) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    c->base.vt = &conv_vt;
    c->base.node = nd;
    snprintf(c->base.name, sizeof c->base.name, "%s", nd->name[0] ? nd->name : g->values[nd->out[0]].name);
    c->base.in[0] = in, c->base.n_in = 1, c->base.out = out;
    const graft__tval *x = &t->vals[in];
    c->H = (int)x->dims[2], c->W = (int)x->dims[3];
    c->d = nd->a.conv.d;
    c->d.C_out = (int)w->dims[0];
    c->d.C_in = (int)w->dims[1] * c->d.groups;
    c->d.kernel_h = (int)w->dims[2];
    c->d.kernel_w = (int)w->dims[3];
    int pin[4] = {c->d.pad_top, c->d.pad_left, c->d.pad_bottom, c->d.pad_right}, p[4];
    graft__resolve_pads(nd->a.conv.auto_pad, c->H, c->W, c->d.kernel_h, c->d.kernel_w,
                        c->d.stride_h, c->d.stride_w, c->d.dilation_h, c->d.dilation_w, pin, p);
    c->d.pad_top = p[0], c->d.pad_left = p[1], c->d.pad_bottom = p[2], c->d.pad_right = p[3];
    int OH, OW; /* only checked here: the kernels derive them again */
    int err = graft_conv2d_output_size(&c->d, c->H, c->W, &OH, &OW);
    if (err) {
        free(c);
        return err;
    }
    c->has_bias = bv != NULL;
    c->base.param0 = t->n_params;
    int pw = graft__top_add_param(t, w->name, c->base.name, 4, w->dims, w->data, 0.1f, 0);
    if (pw < 0) {
        free(c);
        return pw;
    }
    int fan_in = (int)(w->dims[1] * w->dims[2] * w->dims[3]);
    graft__top_param_init(t, pw, fan_in);
    c->base.n_params = 1;
    if (bv) {
        int64_t bd[1] = {w->dims[0]};
        int pb = graft__top_add_param(t, bv->name, c->base.name, 1, bd, bv->data, 0.1f, 0);
        if (pb < 0) {
            free(c);
            return pb;
        }
        graft__top_param_init(t, pb, fan_in);
        c->base.n_params = 2;
    }
    size_t ws = graft_conv2d_backward_workspace(&c->d, t->N, c->H, c->W);
    if (ws > t->conv_ws_floats) t->conv_ws_floats = ws;
    return graft__top_append(t, &c->base);
}
