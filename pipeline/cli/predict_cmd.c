/*
 * pipeline/cli/predict_cmd.c: `graft predict MODEL HEAD INPUT...`: images or archives to
 * labels, with the head trained by `graft train`.
 *
 * The codes are computed exactly as `graft extract` computed the training codes: the head's
 * meta text records the model's sha256, the tap and the preprocessing description of the
 * cache it was trained on; the model must match, and the description is parsed back into the
 * transform and tap options here. The pipeline is graft_extract_run without a cache, the codes
 * going straight to the head.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "graft/learn.h"
#include "graft/pipeline.h"
#include "kernels.h"

/*
 * Parses graft_transform_describe()'s canonical line (plus extract's tap_relu= and tap_pool=)
 * back into a transform and tap options. Unknown keys are an error: a description this graft
 * cannot reproduce must not be guessed at.
 */
static int parse_preprocess(const char *desc, graft_transform *t, graft_tap_options *tap,
                            char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    memset(tap, 0, sizeof *tap);
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", desc);
    int seen_crop = 0;
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        if (!eq) goto bad;
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        if (!strcmp(k, "resize")) t->resize = atoi(v);
        else if (!strcmp(k, "crop")) seen_crop = sscanf(v, "%dx%d", &t->width, &t->height) == 2;
        else if (!strcmp(k, "filter")) {
            if (!strcmp(v, "bilinear")) t->filter = GRAFT_RESAMPLE_BILINEAR;
            else if (!strcmp(v, "bicubic")) t->filter = GRAFT_RESAMPLE_BICUBIC;
            else if (!strcmp(v, "nearest")) t->filter = GRAFT_RESAMPLE_NEAREST;
            else goto bad;
        } else if (!strcmp(k, "mean")) {
            if (graft__parse_floats(v, t->mean, 3) != 3) goto bad;
        } else if (!strcmp(k, "std")) {
            if (graft__parse_floats(v, t->std, 3) != 3) goto bad;
        } else if (!strcmp(k, "scale")) t->scale255 = !strcmp(v, "1");
        else if (!strcmp(k, "order")) t->bgr = !strcmp(v, "bgr");
        else if (!strcmp(k, "hflip")) t->hflip = atoi(v);
        else if (!strcmp(k, "dct")) t->dct_scaling = atoi(v);
        else if (!strcmp(k, "max_pixels")) t->decode.max_pixels = strtoull(v, NULL, 10);
        else if (!strcmp(k, "tap_relu")) tap->relu = atoi(v);
        else if (!strcmp(k, "tap_pool")) {
            if (!strcmp(v, "avg")) tap->pool = GRAFT_TAP_POOL_AVG;
            else if (!strcmp(v, "max")) tap->pool = GRAFT_TAP_POOL_MAX;
            else if (strcmp(v, "none")) goto bad;
        } else {
            snprintf(err, errlen, "the head's preprocessing has %s=%s, which this graft does not "
                                  "know", k, v);
            return -1;
        }
        continue;
    bad:
        snprintf(err, errlen, "cannot read the head's preprocessing near \"%s\"", tok);
        return -1;
    }
    if (!seen_crop) {
        snprintf(err, errlen, "the head's preprocessing names no input size");
        return -1;
    }
    /* The round trip must be exact, or the codes would not be the training codes. */
    char again[1024];
    if (graft_transform_describe(t, again, sizeof again) || strncmp(desc, again, strlen(again))) {
        snprintf(err, errlen, "the head's preprocessing \"%s\" does not read back the same "
                              "(\"%s\")", desc, again);
        return -1;
    }
    return 0;
}

typedef struct predict_ctx {
    const graft_head *head;
    int json, top;
    float *scores;     /* (batch, K) */
    int cap;
    uint64_t count;
    int rc;
} predict_ctx;

static void csv_field(const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static int on_codes(void *user, int n, const graft_cache_row *rows, const float *const *codes,
                    const size_t *dims) {
    predict_ctx *p = user;
    const graft_head *h = p->head;
    if (dims[0] != h->D)
        return graft__fail(GRAFT_EINVAL, "the model's tap gives %zu values, the head takes %zu",
                               dims[0], h->D);
    if (n > p->cap) {
        float *s = realloc(p->scores, sizeof(float) * (size_t)n * (size_t)h->K);
        if (!s) return GRAFT_ENOMEM;
        p->scores = s;
        p->cap = n;
    }
    int rc = h->loss == GRAFT_LOSS_SOFTMAX ? graft_head_proba(h, codes[0], (size_t)n, p->scores)
                                           : graft_head_predict(h, codes[0], (size_t)n, p->scores);
    if (rc) return rc;
    int top = p->top < h->K ? p->top : h->K;
    for (int i = 0; i < n; i++) {
        const float *s = p->scores + (size_t)i * (size_t)h->K;
        int best[64];
        /* Top-k by selection; ties go to the lower class index, as graft eval counts them. */
        for (int j = 0; j < top; j++) {
            int arg = -1;
            for (int k = 0; k < h->K; k++) {
                int taken = 0;
                for (int q = 0; q < j; q++) taken |= best[q] == k;
                if (!taken && (arg < 0 || s[k] > s[arg])) arg = k;
            }
            best[j] = arg;
        }
        if (p->json) {
            printf("{\"key\":");
            graft__json_string(stdout, rows[i].key);
            printf(",\"shard\":");
            graft__json_string(stdout, rows[i].shard);
            printf(",\"label\":");
            graft__json_string(stdout, h->class_names[best[0]]);
            printf(",\"score\":%.6g,\"top\":[", s[best[0]]);
            for (int j = 0; j < top; j++) {
                printf("%s{\"class\":%d,\"label\":", j ? "," : "", best[j]);
                graft__json_string(stdout, h->class_names[best[j]]);
                printf(",\"score\":%.6g}", s[best[j]]);
            }
            printf("]}\n");
        } else {
            csv_field(rows[i].key);
            putchar(',');
            csv_field(h->class_names[best[0]]);
            printf(",%.6g\n", s[best[0]]);
        }
        p->count++;
    }
    fflush(stdout);
    return GRAFT_OK;
}

static void on_event(void *user, const graft_extract_event *ev) {
    if (ev->kind == GRAFT_EXTRACT_EVENT_REJECT)
        fprintf(stderr, "graft predict: skipped %s: %s: %s\n", ev->shard,
                ev->member && *ev->member ? ev->member : ev->key, ev->reason);
    else if (ev->kind == GRAFT_EXTRACT_EVENT_SHARD_ERROR)
        fprintf(stderr, "graft predict: %s: %s\n", ev->shard, ev->reason);
}

static const char predict_usage[] =
    "usage: graft predict [options] MODEL HEAD INPUT...\n"
    "Labels the images of INPUT (archives, directories, '-', as `graft extract` reads them)\n"
    "with HEAD (`graft train`), computing their codes with MODEL exactly as the codes the head\n"
    "was trained on. Prints CSV lines key,label,score (score: the probability for a softmax\n"
    "head, the decision value for an SVM), or JSON lines with --json.\n"
    "\n"
    "  -k, --top K            JSON: the K best classes (default 5)\n"
    "      --json             JSON lines {\"key\", \"shard\", \"label\", \"score\", \"top\"}\n"
    "  -b, --batch N          images per forward pass (default 32)\n"
    "      --header           CSV: print a header line first\n"
    "  -h, --help             this help\n";

enum { OPT_JSON = 1000, OPT_HEADER };

int graft__cmd_predict(int argc, char **argv) {
    static const struct option longopts[] = {{"top", required_argument, 0, 'k'},
                                             {"json", no_argument, 0, OPT_JSON},
                                             {"batch", required_argument, 0, 'b'},
                                             {"header", no_argument, 0, OPT_HEADER},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    predict_ctx p = {0};
    p.top = 5;
    int batch = 32, header = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:b:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            p.top = atoi(optarg);
            if (p.top < 1 || p.top > 64) {
                fprintf(stderr, "graft predict: --top takes 1..64\n");
                return 2;
            }
            break;
        case 'b':
            batch = atoi(optarg);
            if (batch < 1 || batch > 4096) {
                fprintf(stderr, "graft predict: --batch takes 1..4096\n");
                return 2;
            }
            break;
        case OPT_JSON: p.json = 1; break;
        case OPT_HEADER: header = 1; break;
        case 'h': fputs(predict_usage, stdout); return 0;
        default: fputs(predict_usage, stderr); return 2;
        }
    }
    if (argc - optind < 3) {
        fputs(predict_usage, stderr);
        return 2;
    }
    const char *model = argv[optind], *head_path = argv[optind + 1];
    graft_head *h = NULL;
    if (graft_head_load(head_path, &h)) {
        fprintf(stderr, "graft predict: %s\n", graft_last_error());
        return 1;
    }
    char want_sha[128], tap[512], desc[2048], err[2300];
    if (!graft__head_meta_get(h->meta, "model_sha256", want_sha, sizeof want_sha) ||
        !graft__head_meta_get(h->meta, "tap", tap, sizeof tap) ||
        !graft__head_meta_get(h->meta, "preprocess", desc, sizeof desc)) {
        fprintf(stderr, "graft predict: the head %s does not say which codes it was trained on "
                        "(model_sha256, tap, preprocess in its meta text)\n", head_path);
        graft_head_destroy(h);
        return 1;
    }
    char sha[65];
    if (graft_file_sha256(model, sha)) {
        fprintf(stderr, "graft predict: %s\n", graft_last_error());
        graft_head_destroy(h);
        return 1;
    }
    if (strcmp(sha, want_sha)) {
        fprintf(stderr, "graft predict: the head %s was trained on codes of the model with "
                        "sha256 %s; %s has %s\n", head_path, want_sha, model, sha);
        graft_head_destroy(h);
        return 1;
    }
    graft_extract_options o = {0};
    if (parse_preprocess(desc, &o.transform, &o.tap_opts, err, sizeof err)) {
        fprintf(stderr, "graft predict: %s\n", err);
        graft_head_destroy(h);
        return 1;
    }
    const char *taps[1] = {tap};
    o.model_path = model;
    o.taps = taps;
    o.tap_count = 1;
    o.inputs = (const char *const *)argv + optind + 2;
    o.input_count = argc - optind - 2;
    o.batch = batch;
    o.handle_signals = 1;
    o.on_codes = on_codes;
    o.on_event = on_event;
    o.codes_user = &p;
    p.head = h;
    if (header && !p.json) printf("key,label,score\n");
    graft_extract_stats st;
    int rc = graft_extract_run(&o, &st);
    if (rc) fprintf(stderr, "graft predict: %s\n", graft_last_error());
    free(p.scores);
    graft_head_destroy(h);
    if (rc == GRAFT_ECANCELED) return 130;
    return rc || st.shard_errors ? 1 : 0;
}
