/*
 * kernels/conv_ref.c: the scalar depthwise and direct convolution rows, the specifications the
 * SIMD variants are tested against: for every pixel and channel, bias plus the taps inside the
 * input in (kh, kw) order (and c for the direct rows), then the activation.
 */
#include "conv.h"

void graft_dwconv_row_ref(float *restrict y, int oh, const graft__dw_args *a) {
    const int C = a->C, ih0 = oh * a->SH - a->pad_t;
    int kh_lo, kh_hi;
    graft__tap_range(ih0, a->DH, a->KH, a->H, &kh_lo, &kh_hi);
    for (int ow = 0; ow < a->OW; ow++) {
        int iw0 = ow * a->SW - a->pad_l, kw_lo, kw_hi;
        graft__tap_range(iw0, a->DW, a->KW, a->W, &kw_lo, &kw_hi);
        for (int c = 0; c < C; c++) {
            float acc = a->bias ? a->bias[c] : 0.0f;
            for (int kh = kh_lo; kh < kh_hi; kh++) {
                const float *xr = a->x + (size_t)(ih0 + kh * a->DH) * a->W * C;
                for (int kw = kw_lo; kw < kw_hi; kw++)
                    acc += xr[(size_t)(iw0 + kw * a->DW) * C + c] * a->w[(kh * a->KW + kw) * C + c];
            }
            y[(size_t)ow * C + c] = graft__act_scalar(a->act, acc);
        }
    }
}

void graft_direct_row_ref(float *restrict y, int oh, const graft__direct_args *a) {
    const int C = a->C, ih0 = oh * a->SH - a->pad_t;
    const size_t rows = (size_t)a->KH * a->KW * C;
    int kh_lo, kh_hi;
    graft__tap_range(ih0, a->DH, a->KH, a->H, &kh_lo, &kh_hi);
    for (int ow = 0; ow < a->OW; ow++) {
        int iw0 = ow * a->SW - a->pad_l, kw_lo, kw_hi;
        graft__tap_range(iw0, a->DW, a->KW, a->W, &kw_lo, &kw_hi);
        for (int o = 0; o < a->CO; o++) {
            float acc = a->bias ? a->bias[o] : 0.0f;
            for (int kh = kh_lo; kh < kh_hi; kh++) {
                const float *xr = a->x + (size_t)(ih0 + kh * a->DH) * a->W * C;
                for (int kw = kw_lo; kw < kw_hi; kw++)
                    for (int c = 0; c < C; c++)
                        acc += xr[(size_t)(iw0 + kw * a->DW) * C + c] *
                               a->w[graft__direct_w_at(rows, a->panel,
                                                       (size_t)(kh * a->KW + kw) * C + c, o)];
            }
            y[(size_t)ow * a->CO + o] = graft__act_scalar(a->act, acc);
        }
    }
}
