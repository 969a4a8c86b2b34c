/*
 * pipeline/decode/resize.c: resizing and cropping of 8-bit RGB images with the arithmetic of
 * Pillow's Image.resize (libImaging/Resample.c and Geometry.c, Pillow >= 7), which is what
 * torchvision's Resize runs on PIL images, plus torchvision's CenterCrop.
 *
 * Bilinear and bicubic are separable convolutions. For each output index along an axis the
 * filter is centred at (i + 0.5) * scale in input coordinates, its support is widened by the
 * scale when shrinking (that is the antialiasing), the taps are normalised to sum to 1 in
 * double precision and then rounded to signed 22-bit fixed point (PRECISION_BITS: 8 bits of
 * pixel and 2 of headroom in an int32). Each pass adds pixel * tap to half an LSB and keeps
 * the top bits, clipped to 0..255. The horizontal pass runs first, over only the input rows
 * the vertical pass will read; an axis whose size does not change is copied, not filtered.
 * Doing exactly these steps in this order is what makes the result bit-identical to
 * Pillow's; nothing here is an approximation of it. Nearest is Pillow's affine scaling:
 * sample positions accumulated in double, starting half a step in.
 *
 * resample() computes any rectangular window of the resized image: each output pixel depends
 * only on its own taps, so a window equals the same crop of the full resize, and
 * Resize + CenterCrop costs only the pixels it keeps.
 *
 * Scalar code with plain inner loops (a tap loop over contiguous bytes in the vertical pass,
 * over pixels in the horizontal one) so that a SIMD variant can replace the two pass
 * functions later. No threads; no libuv.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graft/image.h"
#include "kernels.h"

#define PRECISION_BITS (32 - 8 - 2)

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

typedef struct resample_filter {
    double (*fn)(double x);
    double support;
} resample_filter;

/* ---- per-axis plans ---------------------------------------------------------------------- */

/*
 * The taps of output indices [first, first + count) of an axis resized from in_size to
 * out_size: output i reads inputs start[i] .. start[i] + taps[i] - 1 with weights
 * coef[i * ksize + t] (fixed point, PRECISION_BITS).
 */
typedef struct axis_plan {
    int count, ksize;
    int *start, *taps;
    int32_t *coef;
} axis_plan;

static void axis_plan_free(axis_plan *p) {
    free(p->start);
    free(p->taps);
    free(p->coef);
    memset(p, 0, sizeof *p);
}

static int axis_plan_init(axis_plan *p, int in_size, int out_size, int first, int count,
                          const resample_filter *f) {
    memset(p, 0, sizeof *p);
    /* Pillow's box is float: (double)(float)in_size keeps its rounding for huge sizes. */
    const double scale = (double)(float)in_size / out_size;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = f->support * filterscale;
    const double ss = 1.0 / filterscale;
    /* support <= 2 * in_size here, so ceil() fits an int. */
    const int ksize = (int)ceil(support) * 2 + 1;
    if ((size_t)count > SIZE_MAX / sizeof(double) / (size_t)ksize)
        return graft__fail(GRAFT_ERANGE, "resize: %d x %d filter taps do not fit in memory",
                           count, ksize);
    p->count = count;
    p->ksize = ksize;
    p->start = malloc(sizeof(int) * (size_t)count);
    p->taps = malloc(sizeof(int) * (size_t)count);
    p->coef = calloc((size_t)count * (size_t)ksize, sizeof(int32_t));
    double *w = malloc(sizeof(double) * (size_t)ksize);
    if (!p->start || !p->taps || !p->coef || !w) {
        free(w);
        axis_plan_free(p);
        return graft__fail(GRAFT_ENOMEM, "resize: no memory for %d x %d filter taps", count,
                           ksize);
    }
    for (int i = 0; i < count; i++) {
        const int xx = first + i;
        const double center = (xx + 0.5) * scale;
        /* Truncation (not floor) of possibly negative values, then clamping: as Pillow. */
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        int n = xmax - xmin;
        if (n > ksize) n = ksize; /* cannot happen: the span is at most 2 * support + 1 */
        if (n < 0) n = 0;
        double ww = 0.0;
        for (int x = 0; x < n; x++) {
            w[x] = f->fn((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = p->coef + (size_t)i * ksize;
        for (int x = 0; x < n; x++) {
            double kx = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = kx < 0 ? (int32_t)(-0.5 + kx * (1 << PRECISION_BITS))
                          : (int32_t)(0.5 + kx * (1 << PRECISION_BITS));
        }
        p->start[i] = xmin;
        p->taps[i] = n;
    }
    free(w);
    return GRAFT_OK;
}

/* Pillow's clip8: the top bits of the rounded sum, clamped. (GCC shifts negative values
 * arithmetically, which is the floor Pillow's lookup table relies on.) The sums fit an int32:
 * the taps' magnitudes add up to at most about 1.25 (bicubic's negative lobes), and
 * 255 * 1.25 * 2^22 < 2^31. */
static inline uint8_t clip8(int32_t ss) {
    int32_t v = ss >> PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* ---- the two passes ---------------------------------------------------------------------- */

/*
 * dst row r, pixel i = sum over taps of src row r, pixel start[i] + t. Rows are RGB;
 * strides in bytes.
 */
static void resample_horizontal(uint8_t *restrict dst, size_t dst_stride,
                                const uint8_t *restrict src, size_t src_stride, int rows,
                                const axis_plan *p) {
    for (int r = 0; r < rows; r++) {
        const uint8_t *in = src + (size_t)r * src_stride;
        uint8_t *out = dst + (size_t)r * dst_stride;
        for (int i = 0; i < p->count; i++) {
            const int32_t *k = p->coef + (size_t)i * p->ksize;
            const uint8_t *px = in + (size_t)p->start[i] * 3;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int t = 0; t < p->taps[i]; t++) {
                s0 += px[3 * t + 0] * k[t];
                s1 += px[3 * t + 1] * k[t];
                s2 += px[3 * t + 2] * k[t];
            }
            out[3 * i + 0] = clip8(s0);
            out[3 * i + 1] = clip8(s1);
            out[3 * i + 2] = clip8(s2);
        }
    }
}

/*
 * dst row i = sum over taps of src row start[i] - row_offset + t, `bytes` bytes per row,
 * accumulated a whole row at a time in `acc` (bytes int32s).
 */
static void resample_vertical(uint8_t *restrict dst, size_t dst_stride,
                              const uint8_t *restrict src, size_t src_stride, int row_offset,
                              size_t bytes, const axis_plan *p, int32_t *restrict acc) {
    for (int i = 0; i < p->count; i++) {
        const int32_t *k = p->coef + (size_t)i * p->ksize;
        const uint8_t *in = src + (size_t)(p->start[i] - row_offset) * src_stride;
        for (size_t b = 0; b < bytes; b++) acc[b] = 1 << (PRECISION_BITS - 1);
        for (int t = 0; t < p->taps[i]; t++) {
            const uint8_t *row = in + (size_t)t * src_stride;
            const int32_t kt = k[t];
            for (size_t b = 0; b < bytes; b++) acc[b] += row[b] * kt;
        }
        uint8_t *out = dst + (size_t)i * dst_stride;
        for (size_t b = 0; b < bytes; b++) out[b] = clip8(acc[b]);
    }
}

/* ---- nearest ----------------------------------------------------------------------------- */

/*
 * Pillow's ImagingScaleAffine: positions start at half a step and are accumulated, not
 * multiplied, so the rare position that lands within rounding of an integer goes the same
 * way as in Pillow. A position outside the input (cannot happen for a plain resize) is black.
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

static int resample_nearest(graft_image *dst, const graft_image *src, int out_w, int out_h,
                            int x0, int y0) {
    const int cw = dst->width, ch = dst->height;
    int *xtab = malloc(sizeof(int) * (size_t)cw);
    int *ytab = malloc(sizeof(int) * (size_t)ch);
    if (!xtab || !ytab) {
        free(xtab);
        free(ytab);
        return graft__fail(GRAFT_ENOMEM, "resize: no memory for nearest-neighbour tables");
    }
    nearest_table(xtab, src->width, out_w, x0, cw);
    nearest_table(ytab, src->height, out_h, y0, ch);
    for (int y = 0; y < ch; y++) {
        uint8_t *out = dst->data + (size_t)y * cw * 3;
        if (ytab[y] < 0) {
            memset(out, 0, (size_t)cw * 3);
            continue;
        }
        const uint8_t *in = src->data + (size_t)ytab[y] * src->width * 3;
        for (int x = 0; x < cw; x++) {
            if (xtab[x] < 0)
                memset(out + 3 * x, 0, 3);
            else
                memcpy(out + 3 * x, in + (size_t)xtab[x] * 3, 3);
        }
    }
    free(xtab);
    free(ytab);
    return GRAFT_OK;
}

/* ---- the window resampler ---------------------------------------------------------------- */

/*
 * Fills dst (already allocated, cw x ch) with the window at (x0, y0) of src resized to
 * out_w x out_h. The window lies inside the resized image (checked by the callers).
 */
static int resample(graft_image *dst, const graft_image *src, int out_w, int out_h, int x0,
                    int y0, graft_resample filter) {
    static const resample_filter bilinear = {bilinear_filter, 1.0};
    static const resample_filter bicubic = {bicubic_filter, 2.0};
    if (filter == GRAFT_RESAMPLE_NEAREST) return resample_nearest(dst, src, out_w, out_h, x0, y0);
    const resample_filter *f = filter == GRAFT_RESAMPLE_BICUBIC ? &bicubic : &bilinear;

    const int cw = dst->width, ch = dst->height;
    const size_t src_stride = (size_t)src->width * 3, dst_stride = (size_t)cw * 3;
    const int need_h = out_w != src->width, need_v = out_h != src->height;
    axis_plan ph = {0}, pv = {0};
    uint8_t *tmp = NULL;
    int32_t *acc = NULL;
    int err = GRAFT_OK;

    /* Input rows the output window needs: the vertical taps' span, or the window itself. */
    int row_lo = y0, row_hi = y0 + ch;
    if (need_v) {
        err = axis_plan_init(&pv, src->height, out_h, y0, ch, f);
        if (err) goto done;
        row_lo = pv.start[0];
        row_hi = pv.start[ch - 1] + pv.taps[ch - 1];
        if (row_hi <= row_lo) row_hi = row_lo + 1; /* empty taps: keep the buffer valid */
    }

    /* After this block, `rows` points at input row row_lo, at the window's first column. */
    const uint8_t *rows;
    size_t rows_stride;
    if (need_h) {
        err = axis_plan_init(&ph, src->width, out_w, x0, cw, f);
        if (err) goto done;
        tmp = malloc(dst_stride * (size_t)(row_hi - row_lo));
        if (!tmp) {
            err = graft__fail(GRAFT_ENOMEM, "resize: no memory for %d intermediate rows",
                              row_hi - row_lo);
            goto done;
        }
        resample_horizontal(tmp, dst_stride, src->data + (size_t)row_lo * src_stride,
                            src_stride, row_hi - row_lo, &ph);
        rows = tmp;
        rows_stride = dst_stride;
    } else {
        rows = src->data + (size_t)row_lo * src_stride + (size_t)x0 * 3;
        rows_stride = src_stride;
    }

    if (need_v) {
        acc = malloc(sizeof(int32_t) * dst_stride);
        if (!acc) {
            err = graft__fail(GRAFT_ENOMEM, "resize: no memory for a row accumulator");
            goto done;
        }
        resample_vertical(dst->data, dst_stride, rows, rows_stride, row_lo, dst_stride, &pv,
                          acc);
    } else {
        for (int y = 0; y < ch; y++)
            memcpy(dst->data + (size_t)y * dst_stride, rows + (size_t)y * rows_stride,
                   dst_stride);
    }
done:
    free(acc);
    free(tmp);
    axis_plan_free(&ph);
    axis_plan_free(&pv);
    return err;
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
    err = resample(&out, src, width, height, 0, 0, filter);
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

/* torchvision's crop origin along one axis: negative when the crop pads. */
static int crop_origin(int size, int crop) {
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
    const int ox = crop_origin(src->width, width), oy = crop_origin(src->height, height);
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
    err = resample(&out, src, rw, rh, crop_origin(rw, crop_w), crop_origin(rh, crop_h), filter);
    if (err) {
        graft_image_free(&out);
        return err;
    }
    *dst = out;
    return GRAFT_OK;
}
