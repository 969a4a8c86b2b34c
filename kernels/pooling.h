/*
 * kernels/pooling.h: what the pooling and elementwise drivers (pooling.c, eltwise.c) share with
 * their per-ISA kernels (pooling_<isa>.c, eltwise_<isa>.c). Internal to libgraft.
 *
 * The drivers check arguments, choose the variant of graft_isa_current() and split the work
 * among the pool's threads; the kernels below only loop over memory they are handed, vectorised
 * along C (contiguous in NHWC). Each kernel computes every output element with the same
 * sequence of float operations whatever the vector width, the block it falls in or the thread
 * running it, so the results are bit-identical for any thread count, and (except where a
 * kernel says it fuses a multiply-add) identical to the scalar reference.
 */
#ifndef GRAFT_POOLING_INTERNAL_H
#define GRAFT_POOLING_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

/* ---- shared by the drivers ------------------------------------------------------------- */

/* *n *= v for a count of floats; 0 (and *n unchanged) when the bytes would overflow size_t. */
static inline int graft__elems_mul(size_t *n, size_t v) {
    if (v != 0 && *n > SIZE_MAX / sizeof(float) / v) return 0;
    *n *= v;
    return 1;
}

/* Elements of an (N, A, B, C) tensor into *out, or GRAFT_ERANGE when they overflow size_t. */
static inline int graft__tensor_elems(const char *fn, const char *what, int N, int A, int B,
                                      int C, size_t *out) {
    size_t n = (size_t)N;
    if (!graft__elems_mul(&n, (size_t)A) || !graft__elems_mul(&n, (size_t)B) ||
        !graft__elems_mul(&n, (size_t)C))
        return graft__fail(GRAFT_ERANGE, "%s: %s of %d x %d x %d x %d floats is too large", fn,
                           what, N, A, B, C);
    *out = n;
    return GRAFT_OK;
}

/* 1 when the byte ranges [a, a + a_bytes) and [b, b + b_bytes) share a byte. */
static inline int graft__overlap(const void *a, size_t a_bytes, const void *b, size_t b_bytes) {
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    return a_bytes && b_bytes && a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

/* ---- pooling --------------------------------------------------------------------------- */

/* The geometry of one pooling call, already checked by pooling.c (every window non-empty). */
typedef struct graft__pool_shape {
    int kind; /* GRAFT_POOL_MAX or GRAFT_POOL_AVG */
    int H, W, C, OH, OW;
    int kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
    int pad_top, pad_left;
    int end_h, end_w; /* H + pad_bottom, W + pad_right: where the padded extent ends */
    int count_include_pad;
} graft__pool_shape;

/* The shape of pooling an H x W x C input into OH x OW with *p (forward and backward alike). */
static inline graft__pool_shape graft__pool_shape_of(const graft_pool2d *p, int H, int W, int C,
                                                     int OH, int OW) {
    return (graft__pool_shape){
        .kind = p->kind, .H = H, .W = W, .C = C, .OH = OH, .OW = OW,
        .kernel_h = p->kernel_h, .kernel_w = p->kernel_w,
        .stride_h = p->stride_h, .stride_w = p->stride_w,
        .dilation_h = p->dilation_h, .dilation_w = p->dilation_w,
        .pad_top = p->pad_top, .pad_left = p->pad_left,
        .end_h = H + p->pad_bottom, .end_w = W + p->pad_right,
        .count_include_pad = p->count_include_pad,
    };
}

/*
 * One output pixel's window, reduced to its taps inside the image: taps_h x taps_w taps, the
 * first at x, the next ones step_h and step_w floats further (dilation included).
 */
typedef struct graft__pool_win {
    const float *x;
    size_t step_h, step_w;
    int taps_h, taps_w;
    float inv; /* AVG: 1 / the divisor; every variant multiplies the sum by it */
} graft__pool_win;

/*
 * Taps k in [0, k) of a window starting at `start` with dilation d: [*k0, *k1) land inside
 * [0, size), and *padded of them lie before `end` (inside the padded extent; the window never
 * starts before it). start + k * d never overflows: the driver bounds every size by INT_MAX / 4.
 */
static inline void graft__pool_taps(int start, int k, int d, int size, int end, int *k0,
                                    int *k1, int *padded) {
    *k0 = start >= 0 ? 0 : (-start + d - 1) / d;
    *k1 = start > size - 1 ? 0 : (size - 1 - start) / d + 1;
    if (*k1 > k) *k1 = k;
    if (*k0 > *k1) *k0 = *k1;
    *padded = start > end - 1 ? 0 : (end - 1 - start) / d + 1;
    if (*padded > k) *padded = k;
}

/* The window of output pixel (oh, ow) of image x (H, W, C). */
static inline void graft__pool_window(const graft__pool_shape *s, const float *x, int oh, int ow,
                                      graft__pool_win *w) {
    int h0 = oh * s->stride_h - s->pad_top, w0 = ow * s->stride_w - s->pad_left;
    int kh0, kh1, ph, kw0, kw1, pw;
    graft__pool_taps(h0, s->kernel_h, s->dilation_h, s->H, s->end_h, &kh0, &kh1, &ph);
    graft__pool_taps(w0, s->kernel_w, s->dilation_w, s->W, s->end_w, &kw0, &kw1, &pw);
    size_t ih = (size_t)(h0 + kh0 * s->dilation_h), iw = (size_t)(w0 + kw0 * s->dilation_w);
    w->x = x + (ih * (size_t)s->W + iw) * (size_t)s->C;
    w->step_h = (size_t)s->dilation_h * s->W * s->C;
    w->step_w = (size_t)s->dilation_w * s->C;
    w->taps_h = kh1 - kh0;
    w->taps_w = kw1 - kw0;
    int count = s->count_include_pad ? ph * pw : w->taps_h * w->taps_w;
    w->inv = 1.0f / (float)count;
}

/*
 * Computes output row oh of one image: y (OW, C) from x (H, W, C). MAX starts from -inf and
 * takes m = m > v ? m : v tap by tap (the semantics of x86's maxps), AVG sums the taps in
 * increasing (kh, kw) order from +0 and multiplies by graft__pool_win.inv.
 */
typedef void (*graft__pool_row_fn)(const graft__pool_shape *s, float *restrict y,
                                   const float *restrict x, int oh);
/*
 * Global pooling of C channels over `pixels` pixels: y[c] from x[p * ldx + c]. MAX as above;
 * AVG sums in increasing p and multiplies by 1 / (float)pixels.
 */
typedef void (*graft__global_pool_fn)(int kind, float *restrict y, const float *restrict x,
                                      size_t pixels, size_t ldx, int C);

void graft__pool_row_ref(const graft__pool_shape *s, float *restrict y, const float *restrict x,
                         int oh);
void graft__global_pool_ref(int kind, float *restrict y, const float *restrict x, size_t pixels,
                            size_t ldx, int C);
#if defined(__x86_64__)
void graft__pool_row_avx2(const graft__pool_shape *s, float *restrict y, const float *restrict x,
                          int oh);
void graft__global_pool_avx2(int kind, float *restrict y, const float *restrict x, size_t pixels,
                             size_t ldx, int C);
void graft__pool_row_avx512(const graft__pool_shape *s, float *restrict y,
                            const float *restrict x, int oh);
void graft__global_pool_avx512(int kind, float *restrict y, const float *restrict x,
                               size_t pixels, size_t ldx, int C);
#endif
#if defined(__aarch64__)
void graft__pool_row_neon(const graft__pool_shape *s, float *restrict y, const float *restrict x,
                          int oh);
void graft__global_pool_neon(int kind, float *restrict y, const float *restrict x, size_t pixels,
                             size_t ldx, int C);
#endif

/* ---- elementwise (eltwise.c) ----------------------------------------------------------- */

/* How the operands of one contiguous run of a binary op are read. */
enum {
    GRAFT__BINARY_VV = 0, /* y[i] = a[i] op b[i] */
    GRAFT__BINARY_VS,     /* y[i] = a[i] op b[0] */
    GRAFT__BINARY_SV      /* y[i] = a[0] op b[i] */
};

/*
 * y[i] = a op b for i < n, op a graft_binary_op, one IEEE operation per element (so every
 * variant gives the reference's bits). y may equal a or b (element i is read before it is
 * written), but must not overlap them otherwise.
 */
typedef void (*graft__binary_fn)(int op, int mode, float *y, const float *a, const float *b,
                                 size_t n);
/*
 * y[p * C + c] = x[p * C + c] * scale[c] + shift[c] for p < pixels, c < C: batch norm after its
 * parameters are folded. SIMD variants fuse the multiply-add (one rounding), the reference
 * rounds as the compiler chooses, so they agree to an ulp or so, not bit for bit. y may equal x.
 */
typedef void (*graft__scale_shift_fn)(float *y, const float *x, size_t pixels, int C,
                                      const float *restrict scale, const float *restrict shift);
/*
 * dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols: one tile of a layout conversion,
 * at most 64 x 64 (the driver tiles for the caches). Exact copies.
 */
typedef void (*graft__transpose_fn)(float *restrict dst, size_t ldd, const float *restrict src,
                                    size_t lds, int rows, int cols);

void graft__binary_ref(int op, int mode, float *y, const float *a, const float *b, size_t n);
void graft__scale_shift_ref(float *y, const float *x, size_t pixels, int C,
                            const float *restrict scale, const float *restrict shift);
void graft__transpose_ref(float *restrict dst, size_t ldd, const float *restrict src, size_t lds,
                          int rows, int cols);
#if defined(__x86_64__)
void graft__binary_avx2(int op, int mode, float *y, const float *a, const float *b, size_t n);
void graft__scale_shift_avx2(float *y, const float *x, size_t pixels, int C,
                             const float *restrict scale, const float *restrict shift);
void graft__transpose_avx2(float *restrict dst, size_t ldd, const float *restrict src,
                           size_t lds, int rows, int cols);
void graft__binary_avx512(int op, int mode, float *y, const float *a, const float *b, size_t n);
void graft__scale_shift_avx512(float *y, const float *x, size_t pixels, int C,
                               const float *restrict scale, const float *restrict shift);
#endif
#if defined(__aarch64__)
void graft__binary_neon(int op, int mode, float *y, const float *a, const float *b, size_t n);
void graft__scale_shift_neon(float *y, const float *x, size_t pixels, int C,
                             const float *restrict scale, const float *restrict shift);
void graft__transpose_neon(float *restrict dst, size_t ldd, const float *restrict src,
                           size_t lds, int rows, int cols);
#endif

/* The scalar form of one binary op, shared by the reference and the SIMD tails. */
static inline float graft__binary_apply(int op, float a, float b) {
    switch (op) {
    case GRAFT_BINARY_ADD: return a + b;
    case GRAFT_BINARY_SUB: return a - b;
    case GRAFT_BINARY_MUL: return a * b;
    default: return a / b;
    }
}

#endif
