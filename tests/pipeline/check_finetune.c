/*
 * tests/pipeline/check_finetune.c: `graft finetune` end to end on the demo data (`graft
 * demo-data`: six texture classes with train/ and val/, a truncated JPEG among them, and the
 * demo ConvNet) at 64x64: the JSON epoch lines and their keys, val accuracy above chance, the
 * cache reused by a second run, a SIGINT'd run resumed bit for bit equal to an uninterrupted
 * one, checkpoints refused when damaged (GRAFT_ECORRUPT) or made for another top
 * (GRAFT_EMISMATCH) without touching the top, the exported ONNX giving the top's logits, and
 * the --augment path. Host-only (libuv, libarchive): excluded from the aarch64 build.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "graft/finetune.h"
#include "graft/pipeline.h"

#ifndef GRAFT_BUILD_DIR
#define GRAFT_BUILD_DIR "build"
#endif

#define DEMO_CLASSES 6
#define PER_CLASS 24

static const char *graft_bin(void) { return GRAFT_BUILD_DIR "/graft"; }

/* A temp directory with the demo data: dir/textures.tar and dir/demo.onnx. */
static int make_demo(char *dir, size_t cap) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/graft-ft-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return -1;
    return graft_check_run("%s demo-data -n %d --seed 7 %s >/dev/null", graft_bin(), PER_CLASS,
                           dir);
}

static void remove_dir(const char *dir) { graft_check_run("rm -rf '%s'", dir); }

/* Reads a whole file; NULL when it cannot. */
static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static int spit(const char *path, const void *p, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(p, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int same_file(const char *a, const char *b) {
    size_t la, lb;
    unsigned char *pa = slurp(a, &la), *pb = slurp(b, &lb);
    int same = pa && pb && la == lb && !memcmp(pa, pb, la);
    free(pa);
    free(pb);
    return same;
}

/* The library options the checks share: the demo at 64x64 stretched, small batches. */
static void demo_options(graft_finetune_options *o, const char *dir, char *model, char *input,
                         size_t cap) {
    graft_finetune_options_init(o);
    snprintf(model, cap, "%s/demo.onnx", dir);
    snprintf(input, cap, "%s/textures.tar", dir);
    o->model_path = model;
    o->input_count = 1;
    graft_transform_preset("imagenet", 64, &o->transform);
    o->transform.resize = 0;
    o->batch = 8;
    o->epochs = 3;
    o->lr = 0.2;
}

/* ---- the command line: JSON lines, accuracy, the cache reused ---------------------------- */

/* The value of "key": in a JSON line as a number; NAN when absent or null. */
static double json_get(const char *line, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p) return NAN;
    p += strlen(pat);
    if (!strncmp(p, "true", 4)) return 1;
    if (!strncmp(p, "false", 5)) return 0;
    char *end;
    double v = strtod(p, &end);
    return end == p ? NAN : v;
}

static int check_cli(char *msg, size_t msglen) {
    char dir[512];
    if (make_demo(dir, sizeof dir)) return graft_check_fail(msg, msglen, "graft demo-data failed");
    int fail = GRAFT_CHECK_PASS;
    char out[1024], cmd[4096];
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    int rc = graft_check_run("%s finetune %s/demo.onnx %s/textures.tar --out %s/ft.onnx --size 64 "
                             "--resize 0 --epochs 3 --batch 8 --lr 0.2 --json > %s 2>%s/err.txt",
                             graft_bin(), dir, dir, dir, out, dir);
    if (rc != 0) {
        fail = graft_check_fail(msg, msglen, "graft finetune exited %d (see %s/err.txt)", rc, dir);
        goto done;
    }
    FILE *f = fopen(out, "r");
    char line[4096];
    int epochs = 0;
    double last_acc = NAN, extracted = NAN;
    static const char *const keys[] = {"epoch", "train_loss", "train_accuracy", "val_loss",
                                       "val_accuracy", "lr", "seconds", "best"};
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] != '{' || !strchr(line, '}')) {
            fail = graft_check_fail(msg, msglen, "not a JSON line: %s", line);
            break;
        }
        if (strstr(line, "\"event\":\"summary\"")) {
            extracted = json_get(line, "extracted");
            if (!strstr(line, "\"status\":\"ok\""))
                fail = graft_check_fail(msg, msglen, "summary: %s", line);
            continue;
        }
        if (!strstr(line, "\"event\":\"epoch\"")) continue;
        epochs++;
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (isnan(json_get(line, keys[k]))) {
                fail = graft_check_fail(msg, msglen, "epoch line without \"%s\": %s", keys[k],
                                        line);
                break;
            }
        if ((int)json_get(line, "epoch") != epochs)
            fail = graft_check_fail(msg, msglen, "epoch %d reported as %s", epochs, line);
        last_acc = json_get(line, "val_accuracy");
    }
    if (f) fclose(f);
    if (fail) goto done;
    if (epochs != 3) {
        fail = graft_check_fail(msg, msglen, "%d epoch lines, expected 3", epochs);
        goto done;
    }
    /* Six classes: chance is 1/6; the textures are easy, so demand well above it. */
    if (!(last_acc > 2.0 / DEMO_CLASSES)) {
        fail = graft_check_fail(msg, msglen, "val accuracy %.3f is not above chance", last_acc);
        goto done;
    }
    if (!(extracted > 0)) {
        fail = graft_check_fail(msg, msglen, "the first run extracted %g rows", extracted);
        goto done;
    }
    struct stat sb;
    snprintf(cmd, sizeof cmd, "%s/ft.onnx", dir);
    if (stat(cmd, &sb) || sb.st_size == 0) {
        fail = graft_check_fail(msg, msglen, "no %s", cmd);
        goto done;
    }
    snprintf(cmd, sizeof cmd, "%s/ft.cache/manifest.json", dir);
    if (stat(cmd, &sb)) {
        fail = graft_check_fail(msg, msglen, "no default cache next to the output");
        goto done;
    }
    /* A second run with another output but the same cache computes nothing again. */
    rc = graft_check_run(
        "%s finetune -m %s/demo.onnx --out %s/ft2.onnx --cache %s/ft.cache --size 64 "
        "--resize 0 --epochs 1 --json %s/textures.tar > %s 2>>%s/err.txt",
        graft_bin(), dir, dir, dir, dir, out, dir);
    f = fopen(out, "r");
    extracted = NAN;
    double cached = NAN;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "\"event\":\"summary\"")) {
            extracted = json_get(line, "extracted");
            cached = json_get(line, "cached");
        }
    if (f) fclose(f);
    if (rc != 0 || extracted != 0 || !(cached > 0))
        fail = graft_check_fail(msg, msglen, "second run: exit %d, extracted %g, cached %g", rc,
                                extracted, cached);
done:
    if (!fail) remove_dir(dir);
    return fail;
}

/* ---- resume: SIGINT after epoch 2, then --resume, equals an uninterrupted run ------------ */

static void interrupt_after_two(void *user, const graft_finetune_epoch *e) {
    (void)user;
    if (e->epoch == 2) raise(SIGINT);
}

static int check_resume_bitwise(char *msg, size_t msglen) {
    char dir[512];
    if (make_demo(dir, sizeof dir)) return graft_check_fail(msg, msglen, "graft demo-data failed");
    int fail = GRAFT_CHECK_PASS;
    char model[600], input[600], cache[600], out_a[600], out_b[600], ck_a[600], ck_b[600];
    char best_a[600], best_b[600];
    graft_finetune_options o;
    demo_options(&o, dir, model, input, sizeof model);
    const char *inputs[1] = {input};
    o.inputs = inputs;
    snprintf(cache, sizeof cache, "%s/cache", dir);
    o.cache_dir = cache;
    o.handle_signals = 1;
    o.top.dropout = 0.3f; /* its masks must be drawn again the same way after the resume */

    snprintf(out_a, sizeof out_a, "%s/a.onnx", dir);
    snprintf(ck_a, sizeof ck_a, "%s/a.ckpt", dir);
    snprintf(best_a, sizeof best_a, "%s/a.best.ckpt", dir);
    o.out_path = out_a;
    graft_finetune_stats st;
    int rc = graft_finetune_run(&o, &st);
    if (rc) {
        fail = graft_check_fail(msg, msglen, "uninterrupted run: %s", graft_last_error());
        goto done;
    }
    if (st.epochs_done != 3 || st.best_epoch < 1) {
        fail = graft_check_fail(msg, msglen, "uninterrupted run: %d epochs, best %d",
                                st.epochs_done, st.best_epoch);
        goto done;
    }

    snprintf(out_b, sizeof out_b, "%s/b.onnx", dir);
    snprintf(ck_b, sizeof ck_b, "%s/b.ckpt", dir);
    snprintf(best_b, sizeof best_b, "%s/b.best.ckpt", dir);
    o.out_path = out_b;
    o.on_epoch = interrupt_after_two;
    rc = graft_finetune_run(&o, &st);
    if (rc != GRAFT_ECANCELED || st.epochs_done != 2) {
        fail = graft_check_fail(msg, msglen, "interrupted run: %s (%d), %d epochs done",
                                graft_err_name(rc), rc, st.epochs_done);
        goto done;
    }
    struct stat sb;
    if (stat(out_b, &sb) == 0) {
        fail = graft_check_fail(msg, msglen, "the interrupted run exported a network");
        goto done;
    }
    o.on_epoch = NULL;
    o.resume_path = ck_b;
    rc = graft_finetune_run(&o, &st);
    if (rc || st.start_epoch != 2 || st.epochs_done != 3) {
        fail = graft_check_fail(msg, msglen, "resumed run: %s, start %d, done %d",
                                rc ? graft_last_error() : "ok", st.start_epoch, st.epochs_done);
        goto done;
    }
    /* Same parameters, momentum, steps and meta: the checkpoints are the same bytes. */
    if (!same_file(ck_a, ck_b) || !same_file(best_a, best_b) || !same_file(out_a, out_b)) {
        fail = graft_check_fail(msg, msglen, "the resumed run differs from the uninterrupted "
                                "one (checkpoint %d, best %d, onnx %d)", same_file(ck_a, ck_b),
                                same_file(best_a, best_b), same_file(out_a, out_b));
        goto done;
    }
    /* Another learning rate is another trajectory: refused, naming the option. */
    o.lr = 0.02;
    rc = graft_finetune_run(&o, &st);
    if (rc != GRAFT_EMISMATCH || !strstr(graft_last_error(), "lr=")) {
        fail = graft_check_fail(msg, msglen, "resume with another lr: %s: %s",
                                graft_err_name(rc), graft_last_error());
        goto done;
    }
done:
    if (!fail) remove_dir(dir);
    return fail;
}

/* ---- checkpoints refused: damaged, truncated, another top; the top left alone ------------ */

static int make_top(const char *model_path, int K, const char *freeze, graft_model **m,
                    graft_top **t) {
    graft_model_options mo = {0};
    mo.keep_weights = 1;
    int rc = graft_model_load(model_path, &mo, m);
    if (rc) return rc;
    graft_top_options to = {0};
    to.classes = K;
    to.freeze_until = freeze;
    to.seed = 3;
    rc = graft_top_create(*m, 4, 64, 64, &to, t);
    if (rc) graft_model_destroy(*m);
    return rc;
}

/* A copy of every parameter, to see that a refused load changed nothing. */
static float *params_copy(graft_top *t) {
    size_t total = 0;
    for (int i = 0; i < graft_top_param_count(t); i++) total += graft_top_param_get(t, i)->numel;
    float *c = malloc(sizeof(float) * (total ? total : 1)), *p = c;
    for (int i = 0; c && i < graft_top_param_count(t); i++) {
        graft_top_param *q = graft_top_param_get(t, i);
        memcpy(p, q->data, sizeof(float) * q->numel);
        p += q->numel;
    }
    return c;
}

static int params_equal(graft_top *t, const float *c) {
    for (int i = 0; i < graft_top_param_count(t); i++) {
        graft_top_param *q = graft_top_param_get(t, i);
        if (memcmp(c, q->data, sizeof(float) * q->numel)) return 0;
        c += q->numel;
    }
    return 1;
}

static int check_checkpoint_refused(char *msg, size_t msglen) {
    char dir[512];
    if (make_demo(dir, sizeof dir)) return graft_check_fail(msg, msglen, "graft demo-data failed");
    int fail = GRAFT_CHECK_PASS;
    char model[600], path[600], bad[600];
    snprintf(model, sizeof model, "%s/demo.onnx", dir);
    snprintf(path, sizeof path, "%s/t.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    graft_model *m = NULL, *m2 = NULL;
    graft_top *t = NULL, *other = NULL, *other_k = NULL;
    graft_model *m3 = NULL;
    float *before = NULL;
    unsigned char *bytes = NULL;
    size_t len = 0;
    char *meta = NULL;
    if (make_top(model, DEMO_CLASSES, NULL, &m, &t)) {
        fail = graft_check_fail(msg, msglen, "top: %s", graft_last_error());
        goto done;
    }
    /* Move the weights off their initial values so a load is visible. */
    graft_top_param *p0 = graft_top_param_get(t, 0);
    for (size_t i = 0; i < p0->numel; i++) p0->data[i] += 0.25f;
    int rc = graft_top_save(t, path, "epoch=1\nnote=checkpoint test\n");
    if (rc) {
        fail = graft_check_fail(msg, msglen, "save: %s", graft_last_error());
        goto done;
    }
    before = params_copy(t);
    for (size_t i = 0; i < p0->numel; i++) p0->data[i] = 0;
    rc = graft_top_load(t, path, &meta);
    if (rc || !params_equal(t, before) || !meta || strcmp(meta, "epoch=1\nnote=checkpoint test\n")) {
        fail = graft_check_fail(msg, msglen, "load back: %s", rc ? graft_last_error() : "differs");
        goto done;
    }
    bytes = slurp(path, &len);
    if (!bytes || len < 64) {
        fail = graft_check_fail(msg, msglen, "cannot read %s", path);
        goto done;
    }
    /* A flipped byte in the weights, near the end, then in the header's length field. */
    size_t where[] = {len - 9, len / 2, 13};
    for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
        bytes[where[w]] ^= 0x40;
        spit(bad, bytes, len);
        bytes[where[w]] ^= 0x40;
        rc = graft_top_load(t, bad, NULL);
        if (rc != GRAFT_ECORRUPT || !strstr(graft_last_error(), bad) || !params_equal(t, before)) {
            fail = graft_check_fail(msg, msglen, "byte %zu flipped: %s: %s", where[w],
                                    graft_err_name(rc), graft_last_error());
            goto done;
        }
    }
    /* Truncated anywhere: the header, the middle, the checksum. */
    size_t cut[] = {6, 20, len / 2, len - 2};
    for (size_t w = 0; w < sizeof cut / sizeof cut[0]; w++) {
        spit(bad, bytes, cut[w]);
        rc = graft_top_load(t, bad, NULL);
        if (rc != GRAFT_ECORRUPT || !params_equal(t, before)) {
            fail = graft_check_fail(msg, msglen, "cut at %zu: %s: %s", cut[w], graft_err_name(rc),
                                    graft_last_error());
            goto done;
        }
    }
    /* Another top: other classes, or another freeze point (the demo net's default freezes
       nothing: its top starts at the image; this one at the second convolution's output). */
    if (make_top(model, 3, NULL, &m2, &other_k) == 0) {
        rc = graft_top_load(other_k, path, NULL);
        if (rc != GRAFT_EMISMATCH) {
            fail = graft_check_fail(msg, msglen, "a 3-class top loaded a 6-class checkpoint: %s",
                                    graft_err_name(rc));
            goto done;
        }
    } else {
        fail = graft_check_fail(msg, msglen, "3-class top: %s", graft_last_error());
        goto done;
    }
    if (make_top(model, DEMO_CLASSES, "relu2", &m3, &other) == 0) {
        rc = graft_top_load(other, path, NULL);
        if (rc != GRAFT_EMISMATCH || !params_equal(t, before)) {
            fail = graft_check_fail(msg, msglen, "a top frozen up to relu2 loaded the "
                                    "checkpoint: %s", graft_err_name(rc));
            goto done;
        }
    } else {
        fail = graft_check_fail(msg, msglen, "top frozen up to relu2: %s", graft_last_error());
        goto done;
    }
    rc = graft_top_load(t, "/nonexistent/graft.ckpt", NULL);
    if (rc != GRAFT_EIO) {
        fail = graft_check_fail(msg, msglen, "a missing file: %s", graft_err_name(rc));
        goto done;
    }
done:
    free(meta);
    free(bytes);
    free(before);
    graft_top_destroy(other);
    graft_top_destroy(other_k);
    graft_top_destroy(t);
    graft_model_destroy(m3);
    graft_model_destroy(m2);
    graft_model_destroy(m);
    if (!fail) remove_dir(dir);
    return fail;
}

/* ---- the exported network computes the top's logits --------------------------------------- */

static int check_export_logits(char *msg, size_t msglen) {
    char dir[512];
    if (make_demo(dir, sizeof dir)) return graft_check_fail(msg, msglen, "graft demo-data failed");
    int fail = GRAFT_CHECK_PASS;
    char model[600], input[600], out[600], best[600];
    graft_finetune_options o;
    demo_options(&o, dir, model, input, sizeof model);
    const char *inputs[1] = {input};
    o.inputs = inputs;
    o.epochs = 2;
    /* Frozen up to the second convolution: the cache holds (64, 16, 16) activations and the
       export cuts the model there. */
    o.top.freeze_until = "relu2";
    snprintf(out, sizeof out, "%s/ft.onnx", dir);
    snprintf(best, sizeof best, "%s/ft.best.ckpt", dir);
    o.out_path = out;
    graft_finetune_stats st;
    graft_model *m = NULL, *mx = NULL;
    graft_top *t = NULL;
    graft_net *trunk = NULL, *exported = NULL;
    float *x = NULL;
    int rc = graft_finetune_run(&o, &st);
    if (rc) {
        fail = graft_check_fail(msg, msglen, "finetune: %s", graft_last_error());
        goto done;
    }
    /* The top as the run built it, with the best checkpoint's weights. */
    const char *keep[2] = {st.freeze, NULL};
    graft_model_options mo = {0};
    mo.keep = keep;
    mo.keep_weights = 1;
    graft_top_options to = {0};
    to.classes = st.classes;
    to.freeze_until = st.freeze;
    const int N = 4, H = 64, W = 64;
    if ((rc = graft_model_load(model, &mo, &m)) || (rc = graft_top_create(m, N, H, W, &to, &t)) ||
        (rc = graft_top_load(t, best, NULL))) {
        fail = graft_check_fail(msg, msglen, "top: %s", graft_last_error());
        goto done;
    }
    const char *tap[1] = {graft_top_input_name(t)};
    const char *logits[1] = {"logits"};
    if ((rc = graft_net_create(m, N, H, W, tap, 1, NULL, &trunk)) ||
        (rc = graft_model_load(out, NULL, &mx)) ||
        (rc = graft_net_create(mx, N, H, W, logits, 1, NULL, &exported))) {
        fail = graft_check_fail(msg, msglen, "nets: %s", graft_last_error());
        goto done;
    }
    x = malloc(sizeof(float) * (size_t)N * 3 * H * W);
    uint64_t s = 11;
    for (size_t i = 0; i < (size_t)N * 3 * H * W; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 4.0 - 2.0);
    }
    const float *codes, *ref;
    int rank;
    int64_t dims[GRAFT_MODEL_MAX_RANK];
    if ((rc = graft_net_run(trunk, x, GRAFT_LAYOUT_NCHW)) ||
        (rc = graft_net_tap(trunk, 0, &codes, &rank, dims)) ||
        (rc = graft_top_forward(t, codes, N, 0)) || (rc = graft_net_run(exported, x, GRAFT_LAYOUT_NCHW)) ||
        (rc = graft_net_tap(exported, 0, &ref, &rank, dims))) {
        fail = graft_check_fail(msg, msglen, "forward: %s", graft_last_error());
        goto done;
    }
    if (rank != 2 || dims[0] != N || dims[1] != st.classes) {
        fail = graft_check_fail(msg, msglen, "exported logits have rank %d, dims %lld x %lld",
                                rank, (long long)dims[0], (long long)dims[1]);
        goto done;
    }
    const float *z = graft_top_logits(t);
    double worst = 0;
    for (int i = 0; i < N * st.classes; i++) {
        double e = fabs((double)z[i] - ref[i]) / (1.0 + fabs((double)ref[i]));
        if (e > worst) worst = e;
    }
    if (worst > 1e-5)
        fail = graft_check_fail(msg, msglen, "exported logits differ from the top's by %.3g",
                                worst);
    else
        graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "max relative difference %.2g", worst);
done:
    free(x);
    graft_net_destroy(exported);
    graft_net_destroy(trunk);
    graft_top_destroy(t);
    graft_model_destroy(mx);
    graft_model_destroy(m);
    if (!fail) remove_dir(dir);
    return fail;
}

/* ---- --augment ---------------------------------------------------------------------------- */

static int check_augment(char *msg, size_t msglen) {
    char dir[512];
    if (make_demo(dir, sizeof dir)) return graft_check_fail(msg, msglen, "graft demo-data failed");
    int fail = GRAFT_CHECK_PASS;
    char model[600], input[600], out[600];
    graft_finetune_options o;
    demo_options(&o, dir, model, input, sizeof model);
    const char *inputs[1] = {input};
    o.inputs = inputs;
    o.epochs = 2;
    o.augment = 1;
    o.shuffle_buffer = 40;
    o.top.freeze_until = "relu1";
    snprintf(out, sizeof out, "%s/aug.onnx", dir);
    o.out_path = out;
    graft_finetune_stats st;
    int rc = graft_finetune_run(&o, &st);
    struct stat sb;
    if (rc)
        fail = graft_check_fail(msg, msglen, "augment: %s", graft_last_error());
    else if (st.epochs_done != 2 || stat(out, &sb) || st.train_rows == 0 ||
             !(st.best_val_accuracy >= 0))
        fail = graft_check_fail(msg, msglen, "augment: %d epochs, %llu train rows, best %.3f",
                                st.epochs_done, (unsigned long long)st.train_rows,
                                st.best_val_accuracy);
    /* The truncated JPEG and the README are met by each augmented pass as by the cache's. */
    else if (st.extract.rejects != 2 || st.augment_rejects != 2 * st.extract.rejects)
        fail = graft_check_fail(msg, msglen, "augment: %llu rejects over 2 epochs, %llu when "
                                "extracting the cache", (unsigned long long)st.augment_rejects,
                                (unsigned long long)st.extract.rejects);
    if (!fail) remove_dir(dir);
    return fail;
}

/* ---- hymenoptera: fine-tuning the pretrained MobileNet V2 beats the linear head ---------- */

/* The first line of a command's output, into buf; 0 when there is one. */
static int first_line(const char *cmd, char *buf, size_t cap) {
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    int ok = fgets(buf, (int)cap, f) != NULL;
    while (fgetc(f) != EOF) {}
    return pclose(f) == 0 && ok ? 0 : -1;
}

/*
 * The target on real photos: on hymenoptera (245 train, 153 val), the linear softmax
 * head on the MobileNet V2 codes (C swept on val, as `graft train` does), then fine-tuning
 * the network's top from that head (--head, the default freeze point: the last two blocks,
 * Conv_1 and the classifier). The fine-tuned network's best val accuracy (selected on val,
 * as the sweep's C is) must be higher.
 */
static int check_hymenoptera_beats_linear(char *msg, size_t msglen) {
#if defined(__SANITIZE_ADDRESS__)
    return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "MobileNet V2 over 398 photos is too "
                           "slow under the sanitizers; `make test` runs it");
#endif
    const char *shared = getenv("GRAFT_SHARED");
    char model[1024], tar[1024];
    snprintf(model, sizeof model, "%s/models/mobilenet_v2_1.0_224.onnx", shared ? shared : "../shared");
    snprintf(tar, sizeof tar, "%s/data/hymenoptera.tar", shared ? shared : "../shared");
    if (access(model, R_OK) || access(tar, R_OK))
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "%s or %s is absent (set "
                               "GRAFT_SHARED to the shared data)", model, tar);
    char dir[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/graft-hy-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    char cmd[4096], line[4096];
    int fail = GRAFT_CHECK_PASS;
    double linear = NAN, tuned = NAN;
    if (graft_check_run("%s extract -m %s --preset stretch -q -c %s/codes %s >/dev/null",
                        graft_bin(), model, dir, tar) ||
        graft_check_run("%s train -c %s/codes -o %s/head.bin --C 0.001,0.01,0.1,1,10 >/dev/null",
                        graft_bin(), dir, dir))
        fail = graft_check_fail(msg, msglen, "extract or train failed");
    snprintf(cmd, sizeof cmd, "%s eval -c %s/codes -o %s/head.bin --json", graft_bin(), dir, dir);
    if (!fail && !first_line(cmd, line, sizeof line)) linear = json_get(line, "accuracy");
    snprintf(cmd, sizeof cmd, "%s finetune %s %s --preset stretch --head %s/head.bin --lr 0.002 "
             "--json --out %s/ft.onnx | tail -n 1", graft_bin(), model, tar, dir, dir);
    if (!fail && !first_line(cmd, line, sizeof line)) tuned = json_get(line, "best_val_accuracy");
    if (!fail && !(tuned > linear))
        fail = graft_check_fail(msg, msglen, "fine-tuned val accuracy %.4f, linear head %.4f",
                                tuned, linear);
    if (!fail)
        graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "val accuracy: linear head %.2f%%, "
                        "fine-tuned %.2f%%", 100 * linear, 100 * tuned);
    remove_dir(dir);
    return fail;
}

const graft_check graft_checks_finetune[] = {
    {"finetune", "cli", check_cli},
    {"finetune", "resume_bitwise", check_resume_bitwise},
    {"finetune", "checkpoint_refused", check_checkpoint_refused},
    {"finetune", "export_logits", check_export_logits},
    {"finetune", "augment", check_augment},
    {"finetune", "hymenoptera_beats_linear", check_hymenoptera_beats_linear},
    {NULL, NULL, NULL},
};
