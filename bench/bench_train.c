/*
 * bench/bench_train.c: graft's learners on the hymenoptera codes of the shipped
 * mobilenet_v1 embedding (made by bench/train_codes), against liblinear-train (Debian
 * liblinear-tools) and scikit-learn (bench/train_ref.py), in one run (`make bench-train`).
 *
 * What it reports:
 *   - accuracy: graft with default settings (train on train/, validation accuracy on val/),
 *     and the best of the sweep C = 0.01, 0.1, 1, 10 judged on val/;
 *   - time to LIBLINEAR's accuracy: liblinear-train -s 2 (L2-loss SVM) and -s 0 (logistic)
 *     with -B 1 on the very codes graft trains on (standardized by graft's scaler, written in
 *     LIBSVM's text format), at C = 1 (LIBLINEAR's default) and at graft's automatic C. Its
 *     validation accuracy (correct / total, unrounded) is the target; graft's squared hinge
 *     (dual CD), softmax (L-BFGS) and softmax with Adam are timed from the call of
 *     graft_learner_fit() (the scaler pass included, the rows already in memory) to the first
 *     iteration whose validation accuracy reaches it, on one thread and on the default count
 *     (GRAFT_THREADS, else every core), and to convergence;
 *   - both ways of counting LIBLINEAR's time: the liblinear-train process (reading its text
 *     file included, as a user runs it) against a graft process that maps the .npy codes,
 *     trains and writes its head; and LIBLINEAR's training alone, in memory (scikit-learn's
 *     bundled LIBLINEAR: LinearSVC(dual=False) is -s 2, LogisticRegression(solver=
 *     "liblinear") is -s 0), against graft's in-process time;
 *   - scikit-learn's SGDClassifier, epoch by epoch, to the same targets.
 * Medians of --reps runs. JSON lines on stdout; a markdown summary on stderr. It checks
 * nothing: the tests do (tests/pipeline/check_learn.c).
 *
 * Usage: bench_train DIR [--reps N] [--ref bench/train_ref.py]
 *        bench_train --once DIR OUT.head LOSS C    (the graft process timed against
 *                                                  liblinear-train: map the training
 *                                                  codes, fit, write the head)
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "graft/learn.h"
#include "graft/npy.h"

extern char **environ;

typedef struct codes {
    size_t n, n_train, n_val, D;
    float *X;      /* (n, D): training rows, then validation rows */
    int *y;
    uint8_t *role;
    char *names[64];
    int K;
} codes;

static void die(const char *what) {
    fprintf(stderr, "bench_train: %s: %s\n", what, graft_last_error());
    exit(1);
}

static void load_codes(const char *dir, codes *c) {
    char path[4096];
    graft_npy Xt, yt, Xv, yv;
    snprintf(path, sizeof path, "%s/train_X.npy", dir);
    if (graft_npy_read(path, &Xt)) die(path);
    snprintf(path, sizeof path, "%s/train_y.npy", dir);
    if (graft_npy_read(path, &yt)) die(path);
    snprintf(path, sizeof path, "%s/val_X.npy", dir);
    if (graft_npy_read(path, &Xv)) die(path);
    snprintf(path, sizeof path, "%s/val_y.npy", dir);
    if (graft_npy_read(path, &yv)) die(path);
    c->n_train = Xt.shape[0];
    c->n_val = Xv.shape[0];
    c->D = Xt.shape[1];
    c->n = c->n_train + c->n_val;
    c->X = malloc(c->n * c->D * sizeof *c->X);
    c->y = malloc(c->n * sizeof *c->y);
    c->role = malloc(c->n);
    if (!c->X || !c->y || !c->role) exit(1);
    memcpy(c->X, Xt.data, c->n_train * c->D * sizeof *c->X);
    memcpy(c->X + c->n_train * c->D, Xv.data, c->n_val * c->D * sizeof *c->X);
    c->K = 0;
    for (size_t i = 0; i < c->n; i++) {
        int label = i < c->n_train ? ((uint8_t *)yt.data)[i] : ((uint8_t *)yv.data)[i - c->n_train];
        c->y[i] = label;
        c->role[i] = i < c->n_train ? GRAFT_ROW_TRAIN : GRAFT_ROW_VAL;
        if (label + 1 > c->K) c->K = label + 1;
    }
    graft_npy_free(&Xt);
    graft_npy_free(&yt);
    graft_npy_free(&Xv);
    graft_npy_free(&yv);
    snprintf(path, sizeof path, "%s/classes.txt", dir);
    FILE *f = fopen(path, "r");
    char line[256];
    for (int k = 0; k < c->K; k++) {
        if (f && fgets(line, sizeof line, f)) line[strcspn(line, "\r\n")] = 0;
        else snprintf(line, sizeof line, "class%d", k);
        c->names[k] = strdup(line);
    }
    if (f) fclose(f);
}

static void source_for(const codes *c, graft_row_memory *mem, graft_row_source *src) {
    *mem = (graft_row_memory){c->X, c->y, c->role, c->n, c->D};
    graft_row_source_memory(src, mem);
}

/* ---- the cold graft process ------------------------------------------------------------- */

/*
 * A .npy file written by graft_npy_write (version 1.0, C order), mapped rather than read: the
 * way `graft train` will see the feature cache, whose segments are mapped .npy files. Only
 * the two shapes this bench writes are accepted.
 */
typedef struct mapped_npy {
    const uint8_t *data;
    size_t rows, cols;
} mapped_npy;

static void map_npy(const char *path, const char *descr, mapped_npy *out) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 16) {
        fprintf(stderr, "bench_train: %s: cannot open\n", path);
        exit(1);
    }
    const uint8_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) exit(1);
    size_t hlen = (size_t)p[8] | (size_t)p[9] << 8;
    char header[512];
    snprintf(header, sizeof header, "%.*s", (int)(hlen < 511 ? hlen : 511), (const char *)p + 10);
    out->cols = 1;
    const char *shape = strstr(header, "'shape': (");
    if (p[6] != 1 || !strstr(header, descr) || !shape ||
        sscanf(shape, "'shape': (%zu, %zu)", &out->rows, &out->cols) < 1) {
        fprintf(stderr, "bench_train: %s: not a %s array this bench wrote\n", path, descr);
        exit(1);
    }
    out->data = p + 10 + hlen;
}

typedef struct mapped_source {
    mapped_npy X, y;
} mapped_source;

static int mapped_read(void *ctx, size_t row, size_t count, float *X, int *labels,
                       uint8_t *role) {
    const mapped_source *m = ctx;
    memcpy(X, m->X.data + row * m->X.cols * sizeof(float), count * m->X.cols * sizeof(float));
    for (size_t i = 0; i < count; i++) labels[i] = m->y.data[row + i];
    memset(role, GRAFT_ROW_TRAIN, count);
    return 0;
}

/* Reads the training codes (mapped), fits, writes the head: what liblinear-train does. */
static int run_once(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s --once DIR OUT.head LOSS C\n", argv[0]);
        return 2;
    }
    char path[4096];
    mapped_source m;
    snprintf(path, sizeof path, "%s/train_X.npy", argv[2]);
    map_npy(path, "'<f4'", &m.X);
    snprintf(path, sizeof path, "%s/train_y.npy", argv[2]);
    map_npy(path, "'|u1'", &m.y);
    int K = 0;
    for (size_t i = 0; i < m.y.rows; i++)
        if (m.y.data[i] + 1 > K) K = m.y.data[i] + 1;
    char *names[256];
    for (int k = 0; k < K; k++) {
        names[k] = malloc(16);
        snprintf(names[k], 16, "class%d", k);
    }
    graft_row_source src = {m.X.rows, m.X.cols, 0, mapped_read, &m};
    graft_learn_options o;
    graft_learn_options_init(&o);
    if (graft_loss_parse(argv[4], &o.loss)) die(argv[4]);
    o.C = atof(argv[5]);
    graft_learner *l;
    graft_head *h;
    if (graft_learner_create(&o, m.X.cols, K, (const char *const *)names, &l)) die("learner");
    if (graft_learner_fit(l, &src)) die("fit");
    if (graft_learner_head(l, &h)) die("head");
    if (graft_head_save(h, argv[3])) die(argv[3]);
    return 0;
}

/* ---- processes -------------------------------------------------------------------------- */

/* Runs argv with stdout and stderr to /dev/null; wall seconds, or -1 on failure. */
static double time_process(char *const *argv) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = bench_now_seconds();
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    double t = bench_now_seconds() - t0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

static double median_process(char *const *argv, int reps) {
    double t[64];
    for (int r = 0; r < reps; r++)
        if ((t[r] = time_process(argv)) < 0) return -1;
    return bench_median(t, reps);
}

static void write_libsvm(const char *path, const float *Z, const int *y, size_t n, size_t D) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_train: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%d", y[i]);
        for (size_t d = 0; d < D; d++)
            if (Z[i * D + d] != 0) fprintf(f, " %zu:%.9g", d + 1, Z[i * D + d]);
        fputc('\n', f);
    }
    if (fclose(f) != 0) exit(1);
}

/* liblinear-predict's accuracy (a fraction, from its "(correct/total)") of MODEL on TEST, or
 * -1. The percentage it prints is rounded, and a target must not be. */
static double liblinear_predict(const char *test, const char *model, const char *out) {
    char cmd[3 * 4096 + 64];
    snprintf(cmd, sizeof cmd, "liblinear-predict '%s' '%s' '%s' 2>&1", test, model, out);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512];
    double acc = -1;
    while (fgets(line, sizeof line, p)) {
        const char *a = strstr(line, "Accuracy = ");
        const char *paren = a ? strchr(a, '(') : NULL;
        long correct, total;
        if (paren && sscanf(paren, "(%ld/%ld)", &correct, &total) == 2 && total > 0)
            acc = (double)correct / (double)total;
    }
    pclose(p);
    return acc;
}

/* ---- graft in process ------------------------------------------------------------------- */

typedef struct tta {
    double target;      /* fraction */
    double t0, reached; /* seconds */
    int epoch;
} tta;

static int on_progress(void *ctx, const graft_learn_progress *p) {
    tta *t = ctx;
    if (t->reached < 0 && p->val_accuracy >= t->target - 1e-12) {
        t->reached = bench_now_seconds() - t->t0;
        t->epoch = p->epoch;
        return 1;
    }
    return 0;
}

typedef struct graft_run {
    double tta, tta_epochs, fit, accuracy;
    int reached;
    graft_solver solver;
} graft_run;

/* Time to the target accuracy (stopping there), and a full fit, medians over reps. */
static graft_run time_graft(const codes *c, const graft_learn_options *base, double target,
                            int reps) {
    graft_row_memory mem;
    graft_row_source src;
    source_for(c, &mem, &src);
    double t_tta[64], t_fit[64], epochs[64];
    graft_run out = {0};
    for (int r = 0; r < reps; r++) {
        graft_learn_options o = *base;
        tta t = {target, 0, -1, 0};
        o.progress = on_progress;
        o.progress_ctx = &t;
        graft_learner *l;
        if (graft_learner_create(&o, c->D, c->K, (const char *const *)c->names, &l)) die("create");
        t.t0 = bench_now_seconds();
        if (graft_learner_fit(l, &src)) die("fit");
        if (t.reached >= 0) out.reached++;
        t_tta[r] = t.reached >= 0 ? t.reached : INFINITY;
        epochs[r] = t.epoch;
        graft_learner_destroy(l);

        o = *base;
        if (graft_learner_create(&o, c->D, c->K, (const char *const *)c->names, &l)) die("create");
        double t0 = bench_now_seconds();
        if (graft_learner_fit(l, &src)) die("fit");
        t_fit[r] = bench_now_seconds() - t0;
        graft_fit_info info;
        graft_learner_fit_info(l, &info);
        out.accuracy = info.val_accuracy;
        out.solver = info.solver;
        graft_learner_destroy(l);
    }
    out.tta = bench_median(t_tta, reps);
    out.tta_epochs = bench_median(epochs, reps);
    out.fit = bench_median(t_fit, reps);
    return out;
}

static void print_json_number(const char *key, double v, int last) {
    if (isfinite(v)) printf("\"%s\": %.6g%s", key, v, last ? "" : ", ");
    else printf("\"%s\": null%s", key, last ? "" : ", ");
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "--once")) return run_once(argc, argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [--reps N]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int reps = 7;
    const char *ref_script = "bench/train_ref.py";
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ref") && i + 1 < argc) ref_script = argv[++i];
    }
    if (reps < 1 || reps > 64) reps = 7;
    codes c;
    load_codes(dir, &c);
    fprintf(stderr, "bench_train: %zu training and %zu validation codes of %zu floats, %d classes, "
            "%d threads\n", c.n_train, c.n_val, c.D, c.K, graft_threads_get());
    graft_row_memory mem;
    graft_row_source src;
    source_for(&c, &mem, &src);

    /* ---- accuracy: defaults and the sweep ---- */
    graft_learn_options o;
    graft_learn_options_init(&o);
    graft_learner *l;
    graft_head *head;
    if (graft_learner_create(&o, c.D, c.K, (const char *const *)c.names, &l)) die("create");
    double t0 = bench_now_seconds();
    if (graft_learner_fit(l, &src)) die("fit");
    double t_default = bench_now_seconds() - t0;
    graft_fit_info info;
    graft_learner_fit_info(l, &info);
    if (graft_learner_head(l, &head)) die("head");
    graft_learner_destroy(l);
    double C_auto = 1.0 / (info.lambda * (double)info.train_rows);
    printf("{\"bench\": \"train\", \"case\": \"default\", \"solver\": \"%s\", \"C\": %.6g, "
           "\"val_accuracy\": %.6f, \"iterations\": %d, \"seconds\": %.6f}\n",
           graft_solver_name(info.solver), C_auto, info.val_accuracy, info.epochs, t_default);
    const double sweep_C[] = {0.01, 0.1, 1, 10};
    graft_sweep_entry entries[4];
    int best;
    graft_head *best_head;
    t0 = bench_now_seconds();
    if (graft_learn_sweep(&o, c.D, c.K, (const char *const *)c.names, &src, sweep_C, 4, 0,
                          entries, &best, &best_head))
        die("sweep");
    double t_sweep = bench_now_seconds() - t0;
    printf("{\"bench\": \"train\", \"case\": \"sweep\", \"C\": [0.01, 0.1, 1, 10], "
           "\"val_accuracy\": [%.6f, %.6f, %.6f, %.6f], \"best_C\": %g, \"best_val_accuracy\": "
           "%.6f, \"seconds\": %.6f}\n", entries[0].val_accuracy, entries[1].val_accuracy,
           entries[2].val_accuracy, entries[3].val_accuracy, sweep_C[best],
           entries[best].val_accuracy, t_sweep);
    graft_head_destroy(best_head);
    fflush(stdout);

    /* ---- the same codes for everyone: graft's standardized rows ---- */
    float *Z = malloc(c.n * c.D * sizeof *Z);
    if (!Z || graft_head_transform(head, c.X, c.n, Z)) die("transform");
    float *Zv = Z + c.n_train * c.D;
    int *yv = c.y + c.n_train;
    char train_svm[4096], val_svm[4096], model[4096], pred[4096], path[4096], head_path[4096];
    snprintf(train_svm, sizeof train_svm, "%s/train.svm", dir);
    snprintf(val_svm, sizeof val_svm, "%s/val.svm", dir);
    snprintf(model, sizeof model, "%s/liblinear.model", dir);
    snprintf(pred, sizeof pred, "%s/liblinear.pred", dir);
    snprintf(head_path, sizeof head_path, "%s/graft.head", dir);
    write_libsvm(train_svm, Z, c.y, c.n_train, c.D);
    write_libsvm(val_svm, Zv, yv, c.n_val, c.D);
    size_t shape2[2] = {c.n_train, c.D}, shape1[1] = {c.n_train};
    uint8_t *y8 = malloc(c.n);
    for (size_t i = 0; i < c.n; i++) y8[i] = (uint8_t)c.y[i];
    snprintf(path, sizeof path, "%s/Zt.npy", dir);
    if (graft_npy_write(path, GRAFT_NPY_DTYPE_F32, 2, shape2, Z)) die(path);
    snprintf(path, sizeof path, "%s/yt.npy", dir);
    if (graft_npy_write(path, GRAFT_NPY_DTYPE_U8, 1, shape1, y8)) die(path);
    shape2[0] = shape1[0] = c.n_val;
    snprintf(path, sizeof path, "%s/Zv.npy", dir);
    if (graft_npy_write(path, GRAFT_NPY_DTYPE_F32, 2, shape2, Zv)) die(path);
    snprintf(path, sizeof path, "%s/yv.npy", dir);
    if (graft_npy_write(path, GRAFT_NPY_DTYPE_U8, 1, shape1, y8 + c.n_train)) die(path);

    /* ---- time to LIBLINEAR's accuracy ---- */
    const double Cs[2] = {1.0, C_auto};
    const int threads_default = graft_threads_get();
    typedef struct row {
        double C, ll_acc, ll_process, ll_inproc, g_process;
        const char *sflag;
        graft_loss loss;
        graft_run g1, gn; /* one thread, the default count */
    } row;
    row rows[8];
    int nrows = 0;
    for (int ci = 0; ci < 2; ci++) {
        char Carg[64];
        snprintf(Carg, sizeof Carg, "%.9g", Cs[ci]);
        double target[2] = {-1, -1};
        int first = nrows;
        for (int s = 0; s < 2; s++) {
            const char *sflag = s == 0 ? "2" : "0";
            char *ll_argv[] = {"liblinear-train", "-q", "-s", (char *)sflag, "-c", Carg, "-B",
                               "1", train_svm, model, NULL};
            double t_ll = median_process(ll_argv, reps);
            double acc = t_ll < 0 ? -1 : liblinear_predict(val_svm, model, pred);
            if (t_ll < 0 || acc < 0) {
                fprintf(stderr, "bench_train: liblinear-train -s %s failed (is liblinear-tools "
                        "installed?)\n", sflag);
                return 1;
            }
            target[s] = acc;
            /* graft's counterparts: the same loss family with its default solver (dual CD for
               the squared hinge, L-BFGS for softmax), then softmax with Adam. */
            const graft_loss losses[2][2] = {{GRAFT_LOSS_SQUARED_HINGE, GRAFT_LOSS_SQUARED_HINGE},
                                             {GRAFT_LOSS_SOFTMAX, GRAFT_LOSS_SOFTMAX}};
            const graft_solver solvers[2] = {GRAFT_SOLVER_AUTO, GRAFT_SOLVER_ADAM};
            for (int v = 0; v < 2; v++) {
                row *r = &rows[nrows++];
                graft_learn_options go;
                graft_learn_options_init(&go);
                go.loss = losses[s][v];
                go.solver = solvers[v];
                go.C = Cs[ci];
                graft_threads_set(1);
                r->g1 = time_graft(&c, &go, target[s], reps);
                graft_threads_set(threads_default);
                r->gn = time_graft(&c, &go, target[s], reps);
                char *g_argv[] = {argv[0], "--once", (char *)dir, head_path,
                                  (char *)graft_loss_name(go.loss), Carg, NULL};
                r->g_process = v == 0 ? median_process(g_argv, reps) : NAN;
                r->C = Cs[ci];
                r->sflag = sflag;
                r->ll_acc = acc;
                r->ll_process = t_ll;
                r->ll_inproc = NAN;
                r->loss = go.loss;
            }
        }
        /* scikit-learn on the same codes and targets; its bundled LIBLINEAR gives the training
           time without liblinear-train's text parsing. */
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s '%s' --C %.17g --target-s2 %.17g "
                 "--target-s0 %.17g --reps %d", ref_script, dir, Cs[ci], target[0], target[1],
                 reps);
        FILE *p = popen(cmd, "r");
        if (!p) return 1;
        char line[4096];
        fprintf(stderr, "\nscikit-learn, C = %.4g (targets: -s 2 %.2f%%, -s 0 %.2f%%):\n", Cs[ci],
                100 * target[0], 100 * target[1]);
        while (fgets(line, sizeof line, p)) {
            line[strcspn(line, "\n")] = 0;
            if (line[0] != '{') continue;
            printf("{\"bench\": \"train\", \"case\": \"sklearn\", %s\n", line + 1);
            fflush(stdout);
            const char *fit = strstr(line, "\"fit_seconds\": ");
            double fit_s = fit ? atof(fit + 15) : NAN;
            const char *tt = strstr(line, "\"time_to_target\": ");
            const char *lossf = strstr(line, "\"loss\": \"");
            const char *alpha_from = strstr(line, "\"alpha_from\": \"");
            if (strstr(line, "LinearSVC") || strstr(line, "LogisticRegression")) {
                const char *which = strstr(line, "LinearSVC") ? "2" : "0";
                for (int i = first; i < nrows; i++)
                    if (!strcmp(rows[i].sflag, which)) rows[i].ll_inproc = fit_s;
                fprintf(stderr, "  liblinear -s %s in memory (%s): %.2f ms\n", which,
                        which[0] == '2' ? "LinearSVC(dual=False)" : "LogisticRegression(liblinear)",
                        1e3 * fit_s);
            } else if (lossf && tt && alpha_from) {
                char loss_name[32] = "", from[16] = "";
                sscanf(lossf + 9, "%31[^\"]", loss_name);
                sscanf(alpha_from + 15, "%15[^\"]", from);
                double t = strncmp(tt + 18, "null", 4) ? atof(tt + 18) : NAN;
                const char *fa = strstr(line, "\"fit_accuracy\": ");
                fprintf(stderr, "  SGDClassifier %s, alpha %s: time to target %s%.2f ms; fit() "
                        "%.2f ms, %.2f%%\n", loss_name, !strcmp(from, "C") ? "1/(C n)" :
                        "1e-4 (default)", isfinite(t) ? "" : "not reached in 100 epochs, ",
                        isfinite(t) ? 1e3 * t : 0, 1e3 * fit_s, fa ? 100 * atof(fa + 16) : NAN);
            }
        }
        if (pclose(p) != 0) {
            fprintf(stderr, "bench_train: %s failed\n", cmd);
            return 1;
        }
    }

    fprintf(stderr, "\nTime to LIBLINEAR's validation accuracy (graft in process: from the call "
            "of graft_learner_fit, scaler pass included; %d reps, medians)\n\n| C | liblinear | "
            "its accuracy | liblinear-train process | its training in memory | graft | "
            "to accuracy, 1 thread | %d threads | full fit, 1 thread | graft process | "
            "ratio to process | ratio to training in memory |\n|---|---|---|---|---|---|---|---|"
            "---|---|---|---|\n", reps, threads_default);
    for (int i = 0; i < nrows; i++) {
        row *r = &rows[i];
        char t1[48] = "not reached", tn[48] = "not reached", proc[32] = "-", rp[48], rm[48];
        if (isfinite(r->g1.tta))
            snprintf(t1, sizeof t1, "%.2f ms (%g it)", 1e3 * r->g1.tta, r->g1.tta_epochs);
        if (isfinite(r->gn.tta)) snprintf(tn, sizeof tn, "%.2f ms", 1e3 * r->gn.tta);
        if (isfinite(r->g_process)) snprintf(proc, sizeof proc, "%.1f ms", 1e3 * r->g_process);
        snprintf(rp, sizeof rp, "%.3f / %.3f", r->g1.tta / r->ll_process, r->gn.tta / r->ll_process);
        snprintf(rm, sizeof rm, "%.3f / %.3f", r->g1.tta / r->ll_inproc, r->gn.tta / r->ll_inproc);
        fprintf(stderr, "| %.4g | -s %s | %.2f%% | %.1f ms | %.2f ms | %s %s | %s | %s | %.2f ms "
                "(%.2f%%) | %s | %s | %s |\n", r->C, r->sflag, 100 * r->ll_acc,
                1e3 * r->ll_process, 1e3 * r->ll_inproc, graft_loss_name(r->loss),
                graft_solver_name(r->g1.solver), t1, tn, 1e3 * r->g1.fit, 100 * r->g1.accuracy,
                proc, rp, rm);
        printf("{\"bench\": \"train\", \"case\": \"time_to_liblinear\", \"C\": %.6g, "
               "\"liblinear\": \"-s %s -B 1\", \"liblinear_accuracy\": %.6f, \"graft_loss\": "
               "\"%s\", \"graft_solver\": \"%s\", \"threads\": %d, ", r->C, r->sflag, r->ll_acc,
               graft_loss_name(r->loss), graft_solver_name(r->g1.solver), threads_default);
        print_json_number("liblinear_process_s", r->ll_process, 0);
        print_json_number("liblinear_inmemory_s", r->ll_inproc, 0);
        print_json_number("graft_time_to_accuracy_1t_s", r->g1.tta, 0);
        print_json_number("graft_time_to_accuracy_s", r->gn.tta, 0);
        print_json_number("graft_iterations_to_accuracy", r->g1.tta_epochs, 0);
        print_json_number("graft_fit_1t_s", r->g1.fit, 0);
        print_json_number("graft_fit_s", r->gn.fit, 0);
        print_json_number("graft_fit_accuracy", r->g1.accuracy, 0);
        print_json_number("graft_process_s", r->g_process, 0);
        print_json_number("ratio_tta_1t_vs_liblinear_process", r->g1.tta / r->ll_process, 0);
        print_json_number("ratio_tta_1t_vs_liblinear_inmemory", r->g1.tta / r->ll_inproc, 0);
        print_json_number("ratio_tta_vs_liblinear_inmemory", r->gn.tta / r->ll_inproc, 0);
        print_json_number("ratio_process_vs_process", r->g_process / r->ll_process, 1);
        printf("}\n");
    }
    fprintf(stderr, "\ndefault: %.2f%% validation accuracy (%s, C = %.4g, %.1f ms); sweep best "
            "%.2f%% at C = %g (%.1f ms for 4 strengths)\n", 100 * info.val_accuracy,
            graft_solver_name(info.solver), C_auto, 1e3 * t_default,
            100 * entries[best].val_accuracy, sweep_C[best], 1e3 * t_sweep);
    graft_head_destroy(head);
    free(Z);
    free(y8);
    return 0;
}
