/*
 * finetune.h: backpropagation into the top of a pretrained ConvNet (the second transfer
 * strategy: replace the classifier, keep the early layers frozen, train the higher layers
 * with a smaller learning rate than the new head).
 *
 * A graft_top is the trainable part of a loaded model: every layer after a freeze point (a
 * tensor every path from the image to the classifier passes through) up to the classifier's
 * input, plus a new fully-connected classifier sized to the task's classes. The frozen trunk
 * stays a graft_net (or a cache of its activations at the freeze point, `graft extract
 * --layer FREEZE`); the top takes those activations in, runs forward keeping what backward
 * needs, backpropagates a loss, and updates its weights with SGD. graft_top_export_onnx()
 * writes the whole fine-tuned network as one ONNX file: the original model cut at the freeze
 * point, byte for byte, followed by the trained top.
 *
 * Layout: values cross this API as the model's logical tensors, NCHW (N, C, H, W) or (N, D);
 * inside, 4-D activations are NHWC like the rest of graft. Parameters are in ONNX layout
 * (convolution weights OIHW), named after the model's initializers, so that they compare one
 * to one with PyTorch's state_dict of the same network exported with batch norm unfused
 * (graft_model_options.no_fuse); with fusion (the default) a Conv+BatchNorm pair trains as
 * one convolution with a bias, which is the same function with fewer parameters.
 *
 * Threads: one graft_top is used by one thread at a time; its passes run on the kernel thread
 * pool (GRAFT_THREADS) and are bit-identical for any thread count.
 */
#ifndef GRAFT_FINETUNE_H
#define GRAFT_FINETUNE_H

#include <stddef.h>
#include <stdint.h>

#include "graft.h"
#include "learn.h"
#include "model.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct graft_top graft_top;

/* Options of graft_top_create(); zero-initialise, then set what you need. */
typedef struct graft_top_options {
    /*
     * The last frozen tensor (or the node writing it, by node name). NULL: the default, the
     * input of the sixth weighted layer (Conv, Gemm) from the end before the classifier or,
     * when that tensor does not cut the graph (it lies inside a residual block), the nearest
     * earlier one that does: MobileNetV2's and ResNet's last two blocks train; a network with
     * fewer weighted layers trains whole. GRAFT_TOP_FREEZE_NONE: nothing frozen, the whole
     * network trains from the image up.
     */
    const char *freeze_until;
    /*
     * Where the new classifier goes: the tensor whose features it reads. NULL: the model's
     * default tap (the classifier's input), so the model's own classifier is replaced.
     */
    const char *features;
    int classes;             /* K: outputs of the new classifier (>= 2) */
    const graft_head *head;  /* optional: start the classifier from a `graft train` head
                                (its D must match; scalers other than none and standardize
                                (folded in) are refused); borrowed for the call */
    float dropout;           /* probability of zeroing a feature before the classifier; 0 */
    int bn_train;            /* 1: batch norm layers use batch statistics (training mode);
                                0: frozen running statistics, the default */
    int reinit;              /* 1: re-initialise the trainable layers (training from scratch:
                                Kaiming-uniform as torch.nn.Conv2d / Linear do); they then
                                count as new (is_new, lr_mult 1) */
    int input_grad;          /* 1: also compute the gradient with respect to the input */
    uint64_t seed;           /* for the new classifier's initialisation and dropout */
} graft_top_options;

#define GRAFT_TOP_FREEZE_NONE "-"

/*
 * Builds the top of m for batches of up to N images of H x W (the network input size), with
 * a new classifier (Kaiming-uniform weights and zero bias, like torch.nn.Linear's reset, or
 * the head's). m must stay alive while the top exists; the top copies the weights it trains.
 * Errors: GRAFT_EINVAL (unknown freeze or features name, with the closest names; a freeze
 * point that does not cut the graph, naming the tensor that bypasses it; classes < 2; a
 * head whose D differs), GRAFT_EUNSUPPORTED (an operator in the top that has no backward
 * pass: the message names the op and node), GRAFT_ENOMEM. *out written only on success.
 */
int graft_top_create(graft_model *m, int N, int H, int W, const graft_top_options *opts,
                     graft_top **out);
void graft_top_destroy(graft_top *t);

/* The freeze tensor's name (the image input's name with nothing frozen) and its per-image
   shape in NCHW order: (C, H, W) or (D). Owned by the top. */
const char *graft_top_input_name(const graft_top *t);
int graft_top_input_dims(const graft_top *t, int *rank, int64_t *dims);
/* K, and the feature length D the classifier reads. */
int graft_top_classes(const graft_top *t);
size_t graft_top_features(const graft_top *t);

/*
 * Forward pass of n <= N samples: x (n, input dims), row-major NCHW as graft_net_tap() gives
 * the freeze tensor (or the image, NCHW, with nothing frozen). train = 1 keeps what backward
 * needs and applies dropout (and batch statistics with bn_train); train = 0 is inference.
 * x is borrowed for the call. Errors: GRAFT_EINVAL (n out of range, NULL), kernel errors.
 */
int graft_top_forward(graft_top *t, const float *x, int n, int train);
/* The logits (n, K) of the last forward pass; owned by the top, valid until the next one. */
const float *graft_top_logits(const graft_top *t);

typedef enum graft_top_loss {
    GRAFT_TOP_LOSS_SOFTMAX = 0, /* cross-entropy, optionally with label smoothing */
    GRAFT_TOP_LOSS_HINGE        /* multiclass hinge, torch.nn.MultiMarginLoss */
} graft_top_loss;

/*
 * Backward pass after a forward with train = 1: zeroes the gradients, computes the mean
 * loss of the last forward's n rows against labels (n) in [0, K) into *loss, and the
 * gradients of every trainable parameter (and of the input with input_grad). Errors:
 * GRAFT_EINVAL (no training forward before, a label out of range naming the row).
 */
int graft_top_backward(graft_top *t, const int *labels, graft_top_loss loss,
                       float label_smoothing, float *loss_out);
/* The input gradient (n, input dims), NCHW, after a backward with input_grad; else NULL. */
const float *graft_top_input_grad(const graft_top *t);

/* A trainable parameter. data and grad belong to the top; lr_mult may be changed. */
typedef struct graft_top_param {
    const char *name;      /* the model's initializer name; "graft_classifier.weight"/".bias"
                              for the new classifier */
    const char *layer;     /* the node it belongs to (for --lr-mult patterns) */
    float *data, *grad;    /* (numel), ONNX layout: Conv OIHW, classifier (K, D) */
    size_t numel;
    int rank;
    int64_t dims[4];
    float lr_mult;         /* 0.1 for pretrained layers, 1 for new ones */
    int is_new;            /* 1: the new classifier's, or re-initialised (reinit) */
} graft_top_param;

int graft_top_param_count(const graft_top *t);
graft_top_param *graft_top_param_get(graft_top *t, int i);

/*
 * One SGD step with PyTorch's torch.optim.SGD semantics for every parameter p with gradient
 * g: g += weight_decay * p; buf = momentum * buf + g (buf = g at the first step); p -= lr *
 * lr_mult * buf. The momentum buffers belong to the top (and are saved in checkpoints).
 */
int graft_top_step(graft_top *t, float lr, float momentum, float weight_decay);

/*
 * Checkpoints: every parameter and momentum buffer, the freeze point, the classes and a
 * caller's text (epoch, best accuracy, options; at most 64 KiB), CRC-checked, written
 * atomically (temp file, fsync, rename). Loading checks that the checkpoint belongs to the
 * same top (parameter names and shapes) and returns the text in *meta (malloc'd, the caller
 * frees; meta may be NULL). Errors: GRAFT_EIO, GRAFT_ENOSPC, GRAFT_ECORRUPT (bad magic, CRC,
 * truncation), GRAFT_EMISMATCH (another model, freeze point or class count: the message
 * names what differs).
 */
int graft_top_save(const graft_top *t, const char *path, const char *meta);
int graft_top_load(graft_top *t, const char *path, char **meta);

/*
 * Writes the fine-tuned network as ONNX to out_path: the ONNX file model_path (the model t
 * was made from) cut at the freeze point byte for byte, then the top with its current weights
 * (Conv, BatchNormalization, activations, pooling, Add, Concat, Flatten, Gemm), with the
 * graph output "logits" (N, K) and, when class_names is given (K strings), their list in the
 * model's metadata ("labels"). Errors: GRAFT_EUNSUPPORTED (a TFLite model), GRAFT_EIO,
 * GRAFT_ENOSPC, GRAFT_ECORRUPT (model_path is not the model's ONNX file).
 */
int graft_top_export_onnx(const graft_top *t, const char *model_path, const char *out_path,
                          const char *const *class_names);

/* ---- the whole fine-tuning job (`graft finetune`; host builds only) ---------------------- */

typedef enum graft_finetune_schedule {
    GRAFT_FINETUNE_SCHEDULE_COSINE = 0, /* per step from lr down to 0 at the last step */
    GRAFT_FINETUNE_SCHEDULE_STEP,       /* lr * gamma^(epoch / step_size) */
    GRAFT_FINETUNE_SCHEDULE_CONSTANT
} graft_finetune_schedule;

/* One finished epoch, handed to on_epoch. */
typedef struct graft_finetune_epoch {
    int epoch, epochs;            /* 1-based: epoch of epochs */
    double train_loss;            /* mean loss of the training batches (as trained: dropout,
                                     label smoothing) */
    double train_accuracy;        /* of those same forward passes */
    double val_loss;              /* mean loss on the val rows, inference mode; NaN: no val */
    double val_accuracy;          /* NaN when there are no val rows */
    double lr;                    /* the base learning rate of the epoch's last step */
    double seconds;               /* the epoch's wall time, validation and saving included */
    int best;                     /* 1: the best val accuracy so far (saved as the best
                                     checkpoint) */
    uint64_t train_rows, val_rows;
} graft_finetune_epoch;

/* Counters of a run; filled in every case, as far as the run got. */
typedef struct graft_finetune_stats {
    graft_extract_stats extract;  /* of the extraction into the cache (the default path, and
                                     the val cache of --augment) */
    uint64_t augment_rejects;     /* bad samples met by the augmented passes, summed */
    int classes;                  /* K */
    uint64_t train_rows, val_rows;
    int start_epoch;              /* epochs already done when the run began (resume) */
    int epochs_done;              /* epochs complete now, including start_epoch */
    int best_epoch;               /* 1-based; 0 when none */
    double best_val_accuracy;     /* NaN when no val rows */
    const char *freeze;           /* the freeze tensor (owned by the library; valid until the
                                     next run) */
    int nothing_frozen;           /* 1: the freeze tensor is the image input (all layers train) */
} graft_finetune_stats;

/*
 * Every setting of graft_finetune_run(). Fill with graft_finetune_options_init(), which sets
 * the defaults noted below, then change what you need. Pointers are borrowed for the call.
 */
typedef struct graft_finetune_options {
    const char *model_path;          /* an ONNX model (TFLite: GRAFT_EUNSUPPORTED, as the
                                        export cuts the model's own ONNX file) */
    const char *const *inputs;       /* input specs, as graft_extract_options.inputs */
    int input_count;
    graft_reader_options read;       /* labels and splits, as extract reads them;
                                        read.val_fraction defaults to 0.2 here: keys without a
                                        train/val path component go to val by hash, and when
                                        no row is val at all, that fraction of the train rows
                                        (by the same key hash) is held out */
    graft_transform transform;       /* the evaluation transform (required: its size is the
                                        network input); --augment adds RandomResizedCrop and
                                        flips to a copy of it */
    const char *out_path;            /* the fine-tuned network, ONNX (required) */
    const char *cache_dir;           /* NULL: out_path without ".onnx" plus ".cache" */
    const char *checkpoint_path;     /* NULL: out_path without ".onnx" plus ".ckpt" */
    const char *best_path;           /* NULL: the checkpoint path without ".ckpt" plus
                                        ".best.ckpt" */
    const char *resume_path;         /* a checkpoint to continue from (NULL: start afresh) */
    /* The top: freeze_until, features, dropout, bn_train, reinit, head as graft_top_create
       takes them (classes and seed are set by the run). */
    graft_top_options top;
    int epochs;                      /* 10 */
    int batch;                       /* 32 (also the extraction batch) */
    double lr;                       /* 0.01 */
    double momentum;                 /* 0.9 */
    double weight_decay;             /* 1e-4 */
    double pretrained_lr_mult;       /* 0.1: lr_mult of every pretrained parameter */
    const char *lr_mult;             /* "PATTERN=F[,PATTERN=F...]": fnmatch(3) patterns against
                                        a parameter's layer or name, applied in order after
                                        pretrained_lr_mult (a pattern matching nothing is
                                        GRAFT_EINVAL); NULL: none */
    graft_finetune_schedule schedule; /* cosine */
    int step_size;                   /* epochs per step of the step schedule; 3 */
    double gamma;                    /* 0.1 */
    graft_top_loss loss;             /* softmax */
    float label_smoothing;           /* 0 */
    int augment;                     /* 1: every epoch reads and decodes the images again with
                                        RandomResizedCrop + horizontal flips (seeded by seed,
                                        epoch and key) through a shuffle buffer; 0: train from
                                        the cache of activations at the freeze point */
    int shuffle_buffer;              /* samples in --augment's shuffle buffer; 1000 */
    uint64_t seed;                   /* initialisation, permutations, augmentation, dropout;
                                        42 */
    int decode_threads;              /* 0: the number of cores */
    int handle_signals;              /* 1: SIGINT/SIGTERM stop cleanly (GRAFT_ECANCELED) with
                                        the checkpoint of the last complete epoch on disk */
    /* Extraction progress and events (rejects, broken shards), as graft_extract_options. */
    void (*on_progress)(void *user, const graft_extract_stats *stats);
    void (*on_event)(void *user, const graft_extract_event *event);
    /* After each epoch, on the calling thread, once its checkpoint is saved. */
    void (*on_epoch)(void *user, const graft_finetune_epoch *epoch);
    void *user;
} graft_finetune_options;

/* Fills *o with the defaults above (everything else zero or NULL). */
void graft_finetune_options_init(graft_finetune_options *o);

/*
 * The whole fine-tuning job on the calling thread: extracts the activations at the freeze
 * point of every input image into the cache (resuming like `graft extract`; rows already there
 * are not computed again), reads the classes (K, the cache's sorted labels) and the train and
 * val rows from it, builds the top (graft_top_create with N = batch), and trains `epochs`
 * epochs of SGD: each a seeded permutation of the train rows (or, with augment, the images
 * decoded again through a shuffle buffer), validation on the val rows, then the checkpoint
 * (meta: the epoch, the best accuracy, every option that must match to resume, the classes)
 * and, when the val accuracy is the best so far, the best checkpoint. Finally the best
 * checkpoint's weights are exported to out_path (graft_top_export_onnx, class names in the
 * metadata). Resuming from a checkpoint gives bit for bit the result of an uninterrupted run:
 * every random draw depends only on the seed, the epoch and the key. Bad images and broken
 * shards are skipped as in extract. *stats (optional) is filled in every case.
 * Errors: GRAFT_EINVAL (options; no labelled train rows; fewer than 2 classes; an --lr-mult
 * pattern matching no parameter), GRAFT_EUNSUPPORTED (a TFLite model), the errors of
 * graft_extract_run, graft_model_load, graft_top_create, graft_top_save/load (GRAFT_EMISMATCH
 * also for a resume checkpoint made with other options or classes, naming the option),
 * graft_top_export_onnx, GRAFT_ECANCELED (a signal: the last complete epoch's checkpoint is
 * saved), GRAFT_ENOMEM. graft_last_error() has the detail. One run per process at a time.
 */
int graft_finetune_run(const graft_finetune_options *o, graft_finetune_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
