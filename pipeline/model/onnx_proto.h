/*
 * pipeline/model/onnx_proto.h: decodes the ONNX protobuf messages (ModelProto and what it
 * contains, and standalone TensorProto files) into plain read-only structs. Internal to
 * libgraft: the ONNX model importer builds the network from these, and the conformance tests
 * (tests/onnx/) read the ONNX node tests with them.
 *
 * It sits on the wire reader of protobuf.h and, like it, copies no weights: a tensor's raw_data
 * is a pointer into the buffer that was decoded. It does not interpret the graph (no operator
 * semantics, no shape inference, no topological order), and it does not read external data
 * files (such tensors are decoded, marked `external`, and refused by the conversions).
 *
 * Ownership. A graft_onnx_model owns one arena holding every decoded struct, array and string,
 * and, when it loaded a file itself, the file's bytes (an mmap). A buffer passed to the
 * *_decode functions is retained, not copied: it must stay alive and unchanged until the model
 * is destroyed, because raw_data views point into it. Strings (names, op types, attribute
 * strings) are copied into the arena NUL-terminated, so they can be compared with strcmp(); a
 * name with an embedded NUL is refused as corrupt, while bytes-valued strings (attribute `s`,
 * `strings`, string_data) keep their length and may hold NULs. Absent strings are "" (never
 * NULL). Everything is freed by graft_onnx_model_destroy() at once.
 *
 * Errors: GRAFT_ECORRUPT for malformed input, with a message naming the message type, the
 * field and the byte offset ("onnx: NodeProto field 3: length 4000 past end of buffer at
 * offset 1212 (12 bytes left)"); GRAFT_ERANGE for absurd sizes (a dims product that overflows
 * or exceeds 2^31 elements, a negative dim); GRAFT_ENOMEM; GRAFT_EIO for files that cannot be
 * read. Decoding on different models is thread-safe; one model is not to be shared while it
 * is being decoded into.
 */
#ifndef GRAFT_PIPELINE_MODEL_ONNX_PROTO_H
#define GRAFT_PIPELINE_MODEL_ONNX_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Nested messages deeper than this (subgraphs in attributes, sequence types) are refused. */
#define GRAFT_ONNX_MAX_DEPTH 32
/* Tensors with more elements than this are refused with GRAFT_ERANGE. */
#define GRAFT_ONNX_MAX_ELEMENTS ((size_t)1 << 31)

/* TensorProto.DataType, with onnx.proto's numbers. */
typedef enum graft_onnx_dtype {
    GRAFT_ONNX_DTYPE_UNDEFINED = 0,
    GRAFT_ONNX_DTYPE_FLOAT = 1,
    GRAFT_ONNX_DTYPE_UINT8 = 2,
    GRAFT_ONNX_DTYPE_INT8 = 3,
    GRAFT_ONNX_DTYPE_UINT16 = 4,
    GRAFT_ONNX_DTYPE_INT16 = 5,
    GRAFT_ONNX_DTYPE_INT32 = 6,
    GRAFT_ONNX_DTYPE_INT64 = 7,
    GRAFT_ONNX_DTYPE_STRING = 8,
    GRAFT_ONNX_DTYPE_BOOL = 9,
    GRAFT_ONNX_DTYPE_FLOAT16 = 10,
    GRAFT_ONNX_DTYPE_DOUBLE = 11,
    GRAFT_ONNX_DTYPE_UINT32 = 12,
    GRAFT_ONNX_DTYPE_UINT64 = 13,
    GRAFT_ONNX_DTYPE_COMPLEX64 = 14,
    GRAFT_ONNX_DTYPE_COMPLEX128 = 15,
    GRAFT_ONNX_DTYPE_BFLOAT16 = 16,
} graft_onnx_dtype;

/* "FLOAT", "INT64", ... as in onnx.proto; "?" for a number outside the enum above. */
const char *graft_onnx_dtype_name(int dtype);
/* Bytes per element in raw_data: 4 for FLOAT, 1 for BOOL, ...; 0 for STRING and unknown. */
size_t graft_onnx_dtype_size(int dtype);

/* A bytes value: `len` bytes at `data`, followed by a NUL that is not counted. */
typedef struct graft_onnx_bytes {
    const char *data;
    size_t len;
} graft_onnx_bytes;

/*
 * TensorProto. The elements are in exactly one place: `raw` (a view into the decoded buffer,
 * little-endian, unaligned, raw_len == numel * graft_onnx_dtype_size(data_type)), or the typed
 * field onnx.proto assigns to the data type, decoded into the arena because packed varints
 * have no fixed width:
 *   float_data:  FLOAT, COMPLEX64          double_data: DOUBLE, COMPLEX128
 *   int64_data:  INT64                     uint64_data: UINT32, UINT64
 *   int32_data:  INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16 and BFLOAT16 (as bits)
 *   string_data: STRING
 * The decoder checks that the count matches numel (twice numel for the complex types), except
 * for external tensors and data types it does not know.
 */
typedef struct graft_onnx_tensor {
    const char *name;
    int32_t data_type; /* graft_onnx_dtype */
    const int64_t *dims;
    size_t rank;
    size_t numel; /* product of dims; 1 for a scalar (rank 0) */
    /* data_location == EXTERNAL: the elements are in another file, not read by us. */
    int external;
    const char *external_location; /* external_data's "location", "" when absent */
    const char *external_offset;   /* its "offset" and "length" (decimal), "" when absent */
    const char *external_length;
    const uint8_t *raw;
    size_t raw_len;
    const float *float_data;
    size_t float_count;
    const int32_t *int32_data;
    size_t int32_count;
    const int64_t *int64_data;
    size_t int64_count;
    const double *double_data;
    size_t double_count;
    const uint64_t *uint64_data;
    size_t uint64_count;
    const graft_onnx_bytes *string_data;
    size_t string_count;
} graft_onnx_tensor;

/* One dimension of a ValueInfo's shape: a number, a symbolic name, or neither (unknown). */
typedef struct graft_onnx_dim {
    int has_value;
    int64_t value;     /* dim_value when has_value */
    const char *param; /* dim_param, "" when absent */
} graft_onnx_dim;

typedef enum graft_onnx_type_kind {
    GRAFT_ONNX_TYPE_NONE = 0, /* no type given */
    GRAFT_ONNX_TYPE_TENSOR,
    GRAFT_ONNX_TYPE_SEQUENCE,
    GRAFT_ONNX_TYPE_MAP,
    GRAFT_ONNX_TYPE_OPTIONAL,
    GRAFT_ONNX_TYPE_SPARSE_TENSOR,
    GRAFT_ONNX_TYPE_OTHER, /* a TypeProto variant we do not decode (opaque, ...) */
} graft_onnx_type_kind;

/* TypeProto. */
typedef struct graft_onnx_type {
    graft_onnx_type_kind kind;
    /* TENSOR, SPARSE_TENSOR: element type and shape (has_shape == 0: rank unknown). */
    int32_t elem_type;
    int has_shape;
    const graft_onnx_dim *dims;
    size_t rank;
    /* SEQUENCE, OPTIONAL: element type; MAP: value type (key_type is the key's dtype). */
    const struct graft_onnx_type *elem;
    int32_t key_type;
} graft_onnx_type;

/* ValueInfoProto: a graph input, output or intermediate value. */
typedef struct graft_onnx_value_info {
    const char *name;
    graft_onnx_type type;
} graft_onnx_value_info;

/* AttributeProto.AttributeType, with onnx.proto's numbers. */
typedef enum graft_onnx_attr_type {
    GRAFT_ONNX_ATTR_UNDEFINED = 0,
    GRAFT_ONNX_ATTR_FLOAT = 1,
    GRAFT_ONNX_ATTR_INT = 2,
    GRAFT_ONNX_ATTR_STRING = 3,
    GRAFT_ONNX_ATTR_TENSOR = 4,
    GRAFT_ONNX_ATTR_GRAPH = 5,
    GRAFT_ONNX_ATTR_FLOATS = 6,
    GRAFT_ONNX_ATTR_INTS = 7,
    GRAFT_ONNX_ATTR_STRINGS = 8,
    GRAFT_ONNX_ATTR_TENSORS = 9,
    GRAFT_ONNX_ATTR_GRAPHS = 10,
    GRAFT_ONNX_ATTR_SPARSE_TENSOR = 11,
    GRAFT_ONNX_ATTR_SPARSE_TENSORS = 12,
    GRAFT_ONNX_ATTR_TYPE_PROTO = 13,
    GRAFT_ONNX_ATTR_TYPE_PROTOS = 14,
} graft_onnx_attr_type;

struct graft_onnx_graph;

/*
 * AttributeProto. `type` is the declared type; files from before it existed (type 0) get it
 * inferred from the one value field present. Only the fields of that type are meaningful.
 * `unsupported` is 1 for the types whose value we skip (sparse tensors, type protos): the
 * attribute is present, its value is not decoded.
 */
typedef struct graft_onnx_attr {
    const char *name;
    graft_onnx_attr_type type;
    int unsupported;
    const char *ref_attr_name; /* in function bodies; "" otherwise */
    float f;
    int64_t i;
    graft_onnx_bytes s;
    const graft_onnx_tensor *t;
    const struct graft_onnx_graph *g;
    const float *floats;
    size_t float_count;
    const int64_t *ints;
    size_t int_count;
    const graft_onnx_bytes *strings;
    size_t string_count;
    const graft_onnx_tensor *tensors;
    size_t tensor_count;
    const struct graft_onnx_graph *graphs;
    size_t graph_count;
} graft_onnx_attr;

/* NodeProto. An empty input name ("") stands for an omitted optional input. */
typedef struct graft_onnx_node {
    const char *name, *op_type, *domain;
    const char *const *inputs;
    size_t input_count;
    const char *const *outputs;
    size_t output_count;
    const graft_onnx_attr *attrs;
    size_t attr_count;
} graft_onnx_node;

/* GraphProto. `inputs` may include initializers (as older exporters wrote them). */
typedef struct graft_onnx_graph {
    const char *name;
    const graft_onnx_node *nodes;
    size_t node_count;
    const graft_onnx_tensor *initializers;
    size_t initializer_count;
    const graft_onnx_value_info *inputs;
    size_t input_count;
    const graft_onnx_value_info *outputs;
    size_t output_count;
    const graft_onnx_value_info *value_infos;
    size_t value_info_count;
} graft_onnx_graph;

/* OperatorSetIdProto: the default domain is "". */
typedef struct graft_onnx_opset {
    const char *domain;
    int64_t version;
} graft_onnx_opset;

/*
 * The owner of everything decoded, and after graft_onnx_model_decode() or _load() the decoded
 * ModelProto. The public fields are read-only for the caller.
 */
typedef struct graft_onnx_model {
    int64_t ir_version;
    const char *producer_name, *producer_version, *domain;
    int64_t model_version;
    const graft_onnx_opset *opsets;
    size_t opset_count;
    const graft_onnx_graph *graph; /* NULL until a ModelProto was decoded */
    struct graft__onnx_store *store; /* private: the arena and the retained buffers */
} graft_onnx_model;

/* An empty model: an arena to decode into. GRAFT_ENOMEM. Destroy with _destroy(). */
int graft_onnx_model_create(graft_onnx_model **out);
/* Frees the arena, the decoded structs and any file mapping the model holds. NULL: no-op. */
void graft_onnx_model_destroy(graft_onnx_model *m);

/*
 * Decodes a serialized ModelProto from buf[0, len) into m, which must not hold a decoded model
 * yet (GRAFT_EINVAL otherwise). Retains buf until m is destroyed. Requires what ONNX requires
 * of a model: an ir_version, a graph, and an opset_import when ir_version >= 3; GRAFT_ECORRUPT
 * without them, so that a model cut short at a field boundary is not taken for a whole one.
 * On failure m's public fields are unchanged (the arena may have grown; it is freed by
 * destroy).
 */
int graft_onnx_model_decode(graft_onnx_model *m, const void *buf, size_t len);

/*
 * Maps the file at `path` read-only and decodes it as a ModelProto into a new model that owns
 * the mapping. GRAFT_EIO (with the path and strerror) when it cannot be opened or mapped,
 * GRAFT_ECORRUPT for an empty file, and the errors of graft_onnx_model_decode(). *out is written
 * only on success.
 */
int graft_onnx_model_load(const char *path, graft_onnx_model **out);

/*
 * Decodes a serialized TensorProto from buf[0, len) into m's arena; *out stays valid until m is
 * destroyed. Retains buf until then. Errors as for the model, plus GRAFT_ECORRUPT when the
 * element count in the data does not match the dims.
 */
int graft_onnx_tensor_decode(graft_onnx_model *m, const void *buf, size_t len,
                             const graft_onnx_tensor **out);
/* Reads the file at `path` into m (which keeps the bytes) and decodes it as a TensorProto. */
int graft_onnx_tensor_load(graft_onnx_model *m, const char *path, const graft_onnx_tensor **out);

/*
 * Converts the tensor's elements to float into dst[0, count): FLOAT, FLOAT16, BFLOAT16, DOUBLE,
 * INT8, UINT8, INT16, UINT16, INT32, UINT32, INT64, UINT64, BOOL (large integers round to the
 * nearest float). GRAFT_EINVAL when count != t->numel; GRAFT_EUNSUPPORTED for other data types
 * and for external data (not read yet), with a message naming the tensor.
 */
int graft_onnx_tensor_to_float(const graft_onnx_tensor *t, float *dst, size_t count);
/*
 * Converts an integer or BOOL tensor (shapes, axes, indices) to int64 into dst[0, count).
 * GRAFT_EINVAL when count != t->numel; GRAFT_ERANGE for a UINT64 above INT64_MAX;
 * GRAFT_EUNSUPPORTED for floating types, strings and external data.
 */
int graft_onnx_tensor_to_int64(const graft_onnx_tensor *t, int64_t *dst, size_t count);

/* The attribute of node n called `name`, or NULL. */
const graft_onnx_attr *graft_onnx_node_attr(const graft_onnx_node *n, const char *name);
/* The initializer of graph g called `name`, or NULL. */
const graft_onnx_tensor *graft_onnx_graph_initializer(const graft_onnx_graph *g,
                                                      const char *name);

#endif
