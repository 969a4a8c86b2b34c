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
 * dot products over B's rows. A C over 8 MB with beta == 0 and K <= 32 (a network's channel
 * expansion at batch 32) may be written around the caches: it is in memory, not in cache,
 * when the call returns.
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

/*
 * Converts a batch between ONNX's layout and graft's:
 *   graft_nchw_to_nhwc: dst (N, H, W, C) from src (N, C, H, W)
 *   graft_nhwc_to_nchw: dst (N, C, H, W) from src (N, H, W, C)
 * Per image this transposes a (C, H*W) matrix, tile by cache-sized tile on the kernel thread
 * pool; the values are copied exactly. Both buffers belong to the caller and are borrowed for
 * the call. dst must not overlap src: there is no in-place conversion. Any of N, C, H, W may be
 * 0 (nothing is written).
 * Errors: GRAFT_EINVAL (a negative size, a NULL buffer with a non-zero size, dst overlapping
 * src), GRAFT_ERANGE (more elements than a size_t can address), GRAFT_EUNSUPPORTED (GRAFT_ISA
 * names a variant this CPU lacks). dst is untouched on error.
 */
int graft_nchw_to_nhwc(float *dst, const float *src, int N, int C, int H, int W);
int graft_nhwc_to_nchw(float *dst, const float *src, int N, int C, int H, int W);

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
    GRAFT_UNARY_EXP,          /* exp(x), as ONNX Exp: subnormal below about -87.3, 0 below
                                 about -104, +inf above about 88.72; exp(-inf) = 0 */
    GRAFT_UNARY_LOG,          /* natural log(x), as ONNX Log: log(+-0) = -inf, log(+inf) = +inf,
                                 NaN for x < 0 (-inf included); subnormal x are not flushed */
    GRAFT_UNARY_ABS,          /* |x| */
    GRAFT_UNARY_SQRT,         /* sqrt(x), correctly rounded; NaN below 0 (-0 gives -0) */
    GRAFT_UNARY_SIGN,         /* 1 for x > 0, -1 for x < 0, 0 for +-0 */
    GRAFT_UNARY_COUNT
} graft_unary;

typedef struct graft_unary_op {
    graft_unary kind;
    float alpha, beta; /* CLIP: bounds; LEAKY_RELU: alpha; HARD_SIGMOID: slope and offset */
} graft_unary_op;

/*
 * y[i] = op(x[i]) for i < n. x (n), y (n) belong to the caller; y may equal x (in place) but
 * must not overlap it otherwise. n may be 0 (nothing is read or written).
 * Accuracy: the scalar variant uses libm; the SIMD variants use SLEEF's 1-ULP exp, log, tanh
 * and erf, and agree with it within a few ULP (the bounds are derived in
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

#include <stdint.h> /* int64_t: tensor dimensions, as ONNX stores them */

typedef enum graft_pool_kind {
    GRAFT_POOL_MAX = 0, /* maximum over the window's input elements; padding is ignored */
    GRAFT_POOL_AVG = 1  /* mean over the window (see count_include_pad) */
} graft_pool_kind;

/*
 * A 2-D pooling, with exactly the attributes of ONNX MaxPool / AveragePool (auto_pad is for
 * the caller to resolve into the four pads). Sizes are in input pixels.
 *   kind              GRAFT_POOL_MAX or GRAFT_POOL_AVG
 *   kernel_h/_w       window size, >= 1
 *   stride_h/_w       >= 1
 *   dilation_h/_w     >= 1; a window's taps are dilation pixels apart (1: contiguous)
 *   pad_*             >= 0; implicit pixels around the input, never read
 *   ceil_mode         0: output size rounded down, 1: rounded up, as below
 *   count_include_pad AVG only. 0: divide the sum by the number of input elements in the
 *                     window. 1: divide by the number of window taps inside the padded
 *                     extent (the padding counts as zeros, but a ceil_mode window hanging
 *                     past pad_bottom/pad_right is clipped to it), as ONNX and PyTorch do.
 * Output size along H (W alike):
 *   OH = floor_or_ceil((H + pad_top + pad_bottom - dilation_h * (kernel_h - 1) - 1)
 *                      / stride_h) + 1
 * and with ceil_mode the last window must start inside the input or the top padding, so OH
 * drops by one when (OH - 1) * stride_h >= H + pad_top (ONNX, PyTorch).
 */
typedef struct graft_pool2d {
    int kind;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    int pad_top, pad_left, pad_bottom, pad_right;
    int ceil_mode;
    int count_include_pad;
} graft_pool2d;

/*
 * The output size of pooling an H x W image with *p, also the check of *p for graft_pool2d_nhwc.
 * Errors: GRAFT_EINVAL with a message naming the attribute: an unknown kind, a kernel, stride
 * or dilation below 1, a negative pad, ceil_mode or count_include_pad other than 0 or 1, H or W
 * below 1, a (dilated) kernel larger than the padded input, or a geometry where some window
 * holds no input element at all (it lies wholly in the padding, or its dilated taps skip over
 * the input), which has no defined maximum or mean. GRAFT_ERANGE: H or W plus its pads above
 * 2^29. *OH and *OW are written only on success. Any thread.
 */
int graft_pool2d_output_size(const graft_pool2d *p, int H, int W, int *OH, int *OW);

/*
 * Pools a batch: y (N, OH, OW, C) from x (N, H, W, C), OH and OW from graft_pool2d_output_size.
 * MAX ignores padding. AVG sums the window's input elements in (kh, kw) order and multiplies by
 * the reciprocal of the divisor, so every ISA variant and thread count gives the same bits; for
 * inputs holding NaN which value MAX returns is unspecified. Buffers belong to the caller,
 * borrowed for the call; y must not overlap x. N may be 0.
 * Errors: those of graft_pool2d_output_size; GRAFT_EINVAL (NULL p, y or x, N < 0, C < 1, y
 * overlapping x); GRAFT_ERANGE (more elements than a size_t can address); GRAFT_EUNSUPPORTED
 * (GRAFT_ISA names a variant this CPU lacks). y is untouched on error.
 */
int graft_pool2d_nhwc(const graft_pool2d *p, float *y, const float *x, int N, int H, int W,
                      int C);

/*
 * Global pooling (ONNX GlobalMaxPool / GlobalAveragePool): y (N, C) from x (N, H, W, C); AVG
 * sums the H*W pixels in order and multiplies by 1 / (float)(H * W). y is the CNN code of a
 * tap, already the (N, C) matrix the learners take. y must not overlap x. N may be 0.
 * Errors: GRAFT_EINVAL (unknown kind, NULL buffer, N < 0, C, H or W < 1, overlap),
 * GRAFT_ERANGE, GRAFT_EUNSUPPORTED as above. y is untouched on error.
 */
int graft_global_pool_nhwc(int kind, float *y, const float *x, int N, int H, int W, int C);

/*
 * Batch normalisation at inference (ONNX BatchNormalization, training_mode 0), along the
 * channels of NHWC data:
 *   y[p][c] = (x[p][c] - mean[c]) * gamma[c] / sqrt(var[c] + eps) + beta[c]
 * computed as x * scale[c] + shift[c] with scale = gamma / sqrtf(var + eps) and
 * shift = beta - mean * scale (SIMD variants fuse that multiply-add, so they agree with the
 * scalar one to within an ulp or two of |x * scale| + |shift|, and each variant is
 * bit-identical for any thread count).
 *   y, x:                    (pixels, C), pixels = N * H * W; y may equal x (in place) but
 *                            must not overlap it otherwise
 *   gamma, beta, mean, var:  (C)
 * All borrowed for the call. pixels may be 0.
 * Errors: GRAFT_EINVAL (C < 1, NULL buffer, var[c] + eps not > 0 (or NaN) for some channel,
 * partial overlap), GRAFT_ERANGE, GRAFT_ENOMEM (scratch of the thread pool),
 * GRAFT_EUNSUPPORTED. y is untouched on error.
 */
int graft_batchnorm_nhwc(float *y, const float *x, size_t pixels, int C, const float *gamma,
                         const float *beta, const float *mean, const float *var, float eps);

/*
 * Folds an inference batch norm into the convolution or fully-connected layer before it, in
 * place, so that the layer alone computes batchnorm(layer(x)):
 *   scale = gamma[o] / sqrtf(var[o] + eps)
 *   weight[o][i] *= scale                  for i < weight_per_out
 *   bias[o] = (bias[o] - mean[o]) * scale + beta[o]
 *   weight: (C_out, weight_per_out), C_out outermost: an ONNX Conv's (C_out, C_in/groups, kH,
 *           kW) or Gemm's (C_out, C_in); a layout with C_out elsewhere must be folded by hand
 *   bias:   (C_out), required: a layer without bias passes a buffer of zeros and keeps it
 *   gamma, beta, mean, var: (C_out), borrowed
 * Not threaded (run once at model load). Errors: GRAFT_EINVAL (C_out or weight_per_out < 1,
 * NULL buffer, var[o] + eps not > 0 for some o); weight and bias are untouched on error.
 */
int graft_batchnorm_fold(float *weight, float *bias, int C_out, size_t weight_per_out,
                         const float *gamma, const float *beta, const float *mean,
                         const float *var, float eps);

typedef enum graft_binary_op {
    GRAFT_BINARY_ADD = 0, /* a + b */
    GRAFT_BINARY_SUB,     /* a - b */
    GRAFT_BINARY_MUL,     /* a * b */
    GRAFT_BINARY_DIV      /* a / b (IEEE: x / 0 is +-inf or NaN, not an error) */
} graft_binary_op;

#define GRAFT_MAX_RANK 8 /* the largest tensor rank the broadcasting and concat kernels take */

/*
 * The shape of a op b under numpy / ONNX multidirectional broadcasting: the shapes are aligned
 * on their last axes, the shorter one is padded with 1s in front, and on each axis the sizes
 * must be equal or one of them 1 (a 1 stretches to the other, so 1 against 0 gives 0).
 *   y_dims: (GRAFT_MAX_RANK) room for the result; *y_rank = max(a_rank, b_rank)
 *   a_dims, b_dims: (a_rank), (b_rank); may be NULL for rank 0 (a scalar)
 * Errors: GRAFT_EINVAL (a rank outside 0..GRAFT_MAX_RANK, a negative dimension, shapes that do
 * not broadcast: the message gives both shapes and the first axis where they clash).
 * Outputs are written only on success.
 */
int graft_binary_output_shape(int64_t *y_dims, int *y_rank, const int64_t *a_dims, int a_rank,
                              const int64_t *b_dims, int b_rank);

/*
 * y = a op b elementwise with multidirectional broadcasting (ONNX Add, Sub, Mul, Div):
 *   y: y_dims, which must be exactly graft_binary_output_shape(a_dims, b_dims)
 *   a: a_dims, b: b_dims, row-major and contiguous; ranks 0..GRAFT_MAX_RANK
 * Runs of equal shape, a scalar operand, and a per-channel operand ((C) against (..., C): a
 * bias) are vectorised, and any other pattern is reduced to such runs; each element is one
 * IEEE operation, so every variant and thread count gives the same bits. y may equal a (or b)
 * when that operand has y's shape (in place, e.g. a residual add), but must not overlap an
 * operand otherwise. Buffers belong to the caller, borrowed for the call.
 * Errors: GRAFT_EINVAL (unknown op, ranks or dims as above, non-broadcastable shapes or a y
 * shape other than their broadcast, with the offending dims in the message; NULL buffer for a
 * non-empty tensor; forbidden overlap), GRAFT_ERANGE (more elements than a size_t can
 * address), GRAFT_EUNSUPPORTED. y is untouched on error.
 */
int graft_binary_broadcast(int op, float *y, const int64_t *y_dims, int y_rank, const float *a,
                           const int64_t *a_dims, int a_rank, const float *b,
                           const int64_t *b_dims, int b_rank);

/*
 * Concatenates `count` tensors along `axis` (ONNX Concat):
 *   inputs[i]: dims[i], each an array of `rank` sizes; the sizes agree on every axis but `axis`
 *   y:         the common shape with size sum_i dims[i][axis] on `axis`, written whole
 * rank is 1..GRAFT_MAX_RANK; axis is in [-rank, rank), negative counting from the end. An input
 * with no elements may have a NULL pointer. Exact copies; y must not overlap any input. All
 * buffers are the caller's, borrowed for the call.
 * Errors: GRAFT_EINVAL (count < 1, rank or axis out of range, NULL inputs/dims arrays or
 * buffers, a negative size, shapes that disagree off the axis: the message names the input and
 * the axis), GRAFT_ERANGE (more elements than a size_t can address). y is untouched on error.
 */
int graft_concat(float *y, const float *const *inputs, const int64_t *const *dims, int count,
                 int rank, int axis);

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
/*
 * The same, for when memory matters more than speed: the plan holds about the layer's
 * parameters in bytes, never a Winograd transform of them (4x), unless GRAFT_CONV_ALGO=winograd
 * forces one. A model load uses it for the layers beyond its weight budget (model.h).
 */
int graft_conv2d_plan_create_lean(const graft_conv2d *desc, const float *weight,
                                  const float *bias, graft_conv2d_plan **out);
/*
 * Bytes of Winograd-transformed weights graft_conv2d_plan_create would make for *desc on the
 * current ISA (GRAFT_CONV_ALGO included); 0 when it would not use Winograd or desc is invalid.
 * Lets a caller that budgets memory choose plan_create_lean before packing anything.
 */
size_t graft_conv2d_winograd_bytes(const graft_conv2d *desc);
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
/*
 * The algorithm the plan runs: "gemm-1x1", "im2col-gemm", "winograd-f4x4", "depthwise",
 * "grouped-gemm", "direct" (groups 1 with at most 4 input channels, a first layer, or 1x1
 * stride-1 layers with C_out <= C_in < 1024). Winograd F(4x4, 3x3) is chosen for 3x3, stride-1, undilated, ungrouped
 * layers of 32 or more channels in and out; the environment's GRAFT_CONV_ALGO=im2col|winograd|
 * auto, read at plan creation, forces the choice for such layers (any other value is
 * GRAFT_EINVAL). Winograd's results differ from direct convolution by a few float roundings
 * more (the bound is in tests/kernels/check_winograd.c).
 */
const char *graft_conv2d_plan_algorithm(const graft_conv2d_plan *plan);
/* Bytes the plan holds (packed or transformed weights, bias): what a layer costs in memory. */
size_t graft_conv2d_plan_bytes(const graft_conv2d_plan *plan);

/* ======================================================================================== *
 * Backward passes (fine-tuning). Same layout (NHWC), dispatch and thread pool as forward.   *
 * Gradients are accumulated: every backward kernel ADDS into its gradient outputs (dx, dw,  *
 * db, dgamma, ...), so a value read by several layers sums their contributions; the caller  *
 * zeroes them before a step. Gradient outputs never alias the inputs of the same call.     *
 * Each variant is bit-identical for any thread count (reductions over the batch are split  *
 * by output element, never by image).                                                      *
 * ======================================================================================== */

/* ---- convolution backward ---- (section owned by the convolution gradient kernels) */

/*
 * Floats of scratch the two convolution backward kernels need for N images of H x W with
 * *desc: one im2col chunk of output pixels (at most about 2^18 floats, at least 64 pixels'
 * worth); 0 for 1x1 stride-1 unpadded layers and depthwise layers (groups == C_in), which run
 * without one, and 0 for an invalid layer (the kernels then report the error). The caller owns
 * the workspace; one may serve both kernels and every layer it is large enough for, but not
 * two calls at once. Any thread.
 */
size_t graft_conv2d_backward_workspace(const graft_conv2d *desc, int N, int H, int W);

/*
 * Gradient with respect to the input of y = conv(x) (desc->act is ignored: the caller applies
 * the activation's backward to dy first):
 *   dx (N, H, W, C_in) += conv_transpose(dy (N, OH, OW, C_out), weight)
 *   weight: (C_out, C_in / groups, kernel_h, kernel_w), ONNX OIHW, as given to plan_create
 *   ws: graft_conv2d_backward_workspace() floats, or NULL when that is 0
 * 1x1 stride-1 layers are one GEMM (dy by weight) per group on the caller's buffers, general
 * ones a GEMM into columns and a col2im scatter-add, depthwise ones a direct kernel (SIMD for
 * depth multiplier 1). dx must not overlap dy, weight or ws. Bit-identical for any thread count.
 * Errors: as graft_conv2d_output_size, GRAFT_EINVAL (NULL desc or buffers, ws NULL when the
 * workspace is not 0, N < 1), GRAFT_ERANGE (tensors too large), GRAFT_EUNSUPPORTED (GRAFT_ISA);
 * dx is untouched on those. GRAFT_ENOMEM (GEMM packing or pool scratch) may come after part of
 * the gradient was added.
 */
int graft_conv2d_backward_data(const graft_conv2d *desc, float *dx, const float *dy,
                               const float *weight, int N, int H, int W, float *ws);

/*
 * Gradients with respect to the weights and bias of y = conv(x):
 *   dweight (C_out, C_in / groups, kernel_h, kernel_w) += sum over the batch of dy (x) x
 *   dbias   (C_out) += sum of dy over N, OH, OW; NULL: not wanted
 *   x (N, H, W, C_in), dy (N, OH, OW, C_out)
 * Each weight and bias element sums its terms over the images and output pixels in a fixed
 * order whatever the thread count (bit-identical). The outputs must not overlap the inputs or
 * ws. Errors as graft_conv2d_backward_data (NULL dweight, x or dy); outputs untouched on error
 * except as said there for GRAFT_ENOMEM.
 */
int graft_conv2d_backward_weights(const graft_conv2d *desc, float *dweight, float *dbias,
                                  const float *x, const float *dy, int N, int H, int W,
                                  float *ws);

/* ---- elementwise, pooling, batch norm backward ---- (section owned by the other gradient
 *      kernels) */

/*
 * dx[i] += dy[i] * f'(x[i]) for the activation op (graft_unary_apply's kinds RELU, CLIP,
 * LEAKY_RELU, SIGMOID, TANH, HARD_SIGMOID, HARD_SWISH, SILU, GELU, GELU_TANH; EXP, LOG, ABS,
 * SQRT, SIGN too), for i < n. As PyTorch's autograd, SIGMOID (y (1 - y)), TANH (1 - y^2), EXP
 * (y) and SQRT (1 / 2y) differentiate through the output y = f(x): pass graft_unary_apply's y
 * (n) to save recomputing it, or NULL to have it recomputed with the same variant, which gives
 * the same bits; the other kinds never read y. At the kinks the derivative is PyTorch's: RELU 0
 * at x <= 0; CLIP 1 strictly inside (alpha, beta) and 0 at and outside the bounds
 * (torch.nn.ReLU6 / Hardtanh, what MobileNets use); LEAKY_RELU alpha at x <= 0; HARD_SIGMOID
 * alpha where alpha x + beta is strictly inside (0, 1), else 0; HARD_SWISH 0 for x < -3,
 * x / 3 + 1/2 on [-3, 3], 1 above (torch's hardswish_backward); ABS 0 at 0; SIGN 0 everywhere
 * (dx is not touched). Infinite x give the limits (SILU, GELU, GELU_TANH: 0 at -inf, dy at
 * +inf). Buffers belong to the caller; dx must not overlap dy, x or y. Accuracy and threading
 * as graft_unary_apply: the scalar variant uses libm, the SIMD ones SLEEF and agree within a
 * few ulp (RELU, CLIP, ABS exactly); each is bit-identical for any thread count.
 * Errors: GRAFT_EINVAL (op NULL or invalid as for graft_unary_apply, dx, dy or x NULL with
 * n > 0, dx overlapping an input), GRAFT_ERANGE, GRAFT_EUNSUPPORTED. dx untouched on error.
 */
int graft_unary_backward(const graft_unary_op *op, float *dx, const float *dy, const float *x,
                         const float *y, size_t n);

/*
 * Pooling backward: dx (N, H, W, C) += the gradient of graft_pool2d_nhwc's y with respect to
 * x, given dy (N, OH, OW, C) and the forward input x. MAX routes each output's gradient to the
 * first input element (in (kh, kw) order) holding the window's maximum, as PyTorch's CPU kernel
 * does (a NaN counts as a new maximum); AVG adds dy times the forward's 1 / divisor to each tap
 * inside the image, so padding receives nothing. x is read by MAX only (AVG: may be NULL).
 * Buffers belong to the caller; dx must not overlap dy or x. Split by image and channel block
 * on the kernel pool, each dx element summed in output order: bit-identical for any thread
 * count. Errors as graft_pool2d_nhwc (the geometry's, N < 0, C < 1, NULL, overlap), dx
 * untouched on error.
 */
int graft_pool2d_backward_nhwc(const graft_pool2d *p, float *dx, const float *dy, const float *x,
                               int N, int H, int W, int C);
/*
 * Global pooling backward: dx (N, H, W, C) += from dy (N, C): AVG adds dy * (1 / (float)(H W))
 * to every pixel, MAX adds dy to the first pixel holding the maximum. x (N, H, W, C) is read
 * for MAX only (AVG: may be NULL). Errors as graft_global_pool_nhwc; dx untouched on error.
 */
int graft_global_pool_backward_nhwc(int kind, float *dx, const float *dy, const float *x, int N,
                                    int H, int W, int C);

/*
 * Batch norm over the channels of x (pixels, C) in training mode: the statistics of this batch,
 *   mean[c] = sum_p x[p][c] / pixels,  var[c] = sum_p (x[p][c] - mean[c])^2 / pixels (biased,
 *   the one normalising; PyTorch updates running_var with the unbiased one),
 *   y = (x - mean) * gamma / sqrt(var + eps) + beta.
 * Writes y (pixels, C), mean (C), var (C); reads x (pixels, C), gamma, beta (C). y may equal x
 * (in place); no other overlap. Statistics are summed in double, one channel block per task:
 * bit-identical for any thread count. Errors: GRAFT_EINVAL (pixels < 1, C < 1, NULL, eps not
 * positive and finite, overlap), GRAFT_ERANGE. Outputs untouched on error.
 */
int graft_batchnorm_train_nhwc(float *y, float *mean, float *var, const float *x, size_t pixels,
                               int C, const float *gamma, const float *beta, float eps);

/*
 * Batch norm backward along the channels of (pixels, C):
 *   training == 0 (frozen statistics, the fine-tuning default): mean and var are the running
 *     ones; dx += dy * gamma / sqrt(var + eps).
 *   training == 1: mean and var are graft_batchnorm_train_nhwc's batch statistics and dx gets
 *     the full gradient through them.
 *   dgamma (C) += sum_p dy * (x - mean) / sqrt(var + eps); dbeta (C) += sum_p dy.
 * dy, x, dx: (pixels, C); gamma, mean, var, dgamma, dbeta: (C). dx, dgamma or dbeta may be NULL
 * (not wanted); gradient outputs must not overlap dy or x. Sums in double, split by channel
 * blocks: bit-identical for any thread count. Errors: GRAFT_EINVAL (pixels or C < 1, training
 * not 0 or 1, NULL input, var[c] + eps not positive and finite: the message names c, overlap),
 * GRAFT_ERANGE. Outputs untouched on error.
 */
int graft_batchnorm_backward_nhwc(float *dx, float *dgamma, float *dbeta, const float *dy,
                                  const float *x, size_t pixels, int C, const float *gamma,
                                  const float *mean, const float *var, float eps, int training);

/*
 * LRN backward: dx (pixels, C) += the gradient of graft_lrn_nhwc's y with respect to x, given
 * dy (pixels, C) and the forward input x (pixels, C), with the forward's size, alpha, beta and
 * bias. With s[c] = bias + alpha / size * sum_{c' in window(c)} x[c']^2 as in the forward,
 *   dx[c] += dy[c] s[c]^-beta
 *            - 2 alpha beta / size * x[c] * sum_{c''} dy[c''] x[c''] s[c'']^(-beta - 1),
 * c'' running over the channels whose window holds c: [c - ceil((size - 1) / 2),
 * c + floor((size - 1) / 2)] clipped to [0, C), the forward's window mirrored. This is the
 * derivative of ONNX's LRN; torch.nn.LocalResponseNorm puts size / 2 channels before c, so for
 * even sizes it is ONNX's LRN with the channel order reversed, not the same function.
 * s and s^beta are recomputed from x exactly as the same variant's forward computes them (y is
 * not needed). Where s is not positive the result is whatever pow gives (NaN, inf), as in the
 * forward. Buffers belong to the caller; dx must not overlap dy or x. pixels or C may be 0
 * (nothing is read or written). Accuracy: the scalar variant uses libm's powf, the SIMD ones
 * SLEEF's 1-ULP pow; they agree within a few ULP of the terms' magnitudes. Pixels are split
 * among the kernel pool's threads: bit-identical for any thread count.
 * Errors: GRAFT_EINVAL (size <= 0, alpha, beta or bias not finite, dx, dy or x NULL with
 * pixels * C > 0, dx overlapping dy or x), GRAFT_ERANGE (pixels * C floats cannot be
 * addressed), GRAFT_ENOMEM (the pool's per-thread scratch, at most 3 C + 2 size + 48 floats,
 * cannot grow), GRAFT_EUNSUPPORTED (GRAFT_ISA names a variant this CPU lacks). dx untouched on
 * error.
 */
int graft_lrn_backward_nhwc(float *dx, const float *dy, const float *x, size_t pixels, size_t C,
                            int size, float alpha, float beta, float bias);

/*
 * Losses over logits (N, K) and labels (N) in [0, K), averaged over the N rows (PyTorch's
 * reduction='mean'). *loss gets the mean loss; dlogits (N, K), when not NULL, gets (is
 * overwritten with) the gradient of that mean with respect to the logits.
 *   graft_softmax_xent: cross-entropy of softmax(logits) against the one-hot label smoothed
 *     as torch.nn.CrossEntropyLoss(label_smoothing=s): target (1 - s) one-hot + s / K.
 *   graft_multimargin: torch.nn.MultiMarginLoss(p=1, margin=1):
 *     sum_{j != y} max(0, 1 - x[y] + x[j]) / K.
 * The gradient of graft_multimargin at a kink (a margin exactly 0) is 0, as in PyTorch.
 * Computed in double on the calling thread (not threaded: a batch of logits is small);
 * logits must be finite. loss, logits and labels must not be NULL; dlogits may be.
 * Errors: GRAFT_EINVAL (N < 1, K < 1, a label out of range: the message names the row, s
 * outside [0, 1) or NaN, NULL). Outputs untouched on error.
 */
int graft_softmax_xent(float *loss, float *dlogits, const float *logits, const int *labels,
                       int N, int K, float label_smoothing);
int graft_multimargin(float *loss, float *dlogits, const float *logits, const int *labels, int N,
                      int K);

#ifdef __cplusplus
}
#endif
#endif
