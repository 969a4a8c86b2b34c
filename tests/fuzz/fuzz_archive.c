/*
 * tests/fuzz/fuzz_archive.c: a libFuzzer target for the read stage (pipeline/read/): each
 * input is one shard, read through libarchive and the WebDataset grouping to the end.
 *
 * An input of even length is read from a file (a memfd, named by /proc/self/fd/N), so that
 * libarchive may seek, as it does for zip's central directory; an odd one arrives through a
 * pipe on standard input ("-"), which forces the streaming readers and members of unknown
 * size. The length also picks the label source and a small or the default member limit. The
 * same bytes go to the label member parsers (.cls/.txt/.json), the brace expander and
 * graft_member_split_key.
 *
 * It checks the reader's contract: graft_reader_next only fails with GRAFT_ENOMEM; every
 * SAMPLE carries bytes no longer than the member limit whose SHA-256 matches, a key and a
 * member; every REJECT and SHARD_ERROR carries a reason; the stream ends. Anything else traps,
 * and libFuzzer saves the input.
 *
 * Built and run by `make fuzz-archive` (part of `make fuzz`) against a libgraft.a whose
 * pipeline/ is compiled with the fuzzer's instrumentation. Seeds: run with
 * GRAFT_FUZZ_WRITE_SEEDS=<dir> to write small archives of every kind the reader takes into
 * <dir> and exit (the Makefile does this for an empty corpus).
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../pipeline/read/read.h"
#include "graft/dataset.h"
#include "graft/graft.h"

static int file_fd = -1; /* the memfd holding the input */
static int stdin_saved = -1;
static char file_spec[64];
static size_t sink;

/* ---- seeds --------------------------------------------------------------------------------- */

typedef struct seed_member {
    const char *name;
    const char *data; /* NULL: a directory */
    size_t len;
} seed_member;

/* A 2x2 24-bit BMP. */
static const char bmp[] = "BM\x46\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0\x02\0\0\0\x02\0\0\0\x01\0"
                          "\x18\0\0\0\0\0\x10\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                          "\xff\0\0\0\xff\0\0\0\0\0\0\xff\x80\x80\x80\0\0";
static const char png_head[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

static const seed_member members[] = {
    {"train/", NULL, 0},
    {"train/000001.bmp", bmp, sizeof bmp - 1},
    {"train/000001.cls", "3\n", 2},
    {"./train/000002.json", "{\"label\": \"dog\", \"x\": [1, {\"y\": \"}\"}]}", 38},
    {"train/000002.png", png_head, sizeof png_head - 1},
    {"train/000003.jpg", "\xff\xd8\xff\xe0\0\x10JFIF\0", 11},
    {"train/000003.txt", " caf\xc3\xa9 \n", 9},
    {"train/000004.jpg", "", 0},
    {"train/README.txt", "<!DOCTYPE html>\n", 16},
    {"train/.DS_Store", "\0\0\0\1Bud1", 8},
    {"val/ants/x.gif", "GIF89a\x01\0\x01\0\0\0\0;", 14},
    {"val/ants/x.json", "\"\\u00e9t\\ud83d\\ude00\"", 22},
};

static int write_seed(const char *dir, const char *name, int fmt, int filter) {
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap);
    struct archive *a = archive_write_new();
    if (!buf || !a) return -1;
    if (fmt == 0) archive_write_set_format_pax_restricted(a);
    else if (fmt == 1) archive_write_set_format_gnutar(a);
    else archive_write_set_format_zip(a);
    if (filter == 1) archive_write_add_filter_gzip(a);
    else if (filter == 2) archive_write_add_filter_xz(a);
    else if (filter == 3) archive_write_add_filter_zstd(a);
    else if (filter == 4) archive_write_add_filter_bzip2(a);
    if (archive_write_open_memory(a, buf, cap, &used) != ARCHIVE_OK) return -1;
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, members[i].name);
        archive_entry_set_filetype(e, members[i].data ? AE_IFREG : AE_IFDIR);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)members[i].len);
        archive_write_header(a, e);
        if (members[i].len) archive_write_data(a, members[i].data, members[i].len);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, used, f) != used) return -1;
    fclose(f);
    free(buf);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *dir = getenv("GRAFT_FUZZ_WRITE_SEEDS");
    if (dir) {
        static const struct {
            const char *name;
            int fmt, filter;
        } seeds[] = {{"a.tar", 0, 0},     {"a.tar.gz", 1, 1}, {"a.tar.xz", 0, 2},
                     {"a.tar.zst", 1, 3}, {"a.tar.bz2", 0, 4}, {"a.zip", 2, 0}};
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
            if (write_seed(dir, seeds[i].name, seeds[i].fmt, seeds[i].filter)) {
                fprintf(stderr, "fuzz_archive: cannot write seed %s in %s\n", seeds[i].name, dir);
                exit(1);
            }
        exit(0);
    }
    file_fd = memfd_create("fuzz_archive", MFD_CLOEXEC);
    stdin_saved = dup(0);
    if (file_fd < 0 || stdin_saved < 0) {
        fprintf(stderr, "fuzz_archive: memfd_create/dup: %s\n", strerror(errno));
        exit(1);
    }
    snprintf(file_spec, sizeof file_spec, "/proc/self/fd/%d", file_fd);
    return 0;
}

/* ---- one input ----------------------------------------------------------------------------- */

static void check_labels(const uint8_t *data, size_t size) {
    for (int k = GRAFT__LABEL_KIND_CLS; k < GRAFT__LABEL_KIND_COUNT; k++) {
        char *label = NULL;
        int rc = graft__label_parse((graft__label_kind)k, data, size, &label);
        if (rc == 1) {
            size_t n = strlen(label);
            if (n == 0 || n > GRAFT__LABEL_MAX) __builtin_trap();
            for (size_t i = 0; i < n; i++)
                if ((uint8_t)label[i] < 0x20) __builtin_trap();
            free(label);
        } else if (rc != 0 && rc != GRAFT_ENOMEM) {
            __builtin_trap();
        }
    }
}

static void check_strings(const uint8_t *data, size_t size) {
    /* Brace expansion multiplies: only short inputs, which still reach every branch. */
    char s[129];
    size_t n = size < 128 ? size : 128;
    memcpy(s, data, n);
    s[n] = '\0';
    const char *key, *ext;
    size_t key_len;
    graft_member_split_key(s, &key, &key_len, &ext);
    if (key < s || key + key_len > s + n || ext < s || ext > s + n) __builtin_trap();
    char **paths = NULL;
    int count = 0;
    int rc = graft__expand_braces(s, &paths, &count);
    if (rc == GRAFT_OK) {
        for (int i = 0; i < count; i++) sink += strlen(paths[i]);
        graft_paths_free(paths, count);
    } else if (rc != GRAFT_EINVAL && rc != GRAFT_ENOMEM) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_labels(data, size);
    check_strings(data, size);

    int piped = size & 1;
    const char *spec = file_spec;
    int pfd[2] = {-1, -1};
    if (piped) {
        /* The whole input goes into the pipe before reading starts, so no writer thread is
           needed; non-blocking, so that an input larger than the pipe cannot hang here. */
        if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK)) return 0;
        if (fcntl(pfd[1], F_SETPIPE_SZ, (int)(size + 4096 > 65536 ? size + 4096 : 65536)) < 0 &&
            size > 65536) {
            close(pfd[0]);
            close(pfd[1]);
            return 0;
        }
        size_t done = 0;
        while (done < size) {
            ssize_t w = write(pfd[1], data + done, size - done);
            if (w <= 0) break;
            done += (size_t)w;
        }
        close(pfd[1]);
        fcntl(pfd[0], F_SETFL, 0);
        dup2(pfd[0], 0);
        close(pfd[0]);
        spec = "-";
    } else {
        if (ftruncate(file_fd, 0) || pwrite(file_fd, data, size, 0) != (ssize_t)size) return 0;
    }

    graft_reader_options o = {0};
    o.label_source = (graft_label_source)((size >> 1) % 4);
    o.max_member_bytes = (size >> 3) & 1 ? 1024 : 0;
    o.val_fraction = (size >> 4) & 1 ? 0.5 : 0;
    size_t limit = o.max_member_bytes ? o.max_member_bytes : (size_t)1 << 30;
    graft_reader *r = NULL;
    if (graft_reader_create(&spec, 1, &o, &r) != GRAFT_OK) __builtin_trap();
    for (long events = 0;; events++) {
        if (events > 1000000) __builtin_trap(); /* the stream never ends */
        graft_sample s;
        memset(&s, 0, sizeof s);
        int rc = graft_reader_next(r, &s);
        if (rc == GRAFT_ENOMEM) break;
        if (rc != GRAFT_OK) __builtin_trap();
        if (s.event == GRAFT_READ_END) break;
        switch (s.event) {
        case GRAFT_READ_SAMPLE: {
            if (!s.data || !s.size || s.size > limit || !s.key || !s.member || s.reason)
                __builtin_trap();
            uint8_t sha[32];
            unsigned len = 0;
            EVP_Digest(s.data, s.size, sha, &len, EVP_sha256(), NULL);
            if (memcmp(sha, s.sha256, 32)) __builtin_trap();
            sink += s.data[0] + s.data[s.size - 1] + strlen(s.key) + strlen(s.member);
            break;
        }
        case GRAFT_READ_REJECT:
            if (!s.reason || !s.key || !s.member || s.data) __builtin_trap();
            sink += strlen(s.reason) + strlen(s.key) + strlen(s.member);
            break;
        case GRAFT_READ_SHARD_ERROR:
            if (!s.reason || !s.reason[0] || s.data) __builtin_trap();
            sink += strlen(s.reason);
            break;
        default: __builtin_trap();
        }
        if (s.label) sink += strlen(s.label);
        if ((unsigned)s.split > GRAFT_SPLIT_TEST) __builtin_trap();
        graft_sample_clear(&s);
    }
    graft_reader_destroy(r);
    if (piped) dup2(stdin_saved, 0);
    return 0;
}
