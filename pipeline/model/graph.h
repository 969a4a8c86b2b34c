/*
 * pipeline/model/graph.h: graft's network IR, the one both importers (ONNX, TFLite) build and
 * the runtime (pipeline/net/) executes. Internal to libgraft.
 *
 * A graph is values (tensors, by index) and nodes (operators, by index). Semantics are ONNX's:
 * values have logical shapes, 4-D activations are (N, C, H, W), weights of Conv are OIHW, axes
 * and attributes mean what the ONNX operator of the same name says. An importer of another
 * format (TFLite is NHWC, OHWI) translates into these semantics; the runtime then decides the
 * physical layout (NHWC for 4-D activations) on its own, so no importer thinks about it.
 *
 * Shapes here are the file's: rank and dims may be unknown (-1) or symbolic until a net is
 * created for a concrete input size; constants are fully known. Constant data is float32 or
 * int64 (every other dtype is converted at import: weights dequantized to float, shape-like
 * integers widened to int64).
 *
 * Ownership: the graph owns every name, array and constant's data (malloc'd, freed by
 * graft__graph_destroy). Importers add through the functions below, which copy names and, for
 * constants, either copy the data or adopt a malloc'd buffer.
 */
#ifndef GRAFT_PIPELINE_MODEL_GRAPH_H
#define GRAFT_PIPELINE_MODEL_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "graft/graft.h"
#include "graft/kernels.h"
#include "graft/model.h"

#define GRAFT__MAX_RANK 8

typedef enum graft__dtype {
    GRAFT__F32 = 1, /* ONNX's numbers, so importers pass them through */
    GRAFT__I64 = 7,
} graft__dtype;

typedef struct graft__value {
    char *name;
    int dtype;                       /* graft__dtype */
    int rank;                        /* -1: unknown */
    int64_t dims[GRAFT__MAX_RANK];   /* -1: unknown (or symbolic) */
    void *data;                      /* constants: (numel) float or int64_t; NULL otherwise */
    int producer;                    /* node index, -1 for inputs and constants */
    int is_input;                    /* a graph input the caller feeds */
    int is_output;                   /* a graph output */
    int is_weight;                   /* a constant that is a learned parameter (counted) */
} graft__value;

/* Operators. Inputs and outputs are value indices; -1 marks an omitted optional input. */
typedef enum graft__op {
    GRAFT__OP_CONV,        /* in: x, W (const, OIHW), [B (const)]; a.conv */
    GRAFT__OP_GEMM,        /* in: A (M, K), B (const), [C]; a.gemm (ONNX Gemm) */
    GRAFT__OP_MATMUL,      /* in: A, B; numpy matmul */
    GRAFT__OP_POOL,        /* in: x; a.pool (MaxPool, AveragePool) */
    GRAFT__OP_GLOBAL_POOL, /* in: x; a.gpool (GlobalAveragePool, GlobalMaxPool) */
    GRAFT__OP_UNARY,       /* in: x; a.unary */
    GRAFT__OP_BINARY,      /* in: a, b; a.binary (Add, Sub, Mul, Div, with broadcasting) */
    GRAFT__OP_BATCHNORM,   /* in: x, scale, bias, mean, var (all but x const); a.bn */
    GRAFT__OP_CONCAT,      /* in: n tensors; a.axis */
    GRAFT__OP_SOFTMAX,     /* in: x; a.softmax */
    GRAFT__OP_LRN,         /* in: x; a.lrn */
    GRAFT__OP_RESHAPE,     /* in: x, shape (I64); a.reshape */
    GRAFT__OP_FLATTEN,     /* in: x; a.axis */
    GRAFT__OP_TRANSPOSE,   /* in: x; a.transpose */
    GRAFT__OP_SQUEEZE,     /* in: x, [axes (I64)]; a.axes when given as attribute */
    GRAFT__OP_UNSQUEEZE,   /* in: x, [axes (I64)]; a.axes */
    GRAFT__OP_SLICE,       /* in: x, starts, ends, [axes], [steps] (I64, opset >= 10 form) */
    GRAFT__OP_SPLIT,       /* in: x, [split (I64)]; a.split; n outputs */
    GRAFT__OP_PAD,         /* in: x, pads (I64), [value]; a.pad */
    GRAFT__OP_REDUCE,      /* in: x, [axes (I64)]; a.reduce (ReduceMean/Max/Sum) */
    GRAFT__OP_SHAPE,       /* in: x; a.shape; out I64 */
    GRAFT__OP_GATHER,      /* in: data, indices (I64); a.axis */
    GRAFT__OP_CAST,        /* in: x; a.cast_to (graft__dtype) */
    GRAFT__OP_CONSTANT_OF_SHAPE, /* in: shape (I64); a.fill */
    GRAFT__OP_IDENTITY,    /* in: x (Identity, Dropout at inference, TFLite QUANTIZE, ...) */
    GRAFT__OP_COUNT
} graft__op;

/* ONNX auto_pad: NOTSET uses the explicit pads; the SAME forms depend on the input size. */
typedef enum graft__auto_pad {
    GRAFT__PAD_NOTSET = 0,
    GRAFT__PAD_SAME_UPPER, /* odd padding at the end (TFLite SAME) */
    GRAFT__PAD_SAME_LOWER,
    GRAFT__PAD_VALID
} graft__auto_pad;

typedef enum graft__reduce { GRAFT__REDUCE_MEAN, GRAFT__REDUCE_MAX, GRAFT__REDUCE_SUM } graft__reduce;

typedef struct graft__node {
    int op;              /* graft__op */
    char *name;          /* the file's node name, or "" */
    char *src_op;        /* the file's operator ("Conv", "DEPTHWISE_CONV_2D"), for messages */
    int *in, n_in;
    int *out, n_out;
    union {
        struct {
            graft_conv2d d;    /* C_in, C_out, groups, kernel, stride, dilation, pads, act */
            int auto_pad;      /* graft__auto_pad */
        } conv;
        struct {
            float alpha, beta;
            int trans_a, trans_b;
            graft_act act;     /* fused activation */
        } gemm;
        struct {
            graft_pool2d p;
            int auto_pad;
        } pool;
        int gpool;             /* graft_pool_kind */
        graft_unary_op unary;
        struct {
            int op;            /* graft_binary_op */
            graft_act act;     /* fused activation on the result (Add+Relu) */
        } binary;
        float bn_eps;
        int axis;              /* CONCAT, FLATTEN, GATHER, SPLIT (with split below) */
        struct {
            int axis;
            int log;           /* LogSoftmax */
            int coerce_2d;     /* opset < 13: softmax over the flattened axes [axis, rank) */
        } softmax;
        struct {
            int size;
            float alpha, beta, bias;
        } lrn;
        int reshape_allowzero;
        struct {
            int perm[GRAFT__MAX_RANK];
            int n;             /* 0: reverse the axes (ONNX default) */
        } transpose;
        struct {
            int64_t axes[GRAFT__MAX_RANK];
            int n;             /* -1: axes come from an input (or, for REDUCE, all axes) */
            int keepdims;      /* REDUCE */
            int kind;          /* REDUCE: graft__reduce */
            int noop_with_empty_axes; /* REDUCE (opset 18) */
        } axes;
        struct {
            int axis;
            int64_t sizes[64]; /* attribute `split`; n_sizes 0: from input or equal parts */
            int n_sizes;
        } split;
        struct {
            int mode;          /* 0 constant, 1 reflect, 2 edge */
            float value;
        } pad;
        struct {
            int64_t start, end; /* Shape opset 15; end == INT64_MAX when absent */
        } shape;
        int cast_to;           /* graft__dtype */
        struct {
            int dtype;
            double value;
        } fill;
    } a;
} graft__node;

/* What the file says about preprocessing and where the image input is. */
typedef struct graft__graph {
    graft__value *values;
    int n_values, cap_values;
    graft__node *nodes;
    int n_nodes, cap_nodes;
    int *outputs, n_outputs; /* graph outputs, in the file's order */
    int *inputs, n_inputs;   /* graph inputs fed at run time, in the file's order */
    int input;               /* the image input (inputs[0]), -1 until set */
    graft_model_preproc preproc;
    char *labels;            /* embedded labels text (owned), or NULL */
    char format[16];         /* "onnx", "tflite" */
    char producer[64];
} graft__graph;

int graft__graph_create(graft__graph **out);
void graft__graph_destroy(graft__graph *g);

/*
 * Adds a value called `name` (copied; "" gets a generated name) of dtype, rank (-1 unknown) and
 * dims (may be NULL when rank <= 0), with no data. Returns its index (>= 0) or a negative error.
 * Names must be unique: an existing name is GRAFT_EINVAL ("duplicate tensor name").
 */
int graft__graph_add_value(graft__graph *g, const char *name, int dtype, int rank,
                           const int64_t *dims);
/* Index of the value called `name`, or -1. (Hashing keeps importing large graphs linear.) */
int graft__graph_find(const graft__graph *g, const char *name);
/*
 * Adds a constant: like add_value, with `data` (numel elements of dtype). copy == 1 copies it;
 * copy == 0 adopts it (it must come from malloc; the graph frees it, also on failure).
 * is_weight marks learned parameters for the parameter count.
 */
int graft__graph_add_const(graft__graph *g, const char *name, int dtype, int rank,
                           const int64_t *dims, void *data, int copy, int is_weight);
/* Convenience: a rank-1 I64 constant (axes, shapes) or a rank-0 F32 scalar. */
int graft__graph_add_i64(graft__graph *g, const char *name, const int64_t *v, int n);
int graft__graph_add_scalar(graft__graph *g, const char *name, float v);

/* Appends value v to the graph inputs (the first one is the image input). */
int graft__graph_add_input(graft__graph *g, int v);

/*
 * Adds a node of `op` (attributes left zero; fill them through the returned pointer's `a`)
 * with inputs in[0..n_in) (-1 for omitted optionals) and outputs out[0..n_out). Each output gets
 * this node as producer; an output that already has a producer is GRAFT_EINVAL. name and src_op
 * are copied. The returned pointer is valid until the next add_node.
 */
int graft__graph_add_node(graft__graph *g, int op, const char *name, const char *src_op,
                          const int *in, int n_in, const int *out, int n_out,
                          graft__node **node);

/* Elements of a value with known dims (rank 0: 1); -1 when any dim is unknown. */
int64_t graft__value_numel(const graft__value *v);

/* "Conv", "Gemm", ... for an op (the IR's own name, for listings). */
const char *graft__op_name(int op);

/*
 * Model-level passes, run by graft_model_load() after an importer: checks every node input is
 * defined and the graph is acyclic (topological order, GRAFT_EINVAL naming a node on a cycle or
 * a missing input), folds constant subgraphs, fuses Conv+BatchNorm(+activation), Gemm+act and
 * Add+Relu except where a value in `keep` would disappear.
 */
int graft__graph_finish(graft__graph *g, const char *const *keep, int no_fuse);

/*
 * Shapes and known values of a graph's values for one use: the model-level passes hold the
 * file's shapes, a net holds the concrete shapes for its input size. `data` points at a
 * constant's elements (the graph's, or owned == 1: malloc'd by graft__infer_node).
 */
typedef struct graft__tinfo {
    int dtype;
    int rank;
    int64_t dims[GRAFT__MAX_RANK];
    void *data;
    int owned;
} graft__tinfo;

/*
 * Infers the output shapes of node n from t[inputs] into t[outputs], and when every input the
 * op reads is known (data != NULL), or the op is Shape of a fully known shape, computes the
 * outputs' values too (constant folding; owned = 1). Float ops are folded only when
 * fold_float is set (the model-level pass folds weight arithmetic; nets fold shape chains).
 * Returns 0, or an error whose message names the node and what does not fit.
 */
int graft__infer_node(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                      int fold_float);
/* Copies the elements of a (rank, dims) walk over src with src_strides from src_off. */
void graft__copy_strided(void *dst, const void *src, size_t esz, int rank, const int64_t *dims,
                         const int64_t *src_strides, int64_t src_off);
/* Slice n's output dims, starts and steps per axis from its constant inputs; 1 when they are
   not known yet, an error code when they are invalid. */
int graft__slice_params(const graft__node *n, const graft__tinfo *t, int64_t *dims,
                        int64_t *start, int64_t *step);
void graft__slice_copy(void *dst, const void *src, size_t esz, const graft__tinfo *x,
                       const int64_t *dims, const int64_t *start, const int64_t *step);
/* The axes a Reduce node reduces, as a mask over the input's axes; 1 when not known yet. */
int graft__reduce_mask(const graft__node *n, const graft__tinfo *t, int *mark);
/* Gather along axis of x by the constant I64 indices ix; -1 for an index out of range. */
int graft__gather_copy(void *dst, const void *src, size_t esz, const graft__tinfo *x, int axis,
                       const graft__tinfo *ix);
/* Resolves auto_pad and returns the four pads of a Conv or pool for an input of H x W. */
void graft__resolve_pads(int auto_pad, int H, int W, int kh, int kw, int sh, int sw, int dh,
                         int dw, int pads_in[4], int pads_out[4]);

/*
 * The importers: parse buf[0, len) into a new graph. With a `path`, buf is a private read-only
 * mapping of that file, which the importer may partly release (MADV_DONTNEED) once weights
 * are converted, and external data is looked up beside it; pass NULL for a buffer in memory.
 */
int graft__onnx_import(const void *buf, size_t len, const char *path, graft__graph **out);
int graft__tflite_import(const void *buf, size_t len, const char *path, graft__graph **out);
/* 1 when buf looks like a TFLite flatbuffer (file identifier "TFL3" at offset 4). */
int graft__tflite_sniff(const void *buf, size_t len);

#endif
