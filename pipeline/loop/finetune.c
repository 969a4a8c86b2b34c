/*
 * pipeline/loop/finetune.c: `graft finetune` as a library call (graft_finetune_run in
 * include/graft/finetune.h): the epochs of SGD around a trainable top.
 *
 *   inputs ──graft_extract_run──▶ cache of activations at the freeze point (once, resumable)
 *                                     │ train rows (seeded permutation per epoch), val rows
 *                                     ▼
 *                 graft_top_forward / backward / step ──▶ checkpoint, best checkpoint ──▶ ONNX
 *
 * With augment, every epoch runs graft_extract_run again without a cache, with random crops
 * and flips seeded by (seed, epoch, key), and its codes stream through a shuffle buffer into
 * the training batches; val rows still come from the cache, which is also where the classes
 * and the row counts come from.
 *
 * Bit-for-bit resuming rests on three things: every random draw is a function of (seed, epoch)
 * or (seed, epoch, key) alone, the forward passes are bit-identical for any thread count and
 * batching, and the checkpoint holds the momentum buffers and the step count beside the
 * weights. The options that change the trajectory are written into the checkpoint's meta text
 * and compared on resume.
 *
 * It does not implement the passes (pipeline/finetune/), read images (extract.c) or talk to a
 * terminal (pipeline/cli/finetune_cmd.c).
 */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graft/finetune.h"
#include "kernels.h"
#include "../finetune/top_internal.h"
#include "../train/train.h"

#define META_MAX ((size_t)60 << 10)

void graft_finetune_options_init(graft_finetune_options *o) {
    memset(o, 0, sizeof *o);
    o->read.val_fraction = 0.2;
    o->epochs = 10;
    o->batch = 32;
    o->lr = 0.01;
    o->momentum = 0.9;
    o->weight_decay = 1e-4;
    o->pretrained_lr_mult = 0.1;
    o->schedule = GRAFT_FINETUNE_SCHEDULE_COSINE;
    o->step_size = 3;
    o->gamma = 0.1;
    o->loss = GRAFT_TOP_LOSS_SOFTMAX;
    o->shuffle_buffer = 1000;
    o->seed = 42;
}

/* ---- signals ------------------------------------------------------------------------------ */

/*
 * While the top trains from memory no event loop runs, so the run catches SIGINT and SIGTERM
 * itself: the handler only raises a flag that the batch loop polls. graft_extract_run installs
 * libuv's handlers while it runs and leaves the default behind, so the run's own are put back
 * after every extraction and the caller's at the end.
 */
static volatile sig_atomic_t stop_signal;
static char freeze_name[1024];

static void on_stop_signal(int signum) { stop_signal = signum; }

static void catch_signals(int on) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? on_stop_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- small helpers ------------------------------------------------------------------------ */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The seed of epoch e's draws of one kind (permutation, shuffle buffer, augmentation). */
static uint64_t epoch_seed(uint64_t seed, int epoch, uint64_t kind) {
    return mix64(seed ^ mix64((uint64_t)epoch * 0x9e3779b97f4a7c15ull + kind));
}

/* The reader's key hash (include/graft/dataset.h): FNV-1a, splitmix64's finaliser, top 53
   bits as a fraction; reused to hold out train rows when the data has no val split. */
static double key_unit(const char *key) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return (double)(mix64(h) >> 11) * 0x1.0p-53;
}

/* path with a trailing `strip` removed and `add` appended, malloc'd. */
static char *derive_path(const char *path, const char *strip, const char *add) {
    size_t n = strlen(path), s = strlen(strip);
    if (n > s && !strcmp(path + n - s, strip)) n -= s;
    char *out = malloc(n + strlen(add) + 1);
    if (!out) return NULL;
    memcpy(out, path, n);
    strcpy(out + n, add);
    return out;
}

typedef struct text {
    char *p;
    size_t len, cap;
    int oom;
} text;

static void text_add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(text *t, const char *fmt, ...) {
    if (t->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->oom = 1;
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *q = realloc(t->p, cap);
        if (!q) {
            t->oom = 1;
            return;
        }
        t->p = q;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* ---- the run's state ---------------------------------------------------------------------- */

typedef struct run {
    const graft_finetune_options *o;
    graft_finetune_stats *st;
    char *cache_dir, *ckpt_path, *best_path;
    graft_model *model;
    graft_top *top;
    int nothing_frozen;       /* the freeze tensor is the image input */
    graft_cache_view *view;
    int K;
    const char **class_names;      /* (K) owned by the view */
    size_t D;                      /* floats per sample at the freeze point */
    size_t *train_idx, n_train;    /* view rows */
    size_t *val_idx, n_val;
    int *row_label;                /* (view rows) class index, -1 none */
    char *cfg;                     /* the options that must match to resume, key=value lines */
    float *x;                      /* (batch, D) */
    int *y;                        /* (batch) */
    int nb;                        /* rows in x */
    int B;
    /* training bookkeeping of the current epoch */
    int epoch;
    uint64_t step_in_epoch, steps_per_epoch;
    double loss_sum, lr_last;
    uint64_t seen, correct;
    /* --augment */
    float *buf_x;                  /* (shuffle_buffer, D) */
    int *buf_y;
    size_t buf_fill, buf_cap;
    graft__rng buf_rng;
    uint64_t augment_rejects;
} run;

static double schedule_lr(const run *r, uint64_t step) {
    const graft_finetune_options *o = r->o;
    switch (o->schedule) {
    case GRAFT_FINETUNE_SCHEDULE_STEP:
        return o->lr * pow(o->gamma, (double)(r->epoch / (o->step_size > 0 ? o->step_size : 1)));
    case GRAFT_FINETUNE_SCHEDULE_CONSTANT: return o->lr;
    default: {
        double total = (double)r->steps_per_epoch * (double)o->epochs;
        double s = (double)step < total ? (double)step : total;
        return o->lr * 0.5 * (1.0 + cos(M_PI * s / (total > 0 ? total : 1)));
    }
    }
}

static int argmax(const float *z, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (z[k] > z[best]) best = k;
    return best;
}

/* The loss of one row of logits, without smoothing or dropout: what validation reports. */
static double row_loss(const float *z, int K, int y, graft_top_loss loss) {
    if (loss == GRAFT_TOP_LOSS_HINGE) {
        double s = 0;
        for (int k = 0; k < K; k++)
            if (k != y) {
                double m = 1.0 - z[y] + z[k];
                if (m > 0) s += m;
            }
        return s / K;
    }
    double mx = z[0];
    for (int k = 1; k < K; k++)
        if (z[k] > mx) mx = z[k];
    double s = 0;
    for (int k = 0; k < K; k++) s += exp((double)z[k] - mx);
    return log(s) + mx - z[y];
}

/* One SGD step on the r->nb rows in r->x. */
static int train_batch(run *r) {
    if (!r->nb) return GRAFT_OK;
    const graft_finetune_options *o = r->o;
    int n = r->nb;
    r->nb = 0;
    int err = graft_top_forward(r->top, r->x, n, 1);
    if (err) return err;
    const float *z = graft_top_logits(r->top);
    for (int i = 0; i < n; i++) r->correct += argmax(z + (size_t)i * r->K, r->K) == r->y[i];
    float loss;
    err = graft_top_backward(r->top, r->y, o->loss, o->label_smoothing, &loss);
    if (err) return err;
    if (!isfinite(loss))
        return graft__fail(GRAFT_ERANGE, "finetune: the loss diverged (%g) in epoch %d; lower "
                           "--lr", (double)loss, r->epoch + 1);
    r->loss_sum += (double)loss * n;
    r->seen += (uint64_t)n;
    uint64_t step = (uint64_t)r->epoch * r->steps_per_epoch + r->step_in_epoch++;
    r->lr_last = schedule_lr(r, step);
    return graft_top_step(r->top, (float)r->lr_last, (float)o->momentum, (float)o->weight_decay);
}

static int cancelled(void) {
    return graft__fail(GRAFT_ECANCELED, "finetune: %s; the checkpoint of the last complete "
                       "epoch is kept", stop_signal == SIGTERM ? "terminated (SIGTERM)"
                                                               : "interrupted (SIGINT)");
}

/* An epoch from the cache: the train rows in a permutation drawn from (seed, epoch). */
static int train_epoch_cached(run *r) {
    graft__rng rng = {epoch_seed(r->o->seed, r->epoch, 1)};
    size_t *perm = malloc(sizeof(size_t) * (r->n_train ? r->n_train : 1));
    if (!perm) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    memcpy(perm, r->train_idx, sizeof(size_t) * r->n_train);
    graft__shuffle_size(&rng, perm, r->n_train);
    int err = GRAFT_OK;
    for (size_t i = 0; i < r->n_train && !err; i++) {
        err = graft_cache_view_codes(r->view, 0, perm[i], 1, r->x + (size_t)r->nb * r->D);
        r->y[r->nb++] = r->row_label[perm[i]];
        if (!err && r->nb == r->B) err = train_batch(r);
        if (!err && stop_signal && r->o->handle_signals) err = cancelled();
    }
    if (!err) err = train_batch(r);
    free(perm);
    return err;
}

/* --augment: a sample leaving the shuffle buffer joins the batch. */
static int emit_sample(run *r, const float *x, int y) {
    memcpy(r->x + (size_t)r->nb * r->D, x, sizeof(float) * r->D);
    r->y[r->nb++] = y;
    return r->nb == r->B ? train_batch(r) : GRAFT_OK;
}

static int class_of(const run *r, const char *label) {
    if (!label) return -1;
    int lo = 0, hi = r->K - 1; /* the view's classes are sorted bytewise */
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(r->class_names[mid], label);
        if (!c) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* Whether a row trains: a known class, split train or none, and not held out for val. */
static int row_trains(const run *r, graft_split split, const char *key, int label, int held) {
    if (label < 0 || (split != GRAFT_SPLIT_TRAIN && split != GRAFT_SPLIT_NONE)) return 0;
    return !(held && key_unit(key) < r->o->read.val_fraction);
}

typedef struct augment_ctx {
    run *r;
    int held;
    int err;
} augment_ctx;

/*
 * Each sample goes through the buffer one at a time, and every decision is a draw from the
 * epoch's generator, so the batches depend on the order of the samples (the read order) and
 * never on how extract happened to batch them.
 */
static int augment_on_codes(void *user, int n, const graft_cache_row *rows,
                            const float *const *codes, const size_t *dims) {
    augment_ctx *a = user;
    run *r = a->r;
    if (dims[0] != r->D)
        return graft__fail(GRAFT_EINVAL, "finetune: augmented codes have %zu floats, the cache "
                           "%zu", dims[0], r->D);
    for (int i = 0; i < n; i++) {
        int y = class_of(r, rows[i].label);
        if (!row_trains(r, rows[i].split, rows[i].key, y, a->held)) continue;
        const float *x = codes[0] + (size_t)i * r->D;
        int err = GRAFT_OK;
        if (r->buf_fill < r->buf_cap) {
            memcpy(r->buf_x + r->buf_fill * r->D, x, sizeof(float) * r->D);
            r->buf_y[r->buf_fill++] = y;
        } else {
            size_t j = (size_t)graft__rng_below(&r->buf_rng, r->buf_cap);
            err = emit_sample(r, r->buf_x + j * r->D, r->buf_y[j]);
            memcpy(r->buf_x + j * r->D, x, sizeof(float) * r->D);
            r->buf_y[j] = y;
        }
        if (err) return err;
    }
    return GRAFT_OK;
}

/*
 * The extraction both the cache and the augmented epochs run: the freeze tensor of every
 * image, with the job's model, transform, inputs, reading, batching and callbacks. taps and
 * keep are the caller's storage, which eo points into.
 */
static void extract_options_init(const run *r, graft_extract_options *eo, const char *taps[1],
                                 const char *keep[2]) {
    const graft_finetune_options *o = r->o;
    memset(eo, 0, sizeof *eo);
    eo->model_path = o->model_path;
    taps[0] = freeze_name;
    keep[0] = freeze_name;
    keep[1] = NULL;
    eo->taps = taps;
    eo->tap_count = 1;
    eo->keep = keep;
    eo->transform = o->transform;
    eo->inputs = o->inputs;
    eo->input_count = o->input_count;
    eo->read = o->read;
    eo->batch = r->B;
    eo->decode_threads = o->decode_threads;
    eo->handle_signals = o->handle_signals;
    eo->on_progress = o->on_progress;
    eo->on_event = o->on_event;
    eo->user = o->user;
}

static int train_epoch_augmented(run *r, int held) {
    const graft_finetune_options *o = r->o;
    graft_extract_options eo;
    const char *taps[1], *keep[2];
    extract_options_init(r, &eo, taps, keep);
    eo.transform.random_crop = 1;
    eo.transform.hflip = 1;
    eo.seed = epoch_seed(o->seed, r->epoch, 3);
    augment_ctx a = {r, held, 0};
    eo.on_codes = augment_on_codes;
    eo.codes_user = &a;
    r->buf_fill = 0;
    r->buf_rng.state = epoch_seed(o->seed, r->epoch, 2);
    graft_extract_stats es;
    int err = graft_extract_run(&eo, &es);
    r->augment_rejects += es.rejects;
    if (o->handle_signals) catch_signals(1);
    if (err == GRAFT_ECANCELED) return cancelled();
    /* What the buffer still holds leaves it in random order too. */
    while (!err && r->buf_fill) {
        size_t j = (size_t)graft__rng_below(&r->buf_rng, r->buf_fill);
        err = emit_sample(r, r->buf_x + j * r->D, r->buf_y[j]);
        r->buf_fill--;
        memcpy(r->buf_x + j * r->D, r->buf_x + r->buf_fill * r->D, sizeof(float) * r->D);
        r->buf_y[j] = r->buf_y[r->buf_fill];
    }
    if (!err) err = train_batch(r);
    if (!err && stop_signal && o->handle_signals) err = cancelled();
    return err;
}

static int validate(run *r, double *loss_out, double *acc_out) {
    *loss_out = *acc_out = NAN;
    if (!r->n_val) return GRAFT_OK;
    double loss = 0;
    uint64_t correct = 0;
    for (size_t at = 0; at < r->n_val; at += (size_t)r->B) {
        int n = r->n_val - at < (size_t)r->B ? (int)(r->n_val - at) : r->B;
        for (int i = 0; i < n; i++) {
            int err = graft_cache_view_codes(r->view, 0, r->val_idx[at + (size_t)i], 1,
                                             r->x + (size_t)i * r->D);
            if (err) return err;
        }
        int err = graft_top_forward(r->top, r->x, n, 0);
        if (err) return err;
        const float *z = graft_top_logits(r->top);
        for (int i = 0; i < n; i++) {
            int y = r->row_label[r->val_idx[at + (size_t)i]];
            loss += row_loss(z + (size_t)i * r->K, r->K, y, r->o->loss);
            correct += argmax(z + (size_t)i * r->K, r->K) == y;
        }
    }
    *loss_out = loss / (double)r->n_val;
    *acc_out = (double)correct / (double)r->n_val;
    return GRAFT_OK;
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int check_options(const graft_finetune_options *o) {
    if (!o->model_path || !o->inputs || o->input_count < 1 || !o->out_path)
        return graft__fail(GRAFT_EINVAL, "finetune: a model, at least one input and an output "
                           "path are needed");
    if (o->epochs < 1 || o->epochs > 1000000)
        return graft__fail(GRAFT_EINVAL, "finetune: epochs = %d (1..1000000)", o->epochs);
    if (o->batch < 1 || o->batch > 65536)
        return graft__fail(GRAFT_EINVAL, "finetune: batch = %d (1..65536)", o->batch);
    if (!(o->lr > 0) || !isfinite(o->lr))
        return graft__fail(GRAFT_EINVAL, "finetune: the learning rate must be positive");
    if (!(o->momentum >= 0 && o->momentum < 1))
        return graft__fail(GRAFT_EINVAL, "finetune: momentum must be in [0, 1)");
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
        return graft__fail(GRAFT_EINVAL, "finetune: weight decay must be >= 0");
    if (!(o->pretrained_lr_mult >= 0) || !isfinite(o->pretrained_lr_mult))
        return graft__fail(GRAFT_EINVAL, "finetune: the pretrained lr multiplier must be >= 0");
    if ((unsigned)o->schedule > GRAFT_FINETUNE_SCHEDULE_CONSTANT)
        return graft__fail(GRAFT_EINVAL, "finetune: unknown schedule %d", (int)o->schedule);
    if (o->schedule == GRAFT_FINETUNE_SCHEDULE_STEP && (o->step_size < 1 || !(o->gamma > 0)))
        return graft__fail(GRAFT_EINVAL, "finetune: the step schedule needs step_size >= 1 and "
                           "gamma > 0");
    if ((unsigned)o->loss > GRAFT_TOP_LOSS_HINGE)
        return graft__fail(GRAFT_EINVAL, "finetune: unknown loss %d", (int)o->loss);
    if (!(o->label_smoothing >= 0 && o->label_smoothing < 1))
        return graft__fail(GRAFT_EINVAL, "finetune: label smoothing must be in [0, 1)");
    if (!(o->read.val_fraction >= 0 && o->read.val_fraction < 1))
        return graft__fail(GRAFT_EINVAL, "finetune: val_fraction must be in [0, 1)");
    if (o->augment && o->shuffle_buffer < 1)
        return graft__fail(GRAFT_EINVAL, "finetune: the shuffle buffer needs >= 1 sample");
    if (o->transform.width < 1 || o->transform.height < 1)
        return graft__fail(GRAFT_EINVAL, "finetune: the transform has no input size");
    return GRAFT_OK;
}

static int apply_lr_mults(const graft_finetune_options *o, graft_top *top);

/* The freeze tensor's name: a probe top (2 classes, 1 image) decides it as the real one will. */
static int find_freeze(run *r) {
    graft_top_options to = r->o->top;
    to.classes = 2;
    to.head = NULL;
    to.reinit = 0;
    to.seed = r->o->seed;
    graft_top *probe;
    int err = graft_top_create(r->model, 1, r->o->transform.height, r->o->transform.width, &to,
                               &probe);
    if (err) return err;
    /* The --lr-mult patterns are checked here too, before the extraction rather than after:
       the probe has the same parameter names as the real top. */
    err = apply_lr_mults(r->o, probe);
    if (err) {
        graft_top_destroy(probe);
        return err;
    }
    const char *name = graft_top_input_name(probe);
    if (strlen(name) >= sizeof freeze_name) {
        graft_top_destroy(probe);
        return graft__fail(GRAFT_EINVAL, "finetune: the freeze tensor's name is too long");
    }
    snprintf(freeze_name, sizeof freeze_name, "%s", name);
    r->nothing_frozen = !strcmp(name, graft_model_input_name(r->model));
    r->st->nothing_frozen = r->nothing_frozen;
    graft_top_destroy(probe);
    return GRAFT_OK;
}

static int extract_cache(run *r) {
    const graft_finetune_options *o = r->o;
    graft_extract_options eo;
    const char *taps[1], *keep[2];
    extract_options_init(r, &eo, taps, keep);
    eo.transform.random_crop = 0;
    eo.transform.hflip = 0;
    eo.cache_dir = r->cache_dir;
    int err = graft_extract_run(&eo, &r->st->extract);
    if (o->handle_signals) catch_signals(1);
    return err;
}

/* Classes and the train and val rows of the cache. */
static int read_rows(run *r, int *held) {
    int err = graft_cache_view_open(r->cache_dir, &r->view);
    if (err) return err;
    if (graft_cache_view_tap_count(r->view) != 1)
        return graft__fail(GRAFT_EMISMATCH, "finetune: the cache %s has %d taps, not 1",
                           r->cache_dir, graft_cache_view_tap_count(r->view));
    r->D = graft_cache_view_dim(r->view, 0);
    r->K = graft_cache_view_class_count(r->view);
    if (r->K < 2)
        return graft__fail(GRAFT_EINVAL, "finetune: %d class%s in %s; fine-tuning needs two or "
                           "more labelled classes", r->K, r->K == 1 ? "" : "es", r->cache_dir);
    r->class_names = malloc(sizeof(char *) * (size_t)r->K);
    size_t rows = graft_cache_view_rows(r->view);
    r->row_label = malloc(sizeof(int) * (rows ? rows : 1));
    r->train_idx = malloc(sizeof(size_t) * (rows ? rows : 1));
    r->val_idx = malloc(sizeof(size_t) * (rows ? rows : 1));
    if (!r->class_names || !r->row_label || !r->train_idx || !r->val_idx)
        return graft__fail(GRAFT_ENOMEM, "finetune: out of memory for %zu rows", rows);
    for (int k = 0; k < r->K; k++) r->class_names[k] = graft_cache_view_class_name(r->view, k);
    int any_val = 0;
    for (size_t i = 0; i < rows; i++) {
        graft_cache_row_info ri;
        if ((err = graft_cache_view_row(r->view, i, &ri))) return err;
        r->row_label[i] = ri.label;
        any_val |= ri.label >= 0 && ri.split == GRAFT_SPLIT_VAL;
    }
    /* No val row at all (every key under train/, say): hold out by key hash instead. */
    *held = !any_val && r->o->read.val_fraction > 0;
    for (size_t i = 0; i < rows; i++) {
        graft_cache_row_info ri;
        graft_cache_view_row(r->view, i, &ri);
        if (ri.label < 0) continue;
        if (row_trains(r, ri.split, ri.key, ri.label, *held)) r->train_idx[r->n_train++] = i;
        else if (ri.split == GRAFT_SPLIT_VAL ||
                 (*held && (ri.split == GRAFT_SPLIT_TRAIN || ri.split == GRAFT_SPLIT_NONE)))
            r->val_idx[r->n_val++] = i;
    }
    if (!r->n_train)
        return graft__fail(GRAFT_EINVAL, "finetune: no labelled train rows in %s", r->cache_dir);
    return GRAFT_OK;
}

/* The lr multipliers of top: pretrained_lr_mult, then the patterns in order. */
static int apply_lr_mults(const graft_finetune_options *o, graft_top *top) {
    int P = graft_top_param_count(top);
    for (int i = 0; i < P; i++) {
        graft_top_param *p = graft_top_param_get(top, i);
        if (!p->is_new) p->lr_mult = (float)o->pretrained_lr_mult;
    }
    if (!o->lr_mult || !*o->lr_mult) return GRAFT_OK;
    char *spec = strdup(o->lr_mult);
    if (!spec) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    int err = GRAFT_OK;
    char *save = NULL;
    for (char *tok = strtok_r(spec, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strrchr(tok, '=');
        char *end = NULL;
        double f = eq ? strtod(eq + 1, &end) : NAN;
        if (!eq || eq == tok || end == eq + 1 || *end || !(f >= 0) || !isfinite(f)) {
            err = graft__fail(GRAFT_EINVAL, "finetune: --lr-mult takes PATTERN=F[,PATTERN=F...] "
                              "with F >= 0, not \"%s\"", tok);
            break;
        }
        *eq = '\0';
        int hits = 0;
        for (int i = 0; i < P; i++) {
            graft_top_param *p = graft_top_param_get(top, i);
            if ((p->layer && !fnmatch(tok, p->layer, 0)) || !fnmatch(tok, p->name, 0)) {
                p->lr_mult = (float)f;
                hits++;
            }
        }
        if (!hits)
            err = graft__fail(GRAFT_EINVAL, "finetune: --lr-mult pattern \"%s\" matches no "
                              "trainable parameter (the first is %s of layer %s)", tok,
                              P ? graft_top_param_get(top, 0)->name : "-",
                              P && graft_top_param_get(top, 0)->layer
                                  ? graft_top_param_get(top, 0)->layer : "-");
    }
    free(spec);
    return err;
}

static const char *const schedule_names[] = {"cosine", "step", "constant"};

/* Every option that changes the trajectory, one key=value a line, compared on resume. */
static int make_cfg(run *r) {
    const graft_finetune_options *o = r->o;
    text t = {0};
    text_add(&t, "model_sha256=%s\n", graft_cache_view_model_sha256(r->view));
    text_add(&t, "preprocess=%s\n", graft_cache_view_preprocess(r->view));
    text_add(&t, "freeze=%s\n", freeze_name);
    text_add(&t, "features=%s\n", o->top.features ? o->top.features : "");
    text_add(&t, "epochs=%d\nbatch=%d\nseed=%llu\n", o->epochs, o->batch,
             (unsigned long long)o->seed);
    text_add(&t, "lr=%.17g\nmomentum=%.17g\nweight_decay=%.17g\n", o->lr, o->momentum,
             o->weight_decay);
    text_add(&t, "pretrained_lr_mult=%.17g\nlr_mult=%s\n", o->pretrained_lr_mult,
             o->lr_mult ? o->lr_mult : "");
    text_add(&t, "schedule=%s\n", schedule_names[o->schedule]);
    if (o->schedule == GRAFT_FINETUNE_SCHEDULE_STEP)
        text_add(&t, "step_size=%d\ngamma=%.17g\n", o->step_size, o->gamma);
    text_add(&t, "loss=%s\nlabel_smoothing=%.9g\n",
             o->loss == GRAFT_TOP_LOSS_HINGE ? "hinge" : "softmax", (double)o->label_smoothing);
    text_add(&t, "dropout=%.9g\nbn_train=%d\nreinit=%d\n", (double)o->top.dropout,
             o->top.bn_train ? 1 : 0, o->top.reinit ? 1 : 0);
    text_add(&t, "augment=%d\n", o->augment ? 1 : 0);
    if (o->augment) text_add(&t, "shuffle_buffer=%d\n", o->shuffle_buffer);
    text_add(&t, "val_fraction=%.17g\ntrain_rows=%zu\nval_rows=%zu\n", o->read.val_fraction,
             r->n_train, r->n_val);
    text_add(&t, "classes=%d\n", r->K);
    for (int k = 0; k < r->K; k++) text_add(&t, "class=%s\n", r->class_names[k]);
    if (t.oom) {
        free(t.p);
        return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    }
    if (t.len > META_MAX) {
        free(t.p);
        return graft__fail(GRAFT_EINVAL, "finetune: %d class names do not fit a checkpoint's "
                           "64 KiB of meta text", r->K);
    }
    r->cfg = t.p;
    return GRAFT_OK;
}

static int save_checkpoint(run *r, const char *path, int epochs_done, int best_epoch,
                           double best_acc) {
    text t = {0};
    text_add(&t, "graft-finetune-checkpoint 1\nepoch=%d\nbest_epoch=%d\nbest_val_accuracy=%.17g\n"
             "%s", epochs_done, best_epoch, best_acc, r->cfg);
    if (t.oom) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    int err = graft_top_save(r->top, path, t.p);
    free(t.p);
    return err;
}

/* Loads the resume checkpoint and checks that it was made by this job. */
static int resume(run *r, int *epochs_done, int *best_epoch, double *best_acc) {
    char *meta = NULL;
    int err = graft_top_load(r->top, r->o->resume_path, &meta);
    if (err) return err;
    const char *p = meta;
    int e = -1, be = 0;
    double ba = NAN;
    if (strncmp(p, "graft-finetune-checkpoint 1\n", 28) ||
        sscanf(p + 28, "epoch=%d\nbest_epoch=%d\nbest_val_accuracy=%lf", &e, &be, &ba) < 2) {
        free(meta);
        return graft__fail(GRAFT_EMISMATCH, "finetune: %s was not written by graft finetune "
                           "(its meta text lacks the epoch)", r->o->resume_path);
    }
    /* The best_val_accuracy line may say nan, which sscanf reads; skip the three lines. */
    for (int line = 0; line < 4 && p; line++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    const char *a = p ? p : "", *b = r->cfg;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la)) {
            err = graft__fail(GRAFT_EMISMATCH, "finetune: %s was made with \"%.*s\", this run "
                              "has \"%.*s\"; resume with the same options and data",
                              r->o->resume_path, (int)(la < 300 ? la : 300), a,
                              (int)(lb < 300 ? lb : 300), b);
            break;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    free(meta);
    if (err) return err;
    if (e < 0 || e > r->o->epochs)
        return graft__fail(GRAFT_EMISMATCH, "finetune: %s is at epoch %d of %d",
                           r->o->resume_path, e, r->o->epochs);
    *epochs_done = e;
    *best_epoch = be;
    *best_acc = ba;
    return GRAFT_OK;
}

static void free_run(run *r) {
    graft_top_destroy(r->top);
    graft_cache_view_close(r->view);
    graft_model_destroy(r->model);
    free(r->cache_dir);
    free(r->ckpt_path);
    free(r->best_path);
    free(r->class_names);
    free(r->row_label);
    free(r->train_idx);
    free(r->val_idx);
    free(r->cfg);
    free(r->x);
    free(r->y);
    free(r->buf_x);
    free(r->buf_y);
}

int graft_finetune_run(const graft_finetune_options *o, graft_finetune_stats *stats) {
    graft_finetune_stats st_local;
    graft_finetune_stats *st = stats ? stats : &st_local;
    memset(st, 0, sizeof *st);
    st->best_val_accuracy = NAN;
    freeze_name[0] = '\0';
    st->freeze = freeze_name;
    if (!o) return graft__fail(GRAFT_EINVAL, "finetune: NULL options");
    int err = check_options(o);
    if (err) return err;

    run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.st = st;
    r.B = o->batch;
    struct sigaction old_int, old_term;
    if (o->handle_signals) {
        stop_signal = 0;
        sigaction(SIGINT, NULL, &old_int);
        sigaction(SIGTERM, NULL, &old_term);
        catch_signals(1);
    }
    r.cache_dir = o->cache_dir ? strdup(o->cache_dir) : derive_path(o->out_path, ".onnx", ".cache");
    r.ckpt_path = o->checkpoint_path ? strdup(o->checkpoint_path)
                                     : derive_path(o->out_path, ".onnx", ".ckpt");
    r.best_path = o->best_path ? strdup(o->best_path)
                  : r.ckpt_path ? derive_path(r.ckpt_path, ".ckpt", ".best.ckpt") : NULL;
    if (!r.cache_dir || !r.ckpt_path || !r.best_path) {
        err = graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
        goto done;
    }

    /* The model, with the user's freeze point kept observable through fusion. */
    const char *keep[2] = {o->top.freeze_until, NULL};
    graft_model_options mo = {0};
    mo.keep_weights = 1;
    if (o->top.freeze_until && strcmp(o->top.freeze_until, GRAFT_TOP_FREEZE_NONE))
        mo.keep = keep;
    if ((err = graft_model_load(o->model_path, &mo, &r.model))) goto done;
    /* Refused before any epoch rather than after the last one. */
    if (strcmp(graft_model_format(r.model), "onnx")) {
        err = graft__fail(GRAFT_EUNSUPPORTED, "finetune: %s is a %s model; the fine-tuned "
                          "network is written as ONNX cut from the model's own ONNX file, so "
                          "fine-tuning needs an ONNX model", o->model_path,
                          graft_model_format(r.model));
        goto done;
    }
    if ((err = find_freeze(&r))) goto done;
    /* Rebuild with the resolved tensor kept, so extract's model and ours agree. */
    graft_model_destroy(r.model);
    r.model = NULL;
    keep[0] = freeze_name;
    mo.keep = keep;
    if ((err = graft_model_load(o->model_path, &mo, &r.model))) goto done;

    if ((err = extract_cache(&r))) goto done;
    int held = 0;
    if ((err = read_rows(&r, &held))) goto done;
    st->classes = r.K;
    st->train_rows = r.n_train;
    st->val_rows = r.n_val;

    graft_top_options to = o->top;
    to.classes = r.K;
    to.seed = o->seed;
    if (to.head) {
        if (to.head->K != r.K) {
            err = graft__fail(GRAFT_EMISMATCH, "finetune: the head has %d classes, the data %d",
                              to.head->K, r.K);
            goto done;
        }
        for (int k = 0; k < r.K; k++)
            if (strcmp(to.head->class_names[k], r.class_names[k])) {
                err = graft__fail(GRAFT_EMISMATCH, "finetune: the head's class %d is \"%s\", "
                                  "the data's \"%s\"", k, to.head->class_names[k],
                                  r.class_names[k]);
                goto done;
            }
    }
    if ((err = graft_top_create(r.model, r.B, o->transform.height, o->transform.width, &to,
                                &r.top)))
        goto done;
    int rank;
    int64_t dims[8];
    size_t in_floats = 1;
    if ((err = graft_top_input_dims(r.top, &rank, dims))) goto done;
    for (int d = 0; d < rank; d++) in_floats *= (size_t)dims[d];
    if (in_floats != r.D) {
        err = graft__fail(GRAFT_EMISMATCH, "finetune: the cache %s holds %zu floats per image "
                          "at %s, the top takes %zu", r.cache_dir, r.D, freeze_name, in_floats);
        goto done;
    }
    if ((err = apply_lr_mults(o, r.top))) goto done;
    if ((err = make_cfg(&r))) goto done;
    r.x = malloc(sizeof(float) * (size_t)r.B * r.D);
    r.y = malloc(sizeof(int) * (size_t)r.B);
    if (o->augment) {
        r.buf_cap = (size_t)o->shuffle_buffer;
        r.buf_x = malloc(sizeof(float) * r.buf_cap * r.D);
        r.buf_y = malloc(sizeof(int) * r.buf_cap);
    }
    if (!r.x || !r.y || (o->augment && (!r.buf_x || !r.buf_y))) {
        err = graft__fail(GRAFT_ENOMEM, "finetune: out of memory for the batch buffers");
        goto done;
    }
    r.steps_per_epoch = (r.n_train + (size_t)r.B - 1) / (size_t)r.B;

    int start = 0, best_epoch = 0;
    double best_acc = NAN;
    if (o->resume_path && (err = resume(&r, &start, &best_epoch, &best_acc))) goto done;
    st->start_epoch = st->epochs_done = start;
    st->best_epoch = best_epoch;
    st->best_val_accuracy = best_acc;

    for (r.epoch = start; r.epoch < o->epochs; r.epoch++) {
        double t0 = now_seconds();
        r.step_in_epoch = 0;
        r.loss_sum = 0;
        r.seen = r.correct = 0;
        r.nb = 0;
        if (o->handle_signals && stop_signal) {
            err = cancelled();
            goto done;
        }
        err = o->augment ? train_epoch_augmented(&r, held) : train_epoch_cached(&r);
        st->augment_rejects = r.augment_rejects;
        if (err) goto done;
        graft_finetune_epoch ep = {0};
        ep.epoch = r.epoch + 1;
        ep.epochs = o->epochs;
        ep.train_loss = r.seen ? r.loss_sum / (double)r.seen : NAN;
        ep.train_accuracy = r.seen ? (double)r.correct / (double)r.seen : NAN;
        ep.lr = r.lr_last;
        ep.train_rows = r.seen;
        ep.val_rows = r.n_val;
        if ((err = validate(&r, &ep.val_loss, &ep.val_accuracy))) goto done;
        /* Without val rows every epoch counts as the best: the last one is exported. */
        ep.best = !r.n_val || best_epoch == 0 || ep.val_accuracy > best_acc;
        if (ep.best) {
            best_epoch = ep.epoch;
            best_acc = ep.val_accuracy;
            if ((err = save_checkpoint(&r, r.best_path, ep.epoch, best_epoch, best_acc)))
                goto done;
        }
        if ((err = save_checkpoint(&r, r.ckpt_path, ep.epoch, best_epoch, best_acc))) goto done;
        st->epochs_done = ep.epoch;
        st->best_epoch = best_epoch;
        st->best_val_accuracy = best_acc;
        ep.seconds = now_seconds() - t0;
        if (o->on_epoch) o->on_epoch(o->user, &ep);
    }
    /* The best epoch's weights go out. */
    if (best_epoch > 0 && (err = graft_top_load(r.top, r.best_path, NULL))) goto done;
    err = graft_top_export_onnx(r.top, o->model_path, o->out_path,
                                (const char *const *)r.class_names);
done:
    if (o->handle_signals) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    if (err) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", graft_last_error());
        free_run(&r);
        return graft__fail(err, "%s", msg);
    }
    free_run(&r);
    return GRAFT_OK;
}
