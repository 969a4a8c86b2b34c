/*
 * cache.h: the feature cache: CNN codes on disk, written once by `graft extract`, read by
 * every classifier after.
 *
 * A cache is a directory:
 *   manifest.json          what made the codes: graft version, model (path, sha256), taps
 *                          (name, per-sample shape), preprocessing, dtype. Written once.
 *   classes.txt            the label names seen so far, sorted bytewise, one per line
 *                          (escaped as index fields are); rewritten (temp + rename) at
 *                          every commit. Advisory: readers derive the classes from the rows.
 *   segments/NNNNNN.tapT.npy    codes of segment NNNNNN (numbered from 000001, at least six
 *                          digits; a committed number is never reused) for tap T (0-based, manifest order): shape
 *                          (rows, *tap shape), '<f4' or '<f2', C order, data 64-byte aligned;
 *                          numpy.load(path, mmap_mode="r") opens them.
 *   segments/NNNNNN.index.tsv   one line per row: key, label ("" when none), split (none,
 *                          train, val, test), shard, sha256 (64 lowercase hex digits of the
 *                          image bytes), member, tab-separated, with tab, newline, carriage
 *                          return and backslash in fields written as \t \n \r \\; a header
 *                          line first. Its presence commits the segment: it is renamed into
 *                          place last.
 *   rejects.tsv            shard, member, key, sha256 (or "-"), reason: one line per skipped
 *                          sample, appended (header line first).
 *   .tmp-*, segments/.tmp-*     files of a commit in progress or interrupted.
 * Segments are append-only and committed by write-to-temp, fsync, rename, fsync of the
 * directory, so a crash at any moment leaves every committed segment intact; files of an
 * interrupted commit are ignored by readers and removed by the next writer. When a key was
 * extracted again with different content, the later segment's row supersedes the earlier one
 * (within one segment, the later row).
 */
#ifndef GRAFT_CACHE_H
#define GRAFT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "graft.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum graft_cache_dtype {
    GRAFT_CACHE_DTYPE_F32 = 0, /* "float32" */
    GRAFT_CACHE_DTYPE_F16      /* "float16" (IEEE half, round to nearest even) */
} graft_cache_dtype;

#define GRAFT_CACHE_MAX_TAPS 16
#define GRAFT_CACHE_MAX_RANK 4

/* One tap: its tensor name and the shape of one sample's code (no batch axis). */
typedef struct graft_cache_tap {
    const char *name;
    int rank;                            /* 1 .. GRAFT_CACHE_MAX_RANK */
    int64_t dims[GRAFT_CACHE_MAX_RANK];  /* e.g. {1280} or {512, 7, 7} */
} graft_cache_tap;

/*
 * What identifies a cache. Two runs may share a cache only when model_sha256, the taps (names
 * and shapes, in order), preprocess and dtype are all equal. Strings are borrowed for the call.
 */
typedef struct graft_cache_config {
    const char *model_path;    /* informational (shown by `graft cache stat`) */
    const char *model_sha256;  /* 64 lowercase hex digits */
    int tap_count;             /* 1 .. GRAFT_CACHE_MAX_TAPS */
    const graft_cache_tap *taps;
    const char *preprocess;    /* a canonical one-line description, compared as a string */
    graft_cache_dtype dtype;
} graft_cache_config;

typedef struct graft_cache graft_cache;
typedef struct graft_cache_segment graft_cache_segment;

/*
 * Opens the cache at `dir` for appending, creating the directory (and its parents) and its
 * manifest when the directory is absent or empty. An existing cache must match cfg:
 * GRAFT_EMISMATCH otherwise, with a message naming the field and both values ("cache out/ was
 * made with model sha256 1f2e... (a.onnx), not 9c0d... (b.onnx)"); a directory that is not
 * empty and has no manifest.json is refused with GRAFT_EMISMATCH too, so that graft never
 * writes into a directory it did not make. Loads the committed keys for resuming and removes
 * files of interrupted commits. One writer at a time: the directory is flock'd until
 * graft_cache_close(), and a second open (from any process) fails with GRAFT_EIO. Errors:
 * GRAFT_EINVAL (bad cfg: model_sha256 not 64 lowercase hex digits, 0 or too many taps, a
 * rank or dimension out of range), GRAFT_EMISMATCH, GRAFT_ECORRUPT (unreadable manifest or
 * index), GRAFT_EUNSUPPORTED (a manifest of a later format version), GRAFT_EIO, GRAFT_ENOSPC,
 * GRAFT_ENOMEM. *out written only on success.
 */
int graft_cache_open(const char *dir, const graft_cache_config *cfg, graft_cache **out);

/*
 * Discards rows appended but not sealed, waits for nothing (call it after the last
 * graft_cache_write() returned; sealed segments not yet written must be written or discarded
 * first), releases the directory, frees. NULL does nothing.
 */
void graft_cache_close(graft_cache *c);

/*
 * Resuming: 1 when `key` is committed (or appended, or sealed) with this image hash, 2 when
 * it was rejected before with this hash (rejects.tsv), 0 otherwise (unknown key, or known with
 * other content: it will be extracted again and supersede). When the key is appended or
 * sealed, that newest row decides, not an older committed one. O(1) (a hash table over every
 * committed key); safe to call while graft_cache_write() runs on another thread.
 */
int graft_cache_contains(const graft_cache *c, const char *key, const uint8_t sha256[32]);

/* The metadata of one row; strings are copied. */
typedef struct graft_cache_row {
    const char *key, *label /* NULL: none */, *shard, *member;
    graft_split split;
    uint8_t sha256[32];
} graft_cache_row;

/*
 * Appends one row: codes[t] holds the tap's code (product of its dims floats), converted to
 * the cache's dtype and copied. Owner thread. A label of NULL or "" means none. Errors:
 * GRAFT_EINVAL (NULL or empty key, NULL code, unknown split, a NaN or infinite value),
 * GRAFT_ERANGE (float16 cache: a value beyond +-65504), GRAFT_ENOMEM; the row is not added
 * then.
 */
int graft_cache_append(graft_cache *c, const graft_cache_row *row, const float *const *codes);

/* Rows appended since the last seal. */
size_t graft_cache_pending(const graft_cache *c);

/*
 * Detaches the rows appended so far into a segment for graft_cache_write(), giving it the
 * next segment number; *out = NULL when there are none. The caller owns the segment until it
 * passes it to graft_cache_write() or graft_cache_discard(), before graft_cache_close().
 */
int graft_cache_seal(graft_cache *c, graft_cache_segment **out);

/* Rows of a sealed segment (0 for NULL). */
size_t graft_cache_segment_rows(const graft_cache_segment *seg);

/*
 * Frees a sealed segment without writing it (shutting down early): its rows are forgotten,
 * so contains() no longer reports them, and its number stays unused. NULL seg does nothing.
 */
void graft_cache_discard(graft_cache *c, graft_cache_segment *seg);

/*
 * Commits a sealed segment (temp files, fsync, rename, directory fsync) and frees it, on
 * success or failure. Blocking I/O: meant for a worker thread, and may run while the owning
 * thread goes on calling contains/append/seal/reject; at most one write at a time. On failure
 * nothing of the segment is visible and every earlier segment is intact: GRAFT_ENOSPC (disk
 * full, quota, file size limit), GRAFT_EIO (other errors, with strerror and the file). The
 * one exception is a failure after the index was renamed into place (the final directory
 * fsync, or replacing classes.txt, which readers never need): the segment is then committed
 * and counted, and the error still reported.
 */
int graft_cache_write(graft_cache *c, graft_cache_segment *seg);

/*
 * The detailed message of the last failed graft_cache_write(), for a thread other than the
 * one that ran it (graft_last_error() is per thread): a libuv after-work callback, say. ""
 * when no write failed. Valid until the next write fails; owned by the cache.
 */
const char *graft_cache_write_error(const graft_cache *c);

/*
 * Logs a skipped sample to rejects.tsv at once (one write(2), not fsync'd). sha256 may be
 * NULL (then contains() never answers 2 for it). Tabs and newlines in the fields are replaced
 * by spaces. Owner thread. Errors: GRAFT_EIO, GRAFT_ENOSPC, GRAFT_ENOMEM.
 */
int graft_cache_reject(graft_cache *c, const char *shard, const char *member, const char *key,
                       const uint8_t *sha256, const char *reason);

/* Committed rows (after superseding: distinct keys), for summaries. Any thread. */
size_t graft_cache_committed_rows(const graft_cache *c);

/*
 * IEEE 754 half precision, as float16 caches store codes: rounds to nearest, ties to even,
 * subnormals exact, overflow to infinity, NaN kept NaN. Exposed for tests and for readers of
 * the raw segment files.
 */
uint16_t graft_f32_to_f16(float x);
float graft_f16_to_f32(uint16_t h);

/* ---- reading ----------------------------------------------------------------------------- */

/*
 * A read-only view of every committed segment: the codes mmap'd, the index parsed, superseded
 * rows dropped. Rows are in commit order. Thread-safe for concurrent readers once opened.
 */
typedef struct graft_cache_view graft_cache_view;

/* Errors: GRAFT_EIO (no such cache), GRAFT_ECORRUPT (bad manifest, index, or .npy whose
 * header, dtype or shape disagrees with the manifest and its index; the message names the
 * file), GRAFT_EUNSUPPORTED (a later format version), GRAFT_ENOMEM. Files of interrupted
 * commits are ignored. The view is a snapshot: segments committed after it opened are not
 * in it. Time and memory are linear in the rows (about 100 bytes per row plus the index
 * text); the codes stay on disk, mapped. *out written only on success. */
int graft_cache_view_open(const char *dir, graft_cache_view **out);
void graft_cache_view_close(graft_cache_view *v);

size_t graft_cache_view_rows(const graft_cache_view *v);
size_t graft_cache_view_segments(const graft_cache_view *v);
int graft_cache_view_tap_count(const graft_cache_view *v);
/* The tap's manifest entry (name owned by the view). */
const graft_cache_tap *graft_cache_view_tap(const graft_cache_view *v, int tap);
/* Floats per sample of the tap (product of its dims). */
size_t graft_cache_view_dim(const graft_cache_view *v, int tap);
graft_cache_dtype graft_cache_view_dtype(const graft_cache_view *v);
const char *graft_cache_view_model_sha256(const graft_cache_view *v);
const char *graft_cache_view_model_path(const graft_cache_view *v);
const char *graft_cache_view_preprocess(const graft_cache_view *v);

/* Classes: the sorted label names of the rows; a row's label is an index into them. */
int graft_cache_view_class_count(const graft_cache_view *v);
const char *graft_cache_view_class_name(const graft_cache_view *v, int k);

/* Per-row metadata (row < rows; strings owned by the view). label: class index, -1 if none. */
typedef struct graft_cache_row_info {
    const char *key, *shard, *member;
    int label;
    graft_split split;
    uint8_t sha256[32];
    size_t segment;        /* which segment: 0-based in commit order (0 .. view_segments - 1),
                              not the NNNNNN of its file name */
    size_t segment_row;    /* the row within that segment's files */
} graft_cache_row_info;
int graft_cache_view_row(const graft_cache_view *v, size_t row, graft_cache_row_info *out);

/*
 * Copies rows [row, row + count) of a tap as float32 into dst (count * dim floats,
 * caller-owned), converting float16. Errors: GRAFT_EINVAL (out of range, NULL dst).
 */
int graft_cache_view_codes(const graft_cache_view *v, int tap, size_t row, size_t count,
                           float *dst);

#ifdef __cplusplus
}
#endif
#endif
