/*
 * pipeline/finetune/top.c: the trainable top of a network (graft_top, include/graft/finetune.h):
 * finding the part of the graph after the freeze point, turning its nodes into layers with
 * their own copies of the weights, a new classifier, and the passes over them (forward,
 * loss, backward, SGD).
 *
 * Where it sits: after the frozen trunk (a graft_net tapped at the freeze tensor, or the cache
 * of its activations); the fine-tuning run (pipeline/loop/finetune.c) feeds it batches. The
 * arithmetic is the kernels' (convolution, GEMM, pooling, batch norm and their backward
 * passes); the layers in this folder are the glue, one file per layer type.
 *
 * Not here: the trunk (graft_net runs it), the data (the extract pipeline), checkpoint files
 * (checkpoint.c) and ONNX export (export.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "top_internal.h"
#include "../net/net.h"
#include "kernels.h"

#define TOP_DEFAULT_TRAINABLE 6 /* weighted layers the default freeze point leaves trainable */

/* ---- values, parameters, layers ---- */

static int add_val(graft_top *t, const char *name, int rank, const int64_t *dims) {
    if (t->n_vals == t->cap_vals) {
        int cap = t->cap_vals ? t->cap_vals * 2 : 32;
        graft__tval *nv = realloc(t->vals, sizeof *nv * (size_t)cap);
        if (!nv) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
        t->vals = nv, t->cap_vals = cap;
    }
    graft__tval *v = &t->vals[t->n_vals];
    memset(v, 0, sizeof *v);
    if (rank < 1 || rank > 4)
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: tensor '%s' has rank %d; the top "
                           "trains on 2-D and 4-D values only", name, rank);
    v->name = strdup(name);
    if (!v->name) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    v->rank = rank;
    v->per = 1;
    for (int d = 0; d < rank; d++) {
        v->dims[d] = d == 0 ? t->N : dims[d];
        if (d) v->per *= (size_t)dims[d];
    }
    v->nhwc = rank == 4;
    return t->n_vals++;
}

int graft__top_add_param(graft_top *t, const char *name, const char *layer, int rank,
                         const int64_t *dims, const float *init, float lr_mult, int is_new) {
    if (t->n_params == t->cap_params) {
        int cap = t->cap_params ? t->cap_params * 2 : 32;
        graft_top_param *np = realloc(t->params, sizeof *np * (size_t)cap);
        if (!np) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
        t->params = np;
        float **nm = realloc(t->momentum, sizeof *nm * (size_t)cap);
        if (!nm) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
        t->momentum = nm;
        int *nf = realloc(t->param_fan_in, sizeof *nf * (size_t)cap);
        if (!nf) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
        t->param_fan_in = nf;
        t->cap_params = cap;
    }
    graft_top_param *p = &t->params[t->n_params];
    memset(p, 0, sizeof *p);
    size_t numel = 1;
    for (int d = 0; d < rank; d++) numel *= (size_t)dims[d], p->dims[d] = dims[d];
    p->rank = rank;
    p->numel = numel;
    p->name = strdup(name);
    p->layer = strdup(layer);
    p->data = malloc(sizeof(float) * numel);
    p->grad = calloc(numel, sizeof(float));
    float *mom = calloc(numel, sizeof(float));
    t->momentum[t->n_params] = mom;
    if (!p->name || !p->layer || !p->data || !p->grad || !mom) {
        free((void *)p->name), free((void *)p->layer), free(p->data), free(p->grad), free(mom);
        return graft__fail(GRAFT_ENOMEM, "finetune: out of memory for parameter '%s'", name);
    }
    if (init) memcpy(p->data, init, sizeof(float) * numel);
    else memset(p->data, 0, sizeof(float) * numel);
    p->lr_mult = lr_mult;
    p->is_new = is_new;
    t->param_fan_in[t->n_params] = 0;
    return t->n_params++;
}

int graft__top_add_state(graft_top *t, const char *name, float *data, size_t numel) {
    float **ns = realloc(t->state, sizeof *ns * (size_t)(t->n_state + 1));
    if (ns) t->state = ns;
    size_t *nn = ns ? realloc(t->state_numel, sizeof *nn * (size_t)(t->n_state + 1)) : NULL;
    if (nn) t->state_numel = nn;
    const char **nm = nn ? realloc(t->state_name, sizeof *nm * (size_t)(t->n_state + 1)) : NULL;
    if (!nm) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    t->state_name = nm;
    t->state[t->n_state] = data, t->state_numel[t->n_state] = numel;
    t->state_name[t->n_state++] = name;
    return 0;
}

int graft__top_append(graft_top *t, graft__tlayer *l) {
    if (t->n_layers == t->cap_layers) {
        int cap = t->cap_layers ? t->cap_layers * 2 : 32;
        graft__tlayer **nl = realloc(t->layers, sizeof *nl * (size_t)cap);
        if (!nl) {
            l->vt->destroy(l);
            return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
        }
        t->layers = nl, t->cap_layers = cap;
    }
    t->layers[t->n_layers++] = l;
    return 0;
}

int graft__act_grad(graft_act act, float *out, const float *dy, const float *y, size_t count,
                    const float **grad) {
    *grad = dy;
    if (act == GRAFT_ACT_NONE) return 0;
    /* For ReLU and ReLU6 the derivative reads the same from y as from x (0 < y < 6 exactly
       when 0 < x < 6), so the pre-activation need not be kept: y stands in for x. */
    graft_unary_op op = {act == GRAFT_ACT_RELU ? GRAFT_UNARY_RELU : GRAFT_UNARY_CLIP, 0.0f, 6.0f};
    memset(out, 0, sizeof(float) * count);
    *grad = out;
    return graft_unary_backward(&op, out, dy, y, y, count);
}

/* ---- finding the top in the graph ---- */

typedef struct top_graph {
    const graft__graph *g;
    const graft__tinfo *ti; /* shapes of a one-image net */
    unsigned char *anc;     /* (n_nodes) node feeds the features tensor */
    unsigned char *down;    /* (n_values) scratch: value depends on the freeze tensor */
    unsigned char *in_top;  /* (n_nodes) */
} top_graph;

static int is_const(const top_graph *tg, int v) {
    return tg->g->values[v].data != NULL || tg->ti[v].data != NULL;
}

/*
 * Marks the nodes between value f and the features value fe; 1 when f cuts the graph there
 * (every non-constant input of those nodes depends on f), 0 when some value bypasses it
 * (*bypass names it).
 */
static int mark_top(top_graph *tg, int f, int fe, int *bypass) {
    const graft__graph *g = tg->g;
    memset(tg->down, 0, (size_t)g->n_values);
    memset(tg->in_top, 0, (size_t)g->n_nodes);
    tg->down[f] = 1;
    for (int n = 0; n < g->n_nodes; n++) {
        if (!tg->anc[n]) continue;
        const graft__node *nd = &g->nodes[n];
        int hit = 0;
        for (int i = 0; i < nd->n_in; i++) hit |= nd->in[i] >= 0 && tg->down[nd->in[i]];
        if (!hit) continue;
        tg->in_top[n] = 1;
        for (int o = 0; o < nd->n_out; o++) tg->down[nd->out[o]] = 1;
    }
    if (!tg->down[fe]) {
        *bypass = fe;
        return 0;
    }
    for (int n = 0; n < g->n_nodes; n++) {
        if (!tg->in_top[n]) continue;
        const graft__node *nd = &g->nodes[n];
        for (int i = 0; i < nd->n_in; i++) {
            int v = nd->in[i];
            if (v >= 0 && !tg->down[v] && !is_const(tg, v)) {
                *bypass = v;
                return 0;
            }
        }
    }
    return 1;
}

static int is_weighted(const graft__graph *g, const graft__node *nd) {
    return (nd->op == GRAFT__OP_CONV || nd->op == GRAFT__OP_GEMM) && nd->n_in > 1 &&
           nd->in[1] >= 0 && g->values[nd->in[1]].data;
}

/* The default freeze point: the nearest cut at or before the input of the
   TOP_DEFAULT_TRAINABLE-th weighted layer from the end; the image input when none. */
static int default_freeze(top_graph *tg, int fe) {
    const graft__graph *g = tg->g;
    int count = 0, start = -1;
    for (int n = g->n_nodes - 1; n >= 0 && count < TOP_DEFAULT_TRAINABLE; n--)
        if (tg->anc[n] && is_weighted(g, &g->nodes[n])) count++, start = n;
    int bypass;
    if (start >= 0) {
        if (mark_top(tg, g->nodes[start].in[0], fe, &bypass)) return g->nodes[start].in[0];
        for (int n = start - 1; n >= 0; n--)
            if (tg->anc[n] && g->nodes[n].n_out == 1 && g->values[g->nodes[n].out[0]].dtype ==
                GRAFT__F32 && mark_top(tg, g->nodes[n].out[0], fe, &bypass))
                return g->nodes[n].out[0];
    }
    return g->input;
}

static int find_value(const graft__graph *g, const char *name) {
    int v = graft__graph_find(g, name);
    if (v >= 0) return v;
    for (int n = 0; n < g->n_nodes; n++)
        if (g->nodes[n].name && !strcmp(g->nodes[n].name, name) && g->nodes[n].n_out >= 1)
            return g->nodes[n].out[0];
    return -1;
}

static int unknown_name(const graft__graph *g, const char *what, const char *name) {
    char hint[256] = "";
    size_t used = 0;
    for (int u = 0; u < g->n_values && used < 200 && name[0]; u++)
        if (strstr(g->values[u].name, name) && !g->values[u].data)
            used += (size_t)snprintf(hint + used, sizeof hint - used, "%s'%s'",
                                     used ? ", " : "; did you mean ", g->values[u].name);
    return graft__fail(GRAFT_EINVAL, "%s: no tensor or node named '%s' in the model%s (`graft "
                       "info MODEL` lists them)", what, name, hint);
}

/* ---- building ---- */

/* The node that reads value v, when exactly one does; else -1. */
static int only_consumer(const graft__graph *g, int v) {
    int found = -1;
    for (int n = 0; n < g->n_nodes; n++)
        for (int i = 0; i < g->nodes[n].n_in; i++)
            if (g->nodes[n].in[i] == v) {
                if (found >= 0 && found != n) return -1;
                found = n;
            }
    return found;
}

/*
 * ShuffleNet's channel shuffle: Reshape (N, g, C/g, H, W), Transpose (0, 2, 1, 3, 4), Reshape
 * (N, C, H, W). Returns the final Reshape's node index and g when node r starts one; else -1.
 */
static int match_shuffle(const graft__graph *g, const graft__tinfo *ti, int r, int *groups) {
    const graft__node *a = &g->nodes[r];
    const graft__tinfo *x = &ti[a->in[0]], *y = &ti[a->out[0]];
    if (a->op != GRAFT__OP_RESHAPE || x->rank != 4 || y->rank != 5 || y->dims[0] != x->dims[0] ||
        y->dims[1] * y->dims[2] != x->dims[1] || y->dims[3] != x->dims[2] ||
        y->dims[4] != x->dims[3])
        return -1;
    int tn = only_consumer(g, a->out[0]);
    if (tn < 0 || g->nodes[tn].op != GRAFT__OP_TRANSPOSE || g->nodes[tn].a.transpose.n != 5)
        return -1;
    static const int want[5] = {0, 2, 1, 3, 4};
    for (int d = 0; d < 5; d++)
        if (g->nodes[tn].a.transpose.perm[d] != want[d]) return -1;
    int bn = only_consumer(g, g->nodes[tn].out[0]);
    if (bn < 0 || g->nodes[bn].op != GRAFT__OP_RESHAPE) return -1;
    const graft__tinfo *z = &ti[g->nodes[bn].out[0]];
    if (z->rank != 4 || memcmp(z->dims, x->dims, sizeof(int64_t) * 4)) return -1;
    *groups = (int)y->dims[1];
    return bn;
}

static int build_node(graft_top *t, const graft__node *nd, const graft__tinfo *ti,
                      const int *map, int out) {
    int in0 = nd->in[0] >= 0 ? map[nd->in[0]] : -1;
    switch (nd->op) {
    case GRAFT__OP_SLICE: return graft__tl_slice(t, nd, ti, in0, out);
    case GRAFT__OP_CONV: return graft__tl_conv(t, nd, in0, out);
    case GRAFT__OP_GEMM: {
        const graft__graph *g = t->g;
        const graft__value *w = &g->values[nd->in[1]];
        const graft__value *c = nd->n_in > 2 && nd->in[2] >= 0 ? &g->values[nd->in[2]] : NULL;
        if (!w->data || w->rank != 2 || nd->a.gemm.trans_a || nd->a.gemm.alpha != 1.0f ||
            (c && (!c->data || nd->a.gemm.beta != 1.0f)))
            return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): only Gemm with "
                               "constant weights, alpha = beta = 1 and A untransposed trains",
                               nd->name, nd->src_op);
        int tb = nd->a.gemm.trans_b;
        int K = (int)(tb ? w->dims[0] : w->dims[1]), D = (int)(tb ? w->dims[1] : w->dims[0]);
        if (c && graft__value_numel(c) != K)
            return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s): the bias must "
                               "have one value per output", nd->name, nd->src_op);
        return graft__tl_dense(t, nd, in0, out, w->name, c ? c->name : NULL, w->data,
                               c ? c->data : NULL, K, D, tb, nd->a.gemm.act, 0);
    }
    case GRAFT__OP_POOL:
    case GRAFT__OP_GLOBAL_POOL:
    case GRAFT__OP_REDUCE: return graft__tl_pool(t, nd, in0, out);
    case GRAFT__OP_UNARY: return graft__tl_act(t, nd, in0, out);
    case GRAFT__OP_BATCHNORM: return graft__tl_batchnorm(t, nd, in0, out);
    case GRAFT__OP_LRN: return graft__tl_lrn(t, nd, in0, out);
    case GRAFT__OP_BINARY:
        return graft__tl_binary(t, nd, in0, nd->in[1] >= 0 ? map[nd->in[1]] : -1, out);
    case GRAFT__OP_CONCAT: {
        int ins[GRAFT__TOP_MAX_IN];
        if (nd->n_in > GRAFT__TOP_MAX_IN)
            return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (Concat) has %d inputs; "
                               "at most %d train", nd->name, nd->n_in, GRAFT__TOP_MAX_IN);
        for (int i = 0; i < nd->n_in; i++) ins[i] = map[nd->in[i]];
        return graft__tl_concat(t, nd, ins, nd->n_in, out);
    }
    case GRAFT__OP_FLATTEN:
    case GRAFT__OP_RESHAPE:
    case GRAFT__OP_SQUEEZE:
    case GRAFT__OP_IDENTITY: return graft__tl_reshape(t, nd, in0, out);
    case GRAFT__OP_PAD: return graft__tl_pad(t, nd, in0, out);
    default:
        return graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s) has no backward pass "
                           "in graft; freeze the network past it (--freeze-until)",
                           nd->name[0] ? nd->name : t->g->values[nd->out[0]].name, nd->src_op);
    }
}

static int make_signature(graft_top *t) {
    size_t cap = 256 + (size_t)(t->n_params + t->n_state) * 160, used = 0;
    char *s = malloc(cap);
    if (!s) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    used += (size_t)snprintf(s + used, cap - used, "freeze=%s\nfeatures=%s\nK=%d\n",
                             t->freeze_name, t->vals[t->features].name, t->K);
    for (int i = 0; i < t->n_params; i++) {
        const graft_top_param *p = &t->params[i];
        used += (size_t)snprintf(s + used, cap - used, "param=%.100s", p->name);
        for (int d = 0; d < p->rank; d++)
            used += (size_t)snprintf(s + used, cap - used, "%c%lld", d ? 'x' : ' ',
                                     (long long)p->dims[d]);
        used += (size_t)snprintf(s + used, cap - used, "\n");
    }
    for (int i = 0; i < t->n_state; i++)
        used += (size_t)snprintf(s + used, cap - used, "state=%.100s %zu\n", t->state_name[i],
                                 t->state_numel[i]);
    t->signature = s;
    return 0;
}

/* A seeded uniform draw in [-1, 1) (splitmix64), so initialisation is the same everywhere. */
static float uniform_pm1(uint64_t *state) {
    return 2.0f * (float)((double)(graft__top_draw(state) >> 40) / 16777216.0) - 1.0f;
}

/*
 * Re-initialises parameter i as torch.nn does at construction: Conv2d and Linear weights and
 * biases Kaiming-uniform with a = sqrt(5), i.e. uniform in +-1 / sqrt(fan_in); batch norm
 * scales 1 and shifts 0 (fan_in 0: zeros, -1: ones).
 */
static void init_param(graft_top *t, int i, uint64_t *state) {
    graft_top_param *p = &t->params[i];
    int fan_in = t->param_fan_in[i];
    for (size_t k = 0; k < p->numel; k++)
        p->data[k] = fan_in > 0 ? uniform_pm1(state) / sqrtf((float)fan_in)
                                : fan_in < 0 ? 1.0f : 0.0f;
}

void graft__top_param_init(graft_top *t, int i, int fan_in) { t->param_fan_in[i] = fan_in; }

int graft_top_create(graft_model *m, int N, int H, int W, const graft_top_options *opts,
                     graft_top **out) {
    if (!m || !opts || !out || N < 1 || H < 1 || W < 1)
        return graft__fail(GRAFT_EINVAL, "graft_top_create: NULL argument or size below 1");
    if (opts->classes < 2 && !opts->head)
        return graft__fail(GRAFT_EINVAL, "graft_top_create: classes must be 2 or more (got %d)",
                           opts->classes);
    if (!(opts->dropout >= 0.0f && opts->dropout < 1.0f))
        return graft__fail(GRAFT_EINVAL, "graft_top_create: dropout must be in [0, 1)");
    if (!m->weights_kept)
        return graft__fail(GRAFT_EINVAL, "graft_top_create: the model was loaded without its "
                           "float weights; load it with graft_model_options.keep_weights = 1");
    const graft__graph *g = m->g;
    int fe = opts->features ? find_value(g, opts->features) : m->default_tap;
    if (fe < 0) return unknown_name(g, "features", opts->features);
    graft_top *t = calloc(1, sizeof *t);
    if (!t) return graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
    t->m = m, t->g = g, t->N = N, t->H = H, t->W = W, t->opts = *opts;
    t->opts.head = NULL;
    t->seed = opts->seed;
    graft_net *net = NULL;
    int *map = NULL;
    unsigned char *skip = NULL;
    top_graph tg = {g, NULL, NULL, NULL, NULL};
    const char *tapname = g->values[fe].name;
    int err = graft_net_create(m, 1, H, W, &tapname, 1, NULL, &net);
    if (err) goto fail;
    tg.ti = net->t;
    tg.anc = calloc((size_t)g->n_nodes + 1, 1);
    tg.in_top = calloc((size_t)g->n_nodes + 1, 1);
    tg.down = calloc((size_t)g->n_values + 1, 1);
    map = malloc(sizeof(int) * (size_t)(g->n_values + 1));
    skip = calloc((size_t)g->n_nodes + 1, 1);
    if (!tg.anc || !tg.in_top || !tg.down || !map || !skip) {
        err = graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
        goto fail;
    }
    for (int v = 0; v < g->n_values; v++) map[v] = -1;
    /* Ancestors of the features tensor. */
    tg.down[fe] = 1;
    for (int n = g->n_nodes - 1; n >= 0; n--) {
        const graft__node *nd = &g->nodes[n];
        int hit = 0;
        for (int o = 0; o < nd->n_out; o++) hit |= tg.down[nd->out[o]];
        if (!hit) continue;
        tg.anc[n] = 1;
        for (int i = 0; i < nd->n_in; i++)
            if (nd->in[i] >= 0) tg.down[nd->in[i]] = 1;
    }
    int f;
    if (!opts->freeze_until) f = default_freeze(&tg, fe);
    else if (!strcmp(opts->freeze_until, GRAFT_TOP_FREEZE_NONE)) f = g->input;
    else if ((f = find_value(g, opts->freeze_until)) < 0) {
        err = unknown_name(g, "--freeze-until", opts->freeze_until);
        goto fail;
    }
    const graft__value *fv = &g->values[f];
    if (fv->data || fv->dtype != GRAFT__F32 || (fv->producer < 0 && !fv->is_input)) {
        err = graft__fail(GRAFT_EINVAL, "freeze point '%s' is %s", fv->name,
                          fv->data ? "a weight, not an activation"
                          : fv->dtype != GRAFT__F32 ? "an integer tensor"
                          : "fused into the node after it; load the model with it in "
                            "graft_model_options.keep");
        goto fail;
    }
    int bypass = -1;
    if (f != fe && !mark_top(&tg, f, fe, &bypass)) {
        err = graft__fail(GRAFT_EINVAL, "freeze point '%s' does not cut the network: '%s' %s",
                          fv->name, g->values[bypass].name,
                          bypass == fe ? "(the features tensor) does not depend on it"
                          : "reaches the layers after it without passing through it (a "
                            "residual or branch around it); pick a tensor every path goes "
                            "through, such as a block's output");
        goto fail;
    }
    if (f == fe) memset(tg.in_top, 0, (size_t)g->n_nodes);
    t->freeze_name = strdup(fv->name);
    if (!t->freeze_name) {
        err = graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
        goto fail;
    }
    /* Values: the freeze tensor first, then each top node's output. */
    if ((err = add_val(t, fv->name, net->t[f].rank, net->t[f].dims)) < 0) goto fail;
    map[f] = err;
    t->input = 0;
    for (int n = 0; n < g->n_nodes; n++) {
        if (!tg.in_top[n]) continue;
        const graft__node *nd = &g->nodes[n];
        /* Shape arithmetic the net folded for this input size computes nothing at run time. */
        int folded = 1;
        for (int o = 0; o < nd->n_out; o++) folded &= net->t[nd->out[o]].data != NULL;
        if (folded || skip[n]) continue;
        int groups, last = nd->op == GRAFT__OP_RESHAPE ? match_shuffle(g, net->t, n, &groups) : -1;
        if (last >= 0) {
            const graft__node *tr = &g->nodes[only_consumer(g, nd->out[0])];
            const graft__node *ln = &g->nodes[last];
            const graft__tinfo *ti = &net->t[ln->out[0]];
            int v = add_val(t, g->values[ln->out[0]].name, ti->rank, ti->dims);
            if (v < 0) {
                err = v;
                goto fail;
            }
            map[ln->out[0]] = v;
            skip[last] = 1;
            skip[tr - g->nodes] = 1;
            if ((err = graft__tl_shuffle(t, ln, map[nd->in[0]], v, groups,
                                         g->values[nd->out[0]].name,
                                         g->values[tr->out[0]].name)))
                goto fail;
            continue;
        }
        if (nd->n_out != 1) {
            err = graft__fail(GRAFT_EUNSUPPORTED, "finetune: node '%s' (%s) has %d outputs; "
                              "layers with one output train", nd->name, nd->src_op, nd->n_out);
            goto fail;
        }
        const graft__tinfo *ti = &net->t[nd->out[0]];
        int v = add_val(t, g->values[nd->out[0]].name, ti->rank, ti->dims);
        if (v < 0) {
            err = v;
            goto fail;
        }
        map[nd->out[0]] = v;
        if ((err = build_node(t, nd, net->t, map, v))) goto fail;
    }
    /* The new classifier reads the features as a vector. */
    int feat = map[fe];
    t->features = feat;
    if (t->vals[feat].rank != 2) {
        int64_t d2[2] = {N, (int64_t)t->vals[feat].per};
        int v = add_val(t, "graft_features", 2, d2);
        if (v < 0 || (err = graft__tl_reshape(t, NULL, feat, v))) {
            err = v < 0 ? v : err;
            goto fail;
        }
        feat = v;
    }
    t->D = t->vals[feat].per;
    if (opts->dropout > 0.0f) {
        int64_t d2[2] = {N, (int64_t)t->D};
        int v = add_val(t, "graft_dropout", 2, d2);
        if (v < 0 || (err = graft__tl_dropout(t, opts->dropout, feat, v))) {
            err = v < 0 ? v : err;
            goto fail;
        }
        feat = v;
    }
    const graft_head *h = opts->head;
    t->K = h ? h->K : opts->classes;
    float *hw = NULL, *hb = NULL;
    if (h) {
        if (h->D != t->D) {
            err = graft__fail(GRAFT_EINVAL, "head: it was trained on %zu features, the top's "
                              "classifier reads %zu from '%s'", h->D, t->D,
                              t->vals[t->features].name);
            goto fail;
        }
        if (h->scale & ~GRAFT_SCALE_STANDARDIZE) {
            err = graft__fail(GRAFT_EUNSUPPORTED, "head: its scaler (sqrt or L2) has no "
                              "counterpart in the network; train the head with --scale none "
                              "or standardize");
            goto fail;
        }
        hw = malloc(sizeof(float) * h->D * (size_t)h->K);
        hb = malloc(sizeof(float) * (size_t)h->K);
        if (!hw || !hb) {
            free(hw), free(hb);
            err = graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
            goto fail;
        }
        /* Standardisation (x - mean) / std folds into the weights and bias. */
        for (int k = 0; k < h->K; k++) {
            double b = h->b[k];
            for (size_t d = 0; d < h->D; d++) {
                float w = h->W[(size_t)k * h->D + d];
                if (h->scale & GRAFT_SCALE_STANDARDIZE) {
                    w *= h->inv_std[d];
                    b -= (double)w * h->mean[d];
                }
                hw[(size_t)k * h->D + d] = w;
            }
            hb[k] = (float)b;
        }
    }
    int64_t ld[2] = {N, t->K};
    int lv = add_val(t, "logits", 2, ld);
    if (lv < 0) {
        free(hw), free(hb);
        err = lv;
        goto fail;
    }
    t->logits = lv;
    err = graft__tl_dense(t, NULL, feat, lv, "graft_classifier.weight", "graft_classifier.bias",
                          hw, hb, t->K, (int)t->D, 1, GRAFT_ACT_NONE, 1);
    free(hw), free(hb);
    if (err) goto fail;
    /* The new classifier starts as torch.nn.Linear does (unless from a head), and with reinit
       every trainable layer does. */
    uint64_t state = t->seed ^ 0x5851f42d4c957f2dull;
    for (int i = 0; i < t->n_params; i++) {
        graft_top_param *p = &t->params[i];
        if (opts->reinit ? p->is_new && h : !p->is_new || h) continue;
        init_param(t, i, &state);
        /* Re-initialised layers learn from nothing: they take the new head's rate. */
        p->is_new = 1;
        p->lr_mult = 1.0f;
    }
    /* Storage, gradients, scratch. */
    size_t max_per = 1;
    for (int v = 0; v < t->n_vals; v++) {
        graft__tval *tv = &t->vals[v];
        if (tv->per > max_per) max_per = tv->per;
        tv->data = malloc(sizeof(float) * (size_t)N * tv->per);
        if (v != t->input || opts->input_grad)
            tv->grad = calloc((size_t)N * tv->per, sizeof(float));
        if (!tv->data || ((v != t->input || opts->input_grad) && !tv->grad)) {
            err = graft__fail(GRAFT_ENOMEM, "finetune: out of memory for '%s' (%zu floats)",
                              tv->name, (size_t)N * tv->per);
            goto fail;
        }
    }
    t->scratch = malloc(sizeof(float) * (size_t)N * max_per);
    t->scratch2 = malloc(sizeof(float) * (size_t)N * max_per);
    if (opts->input_grad)
        t->input_grad_nchw = malloc(sizeof(float) * (size_t)N * t->vals[t->input].per);
    if (!t->scratch || !t->scratch2 || (opts->input_grad && !t->input_grad_nchw)) {
        err = graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
        goto fail;
    }
    if (t->conv_ws_floats && !(t->conv_ws = malloc(sizeof(float) * t->conv_ws_floats))) {
        err = graft__fail(GRAFT_ENOMEM, "finetune: out of memory");
        goto fail;
    }
    if ((err = make_signature(t))) goto fail;
    graft_net_destroy(net);
    free(map), free(skip), free(tg.anc), free(tg.in_top), free(tg.down);
    *out = t;
    return 0;
fail:
    graft_net_destroy(net);
    free(map), free(skip), free(tg.anc), free(tg.in_top), free(tg.down);
    graft_top_destroy(t);
    return err < 0 ? err : GRAFT_EINVAL;
}

void graft_top_destroy(graft_top *t) {
    if (!t) return;
    for (int i = 0; i < t->n_layers; i++) t->layers[i]->vt->destroy(t->layers[i]);
    free(t->layers);
    for (int v = 0; v < t->n_vals; v++) {
        free((void *)t->vals[v].name), free(t->vals[v].data), free(t->vals[v].grad);
    }
    free(t->vals);
    for (int i = 0; i < t->n_params; i++) {
        free((void *)t->params[i].name), free((void *)t->params[i].layer);
        free(t->params[i].data), free(t->params[i].grad), free(t->momentum[i]);
    }
    free(t->params), free(t->momentum), free(t->param_fan_in);
    free(t->state), free(t->state_numel), free(t->state_name);
    free(t->freeze_name), free(t->signature);
    free(t->scratch), free(t->scratch2), free(t->conv_ws), free(t->input_grad_nchw);
    free(t);
}

/* ---- accessors ---- */

const char *graft_top_input_name(const graft_top *t) { return t ? t->freeze_name : NULL; }

int graft_top_input_dims(const graft_top *t, int *rank, int64_t *dims) {
    if (!t || !rank || !dims) return graft__fail(GRAFT_EINVAL, "graft_top_input_dims: NULL");
    const graft__tval *v = &t->vals[t->input];
    *rank = v->rank - 1;
    for (int d = 1; d < v->rank; d++) dims[d - 1] = v->dims[d];
    return 0;
}

int graft_top_classes(const graft_top *t) { return t ? t->K : 0; }
size_t graft_top_features(const graft_top *t) { return t ? t->D : 0; }
const float *graft_top_logits(const graft_top *t) { return t ? t->vals[t->logits].data : NULL; }
int graft_top_param_count(const graft_top *t) { return t ? t->n_params : 0; }
graft_top_param *graft_top_param_get(graft_top *t, int i) {
    return t && i >= 0 && i < t->n_params ? &t->params[i] : NULL;
}
const float *graft_top_input_grad(const graft_top *t) {
    return t && t->opts.input_grad && t->n > 0 ? t->input_grad_nchw : NULL;
}
float *graft__top_momentum(graft_top *t, int i) { return t->momentum[i]; }
uint64_t graft__top_steps(const graft_top *t) { return t->steps; }
void graft__top_set_steps(graft_top *t, uint64_t steps) { t->steps = steps; }
const char *graft__top_signature(const graft_top *t) { return t->signature; }
int graft__top_state_count(const graft_top *t) { return t->n_state; }
float *graft__top_state(graft_top *t, int i, size_t *numel) {
    *numel = t->state_numel[i];
    return t->state[i];
}

/* ---- passes ---- */

int graft_top_forward(graft_top *t, const float *x, int n, int train) {
    if (!t || !x || n < 1 || n > t->N)
        return graft__fail(GRAFT_EINVAL, "graft_top_forward: %s", !t || !x ? "NULL argument"
                           : "batch size out of range");
    graft__tval *in = &t->vals[t->input];
    int err = 0;
    if (in->nhwc)
        err = graft_nchw_to_nhwc(in->data, x, n, (int)in->dims[1], (int)in->dims[2],
                                 (int)in->dims[3]);
    else memcpy(in->data, x, sizeof(float) * (size_t)n * in->per);
    for (int i = 0; i < t->n_layers && !err; i++) {
        graft__tlayer *l = t->layers[i];
        err = l->vt->forward(t, l, n, train);
        if (err) graft__fail(err, "finetune: layer '%s' (%s): %s", l->name, l->vt->kind,
                             graft_last_error());
    }
    t->n = err ? 0 : n;
    t->trained_forward = !err && train;
    return err;
}

int graft_top_backward(graft_top *t, const int *labels, graft_top_loss loss,
                       float label_smoothing, float *loss_out) {
    if (!t || !labels || !loss_out)
        return graft__fail(GRAFT_EINVAL, "graft_top_backward: NULL argument");
    if (!t->trained_forward)
        return graft__fail(GRAFT_EINVAL, "graft_top_backward: no training forward pass before");
    int n = t->n;
    for (int v = 0; v < t->n_vals; v++)
        if (t->vals[v].grad) memset(t->vals[v].grad, 0, sizeof(float) * (size_t)n * t->vals[v].per);
    for (int i = 0; i < t->n_params; i++)
        memset(t->params[i].grad, 0, sizeof(float) * t->params[i].numel);
    const graft__tval *lg = &t->vals[t->logits];
    int err;
    if (loss == GRAFT_TOP_LOSS_SOFTMAX)
        err = graft_softmax_xent(loss_out, lg->grad, lg->data, labels, n, t->K, label_smoothing);
    else if (loss == GRAFT_TOP_LOSS_HINGE)
        err = graft_multimargin(loss_out, lg->grad, lg->data, labels, n, t->K);
    else err = graft__fail(GRAFT_EINVAL, "graft_top_backward: unknown loss %d", (int)loss);
    for (int i = t->n_layers - 1; i >= 0 && !err; i--) {
        graft__tlayer *l = t->layers[i];
        err = l->vt->backward(t, l, n);
        if (err) graft__fail(err, "finetune: backward of layer '%s' (%s): %s", l->name,
                             l->vt->kind, graft_last_error());
    }
    if (!err && t->opts.input_grad) {
        graft__tval *in = &t->vals[t->input];
        if (in->nhwc)
            err = graft_nhwc_to_nchw(t->input_grad_nchw, in->grad, n, (int)in->dims[1],
                                     (int)in->dims[2], (int)in->dims[3]);
        else memcpy(t->input_grad_nchw, in->grad, sizeof(float) * (size_t)n * in->per);
    }
    return err;
}

int graft_top_step(graft_top *t, float lr, float momentum, float weight_decay) {
    if (!t || !(lr >= 0.0f) || !(momentum >= 0.0f) || !(weight_decay >= 0.0f))
        return graft__fail(GRAFT_EINVAL, "graft_top_step: NULL top or a negative or NaN rate");
    for (int i = 0; i < t->n_params; i++) {
        graft_top_param *p = &t->params[i];
        float *buf = t->momentum[i];
        float rate = lr * p->lr_mult;
        for (size_t k = 0; k < p->numel; k++) {
            float g = p->grad[k] + weight_decay * p->data[k];
            float b = t->steps == 0 || momentum == 0.0f ? g : momentum * buf[k] + g;
            buf[k] = b;
            p->data[k] -= rate * b;
        }
    }
    t->steps++;
    return 0;
}
