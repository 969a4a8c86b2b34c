/*
 * pipeline/read/read.h: what the read stage's files share (internal to libgraft). The public
 * side is include/graft/dataset.h.
 *
 *   inputs.c   input specs -> paths (braces, globs, @lists)
 *   labels.c   label members (.cls/.txt/.json), the --labels CSV map, splits and the key hash
 *   dirwalk.c  a directory tree as a sorted stream of regular files
 *   reader.c   shards -> members -> WebDataset samples (libarchive or dirwalk underneath)
 *
 * Nothing here keeps global state: every object is owned by one reader, and a reader is used
 * by one thread at a time.
 */
#ifndef GRAFT_READ_INTERNAL_H
#define GRAFT_READ_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "graft/dataset.h"

/* ---- inputs.c ------------------------------------------------------------------------------ */

/* At most this many paths come out of one call of graft_inputs_expand (braces multiply fast). */
#define GRAFT__INPUTS_MAX ((size_t)1 << 20)

/*
 * Brace expansion alone (no globs, no @lists, no file system access): "a{1..3}b" -> a1b a2b a3b.
 * Same ownership and errors as graft_inputs_expand. Exposed for the fuzz target.
 */
int graft__expand_braces(const char *spec, char ***paths, int *count);

/* ---- labels.c ------------------------------------------------------------------------------ */

/* Which kind of label member a path is, from its last extension (case-insensitive). */
typedef enum graft__label_kind {
    GRAFT__LABEL_KIND_NONE = 0,
    GRAFT__LABEL_KIND_CLS,  /* .cls: an integer */
    GRAFT__LABEL_KIND_JSON, /* .json: "label"/"class" field, or a bare string or number */
    GRAFT__LABEL_KIND_TXT,  /* .txt: one line of text */
    GRAFT__LABEL_KIND_COUNT
} graft__label_kind;

/* Label members larger than this are not read as labels. */
#define GRAFT__LABEL_MEMBER_MAX ((size_t)64 << 10)
/* Labels longer than this (after trimming) are refused. */
#define GRAFT__LABEL_MAX 1024

graft__label_kind graft__label_kind_of(const char *path);

/*
 * Parses a label member's bytes. Returns 1 and a malloc'd NUL-terminated label in *out (the
 * caller frees it), 0 when the bytes hold no usable label (*out untouched), GRAFT_ENOMEM.
 * A usable label is non-empty after trimming ASCII white space, at most GRAFT__LABEL_MAX
 * bytes, and holds no control character (so no line breaks).
 */
int graft__label_parse(graft__label_kind kind, const uint8_t *buf, size_t len, char **out);

/* The --labels file: "key,label" lines in a hash table. */
typedef struct graft__label_map graft__label_map;
/* Reads and parses `path`. GRAFT_EIO (cannot read), GRAFT_ECORRUPT (file:line), ENOMEM. */
int graft__label_map_load(const char *path, graft__label_map **out);
/* The label listed for key[0..key_len), or NULL. Borrowed from the map. */
const char *graft__label_map_find(const graft__label_map *m, const char *key, size_t key_len);
size_t graft__label_map_size(const graft__label_map *m);
void graft__label_map_destroy(graft__label_map *m);

/*
 * The split a member path names through a directory component (deepest first; the last
 * component, the file's own name, is not looked at). GRAFT_SPLIT_NONE when none does.
 */
graft_split graft__split_from_path(const char *path, size_t len);
/*
 * The split a shard's own name gives: the base name of a directory ("data/val" -> val), the
 * base name up to its first dot for a file ("val.tar.gz" -> val). NONE for "-".
 */
graft_split graft__split_from_shard(const char *shard, int is_dir);
/*
 * Where a key falls in [0, 1): the key's 64-bit FNV-1a hash, mixed by the splitmix64
 * finaliser, top 53 bits divided by 2^53. A key is val when this is < val_fraction.
 */
double graft__key_fraction(const char *key, size_t len);
/*
 * The class folder of a member path: its parent directory's name, unless that name is a split
 * name (then none). Writes the start and length into path; 0 when there is none, else 1.
 */
int graft__dir_label(const char *path, const char **start, size_t *len);

/* ---- dirwalk.c ----------------------------------------------------------------------------- */

typedef struct graft__dirwalk graft__dirwalk;

/* One regular file (or an entry that could not be examined) of the walk. */
typedef struct graft__dir_member {
    const char *rel;  /* path relative to the root, '/'-separated; owned by the walk */
    const char *full; /* root + "/" + rel, for open(); owned by the walk */
    uint64_t size;
    int err;          /* 0, or the errno that made the entry unreadable (dangling symlink,
                         unlistable folder): the reader turns it into a REJECT */
    const char *what; /* with err: "stat", "open" or "list" */
} graft__dir_member;

/*
 * Starts walking the directory `root` (listing its top folder, whose file sizes are added to
 * *bytes_listed): GRAFT_EIO (the message gives the errno text), ENOMEM.
 * Folders are entered depth first, entries of a folder sorted bytewise by (key, extension) so
 * that a WebDataset sample's members are consecutive; symbolic links are followed unless they
 * lead back into a folder being walked (a loop), and entries that are neither regular files
 * nor folders are skipped.
 */
int graft__dirwalk_open(const char *root, graft__dirwalk **out, uint64_t *bytes_listed);
/*
 * The next entry into *m (valid until the next call): 1, or 0 at the end, or GRAFT_ENOMEM.
 * *bytes_listed grows by the size of every regular file as its folder is listed.
 */
int graft__dirwalk_next(graft__dirwalk *w, graft__dir_member *m, uint64_t *bytes_listed);
void graft__dirwalk_close(graft__dirwalk *w);

#endif
