/*
 * pipeline/cache/cache.c: the writing side of the feature cache (graft/cache.h): opening or
 * creating a cache directory, resuming (which keys are done), collecting rows into segments
 * and committing them crash-safely, and the rejects log.
 *
 * Threads: the owner thread calls open/contains/append/seal/reject/close; one worker thread
 * at a time runs graft_cache_write() on a sealed segment. The rows being filled belong to the
 * owner alone, a sealed segment to whoever holds it; what both sides touch (the committed,
 * pending and rejected key tables, the segment counter, the last write error) sits behind
 * one mutex, held only for table updates, never across file I/O.
 *
 * Commit protocol for segment N: every file is first written under a ".tmp-" name and
 * fsync'd (the npy files, the index, classes.txt); then the npy files are renamed into
 * place, then the index (its presence is what commits the segment), then segments/ is
 * fsync'd, then classes.txt is renamed and the cache directory fsync'd. A crash before the
 * index rename leaves only temps and orphan npy files, which readers ignore and the next
 * open removes.
 *
 * It does not read codes back (view.c does), nor check committed npy files at open: a
 * writer only needs the keys; `graft cache verify` checks everything.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache_internal.h"
#include "graft/npy.h"
#include "kernels.h"

/* One appended row's metadata; the strings live in the segment's arena. */
typedef struct seg_row {
    const char *key, *label; /* label NULL: none */
    uint8_t sha256[32];
} seg_row;

struct graft_cache_segment {
    uint64_t number;          /* assigned by seal; 0 while rows are still being appended */
    uint64_t batch;           /* the pending-table tag of its rows */
    size_t rows, row_cap;
    seg_row *meta;            /* (rows) */
    char *index;              /* the escaped index lines (no header), index_len bytes */
    size_t index_len, index_cap;
    uint8_t *codes[GRAFT_CACHE_MAX_TAPS]; /* (rows, dim[t]) in the cache's dtype, little-endian */
    size_t code_row_cap;      /* rows every codes[t] has room for */
    graft__arena strings;
};

struct graft_cache {
    char *dir;
    int dir_fd, seg_fd;       /* kept open: fsync targets; dir_fd also holds the flock */
    graft__manifest m;
    size_t dim[GRAFT_CACHE_MAX_TAPS], elem;

    pthread_mutex_t mu;       /* guards everything below but `cur` and the rejects file */
    graft__keyset committed;  /* key -> sha256 of its current committed row */
    graft__arena committed_keys;
    graft__keyset pending;    /* appended or sealed, not yet written: key -> sha256, aux batch;
                                 keys point into the segments' arenas */
    graft__keyset rejected;   /* rejects.tsv: key -> sha256 */
    graft__arena rejected_keys;
    graft__keyset classes;    /* labels committed so far (classes.txt), names in class_names */
    graft__arena class_names;
    uint64_t next_segment, next_batch;
    char write_error[512];

    graft_cache_segment *cur; /* rows appended since the last seal: owner thread only */
    int rejects_fd;           /* -1 until the first reject */
    int rejects_need_newline; /* the file ends in a partial line (a crash mid-append) */
};

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        if (w == 0) return EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Fails with the code errno maps to, naming the cache-relative file. */
static int io_fail(const graft_cache *c, int errnum, const char *file, const char *op) {
    return graft__fail(graft__cache_errno_code(errnum), "cache %s: %s: %s: %s", c->dir, file, op,
                       strerror(errnum));
}

/* ---- segments in memory ---------------------------------------------------------------------- */

static void segment_free(graft_cache_segment *s) {
    if (!s) return;
    free(s->meta);
    free(s->index);
    for (int t = 0; t < GRAFT_CACHE_MAX_TAPS; t++) free(s->codes[t]);
    graft__arena_free(&s->strings);
    free(s);
}

/* Removes the pending entries that still belong to segment s (a later append of the same key
 * re-tagged its entry and keeps it). Called with the mutex held. */
static void pending_forget(graft_cache *c, const graft_cache_segment *s) {
    for (size_t r = 0; r < s->rows; r++) {
        graft__keyent *e = graft__keyset_find(&c->pending, s->meta[r].key);
        if (e && e->aux == s->batch) graft__keyset_remove(&c->pending, s->meta[r].key);
    }
}

/* ---- open ------------------------------------------------------------------------------------ */

/* mkdir -p: creates `dir` and its missing parents. */
static int make_dirs(const char *dir) {
    char path[4096];
    size_t n = strlen(dir);
    if (n >= sizeof path) return ENAMETOOLONG;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) return errno;
        path[i] = saved;
    }
    return 0;
}

/* 1 when the directory holds nothing but ".tmp-" leftovers, 0 when it holds more, -errno. */
static int dir_is_empty(int dir_fd) {
    int fd = dup(dir_fd);
    if (fd < 0) return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    rewinddir(d);
    int empty = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!strncmp(e->d_name, GRAFT__CACHE_TMP_PREFIX, strlen(GRAFT__CACHE_TMP_PREFIX)))
            continue;
        empty = 0;
        break;
    }
    closedir(d);
    return empty;
}

/* Removes ".tmp-*" files directly in dir_fd (DIR's own temps: manifest, classes). */
static void remove_top_temps(int dir_fd) {
    int fd = dup(dir_fd);
    if (fd < 0) return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, GRAFT__CACHE_TMP_PREFIX, strlen(GRAFT__CACHE_TMP_PREFIX)))
            unlinkat(dir_fd, e->d_name, 0);
    closedir(d);
}

/* Writes `name` in dir_fd through a temp file, fsync'd and renamed, then fsyncs dir_fd. */
static int write_atomic(const graft_cache *c, int dir_fd, const char *name, const char *text,
                        size_t len) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, GRAFT__CACHE_TMP_PREFIX "%s", name);
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_fail(c, errno, tmp, "create");
    int e = write_all(fd, text, len);
    const char *op = "write";
    if (!e && fsync(fd) != 0) e = errno, op = "fsync";
    if (close(fd) != 0 && !e) e = errno, op = "close";
    if (!e && renameat(dir_fd, tmp, dir_fd, name) != 0) e = errno, op = "rename";
    if (e) {
        unlinkat(dir_fd, tmp, 0);
        return io_fail(c, e, e && !strcmp(op, "rename") ? name : tmp, op);
    }
    if (fsync(dir_fd) != 0) return io_fail(c, errno, ".", "fsync");
    return GRAFT_OK;
}

static int create_manifest(graft_cache *c, const graft_cache_config *cfg) {
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *text;
    size_t len;
    int err = graft__manifest_format(cfg, created, &text, &len);
    if (err) return err;
    err = write_atomic(c, c->dir_fd, GRAFT__CACHE_MANIFEST, text, len);
    if (!err) err = graft__manifest_parse(text, len, GRAFT__CACHE_MANIFEST, &c->m);
    free(text);
    return err;
}

/* Adds a committed row's key (copied) and label to the tables. Mutex held (or not yet
 * shared). */
static int committed_add(graft_cache *c, const char *key, const char *label,
                         const uint8_t sha[32]) {
    int created;
    graft__keyent *e = graft__keyset_insert(&c->committed, key, &created);
    if (!e) return -1;
    if (created && !(e->key = graft__arena_strndup(&c->committed_keys, key, strlen(key)))) {
        graft__keyset_remove(&c->committed, key);
        return -1;
    }
    memcpy(e->sha256, sha, 32);
    if (label) {
        e = graft__keyset_insert(&c->classes, label, &created);
        if (!e) return -1;
        if (created && !(e->key = graft__arena_strndup(&c->class_names, label, strlen(label)))) {
            graft__keyset_remove(&c->classes, label);
            return -1;
        }
    }
    return 0;
}

static int load_indexes(graft_cache *c, const graft__cache_scan *scan) {
    char path[4096], stem[24];
    for (size_t s = 0; s < scan->segment_count; s++) {
        graft__cache_seg_stem(scan->segments[s], stem);
        snprintf(path, sizeof path, "%s/" GRAFT__CACHE_SEGDIR "/%s.index.tsv", c->dir, stem);
        char *text;
        size_t len;
        int err = graft__cache_read_file(path, SIZE_MAX / 2, &text, &len, NULL);
        if (err) return err;
        graft__index_row *rows;
        size_t count;
        err = graft__index_parse(text, len, path, &rows, &count);
        for (size_t r = 0; !err && r < count; r++)
            if (committed_add(c, rows[r].key, rows[r].label, rows[r].sha256))
                err = graft__fail(GRAFT_ENOMEM, "cache %s: out of memory loading %s", c->dir,
                                  path);
        if (!err) free(rows);
        free(text);
        if (err) return err;
    }
    return GRAFT_OK;
}

/* rejects.tsv: every line with a key and a well-formed hash marks that (key, hash) done. */
static int load_rejects(graft_cache *c) {
    char path[4096], *text;
    size_t len;
    int errnum;
    snprintf(path, sizeof path, "%s/" GRAFT__CACHE_REJECTS, c->dir);
    int err = graft__cache_read_file(path, SIZE_MAX / 2, &text, &len, &errnum);
    if (err == GRAFT_EIO && errnum == ENOENT) return GRAFT_OK;
    if (err) return err;
    c->rejects_need_newline = len > 0 && text[len - 1] != '\n';
    /* Lines are appended without fsync, so a crash can leave a partial last line (skipped,
     * like any line that does not parse: the log is advisory). */
    for (char *p = text, *end = text + len; p < end;) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break;
        /* shard, member, key, sha256, reason: the key and hash are all that matter here. */
        char *f[4];
        int nf = 0;
        f[nf++] = p;
        for (char *q = p; q < eol && nf < 4; q++)
            if (*q == '\t') *q = '\0', f[nf++] = q + 1;
        *eol = '\0';
        char *sha_end = nf == 4 ? strchr(f[3], '\t') : NULL;
        uint8_t sha[32];
        if (sha_end && f[2][0] &&
            !graft__cache_hex_parse(f[3], (size_t)(sha_end - f[3]), sha)) {
            int created;
            graft__keyent *e = graft__keyset_insert(&c->rejected, f[2], &created);
            if (e && created &&
                !(e->key = graft__arena_strndup(&c->rejected_keys, f[2], strlen(f[2])))) {
                graft__keyset_remove(&c->rejected, f[2]);
                e = NULL;
            }
            if (!e) {
                free(text);
                return graft__fail(GRAFT_ENOMEM, "cache %s: out of memory loading %s", c->dir,
                                   path);
            }
            memcpy(e->sha256, sha, 32);
        }
        p = eol + 1;
    }
    free(text);
    return GRAFT_OK;
}

/* Removes temps and orphan npy files of interrupted commits. */
static int clean_segments(graft_cache *c, const graft__cache_scan *scan) {
    int removed = 0;
    for (size_t i = 0; i < scan->temp_count; i++)
        removed |= unlinkat(c->seg_fd, scan->temps[i], 0) == 0;
    for (size_t i = 0; i < scan->orphan_count; i++)
        removed |= unlinkat(c->seg_fd, scan->orphans[i], 0) == 0;
    if (removed && fsync(c->seg_fd) != 0) return io_fail(c, errno, GRAFT__CACHE_SEGDIR, "fsync");
    return GRAFT_OK;
}

void graft_cache_close(graft_cache *c) {
    if (!c) return;
    segment_free(c->cur);
    if (c->rejects_fd >= 0) close(c->rejects_fd);
    if (c->seg_fd >= 0) close(c->seg_fd);
    if (c->dir_fd >= 0) close(c->dir_fd);
    graft__keyset_free(&c->committed);
    graft__keyset_free(&c->pending);
    graft__keyset_free(&c->rejected);
    graft__keyset_free(&c->classes);
    graft__arena_free(&c->committed_keys);
    graft__arena_free(&c->rejected_keys);
    graft__arena_free(&c->class_names);
    graft__manifest_free(&c->m);
    pthread_mutex_destroy(&c->mu);
    free(c->dir);
    free(c);
}

int graft_cache_open(const char *dir, const graft_cache_config *cfg, graft_cache **out) {
    if (!dir || !dir[0] || !out) return graft__fail(GRAFT_EINVAL, "cache: NULL directory");
    int err = graft__cache_config_check(cfg);
    if (err) return err;
    graft_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = strdup(dir))) {
        free(c);
        return graft__fail(GRAFT_ENOMEM, "cache %s: out of memory", dir);
    }
    c->dir_fd = c->seg_fd = c->rejects_fd = -1;
    c->next_batch = 1;
    pthread_mutex_init(&c->mu, NULL);
    graft__cache_scan scan = {0};

    int e = make_dirs(dir);
    if (e) {
        err = graft__fail(graft__cache_errno_code(e), "cache %s: cannot create the directory: %s",
                          dir, strerror(e));
        goto fail;
    }
    c->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->dir_fd < 0) {
        err = graft__fail(GRAFT_EIO, "cache %s: %s", dir, strerror(errno));
        goto fail;
    }
    /* One writer at a time: a second one would delete the first one's temp files. */
    if (flock(c->dir_fd, LOCK_EX | LOCK_NB) != 0) {
        err = graft__fail(GRAFT_EIO, "cache %s: %s", dir,
                          errno == EWOULDBLOCK ? "another writer has it open"
                                               : strerror(errno));
        goto fail;
    }
    if (faccessat(c->dir_fd, GRAFT__CACHE_MANIFEST, F_OK, 0) == 0) {
        if ((err = graft__manifest_load(dir, &c->m))) goto fail;
        if ((err = graft__manifest_compare(&c->m, cfg, dir))) goto fail;
    } else {
        int empty = dir_is_empty(c->dir_fd);
        if (empty < 0) {
            err = graft__fail(GRAFT_EIO, "cache %s: %s", dir, strerror(-empty));
            goto fail;
        }
        if (!empty) {
            err = graft__fail(GRAFT_EMISMATCH, "cache %s: the directory is not empty and has no "
                              "manifest.json: not a graft cache, refusing to write into it", dir);
            goto fail;
        }
        if ((err = create_manifest(c, cfg))) goto fail;
    }
    remove_top_temps(c->dir_fd);
    if (mkdirat(c->dir_fd, GRAFT__CACHE_SEGDIR, 0777) == 0) {
        if (fsync(c->dir_fd) != 0) {
            err = io_fail(c, errno, ".", "fsync");
            goto fail;
        }
    } else if (errno != EEXIST) {
        err = io_fail(c, errno, GRAFT__CACHE_SEGDIR, "mkdir");
        goto fail;
    }
    c->seg_fd = openat(c->dir_fd, GRAFT__CACHE_SEGDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->seg_fd < 0) {
        err = io_fail(c, errno, GRAFT__CACHE_SEGDIR, "open");
        goto fail;
    }
    for (int t = 0; t < c->m.tap_count; t++) c->dim[t] = graft__cache_tap_dim(&c->m.taps[t]);
    c->elem = c->m.dtype == GRAFT_CACHE_DTYPE_F16 ? 2 : 4;

    if ((err = graft__cache_scan_dir(dir, &scan))) goto fail;
    if ((err = clean_segments(c, &scan))) goto fail;
    if ((err = load_indexes(c, &scan))) goto fail;
    if ((err = load_rejects(c))) goto fail;
    c->next_segment = scan.next_segment;
    graft__cache_scan_free(&scan);
    *out = c;
    return GRAFT_OK;
fail:
    graft__cache_scan_free(&scan);
    graft_cache_close(c);
    return err;
}

/* ---- resuming -------------------------------------------------------------------------------- */

int graft_cache_contains(const graft_cache *cc, const char *key, const uint8_t sha256[32]) {
    if (!cc || !key || !sha256) return 0;
    graft_cache *c = (graft_cache *)cc; /* the mutex is the only thing written */
    pthread_mutex_lock(&c->mu);
    int result = 0;
    const graft__keyent *e = graft__keyset_find(&c->pending, key);
    if (!e) e = graft__keyset_find(&c->committed, key);
    if (e && memcmp(e->sha256, sha256, 32) == 0) result = 1;
    if (!result) {
        e = graft__keyset_find(&c->rejected, key);
        if (e && memcmp(e->sha256, sha256, 32) == 0) result = 2;
    }
    pthread_mutex_unlock(&c->mu);
    return result;
}

size_t graft_cache_committed_rows(const graft_cache *cc) {
    if (!cc) return 0;
    graft_cache *c = (graft_cache *)cc;
    pthread_mutex_lock(&c->mu);
    size_t n = c->committed.live;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* ---- appending ------------------------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *t = realloc(*p, c * elem);
    if (!t) return -1;
    *p = t;
    *cap = c;
    return 0;
}

/* Converts one tap's code into dst in the cache's dtype, little-endian. */
static int store_code(const graft_cache *c, int t, const char *key, const float *src,
                      uint8_t *dst) {
    const size_t D = c->dim[t];
    const int swap = !host_is_little_endian();
    for (size_t d = 0; d < D; d++)
        if (!isfinite(src[d]))
            return graft__fail(GRAFT_EINVAL, "cache: %s: tap %s has a non-finite value (%g at "
                               "%zu)", key, c->m.taps[t].name, (double)src[d], d);
    if (c->m.dtype == GRAFT_CACHE_DTYPE_F16) {
        for (size_t d = 0; d < D; d++) {
            uint16_t h = graft_f32_to_f16(src[d]);
            if ((h & 0x7c00u) == 0x7c00u)
                return graft__fail(GRAFT_ERANGE, "cache: %s: tap %s value %g at %zu does not fit "
                                   "float16", key, c->m.taps[t].name, (double)src[d], d);
            dst[2 * d] = (uint8_t)(h & 0xff);
            dst[2 * d + 1] = (uint8_t)(h >> 8);
        }
    } else if (!swap) {
        memcpy(dst, src, D * 4);
    } else {
        for (size_t d = 0; d < D; d++) {
            uint32_t b;
            memcpy(&b, &src[d], 4);
            for (int k = 0; k < 4; k++) dst[4 * d + (size_t)k] = (uint8_t)(b >> (8 * k));
        }
    }
    return GRAFT_OK;
}

int graft_cache_append(graft_cache *c, const graft_cache_row *row, const float *const *codes) {
    if (!c || !row || !codes || !row->key || !row->key[0])
        return graft__fail(GRAFT_EINVAL, "cache: append: NULL cache, row, codes or key");
    if ((unsigned)row->split > GRAFT_SPLIT_TEST)
        return graft__fail(GRAFT_EINVAL, "cache: append: %s: unknown split %d", row->key,
                           (int)row->split);
    for (int t = 0; t < c->m.tap_count; t++)
        if (!codes[t])
            return graft__fail(GRAFT_EINVAL, "cache: append: %s: NULL code for tap %s", row->key,
                               c->m.taps[t].name);
    if (!c->cur) {
        c->cur = calloc(1, sizeof *c->cur);
        if (!c->cur) return graft__fail(GRAFT_ENOMEM, "cache: out of memory");
        pthread_mutex_lock(&c->mu);
        c->cur->batch = c->next_batch++;
        pthread_mutex_unlock(&c->mu);
    }
    graft_cache_segment *s = c->cur;
    const size_t r = s->rows;
    const char *label = row->label && row->label[0] ? row->label : NULL;
    const char *shard = row->shard ? row->shard : "", *member = row->member ? row->member : "";
    const size_t klen = strlen(row->key), llen = label ? strlen(label) : 0;
    const size_t line_max = 2 * (klen + llen + strlen(shard) + strlen(member)) + 6 + 64 + 16;

    /* Everything that can fail comes before anything is committed to the row. */
    if (grow((void **)&s->meta, &s->row_cap, r + 1, sizeof *s->meta) ||
        grow((void **)&s->index, &s->index_cap, s->index_len + line_max, 1))
        return graft__fail(GRAFT_ENOMEM, "cache: out of memory appending %s", row->key);
    if (r + 1 > s->code_row_cap) {
        /* Every tap's buffer holds row_cap rows once all reallocs succeeded. */
        for (int t = 0; t < c->m.tap_count; t++) {
            uint8_t *p = realloc(s->codes[t], s->row_cap * c->dim[t] * c->elem);
            if (!p) return graft__fail(GRAFT_ENOMEM, "cache: out of memory appending %s", row->key);
            s->codes[t] = p;
        }
        s->code_row_cap = s->row_cap;
    }
    for (int t = 0; t < c->m.tap_count; t++) {
        int err = store_code(c, t, row->key, codes[t], s->codes[t] + r * c->dim[t] * c->elem);
        if (err) return err;
    }
    const char *key = graft__arena_strndup(&s->strings, row->key, klen);
    const char *lab = label ? graft__arena_strndup(&s->strings, label, llen) : NULL;
    if (!key || (label && !lab))
        return graft__fail(GRAFT_ENOMEM, "cache: out of memory appending %s", row->key);

    pthread_mutex_lock(&c->mu);
    graft__keyent *e = graft__keyset_insert(&c->pending, key, NULL);
    if (e) {
        e->key = key; /* the newest copy: older segments may be freed first */
        e->aux = s->batch;
        memcpy(e->sha256, row->sha256, 32);
    }
    pthread_mutex_unlock(&c->mu);
    if (!e) return graft__fail(GRAFT_ENOMEM, "cache: out of memory appending %s", row->key);

    char hex[65];
    graft__cache_hex_format(row->sha256, hex);
    char *o = s->index + s->index_len;
    o += graft__tsv_escape(o, row->key, klen);
    *o++ = '\t';
    o += graft__tsv_escape(o, label ? label : "", llen);
    *o++ = '\t';
    const char *split = graft__cache_split_name(row->split);
    memcpy(o, split, strlen(split));
    o += strlen(split);
    *o++ = '\t';
    o += graft__tsv_escape(o, shard, strlen(shard));
    *o++ = '\t';
    memcpy(o, hex, 64);
    o += 64;
    *o++ = '\t';
    o += graft__tsv_escape(o, member, strlen(member));
    *o++ = '\n';
    s->index_len = (size_t)(o - s->index);
    s->meta[r].key = key;
    s->meta[r].label = lab;
    memcpy(s->meta[r].sha256, row->sha256, 32);
    s->rows = r + 1;
    return GRAFT_OK;
}

size_t graft_cache_pending(const graft_cache *c) { return c && c->cur ? c->cur->rows : 0; }

int graft_cache_seal(graft_cache *c, graft_cache_segment **out) {
    if (!c || !out) return graft__fail(GRAFT_EINVAL, "cache: seal: NULL cache or output");
    if (!c->cur || c->cur->rows == 0) {
        *out = NULL;
        return GRAFT_OK;
    }
    pthread_mutex_lock(&c->mu);
    c->cur->number = c->next_segment++;
    pthread_mutex_unlock(&c->mu);
    *out = c->cur;
    c->cur = NULL;
    return GRAFT_OK;
}

size_t graft_cache_segment_rows(const graft_cache_segment *seg) { return seg ? seg->rows : 0; }

void graft_cache_discard(graft_cache *c, graft_cache_segment *seg) {
    if (!seg) return;
    if (c) {
        pthread_mutex_lock(&c->mu);
        pending_forget(c, seg);
        pthread_mutex_unlock(&c->mu);
    }
    segment_free(seg);
}

/* ---- committing ------------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* classes.txt for the committed labels plus the segment's: sorted, one per line. Labels with
 * a newline (none in practice) are escaped like the index fields. */
static int classes_text(graft_cache *c, const graft_cache_segment *s, char **text, size_t *len) {
    pthread_mutex_lock(&c->mu);
    size_t n = 0, cap = c->classes.live + s->rows;
    const char **names = malloc((cap ? cap : 1) * sizeof *names);
    if (names)
        for (size_t i = 0; i < c->classes.ent_count; i++)
            if (c->classes.ents[i].key) names[n++] = c->classes.ents[i].key;
    pthread_mutex_unlock(&c->mu);
    if (!names) return graft__fail(GRAFT_ENOMEM, "cache: out of memory");
    for (size_t r = 0; r < s->rows; r++)
        if (s->meta[r].label) names[n++] = s->meta[r].label;
    qsort(names, n, sizeof *names, cmp_str);
    size_t bytes = 1, u = 0;
    for (size_t i = 0; i < n; i++)
        if (!i || strcmp(names[i], names[i - 1])) {
            names[u++] = names[i];
            bytes += 2 * strlen(names[i]) + 1;
        }
    char *t = malloc(bytes), *o = t;
    if (!t) {
        free(names);
        return graft__fail(GRAFT_ENOMEM, "cache: out of memory");
    }
    for (size_t i = 0; i < u; i++) {
        o += graft__tsv_escape(o, names[i], strlen(names[i]));
        *o++ = '\n';
    }
    free(names);
    *text = t;
    *len = (size_t)(o - t);
    return GRAFT_OK;
}

/* Creates a temp file in dir_fd holding the pieces, fsync'd. Name kept in tmp for cleanup. */
static int write_temp(const graft_cache *c, int dir_fd, const char *rel_dir, const char *tmp,
                      const void *a, size_t alen, const void *b, size_t blen) {
    char file[320];
    snprintf(file, sizeof file, "%s%s", rel_dir, tmp);
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_fail(c, errno, file, "create");
    int e = write_all(fd, a, alen);
    const char *op = "write";
    if (!e && blen) e = write_all(fd, b, blen);
    if (!e && fsync(fd) != 0) e = errno, op = "fsync";
    if (close(fd) != 0 && !e) e = errno, op = "close";
    return e ? io_fail(c, e, file, op) : GRAFT_OK;
}

/*
 * The commit of segment s. *visible tells whether the index was renamed into place (after
 * which a failure no longer hides the segment).
 */
static int commit_files(graft_cache *c, const graft_cache_segment *s, int *visible) {
    const int taps = c->m.tap_count;
    char stem[24], tmp[GRAFT_CACHE_MAX_TAPS + 2][64], fin[GRAFT_CACHE_MAX_TAPS + 1][64];
    graft__cache_seg_stem(s->number, stem);
    for (int t = 0; t < taps; t++) {
        snprintf(fin[t], sizeof fin[t], "%s.tap%d.npy", stem, t);
        snprintf(tmp[t], sizeof tmp[t], GRAFT__CACHE_TMP_PREFIX "%s", fin[t]);
    }
    snprintf(fin[taps], sizeof fin[taps], "%s.index.tsv", stem);
    snprintf(tmp[taps], sizeof tmp[taps], GRAFT__CACHE_TMP_PREFIX "%s", fin[taps]);
    snprintf(tmp[taps + 1], sizeof tmp[taps + 1], GRAFT__CACHE_TMP_PREFIX GRAFT__CACHE_CLASSES);
    *visible = 0;

    int err = GRAFT_OK, written = 0, renamed = 0;
    for (int t = 0; t < taps && !err; t++) {
        char header[GRAFT_NPY_HEADER_MAX];
        size_t hlen, shape[1 + GRAFT_CACHE_MAX_RANK];
        shape[0] = s->rows;
        for (int r = 0; r < c->m.taps[t].rank; r++) shape[1 + r] = (size_t)c->m.taps[t].dims[r];
        err = graft_npy_header_format(header, sizeof header,
                                      c->m.dtype == GRAFT_CACHE_DTYPE_F16 ? GRAFT_NPY_DTYPE_F16
                                                                          : GRAFT_NPY_DTYPE_F32,
                                      1 + c->m.taps[t].rank, shape, &hlen);
        if (!err) {
            written = t + 1;
            err = write_temp(c, c->seg_fd, GRAFT__CACHE_SEGDIR "/", tmp[t], header, hlen,
                             s->codes[t], s->rows * c->dim[t] * c->elem);
        }
    }
    if (!err) {
        written = taps + 1;
        err = write_temp(c, c->seg_fd, GRAFT__CACHE_SEGDIR "/", tmp[taps],
                         GRAFT__CACHE_INDEX_HEADER, strlen(GRAFT__CACHE_INDEX_HEADER), s->index,
                         s->index_len);
    }
    char *classes = NULL;
    size_t classes_len = 0;
    int classes_written = 0;
    if (!err) err = classes_text(c, s, &classes, &classes_len);
    if (!err) {
        classes_written = 1;
        err = write_temp(c, c->dir_fd, "", tmp[taps + 1], classes, classes_len, NULL, 0);
    }
    free(classes);
    for (int t = 0; t < taps && !err; t++) {
        if (renameat(c->seg_fd, tmp[t], c->seg_fd, fin[t]) != 0)
            err = io_fail(c, errno, fin[t], "rename");
        else
            renamed = t + 1;
    }
    if (!err) {
        if (renameat(c->seg_fd, tmp[taps], c->seg_fd, fin[taps]) != 0)
            err = io_fail(c, errno, fin[taps], "rename");
        else
            *visible = 1;
    }
    if (err) {
        /* Nothing of the segment may stay: temps and the npy files already renamed. */
        for (int t = 0; t < written; t++) unlinkat(c->seg_fd, tmp[t], 0);
        for (int t = 0; t < renamed; t++) unlinkat(c->seg_fd, fin[t], 0);
        if (classes_written) unlinkat(c->dir_fd, tmp[taps + 1], 0);
        if (*visible) unlinkat(c->seg_fd, fin[taps], 0);
        *visible = 0;
        return err;
    }
    if (fsync(c->seg_fd) != 0) {
        err = io_fail(c, errno, GRAFT__CACHE_SEGDIR, "fsync");
        unlinkat(c->dir_fd, tmp[taps + 1], 0);
        return err;
    }
    /* The segment is committed; classes.txt follows (readers derive the classes from the
     * indexes, so a stale classes.txt is harmless). */
    if (renameat(c->dir_fd, tmp[taps + 1], c->dir_fd, GRAFT__CACHE_CLASSES) != 0) {
        err = io_fail(c, errno, GRAFT__CACHE_CLASSES, "rename");
        unlinkat(c->dir_fd, tmp[taps + 1], 0);
        return err;
    }
    if (fsync(c->dir_fd) != 0) return io_fail(c, errno, ".", "fsync");
    return GRAFT_OK;
}

int graft_cache_write(graft_cache *c, graft_cache_segment *s) {
    if (!c || !s) {
        segment_free(s);
        return graft__fail(GRAFT_EINVAL, "cache: write: NULL cache or segment");
    }
    int visible = 0;
    int err = s->number ? commit_files(c, s, &visible)
                        : graft__fail(GRAFT_EINVAL, "cache: write: the segment was not sealed");
    pthread_mutex_lock(&c->mu);
    if (!err || visible) {
        for (size_t r = 0; r < s->rows; r++)
            if (committed_add(c, s->meta[r].key, s->meta[r].label, s->meta[r].sha256)) {
                /* The files are committed; only our table is short. The next open reads it
                 * all back; meanwhile those keys would be extracted again. */
                if (!err)
                    err = graft__fail(GRAFT_ENOMEM, "cache %s: out of memory recording segment "
                                      "%llu", c->dir, (unsigned long long)s->number);
                break;
            }
    }
    pending_forget(c, s);
    if (err) snprintf(c->write_error, sizeof c->write_error, "%s", graft_last_error());
    pthread_mutex_unlock(&c->mu);
    segment_free(s);
    return err;
}

const char *graft_cache_write_error(const graft_cache *cc) {
    if (!cc) return "";
    graft_cache *c = (graft_cache *)cc;
    pthread_mutex_lock(&c->mu);
    const char *m = c->write_error;
    pthread_mutex_unlock(&c->mu);
    return m;
}

/* ---- rejects --------------------------------------------------------------------------------- */

/* Appends a field with tabs, newlines and carriage returns made spaces. */
static char *put_field(char *o, const char *s) {
    for (; s && *s; s++) *o++ = *s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s;
    return o;
}

int graft_cache_reject(graft_cache *c, const char *shard, const char *member, const char *key,
                       const uint8_t *sha256, const char *reason) {
    if (!c) return graft__fail(GRAFT_EINVAL, "cache: reject: NULL cache");
    if (c->rejects_fd < 0) {
        c->rejects_fd = openat(c->dir_fd, GRAFT__CACHE_REJECTS,
                               O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (c->rejects_fd < 0) return io_fail(c, errno, GRAFT__CACHE_REJECTS, "open");
        struct stat st;
        if (fstat(c->rejects_fd, &st) == 0 && st.st_size == 0) {
            int e = write_all(c->rejects_fd, GRAFT__CACHE_REJECTS_HEADER,
                              strlen(GRAFT__CACHE_REJECTS_HEADER));
            if (e) return io_fail(c, e, GRAFT__CACHE_REJECTS, "write");
        }
    }
    const size_t len = 1 + (shard ? strlen(shard) : 0) + (member ? strlen(member) : 0) +
                       (key ? strlen(key) : 0) + 65 + (reason ? strlen(reason) : 0) + 6;
    char *line = malloc(len), *o = line;
    if (!line) return graft__fail(GRAFT_ENOMEM, "cache: out of memory");
    if (c->rejects_need_newline) *o++ = '\n';
    o = put_field(o, shard);
    *o++ = '\t';
    o = put_field(o, member);
    *o++ = '\t';
    o = put_field(o, key);
    *o++ = '\t';
    if (sha256) {
        graft__cache_hex_format(sha256, o);
        o += 64;
    } else {
        *o++ = '-';
    }
    *o++ = '\t';
    o = put_field(o, reason);
    *o++ = '\n';
    /* One write(2) per line: with O_APPEND, concurrent readers see whole lines. */
    int e = write_all(c->rejects_fd, line, (size_t)(o - line));
    free(line);
    if (e) return io_fail(c, e, GRAFT__CACHE_REJECTS, "write");
    c->rejects_need_newline = 0;
    if (key && key[0] && sha256) {
        /* The key as written (tabs made spaces), so that a reopen finds the same entry. */
        char *k = malloc(strlen(key) + 1);
        if (!k) return graft__fail(GRAFT_ENOMEM, "cache: out of memory");
        *put_field(k, key) = '\0';
        pthread_mutex_lock(&c->mu);
        int created;
        graft__keyent *ent = graft__keyset_insert(&c->rejected, k, &created);
        if (ent && created &&
            !(ent->key = graft__arena_strndup(&c->rejected_keys, k, strlen(k)))) {
            graft__keyset_remove(&c->rejected, k);
            ent = NULL;
        }
        if (ent) memcpy(ent->sha256, sha256, 32);
        pthread_mutex_unlock(&c->mu);
        free(k);
        if (!ent) return graft__fail(GRAFT_ENOMEM, "cache: out of memory");
    }
    return GRAFT_OK;
}
