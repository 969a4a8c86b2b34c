/*
 * tests/fuzz/fuzz_checkpoint.c: a libFuzzer target for the fine-tuning checkpoint reader
 * (graft_top_load, pipeline/finetune/checkpoint.c), whose input is a file a user points
 * --resume at.
 *
 * At start it writes a small network with a batch norm (so the file has a state section),
 * builds its top with bn_train, and saves a valid checkpoint as the seed (into the directory
 * GRAFT_FUZZ_SEED_DIR names, when set). Each input is then loaded through a memfd.
 * Contract checked: only GRAFT_OK, GRAFT_ECORRUPT, GRAFT_EMISMATCH or GRAFT_ENOMEM; a refused
 * file leaves every parameter as it was; an accepted one saves and loads again to the same
 * bytes.
 *
 * `make fuzz-checkpoint` builds and runs it (also part of `make fuzz`).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "graft/finetune.h"
#include "../../pipeline/model/onnx_write.h"

static graft_top *top;
static float **snapshot;
static int memfd = -1;

static int write_model(const char *path) {
    graft__onnx_builder *b = graft__onnx_begin("fuzz_checkpoint", 13);
    int64_t in[4] = {-1, 3, 4, 4}, w[4] = {4, 3, 3, 3}, c4[1] = {4}, fw[2] = {2, 4};
    float wv[108], ones[4] = {1, 1, 1, 1}, zeros[4] = {0}, fwv[8];
    for (int i = 0; i < 108; i++) wv[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
    for (int i = 0; i < 8; i++) fwv[i] = (float)i / 8.0f - 0.5f;
    int err = !b || graft__onnx_input(b, "x", 4, in) ||
              graft__onnx_initializer(b, "conv.weight", 4, w, wv) ||
              graft__onnx_initializer(b, "bn.weight", 1, c4, ones) ||
              graft__onnx_initializer(b, "bn.bias", 1, c4, zeros) ||
              graft__onnx_initializer(b, "bn.mean", 1, c4, zeros) ||
              graft__onnx_initializer(b, "bn.var", 1, c4, ones) ||
              graft__onnx_initializer(b, "fc.weight", 2, fw, fwv);
    graft__onnx_attr k = {.name = "kernel_shape", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 2,
                          .ints = {3, 3}};
    const char *ci[2] = {"x", "conv.weight"}, *c = "c", *bi[5] = {"c", "bn.weight", "bn.bias",
                         "bn.mean", "bn.var"}, *bo = "b", *g = "g", *f = "f";
    const char *fi[2] = {"f", "fc.weight"}, *y = "y";
    graft__onnx_attr ax = {.name = "axis", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
    graft__onnx_attr tb = {.name = "transB", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
    int64_t od[2] = {-1, 2};
    err = err || graft__onnx_node(b, "Conv", "conv", ci, 2, &c, 1, &k, 1) ||
          graft__onnx_node(b, "BatchNormalization", "bn", bi, 5, &bo, 1, NULL, 0) ||
          graft__onnx_node(b, "GlobalAveragePool", "gap", &bo, 1, &g, 1, NULL, 0) ||
          graft__onnx_node(b, "Flatten", "flat", &g, 1, &f, 1, &ax, 1) ||
          graft__onnx_node(b, "Gemm", "fc", fi, 2, &y, 1, &tb, 1) ||
          graft__onnx_output(b, "y", 2, od) || graft__onnx_write(b, path);
    graft__onnx_free(b);
    return err;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char path[] = "/tmp/graft_fuzz_checkpoint_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) abort();
    close(fd);
    graft_model_options mo = {0};
    mo.keep_weights = 1;
    mo.no_fuse = 1;
    graft_model *m;
    graft_top_options o = {0};
    o.classes = 3;
    o.freeze_until = GRAFT_TOP_FREEZE_NONE;
    o.bn_train = 1;
    if (write_model(path) || graft_model_load(path, &mo, &m) ||
        graft_top_create(m, 2, 4, 4, &o, &top)) {
        fprintf(stderr, "fuzz_checkpoint: set-up failed: %s\n", graft_last_error());
        abort();
    }
    unlink(path);
    /* The model stays alive (leaked on purpose) as long as the top. */
    const char *seed_dir = getenv("GRAFT_FUZZ_SEED_DIR");
    if (seed_dir) {
        char seed[4096];
        snprintf(seed, sizeof seed, "%s/seed.ckpt", seed_dir);
        if (graft_top_save(top, seed, "epoch=1\nbest=0.5\n")) abort();
    }
    int P = graft_top_param_count(top);
    snapshot = calloc((size_t)P, sizeof *snapshot);
    for (int i = 0; i < P; i++) {
        graft_top_param *p = graft_top_param_get(top, i);
        snapshot[i] = malloc(sizeof(float) * p->numel);
        memcpy(snapshot[i], p->data, sizeof(float) * p->numel);
    }
    memfd = memfd_create("checkpoint", 0);
    if (memfd < 0) abort();
    return 0;
}

static int load_bytes(const uint8_t *data, size_t size, char **meta) {
    if (ftruncate(memfd, 0) || pwrite(memfd, data, size, 0) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    return graft_top_load(top, path, meta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *meta = NULL;
    int err = load_bytes(data, size, &meta);
    if (err != GRAFT_OK && err != GRAFT_ECORRUPT && err != GRAFT_EMISMATCH &&
        err != GRAFT_ENOMEM)
        __builtin_trap();
    int P = graft_top_param_count(top);
    if (err) {
        for (int i = 0; i < P; i++) {
            graft_top_param *p = graft_top_param_get(top, i);
            if (memcmp(snapshot[i], p->data, sizeof(float) * p->numel)) __builtin_trap();
        }
        return 0;
    }
    /* Accepted: what it loaded saves and loads again, then the snapshot is the new state. */
    char path[] = "/tmp/graft_fuzz_ckpt_again_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) abort();
    close(fd);
    char *meta2 = NULL;
    if (graft_top_save(top, path, meta) || graft_top_load(top, path, &meta2) ||
        strcmp(meta, meta2))
        __builtin_trap();
    unlink(path);
    free(meta), free(meta2);
    for (int i = 0; i < P; i++) {
        graft_top_param *p = graft_top_param_get(top, i);
        memcpy(snapshot[i], p->data, sizeof(float) * p->numel);
    }
    return 0;
}
