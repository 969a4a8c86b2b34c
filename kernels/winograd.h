/*
 * kernels/winograd.h: what the Winograd convolution driver (winograd.c) shares with the
 * convolution planner (conv.c) and with its per-ISA transforms (winograd_<isa>.c, written once
 * in winograd_body.h, and the scalar specification winograd_ref.c). Internal to libgraft.
 *
 * F(4x4, 3x3): a 4x4 block of outputs comes from a 6x6 window d of inputs through 36
 * element-wise products per channel pair, Y = A^T [(G g G^T) .* (B^T d B)] A, instead of 144
 * multiply-adds. The interpolation points are 0, 1, -1, 1/2, -2 and infinity, five of the
 * usual well-conditioned set {0, +-1, +-2, +-1/2}. Simulated in float on random layers of 16 to
 * 256 channels, this choice gives about 0.75x the RMS and 0.4x the largest error of Lavin's
 * 0, +-1, +-2 (largest 2.4..3.0 against 4.9..8.1 units of eps * sum |x * w|); its mirror
 * image 0, 1, -1, -1/2, 2 does as well, and {0, +-1, +-1/2} about as well as Lavin's.
 *
 *   B^T = [ 1  -3/2   -2   3/2    1  0 ]   G = [     1      0      0 ]
 *         [ 0    -1  1/2   5/2    1  0 ]       [   1/3    1/3    1/3 ]
 *         [ 0     1 -5/2   1/2    1  0 ]       [  -1/3    1/3   -1/3 ]
 *         [ 0    -2   -1     2    1  0 ]       [-16/15  -8/15  -4/15 ]
 *         [ 0   1/2   -1  -1/2    1  0 ]       [  1/15  -2/15   4/15 ]
 *         [ 0     1 -3/2    -2  3/2  1 ]       [     0      0      1 ]
 *
 *   A^T = [ 1  1   1    1   1  0 ]
 *         [ 0  1  -1  1/2  -2  0 ]
 *         [ 0  1   1  1/4   4  0 ]
 *         [ 0  1  -1  1/8  -8  1 ]
 *
 * Positions of a 6x6 tile are numbered t = 6 * row + column. Every coefficient of B^T and A^T
 * is exact in float; G is applied once, in double, when a plan is made.
 */
#ifndef GRAFT_WINOGRAD_INTERNAL_H
#define GRAFT_WINOGRAD_INTERNAL_H

#include "conv.h"

/* ---- per-ISA transforms ---------------------------------------------------------------- */

/*
 * Input transform of one tile, all channels: v[t * v_stride + c] = (B^T d B)[t] for the 6x6
 * window d of img (H, W, C) whose top-left pixel is (ih0, iw0), pixels outside the image
 * reading as zero (the window may hang over any side). Writes exactly C floats per row.
 */
typedef void (*graft__wino_in_fn)(float *restrict v, size_t v_stride, const float *img,
                                  int H, int W, int C, int ih0, int iw0);

/*
 * Output transform of one tile, C channels: the 4x4 outputs (A^T m A) of m[t * m_stride + c],
 * plus bias (C, or NULL), through act, written to y[(i * y_row + j * y_pix) + c] for the first
 * rows x cols of them (1..4 each; the rest of the tile lies past the output's edge). Reads
 * exactly C floats per row of m.
 */
typedef void (*graft__wino_out_fn)(float *restrict y, size_t y_row, size_t y_pix, int rows,
                                   int cols, const float *m, size_t m_stride, int C,
                                   const float *bias, graft_act act);

void graft_wino_f4_input_ref(float *restrict v, size_t v_stride, const float *img, int H, int W,
                             int C, int ih0, int iw0);
void graft_wino_f4_output_ref(float *restrict y, size_t y_row, size_t y_pix, int rows, int cols,
                              const float *m, size_t m_stride, int C, const float *bias,
                              graft_act act);
#if defined(__x86_64__)
void graft_wino_f4_input_avx2(float *restrict v, size_t v_stride, const float *img, int H,
                              int W, int C, int ih0, int iw0);
void graft_wino_f4_output_avx2(float *restrict y, size_t y_row, size_t y_pix, int rows,
                               int cols, const float *m, size_t m_stride, int C,
                               const float *bias, graft_act act);
void graft_wino_f4_input_avx512(float *restrict v, size_t v_stride, const float *img, int H,
                                int W, int C, int ih0, int iw0);
void graft_wino_f4_output_avx512(float *restrict y, size_t y_row, size_t y_pix, int rows,
                                 int cols, const float *m, size_t m_stride, int C,
                                 const float *bias, graft_act act);
#endif
#if defined(__aarch64__)
void graft_wino_f4_input_neon(float *restrict v, size_t v_stride, const float *img, int H,
                              int W, int C, int ih0, int iw0);
void graft_wino_f4_output_neon(float *restrict y, size_t y_row, size_t y_pix, int rows,
                               int cols, const float *m, size_t m_stride, int C,
                               const float *bias, graft_act act);
#endif

/* The rows of the window [0, 6) that land inside [0, size) for a window starting at i0. */
static inline void graft__wino_valid(int i0, int size, int *lo, int *hi) {
    int l = i0 < 0 ? -i0 : 0, h = size - i0 < 6 ? size - i0 : 6;
    *lo = l < 6 ? l : 6;
    *hi = h > *lo ? h : *lo;
}

/* ---- the driver (winograd.c), for conv.c ----------------------------------------------- */

/* Weights transformed and packed for one layer; created and freed by conv.c's plan. */
typedef struct graft__wino graft__wino;

/* Whether F(4x4, 3x3) can run the layer: 3x3, stride 1, dilation 1, groups 1. */
int graft__wino_supports(const graft_conv2d *d);
/*
 * Whether it is expected to beat im2col-gemm on `isa` (the measured rule; see winograd.c).
 * Only for layers graft__wino_supports.
 */
int graft__wino_preferred(const graft_conv2d *d, graft_isa isa);

/*
 * Transforms weight (C_out, C_in, 3, 3) into the 36 matrices U_t = (G g G^T)[t] of
 * (C_in x C_out) and packs them for isa's GEMM micro-kernel. weight is not retained.
 * GRAFT_ENOMEM; *out written only on success.
 */
int graft__wino_create(const graft_conv2d *d, const float *weight, graft_isa isa,
                       graft__wino **out);
void graft__wino_destroy(graft__wino *w);

/*
 * y (N, OH, OW, C_out) = act(conv(x (N, H, W, C_in)) + bias) on the kernel pool; bias (C_out)
 * or NULL. Sizes were checked by the caller. Bit-identical for any thread count: the blocks of
 * tiles and channels are a function of the shapes only. GRAFT_ENOMEM, GRAFT_ERANGE.
 */
/* Bytes of the transformed weights a plan holds. */
size_t graft__wino_bytes(const graft__wino *w);
/* What graft__wino_bytes will be for a plan of *d on isa, before making it (0: no kernel). */
size_t graft__wino_bytes_for(const graft_conv2d *d, graft_isa isa);
int graft__wino_forward(const graft__wino *w, float *y, const float *x, int N, int H, int W,
                        int OH, int OW, const float *bias);

#endif
