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

#endif
