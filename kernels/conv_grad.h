/*
 * kernels/conv_grad.h: what the convolution backward driver (conv_grad.c) shares with its
 * per-ISA depthwise kernels (conv_grad_<isa>.c). Internal to libgraft.
 *
 * Only depthwise layers (groups == C_in) have kernels of their own; every other layer runs on
 * graft_sgemm in the driver. The scalar kernels (conv_grad_ref.c) are the specification and
 * take any depth multiplier; the SIMD ones take multiplier 1, the MobileNet case, and the
 * driver sends the others to the scalar kernels.
 */
#ifndef GRAFT_CONV_GRAD_INTERNAL_H
#define GRAFT_CONV_GRAD_INTERNAL_H

#include "conv.h"

/* One image of a depthwise convolution's backward pass, NHWC. */
typedef struct graft__dwg_args {
    const float *x;  /* (H, W, C) this image's input (weight gradient only) */
    const float *dy; /* (OH, OW, C * M) this image's output gradient */
    const float *w;  /* (KH, KW, C * M) the weights repacked channels-last (data gradient only) */
    int H, W, C, M;  /* M: depth multiplier; output channel c * M + j reads input channel c */
    int OH, OW;
    int KH, KW, SH, SW, DH, DW, pad_t, pad_l;
    size_t x_image, dy_image; /* floats from one image to the next (weight gradient only) */
    int N;                    /* images (weight gradient only) */
} graft__dwg_args;

/*
 * Data gradient of input row ih: dx (W, C) += the sum, over the output pixels whose window
 * holds (ih, iw) and the taps (kh, kw) that land there, of dy * w. Each input pixel sums its
 * taps in increasing (kh, kw), and for multiplier M > 1 the M output channels of a tap in
 * increasing j, into a zero accumulator, then adds it to dx. Taps are handed out in batches
 * of at most GRAFT__DWG_TAPS, each batch added to dx on its own, so kernels larger than that
 * round once per batch in every variant.
 */
typedef void (*graft__dwg_data_fn)(float *restrict dx, int ih, const graft__dwg_args *a);

#define GRAFT__DWG_TAPS 64

/*
 * Weight and bias gradient sums of output channels [c0, c0 + nc), nc <= GRAFT__DWG_SLICE,
 * over all a->N images: sums (KH * KW + 1, GRAFT__DWG_SLICE), row t < KH * KW the tap
 * t = kh * KW + kw, the last row the sum of dy. Every sum starts at zero and adds dy * x over
 * the images, output rows and output columns in increasing order, so a channel's sums depend
 * neither on its slice nor on the thread. The driver adds them into dweight and dbias.
 */
typedef void (*graft__dwg_weight_fn)(float *restrict sums, int c0, int nc,
                                     const graft__dwg_args *a);

/*
 * Channels per weight-gradient task: 512 bytes of each pixel, long enough runs for the
 * hardware prefetcher, while the sums ((KH * KW + 1) x 128 floats for 3x3) stay in L1.
 */
#define GRAFT__DWG_SLICE 128

void graft_dwconv_grad_data_row_ref(float *restrict dx, int ih, const graft__dwg_args *a);
void graft_dwconv_grad_weight_ref(float *restrict sums, int c0, int nc, const graft__dwg_args *a);
#if defined(__x86_64__)
void graft_dwconv_grad_data_row_avx2(float *restrict dx, int ih, const graft__dwg_args *a);
void graft_dwconv_grad_weight_avx2(float *restrict sums, int c0, int nc,
                                   const graft__dwg_args *a);
void graft_dwconv_grad_data_row_avx512(float *restrict dx, int ih, const graft__dwg_args *a);
void graft_dwconv_grad_weight_avx512(float *restrict sums, int c0, int nc,
                                     const graft__dwg_args *a);
#endif
#if defined(__aarch64__)
void graft_dwconv_grad_data_row_neon(float *restrict dx, int ih, const graft__dwg_args *a);
void graft_dwconv_grad_weight_neon(float *restrict sums, int c0, int nc,
                                   const graft__dwg_args *a);
#endif

/*
 * The taps of input row (or column) i that some output reaches, for stride s, dilation d,
 * padding p, k taps and `out` outputs: calls are made in increasing tap order. Written as an
 * iteration so the kernels share it: *k starts at -1; each call advances to the next tap
 * whose output o = (i + p - k * d) / s is whole and inside [0, out), writes o and returns 1,
 * or returns 0 when none is left.
 */
static inline int graft__dwg_next_tap(int i, int p, int s, int d, int k_count, int out, int *k,
                                      int *o) {
    for (int kk = *k + 1; kk < k_count; kk++) {
        int t = i + p - kk * d;
        if (t < 0) break; /* t only falls as the tap grows */
        if (t % s || t / s >= out) continue;
        *k = kk;
        *o = t / s;
        return 1;
    }
    *k = k_count;
    return 0;
}

/* Where graft__dwg_taps stands between two calls for one input pixel: start with {-1, -1, 0}. */
typedef struct graft__dwg_tap_iter {
    int kh, kw, oh;
} graft__dwg_tap_iter;

/*
 * The next batch (at most GRAFT__DWG_TAPS) of the taps reaching input pixel (ih, iw), in
 * increasing (kh, kw): for each, the offset of its dy pixel in the image (dy_off, floats) and
 * of its weights in a->w (w_off). Returns how many; 0 when all have been handed out.
 */
static inline int graft__dwg_taps(graft__dwg_tap_iter *it, int ih, int iw,
                                  const graft__dwg_args *a, size_t *dy_off, size_t *w_off) {
    const size_t CM = (size_t)a->C * a->M;
    int n = 0, ow;
    while (n < GRAFT__DWG_TAPS) {
        if (it->kh < 0 ||
            !graft__dwg_next_tap(iw, a->pad_l, a->SW, a->DW, a->KW, a->OW, &it->kw, &ow)) {
            if (!graft__dwg_next_tap(ih, a->pad_t, a->SH, a->DH, a->KH, a->OH, &it->kh, &it->oh))
                break;
            it->kw = -1;
            continue;
        }
        dy_off[n] = ((size_t)it->oh * a->OW + ow) * CM;
        w_off[n] = ((size_t)it->kh * a->KW + it->kw) * CM;
        n++;
    }
    return n;
}

#endif
