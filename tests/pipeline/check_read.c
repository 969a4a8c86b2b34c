/*
 * tests/pipeline/check_read.c: the read stage (pipeline/read/: graft/dataset.h).
 *
 * Every dataset is built here: small real images (a hand-written 24-bit BMP, PNG through
 * libspng) packed with libarchive's write API into tar (pax, gnutar, ustar; plain, gzip,
 * bzip2, xz, zstd) and zip (deflate, stored), or laid out as directory trees (cpio is written
 * too, to check that it is refused). The checks
 * assert the exact event stream: keys, members, labels, splits, SHA-256 of the image bytes,
 * and the reasons of rejects and shard errors. They cover WebDataset grouping, label members
 * (.cls/.txt/.json), class folders, split folders, misnamed / zero-byte / non-image /
 * oversized members, symlinks and loops in trees, truncated and corrupt shards among good
 * ones, missing files, standard input (a file and a pipe dup2'ed onto fd 0), input spec
 * expansion, the --labels CSV and the val_fraction hash. The shared hymenoptera.tar is read
 * when present ($GRAFT_SHARED, default ../shared) and skipped otherwise.
 *
 * Host-only (libarchive, OpenSSL): not built for the aarch64 run (GRAFT_NO_IO_CHECKS).
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <locale.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <spng.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "graft/dataset.h"
#include "graft/graft.h"

#define FAIL(...) return graft_check_fail(msg, msglen, __VA_ARGS__)

/* ---- data ---------------------------------------------------------------------------------- */

typedef struct blob {
    uint8_t *p;
    size_t len;
} blob;

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v), put16(p + 2, v >> 16); }

static uint32_t xorshift(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* A 24-bit bottom-up BMP of noise: incompressible, so truncating a .tar.gz cuts images. */
static blob make_bmp(int w, int h, uint32_t seed) {
    size_t row = ((size_t)w * 3 + 3) & ~(size_t)3;
    size_t len = 54 + row * (size_t)h;
    blob b = {calloc(1, len), len};
    if (!b.p) return b;
    b.p[0] = 'B', b.p[1] = 'M';
    put32(b.p + 2, (uint32_t)len);
    put32(b.p + 10, 54);
    put32(b.p + 14, 40);
    put32(b.p + 18, (uint32_t)w);
    put32(b.p + 22, (uint32_t)h);
    put16(b.p + 26, 1);
    put16(b.p + 28, 24);
    put32(b.p + 34, (uint32_t)(row * (size_t)h));
    uint32_t s = seed * 2654435761u + 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w * 3; x++)
            b.p[54 + (size_t)y * row + (size_t)x] = (uint8_t)xorshift(&s);
    return b;
}

static blob make_png(int w, int h, uint32_t seed) {
    blob b = {NULL, 0};
    uint8_t *px = malloc((size_t)w * h * 3);
    spng_ctx *enc = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!px || !enc) goto out;
    uint32_t s = seed * 2246822519u + 7;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) px[i] = (uint8_t)xorshift(&s);
    struct spng_ihdr ihdr = {(uint32_t)w, (uint32_t)h, 8, SPNG_COLOR_TYPE_TRUECOLOR, 0, 0, 0};
    spng_set_option(enc, SPNG_ENCODE_TO_BUFFER, 1);
    int rc = spng_set_ihdr(enc, &ihdr);
    if (!rc) rc = spng_encode_image(enc, px, (size_t)w * h * 3, SPNG_FMT_PNG,
                                    SPNG_ENCODE_FINALIZE);
    if (!rc) {
        int e = 0;
        b.p = spng_get_png_buffer(enc, &b.len, &e);
        if (e) b.p = NULL, b.len = 0;
    }
out:
    spng_ctx_free(enc);
    free(px);
    return b;
}

static blob text(const char *s) {
    size_t n = strlen(s);
    blob b = {malloc(n ? n : 1), n};
    if (b.p) memcpy(b.p, s, n);
    return b;
}

static void sha256_of(const uint8_t *p, size_t n, uint8_t out[32]) {
    unsigned len = 0;
    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

/* ---- files and trees ----------------------------------------------------------------------- */

static int make_tmpdir(char *dir, size_t cap) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, cap, "%s/graft_read_XXXXXX", t && t[0] ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)ftw;
    if (flag == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

static void rm_tree(const char *dir) {
    if (dir[0]) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p for the parents of `path`. */
static int make_parents(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

static int write_file(const char *path, const void *p, size_t n) {
    if (make_parents(path)) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static int read_whole(const char *path, blob *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    out->p = malloc(n > 0 ? (size_t)n : 1);
    out->len = out->p ? fread(out->p, 1, (size_t)n, f) : 0;
    fclose(f);
    return out->p && out->len == (size_t)n ? 0 : -1;
}

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* ---- archives ------------------------------------------------------------------------------ */

enum { E_FILE, E_DIR, E_LINK };

typedef struct entry {
    const char *name;
    int type;
    const blob *data; /* E_FILE */
    const char *link; /* E_LINK */
} entry;

enum { F_PAX, F_GNUTAR, F_USTAR, F_ZIP_DEFLATE, F_ZIP_STORE, F_CPIO };
enum { FL_NONE, FL_GZIP, FL_BZIP2, FL_XZ, FL_ZSTD };

/*
 * Writes entries into an archive at `path` (or into fd when path is NULL). Under the C locale
 * libarchive's writers cannot convert UTF-8 names (and its pax writer even crashes on them),
 * so the writing thread switches to C.UTF-8 for the duration.
 */
static int write_archive(const char *path, int fd, int fmt, int flt, const entry *e, int n,
                         const char *passphrase) {
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t prev = utf8 ? uselocale(utf8) : (locale_t)0;
    struct archive *a = archive_write_new();
    int rc = -1;
    if (!a) goto out;
    switch (fmt) {
    case F_PAX: archive_write_set_format_pax_restricted(a); break;
    case F_GNUTAR: archive_write_set_format_gnutar(a); break;
    case F_USTAR: archive_write_set_format_ustar(a); break;
    case F_ZIP_DEFLATE:
    case F_ZIP_STORE:
        archive_write_set_format_zip(a);
        if (archive_write_set_format_option(a, "zip", "compression",
                                            fmt == F_ZIP_STORE ? "store" : "deflate") < 0)
            goto out;
        break;
    case F_CPIO: archive_write_set_format_cpio_newc(a); break;
    }
    if (passphrase &&
        (archive_write_set_format_option(a, "zip", "encryption", "zipcrypt") != ARCHIVE_OK ||
         archive_write_set_passphrase(a, passphrase) != ARCHIVE_OK))
        goto out;
    switch (flt) {
    case FL_GZIP: archive_write_add_filter_gzip(a); break;
    case FL_BZIP2: archive_write_add_filter_bzip2(a); break;
    case FL_XZ: archive_write_add_filter_xz(a); break;
    case FL_ZSTD:
        if (archive_write_add_filter_zstd(a) != ARCHIVE_OK) goto out;
        break;
    default: break;
    }
    if (path ? archive_write_open_filename(a, path) : archive_write_open_fd(a, fd)) goto out;
    for (int i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        if (!ae) goto out;
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_mtime(ae, 1577836800, 0);
        archive_entry_set_size(ae, 0); /* cpio wants a size on every entry */
        if (e[i].type == E_DIR) {
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, 0755);
        } else if (e[i].type == E_LINK) {
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_perm(ae, 0777);
            archive_entry_set_symlink(ae, e[i].link);
        } else {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_size(ae, (la_int64_t)e[i].data->len);
        }
        int hr = archive_write_header(a, ae);
        archive_entry_free(ae);
        if (hr < ARCHIVE_WARN) goto out;
        if (e[i].type == E_FILE && e[i].data->len &&
            archive_write_data(a, e[i].data->p, e[i].data->len) != (la_ssize_t)e[i].data->len)
            goto out;
    }
    rc = archive_write_close(a) == ARCHIVE_OK ? 0 : -1;
out:
    if (a) archive_write_free(a);
    if (utf8) {
        uselocale(prev);
        freelocale(utf8);
    }
    return rc;
}

/* ---- draining a reader --------------------------------------------------------------------- */

typedef struct ev {
    int event, shard_index, split;
    char *key, *member, *label, *reason;
    size_t size;
    uint8_t sha[32];
} ev;

typedef struct evlist {
    ev *v;
    int n;
    graft_reader_progress progress; /* at the end */
    int shard_count;
} evlist;

static void evlist_free(evlist *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].member);
        free(l->v[i].label);
        free(l->v[i].reason);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/*
 * Reads every event (END excluded) into *out, checking the invariants every event must keep:
 * SAMPLE has data and a correct SHA-256, REJECT and SHARD_ERROR a reason, END stays END.
 */
static int drain(const char *const *specs, int nspecs, const graft_reader_options *o,
                 evlist *out, char *msg, size_t msglen) {
    memset(out, 0, sizeof *out);
    graft_reader *r = NULL;
    int rc = graft_reader_create(specs, nspecs, o, &r);
    if (rc) FAIL("graft_reader_create(%s): %s: %s", nspecs ? specs[0] : "", graft_err_name(rc),
                 graft_last_error());
    int cap = 0;
    for (int guard = 0;; guard++) {
        graft_sample s;
        memset(&s, 0, sizeof s);
        rc = graft_reader_next(r, &s);
        if (rc) {
            graft_reader_destroy(r);
            FAIL("graft_reader_next: %s: %s", graft_err_name(rc), graft_last_error());
        }
        if (s.event == GRAFT_READ_END) {
            graft_sample s2;
            memset(&s2, 0, sizeof s2);
            if (graft_reader_next(r, &s2) || s2.event != GRAFT_READ_END) {
                graft_reader_destroy(r);
                FAIL("END was not sticky");
            }
            break;
        }
        const char *bad = NULL;
        uint8_t sha[32];
        if (guard > 100000) bad = "more than 100000 events";
        else if (!s.shard) bad = "no shard";
        else if (s.event == GRAFT_READ_SAMPLE) {
            if (!s.data || !s.size || !s.key || !s.member || s.reason) bad = "malformed SAMPLE";
            else {
                sha256_of(s.data, s.size, sha);
                if (memcmp(sha, s.sha256, 32)) bad = "sha256 differs from the data's";
            }
        } else if (s.event == GRAFT_READ_REJECT) {
            if (!s.reason || s.data || !s.key || !s.member) bad = "malformed REJECT";
        } else if (s.event == GRAFT_READ_SHARD_ERROR) {
            if (!s.reason || s.data || s.key) bad = "malformed SHARD_ERROR";
        } else {
            bad = "unknown event";
        }
        if (bad) {
            graft_sample_clear(&s);
            graft_reader_destroy(r);
            evlist_free(out);
            FAIL("event %d: %s", guard, bad);
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            out->v = realloc(out->v, (size_t)cap * sizeof *out->v);
            if (!out->v) abort();
        }
        ev *e = &out->v[out->n++];
        memset(e, 0, sizeof *e);
        e->event = s.event;
        e->shard_index = s.shard_index;
        e->split = s.split;
        e->key = dup_or_null(s.key);
        e->member = dup_or_null(s.member);
        e->label = dup_or_null(s.label);
        e->reason = dup_or_null(s.reason);
        e->size = s.size;
        memcpy(e->sha, s.sha256, 32);
        graft_sample_clear(&s);
        if (s.key || s.data) {
            graft_reader_destroy(r);
            FAIL("graft_sample_clear left pointers behind");
        }
    }
    graft_reader_get_progress(r, &out->progress);
    out->shard_count = graft_reader_shard_count(r);
    graft_reader_destroy(r);
    return GRAFT_CHECK_PASS;
}

/* What one event should be. reason: a prefix of the actual reason. */
typedef struct want {
    int event;
    const char *key, *member, *label;
    int split;
    const blob *data;
    const char *reason;
    int shard_index;
} want;

static const char *ev_name(int e) {
    switch (e) {
    case GRAFT_READ_SAMPLE: return "SAMPLE";
    case GRAFT_READ_REJECT: return "REJECT";
    case GRAFT_READ_SHARD_ERROR: return "SHARD_ERROR";
    case GRAFT_READ_END: return "END";
    }
    return "?";
}

static int same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Compares got[from..from+n) with w[0..n). */
static int expect_at(const evlist *got, int from, const want *w, int n, const char *what,
                     char *msg, size_t msglen) {
    if (got->n < from + n)
        FAIL("%s: %d events, expected at least %d (event %d is %s %s)", what, got->n, from + n,
             got->n ? got->n - 1 : 0, got->n ? ev_name(got->v[got->n - 1].event) : "-",
             got->n && got->v[got->n - 1].key ? got->v[got->n - 1].key : "");
    for (int i = 0; i < n; i++) {
        const ev *g = &got->v[from + i];
        const want *x = &w[i];
        const char *k = g->key ? g->key : "(null)";
        if (g->event != x->event)
            FAIL("%s: event %d (%s, reason %s): %s, expected %s %s", what, from + i, k,
                 g->reason ? g->reason : "-", ev_name(g->event), ev_name(x->event),
                 x->key ? x->key : "");
        if (g->shard_index != x->shard_index)
            FAIL("%s: event %d (%s): shard %d, expected %d", what, from + i, k, g->shard_index,
                 x->shard_index);
        if (x->event == GRAFT_READ_SHARD_ERROR) {
            if (x->reason && !strstr(g->reason, x->reason))
                FAIL("%s: event %d: shard error \"%s\" lacks \"%s\"", what, from + i, g->reason,
                     x->reason);
            continue;
        }
        if (!same_str(g->key, x->key))
            FAIL("%s: event %d: key \"%s\", expected \"%s\"", what, from + i, k, x->key);
        if (x->member && !same_str(g->member, x->member))
            FAIL("%s: event %d (%s): member \"%s\", expected \"%s\"", what, from + i, k,
                 g->member, x->member);
        if (!same_str(g->label, x->label))
            FAIL("%s: event %d (%s): label \"%s\", expected \"%s\"", what, from + i, k,
                 g->label ? g->label : "(null)", x->label ? x->label : "(null)");
        if (g->split != x->split)
            FAIL("%s: event %d (%s): split %s, expected %s", what, from + i, k,
                 graft_split_name(g->split), graft_split_name(x->split));
        if (x->event == GRAFT_READ_SAMPLE) {
            uint8_t sha[32];
            sha256_of(x->data->p, x->data->len, sha);
            if (g->size != x->data->len || memcmp(sha, g->sha, 32))
                FAIL("%s: event %d (%s): %zu bytes / sha256 differ from the %zu bytes stored",
                     what, from + i, k, g->size, x->data->len);
        } else if (x->reason && strncmp(g->reason, x->reason, strlen(x->reason)) != 0) {
            FAIL("%s: event %d (%s): reason \"%s\", expected \"%s...\"", what, from + i, k,
                 g->reason, x->reason);
        }
    }
    return GRAFT_CHECK_PASS;
}

static int expect_all(const evlist *got, const want *w, int n, const char *what, char *msg,
                      size_t msglen) {
    int rc = expect_at(got, 0, w, n, what, msg, msglen);
    if (rc) return rc;
    if (got->n != n)
        FAIL("%s: %d events, expected %d (extra: %s %s)", what, got->n, n,
             ev_name(got->v[n].event), got->v[n].key ? got->v[n].key : got->v[n].reason);
    return GRAFT_CHECK_PASS;
}

/* ---- dataset A: WebDataset members, one shard ---------------------------------------------- */

#define A_MAX_MEMBER 8192

typedef struct dataset_a {
    blob bmp1, png2, png3, zero, html, readme, ds_store, big, bmp7, png9, bmp9b, bmp10, bmp11,
        utf8img, bmp12, bmp13, bmp14;
    blob cls1, json2, txt3, cls6, json7, cls8, txt10, cls11, json12, json13, json14;
    entry e[40];
    int n;
    want w[24];
    int nw;
} dataset_a;

static void dataset_a_free(dataset_a *d) {
    blob *all[] = {&d->bmp1, &d->png2, &d->png3, &d->zero, &d->html, &d->readme, &d->ds_store,
                   &d->big, &d->bmp7, &d->png9, &d->bmp9b, &d->bmp10, &d->bmp11, &d->utf8img,
                   &d->bmp12, &d->bmp13, &d->bmp14, &d->cls1, &d->json2, &d->txt3, &d->cls6,
                   &d->json7, &d->cls8, &d->txt10, &d->cls11, &d->json12, &d->json13,
                   &d->json14};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->p);
    memset(d, 0, sizeof *d);
}

#define UTF8_NAME "train/sub dir/\xc3\xbcn\xc3\xaf c\xc3\xb8" "d\xc3\xa9"

static int dataset_a_init(dataset_a *d) {
    memset(d, 0, sizeof *d);
    d->bmp1 = make_bmp(16, 8, 1);
    d->png2 = make_png(9, 7, 2);
    d->png3 = make_png(5, 5, 3);
    d->zero = (blob){malloc(1), 0};
    d->html = text("<!DOCTYPE html><html></html>\n");
    d->readme = text("This is\na readme\n");
    d->ds_store = (blob){malloc(16), 16};
    if (d->ds_store.p) memcpy(d->ds_store.p, "\0\0\0\1Bud1\0\0\x10\0\0\0\x08\0", 16);
    d->big = make_bmp(64, 64, 6);
    d->bmp7 = make_bmp(3, 3, 7);
    d->png9 = make_png(4, 4, 9);
    d->bmp9b = make_bmp(4, 4, 99);
    d->bmp10 = make_bmp(2, 5, 10);
    d->bmp11 = make_bmp(5, 2, 11);
    d->utf8img = make_bmp(6, 6, 21);
    d->bmp12 = make_bmp(7, 1, 12);
    d->bmp13 = make_bmp(1, 7, 13);
    d->bmp14 = make_bmp(2, 2, 14);
    d->cls1 = text("3\n");
    d->json2 = text("{\"meta\": {\"x\": [1, \"}\", {\"label\": \"no\"}]}, \"label\": \"dog\"}");
    d->txt3 = text("  caf\xc3\xa9 au lait \r\n");
    d->cls6 = text("6");
    d->json7 = text("{\"class\": 12}");
    d->cls8 = text(" 8 ");
    d->txt10 = text("BMW");
    d->cls11 = text("eleven");
    d->json12 = text("{\"class\": \"x\", \"label\": 5}");
    d->json13 = text("\"bare \\u0073tring\"");
    d->json14 = text("{\"label\": {\"nested\": 1}}");
    blob *all[] = {&d->bmp1, &d->png2, &d->png3, &d->big, &d->png9, &d->ds_store};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!all[i]->p) return -1;

    entry e[] = {
        {"train/", E_DIR, NULL, NULL},
        {"train/000001.bmp", E_FILE, &d->bmp1, NULL},
        {"train/000001.cls", E_FILE, &d->cls1, NULL},
        {"./train/000002.json", E_FILE, &d->json2, NULL},
        {"train/000002.png", E_FILE, &d->png2, NULL},
        {"train/000003.jpg", E_FILE, &d->png3, NULL}, /* a PNG named .jpg */
        {"train/000003.txt", E_FILE, &d->txt3, NULL},
        {"train/000004.jpg", E_FILE, &d->zero, NULL},
        {"train/000005.jpg", E_FILE, &d->html, NULL},
        {"train/README.txt", E_FILE, &d->readme, NULL},
        {"train/.DS_Store", E_FILE, &d->ds_store, NULL},
        {"train/000006.bmp", E_FILE, &d->big, NULL},
        {"train/000006.cls", E_FILE, &d->cls6, NULL},
        {"train/000007.bmp", E_FILE, &d->bmp7, NULL},
        {"train/000007.json", E_FILE, &d->json7, NULL},
        {"train/000008.cls", E_FILE, &d->cls8, NULL},
        {"train/link.jpg", E_LINK, NULL, "000001.bmp"},
        {"train/000009.seg.png", E_FILE, &d->png9, NULL},
        {"train/000009.bmp", E_FILE, &d->bmp9b, NULL},
        {"train/000010.bmp", E_FILE, &d->bmp10, NULL},
        {"train/000010.txt", E_FILE, &d->txt10, NULL},
        {"train/000011.bmp", E_FILE, &d->bmp11, NULL},
        {"train/000011.cls", E_FILE, &d->cls11, NULL},
        {"train/sub dir/", E_DIR, NULL, NULL},
        {UTF8_NAME ".bmp", E_FILE, &d->utf8img, NULL},
        {"train/000012.json", E_FILE, &d->json12, NULL},
        {"train/000012.bmp", E_FILE, &d->bmp12, NULL},
        {"train/000013.json", E_FILE, &d->json13, NULL},
        {"train/000013.bmp", E_FILE, &d->bmp13, NULL},
        {"train/000014.bmp", E_FILE, &d->bmp14, NULL},
        {"train/000014.json", E_FILE, &d->json14, NULL},
    };
    d->n = (int)(sizeof e / sizeof e[0]);
    memcpy(d->e, e, sizeof e);

    const int S = GRAFT_READ_SAMPLE, R = GRAFT_READ_REJECT, T = GRAFT_SPLIT_TRAIN;
    want w[] = {
        {S, "train/000001", "train/000001.bmp", "3", T, &d->bmp1, NULL, 0},
        {S, "train/000002", "train/000002.png", "dog", T, &d->png2, NULL, 0},
        {S, "train/000003", "train/000003.jpg", "caf\xc3\xa9 au lait", T, &d->png3, NULL, 0},
        {R, "train/000004", "train/000004.jpg", NULL, T, NULL, "zero-byte member", 0},
        {R, "train/000005", "train/000005.jpg", NULL, T, NULL,
         "not an image (starts with 3c 21 44 4f)", 0},
        {R, "train/README", "train/README.txt", NULL, T, NULL,
         "not an image (starts with 54 68 69 73)", 0},
        {R, "train/.DS_Store", "train/.DS_Store", NULL, T, NULL,
         "not an image (starts with 00 00 00 01)", 0},
        {R, "train/000006", "train/000006.bmp", "6", T, NULL, "member larger than 8192 bytes",
         0},
        {S, "train/000007", "train/000007.bmp", "12", T, &d->bmp7, NULL, 0},
        {R, "train/000008", "train/000008.cls", "8", T, NULL,
         "no image member (only label members)", 0},
        {S, "train/000009", "train/000009.seg.png", NULL, T, &d->png9, NULL, 0},
        {S, "train/000010", "train/000010.bmp", "BMW", T, &d->bmp10, NULL, 0},
        {S, "train/000011", "train/000011.bmp", NULL, T, &d->bmp11, NULL, 0},
        {S, UTF8_NAME, UTF8_NAME ".bmp", "sub dir", T, &d->utf8img, NULL, 0},
        {S, "train/000012", "train/000012.bmp", "5", T, &d->bmp12, NULL, 0},
        {S, "train/000013", "train/000013.bmp", "bare string", T, &d->bmp13, NULL, 0},
        {S, "train/000014", "train/000014.bmp", NULL, T, &d->bmp14, NULL, 0},
    };
    d->nw = (int)(sizeof w / sizeof w[0]);
    memcpy(d->w, w, sizeof w);
    return 0;
}

static int check_webdataset_formats(char *msg, size_t msglen) {
    static const struct {
        const char *name;
        int fmt, flt;
    } kinds[] = {
        {"a.tar", F_PAX, FL_NONE},           {"a.tar.gz", F_GNUTAR, FL_GZIP},
        {"a.tar.bz2", F_USTAR, FL_BZIP2},    {"a.tar.xz", F_PAX, FL_XZ},
        {"a.tar.zst", F_GNUTAR, FL_ZSTD},    {"a.zip", F_ZIP_DEFLATE, FL_NONE},
        {"a-stored.zip", F_ZIP_STORE, FL_NONE},
    };
    char dir[512];
    if (make_tmpdir(dir, sizeof dir)) FAIL("mkdtemp: %s", strerror(errno));
    dataset_a d;
    int rc = GRAFT_CHECK_PASS;
    if (dataset_a_init(&d)) {
        rc = graft_check_fail(msg, msglen, "cannot build dataset A");
        goto out;
    }
    graft_reader_options o = {.max_member_bytes = A_MAX_MEMBER};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] && !rc; k++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", dir, kinds[k].name);
        if (write_archive(path, -1, kinds[k].fmt, kinds[k].flt, d.e, d.n, NULL)) {
            rc = graft_check_fail(msg, msglen, "writing %s failed", kinds[k].name);
            break;
        }
        const char *spec = path;
        evlist got;
        rc = drain(&spec, 1, &o, &got, msg, msglen);
        if (!rc) rc = expect_all(&got, d.w, d.nw, kinds[k].name, msg, msglen);
        if (!rc && (got.progress.samples != 11 || got.progress.rejects != 6 ||
                    got.progress.shard_errors != 0 ||
                    got.progress.bytes_read != got.progress.bytes_total ||
                    got.progress.bytes_total == 0))
            rc = graft_check_fail(msg, msglen, "%s: progress samples %llu rejects %llu "
                                  "errors %llu bytes %llu/%llu", kinds[k].name,
                                  (unsigned long long)got.progress.samples,
                                  (unsigned long long)got.progress.rejects,
                                  (unsigned long long)got.progress.shard_errors,
                                  (unsigned long long)got.progress.bytes_read,
                                  (unsigned long long)got.progress.bytes_total);
        evlist_free(&got);
    }
    /* cpio is refused on purpose (see pipeline/read/reader.c): a shard error, not samples. */
    if (!rc) {
        char path[700];
        snprintf(path, sizeof path, "%s/a.cpio", dir);
        const char *spec = path;
        evlist got;
        want refused = {GRAFT_READ_SHARD_ERROR, NULL, NULL, NULL, 0, NULL,
                        "Unrecognized archive format", 0};
        if (write_archive(path, -1, F_CPIO, FL_NONE, d.e, d.n, NULL))
            rc = graft_check_fail(msg, msglen, "writing a.cpio failed");
        if (!rc) rc = drain(&spec, 1, &o, &got, msg, msglen);
        if (!rc) rc = expect_all(&got, &refused, 1, "a.cpio", msg, msglen);
        if (!rc) evlist_free(&got);
    }
    if (!rc) graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "%zu archive kinds, %d events each",
                             sizeof kinds / sizeof kinds[0], d.nw);
out:
    dataset_a_free(&d);
    rm_tree(dir);
    return rc;
}

/* The label sources other than AUTO, on dataset A. */
static int check_label_sources(char *msg, size_t msglen) {
    char dir[512], path[700];
    if (make_tmpdir(dir, sizeof dir)) FAIL("mkdtemp: %s", strerror(errno));
    dataset_a d;
    int rc = GRAFT_CHECK_PASS;
    if (dataset_a_init(&d)) {
        rc = graft_check_fail(msg, msglen, "cannot build dataset A");
        goto out;
    }
    snprintf(path, sizeof path, "%s/a.tar", dir);
    if (write_archive(path, -1, F_PAX, FL_NONE, d.e, d.n, NULL)) {
        rc = graft_check_fail(msg, msglen, "writing a.tar failed");
        goto out;
    }
    static const graft_label_source sources[] = {GRAFT_LABEL_MEMBER, GRAFT_LABEL_DIR,
                                                 GRAFT_LABEL_NONE};
    for (int s = 0; s < 3 && !rc; s++) {
        for (int i = 0; i < d.nw; i++) {
            const char *auto_label = d.w[i].label;
            const char *lab = NULL;
            int from_dir = strcmp(d.w[i].key, UTF8_NAME) == 0;
            if (sources[s] == GRAFT_LABEL_MEMBER && !from_dir) lab = auto_label;
            if (sources[s] == GRAFT_LABEL_DIR && from_dir) lab = auto_label;
            d.w[i].label = lab;
            /* Without label members read, a lone .cls is just a member that is no image. */
            if (sources[s] != GRAFT_LABEL_MEMBER && strcmp(d.w[i].key, "train/000008") == 0)
                d.w[i].reason = "not an image (starts with 20 38 20)";
        }
        graft_reader_options o = {.max_member_bytes = A_MAX_MEMBER, .label_source = sources[s]};
        const char *spec = path;
        evlist got;
        rc = drain(&spec, 1, &o, &got, msg, msglen);
        if (!rc) rc = expect_all(&got, d.w, d.nw, sources[s] == GRAFT_LABEL_MEMBER ? "member"
                                 : sources[s] == GRAFT_LABEL_DIR ? "dir" : "none", msg, msglen);
        evlist_free(&got);
        dataset_a_free(&d);
        if (dataset_a_init(&d)) rc = graft_check_fail(msg, msglen, "cannot build dataset A");
    }
out:
    dataset_a_free(&d);
    rm_tree(dir);
    return rc;
}

/* ---- dataset B: class folders -------------------------------------------------------------- */

typedef struct dataset_b {
    blob a1, uni, b, x, x1, c, dd, e, f, g, empty, notes, xcls;
    entry e_[20];
    int n;
} dataset_b;

static void dataset_b_free(dataset_b *d) {
    blob *all[] = {&d->a1, &d->uni, &d->b, &d->x, &d->x1, &d->c, &d->dd, &d->e, &d->f, &d->g,
                   &d->empty, &d->notes, &d->xcls};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->p);
    memset(d, 0, sizeof *d);
}

#define UNI_NAME "train/ants/\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9"

/* The files in the order the directory walk must produce them (key order). */
static int dataset_b_init(dataset_b *d) {
    memset(d, 0, sizeof *d);
    d->a1 = make_bmp(4, 3, 31);
    d->uni = make_bmp(3, 4, 32);
    d->b = make_png(6, 6, 33);
    d->x = make_bmp(2, 2, 34);
    d->x1 = make_bmp(2, 3, 35);
    d->c = make_bmp(5, 5, 36);
    d->dd = make_bmp(5, 4, 37);
    d->e = make_bmp(4, 5, 38);
    d->f = make_bmp(1, 1, 39);
    d->g = make_bmp(1, 2, 40);
    d->empty = (blob){malloc(1), 0};
    d->notes = text("some notes\nline 2\n");
    d->xcls = text("7\n");
    if (!d->b.p) return -1;
    entry e[] = {
        {"TEST/f.bmp", E_FILE, &d->f, NULL},
        {"Validation/bees/e.bmp", E_FILE, &d->e, NULL},
        {"misc/g.bmp", E_FILE, &d->g, NULL},
        {"train/ants/a 1.bmp", E_FILE, &d->a1, NULL},
        {UNI_NAME ".bmp", E_FILE, &d->uni, NULL},
        {"train/bees/b.png", E_FILE, &d->b, NULL},
        {"train/bees/x.bmp", E_FILE, &d->x, NULL},
        {"train/bees/x.cls", E_FILE, &d->xcls, NULL},
        {"train/bees/x-1.bmp", E_FILE, &d->x1, NULL},
        {"val/ants/c.bmp", E_FILE, &d->c, NULL},
        {"val/bees/d.bmp", E_FILE, &d->dd, NULL},
        {"val/bees/empty.jpg", E_FILE, &d->empty, NULL},
        {"val/bees/notes.txt", E_FILE, &d->notes, NULL},
    };
    d->n = (int)(sizeof e / sizeof e[0]);
    memcpy(d->e_, e, sizeof e);
    return 0;
}

/* Expected events of dataset B; `tree` adds the directory-only extras (symlinks). */
static int dataset_b_want(const dataset_b *d, int tree, want *w) {
    const int S = GRAFT_READ_SAMPLE, R = GRAFT_READ_REJECT;
    const int T = GRAFT_SPLIT_TRAIN, V = GRAFT_SPLIT_VAL, X = GRAFT_SPLIT_TEST,
              N = GRAFT_SPLIT_NONE;
    int n = 0;
    w[n++] = (want){S, "TEST/f", "TEST/f.bmp", NULL, X, &d->f, NULL, 0};
    w[n++] = (want){S, "Validation/bees/e", NULL, "bees", V, &d->e, NULL, 0};
    if (tree) {
        w[n++] = (want){S, "misc/alias", "misc/alias.bmp", "misc", N, &d->c, NULL, 0};
        w[n++] = (want){R, "misc/dangling", "misc/dangling.jpg", "misc", N, NULL,
                        "cannot stat: No such file or directory", 0};
    }
    w[n++] = (want){S, "misc/g", NULL, "misc", N, &d->g, NULL, 0};
    w[n++] = (want){S, "train/ants/a 1", "train/ants/a 1.bmp", "ants", T, &d->a1, NULL, 0};
    w[n++] = (want){S, UNI_NAME, NULL, "ants", T, &d->uni, NULL, 0};
    w[n++] = (want){S, "train/bees/b", "train/bees/b.png", "bees", T, &d->b, NULL, 0};
    w[n++] = (want){S, "train/bees/x", "train/bees/x.bmp", "7", T, &d->x, NULL, 0};
    w[n++] = (want){S, "train/bees/x-1", NULL, "bees", T, &d->x1, NULL, 0};
    w[n++] = (want){S, "val/ants/c", NULL, "ants", V, &d->c, NULL, 0};
    w[n++] = (want){S, "val/bees/d", NULL, "bees", V, &d->dd, NULL, 0};
    w[n++] = (want){R, "val/bees/empty", NULL, "bees", V, NULL, "zero-byte member", 0};
    w[n++] = (want){R, "val/bees/notes", NULL, "bees", V, NULL,
                    "not an image (starts with 73 6f 6d 65)", 0};
    return n;
}

static int build_tree_b(const char *root, const dataset_b *d) {
    char path[1024];
    for (int i = 0; i < d->n; i++) {
        snprintf(path, sizeof path, "%s/%s", root, d->e_[i].name);
        if (write_file(path, d->e_[i].data->p, d->e_[i].data->len)) return -1;
    }
    /* A loop, a link to a file elsewhere in the tree, a dangling link and a FIFO. */
    snprintf(path, sizeof path, "%s/train/loop", root);
    if (symlink("..", path)) return -1;
    snprintf(path, sizeof path, "%s/misc/alias.bmp", root);
    if (symlink("../val/ants/c.bmp", path)) return -1;
    snprintf(path, sizeof path, "%s/misc/dangling.jpg", root);
    if (symlink("nowhere/at/all.jpg", path)) return -1;
    snprintf(path, sizeof path, "%s/misc/fifo", root);
    if (mkfifo(path, 0644)) return -1;
    return 0;
}

static int check_class_folders(char *msg, size_t msglen) {
    char dir[512], root[700], tgz[700];
    if (make_tmpdir(dir, sizeof dir)) FAIL("mkdtemp: %s", strerror(errno));
    dataset_b d;
    want w[32];
    int rc = GRAFT_CHECK_PASS;
    if (dataset_b_init(&d)) {
        rc = graft_check_fail(msg, msglen, "cannot build dataset B");
        goto out;
    }
    snprintf(root, sizeof root, "%s/root", dir);
    if (build_tree_b(root, &d)) {
        rc = graft_check_fail(msg, msglen, "cannot build the tree: %s", strerror(errno));
        goto out;
    }
    int fds = count_fds();
    const char *spec = root;
    evlist got;
    rc = drain(&spec, 1, NULL, &got, msg, msglen);
    int nw = dataset_b_want(&d, 1, w);
    if (!rc) rc = expect_all(&got, w, nw, "tree", msg, msglen);
    if (!rc && got.progress.bytes_total == 0)
        rc = graft_check_fail(msg, msglen, "tree: bytes_total stayed 0");
    if (!rc && got.progress.bytes_read != got.progress.bytes_total)
        rc = graft_check_fail(msg, msglen, "tree: bytes_read %llu != bytes_total %llu",
                              (unsigned long long)got.progress.bytes_read,
                              (unsigned long long)got.progress.bytes_total);
    evlist_free(&got);
    if (!rc && count_fds() != fds)
        rc = graft_check_fail(msg, msglen, "tree: %d file descriptors open before, %d after",
                              fds, count_fds());
    /* A trailing slash on the root changes nothing. */
    char root_slash[710];
    snprintf(root_slash, sizeof root_slash, "%s/", root);
    spec = root_slash;
    if (!rc) rc = drain(&spec, 1, NULL, &got, msg, msglen);
    if (!rc) rc = expect_all(&got, w, nw, "tree/", msg, msglen);
    if (!rc) evlist_free(&got);

    /* The same folders inside a tar.gz (without the symlinks, which archives skip). */
    snprintf(tgz, sizeof tgz, "%s/classes.tar.gz", dir);
    if (!rc && write_archive(tgz, -1, F_GNUTAR, FL_GZIP, d.e_, d.n, NULL))
        rc = graft_check_fail(msg, msglen, "writing classes.tar.gz failed");
    spec = tgz;
    if (!rc) rc = drain(&spec, 1, NULL, &got, msg, msglen);
    nw = dataset_b_want(&d, 0, w);
    if (!rc) rc = expect_all(&got, w, nw, "classes.tar.gz", msg, msglen);
    if (!rc) evlist_free(&got);

    /* A shard named after a split gives that split to keys without a split folder. */
    char valroot[800];
    snprintf(valroot, sizeof valroot, "%s/val", root);
    spec = valroot;
    if (!rc) rc = drain(&spec, 1, NULL, &got, msg, msglen);
    if (!rc) {
        if (got.n != 4 || got.v[0].split != GRAFT_SPLIT_VAL || strcmp(got.v[0].key, "ants/c") ||
            strcmp(got.v[0].label, "ants"))
            rc = graft_check_fail(msg, msglen, "val folder as shard: %d events, first %s %s",
                                  got.n, got.n ? got.v[0].key : "-",
                                  got.n ? graft_split_name(got.v[0].split) : "-");
        evlist_free(&got);
    }
out:
    dataset_b_free(&d);
    rm_tree(dir);
    return rc;
}

/* ---- many shards, some broken ------------------------------------------------------------- */

static int check_broken_shards(char *msg, size_t msglen) {
    char dir[512];
    if (make_tmpdir(dir, sizeof dir)) FAIL("mkdtemp: %s", strerror(errno));
    /* Big enough that truncating the .tar.gz in the middle leaves whole samples before the
       damage: libarchive's gzip filter drops up to 64 KiB of output before a truncation. */
    enum { NT = 40 };
    blob img[NT];
    entry e[NT];
    char names[NT][32];
    for (int i = 0; i < NT; i++) {
        img[i] = make_bmp(48, 48, 100 + (uint32_t)i);
        snprintf(names[i], sizeof names[i], "s/%04d.bmp", i);
        e[i] = (entry){names[i], E_FILE, &img[i], NULL};
    }
    char p[8][700];
    const char *files[] = {"good1.tar", "trunc.tar.gz", "good2.tar", "corrupt.tar",
                           "missing.tar", "good3.zip", "empty.tar", "notarchive.bin"};
    for (int i = 0; i < 8; i++) snprintf(p[i], sizeof p[i], "%s/%s", dir, files[i]);
    int rc = GRAFT_CHECK_PASS;
    blob tg = {0};
    if (write_archive(p[0], -1, F_PAX, FL_NONE, e, 3, NULL) ||
        write_archive(p[1], -1, F_PAX, FL_GZIP, e, NT, NULL) ||
        write_archive(p[2], -1, F_USTAR, FL_NONE, e + 3, 2, NULL) ||
        write_archive(p[3], -1, F_USTAR, FL_NONE, e, 3, NULL) ||
        write_archive(p[5], -1, F_ZIP_DEFLATE, FL_NONE, e + 5, 2, NULL) ||
        write_file(p[6], "", 0) || write_file(p[7], "hello, I am no archive\n", 23)) {
        rc = graft_check_fail(msg, msglen, "cannot write the shards");
        goto out;
    }
    /* Truncate the .tar.gz in the middle; corrupt the second header of corrupt.tar. */
    if (read_whole(p[1], &tg) || truncate(p[1], (off_t)(tg.len / 2))) {
        rc = graft_check_fail(msg, msglen, "cannot truncate");
        goto out;
    }
    size_t hdr2 = 512 + ((img[0].len + 511) / 512) * 512;
    FILE *f = fopen(p[3], "r+b");
    if (!f || fseek(f, (long)hdr2 + 148, SEEK_SET) || fwrite("garbage!", 1, 8, f) != 8) {
        if (f) fclose(f);
        rc = graft_check_fail(msg, msglen, "cannot corrupt");
        goto out;
    }
    fclose(f);

    const char *specs[8];
    for (int i = 0; i < 8; i++) specs[i] = p[i];
    evlist got;
    rc = drain(specs, 8, NULL, &got, msg, msglen);
    if (rc) goto out;
    const int S = GRAFT_READ_SAMPLE, E = GRAFT_READ_SHARD_ERROR, N = GRAFT_SPLIT_NONE;
    want head[3], trunc[NT], tail[9];
    for (int i = 0; i < 3; i++) head[i] = (want){S, NULL, names[i], "s", N, &img[i], NULL, 0};
    char keys[NT][32];
    for (int i = 0; i < NT; i++) {
        snprintf(keys[i], sizeof keys[i], "s/%04d", i);
        if (i < 3) head[i].key = keys[i];
        trunc[i] = (want){S, keys[i], names[i], "s", N, &img[i], NULL, 1};
    }
    rc = expect_at(&got, 0, head, 3, "good1", msg, msglen);
    /* trunc.tar.gz: a prefix of its members, then its error. */
    int k = 0;
    while (!rc && 3 + k < got.n && got.v[3 + k].event == S) k++;
    if (!rc && (k < 3 || k >= NT))
        rc = graft_check_fail(msg, msglen, "trunc.tar.gz gave %d of %d samples", k, NT);
    if (!rc) rc = expect_at(&got, 3, trunc, k, "trunc.tar.gz", msg, msglen);
    int n = 0;
    tail[n++] = (want){E, NULL, NULL, NULL, 0, NULL, NULL, 1};
    tail[n++] = (want){S, keys[3], names[3], "s", N, &img[3], NULL, 2};
    tail[n++] = (want){S, keys[4], names[4], "s", N, &img[4], NULL, 2};
    /* The sample before the damaged header may have had more members: dropped. */
    tail[n++] = (want){E, NULL, NULL, NULL, 0, NULL, "Damaged tar archive", 3};
    tail[n++] = (want){E, NULL, NULL, NULL, 0, NULL, "cannot open: No such file", 4};
    tail[n++] = (want){S, keys[5], names[5], "s", N, &img[5], NULL, 5};
    tail[n++] = (want){S, keys[6], names[6], "s", N, &img[6], NULL, 5};
    tail[n++] = (want){E, NULL, NULL, NULL, 0, NULL, "Unrecognized archive format", 7};
    if (!rc) rc = expect_at(&got, 3 + k, tail, n, "after trunc.tar.gz", msg, msglen);
    if (!rc && got.n != 3 + k + n)
        rc = graft_check_fail(msg, msglen, "%d events, expected %d", got.n, 3 + k + n);
    if (!rc && !strstr(got.v[3 + k + 3].reason, "after member s/0000.bmp; sample s/0000 dropped"))
        rc = graft_check_fail(msg, msglen, "corrupt.tar: \"%s\"", got.v[3 + k + 3].reason);
    if (!rc && (got.progress.samples != (uint64_t)(3 + k + 4) || got.progress.shard_errors != 4 ||
                got.progress.rejects != 0 || got.shard_count != 8 ||
                got.progress.bytes_read != got.progress.bytes_total))
        rc = graft_check_fail(msg, msglen, "progress: samples %llu errors %llu bytes %llu/%llu",
                              (unsigned long long)got.progress.samples,
                              (unsigned long long)got.progress.shard_errors,
                              (unsigned long long)got.progress.bytes_read,
                              (unsigned long long)got.progress.bytes_total);
    if (!rc)
        graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "truncated .tar.gz: %d of %d samples, "
                        "then \"%s\"", k, NT, got.v[3 + k].reason);
    evlist_free(&got);
out:
    free(tg.p);
    for (int i = 0; i < NT; i++) free(img[i].p);
    rm_tree(dir);
    return rc;
}

/* Truncating an archive anywhere gives complete samples, then at most one shard error. */
static int check_truncation_everywhere(char *msg, size_t msglen) {
    char dir[512];
    if (make_tmpdir(dir, sizeof dir)) FAIL("mkdtemp: %s", strerror(errno));
    dataset_a d;
    blob whole = {0};
    int rc = GRAFT_CHECK_PASS, tried = 0;
    if (dataset_a_init(&d)) {
        rc = graft_check_fail(msg, msglen, "cannot build dataset A");
        goto out;
    }
    static const struct {
        const char *name;
        int fmt, flt;
    } kinds[] = {{"t.tar", F_GNUTAR, FL_NONE}, {"t.tar.xz", F_PAX, FL_XZ},
                 {"t.zip", F_ZIP_DEFLATE, FL_NONE}};
    graft_reader_options o = {.max_member_bytes = A_MAX_MEMBER};
    for (size_t kk = 0; kk < 3 && !rc; kk++) {
        char path[700], cut[700];
        snprintf(path, sizeof path, "%s/%s", dir, kinds[kk].name);
        snprintf(cut, sizeof cut, "%s/cut-%s", dir, kinds[kk].name);
        free(whole.p);
        whole.p = NULL;
        if (write_archive(path, -1, kinds[kk].fmt, kinds[kk].flt, d.e, d.n, NULL) ||
            read_whole(path, &whole)) {
            rc = graft_check_fail(msg, msglen, "cannot write %s", kinds[kk].name);
            break;
        }
        /* Never at a 512-byte boundary: a tar cut there ends cleanly as far as anyone can
           tell, and its last sample would lack the members after the cut. */
        size_t step = 512 * (whole.len / 512 / 37 + 1);
        for (size_t len = 7; len < whole.len && !rc; len += step + 1) {
            if (write_file(cut, whole.p, len)) {
                rc = graft_check_fail(msg, msglen, "cannot write the cut archive");
                break;
            }
            tried++;
            const char *spec = cut;
            evlist got;
            rc = drain(&spec, 1, &o, &got, msg, msglen);
            if (rc) break;
            /* Samples and rejects must be exactly those of the whole archive, in order. */
            int errors = 0, j = 0;
            for (int i = 0; i < got.n && !rc; i++) {
                if (got.v[i].event == GRAFT_READ_SHARD_ERROR) {
                    if (++errors > 1 || i != got.n - 1)
                        rc = graft_check_fail(msg, msglen, "%s cut at %zu: shard error not last",
                                              kinds[kk].name, len);
                    continue;
                }
                /* A truncated zip is read as a stream, where symlinks look like files. */
                if (!strcmp(got.v[i].key, "train/link")) continue;
                while (j < d.nw && strcmp(d.w[j].key, got.v[i].key) != 0) j++;
                if (j == d.nw) {
                    rc = graft_check_fail(msg, msglen, "%s cut at %zu: unexpected key %s",
                                          kinds[kk].name, len, got.v[i].key);
                    break;
                }
                if (got.v[i].event == GRAFT_READ_SAMPLE)
                    rc = expect_at(&got, i, &d.w[j], 1, kinds[kk].name, msg, msglen);
                j++;
            }
            evlist_free(&got);
        }
    }
    if (!rc) graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "%d truncations", tried);
out:
    free(whole.p);
    dataset_a_free(&d);
    rm_tree(dir);
    return rc;
}

/* ---- standard input ------------------------------------------------------------------------ */

/* Runs drain() on "-" with fd 0 replaced by `fd`, restoring the original afterwards. */
static int drain_stdin(int fd, const graft_reader_options *o, evlist *got, char *msg,
                       size_t msglen) {
    int saved = dup(0);
    if (saved < 0 || dup2(fd, 0) < 0) FAIL("dup2: %s", strerror(errno));
    const char *spec = "-";
    int rc = drain(&spec, 1, o, got, msg, msglen);
    dup2(saved, 0);
    close(saved);
    return rc;
}

static int check_stdin(char *msg, size_t msglen) {
    char dir[512], path[700];
    if (make_tmpdir(dir, sizeof dir)) FAIL("mkdtemp: %s", strerror(errno));
    dataset_a d;
    int rc = GRAFT_CHECK_PASS;
    if (dataset_a_init(&d)) {
        rc = graft_check_fail(msg, msglen, "cannot build dataset A");
        goto out;
    }
    graft_reader_options o = {.max_member_bytes = A_MAX_MEMBER};
    /* A regular file on fd 0. */
    snprintf(path, sizeof path, "%s/a.tar.zst", dir);
    if (write_archive(path, -1, F_PAX, FL_ZSTD, d.e, d.n, NULL)) {
        rc = graft_check_fail(msg, msglen, "cannot write a.tar.zst");
        goto out;
    }
    int fd = open(path, O_RDONLY);
    evlist got;
    rc = drain_stdin(fd, &o, &got, msg, msglen);
    close(fd);
    if (!rc) rc = expect_all(&got, d.w, d.nw, "stdin file", msg, msglen);
    if (!rc && (got.progress.bytes_total != 0 || got.progress.bytes_read == 0))
        rc = graft_check_fail(msg, msglen, "stdin: bytes %llu/%llu (total must be unknown)",
                              (unsigned long long)got.progress.bytes_read,
                              (unsigned long long)got.progress.bytes_total);
    if (!rc) evlist_free(&got);

    /* A pipe carrying a streamed zip: member sizes come after the data, so the reader grows
       its buffers, and the oversized member is caught while reading. */
    int pfd[2];
    if (!rc && pipe(pfd) == 0) {
        fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20);
        int wr = write_archive(NULL, pfd[1], F_ZIP_DEFLATE, FL_NONE, d.e, d.n, NULL);
        close(pfd[1]);
        if (wr) rc = graft_check_fail(msg, msglen, "cannot write the zip into a pipe");
        if (!rc) rc = drain_stdin(pfd[0], &o, &got, msg, msglen);
        close(pfd[0]);
        /* A streamed zip keeps file types in the central directory, which a stream reader
           never reaches: the symlink arrives as a small file holding its target's name. */
        want w[32];
        int nw = 0;
        for (int i = 0; i < d.nw; i++) {
            if (!strcmp(d.w[i].key, "train/000009"))
                w[nw++] = (want){GRAFT_READ_REJECT, "train/link", "train/link.jpg", NULL,
                                 GRAFT_SPLIT_TRAIN, NULL, "not an image (starts with 30 30 30 30)",
                                 0};
            w[nw++] = d.w[i];
        }
        if (!rc) rc = expect_all(&got, w, nw, "stdin pipe (zip)", msg, msglen);
        if (!rc) evlist_free(&got);
    }
    /* The same input twice: the second "-" cannot be read again. */
    if (!rc) {
        fd = open(path, O_RDONLY);
        int saved = dup(0);
        dup2(fd, 0);
        close(fd);
        const char *specs[2] = {"-", "-"};
        rc = drain(specs, 2, &o, &got, msg, msglen);
        dup2(saved, 0);
        close(saved);
        want again = {GRAFT_READ_SHARD_ERROR, NULL, NULL, NULL, 0, NULL,
                      "standard input was already read", 1};
        if (!rc) rc = expect_at(&got, 0, d.w, d.nw, "stdin twice", msg, msglen);
        if (!rc) rc = expect_at(&got, d.nw, &again, 1, "stdin twice", msg, msglen);
        if (!rc && got.n != d.nw + 1)
            rc = graft_check_fail(msg, msglen, "stdin twice: %d events", got.n);
        if (!rc) evlist_free(&got);
    }
out:
    dataset_a_free(&d);
    rm_tree(dir);
    return rc;
}

/* ---- input specs --------------------------------------------------------------------------- */

static int expect_paths(const char *const *specs, int n, const char *const *wanted, int nw,
                        const char *prefix, char *msg, size_t msglen) {
    char **paths = NULL;
    int count = 0;
    int rc = graft_inputs_expand(specs, n, &paths, &count);
    if (rc) FAIL("expand(%s): %s: %s", specs[0], graft_err_name(rc), graft_last_error());
    int bad = count != nw;
    size_t pl = prefix ? strlen(prefix) : 0;
    for (int i = 0; i < count && !bad; i++) {
        const char *p = paths[i];
        if (prefix) {
            if (strncmp(p, prefix, pl) != 0) bad = 1;
            p += pl;
        }
        if (strcmp(p, wanted[i]) != 0) bad = 1;
    }
    if (bad) {
        char got[600] = "";
        for (int i = 0; i < count && strlen(got) < 500; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s\"%s\"", i ? " " : "",
                     paths[i] + (prefix && strlen(paths[i]) >= pl ? pl : 0));
        graft_paths_free(paths, count);
        FAIL("expand(%s): got %d paths: %s; expected %d", specs[0], count, got, nw);
    }
    graft_paths_free(paths, count);
    return GRAFT_CHECK_PASS;
}

static int expect_expand_error(const char *spec, int want_err, const char *needle, char *msg,
                               size_t msglen) {
    char **paths = NULL;
    int count = 0;
    int rc = graft_inputs_expand(&spec, 1, &paths, &count);
    if (rc == GRAFT_OK) graft_paths_free(paths, count);
    if (rc != want_err || (needle && !strstr(graft_last_error(), needle)))
        FAIL("expand(\"%s\"): %s \"%s\", expected %s with \"%s\"", spec, graft_err_name(rc),
             graft_last_error(), graft_err_name(want_err), needle ? needle : "");
    return GRAFT_CHECK_PASS;
}

static int check_input_specs(char *msg, size_t msglen) {
    int rc;
    {
        const char *s[] = {"d/shard-{000000..000003}.tar"};
        const char *w[] = {"d/shard-000000.tar", "d/shard-000001.tar", "d/shard-000002.tar",
                           "d/shard-000003.tar"};
        if ((rc = expect_paths(s, 1, w, 4, NULL, msg, msglen))) return rc;
    }
    {
        const char *s[] = {"{a,b}{1..2}.tar", "x{10..8}", "{c..a}", "-", "p{a,b{1,2}}q",
                           "{08..10}", "plain"};
        const char *w[] = {"a1.tar", "a2.tar", "b1.tar", "b2.tar", "x10", "x9", "x8", "c",
                           "b", "a", "-", "paq", "pb1q", "pb2q", "08", "09", "10", "plain"};
        if ((rc = expect_paths(s, 7, w, 18, NULL, msg, msglen))) return rc;
    }
    if ((rc = expect_expand_error("a{1..}b", GRAFT_EINVAL, "malformed brace", msg, msglen)) ||
        (rc = expect_expand_error("a{1,2", GRAFT_EINVAL, "unmatched", msg, msglen)) ||
        (rc = expect_expand_error("a}b{", GRAFT_EINVAL, "unmatched", msg, msglen)) ||
        (rc = expect_expand_error("x{0..99999999}", GRAFT_EINVAL, "more than", msg, msglen)) ||
        (rc = expect_expand_error("", GRAFT_EINVAL, "empty", msg, msglen)) ||
        (rc = expect_expand_error("/nonexistent-graft/*.tar", GRAFT_EIO, "matches no file", msg,
                                  msglen)) ||
        (rc = expect_expand_error("@/nonexistent-graft/list", GRAFT_EIO, "cannot open", msg,
                                  msglen)))
        return rc;

    char dir[512];
    if (make_tmpdir(dir, sizeof dir)) FAIL("mkdtemp: %s", strerror(errno));
    char path[800], prefix[600];
    snprintf(prefix, sizeof prefix, "%s/", dir);
    const char *files[] = {"b.tar", "a.tar", "B.tar", "a b.tar", "lit{1,2}.tar", "c.zip",
                           "sub/x.tar"};
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (write_file(path, "", 0)) {
            rm_tree(dir);
            FAIL("cannot create %s", path);
        }
    }
    char g1[700], g2[700], lit[700], list[700], list2[800], empty[700], nested[700];
    snprintf(g1, sizeof g1, "%s/*.tar", dir);
    snprintf(g2, sizeof g2, "%s/{c.zip,[ab].tar}", dir);
    snprintf(lit, sizeof lit, "%s/lit{1,2}.tar", dir);
    snprintf(list, sizeof list, "%s/list.txt", dir);
    snprintf(list2, sizeof list2, "@%s", list);
    snprintf(empty, sizeof empty, "%s/empty.txt", dir);
    snprintf(nested, sizeof nested, "%s/nested.txt", dir);
    char body[3000];
    snprintf(body, sizeof body, "# shards\r\n\n  %s/sub/*.tar  \r\n%s/c.zip\n- \n%s/n{1..2}.tar\n"
             "   # indented comment\n", dir, dir, dir);
    write_file(list, body, strlen(body));
    write_file(empty, "# nothing\n\n", 11);
    char nbody[800];
    snprintf(nbody, sizeof nbody, "@%s\n", nested);
    write_file(nested, nbody, strlen(nbody));
    {
        const char *s[] = {g1};
        const char *w[] = {"B.tar", "a b.tar", "a.tar", "b.tar", "lit{1,2}.tar"};
        rc = expect_paths(s, 1, w, 5, prefix, msg, msglen);
    }
    if (!rc) {
        const char *s[] = {g2};
        const char *w[] = {"c.zip", "a.tar", "b.tar"};
        rc = expect_paths(s, 1, w, 3, prefix, msg, msglen);
    }
    if (!rc) {
        const char *s[] = {lit};
        const char *w[] = {"lit{1,2}.tar"};
        rc = expect_paths(s, 1, w, 1, prefix, msg, msglen);
    }
    if (!rc) {
        const char *s[] = {list2};
        const char *w[] = {"sub/x.tar", "c.zip", "-", "n1.tar", "n2.tar"};
        /* "-" has no prefix: compare it separately by giving the prefix-free form below. */
        char **paths = NULL;
        int count = 0;
        rc = graft_inputs_expand(s, 1, &paths, &count);
        if (rc) rc = graft_check_fail(msg, msglen, "@list: %s", graft_last_error());
        else {
            int bad = count != 5;
            for (int i = 0; i < count && !bad; i++) {
                const char *p = paths[i];
                if (strcmp(w[i], "-") != 0) {
                    if (strncmp(p, prefix, strlen(prefix))) bad = 1;
                    p += strlen(prefix);
                }
                if (!bad && strcmp(p, w[i])) bad = 1;
            }
            if (bad) rc = graft_check_fail(msg, msglen, "@list: %d paths, first \"%s\"", count,
                                           count ? paths[0] : "");
            graft_paths_free(paths, count);
        }
    }
    if (!rc) {
        char e1[710];
        snprintf(e1, sizeof e1, "@%s", empty);
        rc = expect_expand_error(e1, GRAFT_EIO, "lists no input", msg, msglen);
    }
    if (!rc) {
        char e2[710];
        snprintf(e2, sizeof e2, "@%s", nested);
        rc = expect_expand_error(e2, GRAFT_EINVAL, "nested", msg, msglen);
    }
    /* The reader takes the same specs; the count is known at create. */
    if (!rc) {
        graft_reader *r = NULL;
        const char *s[] = {g1, "-"};
        int e = graft_reader_create(s, 2, NULL, &r);
        if (e || graft_reader_shard_count(r) != 6)
            rc = graft_check_fail(msg, msglen, "reader over a glob: %s, %d shards",
                                  graft_err_name(e), r ? graft_reader_shard_count(r) : -1);
        graft_reader_destroy(r);
    }
    rm_tree(dir);
    return rc;
}

/* ---- labels CSV ---------------------------------------------------------------------------- */

static int check_labels_csv(char *msg, size_t msglen) {
    char dir[512], root[700], csv[700];
    if (make_tmpdir(dir, sizeof dir)) FAIL("mkdtemp: %s", strerror(errno));
    dataset_b d;
    want w[32];
    int rc = GRAFT_CHECK_PASS;
    if (dataset_b_init(&d)) {
        rc = graft_check_fail(msg, msglen, "cannot build dataset B");
        goto out;
    }
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(csv, sizeof csv, "%s/labels.csv", dir);
    if (build_tree_b(root, &d)) {
        rc = graft_check_fail(msg, msglen, "cannot build the tree");
        goto out;
    }
    const char *body = "\xef\xbb\xbfKey,Label\r\n"
                       "train/ants/a 1,formicidae\r\n"
                       "\"./train/bees/x\",apidae,extra column\n"
                       "\n"
                       "val/bees/d.bmp, \"quoted, \"\"label\"\"\" \n"
                       "misc/dangling,gone\n"
                       "train/ants/a 1,formicidae2\n";
    write_file(csv, body, strlen(body));
    int nw = dataset_b_want(&d, 1, w);
    for (int i = 0; i < nw; i++) {
        if (!strcmp(w[i].key, "train/ants/a 1")) w[i].label = "formicidae2";
        if (!strcmp(w[i].key, "train/bees/x")) w[i].label = "apidae";
        if (!strcmp(w[i].key, "val/bees/d")) w[i].label = "quoted, \"label\"";
        if (!strcmp(w[i].key, "misc/dangling")) w[i].label = "gone";
    }
    graft_reader_options o = {.labels_csv = csv};
    const char *spec = root;
    evlist got;
    rc = drain(&spec, 1, &o, &got, msg, msglen);
    if (!rc) rc = expect_all(&got, w, nw, "labels.csv", msg, msglen);
    if (!rc) evlist_free(&got);
    /* With LABEL_NONE the CSV still applies; other keys get no label. */
    if (!rc) {
        o.label_source = GRAFT_LABEL_NONE;
        for (int i = 0; i < nw; i++)
            if (strcmp(w[i].key, "train/ants/a 1") && strcmp(w[i].key, "train/bees/x") &&
                strcmp(w[i].key, "val/bees/d") && strcmp(w[i].key, "misc/dangling"))
                w[i].label = NULL;
        rc = drain(&spec, 1, &o, &got, msg, msglen);
        if (!rc) rc = expect_all(&got, w, nw, "labels.csv, no other source", msg, msglen);
        if (!rc) evlist_free(&got);
    }
    static const struct {
        const char *body, *needle;
        int err;
    } bad[] = {
        {"key,label\nfoo,bar\nbaz\n", ":3:", GRAFT_ECORRUPT},
        {"a,\"unterminated\n", ":1:", GRAFT_ECORRUPT},
        {"a,\"x\"y\n", "malformed", GRAFT_ECORRUPT},
        {"a,b\n,c\n", "empty key", GRAFT_ECORRUPT},
        {"a,\n", "empty", GRAFT_ECORRUPT},
        {"a,\"two\nlines\"\n", "multi-line", GRAFT_ECORRUPT},
        {"a,b\0c\n", "NUL", GRAFT_ECORRUPT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] && !rc; i++) {
        size_t len = strlen(bad[i].body);
        if (i == 6) len = 7;
        write_file(csv, bad[i].body, len);
        graft_reader *r = NULL;
        graft_reader_options ob = {.labels_csv = csv};
        int e = graft_reader_create(&spec, 1, &ob, &r);
        if (e != bad[i].err || !strstr(graft_last_error(), bad[i].needle))
            rc = graft_check_fail(msg, msglen, "bad csv %zu: %s \"%s\", expected %s with %s", i,
                                  graft_err_name(e), graft_last_error(),
                                  graft_err_name(bad[i].err), bad[i].needle);
        if (e == GRAFT_OK) graft_reader_destroy(r);
    }
    if (!rc) {
        graft_reader *r = NULL;
        graft_reader_options ob = {.labels_csv = "/nonexistent-graft/labels.csv"};
        int e = graft_reader_create(&spec, 1, &ob, &r);
        if (e != GRAFT_EIO || !strstr(graft_last_error(), "labels.csv"))
            rc = graft_check_fail(msg, msglen, "missing csv: %s \"%s\"", graft_err_name(e),
                                  graft_last_error());
        if (e == GRAFT_OK) graft_reader_destroy(r);
    }
out:
    dataset_b_free(&d);
    rm_tree(dir);
    return rc;
}

/* ---- val_fraction -------------------------------------------------------------------------- */

/* The documented hash: FNV-1a 64, splitmix64 finaliser, top 53 bits / 2^53. */
static double doc_fraction(const char *key) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = key; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (double)(h >> 11) * 0x1.0p-53;
}

static int check_val_fraction(char *msg, size_t msglen) {
    char dir[512], path[700];
    if (make_tmpdir(dir, sizeof dir)) FAIL("mkdtemp: %s", strerror(errno));
    enum { NK = 600 };
    blob img = make_bmp(1, 1, 5);
    entry *e = calloc(NK + 2, sizeof *e);
    char (*names)[32] = calloc(NK, sizeof *names);
    int rc = GRAFT_CHECK_PASS;
    if (!img.p || !e || !names) {
        rc = graft_check_fail(msg, msglen, "out of memory");
        goto out;
    }
    for (int i = 0; i < NK; i++) {
        snprintf(names[i], sizeof names[i], "pool/img%05d.bmp", i);
        e[i] = (entry){names[i], E_FILE, &img, NULL};
    }
    e[NK] = (entry){"val/fixed.bmp", E_FILE, &img, NULL};
    e[NK + 1] = (entry){"TRAIN/fixed.bmp", E_FILE, &img, NULL};
    snprintf(path, sizeof path, "%s/pool.tar", dir);
    if (write_archive(path, -1, F_GNUTAR, FL_NONE, e, NK + 2, NULL)) {
        rc = graft_check_fail(msg, msglen, "cannot write pool.tar");
        goto out;
    }
    const char *spec = path;
    double fractions[] = {0.0, 0.3, 1.0};
    int val30 = 0;
    for (int f = 0; f < 3 && !rc; f++) {
        graft_reader_options o = {.val_fraction = fractions[f]};
        evlist a, b;
        rc = drain(&spec, 1, &o, &a, msg, msglen);
        if (rc) break;
        rc = drain(&spec, 1, &o, &b, msg, msglen);
        if (rc) {
            evlist_free(&a);
            break;
        }
        int val = 0;
        for (int i = 0; i < a.n && !rc; i++) {
            int want_split = i == NK ? GRAFT_SPLIT_VAL
                       : i == NK + 1 ? GRAFT_SPLIT_TRAIN
                       : fractions[f] == 0 ? GRAFT_SPLIT_NONE
                       : doc_fraction(a.v[i].key) < fractions[f] ? GRAFT_SPLIT_VAL
                                                                 : GRAFT_SPLIT_TRAIN;
            if (a.v[i].split != want_split || b.v[i].split != a.v[i].split)
                rc = graft_check_fail(msg, msglen, "val_fraction %g: %s is %s (again %s), "
                                      "expected %s", fractions[f], a.v[i].key,
                                      graft_split_name(a.v[i].split),
                                      graft_split_name(b.v[i].split), graft_split_name(want_split));
            if (i < NK && a.v[i].split == GRAFT_SPLIT_VAL) val++;
        }
        if (!rc && a.n != NK + 2) rc = graft_check_fail(msg, msglen, "%d events", a.n);
        if (f == 1) val30 = val;
        evlist_free(&a);
        evlist_free(&b);
    }
    /* 600 keys at p = 0.3: the standard deviation of the count is about 11. */
    if (!rc && (val30 < 130 || val30 > 230))
        rc = graft_check_fail(msg, msglen, "val_fraction 0.3 put %d of %d keys in val", val30, NK);
    if (!rc) {
        graft_reader *r = NULL;
        graft_reader_options o = {.val_fraction = 1.5};
        int e1 = graft_reader_create(&spec, 1, &o, &r);
        o.val_fraction = NAN;
        int e2 = graft_reader_create(&spec, 1, &o, &r);
        o.val_fraction = 0;
        o.label_source = (graft_label_source)9;
        int e3 = graft_reader_create(&spec, 1, &o, &r);
        int e4 = graft_reader_create(&spec, 1, NULL, NULL);
        int e5 = graft_reader_next(NULL, NULL);
        if (e1 != GRAFT_EINVAL || e2 != GRAFT_EINVAL || e3 != GRAFT_EINVAL ||
            e4 != GRAFT_EINVAL || e5 != GRAFT_EINVAL)
            rc = graft_check_fail(msg, msglen, "bad options accepted: %d %d %d %d %d", e1, e2,
                                  e3, e4, e5);
    }
    if (!rc)
        graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "val_fraction 0.3: %d of %d keys in val",
                        val30, NK);
out:
    free(img.p);
    free(e);
    free(names);
    rm_tree(dir);
    return rc;
}

/* ---- small API pieces ---------------------------------------------------------------------- */

static int check_api_basics(char *msg, size_t msglen) {
    static const struct {
        const char *path, *key, *ext;
    } cases[] = {
        {"a/b.c/x.seg.jpg", "a/b.c/x", "seg.jpg"},
        {"./x.jpg", "x", "jpg"},
        {"././/a/x", "a/x", ""},
        {".DS_Store", ".DS_Store", ""},
        {"d/._x.jpg", "d/._x", "jpg"},
        {"noext", "noext", ""},
        {"a/b/", "a/b/", ""},
        {"F.pergan.28(f).jpg", "F", "pergan.28(f).jpg"},
        {"", "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *key, *ext;
        size_t len;
        graft_member_split_key(cases[i].path, &key, &len, &ext);
        if (len != strlen(cases[i].key) || strncmp(key, cases[i].key, len) ||
            strcmp(ext, cases[i].ext))
            FAIL("split_key(\"%s\"): \"%.*s\" \"%s\", expected \"%s\" \"%s\"", cases[i].path,
                 (int)len, key, ext, cases[i].key, cases[i].ext);
    }
    static const struct {
        const char *name;
        graft_split split;
    } names[] = {{"train", GRAFT_SPLIT_TRAIN}, {"VAL", GRAFT_SPLIT_VAL},
                 {"Valid", GRAFT_SPLIT_VAL},   {"validation", GRAFT_SPLIT_VAL},
                 {"test", GRAFT_SPLIT_TEST},   {"none", GRAFT_SPLIT_NONE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        graft_split s = (graft_split)99;
        if (graft_split_parse(names[i].name, &s) || s != names[i].split)
            FAIL("graft_split_parse(%s)", names[i].name);
    }
    graft_split s = GRAFT_SPLIT_TEST;
    if (graft_split_parse("training", &s) != GRAFT_EINVAL || s != GRAFT_SPLIT_TEST ||
        graft_split_parse(NULL, &s) != GRAFT_EINVAL)
        FAIL("graft_split_parse accepted a bad name or wrote its output");
    if (strcmp(graft_split_name(GRAFT_SPLIT_VAL), "val") ||
        strcmp(graft_split_name(GRAFT_SPLIT_NONE), "none") ||
        strcmp(graft_split_name(GRAFT_SPLIT_TRAIN), "train") ||
        strcmp(graft_split_name(GRAFT_SPLIT_TEST), "test"))
        FAIL("graft_split_name");
    graft_sample_clear(NULL);
    graft_reader_destroy(NULL);
    graft_paths_free(NULL, 0);
    graft_reader_progress p;
    graft_reader_get_progress(NULL, &p);
    if (p.samples || graft_reader_shard_count(NULL) != 0) FAIL("NULL reader progress");
    /* No specs at all: a reader that ends at once. */
    graft_reader *r = NULL;
    if (graft_reader_create(NULL, 0, NULL, &r)) FAIL("empty reader: %s", graft_last_error());
    graft_sample smp;
    memset(&smp, 0, sizeof smp);
    int rc = graft_reader_next(r, &smp);
    graft_reader_destroy(r);
    if (rc || smp.event != GRAFT_READ_END) FAIL("empty reader did not end");
    return GRAFT_CHECK_PASS;
}

/* An encrypted zip member cannot be read without its passphrase: a REJECT, not a crash. */
static int check_zip_encrypted(char *msg, size_t msglen) {
    char dir[512], path[700];
    if (make_tmpdir(dir, sizeof dir)) FAIL("mkdtemp: %s", strerror(errno));
    blob a = make_bmp(3, 3, 1), b = make_bmp(3, 3, 2);
    entry e[] = {{"k/a.bmp", E_FILE, &a, NULL}, {"k/b.bmp", E_FILE, &b, NULL}};
    snprintf(path, sizeof path, "%s/enc.zip", dir);
    int rc = GRAFT_CHECK_PASS;
    if (write_archive(path, -1, F_ZIP_DEFLATE, FL_NONE, e, 2, "secret")) {
        rc = graft_check_say(msg, msglen, GRAFT_CHECK_SKIP,
                             "this libarchive cannot write encrypted zip files");
        goto out;
    }
    const char *spec = path;
    evlist got;
    rc = drain(&spec, 1, NULL, &got, msg, msglen);
    if (rc) goto out;
    for (int i = 0; i < got.n && !rc; i++)
        if (got.v[i].event == GRAFT_READ_SAMPLE)
            rc = graft_check_fail(msg, msglen, "an encrypted member came out as a sample");
    if (!rc && (got.n < 1 || got.v[0].event != GRAFT_READ_REJECT))
        rc = graft_check_fail(msg, msglen, "%d events, first %s", got.n,
                              got.n ? ev_name(got.v[0].event) : "-");
    if (!rc) graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "%s", got.v[0].reason);
    evlist_free(&got);
out:
    free(a.p);
    free(b.p);
    rm_tree(dir);
    return rc;
}

/* ---- the shared hymenoptera.tar ------------------------------------------------------------ */

typedef struct poll_ctx {
    graft_reader *r;
    atomic_int done;
    int bad, polls;
} poll_ctx;

static void *poll_progress(void *arg) {
    poll_ctx *c = arg;
    uint64_t last = 0;
    while (!atomic_load(&c->done)) {
        graft_reader_progress p;
        graft_reader_get_progress(c->r, &p);
        if (p.bytes_read < last || (p.bytes_total && p.bytes_read > p.bytes_total)) c->bad = 1;
        last = p.bytes_read;
        c->polls++;
        usleep(200);
    }
    return NULL;
}

static int check_shared_hymenoptera(char *msg, size_t msglen) {
    const char *root = getenv("GRAFT_SHARED");
    if (!root || !root[0]) root = "../shared";
    char path[1024];
    snprintf(path, sizeof path, "%s/data/hymenoptera.tar", root);
    if (access(path, R_OK) != 0)
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "%s not found: set GRAFT_SHARED "
                               "to the shared data directory", path);
    graft_reader *r = NULL;
    const char *spec = path;
    int rc = graft_reader_create(&spec, 1, NULL, &r);
    if (rc) FAIL("create: %s", graft_last_error());
    poll_ctx pc = {.r = r};
    pthread_t th;
    int threaded = pthread_create(&th, NULL, poll_progress, &pc) == 0;
    int counts[2][2] = {{0}}, other = 0, rejects = 0, errors = 0, gif = 0;
    char reasons[300] = "";
    for (;;) {
        graft_sample s;
        memset(&s, 0, sizeof s);
        rc = graft_reader_next(r, &s);
        if (rc || s.event == GRAFT_READ_END) break;
        if (s.event == GRAFT_READ_SAMPLE) {
            int sp = s.split == GRAFT_SPLIT_TRAIN ? 0 : s.split == GRAFT_SPLIT_VAL ? 1 : -1;
            int lb = s.label && !strcmp(s.label, "ants") ? 0
                     : s.label && !strcmp(s.label, "bees") ? 1 : -1;
            if (sp < 0 || lb < 0) other++;
            else counts[sp][lb]++;
            if (s.size >= 4 && !memcmp(s.data, "GIF8", 4)) gif++;
        } else if (s.event == GRAFT_READ_REJECT) {
            rejects++;
            if (strlen(reasons) < 200)
                snprintf(reasons + strlen(reasons), sizeof reasons - strlen(reasons), "%s: %s; ",
                         s.member, s.reason);
        } else {
            errors++;
        }
        graft_sample_clear(&s);
    }
    atomic_store(&pc.done, 1);
    if (threaded) pthread_join(th, NULL);
    graft_reader_progress p;
    graft_reader_get_progress(r, &p);
    graft_reader_destroy(r);
    if (rc) FAIL("next: %s", graft_last_error());
    /* 398 photos: train/ants 124 (one of them a GIF, imageNotFound.gif), train/bees 121,
       val/ants 70, val/bees 83. */
    if (counts[0][0] != 124 || counts[0][1] != 121 || counts[1][0] != 70 ||
        counts[1][1] != 83 || other || rejects || errors || gif != 1)
        FAIL("train ants %d bees %d, val ants %d bees %d, other %d, rejects %d (%s), errors %d, "
             "gif %d", counts[0][0], counts[0][1], counts[1][0], counts[1][1], other, rejects,
             reasons, errors, gif);
    if (pc.bad || p.bytes_read != p.bytes_total || p.samples != 398)
        FAIL("progress: bytes %llu/%llu samples %llu, polled %d times%s",
             (unsigned long long)p.bytes_read, (unsigned long long)p.bytes_total,
             (unsigned long long)p.samples, pc.polls, pc.bad ? ", went backwards" : "");
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS,
                           "train ants %d bees %d, val ants %d bees %d; 1 GIF; no rejects",
                           counts[0][0], counts[0][1], counts[1][0], counts[1][1]);
}

const graft_check graft_checks_read[] = {
    {"read", "api_basics", check_api_basics},
    {"read", "webdataset_formats", check_webdataset_formats},
    {"read", "label_sources", check_label_sources},
    {"read", "class_folders", check_class_folders},
    {"read", "broken_shards", check_broken_shards},
    {"read", "truncation_everywhere", check_truncation_everywhere},
    {"read", "stdin", check_stdin},
    {"read", "input_specs", check_input_specs},
    {"read", "labels_csv", check_labels_csv},
    {"read", "val_fraction", check_val_fraction},
    {"read", "zip_encrypted", check_zip_encrypted},
    {"read", "shared_hymenoptera", check_shared_hymenoptera},
    {NULL, NULL, NULL},
};
