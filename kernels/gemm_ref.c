/*
 * kernels/gemm_ref.c: the portable scalar SGEMM micro-kernel. It is the specification the SIMD
 * variants are tested against, and the fallback on CPUs without them, so it stays plain: one
 * accumulator per element, multiply-adds in increasing k, then the shared scalar epilogue.
 */
#include <assert.h>

#include "kernels.h"

void graft_sgemm_ukr_ref(size_t kc, const float *restrict a, const float *restrict b,
                         size_t ldb, float *restrict c, size_t ldc, int m, int n,
                         const graft__ukr_epi *epi) {
    enum { MR = GRAFT__REF_MR, NR = GRAFT__REF_NR };
    assert(m >= 1 && m <= MR && n >= 1 && n <= NR);
    float acc[MR][NR] = {{0}};
    for (size_t k = 0; k < kc; k++)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += a[k * MR + i] * b[k * ldb + j];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c + (size_t)i * ldc + j;
            *cij = graft__epi_apply(epi, acc[i][j], cij, i, j);
        }
}

/* y[r] = sum_k x[r * ldx + k] * v[k] for r < rows: one accumulator per row, increasing k. */
void graft_sgemv_dot_ref(const float *restrict x, size_t ldx, int rows, int K,
                         const float *restrict v, float *restrict y) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float acc = 0.0f;
        for (int k = 0; k < K; k++) acc += xr[k] * v[k];
        y[r] = acc;
    }
}

/* y[j] += sum_k v[k] * x[k * ldx + j] for j < cols, accumulating in increasing k. */
void graft_sgemv_axpy_ref(const float *restrict x, size_t ldx, int K, int cols,
                          const float *restrict v, float *restrict y) {
    for (int k = 0; k < K; k++) {
        const float *xk = x + (size_t)k * ldx;
        for (int j = 0; j < cols; j++) y[j] += v[k] * xk[j];
    }
}
