/*
 * kernels/conv_direct_body.h: the direct convolution row for layers with few input channels
 * (a network's first layer: 3 colour channels) and for 1x1 layers that contract channels (run
 * as one long row, see conv.c), written once for every SIMD variant. A
 * conv_<isa>.c file defines the vector operations of conv_dw_body.h plus
 *   DW_SET1(f)          every lane f
 *   DIRECT_P            output pixels per register tile (with two channel vectors)
 *   DIRECT_CV4          1 where 32 registers take tiles of four channel vectors
 *   DIRECT_ROW_FN       the function's name
 * then includes this file.
 *
 * Why not im2col: with 3 input channels a 3x3 kernel's patch is 27 floats, so unrolling it and
 * then packing it for the GEMM costs more than the 27 multiply-adds per output it feeds
 * (MobileNetV2's 3x3s2-3-32 spent two thirds of its time there). Here the output channels are
 * the vector lanes and each tap of each pixel is one broadcast straight from the image:
 * a tile of DIRECT_P pixels x 2 channel vectors does 2 * DIRECT_P FMAs for DIRECT_P
 * broadcasts and 2 weight loads, the arithmetic a GEMM micro-kernel does, with no copy.
 */

/* The widest channel block, and the panel of the weights (conv.h; conv.c's direct_panel). */
#define DIRECT_PANEL ((DIRECT_CV4 ? 4 : 2) * DW_LANES)
/*
 * Pixels per tile of CV vectors, about 24 accumulators: DIRECT_P of two, or half of four.
 * Three vectors (16 registers: the channel tail of 17-24 channels, see DIRECT_ROW_FN) take
 * half of DIRECT_P too: 9 accumulators, 3 weights and the broadcast. With 4 pixels, all 16
 * registers, GCC spilled the weights and the pointers and the tile ran at half the speed.
 */
#define DIRECT_PT(CV) ((CV) >= 3 ? DIRECT_P / 2 : DIRECT_P)
/*
 * Floats from a block's weight run to its vector v's, with `rows` rows per panel: a block of
 * three vectors reaches into the next panel (panels are padded, so it exists).
 */
#define DIRECT_VOFF(v, rows)                                                                 \
    ((size_t)((v) * DW_LANES / DIRECT_PANEL) * (rows) * DIRECT_PANEL +                      \
     (size_t)((v) * DW_LANES % DIRECT_PANEL))

/*
 * P output pixels from ow0 x CV channel vectors from o0, over taps kh_lo..kh_hi-1 and
 * kw_lo..kw_hi-1 (the same for all P pixels: interior pixels, or P == 1 at a border).
 * Per element: bias, then the taps in (kh, kw, c) order.
 */
static inline __attribute__((always_inline)) void
direct_tile(const int P, const int CV, float *restrict y, int ow0, int ih0, int kh_lo,
            int kh_hi, int kw_lo, int kw_hi, int o0, const graft__direct_args *a) {
    const int C = a->C, CO = a->CO;
    const size_t row_step = (size_t)a->DH * a->W * C, tap_step = (size_t)a->DW * C;
    const size_t rows = (size_t)a->KH * a->KW * C;
    const float *x0[DIRECT_P];
#pragma GCC unroll 16
    for (int p = 0; p < P; p++)
        x0[p] = a->x + ((size_t)(ih0 + kh_lo * a->DH) * a->W +
                        (size_t)((ow0 + p) * a->SW - a->pad_l + kw_lo * a->DW)) * C;
    DW_VEC acc[DIRECT_P][4];
#pragma GCC unroll 16
    for (int v = 0; v < CV; v++) {
        DW_VEC b = a->bias ? DW_LOAD(a->bias + o0 + v * DW_LANES, DW_MASK_FOR(CO - o0 - v * DW_LANES))
                           : DW_ZERO();
#pragma GCC unroll 16
        for (int p = 0; p < P; p++) acc[p][v] = b;
    }
    /*
     * Undilated, a kernel row's taps are consecutive pixels, stored back to back in NHWC:
     * one run of nkw * C floats per pixel, as the weights' (kw, c) are, so the loop below
     * goes over 9 (3x3 on RGB) or 21 (7x7) taps at once rather than C = 3 at a time.
     */
    const int nkw = kw_hi - kw_lo, runs = a->DW == 1 ? 1 : nkw, run = a->DW == 1 ? nkw * C : C;
    for (int kh = 0; kh < kh_hi - kh_lo; kh++)
        for (int r = 0; r < runs; r++) {
            /* The padded weights need no mask: lanes past CO are zeros. */
            const size_t wrow = (size_t)((kh + kh_lo) * a->KW + kw_lo + r) * C;
            const float *wt = a->w + graft__direct_w_at(rows, DIRECT_PANEL, wrow, o0);
            const size_t at = kh * row_step + r * tap_step;
            for (int j = 0; j < run; j++) {
                DW_VEC wv[4];
#pragma GCC unroll 16
                for (int v = 0; v < CV; v++)
                    wv[v] = DW_LOAD(wt + (size_t)j * DIRECT_PANEL + DIRECT_VOFF(v, rows),
                                    DW_MASK_FOR(DW_LANES));
#pragma GCC unroll 16
                for (int p = 0; p < P; p++) {
                    DW_VEC xv = DW_SET1(x0[p][at + j]);
#pragma GCC unroll 16
                    for (int v = 0; v < CV; v++) acc[p][v] = DW_FMA(xv, wv[v], acc[p][v]);
                }
            }
        }
    float *yp = y + (size_t)ow0 * CO + o0;
#pragma GCC unroll 16
    for (int p = 0; p < P; p++)
#pragma GCC unroll 16
        for (int v = 0; v < CV; v++) {
            float *yv = yp + (size_t)p * CO + v * DW_LANES;
            DW_STORE(yv, DW_ACT(a->act, acc[p][v]), DW_MASK_FOR(CO - o0 - v * DW_LANES));
        }
}

/*
 * The same for P pixels of a pointwise strip (see conv.c), over input channels j0..j1-1
 * only: a pass that starts past channel 0 continues the sums left in y by the pass before
 * it, and one that ends before C stores them without the activation. The P pixels are C
 * floats apart, so they are addressed from one pointer per three (p, p + C, p + 2C): with a
 * pointer each, the unrolled loop ran out of registers and reloaded them from the stack.
 */
static inline __attribute__((always_inline)) void
pointwise_tile(const int P, const int CV, float *restrict y, int ow0, int o0,
               const graft__direct_args *a, int j0, int j1) {
    const size_t C = (size_t)a->C;
    const int CO = a->CO;
    const float *xs[(DIRECT_P + 2) / 3];
#pragma GCC unroll 16
    for (int k = 0; k < (P + 2) / 3; k++) xs[k] = a->x + (ow0 + 3 * k) * C + j0;
    const float *wt = a->w + graft__direct_w_at(C, DIRECT_PANEL, (size_t)j0, o0);
    float *yp = y + (size_t)ow0 * CO + o0;
    DW_VEC acc[DIRECT_P][4];
#pragma GCC unroll 16
    for (int v = 0; v < CV; v++) {
        const DW_MASK m = DW_MASK_FOR(CO - o0 - v * DW_LANES);
        DW_VEC b = a->bias ? DW_LOAD(a->bias + o0 + v * DW_LANES, m) : DW_ZERO();
#pragma GCC unroll 16
        for (int p = 0; p < P; p++)
            acc[p][v] = j0 ? DW_LOAD(yp + (size_t)p * CO + v * DW_LANES, m) : b;
    }
    /* The padded weights need no mask: lanes past CO are zeros. */
#pragma GCC unroll 2
    for (int j = 0; j < j1 - j0; j++) {
        /* Opaque to the optimizer, so that it cannot make a pointer per pixel of it. */
        size_t c = C;
        __asm__("" : "+r"(c));
        DW_VEC wv[4];
#pragma GCC unroll 16
        for (int v = 0; v < CV; v++)
            wv[v] = DW_LOAD(wt + (size_t)j * DIRECT_PANEL + DIRECT_VOFF(v, C),
                            DW_MASK_FOR(DW_LANES));
#pragma GCC unroll 16
        for (int p = 0; p < P; p++) {
            DW_VEC xv = DW_SET1(xs[p / 3][(size_t)(p % 3) * c + j]);
#pragma GCC unroll 16
            for (int v = 0; v < CV; v++) acc[p][v] = DW_FMA(xv, wv[v], acc[p][v]);
        }
    }
    const int last = j1 == a->C;
#pragma GCC unroll 16
    for (int p = 0; p < P; p++)
#pragma GCC unroll 16
        for (int v = 0; v < CV; v++) {
            float *yv = yp + (size_t)p * CO + v * DW_LANES;
            DW_VEC out = last ? DW_ACT(a->act, acc[p][v]) : acc[p][v];
            DW_STORE(yv, out, DW_MASK_FOR(CO - o0 - v * DW_LANES));
        }
}

/*
 * Input channels per pass of a pointwise block of CV vectors: the block's weights for one
 * pass (about DIRECT_PASS_BYTES) stay in L1 while its pixel tiles stream by. ResNet-50's
 * 512-128 at 28x28 has 32 KB of weights per 16-channel AVX2 block, all of Zen 3's L1.
 * Batch 1, one Zen 3 core, ratio to oneDNN over three alternating runs: 512-128 0.69-0.77
 * with 4 KB passes, 0.78-0.83 with 16 KB, 0.81-0.84 with none; 256-128 0.76-0.84, 0.86-0.91,
 * 0.79-0.82. The pass bounds the weights' share of L1 on wider blocks (AVX-512's 64 floats).
 */
#define DIRECT_PASS_BYTES (16 << 10)
static inline int direct_pass(int C, int CV) {
    int kc = DIRECT_PASS_BYTES / (CV * DW_LANES * (int)sizeof(float));
    int passes = (C + kc - 1) / kc;
    return (C + passes - 1) / passes;
}

/* One output-channel block (CV vectors from o0) of a pointwise strip (see conv.c). */
static inline __attribute__((always_inline)) void
pointwise_block(const int CV, float *restrict y, int o0, const graft__direct_args *a) {
    const int PT = DIRECT_PT(CV);
    const int kc = direct_pass(a->C, CV);
    for (int j0 = 0; j0 < a->C; j0 += kc) {
        const int j1 = j0 + kc < a->C ? j0 + kc : a->C;
        int ow = 0;
        for (; ow + PT <= a->OW; ow += PT) {
            /*
             * The strip is first read by the first channel block, from memory at batch 32.
             * A tile reads its PT pixels as PT short streams, too short for the hardware
             * prefetcher to follow: MobileNetV2's 144-32 at 28x28 ran at 35% of peak at
             * batch 32 and 64% at batch 1, in cache. So that block fetches the next tile's
             * pixels (two tiles ahead was slower on 576-96 at 14x14: 14 KB tiles).
             */
            if (o0 == 0 && ow + 2 * PT <= a->OW)
                for (int p = 0; p < PT; p++) {
                    const char *next = (const char *)(a->x + (size_t)(ow + PT + p) * a->C + j0);
                    for (size_t o = 0; o < sizeof(float) * (size_t)(j1 - j0); o += 64)
                        __builtin_prefetch(next + o, 0, 3);
                }
            pointwise_tile(PT, CV, y, ow, o0, a, j0, j1);
        }
        for (; ow + 4 <= a->OW; ow += 4) pointwise_tile(4, CV, y, ow, o0, a, j0, j1);
        for (; ow < a->OW; ow++) pointwise_tile(1, CV, y, ow, o0, a, j0, j1);
    }
}

/* One output-channel block (CV vectors from o0) of a whole row. */
static inline __attribute__((always_inline)) void
direct_block(const int CV, float *restrict y, int ih0, int kh_lo, int kh_hi, int ow_lo,
             int ow_hi, int o0, const graft__direct_args *a) {
    const int PT = DIRECT_PT(CV);
    int ow = 0;
    for (; ow < a->OW; ow++) {
        if (ow >= ow_lo && ow < ow_hi) {
            for (; ow + PT <= ow_hi; ow += PT)
                direct_tile(PT, CV, y, ow, ih0, kh_lo, kh_hi, 0, a->KW, o0, a);
            for (; ow + 4 <= ow_hi; ow += 4)
                direct_tile(4, CV, y, ow, ih0, kh_lo, kh_hi, 0, a->KW, o0, a);
            for (; ow < ow_hi; ow++)
                direct_tile(1, CV, y, ow, ih0, kh_lo, kh_hi, 0, a->KW, o0, a);
            if (ow >= a->OW) break;
        }
        int kw_lo, kw_hi;
        graft__tap_range(ow * a->SW - a->pad_l, a->DW, a->KW, a->W, &kw_lo, &kw_hi);
        direct_tile(1, CV, y, ow, ih0, kh_lo, kh_hi, kw_lo, kw_hi, o0, a);
    }
}

/*
 * Each block width in functions of its own: inlined into the row function, the tiles' loops
 * were register-allocated among all of its live values. GCC kept the pixel pointers and
 * strides of the three-vector pointwise tile on the stack (9 reloads per 18 FMAs), and adding
 * that width slowed the two-vector first layers by a third.
 */
#define DIRECT_WIDTH(CV)                                                                     \
    static __attribute__((noinline)) void pointwise_block_##CV(float *restrict y, int o0,    \
                                                               const graft__direct_args *a) { \
        pointwise_block(CV, y, o0, a);                                                       \
    }                                                                                        \
    static __attribute__((noinline)) void direct_block_##CV(                                 \
        float *restrict y, int ih0, int kh_lo, int kh_hi, int ow_lo, int ow_hi, int o0,      \
        const graft__direct_args *a) {                                                       \
        direct_block(CV, y, ih0, kh_lo, kh_hi, ow_lo, ow_hi, o0, a);                         \
    }
DIRECT_WIDTH(1)
DIRECT_WIDTH(2)
DIRECT_WIDTH(3)
DIRECT_WIDTH(4)
#undef DIRECT_WIDTH

void DIRECT_ROW_FN(float *restrict y, int oh, const graft__direct_args *a) {
    /* A pointwise strip (conv.c): one row of 1x1 taps, no padding, so no border tiles. */
    const int pointwise = a->H == 1 && a->KH == 1 && a->KW == 1 && a->SW == 1 && a->pad_l == 0;
    const int ih0 = oh * a->SH - a->pad_t;
    int kh_lo, kh_hi, ow_lo, ow_hi;
    graft__tap_range(ih0, a->DH, a->KH, a->H, &kh_lo, &kh_hi);
    graft__direct_interior(a, &ow_lo, &ow_hi);
#define DIRECT_BLOCK(CV, o0)                                                                 \
    (pointwise ? pointwise_block_##CV(y, o0, a)                                              \
               : direct_block_##CV(y, ih0, kh_lo, kh_hi, ow_lo, ow_hi, o0, a))
    int o0 = 0;
    /* Wide outputs (ResNet's 64 channels) four vectors at a time: half the broadcasts. */
    for (; DIRECT_CV4 && a->CO - o0 > 2 * DW_LANES; o0 += 4 * DW_LANES) DIRECT_BLOCK(4, o0);
    for (; a->CO - o0 > (DIRECT_CV4 ? 1 : 3) * DW_LANES; o0 += 2 * DW_LANES) DIRECT_BLOCK(2, o0);
    /*
     * Where 16 registers leave a tail of 17-24 channels (MobileNetV2's 24), one block of
     * three vectors rather than one of two and one of one: the one-vector block did 6 FMAs
     * per 7 loads and read the pixels a second time.
     */
    if (!DIRECT_CV4 && a->CO - o0 > 2 * DW_LANES)
        DIRECT_BLOCK(3, o0);
    else if (a->CO - o0 > DW_LANES)
        DIRECT_BLOCK(2, o0);
    else if (o0 < a->CO)
        DIRECT_BLOCK(1, o0);
#undef DIRECT_BLOCK
}
