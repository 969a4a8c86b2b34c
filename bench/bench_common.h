/*
 * bench/bench_common.h: what every benchmark program shares: a monotonic clock, this core's
 * FMA peak for an ISA (measured, not assumed) and the timing of graft against a reference
 * library in alternating blocks.
 */
#ifndef GRAFT_BENCH_COMMON_H
#define GRAFT_BENCH_COMMON_H

#include "graft/graft.h"

/* Seconds on a monotonic clock. */
double bench_now_seconds(void);
/*
 * Single-thread GFLOP/s of a loop of independent FMAs for `isa`, the best of many short
 * trials spread over `seconds` (see bench_common.c for why).
 */
double bench_peak_measure(graft_isa isa, double seconds);
/* The median of x[0..n), which it sorts. */
double bench_median(double *x, int n);

/* One contender: run(ctx) performs one call; `once` is one call's time in seconds. */
typedef struct bench_side {
    void (*run)(void *ctx);
    void *ctx;
    double once;
} bench_side;

/* How the two contenders are timed against each other. */
typedef struct bench_plan {
    double side_seconds; /* repetitions per side, at least, for the faster one */
    int min_reps;
    int rounds;          /* alternating blocks per side: noise that lasts seconds hits both */
    int pause_us;        /* before each block, so the other side's spinning threads go idle */
    double warm_below;   /* a warm-up call before each block for calls shorter than this */
} bench_plan;

typedef struct bench_result {
    double graft_seconds, ref_seconds; /* medians */
    int reps;
} bench_result;

/*
 * Times plan->rounds blocks of each side, alternating who goes first, with enough repetitions
 * for the faster side to reach plan->side_seconds in all, capped so that a side far slower
 * does not run for much more than 10 times that. Reports the medians. Exits on out of memory.
 */
bench_result bench_alternate(const bench_side *graft, const bench_side *ref,
                             const bench_plan *plan);

#endif
