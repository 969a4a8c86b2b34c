/*
 * kernels/vmath.c: the portable driver of the activations, softmax and LRN (public API in
 * include/graft/kernels.h). It checks arguments, picks the variant of graft_isa_current(),
 * and splits the work among the kernel pool's threads in chunks whose bounds depend only on
 * the sizes, never on the thread count; since every element (or softmax row, or LRN pixel) is
 * computed by one call of one variant's loop, results are bit-identical for any thread count.
 * It also owns the softmax rows whose maximum is NaN or infinite, so that the per-ISA loops
 * (vmath_<isa>.c) only ever see finite maxima. No arithmetic of the activations lives here.
 */
#include <math.h>
#include <stdint.h>

#include "vmath.h"

/*
 * Elements per chunk of work: 64 KiB of floats, large enough that a task outweighs the pool's
 * hand-off, small enough that two threads share arrays of a few hundred thousand elements.
 */
#define CHUNK_FLOATS 16384

static const graft__vmath_kernel vmath_kernels[] = {
    {GRAFT_ISA_SCALAR, graft_vmath_unary_ref, graft_vmath_row_max_ref,
     graft_vmath_softmax_row_ref, graft_vmath_lrn_ref},
#if defined(__x86_64__)
    {GRAFT_ISA_AVX2, graft_vmath_unary_avx2, graft_vmath_row_max_avx2,
     graft_vmath_softmax_row_avx2, graft_vmath_lrn_avx2},
    {GRAFT_ISA_AVX512, graft_vmath_unary_avx512, graft_vmath_row_max_avx512,
     graft_vmath_softmax_row_avx512, graft_vmath_lrn_avx512},
#endif
#if defined(__aarch64__)
    {GRAFT_ISA_NEON, graft_vmath_unary_neon, graft_vmath_row_max_neon,
     graft_vmath_softmax_row_neon, graft_vmath_lrn_neon},
#endif
};

static int kernel_current(const char *fn, const graft__vmath_kernel **out) {
    graft_isa isa;
    int err = graft_isa_current(&isa);
    if (err) return err;
    for (size_t i = 0; i < sizeof vmath_kernels / sizeof vmath_kernels[0]; i++)
        if (vmath_kernels[i].isa == isa) {
            *out = &vmath_kernels[i];
            return GRAFT_OK;
        }
    return graft__fail(GRAFT_EUNSUPPORTED, "%s: this build has no %s variant", fn,
                       graft_isa_name(isa));
}

/* Splits nchunks fixed chunks among at most `threads` tasks: task t gets [*c0, *c1). */
static void task_chunks(size_t nchunks, int ntasks, int task, size_t *c0, size_t *c1) {
    *c0 = nchunks * (size_t)task / (size_t)ntasks;
    *c1 = nchunks * (size_t)(task + 1) / (size_t)ntasks;
}

static int task_count(size_t nchunks, int threads) {
    return nchunks < (size_t)threads ? (int)nchunks : threads;
}

/* ---- activations ----------------------------------------------------------------------- */

typedef struct unary_job {
    const graft__vmath_kernel *kr;
    const graft_unary_op *op;
    float *y;
    const float *x;
    size_t n, nchunks;
    int ntasks;
} unary_job;

static void unary_task(void *ctx, int task, int thread) {
    const unary_job *J = ctx;
    size_t c0, c1;
    task_chunks(J->nchunks, J->ntasks, task, &c0, &c1);
    size_t i0 = c0 * CHUNK_FLOATS, i1 = c1 * CHUNK_FLOATS < J->n ? c1 * CHUNK_FLOATS : J->n;
    if (i0 < i1) J->kr->unary(J->op, J->y + i0, J->x + i0, i1 - i0);
}

/* Which kinds read alpha / beta, and whether they must be finite there. */
static int check_unary_op(const graft_unary_op *op) {
    if (!op) return graft__fail(GRAFT_EINVAL, "unary_apply: op is NULL");
    if ((unsigned)op->kind >= GRAFT_UNARY_COUNT)
        return graft__fail(GRAFT_EINVAL, "unary_apply: kind = %d is not a graft_unary",
                           (int)op->kind);
    int reads_alpha = op->kind == GRAFT_UNARY_CLIP || op->kind == GRAFT_UNARY_LEAKY_RELU ||
                      op->kind == GRAFT_UNARY_HARD_SIGMOID;
    int reads_beta = op->kind == GRAFT_UNARY_CLIP || op->kind == GRAFT_UNARY_HARD_SIGMOID;
    /* Infinite bounds mean "no bound" for CLIP; elsewhere they would make inf * 0 = NaN. */
    int finite = op->kind != GRAFT_UNARY_CLIP;
    if ((reads_alpha && (isnan(op->alpha) || (finite && isinf(op->alpha)))) ||
        (reads_beta && (isnan(op->beta) || (finite && isinf(op->beta)))))
        return graft__fail(GRAFT_EINVAL, "unary_apply: kind %d needs %s alpha and beta, got"
                           " alpha = %g, beta = %g", (int)op->kind,
                           finite ? "finite" : "non-NaN", op->alpha, op->beta);
    return GRAFT_OK;
}

int graft_unary_apply(const graft_unary_op *op, float *y, const float *x, size_t n) {
    int err = check_unary_op(op);
    if (err) return err;
    if (n > SIZE_MAX / sizeof(float))
        return graft__fail(GRAFT_ERANGE, "unary_apply: n = %zu floats cannot be addressed", n);
    if (n && (!x || !y))
        return graft__fail(GRAFT_EINVAL, "unary_apply: %s is NULL with n = %zu",
                           !x ? "x" : "y", n);
    const graft__vmath_kernel *kr = NULL;
    err = kernel_current("unary_apply", &kr);
    if (err || n == 0) return err;
    if (n <= CHUNK_FLOATS) {
        /* One chunk: run it here, without taking the pool. */
        kr->unary(op, y, x, n);
        return GRAFT_OK;
    }
    int threads;
    err = graft__pool_begin(0, &threads);
    if (err) return err;
    unary_job J = {kr, op, y, x, n, (n + CHUNK_FLOATS - 1) / CHUNK_FLOATS, 0};
    J.ntasks = task_count(J.nchunks, threads);
    graft__pool_run(J.ntasks, unary_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}

/* ---- softmax --------------------------------------------------------------------------- */

/*
 * A row whose maximum m is NaN or infinite, in portable code shared by every variant: the
 * limit of growing inputs (entries equal to m share the probability, the others get 0), or
 * all NaN when a NaN is present (the variant's row_max may have skipped it).
 */
static void softmax_row_nonfinite(float *y, const float *x, size_t D, float m, int log_softmax) {
    size_t count = 0;
    int nan = isnan(m);
    for (size_t i = 0; i < D && !nan; i++) {
        if (isnan(x[i])) nan = 1;
        count += x[i] == m;
    }
    if (nan || count == 0) {
        for (size_t i = 0; i < D; i++) y[i] = NAN;
        return;
    }
    float share = log_softmax ? -logf((float)count) : 1.0f / (float)count;
    float other = log_softmax ? -INFINITY : 0.0f;
    for (size_t i = 0; i < D; i++) y[i] = x[i] == m ? share : other;
}

typedef struct softmax_job {
    const graft__vmath_kernel *kr;
    float *y;
    const float *x;
    size_t rows, D, rows_per_chunk, nchunks;
    int log_softmax, ntasks;
} softmax_job;

static void softmax_rows(const softmax_job *J, size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++) {
        const float *x = J->x + r * J->D;
        float *y = J->y + r * J->D;
        float m = J->kr->row_max(x, J->D);
        if (isfinite(m))
            J->kr->softmax_row(y, x, J->D, m, J->log_softmax);
        else
            softmax_row_nonfinite(y, x, J->D, m, J->log_softmax);
    }
}

static void softmax_task(void *ctx, int task, int thread) {
    const softmax_job *J = ctx;
    size_t c0, c1;
    task_chunks(J->nchunks, J->ntasks, task, &c0, &c1);
    size_t r1 = c1 * J->rows_per_chunk < J->rows ? c1 * J->rows_per_chunk : J->rows;
    softmax_rows(J, c0 * J->rows_per_chunk, r1);
}

int graft_softmax(float *y, const float *x, size_t rows, size_t D, int log_softmax) {
    if (log_softmax != 0 && log_softmax != 1)
        return graft__fail(GRAFT_EINVAL, "softmax: log_softmax = %d is not 0 or 1", log_softmax);
    if (D && rows > SIZE_MAX / sizeof(float) / D)
        return graft__fail(GRAFT_ERANGE, "softmax: %zu rows of %zu floats cannot be addressed",
                           rows, D);
    if (rows && D && (!x || !y))
        return graft__fail(GRAFT_EINVAL, "softmax: %s is NULL with rows = %zu, D = %zu",
                           !x ? "x" : "y", rows, D);
    const graft__vmath_kernel *kr = NULL;
    int err = kernel_current("softmax", &kr);
    if (err || rows == 0 || D == 0) return err;
    softmax_job J = {.kr = kr, .y = y, .x = x, .rows = rows, .D = D, .log_softmax = log_softmax};
    J.rows_per_chunk = D >= CHUNK_FLOATS ? 1 : CHUNK_FLOATS / D;
    J.nchunks = (rows + J.rows_per_chunk - 1) / J.rows_per_chunk;
    if (J.nchunks == 1) {
        softmax_rows(&J, 0, rows);
        return GRAFT_OK;
    }
    int threads;
    err = graft__pool_begin(0, &threads);
    if (err) return err;
    J.ntasks = task_count(J.nchunks, threads);
    graft__pool_run(J.ntasks, softmax_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}

/* ---- LRN ------------------------------------------------------------------------------- */

typedef struct lrn_job {
    const graft__vmath_kernel *kr;
    float *y;
    const float *x;
    size_t pixels, C, pixels_per_chunk, nchunks;
    graft__lrn_args args;
    int ntasks;
} lrn_job;

static void lrn_task(void *ctx, int task, int thread) {
    const lrn_job *J = ctx;
    size_t c0, c1;
    task_chunks(J->nchunks, J->ntasks, task, &c0, &c1);
    size_t p0 = c0 * J->pixels_per_chunk;
    size_t p1 = c1 * J->pixels_per_chunk < J->pixels ? c1 * J->pixels_per_chunk : J->pixels;
    if (p0 < p1)
        J->kr->lrn(J->y + p0 * J->C, J->x + p0 * J->C, p1 - p0, J->C, &J->args,
                   graft__pool_scratch(thread));
}

int graft_lrn_nhwc(float *y, const float *x, size_t pixels, size_t C, int size, float alpha,
                   float beta, float bias) {
    if (size <= 0) return graft__fail(GRAFT_EINVAL, "lrn: size = %d is not positive", size);
    if (!isfinite(alpha) || !isfinite(beta) || !isfinite(bias))
        return graft__fail(GRAFT_EINVAL, "lrn: alpha = %g, beta = %g, bias = %g must be finite",
                           alpha, beta, bias);
    /* The scratch holds up to 3 C floats per thread. */
    if (C && (pixels > SIZE_MAX / sizeof(float) / C || C > SIZE_MAX / sizeof(float) / 4))
        return graft__fail(GRAFT_ERANGE, "lrn: %zu pixels of %zu channels cannot be addressed",
                           pixels, C);
    if (pixels && C && (!x || !y))
        return graft__fail(GRAFT_EINVAL, "lrn: %s is NULL with pixels = %zu, C = %zu",
                           !x ? "x" : "y", pixels, C);
    const graft__vmath_kernel *kr = NULL;
    int err = kernel_current("lrn", &kr);
    if (err || pixels == 0 || C == 0) return err;

    lrn_job J = {.kr = kr, .y = y, .x = x, .pixels = pixels, .C = C};
    /* ONNX's window; channels beyond C - 1 away are outside every clipped window. */
    size_t lo = (size_t)(size - 1) / 2, hi = (size_t)size / 2;
    J.args.lo = lo < C - 1 ? lo : C - 1;
    J.args.hi = hi < C - 1 ? hi : C - 1;
    J.args.scale = alpha / (float)size;
    J.args.beta = beta;
    J.args.bias = bias;
    J.pixels_per_chunk = C >= CHUNK_FLOATS ? 1 : CHUNK_FLOATS / C;
    J.nchunks = (pixels + J.pixels_per_chunk - 1) / J.pixels_per_chunk;
    int threads;
    err = graft__pool_begin(graft__lrn_scratch_floats(C, &J.args) * sizeof(float), &threads);
    if (err) return err;
    J.ntasks = task_count(J.nchunks, threads);
    graft__pool_run(J.ntasks, lrn_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}
