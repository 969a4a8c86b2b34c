/*
 * pipeline/cache/verify.c: `graft cache verify` underneath: re-reads a whole cache and reports
 * every finding instead of stopping at the first, as the view does.
 *
 * Checked: the manifest; every committed segment's index (format, fields, sha256 hex) and npy
 * files (header, dtype, shape against the manifest, row count against the index, exact file
 * size, every code value finite); superseded and duplicate keys (counted); classes.txt
 * against the labels; rejects.tsv lines; leftovers of interrupted commits and unexpected
 * files (warnings: harmless, and the next writer removes them). It reads the codes in 1 MiB
 * chunks, so memory stays at the index text plus the key table.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_internal.h"
#include "graft/npy.h"
#include "kernels.h"

#define CHUNK_BYTES ((size_t)1 << 20)

typedef struct verifier {
    const char *dir;
    graft__verify_fn report;
    void *ctx;
    graft__verify_stats *st;
} verifier;

static void say(verifier *vf, graft__verify_level level, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(verifier *vf, graft__verify_level level, const char *file, const char *fmt, ...) {
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (level == GRAFT__VERIFY_PROBLEM) vf->st->problems++;
    if (level == GRAFT__VERIFY_WARNING) vf->st->warnings++;
    if (vf->report) vf->report(vf->ctx, level, file, what);
}

/* The part of graft_last_error() after "<path>: ", which `file` already says. */
static const char *detail(const char *path) {
    const char *m = graft_last_error();
    size_t n = strlen(path);
    if (!strncmp(m, path, n) && m[n] == ':' && m[n + 1] == ' ') return m + n + 2;
    return m;
}

/* Checks one npy file; `rows` is the index's row count, or SIZE_MAX when unknown. */
static void check_npy(verifier *vf, const graft__manifest *m, int t, const char *rel,
                      size_t rows) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", vf->dir, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say(vf, GRAFT__VERIFY_PROBLEM, rel, "%s", errno == ENOENT ? "missing" : strerror(errno));
        return;
    }
    struct stat st;
    uint8_t *buf = malloc(CHUNK_BYTES);
    if (!buf || fstat(fd, &st) != 0) {
        say(vf, GRAFT__VERIFY_PROBLEM, rel, "%s", buf ? strerror(errno) : "out of memory");
        free(buf);
        close(fd);
        return;
    }
    vf->st->bytes += (uint64_t)st.st_size;
    /* A version 1 header is at most 10 + 65535 bytes; ours are 128. */
    ssize_t got = pread(fd, buf, CHUNK_BYTES, 0);
    graft_npy_header h;
    if (got < 0) {
        say(vf, GRAFT__VERIFY_PROBLEM, rel, "read: %s", strerror(errno));
        goto done;
    }
    if (graft_npy_header_parse(buf, (size_t)got, &h) != GRAFT_OK) {
        say(vf, GRAFT__VERIFY_PROBLEM, rel, "%s", graft_last_error());
        goto done;
    }
    const graft_npy_dtype want =
        m->dtype == GRAFT_CACHE_DTYPE_F16 ? GRAFT_NPY_DTYPE_F16 : GRAFT_NPY_DTYPE_F32;
    if (h.dtype != want || h.swapped) {
        say(vf, GRAFT__VERIFY_PROBLEM, rel, "dtype is not little-endian %s as the manifest says",
            graft__cache_dtype_name(m->dtype));
        goto done;
    }
    const graft_cache_tap *tap = &m->taps[t];
    int same = h.rank == 1 + tap->rank;
    for (int r = 0; same && r < tap->rank; r++) same = h.shape[1 + r] == (size_t)tap->dims[r];
    if (!same) {
        char shape[128];
        graft__cache_shape_format(tap, shape, sizeof shape);
        say(vf, GRAFT__VERIFY_PROBLEM, rel, "shape is not (rows, *%s) as tap %s in the manifest",
            shape, tap->name);
        goto done;
    }
    if (rows != SIZE_MAX && h.shape[0] != rows)
        say(vf, GRAFT__VERIFY_PROBLEM, rel, "%zu rows, its index has %zu", h.shape[0], rows);
    const uint64_t have = (uint64_t)st.st_size - h.data_offset;
    if (have != h.data_bytes) {
        say(vf, GRAFT__VERIFY_PROBLEM, rel, "%s: %llu data bytes, the shape needs %zu",
            have < h.data_bytes ? "truncated" : "trailing bytes", (unsigned long long)have,
            h.data_bytes);
        goto done;
    }
    /* Every value: NaN or infinity would poison any classifier trained on the cache. */
    const size_t elem = m->dtype == GRAFT_CACHE_DTYPE_F16 ? 2 : 4, D = graft__cache_tap_dim(tap);
    size_t bad = 0, first_bad = 0, done_elems = 0;
    for (uint64_t off = h.data_offset; off < (uint64_t)st.st_size;) {
        size_t want_bytes = CHUNK_BYTES;
        if ((uint64_t)st.st_size - off < want_bytes) want_bytes = (size_t)(st.st_size - off);
        got = pread(fd, buf, want_bytes, (off_t)off);
        if (got <= 0 || (size_t)got % elem) {
            say(vf, GRAFT__VERIFY_PROBLEM, rel, "read: %s", got < 0 ? strerror(errno) : "short");
            goto done;
        }
        const size_t n = (size_t)got / elem;
        for (size_t k = 0; k < n; k++) {
            int finite;
            if (elem == 2)
                finite = (buf[2 * k + 1] & 0x7c) != 0x7c;
            else
                finite = (buf[4 * k + 3] & 0x7f) != 0x7f || (buf[4 * k + 2] & 0x80) == 0;
            if (!finite && bad++ == 0) first_bad = done_elems + k;
        }
        done_elems += n;
        off += (uint64_t)got;
    }
    vf->st->values_checked += done_elems;
    if (bad)
        say(vf, GRAFT__VERIFY_PROBLEM, rel, "%zu non-finite values (the first in row %zu)", bad,
            D ? first_bad / D : 0);
done:
    free(buf);
    close(fd);
}

/* Top-level leftovers: ".tmp-*" files of an interrupted commit. */
static void check_top(verifier *vf) {
    DIR *d = opendir(vf->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, GRAFT__CACHE_TMP_PREFIX, strlen(GRAFT__CACHE_TMP_PREFIX)))
            say(vf, GRAFT__VERIFY_WARNING, e->d_name,
                "leftover temp file of an interrupted commit (the next writer removes it)");
    closedir(d);
}

static void check_classes(verifier *vf, const graft__keyset *labels) {
    char path[4096], *text;
    size_t len;
    int errnum;
    snprintf(path, sizeof path, "%s/" GRAFT__CACHE_CLASSES, vf->dir);
    int err = graft__cache_read_file(path, SIZE_MAX / 2, &text, &len, &errnum);
    if (err) {
        if (labels->live)
            say(vf, GRAFT__VERIFY_WARNING, GRAFT__CACHE_CLASSES, "%s (readers rebuild the classes "
                "from the indexes; the next commit rewrites it)",
                errnum == ENOENT ? "missing" : detail(path));
        return;
    }
    graft__keyset listed = {0};
    char *p = text, *end = text + len;
    int oom = 0;
    while (p < end && !oom) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        *eol = '\0';
        /* Names are escaped like index fields; a backslash-free name is its own text. */
        if (*p && !graft__keyset_insert(&listed, p, NULL)) oom = 1;
        p = eol + 1;
    }
    size_t missing = 0;
    const char *first = NULL;
    for (size_t i = 0; i < labels->ent_count && !oom; i++) {
        const char *l = labels->ents[i].key;
        if (!l || strpbrk(l, "\\\t\n\r")) continue;
        if (!graft__keyset_find(&listed, l) && missing++ == 0) first = l;
    }
    if (missing)
        say(vf, GRAFT__VERIFY_WARNING, GRAFT__CACHE_CLASSES, "lacks %zu labels of the rows (the "
            "first: '%.100s'); readers rebuild the classes from the indexes", missing, first);
    graft__keyset_free(&listed);
    free(text);
}

static void check_rejects(verifier *vf) {
    char path[4096], *text;
    size_t len;
    int errnum;
    snprintf(path, sizeof path, "%s/" GRAFT__CACHE_REJECTS, vf->dir);
    if (graft__cache_read_file(path, SIZE_MAX / 2, &text, &len, &errnum)) {
        if (errnum != ENOENT) say(vf, GRAFT__VERIFY_PROBLEM, GRAFT__CACHE_REJECTS, "%s",
                                  detail(path));
        return;
    }
    size_t lines = 0, bad = 0, line_no = 0, first_bad = 0;
    for (char *p = text, *end = text + len; p < end;) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        const int partial = !eol;
        if (!eol) eol = end;
        line_no++;
        if (line_no == 1 && !strncmp(p, GRAFT__CACHE_REJECTS_HEADER, (size_t)(eol - p))) {
            p = eol + 1;
            continue;
        }
        int tabs = 0;
        for (char *q = p; q < eol; q++) tabs += *q == '\t';
        if (tabs != 4 || partial) {
            if (bad++ == 0) first_bad = line_no;
        } else {
            lines++;
        }
        p = eol + 1;
    }
    vf->st->rejects = lines;
    if (bad)
        say(vf, GRAFT__VERIFY_WARNING, GRAFT__CACHE_REJECTS, "%zu malformed lines (the first: "
            "line %zu; a crash mid-append leaves one)", bad, first_bad);
    free(text);
}

int graft__cache_verify(const char *dir, graft__verify_fn report, void *ctx,
                        graft__verify_stats *stats) {
    memset(stats, 0, sizeof *stats);
    verifier vf = {dir, report, ctx, stats};
    graft__manifest m;
    int err = graft__manifest_load(dir, &m);
    if (err == GRAFT_ENOMEM) return err;
    if (err) {
        char path[4096];
        snprintf(path, sizeof path, "%s/" GRAFT__CACHE_MANIFEST, dir);
        say(&vf, GRAFT__VERIFY_PROBLEM, GRAFT__CACHE_MANIFEST, "%s", detail(path));
        return GRAFT_OK;
    }
    check_top(&vf);
    graft__cache_scan scan;
    if ((err = graft__cache_scan_dir(dir, &scan))) {
        graft__manifest_free(&m);
        if (err == GRAFT_ENOMEM) return err;
        say(&vf, GRAFT__VERIFY_PROBLEM, GRAFT__CACHE_SEGDIR, "%s", graft_last_error());
        return GRAFT_OK;
    }
    char rel[256];
    for (size_t i = 0; i < scan.temp_count; i++) {
        snprintf(rel, sizeof rel, GRAFT__CACHE_SEGDIR "/%s", scan.temps[i]);
        say(&vf, GRAFT__VERIFY_WARNING, rel,
            "leftover temp file of an interrupted commit (the next writer removes it)");
    }
    for (size_t i = 0; i < scan.orphan_count; i++) {
        snprintf(rel, sizeof rel, GRAFT__CACHE_SEGDIR "/%s", scan.orphans[i]);
        say(&vf, GRAFT__VERIFY_WARNING, rel,
            "orphan of an interrupted commit: no index (ignored; the next writer removes it)");
    }
    for (size_t i = 0; i < scan.unknown_count; i++) {
        snprintf(rel, sizeof rel, GRAFT__CACHE_SEGDIR "/%s", scan.unknown[i]);
        say(&vf, GRAFT__VERIFY_WARNING, rel, "not a cache file (ignored)");
    }

    /* Index texts stay alive to the end: the key table borrows their keys. */
    char **texts = calloc(scan.segment_count ? scan.segment_count : 1, sizeof *texts);
    graft__keyset keys = {0}, labels = {0};
    if (!texts) {
        err = graft__fail(GRAFT_ENOMEM, "cache %s: out of memory", dir);
        goto out;
    }
    for (size_t s = 0; s < scan.segment_count; s++) {
        char stem[24], path[4096];
        graft__cache_seg_stem(scan.segments[s], stem);
        snprintf(rel, sizeof rel, GRAFT__CACHE_SEGDIR "/%s.index.tsv", stem);
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        stats->segments++;
        size_t len, count = SIZE_MAX;
        graft__index_row *rows = NULL;
        err = graft__cache_read_file(path, SIZE_MAX / 2, &texts[s], &len, NULL);
        if (!err) {
            stats->bytes += len;
            err = graft__index_parse(texts[s], len, path, &rows, &count);
        }
        if (err == GRAFT_ENOMEM) goto out;
        if (err) {
            say(&vf, GRAFT__VERIFY_PROBLEM, rel, "%s", detail(path));
            count = SIZE_MAX;
            err = GRAFT_OK;
        }
        for (size_t r = 0; count != SIZE_MAX && r < count; r++) {
            int created;
            graft__keyent *e = graft__keyset_insert(&keys, rows[r].key, &created);
            if (!e || (rows[r].label && !graft__keyset_insert(&labels, rows[r].label, NULL))) {
                free(rows);
                err = graft__fail(GRAFT_ENOMEM, "cache %s: out of memory", dir);
                goto out;
            }
            if (!created) {
                stats->superseded++;
                /* Within one segment: the same key twice in one commit. */
                if (e->aux == s + 1)
                    say(&vf, GRAFT__VERIFY_NOTE, rel, "key '%.200s' appears twice (the later row "
                        "wins)", rows[r].key);
            }
            e->aux = s + 1;
            stats->rows++;
        }
        free(rows);
        for (int t = 0; t < m.tap_count; t++) {
            char npy[256];
            snprintf(npy, sizeof npy, GRAFT__CACHE_SEGDIR "/%s.tap%d.npy", stem, t);
            check_npy(&vf, &m, t, npy, count);
        }
    }
    stats->live_rows = stats->rows - stats->superseded;
    check_classes(&vf, &labels);
    check_rejects(&vf);
out:
    for (size_t s = 0; texts && s < scan.segment_count; s++) free(texts[s]);
    free(texts);
    graft__keyset_free(&keys);
    graft__keyset_free(&labels);
    graft__cache_scan_free(&scan);
    graft__manifest_free(&m);
    return err;
}
