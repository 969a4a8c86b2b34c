/*
 * bench_models.c: whole-network throughput (images/s) and peak memory of graft against ONNX
 * Runtime 1.20 (onnxruntime-node, CPU execution provider, all graph optimizations) and PyTorch
 * 1.13 (eager, inference mode) on the same weights: the torchvision networks that
 * tests/models/gen_torchvision.py builds with seeded random weights and exports (opset 13),
 * at each batch size and thread count asked for.
 *
 * Every measurement is its own process, so that its peak RSS (ru_maxrss from wait4) belongs to
 * that framework, model, batch and thread count alone: this program re-executes itself as the
 * graft worker (--worker), and starts `node bench/ort_bench.js` and `python3
 * bench/torch_bench.py` for the references. All three use the same deterministic input
 * ((i * 7919) % 2000 / 1000 - 1), make the same warm-up runs (one when it takes over a second),
 * then time single forward passes
 * of the whole batch until a time budget and a repetition count are both met; each prints its
 * times and its first image's logits on stdout. The driver checks that graft's logits agree
 * with each reference's (a wrong graft result fails the bench, as in bench_conv), pools the
 * times of all rounds (the three processes run in turn, the order rotating each round, so slow
 * phases of this shared machine hit all of them) and prints one JSON line per case and
 * reference on stdout:
 *   case "<model>-b<batch>", ref_name "onnxruntime" or "pytorch", graft and ref in images/s
 *   (batch / median time of one pass), ratio = graft / ref (> 1: graft is faster), and the
 *   peak RSS of each side in MiB, with graft's activation arena and packed weights beside.
 * Progress goes to stderr.
 *
 * Not here: model loading time in the ratio (reported, not compared), image decoding, taps
 * other than the logits, any framework's ISA choice (ONNX Runtime and PyTorch pick their own;
 * --isa pins graft's).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "graft/graft.h"
#include "graft/model.h"

#ifndef GRAFT_BUILD_DIR
#define GRAFT_BUILD_DIR "build"
#endif

/* Exit codes: 1 when a result is wrong or a run fails, 2 for a bad command line. */
enum { EXIT_WRONG = 1, EXIT_USAGE = 2 };

enum { LIST_MAX = 16, TIMES_MAX = 4096, FIRST_LOGITS = 16 };

/* Budget of each worker process. */
typedef struct budget {
    double seconds; /* timed runs until this much time has passed ... */
    int min_reps;   /* ... and at least this many were made */
    int warmup;     /* untimed runs first */
    int rounds;     /* worker processes per framework and case */
} budget;

static const budget budget_full = {2.0, 3, 2, 2};
static const budget budget_quick = {0.0, 1, 1, 1};

/* A warm-up run longer than this (seconds) is warm-up enough: the rest are skipped. */
#define WARMUP_ENOUGH 1.0

/* The agreement the driver asks of graft's logits: |g - r| <= 1e-3 * (1 + |r|). */
#define LOGITS_TOL 1e-3

/* ---- the graft worker -------------------------------------------------------------------- */

static float input_value(uint64_t i)
{
    return (float)((double)((i * 7919u) % 2000u) / 1000.0 - 1.0);
}

/* Runs one model in this process and prints the BENCHRESULT lines ort_bench.js prints. */
static int worker_graft(const char *path, int N, int threads, int size, const budget *b,
                        graft_isa isa)
{
    if (isa != GRAFT_ISA_AUTO && graft_isa_set(isa) != GRAFT_OK) {
        fprintf(stderr, "bench_models: graft: %s\n", graft_last_error());
        return EXIT_WRONG;
    }
    if (graft_threads_set(threads) != GRAFT_OK) {
        fprintf(stderr, "bench_models: graft: %s\n", graft_last_error());
        return EXIT_WRONG;
    }
    double t0 = bench_now_seconds();
    graft_model *m = NULL;
    graft_net *net = NULL;
    const char *taps[] = {"logits"};
    int err = graft_model_load(path, NULL, &m);
    if (err == GRAFT_OK) err = graft_net_create(m, N, size, size, taps, 1, NULL, &net);
    if (err != GRAFT_OK) {
        fprintf(stderr, "bench_models: graft: %s: %s: %s\n", path, graft_err_name(err),
                graft_last_error());
        graft_model_destroy(m);
        return EXIT_WRONG;
    }
    printf("BENCHRESULT load %.6f\n", bench_now_seconds() - t0);
    printf("BENCHRESULT act_bytes %zu\n", graft_net_activation_bytes(net));
    printf("BENCHRESULT weight_bytes %zu\n", graft_model_weight_bytes(m));

    size_t count = (size_t)N * 3 * (size_t)size * (size_t)size;
    float *x = malloc(sizeof(float) * count);
    if (!x) {
        fprintf(stderr, "bench_models: graft: out of memory\n");
        return EXIT_WRONG;
    }
    for (size_t i = 0; i < count; i++) x[i] = input_value(i);

    int status = 0;
    for (int i = 0; i < b->warmup && !status; i++) {
        double a = bench_now_seconds();
        status = graft_net_run(net, x, GRAFT_LAYOUT_NCHW) != GRAFT_OK;
        if (bench_now_seconds() - a > WARMUP_ENOUGH) break;
    }
    double start = bench_now_seconds();
    for (int rep = 0; !status; rep++) {
        double a = bench_now_seconds();
        status = graft_net_run(net, x, GRAFT_LAYOUT_NCHW) != GRAFT_OK;
        double t = bench_now_seconds();
        printf("BENCHRESULT t %.9f\n", t - a);
        if (rep + 1 >= b->min_reps && t - start >= b->seconds) break;
    }
    if (status) {
        fprintf(stderr, "bench_models: graft: run: %s\n", graft_last_error());
    } else {
        const float *logits;
        int rank;
        int64_t dims[GRAFT_MODEL_MAX_RANK];
        if (graft_net_tap(net, 0, &logits, &rank, dims) != GRAFT_OK || rank != 2) {
            fprintf(stderr, "bench_models: graft: no (N, K) logits tap\n");
            status = 1;
        } else {
            double sum = 0.0;
            for (int64_t k = 0; k < dims[1]; k++) sum += fabs(logits[k]);
            printf("BENCHRESULT logits %lld %.9g", (long long)dims[1], sum);
            for (int k = 0; k < FIRST_LOGITS && k < dims[1]; k++) printf(" %.9g", logits[k]);
            printf("\n");
        }
    }
    free(x);
    graft_net_destroy(net);
    graft_model_destroy(m);
    return status ? EXIT_WRONG : 0;
}

/* ---- running a worker process ------------------------------------------------------------ */

/* What one worker process reported. */
typedef struct worker_result {
    double times[TIMES_MAX];
    int time_count;
    double load_seconds;
    size_t act_bytes, weight_bytes;
    int K;
    double logit_sum, logits[FIRST_LOGITS];
    int logit_count;
    long maxrss_kb;
} worker_result;

static void parse_line(char *line, worker_result *r)
{
    static const char tag[] = "BENCHRESULT ";
    if (strncmp(line, tag, sizeof tag - 1) != 0) return;
    char *p = line + sizeof tag - 1, *end;
    if (strncmp(p, "t ", 2) == 0) {
        if (r->time_count < TIMES_MAX) r->times[r->time_count++] = strtod(p + 2, NULL);
    } else if (strncmp(p, "load ", 5) == 0) {
        r->load_seconds = strtod(p + 5, NULL);
    } else if (strncmp(p, "act_bytes ", 10) == 0) {
        r->act_bytes = strtoull(p + 10, NULL, 10);
    } else if (strncmp(p, "weight_bytes ", 13) == 0) {
        r->weight_bytes = strtoull(p + 13, NULL, 10);
    } else if (strncmp(p, "logits ", 7) == 0) {
        p += 7;
        r->K = (int)strtol(p, &end, 10);
        p = end;
        r->logit_sum = strtod(p, &end);
        p = end;
        r->logit_count = 0;
        while (r->logit_count < FIRST_LOGITS) {
            double v = strtod(p, &end);
            if (end == p) break;
            r->logits[r->logit_count++] = v;
            p = end;
        }
    }
}

/*
 * Runs argv (argv[0] a path or a name on PATH) with `env` ("NAME=VALUE" strings, NULL-ended)
 * added, collects its BENCHRESULT lines and its peak RSS. Returns 0 when it exited with 0
 * and reported at least one time.
 */
static int worker_run(char *const argv[], char *const env[], worker_result *r)
{
    memset(r, 0, sizeof *r);
    int fds[2];
    if (pipe(fds) != 0) {
        perror("bench_models: pipe");
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_models: fork");
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        for (int i = 0; env && env[i]; i++) putenv(env[i]);
        execvp(argv[0], argv);
        fprintf(stderr, "bench_models: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) parse_line(line, r);
    if (f) fclose(f);
    int wstatus = 0;
    struct rusage ru;
    if (wait4(pid, &wstatus, 0, &ru) < 0) {
        perror("bench_models: wait4");
        return -1;
    }
    r->maxrss_kb = ru.ru_maxrss;
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        fprintf(stderr, "bench_models: %s failed (%s %d)\n", argv[0],
                WIFEXITED(wstatus) ? "exit status" : "signal",
                WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus));
        return -1;
    }
    return r->time_count > 0 ? 0 : -1;
}

/* ---- the driver -------------------------------------------------------------------------- */

enum { FW_GRAFT, FW_ORT, FW_TORCH, FW_COUNT };
static const char *const fw_names[FW_COUNT] = {"graft", "onnxruntime", "pytorch"};

typedef struct options {
    char *models[LIST_MAX];
    int model_count;
    int batches[LIST_MAX], batch_count;
    int threads[LIST_MAX], thread_count;
    int use_fw[FW_COUNT];
    const char *models_dir, *node, *python, *script_dir;
    graft_isa isa;
    int size;
    int quick;
    const char *self;
} options;

/* All rounds' results of one framework for one case. */
typedef struct fw_stats {
    double times[TIMES_MAX];
    int count;
    long maxrss_kb;
    double load_seconds;
    worker_result last;
    int ok;
} fw_stats;

static int run_framework(const options *o, int fw, const char *model, int N, int threads,
                         const budget *b, worker_result *r)
{
    char onnx_path[1024], script[1024], nbuf[16], tbuf[16], sbuf[16], secbuf[32], repbuf[16],
        warmbuf[16];
    snprintf(onnx_path, sizeof onnx_path, "%s/%s.opset13.onnx", o->models_dir, model);
    snprintf(nbuf, sizeof nbuf, "%d", N);
    snprintf(tbuf, sizeof tbuf, "%d", threads);
    snprintf(sbuf, sizeof sbuf, "%d", o->size);
    snprintf(secbuf, sizeof secbuf, "%g", b->seconds);
    snprintf(repbuf, sizeof repbuf, "%d", b->min_reps);
    snprintf(warmbuf, sizeof warmbuf, "%d", b->warmup);
    /* Every framework gets the thread count through its own knob and the usual variables. */
    char omp[32], graft_threads[32];
    snprintf(omp, sizeof omp, "OMP_NUM_THREADS=%d", threads);
    snprintf(graft_threads, sizeof graft_threads, "GRAFT_THREADS=%d", threads);
    char *env[] = {omp, graft_threads, NULL};

    if (fw == FW_GRAFT) {
        char *argv[] = {(char *)o->self, "--worker", onnx_path, "--batch", nbuf,
                        "--threads", tbuf, "--size", sbuf, "--isa",
                        (char *)graft_isa_name(o->isa), o->quick ? "--quick" : NULL, NULL};
        return worker_run(argv, env, r);
    }
    if (fw == FW_ORT) {
        snprintf(script, sizeof script, "%s/ort_bench.js", o->script_dir);
        char *argv[] = {(char *)o->node, script, "--model", onnx_path, "--batch", nbuf,
                        "--threads", tbuf, "--size", sbuf, "--seconds", secbuf,
                        "--min-reps", repbuf, "--warmup", warmbuf, NULL};
        return worker_run(argv, env, r);
    }
    snprintf(script, sizeof script, "%s/torch_bench.py", o->script_dir);
    char *argv[] = {(char *)o->python, script, "--name", (char *)model, "--batch", nbuf,
                    "--threads", tbuf, "--size", sbuf, "--seconds", secbuf,
                    "--min-reps", repbuf, "--warmup", warmbuf, NULL};
    return worker_run(argv, env, r);
}

/* Largest |g - r| / (1 + |r|) over the reported logits, or INFINITY when they do not match. */
static double logits_disagreement(const worker_result *g, const worker_result *r)
{
    if (g->K != r->K || g->logit_count != r->logit_count || g->logit_count == 0) return INFINITY;
    double worst = fabs(g->logit_sum - r->logit_sum) / (1.0 + fabs(r->logit_sum)) / g->K;
    for (int k = 0; k < g->logit_count; k++) {
        double d = fabs(g->logits[k] - r->logits[k]) / (1.0 + fabs(r->logits[k]));
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int run_case(const options *o, const char *model, int N, int threads, const budget *b,
                    const char *isa_name)
{
    char onnx_path[1024];
    snprintf(onnx_path, sizeof onnx_path, "%s/%s.opset13.onnx", o->models_dir, model);
    if (!file_exists(onnx_path)) {
        fprintf(stderr, "bench_models: %s is absent: run `make models`\n", onnx_path);
        return EXIT_WRONG;
    }
    fw_stats *st = calloc(FW_COUNT, sizeof *st);
    if (!st) {
        fprintf(stderr, "bench_models: out of memory\n");
        exit(EXIT_WRONG);
    }
    int failed = 0;
    for (int round = 0; round < b->rounds; round++) {
        for (int k = 0; k < FW_COUNT; k++) {
            int fw = (k + round) % FW_COUNT; /* rotate who goes first */
            if (!o->use_fw[fw]) continue;
            fprintf(stderr, "bench_models: %s-b%d %d thread%s: %s (round %d)\n", model, N,
                    threads, threads > 1 ? "s" : "", fw_names[fw], round + 1);
            worker_result *r = &st[fw].last;
            if (run_framework(o, fw, model, N, threads, b, r) != 0) {
                fprintf(stderr, "bench_models: %s-b%d: %s failed\n", model, N, fw_names[fw]);
                failed = 1;
                continue;
            }
            st[fw].ok = 1;
            for (int i = 0; i < r->time_count && st[fw].count < TIMES_MAX; i++)
                st[fw].times[st[fw].count++] = r->times[i];
            if (r->maxrss_kb > st[fw].maxrss_kb) st[fw].maxrss_kb = r->maxrss_kb;
            st[fw].load_seconds = r->load_seconds;
        }
    }
    if (!st[FW_GRAFT].ok) {
        free(st);
        return EXIT_WRONG;
    }
    double graft_median = bench_median(st[FW_GRAFT].times, st[FW_GRAFT].count);
    double graft_ips = N / graft_median;
    for (int fw = FW_ORT; fw < FW_COUNT; fw++) {
        if (!o->use_fw[fw] || !st[fw].ok) continue;
        double disagree = logits_disagreement(&st[FW_GRAFT].last, &st[fw].last);
        if (!(disagree <= LOGITS_TOL)) {
            fprintf(stderr,
                    "bench_models: %s-b%d: graft's logits differ from %s's (%.3g relative; "
                    "graft %.6g %.6g ..., %s %.6g %.6g ...)\n",
                    model, N, fw_names[fw], disagree, st[FW_GRAFT].last.logits[0],
                    st[FW_GRAFT].last.logits[1], fw_names[fw], st[fw].last.logits[0],
                    st[fw].last.logits[1]);
            failed = 1;
        }
        double ref_median = bench_median(st[fw].times, st[fw].count);
        double ref_ips = N / ref_median;
        printf("{\"bench\":\"models\",\"case\":\"%s-b%d\",\"model\":\"%s\",\"batch\":%d,"
               "\"threads\":%d,\"size\":%d,\"isa\":\"%s\",\"unit\":\"images/s\","
               "\"graft\":%.3f,\"ref\":%.3f,\"ref_name\":\"%s\",\"ratio\":%.3f,"
               "\"graft_ms\":%.3f,\"ref_ms\":%.3f,\"graft_rss_mb\":%.1f,\"ref_rss_mb\":%.1f,"
               "\"graft_act_mb\":%.1f,\"graft_weight_mb\":%.1f,\"graft_load_s\":%.3f,"
               "\"ref_load_s\":%.3f,\"graft_reps\":%d,\"ref_reps\":%d,\"rounds\":%d,"
               "\"logits_diff\":%.2g,\"quick\":%s}\n",
               model, N, model, N, threads, o->size, isa_name, graft_ips, ref_ips,
               fw_names[fw], graft_ips / ref_ips, 1e3 * graft_median, 1e3 * ref_median,
               st[FW_GRAFT].maxrss_kb / 1024.0, st[fw].maxrss_kb / 1024.0,
               st[FW_GRAFT].last.act_bytes / 1048576.0,
               st[FW_GRAFT].last.weight_bytes / 1048576.0, st[FW_GRAFT].load_seconds,
               st[fw].load_seconds, st[FW_GRAFT].count, st[fw].count, b->rounds, disagree,
               o->quick ? "true" : "false");
        fflush(stdout);
    }
    free(st);
    return failed ? EXIT_WRONG : 0;
}

/* ---- command line ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_models [--models a,b] [--batch 1,32] [--threads 1,2]\n"
            "                    [--refs onnxruntime,pytorch] [--isa NAME] [--quick]\n"
            "                    [--models-dir DIR] [--node PATH] [--python PATH]\n"
            "                    [--script-dir DIR] [--size S]\n"
            "Defaults: models mobilenet_v2,resnet18,resnet50,squeezenet1_1,alexnet from\n"
            "$GRAFT_MODELS_DIR or %s/models, node and /usr/bin/python3, scripts in bench/.\n"
            "ONNX Runtime is found through NODE_PATH (make bench-models sets it).\n",
            GRAFT_BUILD_DIR);
}

static int parse_int_list(const char *s, int *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 4096 || n == max) return -1;
        out[n++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return n;
}

static int split_list(char *s, char **out, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (n == max) return -1;
        out[n++] = tok;
    }
    return n;
}

int main(int argc, char **argv)
{
    /* Worker mode: bench_models --worker MODEL --batch N --threads T --size S --isa I. */
    if (argc > 2 && strcmp(argv[1], "--worker") == 0) {
        int N = 1, threads = 1, size = 224, quick = 0;
        graft_isa isa = GRAFT_ISA_AUTO;
        for (int i = 3; i < argc; i++) {
            if (strcmp(argv[i], "--quick") == 0) quick = 1;
            else if (i + 1 < argc && strcmp(argv[i], "--batch") == 0) N = atoi(argv[++i]);
            else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
            else if (i + 1 < argc && strcmp(argv[i], "--size") == 0) size = atoi(argv[++i]);
            else if (i + 1 < argc && strcmp(argv[i], "--isa") == 0) {
                if (graft_isa_parse(argv[++i], &isa) != GRAFT_OK) return EXIT_USAGE;
            } else return EXIT_USAGE;
        }
        return worker_graft(argv[2], N, threads, size, quick ? &budget_quick : &budget_full,
                            isa);
    }

    static char default_models[] = "mobilenet_v2,resnet18,resnet50,squeezenet1_1,alexnet";
    options o = {.batches = {1, 32}, .batch_count = 2, .threads = {1, 2}, .thread_count = 2,
                 .use_fw = {1, 1, 1}, .node = "node", .python = "/usr/bin/python3",
                 .script_dir = "bench", .isa = GRAFT_ISA_AUTO, .size = 224, .self = argv[0]};
    /* Re-executed through /proc when it exists: argv[0] may be a bare name found on PATH. */
    if (access("/proc/self/exe", X_OK) == 0) o.self = "/proc/self/exe";
    const char *env_dir = getenv("GRAFT_MODELS_DIR");
    o.models_dir = env_dir && env_dir[0] ? env_dir : GRAFT_BUILD_DIR "/models";
    o.model_count = split_list(default_models, o.models, LIST_MAX);

    static const struct option long_opts[] = {
        {"models", required_argument, 0, 'm'},  {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"refs", required_argument, 0, 'r'},
        {"isa", required_argument, 0, 'i'},     {"quick", no_argument, 0, 'q'},
        {"models-dir", required_argument, 0, 'd'}, {"node", required_argument, 0, 'n'},
        {"python", required_argument, 0, 'p'},  {"script-dir", required_argument, 0, 's'},
        {"size", required_argument, 0, 'S'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o.model_count = split_list(optarg, o.models, LIST_MAX);
            if (o.model_count < 1) goto bad;
            break;
        case 'b':
            o.batch_count = parse_int_list(optarg, o.batches, LIST_MAX);
            if (o.batch_count < 1) goto bad;
            break;
        case 't':
            o.thread_count = parse_int_list(optarg, o.threads, LIST_MAX);
            if (o.thread_count < 1) goto bad;
            break;
        case 'r': {
            char *refs[LIST_MAX];
            int n = split_list(optarg, refs, LIST_MAX);
            o.use_fw[FW_ORT] = o.use_fw[FW_TORCH] = 0;
            for (int i = 0; i < n; i++) {
                if (strcmp(refs[i], "onnxruntime") == 0) o.use_fw[FW_ORT] = 1;
                else if (strcmp(refs[i], "pytorch") == 0) o.use_fw[FW_TORCH] = 1;
                else if (strcmp(refs[i], "none") != 0) goto bad;
            }
            break;
        }
        case 'i':
            if (graft_isa_parse(optarg, &o.isa) != GRAFT_OK) goto bad;
            if (!graft_isa_available(o.isa)) {
                fprintf(stderr, "bench_models: this CPU lacks %s\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'q': o.quick = 1; break;
        case 'd': o.models_dir = optarg; break;
        case 'n': o.node = optarg; break;
        case 'p': o.python = optarg; break;
        case 's': o.script_dir = optarg; break;
        case 'S':
            o.size = atoi(optarg);
            if (o.size < 32) goto bad;
            break;
        case 'h': usage(stdout); return 0;
        default: goto bad;
        }
    }
    if (optind != argc) goto bad;

    /* The name graft's kernels run under, for the JSON lines. */
    graft_isa isa_used = o.isa;
    if (isa_used == GRAFT_ISA_AUTO && graft_isa_current(&isa_used) != GRAFT_OK)
        isa_used = GRAFT_ISA_AUTO;
    const char *isa_name = graft_isa_name(isa_used);
    const budget *b = o.quick ? &budget_quick : &budget_full;

    int status = 0;
    for (int mi = 0; mi < o.model_count; mi++)
        for (int bi = 0; bi < o.batch_count; bi++)
            for (int ti = 0; ti < o.thread_count; ti++)
                if (run_case(&o, o.models[mi], o.batches[bi], o.threads[ti], b, isa_name))
                    status = EXIT_WRONG;
    return status;

bad:
    usage(stderr);
    return EXIT_USAGE;
}
