/*
 * kernels/conv_grad_ref.c: the scalar depthwise convolution backward kernels, the
 * specification the SIMD variants (conv_grad_<isa>.c) are tested against. Plain loops in the
 * summation orders conv_grad.h states, for any depth multiplier. Not optimised on purpose.
 */
#include "conv_grad.h"

void graft_dwconv_grad_data_row_ref(float *restrict dx, int ih, const graft__dwg_args *a) {
    const int C = a->C, M = a->M;
    size_t dy_off[GRAFT__DWG_TAPS], w_off[GRAFT__DWG_TAPS];
    for (int iw = 0; iw < a->W; iw++) {
        graft__dwg_tap_iter it = {-1, -1, 0};
        int taps;
        while ((taps = graft__dwg_taps(&it, ih, iw, a, dy_off, w_off)) > 0) {
            for (int c = 0; c < C; c++) {
                float acc = 0.0f;
                for (int t = 0; t < taps; t++)
                    for (int j = 0; j < M; j++) {
                        size_t co = (size_t)c * M + j;
                        acc += a->dy[dy_off[t] + co] * a->w[w_off[t] + co];
                    }
                dx[(size_t)iw * C + c] += acc;
            }
        }
    }
}

void graft_dwconv_grad_weight_ref(float *restrict sums, int c0, int nc, const graft__dwg_args *a) {
    const int M = a->M;
    const size_t CM = (size_t)a->C * M;
    for (int co = c0; co < c0 + nc; co++) {
        const int ci = co / M;
        for (int kh = 0; kh < a->KH; kh++)
            for (int kw = 0; kw < a->KW; kw++) {
                float acc = 0.0f;
                for (int n = 0; n < a->N; n++) {
                    const float *x = a->x + (size_t)n * a->x_image;
                    const float *dy = a->dy + (size_t)n * a->dy_image;
                    for (int oh = 0; oh < a->OH; oh++) {
                        int ih = oh * a->SH - a->pad_t + kh * a->DH;
                        if (ih < 0 || ih >= a->H) continue;
                        for (int ow = 0; ow < a->OW; ow++) {
                            int iw = ow * a->SW - a->pad_l + kw * a->DW;
                            if (iw < 0 || iw >= a->W) continue;
                            acc += dy[((size_t)oh * a->OW + ow) * CM + co] *
                                   x[((size_t)ih * a->W + iw) * a->C + ci];
                        }
                    }
                }
                sums[(size_t)(kh * a->KW + kw) * GRAFT__DWG_SLICE + (co - c0)] = acc;
            }
        float acc = 0.0f;
        for (int n = 0; n < a->N; n++) {
            const float *dy = a->dy + (size_t)n * a->dy_image;
            for (size_t p = 0; p < (size_t)a->OH * a->OW; p++) acc += dy[p * CM + co];
        }
        sums[(size_t)a->KH * a->KW * GRAFT__DWG_SLICE + (co - c0)] = acc;
    }
}
