/*
 * pipeline/decode/decode_gif.c: GIF -> RGB, the first frame only, with giflib's low-level
 * record API reading from memory through a callback.
 *
 * The result is what Pillow 9.4's Image.open(gif).convert("RGB") gives for frame 0:
 *   - the canvas is the logical screen, grown to hold the frame when the frame reaches past
 *     it (Pillow grows it the same way);
 *   - pixels outside the frame are palette index 0, or the frame's transparent index when its
 *     graphic control extension has one (Pillow fills its "P" image with that index);
 *   - inside the frame every index is looked up, the transparent one included (the first
 *     frame is not composited over anything, so transparency only decides the fill);
 *   - the frame's local colour map wins over the global one; an index past the colour map's
 *     2^bits entries (or any index without a colour map) reads as gray (i, i, i), which is
 *     what Pillow's palette holds beyond the entries the file set;
 *   - interlaced frames are put back in row order.
 * The pixel limit is checked on the logical screen as soon as it is read and again on the
 * grown canvas before anything is allocated.
 *
 * Truncation: Pillow refuses a frame whose pixel data ends early and accepts one that is
 * complete but lacks the final empty sub-block or the trailer; giflib refuses the first
 * case too, and the second is accepted here by letting the read callback answer the one
 * missing terminator byte with a zero while the last row is decoded (see gif_read).
 *
 * It does not decode later frames, apply disposal, or read comments and loop counts. Bytes
 * between blocks that are no record (which Pillow skips) are refused by giflib as corrupt.
 */
#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

#include "codecs.h"
#include "kernels.h"

typedef struct gif_reader {
    const uint8_t *p;
    size_t len, pos;
    int pad_terminator; /* 1 while the last row is decoded: a missing terminator reads as 0 */
} gif_reader;

/*
 * giflib's input callback: copies up to n bytes. A short count makes giflib fail with
 * D_GIF_ERR_READ_FAILED, which is how truncation surfaces. The one exception is a single
 * byte asked for at the very end while the last row is being finished: that is the block
 * terminator giflib skips to after the last pixel, and it is answered with a zero once.
 */
static int gif_read(GifFileType *gif, GifByteType *buf, int n) {
    gif_reader *r = gif->UserData;
    if (n <= 0) return 0;
    size_t avail = r->len - r->pos;
    if (avail == 0 && n == 1 && r->pad_terminator) {
        r->pad_terminator = 0;
        buf[0] = 0;
        return 1;
    }
    size_t k = (size_t)n < avail ? (size_t)n : avail;
    memcpy(buf, r->p + r->pos, k);
    r->pos += k;
    return (int)k;
}

static int gif_error(int code) {
    switch (code) {
    case D_GIF_ERR_NOT_ENOUGH_MEM: return GRAFT_ENOMEM;
    default: return GRAFT_ECORRUPT;
    }
}

static const char *gif_message(int code) {
    const char *s = GifErrorString(code);
    return s ? s : "unknown giflib error";
}

static const char *gif_cause(int code, const gif_reader *r) {
    return (code == D_GIF_ERR_READ_FAILED || code == D_GIF_ERR_EOF_TOO_SOON) && r->pos >= r->len
               ? "truncated: "
               : "";
}

int graft__decode_gif(const uint8_t *buf, size_t len, size_t max_pixels, graft_image *out) {
    gif_reader rd = {buf, len, 0, 0};
    int gerr = 0, err = GRAFT_OK;
    uint8_t *pixels = NULL, *line = NULL;
    GifFileType *gif = DGifOpen(&rd, gif_read, &gerr);
    if (!gif)
        return graft__fail(gif_error(gerr), "gif: %s%s", gif_cause(gerr, &rd),
                           gif_message(gerr));

    err = graft__image_check_size("gif", gif->SWidth, gif->SHeight, max_pixels);
    /* A zero-sized screen is legal when the frame gives the canvas its size (Pillow grows
     * it); only the limit matters before the frame is known. */
    if (err == GRAFT_ECORRUPT) err = GRAFT_OK;
    if (err) goto done;

    /* Records up to the first image: graphic control extensions give the transparent index
     * (the last one that sets it wins, as in Pillow); every other extension is skipped. */
    int transparent = -1;
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) goto gif_fail;
        if (type == IMAGE_DESC_RECORD_TYPE) break;
        if (type == TERMINATE_RECORD_TYPE) {
            err = graft__fail(GRAFT_ECORRUPT, "gif: the file holds no image");
            goto done;
        }
        if (type != EXTENSION_RECORD_TYPE) {
            err = graft__fail(GRAFT_ECORRUPT, "gif: unexpected record");
            goto done;
        }
        int code;
        GifByteType *ext;
        if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) goto gif_fail;
        /* ext points at a length byte followed by that many bytes. */
        if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1))
            transparent = ext[4];
        while (ext) {
            if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) goto gif_fail;
        }
    }
    if (DGifGetImageDesc(gif) == GIF_ERROR) goto gif_fail;

    const GifImageDesc *d = &gif->Image;
    const int64_t fx1 = (int64_t)d->Left + d->Width, fy1 = (int64_t)d->Top + d->Height;
    const int64_t cw = fx1 > gif->SWidth ? fx1 : gif->SWidth;
    const int64_t chh = fy1 > gif->SHeight ? fy1 : gif->SHeight;
    err = graft__image_check_size("gif", cw, chh, max_pixels);
    if (err) goto done;
    const int W = (int)cw, H = (int)chh;

    /* 256 colours: the map's entries, gray beyond them. */
    uint8_t lut[256][3];
    for (int i = 0; i < 256; i++) lut[i][0] = lut[i][1] = lut[i][2] = (uint8_t)i;
    const ColorMapObject *map = d->ColorMap ? d->ColorMap : gif->SColorMap;
    if (map && map->Colors)
        for (int i = 0; i < map->ColorCount && i < 256; i++) {
            lut[i][0] = map->Colors[i].Red;
            lut[i][1] = map->Colors[i].Green;
            lut[i][2] = map->Colors[i].Blue;
        }

    const size_t row_bytes = (size_t)W * 3;
    pixels = malloc(row_bytes * (size_t)H);
    line = malloc(d->Width ? d->Width : 1);
    if (!pixels || !line) {
        err = graft__fail(GRAFT_ENOMEM, "gif: cannot allocate %d x %d pixels", W, H);
        goto done;
    }
    const uint8_t *fill = lut[transparent >= 0 ? transparent : 0];
    for (size_t i = 0; i < (size_t)W * H; i++) memcpy(pixels + 3 * i, fill, 3);

    /* Rows arrive in stream order; interlaced frames send rows 0, 8, 16.. then 4, 12.., then
     * 2, 6.., then the odd ones. */
    static const int pass_start[4] = {0, 4, 2, 1}, pass_step[4] = {8, 8, 4, 2};
    const int fw = d->Width, fh = d->Height, interlaced = d->Interlace;
    int pass = 0, y = 0;
    for (int n = 0; n < fh && fw > 0; n++) {
        if (interlaced) {
            while (y >= fh) {
                pass++;
                y = pass_start[pass];
            }
        } else {
            y = n;
        }
        rd.pad_terminator = n == fh - 1;
        if (DGifGetLine(gif, line, fw) == GIF_ERROR) goto gif_fail;
        uint8_t *dst = pixels + ((size_t)(d->Top + y) * W + d->Left) * 3;
        for (int x = 0; x < fw; x++) memcpy(dst + 3 * x, lut[line[x]], 3);
        if (interlaced) y += pass_step[pass];
    }
    out->width = W;
    out->height = H;
    out->channels = 3;
    out->data = pixels;
    pixels = NULL;
    goto done;

gif_fail:
    err = graft__fail(gif_error(gif->Error), "gif: %s%s", gif_cause(gif->Error, &rd),
                      gif_message(gif->Error));
done:
    free(line);
    free(pixels);
    DGifCloseFile(gif, &gerr);
    return err;
}
