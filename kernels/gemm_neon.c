/*
 * kernels/gemm_neon.c: the aarch64 Advanced SIMD SGEMM micro-kernel, an 8 x 12 register tile.
 *
 * The driver (gemm.c, pack.c) packs A into 8-row and B into 12-column k-major micro-panels and
 * calls graft_sgemm_ukr_8x12_neon once per tile of C; this file only multiplies one pair of
 * panels and applies the epilogue. It does no blocking, packing, threading or allocation.
 *
 * The tile is 24 float32x4 accumulators (8 rows x 3 vectors of 4 columns). Each k step loads
 * one row of B as 3 vectors and one column of A as 2 vectors, then issues 24 fmla by element,
 * so the 29 live vectors fit the 32 registers with none spilled. The epilogue follows
 * graft__epi_apply step by step, so a tile's result does not depend on where it sits in C.
 */
#include <arm_neon.h>
#include <assert.h>
#include <string.h>

#include "kernels.h"

#define MR 8
#define NR 12

/*
 * Makes the compiler treat v as unknown, which keeps alpha * acc rounded on its own: GCC spells
 * vmulq/vaddq as plain vector arithmetic, so under its default -ffp-contract=fast it may fuse
 * the product with a following bias add. graft__epi_apply rounds alpha * acc first, and the
 * contract allows a fused multiply-add only for beta * c.
 */
#define NO_CONTRACT(v) __asm__("" : "+w"(v))

/* What the epilogue needs, read once per call rather than once per row. */
typedef struct epi_state {
    float alpha, beta;
    const float *bias_row;   /* (m) or NULL */
    int has_bias_col;
    float32x4_t bias_col[3]; /* (NR): the caller's n values, zero beyond */
    graft_act act;
} epi_state;

static void epi_state_init(epi_state *s, const graft__ukr_epi *e, int n) {
    s->alpha = e->alpha;
    s->beta = e->beta;
    s->bias_row = e->bias_row;
    s->act = e->act;
    s->has_bias_col = e->bias_col != NULL;
    /* bias_col holds only n floats, so an edge tile copies them out before loading. */
    float pad[NR] = {0};
    if (s->has_bias_col) memcpy(pad, e->bias_col, (size_t)n * sizeof(float));
    s->bias_col[0] = vld1q_f32(pad);
    s->bias_col[1] = vld1q_f32(pad + 4);
    s->bias_col[2] = vld1q_f32(pad + 8);
}

/* The epilogue of one 4-column vector: x = act(alpha*acc + beta*c + bias_row + bias_col). */
static inline __attribute__((always_inline)) float32x4_t
epi_vec(const epi_state *s, float32x4_t acc, const float *c, float bias_row, int jb) {
    float32x4_t x = vmulq_n_f32(acc, s->alpha);
    NO_CONTRACT(x);
    if (s->beta != 0.0f) x = vfmaq_n_f32(x, vld1q_f32(c), s->beta);
    if (s->bias_row) x = vaddq_f32(x, vdupq_n_f32(bias_row));
    if (s->has_bias_col) x = vaddq_f32(x, s->bias_col[jb]);
    if (s->act != GRAFT_ACT_NONE) {
        /*
         * fmaxnm returns the number when the other operand is a quiet NaN, so a NaN becomes
         * 0 exactly as `x > 0 ? x : 0` does in the reference.
         */
        x = vmaxnmq_f32(x, vdupq_n_f32(0.0f));
        if (s->act == GRAFT_ACT_RELU6) x = vminnmq_f32(x, vdupq_n_f32(6.0f));
    }
    return x;
}

/*
 * Writes row i of the tile. A full row goes straight to C; an edge row goes through a stack
 * row so that the same vector code runs and only n columns of C are read or written.
 */
static inline __attribute__((always_inline)) void
epi_row(const epi_state *s, float *restrict crow, int i, int n, float32x4_t acc0,
        float32x4_t acc1, float32x4_t acc2) {
    float bias_row = s->bias_row ? s->bias_row[i] : 0.0f;
    if (n == NR) {
        float32x4_t x0 = epi_vec(s, acc0, crow, bias_row, 0);
        float32x4_t x1 = epi_vec(s, acc1, crow + 4, bias_row, 1);
        float32x4_t x2 = epi_vec(s, acc2, crow + 8, bias_row, 2);
        vst1q_f32(crow, x0);
        vst1q_f32(crow + 4, x1);
        vst1q_f32(crow + 8, x2);
        return;
    }
    float tmp[NR] = {0};
    if (s->beta != 0.0f) memcpy(tmp, crow, (size_t)n * sizeof(float));
    vst1q_f32(tmp, epi_vec(s, acc0, tmp, bias_row, 0));
    vst1q_f32(tmp + 4, epi_vec(s, acc1, tmp + 4, bias_row, 1));
    vst1q_f32(tmp + 8, epi_vec(s, acc2, tmp + 8, bias_row, 2));
    memcpy(crow, tmp, (size_t)n * sizeof(float));
}

/* One row of a rank-1 update: acc[i][0..11] += a[k][i] * b[k][0..11]. */
#define FMA_ROW_LANE(i, av, lane)                                 \
    do {                                                          \
        acc##i##0 = vfmaq_laneq_f32(acc##i##0, b0, av, lane);     \
        acc##i##1 = vfmaq_laneq_f32(acc##i##1, b1, av, lane);     \
        acc##i##2 = vfmaq_laneq_f32(acc##i##2, b2, av, lane);     \
    } while (0)
#define FMA_ROW_SCALAR(i, s)                                      \
    do {                                                          \
        acc##i##0 = vfmaq_n_f32(acc##i##0, b0, (s));              \
        acc##i##1 = vfmaq_n_f32(acc##i##1, b1, (s));              \
        acc##i##2 = vfmaq_n_f32(acc##i##2, b2, (s));              \
    } while (0)
#define ZERO_ROW(i) float32x4_t acc##i##0 = zero, acc##i##1 = zero, acc##i##2 = zero
#define STORE_ROW(i)                                                                        \
    do {                                                                                    \
        if (M > (i))                                                                        \
            epi_row(&s, c + (size_t)(i) * ldc, (i), n, acc##i##0, acc##i##1, acc##i##2);    \
    } while (0)

/*
 * The kernel for a compile-time row count M. Rows of A at or beyond M are never loaded (the
 * last panel of A may end right after row M - 1), and their accumulators are dead code. Rows
 * covered by a whole 4-float group of A are loaded as one vector and used by lane; the others
 * are loaded one float at a time.
 */
static inline __attribute__((always_inline)) void
sgemm_8x12_rows(const int M, size_t kc, const float *restrict a, const float *restrict b,
                size_t ldb, float *restrict c, size_t ldc, int n, const graft__ukr_epi *epi) {
    const float32x4_t zero = vdupq_n_f32(0.0f);
    ZERO_ROW(0); ZERO_ROW(1); ZERO_ROW(2); ZERO_ROW(3);
    ZERO_ROW(4); ZERO_ROW(5); ZERO_ROW(6); ZERO_ROW(7);

    for (size_t k = 0; k < kc; k++) {
        const float *ak = a + k * MR;
        const float *bk = b + k * ldb;
        float32x4_t b0 = vld1q_f32(bk);
        float32x4_t b1 = vld1q_f32(bk + 4);
        float32x4_t b2 = vld1q_f32(bk + 8);
        if (M >= 4) {
            float32x4_t a0 = vld1q_f32(ak);
            FMA_ROW_LANE(0, a0, 0);
            FMA_ROW_LANE(1, a0, 1);
            FMA_ROW_LANE(2, a0, 2);
            FMA_ROW_LANE(3, a0, 3);
        } else {
            FMA_ROW_SCALAR(0, ak[0]);
            if (M > 1) FMA_ROW_SCALAR(1, ak[1]);
            if (M > 2) FMA_ROW_SCALAR(2, ak[2]);
        }
        if (M == 8) {
            float32x4_t a1 = vld1q_f32(ak + 4);
            FMA_ROW_LANE(4, a1, 0);
            FMA_ROW_LANE(5, a1, 1);
            FMA_ROW_LANE(6, a1, 2);
            FMA_ROW_LANE(7, a1, 3);
        } else {
            if (M > 4) FMA_ROW_SCALAR(4, ak[4]);
            if (M > 5) FMA_ROW_SCALAR(5, ak[5]);
            if (M > 6) FMA_ROW_SCALAR(6, ak[6]);
        }
    }

    epi_state s;
    epi_state_init(&s, epi, n);
    STORE_ROW(0); STORE_ROW(1); STORE_ROW(2); STORE_ROW(3);
    STORE_ROW(4); STORE_ROW(5); STORE_ROW(6); STORE_ROW(7);
}

void graft_sgemm_ukr_8x12_neon(size_t kc, const float *restrict a, const float *restrict b,
                               size_t ldb, float *restrict c, size_t ldc, int m, int n,
                               const graft__ukr_epi *epi) {
    assert(m >= 1 && m <= MR);
    assert(n >= 1 && n <= NR);
    assert(epi != NULL);
    /* A constant M per case lets the compiler drop the loads and FMAs of rows past m. */
    switch (m) {
    case 8: sgemm_8x12_rows(8, kc, a, b, ldb, c, ldc, n, epi); break;
    case 7: sgemm_8x12_rows(7, kc, a, b, ldb, c, ldc, n, epi); break;
    case 6: sgemm_8x12_rows(6, kc, a, b, ldb, c, ldc, n, epi); break;
    case 5: sgemm_8x12_rows(5, kc, a, b, ldb, c, ldc, n, epi); break;
    case 4: sgemm_8x12_rows(4, kc, a, b, ldb, c, ldc, n, epi); break;
    case 3: sgemm_8x12_rows(3, kc, a, b, ldb, c, ldc, n, epi); break;
    case 2: sgemm_8x12_rows(2, kc, a, b, ldb, c, ldc, n, epi); break;
    default: sgemm_8x12_rows(1, kc, a, b, ldb, c, ldc, n, epi); break;
    }
}
