/*
 * pipeline/cli/train_cmds.c: `graft train` and `graft eval`, the command lines over the
 * learners of include/graft/learn.h reading a feature cache (include/graft/cache.h).
 *
 * The cache view is the learner's row source: codes are copied out of the mmap'd segments
 * block by block, so a cache larger than memory trains out of core. Rows of the val split are
 * the validation rows, test rows are left out, train rows (and rows without a split) train;
 * --val-fraction holds out part of the train rows when the data names no val split.
 *
 * A head records in its meta text the cache's model sha256, tap and preprocessing, so
 * `graft eval` and `graft predict` can refuse codes that are not what the head was trained on.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "graft/cache.h"
#include "graft/learn.h"

/* ---- the cache as a row source ------------------------------------------------------------ */

typedef struct view_source {
    graft_cache_view *v;
    int tap;
    const int *class_map; /* view class index -> head class index (-1: not a head class) */
    graft_split only;     /* eval: only rows of this split (GRAFT_SPLIT_NONE: every split) */
    int all_splits;
} view_source;

static int view_read(void *ctx, size_t row, size_t count, float *X, int *labels, uint8_t *role) {
    view_source *s = ctx;
    int rc = graft_cache_view_codes(s->v, s->tap, row, count, X);
    if (rc) return rc;
    for (size_t i = 0; i < count; i++) {
        graft_cache_row_info ri;
        rc = graft_cache_view_row(s->v, row + i, &ri);
        if (rc) return rc;
        labels[i] = ri.label >= 0 && s->class_map ? s->class_map[ri.label] : ri.label;
        role[i] = ri.split == GRAFT_SPLIT_VAL    ? GRAFT_ROW_VAL
                  : ri.split == GRAFT_SPLIT_TEST ? GRAFT_ROW_SKIP
                                                 : GRAFT_ROW_TRAIN;
    }
    return GRAFT_OK;
}

static int find_tap(graft_cache_view *v, const char *name) {
    if (!name) return 0;
    for (int t = 0; t < graft_cache_view_tap_count(v); t++)
        if (!strcmp(graft_cache_view_tap(v, t)->name, name)) return t;
    return -1;
}

/* "model_sha256=... tap=... preprocess=..." : what a head's codes came from. */
static void codes_identity(graft_cache_view *v, int tap, char *buf, size_t cap) {
    snprintf(buf, cap, "model_sha256=%s\ntap=%s\npreprocess=%s\n",
             graft_cache_view_model_sha256(v), graft_cache_view_tap(v, tap)->name,
             graft_cache_view_preprocess(v));
}

int graft__head_meta_get(const char *meta, const char *key, char *out, size_t cap) {
    size_t kl = strlen(key);
    for (const char *p = meta; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            snprintf(out, cap, "%.*s", (int)(len - kl - 1), p + kl + 1);
            return 1;
        }
        p = eol ? eol + 1 : NULL;
    }
    return 0;
}

static int parse_list(const char *s, double *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !isfinite(v)) return -1;
        out[n++] = v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return *s ? -1 : n;
}

/* ---- graft train -------------------------------------------------------------------------- */

static const char train_usage[] =
    "usage: graft train --cache DIR --head FILE [options]\n"
    "Trains a linear classifier on the CNN codes of a cache (`graft extract`) and writes it to\n"
    "FILE. The val split (or --val-fraction of train) judges early stopping and the sweep;\n"
    "test rows are left out.\n"
    "\n"
    "  -c, --cache DIR        the feature cache\n"
    "  -o, --head FILE        where to write the head\n"
    "      --tap NAME         which tap of the cache (default: the first)\n"
    "      --loss L           softmax (default), hinge, squared-hinge or crammer-singer\n"
    "      --C C[,C...]       LIBLINEAR's C; several values sweep them and keep the best on\n"
    "                         validation (default: SVMlight's 1 / mean |x|^2)\n"
    "      --lambda L[,L...]  L2 strength instead of C (sweeps the same way)\n"
    "      --scale S[,S]      standardize (default), l2, sqrt, or none\n"
    "      --class-weight W   none (default) or balanced\n"
    "      --solver S         auto (default: L-BFGS or dual coordinate descent in memory),\n"
    "                         sgd, adagrad, adam, lbfgs, dual_cd\n"
    "      --lr R             learning rate of the minibatch solvers\n"
    "      --schedule S       constant, inverse, inv_sqrt, step, cosine (default)\n"
    "      --epochs N         at most N epochs (minibatch solvers; default 100)\n"
    "      --batch-size N     rows per step (default 32)\n"
    "      --patience N       early stopping after N epochs without improvement (default 10)\n"
    "      --val-fraction F   hold out this fraction of train rows when there is no val split\n"
    "      --seed S           shuffling and hold-out seed (default 0)\n"
    "      --json             one JSON object with the result on stdout\n"
    "  -h, --help             this help\n";

enum {
    OPT_TAP = 1000, OPT_LOSS, OPT_C, OPT_LAMBDA, OPT_SCALE, OPT_CLASS_WEIGHT, OPT_SOLVER, OPT_LR,
    OPT_SCHEDULE, OPT_EPOCHS, OPT_BATCH_SIZE, OPT_PATIENCE, OPT_VAL_FRACTION, OPT_SEED, OPT_JSON,
    OPT_SPLIT, OPT_CONFUSION
};

static int open_cache_view(const char *cmd, const char *dir, const char *tap_name,
                           graft_cache_view **v, int *tap) {
    if (graft_cache_view_open(dir, v)) {
        fprintf(stderr, "graft %s: %s\n", cmd, graft_last_error());
        return 1;
    }
    *tap = find_tap(*v, tap_name);
    if (*tap < 0) {
        fprintf(stderr, "graft %s: the cache %s has no tap %s\n", cmd, dir, tap_name);
        graft_cache_view_close(*v);
        return 2;
    }
    return 0;
}

int graft__cmd_train(int argc, char **argv) {
    static const struct option longopts[] = {
        {"cache", required_argument, 0, 'c'},
        {"head", required_argument, 0, 'o'},
        {"tap", required_argument, 0, OPT_TAP},
        {"loss", required_argument, 0, OPT_LOSS},
        {"C", required_argument, 0, OPT_C},
        {"lambda", required_argument, 0, OPT_LAMBDA},
        {"scale", required_argument, 0, OPT_SCALE},
        {"class-weight", required_argument, 0, OPT_CLASS_WEIGHT},
        {"solver", required_argument, 0, OPT_SOLVER},
        {"lr", required_argument, 0, OPT_LR},
        {"schedule", required_argument, 0, OPT_SCHEDULE},
        {"epochs", required_argument, 0, OPT_EPOCHS},
        {"batch-size", required_argument, 0, OPT_BATCH_SIZE},
        {"patience", required_argument, 0, OPT_PATIENCE},
        {"val-fraction", required_argument, 0, OPT_VAL_FRACTION},
        {"seed", required_argument, 0, OPT_SEED},
        {"json", no_argument, 0, OPT_JSON},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    graft_learn_options lo;
    graft_learn_options_init(&lo);
    const char *cache = NULL, *head_path = NULL, *tap_name = NULL;
    double strengths[64];
    int n_strengths = 0, are_lambda = 0, json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'c': cache = optarg; break;
        case 'o': head_path = optarg; break;
        case OPT_TAP: tap_name = optarg; break;
        case OPT_LOSS: {
            char name[64];
            snprintf(name, sizeof name, "%s", optarg);
            for (char *p = name; *p; p++)
                if (*p == '-') *p = '_';
            if (graft_loss_parse(name, &lo.loss)) {
                fprintf(stderr, "graft train: --loss takes softmax, hinge, squared-hinge or "
                                "crammer-singer\n");
                return 2;
            }
            break;
        }
        case OPT_C:
        case OPT_LAMBDA:
            n_strengths = parse_list(optarg, strengths, 64);
            are_lambda = c == OPT_LAMBDA;
            if (n_strengths < 1) {
                fprintf(stderr, "graft train: --%s takes a comma-separated list of numbers\n",
                        are_lambda ? "lambda" : "C");
                return 2;
            }
            break;
        case OPT_SCALE:
            if (graft_scale_parse(optarg, &lo.scale)) {
                fprintf(stderr, "graft train: --scale takes standardize, l2, sqrt or none\n");
                return 2;
            }
            break;
        case OPT_CLASS_WEIGHT:
            if (!strcmp(optarg, "balanced")) lo.class_weight = GRAFT_CLASS_WEIGHT_BALANCED;
            else if (!strcmp(optarg, "none")) lo.class_weight = GRAFT_CLASS_WEIGHT_NONE;
            else {
                fprintf(stderr, "graft train: --class-weight takes none or balanced\n");
                return 2;
            }
            break;
        case OPT_SOLVER:
            if (graft_solver_parse(optarg, &lo.solver)) {
                fprintf(stderr, "graft train: unknown solver %s\n", optarg);
                return 2;
            }
            break;
        case OPT_LR:
            lo.lr = strtod(optarg, &end);
            if (*end || !(lo.lr > 0)) {
                fprintf(stderr, "graft train: --lr takes a positive number\n");
                return 2;
            }
            break;
        case OPT_SCHEDULE:
            if (graft_schedule_parse(optarg, &lo.schedule)) {
                fprintf(stderr, "graft train: unknown schedule %s\n", optarg);
                return 2;
            }
            break;
        case OPT_EPOCHS:
        case OPT_BATCH_SIZE:
        case OPT_PATIENCE: {
            long v = strtol(optarg, &end, 10);
            if (*end || v < (c == OPT_PATIENCE ? 0 : 1) || v > 1000000) {
                fprintf(stderr, "graft train: %s takes a count\n", argv[optind - 2]);
                return 2;
            }
            if (c == OPT_EPOCHS) lo.epochs = (int)v;
            else if (c == OPT_BATCH_SIZE) lo.batch_size = (int)v;
            else lo.patience = (int)v;
            break;
        }
        case OPT_VAL_FRACTION:
            lo.val_fraction = strtod(optarg, &end);
            if (*end || !(lo.val_fraction >= 0 && lo.val_fraction < 1)) {
                fprintf(stderr, "graft train: --val-fraction takes a number in [0, 1)\n");
                return 2;
            }
            break;
        case OPT_SEED: lo.seed = strtoull(optarg, NULL, 10); break;
        case OPT_JSON: json = 1; break;
        case 'h': fputs(train_usage, stdout); return 0;
        default: fputs(train_usage, stderr); return 2;
        }
    }
    if (!cache || !head_path || optind != argc) {
        fputs(train_usage, stderr);
        return 2;
    }
    graft_cache_view *v;
    int tap, st = open_cache_view("train", cache, tap_name, &v, &tap);
    if (st) return st;
    int K = graft_cache_view_class_count(v);
    size_t D = graft_cache_view_dim(v, tap);
    if (K < 2) {
        fprintf(stderr, "graft train: the cache %s has %d labelled class%s; a classifier needs "
                        "two or more (labels come from class folders, .cls/.txt/.json members "
                        "or --labels at extract time)\n", cache, K, K == 1 ? "" : "es");
        graft_cache_view_close(v);
        return 1;
    }
    const char **names = malloc(sizeof(char *) * (size_t)K);
    for (int k = 0; k < K; k++) names[k] = graft_cache_view_class_name(v, k);
    view_source vs = {v, tap, NULL, GRAFT_SPLIT_NONE, 1};
    graft_row_source src = {graft_cache_view_rows(v), D, 0, view_read, &vs};

    graft_head *head = NULL;
    int rc;
    graft_sweep_entry entries[64];
    int best = 0;
    graft_fit_info info = {0};
    if (n_strengths > 1) {
        rc = graft_learn_sweep(&lo, D, K, names, &src, strengths, n_strengths, are_lambda,
                               entries, &best, &head);
    } else {
        if (n_strengths == 1) {
            if (are_lambda) {
                lo.C = 0;
                lo.lambda = strengths[0];
            } else {
                lo.C = strengths[0];
            }
        }
        graft_learner *l = NULL;
        rc = graft_learner_create(&lo, D, K, names, &l);
        if (!rc) rc = graft_learner_fit(l, &src);
        if (!rc) {
            graft_learner_fit_info(l, &info);
            rc = graft_learner_head(l, &head);
        }
        graft_learner_destroy(l);
    }
    if (!rc) {
        char meta[4096];
        codes_identity(v, tap, meta, sizeof meta);
        rc = graft_head_set_meta(head, meta);
    }
    if (!rc) rc = graft_head_save(head, head_path);
    if (rc) {
        fprintf(stderr, "graft train: %s\n", graft_last_error());
        graft_head_destroy(head);
        free(names);
        graft_cache_view_close(v);
        return 1;
    }
    if (n_strengths > 1) {
        if (!json) {
            printf("%-12s %-12s %-9s %-9s %s\n", are_lambda ? "lambda" : "C", "val_acc",
                   "val_loss", "epochs", "seconds");
            for (int i = 0; i < n_strengths; i++)
                printf("%-12g %-12.4f %-9.4f %-9d %.3f%s\n", entries[i].strength,
                       entries[i].val_accuracy, entries[i].val_loss, entries[i].epochs,
                       entries[i].seconds, i == best ? "   <- kept" : "");
            printf("train: %s head (%s %g) written to %s: %d classes, %zu features, val "
                   "accuracy %.4f\n", graft_loss_name(lo.loss), are_lambda ? "lambda" : "C",
                   entries[best].strength, head_path, K, D, entries[best].val_accuracy);
        } else {
            printf("{\"head\":\"%s\",\"loss\":\"%s\",\"classes\":%d,\"features\":%zu,"
                   "\"sweep\":[", head_path, graft_loss_name(lo.loss), K, D);
            for (int i = 0; i < n_strengths; i++)
                printf("%s{\"strength\":%g,\"val_accuracy\":%.6f,\"val_loss\":%.6f,"
                       "\"epochs\":%d}", i ? "," : "", entries[i].strength,
                       entries[i].val_accuracy, entries[i].val_loss, entries[i].epochs);
            printf("],\"best\":%g,\"val_accuracy\":%.6f}\n", entries[best].strength,
                   entries[best].val_accuracy);
        }
    } else if (json) {
        printf("{\"head\":\"%s\",\"loss\":\"%s\",\"solver\":\"%s\",\"classes\":%d,"
               "\"features\":%zu,\"train_rows\":%zu,\"val_rows\":%zu,\"lambda\":%g,"
               "\"epochs\":%d,\"train_objective\":%.6g,\"val_accuracy\":%.6f,\"seconds\":%.3f}\n",
               head_path, graft_loss_name(lo.loss), graft_solver_name(info.solver), K, D,
               info.train_rows, info.val_rows, info.lambda, info.epochs, info.train_objective,
               info.val_accuracy, info.seconds);
    } else {
        printf("train: %s head written to %s: %d classes, %zu features, %zu train rows, %zu val "
               "rows, %s %d %s, %.3f s", graft_loss_name(lo.loss), head_path, K, D,
               info.train_rows, info.val_rows, graft_solver_name(info.solver), info.epochs,
               info.solver == GRAFT_SOLVER_LBFGS || info.solver == GRAFT_SOLVER_DUAL_CD
                   ? "iterations" : "epochs",
               info.seconds);
        if (info.val_rows) printf(", val accuracy %.4f", info.val_accuracy);
        printf("\n");
    }
    graft_head_destroy(head);
    free(names);
    graft_cache_view_close(v);
    return 0;
}

/* ---- graft eval --------------------------------------------------------------------------- */

static const char eval_usage[] =
    "usage: graft eval --cache DIR --head FILE [options]\n"
    "Scores the head on the cache's codes: accuracy, top-5, per-class precision, recall and\n"
    "F1, and the confusion matrix. Rows whose class the head does not know are counted apart.\n"
    "\n"
    "  -c, --cache DIR        the feature cache\n"
    "  -o, --head FILE        the head (`graft train`)\n"
    "      --tap NAME         which tap of the cache (default: the head's)\n"
    "      --split S          val (default), train, test, none or all\n"
    "      --confusion FILE   also write the confusion matrix as CSV\n"
    "      --json             one JSON object on stdout\n"
    "  -h, --help             this help\n";

int graft__cmd_eval(int argc, char **argv) {
    static const struct option longopts[] = {{"cache", required_argument, 0, 'c'},
                                             {"head", required_argument, 0, 'o'},
                                             {"tap", required_argument, 0, OPT_TAP},
                                             {"split", required_argument, 0, OPT_SPLIT},
                                             {"confusion", required_argument, 0, OPT_CONFUSION},
                                             {"json", no_argument, 0, OPT_JSON},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *cache = NULL, *head_path = NULL, *tap_name = NULL, *confusion = NULL;
    int all = 0, json = 0, c;
    graft_split split = GRAFT_SPLIT_VAL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': cache = optarg; break;
        case 'o': head_path = optarg; break;
        case OPT_TAP: tap_name = optarg; break;
        case OPT_SPLIT:
            if (!strcmp(optarg, "all")) all = 1;
            else if (graft_split_parse(optarg, &split)) {
                fprintf(stderr, "graft eval: --split takes val, train, test, none or all\n");
                return 2;
            }
            break;
        case OPT_CONFUSION: confusion = optarg; break;
        case OPT_JSON: json = 1; break;
        case 'h': fputs(eval_usage, stdout); return 0;
        default: fputs(eval_usage, stderr); return 2;
        }
    }
    if (!cache || !head_path || optind != argc) {
        fputs(eval_usage, stderr);
        return 2;
    }
    graft_head *h = NULL;
    if (graft_head_load(head_path, &h)) {
        fprintf(stderr, "graft eval: %s\n", graft_last_error());
        return 1;
    }
    char head_tap[512] = "";
    graft__head_meta_get(h->meta, "tap", head_tap, sizeof head_tap);
    graft_cache_view *v;
    int tap, st = open_cache_view("eval", cache, tap_name ? tap_name : head_tap[0] ? head_tap : NULL,
                                  &v, &tap);
    if (st) {
        graft_head_destroy(h);
        return st;
    }
    /* The codes must be the kind the head was trained on. */
    char want[4096], have[4096], a[1024], b[1024];
    codes_identity(v, tap, have, sizeof have);
    snprintf(want, sizeof want, "%s", h->meta);
    static const char *const keys[] = {"model_sha256", "tap", "preprocess"};
    for (int i = 0; i < 3; i++) {
        if (graft__head_meta_get(want, keys[i], a, sizeof a) &&
            graft__head_meta_get(have, keys[i], b, sizeof b) &&
            strcmp(a, b)) {
            fprintf(stderr, "graft eval: the head %s was trained on codes with %s %s; the cache "
                            "%s has %s\n", head_path, keys[i], a, cache, b);
            graft_head_destroy(h);
            graft_cache_view_close(v);
            return 1;
        }
    }
    if (graft_cache_view_dim(v, tap) != h->D) {
        fprintf(stderr, "graft eval: the head takes %zu features, the cache's tap has %zu\n",
                h->D, graft_cache_view_dim(v, tap));
        graft_head_destroy(h);
        graft_cache_view_close(v);
        return 1;
    }
    /* Map the cache's class names onto the head's. */
    int Kc = graft_cache_view_class_count(v);
    int *map = malloc(sizeof(int) * (size_t)(Kc > 0 ? Kc : 1));
    for (int k = 0; k < Kc; k++) {
        map[k] = -1;
        for (int j = 0; j < h->K; j++)
            if (!strcmp(graft_cache_view_class_name(v, k), h->class_names[j])) map[k] = j;
    }
    size_t rows = graft_cache_view_rows(v), D = h->D, n = 0, unknown = 0, unlabelled = 0;
    enum { BLOCK = 1024 };
    float *X = malloc(sizeof(float) * BLOCK * D);
    float *scores = malloc(sizeof(float) * rows * (size_t)h->K + 1);
    int *labels = malloc(sizeof(int) * rows + 1);
    int rc = X && scores && labels ? GRAFT_OK : GRAFT_ENOMEM;
    for (size_t r0 = 0; r0 < rows && !rc; r0 += BLOCK) {
        size_t cnt = rows - r0 < BLOCK ? rows - r0 : BLOCK, m = 0;
        rc = graft_cache_view_codes(v, tap, r0, cnt, X);
        for (size_t i = 0; i < cnt && !rc; i++) {
            graft_cache_row_info ri;
            graft_cache_view_row(v, r0 + i, &ri);
            if (!all && ri.split != split) continue;
            if (ri.label < 0) {
                unlabelled++;
                continue;
            }
            if (map[ri.label] < 0) {
                unknown++;
                continue;
            }
            if (m != i) memcpy(X + m * D, X + i * D, sizeof(float) * D);
            labels[n + m] = map[ri.label];
            m++;
        }
        if (!rc && m) rc = graft_head_predict(h, X, m, scores + n * (size_t)h->K);
        n += m;
    }
    graft_eval e;
    if (!rc && n == 0) {
        fprintf(stderr, "graft eval: no labelled %s rows of the head's classes in %s\n",
                all ? "" : graft_split_name(split), cache);
        rc = GRAFT_EINVAL;
    } else if (!rc) {
        rc = graft_eval_scores(scores, labels, n, h->K, &e);
    }
    if (rc) {
        if (rc != GRAFT_EINVAL || n) fprintf(stderr, "graft eval: %s\n", graft_last_error());
    } else {
        if (json) {
            graft_eval_write_json(&e, (const char *const *)h->class_names, stdout);
        } else {
            printf("eval: %s on %s (%s rows: %zu", head_path, cache,
                   all ? "all" : graft_split_name(split), n);
            if (unknown) printf(", %zu of classes the head does not know skipped", unknown);
            if (unlabelled) printf(", %zu unlabelled skipped", unlabelled);
            printf(")\n");
            graft_eval_write_text(&e, (const char *const *)h->class_names, stdout);
        }
        if (confusion) {
            FILE *f = fopen(confusion, "w");
            if (!f || graft_eval_write_confusion_csv(&e, (const char *const *)h->class_names, f) ||
                fclose(f)) {
                fprintf(stderr, "graft eval: cannot write %s\n", confusion);
                rc = GRAFT_EIO;
            }
        }
        graft_eval_deinit(&e);
    }
    free(X);
    free(scores);
    free(labels);
    free(map);
    graft_head_destroy(h);
    graft_cache_view_close(v);
    return rc ? 1 : 0;
}
