/*
 * model.h: pretrained networks in, CNN codes out. A graft_model is a network imported from an
 * ONNX or TFLite file, with its weights converted to float and packed once for the current ISA;
 * a graft_net runs it forward at a given input size and hands back the activations of the
 * chosen layers ("taps").
 *
 * The split is load once, run many: graft_model_load() parses, checks, folds constants, fuses
 * (Conv+BatchNorm+activation, Gemm+activation, Add+ReLU) and packs the weights; graft_net_create()
 * cuts the graph after the last tap and plans the activation memory for one input shape. Several
 * nets may share one model (they only read it); one net is used by one thread at a time, and its
 * forward pass runs on the kernel thread pool (GRAFT_THREADS).
 *
 * Tensors cross this API in the layout the framework that trained the network used for its
 * outputs: NCHW for 4-D values (as PyTorch and ONNX), feature vectors as (N, D). Internally
 * activations are NHWC (see kernels.h); taps are converted on the way out.
 */
#ifndef GRAFT_MODEL_H
#define GRAFT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "graft/graft.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct graft_model graft_model;
typedef struct graft_net graft_net;

#define GRAFT_MODEL_MAX_RANK 8

/* Options of graft_model_load(); zero-initialise, then set what you need. */
typedef struct graft_model_options {
    /*
     * Tensor names that must stay observable: fusion never folds them away (a tap on a
     * Conv's pre-activation output needs its name here). NULL-terminated array or NULL.
     */
    const char *const *keep;
    /* 1: do not fuse at all (debugging, and taps anywhere without listing them in keep). */
    int no_fuse;
    /*
     * 1: keep the float copy of every convolution's weights beside the packed one (about
     * twice the weight memory). Fine-tuning (graft_top_create) needs them; inference does not.
     */
    int keep_weights;
} graft_model_options;

/* How a model wants its images prepared, as far as the file says (else torchvision's). */
typedef struct graft_model_preproc {
    float mean[3], std[3]; /* on the 0-1 scale, per RGB channel (torchvision Normalize) */
    int resize;            /* shorter side before the center crop; 0: stretch to the input */
    int height, width;     /* network input; 0 when the file leaves it open */
    int channels;          /* 3 for RGB networks */
    int from_file;         /* 1 when mean/std/resize come from the model file's metadata */
    const char *labels;    /* class names embedded in the file, one per line, or NULL */
} graft_model_preproc;

/*
 * Loads the network at `path`: ONNX (opsets 7..18) or TFLite, told apart by content. Weights are
 * converted to float32 and packed; the file mapping is released before returning, so a model
 * costs about its weights in memory. Errors: GRAFT_EIO (cannot open or read), GRAFT_ECORRUPT
 * (malformed file: the message names the field and offset), GRAFT_EUNSUPPORTED (an operator or
 * attribute graft does not run: the message names the op type and the node), GRAFT_ERANGE
 * (absurd sizes), GRAFT_EINVAL (a graph that is not a DAG, missing initializers, shapes that
 * do not fit), GRAFT_ENOMEM. *out is written only on success; destroy with _destroy().
 */
int graft_model_load(const char *path, const graft_model_options *opts, graft_model **out);
void graft_model_destroy(graft_model *m);

/* The model's preprocessing; the strings stay owned by the model. */
void graft_model_get_preproc(const graft_model *m, graft_model_preproc *out);
/* The name of the image input, and the name of the default tap (the classifier's input). */
const char *graft_model_input_name(const graft_model *m);
const char *graft_model_default_tap(const graft_model *m);
/* Graph outputs, in the file's order. */
int graft_model_output_count(const graft_model *m);
const char *graft_model_output_name(const graft_model *m, int i);
/* Learnable parameters (elements of float constants used as weights and biases). */
int64_t graft_model_param_count(const graft_model *m);
/* "onnx" or "tflite", and the producer the file names ("pytorch 1.13.1"). Owned by m. */
const char *graft_model_format(const graft_model *m);
const char *graft_model_producer(const graft_model *m);

/* What to do to a tap before handing it out. */
typedef enum graft_tap_pool {
    GRAFT_TAP_POOL_NONE = 0, /* as computed: (N, C, H, W) stays 4-D */
    GRAFT_TAP_POOL_AVG,      /* global average over H and W: (N, C) */
    GRAFT_TAP_POOL_MAX       /* global maximum over H and W: (N, C) */
} graft_tap_pool;

typedef struct graft_tap_options {
    int relu;            /* 1: max(x, 0) before pooling (codes ReLU'd as the net would) */
    graft_tap_pool pool; /* global pooling of spatial taps; vectors pass through */
} graft_tap_options;

/*
 * A runnable instance of m for inputs of N x C x H x W (C as the model says), computing the taps
 * `taps[0..tap_count)` (tensor names; NULL or tap_count == 0: the default tap). Only the nodes the
 * taps depend on run. Shapes are inferred and constant subgraphs (Shape/Gather/Concat/Reshape
 * chains) folded for this size; H and W may differ from the training size where the graph
 * allows. Global-pooling networks take any size. Fully-connected layers (Gemm, or MatMul with
 * constant weights) on a flattened map (AlexNet, VGG) take an input larger than the one the
 * file declares by running as convolutions, as CS231n converts them: the first one slides
 * its weights over the larger map with the trained map's h x w as kernel, the ones after it
 * act at each position, so their outputs (and taps, the default one included) become maps
 * (N, D, a, b); GRAFT_TAP_POOL_AVG or _MAX turn a tap back into a vector. The weights are
 * read as loaded, not copied. At the declared size nothing changes.
 * The activation memory is one arena laid out by liveness. m must outlive the net.
 * Errors: GRAFT_EINVAL (unknown tap name with the closest names, a tap fused away, an input
 * size the graph cannot take, with the node where shapes fail; an input smaller than such
 * fully-connected layers were trained at names the layer and the smallest input it takes),
 * GRAFT_EUNSUPPORTED (e.g. an operator that cannot act per position on such a map),
 * GRAFT_ERANGE, GRAFT_ENOMEM.
 */
int graft_net_create(graft_model *m, int N, int H, int W, const char *const *taps, int tap_count,
                     const graft_tap_options *opts, graft_net **out);
void graft_net_destroy(graft_net *net);

/* The input layout graft_net_run() reads. */
typedef enum graft_layout {
    GRAFT_LAYOUT_NCHW = 0, /* (N, C, H, W), as torchvision tensors */
    GRAFT_LAYOUT_NHWC = 1  /* (N, H, W, C), as decoded images: saves a transposition */
} graft_layout;

/*
 * Runs the net on x, N images of the size the net was created for, in `layout`. x is borrowed
 * for the call. Errors: GRAFT_EINVAL (NULL), GRAFT_ENOMEM, and kernel errors with the node named.
 */
int graft_net_run(graft_net *net, const float *x, graft_layout layout);
/*
 * The same for a batch whose first n images (1 <= n <= N) matter, as the last batch of a
 * stream: a micro-batched net (graft_net_microbatch() < N) computes only the passes that hold
 * them; others compute all N. Tap rows from n on are unspecified. x still spans N images.
 */
int graft_net_run_partial(graft_net *net, const float *x, graft_layout layout, int n);

/*
 * Tap i after the last run: shape (rank, dims in NCHW / (N, D) order) and data, contiguous
 * row-major. The data belongs to the net and stays valid until the next run or destroy.
 * GRAFT_EINVAL for i out of range.
 */
int graft_net_tap(const graft_net *net, int i, const float **data, int *rank, int64_t *dims);
int graft_net_tap_count(const graft_net *net);
/*
 * Class probabilities of one image from tap `tap` holding class scores: (N, K) or, from
 * fully-connected layers run as convolutions at an input larger than the trained one, a map
 * (N, K, a, b). Each position's scores go through a softmax unless they already are
 * probabilities (a model ending in Softmax), and the probabilities are averaged over the
 * positions (CS231n's averaged score map): the same whether or not the model ends in a
 * softmax, and no one position's extreme scores decide. p: K floats, the caller's.
 * GRAFT_EINVAL for a tap or image out of range or K not the tap's class count.
 */
int graft_net_class_probs(const graft_net *net, int tap, int image, float *p, int64_t K);
const char *graft_net_tap_name(const graft_net *net, int i);

/*
 * Bytes of the activation arenas (the peak activation memory of one run: a micro-batched net
 * running a pass per thread has an arena per thread), and of the weights as
 * loaded: packed and Winograd-transformed convolution weights (a 3x3 layer's transformed
 * weights are 4x its parameters) plus the float constants kept. The transforms are budgeted:
 * a model keeps them while its weights stay within max(1.2x its float32 parameters, 256 MB),
 * so VGG-16 loads in 1.17x its size and ResNet-50 keeps every transform (pipeline/model/model.c).
 */
size_t graft_net_activation_bytes(const graft_net *net);
size_t graft_model_weight_bytes(const graft_model *m);

/*
 * Images per pass: a net for N images whose graph treats images independently runs in passes
 * of fewer images, so that one pass's activations stay in cache from layer to layer (nets with
 * large fully-connected layers run whole batches, which stream those weights once). Results
 * are the same bits either way. GRAFT_MICROBATCH=K caps it. N when not micro-batched. With
 * at least two passes per kernel thread (graft_threads_get() when the net is made), each
 * thread runs whole passes on an arena of its own.
 */
int graft_net_microbatch(const graft_net *net);

/* One node of a net as `graft info` lists it. Strings are owned by the net. */
typedef struct graft_node_info {
    const char *name;    /* the node's name (or its first output's when unnamed) */
    const char *op;      /* the operator as executed: "Conv+Relu", "Gemm", "MaxPool", ... */
    const char *output;  /* the tensor it writes */
    int rank;
    int64_t dims[GRAFT_MODEL_MAX_RANK]; /* output shape, NCHW order */
    int64_t params;      /* weights and biases it owns */
    int64_t flops;       /* multiply-adds count twice; for one forward of the whole batch */
} graft_node_info;

int graft_net_node_count(const graft_net *net);
int graft_net_node_info(const graft_net *net, int i, graft_node_info *out);

#ifdef __cplusplus
}
#endif
#endif
