/*
 * image.h: the decode stage's public API: bytes -> 8-bit RGB image -> resized, cropped ->
 * normalised float tensor, computing what torchvision's PIL pipeline computes
 * (Image.open(f).convert("RGB"), Resize, CenterCrop, ToTensor, Normalize).
 *
 * Formats: JPEG (libjpeg-turbo), PNG (libspng), BMP (own parser), WebP (libwebp), GIF (giflib,
 * first frame). The format comes from the first bytes, never from a file name. TIFF and the
 * rest are refused with GRAFT_EUNSUPPORTED.
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
    GRAFT_IMAGE_FORMAT_WEBP,
    GRAFT_IMAGE_FORMAT_GIF
} graft_image_format;

/* The format the first bytes announce; UNKNOWN for anything else (or too few bytes). */
graft_image_format graft_image_sniff(const void *buf, size_t len);
/* "jpeg", "png", "bmp", "webp", "gif", "unknown". */
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
 *   - PNG: every colour type and bit depth; 16-bit samples keep their high byte, except
 *     16-bit grayscale, which Pillow opens in its 32-bit "I" mode and clips at 255 (so a
 *     sample v becomes min(v, 255), as there); alpha is dropped without compositing
 *     (Pillow's convert("RGB") does the same); palette entries are used as they are (tRNS
 *     ignored); gamma, sRGB and ICC chunks are not applied.
 *   - BMP: BITMAPCOREHEADER, BITMAPINFOHEADER and V2-V5 headers; 1/4/8-bit palettes,
 *     16/24/32-bit BI_RGB, BI_BITFIELDS for 16/32-bit (fields scaled by v * 255 / max as
 *     Pillow's unpackers do); bottom-up and top-down. No RLE, no embedded JPEG/PNG.
 *     Palette indices past the palette read as black.
 *   - WebP: lossy and lossless still images; alpha dropped; animated files are refused.
 *   - GIF: the first frame as Pillow 9.4 loads it: the canvas is the logical screen (grown
 *     when the frame reaches past it), pixels outside the frame take palette index 0 or the
 *     frame's transparent index, the local colour map wins over the global one, indices past
 *     the colour map read as gray (i, i, i), interlaced rows are reordered. The pixel limit
 *     is checked on the screen and on the grown canvas before allocating. Pixel data that
 *     ends early is refused; a missing trailer or final empty sub-block is not (as Pillow).
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

/*
 * torchvision's F.resized_crop(img, top=y, left=x, height=h, width=w, size=(height, width),
 * filter): the box (x, y, w, h) of src, which must lie inside it, resized to width x height
 * into a new image in *dst (what RandomResizedCrop does once it has drawn a box). Bit-exact
 * with Pillow's crop then resize. Errors as graft_image_resize, and GRAFT_EINVAL for a box
 * that is empty or not inside src.
 */
int graft_image_resized_crop(graft_image *dst, const graft_image *src, int x, int y, int w,
                             int h, int width, int height, graft_resample filter);

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

/* ---- the whole transform ----------------------------------------------------------------- */

/*
 * Everything between an image file's bytes and one network input: decode, resize, crop,
 * augment, normalise. `graft extract`, `graft classify` and `graft finetune` build one from a
 * preset or their flags (pipeline/cli/transform_flags.c) and share it across threads (it is
 * read-only). Without dct_scaling the tensor equals torchvision's on a PIL image bit for bit:
 * Image.open(f).convert("RGB"), Resize(resize) + CenterCrop((height, width)) (or
 * Resize((height, width)) when resize is 0, or RandomResizedCrop), RandomHorizontalFlip,
 * ToTensor(), Normalize(mean, std).
 */
typedef struct graft_transform {
    int width, height;          /* network input (crop) size, 1..32768 */
    int resize;                 /* shorter side before the center crop (a crop larger than the
                                   resized image pads with black, as torchvision); 0 stretches
                                   the whole image to width x height */
    graft_resample filter;      /* torchvision's default is BILINEAR */
    float mean[3], std[3];      /* per RGB channel (R, G, B even when bgr is set), on the 0-1
                                   scale (torchvision Normalize) unless scale255 is set; std
                                   non-zero */
    int scale255;               /* 1: normalise v (0..255) instead of v / 255 (Caffe) */
    int bgr;                    /* 1: emit channels as B, G, R (Caffe) */
    /*
     * 1: let JPEG decode at 1/2, 1/4 or 1/8 scale in the DCT domain when the image is at
     * least twice the size the resize needs: the decoded image still covers the resized size
     * (resize + crop), the output size (stretch) or the output's longer side on both axes
     * (random crop, whose box is then drawn on the scaled image). Much faster on large photos;
     * pixels then differ slightly from torchvision's (which always decodes at full size).
     * Other formats ignore it.
     */
    int dct_scaling;
    /*
     * Training-time augmentation (fine-tuning): torchvision 0.14's RandomResizedCrop(size,
     * scale=(scale_min, scale_max), ratio=(ratio_min, ratio_max)) replaces resize + center
     * crop when random_crop is 1 (ten attempts with a uniform area fraction and a log-uniform
     * ratio, then a center crop with the ratio clamped); hflip 1 mirrors the output with
     * probability 1/2, with or without random_crop. Both draw from the seed passed to
     * graft_transform_apply through graft's own generator (SplitMix64; see
     * pipeline/decode/transform.c for the exact draws), so a (seed, image) pair gives the
     * same tensor on every machine, but not the boxes torch's generator would draw.
     */
    int random_crop;
    float scale_min, scale_max, ratio_min, ratio_max; /* positive, min <= max */
    int hflip;
    /* The pixel limit (max_pixels; 0 = GRAFT_IMAGE_MAX_PIXELS_DEFAULT). min_width and
     * min_height are ignored: apply sets the DCT hint itself. */
    graft_decode_opts decode;
} graft_transform;

/*
 * Fills *out with a named preset at input size `size` (0 = 224; inception uses 299 for 0),
 * filter bilinear, no augmentation (but RandomResizedCrop's defaults scale 0.08..1, ratio
 * 3/4..4/3 filled in, so that setting random_crop is enough), no DCT scaling:
 *   "imagenet"  torchvision: Resize(size * 256 / 224), CenterCrop(size), mean
 *               0.485,0.456,0.406, std 0.229,0.224,0.225
 *   "inception" [-1, 1]: mean = std = 0.5, Resize(size * 342 / 299)
 *   "caffe"     BGR, 0..255 minus the ImageNet mean 103.939,116.779,123.68 (B,G,R; stored in
 *               mean[] as R,G,B), std 1, Resize(size * 256 / 224)
 *   "stretch"   whole image resized to size x size, mean = std = 0.5 (the TFLite MobileNets)
 * GRAFT_EINVAL for an unknown name (the message lists the known ones) or a size outside
 * 0..32768. Any thread.
 */
int graft_transform_preset(const char *name, int size, graft_transform *out);

/*
 * A canonical one-line description of everything that changes the output tensor, e.g.
 * "resize=256 crop=224x224 filter=bilinear mean=0.485000014,0.456,0.405999988
 * std=0.229000002,0.224000007,0.224999994 scale=1/255 order=rgb hflip=0 dct=0
 * max_pixels=89478485" (the first word is "resize=stretch" without resize, and
 * "random_crop=scale:A,B:ratio:C,D" with random_crop). Two transforms with equal descriptions
 * give equal tensors, and any field that matters changes it (the cache compares them).
 * Floats print with %.9g. GRAFT_EINVAL for a transform apply would refuse, GRAFT_ERANGE if
 * cap is too small (buf then holds nothing useful). Any thread.
 */
int graft_transform_describe(const graft_transform *t, char *buf, size_t cap);

/*
 * Decodes `buf` (len bytes, borrowed) and writes one network input, t->height * t->width * 3
 * floats, into dst (caller-owned) in `layout`: HWC is dst[(y * W + x) * 3 + c], CHW
 * dst[(c * H + y) * W + x]. `seed` drives the augmentation (ignored when there is none).
 * JPEG decodes only the iMCU rows and columns around the pixels the resize reads (still
 * entropy-decoding to the end, so truncation is refused as graft_image_decode refuses it),
 * only the output window is resized, and each resized row is normalised straight into dst.
 * Memory comes from a per-thread scratch that grows to the largest image seen and is freed
 * when the thread exits, so a worker in steady state does not allocate for JPEG.
 * Thread-safe; meant for worker threads. Errors: those of graft_image_decode (the message
 * names the reason, not the file: the caller knows the name), GRAFT_EINVAL (a bad transform,
 * NULL pointers, unknown layout), GRAFT_ERANGE, GRAFT_ENOMEM. dst may be partly written on
 * error.
 */
int graft_transform_apply(const graft_transform *t, const void *buf, size_t len, uint64_t seed,
                          graft_image_layout layout, float *dst);

/*
 * The augmentation graft_transform_apply draws for `seed` on a width x height decoded image:
 * box = {left, top, w, h} of the region RandomResizedCrop resizes (the whole image without
 * random_crop) and *flip (may be NULL) 1 when the output is mirrored. For logs and tests;
 * apply computes the same. GRAFT_EINVAL for an invalid transform or size. Any thread.
 */
int graft_transform_crop_box(const graft_transform *t, int width, int height, uint64_t seed,
                             int box[4], int *flip);

#ifdef __cplusplus
}
#endif
#endif
