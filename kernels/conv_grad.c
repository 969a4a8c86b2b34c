/*
 * kernels/conv_grad.c: the convolution backward driver, what fine-tuning runs after the
 * forward pass of conv.c. It validates a layer and accumulates its data, weight and bias
 * gradients (+=) with one of three algorithms:
 *   1x1          1x1, stride 1, no padding: the NHWC tensors already are (pixels, C)
 *                matrices, so dx += dy * W and dW += dy^T * x are one GEMM each per group,
 *                straight on the caller's buffers (no copy, no workspace);
 *   depthwise    groups == C_in: direct kernels (conv_grad_<isa>.c), vectorised along C for
 *                depth multiplier 1; data by input row, weights by slices of 128 channels;
 *   im2col       everything else, per group and per chunk of output pixels in the caller's
 *                workspace: data is a GEMM of dy by the OIHW weights into columns, then a
 *                col2im scatter-add split by input channels; weights are an im2col of x in
 *                OIHW's (c, kh, kw) order and a GEMM of dy^T by it, straight into dweight.
 * The weights stay in ONNX's OIHW layout throughout: the GEMMs read and write it as it is.
 *
 * Every split (chunks, channel slices, rows) depends on the shapes only, each output element
 * is written by one task in a fixed order, and graft_sgemm is bit-identical for any thread
 * count, so the gradients are too. graft_sgemm takes the kernel pool itself, so it is always
 * called outside this file's pool regions, never from a task.
 * Not here: the activation's backward (the caller applies it to dy first), SIMD kernels for
 * depthwise layers with multiplier > 1 (they run the scalar ones), and Winograd.
 */
#include <stdint.h>
#include <string.h>

#include "conv_grad.h"

/* Floats of one im2col chunk: about 1 MiB of columns, so they stay in L2 between the passes. */
#define CHUNK_FLOATS (1L << 18)
#define CHUNK_MIN_ROWS 64
/* Rows per im2col task; channels per col2im and bias task (a cache line). */
#define IM2COL_TASK_ROWS 16
#define SLICE 16
#define DW_SLICE GRAFT__DWG_SLICE

enum { ALGO_1X1, ALGO_DEPTHWISE, ALGO_IM2COL };

typedef struct grad_job {
    const graft_conv2d *d;
    int N, H, W, OH, OW;
    int algo;
    int cin_g, cout_g, taps, Kg;
    long pixels; /* N * OH * OW */
    float *dx, *dweight, *dbias;
    const float *x, *dy, *weight;
    /* im2col: the chunk in flight */
    float *col;
    int g, rows;
    long r0;
    /* depthwise */
    graft__dwg_args dwa;
    graft__dwg_data_fn dw_data;
    graft__dwg_weight_fn dw_weight;
} grad_job;

static int is_1x1(const graft_conv2d *d) {
    return d->kernel_h == 1 && d->kernel_w == 1 && d->stride_h == 1 && d->stride_w == 1 &&
           !d->pad_top && !d->pad_left && !d->pad_bottom && !d->pad_right;
}

/*
 * Depthwise: one input channel per group. A single-channel layer with several outputs is an
 * ordinary convolution and does better as a GEMM.
 */
static int is_depthwise(const graft_conv2d *d) {
    return d->groups == d->C_in && (d->C_in > 1 || d->C_out == 1);
}

static int choose_algo(const graft_conv2d *d) {
    if (is_depthwise(d)) return ALGO_DEPTHWISE;
    if (is_1x1(d)) return ALGO_1X1;
    return ALGO_IM2COL;
}

static long chunk_rows(long Kg, long pixels) {
    long rows = CHUNK_FLOATS / Kg;
    if (rows < CHUNK_MIN_ROWS) rows = CHUNK_MIN_ROWS;
    return rows < pixels ? rows : pixels;
}

/* Checks a call and fills the job's shapes; GRAFT_OK or the error with its message set. */
static int job_init(grad_job *J, const graft_conv2d *d, int N, int H, int W, const char *fn) {
    if (!d) return graft__fail(GRAFT_EINVAL, "%s: descriptor is NULL", fn);
    if (N < 1) return graft__fail(GRAFT_EINVAL, "%s: batch N = %d must be >= 1", fn, N);
    int err = graft_conv2d_output_size(d, H, W, &J->OH, &J->OW);
    if (err) return err;
    J->d = d;
    J->N = N;
    J->H = H;
    J->W = W;
    J->algo = choose_algo(d);
    J->cin_g = d->C_in / d->groups;
    J->cout_g = d->C_out / d->groups;
    J->taps = d->kernel_h * d->kernel_w;
    J->Kg = J->taps * J->cin_g;
    J->pixels = (long)N * J->OH * J->OW;
    double in_elems = (double)N * H * W * d->C_in, out_elems = (double)J->pixels * d->C_out;
    if (in_elems > (double)INT64_MAX / 8 || out_elems > (double)INT64_MAX / 8 ||
        (double)N * H * W > INT32_MAX || (double)J->pixels > INT32_MAX)
        return graft__fail(GRAFT_ERANGE, "%s: %d x %d x %d tensors are too large", fn, N, H, W);
    return GRAFT_OK;
}

size_t graft_conv2d_backward_workspace(const graft_conv2d *desc, int N, int H, int W) {
    grad_job J;
    if (job_init(&J, desc, N, H, W, "conv2d backward") || J.algo != ALGO_IM2COL) return 0;
    return (size_t)chunk_rows(J.Kg, J.pixels) * (size_t)J.Kg;
}

/* ---- depthwise ------------------------------------------------------------------------- */

static void dw_select(grad_job *J, graft_isa isa) {
    J->dw_data = graft_dwconv_grad_data_row_ref;
    J->dw_weight = graft_dwconv_grad_weight_ref;
    if (J->dwa.M != 1) return;
    switch (isa) {
#if defined(__x86_64__)
    case GRAFT_ISA_AVX2:
        J->dw_data = graft_dwconv_grad_data_row_avx2;
        J->dw_weight = graft_dwconv_grad_weight_avx2;
        break;
    case GRAFT_ISA_AVX512:
        J->dw_data = graft_dwconv_grad_data_row_avx512;
        J->dw_weight = graft_dwconv_grad_weight_avx512;
        break;
#endif
#if defined(__aarch64__)
    case GRAFT_ISA_NEON:
        J->dw_data = graft_dwconv_grad_data_row_neon;
        J->dw_weight = graft_dwconv_grad_weight_neon;
        break;
#endif
    default: break;
    }
}

static void dw_args(grad_job *J) {
    const graft_conv2d *d = J->d;
    graft__dwg_args a = {
        .x = J->x, .dy = J->dy, .w = NULL, .H = J->H, .W = J->W, .C = d->C_in,
        .M = d->C_out / d->C_in, .OH = J->OH, .OW = J->OW, .KH = d->kernel_h,
        .KW = d->kernel_w, .SH = d->stride_h, .SW = d->stride_w, .DH = d->dilation_h,
        .DW = d->dilation_w, .pad_t = d->pad_top, .pad_l = d->pad_left,
        .x_image = (size_t)J->H * J->W * d->C_in,
        .dy_image = (size_t)J->OH * J->OW * d->C_out, .N = J->N};
    J->dwa = a;
}

static void dw_data_task(void *vjob, int task, int thread) {
    (void)thread;
    const grad_job *J = vjob;
    int n = task / J->H, ih = task % J->H;
    graft__dwg_args a = J->dwa;
    a.dy += (size_t)n * a.dy_image;
    J->dw_data(J->dx + ((size_t)n * J->H + ih) * J->W * J->d->C_in, ih, &a);
}

static int dw_data(grad_job *J) {
    const int C_out = J->d->C_out, taps = J->taps;
    int threads, err;
    /*
     * The kernels read the weights channels-last, (KH, KW, C_out); the repacked copy lives in
     * the calling thread's pool scratch, which the tasks only read.
     */
    if ((err = graft__pool_begin(sizeof(float) * (size_t)taps * C_out, &threads))) return err;
    float *w = graft__pool_scratch(0);
    for (int co = 0; co < C_out; co++)
        for (int t = 0; t < taps; t++) w[(size_t)t * C_out + co] = J->weight[(size_t)co * taps + t];
    J->dwa.w = w;
    graft__pool_run(J->N * J->H, dw_data_task, J);
    graft__pool_end();
    return GRAFT_OK;
}

static void dw_weight_task(void *vjob, int task, int thread) {
    const grad_job *J = vjob;
    const int C_out = J->d->C_out, taps = J->taps;
    int c0 = task * DW_SLICE, nc = C_out - c0 < DW_SLICE ? C_out - c0 : DW_SLICE;
    float *sums = graft__pool_scratch(thread);
    J->dw_weight(sums, c0, nc, &J->dwa);
    for (int c = 0; c < nc; c++) {
        float *dw = J->dweight + (size_t)(c0 + c) * taps;
        for (int t = 0; t < taps; t++) dw[t] += sums[(size_t)t * DW_SLICE + c];
        if (J->dbias) J->dbias[c0 + c] += sums[(size_t)taps * DW_SLICE + c];
    }
}

static int dw_weights(grad_job *J) {
    int threads, err;
    size_t bytes = sizeof(float) * (size_t)(J->taps + 1) * DW_SLICE;
    if ((err = graft__pool_begin(bytes, &threads))) return err;
    graft__pool_run((J->d->C_out + DW_SLICE - 1) / DW_SLICE, dw_weight_task, J);
    graft__pool_end();
    return GRAFT_OK;
}

/* ---- im2col and col2im ------------------------------------------------------------------ */

/* Output pixel index -> image, top-left input coordinates of its window (may be negative). */
static void pixel_origin(const grad_job *J, long pix, int *n, int *ih0, int *iw0) {
    long plane = (long)J->OH * J->OW;
    int rem = (int)(pix % plane);
    *n = (int)(pix / plane);
    *ih0 = rem / J->OW * J->d->stride_h - J->d->pad_top;
    *iw0 = rem % J->OW * J->d->stride_w - J->d->pad_left;
}

/*
 * Columns of output pixels [r0 + 16 task, ...) of group g in OIHW's order: col (rows, Kg),
 * col[r][c * taps + kh * KW + kw] = x at that tap, zero in the padding.
 */
static void im2col_task(void *vjob, int task, int thread) {
    (void)thread;
    const grad_job *J = vjob;
    const graft_conv2d *d = J->d;
    const int taps = J->taps, cin_g = J->cin_g, C = d->C_in;
    int r_end = (task + 1) * IM2COL_TASK_ROWS < J->rows ? (task + 1) * IM2COL_TASK_ROWS : J->rows;
    for (int r = task * IM2COL_TASK_ROWS; r < r_end; r++) {
        int n, ih0, iw0;
        pixel_origin(J, J->r0 + r, &n, &ih0, &iw0);
        float *dst = J->col + (size_t)r * J->Kg;
        const float *img = J->x + (size_t)n * J->H * J->W * C + (size_t)J->g * cin_g;
        for (int kh = 0, t = 0; kh < d->kernel_h; kh++) {
            int ih = ih0 + kh * d->dilation_h;
            for (int kw = 0; kw < d->kernel_w; kw++, t++) {
                int iw = iw0 + kw * d->dilation_w;
                if (ih < 0 || ih >= J->H || iw < 0 || iw >= J->W) {
                    for (int c = 0; c < cin_g; c++) dst[(size_t)c * taps + t] = 0.0f;
                    continue;
                }
                const float *src = img + ((size_t)ih * J->W + iw) * C;
                for (int c = 0; c < cin_g; c++) dst[(size_t)c * taps + t] = src[c];
            }
        }
    }
}

/*
 * dx += the columns of the chunk, for input channels [16 task, 16 task + 16) of group g. The
 * rows go in order, so every element of dx sums its contributions in the same order whatever
 * the thread count.
 */
static void col2im_task(void *vjob, int task, int thread) {
    (void)thread;
    const grad_job *J = vjob;
    const graft_conv2d *d = J->d;
    const int taps = J->taps, C = d->C_in;
    int c0 = task * SLICE, c1 = c0 + SLICE < J->cin_g ? c0 + SLICE : J->cin_g;
    for (int r = 0; r < J->rows; r++) {
        int n, ih0, iw0;
        pixel_origin(J, J->r0 + r, &n, &ih0, &iw0);
        const float *src = J->col + (size_t)r * J->Kg;
        float *img = J->dx + (size_t)n * J->H * J->W * C + (size_t)J->g * J->cin_g;
        for (int kh = 0, t = 0; kh < d->kernel_h; kh++) {
            int ih = ih0 + kh * d->dilation_h;
            for (int kw = 0; kw < d->kernel_w; kw++, t++) {
                int iw = iw0 + kw * d->dilation_w;
                if (ih < 0 || ih >= J->H || iw < 0 || iw >= J->W) continue;
                float *dst = img + ((size_t)ih * J->W + iw) * C;
                for (int c = c0; c < c1; c++) dst[c] += src[(size_t)c * taps + t];
            }
        }
    }
}

static int run_region(int ntasks, graft__task_fn fn, grad_job *J) {
    int threads, err;
    if ((err = graft__pool_begin(0, &threads))) return err;
    graft__pool_run(ntasks, fn, J);
    graft__pool_end();
    return GRAFT_OK;
}

static int im2col_data(grad_job *J) {
    const graft_conv2d *d = J->d;
    const long R = chunk_rows(J->Kg, J->pixels);
    int err;
    for (int g = 0; g < d->groups; g++)
        for (long r0 = 0; r0 < J->pixels; r0 += R) {
            J->g = g;
            J->r0 = r0;
            J->rows = (int)(J->pixels - r0 < R ? J->pixels - r0 : R);
            /* col (rows, Kg) = dy (rows, cout_g) * W_g (cout_g, Kg), OIHW as stored. */
            err = graft_sgemm(GRAFT_TRANS_NO, GRAFT_TRANS_NO, J->rows, J->Kg, J->cout_g, 1.0f,
                              J->dy + (size_t)r0 * d->C_out + (size_t)g * J->cout_g, d->C_out,
                              J->weight + (size_t)g * J->cout_g * J->Kg, J->Kg, 0.0f, J->col,
                              J->Kg, NULL);
            if (err) return err;
            if ((err = run_region((J->cin_g + SLICE - 1) / SLICE, col2im_task, J))) return err;
        }
    return GRAFT_OK;
}

static int im2col_weights(grad_job *J) {
    const graft_conv2d *d = J->d;
    const long R = chunk_rows(J->Kg, J->pixels);
    int err;
    for (int g = 0; g < d->groups; g++)
        for (long r0 = 0; r0 < J->pixels; r0 += R) {
            J->g = g;
            J->r0 = r0;
            J->rows = (int)(J->pixels - r0 < R ? J->pixels - r0 : R);
            err = run_region((J->rows + IM2COL_TASK_ROWS - 1) / IM2COL_TASK_ROWS, im2col_task, J);
            if (err) return err;
            /* dW_g (cout_g, Kg) += dy^T (cout_g, rows) * col (rows, Kg). */
            err = graft_sgemm(GRAFT_TRANS_YES, GRAFT_TRANS_NO, J->cout_g, J->Kg, J->rows, 1.0f,
                              J->dy + (size_t)r0 * d->C_out + (size_t)g * J->cout_g, d->C_out,
                              J->col, J->Kg, 1.0f, J->dweight + (size_t)g * J->cout_g * J->Kg,
                              J->Kg, NULL);
            if (err) return err;
        }
    return GRAFT_OK;
}

/* dbias[c] += sum over every output pixel of dy[.][c], in pixel order, 16 channels a task. */
static void bias_task(void *vjob, int task, int thread) {
    (void)thread;
    const grad_job *J = vjob;
    const int C = J->d->C_out, c0 = task * SLICE, nc = C - c0 < SLICE ? C - c0 : SLICE;
    float acc[SLICE] = {0};
    for (long p = 0; p < J->pixels; p++) {
        const float *row = J->dy + (size_t)p * C + c0;
        for (int c = 0; c < nc; c++) acc[c] += row[c];
    }
    for (int c = 0; c < nc; c++) J->dbias[c0 + c] += acc[c];
}

/* ---- entry points ----------------------------------------------------------------------- */

/*
 * What both entry points check first, in this order: the shapes (job_init), the pointers
 * (`ptrs_ok`, with `ptr_names` for the message), the workspace im2col needs; then the ISA.
 */
static int job_start(grad_job *J, const graft_conv2d *desc, int N, int H, int W, const char *fn,
                     int ptrs_ok, const char *ptr_names, float *ws, graft_isa *isa) {
    int err = job_init(J, desc, N, H, W, fn);
    if (err) return err;
    if (!ptrs_ok) return graft__fail(GRAFT_EINVAL, "%s: %s is NULL", fn, ptr_names);
    if (J->algo == ALGO_IM2COL && !ws)
        return graft__fail(GRAFT_EINVAL, "%s: this layer needs a workspace of %zu floats "
                           "(graft_conv2d_backward_workspace), got NULL", fn,
                           graft_conv2d_backward_workspace(desc, N, H, W));
    J->col = ws;
    return graft_isa_current(isa);
}

int graft_conv2d_backward_data(const graft_conv2d *desc, float *dx, const float *dy,
                               const float *weight, int N, int H, int W, float *ws) {
    grad_job J = {0};
    graft_isa isa;
    int err = job_start(&J, desc, N, H, W, "conv2d_backward_data", dx && dy && weight,
                        "dx, dy or weight", ws, &isa);
    if (err) return err;
    J.dx = dx;
    J.dy = dy;
    J.weight = weight;
    const graft_conv2d *d = desc;
    if (J.algo == ALGO_1X1) {
        /* dx_g (pixels, cin_g) += dy_g (pixels, cout_g) * W_g (cout_g, cin_g), strided views. */
        for (int g = 0; g < d->groups; g++) {
            err = graft_sgemm(GRAFT_TRANS_NO, GRAFT_TRANS_NO, J.pixels, J.cin_g, J.cout_g, 1.0f,
                              dy + (size_t)g * J.cout_g, d->C_out,
                              weight + (size_t)g * J.cout_g * J.cin_g, J.cin_g, 1.0f,
                              dx + (size_t)g * J.cin_g, d->C_in, NULL);
            if (err) return err;
        }
        return GRAFT_OK;
    }
    if (J.algo == ALGO_DEPTHWISE) {
        dw_args(&J);
        dw_select(&J, isa);
        return dw_data(&J);
    }
    return im2col_data(&J);
}

int graft_conv2d_backward_weights(const graft_conv2d *desc, float *dweight, float *dbias,
                                  const float *x, const float *dy, int N, int H, int W,
                                  float *ws) {
    grad_job J = {0};
    graft_isa isa;
    int err = job_start(&J, desc, N, H, W, "conv2d_backward_weights", dweight && x && dy,
                        "dweight, x or dy", ws, &isa);
    if (err) return err;
    J.dweight = dweight;
    J.dbias = dbias;
    J.x = x;
    J.dy = dy;
    const graft_conv2d *d = desc;
    if (J.algo == ALGO_DEPTHWISE) {
        dw_args(&J);
        dw_select(&J, isa);
        return dw_weights(&J); /* the kernels sum the bias too */
    }
    if (dbias && (err = run_region((d->C_out + SLICE - 1) / SLICE, bias_task, &J))) return err;
    if (J.algo == ALGO_1X1) {
        /* dW_g (cout_g, cin_g) += dy_g^T (cout_g, pixels) * x_g (pixels, cin_g). */
        for (int g = 0; g < d->groups; g++) {
            err = graft_sgemm(GRAFT_TRANS_YES, GRAFT_TRANS_NO, J.cout_g, J.cin_g, J.pixels, 1.0f,
                              dy + (size_t)g * J.cout_g, d->C_out, x + (size_t)g * J.cin_g,
                              d->C_in, 1.0f, dweight + (size_t)g * J.cout_g * J.cin_g, J.cin_g,
                              NULL);
            if (err) return err;
        }
        return GRAFT_OK;
    }
    return im2col_weights(&J);
}
