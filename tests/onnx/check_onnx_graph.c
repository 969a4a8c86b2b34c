/*
 * tests/onnx/check_onnx_graph.c: every ONNX node conformance test of Debian's libonnx-testdata
 * (data/node and data/pytorch-converted, *_expanded graphs included) run through the whole
 * runtime: graft_model_load on the test's model.onnx (import, folding, fusion, packing), a net
 * for the test's input shapes, one forward pass, and the outputs compared with the expected
 * .pb tensors (|got - want| <= 1e-4 + 1e-3 |want|, ONNX's backend-test tolerance widened to
 * float32 kernels; NaNs must match).
 *
 * A test counts as supported when the model loads and a net can be made; graft refuses the
 * rest with GRAFT_EUNSUPPORTED (integer arithmetic at run time, ops ConvNets do not use,
 * sequences, ...) and they are counted, not failed. Every supported test must pass, and the
 * families issue 3 and 4 name must be supported. The counts are printed per operator family.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../pipeline/net/net.h"
#include "../check.h"
#include "graft/model.h"
#include "onnx_case.h"

typedef struct outcome {
    int supported, passed;
    char why[256];
} outcome;

static void run_case(const char *dir, outcome *o) {
    graft_onnx_case *c = NULL;
    graft_model *m = NULL;
    graft_net *net = NULL;
    char path[1100], msg[256];
    memset(o, 0, sizeof *o);
    if (graft_onnx_case_load(dir, &c, msg, sizeof msg)) {
        snprintf(o->why, sizeof o->why, "case: %.240s", msg);
        return;
    }
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (graft_model_load(path, NULL, &m)) {
        snprintf(o->why, sizeof o->why, "%s", graft_last_error());
        goto done;
    }
    graft__net_input ins[16];
    const float *feed[16];
    if (c->input_count > 16 || c->input_count != (size_t)m->g->n_inputs) {
        snprintf(o->why, sizeof o->why, "inputs do not match (%zu vs %d)", c->input_count,
                 m->g->n_inputs);
        goto done;
    }
    for (size_t i = 0; i < c->input_count; i++) {
        const graft_onnx_case_tensor *t = &c->inputs[i];
        ins[i].rank = (int)t->rank;
        for (size_t d = 0; d < t->rank && d < GRAFT__MAX_RANK; d++) ins[i].dims[d] = t->dims[d];
        ins[i].data = t->ints;
        feed[i] = t->data;
    }
    const char *taps[16];
    size_t n_out = c->output_count < 16 ? c->output_count : 16;
    for (size_t i = 0; i < n_out; i++) taps[i] = graft_model_output_name(m, (int)i);
    if (graft__net_create_ex(m, ins, (int)c->input_count, taps, (int)n_out, NULL, 0, &net)) {
        snprintf(o->why, sizeof o->why, "%s", graft_last_error());
        goto done;
    }
    o->supported = 1;
    if (graft__net_run_ex(net, feed)) {
        snprintf(o->why, sizeof o->why, "run: %s", graft_last_error());
        goto done;
    }
    for (size_t i = 0; i < n_out; i++) {
        const float *y;
        int rank;
        int64_t dims[GRAFT_MODEL_MAX_RANK];
        graft_net_tap(net, (int)i, &y, &rank, dims);
        const graft_onnx_case_tensor *want = &c->outputs[i];
        size_t numel = 1;
        for (int d = 0; d < rank; d++) numel *= (size_t)dims[d];
        if (numel != want->numel || (size_t)rank != want->rank) {
            snprintf(o->why, sizeof o->why, "output %zu: rank %d / %zu elements, want rank %zu / "
                     "%zu", i, rank, numel, want->rank, want->numel);
            goto done;
        }
        for (size_t k = 0; k < numel; k++) {
            float g = y[k], w = want->data[k];
            int ok = (isnan(g) && isnan(w)) || (isinf(w) && g == w) ||
                     fabsf(g - w) <= 1e-4f + 1e-3f * fabsf(w);
            if (!ok) {
                snprintf(o->why, sizeof o->why, "output %zu[%zu] = %g, want %g", i, k, g, w);
                goto done;
            }
        }
    }
    o->passed = 1;
done:
    graft_net_destroy(net);
    graft_model_destroy(m);
    graft_onnx_case_destroy(c);
}

/* Families the issues require to be supported (prefixes of test names). */
static const char *const required[] = {
    "test_conv_", "test_maxpool_2d", "test_averagepool_2d", "test_globalaveragepool",
    "test_globalmaxpool", "test_lrn", "test_softmax_", "test_logsoftmax_", "test_relu",
    "test_clip", "test_leakyrelu", "test_sigmoid", "test_hardsigmoid", "test_hardswish",
    "test_batchnorm_", "test_add", "test_mul", "test_sub", "test_div", "test_concat_",
    "test_Conv2d_", "test_AvgPool2d", "test_MaxPool2d", "test_BatchNorm2d_", "test_reshape_",
    "test_flatten_", "test_transpose_", "test_gemm_", "test_matmul_", "test_squeeze",
    "test_unsqueeze", "test_reduce_mean_", "test_gather_0", "test_gather_1", "test_identity",
    "test_slice", "test_split_", "test_dropout_default", "test_sum_", "test_tanh", NULL};

/* Tests inside those families that graft refuses by design. */
static const char *const refused[] = {
    "test_maxpool_2d_uint8", "test_averagepool_2d_uint8", "test_add_uint8", "test_mul_uint8",
    "test_sub_uint8", "test_div_uint8", /* integer images are made float before the net */
    "test_clip_default_int8",           /* integer activations */
    "test_batchnorm_epsilon_training_mode", "test_batchnorm_example_training_mode", /* training */
    "test_identity_opt", "test_identity_sequence", /* optional and sequence values */
    "test_gather_elements",             /* GatherElements, another op */
    "test_dropout_default_mask",        /* the boolean mask output */
    NULL};

static int is_required(const char *name) {
    for (int i = 0; refused[i]; i++)
        if (!strncmp(name, refused[i], strlen(refused[i]))) return 0;
    for (int i = 0; required[i]; i++)
        if (!strncmp(name, required[i], strlen(required[i]))) return 1;
    return 0;
}

/* The family of a test name: "test_conv_with_strides_padding" -> "conv". */
static void family_of(const char *name, char *fam, size_t len) {
    const char *p = !strncmp(name, "test_", 5) ? name + 5 : name;
    size_t i = 0;
    while (p[i] && p[i] != '_' && i + 1 < len) {
        fam[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
        i++;
    }
    fam[i] = 0;
}

static int run_dir(const char *sub, char *msg, size_t msglen) {
    char root[512], emsg[256];
    snprintf(root, sizeof root, "%s/%s", graft_onnx_case_root(), sub);
    char **names;
    size_t count;
    if (graft_onnx_case_list(root, "test_", &names, &count, emsg, sizeof emsg)) {
        snprintf(msg, msglen, "libonnx-testdata not found (%s); install it or set "
                 "GRAFT_ONNX_TESTDATA", emsg);
        return GRAFT_CHECK_SKIP;
    }
    int total = 0, supported = 0, passed = 0, failed = 0, missing = 0;
    char fams[256][24];
    int fam_total[256] = {0}, fam_pass[256] = {0}, n_fam = 0;
    for (size_t i = 0; i < count; i++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        outcome o;
        run_case(dir, &o);
        total++;
        supported += o.supported;
        passed += o.passed;
        char fam[24];
        family_of(names[i], fam, sizeof fam);
        int f = 0;
        while (f < n_fam && strcmp(fams[f], fam)) f++;
        if (f == n_fam && n_fam < 256) snprintf(fams[n_fam++], sizeof fams[0], "%s", fam);
        if (f < 256) {
            fam_total[f]++;
            fam_pass[f] += o.passed;
        }
        if (o.supported && !o.passed) {
            failed++;
            fprintf(stderr, "  FAIL %s: %s\n", names[i], o.why);
        } else if (!o.supported && is_required(names[i])) {
            missing++;
            fprintf(stderr, "  UNSUPPORTED (required) %s: %s\n", names[i], o.why);
        }
    }
    printf("onnx %s through the runtime: %d passed / %d total (%d supported, %d refused)\n", sub,
           passed, total, supported, total - supported);
    printf("  per family (passed/total):");
    for (int f = 0; f < n_fam; f++)
        if (fam_pass[f]) printf(" %s %d/%d", fams[f], fam_pass[f], fam_total[f]);
    printf("\n");
    graft_onnx_case_list_free(names, count);
    if (failed || missing) {
        snprintf(msg, msglen, "%s: %d supported tests fail, %d required tests unsupported "
                 "(listed on stderr)", sub, failed, missing);
        return GRAFT_CHECK_FAIL;
    }
    return GRAFT_CHECK_PASS;
}

static int check_node(char *msg, size_t msglen) { return run_dir("node", msg, msglen); }
static int check_pytorch(char *msg, size_t msglen) {
    return run_dir("pytorch-converted", msg, msglen);
}

const graft_check graft_checks_onnx_graph[] = {
    {"onnx_graph", "node", check_node},
    {"onnx_graph", "pytorch_converted", check_pytorch},
    {NULL, NULL, NULL},
};
