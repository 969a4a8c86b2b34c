/*
 * kernels/conv.c: the convolution driver. It validates a layer, packs its weights once into a
 * plan, and runs the forward pass on the kernel thread pool with one of six algorithms:
 *   gemm-1x1     1x1, stride 1, no padding, expanding channels: the NHWC input already is the
 *                (N*H*W, C_in) matrix, so the layer is one GEMM against the packed weights;
 *   im2col-gemm  anything else with groups == 1 that Winograd does not take: fixed-size
 *                chunks of output pixels are unrolled into patches (kh, kw, c) in a thread's
 *                scratch, then multiplied;
 *   grouped-gemm groups > 1 that are not depthwise: the same per group, writing its slice of
 *                output channels;
 *   depthwise    groups == C_in == C_out: direct SIMD kernels (conv_<isa>.c), one output row
 *                per task;
 *   winograd-f4x4  3x3, stride 1, dilation 1, groups 1 with enough channels (see
 *                graft__wino_preferred): F(4x4, 3x3) Winograd in winograd.c;
 *   direct       groups 1 and at most DIRECT_MAX_CIN input channels (a first layer), and the
 *                1x1 layers above that contract channels: output channels in vectors, each tap
 *                broadcast from the image in place (conv_direct_body.h), no packing.
 * Bias and activation are fused into the GEMM epilogue, the depthwise kernel or Winograd's
 * output transform. How a layer is cut into tasks may depend on the thread count (pointwise
 * direct chunks, im2col's column slices), but a pixel's arithmetic is the same in any cut, so
 * the results do not.
 *
 * The environment variable GRAFT_CONV_ALGO, read when a plan is created, overrides the choice
 * for the layers Winograd can run (3x3, stride 1, dilation 1, groups 1): "winograd" or
 * "im2col" forces that algorithm, "auto" or unset lets the planner choose; any other value
 * makes plan creation fail with GRAFT_EINVAL. Tests and benches use it to compare the two.
 * Winograd rounds differently from a direct sum, with 2-3x its error on the ResNet-50 layers
 * (tests/kernels/check_winograd.c states the bound), so a layer's results change slightly
 * with the algorithm.
 * Not here (yet): direct kernels for depth multiplier > 1, which take the grouped path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "conv.h"
#include "winograd.h"

enum { ALGO_GEMM_1X1, ALGO_IM2COL, ALGO_GROUPED, ALGO_DEPTHWISE, ALGO_WINOGRAD, ALGO_DIRECT };
static const char *const algo_names[] = {"gemm-1x1", "im2col-gemm", "grouped-gemm", "depthwise",
                                         "winograd-f4x4", "direct"};

/*
 * Input channels up to which a groups-1 layer runs direct (conv_direct_body.h) instead of
 * im2col: a network's first layer, on 3 colour channels. At batch 32 on one AVX-512 core,
 * MobileNetV2's 3x3s2-3-32 went from 0.50x oneDNN's speed through im2col to 1.2x, and
 * ResNet-50's 7x7s2-3-64 from 0.77x to 1.05x (84-94% of the FMA peak).
 */
#define DIRECT_MAX_CIN 4
/*
 * Pointwise layers that contract channels (C_out <= C_in, MobileNetV2's projections, ResNet's
 * bottleneck entries) also run direct: the GEMM packs each input row for one or two panels of
 * output channels only, so packing costs as much as the product. Measured at batch 32 on one
 * AVX-512 core, percent of the FMA peak, GEMM -> direct: MobileNetV2's 144-32 68 -> 93,
 * 192-32 62 -> 88, 384-64 82 -> 100, 32-16 28 -> 34; ResNet-50's 256-64 61 -> 88, 512-128 72
 * -> 88. Expansions stay GEMM (64-256 at 56x56: 74 -> 65), and so do layers of 1024 input
 * channels and more, where one four-vector block's weights (C_in x 64 floats) outgrow L2
 * (1024-256: 77 -> 74).
 */
#define DIRECT_MAX_CIN_1X1 1000

/* Output pixels per im2col chunk: a multiple of every micro-kernel's MR-friendly size. */
#define IM2COL_ROWS 112

struct graft_conv2d_plan {
    graft_conv2d d;
    graft_isa isa;
    int algo;
    int cin_g, cout_g; /* channels per group */
    int Kg;            /* GEMM depth per group: kernel_h * kernel_w * cin_g */
    graft_packed_b **pb; /* (groups) packed (Kg x cout_g) weights, GEMM algorithms */
    float *dw_w;       /* (KH, KW, C) depthwise weights; direct ones in panels (conv.h) */
    float *bias;       /* (C_out) or NULL */
    graft__dw_row_fn dw_row;
    graft__direct_row_fn direct_row;
    graft__wino *wino; /* Winograd's transformed weights */
};

/*
 * Output channels per panel of the direct weights (conv.h) on isa: DIRECT_PANEL of
 * conv_direct_body.h, the row kernel's widest block (four vectors where there are 32
 * registers, else two). A mismatch fails conv::<isa>_matches_reference.
 */
static int direct_panel(graft_isa isa) {
    switch (isa) {
    case GRAFT_ISA_AVX512: return 64;
    case GRAFT_ISA_NEON: return 16;
    default: return 16; /* AVX2: two vectors of 8; the scalar kernel takes any */
    }
}

/* C_out rounded up to whole panels of the direct weights. */
static int direct_cop(const graft_conv2d_plan *p) {
    const int panel = direct_panel(p->isa);
    return (p->d.C_out + panel - 1) / panel * panel;
}

const char *graft_conv2d_plan_algorithm(const graft_conv2d_plan *plan) {
    return algo_names[plan->algo];
}

size_t graft_conv2d_plan_bytes(const graft_conv2d_plan *plan) {
    size_t bytes = sizeof *plan + graft__wino_bytes(plan->wino);
    for (int g = 0; plan->pb && g < plan->d.groups; g++) {
        size_t b = 0;
        if (plan->pb[g]) graft_packed_b_shape(plan->pb[g], NULL, NULL, &b);
        bytes += b;
    }
    if (plan->dw_w && plan->algo == ALGO_DIRECT)
        bytes += sizeof(float) * (size_t)plan->Kg * direct_cop(plan);
    else if (plan->dw_w)
        bytes += sizeof(float) * (size_t)plan->d.kernel_h * plan->d.kernel_w * plan->d.C_out;
    if (plan->bias) bytes += sizeof(float) * (size_t)plan->d.C_out;
    return bytes;
}

static int check_desc(const graft_conv2d *d) {
    if (!d) return graft__fail(GRAFT_EINVAL, "conv2d: descriptor is NULL");
    if (d->C_in < 1 || d->C_out < 1 || d->groups < 1)
        return graft__fail(GRAFT_EINVAL, "conv2d: C_in = %d, C_out = %d, groups = %d must be >= 1",
                           d->C_in, d->C_out, d->groups);
    if (d->C_in % d->groups || d->C_out % d->groups)
        return graft__fail(GRAFT_EINVAL, "conv2d: groups = %d does not divide C_in = %d and "
                           "C_out = %d", d->groups, d->C_in, d->C_out);
    if (d->kernel_h < 1 || d->kernel_w < 1 || d->stride_h < 1 || d->stride_w < 1 ||
        d->dilation_h < 1 || d->dilation_w < 1)
        return graft__fail(GRAFT_EINVAL, "conv2d: kernel %dx%d, stride %dx%d, dilation %dx%d "
                           "must all be >= 1", d->kernel_h, d->kernel_w, d->stride_h,
                           d->stride_w, d->dilation_h, d->dilation_w);
    if (d->pad_top < 0 || d->pad_left < 0 || d->pad_bottom < 0 || d->pad_right < 0)
        return graft__fail(GRAFT_EINVAL, "conv2d: negative padding (%d, %d, %d, %d)",
                           d->pad_top, d->pad_left, d->pad_bottom, d->pad_right);
    if ((unsigned)d->act > GRAFT_ACT_RELU6)
        return graft__fail(GRAFT_EINVAL, "conv2d: act = %d is not a graft_act", (int)d->act);
    if ((int64_t)d->kernel_h * d->kernel_w * (d->C_in / d->groups) > INT32_MAX / 2)
        return graft__fail(GRAFT_ERANGE, "conv2d: kernel %dx%dx%d is too large", d->kernel_h,
                           d->kernel_w, d->C_in / d->groups);
    return GRAFT_OK;
}

static int out_size(int in, int pad0, int pad1, int k, int s, int dil, int *out) {
    int64_t span = (int64_t)dil * (k - 1) + 1, padded = (int64_t)in + pad0 + pad1;
    if (in < 1 || padded < span) return -1;
    *out = (int)((padded - span) / s + 1);
    return 0;
}

int graft_conv2d_output_size(const graft_conv2d *d, int H, int W, int *OH, int *OW) {
    int err = check_desc(d), oh, ow;
    if (err) return err;
    if (out_size(H, d->pad_top, d->pad_bottom, d->kernel_h, d->stride_h, d->dilation_h, &oh) ||
        out_size(W, d->pad_left, d->pad_right, d->kernel_w, d->stride_w, d->dilation_w, &ow))
        return graft__fail(GRAFT_EINVAL, "conv2d: kernel %dx%d (dilation %dx%d) does not fit "
                           "the padded %dx%d input", d->kernel_h, d->kernel_w, d->dilation_h,
                           d->dilation_w, H + d->pad_top + d->pad_bottom,
                           W + d->pad_left + d->pad_right);
    *OH = oh;
    *OW = ow;
    return GRAFT_OK;
}

void graft_conv2d_plan_destroy(graft_conv2d_plan *p) {
    if (!p) return;
    if (p->pb)
        for (int g = 0; g < p->d.groups; g++) graft_packed_b_destroy(p->pb[g]);
    free(p->pb);
    free(p->dw_w);
    free(p->bias);
    graft__wino_destroy(p->wino);
    free(p);
}

static graft__direct_row_fn direct_row_for(graft_isa isa) {
    switch (isa) {
#if defined(__x86_64__)
    case GRAFT_ISA_AVX2: return graft_direct_row_avx2;
    case GRAFT_ISA_AVX512: return graft_direct_row_avx512;
#endif
#if defined(__aarch64__)
    case GRAFT_ISA_NEON: return graft_direct_row_neon;
#endif
    default: return graft_direct_row_ref;
    }
}

static graft__dw_row_fn dw_row_for(graft_isa isa) {
    switch (isa) {
#if defined(__x86_64__)
    case GRAFT_ISA_AVX2: return graft_dwconv_row_avx2;
    case GRAFT_ISA_AVX512: return graft_dwconv_row_avx512;
#endif
#if defined(__aarch64__)
    case GRAFT_ISA_NEON: return graft_dwconv_row_neon;
#endif
    default: return graft_dwconv_row_ref;
    }
}

/*
 * For a layer Winograd can run, planned as *algo (im2col or direct): GRAFT_CONV_ALGO (see the
 * top of this file) forces Winograd or im2col, or else the measured rule may switch im2col to
 * Winograd. GRAFT_EINVAL for an unknown GRAFT_CONV_ALGO.
 */
static int choose_winograd(const graft_conv2d *d, graft_isa isa, int lean, int *algo) {
    const char *env = getenv("GRAFT_CONV_ALGO");
    if (!env || !*env || strcmp(env, "auto") == 0) {
        if (*algo == ALGO_IM2COL && !lean && graft__wino_preferred(d, isa)) *algo = ALGO_WINOGRAD;
    } else if (strcmp(env, "winograd") == 0) {
        *algo = ALGO_WINOGRAD;
    } else if (strcmp(env, "im2col") == 0) {
        *algo = ALGO_IM2COL;
    } else {
        return graft__fail(GRAFT_EINVAL, "conv2d: GRAFT_CONV_ALGO=%s is not auto, im2col or "
                           "winograd", env);
    }
    return GRAFT_OK;
}

/* 1x1, stride 1, no padding: the NHWC input is the (pixels, C_in) matrix. */
static int is_pointwise(const graft_conv2d *d) {
    return d->kernel_h == 1 && d->kernel_w == 1 && d->stride_h == 1 && d->stride_w == 1 &&
           !d->pad_top && !d->pad_left && !d->pad_bottom && !d->pad_right;
}

/* The algorithm of a plan for *d (valid) on isa. GRAFT_EINVAL for a bad GRAFT_CONV_ALGO. */
static int pick_algo(const graft_conv2d *d, graft_isa isa, int lean, int *algo) {
    if (d->groups == d->C_in && d->C_out == d->C_in)
        *algo = ALGO_DEPTHWISE;
    else if (d->groups > 1)
        *algo = ALGO_GROUPED;
    else if (is_pointwise(d))
        *algo = d->C_out <= d->C_in && d->C_in <= DIRECT_MAX_CIN_1X1 ? ALGO_DIRECT : ALGO_GEMM_1X1;
    else if (d->C_in <= DIRECT_MAX_CIN)
        *algo = ALGO_DIRECT;
    else
        *algo = ALGO_IM2COL;
    if ((*algo == ALGO_IM2COL || *algo == ALGO_DIRECT) && graft__wino_supports(d))
        return choose_winograd(d, isa, lean, algo);
    return GRAFT_OK;
}

size_t graft_conv2d_winograd_bytes(const graft_conv2d *desc) {
    graft_isa isa;
    int algo;
    if (check_desc(desc) || graft_isa_current(&isa) || pick_algo(desc, isa, 0, &algo) ||
        algo != ALGO_WINOGRAD)
        return 0;
    return graft__wino_bytes_for(desc, isa);
}

static int plan_create(const graft_conv2d *desc, const float *weight, const float *bias,
                       int lean, graft_conv2d_plan **out) {
    int err = check_desc(desc);
    if (err) return err;
    if (!weight || !out) return graft__fail(GRAFT_EINVAL, "conv2d: weight or out is NULL");
    graft_isa isa;
    if ((err = graft_isa_current(&isa))) return err;

    const graft_conv2d *d = desc;
    graft_conv2d_plan *p = calloc(1, sizeof *p);
    if (!p) return graft__fail(GRAFT_ENOMEM, "conv2d: out of memory");
    p->d = *d;
    p->isa = isa;
    p->cin_g = d->C_in / d->groups;
    p->cout_g = d->C_out / d->groups;
    const int KH = d->kernel_h, KW = d->kernel_w, taps = KH * KW;
    p->Kg = taps * p->cin_g;
    if ((err = pick_algo(d, isa, lean, &p->algo))) {
        free(p);
        return err;
    }

    if (bias) {
        p->bias = malloc(sizeof(float) * d->C_out);
        if (!p->bias) goto nomem;
        memcpy(p->bias, bias, sizeof(float) * d->C_out);
    }
    if (p->algo == ALGO_DEPTHWISE) {
        /* OIHW with I = 1 -> (KH, KW, C): channels innermost, as the NHWC input. */
        p->dw_w = malloc(sizeof(float) * (size_t)taps * d->C_out);
        if (!p->dw_w) goto nomem;
        for (int c = 0; c < d->C_out; c++)
            for (int t = 0; t < taps; t++) p->dw_w[(size_t)t * d->C_out + c] = weight[(size_t)c * taps + t];
        p->dw_row = dw_row_for(isa);
        *out = p;
        return GRAFT_OK;
    }
    if (p->algo == ALGO_DIRECT) {
        /* OIHW -> panels of (KH, KW, C_in, PANEL): a tap's output channels are vectors. */
        const int panel = direct_panel(isa);
        p->dw_w = calloc((size_t)p->Kg * direct_cop(p), sizeof(float));
        if (!p->dw_w) goto nomem;
        for (int o = 0; o < d->C_out; o++)
            for (int c = 0; c < d->C_in; c++)
                for (int t = 0; t < taps; t++)
                    p->dw_w[graft__direct_w_at(p->Kg, panel, (size_t)t * d->C_in + c, o)] =
                        weight[((size_t)o * d->C_in + c) * taps + t];
        p->direct_row = direct_row_for(isa);
        *out = p;
        return GRAFT_OK;
    }
    if (p->algo == ALGO_WINOGRAD) {
        if ((err = graft__wino_create(d, weight, isa, &p->wino))) {
            graft_conv2d_plan_destroy(p);
            return err;
        }
        *out = p;
        return GRAFT_OK;
    }
    /*
     * OIHW -> per group (cout_g, KH, KW, cin_g), the order im2col writes patches in; that is
     * B transposed (N x K), which the GEMM packs into its own layout.
     */
    p->pb = calloc((size_t)d->groups, sizeof *p->pb);
    float *ohwi = malloc(sizeof(float) * (size_t)p->cout_g * p->Kg);
    if (!p->pb || !ohwi) {
        free(ohwi);
        goto nomem;
    }
    for (int g = 0; g < d->groups; g++) {
        for (int o = 0; o < p->cout_g; o++)
            for (int c = 0; c < p->cin_g; c++)
                for (int t = 0; t < taps; t++)
                    ohwi[(size_t)o * p->Kg + (size_t)t * p->cin_g + c] =
                        weight[(((size_t)(g * p->cout_g + o) * p->cin_g) + c) * taps + t];
        err = graft_sgemm_pack_b(GRAFT_TRANS_YES, p->Kg, p->cout_g, ohwi, p->Kg, &p->pb[g]);
        if (err) {
            free(ohwi);
            graft_conv2d_plan_destroy(p);
            return err;
        }
    }
    free(ohwi);
    *out = p;
    return GRAFT_OK;
nomem:
    graft_conv2d_plan_destroy(p);
    return graft__fail(GRAFT_ENOMEM, "conv2d: out of memory packing %dx%dx%dx%d weights",
                       d->C_out, d->C_in / d->groups, d->kernel_h, d->kernel_w);
}

int graft_conv2d_plan_create(const graft_conv2d *desc, const float *weight, const float *bias,
                             graft_conv2d_plan **out) {
    return plan_create(desc, weight, bias, 0, out);
}

int graft_conv2d_plan_create_lean(const graft_conv2d *desc, const float *weight,
                                  const float *bias, graft_conv2d_plan **out) {
    return plan_create(desc, weight, bias, 1, out);
}

/* ---- forward ------------------------------------------------------------------------- */

/*
 * Copies n floats from src (in cache) to dst around the caches, in address order. Streaming
 * stores only pay when each line is written whole and at once: a kernel tile that streams its
 * vectors to eight pixels' lines in turn outruns the write-combining buffers. On AMD's Zen 3
 * here that pattern wrote 2.4 GB/s, where a sequential stream writes 19.7 and plain stores
 * 11-12. So kernels compute a row into scratch and copy it out with this; x86 only, a plain
 * copy elsewhere. (The AVX2 GEMM tile streams itself: it writes each row's line whole, two
 * stores, before the next.) Call graft__stream_fence() before the data is handed to another
 * thread.
 */
static inline void stream_store(float *restrict dst, const float *restrict src, size_t n) {
#if defined(__x86_64__)
    size_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 15); i++) dst[i] = src[i];
    for (; i + 8 <= n; i += 8) {
        _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
        _mm_stream_ps(dst + i + 4, _mm_loadu_ps(src + i + 4));
    }
    for (; i < n; i++) dst[i] = src[i];
#else
    memcpy(dst, src, n * sizeof *dst);
#endif
}

typedef struct conv_job {
    const graft_conv2d_plan *p;
    float *y;
    const float *x;
    int N, H, W, OH, OW;
    long pixels;       /* N * OH * OW */
    long chunks;       /* im2col chunks per group */
    int chunk_rows;    /* output pixels per chunk (the last may have fewer) */
    int slices;        /* column slices of each chunk's product */
    size_t gemm_bytes; /* serial GEMM scratch per thread */
    int stream;        /* the output is stored around the caches (GRAFT__STREAM_BYTES) */
    int band;          /* depthwise and direct: consecutive output rows per task; pointwise
                          direct: pixels per task */
} conv_job;

/* Unrolls output pixels [r0, r0 + rows) of group g into patches: col (rows, Kg). */
static void im2col(const conv_job *J, int g, long r0, int rows, float *restrict col) {
    const graft_conv2d_plan *p = J->p;
    const graft_conv2d *d = &p->d;
    const int cin_g = p->cin_g, C = d->C_in;
    for (int r = 0; r < rows; r++) {
        long pix = r0 + r;
        int n = (int)(pix / ((long)J->OH * J->OW)), rem = (int)(pix % ((long)J->OH * J->OW));
        int oh = rem / J->OW, ow = rem % J->OW;
        int ih0 = oh * d->stride_h - d->pad_top, iw0 = ow * d->stride_w - d->pad_left;
        float *dst = col + (size_t)r * p->Kg;
        const float *img = J->x + (size_t)n * J->H * J->W * C + (size_t)g * cin_g;
        /*
         * Without dilation or groups, a kernel row's taps are consecutive pixels, which NHWC
         * stores back to back: one copy of kernel_w * C floats when all are inside the image.
         */
        int row_whole = d->dilation_w == 1 && cin_g == C && iw0 >= 0 &&
                        iw0 + d->kernel_w <= J->W;
        for (int kh = 0; kh < d->kernel_h; kh++) {
            int ih = ih0 + kh * d->dilation_h;
            if (row_whole && ih >= 0 && ih < J->H) {
                memcpy(dst, img + ((size_t)ih * J->W + iw0) * C,
                       sizeof(float) * (size_t)d->kernel_w * C);
                dst += (size_t)d->kernel_w * C;
                continue;
            }
            for (int kw = 0; kw < d->kernel_w; kw++, dst += cin_g) {
                int iw = iw0 + kw * d->dilation_w;
                if (ih < 0 || ih >= J->H || iw < 0 || iw >= J->W)
                    memset(dst, 0, sizeof(float) * cin_g);
                else
                    memcpy(dst, img + ((size_t)ih * J->W + iw) * C, sizeof(float) * cin_g);
            }
        }
    }
}

static void gemm_chunk_task(void *vjob, int task, int thread) {
    const conv_job *J = vjob;
    const graft_conv2d_plan *p = J->p;
    int slice = task % J->slices;
    task /= J->slices;
    int g = (int)(task / J->chunks);
    long r0 = (task % J->chunks) * J->chunk_rows;
    int rows = (int)(J->pixels - r0 < J->chunk_rows ? J->pixels - r0 : J->chunk_rows);
    char *scratch = graft__pool_scratch(thread);
    float *col = (float *)(scratch + J->gemm_bytes);
    im2col(J, g, r0, rows, col);
    graft_epilogue epi = {NULL, p->bias ? p->bias + (size_t)g * p->cout_g : NULL, p->d.act};
    graft__sgemm_packed_serial(GRAFT_TRANS_NO, rows, col, p->Kg, p->pb[g],
                               J->y + (size_t)r0 * p->d.C_out + (size_t)g * p->cout_g,
                               p->d.C_out, &epi, scratch, slice, J->slices);
}

/*
 * The depthwise and direct row kernels write a row (a strip, pointwise) of an output that
 * streams (GRAFT__STREAM_BYTES) into the thread's scratch, from which stream_store copies it
 * out in address order. Streamed by the kernels themselves, eight pixels' lines at a time,
 * MobileNetV2's dw 32-112 at batch 32 took 25 ms on one Zen 3 core; plain stores, 13-16.
 * Returns where the row kernel writes the output rows at y: y itself when nothing streams.
 */
static float *stage_for(const conv_job *J, float *y, int thread) {
    return J->stream ? graft__pool_scratch(thread) : y;
}

/* The staged rows out to y (and nothing when the kernel wrote y itself). */
static void stage_out(float *y, const float *stage, size_t n) {
    if (stage != y) stream_store(y, stage, n);
}

/*
 * Output pixels per task of a pointwise direct layer come in multiples of this (a multiple of
 * every tile width); a task takes about 1/8 of a thread's share, since 96-pixel tasks left
 * MobileNetV2's 1x1-32-16 at 112x112 (batch 32) at half of oneDNN's speed on two threads,
 * lost to handing out 4000 tasks. The grain is small for the 7x7 maps at batch 1: with 48,
 * their 49 pixels made a task of 48 and one of 1.
 */
#define DIRECT_CHUNK 12
/* Input bytes per strip of a pointwise direct task (below): well inside a 256 KB-1 MB L2. */
#define DIRECT_STRIP_BYTES (128 << 10)

/* Pixels per strip of a pointwise direct task with C_in input channels. */
static int direct_strip(int C_in) {
    int strip = DIRECT_STRIP_BYTES / (int)(sizeof(float) * (size_t)C_in);
    return strip < DIRECT_CHUNK ? DIRECT_CHUNK : strip / DIRECT_CHUNK * DIRECT_CHUNK;
}

static void direct_1x1_task(void *vjob, int task, int thread) {
    const conv_job *J = vjob;
    const graft_conv2d_plan *p = J->p;
    const graft_conv2d *d = &p->d;
    long p0 = (long)task * J->band;
    int n = (int)(J->pixels - p0 < J->band ? J->pixels - p0 : J->band);
    /*
     * The row kernel passes over its pixels once per block of output channels (2 or 4
     * vectors), so a task goes in strips whose input stays in L2 between the passes: one
     * pass over a whole task re-read 7 MB per block on AVX2's 144-24 at 56x56 (three 8-lane
     * vectors: two blocks), 0.38 of oneDNN.
     */
    int strip = direct_strip(d->C_in);
    for (int s0 = 0; s0 < n; s0 += strip) {
        int m = n - s0 < strip ? n - s0 : strip;
        graft__direct_args a = {J->x + (size_t)(p0 + s0) * d->C_in, 1, m, d->C_in, 1, 1, 1, 1,
                                1, 1, 0, 0, m, d->C_out, direct_panel(p->isa), p->dw_w,
                                p->bias, d->act};
        float *y = J->y + (size_t)(p0 + s0) * d->C_out, *out = stage_for(J, y, thread);
        p->direct_row(out, 0, &a);
        stage_out(y, out, (size_t)m * d->C_out);
    }
    if (J->stream) graft__stream_fence();
}

/*
 * A band of consecutive output rows of one image, through the depthwise or the direct row
 * kernel: the two differ only in their argument structs.
 */
static void band_task(void *vjob, int task, int thread) {
    const conv_job *J = vjob;
    const graft_conv2d_plan *p = J->p;
    const graft_conv2d *d = &p->d;
    const int bands = (J->OH + J->band - 1) / J->band;
    int n = task / bands, oh0 = task % bands * J->band;
    int oh1 = oh0 + J->band < J->OH ? oh0 + J->band : J->OH;
    const float *x = J->x + (size_t)n * J->H * J->W * d->C_in;
    graft__dw_args da = {x, J->H, J->W, d->C_in, d->kernel_h, d->kernel_w, d->stride_h,
                         d->stride_w, d->dilation_h, d->dilation_w, d->pad_top, d->pad_left,
                         J->OW, p->dw_w, p->bias, d->act};
    graft__direct_args ra = {x, J->H, J->W, d->C_in, d->kernel_h, d->kernel_w, d->stride_h,
                             d->stride_w, d->dilation_h, d->dilation_w, d->pad_top, d->pad_left,
                             J->OW, d->C_out, direct_panel(p->isa), p->dw_w, p->bias, d->act};
    const size_t row = (size_t)J->OW * d->C_out;
    for (int oh = oh0; oh < oh1; oh++) {
        float *y = J->y + ((size_t)n * J->OH + oh) * row, *out = stage_for(J, y, thread);
        if (p->algo == ALGO_DEPTHWISE)
            p->dw_row(out, oh, &da);
        else
            p->direct_row(out, oh, &ra);
        stage_out(y, out, row);
    }
    if (J->stream) graft__stream_fence();
}

/*
 * Output rows per depthwise task: a thread works down a band of consecutive rows, so the
 * input rows the kernel prefetches for its next row are its own (with one row per task, the
 * next row usually went to the other thread). At least 8 tasks per thread for the balance.
 */
static int dw_band(int N, int OH, int threads) {
    long per_image = (8L * threads + N - 1) / N;
    if (per_image >= OH) return 1;
    return (int)((OH + per_image - 1) / per_image);
}

/*
 * Chunks and column slices of an im2col layer. The chunks are evened out in whole micro-panels
 * (MR rows), and when they do not share evenly among the threads, each chunk's product is cut
 * into column slices, each unrolling the chunk again: ResNet-50's deep stride-2 layers at
 * batch 1 (49 or 196 output pixels, one or two chunks) ran on one thread of two. Neither
 * changes a pixel's arithmetic, so the thread count read here does not change the results.
 */
static void im2col_tasks(conv_job *J, int threads) {
    const int MR = graft__sgemm_kernel_for(J->p->isa)->MR;
    long chunks = (J->pixels + IM2COL_ROWS - 1) / IM2COL_ROWS;
    long rows = ((J->pixels + chunks - 1) / chunks + MR - 1) / MR * MR;
    J->chunk_rows = (int)(rows < IM2COL_ROWS ? rows : IM2COL_ROWS);
    J->chunks = (J->pixels + J->chunk_rows - 1) / J->chunk_rows;
    J->slices = 1;
    long tasks = J->chunks * J->p->d.groups, panels = graft__sgemm_packed_panels(J->p->pb[0]);
    if (threads > 1 && tasks < 8L * threads)
        while (J->slices < panels && tasks * J->slices % threads) J->slices++;
}

int graft_conv2d_forward(const graft_conv2d_plan *p, float *y, const float *x, int N, int H,
                         int W) {
    if (!p || !y || !x) return graft__fail(GRAFT_EINVAL, "conv2d: plan, y or x is NULL");
    if (N < 1) return graft__fail(GRAFT_EINVAL, "conv2d: batch N = %d must be >= 1", N);
    conv_job J = {.p = p, .y = y, .x = x, .N = N, .H = H, .W = W};
    int err = graft_conv2d_output_size(&p->d, H, W, &J.OH, &J.OW);
    if (err) return err;
    graft_isa isa;
    if ((err = graft_isa_current(&isa))) return err;
    if (isa != p->isa)
        return graft__fail(GRAFT_EINVAL, "conv2d: plan was packed for %s but the current ISA "
                           "is %s; create it again", graft_isa_name(p->isa), graft_isa_name(isa));
    J.pixels = (long)N * J.OH * J.OW;
    if ((double)J.pixels * (p->d.C_out + p->d.C_in) > (double)INT64_MAX / 8)
        return graft__fail(GRAFT_ERANGE, "conv2d: %d x %d x %d tensors are too large", N, H, W);

    if (p->algo == ALGO_GEMM_1X1) {
        graft_epilogue epi = {NULL, p->bias, p->d.act};
        return graft_sgemm_packed(GRAFT_TRANS_NO, J.pixels, 1.0f, x, p->d.C_in, p->pb[0], 0.0f,
                                  y, p->d.C_out, &epi);
    }
    if (p->algo == ALGO_WINOGRAD)
        return graft__wino_forward(p->wino, y, x, N, H, W, J.OH, J.OW, p->bias);
    int threads;
    J.stream = (double)J.pixels * p->d.C_out * sizeof(float) > GRAFT__STREAM_BYTES;
    if (p->algo == ALGO_DIRECT && is_pointwise(&p->d)) {
        size_t stage = J.stream ? sizeof(float) * (size_t)direct_strip(p->d.C_in) * p->d.C_out : 0;
        if ((err = graft__pool_begin(stage, &threads))) return err;
        long chunk = (J.pixels / (8L * threads) + DIRECT_CHUNK - 1) / DIRECT_CHUNK * DIRECT_CHUNK;
        chunk = chunk < DIRECT_CHUNK ? DIRECT_CHUNK : chunk > INT32_MAX ? INT32_MAX / 2 : chunk;
        J.band = (int)chunk;
        graft__pool_run((int)((J.pixels + chunk - 1) / chunk), direct_1x1_task, &J);
        graft__pool_end();
        return GRAFT_OK;
    }
    if (p->algo == ALGO_DEPTHWISE || p->algo == ALGO_DIRECT) {
        size_t stage = J.stream ? sizeof(float) * (size_t)J.OW * p->d.C_out : 0;
        if ((err = graft__pool_begin(stage, &threads))) return err;
        J.band = dw_band(N, J.OH, threads);
        graft__pool_run(N * ((J.OH + J.band - 1) / J.band), band_task, &J);
        graft__pool_end();
        return GRAFT_OK;
    }
    im2col_tasks(&J, graft__pool_threads());
    J.gemm_bytes = (graft__sgemm_packed_serial_scratch(p->pb[0], IM2COL_ROWS) + 63) & ~(size_t)63;
    size_t col_bytes = sizeof(float) * (size_t)IM2COL_ROWS * p->Kg;
    if ((err = graft__pool_begin(J.gemm_bytes + col_bytes, &threads))) return err;
    long tasks = J.chunks * p->d.groups * J.slices;
    if (tasks > INT32_MAX) {
        graft__pool_end();
        return graft__fail(GRAFT_ERANGE, "conv2d: too many output pixels");
    }
    graft__pool_run((int)tasks, gemm_chunk_task, &J);
    graft__pool_end();
    return GRAFT_OK;
}
