/*
 * tests/fuzz/fuzz_image.c: a libFuzzer target for the decode stage (pipeline/decode/: the
 * format sniffer, the JPEG, PNG, BMP, WebP and GIF decoders, resize, crop, to_float, and
 * graft_transform_apply with its region decoding of JPEG) and the .npy parser
 * (pipeline/io/npy.c). Each input is decoded as an image three ways (default options, a tight
 * pixel limit, a JPEG scaling hint); whatever decodes is resized, cropped and normalised so
 * that AddressSanitizer sees every pixel the decoder claimed to write. The same bytes go
 * through two transforms (center crop; random crop + flip + DCT scaling), whose errors must be
 * those of the decoders, and are then parsed as a .npy file.
 *
 * Built and run by `make fuzz-image` (clang -fsanitize=fuzzer,address,undefined), seeded with
 * small images of every format and variant by tests/fuzz/image_seeds.py. It checks the
 * contract of graft_image_decode: only GRAFT_OK, GRAFT_ECORRUPT, GRAFT_EUNSUPPORTED,
 * GRAFT_ERANGE or GRAFT_ENOMEM for any bytes, and a decoded image has a sane size (within the
 * pixel limit, at least the hinted size). Anything else traps, and libFuzzer saves the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graft/image.h"
#include "graft/npy.h"

/* Large enough for every seed, small enough that one input decodes in milliseconds. */
#define FUZZ_MAX_PIXELS ((size_t)1 << 22)

static volatile float sink;

static int allowed(int err) {
    return err == GRAFT_OK || err == GRAFT_ECORRUPT || err == GRAFT_EUNSUPPORTED ||
           err == GRAFT_ERANGE || err == GRAFT_ENOMEM;
}

static void exercise(const graft_image *img) {
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    uint32_t h = 0;
    for (size_t i = 0; i < (size_t)img->width * img->height * 3; i++)
        h = h * 31 + img->data[i];
    graft_image a = {0}, b = {0};
    if (graft_image_resize(&a, img, 17, 13, (graft_resample)(h % 3)) == GRAFT_OK) {
        float x[17 * 13 * 3];
        if (graft_image_to_float(&a, mean, std, GRAFT_IMAGE_LAYOUT_CHW, x) == GRAFT_OK)
            sink += x[h % (17 * 13 * 3)];
    }
    if (graft_image_resize_center_crop(&b, img, 20, 16, 16, GRAFT_RESAMPLE_BICUBIC) == GRAFT_OK)
        sink += b.data[h % (16 * 16 * 3)];
    graft_image_free(&a);
    graft_image_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const graft_decode_opts opts[3] = {
        {FUZZ_MAX_PIXELS, 0, 0},
        {256, 0, 0},
        {FUZZ_MAX_PIXELS, 9, 7},
    };
    for (int k = 0; k < 3; k++) {
        graft_image img = {0};
        int err = graft_image_decode(data, size, &opts[k], &img);
        if (!allowed(err)) __builtin_trap();
        if (err != GRAFT_OK) continue;
        if (img.width < 1 || img.height < 1 || img.channels != 3 || !img.data ||
            (size_t)img.width * img.height > opts[k].max_pixels)
            __builtin_trap();
        if (k == 0) exercise(&img);
        graft_image_free(&img);
    }
    /* The whole transform: errors are the decoders' (EINVAL would be our bug). */
    static graft_transform t[2];
    static int t_ready;
    if (!t_ready) {
        graft_transform_preset("imagenet", 24, &t[0]);
        t[0].resize = 27;
        graft_transform_preset("imagenet", 16, &t[1]);
        t[1].random_crop = 1;
        t[1].hflip = 1;
        t[1].dct_scaling = 1;
        t[1].filter = GRAFT_RESAMPLE_BICUBIC;
        t[0].decode.max_pixels = t[1].decode.max_pixels = FUZZ_MAX_PIXELS;
        t_ready = 1;
    }
    static float x[3 * 24 * 24];
    for (int k = 0; k < 2; k++) {
        int err = graft_transform_apply(&t[k], data, size, size, k ? GRAFT_IMAGE_LAYOUT_CHW
                                                                   : GRAFT_IMAGE_LAYOUT_HWC, x);
        if (!allowed(err)) __builtin_trap();
        if (err == GRAFT_OK) sink += x[size % (3 * 16 * 16)];
    }
    graft_npy a = {0};
    int err = graft_npy_parse(data, size, &a);
    if (err != GRAFT_OK && err != GRAFT_ECORRUPT && err != GRAFT_EUNSUPPORTED &&
        err != GRAFT_ERANGE && err != GRAFT_ENOMEM)
        __builtin_trap();
    if (err == GRAFT_OK && a.count) sink += ((const uint8_t *)a.data)[a.count - 1];
    graft_npy_free(&a);
    return 0;
}
