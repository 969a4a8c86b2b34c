/*
 * pipeline/train/loss.c: the learners' losses on a block of scores, with their gradients with
 * respect to the scores: everything between the two GEMMs of a training step (scores = Z W^T
 * + b before, grad W = dS^T Z after).
 *
 * Softmax goes through graft_softmax's log-softmax and graft_unary_apply's EXP (SLEEF in the
 * SIMD variants), stable for scores of any magnitude. The hinge losses take the subgradient 0
 * at their kink (margin exactly 1), as LIBLINEAR and scikit-learn do.
 *
 * The two GEMMs themselves are here too (graft__scores, graft__weight_grad).
 *
 * It does not add the regulariser (the callers do, on the weights) nor reduce over rows beyond
 * the weighted loss sum.
 */
#include <math.h>
#include <string.h>

#include "graft/kernels.h"
#include "train.h"

/* Classes up to which the products run as one matrix-vector product per class. */
#define GEMV_MAX_K 8

int graft__scores(const float *Z, size_t n, size_t D, const float *W, const float *b, int K,
                  float *S) {
    if (K > GEMV_MAX_K) {
        graft_epilogue epi = {NULL, b, GRAFT_ACT_NONE};
        return graft_sgemm(GRAFT_TRANS_NO, GRAFT_TRANS_YES, (long)n, K, (long)D, 1.0f, Z,
                           (long)D, W, (long)D, 0.0f, S, K, &epi);
    }
    for (int k = 0; k < K; k++) {
        graft_epilogue epi = {NULL, b + k, GRAFT_ACT_NONE};
        int err = graft_sgemm(GRAFT_TRANS_NO, GRAFT_TRANS_YES, (long)n, 1, (long)D, 1.0f, Z,
                              (long)D, W + (size_t)k * D, (long)D, 0.0f, S + k, K, &epi);
        if (err) return err;
    }
    return GRAFT_OK;
}

int graft__weight_grad(const float *dS, const float *Z, size_t n, size_t D, int K, float *G) {
    if (K > GEMV_MAX_K)
        return graft_sgemm(GRAFT_TRANS_YES, GRAFT_TRANS_NO, K, (long)D, (long)n, 1.0f, dS, K, Z,
                           (long)D, 0.0f, G, (long)D, NULL);
    for (int k = 0; k < K; k++) {
        int err = graft_sgemm(GRAFT_TRANS_YES, GRAFT_TRANS_NO, 1, (long)D, (long)n, 1.0f, dS + k,
                              K, Z, (long)D, 0.0f, G + (size_t)k * D, (long)D, NULL);
        if (err) return err;
    }
    return GRAFT_OK;
}

static int loss_softmax(const float *S, const int *y, const float *w, size_t m, int K,
                        double *loss_sum, float *dS, float *logp) {
    int err = graft_softmax(logp, S, m, (size_t)K, 1);
    if (err) return err;
    double sum = 0;
    for (size_t i = 0; i < m; i++) sum += (double)w[i] * -(double)logp[i * K + y[i]];
    *loss_sum += sum;
    if (!dS) return GRAFT_OK;
    graft_unary_op op = {GRAFT_UNARY_EXP, 0, 0};
    err = graft_unary_apply(&op, dS, logp, m * (size_t)K);
    if (err) return err;
    for (size_t i = 0; i < m; i++) {
        float *g = dS + i * K;
        g[y[i]] -= 1.0f;
        for (int k = 0; k < K; k++) g[k] *= w[i];
    }
    return GRAFT_OK;
}

static void loss_ovr(int squared, const float *S, const int *y, const float *w, size_t m,
                     int K, double *loss_sum, float *dS) {
    double sum = 0;
    for (size_t i = 0; i < m; i++) {
        const float *s = S + i * K;
        double row = 0;
        for (int k = 0; k < K; k++) {
            float t = k == y[i] ? 1.0f : -1.0f;
            float margin = 1.0f - t * s[k];
            float g = 0;
            if (margin > 0) {
                row += squared ? (double)margin * margin : margin;
                g = squared ? -2.0f * t * margin * w[i] : -t * w[i];
            }
            if (dS) dS[i * K + k] = g;
        }
        sum += w[i] * row;
    }
    *loss_sum += sum;
}

static void loss_crammer_singer(const float *S, const int *y, const float *w, size_t m, int K,
                                double *loss_sum, float *dS) {
    double sum = 0;
    for (size_t i = 0; i < m; i++) {
        const float *s = S + i * K;
        int best = -1;
        for (int k = 0; k < K; k++)
            if (k != y[i] && (best < 0 || s[k] > s[best])) best = k;
        float margin = 1.0f + s[best] - s[y[i]];
        if (dS) memset(dS + i * K, 0, (size_t)K * sizeof *dS);
        if (margin > 0) {
            sum += (double)w[i] * margin;
            if (dS) {
                dS[i * K + best] = w[i];
                dS[i * K + y[i]] = -w[i];
            }
        }
    }
    *loss_sum += sum;
}

int graft__loss_eval(graft_loss loss, const float *S, const int *y, const float *w, size_t m,
                     int K, double *loss_sum, float *dS, float *scratch) {
    if (m == 0) return GRAFT_OK;
    switch (loss) {
    case GRAFT_LOSS_SOFTMAX: return loss_softmax(S, y, w, m, K, loss_sum, dS, scratch);
    case GRAFT_LOSS_HINGE: loss_ovr(0, S, y, w, m, K, loss_sum, dS); return GRAFT_OK;
    case GRAFT_LOSS_SQUARED_HINGE: loss_ovr(1, S, y, w, m, K, loss_sum, dS); return GRAFT_OK;
    case GRAFT_LOSS_CRAMMER_SINGER:
        loss_crammer_singer(S, y, w, m, K, loss_sum, dS);
        return GRAFT_OK;
    default: break;
    }
    return GRAFT_EINVAL;
}
