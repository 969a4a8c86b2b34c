/*
 * pipeline/finetune/dense.c: a trainable fully-connected layer (ONNX Gemm with constant
 * weights, and the new classifier the top adds): y (n, K) = act(x (n, D) op(W) + b).
 *
 * Weights stay in the file's layout, (K, D) with trans_b (PyTorch's Linear) or (D, K), so
 * gradients compare one to one with the framework's; the three products of forward and
 * backward are each one graft_sgemm call with the matching transposes.
 */
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "kernels.h"

typedef struct dense_layer {
    graft__tlayer base;
    int K, D, trans_b, has_bias;
    graft_act act;
} dense_layer;

static int dense_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    dense_layer *d = (dense_layer *)l;
    const graft_top_param *w = &t->params[l->param0];
    graft_epilogue epi = {NULL, d->has_bias ? t->params[l->param0 + 1].data : NULL, d->act};
    return graft_sgemm(GRAFT_TRANS_NO, d->trans_b ? GRAFT_TRANS_YES : GRAFT_TRANS_NO, n, d->K,
                       d->D, 1.0f, t->vals[l->in[0]].data, d->D, w->data,
                       d->trans_b ? d->D : d->K, 0.0f, t->vals[l->out].data, d->K, &epi);
}

static int dense_backward(graft_top *t, graft__tlayer *l, int n) {
    dense_layer *d = (dense_layer *)l;
    graft__tval *x = &t->vals[l->in[0]], *y = &t->vals[l->out];
    graft_top_param *w = &t->params[l->param0];
    const float *dy;
    int err = graft__act_grad(d->act, t->scratch, y->grad, y->data, (size_t)n * d->K, &dy);
    if (err) return err;
    if (d->trans_b) /* dW (K, D) += dy^T x */
        err = graft_sgemm(GRAFT_TRANS_YES, GRAFT_TRANS_NO, d->K, d->D, n, 1.0f, dy, d->K,
                          x->data, d->D, 1.0f, w->grad, d->D, NULL);
    else /* dW (D, K) += x^T dy */
        err = graft_sgemm(GRAFT_TRANS_YES, GRAFT_TRANS_NO, d->D, d->K, n, 1.0f, x->data, d->D,
                          dy, d->K, 1.0f, w->grad, d->K, NULL);
    if (!err && d->has_bias) {
        float *db = t->params[l->param0 + 1].grad;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < d->K; k++) db[k] += dy[(size_t)i * d->K + k];
    }
    if (!err && x->grad) /* dx (n, D) += dy op(W)^T */
        err = graft_sgemm(GRAFT_TRANS_NO, d->trans_b ? GRAFT_TRANS_NO : GRAFT_TRANS_YES, n, d->D,
                          d->K, 1.0f, dy, d->K, w->data, d->trans_b ? d->D : d->K, 1.0f,
                          x->grad, d->D, NULL);
    return err;
}

static int dense_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b) {
    const dense_layer *d = (const dense_layer *)l;
    const graft_top_param *w = &t->params[l->param0];
    int err = graft__onnx_initializer(b, w->name, 2, w->dims, w->data);
    const char *ins[3] = {t->vals[l->in[0]].name, w->name, NULL};
    if (d->has_bias) {
        const graft_top_param *bp = &t->params[l->param0 + 1];
        err |= graft__onnx_initializer(b, bp->name, 1, bp->dims, bp->data);
        ins[2] = bp->name;
    }
    graft__onnx_attr a[1] = {{.name = "transB", .type = GRAFT__ONNX_ATTR_INT, .i = d->trans_b}};
    char pre[160];
    snprintf(pre, sizeof pre, "%s.preact", t->vals[l->out].name);
    const char *out = t->vals[l->out].name;
    const char *gemm_out = d->act == GRAFT_ACT_NONE ? out : pre;
    err |= graft__onnx_node(b, "Gemm", l->name, ins, d->has_bias ? 3 : 2, &gemm_out, 1, a, 1);
    if (!err && d->act != GRAFT_ACT_NONE) err = graft__export_act(b, d->act, pre, out);
    return err;
}

static void dense_destroy(graft__tlayer *l) { free(l); }

static const graft__tlayer_vt dense_vt = {"Gemm", dense_forward, dense_backward, dense_export,
                                          dense_destroy};

int graft__tl_dense(graft_top *t, const graft__node *nd, int in, int out, const char *wname,
                    const char *bname, const float *w, const float *b, int K, int D,
                    int trans_b, graft_act act, int is_new) {
    if (in < 0 || t->vals[in].rank != 2 || (int64_t)t->vals[in].per != D)
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (Gemm): its input is not a "
                           "(N, %d) matrix", nd ? nd->name : "classifier", D);
    dense_layer *d = calloc(1, sizeof *d);
    if (!d) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    d->base.vt = &dense_vt;
    d->base.node = nd;
    snprintf(d->base.name, sizeof d->base.name, "%s",
             nd ? (nd->name[0] ? nd->name : t->g->values[nd->out[0]].name) : "graft_classifier");
    d->base.in[0] = in, d->base.n_in = 1, d->base.out = out;
    d->K = K, d->D = D, d->trans_b = trans_b, d->act = act, d->has_bias = bname != NULL;
    float mult = is_new ? 1.0f : 0.1f;
    int64_t wd[2] = {trans_b ? K : D, trans_b ? D : K}, bd[1] = {K};
    d->base.param0 = t->n_params;
    int pw = graft__top_add_param(t, wname, d->base.name, 2, wd, w, mult, is_new);
    if (pw < 0) {
        free(d);
        return pw;
    }
    graft__top_param_init(t, pw, D);
    d->base.n_params = 1;
    if (bname) {
        int pb = graft__top_add_param(t, bname, d->base.name, 1, bd, b, mult, is_new);
        if (pb < 0) {
            free(d);
            return pb;
        }
        graft__top_param_init(t, pb, D);
        d->base.n_params = 2;
    }
    return graft__top_append(t, &d->base);
}
