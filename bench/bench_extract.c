/*
 * bench/bench_extract.c: end-to-end `graft extract` images/s against the same model's
 * forward-only images/s at the same thread count, in the same process (the target:
 * extract >= 0.9x forward-only, i.e. decode and I/O hidden behind compute).
 *
 * Forward-only runs the net on one batch of fixed pseudo-random inputs, repeated; end to end
 * runs graft_extract_run over the input archive into a fresh cache each repeat, counting from
 * the moment the model is loaded and the cache open (setup_s, reported apart: a one-time cost
 * however large the dataset). Rounds
 * alternate between the two so slow phases of this noisy machine hit both; medians reported.
 * One JSON line per thread count on stdout.
 *
 * usage: bench_extract MODEL INPUT [--preset NAME] [--size N] [--batch N] [--threads 1,2]
 *                      [--rounds N] [--dct-scaling]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "graft/pipeline.h"

static double forward_rate(const char *model_path, const graft_transform *t, int batch,
                           double seconds) {
    graft_model *m = NULL;
    graft_net *net = NULL;
    if (graft_model_load(model_path, NULL, &m) ||
        graft_net_create(m, batch, t->height, t->width, NULL, 0, NULL, &net)) {
        fprintf(stderr, "bench_extract: %s\n", graft_last_error());
        exit(1);
    }
    size_t n = (size_t)batch * (size_t)t->height * (size_t)t->width * 3;
    float *x = malloc(n * sizeof(float));
    uint32_t s = 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) * 0x1.0p-24f * 4 - 2;
    }
    graft_net_run(net, x, GRAFT_LAYOUT_NHWC); /* warm-up: faults, packing, caches */
    int reps = 0;
    double t0 = bench_now_seconds(), el;
    do {
        graft_net_run(net, x, GRAFT_LAYOUT_NHWC);
        reps++;
        el = bench_now_seconds() - t0;
    } while (el < seconds);
    free(x);
    graft_net_destroy(net);
    graft_model_destroy(m);
    return (double)reps * batch / el;
}

static double extract_rate(const char *model_path, const char *input, const graft_transform *t,
                           int batch, double *decode_share, double *setup) {
    char dir[] = "/tmp/graft-bench-extract-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char cache[64];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    const char *inputs[1] = {input};
    graft_extract_options o = {0};
    o.model_path = model_path;
    o.cache_dir = cache;
    o.inputs = inputs;
    o.input_count = 1;
    o.transform = *t;
    o.batch = batch;
    graft_extract_stats st;
    if (graft_extract_run(&o, &st)) {
        fprintf(stderr, "bench_extract: %s\n", graft_last_error());
        exit(1);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "bench_extract: could not remove %s\n", dir);
    /* Steady state: the model's one-time load, hash and packing are not per-image costs. */
    double run = st.elapsed - st.setup_seconds;
    *decode_share = run > 0 ? st.decode_seconds / run : 0;
    *setup = st.setup_seconds;
    return run > 0 ? (double)st.extracted / run : 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL INPUT [--preset NAME] [--size N] [--batch N] "
                        "[--threads 1,2] [--rounds N] [--dct-scaling]\n", argv[0]);
        return 2;
    }
    const char *model = argv[1], *input = argv[2], *preset = "imagenet", *threads = "1,2";
    int size = 224, batch = 32, rounds = 3, dct = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--preset") && i + 1 < argc) preset = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dct-scaling")) dct = 1;
        else if (!strcmp(argv[i], "--quick")) rounds = 1;
        else {
            fprintf(stderr, "bench_extract: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    graft_transform t;
    if (graft_transform_preset(preset, size, &t)) {
        fprintf(stderr, "bench_extract: %s\n", graft_last_error());
        return 2;
    }
    t.dct_scaling = dct;
    graft_isa isa;
    graft_isa_current(&isa);
    char list[64];
    snprintf(list, sizeof list, "%s", threads);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int T = atoi(tok);
        graft_threads_set(T);
        double fwd[16], e2e[16], share[16], setup[16];
        if (rounds > 16) rounds = 16;
        for (int r = 0; r < rounds; r++) {
            e2e[r] = extract_rate(model, input, &t, batch, &share[r], &setup[r]);
            fwd[r] = forward_rate(model, &t, batch, 3.0);
        }
        double f = bench_median(fwd, rounds), e = bench_median(e2e, rounds);
        double d = bench_median(share, rounds), su = bench_median(setup, rounds);
        printf("{\"bench\":\"extract\",\"model\":\"%s\",\"isa\":\"%s\",\"threads\":%d,"
               "\"batch\":%d,\"size\":%d,\"dct_scaling\":%d,\"extract_img_s\":%.1f,"
               "\"forward_img_s\":%.1f,\"ratio\":%.3f,\"decode_cpu_share\":%.2f,\"setup_s\":%.2f,"
               "\"rounds\":%d}\n",
               model, graft_isa_name(isa), T, batch, size, dct, e, f, e / f, d, su, rounds);
        fflush(stdout);
    }
    return 0;
}
