/*
 * pipeline/cli/model_cmds.c: `graft info` and `graft classify`, the commands that look at a
 * model: what it contains (nodes, shapes, parameters, FLOPs, peak activation memory, tap
 * names) and what it says about images. Both parse their own getopt_long options; main.c's
 * table dispatches to them. classify prepares images with graft_transform_apply and takes the
 * shared preprocessing flags of transform_flags.c, so it sees exactly what `graft extract`
 * feeds the network.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "graft/image.h"
#include "graft/kernels.h"
#include "graft/model.h"

/* Splits "a,b" (names) into a NULL-terminated array of strdup'd names; count in *n. */
static char **split_names(const char *s, int *n) {
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    char **v = calloc((size_t)cap + 1, sizeof(char *));
    if (!v) return NULL;
    *n = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == ',' || !*p) {
            if (p > start) {
                v[*n] = strndup(start, (size_t)(p - start));
                (*n)++;
            }
            if (!*p) break;
            start = p + 1;
        }
    }
    return v;
}

static void free_names(char **v) {
    for (int i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}

static void fmt_shape(char *buf, size_t len, int rank, const int64_t *dims) {
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int d = 0; d < rank && used < len; d++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", d ? ", " : "",
                                 (long long)dims[d]);
    if (used < len) snprintf(buf + used, len - used, ")");
}

static void fmt_count(char *buf, size_t len, double v, const char *unit) {
    if (v >= 1e9) snprintf(buf, len, "%.2f G%s", v / 1e9, unit);
    else if (v >= 1e6) snprintf(buf, len, "%.2f M%s", v / 1e6, unit);
    else if (v >= 1e3) snprintf(buf, len, "%.1f k%s", v / 1e3, unit);
    else snprintf(buf, len, "%.0f %s", v, unit);
}

static int parse_size(const char *s, int *h, int *w) {
    float v[2];
    int k = graft__parse_floats(s, v, 2);
    if (k < 1 || v[0] < 1 || v[0] > 16384) return -1;
    *h = (int)v[0];
    *w = k == 2 ? (int)v[1] : *h;
    return *w >= 1 && *w <= 16384 ? 0 : -1;
}

static const char *isa_name(void) {
    graft_isa isa;
    return graft_isa_current(&isa) ? "?" : graft_isa_name(isa);
}

/* ---- graft info ------------------------------------------------------------------------ */

static const char info_usage[] =
    "usage: graft info [options] MODEL\n"
    "\n"
    "Lists what MODEL (.onnx or .tflite) contains: inputs, outputs, preprocessing, every node\n"
    "with its output shape, parameters and FLOPs, the peak activation memory of one forward\n"
    "pass, and the tap names --layer accepts (any tensor name works).\n"
    "\n"
    "  -b, --batch N        batch size for shapes, FLOPs and memory (default 1)\n"
    "  -s, --size H[,W]     input height and width (default: the model's, else 224)\n"
    "  -l, --layer NAMES    cut after these taps (comma-separated) instead of the default\n"
    "  -h, --help           show this help\n";

int graft__cmd_info(int argc, char **argv) {
    static const struct option opts[] = {{"batch", required_argument, 0, 'b'},
                                         {"size", required_argument, 0, 's'},
                                         {"layer", required_argument, 0, 'l'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int N = 1, H = 0, W = 0, c;
    const char *layers = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:s:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            N = atoi(optarg);
            if (N < 1) {
                fprintf(stderr, "graft info: --batch must be >= 1\n");
                return 2;
            }
            break;
        case 's':
            if (parse_size(optarg, &H, &W)) {
                fprintf(stderr, "graft info: --size takes H or H,W\n");
                return 2;
            }
            break;
        case 'l': layers = optarg; break;
        case 'h': fputs(info_usage, stdout); return 0;
        default: fputs(info_usage, stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        fputs(info_usage, stderr);
        return 2;
    }
    int n_taps = 0;
    char **taps = layers ? split_names(layers, &n_taps) : NULL;
    graft_model_options mo = {.keep = (const char *const *)taps};
    graft_model *m = NULL;
    graft_net *net = NULL;
    int rc = 1;
    if (graft_model_load(argv[optind], &mo, &m)) {
        fprintf(stderr, "graft info: %s\n", graft_last_error());
        goto done;
    }
    graft_model_preproc pp;
    graft_model_get_preproc(m, &pp);
    if (!H) H = pp.height, W = pp.width;
    /* Without --layer, every output is computed so that every node is listed. */
    const char *outs[64];
    const char *const *want = (const char *const *)taps;
    int n_want = n_taps;
    if (!taps) {
        n_want = graft_model_output_count(m) < 64 ? graft_model_output_count(m) : 64;
        for (int i = 0; i < n_want; i++) outs[i] = graft_model_output_name(m, i);
        want = outs;
    }
    if (graft_net_create(m, N, H, W, want, n_want, NULL, &net)) {
        fprintf(stderr, "graft info: %s\n", graft_last_error());
        goto done;
    }
    char buf[128], buf2[64];
    printf("model       %s\n", argv[optind]);
    printf("format      %s, %s\n", graft_model_format(m), graft_model_producer(m));
    printf("input       %s (%d, %d, %d, %d)\n", graft_model_input_name(m), N, pp.channels, H, W);
    for (int i = 0; i < graft_model_output_count(m); i++)
        printf("%s %s\n", i ? "           " : "outputs    ", graft_model_output_name(m, i));
    printf("preprocess  mean %.4g,%.4g,%.4g std %.4g,%.4g,%.4g (0-1 scale) %s\n", pp.mean[0],
           pp.mean[1], pp.mean[2], pp.std[0], pp.std[1], pp.std[2],
           pp.from_file ? "from the model file" : "torchvision's ImageNet default");
    if (pp.resize)
        printf("            shorter side to %d, center crop %dx%d\n", pp.resize, H, W);
    else
        printf("            whole image stretched to %dx%d\n", H, W);
    fmt_count(buf, sizeof buf, (double)graft_model_param_count(m), "");
    printf("parameters  %s (%.1f MiB as float32, %.1f MiB packed for %s)\n", buf,
           (double)graft_model_param_count(m) * 4 / 1048576.0,
           (double)graft_model_weight_bytes(m) / 1048576.0, isa_name());
    printf("\n%-4s %-44s %-18s %-22s %10s %12s\n", "#", "node", "op", "output shape", "params",
           "FLOPs");
    int64_t total_flops = 0;
    int listed = 0;
    for (int i = 0; i < graft_net_node_count(net); i++) {
        graft_node_info ni;
        if (graft_net_node_info(net, i, &ni)) continue;
        if (!ni.flops && !ni.params && ni.rank == 0) continue;
        total_flops += ni.flops;
        fmt_shape(buf, sizeof buf, ni.rank, ni.dims);
        char name[45];
        snprintf(name, sizeof name, "%s", ni.output);
        fmt_count(buf2, sizeof buf2, (double)ni.flops, "");
        printf("%-4d %-44s %-18s %-22s %10lld %12s\n", listed++, name, ni.op, buf,
               (long long)ni.params, ni.flops ? buf2 : "-");
    }
    fmt_count(buf, sizeof buf, (double)total_flops, "FLOP");
    printf("\nforward     %s for a batch of %d\n", buf, N);
    printf("activations %.2f MiB peak (one arena, buffers reused by liveness)",
           (double)graft_net_activation_bytes(net) / 1048576.0);
    if (graft_net_microbatch(net) < N)
        printf(", run %d image%s at a time", graft_net_microbatch(net),
               graft_net_microbatch(net) > 1 ? "s" : "");
    printf("\n");
    printf("taps        default: %s\n", graft_model_default_tap(m));
    printf("            any tensor above can be tapped with --layer NAME[,NAME...]\n");
    rc = 0;
done:
    graft_net_destroy(net);
    graft_model_destroy(m);
    free_names(taps);
    return rc;
}

/* ---- graft classify -------------------------------------------------------------------- */

static const char classify_usage[] =
    "usage: graft classify [options] MODEL IMAGE...\n"
    "\n"
    "Runs MODEL on each image and prints the top classes with their probabilities. Images are\n"
    "prepared as the model says, else as torchvision's ImageNet evaluation: shorter side to\n"
    "256, center crop 224, mean 0.485,0.456,0.406, std 0.229,0.224,0.225. At a --size larger\n"
    "than the trained one, a network with fully-connected layers (AlexNet, VGG) scores every\n"
    "position of the image and the class probabilities are averaged over the positions.\n"
    "\n"
    "  -L, --labels FILE      class names, one per line (line i is class i)\n"
    "  -k, --top K            classes to print per image (default 5)\n"
    "  -j, --json             one JSON object per image: {\"image\", \"top\": [{\"class\",\n"
    "                         \"label\", \"score\"}]}\n"
    "%s"
    "  -h, --help             show this help\n";

/* The label file's lines, or NULL; count in *n. */
static char **read_labels(const char *path, const char *embedded, int *n) {
    char *text = NULL;
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "graft classify: %s: %s\n", path, strerror(errno));
            return NULL;
        }
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = malloc((size_t)(len > 0 ? len : 0) + 1);
        if (!text || (len > 0 && fread(text, 1, (size_t)len, f) != (size_t)len)) {
            fclose(f);
            free(text);
            fprintf(stderr, "graft classify: %s: cannot read\n", path);
            return NULL;
        }
        text[len > 0 ? len : 0] = 0;
        fclose(f);
    } else if (embedded) {
        text = strdup(embedded);
    }
    if (!text) return NULL;
    int cap = 1;
    for (char *p = text; *p; p++) cap += *p == '\n';
    char **v = calloc((size_t)cap + 1, sizeof(char *));
    *n = 0;
    for (char *line = text; v && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[l - 1] = 0;
        v[(*n)++] = strdup(line);
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return v;
}

/* The whole file into a new malloc'd buffer; NULL with the reason in *why. */
static uint8_t *read_file(const char *path, size_t *out_len, const char **why) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = strerror(errno);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            *why = "out of memory";
            return NULL;
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        uint8_t *nb = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
        if (!nb) {
            free(buf);
            buf = NULL;
            continue;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        *why = "read error";
        return NULL;
    }
    *out_len = len;
    return buf;
}

int graft__cmd_classify(int argc, char **argv) {
    static const struct option own_opts[] = {{"labels", required_argument, 0, 'L'},
                                             {"top", required_argument, 0, 'k'},
                                             {"json", no_argument, 0, 'j'},
                                             {"help", no_argument, 0, 'h'}};
    struct option opts[32];
    int n_opts = 0;
    for (size_t i = 0; i < sizeof own_opts / sizeof own_opts[0]; i++) opts[n_opts++] = own_opts[i];
    for (const struct option *o = graft__transform_longopts; o->name; o++) opts[n_opts++] = *o;
    opts[n_opts] = (struct option){0, 0, 0, 0};
    graft__transform_flags tf;
    graft__transform_flags_init(&tf);
    const char *labels_path = NULL;
    int top = 5, json = 0, c;
    char msg[512];
    optind = 1;
    while ((c = getopt_long(argc, argv, "L:k:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'L': labels_path = optarg; break;
        case 'k':
            top = atoi(optarg);
            if (top < 1) {
                fprintf(stderr, "graft classify: --top must be >= 1\n");
                return 2;
            }
            break;
        case 'j': json = 1; break;
        case 'h': printf(classify_usage, graft__transform_usage); return 0;
        default: {
            int rc = graft__transform_flag(&tf, c, optarg, msg, sizeof msg);
            if (rc == 0) break;
            if (rc > 0) fprintf(stderr, "graft classify: %s\n", msg);
            else fprintf(stderr, classify_usage, graft__transform_usage);
            return 2;
        }
        }
    }
    if (argc - optind < 2) {
        fprintf(stderr, classify_usage, graft__transform_usage);
        return 2;
    }
    graft_model *m = NULL;
    graft_net *net = NULL;
    float *x = NULL;
    char **labels = NULL;
    int n_labels = 0, rc = 1, failures = 0;
    if (graft_model_load(argv[optind], NULL, &m)) {
        fprintf(stderr, "graft classify: %s\n", graft_last_error());
        goto done;
    }
    graft_model_preproc pp;
    graft_model_get_preproc(m, &pp);
    graft_transform tr;
    if (graft__transform_resolve(&tf, m, &tr, msg, sizeof msg)) {
        fprintf(stderr, "graft classify: %s\n", msg);
        rc = 2;
        goto done;
    }
    if (labels_path || pp.labels) {
        labels = read_labels(labels_path, pp.labels, &n_labels);
        if (labels_path && !labels) goto done;
    }
    const char *out_name = graft_model_output_name(m, 0);
    const char *taps[1] = {out_name};
    if (graft_net_create(m, 1, tr.height, tr.width, taps, 1, NULL, &net)) {
        fprintf(stderr, "graft classify: %s\n", graft_last_error());
        goto done;
    }
    x = malloc(sizeof(float) * 3 * (size_t)tr.height * (size_t)tr.width);
    if (!x) goto done;
    for (int a = optind + 1; a < argc; a++) {
        const char *path = argv[a];
        size_t len = 0;
        const char *why = NULL;
        uint8_t *bytes = read_file(path, &len, &why);
        if (!bytes) {
            fprintf(stderr, "graft classify: %s: %s\n", path, why);
            failures++;
            continue;
        }
        int err = graft_transform_apply(&tr, bytes, len, 0, GRAFT_IMAGE_LAYOUT_HWC, x);
        if (!err) err = graft_net_run(net, x, GRAFT_LAYOUT_NHWC);
        free(bytes);
        if (err) {
            fprintf(stderr, "graft classify: %s: %s\n", path, graft_last_error());
            failures++;
            continue;
        }
        int rank;
        int64_t dims[GRAFT_MODEL_MAX_RANK];
        graft_net_tap(net, 0, NULL, &rank, dims);
        int64_t K = rank >= 2 ? dims[1] : 1;
        float *p = malloc(sizeof(float) * (size_t)K);
        int *idx = malloc(sizeof(int) * (size_t)K);
        if (!p || !idx || graft_net_class_probs(net, 0, 0, p, K)) {
            fprintf(stderr, "graft classify: %s: %s\n", path,
                    p && idx ? graft_last_error() : "out of memory");
            free(p);
            free(idx);
            goto done;
        }
        for (int64_t k = 0; k < K; k++) idx[k] = (int)k;
        int kk = top < K ? top : (int)K;
        for (int i = 0; i < kk; i++) /* partial selection: K is ~1000, kk ~5 */
            for (int j = i + 1; j < K; j++)
                if (p[idx[j]] > p[idx[i]]) {
                    int t = idx[i];
                    idx[i] = idx[j];
                    idx[j] = t;
                }
        if (json) {
            printf("{\"image\": ");
            graft__json_string(stdout, path);
            printf(", \"top\": [");
            for (int i = 0; i < kk; i++) {
                printf("%s{\"class\": %d, \"label\": ", i ? ", " : "", idx[i]);
                graft__json_string(stdout, idx[i] < n_labels ? labels[idx[i]] : "");
                printf(", \"score\": %.6g}", p[idx[i]]);
            }
            printf("]}\n");
        } else {
            printf("%s\n", path);
            for (int i = 0; i < kk; i++)
                printf("  %5d  %.4f  %s\n", idx[i], p[idx[i]],
                       idx[i] < n_labels ? labels[idx[i]] : "");
        }
        fflush(stdout);
        free(p);
        free(idx);
    }
    rc = failures ? 1 : 0;
done:
    free(x);
    graft_net_destroy(net);
    graft_model_destroy(m);
    free_names(labels);
    return rc;
}
