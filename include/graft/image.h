/*
 * image.h: the decode stage's public API: bytes -> 8-bit RGB image -> resized, cropped ->
 * normalised float tensor, computing what torchvision's PIL pipeline computes
 * (Image.open(f).convert("RGB"), Resize, CenterCrop, ToTensor, Normalize).
 *
 * Formats: JPEG (libjpeg-turbo), PNG (libspng), BMP (own parser), WebP (libwebp). The format
 * comes from the first bytes, never from a file name. GIF, TIFF and the rest are refused with
 * GRAFT_EUNSUPPORTED.
 *
 * Everything here is a plain function on memory: no event loop, no threads, no global state
 * beyond graft_last_error(). Every function may be called from any thread at once with
 * different images. Decoding never trusts the input: a truncated or corrupt file fails with
 * GRAFT_ECORRUPT (and the reason in graft_last_error()), never crashes or exits.
 */
#ifndef GRAFT_IMAGE_H
#define GRAFT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "graft.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An 8-bit RGB image, rows top to bottom, pixels interleaved: data[(y * width + x) * 3 + c],
 * c = 0 red, 1 green, 2 blue; rows are packed (stride width * 3). channels is always 3.
 * The image owns `data` (malloc'd by the function that filled it); free it with
 * graft_image_free(). A zeroed struct is a valid empty image.
 */
typedef struct graft_image {
    int width, height, channels; /* width * height <= INT_MAX */
    uint8_t *data;               /* (height, width, channels) */
} graft_image;

/* Frees img->data and zeroes *img. NULL and empty images do nothing. */
void graft_image_free(graft_image *img);

/*
 * Allocates an uninitialised width x height RGB image into *img (previous content is not
 * freed: pass an empty image). GRAFT_EINVAL for sizes < 1, GRAFT_ERANGE above INT_MAX
 * pixels (so that pixel indices fit an int everywhere), GRAFT_ENOMEM. *img written only on
 * success.
 */
int graft_image_alloc(graft_image *img, int width, int height);

/* ---- decoding ---------------------------------------------------------------------------- */

typedef enum graft_image_format {
    GRAFT_IMAGE_FORMAT_UNKNOWN = 0,
    GRAFT_IMAGE_FORMAT_JPEG,
    GRAFT_IMAGE_FORMAT_PNG,
    GRAFT_IMAGE_FORMAT_BMP,
    GRAFT_IMAGE_FORMAT_WEBP
} graft_image_format;

/* The format the first bytes announce; UNKNOWN for anything else (or too few bytes). */
graft_image_format graft_image_sniff(const void *buf, size_t len);
/* "jpeg", "png", "bmp", "webp", "unknown". */
const char *graft_image_format_name(graft_image_format fmt);

/* Pillow's Image.MAX_IMAGE_PIXELS: 1024 * 1024 * 1024 / 4 / 3. */
#define GRAFT_IMAGE_MAX_PIXELS_DEFAULT ((size_t)89478485)

/*
 * Decoding options. A zeroed struct (or NULL) means: the default pixel limit, full size.
 */
typedef struct graft_decode_opts {
    /*
     * Largest width * height accepted, checked from the header before any pixel buffer is
     * allocated (GRAFT_ERANGE above it). 0 means GRAFT_IMAGE_MAX_PIXELS_DEFAULT; SIZE_MAX
     * means no limit beyond what memory allows.
     */
    size_t max_pixels;
    /*
     * A size hint for JPEG: when both are > 0, the decoder may scale by 1/2, 1/4 or 1/8 in
     * the DCT domain (much faster) while keeping the result at least min_width x min_height;
     * it picks the smallest such scale. This changes pixel values (it is not what Pillow's
     * full decode followed by a resize computes), so leave it 0 where parity with torchvision
     * matters. Ignored by the other formats.
     */
    int min_width, min_height;
} graft_decode_opts;

/*
 * Decodes an image file held in memory into a new RGB image in *out (previous content is not
 * freed), converting as Pillow's convert("RGB") does:
 *   - JPEG: grayscale replicated; CMYK and YCCK taken as Adobe-inverted (Pillow's "CMYK;I",
 *     which it assumes for every 4-channel JPEG) and converted with Pillow's formula
 *     r = K' - C'K'/255 on the inverted values. Default libjpeg settings (islow DCT, fancy
 *     upsampling), so pixels equal Pillow's on the same libjpeg-turbo. EXIF orientation is
 *     not applied (neither Pillow's open nor torchvision does). Warnings in the entropy data
 *     are tolerated as libjpeg and Pillow tolerate them, except a premature end of the data,
 *     which Pillow refuses ("image file is truncated") and so do we.
 *   - PNG: every colour type and bit depth; 16-bit samples keep their high byte; alpha is
 *     dropped without compositing (Pillow's convert("RGB") does the same); palette entries
 *     are used as they are (tRNS ignored); gamma, sRGB and ICC chunks are not applied.
 *     Differs from Pillow only for 16-bit grayscale, which Pillow maps through its 32-bit
 *     "I" mode and clips at 255 instead of scaling.
 *   - BMP: BITMAPCOREHEADER, BITMAPINFOHEADER and V2-V5 headers; 1/4/8-bit palettes,
 *     16/24/32-bit BI_RGB, BI_BITFIELDS for 16/32-bit (fields scaled by v * 255 / max as
 *     Pillow's unpackers do); bottom-up and top-down. No RLE, no embedded JPEG/PNG.
 *     Palette indices past the palette read as black.
 *   - WebP: lossy and lossless still images; alpha dropped; animated files are refused.
 * Errors: GRAFT_EINVAL (NULL pointers, negative hint), GRAFT_EUNSUPPORTED (unknown or
 * unsupported format or feature), GRAFT_ECORRUPT (truncated or malformed data, with the
 * decoder's own message), GRAFT_ERANGE (larger than opts->max_pixels), GRAFT_ENOMEM.
 * `buf` is borrowed for the call. *out written only on success.
 */
int graft_image_decode(const void *buf, size_t len, const graft_decode_opts *opts,
                       graft_image *out);

/*
 * Reads the whole file at `path` and decodes it as graft_image_decode does. GRAFT_EIO (with
 * strerror) when the file cannot be opened or read; otherwise the errors of
 * graft_image_decode, whose messages are prefixed with the path.
 */
int graft_image_load_file(const char *path, const graft_decode_opts *opts, graft_image *out);

/* ---- geometry ---------------------------------------------------------------------------- */

/* Resampling filters, as Pillow's Image.Resampling. */
typedef enum graft_resample {
    GRAFT_RESAMPLE_NEAREST = 0,
    GRAFT_RESAMPLE_BILINEAR,
    GRAFT_RESAMPLE_BICUBIC
} graft_resample;

/*
 * Resizes src to width x height into a new image in *dst (previous content not freed; must
 * not be src), computing exactly what Pillow's Image.resize((width, height), filter) computes
 * for an RGB image (Pillow 7.0 and later, the version torchvision runs on): a separable
 * convolution whose support widens with the downscale factor (antialiased), coefficients
 * normalised per output pixel and rounded to 22-bit fixed point, horizontal pass first over
 * only the rows the vertical pass needs, results rounded and clipped to 0..255; an axis whose
 * size does not change is not filtered. NEAREST is Pillow's centre-sampling affine scale.
 * Bit-exact with Pillow (see tests/pipeline/check_image.c).
 * Errors: GRAFT_EINVAL (NULL, empty src, size < 1, unknown filter), GRAFT_ERANGE (size too
 * large to address), GRAFT_ENOMEM. *dst written only on success.
 */
int graft_image_resize(graft_image *dst, const graft_image *src, int width, int height,
                       graft_resample filter);

/*
 * The size torchvision's Resize(size) gives an image whose shorter side becomes `size`
 * (torchvision 0.14 _compute_resized_output_size without max_size): the longer side is
 * int(size * long / short), truncated. GRAFT_EINVAL for sizes < 1. *out_w, *out_h written
 * only on success.
 */
int graft_image_shorter_side_size(int width, int height, int size, int *out_w, int *out_h);

/*
 * torchvision's CenterCrop((height, width)) into a new image in *dst: the window starts at
 * round((H - height) / 2) with Python's round-half-to-even (so an odd margin of 3 puts 2
 * pixels above), and a crop larger than the image pads with zeros, (crop - size) / 2 before
 * and the rest after, as torchvision does. Errors as graft_image_resize.
 */
int graft_image_center_crop(graft_image *dst, const graft_image *src, int width, int height);

/*
 * torchvision's Resize(resize_short, filter) then CenterCrop((crop_h, crop_w)) in one call
 * (Resize(256) + CenterCrop(224) is the usual ImageNet evaluation transform). The same
 * pixels as graft_image_resize to graft_image_shorter_side_size() followed by
 * graft_image_center_crop, but only the cropped window is computed. Errors as
 * graft_image_resize.
 */
int graft_image_resize_center_crop(graft_image *dst, const graft_image *src, int resize_short,
                                   int crop_w, int crop_h, graft_resample filter);

/* ---- to float ---------------------------------------------------------------------------- */

typedef enum graft_image_layout {
    GRAFT_IMAGE_LAYOUT_HWC = 0, /* dst[(y * W + x) * 3 + c]: one image of an NHWC batch */
    GRAFT_IMAGE_LAYOUT_CHW      /* dst[(c * H + y) * W + x]: one image of an NCHW batch */
} graft_image_layout;

/*
 * torchvision's ToTensor() + Normalize(mean, std) in float32:
 *   dst = ((float)v / 255 - mean[c]) / std[c]
 * with the same float operations, so results are bit-identical to torchvision's. dst holds
 * img->height * img->width * 3 floats (caller-owned). mean and std are per channel (RGB);
 * for the shipped MobileNets, mean = std = 128/255 gives (v - 128) / 128 up to one ulp.
 * Errors: GRAFT_EINVAL (NULL, empty image, std[c] == 0 or not finite, unknown layout).
 */
int graft_image_to_float(const graft_image *img, const float mean[3], const float std[3],
                         graft_image_layout layout, float *dst);

#ifdef __cplusplus
}
#endif
#endif
