/*
 * bench_gemm.c: times graft_sgemm against OpenBLAS's cblas_sgemm on the GEMM shapes our ConvNet
 * runs (square sizes plus the im2col shapes of its convolutions and classifier), in one process,
 * so both libraries see the same machine state.
 *
 * For each case and thread count it checks graft's C against OpenBLAS's once, then times
 * graft and OpenBLAS in alternating blocks and reports the median time of each as one JSON line on stdout, with
 * GFLOP/s and the percentage of this core's FMA peak, which the bench measures itself with a
 * loop of independent vector FMAs for the ISA that ran. Everything else (progress, the check's
 * error) goes to stderr, so stdout is pure JSON lines. It benchmarks NoTrans/NoTrans,
 * alpha = 1, beta = 0, no epilogue only; it does not tune anything or choose the OpenBLAS core,
 * which bench/run.sh does through OPENBLAS_CORETYPE.
 *
 * The machine we run on is small and shared, so: matrices are allocated and touched once (page
 * faults are slow here), each side gets at least ~0.5 s (0.05 s with --quick) of repetitions,
 * and medians, not means, are reported.
 */
#include <cblas.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BENCH_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#define BENCH_ARM64 1
#endif

#include "bench_common.h"
#include "graft/graft.h"
#include "graft/kernels.h"

/* Exit codes: 1 when a result is wrong or a library call fails, 2 for a bad command line. */
enum { EXIT_WRONG = 1, EXIT_USAGE = 2 };

typedef struct gemm_case {
    long M, N, K;
} gemm_case;

/*
 * Square sizes, then the shapes our ConvNet produces: the 7x7 stem conv over 112x112 output
 * (64, 12544, 147), a 3x3 conv at 56x56 (128, 3136, 1152) and at 14x14 (512, 196, 4608), the
 * 1000-way classifier on one code and on a batch of 32, and a 32-row dense layer.
 */
static const gemm_case all_cases[] = {
    {256, 256, 256},     {512, 512, 512},     {1024, 1024, 1024}, {2048, 2048, 2048},
    {64, 12544, 147},    {128, 3136, 1152},   {512, 196, 4608},   {1000, 1, 1024},
    {1000, 32, 1024},    {32, 1024, 1024},
};
enum { CASE_COUNT = sizeof all_cases / sizeof all_cases[0], THREADS_MAX = 256 };

/* How long each side of a case is timed, and how many repetitions it gets at least. */
typedef struct bench_budget {
    double side_seconds; /* per library per case */
    int min_reps;
    double peak_seconds; /* total time of the FMA peak measurement */
    int rounds;          /* alternating blocks per side: noise that lasts seconds hits both */
} bench_budget;

static const bench_budget budget_full = {0.6, 6, 0.3, 6};
static const bench_budget budget_quick = {0.05, 3, 0.1, 2};

/* ---- matrices ---------------------------------------------------------------------------- */

/* The buffers every case works in; each case uses a leading part of them. */
typedef struct bench_mats {
    float *A;     /* (M, K), lda = K */
    float *B;     /* (K, N), ldb = N */
    float *C;     /* (M, N), graft's result */
    float *C_ref; /* (M, N), OpenBLAS's result */
} bench_mats;

static float *alloc_floats(size_t count)
{
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        fprintf(stderr, "bench_gemm: out of memory allocating %zu bytes\n", bytes);
        exit(EXIT_WRONG);
    }
    return p;
}

/* xorshift64*: fixed seeds give the same matrices on every run and machine. */
static void fill_uniform(float *x, size_t count, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < count; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        uint32_t bits = (uint32_t)((s * 0x2545F4914F6CDD1DULL) >> 40); /* 24 random bits */
        x[i] = (float)bits * (2.0f / 16777216.0f) - 1.0f;              /* [-1, 1) */
    }
}

/*
 * Allocates for the largest of the selected cases and writes every page now, so that no
 * timed call pays for first-touch page faults.
 */
static void mats_init(bench_mats *m, const gemm_case *cases, int case_count)
{
    size_t a_max = 0, b_max = 0, c_max = 0;
    for (int i = 0; i < case_count; i++) {
        const gemm_case *c = &cases[i];
        if ((size_t)(c->M * c->K) > a_max) a_max = (size_t)(c->M * c->K);
        if ((size_t)(c->K * c->N) > b_max) b_max = (size_t)(c->K * c->N);
        if ((size_t)(c->M * c->N) > c_max) c_max = (size_t)(c->M * c->N);
    }
    m->A = alloc_floats(a_max);
    m->B = alloc_floats(b_max);
    m->C = alloc_floats(c_max);
    m->C_ref = alloc_floats(c_max);
    fill_uniform(m->A, a_max, 0x9E3779B97F4A7C15ULL);
    fill_uniform(m->B, b_max, 0xD1B54A32D192ED03ULL);
    memset(m->C, 0, c_max * sizeof(float));
    memset(m->C_ref, 0, c_max * sizeof(float));
}

static void mats_deinit(bench_mats *m)
{
    free(m->A);
    free(m->B);
    free(m->C);
    free(m->C_ref);
}

/* ---- the two contenders ------------------------------------------------------------------ */

static void run_graft(const gemm_case *c, const bench_mats *m)
{
    int err = graft_sgemm(GRAFT_TRANS_NO, GRAFT_TRANS_NO, c->M, c->N, c->K, 1.0f, m->A, c->K,
                          m->B, c->N, 0.0f, m->C, c->N, NULL);
    if (err != GRAFT_OK) {
        fprintf(stderr, "bench_gemm: graft_sgemm(%ldx%ldx%ld) failed: %s (%s): %s\n", c->M, c->N,
                c->K, graft_err_name(err), graft_strerror(err), graft_last_error());
        exit(EXIT_WRONG);
    }
}

static void run_ref(const gemm_case *c, const bench_mats *m)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)c->M, (blasint)c->N,
                (blasint)c->K, 1.0f, m->A, (blasint)c->K, m->B, (blasint)c->N, 0.0f, m->C_ref,
                (blasint)c->N);
}

/*
 * The once-per-case check. Rounding error in a K-term dot product grows with K: for random
 * data like ours it is typically about K * eps * max|a| * max|b| (a random walk of sqrt(K)
 * roundings of partial sums of size ~sqrt(K)). So the largest |graft - OpenBLAS| is measured in
 * units of K * eps * max|a| * max|b| and must stay under CHECK_LIMIT; a layout or edge bug is
 * off by whole products, hundreds of units or more. C is filled with NaN first: with beta = 0
 * graft must not read it, and an element it never writes stays NaN and fails.
 */
#define CHECK_LIMIT 16.0

static int check_case(const char *name, int threads, const gemm_case *c, const bench_mats *m)
{
    size_t c_count = (size_t)(c->M * c->N);
    for (size_t i = 0; i < c_count; i++) m->C[i] = NAN;
    run_graft(c, m);
    run_ref(c, m);

    float a_max = 0.0f, b_max = 0.0f;
    for (size_t i = 0; i < (size_t)(c->M * c->K); i++) a_max = fmaxf(a_max, fabsf(m->A[i]));
    for (size_t i = 0; i < (size_t)(c->K * c->N); i++) b_max = fmaxf(b_max, fabsf(m->B[i]));
    double unit = (double)c->K * FLT_EPSILON * a_max * b_max;
    if (unit <= 0.0) unit = FLT_MIN; /* all-zero inputs: any difference at all fails */

    double worst = 0.0;
    size_t worst_at = 0;
    for (size_t i = 0; i < c_count; i++) {
        double diff = fabs((double)m->C[i] - (double)m->C_ref[i]) / unit;
        if (!(diff <= worst)) { /* also true for NaN, which must win */
            worst = diff;
            worst_at = i;
            if (isnan(diff)) break;
        }
    }
    if (!(worst <= CHECK_LIMIT)) {
        fprintf(stderr,
                "bench_gemm: %s threads %d: WRONG RESULT: C[%zu][%zu] = %g, OpenBLAS has %g; "
                "error %.3g units of K*eps*max|a|*max|b| (limit %g)\n",
                name, threads, worst_at / (size_t)c->N, worst_at % (size_t)c->N,
                (double)m->C[worst_at], (double)m->C_ref[worst_at], worst, CHECK_LIMIT);
        return -1;
    }
    fprintf(stderr, "bench_gemm: %s threads %d: check ok (error %.3g units, limit %g)\n", name,
            threads, worst, CHECK_LIMIT);
    return 0;
}

/* ---- timing ------------------------------------------------------------------------------ */

/*
 * OpenBLAS's idle worker threads busy-wait for about 2^28 cycles (~0.1 s here) after each call
 * before they sleep. Timed right after an OpenBLAS call, a 2-thread graft run would share its
 * second core with that spinning thread, so the two libraries are timed in alternating blocks
 * with a pause before each block, long enough for the other side's threads to go idle.
 */
#define QUIET_PAUSE_US 150000

typedef struct gemm_call {
    const gemm_case *c;
    const bench_mats *m;
} gemm_call;

static void call_graft(void *ctx) {
    const gemm_call *g = ctx;
    run_graft(g->c, g->m);
}
static void call_ref(void *ctx) {
    const gemm_call *g = ctx;
    run_ref(g->c, g->m);
}

static bench_result time_case(const gemm_case *c, const bench_mats *m, const bench_budget *budget)
{
    gemm_call call = {c, m};
    bench_side graft = {call_graft, &call, 0}, ref = {call_ref, &call, 0};
    double t0 = bench_now_seconds();
    run_graft(c, m);
    graft.once = bench_now_seconds() - t0;
    t0 = bench_now_seconds();
    run_ref(c, m);
    ref.once = bench_now_seconds() - t0;
    bench_plan plan = {budget->side_seconds, budget->min_reps, budget->rounds, QUIET_PAUSE_US,
                       INFINITY};
    return bench_alternate(&graft, &ref, &plan);
}

/* ---- command line ------------------------------------------------------------------------ */

static void case_name(const gemm_case *c, char *buf, size_t len)
{
    snprintf(buf, len, "%ldx%ldx%ld", c->M, c->N, c->K);
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: bench_gemm [--isa NAME] [--threads LIST] [--cases LIST] [--quick]\n"
            "\n"
            "Times graft_sgemm against OpenBLAS cblas_sgemm (row-major, NoTrans/NoTrans,\n"
            "alpha 1, beta 0) and prints one JSON line per case and thread count on stdout.\n"
            "\n"
            "  --isa NAME      pin graft to scalar|avx2|avx512|neon|auto (default: GRAFT_ISA or\n"
            "                  the best available); exits 2 if this CPU lacks it. OpenBLAS\n"
            "                  picks its own core (see OPENBLAS_CORETYPE), not this option.\n"
            "  --threads LIST  comma-separated thread counts for both libraries (default 1,2)\n"
            "  --cases LIST    comma-separated case names MxNxK (default: all of them)\n"
            "  --quick         ~0.05 s per side per case instead of ~0.5 s; also BENCH_QUICK=1\n"
            "  -h, --help      this text\n"
            "\n"
            "\"peak\" is the single-thread GFLOP/s of an FMA loop of the ISA that ran; the\n"
            "*_pct_peak fields compare a rate with threads x peak. ratio = graft / ref.\n"
            "\n"
            "cases:");
    for (int i = 0; i < CASE_COUNT; i++) {
        char name[64];
        case_name(&all_cases[i], name, sizeof name);
        fprintf(to, " %s", name);
    }
    fprintf(to, "\n");
}

static int parse_threads(const char *list, int *threads, int *count)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy) return -1;
    *count = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long t = strtol(tok, &end, 10);
        if (*end || end == tok || t < 1 || t > THREADS_MAX || *count == THREADS_MAX) {
            free(copy);
            return -1;
        }
        threads[(*count)++] = (int)t;
    }
    free(copy);
    return *count > 0 ? 0 : -1;
}

static int parse_cases(const char *list, gemm_case *cases, int *count)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy) return -1;
    *count = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int i = 0; i < CASE_COUNT && found < 0; i++) {
            char name[64];
            case_name(&all_cases[i], name, sizeof name);
            if (strcmp(tok, name) == 0) found = i;
        }
        if (found < 0 || *count == CASE_COUNT) {
            fprintf(stderr, "bench_gemm: unknown case '%s' (see --help for the list)\n", tok);
            free(copy);
            return -1;
        }
        cases[(*count)++] = all_cases[found];
    }
    free(copy);
    return *count > 0 ? 0 : -1;
}

/* OpenBLAS's core name, kept to characters that need no escaping in JSON. */
static void ref_name_get(char *buf, size_t len)
{
    const char *core = openblas_get_corename();
    size_t n = (size_t)snprintf(buf, len, "openblas-");
    for (; core && *core && n + 1 < len; core++) {
        char ch = *core;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.')
            buf[n++] = ch;
    }
    buf[n] = '\0';
}

int main(int argc, char **argv)
{
    const char *isa_arg = NULL;
    int threads[THREADS_MAX] = {1, 2}, thread_count = 2;
    gemm_case cases[CASE_COUNT];
    int case_count = CASE_COUNT;
    memcpy(cases, all_cases, sizeof all_cases);
    const char *quick_env = getenv("BENCH_QUICK");
    int quick = quick_env && *quick_env && strcmp(quick_env, "0") != 0;

    static const struct option options[] = {
        {"isa", required_argument, NULL, 'i'},   {"threads", required_argument, NULL, 't'},
        {"cases", required_argument, NULL, 'c'}, {"quick", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "i:t:c:qh", options, NULL)) != -1) {
        switch (opt) {
        case 'i':
            isa_arg = optarg;
            break;
        case 't':
            if (parse_threads(optarg, threads, &thread_count) != 0) {
                fprintf(stderr, "bench_gemm: --threads wants a list like 1,2 (each 1..%d)\n",
                        THREADS_MAX);
                return EXIT_USAGE;
            }
            break;
        case 'c':
            if (parse_cases(optarg, cases, &case_count) != 0) return EXIT_USAGE;
            break;
        case 'q':
            quick = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bench_gemm: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }

    graft_isa isa;
    if (isa_arg) {
        int err = graft_isa_parse(isa_arg, &isa);
        if (err != GRAFT_OK) {
            fprintf(stderr, "bench_gemm: unknown ISA '%s' (scalar, avx2, avx512, neon, auto)\n",
                    isa_arg);
            return EXIT_USAGE;
        }
        err = graft_isa_set(isa);
        if (err != GRAFT_OK) {
            fprintf(stderr, "bench_gemm: ISA '%s' is not available on this CPU: %s\n", isa_arg,
                    graft_strerror(err));
            return EXIT_USAGE;
        }
    }
    /* Also resolves "auto" and an unset --isa to the variant that will actually run. */
    int err = graft_isa_current(&isa);
    if (err != GRAFT_OK) {
        fprintf(stderr, "bench_gemm: no usable graft ISA: %s: %s\n", graft_strerror(err),
                graft_last_error());
        return EXIT_USAGE;
    }
    const char *isa_name = graft_isa_name(isa);
    const bench_budget *budget = quick ? &budget_quick : &budget_full;

    char ref_name[64];
    ref_name_get(ref_name, sizeof ref_name);
    double peak = bench_peak_measure(isa, budget->peak_seconds);
    fprintf(stderr, "bench_gemm: graft %s isa %s, FMA peak %.1f GFLOP/s per core; ref %s (%s)\n",
            graft_version(), isa_name, peak, ref_name, openblas_get_config());

    bench_mats mats;
    mats_init(&mats, cases, case_count);

    int status = 0;
    for (int ci = 0; ci < case_count; ci++) {
        const gemm_case *c = &cases[ci];
        char name[64];
        case_name(c, name, sizeof name);
        double flops = 2.0 * (double)c->M * (double)c->N * (double)c->K;
        for (int ti = 0; ti < thread_count; ti++) {
            int t = threads[ti];
            err = graft_threads_set(t);
            if (err != GRAFT_OK) {
                fprintf(stderr, "bench_gemm: graft_threads_set(%d): %s\n", t,
                        graft_strerror(err));
                status = EXIT_WRONG;
                goto done;
            }
            openblas_set_num_threads(t);

            /* Checked at every thread count: the split across threads is a source of bugs. */
            if (check_case(name, t, c, &mats) != 0) {
                status = EXIT_WRONG;
                goto done;
            }
            bench_result res = time_case(c, &mats, budget);
            double graft_rate = flops / res.graft_seconds * 1e-9;
            double ref_rate = flops / res.ref_seconds * 1e-9;
            double peak_all = peak * t;
            printf("{\"bench\":\"gemm\",\"case\":\"%s\",\"M\":%ld,\"N\":%ld,\"K\":%ld,"
                   "\"threads\":%d,\"isa\":\"%s\",\"unit\":\"GFLOP/s\",\"graft\":%.2f,"
                   "\"ref\":%.2f,\"ref_name\":\"%s\",\"ratio\":%.3f,\"peak\":%.1f,"
                   "\"graft_pct_peak\":%.1f,\"ref_pct_peak\":%.1f,\"graft_ms\":%.4f,"
                   "\"ref_ms\":%.4f,\"reps\":%d,\"quick\":%s}\n",
                   name, c->M, c->N, c->K, t, isa_name, graft_rate, ref_rate, ref_name,
                   graft_rate / ref_rate, peak, 100.0 * graft_rate / peak_all,
                   100.0 * ref_rate / peak_all, 1e3 * res.graft_seconds, 1e3 * res.ref_seconds,
                   res.reps, quick ? "true" : "false");
            fflush(stdout);
        }
    }
done:
    mats_deinit(&mats);
    return status;
}
