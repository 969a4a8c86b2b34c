/*
 * pipeline/cache/layout.c: the cache directory's file formats that the writer, the view and
 * `graft cache verify` share: index lines (escaping, parsing), sha256 hex, segment names and
 * the scan of segments/ that tells committed segments from leftovers of interrupted commits.
 *
 * Nothing here writes files or decides what to do with leftovers: cache.c removes them,
 * view.c ignores them, verify.c reports them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_internal.h"
#include "kernels.h"

/* ---- splits ---------------------------------------------------------------------------------- */

const char *graft__cache_split_name(graft_split split) {
    switch (split) {
    case GRAFT_SPLIT_NONE: return "none";
    case GRAFT_SPLIT_TRAIN: return "train";
    case GRAFT_SPLIT_VAL: return "val";
    case GRAFT_SPLIT_TEST: return "test";
    }
    return "?";
}

int graft__cache_split_parse(const char *name, graft_split *out) {
    static const struct {
        const char *name;
        graft_split split;
    } names[] = {{"none", GRAFT_SPLIT_NONE},      {"train", GRAFT_SPLIT_TRAIN},
                 {"val", GRAFT_SPLIT_VAL},        {"valid", GRAFT_SPLIT_VAL},
                 {"validation", GRAFT_SPLIT_VAL}, {"test", GRAFT_SPLIT_TEST}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].split;
            return 0;
        }
    return -1;
}

/* ---- files ----------------------------------------------------------------------------------- */

int graft__cache_errno_code(int errnum) {
#ifdef EDQUOT
    if (errnum == EDQUOT) return GRAFT_ENOSPC;
#endif
    return errnum == ENOSPC || errnum == EFBIG ? GRAFT_ENOSPC : GRAFT_EIO;
}

int graft__cache_read_file(const char *path, size_t max, char **buf, size_t *len, int *errnum) {
    if (errnum) *errnum = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errnum) *errnum = errno;
        return graft__fail(GRAFT_EIO, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        if (errnum) *errnum = e;
        return graft__fail(GRAFT_EIO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (errnum) *errnum = EISDIR;
        return graft__fail(GRAFT_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return graft__fail(GRAFT_ERANGE, "%s: %lld bytes is more than the %zu expected", path,
                           (long long)st.st_size, max);
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *p = malloc(size + 1);
    if (!p) {
        close(fd);
        return graft__fail(GRAFT_ENOMEM, "%s: cannot allocate %zu bytes", path, size + 1);
    }
    /* Read to EOF rather than trusting st_size: the file may be shorter by now. */
    while (got < size) {
        ssize_t r = read(fd, p + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(p);
            close(fd);
            if (errnum) *errnum = e;
            return graft__fail(GRAFT_EIO, "%s: read: %s", path, strerror(e));
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    p[got] = '\0';
    *buf = p;
    *len = got;
    return GRAFT_OK;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int graft__cache_hex_parse(const char *hex, size_t len, uint8_t out[32]) {
    if (len != 64) return -1;
    uint8_t tmp[32];
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(out, tmp, 32);
    return 0;
}

void graft__cache_hex_format(const uint8_t sha[32], char out[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[sha[i] >> 4];
        out[2 * i + 1] = digits[sha[i] & 15];
    }
    out[64] = '\0';
}

void graft__cache_seg_stem(uint64_t seg, char out[24]) {
    snprintf(out, 24, "%06llu", (unsigned long long)seg);
}

/* ---- index lines ----------------------------------------------------------------------------- */

size_t graft__tsv_escape(char *dst, const char *src, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '\t' || c == '\n' || c == '\r' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        } else {
            dst[o++] = c;
        }
    }
    return o;
}

/* Unescapes field [p, end) in place and NUL-terminates it; -1 on a bad escape. */
static int unescape_field(char *p, char *end) {
    char *o = p;
    for (char *i = p; i < end; i++) {
        if (*i != '\\') {
            *o++ = *i;
            continue;
        }
        if (++i == end) return -1;
        switch (*i) {
        case 't': *o++ = '\t'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case '\\': *o++ = '\\'; break;
        default: return -1;
        }
    }
    *o = '\0';
    return 0;
}

int graft__index_parse(char *text, size_t len, const char *path, graft__index_row **rows,
                       size_t *count) {
    const size_t hlen = strlen(GRAFT__CACHE_INDEX_HEADER);
    if (len < hlen || memcmp(text, GRAFT__CACHE_INDEX_HEADER, hlen) != 0)
        return graft__fail(GRAFT_ECORRUPT, "%s: not a cache index (the header line is not "
                           "key, label, split, shard, sha256, member)", path);
    if (text[len - 1] != '\n')
        return graft__fail(GRAFT_ECORRUPT, "%s: truncated (the last line has no newline)", path);
    size_t lines = 0;
    for (size_t i = hlen; i < len; i++) lines += text[i] == '\n';
    graft__index_row *r = malloc((lines ? lines : 1) * sizeof *r);
    if (!r) return graft__fail(GRAFT_ENOMEM, "%s: cannot allocate %zu rows", path, lines);

    char *p = text + hlen, *end = text + len;
    for (size_t n = 0; n < lines; n++) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        char *field[6];
        char *fend[6];
        int nf = 0;
        field[0] = p;
        for (char *q = p; q <= eol; q++) {
            if (q == eol || *q == '\t') {
                if (nf < 6) fend[nf] = q;
                nf++;
                if (q < eol && nf < 6) field[nf] = q + 1;
            }
        }
        const size_t line = n + 2;
        if (nf != 6) {
            free(r);
            return graft__fail(GRAFT_ECORRUPT, "%s: line %zu: %d fields, expected 6 (key, label, "
                               "split, shard, sha256, member)", path, line, nf);
        }
        if (graft__cache_hex_parse(field[4], (size_t)(fend[4] - field[4]), r[n].sha256)) {
            free(r);
            return graft__fail(GRAFT_ECORRUPT, "%s: line %zu: sha256 is not 64 lowercase hex "
                               "digits", path, line);
        }
        for (int f = 0; f < 6; f++)
            if (f != 4 && unescape_field(field[f], fend[f])) {
                free(r);
                return graft__fail(GRAFT_ECORRUPT, "%s: line %zu: a bad escape sequence", path,
                                   line);
            }
        if (graft__cache_split_parse(field[2], &r[n].split)) {
            free(r);
            return graft__fail(GRAFT_ECORRUPT, "%s: line %zu: unknown split '%.40s'", path, line,
                               field[2]);
        }
        if (!field[0][0]) {
            free(r);
            return graft__fail(GRAFT_ECORRUPT, "%s: line %zu: empty key", path, line);
        }
        r[n].key = field[0];
        r[n].label = field[1][0] ? field[1] : NULL;
        r[n].shard = field[3];
        r[n].member = field[5];
        p = eol + 1;
    }
    *rows = r;
    *count = lines;
    return GRAFT_OK;
}

/* ---- the directory scan ---------------------------------------------------------------------- */

/* Parses "<digits><suffix>" into *num; -1 unless the name has exactly that form. */
static int parse_numbered(const char *name, uint64_t *num, const char **rest) {
    uint64_t v = 0;
    const char *p = name;
    if (*p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (p - name < 6) return -1;
    *num = v;
    *rest = p;
    return 0;
}

/* ".tapT.npy" with T a tap index: 0; -1 otherwise. */
static int is_tap_suffix(const char *s) {
    if (strncmp(s, ".tap", 4) != 0) return -1;
    s += 4;
    if (*s < '0' || *s > '9') return -1;
    while (*s >= '0' && *s <= '9') s++;
    return strcmp(s, ".npy") == 0 ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int name_push(char ***v, size_t *n, size_t *cap, const char *name) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        char **t = realloc(*v, c * sizeof *t);
        if (!t) return -1;
        *v = t;
        *cap = c;
    }
    char *s = strdup(name);
    if (!s) return -1;
    (*v)[(*n)++] = s;
    return 0;
}

static int u64_push(uint64_t **v, size_t *n, size_t *cap, uint64_t x) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        uint64_t *t = realloc(*v, c * sizeof *t);
        if (!t) return -1;
        *v = t;
        *cap = c;
    }
    (*v)[(*n)++] = x;
    return 0;
}

static int has_u64(const uint64_t *sorted, size_t n, uint64_t x) {
    return n && bsearch(&x, sorted, n, sizeof x, cmp_u64) != NULL;
}

void graft__cache_scan_free(graft__cache_scan *s) {
    if (!s) return;
    for (size_t i = 0; i < s->temp_count; i++) free(s->temps[i]);
    for (size_t i = 0; i < s->orphan_count; i++) free(s->orphans[i]);
    for (size_t i = 0; i < s->unknown_count; i++) free(s->unknown[i]);
    free(s->temps);
    free(s->orphans);
    free(s->unknown);
    free(s->segments);
    memset(s, 0, sizeof *s);
}

int graft__cache_scan_dir(const char *dir, graft__cache_scan *out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" GRAFT__CACHE_SEGDIR, dir);
    graft__cache_scan s = {0};
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT) {
            *out = s;
            return GRAFT_OK;
        }
        return graft__fail(GRAFT_EIO, "%s: %s", path, strerror(errno));
    }
    /* Two passes over the names: the index files first decide which npy files are orphans. */
    char **npys = NULL;
    uint64_t *npy_nums = NULL;
    size_t npy_count = 0, npy_cap = 0, npy_num_count = 0, npy_num_cap = 0;
    size_t seg_cap = 0, temp_cap = 0, unknown_cap = 0, orphan_cap = 0;
    int err = GRAFT_OK;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name, *rest;
        uint64_t num;
        if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
        int oom = 0;
        if (!strncmp(name, GRAFT__CACHE_TMP_PREFIX, strlen(GRAFT__CACHE_TMP_PREFIX))) {
            oom = name_push(&s.temps, &s.temp_count, &temp_cap, name);
            /* A temp's number is used up too: never reuse a number a crashed run had. */
            if (!parse_numbered(name + strlen(GRAFT__CACHE_TMP_PREFIX), &num, &rest) &&
                num >= s.next_segment)
                s.next_segment = num + 1;
        } else if (!parse_numbered(name, &num, &rest) && !strcmp(rest, ".index.tsv")) {
            oom = u64_push(&s.segments, &s.segment_count, &seg_cap, num);
            if (num >= s.next_segment) s.next_segment = num + 1;
        } else if (!parse_numbered(name, &num, &rest) && !is_tap_suffix(rest)) {
            oom = name_push(&npys, &npy_count, &npy_cap, name) ||
                  u64_push(&npy_nums, &npy_num_count, &npy_num_cap, num);
            if (num >= s.next_segment) s.next_segment = num + 1;
        } else {
            oom = name_push(&s.unknown, &s.unknown_count, &unknown_cap, name);
        }
        if (oom) {
            err = graft__fail(GRAFT_ENOMEM, "%s: out of memory listing segments", path);
            break;
        }
        errno = 0;
    }
    if (!err && errno) err = graft__fail(GRAFT_EIO, "%s: readdir: %s", path, strerror(errno));
    closedir(d);
    if (!err) {
        if (s.segment_count) qsort(s.segments, s.segment_count, sizeof *s.segments, cmp_u64);
        for (size_t i = 0; i < npy_count && !err; i++)
            if (!has_u64(s.segments, s.segment_count, npy_nums[i]) &&
                name_push(&s.orphans, &s.orphan_count, &orphan_cap, npys[i]))
                err = graft__fail(GRAFT_ENOMEM, "%s: out of memory listing segments", path);
    }
    for (size_t i = 0; i < npy_count; i++) free(npys[i]);
    free(npys);
    free(npy_nums);
    if (err) {
        graft__cache_scan_free(&s);
        return err;
    }
    if (s.next_segment == 0) s.next_segment = 1;
    *out = s;
    return GRAFT_OK;
}
