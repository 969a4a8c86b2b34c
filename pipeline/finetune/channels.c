/*
 * pipeline/finetune/channels.c: layers that move whole channels, as ShuffleNet does: a Slice
 * of a channel range (torch.chunk exports it so), and the channel shuffle that exporters write
 * as Reshape (N, g, C / g, H, W), Transpose (0, 2, 1, 3, 4), Reshape (N, C, H, W). The top keeps
 * values at rank 4, so the three nodes become one layer that permutes channels; export writes
 * them back as the same three nodes.
 */
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "kernels.h"

typedef struct channel_layer {
    graft__tlayer base;
    int C_in, C_out;
    int *src;                      /* (C_out) input channel of each output channel */
    int64_t start, end;            /* slice: the ONNX range, for export */
    int groups;                    /* shuffle: g; 0 for a slice */
    char mid[2][160];              /* shuffle: names of the two 5-D values, for export */
} channel_layer;

static int channel_forward(graft_top *t, graft__tlayer *l, int n, int train) {
    channel_layer *c = (channel_layer *)l;
    const graft__tval *x = &t->vals[l->in[0]];
    float *y = t->vals[l->out].data;
    size_t pixels = (size_t)n * (x->per / (size_t)c->C_in);
    for (size_t p = 0; p < pixels; p++) {
        const float *xp = x->data + p * (size_t)c->C_in;
        float *yp = y + p * (size_t)c->C_out;
        for (int k = 0; k < c->C_out; k++) yp[k] = xp[c->src[k]];
    }
    return 0;
}

static int channel_backward(graft_top *t, graft__tlayer *l, int n) {
    channel_layer *c = (channel_layer *)l;
    graft__tval *x = &t->vals[l->in[0]];
    const float *dy = t->vals[l->out].grad;
    if (!x->grad) return 0;
    size_t pixels = (size_t)n * (x->per / (size_t)c->C_in);
    for (size_t p = 0; p < pixels; p++) {
        float *dx = x->grad + p * (size_t)c->C_in;
        const float *dyp = dy + p * (size_t)c->C_out;
        for (int k = 0; k < c->C_out; k++) dx[c->src[k]] += dyp[k];
    }
    return 0;
}

static int channel_export(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b) {
    const channel_layer *c = (const channel_layer *)l;
    const graft__tval *x = &t->vals[l->in[0]];
    const char *in = x->name, *out = t->vals[l->out].name;
    char n1[200], n2[200], n3[200];
    int64_t one[1] = {1}, five[1] = {5}, four[1] = {4};
    if (!c->groups) {
        snprintf(n1, sizeof n1, "%s.starts", out);
        snprintf(n2, sizeof n2, "%s.ends", out);
        snprintf(n3, sizeof n3, "%s.axes", out);
        int64_t st[1] = {c->start}, en[1] = {c->end}, ax[1] = {1};
        const char *ins[4] = {in, n1, n2, n3};
        return graft__onnx_initializer_i64(b, n1, 1, one, st) ||
               graft__onnx_initializer_i64(b, n2, 1, one, en) ||
               graft__onnx_initializer_i64(b, n3, 1, one, ax) ||
               graft__onnx_node(b, "Slice", l->name, ins, 4, &out, 1, NULL, 0);
    }
    /* Reshape's 0 copies the batch dimension, so the file works for any batch. */
    snprintf(n1, sizeof n1, "%s.shape5", out);
    snprintf(n2, sizeof n2, "%s.shape4", out);
    int64_t s5[5] = {0, c->groups, c->C_in / c->groups, x->dims[2], x->dims[3]};
    int64_t s4[4] = {0, c->C_in, x->dims[2], x->dims[3]};
    const char *r1[2] = {in, n1}, *m0 = c->mid[0], *m1 = c->mid[1], *r2[2] = {c->mid[1], n2};
    graft__onnx_attr perm = {.name = "perm", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 5,
                             .ints = {0, 2, 1, 3, 4}};
    return graft__onnx_initializer_i64(b, n1, 1, five, s5) ||
           graft__onnx_initializer_i64(b, n2, 1, four, s4) ||
           graft__onnx_node(b, "Reshape", NULL, r1, 2, &m0, 1, NULL, 0) ||
           graft__onnx_node(b, "Transpose", NULL, &m0, 1, &m1, 1, &perm, 1) ||
           graft__onnx_node(b, "Reshape", l->name, r2, 2, &out, 1, NULL, 0);
}

static void channel_destroy(graft__tlayer *l) {
    free(((channel_layer *)l)->src);
    free(l);
}

static const graft__tlayer_vt channel_vt = {"Channels", channel_forward, channel_backward,
                                            channel_export, channel_destroy};

static channel_layer *channel_new(graft_top *t, const graft__node *nd, int in, int out, int C_out) {
    channel_layer *c = calloc(1, sizeof *c);
    if (c && !(c->src = malloc(sizeof(int) * (size_t)C_out))) {
        free(c);
        c = NULL;
    }
    if (!c) return NULL;
    c->base.vt = &channel_vt;
    c->base.node = nd;
    snprintf(c->base.name, sizeof c->base.name, "%s",
             nd->name[0] ? nd->name : t->g->values[nd->out[0]].name);
    c->base.in[0] = in, c->base.n_in = 1, c->base.out = out;
    c->C_in = (int)t->vals[in].dims[1], c->C_out = C_out;
    return c;
}

int graft__tl_slice(graft_top *t, const graft__node *nd, const graft__tinfo *ti, int in,
                    int out) {
    const graft__tval *x = in >= 0 ? &t->vals[in] : NULL;
    int64_t dims[GRAFT__MAX_RANK], start[GRAFT__MAX_RANK], step[GRAFT__MAX_RANK];
    int ok = x && x->rank == 4 && graft__slice_params(nd, ti, dims, start, step) == 0;
    /* Only a unit-step range of channels; the other axes whole. */
    ok = ok && step[1] == 1 && dims[2] == x->dims[2] && dims[3] == x->dims[3] && dims[1] >= 1;
    ok = ok && start[2] == 0 && start[3] == 0 && step[2] == 1 && step[3] == 1;
    if (!ok)
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): only a slice of a "
                           "range of channels trains", nd->name, nd->src_op);
    channel_layer *c = channel_new(t, nd, in, out, (int)dims[1]);
    if (!c) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    for (int k = 0; k < c->C_out; k++) c->src[k] = (int)start[1] + k;
    c->start = start[1], c->end = start[1] + dims[1];
    return graft__top_append(t, &c->base);
}

int graft__tl_shuffle(graft_top *t, const graft__node *last, int in, int out, int groups,
                      const char *mid0, const char *mid1) {
    const graft__tval *x = &t->vals[in];
    int C = (int)x->dims[1];
    channel_layer *c = channel_new(t, last, in, out, C);
    if (!c) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    /* (g, C/g) transposed to (C/g, g): output channel k = i * g + j reads j * (C/g) + i. */
    int per = C / groups;
    for (int i = 0; i < per; i++)
        for (int j = 0; j < groups; j++) c->src[i * groups + j] = j * per + i;
    c->groups = groups;
    snprintf(c->mid[0], sizeof c->mid[0], "%s", mid0);
    snprintf(c->mid[1], sizeof c->mid[1], "%s", mid1);
    return graft__top_append(t, &c->base);
}
