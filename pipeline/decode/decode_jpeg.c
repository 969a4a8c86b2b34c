/*
 * pipeline/decode/decode_jpeg.c: JPEG -> RGB with libjpeg-turbo's libjpeg API, set up the way
 * Pillow sets it up (default islow DCT and fancy upsampling, CMYK read as Adobe-inverted), so
 * that a decode here equals Image.open(f).convert("RGB") on the same libjpeg-turbo.
 *
 * libjpeg reports fatal errors through error_exit, which must not return: ours longjmps back
 * to graft__decode_jpeg with libjpeg's message, so a corrupt file becomes GRAFT_ECORRUPT and
 * never an exit(). Warnings are recorded, not printed; the one that means the data ended
 * early is an error (see graft__decode_jpeg).
 *
 * It does not read EXIF orientation, ICC profiles or other metadata, and does not decode
 * 12-bit or lossless JPEG (libjpeg-turbo's 8-bit API refuses them).
 */
#include <setjmp.h>
#include <stdio.h> /* jpeglib.h uses FILE without including stdio.h */
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "codecs.h"
#include "kernels.h"

/*
 * Progressive and multi-scan files cost one pass over the coefficients per scan; real files
 * have about ten. Without a bound a small crafted file with thousands of empty scans keeps a
 * decoder busy for minutes (libjpeg-turbo's own fuzzers bound it the same way).
 */
#define JPEG_MAX_SCANS 1000
#define GRAFT__STR_(x) #x
#define GRAFT__STR(x) GRAFT__STR_(x)

typedef struct jpeg_guard {
    struct jpeg_error_mgr pub; /* first: libjpeg casts cinfo->err to this */
    struct jpeg_progress_mgr progress;
    jmp_buf jmp;
    int truncated;                  /* libjpeg's source ran out of data (JWRN_JPEG_EOF) */
    int err;                        /* the graft code for the error that ended the decode */
    char message[JMSG_LENGTH_MAX];  /* and its message */
} jpeg_guard;

static _Noreturn void guard_error_exit(j_common_ptr cinfo) {
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    g->pub.format_message(cinfo, g->message);
    switch (g->pub.msg_code) {
    case JERR_OUT_OF_MEMORY: g->err = GRAFT_ENOMEM; break;
    case JERR_BAD_PRECISION: /* 12-bit samples */
    case JERR_SOF_UNSUPPORTED: /* lossless and hierarchical processes */
    case JERR_NOT_COMPILED: g->err = GRAFT_EUNSUPPORTED; break;
    default: g->err = GRAFT_ECORRUPT; break;
    }
    longjmp(g->jmp, 1);
}

/* Ends the decode from our own checks, the way libjpeg's errors do. */
static _Noreturn void guard_fail(jpeg_guard *g, int err, const char *msg) {
    g->err = err;
    snprintf(g->message, sizeof g->message, "%s", msg);
    longjmp(g->jmp, 1);
}

/* Level -1 is a warning; higher levels are trace messages. Nothing is printed. */
static void guard_emit_message(j_common_ptr cinfo, int level) {
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    if (level >= 0) return;
    g->pub.num_warnings++;
    if (g->pub.msg_code == JWRN_JPEG_EOF) g->truncated = 1;
}

static void guard_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void guard_progress(j_common_ptr cinfo) {
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > JPEG_MAX_SCANS)
        guard_fail(g, GRAFT_ECORRUPT, "more than " GRAFT__STR(JPEG_MAX_SCANS) " scans");
}

/*
 * Pillow reads every 4-channel JPEG as "CMYK;I": the stored samples c, k are inverted
 * (C = 255 - c, K = 255 - k, Adobe's convention) and converted with
 * r = (255 - K) - muldiv255(C, 255 - K), which on the stored samples is
 * r = k - muldiv255(255 - c, k). muldiv255 is Pillow's rounded a * b / 255.
 */
static inline uint8_t muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static void cmyk_row_to_rgb(uint8_t *restrict rgb, const uint8_t *restrict cmyk, int width) {
    for (int x = 0; x < width; x++) {
        unsigned k = cmyk[4 * x + 3];
        for (int c = 0; c < 3; c++)
            rgb[3 * x + c] = (uint8_t)(k - muldiv255(255u - cmyk[4 * x + c], k));
    }
}

/* Picks the smallest power-of-two DCT scale whose output still covers min_w x min_h. */
static void choose_scale(j_decompress_ptr cinfo, int min_w, int min_h) {
    cinfo->scale_num = 1;
    cinfo->scale_denom = 1;
    if (min_w <= 0 || min_h <= 0) return;
    for (unsigned denom = 8; denom >= 2; denom /= 2) {
        cinfo->scale_denom = denom;
        jpeg_calc_output_dimensions(cinfo);
        if (cinfo->output_width >= (JDIMENSION)min_w && cinfo->output_height >= (JDIMENSION)min_h)
            return;
    }
    cinfo->scale_denom = 1;
}

/*
 * After the header: the pixel limit, then the output colour space, RGB (libjpeg-turbo
 * replicates grayscale) or CMYK (libjpeg turns YCCK into CMYK; converted to RGB as Pillow does
 * by the caller). GRAFT_OK, or an error with its message for the caller to return.
 */
static int choose_output(struct jpeg_decompress_struct *cinfo, size_t max_pixels, int *is_cmyk) {
    int rc = graft__image_check_size("jpeg", cinfo->image_width, cinfo->image_height,
                                     max_pixels);
    if (rc) return rc;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB: cinfo->out_color_space = JCS_RGB; return GRAFT_OK;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK;
        *is_cmyk = 1;
        return GRAFT_OK;
    default:
        return graft__fail(GRAFT_EUNSUPPORTED,
                           "jpeg: %d components in an unknown colour space are not supported",
                           cinfo->num_components);
    }
}

int graft__decode_jpeg(const uint8_t *buf, size_t len, size_t max_pixels, int min_width,
                       int min_height, graft_image *out) {
    struct jpeg_decompress_struct cinfo;
    jpeg_guard guard;
    /* Written after setjmp and read after longjmp, so volatile (C11 7.13.2.1). */
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile cmyk_row = NULL;

    /* Zeroed so that jpeg_destroy_decompress is safe whenever the longjmp comes. */
    memset(&cinfo, 0, sizeof cinfo);
    memset(&guard, 0, sizeof guard);
    cinfo.err = jpeg_std_error(&guard.pub);
    guard.pub.error_exit = guard_error_exit;
    guard.pub.emit_message = guard_emit_message;
    guard.pub.output_message = guard_output_message;
    guard.progress.progress_monitor = guard_progress;

    if (setjmp(guard.jmp)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(cmyk_row);
        /* Data that ends early usually surfaces as a later error ("no image", a bad marker):
         * say that the file was cut short, which is the cause. */
        return graft__fail(guard.err, "jpeg: %s%s",
                           guard.err == GRAFT_ENOMEM ? "out of memory: "
                           : guard.truncated         ? "truncated: "
                                                     : "",
                           guard.message);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &guard.progress;
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);

    int is_cmyk = 0;
    int rc = choose_output(&cinfo, max_pixels, &is_cmyk);
    if (rc) {
        jpeg_destroy_decompress(&cinfo);
        return rc;
    }
    choose_scale(&cinfo, min_width, min_height);

    jpeg_start_decompress(&cinfo);
    const int width = (int)cinfo.output_width, height = (int)cinfo.output_height;
    if (cinfo.output_components != (is_cmyk ? 4 : 3)) {
        /* Cannot happen with the colour spaces set above; checked because rows are sized
         * from it. */
        guard_fail(&guard, GRAFT_ECORRUPT, "unexpected number of output components");
    }
    const size_t row_bytes = (size_t)width * 3;
    pixels = malloc(row_bytes * (size_t)height);
    if (is_cmyk) cmyk_row = malloc((size_t)width * 4);
    if (!pixels || (is_cmyk && !cmyk_row))
        guard_fail(&guard, GRAFT_ENOMEM, "no memory for the decoded pixels");
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = pixels + (size_t)cinfo.output_scanline * row_bytes;
        JSAMPROW row = is_cmyk ? cmyk_row : dst;
        /* A memory source never suspends; this only guards the loop against spinning. */
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1)
            guard_fail(&guard, GRAFT_ECORRUPT, "decoder returned no scanline");
        if (is_cmyk) cmyk_row_to_rgb(dst, cmyk_row, width);
    }
    /* libjpeg pads data that ends early with gray and only warns; Pillow refuses such a file
     * ("image file is truncated"), and so do we. That includes a file missing only its end
     * marker, which the entropy decoder reads ahead into while producing the last rows
     * (Pillow refuses those too). finish_decompress only skips to the end marker, so its
     * warnings are not checked. */
    if (guard.truncated) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(cmyk_row);
        return graft__fail(GRAFT_ECORRUPT,
                           "jpeg: truncated: the data ends before the %d x %d image is complete",
                           width, height);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(cmyk_row);

    out->width = width;
    out->height = height;
    out->channels = 3;
    out->data = pixels;
    return GRAFT_OK;
}

/* ---- region decoding (graft_transform_apply) --------------------------------------------- */

/*
 * Fancy upsampling blends each chroma sample with its neighbours, and libjpeg-turbo treats
 * the edges of a cropped or skipped-to region as image edges, so the pixels right next to
 * them can differ from a full decode. A margin around the requested region keeps every
 * requested pixel exact: transform_matches_reference in tests/pipeline/check_image.c
 * compares against full decodes on every sampling layout and fails without a margin; 2
 * pixels already pass, 8 leaves room (the crop is widened to whole iMCUs anyway).
 */
#define JPEG_REGION_MARGIN 8

int graft__decode_jpeg_region(const uint8_t *buf, size_t len, size_t max_pixels,
                              const graft__jpeg_region_req *req, graft__scratch *pixels,
                              graft__rgb_view *out) {
    struct jpeg_decompress_struct cinfo;
    jpeg_guard guard;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&guard, 0, sizeof guard);
    cinfo.err = jpeg_std_error(&guard.pub);
    guard.pub.error_exit = guard_error_exit;
    guard.pub.emit_message = guard_emit_message;
    guard.pub.output_message = guard_output_message;
    guard.progress.progress_monitor = guard_progress;

    if (setjmp(guard.jmp)) {
        jpeg_destroy_decompress(&cinfo);
        return graft__fail(guard.err, "jpeg: %s%s",
                           guard.err == GRAFT_ENOMEM ? "out of memory: "
                           : guard.truncated         ? "truncated: "
                                                     : "",
                           guard.message);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &guard.progress;
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);

    int is_cmyk = 0;
    int rc = choose_output(&cinfo, max_pixels, &is_cmyk);
    if (rc) {
        jpeg_destroy_decompress(&cinfo);
        return rc;
    }
    int min_w = 0, min_h = 0;
    req->hint(req->ctx, (int)cinfo.image_width, (int)cinfo.image_height, &min_w, &min_h);
    choose_scale(&cinfo, min_w, min_h);

    jpeg_start_decompress(&cinfo);
    const int width = (int)cinfo.output_width, height = (int)cinfo.output_height;
    if (cinfo.output_components != (is_cmyk ? 4 : 3))
        guard_fail(&guard, GRAFT_ECORRUPT, "unexpected number of output components");
    int x0, x1, y0, y1;
    req->region(req->ctx, width, height, &x0, &x1, &y0, &y1);
    x0 = x0 - JPEG_REGION_MARGIN < 0 ? 0 : x0 - JPEG_REGION_MARGIN;
    x1 = x1 > width - JPEG_REGION_MARGIN ? width : x1 + JPEG_REGION_MARGIN;
    y0 = y0 - JPEG_REGION_MARGIN < 0 ? 0 : y0 - JPEG_REGION_MARGIN;
    y1 = y1 > height - JPEG_REGION_MARGIN ? height : y1 + JPEG_REGION_MARGIN;

    /* Columns: libjpeg widens the crop to whole iMCUs and reports what it chose. */
    JDIMENSION cx = (JDIMENSION)x0, cw = (JDIMENSION)(x1 - x0);
    if (cw < (JDIMENSION)width) jpeg_crop_scanline(&cinfo, &cx, &cw);
    else cx = 0, cw = (JDIMENSION)width;
    const size_t row_bytes = (size_t)cw * 3;
    /* The pixels, 16 bytes of slack for the resize kernels' loads, then a CMYK row. */
    const size_t pix_bytes = row_bytes * (size_t)(y1 - y0) + 16;
    if (graft__scratch_reserve(pixels, pix_bytes + (is_cmyk ? (size_t)cw * 4 : 0)))
        guard_fail(&guard, GRAFT_ENOMEM, "no memory for the decoded pixels");
    uint8_t *px = pixels->p;
    uint8_t *cmyk_row = is_cmyk ? px + pix_bytes : NULL;

    if (y0 > 0 && jpeg_skip_scanlines(&cinfo, (JDIMENSION)y0) != (JDIMENSION)y0)
        guard_fail(&guard, GRAFT_ECORRUPT, "decoder skipped too few scanlines");
    while ((int)cinfo.output_scanline < y1) {
        uint8_t *dst = px + (size_t)((int)cinfo.output_scanline - y0) * row_bytes;
        JSAMPROW row = is_cmyk ? cmyk_row : dst;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1)
            guard_fail(&guard, GRAFT_ECORRUPT, "decoder returned no scanline");
        if (is_cmyk) cmyk_row_to_rgb(dst, cmyk_row, (int)cw);
    }
    /* The rest is entropy-decoded only: a file cut short there is refused like any other. */
    if (cinfo.output_scanline < cinfo.output_height)
        jpeg_skip_scanlines(&cinfo, cinfo.output_height - cinfo.output_scanline);
    if (guard.truncated) {
        jpeg_destroy_decompress(&cinfo);
        return graft__fail(GRAFT_ECORRUPT,
                           "jpeg: truncated: the data ends before the %d x %d image is complete",
                           width, height);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    out->data = px;
    out->stride = row_bytes;
    out->width = width;
    out->height = height;
    out->x_off = (int)cx;
    out->y_off = y0;
    out->end = px + pix_bytes;
    return GRAFT_OK;
}
