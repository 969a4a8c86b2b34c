/*
 * pipeline/decode/resize.c: resizing and cropping of 8-bit RGB images with the arithmetic of
 * Pillow's Image.resize (libImaging/Resample.c and Geometry.c, Pillow >= 7), which is what
 * torchvision's Resize runs on PIL images, plus torchvision's CenterCrop and resized_crop.
 *
 * Bilinear and bicubic are separable convolutions. For each output index along an axis the
 * filter is centred at (i + 0.5) * scale in input coordinates, its support is widened by the
 * scale when shrinking (that is the antialiasing), the taps are normalised to sum to 1 in
 * double precision and then rounded to signed 22-bit fixed point (8 bits of pixel and 2 of
 * headroom in an int32). Each pass adds pixel * tap to half an LSB and keeps the top bits,
 * clipped to 0..255. The horizontal pass runs first, over only the input rows the vertical
 * pass will read; an axis whose size does not change is copied, not filtered. Doing exactly
 * these steps in this order is what makes the result bit-identical to Pillow's; nothing here
 * is an approximation of it. Nearest is Pillow's affine scaling: sample positions
 * accumulated in double, starting half a step in.
 *
 * graft__resample_window computes any rectangular window of the resized image: each output
 * pixel depends only on its own taps, so a window equals the same crop of the full resize,
 * and Resize + CenterCrop costs only the pixels it keeps. The plans give every output the
 * same tap count (Pillow's lists padded with zero weights, see kernels/resize.h) so that the
 * per-ISA micro-kernels of kernels/resize_<isa>.c run the passes; this file builds the plans
 * and walks the rows. No threads; no libuv; all memory in one caller-owned scratch buffer.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graft/image.h"
#include "kernels.h"
#include "resample.h"
#include "resize.h"

/* ---- scratch ----------------------------------------------------------------------------- */

int graft__scratch_reserve(graft__scratch *s, size_t bytes) {
    if (bytes <= s->cap) return GRAFT_OK;
    /* Grows by half again so that a worker seeing slowly growing images settles quickly. */
    size_t cap = bytes + bytes / 2;
    if (cap < bytes) cap = bytes;
    cap = (cap + 63) & ~(size_t)63;
    void *p = NULL;
    if (cap < bytes || posix_memalign(&p, 64, cap) != 0)
        return graft__fail(GRAFT_ENOMEM, "resize: cannot allocate %zu bytes of scratch", bytes);
    free(s->p);
    s->p = p;
    s->cap = cap;
    return GRAFT_OK;
}

void graft__scratch_free(graft__scratch *s) {
    free(s->p);
    s->p = NULL;
    s->cap = 0;
}

/* Carves `bytes` (64-byte aligned) off a layout being measured or filled. */
typedef struct carver {
    uint8_t *base; /* NULL while measuring */
    size_t used;
} carver;

static void *carve(carver *c, size_t bytes) {
    size_t at = c->used;
    c->used = (at + bytes + 63) & ~(size_t)63;
    return c->base ? c->base + at : NULL;
}

/* ---- filters (Pillow's definitions, evaluated in the same order) ------------------------- */

static double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

/* Keys' cubic with a = -0.5. */
static double bicubic_filter(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* ---- per-axis plans ---------------------------------------------------------------------- */

/* The scale of one axis and the filter's reach at that scale, as Pillow computes them. */
typedef struct axis_geom {
    double (*fn)(double x);
    double scale, support, ss;
    int in_size;
    int kcap; /* most taps one output can have: Pillow's ksize, at most in_size */
} axis_geom;

static void axis_geom_init(axis_geom *g, int in_size, int out_size, graft_resample filter) {
    const int cubic = filter == GRAFT_RESAMPLE_BICUBIC;
    g->fn = cubic ? bicubic_filter : bilinear_filter;
    /* Pillow's box is float: (double)(float)in_size keeps its rounding for huge sizes. */
    g->scale = (double)(float)in_size / out_size;
    const double filterscale = g->scale < 1.0 ? 1.0 : g->scale;
    g->support = (cubic ? 2.0 : 1.0) * filterscale;
    g->ss = 1.0 / filterscale;
    g->in_size = in_size;
    const double ksize = ceil(g->support) * 2 + 1;
    g->kcap = ksize < (double)in_size ? (int)ksize : in_size;
}

/* Output index xx's first input and tap count (Pillow's xmin and xmax - xmin). */
static inline void axis_bounds(const axis_geom *g, int xx, double *center, int *xmin, int *n) {
    const double c = (xx + 0.5) * g->scale;
    /* Truncation (not floor) of possibly negative values, then clamping: as Pillow. */
    int lo = (int)(c - g->support + 0.5);
    if (lo < 0) lo = 0;
    int hi = (int)(c + g->support + 0.5);
    if (hi > g->in_size) hi = g->in_size;
    int k = hi - lo;
    if (k > g->kcap) k = g->kcap; /* cannot happen: the span is at most 2 * support + 1 */
    if (k < 0) k = 0;
    *center = c;
    *xmin = lo;
    *n = k;
}

/* The common tap count of outputs [first, first + count): the longest list, at least 1. */
static int axis_taps(const axis_geom *g, int first, int count) {
    int K = 1;
    for (int i = 0; i < count; i++) {
        double c;
        int lo, n;
        axis_bounds(g, first + i, &c, &lo, &n);
        if (n > K) K = n;
    }
    return K;
}

/*
 * The padded plan of outputs [first, first + count) with K taps each: start (count) and
 * coef (count, K) in 22-bit fixed point; w holds kcap doubles of scratch. A window that would
 * pass the end of the axis slides left, its weights shifted right over zeros.
 */
static void axis_plan_fill(const axis_geom *g, int first, int count, int K, int32_t *start,
                           int32_t *coef, double *w) {
    for (int i = 0; i < count; i++) {
        double center;
        int xmin, n;
        axis_bounds(g, first + i, &center, &xmin, &n);
        double ww = 0.0;
        for (int x = 0; x < n; x++) {
            w[x] = g->fn((x + xmin - center + 0.5) * g->ss);
            ww += w[x];
        }
        int s = xmin, shift = 0;
        if (s + K > g->in_size) {
            shift = s + K - g->in_size;
            s -= shift;
        }
        int32_t *k = coef + (size_t)i * K;
        memset(k, 0, sizeof(int32_t) * (size_t)K);
        for (int x = 0; x < n; x++) {
            double kx = ww != 0.0 ? w[x] / ww : w[x];
            k[shift + x] = kx < 0 ? (int32_t)(-0.5 + kx * (1 << GRAFT__RESIZE_PRECISION))
                                  : (int32_t)(0.5 + kx * (1 << GRAFT__RESIZE_PRECISION));
        }
        start[i] = s;
    }
}

/*
 * Pillow's ImagingScaleAffine: positions start at half a step and are accumulated, not
 * multiplied, so the rare position that lands within rounding of an integer goes the same
 * way as in Pillow. A position outside the input (cannot happen for a plain resize) is -1.
 */
static void nearest_table(int *tab, int in_size, int out_size, int first, int count) {
    const double step = (double)(float)in_size / out_size;
    double pos = step * 0.5;
    for (int x = 0; x < first + count; x++) {
        int xin = pos < 0.0 ? -1 : (int)pos;
        if (x >= first) tab[x - first] = xin >= 0 && xin < in_size ? xin : -1;
        pos += step;
    }
}

void graft__resample_span(int in_size, int out_size, int first, int count,
                          graft_resample filter, int *lo, int *hi) {
    if (filter == GRAFT_RESAMPLE_NEAREST) {
        const double step = (double)(float)in_size / out_size;
        double pos = step * 0.5;
        int a = INT_MAX, b = 0;
        for (int x = 0; x < first + count; x++, pos += step) {
            int xin = pos < 0.0 ? -1 : (int)pos;
            if (x < first || xin < 0 || xin >= in_size) continue;
            if (xin < a) a = xin;
            if (xin + 1 > b) b = xin + 1;
        }
        *lo = a == INT_MAX ? 0 : a;
        *hi = a == INT_MAX ? 0 : b;
        return;
    }
    if (out_size == in_size) {
        *lo = first;
        *hi = first + count;
        return;
    }
    axis_geom g;
    axis_geom_init(&g, in_size, out_size, filter);
    const int K = axis_taps(&g, first, count);
    int a = INT_MAX, b = 0;
    for (int i = 0; i < count; i++) {
        double c;
        int s, n;
        axis_bounds(&g, first + i, &c, &s, &n);
        if (s + K > in_size) s = in_size - K;
        if (s < a) a = s;
        if (s + K > b) b = s + K;
    }
    *lo = a;
    *hi = b;
}

/* ---- the window resampler ---------------------------------------------------------------- */

static int resample_nearest(const graft__rgb_view *src, int out_w, int out_h, int x0, int y0,
                            int cw, int ch, graft__scratch *scratch, graft__row_fn emit,
                            void *ctx) {
    carver c = {NULL, 0};
    carve(&c, sizeof(int) * (size_t)cw);
    carve(&c, sizeof(int) * (size_t)ch);
    carve(&c, (size_t)cw * 3);
    int err = graft__scratch_reserve(scratch, c.used);
    if (err) return err;
    c = (carver){scratch->p, 0};
    int *xtab = carve(&c, sizeof(int) * (size_t)cw);
    int *ytab = carve(&c, sizeof(int) * (size_t)ch);
    uint8_t *out = carve(&c, (size_t)cw * 3);
    nearest_table(xtab, src->width, out_w, x0, cw);
    nearest_table(ytab, src->height, out_h, y0, ch);
    for (int y = 0; y < ch; y++) {
        if (ytab[y] < 0) {
            memset(out, 0, (size_t)cw * 3);
        } else {
            const uint8_t *in = src->data + (size_t)(ytab[y] - src->y_off) * src->stride;
            for (int x = 0; x < cw; x++) {
                if (xtab[x] < 0)
                    memset(out + 3 * x, 0, 3);
                else
                    memcpy(out + 3 * x, in + (size_t)(xtab[x] - src->x_off) * 3, 3);
            }
        }
        emit(ctx, y, out);
    }
    return GRAFT_OK;
}

/* Plans larger than this are refused rather than attempted (absurd downscales of huge
 * images): 1 GiB of taps. */
#define RESAMPLE_TAPS_MAX ((size_t)1 << 28)

int graft__resample_window(const graft__rgb_view *src, int out_w, int out_h, int x0, int y0,
                           int cw, int ch, graft_resample filter, graft__scratch *scratch,
                           graft__row_fn emit, void *ctx) {
    if (filter == GRAFT_RESAMPLE_NEAREST)
        return resample_nearest(src, out_w, out_h, x0, y0, cw, ch, scratch, emit, ctx);
    const graft__resize_kernels *kr;
    int err = graft__resize_kernels_current(&kr);
    if (err) return err;

    const int need_h = out_w != src->width, need_v = out_h != src->height;
    const size_t row_bytes = (size_t)cw * 3;
    axis_geom gh, gv;
    int Kh = 0, Kv = 0, kcap = 1;
    if (need_h) {
        axis_geom_init(&gh, src->width, out_w, filter);
        Kh = axis_taps(&gh, x0, cw);
        kcap = gh.kcap;
    }
    if (need_v) {
        axis_geom_init(&gv, src->height, out_h, filter);
        Kv = axis_taps(&gv, y0, ch);
        if (gv.kcap > kcap) kcap = gv.kcap;
    }
    if ((size_t)cw * (size_t)Kh > RESAMPLE_TAPS_MAX || (size_t)ch * (size_t)Kv > RESAMPLE_TAPS_MAX)
        return graft__fail(GRAFT_ERANGE, "resize: %d x %d taps for a %d x %d window are too many",
                           Kh, Kv, cw, ch);

    /* Input rows the window needs: the vertical taps' span, or the window itself. */
    int row_lo = y0, row_hi = y0 + ch;
    if (need_v) graft__resample_span(src->height, out_h, y0, ch, filter, &row_lo, &row_hi);
    const int rows = row_hi - row_lo;

    /* One scratch block: plans, the horizontal pass's rows (16 bytes of slack for the
     * kernels' loads), and the output row. */
    carver c = {NULL, 0};
    for (int pass = 0; pass < 2; pass++) {
        int32_t *start_h = carve(&c, sizeof(int32_t) * (size_t)(need_h ? cw : 0));
        int32_t *coef_h = carve(&c, sizeof(int32_t) * (size_t)cw * (size_t)Kh);
        int32_t *start_v = carve(&c, sizeof(int32_t) * (size_t)(need_v ? ch : 0));
        int32_t *coef_v = carve(&c, sizeof(int32_t) * (size_t)ch * (size_t)Kv);
        double *w = carve(&c, sizeof(double) * (size_t)kcap);
        uint8_t *tmp = carve(&c, need_h ? row_bytes * (size_t)rows + 16 : 0);
        uint8_t *out = carve(&c, row_bytes + 16);
        if (pass == 0) {
            err = graft__scratch_reserve(scratch, c.used);
            if (err) return err;
            c = (carver){scratch->p, 0};
            continue;
        }

        const uint8_t *base; /* input row row_lo at the window's first column */
        size_t base_stride;
        if (need_h) {
            axis_plan_fill(&gh, x0, cw, Kh, start_h, coef_h, w);
            for (int i = 0; i < cw; i++) start_h[i] -= src->x_off;
            for (int r = 0; r < rows; r++) {
                const uint8_t *in = src->data + (size_t)(row_lo + r - src->y_off) * src->stride;
                kr->h(tmp + (size_t)r * row_bytes, in, (size_t)(src->end - in), cw, Kh, start_h,
                      coef_h);
            }
            base = tmp;
            base_stride = row_bytes;
        } else {
            base = src->data + (size_t)(row_lo - src->y_off) * src->stride +
                   (size_t)(x0 - src->x_off) * 3;
            base_stride = src->stride;
        }
        if (need_v) {
            axis_plan_fill(&gv, y0, ch, Kv, start_v, coef_v, w);
            for (int i = 0; i < ch; i++) {
                kr->v(out, base + (size_t)(start_v[i] - row_lo) * base_stride, base_stride, Kv,
                      coef_v + (size_t)i * Kv, row_bytes);
                emit(ctx, i, out);
            }
        } else {
            for (int i = 0; i < ch; i++) emit(ctx, i, base + (size_t)i * base_stride);
        }
    }
    return GRAFT_OK;
}

/* ---- public entry points ----------------------------------------------------------------- */

static int check_src(const char *what, const graft_image *dst, const graft_image *src) {
    if (!dst || !src || !src->data)
        return graft__fail(GRAFT_EINVAL, "%s: NULL or empty image", what);
    if (src->width < 1 || src->height < 1 || src->channels != 3)
        return graft__fail(GRAFT_EINVAL, "%s: source is %d x %d x %d, not RGB", what,
                           src->width, src->height, src->channels);
    if (dst == src) return graft__fail(GRAFT_EINVAL, "%s: dst and src are the same image", what);
    return GRAFT_OK;
}

static int check_filter(const char *what, graft_resample filter) {
    if (filter != GRAFT_RESAMPLE_NEAREST && filter != GRAFT_RESAMPLE_BILINEAR &&
        filter != GRAFT_RESAMPLE_BICUBIC)
        return graft__fail(GRAFT_EINVAL, "%s: unknown filter %d", what, (int)filter);
    return GRAFT_OK;
}

static void emit_to_image(void *ctx, int y, const uint8_t *row) {
    graft_image *dst = ctx;
    memcpy(dst->data + (size_t)y * dst->width * 3, row, (size_t)dst->width * 3);
}

/* Fills dst (already allocated, cw x ch) with the window at (x0, y0) of the box (bx, by,
 * bw, bh) of src, the box resized to out_w x out_h. */
static int resample_image(graft_image *dst, const graft_image *src, int bx, int by, int bw,
                          int bh, int out_w, int out_h, int x0, int y0, graft_resample filter) {
    const size_t stride = (size_t)src->width * 3;
    graft__rgb_view v = {src->data + (size_t)by * stride + (size_t)bx * 3, stride, bw, bh, 0, 0,
                         src->data + stride * (size_t)src->height};
    graft__scratch s = {0};
    int err = graft__resample_window(&v, out_w, out_h, x0, y0, dst->width, dst->height, filter,
                                     &s, emit_to_image, dst);
    graft__scratch_free(&s);
    return err;
}

int graft_image_resize(graft_image *dst, const graft_image *src, int width, int height,
                       graft_resample filter) {
    int err = check_src("resize", dst, src);
    if (!err) err = check_filter("resize", filter);
    if (err) return err;
    if (width < 1 || height < 1)
        return graft__fail(GRAFT_EINVAL, "resize: target size %d x %d is empty", width, height);
    graft_image out = {0};
    err = graft_image_alloc(&out, width, height);
    if (err) return err;
    err = resample_image(&out, src, 0, 0, src->width, src->height, width, height, 0, 0, filter);
    if (err) {
        graft_image_free(&out);
        return err;
    }
    *dst = out;
    return GRAFT_OK;
}

int graft_image_resized_crop(graft_image *dst, const graft_image *src, int x, int y, int w,
                             int h, int width, int height, graft_resample filter) {
    int err = check_src("resized_crop", dst, src);
    if (!err) err = check_filter("resized_crop", filter);
    if (err) return err;
    if (width < 1 || height < 1)
        return graft__fail(GRAFT_EINVAL, "resized_crop: target size %d x %d is empty", width,
                           height);
    if (w < 1 || h < 1 || x < 0 || y < 0 || x > src->width - w || y > src->height - h)
        return graft__fail(GRAFT_EINVAL, "resized_crop: box (%d, %d) %d x %d is empty or not "
                           "inside the %d x %d image", x, y, w, h, src->width, src->height);
    graft_image out = {0};
    err = graft_image_alloc(&out, width, height);
    if (err) return err;
    err = resample_image(&out, src, x, y, w, h, width, height, 0, 0, filter);
    if (err) {
        graft_image_free(&out);
        return err;
    }
    *dst = out;
    return GRAFT_OK;
}

int graft_image_shorter_side_size(int width, int height, int size, int *out_w, int *out_h) {
    if (!out_w || !out_h) return graft__fail(GRAFT_EINVAL, "resize: NULL output size");
    if (width < 1 || height < 1 || size < 1)
        return graft__fail(GRAFT_EINVAL, "resize: cannot scale %d x %d to a shorter side of %d",
                           width, height, size);
    const int shorter = width <= height ? width : height;
    const int longer = width <= height ? height : width;
    /* Python's int(size * long / short): an exact integer product, one correctly rounded
     * division, truncation. A double holds the product exactly below 2^53, which every
     * image within the pixel limit satisfies; past that the sizes are refused. */
    const int64_t product = (int64_t)size * longer;
    if (product >= ((int64_t)1 << 53))
        return graft__fail(GRAFT_ERANGE, "resize: %d x %d with a shorter side of %d is too large",
                           width, height, size);
    const double q = (double)product / shorter;
    if (q >= (double)INT_MAX + 1.0)
        return graft__fail(GRAFT_ERANGE, "resize: %d x %d with a shorter side of %d is too large",
                           width, height, size);
    const int new_long = (int)q;
    *out_w = width <= height ? size : new_long;
    *out_h = width <= height ? new_long : size;
    return GRAFT_OK;
}

/* Python's int(round(d / 2.0)) for d >= 0: halves go to the even neighbour. */
static int half_round_even(int d) {
    int k = d / 2;
    if (d % 2 && k % 2) k++;
    return k;
}

int graft__crop_origin(int size, int crop) {
    if (crop > size) return -((crop - size) / 2);
    return half_round_even(size - crop);
}

int graft_image_center_crop(graft_image *dst, const graft_image *src, int width, int height) {
    int err = check_src("center_crop", dst, src);
    if (err) return err;
    if (width < 1 || height < 1)
        return graft__fail(GRAFT_EINVAL, "center_crop: crop size %d x %d is empty", width,
                           height);
    graft_image out = {0};
    err = graft_image_alloc(&out, width, height);
    if (err) return err;
    const int ox = graft__crop_origin(src->width, width);
    const int oy = graft__crop_origin(src->height, height);
    /* Columns [cx0, cx1) of the output come from the source; the rest is padding. */
    const int cx0 = ox < 0 ? -ox : 0;
    const int cx1 = ox + width > src->width ? src->width - ox : width;
    for (int y = 0; y < height; y++) {
        uint8_t *row = out.data + (size_t)y * width * 3;
        const int sy = oy + y;
        if (sy < 0 || sy >= src->height) {
            memset(row, 0, (size_t)width * 3);
            continue;
        }
        memset(row, 0, (size_t)cx0 * 3);
        memcpy(row + (size_t)cx0 * 3, src->data + ((size_t)sy * src->width + ox + cx0) * 3,
               (size_t)(cx1 - cx0) * 3);
        memset(row + (size_t)cx1 * 3, 0, (size_t)(width - cx1) * 3);
    }
    *dst = out;
    return GRAFT_OK;
}

int graft_image_resize_center_crop(graft_image *dst, const graft_image *src, int resize_short,
                                   int crop_w, int crop_h, graft_resample filter) {
    int err = check_src("resize_center_crop", dst, src);
    if (!err) err = check_filter("resize_center_crop", filter);
    if (err) return err;
    if (crop_w < 1 || crop_h < 1)
        return graft__fail(GRAFT_EINVAL, "resize_center_crop: crop size %d x %d is empty",
                           crop_w, crop_h);
    int rw, rh;
    err = graft_image_shorter_side_size(src->width, src->height, resize_short, &rw, &rh);
    if (err) return err;
    if (crop_w > rw || crop_h > rh) {
        /* The crop pads: rare enough to take the two-step path. */
        graft_image resized = {0};
        err = graft_image_resize(&resized, src, rw, rh, filter);
        if (err) return err;
        err = graft_image_center_crop(dst, &resized, crop_w, crop_h);
        graft_image_free(&resized);
        return err;
    }
    graft_image out = {0};
    err = graft_image_alloc(&out, crop_w, crop_h);
    if (err) return err;
    err = resample_image(&out, src, 0, 0, src->width, src->height, rw, rh,
                         graft__crop_origin(rw, crop_w), graft__crop_origin(rh, crop_h), filter);
    if (err) {
        graft_image_free(&out);
        return err;
    }
    *dst = out;
    return GRAFT_OK;
}
