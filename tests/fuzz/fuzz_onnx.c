/*
 * tests/fuzz/fuzz_onnx.c: a libFuzzer target for the ONNX decoder and the protobuf reader under
 * it (pipeline/model/onnx_proto.c, protobuf.c). Each input is decoded both as a ModelProto and
 * as a standalone TensorProto; whatever decodes is walked in full (every string read, every
 * tensor converted) so that AddressSanitizer sees any pointer the decoder got wrong.
 *
 * Built and run by `make fuzz` (clang -fsanitize=fuzzer,address,undefined) with a seed corpus
 * of the conformance models. It checks the decoder's contract: only GRAFT_OK, GRAFT_ECORRUPT
 * or GRAFT_ERANGE come back for any bytes (GRAFT_ENOMEM aside), and a decoded model has a
 * graph. Anything else traps, and libFuzzer saves the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../pipeline/model/onnx_proto.h"
#include "graft/graft.h"

static size_t sink;

static void walk_tensor(const graft_onnx_tensor *t) {
    sink += strlen(t->name) + strlen(t->external_location);
    for (size_t k = 0; k < t->rank; k++) sink += (size_t)t->dims[k];
    for (size_t k = 0; k < t->string_count; k++) sink += t->string_data[k].len;
    /* Decoded data holds numel elements in at most as many bytes as the input, so a numel
     * this large means the data was not checked (external or unknown type): not converted. */
    if (t->numel > ((size_t)1 << 22)) return;
    float *f = malloc(sizeof(float) * (t->numel + 1));
    int64_t *i = malloc(sizeof(int64_t) * (t->numel + 1));
    if (f && graft_onnx_tensor_to_float(t, f, t->numel) == GRAFT_OK)
        for (size_t k = 0; k < t->numel; k++) sink += f[k] != 0;
    if (i && graft_onnx_tensor_to_int64(t, i, t->numel) == GRAFT_OK)
        for (size_t k = 0; k < t->numel; k++) sink += (size_t)i[k];
    free(f);
    free(i);
}

static void walk_type(const graft_onnx_type *t) {
    for (; t; t = t->elem)
        for (size_t k = 0; k < t->rank; k++) sink += strlen(t->dims[k].param);
}

static void walk_graph(const graft_onnx_graph *g) {
    sink += strlen(g->name);
    for (size_t k = 0; k < g->node_count; k++) {
        const graft_onnx_node *n = &g->nodes[k];
        sink += strlen(n->name) + strlen(n->op_type) + strlen(n->domain);
        for (size_t j = 0; j < n->input_count; j++) sink += strlen(n->inputs[j]);
        for (size_t j = 0; j < n->output_count; j++) sink += strlen(n->outputs[j]);
        for (size_t j = 0; j < n->attr_count; j++) {
            const graft_onnx_attr *a = &n->attrs[j];
            sink += strlen(a->name) + strlen(a->ref_attr_name) + a->s.len;
            for (size_t i = 0; i < a->int_count; i++) sink += (size_t)a->ints[i];
            for (size_t i = 0; i < a->float_count; i++) sink += a->floats[i] != 0;
            for (size_t i = 0; i < a->string_count; i++) sink += a->strings[i].len;
            if (a->t) walk_tensor(a->t);
            if (a->g) walk_graph(a->g);
            for (size_t i = 0; i < a->tensor_count; i++) walk_tensor(&a->tensors[i]);
            for (size_t i = 0; i < a->graph_count; i++) walk_graph(&a->graphs[i]);
        }
    }
    for (size_t k = 0; k < g->initializer_count; k++) walk_tensor(&g->initializers[k]);
    for (size_t k = 0; k < g->input_count; k++) {
        sink += strlen(g->inputs[k].name);
        walk_type(&g->inputs[k].type);
    }
    for (size_t k = 0; k < g->output_count; k++) {
        sink += strlen(g->outputs[k].name);
        walk_type(&g->outputs[k].type);
    }
    for (size_t k = 0; k < g->value_info_count; k++) {
        sink += strlen(g->value_infos[k].name);
        walk_type(&g->value_infos[k].type);
    }
}

static int allowed(int err) {
    return err == GRAFT_OK || err == GRAFT_ECORRUPT || err == GRAFT_ERANGE ||
           err == GRAFT_ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    graft_onnx_model *m;
    if (graft_onnx_model_create(&m) != GRAFT_OK) return 0;
    int err = graft_onnx_model_decode(m, data, size);
    if (!allowed(err)) __builtin_trap();
    if (err == GRAFT_OK) {
        if (!m->graph) __builtin_trap();
        for (size_t k = 0; k < m->opset_count; k++) sink += strlen(m->opsets[k].domain);
        walk_graph(m->graph);
    }
    const graft_onnx_tensor *t;
    err = graft_onnx_tensor_decode(m, data, size, &t);
    if (!allowed(err)) __builtin_trap();
    if (err == GRAFT_OK) walk_tensor(t);
    graft_onnx_model_destroy(m);
    return 0;
}
