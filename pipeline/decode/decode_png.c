/*
 * pipeline/decode/decode_png.c: PNG -> RGB with libspng, which validates chunk order, CRCs and
 * the zlib stream and converts every colour type and bit depth to 8-bit RGB itself.
 *
 * Matches Pillow's convert("RGB") of the same file: alpha and tRNS are dropped (no
 * compositing), 16-bit samples keep their high byte, low bit depths are scaled to 0..255,
 * and gAMA/sRGB/iCCP are not applied. 16-bit grayscale is the exception Pillow makes: it
 * opens such a file in its 32-bit integer mode, whose conversion to RGB clips at 255 instead
 * of scaling, so v becomes min(v, 255) here too.
 *
 * It does not decode APNG frames beyond the default image, and ignores all text and
 * metadata chunks (stored by libspng up to the limits set below, then dropped).
 */
#include <stdlib.h>

#include <spng.h>

#include "codecs.h"
#include "kernels.h"

/*
 * Ancillary chunks libspng keeps in memory (text, ICC profiles, some inflated) are bounded
 * so that a small file cannot expand into gigabytes of metadata we never look at.
 */
#define PNG_CHUNK_CACHE_BYTES ((size_t)64 << 20)

/* libspng's codes for data that ends early; everything else wrong with a file is corrupt. */
static int png_error(int rc) {
    switch (rc) {
    case SPNG_EMEM: return GRAFT_ENOMEM;
    case SPNG_EOVERFLOW: return GRAFT_ERANGE;
    default: return GRAFT_ECORRUPT;
    }
}

static const char *png_cause(int rc) {
    return (rc == SPNG_IO_EOF || rc == SPNG_EOF) ? "truncated: " : "";
}

int graft__decode_png(const uint8_t *buf, size_t len, size_t max_pixels, graft_image *out) {
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx) return graft__fail(GRAFT_ENOMEM, "png: cannot create a decoder");
    uint8_t *pixels = NULL;
    int err;

    int rc = spng_set_png_buffer(ctx, buf, len);
    if (!rc) rc = spng_set_chunk_limits(ctx, PNG_CHUNK_CACHE_BYTES, PNG_CHUNK_CACHE_BYTES);
    if (rc) {
        err = graft__fail(png_error(rc), "png: %s", spng_strerror(rc));
        goto done;
    }
    struct spng_ihdr ihdr;
    rc = spng_get_ihdr(ctx, &ihdr);
    if (rc) {
        err = graft__fail(png_error(rc), "png: header: %s%s", png_cause(rc), spng_strerror(rc));
        goto done;
    }
    err = graft__image_check_size("png", ihdr.width, ihdr.height, max_pixels);
    if (err) goto done;

    size_t bytes;
    rc = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &bytes);
    if (rc) {
        err = graft__fail(png_error(rc), "png: %s", spng_strerror(rc));
        goto done;
    }
    if (bytes != (size_t)ihdr.width * ihdr.height * 3) {
        /* RGB8 output is packed rows; anything else would mean a libspng we do not know. */
        err = graft__fail(GRAFT_EUNSUPPORTED, "png: libspng reports %zu bytes for %u x %u RGB",
                          bytes, ihdr.width, ihdr.height);
        goto done;
    }
    pixels = malloc(bytes);
    if (!pixels) {
        err = graft__fail(GRAFT_ENOMEM, "png: cannot allocate %zu bytes", bytes);
        goto done;
    }
    if (ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE && ihdr.bit_depth == 16) {
        /* Big-endian samples, 2 bytes per pixel: decoded into the back two thirds of the
         * buffer so that the clipped RGB pixels, written front to back, never overtake the
         * samples they come from. */
        const size_t npx = (size_t)ihdr.width * ihdr.height;
        uint8_t *raw = pixels + npx;
        rc = spng_decode_image(ctx, raw, npx * 2, SPNG_FMT_RAW, 0);
        if (rc) {
            err = graft__fail(png_error(rc), "png: %s%s", png_cause(rc), spng_strerror(rc));
            goto done;
        }
        for (size_t i = 0; i < npx; i++) {
            const unsigned v = (unsigned)raw[2 * i] << 8 | raw[2 * i + 1];
            pixels[3 * i] = pixels[3 * i + 1] = pixels[3 * i + 2] = (uint8_t)(v > 255 ? 255 : v);
        }
        goto decoded;
    }
    /* No SPNG_DECODE_TRNS (alpha is dropped anyway) and no SPNG_DECODE_GAMMA: as Pillow. */
    rc = spng_decode_image(ctx, pixels, bytes, SPNG_FMT_RGB8, 0);
    if (rc) {
        err = graft__fail(png_error(rc), "png: %s%s", png_cause(rc), spng_strerror(rc));
        goto done;
    }
decoded:
    out->width = (int)ihdr.width;
    out->height = (int)ihdr.height;
    out->channels = 3;
    out->data = pixels;
    pixels = NULL;
    err = GRAFT_OK;
done:
    free(pixels);
    spng_ctx_free(ctx);
    return err;
}
