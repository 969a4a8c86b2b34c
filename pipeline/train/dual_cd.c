/*
 * pipeline/train/dual_cd.c: dual coordinate descent for the linear SVMs, with the training
 * rows in memory.
 *
 * Hinge and squared hinge (one-vs-rest) follow Hsieh, Chang, Lin, Keerthi and Sundararajan,
 * "A Dual Coordinate Descent Method for Large-scale Linear SVM" (ICML 2008), Algorithm 1 with
 * the shrinking of its section 3.3: one binary problem per class, each row's dual variable
 * optimised in closed form in a random order, rows whose variable sits at a bound with a
 * gradient pointing outwards set aside until the active ones converge. Crammer-Singer follows
 * Keerthi, Sundararajan, Chang, Hsieh and Lin, "A Sequential Dual Method for Large Scale
 * Multi-Class Linear SVMs" (KDD 2008): each row's K variables at once, by the sort-based
 * solution of Crammer and Singer's sub-problem.
 *
 * The bias is the weight of a constant feature of value B (as LIBLINEAR's -B), so the dual
 * has no equality constraint and the primal is exactly graft's J with C_i = w_i / lambda.
 * The K binary problems advance in lockstep, one pass each per iteration, so that the caller
 * sees a whole model after every iteration (bench_train measures time to an accuracy that
 * way). Two classes are one problem: the second class's weights are the first's, negated.
 *
 * It does not do the smooth primal (lbfgs.c) nor anything out of core.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

/* w . z in double, four running sums so the loop is not one long dependency chain. */
static double dot_dz(const double *w, const float *z, size_t D) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t d = 0;
    for (; d + 4 <= D; d += 4) {
        s0 += w[d] * z[d];
        s1 += w[d + 1] * z[d + 1];
        s2 += w[d + 2] * z[d + 2];
        s3 += w[d + 3] * z[d + 3];
    }
    for (; d < D; d++) s0 += w[d] * z[d];
    return (s0 + s1) + (s2 + s3);
}

static void axpy_dz(double a, const float *z, double *w, size_t D) {
    for (size_t d = 0; d < D; d++) w[d] += a * z[d];
}

/* One binary problem: its dual variables, shrinking state and weights (D + 1 with the bias). */
typedef struct binary {
    double *alpha;       /* (n) */
    size_t *index;       /* (n) the active rows first */
    size_t active;
    double pg_max_old, pg_min_old;
    double *w;           /* (D + 1) */
    int done;
} binary;

static void model_out(const graft__problem *p, binary *bins, int nbin, float *W, float *b) {
    size_t D = p->D;
    if (nbin == 1 && p->K == 2) {
        for (size_t d = 0; d < D; d++) {
            W[D + d] = (float)bins[0].w[d];
            W[d] = -W[D + d];
        }
        b[1] = (float)(bins[0].w[D] * p->bias);
        b[0] = -b[1];
        return;
    }
    for (int k = 0; k < nbin; k++) {
        for (size_t d = 0; d < D; d++) W[(size_t)k * D + d] = (float)bins[k].w[d];
        b[k] = (float)(bins[k].w[D] * p->bias);
    }
}

static int solve_ovr(const graft__problem *p, float *W, float *b, int max_iter, double tol,
                     uint64_t seed, graft__iter_fn cb, void *ctx, graft__solve_result *res) {
    size_t n = p->n, D = p->D;
    int squared = p->loss == GRAFT_LOSS_SQUARED_HINGE;
    int nbin = p->K == 2 ? 1 : p->K;
    double B = p->bias;
    double *qd = malloc(n * sizeof *qd), *upper = malloc(n * sizeof *upper);
    double *diag = malloc(n * sizeof *diag);
    binary *bins = calloc((size_t)nbin, sizeof *bins);
    int err = GRAFT_ENOMEM;
    if (!qd || !upper || !diag || !bins) goto done;
    for (int k = 0; k < nbin; k++) {
        bins[k].alpha = calloc(n, sizeof *bins[k].alpha);
        bins[k].index = malloc(n * sizeof *bins[k].index);
        bins[k].w = calloc(D + 1, sizeof *bins[k].w);
        if (!bins[k].alpha || !bins[k].index || !bins[k].w) goto done;
        for (size_t i = 0; i < n; i++) bins[k].index[i] = i;
        bins[k].active = n;
        bins[k].pg_max_old = INFINITY;
        bins[k].pg_min_old = -INFINITY;
    }
    /* Per row: C_i = w_i / lambda; L1 loss bounds alpha by C_i, L2 loss adds 1 / (2 C_i) to
       the diagonal instead. */
    for (size_t i = 0; i < n; i++) {
        double Ci = p->w[i] / p->lambda;
        diag[i] = squared ? 0.5 / Ci : 0;
        upper[i] = squared ? INFINITY : Ci;
        const float *z = p->Z + i * D;
        double sq = 0;
        for (size_t d = 0; d < D; d++) sq += (double)z[d] * z[d];
        qd[i] = sq + B * B + diag[i];
    }

    graft__rng rng = {seed ^ 0x6475616c5f6364ull};
    int iter = 0, all_done = 0;
    while (iter < max_iter && !all_done) {
        all_done = 1;
        for (int k = 0; k < nbin; k++) {
            binary *q = &bins[k];
            if (q->done) continue;
            int cls = p->K == 2 ? 1 : k;
            double pg_max = -INFINITY, pg_min = INFINITY;
            graft__shuffle_size(&rng, q->index, q->active);
            for (size_t s = 0; s < q->active; s++) {
                size_t i = q->index[s];
                const float *z = p->Z + i * D;
                double yi = p->y[i] == cls ? 1.0 : -1.0;
                double G = yi * (dot_dz(q->w, z, D) + q->w[D] * B) - 1.0 + diag[i] * q->alpha[i];
                double pg = 0;
                if (q->alpha[i] == 0) {
                    if (G > q->pg_max_old) {
                        q->active--;
                        size_t t = q->index[s];
                        q->index[s] = q->index[q->active];
                        q->index[q->active] = t;
                        s--;
                        continue;
                    }
                    if (G < 0) pg = G;
                } else if (q->alpha[i] == upper[i]) {
                    if (G < q->pg_min_old) {
                        q->active--;
                        size_t t = q->index[s];
                        q->index[s] = q->index[q->active];
                        q->index[q->active] = t;
                        s--;
                        continue;
                    }
                    if (G > 0) pg = G;
                } else {
                    pg = G;
                }
                if (pg > pg_max) pg_max = pg;
                if (pg < pg_min) pg_min = pg;
                if (fabs(pg) > 1e-12) {
                    double old = q->alpha[i];
                    double a = old - G / qd[i];
                    a = a < 0 ? 0 : a > upper[i] ? upper[i] : a;
                    q->alpha[i] = a;
                    double delta = (a - old) * yi;
                    axpy_dz(delta, z, q->w, D);
                    q->w[D] += delta * B;
                }
            }
            if (q->active == 0) pg_max = pg_min = 0;
            if (pg_max - pg_min <= tol) {
                if (q->active == n) {
                    q->done = 1;
                    continue;
                }
                /* Converged on the active rows: check every row once more. */
                q->active = n;
                q->pg_max_old = INFINITY;
                q->pg_min_old = -INFINITY;
                all_done = 0;
                continue;
            }
            all_done = 0;
            q->pg_max_old = pg_max <= 0 ? INFINITY : pg_max;
            q->pg_min_old = pg_min >= 0 ? -INFINITY : pg_min;
        }
        iter++;
        if (cb) {
            model_out(p, bins, nbin, W, b);
            if (cb(ctx, iter, iter, NAN, W, b)) break;
        }
    }
    model_out(p, bins, nbin, W, b);
    res->iterations = iter;
    res->evals = iter;
    res->converged = all_done;
    err = GRAFT_OK;
done:
    if (bins)
        for (int k = 0; k < nbin; k++) {
            free(bins[k].alpha);
            free(bins[k].index);
            free(bins[k].w);
        }
    free(bins);
    free(qd);
    free(upper);
    free(diag);
    return err;
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Crammer and Singer's sub-problem for one row: minimise sum_m (A/2) a_m^2 + Bm a_m subject to
 * sum_m a_m = 0 and a_m <= C_m (C_m = C for the row's class, 0 for the others). The solution is
 * a_m = min(C_m, (beta - Bm) / A) with beta found by walking the sorted values.
 */
static void cs_subproblem(double A, const double *Bm, int yi, double Ci, int K, double *a,
                          double *sorted) {
    memcpy(sorted, Bm, (size_t)K * sizeof *sorted);
    sorted[yi] += A * Ci;
    qsort(sorted, (size_t)K, sizeof *sorted, cmp_desc);
    double beta = sorted[0] - A * Ci;
    int r = 1;
    while (r < K && beta < r * sorted[r]) {
        beta += sorted[r];
        r++;
    }
    beta /= r;
    for (int m = 0; m < K; m++) {
        double cap = m == yi ? Ci : 0;
        double v = (beta - Bm[m]) / A;
        a[m] = v < cap ? v : cap;
    }
}

static int solve_cs(const graft__problem *p, float *W, float *b, int max_iter, double tol,
                    uint64_t seed, graft__iter_fn cb, void *ctx, graft__solve_result *res) {
    size_t n = p->n, D = p->D;
    int K = p->K;
    double B = p->bias;
    size_t Dp = D + 1;
    double *w = calloc((size_t)K * Dp, sizeof *w);
    double *alpha = calloc(n * (size_t)K, sizeof *alpha);
    double *qd = malloc(n * sizeof *qd);
    size_t *index = malloc(n * sizeof *index);
    double *G = malloc((size_t)K * sizeof *G), *Bm = malloc((size_t)K * sizeof *Bm);
    double *anew = malloc((size_t)K * sizeof *anew), *sorted = malloc((size_t)K * sizeof *sorted);
    int err = GRAFT_ENOMEM;
    if (!w || !alpha || !qd || !index || !G || !Bm || !anew || !sorted) goto done;
    for (size_t i = 0; i < n; i++) {
        const float *z = p->Z + i * D;
        double sq = 0;
        for (size_t d = 0; d < D; d++) sq += (double)z[d] * z[d];
        qd[i] = sq + B * B;
        index[i] = i;
    }
    graft__rng rng = {seed ^ 0x63735f736475616cull};
    int iter = 0, converged = 0;
    while (iter < max_iter && !converged) {
        graft__shuffle_size(&rng, index, n);
        double worst = 0;
        for (size_t s = 0; s < n; s++) {
            size_t i = index[s];
            const float *z = p->Z + i * D;
            int yi = p->y[i];
            double Ci = p->w[i] / p->lambda;
            double *ai = alpha + i * (size_t)K;
            double gmax = -INFINITY, gmin = INFINITY;
            for (int m = 0; m < K; m++) {
                const double *wm = w + (size_t)m * Dp;
                G[m] = dot_dz(wm, z, D) + wm[D] * B + (m == yi ? 0.0 : 1.0);
                if (G[m] > gmax) gmax = G[m];
                double cap = m == yi ? Ci : 0;
                if (ai[m] < cap && G[m] < gmin) gmin = G[m];
            }
            /* The row is optimal when no variable below its cap has a smaller gradient than
               the largest: nothing to move. */
            double viol = gmax - gmin;
            if (viol > worst) worst = viol;
            if (!(viol > 1e-12) || !(qd[i] > 0)) continue;
            for (int m = 0; m < K; m++) Bm[m] = G[m] - qd[i] * ai[m];
            cs_subproblem(qd[i], Bm, yi, Ci, K, anew, sorted);
            for (int m = 0; m < K; m++) {
                double delta = anew[m] - ai[m];
                if (fabs(delta) < 1e-12) continue;
                ai[m] = anew[m];
                double *wm = w + (size_t)m * Dp;
                axpy_dz(delta, z, wm, D);
                wm[D] += delta * B;
            }
        }
        iter++;
        if (worst <= tol) converged = 1;
        if (cb) {
            for (int m = 0; m < K; m++) {
                for (size_t d = 0; d < D; d++) W[(size_t)m * D + d] = (float)w[(size_t)m * Dp + d];
                b[m] = (float)(w[(size_t)m * Dp + D] * B);
            }
            if (cb(ctx, iter, iter, NAN, W, b)) break;
        }
    }
    for (int m = 0; m < K; m++) {
        for (size_t d = 0; d < D; d++) W[(size_t)m * D + d] = (float)w[(size_t)m * Dp + d];
        b[m] = (float)(w[(size_t)m * Dp + D] * B);
    }
    res->iterations = iter;
    res->evals = iter;
    res->converged = converged;
    err = GRAFT_OK;
done:
    free(w);
    free(alpha);
    free(qd);
    free(index);
    free(G);
    free(Bm);
    free(anew);
    free(sorted);
    return err;
}

int graft__dual_cd_solve(const graft__problem *p, float *W, float *b, int max_iter,
                         double tol, uint64_t seed, graft__iter_fn cb, void *ctx,
                         graft__solve_result *res) {
    res->objective = NAN;
    if (p->loss == GRAFT_LOSS_CRAMMER_SINGER)
        return solve_cs(p, W, b, max_iter, tol, seed, cb, ctx, res);
    return solve_ovr(p, W, b, max_iter, tol, seed, cb, ctx, res);
}
