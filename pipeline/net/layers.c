/*
 * pipeline/net/layers.c: the forward pass of each IR operator over a net's storage, in the
 * layout the planner chose (net.c). The arithmetic is the kernels' (convolution, GEMM, pooling,
 * batch norm, elementwise, softmax, LRN: all on the thread pool); what is here is the glue:
 * shapes to kernel arguments, NHWC axis mapping, and the data-movement ops (slice, split, pad,
 * transpose, gather, reduce) that ConvNets use rarely and on small tensors, written plainly.
 *
 * Backward passes arrive with fine-tuning (pipeline/finetune/); this file is forward only.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "kernels.h"

#define IN(i) (net->ptr[s->in[i]])
#define OUT(o) (net->ptr[n->out[o]])
#define TI(i) (&net->t[s->in[i]])
#define TO(o) (&net->t[n->out[o]])

static int act_apply(graft_act act, float *y, size_t count) {
    if (act == GRAFT_ACT_NONE) return 0;
    graft_unary_op op = {act == GRAFT_ACT_RELU ? GRAFT_UNARY_RELU : GRAFT_UNARY_CLIP, 0.0f, 6.0f};
    return graft_unary_apply(&op, y, y, count);
}

static int fwd_conv(graft_net *net, const graft__step *s, const graft__node *n) {
    const graft__tinfo *x = TI(0);
    if (s->plan)
        return graft_conv2d_forward(s->plan, OUT(0), IN(0), (int)x->dims[0], (int)x->dims[2],
                                    (int)x->dims[3]);
    /* Weights computed or fed at run time (conformance graphs): pack for this call. */
    const graft__tinfo *w = TI(1);
    graft_conv2d d = n->a.conv.d;
    d.C_out = (int)w->dims[0];
    d.C_in = (int)w->dims[1] * d.groups;
    d.kernel_h = (int)w->dims[2];
    d.kernel_w = (int)w->dims[3];
    int pin[4] = {d.pad_top, d.pad_left, d.pad_bottom, d.pad_right}, p[4];
    graft__resolve_pads(n->a.conv.auto_pad, (int)x->dims[2], (int)x->dims[3], d.kernel_h,
                        d.kernel_w, d.stride_h, d.stride_w, d.dilation_h, d.dilation_w, pin, p);
    d.pad_top = p[0], d.pad_left = p[1], d.pad_bottom = p[2], d.pad_right = p[3];
    graft_conv2d_plan *plan;
    int err = graft_conv2d_plan_create(&d, IN(1), n->n_in > 2 && s->in[2] >= 0 ? IN(2) : NULL,
                                       &plan);
    if (err) return err;
    err = graft_conv2d_forward(plan, OUT(0), IN(0), (int)x->dims[0], (int)x->dims[2],
                               (int)x->dims[3]);
    graft_conv2d_plan_destroy(plan);
    return err;
}

/* Fills y (M, N) with C broadcast (scalar, (N), (1, N), (M, 1) or (M, N)). */
static int fill_c(float *y, int64_t M, int64_t N, const float *c, const graft__tinfo *tc) {
    int64_t cd[2] = {1, 1};
    if (tc->rank == 1) cd[1] = tc->dims[0];
    if (tc->rank == 2) cd[0] = tc->dims[0], cd[1] = tc->dims[1];
    if (tc->rank > 2 || (cd[0] != 1 && cd[0] != M) || (cd[1] != 1 && cd[1] != N))
        return graft__fail(GRAFT_EINVAL, "Gemm: C does not broadcast to (%lld, %lld)",
                           (long long)M, (long long)N);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            y[i * N + j] = c[(cd[0] == 1 ? 0 : i) * cd[1] + (cd[1] == 1 ? 0 : j)];
    return 0;
}

/*
 * A Gemm or MatMul run as a convolution over an input larger than the trained one (net.c,
 * infer_fc and plan_fc). Mode 1: the h x w windows of the NCHW map a Flatten let through are
 * gathered into the step's scratch, one row (c, y, x) per output position in Flatten's own
 * order, so that B as the file stores it is the kernel and no weight is copied. Mode 2: the
 * NHWC map is already one row of features per position (a 1x1 convolution). The product's
 * rows (n, y, x) are then the output's NHWC map.
 */
static int fwd_fc(graft_net *net, const graft__step *s, const graft__node *n) {
    const graft__tinfo *a = TI(0), *b = TI(1), *y = TO(0);
    int gemm = n->op == GRAFT__OP_GEMM, tb = gemm && n->a.gemm.trans_b;
    int64_t K = tb ? b->dims[1] : b->dims[0], N_out = tb ? b->dims[0] : b->dims[1];
    int64_t M = y->dims[0] * y->dims[2] * y->dims[3];
    const float *rows = IN(0);
    if (s->mode == 1) {
        float *col = net->ptr[s->scratch - 1]; /* (M, K) */
        const float *x = IN(0);                /* (N, C, H, W) */
        int64_t C = a->dims[1], H = a->dims[2], W = a->dims[3], OH = y->dims[2], OW = y->dims[3];
        int64_t kh = H - OH + 1, kw = W - OW + 1;
        for (int64_t i = 0; i < y->dims[0]; i++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    float *row = col + ((i * OH + oy) * OW + ox) * K;
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t dy = 0; dy < kh; dy++)
                            memcpy(row + (c * kh + dy) * kw,
                                   x + ((i * C + c) * H + oy + dy) * W + ox,
                                   sizeof(float) * (size_t)kw);
                }
        rows = col;
    }
    graft_epilogue epi = {NULL, gemm ? net->m->gemm_bias[s->node] : NULL,
                          gemm ? n->a.gemm.act : GRAFT_ACT_NONE};
    return graft_sgemm(GRAFT_TRANS_NO, tb ? GRAFT_TRANS_YES : GRAFT_TRANS_NO, M, N_out, K,
                       gemm ? n->a.gemm.alpha : 1.0f, rows, K, IN(1), b->dims[1], 0.0f, OUT(0),
                       N_out, &epi);
}

static int fwd_gemm(graft_net *net, const graft__step *s, const graft__node *n) {
    if (s->mode) return fwd_fc(net, s, n);
    const graft__tinfo *a = TI(0), *b = TI(1);
    int ta = n->a.gemm.trans_a, tb = n->a.gemm.trans_b;
    int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
    int64_t N = tb ? b->dims[0] : b->dims[1];
    float beta = 0.0f;
    graft_epilogue epi = {NULL, net->m->gemm_bias[s->node], n->a.gemm.act};
    if (!epi.bias_col && n->n_in > 2 && s->in[2] >= 0) {
        int err = fill_c(OUT(0), M, N, IN(2), TI(2));
        if (err) return err;
        beta = n->a.gemm.beta;
    }
    return graft_sgemm(ta ? GRAFT_TRANS_YES : GRAFT_TRANS_NO, tb ? GRAFT_TRANS_YES : GRAFT_TRANS_NO,
                       M, N, K, n->a.gemm.alpha, IN(0), a->dims[1], IN(1), b->dims[1], beta,
                       OUT(0), N, &epi);
}

static int fwd_matmul(graft_net *net, const graft__step *s, const graft__node *n) {
    if (s->mode) return fwd_fc(net, s, n);
    const graft__tinfo *a = TI(0), *b = TI(1), *y = TO(0);
    int64_t M = a->dims[a->rank - 2], K = a->dims[a->rank - 1];
    int64_t N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    if (b->rank <= 2) /* the common case: one product over all leading rows */
        return graft_sgemm(GRAFT_TRANS_NO, GRAFT_TRANS_NO, graft__numel(a) / K, N, K, 1.0f, IN(0),
                           K, IN(1), N, 0.0f, OUT(0), N, NULL);
    /* Batched: walk the broadcast batch dims of y. */
    int yr = y->rank - (b->rank == 1 ? 1 : 2);
    int64_t batch = 1;
    for (int d = 0; d < yr; d++) batch *= y->dims[d];
    for (int64_t e = 0; e < batch; e++) {
        int64_t rem = e, oa = 0, ob = 0, sa = 1, sb = 1;
        for (int d = yr - 1; d >= 0; d--) {
            int64_t i = rem % y->dims[d];
            rem /= y->dims[d];
            int da = d - (yr - (a->rank - 2)), db = d - (yr - (b->rank - 2));
            if (da >= 0) {
                if (a->dims[da] != 1) oa += i * sa;
                sa *= a->dims[da];
            }
            if (db >= 0) {
                if (b->dims[db] != 1) ob += i * sb;
                sb *= b->dims[db];
            }
        }
        int err = graft_sgemm(GRAFT_TRANS_NO, GRAFT_TRANS_NO, M, N, K, 1.0f, IN(0) + oa * M * K,
                              K, IN(1) + ob * K * N, N, 0.0f, OUT(0) + e * M * N, N, NULL);
        if (err) return err;
    }
    return 0;
}

static int fwd_pool(graft_net *net, const graft__step *s, const graft__node *n) {
    const graft__tinfo *x = TI(0);
    graft_pool2d p = n->a.pool.p;
    int pin[4] = {p.pad_top, p.pad_left, p.pad_bottom, p.pad_right}, pp[4];
    graft__resolve_pads(n->a.pool.auto_pad, (int)x->dims[2], (int)x->dims[3], p.kernel_h,
                        p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, pin, pp);
    p.pad_top = pp[0], p.pad_left = pp[1], p.pad_bottom = pp[2], p.pad_right = pp[3];
    return graft_pool2d_nhwc(&p, OUT(0), IN(0), (int)x->dims[0], (int)x->dims[2],
                             (int)x->dims[3], (int)x->dims[1]);
}

/* A value's dims as the kernels see its bytes; lower ranks padded to 4 in NHWC mode. */
static int phys(const graft_net *net, int v, int nhwc_mode, int64_t *dims) {
    const graft__tinfo *t = &net->t[v];
    if (!nhwc_mode) {
        memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
        return t->rank;
    }
    int64_t d[4] = {1, 1, 1, 1};
    for (int k = 0; k < t->rank; k++) d[4 - t->rank + k] = t->dims[k];
    dims[0] = d[0], dims[1] = d[2], dims[2] = d[3], dims[3] = d[1];
    return 4;
}

static int fwd_binary(graft_net *net, const graft__step *s, const graft__node *n) {
    int64_t ad[GRAFT__MAX_RANK], bd[GRAFT__MAX_RANK], yd[GRAFT__MAX_RANK];
    int ar = phys(net, s->in[0], s->mode, ad), br = phys(net, s->in[1], s->mode, bd);
    int yr = phys(net, n->out[0], s->mode, yd);
    int err = graft_binary_broadcast(n->a.binary.op, OUT(0), yd, yr, IN(0), ad, ar, IN(1), bd, br);
    if (!err) err = act_apply(n->a.binary.act, OUT(0), (size_t)graft__numel(TO(0)));
    return err;
}

static int fwd_concat(graft_net *net, const graft__step *s, const graft__node *n) {
    /* The planner caps a node at 256 inputs, so the argument arrays live on the stack. */
    const float *ins[256];
    int64_t dims[256][GRAFT__MAX_RANK];
    const int64_t *dp[256];
    int count = n->n_in < 256 ? n->n_in : 256;
    int rank = TO(0)->rank, axis = n->a.axis < 0 ? n->a.axis + rank : n->a.axis;
    for (int i = 0; i < count; i++) {
        ins[i] = IN(i);
        phys(net, s->in[i], s->mode, dims[i]);
        dp[i] = dims[i];
    }
    return graft_concat(OUT(0), ins, dp, count, rank, s->mode ? 3 : axis);
}

static int fwd_softmax(graft_net *net, const graft__step *s, const graft__node *n) {
    const graft__tinfo *x = TI(0);
    int64_t total = graft__numel(x);
    int axis = n->a.softmax.axis < 0 ? n->a.softmax.axis + x->rank : n->a.softmax.axis;
    int log = n->a.softmax.log;
    if (s->mode == 1) {
        int64_t C = x->dims[1];
        return graft_softmax(OUT(0), IN(0), (size_t)(total / C), (size_t)C, log);
    }
    if (s->mode == 0) {
        int64_t D = 1;
        for (int d = n->a.softmax.coerce_2d ? axis : x->rank - 1; d < x->rank; d++) D *= x->dims[d];
        return graft_softmax(OUT(0), IN(0), (size_t)(total / D), (size_t)D, log);
    }
    /* A middle axis: gather each line into a row, softmax, scatter back. */
    int64_t D = x->dims[axis], inner = 1;
    for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
    float *row = malloc(sizeof(float) * (size_t)D * 2);
    if (!row) return graft__fail(GRAFT_ENOMEM, "softmax: out of memory");
    int err = 0;
    for (int64_t o = 0; o < total / (D * inner) && !err; o++)
        for (int64_t i = 0; i < inner && !err; i++) {
            const float *src = IN(0) + o * D * inner + i;
            for (int64_t k = 0; k < D; k++) row[k] = src[k * inner];
            err = graft_softmax(row + D, row, 1, (size_t)D, log);
            float *dst = OUT(0) + o * D * inner + i;
            for (int64_t k = 0; k < D; k++) dst[k * inner] = row[D + k];
        }
    free(row);
    return err;
}

static int fwd_reduce(graft_net *net, const graft__step *s, const graft__node *n) {
    const graft__tinfo *x = TI(0), *y = TO(0);
    if (s->mode == 1)
        return graft_global_pool_nhwc(n->a.axes.kind == GRAFT__REDUCE_MAX ? GRAFT_POOL_MAX
                                                                          : GRAFT_POOL_AVG,
                                      OUT(0), IN(0), (int)x->dims[0], (int)x->dims[2],
                                      (int)x->dims[3], (int)x->dims[1]);
    /* Generic: y[j] over the input elements mapping to j, in input order. */
    int64_t xs[GRAFT__MAX_RANK], ys[GRAFT__MAX_RANK], total = graft__numel(x);
    int64_t ycount = graft__numel(y);
    int mark[GRAFT__MAX_RANK];
    int err = graft__reduce_mask(n, net->t, mark);
    if (err) return err == 1 ? graft__fail(GRAFT_EUNSUPPORTED, "reduce axes unknown") : err;
    int64_t s_ = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        xs[d] = s_;
        s_ *= x->dims[d];
    }
    s_ = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        ys[d] = mark[d] ? 0 : s_;
        if (!mark[d]) s_ *= x->dims[d];
    }
    float *out = OUT(0);
    int mx = n->a.axes.kind == GRAFT__REDUCE_MAX;
    for (int64_t j = 0; j < ycount; j++) out[j] = mx ? -INFINITY : 0.0f;
    for (int64_t e = 0; e < total; e++) {
        int64_t j = 0, r = e;
        for (int d = 0; d < x->rank; d++) {
            j += (r / xs[d]) * ys[d];
            r %= xs[d];
        }
        float v = IN(0)[e];
        if (mx) out[j] = v > out[j] || isnan(v) ? v : out[j];
        else out[j] += v;
    }
    if (n->a.axes.kind == GRAFT__REDUCE_MEAN && ycount) {
        float inv = (float)ycount / (float)total;
        for (int64_t j = 0; j < ycount; j++) out[j] *= inv;
    }
    return 0;
}

static int fwd_pad(graft_net *net, const graft__step *s, const graft__node *n) {
    const graft__tinfo *x = TI(0);
    const int64_t *pads = net->t[n->in[1]].data;
    int r = x->rank;
    int64_t xd[GRAFT__MAX_RANK], yd[GRAFT__MAX_RANK], pb[GRAFT__MAX_RANK];
    static const int to_nhwc[4] = {0, 2, 3, 1}; /* physical axis k holds logical axis */
    for (int k = 0; k < r; k++) {
        int l = s->mode ? to_nhwc[k] : k;
        xd[k] = x->dims[l];
        pb[k] = pads[l];
        yd[k] = x->dims[l] + pads[l] + pads[l + r];
    }
    float value = n->a.pad.value;
    if (n->n_in > 2 && s->in[2] >= 0 && graft__numel(TI(2)) >= 1) value = IN(2)[0];
    int64_t total = 1, idx[GRAFT__MAX_RANK] = {0};
    for (int k = 0; k < r; k++) total *= yd[k];
    float *y = OUT(0);
    const float *xp = IN(0);
    for (int64_t e = 0; e < total; e++) {
        int64_t off = 0, inside = 1;
        for (int k = 0; k < r; k++) {
            int64_t i = idx[k] - pb[k], D = xd[k];
            if (i < 0 || i >= D) {
                if (n->a.pad.mode == 0) inside = 0;
                else if (n->a.pad.mode == 2) i = i < 0 ? 0 : D - 1;
                else { /* reflect */
                    if (D == 1) i = 0;
                    else {
                        int64_t per = 2 * (D - 1);
                        i = ((i % per) + per) % per;
                        if (i >= D) i = per - i;
                    }
                }
            }
            off = off * D + i;
        }
        y[e] = inside ? xp[off] : value;
        for (int k = r - 1; k >= 0; k--) {
            if (++idx[k] < yd[k]) break;
            idx[k] = 0;
        }
    }
    return 0;
}

static int fwd_transpose(graft_net *net, const graft__step *s, const graft__node *n) {
    const graft__tinfo *x = TI(0), *y = TO(0);
    int64_t xs[GRAFT__MAX_RANK], ss[GRAFT__MAX_RANK], st = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        xs[d] = st;
        st *= x->dims[d];
    }
    for (int d = 0; d < x->rank; d++) {
        int p = n->a.transpose.n ? n->a.transpose.perm[d] : x->rank - 1 - d;
        ss[d] = xs[p];
    }
    graft__copy_strided(OUT(0), IN(0), 4, y->rank, y->dims, ss, 0);
    return 0;
}

static int fwd_split(graft_net *net, const graft__step *s, const graft__node *n) {
    int64_t xd[GRAFT__MAX_RANK];
    int r = phys(net, s->in[0], s->mode, xd);
    int axis = s->mode ? 3 : (n->a.split.axis < 0 ? n->a.split.axis + r : n->a.split.axis);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= xd[d];
    for (int d = axis + 1; d < r; d++) inner *= xd[d];
    int64_t off = 0;
    for (int o = 0; o < n->n_out; o++) {
        const graft__tinfo *t = TO(o);
        int64_t len = (s->mode ? t->dims[1] : t->dims[axis]) * inner;
        for (int64_t a = 0; a < outer; a++)
            memcpy(OUT(o) + a * len, IN(0) + a * xd[axis] * inner + off, sizeof(float) * (size_t)len);
        off += len;
    }
    return 0;
}

static int fwd_slice(graft_net *net, const graft__step *s, const graft__node *n) {
    int64_t dims[GRAFT__MAX_RANK], start[GRAFT__MAX_RANK], step[GRAFT__MAX_RANK];
    int err = graft__slice_params(n, net->t, dims, start, step);
    if (err) return err == 1 ? graft__fail(GRAFT_EUNSUPPORTED, "slice bounds unknown") : err;
    graft__slice_copy(OUT(0), IN(0), 4, TI(0), dims, start, step);
    return 0;
}

int graft__layer_forward(graft_net *net, const graft__step *s) {
    const graft__node *n = &net->g->nodes[s->node];
    switch (n->op) {
    case GRAFT__OP_CONV: return fwd_conv(net, s, n);
    case GRAFT__OP_GEMM: return fwd_gemm(net, s, n);
    case GRAFT__OP_MATMUL: return fwd_matmul(net, s, n);
    case GRAFT__OP_POOL: return fwd_pool(net, s, n);
    case GRAFT__OP_GLOBAL_POOL: {
        const graft__tinfo *x = TI(0);
        return graft_global_pool_nhwc(n->a.gpool, OUT(0), IN(0), (int)x->dims[0],
                                      (int)x->dims[2], (int)x->dims[3], (int)x->dims[1]);
    }
    case GRAFT__OP_UNARY: {
        graft_unary_op op = n->a.unary;
        if (n->n_in > 1 && s->in[1] >= 0 && graft__numel(TI(1))) op.alpha = IN(1)[0];
        if (n->n_in > 2 && s->in[2] >= 0 && graft__numel(TI(2))) op.beta = IN(2)[0];
        return graft_unary_apply(&op, OUT(0), IN(0), (size_t)graft__numel(TI(0)));
    }
    case GRAFT__OP_BINARY: return fwd_binary(net, s, n);
    case GRAFT__OP_BATCHNORM: {
        const graft__tinfo *x = TI(0);
        int64_t C = x->dims[1];
        return graft_batchnorm_nhwc(OUT(0), IN(0), (size_t)(graft__numel(x) / C), (int)C, IN(1),
                                    IN(2), IN(3), IN(4), n->a.bn_eps);
    }
    case GRAFT__OP_CONCAT: return fwd_concat(net, s, n);
    case GRAFT__OP_SOFTMAX: return fwd_softmax(net, s, n);
    case GRAFT__OP_LRN: {
        const graft__tinfo *x = TI(0);
        return graft_lrn_nhwc(OUT(0), IN(0), (size_t)(graft__numel(x) / x->dims[1]),
                              (size_t)x->dims[1], n->a.lrn.size, n->a.lrn.alpha, n->a.lrn.beta,
                              n->a.lrn.bias);
    }
    case GRAFT__OP_REDUCE: return fwd_reduce(net, s, n);
    case GRAFT__OP_PAD: return fwd_pad(net, s, n);
    case GRAFT__OP_TRANSPOSE: return fwd_transpose(net, s, n);
    case GRAFT__OP_SPLIT: return fwd_split(net, s, n);
    case GRAFT__OP_SLICE: return fwd_slice(net, s, n);
    case GRAFT__OP_GATHER:
        if (graft__gather_copy(OUT(0), IN(0), 4, TI(0),
                               n->a.axis < 0 ? n->a.axis + TI(0)->rank : n->a.axis,
                               &net->t[n->in[1]]))
            return graft__fail(GRAFT_EINVAL, "Gather: index out of range");
        return 0;
    default:
        return graft__fail(GRAFT_EUNSUPPORTED, "operator %s has no forward pass",
                           graft__op_name(n->op));
    }
}
