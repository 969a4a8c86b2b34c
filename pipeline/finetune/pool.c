/*
 * pipeline/finetune/pool.c: trainable-path pooling: MaxPool / AveragePool, GlobalAveragePool /
 * GlobalMaxPool, and ReduceMean / ReduceMax over H and W (how some exporters write global
 * pooling). No parameters; backward routes or spreads the gradient through the kernels.
 */
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "kernels.h"

typedef struct pool_layer {
    graft__tlayer base;
    int global;                /* 1: global pooling of kind gkind */
    int gkind;
    graft_pool2d p;            /* pads resolved */
    int H, W, C;
    int keep_rank4;            /* the output keeps (N, C, 1, 1) */
} pool_layer;

static int pool_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    pool_layer *p = (pool_layer *)l;
    const float *x = t->vals[l->in[0]].data;
    float *y = t->vals[l->out].data;
    if (p->global) return graft_global_pool_nhwc(p->gkind, y, x, n, p->H, p->W, p->C);
    return graft_pool2d_nhwc(&p->p, y, x, n, p->H, p->W, p->C);
}

static int pool_backward(graft_top *t, graft__tlayer *l, int n) {
    pool_layer *p = (pool_layer *)l;
    graft__tval *x = &t->vals[l->in[0]];
    const float *dy = t->vals[l->out].grad;
    if (!x->grad) return 0;
    if (p->global)
        return graft_global_pool_backward_nhwc(p->gkind, x->grad, dy, x->data, n, p->H, p->W,
                                               p->C);
    return graft_pool2d_backward_nhwc(&p->p, x->grad, dy, x->data, n, p->H, p->W, p->C);
}

static int pool_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b) {
    const pool_layer *p = (const pool_layer *)l;
    const char *in = t->vals[l->in[0]].name, *out = t->vals[l->out].name;
    if (p->global) {
        const char *op = p->gkind == GRAFT_POOL_MAX ? "GlobalMaxPool" : "GlobalAveragePool";
        if (p->keep_rank4) return graft__onnx_node(b, op, l->name, &in, 1, &out, 1, NULL, 0);
        char mid[160];
        snprintf(mid, sizeof mid, "%s.pooled", out);
        const char *m = mid;
        graft__onnx_attr ax = {.name = "axis", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
        return graft__onnx_node(b, op, l->name, &in, 1, &m, 1, NULL, 0) ||
               graft__onnx_node(b, "Flatten", NULL, &m, 1, &out, 1, &ax, 1);
    }
    const graft_pool2d *q = &p->p;
    graft__onnx_attr a[6] = {
        {.name = "kernel_shape", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 2,
         .ints = {q->kernel_h, q->kernel_w}},
        {.name = "strides", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 2,
         .ints = {q->stride_h, q->stride_w}},
        {.name = "pads", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 4,
         .ints = {q->pad_top, q->pad_left, q->pad_bottom, q->pad_right}},
        {.name = "ceil_mode", .type = GRAFT__ONNX_ATTR_INT, .i = q->ceil_mode},
        {.name = q->kind == GRAFT_POOL_MAX ? "dilations" : "count_include_pad",
         .type = q->kind == GRAFT_POOL_MAX ? GRAFT__ONNX_ATTR_INTS : GRAFT__ONNX_ATTR_INT,
         .n_ints = 2, .ints = {q->dilation_h, q->dilation_w}, .i = q->count_include_pad},
    };
    /* MaxPool's dilations exist from opset 10 on; leave them out when they are 1. */
    int n_attrs = q->kind == GRAFT_POOL_MAX && q->dilation_h == 1 && q->dilation_w == 1 ? 4 : 5;
    return graft__onnx_node(b, q->kind == GRAFT_POOL_MAX ? "MaxPool" : "AveragePool", l->name,
                            &in, 1, &out, 1, a, n_attrs);
}

static void pool_destroy(graft__tlayer *l) { free(l); }

static const graft__tlayer_vt pool_vt = {"Pool", pool_forward, pool_backward, pool_export,
                                         pool_destroy};

int graft__tl_pool(graft_top *t, const graft__node *nd, int in, int out) {
    const graft__tval *x = in >= 0 ? &t->vals[in] : NULL;
    if (!x || x->rank != 4)
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): pooling trains on "
                           "(N, C, H, W) inputs only", nd->name, nd->src_op);
    pool_layer *p = calloc(1, sizeof *p);
    if (!p) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    p->base.vt = &pool_vt;
    p->base.node = nd;
    snprintf(p->base.name, sizeof p->base.name, "%s",
             nd->name[0] ? nd->name : t->g->values[nd->out[0]].name);
    p->base.in[0] = in, p->base.n_in = 1, p->base.out = out;
    p->C = (int)x->dims[1], p->H = (int)x->dims[2], p->W = (int)x->dims[3];
    p->keep_rank4 = t->vals[out].rank == 4;
    if (nd->op == GRAFT__OP_GLOBAL_POOL) {
        p->global = 1;
        p->gkind = nd->a.gpool;
    } else if (nd->op == GRAFT__OP_REDUCE) {
        /* Only a reduction over exactly H and W is a global pooling. */
        const graft__tval *y = &t->vals[out];
        int ok = (nd->a.axes.kind == GRAFT__REDUCE_MEAN || nd->a.axes.kind == GRAFT__REDUCE_MAX) &&
                 y->per == (size_t)p->C && (y->rank == 2 || y->rank == 4);
        if (!ok) {
            free(p);
            return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): only a mean or "
                               "max over H and W trains", nd->name, nd->src_op);
        }
        p->global = 1;
        p->gkind = nd->a.axes.kind == GRAFT__REDUCE_MAX ? GRAFT_POOL_MAX : GRAFT_POOL_AVG;
    } else {
        p->p = nd->a.pool.p;
        int pin[4] = {p->p.pad_top, p->p.pad_left, p->p.pad_bottom, p->p.pad_right}, pp[4];
        graft__resolve_pads(nd->a.pool.auto_pad, p->H, p->W, p->p.kernel_h, p->p.kernel_w,
                            p->p.stride_h, p->p.stride_w, p->p.dilation_h, p->p.dilation_w, pin,
                            pp);
        p->p.pad_top = pp[0], p->p.pad_left = pp[1], p->p.pad_bottom = pp[2];
        p->p.pad_right = pp[3];
    }
    return graft__top_append(t, &p->base);
}
