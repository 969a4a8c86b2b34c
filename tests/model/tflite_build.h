/*
 * tests/model/tflite_build.h: a tiny TFLite file writer for the tests (check_tflite.c) and the
 * fuzzer's seed corpus (tests/fuzz/fuzz_tflite.c). Header-only: every function is static.
 *
 * A back-to-front flatbuffer builder (fbb_*, fbt_* for tables), a model description (tm_*:
 * tensors, constants, quantization, operators with their builtin options) serialised by
 * tm_build() into a TFLite file, the TFLITE_METADATA flatbuffer (metadata_build) and the
 * stored zip the metadata writer appends (zip_stored), plus a few sample models
 * (tb_sample_model). It writes what the importer reads and nothing more: no signature defs,
 * no sparsity, one subgraph, one operator code per operator. Test code: a failed malloc
 * aborts.
 */
#ifndef GRAFT_TESTS_MODEL_TFLITE_BUILD_H
#define GRAFT_TESTS_MODEL_TFLITE_BUILD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TB_FN static __attribute__((unused))

/* ---- a flatbuffer builder ------------------------------------------------------------------
 * Back to front, as flatc's builders work: children are written before their parents, so
 * every offset points forward. An object is referred to by its distance from the end of the
 * buffer ("ref"), which does not change as the buffer grows at the front. */

typedef struct fbb {
    uint8_t *buf; /* the data is buf[cap - used, cap) */
    size_t cap, used;
} fbb;

TB_FN void fbb_grow(fbb *b, size_t need) {
    if (b->used + need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->used + need) cap *= 2;
    uint8_t *nb = malloc(cap);
    if (!nb) abort(); /* a test helper: no memory is not a result */
    if (b->used) memcpy(nb + cap - b->used, b->buf + b->cap - b->used, b->used);
    free(b->buf);
    b->buf = nb;
    b->cap = cap;
}

TB_FN void fbb_put(fbb *b, const void *p, size_t n) {
    fbb_grow(b, n);
    b->used += n;
    if (n) memcpy(b->buf + b->cap - b->used, p, n);
}

TB_FN void fbb_zero(fbb *b, size_t n) {
    fbb_grow(b, n);
    b->used += n;
    memset(b->buf + b->cap - b->used, 0, n);
}

/* Zeros so that used + extra is a multiple of align. */
TB_FN void fbb_pad(fbb *b, size_t extra, size_t align) {
    size_t r = (b->used + extra) % align;
    if (r) fbb_zero(b, align - r);
}

TB_FN void fbb_u32(fbb *b, uint32_t v) {
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fbb_put(b, p, 4);
}

/* A vector of n scalars of elem bytes (host order: little-endian on every target here). */
TB_FN uint32_t fbb_vec(fbb *b, const void *data, uint32_t n, uint32_t elem, uint32_t align) {
    fbb_pad(b, (size_t)n * elem, align < 4 ? 4 : align);
    fbb_put(b, data, (size_t)n * elem);
    fbb_u32(b, n);
    return (uint32_t)b->used;
}

TB_FN uint32_t fbb_string(fbb *b, const char *s) {
    size_t n = strlen(s);
    fbb_pad(b, n + 1, 4);
    fbb_zero(b, 1);
    fbb_put(b, s, n);
    fbb_u32(b, (uint32_t)n);
    return (uint32_t)b->used;
}

/* A vector of offsets to the objects refs[0..n). */
TB_FN uint32_t fbb_vec_refs(fbb *b, const uint32_t *refs, uint32_t n) {
    fbb_pad(b, (size_t)n * 4, 4);
    for (uint32_t i = n; i-- > 0;) {
        uint32_t at = (uint32_t)b->used + 4;
        fbb_u32(b, at - refs[i]);
    }
    fbb_u32(b, n);
    return (uint32_t)b->used;
}

typedef struct fbt_field {
    int id, size, is_ref;
    uint8_t bytes[8];
    uint32_t ref;
} fbt_field;

typedef struct fbt {
    fbt_field f[16];
    int n;
} fbt;

TB_FN void fbt_scalar(fbt *t, int id, const void *p, int size) {
    fbt_field *f = &t->f[t->n++];
    memset(f, 0, sizeof *f);
    f->id = id;
    f->size = size;
    memcpy(f->bytes, p, (size_t)size);
}
TB_FN void fbt_u8(fbt *t, int id, uint8_t v) { fbt_scalar(t, id, &v, 1); }
TB_FN void fbt_i32(fbt *t, int id, int32_t v) { fbt_scalar(t, id, &v, 4); }
TB_FN void fbt_f32(fbt *t, int id, float v) { fbt_scalar(t, id, &v, 4); }
TB_FN void fbt_ref(fbt *t, int id, uint32_t ref) {
    fbt_field *f = &t->f[t->n++];
    memset(f, 0, sizeof *f);
    f->id = id;
    f->size = 4;
    f->is_ref = 1;
    f->ref = ref;
}

/* Writes the table (its vtable right before it) and returns its ref. */
TB_FN uint32_t fbt_end(fbb *b, const fbt *t) {
    uint8_t inl[256] = {0};
    uint16_t slot[32] = {0};
    size_t len = 4, off[16];
    int max_id = -1;
    for (int k = 0; k < t->n; k++) {
        size_t sz = (size_t)t->f[k].size;
        len = (len + sz - 1) / sz * sz;
        off[k] = len;
        len += sz;
        if (t->f[k].id > max_id) max_id = t->f[k].id;
        slot[t->f[k].id] = (uint16_t)off[k];
    }
    len = (len + 3) / 4 * 4;
    fbb_pad(b, len, 8);
    uint32_t R = (uint32_t)(b->used + len);
    uint32_t vt_len = 4 + 2 * (uint32_t)(max_id + 1);
    uint32_t so = vt_len;
    memcpy(inl, &so, 4);
    for (int k = 0; k < t->n; k++) {
        if (t->f[k].is_ref) {
            uint32_t v = (R - (uint32_t)off[k]) - t->f[k].ref;
            memcpy(inl + off[k], &v, 4);
        } else {
            memcpy(inl + off[k], t->f[k].bytes, (size_t)t->f[k].size);
        }
    }
    fbb_put(b, inl, len);
    uint16_t vt[34];
    vt[0] = (uint16_t)vt_len;
    vt[1] = (uint16_t)len;
    for (int k = 0; k <= max_id; k++) vt[2 + k] = slot[k];
    fbb_put(b, vt, vt_len);
    return R;
}

/* Adds the root offset and the file identifier; returns a malloc'd copy of the buffer. */
TB_FN uint8_t *fbb_finish(fbb *b, uint32_t root, const char *ident, size_t *len) {
    fbb_pad(b, 8, 16);
    fbb_put(b, ident, 4);
    uint32_t at = (uint32_t)b->used + 4;
    fbb_u32(b, at - root);
    uint8_t *out = malloc(b->used);
    if (!out) abort();
    memcpy(out, b->buf + b->cap - b->used, b->used);
    *len = b->used;
    free(b->buf);
    memset(b, 0, sizeof *b);
    return out;
}

/* ---- TFLite models ---------------------------------------------------------------------- */

enum { T_F32 = 0, T_F16 = 1, T_I32 = 2, T_U8 = 3, T_I64 = 4, T_STRING = 5, T_BOOL = 6,
       T_I8 = 9 };
enum { OP_ADD = 0, OP_AVG_POOL = 1, OP_CONCAT = 2, OP_CONV = 3, OP_DWCONV = 4,
       OP_DEQUANTIZE = 6, OP_FC = 9, OP_LOGISTIC = 14, OP_MAX_POOL = 17, OP_MUL = 18,
       OP_RELU = 19, OP_RELU_N1_TO_1 = 20, OP_RELU6 = 21, OP_RESHAPE = 22, OP_SOFTMAX = 25,
       OP_TANH = 28, OP_CUSTOM = 32, OP_PAD = 34, OP_MEAN = 40, OP_SUB = 41, OP_DIV = 42,
       OP_SQUEEZE = 43, OP_PADV2 = 60, OP_TRANSPOSE_CONV = 67, OP_LEAKY_RELU = 98,
       OP_QUANTIZE = 114, OP_HARD_SWISH = 117, OP_BROADCAST_ARGS = 145 };
enum { A_NONE = 0, A_RELU = 1, A_RELU_N1_TO_1 = 2, A_RELU6 = 3, A_TANH = 4, A_SIGN_BIT = 5 };

#define TM_MAX 48

typedef struct tm_tensor {
    char name[64];
    int type, rank;
    int32_t shape[8];
    const void *data; /* borrowed until tm_build */
    size_t bytes;
    int nq, qdim;
    float scale[64];
    int64_t zp[64];
} tm_tensor;

typedef struct tm_field {
    int id;
    char kind; /* 'b' u8, 'i' i32, 'f' f32, 'v' vector of i32 */
    int32_t i;
    float f;
    int32_t v[8];
    int n;
} tm_field;

typedef struct tm_op {
    int code;
    const char *custom;
    int in[8], n_in, out[4], n_out;
    int opt_type;
    tm_field opt[8];
    int n_opt;
} tm_op;

typedef struct tm_model {
    tm_tensor t[TM_MAX];
    int n_t;
    tm_op op[TM_MAX];
    int n_op;
    int inputs[4], n_inputs, outputs[4], n_outputs;
    const char *description;
    uint32_t version; /* 0 means 3 */
    const uint8_t *metadata; /* the TFLITE_METADATA flatbuffer, or NULL */
    size_t metadata_len;
    const uint8_t *appendix; /* bytes appended after the flatbuffer (the zip), or NULL */
    size_t appendix_len;
} tm_model;

TB_FN int tm_tensor_add(tm_model *m, const char *name, int type, int rank, const int *shape) {
    tm_tensor *t = &m->t[m->n_t];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->rank = rank;
    for (int d = 0; d < rank; d++) t->shape[d] = shape[d];
    return m->n_t++;
}

TB_FN int tm_const(tm_model *m, const char *name, int type, int rank, const int *shape,
                    const void *data, size_t bytes) {
    int k = tm_tensor_add(m, name, type, rank, shape);
    m->t[k].data = data;
    m->t[k].bytes = bytes;
    return k;
}

TB_FN void tm_quant(tm_model *m, int k, int n, const float *scale, const int64_t *zp, int qdim) {
    m->t[k].nq = n;
    m->t[k].qdim = qdim;
    for (int i = 0; i < n; i++) {
        m->t[k].scale[i] = scale[i];
        m->t[k].zp[i] = zp ? zp[i] : 0;
    }
}

TB_FN tm_op *tm_op_add(tm_model *m, int code, int opt_type, int n_in, const int *in, int n_out,
                        const int *out) {
    tm_op *op = &m->op[m->n_op++];
    memset(op, 0, sizeof *op);
    op->code = code;
    op->opt_type = opt_type;
    op->n_in = n_in;
    op->n_out = n_out;
    for (int i = 0; i < n_in; i++) op->in[i] = in[i];
    for (int i = 0; i < n_out; i++) op->out[i] = out[i];
    return op;
}

TB_FN void opt_b(tm_op *op, int id, int v) {
    op->opt[op->n_opt++] = (tm_field){id, 'b', v, 0, {0}, 0};
}
TB_FN void opt_i(tm_op *op, int id, int v) {
    op->opt[op->n_opt++] = (tm_field){id, 'i', v, 0, {0}, 0};
}
TB_FN void opt_f(tm_op *op, int id, float v) {
    op->opt[op->n_opt++] = (tm_field){id, 'f', 0, v, {0}, 0};
}
TB_FN void opt_v(tm_op *op, int id, const int32_t *v, int n) {
    tm_field *f = &op->opt[op->n_opt++];
    memset(f, 0, sizeof *f);
    f->id = id;
    f->kind = 'v';
    f->n = n;
    memcpy(f->v, v, sizeof(int32_t) * (size_t)n);
}

/* Serialises m: a malloc'd buffer of *len bytes (the appendix included). */
TB_FN uint8_t *tm_build(const tm_model *m, size_t *len) {
    fbb b = {0};
    /* Buffers: 0 is the empty sentinel, then one per constant, then the metadata. */
    uint32_t buf_refs[TM_MAX + 2], tensor_refs[TM_MAX], opcode_refs[TM_MAX], op_refs[TM_MAX];
    int tensor_buf[TM_MAX], n_buf = 0;
    fbt t = {0};
    buf_refs[n_buf++] = fbt_end(&b, &t);
    for (int k = 0; k < m->n_t; k++) {
        tensor_buf[k] = 0;
        if (!m->t[k].data) continue;
        uint32_t data = fbb_vec(&b, m->t[k].data, (uint32_t)m->t[k].bytes, 1, 16);
        t = (fbt){0};
        fbt_ref(&t, 0, data);
        tensor_buf[k] = n_buf;
        buf_refs[n_buf++] = fbt_end(&b, &t);
    }
    int meta_buf = -1;
    if (m->metadata) {
        uint32_t data = fbb_vec(&b, m->metadata, (uint32_t)m->metadata_len, 1, 16);
        t = (fbt){0};
        fbt_ref(&t, 0, data);
        meta_buf = n_buf;
        buf_refs[n_buf++] = fbt_end(&b, &t);
    }
    for (int k = 0; k < m->n_t; k++) {
        const tm_tensor *x = &m->t[k];
        uint32_t name = fbb_string(&b, x->name);
        uint32_t shape = fbb_vec(&b, x->shape, (uint32_t)x->rank, 4, 4);
        uint32_t quant = 0;
        if (x->nq) {
            uint32_t sc = fbb_vec(&b, x->scale, (uint32_t)x->nq, 4, 4);
            uint32_t zp = fbb_vec(&b, x->zp, (uint32_t)x->nq, 8, 8);
            t = (fbt){0};
            fbt_ref(&t, 2, sc);
            fbt_ref(&t, 3, zp);
            fbt_i32(&t, 6, x->qdim);
            quant = fbt_end(&b, &t);
        }
        t = (fbt){0};
        fbt_ref(&t, 0, shape);
        fbt_u8(&t, 1, (uint8_t)x->type);
        fbt_i32(&t, 2, tensor_buf[k]);
        fbt_ref(&t, 3, name);
        if (quant) fbt_ref(&t, 4, quant);
        tensor_refs[k] = fbt_end(&b, &t);
    }
    for (int k = 0; k < m->n_op; k++) {
        const tm_op *op = &m->op[k];
        uint32_t custom = op->custom ? fbb_string(&b, op->custom) : 0;
        t = (fbt){0};
        fbt_u8(&t, 0, (uint8_t)(op->code < 127 ? op->code : 127));
        if (custom) fbt_ref(&t, 1, custom);
        fbt_i32(&t, 2, 1);
        fbt_i32(&t, 3, op->code);
        opcode_refs[k] = fbt_end(&b, &t);
    }
    for (int k = 0; k < m->n_op; k++) {
        const tm_op *op = &m->op[k];
        uint32_t in = fbb_vec(&b, op->in, (uint32_t)op->n_in, 4, 4);
        uint32_t out = fbb_vec(&b, op->out, (uint32_t)op->n_out, 4, 4);
        uint32_t vecs[8] = {0};
        for (int f = 0; f < op->n_opt; f++)
            if (op->opt[f].kind == 'v')
                vecs[f] = fbb_vec(&b, op->opt[f].v, (uint32_t)op->opt[f].n, 4, 4);
        uint32_t opts = 0;
        if (op->opt_type) {
            t = (fbt){0};
            for (int f = 0; f < op->n_opt; f++) {
                const tm_field *fl = &op->opt[f];
                if (fl->kind == 'b') fbt_u8(&t, fl->id, (uint8_t)fl->i);
                if (fl->kind == 'i') fbt_i32(&t, fl->id, fl->i);
                if (fl->kind == 'f') fbt_f32(&t, fl->id, fl->f);
                if (fl->kind == 'v') fbt_ref(&t, fl->id, vecs[f]);
            }
            opts = fbt_end(&b, &t);
        }
        t = (fbt){0};
        fbt_i32(&t, 0, k);
        fbt_ref(&t, 1, in);
        fbt_ref(&t, 2, out);
        if (opts) {
            fbt_u8(&t, 3, (uint8_t)op->opt_type);
            fbt_ref(&t, 4, opts);
        }
        op_refs[k] = fbt_end(&b, &t);
    }
    uint32_t tensors = fbb_vec_refs(&b, tensor_refs, (uint32_t)m->n_t);
    uint32_t inputs = fbb_vec(&b, m->inputs, (uint32_t)m->n_inputs, 4, 4);
    uint32_t outputs = fbb_vec(&b, m->outputs, (uint32_t)m->n_outputs, 4, 4);
    uint32_t ops = fbb_vec_refs(&b, op_refs, (uint32_t)m->n_op);
    uint32_t sg_name = fbb_string(&b, "main");
    t = (fbt){0};
    fbt_ref(&t, 0, tensors);
    fbt_ref(&t, 1, inputs);
    fbt_ref(&t, 2, outputs);
    fbt_ref(&t, 3, ops);
    fbt_ref(&t, 4, sg_name);
    uint32_t sg = fbt_end(&b, &t);
    uint32_t subgraphs = fbb_vec_refs(&b, &sg, 1);
    uint32_t opcodes = fbb_vec_refs(&b, opcode_refs, (uint32_t)m->n_op);
    uint32_t buffers = fbb_vec_refs(&b, buf_refs, (uint32_t)n_buf);
    uint32_t desc = fbb_string(&b, m->description ? m->description : "graft test");
    uint32_t metadata = 0;
    if (meta_buf >= 0) {
        uint32_t mname = fbb_string(&b, "TFLITE_METADATA");
        t = (fbt){0};
        fbt_ref(&t, 0, mname);
        fbt_i32(&t, 1, meta_buf);
        uint32_t md = fbt_end(&b, &t);
        metadata = fbb_vec_refs(&b, &md, 1);
    }
    t = (fbt){0};
    fbt_i32(&t, 0, (int32_t)(m->version ? m->version : 3));
    fbt_ref(&t, 1, opcodes);
    fbt_ref(&t, 2, subgraphs);
    fbt_ref(&t, 3, desc);
    fbt_ref(&t, 4, buffers);
    if (metadata) fbt_ref(&t, 6, metadata);
    uint32_t root = fbt_end(&b, &t);
    size_t n;
    uint8_t *out = fbb_finish(&b, root, "TFL3", &n);
    if (m->appendix) {
        uint8_t *grown = realloc(out, n + m->appendix_len);
        if (!grown) abort();
        out = grown;
        memcpy(out + n, m->appendix, m->appendix_len);
        n += m->appendix_len;
    }
    *len = n;
    return out;
}

/* A zip holding one stored (uncompressed) member, as the TFLite metadata writer makes. */
TB_FN uint8_t *zip_stored(const char *name, const char *text, size_t *len) {
    size_t nl = strlen(name), tl = strlen(text);
    size_t total = 30 + nl + tl + 46 + nl + 22;
    uint8_t *z = calloc(1, total);
    if (!z) abort();
    uint8_t *p = z;
#define W16(v) (p[0] = (uint8_t)(v), p[1] = (uint8_t)((v) >> 8), p += 2)
#define W32(v) (W16((v) & 0xffff), W16(((uint32_t)(v)) >> 16))
    W32(0x04034b50u); W16(10); W16(0); W16(0); W16(0); W16(0); W32(0); /* crc not checked */
    W32(tl); W32(tl); W16(nl); W16(0);
    memcpy(p, name, nl); p += nl;
    memcpy(p, text, tl); p += tl;
    uint32_t cd = (uint32_t)(p - z);
    W32(0x02014b50u); W16(20); W16(10); W16(0); W16(0); W16(0); W16(0); W32(0);
    W32(tl); W32(tl); W16(nl); W16(0); W16(0); W16(0); W16(0); W32(0); W32(0);
    memcpy(p, name, nl); p += nl;
    uint32_t cd_size = (uint32_t)(p - z) - cd;
    W32(0x06054b50u); W16(0); W16(0); W16(1); W16(1); W32(cd_size); W32(cd); W16(0);
#undef W16
#undef W32
    *len = total;
    return z;
}

/* A TFLITE_METADATA flatbuffer: input normalisation (n_norm values) and a label file. */
TB_FN uint8_t *metadata_build(const float *mean, const float *std, int n_norm,
                               const char *labels_file, size_t *len) {
    fbb b = {0};
    fbt t = {0};
    uint32_t inputs = 0, outputs = 0;
    if (n_norm) {
        uint32_t vm = fbb_vec(&b, mean, (uint32_t)n_norm, 4, 4);
        uint32_t vs = fbb_vec(&b, std, (uint32_t)n_norm, 4, 4);
        t = (fbt){0};
        fbt_ref(&t, 0, vm);
        fbt_ref(&t, 1, vs);
        uint32_t norm = fbt_end(&b, &t);
        t = (fbt){0};
        fbt_u8(&t, 0, 1);
        fbt_ref(&t, 1, norm);
        uint32_t pu = fbt_end(&b, &t);
        uint32_t units = fbb_vec_refs(&b, &pu, 1);
        uint32_t iname = fbb_string(&b, "image");
        t = (fbt){0};
        fbt_ref(&t, 0, iname);
        fbt_ref(&t, 4, units);
        uint32_t tm = fbt_end(&b, &t);
        inputs = fbb_vec_refs(&b, &tm, 1);
    }
    if (labels_file) {
        uint32_t fname = fbb_string(&b, labels_file);
        uint32_t fdesc = fbb_string(&b, "Labels for categories that the model can recognize.");
        t = (fbt){0};
        fbt_ref(&t, 0, fname);
        fbt_ref(&t, 1, fdesc);
        fbt_u8(&t, 2, 2); /* TENSOR_AXIS_LABELS */
        uint32_t af = fbt_end(&b, &t);
        uint32_t files = fbb_vec_refs(&b, &af, 1);
        t = (fbt){0};
        fbt_ref(&t, 6, files);
        uint32_t tm = fbt_end(&b, &t);
        outputs = fbb_vec_refs(&b, &tm, 1);
    }
    t = (fbt){0};
    if (inputs) fbt_ref(&t, 2, inputs);
    if (outputs) fbt_ref(&t, 3, outputs);
    uint32_t sgm = fbt_end(&b, &t);
    uint32_t sgs = fbb_vec_refs(&b, &sgm, 1);
    uint32_t name = fbb_string(&b, "ImageClassifier");
    t = (fbt){0};
    fbt_ref(&t, 0, name);
    fbt_ref(&t, 3, sgs);
    uint32_t root = fbt_end(&b, &t);
    return fbb_finish(&b, root, "M001", len);
}

/*
 * Sample models, deterministic (no random numbers), as malloc'd TFLite files:
 *   0  uint8 input -> CONV_2D (uint8 weights, int32 bias, RELU6) -> MEAN -> FULLY_CONNECTED ->
 *      SOFTMAX
 *   1  float input with metadata (normalisation, labels) and the labels zip -> RELU
 *   2  float input -> DEPTHWISE_CONV_2D (int8 per channel, multiplier 2) -> AVERAGE_POOL_2D
 *      -> CONCATENATION -> PAD -> ADD (broadcast constant, RELU_N1_TO_1) -> HARD_SWISH ->
 *      RESHAPE -> FULLY_CONNECTED -> LOGISTIC
 * NULL for another k.
 */
TB_FN uint8_t *tb_sample_model(int k, size_t *len) {
    static float fw[3 * 4], fb[3], dwb[4], addk[8], fc2[2 * 72];
    static uint8_t cw[4 * 3 * 3 * 2], dw[3 * 3 * 4];
    static int32_t cb[4], axes[2] = {1, 2}, pads[8] = {0, 0, 1, 0, 0, 1, 0, 0};
    for (int i = 0; i < 12; i++) fw[i] = (float)((i * 7) % 11) / 5 - 1;
    for (int i = 0; i < 3; i++) fb[i] = 0.1f * (float)i;
    for (int i = 0; i < 72; i++) cw[i] = (uint8_t)(i * 37);
    for (int i = 0; i < 4; i++) cb[i] = i * 100 - 150, dwb[i] = 0.25f * (float)i;
    for (int i = 0; i < 8; i++) addk[i] = 1 - 0.25f * (float)i;
    for (int i = 0; i < 36; i++) dw[i] = (uint8_t)(int8_t)((i * 29) % 200 - 100);
    for (int i = 0; i < 144; i++) fc2[i] = (float)((i * 13) % 17) / 8 - 1;
    tm_model m;
    memset(&m, 0, sizeof m);
    if (k == 0) {
        int x = tm_tensor_add(&m, "input", T_U8, 4, (int[]){1, 5, 5, 2});
        tm_quant(&m, x, 1, (float[]){0.0078125f}, (int64_t[]){128}, 0);
        int w = tm_const(&m, "conv/w", T_U8, 4, (int[]){4, 3, 3, 2}, cw, sizeof cw);
        tm_quant(&m, w, 1, (float[]){0.01f}, (int64_t[]){127}, 0);
        int b = tm_const(&m, "conv/b", T_I32, 1, (int[]){4}, cb, sizeof cb);
        tm_quant(&m, b, 1, (float[]){0.0078125f * 0.01f}, NULL, 0);
        int c = tm_tensor_add(&m, "conv", T_U8, 4, (int[]){1, 5, 5, 4});
        int a = tm_const(&m, "axes", T_I32, 1, (int[]){2}, axes, sizeof axes);
        int p = tm_tensor_add(&m, "pool", T_F32, 2, (int[]){1, 4});
        int fwt = tm_const(&m, "fc/w", T_F32, 2, (int[]){3, 4}, fw, sizeof fw);
        int fcb = tm_const(&m, "fc/b", T_F32, 1, (int[]){3}, fb, sizeof fb);
        int l = tm_tensor_add(&m, "logits", T_F32, 2, (int[]){1, 3});
        int y = tm_tensor_add(&m, "probs", T_F32, 2, (int[]){1, 3});
        tm_op *op = tm_op_add(&m, OP_CONV, 1, 3, (int[]){x, w, b}, 1, &c);
        opt_b(op, 0, 0);
        opt_i(op, 1, 1);
        opt_i(op, 2, 1);
        opt_b(op, 3, A_RELU6);
        tm_op_add(&m, OP_MEAN, 27, 2, (int[]){c, a}, 1, &p);
        tm_op_add(&m, OP_FC, 8, 3, (int[]){p, fwt, fcb}, 1, &l);
        op = tm_op_add(&m, OP_SOFTMAX, 9, 1, &l, 1, &y);
        opt_f(op, 0, 1.0f);
        m.inputs[m.n_inputs++] = x;
        m.outputs[m.n_outputs++] = y;
        return tm_build(&m, len);
    }
    if (k == 1) {
        static const float mean[3] = {127.5f, 120, 100}, stdv[3] = {127.5f, 60, 50};
        size_t mlen, zlen;
        uint8_t *md = metadata_build(mean, stdv, 3, "labels.txt", &mlen);
        uint8_t *zip = zip_stored("labels.txt", "cat\ndog\nbird\n", &zlen);
        int x = tm_tensor_add(&m, "image", T_F32, 4, (int[]){1, 4, 4, 3});
        int y = tm_tensor_add(&m, "y", T_F32, 4, (int[]){1, 4, 4, 3});
        tm_op_add(&m, OP_RELU, 0, 1, &x, 1, &y);
        m.inputs[m.n_inputs++] = x;
        m.outputs[m.n_outputs++] = y;
        m.metadata = md;
        m.metadata_len = mlen;
        m.appendix = zip;
        m.appendix_len = zlen;
        uint8_t *out = tm_build(&m, len);
        free(md);
        free(zip);
        return out;
    }
    if (k == 2) {
        float dscale[4] = {0.01f, 0.02f, 0.015f, 0.03f};
        int x = tm_tensor_add(&m, "x", T_F32, 4, (int[]){1, 6, 6, 2});
        int w = tm_const(&m, "dw/w", T_I8, 4, (int[]){1, 3, 3, 4}, dw, sizeof dw);
        tm_quant(&m, w, 4, dscale, NULL, 3);
        int b = tm_const(&m, "dw/b", T_F32, 1, (int[]){4}, dwb, sizeof dwb);
        int d = tm_tensor_add(&m, "dw", T_F32, 4, (int[]){1, 3, 3, 4});
        int pl = tm_tensor_add(&m, "pool", T_F32, 4, (int[]){1, 2, 2, 4});
        int cat = tm_tensor_add(&m, "cat", T_F32, 4, (int[]){1, 2, 2, 8});
        int pd = tm_const(&m, "pads", T_I32, 2, (int[]){4, 2}, pads, sizeof pads);
        int pdo = tm_tensor_add(&m, "padded", T_F32, 4, (int[]){1, 3, 3, 8});
        int kk = tm_const(&m, "k", T_F32, 1, (int[]){8}, addk, sizeof addk);
        int sum = tm_tensor_add(&m, "sum", T_F32, 4, (int[]){1, 3, 3, 8});
        int hs = tm_tensor_add(&m, "hs", T_F32, 4, (int[]){1, 3, 3, 8});
        int flat = tm_tensor_add(&m, "flat", T_F32, 2, (int[]){1, 72});
        int f2 = tm_const(&m, "fc2/w", T_F32, 2, (int[]){2, 72}, fc2, sizeof fc2);
        int fo = tm_tensor_add(&m, "fc2", T_F32, 2, (int[]){1, 2});
        int y = tm_tensor_add(&m, "y", T_F32, 2, (int[]){1, 2});
        tm_op *op = tm_op_add(&m, OP_DWCONV, 2, 3, (int[]){x, w, b}, 1, &d);
        opt_b(op, 0, 0);
        opt_i(op, 1, 2);
        opt_i(op, 2, 2);
        opt_i(op, 3, 2);
        opt_b(op, 4, A_RELU);
        op = tm_op_add(&m, OP_AVG_POOL, 5, 1, &d, 1, &pl);
        opt_b(op, 0, 0);
        opt_i(op, 1, 2);
        opt_i(op, 2, 2);
        opt_i(op, 3, 3);
        opt_i(op, 4, 3);
        op = tm_op_add(&m, OP_CONCAT, 10, 2, (int[]){pl, pl}, 1, &cat);
        opt_i(op, 0, 3);
        tm_op_add(&m, OP_PAD, 22, 2, (int[]){cat, pd}, 1, &pdo);
        op = tm_op_add(&m, OP_ADD, 11, 2, (int[]){pdo, kk}, 1, &sum);
        opt_b(op, 0, A_RELU_N1_TO_1);
        tm_op_add(&m, OP_HARD_SWISH, 0, 1, &sum, 1, &hs);
        op = tm_op_add(&m, OP_RESHAPE, 17, 1, &hs, 1, &flat);
        opt_v(op, 0, (int32_t[]){1, 72}, 2);
        op = tm_op_add(&m, OP_FC, 8, 3, (int[]){flat, f2, -1}, 1, &fo);
        tm_op_add(&m, OP_LOGISTIC, 0, 1, &fo, 1, &y);
        m.inputs[m.n_inputs++] = x;
        m.outputs[m.n_outputs++] = y;
        return tm_build(&m, len);
    }
    return NULL;
}

#endif
