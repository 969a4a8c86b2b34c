/*
 * pipeline/cache/cache_internal.h: what the files of the feature cache (graft/cache.h) and
 * the `graft cache` command share: the manifest, the index format, the directory scan, the
 * string arena and the key hash table. Internal to libgraft (prefix graft__).
 *
 * The on-disk layout is described at the top of include/graft/cache.h. Nothing here does
 * locking: the writer (cache.c) takes its own mutex around the shared tables.
 */
#ifndef GRAFT_PIPELINE_CACHE_INTERNAL_H
#define GRAFT_PIPELINE_CACHE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "graft/cache.h"

#define GRAFT__CACHE_MANIFEST "manifest.json"
#define GRAFT__CACHE_CLASSES "classes.txt"
#define GRAFT__CACHE_REJECTS "rejects.tsv"
#define GRAFT__CACHE_SEGDIR "segments"
#define GRAFT__CACHE_TMP_PREFIX ".tmp-"
#define GRAFT__CACHE_INDEX_HEADER "key\tlabel\tsplit\tshard\tsha256\tmember\n"
#define GRAFT__CACHE_REJECTS_HEADER "shard\tmember\tkey\tsha256\treason\n"
/* A manifest larger than this is not one we wrote. */
#define GRAFT__CACHE_MANIFEST_MAX ((size_t)1 << 20)

/* ---- splits (a table of our own: pipeline/cache does not link the read stage) ----------- */

/* "none", "train", "val", "test"; "?" outside the enum. */
const char *graft__cache_split_name(graft_split split);
/* The names above plus "valid" and "validation"; -1 for anything else. */
int graft__cache_split_parse(const char *name, graft_split *out);

/* ---- files ----------------------------------------------------------------------------- */

/* ENOSPC, EDQUOT and EFBIG: GRAFT_ENOSPC; any other errno: GRAFT_EIO. */
int graft__cache_errno_code(int errnum);

/*
 * Reads a whole file into a malloc'd buffer with a NUL appended (*len excludes it), at most
 * `max` bytes. GRAFT_EIO naming the path (errno kept in *errnum when not NULL, so callers can
 * tell a missing file), GRAFT_ERANGE (larger than max), GRAFT_ENOMEM.
 */
int graft__cache_read_file(const char *path, size_t max, char **buf, size_t *len, int *errnum);

/* 64 lowercase hex digits into 32 bytes; -1 when malformed. */
int graft__cache_hex_parse(const char *hex, size_t len, uint8_t out[32]);
/* 32 bytes as 64 lowercase hex digits plus a NUL (out[65]). */
void graft__cache_hex_format(const uint8_t sha[32], char out[65]);

/* "000042", the name stem of segment 42 (at least 6 digits). */
void graft__cache_seg_stem(uint64_t seg, char out[24]);

/* ---- the manifest ---------------------------------------------------------------------- */

typedef struct graft__manifest {
    char *graft_version, *created, *model_path, *model_sha256, *preprocess;
    int tap_count;
    graft_cache_tap taps[GRAFT_CACHE_MAX_TAPS]; /* names malloc'd */
    graft_cache_dtype dtype;
} graft__manifest;

/* "float32" / "float16". */
const char *graft__cache_dtype_name(graft_cache_dtype dtype);

/* GRAFT_EINVAL naming the first bad field of cfg, else GRAFT_OK. */
int graft__cache_config_check(const graft_cache_config *cfg);
/*
 * Checks cfg (GRAFT_EINVAL naming the bad field) and formats the manifest JSON for it into a
 * malloc'd NUL-terminated *text. `created` is the ISO time to record.
 */
int graft__manifest_format(const graft_cache_config *cfg, const char *created, char **text,
                           size_t *len);
/*
 * Parses manifest JSON (text[len], need not be terminated). GRAFT_ECORRUPT naming `path` and
 * what is wrong, GRAFT_EUNSUPPORTED for another format version, GRAFT_ENOMEM. *m written
 * only on success; free with graft__manifest_free().
 */
int graft__manifest_parse(const char *text, size_t len, const char *path, graft__manifest *m);
/* Reads and parses DIR/manifest.json; GRAFT_EIO when it cannot be read. */
int graft__manifest_load(const char *dir, graft__manifest *m);
void graft__manifest_free(graft__manifest *m);
/*
 * GRAFT_OK when the manifest matches cfg field by field (model sha256, taps, preprocess,
 * dtype), else GRAFT_EMISMATCH with a message naming the first differing field and both
 * values ("cache out/ was made with ..., not ...").
 */
int graft__manifest_compare(const graft__manifest *m, const graft_cache_config *cfg,
                            const char *dir);
/* Floats per sample of a tap (product of its dims). */
size_t graft__cache_tap_dim(const graft_cache_tap *tap);
/* "(512, 7, 7)" into buf. */
void graft__cache_shape_format(const graft_cache_tap *tap, char *buf, size_t cap);

/* ---- index files ----------------------------------------------------------------------- */

/*
 * Appends `src` (n bytes) to dst with tab, newline, carriage return and backslash escaped as
 * \t \n \r \\; dst needs 2 * n bytes. Returns the bytes written.
 */
size_t graft__tsv_escape(char *dst, const char *src, size_t n);

/* One parsed index line; the strings point into the parsed buffer. */
typedef struct graft__index_row {
    const char *key, *label /* NULL: none */, *shard, *member;
    graft_split split;
    uint8_t sha256[32];
} graft__index_row;

/*
 * Parses an index file held in text[len] (text[len] must be a NUL) in place: fields are
 * unescaped and NUL-terminated inside `text`, so the rows point into it and live as long as
 * it. *rows is malloc'd (*count rows). GRAFT_ECORRUPT naming `path` and the line, GRAFT_ENOMEM.
 */
int graft__index_parse(char *text, size_t len, const char *path, graft__index_row **rows,
                       size_t *count);

/* ---- the directory scan ---------------------------------------------------------------- */

typedef struct graft__cache_scan {
    uint64_t *segments;     /* committed segments (an index file exists), ascending */
    size_t segment_count;
    uint64_t next_segment;  /* above every number any file in segments/ uses */
    char **temps;           /* ".tmp-*" names in segments/ */
    size_t temp_count;
    char **orphans;         /* NNNNNN.tapT.npy names whose segment has no index */
    size_t orphan_count;
    char **unknown;         /* other names in segments/ */
    size_t unknown_count;
} graft__cache_scan;

/* Lists DIR/segments (absent: an empty scan). GRAFT_EIO, GRAFT_ENOMEM. */
int graft__cache_scan_dir(const char *dir, graft__cache_scan *out);
void graft__cache_scan_free(graft__cache_scan *s);

/* ---- a string arena whose strings never move --------------------------------------------- */

typedef struct graft__arena_block graft__arena_block;
typedef struct graft__arena {
    graft__arena_block *head;
    size_t bytes;           /* total allocated, for accounting */
} graft__arena;

/* Copies s[0..n) plus a NUL; NULL when out of memory. */
char *graft__arena_strndup(graft__arena *a, const char *s, size_t n);
void graft__arena_free(graft__arena *a);

/* ---- the key table ------------------------------------------------------------------------ */

/*
 * Open addressing with linear probing over 64-bit slots (32 bits of hash, 32 bits of entry
 * index) and a dense entry array, so a lookup touches one cache line of slots before the
 * entry it compares. Removal shifts later slots back (no tombstones); removed entries leave
 * holes in the entry array, compacted when they outnumber the live ones. Keys are borrowed:
 * the caller keeps them alive as long as their entry.
 */
typedef struct graft__keyent {
    const char *key;        /* NULL: a removed entry */
    uint64_t hash;
    uint64_t aux;           /* the caller's: a row index, a batch number, a class id */
    uint8_t sha256[32];
} graft__keyent;

typedef struct graft__keyset {
    uint64_t *slots;        /* 0: empty; else (hash >> 32) << 32 | (entry index + 1) */
    size_t slot_mask;
    graft__keyent *ents;
    size_t ent_count, ent_cap, live;
} graft__keyset;

uint64_t graft__key_hash(const char *key);
graft__keyent *graft__keyset_find(const graft__keyset *ks, const char *key);
/*
 * Finds `key` or adds an entry for it (zeroed but for key and hash; *created = 1). Entry
 * pointers stay valid until the next insert or remove. NULL when out of memory.
 */
graft__keyent *graft__keyset_insert(graft__keyset *ks, const char *key, int *created);
/* Removes the entry of `key`, if any. */
void graft__keyset_remove(graft__keyset *ks, const char *key);
void graft__keyset_free(graft__keyset *ks);

/* ---- the view's extras for `graft cache` ------------------------------------------------ */

typedef struct graft__cache_seg_info {
    uint64_t number;        /* NNNNNN */
    size_t rows;            /* rows in its index (superseded ones included) */
    size_t live_rows;       /* rows still current */
    size_t first_row;       /* index of its first row among all index rows */
    uint64_t bytes;         /* index + npy files */
    const char *first_key, *last_key; /* NULL when rows == 0 */
} graft__cache_seg_info;

int graft__cache_view_segment(const graft_cache_view *v, size_t seg, graft__cache_seg_info *out);
/* Rows dropped because a later row has the same key. */
size_t graft__cache_view_superseded(const graft_cache_view *v);
const char *graft__cache_view_graft_version(const graft_cache_view *v);
const char *graft__cache_view_created(const graft_cache_view *v);

/* ---- verification, for `graft cache verify` --------------------------------------------- */

typedef enum graft__verify_level {
    GRAFT__VERIFY_NOTE = 0, /* a fact worth printing */
    GRAFT__VERIFY_WARNING,  /* harmless: left by an interrupted run, cleaned by the next writer */
    GRAFT__VERIFY_PROBLEM   /* the cache is damaged */
} graft__verify_level;

typedef void (*graft__verify_fn)(void *ctx, graft__verify_level level, const char *file,
                                 const char *what);

typedef struct graft__verify_stats {
    size_t segments, rows, live_rows, superseded, rejects, values_checked;
    size_t problems, warnings;
    uint64_t bytes;
} graft__verify_stats;

/*
 * Re-reads everything in the cache at `dir` (manifest, every index and npy file, every code
 * value, classes.txt, rejects.tsv, leftovers) and reports each finding through `report`,
 * going on after problems. Returns GRAFT_OK when it ran (stats->problems says whether the
 * cache is sound), GRAFT_ENOMEM otherwise.
 */
int graft__cache_verify(const char *dir, graft__verify_fn report, void *ctx,
                        graft__verify_stats *stats);

#endif
