/*
 * pipeline/finetune/layers.h: what the trainable top (top.c) shares with its layers (one file
 * per layer type: conv.c, dense.c, pool.c, act.c, batchnorm.c, lrn.c, merge.c, reshape.c) and
 * with its ONNX export (export.c). Internal to libgraft.
 *
 * The top is a list of layers over values. Every value has storage for the largest batch
 * (N images) and, unless nothing upstream of it trains, a gradient of the same size. 4-D
 * values are stored NHWC, others row-major in their logical order. Layers follow the STYLE
 * rules for passes: forward keeps what backward needs (the values themselves stay alive for
 * the whole step, so most layers need nothing else), backward ADDS into the gradients of its
 * inputs and parameters, which the top zeroes before each backward pass.
 */
#ifndef GRAFT_PIPELINE_FINETUNE_LAYERS_H
#define GRAFT_PIPELINE_FINETUNE_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "graft/finetune.h"
#include "graft/kernels.h"
#include "../model/graph.h"
#include "../model/onnx_write.h"

typedef struct graft__tval {
    const char *name;     /* the graph tensor's name (or a generated one); owned by the top */
    int rank;             /* logical rank, dims[0] = N (the largest batch) */
    int64_t dims[4];
    int nhwc;             /* rank 4: stored (N, H, W, C) */
    size_t per;           /* floats per image */
    float *data;          /* (N * per) */
    float *grad;          /* (N * per), or NULL when no gradient flows here */
} graft__tval;

/* Inputs a layer may have: DenseNet's concats join up to 33 values. */
#define GRAFT__TOP_MAX_IN 64

typedef struct graft__tlayer graft__tlayer;

typedef struct graft__tlayer_vt {
    const char *kind;
    int (*forward)(graft_top *t, graft__tlayer *l, int n, int train);
    int (*backward)(graft_top *t, graft__tlayer *l, int n);
    /* Appends the layer's ONNX nodes and initializers (its current weights). */
    int (*export_onnx)(const graft_top *t, const graft__tlayer *l, graft__onnx_builder *b);
    void (*destroy)(graft__tlayer *l);
} graft__tlayer_vt;

/* A layer's common part; each layer type embeds it first. */
struct graft__tlayer {
    const graft__tlayer_vt *vt;
    const graft__node *node;   /* the graph node it trains, or NULL for the ones the top adds */
    char name[96];             /* the node's name (or its output's), for messages */
    int in[GRAFT__TOP_MAX_IN], n_in; /* value indices */
    int out;
    int param0, n_params;      /* its parameters: t->params[param0 .. param0 + n_params) */
};

struct graft_top {
    graft_model *m;
    const graft__graph *g;
    int N, H, W;               /* largest batch, network input size */
    int n;                     /* rows of the last forward */
    int trained_forward;       /* the last forward had train = 1 */
    graft__tval *vals;
    int n_vals, cap_vals;
    int input;                 /* value index of the freeze tensor (always 0) */
    int features;              /* value the classifier reads */
    int logits;                /* value the classifier writes */
    graft__tlayer **layers;
    int n_layers, cap_layers;
    graft_top_param *params;
    float **momentum;          /* (n_params) */
    int *param_fan_in;         /* (n_params) how reinit draws it (graft__top_param_init) */
    int n_params, cap_params;
    uint64_t steps;
    float **state;             /* (n_state) graft__top_add_state */
    size_t *state_numel;
    const char **state_name;
    int n_state;
    int K;
    size_t D;
    char *freeze_name;         /* the graph's name of the freeze tensor */
    char *signature;
    float *scratch;            /* N * (largest per) floats, for any one layer at a time */
    float *scratch2;
    float *conv_ws;            /* convolution backward workspace */
    size_t conv_ws_floats;
    float *input_grad_nchw;    /* with input_grad: the input gradient in NCHW */
    uint64_t seed;
    graft_top_options opts;
};

/* Adds a parameter (data copied from `init` or zeroed when NULL); returns its index or < 0. */
int graft__top_add_param(graft_top *t, const char *name, const char *layer, int rank,
                         const int64_t *dims, const float *init, float lr_mult, int is_new);

/* How a re-initialisation draws parameter i: fan_in > 0 uniform in +-1 / sqrt(fan_in) (torch's
   Conv2d and Linear), 0 zeros, -1 ones (batch norm scales). */
void graft__top_param_init(graft_top *t, int i, int fan_in);

/* Constructors; each checks its node, adds its parameters and output value, and appends. */
int graft__tl_conv(graft_top *t, const graft__node *nd, int in, int out);
int graft__tl_dense(graft_top *t, const graft__node *nd, int in, int out, const char *wname,
                    const char *bname, const float *w, const float *b, int K, int D,
                    int trans_b, graft_act act, int is_new);
int graft__tl_pool(graft_top *t, const graft__node *nd, int in, int out);
int graft__tl_act(graft_top *t, const graft__node *nd, int in, int out);
int graft__tl_batchnorm(graft_top *t, const graft__node *nd, int in, int out);
/* ONNX LRN across channels of an (N, C, H, W) value (lrn.c). */
int graft__tl_lrn(graft_top *t, const graft__node *nd, int in, int out);
int graft__tl_binary(graft_top *t, const graft__node *nd, int a, int b, int out);
int graft__tl_concat(graft_top *t, const graft__node *nd, const int *ins, int n_in, int out);
/* Flatten, Reshape to (N, D), Identity: reorders NHWC to NCHW order where a 4-D map becomes
   a vector, copies otherwise. */
int graft__tl_reshape(graft_top *t, const graft__node *nd, int in, int out);
int graft__tl_dropout(graft_top *t, float p, int in, int out);
/* A range of channels (Slice), and ShuffleNet's channel shuffle (the Reshape, Transpose,
   Reshape chain ending at node `last`, whose 5-D values mid0 and mid1 export keeps). */
int graft__tl_slice(graft_top *t, const graft__node *nd, const graft__tinfo *ti, int in,
                    int out);
int graft__tl_shuffle(graft_top *t, const graft__node *last, int in, int out, int groups,
                      const char *mid0, const char *mid1);
/* Constant padding of H and W (Pad before a count_include_pad AveragePool). */
int graft__tl_pad(graft_top *t, const graft__node *nd, int in, int out);

/* Registers a layer's buffer (borrowed, named for the signature) as checkpointed state. */
int graft__top_add_state(graft_top *t, const char *name, float *data, size_t numel);

/* Appends an already-built layer (the top takes ownership). */
int graft__top_append(graft_top *t, graft__tlayer *l);

/* NHWC-aware physical dims of a value: (N, H, W, C) for 4-D, the logical dims otherwise. */
static inline void graft__tval_phys(const graft__tval *v, int n, int64_t *dims, int *rank) {
    if (v->rank == 4 && v->nhwc) {
        dims[0] = n, dims[1] = v->dims[2], dims[2] = v->dims[3], dims[3] = v->dims[1];
        *rank = 4;
        return;
    }
    for (int d = 0; d < v->rank; d++) dims[d] = v->dims[d];
    dims[0] = n;
    *rank = v->rank;
}

/* ONNX nodes computing out = op(in) / the fused activation act; bounds become initializers
   named after out. */
int graft__export_unary(graft__onnx_builder *b, const graft_unary_op *op, const char *in,
                        const char *out);
int graft__export_act(graft__onnx_builder *b, graft_act act, const char *in, const char *out);

/* dy * act'(y) for the fused activations of Conv/Gemm/Add, into out (count floats), with
   *grad pointing at it; with GRAFT_ACT_NONE *grad is dy itself and nothing is written. */
int graft__act_grad(graft_act act, float *out, const float *dy, const float *y, size_t count,
                    const float **grad);

/* splitmix64: the top's seeded draws (initialisation, dropout masks). */
static inline uint64_t graft__top_draw(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
