/*
 * pipeline/decode/resample.h: the windowed resampler of resize.c, shared with transform.c.
 * Internal to libgraft.
 *
 * graft__resample_window computes any rectangle of an image resized with Pillow's
 * arithmetic (see resize.c) from a source given as rows in memory, using the resize
 * micro-kernels of graft_isa_current() (kernels/resize.h) and a caller-owned scratch buffer
 * that only grows, so a worker thread that keeps its scratch resizes without allocating.
 */
#ifndef GRAFT_DECODE_RESAMPLE_H
#define GRAFT_DECODE_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "graft/image.h"

/* A growable buffer owned by whoever holds it; zeroed is empty. */
typedef struct graft__scratch {
    void *p;
    size_t cap;
} graft__scratch;

/* Makes s->p hold at least `bytes` (64-byte aligned, contents not kept). GRAFT_ENOMEM. */
int graft__scratch_reserve(graft__scratch *s, size_t bytes);
void graft__scratch_free(graft__scratch *s);

/*
 * An RGB source of width x height pixels of which only a part may be in memory: `data` holds
 * pixel (x_off, y_off), rows are `stride` bytes apart, and `end` is one past the last byte
 * that may be read (SIMD kernels read a few bytes past a pixel when they exist). The rows
 * and columns graft__resample_span names must be there.
 */
typedef struct graft__rgb_view {
    const uint8_t *data;
    size_t stride;
    int width, height;
    int x_off, y_off;
    const uint8_t *end;
} graft__rgb_view;

/* Receives output row y (0-based in the window) of cw RGB pixels; the row is scratch. */
typedef void (*graft__row_fn)(void *ctx, int y, const uint8_t *row);

/*
 * The window [x0, x0 + cw) x [y0, y0 + ch) of `src` resized to out_w x out_h with `filter`,
 * bit-exact with Pillow's Image.resize (the window must lie inside the resized image). Each
 * output row goes to emit(ctx, y, row) in increasing y. Only the input rows and columns the
 * window needs are read: graft__resample_span tells which, before anything is decoded.
 * Errors: GRAFT_ENOMEM (scratch), GRAFT_ERANGE (filter tables too large), an ISA error.
 */
int graft__resample_window(const graft__rgb_view *src, int out_w, int out_h, int x0, int y0,
                           int cw, int ch, graft_resample filter, graft__scratch *scratch,
                           graft__row_fn emit, void *ctx);

/*
 * The input span [*lo, *hi) one axis of such a window reads: output indices
 * [first, first + count) of an axis resized from in_size to out_size.
 */
void graft__resample_span(int in_size, int out_size, int first, int count,
                          graft_resample filter, int *lo, int *hi);

/* torchvision's CenterCrop origin along one axis (round-half-even margin); negative when the
 * crop is larger than the image and pads. */
int graft__crop_origin(int size, int crop);

#endif
