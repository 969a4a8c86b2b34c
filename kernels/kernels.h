/*
 * kernels/kernels.h: what the portable drivers and the per-ISA micro-kernels share. Internal to
 * libgraft (prefix graft__ for cross-file internals, graft_*_ukr_* for micro-kernels).
 *
 * The split follows BLIS: drivers (gemm.c, pack.c) own blocking, packing and threading in
 * portable C; the _<isa>.c files hold only register-blocked micro-kernels compiled with their
 * own -m flags, so the rest of the binary runs on any CPU of the architecture.
 */
#ifndef GRAFT_KERNELS_INTERNAL_H
#define GRAFT_KERNELS_INTERNAL_H

#include <stddef.h>
#include "graft/graft.h"
#include "graft/kernels.h"

/* ---- errors ---------------------------------------------------------------------------- */

/* Records a detailed message for graft_last_error() on this thread and returns `err`. */
int graft__fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- GEMM micro-kernels ---------------------------------------------------------------- */

/*
 * An output larger than this (a layer at batch 32) is stored around the caches: it streams to
 * DRAM anyway, and a plain store first reads each line it writes (write-allocate), so the
 * output costs twice its size in traffic. Below it (the runtime's micro-batches, batch 1) the
 * output stays cached for the next layer. Used by conv.c and graft_sgemm_packed.
 */
#define GRAFT__STREAM_BYTES (8.0 * 1024 * 1024)

/* Orders a thread's streaming (non-temporal) stores before it hands their data on. */
static inline void graft__stream_fence(void) {
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#endif
}

/*
 * The epilogue one micro-kernel call applies to its tile (m x n, at most MR x NR):
 *   c[i][j] = act(alpha * acc[i][j] + beta * c[i][j] + bias_row[i] + bias_col[j])
 * beta == 0 means c is not read. Biases are already offset to the tile; NULL is zero. The
 * driver passes bias and act only with the last block of K, and beta = 1 after the first.
 * stream: c will not be read soon (GRAFT__STREAM_BYTES), so a kernel may write it with
 * non-temporal stores, which the driver fences; one that ignores it is just as correct.
 */
typedef struct graft__ukr_epi {
    float alpha, beta;
    const float *bias_row; /* (m) */
    const float *bias_col; /* (n) */
    graft_act act;
    int stream;
} graft__ukr_epi;

/*
 * A micro-kernel: acc = a * b over kc steps, then the epilogue into c.
 *   a: packed A micro-panel, (kc, MR) k-major: a[k * MR + i]; rows i >= m are never read.
 *   b: B micro-panel, (kc, NR) with rows ldb floats apart: packed (ldb == NR, 64-byte
 *      aligned, columns j >= n hold zeros) or, for a full panel (n == NR), B itself.
 *   c: (m, n) tile of C with row stride ldc; only the m x n part is read or written.
 * Preconditions (asserted, never input-dependent): 1 <= m <= MR, 1 <= n <= NR.
 * Every element is computed as a sequence of multiply-adds in increasing k, so a tile's
 * result does not depend on its position: this is what makes GEMM bit-identical for any
 * thread count.
 */
typedef void (*graft__sgemm_ukr_fn)(size_t kc, const float *restrict a, const float *restrict b,
                                    size_t ldb, float *restrict c, size_t ldc, int m, int n,
                                    const graft__ukr_epi *epi);

/*
 * Packs one micro-panel of non-transposed A (row i at a + i * lda) into dst[k * MR + i],
 * zeroing rows m..MR-1. Optional per variant; the portable packer is used without one.
 */
typedef void (*graft__pack_a_fn)(const float *restrict a, size_t lda, int m, int kc,
                                 float *restrict dst);

/*
 * Matrix-vector kernels for products with M or N equal to 1, which gain nothing from packing:
 *   dot:  y[r] = sum_k x[r * ldx + k] * v[k]             for r < rows
 *   axpy: y[j] += sum_k v[k] * x[k * ldx + j]            for j < cols (accumulates into y)
 * Each output's arithmetic is independent of rows/cols, so any split gives identical bits, and
 * axpy over consecutive K ranges equals axpy over their union.
 */
typedef void (*graft__gemv_dot_fn)(const float *restrict x, size_t ldx, int rows, int K,
                                   const float *restrict v, float *restrict y);
typedef void (*graft__gemv_axpy_fn)(const float *restrict x, size_t ldx, int K, int cols,
                                    const float *restrict v, float *restrict y);

/* A variant with its register tile and cache blocking (elements, not bytes). */
typedef struct graft__sgemm_kernel {
    graft_isa isa;
    int MR, NR; /* register tile */
    /*
     * Which micro-panel stays in L1 while the other streams from L2. b_in_l1 == 0: an MR x KC
     * micro-panel of A in L1, a KC x NC block of B in L2, an MC x KC block of A in L3 (for
     * tiles whose B micro-panel is too big for L1, like 14 x 32). b_in_l1 == 1: BLIS's order,
     * a KC x NR micro-panel of B in L1, an MC x KC block of A in L2, KC x NC of B in L3.
     */
    int KC, NC, MC;
    int b_in_l1;
    graft__sgemm_ukr_fn ukr;
    graft__pack_a_fn pack_a; /* NULL: portable packing */
    graft__gemv_dot_fn gemv_dot;
    graft__gemv_axpy_fn gemv_axpy;
} graft__sgemm_kernel;

void graft_sgemm_ukr_ref(size_t kc, const float *restrict a, const float *restrict b,
                         size_t ldb, float *restrict c, size_t ldc, int m, int n,
                         const graft__ukr_epi *epi);
void graft_sgemv_dot_ref(const float *restrict x, size_t ldx, int rows, int K,
                         const float *restrict v, float *restrict y);
void graft_sgemv_axpy_ref(const float *restrict x, size_t ldx, int K, int cols,
                          const float *restrict v, float *restrict y);
#define GRAFT__REF_MR 4
#define GRAFT__REF_NR 8
#if defined(__x86_64__)
void graft_sgemm_ukr_6x16_avx2(size_t kc, const float *restrict a, const float *restrict b,
                               size_t ldb, float *restrict c, size_t ldc, int m, int n,
                               const graft__ukr_epi *epi);
void graft_sgemm_ukr_14x32_avx512(size_t kc, const float *restrict a, const float *restrict b,
                                  size_t ldb, float *restrict c, size_t ldc, int m, int n,
                                  const graft__ukr_epi *epi);
void graft_sgemv_dot_avx2(const float *restrict x, size_t ldx, int rows, int K,
                          const float *restrict v, float *restrict y);
void graft_sgemv_axpy_avx2(const float *restrict x, size_t ldx, int K, int cols,
                           const float *restrict v, float *restrict y);
void graft_sgemv_dot_avx512(const float *restrict x, size_t ldx, int rows, int K,
                            const float *restrict v, float *restrict y);
void graft_sgemv_axpy_avx512(const float *restrict x, size_t ldx, int K, int cols,
                             const float *restrict v, float *restrict y);
void graft_sgemm_pack_a_6_avx2(const float *restrict a, size_t lda, int m, int kc,
                               float *restrict dst);
void graft_sgemm_pack_a_14_avx512(const float *restrict a, size_t lda, int m, int kc,
                                  float *restrict dst);
#endif
#if defined(__aarch64__)
void graft_sgemm_ukr_8x12_neon(size_t kc, const float *restrict a, const float *restrict b,
                               size_t ldb, float *restrict c, size_t ldc, int m, int n,
                               const graft__ukr_epi *epi);
#endif

/* The scalar epilogue of one element, shared by the reference kernel and tile edges. */
static inline float graft__epi_apply(const graft__ukr_epi *e, float acc, const float *c, int i,
                                     int j) {
    float x = e->alpha * acc;
    if (e->beta != 0.0f) x += e->beta * *c;
    if (e->bias_row) x += e->bias_row[i];
    if (e->bias_col) x += e->bias_col[j];
    if (e->act != GRAFT_ACT_NONE) {
        x = x > 0.0f ? x : 0.0f;
        if (e->act == GRAFT_ACT_RELU6) x = x < 6.0f ? x : 6.0f;
    }
    return x;
}

/*
 * The GEMM variant for `isa` (must be available; GRAFT_ISA_AUTO is not accepted), or NULL
 * when this build has no kernel for it.
 */
const graft__sgemm_kernel *graft__sgemm_kernel_for(graft_isa isa);
/* The variant of graft_isa_current(); on error returns it with the message already set. */
int graft__sgemm_kernel_current(const graft__sgemm_kernel **out);

/*
 * Rows of micro-panel p when mc rows are cut into panels of at most MR. Full panels, except
 * that a last panel of fewer than MR / 2 rows is merged with the one before and the pair split
 * evenly: a 2-row tile keeps too few accumulators busy to hide the FMA latency, two 8-row
 * tiles do not. Every panel still occupies kc * MR floats in the packed buffer.
 */
static inline void graft__panel_rows(int mc, int MR, int p, int *row0, int *rows) {
    int full = mc / MR, rest = mc % MR, n = full + (rest > 0);
    if (rest == 0 || rest * 2 >= MR || full == 0 || p < n - 2) {
        *row0 = p * MR;
        *rows = mc - p * MR < MR ? mc - p * MR : MR;
        return;
    }
    int pair = MR + rest, first = (pair + 1) / 2;
    *row0 = (n - 2) * MR + (p == n - 1 ? first : 0);
    *rows = p == n - 1 ? pair - first : first;
}

/* ---- packing (pack.c) ------------------------------------------------------------------ */

/*
 * Packs op(A)[i0 : i0+mc, p0 : p0+kc] into micro-panels cut by graft__panel_rows: panel p
 * starts at dst + p * kc * MR and holds row0 + i at [k * MR + i]; its unused rows are zeroed.
 * dst holds ceil(mc / MR) * MR * kc floats.
 */
void graft__pack_a(const graft__sgemm_kernel *kr, graft_trans trans_a, const float *A,
                   long lda, long i0, long p0, int mc, int kc, float *restrict dst);
/*
 * Packs op(B)[p0 : p0+kc, j0 : j0+nc] into micro-panels of NR columns:
 * dst[(j / NR) * kc * NR + k * NR + j % NR]; columns past nc are zeroed.
 * dst holds ceil(nc / NR) * NR * kc floats.
 */
void graft__pack_b(graft_trans trans_b, const float *B, long ldb, long p0, long j0, int kc,
                   int nc, int NR, float *restrict dst);

/* ---- GEMM from inside a pool task (gemm.c) --------------------------------------------- */

/* Scratch bytes graft__sgemm_packed_serial needs for M rows of A against pb. */
size_t graft__sgemm_packed_serial_scratch(const graft_packed_b *pb, long M);
/*
 * C (M x pb->N, ldc) = op(A) * pb, then the epilogue, on the calling thread only, using the
 * caller's scratch (any alignment). For kernels that already run on the pool; arguments are
 * not checked. Same arithmetic as graft_sgemm_packed. With slices > 1 only column slice
 * `slice` of C is computed: the NR panels of pb split in `slices` nearly equal runs (some may
 * be empty when slices exceeds graft__sgemm_packed_panels).
 */
void graft__sgemm_packed_serial(graft_trans trans_a, long M, const float *A, long lda,
                                const graft_packed_b *pb, float *C, long ldc,
                                const graft_epilogue *epi, void *scratch, int slice,
                                int slices);
/* NR-column panels of pb: the most useful column slices. */
long graft__sgemm_packed_panels(const graft_packed_b *pb);

/* ---- CPU probe ------------------------------------------------------------------------- */

/* The probed facts, computed once (cpu.c). */
const graft_cpu_info *graft__cpu(void);

/* ---- kernel thread pool ---------------------------------------------------------------- */

/* One task of a parallel region: `task` in [0, ntasks), run by pool thread `thread`. */
typedef void (*graft__task_fn)(void *ctx, int task, int thread);

/*
 * Starts a parallel region: takes the pool (regions from different user threads take turns)
 * and makes sure every pool thread owns a scratch buffer of at least `scratch_bytes` (64-byte
 * aligned, reused across calls, pre-faulted once since first touch is expensive here).
 * On success writes the thread count and must be paired with graft__pool_end().
 * GRAFT_ENOMEM when a scratch buffer cannot grow (the region is not started).
 * Called from inside a pool task, the region is that task's thread alone: one thread, its own
 * scratch, and graft__pool_run runs the tasks inline (a net running a micro-batch per thread).
 */
int graft__pool_begin(size_t scratch_bytes, int *threads);
/* Scratch buffer of pool thread `thread` inside a region. Owned by the pool. */
void *graft__pool_scratch(int thread);
/*
 * Runs fn(ctx, t, thread) for t in [0, ntasks) on the pool's threads, the caller included;
 * returns when all are done. Which thread runs which task varies; results must not depend on it.
 */
void graft__pool_run(int ntasks, graft__task_fn fn, void *ctx);
void graft__pool_end(void);
/* Threads a region started now would have: 1 inside a pool task. A hint for cutting work. */
int graft__pool_threads(void);
/* Why GRAFT_THREADS was ignored ("" when it was not); for `graft cpu`. */
const char *graft__pool_env_note(void);

#endif
