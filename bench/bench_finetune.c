/*
 * bench_finetune.c: fine-tuning throughput (training images/s) of graft's trainable top
 * (include/graft/finetune.h) against PyTorch 1.13 on torchvision's mobilenet_v2 with
 * everything before its last two inverted-residual blocks frozen: features.16, features.17,
 * features.18 and a new classifier of 10 classes train, with SGD (lr 0.01, momentum 0.9) on a
 * batch of 32 at 224x224, at 1 and 2 threads.
 *
 * graft: the seeded ONNX export `make models MODELS=mobilenet_v2` writes (loaded fused, with
 * keep_weights), a graft_net for the trunk tapping the freeze tensor (the output of
 * features.15), and a graft_top frozen there; one step is graft_net_run + graft_top_forward
 * (train) + graft_top_backward (cross-entropy) + graft_top_step. PyTorch: bench/torch_finetune.py
 * in its own process (the same seeded network rebuilt by tests/models/gen_torchvision.py,
 * requires_grad False on the frozen part, model.eval(), torch.optim.SGD); one step is
 * zero_grad + forward + loss + backward + step. Both use the same deterministic input and
 * labels. Each side makes a warm-up step, then --reps timed steps, in --rounds blocks that
 * alternate which side goes first, so that slow phases of this shared machine hit both.
 *
 * One JSON line per thread count on stdout: case "mobilenet_v2-ft-b32-t<T>", graft and ref in
 * images/s (batch / median step time), ref_name "pytorch", ratio = graft / ref (> 1: graft is
 * faster), the median CPU seconds per step of each (steadier than wall time on a loaded
 * machine, for one thread), graft's split between the frozen trunk and the top, the ISA and
 * the thread count. The first and last losses of each side are printed beside, as a check that
 * both trained (they start near ln 10; the classifiers' initial weights differ, so the numbers
 * are not compared). Progress goes to stderr.
 *
 * Not here: data loading or augmentation (graft's loop, bench-extract), checkpoints, the
 * correctness of the gradients (tests/finetune/check_torch_grads.c).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "graft/finetune.h"
#include "graft/graft.h"
#include "graft/model.h"

#ifndef GRAFT_BUILD_DIR
#define GRAFT_BUILD_DIR "build"
#endif

enum { EXIT_WRONG = 1, EXIT_USAGE = 2 };
enum { LIST_MAX = 8, TIMES_MAX = 256 };

#define DEFAULT_FREEZE "/net/features/features.15/Add_output_0"

typedef struct options {
    const char *model, *freeze, *python, *script_dir;
    int batch, classes, size, reps, rounds, quick;
    int threads[LIST_MAX], thread_count;
    graft_isa isa;
} options;

/* The timings of one side for one thread count, pooled over rounds. */
typedef struct side_times {
    double wall[TIMES_MAX], cpu[TIMES_MAX], trunk[TIMES_MAX], top[TIMES_MAX];
    int count;
    double loss_first, loss_last;
    int have_loss;
} side_times;

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static float input_value(uint64_t i) {
    return (float)((double)((i * 7919u) % 2000u) / 1000.0 - 1.0);
}

/* ---- graft ------------------------------------------------------------------------------ */

typedef struct graft_side {
    graft_model *m;
    graft_net *trunk;
    graft_top *top;
    float *x;   /* (N, 3, S, S) */
    int *labels;
    int N;
} graft_side;

static int graft_side_init(graft_side *g, const options *o) {
    memset(g, 0, sizeof *g);
    g->N = o->batch;
    graft_model_options mo = {.keep_weights = 1};
    const char *taps[1] = {o->freeze};
    graft_top_options to = {0};
    to.freeze_until = o->freeze;
    to.classes = o->classes;
    to.seed = 1;
    int err = graft_model_load(o->model, &mo, &g->m);
    if (!err) err = graft_net_create(g->m, g->N, o->size, o->size, taps, 1, NULL, &g->trunk);
    if (!err) err = graft_top_create(g->m, g->N, o->size, o->size, &to, &g->top);
    if (err) {
        fprintf(stderr, "bench_finetune: %s: %s: %s\n", o->model, graft_err_name(err),
                graft_last_error());
        return -1;
    }
    size_t count = (size_t)g->N * 3 * (size_t)o->size * (size_t)o->size;
    g->x = malloc(sizeof(float) * count);
    g->labels = malloc(sizeof(int) * (size_t)g->N);
    if (!g->x || !g->labels) return -1;
    for (size_t i = 0; i < count; i++) g->x[i] = input_value(i);
    for (int i = 0; i < g->N; i++) g->labels[i] = i % o->classes;
    return 0;
}

static void graft_side_deinit(graft_side *g) {
    graft_top_destroy(g->top);
    graft_net_destroy(g->trunk);
    graft_model_destroy(g->m);
    free(g->x);
    free(g->labels);
}

/* One training step; its trunk and top seconds into *trunk_s, *top_s. */
static int graft_step(graft_side *g, double *trunk_s, double *top_s, float *loss) {
    double a = bench_now_seconds();
    const float *tap;
    int err = graft_net_run(g->trunk, g->x, GRAFT_LAYOUT_NCHW);
    if (!err) err = graft_net_tap(g->trunk, 0, &tap, NULL, NULL);
    double b = bench_now_seconds();
    if (!err) err = graft_top_forward(g->top, tap, g->N, 1);
    if (!err) err = graft_top_backward(g->top, g->labels, GRAFT_TOP_LOSS_SOFTMAX, 0.f, loss);
    if (!err) err = graft_top_step(g->top, 0.01f, 0.9f, 0.f);
    double c = bench_now_seconds();
    if (err) {
        fprintf(stderr, "bench_finetune: graft step: %s: %s\n", graft_err_name(err),
                graft_last_error());
        return -1;
    }
    *trunk_s = b - a;
    *top_s = c - b;
    return 0;
}

static int graft_block(graft_side *g, int threads, int reps, side_times *st) {
    if (graft_threads_set(threads) != GRAFT_OK) return -1;
    double trunk, top;
    float loss;
    if (graft_step(g, &trunk, &top, &loss)) return -1; /* warm-up */
    if (!st->have_loss) st->loss_first = loss, st->have_loss = 1;
    for (int r = 0; r < reps && st->count < TIMES_MAX; r++) {
        double a = bench_now_seconds(), c = cpu_seconds();
        if (graft_step(g, &trunk, &top, &loss)) return -1;
        st->wall[st->count] = bench_now_seconds() - a;
        st->cpu[st->count] = cpu_seconds() - c;
        st->trunk[st->count] = trunk;
        st->top[st->count] = top;
        st->count++;
    }
    st->loss_last = loss;
    if (!isfinite(loss)) {
        fprintf(stderr, "bench_finetune: graft's loss is %g\n", loss);
        return -1;
    }
    return 0;
}

/* ---- PyTorch ---------------------------------------------------------------------------- */

static int torch_block(const options *o, int threads, side_times *st) {
    char script[1024], nbuf[16], tbuf[16], sbuf[16], kbuf[16], rbuf[16];
    snprintf(script, sizeof script, "%s/torch_finetune.py", o->script_dir);
    snprintf(nbuf, sizeof nbuf, "%d", o->batch);
    snprintf(tbuf, sizeof tbuf, "%d", threads);
    snprintf(sbuf, sizeof sbuf, "%d", o->size);
    snprintf(kbuf, sizeof kbuf, "%d", o->classes);
    snprintf(rbuf, sizeof rbuf, "%d", o->reps);
    char *argv[] = {(char *)o->python, script, "--batch", nbuf, "--threads", tbuf, "--size",
                    sbuf, "--classes", kbuf, "--reps", rbuf, "--warmup", "1", NULL};
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char omp[32];
        snprintf(omp, sizeof omp, "%d", threads);
        setenv("OMP_NUM_THREADS", omp, 1);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "bench_finetune: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "BENCHRESULT t ", 14) && st->count < TIMES_MAX)
            st->wall[st->count] = strtod(line + 14, NULL);
        else if (!strncmp(line, "BENCHRESULT cpu ", 16) && st->count < TIMES_MAX)
            st->cpu[st->count++] = strtod(line + 16, NULL);
        else if (!strncmp(line, "BENCHRESULT loss ", 17)) {
            char *end;
            double first = strtod(line + 17, &end);
            st->loss_last = strtod(end, NULL);
            if (!st->have_loss) st->loss_first = first, st->have_loss = 1;
        }
    }
    if (f) fclose(f);
    int wstatus = 0;
    if (waitpid(pid, &wstatus, 0) < 0 || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        fprintf(stderr, "bench_finetune: %s failed\n", script);
        return -1;
    }
    return 0;
}

/* ---- driver ----------------------------------------------------------------------------- */

static double median_of(const double *x, int n) {
    double tmp[TIMES_MAX];
    memcpy(tmp, x, sizeof(double) * (size_t)n);
    return bench_median(tmp, n);
}

static int run_threads(const options *o, graft_side *g, int threads, const char *isa_name) {
    side_times *gs = calloc(1, sizeof *gs), *ts = calloc(1, sizeof *ts);
    if (!gs || !ts) return -1;
    int failed = 0, torch_ok = 1;
    for (int round = 0; round < o->rounds && !failed; round++) {
        for (int k = 0; k < 2 && !failed; k++) {
            int graft_turn = (k + round) % 2 == 0;
            fprintf(stderr, "bench_finetune: b%d t%d: %s (round %d)\n", o->batch, threads,
                    graft_turn ? "graft" : "pytorch", round + 1);
            if (graft_turn) failed = graft_block(g, threads, o->reps, gs) != 0;
            else if (torch_ok && torch_block(o, threads, ts) != 0) torch_ok = 0;
        }
    }
    if (failed || gs->count == 0) {
        free(gs);
        free(ts);
        return -1;
    }
    double g_wall = median_of(gs->wall, gs->count), g_cpu = median_of(gs->cpu, gs->count);
    double g_trunk = median_of(gs->trunk, gs->count), g_top = median_of(gs->top, gs->count);
    double g_ips = o->batch / g_wall;
    if (!torch_ok || ts->count == 0) {
        fprintf(stderr, "bench_finetune: no PyTorch result; graft alone\n");
        printf("{\"bench\":\"finetune\",\"case\":\"mobilenet_v2-ft-b%d-t%d\",\"threads\":%d,"
               "\"isa\":\"%s\",\"unit\":\"images/s\",\"graft\":%.3f,\"graft_ms\":%.2f,"
               "\"graft_trunk_ms\":%.2f,\"graft_top_ms\":%.2f,\"ref_name\":null}\n",
               o->batch, threads, threads, isa_name, g_ips, 1e3 * g_wall, 1e3 * g_trunk,
               1e3 * g_top);
    } else {
        double t_wall = median_of(ts->wall, ts->count), t_cpu = median_of(ts->cpu, ts->count);
        double t_ips = o->batch / t_wall;
        printf("{\"bench\":\"finetune\",\"case\":\"mobilenet_v2-ft-b%d-t%d\","
               "\"model\":\"mobilenet_v2\",\"batch\":%d,\"threads\":%d,\"size\":%d,"
               "\"classes\":%d,\"freeze\":\"%s\",\"isa\":\"%s\",\"unit\":\"images/s\","
               "\"graft\":%.3f,\"ref\":%.3f,\"ref_name\":\"pytorch\",\"ratio\":%.3f,"
               "\"graft_ms\":%.2f,\"ref_ms\":%.2f,\"graft_cpu_ms\":%.2f,\"ref_cpu_ms\":%.2f,"
               "\"cpu_ratio\":%.3f,\"graft_trunk_ms\":%.2f,\"graft_top_ms\":%.2f,"
               "\"graft_reps\":%d,\"ref_reps\":%d,\"rounds\":%d,"
               "\"graft_loss\":[%.4f,%.4f],\"ref_loss\":[%.4f,%.4f],\"quick\":%s}\n",
               o->batch, threads, o->batch, threads, o->size, o->classes, o->freeze, isa_name,
               g_ips, t_ips, g_ips / t_ips, 1e3 * g_wall, 1e3 * t_wall, 1e3 * g_cpu,
               1e3 * t_cpu, t_cpu / g_cpu, 1e3 * g_trunk, 1e3 * g_top, gs->count, ts->count,
               o->rounds, gs->loss_first, gs->loss_last, ts->loss_first, ts->loss_last,
               o->quick ? "true" : "false");
    }
    fflush(stdout);
    free(gs);
    free(ts);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_finetune [--model PATH] [--freeze TENSOR] [--batch 32] [--threads 1,2]\n"
            "                      [--classes 10] [--reps 3] [--rounds 2] [--isa NAME] [--quick]\n"
            "                      [--python PATH] [--script-dir DIR]\n"
            "Default model: $GRAFT_MODELS_DIR or %s/models, mobilenet_v2.opset13.onnx\n"
            "(make models MODELS=mobilenet_v2); freeze %s.\n",
            GRAFT_BUILD_DIR, DEFAULT_FREEZE);
}

int main(int argc, char **argv) {
    static char model_path[1024];
    const char *env_dir = getenv("GRAFT_MODELS_DIR");
    snprintf(model_path, sizeof model_path, "%s/mobilenet_v2.opset13.onnx",
             env_dir && env_dir[0] ? env_dir : GRAFT_BUILD_DIR "/models");
    options o = {.model = model_path, .freeze = DEFAULT_FREEZE, .python = "/usr/bin/python3",
                 .script_dir = "bench", .batch = 32, .classes = 10, .size = 224, .reps = 3,
                 .rounds = 2, .threads = {1, 2}, .thread_count = 2, .isa = GRAFT_ISA_AUTO};
    static const struct option long_opts[] = {
        {"model", required_argument, 0, 'm'},   {"freeze", required_argument, 0, 'f'},
        {"batch", required_argument, 0, 'b'},   {"threads", required_argument, 0, 't'},
        {"classes", required_argument, 0, 'k'}, {"reps", required_argument, 0, 'r'},
        {"rounds", required_argument, 0, 'R'},  {"isa", required_argument, 0, 'i'},
        {"quick", no_argument, 0, 'q'},         {"python", required_argument, 0, 'p'},
        {"script-dir", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'f': o.freeze = optarg; break;
        case 'b': o.batch = atoi(optarg); break;
        case 'k': o.classes = atoi(optarg); break;
        case 'r': o.reps = atoi(optarg); break;
        case 'R': o.rounds = atoi(optarg); break;
        case 'q': o.quick = 1; break;
        case 'p': o.python = optarg; break;
        case 's': o.script_dir = optarg; break;
        case 't': {
            o.thread_count = 0;
            for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
                if (o.thread_count == LIST_MAX || atoi(tok) < 1) goto bad;
                o.threads[o.thread_count++] = atoi(tok);
            }
            break;
        }
        case 'i':
            if (graft_isa_parse(optarg, &o.isa) != GRAFT_OK || !graft_isa_available(o.isa))
                goto bad;
            break;
        case 'h': usage(stdout); return 0;
        default: goto bad;
        }
    }
    if (optind != argc || o.batch < 1 || o.classes < 2 || o.reps < 1 || o.rounds < 1 ||
        o.thread_count < 1)
        goto bad;
    if (o.quick) o.reps = 1, o.rounds = 1;
    struct stat sb;
    if (stat(o.model, &sb) != 0) {
        fprintf(stderr, "bench_finetune: %s is absent: run `make models MODELS=mobilenet_v2`\n",
                o.model);
        return EXIT_WRONG;
    }
    if (o.isa != GRAFT_ISA_AUTO && graft_isa_set(o.isa) != GRAFT_OK) return EXIT_WRONG;
    graft_isa isa_used = GRAFT_ISA_AUTO;
    graft_isa_current(&isa_used);

    graft_side g;
    if (graft_side_init(&g, &o)) {
        graft_side_deinit(&g);
        return EXIT_WRONG;
    }
    int status = 0;
    for (int i = 0; i < o.thread_count; i++)
        if (run_threads(&o, &g, o.threads[i], graft_isa_name(isa_used))) status = EXIT_WRONG;
    graft_side_deinit(&g);
    return status;
bad:
    usage(stderr);
    return EXIT_USAGE;
}
