/*
 * pipeline/model/protobuf.c: the bounds-checked protobuf wire-format reader declared in
 * protobuf.h, under the ONNX decoder.
 *
 * Decision: our own minimal reader over a caller-provided buffer instead of protobuf-c, so that
 * there is no code generation and no copy of the weights (see protobuf.h). Every read is
 * preceded by a check against the end of the current message, computed as "bytes left" so
 * that no pointer or offset is ever formed past the end, and no arithmetic on a length taken
 * from the file can wrap. It never allocates and keeps no state besides the reader itself.
 */
#include "protobuf.h"

#include "kernels.h"

/* Why a varint failed, for the message. */
enum { VARINT_OK = 0, VARINT_TRUNCATED, VARINT_TOO_LONG, VARINT_OVERFLOW };

static int varint_decode(const uint8_t *p, size_t avail, uint64_t *out, size_t *used) {
    uint64_t v = 0;
    for (size_t i = 0; i < GRAFT_PB_VARINT_MAX_BYTES; i++) {
        if (i >= avail) return VARINT_TRUNCATED;
        uint8_t b = p[i];
        /* The 10th byte holds bit 63 only; anything more does not fit in 64 bits. */
        if (i == GRAFT_PB_VARINT_MAX_BYTES - 1 && (b & 0x7f) > 1)
            return b & 0x80 ? VARINT_TOO_LONG : VARINT_OVERFLOW;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            *used = i + 1;
            return VARINT_OK;
        }
    }
    return VARINT_TOO_LONG;
}

static const char *varint_problem(int why) {
    switch (why) {
    case VARINT_TRUNCATED: return "truncated varint";
    case VARINT_TOO_LONG: return "varint longer than 10 bytes";
    default: return "varint overflows 64 bits";
    }
}

int graft_pb_varint(const uint8_t *p, size_t avail, uint64_t *out, size_t *used) {
    uint64_t v;
    size_t n;
    if (varint_decode(p, avail, &v, &n) != VARINT_OK) return GRAFT_ECORRUPT;
    *out = v;
    *used = n;
    return GRAFT_OK;
}

const char *graft_pb_wire_name(int wire) {
    switch (wire) {
    case GRAFT_PB_WIRE_VARINT: return "varint";
    case GRAFT_PB_WIRE_I64: return "fixed64";
    case GRAFT_PB_WIRE_LEN: return "length-delimited";
    case GRAFT_PB_WIRE_SGROUP: return "start-group";
    case GRAFT_PB_WIRE_EGROUP: return "end-group";
    case GRAFT_PB_WIRE_I32: return "fixed32";
    default: return "invalid";
    }
}

void graft_pb_reader_init(graft_pb_reader *r, const void *buf, size_t len, const char *what) {
    r->base = buf;
    r->pos = 0;
    r->end = len;
    r->what = what;
}

void graft_pb_reader_sub(graft_pb_reader *sub, const graft_pb_reader *parent,
                         const graft_pb_field *f, const char *what) {
    sub->base = parent->base;
    sub->pos = f->data_offset;
    sub->end = f->data_offset + f->len; /* checked by graft_pb_next() against parent->end */
    sub->what = what;
}

static uint64_t load_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int graft_pb_next(graft_pb_reader *r, graft_pb_field *f) {
    if (r->pos >= r->end) return 0;
    size_t tag_offset = r->pos;
    size_t left = r->end - r->pos;
    const uint8_t *p = r->base + r->pos;
    uint64_t tag, v = 0;
    size_t used;

    int why = varint_decode(p, left, &tag, &used);
    if (why)
        return graft__fail(GRAFT_ECORRUPT, "%s: %s in a field tag at offset %zu", r->what,
                           varint_problem(why), tag_offset);
    p += used, left -= used;
    uint64_t number = tag >> 3;
    int wire = (int)(tag & 7);
    if (number == 0 || number > 0x1fffffff)
        return graft__fail(GRAFT_ECORRUPT, "%s: invalid field number %llu at offset %zu", r->what,
                           (unsigned long long)number, tag_offset);

    f->number = (uint32_t)number;
    f->wire = (graft_pb_wire)wire;
    f->offset = tag_offset;
    f->u = 0;
    f->data = NULL;
    f->len = 0;
    f->data_offset = 0;
    switch (wire) {
    case GRAFT_PB_WIRE_VARINT:
        why = varint_decode(p, left, &v, &used);
        if (why)
            return graft__fail(GRAFT_ECORRUPT, "%s field %u: %s at offset %zu", r->what,
                               f->number, varint_problem(why), r->end - left);
        f->u = v;
        break;
    case GRAFT_PB_WIRE_I64:
    case GRAFT_PB_WIRE_I32:
        used = wire == GRAFT_PB_WIRE_I64 ? 8 : 4;
        if (left < used)
            return graft__fail(GRAFT_ECORRUPT, "%s field %u: %s value past end of buffer at "
                               "offset %zu (%zu bytes left)", r->what, f->number,
                               graft_pb_wire_name(wire), r->end - left, left);
        f->u = load_le(p, (int)used);
        break;
    case GRAFT_PB_WIRE_LEN:
        why = varint_decode(p, left, &v, &used);
        if (why)
            return graft__fail(GRAFT_ECORRUPT, "%s field %u: %s in a length at offset %zu",
                               r->what, f->number, varint_problem(why), r->end - left);
        p += used, left -= used;
        if (v > left)
            return graft__fail(GRAFT_ECORRUPT, "%s field %u: length %llu past end of buffer at "
                               "offset %zu (%zu bytes left)", r->what, f->number,
                               (unsigned long long)v, r->end - left, left);
        f->data = p;
        f->len = (size_t)v;
        f->data_offset = r->end - left;
        used = (size_t)v;
        break;
    default:
        return graft__fail(GRAFT_ECORRUPT, "%s field %u: unsupported wire type %d (%s) at "
                           "offset %zu", r->what, f->number, wire, graft_pb_wire_name(wire),
                           tag_offset);
    }
    left -= used;
    r->pos = r->end - left;
    return 1;
}

int graft_pb_repeated_begin(const graft_pb_reader *r, const graft_pb_field *f, graft_pb_wire elem,
                            graft_pb_repeated *it, size_t *count) {
    it->p = NULL;
    it->left = 0;
    it->elem = elem;
    it->single = 0;
    it->value = 0;
    if (f->wire == elem) {
        it->single = 1;
        it->value = f->u;
        *count = 1;
        return GRAFT_OK;
    }
    if (f->wire != GRAFT_PB_WIRE_LEN)
        return graft__fail(GRAFT_ECORRUPT, "%s field %u: wire type %s, expected %s or packed "
                           "at offset %zu", r->what, f->number, graft_pb_wire_name(f->wire),
                           graft_pb_wire_name(elem), f->offset);
    size_t n = 0;
    if (elem == GRAFT_PB_WIRE_I32 || elem == GRAFT_PB_WIRE_I64) {
        size_t width = elem == GRAFT_PB_WIRE_I32 ? 4 : 8;
        if (f->len % width)
            return graft__fail(GRAFT_ECORRUPT, "%s field %u: packed %s payload of %zu bytes is "
                               "not a multiple of %zu at offset %zu", r->what, f->number,
                               graft_pb_wire_name(elem), f->len, width, f->data_offset);
        n = f->len / width;
    } else {
        /* Varints have no fixed width: count them by decoding, which also validates them. */
        const uint8_t *p = f->data;
        size_t left = f->len;
        while (left) {
            uint64_t v;
            size_t used;
            int why = varint_decode(p, left, &v, &used);
            if (why)
                return graft__fail(GRAFT_ECORRUPT, "%s field %u: %s in packed values at offset "
                                   "%zu", r->what, f->number, varint_problem(why),
                                   f->data_offset + (f->len - left));
            p += used, left -= used, n++;
        }
    }
    it->p = f->data;
    it->left = f->len;
    *count = n;
    return GRAFT_OK;
}

int graft_pb_repeated_next(graft_pb_repeated *it, uint64_t *v) {
    if (it->single) {
        it->single = 0;
        *v = it->value;
        return 1;
    }
    if (!it->left) return 0;
    size_t used;
    if (it->elem == GRAFT_PB_WIRE_VARINT) {
        /* Validated by graft_pb_repeated_begin(); a failure here would be our bug. */
        if (varint_decode(it->p, it->left, v, &used) != VARINT_OK) {
            it->left = 0;
            return 0;
        }
    } else {
        used = it->elem == GRAFT_PB_WIRE_I32 ? 4 : 8;
        if (it->left < used) {
            it->left = 0;
            return 0;
        }
        *v = load_le(it->p, (int)used);
    }
    it->p += used;
    it->left -= used;
    return 1;
}
