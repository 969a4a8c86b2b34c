/*
 * learn.h: linear classifiers on CNN codes: one-vs-rest linear SVMs (hinge, squared hinge),
 * Crammer-Singer multiclass SVM and softmax regression, trained in memory, out of core, or
 * incrementally as codes arrive; the head file they produce; and the metrics of a head on
 * labelled codes.
 *
 * Where it sits: `graft extract` writes codes to the feature cache (cache.h); a learner reads
 * them through a graft_row_source (a cache view, an array in memory, anything that copies rows
 * by index) or is fed batches with graft_learner_partial_fit() while extraction runs. It writes
 * a graft_head, which `graft classify` and `graft eval` load.
 *
 * The model. A row x (D floats) is first scaled (the scaler below, fitted on the training
 * rows), giving z; the scores are s = W z + b with W (K, D) and b (K). Training minimizes
 *
 *     J(W, b) = (1/n) sum_i c_{y_i} loss(s_i, y_i) + (lambda / 2) (|W|^2 + |b|^2 / B^2)
 *
 * over the n training rows, where c_k is the weight of class k (1 unless class weights are
 * asked for) and B is the bias feature (options.bias; B = 0 means no bias). The bias is
 * regularised the way LIBLINEAR's -B does it, as the weight of a constant feature of value B,
 * so every solver here, primal or dual, minimizes the same J, and multiplying J by C n gives
 * LIBLINEAR's objective (1/2)|w|^2 + C sum_i c_i loss_i with lambda = 1 / (C n). The losses,
 * with t_k = +1 for k == y and -1 otherwise (LIBLINEAR's solver of the same problem in
 * brackets):
 *   softmax          -log(exp(s_y) / sum_k exp(s_k))      (-s 0 for two classes; for more,
 *                                                          -s 0 is one-vs-rest logistic)
 *   hinge            sum_k max(0, 1 - t_k s_k)            (one-vs-rest: -s 3)
 *   squared hinge    sum_k max(0, 1 - t_k s_k)^2          (one-vs-rest: -s 1, -s 2)
 *   Crammer-Singer   max(0, 1 + max_{k != y} s_k - s_y)   (-s 4)
 * The predicted class is the one with the largest score (the lowest index among ties).
 *
 * Determinism: for the same options (seed included), data and ISA, training gives the same
 * bits for any GRAFT_THREADS: the products run on graft_sgemm, which is bit-identical for any
 * thread count, and everything else is serial in a fixed order.
 *
 * Not here: reading the cache (cache.h), the command line, non-linear heads, fine-tuning the
 * network (finetune). Nothing here uses libuv, libarchive or OpenSSL.
 */
#ifndef GRAFT_LEARN_H
#define GRAFT_LEARN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "graft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- options ----------------------------------------------------------------------------- */

typedef enum graft_loss {
    GRAFT_LOSS_SOFTMAX = 0,        /* multinomial logistic regression */
    GRAFT_LOSS_HINGE,              /* one-vs-rest linear SVM, L1 loss */
    GRAFT_LOSS_SQUARED_HINGE,      /* one-vs-rest linear SVM, L2 loss */
    GRAFT_LOSS_CRAMMER_SINGER,     /* multiclass SVM */
    GRAFT_LOSS_COUNT
} graft_loss;

/* "softmax", "hinge", "squared_hinge", "crammer_singer"; "unknown" otherwise. */
const char *graft_loss_name(graft_loss loss);
/* Parses those names (also "logistic", "svm" = squared_hinge, "l1svm" = hinge, "cs");
 * GRAFT_EINVAL otherwise. *out written only on success. */
int graft_loss_parse(const char *name, graft_loss *out);

/*
 * Feature scaling, as flags; the chosen steps run in this order on every row, at training and
 * at prediction alike:
 *   SQRT         signed square root, sign(x) sqrt(|x|) (power normalisation)
 *   L2           the row divided by its Euclidean norm (a zero row stays zero)
 *   STANDARDIZE  (x - mean) / std per feature, mean and population std of the training rows
 *                (after the steps before it), accumulated in double in one streaming pass
 *                (two passes within a batch, Chan et al.'s merge across batches). A feature
 *                with std below 1e-12 times its mean's magnitude (or exactly 0) is only
 *                centred. Applied as (x - mean) * inv_std in float, the same operations at
 *                training and at prediction.
 */
enum {
    GRAFT_SCALE_SQRT = 1,
    GRAFT_SCALE_L2 = 2,
    GRAFT_SCALE_STANDARDIZE = 4,
    GRAFT_SCALE_ALL = 7
};
/* Parses a comma-separated list of "sqrt", "l2", "standardize" (or "std"), or "none", into
 * flags. GRAFT_EINVAL for anything else. *out written only on success. */
int graft_scale_parse(const char *list, int *out);

typedef enum graft_solver {
    GRAFT_SOLVER_AUTO = 0, /* the full-batch solver of the loss when the training rows fit in
                              options.memory_bytes (L-BFGS for softmax, dual coordinate descent
                              for the SVMs), else Adam; Adam for partial_fit */
    GRAFT_SOLVER_SGD,      /* minibatch SGD with (heavy-ball) momentum */
    GRAFT_SOLVER_ADAGRAD,  /* minibatch AdaGrad */
    GRAFT_SOLVER_ADAM,     /* minibatch Adam */
    GRAFT_SOLVER_LBFGS,    /* full batch, in memory: limited-memory BFGS on the primal (softmax,
                              squared hinge) */
    GRAFT_SOLVER_DUAL_CD,  /* full batch, in memory: dual coordinate descent (hinge and squared
                              hinge: Hsieh et al. 2008, one binary problem per class;
                              Crammer-Singer: Keerthi et al. 2008's sequential dual method) */
    GRAFT_SOLVER_COUNT
} graft_solver;

/* "auto", "sgd", "adagrad", "adam", "lbfgs", "dual_cd". */
const char *graft_solver_name(graft_solver solver);
int graft_solver_parse(const char *name, graft_solver *out);

/*
 * Learning-rate schedules of the minibatch solvers; t counts optimizer steps from 0, and
 * `epoch` is t divided by the steps of one epoch (fractional).
 *   CONSTANT   lr
 *   INVERSE    lr / (1 + lr_decay t)
 *   INV_SQRT   lr / sqrt(1 + lr_decay t)
 *   STEP       lr * lr_gamma ^ floor(epoch / lr_step_epochs)
 *   COSINE     lr * (1 + cos(pi * min(t / T, 1))) / 2, T = epochs * steps per epoch (fit), or
 *              schedule_steps (partial_fit, which knows no epoch: CONSTANT when 0)
 */
typedef enum graft_schedule {
    GRAFT_SCHEDULE_CONSTANT = 0,
    GRAFT_SCHEDULE_INVERSE,
    GRAFT_SCHEDULE_INV_SQRT,
    GRAFT_SCHEDULE_STEP,
    GRAFT_SCHEDULE_COSINE,
    GRAFT_SCHEDULE_COUNT
} graft_schedule;

const char *graft_schedule_name(graft_schedule s);
int graft_schedule_parse(const char *name, graft_schedule *out);

typedef enum graft_class_weight {
    GRAFT_CLASS_WEIGHT_NONE = 0, /* every class 1 */
    GRAFT_CLASS_WEIGHT_BALANCED, /* c_k = n / (K n_k), n_k the training rows of class k (as
                                    scikit-learn's "balanced"); a class without rows gets 1 */
    GRAFT_CLASS_WEIGHT_GIVEN     /* options.class_weights */
} graft_class_weight;

/* What a training run reports after each epoch (minibatch solvers) or iteration (full batch). */
typedef struct graft_learn_progress {
    int epoch;              /* epochs or iterations done, from 1 */
    long steps;             /* optimizer steps (minibatch) or function evaluations (batch) */
    double lambda;          /* the regularisation strength being trained */
    double train_objective; /* J on the training rows: exact for L-BFGS, the average over the
                               epoch's minibatches for the minibatch solvers, NaN for dual
                               CD (which works on the dual; the fit info has the final J) */
    double val_loss;        /* mean loss (unweighted, no penalty) on the validation rows; NaN
                               when there are none */
    double val_accuracy;    /* fraction correct on the validation rows; NaN when none */
    double seconds;         /* wall time since the fit began */
} graft_learn_progress;

/* Called on the fitting thread. Returning non-zero stops the training there: the fit returns
 * GRAFT_OK with the model as it stands (the best one so far under early stopping). */
typedef int (*graft_learn_progress_fn)(void *ctx, const graft_learn_progress *p);

/*
 * Every setting of a learner. Fill with graft_learn_options_init(), which sets the defaults
 * noted below, then change what you need. Pointers are borrowed for the call they are passed
 * to (graft_learner_create copies the class weights).
 */
typedef struct graft_learn_options {
    graft_loss loss;            /* SOFTMAX */
    int scale;                  /* GRAFT_SCALE_STANDARDIZE */
    /*
     * Regularisation. C > 0 takes LIBLINEAR's meaning: lambda = 1 / (C n), n the training
     * rows (for partial_fit, the rows seen so far, so that the objective stays LIBLINEAR's on
     * the data seen). C == 0: lambda as given (>= 0). C < 0 (GRAFT_C_AUTO, the default):
     * C = 1 / mean_i (|z_i|^2 + B^2), SVMlight's default (Joachims), the scale at which the
     * penalty and the losses balance whatever D and the scaling: about 1 / D for standardized
     * codes.
     */
    double C;
    double lambda;
    double bias;                /* B, the value of the constant feature (>= 0; 0 = no bias): 1 */
    graft_class_weight class_weight;  /* NONE */
    const float *class_weights; /* (K) positive, finite; with GRAFT_CLASS_WEIGHT_GIVEN */
    graft_solver solver;        /* AUTO */

    /* Minibatch solvers. */
    double lr;                  /* learning rate; 0 picks the solver's: SGD 0.01, AdaGrad 0.1,
                                   Adam 0.001 */
    graft_schedule schedule;    /* COSINE */
    double lr_decay;            /* INVERSE, INV_SQRT: 1e-3 */
    double lr_gamma;            /* STEP: 0.1 */
    int lr_step_epochs;         /* STEP: 30 */
    long schedule_steps;        /* partial_fit's horizon for COSINE and STEP (an epoch is then
                                   schedule_steps / epochs steps); 0: they act as CONSTANT */
    double momentum;            /* SGD: 0.9 */
    double beta1, beta2;        /* Adam: 0.9, 0.999 */
    double eps;                 /* Adam, AdaGrad: 1e-8 */
    int batch_size;             /* rows per step: 32 */
    int epochs;                 /* at most: 100 */
    int patience;               /* stop after this many epochs without improvement on the
                                   validation rows (accuracy, then loss), or of the training
                                   objective by more than tol when there are none: 10;
                                   0 runs every epoch */

    /* Full-batch solvers. */
    int max_iter;               /* L-BFGS iterations, dual CD passes over the rows: 1000 */
    double tol;                 /* L-BFGS stops when |grad J| <= tol |grad J at the zero
                                   model| (LIBLINEAR's rule); the minibatch solvers without
                                   validation rows call a relative decrease of the epoch's
                                   objective below tol no improvement: 1e-4 */
    double dual_tol;            /* dual CD stops when the projected gradients of the dual
                                   variables span less than this (LIBLINEAR's -e): 0.1 */

    /* Data. */
    double val_fraction;        /* 0..1: this fraction of the TRAIN rows of a source is held
                                   out as validation, chosen by a hash of (seed, row): 0 */
    uint64_t seed;              /* shuffling and the held-out rows: 0 */
    size_t memory_bytes;        /* a source whose rows x dim floats fit in this many bytes is
                                   read once and trained on in memory; a larger one is read
                                   again each epoch (minibatch solvers only): 1 GiB. The
                                   validation rows are always held in memory */
    size_t shuffle_rows;        /* out of core: rows shuffled together (whole blocks of the
                                   source, read in a random order): 65536 */

    graft_learn_progress_fn progress; /* NULL */
    void *progress_ctx;
} graft_learn_options;

#define GRAFT_C_AUTO (-1.0)

/* Fills *opts with the defaults above. */
void graft_learn_options_init(graft_learn_options *opts);

/* ---- row sources ------------------------------------------------------------------------- */

/* The part a row plays in a fit. */
typedef enum graft_row_role {
    GRAFT_ROW_TRAIN = 0,
    GRAFT_ROW_VAL = 1,
    GRAFT_ROW_SKIP = 2   /* neither (a test split, say) */
} graft_row_role;

/*
 * Where graft_learner_fit() gets its rows: `rows` rows of `dim` floats, read by range. A
 * cache view maps onto it directly: read() is graft_cache_view_codes() plus each row's label
 * and split from graft_cache_view_row(). Out of core, a fit reads ranges of `block_rows` rows
 * (the last may be shorter) in a shuffled order, once per epoch; in memory, once in all.
 */
typedef struct graft_row_source {
    size_t rows;
    size_t dim;
    size_t block_rows;  /* preferred read size; 0 means 4096 */
    /*
     * Copies rows [row, row + count) into X (count, dim) and their class indices into
     * labels (count; -1 for an unlabelled row, which the fit skips) and roles into role
     * (count; graft_row_role values; it arrives filled with GRAFT_ROW_TRAIN, so a source
     * without splits may leave it). count >= 1 and row + count <= rows. Returns GRAFT_OK,
     * or an error code (with graft_last_error() set) that ends the fit with it. Called on the
     * fitting thread only, never concurrently.
     */
    int (*read)(void *ctx, size_t row, size_t count, float *X, int *labels, uint8_t *role);
    void *ctx;
} graft_row_source;

/* Rows held in memory, for graft_row_source_memory. */
typedef struct graft_row_memory {
    const float *X;       /* (rows, dim) */
    const int *labels;    /* (rows) */
    const uint8_t *roles; /* (rows) graft_row_role; NULL: every row TRAIN */
    size_t rows, dim;
} graft_row_memory;

/* Points *src at mem (ctx = mem): both mem and its arrays are borrowed for as long as src is
 * used. block_rows is 4096. */
void graft_row_source_memory(graft_row_source *src, const graft_row_memory *mem);

/* ---- heads ------------------------------------------------------------------------------- */

/*
 * A trained classifier: the scaler and the linear model, with its class names. Produced by a
 * learner or graft_head_load(); all arrays belong to the head and are freed by
 * graft_head_destroy(). Read the fields freely; change them only through the functions here.
 */
typedef struct graft_head {
    graft_loss loss;    /* what it was trained with (decides what graft_head_proba means) */
    int scale;          /* GRAFT_SCALE_* flags */
    size_t D;           /* features in */
    int K;              /* classes */
    char **class_names; /* (K) NUL-terminated */
    float *mean;        /* (D) with GRAFT_SCALE_STANDARDIZE, else NULL */
    float *inv_std;     /* (D) 1 / std (1 where std was 0), else NULL */
    float *W;           /* (K, D) row-major */
    float *b;           /* (K) */
    char *meta;         /* free text kept with the head (training settings, the cache's model
                           and tap), NUL-terminated; "" when none */
} graft_head;

/*
 * A new head with zero weights, an identity scaler (mean 0, inv_std 1 when STANDARDIZE is in
 * scale) and copies of the K names (non-empty, no newline). Errors: GRAFT_EINVAL (D or K < 1,
 * K > 1 << 20, D > 1 << 28, unknown loss or flags, a bad name), GRAFT_ENOMEM.
 */
int graft_head_create(graft_loss loss, int scale, size_t D, int K,
                      const char *const *class_names, graft_head **out);
/* A deep copy. GRAFT_ENOMEM. */
int graft_head_clone(const graft_head *h, graft_head **out);
void graft_head_destroy(graft_head *h);
/* Replaces h->meta with a copy of text (NULL: ""). GRAFT_ENOMEM, GRAFT_EINVAL above 1 MiB. */
int graft_head_set_meta(graft_head *h, const char *text);

/*
 * The head file, version 1. All integers are little-endian uint32, all reals little-endian
 * IEEE-754 binary32, stored bit for bit, so a head survives save and load exactly:
 *   offset 0   magic "GRFTHEAD" (8 bytes)
 *          8   version (1)
 *         12   loss (graft_loss)
 *         16   scale flags
 *         20   D
 *         24   K
 *         28   meta bytes M (<= 1 MiB)
 *         32   class names: K times { length L (1..4096), L bytes of UTF-8, no NUL or newline }
 *              meta: M bytes of text (no NUL)
 *              if STANDARDIZE: mean (D reals), inv_std (D reals)
 *              W (K * D reals, row-major), b (K reals)
 *   end - 4    CRC-32 (ISO-HDLC, as zlib's crc32()) of every byte before it
 * Nothing may follow. Every real must be finite.
 */
#define GRAFT_HEAD_MAGIC "GRFTHEAD"
#define GRAFT_HEAD_VERSION 1

/*
 * Serialises h into a new malloc'd buffer (*buf, *len; the caller frees it), or writes it to
 * `path` (via a temporary file renamed into place, so a reader sees the old file or the new
 * one). Errors: GRAFT_EINVAL (a head that would not load back: non-finite numbers, bad names),
 * GRAFT_ENOMEM, GRAFT_EIO (with strerror and the path).
 */
int graft_head_encode(const graft_head *h, void **buf, size_t *len);
int graft_head_save(const graft_head *h, const char *path);

/*
 * Parses a head file held in memory (buf is not retained), or reads one from `path`.
 * Refuses, with GRAFT_ECORRUPT and a message naming the field ("head file: version 2 is not
 * supported (this graft reads version 1)", "head file: truncated: 812 bytes, the header
 * announces 8400", "head file: checksum mismatch (stored 1a2b3c4d, computed ...)",
 * "head file: W[1][17] is not finite"), anything that is not exactly a version-1 head file.
 * GRAFT_EIO when the file cannot be read, GRAFT_ENOMEM. *out written only on success.
 */
int graft_head_decode(const void *buf, size_t len, graft_head **out);
int graft_head_load(const char *path, graft_head **out);

/*
 * Applies the head's scaler to rows X (n, D) into Z (n, D), both caller-owned; Z may equal X.
 * These are the same float operations a learner applied while training. GRAFT_EINVAL.
 */
int graft_head_transform(const graft_head *h, const float *X, size_t n, float *Z);

/*
 * Scores: scores (n, K) = transform(X) W^T + b, through graft_sgemm (X (n, D) is not
 * modified; a scratch copy of up to 1024 rows at a time is allocated). graft_head_proba
 * turns them into probabilities for a softmax head (graft_softmax, SLEEF's exp), and is
 * GRAFT_EINVAL for the others (an SVM's scores are not probabilities). Errors: GRAFT_EINVAL,
 * GRAFT_ENOMEM, kernel errors. Any thread; a head may be shared by readers.
 */
int graft_head_predict(const graft_head *h, const float *X, size_t n, float *scores);
int graft_head_proba(const graft_head *h, const float *X, size_t n, float *proba);

/* ---- learners ---------------------------------------------------------------------------- */

typedef struct graft_learner graft_learner;

/*
 * A learner for rows of D floats and K >= 2 classes named class_names (copied). The options
 * are checked and copied. Errors: GRAFT_EINVAL (with the option named), GRAFT_ENOMEM.
 * A learner is used by one thread at a time.
 */
int graft_learner_create(const graft_learn_options *opts, size_t D, int K,
                         const char *const *class_names, graft_learner **out);
void graft_learner_destroy(graft_learner *l);

/*
 * Adds rows X (n, D) to the scaler's statistics (after the row-wise SQRT and L2 steps, when
 * chosen). Only meaningful with STANDARDIZE; a no-op otherwise. GRAFT_EINVAL after freeze.
 */
int graft_learner_scaler_update(graft_learner *l, const float *X, size_t n);
/* Fixes the scaler: later partial_fit calls use it as it is. Idempotent. graft_learner_fit
 * leaves the scaler it fitted frozen, so partial_fit after a fit goes on with it. */
void graft_learner_scaler_freeze(graft_learner *l);

/*
 * Incremental training on rows X (n, D) with labels y (n; 0..K-1, or -1 to skip the row),
 * both borrowed. Unless the scaler is frozen, the rows first update its statistics, then are
 * scaled with them (so live training sees a scaler that settles as data arrives). Rows are
 * buffered until batch_size are at hand; each full batch is one optimizer step, so any way of
 * cutting the same rows into calls gives the same steps (graft_learner_flush() steps on what is
 * left); C (lambda = 1 / (C n)), GRAFT_C_AUTO and balanced class weights count the rows seen
 * so far, row by row. After a fit it continues from the fitted model. Only the minibatch
 * solvers (AUTO means Adam here). Errors: GRAFT_EINVAL (bad label, a full-batch solver),
 * GRAFT_ENOMEM, kernel errors.
 */
int graft_learner_partial_fit(graft_learner *l, const float *X, const int *y, size_t n);
/* One step on the buffered rows, if any. */
int graft_learner_flush(graft_learner *l);

/*
 * Trains from scratch on a source: one pass to fit the scaler, count the classes and gather
 * the validation rows (and the training rows, when they fit in memory_bytes); then the
 * solver. Minibatch solvers run up to `epochs` epochs over shuffled rows (in memory: a fresh
 * permutation per epoch; out of core: the source's blocks in a random order, shuffled together
 * shuffle_rows at a time), with early stopping on the validation rows, keeping the best model
 * seen. Full-batch solvers run to convergence (tol, dual_tol) or max_iter, and keep their
 * last iterate; the validation rows only measure it. The previous model, scaler and optimizer
 * state are discarded; the fitted scaler stays frozen. Errors: GRAFT_EINVAL (source dim != D, no labelled training rows, a label
 * outside 0..K-1, a full-batch solver whose rows exceed memory_bytes), GRAFT_ENOMEM, the
 * source's errors, kernel errors.
 */
int graft_learner_fit(graft_learner *l, const graft_row_source *src);

/* What the last fit did. */
typedef struct graft_fit_info {
    graft_solver solver;        /* the one that ran (never AUTO) */
    double lambda;
    size_t train_rows, val_rows;
    int epochs;                 /* epochs or iterations run */
    int best_epoch;             /* the epoch whose model was kept */
    double train_objective;
    double val_loss, val_accuracy; /* of the kept model; NaN without validation rows */
    double seconds;
    int converged;              /* full batch: the tolerance was met */
} graft_fit_info;
void graft_learner_fit_info(const graft_learner *l, graft_fit_info *out);

/* A new head holding the learner's current model (the best under early stopping). */
int graft_learner_head(const graft_learner *l, graft_head **out);

/* The objective J and its gradient at the learner's current model on rows X (n, D) (scaled
 * with the current scaler) with labels y (0..K-1), these n rows being the training set (so C
 * and GRAFT_C_AUTO are resolved with them): grad_W (K, D) and grad_b (K), either may be NULL.
 * For the gradient checks of the tests; the hinge losses use a subgradient (0 at the kink). */
int graft_learner_objective(graft_learner *l, const float *X, const int *y, size_t n,
                            double *J, float *grad_W, float *grad_b);
/* Sets the current model (W (K, D), b (K), copied), e.g. to start from a known point. */
int graft_learner_set_model(graft_learner *l, const float *W, const float *b);

/* ---- regularisation sweep ---------------------------------------------------------------- */

typedef struct graft_sweep_entry {
    double strength;        /* as given: C, or lambda */
    double lambda;
    double val_accuracy, val_loss;
    double train_objective;
    int epochs;
    double seconds;
} graft_sweep_entry;

/*
 * Fits one model per strength (C values, or lambda values when strengths_are_lambda), all on
 * the one pass over the source that a single fit makes, and keeps the best on the validation
 * rows: highest accuracy, then lowest loss, then the earliest in the list. L-BFGS starts each
 * fit from the previous solution; the other solvers start from zero. entries (count, caller-owned) get each
 * fit's figures; *best_index and *out the winner (a new head). Errors: those of
 * graft_learner_fit, GRAFT_EINVAL without validation rows or count < 1 or a strength <= 0 (C)
 * or < 0 (lambda). opts.C and opts.lambda are ignored.
 */
int graft_learn_sweep(const graft_learn_options *opts, size_t D, int K,
                      const char *const *class_names, const graft_row_source *src,
                      const double *strengths, int count, int strengths_are_lambda,
                      graft_sweep_entry *entries, int *best_index, graft_head **out);

/* ---- evaluation -------------------------------------------------------------------------- */

/* Metrics of K-class predictions; arrays owned by the struct (graft_eval_deinit frees). */
typedef struct graft_eval {
    int K;
    size_t rows;
    int topk;                    /* min(5, K) */
    size_t correct, topk_correct;
    double accuracy, topk_accuracy;
    double balanced_accuracy;    /* mean recall over classes with rows */
    double macro_f1;             /* mean F1 over classes with rows or predictions */
    double *precision, *recall, *f1; /* (K); 0 where undefined (no predictions / no rows) */
    size_t *support;             /* (K) rows per true class */
    size_t *confusion;           /* (K, K): [true][predicted] */
} graft_eval;

/*
 * Metrics from scores (n, K) and labels (n, each 0..K-1). Classes are ranked by score, ties
 * by the lower index: the prediction is the first, and top-k counts a row whose class ranks
 * among the first k. Errors: GRAFT_EINVAL (K < 2, a label outside 0..K-1), GRAFT_ENOMEM.
 * *out is initialised only on success.
 */
int graft_eval_scores(const float *scores, const int *labels, size_t n, int K, graft_eval *out);
/* graft_head_predict then graft_eval_scores. */
int graft_eval_head(const graft_head *h, const float *X, const int *labels, size_t n,
                    graft_eval *out);
void graft_eval_deinit(graft_eval *e);

/*
 * Reports, to f: text (summary line, per-class precision/recall/F1/support table, confusion
 * matrix), the confusion matrix as CSV (header "true\predicted,<names>", one row per true
 * class), or everything as one JSON object. names (K) may be NULL (classes are then "0", "1",
 * ...); CSV fields and JSON strings are quoted and escaped. GRAFT_EIO when writing fails.
 */
int graft_eval_write_text(const graft_eval *e, const char *const *names, FILE *f);
int graft_eval_write_confusion_csv(const graft_eval *e, const char *const *names, FILE *f);
int graft_eval_write_json(const graft_eval *e, const char *const *names, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
