/*
 * kernels/conv_grad_avx512.c: the AVX-512 depthwise convolution backward kernels, 16 channels
 * per vector and a masked vector for the channel tail. The loops are in conv_grad_body.h.
 */
#include <immintrin.h>

#include "conv_grad.h"

#define DWG_VEC __m512
#define DWG_LANES 16
#define DWG_MASK __mmask16
#define DWG_MASK_FOR(n) ((n) >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n)) - 1))
#define DWG_LOAD(p, m) _mm512_maskz_loadu_ps((m), (p))
#define DWG_STORE(p, v, m) _mm512_mask_storeu_ps((p), (m), (v))
#define DWG_LOADU(p) _mm512_loadu_ps(p)
#define DWG_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define DWG_ZERO() _mm512_setzero_ps()
#define DWG_FMA(a, b, acc) _mm512_fmadd_ps((a), (b), (acc))
#define DWG_ADD(a, b) _mm512_add_ps((a), (b))
#define DWG_DATA_FN graft_dwconv_grad_data_row_avx512
#define DWG_WEIGHT_FN graft_dwconv_grad_weight_avx512
#include "conv_grad_body.h"
