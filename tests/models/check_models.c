/*
 * tests/models/check_models.c: whole networks through graft's model runtime (model.h), against
 * outputs computed by the frameworks that made them.
 *
 * 1. torchvision: the fifteen classifiers tests/models/gen_torchvision.py exports with seeded
 *    random weights at opsets 13 and 17 (`make models` writes them to $(BUILD)/models; the
 *    directory is GRAFT_MODELS_DIR when set). Each export is loaded, a net is created with the
 *    taps logits, tap_mid and features for the saved batch of 2 at the training size, run on
 *    the saved NCHW input, and every tap is compared with PyTorch's (float64-computed)
 *    reference: |got - ref| <= 1e-4 + 1e-4 * |ref| everywhere. resnet18, mobilenet_v2 and
 *    squeezenet1_1 are also run at 160x160 from the same 224 export, against references
 *    PyTorch computed at that size; alexnet and vgg16 at 256x256, where their fully-connected
 *    layers run as convolutions and logits and features are (2, K, 2, 2) maps, against the
 *    same network with its classifier as convolutions in PyTorch.
 * 2. The pretrained ONNX MobileNets of the shared directory (GRAFT_SHARED, default ../shared):
 *    each on the four test images, batched and alone, reproduces the reference output vectors
 *    (max abs diff 1e-4) from the given network inputs, and its top-1 class is the float
 *    top-1 that models/verification.json lists (written into the table below), which is also
 *    the reference logits' own argmax.
 *
 * A model whose files are absent is a skip that says which file and how to make it, never a
 * failure. Each check prints one line per output with the largest difference, and the worst
 * difference as a fraction of the tolerance, whether it passes or not.
 *
 * Not here: the single-node conformance tests (tests/onnx), malformed files (the loader's own
 * checks and the fuzzer), speed (bench/bench_models.c).
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../check.h"
#include "graft/graft.h"
#include "graft/model.h"
#include "graft/npy.h"

/* The generated models' tolerance: |got - ref| <= ATOL + RTOL * |ref|. */
#define TV_RTOL 1e-4
#define TV_ATOL 1e-4
/* The shared models': max abs diff. */
#define SHARED_MAXDIFF 1e-4

#ifndef GRAFT_BUILD_DIR
#define GRAFT_BUILD_DIR "build"
#endif

enum { PATH_BYTES = 1024, TAPS_MAX = 4 };


static const char *models_dir(void) {
    const char *d = getenv("GRAFT_MODELS_DIR");
    return d && d[0] ? d : GRAFT_BUILD_DIR "/models";
}

static const char *shared_dir(void) {
    const char *d = getenv("GRAFT_SHARED");
    return d && d[0] ? d : "../shared";
}

/* ---- comparing one tap ----------------------------------------------------------------- */

/* How one output compared. */
typedef struct tap_diff {
    double max_abs;  /* largest |got - ref| */
    double tol_frac; /* largest |got - ref| / (atol + rtol * |ref|): above 1 fails */
    size_t bad;      /* elements outside the tolerance (NaN counts) */
    size_t worst;    /* index of the element with the largest tol_frac */
} tap_diff;

static tap_diff compare(const float *got, const float *ref, size_t count, double atol,
                        double rtol) {
    tap_diff d = {0.0, 0.0, 0, 0};
    for (size_t i = 0; i < count; i++) {
        double diff = fabs((double)got[i] - (double)ref[i]);
        double frac = diff / (atol + rtol * fabs((double)ref[i]));
        if (!(diff == diff)) frac = INFINITY; /* NaN: always fails, and always worst */
        if (diff > d.max_abs || !(diff == diff)) d.max_abs = diff == diff ? diff : INFINITY;
        if (frac > d.tol_frac) {
            d.tol_frac = frac;
            d.worst = i;
        }
        if (!(frac <= 1.0)) d.bad++;
    }
    return d;
}

/*
 * Checks tap `i` of `net` against the array `ref`: same element count and, unless
 * `ref_has_batch` is 0 (the shared references drop the batch dimension), the same shape.
 * `row` selects which batch row of the tap to compare when the reference is one row.
 * Appends a one-line result to msg; returns 1 when the tap agrees.
 */
static int check_tap(const graft_net *net, int i, const graft_npy *ref, int ref_has_batch,
                     int row, double atol, double rtol, const char *label, char *msg,
                     size_t len) {
    const float *data = NULL;
    int rank = 0;
    int64_t dims[GRAFT_MODEL_MAX_RANK];
    int err = graft_net_tap(net, i, &data, &rank, dims);
    const char *tap = graft_net_tap_name(net, i);
    if (err != GRAFT_OK) {
        graft_check_append(msg, len, "%s %s: graft_net_tap: %s; ", label, tap, graft_last_error());
        return 0;
    }
    char got_shape[96] = "", ref_shape[96] = "";
    size_t got_count = 1;
    for (int d = 0; d < rank; d++) {
        graft_check_append(got_shape, sizeof got_shape, d ? ",%lld" : "%lld", (long long)dims[d]);
        got_count *= (size_t)dims[d];
    }
    for (int d = 0; d < ref->rank; d++)
        graft_check_append(ref_shape, sizeof ref_shape, d ? ",%zu" : "%zu", ref->shape[d]);

    size_t row_count = got_count;
    int shape_ok = 1;
    if (ref_has_batch) {
        shape_ok = rank == ref->rank;
        for (int d = 0; shape_ok && d < rank; d++) shape_ok = (size_t)dims[d] == ref->shape[d];
    } else {
        /* Reference (D...) against tap (N, D...): compare the trailing dimensions. */
        shape_ok = rank == ref->rank + 1 && rank >= 1 && dims[0] > row;
        for (int d = 1; shape_ok && d < rank; d++) shape_ok = (size_t)dims[d] == ref->shape[d - 1];
        if (shape_ok) row_count = got_count / (size_t)dims[0];
    }
    if (!shape_ok || row_count != ref->count) {
        graft_check_append(msg, len, "%s %s: shape (%s), reference (%s); ", label, tap, got_shape,
                           ref_shape);
        return 0;
    }
    const float *got = data + (ref_has_batch ? 0 : (size_t)row * row_count);
    tap_diff d = compare(got, ref->data, ref->count, atol, rtol);
    int ok = d.bad == 0;
    printf("models: %-36s %-10s (%s) max|diff| %.3g, %.3g of tolerance%s\n", label, tap,
           got_shape, d.max_abs, d.tol_frac, ok ? "" : "  FAIL");
    fflush(stdout);
    if (!ok)
        graft_check_append(
            msg, len,
            "%s %s (%s): %zu of %zu outside |d| <= %g + %g|ref|, max|diff| %.3g, worst at "
            "%zu: got %.7g ref %.7g; ",
            label, tap, got_shape, d.bad, ref->count, atol, rtol, d.max_abs, d.worst,
            (double)got[d.worst], (double)((const float *)ref->data)[d.worst]);
    else
        graft_check_append(msg, len, "%s %.2g (%.2g tol); ", tap, d.max_abs, d.tol_frac);
    return ok;
}

/* Reads a float32 .npy; on failure says why in msg and returns a FAIL/SKIP code, else PASS. */
static int read_f32(const char *path, graft_npy *out, char *msg, size_t len) {
    if (!graft_check_file_exists(path))
        return graft_check_say(msg, len, GRAFT_CHECK_SKIP, "%s is absent", path);
    int err = graft_npy_read(path, out);
    if (err != GRAFT_OK)
        return graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s: %s", path, graft_last_error());
    if (out->dtype != GRAFT_NPY_DTYPE_F32) {
        graft_npy_free(out);
        return graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s: not float32", path);
    }
    return GRAFT_CHECK_PASS;
}

/* ---- the torchvision exports ----------------------------------------------------------- */

static const char *const tv_outputs[] = {"logits", "tap_mid", "features"};
enum { TV_OUTPUTS = 3 };

/*
 * One export of `model` at `opset`, on the references of prefix `set` ("" for the training
 * size, "160x160." for the second size).
 */
static int check_torchvision(const char *model, int opset, const char *set, char *msg,
                             size_t len) {
    const char *dir = models_dir();
    char onnx_path[PATH_BYTES], path[PATH_BYTES], label[128];
    snprintf(onnx_path, sizeof onnx_path, "%s/%s.opset%d.onnx", dir, model, opset);
    snprintf(label, sizeof label, "%s opset%d%s%.*s", model, opset, set[0] ? " " : "",
             set[0] ? (int)strlen(set) - 1 : 0, set);
    snprintf(path, sizeof path, "%s/%s.%sinput.npy", dir, model, set);
    if (!graft_check_file_exists(onnx_path) || !graft_check_file_exists(path)) {
        printf("models: %-36s skipped: %s absent (make models)\n", label,
               graft_check_file_exists(onnx_path) ? path : onnx_path);
        return graft_check_say(msg, len, GRAFT_CHECK_SKIP,
                   "%s: %s is absent: run `make models` or set GRAFT_MODELS_DIR", label,
                   graft_check_file_exists(onnx_path) ? path : onnx_path);
    }

    int status = GRAFT_CHECK_FAIL;
    graft_model *m = NULL;
    graft_net *net = NULL;
    graft_npy x = {0}, refs[TV_OUTPUTS];
    memset(refs, 0, sizeof refs);

    int st = read_f32(path, &x, msg, len);
    if (st != GRAFT_CHECK_PASS) {
        status = st;
        goto done;
    }
    if (x.rank != 4 || x.shape[1] != 3) {
        graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s: input is not (N, 3, H, W)", path);
        goto done;
    }
    for (int o = 0; o < TV_OUTPUTS; o++) {
        snprintf(path, sizeof path, "%s/%s.%s%s.npy", dir, model, set, tv_outputs[o]);
        st = read_f32(path, &refs[o], msg, len);
        if (st != GRAFT_CHECK_PASS) {
            status = st;
            goto done;
        }
    }
    int err = graft_model_load(onnx_path, NULL, &m);
    if (err != GRAFT_OK) {
        graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s: graft_model_load: %s: %s", label,
            graft_err_name(err), graft_last_error());
        goto done;
    }
    int N = (int)x.shape[0], H = (int)x.shape[2], W = (int)x.shape[3];
    err = graft_net_create(m, N, H, W, tv_outputs, TV_OUTPUTS, NULL, &net);
    if (err != GRAFT_OK) {
        graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s: graft_net_create(%d, %d, %d): %s: %s", label, N,
            H, W, graft_err_name(err), graft_last_error());
        goto done;
    }
    err = graft_net_run(net, x.data, GRAFT_LAYOUT_NCHW);
    if (err != GRAFT_OK) {
        graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s: graft_net_run: %s: %s", label, graft_err_name(err),
            graft_last_error());
        goto done;
    }
    msg[0] = '\0';
    int all_ok = 1;
    for (int o = 0; o < TV_OUTPUTS; o++)
        all_ok &= check_tap(net, o, &refs[o], 1, 0, TV_ATOL, TV_RTOL, label, msg, len);
    status = all_ok ? GRAFT_CHECK_PASS : GRAFT_CHECK_FAIL;

done:
    graft_net_destroy(net);
    graft_model_destroy(m);
    for (int o = 0; o < TV_OUTPUTS; o++) graft_npy_free(&refs[o]);
    graft_npy_free(&x);
    if (status == GRAFT_CHECK_FAIL) {
        printf("models: %-36s FAIL: %s\n", label, msg);
        fflush(stdout);
    }
    return status;
}

/* Both opsets of one model, as one check per opset. */
#define TV_CHECKS(model)                                                                       \
    static int check_##model##_opset13(char *msg, size_t len) {                                \
        return check_torchvision(#model, 13, "", msg, len);                                    \
    }                                                                                          \
    static int check_##model##_opset17(char *msg, size_t len) {                                \
        return check_torchvision(#model, 17, "", msg, len);                                    \
    }
#define TV_CHECKS_AT(model, size)                                                              \
    static int check_##model##_at_##size(char *msg, size_t len) {                              \
        return check_torchvision(#model, 13, #size "x" #size ".", msg, len);                   \
    }

TV_CHECKS(alexnet)
TV_CHECKS(vgg16)
TV_CHECKS(resnet18)
TV_CHECKS(resnet50)
TV_CHECKS(squeezenet1_1)
TV_CHECKS(densenet121)
TV_CHECKS(googlenet)
TV_CHECKS(inception_v3)
TV_CHECKS(mobilenet_v2)
TV_CHECKS(mobilenet_v3_small)
TV_CHECKS(mobilenet_v3_large)
TV_CHECKS(shufflenet_v2_x1_0)
TV_CHECKS(efficientnet_b0)
TV_CHECKS(regnet_y_400mf)
TV_CHECKS(mnasnet1_0)
TV_CHECKS_AT(resnet18, 160)
TV_CHECKS_AT(mobilenet_v2, 160)
TV_CHECKS_AT(squeezenet1_1, 160)
TV_CHECKS_AT(alexnet, 256)
TV_CHECKS_AT(vgg16, 256)

/*
 * The weight budget (model.c, pack_weights): VGG-16's weights as loaded stay within 1.2x its
 * parameters' float bytes, so it gives up some Winograd transforms; ResNet-50, below the 256 MB
 * floor, keeps all of them (over 1.5x).
 */
static int weight_ratio(const char *model, double *ratio, char *msg, size_t len) {
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/%s.opset13.onnx", models_dir(), model);
    if (!graft_check_file_exists(path))
        return graft_check_say(msg, len, GRAFT_CHECK_SKIP,
                               "%s is absent: run `make models` or set GRAFT_MODELS_DIR", path);
    graft_model *m = NULL;
    graft_net *net = NULL;
    const char *out = "logits";
    int err = graft_model_load(path, NULL, &m);
    if (!err) err = graft_net_create(m, 1, 224, 224, &out, 1, NULL, &net);
    int64_t params = 0;
    for (int i = 0; !err && i < graft_net_node_count(net); i++) {
        graft_node_info info;
        if (!(err = graft_net_node_info(net, i, &info))) params += info.params;
    }
    if (!err) *ratio = (double)graft_model_weight_bytes(m) / ((double)params * sizeof(float));
    graft_net_destroy(net);
    graft_model_destroy(m);
    if (err)
        return graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s: %s: %s", path,
                               graft_err_name(err), graft_last_error());
    printf("models: %s weights as loaded: %.3fx their float32 parameters\n", model, *ratio);
    return GRAFT_CHECK_PASS;
}

static int check_weight_budget(char *msg, size_t len) {
    double vgg, resnet;
    int st = weight_ratio("vgg16", &vgg, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    if ((st = weight_ratio("resnet50", &resnet, msg, len)) != GRAFT_CHECK_PASS) return st;
    if (vgg > 1.2)
        return graft_check_say(msg, len, GRAFT_CHECK_FAIL,
                               "vgg16 loads %.3fx its parameters' bytes, budget 1.2x", vgg);
    if (resnet < 1.5)
        return graft_check_say(msg, len, GRAFT_CHECK_FAIL,
                               "resnet50 loads only %.3fx its parameters' bytes: it lost "
                               "Winograd transforms the 256 MB floor allows", resnet);
    return GRAFT_CHECK_PASS;
}

/* ---- the shared pretrained MobileNets -------------------------------------------------- */

static const char *const shared_images[] = {"cat", "bird", "grace_hopper", "hot_dog"};
enum { SHARED_IMAGES = 4 };

typedef struct shared_model {
    const char *file;     /* models/<file>.onnx; also the references' <model> part */
    int size;             /* input H = W */
    const char *outputs[3];
    int output_count;
    int logits;           /* index of the class-score output, -1 for the embedding model */
    int top1[SHARED_IMAGES]; /* verification.json's float_top5[0], per shared_images[] */
} shared_model;

/*
 * From ../shared/models/verification.json (models.*.images.*.float_top5, first entry): the
 * float model's top-1 on the PIL-bilinear inputs. mobilenet_v2: cat 286, bird 20, grace_hopper
 * 653, hot_dog 935, the labels the README lists as expected too. mobilenet_v1_0.25_128 misses
 * the expected labels on three images (the README says so); graft must reproduce the float
 * model, so its float top-1 is what is checked.
 */
static const shared_model shared_models[] = {
    {"mobilenet_v2_1.0_224", 224, {"probs", "features", "logits"}, 3, 2, {286, 20, 653, 935}},
    {"mobilenet_v1_0.25_128", 128, {"probs", "features", "logits"}, 3, 2, {286, 20, 401, 39}},
    {"mobilenet_v1_1.0_224_embedding", 224, {"embedding"}, 1, -1, {0, 0, 0, 0}},
};

static int argmax(const float *x, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int)best;
}

/*
 * Runs `sm` on the images [first, first + count) as one batch and checks every output of every
 * image, and the top-1 class. refs[img][o] are the references.
 */
static int shared_run(graft_model *m, const shared_model *sm, int first, int count,
                      graft_npy inputs[SHARED_IMAGES], graft_npy refs[SHARED_IMAGES][3],
                      char *msg, size_t len) {
    char label[128];
    snprintf(label, sizeof label, "%s batch %d", sm->file, count);
    size_t image_floats = inputs[0].count;
    float *x = malloc(sizeof(float) * image_floats * (size_t)count);
    if (!x) return graft_check_say(msg, len, GRAFT_CHECK_FAIL, "out of memory");
    for (int i = 0; i < count; i++)
        memcpy(x + (size_t)i * image_floats, inputs[first + i].data,
               sizeof(float) * image_floats);

    int ok = 1;
    graft_net *net = NULL;
    int err = graft_net_create(m, count, sm->size, sm->size, sm->outputs, sm->output_count,
                               NULL, &net);
    if (err == GRAFT_OK) err = graft_net_run(net, x, GRAFT_LAYOUT_NCHW);
    if (err != GRAFT_OK) {
        graft_check_append(msg, len, "%s: %s: %s; ", label, graft_err_name(err),
                           graft_last_error());
        ok = 0;
        goto done;
    }
    for (int i = 0; i < count; i++) {
        int img = first + i;
        char img_label[160];
        snprintf(img_label, sizeof img_label, "%s %s", sm->file, shared_images[img]);
        for (int o = 0; o < sm->output_count; o++)
            ok &= check_tap(net, o, &refs[img][o], 0, i, SHARED_MAXDIFF, 0.0, img_label, msg,
                            len);
        if (sm->logits < 0) continue;
        const float *logits;
        int rank;
        int64_t dims[GRAFT_MODEL_MAX_RANK];
        if (graft_net_tap(net, sm->logits, &logits, &rank, dims) != GRAFT_OK || rank != 2) {
            graft_check_append(msg, len, "%s: no logits tap; ", img_label);
            ok = 0;
            continue;
        }
        size_t K = (size_t)dims[1];
        int top = argmax(logits + (size_t)i * K, K);
        int ref_top = argmax(refs[img][sm->logits].data, refs[img][sm->logits].count);
        printf("models: %-36s top-1 %d (expected %d, reference logits' %d)\n", img_label, top,
               sm->top1[img], ref_top);
        if (top != sm->top1[img] || top != ref_top) {
            graft_check_append(msg, len,
                               "%s: top-1 %d, expected %d (reference logits' argmax %d); ",
                               img_label, top, sm->top1[img], ref_top);
            ok = 0;
        }
    }
done:
    graft_net_destroy(net);
    free(x);
    return ok;
}

static int check_shared(const shared_model *sm, char *msg, size_t len) {
    const char *dir = shared_dir();
    char onnx_path[PATH_BYTES], path[PATH_BYTES];
    snprintf(onnx_path, sizeof onnx_path, "%s/models/%s.onnx", dir, sm->file);
    if (!graft_check_file_exists(onnx_path)) {
        printf("models: %-36s skipped: %s absent (set GRAFT_SHARED)\n", sm->file, onnx_path);
        return graft_check_say(msg, len, GRAFT_CHECK_SKIP,
                   "%s is absent: the shared models live in GRAFT_SHARED (default ../shared)",
                   onnx_path);
    }
    int status = GRAFT_CHECK_FAIL;
    graft_model *m = NULL;
    graft_npy inputs[SHARED_IMAGES], refs[SHARED_IMAGES][3];
    memset(inputs, 0, sizeof inputs);
    memset(refs, 0, sizeof refs);

    for (int img = 0; img < SHARED_IMAGES; img++) {
        snprintf(path, sizeof path, "%s/models/images/%s.%dx%d.input.npy", dir,
                 shared_images[img], sm->size, sm->size);
        int st = read_f32(path, &inputs[img], msg, len);
        if (st != GRAFT_CHECK_PASS) {
            status = st;
            goto done;
        }
        if (inputs[img].count != (size_t)3 * sm->size * sm->size) {
            graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s: not (1, 3, %d, %d)", path, sm->size, sm->size);
            goto done;
        }
        for (int o = 0; o < sm->output_count; o++) {
            snprintf(path, sizeof path, "%s/models/images/%s.%s.%s.npy", dir,
                     shared_images[img], sm->file, sm->outputs[o]);
            st = read_f32(path, &refs[img][o], msg, len);
            if (st != GRAFT_CHECK_PASS) {
                status = st;
                goto done;
            }
        }
    }
    int err = graft_model_load(onnx_path, NULL, &m);
    if (err != GRAFT_OK) {
        graft_check_say(msg, len, GRAFT_CHECK_FAIL, "%s: graft_model_load: %s: %s", onnx_path,
            graft_err_name(err), graft_last_error());
        goto done;
    }
    msg[0] = '\0';
    /* All four images as one batch, then the first alone: a batch must not change a row. */
    int ok = shared_run(m, sm, 0, SHARED_IMAGES, inputs, refs, msg, len);
    ok &= shared_run(m, sm, 0, 1, inputs, refs, msg, len);
    status = ok ? GRAFT_CHECK_PASS : GRAFT_CHECK_FAIL;
done:
    graft_model_destroy(m);
    for (int img = 0; img < SHARED_IMAGES; img++) {
        graft_npy_free(&inputs[img]);
        for (int o = 0; o < 3; o++) graft_npy_free(&refs[img][o]);
    }
    if (status == GRAFT_CHECK_FAIL) {
        printf("models: %-36s FAIL: %s\n", sm->file, msg);
        fflush(stdout);
    }
    return status;
}

static int check_shared_mobilenet_v2(char *msg, size_t len) {
    return check_shared(&shared_models[0], msg, len);
}
static int check_shared_mobilenet_v1_025(char *msg, size_t len) {
    return check_shared(&shared_models[1], msg, len);
}
static int check_shared_mobilenet_v1_embedding(char *msg, size_t len) {
    return check_shared(&shared_models[2], msg, len);
}

/* ---- the table ------------------------------------------------------------------------- */

#define TV_ENTRIES(model)                                                                      \
    {"models", #model "_opset13", check_##model##_opset13},                                    \
        {"models", #model "_opset17", check_##model##_opset17}

const graft_check graft_checks_models[] = {
    TV_ENTRIES(alexnet),
    TV_ENTRIES(vgg16),
    TV_ENTRIES(resnet18),
    TV_ENTRIES(resnet50),
    TV_ENTRIES(squeezenet1_1),
    TV_ENTRIES(densenet121),
    TV_ENTRIES(googlenet),
    TV_ENTRIES(inception_v3),
    TV_ENTRIES(mobilenet_v2),
    TV_ENTRIES(mobilenet_v3_small),
    TV_ENTRIES(mobilenet_v3_large),
    TV_ENTRIES(shufflenet_v2_x1_0),
    TV_ENTRIES(efficientnet_b0),
    TV_ENTRIES(regnet_y_400mf),
    TV_ENTRIES(mnasnet1_0),
    {"models", "resnet18_at_160", check_resnet18_at_160},
    {"models", "mobilenet_v2_at_160", check_mobilenet_v2_at_160},
    {"models", "squeezenet1_1_at_160", check_squeezenet1_1_at_160},
    {"models", "alexnet_at_256", check_alexnet_at_256},
    {"models", "vgg16_at_256", check_vgg16_at_256},
    {"models", "weight_budget", check_weight_budget},
    {"models", "shared_mobilenet_v2", check_shared_mobilenet_v2},
    {"models", "shared_mobilenet_v1_025", check_shared_mobilenet_v1_025},
    {"models", "shared_mobilenet_v1_embedding", check_shared_mobilenet_v1_embedding},
    {NULL, NULL, NULL},
};
