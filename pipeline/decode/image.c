/*
 * pipeline/decode/image.c: the front of the decode stage: image ownership, format sniffing,
 * the dispatch to the format decoders (decode_jpeg.c, decode_png.c, decode_bmp.c,
 * decode_webp.c, decode_gif.c), whole-file loading, and the conversion to normalised float.
 *
 * Sits between the archive reader (bytes) and the embedder (float tensors); resizing and
 * cropping are in resize.c. It deliberately knows nothing of libuv: decode_job.c (later)
 * wraps these calls in work requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codecs.h"
#include "kernels.h"

void graft_image_free(graft_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

int graft_image_alloc(graft_image *img, int width, int height) {
    if (!img) return graft__fail(GRAFT_EINVAL, "image: NULL image");
    if (width < 1 || height < 1)
        return graft__fail(GRAFT_EINVAL, "image: size %d x %d is empty or negative", width,
                           height);
    if ((int64_t)width * height > INT_MAX)
        return graft__fail(GRAFT_ERANGE, "image: %d x %d is more than the %d pixels an image "
                           "may have", width, height, INT_MAX);
    size_t bytes = (size_t)width * (size_t)height * 3;
    uint8_t *data = malloc(bytes);
    if (!data)
        return graft__fail(GRAFT_ENOMEM, "image: cannot allocate %zu bytes for %d x %d RGB",
                           bytes, width, height);
    img->width = width;
    img->height = height;
    img->channels = 3;
    img->data = data;
    return GRAFT_OK;
}

int graft__image_check_size(const char *what, int64_t width, int64_t height, size_t max_pixels) {
    if (width < 1 || height < 1)
        return graft__fail(GRAFT_ECORRUPT, "%s: image size %lld x %lld is empty or negative",
                           what, (long long)width, (long long)height);
    /* The public struct holds ints; the pixel product is checked in 64 bits first. */
    if (width > INT_MAX || height > INT_MAX ||
        (uint64_t)width > UINT64_MAX / (uint64_t)height ||
        (uint64_t)width * (uint64_t)height > (uint64_t)max_pixels)
        return graft__fail(GRAFT_ERANGE,
                           "%s: image of %lld x %lld pixels exceeds the limit of %zu pixels "
                           "(graft_decode_opts.max_pixels)",
                           what, (long long)width, (long long)height, max_pixels);
    return GRAFT_OK;
}

/* ---- sniffing ---------------------------------------------------------------------------- */

static int starts_with(const uint8_t *p, size_t len, const void *sig, size_t n) {
    return len >= n && memcmp(p, sig, n) == 0;
}

graft_image_format graft_image_sniff(const void *buf, size_t len) {
    const uint8_t *p = buf;
    if (!p) return GRAFT_IMAGE_FORMAT_UNKNOWN;
    if (starts_with(p, len, "\xff\xd8\xff", 3)) return GRAFT_IMAGE_FORMAT_JPEG;
    if (starts_with(p, len, "\x89PNG\r\n\x1a\n", 8)) return GRAFT_IMAGE_FORMAT_PNG;
    /* Two bytes only, as Pillow's BMP plugin accepts; the header checks that follow weed out
     * the text files that happen to start with "BM". */
    if (starts_with(p, len, "BM", 2)) return GRAFT_IMAGE_FORMAT_BMP;
    if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return GRAFT_IMAGE_FORMAT_WEBP;
    /* The two versions Pillow's GIF plugin accepts. */
    if (starts_with(p, len, "GIF87a", 6) || starts_with(p, len, "GIF89a", 6))
        return GRAFT_IMAGE_FORMAT_GIF;
    return GRAFT_IMAGE_FORMAT_UNKNOWN;
}

const char *graft_image_format_name(graft_image_format fmt) {
    switch (fmt) {
    case GRAFT_IMAGE_FORMAT_JPEG: return "jpeg";
    case GRAFT_IMAGE_FORMAT_PNG: return "png";
    case GRAFT_IMAGE_FORMAT_BMP: return "bmp";
    case GRAFT_IMAGE_FORMAT_WEBP: return "webp";
    case GRAFT_IMAGE_FORMAT_GIF: return "gif";
    case GRAFT_IMAGE_FORMAT_UNKNOWN: break;
    }
    return "unknown";
}

/* Names formats we recognise but do not decode, so the message says what the file is. */
static const char *unsupported_format_name(const uint8_t *p, size_t len) {
    if (starts_with(p, len, "II*\0", 4) || starts_with(p, len, "MM\0*", 4)) return "TIFF";
    if (len >= 12 && memcmp(p + 4, "ftyp", 4) == 0) return "HEIF/AVIF/MP4 (ISO media)";
    if (starts_with(p, len, "\0\0\0\x0cjP  ", 8) || starts_with(p, len, "\xff\x4f\xff\x51", 4))
        return "JPEG 2000";
    if (starts_with(p, len, "\xff\x0a", 2)) return "JPEG XL";
    if (starts_with(p, len, "\0\0\1\0", 4)) return "ICO";
    if (starts_with(p, len, "8BPS", 4)) return "Photoshop PSD";
    if (starts_with(p, len, "RIFF", 4)) return "RIFF (not WebP)";
    if (len >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '7') return "PNM";
    if (starts_with(p, len, "%PDF", 4)) return "PDF";
    if (starts_with(p, len, "<", 1)) return "HTML/XML/SVG text";
    return NULL;
}

int graft_image_decode(const void *buf, size_t len, const graft_decode_opts *opts,
                       graft_image *out) {
    if (!out) return graft__fail(GRAFT_EINVAL, "image: NULL output image");
    if (!buf && len) return graft__fail(GRAFT_EINVAL, "image: NULL buffer of %zu bytes", len);
    size_t max_pixels = GRAFT_IMAGE_MAX_PIXELS_DEFAULT;
    int min_w = 0, min_h = 0;
    if (opts) {
        if (opts->max_pixels) max_pixels = opts->max_pixels;
        if (opts->min_width < 0 || opts->min_height < 0)
            return graft__fail(GRAFT_EINVAL, "image: negative size hint %d x %d",
                               opts->min_width, opts->min_height);
        min_w = opts->min_width;
        min_h = opts->min_height;
    }
    const uint8_t *p = buf;
    if (len < 8)
        return graft__fail(GRAFT_ECORRUPT, "image: %zu bytes are too few for an image file",
                           len);
    switch (graft_image_sniff(p, len)) {
    case GRAFT_IMAGE_FORMAT_JPEG: return graft__decode_jpeg(p, len, max_pixels, min_w, min_h, out);
    case GRAFT_IMAGE_FORMAT_PNG: return graft__decode_png(p, len, max_pixels, out);
    case GRAFT_IMAGE_FORMAT_BMP: return graft__decode_bmp(p, len, max_pixels, out);
    case GRAFT_IMAGE_FORMAT_WEBP: return graft__decode_webp(p, len, max_pixels, out);
    case GRAFT_IMAGE_FORMAT_GIF: return graft__decode_gif(p, len, max_pixels, out);
    case GRAFT_IMAGE_FORMAT_UNKNOWN: break;
    }
    const char *name = unsupported_format_name(p, len);
    if (name)
        return graft__fail(GRAFT_EUNSUPPORTED, "image: %s files are not supported", name);
    return graft__fail(GRAFT_EUNSUPPORTED,
                       "image: unrecognised format (first bytes %02x %02x %02x %02x %02x %02x "
                       "%02x %02x)",
                       p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
}

/* ---- files ------------------------------------------------------------------------------- */

/* Larger files are refused rather than read: no image we accept needs 1 GiB of input. */
#define IMAGE_FILE_MAX_BYTES ((size_t)1 << 30)

/* Reads all of fd into a new malloc'd buffer; handles pipes as well as regular files. */
static int read_all(int fd, const char *path, uint8_t **out, size_t *out_len) {
    struct stat st;
    size_t cap = 1 << 16;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > IMAGE_FILE_MAX_BYTES)
            return graft__fail(GRAFT_ERANGE, "image: %s: %lld bytes is larger than the %zu "
                               "bytes an image file may have", path, (long long)st.st_size,
                               IMAGE_FILE_MAX_BYTES);
        cap = (size_t)st.st_size + 1; /* +1: a file that grew shows up as a second read */
    }
    uint8_t *buf = malloc(cap);
    if (!buf) return graft__fail(GRAFT_ENOMEM, "image: %s: cannot allocate %zu bytes", path, cap);
    size_t len = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= IMAGE_FILE_MAX_BYTES) {
                free(buf);
                return graft__fail(GRAFT_ERANGE, "image: %s: larger than the %zu bytes an "
                                   "image file may have", path, IMAGE_FILE_MAX_BYTES);
            }
            size_t ncap = cap * 2 > IMAGE_FILE_MAX_BYTES ? IMAGE_FILE_MAX_BYTES : cap * 2;
            uint8_t *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                free(buf);
                return graft__fail(GRAFT_ENOMEM, "image: %s: cannot allocate %zu bytes", path,
                                   ncap);
            }
            buf = nbuf;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            return graft__fail(GRAFT_EIO, "image: %s: %s", path, strerror(e));
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    *out = buf;
    *out_len = len;
    return GRAFT_OK;
}

int graft_image_load_file(const char *path, const graft_decode_opts *opts, graft_image *out) {
    if (!path || !out) return graft__fail(GRAFT_EINVAL, "image: NULL path or output image");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return graft__fail(GRAFT_EIO, "image: %s: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t len = 0;
    int err = read_all(fd, path, &buf, &len);
    close(fd);
    if (err) return err;
    err = graft_image_decode(buf, len, opts, out);
    free(buf);
    if (err) {
        /* Prefix the decoder's message with the file, keeping as much of it as fits. */
        char detail[512];
        snprintf(detail, sizeof detail, "%s", graft_last_error());
        graft__fail(err, "%s: %s", path, detail);
    }
    return err;
}

/* ---- to float ---------------------------------------------------------------------------- */

int graft_image_to_float(const graft_image *img, const float mean[3], const float std[3],
                         graft_image_layout layout, float *dst) {
    if (!img || !img->data || !mean || !std || !dst)
        return graft__fail(GRAFT_EINVAL, "image_to_float: NULL or empty argument");
    if (img->width < 1 || img->height < 1 || img->channels != 3)
        return graft__fail(GRAFT_EINVAL, "image_to_float: image is %d x %d x %d, not RGB",
                           img->width, img->height, img->channels);
    if (layout != GRAFT_IMAGE_LAYOUT_HWC && layout != GRAFT_IMAGE_LAYOUT_CHW)
        return graft__fail(GRAFT_EINVAL, "image_to_float: unknown layout %d", (int)layout);
    for (int c = 0; c < 3; c++)
        if (!(std[c] != 0.0f) || !isfinite(std[c]) || !isfinite(mean[c]))
            return graft__fail(GRAFT_EINVAL, "image_to_float: channel %d has mean %g, std %g",
                               c, (double)mean[c], (double)std[c]);

    /* Each channel has only 256 possible outputs, so they are computed once, with exactly
     * torchvision's float32 operations: ToTensor divides by 255, Normalize subtracts the mean
     * and divides by the std. Dividing (not multiplying by reciprocals) is what keeps the
     * results bit-identical; with no multiplication there is nothing to contract into an FMA. */
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            float x = (float)v / 255.0f;
            lut[c][v] = (x - mean[c]) / std[c];
        }

    const size_t HW = (size_t)img->width * (size_t)img->height;
    const uint8_t *src = img->data;
    if (layout == GRAFT_IMAGE_LAYOUT_HWC) {
        for (size_t i = 0; i < HW; i++)
            for (int c = 0; c < 3; c++) dst[i * 3 + c] = lut[c][src[i * 3 + c]];
    } else {
        for (int c = 0; c < 3; c++) {
            float *plane = dst + (size_t)c * HW;
            for (size_t i = 0; i < HW; i++) plane[i] = lut[c][src[i * 3 + c]];
        }
    }
    return GRAFT_OK;
}
