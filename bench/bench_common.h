/*
 * bench/bench_common.h: what every benchmark program shares: a monotonic clock, this core's
 * FMA peak for an ISA (measured, not assumed) and the median of repeated timings.
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

#endif
