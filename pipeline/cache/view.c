/*
 * pipeline/cache/view.c: the reading side of the feature cache (graft/cache.h): a snapshot of
 * every committed segment, with the codes memory-mapped, the indexes parsed, superseded rows
 * dropped and the class list built. Classifiers and `graft cache` read through it.
 *
 * Opening is linear in rows and segments: each index is read once and parsed in place, one
 * hash table pass finds superseded keys, and only the (few) distinct labels are sorted.
 * Everything is validated before use (npy headers against the manifest, row counts against
 * the index), so a damaged cache fails with GRAFT_ECORRUPT naming the file instead of
 * handing out wrong codes. It never writes and takes no lock: files of a commit in progress
 * are not yet named as committed, so a concurrent writer is harmless.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_internal.h"
#include "graft/npy.h"
#include "kernels.h"

typedef struct view_seg {
    uint64_t number;
    char *index_text;               /* owns every string of its rows */
    graft__index_row *rows;         /* (row_count) */
    size_t row_count, first_row, live_rows;
    uint64_t bytes;
    void *map[GRAFT_CACHE_MAX_TAPS];
    size_t map_len[GRAFT_CACHE_MAX_TAPS];
    const uint8_t *data[GRAFT_CACHE_MAX_TAPS]; /* (row_count, dim) in the manifest's dtype */
} view_seg;

typedef struct view_row {
    const graft__index_row *meta;
    uint32_t seg, seg_row;
    int32_t label;
} view_row;

struct graft_cache_view {
    char *dir;
    graft__manifest m;
    size_t dim[GRAFT_CACHE_MAX_TAPS], elem;
    view_seg *segs;
    size_t seg_count;
    view_row *rows;
    size_t row_count, superseded;
    const char **classes;           /* (class_count) sorted; point into index texts */
    int class_count;
};

void graft_cache_view_close(graft_cache_view *v) {
    if (!v) return;
    for (size_t s = 0; s < v->seg_count; s++) {
        view_seg *g = &v->segs[s];
        for (int t = 0; t < GRAFT_CACHE_MAX_TAPS; t++)
            if (g->map[t]) munmap(g->map[t], g->map_len[t]);
        free(g->rows);
        free(g->index_text);
    }
    free(v->segs);
    free(v->rows);
    free(v->classes);
    graft__manifest_free(&v->m);
    free(v->dir);
    free(v);
}

/* Maps segments/<stem>.tap<t>.npy and checks it against the manifest and the index. */
static int map_tap(graft_cache_view *v, view_seg *g, int t, const char *stem) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" GRAFT__CACHE_SEGDIR "/%s.tap%d.npy", v->dir, stem, t);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return graft__fail(GRAFT_ECORRUPT, "%s: missing (its index is committed)", path);
        return graft__fail(GRAFT_EIO, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return graft__fail(GRAFT_EIO, "%s: %s", path, strerror(e));
    }
    if (st.st_size < 10) {
        close(fd);
        return graft__fail(GRAFT_ECORRUPT, "%s: truncated (%lld bytes)", path,
                           (long long)st.st_size);
    }
    const size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file */
    if (map == MAP_FAILED)
        return graft__fail(e == ENOMEM ? GRAFT_ENOMEM : GRAFT_EIO, "%s: mmap: %s", path,
                           strerror(e));
    g->map[t] = map;
    g->map_len[t] = len;
    g->bytes += len;

    graft_npy_header h;
    int err = graft_npy_header_parse(map, len, &h);
    if (err) {
        char detail[300];
        snprintf(detail, sizeof detail, "%s", graft_last_error());
        return graft__fail(GRAFT_ECORRUPT, "%s: %s", path, detail);
    }
    const graft_npy_dtype want =
        v->m.dtype == GRAFT_CACHE_DTYPE_F16 ? GRAFT_NPY_DTYPE_F16 : GRAFT_NPY_DTYPE_F32;
    if (h.dtype != want || h.swapped)
        return graft__fail(GRAFT_ECORRUPT, "%s: not little-endian %s as the manifest says", path,
                           graft__cache_dtype_name(v->m.dtype));
    const graft_cache_tap *tap = &v->m.taps[t];
    int same = h.rank == 1 + tap->rank;
    for (int r = 0; same && r < tap->rank; r++) same = h.shape[1 + r] == (size_t)tap->dims[r];
    if (!same) {
        char shape[128];
        graft__cache_shape_format(tap, shape, sizeof shape);
        return graft__fail(GRAFT_ECORRUPT, "%s: its shape is not (rows, *%s) for tap %s", path,
                           shape, tap->name);
    }
    if (h.shape[0] != g->row_count)
        return graft__fail(GRAFT_ECORRUPT, "%s: %zu rows, its index has %zu", path, h.shape[0],
                           g->row_count);
    if (len - h.data_offset != h.data_bytes)
        return graft__fail(GRAFT_ECORRUPT, "%s: %s: %zu data bytes, the shape needs %zu", path,
                           len - h.data_offset < h.data_bytes ? "truncated" : "trailing bytes",
                           len - h.data_offset, h.data_bytes);
    g->data[t] = (const uint8_t *)map + h.data_offset;
    return GRAFT_OK;
}

static int load_segment(graft_cache_view *v, view_seg *g) {
    char stem[24], path[4096];
    graft__cache_seg_stem(g->number, stem);
    snprintf(path, sizeof path, "%s/" GRAFT__CACHE_SEGDIR "/%s.index.tsv", v->dir, stem);
    size_t len;
    int errnum;
    int err = graft__cache_read_file(path, SIZE_MAX / 2, &g->index_text, &len, &errnum);
    if (err) return err;
    g->bytes += len;
    err = graft__index_parse(g->index_text, len, path, &g->rows, &g->row_count);
    if (err) return err;
    if (g->row_count > UINT32_MAX)
        return graft__fail(GRAFT_ERANGE, "%s: more than 2^32 rows", path);
    for (int t = 0; t < v->m.tap_count; t++)
        if ((err = map_tap(v, g, t, stem))) return err;
    return GRAFT_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Drops superseded rows: a key's last row (in commit order) is its current one. */
static int build_rows(graft_cache_view *v) {
    size_t total = 0;
    for (size_t s = 0; s < v->seg_count; s++) {
        v->segs[s].first_row = total;
        total += v->segs[s].row_count;
    }
    uint8_t *dead = calloc(total ? total : 1, 1);
    graft__keyset keys = {0};
    if (!dead) return graft__fail(GRAFT_ENOMEM, "cache %s: out of memory", v->dir);
    int err = GRAFT_OK;
    for (size_t s = 0; s < v->seg_count && !err; s++) {
        const view_seg *g = &v->segs[s];
        for (size_t r = 0; r < g->row_count; r++) {
            int created;
            graft__keyent *e = graft__keyset_insert(&keys, g->rows[r].key, &created);
            if (!e) {
                err = graft__fail(GRAFT_ENOMEM, "cache %s: out of memory", v->dir);
                break;
            }
            if (!created) dead[e->aux] = 1;
            e->aux = g->first_row + r;
        }
    }
    graft__keyset_free(&keys);
    size_t live = 0;
    for (size_t i = 0; i < total; i++) live += !dead[i];
    v->rows = err ? NULL : malloc((live ? live : 1) * sizeof *v->rows);
    if (!err && !v->rows) err = graft__fail(GRAFT_ENOMEM, "cache %s: out of memory", v->dir);
    if (err) {
        free(dead);
        return err;
    }
    size_t n = 0;
    for (size_t s = 0; s < v->seg_count; s++) {
        view_seg *g = &v->segs[s];
        for (size_t r = 0; r < g->row_count; r++) {
            if (dead[g->first_row + r]) continue;
            v->rows[n].meta = &g->rows[r];
            v->rows[n].seg = (uint32_t)s;
            v->rows[n].seg_row = (uint32_t)r;
            v->rows[n].label = -1;
            n++;
            g->live_rows++;
        }
    }
    free(dead);
    v->row_count = n;
    v->superseded = total - n;
    return GRAFT_OK;
}

/* The sorted distinct labels of the current rows, and each row's index into them. */
static int build_classes(graft_cache_view *v) {
    graft__keyset labels = {0};
    int err = GRAFT_OK;
    for (size_t i = 0; i < v->row_count && !err; i++) {
        const char *l = v->rows[i].meta->label;
        if (l && !graft__keyset_insert(&labels, l, NULL))
            err = graft__fail(GRAFT_ENOMEM, "cache %s: out of memory", v->dir);
    }
    if (!err && labels.live > INT32_MAX)
        err = graft__fail(GRAFT_ERANGE, "cache %s: too many classes", v->dir);
    if (!err) {
        v->classes = malloc((labels.live ? labels.live : 1) * sizeof *v->classes);
        if (!v->classes) err = graft__fail(GRAFT_ENOMEM, "cache %s: out of memory", v->dir);
    }
    if (err) {
        graft__keyset_free(&labels);
        return err;
    }
    size_t k = 0;
    for (size_t i = 0; i < labels.ent_count; i++)
        if (labels.ents[i].key) v->classes[k++] = labels.ents[i].key;
    qsort(v->classes, k, sizeof *v->classes, cmp_str);
    for (size_t i = 0; i < k; i++) graft__keyset_find(&labels, v->classes[i])->aux = i;
    v->class_count = (int)k;
    for (size_t i = 0; i < v->row_count; i++) {
        const char *l = v->rows[i].meta->label;
        if (l) v->rows[i].label = (int32_t)graft__keyset_find(&labels, l)->aux;
    }
    graft__keyset_free(&labels);
    return GRAFT_OK;
}

int graft_cache_view_open(const char *dir, graft_cache_view **out) {
    if (!dir || !out) return graft__fail(GRAFT_EINVAL, "cache view: NULL directory or output");
    graft_cache_view *v = calloc(1, sizeof *v);
    if (!v || !(v->dir = strdup(dir))) {
        free(v);
        return graft__fail(GRAFT_ENOMEM, "cache %s: out of memory", dir);
    }
    graft__cache_scan scan = {0};
    int err = graft__manifest_load(dir, &v->m);
    if (err) goto fail;
    for (int t = 0; t < v->m.tap_count; t++) v->dim[t] = graft__cache_tap_dim(&v->m.taps[t]);
    v->elem = v->m.dtype == GRAFT_CACHE_DTYPE_F16 ? 2 : 4;
    if ((err = graft__cache_scan_dir(dir, &scan))) goto fail;
    v->segs = calloc(scan.segment_count ? scan.segment_count : 1, sizeof *v->segs);
    if (!v->segs) {
        err = graft__fail(GRAFT_ENOMEM, "cache %s: out of memory", dir);
        goto fail;
    }
    for (size_t s = 0; s < scan.segment_count; s++) {
        v->segs[s].number = scan.segments[s];
        v->seg_count = s + 1;
        if ((err = load_segment(v, &v->segs[s]))) goto fail;
    }
    if ((err = build_rows(v)) || (err = build_classes(v))) goto fail;
    graft__cache_scan_free(&scan);
    *out = v;
    return GRAFT_OK;
fail:
    graft__cache_scan_free(&scan);
    graft_cache_view_close(v);
    return err;
}

size_t graft_cache_view_rows(const graft_cache_view *v) { return v ? v->row_count : 0; }
size_t graft_cache_view_segments(const graft_cache_view *v) { return v ? v->seg_count : 0; }
int graft_cache_view_tap_count(const graft_cache_view *v) { return v ? v->m.tap_count : 0; }

const graft_cache_tap *graft_cache_view_tap(const graft_cache_view *v, int tap) {
    return v && tap >= 0 && tap < v->m.tap_count ? &v->m.taps[tap] : NULL;
}

size_t graft_cache_view_dim(const graft_cache_view *v, int tap) {
    return v && tap >= 0 && tap < v->m.tap_count ? v->dim[tap] : 0;
}

graft_cache_dtype graft_cache_view_dtype(const graft_cache_view *v) {
    return v ? v->m.dtype : GRAFT_CACHE_DTYPE_F32;
}
const char *graft_cache_view_model_sha256(const graft_cache_view *v) {
    return v ? v->m.model_sha256 : "";
}
const char *graft_cache_view_model_path(const graft_cache_view *v) {
    return v ? v->m.model_path : "";
}
const char *graft_cache_view_preprocess(const graft_cache_view *v) {
    return v ? v->m.preprocess : "";
}
int graft_cache_view_class_count(const graft_cache_view *v) { return v ? v->class_count : 0; }
const char *graft_cache_view_class_name(const graft_cache_view *v, int k) {
    return v && k >= 0 && k < v->class_count ? v->classes[k] : NULL;
}

int graft_cache_view_row(const graft_cache_view *v, size_t row, graft_cache_row_info *out) {
    if (!v || !out || row >= v->row_count)
        return graft__fail(GRAFT_EINVAL, "cache view: row %zu of %zu", row, v ? v->row_count : 0);
    const view_row *r = &v->rows[row];
    out->key = r->meta->key;
    out->shard = r->meta->shard;
    out->member = r->meta->member;
    out->label = r->label;
    out->split = r->meta->split;
    memcpy(out->sha256, r->meta->sha256, 32);
    out->segment = r->seg;
    out->segment_row = r->seg_row;
    return GRAFT_OK;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

int graft_cache_view_codes(const graft_cache_view *v, int tap, size_t row, size_t count,
                           float *dst) {
    if (!v || tap < 0 || tap >= v->m.tap_count || row > v->row_count ||
        count > v->row_count - row || (count && !dst))
        return graft__fail(GRAFT_EINVAL, "cache view: codes of rows %zu+%zu of %zu, tap %d of %d",
                           row, count, v ? v->row_count : 0, tap, v ? v->m.tap_count : 0);
    const size_t D = v->dim[tap], elem = v->elem;
    const int le = host_is_little_endian();
    for (size_t i = 0; i < count;) {
        /* Rows that follow each other in one segment are one copy. */
        const view_row *r = &v->rows[row + i];
        size_t run = 1;
        while (i + run < count && r[run].seg == r->seg && r[run].seg_row == r->seg_row + run)
            run++;
        const uint8_t *src = v->segs[r->seg].data[tap] + (size_t)r->seg_row * D * elem;
        float *o = dst + i * D;
        const size_t n = run * D;
        if (elem == 4 && le) {
            memcpy(o, src, n * 4);
        } else if (elem == 4) {
            for (size_t k = 0; k < n; k++) {
                uint32_t b = (uint32_t)src[4 * k] | (uint32_t)src[4 * k + 1] << 8 |
                             (uint32_t)src[4 * k + 2] << 16 | (uint32_t)src[4 * k + 3] << 24;
                memcpy(&o[k], &b, 4);
            }
        } else {
            for (size_t k = 0; k < n; k++)
                o[k] = graft_f16_to_f32((uint16_t)(src[2 * k] | src[2 * k + 1] << 8));
        }
        i += run;
    }
    return GRAFT_OK;
}

/* ---- extras for `graft cache` ---------------------------------------------------------------- */

int graft__cache_view_segment(const graft_cache_view *v, size_t seg, graft__cache_seg_info *out) {
    if (!v || seg >= v->seg_count) return graft__fail(GRAFT_EINVAL, "cache view: segment %zu", seg);
    const view_seg *g = &v->segs[seg];
    out->number = g->number;
    out->rows = g->row_count;
    out->live_rows = g->live_rows;
    out->first_row = g->first_row;
    out->bytes = g->bytes;
    out->first_key = g->row_count ? g->rows[0].key : NULL;
    out->last_key = g->row_count ? g->rows[g->row_count - 1].key : NULL;
    return GRAFT_OK;
}

size_t graft__cache_view_superseded(const graft_cache_view *v) { return v ? v->superseded : 0; }
const char *graft__cache_view_graft_version(const graft_cache_view *v) {
    return v ? v->m.graft_version : "";
}
const char *graft__cache_view_created(const graft_cache_view *v) { return v ? v->m.created : ""; }
