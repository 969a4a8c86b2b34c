/*
 * bench/bench_common.c: the clock, the FMA peak loops and the median shared by the benchmark
 * programs (bench_gemm.c, bench_conv.c). The peak loops carry their own target attributes, so
 * this file needs no -m flags.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BENCH_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#define BENCH_ARM64 1
#endif

#include "bench_common.h"

double bench_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- FMA peak ---------------------------------------------------------------------------- */

/*
 * Each peak loop runs `iters` rounds of ACC independent FMA chains acc = acc * x + y and
 * returns a value derived from every accumulator, so that none of the work can be dropped.
 * ACC (12 for 16-register ISAs, 16 for 32-register ones) exceeds latency x FMA ports on current
 * cores (4 x 2), so the loop is throughput-bound. x < 1 keeps the accumulators bounded and
 * normal, because denormals would slow some cores down.
 */
#define PEAK_X 0.999999f
#define PEAK_Y 1e-6f
#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define REP16(X) REP12(X) X(12) X(13) X(14) X(15)

typedef float (*peak_loop_fn)(long iters);

#if BENCH_X86
#define DECL_AVX512(i) __m512 acc##i = _mm512_set1_ps(1.0f + (float)(i) * 1e-3f);
#define FMA_AVX512(i) acc##i = _mm512_fmadd_ps(acc##i, x, y);
#define SUM_AVX512(i) sum = _mm512_add_ps(sum, acc##i);
__attribute__((target("avx512f"))) static float peak_loop_avx512(long iters)
{
    const __m512 x = _mm512_set1_ps(PEAK_X), y = _mm512_set1_ps(PEAK_Y);
    REP16(DECL_AVX512)
    for (long it = 0; it < iters; it++) {
        REP16(FMA_AVX512)
    }
    __m512 sum = _mm512_setzero_ps();
    REP16(SUM_AVX512)
    return _mm512_reduce_add_ps(sum);
}

#define DECL_AVX2(i) __m256 acc##i = _mm256_set1_ps(1.0f + (float)(i) * 1e-3f);
#define FMA_AVX2(i) acc##i = _mm256_fmadd_ps(acc##i, x, y);
#define SUM_AVX2(i) sum = _mm256_add_ps(sum, acc##i);
__attribute__((target("avx2,fma"))) static float peak_loop_avx2(long iters)
{
    const __m256 x = _mm256_set1_ps(PEAK_X), y = _mm256_set1_ps(PEAK_Y);
    REP12(DECL_AVX2)
    for (long it = 0; it < iters; it++) {
        REP12(FMA_AVX2)
    }
    __m256 sum = _mm256_setzero_ps();
    REP12(SUM_AVX2)
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#endif

#if BENCH_ARM64
#define DECL_NEON(i) float32x4_t acc##i = vdupq_n_f32(1.0f + (float)(i) * 1e-3f);
#define FMA_NEON(i) acc##i = vfmaq_f32(y, acc##i, x);
#define SUM_NEON(i) sum = vaddq_f32(sum, acc##i);
static float peak_loop_neon(long iters)
{
    const float32x4_t x = vdupq_n_f32(PEAK_X), y = vdupq_n_f32(PEAK_Y);
    REP16(DECL_NEON)
    for (long it = 0; it < iters; it++) {
        REP16(FMA_NEON)
    }
    float32x4_t sum = vdupq_n_f32(0.0f);
    REP16(SUM_NEON)
    return vaddvq_f32(sum);
}
#endif

/*
 * The scalar loop must stay scalar: without the empty asm, which pins each accumulator to its
 * own register, the compiler would pack the 12 chains into SIMD vectors and report a vector
 * peak. On x86 the scalar kernels may be built without FMA, but the issue asks for percent of a
 * scalar FMA loop, so the FMA variant is used whenever the CPU has FMA.
 */
#if BENCH_X86
#define KEEP_SCALAR(v) __asm__("" : "+x"(v))
#elif BENCH_ARM64
#define KEEP_SCALAR(v) __asm__("" : "+w"(v))
#else
#define KEEP_SCALAR(v) ((void)0)
#endif
#define DECL_SCALAR(i) float acc##i = 1.0f + (float)(i) * 1e-3f;
#define FMA_SCALAR(i) acc##i = __builtin_fmaf(acc##i, PEAK_X, PEAK_Y); KEEP_SCALAR(acc##i);
#define MULADD_SCALAR(i) acc##i = acc##i * PEAK_X + PEAK_Y; KEEP_SCALAR(acc##i);
#define SUM_SCALAR(i) sum += acc##i;

#if BENCH_X86
__attribute__((target("fma"))) static float peak_loop_scalar_fma(long iters)
#else
static float peak_loop_scalar_fma(long iters)
#endif
{
    REP12(DECL_SCALAR)
    for (long it = 0; it < iters; it++) {
        REP12(FMA_SCALAR)
    }
    float sum = 0.0f;
    REP12(SUM_SCALAR)
    return sum;
}

#if BENCH_X86
/* x86 CPUs without FMA: a multiply and an add per step, still 2 flops. */
static float peak_loop_scalar_muladd(long iters)
{
    REP12(DECL_SCALAR)
    for (long it = 0; it < iters; it++) {
        REP12(MULADD_SCALAR)
    }
    float sum = 0.0f;
    REP12(SUM_SCALAR)
    return sum;
}
#endif

/* Picks the loop for `isa` and says how many flops one iteration of it performs. */
static peak_loop_fn peak_loop_for(graft_isa isa, double *flops_per_iter)
{
    switch (isa) {
#if BENCH_X86
    case GRAFT_ISA_AVX512:
        *flops_per_iter = 16.0 * 16 * 2;
        return peak_loop_avx512;
    case GRAFT_ISA_AVX2:
        *flops_per_iter = 12.0 * 8 * 2;
        return peak_loop_avx2;
#endif
#if BENCH_ARM64
    case GRAFT_ISA_NEON:
        *flops_per_iter = 16.0 * 4 * 2;
        return peak_loop_neon;
#endif
    default:
        *flops_per_iter = 12.0 * 2;
#if BENCH_X86
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("fma")) return peak_loop_scalar_muladd;
#endif
        return peak_loop_scalar_fma;
    }
}

/* Stops the compiler from discarding the loops' results. */
static volatile float peak_sink;

/*
 * Single-thread GFLOP/s of the FMA loop of `isa`: the best of many 2 ms trials spread over
 * `seconds`. This machine's vCPUs lose the core for stretches of several ms; trials of 20 ms
 * rarely escape that and scattered between 80 and 225 GFLOP/s on AVX-512, while the best 2 ms
 * trial is stable to ~1%. Clock overhead (~50 ns) is negligible at that length.
 */
double bench_peak_measure(graft_isa isa, double seconds)
{
    double flops_per_iter;
    peak_loop_fn loop = peak_loop_for(isa, &flops_per_iter);

    /* Calibrate (which also wakes the core up) until one trial takes about 2 ms. */
    long iters = 1 << 10;
    for (;;) {
        double t0 = bench_now_seconds();
        peak_sink = loop(iters);
        double dt = bench_now_seconds() - t0;
        if (dt >= 0.002 || iters > (1L << 40)) break;
        iters = dt < 0.0002 ? iters * 8 : (long)((double)iters * 0.0024 / dt);
    }
    double best = 0.0, start = bench_now_seconds();
    for (int trial = 0; trial < 3 || bench_now_seconds() - start < seconds; trial++) {
        double t0 = bench_now_seconds();
        peak_sink = loop(iters);
        double rate = flops_per_iter * (double)iters / (bench_now_seconds() - t0) * 1e-9;
        if (rate > best) best = rate;
    }
    return best;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, compare_doubles);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static void time_block(const bench_side *s, const bench_plan *plan, double *times, int n) {
    usleep((useconds_t)plan->pause_us);
    if (s->once < plan->warm_below) s->run(s->ctx); /* caches, scratch, waking threads */
    for (int r = 0; r < n; r++) {
        double t0 = bench_now_seconds();
        s->run(s->ctx);
        times[r] = bench_now_seconds() - t0;
    }
}

bench_result bench_alternate(const bench_side *graft, const bench_side *ref,
                             const bench_plan *plan) {
    double fast = fmin(graft->once, ref->once), slow = fmax(graft->once, ref->once);
    double want = ceil(plan->side_seconds / fmax(fast, 1e-7));
    double cap = floor(10.0 * plan->side_seconds / fmax(slow, 1e-7));
    int rounds = plan->rounds;
    int per_block = (int)ceil(fmax((double)plan->min_reps, fmin(fmin(want, cap), 1e6)) / rounds);
    int reps = per_block * rounds;
    double *graft_times = malloc(2 * (size_t)reps * sizeof(double));
    if (!graft_times) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    double *ref_times = graft_times + reps;
    for (int round = 0; round < rounds; round++) {
        double *gt = graft_times + round * per_block, *rt = ref_times + round * per_block;
        const bench_side *first = round % 2 == 0 ? graft : ref;
        const bench_side *second = round % 2 == 0 ? ref : graft;
        time_block(first, plan, first == graft ? gt : rt, per_block);
        time_block(second, plan, second == graft ? gt : rt, per_block);
    }
    bench_result res = {bench_median(graft_times, reps), bench_median(ref_times, reps), reps};
    free(graft_times);
    return res;
}
