/*
 * pipeline/cli/finetune_cmd.c: `graft finetune`, the command line over graft_finetune_run()
 * (include/graft/finetune.h): flags, the extraction's progress bar on a terminal, one line per
 * epoch (human-readable, or JSON with --json) and the summary. The job itself lives in
 * pipeline/loop/finetune.c; this file only talks.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "graft/finetune.h"
#include "graft/learn.h"
#include "kernels.h"

static const char finetune_usage[] =
    "usage: graft finetune MODEL INPUT... --out FILE.onnx [options]\n"
    "       graft finetune -m MODEL --out FILE.onnx [options] INPUT...\n"
    "Fine-tunes the top of MODEL on the labelled images of INPUT (as graft extract reads them:\n"
    "archives, directories, globs, @FILE; class folders or .cls/.txt/.json labels; train/ and\n"
    "val/ path components as splits): the layers after the freeze point train with SGD, a\n"
    "new classifier replaces the model's, and the best epoch's network (by val accuracy) is\n"
    "written as one ONNX file. The activations at the freeze point are extracted once into a\n"
    "cache, so epochs cost only the top; --augment decodes the images again every epoch\n"
    "instead, with random crops and flips.\n"
    "\n"
    "  -m, --model FILE       ONNX network (or the first argument)\n"
    "  -o, --out FILE.onnx    the fine-tuned network (required)\n"
    "  -c, --cache DIR        activations at the freeze point (default: OUT without .onnx\n"
    "                         plus .cache; resumable like any extract cache)\n"
    "      --checkpoint FILE  checkpoint after every epoch (default: OUT without .onnx plus\n"
    "                         .ckpt; the best epoch's goes to FILE without .ckpt plus\n"
    "                         .best.ckpt)\n"
    "      --resume FILE      continue from a checkpoint (same options and data): the result\n"
    "                         is bit for bit that of an uninterrupted run\n"
    "      --freeze-until T   the last frozen tensor or node (default: the nearest tensor\n"
    "                         cutting the network at or before the input of the sixth\n"
    "                         weighted layer from the end: MobileNetV2's and ResNet's last\n"
    "                         two blocks train; '-': train everything)\n"
    "  -e, --epochs N         epochs (default 10)\n"
    "  -b, --batch N          images per step (default 32)\n"
    "      --lr F             base learning rate (default 0.01)\n"
    "      --momentum F       SGD momentum (default 0.9)\n"
    "      --weight-decay F   L2 weight decay (default 1e-4)\n"
    "      --pretrained-lr-mult F   learning-rate multiplier of the pretrained layers\n"
    "                         (default 0.1; the new classifier's is 1)\n"
    "      --lr-mult P=F[,P=F..]    multipliers by fnmatch pattern on a parameter's layer\n"
    "                         or name, applied in order after --pretrained-lr-mult\n"
    "      --schedule S       cosine (default; per step down to 0), step or constant\n"
    "      --step-size N      epochs per step of the step schedule (default 3)\n"
    "      --gamma F          factor per step of the step schedule (default 0.1)\n"
    "      --loss L           softmax (default; cross-entropy) or hinge (multiclass)\n"
    "      --label-smoothing F   softmax label smoothing (default 0)\n"
    "      --dropout P        dropout before the classifier (default 0)\n"
    "      --bn-train         batch norm uses batch statistics (default: frozen running ones)\n"
    "      --reinit           re-initialise the trainable layers (train them from scratch)\n"
    "      --head FILE        start the classifier from a `graft train` head\n"
    "      --seed N           initialisation, shuffling, augmentation (default 42)\n"
    "      --augment          random resized crops and flips, images decoded every epoch\n"
    "      --shuffle-buffer N samples in --augment's shuffle buffer (default 1000)\n"
    "      --val-fraction F   keys without a train/val component go to val by hash, and with\n"
    "                         no val rows at all this fraction of train is held out\n"
    "                         (default 0.2)\n"
    "      --labels FILE.csv  key,label lines; override labels found in the data\n"
    "      --label-from auto|member|dir   where labels come from (default auto)\n"
    "  -j, --threads N        compute threads (default: GRAFT_THREADS, else all cores)\n"
    "      --decode-threads N decode threads (default: all cores)\n"
    "      --json             one JSON line per epoch (and the summary) on stdout\n"
    "  -q, --quiet            no progress bar and no epoch lines, only the summary\n"
    "%s"
    "  -h, --help             this help\n"
    "Bad images are skipped (listed in the cache's rejects.tsv); a broken archive ends that\n"
    "shard and the others go on. Ctrl-C stops cleanly with the last complete epoch's\n"
    "checkpoint saved: --resume it.\n";

/* A JSON number, or null for NaN (no val rows). */
static void json_num(const char *key, double v, int comma) {
    if (isfinite(v)) printf("\"%s\":%.6g%s", key, v, comma ? "," : "");
    else printf("\"%s\":null%s", key, comma ? "," : "");
}

static void on_epoch(void *user, const graft_finetune_epoch *e) {
    graft__progress *u = user;
    graft__progress_clear(u);
    if (u->quiet) return;
    if (u->json) {
        printf("{\"event\":\"epoch\",\"epoch\":%d,\"epochs\":%d,", e->epoch, e->epochs);
        json_num("train_loss", e->train_loss, 1);
        json_num("train_accuracy", e->train_accuracy, 1);
        json_num("val_loss", e->val_loss, 1);
        json_num("val_accuracy", e->val_accuracy, 1);
        json_num("lr", e->lr, 1);
        json_num("seconds", e->seconds, 1);
        printf("\"best\":%s,\"train_rows\":%llu,\"val_rows\":%llu}\n", e->best ? "true" : "false",
               (unsigned long long)e->train_rows, (unsigned long long)e->val_rows);
    } else {
        printf("epoch %*d/%d  train loss %.4f acc %.4f", e->epochs >= 10 ? 2 : 1, e->epoch,
               e->epochs, e->train_loss, e->train_accuracy);
        if (e->val_rows)
            printf("  val loss %.4f acc %.4f", e->val_loss, e->val_accuracy);
        printf("  lr %.3g  %.1f s%s\n", e->lr, e->seconds, e->best ? "  *best" : "");
    }
    fflush(stdout);
}

/* A finite number from the whole argument, or a usage message. */
static int parse_num(const char *flag, const char *arg, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || *end || errno || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "graft finetune: %s takes a number in [%g, %g], not '%s'\n", flag, lo,
                hi, arg);
        return -1;
    }
    *out = v;
    return 0;
}

enum {
    OPT_CHECKPOINT = 1000, OPT_RESUME, OPT_FREEZE, OPT_LR, OPT_MOMENTUM, OPT_WD, OPT_PRE_MULT,
    OPT_LR_MULT, OPT_SCHEDULE, OPT_STEP_SIZE, OPT_GAMMA, OPT_LOSS, OPT_SMOOTHING, OPT_DROPOUT,
    OPT_BN_TRAIN, OPT_REINIT, OPT_HEAD, OPT_SEED, OPT_AUGMENT, OPT_SHUFFLE, OPT_VAL_FRACTION,
    OPT_LABELS, OPT_LABEL_FROM, OPT_DECODE_THREADS, OPT_JSON
};

int graft__cmd_finetune(int argc, char **argv) {
    static const struct option base_opts[] = {
        {"model", required_argument, 0, 'm'},
        {"out", required_argument, 0, 'o'},
        {"cache", required_argument, 0, 'c'},
        {"checkpoint", required_argument, 0, OPT_CHECKPOINT},
        {"resume", required_argument, 0, OPT_RESUME},
        {"freeze-until", required_argument, 0, OPT_FREEZE},
        {"epochs", required_argument, 0, 'e'},
        {"batch", required_argument, 0, 'b'},
        {"lr", required_argument, 0, OPT_LR},
        {"momentum", required_argument, 0, OPT_MOMENTUM},
        {"weight-decay", required_argument, 0, OPT_WD},
        {"pretrained-lr-mult", required_argument, 0, OPT_PRE_MULT},
        {"lr-mult", required_argument, 0, OPT_LR_MULT},
        {"schedule", required_argument, 0, OPT_SCHEDULE},
        {"step-size", required_argument, 0, OPT_STEP_SIZE},
        {"gamma", required_argument, 0, OPT_GAMMA},
        {"loss", required_argument, 0, OPT_LOSS},
        {"label-smoothing", required_argument, 0, OPT_SMOOTHING},
        {"dropout", required_argument, 0, OPT_DROPOUT},
        {"bn-train", no_argument, 0, OPT_BN_TRAIN},
        {"reinit", no_argument, 0, OPT_REINIT},
        {"head", required_argument, 0, OPT_HEAD},
        {"seed", required_argument, 0, OPT_SEED},
        {"augment", no_argument, 0, OPT_AUGMENT},
        {"shuffle-buffer", required_argument, 0, OPT_SHUFFLE},
        {"val-fraction", required_argument, 0, OPT_VAL_FRACTION},
        {"labels", required_argument, 0, OPT_LABELS},
        {"label-from", required_argument, 0, OPT_LABEL_FROM},
        {"threads", required_argument, 0, 'j'},
        {"decode-threads", required_argument, 0, OPT_DECODE_THREADS},
        {"json", no_argument, 0, OPT_JSON},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
    };
    struct option longopts[64];
    int n_opts = 0;
    for (size_t i = 0; i < sizeof base_opts / sizeof base_opts[0]; i++)
        longopts[n_opts++] = base_opts[i];
    for (const struct option *op = graft__transform_longopts; op->name; op++)
        longopts[n_opts++] = *op;
    longopts[n_opts] = (struct option){0, 0, 0, 0};

    graft_finetune_options o;
    graft_finetune_options_init(&o);
    graft__transform_flags tf;
    graft__transform_flags_init(&tf);
    graft__progress u = {.cmd = "finetune", .tty = isatty(2)};
    const char *head_path = NULL;
    double v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:o:c:e:b:j:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model_path = optarg; break;
        case 'o': o.out_path = optarg; break;
        case 'c': o.cache_dir = optarg; break;
        case OPT_CHECKPOINT: o.checkpoint_path = optarg; break;
        case OPT_RESUME: o.resume_path = optarg; break;
        case OPT_FREEZE: o.top.freeze_until = optarg; break;
        case 'e':
            if (parse_num("--epochs", optarg, 1, 1000000, &v) || v != floor(v)) return 2;
            o.epochs = (int)v;
            break;
        case 'b':
            if (parse_num("--batch", optarg, 1, 4096, &v) || v != floor(v)) return 2;
            o.batch = (int)v;
            break;
        case OPT_LR:
            if (parse_num("--lr", optarg, 1e-12, 1e6, &o.lr)) return 2;
            break;
        case OPT_MOMENTUM:
            if (parse_num("--momentum", optarg, 0, 0.999999, &o.momentum)) return 2;
            break;
        case OPT_WD:
            if (parse_num("--weight-decay", optarg, 0, 1e3, &o.weight_decay)) return 2;
            break;
        case OPT_PRE_MULT:
            if (parse_num("--pretrained-lr-mult", optarg, 0, 1e6, &o.pretrained_lr_mult))
                return 2;
            break;
        case OPT_LR_MULT: o.lr_mult = optarg; break;
        case OPT_SCHEDULE:
            if (!strcmp(optarg, "cosine")) o.schedule = GRAFT_FINETUNE_SCHEDULE_COSINE;
            else if (!strcmp(optarg, "step")) o.schedule = GRAFT_FINETUNE_SCHEDULE_STEP;
            else if (!strcmp(optarg, "constant")) o.schedule = GRAFT_FINETUNE_SCHEDULE_CONSTANT;
            else {
                fprintf(stderr, "graft finetune: --schedule takes cosine, step or constant\n");
                return 2;
            }
            break;
        case OPT_STEP_SIZE:
            if (parse_num("--step-size", optarg, 1, 1000000, &v) || v != floor(v)) return 2;
            o.step_size = (int)v;
            break;
        case OPT_GAMMA:
            if (parse_num("--gamma", optarg, 1e-12, 1e6, &o.gamma)) return 2;
            break;
        case OPT_LOSS:
            if (!strcmp(optarg, "softmax")) o.loss = GRAFT_TOP_LOSS_SOFTMAX;
            else if (!strcmp(optarg, "hinge")) o.loss = GRAFT_TOP_LOSS_HINGE;
            else {
                fprintf(stderr, "graft finetune: --loss takes softmax or hinge\n");
                return 2;
            }
            break;
        case OPT_SMOOTHING:
            if (parse_num("--label-smoothing", optarg, 0, 0.999999, &v)) return 2;
            o.label_smoothing = (float)v;
            break;
        case OPT_DROPOUT:
            if (parse_num("--dropout", optarg, 0, 0.999999, &v)) return 2;
            o.top.dropout = (float)v;
            break;
        case OPT_BN_TRAIN: o.top.bn_train = 1; break;
        case OPT_REINIT: o.top.reinit = 1; break;
        case OPT_HEAD: head_path = optarg; break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (end == optarg || *end || errno || optarg[0] == '-') {
                fprintf(stderr, "graft finetune: --seed takes a whole number >= 0\n");
                return 2;
            }
            o.seed = s;
            break;
        }
        case OPT_AUGMENT: o.augment = 1; break;
        case OPT_SHUFFLE:
            if (parse_num("--shuffle-buffer", optarg, 1, 1 << 24, &v) || v != floor(v)) return 2;
            o.shuffle_buffer = (int)v;
            break;
        case OPT_VAL_FRACTION:
            if (parse_num("--val-fraction", optarg, 0, 0.999999, &o.read.val_fraction)) return 2;
            break;
        case OPT_LABELS: o.read.labels_csv = optarg; break;
        case OPT_LABEL_FROM:
            if (!strcmp(optarg, "auto")) o.read.label_source = GRAFT_LABEL_AUTO;
            else if (!strcmp(optarg, "member")) o.read.label_source = GRAFT_LABEL_MEMBER;
            else if (!strcmp(optarg, "dir")) o.read.label_source = GRAFT_LABEL_DIR;
            else {
                fprintf(stderr, "graft finetune: --label-from takes auto, member or dir\n");
                return 2;
            }
            break;
        case 'j':
            if (parse_num("--threads", optarg, 1, 1024, &v) || graft_threads_set((int)v)) {
                fprintf(stderr, "graft finetune: --threads takes a positive count\n");
                return 2;
            }
            break;
        case OPT_DECODE_THREADS:
            if (parse_num("--decode-threads", optarg, 1, 256, &v)) return 2;
            o.decode_threads = (int)v;
            break;
        case OPT_JSON: u.json = 1; break;
        case 'q': u.quiet = 1; break;
        case 'h': printf(finetune_usage, graft__transform_usage); return 0;
        default: {
            char err[256];
            int rc = graft__transform_flag(&tf, c, optarg, err, sizeof err);
            if (rc == 0) break;
            if (rc > 0) fprintf(stderr, "graft finetune: %s\n", err);
            else fprintf(stderr, finetune_usage, graft__transform_usage);
            return 2;
        }
        }
    }
    if (!o.model_path && optind < argc) o.model_path = argv[optind++];
    if (!o.model_path || !o.out_path || optind >= argc) {
        fprintf(stderr, finetune_usage, graft__transform_usage);
        return 2;
    }
    o.inputs = (const char *const *)argv + optind;
    o.input_count = argc - optind;
    o.handle_signals = 1;
    o.on_progress = graft__progress_on_progress;
    o.on_event = graft__progress_on_event;
    o.on_epoch = on_epoch;
    o.user = &u;

    /* The model's own preprocessing is the default; flags override it. */
    graft_model *m = NULL;
    if (graft_model_load(o.model_path, NULL, &m)) {
        fprintf(stderr, "graft finetune: %s\n", graft_last_error());
        return 1;
    }
    char err[512];
    int rc = graft__transform_resolve(&tf, m, &o.transform, err, sizeof err);
    graft_model_destroy(m);
    if (rc) {
        fprintf(stderr, "graft finetune: %s\n", err);
        return 2;
    }
    graft_head *head = NULL;
    if (head_path) {
        if (graft_head_load(head_path, &head)) {
            fprintf(stderr, "graft finetune: %s\n", graft_last_error());
            return 1;
        }
        o.top.head = head;
    }

    graft_finetune_stats st;
    rc = graft_finetune_run(&o, &st);
    graft__progress_clear(&u);
    graft_head_destroy(head);
    const graft_extract_stats *es = &st.extract;
    if (u.json) {
        printf("{\"event\":\"summary\",\"status\":");
        graft__json_string(stdout, rc ? graft_err_name(rc) : "ok");
        if (rc) {
            printf(",\"error\":");
            graft__json_string(stdout, graft_last_error());
        }
        printf(",\"out\":");
        graft__json_string(stdout, rc ? "" : o.out_path);
        printf(",\"freeze\":");
        graft__json_string(stdout, st.freeze);
        printf(",\"classes\":%d,\"train_rows\":%llu,\"val_rows\":%llu,\"start_epoch\":%d,"
               "\"epochs_done\":%d,\"best_epoch\":%d,",
               st.classes, (unsigned long long)st.train_rows, (unsigned long long)st.val_rows,
               st.start_epoch, st.epochs_done, st.best_epoch);
        json_num("best_val_accuracy", st.best_val_accuracy, 1);
        printf("\"extracted\":%llu,\"cached\":%llu,\"rejects\":%llu,\"shard_errors\":%llu,"
               "\"augment_rejects\":%llu}\n",
               (unsigned long long)es->extracted,
               (unsigned long long)(es->cached + es->rejected_before),
               (unsigned long long)es->rejects, (unsigned long long)es->shard_errors,
               (unsigned long long)st.augment_rejects);
    } else {
        if (rc) {
            /* The library's own messages already start with "finetune: ". */
            const char *e = graft_last_error();
            fprintf(stderr, "graft %s%s\n", strncmp(e, "finetune: ", 10) ? "finetune: " : "", e);
        }
        if (st.classes)
            printf("finetune: %d classes, %llu train and %llu val images (%llu extracted, %llu "
                   "cached, %llu rejected), %s%s\n",
                   st.classes, (unsigned long long)st.train_rows,
                   (unsigned long long)st.val_rows, (unsigned long long)es->extracted,
                   (unsigned long long)(es->cached + es->rejected_before),
                   (unsigned long long)es->rejects,
                   st.nothing_frozen ? "nothing frozen" : "frozen up to ",
                   st.nothing_frozen ? "" : st.freeze);
        if (!rc)
            printf("finetune: best epoch %d (val accuracy %.4f); written to %s\n", st.best_epoch,
                   st.best_val_accuracy, o.out_path);
    }
    if (rc == GRAFT_ECANCELED) return 130;
    if (rc) return 1;
    return es->shard_errors ? 1 : 0;
}
