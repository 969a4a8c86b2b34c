/*
 * kernels/pack.c: copies blocks of GEMM operands into the layout the micro-kernels stream:
 * A in micro-panels of MR rows, B in micro-panels of NR columns, both k-major, so that the
 * inner loop reads consecutive addresses whatever the transposes and leading dimensions were.
 * Panels follow graft__panel_rows, so a short last panel may share rows with the one before.
 * Portable C, with an optional per-ISA packer for the common non-transposed A.
 */
#include <string.h>

#include "kernels.h"

void graft__pack_a(const graft__sgemm_kernel *kr, graft_trans trans_a, const float *A,
                   long lda, long i0, long p0, int mc, int kc, float *restrict dst) {
    const int MR = kr->MR;
    for (int p = 0, ip, mr; p * MR < mc; p++, dst += (size_t)kc * MR) {
        graft__panel_rows(mc, MR, p, &ip, &mr);
        if (trans_a == GRAFT_TRANS_NO && kr->pack_a) {
            kr->pack_a(A + (size_t)(i0 + ip) * lda + p0, (size_t)lda, mr, kc, dst);
            continue;
        } else if (trans_a == GRAFT_TRANS_NO) {
            /* Row by row: each source row is read sequentially, rows interleave in dst. */
            for (int i = 0; i < mr; i++) {
                const float *src = A + (size_t)(i0 + ip + i) * lda + p0;
                for (int k = 0; k < kc; k++) dst[(size_t)k * MR + i] = src[k];
            }
        } else {
            /* op(A) = A^T: the MR values of one k are adjacent in the source already. */
            for (int k = 0; k < kc; k++) {
                const float *src = A + (size_t)(p0 + k) * lda + i0 + ip;
                for (int i = 0; i < mr; i++) dst[(size_t)k * MR + i] = src[i];
            }
        }
        if (mr < MR)
            for (int k = 0; k < kc; k++)
                memset(dst + (size_t)k * MR + mr, 0, sizeof(float) * (MR - mr));
    }
}

/*
 * `group` full panels of width W from rows ld floats apart, visiting each source row once (see
 * graft__pack_b). The widths micro-kernels use get copies of constant size, which the compiler
 * turns into a few vector moves instead of a call to memcpy per row.
 */
static inline __attribute__((always_inline)) void copy_group_w(const int W, float *restrict dst,
                                                               const float *restrict src,
                                                               size_t ld, int kc, int group) {
    for (int k = 0; k < kc; k++) {
        /* Rows a page apart defeat the hardware prefetcher; ask eight rows ahead. */
        if (k + 8 < kc)
            for (int f = 0; f < group * W; f += 16) /* one 64-byte line each */
                __builtin_prefetch(src + (k + 8) * ld + f, 0, 3);
        for (int g = 0; g < group; g++)
            memcpy(dst + (size_t)g * kc * W + (size_t)k * W, src + k * ld + g * W,
                   W * sizeof(float));
    }
}

static void copy_group(float *restrict dst, const float *restrict src, size_t ld, int kc,
                       int group, int width) {
    switch (width) {
    case 8: copy_group_w(8, dst, src, ld, kc, group); return;
    case 12: copy_group_w(12, dst, src, ld, kc, group); return;
    case 16: copy_group_w(16, dst, src, ld, kc, group); return;
    case 32: copy_group_w(32, dst, src, ld, kc, group); return;
    }
    for (int k = 0; k < kc; k++)
        for (int g = 0; g < group; g++)
            memcpy(dst + (size_t)g * kc * width + (size_t)k * width, src + k * ld + g * width,
                   (size_t)width * sizeof(float));
}

void graft__pack_b(graft_trans trans_b, const float *B, long ldb, long p0, long j0, int kc,
                   int nc, int NR, float *restrict dst) {
    for (int jp = 0; jp < nc; jp += NR, dst += (size_t)kc * NR) {
        int nr = nc - jp < NR ? nc - jp : NR;
        if (trans_b == GRAFT_TRANS_NO && nr == NR) {
            /*
             * Up to eight full panels row by row: B's rows are often a page or more apart, and
             * visiting each row once per group instead of once per panel divides the TLB
             * misses by the group size.
             */
            int group = (nc - jp) / NR < 8 ? (nc - jp) / NR : 8;
            copy_group(dst, B + (size_t)p0 * ldb + j0 + jp, (size_t)ldb, kc, group, NR);
            dst += (size_t)(group - 1) * kc * NR;
            jp += (group - 1) * NR;
        } else if (trans_b == GRAFT_TRANS_NO) {
            for (int k = 0; k < kc; k++) {
                const float *src = B + (size_t)(p0 + k) * ldb + j0 + jp;
                float *d = dst + (size_t)k * NR;
                for (int j = 0; j < nr; j++) d[j] = src[j];
                for (int j = nr; j < NR; j++) d[j] = 0.0f;
            }
        } else {
            /* op(B) = B^T: column j of op(B) is row j of B, read sequentially. */
            for (int j = 0; j < nr; j++) {
                const float *src = B + (size_t)(j0 + jp + j) * ldb + p0;
                for (int k = 0; k < kc; k++) dst[(size_t)k * NR + j] = src[k];
            }
            if (nr < NR)
                for (int k = 0; k < kc; k++)
                    memset(dst + (size_t)k * NR + nr, 0, sizeof(float) * (NR - nr));
        }
    }
}
