/*
 * kernels/winograd_body.h: the F(4x4, 3x3) input and output transforms (winograd.h) written
 * once for every SIMD variant. A winograd_<isa>.c file defines the vector type and operations
 * below, then includes this file, which defines WINO_INPUT_FN and WINO_OUTPUT_FN from them:
 *   WINO_VEC, WINO_LANES      the vector type and its float count
 *   WINO_LOAD(p), WINO_STORE(p, v)            whole vectors
 *   WINO_LOAD_N(p, n), WINO_STORE_N(p, v, n)  the first n < WINO_LANES floats (channel tail;
 *                                             loads fill the rest with zeros)
 *   WINO_ZERO(), WINO_SET1(x), WINO_ADD, WINO_SUB, WINO_FMA(a, b, c) = a * b + c,
 *   WINO_ACT(act, v)          the graft_act activation
 * NHWC keeps a pixel's channels contiguous, so every operation works on WINO_LANES channels
 * of one tile at once and the transforms need no shuffles. Each is applied as two passes of
 * the 1-D transform through a 6x6 (input) or 6x4 (output) array of vectors, written with the
 * common subexpressions of the matrices in winograd.h factored out. Tiles inside the image,
 * whole vectors and each activation get their own copy of the loops, so the common case
 * carries no tests. Not here: the driver's blocking (winograd.c) or any GEMM.
 */

#define WINO_INLINE static inline __attribute__((always_inline))

/* t = B^T d for one column (or row) of six vectors: 16 adds and multiply-adds. */
WINO_INLINE void bt6(const WINO_VEC d[6], WINO_VEC t[6]) {
    WINO_VEC a = WINO_SUB(d[3], d[1]), e = WINO_SUB(d[4], d[2]);
    WINO_VEC q = WINO_FMA(WINO_SET1(0.5f), WINO_ADD(d[2], d[3]), d[4]);
    t[0] = WINO_FMA(WINO_SET1(1.5f), a, WINO_FMA(WINO_SET1(-2.0f), d[2], WINO_ADD(d[0], d[4])));
    t[1] = WINO_SUB(WINO_FMA(WINO_SET1(2.0f), d[3], q), d[1]);
    t[2] = WINO_ADD(WINO_FMA(WINO_SET1(-3.0f), d[2], q), d[1]);
    t[3] = WINO_FMA(WINO_SET1(2.0f), a, e);
    t[4] = WINO_FMA(WINO_SET1(-0.5f), a, e);
    t[5] = WINO_FMA(WINO_SET1(1.5f), e, WINO_FMA(WINO_SET1(-2.0f), d[3], WINO_ADD(d[1], d[5])));
}

/* o = A^T m for one column (or row) of six vectors: 12 adds and multiply-adds. */
WINO_INLINE void at6(const WINO_VEC m[6], WINO_VEC o[4]) {
    WINO_VEC s = WINO_ADD(m[1], m[2]), d = WINO_SUB(m[1], m[2]);
    o[0] = WINO_ADD(WINO_ADD(m[0], s), WINO_ADD(m[3], m[4]));
    o[1] = WINO_FMA(WINO_SET1(-2.0f), m[4], WINO_FMA(WINO_SET1(0.5f), m[3], d));
    o[2] = WINO_FMA(WINO_SET1(4.0f), m[4], WINO_FMA(WINO_SET1(0.25f), m[3], s));
    o[3] = WINO_ADD(WINO_FMA(WINO_SET1(-8.0f), m[4], WINO_FMA(WINO_SET1(0.125f), m[3], d)), m[5]);
}

/*
 * One vector of channels [c, c + n) of a tile's input transform: rows[i] points at column c0
 * of the window's row i, or is NULL when that row lies outside the image; columns c0..c1-1
 * are inside. FULL: all six rows and columns are (c0, c1 are then 0, 6); TAIL: n < WINO_LANES.
 * The 36 results go out through one running pointer, which keeps the general registers free
 * for the row pointers.
 */
WINO_INLINE void input_vec(const int FULL, const int TAIL, float *restrict v, size_t v_stride,
                           const float *const rows[6], size_t pix, int c0, int c1, int c,
                           int n) {
    WINO_VEC t[6][6];
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
        WINO_VEC d[6], o[6];
        if (!FULL && (j < c0 || j >= c1)) {
            for (int i = 0; i < 6; i++) t[i][j] = WINO_ZERO();
            continue;
        }
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) {
            if (!FULL && !rows[i]) {
                d[i] = WINO_ZERO();
                continue;
            }
            const float *q = rows[i] + (size_t)(j - c0) * pix + c;
            d[i] = TAIL ? WINO_LOAD_N(q, n) : WINO_LOAD(q);
            /*
             * The next tile's new columns (this window's 6..9) are on their way from memory
             * while this one computes. The address may lie past the image, which a prefetch
             * tolerates; the integer arithmetic keeps the pointer arithmetic defined.
             */
            if (FULL && j < 4)
                __builtin_prefetch((const void *)((uintptr_t)q + 6 * pix * sizeof(float)), 0, 3);
        }
        bt6(d, o);
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) t[i][j] = o[i];
    }
    float *p = v + c;
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        WINO_VEC o[6];
        bt6(t[i], o);
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++, p += v_stride) {
            if (TAIL)
                WINO_STORE_N(p, o[j], n);
            else
                WINO_STORE(p, o[j]);
        }
    }
}

WINO_INLINE void input_tile(const int FULL, float *restrict v, size_t v_stride,
                            const float *const rows[6], int C, int c0, int c1) {
    int c = 0;
    for (; c + WINO_LANES <= C; c += WINO_LANES)
        input_vec(FULL, 0, v, v_stride, rows, (size_t)C, c0, c1, c, WINO_LANES);
    if (c < C) input_vec(FULL, 1, v, v_stride, rows, (size_t)C, c0, c1, c, C - c);
}

void WINO_INPUT_FN(float *restrict v, size_t v_stride, const float *img, int H, int W, int C,
                   int ih0, int iw0) {
    int r0, r1, c0, c1;
    graft__wino_valid(ih0, H, &r0, &r1);
    graft__wino_valid(iw0, W, &c0, &c1);
    const float *rows[6];
    for (int i = 0; i < 6; i++)
        rows[i] = i >= r0 && i < r1 && c0 < c1
                      ? img + ((size_t)(ih0 + i) * W + (size_t)(iw0 + c0)) * C
                      : NULL;
    if (r0 == 0 && r1 == 6 && c0 == 0 && c1 == 6)
        input_tile(1, v, v_stride, rows, C, 0, 6);
    else
        input_tile(0, v, v_stride, rows, C, c0, c1);
}

/*
 * One vector of channels [c, c + n) of a tile's output transform. FULL: all 4x4 outputs are
 * stored (rows, cols are then 4); TAIL: n < WINO_LANES; ACT: the graft_act, a constant here so
 * that its test leaves the loop. The first pass goes along the rows of m (positions in order,
 * through one running pointer), the second down the columns.
 */
WINO_INLINE void output_vec(const int FULL, const int TAIL, const graft_act ACT,
                            float *restrict y, size_t y_row, size_t y_pix, int rows, int cols,
                            const float *m, size_t m_stride, const float *bias, int c, int n) {
    WINO_VEC t[6][4];
    const float *p = m + c;
#pragma GCC unroll 6
    for (int k = 0; k < 6; k++) {
        WINO_VEC d[6], o[4];
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++, p += m_stride) d[j] = TAIL ? WINO_LOAD_N(p, n) : WINO_LOAD(p);
        at6(d, o);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) t[k][j] = o[j];
    }
    WINO_VEC b = !bias ? WINO_ZERO() : TAIL ? WINO_LOAD_N(bias + c, n) : WINO_LOAD(bias + c);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        if (!FULL && j >= cols) break;
        WINO_VEC d[6], o[4];
#pragma GCC unroll 6
        for (int k = 0; k < 6; k++) d[k] = t[k][j];
        at6(d, o);
        float *q = y + (size_t)j * y_pix + c;
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++, q += y_row) {
            if (!FULL && i >= rows) break;
            WINO_VEC r = WINO_ACT(ACT, WINO_ADD(o[i], b));
            if (TAIL)
                WINO_STORE_N(q, r, n);
            else
                WINO_STORE(q, r);
        }
    }
}

WINO_INLINE void output_tile(const int FULL, const graft_act ACT, float *restrict y,
                             size_t y_row, size_t y_pix, int rows, int cols, const float *m,
                             size_t m_stride, int C, const float *bias) {
    int c = 0;
    for (; c + WINO_LANES <= C; c += WINO_LANES)
        output_vec(FULL, 0, ACT, y, y_row, y_pix, rows, cols, m, m_stride, bias, c, WINO_LANES);
    if (c < C)
        output_vec(FULL, 1, ACT, y, y_row, y_pix, rows, cols, m, m_stride, bias, c, C - c);
}

WINO_INLINE void output_act(const graft_act ACT, float *restrict y, size_t y_row, size_t y_pix,
                            int rows, int cols, const float *m, size_t m_stride, int C,
                            const float *bias) {
    if (rows == 4 && cols == 4)
        output_tile(1, ACT, y, y_row, y_pix, 4, 4, m, m_stride, C, bias);
    else
        output_tile(0, ACT, y, y_row, y_pix, rows, cols, m, m_stride, C, bias);
}

void WINO_OUTPUT_FN(float *restrict y, size_t y_row, size_t y_pix, int rows, int cols,
                    const float *m, size_t m_stride, int C, const float *bias, graft_act act) {
    if (act == GRAFT_ACT_RELU)
        output_act(GRAFT_ACT_RELU, y, y_row, y_pix, rows, cols, m, m_stride, C, bias);
    else if (act == GRAFT_ACT_RELU6)
        output_act(GRAFT_ACT_RELU6, y, y_row, y_pix, rows, cols, m, m_stride, C, bias);
    else
        output_act(GRAFT_ACT_NONE, y, y_row, y_pix, rows, cols, m, m_stride, C, bias);
}
