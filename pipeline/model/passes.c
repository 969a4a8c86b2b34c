/*
 * pipeline/model/passes.c: what graft_model_load does to an imported graph before packing
 * weights: a topological order (refusing cycles and dangling inputs), folding of subgraphs
 * whose inputs are all constants, and fusion of Conv+BatchNorm, Conv/Gemm+ReLU(6) and
 * Add+ReLU, so the runtime executes fewer, fatter nodes.
 *
 * Shape-dependent folding (Shape chains) is not done here but per net, when the input size is
 * known (graft__infer_node). Fusion never removes a value the caller asked to keep, a graph
 * output, or a value read by more than one node.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "kernels.h"

/* Reorders g->nodes topologically (Kahn), stable with respect to the file's order. */
static int topo_sort(graft__graph *g) {
    int N = g->n_nodes, err = 0;
    int *indeg = calloc((size_t)N + 1, sizeof(int)), *order = malloc(sizeof(int) * ((size_t)N + 1));
    int *queue = malloc(sizeof(int) * ((size_t)N + 1));
    int *cons_start = calloc((size_t)g->n_values + 1, sizeof(int));
    int *cons = NULL;
    if (!indeg || !order || !queue || !cons_start) {
        err = graft__fail(GRAFT_ENOMEM, "graph: out of memory");
        goto done;
    }
    /* Consumers of each value, as a CSR list. */
    int total = 0;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < g->nodes[n].n_in; i++)
            if (g->nodes[n].in[i] >= 0) cons_start[g->nodes[n].in[i]]++, total++;
    int acc = 0;
    for (int v = 0; v <= g->n_values; v++) {
        int c = v < g->n_values ? cons_start[v] : 0;
        cons_start[v] = acc;
        acc += c;
    }
    cons = malloc(sizeof(int) * ((size_t)total + 1));
    int *fill = calloc((size_t)g->n_values + 1, sizeof(int));
    if (!cons || !fill) {
        free(fill);
        err = graft__fail(GRAFT_ENOMEM, "graph: out of memory");
        goto done;
    }
    for (int n = 0; n < N; n++)
        for (int i = 0; i < g->nodes[n].n_in; i++) {
            int v = g->nodes[n].in[i];
            if (v < 0) continue;
            cons[cons_start[v] + fill[v]++] = n;
            if (g->values[v].producer >= 0) indeg[n]++;
            else if (!g->values[v].data && !g->values[v].is_input) {
                free(fill);
                err = graft__fail(GRAFT_EINVAL, "node '%s' (%s): input '%s' is not computed by "
                                  "any node and is neither an initializer nor a graph input",
                                  g->nodes[n].name, g->nodes[n].src_op, g->values[v].name);
                goto done;
            }
        }
    free(fill);
    int head = 0, tail = 0, done_n = 0;
    for (int n = 0; n < N; n++)
        if (!indeg[n]) queue[tail++] = n;
    while (head < tail) {
        int n = queue[head++];
        order[done_n++] = n;
        for (int o = 0; o < g->nodes[n].n_out; o++) {
            int v = g->nodes[n].out[o];
            for (int c = cons_start[v]; c < cons_start[v + 1]; c++)
                if (--indeg[cons[c]] == 0) queue[tail++] = cons[c];
        }
    }
    if (done_n < N) {
        int bad = 0;
        while (bad < N && !indeg[bad]) bad++;
        err = graft__fail(GRAFT_EINVAL, "graph: node '%s' (%s) is on a cycle (the graph is not a "
                          "DAG)", bad < N ? g->nodes[bad].name : "?",
                          bad < N ? g->nodes[bad].src_op : "?");
        goto done;
    }
    graft__node *sorted = malloc(sizeof(graft__node) * ((size_t)N + 1));
    if (!sorted) {
        err = graft__fail(GRAFT_ENOMEM, "graph: out of memory");
        goto done;
    }
    for (int i = 0; i < N; i++) sorted[i] = g->nodes[order[i]];
    if (N) memcpy(g->nodes, sorted, sizeof(graft__node) * (size_t)N);
    free(sorted);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < g->nodes[i].n_out; o++) g->values[g->nodes[i].out[o]].producer = i;
done:
    free(indeg);
    free(order);
    free(queue);
    free(cons_start);
    free(cons);
    return err;
}

static void kill_node(graft__graph *g, int n) {
    graft__node *nd = &g->nodes[n];
    for (int o = 0; o < nd->n_out; o++)
        if (g->values[nd->out[o]].producer == n) g->values[nd->out[o]].producer = -1;
    nd->op = -1;
}

static int compact(graft__graph *g) {
    int w = 0;
    for (int n = 0; n < g->n_nodes; n++) {
        if (g->nodes[n].op < 0) {
            free(g->nodes[n].name);
            free(g->nodes[n].src_op);
            free(g->nodes[n].in);
            free(g->nodes[n].out);
            continue;
        }
        g->nodes[w] = g->nodes[n];
        for (int o = 0; o < g->nodes[w].n_out; o++) g->values[g->nodes[w].out[o]].producer = w;
        w++;
    }
    g->n_nodes = w;
    return 0;
}

/* Folds nodes whose inputs are all constants into constants (weights arithmetic, Constant
   chains, Clip bounds). */
static int fold_constants(graft__graph *g) {
    graft__tinfo *t = calloc((size_t)g->n_values + 1, sizeof *t);
    if (!t) return graft__fail(GRAFT_ENOMEM, "graph: out of memory");
    for (int v = 0; v < g->n_values; v++) {
        t[v].dtype = g->values[v].dtype;
        t[v].rank = g->values[v].rank;
        memcpy(t[v].dims, g->values[v].dims, sizeof t[v].dims);
        t[v].data = g->values[v].data;
    }
    int err = 0;
    for (int n = 0; n < g->n_nodes && !err; n++) {
        graft__node *nd = &g->nodes[n];
        int all = 1;
        for (int i = 0; i < nd->n_in; i++)
            if (nd->in[i] >= 0 && !t[nd->in[i]].data) all = 0;
        if (!all || nd->op == GRAFT__OP_SPLIT || nd->op == GRAFT__OP_CONV ||
            nd->op == GRAFT__OP_GEMM || nd->op == GRAFT__OP_MATMUL || nd->op == GRAFT__OP_POOL)
            continue;
        err = graft__infer_node(g, nd, t, 1);
        if (err) break;
        int folded = 1;
        for (int o = 0; o < nd->n_out; o++) folded &= t[nd->out[o]].data != NULL;
        if (!folded) continue;
        for (int o = 0; o < nd->n_out; o++) {
            graft__value *v = &g->values[nd->out[o]];
            graft__tinfo *to = &t[nd->out[o]];
            v->data = to->data;
            to->owned = 0;
            v->dtype = to->dtype;
            v->rank = to->rank;
            memcpy(v->dims, to->dims, sizeof v->dims);
            /* A folded weight (a transposed or dequantized initializer) is still a weight. */
            for (int i = 0; i < nd->n_in; i++)
                if (nd->in[i] >= 0 && g->values[nd->in[i]].is_weight) v->is_weight = 1;
        }
        kill_node(g, n);
    }
    for (int v = 0; v < g->n_values; v++)
        if (t[v].owned) free(t[v].data);
    free(t);
    return err;
}

/* Clip's optional bound inputs, now constants, become the op's alpha/beta. */
static int normalize_clip(graft__graph *g) {
    for (int n = 0; n < g->n_nodes; n++) {
        graft__node *nd = &g->nodes[n];
        if (nd->op != GRAFT__OP_UNARY || nd->a.unary.kind != GRAFT_UNARY_CLIP) continue;
        for (int i = 1; i < nd->n_in && i < 3; i++) {
            if (nd->in[i] < 0) continue;
            const graft__value *b = &g->values[nd->in[i]];
            if (!b->data) goto next; /* read at run time */
            if (graft__value_numel(b) != 1)
                return graft__fail(GRAFT_EINVAL, "node '%s' (Clip): bounds must be scalars",
                                   nd->name);
            float v = b->dtype == GRAFT__F32 ? *(const float *)b->data
                                             : (float)*(const int64_t *)b->data;
            if (i == 1) nd->a.unary.alpha = v;
            else nd->a.unary.beta = v;
            nd->in[i] = -1;
        }
        nd->n_in = 1;
    next:;
    }
    return 0;
}

static int is_kept(const graft__graph *g, int v, const char *const *keep) {
    if (g->values[v].is_output) return 1;
    for (int i = 0; keep && keep[i]; i++)
        if (!strcmp(keep[i], g->values[v].name)) return 1;
    return 0;
}

/* Consumers of every value among the live nodes. */
static int *count_uses(const graft__graph *g) {
    int *uses = calloc((size_t)g->n_values + 1, sizeof(int));
    if (!uses) return NULL;
    for (int n = 0; n < g->n_nodes; n++)
        if (g->nodes[n].op >= 0)
            for (int i = 0; i < g->nodes[n].n_in; i++)
                if (g->nodes[n].in[i] >= 0) uses[g->nodes[n].in[i]]++;
    return uses;
}

/* A private, writable copy of constant v for node n's input slot i (when others read it). */
static int own_const(graft__graph *g, int v, const int *uses) {
    if (uses[v] == 1 && !g->values[v].is_output) return v;
    graft__value src = g->values[v]; /* add_const may move the array */
    return graft__graph_add_const(g, "", src.dtype, src.rank, src.dims, src.data, 1,
                                  src.is_weight);
}

static int fuse_conv_bn(graft__graph *g, const char *const *keep) {
    int *uses = count_uses(g);
    if (!uses) return graft__fail(GRAFT_ENOMEM, "graph: out of memory");
    int err = 0;
    for (int n = 0; n < g->n_nodes && !err; n++) {
        graft__node *bn = &g->nodes[n];
        if (bn->op != GRAFT__OP_BATCHNORM) continue;
        int x = bn->in[0], p = g->values[x].producer;
        if (p < 0 || g->nodes[p].op != GRAFT__OP_CONV || uses[x] != 1 || is_kept(g, x, keep))
            continue;
        int ok = 1;
        for (int i = 1; i < 5; i++) ok &= bn->in[i] >= 0 && g->values[bn->in[i]].data != NULL;
        int wv = g->nodes[p].in[1];
        if (!ok || !g->values[wv].data || g->values[wv].rank != 4) continue;
        int64_t C_out = g->values[wv].dims[0];
        for (int i = 1; i < 5; i++) ok &= graft__value_numel(&g->values[bn->in[i]]) == C_out;
        if (!ok) continue;
        /* Private copies of W and B, since another node may share them. */
        int nw = own_const(g, wv, uses);
        if (nw < 0) { err = nw; break; }
        g->nodes[p].in[1] = nw;
        int nb;
        if (g->nodes[p].n_in > 2 && g->nodes[p].in[2] >= 0) {
            nb = own_const(g, g->nodes[p].in[2], uses);
        } else {
            float *zeros = calloc((size_t)C_out, sizeof(float));
            if (!zeros) { err = graft__fail(GRAFT_ENOMEM, "graph: out of memory"); break; }
            nb = graft__graph_add_const(g, "", GRAFT__F32, 1, &C_out, zeros, 0, 1);
        }
        if (nb < 0) { err = nb; break; }
        /* add_const may have moved the node arrays: re-take the pointers. */
        bn = &g->nodes[n];
        graft__node *conv = &g->nodes[p];
        if (conv->n_in < 3) {
            int *in = realloc(conv->in, 3 * sizeof(int));
            if (!in) { err = graft__fail(GRAFT_ENOMEM, "graph: out of memory"); break; }
            conv->in = in;
            conv->n_in = 3;
        }
        conv->in[2] = nb;
        graft__value *W = &g->values[nw];
        err = graft_batchnorm_fold(W->data, g->values[nb].data, (int)C_out,
                                   (size_t)(graft__value_numel(W) / C_out),
                                   g->values[bn->in[1]].data, g->values[bn->in[2]].data,
                                   g->values[bn->in[3]].data, g->values[bn->in[4]].data,
                                   bn->a.bn_eps);
        if (err) break;
        int y = bn->out[0];
        kill_node(g, n);
        conv->out[0] = y;
        g->values[y].producer = p;
        g->values[x].producer = -1;
    }
    free(uses);
    return err;
}

/* The graft_act a unary node computes, or -1 when it is not ReLU / ReLU6. */
static int act_of(const graft__node *u) {
    if (u->op != GRAFT__OP_UNARY) return -1;
    if (u->a.unary.kind == GRAFT_UNARY_RELU) return GRAFT_ACT_RELU;
    if (u->a.unary.kind == GRAFT_UNARY_CLIP && u->n_in == 1 && u->a.unary.alpha == 0.0f) {
        if (u->a.unary.beta == 6.0f) return GRAFT_ACT_RELU6;
        if (isinf(u->a.unary.beta) && u->a.unary.beta > 0) return GRAFT_ACT_RELU;
    }
    return -1;
}

static int fuse_activations(graft__graph *g, const char *const *keep) {
    int *uses = count_uses(g);
    if (!uses) return graft__fail(GRAFT_ENOMEM, "graph: out of memory");
    for (int n = 0; n < g->n_nodes; n++) {
        graft__node *u = &g->nodes[n];
        int act = act_of(u);
        if (act < 0) continue;
        int x = u->in[0], p = g->values[x].producer;
        if (p < 0 || uses[x] != 1 || is_kept(g, x, keep)) continue;
        graft__node *prod = &g->nodes[p];
        graft_act *slot = NULL;
        if (prod->op == GRAFT__OP_CONV) slot = &prod->a.conv.d.act;
        else if (prod->op == GRAFT__OP_GEMM) slot = &prod->a.gemm.act;
        else if (prod->op == GRAFT__OP_BINARY && prod->a.binary.op == GRAFT_BINARY_ADD)
            slot = &prod->a.binary.act;
        if (!slot || *slot != GRAFT_ACT_NONE) continue;
        *slot = (graft_act)act;
        int y = u->out[0];
        kill_node(g, n);
        prod->out[0] = y;
        g->values[y].producer = p;
        g->values[x].producer = -1;
        /* The fused node's op name tells `graft info` what it runs. */
        size_t len = strlen(prod->src_op) + 8;
        char *name = malloc(len);
        if (name) {
            snprintf(name, len, "%s+%s", prod->src_op, act == GRAFT_ACT_RELU6 ? "Relu6" : "Relu");
            free(prod->src_op);
            prod->src_op = name;
        }
    }
    free(uses);
    return 0;
}

int graft__graph_finish(graft__graph *g, const char *const *keep, int no_fuse) {
    int err = topo_sort(g);
    if (!err) err = fold_constants(g);
    if (!err) err = compact(g);
    if (!err) err = normalize_clip(g);
    if (!err && !no_fuse) err = fuse_conv_bn(g, keep);
    if (!err) err = compact(g);
    if (!err && !no_fuse) err = fuse_activations(g, keep);
    if (!err) err = compact(g);
    return err;
}
