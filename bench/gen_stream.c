/*
 * bench/gen_stream.c: writes a synthetic WebDataset tar of about BYTES bytes to standard output,
 * for the memory check of `make bench-pipeline`: `gen_stream 20e9 | graft extract ... -`
 * streams 20 GB through a pipe and /usr/bin/time reports graft's peak RSS.
 *
 * Eight large JPEGs (1600x1200 noise over gradients, about 0.5-1 MB each) are encoded once and
 * written again and again under fresh keys, so the generator costs no more than the pipe. Each
 * sample also carries a .cls member, as WebDataset shards do.
 *
 * usage: gen_stream BYTES
 */
#include <archive.h>
#include <archive_entry.h>
#include <jpeglib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 1600
#define H 1200
#define VARIANTS 8

static unsigned long encode(int v, unsigned char **out) {
    unsigned char *rgb = malloc((size_t)W * H * 3);
    uint64_t s = 0x9e3779b97f4a7c15ULL * (uint64_t)(v + 1);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            for (int c = 0; c < 3; c++)
                rgb[((size_t)y * W + x) * 3 + c] =
                    (unsigned char)(((x * (c + 1) + y * (v + 1)) >> 3) + (int)(s >> (60 - 8 * c) & 31));
        }
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    unsigned long len = 0;
    *out = NULL;
    jpeg_mem_dest(&ci, out, &len);
    ci.image_width = W;
    ci.image_height = H;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 92, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < H) {
        JSAMPROW row = rgb + (size_t)ci.next_scanline * W * 3;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(rgb);
    return len;
}

static int put(struct archive *a, const char *name, const void *data, size_t len) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    int ok = archive_write_header(a, e) == ARCHIVE_OK &&
             archive_write_data(a, data, len) == (la_ssize_t)len;
    archive_entry_free(e);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s BYTES\n", argv[0]);
        return 2;
    }
    double target = strtod(argv[1], NULL);
    unsigned char *jpg[VARIANTS];
    unsigned long len[VARIANTS];
    for (int v = 0; v < VARIANTS; v++) len[v] = encode(v, &jpg[v]);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_per_block(a, 1 << 16);
    if (archive_write_open_fd(a, 1) != ARCHIVE_OK) {
        fprintf(stderr, "gen_stream: %s\n", archive_error_string(a));
        return 1;
    }
    double written = 0;
    for (long i = 0; written < target; i++) {
        char name[64], cls[16];
        int v = (int)(i % VARIANTS);
        snprintf(name, sizeof name, "s%09ld.jpg", i);
        if (put(a, name, jpg[v], len[v])) break; /* the reader went away */
        snprintf(name, sizeof name, "s%09ld.cls", i);
        snprintf(cls, sizeof cls, "%d", v);
        if (put(a, name, cls, strlen(cls))) break;
        written += (double)len[v] + 1536;
    }
    archive_write_close(a);
    archive_write_free(a);
    for (int v = 0; v < VARIANTS; v++) free(jpg[v]);
    return 0;
}
