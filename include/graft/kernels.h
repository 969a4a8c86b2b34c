/*
 * kernels.h: graft's public compute kernels. Today: single-precision GEMM with a fused
 * bias/activation epilogue and pre-packed weights, the primitive that convolutions,
 * fully-connected layers, classifier scoring and backpropagation all run on.
 *
 * Matrices are row-major. Every call runs on the kernel thread pool (graft_threads_get()) and
 * uses the ISA variant of graft_isa_current(). Calls from several user threads at once are safe;
 * they take turns on the pool.
 */
#ifndef GRAFT_KERNELS_H
#define GRAFT_KERNELS_H

#include <stddef.h>
#include "graft.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum graft_trans {
    GRAFT_TRANS_NO = 0, /* use the matrix as stored */
    GRAFT_TRANS_YES = 1 /* use its transpose */
} graft_trans;

typedef enum graft_act {
    GRAFT_ACT_NONE = 0,
    GRAFT_ACT_RELU,  /* max(x, 0) */
    GRAFT_ACT_RELU6  /* min(max(x, 0), 6) */
} graft_act;

/*
 * What is applied to each element of C after the product, in this order:
 *   C[i][j] = act(alpha * sum_k op(A)[i][k] * op(B)[k][j] + beta * C[i][j]
 *                 + bias_row[i] + bias_col[j])
 * A NULL bias is zero. With beta == 0, C is not read (it may hold NaNs). Pass NULL for the
 * whole struct to mean no bias and no activation. Borrowed for the duration of the call.
 */
typedef struct graft_epilogue {
    const float *bias_row; /* (M) per-row bias: convolution with output channels as rows */
    const float *bias_col; /* (N) per-column bias: fully-connected layers, NHWC convolution */
    graft_act act;
} graft_epilogue;

/*
 * C = alpha * op(A) * op(B) + beta * C, then the epilogue. Row-major throughout:
 *   op(A) is M x K: A is M x K with lda >= K, or (trans_a) K x M with lda >= M;
 *   op(B) is K x N: B is K x N with ldb >= N, or (trans_b) N x K with ldb >= K;
 *   C is M x N with ldc >= N.
 * M, N or K may be 0 (K == 0 scales C by beta, then applies the epilogue).
 * Errors: GRAFT_EINVAL (negative size, leading dimension too small, NULL matrix with a non-zero
 * size, unknown enum, C aliasing A or B is not checked and is undefined), GRAFT_ERANGE (a
 * size whose matrices cannot be addressed), GRAFT_ENOMEM (packing buffers), GRAFT_EUNSUPPORTED
 * (GRAFT_ISA names a variant this CPU lacks). C is untouched on error.
 */
int graft_sgemm(graft_trans trans_a, graft_trans trans_b, long M, long N, long K, float alpha,
                const float *A, long lda, const float *B, long ldb, float beta, float *C,
                long ldc, const graft_epilogue *epi);

/*
 * B packed once into the layout the current ISA's micro-kernel reads, so that weights are
 * packed at model load and never per call. Opaque; created by graft_sgemm_pack_b, freed by
 * graft_packed_b_destroy. A packed B belongs to the ISA that was current when it was made;
 * using it after graft_isa_set() changed the variant returns GRAFT_EINVAL.
 */
typedef struct graft_packed_b graft_packed_b;

/*
 * Packs op(B) (K x N; layout as for graft_sgemm) into a new object owned by the caller.
 * Does not retain B. Errors as graft_sgemm; *out written only on success.
 */
int graft_sgemm_pack_b(graft_trans trans_b, long K, long N, const float *B, long ldb,
                       graft_packed_b **out);
/* Frees a packed B; NULL does nothing. */
void graft_packed_b_destroy(graft_packed_b *pb);
/* K and N of a packed B, and the bytes it holds. */
void graft_packed_b_shape(const graft_packed_b *pb, long *K, long *N, size_t *bytes);

/*
 * graft_sgemm with op(B) given pre-packed: C = alpha * op(A) * B + beta * C, then the
 * epilogue. K and N come from `pb`. Same errors as graft_sgemm. Bit-identical to graft_sgemm
 * on the same operands, except for M == 1 with a transposed B, which graft_sgemm computes as
 * dot products over B's rows.
 */
int graft_sgemm_packed(graft_trans trans_a, long M, float alpha, const float *A, long lda,
                       const graft_packed_b *pb, float beta, float *C, long ldc,
                       const graft_epilogue *epi);

/* ======================================================================================== *
 * Neural-network kernels.                                                                   *
 *                                                                                           *
 * Activation layout: NHWC (channels last), float32. A batch of images is (N, H, W, C) with  *
 * C contiguous. Chosen because (1) the pipeline decodes pixels interleaved, so images enter  *
 * as HWC with no transpose; (2) a 1x1 convolution is then a plain GEMM of (N*H*W, C_in) by   *
 * the packed (C_in, C_out) weights, with no copy; (3) depthwise convolution, pooling, bias,  *
 * batch norm and every elementwise op vectorise along C, which is contiguous; (4) the CNN    *
 * code of a pooled tap is already the (N, C) matrix the learners want. A blocked layout      *
 * (NCHWc) would suit direct convolution kernels better but costs a reorder at every tap and  *
 * for every 1x1 layer, which dominate MobileNets. ONNX tensors (NCHW) are converted once at  *
 * the model's edges with graft_nchw_to_nhwc / graft_nhwc_to_nchw.                           *
 * ======================================================================================== */

/* ---- layout conversions ---- (section owned by the elementwise kernels) */

/* ---- elementwise, activations, softmax ---- (section owned by the vmath kernels) */

/*
 * Elementwise activations y[i] = f(x[i]) with ONNX's definitions. alpha and beta are read only
 * by the kinds that name them; there are no hidden defaults (a zero-initialised op has
 * alpha = beta = 0, so an ONNX HardSigmoid without attributes is {..., 0.2f, 0.5f}).
 * A NaN input gives NaN for every kind. Infinite inputs give the limits: SILU, GELU,
 * GELU_TANH and HARD_SWISH map -inf to 0, not to -inf * 0.
 */
typedef enum graft_unary {
    GRAFT_UNARY_RELU,         /* max(x, 0) */
    GRAFT_UNARY_CLIP,         /* min(max(x, alpha), beta); ReLU6 = CLIP(0, 6). Either bound may
                                 be infinite (ONNX Clip without min or max); alpha > beta gives
                                 beta everywhere, as ONNX's formula does */
    GRAFT_UNARY_LEAKY_RELU,   /* x < 0 ? alpha * x : x (ONNX default alpha 0.01) */
    GRAFT_UNARY_SIGMOID,      /* 1 / (1 + exp(-x)) */
    GRAFT_UNARY_TANH,         /* tanh(x) */
    GRAFT_UNARY_HARD_SIGMOID, /* max(0, min(1, alpha * x + beta)); ONNX: alpha 0.2, beta 0.5 */
    GRAFT_UNARY_HARD_SWISH,   /* x * max(0, min(1, x / 6 + 0.5)), as ONNX HardSwish */
    GRAFT_UNARY_SILU,         /* x * sigmoid(x), also called swish */
    GRAFT_UNARY_GELU,         /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
    GRAFT_UNARY_GELU_TANH,    /* 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) */
    GRAFT_UNARY_COUNT
} graft_unary;

typedef struct graft_unary_op {
    graft_unary kind;
    float alpha, beta; /* CLIP: bounds; LEAKY_RELU: alpha; HARD_SIGMOID: slope and offset */
} graft_unary_op;

/*
 * y[i] = op(x[i]) for i < n. x (n), y (n) belong to the caller; y may equal x (in place) but
 * must not overlap it otherwise. n may be 0 (nothing is read or written).
 * Accuracy: the scalar variant uses libm; the SIMD variants use SLEEF's 1-ULP exp, tanh and
 * erf, and agree with it within a few ULP (the bounds are derived in
 * tests/kernels/check_vmath.c); RELU, CLIP and LEAKY_RELU are exact in every variant. For a
 * given variant, y[i] depends only on x[i]: bit-identical for any thread count, n, alignment,
 * in place or not. Long arrays are split among the kernel pool's threads.
 * Errors: GRAFT_EINVAL (op NULL, unknown kind, a NaN alpha or beta where the kind reads it, an
 * infinite one for LEAKY_RELU or HARD_SIGMOID, x or y NULL with n > 0), GRAFT_ERANGE (n floats
 * cannot be addressed), GRAFT_EUNSUPPORTED (GRAFT_ISA names a variant this CPU lacks).
 * y is untouched on error.
 */
int graft_unary_apply(const graft_unary_op *op, float *y, const float *x, size_t n);

/*
 * Softmax (log_softmax = 0) or log-softmax (1) over the last axis of x (rows, D), into y
 * (rows, D); row-major, rows contiguous. Numerically stable: with m the row's maximum,
 *   softmax:     y[i] = exp(x[i] - m) / sum_j exp(x[j] - m)
 *   log-softmax: y[i] = (x[i] - m) - log(sum_j exp(x[j] - m))
 * so inputs of any finite magnitude (1e4, -1e30) neither overflow nor make NaNs. Rows whose
 * maximum is infinite take the limit of growing inputs: the entries equal to the maximum share
 * the probability equally (log: -log(count)), the others get 0 (log: -inf); a row of all -inf
 * is therefore uniform. A row holding a NaN is all NaN. y may equal x; no other overlap.
 * rows or D may be 0. Buffers belong to the caller. Accuracy as graft_unary_apply (the row sum
 * adds at most D rounding errors); rows are split among the kernel pool's threads, each row
 * computed by one thread, so results are bit-identical for any thread count.
 * Errors: GRAFT_EINVAL (x or y NULL with rows * D > 0, log_softmax not 0 or 1), GRAFT_ERANGE
 * (rows * D floats cannot be addressed), GRAFT_EUNSUPPORTED (as above). y untouched on error.
 */
int graft_softmax(float *y, const float *x, size_t rows, size_t D, int log_softmax);

/*
 * ONNX LRN across channels on an NHWC batch flattened to x (pixels, C) = (N * H * W, C):
 *   y[p][c] = x[p][c] / (bias + alpha / size * sum_{c' in window} x[p][c']^2)^beta,
 *   window c' in [c - floor((size - 1) / 2), c + ceil((size - 1) / 2)], clipped to [0, C).
 * (ONNX's defaults: alpha 1e-4, beta 0.75, bias 1.) y may equal x; no other overlap. pixels or
 * C may be 0. Buffers belong to the caller. Accuracy: SIMD variants use SLEEF's 1-ULP pow and
 * agree with libm's within a few ULP; the window sums are bit-identical in every variant.
 * Pixels are split among the kernel pool's threads; results are bit-identical for any thread
 * count. A base (bias + ...) that is not positive gives whatever pow gives (NaN, inf).
 * Errors: GRAFT_EINVAL (size <= 0, alpha, beta or bias not finite, x or y NULL with
 * pixels * C > 0), GRAFT_ERANGE (pixels * C floats cannot be addressed), GRAFT_ENOMEM (the
 * pool's per-thread scratch, 3 * C floats, cannot grow), GRAFT_EUNSUPPORTED (as above).
 * y untouched on error.
 */
int graft_lrn_nhwc(float *y, const float *x, size_t pixels, size_t C, int size, float alpha,
                   float beta, float bias);

/* ---- pooling, batch norm, broadcasting, concat ---- (section owned by the pooling kernels) */

/* ---- convolution ---- (section owned by the convolution kernels) */

/*
 * A 2-D convolution layer, ONNX Conv semantics: x (N, H, W, C_in) -> y (N, OH, OW, C_out),
 *   OH = (H + pad_top + pad_bottom - dilation_h * (kernel_h - 1) - 1) / stride_h + 1
 * (likewise OW), groups dividing C_in and C_out (groups == C_in: depthwise, with depth
 * multiplier C_out / C_in), then bias and a fused activation.
 */
typedef struct graft_conv2d {
    int C_in, C_out, groups;
    int kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
    int pad_top, pad_left, pad_bottom, pad_right;
    graft_act act;
} graft_conv2d;

/*
 * A convolution with its weights transformed and packed once for the current ISA (the way a
 * model load does it), owned by the caller: graft_conv2d_plan_create / _destroy.
 */
typedef struct graft_conv2d_plan graft_conv2d_plan;

/*
 * Validates `desc` and packs weight (C_out, C_in / groups, kernel_h, kernel_w), ONNX's OIHW
 * layout, and bias (C_out, or NULL for none). Neither is retained. Errors: GRAFT_EINVAL
 * (zero or negative sizes, groups not dividing the channels, bad strides/dilations/pads,
 * unknown act), GRAFT_ENOMEM, GRAFT_EUNSUPPORTED (GRAFT_ISA). *out written only on success.
 */
int graft_conv2d_plan_create(const graft_conv2d *desc, const float *weight, const float *bias,
                             graft_conv2d_plan **out);
void graft_conv2d_plan_destroy(graft_conv2d_plan *plan);
/* Output size for an H x W input; GRAFT_EINVAL when the (dilated) kernel does not fit. */
int graft_conv2d_output_size(const graft_conv2d *desc, int H, int W, int *OH, int *OW);
/*
 * y = act(conv(x) + bias). x and y must not overlap. Runs on the kernel thread pool with its
 * own scratch (no allocation per call once the pool's buffers have grown). Bit-identical for
 * any thread count. Errors: as output_size, GRAFT_EINVAL for N < 1 or NULL tensors, a plan
 * packed for another ISA, GRAFT_ENOMEM.
 */
int graft_conv2d_forward(const graft_conv2d_plan *plan, float *y, const float *x, int N, int H,
                         int W);
/* The algorithm the plan runs: "gemm-1x1", "im2col-gemm", "depthwise", "grouped-gemm". */
const char *graft_conv2d_plan_algorithm(const graft_conv2d_plan *plan);

#ifdef __cplusplus
}
#endif
#endif
