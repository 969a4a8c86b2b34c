/*
 * pipeline/finetune/merge.c: layers that join values: elementwise Add, Sub and Mul with
 * broadcasting (residual connections, squeeze-and-excitation scaling, a constant operand),
 * with the fused ReLU of Add+Relu, and channel Concat. No parameters of their own.
 *
 * Broadcasting runs on the physical (NHWC) shapes, so an operand of shape (N, C, 1, 1) or
 * (C, 1, 1) lines up with the channels; a constant with both channels and pixels would need
 * transposing first and is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "kernels.h"

typedef struct binary_layer {
    graft__tlayer base;
    int op;                        /* graft_binary_op */
    graft_act act;
    int val[2];                    /* value index, or -1 for a constant */
    const float *cdata[2];         /* constants (the graph's) */
    const char *cname[2];
    int64_t cdims[2][4];           /* constants' physical dims, padded to y's rank */
    int64_t clog[2][8];            /* constants' logical dims, for export */
    int crank[2];
} binary_layer;

/* An operand's physical dims padded to rank r (leading 1s). */
static void operand_dims(const graft_top *t, const binary_layer *b, int i, int n, int r,
                         int64_t *dims) {
    if (b->val[i] < 0) {
        memcpy(dims, b->cdims[i], sizeof(int64_t) * (size_t)r);
        return;
    }
    int64_t d[4];
    int rank;
    graft__tval_phys(&t->vals[b->val[i]], n, d, &rank);
    for (int k = 0; k < r; k++) dims[k] = k < r - rank ? 1 : d[k - (r - rank)];
}

static const float *operand(const graft_top *t, const binary_layer *b, int i) {
    return b->val[i] < 0 ? b->cdata[i] : t->vals[b->val[i]].data;
}

static int binary_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    binary_layer *b = (binary_layer *)l;
    graft__tval *y = &t->vals[l->out];
    int64_t yd[4], ad[4], bd[4];
    int yr;
    graft__tval_phys(y, n, yd, &yr);
    operand_dims(t, b, 0, n, yr, ad);
    operand_dims(t, b, 1, n, yr, bd);
    int err = graft_binary_broadcast(b->op, y->data, yd, yr, operand(t, b, 0), ad, yr,
                                     operand(t, b, 1), bd, yr);
    if (!err && b->act != GRAFT_ACT_NONE) {
        graft_unary_op op = {b->act == GRAFT_ACT_RELU ? GRAFT_UNARY_RELU : GRAFT_UNARY_CLIP,
                             0.0f, 6.0f};
        err = graft_unary_apply(&op, y->data, y->data, (size_t)n * y->per);
    }
    return err;
}

/* dst (dd) += src (yd) summed over the axes where dd is 1 and yd is not; rank r <= 4. */
static void reduce_add(float *dst, const int64_t *dd, const float *src, const int64_t *yd,
                       int r) {
    int64_t Y[4] = {1, 1, 1, 1}, D[4] = {1, 1, 1, 1};
    for (int k = 0; k < r; k++) Y[4 - r + k] = yd[k], D[4 - r + k] = dd[k];
    int same = 1;
    for (int k = 0; k < 4; k++) same &= Y[k] == D[k];
    size_t total = (size_t)(Y[0] * Y[1] * Y[2] * Y[3]);
    if (same) {
        for (size_t i = 0; i < total; i++) dst[i] += src[i];
        return;
    }
    int64_t s3 = 1, s2 = D[3], s1 = D[3] * D[2], s0 = D[3] * D[2] * D[1];
    size_t i = 0;
    for (int64_t a = 0; a < Y[0]; a++)
        for (int64_t b = 0; b < Y[1]; b++)
            for (int64_t c = 0; c < Y[2]; c++)
                for (int64_t d = 0; d < Y[3]; d++, i++)
                    dst[(D[0] > 1 ? a * s0 : 0) + (D[1] > 1 ? b * s1 : 0) +
                        (D[2] > 1 ? c * s2 : 0) + (D[3] > 1 ? d * s3 : 0)] += src[i];
}

static int binary_backward(graft_top *t, graft__tlayer *l, int n) {
    binary_layer *b = (binary_layer *)l;
    graft__tval *y = &t->vals[l->out];
    size_t count = (size_t)n * y->per;
    const float *dy;
    int err = graft__act_grad(b->act, t->scratch, y->grad, y->data, count, &dy);
    if (err) return err;
    int64_t yd[4], od[4];
    int yr;
    graft__tval_phys(y, n, yd, &yr);
    for (int i = 0; i < 2; i++) {
        if (b->val[i] < 0 || !t->vals[b->val[i]].grad) continue;
        const float *g = dy;
        if (b->op == GRAFT_BINARY_SUB && i == 1) {
            for (size_t k = 0; k < count; k++) t->scratch2[k] = -dy[k];
            g = t->scratch2;
        } else if (b->op == GRAFT_BINARY_MUL) {
            operand_dims(t, b, 1 - i, n, yr, od);
            err = graft_binary_broadcast(GRAFT_BINARY_MUL, t->scratch2, yd, yr, dy, yd, yr,
                                         operand(t, b, 1 - i), od, yr);
            if (err) return err;
            g = t->scratch2;
        }
        int64_t dd[4];
        operand_dims(t, b, i, n, yr, dd);
        reduce_add(t->vals[b->val[i]].grad, dd, g, yd, yr);
    }
    return 0;
}

static int binary_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *bld) {
    const binary_layer *b = (const binary_layer *)l;
    static const char *const names[] = {"Add", "Sub", "Mul", "Div"};
    const char *ins[2];
    int err = 0;
    for (int i = 0; i < 2; i++) {
        if (b->val[i] >= 0) {
            ins[i] = t->vals[b->val[i]].name;
            continue;
        }
        ins[i] = b->cname[i];
        err |= graft__onnx_initializer(bld, b->cname[i], b->crank[i], b->clog[i], b->cdata[i]);
    }
    char pre[160];
    snprintf(pre, sizeof pre, "%s.preact", t->vals[l->out].name);
    const char *out = t->vals[l->out].name;
    const char *o = b->act == GRAFT_ACT_NONE ? out : pre;
    err |= graft__onnx_node(bld, names[b->op], l->name, ins, 2, &o, 1, NULL, 0);
    if (!err && b->act != GRAFT_ACT_NONE) err = graft__export_act(bld, b->act, pre, out);
    return err;
}

static void free_layer(graft__tlayer *l) { free(l); }

static const graft__tlayer_vt binary_vt = {"Elementwise", binary_forward, binary_backward,
                                           binary_export, free_layer};

int graft__tl_binary(graft_top *t, const graft__node *nd, int a, int bval, int out) {
    const graft__graph *g = t->g;
    const graft__tval *y = &t->vals[out];
    if (nd->a.binary.op == GRAFT_BINARY_DIV || nd->n_in != 2)
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): Div has no backward "
                           "pass in graft", nd->name, nd->src_op);
    binary_layer *b = calloc(1, sizeof *b);
    if (!b) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    b->base.vt = &binary_vt;
    b->base.node = nd;
    snprintf(b->base.name, sizeof b->base.name, "%s",
             nd->name[0] ? nd->name : g->values[nd->out[0]].name);
    b->base.out = out;
    b->op = nd->a.binary.op;
    b->act = nd->a.binary.act;
    b->val[0] = a, b->val[1] = bval;
    for (int i = 0; i < 2; i++) {
        if (b->val[i] >= 0) {
            b->base.in[b->base.n_in++] = b->val[i];
            continue;
        }
        const graft__value *c = &g->values[nd->in[i]];
        int ok = c->data && c->dtype == GRAFT__F32 && c->rank <= y->rank;
        int64_t d[4] = {1, 1, 1, 1};
        for (int k = 0; ok && k < c->rank; k++) d[4 - c->rank + k] = c->dims[k];
        if (ok && y->rank == 4) {
            /* NCHW constant to NHWC dims: fine while it does not hold channels and pixels. */
            ok = d[0] == 1 && (d[1] == 1 || d[2] * d[3] == 1);
            int64_t p[4] = {d[0], d[2], d[3], d[1]};
            memcpy(b->cdims[i], p, sizeof p);
        } else if (ok) {
            for (int k = 0; k < y->rank; k++) b->cdims[i][k] = d[4 - y->rank + k];
        }
        if (!ok) {
            free(b);
            return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): operand '%s' is "
                               "neither a computed value nor a constant that broadcasts over "
                               "channels", nd->name, nd->src_op, c->name);
        }
        b->cdata[i] = c->data;
        b->cname[i] = c->name;
        b->crank[i] = c->rank;
        for (int k = 0; k < c->rank; k++) b->clog[i][k] = c->dims[k];
    }
    return graft__top_append(t, &b->base);
}

/* ---- Concat ---- */

typedef struct concat_layer {
    graft__tlayer base;
    int axis;                      /* the ONNX axis, for export */
} concat_layer;

/* Rows (everything before the physical concat axis) and each input's run length in a row. */
static size_t concat_rows(const graft_top *t, const graft__tlayer *l, int n) {
    const graft__tval *y = &t->vals[l->out];
    return (size_t)n * (y->rank == 4 ? (size_t)(y->dims[2] * y->dims[3]) : 1);
}
static size_t concat_run(const graft_top *t, int v) {
    const graft__tval *x = &t->vals[v];
    return (size_t)x->dims[1];
}

static int concat_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    size_t rows = concat_rows(t, l, n), width = concat_run(t, l->out), off = 0;
    float *y = t->vals[l->out].data;
    for (int i = 0; i < l->n_in; i++) {
        size_t run = concat_run(t, l->in[i]);
        const float *x = t->vals[l->in[i]].data;
        for (size_t r = 0; r < rows; r++)
            memcpy(y + r * width + off, x + r * run, sizeof(float) * run);
        off += run;
    }
    return 0;
}

static int concat_backward(graft_top *t, graft__tlayer *l, int n) {
    size_t rows = concat_rows(t, l, n), width = concat_run(t, l->out), off = 0;
    const float *dy = t->vals[l->out].grad;
    for (int i = 0; i < l->n_in; i++) {
        size_t run = concat_run(t, l->in[i]);
        float *dx = t->vals[l->in[i]].grad;
        if (dx)
            for (size_t r = 0; r < rows; r++)
                for (size_t k = 0; k < run; k++) dx[r * run + k] += dy[r * width + off + k];
        off += run;
    }
    return 0;
}

static int concat_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b) {
    const char *ins[GRAFT__TOP_MAX_IN], *out = t->vals[l->out].name;
    for (int i = 0; i < l->n_in; i++) ins[i] = t->vals[l->in[i]].name;
    graft__onnx_attr a = {.name = "axis", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
    return graft__onnx_node(b, "Concat", l->name, ins, l->n_in, &out, 1, &a, 1);
}

static const graft__tlayer_vt concat_vt = {"Concat", concat_forward, concat_backward,
                                           concat_export, free_layer};

int graft__tl_concat(graft_top *t, const graft__node *nd, const int *ins, int n_in, int out) {
    const graft__tval *y = &t->vals[out];
    int axis = nd->a.axis < 0 ? nd->a.axis + y->rank : nd->a.axis;
    int ok = axis == 1 && n_in >= 1 && n_in <= GRAFT__TOP_MAX_IN;
    for (int i = 0; i < n_in && ok; i++) ok = ins[i] >= 0 && t->vals[ins[i]].rank == y->rank;
    if (!ok)
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): only a channel concat "
                           "of computed values trains", nd->name, nd->src_op);
    concat_layer *c = calloc(1, sizeof *c);
    if (!c) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    c->base.vt = &concat_vt;
    c->base.node = nd;
    snprintf(c->base.name, sizeof c->base.name, "%s",
             nd->name[0] ? nd->name : t->g->values[nd->out[0]].name);
    for (int i = 0; i < n_in; i++) c->base.in[i] = ins[i];
    c->base.n_in = n_in, c->base.out = out;
    c->axis = axis;
    return graft__top_append(t, &c->base);
}
