/*
 * pipeline/decode/transform.c: graft_transform, everything between an image file's bytes and
 * one network input: presets, the canonical description the cache compares, and
 * graft_transform_apply (decode, resize + center crop or stretch or RandomResizedCrop,
 * horizontal flip, ToTensor + Normalize into float HWC or CHW).
 *
 * The per-image path is built for worker threads that see millions of images:
 *   - JPEG decodes only the iMCU rows and columns around the pixels the resize reads
 *     (graft__decode_jpeg_region), optionally at 1/2, 1/4, 1/8 scale in the DCT domain;
 *   - the resize computes only the output window (graft__resample_window) with the SIMD
 *     micro-kernels, and hands each finished row straight to the normalisation, which writes
 *     it (flipped, channel-swapped) into the caller's tensor: no full-size intermediate;
 *   - all memory comes from one thread-local scratch that only grows, so a worker in steady
 *     state does not allocate (other formats than JPEG still decode into a malloc'd image).
 * Pixels equal torchvision's on a PIL image (Resize, CenterCrop, ToTensor, Normalize) bit for
 * bit unless dct_scaling is on.
 *
 * RandomResizedCrop follows torchvision 0.14's get_params (ten attempts with a uniform area
 * fraction and a log-uniform aspect ratio, the box rounded half to even, then a center crop
 * with the ratio clamped), but draws from graft's own generator so that a seed gives the same
 * box on every machine: SplitMix64 seeded with the seed, each draw one 64-bit output;
 * uniform(a, b) = a + (b - a) * (x >> 11) * 2^-53; an integer in [0, n) is
 * ((x >> 32) * n) >> 32. Draw order: per attempt area then ratio, then top then left for
 * the accepted box, then one draw for the flip (flipped when below 0.5).
 *
 * It does not batch, thread or cache; the extract loop does that around it.
 */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "kernels.h"
#include "resample.h"

#define TRANSFORM_SIDE_MAX (1 << 15)

/* ---- presets and description ------------------------------------------------------------- */

static void set3(float v[3], float a, float b, float c) {
    v[0] = a;
    v[1] = b;
    v[2] = c;
}

int graft_transform_preset(const char *name, int size, graft_transform *out) {
    if (!name || !out) return graft__fail(GRAFT_EINVAL, "transform: NULL preset name or output");
    if (size < 0 || size > TRANSFORM_SIDE_MAX)
        return graft__fail(GRAFT_EINVAL, "transform: preset size %d is out of range", size);
    graft_transform t;
    memset(&t, 0, sizeof t);
    t.filter = GRAFT_RESAMPLE_BILINEAR;
    /* RandomResizedCrop's torchvision defaults, used once random_crop is switched on. */
    t.scale_min = 0.08f;
    t.scale_max = 1.0f;
    t.ratio_min = 3.0f / 4.0f;
    t.ratio_max = 4.0f / 3.0f;
    if (!strcmp(name, "imagenet")) {
        if (!size) size = 224;
        t.resize = size * 256 / 224;
        set3(t.mean, 0.485f, 0.456f, 0.406f);
        set3(t.std, 0.229f, 0.224f, 0.225f);
    } else if (!strcmp(name, "inception")) {
        if (!size) size = 299;
        t.resize = size * 342 / 299;
        set3(t.mean, 0.5f, 0.5f, 0.5f);
        set3(t.std, 0.5f, 0.5f, 0.5f);
    } else if (!strcmp(name, "caffe")) {
        if (!size) size = 224;
        t.resize = size * 256 / 224;
        /* RGB order here; bgr emits them as B, G, R = 103.939, 116.779, 123.68. */
        set3(t.mean, 123.68f, 116.779f, 103.939f);
        set3(t.std, 1.0f, 1.0f, 1.0f);
        t.scale255 = 1;
        t.bgr = 1;
    } else if (!strcmp(name, "stretch")) {
        if (!size) size = 224;
        t.resize = 0;
        set3(t.mean, 0.5f, 0.5f, 0.5f);
        set3(t.std, 0.5f, 0.5f, 0.5f);
    } else {
        return graft__fail(GRAFT_EINVAL, "transform: unknown preset \"%s\" (known: imagenet, "
                           "inception, caffe, stretch)", name);
    }
    t.width = t.height = size;
    *out = t;
    return GRAFT_OK;
}

static const char *filter_name(graft_resample f) {
    switch (f) {
    case GRAFT_RESAMPLE_NEAREST: return "nearest";
    case GRAFT_RESAMPLE_BILINEAR: return "bilinear";
    case GRAFT_RESAMPLE_BICUBIC: return "bicubic";
    }
    return "unknown";
}

static int finite_pos(float v) { return isfinite(v) && v > 0.0f; }

/* Every field a tensor depends on, checked once per call (cheap next to a decode). */
static int transform_check(const graft_transform *t) {
    if (!t) return graft__fail(GRAFT_EINVAL, "transform: NULL transform");
    if (t->width < 1 || t->height < 1 || t->width > TRANSFORM_SIDE_MAX ||
        t->height > TRANSFORM_SIDE_MAX)
        return graft__fail(GRAFT_EINVAL, "transform: input size %d x %d is out of range",
                           t->width, t->height);
    if (t->resize < 0 || t->resize > TRANSFORM_SIDE_MAX)
        return graft__fail(GRAFT_EINVAL, "transform: resize %d is out of range", t->resize);
    if (t->filter != GRAFT_RESAMPLE_NEAREST && t->filter != GRAFT_RESAMPLE_BILINEAR &&
        t->filter != GRAFT_RESAMPLE_BICUBIC)
        return graft__fail(GRAFT_EINVAL, "transform: unknown filter %d", (int)t->filter);
    for (int c = 0; c < 3; c++)
        if (!isfinite(t->mean[c]) || !isfinite(t->std[c]) || t->std[c] == 0.0f)
            return graft__fail(GRAFT_EINVAL, "transform: channel %d has mean %g, std %g", c,
                               (double)t->mean[c], (double)t->std[c]);
    if ((unsigned)t->scale255 > 1 || (unsigned)t->bgr > 1 || (unsigned)t->dct_scaling > 1 ||
        (unsigned)t->random_crop > 1 || (unsigned)t->hflip > 1)
        return graft__fail(GRAFT_EINVAL, "transform: scale255, bgr, dct_scaling, random_crop "
                           "and hflip take 0 or 1");
    if (t->random_crop &&
        (!finite_pos(t->scale_min) || !finite_pos(t->scale_max) || t->scale_min > t->scale_max ||
         !finite_pos(t->ratio_min) || !finite_pos(t->ratio_max) || t->ratio_min > t->ratio_max))
        return graft__fail(GRAFT_EINVAL, "transform: random crop scale (%g, %g) and ratio "
                           "(%g, %g) must be positive and ordered", (double)t->scale_min,
                           (double)t->scale_max, (double)t->ratio_min, (double)t->ratio_max);
    return GRAFT_OK;
}

static size_t max_pixels_of(const graft_transform *t) {
    return t->decode.max_pixels ? t->decode.max_pixels : GRAFT_IMAGE_MAX_PIXELS_DEFAULT;
}

int graft_transform_describe(const graft_transform *t, char *buf, size_t cap) {
    int err = transform_check(t);
    if (err) return err;
    if (!buf) return graft__fail(GRAFT_EINVAL, "transform_describe: NULL buffer");
    char geom[160];
    if (t->random_crop)
        snprintf(geom, sizeof geom, "random_crop=scale:%.9g,%.9g:ratio:%.9g,%.9g",
                 (double)t->scale_min, (double)t->scale_max, (double)t->ratio_min,
                 (double)t->ratio_max);
    else if (t->resize)
        snprintf(geom, sizeof geom, "resize=%d", t->resize);
    else
        snprintf(geom, sizeof geom, "resize=stretch");
    int n = snprintf(buf, cap,
                     "%s crop=%dx%d filter=%s mean=%.9g,%.9g,%.9g std=%.9g,%.9g,%.9g "
                     "scale=%s order=%s hflip=%d dct=%d max_pixels=%zu",
                     geom, t->width, t->height, filter_name(t->filter), (double)t->mean[0],
                     (double)t->mean[1], (double)t->mean[2], (double)t->std[0],
                     (double)t->std[1], (double)t->std[2], t->scale255 ? "1" : "1/255",
                     t->bgr ? "bgr" : "rgb", t->hflip, t->dct_scaling, max_pixels_of(t));
    if (n < 0 || (size_t)n >= cap)
        return graft__fail(GRAFT_ERANGE, "transform_describe: %d bytes do not fit in %zu",
                           n + 1, cap);
    return GRAFT_OK;
}

/* ---- the generator and RandomResizedCrop ------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(rng *r, double a, double b) {
    double u = (double)(rng_next(r) >> 11) * 0x1.0p-53;
    return a + (b - a) * u;
}

static int rng_below(rng *r, int n) {
    return (int)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Python's int(round(x)) for the non-negative values here: halves go to the even side. */
static int round_half_even(double x) {
    double f = floor(x), d = x - f;
    if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0.0)) f += 1.0;
    return f > 2147483647.0 ? 2147483647 : (int)f;
}

/*
 * torchvision 0.14's RandomResizedCrop.get_params with our generator. No contraction of
 * a + b * c into a fused multiply-add, so that every platform (and the Python transcription
 * in the tests) rounds the same way.
 */
__attribute__((optimize("fp-contract=off")))
static void random_crop_box(const graft_transform *t, int W, int H, rng *r, int box[4]) {
    const double area = (double)W * H;
    const double lr0 = log((double)t->ratio_min), lr1 = log((double)t->ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * rng_uniform(r, t->scale_min, t->scale_max);
        double aspect = exp(rng_uniform(r, lr0, lr1));
        int w = round_half_even(sqrt(target * aspect));
        int h = round_half_even(sqrt(target / aspect));
        if (w > 0 && w <= W && h > 0 && h <= H) {
            int i = rng_below(r, H - h + 1);
            int j = rng_below(r, W - w + 1);
            box[0] = j, box[1] = i, box[2] = w, box[3] = h;
            return;
        }
    }
    const double in_ratio = (double)W / H;
    int w = W, h = H;
    if (in_ratio < t->ratio_min) {
        h = round_half_even(w / (double)t->ratio_min);
    } else if (in_ratio > t->ratio_max) {
        w = round_half_even(h * (double)t->ratio_max);
    }
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    if (w > W) w = W;
    if (h > H) h = H;
    box[0] = (W - w) / 2, box[1] = (H - h) / 2, box[2] = w, box[3] = h;
}

int graft_transform_crop_box(const graft_transform *t, int width, int height, uint64_t seed,
                             int box[4], int *flip) {
    int err = transform_check(t);
    if (err) return err;
    if (!box || width < 1 || height < 1)
        return graft__fail(GRAFT_EINVAL, "transform_crop_box: %d x %d image or NULL box",
                           width, height);
    rng r = {seed};
    if (t->random_crop) random_crop_box(t, width, height, &r, box);
    else box[0] = 0, box[1] = 0, box[2] = width, box[3] = height;
    int f = t->hflip ? rng_uniform(&r, 0.0, 1.0) < 0.5 : 0;
    if (flip) *flip = f;
    return GRAFT_OK;
}

/* ---- geometry ---------------------------------------------------------------------------- */

/*
 * Where the output comes from for a w x h decoded image: the source box (bx, by, bw, bh),
 * the size (rw, rh) it is resized to, and the output window (ox, oy) of that resized image;
 * output pixels outside the resized image (a center crop larger than it) are padding.
 */
typedef struct plan {
    const graft_transform *t;
    uint64_t seed;
    int bx, by, bw, bh;
    int rw, rh;
    int ox, oy;
    int flip;
    int err;
} plan;

static void plan_geometry(plan *p, int w, int h) {
    const graft_transform *t = p->t;
    rng r = {p->seed};
    p->bx = p->by = 0, p->bw = w, p->bh = h;
    p->ox = p->oy = 0;
    p->rw = t->width, p->rh = t->height;
    if (t->random_crop) {
        int box[4];
        random_crop_box(t, w, h, &r, box);
        p->bx = box[0], p->by = box[1], p->bw = box[2], p->bh = box[3];
    } else if (t->resize) {
        p->err = graft_image_shorter_side_size(w, h, t->resize, &p->rw, &p->rh);
        if (p->err) p->rw = w, p->rh = h;
        p->ox = graft__crop_origin(p->rw, t->width);
        p->oy = graft__crop_origin(p->rh, t->height);
    }
    p->flip = t->hflip ? rng_uniform(&r, 0.0, 1.0) < 0.5 : 0;
}

/* The part [*a, *b) of the output window [o, o + n) that lies inside [0, size). */
static void clip_window(int o, int n, int size, int *a, int *b) {
    *a = o < 0 ? 0 : o;
    *b = o + n > size ? size : o + n;
    if (*b < *a) *b = *a;
}

/* The DCT-scaling hint (see graft_transform.dct_scaling): what the scaled image must cover. */
static void jpeg_hint(void *ctx, int w, int h, int *min_w, int *min_h) {
    const graft_transform *t = ((const plan *)ctx)->t;
    *min_w = *min_h = 0;
    if (!t->dct_scaling) return;
    if (t->random_crop) {
        *min_w = *min_h = t->width > t->height ? t->width : t->height;
    } else if (!t->resize) {
        *min_w = t->width;
        *min_h = t->height;
    } else if (graft_image_shorter_side_size(w, h, t->resize, min_w, min_h)) {
        *min_w = *min_h = 0; /* the size error surfaces from plan_geometry */
    }
}

static void source_span(const plan *p, int *x0, int *x1, int *y0, int *y1) {
    const graft_transform *t = p->t;
    int a, b;
    clip_window(p->ox, t->width, p->rw, &a, &b);
    if (b > a) {
        graft__resample_span(p->bw, p->rw, a, b - a, t->filter, x0, x1);
    } else {
        *x0 = 0, *x1 = 1;
    }
    clip_window(p->oy, t->height, p->rh, &a, &b);
    if (b > a) {
        graft__resample_span(p->bh, p->rh, a, b - a, t->filter, y0, y1);
    } else {
        *y0 = 0, *y1 = 1;
    }
    *x0 += p->bx, *x1 += p->bx, *y0 += p->by, *y1 += p->by;
    if (*x1 <= *x0) *x1 = *x0 + 1;
    if (*y1 <= *y0) *y1 = *y0 + 1;
}

static void jpeg_region(void *ctx, int w, int h, int *x0, int *x1, int *y0, int *y1) {
    plan *p = ctx;
    plan_geometry(p, w, h);
    source_span(p, x0, x1, y0, y1);
}

/* ---- normalisation, one resized row at a time -------------------------------------------- */

typedef struct sink {
    float lut[3][256]; /* lut[k][v]: output channel k's value for byte v of its source */
    int src[3];        /* output channel k reads byte src[k] of a pixel (BGR: 2 - k) */
    float *dst;
    graft_image_layout layout;
    int W, H;
    int x0, y0; /* where the window's first pixel lands in the output */
    int cols;   /* window width */
    int flip;
} sink;

static void sink_row(void *ctx, int y, const uint8_t *row) {
    const sink *s = ctx;
    const int oy = s->y0 + y;
    const size_t HW = (size_t)s->W * s->H;
    const float *l0 = s->lut[0], *l1 = s->lut[1], *l2 = s->lut[2];
    const uint8_t *r0 = row + s->src[0], *r1 = row + s->src[1], *r2 = row + s->src[2];
    /* A flipped row is written from its mirrored end backwards. */
    const int first = s->flip ? s->W - 1 - s->x0 : s->x0;
    const ptrdiff_t step = s->flip ? -1 : 1;
    if (s->layout == GRAFT_IMAGE_LAYOUT_HWC) {
        float *out = s->dst + ((size_t)oy * s->W + first) * 3;
        const ptrdiff_t step3 = 3 * step;
        for (int x = 0; x < s->cols; x++, out += step3) {
            out[0] = l0[r0[3 * x]];
            out[1] = l1[r1[3 * x]];
            out[2] = l2[r2[3 * x]];
        }
    } else {
        float *p0 = s->dst + (size_t)oy * s->W + first, *p1 = p0 + HW, *p2 = p1 + HW;
        for (int x = 0; x < s->cols; x++) {
            const ptrdiff_t o = step * x;
            p0[o] = l0[r0[3 * x]];
            p1[o] = l1[r1[3 * x]];
            p2[o] = l2[r2[3 * x]];
        }
    }
}

/*
 * The tables, with torchvision's float32 operations: ToTensor divides by 255, Normalize
 * subtracts the mean and divides by the std. Dividing rather than multiplying by reciprocals
 * is what keeps the results bit-identical (and with no multiplication there is nothing to
 * contract into a fused multiply-add). Each channel has only 256 possible values.
 */
static void sink_init(sink *s, const graft_transform *t) {
    for (int k = 0; k < 3; k++) {
        const int c = t->bgr ? 2 - k : k;
        s->src[k] = c;
        for (int v = 0; v < 256; v++) {
            float x = t->scale255 ? (float)v : (float)v / 255.0f;
            s->lut[k][v] = (x - t->mean[c]) / t->std[c];
        }
    }
}

/* Fills the whole output with the value of a zero pixel (padding of a large center crop). */
static void sink_fill_zero(const sink *s) {
    const size_t HW = (size_t)s->W * s->H;
    float z[3] = {s->lut[0][0], s->lut[1][0], s->lut[2][0]};
    if (s->layout == GRAFT_IMAGE_LAYOUT_HWC) {
        for (size_t i = 0; i < HW; i++) memcpy(s->dst + 3 * i, z, sizeof z);
    } else {
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < HW; i++) s->dst[c * HW + i] = z[c];
    }
}

/* ---- per-thread scratch ------------------------------------------------------------------ */

typedef struct tls_scratch {
    graft__scratch pixels; /* decoded JPEG region */
    graft__scratch resize; /* plans, intermediate rows */
} tls_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_err;

static void scratch_destroy(void *p) {
    tls_scratch *s = p;
    graft__scratch_free(&s->pixels);
    graft__scratch_free(&s->resize);
    free(s);
}

static void scratch_key_init(void) {
    scratch_key_err = pthread_key_create(&scratch_key, scratch_destroy);
}

/* This thread's scratch, created on first use and freed when the thread exits. */
static tls_scratch *thread_scratch(void) {
    pthread_once(&scratch_once, scratch_key_init);
    if (scratch_key_err) return NULL;
    tls_scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        if (pthread_setspecific(scratch_key, s)) {
            free(s);
            return NULL;
        }
    }
    return s;
}

/* ---- apply ------------------------------------------------------------------------------- */

int graft_transform_apply(const graft_transform *t, const void *buf, size_t len, uint64_t seed,
                          graft_image_layout layout, float *dst) {
    int err = transform_check(t);
    if (err) return err;
    if (!dst || (!buf && len))
        return graft__fail(GRAFT_EINVAL, "transform: NULL buffer or output");
    if (layout != GRAFT_IMAGE_LAYOUT_HWC && layout != GRAFT_IMAGE_LAYOUT_CHW)
        return graft__fail(GRAFT_EINVAL, "transform: unknown layout %d", (int)layout);
    tls_scratch *ts = thread_scratch();
    if (!ts) return graft__fail(GRAFT_ENOMEM, "transform: no memory for per-thread scratch");

    plan p = {.t = t, .seed = seed};
    graft__rgb_view v;
    graft_image img = {0};
    const size_t max_pixels = max_pixels_of(t);
    if (len >= 8 && graft_image_sniff(buf, len) == GRAFT_IMAGE_FORMAT_JPEG) {
        graft__jpeg_region_req req = {&p, jpeg_hint, jpeg_region};
        err = graft__decode_jpeg_region(buf, len, max_pixels, &req, &ts->pixels, &v);
        if (err) return err;
    } else {
        graft_decode_opts o = {max_pixels, 0, 0};
        err = graft_image_decode(buf, len, &o, &img);
        if (err) return err;
        plan_geometry(&p, img.width, img.height);
        const size_t stride = (size_t)img.width * 3;
        v = (graft__rgb_view){img.data, stride, img.width, img.height, 0, 0,
                              img.data + stride * (size_t)img.height};
    }
    if (p.err) {
        graft_image_free(&img);
        return p.err;
    }

    sink s;
    sink_init(&s, t);
    s.dst = dst;
    s.layout = layout;
    s.W = t->width;
    s.H = t->height;
    s.flip = p.flip;
    int xa, xb, ya, yb;
    clip_window(p.ox, t->width, p.rw, &xa, &xb);
    clip_window(p.oy, t->height, p.rh, &ya, &yb);
    s.x0 = xa - p.ox;
    s.y0 = ya - p.oy;
    s.cols = xb - xa;
    if (xb - xa < t->width || yb - ya < t->height) sink_fill_zero(&s);
    if (xb > xa && yb > ya) {
        /* The box of the decoded image, as a view whose first pixel is the box's. */
        graft__rgb_view bv = v;
        bv.width = p.bw;
        bv.height = p.bh;
        bv.x_off = v.x_off - p.bx;
        bv.y_off = v.y_off - p.by;
        err = graft__resample_window(&bv, p.rw, p.rh, xa, ya, xb - xa, yb - ya, t->filter,
                                     &ts->resize, sink_row, &s);
    }
    graft_image_free(&img);
    return err;
}
