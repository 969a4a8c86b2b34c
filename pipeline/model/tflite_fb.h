/*
 * pipeline/model/tflite_fb.h: a bounds-checked reader of the FlatBuffers binary format, the layer
 * under the TFLite importer (tflite_import.c), which also reads the TFLite metadata flatbuffer
 * with it. Internal to libgraft.
 *
 * Why our own reader and not flatc-generated code: generated accessors trust the buffer (the
 * separate Verifier is what makes them safe), and they need the flatbuffers headers and a code
 * generation step. A model file is untrusted input, so here every access is checked at the
 * moment it is made: a table's vtable offset, the vtable's own length and the table's inline
 * size are checked against the buffer when the table is opened; a field's vtable entry is
 * checked against the table's inline size before the field is read; an offset field's target,
 * a vector's length times its element size and a string's length plus its terminating NUL are
 * checked against the buffer before anything is returned. Reading an absent field gives the
 * schema's default. No alignment is assumed (values are assembled byte by byte, little-endian
 * as the format says), so a misaligned but otherwise valid buffer reads correctly.
 *
 * Offsets in the format are unsigned and point forward, so a chain of tables cannot loop; the
 * only backward pointer (table -> vtable) is checked like any other. Nothing here allocates:
 * results are views into the caller's buffer, which must outlive them.
 *
 * What it does not do: the schema. Callers name fields by their index in the .fbs table (the
 * vtable slot is 4 + 2 * index), and know the types. Unions are two fields (type, value) read
 * separately. Errors are GRAFT_ECORRUPT with a message naming the table (its `what` and index,
 * e.g. "Tensor[12]"), the field and the byte offset in the buffer, e.g.
 *   "tflite: Tensor[12] field 0: vector of 4 x 4 bytes at offset 5120 runs past the end of
 *    the buffer (5124 bytes)".
 */
#ifndef GRAFT_PIPELINE_MODEL_TFLITE_FB_H
#define GRAFT_PIPELINE_MODEL_TFLITE_FB_H

#include <stddef.h>
#include <stdint.h>

/* The whole buffer, borrowed. `what` prefixes messages ("tflite", "tflite metadata"). */
typedef struct graft__fb {
    const uint8_t *buf;
    size_t len;
    const char *what;
} graft__fb;

/* An opened table: its inline part is buf[pos, pos + obj_len), its vtable buf[vt, vt + vt_len). */
typedef struct graft__fb_table {
    const graft__fb *fb;
    size_t pos, vt;
    uint32_t vt_len, obj_len;
    const char *what; /* schema name for messages ("Tensor"); a string literal */
    long index;       /* position in its parent vector, or -1 */
} graft__fb_table;

/* A vector of n elements of elem_size bytes, the first at buf[pos]. n == 0 for an absent one. */
typedef struct graft__fb_vec {
    const graft__fb *fb;
    size_t pos;
    uint32_t n;
    uint32_t elem_size;
} graft__fb_vec;

/*
 * Starts reading buf[0, len) (borrowed). Fails with GRAFT_ECORRUPT when the buffer cannot hold
 * the root offset and a file identifier (8 bytes), GRAFT_ERANGE when it is 2 GiB or more (the
 * format's own limit: offsets are 32 bits, and signed ones address backwards).
 */
int graft__fb_init(graft__fb *fb, const void *buf, size_t len, const char *what);
/* 1 when bytes 4..7 are the 4-character file identifier `ident` ("TFL3"), else 0. */
int graft__fb_has_identifier(const graft__fb *fb, const char *ident);
/* Opens the root table (the uoffset at byte 0). */
int graft__fb_root(const graft__fb *fb, const char *what, graft__fb_table *root);

/* 1 when the table's vtable has a non-zero entry for field `id`. */
int graft__fb_has(const graft__fb_table *t, int id);

/*
 * Scalar fields: *out = the field's value, or def when absent. GRAFT_ECORRUPT when the vtable
 * entry points past the table's inline data.
 */
int graft__fb_u8(const graft__fb_table *t, int id, uint8_t def, uint8_t *out);
int graft__fb_i8(const graft__fb_table *t, int id, int8_t def, int8_t *out);
int graft__fb_i32(const graft__fb_table *t, int id, int32_t def, int32_t *out);
int graft__fb_u32(const graft__fb_table *t, int id, uint32_t def, uint32_t *out);
int graft__fb_u64(const graft__fb_table *t, int id, uint64_t def, uint64_t *out);
int graft__fb_f32(const graft__fb_table *t, int id, float def, float *out);

/*
 * A sub-table field: returns 1 with *sub opened (what/index name it in later messages), 0 when
 * the field is absent (*sub zeroed), or GRAFT_ECORRUPT.
 */
int graft__fb_table_field(const graft__fb_table *t, int id, const char *what,
                          graft__fb_table *sub);
/*
 * A vector field of elem_size-byte scalars, or of offsets (elem_size 4, read with
 * graft__fb_vec_table / graft__fb_vec_string). Returns 1 with *v set, 0 when absent (*v is an
 * empty vector), or GRAFT_ECORRUPT.
 */
int graft__fb_vec_field(const graft__fb_table *t, int id, uint32_t elem_size, graft__fb_vec *v);
/*
 * A string field: returns 1 with *s pointing at its n bytes in the buffer (NUL-terminated there,
 * which is checked; it may contain NULs of its own), 0 when absent (*s = "", *n = 0), or
 * GRAFT_ECORRUPT.
 */
int graft__fb_string_field(const graft__fb_table *t, int id, const char **s, size_t *n);

/* Element i < v->n of a vector of tables, opened and named what[i]. */
int graft__fb_vec_table(const graft__fb_vec *v, uint32_t i, const char *what,
                        graft__fb_table *sub);
/* Element i < v->n of a vector of strings. */
int graft__fb_vec_string(const graft__fb_vec *v, uint32_t i, const char **s, size_t *n);

/*
 * Elements of scalar vectors; i < v->n is the caller's to ensure (the vector's extent was
 * checked when it was read, so these cannot fail).
 */
uint8_t graft__fb_vec_u8(const graft__fb_vec *v, uint32_t i);
int32_t graft__fb_vec_i32(const graft__fb_vec *v, uint32_t i);
int64_t graft__fb_vec_i64(const graft__fb_vec *v, uint32_t i);
float graft__fb_vec_f32(const graft__fb_vec *v, uint32_t i);
/* The vector's first byte (its n * elem_size bytes are in the buffer). */
const uint8_t *graft__fb_vec_data(const graft__fb_vec *v);

/* Little-endian loads from unaligned memory, shared with the importer. */
uint16_t graft__fb_load_u16(const uint8_t *p);
uint32_t graft__fb_load_u32(const uint8_t *p);
uint64_t graft__fb_load_u64(const uint8_t *p);

#endif
