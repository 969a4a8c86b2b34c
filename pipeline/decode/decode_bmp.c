/*
 * pipeline/decode/decode_bmp.c: a bounds-checked reader for Windows/OS2 bitmaps -> RGB.
 *
 * Headers: BITMAPCOREHEADER (12 bytes), BITMAPINFOHEADER (40), its V2/V3 extensions (52, 56),
 * OS/2 2.x (64, uncompressed only), V4 (108) and V5 (124). Pixels: 1/4/8-bit palettes, 16-bit
 * (5-5-5 by default), 24-bit, 32-bit (BGRX by default), and BI_BITFIELDS / BI_ALPHABITFIELDS
 * masks for 16 and 32 bits. Bottom-up (positive height) and top-down (negative) rows.
 * Values follow Pillow's BMP plugin plus convert("RGB"): masked fields are scaled as
 * field * 255 / field_max (truncating, as Pillow's 5- and 6-bit unpackers do), alpha and X
 * bytes are dropped, and the pixel array starts at bfOffBits.
 *
 * Every offset and size is checked against the buffer in 64-bit arithmetic before it is used,
 * and the pixel limit is checked from the header before anything is allocated. It does not
 * decode RLE4/RLE8/RLE24, Huffman, or embedded JPEG/PNG (GRAFT_EUNSUPPORTED), nor apply ICC
 * profiles or colour-space fields of the V4/V5 headers.
 */
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "kernels.h"

enum {
    BMP_FILE_HEADER_BYTES = 14,
    BMP_RGB = 0,
    BMP_RLE8 = 1,
    BMP_RLE4 = 2,
    BMP_BITFIELDS = 3,
    BMP_JPEG = 4,
    BMP_PNG = 5,
    BMP_ALPHABITFIELDS = 6
};

static uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* One channel of a BI_BITFIELDS layout: value = ((pixel & mask) >> shift) * 255 / max. */
typedef struct bmp_field {
    uint32_t mask, max;
    int shift;
} bmp_field;

/* Fills *f from a mask; 0 when the mask is empty (channel reads 0) or contiguous, -1 when its
 * bits are not contiguous (no real writer emits that; Pillow refuses it too). */
static int field_from_mask(bmp_field *f, uint32_t mask) {
    f->mask = mask;
    f->shift = 0;
    f->max = 0;
    if (!mask) return 0;
    while (!((mask >> f->shift) & 1)) f->shift++;
    uint32_t v = mask >> f->shift;
    if (v & (v + 1)) return -1; /* v must be 2^n - 1 */
    f->max = v;
    return 0;
}

static inline uint8_t field_value(const bmp_field *f, uint32_t pixel) {
    if (!f->max) return 0;
    return (uint8_t)((uint64_t)((pixel & f->mask) >> f->shift) * 255 / f->max);
}

typedef struct bmp_info {
    int64_t width, height; /* height > 0 after parsing; top_down says the row order */
    int top_down;
    unsigned bpp;
    uint32_t compression;
    uint64_t pixels_at;   /* bfOffBits */
    uint64_t palette_at;  /* first palette entry */
    unsigned palette_entry_bytes; /* 3 (core header) or 4 */
    uint32_t colors;      /* palette entries present in the file and used */
    bmp_field fields[3];  /* r, g, b for 16/32-bit */
} bmp_info;

static int parse_header(const uint8_t *buf, size_t len, bmp_info *bi) {
    memset(bi, 0, sizeof *bi);
    if (len < BMP_FILE_HEADER_BYTES + 4)
        return graft__fail(GRAFT_ECORRUPT, "bmp: truncated: %zu bytes cannot hold the headers",
                           len);
    bi->pixels_at = rd_u32(buf + 10);
    const uint32_t hsize = rd_u32(buf + BMP_FILE_HEADER_BYTES);
    const uint8_t *h = buf + BMP_FILE_HEADER_BYTES;
    switch (hsize) {
    case 12: case 40: case 52: case 56: case 64: case 108: case 124: break;
    default:
        return graft__fail(GRAFT_ECORRUPT, "bmp: unknown info header size %u", hsize);
    }
    if ((uint64_t)BMP_FILE_HEADER_BYTES + hsize > len)
        return graft__fail(GRAFT_ECORRUPT, "bmp: truncated: the %u-byte info header ends past "
                           "the %zu bytes of the file", hsize, len);
    uint64_t after_header = BMP_FILE_HEADER_BYTES + (uint64_t)hsize;
    uint32_t clr_used = 0;
    if (hsize == 12) {
        /* OS/2 1.x: unsigned 16-bit sizes, always bottom-up, 3-byte palette entries. */
        bi->width = rd_u16(h + 4);
        bi->height = rd_u16(h + 6);
        bi->bpp = rd_u16(h + 10);
        bi->compression = BMP_RGB;
        bi->palette_entry_bytes = 3;
    } else {
        bi->width = (int32_t)rd_u32(h + 4);
        bi->height = (int32_t)rd_u32(h + 8);
        bi->bpp = rd_u16(h + 14);
        bi->compression = rd_u32(h + 16);
        clr_used = rd_u32(h + 32);
        bi->palette_entry_bytes = 4;
    }
    if (bi->height < 0) {
        bi->top_down = 1;
        bi->height = -bi->height; /* int64: INT32_MIN negates safely */
    }

    switch (bi->compression) {
    case BMP_RGB: break;
    case BMP_BITFIELDS:
    case BMP_ALPHABITFIELDS:
        if (hsize == 64)
            return graft__fail(GRAFT_EUNSUPPORTED, "bmp: OS/2 Huffman-compressed bitmaps are "
                               "not supported");
        if (bi->bpp != 16 && bi->bpp != 32)
            return graft__fail(GRAFT_ECORRUPT, "bmp: bit fields with %u bits per pixel",
                               bi->bpp);
        break;
    case BMP_RLE8:
    case BMP_RLE4:
        return graft__fail(GRAFT_EUNSUPPORTED, "bmp: RLE-compressed bitmaps are not supported");
    case BMP_JPEG:
    case BMP_PNG:
        return graft__fail(GRAFT_EUNSUPPORTED, "bmp: bitmaps holding an embedded %s are not "
                           "supported", bi->compression == BMP_JPEG ? "JPEG" : "PNG");
    default:
        return graft__fail(GRAFT_ECORRUPT, "bmp: unknown compression %u", bi->compression);
    }
    switch (bi->bpp) {
    case 1: case 4: case 8: case 16: case 24: case 32: break;
    default:
        return graft__fail(GRAFT_ECORRUPT, "bmp: %u bits per pixel is not a bitmap depth",
                           bi->bpp);
    }

    /* Channel masks: from the header (52 bytes and up), after a 40-byte header, or the
     * defaults of BI_RGB. */
    uint32_t masks[3];
    if (bi->compression == BMP_BITFIELDS || bi->compression == BMP_ALPHABITFIELDS) {
        if (hsize >= 52) {
            for (int c = 0; c < 3; c++) masks[c] = rd_u32(h + 40 + 4 * c);
        } else {
            uint64_t n = bi->compression == BMP_ALPHABITFIELDS ? 16 : 12;
            if (after_header + n > len)
                return graft__fail(GRAFT_ECORRUPT, "bmp: truncated: the bit field masks end "
                                   "past the %zu bytes of the file", len);
            for (int c = 0; c < 3; c++) masks[c] = rd_u32(buf + after_header + 4 * c);
            after_header += n;
        }
    } else if (bi->bpp == 16) {
        masks[0] = 0x7c00, masks[1] = 0x03e0, masks[2] = 0x001f;
    } else {
        masks[0] = 0xff0000, masks[1] = 0x00ff00, masks[2] = 0x0000ff;
    }
    if (bi->bpp == 16 || bi->bpp == 32) {
        uint32_t limit = bi->bpp == 16 ? 0xffffu : 0xffffffffu;
        for (int c = 0; c < 3; c++)
            if ((masks[c] & ~limit) || field_from_mask(&bi->fields[c], masks[c]))
                return graft__fail(GRAFT_EUNSUPPORTED, "bmp: bit field mask 0x%08x is not a "
                                   "contiguous %u-bit field", masks[c], bi->bpp);
    }

    if (bi->bpp <= 8) {
        uint32_t max_colors = 1u << bi->bpp;
        bi->colors = clr_used == 0 || clr_used > max_colors ? max_colors : clr_used;
        bi->palette_at = after_header;
        uint64_t end = bi->palette_at + (uint64_t)bi->colors * bi->palette_entry_bytes;
        if (end > len) {
            /* A palette cut short by the end of the file keeps the entries that are there;
             * indices past them read as black. */
            uint64_t have = (len - bi->palette_at) / bi->palette_entry_bytes;
            if (have == 0)
                return graft__fail(GRAFT_ECORRUPT, "bmp: truncated: no room for the palette");
            bi->colors = (uint32_t)have;
        }
    }
    return GRAFT_OK;
}

/* Converts one stored row to RGB. `src` holds at least the row's bytes (checked). */
static void convert_row(uint8_t *restrict dst, const uint8_t *restrict src, int width,
                        const bmp_info *bi, const uint8_t (*palette)[3]) {
    switch (bi->bpp) {
    case 1:
    case 4:
    case 8: {
        const unsigned per_byte = 8 / bi->bpp, mask = (1u << bi->bpp) - 1;
        for (int x = 0; x < width; x++) {
            unsigned byte = src[x / per_byte];
            unsigned shift = (per_byte - 1 - x % per_byte) * bi->bpp; /* MSB first */
            unsigned idx = (byte >> shift) & mask;
            /* Entries past the palette were zeroed when it was read: black. */
            memcpy(dst + 3 * x, palette[idx], 3);
        }
        break;
    }
    case 24:
        for (int x = 0; x < width; x++) {
            dst[3 * x + 0] = src[3 * x + 2];
            dst[3 * x + 1] = src[3 * x + 1];
            dst[3 * x + 2] = src[3 * x + 0];
        }
        break;
    case 16:
    case 32:
        for (int x = 0; x < width; x++) {
            uint32_t px = bi->bpp == 16 ? rd_u16(src + 2 * x) : rd_u32(src + 4 * x);
            for (int c = 0; c < 3; c++) dst[3 * x + c] = field_value(&bi->fields[c], px);
        }
        break;
    }
}

int graft__decode_bmp(const uint8_t *buf, size_t len, size_t max_pixels, graft_image *out) {
    bmp_info bi;
    int err = parse_header(buf, len, &bi);
    if (err) return err;
    err = graft__image_check_size("bmp", bi.width, bi.height, max_pixels);
    if (err) return err;

    /* Rows are padded to 4 bytes. width < 2^31 and bpp <= 32, so this cannot overflow. */
    const uint64_t stride = ((uint64_t)bi.width * bi.bpp + 31) / 32 * 4;
    const uint64_t row_bytes = ((uint64_t)bi.width * bi.bpp + 7) / 8;
    /* The last row needs only its pixels, not its padding: some writers drop the final pad,
     * and Pillow reads such files. */
    if (bi.pixels_at > len || stride * (uint64_t)(bi.height - 1) + row_bytes > len - bi.pixels_at)
        return graft__fail(GRAFT_ECORRUPT, "bmp: truncated: %lld x %lld pixels at %u bits need "
                           "%llu bytes from offset %llu, the file has %zu",
                           (long long)bi.width, (long long)bi.height, bi.bpp,
                           (unsigned long long)(stride * (uint64_t)bi.height),
                           (unsigned long long)bi.pixels_at, len);

    uint8_t palette[256][3];
    memset(palette, 0, sizeof palette);
    for (uint32_t i = 0; i < bi.colors; i++) {
        const uint8_t *e = buf + bi.palette_at + (uint64_t)i * bi.palette_entry_bytes;
        palette[i][0] = e[2], palette[i][1] = e[1], palette[i][2] = e[0];
    }

    graft_image img = {0};
    err = graft_image_alloc(&img, (int)bi.width, (int)bi.height);
    if (err) return err;
    const uint8_t *pixels = buf + bi.pixels_at;
    for (int y = 0; y < img.height; y++) {
        int64_t stored = bi.top_down ? y : img.height - 1 - y;
        convert_row(img.data + (size_t)y * img.width * 3, pixels + (uint64_t)stored * stride,
                    img.width, &bi, (const uint8_t (*)[3])palette);
    }
    *out = img;
    return GRAFT_OK;
}
