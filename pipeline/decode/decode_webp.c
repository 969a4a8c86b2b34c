/*
 * pipeline/decode/decode_webp.c: WebP (lossy VP8, lossless VP8L, with or without alpha) -> RGB
 * with libwebp's simple decoding API, writing straight into our buffer.
 *
 * Alpha is dropped without compositing, like Pillow's convert("RGB"); libwebp's default
 * (fancy) chroma upsampling is kept, which is what Pillow uses too. Animated WebP is refused
 * (GRAFT_EUNSUPPORTED): its first frame would need the demux/animation API.
 */
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>

#include "codecs.h"
#include "kernels.h"

static const char *status_name(VP8StatusCode st) {
    switch (st) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated (not enough data)";
    }
    return "unknown status";
}

static int status_err(VP8StatusCode st) {
    switch (st) {
    case VP8_STATUS_OUT_OF_MEMORY: return GRAFT_ENOMEM;
    case VP8_STATUS_UNSUPPORTED_FEATURE: return GRAFT_EUNSUPPORTED;
    default: return GRAFT_ECORRUPT;
    }
}

int graft__decode_webp(const uint8_t *buf, size_t len, size_t max_pixels, graft_image *out) {
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config))
        return graft__fail(GRAFT_EUNSUPPORTED, "webp: libwebp version mismatch");
    VP8StatusCode st = WebPGetFeatures(buf, len, &config.input);
    if (st != VP8_STATUS_OK)
        return graft__fail(status_err(st), "webp: header: %s", status_name(st));
    if (config.input.has_animation)
        return graft__fail(GRAFT_EUNSUPPORTED, "webp: animated WebP is not supported");
    int err = graft__image_check_size("webp", config.input.width, config.input.height,
                                      max_pixels);
    if (err) return err;

    const int width = config.input.width, height = config.input.height;
    const size_t bytes = (size_t)width * (size_t)height * 3;
    uint8_t *pixels = malloc(bytes);
    if (!pixels) return graft__fail(GRAFT_ENOMEM, "webp: cannot allocate %zu bytes", bytes);
    config.output.colorspace = MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = pixels;
    config.output.u.RGBA.stride = width * 3;
    config.output.u.RGBA.size = bytes;
    st = WebPDecode(buf, len, &config);
    WebPFreeDecBuffer(&config.output); /* frees nothing of ours: external memory */
    if (st != VP8_STATUS_OK) {
        free(pixels);
        return graft__fail(status_err(st), "webp: %s", status_name(st));
    }
    out->width = width;
    out->height = height;
    out->channels = 3;
    out->data = pixels;
    return GRAFT_OK;
}
