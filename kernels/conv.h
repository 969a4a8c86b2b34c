/*
 * kernels/conv.h: what the convolution driver (conv.c) shares with its per-ISA depthwise
 * kernels (conv_<isa>.c). Internal to libgraft.
 */
#ifndef GRAFT_CONV_INTERNAL_H
#define GRAFT_CONV_INTERNAL_H

#include "kernels.h"

/* One image of a depthwise convolution with depth multiplier 1, NHWC. */
typedef struct graft__dw_args {
    const float *x;    /* (H, W, C) */
    int H, W, C;
    int KH, KW, SH, SW, DH, DW, pad_t, pad_l;
    int OW;
    const float *w;    /* (KH, KW, C): the weights repacked channels-last */
    const float *bias; /* (C) or NULL */
    graft_act act;
} graft__dw_args;

/* Computes output row oh of one image: y (OW, C). */
typedef void (*graft__dw_row_fn)(float *restrict y, int oh, const graft__dw_args *a);

void graft_dwconv_row_ref(float *restrict y, int oh, const graft__dw_args *a);
#if defined(__x86_64__)
void graft_dwconv_row_avx2(float *restrict y, int oh, const graft__dw_args *a);
void graft_dwconv_row_avx512(float *restrict y, int oh, const graft__dw_args *a);
#endif
#if defined(__aarch64__)
void graft_dwconv_row_neon(float *restrict y, int oh, const graft__dw_args *a);
#endif

/*
 * One image of a groups-1 convolution run by the "direct" algorithm of conv.c (a first layer
 * on RGB, or a chunk of a contracting 1x1 layer's pixels as a one-row image), NHWC. The
 * geometry fields mean what they do in graft__dw_args.
 */
typedef struct graft__direct_args {
    const float *x;    /* (H, W, C) */
    int H, W, C;
    int KH, KW, SH, SW, DH, DW, pad_t, pad_l;
    int OW, CO;        /* output width and channels */
    int panel;         /* output channels per weight panel, below */
    const float *w;    /* the weights in panels, graft__direct_w_at */
    const float *bias; /* (CO) or NULL */
    graft_act act;
} graft__direct_args;

/*
 * The direct weights come in panels of `panel` output channels, each (KH, KW, C, panel):
 * tap-major, output channels innermost, the last panel zero padded. A panel is the widest
 * channel block of the ISA's row kernel (conv_direct_body.h), so a block reads one run of
 * panel floats per tap rather than one strided across all of C_out: in one (KH, KW, C, C_out)
 * matrix a block of ResNet-50's 512-128 read its 512 rows 512 bytes apart, all of them in 8
 * of L1's 64 sets.
 */
static inline size_t graft__direct_w_at(size_t rows, int panel, size_t r, int o) {
    return ((size_t)(o / panel) * rows + r) * (size_t)panel + (size_t)(o % panel);
}

/* Computes output row oh of one image: y (OW, CO). */
typedef void (*graft__direct_row_fn)(float *restrict y, int oh, const graft__direct_args *a);

void graft_direct_row_ref(float *restrict y, int oh, const graft__direct_args *a);
#if defined(__x86_64__)
void graft_direct_row_avx2(float *restrict y, int oh, const graft__direct_args *a);
void graft_direct_row_avx512(float *restrict y, int oh, const graft__direct_args *a);
#endif
#if defined(__aarch64__)
void graft_direct_row_neon(float *restrict y, int oh, const graft__direct_args *a);
#endif

/*
 * The taps that land inside the input: k in [*lo, *hi) satisfy 0 <= i0 + k * d < size, for a
 * window starting at i0 (negative in the padding) with dilation d and k taps.
 */
static inline void graft__tap_range(int i0, int d, int k, int size, int *lo, int *hi) {
    int l = i0 >= 0 ? 0 : (-i0 + d - 1) / d;
    int h = size - 1 - i0 < 0 ? 0 : (size - 1 - i0) / d + 1;
    *lo = l < k ? l : k;
    *hi = h < k ? h : k;
    if (*hi < *lo) *hi = *lo;
}

/* The output columns [*lo, *hi) whose every tap lies inside the image horizontally. */
static inline void graft__direct_interior(const graft__direct_args *a, int *lo, int *hi) {
    int l = (a->pad_l + a->SW - 1) / a->SW;
    int last = a->W - 1 - (a->KW - 1) * a->DW + a->pad_l; /* largest ow * SW allowed */
    int h = last < 0 ? 0 : last / a->SW + 1;
    *lo = l < a->OW ? l : a->OW;
    *hi = h < a->OW ? h : a->OW;
    if (*hi < *lo) *hi = *lo;
}

/* The scalar activation of graft_act, shared by the depthwise kernels' tails. */
static inline float graft__act_scalar(graft_act act, float v) {
    if (act == GRAFT_ACT_NONE) return v;
    v = v > 0.0f ? v : 0.0f;
    return act == GRAFT_ACT_RELU6 && v > 6.0f ? 6.0f : v;
}

#endif
