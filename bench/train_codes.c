/*
 * bench/train_codes.c: CNN codes of an image folder archive, for bench_train and the learner
 * tests, made without the extract pipeline: libarchive reads the tar, graft decodes each image,
 * stretches it to the network's input (as the shipped MobileNets want: the whole image resized
 * to 224 x 224, bilinear, then (v - 128) / 128) and runs the model's default tap.
 *
 * Members named <root>/<split>/<class>/<file> are kept, in archive name order; class indices
 * follow the bytewise order of the class names. Writes into OUTDIR:
 *   <split>_X.npy    float32 (rows, D), the codes
 *   <split>_y.npy    uint8 (rows), the class indices
 *   classes.txt      one class name per line
 * Images that fail to decode are reported and skipped (the shipped archive has none).
 *
 * It is a bench helper, not a pipeline stage: one thread, whole archive in memory, no cache.
 *
 * Usage: train_codes ARCHIVE.tar MODEL.onnx OUTDIR
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graft/image.h"
#include "graft/model.h"
#include "graft/npy.h"

#define BATCH 16
#define SIDE 224
#define MAX_CLASSES 64

typedef struct member {
    char *split, *cls, *name;
    uint8_t *bytes;
    size_t len;
} member;

static int member_cmp(const void *a, const void *b) {
    const member *x = a, *y = b;
    int c = strcmp(x->split, y->split);
    if (c) return c;
    c = strcmp(x->cls, y->cls);
    return c ? c : strcmp(x->name, y->name);
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits "root/split/class/file" into its last three components; 0 when it has another shape. */
static int parse_path(const char *path, member *m) {
    const char *parts[8];
    size_t lens[8];
    int count = 0;
    const char *p = path;
    while (*p && count < 8) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len) {
            parts[count] = p;
            lens[count] = len;
            count++;
        }
        if (!slash) break;
        p = slash + 1;
    }
    if (count < 3) return 0;
    m->split = strndup(parts[count - 3], lens[count - 3]);
    m->cls = strndup(parts[count - 2], lens[count - 2]);
    m->name = strndup(parts[count - 1], lens[count - 1]);
    return m->split && m->cls && m->name;
}

static void die(const char *what, int err) {
    fprintf(stderr, "train_codes: %s: %s (%s)\n", what, graft_last_error(),
            graft_err_name(err));
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s ARCHIVE.tar MODEL.onnx OUTDIR\n", argv[0]);
        return 2;
    }
    const char *archive_path = argv[1], *model_path = argv[2], *outdir = argv[3];
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "train_codes: mkdir %s: %s\n", outdir, strerror(errno));
        return 1;
    }

    struct archive *ar = archive_read_new();
    archive_read_support_format_all(ar);
    archive_read_support_filter_all(ar);
    if (archive_read_open_filename(ar, archive_path, 1 << 16) != ARCHIVE_OK) {
        fprintf(stderr, "train_codes: %s: %s\n", archive_path, archive_error_string(ar));
        return 1;
    }
    member *members = NULL;
    size_t count = 0, cap = 0;
    struct archive_entry *entry;
    int rc;
    while ((rc = archive_read_next_header(ar, &entry)) == ARCHIVE_OK) {
        if (archive_entry_filetype(entry) != AE_IFREG) continue;
        member m = {0};
        if (!parse_path(archive_entry_pathname(entry), &m)) continue;
        int64_t size = archive_entry_size(entry);
        if (size <= 0 || size > (1 << 28)) continue;
        m.len = (size_t)size;
        m.bytes = malloc(m.len);
        if (!m.bytes) return 1;
        if (archive_read_data(ar, m.bytes, m.len) != (la_ssize_t)m.len) {
            fprintf(stderr, "train_codes: %s: short read: %s\n", archive_entry_pathname(entry),
                    archive_error_string(ar));
            return 1;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 512;
            members = realloc(members, cap * sizeof *members);
            if (!members) return 1;
        }
        members[count++] = m;
    }
    if (rc != ARCHIVE_EOF) {
        fprintf(stderr, "train_codes: %s: %s\n", archive_path, archive_error_string(ar));
        return 1;
    }
    archive_read_free(ar);
    qsort(members, count, sizeof *members, member_cmp);

    /* Classes across every split, so that train and val agree on the indices. */
    char *classes[MAX_CLASSES];
    int class_count = 0;
    for (size_t i = 0; i < count; i++) {
        int known = 0;
        for (int k = 0; k < class_count; k++) known |= !strcmp(classes[k], members[i].cls);
        if (known) continue;
        if (class_count == MAX_CLASSES) {
            fprintf(stderr, "train_codes: more than %d classes\n", MAX_CLASSES);
            return 1;
        }
        classes[class_count++] = members[i].cls;
    }
    qsort(classes, (size_t)class_count, sizeof classes[0], name_cmp);

    graft_model *model;
    int err = graft_model_load(model_path, NULL, &model);
    if (err) die(model_path, err);
    graft_net *net;
    err = graft_net_create(model, BATCH, SIDE, SIDE, NULL, 0, NULL, &net);
    if (err) die("net", err);

    const float mean[3] = {128.0f / 255, 128.0f / 255, 128.0f / 255};
    const float *stdev = mean;
    size_t pixels = (size_t)SIDE * SIDE * 3;
    float *batch = calloc(BATCH * pixels, sizeof *batch);
    if (!batch) return 1;

    /* One split at a time: members are sorted by split, so each split is one run. */
    size_t start = 0;
    while (start < count) {
        size_t end = start;
        while (end < count && !strcmp(members[end].split, members[start].split)) end++;
        const char *split = members[start].split;
        size_t D = 0;
        float *X = NULL;
        uint8_t *y = malloc(end - start);
        size_t rows = 0;
        size_t i = start;
        while (i < end) {
            size_t filled = 0;
            uint8_t labels[BATCH];
            while (filled < BATCH && i < end) {
                member *m = &members[i++];
                graft_image img = {0}, small = {0};
                err = graft_image_decode(m->bytes, m->len, NULL, &img);
                if (!err) err = graft_image_resize(&small, &img, SIDE, SIDE,
                                                   GRAFT_RESAMPLE_BILINEAR);
                if (!err) err = graft_image_to_float(&small, mean, stdev, GRAFT_IMAGE_LAYOUT_HWC,
                                                     batch + filled * pixels);
                graft_image_free(&img);
                graft_image_free(&small);
                if (err) {
                    fprintf(stderr, "train_codes: skipping %s/%s/%s: %s\n", m->split, m->cls,
                            m->name, graft_last_error());
                    continue;
                }
                int k = 0;
                while (strcmp(classes[k], m->cls)) k++;
                labels[filled++] = (uint8_t)k;
            }
            if (!filled) continue;
            err = graft_net_run(net, batch, GRAFT_LAYOUT_NHWC);
            if (err) die("run", err);
            const float *code;
            int rank;
            int64_t dims[GRAFT_MODEL_MAX_RANK];
            err = graft_net_tap(net, 0, &code, &rank, dims);
            if (err) die("tap", err);
            if (!X) {
                D = 1;
                for (int r = 1; r < rank; r++) D *= (size_t)dims[r];
                X = malloc((end - start) * D * sizeof *X);
                if (!X || !y) return 1;
            }
            memcpy(X + rows * D, code, filled * D * sizeof *X);
            memcpy(y + rows, labels, filled);
            rows += filled;
        }
        char path[4096];
        size_t shape[2] = {rows, D};
        snprintf(path, sizeof path, "%s/%s_X.npy", outdir, split);
        if ((err = graft_npy_write(path, GRAFT_NPY_DTYPE_F32, 2, shape, X))) die(path, err);
        snprintf(path, sizeof path, "%s/%s_y.npy", outdir, split);
        if ((err = graft_npy_write(path, GRAFT_NPY_DTYPE_U8, 1, shape, y))) die(path, err);
        fprintf(stderr, "train_codes: %s: %zu rows of %zu floats\n", split, rows, D);
        free(X);
        free(y);
        start = end;
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/classes.txt", outdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "train_codes: %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (int k = 0; k < class_count; k++) fprintf(f, "%s\n", classes[k]);
    if (fclose(f) != 0) return 1;

    graft_net_destroy(net);
    graft_model_destroy(model);
    free(batch);
    for (size_t j = 0; j < count; j++) {
        free(members[j].split);
        free(members[j].cls);
        free(members[j].name);
        free(members[j].bytes);
    }
    free(members);
    return 0;
}
