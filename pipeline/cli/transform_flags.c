/*
 * pipeline/cli/transform_flags.c: the preprocessing flags every image-reading command takes
 * (`graft classify`, `graft extract`, `graft finetune`), parsed once here so they mean the
 * same everywhere: --preset, --mean, --std, --size, --resize, --filter, --max-pixels,
 * --dct-scaling. A command appends graft__transform_longopts to its getopt_long table, hands
 * every option it does not know to graft__transform_flag, and after loading the model calls
 * graft__transform_resolve, which starts from the model's own preprocessing (or the preset)
 * and applies the flags on top.
 *
 * It does not know about augmentation (random crops, flips): training commands set those
 * fields of graft_transform themselves.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    OPT_PRESET = GRAFT__TRANSFORM_OPT_BASE,
    OPT_MEAN,
    OPT_STD,
    OPT_SIZE,
    OPT_RESIZE,
    OPT_FILTER,
    OPT_MAX_PIXELS,
    OPT_DCT_SCALING,
};

const struct option graft__transform_longopts[] = {
    {"preset", required_argument, 0, OPT_PRESET},
    {"mean", required_argument, 0, OPT_MEAN},
    {"std", required_argument, 0, OPT_STD},
    {"size", required_argument, 0, OPT_SIZE},
    {"resize", required_argument, 0, OPT_RESIZE},
    {"filter", required_argument, 0, OPT_FILTER},
    {"max-pixels", required_argument, 0, OPT_MAX_PIXELS},
    {"dct-scaling", no_argument, 0, OPT_DCT_SCALING},
    {0, 0, 0, 0},
};

const char graft__transform_usage[] =
    "      --preset NAME      imagenet, inception, caffe or stretch (default: the model's\n"
    "                         own preprocessing, else imagenet)\n"
    "      --mean M[,M,M]     normalisation mean per RGB channel, 0-1 scale (0-255 with\n"
    "                         the caffe preset)\n"
    "      --std S[,S,S]      normalisation std per RGB channel\n"
    "      --size H[,W]       network input size\n"
    "      --resize N         shorter side before the center crop; 0 stretches the whole\n"
    "                         image to the input size\n"
    "      --filter F         bilinear (default) or bicubic\n"
    "      --max-pixels N     refuse larger images (default 89478485, Pillow's limit)\n"
    "      --dct-scaling      let JPEG decode at 1/2, 1/4, 1/8 scale when the image is at\n"
    "                         least twice the needed size (faster; pixels then differ\n"
    "                         slightly from torchvision's)\n";

void graft__transform_flags_init(graft__transform_flags *f) {
    memset(f, 0, sizeof *f);
    f->resize = -1;
    f->filter = -1;
}

static int say(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 1;
}

/* "a,b,c" into up to max finite floats; the count, or -1. */
int graft__parse_floats(const char *s, float *v, int max) {
    int n = 0;
    while (*s && n < max) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || errno || !isfinite(d)) return -1;
        v[n++] = (float)d;
        s = end;
        if (*s == ',' && s[1]) s++;
        else if (*s) return -1;
    }
    return *s ? -1 : n;
}

/* A whole decimal number in [lo, hi]; 0 or -1. */
static int parse_long(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int graft__transform_flag(graft__transform_flags *f, int opt, const char *arg, char *err,
                          size_t errlen) {
    long long v;
    switch (opt) {
    case OPT_PRESET: {
        graft_transform probe;
        if (graft_transform_preset(arg, 0, &probe))
            return say(err, errlen, "--preset: %s", graft_last_error());
        f->preset = arg;
        return 0;
    }
    case OPT_MEAN:
        f->n_mean = graft__parse_floats(arg, f->mean, 3);
        if (f->n_mean != 1 && f->n_mean != 3)
            return say(err, errlen, "--mean takes M or M,M,M");
        return 0;
    case OPT_STD:
        f->n_std = graft__parse_floats(arg, f->std, 3);
        if (f->n_std != 1 && f->n_std != 3)
            return say(err, errlen, "--std takes S or S,S,S");
        for (int c = 0; c < f->n_std; c++)
            if (f->std[c] == 0.0f) return say(err, errlen, "--std must not be 0");
        return 0;
    case OPT_SIZE: {
        float s[2];
        int n = graft__parse_floats(arg, s, 2);
        if (n < 1 || s[0] < 1 || s[0] > 16384 || s[0] != floorf(s[0]) ||
            (n == 2 && (s[1] < 1 || s[1] > 16384 || s[1] != floorf(s[1]))))
            return say(err, errlen, "--size takes H or H,W (whole numbers 1..16384)");
        f->height = (int)s[0];
        f->width = n == 2 ? (int)s[1] : f->height;
        return 0;
    }
    case OPT_RESIZE:
        if (parse_long(arg, 0, 16384, &v))
            return say(err, errlen, "--resize takes a whole number 0..16384");
        f->resize = (int)v;
        return 0;
    case OPT_FILTER:
        if (!strcmp(arg, "bilinear")) f->filter = GRAFT_RESAMPLE_BILINEAR;
        else if (!strcmp(arg, "bicubic")) f->filter = GRAFT_RESAMPLE_BICUBIC;
        else return say(err, errlen, "--filter takes bilinear or bicubic");
        return 0;
    case OPT_MAX_PIXELS:
        if (parse_long(arg, 1, (long long)1 << 40, &v))
            return say(err, errlen, "--max-pixels takes a positive whole number");
        f->max_pixels = (size_t)v;
        return 0;
    case OPT_DCT_SCALING: f->dct_scaling = 1; return 0;
    default: return -1;
    }
}

int graft__transform_resolve(const graft__transform_flags *f, const graft_model *m,
                             graft_transform *out, char *err, size_t errlen) {
    graft_model_preproc pp;
    memset(&pp, 0, sizeof pp);
    if (m) graft_model_get_preproc(m, &pp);
    graft_transform t;
    if (f->preset) {
        /* The preset at the size asked for, else the model's input size. */
        int size = f->height ? f->height : pp.height;
        if (graft_transform_preset(f->preset, size, &t))
            return say(err, errlen, "%s", graft_last_error());
        if (!f->height && pp.width) t.width = pp.width;
    } else if (m) {
        graft_transform_preset("imagenet", 0, &t);
        for (int c = 0; c < 3; c++) {
            t.mean[c] = pp.mean[c];
            t.std[c] = pp.std[c];
        }
        t.resize = pp.resize;
        if (pp.height) t.height = pp.height;
        if (pp.width) t.width = pp.width;
    } else {
        graft_transform_preset("imagenet", 0, &t);
    }
    for (int c = 0; c < 3 && f->n_mean; c++) t.mean[c] = f->mean[f->n_mean == 1 ? 0 : c];
    for (int c = 0; c < 3 && f->n_std; c++) t.std[c] = f->std[f->n_std == 1 ? 0 : c];
    if (f->height) {
        /* A new input size keeps the resize-to-crop ratio (torchvision's 256 for 224 becomes
           73 for 64), unless --resize or a preset says otherwise. */
        int old_short = t.height < t.width ? t.height : t.width;
        int new_short = f->height < f->width ? f->height : f->width;
        if (!f->preset && f->resize < 0 && t.resize > 0 && old_short > 0)
            t.resize = (int)((int64_t)t.resize * new_short / old_short);
        t.height = f->height;
        t.width = f->width;
    }
    if (f->resize >= 0) t.resize = f->resize;
    if (f->filter >= 0) t.filter = (graft_resample)f->filter;
    if (f->max_pixels) t.decode.max_pixels = f->max_pixels;
    if (f->dct_scaling) t.dct_scaling = 1;
    /* describe() runs the same validation apply does, so a bad combination fails here. */
    char desc[512];
    if (graft_transform_describe(&t, desc, sizeof desc))
        return say(err, errlen, "%s", graft_last_error());
    *out = t;
    return 0;
}
