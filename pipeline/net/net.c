/*
 * pipeline/net/net.c: a graft_net is a model compiled for one input size and a set of taps.
 * Creation runs, once: the cut (only nodes the taps depend on), shape inference with folding of
 * every shape computation, the layout plan (NHWC where the kernels want it, layout steps where a
 * reader wants NCHW), and the memory plan: activations live in one arena, each value at an
 * offset chosen by liveness, so values whose lifetimes do not overlap share bytes. Running is
 * then a walk over the steps with no allocation.
 *
 * A network trained at one input size with fully-connected layers on its flattened last map
 * (AlexNet, VGG) runs at a larger one as CS231n's converted ConvNet: the Flatten lets the map
 * through, the first fully-connected layer slides over it as a convolution with the trained
 * map's h x w as its kernel, the layers after it act as 1x1 convolutions at each position,
 * and the outputs become maps of class scores (N, K, a, b). Nothing is rewritten or copied:
 * the net marks the values (net->fc) and the Gemm steps read the file's float weights as they
 * are; at the trained size none of this happens.
 *
 * Not here: the layers' arithmetic (layers_*.c) and weight packing (pipeline/model/model.c).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "net.h"
#include "kernels.h"

int graft__model_conv_plan(const graft__graph *g, const graft__node *n, const int pads[4],
                           int lean, graft_conv2d_plan **out);

/* Elements one value may have: larger shapes are refused when a net is made. */
#define MAX_ELEMENTS (INT64_C(1) << 31)

/* ---- value table --------------------------------------------------------------------- */

static int grow_values(graft_net *net, int need, int *cap) {
    if (need <= *cap) return 0;
    int nc = *cap * 2 > need ? *cap * 2 : need;
#define GROW(field)                                                                          \
    do {                                                                                     \
        void *p = realloc(net->field, (size_t)nc * sizeof *net->field);                      \
        if (!p) return graft__fail(GRAFT_ENOMEM, "net: out of memory");                      \
        net->field = p;                                                                      \
    } while (0)
    GROW(t);
    GROW(nhwc);
    GROW(fc);
    GROW(alias);
    GROW(ptr);
    GROW(offset);
    GROW(def_step);
    GROW(last_step);
#undef GROW
    *cap = nc;
    return 0;
}

/* A 4-D value whose NCHW and NHWC orders are the same bytes. */
static int layout_free(const graft__tinfo *t) {
    return t->rank == 4 && (t->dims[1] == 1 || t->dims[2] * t->dims[3] == 1);
}

typedef struct planner {
    graft_net *net;
    int cap_vals;
    int cap_steps;
    int *twin_nhwc, *twin_nchw; /* (graph values) memoized layout twins, -1 */
} planner;

static int add_step(planner *pl, graft__step **out) {
    graft_net *net = pl->net;
    if (net->n_steps == pl->cap_steps) {
        int cap = pl->cap_steps ? pl->cap_steps * 2 : 64;
        graft__step *s = realloc(net->steps, (size_t)cap * sizeof *s);
        if (!s) return graft__fail(GRAFT_ENOMEM, "net: out of memory");
        net->steps = s;
        pl->cap_steps = cap;
    }
    *out = &net->steps[net->n_steps++];
    memset(*out, 0, sizeof **out);
    return 0;
}

/* The value holding v in the wanted layout (want_nhwc), adding a layout step if needed. */
static int in_layout(planner *pl, int v, int want_nhwc) {
    graft_net *net = pl->net;
    if (net->t[v].rank != 4 || net->nhwc[v] == want_nhwc) return v;
    int *memo = want_nhwc ? pl->twin_nhwc : pl->twin_nchw;
    if (v < net->g->n_values && memo[v] >= 0) return memo[v];
    int nv = net->n_vals;
    int err = grow_values(net, nv + 1, &pl->cap_vals);
    if (err) return err;
    net->n_vals++;
    net->t[nv] = net->t[v];
    net->t[nv].owned = 0;
    net->t[nv].data = NULL;
    net->nhwc[nv] = want_nhwc;
    net->fc[nv] = net->fc[v];
    net->alias[nv] = -1;
    net->ptr[nv] = NULL;
    if (layout_free(&net->t[v])) {
        net->alias[nv] = v;
        net->t[nv].data = net->t[v].data;
    } else {
        graft__step *s;
        if ((err = add_step(pl, &s))) return err;
        s->kind = want_nhwc ? GRAFT__STEP_TO_NHWC : GRAFT__STEP_TO_NCHW;
        s->src = v;
        s->dst = nv;
        s->node = -1;
    }
    if (v < net->g->n_values) memo[v] = nv;
    return nv;
}

static int is_perm_to_nhwc(const graft__node *n) {
    return n->a.transpose.n == 4 && n->a.transpose.perm[0] == 0 && n->a.transpose.perm[1] == 2 &&
           n->a.transpose.perm[2] == 3 && n->a.transpose.perm[3] == 1;
}

/* A value of the net alone (no graph name): F32 of rank and dims, no data, row-major. */
static int new_value(planner *pl, int rank, const int64_t *dims) {
    graft_net *net = pl->net;
    int nv = net->n_vals;
    int err = grow_values(net, nv + 1, &pl->cap_vals);
    if (err) return err;
    net->n_vals++;
    graft__tinfo *t = &net->t[nv];
    memset(t, 0, sizeof *t);
    t->dtype = GRAFT__F32;
    t->rank = rank;
    memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    net->nhwc[nv] = 0;
    net->fc[nv] = GRAFT__FC_NONE;
    net->alias[nv] = -1;
    net->ptr[nv] = NULL;
    return nv;
}

/*
 * plan_node for a node reading a value of fully-connected layers run as convolutions
 * (net->fc, see infer_fc): 1 when it decided in[], the mode and the layouts, 0 when the generic
 * plan is right (activations, identities and batch norm treat the NHWC map as any other), or
 * an error. Gemm and MatMul run in mode 1 (h x w windows of the NCHW map, gathered into the
 * step's scratch) or 2 (rows of the NHWC map), and write NHWC rows (n, y, x) of N_out.
 */
static int plan_fc(planner *pl, int ni, int *in, int *mode, int *out_nhwc, int *alias_out,
                   int *scratch) {
    graft_net *net = pl->net;
    const graft__node *n = &net->g->nodes[ni];
    int x = in[0];
    switch (n->op) {
    case GRAFT__OP_GEMM:
    case GRAFT__OP_MATMUL:
        if (net->fc[x] == GRAFT__FC_WINDOWS) {
            const graft__tinfo *tx = &net->t[x], *to = &net->t[n->out[0]];
            int64_t rows = to->dims[0] * to->dims[2] * to->dims[3];
            int64_t K = tx->dims[1] * (tx->dims[2] - to->dims[2] + 1) *
                        (tx->dims[3] - to->dims[3] + 1);
            if (rows > MAX_ELEMENTS / K)
                return graft__fail(GRAFT_ERANGE, "node '%s' (%s): %lld positions of %lld "
                                   "features each are above 2^31 elements", n->name, n->src_op,
                                   (long long)rows, (long long)K);
            int64_t dims[2] = {rows, K};
            int v = new_value(pl, 2, dims);
            if (v < 0) return v;
            *scratch = v + 1;
            *mode = 1;
        } else {
            in[0] = in_layout(pl, x, 1);
            *mode = 2;
        }
        *out_nhwc = 1;
        return 1;
    case GRAFT__OP_SOFTMAX: /* over the classes at each position (infer_fc checked the axis) */
        in[0] = in_layout(pl, x, 1);
        *mode = 1;
        *out_nhwc = 1;
        return 1;
    case GRAFT__OP_BINARY:
        for (int i = 0; i < 2; i++) {
            if (net->fc[in[i]]) {
                in[i] = in_layout(pl, in[i], 1);
                if (in[i] < 0) return in[i];
                continue;
            }
            /* A constant per class (a MatMul's bias) or a scalar, seen as (1, D, 1, 1). */
            int64_t dims[4] = {1, graft__numel(&net->t[in[i]]), 1, 1};
            int v = new_value(pl, 4, dims);
            if (v < 0) return v;
            net->t[v].data = net->t[in[i]].data;
            net->nhwc[v] = 1;
            in[i] = v;
        }
        *mode = 1;
        *out_nhwc = 1;
        return 1;
    case GRAFT__OP_FLATTEN:
    case GRAFT__OP_RESHAPE:
    case GRAFT__OP_SQUEEZE:
    case GRAFT__OP_UNSQUEEZE: /* no-ops on the (N, D) they stand for: a view */
        *alias_out = 1;
        *out_nhwc = net->nhwc[x];
        return 1;
    default:
        return 0;
    }
}

/*
 * Decides how node n runs and in which layouts: fills s->in, s->mode, the outputs' nhwc and
 * aliases. Returns 0 or an error.
 */
static int plan_node(planner *pl, int ni) {
    graft_net *net = pl->net;
    const graft__graph *g = net->g;
    const graft__node *n = &g->nodes[ni];
    int in[256];
    int n_in = n->n_in > 256 ? 256 : n->n_in;
    for (int i = 0; i < n_in; i++) in[i] = n->in[i];
    int x = n_in > 0 ? in[0] : -1;
    const graft__tinfo *tx = x >= 0 ? &net->t[x] : NULL;
    int x_nhwc = x >= 0 && net->nhwc[x] && tx->rank == 4;
    int mode = 0, out_nhwc = 0, alias_out = 0, scratch = 0;
    int fc_in = 0;
    for (int i = 0; i < n_in && i < 2; i++) fc_in |= in[i] >= 0 && net->fc[in[i]];
    if (fc_in) {
        int r = plan_fc(pl, ni, in, &mode, &out_nhwc, &alias_out, &scratch);
        if (r < 0) return r;
        if (r) goto planned;
    }
    switch (n->op) {
    case GRAFT__OP_CONV:
    case GRAFT__OP_POOL:
    case GRAFT__OP_GLOBAL_POOL:
    case GRAFT__OP_LRN:
        in[0] = in_layout(pl, x, 1);
        out_nhwc = 1;
        break;
    case GRAFT__OP_BATCHNORM:
        if (tx->rank == 4) {
            in[0] = in_layout(pl, x, 1);
            out_nhwc = 1;
        } else if (tx->rank != 2) {
            return graft__fail(GRAFT_EUNSUPPORTED, "node '%s' (%s): batch norm of a rank-%d tensor",
                               n->name, n->src_op, tx->rank);
        }
        break;
    case GRAFT__OP_UNARY:
    case GRAFT__OP_CAST:
        out_nhwc = x_nhwc;
        if (n->op == GRAFT__OP_CAST) alias_out = 1;
        break;
    case GRAFT__OP_IDENTITY:
        out_nhwc = x_nhwc;
        alias_out = 1;
        break;
    case GRAFT__OP_BINARY: {
        const graft__tinfo *to = &net->t[n->out[0]];
        int any = 0;
        for (int i = 0; i < 2; i++)
            any |= net->nhwc[in[i]] && net->t[in[i]].rank == 4 && !net->t[in[i]].data;
        int ok = to->rank == 4 && any;
        for (int i = 0; i < 2 && ok; i++) {
            const graft__tinfo *ti = &net->t[in[i]];
            if (ti->rank == 4) continue;
            /* Padded to 4-D, a lower-rank operand must have C == 1 or H * W == 1 to be read
               as NHWC without moving data. */
            int64_t d[4] = {1, 1, 1, 1};
            for (int k = 0; k < ti->rank; k++) d[4 - ti->rank + k] = ti->dims[k];
            if (!(d[1] == 1 || d[2] * d[3] == 1)) ok = 0;
        }
        if (ok) {
            mode = 1;
            out_nhwc = 1;
            for (int i = 0; i < 2; i++)
                if (net->t[in[i]].rank == 4) in[i] = in_layout(pl, in[i], 1);
        } else {
            for (int i = 0; i < 2; i++) in[i] = in_layout(pl, in[i], 0);
        }
        break;
    }
    case GRAFT__OP_CONCAT: {
        int64_t axis = n->a.axis < 0 ? n->a.axis + tx->rank : n->a.axis;
        int any = 0;
        for (int i = 0; i < n_in; i++) any |= net->nhwc[in[i]];
        if (tx->rank == 4 && axis == 1 && any) {
            mode = 1;
            out_nhwc = 1;
            for (int i = 0; i < n_in; i++) in[i] = in_layout(pl, in[i], 1);
        } else {
            for (int i = 0; i < n_in; i++) in[i] = in_layout(pl, in[i], 0);
        }
        break;
    }
    case GRAFT__OP_SOFTMAX: {
        int64_t axis = n->a.softmax.axis < 0 ? n->a.softmax.axis + tx->rank : n->a.softmax.axis;
        if (x_nhwc && axis == 1 && (!n->a.softmax.coerce_2d || tx->dims[2] * tx->dims[3] == 1)) {
            mode = 1;
            out_nhwc = 1;
        } else {
            in[0] = in_layout(pl, x, 0);
            if (!n->a.softmax.coerce_2d && axis != tx->rank - 1) mode = 2; /* strided */
        }
        break;
    }
    case GRAFT__OP_REDUCE: {
        /* A mean or max over exactly H and W is a global pooling of the NHWC map. */
        int mark[GRAFT__MAX_RANK];
        if (tx->rank == 4 && n->a.axes.kind != GRAFT__REDUCE_SUM &&
            !graft__reduce_mask(n, net->t, mark) && !mark[0] && !mark[1] && mark[2] && mark[3]) {
            mode = 1;
            in[0] = in_layout(pl, x, 1);
            out_nhwc = net->t[n->out[0]].rank == 4;
        } else {
            in[0] = in_layout(pl, x, 0);
        }
        break;
    }
    case GRAFT__OP_PAD:
        if (x_nhwc) {
            mode = 1;
            out_nhwc = 1;
        }
        break;
    case GRAFT__OP_TRANSPOSE:
        if (x_nhwc && is_perm_to_nhwc(n)) {
            mode = 1; /* the NHWC bytes already are the transposed tensor */
            alias_out = 1;
        } else {
            in[0] = in_layout(pl, x, 0);
        }
        break;
    case GRAFT__OP_SPLIT: {
        int64_t axis = n->a.split.axis < 0 ? n->a.split.axis + tx->rank : n->a.split.axis;
        if (x_nhwc && axis == 1) {
            mode = 1;
            out_nhwc = 1;
        } else {
            in[0] = in_layout(pl, x, 0);
        }
        break;
    }
    case GRAFT__OP_RESHAPE:
    case GRAFT__OP_FLATTEN:
    case GRAFT__OP_SQUEEZE:
    case GRAFT__OP_UNSQUEEZE:
        in[0] = in_layout(pl, x, 0);
        alias_out = 1;
        break;
    default: /* GEMM, MATMUL, SLICE, GATHER: plain row-major */
        for (int i = 0; i < n_in; i++)
            if (in[i] >= 0) in[i] = in_layout(pl, in[i], 0);
        break;
    }
planned:
    for (int i = 0; i < n_in; i++)
        if (in[i] < -1) return in[i]; /* an error from in_layout */
    for (int o = 0; o < n->n_out; o++) {
        int v = n->out[o];
        net->nhwc[v] = out_nhwc && net->t[v].rank == 4;
        net->alias[v] = alias_out ? in[0] : -1;
    }
    if (alias_out) return 0; /* no step: the output is a view of the input */
    graft__step *s;
    int err = add_step(pl, &s);
    if (err) return err;
    s->kind = GRAFT__STEP_NODE;
    s->node = ni;
    s->mode = mode;
    s->scratch = scratch;
    s->in = malloc(sizeof(int) * (size_t)(n_in ? n_in : 1));
    if (!s->in) return graft__fail(GRAFT_ENOMEM, "net: out of memory");
    memcpy(s->in, in, sizeof(int) * (size_t)n_in);
    return 0;
}

/* ---- memory plan ----------------------------------------------------------------------- */

static int root_of(const graft_net *net, int v) {
    while (net->alias[v] >= 0) v = net->alias[v];
    return v;
}

typedef struct interval {
    int v;
    size_t bytes;
    int first, last;
} interval;

static int cmp_size_desc(const void *a, const void *b) {
    const interval *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->first - y->first;
}

static int plan_memory(graft_net *net) {
    int V = net->n_vals;
    for (int v = 0; v < V; v++) net->def_step[v] = net->last_step[v] = -1;
    for (int s = 0; s < net->n_steps; s++) {
        graft__step *st = &net->steps[s];
        if (st->kind != GRAFT__STEP_NODE) {
            net->def_step[root_of(net, st->dst)] = s;
            int r = root_of(net, st->src);
            if (net->last_step[r] < s) net->last_step[r] = s;
            continue;
        }
        const graft__node *n = &net->g->nodes[st->node];
        for (int i = 0; i < n->n_in; i++) {
            if (st->in[i] < 0) continue;
            int r = root_of(net, st->in[i]);
            if (net->last_step[r] < s) net->last_step[r] = s;
        }
        if (st->scratch) net->def_step[st->scratch - 1] = net->last_step[st->scratch - 1] = s;
        for (int o = 0; o < n->n_out; o++) {
            int r = root_of(net, n->out[o]);
            if (net->def_step[r] < 0) net->def_step[r] = s;
        }
    }
    for (int i = 0; i < net->n_taps; i++) net->last_step[root_of(net, net->tap_val[i])] = net->n_steps;
    interval *iv = malloc(sizeof *iv * (size_t)(V ? V : 1));
    if (!iv) return graft__fail(GRAFT_ENOMEM, "net: out of memory");
    int k = 0;
    for (int v = 0; v < V; v++) {
        if (net->alias[v] >= 0 || net->t[v].data || net->def_step[v] < 0) continue;
        int64_t numel = graft__numel(&net->t[v]);
        size_t bytes = ((size_t)numel * 4 + 63) & ~(size_t)63;
        int last = net->last_step[v] < net->def_step[v] ? net->def_step[v] : net->last_step[v];
        iv[k++] = (interval){v, bytes ? bytes : 64, net->def_step[v], last};
    }
    qsort(iv, (size_t)k, sizeof *iv, cmp_size_desc);
    size_t peak = 0;
    /* First fit among the placed intervals that overlap in time, lowest offset first. */
    for (int i = 0; i < k; i++) {
        size_t off = 0;
        for (int again = 1; again;) {
            again = 0;
            for (int j = 0; j < i; j++) {
                if (iv[j].last < iv[i].first || iv[i].last < iv[j].first) continue;
                size_t o2 = net->offset[iv[j].v];
                if (off < o2 + iv[j].bytes && o2 < off + iv[i].bytes) {
                    off = o2 + iv[j].bytes;
                    again = 1;
                }
            }
        }
        net->offset[iv[i].v] = off;
        if (off + iv[i].bytes > peak) peak = off + iv[i].bytes;
    }
    free(iv);
    net->arena_bytes = peak;
    if (peak) {
        net->arena = mmap(NULL, peak, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (net->arena == MAP_FAILED) {
            net->arena = NULL;
            return graft__fail(GRAFT_ENOMEM, "net: cannot map %zu bytes of activations", peak);
        }
#ifdef MADV_HUGEPAGE
        if (peak >= (2u << 20)) madvise(net->arena, peak, MADV_HUGEPAGE);
#endif
    }
    return 0;
}

/* A graph input fed at run time (its pointer is the caller's). */
static int is_fed(const graft_net *net, int v) {
    return v < net->g->n_values && net->g->values[v].is_input && net->t[v].dtype == GRAFT__F32;
}

/*
 * Points every value at its bytes once: a constant's data or its root's arena offset. Values
 * that share a fed input's bytes can only be bound per run; they are listed with their root.
 */
static int bind_storage(graft_net *net) {
    net->fed = malloc(sizeof(int) * (size_t)(net->n_vals ? net->n_vals : 1));
    net->fed_root = malloc(sizeof(int) * (size_t)(net->n_vals ? net->n_vals : 1));
    if (!net->fed || !net->fed_root) return graft__fail(GRAFT_ENOMEM, "net: out of memory");
    for (int v = 0; v < net->n_vals; v++) {
        int r = root_of(net, v);
        net->ptr[v] = NULL;
        if (is_fed(net, r)) {
            if (r != v) {
                net->fed[net->n_fed] = v;
                net->fed_root[net->n_fed++] = r;
            }
        } else if (net->t[r].data) {
            net->ptr[v] = net->t[r].data;
        } else if (net->def_step[r] >= 0) {
            net->ptr[v] = (float *)(net->arena + net->offset[r]);
        }
    }
    return 0;
}

/* ---- fully-connected layers as convolutions ------------------------------------------- */

static int tinfo_known(const graft__tinfo *t) {
    if (t->rank < 0) return 0;
    for (int d = 0; d < t->rank; d++)
        if (t->dims[d] < 0) return 0;
    return 1;
}

/* Value v as a net starts from it: constants (and released weights) shaped, the rest unknown. */
static void tinfo_init(const graft__graph *g, int v, graft__tinfo *t) {
    memset(t, 0, sizeof *t);
    t->dtype = g->values[v].dtype;
    t->rank = g->values[v].data ? g->values[v].rank : -1;
    memcpy(t->dims, g->values[v].dims, sizeof t->dims);
    t->data = g->values[v].data;
    /* Released weights: shape known, data with the packed plan. */
    if (!t->data && g->values[v].producer < 0 && !g->values[v].is_input)
        t->rank = g->values[v].rank;
}

static void tinfo_release(graft__tinfo *t, int count) {
    for (int v = 0; v < count; v++)
        if (t[v].owned) {
            free(t[v].data);
            t[v].data = NULL;
            t[v].owned = 0;
        }
}

/*
 * Shapes of m's values (t: g->n_values entries) for an image input of N x H x W, inferred
 * through nodes [0, upto) whether a tap needs them or not. Returns the first node's error.
 * Folded data is owned by t (tinfo_release).
 */
static int infer_at_size(const graft_model *m, int N, int H, int W, int upto, graft__tinfo *t) {
    const graft__graph *g = m->g;
    for (int v = 0; v < g->n_values; v++) tinfo_init(g, v, &t[v]);
    const graft__value *iv = &g->values[g->input];
    graft__tinfo *ti = &t[g->input];
    int64_t dims[4] = {N, iv->dims[1] > 0 ? iv->dims[1] : 3, H, W};
    ti->rank = 4;
    memcpy(ti->dims, dims, sizeof dims);
    for (int n = 0; n < upto; n++) {
        int err = graft__infer_node(g, &g->nodes[n], t, 0);
        if (err) return err;
    }
    return 0;
}

/* Whether node r can read Flatten f's K features as a convolution: a Gemm or MatMul with A
   the flattened value, untransposed, and a constant matrix of K rows as B. */
static int fc_reader(const graft__graph *g, const graft__node *r, int flat, int64_t K) {
    if (r->n_in < 2 || r->in[0] != flat || r->in[1] < 0 || r->in[1] == flat) return 0;
    if (r->n_in > 2 && r->in[2] == flat) return 0;
    const graft__value *b = &g->values[r->in[1]];
    if (!b->data || b->rank != 2 || b->dtype != GRAFT__F32) return 0;
    if (r->op == GRAFT__OP_GEMM)
        return !r->a.gemm.trans_a && (r->a.gemm.trans_b ? b->dims[1] : b->dims[0]) == K;
    return r->op == GRAFT__OP_MATMUL && b->dims[0] == K;
}

int graft__model_find_fc_sites(graft_model *m) {
    const graft__graph *g = m->g;
    const graft__value *iv = &g->values[g->input];
    if (g->n_inputs != 1 || iv->rank != 4 || iv->dtype != GRAFT__F32 || iv->dims[2] <= 0 ||
        iv->dims[3] <= 0 || iv->dims[2] > (1 << 16) || iv->dims[3] > (1 << 16))
        return 0; /* no trained size to compare with: other sizes keep Gemm's own error */
    /* Most networks have no Flatten feeding a Gemm and pay nothing more. */
    int last = -1;
    for (int n = 0; n < g->n_nodes; n++) {
        const graft__node *nd = &g->nodes[n];
        if ((nd->op != GRAFT__OP_GEMM && nd->op != GRAFT__OP_MATMUL) || nd->n_in < 2 ||
            nd->in[0] < 0)
            continue;
        int p = g->values[nd->in[0]].producer;
        if (p >= 0 && (g->nodes[p].op == GRAFT__OP_FLATTEN || g->nodes[p].op == GRAFT__OP_RESHAPE))
            last = p > last ? p : last;
    }
    if (last < 0) return 0;
    graft__tinfo *t = malloc(sizeof *t * (size_t)g->n_values);
    int (*site)[3] = calloc((size_t)g->n_nodes, sizeof *site);
    if (!t || !site) {
        free(t);
        free(site);
        return graft__fail(GRAFT_ENOMEM, "model: out of memory");
    }
    /* A graph whose shapes do not infer at its own size gets no sites (nets will say why);
       the load itself succeeds, so its message must not linger. */
    char saved[512];
    snprintf(saved, sizeof saved, "%s", graft_last_error());
    int N = iv->dims[0] > 0 && iv->dims[0] <= 4096 ? (int)iv->dims[0] : 1;
    int err = infer_at_size(m, N, (int)iv->dims[2], (int)iv->dims[3], last + 1, t);
    graft__fail(0, "%s", saved);
    int found = 0;
    for (int f = 0; f <= last && !err; f++) {
        const graft__node *nd = &g->nodes[f];
        if ((nd->op != GRAFT__OP_FLATTEN && nd->op != GRAFT__OP_RESHAPE) || nd->n_in < 1 ||
            nd->in[0] < 0)
            continue;
        const graft__tinfo *x = &t[nd->in[0]], *o = &t[nd->out[0]];
        if (x->rank != 4 || !tinfo_known(x) || o->rank != 2 || !tinfo_known(o) ||
            o->dims[0] != x->dims[0] || x->dims[1] > INT32_MAX || x->dims[2] > INT32_MAX ||
            x->dims[3] > INT32_MAX || o->dims[1] != x->dims[1] * x->dims[2] * x->dims[3])
            continue;
        int readers = 0, all = 1;
        for (int r = f + 1; r < g->n_nodes && all; r++)
            for (int i = 0; i < g->nodes[r].n_in; i++)
                if (g->nodes[r].in[i] == nd->out[0]) {
                    readers++;
                    all &= fc_reader(g, &g->nodes[r], nd->out[0], o->dims[1]);
                    break;
                }
        if (!readers || !all) continue;
        site[f][0] = (int)x->dims[1];
        site[f][1] = (int)x->dims[2];
        site[f][2] = (int)x->dims[3];
        found = 1;
    }
    tinfo_release(t, g->n_values);
    free(t);
    if (!found) {
        free(site);
        return 0;
    }
    m->fc_site = site;
    m->fc_input_h = (int)iv->dims[2];
    m->fc_input_w = (int)iv->dims[3];
    return 0;
}

/*
 * The smallest input height (axis 2) or width (axis 3), the other side at the trained size, at
 * which Flatten node f sees at least the map it was trained on; conv and pool sizes only grow
 * with the input, so a bisection finds it. The trained size itself when shapes cannot tell.
 */
static int fc_min_side(const graft_model *m, int f, int axis) {
    const graft__graph *g = m->g;
    int lo = 1, hi = axis == 2 ? m->fc_input_h : m->fc_input_w;
    graft__tinfo *t = malloc(sizeof *t * (size_t)g->n_values);
    if (!t) return hi;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int err = infer_at_size(m, 1, axis == 2 ? mid : m->fc_input_h,
                                axis == 3 ? mid : m->fc_input_w, f, t);
        const graft__tinfo *x = &t[g->nodes[f].in[0]];
        int fits = !err && x->rank == 4 && x->dims[axis] >= m->fc_site[f][axis - 1];
        tinfo_release(t, g->n_values);
        if (fits) hi = mid;
        else lo = mid + 1;
    }
    free(t);
    return hi;
}

/* The error of an input too small for the fully-connected layers after Flatten node f. */
static int fc_too_small(const graft_net *net, int f) {
    const graft__graph *g = net->g;
    const graft__node *nd = &g->nodes[f];
    const int *site = net->m->fc_site[f];
    const graft__tinfo *x = &net->t[nd->in[0]];
    long long got_h = x->dims[2], got_w = x->dims[3];
    /* Named after the layer a user knows: the first one reading the flattened features. */
    const graft__node *reader = nd;
    for (int r = f + 1; r < g->n_nodes && reader == nd; r++)
        for (int i = 0; i < g->nodes[r].n_in; i++)
            if (g->nodes[r].in[i] == nd->out[0]) reader = &g->nodes[r];
    int min_h = fc_min_side(net->m, f, 2), min_w = fc_min_side(net->m, f, 3);
    return graft__fail(GRAFT_EINVAL, "node '%s' (%s): an input of %dx%d is too small for this "
                       "fully-connected layer: it reads a %dx%dx%d map (the trained input is "
                       "%dx%d), this input gives %lldx%lld; the smallest input it takes is "
                       "%dx%d (larger ones run it as a convolution)",
                       reader->name, reader->src_op, net->H, net->W, site[0], site[1], site[2],
                       net->m->fc_input_h, net->m->fc_input_w, got_h, got_w, min_h, min_w);
}

static int fc_refuse(const graft_net *net, const graft__node *n, const char *why) {
    return graft__fail(GRAFT_EUNSUPPORTED, "node '%s' (%s): %s, on the map the fully-connected "
                       "layers give as convolutions (the input %dx%d is larger than the trained "
                       "%dx%d)", n->name[0] ? n->name : net->g->values[n->out[0]].name,
                       n->src_op, why, net->H, net->W, net->m->fc_input_h, net->m->fc_input_w);
}

/* Output 0 of n gets the shape dims (4-D, float) and the fc kind. */
static void fc_set(graft_net *net, const graft__node *n, const int64_t *dims, int kind) {
    graft__tinfo *o = &net->t[n->out[0]];
    if (o->owned) free(o->data);
    memset(o, 0, sizeof *o);
    o->dtype = GRAFT__F32;
    o->rank = 4;
    memcpy(o->dims, dims, sizeof(int64_t) * 4);
    net->fc[n->out[0]] = kind;
}

/*
 * graft__infer_node with fully-connected layers as convolutions (CS231n's "converting FC
 * layers to CONV layers"). A Flatten site (m->fc_site) whose map is larger than the trained
 * (h, w) passes it through as WINDOWS; a Gemm or MatMul on WINDOWS is an h x w convolution and
 * one on a MAP a 1x1 convolution, both giving a MAP (N, N_out, a, b); ops that act per row of
 * the (N, D) a MAP stands for keep it a MAP. Anything else reading a MAP is refused by name.
 */
static int infer_fc(graft_net *net, int ni) {
    const graft__graph *g = net->g;
    const graft__node *n = &g->nodes[ni];
    graft__tinfo *t = net->t;
    const int *site = net->m->fc_site ? net->m->fc_site[ni] : NULL;
    if (site && site[0]) {
        const graft__tinfo *x = &t[n->in[0]];
        if (x->rank == 4 && tinfo_known(x) && x->dims[1] == site[0] &&
            (x->dims[2] != site[1] || x->dims[3] != site[2])) {
            if (x->dims[2] < site[1] || x->dims[3] < site[2]) return fc_too_small(net, ni);
            int64_t dims[4] = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]};
            fc_set(net, n, dims, GRAFT__FC_WINDOWS);
            return 0;
        }
        return graft__infer_node(g, n, t, 0);
    }
    int kind = GRAFT__FC_NONE, which = -1;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0 && net->fc[n->in[i]]) {
            kind = net->fc[n->in[i]];
            which = i;
            break;
        }
    if (!kind) return graft__infer_node(g, n, t, 0);
    int x = n->in[0];
    switch (n->op) {
    case GRAFT__OP_GEMM:
    case GRAFT__OP_MATMUL: {
        const graft__tinfo *a = &t[x], *b = &t[n->in[1]];
        int gemm = n->op == GRAFT__OP_GEMM;
        if (which != 0 || net->fc[n->in[1]] || (gemm && n->n_in > 2 && n->in[2] >= 0 &&
                                                net->fc[n->in[2]]))
            return fc_refuse(net, n, "the map is not its first operand");
        if (!b->data || b->rank != 2 || (gemm && n->a.gemm.trans_a))
            return fc_refuse(net, n, "the weights are not a constant matrix");
        if (gemm && n->n_in > 2 && n->in[2] >= 0 && !net->m->gemm_bias[ni])
            return fc_refuse(net, n, "C is not a bias (one value per output)");
        int tb = gemm && n->a.gemm.trans_b;
        int64_t K = tb ? b->dims[1] : b->dims[0], N_out = tb ? b->dims[0] : b->dims[1];
        int64_t dims[4] = {a->dims[0], N_out, a->dims[2], a->dims[3]}, want = a->dims[1];
        if (kind == GRAFT__FC_WINDOWS) {
            const int *s = net->m->fc_site[g->values[x].producer];
            dims[2] -= s[1] - 1;
            dims[3] -= s[2] - 1;
            want = (int64_t)s[0] * s[1] * s[2];
        }
        if (K != want)
            return graft__fail(GRAFT_EINVAL, "node '%s' (%s): B has %lld rows for %lld features",
                               n->name, n->src_op, (long long)K, (long long)want);
        fc_set(net, n, dims, GRAFT__FC_MAP);
        return 0;
    }
    case GRAFT__OP_SOFTMAX: {
        int64_t axis = n->a.softmax.axis < 0 ? n->a.softmax.axis + 2 : n->a.softmax.axis;
        if (axis != 1) return fc_refuse(net, n, "a softmax over the batch");
    }
        /* fall through */
    case GRAFT__OP_UNARY:
    case GRAFT__OP_IDENTITY:
    case GRAFT__OP_CAST:
    case GRAFT__OP_BATCHNORM: {
        if (which != 0 || kind != GRAFT__FC_MAP || t[x].dtype != GRAFT__F32)
            return fc_refuse(net, n, "the map is not its data input");
        if (n->op == GRAFT__OP_CAST && n->a.cast_to != GRAFT__F32)
            return fc_refuse(net, n, "a cast to integers");
        int err = graft__infer_node(g, n, t, 0);
        if (err) return err;
        int64_t dims[4] = {t[x].dims[0], t[x].dims[1], t[x].dims[2], t[x].dims[3]};
        fc_set(net, n, dims, GRAFT__FC_MAP);
        return 0;
    }
    case GRAFT__OP_BINARY: {
        int map = net->fc[n->in[0]] ? n->in[0] : n->in[1];
        int other = map == n->in[0] ? n->in[1] : n->in[0];
        const graft__tinfo *tm = &t[map], *to = &t[other];
        if (net->fc[other]) {
            if (memcmp(tm->dims, to->dims, sizeof(int64_t) * 4))
                return fc_refuse(net, n, "two maps of different shapes");
        } else {
            int64_t count = tinfo_known(to) ? graft__numel(to) : -1;
            if (!to->data || to->dtype != GRAFT__F32 || to->rank > 2 ||
                !(count == 1 || (count == tm->dims[1] && to->dims[to->rank - 1] == count)))
                return fc_refuse(net, n, "the other operand is not a constant scalar or one "
                                 "value per feature");
        }
        int64_t dims[4] = {tm->dims[0], tm->dims[1], tm->dims[2], tm->dims[3]};
        fc_set(net, n, dims, GRAFT__FC_MAP);
        return 0;
    }
    case GRAFT__OP_FLATTEN:
    case GRAFT__OP_RESHAPE:
    case GRAFT__OP_SQUEEZE:
    case GRAFT__OP_UNSQUEEZE:
    case GRAFT__OP_SHAPE: {
        /* Inferred on the (N, D) the map stands for: a reshape that keeps it is a view (the
           common Flatten after the class scores), a Shape sees (N, D). */
        if (which != 0 || kind != GRAFT__FC_MAP)
            return fc_refuse(net, n, "the map is not its data input");
        graft__tinfo saved = t[x];
        t[x].rank = 2;
        int err = graft__infer_node(g, n, t, 0);
        t[x] = saved;
        if (err || n->op == GRAFT__OP_SHAPE) return err;
        const graft__tinfo *o = &t[n->out[0]];
        if (o->rank != 2 || o->dims[0] != saved.dims[0] || o->dims[1] != saved.dims[1])
            return fc_refuse(net, n, "a reshape of the features");
        int64_t dims[4] = {saved.dims[0], saved.dims[1], saved.dims[2], saved.dims[3]};
        fc_set(net, n, dims, GRAFT__FC_MAP);
        return 0;
    }
    default:
        return fc_refuse(net, n, "this operator cannot run per position");
    }
}

/* ---- creation ---------------------------------------------------------------------------- */

static int64_t node_flops(const graft_net *net, const graft__node *n) {
    const graft__tinfo *o = &net->t[n->out[0]];
    int64_t out = graft__numel(o);
    switch (n->op) {
    case GRAFT__OP_CONV: {
        const graft__tinfo *w = &net->t[n->in[1]];
        return 2 * out * w->dims[1] * w->dims[2] * w->dims[3];
    }
    case GRAFT__OP_GEMM:
    case GRAFT__OP_MATMUL: {
        const graft__tinfo *a = &net->t[n->in[0]], *b = &net->t[n->in[1]];
        int64_t K = n->op == GRAFT__OP_GEMM && n->a.gemm.trans_a ? a->dims[0] : a->dims[a->rank - 1];
        if (net->fc[n->in[0]]) /* a convolution: K is the weights' */
            K = n->op == GRAFT__OP_GEMM && n->a.gemm.trans_b ? b->dims[1] : b->dims[0];
        return 2 * out * K;
    }
    case GRAFT__OP_POOL:
        return out * n->a.pool.p.kernel_h * n->a.pool.p.kernel_w;
    case GRAFT__OP_GLOBAL_POOL:
    case GRAFT__OP_REDUCE:
        return graft__numel(&net->t[n->in[0]]);
    case GRAFT__OP_UNARY:
    case GRAFT__OP_BINARY:
    case GRAFT__OP_BATCHNORM:
    case GRAFT__OP_SOFTMAX:
    case GRAFT__OP_LRN:
        return out;
    default:
        return 0;
    }
}

static int resolve_taps(graft_net *net, const char *const *taps, int tap_count) {
    const graft__graph *g = net->g;
    net->n_taps = tap_count > 0 && taps ? tap_count : 1;
    net->tap_val = calloc((size_t)net->n_taps, sizeof(int));
    net->tap_rank = calloc((size_t)net->n_taps, sizeof(int));
    net->tap_dims = calloc((size_t)net->n_taps, sizeof *net->tap_dims);
    net->tap_out = calloc((size_t)net->n_taps, sizeof(float *));
    if (!net->tap_val || !net->tap_rank || !net->tap_dims || !net->tap_out)
        return graft__fail(GRAFT_ENOMEM, "net: out of memory");
    if (!(tap_count > 0 && taps)) {
        net->tap_val[0] = net->m->default_tap;
        net->default_flatten = 1;
        return 0;
    }
    for (int i = 0; i < tap_count; i++) {
        int v = taps[i] ? graft__graph_find(g, taps[i]) : -1;
        if (v < 0) {
            /* Suggest names that contain the given one, as users type layer names loosely. */
            char hint[256] = "";
            size_t used = 0;
            for (int u = 0; u < g->n_values && used < 200 && taps[i] && taps[i][0]; u++)
                if (strstr(g->values[u].name, taps[i]) && !g->values[u].data)
                    used += (size_t)snprintf(hint + used, sizeof hint - used, "%s'%s'",
                                             used ? ", " : "; did you mean ",
                                             g->values[u].name);
            return graft__fail(GRAFT_EINVAL, "no tensor named '%s' in the model%s (`graft info "
                               "MODEL` lists them)", taps[i] ? taps[i] : "(null)", hint);
        }
        const graft__value *val = &g->values[v];
        if (val->producer < 0 && !val->is_input && !val->data)
            return graft__fail(GRAFT_EINVAL, "tensor '%s' was fused into the node after it "
                               "(e.g. a Conv's output before its ReLU); load the model with "
                               "it in graft_model_options.keep to tap it", taps[i]);
        if (val->dtype != GRAFT__F32)
            return graft__fail(GRAFT_EINVAL, "tensor '%s' is an integer shape tensor, not an "
                               "activation", taps[i]);
        net->tap_val[i] = v;
    }
    return 0;
}

/* Activation bytes a micro-batch may take: about what stays in this class of core's L2 and
   its share of L3 from one layer to the next (see the cliff measured in bench/models). */
#define MICROBATCH_BUDGET ((size_t)8 << 20)

/*
 * Whether every image of a batch goes through the net on its own, judged on a net made for
 * one image: every computed value keeps the batch as its first axis, and no operator works
 * along that axis (softmax, concat, split, slice, gather, reduce or pad over axis 0, a
 * transpose moving it, a Gemm reading A transposed, a product with a computed B).
 */
static int batch_separable(const graft_net *net) {
    const graft__graph *g = net->g;
    for (int s = 0; s < net->n_steps; s++) {
        const graft__step *st = &net->steps[s];
        if (st->kind != GRAFT__STEP_NODE) continue;
        const graft__node *n = &g->nodes[st->node];
        for (int o = 0; o < n->n_out; o++) {
            const graft__tinfo *t = &net->t[n->out[o]];
            if (t->rank < 1 || t->dims[0] != 1) return 0;
        }
        int xr = net->t[st->in[0]].rank;
        int axis = 1;
        switch (n->op) {
        case GRAFT__OP_SOFTMAX: axis = n->a.softmax.axis < 0 ? n->a.softmax.axis + xr : n->a.softmax.axis; break;
        case GRAFT__OP_CONCAT:
        case GRAFT__OP_GATHER:
        case GRAFT__OP_FLATTEN: axis = n->a.axis < 0 ? n->a.axis + xr : n->a.axis; break;
        case GRAFT__OP_SPLIT: axis = n->a.split.axis < 0 ? n->a.split.axis + xr : n->a.split.axis; break;
        case GRAFT__OP_TRANSPOSE: axis = n->a.transpose.n && n->a.transpose.perm[0] == 0; break;
        case GRAFT__OP_GEMM: axis = !n->a.gemm.trans_a; break;
        case GRAFT__OP_MATMUL: axis = net->t[st->in[1]].data != NULL; break;
        case GRAFT__OP_SLICE: axis = 0; break; /* conservative: slices rarely matter here */
        case GRAFT__OP_REDUCE: {
            int mark[GRAFT__MAX_RANK];
            axis = !graft__reduce_mask(n, net->t, mark) && !mark[0];
            break;
        }
        case GRAFT__OP_PAD: {
            const int64_t *p = net->t[n->in[1]].data;
            axis = p && !p[0] && !p[xr];
            break;
        }
        default: break;
        }
        if (axis == 0) return 0;
    }
    for (int i = 0; i < net->n_taps; i++) {
        const graft__tinfo *t = &net->t[net->tap_val[i]];
        if (t->rank < 1 || t->dims[0] != 1) return 0;
    }
    return 1;
}

/*
 * Weights of the fully-connected layers a net runs: each micro-batch streams them again, so
 * nets with large ones (AlexNet's and VGG's 100-400 MB fc6) run on the whole batch instead.
 */
#define MICROBATCH_FC_LIMIT ((size_t)16 << 20)

/*
 * The same holds for all the weights: every pass reads them again, while it saves the
 * activations' trips to memory. Measured at batch 32, one thread, 1 image per pass against
 * the whole batch: micro-batching wins for mobilenet_v2, efficientnet_b0, regnet_y_400mf and
 * densenet121 (weights 2.5-7x one image's activation arena; 13-19% faster) and loses for
 * resnet18, resnet50 and googlenet (17-40x; 16-35% slower) and for squeezenet1_1 (3x, 27%
 * slower, the one this rule gets wrong). Weights up to 10x the arena micro-batch.
 */
#define MICROBATCH_WEIGHT_RATIO 10
static size_t fc_weight_bytes(const graft_net *net) {
    size_t bytes = 0;
    for (int s = 0; s < net->n_steps; s++) {
        const graft__step *st = &net->steps[s];
        if (st->kind != GRAFT__STEP_NODE) continue;
        const graft__node *n = &net->g->nodes[st->node];
        if (n->op == GRAFT__OP_GEMM || n->op == GRAFT__OP_MATMUL)
            bytes += (size_t)graft__numel(&net->t[st->in[1]]) * 4;
    }
    return bytes;
}

static int wrap_microbatch(graft_net *inner, int N, int sub, graft_net **out) {
    graft_net *w = calloc(1, sizeof *w);
    if (!w) return graft__fail(GRAFT_ENOMEM, "net: out of memory");
    w->m = inner->m;
    w->g = inner->g;
    w->N = N, w->H = inner->H, w->W = inner->W;
    w->image_nhwc = 1;
    w->inner = inner;
    w->sub = sub;
    w->n_taps = inner->n_taps;
    w->tap_val = calloc((size_t)w->n_taps, sizeof(int));
    w->tap_rank = calloc((size_t)w->n_taps, sizeof(int));
    w->tap_dims = calloc((size_t)w->n_taps, sizeof *w->tap_dims);
    w->tap_out = calloc((size_t)w->n_taps, sizeof(float *));
    int err = !w->tap_val || !w->tap_rank || !w->tap_dims || !w->tap_out;
    for (int i = 0; i < w->n_taps && !err; i++) {
        w->tap_val[i] = inner->tap_val[i];
        w->tap_rank[i] = inner->tap_rank[i];
        memcpy(w->tap_dims[i], inner->tap_dims[i], sizeof w->tap_dims[i]);
        w->tap_dims[i][0] = inner->tap_dims[i][0] / sub * N;
        int64_t k = 1;
        for (int d = 0; d < w->tap_rank[i]; d++) k *= w->tap_dims[i][d];
        w->tap_out[i] = malloc(sizeof(float) * (size_t)(k ? k : 1));
        err = !w->tap_out[i];
    }
    if (err) {
        w->inner = NULL;
        graft_net_destroy(w);
        return graft__fail(GRAFT_ENOMEM, "net: out of memory");
    }
    *out = w;
    return 0;
}

int graft_net_create(graft_model *m, int N, int H, int W, const char *const *taps, int tap_count,
                     const graft_tap_options *opts, graft_net **out) {
    if (!m || !out) return graft__fail(GRAFT_EINVAL, "graft_net_create: NULL argument");
    if (N < 1 || H < 1 || W < 1 || N > (1 << 20) || H > (1 << 16) || W > (1 << 16))
        return graft__fail(GRAFT_EINVAL, "graft_net_create: input %d x %d x %d is out of range",
                           N, H, W);
    const graft__graph *g = m->g;
    if (g->n_inputs != 1)
        return graft__fail(GRAFT_EUNSUPPORTED, "the model has %d inputs; graft runs networks "
                           "with one image input", g->n_inputs);
    const graft__value *iv = &g->values[g->input];
    if (iv->dtype != GRAFT__F32 || (iv->rank >= 0 && iv->rank != 4))
        return graft__fail(GRAFT_EUNSUPPORTED, "input '%s' is not a float (N, C, H, W) image "
                           "batch", iv->name);
    graft__net_input in = {.rank = 4};
    in.dims[0] = N;
    in.dims[1] = iv->rank == 4 && iv->dims[1] > 0 ? iv->dims[1] : 3;
    if (in.dims[1] > 4096)
        return graft__fail(GRAFT_ERANGE, "input '%s' has %lld channels", iv->name,
                           (long long)in.dims[1]);
    in.dims[2] = H;
    in.dims[3] = W;
    if (N == 1) return graft__net_create_ex(m, &in, 1, taps, tap_count, opts, 1, out);
    /* Plan one image first: its arena says how many images fit the cache budget. */
    graft_net *one = NULL, *inner = NULL;
    in.dims[0] = 1;
    int err = graft__net_create_ex(m, &in, 1, taps, tap_count, opts, 1, &one);
    if (err) return err;
    int sub = N;
    const char *env = getenv("GRAFT_MICROBATCH");
    size_t per = one->arena_bytes ? one->arena_bytes : 1;
    int forced = env && atoi(env) >= 1;
    if (batch_separable(one) &&
        (forced || (fc_weight_bytes(one) <= MICROBATCH_FC_LIMIT &&
                    graft_model_weight_bytes(m) <= MICROBATCH_WEIGHT_RATIO * per))) {
        int limit = forced ? atoi(env) : (int)(MICROBATCH_BUDGET / per);
        if (limit < 1) limit = 1;
        for (sub = limit < N ? limit : N; N % sub; sub--) {
        }
    }
    if (sub == 1) {
        inner = one;
    } else {
        graft_net_destroy(one);
        in.dims[0] = sub;
        err = graft__net_create_ex(m, &in, 1, taps, tap_count, opts, 1, &inner);
        if (err) return err;
        if (sub == N) {
            *out = inner;
            return 0;
        }
    }
    err = wrap_microbatch(inner, N, sub, out);
    if (err) {
        graft_net_destroy(inner);
        return err;
    }
    /*
     * Passes per thread: with at least two passes for each thread, every further thread gets
     * an inner net of its own (its arena costs one more pass's activations). Measured on
     * MobileNetV2 at batch 32 and two threads: 1.5x one thread's speed with each layer split
     * between the cores, about 1.9x with a pass per thread (ONNX Runtime: 0.82x -> 1.09x).
     */
    int threads = graft_threads_get(), passes = N / sub;
    if (threads > 1 && passes >= 2 * threads) {
        graft_net *w = *out;
        w->lanes = calloc((size_t)threads - 1, sizeof *w->lanes);
        in.dims[0] = sub;
        for (int i = 0; w->lanes && i < threads - 1 && !err; i++) {
            err = graft__net_create_ex(m, &in, 1, taps, tap_count, opts, 1, &w->lanes[i]);
            if (!err) w->n_lanes++;
        }
        if (!w->lanes || err) {
            graft_net_destroy(w);
            *out = NULL;
            return err ? err : graft__fail(GRAFT_ENOMEM, "net: out of memory");
        }
    }
    return 0;
}

int graft__net_create_ex(graft_model *m, const graft__net_input *inputs, int n_inputs,
                         const char *const *taps, int tap_count, const graft_tap_options *opts,
                         int image_nhwc, graft_net **out) {
    const graft__graph *g = m->g;
    if (n_inputs != g->n_inputs)
        return graft__fail(GRAFT_EINVAL, "the model has %d inputs, %d given", g->n_inputs,
                           n_inputs);
    graft_net *net = calloc(1, sizeof *net);
    if (!net) return graft__fail(GRAFT_ENOMEM, "net: out of memory");
    net->m = m;
    net->g = g;
    net->image_nhwc = image_nhwc;
    net->N = (int)inputs[0].dims[0];
    net->H = inputs[0].rank == 4 ? (int)inputs[0].dims[2] : 1;
    net->W = inputs[0].rank == 4 ? (int)inputs[0].dims[3] : 1;
    if (opts) net->tap_opts = *opts;
    planner pl = {.net = net};
    int err = grow_values(net, g->n_values + 16, &pl.cap_vals);
    int *needed = calloc((size_t)g->n_nodes + 1, sizeof(int));
    int *stack = malloc(sizeof(int) * ((size_t)g->n_values + 1));
    pl.twin_nhwc = malloc(sizeof(int) * ((size_t)g->n_values + 1));
    pl.twin_nchw = malloc(sizeof(int) * ((size_t)g->n_values + 1));
    net->flops = calloc((size_t)g->n_nodes + 1, sizeof(int64_t));
    net->opname = calloc((size_t)g->n_nodes + 1, sizeof *net->opname);
    if (!err && (!needed || !stack || !pl.twin_nhwc || !pl.twin_nchw || !net->flops ||
                 !net->opname))
        err = graft__fail(GRAFT_ENOMEM, "net: out of memory");
    if (!err) err = resolve_taps(net, taps, tap_count);
    if (err) goto fail;
    net->n_vals = g->n_values;
    for (int v = 0; v < g->n_values; v++) {
        tinfo_init(g, v, &net->t[v]);
        net->nhwc[v] = 0;
        net->fc[v] = GRAFT__FC_NONE;
        net->alias[v] = -1;
        net->ptr[v] = NULL;
        pl.twin_nhwc[v] = pl.twin_nchw[v] = -1;
    }
    for (int i = 0; i < n_inputs; i++) {
        int v = g->inputs[i];
        graft__tinfo *ti = &net->t[v];
        const graft__value *gv = &g->values[v];
        if (inputs[i].rank < 0 || inputs[i].rank > GRAFT__MAX_RANK ||
            (gv->rank >= 0 && gv->rank != inputs[i].rank)) {
            err = graft__fail(GRAFT_EINVAL, "input '%s': rank %d given, the model says %d",
                              gv->name, inputs[i].rank, gv->rank);
            goto fail;
        }
        ti->rank = inputs[i].rank;
        memcpy(ti->dims, inputs[i].dims, sizeof(int64_t) * (size_t)ti->rank);
        for (int d = 0; d < ti->rank; d++)
            if (ti->dims[d] < 0 || (gv->rank > 0 && gv->dims[d] >= 0 && gv->dims[d] != ti->dims[d] &&
                                    !(i == 0 && image_nhwc && d != 1))) {
                err = graft__fail(GRAFT_EINVAL, "input '%s': dimension %d is %lld, the model "
                                  "says %lld", gv->name, d, (long long)ti->dims[d],
                                  (long long)gv->dims[d]);
                goto fail;
            }
        if (gv->dtype == GRAFT__I64) {
            size_t bytes = sizeof(int64_t) * (size_t)graft__numel(ti);
            if (!inputs[i].data) {
                err = graft__fail(GRAFT_EINVAL, "integer input '%s' needs its values", gv->name);
                goto fail;
            }
            ti->data = malloc(bytes ? bytes : 1);
            if (!ti->data) {
                err = graft__fail(GRAFT_ENOMEM, "net: out of memory");
                goto fail;
            }
            memcpy(ti->data, inputs[i].data, bytes);
            ti->owned = 1;
        }
        net->nhwc[v] = i == 0 && image_nhwc && ti->rank == 4;
    }
    /* The cut: nodes the taps depend on. */
    int sp = 0;
    for (int i = 0; i < net->n_taps; i++) stack[sp++] = net->tap_val[i];
    int *seen = calloc((size_t)g->n_values + 1, sizeof(int));
    if (!seen) {
        err = graft__fail(GRAFT_ENOMEM, "net: out of memory");
        goto fail;
    }
    while (sp) {
        int v = stack[--sp];
        if (seen[v]++) continue;
        int p = g->values[v].producer;
        if (p < 0 || needed[p]) continue;
        needed[p] = 1;
        for (int i = 0; i < g->nodes[p].n_in; i++)
            if (g->nodes[p].in[i] >= 0 && !seen[g->nodes[p].in[i]] && sp < g->n_values)
                stack[sp++] = g->nodes[p].in[i];
    }
    free(seen);
    /* Shapes and folding, in topological order. */
    for (int n = 0; n < g->n_nodes && !err; n++) {
        if (!needed[n]) continue;
        const graft__node *nd = &g->nodes[n];
        err = infer_fc(net, n);
        for (int o = 0; o < nd->n_out && !err; o++) {
            const graft__tinfo *t = &net->t[nd->out[o]];
            int ok = t->rank >= 0;
            int64_t numel = 1;
            for (int d = 0; d < t->rank && ok; d++) {
                ok &= t->dims[d] >= 0 && (!t->dims[d] || numel <= MAX_ELEMENTS / t->dims[d]);
                numel *= t->dims[d];
            }
            if (!ok)
                err = graft__fail(t->rank < 0 ? GRAFT_EINVAL : GRAFT_ERANGE, "node '%s' (%s): "
                                  "the shape of '%s' is unknown or above 2^31 elements",
                                  nd->name, nd->src_op, g->values[nd->out[o]].name);
        }
        if (err) break;
        int folded = 1;
        for (int o = 0; o < nd->n_out; o++) folded &= net->t[nd->out[o]].data != NULL;
        if (folded) needed[n] = 0; /* computed at creation */
        else {
            for (int i = 0; i < nd->n_in; i++) {
                int v = nd->in[i];
                /* Integer data that is not folded away would reach float kernels. */
                if (v >= 0 && net->t[v].dtype == GRAFT__I64 && (!net->t[v].data || i == 0))
                    err = graft__fail(GRAFT_EUNSUPPORTED, "node '%s' (%s): computes with integer "
                                      "tensors that depend on image data", nd->name, nd->src_op);
            }
            if (!err && net->t[nd->out[0]].dtype != GRAFT__F32)
                err = graft__fail(GRAFT_EUNSUPPORTED, "node '%s' (%s): integer results at run "
                                  "time are not supported", nd->name, nd->src_op);
        }
    }
    if (err) goto fail;
    for (int i = 0; i < net->n_taps; i++) {
        int v = net->tap_val[i];
        int shaped = net->t[v].rank >= 0;
        for (int d = 0; d < net->t[v].rank; d++) shaped &= net->t[v].dims[d] >= 0;
        if (!shaped) {
            err = graft__fail(GRAFT_EINVAL, "tap '%s': no shape (a tensor nothing computes)",
                              g->values[v].name);
            goto fail;
        }
        if (net->t[v].dtype != GRAFT__F32) {
            err = graft__fail(GRAFT_EUNSUPPORTED, "tap '%s' is an integer tensor (shapes and "
                              "indices are computed when the net is made, not output)",
                              g->values[v].name);
            goto fail;
        }
    }
    /* Layouts and steps. */
    for (int n = 0; n < g->n_nodes && !err; n++)
        if (needed[n]) err = plan_node(&pl, n);
    if (err) goto fail;
    /* Conv plans for this size when the model could not pack them (SAME padding). */
    for (int s = 0; s < net->n_steps && !err; s++) {
        graft__step *st = &net->steps[s];
        if (st->kind != GRAFT__STEP_NODE || g->nodes[st->node].op != GRAFT__OP_CONV) continue;
        const graft__node *nd = &g->nodes[st->node];
        st->plan = m->conv_plan[st->node];
        if (st->plan) continue;
        if (!g->values[nd->in[1]].data ||
            (nd->n_in > 2 && nd->in[2] >= 0 && !g->values[nd->in[2]].data))
            continue; /* weights fed at run time: layers.c packs per call */
        const graft__tinfo *x = &net->t[st->in[0]];
        const graft_conv2d *d = &nd->a.conv.d;
        int pin[4] = {d->pad_top, d->pad_left, d->pad_bottom, d->pad_right}, p[4];
        const graft__tinfo *w = &net->t[nd->in[1]];
        graft__resolve_pads(nd->a.conv.auto_pad, (int)x->dims[2], (int)x->dims[3],
                            (int)w->dims[2], (int)w->dims[3], d->stride_h, d->stride_w,
                            d->dilation_h, d->dilation_w, pin, p);
        graft_conv2d_plan **np = realloc(net->own_plans, sizeof *np * (size_t)(net->n_own_plans + 1));
        if (!np) {
            err = graft__fail(GRAFT_ENOMEM, "net: out of memory");
            break;
        }
        net->own_plans = np;
        err = graft__model_conv_plan(g, nd, p, 0, &np[net->n_own_plans]);
        if (!err) st->plan = np[net->n_own_plans++];
    }
    if (!err) err = plan_memory(net);
    if (!err) err = bind_storage(net);
    if (err) goto fail;
    for (int n = 0; n < g->n_nodes; n++)
        if (needed[n]) net->flops[n] = node_flops(net, &g->nodes[n]);
    /* Tap buffers. */
    size_t tmp_floats = 0;
    for (int i = 0; i < net->n_taps; i++) {
        const graft__tinfo *t = &net->t[net->tap_val[i]];
        int pool = net->tap_opts.pool != GRAFT_TAP_POOL_NONE && t->rank == 4;
        if (pool || (net->default_flatten && t->rank == 4 && t->dims[2] * t->dims[3] == 1)) {
            net->tap_rank[i] = 2;
            net->tap_dims[i][0] = t->dims[0];
            net->tap_dims[i][1] = t->dims[1];
        } else {
            net->tap_rank[i] = t->rank;
            memcpy(net->tap_dims[i], t->dims, sizeof(int64_t) * (size_t)t->rank);
        }
        int64_t k = 1;
        for (int d = 0; d < net->tap_rank[i]; d++) k *= net->tap_dims[i][d];
        net->tap_out[i] = malloc(sizeof(float) * (size_t)(k ? k : 1));
        if (!net->tap_out[i]) {
            err = graft__fail(GRAFT_ENOMEM, "net: out of memory for tap '%s'",
                              g->values[net->tap_val[i]].name);
            goto fail;
        }
        /* ReLU before pooling needs the whole map once: one scratch for every tap. */
        if (net->tap_opts.relu && pool && (size_t)graft__numel(t) > tmp_floats)
            tmp_floats = (size_t)graft__numel(t);
    }
    if (tmp_floats && !(net->tap_tmp = malloc(sizeof(float) * tmp_floats))) {
        err = graft__fail(GRAFT_ENOMEM, "net: out of memory for the tap scratch");
        goto fail;
    }
fail:
    free(needed);
    free(stack);
    free(pl.twin_nhwc);
    free(pl.twin_nchw);
    if (err) {
        graft_net_destroy(net);
        return err;
    }
    *out = net;
    return 0;
}

void graft_net_destroy(graft_net *net) {
    if (!net) return;
    graft_net_destroy(net->inner);
    for (int i = 0; i < net->n_lanes; i++) graft_net_destroy(net->lanes[i]);
    free(net->lanes);
    for (int v = 0; v < net->n_vals && net->t; v++)
        if (net->t[v].owned) free(net->t[v].data);
    for (int s = 0; s < net->n_steps; s++) free(net->steps[s].in);
    for (int i = 0; i < net->n_own_plans; i++) graft_conv2d_plan_destroy(net->own_plans[i]);
    for (int i = 0; i < net->n_taps && net->tap_out; i++) free(net->tap_out[i]);
    if (net->arena) munmap(net->arena, net->arena_bytes);
    free(net->own_plans);
    free(net->steps);
    free(net->t);
    free(net->nhwc);
    free(net->fc);
    free(net->alias);
    free(net->ptr);
    free(net->offset);
    free(net->def_step);
    free(net->last_step);
    free(net->staging);
    free(net->fed);
    free(net->fed_root);
    free(net->tap_tmp);
    free(net->tap_val);
    free(net->tap_rank);
    free(net->tap_dims);
    free(net->tap_out);
    free(net->flops);
    free(net->opname);
    free(net);
}

/* ---- running ----------------------------------------------------------------------------- */

static int finish_tap(graft_net *net, int i) {
    int v = net->tap_val[i];
    const graft__tinfo *t = &net->t[v];
    const float *src = net->ptr[v];
    float *dst = net->tap_out[i];
    int64_t numel = graft__numel(t);
    int pool = net->tap_opts.pool != GRAFT_TAP_POOL_NONE && t->rank == 4;
    int err = 0;
    if (!numel) return 0;
    if (!src)
        return graft__fail(GRAFT_EINVAL, "tap '%s' has no storage (nothing computes it)",
                           net->g->values[v].name);
    if (pool) {
        int kind = net->tap_opts.pool == GRAFT_TAP_POOL_MAX ? GRAFT_POOL_MAX : GRAFT_POOL_AVG;
        const float *x = src;
        if (net->tap_opts.relu) {
            graft_unary_op r = {GRAFT_UNARY_RELU, 0, 0};
            err = graft_unary_apply(&r, net->tap_tmp, src, (size_t)numel);
            x = net->tap_tmp;
        }
        if (!err && net->nhwc[v])
            err = graft_global_pool_nhwc(kind, dst, x, (int)t->dims[0], (int)t->dims[2],
                                         (int)t->dims[3], (int)t->dims[1]);
        else if (!err) {
            /* NCHW: each (n, c) plane reduced in order */
            int64_t P = t->dims[2] * t->dims[3];
            for (int64_t nc = 0; nc < t->dims[0] * t->dims[1]; nc++) {
                float acc = kind == GRAFT_POOL_MAX ? x[nc * P] : 0.0f;
                for (int64_t p = 0; p < P; p++) {
                    float e = x[nc * P + p];
                    if (kind == GRAFT_POOL_MAX) acc = e > acc ? e : acc;
                    else acc += e;
                }
                dst[nc] = kind == GRAFT_POOL_MAX ? acc : acc * (1.0f / (float)P);
            }
        }
        return err;
    }
    if (net->nhwc[v] && t->rank == 4 && !layout_free(t))
        err = graft_nhwc_to_nchw(dst, src, (int)t->dims[0], (int)t->dims[1], (int)t->dims[2],
                                 (int)t->dims[3]);
    else
        memcpy(dst, src, sizeof(float) * (size_t)numel);
    if (!err && net->tap_opts.relu) {
        graft_unary_op r = {GRAFT_UNARY_RELU, 0, 0};
        err = graft_unary_apply(&r, dst, dst, (size_t)numel);
    }
    return err;
}

/* Passes of a micro-batched net, run in order or one thread's inner net each. */
typedef struct pass_job {
    graft_net *net;
    const float *x;
    graft_layout layout;
    int passes;
    int err;       /* the first failure, with its message */
    char msg[512];
} pass_job;

/* Pass c through `inner` (the wrapper's or a lane), its taps copied into the wrapper's. */
static int run_pass(const pass_job *J, graft_net *inner, int c) {
    const graft_net *net = J->net;
    size_t per_pass = (size_t)graft__numel(&inner->t[net->g->input]); /* either layout */
    int err = graft_net_run(inner, J->x + (size_t)c * per_pass, J->layout);
    if (err) return err;
    for (int i = 0; i < net->n_taps; i++) {
        int64_t k = 1;
        for (int d = 0; d < inner->tap_rank[i]; d++) k *= inner->tap_dims[i][d];
        memcpy(net->tap_out[i] + (size_t)c * (size_t)k, inner->tap_out[i],
               sizeof(float) * (size_t)k);
    }
    return 0;
}

static pthread_mutex_t pass_err_mu = PTHREAD_MUTEX_INITIALIZER;

static void pass_task(void *ctx, int c, int thread) {
    pass_job *J = ctx;
    graft_net *inner = thread ? J->net->lanes[thread - 1] : J->net->inner;
    int err = run_pass(J, inner, c);
    if (!err) return;
    pthread_mutex_lock(&pass_err_mu);
    if (!J->err) {
        J->err = err;
        snprintf(J->msg, sizeof J->msg, "%s", graft_last_error());
    }
    pthread_mutex_unlock(&pass_err_mu);
}

int graft_net_run(graft_net *net, const float *x, graft_layout layout) {
    return graft_net_run_partial(net, x, layout, net ? net->N : 0);
}

int graft_net_run_partial(graft_net *net, const float *x, graft_layout layout, int n) {
    if (!net || !x) return graft__fail(GRAFT_EINVAL, "graft_net_run: NULL argument");
    if (n < 1 || n > net->N)
        return graft__fail(GRAFT_EINVAL, "graft_net_run: %d images for a net of %d", n, net->N);
    if (net->inner) {
        pass_job J = {net, x, layout, (n + net->sub - 1) / net->sub, 0, ""};
        int threads;
        /* Inside a pool task, or with the thread count changed, the region's count differs. */
        if (net->n_lanes && J.passes >= 2 * (net->n_lanes + 1) &&
            graft__pool_begin(0, &threads) == GRAFT_OK) {
            if (threads == net->n_lanes + 1) {
                graft__pool_run(J.passes, pass_task, &J);
                graft__pool_end();
                if (J.err) return graft__fail(J.err, "%s", J.msg);
                return 0;
            }
            graft__pool_end();
        }
        for (int c = 0; c < J.passes; c++) {
            int err = run_pass(&J, net->inner, c);
            if (err) return err;
        }
        return 0;
    }
    const graft__tinfo *ti = &net->t[net->g->input];
    if (layout == GRAFT_LAYOUT_NCHW && net->image_nhwc && !layout_free(ti)) {
        if (!net->staging) {
            net->staging = malloc(sizeof(float) * (size_t)graft__numel(ti));
            if (!net->staging) return graft__fail(GRAFT_ENOMEM, "net: out of memory for input");
        }
        int err = graft_nchw_to_nhwc(net->staging, x, (int)ti->dims[0], (int)ti->dims[1],
                                     (int)ti->dims[2], (int)ti->dims[3]);
        if (err) return err;
        x = net->staging;
    }
    const float *in[1] = {x};
    return graft__net_run_ex(net, in);
}

int graft__net_run_ex(graft_net *net, const float *const *inputs) {
    const graft__graph *g = net->g;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (net->t[v].dtype == GRAFT__F32) {
            if (!inputs[i] && graft__numel(&net->t[v]))
                return graft__fail(GRAFT_EINVAL, "input '%s' is NULL", g->values[v].name);
            net->ptr[v] = (float *)inputs[i]; /* read only: no step writes to an input */
        }
    }
    for (int i = 0; i < net->n_fed; i++) net->ptr[net->fed[i]] = net->ptr[net->fed_root[i]];
    for (int s = 0; s < net->n_steps; s++) {
        const graft__step *st = &net->steps[s];
        int err;
        if (st->kind == GRAFT__STEP_NODE) {
            err = graft__layer_forward(net, st);
            if (err) {
                const graft__node *n = &g->nodes[st->node];
                char msg[512];
                snprintf(msg, sizeof msg, "%s", graft_last_error());
                return graft__fail(err, "node '%s' (%s): %s", n->name, n->src_op, msg);
            }
            continue;
        }
        const graft__tinfo *t = &net->t[st->src];
        int dN = (int)t->dims[0], dC = (int)t->dims[1], dH = (int)t->dims[2], dW = (int)t->dims[3];
        err = st->kind == GRAFT__STEP_TO_NHWC
                  ? graft_nchw_to_nhwc(net->ptr[st->dst], net->ptr[st->src], dN, dC, dH, dW)
                  : graft_nhwc_to_nchw(net->ptr[st->dst], net->ptr[st->src], dN, dC, dH, dW);
        if (err) return err;
    }
    for (int i = 0; i < net->n_taps; i++) {
        int err = finish_tap(net, i);
        if (err) return err;
    }
    return 0;
}

int graft_net_tap(const graft_net *net, int i, const float **data, int *rank, int64_t *dims) {
    if (!net || i < 0 || i >= net->n_taps)
        return graft__fail(GRAFT_EINVAL, "graft_net_tap: no tap %d", i);
    if (data) *data = net->tap_out[i];
    if (rank) *rank = net->tap_rank[i];
    if (dims) memcpy(dims, net->tap_dims[i], sizeof(int64_t) * (size_t)net->tap_rank[i]);
    return 0;
}

int graft_net_class_probs(const graft_net *net, int tap, int image, float *p, int64_t K) {
    if (!net || tap < 0 || tap >= net->n_taps || !p)
        return graft__fail(GRAFT_EINVAL, "graft_net_class_probs: no tap %d", tap);
    int rank = net->tap_rank[tap];
    const int64_t *dims = net->tap_dims[tap];
    if (image < 0 || image >= dims[0] || rank < 2 || rank == 3 || rank > 4 || dims[1] != K)
        return graft__fail(GRAFT_EINVAL, "graft_net_class_probs: tap '%s' is not scores of %lld "
                           "classes for image %d", graft_net_tap_name(net, tap), (long long)K,
                           image);
    int64_t P = rank == 4 ? dims[2] * dims[3] : 1;
    const float *y = net->tap_out[tap] + (size_t)image * (size_t)(K * P);
    float *v = malloc(sizeof(float) * 2 * (size_t)(K ? K : 1)), *vp = v + K;
    if (!v) return graft__fail(GRAFT_ENOMEM, "graft_net_class_probs: out of memory");
    memset(p, 0, sizeof(float) * (size_t)K);
    for (int64_t pos = 0; pos < P; pos++) {
        double sum = 0;
        int is_prob = 1;
        for (int64_t k = 0; k < K; k++) {
            v[k] = y[k * P + pos];
            sum += v[k];
            if (!(v[k] >= 0 && v[k] <= 1)) is_prob = 0;
        }
        /* Scores that already are probabilities (a model ending in Softmax) are taken as they
           are: a second softmax would flatten them towards uniform. */
        if (is_prob && fabs(sum - 1.0) < 1e-3) memcpy(vp, v, sizeof(float) * (size_t)K);
        else graft_softmax(vp, v, 1, (size_t)K, 0);
        for (int64_t k = 0; k < K; k++) p[k] += P == 1 ? vp[k] : vp[k] / (float)P;
    }
    free(v);
    return 0;
}

int graft_net_tap_count(const graft_net *net) { return net->n_taps; }
const char *graft_net_tap_name(const graft_net *net, int i) {
    return i >= 0 && i < net->n_taps ? net->g->values[net->tap_val[i]].name : NULL;
}
int graft_net_microbatch(const graft_net *net) { return net->inner ? net->sub : net->N; }

size_t graft_net_activation_bytes(const graft_net *net) {
    return net->inner ? net->inner->arena_bytes * (size_t)(1 + net->n_lanes) : net->arena_bytes;
}

/* ---- listing ----------------------------------------------------------------------------- */

int graft_net_node_count(const graft_net *net) { return net->g->n_nodes; }

int graft_net_node_info(const graft_net *net, int i, graft_node_info *out) {
    if (net && net->inner) {
        int err = graft_net_node_info(net->inner, i, out);
        if (err) return err;
        out->flops = out->flops / net->sub * net->N;
        if (out->rank) out->dims[0] = out->dims[0] / net->sub * net->N;
        return 0;
    }
    if (!net || !out || i < 0 || i >= net->g->n_nodes)
        return graft__fail(GRAFT_EINVAL, "graft_net_node_info: no node %d", i);
    const graft__graph *g = net->g;
    const graft__node *n = &g->nodes[i];
    memset(out, 0, sizeof *out);
    out->name = n->name[0] ? n->name : g->values[n->out[0]].name;
    const char *op = n->src_op;
    /* A fused activation shows in the name, whichever importer set it. */
    graft_act act = n->op == GRAFT__OP_BINARY ? n->a.binary.act
                  : n->op == GRAFT__OP_CONV   ? n->a.conv.d.act
                  : n->op == GRAFT__OP_GEMM   ? n->a.gemm.act : GRAFT_ACT_NONE;
    if (act != GRAFT_ACT_NONE && !strchr(op, '+')) {
        snprintf(net->opname[i], sizeof net->opname[i], "%s+%s", op,
                 act == GRAFT_ACT_RELU6 ? "Relu6" : "Relu");
        op = net->opname[i];
    }
    int fc = n->n_in && n->in[0] >= 0 ? net->fc[n->in[0]] : GRAFT__FC_NONE;
    if (fc && (n->op == GRAFT__OP_GEMM || n->op == GRAFT__OP_MATMUL) &&
        net->t[n->out[0]].rank == 4) {
        /* Run as a convolution: say so, with the kernel. */
        const int *s = fc == GRAFT__FC_WINDOWS ? net->m->fc_site[g->values[n->in[0]].producer]
                                               : NULL;
        char plain[24];
        snprintf(plain, sizeof plain, "%s", op);
        snprintf(net->opname[i], sizeof net->opname[i], "%s as %dx%d conv", plain,
                 s ? s[1] : 1, s ? s[2] : 1);
        op = net->opname[i];
    }
    out->op = op;
    out->output = g->values[n->out[0]].name;
    const graft__tinfo *t = &net->t[n->out[0]];
    out->rank = t->rank < 0 ? 0 : t->rank;
    memcpy(out->dims, t->dims, sizeof(int64_t) * (size_t)out->rank);
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v >= 0 && g->values[v].is_weight && g->values[v].producer < 0)
            out->params += graft__value_numel(&g->values[v]);
    }
    out->flops = net->flops[i];
    return 0;
}
