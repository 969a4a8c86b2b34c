/*
 * pipeline/cli/export_cmd.c: `graft export MODEL HEAD OUT.onnx`: one ONNX file holding the
 * network up to the head's tap and the trained head after it, so that ONNX Runtime (or graft)
 * computes the same scores `graft predict` prints, from the same input tensor as the original
 * network (the preprocessing stays outside, as with any ONNX classifier).
 *
 * The original file is cut at the tap (pipeline/model/onnx_write.c keeps the nodes, weights
 * and inputs the tap depends on, byte for byte) and these nodes follow it:
 *   tap -> [Relu] -> [GlobalAveragePool | GlobalMaxPool] -> Flatten          (as extract did)
 *       -> [Abs, Sqrt, Sign, Mul: signed square root] -> [x / |x|: L2]       (the scaler)
 *       -> Gemm with the standardisation folded into its weights -> "scores"
 *       -> Softmax -> "probabilities"                                        (softmax heads)
 * Only ONNX models can be cut this way; a TFLite model is refused with that reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../model/onnx_write.h"
#include "cli.h"
#include "graft/learn.h"
#include "graft/pipeline.h"

static const char export_usage[] =
    "usage: graft export MODEL HEAD OUT.onnx\n"
    "Writes one ONNX file: MODEL (ONNX) cut at the tensor the head's codes came from, followed\n"
    "by the head (the tap's ReLU and pooling, the scaler, the linear layer), with outputs\n"
    "\"scores\" (N, K) and, for a softmax head, \"probabilities\". It takes the same input as\n"
    "MODEL, prepared the same way (`graft cache stat` shows the preprocessing).\n"
    "  -h, --help             this help\n";

/* Parses tap_relu= and tap_pool= out of the preprocessing description. */
static void tap_options(const char *desc, int *relu, int *pool) {
    const char *r = strstr(desc, "tap_relu="), *p = strstr(desc, "tap_pool=");
    *relu = r ? atoi(r + 9) : 0;
    *pool = !p ? 0 : !strncmp(p + 9, "avg", 3) ? 1 : !strncmp(p + 9, "max", 3) ? 2 : 0;
}

/* Appends one node with up to three inputs and one output. */
static int node(graft__onnx_builder *b, const char *op, const char *in0, const char *in1,
                const char *in2, const char *out, const graft__onnx_attr *attrs, int n_attrs) {
    const char *ins[3] = {in0, in1, in2};
    int n_in = in2 ? 3 : in1 ? 2 : 1;
    const char *outs[1] = {out};
    return graft__onnx_node(b, op, NULL, ins, n_in, outs, 1, attrs, n_attrs);
}

static int build_head(graft__onnx_builder *b, const graft_head *h, const char *tap, int relu,
                      int pool) {
    int rc = 0;
    const char *x = tap;
    if (relu) {
        rc |= node(b, "Relu", x, NULL, NULL, "graft_tap_relu", NULL, 0);
        x = "graft_tap_relu";
    }
    if (pool) {
        rc |= node(b, pool == 1 ? "GlobalAveragePool" : "GlobalMaxPool", x, NULL, NULL,
                   "graft_tap_pool", NULL, 0);
        x = "graft_tap_pool";
    }
    graft__onnx_attr axis1 = {.name = "axis", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
    rc |= node(b, "Flatten", x, NULL, NULL, "graft_codes", &axis1, 1);
    x = "graft_codes";
    if (h->scale & GRAFT_SCALE_SQRT) {
        rc |= node(b, "Abs", x, NULL, NULL, "graft_abs", NULL, 0);
        rc |= node(b, "Sqrt", "graft_abs", NULL, NULL, "graft_sqrt", NULL, 0);
        rc |= node(b, "Sign", x, NULL, NULL, "graft_sign", NULL, 0);
        rc |= node(b, "Mul", "graft_sign", "graft_sqrt", NULL, "graft_ssqrt", NULL, 0);
        x = "graft_ssqrt";
    }
    if (h->scale & GRAFT_SCALE_L2) {
        /* x / max(|x|, 1e-30): LpNormalization would give NaN for a zero row, graft gives 0 */
        const int64_t one_dim[1] = {1};
        const int64_t axes[1] = {1};
        const float tiny[1] = {1e-30f};
        rc |= graft__onnx_initializer_i64(b, "graft_l2.axes", 1, one_dim, axes);
        rc |= graft__onnx_initializer(b, "graft_l2.tiny", 0, NULL, tiny);
        graft__onnx_attr keep = {.name = "keepdims", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
        rc |= node(b, "Mul", x, x, NULL, "graft_l2_sq", NULL, 0);
        rc |= node(b, "ReduceSum", "graft_l2_sq", "graft_l2.axes", NULL, "graft_l2_sum", &keep, 1);
        rc |= node(b, "Sqrt", "graft_l2_sum", NULL, NULL, "graft_l2_norm", NULL, 0);
        rc |= node(b, "Clip", "graft_l2_norm", "graft_l2.tiny", NULL, "graft_l2_safe", NULL, 0);
        rc |= node(b, "Div", x, "graft_l2_safe", NULL, "graft_l2", NULL, 0);
        x = "graft_l2";
    }
    /* (z - mean) * inv_std then W z + b  ==  W' z + b' with W' = W inv_std, b' = b - W' mean,
       computed in double so the folding adds no error of its own. */
    size_t D = h->D;
    int K = h->K;
    float *W = malloc(sizeof(float) * (size_t)K * D), *bias = malloc(sizeof(float) * (size_t)K);
    if (!W || !bias) {
        free(W);
        free(bias);
        return GRAFT_ENOMEM;
    }
    for (int k = 0; k < K; k++) {
        double acc = h->b[k];
        for (size_t d = 0; d < D; d++) {
            double w = h->W[(size_t)k * D + d];
            if (h->mean) {
                w *= h->inv_std[d];
                acc -= w * h->mean[d];
            }
            W[(size_t)k * D + d] = (float)w;
        }
        bias[k] = (float)acc;
    }
    const int64_t wd[2] = {K, (int64_t)D}, bd[1] = {K};
    rc |= graft__onnx_initializer(b, "graft_head.weight", 2, wd, W);
    rc |= graft__onnx_initializer(b, "graft_head.bias", 1, bd, bias);
    free(W);
    free(bias);
    graft__onnx_attr tb = {.name = "transB", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
    rc |= node(b, "Gemm", x, "graft_head.weight", "graft_head.bias", "scores", &tb, 1);
    const int64_t od[2] = {-1, K};
    rc |= graft__onnx_output(b, "scores", 2, od);
    if (h->loss == GRAFT_LOSS_SOFTMAX) {
        rc |= node(b, "Softmax", "scores", NULL, NULL, "probabilities", &axis1, 1);
        rc |= graft__onnx_output(b, "probabilities", 2, od);
    }
    return rc ? GRAFT_ENOMEM : GRAFT_OK;
}

int graft__cmd_export(int argc, char **argv) {
    static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(export_usage, stdout);
            return 0;
        }
        fputs(export_usage, stderr);
        return 2;
    }
    if (argc - optind != 3) {
        fputs(export_usage, stderr);
        return 2;
    }
    const char *model = argv[optind], *head_path = argv[optind + 1], *out = argv[optind + 2];
    graft_head *h = NULL;
    if (graft_head_load(head_path, &h)) {
        fprintf(stderr, "graft export: %s\n", graft_last_error());
        return 1;
    }
    char want_sha[128], tap[512], desc[2048], sha[65];
    int st = 1;
    uint8_t *bytes = NULL;
    size_t len = 0;
    void *map = MAP_FAILED;
    struct stat sb;
    int fd = -1;
    graft__onnx_builder *b = NULL;
    if (!graft__head_meta_get(h->meta, "model_sha256", want_sha, sizeof want_sha) ||
        !graft__head_meta_get(h->meta, "tap", tap, sizeof tap) ||
        !graft__head_meta_get(h->meta, "preprocess", desc, sizeof desc)) {
        fprintf(stderr, "graft export: the head %s does not say which codes it was trained on\n",
                head_path);
        goto done;
    }
    if (graft_file_sha256(model, sha)) {
        fprintf(stderr, "graft export: %s\n", graft_last_error());
        goto done;
    }
    if (strcmp(sha, want_sha)) {
        fprintf(stderr, "graft export: the head %s was trained on codes of the model with "
                        "sha256 %s; %s has %s\n", head_path, want_sha, model, sha);
        goto done;
    }
    fd = open(model, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) || sb.st_size < 8 ||
        (map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
        fprintf(stderr, "graft export: %s: %s\n", model, strerror(errno));
        goto done;
    }
    if (!memcmp((const char *)map + 4, "TFL3", 4)) {
        fprintf(stderr, "graft export: %s is a TFLite model; export cuts ONNX files only\n",
                model);
        goto done;
    }
    int relu, pool;
    tap_options(desc, &relu, &pool);
    b = graft__onnx_begin("graft export", 13);
    if (!b || build_head(b, h, tap, relu, pool) ||
        graft__onnx_cut_append(map, (size_t)sb.st_size, tap, b, &bytes, &len) ||
        graft__onnx_write_bytes(out, bytes, len)) {
        fprintf(stderr, "graft export: %s\n", graft_last_error());
        goto done;
    }
    printf("export: %s = %s up to %s + the %s head (%d classes); outputs scores%s\n", out, model,
           tap, graft_loss_name(h->loss), h->K,
           h->loss == GRAFT_LOSS_SOFTMAX ? ", probabilities" : "");
    st = 0;
done:
    free(bytes);
    graft__onnx_free(b);
    if (map != MAP_FAILED) munmap(map, (size_t)sb.st_size);
    if (fd >= 0) close(fd);
    graft_head_destroy(h);
    return st;
}
