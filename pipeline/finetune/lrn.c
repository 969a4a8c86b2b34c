/*
 * pipeline/finetune/lrn.c: trainable-path ONNX LRN (local response normalisation across
 * channels, as in the model zoo's AlexNet and GoogLeNet). No parameters: forward is
 * graft_lrn_nhwc, backward graft_lrn_backward_nhwc, which recomputes the normaliser from the
 * input value the top keeps for the step, so the layer stores nothing of its own. Export writes
 * the LRN node back with its four attributes.
 *
 * The window is ONNX's: an even size reaches one channel further after c than before it
 * (torch.nn.LocalResponseNorm does the opposite), and that is what the export keeps.
 */
#include <stdio.h>
#include <stdlib.h>

#include "layers.h"
#include "kernels.h"

typedef struct lrn_layer {
    graft__tlayer base;
    int size;
    float alpha, beta, bias;
    size_t C;
} lrn_layer;

static int lrn_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    const lrn_layer *r = (const lrn_layer *)l;
    const graft__tval *x = &t->vals[l->in[0]], *y = &t->vals[l->out];
    size_t pixels = (size_t)n * (x->per / r->C);
    return graft_lrn_nhwc(y->data, x->data, pixels, r->C, r->size, r->alpha, r->beta, r->bias);
}

static int lrn_backward(graft_top *t, graft__tlayer *l, int n) {
    const lrn_layer *r = (const lrn_layer *)l;
    graft__tval *x = &t->vals[l->in[0]];
    const graft__tval *y = &t->vals[l->out];
    if (!x->grad) return 0;
    size_t pixels = (size_t)n * (x->per / r->C);
    return graft_lrn_backward_nhwc(x->grad, y->grad, x->data, pixels, r->C, r->size, r->alpha,
                                   r->beta, r->bias);
}

static int lrn_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b) {
    const lrn_layer *r = (const lrn_layer *)l;
    const char *in = t->vals[l->in[0]].name, *out = t->vals[l->out].name;
    graft__onnx_attr a[4] = {
        {.name = "size", .type = GRAFT__ONNX_ATTR_INT, .i = r->size},
        {.name = "alpha", .type = GRAFT__ONNX_ATTR_FLOAT, .f = r->alpha},
        {.name = "beta", .type = GRAFT__ONNX_ATTR_FLOAT, .f = r->beta},
        {.name = "bias", .type = GRAFT__ONNX_ATTR_FLOAT, .f = r->bias},
    };
    return graft__onnx_node(b, "LRN", l->name, &in, 1, &out, 1, a, 4);
}

static void lrn_destroy(graft__tlayer *l) { free(l); }

static const graft__tlayer_vt lrn_vt = {"LRN", lrn_forward, lrn_backward, lrn_export,
                                        lrn_destroy};

int graft__tl_lrn(graft_top *t, const graft__node *nd, int in, int out) {
    const graft__tval *x = in >= 0 ? &t->vals[in] : NULL;
    if (!x || x->rank != 4 || x->dims[1] < 1)
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): LRN trains on "
                           "(N, C, H, W) inputs only", nd->name, nd->src_op);
    lrn_layer *r = calloc(1, sizeof *r);
    if (!r) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    r->base.vt = &lrn_vt;
    r->base.node = nd;
    snprintf(r->base.name, sizeof r->base.name, "%s",
             nd->name[0] ? nd->name : t->g->values[nd->out[0]].name);
    r->base.in[0] = in, r->base.n_in = 1, r->base.out = out;
    r->size = nd->a.lrn.size;
    r->alpha = nd->a.lrn.alpha, r->beta = nd->a.lrn.beta, r->bias = nd->a.lrn.bias;
    r->C = (size_t)x->dims[1];
    return graft__top_append(t, &r->base);
}
