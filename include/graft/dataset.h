/*
 * dataset.h: the read stage's public API: input specs -> shards -> samples (key, label, split,
 * image bytes), streamed through libarchive without extracting anything to disk.
 *
 * Sources: tar (ustar, pax, gnutar, v7; plain or through gzip, bzip2, xz, lzma, lzip, zstd,
 * lz4, compress), zip (stored, deflate; read seekably from files, as a stream from standard
 * input), a directory tree, standard input ("-", once), a single image file (a shard of one
 * sample keyed by its file name), and many at once. cpio and the filters libarchive runs as
 * external programs (lrzip, lzop, grzip) are refused, as is any other file that is no
 * archive: SHARD_ERROR "Unrecognized archive format". An input spec is
 * expanded before reading: brace lists and ranges ("shard-{000000..000099}.tar", zero padding
 * kept; "{a,b}", "{a..e}", nested and repeated groups), globs ("data/shard-*.tar", matches
 * sorted bytewise), and "@FILE" (a file listing one spec per line, relative to the current
 * directory; blank lines and lines starting with '#' skipped; lists may name lists, up to 8
 * deep). A spec naming an existing path is taken literally, braces and all.
 *
 * Samples follow the WebDataset convention: consecutive members whose paths share a key (the
 * path up to the first dot of its last component) form one sample. Directory trees are walked
 * depth first with each folder's entries sorted bytewise by (key, extension), so a sample's
 * members are always consecutive; symbolic links are followed except into a loop. In
 * archives, directories, symlinks, hard links and devices are skipped silently.
 *
 * The image is the first member whose bytes are an image (JPEG, PNG, WebP, GIF, BMP by magic
 * bytes, never by extension); later image members of the same sample are ignored. The label
 * comes from the sample's label members, taken by their last extension: .cls (an integer),
 * else .json (a top-level "label", else "class", string or number field, or a bare string or
 * number), else .txt (one line of text); each trimmed, at most 1024 bytes, without control
 * characters, and read only when at most 64 KiB. Otherwise (class folders) the label is the
 * image's parent directory name, unless that is a split name. --labels FILE.csv overrides
 * both for the keys it lists. The split comes from the deepest directory component of the key
 * named train, val, valid, validation or test (case-insensitive), else from the shard's own
 * name (a folder "data/val", a file "val.tar.gz"); when there is none and val_fraction > 0, a
 * hash of the key picks val for that fraction of keys and train for the rest: the key's
 * 64-bit FNV-1a hash, mixed by the splitmix64 finaliser, top 53 bits / 2^53 < val_fraction.
 * It depends on the key alone, so a key keeps its split across runs, shard orders and
 * machines.
 *
 * A reader is a pull iterator and does blocking I/O: call it from one thread at a time (the
 * pipeline runs it on a libuv worker). It holds at most one sample's image and labels in
 * memory, and reads an image member straight into the buffer the sample hands out.
 */
#ifndef GRAFT_DATASET_H
#define GRAFT_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "graft.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum graft_split {
    GRAFT_SPLIT_NONE = 0, /* no split known (and val_fraction == 0) */
    GRAFT_SPLIT_TRAIN,
    GRAFT_SPLIT_VAL,
    GRAFT_SPLIT_TEST
} graft_split;

/* "none", "train", "val", "test". */
const char *graft_split_name(graft_split split);
/* Parses the names above (and "valid", "validation"); GRAFT_EINVAL otherwise. */
int graft_split_parse(const char *name, graft_split *out);

/*
 * What graft_reader_next() produced.
 *
 * REJECT reasons: "zero-byte member", "not an image (starts with 3c 21 44 4f)" (up to four
 * bytes in hex), "member larger than N bytes (M bytes)" (the size in parentheses when the
 * header gave it), "damaged member: <libarchive's message>" (an encrypted zip entry, say),
 * "cannot stat|open|list: <strerror>" (directory trees), "no image member (only label
 * members)". A sample with several unusable members gets the reason of its first member
 * that is not a label member.
 *
 * SHARD_ERROR reasons: libarchive's message ("Truncated tar archive", "truncated gzip input",
 * "Damaged tar archive", "Unrecognized archive format"), "cannot open: <strerror>" for a
 * missing file, "standard input was already read" for a second "-", followed by where it
 * happened: " (while reading member M; sample K dropped)" or " (after member M; ...)". The
 * sample being gathered when the damage is found is dropped, as members after the damage
 * (a label, say) may be missing; every sample before it has been delivered. libarchive's
 * decompressors may lose up to 64 KiB of output before a truncation.
 */
typedef enum graft_read_event {
    GRAFT_READ_END = 0,     /* every shard is done; nothing else is filled in */
    GRAFT_READ_SAMPLE,      /* a sample with image bytes */
    GRAFT_READ_REJECT,      /* a sample with no usable image; `reason` says why */
    GRAFT_READ_SHARD_ERROR  /* the shard ended early (truncated/corrupt archive, unreadable
                               file); `reason` says why; reading goes on with the next shard */
} graft_read_event;

/*
 * One sample. Every pointer is owned by the sample and freed by graft_sample_clear(), except
 * `shard`, which the reader owns (valid until graft_reader_destroy()).
 */
typedef struct graft_sample {
    graft_read_event event;
    const char *shard;    /* the shard's path as expanded ("-" for standard input) */
    int shard_index;      /* 0-based position in the expanded list */
    char *key;            /* WebDataset key, relative to the shard: "train/ants/0013035"
                             (SHARD_ERROR: NULL) */
    char *member;         /* the image member's path in the shard; REJECT: the member the
                             reason is about; SHARD_ERROR: NULL */
    char *label;          /* class name, or NULL when none is known (REJECTs get one too) */
    graft_split split;
    uint8_t *data;        /* SAMPLE: the image member's bytes (size bytes); NULL otherwise */
    size_t size;
    uint8_t sha256[32];   /* SAMPLE: SHA-256 of the image bytes (resume compares it) */
    char *reason;         /* REJECT and SHARD_ERROR: one line, no shard prefix */
} graft_sample;

/* Frees what the sample owns and zeroes it. NULL does nothing. */
void graft_sample_clear(graft_sample *s);

typedef enum graft_label_source {
    GRAFT_LABEL_AUTO = 0, /* member (.cls/.txt/.json), else parent directory, else none */
    GRAFT_LABEL_MEMBER,   /* only .cls/.txt/.json members */
    GRAFT_LABEL_DIR,      /* only the parent directory name */
    GRAFT_LABEL_NONE      /* no labels */
} graft_label_source;

/* Options of graft_reader_create(); a zeroed struct gives the defaults. */
typedef struct graft_reader_options {
    graft_label_source label_source;
    const char *labels_csv;    /* "key,label" lines (a first line "key,label" is skipped,
                                  any case): the key is a sample key or an image member's
                                  path; RFC 4180 quoting; further columns ignored; a later
                                  line wins over an earlier one for the same key. Overrides
                                  every other label source (also GRAFT_LABEL_NONE) for the
                                  keys it lists */
    double val_fraction;       /* 0..1; used only for samples without a split component */
    size_t max_member_bytes;   /* a larger member is rejected without being read (when its
                                  size is not in the header, as in a streamed zip, once
                                  this many bytes have been read); 0 means 1 GiB */
} graft_reader_options;

typedef struct graft_reader graft_reader;

/*
 * Expands the input specs (see the top of this file) into a list of paths. `*paths` is a
 * malloc'd array of `*count` malloc'd strings, freed with graft_paths_free(). A spec that
 * expands to nothing (a glob matching no file, an empty list file) is GRAFT_EIO naming it;
 * "-" is kept as is, and paths are not checked otherwise (a missing shard is the reader's
 * SHARD_ERROR). Errors: GRAFT_EINVAL (NULL, empty spec, malformed or unmatched braces, more
 * than 2^20 paths, lists nested too deep), GRAFT_EIO (as above, an unreadable list file),
 * GRAFT_ENOMEM. Any thread.
 */
int graft_inputs_expand(const char *const *specs, int spec_count, char ***paths, int *count);
void graft_paths_free(char **paths, int count);

/*
 * Creates a reader over the expanded inputs (copied; the specs are borrowed for the call).
 * Nothing is opened yet: a missing file shows up as a SHARD_ERROR when its turn comes. A
 * labels_csv that cannot be read or parsed is an error here (GRAFT_EIO/GRAFT_ECORRUPT naming
 * the file and line). Also GRAFT_EINVAL (NULL out, val_fraction outside 0..1, unknown label
 * source, the errors of graft_inputs_expand), GRAFT_EUNSUPPORTED (OpenSSL without SHA-256),
 * GRAFT_ENOMEM. *out written only on success. Zero specs make a reader that ends at once.
 */
int graft_reader_create(const char *const *specs, int spec_count,
                        const graft_reader_options *opts, graft_reader **out);
void graft_reader_destroy(graft_reader *r);

/*
 * Produces the next event into *out (which must be zeroed or cleared; the caller clears it
 * after use). Returns GRAFT_OK with out->event set (GRAFT_READ_END at the end, and again on
 * every later call), or a negative error only for failures that stop the whole read
 * (GRAFT_ENOMEM; after one, every later call fails too); bad members and bad shards are
 * events, not errors. While it runs, the calling thread's LC_CTYPE is switched to C.UTF-8
 * (uselocale) so that libarchive decodes UTF-8 member names; it is restored before return.
 */
int graft_reader_next(graft_reader *r, graft_sample *out);

/* Number of expanded shards (known from create). */
int graft_reader_shard_count(const graft_reader *r);

/*
 * Progress of the reader, safe to call from another thread while next() runs (values are
 * read atomically): the shard being read, and bytes consumed / total bytes of the input
 * files (compressed sizes; total is 0 when unknown, as for standard input). Regular files
 * count in total from the start; a directory tree adds its files' sizes as the walk lists
 * each folder. A finished file shard counts in full, even when it ended early.
 */
typedef struct graft_reader_progress {
    int shard_index;
    uint64_t bytes_read, bytes_total;
    uint64_t samples, rejects, shard_errors;
} graft_reader_progress;
void graft_reader_get_progress(const graft_reader *r, graft_reader_progress *out);

/*
 * Splits a member path into its WebDataset key and extension: the key is everything up to
 * the first dot of the last path component ("a/b.c/x.seg.jpg" -> key "a/b.c/x",
 * extension "seg.jpg"). Leading dots of the last component belong to the key, so a hidden
 * file is its own key (".DS_Store" -> key ".DS_Store", extension ""; "._x.jpg" -> "._x",
 * "jpg"). Leading "./" and "/" are dropped. Writes pointers into `path`: the key is
 * (*key)[0..*key_len), *ext is NUL-terminated ("" when there is no extension). Never fails.
 * Exposed for the tests and the fuzz target.
 */
void graft_member_split_key(const char *path, const char **key, size_t *key_len,
                            const char **ext);

#ifdef __cplusplus
}
#endif
#endif
