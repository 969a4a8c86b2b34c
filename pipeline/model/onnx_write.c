/*
 * pipeline/model/onnx_write.c: the ONNX writer of onnx_write.h. Each piece (node, initializer,
 * graph input/output) is encoded into protobuf bytes when it is added, so serialising is one
 * concatenation; field numbers follow onnx.proto (ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graft/graft.h"
#include "kernels.h"
#include "onnx_write.h"
#include "protobuf.h"

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v) {
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, tmp, (size_t)n);
}

static void put_key(buf *b, int field, int wire) { put_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }
static void put_int(buf *b, int field, int64_t v) {
    put_key(b, field, 0);
    put_varint(b, (uint64_t)v);
}
static void put_bytes(buf *b, int field, const void *d, size_t n) {
    put_key(b, field, 2);
    put_varint(b, n);
    put(b, d, n);
}
static void put_str(buf *b, int field, const char *s) { put_bytes(b, field, s, strlen(s)); }
static void put_msg(buf *b, int field, const buf *sub) {
    if (sub->oom) b->oom = 1;
    put_bytes(b, field, sub->p, sub->n);
}
static void put_float(buf *b, int field, float f) {
    put_key(b, field, 5);
    put(b, &f, 4); /* little-endian hosts only, as the reader */
}

struct graft__onnx_builder {
    char *producer;
    int opset;
    buf graph; /* GraphProto fields in the order added */
    buf inputs, outputs;
};

graft__onnx_builder *graft__onnx_begin(const char *producer, int opset) {
    graft__onnx_builder *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->producer = strdup(producer ? producer : "graft");
    b->opset = opset;
    if (!b->producer) {
        free(b);
        return NULL;
    }
    return b;
}

void graft__onnx_free(graft__onnx_builder *b) {
    if (!b) return;
    free(b->producer);
    free(b->graph.p);
    free(b->inputs.p);
    free(b->outputs.p);
    free(b);
}

static int value_info(buf *dst, int field, const char *name, int rank, const int64_t *dims) {
    buf shape = {0}, tensor = {0}, type = {0}, vi = {0};
    for (int d = 0; d < rank; d++) {
        buf dim = {0};
        if (dims[d] < 0) put_str(&dim, 2, "N");
        else put_int(&dim, 1, dims[d]);
        put_msg(&shape, 1, &dim);
        free(dim.p);
    }
    put_int(&tensor, 1, 1); /* FLOAT */
    put_msg(&tensor, 2, &shape);
    put_msg(&type, 1, &tensor);
    put_str(&vi, 1, name);
    put_msg(&vi, 2, &type);
    put_msg(dst, field, &vi);
    int oom = shape.oom || tensor.oom || type.oom || vi.oom || dst->oom;
    free(shape.p);
    free(tensor.p);
    free(type.p);
    free(vi.p);
    return oom ? graft__fail(GRAFT_ENOMEM, "onnx writer: out of memory") : GRAFT_OK;
}

int graft__onnx_input(graft__onnx_builder *b, const char *name, int rank, const int64_t *dims) {
    return value_info(&b->inputs, 11, name, rank, dims);
}

int graft__onnx_output(graft__onnx_builder *b, const char *name, int rank, const int64_t *dims) {
    return value_info(&b->outputs, 12, name, rank, dims);
}

static int initializer(graft__onnx_builder *b, const char *name, int rank, const int64_t *dims,
                       int dtype, const void *data, size_t elem) {
    buf t = {0};
    size_t count = 1;
    for (int d = 0; d < rank; d++) {
        put_int(&t, 1, dims[d]);
        count *= (size_t)dims[d];
    }
    put_int(&t, 2, dtype);
    put_str(&t, 8, name);
    put_bytes(&t, 9, data, count * elem);
    put_msg(&b->graph, 5, &t);
    int oom = t.oom || b->graph.oom;
    free(t.p);
    return oom ? graft__fail(GRAFT_ENOMEM, "onnx writer: out of memory") : GRAFT_OK;
}

int graft__onnx_initializer(graft__onnx_builder *b, const char *name, int rank,
                            const int64_t *dims, const float *data) {
    return initializer(b, name, rank, dims, 1, data, sizeof(float));
}

int graft__onnx_initializer_i64(graft__onnx_builder *b, const char *name, int rank,
                                const int64_t *dims, const int64_t *data) {
    return initializer(b, name, rank, dims, 7, data, sizeof(int64_t));
}

int graft__onnx_node(graft__onnx_builder *b, const char *op, const char *name,
                     const char *const *inputs, int n_in, const char *const *outputs, int n_out,
                     const graft__onnx_attr *attrs, int n_attrs) {
    buf n = {0};
    for (int i = 0; i < n_in; i++) put_str(&n, 1, inputs[i] ? inputs[i] : "");
    for (int i = 0; i < n_out; i++) put_str(&n, 2, outputs[i]);
    if (name) put_str(&n, 3, name);
    put_str(&n, 4, op);
    for (int a = 0; a < n_attrs; a++) {
        const graft__onnx_attr *at = &attrs[a];
        buf ab = {0};
        put_str(&ab, 1, at->name);
        switch (at->type) {
        case GRAFT__ONNX_ATTR_FLOAT: put_float(&ab, 2, at->f); break;
        case GRAFT__ONNX_ATTR_INT: put_int(&ab, 3, at->i); break;
        case GRAFT__ONNX_ATTR_STRING: put_str(&ab, 4, at->s ? at->s : ""); break;
        case GRAFT__ONNX_ATTR_INTS:
            for (int k = 0; k < at->n_ints && k < GRAFT__ONNX_MAX_INTS; k++)
                put_int(&ab, 8, at->ints[k]);
            break;
        }
        put_int(&ab, 20, at->type);
        put_msg(&n, 5, &ab);
        free(ab.p);
    }
    put_msg(&b->graph, 1, &n);
    int oom = n.oom || b->graph.oom;
    free(n.p);
    return oom ? graft__fail(GRAFT_ENOMEM, "onnx writer: out of memory") : GRAFT_OK;
}

int graft__onnx_serialize(const graft__onnx_builder *b, uint8_t **out, size_t *len) {
    buf graph = {0}, opset = {0}, model = {0};
    put(&graph, b->graph.p, b->graph.n);
    put_str(&graph, 2, "graft");
    put(&graph, b->inputs.p, b->inputs.n);
    put(&graph, b->outputs.p, b->outputs.n);
    put_str(&opset, 1, "");
    put_int(&opset, 2, b->opset);
    put_int(&model, 1, 8); /* IR version 8 (ONNX 1.10+) */
    put_str(&model, 2, b->producer);
    put_str(&model, 3, GRAFT_VERSION_STRING);
    put_msg(&model, 7, &graph);
    put_msg(&model, 8, &opset);
    int oom = graph.oom || opset.oom || model.oom;
    free(graph.p);
    free(opset.p);
    if (oom) {
        free(model.p);
        return graft__fail(GRAFT_ENOMEM, "onnx writer: out of memory");
    }
    *out = model.p;
    *len = model.n;
    return GRAFT_OK;
}

int graft__onnx_write(const graft__onnx_builder *b, const char *path) {
    uint8_t *data;
    size_t len;
    int rc = graft__onnx_serialize(b, &data, &len);
    if (rc) return rc;
    rc = graft__onnx_write_bytes(path, data, len);
    free(data);
    return rc;
}

int graft__onnx_write_bytes(const char *path, const uint8_t *data, size_t len) {
    int rc = GRAFT_OK;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return graft__fail(GRAFT_ENOMEM, "onnx writer: out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = graft__fail(errno == ENOSPC ? GRAFT_ENOSPC : GRAFT_EIO, "%s: %s", tmp,
                         strerror(errno));
    } else {
        int ok = fwrite(data, 1, len, f) == len;
        int err = errno;
        if (fclose(f) != 0 && ok) {
            ok = 0;
            err = errno;
        }
        if (!ok) {
            rc = graft__fail(err == ENOSPC ? GRAFT_ENOSPC : GRAFT_EIO, "%s: %s", tmp,
                             strerror(err));
            remove(tmp);
        } else if (rename(tmp, path) != 0) {
            rc = graft__fail(GRAFT_EIO, "%s: %s", path, strerror(errno));
            remove(tmp);
        }
    }
    free(tmp);
    return rc;
}

/* ---- cutting an existing model and appending the builder's graph ------------------------- */

/* Names kept, as a growable array searched linearly: graphs have hundreds of tensors. */
typedef struct names {
    char **v;
    size_t n, cap;
} names;

static int names_has(const names *s, const uint8_t *p, size_t len) {
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == len && !memcmp(s->v[i], p, len)) return 1;
    return 0;
}

static int names_add(names *s, const uint8_t *p, size_t len) {
    if (names_has(s, p, len)) return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c) return -1;
    memcpy(c, p, len);
    c[len] = '\0';
    s->v[s->n++] = c;
    return 0;
}

static void names_free(names *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

/* The first string field `number` of a message into *out: 1, 0 when absent, or an error. */
static int first_string(const graft_pb_reader *parent, const graft_pb_field *msg, uint32_t number,
                        graft_pb_field *out) {
    graft_pb_reader r;
    graft_pb_reader_sub(&r, parent, msg, "onnx: message");
    graft_pb_field f;
    int rc;
    while ((rc = graft_pb_next(&r, &f)) == 1)
        if (f.number == number && f.wire == GRAFT_PB_WIRE_LEN) {
            *out = f;
            return 1;
        }
    return rc;
}

int graft__onnx_cut_append(const uint8_t *src, size_t src_len, const char *tap,
                           const graft__onnx_builder *b, uint8_t **out, size_t *out_len) {
    graft_pb_reader model;
    graft_pb_reader_init(&model, src, src_len, "onnx: ModelProto");
    graft_pb_field f, graph_field = {0};
    buf m = {0}, g = {0};
    names need = {0};
    int rc, have_graph = 0, err = GRAFT_OK;
    /* Every ModelProto field but the graph is kept as it is (opsets, IR version, metadata). */
    while ((rc = graft_pb_next(&model, &f)) == 1) {
        if (f.number == 7 && f.wire == GRAFT_PB_WIRE_LEN) {
            graph_field = f;
            have_graph = 1;
            continue;
        }
        put(&m, src + f.offset, (f.wire == GRAFT_PB_WIRE_LEN ? f.data_offset + f.len : model.pos) -
                                    f.offset);
    }
    if (rc < 0 || !have_graph) {
        err = rc < 0 ? rc : graft__fail(GRAFT_ECORRUPT, "onnx export: the model has no graph");
        goto done;
    }
    /* Pass 1: the nodes in file order (ONNX keeps them topologically sorted). */
    graft_pb_reader gr;
    graft_pb_reader_sub(&gr, &model, &graph_field, "onnx: GraphProto");
    size_t n_nodes = 0, cap_nodes = 0;
    graft_pb_field *nodes = NULL;
    while ((rc = graft_pb_next(&gr, &f)) == 1) {
        if (f.number != 1 || f.wire != GRAFT_PB_WIRE_LEN) continue;
        if (n_nodes == cap_nodes) {
            cap_nodes = cap_nodes ? 2 * cap_nodes : 256;
            graft_pb_field *v = realloc(nodes, cap_nodes * sizeof *v);
            if (!v) {
                free(nodes);
                err = graft__fail(GRAFT_ENOMEM, "onnx export: out of memory");
                goto done;
            }
            nodes = v;
        }
        nodes[n_nodes++] = f;
    }
    if (rc < 0) {
        free(nodes);
        err = rc;
        goto done;
    }
    /* Walk back from the tap: a node is kept when one of its outputs is needed. */
    char *keep = calloc(n_nodes ? n_nodes : 1, 1);
    int tap_found = 0;
    if (!keep || names_add(&need, (const uint8_t *)tap, strlen(tap))) {
        free(keep);
        free(nodes);
        err = graft__fail(GRAFT_ENOMEM, "onnx export: out of memory");
        goto done;
    }
    for (size_t i = n_nodes; i-- > 0;) {
        graft_pb_reader nr;
        graft_pb_reader_sub(&nr, &gr, &nodes[i], "onnx: NodeProto");
        int needed = 0;
        while ((rc = graft_pb_next(&nr, &f)) == 1)
            if (f.number == 2 && f.wire == GRAFT_PB_WIRE_LEN && names_has(&need, f.data, f.len)) {
                needed = 1;
                if (f.len == strlen(tap) && !memcmp(f.data, tap, f.len)) tap_found = 1;
            }
        if (rc < 0 || !needed) continue;
        keep[i] = 1;
        graft_pb_reader_sub(&nr, &gr, &nodes[i], "onnx: NodeProto");
        while (graft_pb_next(&nr, &f) == 1)
            if (f.number == 1 && f.wire == GRAFT_PB_WIRE_LEN && f.len &&
                names_add(&need, f.data, f.len))
                err = graft__fail(GRAFT_ENOMEM, "onnx export: out of memory");
    }
    if (!err && !tap_found)
        err = graft__fail(GRAFT_EINVAL, "onnx export: no node of the model computes '%s'", tap);
    /* Pass 2: the cut graph, then the builder's nodes, initializers and outputs. */
    graft_pb_reader_sub(&gr, &model, &graph_field, "onnx: GraphProto");
    size_t node_i = 0;
    while (!err && (rc = graft_pb_next(&gr, &f)) == 1) {
        size_t whole = (f.wire == GRAFT_PB_WIRE_LEN ? f.data_offset + f.len : gr.pos) - f.offset;
        graft_pb_field name;
        switch (f.number) {
        case 1: /* node */
            if (keep[node_i++]) put(&g, src + f.offset, whole);
            break;
        case 5:  /* initializer: TensorProto.name is field 8 */
        case 11: /* input: ValueInfoProto.name is field 1 */
            if (first_string(&gr, &f, f.number == 5 ? 8 : 1, &name) == 1 &&
                names_has(&need, name.data, name.len))
                put(&g, src + f.offset, whole);
            break;
        case 12: /* outputs and value_info are replaced */
        case 13:
            break;
        default: put(&g, src + f.offset, whole);
        }
    }
    if (!err && rc < 0) err = rc;
    free(keep);
    free(nodes);
    if (err) goto done;
    put(&g, b->graph.p, b->graph.n);
    put(&g, b->outputs.p, b->outputs.n);
    put_msg(&m, 7, &g);
    if (m.oom || g.oom) {
        err = graft__fail(GRAFT_ENOMEM, "onnx export: out of memory");
        goto done;
    }
    *out = m.p;
    *out_len = m.n;
    m.p = NULL;
done:
    names_free(&need);
    free(m.p);
    free(g.p);
    return err;
}
