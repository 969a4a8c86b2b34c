/*
 * pipeline/cli/demo_cmds.c: `graft demo-data DIR`, the offline material of `make demo`: a tar
 * of generated, encoded images of visually distinct texture classes (class folders with train/
 * and val/, plus two bad members so the demo shows how rejects are handled), a small ConvNet
 * written as ONNX with seeded random weights and, with --target, a second task for transfer
 * learning.
 *
 * Textures rather than shapes: a network with random filters followed by global pooling tells
 * orientation and frequency apart (that is what random conv features are good at), so the
 * linear head on its codes learns something real without a pretrained network. The images
 * vary in colours, phase, period and noise so the task is not trivial.
 *
 * The target task is what a pretrained network is for: five classes none of the textures is
 * (grid, crosshatch, zigzag, bricks, waves), drawn with the same strokes at the same scales,
 * and only a few training images each. The classes share their orientations and periods, so
 * telling a zigzag from waves or bricks from a grid takes features of how strokes combine,
 * which the untrained network lacks (a linear head on its codes gets about half right) and
 * the textures teach: the demo ConvNet pretrained on them gives codes a linear head separates
 * well, fine-tuning it does better, and the same network trained from scratch on so few
 * images falls well short (`make demo` prints the three).
 *
 * It only writes files (no training), and the bytes of textures.tar do not depend on
 * --target: the target task draws from its own stream.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <getopt.h>
#include <jpeglib.h>
#include <math.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "graft/graft.h"
#include "../model/onnx_write.h"

static const char *const source_names[] = {"checker", "dots", "hstripes", "diagonal", "rings",
                                           "vstripes"};
#define DEMO_CLASSES 6
static const char *const target_names[] = {"grid", "crosshatch", "zigzag", "bricks", "waves"};
#define TARGET_CLASSES 5
#define DEMO_SIZE 96

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) { /* splitmix64: tiny, seedable, good enough for data */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
static double rng_normal(rng *r) {
    double u = rng_unit(r) + 1e-12, v = rng_unit(r);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/*
 * What every image draws before its pattern: colours, scale, phase, noise and a centre. The
 * draws keep one order so that an image depends on the seed and its position only.
 */
typedef struct look {
    double fg[3], bg[3];
    double period, phase, noise, cx, cy;
} look;

static void draw_look(rng *r, look *l) {
    /* Random colours, but the pattern always stands out: foreground and background differ
       by 90..150 grey levels in every channel, one way or the other. */
    double dir = rng_unit(r) < 0.5 ? -1 : 1;
    for (int c = 0; c < 3; c++) {
        l->bg[c] = 60 + 135 * rng_unit(r);
        l->fg[c] = l->bg[c] + dir * (90 + 60 * rng_unit(r));
        if (l->fg[c] < 0 || l->fg[c] > 255) l->fg[c] = l->bg[c] - dir * (90 + 60 * rng_unit(r));
    }
    l->period = 8 + 8 * rng_unit(r);
    l->phase = rng_unit(r) * l->period;
    l->noise = 4 + 8 * rng_unit(r);
    l->cx = DEMO_SIZE * (0.3 + 0.4 * rng_unit(r));
    l->cy = DEMO_SIZE * (0.3 + 0.4 * rng_unit(r));
}

/* Where the pattern of source class k is foreground (1) or background (0) at (x, y). */
static double source_at(int k, const look *l, int x, int y) {
    double period = l->period, phase = l->phase;
    switch (k) {
    case 0: return (fmod(x + phase, period) < period / 2) ^ (fmod(y + phase, period) < period / 2);
    case 1: {
        double dx = fmod(x + phase, period) - period / 2, dy = fmod(y + phase, period) - period / 2;
        return dx * dx + dy * dy < period * period / 10;
    }
    case 2: return fmod(y + phase, period) < period / 2;
    case 3: return fmod(x + y + 2 * phase, 1.4 * period) < 0.7 * period;
    case 4: return fmod(hypot(x - l->cx, y - l->cy) + phase, period) < period / 2;
    default: return fmod(x + phase, period) < period / 2;
    }
}

/*
 * The target task's classes: new patterns put together from the source's strokes (lines of
 * the same orientations and periods), so features learned on the textures carry over while
 * none of the classes is one of the textures.
 */
static double target_at(int k, const look *l, int x, int y) {
    double P = l->period, u = x + l->phase, v = y + l->phase;
    switch (k) {
    case 0: /* grid: thin horizontal and vertical lines */
        return fmod(u, P) < P / 4 || fmod(v, P) < P / 4;
    case 1: /* crosshatch: thin lines along both diagonals */
        return fmod(u + v, 1.4 * P) < 0.35 * P || fmod(u - v + 8 * DEMO_SIZE, 1.4 * P) < 0.35 * P;
    case 2: { /* zigzag: horizontal stripes bent into chevrons */
        double tri = fabs(fmod(u, 2 * P) - P);
        return fmod(v + tri, P) < P / 2;
    }
    case 3: { /* bricks: horizontal mortar lines, vertical joints shifted every other row */
        int row = (int)(v / P);
        return fmod(v, P) < P / 4 || fmod(u + (row % 2) * P, 2 * P) < P / 4;
    }
    default: /* waves: horizontal stripes bent along a sine */
        return fmod(v + 0.35 * P * sin(M_PI * u / P), P) < P / 2;
    }
}

/* Renders one image of class k of the textures (target 0) or of the target task (target 1)
   into rgb (DEMO_SIZE^2 * 3 bytes). */
static void render(int k, int target, rng *r, uint8_t *rgb) {
    look l;
    draw_look(r, &l);
    for (int y = 0; y < DEMO_SIZE; y++) {
        for (int x = 0; x < DEMO_SIZE; x++) {
            double t = target ? target_at(k, &l, x, y) : source_at(k, &l, x, y);
            for (int c = 0; c < 3; c++) {
                double v = t * l.fg[c] + (1 - t) * l.bg[c] + l.noise * rng_normal(r);
                rgb[(y * DEMO_SIZE + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
}

static int encode_jpeg(const uint8_t *rgb, int w, int h, unsigned char **out, unsigned long *len) {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    *out = NULL;
    *len = 0;
    jpeg_mem_dest(&cinfo, out, len);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 90, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return *out ? 0 : -1;
}

static int encode_png(const uint8_t *rgb, int w, int h, void **out, size_t *len) {
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!ctx) return -1;
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {(uint32_t)w, (uint32_t)h, 8, SPNG_COLOR_TYPE_TRUECOLOR, 0, 0, 0};
    spng_set_ihdr(ctx, &ihdr);
    int err = spng_encode_image(ctx, rgb, (size_t)w * (size_t)h * 3, SPNG_FMT_PNG,
                                SPNG_ENCODE_FINALIZE);
    *out = err ? NULL : spng_get_png_buffer(ctx, len, &err);
    spng_ctx_free(ctx);
    return *out ? 0 : -1;
}

static int add_member(struct archive *a, const char *path, const void *data, size_t len) {
    struct archive_entry *e = archive_entry_new();
    if (!e) return -1;
    archive_entry_set_pathname(e, path);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1700000000, 0); /* fixed: the tar's bytes depend on the seed only */
    int rc = archive_write_header(a, e) == ARCHIVE_OK &&
                     archive_write_data(a, data, len) == (la_ssize_t)len
                 ? 0
                 : -1;
    archive_entry_free(e);
    return rc;
}

/*
 * One generated task: its classes, images per class in each split, and whether the tar also
 * carries the two bad members (a truncated JPEG and a README) that a run must reject.
 */
typedef struct task {
    const char *const *class_names;
    int classes, train_count, val_count, target, bad_members;
} task;

static int write_dataset(const char *path, const char *prefix, const task *tk, uint64_t seed) {
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
        fprintf(stderr, "graft demo-data: %s: %s\n", path, archive_error_string(a));
        archive_write_free(a);
        return 1;
    }
    uint8_t *rgb = malloc(DEMO_SIZE * DEMO_SIZE * 3);
    rng r = {seed};
    int rc = rgb ? 0 : 1;
    static const char *const splits[] = {"train", "val"};
    for (int sp = 0; sp < 2 && !rc; sp++) {
        int count = sp == 0 ? tk->train_count : tk->val_count;
        for (int k = 0; k < tk->classes && !rc; k++) {
            const char *cls = tk->class_names[k];
            for (int i = 0; i < count && !rc; i++) {
                render(k, tk->target, &r, rgb);
                char name[256];
                /* Mostly JPEG, every fifth image PNG: both decoders take part. */
                if (i % 5 == 4) {
                    void *png = NULL;
                    size_t len;
                    snprintf(name, sizeof name, "%s/%s/%s/%s_%04d.png", prefix, splits[sp], cls,
                             cls, i);
                    rc = encode_png(rgb, DEMO_SIZE, DEMO_SIZE, &png, &len) ||
                         add_member(a, name, png, len);
                    free(png);
                } else {
                    unsigned char *jpg = NULL;
                    unsigned long len;
                    snprintf(name, sizeof name, "%s/%s/%s/%s_%04d.jpg", prefix, splits[sp], cls,
                             cls, i);
                    rc = encode_jpeg(rgb, DEMO_SIZE, DEMO_SIZE, &jpg, &len) ||
                         add_member(a, name, jpg, len);
                    /* One truncated copy: a bad sample the run must reject and go past. */
                    if (!rc && tk->bad_members && sp == 0 && k == 0 && i == 1) {
                        snprintf(name, sizeof name, "%s/train/%s/truncated.jpg", prefix, cls);
                        rc = add_member(a, name, jpg, len / 3);
                    }
                    free(jpg);
                }
            }
        }
    }
    static const char readme[] = "Generated by graft demo-data: texture classes, not photos.\n";
    char readme_name[256];
    snprintf(readme_name, sizeof readme_name, "%s/README.txt", prefix);
    if (!rc && tk->bad_members) rc = add_member(a, readme_name, readme, sizeof readme - 1);
    if (archive_write_close(a) != ARCHIVE_OK) rc = 1;
    if (rc) fprintf(stderr, "graft demo-data: %s: %s\n", path, archive_error_string(a));
    archive_write_free(a);
    free(rgb);
    return rc;
}

/* He-initialised conv weights (O, I, k, k) and zero biases from the seeded generator. */
static void init_conv(rng *r, float *w, int O, int I, int k, float *b) {
    double sd = sqrt(2.0 / (I * k * k));
    for (int i = 0; i < O * I * k * k; i++) w[i] = (float)(sd * rng_normal(r));
    for (int o = 0; o < O; o++) b[o] = 0.0f;
}

/*
 * The first layer's first ten filters are set by hand, as a pretrained network's first layer
 * would have learned them: horizontal, vertical and diagonal edges and a centre-surround, each
 * with both signs, on the luminance (equal over R, G, B), so that a texture's orientation and
 * frequency show through global pooling whatever its colours. The rest stay random.
 */
static void design_first_layer(float *w, int O) {
    static const float f[5][9] = {{-1, 0, 1, -2, 0, 2, -1, 0, 1},   /* vertical edges */
                                  {-1, -2, -1, 0, 0, 0, 1, 2, 1},   /* horizontal edges */
                                  {0, 1, 2, -1, 0, 1, -2, -1, 0},   /* diagonal */
                                  {2, 1, 0, 1, 0, -1, 0, -1, -2},   /* anti-diagonal */
                                  {-1, -1, -1, -1, 8, -1, -1, -1, -1}}; /* centre-surround */
    for (int o = 0; o < 10 && o < O; o++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 9; i++)
                w[(o * 3 + c) * 9 + i] = (o % 2 ? -1.0f : 1.0f) * f[o / 2][i] / 6.0f;
}

/*
 * conv3x3/2 (3->32) ReLU, conv3x3/2 (32->64) ReLU, conv3x3/2 (64->128) ReLU, global average
 * pool, flatten, fc 128->10 ("logits"). The default tap is the fc's input ("features").
 */
static int write_model(const char *path, uint64_t seed) {
    graft__onnx_builder *b = graft__onnx_begin("graft demo-data", 13);
    if (!b) return 1;
    rng r = {seed ^ 0x5eedULL};
    static const int chans[4] = {3, 32, 64, 128};
    int rc = 0;
    const int64_t in_dims[4] = {-1, 3, 64, 64};
    rc |= graft__onnx_input(b, "image", 4, in_dims);
    const char *prev = "image";
    char names[3][3][32];
    for (int l = 0; l < 3; l++) {
        int I = chans[l], O = chans[l + 1];
        float *w = malloc(sizeof(float) * (size_t)(O * I * 9)), *bias = malloc(sizeof(float) * (size_t)O);
        if (!w || !bias) {
            free(w);
            free(bias);
            graft__onnx_free(b);
            return 1;
        }
        init_conv(&r, w, O, I, 3, bias);
        if (l == 0) design_first_layer(w, O);
        snprintf(names[l][0], 32, "conv%d.weight", l + 1);
        snprintf(names[l][1], 32, "conv%d.bias", l + 1);
        snprintf(names[l][2], 32, "conv%d", l + 1);
        const int64_t wd[4] = {O, I, 3, 3}, bd[1] = {O};
        rc |= graft__onnx_initializer(b, names[l][0], 4, wd, w);
        rc |= graft__onnx_initializer(b, names[l][1], 1, bd, bias);
        free(w);
        free(bias);
        const char *in[3] = {prev, names[l][0], names[l][1]};
        char conv_out[32], relu_out[32];
        snprintf(conv_out, sizeof conv_out, "conv%d_out", l + 1);
        snprintf(relu_out, sizeof relu_out, "relu%d", l + 1);
        const char *out[1] = {conv_out};
        graft__onnx_attr at[3] = {
            {.name = "kernel_shape", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 2, .ints = {3, 3}},
            {.name = "strides", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 2, .ints = {2, 2}},
            {.name = "pads", .type = GRAFT__ONNX_ATTR_INTS, .n_ints = 4, .ints = {1, 1, 1, 1}}};
        rc |= graft__onnx_node(b, "Conv", names[l][2], in, 3, out, 1, at, 3);
        const char *rin[1] = {conv_out}, *rout[1] = {relu_out};
        rc |= graft__onnx_node(b, "Relu", NULL, rin, 1, rout, 1, NULL, 0);
        prev = l == 2 ? "relu3" : (l == 0 ? "relu1" : "relu2");
    }
    const char *gin[1] = {"relu3"}, *gout[1] = {"pooled"};
    rc |= graft__onnx_node(b, "GlobalAveragePool", "pool", gin, 1, gout, 1, NULL, 0);
    const char *fin[1] = {"pooled"}, *fout[1] = {"features"};
    graft__onnx_attr axis = {.name = "axis", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
    rc |= graft__onnx_node(b, "Flatten", "flatten", fin, 1, fout, 1, &axis, 1);
    float fcw[10 * 128], fcb[10];
    init_conv(&r, fcw, 10, 128, 1, fcb);
    const int64_t fwd[2] = {10, 128}, fbd[1] = {10};
    rc |= graft__onnx_initializer(b, "fc.weight", 2, fwd, fcw);
    rc |= graft__onnx_initializer(b, "fc.bias", 1, fbd, fcb);
    const char *gemm_in[3] = {"features", "fc.weight", "fc.bias"}, *gemm_out[1] = {"logits"};
    graft__onnx_attr tb = {.name = "transB", .type = GRAFT__ONNX_ATTR_INT, .i = 1};
    rc |= graft__onnx_node(b, "Gemm", "fc", gemm_in, 3, gemm_out, 1, &tb, 1);
    const int64_t out_dims[2] = {-1, 10};
    rc |= graft__onnx_output(b, "logits", 2, out_dims);
    if (!rc) rc = graft__onnx_write(b, path);
    if (rc) fprintf(stderr, "graft demo-data: %s: %s\n", path, graft_last_error());
    graft__onnx_free(b);
    return rc ? 1 : 0;
}

static const char demo_usage[] =
    "usage: graft demo-data [options] DIR\n"
    "Writes DIR/textures.tar (generated images of six texture classes in class folders under\n"
    "train/ and val/, JPEG and PNG, plus a truncated JPEG and a README that a run rejects) and\n"
    "DIR/demo.onnx (a small ConvNet, 64x64 input, hand-set edge filters in its first layer and\n"
    "seeded random weights after; its default tap is the 128-d input of the classifier).\n"
    "With --target also DIR/target.tar: a second task for transfer learning, five new classes\n"
    "(grid, crosshatch, zigzag, bricks, waves) drawn with the textures' strokes, with few\n"
    "training images per class. Everything depends on the seed only.\n"
    "  -n, --per-class N    training images per class (default 200; val gets a third)\n"
    "  -t, --target         also write DIR/target.tar\n"
    "      --target-per-class N   its training images per class (default 25; val gets 50);\n"
    "                       implies --target\n"
    "      --seed S         random seed (default 1)\n"
    "      --prefix P       top directory of the members (default demo)\n"
    "      --name NAME      the texture tar's file name (default textures.tar)\n"
    "  -h, --help           this help\n";

int graft__cmd_demo_data(int argc, char **argv) {
    static const struct option longopts[] = {{"per-class", required_argument, 0, 'n'},
                                             {"target", no_argument, 0, 't'},
                                             {"target-per-class", required_argument, 0, 'T'},
                                             {"seed", required_argument, 0, 'S'},
                                             {"prefix", required_argument, 0, 'P'},
                                             {"name", required_argument, 0, 'N'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int per_class = 200, target = 0, target_per_class = 25, c;
    uint64_t seed = 1;
    const char *prefix = "demo", *tar_name = "textures.tar";
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:th", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
        case 'T': {
            int n = atoi(optarg);
            if (n < 1 || n > 100000) {
                fprintf(stderr, "graft demo-data: --%s takes 1..100000\n",
                        c == 'n' ? "per-class" : "target-per-class");
                return 2;
            }
            if (c == 'n') {
                per_class = n;
            } else {
                target_per_class = n;
                target = 1;
            }
            break;
        }
        case 't': target = 1; break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'P': prefix = optarg; break;
        case 'N': tar_name = optarg; break;
        case 'h': fputs(demo_usage, stdout); return 0;
        default: fputs(demo_usage, stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        fputs(demo_usage, stderr);
        return 2;
    }
    const char *dir = argv[optind];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "graft demo-data: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, tar_name);
    const task source = {source_names, DEMO_CLASSES, per_class, (per_class + 2) / 3, 0, 1};
    if (write_dataset(path, prefix, &source, seed)) return 1;
    printf("wrote %s (%d classes, %d train + %d val images per class, 2 bad members)\n", path,
           source.classes, source.train_count, source.val_count);
    if (target) {
        /* Few training images and a val split large enough to tell the methods apart, as in
           a real transfer setting; its own stream of draws, so the textures stay as they are. */
        const task tgt = {target_names, TARGET_CLASSES, target_per_class, 50, 1, 0};
        snprintf(path, sizeof path, "%s/target.tar", dir);
        if (write_dataset(path, prefix, &tgt, seed ^ 0x7a59e7ULL)) return 1;
        printf("wrote %s (%d classes, %d train + %d val images per class)\n", path, tgt.classes,
               tgt.train_count, tgt.val_count);
    }
    snprintf(path, sizeof path, "%s/demo.onnx", dir);
    if (write_model(path, seed)) return 1;
    printf("wrote %s (3 conv layers, 64x64 input, 128-d codes at \"features\")\n", path);
    return 0;
}
