/*
 * pipeline/io/npy.c: the .npy reader and writer of graft/npy.h.
 *
 * The header is a Python dict literal ("{'descr': '<f4', 'fortran_order': False,
 * 'shape': (224, 224, 3), }"); it is parsed by a small tokenizer that accepts exactly the
 * literal forms numpy writes (quoted strings, True/False, tuples of integers, with optional
 * trailing commas and Python 2's "3L") and refuses anything else. Nothing is evaluated.
 *
 * It does not support other dtypes, Fortran order, structured arrays or memory mapping;
 * callers that need them convert with numpy first.
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
    }
    return 0;
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

static void swap4(uint8_t *p, size_t count) {
    for (size_t i = 0; i < count; i++, p += 4) {
        uint8_t t = p[0];
        p[0] = p[3], p[3] = t;
        t = p[1];
        p[1] = p[2], p[2] = t;
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

typedef struct npy_header {
    char descr[16];
    int fortran_order;
    int rank;
    size_t shape[GRAFT_NPY_MAX_RANK];
    int have_descr, have_order, have_shape;
} npy_header;

static int parse_dict(const char *text, size_t len, npy_header *h) {
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

int graft_npy_parse(const void *buf, size_t len, graft_npy *out) {
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
    npy_header h;
    int err = parse_dict((const char *)p + header_at, header_len, &h);
    if (err) return err;

    graft_npy_dtype dtype;
    int swap = 0;
    if (strcmp(h.descr, "<f4") == 0 || strcmp(h.descr, ">f4") == 0) {
        dtype = GRAFT_NPY_DTYPE_F32;
        swap = (h.descr[0] == '<') != host_is_little_endian();
    } else if (strcmp(h.descr, "|u1") == 0 || strcmp(h.descr, "<u1") == 0 ||
               strcmp(h.descr, ">u1") == 0) {
        dtype = GRAFT_NPY_DTYPE_U8;
    } else {
        return graft__fail(GRAFT_EUNSUPPORTED, "npy: dtype '%s' (only float32 and uint8)",
                           h.descr);
    }
    if (h.fortran_order)
        return graft__fail(GRAFT_EUNSUPPORTED, "npy: Fortran-ordered arrays are not supported");

    const size_t elem = graft_npy_dtype_size(dtype);
    size_t count = 1;
    for (int d = 0; d < h.rank; d++) {
        if (h.shape[d] && count > SIZE_MAX / elem / h.shape[d])
            return graft__fail(GRAFT_ERANGE, "npy: the shape's size overflows");
        count *= h.shape[d];
    }
    const size_t data_at = header_at + header_len, bytes = count * elem;
    if (len - data_at != bytes)
        return graft__fail(GRAFT_ECORRUPT, "npy: %s: the shape needs %zu data bytes, the file "
                           "has %zu", len - data_at < bytes ? "truncated" : "trailing bytes",
                           bytes, len - data_at);
    void *data = malloc(bytes ? bytes : 1);
    if (!data) return graft__fail(GRAFT_ENOMEM, "npy: cannot allocate %zu bytes", bytes);
    memcpy(data, p + data_at, bytes);
    if (swap) swap4(data, count);

    memset(out, 0, sizeof *out);
    out->dtype = dtype;
    out->rank = h.rank;
    for (int d = 0; d < h.rank; d++) out->shape[d] = h.shape[d];
    out->count = count;
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

int graft_npy_write(const char *path, graft_npy_dtype dtype, int rank, const size_t *shape,
                    const void *data) {
    const size_t elem = graft_npy_dtype_size(dtype);
    if (!path || !elem || rank < 0 || rank > GRAFT_NPY_MAX_RANK || (rank && !shape))
        return graft__fail(GRAFT_EINVAL, "npy: write: bad path, dtype or rank %d", rank);
    size_t count = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] && count > SIZE_MAX / elem / shape[d])
            return graft__fail(GRAFT_ERANGE, "npy: write: the shape's size overflows");
        count *= shape[d];
    }
    if (count && !data) return graft__fail(GRAFT_EINVAL, "npy: write: NULL data");

    /* The dict as numpy.save formats it, padded with spaces and a newline so that the data
     * starts on a 64-byte boundary. */
    char header[512];
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     dtype == GRAFT_NPY_DTYPE_F32 ? "<f4" : "|u1");
    for (int d = 0; d < rank; d++)
        n += snprintf(header + n, sizeof header - (size_t)n, "%zu%s", shape[d],
                      rank == 1 ? "," : d + 1 < rank ? ", " : "");
    n += snprintf(header + n, sizeof header - (size_t)n, "), }");
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t header_len = padded - 10;
    memset(header + n, ' ', header_len - 1 - (size_t)n);
    header[header_len - 1] = '\n';

    uint8_t preamble[10];
    memcpy(preamble, npy_magic, 6);
    preamble[6] = 1;
    preamble[7] = 0;
    preamble[8] = (uint8_t)(header_len & 0xff);
    preamble[9] = (uint8_t)(header_len >> 8);

    FILE *f = fopen(path, "wb");
    if (!f) return graft__fail(GRAFT_EIO, "npy: %s: %s", path, strerror(errno));
    int ok = fwrite(preamble, 1, 10, f) == 10 && fwrite(header, 1, header_len, f) == header_len;
    if (ok && dtype == GRAFT_NPY_DTYPE_F32 && !host_is_little_endian()) {
        /* Written little-endian through a small bounce buffer. */
        uint8_t chunk[4096];
        const uint8_t *src = data;
        for (size_t done = 0; ok && done < count;) {
            size_t m = count - done < sizeof chunk / 4 ? count - done : sizeof chunk / 4;
            memcpy(chunk, src + done * 4, m * 4);
            swap4(chunk, m);
            ok = fwrite(chunk, 4, m, f) == m;
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
