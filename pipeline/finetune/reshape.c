/*
 * pipeline/finetune/reshape.c: layers that move values without arithmetic: Flatten, Reshape
 * and Squeeze to (N, D), Identity (and Dropout at inference, which the importer makes one),
 * and the dropout the top adds before its classifier.
 *
 * A 4-D map stored NHWC becomes a vector in ONNX's (C, H, W) order, so a Gemm after it sees
 * the features where the framework put them; with H = W = 1 the two orders coincide and the
 * layer is a copy.
 */
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "kernels.h"

typedef struct reshape_layer {
    graft__tlayer base;
    int transpose;                 /* NHWC map to an NCHW-ordered vector */
    int C, H, W;
    int flatten;                   /* export as Flatten (else Identity) */
} reshape_layer;

static int reshape_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    reshape_layer *r = (reshape_layer *)l;
    const graft__tval *x = &t->vals[l->in[0]];
    float *y = t->vals[l->out].data;
    if (r->transpose) return graft_nhwc_to_nchw(y, x->data, n, r->C, r->H, r->W);
    memcpy(y, x->data, sizeof(float) * (size_t)n * x->per);
    return 0;
}

static int reshape_backward(graft_top *t, graft__tlayer *l, int n) {
    reshape_layer *r = (reshape_layer *)l;
    graft__tval *x = &t->vals[l->in[0]];
    const float *dy = t->vals[l->out].grad;
    if (!x->grad) return 0;
    size_t count = (size_t)n * x->per;
    if (r->transpose) {
        int err = graft_nchw_to_nhwc(t->scratch, dy, n, r->C, r->H, r->W);
        if (err) return err;
        dy = t->scratch;
    }
    for (size_t i = 0; i < count; i++) x->grad[i] += dy[i];
    return 0;
}

static int reshape_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b) {
    const reshape_layer *r = (const reshape_layer *)l;
    const char *in = t->vals[l->in[0]].name, *out = t->vals[l->out].name;
    graft__onnx_attr a = {.name = "axis", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
    return graft__onnx_node(b, r->flatten ? "Flatten" : "Identity", l->node ? l->name : NULL,
                            &in, 1, &out, 1, &a, r->flatten);
}

static void free_layer(graft__tlayer *l) { free(l); }

static const graft__tlayer_vt reshape_vt = {"Reshape", reshape_forward, reshape_backward,
                                            reshape_export, free_layer};

int graft__tl_reshape(graft_top *t, const graft__node *nd, int in, int out) {
    const graft__tval *x = in >= 0 ? &t->vals[in] : NULL, *y = &t->vals[out];
    /* Same bytes per image, and either the same shape or a flattening to (N, D). */
    int same = x && x->rank == y->rank;
    for (int d = 1; same && d < x->rank; d++) same = x->dims[d] == y->dims[d];
    if (!x || x->per != y->per || (!same && y->rank != 2))
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): only reshapes that "
                           "keep the shape or flatten each image to a vector train",
                           nd ? nd->name : "features", nd ? nd->src_op : "Flatten");
    reshape_layer *r = calloc(1, sizeof *r);
    if (!r) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    r->base.vt = &reshape_vt;
    r->base.node = nd;
    snprintf(r->base.name, sizeof r->base.name, "%s",
             nd ? (nd->name[0] ? nd->name : t->g->values[nd->out[0]].name) : "graft_flatten");
    r->base.in[0] = in, r->base.n_in = 1, r->base.out = out;
    r->flatten = !same;
    if (x->rank == 4 && x->nhwc && !same) {
        r->C = (int)x->dims[1], r->H = (int)x->dims[2], r->W = (int)x->dims[3];
        r->transpose = r->H * r->W > 1;
    }
    return graft__top_append(t, &r->base);
}

/* ---- dropout ---- */

typedef struct dropout_layer {
    graft__tlayer base;
    float p;
    unsigned char *keep;           /* (N * D) 1: kept in the last training forward */
} dropout_layer;

static int dropout_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    dropout_layer *d = (dropout_layer *)l;
    const graft__tval *x = &t->vals[l->in[0]];
    float *y = t->vals[l->out].data;
    size_t count = (size_t)n * x->per;
    if (!train) {
        memcpy(y, x->data, sizeof(float) * count);
        return 0;
    }
    /* Each step draws fresh masks from (seed, step count), so a run resumed from a
       checkpoint draws the masks the uninterrupted run would have. */
    uint64_t s = (t->seed + 1) * 0x2545f4914f6cdd1dull + t->steps * 0x9e3779b97f4a7c15ull;
    float scale = 1.0f / (1.0f - d->p);
    uint32_t cut = (uint32_t)((double)d->p * 4294967296.0);
    for (size_t i = 0; i < count; i++) {
        d->keep[i] = (uint32_t)(graft__top_draw(&s) >> 32) >= cut;
        y[i] = d->keep[i] ? x->data[i] * scale : 0.0f;
    }
    return 0;
}

static int dropout_backward(graft_top *t, graft__tlayer *l, int n) {
    dropout_layer *d = (dropout_layer *)l;
    graft__tval *x = &t->vals[l->in[0]];
    const float *dy = t->vals[l->out].grad;
    if (!x->grad) return 0;
    float scale = 1.0f / (1.0f - d->p);
    for (size_t i = 0; i < (size_t)n * x->per; i++)
        if (d->keep[i]) x->grad[i] += dy[i] * scale;
    return 0;
}

static int dropout_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b) {
    const char *in = t->vals[l->in[0]].name, *out = t->vals[l->out].name;
    return graft__onnx_node(b, "Identity", NULL, &in, 1, &out, 1, NULL, 0);
}

static void dropout_destroy(graft__tlayer *l) {
    free(((dropout_layer *)l)->keep);
    free(l);
}

static const graft__tlayer_vt dropout_vt = {"Dropout", dropout_forward, dropout_backward,
                                            dropout_export, dropout_destroy};

int graft__tl_dropout(graft_top *t, float p, int in, int out) {
    dropout_layer *d = calloc(1, sizeof *d);
    if (!d || !(d->keep = malloc((size_t)t->N * t->vals[in].per))) {
        free(d);
        return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    }
    d->base.vt = &dropout_vt;
    snprintf(d->base.name, sizeof d->base.name, "graft_dropout");
    d->base.in[0] = in, d->base.n_in = 1, d->base.out = out;
    d->p = p;
    return graft__top_append(t, &d->base);
}

/* ---- constant padding of H and W (how PyTorch exports count_include_pad pooling) ---- */

typedef struct pad_layer {
    graft__tlayer base;
    int top, left, bottom, right;
    float value;
    int64_t pads_onnx[8];          /* the node's pads, for export */
} pad_layer;

static int pad_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    pad_layer *p = (pad_layer *)l;
    const graft__tval *x = &t->vals[l->in[0]], *y = &t->vals[l->out];
    int H = (int)x->dims[2], W = (int)x->dims[3], C = (int)x->dims[1];
    int OW = (int)y->dims[3];
    size_t count = (size_t)n * y->per;
    for (size_t i = 0; i < count; i++) y->data[i] = p->value;
    for (int i = 0; i < n; i++)
        for (int h = 0; h < H; h++)
            memcpy(y->data + (size_t)i * y->per + ((size_t)(h + p->top) * OW + p->left) * C,
                   x->data + (size_t)i * x->per + (size_t)h * W * C, sizeof(float) * W * C);
    return 0;
}

static int pad_backward(graft_top *t, graft__tlayer *l, int n) {
    pad_layer *p = (pad_layer *)l;
    graft__tval *x = &t->vals[l->in[0]];
    const graft__tval *y = &t->vals[l->out];
    if (!x->grad) return 0;
    int H = (int)x->dims[2], W = (int)x->dims[3], C = (int)x->dims[1];
    int OW = (int)y->dims[3];
    for (int i = 0; i < n; i++)
        for (int h = 0; h < H; h++) {
            const float *dy =
                y->grad + (size_t)i * y->per + ((size_t)(h + p->top) * OW + p->left) * C;
            float *dx = x->grad + (size_t)i * x->per + (size_t)h * W * C;
            for (int k = 0; k < W * C; k++) dx[k] += dy[k];
        }
    return 0;
}

static int pad_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b) {
    const pad_layer *p = (const pad_layer *)l;
    char pads[200], val[200];
    snprintf(pads, sizeof pads, "%s.pads", t->vals[l->out].name);
    snprintf(val, sizeof val, "%s.value", t->vals[l->out].name);
    int64_t d8[1] = {8};
    const char *ins[3] = {t->vals[l->in[0]].name, pads, val}, *out = t->vals[l->out].name;
    return graft__onnx_initializer_i64(b, pads, 1, d8, p->pads_onnx) ||
           graft__onnx_initializer(b, val, 0, NULL, &p->value) ||
           graft__onnx_node(b, "Pad", l->name, ins, 3, &out, 1, NULL, 0);
}

static const graft__tlayer_vt pad_vt = {"Pad", pad_forward, pad_backward, pad_export,
                                        free_layer};

int graft__tl_pad(graft_top *t, const graft__node *nd, int in, int out) {
    const graft__graph *g = t->g;
    const graft__tval *x = in >= 0 ? &t->vals[in] : NULL;
    const graft__value *pv = nd->n_in > 1 && nd->in[1] >= 0 ? &g->values[nd->in[1]] : NULL;
    const graft__value *vv = nd->n_in > 2 && nd->in[2] >= 0 ? &g->values[nd->in[2]] : NULL;
    const int64_t *pads = pv && pv->dtype == GRAFT__I64 && graft__value_numel(pv) == 8
                              ? pv->data : NULL;
    int ok = x && x->rank == 4 && nd->a.pad.mode == 0 && pads && (!vv || vv->data);
    for (int k = 0; ok && k < 8; k++) ok = pads[k] >= 0 && (k % 4 >= 2 || pads[k] == 0);
    if (!ok)
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): only constant padding "
                           "of H and W by constant amounts trains", nd->name, nd->src_op);
    pad_layer *p = calloc(1, sizeof *p);
    if (!p) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    p->base.vt = &pad_vt;
    p->base.node = nd;
    snprintf(p->base.name, sizeof p->base.name, "%s",
             nd->name[0] ? nd->name : g->values[nd->out[0]].name);
    p->base.in[0] = in, p->base.n_in = 1, p->base.out = out;
    p->top = (int)pads[2], p->left = (int)pads[3], p->bottom = (int)pads[6];
    p->right = (int)pads[7];
    memcpy(p->pads_onnx, pads, sizeof p->pads_onnx);
    p->value = vv && graft__value_numel(vv) >= 1 ? ((const float *)vv->data)[0]
                                                  : nd->a.pad.value;
    return graft__top_append(t, &p->base);
}
