/*
 * tests/finetune/check_torch_grads.c: graft's trainable top (include/graft/finetune.h) against
 * PyTorch autograd, and its ONNX export against three runtimes.
 *
 * 1. Gradients. tests/finetune/gen_grads.py writes small seeded networks (a CNN with
 *    asymmetric, dilated, strided and grouped convolutions, pooling both ways and ReLU6; a
 *    MobileNetV2 stem and two torchvision InvertedResidual blocks; an inception-like Concat of
 *    branches with SiLU, Sigmoid, Tanh, LeakyReLU, HardSigmoid and HardSwish; the CNN again
 *    with label smoothing 0.1 and with the hinge loss; AveragePool counting its padding,
 *    exported as Pad + AveragePool; AlexNet's Conv + ReLU + LRN + MaxPool, twice, as ONNX LRN
 *    nodes of sizes 5 and 3, and of even sizes 4 and 2) with float64 PyTorch logits, loss and
 *    gradients of every parameter, the input and the freeze tensor into $(BUILD)/finetune (`make
 *    finetune-fixtures`; GRAFT_FINETUNE_DIR overrides). Each case is loaded with batch norm
 *    unfused, so graft's parameters are the state_dict's by name, and the top is built with
 *    nothing frozen (the input gradient compared too) and again frozen at the case's freeze
 *    tensor (fed by a graft_net tap of it; exactly the parameters downstream of it train, and
 *    the gradient at the freeze tensor is compared). The new classifier gets the network's fc
 *    weights, so its gradients are grad.fc.*. Logits within 1e-4 + 1e-4|ref|, the loss within
 *    1e-5 relative, every gradient within 1e-4 * max|ref| + 1e-7 of its tensor. This for every
 *    ISA the CPU has and 1 and 2 threads; the two thread counts must give the same bits.
 * 2. Export. After three SGD steps (momentum, weight decay) with a partial freeze,
 *    graft_top_export_onnx() writes the cut model plus the trained top; its "logits" output
 *    from the image, run by graft (graft_model_load + graft_net), by PyTorch
 *    (tests/finetune/torch_run_onnx.py under /usr/bin/python3; skipped when torch or onnx is
 *    missing) and by ONNX Runtime (tests/pipeline/ort_export.js with onnxruntime-node from
 *    $(BUILD)/node_modules; skipped when absent, and for even LRN sizes, which its CPU LRN
 *    refuses), must match graft_top_forward()'s logits within 1e-4 + 1e-4|ref|. Once with
 *    batch norm unfused, once fused (the default load).
 *
 * A missing fixture directory is a skip naming the make target. Every check prints one line
 * per run with its worst differences, passing or not.
 *
 * Not here: finite-difference checks of single layers (the backward kernels' own tests),
 * checkpoints, the CLI, speed (bench/bench_finetune.c).
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "graft/finetune.h"
#include "graft/graft.h"
#include "graft/model.h"
#include "graft/npy.h"

#ifndef GRAFT_BUILD_DIR
#define GRAFT_BUILD_DIR "build"
#endif

/* Logits: |got - ref| <= ATOL + RTOL |ref|. Gradients: |got - ref| <= GRAD_RTOL max|ref| +
   GRAD_ATOL over each tensor. Loss: relative. */
#define LOGITS_RTOL 1e-4
#define LOGITS_ATOL 1e-4
#define GRAD_RTOL 1e-4
#define GRAD_ATOL 1e-7
#define LOSS_RTOL 1e-5

enum { PATH_BYTES = 1024, NAMES_MAX = 64, NAME_BYTES = 128 };

static const char *fixtures_dir(void) {
    const char *d = getenv("GRAFT_FINETUNE_DIR");
    return d && d[0] ? d : GRAFT_BUILD_DIR "/finetune";
}

/* ---- a case as gen_grads.py describes it ------------------------------------------------ */

typedef struct ft_case {
    char dir[PATH_BYTES];
    char onnx[PATH_BYTES + NAME_BYTES];
    int N, C, H, W, K;
    graft_top_loss loss;
    float smoothing;
    char freeze[NAME_BYTES];
    char params[NAMES_MAX][NAME_BYTES]; /* every parameter but fc's */
    int n_params;
    char after[NAMES_MAX][NAME_BYTES];  /* those downstream of the freeze tensor */
    int n_after;
    graft_npy x, labels, logits, loss_ref, input_grad, freeze_grad, fc_w, fc_b;
    int *label_ints;                    /* (N) */
} ft_case;

static void case_free(ft_case *c) {
    graft_npy_free(&c->x);
    graft_npy_free(&c->labels);
    graft_npy_free(&c->logits);
    graft_npy_free(&c->loss_ref);
    graft_npy_free(&c->input_grad);
    graft_npy_free(&c->freeze_grad);
    graft_npy_free(&c->fc_w);
    graft_npy_free(&c->fc_b);
    free(c->label_ints);
    c->label_ints = NULL;
}

/* Reads "<count> name..." after a key into names; returns the count or -1. */
static int read_names(char *rest, char names[][NAME_BYTES]) {
    char *save = NULL;
    char *tok = strtok_r(rest, " \n", &save);
    if (!tok) return -1;
    int n = atoi(tok);
    if (n < 0 || n > NAMES_MAX) return -1;
    for (int i = 0; i < n; i++) {
        tok = strtok_r(NULL, " \n", &save);
        if (!tok || strlen(tok) >= NAME_BYTES) return -1;
        strcpy(names[i], tok);
    }
    return n;
}

static int read_f32(const char *dir, const char *file, graft_npy *out, char *msg, size_t len) {
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int err = graft_npy_read(path, out);
    if (err != GRAFT_OK)
        return graft_check_fail(msg, len, "%s: %s", path, graft_last_error());
    if (out->dtype != GRAFT_NPY_DTYPE_F32) {
        graft_npy_free(out);
        return graft_check_fail(msg, len, "%s: not float32", path);
    }
    return GRAFT_CHECK_PASS;
}

/* Loads case `name`: SKIP when the fixtures are absent, FAIL when they are malformed. */
static int case_load(const char *name, ft_case *c, char *msg, size_t len) {
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s/%s", fixtures_dir(), name);
    char path[PATH_BYTES + 32];
    snprintf(path, sizeof path, "%s/stamp", c->dir);
    if (!graft_check_file_exists(path)) {
        printf("torch_grads: %-22s skipped: %s absent (make finetune-fixtures)\n", name, path);
        return graft_check_say(msg, len, GRAFT_CHECK_SKIP,
                               "%s is absent: run `make finetune-fixtures` (or set "
                               "GRAFT_FINETUNE_DIR)", path);
    }
    snprintf(path, sizeof path, "%s/case.txt", c->dir);
    FILE *f = fopen(path, "r");
    if (!f) return graft_check_fail(msg, len, "%s: cannot open", path);
    char line[16384];
    int fields = 0;
    c->n_params = c->n_after = -1;
    while (fgets(line, sizeof line, f)) {
        char key[32];
        int off = 0;
        if (sscanf(line, "%31s %n", key, &off) != 1) continue;
        char *rest = line + off;
        rest[strcspn(rest, "\n")] = '\0';
        fields++;
        if (!strcmp(key, "onnx"))
            snprintf(c->onnx, sizeof c->onnx, "%s/%.*s", c->dir, NAME_BYTES - 1, rest);
        else if (!strcmp(key, "N")) c->N = atoi(rest);
        else if (!strcmp(key, "C")) c->C = atoi(rest);
        else if (!strcmp(key, "H")) c->H = atoi(rest);
        else if (!strcmp(key, "W")) c->W = atoi(rest);
        else if (!strcmp(key, "K")) c->K = atoi(rest);
        else if (!strcmp(key, "loss"))
            c->loss = !strcmp(rest, "hinge") ? GRAFT_TOP_LOSS_HINGE : GRAFT_TOP_LOSS_SOFTMAX;
        else if (!strcmp(key, "smoothing")) c->smoothing = strtof(rest, NULL);
        else if (!strcmp(key, "freeze")) snprintf(c->freeze, sizeof c->freeze, "%s", rest);
        else if (!strcmp(key, "params")) c->n_params = read_names(rest, c->params);
        else if (!strcmp(key, "after")) c->n_after = read_names(rest, c->after);
    }
    fclose(f);
    if (c->N < 1 || c->C < 1 || c->H < 1 || c->W < 1 || c->K < 2 || !c->freeze[0] ||
        c->n_params < 0 || c->n_after < 0 || !c->onnx[0])
        return graft_check_fail(msg, len, "%s: incomplete (%d fields)", path, fields);

    int st;
    if ((st = read_f32(c->dir, "input.npy", &c->x, msg, len)) ||
        (st = read_f32(c->dir, "logits.npy", &c->logits, msg, len)) ||
        (st = read_f32(c->dir, "loss.npy", &c->loss_ref, msg, len)) ||
        (st = read_f32(c->dir, "input_grad.npy", &c->input_grad, msg, len)) ||
        (st = read_f32(c->dir, "freeze_grad.npy", &c->freeze_grad, msg, len)) ||
        (st = read_f32(c->dir, "fc.weight.npy", &c->fc_w, msg, len)) ||
        (st = read_f32(c->dir, "fc.bias.npy", &c->fc_b, msg, len)))
        return st;
    snprintf(path, sizeof path, "%s/labels.npy", c->dir);
    if (graft_npy_read(path, &c->labels) != GRAFT_OK)
        return graft_check_fail(msg, len, "%s: %s", path, graft_last_error());
    if (c->labels.count != (size_t)c->N ||
        (c->labels.dtype != GRAFT_NPY_DTYPE_I64 && c->labels.dtype != GRAFT_NPY_DTYPE_I32))
        return graft_check_fail(msg, len, "%s: not (N) int64/int32", path);
    c->label_ints = malloc(sizeof(int) * (size_t)c->N);
    if (!c->label_ints) return graft_check_fail(msg, len, "out of memory");
    for (int i = 0; i < c->N; i++)
        c->label_ints[i] = c->labels.dtype == GRAFT_NPY_DTYPE_I64
                               ? (int)((const int64_t *)c->labels.data)[i]
                               : ((const int32_t *)c->labels.data)[i];
    size_t image = (size_t)c->C * c->H * c->W;
    if (c->x.count != (size_t)c->N * image || c->input_grad.count != c->x.count ||
        c->logits.count != (size_t)c->N * c->K || c->fc_b.count != (size_t)c->K ||
        c->fc_w.rank != 2 || c->fc_w.shape[0] != (size_t)c->K)
        return graft_check_fail(msg, len, "%s: shapes disagree with case.txt", c->dir);
    return GRAFT_CHECK_PASS;
}

/* ---- comparing -------------------------------------------------------------------------- */

/* Worst |got - ref| / (atol + rtol * scale_i) over a tensor, where scale_i is |ref_i| for
   elementwise tolerances and max|ref| for per-tensor ones. Above 1 fails; NaN is infinite. */
static double tol_frac(const float *got, const float *ref, size_t count, double atol,
                       double rtol, int per_tensor, size_t *worst) {
    double scale = 0.0;
    if (per_tensor)
        for (size_t i = 0; i < count; i++) scale = fmax(scale, fabs((double)ref[i]));
    double frac_max = 0.0;
    *worst = 0;
    for (size_t i = 0; i < count; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        double frac = d / (atol + rtol * (per_tensor ? scale : fabs((double)ref[i])));
        if (!(frac == frac)) frac = INFINITY;
        if (frac > frac_max) {
            frac_max = frac;
            *worst = i;
        }
    }
    return frac_max;
}

/* Compares one tensor, appends a note on failure, and keeps the run's worst fraction. */
static int compare(const char *what, const float *got, const float *ref, size_t count,
                   int per_tensor, double *worst_frac, char *worst_name, char *msg,
                   size_t len) {
    size_t at;
    double atol = per_tensor ? GRAD_ATOL : LOGITS_ATOL;
    double rtol = per_tensor ? GRAD_RTOL : LOGITS_RTOL;
    double frac = tol_frac(got, ref, count, atol, rtol, per_tensor, &at);
    if (frac > *worst_frac || !(frac == frac)) {
        *worst_frac = frac;
        snprintf(worst_name, NAME_BYTES, "%s", what);
    }
    if (frac <= 1.0) return 1;
    double maxref = 0.0;
    for (size_t i = 0; i < count; i++) maxref = fmax(maxref, fabs((double)ref[i]));
    printf("torch_grads:   %s: %.3g of tolerance, worst at %zu of %zu: got %.7g ref %.7g (max|ref| "
           "%.3g)\n", what, frac, at, count, (double)got[at], (double)ref[at], maxref);
    graft_check_append(msg, len,
                       "%s: %.3g of tolerance, worst at %zu: got %.7g ref %.7g (max|ref| %.3g); ",
                       what, frac, at, (double)got[at], (double)ref[at], maxref);
    return 0;
}

/* ---- one run: one ISA, one thread count, full or partial freeze -------------------------- */

/* What a run keeps for the thread-count comparison: every gradient, concatenated. */
typedef struct run_bits {
    float *data;
    size_t count;
} run_bits;

static graft_top_param *find_param(graft_top *t, const char *name) {
    for (int i = 0; i < graft_top_param_count(t); i++) {
        graft_top_param *p = graft_top_param_get(t, i);
        if (p && !strcmp(p->name, name)) return p;
    }
    return NULL;
}

static int in_list(const char (*names)[NAME_BYTES], int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return 1;
    return 0;
}

/*
 * Builds the top of c at `partial` (0: nothing frozen), runs forward and backward once and
 * compares everything; bits gets the gradients. Returns 1 when all agree.
 */
static int run_case(const ft_case *c, int partial, const char *label, run_bits *bits,
                    char *msg, size_t len) {
    int ok = 0;
    graft_model *m = NULL;
    graft_net *net = NULL;
    graft_top *t = NULL;
    graft_npy g = {0};
    float *x_top = NULL;
    double worst = 0.0;
    char worst_name[NAME_BYTES] = "";
    graft_model_options mo = {.no_fuse = 1, .keep_weights = 1};
    int err = graft_model_load(c->onnx, &mo, &m);
    if (err != GRAFT_OK) {
        graft_check_append(msg, len, "%s: graft_model_load: %s: %s; ", label, graft_err_name(err),
                           graft_last_error());
        goto done;
    }
    size_t top_in = (size_t)c->C * c->H * c->W; /* floats per image into the top */
    const float *xin = c->x.data;
    if (partial) {
        const char *taps[1] = {c->freeze};
        const float *tap;
        int rank;
        int64_t dims[GRAFT_MODEL_MAX_RANK];
        err = graft_net_create(m, c->N, c->H, c->W, taps, 1, NULL, &net);
        if (!err) err = graft_net_run(net, c->x.data, GRAFT_LAYOUT_NCHW);
        if (!err) err = graft_net_tap(net, 0, &tap, &rank, dims);
        if (err) {
            graft_check_append(msg, len, "%s: trunk to %s: %s: %s; ", label, c->freeze,
                               graft_err_name(err), graft_last_error());
            goto done;
        }
        top_in = 1;
        for (int d = 1; d < rank; d++) top_in *= (size_t)dims[d];
        if (top_in * (size_t)c->N != c->freeze_grad.count) {
            graft_check_append(msg, len, "%s: tap %s has %zu floats per image, PyTorch's %zu; ",
                               label, c->freeze, top_in, c->freeze_grad.count / (size_t)c->N);
            goto done;
        }
        x_top = malloc(sizeof(float) * top_in * (size_t)c->N);
        if (!x_top) goto done;
        memcpy(x_top, tap, sizeof(float) * top_in * (size_t)c->N);
        xin = x_top;
    }
    graft_top_options o = {0};
    o.freeze_until = partial ? c->freeze : GRAFT_TOP_FREEZE_NONE;
    o.classes = c->K;
    o.input_grad = 1;
    o.seed = 1;
    err = graft_top_create(m, c->N, c->H, c->W, &o, &t);
    if (err != GRAFT_OK) {
        graft_check_append(msg, len, "%s: graft_top_create: %s: %s; ", label, graft_err_name(err),
                           graft_last_error());
        goto done;
    }
    /* The top's input and parameters must be exactly what PyTorch's graph says. */
    const char *in_name = graft_top_input_name(t);
    if (partial && (!in_name || strcmp(in_name, c->freeze))) {
        graft_check_append(msg, len, "%s: top input %s, expected %s; ", label,
                           in_name ? in_name : "NULL", c->freeze);
        goto done;
    }
    if (graft_top_classes(t) != c->K || graft_top_features(t) != c->fc_w.shape[1]) {
        graft_check_append(msg, len, "%s: K %d, D %zu; expected %d, %zu; ", label,
                           graft_top_classes(t), graft_top_features(t), c->K, c->fc_w.shape[1]);
        goto done;
    }
    const char(*want)[NAME_BYTES] = partial ? c->after : c->params;
    int n_want = partial ? c->n_after : c->n_params;
    int seen = 0, fail = 0;
    graft_top_param *cw = NULL, *cb = NULL;
    for (int i = 0; i < graft_top_param_count(t); i++) {
        graft_top_param *p = graft_top_param_get(t, i);
        if (p->is_new) {
            if (!strcmp(p->name, "graft_classifier.weight")) cw = p;
            else if (!strcmp(p->name, "graft_classifier.bias")) cb = p;
            else
                graft_check_append(msg, len, "%s: unexpected new parameter %s; ", label, p->name),
                    fail = 1;
            continue;
        }
        if (!in_list(want, n_want, p->name)) {
            graft_check_append(msg, len, "%s: graft trains %s, PyTorch's graph says it is %s; ",
                               label, p->name,
                               partial ? "before the freeze point" : "no parameter");
            fail = 1;
        }
        seen++;
    }
    for (int i = 0; i < n_want; i++)
        if (!find_param(t, want[i])) {
            graft_check_append(msg, len, "%s: %s does not train in graft; ", label, want[i]);
            fail = 1;
        }
    if (!cw || !cb || cw->numel != c->fc_w.count || cb->numel != c->fc_b.count) {
        graft_check_append(msg, len, "%s: no classifier of (%d, %zu); ", label, c->K,
                           c->fc_w.shape[1]);
        fail = 1;
    }
    if (fail) goto done;
    memcpy(cw->data, c->fc_w.data, sizeof(float) * cw->numel);
    memcpy(cb->data, c->fc_b.data, sizeof(float) * cb->numel);

    err = graft_top_forward(t, xin, c->N, 1);
    float loss = NAN;
    if (!err) err = graft_top_backward(t, c->label_ints, c->loss, c->smoothing, &loss);
    if (err) {
        graft_check_append(msg, len, "%s: forward/backward: %s: %s; ", label, graft_err_name(err),
                           graft_last_error());
        goto done;
    }
    int all = compare("logits", graft_top_logits(t), c->logits.data, c->logits.count, 0, &worst,
                      worst_name, msg, len);
    double ref_loss = ((const float *)c->loss_ref.data)[0];
    double loss_rel = fabs(loss - ref_loss) / fabs(ref_loss);
    if (!(loss_rel <= LOSS_RTOL)) {
        graft_check_append(msg, len, "%s: loss %.8g, PyTorch %.8g; ", label, loss, ref_loss);
        all = 0;
    }
    /* Gradients, in the top's order, into bits too. */
    size_t total = 0;
    for (int i = 0; i < graft_top_param_count(t); i++) total += graft_top_param_get(t, i)->numel;
    const float *ig = graft_top_input_grad(t);
    total += (size_t)c->N * top_in;
    bits->data = malloc(sizeof(float) * total);
    bits->count = total;
    if (!bits->data) goto done;
    size_t off = 0;
    for (int i = 0; i < graft_top_param_count(t); i++) {
        graft_top_param *p = graft_top_param_get(t, i);
        char file[NAME_BYTES + 16];
        snprintf(file, sizeof file, "grad.%s.npy",
                 p == cw ? "fc.weight" : p == cb ? "fc.bias" : p->name);
        graft_npy_free(&g);
        if (read_f32(c->dir, file, &g, msg, len) != GRAFT_CHECK_PASS) goto done;
        if (g.count != p->numel) {
            graft_check_append(msg, len, "%s: %s has %zu elements, PyTorch's %zu; ", label, p->name,
                               p->numel, g.count);
            all = 0;
            continue;
        }
        all &= compare(p->name, p->grad, g.data, g.count, 1, &worst, worst_name, msg, len);
        memcpy(bits->data + off, p->grad, sizeof(float) * p->numel);
        off += p->numel;
    }
    const graft_npy *ig_ref = partial ? &c->freeze_grad : &c->input_grad;
    if (!ig) {
        graft_check_append(msg, len, "%s: no input gradient; ", label);
        all = 0;
    } else {
        all &= compare(partial ? "freeze tensor grad" : "input grad", ig, ig_ref->data,
                       ig_ref->count, 1, &worst, worst_name, msg, len);
        memcpy(bits->data + off, ig, sizeof(float) * ig_ref->count);
        off += ig_ref->count;
    }
    bits->count = off;
    printf("torch_grads: %-36s %2d params, loss %.7g (rel %.2g), worst %.3g of tolerance (%s)%s\n",
           label, seen + 2, loss, loss_rel, worst, worst_name, all ? "" : "  FAIL");
    fflush(stdout);
    ok = all;
done:
    graft_npy_free(&g);
    graft_top_destroy(t);
    graft_net_destroy(net);
    graft_model_destroy(m);
    free(x_top);
    return ok;
}

/* Every ISA this CPU has, 1 and 2 threads; the thread counts must agree bit for bit. */
static int check_case(const char *name, int partial, char *msg, size_t len) {
    ft_case c;
    int st = case_load(name, &c, msg, len);
    if (st != GRAFT_CHECK_PASS) {
        case_free(&c);
        return st;
    }
    msg[0] = '\0';
    graft_isa isa0 = GRAFT_ISA_AUTO;
    graft_isa_current(&isa0);
    int threads0 = graft_threads_get();
    static const graft_isa isas[] = {GRAFT_ISA_SCALAR, GRAFT_ISA_AVX2, GRAFT_ISA_AVX512,
                                     GRAFT_ISA_NEON};
    static const int threads[] = {1, 2};
    int ok = 1, runs = 0;
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        if (!graft_isa_available(isas[i]) || graft_isa_set(isas[i]) != GRAFT_OK) continue;
        run_bits bits[2] = {{NULL, 0}, {NULL, 0}};
        for (int k = 0; k < 2; k++) {
            if (graft_threads_set(threads[k]) != GRAFT_OK) continue;
            char label[128];
            snprintf(label, sizeof label, "%s%s %s t%d", name, partial ? " partial" : "",
                     graft_isa_name(isas[i]), threads[k]);
            int run_ok = run_case(&c, partial, label, &bits[k], msg, len);
            ok &= run_ok;
            runs++;
            if (!run_ok) break; /* the other runs would mostly repeat the message */
        }
        if (bits[0].data && bits[1].data &&
            (bits[0].count != bits[1].count ||
             memcmp(bits[0].data, bits[1].data, sizeof(float) * bits[0].count))) {
            graft_check_append(msg, len, "%s %s: 1 and 2 threads give different gradients; ", name,
                               graft_isa_name(isas[i]));
            ok = 0;
        }
        free(bits[0].data);
        free(bits[1].data);
    }
    graft_isa_set(isa0);
    graft_threads_set(threads0);
    case_free(&c);
    if (!ok) {
        printf("torch_grads: %s%s FAIL: %s\n", name, partial ? " partial" : "", msg);
        return GRAFT_CHECK_FAIL;
    }
    return graft_check_say(msg, len, GRAFT_CHECK_PASS, "%d runs agree with PyTorch", runs);
}

#define CASE_CHECKS(name)                                                                      \
    static int check_##name(char *msg, size_t len) { return check_case(#name, 0, msg, len); } \
    static int check_##name##_partial(char *msg, size_t len) {                                 \
        return check_case(#name, 1, msg, len);                                                 \
    }

CASE_CHECKS(cnn)
CASE_CHECKS(mbv2)
CASE_CHECKS(branches)
CASE_CHECKS(cnn_smooth)
CASE_CHECKS(cnn_hinge)
CASE_CHECKS(avgpool_pad)
CASE_CHECKS(shuffle)
CASE_CHECKS(lrn)
CASE_CHECKS(lrn_even)

/* ---- the export ------------------------------------------------------------------------- */

/* Reads a float32 .npy of `count` values into out; 0 or -1. */
static int read_values(const char *path, float *out, size_t count) {
    graft_npy a = {0};
    if (graft_npy_read(path, &a) != GRAFT_OK || a.dtype != GRAFT_NPY_DTYPE_F32 ||
        a.count != count) {
        graft_npy_free(&a);
        return -1;
    }
    memcpy(out, a.data, sizeof(float) * count);
    graft_npy_free(&a);
    return 0;
}

/* Compares exported logits from `who` with the top's; appends and returns 0 on failure. */
static int compare_logits(const char *who, const float *got, const float *ref, size_t count,
                          const char *label, char *msg, size_t len) {
    size_t at;
    double frac = tol_frac(got, ref, count, LOGITS_ATOL, LOGITS_RTOL, 0, &at);
    printf("torch_grads: %-36s %-11s %.3g of tolerance%s\n", label, who, frac,
           frac <= 1.0 ? "" : "  FAIL");
    if (frac <= 1.0) return 1;
    graft_check_append(msg, len, "%s: %s logit %zu: %.7g, graft_top_forward %.7g; ", label, who, at,
                       (double)got[at], (double)ref[at]);
    return 0;
}

static int check_export(const char *name, int fused, char *msg, size_t len) {
    ft_case c;
    int st = case_load(name, &c, msg, len);
    if (st != GRAFT_CHECK_PASS) {
        case_free(&c);
        return st;
    }
    msg[0] = '\0';
    char label[96], dir[PATH_BYTES], out[PATH_BYTES + 32], xnpy[PATH_BYTES + 32],
        ynpy[PATH_BYTES + 32], xraw[PATH_BYTES + 32];
    snprintf(label, sizeof label, "export %s%s", name, fused ? " fused" : "");
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/graft-ft-export-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        case_free(&c);
        return graft_check_fail(msg, len, "mkdtemp failed");
    }
    snprintf(out, sizeof out, "%s/exported.onnx", dir);
    snprintf(xnpy, sizeof xnpy, "%s/x.npy", dir);
    snprintf(ynpy, sizeof ynpy, "%s/y.npy", dir);
    snprintf(xraw, sizeof xraw, "%s/x.f32", dir);

    int ok = 0;
    graft_model *m = NULL, *e = NULL;
    graft_net *net = NULL, *enet = NULL;
    graft_top *t = NULL;
    size_t NK = (size_t)c.N * c.K;
    float *ref = calloc(NK, sizeof(float)), *before = calloc(NK, sizeof(float));
    float *got = calloc(NK, sizeof(float));
    const char *how = "graft";
    if (!ref || !before || !got) goto done;
    graft_model_options mo = {.no_fuse = !fused, .keep_weights = 1};
    const char *taps[1] = {c.freeze};
    const float *tap;
    int err = graft_model_load(c.onnx, &mo, &m);
    if (!err) err = graft_net_create(m, c.N, c.H, c.W, taps, 1, NULL, &net);
    if (!err) err = graft_net_run(net, c.x.data, GRAFT_LAYOUT_NCHW);
    if (!err) err = graft_net_tap(net, 0, &tap, NULL, NULL);
    graft_top_options o = {0};
    o.freeze_until = c.freeze;
    o.classes = c.K;
    o.seed = 7;
    if (!err) err = graft_top_create(m, c.N, c.H, c.W, &o, &t);
    if (!err) err = graft_top_forward(t, tap, c.N, 0);
    if (!err) memcpy(before, graft_top_logits(t), sizeof(float) * NK);
    for (int step = 0; step < 3 && !err; step++) {
        float loss;
        err = graft_top_forward(t, tap, c.N, 1);
        if (!err) err = graft_top_backward(t, c.label_ints, GRAFT_TOP_LOSS_SOFTMAX, 0.f, &loss);
        if (!err) err = graft_top_step(t, 0.05f, 0.9f, 1e-3f);
    }
    if (!err) err = graft_top_forward(t, tap, c.N, 0);
    if (err) {
        graft_check_append(msg, len, "%s: training: %s: %s; ", label, graft_err_name(err),
                           graft_last_error());
        goto done;
    }
    memcpy(ref, graft_top_logits(t), sizeof(float) * NK);
    double moved = 0.0;
    for (size_t i = 0; i < NK; i++) moved = fmax(moved, fabs((double)ref[i] - before[i]));
    if (!(moved > 1e-3)) {
        graft_check_append(msg, len, "%s: three SGD steps moved the logits by %.3g only; ", label,
                           moved);
        goto done;
    }
    err = graft_top_export_onnx(t, c.onnx, out, NULL);
    if (err) {
        graft_check_append(msg, len, "%s: graft_top_export_onnx: %s: %s; ", label,
                           graft_err_name(err), graft_last_error());
        goto done;
    }
    /* graft on the exported file, from the image. */
    const char *logits_tap[1] = {"logits"};
    const float *y;
    err = graft_model_load(out, NULL, &e);
    if (!err) err = graft_net_create(e, c.N, c.H, c.W, logits_tap, 1, NULL, &enet);
    if (!err) err = graft_net_run(enet, c.x.data, GRAFT_LAYOUT_NCHW);
    if (!err) err = graft_net_tap(enet, 0, &y, NULL, NULL);
    if (err) {
        graft_check_append(msg, len, "%s: graft on the export: %s: %s; ", label,
                           graft_err_name(err), graft_last_error());
        goto done;
    }
    int all = compare_logits("graft", y, ref, NK, label, msg, len);
    /* PyTorch, through the interpreter. */
    size_t shape[4] = {(size_t)c.N, (size_t)c.C, (size_t)c.H, (size_t)c.W};
    if (graft_npy_write(xnpy, GRAFT_NPY_DTYPE_F32, 4, shape, c.x.data) != GRAFT_OK) goto done;
    if (graft_check_run("/usr/bin/python3 -c 'import torch, onnx' >/dev/null 2>&1") == 0) {
        /* Its exit status is grep's: whether it wrote the output file is what tells. */
        graft_check_run("/usr/bin/python3 tests/finetune/torch_run_onnx.py %s %s %s logits 2>&1 | "
                        "grep -v Warning >&2",
                        out, xnpy, ynpy);
        if (!graft_check_file_exists(ynpy)) {
            graft_check_append(msg, len, "%s: torch_run_onnx.py failed; ", label);
            all = 0;
        } else if (read_values(ynpy, got, NK)) {
            graft_check_append(msg, len, "%s: torch_run_onnx.py wrote no (N, K) logits; ", label);
            all = 0;
        } else {
            all &= compare_logits("pytorch", got, ref, NK, label, msg, len);
            how = "graft, PyTorch";
        }
        if (graft_check_run(
                "/usr/bin/python3 -c 'import onnx, sys; onnx.checker.check_model(onnx.load("
                "sys.argv[1]), full_check=True)' %s",
                out)) {
            graft_check_append(msg, len, "%s: onnx.checker refused the export; ", label);
            all = 0;
        }
    } else {
        printf("torch_grads: %-36s pytorch     skipped (no torch/onnx in /usr/bin/python3)\n",
               label);
    }
    /* ONNX Runtime. */
    char node_modules[PATH_BYTES];
    snprintf(node_modules, sizeof node_modules, "%s/node_modules/onnxruntime-node",
             GRAFT_BUILD_DIR);
    if (!strcmp(name, "lrn_even")) {
        /* onnxruntime/core/providers/cpu/nn/lrn.h enforces size % 2 == 1. */
        printf("torch_grads: %-36s onnxruntime skipped (its LRN refuses even sizes)\n", label);
    } else if (access(node_modules, R_OK) == 0 &&
               graft_check_run("node --version >/dev/null 2>&1") == 0) {
        FILE *f = fopen(xraw, "wb");
        int wrote = f && fwrite(c.x.data, sizeof(float), c.x.count, f) == c.x.count;
        if (f) fclose(f);
        char cmd[4 * PATH_BYTES];
        snprintf(cmd, sizeof cmd,
                 "NODE_PATH=%s/node_modules node tests/pipeline/ort_export.js %s %s %d %d %d %d "
                 "logits 2>&1", GRAFT_BUILD_DIR, out, xraw, c.N, c.C, c.H, c.W);
        FILE *p = wrote ? popen(cmd, "r") : NULL;
        char *res = malloc(1 << 20);
        size_t n = 0;
        if (p && res) n = fread(res, 1, (1 << 20) - 1, p);
        int pst = p ? pclose(p) : -1;
        if (res) res[n] = '\0';
        if (!res || pst != 0) {
            graft_check_append(msg, len, "%s: ort_export.js failed: %.200s; ", label,
                               res ? res : "");
            all = 0;
        } else {
            char *q = res;
            size_t i = 0;
            for (; i < NK; i++) {
                char *end;
                got[i] = strtof(q, &end);
                if (end == q) break;
                q = end;
            }
            if (i != NK) {
                graft_check_append(msg, len, "%s: ONNX Runtime gave %zu logits, %zu expected; ",
                                   label, i, NK);
                all = 0;
            } else {
                all &= compare_logits("onnxruntime", got, ref, NK, label, msg, len);
                how = !strcmp(how, "graft") ? "graft, ONNX Runtime"
                                            : "graft, PyTorch, ONNX Runtime";
            }
        }
        free(res);
    } else {
        printf("torch_grads: %-36s onnxruntime skipped (no %s)\n", label, node_modules);
    }
    ok = all;
done:
    graft_net_destroy(enet);
    graft_model_destroy(e);
    graft_top_destroy(t);
    graft_net_destroy(net);
    graft_model_destroy(m);
    free(ref);
    free(before);
    free(got);
    case_free(&c);
    if (!ok) {
        if (!msg[0]) graft_check_append(msg, len, "%s: out of memory or I/O error", label);
        printf("torch_grads: %s FAIL: %s (files kept in %s)\n", label, msg, dir);
        return GRAFT_CHECK_FAIL;
    }
    graft_check_run("rm -rf '%s'", dir);
    return graft_check_say(msg, len, GRAFT_CHECK_PASS, "the export agrees in %s", how);
}

static int check_export_mbv2(char *msg, size_t len) { return check_export("mbv2", 0, msg, len); }
static int check_export_mbv2_fused(char *msg, size_t len) {
    return check_export("mbv2", 1, msg, len);
}
static int check_export_branches(char *msg, size_t len) {
    return check_export("branches", 0, msg, len);
}
static int check_export_shuffle(char *msg, size_t len) {
    return check_export("shuffle", 1, msg, len);
}
static int check_export_cnn_fused(char *msg, size_t len) {
    return check_export("cnn", 1, msg, len);
}
static int check_export_lrn_fused(char *msg, size_t len) {
    return check_export("lrn", 1, msg, len);
}
static int check_export_lrn_even(char *msg, size_t len) {
    return check_export("lrn_even", 0, msg, len);
}

#define CASE_ENTRIES(name)                                                                     \
    {"torch_grads", #name, check_##name}, {"torch_grads", #name "_partial", check_##name##_partial}

const graft_check graft_checks_torch_grads[] = {
    CASE_ENTRIES(cnn),
    CASE_ENTRIES(mbv2),
    CASE_ENTRIES(branches),
    CASE_ENTRIES(cnn_smooth),
    CASE_ENTRIES(cnn_hinge),
    CASE_ENTRIES(avgpool_pad),
    CASE_ENTRIES(shuffle),
    CASE_ENTRIES(lrn),
    CASE_ENTRIES(lrn_even),
    {"torch_grads", "export_mbv2", check_export_mbv2},
    {"torch_grads", "export_mbv2_fused", check_export_mbv2_fused},
    {"torch_grads", "export_branches", check_export_branches},
    {"torch_grads", "export_cnn_fused", check_export_cnn_fused},
    {"torch_grads", "export_shuffle", check_export_shuffle},
    {"torch_grads", "export_lrn_fused", check_export_lrn_fused},
    {"torch_grads", "export_lrn_even", check_export_lrn_even},
    {NULL, NULL, NULL},
};
