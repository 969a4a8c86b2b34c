/*
 * pipeline/decode/codecs.h: what the format decoders of pipeline/decode/ share, internal to
 * libgraft. image.c sniffs the format and calls one of the graft__decode_* functions below;
 * each one validates its header, checks the pixel limit, allocates the output and fills it.
 *
 * Contract of every graft__decode_*: `buf` holds `len` >= 1 bytes whose signature already
 * matched; on success *out is a new RGB image; on failure *out is untouched, nothing leaks,
 * and the error message starts with the format's name ("jpeg: ..."). None of them keeps a
 * pointer into `buf`.
 */
#ifndef GRAFT_DECODE_CODECS_H
#define GRAFT_DECODE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#include "graft/image.h"
#include "resample.h"

/*
 * GRAFT_ERANGE with a message unless 1 <= width, height and width * height <= max_pixels;
 * GRAFT_ECORRUPT for a zero or negative dimension. `what` names the format in the message.
 */
int graft__image_check_size(const char *what, int64_t width, int64_t height, size_t max_pixels);

int graft__decode_jpeg(const uint8_t *buf, size_t len, size_t max_pixels, int min_width,
                       int min_height, graft_image *out);
int graft__decode_png(const uint8_t *buf, size_t len, size_t max_pixels, graft_image *out);
int graft__decode_bmp(const uint8_t *buf, size_t len, size_t max_pixels, graft_image *out);
int graft__decode_webp(const uint8_t *buf, size_t len, size_t max_pixels, graft_image *out);
/*
 * What graft__decode_jpeg_region asks its caller (transform.c) once the header is read:
 * hint() gets the full image size and returns the DCT-scaling hint (0, 0 for full size, else
 * as graft_decode_opts.min_width/min_height); region() gets the size after scaling and
 * returns the columns [x0, x1) and rows [y0, y1) that will be read (non-empty, inside).
 */
typedef struct graft__jpeg_region_req {
    void *ctx;
    void (*hint)(void *ctx, int width, int height, int *min_width, int *min_height);
    void (*region)(void *ctx, int width, int height, int *x0, int *x1, int *y0, int *y1);
} graft__jpeg_region_req;

/*
 * Decodes at least the requested region of a JPEG into `pixels` (the caller's scratch,
 * grown as needed) and describes it in *out (x_off/y_off name its first pixel; width/height
 * are the whole decoded image's). Only the iMCU columns and rows around the region go
 * through the inverse DCT, upsampling and colour conversion, with a margin that keeps every
 * requested pixel bit-identical to a full decode; the rest is only entropy-decoded, to the
 * end, so a truncated file is refused as graft__decode_jpeg refuses it. Errors as
 * graft__decode_jpeg.
 */
int graft__decode_jpeg_region(const uint8_t *buf, size_t len, size_t max_pixels,
                              const graft__jpeg_region_req *req, graft__scratch *pixels,
                              graft__rgb_view *out);
int graft__decode_gif(const uint8_t *buf, size_t len, size_t max_pixels, graft_image *out);

#endif
