/*
 * pipeline/model/onnx_import.c: ONNX ModelProto -> graft IR (graph.h), for opsets 7 to 18.
 *
 * The decoder (onnx_proto.c) is our own bounds-checked wire-format reader over an mmap rather
 * than protobuf-c with Debian's onnx.proto: protobuf-c would copy every weight into its own
 * heap objects (a 550 MB VGG twice in memory) and abort-free error reporting with field
 * offsets would still need a layer on top. Here weights are read straight from the mapping and
 * converted once, into the graph's constants; the mapping is dropped after import.
 *
 * This file maps each operator's attributes, in every opset form the exporters write
 * (attributes that became inputs in opsets 10, 11, 13 and 18), onto the IR's ONNX-semantics
 * nodes. It does not infer shapes or fold anything: that is passes.c and the net.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph.h"
#include "kernels.h"
#include "onnx_proto.h"

typedef struct importer {
    const graft_onnx_model *m;
    const graft_onnx_graph *og;
    graft__graph *g;
    int64_t opset;
    const char *path; /* for external data and messages */
} importer;

/* ---- tensors --------------------------------------------------------------------------- */

/* Reads an external-data tensor's bytes (location relative to the model's directory). */
static int read_external(const importer *im, const graft_onnx_tensor *t, void **bytes,
                         size_t *len) {
    char dir[PATH_MAX], full[2 * PATH_MAX];
    snprintf(dir, sizeof dir, "%s", im->path ? im->path : ".");
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    const char *loc = t->external_location;
    if (!loc[0] || loc[0] == '/' || strstr(loc, ".."))
        return graft__fail(GRAFT_ECORRUPT, "onnx: tensor '%s': external location '%s' must be "
                           "a relative path inside the model's directory", t->name, loc);
    snprintf(full, sizeof full, "%s/%s", dir, loc);
    char *end;
    unsigned long long off = t->external_offset[0] ? strtoull(t->external_offset, &end, 10) : 0;
    size_t want = t->numel * graft_onnx_dtype_size(t->data_type);
    if (t->external_length[0]) {
        unsigned long long l = strtoull(t->external_length, &end, 10);
        if (l != want)
            return graft__fail(GRAFT_ECORRUPT, "onnx: tensor '%s': external length %llu, but "
                               "its dims need %zu bytes", t->name, l, want);
    }
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return graft__fail(GRAFT_EIO, "onnx: tensor '%s': cannot open external data '%s': %s",
                           t->name, full, strerror(errno));
    void *buf = malloc(want ? want : 1);
    if (!buf) {
        close(fd);
        return graft__fail(GRAFT_ENOMEM, "onnx: tensor '%s': out of memory", t->name);
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(fd, (char *)buf + got, want - got, (off_t)(off + got));
        if (r <= 0) {
            close(fd);
            free(buf);
            return graft__fail(GRAFT_EIO, "onnx: tensor '%s': external data '%s' ends after "
                               "%zu of %zu bytes at offset %llu", t->name, full, got, want, off);
        }
        got += (size_t)r;
    }
    close(fd);
    *bytes = buf;
    *len = want;
    return 0;
}

/*
 * Drops the file pages under a converted tensor from this process (they stay in the page cache
 * and would be read again from the file if touched), so a model's weights are not resident
 * twice, as mapping and as floats, while it loads. Only whole pages inside the range.
 */
static void release_pages(const void *p, size_t len) {
    long page = sysconf(_SC_PAGESIZE);
    if (!p || page <= 0 || len < (size_t)page * 4) return;
    uintptr_t lo = ((uintptr_t)p + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Adds an ONNX TensorProto as a constant: floating types to F32, integers and BOOL to I64. */
static int add_tensor_const(importer *im, const graft_onnx_tensor *t, const char *name,
                            int is_weight) {
    graft_onnx_tensor tmp = *t;
    void *ext = NULL;
    if (t->external) {
        size_t len;
        int err = read_external(im, t, &ext, &len);
        if (err) return err;
        tmp.external = 0;
        tmp.raw = ext;
        tmp.raw_len = len;
    }
    int64_t dims[GRAFT__MAX_RANK];
    if (t->rank > GRAFT__MAX_RANK) {
        free(ext);
        return graft__fail(GRAFT_EUNSUPPORTED, "onnx: tensor '%s' has rank %zu", name, t->rank);
    }
    for (size_t d = 0; d < t->rank; d++) dims[d] = t->dims[d];
    int isfloat = t->data_type == GRAFT_ONNX_DTYPE_FLOAT || t->data_type == GRAFT_ONNX_DTYPE_FLOAT16 ||
                  t->data_type == GRAFT_ONNX_DTYPE_DOUBLE ||
                  t->data_type == GRAFT_ONNX_DTYPE_BFLOAT16;
    /* int8/uint8 weights (dequantized by a following DequantizeLinear or Mul in the graph)
       are still integers here; they become floats when an op needs them so. */
    size_t esz = isfloat ? 4 : 8;
    void *data = malloc(t->numel ? t->numel * esz : 1);
    int err = data ? 0 : graft__fail(GRAFT_ENOMEM, "onnx: tensor '%s': out of memory", name);
    if (!err && t->data_type == GRAFT_ONNX_DTYPE_FLOAT && tmp.raw && im->path) {
        /* float32 from a file mapping: copied in slices, each slice's file pages dropped
           behind it, so a 400 MB layer is never resident twice (mapping and copy). */
        const size_t slice = (size_t)16 << 20;
        for (size_t off = 0; off < tmp.raw_len; off += slice) {
            size_t len = tmp.raw_len - off < slice ? tmp.raw_len - off : slice;
            memcpy((char *)data + off, tmp.raw + off, len);
            release_pages(tmp.raw + off, len);
        }
    } else if (!err && isfloat) {
        err = graft_onnx_tensor_to_float(&tmp, data, t->numel);
    }
    if (!err && !isfloat) err = graft_onnx_tensor_to_int64(&tmp, data, t->numel);

    free(ext);
    if (err) {
        free(data);
        return err;
    }
    if (im->path) release_pages(t->raw, t->raw_len);
    return graft__graph_add_const(im->g, name, isfloat ? GRAFT__F32 : GRAFT__I64, (int)t->rank,
                                  dims, data, 0, is_weight && isfloat);
}

/* ---- attributes ------------------------------------------------------------------------ */

static int64_t attr_i(const graft_onnx_node *n, const char *name, int64_t dflt) {
    const graft_onnx_attr *a = graft_onnx_node_attr(n, name);
    return a && a->type == GRAFT_ONNX_ATTR_INT ? a->i : dflt;
}

static float attr_f(const graft_onnx_node *n, const char *name, float dflt) {
    const graft_onnx_attr *a = graft_onnx_node_attr(n, name);
    if (a && a->type == GRAFT_ONNX_ATTR_FLOAT) return a->f;
    if (a && a->type == GRAFT_ONNX_ATTR_INT) return (float)a->i;
    return dflt;
}

/* Copies an INTS attribute into v[0..max); returns its length, -1 when absent. */
static int attr_ints(const graft_onnx_node *n, const char *name, int64_t *v, int max) {
    const graft_onnx_attr *a = graft_onnx_node_attr(n, name);
    if (!a || a->type != GRAFT_ONNX_ATTR_INTS) return -1;
    if ((int)a->int_count > max) return -2;
    for (size_t i = 0; i < a->int_count; i++) v[i] = a->ints[i];
    return (int)a->int_count;
}

static int attr_auto_pad(const graft_onnx_node *n, int *out) {
    const graft_onnx_attr *a = graft_onnx_node_attr(n, "auto_pad");
    *out = GRAFT__PAD_NOTSET;
    if (!a) return 0;
    const char *s = a->s.data ? a->s.data : "";
    if (!strcmp(s, "NOTSET") || !s[0]) *out = GRAFT__PAD_NOTSET;
    else if (!strcmp(s, "SAME_UPPER")) *out = GRAFT__PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER")) *out = GRAFT__PAD_SAME_LOWER;
    else if (!strcmp(s, "VALID")) *out = GRAFT__PAD_VALID;
    else
        return graft__fail(GRAFT_EUNSUPPORTED, "onnx: node '%s' (%s): auto_pad '%s'", n->name,
                           n->op_type, s);
    return 0;
}

/* A builder's index-or-error result as an error code. */
static int ok(int v) { return v < 0 ? v : 0; }

static int node_fail(const graft_onnx_node *n, int err, const char *what) {
    return graft__fail(err, "onnx: node '%s' (%s): %s", n->name, n->op_type, what);
}

/*
 * Spatial attributes shared by Conv and the pools: kernel (from kernel_shape or, for Conv, the
 * weights later), strides, dilations, pads. Only 2-D is run; 1-D and 3-D are refused.
 */
static int spatial_attrs(const graft_onnx_node *n, int *kh, int *kw, int *sh, int *sw, int *dh,
                         int *dw, int pads[4]) {
    int64_t v[8];
    int k = attr_ints(n, "kernel_shape", v, 8);
    if (k >= 0 && k != 2) return node_fail(n, GRAFT_EUNSUPPORTED, "only 2-D kernels are run");
    if (k == 2) *kh = (int)v[0], *kw = (int)v[1];
    int s = attr_ints(n, "strides", v, 8);
    *sh = *sw = 1;
    if (s >= 0 && s != 2) return node_fail(n, GRAFT_EUNSUPPORTED, "only 2-D strides are run");
    if (s == 2) *sh = (int)v[0], *sw = (int)v[1];
    int d = attr_ints(n, "dilations", v, 8);
    *dh = *dw = 1;
    if (d >= 0 && d != 2) return node_fail(n, GRAFT_EUNSUPPORTED, "only 2-D dilations are run");
    if (d == 2) *dh = (int)v[0], *dw = (int)v[1];
    int p = attr_ints(n, "pads", v, 8);
    pads[0] = pads[1] = pads[2] = pads[3] = 0;
    if (p >= 0 && p != 4) return node_fail(n, GRAFT_EUNSUPPORTED, "only 2-D pads are run");
    if (p == 4) {
        for (int i = 0; i < 4; i++) {
            if (v[i] < 0 || v[i] > 1 << 20) return node_fail(n, GRAFT_EINVAL, "bad pads");
            pads[i] = (int)v[i];
        }
    }
    if (*sh < 1 || *sw < 1 || *dh < 1 || *dw < 1 || *sh > 1 << 20 || *sw > 1 << 20 ||
        *dh > 1 << 20 || *dw > 1 << 20)
        return node_fail(n, GRAFT_EINVAL, "strides and dilations must be >= 1");
    return 0;
}

/* ---- nodes ----------------------------------------------------------------------------- */

/* Resolves a node's inputs and creates its outputs; "" inputs become -1. */
static int resolve_io(importer *im, const graft_onnx_node *n, int *in, int *out) {
    for (size_t i = 0; i < n->input_count; i++) {
        if (!n->inputs[i][0]) {
            in[i] = -1;
            continue;
        }
        in[i] = graft__graph_find(im->g, n->inputs[i]);
        if (in[i] < 0)
            return graft__fail(GRAFT_EINVAL, "onnx: node '%s' (%s): input '%s' is not defined by "
                               "any node, initializer or graph input", n->name, n->op_type,
                               n->inputs[i]);
    }
    for (size_t i = 0; i < n->output_count; i++) {
        out[i] = graft__graph_find(im->g, n->outputs[i]);
        if (out[i] < 0) out[i] = graft__graph_add_value(im->g, n->outputs[i], GRAFT__F32, -1, NULL);
        if (out[i] < 0) return out[i];
    }
    return 0;
}

static const struct {
    const char *name;
    int kind;
} unary_ops[] = {
    {"Relu", GRAFT_UNARY_RELU},       {"Sigmoid", GRAFT_UNARY_SIGMOID},
    {"Tanh", GRAFT_UNARY_TANH},       {"HardSwish", GRAFT_UNARY_HARD_SWISH},
    {"LeakyRelu", GRAFT_UNARY_LEAKY_RELU}, {"HardSigmoid", GRAFT_UNARY_HARD_SIGMOID},
    {"Gelu", GRAFT_UNARY_GELU},       {"Exp", GRAFT_UNARY_EXP},
    {"Log", GRAFT_UNARY_LOG},         {"Abs", GRAFT_UNARY_ABS},
    {"Sqrt", GRAFT_UNARY_SQRT},       {"Sign", GRAFT_UNARY_SIGN},
};

static int import_node(importer *im, const graft_onnx_node *n) {
    int in[256], out[64];
    const char *op = n->op_type;
    if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return graft__fail(GRAFT_EUNSUPPORTED, "onnx: node '%s': operator '%s' of domain '%s' is "
                           "not supported", n->name, op, n->domain);
    if (n->input_count > 256 || n->output_count > 64)
        return node_fail(n, GRAFT_EUNSUPPORTED, "too many inputs or outputs");
    int n_in = (int)n->input_count, n_out = (int)n->output_count;

    /* Constant: a value, not a node. */
    if (!strcmp(op, "Constant")) {
        if (n_out != 1) return node_fail(n, GRAFT_ECORRUPT, "Constant needs one output");
        const graft_onnx_attr *a;
        if ((a = graft_onnx_node_attr(n, "value")) && a->type == GRAFT_ONNX_ATTR_TENSOR && a->t)
            return ok(add_tensor_const(im, a->t, n->outputs[0], 0));
        if ((a = graft_onnx_node_attr(n, "value_float")))
            return ok(graft__graph_add_scalar(im->g, n->outputs[0], a->f));
        if ((a = graft_onnx_node_attr(n, "value_int"))) {
            int64_t v = a->i;
            return ok(graft__graph_add_const(im->g, n->outputs[0], GRAFT__I64, 0, NULL, &v, 1, 0));
        }
        if ((a = graft_onnx_node_attr(n, "value_ints")) && a->type == GRAFT_ONNX_ATTR_INTS)
            return ok(graft__graph_add_i64(im->g, n->outputs[0], a->ints, (int)a->int_count));
        if ((a = graft_onnx_node_attr(n, "value_floats")) && a->type == GRAFT_ONNX_ATTR_FLOATS) {
            int64_t d = (int64_t)a->float_count;
            return ok(graft__graph_add_const(im->g, n->outputs[0], GRAFT__F32, 1, &d,
                                             (void *)a->floats, 1, 0));
        }
        return node_fail(n, GRAFT_EUNSUPPORTED, "Constant without a tensor, float or int value");
    }

    int err = resolve_io(im, n, in, out);
    if (err) return err;
    graft__node *node;
#define ADD(opcode, nin, nout)                                                                \
    do {                                                                                      \
        err = graft__graph_add_node(im->g, opcode, n->name, op, in, nin, out, nout, &node);   \
        if (err) return err;                                                                  \
    } while (0)
#define NEED_IN(k)                                                                            \
    do {                                                                                      \
        if (n_in < (k)) return node_fail(n, GRAFT_ECORRUPT, "missing inputs");               \
        for (int q_ = 0; q_ < (k); q_++)                                                      \
            if (in[q_] < 0) return node_fail(n, GRAFT_ECORRUPT, "a required input is empty"); \
    } while (0)

    if (!strcmp(op, "Conv")) {
        NEED_IN(2);
        int kh = 0, kw = 0, sh, sw, dh, dw, pads[4];
        if ((err = spatial_attrs(n, &kh, &kw, &sh, &sw, &dh, &dw, pads))) return err;
        ADD(GRAFT__OP_CONV, n_in > 3 ? 3 : n_in, 1);
        graft_conv2d *d = &node->a.conv.d;
        d->groups = (int)attr_i(n, "group", 1);
        d->kernel_h = kh, d->kernel_w = kw;
        d->stride_h = sh, d->stride_w = sw, d->dilation_h = dh, d->dilation_w = dw;
        d->pad_top = pads[0], d->pad_left = pads[1], d->pad_bottom = pads[2], d->pad_right = pads[3];
        return attr_auto_pad(n, &node->a.conv.auto_pad);
    }
    if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
        NEED_IN(1);
        if (n_out > 1 && n->outputs[1][0])
            return node_fail(n, GRAFT_EUNSUPPORTED, "the Indices output of MaxPool");
        int kh = 0, kw = 0, sh, sw, dh, dw, pads[4];
        if ((err = spatial_attrs(n, &kh, &kw, &sh, &sw, &dh, &dw, pads))) return err;
        if (kh < 1 || kw < 1) return node_fail(n, GRAFT_ECORRUPT, "kernel_shape missing or < 1");
        ADD(GRAFT__OP_POOL, 1, 1);
        graft_pool2d *p = &node->a.pool.p;
        p->kind = op[0] == 'M' ? GRAFT_POOL_MAX : GRAFT_POOL_AVG;
        p->kernel_h = kh, p->kernel_w = kw, p->stride_h = sh, p->stride_w = sw;
        p->dilation_h = dh, p->dilation_w = dw;
        p->pad_top = pads[0], p->pad_left = pads[1], p->pad_bottom = pads[2], p->pad_right = pads[3];
        p->ceil_mode = (int)attr_i(n, "ceil_mode", 0);
        p->count_include_pad = (int)attr_i(n, "count_include_pad", 0);
        return attr_auto_pad(n, &node->a.pool.auto_pad);
    }
    if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool")) {
        NEED_IN(1);
        ADD(GRAFT__OP_GLOBAL_POOL, 1, 1);
        node->a.gpool = op[6] == 'A' ? GRAFT_POOL_AVG : GRAFT_POOL_MAX;
        return 0;
    }
    if (!strcmp(op, "Gemm")) {
        NEED_IN(2);
        ADD(GRAFT__OP_GEMM, n_in > 3 ? 3 : n_in, 1);
        node->a.gemm.alpha = attr_f(n, "alpha", 1.0f);
        node->a.gemm.beta = attr_f(n, "beta", 1.0f);
        node->a.gemm.trans_a = (int)attr_i(n, "transA", 0);
        node->a.gemm.trans_b = (int)attr_i(n, "transB", 0);
        return 0;
    }
    if (!strcmp(op, "MatMul")) {
        NEED_IN(2);
        ADD(GRAFT__OP_MATMUL, 2, 1);
        return 0;
    }
    for (size_t u = 0; u < sizeof unary_ops / sizeof unary_ops[0]; u++) {
        if (strcmp(op, unary_ops[u].name)) continue;
        NEED_IN(1);
        ADD(GRAFT__OP_UNARY, 1, 1);
        node->a.unary.kind = unary_ops[u].kind;
        if (unary_ops[u].kind == GRAFT_UNARY_LEAKY_RELU)
            node->a.unary.alpha = attr_f(n, "alpha", 0.01f);
        if (unary_ops[u].kind == GRAFT_UNARY_HARD_SIGMOID) {
            node->a.unary.alpha = attr_f(n, "alpha", 0.2f);
            node->a.unary.beta = attr_f(n, "beta", 0.5f);
        }
        if (unary_ops[u].kind == GRAFT_UNARY_GELU) {
            const graft_onnx_attr *a = graft_onnx_node_attr(n, "approximate");
            if (a && a->s.data && !strcmp(a->s.data, "tanh"))
                node->a.unary.kind = GRAFT_UNARY_GELU_TANH;
        }
        return 0;
    }
    if (!strcmp(op, "Clip")) {
        NEED_IN(1);
        /* opset < 11: bounds are attributes; later, optional inputs 1 and 2 (folded later). */
        if (im->opset < 11) {
            ADD(GRAFT__OP_UNARY, 1, 1);
            node->a.unary.kind = GRAFT_UNARY_CLIP;
            node->a.unary.alpha = attr_f(n, "min", -INFINITY);
            node->a.unary.beta = attr_f(n, "max", INFINITY);
            return 0;
        }
        ADD(GRAFT__OP_UNARY, n_in > 3 ? 3 : n_in, 1);
        node->a.unary.kind = GRAFT_UNARY_CLIP;
        node->a.unary.alpha = -INFINITY;
        node->a.unary.beta = INFINITY;
        return 0;
    }
    if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")) {
        NEED_IN(2);
        if (in[1] < 0) return node_fail(n, GRAFT_ECORRUPT, "missing inputs");
        if (im->opset < 7 && attr_i(n, "broadcast", 0))
            return node_fail(n, GRAFT_EUNSUPPORTED, "legacy broadcast (opset < 7)");
        ADD(GRAFT__OP_BINARY, 2, 1);
        node->a.binary.op = op[0] == 'A' ? GRAFT_BINARY_ADD : op[0] == 'S' ? GRAFT_BINARY_SUB
                          : op[0] == 'M' ? GRAFT_BINARY_MUL : GRAFT_BINARY_DIV;
        return 0;
    }
    if (!strcmp(op, "Sum")) {
        /* n-ary Sum of older models: a chain of Adds. */
        NEED_IN(1);
        if (n_in == 1) {
            ADD(GRAFT__OP_IDENTITY, 1, 1);
            return 0;
        }
        int acc = in[0];
        for (int i = 1; i < n_in; i++) {
            int pair[2] = {acc, in[i]}, o = out[0];
            if (i < n_in - 1) {
                o = graft__graph_add_value(im->g, "", GRAFT__F32, -1, NULL);
                if (o < 0) return o;
            }
            err = graft__graph_add_node(im->g, GRAFT__OP_BINARY, n->name, op, pair, 2, &o, 1,
                                        &node);
            if (err) return err;
            node->a.binary.op = GRAFT_BINARY_ADD;
            acc = o;
        }
        return 0;
    }
    if (!strcmp(op, "BatchNormalization")) {
        NEED_IN(5);
        if (attr_i(n, "training_mode", 0))
            return node_fail(n, GRAFT_EUNSUPPORTED, "training-mode BatchNormalization");
        ADD(GRAFT__OP_BATCHNORM, 5, 1);
        node->a.bn_eps = attr_f(n, "epsilon", 1e-5f);
        return 0;
    }
    if (!strcmp(op, "Concat")) {
        NEED_IN(1);
        ADD(GRAFT__OP_CONCAT, n_in, 1);
        node->a.axis = (int)attr_i(n, "axis", im->opset < 4 ? 1 : INT32_MIN);
        if (node->a.axis == INT32_MIN) return node_fail(n, GRAFT_ECORRUPT, "Concat without axis");
        return 0;
    }
    if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) {
        NEED_IN(1);
        ADD(GRAFT__OP_SOFTMAX, 1, 1);
        node->a.softmax.coerce_2d = im->opset < 13;
        node->a.softmax.axis = (int)attr_i(n, "axis", im->opset < 13 ? 1 : -1);
        node->a.softmax.log = op[0] == 'L';
        return 0;
    }
    if (!strcmp(op, "LRN")) {
        NEED_IN(1);
        ADD(GRAFT__OP_LRN, 1, 1);
        node->a.lrn.size = (int)attr_i(n, "size", 0);
        node->a.lrn.alpha = attr_f(n, "alpha", 1e-4f);
        node->a.lrn.beta = attr_f(n, "beta", 0.75f);
        node->a.lrn.bias = attr_f(n, "bias", 1.0f);
        if (node->a.lrn.size < 1) return node_fail(n, GRAFT_ECORRUPT, "LRN size must be >= 1");
        return 0;
    }
    if (!strcmp(op, "Reshape")) {
        NEED_IN(1);
        if (n_in < 2) {
            /* opset < 5: the shape is an attribute. */
            int64_t v[GRAFT__MAX_RANK];
            int k = attr_ints(n, "shape", v, GRAFT__MAX_RANK);
            if (k < 0) return node_fail(n, GRAFT_ECORRUPT, "Reshape without a shape");
            in[1] = graft__graph_add_i64(im->g, "", v, k);
            if (in[1] < 0) return in[1];
        }
        ADD(GRAFT__OP_RESHAPE, 2, 1);
        node->a.reshape_allowzero = (int)attr_i(n, "allowzero", 0);
        return 0;
    }
    if (!strcmp(op, "Flatten")) {
        NEED_IN(1);
        ADD(GRAFT__OP_FLATTEN, 1, 1);
        node->a.axis = (int)attr_i(n, "axis", 1);
        return 0;
    }
    if (!strcmp(op, "Transpose")) {
        NEED_IN(1);
        ADD(GRAFT__OP_TRANSPOSE, 1, 1);
        int64_t v[GRAFT__MAX_RANK];
        int k = attr_ints(n, "perm", v, GRAFT__MAX_RANK);
        if (k == -2) return node_fail(n, GRAFT_EUNSUPPORTED, "rank above 8");
        node->a.transpose.n = k > 0 ? k : 0;
        for (int i = 0; i < k; i++) node->a.transpose.perm[i] = (int)v[i];
        return 0;
    }
    if (!strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) {
        NEED_IN(1);
        int opc = op[0] == 'S' ? GRAFT__OP_SQUEEZE : GRAFT__OP_UNSQUEEZE;
        ADD(opc, n_in > 2 ? 2 : n_in, 1);
        int k = attr_ints(n, "axes", node->a.axes.axes, GRAFT__MAX_RANK);
        node->a.axes.n = k >= 0 ? k : -1;
        if (opc == GRAFT__OP_UNSQUEEZE && k < 0 && n_in < 2)
            return node_fail(n, GRAFT_ECORRUPT, "Unsqueeze without axes");
        return 0;
    }
    if (!strcmp(op, "Slice")) {
        NEED_IN(1);
        if (im->opset < 10) {
            int64_t st[8], en[8], ax[8];
            int ks = attr_ints(n, "starts", st, 8), ke = attr_ints(n, "ends", en, 8);
            int ka = attr_ints(n, "axes", ax, 8);
            if (ks < 0 || ke != ks || (ka >= 0 && ka != ks))
                return node_fail(n, GRAFT_ECORRUPT, "bad starts/ends/axes");
            in[1] = graft__graph_add_i64(im->g, "", st, ks);
            in[2] = in[1] < 0 ? -1 : graft__graph_add_i64(im->g, "", en, ke);
            in[3] = ka < 0 ? -1 : graft__graph_add_i64(im->g, "", ax, ka);
            in[4] = -1;
            if (in[1] < 0) return in[1];
            if (in[2] < 0) return in[2];
            if (ka >= 0 && in[3] < 0) return in[3];
            n_in = 5;
        }
        if (n_in < 3) return node_fail(n, GRAFT_ECORRUPT, "Slice needs starts and ends");
        int k = n_in > 5 ? 5 : n_in;
        for (int i = k; i < 5; i++) in[i] = -1;
        ADD(GRAFT__OP_SLICE, 5, 1);
        return 0;
    }
    if (!strcmp(op, "Split")) {
        NEED_IN(1);
        ADD(GRAFT__OP_SPLIT, n_in > 2 ? 2 : n_in, n_out);
        node->a.split.axis = (int)attr_i(n, "axis", 0);
        int k = attr_ints(n, "split", node->a.split.sizes, 64);
        if (k == -2) return node_fail(n, GRAFT_EUNSUPPORTED, "more than 64 splits");
        node->a.split.n_sizes = k > 0 ? k : 0;
        return 0;
    }
    if (!strcmp(op, "Pad")) {
        NEED_IN(1);
        const graft_onnx_attr *m = graft_onnx_node_attr(n, "mode");
        const char *mode = m && m->s.data ? m->s.data : "constant";
        int imode = !strcmp(mode, "constant") ? 0 : !strcmp(mode, "reflect") ? 1
                  : !strcmp(mode, "edge") ? 2 : -1;
        if (imode < 0) return node_fail(n, GRAFT_EUNSUPPORTED, "Pad mode");
        if (im->opset < 11) {
            int64_t v[16];
            int k = attr_ints(n, "pads", v, 16);
            if (k < 0) return node_fail(n, GRAFT_ECORRUPT, "Pad without pads");
            in[1] = graft__graph_add_i64(im->g, "", v, k);
            if (in[1] < 0) return in[1];
            in[2] = -1;
            n_in = 3;
        }
        if (n_in > 3 && in[3] >= 0) return node_fail(n, GRAFT_EUNSUPPORTED, "Pad axes input");
        for (int i = n_in; i < 3; i++) in[i] = -1;
        ADD(GRAFT__OP_PAD, 3, 1);
        node->a.pad.mode = imode;
        node->a.pad.value = attr_f(n, "value", 0.0f);
        return 0;
    }
    if (!strcmp(op, "ReduceMean") || !strcmp(op, "ReduceMax") || !strcmp(op, "ReduceSum")) {
        NEED_IN(1);
        /* ReduceSum took its axes as an input from opset 13, the others from 18. */
        int axes_input = !strcmp(op, "ReduceSum") ? im->opset >= 13 : im->opset >= 18;
        ADD(GRAFT__OP_REDUCE, axes_input && n_in > 1 ? 2 : 1, 1);
        node->a.axes.kind = op[6] == 'M' && op[7] == 'e' ? GRAFT__REDUCE_MEAN
                          : op[6] == 'M' ? GRAFT__REDUCE_MAX : GRAFT__REDUCE_SUM;
        node->a.axes.keepdims = (int)attr_i(n, "keepdims", 1);
        node->a.axes.noop_with_empty_axes = (int)attr_i(n, "noop_with_empty_axes", 0);
        int k = attr_ints(n, "axes", node->a.axes.axes, GRAFT__MAX_RANK);
        node->a.axes.n = k >= 0 ? k : -1;
        return 0;
    }
    if (!strcmp(op, "Shape")) {
        NEED_IN(1);
        ADD(GRAFT__OP_SHAPE, 1, 1);
        node->a.shape.start = attr_i(n, "start", 0);
        node->a.shape.end = attr_i(n, "end", INT64_MAX);
        return 0;
    }
    if (!strcmp(op, "Gather")) {
        NEED_IN(2);
        ADD(GRAFT__OP_GATHER, 2, 1);
        node->a.axis = (int)attr_i(n, "axis", 0);
        return 0;
    }
    if (!strcmp(op, "Cast")) {
        NEED_IN(1);
        int64_t to = attr_i(n, "to", 0);
        if (to != GRAFT_ONNX_DTYPE_FLOAT && to != GRAFT_ONNX_DTYPE_INT64 &&
            to != GRAFT_ONNX_DTYPE_INT32 && to != GRAFT_ONNX_DTYPE_DOUBLE)
            return node_fail(n, GRAFT_EUNSUPPORTED, "Cast to a type other than float, double, "
                             "int32 or int64");
        ADD(GRAFT__OP_CAST, 1, 1);
        int fl = to == GRAFT_ONNX_DTYPE_FLOAT || to == GRAFT_ONNX_DTYPE_FLOAT16 ||
                 to == GRAFT_ONNX_DTYPE_DOUBLE || to == GRAFT_ONNX_DTYPE_BFLOAT16;
        node->a.cast_to = fl ? GRAFT__F32 : GRAFT__I64;
        return 0;
    }
    if (!strcmp(op, "ConstantOfShape")) {
        NEED_IN(1);
        ADD(GRAFT__OP_CONSTANT_OF_SHAPE, 1, 1);
        node->a.fill.dtype = GRAFT__F32;
        const graft_onnx_attr *a = graft_onnx_node_attr(n, "value");
        if (a && a->type == GRAFT_ONNX_ATTR_TENSOR && a->t && a->t->numel == 1) {
            int isint = a->t->data_type != GRAFT_ONNX_DTYPE_FLOAT &&
                        a->t->data_type != GRAFT_ONNX_DTYPE_DOUBLE &&
                        a->t->data_type != GRAFT_ONNX_DTYPE_FLOAT16;
            if (isint) {
                int64_t v;
                if ((err = graft_onnx_tensor_to_int64(a->t, &v, 1))) return err;
                node->a.fill.dtype = GRAFT__I64, node->a.fill.value = (double)v;
            } else {
                float v;
                if ((err = graft_onnx_tensor_to_float(a->t, &v, 1))) return err;
                node->a.fill.value = v;
            }
        }
        return 0;
    }
    if (!strcmp(op, "DequantizeLinear")) {
        /* int8/uint8 weights with their scale (per tensor or per channel along `axis`) and
           zero point: dequantized now, so the network runs on the float kernels. */
        NEED_IN(2);
        const graft__value *q = &im->g->values[in[0]], *sc = &im->g->values[in[1]];
        const graft__value *zp = n_in > 2 && in[2] >= 0 ? &im->g->values[in[2]] : NULL;
        if (!q->data || !sc->data || (zp && !zp->data))
            return node_fail(n, GRAFT_EUNSUPPORTED, "DequantizeLinear of activations (QDQ "
                             "quantized execution); only quantized weights are dequantized");
        int64_t numel = graft__value_numel(q), ns = graft__value_numel(sc);
        int64_t axis = attr_i(n, "axis", 1);
        if (axis < 0) axis += q->rank;
        int64_t inner = 1, D = 1;
        if (ns > 1) {
            if (axis < 0 || axis >= q->rank || q->dims[axis] != ns)
                return node_fail(n, GRAFT_EINVAL, "scale length does not match the axis");
            D = ns;
            for (int d = (int)axis + 1; d < q->rank; d++) inner *= q->dims[d];
        }
        if (zp && graft__value_numel(zp) != ns)
            return node_fail(n, GRAFT_EINVAL, "zero point and scale differ in length");
        float *w = malloc(sizeof(float) * (size_t)(numel ? numel : 1));
        if (!w) return node_fail(n, GRAFT_ENOMEM, "out of memory");
        for (int64_t i = 0; i < numel; i++) {
            int64_t c = ns > 1 ? (i / inner) % D : 0;
            double qv = q->dtype == GRAFT__I64 ? (double)((const int64_t *)q->data)[i]
                                               : (double)((const float *)q->data)[i];
            double z = !zp ? 0 : zp->dtype == GRAFT__I64 ? (double)((const int64_t *)zp->data)[c]
                                                         : (double)((const float *)zp->data)[c];
            w[i] = (float)((qv - z) * ((const float *)sc->data)[c]);
        }
        /* The output already exists as a plain value (the pre-pass): replace it by a constant
           under the same name. */
        graft__value *ov = &im->g->values[out[0]];
        ov->data = w;
        ov->dtype = GRAFT__F32;
        ov->rank = q->rank;
        memcpy(ov->dims, q->dims, sizeof ov->dims);
        ov->is_weight = 1;
        return 0;
    }
    if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) {
        NEED_IN(1);
        if (!strcmp(op, "Dropout") && n_out > 1 && n->outputs[1][0])
            return node_fail(n, GRAFT_EUNSUPPORTED, "the mask output of Dropout");
        if (!strcmp(op, "Dropout") && n_in > 2 && in[2] >= 0) {
            const graft__value *tm = &im->g->values[in[2]];
            if (!tm->data || graft__value_numel(tm) != 1 ||
                (tm->dtype == GRAFT__I64 ? *(const int64_t *)tm->data != 0
                                         : *(const float *)tm->data != 0.0f))
                return node_fail(n, GRAFT_EUNSUPPORTED, "training-mode Dropout");
        }
        ADD(GRAFT__OP_IDENTITY, 1, 1);
        return 0;
    }
    return graft__fail(GRAFT_EUNSUPPORTED, "onnx: operator '%s' (node '%s') is not supported",
                       op, n->name[0] ? n->name : n->outputs[0]);
#undef ADD
#undef NEED_IN
}

/* ---- the graph ------------------------------------------------------------------------- */

static int import_graph(importer *im) {
    const graft_onnx_graph *og = im->og;
    graft__graph *g = im->g;
    for (size_t i = 0; i < og->initializer_count; i++) {
        const graft_onnx_tensor *t = &og->initializers[i];
        int v = add_tensor_const(im, t, t->name, 1);
        if (v < 0) return v;
    }
    for (size_t i = 0; i < og->input_count; i++) {
        const graft_onnx_value_info *vi = &og->inputs[i];
        if (graft__graph_find(g, vi->name) >= 0) continue; /* an initializer listed as input */
        int64_t dims[GRAFT__MAX_RANK];
        int rank = -1;
        if (vi->type.kind == GRAFT_ONNX_TYPE_TENSOR && vi->type.has_shape) {
            rank = (int)vi->type.rank;
            if (rank > GRAFT__MAX_RANK)
                return graft__fail(GRAFT_EUNSUPPORTED, "onnx: input '%s' has rank %d", vi->name,
                                   rank);
            for (int d = 0; d < rank; d++)
                dims[d] = vi->type.dims[d].has_value ? vi->type.dims[d].value : -1;
        }
        int et = vi->type.elem_type;
        int isfloat = !et || et == GRAFT_ONNX_DTYPE_FLOAT || et == GRAFT_ONNX_DTYPE_FLOAT16 ||
                      et == GRAFT_ONNX_DTYPE_DOUBLE;
        int isint = et == GRAFT_ONNX_DTYPE_INT64 || et == GRAFT_ONNX_DTYPE_INT32 ||
                    et == GRAFT_ONNX_DTYPE_INT8 || et == GRAFT_ONNX_DTYPE_UINT8 ||
                    et == GRAFT_ONNX_DTYPE_BOOL;
        if (!isfloat && !isint)
            return graft__fail(GRAFT_EUNSUPPORTED, "onnx: input '%s' is %s", vi->name,
                               graft_onnx_dtype_name(et));
        int v = graft__graph_add_value(g, vi->name, isfloat ? GRAFT__F32 : GRAFT__I64, rank, dims);
        if (v < 0) return v;
        int err = graft__graph_add_input(g, v);
        if (err) return err;
    }
    if (g->input < 0) return graft__fail(GRAFT_EINVAL, "onnx: the graph has no input");
    /* Outputs first, so a file whose nodes are not in topological order (ONNX requires it,
       not every writer honours it) still resolves; passes.c then sorts and rejects cycles.
       Constant nodes become constants right away. */
    for (size_t i = 0; i < og->node_count; i++) {
        const graft_onnx_node *n = &og->nodes[i];
        if (!strcmp(n->op_type, "Constant") && !n->domain[0]) {
            int err = import_node(im, n);
            if (err) return err;
            continue;
        }
        for (size_t o = 0; o < n->output_count; o++) {
            if (!n->outputs[o][0] || graft__graph_find(g, n->outputs[o]) >= 0) continue;
            int v = graft__graph_add_value(g, n->outputs[o], GRAFT__F32, -1, NULL);
            if (v < 0) return v;
        }
    }
    for (size_t i = 0; i < og->node_count; i++) {
        const graft_onnx_node *n = &og->nodes[i];
        if (!strcmp(n->op_type, "Constant") && !n->domain[0]) continue;
        int err = import_node(im, n);
        if (err) return err;
    }
    g->outputs = malloc(sizeof(int) * (og->output_count ? og->output_count : 1));
    if (!g->outputs) return graft__fail(GRAFT_ENOMEM, "onnx: out of memory");
    for (size_t i = 0; i < og->output_count; i++) {
        int v = graft__graph_find(g, og->outputs[i].name);
        if (v < 0)
            return graft__fail(GRAFT_EINVAL, "onnx: graph output '%s' is not computed by any "
                               "node", og->outputs[i].name);
        g->values[v].is_output = 1;
        g->outputs[g->n_outputs++] = v;
    }
    if (!g->n_outputs) return graft__fail(GRAFT_EINVAL, "onnx: the graph has no output");
    return 0;
}

int graft__onnx_import(const void *buf, size_t len, const char *path, graft__graph **out) {
    graft_onnx_model *m = NULL;
    graft__graph *g = NULL;
    int err = graft_onnx_model_create(&m);
    if (!err) err = graft_onnx_model_decode(m, buf, len);
    if (err) goto done;
    importer im = {.m = m, .og = m->graph, .path = path, .opset = 0};
    for (size_t i = 0; i < m->opset_count; i++)
        if (!m->opsets[i].domain[0] || !strcmp(m->opsets[i].domain, "ai.onnx"))
            im.opset = m->opsets[i].version;
    if (!im.opset) im.opset = 1;
    if ((err = graft__graph_create(&g))) goto done;
    im.g = g;
    snprintf(g->format, sizeof g->format, "onnx");
    snprintf(g->producer, sizeof g->producer, "%s%s%s (opset %lld)", m->producer_name,
             m->producer_version[0] ? " " : "", m->producer_version, (long long)im.opset);
    err = import_graph(&im);
done:
    graft_onnx_model_destroy(m);
    if (err) {
        graft__graph_destroy(g);
        return err;
    }
    *out = g;
    return 0;
}
