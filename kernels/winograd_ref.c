/*
 * kernels/winograd_ref.c: the scalar F(4x4, 3x3) input and output transforms, the
 * specification the SIMD variants are tested against: plain products with the B^T and A^T of
 * winograd.h, one channel at a time, in float. Deliberately unoptimised.
 */
#include "winograd.h"

static const float BT[6][6] = {
    {1.0f, -1.5f, -2.0f, 1.5f, 1.0f, 0.0f},  {0.0f, -1.0f, 0.5f, 2.5f, 1.0f, 0.0f},
    {0.0f, 1.0f, -2.5f, 0.5f, 1.0f, 0.0f},   {0.0f, -2.0f, -1.0f, 2.0f, 1.0f, 0.0f},
    {0.0f, 0.5f, -1.0f, -0.5f, 1.0f, 0.0f},  {0.0f, 1.0f, -1.5f, -2.0f, 1.5f, 1.0f},
};
static const float AT[4][6] = {
    {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f},
    {0.0f, 1.0f, -1.0f, 0.5f, -2.0f, 0.0f},
    {0.0f, 1.0f, 1.0f, 0.25f, 4.0f, 0.0f},
    {0.0f, 1.0f, -1.0f, 0.125f, -8.0f, 1.0f},
};

void graft_wino_f4_input_ref(float *restrict v, size_t v_stride, const float *img, int H, int W,
                             int C, int ih0, int iw0) {
    int r0, r1, c0, c1;
    graft__wino_valid(ih0, H, &r0, &r1);
    graft__wino_valid(iw0, W, &c0, &c1);
    for (int c = 0; c < C; c++) {
        float d[6][6], t[6][6];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                d[i][j] = i >= r0 && i < r1 && j >= c0 && j < c1
                              ? img[((size_t)(ih0 + i) * W + (size_t)(iw0 + j)) * C + c]
                              : 0.0f;
        for (int i = 0; i < 6; i++) /* t = B^T d */
            for (int j = 0; j < 6; j++) {
                float s = 0.0f;
                for (int k = 0; k < 6; k++) s += BT[i][k] * d[k][j];
                t[i][j] = s;
            }
        for (int i = 0; i < 6; i++) /* v = t B */
            for (int j = 0; j < 6; j++) {
                float s = 0.0f;
                for (int k = 0; k < 6; k++) s += t[i][k] * BT[j][k];
                v[(size_t)(6 * i + j) * v_stride + c] = s;
            }
    }
}

void graft_wino_f4_output_ref(float *restrict y, size_t y_row, size_t y_pix, int rows, int cols,
                              const float *m, size_t m_stride, int C, const float *bias,
                              graft_act act) {
    for (int c = 0; c < C; c++) {
        float t[4][6];
        for (int i = 0; i < 4; i++) /* t = A^T m */
            for (int j = 0; j < 6; j++) {
                float s = 0.0f;
                for (int k = 0; k < 6; k++) s += AT[i][k] * m[(size_t)(6 * k + j) * m_stride + c];
                t[i][j] = s;
            }
        for (int i = 0; i < rows; i++) /* y = t A */
            for (int j = 0; j < cols; j++) {
                float s = 0.0f;
                for (int k = 0; k < 6; k++) s += t[i][k] * AT[j][k];
                if (bias) s += bias[c];
                y[(size_t)i * y_row + (size_t)j * y_pix + c] = graft__act_scalar(act, s);
            }
    }
}
