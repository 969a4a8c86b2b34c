/*
 * pipeline/train/scaler.c: feature scaling for the learners: signed square root and L2
 * normalisation row by row, and standardisation with statistics gathered in one streaming
 * pass.
 *
 * The statistics are kept in double. Each batch is reduced exactly twice (its mean, then the
 * squared deviations from that mean, which avoids the cancellation of sum-of-squares formulas)
 * and merged into the running totals with the pairwise update of Chan, Golub and LeVeque, so
 * that cutting the rows into batches differently changes the result only by rounding.
 * What is applied is float: (x - mean_f) * inv_std_f, the same operations the head repeats at
 * prediction time, so training and prediction see the same bits.
 *
 * It does not decide when to freeze the statistics (learn.c does) nor store them (head.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

int graft__scaler_init(graft__scaler *s, int flags, size_t D) {
    memset(s, 0, sizeof *s);
    s->flags = flags;
    s->D = D;
    if (!(flags & GRAFT_SCALE_STANDARDIZE)) return GRAFT_OK;
    s->mean = calloc(D, sizeof *s->mean);
    s->m2 = calloc(D, sizeof *s->m2);
    s->tmp_mean = calloc(D, sizeof *s->tmp_mean);
    s->tmp_m2 = calloc(D, sizeof *s->tmp_m2);
    s->mean_f = calloc(D, sizeof *s->mean_f);
    s->inv_std_f = malloc(D * sizeof *s->inv_std_f);
    if (!s->mean || !s->m2 || !s->tmp_mean || !s->tmp_m2 || !s->mean_f || !s->inv_std_f) {
        graft__scaler_deinit(s);
        return GRAFT_ENOMEM;
    }
    for (size_t d = 0; d < D; d++) s->inv_std_f[d] = 1.0f;
    return GRAFT_OK;
}

void graft__scaler_deinit(graft__scaler *s) {
    free(s->mean);
    free(s->m2);
    free(s->tmp_mean);
    free(s->tmp_m2);
    free(s->mean_f);
    free(s->inv_std_f);
    memset(s, 0, sizeof *s);
}

void graft__scaler_reset(graft__scaler *s) {
    if (!s->mean) return;
    s->count = 0;
    memset(s->mean, 0, s->D * sizeof *s->mean);
    memset(s->m2, 0, s->D * sizeof *s->m2);
    memset(s->mean_f, 0, s->D * sizeof *s->mean_f);
    for (size_t d = 0; d < s->D; d++) s->inv_std_f[d] = 1.0f;
}

void graft__scale_rows(int flags, size_t D, const float *X, size_t n, float *Z) {
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * D;
        float *z = Z + i * D;
        if (flags & GRAFT_SCALE_SQRT) {
            for (size_t d = 0; d < D; d++) {
                float v = sqrtf(fabsf(x[d]));
                z[d] = x[d] < 0 ? -v : v;
            }
        } else if (z != x) {
            memcpy(z, x, D * sizeof *z);
        }
        if (flags & GRAFT_SCALE_L2) {
            double sq = 0;
            for (size_t d = 0; d < D; d++) sq += (double)z[d] * z[d];
            if (sq > 0) {
                float inv = (float)(1.0 / sqrt(sq));
                for (size_t d = 0; d < D; d++) z[d] *= inv;
            }
        }
    }
}

void graft__scaler_add(graft__scaler *s, const float *Z, size_t n) {
    if (!s->mean || n == 0) return;
    size_t D = s->D;
    double *bm = s->tmp_mean, *b2 = s->tmp_m2;
    memset(bm, 0, D * sizeof *bm);
    memset(b2, 0, D * sizeof *b2);
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < D; d++) bm[d] += Z[i * D + d];
    for (size_t d = 0; d < D; d++) bm[d] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < D; d++) {
            double dev = Z[i * D + d] - bm[d];
            b2[d] += dev * dev;
        }
    /* Chan et al.: merging (count_a, mean_a, M2_a) with (count_b, mean_b, M2_b). */
    double na = s->count, nb = (double)n, nt = na + nb;
    for (size_t d = 0; d < D; d++) {
        double delta = bm[d] - s->mean[d];
        s->mean[d] += delta * (nb / nt);
        s->m2[d] += b2[d] + delta * delta * (na * nb / nt);
    }
    s->count = nt;
}

void graft__scaler_finalize(graft__scaler *s) {
    if (!s->mean) return;
    for (size_t d = 0; d < s->D; d++) {
        double var = s->count > 0 ? s->m2[d] / s->count : 0;
        double sd = sqrt(var > 0 ? var : 0);
        s->mean_f[d] = (float)s->mean[d];
        /* A feature that does not vary (or only by rounding) is centred, not blown up. */
        if (!(sd > 1e-12 * fabs(s->mean[d])) || !(sd > 0) || !isfinite(1.0 / sd))
            s->inv_std_f[d] = 1.0f;
        else
            s->inv_std_f[d] = (float)(1.0 / sd);
    }
}

void graft__standardize(const float *mean, const float *inv_std, size_t D, float *Z,
                        size_t n) {
    if (!mean || !inv_std) return;
    for (size_t i = 0; i < n; i++) {
        float *z = Z + i * D;
        for (size_t d = 0; d < D; d++) z[d] = (z[d] - mean[d]) * inv_std[d];
    }
}
