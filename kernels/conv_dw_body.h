/*
 * kernels/conv_dw_body.h: the depthwise convolution row (NHWC) written once for every SIMD
 * variant. A conv_<isa>.c file defines the vector type and operations below, then includes
 * this file, which defines DW_ROW_FN from them:
 *   DW_VEC, DW_LANES        the vector type and its float count
 *   DW_MASK, DW_MASK_FOR(n) what selects the first min(n, DW_LANES) channels
 *   DW_LOAD(p, m), DW_STORE(p, v, m), DW_ZERO(), DW_FMA(x, w, acc) = x * w + acc,
 *   DW_ACT(act, v)          the graft_act activation
 * A pixel's channels are contiguous, so each tap is a run of vector loads along C, and the
 * weights of all taps (KH * KW * C floats) stay in L1. Pixels whose window lies inside the
 * image horizontally go eight at a time (3x3 and 5x5 at stride 1 or 2 through the sliding
 * kernel below); border pixels go one at a time over their valid taps.
 */

/*
 * Runs CALL for every channel vector from c0 with c and m (its mask) in scope: whole vectors
 * first with a mask the compiler sees as full, then the tail. A run-time mask leaves a tail
 * branch in every load, and on AVX2, whose tail goes through the stack, it spilled the
 * accumulators: this split took AVX2's 3x3 layers from 0.5-0.85 to 0.8-1.25 of oneDNN.
 */
#define DW_CHANNELS(c0, C, CALL)                                                              \
    do {                                                                                      \
        int c = (c0);                                                                         \
        for (; c + DW_LANES <= (C); c += DW_LANES) {                                          \
            const DW_MASK m = DW_MASK_FOR(DW_LANES);                                          \
            CALL;                                                                             \
        }                                                                                     \
        if (c < (C)) {                                                                        \
            const DW_MASK m = DW_MASK_FOR((C) - c);                                           \
            CALL;                                                                             \
        }                                                                                     \
    } while (0)

/*
 * The input rows the next output row is the first to reach, asked for into L2 while this row
 * computes, a few lines per channel vector (pf_step) so that the requests are spread over the
 * row: asked for all at once at its start, a row's 32-86 KB filled the miss buffers and
 * stalled the core until most of it had arrived.
 */
typedef struct dw_pf {
    const char *row[2]; /* the rows' starts */
    int nrows;
    size_t at, end, per; /* next line, lines per row, lines per step */
} dw_pf;

static inline __attribute__((always_inline)) void pf_step(dw_pf *f) {
    size_t e = f->at + f->per < f->end ? f->at + f->per : f->end;
    for (int r = 0; r < f->nrows; r++)
        for (size_t l = f->at; l < e; l++) __builtin_prefetch(f->row[r] + l * 64, 0, 2);
    f->at = e;
}

/* P accumulators of channel vector c (mask m), each starting at the bias (or zero). */
static inline __attribute__((always_inline)) void
acc_start(const int P, DW_VEC *acc, int c, DW_MASK m, const graft__dw_args *a) {
    DW_VEC b = a->bias ? DW_LOAD(a->bias + c, m) : DW_ZERO();
#pragma GCC unroll 8
    for (int p = 0; p < P; p++) acc[p] = b;
}

/* P consecutive pixels' vectors from yc (pixel stride C), activated. */
static inline __attribute__((always_inline)) void
acc_store(const int P, float *restrict yc, const DW_VEC *acc, DW_MASK m,
          const graft__dw_args *a) {
    const int C = a->C;
    for (int p = 0; p < P; p++) DW_STORE(yc + (size_t)p * C, DW_ACT(a->act, acc[p]), m);
}

/* pixels()' channel vector c (mask m); x0[p]: pixel p's first valid tap. */
static inline __attribute__((always_inline)) void
pixels_vec(const int P, const int KH, const int KW, int nkh, int nkw, const float *const *x0,
           const float *w0, float *restrict y0, size_t row_step, size_t tap_step, int c,
           DW_MASK m, const graft__dw_args *a) {
    const int C = a->C;
    DW_VEC acc[8];
    acc_start(P, acc, c, m, a);
#pragma GCC unroll 5
    for (int kh = 0; kh < KH; kh++) {
        if (kh >= nkh) break;
#pragma GCC unroll 5
        for (int kw = 0; kw < KW; kw++) {
            if (kw >= nkw) break;
            DW_VEC wv = DW_LOAD(w0 + ((size_t)kh * KW + kw) * C + c, m);
            for (int p = 0; p < P; p++)
                acc[p] =
                    DW_FMA(DW_LOAD(x0[p] + kh * row_step + kw * tap_step + c, m), wv, acc[p]);
        }
    }
    acc_store(P, y0 + c, acc, m, a);
}

/*
 * P output pixels from ow0 (P = 1..8) whose taps kw_lo..kw_hi-1 are all inside the image,
 * rows kh_lo..kh_hi-1, channels c0..C-1. KH_/KW_: compile-time kernel size, or 0 to read it
 * from a.
 */
static inline __attribute__((always_inline)) void
pixels(const int P, const int KH_, const int KW_, float *restrict y, int ow0, int ih0,
       int kh_lo, int kh_hi, int kw_lo, int kw_hi, int c0, const graft__dw_args *a, dw_pf *f) {
    const int KH = KH_ ? KH_ : a->KH, KW = KW_ ? KW_ : a->KW, C = a->C;
    const int nkh = kh_hi - kh_lo, nkw = kw_hi - kw_lo;
    /* Pointers to each pixel's first valid tap; taps are then fixed strides away. */
    const size_t row_step = (size_t)a->DH * a->W * C, tap_step = (size_t)a->DW * C;
    const float *x0[8];
    for (int p = 0; p < P; p++)
        x0[p] = a->x + ((size_t)(ih0 + kh_lo * a->DH) * a->W +
                        (size_t)((ow0 + p) * a->SW - a->pad_l + kw_lo * a->DW)) * C;
    const float *w0 = a->w + ((size_t)kh_lo * KW + kw_lo) * C;
    float *y0 = y + (size_t)ow0 * C;
    DW_CHANNELS(c0, C, (pf_step(f),
                        pixels_vec(P, KH, KW, nkh, nkw, x0, w0, y0, row_step, tap_step, c, m, a)));
}

/*
 * One pixel, four channel vectors at a time. A lone pixel's taps are one chain of dependent
 * FMAs per vector, bound by the FMA latency; border pixels come alone, and on the narrow maps
 * at the end of a network (7 or 14 wide) they are a third of all pixels. Same arithmetic per
 * element as pixels() (bias, then the taps in order).
 */
static inline __attribute__((always_inline)) void
pixel1(const int KH_, const int KW_, float *restrict y, int ow0, int ih0, int kh_lo, int kh_hi,
       int kw_lo, int kw_hi, const graft__dw_args *a, dw_pf *f) {
    enum { U = 4 };
    const int KH = KH_ ? KH_ : a->KH, KW = KW_ ? KW_ : a->KW, C = a->C;
    const int nkh = kh_hi - kh_lo, nkw = kw_hi - kw_lo;
    const size_t row_step = (size_t)a->DH * a->W * C, tap_step = (size_t)a->DW * C;
    const float *x0 = a->x + ((size_t)(ih0 + kh_lo * a->DH) * a->W +
                              (size_t)(ow0 * a->SW - a->pad_l + kw_lo * a->DW)) * C;
    const float *w0 = a->w + ((size_t)kh_lo * KW + kw_lo) * C;
    float *y0 = y + (size_t)ow0 * C;
    int c = 0;
    for (; c + U * DW_LANES <= C; c += U * DW_LANES) {
        const DW_MASK m = DW_MASK_FOR(DW_LANES);
        pf_step(f);
        DW_VEC acc[U];
        for (int u = 0; u < U; u++)
            acc[u] = a->bias ? DW_LOAD(a->bias + c + u * DW_LANES, m) : DW_ZERO();
#pragma GCC unroll 5
        for (int kh = 0; kh < KH; kh++) {
            if (kh >= nkh) break;
#pragma GCC unroll 5
            for (int kw = 0; kw < KW; kw++) {
                if (kw >= nkw) break;
                const float *xp = x0 + kh * row_step + kw * tap_step + c;
                const float *wp = w0 + ((size_t)kh * KW + kw) * C + c;
                for (int u = 0; u < U; u++)
                    acc[u] = DW_FMA(DW_LOAD(xp + u * DW_LANES, m), DW_LOAD(wp + u * DW_LANES, m),
                                    acc[u]);
            }
        }
        for (int u = 0; u < U; u++) DW_STORE(y0 + c + u * DW_LANES, DW_ACT(a->act, acc[u]), m);
    }
    if (c < C) pixels(1, KH_, KW_, y, ow0, ih0, kh_lo, kh_hi, kw_lo, kw_hi, c, a, f);
}

/* pixels_slide's channel vector c (mask m) of its eight pixels. */
static inline __attribute__((always_inline)) void
slide_vec(const int KH_, const int KW_, const int SW_, float *restrict y, int ow0, int kh_lo,
          int kh_hi, const float *x0, const float *w0, size_t row_step, int c, DW_MASK m,
          const graft__dw_args *a) {
    enum { P = 8 };
    const int C = a->C, span = SW_ * (P - 1) + KW_;
    DW_VEC acc[P];
    acc_start(P, acc, c, m, a);
#pragma GCC unroll 5
    for (int kh = 0; kh < KH_; kh++) {
        if (kh >= kh_hi - kh_lo) break;
        const float *xr = x0 + kh * row_step + c, *wr = w0 + (size_t)kh * KW_ * C + c;
        /*
         * KW_ is 3 or 5 here. Sized by KW_ (a parameter, not a C constant) this was a VLA,
         * which GCC kept on the stack: a stack adjustment and KW_ stores per kernel row.
         */
        DW_VEC wv[5];
#pragma GCC unroll 5
        for (int kw = 0; kw < KW_; kw++) wv[kw] = DW_LOAD(wr + (size_t)kw * C, m);
#pragma GCC unroll 20
        for (int j = 0; j < span; j++) {
            DW_VEC xv = DW_LOAD(xr + (size_t)j * C, m);
#pragma GCC unroll 5
            for (int kw = 0; kw < KW_; kw++) {
                int q = j - kw;
                if (q >= 0 && q % SW_ == 0 && q / SW_ < P)
                    acc[q / SW_] = DW_FMA(xv, wv[kw], acc[q / SW_]);
            }
        }
    }
    acc_store(P, y + (size_t)ow0 * C + c, acc, m, a);
}

/*
 * Eight interior pixels of a 3x3 or 5x5 kernel at stride SW_ (1 or 2), no dilation: the
 * input columns the eight windows span are loaded once per kernel row and each feeds every
 * output whose window holds it (up to KW of them at stride 1), so the loop does about three
 * loads per output vector instead of nine, and is bound by the FMAs.
 */
static inline __attribute__((always_inline)) void
pixels_slide(const int KH_, const int KW_, const int SW_, float *restrict y, int ow0, int ih0,
             int kh_lo, int kh_hi, const graft__dw_args *a, dw_pf *f) {
    enum { P = 8 };
    const int C = a->C;
    const float *x0 = a->x + ((size_t)(ih0 + kh_lo * a->DH) * a->W +
                              (size_t)(ow0 * SW_ - a->pad_l)) * C;
    const size_t row_step = (size_t)a->DH * a->W * C;
    const float *w0 = a->w + (size_t)kh_lo * KW_ * C;
    /*
     * At batch 32 a layer streams from DRAM, and the rows this output row is the first to
     * reach (the last SH of its window; the others were read for the row before) arrive late:
     * the hardware prefetcher follows one stream, not the three rows the window interleaves.
     * Asking for them a few KB ahead took the 3x3 layers of MobileNetV2 from 7 to about
     * 10-11 GB/s on one core here. In cache (batch 1) the hint costs nothing measurable.
     */
    {
        const size_t group = (size_t)P * SW_ * C * sizeof(float);
        const size_t ahead = group > 4096 ? group : 4096;
        const int nkh = kh_hi - kh_lo;
        for (int r = nkh > a->SH ? nkh - a->SH : 0; r < nkh; r++) {
            const char *pf = (const char *)(x0 + r * row_step) + ahead;
            for (size_t o = 0; o < group; o += 64) __builtin_prefetch(pf + o, 0, 3);
        }
    }
    DW_CHANNELS(0, C, (pf_step(f), slide_vec(KH_, KW_, SW_, y, ow0, kh_lo, kh_hi, x0, w0,
                                             row_step, c, m, a)));
}

/*
 * pixels_edge's channel vector c (mask m); pixel p's taps are lo[p]..hi[p]-1 from at[p]. NP > 0
 * (compile-time): np == NP and pixels 1..NP-2 take every tap, so only the two ends test theirs;
 * tested per tap and pixel, 72 branches per vector outnumbered the FMAs on the 7x7 maps.
 */
static inline __attribute__((always_inline)) void
edge_vec(const int NP, const int KH, const int KW, int nkh, int np, const float *xr,
         const ptrdiff_t *at, const int *lo, const int *hi, const float *w0, float *restrict y0,
         size_t row_step, int c, DW_MASK m, const graft__dw_args *a) {
    enum { P = 8 };
    const int C = a->C;
    DW_VEC acc[P];
    acc_start(P, acc, c, m, a);
#pragma GCC unroll 5
    for (int kh = 0; kh < KH; kh++) {
        if (kh >= nkh) break;
#pragma GCC unroll 5
        for (int kw = 0; kw < KW; kw++) {
            DW_VEC wv = DW_LOAD(w0 + ((size_t)kh * KW + kw) * C + c, m);
            const float *xk = xr + kh * row_step + (ptrdiff_t)kw * a->DW * C + c;
#pragma GCC unroll 8
            for (int p = 0; p < P; p++) {
                int take = NP && p >= NP            ? 0
                           : NP && p > 0 && p < NP - 1 ? 1
                                                       : kw >= lo[p] && kw < hi[p];
                if (take) acc[p] = DW_FMA(DW_LOAD(xk + at[p], m), wv, acc[p]);
            }
        }
    }
#pragma GCC unroll 8
    for (int p = 0; p < P; p++)
        if (NP ? p < NP : p < np) DW_STORE(y0 + (size_t)p * C + c, DW_ACT(a->act, acc[p]), m);
}

/*
 * np (1..8) pixels from ow0, each over its own valid taps: a whole narrow row (7 wide at the
 * end of MobileNetV2), which is mostly border. One at a time (pixel1) each pixel is a chain of
 * dependent FMAs; here up to eight chains are in flight. Same arithmetic per element as
 * pixels() and pixel1() (bias, then the valid taps in (kh, kw) order).
 */
static inline __attribute__((always_inline)) void
pixels_edge(const int NP, const int KH_, const int KW_, float *restrict y, int ow0, int np,
            int ih0, int kh_lo, int kh_hi, const graft__dw_args *a, dw_pf *f) {
    enum { P = 8 };
    const int KH = KH_ ? KH_ : a->KH, KW = KW_ ? KW_ : a->KW, C = a->C;
    const int nkh = kh_hi - kh_lo;
    const size_t row_step = (size_t)a->DH * a->W * C;
    const float *xr = a->x + (size_t)(ih0 + kh_lo * a->DH) * a->W * C;
    int lo[P], hi[P];
    ptrdiff_t at[P]; /* the pixel's first tap column (may be in the padding) times C */
    for (int p = 0; p < P; p++) {
        int iw0 = (ow0 + p) * a->SW - a->pad_l;
        lo[p] = hi[p] = 0;
        if (p < np) graft__tap_range(iw0, a->DW, KW, a->W, &lo[p], &hi[p]);
        at[p] = (ptrdiff_t)iw0 * C;
    }
    const float *w0 = a->w + (size_t)kh_lo * KW * C;
    float *y0 = y + (size_t)ow0 * C;
    DW_CHANNELS(0, C, (pf_step(f),
                       edge_vec(NP, KH, KW, nkh, np, xr, at, lo, hi, w0, y0, row_step, c, m, a)));
}

/*
 * A row of at most 8 pixels whole, through pixels_edge specialised on its width when only its
 * two end pixels lose taps (3x3 and 5x5 with the usual padding).
 */
static inline __attribute__((always_inline)) void
narrow_row(const int KH_, const int KW_, float *restrict y, int ih0, int kh_lo, int kh_hi,
           const graft__dw_args *a, dw_pf *f) {
    const int KW = KW_ ? KW_ : a->KW;
    int inner_full = KW_ != 0;
    for (int p = 1; p + 1 < a->OW; p++) {
        int lo, hi;
        graft__tap_range(p * a->SW - a->pad_l, a->DW, KW, a->W, &lo, &hi);
        if (lo != 0 || hi != KW) inner_full = 0;
    }
    switch (inner_full ? a->OW : 0) {
#define DW_NARROW(n) \
    case n: pixels_edge(n, KH_, KW_, y, 0, n, ih0, kh_lo, kh_hi, a, f); break;
        DW_NARROW(1) DW_NARROW(2) DW_NARROW(3) DW_NARROW(4)
        DW_NARROW(5) DW_NARROW(6) DW_NARROW(7) DW_NARROW(8)
#undef DW_NARROW
    default: pixels_edge(0, KH_, KW_, y, 0, a->OW, ih0, kh_lo, kh_hi, a, f);
    }
}

static inline __attribute__((always_inline)) void row(const int KH_, const int KW_,
                                                       float *restrict y, int oh,
                                                       const graft__dw_args *a) {
    const int KW = KW_ ? KW_ : a->KW;
    const int ih0 = oh * a->SH - a->pad_t;
    int kh_lo, kh_hi;
    graft__tap_range(ih0, a->DH, KH_ ? KH_ : a->KH, a->H, &kh_lo, &kh_hi);
    /*
     * Ask for the input rows the next output row is the first to reach (dw_pf), into L2,
     * while this one computes: a task is one output row, too short (7 to 56 pixels at batch
     * 32 in MobileNetV2) for the hardware prefetcher to get ahead of it. With the prefetch
     * within the row (pixels_slide) it took the 3x3 layers from 0.5-0.8 to 0.6-1.0 of oneDNN
     * at batch 32 here, and stride-2 ones gained the most. Spread over the row's channel
     * vectors rather than asked for at its start, on one Zen 3 core MobileNetV2's dw 144-56
     * at batch 32 went from 18-19 to 13-14 ms and dw s2 96-112 from 26-27 to 18-19.
     */
    dw_pf f = {{NULL, NULL}, 0, 0, ((size_t)a->W * a->C * sizeof(float) + 63) / 64, 0};
    {
        const int KH = KH_ ? KH_ : a->KH;
        for (int k = KH; k < KH + a->SH && f.nrows < 2; k++) {
            int ih = ih0 + (k - 1) * a->DH + 1;
            if (ih >= 0 && ih < a->H)
                f.row[f.nrows++] = (const char *)(a->x + (size_t)ih * a->W * a->C);
        }
        /* about one step per eight pixels, each over every channel vector */
        size_t steps = (size_t)(a->OW + 7) / 8 * (size_t)((a->C + DW_LANES - 1) / DW_LANES);
        f.per = (f.end + steps - 1) / steps;
    }
    int ow = 0;
    while (ow < a->OW) {
        int kw_lo, kw_hi;
        graft__tap_range(ow * a->SW - a->pad_l, a->DW, KW, a->W, &kw_lo, &kw_hi);
        int last_full = (a->W - 1 - (KW - 1) * a->DW + a->pad_l); /* ow * SW <= this */
        /*
         * A pixel's taps form one chain of dependent FMAs; eight pixels in flight keep both
         * FMA pipes busy through the 4-cycle latency.
         */
        int full = kw_lo == 0 && kw_hi == KW;
        int full8 = full && ow + 7 < a->OW && (ow + 7) * a->SW <= last_full;
        if (full8 && KW_ && a->DW == 1 && a->SW == 1) {
            pixels_slide(KH_, KW_, 1, y, ow, ih0, kh_lo, kh_hi, a, &f);
            ow += 8;
        } else if (full8 && KW_ && a->DW == 1 && a->SW == 2) {
            pixels_slide(KH_, KW_, 2, y, ow, ih0, kh_lo, kh_hi, a, &f);
            ow += 8;
        } else if (full8) {
            pixels(8, KH_, KW_, y, ow, ih0, kh_lo, kh_hi, 0, KW, 0, a, &f);
            ow += 8;
        } else if (ow == 0 && a->OW <= 8) {
            /* a narrow row whole (on wider ones it measured slower than pixels() and pixel1) */
            narrow_row(KH_, KW_, y, ih0, kh_lo, kh_hi, a, &f);
            ow = a->OW;
        } else if (full && ow + 3 < a->OW && (ow + 3) * a->SW <= last_full) {
            pixels(4, KH_, KW_, y, ow, ih0, kh_lo, kh_hi, 0, KW, 0, a, &f);
            ow += 4;
        } else {
            pixel1(KH_, KW_, y, ow, ih0, kh_lo, kh_hi, kw_lo, kw_hi, a, &f);
            ow += 1;
        }
    }
}

void DW_ROW_FN(float *restrict y, int oh, const graft__dw_args *a) {
    if (a->KH == 3 && a->KW == 3)
        row(3, 3, y, oh, a);
    else if (a->KH == 5 && a->KW == 5)
        row(5, 5, y, oh, a);
    else
        row(0, 0, y, oh, a);
}
