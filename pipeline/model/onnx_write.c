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
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(data);
        return graft__fail(GRAFT_ENOMEM, "onnx writer: out of memory");
    }
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
    free(data);
    return rc;
}
