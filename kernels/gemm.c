/*
 * kernels/gemm.c: the portable SGEMM driver. It validates the call, splits C among the kernel
 * pool's threads, and runs the BLIS loop nest around the current ISA's micro-kernel:
 *
 *   for ic in M step MC        pack an MC x KC block of op(A)          (lives in L3)
 *     for pc in K step KC
 *       for jc in N step NC    pack a KC x NC block of op(B)           (lives in L2)
 *         for jr in MC step MR     an MR x KC micro-panel of A         (lives in L1)
 *           for ir in NC step NR   micro-kernel on one MR x NR tile of C
 *
 * The roles are BLIS's transposed, because our C is row-major and the micro-kernels load B's
 * rows as vectors and broadcast A's elements. Pre-packed B (weights) skips the B packing.
 *
 * Threads own disjoint rectangles of C and run the whole nest on it with their own packing
 * buffers, so no barrier is needed, and the K blocking is the same for every rectangle: each
 * element of C sees the same sequence of operations for any thread count (bit-identical).
 * What this file does not do: any arithmetic of its own beyond the K == 0 case.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels.h"

struct graft_packed_b {
    graft_isa isa; /* the variant whose MR/NR/KC shaped the layout */
    long K, N;
    int kcb;       /* depth of every K block but the last */
    long panels;   /* ceil(N / NR) */
    size_t bytes;
    float *data;   /* block at pc: data + pc * panels * NR; panel j of it: + j * kc * NR */
};

typedef struct gemm_job {
    const graft__sgemm_kernel *kr;
    graft_trans ta, tb;
    long M, N, K;
    float alpha, beta;
    const float *A;
    long lda;
    const float *B;
    long ldb;
    const graft_packed_b *pb;
    float *C;
    long ldc;
    graft_epilogue epi;
    int kcb;          /* K block depth, a function of K and the variant only */
    int tm, tn;       /* thread grid over C */
    long mpan, npan;  /* C's rows in MR panels, columns in NR panels */
    size_t a_floats;  /* per-thread packing space for A, then for B */
    float *scratch;   /* serial runs: the caller's scratch instead of the pool's */
    int stream;       /* C is written around the caches (graft__ukr_epi) */
} gemm_job;

static long ceil_div(long a, long b) { return (a + b - 1) / b; }
static long min_l(long a, long b) { return a < b ? a : b; }

/* Equal blocks of at most KC, so that K = KC + 1 does not cost a nearly empty second pass. */
static int k_block(const graft__sgemm_kernel *kr, long K) {
    long nb = ceil_div(K, kr->KC);
    return (int)ceil_div(K, nb ? nb : 1);
}

/*
 * A block of op(B), kc x nc, as the micro-kernels read it: packed NR-wide panels, or (direct)
 * B's own rows for every full panel with only a ragged last panel packed, which saves a pass
 * over B when few micro-panels of A will reuse it.
 */
typedef struct b_view {
    const float *packed; /* panels of kc * NR floats, or NULL when direct */
    const float *direct; /* &op(B)[pc][jc] inside B, rows ldb floats apart */
    size_t ldb;
    const float *edge;   /* direct: the packed last panel when nc % NR != 0 */
} b_view;

static b_view b_block(const gemm_job *J, long pc, int kc, long jc, int nc, int direct,
                      float *bbuf) {
    const int NR = J->kr->NR;
    b_view v = {NULL, NULL, (size_t)NR, NULL};
    if (J->pb) {
        v.packed = J->pb->data + (size_t)pc * J->pb->panels * NR + (size_t)(jc / NR) * kc * NR;
    } else if (direct) {
        v.direct = J->B + (size_t)pc * J->ldb + jc;
        v.ldb = (size_t)J->ldb;
        int full = nc / NR * NR;
        if (full < nc) {
            graft__pack_b(J->tb, J->B, J->ldb, pc, jc + full, kc, nc - full, NR, bbuf);
            v.edge = bbuf;
        }
    } else {
        graft__pack_b(J->tb, J->B, J->ldb, pc, jc, kc, nc, NR, bbuf);
        v.packed = bbuf;
    }
    return v;
}

/* Micro-panel ir (a column offset) of a view, and its row stride. */
static const float *b_panel(const b_view *bv, int ir, int kc, int nr, int NR, size_t *ldb) {
    if (bv->packed) {
        *ldb = (size_t)NR;
        return bv->packed + (size_t)ir * kc;
    }
    *ldb = nr == NR ? bv->ldb : (size_t)NR;
    return nr == NR ? bv->direct + ir : bv->edge;
}

/* Where a tile's epilogue starts and which bias entries it sees. */
static float *tile_c(const gemm_job *J, graft__ukr_epi *e, int last, long i, long j) {
    if (last && J->epi.bias_row) e->bias_row = J->epi.bias_row + i;
    if (last && J->epi.bias_col) e->bias_col = J->epi.bias_col + j;
    return J->C + (size_t)i * J->ldc + j;
}

/*
 * The inner loops with the A micro-panel outermost (it stays in L1, B's streams from L2).
 * lazy_a: abuf receives each A micro-panel just before it is used, because this block of A
 * meets a single block of B and a packed block would only make a round trip through L3.
 */
static void macro_a_outer(const gemm_job *J, float *abuf, int lazy_a, long ic, int mc,
                          const b_view *bv, long jc, int nc, long pc, int kc, int last,
                          graft__ukr_epi *e) {
    const graft__sgemm_kernel *kr = J->kr;
    const int MR = kr->MR, NR = kr->NR;
    for (int p = 0, jr, mr; p * MR < mc; p++) {
        graft__panel_rows(mc, MR, p, &jr, &mr);
        const float *ap = abuf + (size_t)p * MR * kc;
        if (lazy_a) {
            graft__pack_a(kr, J->ta, J->A, J->lda, ic + jr, pc, mr, kc, abuf);
            ap = abuf;
        }
        for (int ir = 0; ir < nc; ir += NR) {
            int nr = nc - ir < NR ? nc - ir : NR;
            size_t ldb;
            const float *b = b_panel(bv, ir, kc, nr, NR, &ldb);
            float *c = tile_c(J, e, last, ic + jr, jc + ir);
            kr->ukr((size_t)kc, ap, b, ldb, c, (size_t)J->ldc, mr, nr, e);
        }
    }
}

/*
 * The inner loops with the B micro-panel outermost (BLIS's order: it stays in L1, A's stream
 * from L2). bpanel: pack B micro-panels there just before use, a few at a time (one block of
 * A rows will use them, and B's stride would alias in L1 if read in place); NULL: read them
 * from bv.
 */
#define LAZY_B_PANELS 4

static void macro_b_outer(const gemm_job *J, const float *abuf, long ic, int mc,
                          const b_view *bv, float *bpanel, long jc, int nc, long pc, int kc,
                          int last, graft__ukr_epi *e) {
    const graft__sgemm_kernel *kr = J->kr;
    const int MR = kr->MR, NR = kr->NR;
    for (int ir = 0; ir < nc; ir += NR) {
        int nr = nc - ir < NR ? nc - ir : NR;
        size_t ldb = (size_t)NR;
        const float *b;
        if (bpanel) {
            /* Four panels at a time, so that each of B's rows is visited once per four. */
            int g = ir / NR % LAZY_B_PANELS;
            if (g == 0) {
                int cols = nc - ir < LAZY_B_PANELS * NR ? nc - ir : LAZY_B_PANELS * NR;
                graft__pack_b(J->tb, J->B, J->ldb, pc, jc + ir, kc, cols, NR, bpanel);
            }
            b = bpanel + (size_t)g * kc * NR;
        } else
            b = b_panel(bv, ir, kc, nr, NR, &ldb);
        for (int p = 0, jr, mr; p * MR < mc; p++) {
            graft__panel_rows(mc, MR, p, &jr, &mr);
            float *c = tile_c(J, e, last, ic + jr, jc + ir);
            kr->ukr((size_t)kc, abuf + (size_t)p * MR * kc, b, ldb, c, (size_t)J->ldc, mr, nr, e);
        }
    }
}

/*
 * The epilogue of the K block at pc: beta only on the first (C then holds the partial sums),
 * the activation only on the last; tile_c fills in the biases.
 */
static graft__ukr_epi block_epi(const gemm_job *J, long pc, int last) {
    graft__ukr_epi e = {J->alpha, pc == 0 ? J->beta : 1.0f, NULL, NULL,
                        last ? J->epi.act : GRAFT_ACT_NONE, last && J->stream};
    return e;
}

/*
 * One thread's rectangle of C, through the loop nest of the variant's order (kernels.h).
 * Each operand is packed where its reuse pays for it, read in place or packed one micro-panel
 * at a time where it does not; none of this changes any element's arithmetic.
 */
static void gemm_rect(void *vjob, int task, int thread) {
    const gemm_job *J = vjob;
    const graft__sgemm_kernel *kr = J->kr;
    const int MR = kr->MR, NR = kr->NR;
    long ti = task / J->tn, tj = task % J->tn;
    long m0 = min_l(J->M, ti * J->mpan / J->tm * MR);
    long m1 = min_l(J->M, (ti + 1) * J->mpan / J->tm * MR);
    long n0 = min_l(J->N, tj * J->npan / J->tn * NR);
    long n1 = min_l(J->N, (tj + 1) * J->npan / J->tn * NR);
    if (m0 >= m1 || n0 >= n1) return;

    float *abuf = J->scratch ? J->scratch : graft__pool_scratch(thread);
    float *bbuf = abuf + J->a_floats;
    long mcb = ceil_div(ceil_div(m1 - m0, ceil_div(m1 - m0, kr->MC)), MR) * MR;
    long ncb = ceil_div(ceil_div(n1 - n0, ceil_div(n1 - n0, kr->NC)), NR) * NR;
    int b_plain = !J->pb && J->tb == GRAFT_TRANS_NO;

    if (!kr->b_in_l1) {
        /* B in place for up to 512 rows of A; beyond, its packing pass is amortised. */
        int direct = b_plain && m1 - m0 <= 512, lazy_a = n1 - n0 <= ncb;
        for (long ic = m0; ic < m1; ic += mcb) {
            int mc = (int)min_l(mcb, m1 - ic);
            for (long pc = 0; pc < J->K; pc += J->kcb) {
                int kc = (int)min_l(J->kcb, J->K - pc), last = pc + kc >= J->K;
                if (!lazy_a) graft__pack_a(kr, J->ta, J->A, J->lda, ic, pc, mc, kc, abuf);
                graft__ukr_epi e = block_epi(J, pc, last);
                for (long jc = n0; jc < n1; jc += ncb) {
                    int nc = (int)min_l(ncb, n1 - jc);
                    b_view bv = b_block(J, pc, kc, jc, nc, direct, bbuf);
                    macro_a_outer(J, abuf, lazy_a, ic, mc, &bv, jc, nc, pc, kc, last, &e);
                }
            }
        }
        return;
    }
    /*
     * One block of A rows: B is used once per K block, so it is read in place, or packed a
     * micro-panel at a time when its row stride (a multiple of 512 bytes) would pile the
     * panel's rows into a few L1 sets.
     */
    int single = m1 - m0 <= mcb;
    int direct = b_plain && single && (size_t)J->ldb * sizeof(float) % 512 != 0;
    int lazy_b = !J->pb && single && !direct;
    for (long jc = n0; jc < n1; jc += ncb) {
        int nc = (int)min_l(ncb, n1 - jc);
        for (long pc = 0; pc < J->K; pc += J->kcb) {
            int kc = (int)min_l(J->kcb, J->K - pc), last = pc + kc >= J->K;
            b_view bv = {NULL, NULL, 0, NULL};
            if (!lazy_b) bv = b_block(J, pc, kc, jc, nc, direct, bbuf);
            graft__ukr_epi e = block_epi(J, pc, last);
            for (long ic = m0; ic < m1; ic += mcb) {
                int mc = (int)min_l(mcb, m1 - ic);
                graft__pack_a(kr, J->ta, J->A, J->lda, ic, pc, mc, kc, abuf);
                macro_b_outer(J, abuf, ic, mc, &bv, lazy_b ? bbuf : NULL, jc, nc, pc, kc, last,
                              &e);
            }
        }
    }
}

static void gemm_task(void *vjob, int task, int thread) {
    gemm_rect(vjob, task, thread);
    if (((const gemm_job *)vjob)->stream) graft__stream_fence();
}

/*
 * Chooses the thread grid tm x tn over C. Per thread it weighs the multiply-adds of its
 * rectangle against the elements it must pack (A rows once, B columns once per MC block),
 * a packed element costing about as much as 32 flops here; tiny products stay on one thread.
 * Pre-packed B (weights) is not packed but still read, from memory in a network, where the
 * layer before has evicted it: 16 flops an element. Without that term, ResNet-50's 1x1 layers
 * on 7x7 maps at batch 1 (49 rows, 2-4 MB of weights) split their rows and both threads read
 * all the weights (0.52 -> 0.42 ms each with columns split, two threads).
 */
static void choose_grid(gemm_job *J, int threads) {
    const graft__sgemm_kernel *kr = J->kr;
    J->tm = J->tn = 1;
    if ((double)J->M * J->N * J->K < 262144.0) return;
    double best = -1;
    for (int tm = 1; tm <= threads; tm++) {
        if (threads % tm) continue;
        int tn = threads / tm;
        if ((tm > 1 && tm > J->mpan) || (tn > 1 && tn > J->npan)) continue;
        double rows = (double)ceil_div(J->mpan, tm) * kr->MR;
        double cols = (double)ceil_div(J->npan, tn) * kr->NR;
        double packs = rows * J->K;
        if (!J->pb) packs += cols * J->K * (double)ceil_div((long)rows, kr->MC);
        double cost = 2.0 * rows * cols * J->K + 32.0 * packs;
        if (J->pb) cost += 16.0 * cols * J->K;
        if (best < 0 || cost < best) {
            best = cost;
            J->tm = tm;
            J->tn = tn;
        }
    }
}

/* K == 0 or alpha == 0: no product, only beta * C and the epilogue (BLAS semantics). */
static void scale_only(const gemm_job *J) {
    graft__ukr_epi e = {0.0f, J->beta, J->epi.bias_row, J->epi.bias_col, J->epi.act, 0};
    for (long i = 0; i < J->M; i++) {
        float *c = J->C + (size_t)i * J->ldc;
        for (long j = 0; j < J->N; j++) c[j] = graft__epi_apply(&e, 0.0f, &c[j], (int)i, (int)j);
    }
}

/*
 * M == 1 or N == 1: a matrix-vector product. It reads its matrix once, so packing would only
 * add a second pass over memory; the vector is gathered into contiguous scratch (v), the
 * products land in y, and the epilogue is applied on the way into C.
 */
typedef struct gemv_job {
    const gemm_job *J;
    const float *x; /* the matrix operand as stored */
    size_t ldx;
    int dot;        /* dot products over x's rows, else axpy along x's rows */
    long len;       /* outputs: rows of x (dot) or columns (axpy) */
    const float *v; /* (K) */
    float *y;       /* (len) */
    int tasks;
} gemv_job;

static void gemv_task(void *vjob, int task, int thread) {
    const gemv_job *G = vjob;
    const gemm_job *J = G->J;
    const graft__sgemm_kernel *kr = J->kr;
    /* Split outputs in whole packed panels, or else in multiples of 128 (whole vectors). */
    long unit = J->pb && J->M == 1 ? kr->NR : 128, chunks = ceil_div(G->len, unit);
    long o0 = min_l(G->len, task * chunks / G->tasks * unit);
    long o1 = min_l(G->len, (task + 1) * chunks / G->tasks * unit);
    if (o0 >= o1) return;
    if (G->dot) {
        kr->gemv_dot(G->x + o0 * G->ldx, G->ldx, (int)(o1 - o0), (int)J->K, G->v, G->y + o0);
    } else if (J->pb && J->M == 1) {
        /* Packed B: walk its NR-wide panels, block by block of K in increasing order. */
        const int NR = kr->NR;
        for (long jp = o0 / NR; jp < ceil_div(o1, NR); jp++) {
            int cols = (int)min_l(NR, J->N - jp * NR);
            for (long pc = 0; pc < J->K; pc += J->pb->kcb) {
                int kc = (int)min_l(J->pb->kcb, J->K - pc);
                const float *panel = J->pb->data + (size_t)pc * J->pb->panels * NR +
                                     (size_t)jp * kc * NR;
                kr->gemv_axpy(panel, (size_t)NR, kc, cols, G->v + pc, G->y + jp * NR);
            }
        }
    } else {
        kr->gemv_axpy(G->x + o0, G->ldx, (int)J->K, (int)(o1 - o0), G->v, G->y + o0);
    }
}

/* Outputs of the matrix-vector path: whole packed panels when B is packed. */
static long gemv_len(const gemm_job *J) {
    if (J->pb && J->M == 1 && J->N > 1) return ceil_div(J->N, J->kr->NR) * J->kr->NR;
    return J->N == 1 ? J->M : J->N;
}

static size_t gemv_floats(const gemm_job *J) {
    return (((size_t)J->K + 15) & ~(size_t)15) + (size_t)gemv_len(J);
}

static int run_gemv(const gemm_job *J) {
    const int NR = J->kr->NR;
    gemv_job G = {.J = J};
    G.len = gemv_len(J);
    size_t v_floats = ((size_t)J->K + 15) & ~(size_t)15;
    int threads = 1;
    if (!J->scratch) {
        int err = graft__pool_begin(gemv_floats(J) * sizeof(float), &threads);
        if (err) return err;
    }
    float *v = J->scratch ? J->scratch : graft__pool_scratch(0);
    G.y = v + v_floats;
    G.v = v;
    if (J->N == 1) {
        for (long k = 0; k < J->K; k++)
            v[k] = J->pb ? J->pb->data[(size_t)k * NR]
                         : J->tb == GRAFT_TRANS_NO ? J->B[(size_t)k * J->ldb] : J->B[k];
        G.x = J->A;
        G.ldx = (size_t)J->lda;
        G.dot = J->ta == GRAFT_TRANS_NO;
    } else {
        for (long k = 0; k < J->K; k++)
            v[k] = J->ta == GRAFT_TRANS_NO ? J->A[k] : J->A[(size_t)k * J->lda];
        G.x = J->B;
        G.ldx = (size_t)J->ldb;
        G.dot = !J->pb && J->tb == GRAFT_TRANS_YES;
    }
    if (!G.dot) memset(G.y, 0, sizeof(float) * G.len);
    G.tasks = (double)G.len * J->K < 65536.0 ? 1 : threads;
    if (J->scratch)
        gemv_task(&G, 0, 0);
    else
        graft__pool_run(G.tasks, gemv_task, &G);

    graft__ukr_epi e = {J->alpha, J->beta, J->epi.bias_row, J->epi.bias_col, J->epi.act, 0};
    for (long i = 0; i < J->M; i++)
        for (long j = 0; j < J->N; j++) {
            float *c = J->C + (size_t)i * J->ldc + j;
            *c = graft__epi_apply(&e, G.y[i + j], c, (int)i, (int)j);
        }
    if (!J->scratch) graft__pool_end();
    return GRAFT_OK;
}

/* Fills in the blocking of a GEMM job; returns the scratch floats one thread needs. */
static size_t plan(gemm_job *J) {
    const graft__sgemm_kernel *kr = J->kr;
    J->mpan = ceil_div(J->M, kr->MR);
    J->npan = ceil_div(J->N, kr->NR);
    J->kcb = k_block(kr, J->K);
    size_t mc_max = (size_t)ceil_div(min_l(kr->MC, J->M), kr->MR) * kr->MR;
    /* Keep B's buffer 64-byte aligned: round A's part up to 16 floats. */
    J->a_floats = (mc_max * (size_t)J->kcb + 15) & ~(size_t)15;
    size_t b_floats = J->pb ? 0 : (size_t)J->kcb * ceil_div(kr->NC, kr->NR) * kr->NR;
    return J->a_floats + b_floats;
}

static int run(gemm_job *J) {
    if (J->M == 0 || J->N == 0) return GRAFT_OK;
    if (J->K == 0 || J->alpha == 0.0f) {
        scale_only(J);
        return GRAFT_OK;
    }
    if (J->M == 1 || J->N == 1) return run_gemv(J);
    size_t floats = plan(J);
    if (J->scratch) {
        J->tm = J->tn = 1;
        gemm_task(J, 0, 0);
        return GRAFT_OK;
    }
    int threads;
    int err = graft__pool_begin(floats * sizeof(float), &threads);
    if (err) return err;
    choose_grid(J, threads);
    graft__pool_run(J->tm * J->tn, gemm_task, J);
    graft__pool_end();
    return GRAFT_OK;
}

/* Checks sizes, leading dimensions, pointers and enums; the message names what is wrong. */
static int check_common(const char *fn, graft_trans ta, long M, long N, long K, const float *A,
                        long lda, long ldc, const float *C, const graft_epilogue *epi) {
    if (ta != GRAFT_TRANS_NO && ta != GRAFT_TRANS_YES)
        return graft__fail(GRAFT_EINVAL, "%s: trans_a = %d is not a graft_trans", fn, (int)ta);
    if (M < 0 || N < 0 || K < 0)
        return graft__fail(GRAFT_EINVAL, "%s: negative size (M = %ld, N = %ld, K = %ld)", fn, M,
                           N, K);
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return graft__fail(GRAFT_ERANGE, "%s: size over 2^31-1 (M = %ld, N = %ld, K = %ld)", fn,
                           M, N, K);
    long need_a = ta == GRAFT_TRANS_NO ? K : M;
    if (lda < (need_a > 1 ? need_a : 1))
        return graft__fail(GRAFT_EINVAL, "%s: lda = %ld is smaller than %s = %ld (A %s)", fn,
                           lda, ta == GRAFT_TRANS_NO ? "K" : "M", need_a,
                           ta == GRAFT_TRANS_NO ? "not transposed" : "transposed");
    if (ldc < (N > 1 ? N : 1))
        return graft__fail(GRAFT_EINVAL, "%s: ldc = %ld is smaller than N = %ld", fn, ldc, N);
    long a_rows = ta == GRAFT_TRANS_NO ? M : K;
    if ((a_rows && (size_t)a_rows > SIZE_MAX / sizeof(float) / (size_t)lda) ||
        (M && (size_t)M > SIZE_MAX / sizeof(float) / (size_t)ldc))
        return graft__fail(GRAFT_ERANGE, "%s: matrices too large to address", fn);
    if ((M && K && !A) || (M && N && !C))
        return graft__fail(GRAFT_EINVAL, "%s: %s is NULL with non-zero size", fn,
                           (M && K && !A) ? "A" : "C");
    if (epi && (unsigned)epi->act > GRAFT_ACT_RELU6)
        return graft__fail(GRAFT_EINVAL, "%s: epilogue act = %d is not a graft_act", fn,
                           (int)epi->act);
    return GRAFT_OK;
}

static int check_b(const char *fn, graft_trans tb, long K, long N, const float *B, long ldb) {
    if (tb != GRAFT_TRANS_NO && tb != GRAFT_TRANS_YES)
        return graft__fail(GRAFT_EINVAL, "%s: trans_b = %d is not a graft_trans", fn, (int)tb);
    long need_b = tb == GRAFT_TRANS_NO ? N : K;
    if (ldb < (need_b > 1 ? need_b : 1))
        return graft__fail(GRAFT_EINVAL, "%s: ldb = %ld is smaller than %s = %ld (B %s)", fn,
                           ldb, tb == GRAFT_TRANS_NO ? "N" : "K", need_b,
                           tb == GRAFT_TRANS_NO ? "not transposed" : "transposed");
    long b_rows = tb == GRAFT_TRANS_NO ? K : N;
    if (b_rows && (size_t)b_rows > SIZE_MAX / sizeof(float) / (size_t)ldb)
        return graft__fail(GRAFT_ERANGE, "%s: B too large to address", fn);
    if (K && N && !B) return graft__fail(GRAFT_EINVAL, "%s: B is NULL with non-zero size", fn);
    return GRAFT_OK;
}

int graft_sgemm(graft_trans trans_a, graft_trans trans_b, long M, long N, long K, float alpha,
                const float *A, long lda, const float *B, long ldb, float beta, float *C,
                long ldc, const graft_epilogue *epi) {
    int err = check_common("sgemm", trans_a, M, N, K, A, lda, ldc, C, epi);
    if (!err) err = check_b("sgemm", trans_b, K, N, B, ldb);
    const graft__sgemm_kernel *kr = NULL;
    if (!err) err = graft__sgemm_kernel_current(&kr);
    if (err) return err;
    gemm_job J = {.kr = kr, .ta = trans_a, .tb = trans_b, .M = M, .N = N, .K = K,
                  .alpha = alpha, .beta = beta, .A = A, .lda = lda, .B = B, .ldb = ldb,
                  .C = C, .ldc = ldc};
    if (epi) J.epi = *epi;
    return run(&J);
}

int graft_sgemm_packed(graft_trans trans_a, long M, float alpha, const float *A, long lda,
                       const graft_packed_b *pb, float beta, float *C, long ldc,
                       const graft_epilogue *epi) {
    if (!pb) return graft__fail(GRAFT_EINVAL, "sgemm_packed: packed B is NULL");
    int err = check_common("sgemm_packed", trans_a, M, pb->N, pb->K, A, lda, ldc, C, epi);
    const graft__sgemm_kernel *kr = NULL;
    if (!err) err = graft__sgemm_kernel_current(&kr);
    if (err) return err;
    if (kr->isa != pb->isa)
        return graft__fail(GRAFT_EINVAL, "sgemm_packed: B was packed for %s but the current ISA"
                           " is %s; pack it again", graft_isa_name(pb->isa),
                           graft_isa_name(kr->isa));
    gemm_job J = {.kr = kr, .ta = trans_a, .M = M, .N = pb->N, .K = pb->K, .alpha = alpha,
                  .beta = beta, .A = A, .lda = lda, .pb = pb, .C = C, .ldc = ldc};
    if (epi) J.epi = *epi;
    /*
     * Packed B is the inference layers' product (conv's gemm-1x1), whose large outputs are
     * read again only by the next layer, from DRAM. Streaming pays where the stores are the
     * bottleneck, few multiply-adds per output. Batch 32 on Zen 3, ratio to oneDNN on one and
     * two threads: MobileNetV2's 16-96 at 112x112 (154 MB) 0.67 -> 0.85 and 0.74 -> 0.96,
     * 24-144 0.77-0.79 -> 0.82-0.85 and 0.75 -> 0.81; but ResNet-50's 64-256 0.91 -> 0.83 and
     * 0.88 -> 0.82, 128-512 0.91 -> 0.85 on two.
     */
    J.stream = beta == 0.0f && pb->K <= 32 &&
               (double)M * ldc * sizeof(float) > GRAFT__STREAM_BYTES;
    return run(&J);
}

int graft_sgemm_pack_b(graft_trans trans_b, long K, long N, const float *B, long ldb,
                       graft_packed_b **out) {
    int err = GRAFT_OK;
    if (K < 0 || N < 0)
        err = graft__fail(GRAFT_EINVAL, "sgemm_pack_b: negative size (K = %ld, N = %ld)", K, N);
    else if (K > INT32_MAX || N > INT32_MAX)
        err = graft__fail(GRAFT_ERANGE, "sgemm_pack_b: size over 2^31-1");
    if (!err) err = check_b("sgemm_pack_b", trans_b, K, N, B, ldb);
    const graft__sgemm_kernel *kr = NULL;
    if (!err) err = graft__sgemm_kernel_current(&kr);
    if (err) return err;
    graft_packed_b *pb = calloc(1, sizeof *pb);
    if (!pb) return graft__fail(GRAFT_ENOMEM, "sgemm_pack_b: out of memory");
    pb->isa = kr->isa;
    pb->K = K;
    pb->N = N;
    pb->kcb = K ? k_block(kr, K) : 0;
    pb->panels = ceil_div(N, kr->NR);
    size_t floats = (size_t)K * pb->panels * kr->NR;
    pb->bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
    if (floats) {
        pb->data = aligned_alloc(64, pb->bytes);
        if (!pb->data) {
            size_t bytes = pb->bytes;
            free(pb);
            return graft__fail(GRAFT_ENOMEM, "sgemm_pack_b: cannot allocate %zu bytes", bytes);
        }
        if (pb->bytes >= (4u << 20)) madvise(pb->data, pb->bytes, MADV_HUGEPAGE);
        for (long pc = 0; pc < K; pc += pb->kcb) {
            int kc = (int)min_l(pb->kcb, K - pc);
            graft__pack_b(trans_b, B, ldb, pc, 0, kc, (int)N, kr->NR,
                          pb->data + (size_t)pc * pb->panels * kr->NR);
        }
    }
    *out = pb;
    return GRAFT_OK;
}

void graft_packed_b_destroy(graft_packed_b *pb) {
    if (!pb) return;
    free(pb->data);
    free(pb);
}

void graft_packed_b_shape(const graft_packed_b *pb, long *K, long *N, size_t *bytes) {
    if (K) *K = pb->K;
    if (N) *N = pb->N;
    if (bytes) *bytes = pb->bytes + sizeof *pb;
}

/*
 * Internal: graft_sgemm_packed on the calling thread with the caller's scratch, for kernels
 * (convolution) that run their own tasks on the pool and call GEMM from inside them. The
 * arguments are trusted (checked by the caller's own API); the arithmetic is the same as the
 * pooled call's, so results do not depend on who runs it.
 */
size_t graft__sgemm_packed_serial_scratch(const graft_packed_b *pb, long M) {
    gemm_job J = {.kr = graft__sgemm_kernel_for(pb->isa), .M = M, .N = pb->N, .K = pb->K,
                  .pb = pb};
    size_t gemm = plan(&J), gemv = gemv_floats(&J);
    return (gemm > gemv ? gemm : gemv) * sizeof(float) + 64;
}

void graft__sgemm_packed_serial(graft_trans trans_a, long M, const float *A, long lda,
                                const graft_packed_b *pb, float *C, long ldc,
                                const graft_epilogue *epi, void *scratch, int slice,
                                int slices) {
    gemm_job J = {.kr = graft__sgemm_kernel_for(pb->isa), .ta = trans_a, .M = M, .N = pb->N,
                  .K = pb->K, .alpha = 1.0f, .beta = 0.0f, .A = A, .lda = lda, .pb = pb,
                  .C = C, .ldc = ldc,
                  .scratch = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63)};
    if (epi) J.epi = *epi;
    if (slices <= 1 || M <= 1 || J.N <= 1 || J.K == 0) {
        /* Products that do not go through gemm_task are not sliced: slice 0 does them. */
        if (slice == 0) run(&J);
        return;
    }
    /* One column slice of a 1 x slices grid, whole NR panels, as a pooled run would cut it. */
    plan(&J);
    J.tm = 1;
    J.tn = slices;
    gemm_task(&J, slice, 0);
}

long graft__sgemm_packed_panels(const graft_packed_b *pb) { return pb->panels; }
