/*
 * pipeline/model/infer.c: shape inference and constant folding, one node at a time, in ONNX
 * semantics (logical NCHW; layouts are the net's business).
 *
 * Both the model-level passes and every net call graft__infer_node in topological order. A net
 * knows its input size, so every Shape node has a known result and the Shape -> Gather ->
 * Unsqueeze -> Concat -> Reshape chains that exporters emit for dynamic sizes fold away here,
 * before anything runs; what remains to execute is float work on activations.
 *
 * Folding is exact (a copy, or the same IEEE operation the runtime would do) and meant for small
 * tensors: shape vectors, and weight arithmetic at load (a transposed or reshaped initializer).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "kernels.h"

/* Shape arithmetic bound: sizes, pads and slice bounds beyond it are refused or clamped. */
#define BIG (INT64_C(1) << 40)
static int64_t clamp_big(int64_t v) { return v > BIG ? BIG : v < -BIG ? -BIG : v; }

static int64_t numel_of(const graft__tinfo *t) {
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++) n *= t->dims[d];
    return n;
}

static int known(const graft__tinfo *t) {
    if (t->rank < 0) return 0;
    for (int d = 0; d < t->rank; d++)
        if (t->dims[d] < 0) return 0;
    return 1;
}

static size_t esize(int dtype) { return dtype == GRAFT__I64 ? 8 : 4; }

static int nfail(const graft__graph *g, const graft__node *n, int err, const char *fmt,
                 const char *detail) {
    (void)g;
    return graft__fail(err, "node '%s' (%s): %s%s", n->name[0] ? n->name : "?", n->src_op, fmt,
                       detail ? detail : "");
}

#define FAIL(err, msg) return nfail(g, n, err, msg, NULL)

static void set_shape(graft__tinfo *o, int dtype, int rank, const int64_t *dims) {
    o->dtype = dtype;
    o->rank = rank;
    for (int d = 0; d < rank; d++) o->dims[d] = dims[d];
}

static int alloc_data(graft__tinfo *o) {
    int64_t n = numel_of(o);
    o->data = malloc((size_t)(n > 0 ? n : 1) * esize(o->dtype));
    if (!o->data) return graft__fail(GRAFT_ENOMEM, "constant folding: out of memory");
    o->owned = 1;
    return 0;
}

/* Reads I64 input i of n as a vector; returns its length or -1 when unknown. */
static int i64_input(const graft__node *n, const graft__tinfo *t, int i, const int64_t **v) {
    if (i >= n->n_in || n->in[i] < 0) return -2; /* absent */
    const graft__tinfo *x = &t[n->in[i]];
    if (!x->data || x->dtype != GRAFT__I64 || x->rank > 1) return -1;
    *v = x->data;
    return (int)numel_of(x);
}

static double get_d(const graft__tinfo *t, int64_t i) {
    return t->dtype == GRAFT__I64 ? (double)((const int64_t *)t->data)[i]
                                  : (double)((const float *)t->data)[i];
}

/* Multi-index walk: out element e -> input offset, by strides. */
void graft__copy_strided(void *dst, const void *src, size_t esz, int rank, const int64_t *dims,
                         const int64_t *src_strides, int64_t src_off) {
    int64_t total = 1, idx[GRAFT__MAX_RANK] = {0};
    for (int d = 0; d < rank; d++) total *= dims[d];
    for (int64_t e = 0; e < total; e++) {
        int64_t off = src_off;
        for (int d = 0; d < rank; d++) off += idx[d] * src_strides[d];
        memcpy((char *)dst + (size_t)e * esz, (const char *)src + (size_t)off * esz, esz);
        for (int d = rank - 1; d >= 0; d--) {
            if (++idx[d] < dims[d]) break;
            idx[d] = 0;
        }
    }
}

static void strides_of(const int64_t *dims, int rank, int64_t *st) {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        st[d] = s;
        s *= dims[d];
    }
}

static int norm_axis(int64_t axis, int rank, int64_t *out) {
    if (axis < -rank || axis >= rank) return -1;
    *out = axis < 0 ? axis + rank : axis;
    return 0;
}

void graft__resolve_pads(int auto_pad, int H, int W, int kh, int kw, int sh, int sw, int dh,
                         int dw, int pads_in[4], int pads_out[4]) {
    if (auto_pad == GRAFT__PAD_NOTSET) {
        memcpy(pads_out, pads_in, 4 * sizeof(int));
        return;
    }
    if (auto_pad == GRAFT__PAD_VALID) {
        memset(pads_out, 0, 4 * sizeof(int));
        return;
    }
    int in[2] = {H, W}, k[2] = {kh, kw}, s[2] = {sh, sw}, d[2] = {dh, dw};
    for (int a = 0; a < 2; a++) {
        int out = (in[a] + s[a] - 1) / s[a];
        int total = (out - 1) * s[a] + (k[a] - 1) * d[a] + 1 - in[a];
        if (total < 0) total = 0;
        int small = total / 2, big = total - small;
        pads_out[a] = auto_pad == GRAFT__PAD_SAME_UPPER ? small : big;
        pads_out[a + 2] = auto_pad == GRAFT__PAD_SAME_UPPER ? big : small;
    }
}

/* ---- per-op inference ------------------------------------------------------------------- */

static int infer_conv(const graft__graph *g, const graft__node *n, graft__tinfo *t) {
    const graft__tinfo *x = &t[n->in[0]], *w = &t[n->in[1]];
    graft__tinfo *o = &t[n->out[0]];
    if (w->rank != 4 || !known(w)) FAIL(GRAFT_EUNSUPPORTED, "only 2-D convolutions with known "
                                        "weights are run");
    if (!known(x)) return 0;
    if (x->rank != 4) FAIL(GRAFT_EINVAL, "input is not 4-D (N, C, H, W)");
    const graft_conv2d *d = &n->a.conv.d;
    int groups = d->groups;
    if (groups < 1 || x->dims[1] % groups || w->dims[0] % groups || w->dims[1] * groups != x->dims[1])
        FAIL(GRAFT_EINVAL, "channels of input, weights and group do not match");
    int kh = d->kernel_h ? d->kernel_h : (int)w->dims[2];
    int kw = d->kernel_w ? d->kernel_w : (int)w->dims[3];
    if (kh != w->dims[2] || kw != w->dims[3]) FAIL(GRAFT_EINVAL, "kernel_shape disagrees with W");
    int pin[4] = {d->pad_top, d->pad_left, d->pad_bottom, d->pad_right}, p[4];
    graft__resolve_pads(n->a.conv.auto_pad, (int)x->dims[2], (int)x->dims[3], kh, kw, d->stride_h,
                        d->stride_w, d->dilation_h, d->dilation_w, pin, p);
    int64_t span_h = (int64_t)d->dilation_h * (kh - 1) + 1, span_w = (int64_t)d->dilation_w * (kw - 1) + 1;
    int64_t ph = x->dims[2] + p[0] + p[2], pw = x->dims[3] + p[1] + p[3];
    if (ph < span_h || pw < span_w || x->dims[2] < 1 || x->dims[3] < 1)
        FAIL(GRAFT_EINVAL, "the kernel is larger than the padded input");
    int64_t dims[4] = {x->dims[0], w->dims[0], (ph - span_h) / d->stride_h + 1,
                       (pw - span_w) / d->stride_w + 1};
    set_shape(o, GRAFT__F32, 4, dims);
    return 0;
}

static int infer_pool(const graft__graph *g, const graft__node *n, graft__tinfo *t) {
    const graft__tinfo *x = &t[n->in[0]];
    graft__tinfo *o = &t[n->out[0]];
    if (!known(x)) return 0;
    if (x->rank != 4) FAIL(GRAFT_EUNSUPPORTED, "only 2-D pooling (4-D input) is run");
    graft_pool2d p = n->a.pool.p;
    int pin[4] = {p.pad_top, p.pad_left, p.pad_bottom, p.pad_right}, pp[4];
    graft__resolve_pads(n->a.pool.auto_pad, (int)x->dims[2], (int)x->dims[3], p.kernel_h,
                        p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, pin, pp);
    p.pad_top = pp[0], p.pad_left = pp[1], p.pad_bottom = pp[2], p.pad_right = pp[3];
    int OH, OW;
    if (graft_pool2d_output_size(&p, (int)x->dims[2], (int)x->dims[3], &OH, &OW))
        return nfail(g, n, GRAFT_EINVAL, "", graft_last_error());
    int64_t dims[4] = {x->dims[0], x->dims[1], OH, OW};
    set_shape(o, GRAFT__F32, 4, dims);
    return 0;
}

static int infer_gemm(const graft__graph *g, const graft__node *n, graft__tinfo *t) {
    const graft__tinfo *a = &t[n->in[0]], *b = &t[n->in[1]];
    graft__tinfo *o = &t[n->out[0]];
    if (!known(a) || !known(b)) return 0;
    if (a->rank != 2 || b->rank != 2) FAIL(GRAFT_EINVAL, "Gemm inputs must be 2-D");
    int64_t M = n->a.gemm.trans_a ? a->dims[1] : a->dims[0];
    int64_t Ka = n->a.gemm.trans_a ? a->dims[0] : a->dims[1];
    int64_t Kb = n->a.gemm.trans_b ? b->dims[1] : b->dims[0];
    int64_t N = n->a.gemm.trans_b ? b->dims[0] : b->dims[1];
    if (Ka != Kb) {
        char msg[160];
        snprintf(msg, sizeof msg, "A has %lld columns but B has %lld rows (a network trained at "
                 "another input size: its flattened features no longer fit the classifier)",
                 (long long)Ka, (long long)Kb);
        return nfail(g, n, GRAFT_EINVAL, "", msg);
    }
    int64_t dims[2] = {M, N};
    set_shape(o, GRAFT__F32, 2, dims);
    return 0;
}

static int infer_matmul(const graft__graph *g, const graft__node *n, graft__tinfo *t) {
    const graft__tinfo *a = &t[n->in[0]], *b = &t[n->in[1]];
    graft__tinfo *o = &t[n->out[0]];
    if (!known(a) || !known(b)) return 0;
    if (a->rank < 2 || b->rank < 1) FAIL(GRAFT_EUNSUPPORTED, "MatMul of a vector");
    int64_t ad[GRAFT__MAX_RANK], bd[GRAFT__MAX_RANK];
    int br = b->rank;
    memcpy(ad, a->dims, sizeof ad);
    memcpy(bd, b->dims, sizeof bd);
    if (br == 1) { /* (K) -> (K, 1), dropped after */
        bd[1] = 1;
        br = 2;
    }
    if (ad[a->rank - 1] != bd[br - 2]) FAIL(GRAFT_EINVAL, "inner dimensions differ");
    int64_t yd[GRAFT__MAX_RANK];
    int yr;
    if (graft_binary_output_shape(yd, &yr, ad, a->rank - 2, bd, br - 2))
        return nfail(g, n, GRAFT_EINVAL, "", graft_last_error());
    yd[yr++] = ad[a->rank - 2];
    if (b->rank > 1) yd[yr++] = bd[br - 1];
    set_shape(o, GRAFT__F32, yr, yd);
    return 0;
}

/* Elementwise binary, also folded for I64 (shape arithmetic). */
static int infer_binary(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                        int fold_float) {
    const graft__tinfo *a = &t[n->in[0]], *b = &t[n->in[1]];
    graft__tinfo *o = &t[n->out[0]];
    if (!known(a) || !known(b)) return 0;
    int64_t yd[GRAFT__MAX_RANK];
    int yr;
    if (graft_binary_output_shape(yd, &yr, a->dims, a->rank, b->dims, b->rank))
        return nfail(g, n, GRAFT_EINVAL, "", graft_last_error());
    int dtype = a->dtype == GRAFT__I64 && b->dtype == GRAFT__I64 ? GRAFT__I64 : GRAFT__F32;
    set_shape(o, dtype, yr, yd);
    if (!a->data || !b->data || (dtype == GRAFT__F32 && !fold_float)) return 0;
    int err = alloc_data(o);
    if (err) return err;
    int64_t ys[GRAFT__MAX_RANK], as[GRAFT__MAX_RANK], bs[GRAFT__MAX_RANK];
    strides_of(yd, yr, ys);
    /* Broadcast strides: 0 where the operand has size 1 or lacks the axis. */
    int64_t sa[GRAFT__MAX_RANK], sb[GRAFT__MAX_RANK];
    strides_of(a->dims, a->rank, as);
    strides_of(b->dims, b->rank, bs);
    for (int d = 0; d < yr; d++) {
        int da = d - (yr - a->rank), db = d - (yr - b->rank);
        sa[d] = da >= 0 && a->dims[da] != 1 ? as[da] : 0;
        sb[d] = db >= 0 && b->dims[db] != 1 ? bs[db] : 0;
    }
    int64_t total = numel_of(o);
    for (int64_t e = 0; e < total; e++) {
        int64_t ia = 0, ib = 0, r = e;
        for (int d = 0; d < yr; d++) {
            int64_t i = r / ys[d];
            r %= ys[d];
            ia += i * sa[d];
            ib += i * sb[d];
        }
        if (dtype == GRAFT__I64) {
            int64_t x = ((const int64_t *)a->data)[ia], y = ((const int64_t *)b->data)[ib], z = 0;
            switch (n->a.binary.op) {
            case GRAFT_BINARY_ADD: z = x + y; break;
            case GRAFT_BINARY_SUB: z = x - y; break;
            case GRAFT_BINARY_MUL: z = x * y; break;
            default:
                if (!y) FAIL(GRAFT_EINVAL, "integer division by zero");
                z = x / y; /* ONNX integer Div truncates, as C does */
            }
            ((int64_t *)o->data)[e] = z;
        } else {
            float x = (float)get_d(a, ia), y = (float)get_d(b, ib), z;
            switch (n->a.binary.op) {
            case GRAFT_BINARY_ADD: z = x + y; break;
            case GRAFT_BINARY_SUB: z = x - y; break;
            case GRAFT_BINARY_MUL: z = x * y; break;
            default: z = x / y;
            }
            if (n->a.binary.act != GRAFT_ACT_NONE) z = z > 0 ? z : 0;
            if (n->a.binary.act == GRAFT_ACT_RELU6 && z > 6) z = 6;
            ((float *)o->data)[e] = z;
        }
    }
    return 0;
}

static int infer_concat(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                        int fold_float) {
    const graft__tinfo *x0 = &t[n->in[0]];
    graft__tinfo *o = &t[n->out[0]];
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] < 0 || !known(&t[n->in[i]])) return 0;
    int64_t axis;
    if (norm_axis(n->a.axis, x0->rank, &axis)) FAIL(GRAFT_EINVAL, "axis out of range");
    int64_t dims[GRAFT__MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    int all_data = 1;
    for (int i = 0; i < n->n_in; i++) {
        const graft__tinfo *x = &t[n->in[i]];
        if (x->rank != x0->rank) FAIL(GRAFT_EINVAL, "inputs of different ranks");
        for (int d = 0; d < x->rank; d++)
            if (d != axis && x->dims[d] != x0->dims[d]) FAIL(GRAFT_EINVAL, "input shapes differ "
                                                             "off the concat axis");
        dims[axis] += x->dims[axis];
        all_data &= x->data != NULL && x->dtype == x0->dtype;
    }
    set_shape(o, x0->dtype, x0->rank, dims);
    if (!all_data || (o->dtype == GRAFT__F32 && !fold_float)) return 0;
    int err = alloc_data(o);
    if (err) return err;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= dims[d];
    for (int d = (int)axis + 1; d < o->rank; d++) inner *= dims[d];
    size_t esz = esize(o->dtype);
    char *dst = o->data;
    for (int64_t r = 0; r < outer; r++)
        for (int i = 0; i < n->n_in; i++) {
            const graft__tinfo *x = &t[n->in[i]];
            size_t len = (size_t)(x->dims[axis] * inner) * esz;
            memcpy(dst, (const char *)x->data + (size_t)r * len, len);
            dst += len;
        }
    return 0;
}

/* Output takes the input's data unchanged (Reshape, Flatten, Squeeze, Unsqueeze, Identity). */
static int pass_data(graft__tinfo *o, const graft__tinfo *x, int fold_float) {
    if (!x->data || (x->dtype == GRAFT__F32 && !fold_float)) return 0;
    int err = alloc_data(o);
    if (!err) memcpy(o->data, x->data, (size_t)numel_of(o) * esize(o->dtype));
    return err;
}

static int infer_reshape(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                         int fold_float) {
    const graft__tinfo *x = &t[n->in[0]];
    graft__tinfo *o = &t[n->out[0]];
    const int64_t *s;
    int k = i64_input(n, t, 1, &s);
    if (k == -1 || !known(x)) {
        if (k >= 0 && !known(x)) return 0;
        if (k == -1 && known(x))
            FAIL(GRAFT_EUNSUPPORTED, "the target shape depends on data, not only on shapes");
        return 0;
    }
    if (k < 0 || k > GRAFT__MAX_RANK) FAIL(GRAFT_EINVAL, "bad shape input");
    int64_t dims[GRAFT__MAX_RANK], total = numel_of(x), prod = 1;
    int infer_at = -1;
    for (int d = 0; d < k; d++) {
        dims[d] = s[d];
        if (s[d] == 0 && !n->a.reshape_allowzero) {
            if (d >= x->rank) FAIL(GRAFT_EINVAL, "shape copies a dimension the input lacks");
            dims[d] = x->dims[d];
        }
        if (dims[d] == -1) {
            if (infer_at >= 0) FAIL(GRAFT_EINVAL, "two -1 in the shape");
            infer_at = d;
        } else if (dims[d] < 0) {
            FAIL(GRAFT_EINVAL, "negative dimension in the shape");
        } else if (dims[d] > BIG || (dims[d] && prod > BIG / dims[d])) {
            FAIL(GRAFT_ERANGE, "the shape has more than 2^40 elements");
        } else {
            prod *= dims[d];
        }
    }
    if (infer_at >= 0) {
        if (!prod || total % prod) FAIL(GRAFT_EINVAL, "cannot infer -1: sizes do not divide");
        dims[infer_at] = total / prod;
    } else if (prod != total) {
        char msg[96];
        snprintf(msg, sizeof msg, "%lld elements cannot take a shape of %lld", (long long)total,
                 (long long)prod);
        return nfail(g, n, GRAFT_EINVAL, "", msg);
    }
    set_shape(o, x->dtype, k, dims);
    return pass_data(o, x, fold_float);
}

static int infer_flatten(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                         int fold_float) {
    const graft__tinfo *x = &t[n->in[0]];
    graft__tinfo *o = &t[n->out[0]];
    if (!known(x)) return 0;
    int64_t axis = n->a.axis < 0 ? n->a.axis + x->rank : n->a.axis;
    if (axis < 0 || axis > x->rank) FAIL(GRAFT_EINVAL, "axis out of range");
    int64_t dims[2] = {1, 1};
    for (int d = 0; d < x->rank; d++) dims[d >= axis] *= x->dims[d];
    set_shape(o, x->dtype, 2, dims);
    return pass_data(o, x, fold_float);
}

static int infer_transpose(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                           int fold_float) {
    const graft__tinfo *x = &t[n->in[0]];
    graft__tinfo *o = &t[n->out[0]];
    if (!known(x)) return 0;
    int perm[GRAFT__MAX_RANK], seen[GRAFT__MAX_RANK] = {0};
    if (n->a.transpose.n && n->a.transpose.n != x->rank) FAIL(GRAFT_EINVAL, "perm length != rank");
    for (int d = 0; d < x->rank; d++) {
        perm[d] = n->a.transpose.n ? n->a.transpose.perm[d] : x->rank - 1 - d;
        if (perm[d] < 0 || perm[d] >= x->rank || seen[perm[d]]++) FAIL(GRAFT_EINVAL, "bad perm");
    }
    int64_t dims[GRAFT__MAX_RANK], xs[GRAFT__MAX_RANK], ss[GRAFT__MAX_RANK];
    for (int d = 0; d < x->rank; d++) dims[d] = x->dims[perm[d]];
    set_shape(o, x->dtype, x->rank, dims);
    if (!x->data || (x->dtype == GRAFT__F32 && !fold_float)) return 0;
    int err = alloc_data(o);
    if (err) return err;
    strides_of(x->dims, x->rank, xs);
    for (int d = 0; d < x->rank; d++) ss[d] = xs[perm[d]];
    graft__copy_strided(o->data, x->data, esize(x->dtype), x->rank, dims, ss, 0);
    return 0;
}

/* Axes of Squeeze/Unsqueeze/Reduce from the attribute or input 1; -1 when unknown yet. */
static int get_axes(const graft__node *n, const graft__tinfo *t, int64_t *axes) {
    if (n->a.axes.n >= 0) {
        memcpy(axes, n->a.axes.axes, sizeof(int64_t) * (size_t)n->a.axes.n);
        return n->a.axes.n;
    }
    const int64_t *v;
    int k = i64_input(n, t, 1, &v);
    if (k == -2) return -2; /* none given */
    if (k < 0) return -1;
    if (k > GRAFT__MAX_RANK) return -3;
    memcpy(axes, v, sizeof(int64_t) * (size_t)k);
    return k;
}

static int infer_squeeze(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                         int fold_float, int unsqueeze) {
    const graft__tinfo *x = &t[n->in[0]];
    graft__tinfo *o = &t[n->out[0]];
    int64_t axes[GRAFT__MAX_RANK];
    int k = get_axes(n, t, axes);
    if (k == -1 || k == -3) {
        if (known(x)) FAIL(GRAFT_EUNSUPPORTED, "axes depend on data");
        return 0;
    }
    if (!known(x)) return 0;
    int64_t dims[GRAFT__MAX_RANK];
    int r = 0;
    if (unsqueeze) {
        if (k < 0) FAIL(GRAFT_EINVAL, "no axes");
        int out_rank = x->rank + k, mark[GRAFT__MAX_RANK] = {0};
        if (out_rank > GRAFT__MAX_RANK) FAIL(GRAFT_EUNSUPPORTED, "rank above 8");
        for (int i = 0; i < k; i++) {
            int64_t a;
            if (norm_axis(axes[i], out_rank, &a) || mark[a]++) FAIL(GRAFT_EINVAL, "bad axes");
        }
        for (int d = 0, s = 0; d < out_rank; d++) dims[d] = mark[d] ? 1 : x->dims[s++];
        r = out_rank;
    } else {
        int mark[GRAFT__MAX_RANK] = {0};
        if (k < 0) {
            for (int d = 0; d < x->rank; d++) mark[d] = x->dims[d] == 1;
        } else {
            for (int i = 0; i < k; i++) {
                int64_t a;
                if (norm_axis(axes[i], x->rank, &a) || x->dims[a] != 1)
                    FAIL(GRAFT_EINVAL, "squeezing an axis that is not 1");
                mark[a] = 1;
            }
        }
        for (int d = 0; d < x->rank; d++)
            if (!mark[d]) dims[r++] = x->dims[d];
    }
    set_shape(o, x->dtype, r, dims);
    return pass_data(o, x, fold_float);
}

int graft__slice_params(const graft__node *n, const graft__tinfo *t, int64_t *dims,
                       int64_t *start, int64_t *step) {
    const graft__tinfo *x = &t[n->in[0]];
    const int64_t *st, *en, *ax = NULL, *sp = NULL;
    int ks = i64_input(n, t, 1, &st), ke = i64_input(n, t, 2, &en);
    int ka = i64_input(n, t, 3, &ax), kp = i64_input(n, t, 4, &sp);
    if (ks == -1 || ke == -1 || ka == -1 || kp == -1) return 1; /* not known yet */
    if (ks < 0 || ke != ks || (ka >= 0 && ka != ks) || (kp >= 0 && kp != ks))
        return graft__fail(GRAFT_EINVAL, "starts, ends, axes, steps of different lengths");
    memcpy(dims, x->dims, sizeof(int64_t) * GRAFT__MAX_RANK);
    for (int d = 0; d < x->rank; d++) step[d] = 1, start[d] = 0;
    for (int i = 0; i < ks; i++) {
        int64_t a;
        if (norm_axis(ka >= 0 ? ax[i] : i, x->rank, &a))
            return graft__fail(GRAFT_EINVAL, "axis out of range");
        /* Clamped first: exporters write INT64_MAX for "to the end", and no axis is near
           2^40, so the clamp changes no result but keeps the arithmetic from overflowing. */
        int64_t s = clamp_big(st[i]), e = clamp_big(en[i]), p = kp >= 0 ? clamp_big(sp[i]) : 1;
        int64_t D = x->dims[a];
        if (!p) return graft__fail(GRAFT_EINVAL, "step 0");
        if (s < 0) s += D;
        if (e < 0) e += D;
        if (p > 0) {
            s = s < 0 ? 0 : s > D ? D : s;
            e = e < 0 ? 0 : e > D ? D : e;
            dims[a] = e > s ? (e - s + p - 1) / p : 0;
        } else {
            s = s < 0 ? -1 : s > D - 1 ? D - 1 : s;
            e = e < -1 ? -1 : e > D - 1 ? D - 1 : e;
            dims[a] = s > e ? (s - e - p - 1) / -p : 0;
        }
        start[a] = s;
        step[a] = p;
    }
    return 0;
}

void graft__slice_copy(void *dst, const void *src, size_t esz, const graft__tinfo *x,
                       const int64_t *dims, const int64_t *start, const int64_t *step) {
    int64_t xs[GRAFT__MAX_RANK], ss[GRAFT__MAX_RANK], off = 0;
    strides_of(x->dims, x->rank, xs);
    for (int d = 0; d < x->rank; d++) {
        ss[d] = xs[d] * step[d];
        off += start[d] * xs[d];
    }
    graft__copy_strided(dst, src, esz, x->rank, dims, ss, off);
}

static int infer_slice(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                       int fold_float) {
    const graft__tinfo *x = &t[n->in[0]];
    graft__tinfo *o = &t[n->out[0]];
    if (!known(x)) return 0;
    int64_t dims[GRAFT__MAX_RANK], start[GRAFT__MAX_RANK], step[GRAFT__MAX_RANK];
    int r = graft__slice_params(n, t, dims, start, step);
    if (r == 1) FAIL(GRAFT_EUNSUPPORTED, "slice bounds depend on data");
    if (r) return nfail(g, n, r, "", graft_last_error());
    set_shape(o, x->dtype, x->rank, dims);
    if (!x->data || (x->dtype == GRAFT__F32 && !fold_float)) return 0;
    int err = alloc_data(o);
    if (err) return err;
    graft__slice_copy(o->data, x->data, esize(x->dtype), x, dims, start, step);
    return 0;
}

static int infer_split(const graft__graph *g, const graft__node *n, graft__tinfo *t) {
    const graft__tinfo *x = &t[n->in[0]];
    if (!known(x)) return 0;
    int64_t axis;
    if (norm_axis(n->a.split.axis, x->rank, &axis)) FAIL(GRAFT_EINVAL, "axis out of range");
    int64_t sizes[64];
    const int64_t *v;
    int k = n->a.split.n_sizes;
    if (k) {
        memcpy(sizes, n->a.split.sizes, sizeof(int64_t) * (size_t)k);
    } else {
        int ki = i64_input(n, t, 1, &v);
        if (ki == -1) FAIL(GRAFT_EUNSUPPORTED, "split sizes depend on data");
        if (ki >= 0) {
            if (ki > 64) FAIL(GRAFT_EUNSUPPORTED, "more than 64 splits");
            memcpy(sizes, v, sizeof(int64_t) * (size_t)ki);
            k = ki;
        } else {
            int64_t D = x->dims[axis], part = (D + n->n_out - 1) / n->n_out;
            for (k = 0; k < n->n_out; k++) {
                sizes[k] = D - k * part < part ? D - k * part : part;
                if (sizes[k] < 0) sizes[k] = 0;
            }
        }
    }
    if (k != n->n_out) FAIL(GRAFT_EINVAL, "split sizes and outputs differ in number");
    int64_t sum = 0;
    for (int i = 0; i < k; i++) {
        if (sizes[i] < 0 || sizes[i] > BIG) FAIL(GRAFT_EINVAL, "split sizes out of range");
        sum += sizes[i];
    }
    if (sum != x->dims[axis]) FAIL(GRAFT_EINVAL, "split sizes do not add up to the axis");
    for (int i = 0; i < k; i++) {
        int64_t dims[GRAFT__MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = sizes[i];
        set_shape(&t[n->out[i]], x->dtype, x->rank, dims);
    }
    return 0;
}

static int infer_pad(const graft__graph *g, const graft__node *n, graft__tinfo *t) {
    const graft__tinfo *x = &t[n->in[0]];
    const int64_t *p;
    int k = i64_input(n, t, 1, &p);
    if (k == -1) {
        if (known(x)) FAIL(GRAFT_EUNSUPPORTED, "pads depend on data");
        return 0;
    }
    if (!known(x)) return 0;
    if (k != 2 * x->rank) FAIL(GRAFT_EINVAL, "pads must have 2 * rank entries");
    int64_t dims[GRAFT__MAX_RANK];
    for (int d = 0; d < x->rank; d++) {
        if (p[d] < 0 || p[d + x->rank] < 0) FAIL(GRAFT_EUNSUPPORTED, "negative pads (cropping)");
        if (p[d] > BIG || p[d + x->rank] > BIG) FAIL(GRAFT_ERANGE, "pads above 2^40");
        dims[d] = x->dims[d] + p[d] + p[d + x->rank];
    }
    set_shape(&t[n->out[0]], x->dtype, x->rank, dims);
    return 0;
}

int graft__reduce_mask(const graft__node *n, const graft__tinfo *t, int *mark) {
    const graft__tinfo *x = &t[n->in[0]];
    int64_t axes[GRAFT__MAX_RANK];
    int k = get_axes(n, t, axes);
    if (k == -1 || k == -3) return 1;
    for (int d = 0; d < GRAFT__MAX_RANK; d++) mark[d] = 0;
    if (k <= 0) {
        if (!(k == 0 && n->a.axes.noop_with_empty_axes))
            for (int d = 0; d < x->rank; d++) mark[d] = 1;
        return 0;
    }
    for (int i = 0; i < k; i++) {
        int64_t a;
        if (norm_axis(axes[i], x->rank, &a)) return graft__fail(GRAFT_EINVAL, "axis out of range");
        mark[a] = 1;
    }
    return 0;
}

static int infer_reduce(const graft__graph *g, const graft__node *n, graft__tinfo *t) {
    const graft__tinfo *x = &t[n->in[0]];
    int mark[GRAFT__MAX_RANK];
    int r0 = graft__reduce_mask(n, t, mark);
    if (r0 == 1) {
        if (known(x)) FAIL(GRAFT_EUNSUPPORTED, "axes depend on data");
        return 0;
    }
    if (r0) return nfail(g, n, r0, "", graft_last_error());
    if (!known(x)) return 0;
    int64_t dims[GRAFT__MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!mark[d]) dims[r++] = x->dims[d];
        else if (n->a.axes.keepdims) dims[r++] = 1;
    }
    set_shape(&t[n->out[0]], GRAFT__F32, r, dims);
    return 0;
}

static int infer_shape(const graft__graph *g, const graft__node *n, graft__tinfo *t) {
    const graft__tinfo *x = &t[n->in[0]];
    graft__tinfo *o = &t[n->out[0]];
    if (x->rank < 0) return 0;
    int64_t r = x->rank, s = n->a.shape.start, e = n->a.shape.end;
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    int64_t len = e > s ? e - s : 0;
    set_shape(o, GRAFT__I64, 1, &len);
    for (int64_t d = s; d < e; d++)
        if (x->dims[d] < 0) return 0; /* symbolic: not foldable yet */
    int err = alloc_data(o);
    if (err) return err;
    for (int64_t d = s; d < e; d++) ((int64_t *)o->data)[d - s] = x->dims[d];
    return 0;
}

int graft__gather_copy(void *dst, const void *src, size_t esz, const graft__tinfo *x, int axis,
                       const graft__tinfo *ix) {
    int64_t outer = 1, inner = 1, D = x->dims[axis], K = numel_of(ix);
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
    for (int64_t a = 0; a < outer; a++)
        for (int64_t k = 0; k < K; k++) {
            int64_t i = ((const int64_t *)ix->data)[k];
            if (i < 0) i += D;
            if (i < 0 || i >= D) return -1;
            memcpy((char *)dst + (size_t)((a * K + k) * inner) * esz,
                   (const char *)src + (size_t)((a * D + i) * inner) * esz, (size_t)inner * esz);
        }
    return 0;
}

static int infer_gather(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                        int fold_float) {
    const graft__tinfo *x = &t[n->in[0]], *ix = &t[n->in[1]];
    graft__tinfo *o = &t[n->out[0]];
    if (!known(x) || !known(ix)) return 0;
    int64_t axis;
    if (norm_axis(n->a.axis, x->rank, &axis)) FAIL(GRAFT_EINVAL, "axis out of range");
    if (ix->dtype != GRAFT__I64) FAIL(GRAFT_EINVAL, "indices are not integers");
    int64_t dims[GRAFT__MAX_RANK];
    int r = 0;
    if (x->rank - 1 + ix->rank > GRAFT__MAX_RANK) FAIL(GRAFT_EUNSUPPORTED, "rank above 8");
    for (int d = 0; d < axis; d++) dims[r++] = x->dims[d];
    for (int d = 0; d < ix->rank; d++) dims[r++] = ix->dims[d];
    for (int d = (int)axis + 1; d < x->rank; d++) dims[r++] = x->dims[d];
    set_shape(o, x->dtype, r, dims);
    if (!ix->data) FAIL(GRAFT_EUNSUPPORTED, "Gather with computed indices");
    if (!x->data || (x->dtype == GRAFT__F32 && !fold_float)) return 0;
    int err = alloc_data(o);
    if (err) return err;
    if (graft__gather_copy(o->data, x->data, esize(x->dtype), x, (int)axis, ix))
        FAIL(GRAFT_EINVAL, "index out of range");
    return 0;
}

static int infer_cast(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                      int fold_float) {
    const graft__tinfo *x = &t[n->in[0]];
    graft__tinfo *o = &t[n->out[0]];
    if (!known(x)) return 0;
    set_shape(o, n->a.cast_to, x->rank, x->dims);
    if (!x->data || (o->dtype == GRAFT__F32 && x->dtype == GRAFT__F32 && !fold_float)) return 0;
    int err = alloc_data(o);
    if (err) return err;
    int64_t N = numel_of(o);
    for (int64_t i = 0; i < N; i++) {
        if (o->dtype == GRAFT__I64)
            ((int64_t *)o->data)[i] = x->dtype == GRAFT__I64 ? ((const int64_t *)x->data)[i]
                                                             : (int64_t)((const float *)x->data)[i];
        else
            ((float *)o->data)[i] = (float)get_d(x, i);
    }
    return 0;
}

static int infer_const_of_shape(const graft__graph *g, const graft__node *n, graft__tinfo *t) {
    const int64_t *s;
    int k = i64_input(n, t, 0, &s);
    if (k == -1) FAIL(GRAFT_EUNSUPPORTED, "ConstantOfShape of a shape that depends on data");
    if (k < 0 || k > GRAFT__MAX_RANK) FAIL(GRAFT_EINVAL, "bad shape");
    graft__tinfo *o = &t[n->out[0]];
    int64_t total = 1;
    for (int d = 0; d < k; d++) {
        if (s[d] < 0 || (s[d] && total > (INT64_C(1) << 31) / s[d]))
            FAIL(GRAFT_ERANGE, "bad or huge shape");
        total *= s[d];
    }
    set_shape(o, n->a.fill.dtype, k, s);
    int err = alloc_data(o);
    if (err) return err;
    for (int64_t i = 0; i < total; i++) {
        if (o->dtype == GRAFT__I64) ((int64_t *)o->data)[i] = (int64_t)n->a.fill.value;
        else ((float *)o->data)[i] = (float)n->a.fill.value;
    }
    return 0;
}

static int infer_unary(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                       int fold_float) {
    const graft__tinfo *x = &t[n->in[0]];
    graft__tinfo *o = &t[n->out[0]];
    if (!known(x)) return 0;
    if (x->dtype != GRAFT__F32) FAIL(GRAFT_EUNSUPPORTED, "activation of an integer tensor");
    set_shape(o, GRAFT__F32, x->rank, x->dims);
    for (int i = 1; i < n->n_in; i++)
        if (n->in[i] >= 0 && !t[n->in[i]].data) return 0; /* bounds read at run time */
    if (!x->data || !fold_float) return 0;
    graft_unary_op op = n->a.unary;
    if (n->n_in > 1 && n->in[1] >= 0) op.alpha = (float)get_d(&t[n->in[1]], 0);
    if (n->n_in > 2 && n->in[2] >= 0) op.beta = (float)get_d(&t[n->in[2]], 0);
    int err = alloc_data(o);
    if (!err) err = graft_unary_apply(&op, o->data, x->data, (size_t)numel_of(o));
    return err;
}

int graft__infer_node(const graft__graph *g, const graft__node *n, graft__tinfo *t,
                      int fold_float) {
    for (int i = 0; i < n->n_out; i++)
        if (t[n->out[i]].owned) { /* re-inference of a net: drop the previous fold */
            free(t[n->out[i]].data);
            t[n->out[i]].data = NULL;
            t[n->out[i]].owned = 0;
        }
    const graft__tinfo *x = n->n_in && n->in[0] >= 0 ? &t[n->in[0]] : NULL;
    graft__tinfo *o = &t[n->out[0]];
    switch (n->op) {
    case GRAFT__OP_CONV: return infer_conv(g, n, t);
    case GRAFT__OP_GEMM: return infer_gemm(g, n, t);
    case GRAFT__OP_MATMUL: return infer_matmul(g, n, t);
    case GRAFT__OP_POOL: return infer_pool(g, n, t);
    case GRAFT__OP_GLOBAL_POOL:
        if (!known(x)) return 0;
        if (x->rank != 4) FAIL(GRAFT_EUNSUPPORTED, "global pooling of a non-4-D tensor");
        {
            int64_t dims[4] = {x->dims[0], x->dims[1], 1, 1};
            set_shape(o, GRAFT__F32, 4, dims);
        }
        return 0;
    case GRAFT__OP_UNARY: return infer_unary(g, n, t, fold_float);
    case GRAFT__OP_BINARY: return infer_binary(g, n, t, fold_float);
    case GRAFT__OP_BATCHNORM:
    case GRAFT__OP_LRN:
    case GRAFT__OP_SOFTMAX:
        if (!known(x)) return 0;
        if (n->op == GRAFT__OP_BATCHNORM && (x->rank < 2 || !known(&t[n->in[1]]) ||
                                             numel_of(&t[n->in[1]]) != x->dims[1]))
            FAIL(GRAFT_EINVAL, "BatchNormalization parameters do not match the channels");
        if (n->op == GRAFT__OP_LRN && x->rank != 4) FAIL(GRAFT_EUNSUPPORTED, "LRN of non-4-D");
        if (n->op == GRAFT__OP_SOFTMAX) {
            int64_t axis;
            if (norm_axis(n->a.softmax.axis, x->rank, &axis)) FAIL(GRAFT_EINVAL, "axis out of range");
        }
        set_shape(o, GRAFT__F32, x->rank, x->dims);
        return 0;
    case GRAFT__OP_CONCAT: return infer_concat(g, n, t, fold_float);
    case GRAFT__OP_RESHAPE: return infer_reshape(g, n, t, fold_float);
    case GRAFT__OP_FLATTEN: return infer_flatten(g, n, t, fold_float);
    case GRAFT__OP_TRANSPOSE: return infer_transpose(g, n, t, fold_float);
    case GRAFT__OP_SQUEEZE: return infer_squeeze(g, n, t, fold_float, 0);
    case GRAFT__OP_UNSQUEEZE: return infer_squeeze(g, n, t, fold_float, 1);
    case GRAFT__OP_SLICE: return infer_slice(g, n, t, fold_float);
    case GRAFT__OP_SPLIT: return infer_split(g, n, t);
    case GRAFT__OP_PAD: return infer_pad(g, n, t);
    case GRAFT__OP_REDUCE: return infer_reduce(g, n, t);
    case GRAFT__OP_SHAPE: return infer_shape(g, n, t);
    case GRAFT__OP_GATHER: return infer_gather(g, n, t, fold_float);
    case GRAFT__OP_CAST: return infer_cast(g, n, t, fold_float);
    case GRAFT__OP_CONSTANT_OF_SHAPE: return infer_const_of_shape(g, n, t);
    case GRAFT__OP_IDENTITY:
        if (!known(x)) return 0;
        set_shape(o, x->dtype, x->rank, x->dims);
        return pass_data(o, x, 1);
    default: FAIL(GRAFT_EUNSUPPORTED, "unknown IR op");
    }
}
