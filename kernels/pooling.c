/*
 * kernels/pooling.c: the pooling driver (graft_pool2d_*, graft_global_pool_nhwc): checks the
 * geometry with ONNX MaxPool / AveragePool semantics, computes output sizes, picks the kernels
 * of graft_isa_current() and splits the output rows (global pooling: images and channel
 * blocks) among the pool's threads.
 *
 * The kernels (pooling_<isa>.c) compute each output element with the same operations wherever
 * it falls, so any split gives the same bits; the split only balances load. Nothing here
 * allocates: pooling needs no scratch. Backward passes live with the layers (pipeline/net/).
 */
#include <limits.h>
#include <stdint.h>

#include "pooling.h"

/* Bound on a padded input side: keeps every window position and tap offset inside an int. */
#define POOL_SIDE_MAX (1 << 29)
/* Below this many tap reads a call runs on one thread: waking the pool would cost more. */
#define POOL_PARALLEL_MIN 65536.0

typedef struct pool_kernels {
    graft_isa isa;
    graft__pool_row_fn row;
    graft__global_pool_fn global;
} pool_kernels;

static const pool_kernels pool_table[] = {
    {GRAFT_ISA_SCALAR, graft__pool_row_ref, graft__global_pool_ref},
#if defined(__x86_64__)
    {GRAFT_ISA_AVX2, graft__pool_row_avx2, graft__global_pool_avx2},
    {GRAFT_ISA_AVX512, graft__pool_row_avx512, graft__global_pool_avx512},
#endif
#if defined(__aarch64__)
    {GRAFT_ISA_NEON, graft__pool_row_neon, graft__global_pool_neon},
#endif
};

static int kernels_current(const char *fn, const pool_kernels **out) {
    graft_isa isa;
    int err = graft_isa_current(&isa);
    if (err) return err;
    for (size_t i = 0; i < sizeof pool_table / sizeof pool_table[0]; i++)
        if (pool_table[i].isa == isa) {
            *out = &pool_table[i];
            return GRAFT_OK;
        }
    return graft__fail(GRAFT_EUNSUPPORTED, "%s: no %s kernel in this build", fn,
                       graft_isa_name(isa));
}

static long long max_ll(long long a, long long b) { return a > b ? a : b; }

/*
 * The output size along one axis ('H' or 'W'), after checking that every window holds an
 * input element. A window starting inside the input holds its first tap, so only those
 * starting in the leading padding (checked one by one) or at or past the input's end (any
 * such window fails, the first is named) can miss it.
 */
static int axis_output(char axis, int size, int k, int s, int d, int p0, int p1, int ceil_mode,
                       int *out) {
    const char *lo = axis == 'H' ? "pad_top" : "pad_left";
    const char *hi = axis == 'H' ? "pad_bottom" : "pad_right";
    long long padded = (long long)size + p0 + p1;
    if (padded > POOL_SIDE_MAX)
        return graft__fail(GRAFT_ERANGE, "pool2d: %c = %d with %s = %d and %s = %d is over %d",
                           axis, size, lo, p0, hi, p1, POOL_SIDE_MAX);
    long long span = (long long)d * (k - 1) + 1;
    if (span > padded)
        return graft__fail(GRAFT_EINVAL,
                           "pool2d: the kernel spans %lld pixels along %c (kernel %d, dilation"
                           " %d), more than the padded input's %lld (%c = %d, %s = %d, %s = %d)",
                           span, axis, k, d, padded, axis, size, lo, p0, hi, p1);
    long long num = padded - span;
    long long n = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
    if (ceil_mode && (n - 1) * s >= (long long)size + p0) n--;
    for (long long o = 0; o < n; o++) {
        /* Inside the leading padding each window is checked; past it only the end can fail. */
        if (o * s - p0 >= 0) o = max_ll(o, ((long long)size + p0 + s - 1) / s);
        if (o >= n) break;
        int k0, k1, taps;
        graft__pool_taps((int)(o * s - p0), k, d, size, size + p1, &k0, &k1, &taps);
        if (k0 >= k1)
            return graft__fail(GRAFT_EINVAL,
                               "pool2d: output %c index %lld has a window (%d taps from %lld, "
                               "dilation %d) holding no input pixel (%c = %d, %s = %d, %s = %d)",
                               axis, o, k, o * s - p0, d, axis, size, lo, p0, hi, p1);
    }
    *out = (int)n;
    return GRAFT_OK;
}

int graft_pool2d_output_size(const graft_pool2d *p, int H, int W, int *OH, int *OW) {
    if (!p) return graft__fail(GRAFT_EINVAL, "pool2d: NULL graft_pool2d");
    if (p->kind != GRAFT_POOL_MAX && p->kind != GRAFT_POOL_AVG)
        return graft__fail(GRAFT_EINVAL, "pool2d: kind = %d is not GRAFT_POOL_MAX or _AVG",
                           p->kind);
    if (p->kernel_h < 1 || p->kernel_w < 1)
        return graft__fail(GRAFT_EINVAL, "pool2d: kernel %d x %d; both sides must be >= 1",
                           p->kernel_h, p->kernel_w);
    if (p->stride_h < 1 || p->stride_w < 1)
        return graft__fail(GRAFT_EINVAL, "pool2d: stride %d x %d; both must be >= 1",
                           p->stride_h, p->stride_w);
    if (p->dilation_h < 1 || p->dilation_w < 1)
        return graft__fail(GRAFT_EINVAL, "pool2d: dilation %d x %d; both must be >= 1",
                           p->dilation_h, p->dilation_w);
    if (p->pad_top < 0 || p->pad_left < 0 || p->pad_bottom < 0 || p->pad_right < 0)
        return graft__fail(GRAFT_EINVAL,
                           "pool2d: negative pad (top %d, left %d, bottom %d, right %d)",
                           p->pad_top, p->pad_left, p->pad_bottom, p->pad_right);
    if ((p->ceil_mode != 0 && p->ceil_mode != 1) ||
        (p->count_include_pad != 0 && p->count_include_pad != 1))
        return graft__fail(GRAFT_EINVAL,
                           "pool2d: ceil_mode = %d, count_include_pad = %d; each must be 0 or 1",
                           p->ceil_mode, p->count_include_pad);
    if (H < 1 || W < 1)
        return graft__fail(GRAFT_EINVAL, "pool2d: input %d x %d; both sides must be >= 1", H, W);
    int oh, ow;
    int err = axis_output('H', H, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top,
                          p->pad_bottom, p->ceil_mode, &oh);
    if (err) return err;
    err = axis_output('W', W, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, p->pad_right,
                      p->ceil_mode, &ow);
    if (err) return err;
    *OH = oh;
    *OW = ow;
    return GRAFT_OK;
}

typedef struct pool_job {
    graft__pool_shape s;
    graft__pool_row_fn row;
    float *y;
    const float *x;
    size_t rows;   /* N * OH */
    int tasks;
} pool_job;

static void pool_task(void *ctx, int task, int thread) {
    const pool_job *J = ctx;
    const graft__pool_shape *s = &J->s;
    size_t r0 = J->rows * task / J->tasks, r1 = J->rows * (task + 1) / J->tasks;
    size_t in_image = (size_t)s->H * s->W * s->C, out_row = (size_t)s->OW * s->C;
    for (size_t r = r0; r < r1; r++) {
        size_t n = r / (size_t)s->OH;
        int oh = (int)(r % (size_t)s->OH);
        J->row(s, J->y + r * out_row, J->x + n * in_image, oh);
    }
}

int graft_pool2d_nhwc(const graft_pool2d *p, float *y, const float *x, int N, int H, int W,
                      int C) {
    int OH = 0, OW = 0;
    int err = graft_pool2d_output_size(p, H, W, &OH, &OW);
    if (err) return err;
    if (N < 0) return graft__fail(GRAFT_EINVAL, "pool2d: N = %d is negative", N);
    if (C < 1) return graft__fail(GRAFT_EINVAL, "pool2d: C = %d; need at least one channel", C);
    size_t x_elems = 0, y_elems = 0;
    if ((err = graft__tensor_elems("pool2d", "x", N, H, W, C, &x_elems)) ||
        (err = graft__tensor_elems("pool2d", "y", N, OH, OW, C, &y_elems)))
        return err;
    if (N == 0) return GRAFT_OK;
    if (!y || !x)
        return graft__fail(GRAFT_EINVAL, "pool2d: NULL %s", !y ? "y (output)" : "x (input)");
    if (graft__overlap(y, y_elems * sizeof(float), x, x_elems * sizeof(float)))
        return graft__fail(GRAFT_EINVAL, "pool2d: y overlaps x; pooling cannot run in place");
    const pool_kernels *kr = NULL;
    if ((err = kernels_current("pool2d", &kr))) return err;

    pool_job J = {.row = kr->row, .y = y, .x = x, .rows = (size_t)N * OH};
    J.s = graft__pool_shape_of(p, H, W, C, OH, OW);
    int threads;
    if ((err = graft__pool_begin(0, &threads))) return err;
    double reads = (double)y_elems * p->kernel_h * p->kernel_w;
    size_t tasks = reads < POOL_PARALLEL_MIN ? 1 : (size_t)threads * 4;
    J.tasks = (int)(tasks < J.rows ? tasks : J.rows);
    graft__pool_run(J.tasks, pool_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}

/* Global pooling splits images into blocks of this many channels, the unit of work. */
#define GLOBAL_CBLOCK 64

typedef struct global_job {
    int kind, C, cblocks;
    size_t pixels, units;
    graft__global_pool_fn fn;
    float *y;
    const float *x;
    int tasks;
} global_job;

static void global_task(void *ctx, int task, int thread) {
    const global_job *J = ctx;
    size_t u0 = J->units * task / J->tasks, u1 = J->units * (task + 1) / J->tasks;
    for (size_t u = u0; u < u1; u++) {
        size_t n = u / J->cblocks;
        int c0 = (int)(u % J->cblocks) * GLOBAL_CBLOCK;
        int cb = J->C - c0 < GLOBAL_CBLOCK ? J->C - c0 : GLOBAL_CBLOCK;
        J->fn(J->kind, J->y + n * J->C + c0, J->x + n * J->pixels * J->C + c0, J->pixels,
              (size_t)J->C, cb);
    }
}

int graft_global_pool_nhwc(int kind, float *y, const float *x, int N, int H, int W, int C) {
    if (kind != GRAFT_POOL_MAX && kind != GRAFT_POOL_AVG)
        return graft__fail(GRAFT_EINVAL, "global_pool: kind = %d is not GRAFT_POOL_MAX or _AVG",
                           kind);
    if (N < 0 || H < 1 || W < 1 || C < 1)
        return graft__fail(GRAFT_EINVAL,
                           "global_pool: N = %d, H = %d, W = %d, C = %d; need N >= 0 and H, W,"
                           " C >= 1", N, H, W, C);
    size_t x_elems = 0;
    int err = graft__tensor_elems("global_pool", "x", N, H, W, C, &x_elems);
    if (err) return err;
    if (N == 0) return GRAFT_OK;
    if (!y || !x)
        return graft__fail(GRAFT_EINVAL, "global_pool: NULL %s", !y ? "y (output)" : "x (input)");
    if (graft__overlap(y, (size_t)N * C * sizeof(float), x, x_elems * sizeof(float)))
        return graft__fail(GRAFT_EINVAL, "global_pool: y overlaps x");
    const pool_kernels *kr = NULL;
    if ((err = kernels_current("global_pool", &kr))) return err;

    global_job J = {.kind = kind, .C = C, .fn = kr->global, .y = y, .x = x};
    J.pixels = (size_t)H * W;
    J.cblocks = (C + GLOBAL_CBLOCK - 1) / GLOBAL_CBLOCK;
    J.units = (size_t)N * J.cblocks;
    int threads;
    if ((err = graft__pool_begin(0, &threads))) return err;
    size_t tasks = (double)x_elems < POOL_PARALLEL_MIN ? 1 : (size_t)threads * 4;
    J.tasks = (int)(tasks < J.units ? tasks : J.units);
    graft__pool_run(J.tasks, global_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}
