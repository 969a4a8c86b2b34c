/*
 * kernels/act_grad.c: the portable driver of graft_unary_backward (public API in
 * include/graft/kernels.h). It checks arguments, picks the variant of graft_isa_current(), and
 * splits the array among the kernel pool's threads in chunks whose bounds depend only on n,
 * never on the thread count; every element is computed by one call of one variant's loop, so
 * results are bit-identical for any thread count.
 *
 * The kinds whose derivative is written through the output (SIGMOID, TANH, EXP, SQRT) need
 * y = f(x). When the caller does not pass it, the driver recomputes it with the same variant's
 * forward loop (vmath_<isa>.c) into a stack block, so the gradient is exactly what the caller
 * would get by passing graft_unary_apply's y. No arithmetic of the derivatives lives here.
 */
#include <math.h>
#include <stdint.h>

#include "grad.h"
#include "vmath.h"

/* Elements per chunk of work, as vmath.c's: a task outweighs the pool's hand-off. */
#define CHUNK_FLOATS 16384
/* Floats of y recomputed at a time on the stack when the caller passed none. */
#define Y_BLOCK 512

typedef struct act_grad_kernel {
    graft_isa isa;
    graft__unary_grad_fn grad;
    void (*forward)(const graft_unary_op *op, float *y, const float *x, size_t n);
} act_grad_kernel;

static const act_grad_kernel act_grad_kernels[] = {
    {GRAFT_ISA_SCALAR, graft__unary_grad_ref, graft_vmath_unary_ref},
#if defined(__x86_64__)
    {GRAFT_ISA_AVX2, graft__unary_grad_avx2, graft_vmath_unary_avx2},
    {GRAFT_ISA_AVX512, graft__unary_grad_avx512, graft_vmath_unary_avx512},
#endif
#if defined(__aarch64__)
    {GRAFT_ISA_NEON, graft__unary_grad_neon, graft_vmath_unary_neon},
#endif
};

static int kernel_current(const act_grad_kernel **out) {
    graft_isa isa;
    int err = graft_isa_current(&isa);
    if (err) return err;
    for (size_t i = 0; i < sizeof act_grad_kernels / sizeof act_grad_kernels[0]; i++)
        if (act_grad_kernels[i].isa == isa) {
            *out = &act_grad_kernels[i];
            return GRAFT_OK;
        }
    return graft__fail(GRAFT_EUNSUPPORTED, "unary_backward: this build has no %s variant",
                       graft_isa_name(isa));
}

/* The same parameter rules as graft_unary_apply's, so that a valid forward op is valid here. */
static int check_op(const graft_unary_op *op) {
    if (!op) return graft__fail(GRAFT_EINVAL, "unary_backward: op is NULL");
    if ((unsigned)op->kind >= GRAFT_UNARY_COUNT)
        return graft__fail(GRAFT_EINVAL, "unary_backward: kind = %d is not a graft_unary",
                           (int)op->kind);
    int reads_alpha = op->kind == GRAFT_UNARY_CLIP || op->kind == GRAFT_UNARY_LEAKY_RELU ||
                      op->kind == GRAFT_UNARY_HARD_SIGMOID;
    int reads_beta = op->kind == GRAFT_UNARY_CLIP || op->kind == GRAFT_UNARY_HARD_SIGMOID;
    int finite = op->kind != GRAFT_UNARY_CLIP; /* CLIP's infinite bounds mean "no bound" */
    if ((reads_alpha && (isnan(op->alpha) || (finite && isinf(op->alpha)))) ||
        (reads_beta && (isnan(op->beta) || (finite && isinf(op->beta)))))
        return graft__fail(GRAFT_EINVAL, "unary_backward: kind %d needs %s alpha and beta, got"
                           " alpha = %g, beta = %g", (int)op->kind,
                           finite ? "finite" : "non-NaN", op->alpha, op->beta);
    return GRAFT_OK;
}

typedef struct grad_job {
    const act_grad_kernel *kr;
    const graft_unary_op *op;
    float *dx;
    const float *dy, *x, *y;
    size_t n, nchunks;
    int ntasks;
} grad_job;

/* Elements [i0, i1), recomputing y block by block when it is needed and was not given. */
static void grad_range(const grad_job *J, size_t i0, size_t i1) {
    if (J->y || !graft__unary_grad_needs_y(J->op->kind)) {
        J->kr->grad(J->op, J->dx + i0, J->dy + i0, J->x + i0, J->y ? J->y + i0 : NULL, i1 - i0);
        return;
    }
    float y[Y_BLOCK];
    for (size_t i = i0; i < i1; i += Y_BLOCK) {
        size_t m = i1 - i < Y_BLOCK ? i1 - i : Y_BLOCK;
        J->kr->forward(J->op, y, J->x + i, m);
        J->kr->grad(J->op, J->dx + i, J->dy + i, J->x + i, y, m);
    }
}

static void grad_task(void *ctx, int task, int thread) {
    const grad_job *J = ctx;
    size_t c0 = J->nchunks * (size_t)task / (size_t)J->ntasks;
    size_t c1 = J->nchunks * (size_t)(task + 1) / (size_t)J->ntasks;
    size_t i0 = c0 * CHUNK_FLOATS, i1 = c1 * CHUNK_FLOATS < J->n ? c1 * CHUNK_FLOATS : J->n;
    if (i0 < i1) grad_range(J, i0, i1);
}

static int overlaps(const float *a, const float *b, size_t n) {
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b, bytes = n * sizeof(float);
    return a && b && a0 < b0 + bytes && b0 < a0 + bytes;
}

int graft_unary_backward(const graft_unary_op *op, float *dx, const float *dy, const float *x,
                         const float *y, size_t n) {
    int err = check_op(op);
    if (err) return err;
    if (n > SIZE_MAX / sizeof(float))
        return graft__fail(GRAFT_ERANGE, "unary_backward: n = %zu floats cannot be addressed",
                           n);
    if (n && (!dx || !dy || !x))
        return graft__fail(GRAFT_EINVAL, "unary_backward: %s is NULL with n = %zu",
                           !dx ? "dx" : !dy ? "dy" : "x", n);
    if (n && (overlaps(dx, dy, n) || overlaps(dx, x, n) || overlaps(dx, y, n)))
        return graft__fail(GRAFT_EINVAL, "unary_backward: dx overlaps %s",
                           overlaps(dx, dy, n) ? "dy" : overlaps(dx, x, n) ? "x" : "y");
    const act_grad_kernel *kr = NULL;
    err = kernel_current(&kr);
    if (err || n == 0) return err;
    grad_job J = {kr, op, dx, dy, x, y, n, (n + CHUNK_FLOATS - 1) / CHUNK_FLOATS, 1};
    if (J.nchunks == 1) {
        grad_range(&J, 0, n); /* one chunk: run it here, without taking the pool */
        return GRAFT_OK;
    }
    int threads;
    if ((err = graft__pool_begin(0, &threads))) return err;
    J.ntasks = J.nchunks < (size_t)threads ? (int)J.nchunks : threads;
    graft__pool_run(J.ntasks, grad_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}
