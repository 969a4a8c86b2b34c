/*
 * tests/finetune/check_top.c: the trainable top (include/graft/finetune.h) on small networks
 * written by the tests' ONNX builder: its gradients against finite differences of its own
 * forward pass (every ISA), the freeze-point rules, SGD's arithmetic, and the exported ONNX
 * against the top's logits. Plain C, so the aarch64 build runs it under qemu too; the
 * PyTorch references are in check_torch_grads.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "graft/finetune.h"
#include "graft/kernels.h"
#include "../../pipeline/model/onnx_write.h"

#define N_IMG 3

static float urand(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 40) / 16777216.0) * 2.0f - 1.0f;
}

static int add_weight(graft__onnx_builder *b, const char *name, int rank, const int64_t *dims,
                      float scale, uint64_t *s) {
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    float *w = malloc(sizeof(float) * n);
    if (!w) return -1;
    for (size_t i = 0; i < n; i++) w[i] = urand(s) * scale;
    int err = graft__onnx_initializer(b, name, rank, dims, w);
    free(w);
    return err;
}

static graft__onnx_attr ints2(const char *name, int a, int b) {
    graft__onnx_attr at = {.name = name, .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 2};
    at.ints[0] = a, at.ints[1] = b;
    return at;
}

/*
 * The smooth net (no kinks, so finite differences are exact to O(h^2)):
 *   x (N, 3, 7, 6) -> Conv 3x3 pad 1 (5) -> Tanh -> LRN (size 4: ONNX's even window, one
 *   channel before c and two after; alpha 4, bias 0.25, strong enough that a backward pass
 *   with the window mirrored fails the differences) -> AveragePool 2 stride 2 pad (0,0,1,0)
 *   -> Conv 1x1 (6) -> Sigmoid = s -> Add(s, Conv 3x3 groups 2 pad 1 (s)) = r
 *   -> Mul(r, constant (6, 1, 1)) -> GlobalAveragePool -> Flatten -> Gemm (4) -> logits
 * Variant bn: a BatchNormalization after the LRN and a channel Concat of the Add's two
 * inputs before the pool (12 channels).
 */
static int write_net(const char *path, int bn) {
    uint64_t s = 42;
    graft__onnx_builder *b = graft__onnx_begin("check_top", 13);
    if (!b) return -1;
    int64_t in_dims[4] = {-1, 3, 7, 6};
    int err = graft__onnx_input(b, "x", 4, in_dims);
    int64_t w1[4] = {5, 3, 3, 3}, b1[1] = {5}, w2[4] = {6, 5, 1, 1}, b2[1] = {6};
    int64_t w3[4] = {6, 3, 3, 3}, cst[3] = {6, 1, 1}, c5[1] = {5};
    int C = bn ? 12 : 6;
    int64_t fw[2] = {4, C}, fb[1] = {4};
    err |= add_weight(b, "conv1.weight", 4, w1, 0.4f, &s);
    err |= add_weight(b, "conv1.bias", 1, b1, 0.1f, &s);
    err |= add_weight(b, "conv2.weight", 4, w2, 0.5f, &s);
    err |= add_weight(b, "conv2.bias", 1, b2, 0.1f, &s);
    err |= add_weight(b, "conv3.weight", 4, w3, 0.3f, &s);
    err |= add_weight(b, "scale", 3, cst, 1.0f, &s);
    err |= add_weight(b, "fc.weight", 2, fw, 0.5f, &s);
    err |= add_weight(b, "fc.bias", 1, fb, 0.1f, &s);
    graft__onnx_attr k3[3] = {ints2("kernel_shape", 3, 3), {.name = "pads",
                              .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 4, .ints = {1, 1, 1, 1}},
                              {.name = "group", .type = GRAFT__ONNX_ATTR_INT, .i = 1}};
    const char *c1in[3] = {"x", "conv1.weight", "conv1.bias"}, *c1 = "c1", *t1 = "t1";
    err |= graft__onnx_node(b, "Conv", "conv1", c1in, 3, &c1, 1, k3, 2);
    err |= graft__onnx_node(b, "Tanh", "tanh1", &c1, 1, &t1, 1, NULL, 0);
    graft__onnx_attr lrn[4] = {{.name = "size", .type = GRAFT__ONNX_ATTR_INT, .i = 4},
                               {.name = "alpha", .type = GRAFT__ONNX_ATTR_FLOAT, .f = 4.0f},
                               {.name = "beta", .type = GRAFT__ONNX_ATTR_FLOAT, .f = 0.75f},
                               {.name = "bias", .type = GRAFT__ONNX_ATTR_FLOAT, .f = 0.25f}};
    const char *l1 = "l1";
    err |= graft__onnx_node(b, "LRN", "lrn1", &t1, 1, &l1, 1, lrn, 4);
    const char *pin = "l1";
    if (bn) {
        float g[5], be[5], mu[5], var[5];
        for (int c = 0; c < 5; c++)
            g[c] = 1.0f + 0.3f * urand(&s), be[c] = 0.2f * urand(&s), mu[c] = 0.1f * urand(&s),
            var[c] = 0.5f + 0.4f * (urand(&s) + 1.0f);
        err |= graft__onnx_initializer(b, "bn.weight", 1, c5, g);
        err |= graft__onnx_initializer(b, "bn.bias", 1, c5, be);
        err |= graft__onnx_initializer(b, "bn.running_mean", 1, c5, mu);
        err |= graft__onnx_initializer(b, "bn.running_var", 1, c5, var);
        const char *bnin[5] = {"l1", "bn.weight", "bn.bias", "bn.running_mean",
                               "bn.running_var"}, *bo = "bn1";
        graft__onnx_attr eps = {.name = "epsilon", .type = GRAFT__ONNX_ATTR_FLOAT, .f = 1e-3f};
        err |= graft__onnx_node(b, "BatchNormalization", "bn", bnin, 5, &bo, 1, &eps, 1);
        pin = "bn1";
    }
    graft__onnx_attr pool[3] = {ints2("kernel_shape", 2, 2), ints2("strides", 2, 2),
                                {.name = "pads", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 4,
                                 .ints = {0, 0, 1, 0}}};
    const char *p1 = "p1";
    err |= graft__onnx_node(b, "AveragePool", "pool1", &pin, 1, &p1, 1, pool, 3);
    const char *c2in[3] = {"p1", "conv2.weight", "conv2.bias"}, *c2 = "c2", *s2 = "s2";
    graft__onnx_attr k1 = ints2("kernel_shape", 1, 1);
    err |= graft__onnx_node(b, "Conv", "conv2", c2in, 3, &c2, 1, &k1, 1);
    err |= graft__onnx_node(b, "Sigmoid", "sig2", &c2, 1, &s2, 1, NULL, 0);
    k3[2].i = 2;
    const char *c3in[2] = {"s2", "conv3.weight"}, *c3 = "c3";
    err |= graft__onnx_node(b, "Conv", "conv3", c3in, 2, &c3, 1, k3, 3);
    const char *addin[2] = {"s2", "c3"}, *r = "r";
    err |= graft__onnx_node(b, "Add", "add", addin, 2, &r, 1, NULL, 0);
    const char *mulin[2] = {"r", "scale"}, *m = "m";
    err |= graft__onnx_node(b, "Mul", "mul", mulin, 2, &m, 1, NULL, 0);
    const char *gin = "m";
    if (bn) {
        const char *catin[2] = {"m", "c3"}, *cat = "cat";
        graft__onnx_attr ax = {.name = "axis", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
        err |= graft__onnx_node(b, "Concat", "concat", catin, 2, &cat, 1, &ax, 1);
        gin = "cat";
    }
    const char *g = "g", *f = "f", *lo = "logits";
    err |= graft__onnx_node(b, "GlobalAveragePool", "gap", &gin, 1, &g, 1, NULL, 0);
    graft__onnx_attr ax1 = {.name = "axis", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
    err |= graft__onnx_node(b, "Flatten", "flatten", &g, 1, &f, 1, &ax1, 1);
    const char *fcin[3] = {"f", "fc.weight", "fc.bias"};
    graft__onnx_attr tb = {.name = "transB", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
    err |= graft__onnx_node(b, "Gemm", "fc", fcin, 3, &lo, 1, &tb, 1);
    int64_t od[2] = {-1, 4};
    err |= graft__onnx_output(b, "logits", 2, od);
    if (!err) err = graft__onnx_write(b, path);
    graft__onnx_free(b);
    return err;
}

typedef struct fixture {
    char path[256];
    graft_model *m;
} fixture;

static int fixture_open(fixture *f, int bn, int no_fuse, char *msg, size_t len) {
    snprintf(f->path, sizeof f->path, "%s/graft_check_top_%d_%d.onnx",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), bn);
    if (write_net(f->path, bn))
        return graft_check_fail(msg, len, "writing the test net: %s", graft_last_error());
    graft_model_options mo = {0};
    mo.keep_weights = 1;
    mo.no_fuse = no_fuse;
    if (graft_model_load(f->path, &mo, &f->m))
        return graft_check_fail(msg, len, "load: %s", graft_last_error());
    return GRAFT_CHECK_PASS;
}

static void fixture_close(fixture *f) {
    graft_model_destroy(f->m);
    unlink(f->path);
}

static void fill_input(float *x, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) x[i] = urand(&seed);
}

static const int labels[N_IMG] = {2, 0, 3};

/* Loss of the top on x at its current parameters. */
static double loss_at(graft_top *t, const float *x, graft_top_loss kind, float smooth) {
    float loss = NAN;
    if (graft_top_forward(t, x, N_IMG, 1) || graft_top_backward(t, labels, kind, smooth, &loss))
        return NAN;
    return loss;
}

/*
 * Compares every parameter's gradient (and the input's) with central differences of the
 * loss, at a handful of coordinates per tensor.
 */
static int fd_check(graft_top *t, const float *x, size_t x_count, graft_top_loss kind,
                    float smooth, const char *what, char *msg, size_t len) {
    float loss;
    if (graft_top_forward(t, x, N_IMG, 1) || graft_top_backward(t, labels, kind, smooth, &loss))
        return graft_check_fail(msg, len, "%s: pass: %s", what, graft_last_error());
    int P = graft_top_param_count(t);
    float **grads = calloc((size_t)P + 1, sizeof *grads);
    float *xg = malloc(sizeof(float) * x_count);
    const float *ig = graft_top_input_grad(t);
    if (!grads || !xg) return graft_check_fail(msg, len, "out of memory");
    if (ig) memcpy(xg, ig, sizeof(float) * x_count);
    int st = GRAFT_CHECK_PASS;
    for (int i = 0; i < P && st == GRAFT_CHECK_PASS; i++) {
        graft_top_param *p = graft_top_param_get(t, i);
        grads[i] = malloc(sizeof(float) * p->numel);
        memcpy(grads[i], p->grad, sizeof(float) * p->numel);
    }
    const float h = 2e-3f;
    for (int i = 0; i < P && st == GRAFT_CHECK_PASS; i++) {
        graft_top_param *p = graft_top_param_get(t, i);
        for (int k = 0; k < 6 && st == GRAFT_CHECK_PASS; k++) {
            size_t j = ((size_t)k * 7919u + (size_t)i) % p->numel;
            float v = p->data[j];
            p->data[j] = v + h;
            double lp = loss_at(t, x, kind, smooth);
            p->data[j] = v - h;
            double lm = loss_at(t, x, kind, smooth);
            p->data[j] = v;
            double fd = (lp - lm) / (2.0 * h), g = grads[i][j];
            if (!(fabs(fd - g) <= 2e-3 + 3e-2 * fabs(fd)))
                st = graft_check_fail(msg, len, "%s: d loss / d %s[%zu] = %.6g, finite "
                                      "differences %.6g", what, p->name, j, g, fd);
        }
    }
    if (ig) {
        float *xx = malloc(sizeof(float) * x_count);
        memcpy(xx, x, sizeof(float) * x_count);
        for (int k = 0; k < 8 && st == GRAFT_CHECK_PASS; k++) {
            size_t j = ((size_t)k * 104729u) % x_count;
            float v = xx[j];
            xx[j] = v + h;
            double lp = loss_at(t, xx, kind, smooth);
            xx[j] = v - h;
            double lm = loss_at(t, xx, kind, smooth);
            xx[j] = v;
            double fd = (lp - lm) / (2.0 * h);
            if (!(fabs(fd - xg[j]) <= 2e-3 + 3e-2 * fabs(fd)))
                st = graft_check_fail(msg, len, "%s: d loss / d input[%zu] = %.6g, finite "
                                      "differences %.6g", what, j, xg[j], fd);
        }
        free(xx);
    }
    for (int i = 0; i < P; i++) free(grads[i]);
    free(grads), free(xg);
    return st;
}

static int run_fd(int bn, int no_fuse, const char *freeze, int bn_train, graft_top_loss kind,
                  float smooth, char *msg, size_t len) {
    static const graft_isa isas[] = {GRAFT_ISA_SCALAR, GRAFT_ISA_AVX2, GRAFT_ISA_AVX512,
                                     GRAFT_ISA_NEON};
    fixture f;
    int st = fixture_open(&f, bn, no_fuse, msg, len);
    if (st) return st;
    size_t x_count = (size_t)N_IMG * 3 * 7 * 6;
    float *x = malloc(sizeof(float) * x_count);
    fill_input(x, x_count, 7);
    graft_isa before = GRAFT_ISA_AUTO;
    graft_isa_current(&before);
    int ran = 0;
    for (size_t i = 0; i < sizeof isas / sizeof isas[0] && st == GRAFT_CHECK_PASS; i++) {
        if (!graft_isa_available(isas[i])) continue;
        graft_isa_set(isas[i]);
        graft_top_options o = {0};
        o.classes = 4;
        o.freeze_until = freeze;
        o.input_grad = 1;
        o.bn_train = bn_train;
        o.seed = 5;
        graft_top *t;
        if (graft_top_create(f.m, N_IMG, 7, 6, &o, &t)) {
            st = graft_check_fail(msg, len, "create: %s", graft_last_error());
            break;
        }
        char what[96];
        snprintf(what, sizeof what, "%s%s", graft_isa_name(isas[i]), bn_train ? " bn_train" : "");
        /* When the top starts at the image, the image is its input; else the freeze tensor. */
        int rank;
        int64_t dims[4];
        graft_top_input_dims(t, &rank, dims);
        size_t per = 1;
        for (int d = 0; d < rank; d++) per *= (size_t)dims[d];
        float *tx = x;
        if (per * N_IMG != x_count) {
            tx = malloc(sizeof(float) * per * N_IMG);
            fill_input(tx, per * N_IMG, 11);
        }
        st = fd_check(t, tx, per * N_IMG, kind, smooth, what, msg, len);
        if (tx != x) free(tx);
        graft_top_destroy(t);
        ran++;
    }
    graft_isa_set(before);
    free(x);
    fixture_close(&f);
    if (st == GRAFT_CHECK_PASS) graft_check_say(msg, len, GRAFT_CHECK_PASS, "%d ISAs", ran);
    return st;
}

static int check_gradients_smooth(char *msg, size_t len) {
    return run_fd(0, 0, GRAFT_TOP_FREEZE_NONE, 0, GRAFT_TOP_LOSS_SOFTMAX, 0.0f, msg, len);
}

static int check_gradients_bn_concat_smoothing(char *msg, size_t len) {
    return run_fd(1, 1, GRAFT_TOP_FREEZE_NONE, 0, GRAFT_TOP_LOSS_SOFTMAX, 0.1f, msg, len);
}

static int check_gradients_bn_train(char *msg, size_t len) {
    return run_fd(1, 1, GRAFT_TOP_FREEZE_NONE, 1, GRAFT_TOP_LOSS_SOFTMAX, 0.0f, msg, len);
}

static int check_gradients_partial_freeze_hinge(char *msg, size_t len) {
    return run_fd(0, 0, "s2", 0, GRAFT_TOP_LOSS_HINGE, 0.0f, msg, len);
}

/* The freeze point must cut the graph; names are checked; weights must have been kept. */
static int check_freeze_rules(char *msg, size_t len) {
    fixture f;
    int st = fixture_open(&f, 0, 0, msg, len);
    if (st) return st;
    graft_top_options o = {0};
    o.classes = 4;
    graft_top *t = NULL;
    struct {
        const char *freeze;
        int err;
        const char *says;
    } cases[] = {
        {"c3", GRAFT_EINVAL, "does not cut"},          /* inside the residual block */
        {"no_such_tensor", GRAFT_EINVAL, "no tensor or node named"},
        {"conv1.weight", GRAFT_EINVAL, "a weight"},
        {"r", 0, NULL},                                 /* the Add's output: a cut */
        {"sig2", 0, NULL},                              /* a node's name: its output */
        {NULL, 0, NULL},                                /* the default */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && st == GRAFT_CHECK_PASS; i++) {
        o.freeze_until = cases[i].freeze;
        int err = graft_top_create(f.m, 2, 7, 6, &o, &t);
        if (err != cases[i].err || (err && !strstr(graft_last_error(), cases[i].says)))
            st = graft_check_fail(msg, len, "freeze '%s': got %d (%s), want %d '%s'",
                                  cases[i].freeze ? cases[i].freeze : "(default)", err,
                                  err ? graft_last_error() : "", cases[i].err,
                                  cases[i].says ? cases[i].says : "");
        if (!err) graft_top_destroy(t);
    }
    /* A model loaded without keep_weights cannot train. */
    graft_model *m2;
    if (st == GRAFT_CHECK_PASS && !graft_model_load(f.path, NULL, &m2)) {
        o.freeze_until = NULL;
        if (graft_top_create(m2, 2, 7, 6, &o, &t) != GRAFT_EINVAL ||
            !strstr(graft_last_error(), "keep_weights"))
            st = graft_check_fail(msg, len, "a model without its float weights was accepted");
        graft_model_destroy(m2);
    }
    /* Classes, dropout and batch size out of range. */
    o.classes = 1;
    if (st == GRAFT_CHECK_PASS && graft_top_create(f.m, 2, 7, 6, &o, &t) != GRAFT_EINVAL)
        st = graft_check_fail(msg, len, "classes = 1 accepted");
    o.classes = 4, o.dropout = 1.0f;
    if (st == GRAFT_CHECK_PASS && graft_top_create(f.m, 2, 7, 6, &o, &t) != GRAFT_EINVAL)
        st = graft_check_fail(msg, len, "dropout = 1 accepted");
    o.dropout = 0.0f;
    if (st == GRAFT_CHECK_PASS && !graft_top_create(f.m, 2, 7, 6, &o, &t)) {
        float x[2 * 3 * 7 * 6] = {0}, loss;
        int lab[2] = {0, 9};
        if (graft_top_backward(t, lab, GRAFT_TOP_LOSS_SOFTMAX, 0, &loss) != GRAFT_EINVAL)
            st = graft_check_fail(msg, len, "backward without a training forward accepted");
        else if (graft_top_forward(t, x, 3, 1) != GRAFT_EINVAL)
            st = graft_check_fail(msg, len, "a batch above N accepted");
        else if (graft_top_forward(t, x, 2, 1) ||
                 graft_top_backward(t, lab, GRAFT_TOP_LOSS_SOFTMAX, 0, &loss) != GRAFT_EINVAL)
            st = graft_check_fail(msg, len, "label 9 of 4 classes accepted");
        graft_top_destroy(t);
    }
    fixture_close(&f);
    return st;
}

/* graft_top_step is torch.optim.SGD: weight decay into the gradient, momentum buffer. */
static int check_sgd_step(char *msg, size_t len) {
    fixture f;
    int st = fixture_open(&f, 0, 0, msg, len);
    if (st) return st;
    graft_top_options o = {0};
    o.classes = 4;
    o.freeze_until = "s2"; /* conv3 (pretrained) and the classifier train */
    graft_top *t;
    if (graft_top_create(f.m, N_IMG, 7, 6, &o, &t)) {
        fixture_close(&f);
        return graft_check_fail(msg, len, "create: %s", graft_last_error());
    }
    graft_top_param *p = graft_top_param_get(t, graft_top_param_count(t) - 2);
    float lr = 0.1f, mom = 0.9f, wd = 0.01f;
    double w0 = p->data[1], buf = 0;
    for (int step = 0; step < 3 && st == GRAFT_CHECK_PASS; step++) {
        p->grad[1] = 0.5f - 0.25f * (float)step;
        double g = p->grad[1] + wd * w0;
        buf = step == 0 ? g : mom * buf + g;
        double want = w0 - lr * p->lr_mult * buf;
        graft_top_step(t, lr, mom, wd);
        if (fabs(p->data[1] - want) > 1e-6)
            st = graft_check_fail(msg, len, "step %d: %.8f, torch.optim.SGD gives %.8f", step,
                                  p->data[1], want);
        w0 = p->data[1];
    }
    if (st == GRAFT_CHECK_PASS && (p->lr_mult != 1.0f || !p->is_new ||
                                   graft_top_param_get(t, 0)->lr_mult != 0.1f))
        st = graft_check_fail(msg, len, "default learning-rate multipliers are not 0.1 for "
                              "pretrained layers and 1 for the new classifier");
    graft_top_destroy(t);
    fixture_close(&f);
    return st;
}

/* The exported network, loaded back into graft, gives the top's logits. */
static int export_round_trip(int bn, const char *freeze, char *msg, size_t len) {
    fixture f;
    int st = fixture_open(&f, bn, bn, msg, len);
    if (st) return st;
    graft_top_options o = {0};
    o.classes = 4;
    o.freeze_until = freeze;
    o.seed = 3;
    graft_top *t;
    graft_model *m2 = NULL;
    graft_net *trunk = NULL, *net = NULL;
    size_t x_count = (size_t)N_IMG * 3 * 7 * 6;
    float *x = malloc(sizeof(float) * x_count), loss;
    fill_input(x, x_count, 9);
    char out[300];
    snprintf(out, sizeof out, "%s.ft.onnx", f.path);
    if (graft_top_create(f.m, N_IMG, 7, 6, &o, &t)) {
        st = graft_check_fail(msg, len, "create: %s", graft_last_error());
        goto done;
    }
    /* The trunk's output at the freeze point feeds the top. */
    const char *tap = graft_top_input_name(t);
    const float *code;
    int rank;
    int64_t dims[8];
    if (graft_net_create(f.m, N_IMG, 7, 6, &tap, 1, NULL, &trunk) ||
        graft_net_run(trunk, x, GRAFT_LAYOUT_NCHW) ||
        graft_net_tap(trunk, 0, &code, &rank, dims)) {
        st = graft_check_fail(msg, len, "trunk: %s", graft_last_error());
        goto done;
    }
    for (int step = 0; step < 3; step++) {
        if (graft_top_forward(t, code, N_IMG, 1) ||
            graft_top_backward(t, labels, GRAFT_TOP_LOSS_SOFTMAX, 0, &loss) ||
            graft_top_step(t, 0.5f, 0.9f, 0.0f)) {
            st = graft_check_fail(msg, len, "training: %s", graft_last_error());
            goto done;
        }
    }
    const char *names[4] = {"a", "b", "c", "d"};
    if (graft_top_forward(t, code, N_IMG, 0) ||
        graft_top_export_onnx(t, f.path, out, names)) {
        st = graft_check_fail(msg, len, "export: %s", graft_last_error());
        goto done;
    }
    graft_model_options mo = {0};
    mo.no_fuse = 1;
    const char *lt = "logits";
    const float *got;
    if (graft_model_load(out, &mo, &m2) ||
        graft_net_create(m2, N_IMG, 7, 6, &lt, 1, NULL, &net) ||
        graft_net_run(net, x, GRAFT_LAYOUT_NCHW) || graft_net_tap(net, 0, &got, &rank, dims)) {
        st = graft_check_fail(msg, len, "the exported file: %s", graft_last_error());
        goto done;
    }
    const float *want = graft_top_logits(t);
    for (int i = 0; i < N_IMG * 4 && st == GRAFT_CHECK_PASS; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-5f + 1e-5f * fabsf(want[i])))
            st = graft_check_fail(msg, len, "logit %d: exported %.7g, top %.7g", i, got[i],
                                  want[i]);
done:
    graft_net_destroy(net), graft_net_destroy(trunk);
    graft_model_destroy(m2);
    graft_top_destroy(t);
    unlink(out);
    free(x);
    fixture_close(&f);
    return st;
}

static int check_export_partial(char *msg, size_t len) {
    return export_round_trip(0, "p1", msg, len);
}
static int check_export_whole(char *msg, size_t len) {
    return export_round_trip(1, GRAFT_TOP_FREEZE_NONE, msg, len);
}

const graft_check graft_checks_top[] = {
    {"top", "gradients_smooth", check_gradients_smooth},
    {"top", "gradients_bn_concat_smoothing", check_gradients_bn_concat_smoothing},
    {"top", "gradients_bn_train", check_gradients_bn_train},
    {"top", "gradients_partial_freeze_hinge", check_gradients_partial_freeze_hinge},
    {"top", "freeze_rules", check_freeze_rules},
    {"top", "sgd_step", check_sgd_step},
    {"top", "export_partial", check_export_partial},
    {"top", "export_whole", check_export_whole},
    {NULL, NULL, NULL},
};
