/*
 * pipeline/model/graph.c: building the IR of graph.h. Importers call these; the passes that
 * check, fold and fuse a finished graph are in passes.c.
 *
 * Names are found through an open-addressing hash table, rebuilt as the value array grows, so
 * an importer resolving every node input by name stays linear in the graph size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "kernels.h" /* graft__fail */

typedef struct name_index {
    int *slots; /* value index + 1; 0 = empty */
    size_t cap;
} name_index;

/* The hash table hangs off the graph through a side allocation keyed by the graph pointer. */
typedef struct graph_impl {
    graft__graph g;
    name_index idx;
    int anon; /* counter for generated names */
} graph_impl;

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int index_put(name_index *ix, const graft__value *values, int v) {
    size_t mask = ix->cap - 1, i = hash_name(values[v].name) & mask;
    while (ix->slots[i]) i = (i + 1) & mask;
    ix->slots[i] = v + 1;
    return 0;
}

static int index_grow(graph_impl *gi) {
    size_t cap = gi->idx.cap ? gi->idx.cap * 2 : 256;
    int *slots = calloc(cap, sizeof *slots);
    if (!slots) return graft__fail(GRAFT_ENOMEM, "graph: out of memory for the name index");
    free(gi->idx.slots);
    gi->idx.slots = slots;
    gi->idx.cap = cap;
    for (int v = 0; v < gi->g.n_values; v++) index_put(&gi->idx, gi->g.values, v);
    return 0;
}

int graft__graph_create(graft__graph **out) {
    graph_impl *gi = calloc(1, sizeof *gi);
    if (!gi) return graft__fail(GRAFT_ENOMEM, "graph: out of memory");
    gi->g.input = -1;
    *out = &gi->g;
    return 0;
}

void graft__graph_destroy(graft__graph *g) {
    if (!g) return;
    graph_impl *gi = (graph_impl *)g;
    for (int v = 0; v < g->n_values; v++) {
        free(g->values[v].name);
        free(g->values[v].data);
    }
    for (int n = 0; n < g->n_nodes; n++) {
        free(g->nodes[n].name);
        free(g->nodes[n].src_op);
        free(g->nodes[n].in);
        free(g->nodes[n].out);
    }
    free(g->values);
    free(g->nodes);
    free(g->outputs);
    free(g->inputs);
    free(g->labels);
    free(gi->idx.slots);
    free(gi);
}

int graft__graph_find(const graft__graph *g, const char *name) {
    const graph_impl *gi = (const graph_impl *)g;
    if (!gi->idx.cap || !name) return -1;
    size_t mask = gi->idx.cap - 1, i = hash_name(name) & mask;
    while (gi->idx.slots[i]) {
        int v = gi->idx.slots[i] - 1;
        if (!strcmp(g->values[v].name, name)) return v;
        i = (i + 1) & mask;
    }
    return -1;
}

int64_t graft__value_numel(const graft__value *v) {
    if (v->rank < 0) return -1;
    int64_t n = 1;
    for (int d = 0; d < v->rank; d++) {
        if (v->dims[d] < 0) return -1;
        n *= v->dims[d];
    }
    return n;
}

int graft__graph_add_value(graft__graph *g, const char *name, int dtype, int rank,
                           const int64_t *dims) {
    graph_impl *gi = (graph_impl *)g;
    char gen[32];
    if (!name || !name[0]) {
        snprintf(gen, sizeof gen, "graft::%d", gi->anon++);
        name = gen;
    }
    if (rank > GRAFT__MAX_RANK)
        return graft__fail(GRAFT_EUNSUPPORTED, "tensor '%s': rank %d is above graft's limit of %d",
                           name, rank, GRAFT__MAX_RANK);
    if (dtype != GRAFT__F32 && dtype != GRAFT__I64)
        return graft__fail(GRAFT_EINVAL, "tensor '%s': internal dtype %d", name, dtype);
    if (graft__graph_find(g, name) >= 0)
        return graft__fail(GRAFT_EINVAL, "duplicate tensor name '%s'", name);
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 64;
        graft__value *nv = realloc(g->values, (size_t)cap * sizeof *nv);
        if (!nv) return graft__fail(GRAFT_ENOMEM, "graph: out of memory");
        g->values = nv;
        g->cap_values = cap;
    }
    graft__value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    if (!v->name) return graft__fail(GRAFT_ENOMEM, "graph: out of memory");
    v->dtype = dtype;
    v->rank = rank;
    for (int d = 0; d < GRAFT__MAX_RANK; d++) v->dims[d] = (rank > 0 && d < rank && dims) ? dims[d] : -1;
    v->producer = -1;
    int idx = g->n_values++;
    if ((size_t)g->n_values * 2 > gi->idx.cap) {
        int err = index_grow(gi);
        if (err) {
            g->n_values--;
            free(v->name);
            return err;
        }
    } else {
        index_put(&gi->idx, g->values, idx);
    }
    return idx;
}

int graft__graph_add_const(graft__graph *g, const char *name, int dtype, int rank,
                           const int64_t *dims, void *data, int copy, int is_weight) {
    int64_t numel = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0) {
            if (!copy) free(data);
            return graft__fail(GRAFT_EINVAL, "constant '%s': negative dimension", name);
        }
        numel *= dims[d];
    }
    size_t bytes = (size_t)numel * 8; /* room for either dtype; F32 uses half */
    if (dtype == GRAFT__F32) bytes = (size_t)numel * 4;
    void *own = data;
    if (copy) {
        own = malloc(bytes ? bytes : 1);
        if (!own) return graft__fail(GRAFT_ENOMEM, "constant '%s': out of memory", name);
        if (bytes) memcpy(own, data, bytes);
    }
    int v = graft__graph_add_value(g, name, dtype, rank, dims);
    if (v < 0) {
        free(own);
        return v;
    }
    g->values[v].data = own ? own : malloc(1);
    g->values[v].is_weight = is_weight;
    return v;
}

int graft__graph_add_i64(graft__graph *g, const char *name, const int64_t *v, int n) {
    int64_t dims[1] = {n};
    return graft__graph_add_const(g, name, GRAFT__I64, 1, dims, (void *)v, 1, 0);
}

int graft__graph_add_scalar(graft__graph *g, const char *name, float v) {
    return graft__graph_add_const(g, name, GRAFT__F32, 0, NULL, &v, 1, 0);
}

int graft__graph_add_node(graft__graph *g, int op, const char *name, const char *src_op,
                          const int *in, int n_in, const int *out, int n_out,
                          graft__node **node) {
    for (int i = 0; i < n_out; i++) {
        if (out[i] < 0 || out[i] >= g->n_values)
            return graft__fail(GRAFT_EINVAL, "node '%s': bad output index", name ? name : "");
        if (g->values[out[i]].producer >= 0 || g->values[out[i]].data ||
            g->values[out[i]].is_input)
            return graft__fail(GRAFT_EINVAL, "node '%s' (%s): tensor '%s' is written twice",
                               name ? name : "", src_op ? src_op : "",
                               g->values[out[i]].name);
    }
    for (int i = 0; i < n_in; i++)
        if (in[i] < -1 || in[i] >= g->n_values)
            return graft__fail(GRAFT_EINVAL, "node '%s': bad input index", name ? name : "");
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        graft__node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return graft__fail(GRAFT_ENOMEM, "graph: out of memory");
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    graft__node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = strdup(name ? name : "");
    n->src_op = strdup(src_op ? src_op : graft__op_name(op));
    n->in = malloc(sizeof(int) * (size_t)(n_in ? n_in : 1));
    n->out = malloc(sizeof(int) * (size_t)(n_out ? n_out : 1));
    if (!n->name || !n->src_op || !n->in || !n->out) {
        free(n->name);
        free(n->src_op);
        free(n->in);
        free(n->out);
        return graft__fail(GRAFT_ENOMEM, "graph: out of memory");
    }
    if (n_in) memcpy(n->in, in, sizeof(int) * (size_t)n_in);
    if (n_out) memcpy(n->out, out, sizeof(int) * (size_t)n_out);
    n->n_in = n_in;
    n->n_out = n_out;
    for (int i = 0; i < n_out; i++) g->values[out[i]].producer = g->n_nodes;
    g->n_nodes++;
    if (node) *node = n;
    return 0;
}

int graft__graph_add_input(graft__graph *g, int v) {
    int *in = realloc(g->inputs, sizeof(int) * (size_t)(g->n_inputs + 1));
    if (!in) return graft__fail(GRAFT_ENOMEM, "graph: out of memory");
    g->inputs = in;
    g->inputs[g->n_inputs++] = v;
    g->values[v].is_input = 1;
    if (g->input < 0) g->input = v;
    return 0;
}

const char *graft__op_name(int op) {
    static const char *const names[GRAFT__OP_COUNT] = {
        [GRAFT__OP_CONV] = "Conv",           [GRAFT__OP_GEMM] = "Gemm",
        [GRAFT__OP_MATMUL] = "MatMul",       [GRAFT__OP_POOL] = "Pool",
        [GRAFT__OP_GLOBAL_POOL] = "GlobalPool", [GRAFT__OP_UNARY] = "Unary",
        [GRAFT__OP_BINARY] = "Binary",       [GRAFT__OP_BATCHNORM] = "BatchNormalization",
        [GRAFT__OP_CONCAT] = "Concat",       [GRAFT__OP_SOFTMAX] = "Softmax",
        [GRAFT__OP_LRN] = "LRN",             [GRAFT__OP_RESHAPE] = "Reshape",
        [GRAFT__OP_FLATTEN] = "Flatten",     [GRAFT__OP_TRANSPOSE] = "Transpose",
        [GRAFT__OP_SQUEEZE] = "Squeeze",     [GRAFT__OP_UNSQUEEZE] = "Unsqueeze",
        [GRAFT__OP_SLICE] = "Slice",         [GRAFT__OP_SPLIT] = "Split",
        [GRAFT__OP_PAD] = "Pad",             [GRAFT__OP_REDUCE] = "Reduce",
        [GRAFT__OP_SHAPE] = "Shape",         [GRAFT__OP_GATHER] = "Gather",
        [GRAFT__OP_CAST] = "Cast",           [GRAFT__OP_CONSTANT_OF_SHAPE] = "ConstantOfShape",
        [GRAFT__OP_IDENTITY] = "Identity",
    };
    return op >= 0 && op < GRAFT__OP_COUNT && names[op] ? names[op] : "?";
}
