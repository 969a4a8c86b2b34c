/*
 * tests/fuzz/fuzz_tflite.c: a libFuzzer target for the TFLite importer and the flatbuffer
 * reader under it (pipeline/model/tflite_import.c, tflite_fb.c), including the metadata
 * flatbuffer and the appended zip it reads. Each input is imported from a buffer of exactly
 * its size; a graph that comes back is walked in full (every name read, every constant's
 * elements summed, every node's inputs and outputs followed) so that AddressSanitizer sees
 * any pointer or size the importer got wrong.
 *
 * Built and run by `make fuzz` (clang -fsanitize=fuzzer,address,undefined) next to the ONNX
 * target. It checks the importer's contract: only GRAFT_OK, GRAFT_ECORRUPT,
 * GRAFT_EUNSUPPORTED, GRAFT_ERANGE or GRAFT_ENOMEM come back for any bytes, a message is set
 * for every error, and an imported graph has an input and outputs that index its values.
 * Anything else traps, and libFuzzer saves the input.
 *
 * Seeds: run with GRAFT_FUZZ_WRITE_SEEDS=<dir> to write the sample models of
 * tests/model/tflite_build.h into <dir> and exit (the Makefile does this for an empty corpus).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../pipeline/model/graph.h"
#include "../model/tflite_build.h"
#include "graft/graft.h"

static size_t sink;

static void walk(const graft__graph *g) {
    if (g->input < 0 || g->input >= g->n_values || g->n_outputs < 1) __builtin_trap();
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] < 0 || g->outputs[k] >= g->n_values) __builtin_trap();
    for (int v = 0; v < g->n_values; v++) {
        const graft__value *x = &g->values[v];
        sink += strlen(x->name);
        if (!x->data) continue;
        int64_t n = graft__value_numel(x);
        if (n < 0) __builtin_trap(); /* constants are fully known */
        for (int64_t i = 0; i < n; i++)
            sink += x->dtype == GRAFT__F32 ? (((const float *)x->data)[i] != 0)
                                           : (size_t)((const int64_t *)x->data)[i];
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const graft__node *n = &g->nodes[k];
        sink += strlen(n->name) + strlen(n->src_op);
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] < -1 || n->in[i] >= g->n_values) __builtin_trap();
        for (int i = 0; i < n->n_out; i++)
            if (n->out[i] < 0 || n->out[i] >= g->n_values) __builtin_trap();
    }
    if (g->labels) sink += strlen(g->labels);
    sink += strlen(g->producer);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *dir = getenv("GRAFT_FUZZ_WRITE_SEEDS");
    if (!dir) return 0;
    for (int k = 0;; k++) {
        size_t len;
        uint8_t *buf = tb_sample_model(k, &len);
        if (!buf) break;
        char path[4096];
        snprintf(path, sizeof path, "%s/sample%d.tflite", dir, k);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, len, f) != len) {
            fprintf(stderr, "fuzz_tflite: cannot write %s\n", path);
            exit(1);
        }
        fclose(f);
        free(buf);
    }
    exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly `size` bytes, so reading one past the end is an ASan report. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    graft__graph *g = NULL;
    int err = graft__tflite_import(buf, size, NULL, &g); /* no path: a heap buffer */
    if (err == GRAFT_OK) {
        walk(g);
        graft__graph_destroy(g);
    } else if (err != GRAFT_ECORRUPT && err != GRAFT_EUNSUPPORTED && err != GRAFT_ERANGE &&
               err != GRAFT_ENOMEM) {
        __builtin_trap();
    } else if (!graft_last_error()[0]) {
        __builtin_trap();
    }
    free(buf);
    return 0;
}
