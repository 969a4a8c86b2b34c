/*
 * pipeline/model/onnx_write.h: writing ONNX files: the demo's generated ConvNet, `graft export`
 * (the network up to a tap plus a trained head) and the tests' small graphs.
 *
 * A builder collects inputs, outputs, float32 initializers and nodes, then serialises one
 * ModelProto (IR version 8, default domain at the given opset). It encodes the protobuf wire
 * format itself, as pipeline/model/protobuf.c decodes it. No validation of operator semantics:
 * what is written is checked by loading it back (graft_model_load) and, in the tests, by ONNX
 * Runtime.
 */
#ifndef GRAFT_PIPELINE_MODEL_ONNX_WRITE_H
#define GRAFT_PIPELINE_MODEL_ONNX_WRITE_H

#include <stddef.h>
#include <stdint.h>

typedef struct graft__onnx_builder graft__onnx_builder;

typedef enum graft__onnx_attr_type {
    GRAFT__ONNX_ATTR_INT = 2,
    GRAFT__ONNX_ATTR_FLOAT = 1,
    GRAFT__ONNX_ATTR_STRING = 3,
    GRAFT__ONNX_ATTR_INTS = 7
} graft__onnx_attr_type;

#define GRAFT__ONNX_MAX_INTS 8

/* One node attribute; `name` and `s` are borrowed for the call that takes it. */
typedef struct graft__onnx_attr {
    const char *name;
    graft__onnx_attr_type type;
    int64_t i;
    float f;
    const char *s;
    int n_ints;
    int64_t ints[GRAFT__ONNX_MAX_INTS];
} graft__onnx_attr;

/* A new empty model; NULL when out of memory. The builder owns everything added to it. */
graft__onnx_builder *graft__onnx_begin(const char *producer, int opset);
void graft__onnx_free(graft__onnx_builder *b);

/*
 * A graph input or output of float32 with the given shape; a dimension < 0 is written as the
 * symbolic dimension "N" (the batch). Return GRAFT_OK or GRAFT_ENOMEM.
 */
int graft__onnx_input(graft__onnx_builder *b, const char *name, int rank, const int64_t *dims);
int graft__onnx_output(graft__onnx_builder *b, const char *name, int rank, const int64_t *dims);

/* A float32 initializer; `data` (product of dims floats) is copied. */
int graft__onnx_initializer(graft__onnx_builder *b, const char *name, int rank,
                            const int64_t *dims, const float *data);
/* An int64 initializer (Reshape shapes and the like); `data` is copied. */
int graft__onnx_initializer_i64(graft__onnx_builder *b, const char *name, int rank,
                                const int64_t *dims, const int64_t *data);

/* A node in the default domain. Inputs, outputs and attributes are copied. */
int graft__onnx_node(graft__onnx_builder *b, const char *op, const char *name,
                     const char *const *inputs, int n_in, const char *const *outputs, int n_out,
                     const graft__onnx_attr *attrs, int n_attrs);

/*
 * Serialises the model into a malloc'd buffer (*buf, *len; the caller frees) or to a file
 * (written to path.tmp, then renamed). Errors: GRAFT_ENOMEM, GRAFT_EIO, GRAFT_ENOSPC.
 */
int graft__onnx_serialize(const graft__onnx_builder *b, uint8_t **buf, size_t *len);

/*
 * An existing ONNX model (src, src_len bytes, borrowed) cut after tensor `tap`, with the
 * builder's nodes and initializers appended and its outputs as the graph's outputs: what
 * `graft export` writes (the network up to the tap, then the head). Kept: every ModelProto
 * field but the graph as it is (opsets, IR version, metadata), the nodes the tap depends on in
 * their order, and the initializers and inputs they use; dropped: the rest, the old outputs and
 * value_info. The builder's own inputs and opset are ignored. *out is malloc'd (the caller
 * frees). Errors: GRAFT_EINVAL (no node computes the tap), GRAFT_ECORRUPT, GRAFT_ENOMEM.
 */
int graft__onnx_cut_append(const uint8_t *src, size_t src_len, const char *tap,
                           const graft__onnx_builder *b, uint8_t **out, size_t *out_len);
int graft__onnx_write(const graft__onnx_builder *b, const char *path);
/* Writes len bytes to path the same way (path.tmp, then renamed). */
int graft__onnx_write_bytes(const char *path, const uint8_t *data, size_t len);

#endif
