/*
 * pipeline/net/net.h: what the model (pipeline/model/model.c), the net planner (net.c) and the
 * layer forward functions (layers_*.c) share. Internal to libgraft.
 *
 * A net is a list of steps over values. Every value has a logical shape (ONNX order) and a
 * physical layout: 4-D activations are NHWC where the ops that produce and read them allow it
 * (convolution, pooling, batch norm, elementwise, channel concat), NCHW otherwise; the planner
 * inserts layout steps where a reader wants the other one, and makes them free aliases when the
 * two orders coincide (H * W == 1 or C == 1).
 */
#ifndef GRAFT_PIPELINE_NET_H
#define GRAFT_PIPELINE_NET_H

#include "../model/graph.h"
#include "graft/model.h"

struct graft_model {
    graft__graph *g;
    graft_conv2d_plan **conv_plan; /* (n_nodes) packed at load; NULL until known or not conv */
    graft_packed_b **gemm_pb;      /* (n_nodes) packed B of Gemm/MatMul with constant B */
    float **gemm_bias;             /* (n_nodes) (N) bias of such a Gemm, alpha/beta applied */
    int default_tap;               /* value index */
    size_t weight_bytes;
    int64_t params;
    int weights_kept;              /* float weights stay beside the packed ones */
    /*
     * Fully-connected layers on flattened maps (see graft__model_find_fc_sites): for each
     * Flatten or Reshape node that hands (N, C, h, w) at the declared input size to Gemm or
     * MatMul nodes only, {C, h, w}; zeros for other nodes. NULL when there are none.
     */
    int (*fc_site)[3];
    int fc_input_h, fc_input_w;    /* the declared input size those shapes hold at */
};

/*
 * What a net value is to fully-connected layers that run as convolutions, because the input
 * is larger than the one they were trained at (net.c, infer_fc):
 *   WINDOWS  the 4-D map a Flatten passes through unflattened, (N, C, H', W') NCHW; the Gemm
 *            reading it slides its (C, h, w) weights over it (an h x w convolution);
 *   MAP      (N, D, a, b) NHWC, standing for the trained net's (N, D) at each of a x b
 *            positions: Gemms read it as 1x1 convolutions, elementwise ops and softmax over
 *            D run per position.
 */
enum { GRAFT__FC_NONE = 0, GRAFT__FC_WINDOWS, GRAFT__FC_MAP };

enum { GRAFT__STEP_NODE, GRAFT__STEP_TO_NHWC, GRAFT__STEP_TO_NCHW };

typedef struct graft__step {
    int kind;
    int node;       /* STEP_NODE: node index */
    int *in;        /* STEP_NODE: the node's inputs after layout steps (value indices) */
    int src, dst;   /* layout steps */
    int mode;       /* STEP_NODE: how the layer runs (op-specific: NHWC form, alias, ...) */
    graft_conv2d_plan *plan; /* conv: the plan for this input size (model's or net's own) */
    int scratch;    /* 1 + a value in the arena live during this step only, or 0 */
} graft__step;

struct graft_net {
    graft_model *m;
    const graft__graph *g;
    int N, H, W;
    int n_vals;            /* graph values + the ones layout steps add */
    graft__tinfo *t;       /* (n_vals) logical shapes, folded constants */
    int *nhwc;             /* (n_vals) 1: stored NHWC */
    int *fc;               /* (n_vals) GRAFT__FC_*: fully-connected layers as convolutions */
    int *alias;            /* (n_vals) value whose storage it shares, or -1 */
    float **ptr;           /* (n_vals) storage during a run */
    size_t *offset;        /* (n_vals) arena offset of storage roots */
    int *def_step, *last_step;
    int *fed, *fed_root, n_fed; /* values sharing a fed input's bytes, and that input */
    graft__step *steps;
    int n_steps;
    graft_conv2d_plan **own_plans; /* plans made for this input size; freed with the net */
    int n_own_plans;
    unsigned char *arena;  /* activation memory, one block */
    size_t arena_bytes;
    float *staging;        /* NCHW input converted to NHWC, allocated on first such run */
    int image_nhwc;        /* input 0 is planned NHWC */
    /*
     * Micro-batching: a net for N images may run as N / sub passes of an inner net made for
     * `sub` images, when the graph treats images independently. The activations of a few
     * images stay in cache from layer to layer, where those of a whole batch of 32 stream
     * through DRAM at every layer. The wrapper owns inner and its own (N-image) tap buffers.
     */
    graft_net *inner;
    int sub;
    /*
     * More inner nets, one per further pool thread (owned), when the passes outnumber the
     * threads: each thread then runs whole passes on its own, its images in its own cache,
     * instead of every layer being split between the cores.
     */
    graft_net **lanes;
    int n_lanes;
    /* taps */
    int n_taps;
    int *tap_val;
    int *tap_rank;
    int64_t (*tap_dims)[GRAFT_MODEL_MAX_RANK];
    float **tap_out;       /* (n_taps) owned result buffers */
    float *tap_tmp;        /* ReLU'd map before pooling, for the largest such tap */
    graft_tap_options tap_opts;
    int default_flatten;   /* the default tap of shape (N, C, 1, 1) is handed out as (N, C) */
    int64_t *flops;        /* (n_nodes) per node of the graph, 0 for nodes not run */
    char (*opname)[48];
};

/*
 * Shapes of a net's inputs, for the general entry points below (the ONNX conformance tests
 * feed graphs with several inputs of any rank). An I64 input must come with its data, which
 * becomes a constant of the net (copied), so shapes and axes fed as inputs fold as usual.
 */
typedef struct graft__net_input {
    int rank;
    int64_t dims[GRAFT__MAX_RANK];
    const void *data; /* I64 inputs: (dims) int64_t; F32 inputs: ignored */
} graft__net_input;

/* graft_net_create for every graph input in order; image_nhwc: input 0 is fed NHWC. */
int graft__net_create_ex(graft_model *m, const graft__net_input *inputs, int n_inputs,
                         const char *const *taps, int tap_count, const graft_tap_options *opts,
                         int image_nhwc, graft_net **out);
/* Runs with one pointer per F32 graph input (row-major, logical order; input 0 NHWC when
   the net was made with image_nhwc), NULL for I64 ones. */
int graft__net_run_ex(graft_net *net, const float *const *inputs);

/*
 * graft_model_load from bytes in memory: buf[0, len) (a file mapping of `path`, or with path
 * NULL any buffer, as the fuzz target passes) is only read during the call.
 */
int graft__model_load_buffer(const void *buf, size_t len, const char *path,
                             const graft_model_options *opts, graft_model **out);

/*
 * Finds m->fc_site at load: infers the shapes at the declared input size (when its H and W are
 * static) and records the Flatten/Reshape nodes whose (C, h, w) a net at a larger input lets
 * through unflattened. Leaves m->fc_site NULL when there are none. 0 or GRAFT_ENOMEM.
 */
int graft__model_find_fc_sites(graft_model *m);

/* Runs one node step; the layer functions live in layers_*.c. */
int graft__layer_forward(graft_net *net, const graft__step *s);

/* Elements of a value's logical shape. */
static inline int64_t graft__numel(const graft__tinfo *t) {
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++) n *= t->dims[d];
    return n;
}

#endif
