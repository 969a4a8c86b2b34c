/*
 * kernels/lrn_grad.c: the portable driver of graft_lrn_backward_nhwc, the backward pass of
 * ONNX LRN across channels (public API in include/graft/kernels.h; the forward is vmath.c's
 * graft_lrn_nhwc). It checks arguments, resolves the window exactly as the forward does, picks
 * the variant of graft_isa_current() and splits the pixels among the kernel pool's threads in
 * chunks whose bounds depend only on the sizes, never on the thread count. A pixel's gradient
 * reads only that pixel, so results are bit-identical for any thread count.
 *
 * Nothing is kept from the forward pass: s = bias + alpha / size * sum x^2 and its power are
 * recomputed from x (as the forward computes them, so the same variant gets the same bits),
 * which costs one pow per element and spares the caller a buffer. No arithmetic of the
 * gradient lives here; it is in lrn_grad_ref.c and lrn_grad_body.h.
 */
#include <math.h>
#include <stdint.h>

#include "lrn_grad.h"

/* Floats of x per chunk of work, as vmath.c's forward: a task outweighs the pool's hand-off. */
#define CHUNK_FLOATS 16384

typedef struct lrn_grad_kernel {
    graft_isa isa;
    graft__lrn_grad_fn grad;
} lrn_grad_kernel;

static const lrn_grad_kernel lrn_grad_kernels[] = {
    {GRAFT_ISA_SCALAR, graft__lrn_grad_ref},
#if defined(__x86_64__)
    {GRAFT_ISA_AVX2, graft__lrn_grad_avx2},
    {GRAFT_ISA_AVX512, graft__lrn_grad_avx512},
#endif
#if defined(__aarch64__)
    {GRAFT_ISA_NEON, graft__lrn_grad_neon},
#endif
};

static int kernel_current(const lrn_grad_kernel **out) {
    graft_isa isa;
    int err = graft_isa_current(&isa);
    if (err) return err;
    for (size_t i = 0; i < sizeof lrn_grad_kernels / sizeof lrn_grad_kernels[0]; i++)
        if (lrn_grad_kernels[i].isa == isa) {
            *out = &lrn_grad_kernels[i];
            return GRAFT_OK;
        }
    return graft__fail(GRAFT_EUNSUPPORTED, "lrn_backward: this build has no %s variant",
                       graft_isa_name(isa));
}

typedef struct lrn_grad_job {
    graft__lrn_grad_fn grad;
    float *dx;
    const float *dy, *x;
    size_t pixels, C, pixels_per_chunk, nchunks;
    graft__lrn_args args;
    float coef;
    int ntasks;
} lrn_grad_job;

static void lrn_grad_task(void *ctx, int task, int thread) {
    const lrn_grad_job *J = ctx;
    size_t c0 = J->nchunks * (size_t)task / (size_t)J->ntasks;
    size_t c1 = J->nchunks * (size_t)(task + 1) / (size_t)J->ntasks;
    size_t p0 = c0 * J->pixels_per_chunk;
    size_t p1 = c1 * J->pixels_per_chunk < J->pixels ? c1 * J->pixels_per_chunk : J->pixels;
    if (p0 < p1)
        J->grad(J->dx + p0 * J->C, J->dy + p0 * J->C, J->x + p0 * J->C, p1 - p0, J->C, &J->args,
                J->coef, graft__pool_scratch(thread));
}

static int overlaps(const float *a, const float *b, size_t n) {
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b, bytes = n * sizeof(float);
    return a0 < b0 + bytes && b0 < a0 + bytes;
}

int graft_lrn_backward_nhwc(float *dx, const float *dy, const float *x, size_t pixels, size_t C,
                            int size, float alpha, float beta, float bias) {
    if (size <= 0)
        return graft__fail(GRAFT_EINVAL, "lrn_backward: size = %d is not positive", size);
    if (!isfinite(alpha) || !isfinite(beta) || !isfinite(bias))
        return graft__fail(GRAFT_EINVAL, "lrn_backward: alpha = %g, beta = %g, bias = %g must "
                           "be finite", alpha, beta, bias);
    /* The scratch holds at most 7 C + 48 floats per thread (the padding is below 2 C each). */
    if (C && (pixels > SIZE_MAX / sizeof(float) / C || C > SIZE_MAX / sizeof(float) / 8))
        return graft__fail(GRAFT_ERANGE, "lrn_backward: %zu pixels of %zu channels cannot be "
                           "addressed", pixels, C);
    size_t n = pixels * C;
    if (n && (!dx || !dy || !x))
        return graft__fail(GRAFT_EINVAL, "lrn_backward: %s is NULL with pixels = %zu, C = %zu",
                           !dx ? "dx" : !dy ? "dy" : "x", pixels, C);
    if (n && (overlaps(dx, dy, n) || overlaps(dx, x, n)))
        return graft__fail(GRAFT_EINVAL, "lrn_backward: dx overlaps %s",
                           overlaps(dx, dy, n) ? "dy" : "x");
    const lrn_grad_kernel *kr = NULL;
    int err = kernel_current(&kr);
    if (err || n == 0) return err;

    lrn_grad_job J = {.grad = kr->grad, .dx = dx, .dy = dy, .x = x, .pixels = pixels, .C = C};
    /* The forward's window and constants (vmath.c), so that s is the forward's s. */
    size_t lo = (size_t)(size - 1) / 2, hi = (size_t)size / 2;
    J.args.lo = lo < C - 1 ? lo : C - 1;
    J.args.hi = hi < C - 1 ? hi : C - 1;
    J.args.scale = alpha / (float)size;
    J.args.beta = beta;
    J.args.bias = bias;
    J.coef = (float)(2.0 * (double)alpha * (double)beta / (double)size);
    J.pixels_per_chunk = C >= CHUNK_FLOATS ? 1 : CHUNK_FLOATS / C;
    J.nchunks = (pixels + J.pixels_per_chunk - 1) / J.pixels_per_chunk;
    int threads;
    err = graft__pool_begin(graft__lrn_grad_scratch_floats(C, &J.args) * sizeof(float), &threads);
    if (err) return err;
    J.ntasks = J.nchunks < (size_t)threads ? (int)J.nchunks : threads;
    graft__pool_run(J.ntasks, lrn_grad_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}
