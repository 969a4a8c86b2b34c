/*
 * tests/pipeline/check_protobuf.c: the protobuf wire reader (pipeline/model/protobuf.c) and the
 * ONNX decoder (pipeline/model/onnx_proto.c) on buffers built here, so that they run without
 * any data package: varint limits, field iteration and skipping, packed and unpacked repeated
 * fields, a hand-made model decoded field by field, that model cut at every byte offset (each
 * cut must be refused as corrupt, never read out of bounds: check-san runs this under ASan),
 * malformed buffers (11-byte varints, lengths past the end, wrong wire types, deep nesting,
 * random and mutated bytes), absurd dims, every tensor data type through both conversions,
 * and the file loaders.
 *
 * The real ONNX files are exercised by tests/onnx/check_onnx_loader.c.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "../../pipeline/model/onnx_proto.h"
#include "../../pipeline/model/protobuf.h"
#include "graft/graft.h"


/* Fails the check unless `err` is `want` and, when `needle` is given, the last error holds it. */
#define EXPECT_ERR(err, want, needle, what)                                                   \
    do {                                                                                      \
        int e_ = (err);                                                                       \
        const char *n_ = (needle);                                                            \
        if (e_ != (want) || (n_ && !strstr(graft_last_error(), n_)))                          \
            return graft_check_fail(msg, msglen, "%s: %s \"%s\", expected %s%s%s", what,            \
                              graft_err_name(e_), graft_last_error(), graft_err_name(want),   \
                              n_ ? " with " : "", n_ ? n_ : "");                              \
    } while (0)

/* ---- a small protobuf writer ----------------------------------------------------------- */

typedef struct pbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} pbuf;

static void pb_free(pbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void pb_raw(pbuf *b, const void *data, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void pb_varint(pbuf *b, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(b, tmp, n);
}

static void pb_tag(pbuf *b, uint32_t field, int wire) { pb_varint(b, (uint64_t)field << 3 | wire); }

static void pb_vfield(pbuf *b, uint32_t field, uint64_t v) {
    pb_tag(b, field, GRAFT_PB_WIRE_VARINT);
    pb_varint(b, v);
}

static void pb_bytes(pbuf *b, uint32_t field, const void *data, size_t n) {
    pb_tag(b, field, GRAFT_PB_WIRE_LEN);
    pb_varint(b, n);
    pb_raw(b, data, n);
}

static void pb_str(pbuf *b, uint32_t field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* Appends `sub` as a LEN field and frees it. */
static void pb_msg(pbuf *b, uint32_t field, pbuf *sub) {
    if (sub->oom) b->oom = 1;
    pb_bytes(b, field, sub->p, sub->len);
    pb_free(sub);
}

static void pb_f32(pbuf *b, uint32_t field, float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16),
                     (uint8_t)(bits >> 24)};
    pb_tag(b, field, GRAFT_PB_WIRE_I32);
    pb_raw(b, le, 4);
}

static void pb_packed_varints(pbuf *b, uint32_t field, const int64_t *v, size_t n) {
    pbuf sub = {0};
    for (size_t k = 0; k < n; k++) pb_varint(&sub, (uint64_t)v[k]);
    pb_msg(b, field, &sub);
}

static void pb_packed_f32(pbuf *b, uint32_t field, const float *v, size_t n) {
    pbuf sub = {0};
    for (size_t k = 0; k < n; k++) {
        uint32_t bits;
        memcpy(&bits, &v[k], 4);
        uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16),
                         (uint8_t)(bits >> 24)};
        pb_raw(&sub, le, 4);
    }
    pb_msg(b, field, &sub);
}

/* A ValueInfoProto of a tensor: elem type, and dims (a negative dim stands for the dim_param
 * "N"); rank < 0 leaves the shape out. */
static void pb_value_info(pbuf *b, uint32_t field, const char *name, int elem, const int64_t *dims,
                          int rank) {
    pbuf vi = {0}, type = {0}, tensor = {0};
    pb_str(&vi, 1, name);
    pb_vfield(&tensor, 1, (uint64_t)elem);
    if (rank >= 0) {
        pbuf shape = {0};
        for (int k = 0; k < rank; k++) {
            pbuf dim = {0};
            if (dims[k] < 0)
                pb_str(&dim, 2, "N");
            else
                pb_vfield(&dim, 1, (uint64_t)dims[k]);
            pb_msg(&shape, 1, &dim);
        }
        pb_msg(&tensor, 2, &shape);
    }
    pb_msg(&type, 1, &tensor);
    pb_msg(&vi, 2, &type);
    pb_msg(b, field, &vi);
}

/*
 * The hand-made model: ir_version 8, unknown fields of every wire type, a graph "g" with
 *   Conv(x, W, "") -> t   attrs kernel_shape [3,3] packed, pads [1,1,1,1] unpacked,
 *                         alpha 0.5, mode "NOTSET", value (INT32 [3] tensor), floats [1.5,-2]
 *   Relu(t) -> y          domain "ai.onnx", name "relu0"
 * initializers W FLOAT [1,1,3,3] raw_data 0..8, B FLOAT [2] float_data, shape INT64 [2]
 * int64_data [-1, 4], inputs x FLOAT [N,1,5,5] and W, output y FLOAT without a shape,
 * value_info s a sequence of FLOAT tensors, and opset_import {"", 13} last.
 */
static int make_model(pbuf *out) {
    pbuf m = {0}, g = {0}, n = {0}, a = {0}, t = {0}, o = {0};
    memset(out, 0, sizeof *out);
    pb_vfield(&m, 1, 8);
    pb_str(&m, 2, "graft-test");
    pb_vfield(&m, 99, 12345);                       /* unknown varint */
    pb_tag(&m, 100, GRAFT_PB_WIRE_I64);             /* unknown fixed64 */
    pb_raw(&m, "\1\2\3\4\5\6\7\x8", 8);
    pb_tag(&m, 101, GRAFT_PB_WIRE_I32);             /* unknown fixed32 */
    pb_raw(&m, "\1\2\3\4", 4);
    pb_str(&m, 102, "unknown length-delimited");

    /* Conv node */
    pb_str(&n, 1, "x");
    pb_str(&n, 1, "W");
    pb_str(&n, 1, "");
    pb_str(&n, 2, "t");
    pb_str(&n, 3, "conv0");
    pb_str(&n, 4, "Conv");
    const int64_t k33[] = {3, 3};
    pb_str(&a, 1, "kernel_shape");
    pb_packed_varints(&a, 8, k33, 2);
    pb_vfield(&a, 20, GRAFT_ONNX_ATTR_INTS);
    pb_msg(&n, 5, &a);
    pb_str(&a, 1, "pads");
    for (int k = 0; k < 4; k++) pb_vfield(&a, 8, 1);
    pb_vfield(&a, 20, GRAFT_ONNX_ATTR_INTS);
    pb_msg(&n, 5, &a);
    pb_str(&a, 1, "alpha");
    pb_f32(&a, 2, 0.5f);
    pb_vfield(&a, 20, GRAFT_ONNX_ATTR_FLOAT);
    pb_msg(&n, 5, &a);
    pb_str(&a, 1, "mode"); /* no type field: inferred from s */
    pb_str(&a, 4, "NOTSET");
    pb_msg(&n, 5, &a);
    pb_str(&a, 1, "value");
    const int64_t three[] = {3}, i32v[] = {7, -8, 9};
    pb_packed_varints(&t, 1, three, 1);
    pb_vfield(&t, 2, GRAFT_ONNX_DTYPE_INT32);
    for (int k = 0; k < 3; k++) pb_vfield(&t, 5, (uint64_t)i32v[k]); /* -8: 10-byte varint */
    pb_msg(&a, 5, &t);
    pb_vfield(&a, 20, GRAFT_ONNX_ATTR_TENSOR);
    pb_msg(&n, 5, &a);
    const float fl[] = {1.5f, -2.0f};
    pb_str(&a, 1, "floats");
    pb_packed_f32(&a, 7, fl, 2);
    pb_vfield(&a, 20, GRAFT_ONNX_ATTR_FLOATS);
    pb_msg(&n, 5, &a);
    pb_msg(&g, 1, &n);
    /* Relu node */
    pb_str(&n, 1, "t");
    pb_str(&n, 2, "y");
    pb_str(&n, 3, "relu0");
    pb_str(&n, 4, "Relu");
    pb_str(&n, 7, "ai.onnx");
    pb_msg(&g, 1, &n);
    pb_str(&g, 2, "g");

    /* Initializers */
    const int64_t wdims[] = {1, 1, 3, 3};
    float w[9];
    for (int k = 0; k < 9; k++) w[k] = (float)k;
    for (int k = 0; k < 4; k++) pb_vfield(&t, 1, (uint64_t)wdims[k]);
    pb_vfield(&t, 2, GRAFT_ONNX_DTYPE_FLOAT);
    pb_str(&t, 8, "W");
    uint8_t raw[36];
    for (int k = 0; k < 9; k++) {
        uint32_t bits;
        memcpy(&bits, &w[k], 4);
        for (int j = 0; j < 4; j++) raw[4 * k + j] = (uint8_t)(bits >> (8 * j));
    }
    pb_bytes(&t, 9, raw, sizeof raw);
    pb_msg(&g, 5, &t);
    const int64_t two[] = {2}, shape[] = {-1, 4};
    pb_packed_varints(&t, 1, two, 1);
    pb_vfield(&t, 2, GRAFT_ONNX_DTYPE_FLOAT);
    pb_str(&t, 8, "B");
    pb_packed_f32(&t, 4, fl, 2);
    pb_msg(&g, 5, &t);
    pb_packed_varints(&t, 1, two, 1);
    pb_vfield(&t, 2, GRAFT_ONNX_DTYPE_INT64);
    pb_str(&t, 8, "shape");
    pb_packed_varints(&t, 7, shape, 2);
    pb_msg(&g, 5, &t);

    /* Inputs, outputs, a sequence-typed value_info */
    const int64_t xdims[] = {-1, 1, 5, 5};
    pb_value_info(&g, 11, "x", GRAFT_ONNX_DTYPE_FLOAT, xdims, 4);
    pb_value_info(&g, 11, "W", GRAFT_ONNX_DTYPE_FLOAT, wdims, 4);
    pb_value_info(&g, 12, "y", GRAFT_ONNX_DTYPE_FLOAT, NULL, -1);
    {
        pbuf vi = {0}, type = {0}, seq = {0}, elem = {0}, tensor = {0};
        pb_str(&vi, 1, "s");
        pb_vfield(&tensor, 1, GRAFT_ONNX_DTYPE_FLOAT);
        pb_msg(&elem, 1, &tensor);
        pb_msg(&seq, 1, &elem);
        pb_msg(&type, 4, &seq);
        pb_msg(&vi, 2, &type);
        pb_msg(&g, 13, &vi);
    }
    pb_msg(&m, 7, &g);

    pb_str(&o, 1, "");
    pb_vfield(&o, 2, 13);
    pb_msg(&m, 8, &o);
    if (m.oom) {
        pb_free(&m);
        return -1;
    }
    *out = m;
    return 0;
}

/* A standalone TensorProto: FLOAT [3,4,5] named "x", raw_data i * 0.25 - 7. */
static int make_tensor(pbuf *out) {
    pbuf t = {0};
    const int64_t dims[] = {3, 4, 5};
    for (int k = 0; k < 3; k++) pb_vfield(&t, 1, (uint64_t)dims[k]);
    pb_vfield(&t, 2, GRAFT_ONNX_DTYPE_FLOAT);
    pb_str(&t, 8, "x");
    uint8_t raw[240];
    for (int i = 0; i < 60; i++) {
        float v = (float)i * 0.25f - 7.0f;
        uint32_t bits;
        memcpy(&bits, &v, 4);
        for (int j = 0; j < 4; j++) raw[4 * i + j] = (uint8_t)(bits >> (8 * j));
    }
    pb_bytes(&t, 9, raw, sizeof raw);
    if (t.oom) {
        pb_free(&t);
        return -1;
    }
    *out = t;
    return 0;
}

/* Decodes bytes as a model in a fresh model object; returns the code. */
static int decode_model_bytes(const void *p, size_t len) {
    graft_onnx_model *m;
    int err = graft_onnx_model_create(&m);
    if (err) return err;
    err = graft_onnx_model_decode(m, p, len);
    graft_onnx_model_destroy(m);
    return err;
}

static int decode_tensor_bytes(const void *p, size_t len) {
    graft_onnx_model *m;
    int err = graft_onnx_model_create(&m);
    if (err) return err;
    const graft_onnx_tensor *t;
    err = graft_onnx_tensor_decode(m, p, len, &t);
    graft_onnx_model_destroy(m);
    return err;
}

/* ---- the wire reader ------------------------------------------------------------------- */

static int check_varint_limits(char *msg, size_t msglen) {
    static const struct {
        uint8_t bytes[12];
        size_t len;
        int ok;
        uint64_t value;
        size_t used;
    } cases[] = {
        {{0x00}, 1, 1, 0, 1},
        {{0x7f}, 1, 1, 127, 1},
        {{0x96, 0x01}, 2, 1, 150, 2},
        {{0x80, 0x80, 0x01, 0x55}, 4, 1, 16384, 3},
        /* int64 -1: ten bytes, the last holding bit 63 only */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10, 1, UINT64_MAX, 10},
        /* a non-minimal but valid encoding of 1 */
        {{0x81, 0x80, 0x80, 0x00}, 4, 1, 1, 4},
        /* 11 bytes */
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 11, 0, 0, 0},
        /* ten bytes whose last sets bit 64 */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 10, 0, 0, 0},
        /* truncated: continuation bit on the last available byte */
        {{0x80}, 1, 0, 0, 0},
        {{0xff, 0xff}, 2, 0, 0, 0},
        {{0}, 0, 0, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint64_t v = 0;
        size_t used = 0;
        int err = graft_pb_varint(cases[k].bytes, cases[k].len, &v, &used);
        if (cases[k].ok && (err || v != cases[k].value || used != cases[k].used))
            return graft_check_fail(msg, msglen, "varint case %zu: err %d value %llu used %zu", k, err,
                              (unsigned long long)v, used);
        if (!cases[k].ok && err != GRAFT_ECORRUPT)
            return graft_check_fail(msg, msglen, "varint case %zu accepted (%s)", k,
                              graft_err_name(err));
    }
    return GRAFT_CHECK_PASS;
}

static int check_reader_fields(char *msg, size_t msglen) {
    pbuf b = {0};
    pb_vfield(&b, 1, 300);
    pb_tag(&b, 2, GRAFT_PB_WIRE_I64);
    pb_raw(&b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    pb_f32(&b, 3, -1.0f);
    pb_str(&b, 536870911, "max field number");
    pb_str(&b, 5, "");
    if (b.oom) return graft_check_fail(msg, msglen, "out of memory");

    graft_pb_reader r;
    graft_pb_field f;
    graft_pb_reader_init(&r, b.p, b.len, "test: Msg");
    struct {
        uint32_t number;
        int wire;
        uint64_t u;
        size_t len;
    } want[] = {
        {1, GRAFT_PB_WIRE_VARINT, 300, 0},
        {2, GRAFT_PB_WIRE_I64, 0x0807060504030201ull, 0},
        {3, GRAFT_PB_WIRE_I32, 0xbf800000u, 0},
        {536870911, GRAFT_PB_WIRE_LEN, 0, 16},
        {5, GRAFT_PB_WIRE_LEN, 0, 0},
    };
    size_t k = 0;
    int got;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        if (k >= 5 || f.number != want[k].number || (int)f.wire != want[k].wire ||
            f.u != want[k].u || f.len != want[k].len ||
            (f.wire == GRAFT_PB_WIRE_LEN && f.data != b.p + f.data_offset))
            return graft_check_fail(msg, msglen, "field %zu: number %u wire %d u %llu len %zu", k,
                              f.number, f.wire, (unsigned long long)f.u, f.len);
        k++;
    }
    pb_free(&b);
    if (got != 0 || k != 5) return graft_check_fail(msg, msglen, "%zu fields, end %d", k, got);

    /* Malformed fields, each alone in a buffer. */
    static const struct {
        uint8_t bytes[8];
        size_t len;
        const char *needle;
    } bad[] = {
        {{0x0b, 0x00}, 2, "wire type 3 (start-group)"},
        {{0x0c, 0x00}, 2, "wire type 4"},
        {{0x0e, 0x00}, 2, "wire type 6"},
        {{0x0f, 0x00}, 2, "wire type 7"},
        {{0x00, 0x00}, 2, "invalid field number 0"},
        {{0x12, 0x05, 'a', 'b'}, 4, "test: Msg field 2: length 5 past end of buffer at offset 2"},
        {{0x12}, 1, "field 2: truncated varint in a length"},
        {{0x08}, 1, "field 1: truncated varint at offset 1"},
        {{0x09, 1, 2, 3, 4, 5, 6, 7}, 8, "fixed64 value past end"},
        {{0x0d, 1, 2, 3}, 4, "fixed32 value past end"},
        {{0x80, 0x80}, 2, "truncated varint in a field tag at offset 0"},
        /* tag 2^32 + 8: field number above 2^29 - 1 */
        {{0x88, 0x80, 0x80, 0x80, 0x10}, 5, "invalid field number"},
    };
    for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
        graft_pb_reader_init(&r, bad[j].bytes, bad[j].len, "test: Msg");
        EXPECT_ERR(graft_pb_next(&r, &f), GRAFT_ECORRUPT, bad[j].needle, "malformed field");
    }

    /* A sub-reader ends at its field's end, not the buffer's. */
    pbuf outer = {0}, inner = {0};
    pb_vfield(&inner, 1, 5);
    pb_msg(&outer, 1, &inner);
    pb_vfield(&outer, 2, 6);
    graft_pb_reader_init(&r, outer.p, outer.len, "test: Outer");
    graft_pb_reader sub;
    if (outer.oom || graft_pb_next(&r, &f) != 1)
        return graft_check_fail(msg, msglen, "outer field");
    graft_pb_reader_sub(&sub, &r, &f, "test: Inner");
    int n1 = graft_pb_next(&sub, &f), n1u = (int)f.u, n2 = graft_pb_next(&sub, &f);
    pb_free(&outer);
    if (n1 != 1 || n1u != 5 || n2 != 0)
        return graft_check_fail(msg, msglen, "sub-reader: %d (%d) then %d", n1, n1u, n2);
    return GRAFT_CHECK_PASS;
}

static int check_packed_fields(char *msg, size_t msglen) {
    pbuf b = {0};
    const int64_t v[] = {1, 300, -1, 0};
    const float fl[] = {0.5f, -3.0f, 1e30f};
    pb_packed_varints(&b, 1, v, 4);
    pb_vfield(&b, 1, 42);
    pb_packed_f32(&b, 2, fl, 3);
    pb_f32(&b, 2, 7.0f);
    pb_packed_varints(&b, 3, v, 0); /* empty packed field */
    if (b.oom) return graft_check_fail(msg, msglen, "out of memory");
    graft_pb_reader r;
    graft_pb_field f;
    graft_pb_repeated it;
    graft_pb_reader_init(&r, b.p, b.len, "test: Packed");
    const uint64_t want_v[] = {1, 300, UINT64_MAX, 0, 42};
    float want_f[] = {0.5f, -3.0f, 1e30f, 7.0f};
    size_t nv = 0, nf = 0, empty_count = 99;
    int got;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        size_t count;
        graft_pb_wire elem = f.number == 2 ? GRAFT_PB_WIRE_I32 : GRAFT_PB_WIRE_VARINT;
        int err = graft_pb_repeated_begin(&r, &f, elem, &it, &count);
        if (err) return graft_check_fail(msg, msglen, "field %u: %s", f.number, graft_last_error());
        if (f.number == 3) empty_count = count;
        uint64_t x;
        size_t seen = 0;
        while (graft_pb_repeated_next(&it, &x)) {
            seen++;
            if (f.number == 1 && (nv >= 5 || x != want_v[nv++]))
                return graft_check_fail(msg, msglen, "varint %zu: %llu", nv, (unsigned long long)x);
            if (f.number == 2) {
                uint32_t bits = (uint32_t)x;
                float fx;
                memcpy(&fx, &bits, 4);
                if (nf >= 4 || fx != want_f[nf++])
                    return graft_check_fail(msg, msglen, "float %zu: %g", nf, fx);
            }
        }
        if (seen != count) return graft_check_fail(msg, msglen, "%zu values, count %zu", seen, count);
    }
    pb_free(&b);
    if (got != 0 || nv != 5 || nf != 4 || empty_count != 0)
        return graft_check_fail(msg, msglen, "%zu varints, %zu floats, empty %zu", nv, nf, empty_count);

    /* Packed fixed32 whose length is not a multiple of 4; a bad varint inside a packed run;
     * a repeated varint sent as fixed64. */
    static const struct {
        uint8_t bytes[8];
        size_t len;
        graft_pb_wire elem;
        const char *needle;
    } bad[] = {
        {{0x0a, 0x06, 0, 0, 0, 0, 0, 0}, 8, GRAFT_PB_WIRE_I32, "not a multiple of 4"},
        {{0x0a, 0x04, 0, 0, 0, 0}, 6, GRAFT_PB_WIRE_I64, "not a multiple of 8"},
        {{0x0a, 0x02, 0x01, 0x80}, 4, GRAFT_PB_WIRE_VARINT, "truncated varint in packed values"},
        {{0x09, 1, 2, 3, 4, 5, 6, 7, }, 8, GRAFT_PB_WIRE_VARINT, NULL},
        {{0x0d, 1, 2, 3, 4}, 5, GRAFT_PB_WIRE_VARINT, "wire type fixed32, expected varint"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        size_t count;
        graft_pb_reader_init(&r, bad[k].bytes, bad[k].len, "test: Packed");
        int err = graft_pb_next(&r, &f);
        if (err != 1) {
            /* The fixed64 case is itself truncated (7 value bytes): the reader catches it. */
            EXPECT_ERR(err, GRAFT_ECORRUPT, "fixed64 value past end", "truncated fixed64");
            continue;
        }
        EXPECT_ERR(graft_pb_repeated_begin(&r, &f, bad[k].elem, &it, &count), GRAFT_ECORRUPT,
                   bad[k].needle, "malformed packed field");
    }
    return GRAFT_CHECK_PASS;
}

/* ---- the hand-made model --------------------------------------------------------------- */

static int check_hand_made_model(char *msg, size_t msglen) {
    pbuf b;
    if (make_model(&b)) return graft_check_fail(msg, msglen, "out of memory");
    graft_onnx_model *m;
    int err = graft_onnx_model_create(&m);
    if (!err) err = graft_onnx_model_decode(m, b.p, b.len);
    if (err) {
        pb_free(&b);
        return graft_check_fail(msg, msglen, "%s: %s", graft_err_name(err), graft_last_error());
    }
    int st = GRAFT_CHECK_PASS;
    const graft_onnx_graph *g = m->graph;
#define REQUIRE(cond)                                                            \
    do {                                                                         \
        if (st == GRAFT_CHECK_PASS && !(cond))                                   \
            st = graft_check_fail(msg, msglen, "hand-made model: %s is false", #cond); \
    } while (0)
    REQUIRE(m->ir_version == 8 && strcmp(m->producer_name, "graft-test") == 0);
    REQUIRE(m->opset_count == 1 && m->opsets[0].domain[0] == 0 && m->opsets[0].version == 13);
    REQUIRE(g && strcmp(g->name, "g") == 0 && g->node_count == 2);
    if (st != GRAFT_CHECK_PASS) goto done;
    const graft_onnx_node *conv = &g->nodes[0], *relu = &g->nodes[1];
    REQUIRE(strcmp(conv->op_type, "Conv") == 0 && strcmp(conv->name, "conv0") == 0);
    REQUIRE(conv->input_count == 3 && strcmp(conv->inputs[1], "W") == 0);
    REQUIRE(conv->inputs[2][0] == 0); /* the omitted optional input */
    REQUIRE(conv->output_count == 1 && strcmp(conv->outputs[0], "t") == 0);
    REQUIRE(conv->attr_count == 6 && conv->domain[0] == 0);
    REQUIRE(strcmp(relu->op_type, "Relu") == 0 && strcmp(relu->domain, "ai.onnx") == 0);
    REQUIRE(relu->attr_count == 0 && relu->input_count == 1 && relu->output_count == 1);
    if (st != GRAFT_CHECK_PASS) goto done;
    const graft_onnx_attr *ks = graft_onnx_node_attr(conv, "kernel_shape");
    const graft_onnx_attr *pads = graft_onnx_node_attr(conv, "pads");
    const graft_onnx_attr *alpha = graft_onnx_node_attr(conv, "alpha");
    const graft_onnx_attr *mode = graft_onnx_node_attr(conv, "mode");
    const graft_onnx_attr *value = graft_onnx_node_attr(conv, "value");
    const graft_onnx_attr *floats = graft_onnx_node_attr(conv, "floats");
    REQUIRE(ks && ks->type == GRAFT_ONNX_ATTR_INTS && ks->int_count == 2 && ks->ints[1] == 3);
    REQUIRE(pads && pads->int_count == 4 && pads->ints[0] == 1 && pads->ints[3] == 1);
    REQUIRE(alpha && alpha->type == GRAFT_ONNX_ATTR_FLOAT && alpha->f == 0.5f);
    REQUIRE(mode && mode->type == GRAFT_ONNX_ATTR_STRING && mode->s.len == 6);
    REQUIRE(mode && strcmp(mode->s.data, "NOTSET") == 0 && !mode->unsupported);
    REQUIRE(value && value->type == GRAFT_ONNX_ATTR_TENSOR && value->t);
    REQUIRE(floats && floats->float_count == 2 && floats->floats[1] == -2.0f);
    REQUIRE(graft_onnx_node_attr(conv, "dilations") == NULL);
    if (st != GRAFT_CHECK_PASS) goto done;
    int64_t iv[3];
    REQUIRE(value->t->data_type == GRAFT_ONNX_DTYPE_INT32 && value->t->numel == 3);
    REQUIRE(graft_onnx_tensor_to_int64(value->t, iv, 3) == GRAFT_OK);
    REQUIRE(iv[0] == 7 && iv[1] == -8 && iv[2] == 9);

    REQUIRE(g->initializer_count == 3);
    const graft_onnx_tensor *w = graft_onnx_graph_initializer(g, "W");
    const graft_onnx_tensor *bias = graft_onnx_graph_initializer(g, "B");
    const graft_onnx_tensor *shape = graft_onnx_graph_initializer(g, "shape");
    REQUIRE(w && w->rank == 4 && w->dims[3] == 3 && w->numel == 9 && w->raw_len == 36);
    /* raw_data is a view into the buffer, not a copy */
    REQUIRE(w && w->raw >= b.p && w->raw + w->raw_len <= b.p + b.len);
    REQUIRE(bias && bias->numel == 2 && bias->float_count == 2 && !bias->raw);
    REQUIRE(shape && shape->int64_count == 2 && shape->int64_data[0] == -1);
    REQUIRE(graft_onnx_graph_initializer(g, "nope") == NULL);
    if (st != GRAFT_CHECK_PASS) goto done;
    float wf[9], bf[2];
    REQUIRE(graft_onnx_tensor_to_float(w, wf, 9) == GRAFT_OK && wf[0] == 0 && wf[8] == 8);
    REQUIRE(graft_onnx_tensor_to_float(bias, bf, 2) == GRAFT_OK && bf[0] == 1.5f);

    REQUIRE(g->input_count == 2 && g->output_count == 1 && g->value_info_count == 1);
    if (st != GRAFT_CHECK_PASS) goto done;
    const graft_onnx_type *xt = &g->inputs[0].type;
    REQUIRE(strcmp(g->inputs[0].name, "x") == 0 && xt->kind == GRAFT_ONNX_TYPE_TENSOR);
    REQUIRE(xt->elem_type == GRAFT_ONNX_DTYPE_FLOAT && xt->has_shape && xt->rank == 4);
    REQUIRE(xt->rank == 4 && !xt->dims[0].has_value && strcmp(xt->dims[0].param, "N") == 0);
    REQUIRE(xt->rank == 4 && xt->dims[2].has_value && xt->dims[2].value == 5);
    REQUIRE(xt->rank == 4 && xt->dims[2].param[0] == 0);
    REQUIRE(!g->outputs[0].type.has_shape && g->outputs[0].type.rank == 0);
    const graft_onnx_type *st_ = &g->value_infos[0].type;
    REQUIRE(st_->kind == GRAFT_ONNX_TYPE_SEQUENCE && st_->elem);
    REQUIRE(st_->elem && st_->elem->kind == GRAFT_ONNX_TYPE_TENSOR);
    REQUIRE(st_->elem && st_->elem->elem_type == GRAFT_ONNX_DTYPE_FLOAT);

    /* A model object takes one ModelProto. */
    if (st == GRAFT_CHECK_PASS && graft_onnx_model_decode(m, b.p, b.len) != GRAFT_EINVAL)
        st = graft_check_fail(msg, msglen, "a second decode into the same model was accepted");
#undef REQUIRE
done:
    graft_onnx_model_destroy(m);
    graft_onnx_model_destroy(NULL);
    pb_free(&b);
    return st;
}

/* Every proper prefix of a valid buffer must be refused as corrupt. */
static int truncations(const pbuf *b, int is_model, char *msg, size_t msglen) {
    for (size_t len = 0; len <= b->len; len++) {
        /* An exact-size copy, so that ASan sees any read past the cut. */
        uint8_t *cut = malloc(len ? len : 1);
        if (!cut) return graft_check_fail(msg, msglen, "out of memory");
        memcpy(cut, b->p, len);
        int err = is_model ? decode_model_bytes(cut, len) : decode_tensor_bytes(cut, len);
        free(cut);
        int want = len == b->len ? GRAFT_OK : GRAFT_ECORRUPT;
        if (err != want)
            return graft_check_fail(msg, msglen, "%s cut to %zu of %zu bytes: %s \"%s\"",
                              is_model ? "model" : "tensor", len, b->len, graft_err_name(err),
                              graft_last_error());
        if (err && !strstr(graft_last_error(), "onnx: "))
            return graft_check_fail(msg, msglen, "cut to %zu: message \"%s\"", len, graft_last_error());
    }
    return GRAFT_CHECK_PASS;
}

static int check_truncated_every_offset(char *msg, size_t msglen) {
    pbuf b;
    if (make_model(&b)) return graft_check_fail(msg, msglen, "out of memory");
    int st = truncations(&b, 1, msg, msglen);
    pb_free(&b);
    if (st != GRAFT_CHECK_PASS) return st;
    if (make_tensor(&b)) return graft_check_fail(msg, msglen, "out of memory");
    st = truncations(&b, 0, msg, msglen);
    pb_free(&b);
    return st;
}

/* A model around one node built by the caller (ir_version 8, opset 13, graph "g"). */
static int model_with_node(pbuf *out, pbuf *node) {
    pbuf m = {0}, g = {0}, o = {0};
    pb_vfield(&m, 1, 8);
    pb_msg(&g, 1, node);
    pb_str(&g, 2, "g");
    pb_msg(&m, 7, &g);
    pb_str(&o, 1, "");
    pb_vfield(&o, 2, 13);
    pb_msg(&m, 8, &o);
    *out = m;
    return m.oom ? -1 : 0;
}

static int check_malformed_models(char *msg, size_t msglen) {
    pbuf b = {0}, n = {0};
    /* ir_version as an 11-byte varint */
    pb_tag(&b, 1, GRAFT_PB_WIRE_VARINT);
    pb_raw(&b, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11);
    if (b.oom) return graft_check_fail(msg, msglen, "out of memory");
    EXPECT_ERR(decode_model_bytes(b.p, b.len), GRAFT_ECORRUPT,
               "onnx: ModelProto field 1: varint longer than 10 bytes at offset 1",
               "11-byte varint");
    pb_free(&b);

    /* A NodeProto whose name claims 4000 bytes: the enclosing lengths are right. */
    pb_tag(&n, 3, GRAFT_PB_WIRE_LEN);
    pb_varint(&n, 4000);
    if (model_with_node(&b, &n)) return graft_check_fail(msg, msglen, "out of memory");
    EXPECT_ERR(decode_model_bytes(b.p, b.len), GRAFT_ECORRUPT,
               "onnx: NodeProto field 3: length 4000 past end of buffer at offset", "length");
    pb_free(&b);

    /* op_type sent as a varint */
    pb_str(&n, 1, "x");
    pb_vfield(&n, 4, 7);
    if (model_with_node(&b, &n)) return graft_check_fail(msg, msglen, "out of memory");
    EXPECT_ERR(decode_model_bytes(b.p, b.len), GRAFT_ECORRUPT,
               "onnx: NodeProto field 4 (op_type): wire type varint, expected length-delimited",
               "wrong wire type");
    pb_free(&b);

    /* The graph sent as fixed32 */
    pb_vfield(&b, 1, 8);
    pb_f32(&b, 7, 1.0f);
    if (b.oom) return graft_check_fail(msg, msglen, "out of memory");
    EXPECT_ERR(decode_model_bytes(b.p, b.len), GRAFT_ECORRUPT, "ModelProto field 7 (graph)",
               "graph as fixed32");
    pb_free(&b);

    /* A name with a NUL byte inside */
    pb_bytes(&n, 4, "Re\0lu", 5);
    if (model_with_node(&b, &n)) return graft_check_fail(msg, msglen, "out of memory");
    EXPECT_ERR(decode_model_bytes(b.p, b.len), GRAFT_ECORRUPT, "string with a NUL byte",
               "embedded NUL");
    pb_free(&b);

    /* An attribute's ints with a truncated packed varint */
    pbuf a = {0};
    pb_str(&a, 1, "pads");
    pb_bytes(&a, 8, "\x01\x80", 2);
    pb_msg(&n, 5, &a);
    if (model_with_node(&b, &n)) return graft_check_fail(msg, msglen, "out of memory");
    EXPECT_ERR(decode_model_bytes(b.p, b.len), GRAFT_ECORRUPT,
               "AttributeProto field 8: truncated varint in packed values", "packed ints");
    pb_free(&b);

    /* What ONNX requires of a model: ir_version, graph, opset_import (from ir_version 3). */
    pbuf g = {0}, o = {0};
    pb_vfield(&b, 1, 8);
    pb_str(&o, 1, "");
    pb_vfield(&o, 2, 13);
    pb_msg(&b, 8, &o);
    if (b.oom) return graft_check_fail(msg, msglen, "out of memory");
    EXPECT_ERR(decode_model_bytes(b.p, b.len), GRAFT_ECORRUPT, "has no graph", "no graph");
    pb_free(&b);
    pb_vfield(&b, 1, 8);
    pb_str(&g, 2, "g");
    pb_msg(&b, 7, &g);
    if (b.oom) return graft_check_fail(msg, msglen, "out of memory");
    EXPECT_ERR(decode_model_bytes(b.p, b.len), GRAFT_ECORRUPT, "has no opset_import", "no opset");
    pb_free(&b);
    pb_vfield(&b, 1, 2); /* ir_version 2 predates opset_import */
    pb_str(&g, 2, "g");
    pb_msg(&b, 7, &g);
    if (b.oom) return graft_check_fail(msg, msglen, "out of memory");
    EXPECT_ERR(decode_model_bytes(b.p, b.len), GRAFT_OK, NULL, "ir_version 2 without opsets");
    pb_free(&b);
    pb_str(&g, 2, "g");
    pb_msg(&b, 7, &g);
    if (b.oom) return graft_check_fail(msg, msglen, "out of memory");
    EXPECT_ERR(decode_model_bytes(b.p, b.len), GRAFT_ECORRUPT, "has no ir_version", "no ir");
    pb_free(&b);
    EXPECT_ERR(decode_model_bytes(NULL, 0), GRAFT_ECORRUPT, NULL, "empty buffer");

    graft_onnx_model *m;
    if (graft_onnx_model_create(&m)) return graft_check_fail(msg, msglen, "out of memory");
    int err = graft_onnx_model_decode(m, NULL, 10);
    graft_onnx_model_destroy(m);
    EXPECT_ERR(err, GRAFT_EINVAL, "buf is NULL", "NULL buffer");
    EXPECT_ERR(graft_onnx_model_decode(NULL, "", 0), GRAFT_EINVAL, NULL, "NULL model");
    EXPECT_ERR(graft_onnx_model_create(NULL), GRAFT_EINVAL, NULL, "create(NULL)");
    return GRAFT_CHECK_PASS;
}

/* Subgraphs nested through attributes, `levels` (>= 1) deep, under one model. */
static int nested_graph_model(pbuf *out, int levels) {
    pbuf g = {0};
    pb_str(&g, 2, "leaf");
    for (int k = 0;; k++) {
        pbuf a = {0}, n = {0}, outer = {0};
        pb_str(&a, 1, "body");
        pb_msg(&a, 6, &g);
        pb_vfield(&a, 20, GRAFT_ONNX_ATTR_GRAPH);
        pb_str(&n, 4, "Loop");
        pb_msg(&n, 5, &a);
        if (k == levels - 1) return model_with_node(out, &n) ? -1 : 0;
        pb_msg(&outer, 1, &n);
        g = outer;
    }
}

static int check_deep_nesting(char *msg, size_t msglen) {
    /* Each subgraph level is graph -> node -> attribute: 3 of the 32 levels allowed. */
    pbuf b;
    if (nested_graph_model(&b, 5)) return graft_check_fail(msg, msglen, "out of memory");
    graft_onnx_model *m;
    if (graft_onnx_model_create(&m)) return graft_check_fail(msg, msglen, "out of memory");
    int err = graft_onnx_model_decode(m, b.p, b.len), levels = 0;
    const graft_onnx_graph *g = err ? NULL : m->graph;
    while (g && g->node_count == 1 && g->nodes[0].attr_count == 1 && g->nodes[0].attrs[0].g) {
        g = g->nodes[0].attrs[0].g;
        levels++;
    }
    int leaf = g && strcmp(g->name, "leaf") == 0;
    graft_onnx_model_destroy(m);
    pb_free(&b);
    EXPECT_ERR(err, GRAFT_OK, NULL, "subgraphs 5 deep");
    if (levels != 5 || !leaf) return graft_check_fail(msg, msglen, "%d subgraph levels decoded", levels);

    if (nested_graph_model(&b, 200)) return graft_check_fail(msg, msglen, "out of memory");
    err = decode_model_bytes(b.p, b.len);
    pb_free(&b);
    EXPECT_ERR(err, GRAFT_ECORRUPT, "nested deeper than 32 levels", "subgraphs 200 deep");

    /* A sequence of a sequence of ... 1000 deep in a graph input's type. */
    pbuf type = {0}, tensor = {0};
    pb_vfield(&tensor, 1, GRAFT_ONNX_DTYPE_FLOAT);
    pb_msg(&type, 1, &tensor);
    for (int k = 0; k < 1000; k++) {
        pbuf seq = {0}, outer = {0};
        pb_msg(&seq, 1, &type);
        pb_msg(&outer, 4, &seq);
        type = outer;
    }
    pbuf vi = {0}, g2 = {0}, m2 = {0}, o = {0};
    pb_str(&vi, 1, "x");
    pb_msg(&vi, 2, &type);
    pb_msg(&g2, 11, &vi);
    pb_vfield(&m2, 1, 8);
    pb_msg(&m2, 7, &g2);
    pb_str(&o, 1, "");
    pb_vfield(&o, 2, 13);
    pb_msg(&m2, 8, &o);
    if (m2.oom) return graft_check_fail(msg, msglen, "out of memory");
    err = decode_model_bytes(m2.p, m2.len);
    pb_free(&m2);
    EXPECT_ERR(err, GRAFT_ECORRUPT, "TypeProto", "sequence types 1000 deep");

    /* Unknown fields nested 5000 deep are skipped whole, never descended into. */
    pbuf junk = {0};
    pb_vfield(&junk, 1, 1);
    for (int k = 0; k < 5000; k++) {
        pbuf outer = {0};
        pb_msg(&outer, 77, &junk);
        junk = outer;
    }
    pbuf g3 = {0}, m3 = {0};
    pb_msg(&g3, 77, &junk);
    pb_str(&g3, 2, "g");
    pb_vfield(&m3, 1, 8);
    pb_msg(&m3, 7, &g3);
    pb_str(&o, 1, "");
    pb_vfield(&o, 2, 13);
    pb_msg(&m3, 8, &o);
    if (m3.oom) return graft_check_fail(msg, msglen, "out of memory");
    err = decode_model_bytes(m3.p, m3.len);
    pb_free(&m3);
    EXPECT_ERR(err, GRAFT_OK, NULL, "unknown fields nested 5000 deep");
    return GRAFT_CHECK_PASS;
}

/* ---- random and mutated bytes ---------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Touches every decoded string and converts every tensor, so that ASan sees bad pointers. */
static size_t walk_tensor(const graft_onnx_tensor *t) {
    size_t sum = strlen(t->name) + strlen(t->external_location);
    if (t->numel <= ((size_t)1 << 20)) {
        float *f = malloc(sizeof(float) * (t->numel + 1));
        int64_t *i = malloc(sizeof(int64_t) * (t->numel + 1));
        if (f && graft_onnx_tensor_to_float(t, f, t->numel) == GRAFT_OK && t->numel)
            sum += f[t->numel - 1] != 0;
        if (i && graft_onnx_tensor_to_int64(t, i, t->numel) == GRAFT_OK && t->numel)
            sum += i[t->numel - 1] != 0;
        free(f);
        free(i);
    }
    for (size_t k = 0; k < t->string_count; k++) sum += t->string_data[k].len;
    return sum;
}

static size_t walk_graph(const graft_onnx_graph *g) {
    size_t sum = strlen(g->name);
    for (size_t k = 0; k < g->node_count; k++) {
        const graft_onnx_node *n = &g->nodes[k];
        sum += strlen(n->name) + strlen(n->op_type) + strlen(n->domain);
        for (size_t j = 0; j < n->input_count; j++) sum += strlen(n->inputs[j]);
        for (size_t j = 0; j < n->output_count; j++) sum += strlen(n->outputs[j]);
        for (size_t j = 0; j < n->attr_count; j++) {
            const graft_onnx_attr *a = &n->attrs[j];
            sum += strlen(a->name) + a->s.len + a->int_count + a->float_count;
            if (a->t) sum += walk_tensor(a->t);
            if (a->g) sum += walk_graph(a->g);
            for (size_t i = 0; i < a->tensor_count; i++) sum += walk_tensor(&a->tensors[i]);
            for (size_t i = 0; i < a->graph_count; i++) sum += walk_graph(&a->graphs[i]);
            for (size_t i = 0; i < a->string_count; i++) sum += a->strings[i].len;
        }
    }
    for (size_t k = 0; k < g->initializer_count; k++) sum += walk_tensor(&g->initializers[k]);
    const graft_onnx_value_info *lists[] = {g->inputs, g->outputs, g->value_infos};
    size_t counts[] = {g->input_count, g->output_count, g->value_info_count};
    for (int l = 0; l < 3; l++)
        for (size_t k = 0; k < counts[l]; k++) {
            sum += strlen(lists[l][k].name);
            for (const graft_onnx_type *t = &lists[l][k].type; t; t = t->elem)
                for (size_t d = 0; d < t->rank; d++) sum += strlen(t->dims[d].param);
        }
    return sum;
}

/* Decodes bytes both ways; returns 0 when every outcome is an allowed one. */
static int decode_any(const uint8_t *p, size_t len, int *bad_err) {
    graft_onnx_model *m;
    if (graft_onnx_model_create(&m)) return *bad_err = GRAFT_ENOMEM, -1;
    int err = graft_onnx_model_decode(m, p, len);
    if (err == GRAFT_OK) walk_graph(m->graph);
    int ok = err == GRAFT_OK || err == GRAFT_ECORRUPT || err == GRAFT_ERANGE;
    const graft_onnx_tensor *t;
    int terr = graft_onnx_tensor_decode(m, p, len, &t);
    if (terr == GRAFT_OK) walk_tensor(t);
    ok = ok && (terr == GRAFT_OK || terr == GRAFT_ECORRUPT || terr == GRAFT_ERANGE);
    graft_onnx_model_destroy(m);
    if (!ok) *bad_err = err && err != GRAFT_ECORRUPT && err != GRAFT_ERANGE ? err : terr;
    return ok ? 0 : -1;
}

static int check_random_and_mutated_bytes(char *msg, size_t msglen) {
    uint64_t seed = 0x2545f4914f6cdd1dull;
    uint8_t buf[512];
    int bad_err = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = xorshift(&seed) % sizeof buf;
        for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)xorshift(&seed);
        /* Bias some toward small tags and lengths so that parsing goes deeper. */
        if (iter & 1)
            for (size_t i = 0; i < len; i++) buf[i] &= 0x3f;
        uint8_t *exact = malloc(len ? len : 1);
        if (!exact) return graft_check_fail(msg, msglen, "out of memory");
        memcpy(exact, buf, len);
        int r = decode_any(exact, len, &bad_err);
        free(exact);
        if (r)
            return graft_check_fail(msg, msglen, "random buffer %d: %s \"%s\"", iter,
                              graft_err_name(bad_err), graft_last_error());
    }
    pbuf model, tensor;
    if (make_model(&model)) return graft_check_fail(msg, msglen, "out of memory");
    if (make_tensor(&tensor)) {
        pb_free(&model);
        return graft_check_fail(msg, msglen, "out of memory");
    }
    int st = GRAFT_CHECK_PASS;
    for (int iter = 0; iter < 20000 && st == GRAFT_CHECK_PASS; iter++) {
        const pbuf *src = iter % 4 == 3 ? &tensor : &model;
        uint8_t *mut = malloc(src->len);
        if (!mut) {
            st = graft_check_fail(msg, msglen, "out of memory");
            break;
        }
        memcpy(mut, src->p, src->len);
        int flips = 1 + (int)(xorshift(&seed) % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = xorshift(&seed) % src->len;
            uint64_t r = xorshift(&seed);
            mut[at] = r & 1 ? (uint8_t)(r >> 8) : (uint8_t)(mut[at] ^ (1u << ((r >> 8) & 7)));
        }
        if (decode_any(mut, src->len, &bad_err))
            st = graft_check_fail(msg, msglen, "mutant %d: %s \"%s\"", iter, graft_err_name(bad_err),
                            graft_last_error());
        free(mut);
    }
    pb_free(&model);
    pb_free(&tensor);
    return st;
}

/* ---- tensors --------------------------------------------------------------------------- */

/* A TensorProto with `rank` dims of data type dtype and no data. */
static void tensor_head(pbuf *t, const int64_t *dims, int rank, int dtype, const char *name) {
    memset(t, 0, sizeof *t);
    for (int k = 0; k < rank; k++) pb_vfield(t, 1, (uint64_t)dims[k]);
    if (dtype) pb_vfield(t, 2, (uint64_t)dtype);
    pb_str(t, 8, name);
}

static int check_absurd_dims(char *msg, size_t msglen) {
    static const struct {
        int64_t dims[3];
        int rank;
        int want;
        const char *needle;
    } cases[] = {
        {{65536, 65536}, 2, GRAFT_ERANGE, "exceeds 2^31 elements"},
        {{(int64_t)1 << 31, 2}, 2, GRAFT_ERANGE, "exceeds 2^31 elements"},
        {{(int64_t)1 << 62, 4, 4}, 3, GRAFT_ERANGE, "exceeds 2^31 elements"},
        {{INT64_MAX, INT64_MAX}, 2, GRAFT_ERANGE, "exceeds 2^31 elements"},
        {{3000000000ll}, 1, GRAFT_ERANGE, "exceeds 2^31 elements"},
        {{4, -1}, 2, GRAFT_ERANGE, "negative dim -1"},
        {{0, (int64_t)1 << 62}, 2, GRAFT_OK, NULL}, /* empty, however wide */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        pbuf t;
        tensor_head(&t, cases[k].dims, cases[k].rank, GRAFT_ONNX_DTYPE_FLOAT, "big");
        if (t.oom) return graft_check_fail(msg, msglen, "out of memory");
        int err = decode_tensor_bytes(t.p, t.len);
        pb_free(&t);
        EXPECT_ERR(err, cases[k].want, cases[k].needle, "absurd dims");
    }
    /* The same refusal through a model's initializer. */
    pbuf t, g = {0}, m = {0}, o = {0};
    const int64_t huge[] = {(int64_t)1 << 40, (int64_t)1 << 40};
    tensor_head(&t, huge, 2, GRAFT_ONNX_DTYPE_FLOAT, "W");
    pb_msg(&g, 5, &t);
    pb_vfield(&m, 1, 8);
    pb_msg(&m, 7, &g);
    pb_str(&o, 1, "");
    pb_vfield(&o, 2, 13);
    pb_msg(&m, 8, &o);
    if (m.oom) return graft_check_fail(msg, msglen, "out of memory");
    int err = decode_model_bytes(m.p, m.len);
    pb_free(&m);
    EXPECT_ERR(err, GRAFT_ERANGE, "onnx: TensorProto \"W\"", "initializer with absurd dims");
    return GRAFT_CHECK_PASS;
}

static int check_tensor_data_consistency(char *msg, size_t msglen) {
    const int64_t d23[] = {2, 3};
    const float six[] = {1, 2, 3, 4, 5, 6};
    const int64_t six_i[] = {1, 2, 3, 4, 5, 6};
    pbuf t;
    int err;
#define DECODE_EXPECT(want, needle, what)                                \
    do {                                                                 \
        if (t.oom) return graft_check_fail(msg, msglen, "out of memory");      \
        err = decode_tensor_bytes(t.p, t.len);                           \
        pb_free(&t);                                                     \
        EXPECT_ERR(err, want, needle, what);                             \
    } while (0)

    tensor_head(&t, d23, 2, GRAFT_ONNX_DTYPE_FLOAT, "a");
    pb_bytes(&t, 9, six, 20);
    DECODE_EXPECT(GRAFT_ECORRUPT, "raw_data of 20 bytes for 6 FLOAT elements", "short raw");
    tensor_head(&t, d23, 2, GRAFT_ONNX_DTYPE_FLOAT, "a");
    pb_packed_f32(&t, 4, six, 5);
    DECODE_EXPECT(GRAFT_ECORRUPT, "5 values in float_data for 6 FLOAT elements",
                  "short float_data");
    tensor_head(&t, d23, 2, GRAFT_ONNX_DTYPE_FLOAT, "a");
    pb_packed_varints(&t, 7, six_i, 6);
    DECODE_EXPECT(GRAFT_ECORRUPT, "FLOAT data in int64_data", "data in the wrong field");
    tensor_head(&t, d23, 2, GRAFT_ONNX_DTYPE_FLOAT, "a");
    pb_packed_f32(&t, 4, six, 6);
    pb_bytes(&t, 9, six, 24);
    DECODE_EXPECT(GRAFT_ECORRUPT, "as well as raw_data", "raw and typed data");
    tensor_head(&t, d23, 2, GRAFT_ONNX_DTYPE_FLOAT, "a");
    DECODE_EXPECT(GRAFT_ECORRUPT, "6 elements but no data", "no data");
    tensor_head(&t, d23, 2, 0, "a");
    pb_bytes(&t, 9, six, 24);
    DECODE_EXPECT(GRAFT_ECORRUPT, "no data_type", "no data type");
    tensor_head(&t, d23, 2, GRAFT_ONNX_DTYPE_STRING, "a");
    pb_bytes(&t, 9, six, 24);
    DECODE_EXPECT(GRAFT_ECORRUPT, "STRING data in raw_data", "strings in raw_data");
    tensor_head(&t, d23, 2, GRAFT_ONNX_DTYPE_FLOAT, "a");
    pb_vfield(&t, 4, 5);
    DECODE_EXPECT(GRAFT_ECORRUPT, "TensorProto field 4: wire type varint, expected fixed32",
                  "float_data as varint");
    tensor_head(&t, d23, 2, GRAFT_ONNX_DTYPE_FLOAT, "a");
    pb_vfield(&t, 8, 5);
    DECODE_EXPECT(GRAFT_ECORRUPT, "TensorProto field 8 (name)", "name as varint");
    /* A data type newer than the decoder is kept unchecked; conversions refuse it. */
    tensor_head(&t, d23, 2, 40, "a");
    pb_bytes(&t, 9, six, 3);
    DECODE_EXPECT(GRAFT_OK, NULL, "unknown data type");
    /* A scalar (rank 0) holds one element. */
    tensor_head(&t, NULL, 0, GRAFT_ONNX_DTYPE_FLOAT, "s");
    pb_bytes(&t, 9, six, 4);
    DECODE_EXPECT(GRAFT_OK, NULL, "scalar");
#undef DECODE_EXPECT

    /* External data: decoded, refused by the conversions with the file's name. */
    pbuf e = {0};
    tensor_head(&t, d23, 2, GRAFT_ONNX_DTYPE_FLOAT, "w_ext");
    pb_str(&e, 1, "location");
    pb_str(&e, 2, "weights.bin");
    pb_msg(&t, 13, &e);
    pb_str(&e, 1, "offset");
    pb_str(&e, 2, "4096");
    pb_msg(&t, 13, &e);
    pb_vfield(&t, 14, 1);
    if (t.oom) return graft_check_fail(msg, msglen, "out of memory");
    graft_onnx_model *m;
    const graft_onnx_tensor *x = NULL;
    if (graft_onnx_model_create(&m)) return graft_check_fail(msg, msglen, "out of memory");
    err = graft_onnx_tensor_decode(m, t.p, t.len, &x);
    float f[6];
    int conv = x ? graft_onnx_tensor_to_float(x, f, 6) : -100;
    int ext = x && x->external && strcmp(x->external_location, "weights.bin") == 0;
    char conv_msg[512];
    snprintf(conv_msg, sizeof conv_msg, "%s", graft_last_error());
    graft_onnx_model_destroy(m);
    pb_free(&t);
    if (err || !ext || conv != GRAFT_EUNSUPPORTED || !strstr(conv_msg, "weights.bin") ||
        !strstr(conv_msg, "w_ext"))
        return graft_check_fail(msg, msglen, "external tensor: decode %d, external %d, to_float %d "
                          "\"%s\"", err, ext, conv, conv_msg);
    return GRAFT_CHECK_PASS;
}

/* One conversion case: a tensor of `n` elements with its data in raw bytes or a typed field. */
typedef struct conv_case {
    const char *label;
    int dtype;
    size_t n;
    const void *raw;      /* raw_data bytes, or NULL */
    size_t raw_len;
    int field;            /* typed field when raw is NULL: 4, 5, 7, 10, 11 */
    const int64_t *ivals; /* for varint fields */
    const double *dvals;  /* for double_data and float_data */
    const float *want_f;  /* NULL: to_float must fail with EUNSUPPORTED */
    const int64_t *want_i;
    int int_err; /* to_int64's expected code */
} conv_case;

static int same_float(float a, float b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static int run_conv_case(const conv_case *c, char *msg, size_t msglen) {
    pbuf t;
    const int64_t dims[] = {(int64_t)c->n};
    tensor_head(&t, dims, 1, c->dtype, c->label);
    if (c->raw) {
        pb_bytes(&t, 9, c->raw, c->raw_len);
    } else if (c->field == 4 || c->field == 10) {
        pbuf packed = {0};
        size_t vals = c->dtype == GRAFT_ONNX_DTYPE_COMPLEX64 ? 2 * c->n : c->n;
        for (size_t k = 0; k < vals; k++) {
            uint8_t le[8];
            uint64_t bits = 0;
            size_t w = c->field == 4 ? 4 : 8;
            if (w == 4) {
                float v = (float)c->dvals[k];
                uint32_t b32;
                memcpy(&b32, &v, 4);
                bits = b32;
            } else {
                memcpy(&bits, &c->dvals[k], 8);
            }
            for (size_t j = 0; j < w; j++) le[j] = (uint8_t)(bits >> (8 * j));
            pb_raw(&packed, le, w);
        }
        pb_msg(&t, (uint32_t)c->field, &packed);
    } else {
        /* Unpacked, one field per value, to cover that form too. */
        for (size_t k = 0; k < c->n; k++) pb_vfield(&t, (uint32_t)c->field, (uint64_t)c->ivals[k]);
    }
    if (t.oom) return graft_check_fail(msg, msglen, "out of memory");
    graft_onnx_model *m;
    const graft_onnx_tensor *x;
    if (graft_onnx_model_create(&m)) return graft_check_fail(msg, msglen, "out of memory");
    int st = GRAFT_CHECK_PASS;
    int err = graft_onnx_tensor_decode(m, t.p, t.len, &x);
    float f[16];
    int64_t iv[16];
    if (err) {
        st = graft_check_fail(msg, msglen, "%s: decode: %s", c->label, graft_last_error());
        goto done;
    }
    err = graft_onnx_tensor_to_float(x, f, c->n);
    if (c->want_f) {
        if (err) {
            st = graft_check_fail(msg, msglen, "%s: to_float: %s", c->label, graft_last_error());
            goto done;
        }
        for (size_t k = 0; k < c->n; k++)
            if (!same_float(f[k], c->want_f[k])) {
                st = graft_check_fail(msg, msglen, "%s element %zu: %.9g, expected %.9g", c->label, k,
                                f[k], c->want_f[k]);
                goto done;
            }
    } else if (err != GRAFT_EUNSUPPORTED || !strstr(graft_last_error(), c->label)) {
        st = graft_check_fail(msg, msglen, "%s: to_float %s \"%s\", expected GRAFT_EUNSUPPORTED",
                        c->label, graft_err_name(err), graft_last_error());
        goto done;
    }
    err = graft_onnx_tensor_to_int64(x, iv, c->n);
    if (err != c->int_err) {
        st = graft_check_fail(msg, msglen, "%s: to_int64 %s \"%s\", expected %s", c->label,
                        graft_err_name(err), graft_last_error(), graft_err_name(c->int_err));
        goto done;
    }
    for (size_t k = 0; !err && k < c->n; k++)
        if (iv[k] != c->want_i[k]) {
            st = graft_check_fail(msg, msglen, "%s element %zu: %lld, expected %lld", c->label, k,
                            (long long)iv[k], (long long)c->want_i[k]);
            goto done;
        }
    /* Wrong counts are the caller's mistake. */
    if (graft_onnx_tensor_to_float(x, f, c->n + 1) != GRAFT_EINVAL ||
        graft_onnx_tensor_to_int64(x, iv, c->n - 1) != GRAFT_EINVAL)
        st = graft_check_fail(msg, msglen, "%s: a wrong count was accepted", c->label);
done:
    graft_onnx_model_destroy(m);
    pb_free(&t);
    return st;
}

static int check_tensor_conversions(char *msg, size_t msglen) {
    const float inf = INFINITY, nan_ = NAN;
    /* FLOAT16: 1, -2, 2^-24 (smallest subnormal), largest subnormal, inf, nan, -0, 65504 */
    static const uint8_t h_raw[] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x03,
                                    0x00, 0x7c, 0x00, 0x7e, 0x00, 0x80, 0xff, 0x7b};
    const float h_f[] = {1, -2, 5.9604644775390625e-8f, 6.0975551605224609e-5f, inf, nan_, -0.0f,
                         65504};
    static const int64_t h_typed[] = {0x3c00, 0x3555};
    const float h_typed_f[] = {1, 0.333251953125f};
    static const uint8_t bf_raw[] = {0x80, 0x3f, 0x40, 0xc0};
    const float bf_f[] = {1, -3};
    const double d_vals[] = {0.1, 1e300, -2.5};
    const float d_f[] = {0.1f, inf, -2.5f};
    const double f_vals[] = {1.5, -0.0};
    const float f_f[] = {1.5f, -0.0f};
    static const uint8_t i8_raw[] = {0x80, 0x7f, 0xff};
    static const int64_t i8_i[] = {-128, 127, -1}, i8_typed[] = {-5, 100};
    const float i8_f[] = {-128, 127, -1}, i8_typed_f[] = {-5, 100};
    static const uint8_t u8_raw[] = {255, 0};
    static const int64_t u8_i[] = {255, 0}, u8_typed[] = {200};
    const float u8_f[] = {255, 0}, u8_typed_f[] = {200};
    static const uint8_t i16_raw[] = {0x00, 0x80, 0x2c, 0x01};
    static const int64_t i16_i[] = {-32768, 300}, i16_typed[] = {-300};
    const float i16_f[] = {-32768, 300}, i16_typed_f[] = {-300};
    static const uint8_t u16_raw[] = {0xff, 0xff};
    static const int64_t u16_i[] = {65535};
    const float u16_f[] = {65535};
    static const uint8_t i32_raw[] = {0, 0, 0, 0x80, 7, 0, 0, 0};
    static const int64_t i32_i[] = {INT32_MIN, 7}, i32_typed[] = {-7};
    const float i32_f[] = {-2147483648.0f, 7}, i32_typed_f[] = {-7};
    static const uint8_t u32_raw[] = {0xff, 0xff, 0xff, 0xff};
    static const int64_t u32_i[] = {4294967295ll}, u32_typed[] = {4000000000ll};
    const float u32_f[] = {4294967295.0f}, u32_typed_f[] = {4000000000.0f};
    static const uint8_t i64_raw[] = {0, 0, 0, 0, 0, 0xff, 0xff, 0xff};
    static const int64_t i64_i[] = {-((int64_t)1 << 40)}, i64_typed[] = {-((int64_t)1 << 40), 5};
    const float i64_f[] = {-1099511627776.0f}, i64_typed_f[] = {-1099511627776.0f, 5};
    static const uint8_t u64_raw[] = {0, 0, 0, 0, 0, 0, 0, 0x80};
    const float u64_f[] = {9223372036854775808.0f};
    static const int64_t u64_typed[] = {7};
    const float u64_typed_f[] = {7};
    static const uint8_t b_raw[] = {0, 1, 2};
    static const int64_t b_i[] = {0, 1, 1}, b_typed[] = {1, 0};
    const float b_f[] = {0, 1, 1}, b_typed_f[] = {1, 0};
    const double c64_vals[] = {1, 2, 3, 4};

    const conv_case cases[] = {
        {"f16_raw", GRAFT_ONNX_DTYPE_FLOAT16, 8, h_raw, 16, 0, 0, 0, h_f, 0, GRAFT_EUNSUPPORTED},
        {"f16_int32_data", GRAFT_ONNX_DTYPE_FLOAT16, 2, 0, 0, 5, h_typed, 0, h_typed_f, 0,
         GRAFT_EUNSUPPORTED},
        {"bf16_raw", GRAFT_ONNX_DTYPE_BFLOAT16, 2, bf_raw, 4, 0, 0, 0, bf_f, 0,
         GRAFT_EUNSUPPORTED},
        {"f64_double_data", GRAFT_ONNX_DTYPE_DOUBLE, 3, 0, 0, 10, 0, d_vals, d_f, 0,
         GRAFT_EUNSUPPORTED},
        {"f32_float_data", GRAFT_ONNX_DTYPE_FLOAT, 2, 0, 0, 4, 0, f_vals, f_f, 0,
         GRAFT_EUNSUPPORTED},
        {"i8_raw", GRAFT_ONNX_DTYPE_INT8, 3, i8_raw, 3, 0, 0, 0, i8_f, i8_i, GRAFT_OK},
        {"i8_int32_data", GRAFT_ONNX_DTYPE_INT8, 2, 0, 0, 5, i8_typed, 0, i8_typed_f, i8_typed,
         GRAFT_OK},
        {"u8_raw", GRAFT_ONNX_DTYPE_UINT8, 2, u8_raw, 2, 0, 0, 0, u8_f, u8_i, GRAFT_OK},
        {"u8_int32_data", GRAFT_ONNX_DTYPE_UINT8, 1, 0, 0, 5, u8_typed, 0, u8_typed_f, u8_typed,
         GRAFT_OK},
        {"i16_raw", GRAFT_ONNX_DTYPE_INT16, 2, i16_raw, 4, 0, 0, 0, i16_f, i16_i, GRAFT_OK},
        {"i16_int32_data", GRAFT_ONNX_DTYPE_INT16, 1, 0, 0, 5, i16_typed, 0, i16_typed_f,
         i16_typed, GRAFT_OK},
        {"u16_raw", GRAFT_ONNX_DTYPE_UINT16, 1, u16_raw, 2, 0, 0, 0, u16_f, u16_i, GRAFT_OK},
        {"i32_raw", GRAFT_ONNX_DTYPE_INT32, 2, i32_raw, 8, 0, 0, 0, i32_f, i32_i, GRAFT_OK},
        {"i32_int32_data", GRAFT_ONNX_DTYPE_INT32, 1, 0, 0, 5, i32_typed, 0, i32_typed_f,
         i32_typed, GRAFT_OK},
        {"u32_raw", GRAFT_ONNX_DTYPE_UINT32, 1, u32_raw, 4, 0, 0, 0, u32_f, u32_i, GRAFT_OK},
        {"u32_uint64_data", GRAFT_ONNX_DTYPE_UINT32, 1, 0, 0, 11, u32_typed, 0, u32_typed_f,
         u32_typed, GRAFT_OK},
        {"i64_raw", GRAFT_ONNX_DTYPE_INT64, 1, i64_raw, 8, 0, 0, 0, i64_f, i64_i, GRAFT_OK},
        {"i64_int64_data", GRAFT_ONNX_DTYPE_INT64, 2, 0, 0, 7, i64_typed, 0, i64_typed_f,
         i64_typed, GRAFT_OK},
        {"u64_raw_above_int64_max", GRAFT_ONNX_DTYPE_UINT64, 1, u64_raw, 8, 0, 0, 0, u64_f, 0,
         GRAFT_ERANGE},
        {"u64_uint64_data", GRAFT_ONNX_DTYPE_UINT64, 1, 0, 0, 11, u64_typed, 0, u64_typed_f,
         u64_typed, GRAFT_OK},
        {"bool_raw", GRAFT_ONNX_DTYPE_BOOL, 3, b_raw, 3, 0, 0, 0, b_f, b_i, GRAFT_OK},
        {"bool_int32_data", GRAFT_ONNX_DTYPE_BOOL, 2, 0, 0, 5, b_typed, 0, b_typed_f, b_typed,
         GRAFT_OK},
        {"complex64", GRAFT_ONNX_DTYPE_COMPLEX64, 2, 0, 0, 4, 0, c64_vals, NULL, 0,
         GRAFT_EUNSUPPORTED},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int st = run_conv_case(&cases[k], msg, msglen);
        if (st != GRAFT_CHECK_PASS) return st;
    }

    /* Strings convert to neither; NULL arguments are refused. */
    pbuf t;
    const int64_t two[] = {2};
    tensor_head(&t, two, 1, GRAFT_ONNX_DTYPE_STRING, "strs");
    pb_str(&t, 6, "a");
    pb_bytes(&t, 6, "b\0c", 3);
    if (t.oom) return graft_check_fail(msg, msglen, "out of memory");
    graft_onnx_model *m;
    const graft_onnx_tensor *x;
    if (graft_onnx_model_create(&m)) return graft_check_fail(msg, msglen, "out of memory");
    int err = graft_onnx_tensor_decode(m, t.p, t.len, &x);
    float f[2];
    int64_t iv[2];
    int fe = err ? err : graft_onnx_tensor_to_float(x, f, 2);
    int ie = err ? err : graft_onnx_tensor_to_int64(x, iv, 2);
    int strings_ok = !err && x->string_count == 2 && x->string_data[1].len == 3 &&
                     memcmp(x->string_data[1].data, "b\0c", 4) == 0;
    graft_onnx_model_destroy(m);
    pb_free(&t);
    if (!strings_ok || fe != GRAFT_EUNSUPPORTED || ie != GRAFT_EUNSUPPORTED)
        return graft_check_fail(msg, msglen, "STRING tensor: decode %d strings %d to_float %d "
                          "to_int64 %d", err, strings_ok, fe, ie);
    EXPECT_ERR(graft_onnx_tensor_to_float(NULL, f, 1), GRAFT_EINVAL, NULL, "to_float(NULL)");
    EXPECT_ERR(graft_onnx_tensor_to_int64(NULL, iv, 1), GRAFT_EINVAL, NULL, "to_int64(NULL)");
    if (strcmp(graft_onnx_dtype_name(GRAFT_ONNX_DTYPE_BFLOAT16), "BFLOAT16") != 0 ||
        strcmp(graft_onnx_dtype_name(99), "?") != 0 || graft_onnx_dtype_size(7) != 8 ||
        graft_onnx_dtype_size(8) != 0)
        return graft_check_fail(msg, msglen, "dtype names or sizes");
    return GRAFT_CHECK_PASS;
}

/* ---- files ----------------------------------------------------------------------------- */

static int check_file_loaders(char *msg, size_t msglen) {
    pbuf b, tb;
    char model_path[256], tensor_path[256], cut_path[256], empty_path[256];
    if (make_model(&b)) return graft_check_fail(msg, msglen, "out of memory");
    if (make_tensor(&tb)) {
        pb_free(&b);
        return graft_check_fail(msg, msglen, "out of memory");
    }
    int w = graft_check_write_temp(b.p, b.len, model_path, sizeof model_path) | graft_check_write_temp(tb.p, tb.len, tensor_path, sizeof tensor_path) |
            graft_check_write_temp(b.p, b.len - 3, cut_path, sizeof cut_path) | graft_check_write_temp("", 0, empty_path, sizeof empty_path);
    pb_free(&b);
    pb_free(&tb);
    if (w) return graft_check_fail(msg, msglen, "cannot write temporary files: %s", strerror(errno));

    int st = GRAFT_CHECK_PASS;
    graft_onnx_model *m = NULL;
    int err = graft_onnx_model_load(model_path, &m);
    if (err || !m->graph || m->graph->node_count != 2 ||
        strcmp(m->graph->nodes[1].op_type, "Relu") != 0) {
        st = graft_check_fail(msg, msglen, "model load: %s \"%s\"", graft_err_name(err),
                        graft_last_error());
        goto done;
    }
    /* Tensors loaded into the model live as long as it does. */
    const graft_onnx_tensor *t;
    err = graft_onnx_tensor_load(m, tensor_path, &t);
    float f[60];
    if (err || t->numel != 60 || strcmp(t->name, "x") != 0 ||
        graft_onnx_tensor_to_float(t, f, 60) || f[0] != -7.0f || f[59] != 7.75f) {
        st = graft_check_fail(msg, msglen, "tensor load: %s \"%s\"", graft_err_name(err),
                        graft_last_error());
        goto done;
    }
    /* A model file is not a tensor: refused, with the path in the message. */
    err = graft_onnx_tensor_load(m, model_path, &t);
    if (err != GRAFT_ECORRUPT || !strstr(graft_last_error(), model_path)) {
        st = graft_check_fail(msg, msglen, "model as tensor: %s \"%s\"", graft_err_name(err),
                        graft_last_error());
        goto done;
    }

    graft_onnx_model *bad = NULL;
    static const struct {
        int which;
        int want;
        const char *needle;
    } cases[] = {
        {0, GRAFT_ECORRUPT, "past end"},    /* truncated */
        {1, GRAFT_ECORRUPT, "empty file"},  /* empty */
        {2, GRAFT_EIO, "No such file"},     /* missing */
        {3, GRAFT_EIO, "not a regular file"}, /* a directory */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *path = cases[k].which == 0   ? cut_path
                           : cases[k].which == 1 ? empty_path
                           : cases[k].which == 2 ? "/nonexistent/graft/model.onnx"
                                                 : "/";
        err = graft_onnx_model_load(path, &bad);
        if (err != cases[k].want || bad || !strstr(graft_last_error(), path) ||
            !strstr(graft_last_error(), cases[k].needle)) {
            st = graft_check_fail(msg, msglen, "load %s: %s \"%s\", expected %s with \"%s\"", path,
                            graft_err_name(err), graft_last_error(),
                            graft_err_name(cases[k].want), cases[k].needle);
            goto done;
        }
    }
    err = graft_onnx_tensor_load(m, "/nonexistent/graft/input_0.pb", &t);
    if (err != GRAFT_EIO) {
        st = graft_check_fail(msg, msglen, "missing tensor file: %s", graft_err_name(err));
        goto done;
    }
    if (graft_onnx_model_load(NULL, &bad) != GRAFT_EINVAL ||
        graft_onnx_tensor_load(NULL, tensor_path, &t) != GRAFT_EINVAL)
        st = graft_check_fail(msg, msglen, "NULL arguments accepted");
done:
    graft_onnx_model_destroy(m);
    unlink(model_path);
    unlink(tensor_path);
    unlink(cut_path);
    unlink(empty_path);
    return st;
}

const graft_check graft_checks_protobuf[] = {
    {"protobuf", "varint_limits", check_varint_limits},
    {"protobuf", "reader_fields", check_reader_fields},
    {"protobuf", "packed_fields", check_packed_fields},
    {"protobuf", "hand_made_model", check_hand_made_model},
    {"protobuf", "truncated_every_offset", check_truncated_every_offset},
    {"protobuf", "malformed_models", check_malformed_models},
    {"protobuf", "deep_nesting", check_deep_nesting},
    {"protobuf", "random_and_mutated_bytes", check_random_and_mutated_bytes},
    {"protobuf", "absurd_dims", check_absurd_dims},
    {"protobuf", "tensor_data_consistency", check_tensor_data_consistency},
    {"protobuf", "tensor_conversions", check_tensor_conversions},
    {"protobuf", "file_loaders", check_file_loaders},
    {NULL, NULL, NULL},
};
