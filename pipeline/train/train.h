/*
 * pipeline/train/train.h: what the files of the train stage share (internal to libgraft):
 * the random generator, the scaler, the losses and the batch solvers' entry points.
 *
 * learn.c owns the learner object and the epoch loops; scaler.c the feature scaling; loss.c
 * the per-row losses and their gradients with respect to the scores; lbfgs.c and dual_cd.c
 * the full-batch solvers; head.c the head file; eval.c the metrics. None of them touches an
 * event loop or does I/O other than the head file.
 */
#ifndef GRAFT_TRAIN_INTERNAL_H
#define GRAFT_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "graft/learn.h"

/* ---- random numbers: splitmix64, a fixed sequence per seed on every platform ------------- */

typedef struct graft__rng {
    uint64_t state;
} graft__rng;

static inline uint64_t graft__rng_next(graft__rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound >= 1, without modulo bias (Lemire's multiply and reject). */
static inline uint64_t graft__rng_below(graft__rng *r, uint64_t bound) {
    unsigned __int128 m = (unsigned __int128)graft__rng_next(r) * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        uint64_t threshold = -bound % bound;
        while (low < threshold) {
            m = (unsigned __int128)graft__rng_next(r) * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* A Fisher-Yates shuffle of idx[0..n). */
void graft__shuffle_size(graft__rng *r, size_t *idx, size_t n);

/* A stateless hash of (seed, x) to [0, 1): which rows a val_fraction holds out. */
double graft__hash_unit(uint64_t seed, uint64_t x);

/* ---- files ------------------------------------------------------------------------------- */

/* CRC-32 (ISO-HDLC, as zlib's crc32()) of len bytes: the head file's and the checkpoint's. */
uint32_t graft__crc32(const void *buf, size_t len);

/*
 * Writes len bytes to `path` so that a reader (or a crash) sees the old file or the whole new
 * one: a temp file next to it (path.tmpPID), fsync, rename, fsync of the directory. `what`
 * prefixes the message ("head save"). Errors: GRAFT_ENOSPC (disk full, quota, file size
 * limit), GRAFT_EIO (with the operation, the file and strerror), GRAFT_ENOMEM.
 */
int graft__write_file_atomic(const char *path, const void *buf, size_t len, const char *what);

/* ---- large buffers ------------------------------------------------------------------------ */

/*
 * A buffer for rows of codes. From 1 MiB up it is mapped with huge pages where the kernel
 * gives them (first-touch faults of 4 KiB pages cost ~11 us each on the machines we run on,
 * see kernels/pool.c), and pages never touched cost nothing, so a buffer may be reserved for
 * every row of a source and filled with only some. Smaller ones come from malloc.
 */
typedef struct graft__buf {
    void *p;
    size_t bytes;
    int mapped;
} graft__buf;

/* Grows b to at least `bytes`, keeping its contents (doubling). -1 when out of memory. */
int graft__buf_reserve(graft__buf *b, size_t bytes);
void graft__buf_free(graft__buf *b);

/* ---- scaler ------------------------------------------------------------------------------ */

/*
 * The scaler's statistics (double) and the float parameters applied (those a head stores).
 * mean_f and inv_std_f are valid after graft__scaler_finalize().
 */
typedef struct graft__scaler {
    int flags;
    size_t D;
    double count;
    double *mean, *m2;   /* (D) running mean and sum of squared deviations */
    float *mean_f;       /* (D) */
    float *inv_std_f;    /* (D) */
    double *tmp_mean, *tmp_m2; /* (D) one batch's statistics before the merge */
} graft__scaler;

int graft__scaler_init(graft__scaler *s, int flags, size_t D);
void graft__scaler_deinit(graft__scaler *s);
void graft__scaler_reset(graft__scaler *s);
/* The row-wise steps (SQRT, L2) on rows X (n, D) into Z; Z may equal X. */
void graft__scale_rows(int flags, size_t D, const float *X, size_t n, float *Z);
/* Adds rows Z (n, D), already through the row-wise steps, to the statistics. */
void graft__scaler_add(graft__scaler *s, const float *Z, size_t n);
/* Statistics -> mean_f, inv_std_f. */
void graft__scaler_finalize(graft__scaler *s);
/* Standardizes Z (n, D) in place with mean and inv_std (no-op when either is NULL). */
void graft__standardize(const float *mean, const float *inv_std, size_t D, float *Z, size_t n);

/* ---- the two products of a step --------------------------------------------------------- */

/*
 * S (n, K) = Z (n, D) W^T + b, and G (K, D) = dS^T (K, n) Z: through graft_sgemm. With few
 * classes these are matrix-vector products, one per class (graft_sgemm's N == 1 / M == 1
 * path, which streams Z once and packs nothing): a register tile of the GEMM would hold
 * only K of its columns.
 */
int graft__scores(const float *Z, size_t n, size_t D, const float *W, const float *b, int K,
                  float *S);
int graft__weight_grad(const float *dS, const float *Z, size_t n, size_t D, int K, float *G);

/* ---- losses ------------------------------------------------------------------------------ */

/*
 * For m rows of scores S (m, K) with labels y and per-row weights w (the class weight over
 * the row count of the objective): adds sum_i w_i loss_i to *loss, and writes
 * dS[i][k] = w_i d loss_i / d S[i][k] (m, K). dS may be NULL (loss only). scratch holds
 * m * K floats (softmax's log-probabilities). Returns a kernel error code (softmax).
 */
int graft__loss_eval(graft_loss loss, const float *S, const int *y, const float *w, size_t m,
                     int K, double *loss_sum, float *dS, float *scratch);

/* ---- full-batch solvers ------------------------------------------------------------------ */

/* The in-memory problem: scaled training rows and what the objective needs. */
typedef struct graft__problem {
    const float *Z;        /* (n, D) scaled rows */
    const int *y;          /* (n) */
    const float *w;        /* (n) per-row weights c_{y_i} / n */
    const float *cw;       /* (K) class weights c_k */
    size_t n, D;
    int K;
    double lambda;         /* > 0 for the dual solvers */
    double bias;           /* B */
    graft_loss loss;
} graft__problem;

/* Called after each iteration with the current model; non-zero stops the solver. */
typedef int (*graft__iter_fn)(void *ctx, int iter, long evals, double objective,
                              const float *W, const float *b);

typedef struct graft__solve_result {
    int iterations;
    long evals;
    double objective;
    int converged;
} graft__solve_result;

/*
 * Full-batch objective and gradient at (W, b) on the problem: J, gW (K, D), gb (K) (both
 * NULL: J alone); scratch holds 3 * n * K floats. Used by L-BFGS and by
 * graft_learner_objective.
 */
int graft__objective(const graft__problem *p, const float *W, const float *b, double *J,
                     float *gW, float *gb, float *scratch);

/* Minimizes J from (W, b) in place. */
int graft__lbfgs_solve(const graft__problem *p, float *W, float *b, int max_iter, double tol,
                       graft__iter_fn cb, void *ctx, graft__solve_result *res);
int graft__dual_cd_solve(const graft__problem *p, float *W, float *b, int max_iter,
                         double tol, uint64_t seed, graft__iter_fn cb, void *ctx,
                         graft__solve_result *res);

/* ---- heads ------------------------------------------------------------------------------- */

/* Scaled rows and scores without the checks: Zbuf holds n * D floats. */
int graft__head_scores(const graft_head *h, const float *X, size_t n, float *scores,
                       float *Zbuf);

#endif
