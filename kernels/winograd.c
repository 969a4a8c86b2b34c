/*
 * kernels/winograd.c: the Winograd F(4x4, 3x3) convolution driver, one of the algorithms the
 * convolution planner (conv.c) chooses from, for 3x3 layers with stride 1, dilation 1 and one
 * group (winograd.h has the transforms' matrices).
 *
 * At plan time each (c_out, c_in) kernel g becomes the 6x6 tile U = G g G^T, computed in
 * double, and the 36 matrices U_t (C_in x C_out) are written straight into the layout the
 * ISA's GEMM micro-kernel streams (NR-column panels in K blocks, as graft_sgemm_pack_b makes).
 * A forward pass cuts the output into 4x4 tiles, numbered across the batch, and runs fixed
 * blocks of them as pool tasks. A task:
 *   1. transforms its tiles' 6x6 input windows (zero outside the image): V_t (tiles x C_in)
 *      for t < 36, in its thread's scratch, vectorised along the contiguous NHWC channels;
 *   2. runs the 36 products M_t = V_t U_t through the micro-kernel (V_t packed per K block);
 *   3. transforms M back into 4x4 outputs, adds the bias, applies the activation and writes
 *      the pixels that lie inside the output (right and bottom tiles may be partial).
 * V and M stay in the core's caches between the steps (M_t overwrites V_t when C_in fits one
 * K block). A block is sized by the cache its V and M should stay in and by how often the
 * weights, 4x the plain ones, can afford to stream (choose_blocks); when all tiles fit one
 * block (a deep layer at batch 1), tasks split C_out, each transforming the input again.
 * Blocks and splits depend on the shapes, the ISA and the thread count, but a tile's
 * arithmetic is the same in any of them, so the results do not.
 *
 * Not here: other tile sizes (F(2x2, 3x3), F(6x6, 3x3)), strides, dilations or groups, which
 * conv.c sends to im2col-gemm; the choice between this and im2col (conv.c asks
 * graft__wino_preferred).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "winograd.h"

#define TILE_POS 36 /* 6x6 positions of a transformed tile */
#define WINO_KC 512 /* the deepest K block of the products */

struct graft__wino {
    graft_conv2d d;
    const graft__sgemm_kernel *kr;
    int kcb;            /* depth of every K (C_in) block but the last */
    int panels;         /* NR-column panels of C_out */
    size_t pos_floats;  /* floats of one position's packed U_t */
    size_t bytes;
    float *u;           /* (36) packed U_t; K block at pc: + pc * panels * NR, its panel j:
                         * + j * kc * NR (the layout of graft_sgemm_pack_b) */
    graft__wino_in_fn in;
    graft__wino_out_fn out;
};

static long ceil_div(long a, long b) { return (a + b - 1) / b; }
static long min_l(long a, long b) { return a < b ? a : b; }

int graft__wino_supports(const graft_conv2d *d) {
    return d->groups == 1 && d->kernel_h == 3 && d->kernel_w == 3 && d->stride_h == 1 &&
           d->stride_w == 1 && d->dilation_h == 1 && d->dilation_w == 1;
}

/*
 * Measured against im2col-gemm (bench/bench_conv.c's ResNet-50 layers, VGG-like ones and a
 * sweep of channel counts, batch 1 to 32): Winograd wins on every ISA (scalar, AVX2, AVX-512)
 * from 8 channels up, by 2-3x from 32 on, except where its transformed weights (4x the plain
 * ones) stream from memory for a handful of tiles: the 512-channel 7x7 layer at batch 1 about
 * ties (0.96x on one thread, 1.2x on two; 1.6x from batch 2 on). Below 32 channels the gain is
 * small in absolute terms and the error relative to the result larger, so those layers keep
 * im2col. The upper bound is about memory, not speed: 1024 x 1024 channels already take
 * 151 MB of transformed weights.
 */
int graft__wino_preferred(const graft_conv2d *d, graft_isa isa) {
    (void)isa;
    return d->C_in >= 32 && d->C_out >= 32 && (long)d->C_in * d->C_out <= 1024L * 1024;
}

static void transforms_for(graft_isa isa, graft__wino *w) {
    switch (isa) {
#if defined(__x86_64__)
    case GRAFT_ISA_AVX2:
        w->in = graft_wino_f4_input_avx2;
        w->out = graft_wino_f4_output_avx2;
        return;
    case GRAFT_ISA_AVX512:
        w->in = graft_wino_f4_input_avx512;
        w->out = graft_wino_f4_output_avx512;
        return;
#endif
#if defined(__aarch64__)
    case GRAFT_ISA_NEON:
        w->in = graft_wino_f4_input_neon;
        w->out = graft_wino_f4_output_neon;
        return;
#endif
    default:
        w->in = graft_wino_f4_input_ref;
        w->out = graft_wino_f4_output_ref;
    }
}

/* G of winograd.h, exactly, for the weight transform (done once, in double). */
static const double G[6][3] = {
    {1.0, 0.0, 0.0},
    {1.0 / 3, 1.0 / 3, 1.0 / 3},
    {-1.0 / 3, 1.0 / 3, -1.0 / 3},
    {-16.0 / 15, -8.0 / 15, -4.0 / 15},
    {1.0 / 15, -2.0 / 15, 4.0 / 15},
    {0.0, 0.0, 1.0},
};

void graft__wino_destroy(graft__wino *w) {
    if (!w) return;
    free(w->u);
    free(w);
}

/* Bytes of the transformed weights: 36 packed (C_in x C_out) matrices, C_out padded to NR. */
static size_t u_bytes(const graft_conv2d *d, int NR) {
    size_t pos_floats = (size_t)d->C_in * (size_t)ceil_div(d->C_out, NR) * NR;
    return (TILE_POS * pos_floats * sizeof(float) + 63) & ~(size_t)63;
}

size_t graft__wino_bytes_for(const graft_conv2d *d, graft_isa isa) {
    const graft__sgemm_kernel *kr = graft__sgemm_kernel_for(isa);
    return kr ? u_bytes(d, kr->NR) : 0;
}

int graft__wino_create(const graft_conv2d *d, const float *weight, graft_isa isa,
                       graft__wino **out) {
    const graft__sgemm_kernel *kr = graft__sgemm_kernel_for(isa);
    if (!kr)
        return graft__fail(GRAFT_EUNSUPPORTED, "conv2d: no GEMM kernel for ISA %s",
                           graft_isa_name(isa));
    graft__wino *w = calloc(1, sizeof *w);
    if (!w) return graft__fail(GRAFT_ENOMEM, "conv2d: out of memory");
    const int C_in = d->C_in, C_out = d->C_out, NR = kr->NR;
    w->d = *d;
    w->kr = kr;
    /*
     * Equal K blocks, as the GEMM driver cuts them, but of up to WINO_KC rather than the
     * variant's KC: a single block lets M_t take V_t's place (see graft__wino_forward) and
     * saves the partial sums' round trip, which measured 5% faster on 512-channel layers
     * (AVX-512; neutral on AVX2), and an MR x 512 micro-panel of A still fits in L1.
     */
    const long kc_max = kr->KC > WINO_KC ? kr->KC : WINO_KC;
    long kblocks = ceil_div(C_in, kc_max);
    w->kcb = (int)ceil_div(C_in, kblocks);
    w->panels = (int)ceil_div(C_out, NR);
    w->pos_floats = (size_t)C_in * w->panels * NR;
    w->bytes = u_bytes(d, NR);
    w->u = aligned_alloc(64, w->bytes);
    if (!w->u) {
        size_t bytes = w->bytes;
        free(w);
        return graft__fail(GRAFT_ENOMEM, "conv2d: cannot allocate %zu bytes of Winograd weights",
                           bytes);
    }
    if (w->bytes >= (4u << 20)) madvise(w->u, w->bytes, MADV_HUGEPAGE);
    /* Columns past C_out in the last panel must read as zeros. */
    memset(w->u, 0, w->bytes);
    for (int o = 0; o < C_out; o++) {
        const int jp = o / NR, jj = o % NR;
        for (int i = 0; i < C_in; i++) {
            const float *g = weight + ((size_t)o * C_in + i) * 9;
            double gt[6][3]; /* G g */
            for (int r = 0; r < 6; r++)
                for (int b = 0; b < 3; b++)
                    gt[r][b] = G[r][0] * g[b] + G[r][1] * g[3 + b] + G[r][2] * g[6 + b];
            /* Where (k = i, n = o) lands in each position's packed matrix. */
            const long pc = i / w->kcb * (long)w->kcb;
            const int kc = (int)min_l(w->kcb, C_in - pc);
            const size_t at = (size_t)pc * w->panels * NR + (size_t)jp * kc * NR +
                              (size_t)(i - pc) * NR + jj;
            for (int r = 0; r < 6; r++)
                for (int s = 0; s < 6; s++) {
                    double u = gt[r][0] * G[s][0] + gt[r][1] * G[s][1] + gt[r][2] * G[s][2];
                    w->u[(size_t)(6 * r + s) * w->pos_floats + at] = (float)u;
                }
        }
    }
    transforms_for(isa, w);
    *out = w;
    return GRAFT_OK;
}

/* ---- forward ------------------------------------------------------------------------- */

typedef struct wino_job {
    const graft__wino *w;
    float *y;
    const float *x;
    const float *bias;
    int H, W, OH, OW, TH, TW; /* TH x TW tiles per image */
    long tiles;               /* N * TH * TW */
    int T;                    /* tiles per block, a multiple of MR (the last may have fewer) */
    long blocks;              /* ceil(tiles / T) */
    int slices;               /* C_out splits per block */
    int slice_panels;         /* NR panels per split */
    size_t ldv, ldm;          /* row strides of V and M */
    size_t vs, ms;            /* floats from one position's V (M) to the next */
    size_t m_off, a_off;      /* where M and the packed A start in a thread's scratch */
} wino_job;

/*
 * M_t (rows x the split's panels, ldc) = V_t (rows x C_in, lda) * U_t[:, panels jp0..jp1), one
 * K block at a time (the first overwrites, the next accumulate), in the loop order the
 * micro-kernel's blocking wants (kernels.h): with b_in_l1, a B micro-panel stays in L1 while
 * the A panels stream; without, an A micro-panel stays while B streams. Every element is the
 * same sequence of multiply-adds as in a plain GEMM of these operands.
 */
static void position_gemm(const graft__wino *w, const float *A, size_t lda, int rows,
                          const float *u, int jp0, int jp1, float *C, size_t ldc, float *abuf) {
    const graft__sgemm_kernel *kr = w->kr;
    const int MR = kr->MR, NR = kr->NR, K = w->d.C_in;
    for (int pc = 0; pc < K; pc += w->kcb) {
        const int kc = (int)min_l(w->kcb, K - pc);
        graft__pack_a(kr, GRAFT_TRANS_NO, A, (long)lda, 0, pc, rows, kc, abuf);
        graft__ukr_epi e = {1.0f, pc ? 1.0f : 0.0f, NULL, NULL, GRAFT_ACT_NONE, 0};
        const float *ub = u + (size_t)pc * w->panels * NR;
        if (kr->b_in_l1) {
            for (int jp = jp0; jp < jp1; jp++) {
                const float *b = ub + (size_t)jp * kc * NR;
                for (int p = 0, ip, mr; p * MR < rows; p++) {
                    graft__panel_rows(rows, MR, p, &ip, &mr);
                    kr->ukr((size_t)kc, abuf + (size_t)p * MR * kc, b, (size_t)NR,
                            C + (size_t)ip * ldc + (size_t)(jp - jp0) * NR, ldc, mr, NR, &e);
                }
            }
        } else {
            for (int p = 0, ip, mr; p * MR < rows; p++) {
                graft__panel_rows(rows, MR, p, &ip, &mr);
                const float *a = abuf + (size_t)p * MR * kc;
                for (int jp = jp0; jp < jp1; jp++)
                    kr->ukr((size_t)kc, a, ub + (size_t)jp * kc * NR, (size_t)NR,
                            C + (size_t)ip * ldc + (size_t)(jp - jp0) * NR, ldc, mr, NR, &e);
            }
        }
    }
}

static void wino_task(void *vjob, int task, int thread) {
    const wino_job *J = vjob;
    const graft__wino *w = J->w;
    const graft_conv2d *d = &w->d;
    const int NR = w->kr->NR, C_in = d->C_in, C_out = d->C_out;
    /*
     * Slice-major: a thread's home range of tasks (pool.c) is one slice of C_out over the
     * blocks, so it streams its share of the transformed weights only. Block-major, ResNet-50's
     * 14x14 layers at batch 1 (two blocks, two slices) had each thread stream all 9.4 MB of
     * them and ran no faster on two threads than on one.
     */
    const long b = task % J->blocks;
    const int s = (int)(task / J->blocks);
    const long tile0 = b * J->T;
    const int rows = (int)min_l(J->T, J->tiles - tile0);
    const int jp0 = s * J->slice_panels, jp1 = (int)min_l(w->panels, jp0 + J->slice_panels);
    const int co0 = jp0 * NR, co1 = (int)min_l(C_out, (long)jp1 * NR);
    float *V = graft__pool_scratch(thread), *M = V + J->m_off, *abuf = V + J->a_off;
    const size_t vs = J->vs, ms = J->ms;
    const long per_image = (long)J->TH * J->TW;

    for (int i = 0; i < rows; i++) {
        long tile = tile0 + i, n = tile / per_image;
        int th = (int)(tile % per_image / J->TW), tw = (int)(tile % J->TW);
        w->in(V + (size_t)i * J->ldv, vs, J->x + (size_t)n * J->H * J->W * C_in, J->H, J->W,
              C_in, 4 * th - d->pad_top, 4 * tw - d->pad_left);
    }
    for (int t = 0; t < TILE_POS; t++)
        position_gemm(w, V + t * vs, J->ldv, rows, w->u + t * w->pos_floats, jp0, jp1,
                      M + t * ms, J->ldm, abuf);
    for (int i = 0; i < rows; i++) {
        long tile = tile0 + i, n = tile / per_image;
        int oh0 = 4 * (int)(tile % per_image / J->TW), ow0 = 4 * (int)(tile % J->TW);
        float *y = J->y + (((size_t)n * J->OH + oh0) * J->OW + ow0) * C_out + co0;
        w->out(y, (size_t)J->OW * C_out, (size_t)C_out, (int)min_l(4, J->OH - oh0),
               (int)min_l(4, J->OW - ow0), M + (size_t)i * J->ldm, ms, co1 - co0,
               J->bias ? J->bias + co0 : NULL, d->act);
    }
}

/*
 * Blocks of tiles and C_out splits, a function of the shapes only. A block holds as many tiles
 * as keep its V and M (36 rows of C_in and C_out floats per tile) in half of L2; but when the
 * transformed weights are too large for L3, they stream from memory once per block, and the
 * block grows until each tile's share of that stream is small. The blocks are then evened out
 * in whole micro-panels. A layer whose tiles all fit one block splits C_out in two, so that
 * two threads have work: that costs a second input transform, which is cheaper than a
 * second pass over the weights. (Tuned on the ResNet-50 layers at batch 1 and 32, one thread:
 * growing 256-channel blocks for their L3-resident weights lost 3-4%; 512-channel 7x7 blocks
 * of 70 tiles ran about 10% faster than of 28.)
 */
#define BLOCK_CACHE_BYTES (512u << 10)  /* V and M of a block: half of L2 */
#define BLOCK_WEIGHTS_L3 (16u << 20)    /* weights larger than this stream from memory */
#define BLOCK_WEIGHT_SHARE (512u << 10) /* ... and a block of those has a tile per 512 KiB */
#define BLOCK_SCRATCH_MAX (16u << 20)   /* V and M of a block, at most */
#define BLOCK_PANELS_MAX 8

/*
 * How long the pool takes over blocks of J->T tiles split `split` ways along C_out, in tile
 * panels: tasks in order, each to the thread free first, which is where graft__pool_run's home
 * ranges and taking of leftovers end up when the tasks are few. A task also pays half a panel
 * per tile for its input transform and packing, which every split repeats.
 */
static double schedule_length(const wino_job *J, long blocks, int split, int threads) {
    const int panels = J->w->panels, per = (int)ceil_div(panels, split);
    double busy[64] = {0}, end = 0;
    for (int jp = 0; jp < panels; jp += per) {
        for (long b = 0; b < blocks; b++) {
            long rows = min_l(J->T, J->tiles - b * J->T);
            int t = 0;
            for (int i = 1; i < threads; i++)
                if (busy[i] < busy[t]) t = i;
            busy[t] += (double)rows * ((double)min_l(per, panels - jp) + 0.5);
            if (busy[t] > end) end = busy[t];
        }
    }
    return end;
}

static void choose_blocks(wino_job *J, int threads) {
    const graft__wino *w = J->w;
    const int MR = w->kr->MR;
    const size_t ldm = (size_t)w->panels * w->kr->NR;
    size_t per_tile = TILE_POS * sizeof(float) *
                      (w->kcb >= w->d.C_in ? (J->ldv > ldm ? J->ldv : ldm) : J->ldv + ldm);
    size_t weights = TILE_POS * sizeof(float) * (size_t)w->d.C_in * ldm;
    long P = (long)(BLOCK_CACHE_BYTES / per_tile / MR);
    if (weights > BLOCK_WEIGHTS_L3) {
        long p_weights = ceil_div((long)(weights / BLOCK_WEIGHT_SHARE), MR);
        if (P < p_weights) P = p_weights;
    }
    long p_max = (long)(BLOCK_SCRATCH_MAX / per_tile / MR);
    if (P > BLOCK_PANELS_MAX) P = BLOCK_PANELS_MAX;
    if (P > p_max) P = p_max;
    if (P < 1) P = 1;
    long blocks = ceil_div(J->tiles, P * MR);
    J->T = (int)(ceil_div(ceil_div(J->tiles, blocks), MR) * MR);
    J->blocks = blocks = ceil_div(J->tiles, J->T);
    /*
     * Too few blocks to share evenly (ResNet-50's 14x14 maps at batch 1: 16 tiles, a block of
     * 14 and one of 2, so one thread of two did most of the work) split C_out, as finely as
     * shortens the pool's schedule; a lone block splits in two even on one thread.
     */
    int split = blocks == 1 && w->panels > 1 ? 2 : 1;
    if (threads > 1 && threads <= 64 && blocks < 8L * threads) {
        double best = schedule_length(J, blocks, split, threads);
        for (int s = split + 1; s <= w->panels && s <= 4 * threads; s++) {
            double len = schedule_length(J, blocks, s, threads);
            if (len < 0.97 * best) best = len, split = s;
        }
    }
    J->slice_panels = (int)ceil_div(w->panels, split);
    J->slices = (int)ceil_div(w->panels, J->slice_panels);
}

int graft__wino_forward(const graft__wino *w, float *y, const float *x, int N, int H, int W,
                        int OH, int OW, const float *bias) {
    const graft__sgemm_kernel *kr = w->kr;
    wino_job J = {.w = w, .y = y, .x = x, .bias = bias, .H = H, .W = W, .OH = OH, .OW = OW};
    J.TH = (OH + 3) / 4;
    J.TW = (OW + 3) / 4;
    J.tiles = (long)N * J.TH * J.TW;
    /* Rows of V padded to whole cache lines, so that every row starts aligned. */
    J.ldv = ((size_t)w->d.C_in + 15) & ~(size_t)15;
    choose_blocks(&J, graft__pool_threads());
    J.ldm = (size_t)J.slice_panels * kr->NR;
    /*
     * With a single K block, V_t is packed whole before the first micro-kernel call writes
     * M_t, so M_t can take V_t's place: half the footprint, and M is written into lines that
     * are already in cache. Deeper layers keep them apart (a later K block still reads V_t).
     */
    if (w->kcb >= w->d.C_in) {
        J.vs = J.ms = (size_t)J.T * (J.ldv > J.ldm ? J.ldv : J.ldm);
        J.m_off = 0;
        J.a_off = TILE_POS * J.vs;
    } else {
        J.vs = (size_t)J.T * J.ldv;
        J.ms = (size_t)J.T * J.ldm;
        J.m_off = TILE_POS * J.vs;
        J.a_off = J.m_off + TILE_POS * J.ms;
    }
    size_t a_floats = (size_t)ceil_div(J.T, kr->MR) * kr->MR * w->kcb;
    size_t scratch = (J.a_off + a_floats) * sizeof(float);
    long tasks = J.blocks * J.slices;
    if (tasks > INT32_MAX)
        return graft__fail(GRAFT_ERANGE, "conv2d: too many output tiles");
    int threads, err = graft__pool_begin(scratch, &threads);
    if (err) return err;
    graft__pool_run((int)tasks, wino_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}

size_t graft__wino_bytes(const graft__wino *w) { return w ? w->bytes : 0; }
