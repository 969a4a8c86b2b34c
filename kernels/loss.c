/*
 * kernels/loss.c: the classification losses that start a fine-tuning backward pass,
 * graft_softmax_xent (torch.nn.CrossEntropyLoss with label smoothing) and graft_multimargin
 * (torch.nn.MultiMarginLoss), each returning the batch's mean loss and its gradient with
 * respect to the logits. Public API in include/graft/kernels.h.
 *
 * Scalar C on one thread: a batch's logits are a few thousand floats, nothing next to the
 * convolutions behind them. The log-sum-exp and the sums run in double, so the float results
 * are the correctly rounded values up to a few double roundings. Labels are all checked before
 * anything is written, so the outputs are untouched on error.
 */
#include <math.h>

#include "kernels.h"

static int check_args(const char *fn, const float *loss, const float *logits, const int *labels,
                      int N, int K) {
    if (N < 1 || K < 1)
        return graft__fail(GRAFT_EINVAL, "%s: N = %d, K = %d; both must be >= 1", fn, N, K);
    if (!loss || !logits || !labels)
        return graft__fail(GRAFT_EINVAL, "%s: NULL %s", fn,
                           !loss ? "loss" : !logits ? "logits" : "labels");
    for (int n = 0; n < N; n++)
        if (labels[n] < 0 || labels[n] >= K)
            return graft__fail(GRAFT_EINVAL, "%s: row %d has label %d, outside [0, %d)", fn, n,
                               labels[n], K);
    return GRAFT_OK;
}

int graft_softmax_xent(float *loss, float *dlogits, const float *logits, const int *labels,
                       int N, int K, float label_smoothing) {
    int err = check_args("softmax_xent", loss, logits, labels, N, K);
    if (err) return err;
    if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
        return graft__fail(GRAFT_EINVAL, "softmax_xent: label_smoothing = %g is outside [0, 1)",
                           label_smoothing);
    /* Target: (1 - s) on the label plus s / K everywhere, as PyTorch smooths. */
    const double s = label_smoothing, on = 1.0 - s, spread = s / K;
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        double m = z[0];
        for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
        double sum = 0.0, sum_logp = 0.0;
        for (int k = 0; k < K; k++) sum += exp(z[k] - m);
        double lse = m + log(sum);
        for (int k = 0; k < K; k++) sum_logp += z[k] - lse;
        double logp_label = z[labels[n]] - lse;
        total += -on * logp_label - spread * sum_logp;
        if (dlogits) {
            float *d = dlogits + (size_t)n * K;
            for (int k = 0; k < K; k++) {
                double target = spread + (k == labels[n] ? on : 0.0);
                d[k] = (float)((exp(z[k] - lse) - target) / N);
            }
        }
    }
    *loss = (float)(total / N);
    return GRAFT_OK;
}

int graft_multimargin(float *loss, float *dlogits, const float *logits, const int *labels, int N,
                      int K) {
    int err = check_args("multimargin", loss, logits, labels, N, K);
    if (err) return err;
    /* Each active margin moves its logit up and the label's down by 1 / (K N). */
    const double step = 1.0 / ((double)K * N);
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        const int y = labels[n];
        float *d = dlogits ? dlogits + (size_t)n * K : NULL;
        double row = 0.0, label_grad = 0.0;
        for (int k = 0; k < K; k++) {
            if (k == y) continue;
            /* In float, as PyTorch computes it, so that the kink falls where torch's does. */
            float margin = 1.0f - z[y] + z[k];
            int active = margin > 0.0f;
            if (active) row += margin;
            if (d) d[k] = active ? (float)step : 0.0f;
            if (active) label_grad -= step;
        }
        if (d) d[y] = (float)label_grad;
        total += row / K;
    }
    *loss = (float)(total / N);
    return GRAFT_OK;
}
