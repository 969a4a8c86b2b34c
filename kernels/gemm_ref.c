/*
 * kernels/gemm_ref.c: the portable scalar SGEMM micro-kernel. It is the specification the SIMD
 * variants are tested against, and the fallback on CPUs without them, so it stays plain: one
 * accumulator per element, multiply-adds in increasing k, then the shared scalar epilogue.
 */
#include <assert.h>

#include "kernels.h"

void graft_sgemm_ukr_ref(size_t kc, const float *restrict a, const float *restrict b,
                         float *restrict c, size_t ldc, int m, int n, const graft__ukr_epi *epi) {
    enum { MR = GRAFT__REF_MR, NR = GRAFT__REF_NR };
    assert(m >= 1 && m <= MR && n >= 1 && n <= NR);
    float acc[MR][NR] = {{0}};
    for (size_t k = 0; k < kc; k++)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += a[k * MR + i] * b[k * NR + j];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c + (size_t)i * ldc + j;
            *cij = graft__epi_apply(epi, acc[i][j], cij, i, j);
        }
}
