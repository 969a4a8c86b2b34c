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

#ifdef __cplusplus
}
#endif
#endif
