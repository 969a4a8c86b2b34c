/*
 * pipeline/model/onnx_proto.c: the ONNX message decoder of onnx_proto.h, on the wire reader of
 * protobuf.c. Field numbers are onnx.proto's (checked against the files of Debian's
 * libonnx-testdata).
 *
 * Each message is decoded in two passes over its fields: the first validates every field's
 * wire type and counts the repeated ones without descending into nested messages, the second
 * allocates exact arrays in the arena and fills them, decoding nested messages (which do the
 * same). So nothing grows or reallocates, the work is linear in the input, and nested
 * messages are only walked after their container was found sound. Depth is bounded by
 * GRAFT_ONNX_MAX_DEPTH (subgraphs in attributes and sequence types recurse). Unknown fields
 * are skipped; a known field with the wrong wire type is corrupt.
 *
 * It does not merge repeated occurrences of a singular message field (protobuf would; ONNX
 * writers never emit them): the last one wins, as for scalars.
 */
#include "onnx_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels.h"
#include "protobuf.h"

/* ---- the arena ------------------------------------------------------------------------- */

#define ARENA_CHUNK_BYTES ((size_t)64 << 10)
#define ARENA_ALIGN ((size_t)16)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char mem[];
} arena_chunk;

/* A file mapping (or, for a file mmap refuses, a malloc'd copy) kept for the model's life. */
typedef struct retained_file {
    struct retained_file *next;
    void *addr;
    size_t len;
    int mapped;
} retained_file;

struct graft__onnx_store {
    arena_chunk *chunks;
    retained_file *files;
};

/* Zeroed, 16-byte aligned memory that lives until the model is destroyed; NULL when out. */
static void *arena_alloc(struct graft__onnx_store *s, size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes > SIZE_MAX - ARENA_CHUNK_BYTES) return NULL;
    bytes = (bytes + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    arena_chunk *c = s->chunks;
    if (!c || c->size - c->used < bytes) {
        size_t size = bytes > ARENA_CHUNK_BYTES / 4 ? bytes : ARENA_CHUNK_BYTES;
        arena_chunk *fresh = malloc(sizeof *fresh + size);
        if (!fresh) return NULL;
        fresh->size = size;
        fresh->used = 0;
        /* A big block gets a chunk of its own behind the current one, which stays open. */
        if (c && size != ARENA_CHUNK_BYTES) {
            fresh->next = c->next;
            c->next = fresh;
        } else {
            fresh->next = c;
            s->chunks = fresh;
        }
        c = fresh;
    }
    void *p = c->mem + c->used;
    c->used += bytes;
    memset(p, 0, bytes);
    return p;
}

/* An array of n elements of `size` bytes, or NULL (n == 0 gives a valid empty array). */
static void *arena_array(struct graft__onnx_store *s, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    return arena_alloc(s, n * size);
}

/* ---- decoding context and error helpers ------------------------------------------------ */

typedef struct dec {
    struct graft__onnx_store *store;
} dec;

static int oom(const char *what) {
    return graft__fail(GRAFT_ENOMEM, "%s: out of memory while decoding", what);
}

static int wrong_wire(const graft_pb_reader *r, const graft_pb_field *f, const char *field,
                      graft_pb_wire want) {
    return graft__fail(GRAFT_ECORRUPT, "%s field %u (%s): wire type %s, expected %s at offset %zu",
                       r->what, f->number, field, graft_pb_wire_name(f->wire),
                       graft_pb_wire_name(want), f->offset);
}

/* Checks a singular field's wire type. */
#define WANT(r, f, field, want)                                        \
    do {                                                               \
        if ((f)->wire != (want)) return wrong_wire(r, f, field, want); \
    } while (0)

static int too_deep(const graft_pb_reader *r, int depth) {
    if (depth <= GRAFT_ONNX_MAX_DEPTH) return GRAFT_OK;
    return graft__fail(GRAFT_ECORRUPT, "%s: messages nested deeper than %d levels at offset %zu",
                       r->what, GRAFT_ONNX_MAX_DEPTH, r->pos);
}

/* A name: copied NUL-terminated into the arena; an embedded NUL would silently cut it. */
static int read_name(dec *d, const graft_pb_reader *r, const graft_pb_field *f, const char *field,
                     const char **out) {
    WANT(r, f, field, GRAFT_PB_WIRE_LEN);
    if (memchr(f->data, 0, f->len))
        return graft__fail(GRAFT_ECORRUPT, "%s field %u (%s): string with a NUL byte at offset "
                           "%zu", r->what, f->number, field, f->data_offset);
    char *s = arena_alloc(d->store, f->len + 1);
    if (!s) return oom(r->what);
    memcpy(s, f->data, f->len);
    *out = s;
    return GRAFT_OK;
}

static int read_bytes(dec *d, const graft_pb_reader *r, const graft_pb_field *f, const char *field,
                      graft_onnx_bytes *out) {
    WANT(r, f, field, GRAFT_PB_WIRE_LEN);
    char *s = arena_alloc(d->store, f->len + 1);
    if (!s) return oom(r->what);
    memcpy(s, f->data, f->len);
    out->data = s;
    out->len = f->len;
    return GRAFT_OK;
}

/* Adds the number of values repeated scalar field f holds to *n (validating it). */
static int count_repeated(const graft_pb_reader *r, const graft_pb_field *f, graft_pb_wire elem,
                          size_t *n) {
    graft_pb_repeated it;
    size_t c;
    int err = graft_pb_repeated_begin(r, f, elem, &it, &c);
    if (err) return err;
    *n += c;
    return GRAFT_OK;
}

/* How the values of a repeated scalar field are stored in its array. */
typedef enum rep_kind { REP_F32, REP_F64, REP_I32, REP_I64, REP_U64 } rep_kind;

/* Appends f's values to dst at *at; the first pass counted them, so they fit. */
static int fill_repeated(const graft_pb_reader *r, const graft_pb_field *f, rep_kind kind,
                         void *dst, size_t *at, size_t cap) {
    graft_pb_wire elem = kind == REP_F32   ? GRAFT_PB_WIRE_I32
                         : kind == REP_F64 ? GRAFT_PB_WIRE_I64
                                           : GRAFT_PB_WIRE_VARINT;
    graft_pb_repeated it;
    size_t c;
    int err = graft_pb_repeated_begin(r, f, elem, &it, &c);
    if (err) return err;
    uint64_t v;
    while (graft_pb_repeated_next(&it, &v)) {
        if (*at >= cap) break; /* cannot happen: same bytes as the count */
        switch (kind) {
        case REP_F32: {
            uint32_t bits = (uint32_t)v;
            memcpy((float *)dst + *at, &bits, 4);
            break;
        }
        case REP_F64: memcpy((double *)dst + *at, &v, 8); break;
        /* int32 fields are sign-extended to 64 bits on the wire; protobuf truncates them. */
        case REP_I32: ((int32_t *)dst)[*at] = (int32_t)(uint32_t)v; break;
        case REP_I64: ((int64_t *)dst)[*at] = (int64_t)v; break;
        case REP_U64: ((uint64_t *)dst)[*at] = v; break;
        }
        (*at)++;
    }
    return GRAFT_OK;
}

/* ---- data types ------------------------------------------------------------------------ */

const char *graft_onnx_dtype_name(int dtype) {
    static const char *const names[] = {
        "UNDEFINED", "FLOAT",  "UINT8",  "INT8",   "UINT16",    "INT16",      "INT32",
        "INT64",     "STRING", "BOOL",   "FLOAT16", "DOUBLE",   "UINT32",     "UINT64",
        "COMPLEX64", "COMPLEX128", "BFLOAT16",
    };
    if (dtype < 0 || dtype >= (int)(sizeof names / sizeof names[0])) return "?";
    return names[dtype];
}

size_t graft_onnx_dtype_size(int dtype) {
    switch (dtype) {
    case GRAFT_ONNX_DTYPE_UINT8:
    case GRAFT_ONNX_DTYPE_INT8:
    case GRAFT_ONNX_DTYPE_BOOL: return 1;
    case GRAFT_ONNX_DTYPE_UINT16:
    case GRAFT_ONNX_DTYPE_INT16:
    case GRAFT_ONNX_DTYPE_FLOAT16:
    case GRAFT_ONNX_DTYPE_BFLOAT16: return 2;
    case GRAFT_ONNX_DTYPE_FLOAT:
    case GRAFT_ONNX_DTYPE_INT32:
    case GRAFT_ONNX_DTYPE_UINT32: return 4;
    case GRAFT_ONNX_DTYPE_INT64:
    case GRAFT_ONNX_DTYPE_UINT64:
    case GRAFT_ONNX_DTYPE_DOUBLE:
    case GRAFT_ONNX_DTYPE_COMPLEX64: return 8;
    case GRAFT_ONNX_DTYPE_COMPLEX128: return 16;
    default: return 0;
    }
}

/* ---- TensorProto ----------------------------------------------------------------------- */

enum {
    TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_FLOAT_DATA = 4, TENSOR_INT32_DATA = 5,
    TENSOR_STRING_DATA = 6, TENSOR_INT64_DATA = 7, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9,
    TENSOR_DOUBLE_DATA = 10, TENSOR_UINT64_DATA = 11, TENSOR_EXTERNAL_DATA = 13,
    TENSOR_DATA_LOCATION = 14,
};
#define DATA_LOCATION_EXTERNAL 1

/* StringStringEntryProto: returns the value when the key is `key`, else leaves *value. */
static int decode_entry(dec *d, graft_pb_reader r, const char *key, const char **value) {
    graft_pb_field f;
    const char *k = "", *v = "";
    int got;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        int err = GRAFT_OK;
        if (f.number == 1) err = read_name(d, &r, &f, "key", &k);
        if (f.number == 2) err = read_name(d, &r, &f, "value", &v);
        if (err) return err;
    }
    if (got < 0) return got;
    if (strcmp(k, key) == 0) *value = v;
    return GRAFT_OK;
}

/* The field that holds the elements of `dtype` when raw_data is not used. */
static int typed_field_of(int dtype) {
    switch (dtype) {
    case GRAFT_ONNX_DTYPE_FLOAT:
    case GRAFT_ONNX_DTYPE_COMPLEX64: return TENSOR_FLOAT_DATA;
    case GRAFT_ONNX_DTYPE_DOUBLE:
    case GRAFT_ONNX_DTYPE_COMPLEX128: return TENSOR_DOUBLE_DATA;
    case GRAFT_ONNX_DTYPE_INT64: return TENSOR_INT64_DATA;
    case GRAFT_ONNX_DTYPE_UINT32:
    case GRAFT_ONNX_DTYPE_UINT64: return TENSOR_UINT64_DATA;
    case GRAFT_ONNX_DTYPE_STRING: return TENSOR_STRING_DATA;
    case GRAFT_ONNX_DTYPE_INT32:
    case GRAFT_ONNX_DTYPE_INT16:
    case GRAFT_ONNX_DTYPE_INT8:
    case GRAFT_ONNX_DTYPE_UINT16:
    case GRAFT_ONNX_DTYPE_UINT8:
    case GRAFT_ONNX_DTYPE_BOOL:
    case GRAFT_ONNX_DTYPE_FLOAT16:
    case GRAFT_ONNX_DTYPE_BFLOAT16: return TENSOR_INT32_DATA;
    default: return 0;
    }
}

static const char *typed_field_name(int number) {
    switch (number) {
    case TENSOR_FLOAT_DATA: return "float_data";
    case TENSOR_INT32_DATA: return "int32_data";
    case TENSOR_STRING_DATA: return "string_data";
    case TENSOR_INT64_DATA: return "int64_data";
    case TENSOR_DOUBLE_DATA: return "double_data";
    case TENSOR_UINT64_DATA: return "uint64_data";
    default: return "?";
    }
}

/* Checks dims and computes numel, then checks the data holds exactly numel elements. */
static int tensor_check(const graft_pb_reader *r, graft_onnx_tensor *t, int has_raw,
                        size_t start) {
    const char *what = r->what;
    size_t numel = 1;
    for (size_t k = 0; k < t->rank; k++) {
        int64_t dim = t->dims[k];
        if (dim < 0)
            return graft__fail(GRAFT_ERANGE, "%s \"%s\" at offset %zu: negative dim %lld",
                               what, t->name, start, (long long)dim);
        if (dim != 0 && numel > GRAFT_ONNX_MAX_ELEMENTS / (uint64_t)dim)
            return graft__fail(GRAFT_ERANGE, "%s \"%s\" at offset %zu: dims product exceeds "
                               "2^31 elements", what, t->name, start);
        numel *= (size_t)dim;
    }
    t->numel = numel;
    if (t->data_type == GRAFT_ONNX_DTYPE_UNDEFINED)
        return graft__fail(GRAFT_ECORRUPT, "%s \"%s\" at offset %zu: no data_type", what, t->name,
                           start);
    if (t->external) return GRAFT_OK;

    int typed = typed_field_of(t->data_type);
    if (!typed) return GRAFT_OK; /* a data type newer than this decoder: leave it unchecked */
    size_t want = numel;
    if (t->data_type == GRAFT_ONNX_DTYPE_COMPLEX64 || t->data_type == GRAFT_ONNX_DTYPE_COMPLEX128)
        want *= 2;
    const struct {
        int number;
        size_t count;
    } fields[] = {
        {TENSOR_FLOAT_DATA, t->float_count},   {TENSOR_INT32_DATA, t->int32_count},
        {TENSOR_STRING_DATA, t->string_count}, {TENSOR_INT64_DATA, t->int64_count},
        {TENSOR_DOUBLE_DATA, t->double_count}, {TENSOR_UINT64_DATA, t->uint64_count},
    };
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        if (!fields[k].count) continue;
        if (has_raw || fields[k].number != typed)
            return graft__fail(GRAFT_ECORRUPT, "%s \"%s\" at offset %zu: %s data in %s%s", what,
                               t->name, start, graft_onnx_dtype_name(t->data_type),
                               typed_field_name(fields[k].number),
                               has_raw ? " as well as raw_data" : "");
        if (fields[k].count != want)
            return graft__fail(GRAFT_ECORRUPT, "%s \"%s\" at offset %zu: %zu values in %s for "
                               "%zu %s elements (%zu expected)", what, t->name, start,
                               fields[k].count, typed_field_name(fields[k].number), numel,
                               graft_onnx_dtype_name(t->data_type), want);
        return GRAFT_OK;
    }
    if (has_raw) {
        size_t size = graft_onnx_dtype_size(t->data_type);
        if (size == 0)
            return graft__fail(GRAFT_ECORRUPT, "%s \"%s\" at offset %zu: %s data in raw_data",
                               what, t->name, start, graft_onnx_dtype_name(t->data_type));
        if (t->raw_len != numel * size)
            return graft__fail(GRAFT_ECORRUPT, "%s \"%s\" at offset %zu: raw_data of %zu bytes "
                               "for %zu %s elements", what, t->name, start, t->raw_len, numel,
                               graft_onnx_dtype_name(t->data_type));
        return GRAFT_OK;
    }
    if (numel)
        return graft__fail(GRAFT_ECORRUPT, "%s \"%s\" at offset %zu: %zu elements but no data",
                           what, t->name, start, numel);
    return GRAFT_OK;
}

static int decode_tensor(dec *d, graft_pb_reader r, int depth, graft_onnx_tensor *t) {
    int err = too_deep(&r, depth);
    if (err) return err;
    const graft_pb_reader start = r;
    graft_pb_field f;
    size_t n_dims = 0, n_f32 = 0, n_i32 = 0, n_str = 0, n_i64 = 0, n_f64 = 0, n_u64 = 0;
    int got;

    while ((got = graft_pb_next(&r, &f)) > 0) {
        switch (f.number) {
        case TENSOR_DIMS: err = count_repeated(&r, &f, GRAFT_PB_WIRE_VARINT, &n_dims); break;
        case TENSOR_FLOAT_DATA: err = count_repeated(&r, &f, GRAFT_PB_WIRE_I32, &n_f32); break;
        case TENSOR_INT32_DATA: err = count_repeated(&r, &f, GRAFT_PB_WIRE_VARINT, &n_i32); break;
        case TENSOR_INT64_DATA: err = count_repeated(&r, &f, GRAFT_PB_WIRE_VARINT, &n_i64); break;
        case TENSOR_DOUBLE_DATA: err = count_repeated(&r, &f, GRAFT_PB_WIRE_I64, &n_f64); break;
        case TENSOR_UINT64_DATA: err = count_repeated(&r, &f, GRAFT_PB_WIRE_VARINT, &n_u64); break;
        case TENSOR_STRING_DATA:
            WANT(&r, &f, "string_data", GRAFT_PB_WIRE_LEN);
            n_str++;
            break;
        case TENSOR_DATA_TYPE: WANT(&r, &f, "data_type", GRAFT_PB_WIRE_VARINT); break;
        case TENSOR_DATA_LOCATION: WANT(&r, &f, "data_location", GRAFT_PB_WIRE_VARINT); break;
        case TENSOR_NAME: WANT(&r, &f, "name", GRAFT_PB_WIRE_LEN); break;
        case TENSOR_RAW_DATA: WANT(&r, &f, "raw_data", GRAFT_PB_WIRE_LEN); break;
        case TENSOR_EXTERNAL_DATA: WANT(&r, &f, "external_data", GRAFT_PB_WIRE_LEN); break;
        default: break;
        }
        if (err) return err;
    }
    if (got < 0) return got;

    int64_t *dims = arena_array(d->store, n_dims, sizeof *dims);
    float *f32 = arena_array(d->store, n_f32, sizeof *f32);
    int32_t *i32 = arena_array(d->store, n_i32, sizeof *i32);
    int64_t *i64 = arena_array(d->store, n_i64, sizeof *i64);
    double *f64 = arena_array(d->store, n_f64, sizeof *f64);
    uint64_t *u64 = arena_array(d->store, n_u64, sizeof *u64);
    graft_onnx_bytes *str = arena_array(d->store, n_str, sizeof *str);
    if (!dims || !f32 || !i32 || !i64 || !f64 || !u64 || !str) return oom(r.what);

    memset(t, 0, sizeof *t);
    t->name = "";
    t->external_location = "";
    t->external_offset = "";
    t->external_length = "";
    size_t a_dims = 0, a_f32 = 0, a_i32 = 0, a_i64 = 0, a_f64 = 0, a_u64 = 0, a_str = 0;
    int has_raw = 0;
    r = start;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        switch (f.number) {
        case TENSOR_DIMS: err = fill_repeated(&r, &f, REP_I64, dims, &a_dims, n_dims); break;
        case TENSOR_FLOAT_DATA: err = fill_repeated(&r, &f, REP_F32, f32, &a_f32, n_f32); break;
        case TENSOR_INT32_DATA: err = fill_repeated(&r, &f, REP_I32, i32, &a_i32, n_i32); break;
        case TENSOR_INT64_DATA: err = fill_repeated(&r, &f, REP_I64, i64, &a_i64, n_i64); break;
        case TENSOR_DOUBLE_DATA: err = fill_repeated(&r, &f, REP_F64, f64, &a_f64, n_f64); break;
        case TENSOR_UINT64_DATA: err = fill_repeated(&r, &f, REP_U64, u64, &a_u64, n_u64); break;
        case TENSOR_STRING_DATA: err = read_bytes(d, &r, &f, "string_data", &str[a_str++]); break;
        case TENSOR_DATA_TYPE: t->data_type = (int32_t)(uint32_t)f.u; break;
        case TENSOR_DATA_LOCATION: t->external = f.u == DATA_LOCATION_EXTERNAL; break;
        case TENSOR_NAME: err = read_name(d, &r, &f, "name", &t->name); break;
        case TENSOR_RAW_DATA:
            t->raw = f.data;
            t->raw_len = f.len;
            has_raw = 1;
            break;
        case TENSOR_EXTERNAL_DATA: {
            graft_pb_reader sub;
            graft_pb_reader_sub(&sub, &r, &f, "onnx: StringStringEntryProto");
            err = decode_entry(d, sub, "location", &t->external_location);
            if (!err) err = decode_entry(d, sub, "offset", &t->external_offset);
            if (!err) err = decode_entry(d, sub, "length", &t->external_length);
            break;
        }
        default: break;
        }
        if (err) return err;
    }
    if (got < 0) return got;
    t->dims = dims, t->rank = n_dims;
    t->float_data = f32, t->float_count = n_f32;
    t->int32_data = i32, t->int32_count = n_i32;
    t->int64_data = i64, t->int64_count = n_i64;
    t->double_data = f64, t->double_count = n_f64;
    t->uint64_data = u64, t->uint64_count = n_u64;
    t->string_data = str, t->string_count = n_str;
    return tensor_check(&start, t, has_raw, start.pos);
}

/* ---- TypeProto and ValueInfoProto ------------------------------------------------------ */

static int decode_type(dec *d, graft_pb_reader r, int depth, graft_onnx_type *out);

/* TensorShapeProto.Dimension: dim_value = 1, dim_param = 2. */
static int decode_dim(dec *d, graft_pb_reader r, graft_onnx_dim *dim) {
    graft_pb_field f;
    int got, err = GRAFT_OK;
    dim->param = "";
    while ((got = graft_pb_next(&r, &f)) > 0) {
        if (f.number == 1) {
            WANT(&r, &f, "dim_value", GRAFT_PB_WIRE_VARINT);
            dim->has_value = 1;
            dim->value = (int64_t)f.u;
        } else if (f.number == 2) {
            err = read_name(d, &r, &f, "dim_param", &dim->param);
        }
        if (err) return err;
    }
    return got < 0 ? got : GRAFT_OK;
}

/* TypeProto.Tensor and TypeProto.SparseTensor: elem_type = 1, shape = 2 (dim = 1). */
static int decode_tensor_type(dec *d, graft_pb_reader r, graft_onnx_type *out) {
    graft_pb_field f;
    int got, err = GRAFT_OK;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        if (f.number == 1) {
            WANT(&r, &f, "elem_type", GRAFT_PB_WIRE_VARINT);
            out->elem_type = (int32_t)(uint32_t)f.u;
        } else if (f.number == 2) {
            WANT(&r, &f, "shape", GRAFT_PB_WIRE_LEN);
            graft_pb_reader shape, pass;
            graft_pb_reader_sub(&shape, &r, &f, "onnx: TensorShapeProto");
            size_t rank = 0;
            graft_pb_field g;
            pass = shape;
            while ((got = graft_pb_next(&pass, &g)) > 0) {
                if (g.number != 1) continue;
                WANT(&pass, &g, "dim", GRAFT_PB_WIRE_LEN);
                rank++;
            }
            if (got < 0) return got;
            graft_onnx_dim *dims = arena_array(d->store, rank, sizeof *dims);
            if (!dims) return oom(shape.what);
            size_t k = 0;
            pass = shape;
            while ((got = graft_pb_next(&pass, &g)) > 0 && k < rank) {
                if (g.number != 1) continue;
                graft_pb_reader dr;
                graft_pb_reader_sub(&dr, &pass, &g, "onnx: TensorShapeProto.Dimension");
                if ((err = decode_dim(d, dr, &dims[k++]))) return err;
            }
            if (got < 0) return got;
            out->has_shape = 1;
            out->dims = dims;
            out->rank = rank;
        }
        if (err) return err;
    }
    return got < 0 ? got : GRAFT_OK;
}

/* TypeProto.Sequence and .Optional (elem_type = 1), .Map (key_type = 1, value_type = 2). */
static int decode_container_type(dec *d, graft_pb_reader r, int depth, graft_onnx_type *out) {
    graft_pb_field f;
    int got, err = GRAFT_OK;
    int elem_field = out->kind == GRAFT_ONNX_TYPE_MAP ? 2 : 1;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        if (out->kind == GRAFT_ONNX_TYPE_MAP && f.number == 1) {
            WANT(&r, &f, "key_type", GRAFT_PB_WIRE_VARINT);
            out->key_type = (int32_t)(uint32_t)f.u;
        } else if (f.number == (uint32_t)elem_field) {
            WANT(&r, &f, "elem_type", GRAFT_PB_WIRE_LEN);
            graft_onnx_type *elem = arena_alloc(d->store, sizeof *elem);
            if (!elem) return oom(r.what);
            graft_pb_reader sub;
            graft_pb_reader_sub(&sub, &r, &f, "onnx: TypeProto");
            if ((err = decode_type(d, sub, depth + 1, elem))) return err;
            out->elem = elem;
        }
    }
    return got < 0 ? got : GRAFT_OK;
}

/* TypeProto: tensor_type = 1, sequence_type = 4, map_type = 5, sparse_tensor_type = 8,
 * optional_type = 9; opaque_type = 7 is recorded as OTHER. */
static int decode_type(dec *d, graft_pb_reader r, int depth, graft_onnx_type *out) {
    int err = too_deep(&r, depth);
    if (err) return err;
    graft_pb_field f;
    int got;
    memset(out, 0, sizeof *out);
    while ((got = graft_pb_next(&r, &f)) > 0) {
        graft_pb_reader sub;
        switch (f.number) {
        case 1:
        case 8:
            WANT(&r, &f, f.number == 1 ? "tensor_type" : "sparse_tensor_type",
                 GRAFT_PB_WIRE_LEN);
            memset(out, 0, sizeof *out);
            out->kind = f.number == 1 ? GRAFT_ONNX_TYPE_TENSOR : GRAFT_ONNX_TYPE_SPARSE_TENSOR;
            graft_pb_reader_sub(&sub, &r, &f, "onnx: TypeProto.Tensor");
            err = decode_tensor_type(d, sub, out);
            break;
        case 4:
        case 5:
        case 9:
            WANT(&r, &f, f.number == 4 ? "sequence_type" : f.number == 5 ? "map_type"
                                                                            : "optional_type",
                 GRAFT_PB_WIRE_LEN);
            memset(out, 0, sizeof *out);
            out->kind = f.number == 4   ? GRAFT_ONNX_TYPE_SEQUENCE
                        : f.number == 5 ? GRAFT_ONNX_TYPE_MAP
                                        : GRAFT_ONNX_TYPE_OPTIONAL;
            graft_pb_reader_sub(&sub, &r, &f,
                                f.number == 4   ? "onnx: TypeProto.Sequence"
                                : f.number == 5 ? "onnx: TypeProto.Map"
                                                : "onnx: TypeProto.Optional");
            err = decode_container_type(d, sub, depth + 1, out);
            break;
        case 7: /* opaque_type */
            memset(out, 0, sizeof *out);
            out->kind = GRAFT_ONNX_TYPE_OTHER;
            break;
        default: break; /* denotation = 6, and fields newer than this decoder */
        }
        if (err) return err;
    }
    return got < 0 ? got : GRAFT_OK;
}

/* ValueInfoProto: name = 1, type = 2. */
static int decode_value_info(dec *d, graft_pb_reader r, int depth, graft_onnx_value_info *vi) {
    int err = too_deep(&r, depth);
    if (err) return err;
    graft_pb_field f;
    int got;
    vi->name = "";
    while ((got = graft_pb_next(&r, &f)) > 0) {
        if (f.number == 1) {
            err = read_name(d, &r, &f, "name", &vi->name);
        } else if (f.number == 2) {
            WANT(&r, &f, "type", GRAFT_PB_WIRE_LEN);
            graft_pb_reader sub;
            graft_pb_reader_sub(&sub, &r, &f, "onnx: TypeProto");
            err = decode_type(d, sub, depth + 1, &vi->type);
        }
        if (err) return err;
    }
    return got < 0 ? got : GRAFT_OK;
}

/* ---- AttributeProto, NodeProto, GraphProto --------------------------------------------- */

static int decode_graph(dec *d, graft_pb_reader r, int depth, graft_onnx_graph *g);

enum {
    ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_T = 5, ATTR_G = 6, ATTR_FLOATS = 7,
    ATTR_INTS = 8, ATTR_STRINGS = 9, ATTR_TENSORS = 10, ATTR_GRAPHS = 11, ATTR_TP = 14,
    ATTR_TYPE_PROTOS = 15, ATTR_TYPE = 20, ATTR_REF_ATTR_NAME = 21, ATTR_SPARSE_TENSOR = 22,
    ATTR_SPARSE_TENSORS = 23,
};

static int decode_attr(dec *d, graft_pb_reader r, int depth, graft_onnx_attr *a) {
    int err = too_deep(&r, depth);
    if (err) return err;
    const graft_pb_reader start = r;
    graft_pb_field f;
    size_t n_floats = 0, n_ints = 0, n_strings = 0, n_tensors = 0, n_graphs = 0;
    /* Which value fields appear, to infer the type of files that predate the type field. */
    unsigned seen = 0;
    int got;

    while ((got = graft_pb_next(&r, &f)) > 0) {
        if (f.number < 32) seen |= 1u << f.number;
        switch (f.number) {
        case ATTR_NAME: WANT(&r, &f, "name", GRAFT_PB_WIRE_LEN); break;
        case ATTR_F: WANT(&r, &f, "f", GRAFT_PB_WIRE_I32); break;
        case ATTR_I: WANT(&r, &f, "i", GRAFT_PB_WIRE_VARINT); break;
        case ATTR_S: WANT(&r, &f, "s", GRAFT_PB_WIRE_LEN); break;
        case ATTR_T: WANT(&r, &f, "t", GRAFT_PB_WIRE_LEN); break;
        case ATTR_G: WANT(&r, &f, "g", GRAFT_PB_WIRE_LEN); break;
        case ATTR_TP: WANT(&r, &f, "tp", GRAFT_PB_WIRE_LEN); break;
        case ATTR_SPARSE_TENSOR: WANT(&r, &f, "sparse_tensor", GRAFT_PB_WIRE_LEN); break;
        case ATTR_TYPE: WANT(&r, &f, "type", GRAFT_PB_WIRE_VARINT); break;
        case ATTR_REF_ATTR_NAME: WANT(&r, &f, "ref_attr_name", GRAFT_PB_WIRE_LEN); break;
        case ATTR_FLOATS: err = count_repeated(&r, &f, GRAFT_PB_WIRE_I32, &n_floats); break;
        case ATTR_INTS: err = count_repeated(&r, &f, GRAFT_PB_WIRE_VARINT, &n_ints); break;
        case ATTR_STRINGS:
            WANT(&r, &f, "strings", GRAFT_PB_WIRE_LEN);
            n_strings++;
            break;
        case ATTR_TENSORS:
            WANT(&r, &f, "tensors", GRAFT_PB_WIRE_LEN);
            n_tensors++;
            break;
        case ATTR_GRAPHS:
            WANT(&r, &f, "graphs", GRAFT_PB_WIRE_LEN);
            n_graphs++;
            break;
        case ATTR_TYPE_PROTOS: WANT(&r, &f, "type_protos", GRAFT_PB_WIRE_LEN); break;
        case ATTR_SPARSE_TENSORS: WANT(&r, &f, "sparse_tensors", GRAFT_PB_WIRE_LEN); break;
        default: break;
        }
        if (err) return err;
    }
    if (got < 0) return got;

    float *floats = arena_array(d->store, n_floats, sizeof *floats);
    int64_t *ints = arena_array(d->store, n_ints, sizeof *ints);
    graft_onnx_bytes *strings = arena_array(d->store, n_strings, sizeof *strings);
    graft_onnx_tensor *tensors = arena_array(d->store, n_tensors, sizeof *tensors);
    graft_onnx_graph *graphs = arena_array(d->store, n_graphs, sizeof *graphs);
    if (!floats || !ints || !strings || !tensors || !graphs) return oom(r.what);

    memset(a, 0, sizeof *a);
    a->name = "";
    a->ref_attr_name = "";
    a->s.data = "";
    size_t a_floats = 0, a_ints = 0, a_strings = 0, a_tensors = 0, a_graphs = 0;
    r = start;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        graft_pb_reader sub;
        switch (f.number) {
        case ATTR_NAME: err = read_name(d, &r, &f, "name", &a->name); break;
        case ATTR_F: {
            uint32_t bits = (uint32_t)f.u;
            memcpy(&a->f, &bits, 4);
            break;
        }
        case ATTR_I: a->i = (int64_t)f.u; break;
        case ATTR_S: err = read_bytes(d, &r, &f, "s", &a->s); break;
        case ATTR_T: {
            graft_onnx_tensor *t = arena_alloc(d->store, sizeof *t);
            if (!t) return oom(r.what);
            graft_pb_reader_sub(&sub, &r, &f, "onnx: TensorProto");
            err = decode_tensor(d, sub, depth + 1, t);
            a->t = t;
            break;
        }
        case ATTR_G: {
            graft_onnx_graph *g = arena_alloc(d->store, sizeof *g);
            if (!g) return oom(r.what);
            graft_pb_reader_sub(&sub, &r, &f, "onnx: GraphProto");
            err = decode_graph(d, sub, depth + 1, g);
            a->g = g;
            break;
        }
        case ATTR_TYPE: a->type = (graft_onnx_attr_type)(int32_t)(uint32_t)f.u; break;
        case ATTR_REF_ATTR_NAME:
            err = read_name(d, &r, &f, "ref_attr_name", &a->ref_attr_name);
            break;
        case ATTR_FLOATS:
            err = fill_repeated(&r, &f, REP_F32, floats, &a_floats, n_floats);
            break;
        case ATTR_INTS: err = fill_repeated(&r, &f, REP_I64, ints, &a_ints, n_ints); break;
        case ATTR_STRINGS: err = read_bytes(d, &r, &f, "strings", &strings[a_strings++]); break;
        case ATTR_TENSORS:
            graft_pb_reader_sub(&sub, &r, &f, "onnx: TensorProto");
            err = decode_tensor(d, sub, depth + 1, &tensors[a_tensors++]);
            break;
        case ATTR_GRAPHS:
            graft_pb_reader_sub(&sub, &r, &f, "onnx: GraphProto");
            err = decode_graph(d, sub, depth + 1, &graphs[a_graphs++]);
            break;
        default: break;
        }
        if (err) return err;
    }
    if (got < 0) return got;
    a->floats = floats, a->float_count = n_floats;
    a->ints = ints, a->int_count = n_ints;
    a->strings = strings, a->string_count = n_strings;
    a->tensors = tensors, a->tensor_count = n_tensors;
    a->graphs = graphs, a->graph_count = n_graphs;

    if (a->type == GRAFT_ONNX_ATTR_UNDEFINED) {
        static const struct {
            int field;
            graft_onnx_attr_type type;
        } infer[] = {
            {ATTR_F, GRAFT_ONNX_ATTR_FLOAT},       {ATTR_I, GRAFT_ONNX_ATTR_INT},
            {ATTR_S, GRAFT_ONNX_ATTR_STRING},      {ATTR_T, GRAFT_ONNX_ATTR_TENSOR},
            {ATTR_G, GRAFT_ONNX_ATTR_GRAPH},       {ATTR_FLOATS, GRAFT_ONNX_ATTR_FLOATS},
            {ATTR_INTS, GRAFT_ONNX_ATTR_INTS},     {ATTR_STRINGS, GRAFT_ONNX_ATTR_STRINGS},
            {ATTR_TENSORS, GRAFT_ONNX_ATTR_TENSORS}, {ATTR_GRAPHS, GRAFT_ONNX_ATTR_GRAPHS},
            {ATTR_SPARSE_TENSOR, GRAFT_ONNX_ATTR_SPARSE_TENSOR},
            {ATTR_SPARSE_TENSORS, GRAFT_ONNX_ATTR_SPARSE_TENSORS},
            {ATTR_TP, GRAFT_ONNX_ATTR_TYPE_PROTO}, {ATTR_TYPE_PROTOS, GRAFT_ONNX_ATTR_TYPE_PROTOS},
        };
        for (size_t k = 0; k < sizeof infer / sizeof infer[0]; k++)
            if (seen & (1u << infer[k].field)) {
                a->type = infer[k].type;
                break;
            }
    }
    a->unsupported = a->type == GRAFT_ONNX_ATTR_SPARSE_TENSOR ||
                     a->type == GRAFT_ONNX_ATTR_SPARSE_TENSORS ||
                     a->type == GRAFT_ONNX_ATTR_TYPE_PROTO ||
                     a->type == GRAFT_ONNX_ATTR_TYPE_PROTOS;
    return GRAFT_OK;
}

enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
       NODE_DOMAIN = 7 };

static int decode_node(dec *d, graft_pb_reader r, int depth, graft_onnx_node *n) {
    int err = too_deep(&r, depth);
    if (err) return err;
    const graft_pb_reader start = r;
    graft_pb_field f;
    size_t n_in = 0, n_out = 0, n_attr = 0;
    int got;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        switch (f.number) {
        case NODE_INPUT: WANT(&r, &f, "input", GRAFT_PB_WIRE_LEN); n_in++; break;
        case NODE_OUTPUT: WANT(&r, &f, "output", GRAFT_PB_WIRE_LEN); n_out++; break;
        case NODE_NAME: WANT(&r, &f, "name", GRAFT_PB_WIRE_LEN); break;
        case NODE_OP_TYPE: WANT(&r, &f, "op_type", GRAFT_PB_WIRE_LEN); break;
        case NODE_ATTRIBUTE: WANT(&r, &f, "attribute", GRAFT_PB_WIRE_LEN); n_attr++; break;
        case NODE_DOMAIN: WANT(&r, &f, "domain", GRAFT_PB_WIRE_LEN); break;
        default: break;
        }
    }
    if (got < 0) return got;

    const char **in = arena_array(d->store, n_in, sizeof *in);
    const char **out = arena_array(d->store, n_out, sizeof *out);
    graft_onnx_attr *attrs = arena_array(d->store, n_attr, sizeof *attrs);
    if (!in || !out || !attrs) return oom(r.what);
    memset(n, 0, sizeof *n);
    n->name = n->op_type = n->domain = "";
    size_t a_in = 0, a_out = 0, a_attr = 0;
    r = start;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        switch (f.number) {
        case NODE_INPUT: err = read_name(d, &r, &f, "input", &in[a_in++]); break;
        case NODE_OUTPUT: err = read_name(d, &r, &f, "output", &out[a_out++]); break;
        case NODE_NAME: err = read_name(d, &r, &f, "name", &n->name); break;
        case NODE_OP_TYPE: err = read_name(d, &r, &f, "op_type", &n->op_type); break;
        case NODE_DOMAIN: err = read_name(d, &r, &f, "domain", &n->domain); break;
        case NODE_ATTRIBUTE: {
            graft_pb_reader sub;
            graft_pb_reader_sub(&sub, &r, &f, "onnx: AttributeProto");
            err = decode_attr(d, sub, depth + 1, &attrs[a_attr++]);
            break;
        }
        default: break;
        }
        if (err) return err;
    }
    if (got < 0) return got;
    n->inputs = in, n->input_count = n_in;
    n->outputs = out, n->output_count = n_out;
    n->attrs = attrs, n->attr_count = n_attr;
    return GRAFT_OK;
}

enum { GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12,
       GRAPH_VALUE_INFO = 13 };

static int decode_graph(dec *d, graft_pb_reader r, int depth, graft_onnx_graph *g) {
    int err = too_deep(&r, depth);
    if (err) return err;
    const graft_pb_reader start = r;
    graft_pb_field f;
    size_t n_node = 0, n_init = 0, n_in = 0, n_out = 0, n_vi = 0;
    int got;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        switch (f.number) {
        case GRAPH_NODE: WANT(&r, &f, "node", GRAFT_PB_WIRE_LEN); n_node++; break;
        case GRAPH_NAME: WANT(&r, &f, "name", GRAFT_PB_WIRE_LEN); break;
        case GRAPH_INITIALIZER: WANT(&r, &f, "initializer", GRAFT_PB_WIRE_LEN); n_init++; break;
        case GRAPH_INPUT: WANT(&r, &f, "input", GRAFT_PB_WIRE_LEN); n_in++; break;
        case GRAPH_OUTPUT: WANT(&r, &f, "output", GRAFT_PB_WIRE_LEN); n_out++; break;
        case GRAPH_VALUE_INFO: WANT(&r, &f, "value_info", GRAFT_PB_WIRE_LEN); n_vi++; break;
        default: break;
        }
    }
    if (got < 0) return got;

    graft_onnx_node *nodes = arena_array(d->store, n_node, sizeof *nodes);
    graft_onnx_tensor *inits = arena_array(d->store, n_init, sizeof *inits);
    graft_onnx_value_info *in = arena_array(d->store, n_in, sizeof *in);
    graft_onnx_value_info *out = arena_array(d->store, n_out, sizeof *out);
    graft_onnx_value_info *vi = arena_array(d->store, n_vi, sizeof *vi);
    if (!nodes || !inits || !in || !out || !vi) return oom(r.what);
    memset(g, 0, sizeof *g);
    g->name = "";
    size_t a_node = 0, a_init = 0, a_in = 0, a_out = 0, a_vi = 0;
    r = start;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        graft_pb_reader sub;
        switch (f.number) {
        case GRAPH_NODE:
            graft_pb_reader_sub(&sub, &r, &f, "onnx: NodeProto");
            err = decode_node(d, sub, depth + 1, &nodes[a_node++]);
            break;
        case GRAPH_NAME: err = read_name(d, &r, &f, "name", &g->name); break;
        case GRAPH_INITIALIZER:
            graft_pb_reader_sub(&sub, &r, &f, "onnx: TensorProto");
            err = decode_tensor(d, sub, depth + 1, &inits[a_init++]);
            break;
        case GRAPH_INPUT:
        case GRAPH_OUTPUT:
        case GRAPH_VALUE_INFO:
            graft_pb_reader_sub(&sub, &r, &f, "onnx: ValueInfoProto");
            err = decode_value_info(d, sub, depth + 1,
                                    f.number == GRAPH_INPUT    ? &in[a_in++]
                                    : f.number == GRAPH_OUTPUT ? &out[a_out++]
                                                               : &vi[a_vi++]);
            break;
        default: break;
        }
        if (err) return err;
    }
    if (got < 0) return got;
    g->nodes = nodes, g->node_count = n_node;
    g->initializers = inits, g->initializer_count = n_init;
    g->inputs = in, g->input_count = n_in;
    g->outputs = out, g->output_count = n_out;
    g->value_infos = vi, g->value_info_count = n_vi;
    return GRAFT_OK;
}

/* ---- ModelProto ------------------------------------------------------------------------ */

enum { MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3,
       MODEL_DOMAIN = 4, MODEL_MODEL_VERSION = 5, MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8 };

/* OperatorSetIdProto: domain = 1, version = 2. */
static int decode_opset(dec *d, graft_pb_reader r, graft_onnx_opset *o) {
    graft_pb_field f;
    int got, err = GRAFT_OK;
    o->domain = "";
    while ((got = graft_pb_next(&r, &f)) > 0) {
        if (f.number == 1) err = read_name(d, &r, &f, "domain", &o->domain);
        if (f.number == 2) {
            WANT(&r, &f, "version", GRAFT_PB_WIRE_VARINT);
            o->version = (int64_t)f.u;
        }
        if (err) return err;
    }
    return got < 0 ? got : GRAFT_OK;
}

int graft_onnx_model_create(graft_onnx_model **out) {
    if (!out) return graft__fail(GRAFT_EINVAL, "graft_onnx_model_create: out is NULL");
    graft_onnx_model *m = calloc(1, sizeof *m);
    struct graft__onnx_store *s = calloc(1, sizeof *s);
    if (!m || !s) {
        free(m);
        free(s);
        return graft__fail(GRAFT_ENOMEM, "onnx: out of memory creating a model");
    }
    m->store = s;
    m->producer_name = m->producer_version = m->domain = "";
    *out = m;
    return GRAFT_OK;
}

void graft_onnx_model_destroy(graft_onnx_model *m) {
    if (!m) return;
    struct graft__onnx_store *s = m->store;
    for (retained_file *rf = s->files; rf; rf = rf->next) {
        if (rf->mapped)
            munmap(rf->addr, rf->len);
        else
            free(rf->addr);
    }
    for (arena_chunk *c = s->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(s);
    free(m);
}

int graft_onnx_model_decode(graft_onnx_model *m, const void *buf, size_t len) {
    if (!m || (!buf && len))
        return graft__fail(GRAFT_EINVAL, "graft_onnx_model_decode: %s is NULL",
                           m ? "buf" : "model");
    if (m->graph)
        return graft__fail(GRAFT_EINVAL, "graft_onnx_model_decode: the model already holds a "
                           "decoded ModelProto");
    dec d = {m->store};
    graft_pb_reader r, start;
    graft_pb_reader_init(&r, len ? buf : "", len, "onnx: ModelProto");
    start = r;
    graft_pb_field f;
    size_t n_opset = 0;
    int got, err = GRAFT_OK, has_ir = 0;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        switch (f.number) {
        case MODEL_IR_VERSION: WANT(&r, &f, "ir_version", GRAFT_PB_WIRE_VARINT); has_ir = 1; break;
        case MODEL_PRODUCER_NAME: WANT(&r, &f, "producer_name", GRAFT_PB_WIRE_LEN); break;
        case MODEL_PRODUCER_VERSION: WANT(&r, &f, "producer_version", GRAFT_PB_WIRE_LEN); break;
        case MODEL_DOMAIN: WANT(&r, &f, "domain", GRAFT_PB_WIRE_LEN); break;
        case MODEL_MODEL_VERSION: WANT(&r, &f, "model_version", GRAFT_PB_WIRE_VARINT); break;
        case MODEL_GRAPH: WANT(&r, &f, "graph", GRAFT_PB_WIRE_LEN); break;
        case MODEL_OPSET_IMPORT:
            WANT(&r, &f, "opset_import", GRAFT_PB_WIRE_LEN);
            n_opset++;
            break;
        default: break;
        }
    }
    if (got < 0) return got;

    graft_onnx_opset *opsets = arena_array(d.store, n_opset, sizeof *opsets);
    graft_onnx_graph *graph = NULL;
    if (!opsets) return oom(r.what);
    int64_t ir_version = 0, model_version = 0;
    const char *producer_name = "", *producer_version = "", *domain = "";
    size_t a_opset = 0;
    r = start;
    while ((got = graft_pb_next(&r, &f)) > 0) {
        graft_pb_reader sub;
        switch (f.number) {
        case MODEL_IR_VERSION: ir_version = (int64_t)f.u; break;
        case MODEL_MODEL_VERSION: model_version = (int64_t)f.u; break;
        case MODEL_PRODUCER_NAME:
            err = read_name(&d, &r, &f, "producer_name", &producer_name);
            break;
        case MODEL_PRODUCER_VERSION:
            err = read_name(&d, &r, &f, "producer_version", &producer_version);
            break;
        case MODEL_DOMAIN: err = read_name(&d, &r, &f, "domain", &domain); break;
        case MODEL_GRAPH:
            if (!graph && !(graph = arena_alloc(d.store, sizeof *graph))) return oom(r.what);
            graft_pb_reader_sub(&sub, &r, &f, "onnx: GraphProto");
            err = decode_graph(&d, sub, 1, graph);
            break;
        case MODEL_OPSET_IMPORT:
            graft_pb_reader_sub(&sub, &r, &f, "onnx: OperatorSetIdProto");
            err = decode_opset(&d, sub, &opsets[a_opset++]);
            break;
        default: break;
        }
        if (err) return err;
    }
    if (got < 0) return got;

    /* A prefix of a valid model cut at a field boundary is itself well-formed protobuf; these
     * requirements of the ONNX spec are what tells such a truncated file from a whole one. */
    if (!has_ir || ir_version <= 0)
        return graft__fail(GRAFT_ECORRUPT, "onnx: ModelProto of %zu bytes has no ir_version",
                           len);
    if (!graph)
        return graft__fail(GRAFT_ECORRUPT, "onnx: ModelProto of %zu bytes has no graph", len);
    if (ir_version >= 3 && n_opset == 0)
        return graft__fail(GRAFT_ECORRUPT, "onnx: ModelProto of %zu bytes (ir_version %lld) has "
                           "no opset_import", len, (long long)ir_version);
    m->ir_version = ir_version;
    m->model_version = model_version;
    m->producer_name = producer_name;
    m->producer_version = producer_version;
    m->domain = domain;
    m->opsets = opsets;
    m->opset_count = n_opset;
    m->graph = graph;
    return GRAFT_OK;
}

int graft_onnx_tensor_decode(graft_onnx_model *m, const void *buf, size_t len,
                             const graft_onnx_tensor **out) {
    if (!m || !out || (!buf && len))
        return graft__fail(GRAFT_EINVAL, "graft_onnx_tensor_decode: NULL argument");
    dec d = {m->store};
    graft_onnx_tensor *t = arena_alloc(d.store, sizeof *t);
    if (!t) return oom("onnx: TensorProto");
    graft_pb_reader r;
    graft_pb_reader_init(&r, len ? buf : "", len, "onnx: TensorProto");
    int err = decode_tensor(&d, r, 0, t);
    if (err) return err;
    *out = t;
    return GRAFT_OK;
}

/* ---- files ----------------------------------------------------------------------------- */

/* Maps the whole file at `path` and records the mapping in the store. */
static int retain_file(struct graft__onnx_store *s, const char *path, const void **buf,
                       size_t *len) {
    retained_file *rf = arena_alloc(s, sizeof *rf);
    if (!rf) return graft__fail(GRAFT_ENOMEM, "onnx: %s: out of memory", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return graft__fail(GRAFT_EIO, "onnx: %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return graft__fail(GRAFT_EIO, "onnx: %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return graft__fail(GRAFT_EIO, "onnx: %s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return graft__fail(GRAFT_ECORRUPT, "onnx: %s: empty file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX / 2) {
        close(fd);
        return graft__fail(GRAFT_ERANGE, "onnx: %s: file of %lld bytes is too large", path,
                           (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    void *addr = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (addr == MAP_FAILED)
        return graft__fail(GRAFT_EIO, "onnx: %s: mmap failed: %s", path, strerror(errno));
    rf->addr = addr;
    rf->len = size;
    rf->mapped = 1;
    rf->next = s->files;
    s->files = rf;
    *buf = addr;
    *len = size;
    return GRAFT_OK;
}

int graft_onnx_model_load(const char *path, graft_onnx_model **out) {
    if (!path || !out) return graft__fail(GRAFT_EINVAL, "graft_onnx_model_load: NULL argument");
    graft_onnx_model *m;
    int err = graft_onnx_model_create(&m);
    if (err) return err;
    const void *buf;
    size_t len;
    err = retain_file(m->store, path, &buf, &len);
    if (!err) err = graft_onnx_model_decode(m, buf, len);
    if (err) {
        /* Keep the decoder's message, prefixed with the file it came from. */
        char msg[400];
        snprintf(msg, sizeof msg, "%s", graft_last_error());
        graft_onnx_model_destroy(m);
        if (strncmp(msg, "onnx: ", 6) == 0 && strstr(msg, path) == NULL)
            return graft__fail(err, "onnx: %s: %s", path, msg + 6);
        return graft__fail(err, "%s", msg);
    }
    *out = m;
    return GRAFT_OK;
}

int graft_onnx_tensor_load(graft_onnx_model *m, const char *path, const graft_onnx_tensor **out) {
    if (!m || !path || !out)
        return graft__fail(GRAFT_EINVAL, "graft_onnx_tensor_load: NULL argument");
    const void *buf;
    size_t len;
    int err = retain_file(m->store, path, &buf, &len);
    if (!err) err = graft_onnx_tensor_decode(m, buf, len, out);
    if (err) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", graft_last_error());
        if (strncmp(msg, "onnx: ", 6) == 0 && strstr(msg, path) == NULL)
            return graft__fail(err, "onnx: %s: %s", path, msg + 6);
        return err;
    }
    return GRAFT_OK;
}

/* ---- conversions ----------------------------------------------------------------------- */

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        /* Zero or subnormal: mant * 2^-24 is exact in float. */
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13);
    else
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

static uint64_t raw_le(const uint8_t *p, size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The checks both conversions make; `fn` names the caller in messages. */
static int convert_check(const graft_onnx_tensor *t, const void *dst, size_t count,
                         const char *fn) {
    if (!t || (!dst && count))
        return graft__fail(GRAFT_EINVAL, "%s: NULL argument", fn);
    if (count != t->numel)
        return graft__fail(GRAFT_EINVAL, "%s: tensor \"%s\" has %zu elements, not %zu", fn,
                           t->name, t->numel, count);
    if (t->external)
        return graft__fail(GRAFT_EUNSUPPORTED, "%s: tensor \"%s\" keeps its data in the external "
                           "file \"%s\", which is not supported yet", fn, t->name,
                           t->external_location);
    return GRAFT_OK;
}

/*
 * Element i of an integer, BOOL or 16-bit float tensor, sign- or zero-extended to 64 bits as
 * its data type requires (16-bit floats as their bit pattern; UINT64 reinterpreted, so values
 * above INT64_MAX come back negative for the caller to check).
 */
static int64_t int_elem(const graft_onnx_tensor *t, size_t i) {
    size_t size = graft_onnx_dtype_size(t->data_type);
    uint64_t u;
    if (t->raw) {
        u = raw_le(t->raw + i * size, size);
    } else {
        switch (t->data_type) {
        case GRAFT_ONNX_DTYPE_INT64: return t->int64_data[i];
        case GRAFT_ONNX_DTYPE_UINT32:
        case GRAFT_ONNX_DTYPE_UINT64: u = t->uint64_data[i]; break;
        default: u = (uint32_t)t->int32_data[i]; break;
        }
    }
    switch (t->data_type) {
    case GRAFT_ONNX_DTYPE_INT8: return (int8_t)(uint8_t)u;
    case GRAFT_ONNX_DTYPE_INT16: return (int16_t)(uint16_t)u;
    case GRAFT_ONNX_DTYPE_INT32: return (int32_t)(uint32_t)u;
    case GRAFT_ONNX_DTYPE_UINT8: return (uint8_t)u;
    case GRAFT_ONNX_DTYPE_UINT16:
    case GRAFT_ONNX_DTYPE_FLOAT16:
    case GRAFT_ONNX_DTYPE_BFLOAT16: return (uint16_t)u;
    case GRAFT_ONNX_DTYPE_UINT32: return (uint32_t)u;
    case GRAFT_ONNX_DTYPE_BOOL: return u != 0;
    default: return (int64_t)u; /* INT64, UINT64 (range checked by the caller) */
    }
}

static int is_int_type(int dtype) {
    switch (dtype) {
    case GRAFT_ONNX_DTYPE_INT8:
    case GRAFT_ONNX_DTYPE_INT16:
    case GRAFT_ONNX_DTYPE_INT32:
    case GRAFT_ONNX_DTYPE_INT64:
    case GRAFT_ONNX_DTYPE_UINT8:
    case GRAFT_ONNX_DTYPE_UINT16:
    case GRAFT_ONNX_DTYPE_UINT32:
    case GRAFT_ONNX_DTYPE_UINT64:
    case GRAFT_ONNX_DTYPE_BOOL: return 1;
    default: return 0;
    }
}

int graft_onnx_tensor_to_float(const graft_onnx_tensor *t, float *dst, size_t count) {
    int err = convert_check(t, dst, count, "graft_onnx_tensor_to_float");
    if (err) return err;
    if (count == 0) return GRAFT_OK;
    int dtype = t->data_type;
    if (dtype == GRAFT_ONNX_DTYPE_FLOAT) {
        if (!t->raw) {
            memcpy(dst, t->float_data, count * sizeof *dst);
            return GRAFT_OK;
        }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(dst, t->raw, count * sizeof *dst);
#else
        for (size_t i = 0; i < count; i++) {
            uint32_t bits = (uint32_t)raw_le(t->raw + 4 * i, 4);
            memcpy(&dst[i], &bits, 4);
        }
#endif
        return GRAFT_OK;
    }
    if (dtype == GRAFT_ONNX_DTYPE_DOUBLE) {
        for (size_t i = 0; i < count; i++) {
            double v;
            if (t->raw) {
                uint64_t bits = raw_le(t->raw + 8 * i, 8);
                memcpy(&v, &bits, 8);
            } else {
                v = t->double_data[i];
            }
            dst[i] = (float)v;
        }
        return GRAFT_OK;
    }
    if (dtype == GRAFT_ONNX_DTYPE_FLOAT16 || dtype == GRAFT_ONNX_DTYPE_BFLOAT16) {
        for (size_t i = 0; i < count; i++) {
            uint16_t h = (uint16_t)int_elem(t, i);
            if (dtype == GRAFT_ONNX_DTYPE_FLOAT16) {
                dst[i] = half_to_float(h);
            } else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&dst[i], &bits, 4);
            }
        }
        return GRAFT_OK;
    }
    if (is_int_type(dtype)) {
        for (size_t i = 0; i < count; i++) {
            int64_t v = int_elem(t, i);
            dst[i] = dtype == GRAFT_ONNX_DTYPE_UINT64 ? (float)(uint64_t)v : (float)v;
        }
        return GRAFT_OK;
    }
    return graft__fail(GRAFT_EUNSUPPORTED, "graft_onnx_tensor_to_float: tensor \"%s\" has data "
                       "type %s (%d), which has no float conversion", t->name,
                       graft_onnx_dtype_name(dtype), dtype);
}

int graft_onnx_tensor_to_int64(const graft_onnx_tensor *t, int64_t *dst, size_t count) {
    int err = convert_check(t, dst, count, "graft_onnx_tensor_to_int64");
    if (err) return err;
    if (!is_int_type(t->data_type))
        return graft__fail(GRAFT_EUNSUPPORTED, "graft_onnx_tensor_to_int64: tensor \"%s\" has "
                           "data type %s (%d), not an integer type", t->name,
                           graft_onnx_dtype_name(t->data_type), t->data_type);
    for (size_t i = 0; i < count; i++) {
        int64_t v = int_elem(t, i);
        if (t->data_type == GRAFT_ONNX_DTYPE_UINT64 && v < 0)
            return graft__fail(GRAFT_ERANGE, "graft_onnx_tensor_to_int64: tensor \"%s\" element "
                               "%zu is %llu, above INT64_MAX", t->name, i,
                               (unsigned long long)(uint64_t)v);
        dst[i] = v;
    }
    return GRAFT_OK;
}

const graft_onnx_attr *graft_onnx_node_attr(const graft_onnx_node *n, const char *name) {
    if (!n || !name) return NULL;
    for (size_t k = 0; k < n->attr_count; k++)
        if (strcmp(n->attrs[k].name, name) == 0) return &n->attrs[k];
    return NULL;
}

const graft_onnx_tensor *graft_onnx_graph_initializer(const graft_onnx_graph *g,
                                                      const char *name) {
    if (!g || !name) return NULL;
    for (size_t k = 0; k < g->initializer_count; k++)
        if (strcmp(g->initializers[k].name, name) == 0) return &g->initializers[k];
    return NULL;
}
