/*
 * kernels/eltwise.c: the drivers of the memory-bound tensor kernels around the convolutions:
 * NCHW <-> NHWC conversion, inference batch norm and its folding into a layer's weights,
 * binary ops with numpy / ONNX broadcasting, and concat. Each checks its arguments, picks the
 * kernels of graft_isa_current() and splits the elements among the pool's threads; the
 * scalar reference kernels live here too, the SIMD ones in eltwise_<isa>.c.
 *
 * Every element is produced by the same operations whichever thread or chunk it falls in, so
 * results are bit-identical for any thread count. Nothing here allocates: batch norm keeps its
 * folded parameters in the thread pool's scratch. Activations and transcendental elementwise
 * ops are the vmath kernels'; pooling is pooling.c's.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pooling.h"

/* Below this many elements a call runs on one thread: waking the pool would cost more. */
#define ELTWISE_PARALLEL_MIN ((size_t)1 << 16)
/* Side of the square tiles of a layout conversion: two 16 KiB tiles stay in L1. */
#define TRANSPOSE_TILE 64

/* ---- scalar reference kernels ---------------------------------------------------------- */

void graft__binary_ref(int op, int mode, float *y, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float av = mode == GRAFT__BINARY_SV ? a[0] : a[i];
        float bv = mode == GRAFT__BINARY_VS ? b[0] : b[i];
        y[i] = graft__binary_apply(op, av, bv);
    }
}

void graft__scale_shift_ref(float *y, const float *x, size_t pixels, int C,
                            const float *restrict scale, const float *restrict shift) {
    for (size_t p = 0; p < pixels; p++)
        for (int c = 0; c < C; c++) y[p * C + c] = x[p * C + c] * scale[c] + shift[c];
}

void graft__transpose_ref(float *restrict dst, size_t ldd, const float *restrict src, size_t lds,
                          int rows, int cols) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) dst[(size_t)j * ldd + i] = src[(size_t)i * lds + j];
}

/* ---- dispatch -------------------------------------------------------------------------- */

typedef struct eltwise_kernels {
    graft_isa isa;
    graft__binary_fn binary;
    graft__scale_shift_fn scale_shift;
    graft__transpose_fn transpose;
} eltwise_kernels;

/* AVX-512 machines all have AVX2, whose 8 x 8 register transpose already keeps up with memory. */
static const eltwise_kernels eltwise_table[] = {
    {GRAFT_ISA_SCALAR, graft__binary_ref, graft__scale_shift_ref, graft__transpose_ref},
#if defined(__x86_64__)
    {GRAFT_ISA_AVX2, graft__binary_avx2, graft__scale_shift_avx2, graft__transpose_avx2},
    {GRAFT_ISA_AVX512, graft__binary_avx512, graft__scale_shift_avx512, graft__transpose_avx2},
#endif
#if defined(__aarch64__)
    {GRAFT_ISA_NEON, graft__binary_neon, graft__scale_shift_neon, graft__transpose_neon},
#endif
};

static int kernels_current(const char *fn, const eltwise_kernels **out) {
    graft_isa isa;
    int err = graft_isa_current(&isa);
    if (err) return err;
    for (size_t i = 0; i < sizeof eltwise_table / sizeof eltwise_table[0]; i++)
        if (eltwise_table[i].isa == isa) {
            *out = &eltwise_table[i];
            return GRAFT_OK;
        }
    return graft__fail(GRAFT_EUNSUPPORTED, "%s: no %s kernel in this build", fn,
                       graft_isa_name(isa));
}

/* Tasks for `work` units of work: one below the threshold, else a few per thread. */
static int task_count(size_t work, size_t units, int threads) {
    size_t t = work < ELTWISE_PARALLEL_MIN ? 1 : (size_t)threads * 4;
    return (int)(t < units ? t : units);
}

/* ---- layout conversions ---------------------------------------------------------------- */

/* Transposes N matrices of rows x cols (src) into cols x rows (dst), tile by tile. */
typedef struct transpose_job {
    graft__transpose_fn fn;
    float *dst;
    const float *src;
    size_t rows, cols, tiles_r, tiles_c, units;
    int tasks;
} transpose_job;

static void transpose_task(void *ctx, int task, int thread) {
    const transpose_job *J = ctx;
    size_t per_image = J->tiles_r * J->tiles_c;
    size_t u0 = J->units * task / J->tasks, u1 = J->units * (task + 1) / J->tasks;
    for (size_t u = u0; u < u1; u++) {
        size_t n = u / per_image, ti = u % per_image / J->tiles_c, tj = u % J->tiles_c;
        size_t i0 = ti * TRANSPOSE_TILE, j0 = tj * TRANSPOSE_TILE;
        size_t r = J->rows - i0 < TRANSPOSE_TILE ? J->rows - i0 : TRANSPOSE_TILE;
        size_t c = J->cols - j0 < TRANSPOSE_TILE ? J->cols - j0 : TRANSPOSE_TILE;
        size_t image = n * J->rows * J->cols;
        J->fn(J->dst + image + j0 * J->rows + i0, J->rows, J->src + image + i0 * J->cols + j0,
              J->cols, (int)r, (int)c);
    }
}

static int convert(const char *fn, float *dst, const float *src, int N, int C, int H, int W,
                   int to_nhwc) {
    if (N < 0 || C < 0 || H < 0 || W < 0)
        return graft__fail(GRAFT_EINVAL, "%s: negative size (N = %d, C = %d, H = %d, W = %d)",
                           fn, N, C, H, W);
    size_t elems = (size_t)N;
    if (!graft__elems_mul(&elems, (size_t)C) || !graft__elems_mul(&elems, (size_t)H) ||
        !graft__elems_mul(&elems, (size_t)W))
        return graft__fail(GRAFT_ERANGE, "%s: %d x %d x %d x %d floats is too large", fn, N, C,
                           H, W);
    if (elems == 0) return GRAFT_OK;
    if (!dst || !src) return graft__fail(GRAFT_EINVAL, "%s: NULL %s", fn, !dst ? "dst" : "src");
    if (graft__overlap(dst, elems * sizeof(float), src, elems * sizeof(float)))
        return graft__fail(GRAFT_EINVAL, "%s: dst overlaps src; the conversion cannot run in"
                           " place", fn);
    const eltwise_kernels *kr = NULL;
    int err = kernels_current(fn, &kr);
    if (err) return err;
    size_t pixels = (size_t)H * W;
    if (C == 1 || pixels == 1) {
        /* One of the two axes is 1: both layouts store the same sequence. */
        memcpy(dst, src, elems * sizeof(float));
        return GRAFT_OK;
    }
    transpose_job J = {.fn = kr->transpose, .dst = dst, .src = src};
    J.rows = to_nhwc ? (size_t)C : pixels;
    J.cols = to_nhwc ? pixels : (size_t)C;
    J.tiles_r = (J.rows + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
    J.tiles_c = (J.cols + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
    J.units = (size_t)N * J.tiles_r * J.tiles_c;
    int threads;
    if ((err = graft__pool_begin(0, &threads))) return err;
    J.tasks = task_count(elems, J.units, threads);
    graft__pool_run(J.tasks, transpose_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}

int graft_nchw_to_nhwc(float *dst, const float *src, int N, int C, int H, int W) {
    return convert("nchw_to_nhwc", dst, src, N, C, H, W, 1);
}

int graft_nhwc_to_nchw(float *dst, const float *src, int N, int C, int H, int W) {
    return convert("nhwc_to_nchw", dst, src, N, C, H, W, 0);
}

/* ---- batch norm ------------------------------------------------------------------------ */

/* Checks the four parameter vectors; the message names the first bad channel. */
static int check_bn_params(const char *fn, int C, const float *gamma, const float *beta,
                           const float *mean, const float *var, float eps) {
    if (C < 1) return graft__fail(GRAFT_EINVAL, "%s: C = %d; need at least one channel", fn, C);
    if (!gamma || !beta || !mean || !var)
        return graft__fail(GRAFT_EINVAL, "%s: NULL %s", fn,
                           !gamma ? "gamma" : !beta ? "beta" : !mean ? "mean" : "var");
    for (int c = 0; c < C; c++)
        if (!(var[c] + eps > 0.0f))
            return graft__fail(GRAFT_EINVAL,
                               "%s: channel %d has var + eps = %g + %g, which is not positive",
                               fn, c, (double)var[c], (double)eps);
    return GRAFT_OK;
}

/* The one place the scale is computed, so that folding and batch norm agree on it. */
static float bn_scale(float gamma, float var, float eps) { return gamma / sqrtf(var + eps); }

typedef struct bn_job {
    graft__scale_shift_fn fn;
    float *y;
    const float *x;
    size_t pixels;
    int C, tasks;
    const float *scale, *shift;
} bn_job;

static void bn_task(void *ctx, int task, int thread) {
    const bn_job *J = ctx;
    size_t p0 = J->pixels * task / J->tasks, p1 = J->pixels * (task + 1) / J->tasks;
    size_t at = p0 * (size_t)J->C;
    J->fn(J->y + at, J->x + at, p1 - p0, J->C, J->scale, J->shift);
}

int graft_batchnorm_nhwc(float *y, const float *x, size_t pixels, int C, const float *gamma,
                         const float *beta, const float *mean, const float *var, float eps) {
    const char *fn = "batchnorm";
    int err = check_bn_params(fn, C, gamma, beta, mean, var, eps);
    if (err) return err;
    size_t elems = pixels;
    if (!graft__elems_mul(&elems, (size_t)C))
        return graft__fail(GRAFT_ERANGE, "%s: %zu pixels x %d channels is too large", fn, pixels,
                           C);
    if (elems == 0) return GRAFT_OK;
    if (!y || !x) return graft__fail(GRAFT_EINVAL, "%s: NULL %s", fn, !y ? "y" : "x");
    if (y != x && graft__overlap(y, elems * sizeof(float), x, elems * sizeof(float)))
        return graft__fail(GRAFT_EINVAL, "%s: y partly overlaps x (in place needs y == x)", fn);
    const eltwise_kernels *kr = NULL;
    if ((err = kernels_current(fn, &kr))) return err;

    int threads;
    if ((err = graft__pool_begin(2 * (size_t)C * sizeof(float), &threads))) return err;
    float *scale = graft__pool_scratch(0), *shift = scale + C;
    for (int c = 0; c < C; c++) {
        scale[c] = bn_scale(gamma[c], var[c], eps);
        shift[c] = beta[c] - mean[c] * scale[c];
    }
    bn_job J = {.fn = kr->scale_shift, .y = y, .x = x, .pixels = pixels, .C = C,
                .scale = scale, .shift = shift};
    J.tasks = task_count(elems, pixels, threads);
    graft__pool_run(J.tasks, bn_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}

int graft_batchnorm_fold(float *weight, float *bias, int C_out, size_t weight_per_out,
                         const float *gamma, const float *beta, const float *mean,
                         const float *var, float eps) {
    const char *fn = "batchnorm_fold";
    int err = check_bn_params(fn, C_out, gamma, beta, mean, var, eps);
    if (err) return err;
    if (weight_per_out < 1)
        return graft__fail(GRAFT_EINVAL, "%s: weight_per_out = 0; each output needs weights", fn);
    size_t elems = weight_per_out;
    if (!graft__elems_mul(&elems, (size_t)C_out))
        return graft__fail(GRAFT_ERANGE, "%s: %d x %zu weights is too large", fn, C_out,
                           weight_per_out);
    if (!weight || !bias)
        return graft__fail(GRAFT_EINVAL, "%s: NULL %s%s", fn, !weight ? "weight" : "bias",
                           weight ? " (a layer without bias passes zeros)" : "");
    for (int o = 0; o < C_out; o++) {
        float scale = bn_scale(gamma[o], var[o], eps);
        float *w = weight + (size_t)o * weight_per_out;
        for (size_t i = 0; i < weight_per_out; i++) w[i] *= scale;
        bias[o] = (bias[o] - mean[o]) * scale + beta[o];
    }
    return GRAFT_OK;
}

/* ---- broadcasting binary ops ----------------------------------------------------------- */

/* "(2, 3, 4)" into buf; "()" for rank 0. */
static const char *dims_str(char *buf, size_t len, const int64_t *dims, int rank) {
    size_t at = 0;
    at += (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < rank && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (at < len) snprintf(buf + at, len - at, ")");
    return buf;
}

static int check_dims(const char *fn, const char *name, const int64_t *dims, int rank) {
    if (rank < 0 || rank > GRAFT_MAX_RANK)
        return graft__fail(GRAFT_EINVAL, "%s: %s has rank %d; ranks 0..%d are supported", fn,
                           name, rank, GRAFT_MAX_RANK);
    if (rank > 0 && !dims) return graft__fail(GRAFT_EINVAL, "%s: NULL dims for %s", fn, name);
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0) {
            char s[160];
            return graft__fail(GRAFT_EINVAL, "%s: %s has a negative dimension: %s", fn, name,
                               dims_str(s, sizeof s, dims, rank));
        }
    return GRAFT_OK;
}

static int broadcast_shape(const char *fn, int64_t *y_dims, int *y_rank, const int64_t *a_dims,
                           int a_rank, const int64_t *b_dims, int b_rank) {
    int err;
    if ((err = check_dims(fn, "a", a_dims, a_rank)) || (err = check_dims(fn, "b", b_dims, b_rank)))
        return err;
    int rank = a_rank > b_rank ? a_rank : b_rank;
    int64_t out[GRAFT_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a_rank), ib = i - (rank - b_rank);
        int64_t da = ia >= 0 ? a_dims[ia] : 1, db = ib >= 0 ? b_dims[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[160], sb[160];
            return graft__fail(GRAFT_EINVAL,
                               "%s: shapes %s and %s do not broadcast: %lld against %lld on "
                               "axis %d of %d",
                               fn, dims_str(sa, sizeof sa, a_dims, a_rank),
                               dims_str(sb, sizeof sb, b_dims, b_rank), (long long)da,
                               (long long)db, i, rank);
        }
        out[i] = da == 1 ? db : da;
    }
    memcpy(y_dims, out, sizeof(int64_t) * (size_t)rank);
    *y_rank = rank;
    return GRAFT_OK;
}

int graft_binary_output_shape(int64_t *y_dims, int *y_rank, const int64_t *a_dims, int a_rank,
                              const int64_t *b_dims, int b_rank) {
    if (!y_dims || !y_rank)
        return graft__fail(GRAFT_EINVAL, "binary_output_shape: NULL output");
    return broadcast_shape("binary_output_shape", y_dims, y_rank, a_dims, a_rank, b_dims, b_rank);
}

/*
 * A broadcast reduced to its essentials: axes where y has size 1 dropped, and neighbours merged
 * wherever both operands step through them as through one axis (both contiguous, or both
 * broadcast). Strides are in elements, 0 along a broadcast axis. The innermost axis then has
 * strides (1, 1), (1, 0) or (0, 1): a same-shape, vector-scalar or scalar-vector run. A
 * per-channel operand ((C) against (..., C)) becomes runs of C with that operand restarting,
 * a scalar one a single vector-scalar run.
 */
typedef struct binary_job {
    graft__binary_fn fn;
    int op, mode, rank;
    size_t dims[GRAFT_MAX_RANK], sa[GRAFT_MAX_RANK], sb[GRAFT_MAX_RANK];
    float *y;
    const float *a, *b;
    size_t total;
    int tasks;
} binary_job;

static void binary_plan(binary_job *J, const int64_t *y_dims, int y_rank, const int64_t *a_dims,
                        int a_rank, const int64_t *b_dims, int b_rank) {
    size_t own_a = 1, own_b = 1; /* the operand's own stride at the current axis */
    size_t dims[GRAFT_MAX_RANK], sa[GRAFT_MAX_RANK], sb[GRAFT_MAX_RANK];
    int n = 0;
    /* Right to left, so that each operand's own strides accumulate; reversed at the end. */
    for (int i = y_rank - 1; i >= 0; i--) {
        int ia = i - (y_rank - a_rank), ib = i - (y_rank - b_rank);
        size_t d = (size_t)y_dims[i];
        size_t da = ia >= 0 ? (size_t)a_dims[ia] : 1, db = ib >= 0 ? (size_t)b_dims[ib] : 1;
        size_t ta = da == 1 ? 0 : own_a, tb = db == 1 ? 0 : own_b;
        own_a *= da;
        own_b *= db;
        if (d == 1) continue;
        if (n > 0 && ta == sa[n - 1] * dims[n - 1] && tb == sb[n - 1] * dims[n - 1]) {
            dims[n - 1] *= d; /* this outer axis continues the inner one */
            continue;
        }
        dims[n] = d;
        sa[n] = ta;
        sb[n] = tb;
        n++;
    }
    J->rank = n;
    for (int k = 0; k < n; k++) {
        J->dims[k] = dims[n - 1 - k];
        J->sa[k] = sa[n - 1 - k];
        J->sb[k] = sb[n - 1 - k];
    }
    if (n == 0) {
        J->mode = GRAFT__BINARY_VV; /* one element */
        return;
    }
    J->mode = J->sa[n - 1] == 0 ? GRAFT__BINARY_SV
              : J->sb[n - 1] == 0 ? GRAFT__BINARY_VS : GRAFT__BINARY_VV;
}

/* Elements [e0, e1) of y, in runs along the innermost axis. */
static void binary_range(const binary_job *J, size_t e0, size_t e1) {
    if (J->rank == 0) {
        if (e0 < e1) J->fn(J->op, GRAFT__BINARY_VV, J->y, J->a, J->b, 1);
        return;
    }
    const int outer = J->rank - 1;
    const size_t L = J->dims[outer], ia = J->sa[outer], ib = J->sb[outer];
    size_t idx[GRAFT_MAX_RANK], ao = 0, bo = 0, row = e0 / L, off = e0 % L;
    for (int k = outer - 1; k >= 0; k--) {
        idx[k] = row % J->dims[k];
        row /= J->dims[k];
        ao += idx[k] * J->sa[k];
        bo += idx[k] * J->sb[k];
    }
    for (size_t e = e0; e < e1;) {
        size_t n = L - off < e1 - e ? L - off : e1 - e;
        J->fn(J->op, J->mode, J->y + e, J->a + ao + off * ia, J->b + bo + off * ib, n);
        e += n;
        off = 0;
        for (int k = outer - 1; k >= 0; k--) {
            ao += J->sa[k];
            bo += J->sb[k];
            if (++idx[k] < J->dims[k]) break;
            ao -= J->sa[k] * J->dims[k];
            bo -= J->sb[k] * J->dims[k];
            idx[k] = 0;
        }
    }
}

static void binary_task(void *ctx, int task, int thread) {
    const binary_job *J = ctx;
    /* Chunk edges on multiples of 64 elements, whole cache lines for aligned tensors. */
    size_t chunks = (J->total + 63) / 64;
    size_t e0 = chunks * task / J->tasks * 64, e1 = chunks * (task + 1) / J->tasks * 64;
    binary_range(J, e0 < J->total ? e0 : J->total, e1 < J->total ? e1 : J->total);
}

/* Elements of a shape already checked; 0 with an error when its bytes overflow size_t. */
static int shape_elems(const char *fn, const char *name, const int64_t *dims, int rank,
                       size_t *out) {
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0) n = 0;
        if (n && !graft__elems_mul(&n, (size_t)dims[i])) {
            char s[160];
            return graft__fail(GRAFT_ERANGE, "%s: %s of shape %s has too many elements", fn,
                               name, dims_str(s, sizeof s, dims, rank));
        }
    }
    *out = n;
    return GRAFT_OK;
}

int graft_binary_broadcast(int op, float *y, const int64_t *y_dims, int y_rank, const float *a,
                           const int64_t *a_dims, int a_rank, const float *b,
                           const int64_t *b_dims, int b_rank) {
    const char *fn = "binary";
    if (op < GRAFT_BINARY_ADD || op > GRAFT_BINARY_DIV)
        return graft__fail(GRAFT_EINVAL, "%s: op = %d is not a graft_binary_op", fn, op);
    int64_t want[GRAFT_MAX_RANK];
    int want_rank = 0, err;
    if ((err = check_dims(fn, "y", y_dims, y_rank)) ||
        (err = broadcast_shape(fn, want, &want_rank, a_dims, a_rank, b_dims, b_rank)))
        return err;
    if (want_rank != y_rank ||
        (y_rank > 0 && memcmp(want, y_dims, sizeof(int64_t) * (size_t)y_rank) != 0)) {
        char sy[160], sa[160], sb[160], sw[160];
        return graft__fail(GRAFT_EINVAL, "%s: y has shape %s, but a %s and b %s broadcast to %s",
                           fn, dims_str(sy, sizeof sy, y_dims, y_rank),
                           dims_str(sa, sizeof sa, a_dims, a_rank),
                           dims_str(sb, sizeof sb, b_dims, b_rank),
                           dims_str(sw, sizeof sw, want, want_rank));
    }
    size_t ny = 0, na = 0, nb = 0;
    if ((err = shape_elems(fn, "y", y_dims, y_rank, &ny)) ||
        (err = shape_elems(fn, "a", a_dims, a_rank, &na)) ||
        (err = shape_elems(fn, "b", b_dims, b_rank, &nb)))
        return err;
    if (ny == 0) return GRAFT_OK;
    if (!y || !a || !b)
        return graft__fail(GRAFT_EINVAL, "%s: NULL %s", fn, !y ? "y" : !a ? "a" : "b");
    size_t y_bytes = ny * sizeof(float);
    if ((graft__overlap(y, y_bytes, a, na * sizeof(float)) && !(y == a && na == ny)) ||
        (graft__overlap(y, y_bytes, b, nb * sizeof(float)) && !(y == b && nb == ny)))
        return graft__fail(GRAFT_EINVAL,
                           "%s: y overlaps %s; in place needs y == that operand and its shape"
                           " equal to y's", fn,
                           graft__overlap(y, y_bytes, a, na * sizeof(float)) ? "a" : "b");
    const eltwise_kernels *kr = NULL;
    if ((err = kernels_current(fn, &kr))) return err;

    binary_job J = {.fn = kr->binary, .op = op, .y = y, .a = a, .b = b, .total = ny};
    binary_plan(&J, y_dims, y_rank, a_dims, a_rank, b_dims, b_rank);
    if (ny < ELTWISE_PARALLEL_MIN) {
        /* Small tensors (most bias and per-channel ops) skip the pool's lock entirely. */
        binary_range(&J, 0, ny);
        return GRAFT_OK;
    }
    int threads;
    if ((err = graft__pool_begin(0, &threads))) return err;
    J.tasks = threads;
    graft__pool_run(J.tasks, binary_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}

/* ---- concat ---------------------------------------------------------------------------- */

typedef struct concat_job {
    float *y;
    const float *const *inputs;
    const int64_t *const *dims;
    int count, axis;
    size_t inner, row, total; /* elements after the axis, of one y row (one outer index), of y */
    int tasks;
} concat_job;

/* Copies elements [e0, e1) of y from the inputs, a row segment at a time. */
static void concat_range(const concat_job *J, size_t e0, size_t e1) {
    size_t r = e0 / J->row, pos = e0 % J->row;
    int i = 0;
    size_t seg_start = 0, seg = (size_t)J->dims[0][J->axis] * J->inner;
    for (size_t e = e0; e < e1;) {
        while (pos >= seg_start + seg) {
            seg_start += seg;
            i++;
            seg = (size_t)J->dims[i][J->axis] * J->inner;
        }
        size_t n = seg_start + seg - pos < e1 - e ? seg_start + seg - pos : e1 - e;
        memcpy(J->y + e, J->inputs[i] + r * seg + (pos - seg_start), n * sizeof(float));
        e += n;
        pos += n;
        if (pos == J->row) {
            r++;
            pos = seg_start = 0;
            i = 0;
            seg = (size_t)J->dims[0][J->axis] * J->inner;
        }
    }
}

static void concat_task(void *ctx, int task, int thread) {
    const concat_job *J = ctx;
    size_t chunks = (J->total + 63) / 64;
    size_t e0 = chunks * task / J->tasks * 64, e1 = chunks * (task + 1) / J->tasks * 64;
    concat_range(J, e0 < J->total ? e0 : J->total, e1 < J->total ? e1 : J->total);
}

int graft_concat(float *y, const float *const *inputs, const int64_t *const *dims, int count,
                 int rank, int axis) {
    const char *fn = "concat";
    if (count < 1) return graft__fail(GRAFT_EINVAL, "%s: count = %d; need an input", fn, count);
    if (!inputs || !dims)
        return graft__fail(GRAFT_EINVAL, "%s: NULL %s array", fn, !inputs ? "inputs" : "dims");
    if (rank < 1 || rank > GRAFT_MAX_RANK)
        return graft__fail(GRAFT_EINVAL, "%s: rank = %d; ranks 1..%d are supported", fn, rank,
                           GRAFT_MAX_RANK);
    if (axis < -rank || axis >= rank)
        return graft__fail(GRAFT_EINVAL, "%s: axis = %d is outside [%d, %d) for rank %d", fn,
                           axis, -rank, rank, rank);
    if (axis < 0) axis += rank;
    int err;
    for (int i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof name, "input %d", i);
        if (!dims[i]) return graft__fail(GRAFT_EINVAL, "%s: NULL dims for %s", fn, name);
        if ((err = check_dims(fn, name, dims[i], rank))) return err;
        for (int d = 0; d < rank; d++)
            if (d != axis && dims[i][d] != dims[0][d]) {
                char s0[160], si[160];
                return graft__fail(GRAFT_EINVAL,
                                   "%s: %s has shape %s and input 0 %s: they differ on axis %d,"
                                   " not only on the concat axis %d",
                                   fn, name, dims_str(si, sizeof si, dims[i], rank),
                                   dims_str(s0, sizeof s0, dims[0], rank), d, axis);
            }
    }
    /* y's shape: input 0's with the axis sizes summed. */
    int64_t y_dims[GRAFT_MAX_RANK];
    memcpy(y_dims, dims[0], sizeof(int64_t) * (size_t)rank);
    y_dims[axis] = 0;
    for (int i = 0; i < count; i++) {
        if (dims[i][axis] > INT64_MAX - y_dims[axis])
            return graft__fail(GRAFT_ERANGE, "%s: the concat axis sums past 2^63", fn);
        y_dims[axis] += dims[i][axis];
    }
    size_t total = 0, inner = 0;
    if ((err = shape_elems(fn, "y", y_dims, rank, &total))) return err;
    if ((err = shape_elems(fn, "y", y_dims + axis + 1, rank - axis - 1, &inner))) return err;
    if (total == 0) return GRAFT_OK;
    if (!y) return graft__fail(GRAFT_EINVAL, "%s: NULL y", fn);
    size_t outer = total / ((size_t)y_dims[axis] * inner);
    for (int i = 0; i < count; i++) {
        size_t n = outer * (size_t)dims[i][axis] * inner;
        if (n && !inputs[i]) return graft__fail(GRAFT_EINVAL, "%s: NULL input %d", fn, i);
        if (graft__overlap(y, total * sizeof(float), inputs[i], n * sizeof(float)))
            return graft__fail(GRAFT_EINVAL, "%s: y overlaps input %d", fn, i);
    }
    concat_job J = {.y = y, .inputs = inputs, .dims = dims, .count = count, .axis = axis,
                    .inner = inner, .row = (size_t)y_dims[axis] * inner, .total = total};
    if (total < ELTWISE_PARALLEL_MIN * 4) {
        concat_range(&J, 0, total);
        return GRAFT_OK;
    }
    int threads;
    if ((err = graft__pool_begin(0, &threads))) return err;
    J.tasks = threads;
    graft__pool_run(J.tasks, concat_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}
