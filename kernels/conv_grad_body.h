/*
 * kernels/conv_grad_body.h: the depthwise convolution backward kernels (NHWC, depth
 * multiplier 1) written once for every SIMD variant. A conv_grad_<isa>.c file defines the
 * vector type and operations below, then includes this file, which defines DWG_DATA_FN and
 * DWG_WEIGHT_FN (conv_grad.h states what they compute and in which order):
 *   DWG_VEC, DWG_LANES          the vector type and its float count
 *   DWG_MASK, DWG_MASK_FOR(n)   what selects the first min(n, DWG_LANES) channels
 *   DWG_LOAD(p, m), DWG_STORE(p, v, m), DWG_LOADU(p), DWG_STOREU(p, v), DWG_ZERO(),
 *   DWG_FMA(a, b, acc) = a * b + acc, DWG_ADD(a, b)
 * Channels are contiguous in NHWC, so everything vectorises along C with no shuffles; the
 * channel tail uses the masked forms.
 */
#include <assert.h>
#include <stddef.h>

/* dx (C) of one input pixel += the batch of `taps` taps listed in dy_off / w_off. */
static inline __attribute__((always_inline)) void
data_pixel(float *restrict dxp, int taps, const size_t *dy_off, const size_t *w_off,
           const graft__dwg_args *a) {
    const int C = a->C;
    const float *dy = a->dy, *w = a->w;
    int c = 0;
    /* Four vectors of channels in flight: four independent FMA chains per tap. */
    for (; c + 4 * DWG_LANES <= C; c += 4 * DWG_LANES) {
        DWG_VEC acc0 = DWG_ZERO(), acc1 = DWG_ZERO(), acc2 = DWG_ZERO(), acc3 = DWG_ZERO();
        for (int t = 0; t < taps; t++) {
            const float *g = dy + dy_off[t] + c, *k = w + w_off[t] + c;
            acc0 = DWG_FMA(DWG_LOADU(g), DWG_LOADU(k), acc0);
            acc1 = DWG_FMA(DWG_LOADU(g + DWG_LANES), DWG_LOADU(k + DWG_LANES), acc1);
            acc2 = DWG_FMA(DWG_LOADU(g + 2 * DWG_LANES), DWG_LOADU(k + 2 * DWG_LANES), acc2);
            acc3 = DWG_FMA(DWG_LOADU(g + 3 * DWG_LANES), DWG_LOADU(k + 3 * DWG_LANES), acc3);
        }
        DWG_STOREU(dxp + c, DWG_ADD(DWG_LOADU(dxp + c), acc0));
        DWG_STOREU(dxp + c + DWG_LANES, DWG_ADD(DWG_LOADU(dxp + c + DWG_LANES), acc1));
        DWG_STOREU(dxp + c + 2 * DWG_LANES, DWG_ADD(DWG_LOADU(dxp + c + 2 * DWG_LANES), acc2));
        DWG_STOREU(dxp + c + 3 * DWG_LANES, DWG_ADD(DWG_LOADU(dxp + c + 3 * DWG_LANES), acc3));
    }
    for (; c < C; c += DWG_LANES) {
        DWG_MASK m = DWG_MASK_FOR(C - c);
        DWG_VEC acc = DWG_ZERO();
        for (int t = 0; t < taps; t++)
            acc = DWG_FMA(DWG_LOAD(dy + dy_off[t] + c, m), DWG_LOAD(w + w_off[t] + c, m), acc);
        DWG_STORE(dxp + c, DWG_ADD(DWG_LOAD(dxp + c, m), acc), m);
    }
}

void DWG_DATA_FN(float *restrict dx, int ih, const graft__dwg_args *a) {
    assert(a->M == 1);
    size_t dy_off[GRAFT__DWG_TAPS], w_off[GRAFT__DWG_TAPS];
    for (int iw = 0; iw < a->W; iw++) {
        graft__dwg_tap_iter it = {-1, -1, 0};
        int taps;
        while ((taps = graft__dwg_taps(&it, ih, iw, a, dy_off, w_off)) > 0)
            data_pixel(dx + (size_t)iw * a->C, taps, dy_off, w_off, a);
    }
}

/*
 * Weight and bias sums of channels [c0, c0 + nc): the pixels stream past once, each reading
 * its slice of dy and x as contiguous runs (hardware prefetch follows them), and the
 * (KH * KW + 1) x nc accumulators stay in L1 in `sums`. Each sum still adds its terms in
 * (n, oh, ow) order, as conv_grad.h requires.
 */
void DWG_WEIGHT_FN(float *restrict sums, int c0, int nc, const graft__dwg_args *a) {
    assert(a->M == 1 && nc >= 1 && nc <= GRAFT__DWG_SLICE);
    const int C = a->C, KH = a->KH, KW = a->KW, taps = KH * KW;
    float *restrict bsum = sums + (size_t)taps * GRAFT__DWG_SLICE;
    for (int t = 0; t <= taps; t++)
        for (int c = 0; c < nc; c += DWG_LANES)
            DWG_STORE(sums + (size_t)t * GRAFT__DWG_SLICE + c, DWG_ZERO(), DWG_MASK_FOR(nc - c));
    for (int n = 0; n < a->N; n++) {
        const float *x = a->x + (size_t)n * a->x_image + c0;
        const float *dy = a->dy + (size_t)n * a->dy_image + c0;
        for (int oh = 0; oh < a->OH; oh++) {
            const int ih0 = oh * a->SH - a->pad_t;
            int kh_lo, kh_hi;
            graft__tap_range(ih0, a->DH, KH, a->H, &kh_lo, &kh_hi);
            for (int ow = 0; ow < a->OW; ow++) {
                const int iw0 = ow * a->SW - a->pad_l;
                int kw_lo, kw_hi;
                graft__tap_range(iw0, a->DW, KW, a->W, &kw_lo, &kw_hi);
                const float *g = dy + ((size_t)oh * a->OW + ow) * C;
                int c = 0;
                for (; c + DWG_LANES <= nc; c += DWG_LANES)
                    DWG_STOREU(bsum + c, DWG_ADD(DWG_LOADU(bsum + c), DWG_LOADU(g + c)));
                if (c < nc) {
                    DWG_MASK m = DWG_MASK_FOR(nc - c);
                    DWG_STORE(bsum + c, DWG_ADD(DWG_LOAD(bsum + c, m), DWG_LOAD(g + c, m)), m);
                }
                for (int kh = kh_lo; kh < kh_hi; kh++) {
                    const size_t row = (size_t)(ih0 + kh * a->DH) * a->W;
                    for (int kw = kw_lo; kw < kw_hi; kw++) {
                        const float *xp = x + (row + (size_t)(iw0 + kw * a->DW)) * C;
                        float *restrict s = sums + (size_t)(kh * KW + kw) * GRAFT__DWG_SLICE;
                        for (c = 0; c + DWG_LANES <= nc; c += DWG_LANES)
                            DWG_STOREU(s + c, DWG_FMA(DWG_LOADU(g + c), DWG_LOADU(xp + c),
                                                      DWG_LOADU(s + c)));
                        if (c < nc) {
                            DWG_MASK m = DWG_MASK_FOR(nc - c);
                            DWG_STORE(s + c, DWG_FMA(DWG_LOAD(g + c, m), DWG_LOAD(xp + c, m),
                                                     DWG_LOAD(s + c, m)), m);
                        }
                    }
                }
            }
        }
    }
}
