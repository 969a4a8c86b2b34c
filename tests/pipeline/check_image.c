/*
 * tests/pipeline/check_image.c: the decode stage (pipeline/decode/: graft/image.h) and the
 * .npy reader/writer (pipeline/io/npy.c: graft/npy.h).
 *
 * Three kinds of checks:
 *   - against the shared reference files (../shared/models/images, or $GRAFT_SHARED/models/
 *     images): PIL's bilinear resizes (<img>.<H>x<W>.rgb_u8.npy) and the network inputs
 *     (<img>.<H>x<W>.input.npy) made from them. Skipped, saying so, without ../shared.
 *   - against Pillow and torchvision themselves: tests/pipeline/pil_reference.py, run with
 *     Debian's /usr/bin/python3 (or $GRAFT_PYTHON), writes images in every format and variant
 *     Pillow encodes plus its decodes, resizes, crops and normalised tensors; every case must
 *     match exactly. Skipped when python3 with PIL and numpy is absent.
 *   - self-contained: images encoded here (our own BMP writer, libjpeg, libspng, libwebp
 *     encoders) in many variants, every error path (truncation at every offset, wrong magic,
 *     absurd BMP headers, the pixel limit, mutated bytes), the geometry helpers' torchvision
 *     conventions, the float conversion and the .npy format.
 * check-san runs all of it under ASan and UBSan.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <spng.h>
#include <webp/encode.h>

#include "../check.h"
#include "graft/graft.h"
#include "graft/image.h"
#include "graft/npy.h"


/* Fails the check unless `err` is `want` and, when `needle` is given, the last error holds it. */
#define EXPECT_ERR(err, want, needle, ...)                                                    \
    do {                                                                                      \
        int e_ = (err);                                                                       \
        const char *n_ = (needle);                                                            \
        if (e_ != (want) || (n_ && !strstr(graft_last_error(), n_))) {                        \
            char what_[160];                                                                  \
            snprintf(what_, sizeof what_, __VA_ARGS__);                                       \
            return graft_check_fail(msg, msglen, "%s: %s \"%s\", expected %s%s%s", what_,     \
                                    graft_err_name(e_), graft_last_error(),                   \
                                    graft_err_name(want), n_ ? " with " : "", n_ ? n_ : "");  \
        }                                                                                     \
    } while (0)

/* ---- small helpers ----------------------------------------------------------------------- */

/* The shared images directory, or NULL (with the reason in msg) when it is absent. */
static const char *shared_images(char *msg, size_t msglen) {
    static char dir[1024];
    const char *root = getenv("GRAFT_SHARED");
    if (!root || !root[0]) root = "../shared";
    snprintf(dir, sizeof dir, "%s/models/images", root);
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/cat.bmp", dir);
    if (access(probe, R_OK) != 0) {
        snprintf(msg, msglen, "%s not found: set GRAFT_SHARED to the shared data directory "
                 "(default ../shared from the repository root)", probe);
        return NULL;
    }
    return dir;
}

/* A deterministic test picture: gradients, noise, a checkerboard and a black box. */
static void synth_rgb(uint8_t *px, int w, int h, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 3;
            int v[3] = {x * 255 / (w > 1 ? w - 1 : 1), y * 255 / (h > 1 ? h - 1 : 1),
                        (x + y) * 255 / (w + h > 2 ? w + h - 2 : 1)};
            for (int c = 0; c < 3; c++) {
                s = s * 1664525u + 1013904223u;
                v[c] += (int)(s >> 27) - 16;
                p[c] = (uint8_t)(v[c] < 0 ? 0 : v[c] > 255 ? 255 : v[c]);
            }
            if ((x / 7 + y / 5) % 2 == 0) p[0] = p[1] = p[2] = 255;
            if (y >= h / 3 && y < h / 2 && x >= w / 4 && x < w / 2) p[0] = p[1] = p[2] = 0;
        }
}

static int max_abs_diff_u8(const uint8_t *a, const uint8_t *b, size_t n, size_t *count) {
    int m = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d) k++;
        if (d > m) m = d;
    }
    if (count) *count = k;
    return m;
}

/* ---- encoders for the self-contained checks ---------------------------------------------- */

typedef struct bytes {
    uint8_t *p;
    size_t len;
} bytes;

/* JPEG via libjpeg: comps 1 (gray), 3 (RGB) or 4 (CMYK stored as given; jpeg_cs YCCK
 * transforms it). Test data only, so libjpeg's default error handler (exit) is acceptable. */
static bytes jpeg_encode(const uint8_t *px, int w, int h, int comps, J_COLOR_SPACE jpeg_cs,
                         int quality, int progressive) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long out_len = 0;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &out_len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, jpeg_cs);
    jpeg_set_quality(&c, quality, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    /* Copied into malloc'd memory so that every encoder's output is freed with free(). */
    bytes b = {malloc(out_len), out_len};
    if (b.p) memcpy(b.p, out, out_len);
    free(out);
    return b;
}

/* PNG via libspng from samples in PNG layout (16-bit big-endian); plte may be NULL. */
static bytes png_encode(const void *data, size_t data_len, int w, int h, int depth, int ctype,
                        const struct spng_plte *plte) {
    bytes b = {NULL, 0};
    spng_ctx *enc = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!enc) return b;
    struct spng_ihdr ihdr = {(uint32_t)w, (uint32_t)h, (uint8_t)depth, (uint8_t)ctype, 0, 0, 0};
    spng_set_option(enc, SPNG_ENCODE_TO_BUFFER, 1);
    int rc = spng_set_ihdr(enc, &ihdr);
    if (!rc && plte) rc = spng_set_plte(enc, (struct spng_plte *)plte);
    if (!rc) rc = spng_encode_image(enc, data, data_len, SPNG_FMT_RAW, SPNG_ENCODE_FINALIZE);
    if (!rc) {
        int e = 0;
        b.p = spng_get_png_buffer(enc, &b.len, &e);
        if (e) b.p = NULL;
    }
    spng_ctx_free(enc);
    return b;
}

/* BMP, written by hand: every header layout and pixel format the reader claims. */
typedef struct bmp_spec {
    int hsize;           /* 12, 40, 52, 56, 108, 124 */
    int width, height;   /* height < 0: top-down */
    int bpp;
    uint32_t compression;
    uint32_t masks[3];   /* BI_BITFIELDS */
    int n_palette;       /* entries written */
    uint32_t clr_used;
    const uint8_t (*palette)[3];
    int drop_last_pad;   /* omit the final row's padding */
} bmp_spec;

static void put_u16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v) {
    put_u16(p, v);
    put_u16(p + 2, v >> 16);
}

/* values: (|height|, width) top row first: palette index, packed 16/32-bit pixel or 0xRRGGBB. */
static bytes bmp_encode(const bmp_spec *s, const uint32_t *values) {
    const int h = abs(s->height), w = s->width;
    const size_t stride = ((size_t)w * s->bpp + 31) / 32 * 4;
    const int masks_after = s->hsize == 40 && s->compression == 3;
    const size_t entry = s->hsize == 12 ? 3 : 4;
    const size_t off = 14 + (size_t)s->hsize + (masks_after ? 12 : 0) + entry * s->n_palette;
    const size_t last_pad = stride - ((size_t)w * s->bpp + 7) / 8;
    const size_t len = off + stride * h - (s->drop_last_pad ? last_pad : 0);
    bytes b = {calloc(1, len), len};
    if (!b.p) return b;
    uint8_t *p = b.p;
    p[0] = 'B';
    p[1] = 'M';
    put_u32(p + 2, (uint32_t)len);
    put_u32(p + 10, (uint32_t)off);
    uint8_t *hd = p + 14;
    put_u32(hd, (uint32_t)s->hsize);
    if (s->hsize == 12) {
        put_u16(hd + 4, (uint32_t)w);
        put_u16(hd + 6, (uint32_t)h);
        put_u16(hd + 8, 1);
        put_u16(hd + 10, (uint32_t)s->bpp);
    } else {
        put_u32(hd + 4, (uint32_t)w);
        put_u32(hd + 8, (uint32_t)s->height);
        put_u16(hd + 12, 1);
        put_u16(hd + 14, (uint32_t)s->bpp);
        put_u32(hd + 16, s->compression);
        put_u32(hd + 20, (uint32_t)(stride * h));
        put_u32(hd + 32, s->clr_used);
        if (s->hsize >= 52)
            for (int c = 0; c < 3; c++) put_u32(hd + 40 + 4 * c, s->masks[c]);
        if (masks_after)
            for (int c = 0; c < 3; c++) put_u32(hd + 40 + 4 * c, s->masks[c]);
    }
    uint8_t *pal = p + 14 + s->hsize + (masks_after ? 12 : 0);
    for (int i = 0; i < s->n_palette; i++) {
        pal[i * entry + 0] = s->palette[i][2];
        pal[i * entry + 1] = s->palette[i][1];
        pal[i * entry + 2] = s->palette[i][0];
    }
    for (int y = 0; y < h; y++) {
        int stored = s->height < 0 ? y : h - 1 - y;
        uint8_t *row = p + off + (size_t)stored * stride;
        for (int x = 0; x < w; x++) {
            uint32_t v = values[(size_t)y * w + x];
            switch (s->bpp) {
            case 1: case 4: case 8: {
                int per = 8 / s->bpp;
                row[x / per] |= (uint8_t)(v << ((per - 1 - x % per) * s->bpp));
                break;
            }
            case 16: put_u16(row + 2 * x, v); break;
            case 24:
                row[3 * x + 0] = (uint8_t)v;
                row[3 * x + 1] = (uint8_t)(v >> 8);
                row[3 * x + 2] = (uint8_t)(v >> 16);
                break;
            case 32: put_u32(row + 4 * x, v); break;
            }
        }
    }
    return b;
}


/* GIF89a with one frame, written by hand: LZW data of literal codes only, with a clear code
 * before the table would grow (valid data every decoder must accept). pal has ncolors
 * (a power of two, >= 2) entries or is NULL; trans < 0 for none. */
typedef struct gif_spec {
    int sw, sh;                   /* logical screen */
    int fx, fy, fw, fh;           /* the frame */
    const uint8_t (*global)[3];   /* NULL: no global colour map */
    const uint8_t (*local)[3];    /* NULL: no local colour map */
    int ncolors;                  /* entries of whichever maps are given */
    int trans;                    /* transparent index, or -1 */
    int interlace;
} gif_spec;

static size_t gif_put_table(uint8_t *p, const uint8_t (*pal)[3], int n) {
    for (int i = 0; i < n; i++) memcpy(p + 3 * i, pal[i], 3);
    return (size_t)n * 3;
}

static bytes gif_encode(const gif_spec *g, const uint8_t *idx) {
    const int min_size = 8, width = 9;
    const int limit = (1 << width) - (1 << min_size) - 2;
    const size_t npx = (size_t)g->fw * g->fh;
    /* Every code is 9 bits; a clear code per `limit` literals. */
    const size_t codes = npx + npx / (size_t)limit + 3, lzw = codes * 9 / 8 + 2;
    const size_t cap = 13 + 3 * 256 * 2 + 8 + 10 + 1 + lzw + lzw / 255 + 4;
    bytes b = {calloc(1, cap), 0};
    if (!b.p) return b;
    uint8_t *p = b.p;
    size_t n = 0;
    int bits = 1;
    while ((1 << bits) < g->ncolors) bits++;
    memcpy(p, "GIF89a", 6);
    put_u16(p + 6, (uint32_t)g->sw);
    put_u16(p + 8, (uint32_t)g->sh);
    p[10] = g->global ? (uint8_t)(0x80 | (bits - 1)) : 0;
    n = 13;
    if (g->global) n += gif_put_table(p + n, g->global, 1 << bits);
    if (g->trans >= 0) {
        const uint8_t gce[8] = {0x21, 0xf9, 4, 1, 0, 0, (uint8_t)g->trans, 0};
        memcpy(p + n, gce, 8);
        n += 8;
    }
    p[n] = ',';
    put_u16(p + n + 1, (uint32_t)g->fx);
    put_u16(p + n + 3, (uint32_t)g->fy);
    put_u16(p + n + 5, (uint32_t)g->fw);
    put_u16(p + n + 7, (uint32_t)g->fh);
    p[n + 9] = (uint8_t)((g->local ? 0x80 | (bits - 1) : 0) | (g->interlace ? 0x40 : 0));
    n += 10;
    if (g->local) n += gif_put_table(p + n, g->local, 1 << bits);
    p[n++] = (uint8_t)min_size;
    /* The code stream into a temporary, then cut into sub-blocks. */
    uint8_t *codes_buf = calloc(1, lzw);
    if (!codes_buf) {
        free(b.p);
        b.p = NULL;
        return b;
    }
    size_t nbits = 0;
    #define GIF_EMIT(code)                                                                  \
        do {                                                                              \
            for (int k_ = 0; k_ < width; k_++, nbits++)                                   \
                if (((code) >> k_) & 1) codes_buf[nbits / 8] |= (uint8_t)(1 << nbits % 8); \
        } while (0)
    GIF_EMIT(1 << min_size);
    int since_clear = 0;
    static const int pass_start[4] = {0, 4, 2, 1}, pass_step[4] = {8, 8, 4, 2};
    for (int pass = 0; pass < (g->interlace ? 4 : 1); pass++)
        for (int y = g->interlace ? pass_start[pass] : 0; y < g->fh;
             y += g->interlace ? pass_step[pass] : 1)
            for (int x = 0; x < g->fw; x++) {
                if (since_clear == limit) {
                    GIF_EMIT(1 << min_size);
                    since_clear = 0;
                }
                GIF_EMIT(idx[(size_t)y * g->fw + x]);
                since_clear++;
            }
    GIF_EMIT((1 << min_size) + 1);
    #undef GIF_EMIT
    const size_t clen = (nbits + 7) / 8;
    for (size_t at = 0; at < clen; at += 255) {
        size_t k = clen - at < 255 ? clen - at : 255;
        p[n++] = (uint8_t)k;
        memcpy(p + n, codes_buf + at, k);
        n += k;
    }
    free(codes_buf);
    p[n++] = 0;
    p[n++] = ';';
    b.len = n;
    return b;
}

/* ---- shared reference files -------------------------------------------------------------- */

static const char *const shared_names[] = {"cat.bmp", "bird.bmp", "grace_hopper.bmp",
                                           "hot_dog.jpg"};

static int check_shared_bilinear(char *msg, size_t msglen) {
    const char *dir = shared_images(msg, msglen);
    if (!dir) return GRAFT_CHECK_SKIP;
    char report[600] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof shared_names / sizeof *shared_names; i++) {
        char path[1200], ref_path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, shared_names[i]);
        graft_image img = {0};
        int err = graft_image_load_file(path, NULL, &img);
        EXPECT_ERR(err, GRAFT_OK, NULL, "decode %s", shared_names[i]);
        for (int n = 224; n >= 128; n -= 96) {
            size_t stem = strcspn(shared_names[i], ".");
            snprintf(ref_path, sizeof ref_path, "%s/%.*s.%dx%d.rgb_u8.npy", dir, (int)stem,
                     shared_names[i], n, n);
            graft_npy ref = {0};
            graft_image small = {0};
            err = graft_npy_read(ref_path, &ref);
            if (err) {
                graft_image_free(&img);
                return graft_check_fail(msg, msglen, "%s", graft_last_error());
            }
            err = graft_image_resize(&small, &img, n, n, GRAFT_RESAMPLE_BILINEAR);
            if (err || ref.dtype != GRAFT_NPY_DTYPE_U8 || ref.rank != 3 ||
                ref.shape[0] != (size_t)n || ref.shape[1] != (size_t)n || ref.shape[2] != 3) {
                graft_npy_free(&ref);
                graft_image_free(&img);
                graft_image_free(&small);
                return graft_check_fail(msg, msglen, "%s: resize %s or unexpected reference shape",
                                  ref_path, err ? graft_last_error() : "ok");
            }
            size_t differ;
            int d = max_abs_diff_u8(small.data, ref.data, ref.count, &differ);
            graft_npy_free(&ref);
            graft_image_free(&small);
            used += (size_t)snprintf(report + used, sizeof report - used, "%s%.*s %d: max %d",
                                     used ? ", " : "", (int)stem, shared_names[i], n, d);
            if (d > 1) {
                graft_image_free(&img);
                return graft_check_fail(msg, msglen, "%s %dx%d bilinear: max diff %d (%zu values) "
                                  "vs PIL", shared_names[i], n, n, d, differ);
            }
        }
        graft_image_free(&img);
    }
    snprintf(msg, msglen, "vs PIL bilinear: %s", report);
    return GRAFT_CHECK_PASS;
}

/* The exact network inputs: (v - 128) / 128 from the stored PIL resizes; torchvision's
 * (v / 255 - m) / s with m = s = 128/255 differs from that by rounding only. */
static int check_shared_input_tensor(char *msg, size_t msglen) {
    const char *dir = shared_images(msg, msglen);
    if (!dir) return GRAFT_CHECK_SKIP;
    const float m = 128.0f / 255.0f, mean[3] = {m, m, m};
    double worst = 0;
    for (size_t i = 0; i < sizeof shared_names / sizeof *shared_names; i++) {
        size_t stem = strcspn(shared_names[i], ".");
        for (int n = 224; n >= 128; n -= 96) {
            char path[1200];
            graft_npy u8 = {0}, ref = {0};
            snprintf(path, sizeof path, "%s/%.*s.%dx%d.rgb_u8.npy", dir, (int)stem,
                     shared_names[i], n, n);
            int err = graft_npy_read(path, &u8);
            snprintf(path, sizeof path, "%s/%.*s.%dx%d.input.npy", dir, (int)stem,
                     shared_names[i], n, n);
            if (!err) err = graft_npy_read(path, &ref);
            if (err) {
                graft_npy_free(&u8);
                return graft_check_fail(msg, msglen, "%s", graft_last_error());
            }
            graft_image img = {n, n, 3, u8.data};
            float *x = malloc(sizeof(float) * ref.count);
            err = x ? graft_image_to_float(&img, mean, mean, GRAFT_IMAGE_LAYOUT_CHW, x)
                    : GRAFT_ENOMEM;
            int shape_ok = ref.dtype == GRAFT_NPY_DTYPE_F32 && ref.count == (size_t)3 * n * n;
            double d = 0;
            for (size_t k = 0; !err && shape_ok && k < ref.count; k++)
                d = fmax(d, fabs((double)x[k] - ((const float *)ref.data)[k]));
            free(x);
            graft_npy_free(&u8);
            graft_npy_free(&ref);
            if (err || !shape_ok)
                return graft_check_fail(msg, msglen, "%s: %s", path,
                                  err ? graft_last_error() : "unexpected shape");
            if (d > 2.5e-7)
                return graft_check_fail(msg, msglen, "%s: max diff %g", path, d);
            worst = fmax(worst, d);
        }
    }
    snprintf(msg, msglen, "max |to_float - input.npy| = %g", worst);
    return GRAFT_CHECK_PASS;
}

/* ---- Pillow and torchvision -------------------------------------------------------------- */

static void remove_tree_flat(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[1400];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static graft_resample parse_filter(const char *s) {
    if (!strcmp(s, "nearest")) return GRAFT_RESAMPLE_NEAREST;
    if (!strcmp(s, "bicubic")) return GRAFT_RESAMPLE_BICUBIC;
    return GRAFT_RESAMPLE_BILINEAR;
}

/* One manifest line recomputed here; returns the max abs difference, or -1 with msg set. */
static double pil_case(const char *line, const char *dir, char *kind, char *msg, size_t msglen) {
    char file[1024], npy_name[256], fname[32];
    int a = 0, b = 0, c = 0;
    graft_image img = {0}, res = {0};
    graft_npy ref = {0};
    double diff = -1;
    float *x = NULL;
    kind[0] = '\0';
    if (sscanf(line, "%15s", kind) != 1) return 0;
    int ok = 0;
    if (!strcmp(kind, "decode")) ok = sscanf(line, "%*s %1023s %255s", file, npy_name) == 2;
    else if (!strcmp(kind, "resize"))
        ok = sscanf(line, "%*s %1023s %d %d %31s %255s", file, &a, &b, fname, npy_name) == 5;
    else if (!strcmp(kind, "resize_crop"))
        ok = sscanf(line, "%*s %1023s %d %d %d %31s %255s", file, &a, &b, &c, fname,
                    npy_name) == 6;
    else if (!strcmp(kind, "crop"))
        ok = sscanf(line, "%*s %1023s %d %d %255s", file, &a, &b, npy_name) == 4;
    else if (!strcmp(kind, "float"))
        ok = sscanf(line, "%*s %1023s %d %d %255s", file, &a, &b, npy_name) == 4;
    if (!ok) {
        snprintf(msg, msglen, "bad manifest line: %.500s", line);
        return -1;
    }
    char npy_path[1400];
    snprintf(npy_path, sizeof npy_path, "%s/%s", dir, npy_name);
    int err = graft_npy_read(npy_path, &ref);
    if (!err) err = graft_image_load_file(file, NULL, &img);
    if (err) goto fail;
    if (!strcmp(kind, "decode")) {
        res = img;
        img = (graft_image){0};
    } else if (!strcmp(kind, "resize")) {
        err = graft_image_resize(&res, &img, a, b, parse_filter(fname));
    } else if (!strcmp(kind, "resize_crop")) {
        err = graft_image_resize_center_crop(&res, &img, a, b, c, parse_filter(fname));
    } else if (!strcmp(kind, "crop")) {
        err = graft_image_center_crop(&res, &img, a, b);
    } else {
        static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
        err = graft_image_resize_center_crop(&res, &img, a, b, b, GRAFT_RESAMPLE_BILINEAR);
        if (err) goto fail;
        if (ref.dtype != GRAFT_NPY_DTYPE_F32 || ref.count != (size_t)3 * b * b) {
            snprintf(msg, msglen, "%s: unexpected reference shape", npy_name);
            goto out;
        }
        x = malloc(sizeof(float) * ref.count);
        if (!x) {
            err = GRAFT_ENOMEM;
            goto fail;
        }
        err = graft_image_to_float(&res, mean, std, GRAFT_IMAGE_LAYOUT_CHW, x);
        if (err) goto fail;
        diff = 0;
        for (size_t k = 0; k < ref.count; k++)
            diff = fmax(diff, fabs((double)x[k] - ((const float *)ref.data)[k]));
        goto out;
    }
    if (err) goto fail;
    if (ref.dtype != GRAFT_NPY_DTYPE_U8 || ref.rank != 3 || ref.shape[0] != (size_t)res.height ||
        ref.shape[1] != (size_t)res.width || ref.shape[2] != 3) {
        snprintf(msg, msglen, "%.400s: shape (%zu, %zu, %zu) vs ours %d x %d", line, ref.shape[0],
                 ref.shape[1], ref.shape[2], res.height, res.width);
        goto out;
    }
    diff = max_abs_diff_u8(res.data, ref.data, ref.count, NULL);
    goto out;
fail:
    snprintf(msg, msglen, "%.300s: %s: %.300s", line, graft_err_name(err), graft_last_error());
out:
    free(x);
    graft_npy_free(&ref);
    graft_image_free(&img);
    graft_image_free(&res);
    return diff;
}

/* A seed whose draw flips the output (transform with hflip on, no random crop). */
static uint64_t flipping_seed(const graft_transform *t) {
    for (uint64_t seed = 0; seed < 64; seed++) {
        int box[4], flip = 0;
        if (graft_transform_crop_box(t, 10, 10, seed, box, &flip) == GRAFT_OK && flip)
            return seed;
    }
    return 0;
}

static uint8_t *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *p = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) &&
            fread(p, 1, (size_t)n, f) != (size_t)n) {
            free(p);
            p = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return p;
}

/* The manifest kinds of graft_transform (and GIF verdicts); as pil_case. */
static double pil_case_transform(const char *line, const char *dir, const char *kind, char *msg,
                                 size_t msglen) {
    char file[1024], npy_name[256], word[32], path[1400];
    graft_npy ref = {0};
    graft_image img = {0}, res = {0};
    uint8_t *data = NULL;
    float *x = NULL, *y = NULL;
    double diff = -1;
    int err = GRAFT_OK;
    if (!strcmp(kind, "verdict")) {
        if (sscanf(line, "%*s %1023s %31s", file, word) != 2) goto bad;
        err = graft_image_load_file(file, NULL, &img);
        graft_image_free(&img);
        int ok = err == GRAFT_OK;
        if (ok != !strcmp(word, "OK")) {
            snprintf(msg, msglen, "%.300s: Pillow says %s, graft %s (%.200s)", line, word,
                     graft_err_name(err), ok ? "" : graft_last_error());
            return -1;
        }
        if (!ok && err != GRAFT_ECORRUPT) {
            snprintf(msg, msglen, "%.300s: refused with %s, not GRAFT_ECORRUPT", line,
                     graft_err_name(err));
            return -1;
        }
        return 0;
    }
    if (!strcmp(kind, "rrc_box")) {
        int W, H, want[4], want_flip, box[4], flip;
        unsigned long long seed;
        double smin, smax, rmin, rmax;
        if (sscanf(line, "%*s %d %d %llu %lf %lf %lf %lf %d %d %d %d %d", &W, &H, &seed, &smin,
                   &smax, &rmin, &rmax, &want[0], &want[1], &want[2], &want[3],
                   &want_flip) != 12)
            goto bad;
        graft_transform t;
        graft_transform_preset("imagenet", 0, &t);
        t.random_crop = 1;
        t.hflip = 1;
        t.scale_min = (float)smin, t.scale_max = (float)smax;
        t.ratio_min = (float)rmin, t.ratio_max = (float)rmax;
        err = graft_transform_crop_box(&t, W, H, seed, box, &flip);
        if (err) goto fail;
        if (memcmp(box, want, sizeof box) || flip != want_flip) {
            snprintf(msg, msglen, "%.300s: graft drew (%d, %d, %d, %d) flip %d", line, box[0],
                     box[1], box[2], box[3], flip);
            return -1;
        }
        return 0;
    }
    if (!strcmp(kind, "rcrop")) {
        int bx, by, bw, bh, ow, oh;
        if (sscanf(line, "%*s %1023s %d %d %d %d %d %d %31s %255s", file, &bx, &by, &bw, &bh,
                   &ow, &oh, word, npy_name) != 9)
            goto bad;
        snprintf(path, sizeof path, "%s/%s", dir, npy_name);
        err = graft_npy_read(path, &ref);
        if (!err) err = graft_image_load_file(file, NULL, &img);
        if (!err) err = graft_image_resized_crop(&res, &img, bx, by, bw, bh, ow, oh,
                                                 parse_filter(word));
        if (err) goto fail;
        if (ref.count != (size_t)ow * oh * 3) {
            snprintf(msg, msglen, "%.300s: unexpected reference shape", line);
            goto out;
        }
        diff = max_abs_diff_u8(res.data, ref.data, ref.count, NULL);
        goto out;
    }
    if (!strcmp(kind, "transform")) {
        int size, flip;
        if (sscanf(line, "%*s %1023s %31s %d %d %255s", file, word, &size, &flip, npy_name) != 5)
            goto bad;
        snprintf(path, sizeof path, "%s/%s", dir, npy_name);
        err = graft_npy_read(path, &ref);
        if (err) goto fail;
        graft_transform t;
        err = graft_transform_preset(word, size, &t);
        if (err) goto fail;
        t.hflip = flip;
        const uint64_t seed = flip ? flipping_seed(&t) : 0;
        size_t len = 0;
        data = read_whole(file, &len);
        const size_t n = (size_t)3 * t.width * t.height;
        x = malloc(sizeof(float) * n);
        y = malloc(sizeof(float) * n);
        if (!data || !x || !y) {
            snprintf(msg, msglen, "%.300s: cannot read or out of memory", file);
            goto out;
        }
        err = graft_transform_apply(&t, data, len, seed, GRAFT_IMAGE_LAYOUT_CHW, x);
        if (!err) err = graft_transform_apply(&t, data, len, seed, GRAFT_IMAGE_LAYOUT_HWC, y);
        if (err) goto fail;
        if (ref.dtype != GRAFT_NPY_DTYPE_F32 || ref.count != n) {
            snprintf(msg, msglen, "%.300s: unexpected reference shape", line);
            goto out;
        }
        diff = 0;
        const size_t HW = (size_t)t.width * t.height;
        for (size_t k = 0; k < n; k++) {
            const float r = ((const float *)ref.data)[k];
            diff = fmax(diff, fabs((double)x[k] - r));
            /* The same tensor in HWC. */
            diff = fmax(diff, fabs((double)y[(k % HW) * 3 + k / HW] - r));
        }
        goto out;
    }
bad:
    snprintf(msg, msglen, "bad manifest line: %.500s", line);
    return -1;
fail:
    snprintf(msg, msglen, "%.300s: %s: %.300s", line, graft_err_name(err), graft_last_error());
    diff = -1;
out:
    free(data);
    free(x);
    free(y);
    graft_npy_free(&ref);
    graft_image_free(&img);
    graft_image_free(&res);
    return diff;
}

static int check_pil_parity(char *msg, size_t msglen) {
    const char *py = getenv("GRAFT_PYTHON");
    if (!py || !py[0]) py = "/usr/bin/python3";
    const char *script = "tests/pipeline/pil_reference.py";
    if (access(py, X_OK) != 0 || access(script, R_OK) != 0) {
        snprintf(msg, msglen, "%s or %s (run from the repository root) is missing", py, script);
        return GRAFT_CHECK_SKIP;
    }
    char probe[1200];
    snprintf(probe, sizeof probe, "%s -c 'import PIL, numpy' >/dev/null 2>&1", py);
    if (system(probe) != 0) {
        snprintf(msg, msglen, "%s cannot import PIL and numpy (apt-get install python3-pil "
                 "python3-numpy)", py);
        return GRAFT_CHECK_SKIP;
    }
    char dir[] = "/tmp/graft-pil-XXXXXX";
    if (!mkdtemp(dir)) return graft_check_fail(msg, msglen, "mkdtemp: %s", strerror(errno));
    char shared_msg[256];
    const char *shared = shared_images(shared_msg, sizeof shared_msg);
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "%s %s %s %s > %s/log.txt 2>&1", py, script, dir,
             shared ? shared : "", dir);
    if (system(cmd) != 0) {
        char log[1400], text[600] = "";
        snprintf(log, sizeof log, "%s/log.txt", dir);
        FILE *f = fopen(log, "r");
        if (f) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            text[n] = '\0';
            fclose(f);
        }
        remove_tree_flat(dir);
        return graft_check_fail(msg, msglen, "pil_reference.py failed: %s", text);
    }

    char manifest[1400];
    snprintf(manifest, sizeof manifest, "%s/manifest.txt", dir);
    FILE *f = fopen(manifest, "r");
    if (!f) {
        remove_tree_flat(dir);
        return graft_check_fail(msg, msglen, "no manifest: %s", strerror(errno));
    }
    static const char *const kinds[] = {"decode",    "resize", "resize_crop", "crop", "float",
                                        "verdict",   "rcrop",  "transform",   "rrc_box"};
    enum { NKINDS = sizeof kinds / sizeof *kinds };
    double worst[NKINDS] = {0};
    int cases[NKINDS] = {0};
    char line[1600], kind[16], first_bad[700] = "";
    int status = GRAFT_CHECK_PASS;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0]) continue;
        char cmsg[700] = "";
        sscanf(line, "%15s", kind);
        int k = 0;
        while (k < NKINDS && strcmp(kinds[k], kind)) k++;
        double d = k >= 5 && k < NKINDS ? pil_case_transform(line, dir, kind, cmsg, sizeof cmsg)
                                        : pil_case(line, dir, kind, cmsg, sizeof cmsg);
        if (d < 0 || k == NKINDS) {
            snprintf(first_bad, sizeof first_bad, "%.600s", cmsg[0] ? cmsg : line);
            status = GRAFT_CHECK_FAIL;
            break;
        }
        cases[k]++;
        if (d > worst[k]) worst[k] = d;
        if (d > 0 && !first_bad[0])
            snprintf(first_bad, sizeof first_bad, "%.600s: diff %g", line, d);
    }
    fclose(f);
    remove_tree_flat(dir);
    if (status == GRAFT_CHECK_FAIL) return graft_check_fail(msg, msglen, "%s", first_bad);
    if (first_bad[0])
        return graft_check_fail(msg, msglen, "not bit-exact with Pillow: %s", first_bad);
    snprintf(msg, msglen, "bit-exact with Pillow/torchvision: %d decodes, %d resizes, %d "
             "resize+crops, %d crops, %d float tensors, %d decode verdicts, %d resized_crops, "
             "%d transforms, %d random crop boxes%s", cases[0], cases[1], cases[2], cases[3],
             cases[4], cases[5], cases[6], cases[7], cases[8],
             shared ? "" : " (shared images absent: generated ones only)");
    return GRAFT_CHECK_PASS;
}

/* ---- formats, encoded here --------------------------------------------------------------- */

static int check_bmp_variants(char *msg, size_t msglen) {
    enum { W = 13, H = 7 };
    static uint8_t palette[256][3];
    for (int i = 0; i < 256; i++) {
        palette[i][0] = (uint8_t)(i * 7), palette[i][1] = (uint8_t)(255 - i);
        palette[i][2] = (uint8_t)(i * 31 + 5);
    }
    uint32_t values[W * H];
    uint8_t want[W * H * 3];
    struct variant {
        const char *name;
        bmp_spec spec;
    } variants[] = {
        {"core 24-bit", {12, W, H, 24, 0, {0}, 0, 0, NULL, 0}},
        {"core 8-bit", {12, W, H, 8, 0, {0}, 256, 0, NULL, 0}},
        {"info 24-bit bottom-up", {40, W, H, 24, 0, {0}, 0, 0, NULL, 0}},
        {"info 24-bit top-down", {40, W, -H, 24, 0, {0}, 0, 0, NULL, 0}},
        {"info 24-bit no final pad", {40, W, H, 24, 0, {0}, 0, 0, NULL, 1}},
        {"info 1-bit", {40, W, H, 1, 0, {0}, 2, 0, NULL, 0}},
        {"info 4-bit", {40, W, H, 4, 0, {0}, 16, 0, NULL, 0}},
        {"info 8-bit", {40, W, H, 8, 0, {0}, 256, 0, NULL, 0}},
        {"info 8-bit short palette", {40, W, -H, 8, 0, {0}, 40, 40, NULL, 0}},
        {"info 16-bit 555", {40, W, H, 16, 0, {0}, 0, 0, NULL, 0}},
        {"info 16-bit 565 bitfields", {40, W, H, 16, 3, {0xf800, 0x07e0, 0x001f}, 0, 0, NULL, 0}},
        {"info 32-bit BGRX", {40, W, H, 32, 0, {0}, 0, 0, NULL, 0}},
        {"info 32-bit bitfields", {40, W, -H, 32, 3, {0xff0000, 0xff00, 0xff}, 0, 0, NULL, 0}},
        {"v3 32-bit RGBA bitfields",
         {56, W, H, 32, 3, {0xff000000, 0xff0000, 0xff00}, 0, 0, NULL, 0}},
        {"v4 16-bit 444 bitfields", {108, W, H, 16, 3, {0x0f00, 0x00f0, 0x000f}, 0, 0, NULL, 0}},
        {"v5 24-bit", {124, W, H, 24, 0, {0}, 0, 0, NULL, 0}},
        {"v5 8-bit", {124, W, -H, 8, 0, {0}, 256, 0, NULL, 0}},
    };
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        bmp_spec s = variants[v].spec;
        s.palette = (const uint8_t (*)[3])palette;
        uint32_t masks[3] = {s.masks[0], s.masks[1], s.masks[2]};
        if (s.bpp == 16 && s.compression == 0)
            masks[0] = 0x7c00, masks[1] = 0x3e0, masks[2] = 0x1f;
        if (s.bpp == 32 && s.compression == 0)
            masks[0] = 0xff0000, masks[1] = 0xff00, masks[2] = 0xff;
        uint32_t st = 12345;
        for (int i = 0; i < W * H; i++) {
            st = st * 1664525u + 1013904223u;
            uint32_t r = st >> 8;
            if (s.bpp <= 8) {
                /* Some indices past a short palette: those must come out black. */
                uint32_t idx = r % (1u << s.bpp);
                values[i] = idx;
                for (int c = 0; c < 3; c++)
                    want[3 * i + c] = (int)idx < s.n_palette ? palette[idx][c] : 0;
            } else if (s.bpp == 24) {
                values[i] = r & 0xffffff;
                want[3 * i + 0] = (uint8_t)(r >> 16), want[3 * i + 1] = (uint8_t)(r >> 8);
                want[3 * i + 2] = (uint8_t)r;
            } else {
                values[i] = s.bpp == 16 ? (r & 0xffff) : (st ^ (st << 7));
                for (int c = 0; c < 3; c++) {
                    uint32_t m = masks[c], shift = 0;
                    while (!((m >> shift) & 1)) shift++;
                    uint32_t maxv = m >> shift;
                    want[3 * i + c] =
                        (uint8_t)((uint64_t)((values[i] & m) >> shift) * 255 / maxv);
                }
            }
        }
        bytes b = bmp_encode(&s, values);
        if (!b.p) return graft_check_fail(msg, msglen, "out of memory");
        graft_image img = {0};
        int err = graft_image_decode(b.p, b.len, NULL, &img);
        free(b.p);
        EXPECT_ERR(err, GRAFT_OK, NULL, "bmp %s", variants[v].name);
        int bad = img.width != W || img.height != H ||
                  max_abs_diff_u8(img.data, want, sizeof want, NULL) != 0;
        graft_image_free(&img);
        if (bad) return graft_check_fail(msg, msglen, "bmp %s: wrong pixels", variants[v].name);
    }
    snprintf(msg, msglen, "%zu BMP variants exact", sizeof variants / sizeof *variants);
    return GRAFT_CHECK_PASS;
}

static int check_png_variants(char *msg, size_t msglen) {
    enum { W = 11, H = 9 };
    uint8_t rgb[W * H * 3];
    synth_rgb(rgb, W, H, 3);
    uint8_t raw[W * H * 8];
    uint8_t want[W * H * 3];
    struct spng_plte plte;
    memset(&plte, 0, sizeof plte);
    plte.n_entries = 16;
    for (int i = 0; i < 16; i++)
        plte.entries[i] = (struct spng_plte_entry){(uint8_t)(i * 16), (uint8_t)(255 - i * 9),
                                                   (uint8_t)(i * 3), 255};
    struct variant {
        const char *name;
        int ctype, depth;
    } variants[] = {
        {"rgb8", SPNG_COLOR_TYPE_TRUECOLOR, 8},
        {"rgb16", SPNG_COLOR_TYPE_TRUECOLOR, 16},
        {"rgba8", SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 8},
        {"rgba16", SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 16},
        {"gray1", SPNG_COLOR_TYPE_GRAYSCALE, 1},
        {"gray2", SPNG_COLOR_TYPE_GRAYSCALE, 2},
        {"gray4", SPNG_COLOR_TYPE_GRAYSCALE, 4},
        {"gray8", SPNG_COLOR_TYPE_GRAYSCALE, 8},
        {"gray16", SPNG_COLOR_TYPE_GRAYSCALE, 16}, /* clipped at 255, as Pillow's "I" mode */
        {"ga8", SPNG_COLOR_TYPE_GRAYSCALE_ALPHA, 8},
        {"ga16", SPNG_COLOR_TYPE_GRAYSCALE_ALPHA, 16},
        {"palette4", SPNG_COLOR_TYPE_INDEXED, 4},
        {"palette8", SPNG_COLOR_TYPE_INDEXED, 8},
    };
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        const int ct = variants[v].ctype, depth = variants[v].depth;
        const int chans = ct == SPNG_COLOR_TYPE_TRUECOLOR ? 3
                          : ct == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ? 4
                          : ct == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ? 2 : 1;
        const size_t row_bytes = ((size_t)W * chans * depth + 7) / 8;
        memset(raw, 0, sizeof raw);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const uint8_t *p = rgb + (y * W + x) * 3;
                uint8_t *wp = want + (y * W + x) * 3;
                uint8_t *row = raw + y * row_bytes;
                uint8_t g = (uint8_t)((p[0] * 3 + p[1] * 5 + p[2] * 2) / 10);
                if (ct == SPNG_COLOR_TYPE_INDEXED || depth < 8) {
                    /* Sub-byte samples, MSB first; gray is scaled to 0..255 by replication. */
                    unsigned maxv = (1u << depth) - 1, s = (unsigned)(x * 5 + y * 3) % (maxv + 1);
                    if (ct == SPNG_COLOR_TYPE_INDEXED) s %= plte.n_entries;
                    int per = 8 / depth;
                    if (depth == 8) row[x] = (uint8_t)s;
                    else row[x / per] |= (uint8_t)(s << ((per - 1 - x % per) * depth));
                    if (ct == SPNG_COLOR_TYPE_INDEXED) {
                        wp[0] = plte.entries[s].red, wp[1] = plte.entries[s].green;
                        wp[2] = plte.entries[s].blue;
                    } else {
                        wp[0] = wp[1] = wp[2] = (uint8_t)(s * 255 / maxv);
                    }
                    continue;
                }
                uint8_t samples[4] = {p[0], p[1], p[2], (uint8_t)(x * 20 + y)};
                if (chans <= 2) samples[0] = g, samples[1] = samples[3];
                for (int c = 0; c < chans; c++) {
                    if (depth == 8) {
                        row[x * chans + c] = samples[c];
                    } else { /* 16-bit big-endian; a low byte that must be ignored */
                        row[(x * chans + c) * 2] = samples[c];
                        row[(x * chans + c) * 2 + 1] = (uint8_t)(samples[c] * 13 + 7);
                    }
                }
                if (chans <= 2) wp[0] = wp[1] = wp[2] = g;
                else memcpy(wp, p, 3);
                if (chans == 1 && depth == 16) {
                    /* Pillow opens 16-bit gray as 32-bit integers and clips them to 255. */
                    const unsigned v16 = (unsigned)samples[0] << 8 | (uint8_t)(samples[0] * 13 + 7);
                    wp[0] = wp[1] = wp[2] = (uint8_t)(v16 > 255 ? 255 : v16);
                }
            }
        bytes b = png_encode(raw, row_bytes * H, W, H, depth, ct,
                             ct == SPNG_COLOR_TYPE_INDEXED ? &plte : NULL);
        if (!b.p) return graft_check_fail(msg, msglen, "png %s: encoder failed", variants[v].name);
        graft_image img = {0};
        int err = graft_image_decode(b.p, b.len, NULL, &img);
        free(b.p);
        EXPECT_ERR(err, GRAFT_OK, NULL, "png %s", variants[v].name);
        size_t differ;
        int d = img.width == W && img.height == H
                    ? max_abs_diff_u8(img.data, want, sizeof want, &differ) : 999;
        graft_image_free(&img);
        if (d) return graft_check_fail(msg, msglen, "png %s: max diff %d", variants[v].name, d);
    }
    snprintf(msg, msglen, "%zu PNG colour types and depths exact",
             sizeof variants / sizeof *variants);
    return GRAFT_CHECK_PASS;
}

static int check_jpeg_variants(char *msg, size_t msglen) {
    enum { W = 64, H = 48 };
    uint8_t rgb[W * H * 3], gray[W * H], cmyk[W * H * 4];
    synth_rgb(rgb, W, H, 5);
    for (int i = 0; i < W * H; i++) {
        gray[i] = rgb[3 * i + 1];
        for (int c = 0; c < 4; c++)
            cmyk[4 * i + c] = (uint8_t)(c == 3 ? 40 + i % 50 : rgb[3 * i + (c % 3)]);
    }
    /* RGB, baseline and progressive: lossy, so only close; the file's own decode is what the
     * Pillow check compares bit for bit. */
    for (int prog = 0; prog < 2; prog++) {
        bytes b = jpeg_encode(rgb, W, H, 3, JCS_YCbCr, 95, prog);
        graft_image img = {0};
        int err = graft_image_decode(b.p, b.len, NULL, &img);
        free(b.p);
        EXPECT_ERR(err, GRAFT_OK, NULL, "jpeg rgb progressive=%d", prog);
        double sum = 0;
        for (size_t i = 0; i < sizeof rgb; i++) sum += abs((int)img.data[i] - rgb[i]);
        graft_image_free(&img);
        if (sum / sizeof rgb > 12) /* the noise in synth_rgb costs about 8 at quality 95 */
            return graft_check_fail(msg, msglen, "jpeg rgb progressive=%d: mean error %g", prog,
                              sum / sizeof rgb);
    }
    /* Grayscale comes out with three equal channels. */
    {
        bytes b = jpeg_encode(gray, W, H, 1, JCS_GRAYSCALE, 95, 0);
        graft_image img = {0};
        int err = graft_image_decode(b.p, b.len, NULL, &img);
        free(b.p);
        EXPECT_ERR(err, GRAFT_OK, NULL, "jpeg gray");
        int bad = 0;
        for (int i = 0; i < W * H; i++)
            bad |= img.data[3 * i] != img.data[3 * i + 1] ||
                   img.data[3 * i] != img.data[3 * i + 2] || abs(img.data[3 * i] - gray[i]) > 24;
        graft_image_free(&img);
        if (bad) return graft_check_fail(msg, msglen, "jpeg gray: channels differ or far off");
    }
    /* CMYK and YCCK: a flat image survives JPEG almost exactly, so the colour conversion
     * (Pillow's inverted-CMYK formula) can be checked to within the codec's rounding. */
    for (int ycck = 0; ycck < 2; ycck++) {
        static const uint8_t colours[4][4] = {
            {200, 30, 90, 220}, {0, 0, 0, 255}, {255, 255, 255, 0}, {10, 240, 128, 128}};
        for (int k = 0; k < 4; k++) {
            for (int i = 0; i < W * H; i++) memcpy(cmyk + 4 * i, colours[k], 4);
            bytes b = jpeg_encode(cmyk, W, H, 4, ycck ? JCS_YCCK : JCS_CMYK, 100, 0);
            graft_image img = {0};
            int err = graft_image_decode(b.p, b.len, NULL, &img);
            free(b.p);
            EXPECT_ERR(err, GRAFT_OK, NULL, "jpeg %s", ycck ? "ycck" : "cmyk");
            const unsigned kk = colours[k][3];
            int worst = 0;
            for (int c = 0; c < 3; c++) {
                unsigned t = (255u - colours[k][c]) * kk + 128;
                int want_c = (int)kk - (int)(((t >> 8) + t) >> 8);
                worst = abs(img.data[(W * H / 2) * 3 + c] - want_c) > worst
                            ? abs(img.data[(W * H / 2) * 3 + c] - want_c) : worst;
            }
            graft_image_free(&img);
            if (worst > 2)
                return graft_check_fail(msg, msglen, "jpeg %s colour %d: off by %d",
                                  ycck ? "ycck" : "cmyk", k, worst);
        }
    }
    /* The DCT scaling hint: the smallest power-of-two scale that still covers the target. */
    {
        enum { BW = 640, BH = 480 };
        uint8_t *big = malloc(BW * BH * 3);
        if (!big) return graft_check_fail(msg, msglen, "out of memory");
        synth_rgb(big, BW, BH, 9);
        bytes b = jpeg_encode(big, BW, BH, 3, JCS_YCbCr, 90, 0);
        free(big);
        struct { int mw, mh, ww, wh; } hints[] = {
            {0, 0, 640, 480}, {224, 224, 320, 240}, {80, 60, 80, 60}, {81, 60, 160, 120},
            {320, 241, 640, 480}, {10, 10, 80, 60}, {640, 480, 640, 480}, {1000, 10, 640, 480},
        };
        for (size_t i = 0; i < sizeof hints / sizeof *hints; i++) {
            graft_decode_opts o = {0, hints[i].mw, hints[i].mh};
            graft_image img = {0};
            int err = graft_image_decode(b.p, b.len, &o, &img);
            int w = img.width, h = img.height;
            graft_image_free(&img);
            if (err || w != hints[i].ww || h != hints[i].wh) {
                free(b.p);
                return graft_check_fail(msg, msglen, "hint %dx%d: got %dx%d (%s), want %dx%d",
                                  hints[i].mw, hints[i].mh, w, h, graft_last_error(),
                                  hints[i].ww, hints[i].wh);
            }
        }
        graft_decode_opts neg = {0, -1, 5};
        graft_image img = {0};
        EXPECT_ERR(graft_image_decode(b.p, b.len, &neg, &img), GRAFT_EINVAL, "negative", "hint");
        free(b.p);
    }
    snprintf(msg, msglen, "rgb/progressive/gray/cmyk/ycck and scale hints");
    return GRAFT_CHECK_PASS;
}

static int check_webp_variants(char *msg, size_t msglen) {
    enum { W = 33, H = 21 };
    uint8_t rgb[W * H * 3], rgba[W * H * 4];
    synth_rgb(rgb, W, H, 7);
    for (int i = 0; i < W * H; i++) {
        memcpy(rgba + 4 * i, rgb + 3 * i, 3);
        /* Never 0: lossless WebP may rewrite the colour of fully transparent pixels. */
        rgba[4 * i + 3] = (uint8_t)(1 + i * 13 % 255);
    }
    for (int v = 0; v < 3; v++) {
        uint8_t *out = NULL;
        size_t n = v == 0 ? WebPEncodeLosslessRGB(rgb, W, H, W * 3, &out)
                   : v == 1 ? WebPEncodeLosslessRGBA(rgba, W, H, W * 4, &out)
                            : WebPEncodeRGB(rgb, W, H, W * 3, 90, &out);
        if (!n) return graft_check_fail(msg, msglen, "webp encoder failed");
        graft_image img = {0};
        int err = graft_image_decode(out, n, NULL, &img);
        WebPFree(out);
        EXPECT_ERR(err, GRAFT_OK, NULL, "webp variant %d", v);
        double mean = 0;
        int d = max_abs_diff_u8(img.data, rgb, sizeof rgb, NULL);
        for (size_t i = 0; i < sizeof rgb; i++) mean += abs((int)img.data[i] - rgb[i]);
        mean /= sizeof rgb;
        graft_image_free(&img);
        /* Lossless keeps RGB exactly, with the alpha channel dropped. */
        if (v < 2 && d) return graft_check_fail(msg, msglen, "webp lossless %d: diff %d", v, d);
        if (v == 2 && mean > 8)
            return graft_check_fail(msg, msglen, "webp lossy: mean error %g", mean);
    }
    snprintf(msg, msglen, "lossless, lossless+alpha, lossy");
    return GRAFT_CHECK_PASS;
}

/* ---- error paths ------------------------------------------------------------------------- */

/* Small files of every format, for the truncation and mutation checks. */
#define N_SAMPLES 5
static const char *const sample_names[N_SAMPLES] = {"jpeg", "png", "bmp", "webp", "gif"};

static int sample_files(bytes out[N_SAMPLES]) {
    enum { W = 24, H = 17 };
    uint8_t rgb[W * H * 3];
    synth_rgb(rgb, W, H, 11);
    out[0] = jpeg_encode(rgb, W, H, 3, JCS_YCbCr, 80, 1);
    uint8_t raw[W * H * 3];
    memcpy(raw, rgb, sizeof raw);
    out[1] = png_encode(raw, sizeof raw, W, H, 8, SPNG_COLOR_TYPE_TRUECOLOR, NULL);
    uint32_t values[W * H];
    for (int i = 0; i < W * H; i++)
        values[i] = (uint32_t)rgb[3 * i] << 16 | (uint32_t)rgb[3 * i + 1] << 8 | rgb[3 * i + 2];
    bmp_spec s = {40, W, H, 24, 0, {0}, 0, 0, NULL, 0};
    out[2] = bmp_encode(&s, values);
    uint8_t *w = NULL;
    size_t n = WebPEncodeRGB(rgb, W, H, W * 3, 80, &w);
    out[3].p = n ? malloc(n) : NULL;
    out[3].len = n;
    if (out[3].p) memcpy(out[3].p, w, n);
    WebPFree(w);
    static uint8_t pal[256][3];
    uint8_t idx[W * H];
    for (int i = 0; i < 256; i++) memcpy(pal[i], rgb + 3 * (i * 7 % (W * H)), 3);
    for (int i = 0; i < W * H; i++) idx[i] = (uint8_t)(rgb[3 * i] ^ rgb[3 * i + 2]);
    gif_spec g = {W, H, 0, 0, W, H, pal, NULL, 256, -1, 1};
    out[4] = gif_encode(&g, idx);
    return out[0].p && out[1].p && out[2].p && out[3].p && out[4].p;
}

static int check_truncated_every_offset(char *msg, size_t msglen) {
    bytes files[N_SAMPLES] = {{0}};
    const char *const *names = sample_names;
    if (!sample_files(files)) {
        for (int f = 0; f < N_SAMPLES; f++) free(files[f].p);
        return graft_check_fail(msg, msglen, "could not encode the samples");
    }
    int status = GRAFT_CHECK_PASS;
    size_t cuts = 0;
    for (int f = 0; f < N_SAMPLES && status == GRAFT_CHECK_PASS; f++) {
        /* What may still decode: a JPEG without (part of) its end marker (refused today,
         * as Pillow refuses it), a PNG without the last IDAT's CRC and the IEND chunk (libspng
         * stops at the end of the zlib stream; Pillow accepts even more), a BMP missing only
         * the last row's padding (none here: 24 * 3 bytes is a multiple of 4), a GIF without
         * its trailer or its last empty sub-block (as Pillow). Every other cut must be
         * refused as corrupt. */
        const size_t ok_from = f == 0 || f == 4 ? files[f].len - 2
                               : f == 1         ? files[f].len - 16
                                                : files[f].len;
        for (size_t cut = 0; cut < files[f].len; cut++, cuts++) {
            /* A copy of exactly `cut` bytes, so ASan sees any read past the end. */
            uint8_t *p = malloc(cut ? cut : 1);
            if (!p) {
                status = graft_check_fail(msg, msglen, "out of memory");
                break;
            }
            memcpy(p, files[f].p, cut);
            graft_image img = {0};
            int err = graft_image_decode(p, cut, NULL, &img);
            free(p);
            graft_image_free(&img);
            /* A WebP cut before its "WEBP" tag is just a RIFF file. */
            int allowed = err == GRAFT_ECORRUPT || (err == GRAFT_OK && cut >= ok_from) ||
                          (err == GRAFT_EUNSUPPORTED && cut < 12 && f == 3);
            if (!allowed) {
                status = graft_check_fail(msg, msglen, "%s cut to %zu of %zu bytes: %s \"%s\"",
                                    names[f], cut, files[f].len, graft_err_name(err),
                                    graft_last_error());
                break;
            }
        }
    }
    for (int f = 0; f < N_SAMPLES; f++) free(files[f].p);
    if (status == GRAFT_CHECK_PASS) snprintf(msg, msglen, "%zu truncations refused", cuts);
    return status;
}

static int check_corrupt_and_unknown(char *msg, size_t msglen) {
    graft_image img = {0};
    static const struct {
        const char *data;
        size_t len;
        int err;
        const char *needle;
    } cases[] = {
#define LIT(s) s, sizeof(s) - 1
        {LIT("GIF89a\1\0\1\0\0\0\0"), GRAFT_ECORRUPT, "gif:"},
        {LIT("GIF89a\1\0\1\0\0\0\0;"), GRAFT_ECORRUPT, "no image"},
        {LIT("GIF87a\xff\xff\xff\xff\0\0\0,"), GRAFT_ERANGE, "exceeds"},
        {LIT("II*\0\10\0\0\0\0\0"), GRAFT_EUNSUPPORTED, "TIFF"},
        {LIT("<html><body>404</body></html>"), GRAFT_EUNSUPPORTED, "HTML"},
        {LIT("\0\0\0\x20" "ftypavif\0\0\0\0"), GRAFT_EUNSUPPORTED, "ISO"},
        {LIT("RIFF\4\0\0\0WAVEfmt "), GRAFT_EUNSUPPORTED, "RIFF"},
        {LIT("hello, world!"), GRAFT_EUNSUPPORTED, "68 65 6c 6c"},
        {LIT("\xff\xd8\xff"), GRAFT_ECORRUPT, "too few"},
        {LIT(""), GRAFT_ECORRUPT, "too few"},
        {LIT("BMxxxxxxxxxxxxxxxxxxxxxxxxx"), GRAFT_ECORRUPT, "bmp:"},
        {LIT("\xff\xd8\xff\xe0\0\x10JFIF\0garbage garbage"), GRAFT_ECORRUPT, "jpeg:"},
        {LIT("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\0\0\0\0\0\x08\x02\0\0\0\0\0\0\0"),
         GRAFT_ECORRUPT, "png:"},
        {LIT("RIFF\x20\0\0\0WEBPVP8 \x10\0\0\0garbagegarbage00"), GRAFT_ECORRUPT, "webp:"},
#undef LIT
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t *p = malloc(cases[i].len + 1);
        memcpy(p, cases[i].data, cases[i].len);
        int err = graft_image_decode(p, cases[i].len, NULL, &img);
        free(p);
        EXPECT_ERR(err, cases[i].err, cases[i].needle, "case %zu", i);
    }
    EXPECT_ERR(graft_image_decode(NULL, 10, NULL, &img), GRAFT_EINVAL, NULL, "NULL buffer");
    EXPECT_ERR(graft_image_decode("x", 1, NULL, NULL), GRAFT_EINVAL, NULL, "NULL output");
    if (graft_image_sniff("\xff\xd8\xff", 3) != GRAFT_IMAGE_FORMAT_JPEG ||
        graft_image_sniff("GIF87a", 6) != GRAFT_IMAGE_FORMAT_GIF ||
        graft_image_sniff("GIF88a", 6) != GRAFT_IMAGE_FORMAT_UNKNOWN ||
        strcmp(graft_image_format_name(GRAFT_IMAGE_FORMAT_GIF), "gif") != 0 ||
        graft_image_sniff("RIFF....WEBP", 12) != GRAFT_IMAGE_FORMAT_WEBP ||
        graft_image_sniff("RIFF....WEBP", 11) != GRAFT_IMAGE_FORMAT_UNKNOWN ||
        strcmp(graft_image_format_name(GRAFT_IMAGE_FORMAT_PNG), "png") != 0)
        return graft_check_fail(msg, msglen, "graft_image_sniff / format_name");

    /* Mutated files: any verdict but a crash (ASan) or an unexpected code. */
    bytes files[N_SAMPLES] = {{0}};
    if (!sample_files(files)) {
        for (int f = 0; f < N_SAMPLES; f++) free(files[f].p);
        return graft_check_fail(msg, msglen, "could not encode the samples");
    }
    uint32_t st = 99;
    int decoded = 0, refused = 0, status = GRAFT_CHECK_PASS;
    for (int f = 0; f < N_SAMPLES && status == GRAFT_CHECK_PASS; f++) {
        for (int trial = 0; trial < 300; trial++) {
            uint8_t *p = malloc(files[f].len);
            memcpy(p, files[f].p, files[f].len);
            int flips = 1 + trial % 8;
            for (int k = 0; k < flips; k++) {
                st = st * 1664525u + 1013904223u;
                /* Past the signature, so the format's own decoder sees the damage. */
                size_t at = 8 + (st >> 8) % (files[f].len - 8);
                p[at] = (uint8_t)(st >> 3);
            }
            int err = graft_image_decode(p, files[f].len, NULL, &img);
            free(p);
            graft_image_free(&img);
            if (err == GRAFT_OK) decoded++;
            else refused++;
            if (err != GRAFT_OK && err != GRAFT_ECORRUPT && err != GRAFT_EUNSUPPORTED &&
                err != GRAFT_ERANGE)
                status = graft_check_fail(msg, msglen, "mutated %d: %s %s", f, graft_err_name(err),
                                    graft_last_error());
        }
    }
    for (int f = 0; f < N_SAMPLES; f++) free(files[f].p);
    if (status == GRAFT_CHECK_PASS)
        snprintf(msg, msglen, "mutations: %d decoded, %d refused", decoded, refused);
    return status;
}

static int check_bmp_absurd_headers(char *msg, size_t msglen) {
    uint8_t h[54 + 64];
    graft_image img = {0};
    /* A valid 24-bit 2x2 header, then one field at a time made absurd. */
    struct {
        int32_t w, h;
        uint16_t bpp;
        uint32_t comp, off, hsize;
        size_t max_pixels;
        int err;
        const char *needle;
    } cases[] = {
        {100000, 100000, 24, 0, 54, 40, 0, GRAFT_ERANGE, "exceeds"},
        {100000, -100000, 24, 0, 54, 40, 0, GRAFT_ERANGE, "exceeds"},
        {2, INT32_MIN, 24, 0, 54, 40, 0, GRAFT_ERANGE, "exceeds"},
        {100000, 100000, 24, 0, 54, 40, SIZE_MAX, GRAFT_ECORRUPT, "truncated"},
        {INT32_MAX, 1, 32, 0, 54, 40, SIZE_MAX, GRAFT_ECORRUPT, "truncated"},
        {0, 2, 24, 0, 54, 40, 0, GRAFT_ECORRUPT, "empty"},
        {-2, 2, 24, 0, 54, 40, 0, GRAFT_ECORRUPT, "empty"},
        {2, 0, 24, 0, 54, 40, 0, GRAFT_ECORRUPT, "empty"},
        {2, 2, 7, 0, 54, 40, 0, GRAFT_ECORRUPT, "bits per pixel"},
        {2, 2, 0, 0, 54, 40, 0, GRAFT_ECORRUPT, "bits per pixel"},
        {2, 2, 24, 1, 54, 40, 0, GRAFT_EUNSUPPORTED, "RLE"},
        {2, 2, 24, 4, 54, 40, 0, GRAFT_EUNSUPPORTED, "JPEG"},
        {2, 2, 24, 99, 54, 40, 0, GRAFT_ECORRUPT, "compression"},
        {2, 2, 24, 3, 54, 40, 0, GRAFT_ECORRUPT, "bit fields"},
        {2, 2, 24, 0, 0xfffffff0u, 40, 0, GRAFT_ECORRUPT, "truncated"},
        {2, 2, 24, 0, 54, 41, 0, GRAFT_ECORRUPT, "header size"},
        {2, 2, 24, 0, 54, 0xffffffffu, 0, GRAFT_ECORRUPT, "header size"},
        {2, 2, 24, 0, 54, 40, 0, GRAFT_OK, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(h, 0x5a, sizeof h);
        h[0] = 'B';
        h[1] = 'M';
        put_u32(h + 2, sizeof h);
        put_u32(h + 10, cases[i].off);
        put_u32(h + 14, cases[i].hsize);
        put_u32(h + 18, (uint32_t)cases[i].w);
        put_u32(h + 22, (uint32_t)cases[i].h);
        put_u16(h + 26, 1);
        put_u16(h + 28, cases[i].bpp);
        put_u32(h + 30, cases[i].comp);
        put_u32(h + 46, 0);
        graft_decode_opts o = {cases[i].max_pixels, 0, 0};
        int err = graft_image_decode(h, sizeof h, &o, &img);
        graft_image_free(&img);
        EXPECT_ERR(err, cases[i].err, cases[i].needle, "bmp header case %zu", i);
    }
    snprintf(msg, msglen, "%zu absurd headers refused before allocating",
             sizeof cases / sizeof *cases - 1);
    return GRAFT_CHECK_PASS;
}

static int check_max_pixels(char *msg, size_t msglen) {
    bytes files[N_SAMPLES] = {{0}};
    const char *const *names = sample_names;
    if (!sample_files(files)) {
        for (int f = 0; f < N_SAMPLES; f++) free(files[f].p);
        return graft_check_fail(msg, msglen, "could not encode the samples");
    }
    int status = GRAFT_CHECK_PASS;
    for (int f = 0; f < N_SAMPLES && status == GRAFT_CHECK_PASS; f++) {
        graft_decode_opts at = {24 * 17, 0, 0}, below = {24 * 17 - 1, 0, 0};
        graft_image img = {0};
        int e1 = graft_image_decode(files[f].p, files[f].len, &at, &img);
        graft_image_free(&img);
        int e2 = graft_image_decode(files[f].p, files[f].len, &below, &img);
        if (e1 != GRAFT_OK || e2 != GRAFT_ERANGE || !strstr(graft_last_error(), "exceeds") ||
            !strstr(graft_last_error(), names[f]))
            status = graft_check_fail(msg, msglen, "%s: at the limit %s, below it %s \"%s\"",
                                      names[f],
                                graft_err_name(e1), graft_err_name(e2), graft_last_error());
    }
    for (int f = 0; f < N_SAMPLES; f++) free(files[f].p);
    if (status == GRAFT_CHECK_PASS) snprintf(msg, msglen, "every format checks the limit");
    return status;
}

static int check_load_file(char *msg, size_t msglen) {
    graft_image img = {0};
    EXPECT_ERR(graft_image_load_file("/nonexistent/x.jpg", NULL, &img), GRAFT_EIO,
               "/nonexistent/x.jpg", "missing file");
    EXPECT_ERR(graft_image_load_file("/", NULL, &img), GRAFT_EIO, NULL, "directory");
    char path[] = "/tmp/graft-img-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return graft_check_fail(msg, msglen, "mkstemp: %s", strerror(errno));
    if (write(fd, "II*\0\10\0\0\0\0\0", 10) != 10) {
        close(fd);
        unlink(path);
        return graft_check_fail(msg, msglen, "write failed");
    }
    close(fd);
    int err = graft_image_load_file(path, NULL, &img);
    unlink(path);
    EXPECT_ERR(err, GRAFT_EUNSUPPORTED, path, "TIFF file");
    return GRAFT_CHECK_PASS;
}

/* ---- geometry ---------------------------------------------------------------------------- */

static int check_resize_properties(char *msg, size_t msglen) {
    enum { W = 41, H = 29 };
    graft_image src = {0}, a = {0}, b = {0}, c = {0};
    if (graft_image_alloc(&src, W, H)) return graft_check_fail(msg, msglen, "alloc");
    synth_rgb(src.data, W, H, 21);
    const graft_resample filters[3] = {GRAFT_RESAMPLE_NEAREST, GRAFT_RESAMPLE_BILINEAR,
                                       GRAFT_RESAMPLE_BICUBIC};
    int status = GRAFT_CHECK_PASS;
    /* Same size: a copy. */
    for (int f = 0; f < 3 && status == GRAFT_CHECK_PASS; f++) {
        if (graft_image_resize(&a, &src, W, H, filters[f]) ||
            memcmp(a.data, src.data, (size_t)W * H * 3))
            status = graft_check_fail(msg, msglen, "filter %d: same-size resize is not a copy", f);
        graft_image_free(&a);
    }
    /* A flat image stays flat at any size (the taps sum to one in fixed point). */
    graft_image flat = {0};
    graft_image_alloc(&flat, W, H);
    for (size_t i = 0; i < (size_t)W * H; i++) {
        flat.data[3 * i] = 3;
        flat.data[3 * i + 1] = 128;
        flat.data[3 * i + 2] = 254;
    }
    static const int sizes[][2] = {{1, 1}, {7, 3}, {40, 29}, {41, 100}, {300, 7}, {1000, 1}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes && status == GRAFT_CHECK_PASS; s++)
        for (int f = 0; f < 3 && status == GRAFT_CHECK_PASS; f++) {
            if (graft_image_resize(&a, &flat, sizes[s][0], sizes[s][1], filters[f])) {
                status = graft_check_fail(msg, msglen, "resize: %s", graft_last_error());
                break;
            }
            for (size_t i = 0; i < (size_t)a.width * a.height; i++)
                if (a.data[3 * i] != 3 || a.data[3 * i + 1] != 128 || a.data[3 * i + 2] != 254) {
                    status = graft_check_fail(msg, msglen, "flat image not flat at %dx%d filter %d",
                                        sizes[s][0], sizes[s][1], f);
                    break;
                }
            graft_image_free(&a);
        }
    graft_image_free(&flat);
    /* The windowed resize equals resize-then-crop, for shrinking and growing sources. */
    static const int rc[][3] = {{16, 16, 16}, {20, 15, 11}, {29, 24, 29}, {64, 50, 40},
                                {100, 99, 100}, {5, 3, 4}, {17, 30, 8}};
    for (size_t i = 0; i < sizeof rc / sizeof *rc && status == GRAFT_CHECK_PASS; i++)
        for (int f = 0; f < 3 && status == GRAFT_CHECK_PASS; f++) {
            int rw, rh;
            graft_image_shorter_side_size(W, H, rc[i][0], &rw, &rh);
            int e = graft_image_resize_center_crop(&a, &src, rc[i][0], rc[i][1], rc[i][2],
                                                   filters[f]);
            e = e ? e : graft_image_resize(&b, &src, rw, rh, filters[f]);
            e = e ? e : graft_image_center_crop(&c, &b, rc[i][1], rc[i][2]);
            if (e || a.width != c.width || a.height != c.height ||
                memcmp(a.data, c.data, (size_t)a.width * a.height * 3))
                status = graft_check_fail(msg, msglen, "resize_center_crop(%d, %d, %d) filter %d "
                                    "differs from resize + crop (%s)", rc[i][0], rc[i][1],
                                    rc[i][2], f, e ? graft_last_error() : "pixels");
            graft_image_free(&a);
            graft_image_free(&b);
            graft_image_free(&c);
        }
    /* Errors. */
    if (status == GRAFT_CHECK_PASS) {
        graft_image empty = {0};
        int e1 = graft_image_resize(&a, &src, 0, 5, GRAFT_RESAMPLE_BILINEAR);
        int e2 = graft_image_resize(&a, &src, 5, 5, (graft_resample)7);
        int e3 = graft_image_resize(&a, &empty, 5, 5, GRAFT_RESAMPLE_BILINEAR);
        int e4 = graft_image_resize(&src, &src, 5, 5, GRAFT_RESAMPLE_BILINEAR);
        int e5 = graft_image_center_crop(&a, &src, 3, -1);
        int e6 = graft_image_resize(&a, &src, 1 << 16, 1 << 16, GRAFT_RESAMPLE_NEAREST);
        int e7 = graft_image_resize_center_crop(&a, &src, 0, 3, 3, GRAFT_RESAMPLE_BILINEAR);
        if (e1 != GRAFT_EINVAL || e2 != GRAFT_EINVAL || e3 != GRAFT_EINVAL ||
            e4 != GRAFT_EINVAL || e5 != GRAFT_EINVAL || e6 != GRAFT_ERANGE || e7 != GRAFT_EINVAL)
            status = graft_check_fail(msg, msglen, "error codes %d %d %d %d %d %d %d", e1, e2,
                                      e3, e4,
                                e5, e6, e7);
    }
    graft_image_free(&src);
    if (status == GRAFT_CHECK_PASS) snprintf(msg, msglen, "copy, flat, window == crop, errors");
    return status;
}

static int check_torchvision_geometry(char *msg, size_t msglen) {
    /* Resize(N): the longer side is int(N * long / short). */
    static const int sz[][5] = {
        {512, 341, 256, 384, 256}, {341, 512, 256, 256, 384}, {500, 375, 256, 341, 256},
        {640, 480, 224, 298, 224}, {600, 512, 256, 300, 256}, {100, 100, 7, 7, 7},
        {1, 1000, 3, 3, 3000},     {333, 1000, 224, 224, 672},
    };
    for (size_t i = 0; i < sizeof sz / sizeof *sz; i++) {
        int w = 0, h = 0;
        int e = graft_image_shorter_side_size(sz[i][0], sz[i][1], sz[i][2], &w, &h);
        if (e || w != sz[i][3] || h != sz[i][4])
            return graft_check_fail(msg, msglen, "shorter side %d of %dx%d: %dx%d, want %dx%d",
                              sz[i][2], sz[i][0], sz[i][1], w, h, sz[i][3], sz[i][4]);
    }
    int w, h;
    EXPECT_ERR(graft_image_shorter_side_size(0, 5, 3, &w, &h), GRAFT_EINVAL, NULL, "zero width");
    EXPECT_ERR(graft_image_shorter_side_size(1, 1 << 30, 1 << 30, &w, &h), GRAFT_ERANGE, NULL,
               "huge");

    /* CenterCrop: round-half-even margins and zero padding, on a source whose pixel at
     * (x, y) is (x, y, 7). */
    graft_image src = {0}, out = {0};
    const int W = 10, H = 7;
    graft_image_alloc(&src, W, H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = src.data + (y * W + x) * 3;
            p[0] = (uint8_t)x, p[1] = (uint8_t)y, p[2] = 7;
        }
    /* {crop w, crop h, expected x of output column 0 (negative: padding), expected y} */
    static const int cc[][4] = {
        {10, 7, 0, 0}, {9, 7, 0, 0},  /* margin 1: round(0.5) = 0 */
        {7, 4, 2, 2},                 /* margins 3: round(1.5) = 2 */
        {5, 2, 2, 2},                 /* margins 5: round(2.5) = 2 */
        {3, 1, 4, 3},                 /* margins 7, 6: round(3.5) = 4, 3 */
        {12, 7, -1, 0}, {13, 10, -1, -1}, {11, 3, 0, 2}, {14, 9, -2, -1},
    };
    int status = GRAFT_CHECK_PASS;
    for (size_t i = 0; i < sizeof cc / sizeof *cc && status == GRAFT_CHECK_PASS; i++) {
        const int cw = cc[i][0], ch = cc[i][1];
        if (graft_image_center_crop(&out, &src, cw, ch)) {
            status = graft_check_fail(msg, msglen, "center_crop: %s", graft_last_error());
            break;
        }
        for (int y = 0; y < ch && status == GRAFT_CHECK_PASS; y++)
            for (int x = 0; x < cw; x++) {
                const int sx = cc[i][2] + x, sy = cc[i][3] + y;
                const int inside = sx >= 0 && sx < W && sy >= 0 && sy < H;
                const uint8_t *p = out.data + (y * cw + x) * 3;
                uint8_t want[3] = {inside ? (uint8_t)sx : 0, inside ? (uint8_t)sy : 0,
                                   inside ? 7 : 0};
                if (memcmp(p, want, 3)) {
                    status = graft_check_fail(msg, msglen, "crop %dx%d of %dx%d: pixel (%d, %d) is "
                                        "(%d, %d, %d)", cw, ch, W, H, x, y, p[0], p[1], p[2]);
                    break;
                }
            }
        graft_image_free(&out);
    }
    graft_image_free(&src);
    if (status == GRAFT_CHECK_PASS) snprintf(msg, msglen, "Resize(int) sizes, CenterCrop offsets");
    return status;
}

/* ---- to float ---------------------------------------------------------------------------- */

static int check_to_float(char *msg, size_t msglen) {
    enum { W = 5, H = 3 };
    graft_image img = {0};
    graft_image_alloc(&img, W, H);
    for (int i = 0; i < W * H * 3; i++) img.data[i] = (uint8_t)(i * 17 + 3);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    float hwc[W * H * 3], chw[W * H * 3];
    int e1 = graft_image_to_float(&img, mean, std, GRAFT_IMAGE_LAYOUT_HWC, hwc);
    int e2 = graft_image_to_float(&img, mean, std, GRAFT_IMAGE_LAYOUT_CHW, chw);
    if (e1 || e2) {
        graft_image_free(&img);
        return graft_check_fail(msg, msglen, "to_float: %s", graft_last_error());
    }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                const int i = (y * W + x) * 3 + c;
                float want = ((float)img.data[i] / 255.0f - mean[c]) / std[c];
                if (hwc[i] != want || chw[(c * H + y) * W + x] != want) {
                    graft_image_free(&img);
                    return graft_check_fail(msg, msglen,
                                            "to_float (%d, %d, %d): %g / %g, want %g", x,
                                      y, c, hwc[i], chw[(c * H + y) * W + x], want);
                }
            }
    const float zero[3] = {1, 0, 1}, nan3[3] = {NAN, 0, 0};
    EXPECT_ERR(graft_image_to_float(&img, mean, zero, GRAFT_IMAGE_LAYOUT_HWC, hwc), GRAFT_EINVAL,
               "std", "std 0");
    EXPECT_ERR(graft_image_to_float(&img, nan3, std, GRAFT_IMAGE_LAYOUT_HWC, hwc), GRAFT_EINVAL,
               NULL, "mean NaN");
    EXPECT_ERR(graft_image_to_float(&img, mean, std, (graft_image_layout)5, hwc), GRAFT_EINVAL,
               "layout", "layout");
    EXPECT_ERR(graft_image_to_float(&img, mean, std, GRAFT_IMAGE_LAYOUT_HWC, NULL), GRAFT_EINVAL,
               NULL, "NULL dst");
    graft_image_free(&img);
    graft_image_free(&img); /* twice: a freed image is empty */
    return GRAFT_CHECK_PASS;
}

/* ---- npy --------------------------------------------------------------------------------- */

static int check_npy(char *msg, size_t msglen) {
    char path[] = "/tmp/graft-npy-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return graft_check_fail(msg, msglen, "mkstemp: %s", strerror(errno));
    close(fd);
    float f[24];
    uint8_t u[7];
    for (int i = 0; i < 24; i++) f[i] = (float)i * 0.25f - 3.0f;
    for (int i = 0; i < 7; i++) u[i] = (uint8_t)(i * 40);
    const size_t s3[3] = {2, 3, 4}, s1[1] = {7};
    graft_npy a = {0};
    int status = GRAFT_CHECK_PASS;
    /* Round trips through numpy's layout, including a header padded to 64 bytes. */
    int e = graft_npy_write(path, GRAFT_NPY_DTYPE_F32, 3, s3, f);
    e = e ? e : graft_npy_read(path, &a);
    if (e || a.dtype != GRAFT_NPY_DTYPE_F32 || a.rank != 3 || a.shape[2] != 4 || a.count != 24 ||
        memcmp(a.data, f, sizeof f))
        status = graft_check_fail(msg, msglen, "f32 round trip: %s",
                                  e ? graft_last_error() : "data");
    graft_npy_free(&a);
    struct stat st;
    if (status == GRAFT_CHECK_PASS && (stat(path, &st) || (st.st_size - 24 * 4) % 64))
        status = graft_check_fail(msg, msglen, "header not padded to 64 bytes");
    e = graft_npy_write(path, GRAFT_NPY_DTYPE_U8, 1, s1, u);
    e = e ? e : graft_npy_read(path, &a);
    if (status == GRAFT_CHECK_PASS &&
        (e || a.dtype != GRAFT_NPY_DTYPE_U8 || a.rank != 1 || a.count != 7 || memcmp(a.data, u, 7)))
        status = graft_check_fail(msg, msglen, "u8 round trip: %s",
                                  e ? graft_last_error() : "data");
    graft_npy_free(&a);
    e = graft_npy_write(path, GRAFT_NPY_DTYPE_F32, 0, NULL, f);
    e = e ? e : graft_npy_read(path, &a);
    if (status == GRAFT_CHECK_PASS &&
        (e || a.rank != 0 || a.count != 1 || *(float *)a.data != f[0]))
        status = graft_check_fail(msg, msglen, "scalar round trip: %s",
                                  e ? graft_last_error() : "data");
    graft_npy_free(&a);
    unlink(path);
    if (status != GRAFT_CHECK_PASS) return status;

    /* Hand-made headers: what numpy writes in other versions, and malformed ones. */
    static const struct {
        const char *header;
        int major;
        size_t data_bytes;
        int err;
        const char *needle;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, 24, GRAFT_OK, NULL},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 2, 8, GRAFT_OK, NULL},
        {"{\"descr\":\"|u1\",\"fortran_order\":False,\"shape\":(3L,4L)}", 3, 12, GRAFT_OK, NULL},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", 1, 0, GRAFT_OK, NULL},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
         1, 16, GRAFT_EUNSUPPORTED, "<f8"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
         1, 16, GRAFT_EUNSUPPORTED, "Fortran"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
         1, 4, GRAFT_EUNSUPPORTED, "structured"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
         1, 20, GRAFT_ECORRUPT, "truncated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
         1, 28, GRAFT_ECORRUPT, "trailing"},
        {"{'descr': '<f4', 'shape': (2, 3), }", 1, 24, GRAFT_ECORRUPT, "lacks"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }",
         1, 8, GRAFT_ECORRUPT, "fortran"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }",
         1, 24, GRAFT_ECORRUPT, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
         1, 0, GRAFT_ERANGE, NULL},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }",
         1, 0, GRAFT_ERANGE, NULL},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
         1, 4, GRAFT_EUNSUPPORTED, "dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
         1, 8, GRAFT_ECORRUPT, "unexpected"},
        {"['descr', '<f4']", 1, 0, GRAFT_ECORRUPT, "not a dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,) } junk",
         1, 8, GRAFT_ECORRUPT, "after"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
         4, 8, GRAFT_EUNSUPPORTED, "version"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const size_t hl = strlen(cases[i].header), pre = cases[i].major == 1 ? 10 : 12;
        const size_t len = pre + hl + cases[i].data_bytes;
        uint8_t *p = malloc(len);
        if (!p) return graft_check_fail(msg, msglen, "out of memory");
        memcpy(p, "\x93NUMPY", 6);
        p[6] = (uint8_t)cases[i].major;
        p[7] = 0;
        if (pre == 10) put_u16(p + 8, (uint32_t)hl);
        else put_u32(p + 8, (uint32_t)hl);
        memcpy(p + pre, cases[i].header, hl);
        for (size_t k = 0; k < cases[i].data_bytes; k++) p[pre + hl + k] = (uint8_t)k;
        e = graft_npy_parse(p, len, &a);
        free(p);
        /* '>f4' bytes 0 1 2 3 come out as the float whose host bytes are 3 2 1 0. */
        int swapped = e != GRAFT_OK || i != 1 || ((uint8_t *)a.data)[0] == 3;
        graft_npy_free(&a);
        if (!swapped) return graft_check_fail(msg, msglen, "'>f4' was not byte-swapped");
        EXPECT_ERR(e, cases[i].err, cases[i].needle, "npy header case %zu", i);
    }
    EXPECT_ERR(graft_npy_parse("\x93NUMPZ\1\0\0\0", 10, &a), GRAFT_ECORRUPT, "magic", "magic");
    EXPECT_ERR(graft_npy_read("/nonexistent.npy", &a), GRAFT_EIO, "/nonexistent.npy", "missing");
    EXPECT_ERR(graft_npy_write(path, (graft_npy_dtype)9, 1, s1, u), GRAFT_EINVAL, NULL, "dtype");
    EXPECT_ERR(graft_npy_write("/nonexistent/dir/x.npy", GRAFT_NPY_DTYPE_U8, 1, s1, u), GRAFT_EIO,
               NULL, "unwritable");
    return GRAFT_CHECK_PASS;
}

/* ---- GIF --------------------------------------------------------------------------------- */

/* Decodes g with idx and compares with the composition Pillow does for the first frame. */
static int gif_case(const gif_spec *g, const uint8_t *idx, size_t max_pixels, int want_err,
                    char *msg, size_t msglen, const char *name) {
    bytes b = gif_encode(g, idx);
    if (!b.p) return graft_check_fail(msg, msglen, "%s: could not encode", name);
    graft_image img = {0};
    graft_decode_opts o = {max_pixels, 0, 0};
    int err = graft_image_decode(b.p, b.len, &o, &img);
    free(b.p);
    if (err != want_err) {
        graft_image_free(&img);
        return graft_check_fail(msg, msglen, "%s: %s \"%s\", expected %s", name,
                                graft_err_name(err), graft_last_error(),
                                graft_err_name(want_err));
    }
    if (err) return GRAFT_CHECK_PASS;
    const int W = g->fx + g->fw > g->sw ? g->fx + g->fw : g->sw;
    const int H = g->fy + g->fh > g->sh ? g->fy + g->fh : g->sh;
    const uint8_t (*map)[3] = g->local ? g->local : g->global;
    int status = GRAFT_CHECK_PASS;
    if (img.width != W || img.height != H)
        status = graft_check_fail(msg, msglen, "%s: %d x %d, want %d x %d", name, img.width,
                                  img.height, W, H);
    for (int y = 0; y < H && status == GRAFT_CHECK_PASS; y++)
        for (int x = 0; x < W; x++) {
            const int inside = x >= g->fx && x < g->fx + g->fw && y >= g->fy && y < g->fy + g->fh;
            const int v = inside ? idx[(size_t)(y - g->fy) * g->fw + (x - g->fx)]
                                 : g->trans >= 0 ? g->trans : 0;
            uint8_t want[3] = {(uint8_t)v, (uint8_t)v, (uint8_t)v};
            if (map && v < g->ncolors) memcpy(want, map[v], 3);
            if (memcmp(img.data + ((size_t)y * W + x) * 3, want, 3)) {
                status = graft_check_fail(msg, msglen, "%s: pixel (%d, %d)", name, x, y);
                break;
            }
        }
    graft_image_free(&img);
    return status;
}

static int check_gif_variants(char *msg, size_t msglen) {
    static uint8_t pal[256][3], pal2[256][3];
    for (int i = 0; i < 256; i++) {
        pal[i][0] = (uint8_t)(i * 5 + 1), pal[i][1] = (uint8_t)(255 - i);
        pal[i][2] = (uint8_t)(i * 77);
        pal2[i][0] = (uint8_t)(i * 3), pal2[i][1] = 9, pal2[i][2] = (uint8_t)(200 - i);
    }
    uint8_t idx[40 * 30];
    for (int i = 0; i < 40 * 30; i++) idx[i] = (uint8_t)((i * 37 + i / 7) % 251);
    struct {
        const char *name;
        gif_spec g;
    } cases[] = {
        {"plain", {40, 30, 0, 0, 40, 30, pal, NULL, 256, -1, 0}},
        {"interlaced", {40, 30, 0, 0, 40, 30, pal, NULL, 256, -1, 1}},
        {"interlaced 1 row", {40, 1, 0, 0, 40, 1, pal, NULL, 256, -1, 1}},
        {"interlaced 3 rows", {7, 3, 0, 0, 7, 3, pal, NULL, 256, -1, 1}},
        {"frame inside", {40, 30, 5, 7, 20, 11, pal, NULL, 256, -1, 0}},
        {"frame inside, transparent", {40, 30, 5, 7, 20, 11, pal, NULL, 256, 17, 1}},
        {"frame past the screen", {10, 10, 5, 7, 20, 11, pal, NULL, 256, -1, 0}},
        {"zero screen", {0, 0, 0, 0, 9, 4, pal, NULL, 256, -1, 0}},
        {"local colour map", {40, 30, 1, 1, 30, 20, pal, pal2, 256, -1, 0}},
        {"local map only", {40, 30, 0, 0, 40, 30, NULL, pal2, 256, -1, 0}},
        {"no colour map", {40, 30, 3, 2, 30, 20, NULL, NULL, 256, 200, 0}},
        {"indices past the map", {40, 30, 0, 0, 40, 30, pal, NULL, 16, -1, 0}},
        {"transparent past the map", {40, 30, 4, 4, 8, 8, pal, NULL, 4, 99, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = gif_case(&cases[i].g, idx, 0, GRAFT_OK, msg, msglen, cases[i].name);
        if (st != GRAFT_CHECK_PASS) return st;
    }
    /* The pixel limit, from the screen and from the canvas the frame grows. */
    gif_spec big = {1000, 1000, 0, 0, 4, 4, pal, NULL, 256, -1, 0};
    int st = gif_case(&big, idx, 999999, GRAFT_ERANGE, msg, msglen, "screen over the limit");
    if (st == GRAFT_CHECK_PASS) {
        gif_spec grow = {10, 10, 30, 30, 5, 5, pal, NULL, 256, -1, 0};
        st = gif_case(&grow, idx, 34 * 34, GRAFT_ERANGE, msg, msglen, "canvas over the limit");
        if (st == GRAFT_CHECK_PASS)
            st = gif_case(&grow, idx, 35 * 35, GRAFT_OK, msg, msglen, "canvas at the limit");
    }
    if (st == GRAFT_CHECK_PASS)
        snprintf(msg, msglen, "%zu GIF layouts composited as Pillow does, limits on screen and "
                 "canvas", sizeof cases / sizeof *cases);
    return st;
}

/* ---- resize kernels ---------------------------------------------------------------------- */

static int check_resize_isas(char *msg, size_t msglen) {
    graft_isa saved;
    if (graft_isa_current(&saved)) return graft_check_fail(msg, msglen, "%s", graft_last_error());
    static const int sizes[][4] = {
        /* source w, h -> target w, h */
        {1, 37, 1, 5},     {37, 1, 5, 1},     {1, 1, 7, 9},      {2, 3, 1, 1},
        {97, 61, 224, 224}, {61, 97, 13, 11}, {131, 127, 31, 29}, {500, 375, 341, 256},
        {640, 480, 7, 5},  {1021, 13, 17, 13}, {13, 1021, 13, 17}, {33, 35, 32, 36},
        {17, 19, 16, 19},  {257, 7, 255, 9},  {3, 300, 300, 3},   {999, 2, 1, 1},
    };
    const graft_resample filters[2] = {GRAFT_RESAMPLE_BILINEAR, GRAFT_RESAMPLE_BICUBIC};
    char tested[120] = "";
    size_t used = 0;
    int status = GRAFT_CHECK_PASS, cases = 0;
    for (int isa = GRAFT_ISA_SCALAR + 1; isa < GRAFT_ISA_COUNT && status == GRAFT_CHECK_PASS;
         isa++) {
        if (!graft_isa_available((graft_isa)isa) || graft_isa_set((graft_isa)isa)) continue;
        used += (size_t)snprintf(tested + used, sizeof tested - used, " %s",
                                 graft_isa_name((graft_isa)isa));
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes && status == GRAFT_CHECK_PASS; s++) {
            graft_image src = {0};
            if (graft_image_alloc(&src, sizes[s][0], sizes[s][1])) {
                status = graft_check_fail(msg, msglen, "alloc");
                break;
            }
            synth_rgb(src.data, src.width, src.height, (uint32_t)s + 3);
            for (int f = 0; f < 2 && status == GRAFT_CHECK_PASS; f++) {
                graft_image a = {0}, b = {0}, c = {0}, d = {0};
                graft_isa_set(GRAFT_ISA_SCALAR);
                int e = graft_image_resize(&a, &src, sizes[s][2], sizes[s][3], filters[f]);
                int short_side = sizes[s][2] < sizes[s][3] ? sizes[s][2] : sizes[s][3];
                e = e ? e : graft_image_resize_center_crop(&c, &src, short_side + 3, short_side,
                                                           short_side, filters[f]);
                graft_isa_set((graft_isa)isa);
                e = e ? e : graft_image_resize(&b, &src, sizes[s][2], sizes[s][3], filters[f]);
                e = e ? e : graft_image_resize_center_crop(&d, &src, short_side + 3, short_side,
                                                           short_side, filters[f]);
                if (e)
                    status = graft_check_fail(msg, msglen, "%s: %s",
                                              graft_isa_name((graft_isa)isa), graft_last_error());
                else if (memcmp(a.data, b.data, (size_t)a.width * a.height * 3) ||
                         memcmp(c.data, d.data, (size_t)c.width * c.height * 3))
                    status = graft_check_fail(msg, msglen, "%s differs from scalar: %dx%d -> "
                                              "%dx%d filter %d", graft_isa_name((graft_isa)isa),
                                              sizes[s][0], sizes[s][1], sizes[s][2],
                                              sizes[s][3], f);
                cases++;
                graft_image_free(&a);
                graft_image_free(&b);
                graft_image_free(&c);
                graft_image_free(&d);
            }
            graft_image_free(&src);
        }
    }
    graft_isa_set(saved);
    if (status != GRAFT_CHECK_PASS) return status;
    if (!used) return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "no SIMD ISA available");
    snprintf(msg, msglen, "%d resizes bit-exact with scalar on:%s", cases, tested);
    return GRAFT_CHECK_PASS;
}

/* ---- graft_transform --------------------------------------------------------------------- */

/*
 * What graft_transform_apply must equal, computed the long way: full decode (with the DCT
 * hint apply would use), the public resize/crop functions, the flip by hand, the float
 * conversion. HWC.
 */
static int transform_reference(const graft_transform *t, const uint8_t *p, size_t len,
                               uint64_t seed, float *out) {
    graft_image img = {0}, res = {0};
    graft_decode_opts o = {t->decode.max_pixels, 0, 0};
    int err = GRAFT_OK;
    if (t->dct_scaling) {
        /* apply's hint: the resized size for resize + crop, the output size otherwise. */
        graft_image probe = {0};
        err = graft_image_decode(p, len, NULL, &probe);
        if (err) return err;
        if (t->resize && !t->random_crop) {
            err = graft_image_shorter_side_size(probe.width, probe.height, t->resize,
                                                &o.min_width, &o.min_height);
        } else if (t->random_crop) {
            o.min_width = o.min_height = t->width > t->height ? t->width : t->height;
        } else {
            o.min_width = t->width, o.min_height = t->height;
        }
        graft_image_free(&probe);
        if (err) return err;
    }
    err = graft_image_decode(p, len, &o, &img);
    int box[4], flip = 0;
    if (!err) err = graft_transform_crop_box(t, img.width, img.height, seed, box, &flip);
    if (!err) {
        if (t->random_crop)
            err = graft_image_resized_crop(&res, &img, box[0], box[1], box[2], box[3], t->width,
                                           t->height, t->filter);
        else if (t->resize)
            err = graft_image_resize_center_crop(&res, &img, t->resize, t->width, t->height,
                                                 t->filter);
        else
            err = graft_image_resize(&res, &img, t->width, t->height, t->filter);
    }
    if (!err && flip)
        for (int y = 0; y < res.height; y++)
            for (int x = 0; x < res.width / 2; x++) {
                uint8_t *a = res.data + ((size_t)y * res.width + x) * 3;
                uint8_t *b = res.data + ((size_t)y * res.width + res.width - 1 - x) * 3;
                for (int c = 0; c < 3; c++) {
                    uint8_t tmp = a[c];
                    a[c] = b[c];
                    b[c] = tmp;
                }
            }
    if (!err) {
        const float one[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
        err = graft_image_to_float(&res, zero, one, GRAFT_IMAGE_LAYOUT_HWC, out);
        /* to_float divides by 255; redo the normalisation from the bytes as apply does. */
        for (size_t i = 0; !err && i < (size_t)res.width * res.height; i++)
            for (int k = 0; k < 3; k++) {
                const int c = t->bgr ? 2 - k : k;
                float v = (float)res.data[3 * i + c];
                if (!t->scale255) v = v / 255.0f;
                out[3 * i + k] = (v - t->mean[c]) / t->std[c];
            }
    }
    graft_image_free(&img);
    graft_image_free(&res);
    return err;
}

/* JPEGs of every layout libjpeg writes, at awkward sizes. */
typedef struct jpeg_sample {
    const char *name;
    int w, h, comps, sub_h, sub_v, progressive, restart;
    J_COLOR_SPACE cs;
} jpeg_sample;

static bytes jpeg_encode_sampled(const jpeg_sample *js, uint32_t seed) {
    const size_t npx = (size_t)js->w * js->h;
    uint8_t *rgb = malloc(npx * 3), *px = malloc(npx * 4);
    bytes b = {NULL, 0};
    if (!rgb || !px) goto done;
    synth_rgb(rgb, js->w, js->h, seed);
    for (size_t i = 0; i < npx; i++) {
        if (js->comps == 1) px[i] = rgb[3 * i + 1];
        else if (js->comps == 3) memcpy(px + 3 * i, rgb + 3 * i, 3);
        else for (int c = 0; c < 4; c++) px[4 * i + c] = (uint8_t)(rgb[3 * i + c % 3] ^ (c * 40));
    }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long out_len = 0;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &out_len);
    c.image_width = (JDIMENSION)js->w;
    c.image_height = (JDIMENSION)js->h;
    c.input_components = js->comps;
    c.in_color_space = js->comps == 1 ? JCS_GRAYSCALE : js->comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, js->cs);
    jpeg_set_quality(&c, 85, TRUE);
    if (js->comps == 3) {
        c.comp_info[0].h_samp_factor = js->sub_h;
        c.comp_info[0].v_samp_factor = js->sub_v;
    }
    c.restart_interval = (unsigned)js->restart;
    if (js->progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * js->w * js->comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    b.p = malloc(out_len);
    if (b.p) memcpy(b.p, out, out_len), b.len = out_len;
    free(out);
done:
    free(rgb);
    free(px);
    return b;
}

/*
 * graft_transform_apply against the long way round on every JPEG layout (the region decode
 * with its margins), PNG and GIF, for center crops, stretches, random crops, flips, both
 * filters, BGR/0-255, padding crops and DCT scaling; both layouts.
 */
static int check_transform_matches_reference(char *msg, size_t msglen) {
    static const jpeg_sample jpegs[] = {
        {"420", 517, 389, 3, 2, 2, 0, 0, JCS_YCbCr},
        {"422", 401, 333, 3, 2, 1, 0, 0, JCS_YCbCr},
        {"440", 333, 401, 3, 1, 2, 0, 0, JCS_YCbCr},
        {"444", 299, 211, 3, 1, 1, 0, 0, JCS_YCbCr},
        {"411", 387, 250, 3, 4, 1, 0, 0, JCS_YCbCr},
        {"progressive 420", 450, 300, 3, 2, 2, 1, 0, JCS_YCbCr},
        {"restart 420", 350, 520, 3, 2, 2, 0, 3, JCS_YCbCr},
        {"gray", 301, 277, 1, 1, 1, 0, 0, JCS_GRAYSCALE},
        {"cmyk", 263, 199, 4, 1, 1, 0, 0, JCS_CMYK},
        {"ycck", 263, 199, 4, 1, 1, 0, 0, JCS_YCCK},
        {"small 420", 37, 23, 3, 2, 2, 0, 0, JCS_YCbCr},
        {"tiny", 3, 2, 3, 2, 2, 0, 0, JCS_YCbCr},
        {"big 420", 1280, 960, 3, 2, 2, 0, 0, JCS_YCbCr},
        /* Sizes some transforms below leave unscaled along one or both axes. */
        {"width 256", 256, 300, 3, 2, 2, 0, 0, JCS_YCbCr},
        {"128 square", 128, 128, 3, 2, 1, 0, 0, JCS_YCbCr},
    };
    enum { NJ = sizeof jpegs / sizeof *jpegs };
    bytes files[NJ + 2];
    memset(files, 0, sizeof files);
    for (int j = 0; j < NJ; j++) files[j] = jpeg_encode_sampled(&jpegs[j], (uint32_t)j + 40);
    {
        enum { W = 211, H = 157 };
        static uint8_t raw[W * H * 3];
        synth_rgb(raw, W, H, 77);
        files[NJ] = png_encode(raw, sizeof raw, W, H, 8, SPNG_COLOR_TYPE_TRUECOLOR, NULL);
        static uint8_t pal[256][3], idx[W * H];
        for (int i = 0; i < 256; i++) memcpy(pal[i], raw + 3 * (i * 97), 3);
        for (int i = 0; i < W * H; i++) idx[i] = (uint8_t)(raw[3 * i] + raw[3 * i + 1]);
        gif_spec g = {W, H, 0, 0, W, H, pal, NULL, 256, -1, 1};
        files[NJ + 1] = gif_encode(&g, idx);
    }
    for (int j = 0; j < NJ + 2; j++)
        if (!files[j].p) {
            for (int k = 0; k < NJ + 2; k++) free(files[k].p);
            return graft_check_fail(msg, msglen, "could not encode the samples");
        }

    struct tcase {
        const char *name;
        const char *preset;
        int size, resize, random_crop, hflip, dct, filter_bicubic, wide;
    } tcases[] = {
        {"imagenet 224", "imagenet", 224, -1, 0, 0, 0, 0, 0},
        {"imagenet 64 flip", "imagenet", 64, -1, 0, 1, 0, 0, 0},
        {"inception bicubic", "inception", 0, -1, 0, 0, 0, 1, 0},
        {"caffe", "caffe", 96, -1, 0, 0, 0, 0, 0},
        {"stretch", "stretch", 128, -1, 0, 0, 0, 0, 0},
        {"stretch wide", "stretch", 40, -1, 0, 1, 0, 0, 1},
        {"padding crop", "imagenet", 80, 60, 0, 1, 0, 0, 1},
        {"random crop", "imagenet", 112, -1, 1, 1, 0, 0, 0},
        {"random crop bicubic", "imagenet", 56, -1, 1, 1, 0, 1, 1},
        {"dct imagenet", "imagenet", 112, -1, 0, 0, 1, 0, 0},
        {"dct stretch", "stretch", 64, -1, 0, 1, 1, 0, 0},
        {"dct random", "imagenet", 64, -1, 1, 1, 1, 0, 0},
    };
    int status = GRAFT_CHECK_PASS, count = 0;
    float *got = NULL, *want = NULL;
    for (size_t c = 0; c < sizeof tcases / sizeof *tcases && status == GRAFT_CHECK_PASS; c++) {
        graft_transform t;
        graft_transform_preset(tcases[c].preset, tcases[c].size, &t);
        if (tcases[c].resize >= 0) t.resize = tcases[c].resize;
        if (tcases[c].wide) t.width = t.width * 3 / 2 + 1;
        t.random_crop = tcases[c].random_crop;
        t.hflip = tcases[c].hflip;
        t.dct_scaling = tcases[c].dct;
        if (tcases[c].filter_bicubic) t.filter = GRAFT_RESAMPLE_BICUBIC;
        const size_t n = (size_t)3 * t.width * t.height;
        got = realloc(got, sizeof(float) * n * 2);
        want = realloc(want, sizeof(float) * n);
        if (!got || !want) {
            status = graft_check_fail(msg, msglen, "out of memory");
            break;
        }
        for (int j = 0; j < NJ + 2 && status == GRAFT_CHECK_PASS; j++) {
            /* DCT scaling applies to JPEG only; the others must ignore it. */
            for (uint64_t seed = 0; seed < (t.random_crop || t.hflip ? 3u : 1u); seed++) {
                int e1 = graft_transform_apply(&t, files[j].p, files[j].len, seed,
                                               GRAFT_IMAGE_LAYOUT_HWC, got);
                int e2 = graft_transform_apply(&t, files[j].p, files[j].len, seed,
                                               GRAFT_IMAGE_LAYOUT_CHW, got + n);
                int e3 = transform_reference(&t, files[j].p, files[j].len, seed, want);
                const char *name = j < NJ ? jpegs[j].name : j == NJ ? "png" : "gif";
                if (e1 || e2 || e3) {
                    status = graft_check_fail(msg, msglen, "%s on %s: %s", tcases[c].name, name,
                                              graft_last_error());
                    break;
                }
                const size_t HW = n / 3;
                size_t bad = n;
                for (size_t i = 0; i < n && bad == n; i++)
                    if (got[i] != want[i] || got[n + (i % 3) * HW + i / 3] != want[i]) bad = i;
                if (bad < n) {
                    status = graft_check_fail(msg, msglen, "%s on %s seed %llu: value %zu is "
                                              "%.9g (CHW %.9g), want %.9g", tcases[c].name, name,
                                              (unsigned long long)seed, bad, got[bad],
                                              got[n + (bad % 3) * HW + bad / 3], want[bad]);
                    break;
                }
                count++;
            }
        }
    }
    free(got);
    free(want);
    for (int k = 0; k < NJ + 2; k++) free(files[k].p);
    if (status == GRAFT_CHECK_PASS)
        snprintf(msg, msglen, "%d tensors equal to full decode + resize + crop + normalise "
                 "(%d JPEG layouts, PNG, GIF)", count, NJ);
    return status;
}

static int check_transform_api(char *msg, size_t msglen) {
    graft_transform a, b;
    char da[512], db[512];
    /* Presets. */
    static const struct { const char *name; int size, w, resize; } presets[] = {
        {"imagenet", 0, 224, 256}, {"imagenet", 299, 299, 341}, {"inception", 0, 299, 342},
        {"caffe", 0, 224, 256},    {"stretch", 0, 224, 0},      {"stretch", 128, 128, 0},
    };
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
        if (graft_transform_preset(presets[i].name, presets[i].size, &a) ||
            a.width != presets[i].w || a.height != presets[i].w || a.resize != presets[i].resize)
            return graft_check_fail(msg, msglen, "preset %s %d: %dx%d resize %d",
                                    presets[i].name, presets[i].size, a.width, a.height,
                                    a.resize);
    }
    EXPECT_ERR(graft_transform_preset("vgg", 0, &a), GRAFT_EINVAL, "imagenet", "unknown preset");
    graft_transform_preset("caffe", 0, &a);
    if (!a.bgr || !a.scale255 || a.mean[2] != 103.939f)
        return graft_check_fail(msg, msglen, "caffe preset fields");

    /* describe: equal transforms, equal strings; any change that matters, a new string. */
    graft_transform_preset("imagenet", 0, &a);
    if (graft_transform_describe(&a, da, sizeof da))
        return graft_check_fail(msg, msglen, "describe: %s", graft_last_error());
    if (!strstr(da, "resize=256 crop=224x224 filter=bilinear mean=0.485") ||
        !strstr(da, "scale=1/255 order=rgb"))
        return graft_check_fail(msg, msglen, "describe: unexpected \"%s\"", da);
    b = a;
    b.decode.max_pixels = GRAFT_IMAGE_MAX_PIXELS_DEFAULT; /* the same as 0 */
    graft_transform_describe(&b, db, sizeof db);
    if (strcmp(da, db)) return graft_check_fail(msg, msglen, "describe: 0 and the default limit");
    for (int field = 0; field < 20; field++) {
        b = a;
        switch (field) {
        case 0: b.width++; break;
        case 1: b.height++; break;
        case 2: b.resize++; break;
        case 3: b.resize = 0; break;
        case 4: b.filter = GRAFT_RESAMPLE_BICUBIC; break;
        case 5: b.mean[0] = nextafterf(b.mean[0], 1.0f); break;
        case 6: b.mean[2] += 0.001f; break;
        case 7: b.std[1] = nextafterf(b.std[1], 0.0f); break;
        case 8: b.scale255 = 1; break;
        case 9: b.bgr = 1; break;
        case 10: b.dct_scaling = 1; break;
        case 11: b.random_crop = 1; break;
        case 12: b.hflip = 1; break;
        case 13: b.decode.max_pixels = 1000; break;
        case 14: b.filter = GRAFT_RESAMPLE_NEAREST; break;
        case 15: b.random_crop = 1, b.scale_min = 0.5f; break;
        case 16: b.random_crop = 1, b.scale_max = 0.9f; break;
        case 17: b.random_crop = 1, b.ratio_min = 0.5f; break;
        case 18: b.random_crop = 1, b.ratio_max = 2.0f; break;
        case 19: b.std[2] = -b.std[2]; break;
        }
        if (field >= 15) {
            graft_transform c = a;
            c.random_crop = 1;
            graft_transform_describe(&c, da, sizeof da);
        } else {
            graft_transform_describe(&a, da, sizeof da);
        }
        if (graft_transform_describe(&b, db, sizeof db))
            return graft_check_fail(msg, msglen, "describe field %d: %s", field,
                                    graft_last_error());
        if (!strcmp(da, db))
            return graft_check_fail(msg, msglen, "describe field %d: same string \"%s\"", field,
                                    db);
    }
    EXPECT_ERR(graft_transform_describe(&a, da, 20), GRAFT_ERANGE, NULL, "small buffer");

    /* Invalid transforms are refused by describe and apply alike. */
    float out[3 * 8 * 8];
    static const uint8_t junk[16] = "not an image....";
    for (int field = 0; field < 9; field++) {
        b = a;
        switch (field) {
        case 0: b.width = 0; break;
        case 1: b.resize = -1; break;
        case 2: b.filter = (graft_resample)9; break;
        case 3: b.std[1] = 0; break;
        case 4: b.mean[0] = NAN; break;
        case 5: b.random_crop = 1, b.scale_min = 0.9f, b.scale_max = 0.1f; break;
        case 6: b.random_crop = 1, b.ratio_min = 0; break;
        case 7: b.hflip = 2; break;
        case 8: b.height = 1 << 20; break;
        }
        EXPECT_ERR(graft_transform_describe(&b, db, sizeof db), GRAFT_EINVAL, "transform",
                   "describe invalid %d", field);
        EXPECT_ERR(graft_transform_apply(&b, junk, sizeof junk, 0, GRAFT_IMAGE_LAYOUT_HWC, out),
                   GRAFT_EINVAL, "transform", "apply invalid %d", field);
    }
    graft_transform_preset("stretch", 8, &a);
    EXPECT_ERR(graft_transform_apply(&a, junk, sizeof junk, 0, GRAFT_IMAGE_LAYOUT_HWC, out),
               GRAFT_EUNSUPPORTED, NULL, "junk bytes");
    EXPECT_ERR(graft_transform_apply(&a, junk, sizeof junk, 0, (graft_image_layout)7, out),
               GRAFT_EINVAL, "layout", "layout");
    EXPECT_ERR(graft_transform_apply(&a, NULL, 5, 0, GRAFT_IMAGE_LAYOUT_HWC, out), GRAFT_EINVAL,
               NULL, "NULL bytes");
    EXPECT_ERR(graft_transform_apply(NULL, junk, 5, 0, GRAFT_IMAGE_LAYOUT_HWC, out), GRAFT_EINVAL,
               NULL, "NULL transform");

    /* Errors of the decoders come through; the pixel limit is checked before decoding. */
    bytes files[N_SAMPLES] = {{0}};
    if (!sample_files(files)) {
        for (int f = 0; f < N_SAMPLES; f++) free(files[f].p);
        return graft_check_fail(msg, msglen, "could not encode the samples");
    }
    int status = GRAFT_CHECK_PASS;
    for (int f = 0; f < N_SAMPLES && status == GRAFT_CHECK_PASS; f++) {
        a.decode.max_pixels = 24 * 17 - 1;
        int e1 = graft_transform_apply(&a, files[f].p, files[f].len, 0, GRAFT_IMAGE_LAYOUT_HWC,
                                       out);
        a.decode.max_pixels = 0;
        int e2 = graft_transform_apply(&a, files[f].p, files[f].len / 2, 0,
                                       GRAFT_IMAGE_LAYOUT_HWC, out);
        int e3 = graft_transform_apply(&a, files[f].p, files[f].len, 0, GRAFT_IMAGE_LAYOUT_HWC,
                                       out);
        if (e1 != GRAFT_ERANGE || e2 != GRAFT_ECORRUPT || e3 != GRAFT_OK)
            status = graft_check_fail(msg, msglen, "%s: limit %s, half %s, whole %s",
                                      sample_names[f], graft_err_name(e1), graft_err_name(e2),
                                      graft_err_name(e3));
    }
    for (int f = 0; f < N_SAMPLES; f++) free(files[f].p);
    if (status != GRAFT_CHECK_PASS) return status;

    /* Augmentation: a seed always draws the same; seeds draw differently; boxes stay inside. */
    graft_transform_preset("imagenet", 0, &a);
    a.random_crop = 1;
    a.hflip = 1;
    int flips = 0, distinct = 0, prev[4] = {-1, -1, -1, -1};
    for (uint64_t seed = 0; seed < 64; seed++) {
        int b1[4], b2[4], f1, f2;
        if (graft_transform_crop_box(&a, 500, 375, seed, b1, &f1) ||
            graft_transform_crop_box(&a, 500, 375, seed, b2, &f2) || memcmp(b1, b2, sizeof b1) ||
            f1 != f2)
            return graft_check_fail(msg, msglen, "seed %llu: not deterministic",
                                    (unsigned long long)seed);
        if (b1[0] < 0 || b1[1] < 0 || b1[2] < 1 || b1[3] < 1 || b1[0] + b1[2] > 500 ||
            b1[1] + b1[3] > 375)
            return graft_check_fail(msg, msglen, "seed %llu: box (%d, %d, %d, %d) outside",
                                    (unsigned long long)seed, b1[0], b1[1], b1[2], b1[3]);
        const double area = (double)b1[2] * b1[3] / (500.0 * 375.0);
        const double ratio = (double)b1[2] / b1[3];
        if (area < 0.07 || area > 1.0 || ratio < 0.7 || ratio > 1.4)
            return graft_check_fail(msg, msglen, "seed %llu: area %g ratio %g",
                                    (unsigned long long)seed, area, ratio);
        flips += f1;
        distinct += memcmp(b1, prev, sizeof b1) != 0;
        memcpy(prev, b1, sizeof prev);
    }
    if (flips < 16 || flips > 48 || distinct < 60)
        return graft_check_fail(msg, msglen, "64 seeds: %d flips, %d distinct boxes", flips,
                                distinct);
    snprintf(msg, msglen, "presets, describe per field, invalid fields, decoder errors, "
             "deterministic seeds (%d/64 flipped)", flips);
    return GRAFT_CHECK_PASS;
}

const graft_check graft_checks_image[] = {
    {"image", "shared_bilinear_matches_pil", check_shared_bilinear},
    {"image", "shared_input_tensor", check_shared_input_tensor},
    {"image", "pil_parity", check_pil_parity},
    {"image", "bmp_variants", check_bmp_variants},
    {"image", "png_variants", check_png_variants},
    {"image", "jpeg_variants", check_jpeg_variants},
    {"image", "webp_variants", check_webp_variants},
    {"image", "truncated_every_offset", check_truncated_every_offset},
    {"image", "corrupt_and_unknown", check_corrupt_and_unknown},
    {"image", "bmp_absurd_headers", check_bmp_absurd_headers},
    {"image", "max_pixels_guard", check_max_pixels},
    {"image", "load_file_errors", check_load_file},
    {"image", "resize_properties", check_resize_properties},
    {"image", "torchvision_geometry", check_torchvision_geometry},
    {"image", "to_float", check_to_float},
    {"image", "npy_format", check_npy},
    {"image", "gif_variants", check_gif_variants},
    {"image", "resize_isas_match_scalar", check_resize_isas},
    {"image", "transform_matches_reference", check_transform_matches_reference},
    {"image", "transform_api", check_transform_api},
    {NULL, NULL, NULL},
};
