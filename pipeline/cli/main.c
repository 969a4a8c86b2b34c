/*
 * pipeline/cli/main.c: the `graft` command line. One table of subcommands, each a function
 * taking its own argv and parsing it getopt-style with --help. Later stages add their
 * subcommands (extract, train, ...) to the table. Output goes to stdout, diagnostics to stderr;
 * the exit status is 0 on success, 1 on a failed run, 2 on a usage error.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graft/graft.h"
#include "graft/kernels.h"
#include "cli.h"
#include "kernels.h" /* graft__pool_env_note: `graft cpu` explains an ignored GRAFT_THREADS */

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static int cmd_help(int argc, char **argv);

static int wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

static int cmd_version(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        printf("usage: graft version\n\nPrints graft's version.\n");
        return 0;
    }
    printf("graft %s\n", graft_version());
    return 0;
}

static void print_bytes(const char *label, size_t b) {
    if (!b)
        printf("%-10s unknown\n", label);
    else if (b >= (1u << 20))
        printf("%-10s %zu MiB\n", label, b >> 20);
    else
        printf("%-10s %zu KiB\n", label, b >> 10);
}

static int cmd_cpu(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        printf("usage: graft cpu\n\n"
               "Shows the detected CPU, which kernel variants it can run, the one in use\n"
               "(GRAFT_ISA=scalar|avx2|avx512|neon forces one), cache sizes and the kernel\n"
               "threads (GRAFT_THREADS, default: all cores).\n");
        return 0;
    }
    graft_cpu_info ci;
    graft_cpu_get_info(&ci);
    printf("cpu        %s%s%s\n", ci.model_name[0] ? ci.model_name : "(unknown model)",
           ci.vendor[0] ? ", " : "", ci.vendor);
    printf("arch       %s\n", ci.arch);
    printf("isa        available:");
    for (int i = GRAFT_ISA_SCALAR; i < GRAFT_ISA_COUNT; i++)
        if (graft_isa_available((graft_isa)i)) printf(" %s", graft_isa_name((graft_isa)i));
    printf("\n");
    graft_isa isa;
    int err = graft_isa_current(&isa);
    if (err)
        printf("isa        in use: none: %s\n", graft_last_error());
    else
        printf("isa        in use: %s%s\n", graft_isa_name(isa),
               getenv("GRAFT_ISA") && *getenv("GRAFT_ISA") ? " (from GRAFT_ISA)" : " (best)");
    print_bytes("L1d", ci.l1d_bytes);
    print_bytes("L2", ci.l2_bytes);
    print_bytes("L3", ci.l3_bytes);
    printf("cores      %d\n", ci.cores);
    printf("threads    %d%s\n", graft_threads_get(),
           getenv("GRAFT_THREADS") && *graft__pool_env_note() == '\0' ? " (from GRAFT_THREADS)"
                                                                      : "");
    if (*graft__pool_env_note()) printf("warning    %s\n", graft__pool_env_note());
    return err ? 1 : 0;
}

/* ---- selftest: every available GEMM variant against a naive triple loop ---------------- */

static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;
static float rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static double naive_err(long M, long N, long K, const float *A, const float *B, const float *C) {
    double worst = 0;
    for (long i = 0; i < M; i++)
        for (long j = 0; j < N; j++) {
            double s = 0, mag = 0;
            for (long k = 0; k < K; k++) {
                s += (double)A[i * K + k] * B[k * N + j];
                mag += fabs((double)A[i * K + k] * B[k * N + j]);
            }
            double e = fabs(C[i * N + j] - s) / (mag + 1e-30);
            if (e > worst) worst = e;
        }
    return worst;
}

static int cmd_selftest(int argc, char **argv) {
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: graft selftest\n\n"
                   "Checks every GEMM variant this CPU can run against a naive triple loop on\n"
                   "awkward shapes, and that 1 and %d threads give bit-identical results.\n",
                   graft_threads_get());
            return 0;
        }
        return 2;
    }
    graft_isa current;
    if (graft_isa_current(&current) != GRAFT_OK) {
        fprintf(stderr, "graft selftest: %s\n", graft_last_error());
        return 1;
    }
    static const long shapes[][3] = {{1, 1, 1},     {7, 3, 17},    {17, 100, 64},
                                     {64, 255, 7},  {100, 64, 255}, {255, 17, 100},
                                     {128, 96, 1000}, {333, 257, 129}};
    const long nshape = sizeof shapes / sizeof shapes[0];
    size_t cap = 333 * 1000 + 1000 * 257 + 333 * 257 + 64;
    float *buf = malloc(sizeof(float) * cap * 2);
    if (!buf) return 1;
    int threads = graft_threads_get(), failures = 0;
    for (int i = GRAFT_ISA_SCALAR; i < GRAFT_ISA_COUNT; i++) {
        graft_isa isa = (graft_isa)i;
        if (!graft_isa_available(isa) || graft_isa_set(isa) != GRAFT_OK) continue;
        double worst = 0;
        int identical = 1;
        clock_t t0 = clock();
        for (long s = 0; s < nshape; s++) {
            long M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float *A = buf, *B = A + M * K, *C = B + K * N, *C1 = buf + cap;
            for (long x = 0; x < M * K + K * N; x++) buf[x] = rnd();
            graft_threads_set(threads);
            int err = graft_sgemm(GRAFT_TRANS_NO, GRAFT_TRANS_NO, M, N, K, 1.0f, A, K, B, N,
                                  0.0f, C, N, NULL);
            graft_threads_set(1);
            if (!err)
                err = graft_sgemm(GRAFT_TRANS_NO, GRAFT_TRANS_NO, M, N, K, 1.0f, A, K, B, N, 0.0f,
                                  C1, N, NULL);
            if (err) {
                fprintf(stderr, "selftest: %s: %s\n", graft_isa_name(isa), graft_last_error());
                failures++;
                continue;
            }
            if (memcmp(C, C1, sizeof(float) * M * N)) identical = 0;
            double e = naive_err(M, N, K, A, B, C);
            if (e > worst) worst = e;
        }
        graft_threads_set(threads);
        int ok = worst < 1e-5 && identical;
        failures += !ok;
        printf("gemm %-7s %ld shapes  max rel err %.1e  1 vs %d threads %s  %s  (%.2f s)\n",
               graft_isa_name(isa), nshape, worst, threads,
               identical ? "bit-identical" : "DIFFER", ok ? "ok" : "FAIL",
               (double)(clock() - t0) / CLOCKS_PER_SEC);
    }
    graft_isa_set(GRAFT_ISA_AUTO);
    free(buf);
    printf("selftest: %s\n", failures ? "FAILED" : "all variants agree with the reference");
    return failures ? 1 : 0;
}

void graft__json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static const command commands[] = {
    {"version", cmd_version, "print graft's version"},
    {"cpu", cmd_cpu, "show the CPU, kernel variants, caches and threads"},
    {"selftest", cmd_selftest, "check every GEMM variant against a naive reference"},
    {"info", graft__cmd_info, "list a model's nodes, shapes, FLOPs, memory and tap names"},
    {"classify", graft__cmd_classify, "run a model on images and print the top classes"},
    {"extract", graft__cmd_extract, "stream images from archives into a cache of CNN codes"},
    {"train", graft__cmd_train, "train a linear SVM or softmax head on a cache of codes"},
    {"eval", graft__cmd_eval, "score a head on a cache: accuracy, top-5, per class, confusion"},
    {"predict", graft__cmd_predict, "label images or archives with a trained head"},
    {"export", graft__cmd_export, "write the network up to the tap plus a head as one ONNX file"},
    {"finetune", graft__cmd_finetune, "train the top layers of a network on labelled images"},
    {"cache", graft__cmd_cache, "look into a feature cache: ls, stat, verify, export"},
    {"demo-data", graft__cmd_demo_data, "write the demo's generated dataset and ConvNet"},
    {"help", cmd_help, "show this help"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int cmd_help(int argc, char **argv) {
    printf("usage: graft <command> [options]\n\n"
           "graft turns images into CNN codes with its own SIMD kernels and trains linear\n"
           "classifiers on them (transfer learning).\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    printf("\n'graft <command> --help' describes a command.\n"
           "environment: GRAFT_ISA=scalar|avx2|avx512|neon, GRAFT_THREADS=N\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cmd_help(argc, argv);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) return cmd_help(argc, argv);
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) return cmd_version(1, argv);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "graft: unknown command '%s'; see 'graft --help'\n", name);
    return 2;
}
