/*
 * pipeline/model/tflite_fb.c: the bounds-checked FlatBuffers reader of tflite_fb.h.
 *
 * Every check compares 64-bit sums against the buffer length, which is below 2 GiB (checked in
 * graft__fb_init), so none of the additions here can wrap.
 */
#include <stdio.h>
#include <string.h>

#include "kernels.h" /* graft__fail */
#include "tflite_fb.h"

/* The largest buffer the format can address: offsets are 32 bits and soffsets signed. */
#define FB_MAX_BYTES ((size_t)0x7fffffff)

uint16_t graft__fb_load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

uint32_t graft__fb_load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

uint64_t graft__fb_load_u64(const uint8_t *p) {
    return (uint64_t)graft__fb_load_u32(p) | ((uint64_t)graft__fb_load_u32(p + 4) << 32);
}

/* "Tensor[12]" or "Model", for messages. */
static const char *table_name(const graft__fb_table *t, char *buf, size_t cap) {
    if (t->index >= 0)
        snprintf(buf, cap, "%s[%ld]", t->what, t->index);
    else
        snprintf(buf, cap, "%s", t->what);
    return buf;
}

int graft__fb_init(graft__fb *fb, const void *buf, size_t len, const char *what) {
    memset(fb, 0, sizeof *fb);
    if (!buf || len < 8)
        return graft__fail(GRAFT_ECORRUPT, "%s: %zu bytes is too short for a flatbuffer "
                           "(a root offset and a file identifier take 8)", what, len);
    if (len > FB_MAX_BYTES)
        return graft__fail(GRAFT_ERANGE, "%s: %zu bytes is beyond the 2 GiB a flatbuffer can "
                           "address", what, len);
    fb->buf = buf;
    fb->len = len;
    fb->what = what;
    return 0;
}

int graft__fb_has_identifier(const graft__fb *fb, const char *ident) {
    return fb->len >= 8 && memcmp(fb->buf + 4, ident, 4) == 0;
}

/* Opens the table whose inline part starts at pos. */
static int open_table(const graft__fb *fb, size_t pos, const char *what, long index,
                      graft__fb_table *t) {
    graft__fb_table tmp = {.fb = fb, .pos = pos, .what = what, .index = index};
    char name[96];
    if (pos > fb->len || fb->len - pos < 4)
        return graft__fail(GRAFT_ECORRUPT, "%s: %s: table at offset %zu is past the end of the "
                           "buffer (%zu bytes)", fb->what, table_name(&tmp, name, sizeof name),
                           pos, fb->len);
    int64_t vt = (int64_t)pos - (int32_t)graft__fb_load_u32(fb->buf + pos);
    if (vt < 0 || (uint64_t)vt > fb->len - 4)
        return graft__fail(GRAFT_ECORRUPT, "%s: %s (offset %zu): vtable offset %lld is outside "
                           "the buffer (%zu bytes)", fb->what,
                           table_name(&tmp, name, sizeof name), pos, (long long)vt, fb->len);
    uint32_t vt_len = graft__fb_load_u16(fb->buf + vt);
    uint32_t obj_len = graft__fb_load_u16(fb->buf + vt + 2);
    if (vt_len < 4 || (vt_len & 1) || (uint64_t)vt + vt_len > fb->len)
        return graft__fail(GRAFT_ECORRUPT, "%s: %s (offset %zu): vtable at offset %lld has a "
                           "bad length %u (buffer of %zu bytes)", fb->what,
                           table_name(&tmp, name, sizeof name), pos, (long long)vt, vt_len,
                           fb->len);
    if (obj_len < 4 || (uint64_t)pos + obj_len > fb->len)
        return graft__fail(GRAFT_ECORRUPT, "%s: %s (offset %zu): inline size %u runs past the "
                           "end of the buffer (%zu bytes)", fb->what,
                           table_name(&tmp, name, sizeof name), pos, obj_len, fb->len);
    tmp.vt = (size_t)vt;
    tmp.vt_len = vt_len;
    tmp.obj_len = obj_len;
    *t = tmp;
    return 0;
}

int graft__fb_root(const graft__fb *fb, const char *what, graft__fb_table *root) {
    size_t pos = graft__fb_load_u32(fb->buf);
    return open_table(fb, pos, what, -1, root);
}

/* The field's offset inside the table (0: absent), checked to hold `size` bytes. */
static int field_offset(const graft__fb_table *t, int id, uint32_t size, uint32_t *off) {
    *off = 0;
    uint32_t slot = 4 + 2 * (uint32_t)id;
    if (id < 0 || slot + 2 > t->vt_len) return 0;
    uint32_t fo = graft__fb_load_u16(t->fb->buf + t->vt + slot);
    if (!fo) return 0;
    if (fo < 4 || fo + size > t->obj_len) {
        char name[96];
        return graft__fail(GRAFT_ECORRUPT, "%s: %s (offset %zu) field %d: %u bytes at table "
                           "offset %u lie outside the table's %u bytes", t->fb->what,
                           table_name(t, name, sizeof name), t->pos, id, size, fo, t->obj_len);
    }
    *off = fo;
    return 0;
}

int graft__fb_has(const graft__fb_table *t, int id) {
    uint32_t slot = 4 + 2 * (uint32_t)id;
    if (id < 0 || slot + 2 > t->vt_len) return 0;
    return graft__fb_load_u16(t->fb->buf + t->vt + slot) != 0;
}

int graft__fb_u8(const graft__fb_table *t, int id, uint8_t def, uint8_t *out) {
    uint32_t off;
    int err = field_offset(t, id, 1, &off);
    if (err) return err;
    *out = off ? t->fb->buf[t->pos + off] : def;
    return 0;
}

int graft__fb_i8(const graft__fb_table *t, int id, int8_t def, int8_t *out) {
    uint8_t u;
    int err = graft__fb_u8(t, id, (uint8_t)def, &u);
    if (err) return err;
    *out = (int8_t)u;
    return 0;
}

int graft__fb_u32(const graft__fb_table *t, int id, uint32_t def, uint32_t *out) {
    uint32_t off;
    int err = field_offset(t, id, 4, &off);
    if (err) return err;
    *out = off ? graft__fb_load_u32(t->fb->buf + t->pos + off) : def;
    return 0;
}

int graft__fb_i32(const graft__fb_table *t, int id, int32_t def, int32_t *out) {
    uint32_t u;
    int err = graft__fb_u32(t, id, (uint32_t)def, &u);
    if (err) return err;
    *out = (int32_t)u;
    return 0;
}

int graft__fb_u64(const graft__fb_table *t, int id, uint64_t def, uint64_t *out) {
    uint32_t off;
    int err = field_offset(t, id, 8, &off);
    if (err) return err;
    *out = off ? graft__fb_load_u64(t->fb->buf + t->pos + off) : def;
    return 0;
}

int graft__fb_f32(const graft__fb_table *t, int id, float def, float *out) {
    uint32_t u;
    memcpy(&u, &def, 4);
    int err = graft__fb_u32(t, id, u, &u);
    if (err) return err;
    memcpy(out, &u, 4);
    return 0;
}

/*
 * Follows the uoffset stored at buf[at]: *target = at + value, which must leave room for
 * `need` bytes. `what_field` describes the referring field for messages.
 */
static int follow(const graft__fb *fb, size_t at, uint32_t need, size_t *target,
                  const char *who, int id) {
    uint64_t dst = (uint64_t)at + graft__fb_load_u32(fb->buf + at);
    if (dst > fb->len || fb->len - dst < need)
        return graft__fail(GRAFT_ECORRUPT, "%s: %s field %d: offset at %zu points to %llu, "
                           "past the end of the buffer (%zu bytes)", fb->what, who, id, at,
                           (unsigned long long)dst, fb->len);
    *target = (size_t)dst;
    return 0;
}

int graft__fb_table_field(const graft__fb_table *t, int id, const char *what,
                          graft__fb_table *sub) {
    memset(sub, 0, sizeof *sub);
    uint32_t off;
    int err = field_offset(t, id, 4, &off);
    if (err) return err;
    if (!off) return 0;
    char name[96];
    size_t pos = 0;
    err = follow(t->fb, t->pos + off, 4, &pos, table_name(t, name, sizeof name), id);
    if (err) return err;
    err = open_table(t->fb, pos, what, -1, sub);
    return err ? err : 1;
}

/* Opens the vector at pos (its length word) with elements of elem_size bytes. */
static int open_vec(const graft__fb *fb, size_t pos, uint32_t elem_size, const char *who,
                    int id, graft__fb_vec *v) {
    uint32_t n = graft__fb_load_u32(fb->buf + pos);
    uint64_t bytes = (uint64_t)n * elem_size;
    if (bytes > fb->len - pos - 4)
        return graft__fail(GRAFT_ECORRUPT, "%s: %s field %d: vector of %u x %u bytes at offset "
                           "%zu runs past the end of the buffer (%zu bytes)", fb->what, who,
                           id, n, elem_size, pos, fb->len);
    v->fb = fb;
    v->pos = pos + 4;
    v->n = n;
    v->elem_size = elem_size;
    return 0;
}

int graft__fb_vec_field(const graft__fb_table *t, int id, uint32_t elem_size, graft__fb_vec *v) {
    memset(v, 0, sizeof *v);
    v->fb = t->fb;
    v->elem_size = elem_size;
    uint32_t off;
    int err = field_offset(t, id, 4, &off);
    if (err) return err;
    if (!off) return 0;
    char name[96];
    table_name(t, name, sizeof name);
    size_t pos = 0;
    err = follow(t->fb, t->pos + off, 4, &pos, name, id);
    if (!err) err = open_vec(t->fb, pos, elem_size, name, id, v);
    return err ? err : 1;
}

/* The string whose length word is at pos. */
static int open_string(const graft__fb *fb, size_t pos, const char *who, int id,
                       const char **s, size_t *n) {
    uint32_t len = graft__fb_load_u32(fb->buf + pos);
    if ((uint64_t)len + 1 > fb->len - pos - 4)
        return graft__fail(GRAFT_ECORRUPT, "%s: %s field %d: string of %u bytes at offset %zu "
                           "runs past the end of the buffer (%zu bytes)", fb->what, who, id,
                           len, pos, fb->len);
    if (fb->buf[pos + 4 + len] != 0)
        return graft__fail(GRAFT_ECORRUPT, "%s: %s field %d: string at offset %zu is not "
                           "NUL-terminated", fb->what, who, id, pos);
    *s = (const char *)fb->buf + pos + 4;
    *n = len;
    return 0;
}

int graft__fb_string_field(const graft__fb_table *t, int id, const char **s, size_t *n) {
    *s = "";
    *n = 0;
    uint32_t off;
    int err = field_offset(t, id, 4, &off);
    if (err) return err;
    if (!off) return 0;
    char name[96];
    table_name(t, name, sizeof name);
    size_t pos = 0;
    err = follow(t->fb, t->pos + off, 4, &pos, name, id);
    if (!err) err = open_string(t->fb, pos, name, id, s, n);
    return err ? err : 1;
}

int graft__fb_vec_table(const graft__fb_vec *v, uint32_t i, const char *what,
                        graft__fb_table *sub) {
    char who[96];
    snprintf(who, sizeof who, "%s[%u] (vector element)", what, i);
    size_t at = v->pos + (size_t)i * 4, pos = 0;
    int err = follow(v->fb, at, 4, &pos, who, 0);
    if (err) return err;
    return open_table(v->fb, pos, what, (long)i, sub);
}

int graft__fb_vec_string(const graft__fb_vec *v, uint32_t i, const char **s, size_t *n) {
    char who[64];
    snprintf(who, sizeof who, "string[%u] (vector element)", i);
    size_t at = v->pos + (size_t)i * 4, pos = 0;
    int err = follow(v->fb, at, 4, &pos, who, 0);
    if (err) return err;
    return open_string(v->fb, pos, who, 0, s, n);
}

uint8_t graft__fb_vec_u8(const graft__fb_vec *v, uint32_t i) { return v->fb->buf[v->pos + i]; }

int32_t graft__fb_vec_i32(const graft__fb_vec *v, uint32_t i) {
    return (int32_t)graft__fb_load_u32(v->fb->buf + v->pos + (size_t)i * 4);
}

int64_t graft__fb_vec_i64(const graft__fb_vec *v, uint32_t i) {
    return (int64_t)graft__fb_load_u64(v->fb->buf + v->pos + (size_t)i * 8);
}

float graft__fb_vec_f32(const graft__fb_vec *v, uint32_t i) {
    uint32_t u = graft__fb_load_u32(v->fb->buf + v->pos + (size_t)i * 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

const uint8_t *graft__fb_vec_data(const graft__fb_vec *v) { return v->fb->buf + v->pos; }
