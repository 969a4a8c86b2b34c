/*
 * pipeline/train/eval.c: classification metrics of a head on labelled codes (accuracy, top-k,
 * per-class precision / recall / F1, the confusion matrix) and their reports as text, CSV and
 * JSON.
 *
 * The predicted class is the first of the highest scores, so ties resolve the same way
 * everywhere (argmax in learn.c, `graft classify`). Undefined ratios (a class never predicted,
 * or without rows) are reported as 0, as scikit-learn's zero_division=0 does.
 *
 * It does not compute scores itself beyond calling graft_head_predict.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "train.h"

void graft_eval_deinit(graft_eval *e) {
    if (!e) return;
    free(e->precision);
    free(e->recall);
    free(e->f1);
    free(e->support);
    free(e->confusion);
    memset(e, 0, sizeof *e);
}

int graft_eval_scores(const float *scores, const int *labels, size_t n, int K,
                      graft_eval *out) {
    if (!out || ((!scores || !labels) && n)) return graft__fail(GRAFT_EINVAL, "eval: NULL");
    if (K < 2) return graft__fail(GRAFT_EINVAL, "eval: K = %d, at least 2 classes", K);
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= K)
            return graft__fail(GRAFT_EINVAL, "eval: label %d of row %zu is outside 0..%d",
                               labels[i], i, K - 1);
    graft_eval e = {0};
    e.K = K;
    e.rows = n;
    e.topk = K < 5 ? K : 5;
    e.precision = calloc((size_t)K, sizeof *e.precision);
    e.recall = calloc((size_t)K, sizeof *e.recall);
    e.f1 = calloc((size_t)K, sizeof *e.f1);
    e.support = calloc((size_t)K, sizeof *e.support);
    e.confusion = calloc((size_t)K * K, sizeof *e.confusion);
    if (!e.precision || !e.recall || !e.f1 || !e.support || !e.confusion) {
        graft_eval_deinit(&e);
        return graft__fail(GRAFT_ENOMEM, "eval: out of memory for %d classes", K);
    }
    for (size_t i = 0; i < n; i++) {
        const float *s = scores + i * (size_t)K;
        int y = labels[i], pred = 0, above = 0;
        for (int k = 1; k < K; k++)
            if (s[k] > s[pred]) pred = k;
        for (int k = 0; k < K; k++)
            if (s[k] > s[y] || (s[k] == s[y] && k < y)) above++;
        e.confusion[(size_t)y * K + pred]++;
        e.support[y]++;
        if (pred == y) e.correct++;
        if (above < e.topk) e.topk_correct++;
    }
    double recall_sum = 0, f1_sum = 0;
    int recall_classes = 0, f1_classes = 0;
    for (int k = 0; k < K; k++) {
        size_t predicted = 0, tp = e.confusion[(size_t)k * K + k];
        for (int j = 0; j < K; j++) predicted += e.confusion[(size_t)j * K + k];
        e.precision[k] = predicted ? (double)tp / predicted : 0;
        e.recall[k] = e.support[k] ? (double)tp / e.support[k] : 0;
        double pr = e.precision[k] + e.recall[k];
        e.f1[k] = pr > 0 ? 2 * e.precision[k] * e.recall[k] / pr : 0;
        if (e.support[k]) {
            recall_sum += e.recall[k];
            recall_classes++;
        }
        if (e.support[k] || predicted) {
            f1_sum += e.f1[k];
            f1_classes++;
        }
    }
    e.accuracy = n ? (double)e.correct / n : 0;
    e.topk_accuracy = n ? (double)e.topk_correct / n : 0;
    e.balanced_accuracy = recall_classes ? recall_sum / recall_classes : 0;
    e.macro_f1 = f1_classes ? f1_sum / f1_classes : 0;
    *out = e;
    return GRAFT_OK;
}

int graft_eval_head(const graft_head *h, const float *X, const int *labels, size_t n,
                    graft_eval *out) {
    if (!h) return graft__fail(GRAFT_EINVAL, "eval: NULL head");
    float *scores = malloc((n ? n : 1) * (size_t)h->K * sizeof *scores);
    if (!scores) return graft__fail(GRAFT_ENOMEM, "eval: out of memory for %zu scores", n);
    int err = graft_head_predict(h, X, n, scores);
    if (!err) err = graft_eval_scores(scores, labels, n, h->K, out);
    free(scores);
    return err;
}

/* ---- reports ----------------------------------------------------------------------------- */

static const char *class_label(const char *const *names, int k, char *buf, size_t cap) {
    if (names && names[k]) return names[k];
    snprintf(buf, cap, "%d", k);
    return buf;
}

static int finish(FILE *f) {
    if (fflush(f) != 0 || ferror(f)) return graft__fail(GRAFT_EIO, "eval: write failed");
    return GRAFT_OK;
}

int graft_eval_write_text(const graft_eval *e, const char *const *names, FILE *f) {
    if (!e || !f) return graft__fail(GRAFT_EINVAL, "eval: NULL argument");
    char buf[32];
    int width = 5;
    for (int k = 0; k < e->K; k++) {
        int l = (int)strlen(class_label(names, k, buf, sizeof buf));
        if (l > width) width = l;
    }
    fprintf(f, "rows %zu  accuracy %.2f%% (%zu/%zu)  top-%d %.2f%%  balanced accuracy %.2f%%  "
            "macro F1 %.2f%%\n", e->rows, 100 * e->accuracy, e->correct, e->rows, e->topk,
            100 * e->topk_accuracy, 100 * e->balanced_accuracy, 100 * e->macro_f1);
    fprintf(f, "%-*s  precision  recall      f1  support\n", width, "class");
    for (int k = 0; k < e->K; k++)
        fprintf(f, "%-*s  %9.4f  %6.4f  %6.4f  %7zu\n", width, class_label(names, k, buf,
                sizeof buf), e->precision[k], e->recall[k], e->f1[k], e->support[k]);
    fprintf(f, "confusion matrix (rows: true class, columns: predicted)\n%-*s", width, "");
    int cell = 6;
    for (int k = 0; k < e->K; k++) {
        int l = (int)strlen(class_label(names, k, buf, sizeof buf));
        if (l + 1 > cell) cell = l + 1;
    }
    for (int k = 0; k < e->K; k++) fprintf(f, "%*s", cell, class_label(names, k, buf, sizeof buf));
    fputc('\n', f);
    for (int t = 0; t < e->K; t++) {
        fprintf(f, "%-*s", width, class_label(names, t, buf, sizeof buf));
        for (int p = 0; p < e->K; p++) fprintf(f, "%*zu", cell, e->confusion[(size_t)t * e->K + p]);
        fputc('\n', f);
    }
    return finish(f);
}

static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int graft_eval_write_confusion_csv(const graft_eval *e, const char *const *names, FILE *f) {
    if (!e || !f) return graft__fail(GRAFT_EINVAL, "eval: NULL argument");
    char buf[32];
    fputs("true\\predicted", f);
    for (int k = 0; k < e->K; k++) {
        fputc(',', f);
        csv_field(f, class_label(names, k, buf, sizeof buf));
    }
    fputc('\n', f);
    for (int t = 0; t < e->K; t++) {
        csv_field(f, class_label(names, t, buf, sizeof buf));
        for (int p = 0; p < e->K; p++) fprintf(f, ",%zu", e->confusion[(size_t)t * e->K + p]);
        fputc('\n', f);
    }
    return finish(f);
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

int graft_eval_write_json(const graft_eval *e, const char *const *names, FILE *f) {
    if (!e || !f) return graft__fail(GRAFT_EINVAL, "eval: NULL argument");
    char buf[32];
    /* "top5" is the top-min(5, K) accuracy, named as the consumers read it. */
    fprintf(f, "{\"n\": %zu, \"correct\": %zu, \"accuracy\": %.9g, \"top5\": %.9g, "
            "\"top_k\": %d, \"balanced_accuracy\": %.9g, \"macro_f1\": %.9g, "
            "\"classes\": [", e->rows, e->correct, e->accuracy, e->topk_accuracy, e->topk,
            e->balanced_accuracy, e->macro_f1);
    for (int k = 0; k < e->K; k++) {
        fprintf(f, "%s{\"name\": ", k ? ", " : "");
        json_string(f, class_label(names, k, buf, sizeof buf));
        fprintf(f, ", \"precision\": %.9g, \"recall\": %.9g, \"f1\": %.9g, \"support\": %zu}",
                e->precision[k], e->recall[k], e->f1[k], e->support[k]);
    }
    fputs("], \"confusion\": [", f);
    for (int t = 0; t < e->K; t++) {
        fprintf(f, "%s[", t ? ", " : "");
        for (int p = 0; p < e->K; p++)
            fprintf(f, "%s%zu", p ? ", " : "", e->confusion[(size_t)t * e->K + p]);
        fputc(']', f);
    }
    fputs("]}\n", f);
    return finish(f);
}
