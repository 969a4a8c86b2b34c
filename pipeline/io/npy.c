/*
 * pipeline/io/npy.c: the .npy reader and writer of graft/npy.h.
 *
 * The header is a Python dict literal ("{'descr': '<f4', 'fortran_order': False,
 * 'shape': (224, 224, 3), }"); it is parsed by a small tokenizer that accepts exactly the
 * literal forms numpy writes (quoted strings, True/False, tuples of integers, with optional
 * trailing commas and Python 2's "3L") and refuses anything else. Nothing is evaluated.
 *
 * It does not support other dtypes, Fortran order, structured arrays or memory mapping
 * itself (the header functions let a caller map the data); callers that need more convert
 * with numpy first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graft/npy.h"
#include "kernels.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

size_t graft_npy_dtype_size(graft_npy_dtype dtype) {
    switch (dtype) {
    case GRAFT_NPY_DTYPE_F32: return 4;
    case GRAFT_NPY_DTYPE_U8: return 1;
    case GRAFT_NPY_DTYPE_F16: return 2;
    case GRAFT_NPY_DTYPE_I32: return 4;
    case GRAFT_NPY_DTYPE_I64: return 8;
    }
    return 0;
}

/* The descr written for each dtype; the reader also accepts the other byte order. */
static const char *dtype_descr(graft_npy_dtype dtype) {
    switch (dtype) {
    case GRAFT_NPY_DTYPE_F32: return "<f4";
    case GRAFT_NPY_DTYPE_U8: return "|u1";
    case GRAFT_NPY_DTYPE_F16: return "<f2";
    case GRAFT_NPY_DTYPE_I32: return "<i4";
    case GRAFT_NPY_DTYPE_I64: return "<i8";
    }
    return NULL;
}

void graft_npy_free(graft_npy *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reverses the bytes of each of `count` elements of `size` bytes. */
static void swap_elems(uint8_t *p, size_t count, size_t size) {
    if (size < 2) return;
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b], p[b] = t;
        }
}

/* ---- the header dict --------------------------------------------------------------------- */

typedef struct hdr_lexer {
    const char *p, *end;
} hdr_lexer;

static void skip_space(hdr_lexer *lx) {
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
        lx->p++;
}

static int accept(hdr_lexer *lx, char c) {
    skip_space(lx);
    if (lx->p < lx->end && *lx->p == c) {
        lx->p++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes (numpy never writes any in these fields) into out. */
static int read_string(hdr_lexer *lx, char *out, size_t cap) {
    skip_space(lx);
    if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"')) return -1;
    const char q = *lx->p++;
    size_t n = 0;
    while (lx->p < lx->end && *lx->p != q) {
        if (*lx->p == '\\' || n + 1 >= cap) return -1;
        out[n++] = *lx->p++;
    }
    if (lx->p >= lx->end) return -1;
    lx->p++;
    out[n] = '\0';
    return 0;
}

static int read_word(hdr_lexer *lx, const char *word) {
    skip_space(lx);
    size_t n = strlen(word);
    if ((size_t)(lx->end - lx->p) < n || memcmp(lx->p, word, n) != 0) return -1;
    lx->p += n;
    return 0;
}

/* "(3, 4)", "(5,)", "()" with optional L suffixes; fills shape and rank. */
static int read_shape(hdr_lexer *lx, size_t *shape, int *rank) {
    if (!accept(lx, '(')) return -1;
    *rank = 0;
    for (;;) {
        if (accept(lx, ')')) return 0;
        skip_space(lx);
        if (lx->p >= lx->end || *lx->p < '0' || *lx->p > '9') return -1;
        size_t v = 0;
        while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') {
            unsigned d = (unsigned)(*lx->p++ - '0');
            if (v > (SIZE_MAX - d) / 10) return -2;
            v = v * 10 + d;
        }
        if (lx->p < lx->end && *lx->p == 'L') lx->p++;
        if (*rank >= GRAFT_NPY_MAX_RANK) return -3;
        shape[(*rank)++] = v;
        if (!accept(lx, ',')) {
            if (!accept(lx, ')')) return -1;
            return 0;
        }
    }
}

typedef struct hdr_dict {
    char descr[16];
    int fortran_order;
    int rank;
    size_t shape[GRAFT_NPY_MAX_RANK];
    int have_descr, have_order, have_shape;
} hdr_dict;

static int parse_dict(const char *text, size_t len, hdr_dict *h) {
    hdr_lexer lx = {text, text + len};
    memset(h, 0, sizeof *h);
    if (!accept(&lx, '{')) return graft__fail(GRAFT_ECORRUPT, "npy: header is not a dict");
    while (!accept(&lx, '}')) {
        char key[32];
        if (read_string(&lx, key, sizeof key) || !accept(&lx, ':'))
            return graft__fail(GRAFT_ECORRUPT, "npy: malformed header key");
        if (strcmp(key, "descr") == 0) {
            if (read_string(&lx, h->descr, sizeof h->descr))
                return graft__fail(GRAFT_EUNSUPPORTED, "npy: descr is not a simple dtype "
                                   "string (structured arrays are not supported)");
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (read_word(&lx, "True") == 0)
                h->fortran_order = 1;
            else if (read_word(&lx, "False") == 0)
                h->fortran_order = 0;
            else
                return graft__fail(GRAFT_ECORRUPT, "npy: fortran_order is not True or False");
            h->have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            int rc = read_shape(&lx, h->shape, &h->rank);
            if (rc == -2) return graft__fail(GRAFT_ERANGE, "npy: a dimension overflows");
            if (rc == -3)
                return graft__fail(GRAFT_EUNSUPPORTED, "npy: more than %d dimensions",
                                   GRAFT_NPY_MAX_RANK);
            if (rc) return graft__fail(GRAFT_ECORRUPT, "npy: malformed shape tuple");
            h->have_shape = 1;
        } else {
            return graft__fail(GRAFT_ECORRUPT, "npy: unexpected header key '%s'", key);
        }
        if (!accept(&lx, ',')) {
            if (!accept(&lx, '}')) return graft__fail(GRAFT_ECORRUPT, "npy: malformed header");
            break;
        }
    }
    skip_space(&lx);
    if (lx.p != lx.end) return graft__fail(GRAFT_ECORRUPT, "npy: text after the header dict");
    if (!h->have_descr || !h->have_order || !h->have_shape)
        return graft__fail(GRAFT_ECORRUPT, "npy: header lacks descr, fortran_order or shape");
    return GRAFT_OK;
}

/* ---- reading ----------------------------------------------------------------------------- */

int graft_npy_header_parse(const void *buf, size_t len, graft_npy_header *out) {
    if (!buf || !out) return graft__fail(GRAFT_EINVAL, "npy: NULL buffer or output");
    const uint8_t *p = buf;
    if (len < 10 || memcmp(p, npy_magic, 6) != 0)
        return graft__fail(GRAFT_ECORRUPT, "npy: not a .npy file (bad magic)");
    const unsigned major = p[6];
    size_t header_len, header_at;
    if (major == 1) {
        header_len = (size_t)p[8] | (size_t)p[9] << 8;
        header_at = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return graft__fail(GRAFT_ECORRUPT, "npy: truncated header");
        header_len = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 |
                     (size_t)p[11] << 24;
        header_at = 12;
    } else {
        return graft__fail(GRAFT_EUNSUPPORTED, "npy: format version %u.%u", major, p[7]);
    }
    if (header_len > len - header_at)
        return graft__fail(GRAFT_ECORRUPT, "npy: truncated: the %zu-byte header ends past the "
                           "%zu bytes of the file", header_len, len);
    hdr_dict h;
    int err = parse_dict((const char *)p + header_at, header_len, &h);
    if (err) return err;

    /* The byte-order character: '<' little, '>' big, '|' not applicable, '=' native. */
    static const struct {
        char code[3];
        graft_npy_dtype dtype;
    } known[] = {{"f4", GRAFT_NPY_DTYPE_F32}, {"u1", GRAFT_NPY_DTYPE_U8},
                 {"f2", GRAFT_NPY_DTYPE_F16}, {"i4", GRAFT_NPY_DTYPE_I32},
                 {"i8", GRAFT_NPY_DTYPE_I64}};
    graft_npy_dtype dtype = 0;
    int swap = 0;
    const char order = h.descr[0];
    if (strlen(h.descr) == 3 && (order == '<' || order == '>' || order == '|' || order == '='))
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(h.descr + 1, known[k].code) == 0) dtype = known[k].dtype;
    if (!dtype)
        return graft__fail(GRAFT_EUNSUPPORTED, "npy: dtype '%s' (only float32, float16, int32, "
                           "int64 and uint8)", h.descr);
    const size_t elem = graft_npy_dtype_size(dtype);
    if (elem > 1 && order == '|')
        return graft__fail(GRAFT_ECORRUPT, "npy: dtype '%s' lacks a byte order", h.descr);
    if (elem > 1 && order != '=') swap = (order == '<') != host_is_little_endian();
    if (h.fortran_order)
        return graft__fail(GRAFT_EUNSUPPORTED, "npy: Fortran-ordered arrays are not supported");

    size_t count = 1;
    for (int d = 0; d < h.rank; d++) {
        if (h.shape[d] && count > SIZE_MAX / elem / h.shape[d])
            return graft__fail(GRAFT_ERANGE, "npy: the shape's size overflows");
        count *= h.shape[d];
    }
    memset(out, 0, sizeof *out);
    out->dtype = dtype;
    out->swapped = swap;
    out->rank = h.rank;
    for (int d = 0; d < h.rank; d++) out->shape[d] = h.shape[d];
    out->count = count;
    out->data_offset = header_at + header_len;
    out->data_bytes = count * elem;
    return GRAFT_OK;
}

int graft_npy_parse(const void *buf, size_t len, graft_npy *out) {
    graft_npy_header h;
    int err = graft_npy_header_parse(buf, len, &h);
    if (err) return err;
    const uint8_t *p = buf;
    const size_t have = len - h.data_offset, bytes = h.data_bytes;
    if (have != bytes)
        return graft__fail(GRAFT_ECORRUPT, "npy: %s: the shape needs %zu data bytes, the file "
                           "has %zu", have < bytes ? "truncated" : "trailing bytes", bytes, have);
    void *data = malloc(bytes ? bytes : 1);
    if (!data) return graft__fail(GRAFT_ENOMEM, "npy: cannot allocate %zu bytes", bytes);
    memcpy(data, p + h.data_offset, bytes);
    if (h.swapped) swap_elems(data, h.count, graft_npy_dtype_size(h.dtype));

    memset(out, 0, sizeof *out);
    out->dtype = h.dtype;
    out->rank = h.rank;
    for (int d = 0; d < h.rank; d++) out->shape[d] = h.shape[d];
    out->count = h.count;
    out->data = data;
    return GRAFT_OK;
}

/* Larger files are refused: the arrays this reads are references and cache blocks. */
#define NPY_FILE_MAX_BYTES ((long)1 << 31)

int graft_npy_read(const char *path, graft_npy *out) {
    if (!path || !out) return graft__fail(GRAFT_EINVAL, "npy: NULL path or output");
    FILE *f = fopen(path, "rb");
    if (!f) return graft__fail(GRAFT_EIO, "npy: %s: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    int err = GRAFT_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        err = graft__fail(GRAFT_EIO, "npy: %s: cannot determine the size: %s", path,
                          strerror(errno));
        goto done;
    }
    if (size > NPY_FILE_MAX_BYTES) {
        err = graft__fail(GRAFT_ERANGE, "npy: %s: %ld bytes is too large", path, size);
        goto done;
    }
    buf = malloc((size_t)size + 1);
    if (!buf) {
        err = graft__fail(GRAFT_ENOMEM, "npy: %s: cannot allocate %ld bytes", path, size);
        goto done;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        err = graft__fail(GRAFT_EIO, "npy: %s: short read", path);
        goto done;
    }
    err = graft_npy_parse(buf, (size_t)size, out);
    if (err) {
        char detail[400];
        snprintf(detail, sizeof detail, "%s", graft_last_error());
        graft__fail(err, "%s: %s", path, detail);
    }
done:
    free(buf);
    fclose(f);
    return err;
}

/* ---- writing ----------------------------------------------------------------------------- */

int graft_npy_header_format(char *buf, size_t cap, graft_npy_dtype dtype, int rank,
                            const size_t *shape, size_t *len) {
    const size_t elem = graft_npy_dtype_size(dtype);
    if (!buf || !len || !elem || rank < 0 || rank > GRAFT_NPY_MAX_RANK || (rank && !shape))
        return graft__fail(GRAFT_EINVAL, "npy: header: bad buffer, dtype or rank %d", rank);
    size_t count = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] && count > SIZE_MAX / elem / shape[d])
            return graft__fail(GRAFT_ERANGE, "npy: write: the shape's size overflows");
        count *= shape[d];
    }
    /* The dict as numpy.save formats it, padded with spaces and a newline so that the data
     * starts on a 64-byte boundary (which also keeps mapped float data aligned). */
    char dict[GRAFT_NPY_HEADER_MAX];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     dtype_descr(dtype));
    for (int d = 0; d < rank; d++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%zu%s", shape[d],
                      rank == 1 ? "," : d + 1 < rank ? ", " : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    const size_t padded = (10 + (size_t)n + 1 + 63) / 64 * 64, header_len = padded - 10;
    if (padded > cap)
        return graft__fail(GRAFT_EINVAL, "npy: header: %zu bytes do not fit in %zu", padded,
                           cap);
    memcpy(buf, npy_magic, 6);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)(header_len & 0xff);
    buf[9] = (char)(header_len >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', header_len - 1 - (size_t)n);
    buf[padded - 1] = '\n';
    *len = padded;
    return GRAFT_OK;
}

int graft_npy_write(const char *path, graft_npy_dtype dtype, int rank, const size_t *shape,
                    const void *data) {
    const size_t elem = graft_npy_dtype_size(dtype);
    if (!path || !elem || rank < 0 || rank > GRAFT_NPY_MAX_RANK || (rank && !shape))
        return graft__fail(GRAFT_EINVAL, "npy: write: bad path, dtype or rank %d", rank);
    char header[GRAFT_NPY_HEADER_MAX];
    size_t header_len;
    int err = graft_npy_header_format(header, sizeof header, dtype, rank, shape, &header_len);
    if (err) return err;
    size_t count = 1;
    for (int d = 0; d < rank; d++) count *= shape[d];
    if (count && !data) return graft__fail(GRAFT_EINVAL, "npy: write: NULL data");

    FILE *f = fopen(path, "wb");
    if (!f) return graft__fail(GRAFT_EIO, "npy: %s: %s", path, strerror(errno));
    int ok = fwrite(header, 1, header_len, f) == header_len;
    if (ok && elem > 1 && !host_is_little_endian()) {
        /* Written little-endian through a small bounce buffer. */
        uint8_t chunk[4096];
        const uint8_t *src = data;
        const size_t per = sizeof chunk / elem;
        for (size_t done = 0; ok && done < count;) {
            size_t m = count - done < per ? count - done : per;
            memcpy(chunk, src + done * elem, m * elem);
            swap_elems(chunk, m, elem);
            ok = fwrite(chunk, elem, m, f) == m;
            done += m;
        }
    } else if (ok && count) {
        ok = fwrite(data, elem, count, f) == count;
    }
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) return graft__fail(GRAFT_EIO, "npy: %s: write failed: %s", path, strerror(saved));
    return GRAFT_OK;
}
