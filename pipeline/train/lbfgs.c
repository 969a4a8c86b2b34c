/*
 * pipeline/train/lbfgs.c: the full-batch objective of the learners and limited-memory BFGS
 * on it, for the smooth losses (softmax, squared hinge) when the training rows are in memory.
 *
 * One evaluation is two GEMMs over the rows (scores, then the weight gradient) with the loss
 * in between. The iterate and the curvature pairs are kept in double, the model handed to the
 * GEMM in float: the objective is computed to float accuracy, which is what the tolerance
 * asks of it. The line search backtracks from the unit step until Armijo's condition holds;
 * the objectives here are convex, so a curvature pair is positive whenever the step moved,
 * and pairs that are not are dropped rather than trusted.
 *
 * It does not handle the hinge losses (not differentiable: dual_cd.c does), nor data that do
 * not fit in memory (the minibatch solvers of learn.c do).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graft/kernels.h"
#include "train.h"

#define LBFGS_MEMORY 10
#define ARMIJO_C1 1e-4
#define MAX_BACKTRACKS 40

int graft__objective(const graft__problem *p, const float *W, const float *b, double *J,
                     float *gW, float *gb, float *scratch) {
    size_t n = p->n, D = p->D;
    int K = p->K;
    float *S = scratch, *dS = scratch + n * K, *work = scratch + 2 * n * K;
    int err = graft__scores(p->Z, n, D, W, b, K, S);
    if (err) return err;
    double loss = 0;
    err = graft__loss_eval(p->loss, S, p->y, p->w, n, K, &loss, gW ? dS : NULL, work);
    if (err) return err;
    double wsq = 0, bsq = 0;
    for (size_t j = 0; j < (size_t)K * D; j++) wsq += (double)W[j] * W[j];
    double breg = p->bias > 0 ? p->lambda / (p->bias * p->bias) : 0;
    for (int k = 0; k < K; k++) bsq += (double)b[k] * b[k];
    *J = loss + 0.5 * p->lambda * wsq + (p->bias > 0 ? 0.5 * breg * bsq : 0);
    if (!gW) return GRAFT_OK;
    if ((err = graft__weight_grad(dS, p->Z, n, D, K, gW))) return err;
    float lam = (float)p->lambda;
    for (size_t j = 0; j < (size_t)K * D; j++) gW[j] += lam * W[j];
    for (int k = 0; k < K; k++) {
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += dS[i * K + k];
        gb[k] = p->bias > 0 ? (float)(sum + breg * b[k]) : 0.0f;
    }
    return GRAFT_OK;
}

/* The solver's state: the iterate x = (W, b) flattened, in double, and its float image. */
typedef struct lbfgs {
    const graft__problem *p;
    size_t P;              /* K * D + K */
    float *Wf, *gWf;       /* (P) each: W then b, as the GEMM wants them */
    float *scratch;
    long evals;
} lbfgs;

static int eval_at(lbfgs *s, const double *x, double *f, double *g) {
    size_t P = s->P, KD = P - (size_t)s->p->K;
    for (size_t j = 0; j < P; j++) s->Wf[j] = (float)x[j];
    int err = graft__objective(s->p, s->Wf, s->Wf + KD, f, s->gWf, s->gWf + KD, s->scratch);
    if (err) return err;
    for (size_t j = 0; j < P; j++) g[j] = s->gWf[j];
    s->evals++;
    return GRAFT_OK;
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t j = 0; j < n; j++) s += a[j] * b[j];
    return s;
}

int graft__lbfgs_solve(const graft__problem *p, float *W, float *b, int max_iter, double tol,
                       graft__iter_fn cb, void *ctx, graft__solve_result *res) {
    lbfgs s = {.p = p};
    size_t KD = (size_t)p->K * p->D, P = KD + (size_t)p->K;
    s.P = P;
    int m = LBFGS_MEMORY;
    double *x = malloc(P * sizeof *x), *g = malloc(P * sizeof *g), *d = malloc(P * sizeof *d);
    double *xn = malloc(P * sizeof *xn), *gn = malloc(P * sizeof *gn);
    double *S = malloc((size_t)m * P * sizeof *S), *Y = malloc((size_t)m * P * sizeof *Y);
    double rho[LBFGS_MEMORY], alpha[LBFGS_MEMORY];
    s.Wf = malloc(P * sizeof *s.Wf);
    s.gWf = malloc(P * sizeof *s.gWf);
    s.scratch = malloc(3 * p->n * (size_t)p->K * sizeof *s.scratch);
    int err = GRAFT_ENOMEM;
    if (!x || !g || !d || !xn || !gn || !S || !Y || !s.Wf || !s.gWf || !s.scratch) goto done;

    /* The stopping rule is relative to the gradient at the zero model, as LIBLINEAR's, so
       that a warm start does not make it stricter. */
    double f, gref;
    memset(x, 0, P * sizeof *x);
    if ((err = eval_at(&s, x, &f, g))) goto done;
    gref = sqrt(dot(g, g, P));
    for (size_t j = 0; j < KD; j++) x[j] = W[j];
    for (int k = 0; k < p->K; k++) x[KD + k] = b[k];
    if ((err = eval_at(&s, x, &f, g))) goto done;

    int hist = 0, head = 0, iter = 0, converged = 0;
    double gnorm = sqrt(dot(g, g, P));
    if (gnorm <= tol * gref) converged = 1;
    while (!converged && iter < max_iter) {
        /* Two-loop recursion: d = -H g, H0 = (s'y / y'y) I from the newest pair. */
        memcpy(d, g, P * sizeof *d);
        for (int c = 0; c < hist; c++) {
            int j = (head - 1 - c + m) % m;
            alpha[j] = rho[j] * dot(S + (size_t)j * P, d, P);
            const double *yj = Y + (size_t)j * P;
            for (size_t t = 0; t < P; t++) d[t] -= alpha[j] * yj[t];
        }
        double gamma = 1.0;
        if (hist) {
            int j = (head - 1 + m) % m;
            const double *yj = Y + (size_t)j * P;
            gamma = 1.0 / (rho[j] * dot(yj, yj, P));
        }
        for (size_t t = 0; t < P; t++) d[t] *= gamma;
        for (int c = hist - 1; c >= 0; c--) {
            int j = (head - 1 - c + m) % m;
            double beta = rho[j] * dot(Y + (size_t)j * P, d, P);
            const double *sj = S + (size_t)j * P;
            for (size_t t = 0; t < P; t++) d[t] += (alpha[j] - beta) * sj[t];
        }
        for (size_t t = 0; t < P; t++) d[t] = -d[t];
        double slope = dot(g, d, P);
        if (!(slope < 0)) {
            /* Not a descent direction (rounding in float): forget the curvature, go downhill. */
            hist = 0;
            for (size_t t = 0; t < P; t++) d[t] = -g[t];
            slope = -gnorm * gnorm;
        }
        double step = hist ? 1.0 : fmin(1.0, 1.0 / gnorm);
        double fn = f;
        int found = 0;
        for (int bt = 0; bt < MAX_BACKTRACKS; bt++) {
            for (size_t t = 0; t < P; t++) xn[t] = x[t] + step * d[t];
            if ((err = eval_at(&s, xn, &fn, gn))) goto done;
            if (fn <= f + ARMIJO_C1 * step * slope) {
                found = 1;
                break;
            }
            step *= 0.5;
        }
        iter++;
        if (!found) break; /* no decrease left at float precision: as good as it gets */
        double sy = 0, yy = 0;
        double *sj = S + (size_t)head * P, *yj = Y + (size_t)head * P;
        for (size_t t = 0; t < P; t++) {
            sj[t] = xn[t] - x[t];
            yj[t] = gn[t] - g[t];
            sy += sj[t] * yj[t];
            yy += yj[t] * yj[t];
        }
        if (sy > 1e-12 * yy && sy > 0) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % m;
            if (hist < m) hist++;
        }
        memcpy(x, xn, P * sizeof *x);
        memcpy(g, gn, P * sizeof *g);
        f = fn;
        gnorm = sqrt(dot(g, g, P));
        if (gnorm <= tol * gref) converged = 1;
        if (cb) {
            for (size_t t = 0; t < P; t++) s.Wf[t] = (float)x[t];
            if (cb(ctx, iter, s.evals, f, s.Wf, s.Wf + KD)) break;
        }
    }
    for (size_t j = 0; j < KD; j++) W[j] = (float)x[j];
    for (int k = 0; k < p->K; k++) b[k] = p->bias > 0 ? (float)x[KD + k] : 0.0f;
    res->iterations = iter;
    res->evals = s.evals;
    res->objective = f;
    res->converged = converged;
    err = GRAFT_OK;
done:
    free(x);
    free(g);
    free(d);
    free(xn);
    free(gn);
    free(S);
    free(Y);
    free(s.Wf);
    free(s.gWf);
    free(s.scratch);
    return err;
}
