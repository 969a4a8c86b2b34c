/*
 * npy.h: reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0 read; 1.0
 * written) holding float32, float16, int32, int64 or uint8 arrays in C order: the reference
 * outputs the tests compare against, the feature cache's on-disk arrays and its exports.
 *
 * A deliberately small subset of the format: five dtypes, C order only, no pickled objects.
 * graft_npy_read() reads a file whole; callers that map or stream files (the feature cache)
 * use the header functions and handle the data themselves. Every header field and size is
 * checked before use, so a malformed file fails with GRAFT_ECORRUPT, never a crash.
 * All functions are thread-safe (no shared state beyond graft_last_error()).
 */
#ifndef GRAFT_NPY_H
#define GRAFT_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "graft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Big-endian files ('>f4', '>i8', ...) are read too and byte-swapped; files are written
 * little-endian. */
typedef enum graft_npy_dtype {
    GRAFT_NPY_DTYPE_F32 = 1, /* '<f4' */
    GRAFT_NPY_DTYPE_U8,      /* '|u1' */
    GRAFT_NPY_DTYPE_F16,     /* '<f2': IEEE half, kept as raw uint16_t bit patterns */
    GRAFT_NPY_DTYPE_I32,     /* '<i4' */
    GRAFT_NPY_DTYPE_I64      /* '<i8' */
} graft_npy_dtype;

#define GRAFT_NPY_MAX_RANK 8

/*
 * An array in memory: `count` elements of `dtype` in C order, in the host's byte order.
 * Owns `data` (malloc'd by the function that filled it); free with graft_npy_free(). A zeroed
 * struct is a valid empty array.
 */
typedef struct graft_npy {
    graft_npy_dtype dtype;
    int rank;                          /* 0 .. GRAFT_NPY_MAX_RANK; 0 is a scalar */
    size_t shape[GRAFT_NPY_MAX_RANK];  /* shape[0 .. rank-1] */
    size_t count;                      /* product of the shape (1 for a scalar) */
    void *data;                        /* (shape...) */
} graft_npy;

/* Bytes per element: 4 for F32 and I32, 8 for I64, 2 for F16, 1 for U8, 0 for anything
 * else. */
size_t graft_npy_dtype_size(graft_npy_dtype dtype);

/* Frees a->data and zeroes *a. NULL does nothing. */
void graft_npy_free(graft_npy *a);

/*
 * Parses a whole .npy file held in memory into a new array in *out (the data is copied;
 * `buf` is not retained). Errors: GRAFT_EINVAL (NULL), GRAFT_ECORRUPT (bad magic, header,
 * or a data size that does not match the shape), GRAFT_EUNSUPPORTED (another dtype,
 * fortran_order, rank above GRAFT_NPY_MAX_RANK), GRAFT_ERANGE (a shape whose size
 * overflows), GRAFT_ENOMEM. *out written only on success.
 */
int graft_npy_parse(const void *buf, size_t len, graft_npy *out);

/* Reads and parses the file at `path`: GRAFT_EIO when it cannot be read, else as above
 * with the path in the message. */
int graft_npy_read(const char *path, graft_npy *out);

/*
 * Writes `data` ((shape...) elements of `dtype`, C order, host byte order; borrowed) to
 * `path` as a version 1.0 file, exactly as numpy.save would (little-endian, header padded
 * to 64 bytes). The file is created or truncated; a failed write may leave a partial file.
 * Errors: GRAFT_EINVAL (NULL, unknown dtype, rank outside 0..GRAFT_NPY_MAX_RANK),
 * GRAFT_ERANGE (size overflow), GRAFT_EIO (with strerror).
 */
int graft_npy_write(const char *path, graft_npy_dtype dtype, int rank, const size_t *shape,
                    const void *data);

/* ---- headers alone, for callers that map or stream the data ------------------------------ */

/* What the header of a .npy file says. */
typedef struct graft_npy_header {
    graft_npy_dtype dtype;
    int swapped;                       /* 1: the data's byte order is not the host's */
    int rank;
    size_t shape[GRAFT_NPY_MAX_RANK];
    size_t count;                      /* product of the shape */
    size_t data_offset;                /* bytes before the data: preamble + header dict */
    size_t data_bytes;                 /* count * element size (overflow checked) */
} graft_npy_header;

/*
 * Parses the preamble and header dict at the start of `buf` (the whole file, or any prefix
 * holding the header; the data is not looked at, so the caller compares data_bytes with what
 * the file holds). Errors as graft_npy_parse(); a `len` shorter than the header is
 * GRAFT_ECORRUPT ("truncated"). *out written only on success.
 */
int graft_npy_header_parse(const void *buf, size_t len, graft_npy_header *out);

/* The largest header graft_npy_header_format() writes (rank 8, 20-digit dimensions). */
#define GRAFT_NPY_HEADER_MAX 512

/*
 * Formats the version 1.0 preamble and header dict that graft_npy_write() puts before the
 * data, padded with spaces and a newline to a multiple of 64 bytes, into buf[cap] (not
 * NUL-terminated); *len is its length. Appending `count * element size` little-endian bytes
 * makes a file numpy.load() opens (with mmap_mode="r" too). Errors: GRAFT_EINVAL (NULL,
 * unknown dtype, rank outside 0..GRAFT_NPY_MAX_RANK, cap too small), GRAFT_ERANGE (the
 * shape's size overflows).
 */
int graft_npy_header_format(char *buf, size_t cap, graft_npy_dtype dtype, int rank,
                            const size_t *shape, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
