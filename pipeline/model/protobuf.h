/*
 * pipeline/model/protobuf.h: a bounds-checked reader of the protobuf wire format, the layer
 * under the ONNX decoder (onnx_proto.c). Internal to libgraft.
 *
 * Why our own reader and not protobuf-c: an ONNX file is read once, front to back, into plain
 * structs, and the weights must not be copied (raw_data stays a view into the caller's buffer,
 * which will be an mmap of the model). protobuf-c would need generated code, a copy of every
 * bytes field and its own allocator. This reader is a few hundred lines over a caller-provided
 * byte buffer: every varint (at most 10 bytes, overflow of 64 bits rejected), every length and
 * every fixed-width value is checked against the end of the enclosing message before it is
 * read, and unknown fields are skipped by their wire type. Nesting depth is bounded by the
 * message decoders above it, which know the schema (see GRAFT_ONNX_MAX_DEPTH).
 *
 * Length-delimited payloads (and so an ONNX tensor's raw_data) come back as a pointer and a
 * length into the caller's buffer, never copied: the buffer must outlive everything decoded
 * from it. The ONNX model object retains it for exactly that reason (onnx_proto.h).
 *
 * What it does not do: groups (wire types 3 and 4, deprecated and never used by ONNX) are
 * rejected as corrupt; zigzag (sint32/sint64) is not needed by ONNX; it never allocates.
 * Errors are GRAFT_ECORRUPT with a message naming the message, the field and the byte offset
 * from the start of the whole buffer, e.g.
 *   "onnx: NodeProto field 3: length 4000 past end of buffer at offset 1212 (12 bytes left)".
 */
#ifndef GRAFT_PIPELINE_MODEL_PROTOBUF_H
#define GRAFT_PIPELINE_MODEL_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

/* Wire types of the protobuf encoding. */
typedef enum graft_pb_wire {
    GRAFT_PB_WIRE_VARINT = 0,
    GRAFT_PB_WIRE_I64 = 1,
    GRAFT_PB_WIRE_LEN = 2,
    GRAFT_PB_WIRE_SGROUP = 3,
    GRAFT_PB_WIRE_EGROUP = 4,
    GRAFT_PB_WIRE_I32 = 5,
} graft_pb_wire;

/* Longest valid varint: 64 bits in 7-bit groups. */
#define GRAFT_PB_VARINT_MAX_BYTES 10

/*
 * A reader over one message: the bytes [pos, end) of `base`, where offsets count from the start
 * of the whole buffer so that error messages point into the file. `what` names the message in
 * error messages ("onnx: NodeProto") and must outlive the reader (a string literal).
 * The reader borrows `base`; it never writes to it.
 */
typedef struct graft_pb_reader {
    const uint8_t *base;
    size_t pos, end;
    const char *what;
} graft_pb_reader;

/*
 * One field as read by graft_pb_next(). For VARINT, I64 and I32 the value is in `u` (I32
 * zero-extended; a float is its bit pattern). For LEN the payload is [data_offset,
 * data_offset + len) of the reader's base, also as the pointer `data`.
 */
typedef struct graft_pb_field {
    uint32_t number;
    graft_pb_wire wire;
    size_t offset; /* of the tag, from the start of the buffer */
    uint64_t u;
    const uint8_t *data;
    size_t len, data_offset;
} graft_pb_field;

/* A reader over the whole of buf[0, len). */
void graft_pb_reader_init(graft_pb_reader *r, const void *buf, size_t len, const char *what);
/* A reader over the payload of a LEN field read by `parent`, for the message named `what`. */
void graft_pb_reader_sub(graft_pb_reader *sub, const graft_pb_reader *parent,
                         const graft_pb_field *f, const char *what);

/*
 * Reads the next field of the message and steps past it (payloads of LEN fields are not
 * interpreted, which is how unknown fields are skipped). Returns 1 with *f filled, 0 at the
 * end of the message, or GRAFT_ECORRUPT (with a message) for a truncated or overlong varint,
 * a 64-bit overflow, field number 0 or above 2^29 - 1, a group or unknown wire type, or a
 * length or fixed-width value running past the end of the message.
 */
int graft_pb_next(graft_pb_reader *r, graft_pb_field *f);

/*
 * Decodes one varint from p[0, avail): the value into *out and the byte count into *used.
 * GRAFT_ECORRUPT (without a message: the caller knows the context) when the bytes run out,
 * when the varint is longer than 10 bytes, or when its 10th byte sets bits past bit 63.
 */
int graft_pb_varint(const uint8_t *p, size_t avail, uint64_t *out, size_t *used);

/*
 * Repeated scalar fields arrive either packed (one LEN field holding the values back to back)
 * or one value per field; decoders must accept both. `elem` is the scalar's own wire type:
 * VARINT (int32, int64, uint64, bool, enums), I32 (float) or I64 (double).
 *
 * graft_pb_repeated_begin() validates field f as such a repeated field and sets up an iterator
 * over its values: *count is 1 when f has wire type `elem`, the number of packed values when f
 * is LEN. GRAFT_ECORRUPT (the message names r->what, the field and its offset) for any other
 * wire type, a packed payload whose length is not a multiple of the fixed width, or a
 * malformed varint inside it. Since the whole payload was checked, graft_pb_repeated_next()
 * cannot fail: it returns 1 with the next value in *v (I32 zero-extended, I64 and VARINT as
 * they are) or 0 after the last. The iterator borrows the reader's buffer.
 */
typedef struct graft_pb_repeated {
    const uint8_t *p;
    size_t left;
    graft_pb_wire elem;
    int single; /* an unpacked field: `value` is its only value, not yet returned */
    uint64_t value;
} graft_pb_repeated;

int graft_pb_repeated_begin(const graft_pb_reader *r, const graft_pb_field *f, graft_pb_wire elem,
                            graft_pb_repeated *it, size_t *count);
int graft_pb_repeated_next(graft_pb_repeated *it, uint64_t *v);

/* "varint", "fixed64", "length-delimited", "start-group", "end-group", "fixed32", "invalid". */
const char *graft_pb_wire_name(int wire);

#endif
