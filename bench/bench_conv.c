/*
 * bench_conv.c: times graft_conv2d_forward against oneDNN's convolution primitive (C API) on
 * every distinct convolution layer of ResNet-50 (torchvision v1.5) and MobileNetV2 (width 1.0)
 * at 224x224, for each batch size and thread count asked for, in one process so both libraries
 * see the same machine state.
 *
 * Each layer gets a bias (the folded batch norm) and the activation the network fuses after it
 * (ResNet: ReLU except on the convolution before each residual add; MobileNetV2: ReLU6 except on
 * the projections). graft packs its weights into a plan once; oneDNN creates its primitive with
 * format_tag_any for src, weights and dst, and its inputs are reordered into the layouts it
 * chose once, outside the timing, so only the primitive's execution is timed, with a user
 * scratchpad allocated once. graft's output is checked against oneDNN's (reordered to NHWC) once
 * per layer, batch and thread count; then the two are timed in alternating blocks and the
 * medians are reported as one JSON line per case on stdout. Per network and batch a "total"
 * line sums each distinct layer's time times the number of times it occurs in the network.
 *
 * Depthwise layers are memory-bound, so their lines also carry the bytes they must move and
 * graft's achieved GB/s next to the machine's streaming bandwidth, which the bench measures once
 * per thread count with a triad loop. At batch 1 a depthwise layer's few MB stay in cache, so
 * its GB/s may exceed that bandwidth; the roofline reading is for batch 32. Everything else
 * (progress, the check) goes to stderr.
 *
 * Not here: choosing oneDNN's ISA (bench/run.sh does it with ONEDNN_MAX_CPU_ISA), layers
 * other than convolutions (pooling, the residual adds, the classifier), or any end-to-end run.
 */
#include <dnnl.h>
#include <dnnl_debug.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BENCH_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#define BENCH_ARM64 1
#endif

#include "bench_common.h"
#include "graft/graft.h"
#include "graft/kernels.h"

/* Exit codes: 1 when a result is wrong or a library call fails, 2 for a bad command line. */
enum { EXIT_WRONG = 1, EXIT_USAGE = 2 };

enum { THREADS_MAX = 256, BATCH_MAX = 8, LAYERS_MAX = 96, NAME_LEN = 96 };

/* How long each side of a case is timed, and how many repetitions it gets at least. */
typedef struct bench_budget {
    double side_seconds; /* per library per case */
    int min_reps;
    double peak_seconds; /* total time of the FMA peak measurement */
    int rounds;          /* alternating blocks per side: noise that lasts seconds hits both */
    int triad_passes;    /* streaming passes per thread count, best one counts */
} bench_budget;

static const bench_budget budget_full = {0.6, 6, 0.3, 6, 10};
static const bench_budget budget_quick = {0.02, 1, 0.1, 1, 3};

/* ---- the layers -------------------------------------------------------------------------- */

/* One distinct convolution of a network: square kernel, 'same'-style pads of kernel / 2. */
typedef struct conv_layer {
    const char *net;
    char name[48]; /* "3x3s2-128-128-56": kernel, stride, C_in, C_out, input size */
    int C_in, C_out, groups, kernel, stride, H;
    graft_act act;
    int count; /* times it occurs in the network */
} conv_layer;

typedef struct layer_list {
    conv_layer layers[LAYERS_MAX];
    int count;
} layer_list;

/* Appends a layer, or counts one more occurrence of an identical one already listed. */
static void layer_add(layer_list *list, const char *net, int C_in, int C_out, int groups,
                      int kernel, int stride, int H, graft_act act)
{
    for (int i = 0; i < list->count; i++) {
        conv_layer *l = &list->layers[i];
        if (strcmp(l->net, net) == 0 && l->C_in == C_in && l->C_out == C_out &&
            l->groups == groups && l->kernel == kernel && l->stride == stride && l->H == H &&
            l->act == act) {
            l->count++;
            return;
        }
    }
    if (list->count == LAYERS_MAX) {
        fprintf(stderr, "bench_conv: more than %d distinct layers\n", LAYERS_MAX);
        exit(EXIT_WRONG);
    }
    conv_layer *l = &list->layers[list->count++];
    *l = (conv_layer){.net = net, .C_in = C_in, .C_out = C_out, .groups = groups,
                      .kernel = kernel, .stride = stride, .H = H, .act = act, .count = 1};
    char stride_part[8] = "";
    if (stride != 1) snprintf(stride_part, sizeof stride_part, "s%d", stride);
    if (groups == C_in && groups == C_out)
        snprintf(l->name, sizeof l->name, "dw%dx%d%s-%d-%d", kernel, kernel, stride_part, C_in,
                 H);
    else
        snprintf(l->name, sizeof l->name, "%dx%d%s-%d-%d-%d", kernel, kernel, stride_part, C_in,
                 C_out, H);
    /* The name is the key users select cases by, so two layers must not share one. */
    for (int i = 0; i < list->count - 1; i++) {
        if (strcmp(list->layers[i].net, net) == 0 && strcmp(list->layers[i].name, l->name) == 0) {
            fprintf(stderr, "bench_conv: two layers named %s-%s\n", net, l->name);
            exit(EXIT_WRONG);
        }
    }
}

/*
 * ResNet-50 v1.5: the stride of a downsampling bottleneck sits on its 3x3. Each bottleneck is
 * 1x1 in->w (ReLU), 3x3/s w->w (ReLU), 1x1 w->4w (no activation: the ReLU follows the residual
 * add), and the first block of a stage has a 1x1/s in->4w projection shortcut (no activation).
 * The 3x3/2 max pool after conv1 takes 112 to 56.
 */
static void resnet50_layers(layer_list *list)
{
    static const char net[] = "resnet50";
    layer_add(list, net, 3, 64, 1, 7, 2, 224, GRAFT_ACT_RELU);
    static const struct { int width, blocks, stride; } stages[] = {
        {64, 3, 1}, {128, 4, 2}, {256, 6, 2}, {512, 3, 2}};
    int in = 64, H = 56;
    for (int s = 0; s < 4; s++) {
        int w = stages[s].width, out = 4 * w;
        for (int b = 0; b < stages[s].blocks; b++) {
            int stride = b == 0 ? stages[s].stride : 1, OH = H / stride;
            layer_add(list, net, in, w, 1, 1, 1, H, GRAFT_ACT_RELU);
            layer_add(list, net, w, w, 1, 3, stride, H, GRAFT_ACT_RELU);
            layer_add(list, net, w, out, 1, 1, 1, OH, GRAFT_ACT_NONE);
            if (b == 0) layer_add(list, net, in, out, 1, 1, stride, H, GRAFT_ACT_NONE);
            in = out;
            H = OH;
        }
    }
}

/*
 * MobileNetV2 (width 1.0), the paper's table: stem 3x3/2 3->32, then (t, c, n, s) inverted
 * residual blocks of expand 1x1 (when t > 1), depthwise 3x3 with the stride on a stage's first
 * block, and project 1x1 without activation; then 1x1 320->1280.
 */
static void mobilenet_v2_layers(layer_list *list)
{
    static const char net[] = "mobilenet_v2";
    layer_add(list, net, 3, 32, 1, 3, 2, 224, GRAFT_ACT_RELU6);
    static const struct { int t, c, n, s; } stages[] = {
        {1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2},  {6, 64, 4, 2},
        {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
    };
    int in = 32, H = 112;
    for (int s = 0; s < 7; s++) {
        for (int b = 0; b < stages[s].n; b++) {
            int stride = b == 0 ? stages[s].s : 1, hidden = in * stages[s].t;
            if (stages[s].t != 1) layer_add(list, net, in, hidden, 1, 1, 1, H, GRAFT_ACT_RELU6);
            layer_add(list, net, hidden, hidden, hidden, 3, stride, H, GRAFT_ACT_RELU6);
            H = (H + 2 * 1 - 3) / stride + 1;
            layer_add(list, net, hidden, stages[s].c, 1, 1, 1, H, GRAFT_ACT_NONE);
            in = stages[s].c;
        }
    }
    layer_add(list, net, 320, 1280, 1, 1, 1, 7, GRAFT_ACT_RELU6);
}

static const char *const net_names[] = {"resnet50", "mobilenet_v2"};
enum { NET_COUNT = 2 };

static int layer_net_index(const conv_layer *l)
{
    return strcmp(l->net, net_names[0]) == 0 ? 0 : 1;
}

static graft_conv2d layer_desc(const conv_layer *l)
{
    int pad = l->kernel / 2;
    return (graft_conv2d){.C_in = l->C_in, .C_out = l->C_out, .groups = l->groups,
                          .kernel_h = l->kernel, .kernel_w = l->kernel, .stride_h = l->stride,
                          .stride_w = l->stride, .dilation_h = 1, .dilation_w = 1,
                          .pad_top = pad, .pad_left = pad, .pad_bottom = pad, .pad_right = pad,
                          .act = l->act};
}

static int layer_out_size(const conv_layer *l)
{
    return (l->H + 2 * (l->kernel / 2) - l->kernel) / l->stride + 1;
}

static int layer_is_depthwise(const conv_layer *l)
{
    return l->groups > 1 && l->groups == l->C_in && l->groups == l->C_out;
}

static const char *act_name(graft_act act)
{
    return act == GRAFT_ACT_RELU ? "relu" : act == GRAFT_ACT_RELU6 ? "relu6" : "none";
}


/* ---- buffers ----------------------------------------------------------------------------- */

enum { HUGE_BYTES = 2u << 20 };

/*
 * Buffers of 2 MB or more are 2 MB-aligned and asked for transparent huge pages, as graft's
 * network arena is (pipeline/net/net.c): with 4 KB pages the batch-32 layers' timings drifted
 * with what the process had allocated before (a full MobileNetV2 run measured both libraries
 * 5-10% slower, some graft layers 40%, than the same layers alone). oneDNN's reordered copies
 * come from here too, so both libraries run on the same kind of memory.
 */
static float *alloc_floats(size_t count)
{
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    size_t align = bytes >= HUGE_BYTES ? HUGE_BYTES : 64;
    bytes = (bytes + align - 1) / align * align;
    float *p = aligned_alloc(align, bytes ? bytes : 64);
    if (p && align == HUGE_BYTES) madvise(p, bytes, MADV_HUGEPAGE);
    if (!p) {
        fprintf(stderr, "bench_conv: out of memory allocating %zu bytes\n", bytes);
        exit(EXIT_WRONG);
    }
    return p;
}

/* xorshift64*: fixed seeds give the same tensors on every run and machine; values in
 * [-scale, scale). */
static void fill_uniform(float *x, size_t count, uint64_t seed, float scale)
{
    uint64_t s = seed;
    for (size_t i = 0; i < count; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        uint32_t bits = (uint32_t)((s * 0x2545F4914F6CDD1DULL) >> 40); /* 24 random bits */
        x[i] = ((float)bits * (2.0f / 16777216.0f) - 1.0f) * scale;
    }
}

/* ---- memory bandwidth -------------------------------------------------------------------- */

/* Each triad array: far beyond any last-level cache this bench will meet. */
#define TRIAD_FLOATS (24L << 20)

/*
 * GB/s of a STREAM-style triad a = b + s * c with `threads` OpenMP threads, the best of
 * `passes`. Bytes are counted as STREAM does, 12 per element (the write-allocate read of `a`
 * is not counted), which is also how the depthwise lines count their bytes: each tensor once.
 */
static double triad_measure(float *a, const float *b, const float *c, int threads, int passes)
{
    double best = 0.0;
    for (int p = 0; p < passes; p++) {
        double t0 = bench_now_seconds();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long i = 0; i < TRIAD_FLOATS; i++) a[i] = b[i] + 3.0f * c[i];
        double rate = 3.0 * sizeof(float) * (double)TRIAD_FLOATS / (bench_now_seconds() - t0) * 1e-9;
        if (rate > best) best = rate;
    }
    return best;
}

/* Measures the triad for every thread count; mem_gbps[i] belongs to threads[i]. */
static void bandwidth_measure(const int *threads, int thread_count, int passes, double *mem_gbps)
{
    float *a = alloc_floats(TRIAD_FLOATS), *b = alloc_floats(TRIAD_FLOATS);
    float *c = alloc_floats(TRIAD_FLOATS);
    /* First touch in the same static split the measurement uses. */
    int most = 1;
    for (int i = 0; i < thread_count; i++)
        if (threads[i] > most) most = threads[i];
#pragma omp parallel for num_threads(most) schedule(static)
    for (long i = 0; i < TRIAD_FLOATS; i++) {
        a[i] = 0.0f;
        b[i] = 1.0f;
        c[i] = 2.0f;
    }
    for (int i = 0; i < thread_count; i++)
        mem_gbps[i] = triad_measure(a, b, c, threads[i], passes);
    free(a);
    free(b);
    free(c);
}

/* ---- oneDNN ------------------------------------------------------------------------------ */

#define DNNL_CHECK(call)                                                                       \
    do {                                                                                       \
        dnnl_status_t status_ = (call);                                                        \
        if (status_ != dnnl_success) {                                                         \
            fprintf(stderr, "bench_conv: %s failed: %s (%s:%d)\n", #call,                      \
                    dnnl_status2str(status_), __FILE__, __LINE__);                             \
            exit(EXIT_WRONG);                                                                  \
        }                                                                                      \
    } while (0)

static dnnl_engine_t ref_engine;
static dnnl_stream_t ref_stream;

/* One layer's oneDNN convolution, with its operands in the layouts the primitive chose. */
typedef struct ref_conv {
    dnnl_primitive_t conv;
    dnnl_memory_t src, weights, bias, dst, scratchpad;
    dnnl_memory_t dst_user;        /* (N, OH, OW, C_out) over the bench's y_ref buffer */
    dnnl_primitive_t dst_reorder;  /* dst -> dst_user, or NULL when dst already is NHWC */
    const char *impl;              /* owned by the primitive descriptor */
    dnnl_primitive_desc_t pd;
    float *owned[3];               /* bench-allocated buffers behind src, weights and dst */
} ref_conv;

/* Runs src -> dst through a reorder primitive, once. */
static void reorder_run(dnnl_memory_t from, dnnl_memory_t to)
{
    const dnnl_memory_desc_t *from_md, *to_md;
    DNNL_CHECK(dnnl_memory_get_memory_desc(from, &from_md));
    DNNL_CHECK(dnnl_memory_get_memory_desc(to, &to_md));
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    DNNL_CHECK(dnnl_reorder_primitive_desc_create(&pd, from_md, ref_engine, to_md, ref_engine,
                                                  NULL));
    DNNL_CHECK(dnnl_primitive_create(&prim, pd));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DNNL_CHECK(dnnl_primitive_execute(prim, ref_stream, 2, args));
    DNNL_CHECK(dnnl_stream_wait(ref_stream));
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
}

/*
 * A memory object in the layout `want` holding the user's data from `user_md` over `data`:
 * the user's buffer itself when the layouts agree, else a copy reordered once into *owned (the
 * caller frees it after the memory object).
 */
static dnnl_memory_t ref_memory_from_user(const dnnl_memory_desc_t *user_md, float *data,
                                          const dnnl_memory_desc_t *want, float **owned)
{
    dnnl_memory_t user, mem;
    *owned = NULL;
    DNNL_CHECK(dnnl_memory_create(&user, user_md, ref_engine, data));
    if (dnnl_memory_desc_equal(user_md, want)) return user;
    *owned = alloc_floats(dnnl_memory_desc_get_size(want) / sizeof(float));
    DNNL_CHECK(dnnl_memory_create(&mem, want, ref_engine, *owned));
    reorder_run(user, mem);
    dnnl_memory_destroy(user);
    return mem;
}

/*
 * Creates the primitive for `l` at batch N with the current OpenMP thread count (oneDNN sizes
 * its blocking for it at creation), over the bench's x (N, H, W, C_in), w (C_out, C_in / groups,
 * k, k), bias (C_out) and y_ref (N, OH, OW, C_out), which stay owned by the caller.
 */
static void ref_conv_create(ref_conv *r, const conv_layer *l, int N, float *x, float *w,
                            float *bias, float *y_ref)
{
    int OH = layer_out_size(l), G = l->groups;
    int pad = l->kernel / 2;
    dnnl_dims_t src_dims = {N, l->C_in, l->H, l->H};
    dnnl_dims_t dst_dims = {N, l->C_out, OH, OH};
    dnnl_dims_t bias_dims = {l->C_out};
    dnnl_dims_t w_dims = {l->C_out, l->C_in, l->kernel, l->kernel};
    dnnl_dims_t gw_dims = {G, l->C_out / G, l->C_in / G, l->kernel, l->kernel};
    dnnl_dims_t strides = {l->stride, l->stride}, pads = {pad, pad};

    dnnl_memory_desc_t src_any, w_any, dst_any, bias_md, src_user, w_user, dst_user;
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&src_any, 4, src_dims, dnnl_f32, dnnl_format_tag_any));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&dst_any, 4, dst_dims, dnnl_f32, dnnl_format_tag_any));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_x));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&src_user, 4, src_dims, dnnl_f32, dnnl_nhwc));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&dst_user, 4, dst_dims, dnnl_f32, dnnl_nhwc));
    if (G == 1) {
        DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_any, 4, w_dims, dnnl_f32,
                                                dnnl_format_tag_any));
        DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_user, 4, w_dims, dnnl_f32, dnnl_oihw));
    } else {
        /* Grouped weights are (G, O/G, I/G, KH, KW): the same bytes as OIHW. */
        DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_any, 5, gw_dims, dnnl_f32,
                                                dnnl_format_tag_any));
        DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_user, 5, gw_dims, dnnl_f32, dnnl_goihw));
    }

    /* "auto" lets oneDNN pick Winograd where its heuristics think it pays. */
    dnnl_convolution_desc_t desc;
    DNNL_CHECK(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference,
                                                  dnnl_convolution_auto, &src_any, &w_any,
                                                  &bias_md, &dst_any, strides, pads, pads));
    dnnl_primitive_attr_t attr;
    DNNL_CHECK(dnnl_primitive_attr_create(&attr));
    DNNL_CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    if (l->act != GRAFT_ACT_NONE) {
        dnnl_post_ops_t ops;
        DNNL_CHECK(dnnl_post_ops_create(&ops));
        if (l->act == GRAFT_ACT_RELU)
            DNNL_CHECK(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        else
            DNNL_CHECK(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_bounded_relu, 6.0f,
                                                    0.0f));
        DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, ops));
        dnnl_post_ops_destroy(ops);
    }
    DNNL_CHECK(dnnl_primitive_desc_create(&r->pd, &desc, attr, ref_engine, NULL));
    dnnl_primitive_attr_destroy(attr);
    DNNL_CHECK(dnnl_primitive_create(&r->conv, r->pd));
    r->impl = "?";
    DNNL_CHECK(dnnl_primitive_desc_query(r->pd, dnnl_query_impl_info_str, 0, &r->impl));

    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(r->pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *w_md =
        dnnl_primitive_desc_query_md(r->pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(r->pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *scratch_md =
        dnnl_primitive_desc_query_md(r->pd, dnnl_query_scratchpad_md, 0);
    r->src = ref_memory_from_user(&src_user, x, src_md, &r->owned[0]);
    r->weights = ref_memory_from_user(&w_user, w, w_md, &r->owned[1]);
    DNNL_CHECK(dnnl_memory_create(&r->bias, &bias_md, ref_engine, bias));
    DNNL_CHECK(dnnl_memory_create(&r->dst_user, &dst_user, ref_engine, y_ref));
    r->dst_reorder = NULL;
    r->owned[2] = NULL;
    if (dnnl_memory_desc_equal(&dst_user, dst_md)) {
        DNNL_CHECK(dnnl_memory_create(&r->dst, dst_md, ref_engine, y_ref));
    } else {
        r->owned[2] = alloc_floats(dnnl_memory_desc_get_size(dst_md) / sizeof(float));
        DNNL_CHECK(dnnl_memory_create(&r->dst, dst_md, ref_engine, r->owned[2]));
        dnnl_primitive_desc_t rpd;
        DNNL_CHECK(dnnl_reorder_primitive_desc_create(&rpd, dst_md, ref_engine, &dst_user,
                                                      ref_engine, NULL));
        DNNL_CHECK(dnnl_primitive_create(&r->dst_reorder, rpd));
        dnnl_primitive_desc_destroy(rpd);
    }
    r->scratchpad = NULL;
    if (scratch_md && dnnl_memory_desc_get_size(scratch_md) > 0)
        DNNL_CHECK(dnnl_memory_create(&r->scratchpad, scratch_md, ref_engine,
                                      DNNL_MEMORY_ALLOCATE));
}

static void ref_conv_destroy(ref_conv *r)
{
    dnnl_primitive_destroy(r->conv);
    if (r->dst_reorder) dnnl_primitive_destroy(r->dst_reorder);
    dnnl_memory_destroy(r->src);
    dnnl_memory_destroy(r->weights);
    dnnl_memory_destroy(r->bias);
    dnnl_memory_destroy(r->dst);
    dnnl_memory_destroy(r->dst_user);
    if (r->scratchpad) dnnl_memory_destroy(r->scratchpad);
    dnnl_primitive_desc_destroy(r->pd);
    for (int i = 0; i < 3; i++) free(r->owned[i]);
}

/* The timed part: the convolution primitive alone, in its own layouts. */
static void ref_conv_run(const ref_conv *r)
{
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, r->src},
                               {DNNL_ARG_WEIGHTS, r->weights},
                               {DNNL_ARG_BIAS, r->bias},
                               {DNNL_ARG_DST, r->dst},
                               {DNNL_ARG_SCRATCHPAD, r->scratchpad}};
    DNNL_CHECK(dnnl_primitive_execute(r->conv, ref_stream, r->scratchpad ? 5 : 4, args));
    DNNL_CHECK(dnnl_stream_wait(ref_stream));
}

/* Brings the last result into y_ref as NHWC, for the check (not timed). */
static void ref_conv_fetch(const ref_conv *r)
{
    if (!r->dst_reorder) return;
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, r->dst}, {DNNL_ARG_TO, r->dst_user}};
    DNNL_CHECK(dnnl_primitive_execute(r->dst_reorder, ref_stream, 2, args));
    DNNL_CHECK(dnnl_stream_wait(ref_stream));
}

/* ---- one case ---------------------------------------------------------------------------- */

/* A layer at one batch size: the tensors both libraries read, and each one's output. */
typedef struct conv_case {
    const conv_layer *layer;
    int N, OH;
    char name[NAME_LEN];
    float *x;      /* (N, H, W, C_in) */
    float *w;      /* (C_out, C_in / groups, k, k) */
    float *bias;   /* (C_out) */
    float *y;      /* (N, OH, OW, C_out), graft's */
    float *y_ref;  /* (N, OH, OW, C_out), oneDNN's, reordered to NHWC */
    size_t x_count, w_count, y_count;
    graft_conv2d_plan *plan;
    ref_conv ref;  /* valid between ref_conv_create and ref_conv_destroy */
} conv_case;

static void run_graft(const conv_case *c)
{
    const conv_layer *l = c->layer;
    int err = graft_conv2d_forward(c->plan, c->y, c->x, c->N, l->H, l->H);
    if (err != GRAFT_OK) {
        fprintf(stderr, "bench_conv: %s: graft_conv2d_forward failed: %s (%s): %s\n", c->name,
                graft_err_name(err), graft_strerror(err), graft_last_error());
        exit(EXIT_WRONG);
    }
}

static void run_ref(const conv_case *c)
{
    ref_conv_run(&c->ref);
}

/*
 * Allocates and fills the case's tensors (touching every page now, so that no timed call pays
 * for first-touch faults) and packs graft's plan. Weights are scaled by 8 / sqrt(reduction) so
 * that outputs spread over a few units: both sides of ReLU and both ends of ReLU6 get used.
 */
static void case_init(conv_case *c, const conv_layer *l, int N)
{
    memset(c, 0, sizeof *c);
    c->layer = l;
    c->N = N;
    c->OH = layer_out_size(l);
    snprintf(c->name, sizeof c->name, "%s-%s-b%d", l->net, l->name, N);
    c->x_count = (size_t)N * (size_t)l->H * (size_t)l->H * (size_t)l->C_in;
    c->w_count = (size_t)l->C_out * (size_t)(l->C_in / l->groups) * (size_t)l->kernel *
                 (size_t)l->kernel;
    c->y_count = (size_t)N * (size_t)c->OH * (size_t)c->OH * (size_t)l->C_out;
    c->x = alloc_floats(c->x_count);
    c->w = alloc_floats(c->w_count);
    c->bias = alloc_floats((size_t)l->C_out);
    c->y = alloc_floats(c->y_count);
    c->y_ref = alloc_floats(c->y_count);
    double reduction = (double)(l->C_in / l->groups) * l->kernel * l->kernel;
    fill_uniform(c->x, c->x_count, 0x9E3779B97F4A7C15ULL, 1.0f);
    fill_uniform(c->w, c->w_count, 0xD1B54A32D192ED03ULL, (float)(8.0 / sqrt(reduction)));
    fill_uniform(c->bias, (size_t)l->C_out, 0x8CB92BA72F3D8DD7ULL, 1.0f);
    memset(c->y, 0, c->y_count * sizeof(float));
    memset(c->y_ref, 0, c->y_count * sizeof(float));

    graft_conv2d desc = layer_desc(l);
    int err = graft_conv2d_plan_create(&desc, c->w, c->bias, &c->plan);
    if (err != GRAFT_OK) {
        fprintf(stderr, "bench_conv: %s: graft_conv2d_plan_create failed: %s (%s): %s\n",
                c->name, graft_err_name(err), graft_strerror(err), graft_last_error());
        exit(EXIT_WRONG);
    }
}

static void case_deinit(conv_case *c)
{
    graft_conv2d_plan_destroy(c->plan);
    free(c->x);
    free(c->w);
    free(c->bias);
    free(c->y);
    free(c->y_ref);
}

/*
 * The once-per-case check, as bench_gemm's: rounding error of an R-term dot product (R =
 * C_in / groups * k * k, the reduction length) grows about like R * eps * max|x| * max|w|, so
 * the largest |graft - oneDNN| is measured in those units and must stay under the limit; a
 * layout, padding or epilogue bug is off by whole products or whole biases, far more. Winograd,
 * if oneDNN picks it, transforms the operands and rounds more, hence its wider limit. y is
 * filled with NaN first: an element graft never writes stays NaN and fails.
 * Returns the one-call times of this check in *graft_once / *ref_once (including any faults).
 */
#define CHECK_LIMIT 16.0
#define CHECK_LIMIT_WINOGRAD 256.0

static int check_case(const conv_case *c, int threads, double *graft_once, double *ref_once)
{
    const conv_layer *l = c->layer;
    for (size_t i = 0; i < c->y_count; i++) c->y[i] = NAN;
    double t0 = bench_now_seconds();
    run_graft(c);
    *graft_once = bench_now_seconds() - t0;
    t0 = bench_now_seconds();
    run_ref(c);
    *ref_once = bench_now_seconds() - t0;
    ref_conv_fetch(&c->ref);

    float x_max = 0.0f, w_max = 0.0f;
    for (size_t i = 0; i < c->x_count; i++) x_max = fmaxf(x_max, fabsf(c->x[i]));
    for (size_t i = 0; i < c->w_count; i++) w_max = fmaxf(w_max, fabsf(c->w[i]));
    double reduction = (double)(l->C_in / l->groups) * l->kernel * l->kernel;
    double unit = reduction * FLT_EPSILON * x_max * w_max;
    if (unit <= 0.0) unit = FLT_MIN; /* all-zero inputs: any difference at all fails */
    double limit = strstr(c->ref.impl, "wino") ? CHECK_LIMIT_WINOGRAD : CHECK_LIMIT;

    double worst = 0.0;
    size_t worst_at = 0;
    for (size_t i = 0; i < c->y_count; i++) {
        double diff = fabs((double)c->y[i] - (double)c->y_ref[i]) / unit;
        if (!(diff <= worst)) { /* also true for NaN, which must win */
            worst = diff;
            worst_at = i;
            if (isnan(diff)) break;
        }
    }
    if (!(worst <= limit)) {
        size_t co = worst_at % (size_t)l->C_out, pix = worst_at / (size_t)l->C_out;
        size_t ow = pix % (size_t)c->OH, oh = pix / (size_t)c->OH % (size_t)c->OH;
        size_t n = pix / ((size_t)c->OH * (size_t)c->OH);
        fprintf(stderr,
                "bench_conv: %s threads %d: WRONG RESULT: graft y[n=%zu][oh=%zu][ow=%zu][c=%zu] "
                "= %g, oneDNN (%s) has %g; error %.3g units of R*eps*max|x|*max|w| with R = %.0f "
                "(limit %g); graft algorithm %s\n",
                c->name, threads, n, oh, ow, co, (double)c->y[worst_at],
                c->ref.impl, (double)c->y_ref[worst_at], worst, reduction, limit,
                graft_conv2d_plan_algorithm(c->plan));
        return -1;
    }
    fprintf(stderr, "bench_conv: %s threads %d: check ok (error %.3g units, limit %g), graft %s, "
            "oneDNN %s\n", c->name, threads, worst, limit, graft_conv2d_plan_algorithm(c->plan),
            c->ref.impl);
    return 0;
}

/* ---- timing ------------------------------------------------------------------------------ */


/*
 * Idle threads of both sides spin before they sleep: libgomp's (oneDNN's runtime here) for its
 * default 300000 spins, well under 10 ms; graft's pool for 20000. Timed right after the other
 * side ran, a 2-thread run would share its second core with a spinning thread, so the two are
 * timed in alternating blocks with a pause before each block.
 */
#define QUIET_PAUSE_US 30000

/*
 * A call longer than this needs no warm-up call before its block: the check already faulted in
 * every buffer, and waking threads or refilling caches is noise at this length.
 */
#define WARM_UP_BELOW_SECONDS 0.05

static void call_graft(void *ctx) { run_graft(ctx); }
static void call_ref(void *ctx) { run_ref(ctx); }

static bench_result time_case(const conv_case *c, double graft_once, double ref_once,
                              const bench_budget *budget)
{
    bench_side graft = {call_graft, (void *)c, graft_once}, ref = {call_ref, (void *)c, ref_once};
    bench_plan plan = {budget->side_seconds, budget->min_reps, budget->rounds, QUIET_PAUSE_US,
                       WARM_UP_BELOW_SECONDS};
    return bench_alternate(&graft, &ref, &plan);
}

/* ---- command line ------------------------------------------------------------------------ */

static void usage(FILE *to, const layer_list *list)
{
    fprintf(to,
            "usage: bench_conv [--isa NAME] [--threads LIST] [--batch LIST] [--cases LIST]\n"
            "                  [--quick]\n"
            "\n"
            "Times graft_conv2d_forward against oneDNN's convolution primitive (layouts of\n"
            "its choice, reordered once outside the timing) on every distinct convolution of\n"
            "ResNet-50 and MobileNetV2 at 224x224, with bias and the network's fused\n"
            "activation, and prints one JSON line per case and thread count on stdout, plus\n"
            "a \"<net>-total-b<batch>\" line per network that sums time x occurrences.\n"
            "\n"
            "  --isa NAME      pin graft to scalar|avx2|avx512|neon|auto (default: GRAFT_ISA or\n"
            "                  the best available); exits 2 if this CPU lacks it. oneDNN picks\n"
            "                  its own (cap it with ONEDNN_MAX_CPU_ISA), not this option.\n"
            "  --threads LIST  comma-separated thread counts for both libraries (default 1,2)\n"
            "  --batch LIST    comma-separated batch sizes (default 1,32; 32 with --quick)\n"
            "  --cases LIST    comma-separated names: a layer \"<net>-<layer>\" (every batch),\n"
            "                  a case \"<net>-<layer>-b<batch>\", or \"<net>-total\" /\n"
            "                  \"<net>-total-b<batch>\" for all of a network's layers\n"
            "                  (default: everything)\n"
            "  --quick         ~0.02 s per side per case in one block, batch 32 only unless\n"
            "                  --batch says otherwise; also BENCH_QUICK=1\n"
            "  -h, --help      this text\n"
            "\n"
            "Fields: graft and ref are median milliseconds per call, ratio = ref / graft (> 1:\n"
            "graft is faster), gflops = GFLOP per call, *_gflop_s the rates, peak the\n"
            "single-thread GFLOP/s of an FMA loop of graft's ISA. Depthwise lines add bytes\n"
            "(input + output + weights + bias, each once), graft_gbps and mem_gbps (a triad's\n"
            "GB/s at that thread count).\n"
            "\n"
            "layers (name: kernel[stride]-C_in-C_out-H, dw: depthwise kernel[stride]-C-H):\n");
    for (int i = 0; i < list->count; i++) {
        const conv_layer *l = &list->layers[i];
        fprintf(to, "  %s-%s x%d\n", l->net, l->name, l->count);
    }
}

static int parse_int_list(const char *list, int *out, int max_count, int max_value, int *count)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy) return -1;
    *count = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(tok, &end, 10);
        if (*end || end == tok || v < 1 || v > max_value || *count == max_count) {
            free(copy);
            return -1;
        }
        out[(*count)++] = (int)v;
    }
    free(copy);
    return *count > 0 ? 0 : -1;
}

/*
 * What --cases selected: selected[layer][batch index], and per network and batch whether all
 * its layers were asked for (then its total is printed).
 */
typedef struct selection {
    unsigned char layer[LAYERS_MAX][BATCH_MAX];
} selection;

/* Splits "...-b32" into its stem and batch; *batch = 0 when there is no such suffix. */
static void split_batch(const char *tok, char *stem, size_t len, int *batch)
{
    snprintf(stem, len, "%s", tok);
    *batch = 0;
    char *dash = strrchr(stem, '-');
    if (!dash || dash[1] != 'b' || !dash[2]) return;
    char *end;
    long b = strtol(dash + 2, &end, 10);
    if (*end || b < 1) return;
    *batch = (int)b;
    *dash = '\0';
}

static int parse_cases(const char *list, const layer_list *layers, const int *batches,
                       int batch_count, selection *sel)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy) return -1;
    memset(sel, 0, sizeof *sel);
    int any = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char stem[NAME_LEN];
        int batch;
        split_batch(tok, stem, sizeof stem, &batch);
        int batch_index = -1;
        for (int b = 0; b < batch_count; b++)
            if (batches[b] == batch) batch_index = b;
        if (batch && batch_index < 0) {
            fprintf(stderr, "bench_conv: case '%s' wants batch %d, which --batch does not list "
                    "(a quick run defaults to batch 32 only)\n", tok, batch);
            free(copy);
            return -1;
        }
        int found = 0;
        for (int i = 0; i < layers->count; i++) {
            const conv_layer *l = &layers->layers[i];
            char name[NAME_LEN], total[NAME_LEN];
            snprintf(name, sizeof name, "%s-%s", l->net, l->name);
            snprintf(total, sizeof total, "%s-total", l->net);
            if (strcmp(stem, name) != 0 && strcmp(stem, total) != 0) continue;
            found = 1;
            for (int b = 0; b < batch_count; b++)
                if (batch_index < 0 || b == batch_index) sel->layer[i][b] = 1;
        }
        if (!found) {
            fprintf(stderr, "bench_conv: unknown case '%s' (see --help for the list)\n", tok);
            free(copy);
            return -1;
        }
        any = 1;
    }
    free(copy);
    return any ? 0 : -1;
}

/* oneDNN's version, as "onednn-2.6.3". */
static void ref_name_get(char *buf, size_t len)
{
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, len, "onednn-%d.%d.%d", v->major, v->minor, v->patch);
}

static const char *runtime_name(unsigned runtime)
{
    switch (runtime) {
    case DNNL_RUNTIME_SEQ: return "sequential";
    case DNNL_RUNTIME_OMP: return "OpenMP";
    case DNNL_RUNTIME_TBB: return "TBB";
    case DNNL_RUNTIME_THREADPOOL: return "threadpool";
    default: return "unknown";
    }
}

/* Sums of one network at one batch and thread count, for its total line. */
typedef struct net_total {
    double graft_seconds, ref_seconds, flops;
    int layers, distinct;
} net_total;

int main(int argc, char **argv)
{
    const char *isa_arg = NULL, *cases_arg = NULL;
    int threads[THREADS_MAX] = {1, 2}, thread_count = 2;
    int batches[BATCH_MAX] = {1, 32}, batch_count = 2, batch_given = 0;
    const char *quick_env = getenv("BENCH_QUICK");
    int quick = quick_env && *quick_env && strcmp(quick_env, "0") != 0;

    static layer_list layers;
    resnet50_layers(&layers);
    mobilenet_v2_layers(&layers);

    static const struct option options[] = {
        {"isa", required_argument, NULL, 'i'},   {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'}, {"cases", required_argument, NULL, 'c'},
        {"quick", no_argument, NULL, 'q'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "i:t:b:c:qh", options, NULL)) != -1) {
        switch (opt) {
        case 'i':
            isa_arg = optarg;
            break;
        case 't':
            if (parse_int_list(optarg, threads, THREADS_MAX, THREADS_MAX, &thread_count) != 0) {
                fprintf(stderr, "bench_conv: --threads wants a list like 1,2 (each 1..%d)\n",
                        THREADS_MAX);
                return EXIT_USAGE;
            }
            break;
        case 'b':
            if (parse_int_list(optarg, batches, BATCH_MAX, 4096, &batch_count) != 0) {
                fprintf(stderr, "bench_conv: --batch wants a list like 1,32 (at most %d sizes, "
                        "each 1..4096)\n", BATCH_MAX);
                return EXIT_USAGE;
            }
            batch_given = 1;
            break;
        case 'c':
            cases_arg = optarg; /* parsed once --batch is known, whatever the order */
            break;
        case 'q':
            quick = 1;
            break;
        case 'h':
            usage(stdout, &layers);
            return 0;
        default:
            usage(stderr, &layers);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bench_conv: unexpected argument '%s'\n", argv[optind]);
        usage(stderr, &layers);
        return EXIT_USAGE;
    }
    /*
     * A quick run keeps only the batch the totals are about: at batch 1 the per-case pauses
     * and fixed costs, not the convolutions, would take most of its two minutes.
     */
    if (quick && !batch_given) {
        batches[0] = 32;
        batch_count = 1;
    }
    static selection sel;
    if (cases_arg) {
        if (parse_cases(cases_arg, &layers, batches, batch_count, &sel) != 0) return EXIT_USAGE;
    } else {
        memset(&sel, 1, sizeof sel);
    }

    graft_isa isa;
    if (isa_arg) {
        int err = graft_isa_parse(isa_arg, &isa);
        if (err != GRAFT_OK) {
            fprintf(stderr, "bench_conv: unknown ISA '%s' (scalar, avx2, avx512, neon, auto)\n",
                    isa_arg);
            return EXIT_USAGE;
        }
        err = graft_isa_set(isa);
        if (err != GRAFT_OK) {
            fprintf(stderr, "bench_conv: ISA '%s' is not available on this CPU: %s\n", isa_arg,
                    graft_strerror(err));
            return EXIT_USAGE;
        }
    }
    /* Also resolves "auto" and an unset --isa to the variant that will actually run. */
    int err = graft_isa_current(&isa);
    if (err != GRAFT_OK) {
        fprintf(stderr, "bench_conv: no usable graft ISA: %s: %s\n", graft_strerror(err),
                graft_last_error());
        return EXIT_USAGE;
    }
    const char *isa_name = graft_isa_name(isa);
    const bench_budget *budget = quick ? &budget_quick : &budget_full;

    /*
     * oneDNN's threads come from its CPU runtime: with OpenMP (Debian's build) it uses
     * omp_get_max_threads(), which omp_set_num_threads sets per thread count below; a
     * sequential build always runs on one thread, which the lines then say.
     */
    const dnnl_version_t *dnnl_v = dnnl_version();
    if (dnnl_v->cpu_runtime != DNNL_RUNTIME_OMP && dnnl_v->cpu_runtime != DNNL_RUNTIME_SEQ) {
        fprintf(stderr, "bench_conv: oneDNN's CPU runtime is %s; only OpenMP and sequential "
                "builds can be given a thread count here\n", runtime_name(dnnl_v->cpu_runtime));
        return EXIT_WRONG;
    }
    DNNL_CHECK(dnnl_engine_create(&ref_engine, dnnl_cpu, 0));
    DNNL_CHECK(dnnl_stream_create(&ref_stream, ref_engine, dnnl_stream_default_flags));
    char ref_name[64];
    ref_name_get(ref_name, sizeof ref_name);
    const char *ref_isa = dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa());

    double peak = bench_peak_measure(isa, budget->peak_seconds);
    double mem_gbps[THREADS_MAX];
    bandwidth_measure(threads, thread_count, budget->triad_passes, mem_gbps);
    fprintf(stderr, "bench_conv: graft %s isa %s, FMA peak %.1f GFLOP/s per core; ref %s (%s, "
            "isa %s); triad bandwidth", graft_version(), isa_name, peak, ref_name,
            runtime_name(dnnl_v->cpu_runtime), ref_isa);
    for (int i = 0; i < thread_count; i++)
        fprintf(stderr, "%s %.1f GB/s at %d thread%s", i ? "," : "", mem_gbps[i], threads[i],
                threads[i] == 1 ? "" : "s");
    fprintf(stderr, "\n");

    int status = 0;
    for (int bi = 0; bi < batch_count; bi++) {
        int N = batches[bi];
        for (int net = 0; net < NET_COUNT; net++) {
            static net_total totals[THREADS_MAX];
            memset(totals, 0, sizeof totals);
            int net_layers = 0, net_selected = 0;
            for (int li = 0; li < layers.count; li++) {
                const conv_layer *l = &layers.layers[li];
                if (layer_net_index(l) != net) continue;
                net_layers++;
                if (!sel.layer[li][bi]) continue;
                net_selected++;

                conv_case c;
                case_init(&c, l, N);
                double flops = 2.0 * (double)N * c.OH * c.OH * l->C_out *
                               (double)(l->C_in / l->groups) * l->kernel * l->kernel;
                for (int ti = 0; ti < thread_count; ti++) {
                    int t = threads[ti];
                    err = graft_threads_set(t);
                    if (err != GRAFT_OK) {
                        fprintf(stderr, "bench_conv: graft_threads_set(%d): %s\n", t,
                                graft_strerror(err));
                        case_deinit(&c);
                        status = EXIT_WRONG;
                        goto done;
                    }
                    omp_set_num_threads(t);
                    int ref_threads = dnnl_v->cpu_runtime == DNNL_RUNTIME_OMP ? t : 1;
                    ref_conv_create(&c.ref, l, N, c.x, c.w, c.bias, c.y_ref);

                    /* Checked at every thread count: the split across threads is a source of
                     * bugs. */
                    double graft_once, ref_once;
                    if (check_case(&c, t, &graft_once, &ref_once) != 0) {
                        ref_conv_destroy(&c.ref);
                        case_deinit(&c);
                        status = EXIT_WRONG;
                        goto done;
                    }
                    bench_result res = time_case(&c, graft_once, ref_once, budget);
                    double graft_rate = flops / res.graft_seconds * 1e-9;
                    double ref_rate = flops / res.ref_seconds * 1e-9;
                    char extra[256] = "";
                    if (layer_is_depthwise(l)) {
                        double bytes = sizeof(float) * ((double)c.x_count + (double)c.y_count +
                                                        (double)c.w_count + l->C_out);
                        snprintf(extra, sizeof extra,
                                 ",\"bytes\":%.0f,\"graft_gbps\":%.2f,\"ref_gbps\":%.2f,"
                                 "\"mem_gbps\":%.2f,\"graft_pct_mem\":%.1f",
                                 bytes, bytes / res.graft_seconds * 1e-9,
                                 bytes / res.ref_seconds * 1e-9, mem_gbps[ti],
                                 100.0 * bytes / res.graft_seconds * 1e-9 / mem_gbps[ti]);
                    }
                    printf("{\"bench\":\"conv\",\"case\":\"%s\",\"net\":\"%s\",\"layer\":\"%s\","
                           "\"batch\":%d,\"threads\":%d,\"ref_threads\":%d,\"isa\":\"%s\","
                           "\"C_in\":%d,\"C_out\":%d,\"groups\":%d,\"kernel\":%d,\"stride\":%d,"
                           "\"H\":%d,\"OH\":%d,\"act\":\"%s\",\"count\":%d,\"unit\":\"ms\","
                           "\"graft\":%.4f,\"ref\":%.4f,\"ref_name\":\"%s\",\"ref_impl\":\"%s\","
                           "\"ratio\":%.3f,\"algo\":\"%s\",\"gflops\":%.4f,"
                           "\"graft_gflop_s\":%.2f,\"ref_gflop_s\":%.2f,\"peak\":%.1f,"
                           "\"graft_pct_peak\":%.1f,\"ref_pct_peak\":%.1f%s,\"reps\":%d,"
                           "\"quick\":%s}\n",
                           c.name, l->net, l->name, N, t, ref_threads, isa_name, l->C_in,
                           l->C_out, l->groups, l->kernel, l->stride, l->H, c.OH,
                           act_name(l->act), l->count, 1e3 * res.graft_seconds,
                           1e3 * res.ref_seconds, ref_name, c.ref.impl,
                           res.ref_seconds / res.graft_seconds,
                           graft_conv2d_plan_algorithm(c.plan), flops * 1e-9, graft_rate,
                           ref_rate, peak, 100.0 * graft_rate / (peak * t),
                           100.0 * ref_rate / (peak * t), extra, res.reps,
                           quick ? "true" : "false");
                    fflush(stdout);
                    ref_conv_destroy(&c.ref);

                    net_total *tot = &totals[ti];
                    tot->graft_seconds += l->count * res.graft_seconds;
                    tot->ref_seconds += l->count * res.ref_seconds;
                    tot->flops += l->count * flops;
                    tot->layers += l->count;
                    tot->distinct++;
                }
                case_deinit(&c);
            }
            /* A total over part of a network would be a different number under the same name. */
            if (net_selected == 0 || net_selected != net_layers) continue;
            for (int ti = 0; ti < thread_count; ti++) {
                const net_total *tot = &totals[ti];
                int t = threads[ti];
                double graft_rate = tot->flops / tot->graft_seconds * 1e-9;
                double ref_rate = tot->flops / tot->ref_seconds * 1e-9;
                printf("{\"bench\":\"conv\",\"case\":\"%s-total-b%d\",\"net\":\"%s\","
                       "\"layer\":\"total\",\"batch\":%d,\"threads\":%d,\"ref_threads\":%d,"
                       "\"isa\":\"%s\",\"count\":%d,\"distinct\":%d,\"unit\":\"ms\","
                       "\"graft\":%.4f,\"ref\":%.4f,\"ref_name\":\"%s\",\"ratio\":%.3f,"
                       "\"algo\":\"mixed\",\"gflops\":%.4f,\"graft_gflop_s\":%.2f,"
                       "\"ref_gflop_s\":%.2f,\"peak\":%.1f,\"graft_pct_peak\":%.1f,"
                       "\"ref_pct_peak\":%.1f,\"quick\":%s}\n",
                       net_names[net], N, net_names[net], N, t,
                       dnnl_v->cpu_runtime == DNNL_RUNTIME_OMP ? t : 1, isa_name, tot->layers,
                       tot->distinct, 1e3 * tot->graft_seconds, 1e3 * tot->ref_seconds, ref_name,
                       tot->ref_seconds / tot->graft_seconds, tot->flops * 1e-9, graft_rate,
                       ref_rate, peak, 100.0 * graft_rate / (peak * t),
                       100.0 * ref_rate / (peak * t), quick ? "true" : "false");
                fflush(stdout);
            }
        }
    }
done:
    dnnl_stream_destroy(ref_stream);
    dnnl_engine_destroy(ref_engine);
    return status;
}
