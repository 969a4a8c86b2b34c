/*
 * pipeline/finetune/batchnorm.c: a trainable batch norm that the loader did not fold into a
 * convolution (one after an Add, or every one when the model is loaded with no_fuse). Its
 * scale and shift train; the running statistics stay frozen by default (what fine-tuning with
 * small batches wants), or with bn_train the batch's statistics normalise and the running ones
 * follow them with PyTorch's momentum of 0.1 (unbiased variance).
 */
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "kernels.h"

typedef struct bn_layer {
    graft__tlayer base;
    int C;
    float eps;
    float *mean, *var;             /* (C) running statistics (copies) */
    float *batch_mean, *batch_var; /* (C) of the last training forward with bn_train */
    const char *mean_name, *var_name; /* the graph's names, for export */
    int used_batch;                /* the last forward normalised with the batch's statistics */
} bn_layer;

static int bn_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    bn_layer *b = (bn_layer *)l;
    const graft__tval *x = &t->vals[l->in[0]], *y = &t->vals[l->out];
    size_t pixels = (size_t)n * (x->per / (size_t)b->C);
    const float *gamma = t->params[l->param0].data, *beta = t->params[l->param0 + 1].data;
    b->used_batch = train && t->opts.bn_train;
    if (!b->used_batch)
        return graft_batchnorm_nhwc(y->data, x->data, pixels, b->C, gamma, beta, b->mean, b->var,
                                    b->eps);
    int err = graft_batchnorm_train_nhwc(y->data, b->batch_mean, b->batch_var, x->data, pixels,
                                         b->C, gamma, beta, b->eps);
    if (err) return err;
    double unbias = pixels > 1 ? (double)pixels / (double)(pixels - 1) : 1.0;
    for (int c = 0; c < b->C; c++) {
        b->mean[c] = 0.9f * b->mean[c] + 0.1f * b->batch_mean[c];
        b->var[c] = 0.9f * b->var[c] + (float)(0.1 * unbias * b->batch_var[c]);
    }
    return 0;
}

static int bn_backward(graft_top *t, graft__tlayer *l, int n) {
    bn_layer *b = (bn_layer *)l;
    graft__tval *x = &t->vals[l->in[0]], *y = &t->vals[l->out];
    size_t pixels = (size_t)n * (x->per / (size_t)b->C);
    return graft_batchnorm_backward_nhwc(x->grad, t->params[l->param0].grad,
                                         t->params[l->param0 + 1].grad, y->grad, x->data, pixels,
                                         b->C, t->params[l->param0].data,
                                         b->used_batch ? b->batch_mean : b->mean,
                                         b->used_batch ? b->batch_var : b->var, b->eps,
                                         b->used_batch);
}

static int bn_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *bld) {
    const bn_layer *b = (const bn_layer *)l;
    const graft_top_param *g = &t->params[l->param0], *s = &t->params[l->param0 + 1];
    int64_t d[1] = {b->C};
    int err = graft__onnx_initializer(bld, g->name, 1, d, g->data) ||
              graft__onnx_initializer(bld, s->name, 1, d, s->data) ||
              graft__onnx_initializer(bld, b->mean_name, 1, d, b->mean) ||
              graft__onnx_initializer(bld, b->var_name, 1, d, b->var);
    const char *ins[5] = {t->vals[l->in[0]].name, g->name, s->name, b->mean_name, b->var_name};
    const char *out = t->vals[l->out].name;
    graft__onnx_attr a = {.name = "epsilon", .type = GRAFT__ONNX_ATTR_FLOAT, .f = b->eps};
    return err || graft__onnx_node(bld, "BatchNormalization", l->name, ins, 5, &out, 1, &a, 1);
}

static void bn_destroy(graft__tlayer *l) {
    bn_layer *b = (bn_layer *)l;
    free(b->mean), free(b->var), free(b->batch_mean), free(b->batch_var);
    free(b);
}

static const graft__tlayer_vt bn_vt = {"BatchNormalization", bn_forward, bn_backward, bn_export,
                                       bn_destroy};

int graft__tl_batchnorm(graft_top *t, const graft__node *nd, int in, int out) {
    const graft__graph *g = t->g;
    const graft__tval *x = in >= 0 ? &t->vals[in] : NULL;
    const graft__value *pv[4];
    int ok = x && nd->n_in >= 5 && (x->rank == 4 || x->rank == 2);
    for (int i = 0; i < 4 && ok; i++) {
        ok = nd->in[i + 1] >= 0;
        if (ok) pv[i] = &g->values[nd->in[i + 1]];
        ok = ok && pv[i]->data && graft__value_numel(pv[i]) == x->dims[1];
    }
    if (!ok)
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): only batch norm with "
                           "constant per-channel parameters over (N, C[, H, W]) trains",
                           nd->name, nd->src_op);
    bn_layer *b = calloc(1, sizeof *b);
    if (!b) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    b->base.vt = &bn_vt;
    b->base.node = nd;
    snprintf(b->base.name, sizeof b->base.name, "%s",
             nd->name[0] ? nd->name : g->values[nd->out[0]].name);
    b->base.in[0] = in, b->base.n_in = 1, b->base.out = out;
    b->C = (int)x->dims[1];
    b->eps = nd->a.bn_eps;
    b->mean_name = pv[2]->name, b->var_name = pv[3]->name;
    size_t bytes = sizeof(float) * (size_t)b->C;
    b->mean = malloc(bytes), b->var = malloc(bytes);
    b->batch_mean = malloc(bytes), b->batch_var = malloc(bytes);
    if (!b->mean || !b->var || !b->batch_mean || !b->batch_var) {
        bn_destroy(&b->base);
        return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    }
    memcpy(b->mean, pv[2]->data, bytes);
    memcpy(b->var, pv[3]->data, bytes);
    int64_t d[1] = {b->C};
    b->base.param0 = t->n_params;
    int pg = graft__top_add_param(t, pv[0]->name, b->base.name, 1, d, pv[0]->data, 0.1f, 0);
    int pb = pg < 0 ? pg
                    : graft__top_add_param(t, pv[1]->name, b->base.name, 1, d, pv[1]->data,
                                           0.1f, 0);
    if (pg < 0 || pb < 0) {
        bn_destroy(&b->base);
        return pg < 0 ? pg : pb;
    }
    graft__top_param_init(t, pg, -1);
    graft__top_param_init(t, pb, 0);
    b->base.n_params = 2;
    /* Batch statistics move the running ones: a resumed run needs them as they were. */
    if (t->opts.bn_train && (graft__top_add_state(t, b->mean_name, b->mean, (size_t)b->C) ||
                             graft__top_add_state(t, b->var_name, b->var, (size_t)b->C))) {
        bn_destroy(&b->base);
        return GRAFT_ENOMEM;
    }
    return graft__top_append(t, &b->base);
}
