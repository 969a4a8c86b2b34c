/*
 * tests/pipeline/check_learn.c: the learners of pipeline/train/ (graft/learn.h).
 *
 *   - the losses: finite-difference gradient checks of the objective for every loss (the
 *     hinge losses away from their kinks), with class weights and the regularised bias;
 *   - the scaler: streaming statistics equal the two-pass batch ones, also far from zero;
 *   - incremental training: partial_fit cut into any chunks gives the same bits as one call;
 *     many epochs of it reach the full-batch optimum; out of core equals in memory; the same
 *     seed gives the same bits for any thread count;
 *   - heads: save/load is bit-exact, and truncated, corrupted, wrong-version, non-finite or
 *     missing head files are refused with the field named;
 *   - LIBLINEAR parity: on the same standardized synthetic codes, liblinear-train -s 2 and
 *     -s 0 (Debian liblinear-tools, run through popen) and graft's squared hinge and softmax
 *     reach accuracies within 0.5 points; skipped when liblinear-train is not installed;
 *   - class weights: balanced weights raise the balanced accuracy on an imbalanced set;
 *   - evaluation metrics and their text / CSV / JSON reports; options refused by name;
 *   - hymenoptera (host builds with ../shared only): codes made here with the shipped
 *     mobilenet_v1 embedding, then >= 92% validation accuracy with default settings and
 *     >= 93% with the sweep C = 0.01, 0.1, 1, 10.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "graft/graft.h"
#include "graft/learn.h"

#ifndef GRAFT_NO_IO_CHECKS
#include <archive.h>
#include <archive_entry.h>

#include "graft/image.h"
#include "graft/model.h"
#endif

#define FAIL(...) graft_check_fail(msg, msglen, __VA_ARGS__)
#define TRY(call)                                                                             \
    do {                                                                                      \
        int e_ = (call);                                                                      \
        if (e_) {                                                                             \
            int r_ = FAIL("%s:%d: %s: %s (%s)", __FILE__, __LINE__, #call, graft_last_error(), \
                          graft_err_name(e_));                                                \
            cleanup_all();                                                                    \
            return r_;                                                                        \
        }                                                                                     \
    } while (0)
#define EXPECT_ERR(err, want, needle, what)                                                   \
    do {                                                                                      \
        int e_ = (err);                                                                       \
        const char *n_ = (needle);                                                            \
        if (e_ != (want) || (n_ && !strstr(graft_last_error(), n_))) {                        \
            int r_ = FAIL("%s: %s \"%s\", expected %s%s%s", what, graft_err_name(e_),         \
                          graft_last_error(), graft_err_name(want), n_ ? " with " : "",       \
                          n_ ? n_ : "");                                                      \
            cleanup_all();                                                                    \
            return r_;                                                                        \
        }                                                                                     \
    } while (0)

/* ---- bookkeeping: everything a check allocates is registered and freed on any return ----- */

#define MAX_TRACKED 2048
static void *tracked[MAX_TRACKED];
#define MAX_OBJECTS 64
static graft_learner *tracked_learners[MAX_OBJECTS];
static graft_head *tracked_heads[MAX_OBJECTS];
static char tracked_files[8][256];

static void *track(void *p) {
    for (int i = 0; i < MAX_TRACKED; i++)
        if (!tracked[i]) {
            tracked[i] = p;
            return p;
        }
    abort(); /* a bug in this file, not in graft */
}
static graft_learner *track_learner(graft_learner *l) {
    for (int i = 0; i < MAX_OBJECTS; i++)
        if (!tracked_learners[i]) return tracked_learners[i] = l;
    abort();
}
static graft_head *track_head(graft_head *h) {
    for (int i = 0; i < MAX_OBJECTS; i++)
        if (!tracked_heads[i]) return tracked_heads[i] = h;
    abort();
}
static const char *track_file(const char *path) {
    for (int i = 0; i < 8; i++)
        if (!tracked_files[i][0]) {
            snprintf(tracked_files[i], sizeof tracked_files[i], "%s", path);
            return tracked_files[i];
        }
    abort();
}
static void cleanup_all(void) {
    for (int i = 0; i < MAX_TRACKED; i++) {
        free(tracked[i]);
        tracked[i] = NULL;
    }
    for (int i = 0; i < MAX_OBJECTS; i++) {
        graft_learner_destroy(tracked_learners[i]);
        tracked_learners[i] = NULL;
        graft_head_destroy(tracked_heads[i]);
        tracked_heads[i] = NULL;
    }
    for (int i = 0; i < 8; i++) {
        if (tracked_files[i][0]) unlink(tracked_files[i]);
        tracked_files[i][0] = 0;
    }
}
static void *xalloc(size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) abort();
    return track(p);
}

#define PASS()                                                                                \
    do {                                                                                      \
        cleanup_all();                                                                        \
        return GRAFT_CHECK_PASS;                                                              \
    } while (0)
#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            int r_ = FAIL(__VA_ARGS__);                                                       \
            cleanup_all();                                                                    \
            return r_;                                                                        \
        }                                                                                     \
    } while (0)

/* ---- synthetic data ---------------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
static double rng_normal(rng *r) {
    double u = rng_unit(r), v = rng_unit(r);
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/*
 * Gaussian blobs: K centres drawn with spread `sep`, rows = centre + N(0, 1) noise, shifted by
 * `offset` and stretched per feature (so that standardising matters). counts[k] rows of class
 * k (NULL: n / K each, round robin).
 */
typedef struct blobs {
    size_t n, D;
    int K;
    float *X;     /* (n, D) */
    int *y;       /* (n) */
    uint8_t *role;
} blobs;

static blobs make_blobs(size_t n, size_t D, int K, double sep, uint64_t seed,
                        const double *class_share, double offset) {
    blobs b = {n, D, K, xalloc(n * D * sizeof(float)), xalloc(n * sizeof(int)), xalloc(n)};
    rng r = {seed};
    double *centre = xalloc((size_t)K * D * sizeof(double));
    double *stretch = xalloc(D * sizeof(double));
    /* The centres come from their own stream, so that train and test sets of one seed share
       them while the rows differ. */
    rng rc = {seed & ~0xffull};
    for (size_t j = 0; j < (size_t)K * D; j++) centre[j] = sep * rng_normal(&rc);
    for (size_t d = 0; d < D; d++) stretch[d] = 0.2 + 3 * rng_unit(&rc);
    for (size_t i = 0; i < n; i++) {
        int k = (int)(i % (size_t)K);
        if (class_share) {
            double u = rng_unit(&r), acc = 0;
            for (k = 0; k < K - 1; k++) {
                acc += class_share[k];
                if (u < acc) break;
            }
        }
        b.y[i] = k;
        for (size_t d = 0; d < D; d++)
            b.X[i * D + d] = (float)(offset + stretch[d] * (centre[k * D + d] + rng_normal(&r)));
    }
    return b;
}

static void source_of(graft_row_source *src, graft_row_memory *mem, const blobs *b) {
    mem->X = b->X;
    mem->labels = b->y;
    mem->roles = b->role;
    mem->rows = b->n;
    mem->dim = b->D;
    graft_row_source_memory(src, mem);
}

static const char *const class_names8[] = {"alpha", "beta", "gamma", "delta",
                                           "epsilon", "zeta", "eta", "theta"};

static double head_accuracy(const graft_head *h, const blobs *b, double *balanced) {
    graft_eval e;
    if (graft_eval_head(h, b->X, b->y, b->n, &e)) return -1;
    double acc = e.accuracy;
    if (balanced) *balanced = e.balanced_accuracy;
    graft_eval_deinit(&e);
    return acc;
}

/* ---- gradient checks --------------------------------------------------------------------- */

/*
 * The objective's gradient at a random model against central differences in double, on a
 * small problem with class weights and the bias. For the hinge losses every margin (and for
 * Crammer-Singer every gap between the competing scores) is kept further from its kink than
 * any step moves it, so the loss is smooth on the whole stencil.
 */
static int gradient_check(graft_loss loss, char *msg, size_t msglen) {
    const size_t n = 24, D = 9;
    const int K = 4;
    blobs b = make_blobs(n, D, K, 1.0, 11 + loss, NULL, 0);
    graft_learn_options o;
    graft_learn_options_init(&o);
    o.loss = loss;
    o.scale = 0;
    o.C = 0;
    o.lambda = 0.05;
    o.bias = 2.0;
    o.solver = GRAFT_SOLVER_ADAM;
    o.class_weight = GRAFT_CLASS_WEIGHT_GIVEN;
    const float cw[4] = {1.0f, 2.5f, 0.5f, 1.5f};
    o.class_weights = cw;
    graft_learner *l;
    TRY(graft_learner_create(&o, D, K, class_names8, &l));
    track_learner(l);
    float *W = xalloc((size_t)K * D * sizeof(float)), *bias = xalloc(K * sizeof(float));
    float *gW = xalloc((size_t)K * D * sizeof(float)), *gb = xalloc(K * sizeof(float));
    int smooth = loss == GRAFT_LOSS_SOFTMAX || loss == GRAFT_LOSS_SQUARED_HINGE;
    const double h = 1e-3, clearance = 0.05;
    double xmax = 0;
    for (size_t j = 0; j < n * D; j++)
        if (fabs(b.X[j]) > xmax) xmax = fabs(b.X[j]); /* fmax here trips gcc 12's aarch64
                                                         vectorizer (internal error) */
    rng r = {99};
    int tries = 0;
    for (;;) {
        CHECK(++tries < 5000, "%s: no model found with every margin away from the kinks",
              graft_loss_name(loss));
        for (size_t j = 0; j < (size_t)K * D; j++) W[j] = (float)(0.3 * rng_normal(&r));
        for (int k = 0; k < K; k++) bias[k] = (float)(0.3 * rng_normal(&r));
        if (smooth) break;
        /* Scores move by at most h (|x|_inf + 1) under one step of the stencil. */
        double reach = 2 * h * (xmax + 1), closest = INFINITY;
        for (size_t i = 0; i < n; i++) {
            double s[4];
            for (int k = 0; k < K; k++) {
                s[k] = bias[k];
                for (size_t d = 0; d < D; d++) s[k] += (double)W[k * D + d] * b.X[i * D + d];
            }
            int y = b.y[i];
            if (loss == GRAFT_LOSS_HINGE) {
                for (int k = 0; k < K; k++)
                    closest = fmin(closest, fabs(1 - (k == y ? 1 : -1) * s[k]));
            } else {
                double top = -INFINITY, second = -INFINITY;
                for (int k = 0; k < K; k++) {
                    if (k == y) continue;
                    if (s[k] > top) {
                        second = top;
                        top = s[k];
                    } else if (s[k] > second) {
                        second = s[k];
                    }
                }
                closest = fmin(closest, fmin(top - second, fabs(1 + top - s[y])));
            }
        }
        if (closest > reach + clearance) break;
    }
    TRY(graft_learner_set_model(l, W, bias));
    double J;
    TRY(graft_learner_objective(l, b.X, b.y, n, &J, gW, gb));
    size_t P = (size_t)K * D + K;
    double worst = 0;
    for (size_t j = 0; j < P; j++) {
        float *param = j < (size_t)K * D ? &W[j] : &bias[j - (size_t)K * D];
        float saved = *param;
        double Jp, Jm;
        *param = (float)(saved + h);
        double hp = (double)*param - saved;
        TRY(graft_learner_set_model(l, W, bias));
        TRY(graft_learner_objective(l, b.X, b.y, n, &Jp, NULL, NULL));
        *param = (float)(saved - h);
        double hm = saved - (double)*param;
        TRY(graft_learner_set_model(l, W, bias));
        TRY(graft_learner_objective(l, b.X, b.y, n, &Jm, NULL, NULL));
        *param = saved;
        double fd = (Jp - Jm) / (hp + hm);
        double an = j < (size_t)K * D ? gW[j] : gb[j - (size_t)K * D];
        double err = fabs(fd - an) / (1e-3 + fabs(an));
        if (err > worst) worst = err;
        CHECK(fabs(fd - an) <= 2e-3 + 2e-3 * fabs(an),
              "%s: d J / d %s[%zu] = %.6g analytic, %.6g by differences (J = %.6g)",
              graft_loss_name(loss), j < (size_t)K * D ? "W" : "b",
              j < (size_t)K * D ? j : j - (size_t)K * D, an, fd, J);
    }
    /* No bias: its gradient is zero and the model keeps b = 0. */
    o.bias = 0;
    graft_learner *l0;
    TRY(graft_learner_create(&o, D, K, class_names8, &l0));
    track_learner(l0);
    TRY(graft_learner_set_model(l0, W, bias));
    TRY(graft_learner_objective(l0, b.X, b.y, n, &J, gW, gb));
    for (int k = 0; k < K; k++) CHECK(gb[k] == 0, "bias = 0: gradient of b[%d] = %g", k, gb[k]);
    cleanup_all();
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "%zu parameters, worst relative "
                           "error %.2g", P, worst);
}

static int check_gradient_softmax(char *msg, size_t msglen) {
    return gradient_check(GRAFT_LOSS_SOFTMAX, msg, msglen);
}
static int check_gradient_squared_hinge(char *msg, size_t msglen) {
    return gradient_check(GRAFT_LOSS_SQUARED_HINGE, msg, msglen);
}
static int check_gradient_hinge(char *msg, size_t msglen) {
    return gradient_check(GRAFT_LOSS_HINGE, msg, msglen);
}
static int check_gradient_crammer_singer(char *msg, size_t msglen) {
    return gradient_check(GRAFT_LOSS_CRAMMER_SINGER, msg, msglen);
}

/* ---- scaler ------------------------------------------------------------------------------ */

static int check_scaler_streaming(char *msg, size_t msglen) {
    const size_t n = 1000, D = 17;
    const int scales[] = {GRAFT_SCALE_STANDARDIZE, GRAFT_SCALE_SQRT | GRAFT_SCALE_STANDARDIZE,
                          GRAFT_SCALE_ALL};
    /* Far from zero with a small spread: a sum-of-squares formula in float would lose it. */
    blobs b = make_blobs(n, D, 2, 0.01, 5, NULL, 1000.0);
    double *ref_mean = xalloc(D * sizeof(double)), *ref_m2 = xalloc(D * sizeof(double));
    float *Z = xalloc(n * D * sizeof(float));
    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        graft_learn_options o;
        graft_learn_options_init(&o);
        o.scale = scales[s];
        graft_learner *whole, *pieces;
        TRY(graft_learner_create(&o, D, 2, class_names8, &whole));
        track_learner(whole);
        TRY(graft_learner_create(&o, D, 2, class_names8, &pieces));
        track_learner(pieces);
        TRY(graft_learner_scaler_update(whole, b.X, n));
        size_t at = 0, step = 1;
        while (at < n) {
            size_t m = n - at < step ? n - at : step;
            TRY(graft_learner_scaler_update(pieces, b.X + at * D, m));
            at += m;
            step = step * 3 + 1;
        }
        graft_head *hw, *hp;
        TRY(graft_learner_head(whole, &hw));
        track_head(hw);
        TRY(graft_learner_head(pieces, &hp));
        track_head(hp);
        /* The reference: the same row steps (through a head without standardisation), then a
           two-pass mean and variance in double. */
        graft_head *rows;
        TRY(graft_head_create(GRAFT_LOSS_SOFTMAX, scales[s] & ~GRAFT_SCALE_STANDARDIZE, D, 2,
                              class_names8, &rows));
        track_head(rows);
        TRY(graft_head_transform(rows, b.X, n, Z));
        for (size_t d = 0; d < D; d++) {
            double m = 0, v = 0;
            for (size_t i = 0; i < n; i++) m += Z[i * D + d];
            m /= n;
            for (size_t i = 0; i < n; i++) v += (Z[i * D + d] - m) * (Z[i * D + d] - m);
            ref_mean[d] = m;
            ref_m2[d] = 1 / sqrt(v / n);
        }
        for (size_t d = 0; d < D; d++) {
            CHECK(fabs(hw->mean[d] - ref_mean[d]) <= 1e-6 * fabs(ref_mean[d]) + 1e-7 &&
                      fabs(hp->mean[d] - ref_mean[d]) <= 1e-6 * fabs(ref_mean[d]) + 1e-7,
                  "scale 0x%x: mean[%zu] whole %.9g, streamed %.9g, reference %.9g", scales[s],
                  d, hw->mean[d], hp->mean[d], ref_mean[d]);
            CHECK(fabs(hw->inv_std[d] - ref_m2[d]) <= 1e-5 * ref_m2[d] &&
                      fabs(hp->inv_std[d] - ref_m2[d]) <= 1e-5 * ref_m2[d],
                  "scale 0x%x: inv_std[%zu] whole %.9g, streamed %.9g, reference %.9g",
                  scales[s], d, hw->inv_std[d], hp->inv_std[d], ref_m2[d]);
        }
        /* Standardized training rows have mean 0 and variance 1. */
        TRY(graft_head_transform(hw, b.X, n, Z));
        for (size_t d = 0; d < D; d++) {
            double m = 0, v = 0;
            for (size_t i = 0; i < n; i++) m += Z[i * D + d];
            m /= n;
            for (size_t i = 0; i < n; i++) v += (Z[i * D + d] - m) * (Z[i * D + d] - m);
            CHECK(fabs(m) < 1e-3 && fabs(v / n - 1) < 1e-3,
                  "scale 0x%x: feature %zu standardized to mean %g variance %g", scales[s], d, m,
                  v / n);
        }
        graft_learner_scaler_freeze(whole);
        EXPECT_ERR(graft_learner_scaler_update(whole, b.X, 1), GRAFT_EINVAL, "frozen",
                   "update after freeze");
    }
    /* A constant feature is centred, not divided by zero. */
    graft_learn_options o;
    graft_learn_options_init(&o);
    graft_learner *l;
    TRY(graft_learner_create(&o, D, 2, class_names8, &l));
    track_learner(l);
    for (size_t i = 0; i < n; i++) b.X[i * D + 3] = 7.0f;
    TRY(graft_learner_scaler_update(l, b.X, n));
    graft_head *h;
    TRY(graft_learner_head(l, &h));
    track_head(h);
    CHECK(h->mean[3] == 7.0f && h->inv_std[3] == 1.0f, "constant feature: mean %g inv_std %g",
          h->mean[3], h->inv_std[3]);
    PASS();
}

/* ---- incremental training ---------------------------------------------------------------- */

static int models_equal(const graft_head *a, const graft_head *b) {
    return !memcmp(a->W, b->W, (size_t)a->K * a->D * sizeof *a->W) &&
           !memcmp(a->b, b->b, (size_t)a->K * sizeof *a->b);
}

static int check_partial_fit_chunks(char *msg, size_t msglen) {
    const size_t n = 517, D = 13;
    const int K = 3;
    blobs b = make_blobs(n, D, K, 1.0, 21, NULL, 0.5);
    for (size_t i = 0; i < n; i += 37) b.y[i] = -1; /* unlabelled rows are skipped */
    const graft_solver solvers[] = {GRAFT_SOLVER_SGD, GRAFT_SOLVER_ADAGRAD, GRAFT_SOLVER_ADAM};
    for (size_t s = 0; s < 3; s++) {
        graft_learn_options o;
        graft_learn_options_init(&o);
        o.solver = solvers[s];
        o.batch_size = 16;
        o.class_weight = GRAFT_CLASS_WEIGHT_BALANCED;
        o.schedule = GRAFT_SCHEDULE_INVERSE;
        graft_learner *one, *many;
        TRY(graft_learner_create(&o, D, K, class_names8, &one));
        track_learner(one);
        TRY(graft_learner_create(&o, D, K, class_names8, &many));
        track_learner(many);
        /* The scaler fitted on every row first, then frozen, as a fit does. */
        TRY(graft_learner_scaler_update(one, b.X, n));
        TRY(graft_learner_scaler_update(many, b.X, n));
        graft_learner_scaler_freeze(one);
        graft_learner_scaler_freeze(many);
        for (int epoch = 0; epoch < 3; epoch++) {
            TRY(graft_learner_partial_fit(one, b.X, b.y, n));
            size_t at = 0, step = 1 + (size_t)epoch;
            while (at < n) {
                size_t m = n - at < step ? n - at : step;
                TRY(graft_learner_partial_fit(many, b.X + at * D, b.y + at, m));
                at += m;
                step = (step * 7 + 3) % 41 + 1;
            }
        }
        TRY(graft_learner_flush(one));
        TRY(graft_learner_flush(many));
        graft_head *h1, *h2;
        TRY(graft_learner_head(one, &h1));
        track_head(h1);
        TRY(graft_learner_head(many, &h2));
        track_head(h2);
        CHECK(models_equal(h1, h2), "%s: partial_fit in chunks differs from one call",
              graft_solver_name(solvers[s]));
        double nonzero = 0;
        for (size_t j = 0; j < (size_t)K * D; j++) nonzero += fabs(h1->W[j]);
        CHECK(nonzero > 0, "%s: the model did not move", graft_solver_name(solvers[s]));
    }
    PASS();
}

/* Many epochs of partial_fit, and the out-of-core fit, against the full-batch optimum. */
static int check_incremental_matches_batch(char *msg, size_t msglen) {
    const size_t n = 600, D = 10;
    const int K = 3;
    blobs b = make_blobs(n, D, K, 0.7, 31, NULL, 2.0);
    graft_row_memory mem;
    graft_row_source src;
    source_of(&src, &mem, &b);
    const graft_loss losses[] = {GRAFT_LOSS_SOFTMAX, GRAFT_LOSS_SQUARED_HINGE};
    char report[256] = "";
    for (int li = 0; li < 2; li++) {
        graft_learn_options o;
        graft_learn_options_init(&o);
        o.loss = losses[li];
        o.C = 0;
        o.lambda = 0.01;
        o.solver = GRAFT_SOLVER_LBFGS;
        o.tol = 1e-5;
        graft_learner *batch;
        TRY(graft_learner_create(&o, D, K, class_names8, &batch));
        track_learner(batch);
        TRY(graft_learner_fit(batch, &src));
        graft_fit_info info;
        graft_learner_fit_info(batch, &info);
        CHECK(info.converged && info.solver == GRAFT_SOLVER_LBFGS,
              "%s: L-BFGS did not converge in %d iterations", graft_loss_name(o.loss),
              info.epochs);
        graft_head *hb;
        TRY(graft_learner_head(batch, &hb));
        track_head(hb);
        double J_opt;
        TRY(graft_learner_objective(batch, b.X, b.y, n, &J_opt, NULL, NULL));

        /* Incremental: the same scaler, 60 epochs of Adam on reshuffled rows, decaying. */
        graft_learn_options oi = o;
        oi.solver = GRAFT_SOLVER_ADAM;
        oi.lr = 0.02;
        oi.batch_size = 20;
        oi.epochs = 60;
        oi.schedule = GRAFT_SCHEDULE_COSINE;
        oi.schedule_steps = oi.epochs * (long)(n / oi.batch_size);
        graft_learner *inc;
        TRY(graft_learner_create(&oi, D, K, class_names8, &inc));
        track_learner(inc);
        TRY(graft_learner_scaler_update(inc, b.X, n));
        graft_learner_scaler_freeze(inc);
        float *Xs = xalloc(n * D * sizeof(float));
        int *ys = xalloc(n * sizeof(int));
        size_t *perm = xalloc(n * sizeof(size_t));
        for (size_t i = 0; i < n; i++) perm[i] = i;
        rng r = {77};
        for (int epoch = 0; epoch < oi.epochs; epoch++) {
            for (size_t i = n; i > 1; i--) {
                size_t j = (size_t)(rng_next(&r) % i), t = perm[i - 1];
                perm[i - 1] = perm[j];
                perm[j] = t;
            }
            for (size_t i = 0; i < n; i++) {
                memcpy(Xs + i * D, b.X + perm[i] * D, D * sizeof(float));
                ys[i] = b.y[perm[i]];
            }
            TRY(graft_learner_partial_fit(inc, Xs, ys, n));
        }
        TRY(graft_learner_flush(inc));
        double J_inc;
        TRY(graft_learner_objective(inc, b.X, b.y, n, &J_inc, NULL, NULL));
        graft_head *hi;
        TRY(graft_learner_head(inc, &hi));
        track_head(hi);
        double diff = 0, norm = 0;
        for (size_t j = 0; j < (size_t)K * D; j++) {
            diff += (hi->W[j] - hb->W[j]) * (double)(hi->W[j] - hb->W[j]);
            norm += (double)hb->W[j] * hb->W[j];
        }
        double rel = sqrt(diff / norm);
        CHECK(J_inc - J_opt <= 2e-3 * J_opt && rel < 0.05,
              "%s: incremental J = %.6g vs batch optimum %.6g, |W_inc - W_batch| / |W_batch| = "
              "%.3g", graft_loss_name(o.loss), J_inc, J_opt, rel);

        /* Out of core (a memory budget of one row) against in memory, same solver and seed:
           the orders differ, the optimum they approach does not. */
        graft_learn_options oo = oi;
        oo.patience = 0;
        oo.schedule_steps = 0;
        graft_learner *mem_fit, *ooc_fit;
        TRY(graft_learner_create(&oo, D, K, class_names8, &mem_fit));
        track_learner(mem_fit);
        oo.memory_bytes = D * sizeof(float);
        oo.shuffle_rows = 100;
        TRY(graft_learner_create(&oo, D, K, class_names8, &ooc_fit));
        track_learner(ooc_fit);
        graft_row_source small_blocks = src;
        small_blocks.block_rows = 37;
        TRY(graft_learner_fit(mem_fit, &src));
        TRY(graft_learner_fit(ooc_fit, &small_blocks));
        double J_mem, J_ooc;
        TRY(graft_learner_objective(mem_fit, b.X, b.y, n, &J_mem, NULL, NULL));
        TRY(graft_learner_objective(ooc_fit, b.X, b.y, n, &J_ooc, NULL, NULL));
        CHECK(J_mem - J_opt <= 2e-3 * J_opt && J_ooc - J_opt <= 2e-3 * J_opt,
              "%s: fit in memory J = %.6g, out of core %.6g, optimum %.6g",
              graft_loss_name(o.loss), J_mem, J_ooc, J_opt);
        size_t len = strlen(report);
        snprintf(report + len, sizeof report - len, "%s%s: J* %.5g inc %.5g mem %.5g ooc %.5g",
                 li ? "; " : "", graft_loss_name(o.loss), J_opt, J_inc, J_mem, J_ooc);
    }
    cleanup_all();
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "%s", report);
}

static int check_deterministic(char *msg, size_t msglen) {
    const size_t n = 400, D = 12;
    const int K = 3;
    blobs b = make_blobs(n, D, K, 0.8, 41, NULL, 0);
    for (size_t i = 0; i < n; i++) b.role[i] = i % 5 == 0 ? GRAFT_ROW_VAL : GRAFT_ROW_TRAIN;
    graft_row_memory mem;
    graft_row_source src;
    source_of(&src, &mem, &b);
    const graft_solver solvers[] = {GRAFT_SOLVER_SGD, GRAFT_SOLVER_ADAM, GRAFT_SOLVER_LBFGS,
                                    GRAFT_SOLVER_DUAL_CD};
    int threads0 = graft_threads_get();
    for (int s = 0; s < 4; s++) {
        graft_learn_options o;
        graft_learn_options_init(&o);
        o.solver = solvers[s];
        o.loss = solvers[s] == GRAFT_SOLVER_DUAL_CD ? GRAFT_LOSS_HINGE : GRAFT_LOSS_SOFTMAX;
        o.seed = 1234;
        o.epochs = 15;
        graft_head *h[3];
        for (int run = 0; run < 3; run++) {
            /* Runs 0 and 1 on one thread and two; run 2 with another seed. */
            TRY(graft_threads_set(run == 1 ? 2 : 1));
            o.seed = run == 2 ? 4321 : 1234;
            graft_learner *l;
            TRY(graft_learner_create(&o, D, K, class_names8, &l));
            track_learner(l);
            TRY(graft_learner_fit(l, &src));
            TRY(graft_learner_head(l, &h[run]));
            track_head(h[run]);
        }
        graft_threads_set(threads0);
        CHECK(models_equal(h[0], h[1]), "%s: one thread and two give different models",
              graft_solver_name(solvers[s]));
        if (solvers[s] != GRAFT_SOLVER_LBFGS)
            CHECK(!models_equal(h[0], h[2]), "%s: the seed changes nothing",
                  graft_solver_name(solvers[s]));
    }
    PASS();
}

/* ---- heads ------------------------------------------------------------------------------- */

static int fit_small_head(graft_head **out, int scale, graft_loss loss) {
    blobs b = make_blobs(200, 6, 3, 1.0, 51, NULL, 1.0);
    graft_row_memory mem;
    graft_row_source src;
    source_of(&src, &mem, &b);
    graft_learn_options o;
    graft_learn_options_init(&o);
    o.scale = scale;
    o.loss = loss;
    const char *names[] = {"ants", "bees, \"wasps\"", "\xc3\xa9t\xc3\xa9"};
    graft_learner *l;
    int err = graft_learner_create(&o, 6, 3, names, &l);
    if (err) return err;
    err = graft_learner_fit(l, &src);
    if (!err) err = graft_learner_head(l, out);
    graft_learner_destroy(l);
    return err;
}

static int heads_identical(const graft_head *a, const graft_head *b) {
    if (a->loss != b->loss || a->scale != b->scale || a->D != b->D || a->K != b->K) return 0;
    for (int k = 0; k < a->K; k++)
        if (strcmp(a->class_names[k], b->class_names[k])) return 0;
    if (strcmp(a->meta, b->meta)) return 0;
    if ((a->mean == NULL) != (b->mean == NULL)) return 0;
    if (a->mean && (memcmp(a->mean, b->mean, a->D * 4) || memcmp(a->inv_std, b->inv_std, a->D * 4)))
        return 0;
    return models_equal(a, b);
}

static int check_head_roundtrip(char *msg, size_t msglen) {
    const int scales[] = {0, GRAFT_SCALE_STANDARDIZE, GRAFT_SCALE_ALL};
    for (int s = 0; s < 3; s++) {
        graft_head *h;
        TRY(fit_small_head(&h, scales[s], s == 2 ? GRAFT_LOSS_CRAMMER_SINGER : GRAFT_LOSS_SOFTMAX));
        track_head(h);
        void *buf;
        size_t len;
        TRY(graft_head_encode(h, &buf, &len));
        track(buf);
        char path[256];
        CHECK(graft_check_write_temp("", 0, path, sizeof path) == 0, "temp file");
        track_file(path);
        TRY(graft_head_save(h, path));
        graft_head *back;
        TRY(graft_head_load(path, &back));
        track_head(back);
        CHECK(heads_identical(h, back), "scale 0x%x: the loaded head differs", scales[s]);
        void *buf2;
        size_t len2;
        TRY(graft_head_encode(back, &buf2, &len2));
        track(buf2);
        CHECK(len == len2 && !memcmp(buf, buf2, len), "scale 0x%x: re-encoding changes bytes",
              scales[s]);
        graft_head *clone;
        TRY(graft_head_clone(h, &clone));
        track_head(clone);
        CHECK(heads_identical(h, clone), "clone differs");
        /* Same scores, bit for bit. */
        blobs t = make_blobs(50, 6, 3, 1.0, 52, NULL, 1.0);
        float *s1 = xalloc(50 * 3 * sizeof(float)), *s2 = xalloc(50 * 3 * sizeof(float));
        TRY(graft_head_predict(h, t.X, 50, s1));
        TRY(graft_head_predict(back, t.X, 50, s2));
        CHECK(!memcmp(s1, s2, 50 * 3 * sizeof(float)), "scores differ after load");
        if (h->loss == GRAFT_LOSS_SOFTMAX) {
            TRY(graft_head_proba(back, t.X, 50, s2));
            for (int i = 0; i < 50; i++) {
                double sum = s2[i * 3] + s2[i * 3 + 1] + s2[i * 3 + 2];
                CHECK(fabs(sum - 1) < 1e-5, "probabilities of row %d sum to %g", i, sum);
            }
        } else {
            EXPECT_ERR(graft_head_proba(back, t.X, 50, s2), GRAFT_EINVAL, "not probabilities",
                       "proba of an SVM");
        }
        TRY(graft_head_set_meta(back, "model=abc tap=embedding"));
        CHECK(!strcmp(back->meta, "model=abc tap=embedding"), "meta");
    }
    PASS();
}

/* Rewrites the trailing CRC of an encoded head after a deliberate edit. */
static void fix_crc(uint8_t *p, size_t len) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len - 4; i++) {
        c ^= p[i];
        for (int j = 0; j < 8; j++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    c ^= 0xFFFFFFFFu;
    p[len - 4] = (uint8_t)c;
    p[len - 3] = (uint8_t)(c >> 8);
    p[len - 2] = (uint8_t)(c >> 16);
    p[len - 1] = (uint8_t)(c >> 24);
}

static int check_head_refuses_bad_files(char *msg, size_t msglen) {
    graft_head *h;
    TRY(fit_small_head(&h, GRAFT_SCALE_STANDARDIZE, GRAFT_LOSS_SOFTMAX));
    track_head(h);
    void *vbuf;
    size_t len;
    TRY(graft_head_encode(h, &vbuf, &len));
    uint8_t *buf = track(vbuf);
    uint8_t *bad = xalloc(len + 16);
    graft_head *out = NULL;
    char what[96];
    /* Every truncation. */
    for (size_t cut = 0; cut < len; cut++) {
        int e = graft_head_decode(buf, cut, &out);
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", cut, len);
        EXPECT_ERR(e, GRAFT_ECORRUPT, cut < 8 ? "magic" : "head file", what);
        CHECK(cut < 36 || strstr(graft_last_error(), "truncated") ||
                  strstr(graft_last_error(), "checksum"),
              "%s: the message does not say so: %s", what, graft_last_error());
    }
    /* Every single flipped bit in a sample of bytes: the checksum or a field check refuses. */
    for (size_t at = 0; at < len; at += 1 + at / 8) {
        memcpy(bad, buf, len);
        bad[at] ^= (uint8_t)(1u << (at % 8));
        snprintf(what, sizeof what, "bit flipped at byte %zu", at);
        EXPECT_ERR(graft_head_decode(bad, len, &out), GRAFT_ECORRUPT, "head file", what);
    }
    /* Trailing bytes. */
    memcpy(bad, buf, len);
    bad[len] = 0;
    EXPECT_ERR(graft_head_decode(bad, len + 1, &out), GRAFT_ECORRUPT, NULL, "a trailing byte");
    /* A version from the future, checksum and all. */
    memcpy(bad, buf, len);
    bad[8] = 2;
    fix_crc(bad, len);
    EXPECT_ERR(graft_head_decode(bad, len, &out), GRAFT_ECORRUPT, "version 2", "version 2");
    /* Wrong magic. */
    memcpy(bad, buf, len);
    memcpy(bad, "GRFTHEAX", 8);
    EXPECT_ERR(graft_head_decode(bad, len, &out), GRAFT_ECORRUPT, "magic", "magic");
    /* A NaN weight behind a valid checksum. */
    memcpy(bad, buf, len);
    uint32_t nan_bits = 0x7fc00000u;
    memcpy(bad + len - 4 - 4 * 3 - 4, &nan_bits, 4); /* the last weight, W[2][5] */
    fix_crc(bad, len);
    EXPECT_ERR(graft_head_decode(bad, len, &out), GRAFT_ECORRUPT, "W[2][5] is not finite", "NaN");
    /* An absurd class count behind a valid checksum. */
    memcpy(bad, buf, len);
    bad[24] = 0xff;
    bad[25] = 0xff;
    bad[26] = 0xff;
    fix_crc(bad, len);
    EXPECT_ERR(graft_head_decode(bad, len, &out), GRAFT_ECORRUPT, "K = ", "huge K");
    /* A name with a zero length. */
    memcpy(bad, buf, len);
    memset(bad + 32, 0, 4);
    fix_crc(bad, len);
    EXPECT_ERR(graft_head_decode(bad, len, &out), GRAFT_ECORRUPT, "name of class 0", "empty name");
    /* Files: missing, and a corrupt one named in the message. */
    EXPECT_ERR(graft_head_load("/nonexistent/head.bin", &out), GRAFT_EIO, "/nonexistent/head.bin",
               "missing file");
    char path[256];
    CHECK(graft_check_write_temp(buf, len / 2, path, sizeof path) == 0, "temp file");
    track_file(path);
    EXPECT_ERR(graft_head_load(path, &out), GRAFT_ECORRUPT, path, "a truncated file");
    EXPECT_ERR(graft_head_save(h, "/nonexistent/dir/head.bin"), GRAFT_EIO, "/nonexistent",
               "unwritable path");
    /* What cannot be written is refused at encoding. */
    h->W[4] = NAN;
    void *tmp;
    size_t tlen;
    EXPECT_ERR(graft_head_encode(h, &tmp, &tlen), GRAFT_EINVAL, "W[0][4]", "NaN at encode");
    h->W[4] = 0;
    const char *names[] = {"a", "b\nc"};
    EXPECT_ERR(graft_head_create(GRAFT_LOSS_SOFTMAX, 0, 3, 2, names, &out), GRAFT_EINVAL,
               "newline", "a name with a newline");
    CHECK(out == NULL, "out written on failure");
    PASS();
}

/* ---- LIBLINEAR parity -------------------------------------------------------------------- */

static int have_liblinear(void) {
    FILE *p = popen("command -v liblinear-train >/dev/null 2>&1 && "
                    "command -v liblinear-predict >/dev/null 2>&1 && echo yes", "r");
    if (!p) return 0;
    char line[16] = "";
    int ok = fgets(line, sizeof line, p) && !strncmp(line, "yes", 3);
    pclose(p);
    return ok;
}

/* Writes rows Z (n, D) and labels in LIBSVM's text format into a new temp file. */
static int write_libsvm(const float *Z, const int *y, size_t n, size_t D, char *path,
                        size_t cap) {
    size_t bytes = n * (D * 24 + 16) + 1;
    char *text = malloc(bytes);
    if (!text) return -1;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        at += (size_t)snprintf(text + at, bytes - at, "%d", y[i]);
        for (size_t d = 0; d < D; d++)
            if (Z[i * D + d] != 0)
                at += (size_t)snprintf(text + at, bytes - at, " %zu:%.9g", d + 1, Z[i * D + d]);
        text[at++] = '\n';
    }
    int r = graft_check_write_temp(text, at, path, cap);
    free(text);
    return r;
}

/* liblinear-train then liblinear-predict; the accuracy in percent, or -1. */
static double liblinear_accuracy(const char *args, const char *train, const char *test,
                                 char *err, size_t errlen) {
    char model[256], pred[256], cmd[1024];
    if (graft_check_write_temp("", 0, model, sizeof model) ||
        graft_check_write_temp("", 0, pred, sizeof pred))
        return -1;
    double acc = -1;
    snprintf(cmd, sizeof cmd, "liblinear-train -q %s %s %s 2>&1", args, train, model);
    FILE *p = popen(cmd, "r");
    char line[512] = "";
    if (p) {
        while (fgets(line, sizeof line, p)) snprintf(err, errlen, "%s", line);
        if (pclose(p) != 0) goto done;
    }
    snprintf(cmd, sizeof cmd, "liblinear-predict %s %s %s 2>&1", test, model, pred);
    if (!(p = popen(cmd, "r"))) goto done;
    while (fgets(line, sizeof line, p)) {
        const char *a = strstr(line, "Accuracy = ");
        if (a) acc = atof(a + 11);
        else snprintf(err, errlen, "%s", line);
    }
    pclose(p);
done:
    unlink(model);
    unlink(pred);
    return acc;
}

static int parity(graft_loss loss, const char *liblinear_args, char *msg, size_t msglen) {
    if (!have_liblinear())
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "liblinear-train not installed "
                               "(Debian liblinear-tools)");
    const size_t n = 10000, D = 24;
    const int K = 5;
    blobs train = make_blobs(n, D, K, 0.6, 0x5100, NULL, 3.0);
    blobs test = make_blobs(n, D, K, 0.6, 0x5101, NULL, 3.0);
    graft_row_memory mem;
    graft_row_source src;
    source_of(&src, &mem, &train);
    graft_learn_options o;
    graft_learn_options_init(&o);
    o.loss = loss;
    o.C = 1;
    o.tol = 1e-5;
    graft_learner *l;
    TRY(graft_learner_create(&o, D, K, class_names8, &l));
    track_learner(l);
    TRY(graft_learner_fit(l, &src));
    graft_head *h;
    TRY(graft_learner_head(l, &h));
    track_head(h);
    double ours = 100 * head_accuracy(h, &test, NULL);
    /* LIBLINEAR gets the very codes graft trained on: the head's standardized rows. */
    float *Z = xalloc(n * D * sizeof(float));
    char train_path[256], test_path[256];
    TRY(graft_head_transform(h, train.X, n, Z));
    CHECK(write_libsvm(Z, train.y, n, D, train_path, sizeof train_path) == 0, "temp file");
    track_file(train_path);
    TRY(graft_head_transform(h, test.X, n, Z));
    CHECK(write_libsvm(Z, test.y, n, D, test_path, sizeof test_path) == 0, "temp file");
    track_file(test_path);
    char args[64], err[512] = "";
    snprintf(args, sizeof args, "%s -c 1 -B 1", liblinear_args);
    double theirs = liblinear_accuracy(args, train_path, test_path, err, sizeof err);
    CHECK(theirs >= 0, "liblinear %s failed: %s", args, err);
    CHECK(fabs(ours - theirs) <= 0.5, "%s: graft %.2f%%, liblinear-train %s %.2f%%",
          graft_loss_name(loss), ours, args, theirs);
    CHECK(ours > 100.0 / K + 20, "accuracy %.2f%% is barely above chance", ours);
    cleanup_all();
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "%s: graft %.2f%%, liblinear %s "
                           "%.2f%%", graft_loss_name(loss), ours, liblinear_args, theirs);
}

static int check_liblinear_s2(char *msg, size_t msglen) {
    return parity(GRAFT_LOSS_SQUARED_HINGE, "-s 2", msg, msglen);
}
static int check_liblinear_s0(char *msg, size_t msglen) {
    return parity(GRAFT_LOSS_SOFTMAX, "-s 0", msg, msglen);
}

/* ---- more behaviour ---------------------------------------------------------------------- */

static int check_balanced_weights(char *msg, size_t msglen) {
    const size_t n = 2000, D = 8;
    const double share[2] = {0.93, 0.07};
    const double even[2] = {0.5, 0.5};
    blobs train = make_blobs(n, D, 2, 0.35, 0x6100, share, 0);
    blobs test = make_blobs(n, D, 2, 0.35, 0x6101, even, 0);
    graft_row_memory mem;
    graft_row_source src;
    source_of(&src, &mem, &train);
    char report[256] = "";
    const graft_loss losses[] = {GRAFT_LOSS_SOFTMAX, GRAFT_LOSS_SQUARED_HINGE, GRAFT_LOSS_HINGE};
    for (int li = 0; li < 3; li++) {
        double bal[2];
        for (int w = 0; w < 2; w++) {
            graft_learn_options o;
            graft_learn_options_init(&o);
            o.loss = losses[li];
            o.class_weight = w ? GRAFT_CLASS_WEIGHT_BALANCED : GRAFT_CLASS_WEIGHT_NONE;
            graft_learner *l;
            TRY(graft_learner_create(&o, D, 2, class_names8, &l));
            track_learner(l);
            TRY(graft_learner_fit(l, &src));
            graft_head *h;
            TRY(graft_learner_head(l, &h));
            track_head(h);
            head_accuracy(h, &test, &bal[w]);
        }
        CHECK(bal[1] > bal[0] + 0.02, "%s: balanced accuracy %.4f unweighted, %.4f balanced",
              graft_loss_name(losses[li]), bal[0], bal[1]);
        size_t len = strlen(report);
        snprintf(report + len, sizeof report - len, "%s%s %.3f -> %.3f", li ? ", " : "",
                 graft_loss_name(losses[li]), bal[0], bal[1]);
    }
    cleanup_all();
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "balanced accuracy: %s", report);
}

/*
 * Every loss with every solver it takes learns: each within 4 points of the best combination
 * on a test set, the fit info telling what ran on which rows.
 */
static int check_every_solver_learns(char *msg, size_t msglen) {
    const size_t n = 800, D = 16;
    const int K = 4;
    blobs train = make_blobs(n, D, K, 0.6, 0x7100, NULL, 1.0);
    blobs test = make_blobs(n, D, K, 0.6, 0x7101, NULL, 1.0);
    for (size_t i = 0; i < n; i++) train.role[i] = i % 5 == 0 ? GRAFT_ROW_VAL : GRAFT_ROW_TRAIN;
    graft_row_memory mem;
    graft_row_source src;
    source_of(&src, &mem, &train);
    double acc[GRAFT_LOSS_COUNT][GRAFT_SOLVER_COUNT], best = 0;
    char report[600] = "";
    for (int loss = 0; loss < GRAFT_LOSS_COUNT; loss++)
        for (int solver = 1; solver < GRAFT_SOLVER_COUNT; solver++) {
            acc[loss][solver] = -1;
            graft_learn_options o;
            graft_learn_options_init(&o);
            o.loss = (graft_loss)loss;
            o.solver = (graft_solver)solver;
            graft_learner *l;
            int e = graft_learner_create(&o, D, K, class_names8, &l);
            int refused = (solver == GRAFT_SOLVER_LBFGS && (loss == GRAFT_LOSS_HINGE ||
                                                           loss == GRAFT_LOSS_CRAMMER_SINGER)) ||
                          (solver == GRAFT_SOLVER_DUAL_CD && loss == GRAFT_LOSS_SOFTMAX);
            if (refused) {
                EXPECT_ERR(e, GRAFT_EINVAL, graft_solver_name((graft_solver)solver),
                           "a solver the loss cannot take");
                continue;
            }
            TRY(e);
            track_learner(l);
            TRY(graft_learner_fit(l, &src));
            graft_fit_info info;
            graft_learner_fit_info(l, &info);
            CHECK(info.solver == (graft_solver)solver && info.val_rows == n / 5 &&
                      info.train_rows == n - n / 5 && info.val_accuracy > 0.5,
                  "%s/%s: fit info solver %s, rows %zu + %zu, val accuracy %g",
                  graft_loss_name(o.loss), graft_solver_name(o.solver),
                  graft_solver_name(info.solver), info.train_rows, info.val_rows,
                  info.val_accuracy);
            graft_head *h;
            TRY(graft_learner_head(l, &h));
            track_head(h);
            acc[loss][solver] = head_accuracy(h, &test, NULL);
            best = fmax(best, acc[loss][solver]);
            size_t len = strlen(report);
            snprintf(report + len, sizeof report - len, "%s%s/%s %.3f", len ? ", " : "",
                     graft_loss_name(o.loss), graft_solver_name(o.solver), acc[loss][solver]);
        }
    for (int loss = 0; loss < GRAFT_LOSS_COUNT; loss++)
        for (int solver = 1; solver < GRAFT_SOLVER_COUNT; solver++)
            CHECK(acc[loss][solver] < 0 || acc[loss][solver] >= best - 0.04,
                  "%s/%s reaches %.3f, the best %.3f: %s", graft_loss_name((graft_loss)loss),
                  graft_solver_name((graft_solver)solver), acc[loss][solver], best, report);
    cleanup_all();
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "test accuracy: %s", report);
}

typedef struct stop_ctx {
    int calls, stop_at;
    double last_acc;
} stop_ctx;

static int stop_after(void *ctx, const graft_learn_progress *p) {
    stop_ctx *s = ctx;
    s->calls++;
    s->last_acc = p->val_accuracy;
    return p->epoch >= s->stop_at;
}

static int check_progress_and_holdout(char *msg, size_t msglen) {
    const size_t n = 1000, D = 10;
    blobs b = make_blobs(n, D, 3, 0.7, 0x8100, NULL, 0);
    graft_row_memory mem;
    graft_row_source src;
    source_of(&src, &mem, &b);
    for (int solver = GRAFT_SOLVER_ADAM; solver <= GRAFT_SOLVER_LBFGS; solver++) {
        graft_learn_options o;
        graft_learn_options_init(&o);
        o.solver = (graft_solver)solver;
        o.val_fraction = 0.25;
        o.patience = 0;
        stop_ctx ctx = {0, 3, NAN};
        o.progress = stop_after;
        o.progress_ctx = &ctx;
        graft_learner *l;
        TRY(graft_learner_create(&o, D, 3, class_names8, &l));
        track_learner(l);
        TRY(graft_learner_fit(l, &src));
        graft_fit_info info;
        graft_learner_fit_info(l, &info);
        CHECK(ctx.calls == 3 && info.epochs == 3, "%s: stopped after %d calls, %d epochs",
              graft_solver_name(o.solver), ctx.calls, info.epochs);
        CHECK(info.val_rows > 200 && info.val_rows < 300 && info.train_rows + info.val_rows == n,
              "val_fraction 0.25 held out %zu of %zu rows", info.val_rows, n);
        CHECK(ctx.last_acc > 0.4, "validation accuracy %g reported", ctx.last_acc);
    }
    /* Roles: SKIP rows and unlabelled rows take no part. */
    for (size_t i = 0; i < n; i++) b.role[i] = i % 10 == 0 ? GRAFT_ROW_SKIP : GRAFT_ROW_TRAIN;
    for (size_t i = 5; i < n; i += 10) b.y[i] = -1;
    graft_learn_options o;
    graft_learn_options_init(&o);
    graft_learner *l;
    TRY(graft_learner_create(&o, D, 3, class_names8, &l));
    track_learner(l);
    TRY(graft_learner_fit(l, &src));
    graft_fit_info info;
    graft_learner_fit_info(l, &info);
    CHECK(info.train_rows == n - n / 5 && info.val_rows == 0 && isnan(info.val_accuracy),
          "roles: %zu training rows, %zu validation", info.train_rows, info.val_rows);
    PASS();
}

static int check_sweep(char *msg, size_t msglen) {
    const size_t n = 1200, D = 30;
    blobs b = make_blobs(n, D, 3, 0.25, 0x9100, NULL, 0);
    for (size_t i = 0; i < n; i++) b.role[i] = i % 4 == 1 ? GRAFT_ROW_VAL : GRAFT_ROW_TRAIN;
    graft_row_memory mem;
    graft_row_source src;
    source_of(&src, &mem, &b);
    const double C[] = {0.0001, 0.01, 1, 100};
    for (int loss = 0; loss < 2; loss++) {
        graft_learn_options o;
        graft_learn_options_init(&o);
        o.loss = loss ? GRAFT_LOSS_SQUARED_HINGE : GRAFT_LOSS_SOFTMAX;
        graft_sweep_entry e[4];
        int best;
        graft_head *h;
        TRY(graft_learn_sweep(&o, D, 3, class_names8, &src, C, 4, 0, e, &best, &h));
        track_head(h);
        for (int i = 0; i < 4; i++) {
            CHECK(e[i].strength == C[i] && fabs(e[i].lambda * C[i] * (n - n / 4) - 1) < 1e-9,
                  "entry %d: strength %g lambda %g", i, e[i].strength, e[i].lambda);
            CHECK(e[best].val_accuracy >= e[i].val_accuracy, "best %d is not the best", best);
        }
        /* The kept head is the winner's: refit at that C alone and compare accuracies. */
        graft_learn_options one = o;
        one.C = C[best];
        graft_learner *l;
        TRY(graft_learner_create(&one, D, 3, class_names8, &l));
        track_learner(l);
        TRY(graft_learner_fit(l, &src));
        graft_fit_info info;
        graft_learner_fit_info(l, &info);
        CHECK(fabs(info.val_accuracy - e[best].val_accuracy) < 0.01,
              "best C = %g: sweep %.4f, alone %.4f", C[best], e[best].val_accuracy,
              info.val_accuracy);
        CHECK(strstr(h->meta, "C=") != NULL, "meta \"%s\"", h->meta);
    }
    /* Without validation rows there is nothing to judge on. */
    for (size_t i = 0; i < n; i++) b.role[i] = GRAFT_ROW_TRAIN;
    graft_learn_options o;
    graft_learn_options_init(&o);
    graft_sweep_entry e[4];
    int best;
    graft_head *h = NULL;
    EXPECT_ERR(graft_learn_sweep(&o, D, 3, class_names8, &src, C, 4, 0, e, &best, &h),
               GRAFT_EINVAL, "validation", "sweep without validation rows");
    const double zero[] = {0};
    EXPECT_ERR(graft_learn_sweep(&o, D, 3, class_names8, &src, zero, 1, 0, e, &best, &h),
               GRAFT_EINVAL, "C (> 0)", "C = 0");
    PASS();
}

static int check_eval(char *msg, size_t msglen) {
    /* 3 classes, 6 rows; predictions 0 0 1 2 1 0 for labels 0 0 1 1 2 2. */
    const float scores[] = {3, 1, 0,  2, 1, 0,  0, 5, 1,  0, 1, 2,  1, 4, 3,  9, 8, 7};
    const int labels[] = {0, 0, 1, 1, 2, 2};
    graft_eval e;
    TRY(graft_eval_scores(scores, labels, 6, 3, &e));
    int ok = e.correct == 3 && e.topk == 3 && e.topk_correct == 6 &&
             fabs(e.accuracy - 0.5) < 1e-12 && e.confusion[0 * 3 + 0] == 2 &&
             e.confusion[1 * 3 + 1] == 1 && e.confusion[1 * 3 + 2] == 1 &&
             e.confusion[2 * 3 + 1] == 1 && e.confusion[2 * 3 + 0] == 1 &&
             fabs(e.precision[0] - 2.0 / 3) < 1e-12 && fabs(e.recall[0] - 1) < 1e-12 &&
             fabs(e.precision[1] - 0.5) < 1e-12 && fabs(e.recall[1] - 0.5) < 1e-12 &&
             e.precision[2] == 0 && e.recall[2] == 0 && e.f1[2] == 0 &&
             fabs(e.f1[0] - 0.8) < 1e-12 && fabs(e.balanced_accuracy - 0.5) < 1e-12;
    if (!ok) {
        char what[256];
        snprintf(what, sizeof what, "metrics: correct %zu top-%d %zu accuracy %g P %g %g %g "
                 "R %g %g %g", e.correct, e.topk, e.topk_correct, e.accuracy, e.precision[0],
                 e.precision[1], e.precision[2], e.recall[0], e.recall[1], e.recall[2]);
        graft_eval_deinit(&e);
        return FAIL("%s", what);
    }
    /* Top-5 of 6 classes, ties to the lower index: row 0's class ranks sixth (out), row 1's
       ties everything and comes last (out), rows 2 and 3 are predicted, row 4's ranks fifth
       (in). */
    const float s6[] = {6, 5, 4, 3, 2, 1,  1, 1, 1, 1, 1, 1,  0, 0, 0, 0, 0, 1,
                        1, 1, 1, 1, 1, 1,  6, 5, 4, 3, 2, 1};
    const int l6[] = {5, 5, 5, 0, 4};
    graft_eval e6;
    TRY(graft_eval_scores(s6, l6, 5, 6, &e6));
    int ok6 = e6.topk == 5 && e6.correct == 2 && e6.topk_correct == 3 &&
              e6.confusion[5 * 6 + 0] == 2 && e6.confusion[0] == 1;
    graft_eval_deinit(&e6);
    CHECK(ok6, "top-5 and ties with K = 6");
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    const char *names[] = {"ants", "bees, \"big\"", "wasps"};
    int err = graft_eval_write_text(&e, names, f);
    if (!err) err = graft_eval_write_confusion_csv(&e, names, f);
    if (!err) err = graft_eval_write_json(&e, names, f);
    fclose(f);
    graft_eval_deinit(&e);
    track(text);
    CHECK(!err, "writing reports: %s", graft_last_error());
    CHECK(strstr(text, "accuracy 50.00% (3/6)") && strstr(text, "top-3 100.00%") &&
              strstr(text, "true\\predicted,ants,\"bees, \"\"big\"\"\",wasps\n") &&
              strstr(text, "ants,2,0,0\n") && strstr(text, "\"bees, \\\"big\\\"\"") &&
              strstr(text, "\"confusion\": [[2, 0, 0], [0, 1, 1], [1, 1, 0]]"),
          "reports:\n%s", text);
    EXPECT_ERR(graft_eval_scores(scores, (const int[]){0, 0, 1, 3, 2, 2}, 6, 3, &e),
               GRAFT_EINVAL, "label 3 of row 3", "a label out of range");
    PASS();
}

static int check_options_refused(char *msg, size_t msglen) {
    graft_learn_options o;
    graft_learner *l = NULL;
#define REFUSE(field_edit, needle)                                                            \
    do {                                                                                      \
        graft_learn_options_init(&o);                                                         \
        field_edit;                                                                           \
        EXPECT_ERR(graft_learner_create(&o, 4, 2, class_names8, &l), GRAFT_EINVAL, needle,    \
                   needle);                                                                   \
    } while (0)
    REFUSE(o.batch_size = 0, "batch_size");
    REFUSE(o.lambda = -1; o.C = 0, "lambda");
    REFUSE(o.C = NAN, "C = nan");
    REFUSE(o.bias = -2, "bias");
    REFUSE(o.momentum = 1, "momentum");
    REFUSE(o.beta2 = 1.5, "beta2");
    REFUSE(o.eps = 0, "eps");
    REFUSE(o.epochs = 0, "epochs");
    REFUSE(o.tol = 0, "tol");
    REFUSE(o.val_fraction = 1, "val_fraction");
    REFUSE(o.loss = GRAFT_LOSS_COUNT, "loss");
    REFUSE(o.scale = 8, "scale");
    REFUSE(o.schedule = GRAFT_SCHEDULE_COUNT, "schedule");
    REFUSE(o.class_weight = GRAFT_CLASS_WEIGHT_GIVEN, "class_weights");
    REFUSE(o.loss = GRAFT_LOSS_HINGE; o.solver = GRAFT_SOLVER_LBFGS, "lbfgs");
    REFUSE(o.solver = GRAFT_SOLVER_DUAL_CD, "dual_cd");
#undef REFUSE
    graft_learn_options_init(&o);
    CHECK(l == NULL, "out written on failure");
    EXPECT_ERR(graft_learner_create(&o, 4, 1, class_names8, &l), GRAFT_EINVAL, "K = 1", "K = 1");
    const float bad_w[2] = {1, -1};
    o.class_weight = GRAFT_CLASS_WEIGHT_GIVEN;
    o.class_weights = bad_w;
    EXPECT_ERR(graft_learner_create(&o, 4, 2, class_names8, &l), GRAFT_EINVAL,
               "class_weights[1]", "a negative class weight");
    /* Run-time refusals. */
    graft_learn_options_init(&o);
    o.solver = GRAFT_SOLVER_LBFGS;
    TRY(graft_learner_create(&o, 4, 2, class_names8, &l));
    track_learner(l);
    const float X[8] = {0};
    const int y[2] = {0, 1}, ybad[2] = {0, 2};
    EXPECT_ERR(graft_learner_partial_fit(l, X, y, 2), GRAFT_EINVAL, "graft_learner_fit",
               "partial_fit with lbfgs");
    graft_row_memory mem = {X, ybad, NULL, 2, 4};
    graft_row_source src;
    graft_row_source_memory(&src, &mem);
    EXPECT_ERR(graft_learner_fit(l, &src), GRAFT_EINVAL, "label 2", "a label out of range");
    mem.dim = 3;
    graft_row_source_memory(&src, &mem);
    EXPECT_ERR(graft_learner_fit(l, &src), GRAFT_EINVAL, "3 floats", "wrong dimension");
    const int none[2] = {-1, -1};
    mem = (graft_row_memory){X, none, NULL, 2, 4};
    graft_row_source_memory(&src, &mem);
    EXPECT_ERR(graft_learner_fit(l, &src), GRAFT_EINVAL, "no labelled training rows",
               "no labelled rows");
    /* Out of core, the full-batch solvers have nothing to work on. */
    graft_learn_options_init(&o);
    o.solver = GRAFT_SOLVER_LBFGS;
    o.memory_bytes = 1;
    graft_learner *l2;
    TRY(graft_learner_create(&o, 4, 2, class_names8, &l2));
    track_learner(l2);
    mem = (graft_row_memory){X, y, NULL, 2, 4};
    graft_row_source_memory(&src, &mem);
    EXPECT_ERR(graft_learner_fit(l2, &src), GRAFT_EINVAL, "memory_bytes", "lbfgs out of core");
    /* Names and parsers. */
    graft_loss loss;
    graft_solver solver;
    graft_schedule sched;
    int scale;
    TRY(graft_loss_parse("svm", &loss));
    CHECK(loss == GRAFT_LOSS_SQUARED_HINGE, "svm parses as %d", loss);
    TRY(graft_solver_parse("dual_cd", &solver));
    TRY(graft_schedule_parse("cosine", &sched));
    TRY(graft_scale_parse("sqrt,std", &scale));
    CHECK(scale == (GRAFT_SCALE_SQRT | GRAFT_SCALE_STANDARDIZE), "scale %d", scale);
    EXPECT_ERR(graft_scale_parse("sqrt,bogus", &scale), GRAFT_EINVAL, "bogus", "bad scale");
    EXPECT_ERR(graft_loss_parse("nope", &loss), GRAFT_EINVAL, "nope", "bad loss");
    CHECK(!strcmp(graft_loss_name(GRAFT_LOSS_CRAMMER_SINGER), "crammer_singer") &&
              !strcmp(graft_solver_name(GRAFT_SOLVER_ADAGRAD), "adagrad") &&
              !strcmp(graft_schedule_name(GRAFT_SCHEDULE_INV_SQRT), "inv_sqrt"),
          "names");
    PASS();
}

/* ---- hymenoptera ------------------------------------------------------------------------- */

#ifndef GRAFT_NO_IO_CHECKS
typedef struct member {
    char *path;
    void *bytes;
    size_t len;
} member;

static int member_cmp(const void *a, const void *b) {
    return strcmp(((const member *)a)->path, ((const member *)b)->path);
}

/*
 * The codes of hymenoptera.tar made as bench/train_codes.c makes them: each image stretched
 * to 224 x 224 (bilinear), (v - 128) / 128, the mobilenet_v1 embedding. Rows in path order;
 * ants = 0, bees = 1; train/ rows TRAIN, val/ rows VAL. Images graft cannot decode are left
 * out (none are since GIF decoding landed: the tar's one GIF is a training row).
 */
static int hymenoptera_codes(char *msg, size_t msglen, blobs *out) {
    const char *root = getenv("GRAFT_SHARED");
    if (!root || !root[0]) root = "../shared";
    char tar[1024], onnx[1024];
    snprintf(tar, sizeof tar, "%s/data/hymenoptera.tar", root);
    snprintf(onnx, sizeof onnx, "%s/models/mobilenet_v1_1.0_224_embedding.onnx", root);
    if (access(tar, R_OK) || access(onnx, R_OK))
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "%s or %s not found: set "
                               "GRAFT_SHARED to the shared data directory", tar, onnx);
    struct archive *ar = archive_read_new();
    archive_read_support_format_all(ar);
    if (archive_read_open_filename(ar, tar, 1 << 16) != ARCHIVE_OK) {
        int r = FAIL("%s: %s", tar, archive_error_string(ar));
        archive_read_free(ar);
        return r;
    }
    member *m = xalloc(1024 * sizeof *m);
    size_t count = 0;
    struct archive_entry *entry;
    while (archive_read_next_header(ar, &entry) == ARCHIVE_OK && count < 1024) {
        const char *p = archive_entry_pathname(entry);
        if (archive_entry_filetype(entry) != AE_IFREG || (!strstr(p, "/train/") &&
                                                           !strstr(p, "/val/")))
            continue;
        size_t len = (size_t)archive_entry_size(entry);
        m[count].path = track(strdup(p));
        m[count].bytes = xalloc(len);
        m[count].len = len;
        if (archive_read_data(ar, m[count].bytes, len) != (la_ssize_t)len) {
            archive_read_free(ar);
            return FAIL("%s: short read of %s", tar, p);
        }
        count++;
    }
    archive_read_free(ar);
    qsort(m, count, sizeof *m, member_cmp);
    graft_model *model;
    TRY(graft_model_load(onnx, NULL, &model));
    const int batch = 16, side = 224;
    graft_net *net;
    int err = graft_net_create(model, batch, side, side, NULL, 0, NULL, &net);
    if (err) {
        graft_model_destroy(model);
        TRY(err);
    }
    const size_t D = 1024, pixels = (size_t)side * side * 3;
    float *in = xalloc(batch * pixels * sizeof(float));
    blobs b = {0, D, 2, xalloc(count * D * sizeof(float)), xalloc(count * sizeof(int)),
               xalloc(count)};
    const float mean[3] = {128.0f / 255, 128.0f / 255, 128.0f / 255};
    size_t i = 0;
    while (i < count && !err) {
        int filled = 0;
        size_t rows_before = b.n;
        while (filled < batch && i < count) {
            member *mm = &m[i++];
            graft_image img = {0}, small = {0};
            if (graft_image_decode(mm->bytes, mm->len, NULL, &img)) continue;
            err = graft_image_resize(&small, &img, side, side, GRAFT_RESAMPLE_BILINEAR);
            if (!err) err = graft_image_to_float(&small, mean, mean, GRAFT_IMAGE_LAYOUT_HWC,
                                                 in + (size_t)filled * pixels);
            graft_image_free(&img);
            graft_image_free(&small);
            if (err) break;
            b.y[b.n] = strstr(mm->path, "/bees/") ? 1 : 0;
            b.role[b.n] = strstr(mm->path, "/val/") ? GRAFT_ROW_VAL : GRAFT_ROW_TRAIN;
            b.n++;
            filled++;
        }
        if (err || !filled) break;
        const float *code;
        int rank;
        int64_t dims[GRAFT_MODEL_MAX_RANK];
        err = graft_net_run(net, in, GRAFT_LAYOUT_NHWC);
        if (!err) err = graft_net_tap(net, 0, &code, &rank, dims);
        if (!err && (rank != 2 || dims[1] != (int64_t)D)) {
            graft_net_destroy(net);
            graft_model_destroy(model);
            return FAIL("the embedding tap has rank %d, %lld features", rank, (long long)dims[1]);
        }
        if (!err) memcpy(b.X + rows_before * D, code, (size_t)filled * D * sizeof(float));
    }
    graft_net_destroy(net);
    graft_model_destroy(model);
    TRY(err);
    *out = b;
    return GRAFT_CHECK_PASS;
}
#endif

static int check_hymenoptera(char *msg, size_t msglen) {
#ifdef GRAFT_NO_IO_CHECKS
    return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "host builds only (reads the tar "
                           "with libarchive)");
#else
    blobs b = {0};
    int st = hymenoptera_codes(msg, msglen, &b);
    if (st != GRAFT_CHECK_PASS) {
        cleanup_all();
        return st;
    }
    size_t n_val = 0;
    for (size_t i = 0; i < b.n; i++) n_val += b.role[i] == GRAFT_ROW_VAL;
    CHECK(b.n - n_val >= 240 && n_val == 153, "%zu training and %zu validation images",
          b.n - n_val, n_val);
    graft_row_memory mem;
    graft_row_source src;
    source_of(&src, &mem, &b);
    const char *names[] = {"ants", "bees"};
    graft_learn_options o;
    graft_learn_options_init(&o);
    graft_learner *l;
    TRY(graft_learner_create(&o, b.D, 2, names, &l));
    track_learner(l);
    TRY(graft_learner_fit(l, &src));
    graft_fit_info info;
    graft_learner_fit_info(l, &info);
    CHECK(info.val_accuracy >= 0.92, "default settings: %.2f%% validation accuracy (< 92%%)",
          100 * info.val_accuracy);
    const double C[] = {0.01, 0.1, 1, 10};
    graft_sweep_entry e[4];
    int best;
    graft_head *h;
    TRY(graft_learn_sweep(&o, b.D, 2, names, &src, C, 4, 0, e, &best, &h));
    track_head(h);
    CHECK(e[best].val_accuracy >= 0.93, "sweep: best %.2f%% at C = %g (< 93%%)",
          100 * e[best].val_accuracy, C[best]);
    /* The head alone reproduces the validation accuracy. */
    blobs val = {0, b.D, 2, xalloc(n_val * b.D * sizeof(float)), xalloc(n_val * sizeof(int)), NULL};
    for (size_t i = 0; i < b.n; i++)
        if (b.role[i] == GRAFT_ROW_VAL) {
            memcpy(val.X + val.n * b.D, b.X + i * b.D, b.D * sizeof(float));
            val.y[val.n++] = b.y[i];
        }
    double acc = head_accuracy(h, &val, NULL);
    CHECK(fabs(acc - e[best].val_accuracy) < 1e-9, "head %.4f vs sweep %.4f", acc,
          e[best].val_accuracy);
    cleanup_all();
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "%zu train / %zu val: default "
                           "%.2f%% (%s, C auto), sweep best %.2f%% at C = %g", b.n - n_val, n_val,
                           100 * info.val_accuracy, graft_solver_name(info.solver),
                           100 * e[best].val_accuracy, C[best]);
#endif
}

const graft_check graft_checks_learn[] = {
    {"learn", "gradient_softmax", check_gradient_softmax},
    {"learn", "gradient_squared_hinge", check_gradient_squared_hinge},
    {"learn", "gradient_hinge", check_gradient_hinge},
    {"learn", "gradient_crammer_singer", check_gradient_crammer_singer},
    {"learn", "scaler_streaming_equals_batch", check_scaler_streaming},
    {"learn", "partial_fit_chunks_equal_one_call", check_partial_fit_chunks},
    {"learn", "incremental_matches_batch", check_incremental_matches_batch},
    {"learn", "deterministic_for_seed_and_threads", check_deterministic},
    {"learn", "head_roundtrip_bit_exact", check_head_roundtrip},
    {"learn", "head_refuses_bad_files", check_head_refuses_bad_files},
    {"learn", "liblinear_parity_s2", check_liblinear_s2},
    {"learn", "liblinear_parity_s0", check_liblinear_s0},
    {"learn", "balanced_weights", check_balanced_weights},
    {"learn", "every_solver_learns", check_every_solver_learns},
    {"learn", "progress_and_holdout", check_progress_and_holdout},
    {"learn", "sweep", check_sweep},
    {"learn", "eval_metrics_and_reports", check_eval},
    {"learn", "options_refused", check_options_refused},
    {"learn", "hymenoptera_accuracy", check_hymenoptera},
    {NULL, NULL, NULL},
};
