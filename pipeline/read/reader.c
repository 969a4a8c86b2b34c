/*
 * pipeline/read/reader.c: the read stage (include/graft/dataset.h): shards -> members ->
 * WebDataset samples (key, label, split, image bytes, SHA-256), as a pull iterator.
 *
 * Where it sits: first stage of the pipeline. pipeline/loop/ calls graft_reader_next() from a
 * libuv worker, one call at a time, and hands the samples to the decoders. Nothing here knows
 * about libuv, and nothing is ever extracted to disk.
 *
 * A shard is an archive read by libarchive (tar in its variants: ustar, pax, gnutar, v7; zip;
 * through gzip, bzip2, xz, lzma, lzip, zstd, lz4 or compress; from a file or standard input),
 * or a directory walked by dirwalk.c. Filters are registered one by one instead of
 * archive_read_support_filter_all(), which would also register lrzip, lzop and grzip:
 * libarchive runs those as external programs, and untrusted bytes must not start processes.
 * cpio is left out because libarchive 3.6's cpio reader allocates whatever name length a
 * header claims (up to 4 GiB) before reading it, found by tests/fuzz/fuzz_archive.c. The raw
 * format is not registered, so a file that is no archive is a SHARD_ERROR rather than one odd
 * member.
 *
 * The member loop, per member: the header gives the size (tar, zip with sizes, directories);
 * a member over max_member_bytes is skipped unread; otherwise 16 bytes are read and sniffed.
 * An image member is then read straight into a buffer of its final size (geometric growth
 * only when the size is unknown, as for streamed zip), which becomes the sample's data with no
 * further copy. A label member (.cls/.txt/.json, at most 64 KiB) is read and parsed. Anything
 * else is skipped and leaves a reason, which becomes the REJECT's reason if the sample ends up
 * without an image. So at most one sample's image and labels are in memory.
 *
 * Errors: a shard that cannot be opened or turns out truncated or corrupt ends with a
 * SHARD_ERROR carrying libarchive's message, after the samples completed before the damage;
 * a sample whose members were being read when the damage hit is dropped, since its image or
 * label may be incomplete. Member-level trouble (an encrypted zip entry, an unreadable file
 * of a directory) is a REJECT. Only running out of memory stops the whole read.
 *
 * libarchive converts member names to the current locale's character set and gives up (NULL)
 * on UTF-8 names under the C locale, which most programs run in; each call therefore switches
 * the calling thread, and only it, to a C.UTF-8 LC_CTYPE with uselocale() and back.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graft/image.h"
#include "kernels.h"
#include "read.h"

#define BLOCK_BYTES ((size_t)1 << 20)         /* libarchive's read size for files and stdin */
#define HEAD_BYTES 16                         /* enough for every magic number we sniff */
#define FIRST_ALLOC_MAX ((size_t)64 << 20)    /* trust a header's size up to this at first */
#define UNKNOWN_SIZE_START ((size_t)64 << 10) /* first buffer when the size is not known */
#define MAX_MEMBER_DEFAULT ((size_t)1 << 30)

/* SRC_FILE: a plain image file given as an input, read as a shard of one member. */
typedef enum src_kind { SRC_NONE = 0, SRC_ARCHIVE, SRC_DIR, SRC_FILE } src_kind;

/* What the member functions return besides GRAFT_OK and the negative fatal codes. */
enum { MEMBER_END = 0, MEMBER_OK = 1, MEMBER_SHARD_ERROR = 2, READ_FAILED = 3 };

/* How telling a reason is: the first reason of the highest rank explains a REJECT. */
enum { RANK_NONE = 0, RANK_LABEL_MEMBER = 1, RANK_MEMBER = 2 };

/* The sample being gathered. Every pointer is owned here until it moves into a graft_sample. */
typedef struct sample_acc {
    int active;
    int shard_index;
    graft_split shard_split;
    char *key;
    size_t key_len;
    char *first_member;
    char *image_member;
    uint8_t *image;
    size_t image_size;
    char *labels[GRAFT__LABEL_KIND_COUNT]; /* parsed label members, by kind */
    char *reason, *reason_member;
    int reason_rank;
} sample_acc;

struct graft_reader {
    char **paths;
    int count;
    graft_label_source label_source;
    double val_fraction;
    size_t max_member;
    graft__label_map *labels;
    locale_t utf8;          /* (locale_t)0 when the system has no UTF-8 locale */
    EVP_MD *md;
    EVP_MD_CTX *md_ctx;

    /* the shard being read */
    int cur;                /* index into paths of the shard open or next to open */
    src_kind kind;
    struct archive *a;
    graft__dirwalk *walk;
    graft_split shard_split;
    uint64_t shard_size;    /* st_size of a regular file shard, else 0 */
    uint64_t shard_bytes;   /* directory shard: bytes of the files visited */
    uint64_t done_bytes;    /* every finished shard */
    int shard_members;      /* members seen in the current shard */
    int stdin_used;         /* "-" was opened once already */
    int single_done;        /* SRC_FILE: its one member was produced */

    /* the member at hand: its header has been read, its data not yet */
    int pending;            /* 1: it belongs to the next sample, not yet processed */
    char *mpath, *mfull;    /* name in the shard (normalised); directory: the path to open */
    size_t mpath_cap, mfull_cap;
    int64_t msize;          /* -1 when the header gives no size */
    int merr;               /* directory: errno of an entry that cannot be examined */
    const char *mwhat;
    int mfd;                /* directory: the member's open file, else -1 */
    int read_failed;        /* set by src_read: 1 member-level error, 2 shard-level */
    char read_error[256];
    char archive_error[256];

    sample_acc acc;
    char *error_reason;     /* a SHARD_ERROR waiting to be reported (owned) */
    int fatal;              /* sticky error code after a fatal failure */

    _Atomic int p_shard;
    _Atomic uint64_t p_bytes_read, p_bytes_total, p_samples, p_rejects, p_shard_errors;
};

/* ---- small helpers ------------------------------------------------------------------------- */

void graft_member_split_key(const char *path, const char **key, size_t *key_len,
                            const char **ext) {
    const char *p = path;
    for (;;) {
        if (p[0] == '.' && p[1] == '/') p += 2;
        else if (p[0] == '/') p++;
        else break;
    }
    const char *slash = strrchr(p, '/');
    const char *base = slash ? slash + 1 : p;
    while (*base == '.') base++;
    const char *dot = strchr(base, '.');
    *key = p;
    if (dot) {
        *key_len = (size_t)(dot - p);
        *ext = dot + 1;
    } else {
        *key_len = strlen(p);
        *ext = p + *key_len;
    }
}

void graft_sample_clear(graft_sample *s) {
    if (!s) return;
    free(s->key);
    free(s->member);
    free(s->label);
    free(s->data);
    free(s->reason);
    memset(s, 0, sizeof *s);
}

static int oom(void) { return graft__fail(GRAFT_ENOMEM, "reader: out of memory"); }

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int set_str(char **buf, size_t *cap, const char *s) {
    size_t n = strlen(s) + 1;
    if (n > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < n) c *= 2;
        char *b = realloc(*buf, c);
        if (!b) return oom();
        *buf = b;
        *cap = c;
    }
    memcpy(*buf, s, n);
    return GRAFT_OK;
}

static void acc_clear(sample_acc *acc) {
    free(acc->key);
    free(acc->first_member);
    free(acc->image_member);
    free(acc->image);
    for (int k = 0; k < GRAFT__LABEL_KIND_COUNT; k++) free(acc->labels[k]);
    free(acc->reason);
    free(acc->reason_member);
    memset(acc, 0, sizeof *acc);
}

static void publish_bytes(graft_reader *r) {
    uint64_t cur = 0;
    if (r->kind == SRC_ARCHIVE && r->a) {
        la_int64_t b = archive_filter_bytes(r->a, -1);
        cur = b > 0 ? (uint64_t)b : 0;
    } else if (r->kind == SRC_DIR || r->kind == SRC_FILE) {
        cur = r->shard_bytes;
    }
    atomic_store_explicit(&r->p_bytes_read, r->done_bytes + cur, memory_order_relaxed);
}

/*
 * Queues a SHARD_ERROR with `msg`, naming where in the shard it happened and the sample that
 * is dropped because of it.
 */
static int shard_error(graft_reader *r, const char *msg, int mid_member) {
    char buf[1024], where[600] = "", dropped[300] = "";
    if (!msg || !msg[0]) msg = "unknown error";
    if (mid_member) snprintf(where, sizeof where, "while reading member %s", r->mpath);
    else if (r->shard_members > 0) snprintf(where, sizeof where, "after member %s", r->mpath);
    if (r->acc.active) snprintf(dropped, sizeof dropped, "sample %s dropped", r->acc.key);
    if (where[0] || dropped[0])
        snprintf(buf, sizeof buf, "%s (%s%s%s)", msg, where, where[0] && dropped[0] ? "; " : "",
                 dropped);
    else
        snprintf(buf, sizeof buf, "%s", msg);
    free(r->error_reason);
    r->error_reason = strdup(buf);
    if (!r->error_reason) return oom();
    return MEMBER_SHARD_ERROR;
}

/* libarchive's message for its last failure; some failures come without one. */
static const char *archive_msg(graft_reader *r) {
    const char *m = archive_error_string(r->a);
    if (m && m[0]) return m;
    int e = archive_errno(r->a);
    if (e > 0) {
        snprintf(r->archive_error, sizeof r->archive_error, "%s", strerror(e));
        return r->archive_error;
    }
    return "damaged or truncated archive (libarchive gives no reason)";
}

/* ---- opening and closing shards ------------------------------------------------------------ */

static int new_archive(graft_reader *r) {
    struct archive *a = archive_read_new();
    if (!a) return oom();
    /* Each registration only fails for lack of memory (or a missing library, in which case
       that format or filter is simply unavailable and its shards become SHARD_ERRORs). */
    archive_read_support_format_tar(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_empty(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_lzma(a);
    archive_read_support_filter_lzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_lz4(a);
    archive_read_support_filter_compress(a);
    r->a = a;
    return GRAFT_OK;
}

/* A regular file whose first bytes are an image's (so it is no archive). */
static int is_image_file(const char *path, const struct stat *st) {
    if (!S_ISREG(st->st_mode)) return 0;
    uint8_t head[16];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n <= 0) return 0;
    return graft_image_sniff(head, (size_t)n) != GRAFT_IMAGE_FORMAT_UNKNOWN;
}

static int open_shard(graft_reader *r) {
    const char *path = r->paths[r->cur];
    atomic_store_explicit(&r->p_shard, r->cur, memory_order_relaxed);
    r->shard_size = r->shard_bytes = 0;
    r->shard_members = 0;
    r->pending = 0;
    int is_dir = 0;
    int rc;
    if (strcmp(path, "-") == 0) {
        /* Its first reading consumed it, possibly not to the last byte. */
        if (r->stdin_used) return shard_error(r, "standard input was already read", 0);
        r->stdin_used = 1;
        if ((rc = new_archive(r))) return rc;
        r->kind = SRC_ARCHIVE;
        if (archive_read_open_fd(r->a, 0, BLOCK_BYTES) != ARCHIVE_OK)
            return shard_error(r, archive_msg(r), 0);
    } else {
        struct stat st;
        if (stat(path, &st) != 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
            return shard_error(r, msg, 0);
        }
        if (S_ISDIR(st.st_mode)) {
            is_dir = 1;
            uint64_t listed = 0;
            rc = graft__dirwalk_open(path, &r->walk, &listed);
            if (rc == GRAFT_ENOMEM) return rc;
            if (rc) return shard_error(r, graft_last_error(), 0);
            r->kind = SRC_DIR;
            atomic_fetch_add_explicit(&r->p_bytes_total, listed, memory_order_relaxed);
        } else if (is_image_file(path, &st)) {
            r->shard_size = (uint64_t)st.st_size;
            r->kind = SRC_FILE;
            r->single_done = 0;
        } else {
            r->shard_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
            if ((rc = new_archive(r))) return rc;
            r->kind = SRC_ARCHIVE;
            if (archive_read_open_filename(r->a, path, BLOCK_BYTES) != ARCHIVE_OK)
                return shard_error(r, archive_msg(r), 0);
        }
    }
    r->shard_split = graft__split_from_shard(path, is_dir);
    return GRAFT_OK;
}

/* Ends the current shard (however it went) and moves on to the next one. */
static void close_shard(graft_reader *r) {
    uint64_t consumed = r->shard_bytes;
    if (r->a) {
        la_int64_t b = archive_filter_bytes(r->a, -1);
        consumed = b > 0 ? (uint64_t)b : 0;
        archive_read_free(r->a);
        r->a = NULL;
    }
    graft__dirwalk_close(r->walk);
    r->walk = NULL;
    if (r->mfd >= 0) close(r->mfd);
    r->mfd = -1;
    /* A regular file counts in full even when it ended early, so progress reaches 100%. */
    r->done_bytes += r->shard_size ? r->shard_size : consumed;
    r->kind = SRC_NONE;
    r->pending = 0;
    r->cur++;
    publish_bytes(r);
}

/* ---- members ------------------------------------------------------------------------------- */

/* Strips leading "./" and "/" so that keys do not depend on how the archive was made. */
static int set_member_path(graft_reader *r, const char *path) {
    for (;;) {
        if (path[0] == '.' && path[1] == '/') path += 2;
        else if (path[0] == '/') path++;
        else break;
    }
    return set_str(&r->mpath, &r->mpath_cap, path);
}

/* Reads the next member's header: MEMBER_OK, MEMBER_END, MEMBER_SHARD_ERROR or fatal. */
static int next_member(graft_reader *r) {
    int rc;
    r->merr = 0;
    r->mwhat = NULL;
    if (r->kind == SRC_FILE) {
        /* The file's own name (not its directory) is the member: key "cat" for x/cat.jpg. */
        if (r->single_done) return MEMBER_END;
        r->single_done = 1;
        const char *path = r->paths[r->cur], *slash = strrchr(path, '/');
        if ((rc = set_member_path(r, slash ? slash + 1 : path))) return rc;
        if ((rc = set_str(&r->mfull, &r->mfull_cap, path))) return rc;
        r->msize = (int64_t)r->shard_size;
        r->shard_members++;
        return MEMBER_OK;
    }
    if (r->kind == SRC_DIR) {
        graft__dir_member dm;
        uint64_t listed = 0;
        rc = graft__dirwalk_next(r->walk, &dm, &listed);
        atomic_fetch_add_explicit(&r->p_bytes_total, listed, memory_order_relaxed);
        if (rc <= 0) return rc < 0 ? rc : MEMBER_END;
        if ((rc = set_member_path(r, dm.rel))) return rc;
        if ((rc = set_str(&r->mfull, &r->mfull_cap, dm.full))) return rc;
        r->msize = (int64_t)dm.size;
        r->merr = dm.err;
        r->mwhat = dm.what;
        r->shard_members++;
        return MEMBER_OK;
    }
    for (;;) {
        struct archive_entry *e;
        int arc = archive_read_next_header(r->a, &e);
        if (arc == ARCHIVE_EOF) return MEMBER_END;
        /* ARCHIVE_RETRY would make tar scan forward 512 bytes at a time for a header that
           checksums; a damaged shard ends instead, as documented. */
        if (arc != ARCHIVE_OK && arc != ARCHIVE_WARN)
            return shard_error(r, archive_msg(r), 0);
        if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e)) continue;
        const char *path = archive_entry_pathname(e);
        if (!path) path = archive_entry_pathname_utf8(e);
        if (!path) path = "(unnamed member)";
        if ((rc = set_member_path(r, path))) return rc;
        r->msize = archive_entry_size_is_set(e) && archive_entry_size(e) >= 0
                       ? (int64_t)archive_entry_size(e) : -1;
        r->shard_members++;
        return MEMBER_OK;
    }
}

/*
 * Reads up to n bytes of the current member: the count (0 at its end), or -1 with
 * r->read_failed (1: this member is damaged, 2: the shard is) and r->read_error set.
 */
static ssize_t src_read(graft_reader *r, uint8_t *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t k;
        if (r->kind == SRC_ARCHIVE) {
            k = archive_read_data(r->a, buf + got, n - got);
            if (k < 0) {
                snprintf(r->read_error, sizeof r->read_error, "%s", archive_msg(r));
                r->read_failed = k == ARCHIVE_FATAL ? 2 : 1;
                return -1;
            }
        } else {
            k = read(r->mfd, buf + got, n - got);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) {
                snprintf(r->read_error, sizeof r->read_error, "read error: %s",
                         strerror(errno));
                r->read_failed = 1;
                return -1;
            }
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* Skips the rest of the current member; GRAFT_OK or MEMBER_SHARD_ERROR. */
static int src_skip(graft_reader *r) {
    if (r->kind != SRC_ARCHIVE) return GRAFT_OK;
    if (archive_read_data_skip(r->a) == ARCHIVE_FATAL)
        return shard_error(r, archive_msg(r), 1);
    return GRAFT_OK;
}

/* Records why the current member is no image; the first reason of the highest rank stays. */
__attribute__((format(printf, 3, 4)))
static int note_reason(graft_reader *r, int rank, const char *fmt, ...) {
    sample_acc *acc = &r->acc;
    if (rank <= acc->reason_rank) return GRAFT_OK;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *reason = strdup(buf), *member = strdup(r->mpath);
    if (!reason || !member) {
        free(reason);
        free(member);
        return oom();
    }
    free(acc->reason);
    free(acc->reason_member);
    acc->reason = reason;
    acc->reason_member = member;
    acc->reason_rank = rank;
    return GRAFT_OK;
}

static int note_not_image(graft_reader *r, int rank, const uint8_t *head, size_t n) {
    char hex[3 * 4 + 1] = "";
    size_t show = n < 4 ? n : 4, used = 0;
    for (size_t i = 0; i < show; i++)
        used += (size_t)snprintf(hex + used, sizeof hex - used, i ? " %02x" : "%02x", head[i]);
    return note_reason(r, rank, "not an image (starts with %s)", hex);
}

/*
 * Reads the rest of the member after its first n bytes (in head) into a new buffer of the
 * final size: *buf, *len. `limit` caps an unknown size: *over is set when the member is
 * longer (nothing returned). GRAFT_OK, READ_FAILED (src_read failed) or GRAFT_ENOMEM.
 */
static int read_member(graft_reader *r, const uint8_t *head, size_t n, int64_t size,
                       size_t limit, uint8_t **buf, size_t *len, int *over) {
    *over = 0;
    size_t cap;
    if (size >= 0)
        cap = (uint64_t)size < FIRST_ALLOC_MAX ? (size_t)size : FIRST_ALLOC_MAX;
    else
        cap = UNKNOWN_SIZE_START;
    if (cap < n) cap = n;
    uint8_t *b = malloc(cap ? cap : 1);
    if (!b) return oom();
    memcpy(b, head, n);
    size_t got = n;
    /* A corrupt header may claim a size the data never reaches; the allocation grows with
       what arrives instead of trusting it past FIRST_ALLOC_MAX. */
    size_t want = size >= 0 ? (size_t)size : limit < SIZE_MAX ? limit + 1 : SIZE_MAX;
    while (got < want) {
        if (got == cap) {
            size_t nc = cap * 2 < want ? cap * 2 : want;
            uint8_t *nb = realloc(b, nc);
            if (!nb) {
                free(b);
                return oom();
            }
            b = nb;
            cap = nc;
        }
        ssize_t k = src_read(r, b + got, cap - got);
        if (k < 0) {
            free(b);
            return READ_FAILED;
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    if (size < 0 && got > limit) {
        free(b);
        *over = 1;
        return GRAFT_OK;
    }
    if (cap > got + got / 4 + 4096) {
        uint8_t *nb = realloc(b, got ? got : 1);
        if (nb) b = nb;
    }
    *buf = b;
    *len = got;
    return GRAFT_OK;
}

/* A read failure inside the member: a REJECT reason, or the end of the shard. */
static int member_read_failed(graft_reader *r, int rank) {
    if (r->read_failed == 2) return shard_error(r, r->read_error, 1);
    return note_reason(r, rank, "damaged member: %s", r->read_error);
}

/*
 * Adds the current member to the sample being gathered: GRAFT_OK, MEMBER_SHARD_ERROR (the
 * sample cannot be completed) or a fatal code.
 */
static int process_member(graft_reader *r) {
    sample_acc *acc = &r->acc;
    const char *path = r->mpath;
    if (!acc->first_member && !(acc->first_member = strdup(path))) return oom();
    graft__label_kind kind = graft__label_kind_of(path);
    int rank = kind == GRAFT__LABEL_KIND_NONE ? RANK_MEMBER : RANK_LABEL_MEMBER;
    int64_t size = r->msize;
    int rc = GRAFT_OK;
    r->read_failed = 0;

    if (r->merr)
        return note_reason(r, rank, "cannot %s: %s", r->mwhat ? r->mwhat : "read",
                           strerror(r->merr));
    if (r->kind == SRC_DIR || r->kind == SRC_FILE) {
        r->shard_bytes += (uint64_t)size;
        r->mfd = open(r->mfull, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (r->mfd < 0) return note_reason(r, rank, "cannot open: %s", strerror(errno));
        struct stat st;
        if (fstat(r->mfd, &st) == 0 && S_ISREG(st.st_mode)) size = (int64_t)st.st_size;
    }

    uint8_t head[HEAD_BYTES];
    ssize_t n = 0;
    if (size == 0) {
        rc = note_reason(r, rank, "zero-byte member");
        goto done;
    }
    if (size > 0 && (uint64_t)size > r->max_member) {
        rc = note_reason(r, rank, "member larger than %zu bytes (%lld bytes)", r->max_member,
                         (long long)size);
        if (!rc) rc = src_skip(r);
        goto done;
    }
    n = src_read(r, head, sizeof head);
    if (n < 0) {
        rc = member_read_failed(r, rank);
        goto done;
    }
    if (n == 0) {
        rc = note_reason(r, rank, "zero-byte member");
        goto done;
    }
    graft_image_format fmt = graft_image_sniff(head, (size_t)n);
    int strong = fmt != GRAFT_IMAGE_FORMAT_UNKNOWN && fmt != GRAFT_IMAGE_FORMAT_BMP;
    /* "BM" is a weak magic: a label member whose text starts with it ("BMW") is still
       tried as a label first, and only taken as an image if it is not one. */
    int weak = fmt == GRAFT_IMAGE_FORMAT_BMP;
    int labels_wanted = r->label_source == GRAFT_LABEL_AUTO ||
                        r->label_source == GRAFT_LABEL_MEMBER;
    int want_label = kind != GRAFT__LABEL_KIND_NONE && labels_wanted && !strong &&
                     (size < 0 || (uint64_t)size <= GRAFT__LABEL_MEMBER_MAX);
    int want_image = (strong || weak) && !acc->image;
    if (!want_label && !want_image) {
        /* A second image in one sample is not a problem: the first one is the sample's. */
        if (!strong && !weak) rc = note_not_image(r, rank, head, (size_t)n);
        if (!rc) rc = src_skip(r);
        goto done;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int over;
    size_t limit = want_image ? r->max_member : GRAFT__LABEL_MEMBER_MAX;
    rc = read_member(r, head, (size_t)n, size, limit, &buf, &len, &over);
    if (rc == READ_FAILED) {
        rc = member_read_failed(r, rank);
        goto done;
    }
    if (rc) goto done;
    if (over) {
        if (want_image)
            rc = note_reason(r, rank, "member larger than %zu bytes", r->max_member);
        else
            rc = note_not_image(r, rank, head, (size_t)n);
        if (!rc) rc = src_skip(r);
        goto done;
    }
    if (want_label) {
        char *label = NULL;
        int got = graft__label_parse(kind, buf, len, &label);
        if (got < 0) {
            free(buf);
            rc = got;
            goto done;
        }
        if (got == 1) {
            free(buf);
            if (!acc->labels[kind]) acc->labels[kind] = label;
            else free(label);
            goto done;
        }
    }
    if (want_image) {
        if (!(acc->image_member = strdup(path))) {
            free(buf);
            rc = oom();
            goto done;
        }
        acc->image = buf;
        acc->image_size = len;
        goto done;
    }
    free(buf);
    rc = note_not_image(r, rank, head, (size_t)n);
done:
    if (r->mfd >= 0) close(r->mfd);
    r->mfd = -1;
    return rc;
}

/* ---- samples ------------------------------------------------------------------------------- */

static int sha256(graft_reader *r, const uint8_t *p, size_t n, uint8_t out[32]) {
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(r->md_ctx, r->md, NULL) != 1 ||
        EVP_DigestUpdate(r->md_ctx, p, n) != 1 || EVP_DigestFinal_ex(r->md_ctx, out, &len) != 1 ||
        len != 32)
        return graft__fail(GRAFT_EUNSUPPORTED, "reader: OpenSSL's SHA-256 failed");
    return GRAFT_OK;
}

/* Moves the gathered sample into *out as a SAMPLE or REJECT event. */
static int emit_sample(graft_reader *r, graft_sample *out) {
    sample_acc *acc = &r->acc;
    graft_sample s;
    memset(&s, 0, sizeof s);
    s.shard = r->paths[acc->shard_index];
    s.shard_index = acc->shard_index;

    s.split = graft__split_from_path(acc->key, acc->key_len);
    if (s.split == GRAFT_SPLIT_NONE) s.split = acc->shard_split;
    if (s.split == GRAFT_SPLIT_NONE && r->val_fraction > 0)
        s.split = graft__key_fraction(acc->key, acc->key_len) < r->val_fraction
                      ? GRAFT_SPLIT_VAL : GRAFT_SPLIT_TRAIN;

    const char *member = acc->image_member ? acc->image_member
                         : acc->reason_member ? acc->reason_member : acc->first_member;
    const char *label = NULL;
    size_t label_len = 0;
    if (r->labels) {
        label = graft__label_map_find(r->labels, acc->key, acc->key_len);
        if (!label && member) label = graft__label_map_find(r->labels, member, strlen(member));
        if (label) label_len = strlen(label);
    }
    if (!label && (r->label_source == GRAFT_LABEL_AUTO ||
                   r->label_source == GRAFT_LABEL_MEMBER)) {
        static const graft__label_kind order[] = {
            GRAFT__LABEL_KIND_CLS, GRAFT__LABEL_KIND_JSON, GRAFT__LABEL_KIND_TXT};
        for (int i = 0; i < 3 && !label; i++)
            if (acc->labels[order[i]]) {
                label = acc->labels[order[i]];
                label_len = strlen(label);
            }
    }
    if (!label && member && (r->label_source == GRAFT_LABEL_AUTO ||
                             r->label_source == GRAFT_LABEL_DIR))
        graft__dir_label(member, &label, &label_len);
    if (label && !(s.label = dup_n(label, label_len))) return oom();

    if (acc->image) {
        s.event = GRAFT_READ_SAMPLE;
        int rc = sha256(r, acc->image, acc->image_size, s.sha256);
        if (rc) {
            free(s.label);
            return rc;
        }
        s.data = acc->image;
        s.size = acc->image_size;
        s.member = acc->image_member;
        acc->image = NULL;
        acc->image_member = NULL;
        atomic_fetch_add_explicit(&r->p_samples, 1, memory_order_relaxed);
    } else {
        s.event = GRAFT_READ_REJECT;
        if (acc->reason) {
            s.reason = acc->reason;
            s.member = acc->reason_member;
            acc->reason = acc->reason_member = NULL;
        } else {
            /* Every member parsed as a label, or label members were not wanted. */
            s.reason = strdup("no image member (only label members)");
            s.member = acc->first_member;
            acc->first_member = NULL;
            if (!s.reason) {
                free(s.label);
                free(s.member);
                return oom();
            }
        }
        atomic_fetch_add_explicit(&r->p_rejects, 1, memory_order_relaxed);
    }
    s.key = acc->key;
    acc->key = NULL;
    acc_clear(acc);
    *out = s;
    return GRAFT_OK;
}

static int emit_shard_error(graft_reader *r, graft_sample *out) {
    graft_sample s;
    memset(&s, 0, sizeof s);
    s.event = GRAFT_READ_SHARD_ERROR;
    s.shard = r->paths[r->cur];
    s.shard_index = r->cur;
    s.reason = r->error_reason;
    r->error_reason = NULL;
    close_shard(r);
    atomic_fetch_add_explicit(&r->p_shard_errors, 1, memory_order_relaxed);
    *out = s;
    return GRAFT_OK;
}

static int next_event(graft_reader *r, graft_sample *out) {
    for (;;) {
        if (r->error_reason) {
            /* The sample being gathered may lack members that came after the damage (a label
               member, say), so it is dropped; the ones before it were complete. */
            acc_clear(&r->acc);
            return emit_shard_error(r, out);
        }
        if (r->kind == SRC_NONE) {
            if (r->cur >= r->count) {
                memset(out, 0, sizeof *out);
                out->event = GRAFT_READ_END;
                return GRAFT_OK;
            }
            int rc = open_shard(r);
            if (rc < 0) return rc;
            continue;
        }
        int rc = MEMBER_OK;
        if (!r->pending) rc = next_member(r);
        if (rc < 0) return rc;
        if (rc == MEMBER_SHARD_ERROR) continue; /* reported (and the sample dropped) above */
        if (rc == MEMBER_END) {
            close_shard(r);
            if (r->acc.active) return emit_sample(r, out);
            continue;
        }
        const char *key;
        size_t key_len;
        const char *ext;
        graft_member_split_key(r->mpath, &key, &key_len, &ext);
        if (r->acc.active &&
            (key_len != r->acc.key_len || memcmp(key, r->acc.key, key_len) != 0)) {
            r->pending = 1; /* the first member of the next sample */
            return emit_sample(r, out);
        }
        r->pending = 0;
        if (!r->acc.active) {
            r->acc.active = 1;
            r->acc.shard_index = r->cur;
            r->acc.shard_split = r->shard_split;
            r->acc.key_len = key_len;
            if (!(r->acc.key = dup_n(key, key_len))) return oom();
        }
        rc = process_member(r);
        publish_bytes(r);
        if (rc < 0) return rc;
    }
}

/* ---- the public object --------------------------------------------------------------------- */

int graft_reader_create(const char *const *specs, int spec_count,
                        const graft_reader_options *opts, graft_reader **out) {
    if (!out || spec_count < 0 || (spec_count > 0 && !specs))
        return graft__fail(GRAFT_EINVAL, "reader: NULL argument");
    graft_reader_options o = {0};
    if (opts) o = *opts;
    if (!(o.val_fraction >= 0 && o.val_fraction <= 1))
        return graft__fail(GRAFT_EINVAL, "reader: val_fraction %g is outside 0..1",
                           o.val_fraction);
    if (o.label_source < GRAFT_LABEL_AUTO || o.label_source > GRAFT_LABEL_NONE)
        return graft__fail(GRAFT_EINVAL, "reader: unknown label source %d", (int)o.label_source);

    graft_reader *r = calloc(1, sizeof *r);
    if (!r) return oom();
    r->mfd = -1;
    r->label_source = o.label_source;
    r->val_fraction = o.val_fraction;
    r->max_member = o.max_member_bytes ? o.max_member_bytes : MAX_MEMBER_DEFAULT;
    int rc = graft_inputs_expand(specs, spec_count, &r->paths, &r->count);
    if (!rc && o.labels_csv) rc = graft__label_map_load(o.labels_csv, &r->labels);
    if (!rc) {
        r->md = EVP_MD_fetch(NULL, "SHA256", NULL);
        r->md_ctx = EVP_MD_CTX_new();
        if (!r->md || !r->md_ctx)
            rc = graft__fail(GRAFT_EUNSUPPORTED, "reader: OpenSSL offers no SHA-256");
    }
    if (rc) {
        graft_reader_destroy(r);
        return rc;
    }
    /* Not every system has C.UTF-8 under that spelling; without any, names are converted
       under the caller's own locale. */
    static const char *const utf8_names[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};
    for (size_t i = 0; i < 3 && !r->utf8; i++)
        r->utf8 = newlocale(LC_CTYPE_MASK, utf8_names[i], (locale_t)0);

    uint64_t total = 0;
    for (int i = 0; i < r->count; i++) {
        struct stat st;
        if (strcmp(r->paths[i], "-") != 0 && stat(r->paths[i], &st) == 0 &&
            S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    atomic_store_explicit(&r->p_bytes_total, total, memory_order_relaxed);
    *out = r;
    return GRAFT_OK;
}

void graft_reader_destroy(graft_reader *r) {
    if (!r) return;
    if (r->a) archive_read_free(r->a);
    graft__dirwalk_close(r->walk);
    if (r->mfd >= 0) close(r->mfd);
    acc_clear(&r->acc);
    free(r->error_reason);
    free(r->mpath);
    free(r->mfull);
    graft__label_map_destroy(r->labels);
    EVP_MD_CTX_free(r->md_ctx);
    EVP_MD_free(r->md);
    if (r->utf8) freelocale(r->utf8);
    graft_paths_free(r->paths, r->count);
    free(r);
}

int graft_reader_next(graft_reader *r, graft_sample *out) {
    if (!r || !out) return graft__fail(GRAFT_EINVAL, "reader: NULL argument");
    if (r->fatal) return graft__fail(r->fatal, "reader: stopped by an earlier %s",
                                     graft_err_name(r->fatal));
    locale_t prev = r->utf8 ? uselocale(r->utf8) : (locale_t)0;
    int rc = next_event(r, out);
    if (r->utf8) uselocale(prev);
    if (rc < 0) {
        r->fatal = rc;
        acc_clear(&r->acc);
    }
    return rc < 0 ? rc : GRAFT_OK;
}

int graft_reader_shard_count(const graft_reader *r) { return r ? r->count : 0; }

void graft_reader_get_progress(const graft_reader *r, graft_reader_progress *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!r) return;
    graft_reader *m = (graft_reader *)r; /* atomics are read-only here */
    out->shard_index = atomic_load_explicit(&m->p_shard, memory_order_relaxed);
    out->bytes_read = atomic_load_explicit(&m->p_bytes_read, memory_order_relaxed);
    out->bytes_total = atomic_load_explicit(&m->p_bytes_total, memory_order_relaxed);
    out->samples = atomic_load_explicit(&m->p_samples, memory_order_relaxed);
    out->rejects = atomic_load_explicit(&m->p_rejects, memory_order_relaxed);
    out->shard_errors = atomic_load_explicit(&m->p_shard_errors, memory_order_relaxed);
}
