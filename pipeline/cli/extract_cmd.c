/*
 * pipeline/cli/extract_cmd.c: `graft extract`, the command line over graft_extract_run()
 * (include/graft/pipeline.h): flags, a progress bar on a terminal or JSON lines elsewhere,
 * and the summary. Everything the run does lives in pipeline/loop/; this file only talks.
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

static const char extract_usage[] =
    "usage: graft extract --model MODEL --cache DIR [options] INPUT...\n"
    "Streams the images of INPUT (tar, tar.gz/bz2/xz/zst, zip, a directory, '-' for standard\n"
    "input; brace ranges shard-{000..099}.tar, globs, @FILE listing inputs) through MODEL and\n"
    "appends one CNN code per image to the cache DIR. Running it again resumes: images already\n"
    "in the cache (same key, same bytes) are skipped.\n"
    "\n"
    "  -m, --model FILE       ONNX or TFLite network\n"
    "  -c, --cache DIR        the cache directory (created when absent)\n"
    "  -l, --layer NAME[,..]  tensors to keep (default: the classifier's input)\n"
    "      --relu             ReLU the codes\n"
    "      --pool avg|max     global-pool spatial taps into vectors\n"
    "      --dtype float32|float16   code precision on disk (default float32)\n"
    "  -b, --batch N          images per forward pass (default 32)\n"
    "  -j, --threads N        compute threads (default: GRAFT_THREADS, else all cores)\n"
    "      --decode-threads N decode threads (default: all cores)\n"
    "      --labels FILE.csv  key,label lines; override labels found in the data\n"
    "      --label-from auto|member|dir|none   where labels come from (default auto:\n"
    "                         a .cls/.txt/.json member, else the parent directory)\n"
    "      --val-fraction F   send this fraction of keys (by hash) to val when the paths\n"
    "                         name no train/val/test split\n"
    "      --strict           stop at the first bad image instead of skipping it\n"
    "      --segment-rows N   rows per committed segment (default 4096)\n"
    "      --commit-seconds S also commit what is pending every S seconds (default 60)\n"
    "      --json             JSON lines on stdout (the default when stderr is not a terminal)\n"
    "      --train LOSS       also train a head live as the codes arrive: softmax, svm\n"
    "                         (squared hinge) or hinge; one pass, Adam (graft train on the\n"
    "                         cache afterwards trains to convergence)\n"
    "      --head FILE        where --train writes the head\n"
    "      --classes A,B,..   the class list for --train (or @FILE; default: the cache's,\n"
    "                         else the classes of the first 1024 labelled images)\n"
    "  -q, --quiet            no progress, only the summary\n"
    "%s"
    "  -h, --help             this help\n"
    "Bad images are skipped and listed in DIR/rejects.tsv; a broken archive ends that shard\n"
    "and the others go on (exit status 1 at the end). Ctrl-C stops cleanly: what was committed\n"
    "stays, and the next run resumes from there.\n";

/* ---- training while extracting (--train) ---------------------------------------------------- */

/*
 * The learner needs its classes up front. They come from --classes, else from the cache's
 * classes when it already has some (a resumed run), else from the first rows: codes are held
 * back until LIVE_HOLD labelled rows (or the end) have shown which classes there are. Rows of
 * classes outside the list are skipped and counted. Val rows are not trained on; they are kept
 * in memory to report the head's accuracy at the end.
 */
#define LIVE_HOLD 1024

typedef struct live {
    graft_learn_options lo;
    const char *head_path, *classes_arg, *cache_dir;
    char **classes;
    int K;
    size_t D;
    graft_learner *l;
    float *hold_X;      /* (held, D) rows waiting for the class list */
    char **hold_y;
    int *hold_val;
    size_t held;
    float *val_X;       /* (val_n, D) */
    int *val_y;
    size_t val_n, val_cap;
    uint64_t trained, unknown, unlabelled;
} live;

static int live_class(const live *lv, const char *label) {
    if (!label) return -1;
    for (int k = 0; k < lv->K; k++)
        if (!strcmp(lv->classes[k], label)) return k;
    return -2;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds a name to the class list unless present. */
static int live_add_class(live *lv, const char *name) {
    if (live_class(lv, name) >= 0) return 0;
    char **c = realloc(lv->classes, sizeof(char *) * (size_t)(lv->K + 1));
    if (!c) return -1;
    lv->classes = c;
    if (!(lv->classes[lv->K] = strdup(name))) return -1;
    lv->K++;
    return 0;
}

/* Classes from --classes (a,b,c or @FILE) or the cache's classes.txt; 0 when none known. */
static int live_known_classes(live *lv) {
    char path[4096];
    FILE *f = NULL;
    if (lv->classes_arg && lv->classes_arg[0] != '@') {
        char buf[65536];
        snprintf(buf, sizeof buf, "%s", lv->classes_arg);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
            if (live_add_class(lv, t)) return -1;
        return lv->K;
    }
    if (lv->classes_arg) snprintf(path, sizeof path, "%s", lv->classes_arg + 1);
    else snprintf(path, sizeof path, "%s/classes.txt", lv->cache_dir);
    f = fopen(path, "r");
    if (!f) return lv->classes_arg ? -1 : 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && live_add_class(lv, line)) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return lv->K;
}

static int live_start(live *lv) {
    if (lv->K < 2)
        return graft__fail(GRAFT_EINVAL, "--train: %d class%s known; a classifier needs two "
                           "or more (give --classes)", lv->K, lv->K == 1 ? "" : "es");
    qsort(lv->classes, (size_t)lv->K, sizeof(char *), cmp_str);
    return graft_learner_create(&lv->lo, lv->D, lv->K, (const char *const *)lv->classes, &lv->l);
}

static int live_keep_val(live *lv, const float *x, int y) {
    if (lv->val_n == lv->val_cap) {
        size_t cap = lv->val_cap ? 2 * lv->val_cap : 256;
        float *X = realloc(lv->val_X, sizeof(float) * cap * lv->D);
        if (!X) return GRAFT_ENOMEM;
        lv->val_X = X;
        int *Y = realloc(lv->val_y, sizeof(int) * cap);
        if (!Y) return GRAFT_ENOMEM;
        lv->val_y = Y;
        lv->val_cap = cap;
    }
    memcpy(lv->val_X + lv->val_n * lv->D, x, sizeof(float) * lv->D);
    lv->val_y[lv->val_n++] = y;
    return GRAFT_OK;
}

/* Trains on (or keeps for validation) rows whose class indices are known. */
static int live_feed(live *lv, size_t n, const float *X, const int *y, const int *is_val) {
    float *tx = malloc(sizeof(float) * (n ? n : 1) * lv->D);
    int *ty = malloc(sizeof(int) * (n ? n : 1));
    size_t m = 0;
    int rc = tx && ty ? GRAFT_OK : GRAFT_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        if (y[i] == -1) {
            lv->unlabelled++;
            continue;
        }
        if (y[i] < 0) {
            lv->unknown++;
            continue;
        }
        if (is_val[i]) {
            rc = live_keep_val(lv, X + i * lv->D, y[i]);
            continue;
        }
        memcpy(tx + m * lv->D, X + i * lv->D, sizeof(float) * lv->D);
        ty[m++] = y[i];
    }
    if (!rc && m) rc = graft_learner_partial_fit(lv->l, tx, ty, m);
    lv->trained += m;
    free(tx);
    free(ty);
    return rc;
}

static int live_flush_hold(live *lv) {
    int rc = live_start(lv);
    int *y = malloc(sizeof(int) * (lv->held ? lv->held : 1));
    if (!rc && !y) rc = GRAFT_ENOMEM;
    for (size_t i = 0; i < lv->held && !rc; i++) y[i] = lv->hold_y[i] ? live_class(lv, lv->hold_y[i]) : -1;
    if (!rc) rc = live_feed(lv, lv->held, lv->hold_X, y, lv->hold_val);
    for (size_t i = 0; i < lv->held; i++) free(lv->hold_y[i]);
    free(y);
    free(lv->hold_X);
    free(lv->hold_y);
    free(lv->hold_val);
    lv->hold_X = NULL;
    lv->hold_y = NULL;
    lv->hold_val = NULL;
    lv->held = 0;
    return rc;
}

static int live_on_codes(void *user, int n, const graft_cache_row *rows, const float *const *codes,
                         const size_t *dims) {
    live *lv = user;
    lv->D = dims[0];
    int *is_val = malloc(sizeof(int) * (size_t)n);
    if (!is_val) return GRAFT_ENOMEM;
    for (int i = 0; i < n; i++) is_val[i] = rows[i].split == GRAFT_SPLIT_VAL;
    int rc = GRAFT_OK;
    if (!lv->l && lv->K >= 2 && !lv->hold_X) rc = live_start(lv);
    if (!rc && lv->l) {
        int *y = malloc(sizeof(int) * (size_t)n);
        if (!y) rc = GRAFT_ENOMEM;
        for (int i = 0; i < n && !rc; i++) y[i] = live_class(lv, rows[i].label);
        if (!rc) rc = live_feed(lv, (size_t)n, codes[0], y, is_val);
        free(y);
    } else if (!rc) {
        /* Hold the rows back until the class list is known. */
        size_t need = lv->held + (size_t)n;
        float *X = realloc(lv->hold_X, sizeof(float) * need * lv->D);
        char **Y = realloc(lv->hold_y, sizeof(char *) * need);
        int *V = realloc(lv->hold_val, sizeof(int) * need);
        if (X) lv->hold_X = X;
        if (Y) lv->hold_y = Y;
        if (V) lv->hold_val = V;
        if (!X || !Y || !V) rc = GRAFT_ENOMEM;
        for (int i = 0; i < n && !rc; i++) {
            memcpy(lv->hold_X + lv->held * lv->D, codes[0] + (size_t)i * lv->D,
                   sizeof(float) * lv->D);
            lv->hold_y[lv->held] = rows[i].label ? strdup(rows[i].label) : NULL;
            lv->hold_val[lv->held] = is_val[i];
            if (rows[i].label && live_add_class(lv, rows[i].label)) rc = GRAFT_ENOMEM;
            lv->held++;
        }
        if (!rc && lv->held >= LIVE_HOLD) rc = live_flush_hold(lv);
    }
    free(is_val);
    if (rc == GRAFT_ENOMEM) graft__fail(rc, "--train: out of memory");
    return rc;
}

/* After the run: the rest of the rows, the last step, the head file and its val accuracy. */
static int live_finish(live *lv, const char *model_path, const char *cache_dir, double *val_acc) {
    int rc = GRAFT_OK;
    *val_acc = NAN;
    if (!lv->l && lv->held) rc = live_flush_hold(lv);
    if (!rc && !lv->l)
        return graft__fail(GRAFT_EINVAL, "--train: no new labelled codes to train on (a "
                           "resumed run trains on what it extracts; use graft train on the "
                           "cache)");
    if (!rc) rc = graft_learner_flush(lv->l);
    graft_head *h = NULL;
    if (!rc) rc = graft_learner_head(lv->l, &h);
    if (!rc) {
        /* The same identity `graft train` records, read back from the cache. */
        graft_cache_view *v = NULL;
        char meta[4096] = "";
        if (cache_dir && !graft_cache_view_open(cache_dir, &v)) {
            snprintf(meta, sizeof meta, "model_sha256=%s\ntap=%s\npreprocess=%s\n",
                     graft_cache_view_model_sha256(v), graft_cache_view_tap(v, 0)->name,
                     graft_cache_view_preprocess(v));
            graft_cache_view_close(v);
        }
        (void)model_path;
        rc = graft_head_set_meta(h, meta);
    }
    if (!rc) rc = graft_head_save(h, lv->head_path);
    if (!rc && lv->val_n) {
        graft_eval e;
        if (!graft_eval_head(h, lv->val_X, lv->val_y, lv->val_n, &e)) {
            *val_acc = e.accuracy;
            graft_eval_deinit(&e);
        }
    }
    graft_head_destroy(h);
    return rc;
}

static void live_free(live *lv) {
    graft_learner_destroy(lv->l);
    for (int k = 0; k < lv->K; k++) free(lv->classes[k]);
    free(lv->classes);
    for (size_t i = 0; i < lv->held; i++) free(lv->hold_y[i]);
    free(lv->hold_X);
    free(lv->hold_y);
    free(lv->hold_val);
    free(lv->val_X);
    free(lv->val_y);
}

static int split_list(char *s, const char **out, int cap) {
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < cap; tok = strtok(NULL, ",")) out[n++] = tok;
    return n;
}

enum {
    OPT_RELU = 1000, OPT_POOL, OPT_DTYPE, OPT_DECODE_THREADS, OPT_LABELS, OPT_LABEL_FROM,
    OPT_VAL_FRACTION, OPT_STRICT, OPT_SEGMENT_ROWS, OPT_COMMIT_SECONDS, OPT_JSON, OPT_TRAIN,
    OPT_HEAD, OPT_CLASSES
};

int graft__cmd_extract(int argc, char **argv) {
    static const struct option base_opts[] = {
        {"model", required_argument, 0, 'm'},
        {"cache", required_argument, 0, 'c'},
        {"layer", required_argument, 0, 'l'},
        {"relu", no_argument, 0, OPT_RELU},
        {"pool", required_argument, 0, OPT_POOL},
        {"dtype", required_argument, 0, OPT_DTYPE},
        {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 'j'},
        {"decode-threads", required_argument, 0, OPT_DECODE_THREADS},
        {"labels", required_argument, 0, OPT_LABELS},
        {"label-from", required_argument, 0, OPT_LABEL_FROM},
        {"val-fraction", required_argument, 0, OPT_VAL_FRACTION},
        {"strict", no_argument, 0, OPT_STRICT},
        {"segment-rows", required_argument, 0, OPT_SEGMENT_ROWS},
        {"commit-seconds", required_argument, 0, OPT_COMMIT_SECONDS},
        {"json", no_argument, 0, OPT_JSON},
        {"train", required_argument, 0, OPT_TRAIN},
        {"head", required_argument, 0, OPT_HEAD},
        {"classes", required_argument, 0, OPT_CLASSES},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
    };
    struct option longopts[64];
    int n_opts = 0;
    for (size_t i = 0; i < sizeof base_opts / sizeof base_opts[0]; i++) longopts[n_opts++] = base_opts[i];
    for (const struct option *o = graft__transform_longopts; o->name; o++) longopts[n_opts++] = *o;
    longopts[n_opts] = (struct option){0, 0, 0, 0};

    graft_extract_options o = {0};
    graft__transform_flags tf;
    graft__transform_flags_init(&tf);
    graft__progress u = {.cmd = "extract", .tty = isatty(2), .json = !isatty(2), .extract = 1};
    const char *taps[GRAFT_CACHE_MAX_TAPS];
    char *layer_arg = NULL;
    live lv = {0};
    graft_learn_options_init(&lv.lo);
    lv.lo.solver = GRAFT_SOLVER_ADAM;
    lv.lo.lr = 0.01;
    const char *train_loss = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:c:l:b:j:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model_path = optarg; break;
        case 'c': o.cache_dir = optarg; break;
        case 'l': layer_arg = optarg; break;
        case OPT_RELU: o.tap_opts.relu = 1; break;
        case OPT_POOL:
            if (!strcmp(optarg, "avg")) o.tap_opts.pool = GRAFT_TAP_POOL_AVG;
            else if (!strcmp(optarg, "max")) o.tap_opts.pool = GRAFT_TAP_POOL_MAX;
            else if (!strcmp(optarg, "none")) o.tap_opts.pool = GRAFT_TAP_POOL_NONE;
            else {
                fprintf(stderr, "graft extract: --pool takes avg, max or none\n");
                return 2;
            }
            break;
        case OPT_DTYPE:
            if (!strcmp(optarg, "float32")) o.dtype = GRAFT_CACHE_DTYPE_F32;
            else if (!strcmp(optarg, "float16")) o.dtype = GRAFT_CACHE_DTYPE_F16;
            else {
                fprintf(stderr, "graft extract: --dtype takes float32 or float16\n");
                return 2;
            }
            break;
        case 'b':
            o.batch = atoi(optarg);
            if (o.batch < 1 || o.batch > 4096) {
                fprintf(stderr, "graft extract: --batch takes 1..4096\n");
                return 2;
            }
            break;
        case 'j': {
            int t = atoi(optarg);
            if (t < 1 || graft_threads_set(t)) {
                fprintf(stderr, "graft extract: --threads takes a positive count\n");
                return 2;
            }
            break;
        }
        case OPT_DECODE_THREADS:
            o.decode_threads = atoi(optarg);
            if (o.decode_threads < 1 || o.decode_threads > 256) {
                fprintf(stderr, "graft extract: --decode-threads takes 1..256\n");
                return 2;
            }
            break;
        case OPT_LABELS: o.read.labels_csv = optarg; break;
        case OPT_LABEL_FROM:
            if (!strcmp(optarg, "auto")) o.read.label_source = GRAFT_LABEL_AUTO;
            else if (!strcmp(optarg, "member")) o.read.label_source = GRAFT_LABEL_MEMBER;
            else if (!strcmp(optarg, "dir")) o.read.label_source = GRAFT_LABEL_DIR;
            else if (!strcmp(optarg, "none")) o.read.label_source = GRAFT_LABEL_NONE;
            else {
                fprintf(stderr, "graft extract: --label-from takes auto, member, dir or none\n");
                return 2;
            }
            break;
        case OPT_VAL_FRACTION: {
            char *end;
            o.read.val_fraction = strtod(optarg, &end);
            if (*end || !(o.read.val_fraction >= 0 && o.read.val_fraction < 1)) {
                fprintf(stderr, "graft extract: --val-fraction takes a number in [0, 1)\n");
                return 2;
            }
            break;
        }
        case OPT_STRICT: o.strict = 1; break;
        case OPT_SEGMENT_ROWS:
            o.segment_rows = atoi(optarg);
            if (o.segment_rows < 1) {
                fprintf(stderr, "graft extract: --segment-rows takes a positive count\n");
                return 2;
            }
            break;
        case OPT_COMMIT_SECONDS:
            o.commit_seconds = atof(optarg);
            if (!(o.commit_seconds > 0)) {
                fprintf(stderr, "graft extract: --commit-seconds takes a positive number\n");
                return 2;
            }
            break;
        case OPT_JSON: u.json = 1; break;
        case OPT_TRAIN: {
            train_loss = optarg;
            char name[64];
            snprintf(name, sizeof name, "%s", optarg);
            for (char *q = name; *q; q++)
                if (*q == '-') *q = '_';
            if (graft_loss_parse(name, &lv.lo.loss)) {
                fprintf(stderr, "graft extract: --train takes softmax, svm, hinge or "
                                "squared-hinge\n");
                return 2;
            }
            break;
        }
        case OPT_HEAD: lv.head_path = optarg; break;
        case OPT_CLASSES: lv.classes_arg = optarg; break;
        case 'q': u.quiet = 1; break;
        case 'h': printf(extract_usage, graft__transform_usage); return 0;
        default: {
            char err[256];
            int rc = graft__transform_flag(&tf, c, optarg, err, sizeof err);
            if (rc == 0) break;
            if (rc > 0) fprintf(stderr, "graft extract: %s\n", err);
            else fprintf(stderr, extract_usage, graft__transform_usage);
            return 2;
        }
        }
    }
    if (!o.model_path || !o.cache_dir || optind >= argc) {
        fprintf(stderr, extract_usage, graft__transform_usage);
        return 2;
    }
    if (layer_arg) {
        o.tap_count = split_list(layer_arg, taps, GRAFT_CACHE_MAX_TAPS);
        o.taps = taps;
    }
    if (!train_loss != !lv.head_path) {
        fprintf(stderr, "graft extract: --train and --head go together\n");
        return 2;
    }
    if (train_loss) {
        lv.cache_dir = o.cache_dir;
        if (live_known_classes(&lv) < 0) {
            fprintf(stderr, "graft extract: cannot read the classes %s\n", lv.classes_arg);
            live_free(&lv);
            return 2;
        }
        o.on_codes = live_on_codes;
    }
    o.inputs = (const char *const *)argv + optind;
    o.input_count = argc - optind;
    o.handle_signals = 1;
    o.on_progress = graft__progress_on_progress;
    o.on_event = graft__progress_on_event;
    o.user = &u;
    o.codes_user = &lv;

    /* The model's own preprocessing is the default; flags override it. */
    graft_model *m = NULL;
    if (graft_model_load(o.model_path, NULL, &m)) {
        fprintf(stderr, "graft extract: %s\n", graft_last_error());
        return 1;
    }
    char err[512];
    int rc = graft__transform_resolve(&tf, m, &o.transform, err, sizeof err);
    graft_model_destroy(m);
    if (rc) {
        fprintf(stderr, "graft extract: %s\n", err);
        return 2;
    }

    graft_extract_stats st;
    rc = graft_extract_run(&o, &st);
    graft__progress_clear(&u);
    double live_acc = NAN;
    if (train_loss && (!rc || rc == GRAFT_ECANCELED)) {
        int lrc = live_finish(&lv, o.model_path, o.cache_dir, &live_acc);
        if (lrc) fprintf(stderr, "graft extract: --train: %s\n", graft_last_error());
        else if (!u.json)
            printf("train: %s head written to %s: %d classes, %llu rows trained live, "
                   "val accuracy %.4f on %zu rows%s\n", graft_loss_name(lv.lo.loss),
                   lv.head_path, lv.K, (unsigned long long)lv.trained, live_acc, lv.val_n,
                   lv.unknown ? " (rows of unlisted classes skipped)" : "");
        else
            printf("{\"event\":\"train\",\"head\":\"%s\",\"classes\":%d,\"trained\":%llu,"
                   "\"val_rows\":%zu,\"val_accuracy\":%.6f,\"unknown_class_rows\":%llu}\n",
                   lv.head_path, lv.K, (unsigned long long)lv.trained, lv.val_n, live_acc,
                   (unsigned long long)lv.unknown);
        if (lrc && !rc) rc = lrc;
    }
    live_free(&lv);
    double rate = st.elapsed > 0 ? (double)st.extracted / st.elapsed : 0;
    if (u.json) {
        printf("{\"event\":\"summary\",\"status\":");
        graft__json_string(stdout, rc ? graft_err_name(rc) : "ok");
        if (rc) {
            printf(",\"error\":");
            graft__json_string(stdout, graft_last_error());
        }
        printf(",\"samples\":%llu,\"extracted\":%llu,\"committed\":%llu,\"cached\":%llu,"
               "\"rejected_before\":%llu,\"rejects\":%llu,\"shard_errors\":%llu,\"segments\":%llu,"
               "\"elapsed\":%.2f,\"images_per_s\":%.1f,\"forward_s\":%.2f,\"decode_s\":%.2f}\n",
               (unsigned long long)st.samples, (unsigned long long)st.extracted,
               (unsigned long long)st.committed, (unsigned long long)st.cached,
               (unsigned long long)st.rejected_before, (unsigned long long)st.rejects,
               (unsigned long long)st.shard_errors, (unsigned long long)st.segments, st.elapsed,
               rate, st.forward_seconds, st.decode_seconds);
    } else if (rc && !st.samples && !st.rejects && !st.shard_errors) {
        /* Nothing was read: the error says it all. */
        fprintf(stderr, "graft extract: %s\n", graft_last_error());
    } else {
        if (rc) fprintf(stderr, "graft extract: %s\n", graft_last_error());
        printf("extract: %llu images read, %llu extracted (%.1f img/s), %llu already cached, "
               "%llu rejected (rejects.tsv), %llu shard errors; %llu rows in %llu segments "
               "committed to %s in %.1f s\n",
               (unsigned long long)st.samples, (unsigned long long)st.extracted, rate,
               (unsigned long long)(st.cached + st.rejected_before),
               (unsigned long long)st.rejects, (unsigned long long)st.shard_errors,
               (unsigned long long)st.committed, (unsigned long long)st.segments, o.cache_dir,
               st.elapsed);
    }
    if (rc == GRAFT_ECANCELED) return 130;
    if (rc) return 1;
    return st.shard_errors ? 1 : 0;
}
