/*
 * tests/fuzz/fuzz_model.c: a libFuzzer target for the whole model loader: the bytes go through
 * graft__model_load_buffer (format sniffing, the ONNX or TFLite importer, the graph passes:
 * topological sort, constant folding, fusion, weight packing), and a model that loads is then
 * planned for a small input (shape inference, layouts, memory plan) and run once on zeros
 * when its activations are small. Built with the library by `make fuzz` (clang,
 * -fsanitize=fuzzer,address,undefined), seeded with the conformance models.
 *
 * Contract checked: no crash, no leak, no sanitizer report; every failure is one of the error
 * codes with a message (never GRAFT_OK without a model).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../pipeline/net/net.h"
#include "graft/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    graft_model *m = NULL;
    int err = graft__model_load_buffer(data, size, NULL, NULL, &m);
    if (err) {
        if (err > 0 || !graft_last_error()[0]) __builtin_trap();
        return 0;
    }
    if (!m) __builtin_trap();
    graft_net *net = NULL;
    if (!graft_net_create(m, 1, 8, 8, NULL, 0, NULL, &net)) {
        if (graft_net_activation_bytes(net) < ((size_t)16 << 20)) {
            graft_model_preproc pp;
            graft_model_get_preproc(m, &pp);
            /* The net's input is (1, C, 8, 8) with C as the model says. */
            if (pp.channels >= 1 && pp.channels <= 4096) {
                float *x = calloc((size_t)pp.channels * 64, sizeof(float));
                if (x) graft_net_run(net, x, GRAFT_LAYOUT_NCHW);
                free(x);
            }
        }
        graft_net_destroy(net);
    }
    graft_model_destroy(m);
    return 0;
}
