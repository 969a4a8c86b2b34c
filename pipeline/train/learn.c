/*
 * pipeline/train/learn.c: the learner: options, the minibatch solvers (SGD with momentum,
 * AdaGrad, Adam) and their learning-rate schedules, incremental training, training over a row
 * source in memory or out of core with early stopping, the regularisation sweep, and the head
 * a learner hands out.
 *
 * A step on m rows is two GEMMs (scores = Z W^T + b, then grad W = dS^T Z) around the loss of
 * loss.c, plus the penalty and the optimizer's update, all serial apart from the GEMMs, which
 * are bit-identical for any thread count: training is a function of the options, the seed
 * and the data.
 *
 * Parameters live in one float block theta = [W (K, D) | b (K)], so the optimizers see a
 * single vector and the best model under early stopping is one copy.
 *
 * A fit makes one pass over the source to fit the scaler, count the classes (for balanced
 * weights and C) and gather the validation rows, and the training rows too when they fit in
 * memory_bytes. Out of core, each epoch reads the source's blocks in a fresh random order and
 * shuffles the rows of shuffle_rows at a time before cutting them into minibatches.
 *
 * It does not read files (the source does), nor know about the feature cache.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graft/kernels.h"
#include "kernels.h"
#include "train.h"

#define DEFAULT_BLOCK_ROWS 4096
#define SCALER_CHUNK 256

/* ---- names ------------------------------------------------------------------------------- */

static const char *const loss_names[GRAFT_LOSS_COUNT] = {"softmax", "hinge", "squared_hinge",
                                                         "crammer_singer"};
static const char *const solver_names[GRAFT_SOLVER_COUNT] = {"auto", "sgd", "adagrad",
                                                             "adam", "lbfgs", "dual_cd"};
static const char *const schedule_names[GRAFT_SCHEDULE_COUNT] = {"constant", "inverse",
                                                                 "inv_sqrt", "step", "cosine"};

const char *graft_loss_name(graft_loss loss) {
    return (unsigned)loss < GRAFT_LOSS_COUNT ? loss_names[loss] : "unknown";
}

int graft_loss_parse(const char *name, graft_loss *out) {
    static const struct {
        const char *name;
        graft_loss loss;
    } aliases[] = {{"logistic", GRAFT_LOSS_SOFTMAX},  {"svm", GRAFT_LOSS_SQUARED_HINGE},
                   {"l2svm", GRAFT_LOSS_SQUARED_HINGE}, {"l1svm", GRAFT_LOSS_HINGE},
                   {"cs", GRAFT_LOSS_CRAMMER_SINGER}};
    if (!name || !out) return graft__fail(GRAFT_EINVAL, "loss: NULL argument");
    for (int i = 0; i < GRAFT_LOSS_COUNT; i++)
        if (!strcmp(name, loss_names[i])) {
            *out = (graft_loss)i;
            return GRAFT_OK;
        }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(name, aliases[i].name)) {
            *out = aliases[i].loss;
            return GRAFT_OK;
        }
    return graft__fail(GRAFT_EINVAL, "unknown loss \"%s\" (softmax, hinge, squared_hinge, "
                       "crammer_singer)", name);
}

const char *graft_solver_name(graft_solver s) {
    return (unsigned)s < GRAFT_SOLVER_COUNT ? solver_names[s] : "unknown";
}

int graft_solver_parse(const char *name, graft_solver *out) {
    if (!name || !out) return graft__fail(GRAFT_EINVAL, "solver: NULL argument");
    for (int i = 0; i < GRAFT_SOLVER_COUNT; i++)
        if (!strcmp(name, solver_names[i])) {
            *out = (graft_solver)i;
            return GRAFT_OK;
        }
    return graft__fail(GRAFT_EINVAL, "unknown solver \"%s\" (auto, sgd, adagrad, adam, lbfgs, "
                       "dual_cd)", name);
}

const char *graft_schedule_name(graft_schedule s) {
    return (unsigned)s < GRAFT_SCHEDULE_COUNT ? schedule_names[s] : "unknown";
}

int graft_schedule_parse(const char *name, graft_schedule *out) {
    if (!name || !out) return graft__fail(GRAFT_EINVAL, "schedule: NULL argument");
    for (int i = 0; i < GRAFT_SCHEDULE_COUNT; i++)
        if (!strcmp(name, schedule_names[i])) {
            *out = (graft_schedule)i;
            return GRAFT_OK;
        }
    return graft__fail(GRAFT_EINVAL, "unknown schedule \"%s\" (constant, inverse, inv_sqrt, "
                       "step, cosine)", name);
}

int graft_scale_parse(const char *list, int *out) {
    if (!list || !out) return graft__fail(GRAFT_EINVAL, "scale: NULL argument");
    int flags = 0;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 4 && !strncmp(p, "sqrt", 4)) flags |= GRAFT_SCALE_SQRT;
        else if (len == 2 && !strncmp(p, "l2", 2)) flags |= GRAFT_SCALE_L2;
        else if ((len == 11 && !strncmp(p, "standardize", 11)) || (len == 3 && !strncmp(p, "std", 3)))
            flags |= GRAFT_SCALE_STANDARDIZE;
        else if (!(len == 4 && !strncmp(p, "none", 4)))
            return graft__fail(GRAFT_EINVAL, "unknown scaling \"%.*s\" in \"%s\" (sqrt, l2, "
                               "standardize, none)", (int)len, p, list);
        if (!p[len]) break;
        p += len + 1;
    }
    *out = flags;
    return GRAFT_OK;
}

void graft_learn_options_init(graft_learn_options *o) {
    memset(o, 0, sizeof *o);
    o->loss = GRAFT_LOSS_SOFTMAX;
    o->scale = GRAFT_SCALE_STANDARDIZE;
    o->C = GRAFT_C_AUTO;
    o->bias = 1.0;
    o->solver = GRAFT_SOLVER_AUTO;
    o->schedule = GRAFT_SCHEDULE_COSINE;
    o->lr_decay = 1e-3;
    o->lr_gamma = 0.1;
    o->lr_step_epochs = 30;
    o->momentum = 0.9;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->batch_size = 32;
    o->epochs = 100;
    o->patience = 10;
    o->max_iter = 1000;
    o->tol = 1e-4;
    o->dual_tol = 0.1;
    o->memory_bytes = (size_t)1 << 30;
    o->shuffle_rows = 65536;
}

/* ---- helpers ----------------------------------------------------------------------------- */

void graft__shuffle_size(graft__rng *r, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)graft__rng_below(r, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

double graft__hash_unit(uint64_t seed, uint64_t x) {
    graft__rng r = {seed ^ (x * 0xd1342543de82ef95ull)};
    graft__rng_next(&r);
    return (double)(graft__rng_next(&r) >> 11) * 0x1.0p-53;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double default_lr(graft_solver s) {
    switch (s) {
    case GRAFT_SOLVER_SGD: return 0.01;
    case GRAFT_SOLVER_ADAGRAD: return 0.1;
    default: return 0.001;
    }
}

/* ---- the learner ------------------------------------------------------------------------- */

struct graft_learner {
    graft_learn_options o;
    float *given_weights;   /* (K) copy of o.class_weights */
    size_t D;
    int K;
    char **names;           /* (K) */
    graft__scaler sc;
    int frozen;

    size_t P;               /* K * D + K */
    float *theta;           /* (P) W then b */
    float *best;            /* (P) the best model under early stopping */
    float *opt_m, *opt_v;   /* (P) optimizer state */
    float *grad;            /* (P) */
    long step;
    long steps_per_epoch;   /* fit: for STEP and COSINE; 0 when unknown */
    long total_steps;       /* COSINE horizon; 0: none */

    /* One minibatch: scaled rows, labels, per-row weights and the loss's scratch. */
    int bs;
    float *batch_Z;         /* (bs, D) */
    int *batch_y;           /* (bs) */
    size_t pending;         /* rows waiting in batch_Z (partial_fit) */
    float *row_w;           /* (bs) */
    float *S, *dS, *work;   /* (bs, K) each */
    float *tmp;             /* (SCALER_CHUNK, D) */

    size_t *class_seen;     /* (K) rows seen per class (partial_fit) */
    size_t rows_seen;
    double sumsq_seen;      /* sum of the squared norms of the scaled rows seen */
    float *cw;              /* (K) effective class weights */

    graft_solver solver;    /* what the next fit runs (resolved) */
    double lambda;          /* of the last step or fit */
    graft_fit_info info;
};

static int check_options(const graft_learn_options *o) {
#define BAD(...) graft__fail(GRAFT_EINVAL, "learn options: " __VA_ARGS__)
    if ((unsigned)o->loss >= GRAFT_LOSS_COUNT) return BAD("unknown loss %d", (int)o->loss);
    if (o->scale & ~GRAFT_SCALE_ALL) return BAD("unknown scale flags 0x%x", o->scale);
    if (isnan(o->C) || !isfinite(o->C)) return BAD("C = %g (> 0; 0: use lambda; < 0: auto)", o->C);
    if (!(o->lambda >= 0) || !isfinite(o->lambda)) return BAD("lambda = %g (>= 0)", o->lambda);
    if (!(o->bias >= 0) || !isfinite(o->bias)) return BAD("bias = %g (>= 0)", o->bias);
    if ((unsigned)o->class_weight > GRAFT_CLASS_WEIGHT_GIVEN)
        return BAD("unknown class_weight %d", (int)o->class_weight);
    if (o->class_weight == GRAFT_CLASS_WEIGHT_GIVEN && !o->class_weights)
        return BAD("class_weight GIVEN without class_weights");
    if ((unsigned)o->solver >= GRAFT_SOLVER_COUNT) return BAD("unknown solver %d", (int)o->solver);
    int smooth = o->loss == GRAFT_LOSS_SOFTMAX || o->loss == GRAFT_LOSS_SQUARED_HINGE;
    if (o->solver == GRAFT_SOLVER_LBFGS && !smooth)
        return BAD("solver lbfgs needs a differentiable loss (softmax, squared_hinge), not %s",
                   graft_loss_name(o->loss));
    if (o->solver == GRAFT_SOLVER_DUAL_CD && o->loss == GRAFT_LOSS_SOFTMAX)
        return BAD("solver dual_cd is for the SVM losses, not softmax");
    if (!(o->lr >= 0) || !isfinite(o->lr)) return BAD("lr = %g (>= 0; 0: default)", o->lr);
    if ((unsigned)o->schedule >= GRAFT_SCHEDULE_COUNT)
        return BAD("unknown schedule %d", (int)o->schedule);
    if (!(o->lr_decay >= 0) || !isfinite(o->lr_decay)) return BAD("lr_decay = %g", o->lr_decay);
    if (!(o->lr_gamma > 0) || !(o->lr_gamma <= 1)) return BAD("lr_gamma = %g (0..1]", o->lr_gamma);
    if (o->lr_step_epochs < 1) return BAD("lr_step_epochs = %d (>= 1)", o->lr_step_epochs);
    if (o->schedule_steps < 0) return BAD("schedule_steps = %ld (>= 0)", o->schedule_steps);
    if (!(o->momentum >= 0 && o->momentum < 1)) return BAD("momentum = %g [0, 1)", o->momentum);
    if (!(o->beta1 >= 0 && o->beta1 < 1)) return BAD("beta1 = %g [0, 1)", o->beta1);
    if (!(o->beta2 >= 0 && o->beta2 < 1)) return BAD("beta2 = %g [0, 1)", o->beta2);
    if (!(o->eps > 0) || !isfinite(o->eps)) return BAD("eps = %g (> 0)", o->eps);
    if (o->batch_size < 1 || o->batch_size > (1 << 20))
        return BAD("batch_size = %d (1..1048576)", o->batch_size);
    if (o->epochs < 1) return BAD("epochs = %d (>= 1)", o->epochs);
    if (o->patience < 0) return BAD("patience = %d (>= 0)", o->patience);
    if (o->max_iter < 1) return BAD("max_iter = %d (>= 1)", o->max_iter);
    if (!(o->tol > 0) || !isfinite(o->tol)) return BAD("tol = %g (> 0)", o->tol);
    if (!(o->dual_tol > 0) || !isfinite(o->dual_tol)) return BAD("dual_tol = %g (> 0)", o->dual_tol);
    if (!(o->val_fraction >= 0 && o->val_fraction < 1))
        return BAD("val_fraction = %g [0, 1)", o->val_fraction);
    return GRAFT_OK;
#undef BAD
}

void graft_learner_destroy(graft_learner *l) {
    if (!l) return;
    if (l->names)
        for (int k = 0; k < l->K; k++) free(l->names[k]);
    free(l->names);
    free(l->given_weights);
    graft__scaler_deinit(&l->sc);
    free(l->theta);
    free(l->best);
    free(l->opt_m);
    free(l->opt_v);
    free(l->grad);
    free(l->batch_Z);
    free(l->batch_y);
    free(l->row_w);
    free(l->S);
    free(l->dS);
    free(l->work);
    free(l->tmp);
    free(l->class_seen);
    free(l->cw);
    free(l);
}

int graft_learner_create(const graft_learn_options *opts, size_t D, int K,
                         const char *const *class_names, graft_learner **out) {
    if (!opts || !out || !class_names) return graft__fail(GRAFT_EINVAL, "learner: NULL argument");
    int err = check_options(opts);
    if (err) return err;
    if (D < 1 || D > ((size_t)1 << 28))
        return graft__fail(GRAFT_EINVAL, "learner: D = %zu is outside 1..2^28", D);
    if (K < 2 || K > (1 << 20))
        return graft__fail(GRAFT_EINVAL, "learner: K = %d (2..2^20 classes)", K);
    for (int k = 0; k < K; k++)
        if (!class_names[k] || !class_names[k][0] || strpbrk(class_names[k], "\r\n"))
            return graft__fail(GRAFT_EINVAL, "learner: the name of class %d is %s", k,
                               class_names[k] ? "empty or holds a newline" : "NULL");
    if (opts->class_weight == GRAFT_CLASS_WEIGHT_GIVEN)
        for (int k = 0; k < K; k++)
            if (!(opts->class_weights[k] > 0) || !isfinite(opts->class_weights[k]))
                return graft__fail(GRAFT_EINVAL, "learner: class_weights[%d] = %g (must be "
                                   "positive)", k, opts->class_weights[k]);
    graft_learner *l = calloc(1, sizeof *l);
    if (!l) return graft__fail(GRAFT_ENOMEM, "learner: out of memory");
    l->o = *opts;
    l->D = D;
    l->K = K;
    l->P = (size_t)K * D + (size_t)K;
    l->bs = opts->batch_size;
    if (!l->o.shuffle_rows) l->o.shuffle_rows = 65536;
    size_t bs = (size_t)l->bs;
    l->names = calloc((size_t)K, sizeof *l->names);
    l->theta = calloc(l->P, sizeof *l->theta);
    l->best = calloc(l->P, sizeof *l->best);
    l->opt_m = calloc(l->P, sizeof *l->opt_m);
    l->opt_v = calloc(l->P, sizeof *l->opt_v);
    l->grad = calloc(l->P, sizeof *l->grad);
    l->batch_Z = malloc(bs * D * sizeof *l->batch_Z);
    l->batch_y = malloc(bs * sizeof *l->batch_y);
    l->row_w = malloc(bs * sizeof *l->row_w);
    l->S = malloc(bs * (size_t)K * sizeof *l->S);
    l->dS = malloc(bs * (size_t)K * sizeof *l->dS);
    l->work = malloc(bs * (size_t)K * sizeof *l->work);
    l->tmp = malloc((size_t)SCALER_CHUNK * D * sizeof *l->tmp);
    l->class_seen = calloc((size_t)K, sizeof *l->class_seen);
    l->cw = malloc((size_t)K * sizeof *l->cw);
    err = GRAFT_ENOMEM;
    if (!l->names || !l->theta || !l->best || !l->opt_m || !l->opt_v || !l->grad ||
        !l->batch_Z || !l->batch_y || !l->row_w || !l->S || !l->dS || !l->work || !l->tmp ||
        !l->class_seen || !l->cw)
        goto fail;
    for (int k = 0; k < K; k++) {
        if (!(l->names[k] = strdup(class_names[k]))) goto fail;
        l->cw[k] = 1.0f;
    }
    if (opts->class_weight == GRAFT_CLASS_WEIGHT_GIVEN) {
        if (!(l->given_weights = malloc((size_t)K * sizeof *l->given_weights))) goto fail;
        memcpy(l->given_weights, opts->class_weights, (size_t)K * sizeof *l->given_weights);
        memcpy(l->cw, l->given_weights, (size_t)K * sizeof *l->cw);
    }
    l->o.class_weights = l->given_weights;
    if (graft__scaler_init(&l->sc, opts->scale, D)) goto fail;
    l->solver = opts->solver;
    l->lambda = opts->C != 0 ? NAN : opts->lambda;
    *out = l;
    return GRAFT_OK;
fail:
    graft_learner_destroy(l);
    return graft__fail(err, "learner: out of memory for %d classes x %zu features", K, D);
}

/* ---- scaler ------------------------------------------------------------------------------ */

int graft_learner_scaler_update(graft_learner *l, const float *X, size_t n) {
    if (!l || (!X && n)) return graft__fail(GRAFT_EINVAL, "learner: NULL argument");
    if (l->frozen) return graft__fail(GRAFT_EINVAL, "learner: the scaler is frozen");
    if (!(l->o.scale & GRAFT_SCALE_STANDARDIZE)) return GRAFT_OK;
    for (size_t i = 0; i < n; i += SCALER_CHUNK) {
        size_t m = n - i < SCALER_CHUNK ? n - i : SCALER_CHUNK;
        graft__scale_rows(l->o.scale, l->D, X + i * l->D, m, l->tmp);
        graft__scaler_add(&l->sc, l->tmp, m);
    }
    graft__scaler_finalize(&l->sc);
    return GRAFT_OK;
}

void graft_learner_scaler_freeze(graft_learner *l) {
    if (l) l->frozen = 1;
}

/* Row steps then standardisation, X (n, D) into Z. */
static void scale_full(const graft_learner *l, const float *X, size_t n, float *Z) {
    graft__scale_rows(l->o.scale, l->D, X, n, Z);
    if (l->o.scale & GRAFT_SCALE_STANDARDIZE)
        graft__standardize(l->sc.mean_f, l->sc.inv_std_f, l->D, Z, n);
}

/* ---- one minibatch step ------------------------------------------------------------------ */

static double schedule_lr(const graft_learner *l) {
    const graft_learn_options *o = &l->o;
    double lr = o->lr > 0 ? o->lr : default_lr(l->solver);
    double t = (double)l->step;
    switch (o->schedule) {
    case GRAFT_SCHEDULE_CONSTANT: return lr;
    case GRAFT_SCHEDULE_INVERSE: return lr / (1 + o->lr_decay * t);
    case GRAFT_SCHEDULE_INV_SQRT: return lr / sqrt(1 + o->lr_decay * t);
    case GRAFT_SCHEDULE_STEP:
        if (!l->steps_per_epoch) return lr;
        return lr * pow(o->lr_gamma, floor(t / l->steps_per_epoch / o->lr_step_epochs));
    case GRAFT_SCHEDULE_COSINE:
        if (!l->total_steps) return lr;
        return lr * 0.5 * (1 + cos(M_PI * fmin(t / (double)l->total_steps, 1.0)));
    default: return lr;
    }
}

/*
 * One optimizer step on Z (m, D) with labels y at strength lambda: returns the minibatch's
 * objective in *objective. The rows' weights are cw[y] / m.
 */
static int sgd_step(graft_learner *l, const float *Z, const int *y, size_t m, double lambda,
                    double *objective) {
    size_t D = l->D, KD = (size_t)l->K * D;
    int K = l->K;
    float *W = l->theta, *b = l->theta + KD;
    float *gW = l->grad, *gb = l->grad + KD;
    for (size_t i = 0; i < m; i++) l->row_w[i] = l->cw[y[i]] / (float)m;
    int err = graft__scores(Z, m, D, W, b, K, l->S);
    if (err) return err;
    double loss = 0;
    if ((err = graft__loss_eval(l->o.loss, l->S, y, l->row_w, m, K, &loss, l->dS, l->work)))
        return err;
    if ((err = graft__weight_grad(l->dS, Z, m, D, K, gW))) return err;
    double B = l->o.bias, breg = B > 0 ? lambda / (B * B) : 0;
    double wsq = 0, bsq = 0;
    float lam = (float)lambda;
    for (size_t j = 0; j < KD; j++) {
        wsq += (double)W[j] * W[j];
        gW[j] += lam * W[j];
    }
    for (int k = 0; k < K; k++) {
        double sum = 0;
        for (size_t i = 0; i < m; i++) sum += l->dS[i * K + k];
        gb[k] = B > 0 ? (float)(sum + breg * b[k]) : 0.0f;
        bsq += (double)b[k] * b[k];
    }
    *objective = loss + 0.5 * lambda * wsq + 0.5 * breg * bsq;

    float lr = (float)schedule_lr(l);
    size_t P = l->P;
    float *th = l->theta, *g = l->grad, *mo = l->opt_m, *v = l->opt_v;
    switch (l->solver) {
    case GRAFT_SOLVER_SGD: {
        float mu = (float)l->o.momentum;
        for (size_t j = 0; j < P; j++) {
            mo[j] = mu * mo[j] + g[j];
            th[j] -= lr * mo[j];
        }
        break;
    }
    case GRAFT_SOLVER_ADAGRAD: {
        float eps = (float)l->o.eps;
        for (size_t j = 0; j < P; j++) {
            v[j] += g[j] * g[j];
            th[j] -= lr * g[j] / (sqrtf(v[j]) + eps);
        }
        break;
    }
    default: { /* Adam */
        double t = (double)(l->step + 1);
        float b1 = (float)l->o.beta1, b2 = (float)l->o.beta2, eps = (float)l->o.eps;
        float c1 = (float)(1 - pow(l->o.beta1, t)), c2 = (float)(1 - pow(l->o.beta2, t));
        float step = lr / c1, root_c2 = sqrtf(c2);
        for (size_t j = 0; j < P; j++) {
            mo[j] = b1 * mo[j] + (1 - b1) * g[j];
            v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
            th[j] -= step * mo[j] / (sqrtf(v[j]) / root_c2 + eps);
        }
        break;
    }
    }
    l->step++;
    return GRAFT_OK;
}

/* ---- incremental training ---------------------------------------------------------------- */

static int minibatch_solver(graft_solver s) {
    return s == GRAFT_SOLVER_SGD || s == GRAFT_SOLVER_ADAGRAD || s == GRAFT_SOLVER_ADAM;
}

static void update_balanced(graft_learner *l, const size_t *counts, size_t total) {
    if (l->o.class_weight != GRAFT_CLASS_WEIGHT_BALANCED) return;
    for (int k = 0; k < l->K; k++)
        l->cw[k] = counts[k] ? (float)((double)total / ((double)l->K * counts[k])) : 1.0f;
}

/* lambda for `rows` training rows whose scaled rows have mean squared norm mean_sq. */
static double lambda_for(const graft_learner *l, size_t rows, double mean_sq) {
    double n = (double)(rows ? rows : 1);
    if (l->o.C > 0) return 1.0 / (l->o.C * n);
    if (l->o.C < 0) return (mean_sq + l->o.bias * l->o.bias) / n;
    return l->o.lambda;
}

/* The step of partial_fit and flush on the buffered rows, with the class weights and lambda
 * of the rows seen so far. */
static int pending_step(graft_learner *l) {
    update_balanced(l, l->class_seen, l->rows_seen);
    l->lambda = lambda_for(l, l->rows_seen, l->sumsq_seen / (double)l->rows_seen);
    double obj;
    int err = sgd_step(l, l->batch_Z, l->batch_y, l->pending, l->lambda, &obj);
    l->pending = 0;
    return err;
}

/* partial_fit's solver: AUTO (even after a fit resolved it to a full-batch one) means Adam. */
static int partial_solver(graft_learner *l, const char *fn) {
    l->solver = l->o.solver == GRAFT_SOLVER_AUTO ? GRAFT_SOLVER_ADAM : l->o.solver;
    if (!minibatch_solver(l->solver))
        return graft__fail(GRAFT_EINVAL, "%s: solver %s needs every row at once: use "
                           "graft_learner_fit", fn, graft_solver_name(l->solver));
    return GRAFT_OK;
}

int graft_learner_partial_fit(graft_learner *l, const float *X, const int *y, size_t n) {
    if (!l || ((!X || !y) && n)) return graft__fail(GRAFT_EINVAL, "partial_fit: NULL argument");
    int err = partial_solver(l, "partial_fit");
    if (err) return err;
    for (size_t i = 0; i < n; i++)
        if (y[i] < -1 || y[i] >= l->K)
            return graft__fail(GRAFT_EINVAL, "partial_fit: label %d of row %zu is outside "
                               "0..%d (or -1)", y[i], i, l->K - 1);
    if (n == 0) return GRAFT_OK;
    if (!l->frozen && (err = graft_learner_scaler_update(l, X, n))) return err;
    if (l->o.schedule == GRAFT_SCHEDULE_COSINE || l->o.schedule == GRAFT_SCHEDULE_STEP) {
        l->total_steps = l->o.schedule_steps;
        l->steps_per_epoch = l->o.schedule_steps / l->o.epochs;
    }
    /* A step happens right after the row that fills the batch, so the counts and norms it
       sees do not depend on how the rows were cut into calls. */
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0) continue;
        float *z = l->batch_Z + l->pending * l->D;
        scale_full(l, X + i * l->D, 1, z);
        double sq = 0;
        for (size_t d = 0; d < l->D; d++) sq += (double)z[d] * z[d];
        l->sumsq_seen += sq;
        l->class_seen[y[i]]++;
        l->rows_seen++;
        l->batch_y[l->pending++] = y[i];
        if (l->pending == (size_t)l->bs && (err = pending_step(l))) return err;
    }
    return GRAFT_OK;
}

int graft_learner_flush(graft_learner *l) {
    if (!l) return graft__fail(GRAFT_EINVAL, "flush: NULL learner");
    if (!l->pending) return GRAFT_OK;
    int err = partial_solver(l, "flush");
    return err ? err : pending_step(l);
}

/* ---- the model --------------------------------------------------------------------------- */

int graft_learner_set_model(graft_learner *l, const float *W, const float *b) {
    if (!l || !W || !b) return graft__fail(GRAFT_EINVAL, "set_model: NULL argument");
    size_t KD = (size_t)l->K * l->D;
    memcpy(l->theta, W, KD * sizeof *W);
    memcpy(l->theta + KD, b, (size_t)l->K * sizeof *b);
    if (!(l->o.bias > 0)) memset(l->theta + KD, 0, (size_t)l->K * sizeof *b);
    return GRAFT_OK;
}

int graft_learner_head(const graft_learner *l, graft_head **out) {
    if (!l || !out) return graft__fail(GRAFT_EINVAL, "learner head: NULL argument");
    graft_head *h;
    int err = graft_head_create(l->o.loss, l->o.scale, l->D, l->K,
                                (const char *const *)l->names, &h);
    if (err) return err;
    size_t KD = (size_t)l->K * l->D;
    memcpy(h->W, l->theta, KD * sizeof *h->W);
    memcpy(h->b, l->theta + KD, (size_t)l->K * sizeof *h->b);
    if (h->mean) {
        memcpy(h->mean, l->sc.mean_f, l->D * sizeof *h->mean);
        memcpy(h->inv_std, l->sc.inv_std_f, l->D * sizeof *h->inv_std);
    }
    char meta[512];
    double C = l->info.train_rows ? 1.0 / (l->lambda * (double)l->info.train_rows) : l->o.C;
    snprintf(meta, sizeof meta, "loss=%s solver=%s lambda=%.9g C=%.9g bias=%.9g%s%s%s "
             "train_rows=%zu val_rows=%zu epochs=%d val_accuracy=%.6f",
             graft_loss_name(l->o.loss), graft_solver_name(l->info.solver), l->lambda, C,
             l->o.bias, l->o.scale & GRAFT_SCALE_SQRT ? " sqrt" : "",
             l->o.scale & GRAFT_SCALE_L2 ? " l2" : "",
             l->o.scale & GRAFT_SCALE_STANDARDIZE ? " standardize" : "", l->info.train_rows,
             l->info.val_rows, l->info.epochs, l->info.val_accuracy);
    if ((err = graft_head_set_meta(h, meta))) {
        graft_head_destroy(h);
        return err;
    }
    *out = h;
    return GRAFT_OK;
}

void graft_learner_fit_info(const graft_learner *l, graft_fit_info *out) {
    if (l && out) *out = l->info;
}

int graft_learner_objective(graft_learner *l, const float *X, const int *y, size_t n,
                            double *J, float *grad_W, float *grad_b) {
    if (!l || !J || (n && (!X || !y)) || !n)
        return graft__fail(GRAFT_EINVAL, "objective: NULL argument or no rows");
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= l->K)
            return graft__fail(GRAFT_EINVAL, "objective: label %d of row %zu", y[i], i);
    size_t D = l->D, KD = (size_t)l->K * D;
    float *Z = malloc(n * D * sizeof *Z), *w = malloc(n * sizeof *w);
    float *scratch = malloc(3 * n * (size_t)l->K * sizeof *scratch);
    float *g = malloc(l->P * sizeof *g);
    int err = GRAFT_ENOMEM;
    if (!Z || !w || !scratch || !g) {
        err = graft__fail(GRAFT_ENOMEM, "objective: out of memory");
        goto done;
    }
    scale_full(l, X, n, Z);
    double sumsq = 0;
    for (size_t i = 0; i < n * D; i++) sumsq += (double)Z[i] * Z[i];
    for (size_t i = 0; i < n; i++) w[i] = l->cw[y[i]] / (float)n;
    graft__problem p = {Z, y, w, l->cw, n, D, l->K, lambda_for(l, n, sumsq / (double)n),
                        l->o.bias, l->o.loss};
    err = graft__objective(&p, l->theta, l->theta + KD, J, g, g + KD, scratch);
    if (!err && grad_W) memcpy(grad_W, g, KD * sizeof *g);
    if (!err && grad_b) memcpy(grad_b, g + KD, (size_t)l->K * sizeof *g);
done:
    free(Z);
    free(w);
    free(scratch);
    free(g);
    return err;
}

/* ---- fitting from a source --------------------------------------------------------------- */

/* What the first pass gathers. */
typedef struct prepared {
    size_t n_train, n_val;
    int in_memory;
    float *Ztrain;   /* (n_train, D) scaled, when in_memory: in ztrain_buf */
    int *ytrain;
    float *Zval;     /* (n_val, D) scaled: in zval_buf */
    int *yval;
    graft__buf ztrain_buf, zval_buf;
    size_t *counts;  /* (K) training rows per class */
    double mean_sq;  /* mean squared norm of the scaled training rows */
    /* Validation scratch: scores, loss scratch (n_val, K) each, and the unit weights. */
    float *vS, *vdS, *vw;
} prepared;

static void prepared_free(prepared *p) {
    graft__buf_free(&p->ztrain_buf);
    free(p->ytrain);
    graft__buf_free(&p->zval_buf);
    free(p->yval);
    free(p->counts);
    free(p->vS);
    free(p->vdS);
    free(p->vw);
    memset(p, 0, sizeof *p);
}

/* The row's part in the fit: -1 skip, 0 train, 1 validation. */
static int row_part(const graft_learner *l, size_t row, int label, uint8_t role) {
    if (label < 0 || role == GRAFT_ROW_SKIP) return -1;
    if (role == GRAFT_ROW_VAL) return 1;
    if (l->o.val_fraction > 0 && graft__hash_unit(l->o.seed, row) < l->o.val_fraction) return 1;
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need) ncap *= 2;
    void *np = realloc(*p, ncap * elem);
    if (!np) return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

static int check_labels(const graft_learner *l, const int *labels, const uint8_t *role,
                        size_t row0, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (labels[i] < -1 || labels[i] >= l->K)
            return graft__fail(GRAFT_EINVAL, "fit: row %zu has label %d, outside 0..%d (or -1)",
                               row0 + i, labels[i], l->K - 1);
        if (role[i] > GRAFT_ROW_SKIP)
            return graft__fail(GRAFT_EINVAL, "fit: row %zu has role %u", row0 + i, role[i]);
    }
    return GRAFT_OK;
}

static int prepare(graft_learner *l, const graft_row_source *src, prepared *pr) {
    memset(pr, 0, sizeof *pr);
    size_t D = l->D, block = src->block_rows ? src->block_rows : DEFAULT_BLOCK_ROWS;
    if (block > src->rows) block = src->rows ? src->rows : 1;
    pr->in_memory = (double)src->rows * D * sizeof(float) <= (double)l->o.memory_bytes;
    /* In memory, blocks are read straight into their place in Ztrain (sized for every row,
       so that the pages are touched once) and compacted there; out of core, into X. */
    float *X = NULL;
    int *labels = malloc(block * sizeof *labels);
    uint8_t *role = malloc(block);
    pr->counts = calloc((size_t)l->K, sizeof *pr->counts);
    size_t cap_yv = 0;
    double sumsq = 0;
    int err = GRAFT_OK;
    if (!labels || !role || !pr->counts) goto nomem;
    if (pr->in_memory) {
        /* Both reserved for every row: only the pages the rows land on are ever touched. */
        size_t bytes = (src->rows ? src->rows : 1) * D * sizeof(float);
        if (graft__buf_reserve(&pr->ztrain_buf, bytes) ||
            graft__buf_reserve(&pr->zval_buf, bytes))
            goto nomem;
        pr->Ztrain = pr->ztrain_buf.p;
        pr->Zval = pr->zval_buf.p;
        pr->ytrain = malloc((src->rows ? src->rows : 1) * sizeof *pr->ytrain);
        if (!pr->ytrain) goto nomem;
    } else if (!(X = malloc(block * D * sizeof *X))) {
        goto nomem;
    }
    graft__scaler_reset(&l->sc);
    for (size_t row0 = 0; row0 < src->rows; row0 += block) {
        size_t count = src->rows - row0 < block ? src->rows - row0 : block;
        float *dst = pr->in_memory ? pr->Ztrain + pr->n_train * D : X;
        memset(role, GRAFT_ROW_TRAIN, count);
        if ((err = src->read(src->ctx, row0, count, dst, labels, role))) goto done;
        if ((err = check_labels(l, labels, role, row0, count))) goto done;
        /* Training rows compacted at the front of dst; validation rows copied out. */
        size_t nt = 0;
        for (size_t i = 0; i < count; i++) {
            int part = row_part(l, row0 + i, labels[i], role[i]);
            if (part == 1) {
                if (graft__buf_reserve(&pr->zval_buf, (pr->n_val + 1) * D * sizeof(float)) ||
                    grow((void **)&pr->yval, &cap_yv, pr->n_val + 1, sizeof(int)))
                    goto nomem;
                pr->Zval = pr->zval_buf.p;
                graft__scale_rows(l->o.scale, D, dst + i * D, 1, pr->Zval + pr->n_val * D);
                pr->yval[pr->n_val++] = labels[i];
            } else if (part == 0) {
                if (nt != i) memcpy(dst + nt * D, dst + i * D, D * sizeof *dst);
                labels[nt++] = labels[i];
            }
        }
        graft__scale_rows(l->o.scale, D, dst, nt, dst);
        graft__scaler_add(&l->sc, dst, nt);
        for (size_t i = 0; i < nt * D; i++) sumsq += (double)dst[i] * dst[i];
        for (size_t i = 0; i < nt; i++) pr->counts[labels[i]]++;
        if (pr->in_memory) memcpy(pr->ytrain + pr->n_train, labels, nt * sizeof *labels);
        pr->n_train += nt;
    }
    if (pr->n_train == 0) {
        err = graft__fail(GRAFT_EINVAL, "fit: the source has no labelled training rows "
                          "(%zu rows, %zu for validation)", src->rows, pr->n_val);
        goto done;
    }
    graft__scaler_finalize(&l->sc);
    pr->mean_sq = sumsq / (double)pr->n_train;
    if (l->o.scale & GRAFT_SCALE_STANDARDIZE) {
        /* After standardisation, E|z|^2 = sum_d var_d inv_std_d^2: no second pass needed. */
        pr->mean_sq = 0;
        for (size_t d = 0; d < D; d++) {
            double v = l->sc.m2[d] / l->sc.count, s = l->sc.inv_std_f[d];
            pr->mean_sq += v * s * s;
        }
        if (pr->in_memory)
            graft__standardize(l->sc.mean_f, l->sc.inv_std_f, D, pr->Ztrain, pr->n_train);
        graft__standardize(l->sc.mean_f, l->sc.inv_std_f, D, pr->Zval, pr->n_val);
    }
    if (pr->n_val) {
        pr->vS = malloc(pr->n_val * (size_t)l->K * sizeof *pr->vS);
        pr->vdS = malloc(2 * pr->n_val * (size_t)l->K * sizeof *pr->vdS);
        pr->vw = malloc(pr->n_val * sizeof *pr->vw);
        if (!pr->vS || !pr->vdS || !pr->vw) goto nomem;
        for (size_t i = 0; i < pr->n_val; i++) pr->vw[i] = (float)(1.0 / pr->n_val);
    }
    goto done;
nomem:
    err = graft__fail(GRAFT_ENOMEM, "fit: out of memory gathering %zu rows of %zu floats",
                      pr->n_train + pr->n_val, D);
done:
    free(X);
    free(labels);
    free(role);
    if (err) prepared_free(pr);
    return err;
}

/* Validation loss and accuracy of the model (W, b). */
static int validate(const graft_learner *l, prepared *pr, const float *W, const float *b,
                    double *loss, double *acc) {
    *loss = *acc = NAN;
    if (!pr->n_val) return GRAFT_OK;
    int K = l->K;
    int err = graft__scores(pr->Zval, pr->n_val, l->D, W, b, K, pr->vS);
    if (err) return err;
    double sum = 0;
    err = graft__loss_eval(l->o.loss, pr->vS, pr->yval, pr->vw, pr->n_val, K, &sum, NULL,
                           pr->vdS);
    if (err) return err;
    size_t correct = 0;
    for (size_t i = 0; i < pr->n_val; i++) {
        const float *s = pr->vS + i * (size_t)K;
        int best = 0;
        for (int k = 1; k < K; k++)
            if (s[k] > s[best]) best = k;
        correct += best == pr->yval[i];
    }
    *loss = sum;
    *acc = (double)correct / (double)pr->n_val;
    return GRAFT_OK;
}

/* State shared by the epoch loop and the batch solvers' per-iteration callback. */
typedef struct run {
    graft_learner *l;
    prepared *pr;
    const graft_row_source *src;
    graft__rng rng;        /* the shuffles of every epoch */
    double lambda;
    double t0;
    int err;
    int stopped;           /* the user's callback asked to stop */
} run;

static int report(run *r, int epoch, long steps, double objective, const float *W,
                  const float *b, double *vloss, double *vacc) {
    graft_learner *l = r->l;
    if ((r->err = validate(l, r->pr, W, b, vloss, vacc))) return 1;
    if (!l->o.progress) return 0;
    graft_learn_progress p = {epoch, steps, r->lambda, objective, *vloss, *vacc,
                              now_seconds() - r->t0};
    if (l->o.progress(l->o.progress_ctx, &p)) {
        r->stopped = 1;
        return 1;
    }
    return 0;
}

static int batch_iter_cb(void *ctx, int iter, long evals, double objective, const float *W,
                         const float *b) {
    run *r = ctx;
    if (!r->l->o.progress) return 0;
    double vl, va;
    return report(r, iter, evals, objective, W, b, &vl, &va);
}

static int fit_batch(run *r) {
    graft_learner *l = r->l;
    prepared *pr = r->pr;
    if (!pr->in_memory)
        return graft__fail(GRAFT_EINVAL, "fit: solver %s needs the training rows in memory, "
                           "and %zu rows of %zu floats exceed memory_bytes = %zu",
                           graft_solver_name(l->solver), pr->n_train, l->D, l->o.memory_bytes);
    if (l->solver == GRAFT_SOLVER_DUAL_CD && !(r->lambda > 0))
        return graft__fail(GRAFT_EINVAL, "fit: solver dual_cd needs lambda > 0");
    size_t n = pr->n_train, KD = (size_t)l->K * l->D;
    float *w = malloc(n * sizeof *w);
    if (!w) return graft__fail(GRAFT_ENOMEM, "fit: out of memory");
    for (size_t i = 0; i < n; i++) w[i] = (float)(l->cw[pr->ytrain[i]] / (double)n);
    graft__problem p = {pr->Ztrain, pr->ytrain, w, l->cw, n, l->D, l->K, r->lambda,
                        l->o.bias, l->o.loss};
    graft__solve_result res = {0};
    int err;
    if (l->solver == GRAFT_SOLVER_LBFGS)
        err = graft__lbfgs_solve(&p, l->theta, l->theta + KD, l->o.max_iter, l->o.tol,
                                 batch_iter_cb, r, &res);
    else
        err = graft__dual_cd_solve(&p, l->theta, l->theta + KD, l->o.max_iter, l->o.dual_tol,
                                   l->o.seed, batch_iter_cb, r, &res);
    if (!err && r->err) err = r->err;
    if (!err && isnan(res.objective)) {
        float *scratch = malloc(3 * n * (size_t)l->K * sizeof *scratch);
        if (!scratch) err = graft__fail(GRAFT_ENOMEM, "fit: out of memory");
        else err = graft__objective(&p, l->theta, l->theta + KD, &res.objective, NULL, NULL,
                                    scratch);
        free(scratch);
    }
    free(w);
    if (err) return err;
    graft_fit_info *info = &l->info;
    info->epochs = info->best_epoch = res.iterations;
    info->train_objective = res.objective;
    info->converged = res.converged;
    return validate(l, pr, l->theta, l->theta + KD, &info->val_loss, &info->val_accuracy);
}

/* Minibatch epochs over the rows in memory: a fresh permutation each. */
static int epoch_in_memory(run *r, size_t *order, double *obj_sum) {
    graft_learner *l = r->l;
    prepared *pr = r->pr;
    size_t D = l->D, n = pr->n_train, bs = (size_t)l->bs;
    graft__shuffle_size(&r->rng, order, n);
    for (size_t i = 0; i < n; i += bs) {
        size_t m = n - i < bs ? n - i : bs;
        for (size_t j = 0; j < m; j++) {
            memcpy(l->batch_Z + j * D, pr->Ztrain + order[i + j] * D, D * sizeof *l->batch_Z);
            l->batch_y[j] = pr->ytrain[order[i + j]];
        }
        double obj;
        int err = sgd_step(l, l->batch_Z, l->batch_y, m, r->lambda, &obj);
        if (err) return err;
        *obj_sum += obj * (double)m;
    }
    return GRAFT_OK;
}

/* Out of core: the window of rows shuffled together and the reading buffers. */
typedef struct stream {
    size_t block, nblocks, window;
    size_t *block_order;  /* (nblocks) */
    float *win_X;         /* (window + block, D) scaled training rows */
    int *win_y;
    size_t *win_idx;
    float *read_X;        /* (block, D) */
    int *read_y;
    uint8_t *read_role;
} stream;

static void stream_free(stream *s) {
    free(s->block_order);
    free(s->win_X);
    free(s->win_y);
    free(s->win_idx);
    free(s->read_X);
    free(s->read_y);
    free(s->read_role);
}

static int stream_init(stream *s, const graft_learner *l, const graft_row_source *src) {
    memset(s, 0, sizeof *s);
    s->block = src->block_rows ? src->block_rows : DEFAULT_BLOCK_ROWS;
    s->nblocks = (src->rows + s->block - 1) / s->block;
    s->window = l->o.shuffle_rows > (size_t)l->bs ? l->o.shuffle_rows : (size_t)l->bs;
    size_t cap = s->window + s->block, D = l->D;
    s->block_order = malloc(s->nblocks * sizeof *s->block_order);
    s->win_X = malloc(cap * D * sizeof *s->win_X);
    s->win_y = malloc(cap * sizeof *s->win_y);
    s->win_idx = malloc(cap * sizeof *s->win_idx);
    s->read_X = malloc(s->block * D * sizeof *s->read_X);
    s->read_y = malloc(s->block * sizeof *s->read_y);
    s->read_role = malloc(s->block);
    if (!s->block_order || !s->win_X || !s->win_y || !s->win_idx || !s->read_X || !s->read_y ||
        !s->read_role) {
        stream_free(s);
        return graft__fail(GRAFT_ENOMEM, "fit: out of memory for a shuffle window of %zu rows",
                           cap);
    }
    for (size_t b = 0; b < s->nblocks; b++) s->block_order[b] = b;
    return GRAFT_OK;
}

/*
 * One epoch reading the source's blocks in a random order: whole blocks fill a window of at
 * least shuffle_rows training rows (each block scaled as it arrives), the window is shuffled
 * and cut into batches, and the rows short of a batch wait for the next window.
 */
static int epoch_streaming(run *r, stream *s, double *obj_sum) {
    graft_learner *l = r->l;
    const graft_row_source *src = r->src;
    size_t D = l->D, bs = (size_t)l->bs;
    graft__shuffle_size(&r->rng, s->block_order, s->nblocks);
    size_t fill = 0, b = 0;
    for (;;) {
        while (b < s->nblocks && fill < s->window) {
            size_t row0 = s->block_order[b++] * s->block;
            size_t count = src->rows - row0 < s->block ? src->rows - row0 : s->block;
            memset(s->read_role, GRAFT_ROW_TRAIN, count);
            int err = src->read(src->ctx, row0, count, s->read_X, s->read_y, s->read_role);
            if (err) return err;
            if ((err = check_labels(l, s->read_y, s->read_role, row0, count))) return err;
            size_t start = fill;
            for (size_t i = 0; i < count; i++) {
                if (row_part(l, row0 + i, s->read_y[i], s->read_role[i]) != 0) continue;
                memcpy(s->win_X + fill * D, s->read_X + i * D, D * sizeof *s->win_X);
                s->win_y[fill++] = s->read_y[i];
            }
            scale_full(l, s->win_X + start * D, fill - start, s->win_X + start * D);
        }
        int last = b >= s->nblocks;
        if (!fill) return GRAFT_OK;
        for (size_t i = 0; i < fill; i++) s->win_idx[i] = i;
        graft__shuffle_size(&r->rng, s->win_idx, fill);
        size_t used = 0;
        while (fill - used >= bs || (last && used < fill)) {
            size_t m = fill - used < bs ? fill - used : bs;
            for (size_t j = 0; j < m; j++) {
                size_t at = s->win_idx[used + j];
                memcpy(l->batch_Z + j * D, s->win_X + at * D, D * sizeof *l->batch_Z);
                l->batch_y[j] = s->win_y[at];
            }
            double obj;
            int err = sgd_step(l, l->batch_Z, l->batch_y, m, r->lambda, &obj);
            if (err) return err;
            *obj_sum += obj * (double)m;
            used += m;
        }
        if (last) return GRAFT_OK;
        /* Fewer than a batch left: moved to the front (through the batch buffer, since the
           rows may overlap their destinations) to open the next window. */
        size_t keep = fill - used;
        for (size_t j = 0; j < keep; j++) {
            size_t at = s->win_idx[used + j];
            memcpy(l->batch_Z + j * D, s->win_X + at * D, D * sizeof *l->batch_Z);
            l->batch_y[j] = s->win_y[at];
        }
        memcpy(s->win_X, l->batch_Z, keep * D * sizeof *s->win_X);
        memcpy(s->win_y, l->batch_y, keep * sizeof *s->win_y);
        fill = keep;
    }
}

static int fit_minibatch(run *r) {
    graft_learner *l = r->l;
    prepared *pr = r->pr;
    size_t n = pr->n_train, bs = (size_t)l->bs;
    l->steps_per_epoch = (long)((n + bs - 1) / bs);
    l->total_steps = l->steps_per_epoch * l->o.epochs;
    size_t *order = NULL;
    stream s = {0};
    int err = GRAFT_OK;
    if (pr->in_memory) {
        if (!(order = malloc(n * sizeof *order)))
            return graft__fail(GRAFT_ENOMEM, "fit: out of memory");
        for (size_t i = 0; i < n; i++) order[i] = i;
    } else if ((err = stream_init(&s, l, r->src))) {
        return err;
    }
    graft_fit_info *info = &l->info;
    double best_acc = -1, best_loss = INFINITY, best_obj = INFINITY;
    int since = 0;
    info->best_epoch = 0;
    for (int epoch = 1; epoch <= l->o.epochs; epoch++) {
        double obj_sum = 0;
        err = pr->in_memory ? epoch_in_memory(r, order, &obj_sum) : epoch_streaming(r, &s, &obj_sum);
        if (err) break;
        double objective = obj_sum / (double)n, vloss, vacc;
        int stop = report(r, epoch, l->step, objective, l->theta, l->theta + (size_t)l->K * l->D,
                          &vloss, &vacc);
        if (r->err) {
            err = r->err;
            break;
        }
        info->epochs = epoch;
        int improved;
        if (pr->n_val)
            improved = vacc > best_acc || (vacc == best_acc && vloss < best_loss);
        else
            improved = objective < best_obj - l->o.tol * fabs(best_obj) || isinf(best_obj);
        if (improved) {
            best_acc = vacc;
            best_loss = vloss;
            best_obj = objective;
            info->best_epoch = epoch;
            info->train_objective = objective;
            info->val_loss = vloss;
            info->val_accuracy = vacc;
            if (pr->n_val) memcpy(l->best, l->theta, l->P * sizeof *l->best);
            since = 0;
        } else {
            since++;
        }
        if (!pr->n_val) info->train_objective = objective;
        if (stop || (l->o.patience && since >= l->o.patience)) break;
    }
    if (!err && pr->n_val && info->best_epoch) memcpy(l->theta, l->best, l->P * sizeof *l->theta);
    if (!pr->n_val) info->best_epoch = info->epochs;
    free(order);
    stream_free(&s);
    return err;
}

static graft_solver resolve_solver(const graft_learner *l, int in_memory) {
    if (l->o.solver != GRAFT_SOLVER_AUTO) return l->o.solver;
    if (!in_memory) return GRAFT_SOLVER_ADAM;
    return l->o.loss == GRAFT_LOSS_SOFTMAX ? GRAFT_SOLVER_LBFGS : GRAFT_SOLVER_DUAL_CD;
}

/* Fresh model and optimizer state. */
static void reset_model(graft_learner *l) {
    memset(l->theta, 0, l->P * sizeof *l->theta);
    memset(l->opt_m, 0, l->P * sizeof *l->opt_m);
    memset(l->opt_v, 0, l->P * sizeof *l->opt_v);
    l->step = 0;
    l->pending = 0;
}

/* Trains at strength lambda on what prepare() gathered. */
static int train_prepared(graft_learner *l, prepared *pr, const graft_row_source *src,
                          double lambda, double t0) {
    run r = {.l = l, .pr = pr, .src = src, .lambda = lambda, .t0 = t0};
    r.rng.state = l->o.seed ^ 0x73687566666c6521ull;
    l->lambda = lambda;
    graft_fit_info *info = &l->info;
    memset(info, 0, sizeof *info);
    info->solver = l->solver;
    info->lambda = lambda;
    info->train_rows = pr->n_train;
    info->val_rows = pr->n_val;
    info->val_loss = info->val_accuracy = NAN;
    int err = minibatch_solver(l->solver) ? fit_minibatch(&r) : fit_batch(&r);
    info->seconds = now_seconds() - t0;
    return err;
}

static int check_source(const graft_learner *l, const graft_row_source *src) {
    if (!src || !src->read) return graft__fail(GRAFT_EINVAL, "fit: NULL source or read()");
    if (src->dim != l->D)
        return graft__fail(GRAFT_EINVAL, "fit: the source has rows of %zu floats, the learner "
                           "%zu", src->dim, l->D);
    return GRAFT_OK;
}

static void set_class_weights(graft_learner *l, const prepared *pr) {
    if (l->o.class_weight == GRAFT_CLASS_WEIGHT_BALANCED) update_balanced(l, pr->counts, pr->n_train);
    else if (l->o.class_weight == GRAFT_CLASS_WEIGHT_GIVEN)
        memcpy(l->cw, l->given_weights, (size_t)l->K * sizeof *l->cw);
    else
        for (int k = 0; k < l->K; k++) l->cw[k] = 1.0f;
}

int graft_learner_fit(graft_learner *l, const graft_row_source *src) {
    if (!l) return graft__fail(GRAFT_EINVAL, "fit: NULL learner");
    int err = check_source(l, src);
    if (err) return err;
    double t0 = now_seconds();
    prepared pr;
    l->frozen = 0;
    if ((err = prepare(l, src, &pr))) return err;
    l->frozen = 1;
    l->solver = resolve_solver(l, pr.in_memory);
    set_class_weights(l, &pr);
    reset_model(l);
    /* partial_fit after the fit counts the fit's rows among those seen. */
    memcpy(l->class_seen, pr.counts, (size_t)l->K * sizeof *l->class_seen);
    l->rows_seen = pr.n_train;
    l->sumsq_seen = pr.mean_sq * (double)pr.n_train;
    err = train_prepared(l, &pr, src, lambda_for(l, pr.n_train, pr.mean_sq), t0);
    prepared_free(&pr);
    return err;
}

/* ---- the sweep --------------------------------------------------------------------------- */

int graft_learn_sweep(const graft_learn_options *opts, size_t D, int K,
                      const char *const *class_names, const graft_row_source *src,
                      const double *strengths, int count, int strengths_are_lambda,
                      graft_sweep_entry *entries, int *best_index, graft_head **out) {
    if (!opts || !strengths || !entries || !best_index || !out)
        return graft__fail(GRAFT_EINVAL, "sweep: NULL argument");
    if (count < 1) return graft__fail(GRAFT_EINVAL, "sweep: no strengths to try");
    for (int i = 0; i < count; i++)
        if (!isfinite(strengths[i]) || strengths[i] < 0 || (!strengths_are_lambda && strengths[i] == 0))
            return graft__fail(GRAFT_EINVAL, "sweep: strength %g is not a valid %s",
                               strengths[i], strengths_are_lambda ? "lambda (>= 0)" : "C (> 0)");
    graft_learn_options o = *opts;
    o.C = 0;
    o.lambda = 0;
    graft_learner *l;
    int err = graft_learner_create(&o, D, K, class_names, &l);
    if (err) return err;
    if ((err = check_source(l, src))) {
        graft_learner_destroy(l);
        return err;
    }
    double t0 = now_seconds();
    prepared pr = {0};
    float *best_theta = malloc(l->P * sizeof *best_theta);
    if (!best_theta) {
        graft_learner_destroy(l);
        return graft__fail(GRAFT_ENOMEM, "sweep: out of memory");
    }
    if ((err = prepare(l, src, &pr))) goto done;
    if (!pr.n_val) {
        err = graft__fail(GRAFT_EINVAL, "sweep: the source has no validation rows to judge the "
                          "strengths on (set val_fraction, or give VAL rows)");
        goto done;
    }
    l->frozen = 1;
    l->solver = resolve_solver(l, pr.in_memory);
    set_class_weights(l, &pr);
    int best = -1;
    graft_fit_info best_info = {0};
    reset_model(l);
    for (int i = 0; i < count; i++) {
        double lambda = strengths_are_lambda ? strengths[i]
                                             : 1.0 / (strengths[i] * (double)pr.n_train);
        /* L-BFGS starts from the previous solution: neighbouring strengths have neighbouring
           optima, and the stopping rule does not depend on the start. */
        if (l->solver != GRAFT_SOLVER_LBFGS) reset_model(l);
        double t1 = now_seconds();
        if ((err = train_prepared(l, &pr, src, lambda, t1))) goto done;
        graft_fit_info *info = &l->info;
        graft_sweep_entry *e = &entries[i];
        e->strength = strengths[i];
        e->lambda = lambda;
        e->val_accuracy = info->val_accuracy;
        e->val_loss = info->val_loss;
        e->train_objective = info->train_objective;
        e->epochs = info->epochs;
        e->seconds = info->seconds;
        if (best < 0 || e->val_accuracy > entries[best].val_accuracy ||
            (e->val_accuracy == entries[best].val_accuracy &&
             e->val_loss < entries[best].val_loss)) {
            best = i;
            best_info = *info;
            memcpy(best_theta, l->theta, l->P * sizeof *best_theta);
        }
    }
    memcpy(l->theta, best_theta, l->P * sizeof *l->theta);
    l->info = best_info;
    l->info.seconds = now_seconds() - t0;
    l->lambda = best_info.lambda;
    l->o.C = strengths_are_lambda ? 0 : strengths[best];
    if ((err = graft_learner_head(l, out))) goto done;
    *best_index = best;
done:
    prepared_free(&pr);
    free(best_theta);
    graft_learner_destroy(l);
    return err;
}

/* ---- the in-memory source ---------------------------------------------------------------- */

static int memory_read(void *ctx, size_t row, size_t count, float *X, int *labels,
                       uint8_t *role) {
    const graft_row_memory *m = ctx;
    memcpy(X, m->X + row * m->dim, count * m->dim * sizeof *X);
    memcpy(labels, m->labels + row, count * sizeof *labels);
    if (m->roles) memcpy(role, m->roles + row, count);
    else memset(role, GRAFT_ROW_TRAIN, count);
    return GRAFT_OK;
}

void graft_row_source_memory(graft_row_source *src, const graft_row_memory *mem) {
    src->rows = mem->rows;
    src->dim = mem->dim;
    src->block_rows = DEFAULT_BLOCK_ROWS;
    src->read = memory_read;
    src->ctx = (void *)mem;
}
