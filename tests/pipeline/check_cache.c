/*
 * tests/pipeline/check_cache.c: the feature cache (pipeline/cache/: graft/cache.h) and the
 * `graft cache` command (pipeline/cli/cache_cmds.c).
 *
 * Every check builds its caches in a fresh directory under $TMPDIR (else /tmp) and removes
 * it. Covered: float16 conversion against the compiler's _Float16 (or a double reference);
 * create/append/seal/write/reopen and resuming (contains = 1, 0, 2); superseding; refusal of
 * a mismatching config field by field and of foreign directories; interrupted commits
 * (hand-made temps and orphans ignored by the view, removed by the next open); a segment
 * written on a thread while appends go on; numpy opening the segments with mmap_mode="r"
 * (Debian's /usr/bin/python3 or $GRAFT_PYTHON; skipped without numpy); disk full on a 64 KiB
 * tmpfs (skipped when mount is not permitted) and through RLIMIT_FSIZE; corrupt manifest,
 * index and npy files; the key table at a million keys and a view over a thousand segments;
 * and the CLI (the graft binary next to the test runner; skipped when absent), with every
 * export format parsed back. Host-only (tests/run_checks.c guards it with
 * GRAFT_NO_IO_CHECKS).
 */
#define _GNU_SOURCE /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "../../pipeline/cache/cache_internal.h"
#include "graft/cache.h"
#include "graft/graft.h"
#include "graft/npy.h"

/* Fails the check unless `err` is `want` and, when `needle` is given, the last error holds it. */
#define EXPECT_ERR(err, want, needle, ...)                                                    \
    do {                                                                                      \
        int e_ = (err);                                                                       \
        const char *n_ = (needle);                                                            \
        if (e_ != (want) || (n_ && !strstr(graft_last_error(), n_))) {                        \
            char what_[200];                                                                  \
            snprintf(what_, sizeof what_, __VA_ARGS__);                                       \
            status = graft_check_fail(msg, msglen, "%s: %s \"%s\", expected %s%s%s", what_,   \
                                      graft_err_name(e_), graft_last_error(),                 \
                                      graft_err_name(want), n_ ? " with " : "", n_ ? n_ : ""); \
            goto out;                                                                         \
        }                                                                                     \
    } while (0)

#define EXPECT(cond, ...)                                                                     \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            status = graft_check_fail(msg, msglen, __VA_ARGS__);                              \
            goto out;                                                                         \
        }                                                                                     \
    } while (0)

#define OK(call) EXPECT_ERR((call), GRAFT_OK, NULL, "%s", #call)

/* ---- helpers --------------------------------------------------------------------------------- */

static int make_tmpdir(char *dir, size_t cap) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/graft-cache-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_rf(const char *dir) {
    if (dir && dir[0]) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int file_exists(const char *dir, const char *rel) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return access(p, F_OK) == 0;
}

static int write_text(const char *dir, const char *rel, const char *text, size_t len) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    int ok = fwrite(text, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* A whole file into a malloc'd NUL-terminated buffer, or NULL. */
static char *read_text(const char *dir, const char *rel, size_t *len) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    char *buf;
    size_t n;
    if (graft__cache_read_file(p, (size_t)1 << 30, &buf, &n, NULL)) return NULL;
    if (len) *len = n;
    return buf;
}

static size_t count_files(const char *dir, const char *sub, const char *prefix) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    DIR *d = opendir(p);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && strcmp(e->d_name, ".") &&
            strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Two taps: a vector and a small map, as a classifier head and a pooled feature map. */
static const graft_cache_tap test_taps[2] = {
    {"features", 1, {5}},
    {"pool/out", 3, {2, 1, 3}},
};
#define TAP0_DIM 5
#define TAP1_DIM 6

static graft_cache_config test_config(graft_cache_dtype dtype) {
    graft_cache_config cfg = {
        .model_path = "models/\"mobile\"\tnet\\v2 \xc3\xa9.onnx",
        .model_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        .tap_count = 2,
        .taps = test_taps,
        .preprocess = "resize 256 bilinear, crop 224, mean [0.485,0.456,0.406] std \\ \"x\"",
        .dtype = dtype,
    };
    return cfg;
}

static void fake_sha(uint8_t sha[32], unsigned seed) {
    uint32_t s = seed * 2654435761u + 12345u;
    for (int i = 0; i < 32; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        sha[i] = (uint8_t)s;
    }
}

/* The codes of sample i (a deterministic pattern with a few exact zeros). */
static void fake_codes(unsigned i, unsigned variant, float *c0, float *c1) {
    for (int d = 0; d < TAP0_DIM; d++)
        c0[d] = d == 2 ? 0.0f : sinf((float)i * 0.731f + (float)d + (float)variant) * 10.0f;
    for (int d = 0; d < TAP1_DIM; d++)
        c1[d] = (float)(i % 7) - 3.0f + (float)d * 0.125f + (float)variant * 0.5f;
}

/* What the cache stores for v: itself, or its float16 rounding. */
static float stored(graft_cache_dtype dtype, float v) {
    return dtype == GRAFT_CACHE_DTYPE_F16 ? graft_f16_to_f32(graft_f32_to_f16(v)) : v;
}

static const char *const test_labels[3] = {"bees", "ants", "wasps\tand\\hornets"};

/* Appends sample i: key "k<i>" (every 5th with awkward characters), label by i % 4 (3: none). */
static int append_sample(graft_cache *c, unsigned i, unsigned variant, char *key, size_t cap) {
    if (i % 5 == 4)
        snprintf(key, cap, "train/we\\ird\tkey\n%u", i);
    else
        snprintf(key, cap, "k%06u", i);
    float c0[TAP0_DIM], c1[TAP1_DIM];
    fake_codes(i, variant, c0, c1);
    const float *codes[2] = {c0, c1};
    graft_cache_row row = {
        .key = key,
        .label = i % 4 == 3 ? NULL : test_labels[i % 4 % 3],
        .shard = i % 2 ? "shard-000001.tar" : "dir/with\ttab",
        .member = "member\\x.jpg",
        .split = (graft_split)(i % 4),
    };
    fake_sha(row.sha256, i * 31 + variant);
    return graft_cache_append(c, &row, codes);
}

/* Seals and writes what was appended. */
static int commit(graft_cache *c) {
    graft_cache_segment *seg;
    int err = graft_cache_seal(c, &seg);
    if (err || !seg) return err;
    return graft_cache_write(c, seg);
}

/* Checks every view row i of [0, n) against sample first + i of `variant`. */
static int check_view_rows(const graft_cache_view *v, unsigned first, size_t n, unsigned variant,
                           char *msg, size_t msglen) {
    if (graft_cache_view_rows(v) != n)
        return graft_check_fail(msg, msglen, "view: %zu rows, expected %zu",
                                graft_cache_view_rows(v), n);
    const graft_cache_dtype dt = graft_cache_view_dtype(v);
    float *all0 = malloc(n * TAP0_DIM * sizeof(float) + 1), *all1 = malloc(n * TAP1_DIM * 4 + 1);
    int status = GRAFT_CHECK_PASS;
    if (!all0 || !all1 || graft_cache_view_codes(v, 0, 0, n, all0) ||
        graft_cache_view_codes(v, 1, 0, n, all1)) {
        status = graft_check_fail(msg, msglen, "view codes: %s", graft_last_error());
        goto out;
    }
    for (size_t r = 0; r < n; r++) {
        const unsigned i = first + (unsigned)r;
        graft_cache_row_info ri;
        char key[64];
        if (i % 5 == 4) snprintf(key, sizeof key, "train/we\\ird\tkey\n%u", i);
        else snprintf(key, sizeof key, "k%06u", i);
        EXPECT(graft_cache_view_row(v, r, &ri) == GRAFT_OK, "row %zu: %s", r, graft_last_error());
        EXPECT(!strcmp(ri.key, key), "row %zu: key '%s', expected '%s'", r, ri.key, key);
        EXPECT(ri.split == (graft_split)(i % 4), "row %zu: split %d", r, (int)ri.split);
        EXPECT(!strcmp(ri.member, "member\\x.jpg"), "row %zu: member '%s'", r, ri.member);
        EXPECT(!strcmp(ri.shard, i % 2 ? "shard-000001.tar" : "dir/with\ttab"),
               "row %zu: shard '%s'", r, ri.shard);
        const char *want_label = i % 4 == 3 ? NULL : test_labels[i % 4 % 3];
        const char *got_label = ri.label >= 0 ? graft_cache_view_class_name(v, ri.label) : NULL;
        EXPECT((!want_label && !got_label) ||
                   (want_label && got_label && !strcmp(want_label, got_label)),
               "row %zu: label '%s', expected '%s'", r, got_label ? got_label : "(none)",
               want_label ? want_label : "(none)");
        uint8_t sha[32];
        fake_sha(sha, i * 31 + variant);
        EXPECT(!memcmp(sha, ri.sha256, 32), "row %zu: sha256 differs", r);
        float c0[TAP0_DIM], c1[TAP1_DIM], one[TAP1_DIM];
        fake_codes(i, variant, c0, c1);
        for (int d = 0; d < TAP0_DIM; d++)
            EXPECT(all0[r * TAP0_DIM + d] == stored(dt, c0[d]), "row %zu tap 0 [%d]: %g, want %g",
                   r, d, (double)all0[r * TAP0_DIM + d], (double)stored(dt, c0[d]));
        EXPECT(graft_cache_view_codes(v, 1, r, 1, one) == GRAFT_OK, "codes of one row");
        for (int d = 0; d < TAP1_DIM; d++)
            EXPECT(all1[r * TAP1_DIM + d] == stored(dt, c1[d]) && one[d] == all1[r * TAP1_DIM + d],
                   "row %zu tap 1 [%d]: %g, want %g", r, d, (double)all1[r * TAP1_DIM + d],
                   (double)stored(dt, c1[d]));
    }
out:
    free(all0);
    free(all1);
    return status;
}

/* ---- float16 --------------------------------------------------------------------------------- */

/* The nearest half of x by exhaustive search in double: the specification itself. */
static uint16_t f16_reference(float x) {
    if (isnan(x)) return 0x7e00;
    uint16_t best = 0;
    double bd = INFINITY;
    const uint16_t sign = signbit(x) ? 0x8000 : 0;
    const double ax = fabs((double)x);
    if (ax >= 65520.0) return sign | 0x7c00;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double d = fabs((double)graft_f16_to_f32((uint16_t)h) - ax);
        if (d < bd || (d == bd && !(h & 1))) bd = d, best = (uint16_t)h;
    }
    return sign | best;
}

static int check_half(char *msg, size_t msglen) {
    int status = GRAFT_CHECK_PASS;
    /* Every half survives a round trip through float; NaNs stay NaN. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = graft_f16_to_f32((uint16_t)h);
        uint16_t back = graft_f32_to_f16(f);
        const int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            EXPECT(isnan(f) && (back & 0x7c00) == 0x7c00 && (back & 0x3ff) &&
                       (back & 0x8000) == (h & 0x8000),
                   "half %04x: NaN became %g / %04x", h, (double)f, back);
        } else {
            EXPECT(back == h, "half %04x -> %.9g -> %04x", h, (double)f, back);
        }
    }
    EXPECT(graft_f16_to_f32(0x3c00) == 1.0f && graft_f16_to_f32(0x0001) == ldexpf(1, -24) &&
               graft_f16_to_f32(0x7bff) == 65504.0f && graft_f16_to_f32(0x0400) == ldexpf(1, -14) &&
               isinf(graft_f16_to_f32(0xfc00)) && graft_f16_to_f32(0xfc00) < 0,
           "half -> float: known values");
    /* Edge values and ties, against the exhaustive reference. */
    const float edges[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.99f, 65520.0f, 1e9f,
                           INFINITY, -INFINITY, ldexpf(1, -24), ldexpf(1, -25),
                           nextafterf(ldexpf(1, -25), 1), ldexpf(3, -26), ldexpf(1, -26),
                           ldexpf(1023, -24), ldexpf(2047, -25), ldexpf(1, -14),
                           nextafterf(ldexpf(1, -14), 0), 1.0f + ldexpf(1, -11),
                           1.0f + ldexpf(3, -11), 2049.0f, 2051.0f, 1e-10f, -1e-7f,
                           ldexpf(1, -149), 0.1f, 3.14159265f};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        uint16_t got = graft_f32_to_f16(edges[i]), want = f16_reference(edges[i]);
        EXPECT(got == want, "float %.9g -> half %04x, expected %04x", (double)edges[i], got,
               want);
    }
    EXPECT((graft_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (graft_f32_to_f16(NAN) & 0x3ff),
           "NaN -> %04x", graft_f32_to_f16(NAN));
    /* A signalling NaN whose payload sits in the low bits only must not become infinity. */
    {
        uint32_t b = 0x7f800001u;
        float snan;
        memcpy(&snan, &b, 4);
        EXPECT((graft_f32_to_f16(snan) & 0x3ff) != 0, "sNaN became infinity");
    }
    /* A million float bit patterns across the whole range. */
#if defined(__FLT16_MAX__)
    for (uint64_t b = 0; b < 0x100000000ull; b += 4099) {
        uint32_t bits = (uint32_t)b;
        float f;
        memcpy(&f, &bits, 4);
        if (isnan(f)) continue;
        _Float16 ref = (_Float16)f;
        uint16_t want;
        memcpy(&want, &ref, 2);
        uint16_t got = graft_f32_to_f16(f);
        EXPECT(got == want, "float %08x (%.9g) -> half %04x, _Float16 says %04x", bits,
               (double)f, got, want);
    }
#else
    for (uint64_t b = 0; b < 0x100000000ull; b += 4099 * 257) {
        uint32_t bits = (uint32_t)b;
        float f;
        memcpy(&f, &bits, 4);
        if (isnan(f)) continue;
        EXPECT(graft_f32_to_f16(f) == f16_reference(f), "float %08x -> half", bits);
    }
#endif
out:
    return status;
}

/* ---- create, reopen, resume ------------------------------------------------------------------ */

static int check_create_reopen(char *msg, size_t msglen) {
    char dir[512] = "", sub[600], key[64];
    int status = GRAFT_CHECK_PASS;
    graft_cache *c = NULL;
    graft_cache_view *v = NULL;
    char *text = NULL;
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    /* A directory that does not exist yet, two levels deep. */
    snprintf(sub, sizeof sub, "%s/a/cache", dir);
    for (int dt = 0; dt < 2; dt++) {
        const graft_cache_config cfg = test_config((graft_cache_dtype)dt);
        rm_rf(sub);
        OK(graft_cache_open(sub, &cfg, &c));
        EXPECT(file_exists(sub, "manifest.json") && file_exists(sub, "segments"),
               "manifest.json or segments/ missing");
        EXPECT(graft_cache_pending(c) == 0 && graft_cache_committed_rows(c) == 0, "fresh counts");
        graft_cache_segment *seg = (graft_cache_segment *)1;
        OK(graft_cache_seal(c, &seg));
        EXPECT(seg == NULL, "sealing nothing gave a segment");
        for (unsigned i = 0; i < 30; i++) OK(append_sample(c, i, 0, key, sizeof key));
        EXPECT(graft_cache_pending(c) == 30, "pending %zu", graft_cache_pending(c));
        uint8_t sha[32], other[32];
        fake_sha(sha, 7 * 31);
        fake_sha(other, 99999);
        EXPECT(graft_cache_contains(c, "k000007", sha) == 1, "appended row not contained");
        OK(graft_cache_seal(c, &seg));
        EXPECT(seg && graft_cache_segment_rows(seg) == 30 && graft_cache_pending(c) == 0,
               "sealed segment");
        EXPECT(graft_cache_contains(c, "k000007", sha) == 1, "sealed row not contained");
        OK(graft_cache_write(c, seg));
        EXPECT(graft_cache_committed_rows(c) == 30, "committed %zu",
               graft_cache_committed_rows(c));
        for (unsigned i = 30; i < 45; i++) OK(append_sample(c, i, 0, key, sizeof key));
        OK(commit(c));
        /* Appended and never sealed: discarded by close. */
        for (unsigned i = 45; i < 50; i++) OK(append_sample(c, i, 0, key, sizeof key));
        EXPECT(graft_cache_contains(c, "k000007", sha) == 1, "committed row");
        EXPECT(graft_cache_contains(c, "k000007", other) == 0, "other hash");
        EXPECT(graft_cache_contains(c, "nope", sha) == 0, "unknown key");
        /* A second writer is refused while the first holds the directory. */
        graft_cache *c2 = NULL;
        EXPECT_ERR(graft_cache_open(sub, &cfg, &c2), GRAFT_EIO, "another writer", "second writer");
        graft_cache_close(c);
        c = NULL;

        OK(graft_cache_open(sub, &cfg, &c));
        EXPECT(graft_cache_committed_rows(c) == 45, "reopened: %zu rows",
               graft_cache_committed_rows(c));
        for (unsigned i = 0; i < 50; i++) {
            char k[64];
            if (i % 5 == 4) snprintf(k, sizeof k, "train/we\\ird\tkey\n%u", i);
            else snprintf(k, sizeof k, "k%06u", i);
            fake_sha(sha, i * 31);
            EXPECT(graft_cache_contains(c, k, sha) == (i < 45), "reopened: contains(%u) = %d", i,
                   graft_cache_contains(c, k, sha));
        }
        graft_cache_close(c);
        c = NULL;

        OK(graft_cache_view_open(sub, &v));
        EXPECT(graft_cache_view_segments(v) == 2 && graft_cache_view_tap_count(v) == 2 &&
                   graft_cache_view_dim(v, 0) == TAP0_DIM &&
                   graft_cache_view_dim(v, 1) == TAP1_DIM && graft_cache_view_dtype(v) == cfg.dtype,
               "view shape: %zu segments", graft_cache_view_segments(v));
        EXPECT(!strcmp(graft_cache_view_model_path(v), cfg.model_path) &&
                   !strcmp(graft_cache_view_model_sha256(v), cfg.model_sha256) &&
                   !strcmp(graft_cache_view_preprocess(v), cfg.preprocess) &&
                   !strcmp(graft_cache_view_tap(v, 1)->name, "pool/out") &&
                   graft_cache_view_tap(v, 1)->rank == 3 &&
                   graft_cache_view_tap(v, 1)->dims[2] == 3,
               "manifest fields did not survive JSON");
        EXPECT(graft_cache_view_class_count(v) == 3 &&
                   !strcmp(graft_cache_view_class_name(v, 0), "ants") &&
                   !strcmp(graft_cache_view_class_name(v, 1), "bees") &&
                   !strcmp(graft_cache_view_class_name(v, 2), "wasps\tand\\hornets") &&
                   graft_cache_view_class_name(v, 3) == NULL,
               "classes: %d", graft_cache_view_class_count(v));
        if ((status = check_view_rows(v, 0, 45, 0, msg, msglen))) goto out;
        float dummy[TAP1_DIM];
        EXPECT_ERR(graft_cache_view_codes(v, 1, 45, 1, dummy), GRAFT_EINVAL, NULL, "past the end");
        EXPECT_ERR(graft_cache_view_codes(v, 2, 0, 1, dummy), GRAFT_EINVAL, NULL, "bad tap");
        graft_cache_row_info ri;
        EXPECT_ERR(graft_cache_view_row(v, 45, &ri), GRAFT_EINVAL, NULL, "row past the end");
        graft_cache_view_close(v);
        v = NULL;
        /* classes.txt: sorted, escaped, one per line. */
        text = read_text(sub, "classes.txt", NULL);
        EXPECT(text && !strcmp(text, "ants\nbees\nwasps\\tand\\\\hornets\n"), "classes.txt: '%s'",
               text ? text : "(missing)");
        free(text);
        text = NULL;
    }
out:
    free(text);
    graft_cache_view_close(v);
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

static int check_resume_rejects(char *msg, size_t msglen) {
    char dir[512] = "", key[64];
    int status = GRAFT_CHECK_PASS;
    graft_cache *c = NULL;
    char *text = NULL;
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    const graft_cache_config cfg = test_config(GRAFT_CACHE_DTYPE_F32);
    OK(graft_cache_open(dir, &cfg, &c));
    OK(append_sample(c, 0, 0, key, sizeof key));
    OK(commit(c));
    uint8_t sha[32], other[32];
    fake_sha(sha, 4242);
    fake_sha(other, 4243);
    OK(graft_cache_reject(c, "s.tar", "bad\t1.jpg", "bad1", sha, "truncated JPEG\n(4 bytes)"));
    OK(graft_cache_reject(c, "s.tar", "bad2.jpg", "bad2", NULL, "no image"));
    EXPECT(graft_cache_contains(c, "bad1", sha) == 2, "rejected: %d",
           graft_cache_contains(c, "bad1", sha));
    EXPECT(graft_cache_contains(c, "bad1", other) == 0, "rejected, other hash");
    EXPECT(graft_cache_contains(c, "bad2", sha) == 0, "rejected without hash");
    graft_cache_close(c);
    c = NULL;
    /* A crash mid-append leaves a partial line; the next reject starts a fresh one. */
    {
        char p[600];
        snprintf(p, sizeof p, "%s/rejects.tsv", dir);
        FILE *f = fopen(p, "a");
        EXPECT(f, "rejects.tsv: %s", strerror(errno));
        fputs("s.tar\tpartial", f);
        fclose(f);
    }
    OK(graft_cache_open(dir, &cfg, &c));
    EXPECT(graft_cache_contains(c, "bad1", sha) == 2, "reopened: rejected");
    fake_sha(other, 0 * 31);
    EXPECT(graft_cache_contains(c, "k000000", other) == 1, "reopened: committed");
    OK(graft_cache_reject(c, "s.tar", "m.jpg", "bad3", other, "decode"));
    EXPECT(graft_cache_contains(c, "bad3", other) == 2, "new reject");
    graft_cache_close(c);
    c = NULL;
    size_t len;
    text = read_text(dir, "rejects.tsv", &len);
    char h1[65], h3[65];
    graft__cache_hex_format(sha, h1);
    graft__cache_hex_format(other, h3);
    char want[1024];
    snprintf(want, sizeof want,
             "shard\tmember\tkey\tsha256\treason\n"
             "s.tar\tbad 1.jpg\tbad1\t%s\ttruncated JPEG (4 bytes)\n"
             "s.tar\tbad2.jpg\tbad2\t-\tno image\n"
             "s.tar\tpartial\n"
             "s.tar\tm.jpg\tbad3\t%s\tdecode\n", h1, h3);
    EXPECT(text && !strcmp(text, want), "rejects.tsv:\n%s\nexpected:\n%s", text ? text : "", want);
    OK(graft_cache_open(dir, &cfg, &c));
    EXPECT(graft_cache_contains(c, "bad3", other) == 2, "reopened after the partial line");
out:
    free(text);
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

static int check_supersede(char *msg, size_t msglen) {
    char dir[512] = "", key[64];
    int status = GRAFT_CHECK_PASS;
    graft_cache *c = NULL;
    graft_cache_view *v = NULL;
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    const graft_cache_config cfg = test_config(GRAFT_CACHE_DTYPE_F32);
    OK(graft_cache_open(dir, &cfg, &c));
    for (unsigned i = 0; i < 10; i++) OK(append_sample(c, i, 0, key, sizeof key));
    OK(commit(c));
    graft_cache_close(c);
    c = NULL;
    /* Samples 3 and 5 changed (variant 1: other bytes, other codes); 5 twice in one run. */
    OK(graft_cache_open(dir, &cfg, &c));
    uint8_t old3[32], new3[32];
    fake_sha(old3, 3 * 31);
    fake_sha(new3, 3 * 31 + 1);
    EXPECT(graft_cache_contains(c, "k000003", new3) == 0, "changed content counts as done");
    OK(append_sample(c, 3, 1, key, sizeof key));
    EXPECT(graft_cache_contains(c, "k000003", new3) == 1 &&
               graft_cache_contains(c, "k000003", old3) == 0,
           "the appended row decides");
    OK(append_sample(c, 5, 2, key, sizeof key));
    OK(append_sample(c, 5, 1, key, sizeof key));
    OK(append_sample(c, 10, 0, key, sizeof key));
    OK(commit(c));
    EXPECT(graft_cache_committed_rows(c) == 11, "committed %zu", graft_cache_committed_rows(c));
    graft_cache_close(c);
    c = NULL;
    OK(graft_cache_view_open(dir, &v));
    EXPECT(graft_cache_view_rows(v) == 11 && graft__cache_view_superseded(v) == 3,
           "%zu rows, %zu superseded", graft_cache_view_rows(v), graft__cache_view_superseded(v));
    /* Commit order: the first segment without 3 and 5, then 3, 5 (variant 1), 10. */
    const unsigned order[11] = {0, 1, 2, 4, 6, 7, 8, 9, 3, 5, 10};
    for (size_t r = 0; r < 11; r++) {
        graft_cache_row_info ri;
        OK(graft_cache_view_row(v, r, &ri));
        const unsigned i = order[r], variant = (i == 3 || i == 5) ? 1 : 0;
        uint8_t sha[32];
        fake_sha(sha, i * 31 + variant);
        float c0[TAP0_DIM], c1[TAP1_DIM], got[TAP0_DIM];
        fake_codes(i, variant, c0, c1);
        OK(graft_cache_view_codes(v, 0, r, 1, got));
        EXPECT(!memcmp(sha, ri.sha256, 32) && !memcmp(got, c0, sizeof got) &&
                   ri.segment == (r < 8 ? 0u : 1u),
               "row %zu (sample %u): wrong version (segment %zu)", r, i, ri.segment);
    }
    graft__cache_seg_info si;
    OK(graft__cache_view_segment(v, 0, &si));
    EXPECT(si.rows == 10 && si.live_rows == 8 && si.number == 1, "segment 0: %zu/%zu rows, #%llu",
           si.live_rows, si.rows, (unsigned long long)si.number);
    OK(graft__cache_view_segment(v, 1, &si));
    EXPECT(si.rows == 4 && si.live_rows == 3 && si.number == 2, "segment 1: %zu/%zu rows",
           si.live_rows, si.rows);
out:
    graft_cache_view_close(v);
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

/* ---- refusals -------------------------------------------------------------------------------- */

static int check_mismatch(char *msg, size_t msglen) {
    char dir[512] = "", other[600];
    int status = GRAFT_CHECK_PASS;
    graft_cache *c = NULL;
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    const graft_cache_config cfg = test_config(GRAFT_CACHE_DTYPE_F32);
    OK(graft_cache_open(dir, &cfg, &c));
    graft_cache_close(c);
    c = NULL;

    graft_cache_config m = cfg;
    m.model_sha256 = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    m.model_path = "b.onnx";
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EMISMATCH, "model sha256 0123456789abcdef",
               "sha");
    EXPECT(strstr(graft_last_error(), "not ffffffff") && strstr(graft_last_error(), "(b.onnx)") &&
               strstr(graft_last_error(), dir),
           "sha message: %s", graft_last_error());
    graft_cache_tap taps[3] = {test_taps[0], test_taps[1], test_taps[1]};
    m = cfg;
    m.taps = taps;
    taps[1].name = "pool/other";
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EMISMATCH,
               "taps [features (5), pool/out (2, 1, 3)], "
               "not [features (5), pool/other (2, 1, 3)]",
               "tap name");
    taps[1] = test_taps[1];
    taps[1].dims[2] = 4;
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EMISMATCH,
               "not [features (5), pool/out (2, 1, 4)]", "tap shape");
    taps[1] = test_taps[1];
    taps[1].rank = 2;
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EMISMATCH, "pool/out (2, 1)]", "tap rank");
    taps[1] = test_taps[1];
    m.tap_count = 3;
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EMISMATCH, "taps", "tap count");
    m = cfg;
    m.preprocess = "resize 224";
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EMISMATCH, "preprocess \"resize 256 bilinear",
               "preprocess");
    EXPECT(strstr(graft_last_error(), "not \"resize 224\""), "preprocess message: %s",
           graft_last_error());
    m = cfg;
    m.dtype = GRAFT_CACHE_DTYPE_F16;
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EMISMATCH, "dtype float32, not float16",
               "dtype");
    /* The model path is informational only. */
    m = cfg;
    m.model_path = "moved/elsewhere.onnx";
    OK(graft_cache_open(dir, &m, &c));
    graft_cache_close(c);
    c = NULL;

    /* Bad configs. */
    m = cfg;
    m.model_sha256 = "0123";
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EINVAL, "model_sha256", "short sha");
    m.model_sha256 = "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef";
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EINVAL, "model_sha256", "uppercase sha");
    m = cfg;
    m.tap_count = 0;
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EINVAL, "taps", "no taps");
    m = cfg;
    m.taps = taps;
    taps[0].dims[0] = 0;
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EINVAL, "dimension", "zero dimension");
    taps[0] = test_taps[0];
    taps[0].rank = 5;
    EXPECT_ERR(graft_cache_open(dir, &m, &c), GRAFT_EINVAL, "rank", "rank 5");
    EXPECT_ERR(graft_cache_open(NULL, &cfg, &c), GRAFT_EINVAL, NULL, "NULL dir");

    /* A directory with foreign files is never written into. */
    snprintf(other, sizeof other, "%s/foreign", dir);
    mkdir(other, 0777);
    EXPECT(write_text(other, "notes.txt", "hello\n", 6) == 0, "write notes.txt");
    EXPECT_ERR(graft_cache_open(other, &cfg, &c), GRAFT_EMISMATCH, "not empty",
               "foreign directory");
    EXPECT(!file_exists(other, "manifest.json") && !file_exists(other, "segments"),
           "wrote into a foreign directory");
    /* ...but one holding only a temp of an interrupted creation is empty. */
    remove(other);
    snprintf(other, sizeof other, "%s/interrupted", dir);
    mkdir(other, 0777);
    EXPECT(write_text(other, ".tmp-manifest.json", "{", 1) == 0, "write temp");
    OK(graft_cache_open(other, &cfg, &c));
    graft_cache_close(c);
    c = NULL;
    EXPECT(!file_exists(other, ".tmp-manifest.json") && file_exists(other, "manifest.json"),
           "interrupted creation not completed");
    /* A manifest of a later version. */
    {
        size_t len;
        char *t = read_text(other, "manifest.json", &len);
        EXPECT(t, "read manifest");
        char *ver = strstr(t, "\"version\": 1");
        if (ver) ver[11] = '7';
        write_text(other, "manifest.json", t, len);
        free(t);
        EXPECT(ver, "no version field");
        EXPECT_ERR(graft_cache_open(other, &cfg, &c), GRAFT_EUNSUPPORTED, "version 7", "version 7");
        graft_cache_view *v = NULL;
        EXPECT_ERR(graft_cache_view_open(other, &v), GRAFT_EUNSUPPORTED, "version 7",
                   "view version 7");
    }
    {
        graft_cache_view *v = NULL;
        snprintf(other, sizeof other, "%s/absent", dir);
        EXPECT_ERR(graft_cache_view_open(other, &v), GRAFT_EIO, "absent", "no cache");
    }
out:
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

/* ---- interrupted commits --------------------------------------------------------------------- */

static void verify_silent(void *ctx, graft__verify_level level, const char *file,
                          const char *what) {
    char *log = ctx;
    static const char *const names[] = {"note", "warning", "problem"};
    size_t n = strlen(log);
    if (n < 4000) snprintf(log + n, 4096 - n, "%s %s: %s\n", names[level], file, what);
}

static int check_interrupted(char *msg, size_t msglen) {
    char dir[512] = "", key[64], log[4096] = "";
    int status = GRAFT_CHECK_PASS;
    graft_cache *c = NULL;
    graft_cache_view *v = NULL;
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    const graft_cache_config cfg = test_config(GRAFT_CACHE_DTYPE_F16);
    OK(graft_cache_open(dir, &cfg, &c));
    for (unsigned i = 0; i < 8; i++) OK(append_sample(c, i, 0, key, sizeof key));
    OK(commit(c));
    graft_cache_close(c);
    c = NULL;
    /* What a crash at each step of a commit of segment 9 leaves behind. */
    EXPECT(write_text(dir, "segments/.tmp-000009.tap0.npy", "\x93NUMPY", 6) == 0 &&
               write_text(dir, "segments/.tmp-000009.index.tsv", "key\tla", 6) == 0 &&
               write_text(dir, ".tmp-classes.txt", "zzz\n", 4) == 0,
           "writing temps");
    {
        /* An orphan npy: renamed into place, but its index never was. */
        char p[600];
        snprintf(p, sizeof p, "%s/segments/000009.tap1.npy", dir);
        const size_t shape[4] = {3, 2, 1, 3};
        uint16_t data[18] = {0};
        OK(graft_npy_write(p, GRAFT_NPY_DTYPE_F16, 4, shape, data));
    }
    OK(graft_cache_view_open(dir, &v));
    EXPECT(graft_cache_view_segments(v) == 1 && graft_cache_view_class_count(v) == 3,
           "the view saw an interrupted commit");
    if ((status = check_view_rows(v, 0, 8, 0, msg, msglen))) goto out;
    graft_cache_view_close(v);
    v = NULL;
    graft__verify_stats st;
    OK(graft__cache_verify(dir, verify_silent, log, &st));
    EXPECT(st.problems == 0 && st.warnings == 4 && st.live_rows == 8, "verify: %zu problems, %zu "
           "warnings:\n%s", st.problems, st.warnings, log);
    EXPECT(strstr(log, "segments/000009.tap1.npy") && strstr(log, ".tmp-classes.txt"),
           "verify did not name the leftovers:\n%s", log);

    OK(graft_cache_open(dir, &cfg, &c));
    EXPECT(count_files(dir, "segments", ".tmp-") == 0 && count_files(dir, ".", ".tmp-") == 0 &&
               !file_exists(dir, "segments/000009.tap1.npy"),
           "open did not remove the leftovers");
    /* Segment numbers are never reused: the next one comes after 9. */
    OK(append_sample(c, 8, 0, key, sizeof key));
    OK(commit(c));
    graft_cache_close(c);
    c = NULL;
    EXPECT(file_exists(dir, "segments/000010.index.tsv") &&
               file_exists(dir, "segments/000010.tap1.npy"),
           "the next segment is not 000010");
    OK(graft_cache_view_open(dir, &v));
    if ((status = check_view_rows(v, 0, 9, 0, msg, msglen))) goto out;
out:
    graft_cache_view_close(v);
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

/* ---- a writer thread ------------------------------------------------------------------------- */

typedef struct write_job {
    graft_cache *c;
    graft_cache_segment *seg;
    int err;
    char errmsg[512];
} write_job;

static void *write_thread(void *arg) {
    write_job *j = arg;
    j->err = graft_cache_write(j->c, j->seg);
    if (j->err) snprintf(j->errmsg, sizeof j->errmsg, "%s", graft_last_error());
    return NULL;
}

static int check_threaded_write(char *msg, size_t msglen) {
    char dir[512] = "", key[64];
    int status = GRAFT_CHECK_PASS, running = 0;
    graft_cache *c = NULL;
    graft_cache_view *v = NULL;
    pthread_t th;
    write_job job = {0};
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    const graft_cache_config cfg = test_config(GRAFT_CACHE_DTYPE_F32);
    OK(graft_cache_open(dir, &cfg, &c));
    const unsigned batches = 8, per = 60;
    for (unsigned b = 0; b < batches; b++) {
        for (unsigned i = b * per; i < (b + 1) * per; i++) {
            OK(append_sample(c, i, 0, key, sizeof key));
            /* While the previous segment is being written, its rows stay contained. */
            if (running && b > 0) {
                const unsigned j = (b - 1) * per + (i - b * per);
                char k[64];
                if (j % 5 == 4) snprintf(k, sizeof k, "train/we\\ird\tkey\n%u", j);
                else snprintf(k, sizeof k, "k%06u", j);
                uint8_t sha[32];
                fake_sha(sha, j * 31);
                EXPECT(graft_cache_contains(c, k, sha) == 1, "row %u of the segment in flight "
                       "not contained", j);
            }
        }
        if (running) {
            pthread_join(th, NULL);
            running = 0;
            EXPECT(job.err == GRAFT_OK, "write: %s", job.errmsg);
        }
        job.c = c;
        OK(graft_cache_seal(c, &job.seg));
        EXPECT(job.seg, "nothing sealed");
        EXPECT(pthread_create(&th, NULL, write_thread, &job) == 0, "pthread_create");
        running = 1;
    }
    pthread_join(th, NULL);
    running = 0;
    EXPECT(job.err == GRAFT_OK, "write: %s", job.errmsg);
    EXPECT(graft_cache_committed_rows(c) == batches * per, "committed %zu",
           graft_cache_committed_rows(c));
    EXPECT(!strcmp(graft_cache_write_error(c), ""), "write error set: %s",
           graft_cache_write_error(c));
    graft_cache_close(c);
    c = NULL;
    OK(graft_cache_view_open(dir, &v));
    EXPECT(graft_cache_view_segments(v) == batches, "%zu segments", graft_cache_view_segments(v));
    status = check_view_rows(v, 0, batches * per, 0, msg, msglen);
out:
    if (running) pthread_join(th, NULL);
    graft_cache_view_close(v);
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

/* ---- numpy ----------------------------------------------------------------------------------- */

static const char *python_bin(void) {
    const char *py = getenv("GRAFT_PYTHON");
    return py && *py ? py : "/usr/bin/python3";
}

static const char numpy_script[] =
    "import json, os, sys\n"
    "import numpy as np\n"
    "d = sys.argv[1]\n"
    "m = json.load(open(os.path.join(d, 'manifest.json'), encoding='utf-8'))\n"
    "assert m['format'] == 'graft-cache' and m['version'] == 1, m\n"
    "print('manifest', m['dtype'], m['model']['path'] == sys.argv[2], len(m['taps']),\n"
    "      m['taps'][1]['name'], ','.join(map(str, m['taps'][1]['shape'])),\n"
    "      m['preprocess'] == sys.argv[3])\n"
    "for f in sorted(os.listdir(os.path.join(d, 'segments'))):\n"
    "    if not f.endswith('.npy'): continue\n"
    "    a = np.load(os.path.join(d, 'segments', f), mmap_mode='r')\n"
    "    assert isinstance(a, np.memmap), type(a)\n"
    "    print(f, a.dtype.str, ','.join(map(str, a.shape)),\n"
    "          ' '.join(repr(float(x)) for x in np.asarray(a, dtype=np.float64).ravel()))\n";

static int check_numpy(char *msg, size_t msglen) {
    char dir[512] = "", key[64], cmd[8192], script[600] = "";
    int status = GRAFT_CHECK_PASS;
    graft_cache *c = NULL;
    graft_cache_view *v = NULL;
    FILE *p = NULL;
    char *line = NULL;
    size_t cap = 0;
    snprintf(cmd, sizeof cmd, "%s -c 'import numpy' 2>/dev/null", python_bin());
    if (system(cmd) != 0)
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "%s with numpy not found (set "
                               "GRAFT_PYTHON)", python_bin());
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    snprintf(script, sizeof script, "%s/check.py", dir);
    EXPECT(write_text(dir, "check.py", numpy_script, strlen(numpy_script)) == 0, "script");
    for (int dt = 0; dt < 2; dt++) {
        char sub[600];
        snprintf(sub, sizeof sub, "%s/c%d", dir, dt);
        const graft_cache_config cfg = test_config((graft_cache_dtype)dt);
        OK(graft_cache_open(sub, &cfg, &c));
        for (unsigned i = 0; i < 7; i++) OK(append_sample(c, i, 0, key, sizeof key));
        OK(commit(c));
        for (unsigned i = 7; i < 10; i++) OK(append_sample(c, i, 0, key, sizeof key));
        OK(commit(c));
        graft_cache_close(c);
        c = NULL;
        OK(graft_cache_view_open(sub, &v));
        /* Arguments through the environment: the model path holds a tab and quotes. */
        setenv("GRAFT_CHECK_MODEL", cfg.model_path, 1);
        setenv("GRAFT_CHECK_PRE", cfg.preprocess, 1);
        snprintf(cmd, sizeof cmd, "%s %s %s \"$GRAFT_CHECK_MODEL\" \"$GRAFT_CHECK_PRE\" 2>&1",
                 python_bin(), script, sub);
        p = popen(cmd, "r");
        EXPECT(p, "popen: %s", strerror(errno));
        int files = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, p)) > 0) {
            if (line[n - 1] == '\n') line[n - 1] = '\0';
            if (!strncmp(line, "manifest ", 9)) {
                char want[200];
                snprintf(want, sizeof want, "manifest %s True 2 pool/out 2,1,3 True",
                         dt ? "float16" : "float32");
                EXPECT(!strcmp(line, want), "python: '%s', expected '%s'", line, want);
                continue;
            }
            char name[64], descr[16], shape[64];
            int off = 0;
            EXPECT(sscanf(line, "%63s %15s %63s %n", name, descr, shape, &off) == 3,
                   "python: '%s'", line);
            unsigned seg, tap;
            EXPECT(sscanf(name, "%6u.tap%u.npy", &seg, &tap) == 2 && seg >= 1 && seg <= 2 &&
                       tap < 2,
                   "file %s", name);
            EXPECT(!strcmp(descr, dt ? "<f2" : "<f4"), "%s: dtype %s", name, descr);
            const size_t rows = seg == 1 ? 7 : 3, first = seg == 1 ? 0 : 7,
                         D = tap ? TAP1_DIM : TAP0_DIM;
            char want_shape[64];
            snprintf(want_shape, sizeof want_shape, tap ? "%zu,2,1,3" : "%zu,5", rows);
            EXPECT(!strcmp(shape, want_shape), "%s: shape %s, expected %s", name, shape,
                   want_shape);
            float *want = malloc(rows * D * sizeof *want);
            EXPECT(want, "out of memory");
            graft_cache_view_codes(v, (int)tap, first, rows, want);
            const char *s = line + off;
            for (size_t k = 0; k < rows * D; k++) {
                char *end;
                double got = strtod(s, &end);
                if (end == s || (float)got != want[k]) {
                    const double w = want[k];
                    free(want);
                    EXPECT(0, "%s: value %zu: numpy read %.9g, the view %.9g", name, k, got, w);
                }
                s = end;
            }
            free(want);
            files++;
        }
        int rc = pclose(p);
        p = NULL;
        EXPECT(rc == 0 && files == 4, "python exited %d after %d files (last line: %s)", rc, files,
               line ? line : "");
        graft_cache_view_close(v);
        v = NULL;
    }
out:
    if (p) pclose(p);
    free(line);
    graft_cache_view_close(v);
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

/* ---- disk full ------------------------------------------------------------------------------- */

static const graft_cache_tap wide_tap[1] = {{"wide", 1, {256}}};

static int append_wide(graft_cache *c, unsigned i) {
    float x[256];
    for (int d = 0; d < 256; d++) x[d] = (float)i + (float)d * 0.5f;
    const float *codes[1] = {x};
    char key[32];
    snprintf(key, sizeof key, "w%05u", i);
    graft_cache_row row = {.key = key, .label = i % 2 ? "odd" : "even", .shard = "s",
                           .member = key, .split = GRAFT_SPLIT_TRAIN};
    fake_sha(row.sha256, i);
    return graft_cache_append(c, &row, codes);
}

/* Writes 3 small segments, then one too large for `dir`; checks the aftermath. */
static int fill_disk(const char *dir, const char *how, int (*limit)(int on), char *msg,
                     size_t msglen) {
    int status = GRAFT_CHECK_PASS, limited = 0;
    graft_cache *c = NULL;
    graft_cache_view *v = NULL;
    char log[4096] = "";
    graft_cache_config cfg = test_config(GRAFT_CACHE_DTYPE_F32);
    cfg.tap_count = 1;
    cfg.taps = wide_tap;
    OK(graft_cache_open(dir, &cfg, &c));
    for (unsigned s = 0; s < 3; s++) {
        OK(append_wide(c, s));
        OK(commit(c));
    }
    if (limit) {
        EXPECT(limit(1) == 0, "%s: cannot set the limit: %s", how, strerror(errno));
        limited = 1;
    }
    if (limit) {
        /* A failure at the index (a 40 KB key) after the npy temps were written. */
        char *big = malloc(40001);
        EXPECT(big, "out of memory");
        memset(big, 'k', 40000);
        big[40000] = '\0';
        float x[256] = {0};
        const float *codes[1] = {x};
        graft_cache_row row = {.key = big, .shard = "s", .member = "m"};
        int e = graft_cache_append(c, &row, codes);
        if (!e) {
            EXPECT(limit(1) == 0, "%s: cannot set the limit: %s", how, strerror(errno));
            e = commit(c);
            limit(0);
            if (e == GRAFT_ENOSPC && !strstr(graft_last_error(), "index.tsv")) e = -100;
        }
        free(big);
        EXPECT(e == GRAFT_ENOSPC, "%s: a failing index write gave %s: %s", how, graft_err_name(e),
               graft_last_error());
        EXPECT(count_files(dir, "segments", ".tmp-") == 0 &&
                   count_files(dir, "segments", "000004") == 0,
               "%s: the failed index commit left files", how);
    }
    for (unsigned i = 100; i < 300; i++) OK(append_wide(c, i));
    int err = commit(c);
    if (limited) limit(0);
    limited = 0;
    EXPECT_ERR(err, GRAFT_ENOSPC, "segments/", "%s: writing 200 rows", how);
    EXPECT(strstr(graft_cache_write_error(c), "segments/") != NULL, "%s: write_error '%s'", how,
           graft_cache_write_error(c));
    EXPECT(count_files(dir, "segments", ".tmp-") == 0 && count_files(dir, ".", ".tmp-") == 0 &&
               count_files(dir, "segments", "00000") == 3 * 2,
           "%s: the failed commit left files", how);
    uint8_t sha[32];
    fake_sha(sha, 150);
    EXPECT(graft_cache_contains(c, "w00150", sha) == 0, "%s: a failed row is contained", how);
    EXPECT(graft_cache_committed_rows(c) == 3, "%s: committed %zu", how,
           graft_cache_committed_rows(c));
    /* Space is back: a small segment goes through, with a new number. */
    OK(append_wide(c, 3));
    OK(commit(c));
    graft_cache_close(c);
    c = NULL;
    EXPECT(file_exists(dir, limit ? "segments/000006.index.tsv" : "segments/000005.index.tsv"),
           "%s: the segment after the failures has a reused number", how);
    graft__verify_stats st;
    OK(graft__cache_verify(dir, verify_silent, log, &st));
    EXPECT(st.problems == 0 && st.warnings == 0 && st.live_rows == 4, "%s: verify: %zu problems "
           "%zu rows:\n%s", how, st.problems, st.live_rows, log);
    OK(graft_cache_view_open(dir, &v));
    EXPECT(graft_cache_view_rows(v) == 4 && graft_cache_view_segments(v) == 4, "%s: view %zu rows",
           how, graft_cache_view_rows(v));
    for (unsigned r = 0; r < 4; r++) {
        float x[256];
        OK(graft_cache_view_codes(v, 0, r, 1, x));
        EXPECT(x[0] == (float)r && x[255] == (float)r + 127.5f, "%s: row %u codes", how, r);
    }
out:
    if (limited) limit(0);
    graft_cache_view_close(v);
    graft_cache_close(c);
    return status;
}

static struct rlimit saved_fsize;
static void (*saved_xfsz)(int);

static int fsize_limit(int on) {
    if (on) {
        if (getrlimit(RLIMIT_FSIZE, &saved_fsize)) return -1;
        saved_xfsz = signal(SIGXFSZ, SIG_IGN);
        struct rlimit r = {32768, saved_fsize.rlim_max};
        return setrlimit(RLIMIT_FSIZE, &r);
    }
    setrlimit(RLIMIT_FSIZE, &saved_fsize);
    signal(SIGXFSZ, saved_xfsz);
    return 0;
}

static int check_disk_full(char *msg, size_t msglen) {
    char dir[512] = "", mnt[600];
    int status = GRAFT_CHECK_PASS, mounted = 0;
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    /* RLIMIT_FSIZE: EFBIG on the large npy file. */
    snprintf(mnt, sizeof mnt, "%s/rlimit", dir);
    if ((status = fill_disk(mnt, "RLIMIT_FSIZE", fsize_limit, msg, msglen))) goto out;
    /* A real full file system, when we may mount one: ENOSPC. */
    snprintf(mnt, sizeof mnt, "%s/tmpfs", dir);
    mkdir(mnt, 0777);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") == 0) {
        mounted = 1;
        status = fill_disk(mnt, "tmpfs", NULL, msg, msglen);
    } else {
        status = graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "tmpfs not mountable (%s): only "
                                 "RLIMIT_FSIZE checked", strerror(errno));
    }
out:
    if (mounted) umount2(mnt, MNT_DETACH);
    rm_rf(dir);
    return status;
}

/* ---- corrupt files --------------------------------------------------------------------------- */

/* Makes a good two-segment cache in dir. */
static int make_cache(const char *dir, graft_cache_dtype dtype) {
    char key[64];
    graft_cache *c;
    const graft_cache_config cfg = test_config(dtype);
    int err = graft_cache_open(dir, &cfg, &c);
    for (unsigned i = 0; !err && i < 6; i++) err = append_sample(c, i, 0, key, sizeof key);
    if (!err) err = commit(c);
    for (unsigned i = 6; !err && i < 9; i++) err = append_sample(c, i, 0, key, sizeof key);
    if (!err) err = commit(c);
    if (!err) graft_cache_close(c);
    return err;
}

typedef struct corruption {
    const char *name;
    const char *file;   /* damaged, and named by the errors */
    int writer_too;     /* graft_cache_open fails as well (manifest, index) */
    int view_ok;        /* the view does not look (code values) */
} corruption;

/* Damages the cache in dir as case k says. */
static int corrupt(const char *dir, int k) {
    size_t len;
    char *t;
    switch (k) {
    case 0: return write_text(dir, "manifest.json", "{\"format\": \"graft-cache\", ", 26);
    case 1: return write_text(dir, "manifest.json", "{\"format\": \"other\", \"version\": 1}", 33);
    case 2: {
        const char *m = "{\"format\":\"graft-cache\",\"version\":1,\"model\":{\"sha256\":\"x\"}}";
        return write_text(dir, "manifest.json", m, strlen(m));
    }
    case 3: /* the last line loses a field: its last tab becomes a space */
        if (!(t = read_text(dir, "segments/000002.index.tsv", &len))) return -1;
        *strrchr(t, '\t') = ' ';
        break;
    case 4: /* a bad sha256 */
        if (!(t = read_text(dir, "segments/000002.index.tsv", &len))) return -1;
        {
            char *nl = strchr(t, '\n');
            char *tab = nl;
            for (int f = 0; f < 4 && tab; f++) tab = strchr(tab + 1, '\t');
            if (tab) tab[3] = 'G';
        }
        break;
    case 5: /* an index without its trailing newline: truncated */
        if (!(t = read_text(dir, "segments/000002.index.tsv", &len))) return -1;
        len -= 3;
        break;
    case 6: /* a truncated npy */
        if (!(t = read_text(dir, "segments/000002.tap1.npy", &len))) return -1;
        len -= 4;
        break;
    case 7: { /* an npy with one row more than its index */
        char p[600];
        snprintf(p, sizeof p, "%s/segments/000002.tap1.npy", dir);
        const size_t shape[4] = {4, 2, 1, 3};
        float z[24] = {0};
        return graft_npy_write(p, GRAFT_NPY_DTYPE_F32, 4, shape, z) ? -1 : 0;
    }
    case 8: { /* an npy of the wrong dtype */
        char p[600];
        snprintf(p, sizeof p, "%s/segments/000002.tap1.npy", dir);
        const size_t shape[4] = {3, 2, 1, 3};
        uint8_t z[18] = {0};
        return graft_npy_write(p, GRAFT_NPY_DTYPE_U8, 4, shape, z) ? -1 : 0;
    }
    case 9: { /* the wrong shape */
        char p[600];
        snprintf(p, sizeof p, "%s/segments/000002.tap1.npy", dir);
        const size_t shape[2] = {3, 6};
        float z[18] = {0};
        return graft_npy_write(p, GRAFT_NPY_DTYPE_F32, 2, shape, z) ? -1 : 0;
    }
    case 10: { /* a missing npy */
        char p[600];
        snprintf(p, sizeof p, "%s/segments/000002.tap1.npy", dir);
        return unlink(p);
    }
    case 11: /* garbage instead of an npy header */
        if (!(t = read_text(dir, "segments/000002.tap1.npy", &len))) return -1;
        memcpy(t + 10, "[1, 2]", 6);
        break;
    case 12: /* a NaN among the codes */
        if (!(t = read_text(dir, "segments/000002.tap1.npy", &len))) return -1;
        memcpy(t + len - 8, "\x00\x00\xc0\x7f", 4);
        break;
    default: return -1;
    }
    const char *const files[] = {
        [3] = "segments/000002.index.tsv", [4] = "segments/000002.index.tsv",
        [5] = "segments/000002.index.tsv", [6] = "segments/000002.tap1.npy",
        [11] = "segments/000002.tap1.npy", [12] = "segments/000002.tap1.npy"};
    int rc = write_text(dir, files[k], t, len);
    free(t);
    return rc;
}

static int check_corrupt(char *msg, size_t msglen) {
    static const corruption cases[] = {
        {"truncated manifest", "manifest.json", 1, 0},
        {"foreign manifest", "manifest.json", 1, 0},
        {"manifest without taps", "manifest.json", 1, 0},
        {"index field missing", "000002.index.tsv", 1, 0},
        {"index bad sha256", "000002.index.tsv", 1, 0},
        {"index truncated", "000002.index.tsv", 1, 0},
        {"npy truncated", "000002.tap1.npy", 0, 0},
        {"npy extra row", "000002.tap1.npy", 0, 0},
        {"npy dtype", "000002.tap1.npy", 0, 0},
        {"npy shape", "000002.tap1.npy", 0, 0},
        {"npy missing", "000002.tap1.npy", 0, 0},
        {"npy header", "000002.tap1.npy", 0, 0},
        {"NaN code", "000002.tap1.npy", 0, 1},
    };
    char dir[512] = "", sub[600], log[4096];
    int status = GRAFT_CHECK_PASS;
    graft_cache_view *v = NULL;
    graft_cache *c = NULL;
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        const corruption *cc = &cases[k];
        snprintf(sub, sizeof sub, "%s/c%d", dir, k);
        OK(make_cache(sub, GRAFT_CACHE_DTYPE_F32));
        EXPECT(corrupt(sub, k) == 0, "%s: could not damage the cache", cc->name);
        if (cc->view_ok) {
            OK(graft_cache_view_open(sub, &v));
            graft_cache_view_close(v);
            v = NULL;
        } else {
            EXPECT_ERR(graft_cache_view_open(sub, &v), GRAFT_ECORRUPT, cc->file, "%s: view",
                       cc->name);
        }
        const graft_cache_config cfg = test_config(GRAFT_CACHE_DTYPE_F32);
        if (cc->writer_too) {
            EXPECT_ERR(graft_cache_open(sub, &cfg, &c), GRAFT_ECORRUPT, cc->file, "%s: open",
                       cc->name);
        }
        graft__verify_stats st;
        log[0] = '\0';
        OK(graft__cache_verify(sub, verify_silent, log, &st));
        EXPECT(st.problems >= 1 && strstr(log, cc->file), "%s: verify found %zu problems:\n%s",
               cc->name, st.problems, log);
        rm_rf(sub);
    }
    /* The good cache verifies clean. */
    snprintf(sub, sizeof sub, "%s/good", dir);
    OK(make_cache(sub, GRAFT_CACHE_DTYPE_F16));
    graft__verify_stats st;
    log[0] = '\0';
    OK(graft__cache_verify(sub, verify_silent, log, &st));
    EXPECT(st.problems == 0 && st.warnings == 0 && st.segments == 2 && st.live_rows == 9 &&
               st.values_checked == 9 * (TAP0_DIM + TAP1_DIM),
           "good cache: %zu problems, %zu warnings, %zu values:\n%s", st.problems, st.warnings,
           st.values_checked, log);
out:
    graft_cache_view_close(v);
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

static int check_append_errors(char *msg, size_t msglen) {
    char dir[512] = "", key[64];
    int status = GRAFT_CHECK_PASS;
    graft_cache *c = NULL;
    graft_cache_segment *seg = NULL;
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    const graft_cache_config cfg = test_config(GRAFT_CACHE_DTYPE_F16);
    OK(graft_cache_open(dir, &cfg, &c));
    float c0[TAP0_DIM] = {1, 2, 3, 4, 5}, c1[TAP1_DIM] = {0};
    const float *codes[2] = {c0, c1};
    graft_cache_row row = {.key = "x", .split = GRAFT_SPLIT_VAL};
    c0[3] = NAN;
    EXPECT_ERR(graft_cache_append(c, &row, codes), GRAFT_EINVAL, "non-finite", "NaN");
    c0[3] = INFINITY;
    EXPECT_ERR(graft_cache_append(c, &row, codes), GRAFT_EINVAL, "non-finite", "inf");
    c0[3] = 70000.0f;
    EXPECT_ERR(graft_cache_append(c, &row, codes), GRAFT_ERANGE, "float16", "f16 overflow");
    c0[3] = 4;
    row.key = "";
    EXPECT_ERR(graft_cache_append(c, &row, codes), GRAFT_EINVAL, NULL, "empty key");
    row.key = "x";
    const float *half_codes[2] = {c0, NULL};
    EXPECT_ERR(graft_cache_append(c, &row, half_codes), GRAFT_EINVAL, "NULL code", "NULL code");
    row.split = (graft_split)9;
    EXPECT_ERR(graft_cache_append(c, &row, codes), GRAFT_EINVAL, "split", "bad split");
    row.split = GRAFT_SPLIT_VAL;
    EXPECT(graft_cache_pending(c) == 0, "failed appends added rows");
    OK(graft_cache_append(c, &row, codes));
    /* Discarding a sealed segment forgets its rows. */
    OK(graft_cache_seal(c, &seg));
    EXPECT(graft_cache_contains(c, "x", row.sha256) == 1, "sealed row");
    graft_cache_discard(c, seg);
    seg = NULL;
    EXPECT(graft_cache_contains(c, "x", row.sha256) == 0, "discarded row still contained");
    EXPECT_ERR(graft_cache_write(c, NULL), GRAFT_EINVAL, NULL, "write NULL");
    OK(append_sample(c, 1, 0, key, sizeof key));
    OK(commit(c));
    EXPECT(file_exists(dir, "segments/000002.index.tsv") &&
               !file_exists(dir, "segments/000001.index.tsv"),
           "a discarded segment's number was reused");
out:
    graft_cache_discard(c, seg);
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

/* ---- scale ----------------------------------------------------------------------------------- */

static int check_keyset_scale(char *msg, size_t msglen) {
    int status = GRAFT_CHECK_PASS;
    const size_t N = 1000000;
    graft__keyset ks = {0};
    char *keys = malloc(N * 16);
    EXPECT(keys, "out of memory");
    for (size_t i = 0; i < N; i++) snprintf(keys + i * 16, 16, "key/%zu", i * 7919);
    for (size_t i = 0; i < N; i++) {
        int created;
        graft__keyent *e = graft__keyset_insert(&ks, keys + i * 16, &created);
        EXPECT(e && created, "insert %zu", i);
        e->aux = i;
    }
    EXPECT(ks.live == N, "%zu live", ks.live);
    for (size_t i = 0; i < N; i += 3) graft__keyset_remove(&ks, keys + i * 16);
    for (size_t i = 0; i < N; i++) {
        graft__keyent *e = graft__keyset_find(&ks, keys + i * 16);
        EXPECT(i % 3 ? e && e->aux == i : !e, "find %zu after removals", i);
    }
    EXPECT(!graft__keyset_find(&ks, "key/1"), "found a key never inserted");
    /* Churn as the pending table sees it: many inserts and removals, few live. */
    for (size_t i = 0; i < N; i += 3) {
        EXPECT(graft__keyset_insert(&ks, keys + i * 16, NULL), "reinsert");
        graft__keyset_remove(&ks, keys + i * 16);
    }
    EXPECT(ks.live == N - (N + 2) / 3 && ks.ent_count < 2 * N, "after churn: %zu live, %zu entries",
           ks.live, ks.ent_count);
out:
    graft__keyset_free(&ks);
    free(keys);
    return status;
}

/* A thousand segments written directly (no fsync), then one view over them. */
static int check_many_segments(char *msg, size_t msglen) {
    char dir[512] = "";
    int status = GRAFT_CHECK_PASS;
    graft_cache *c = NULL;
    graft_cache_view *v = NULL;
    const unsigned segs = 1000, rows = 50;
    char *index = malloc(rows * 128 + 64);
    float *x = malloc(rows * 4 * sizeof *x);
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    graft_cache_config cfg = test_config(GRAFT_CACHE_DTYPE_F32);
    static const graft_cache_tap one[1] = {{"f", 1, {4}}};
    cfg.tap_count = 1;
    cfg.taps = one;
    OK(graft_cache_open(dir, &cfg, &c));
    graft_cache_close(c);
    c = NULL;
    EXPECT(index && x, "out of memory");
    for (unsigned s = 1; s <= segs; s++) {
        size_t n = (size_t)sprintf(index, "%s", GRAFT__CACHE_INDEX_HEADER);
        for (unsigned r = 0; r < rows; r++) {
            /* Every tenth segment re-extracts 5 keys of the one before. */
            const unsigned id = s % 10 == 0 && r < 5 ? (s - 1) * rows + r : s * rows + r;
            uint8_t sha[32];
            char hex[65];
            fake_sha(sha, id);
            graft__cache_hex_format(sha, hex);
            n += (size_t)sprintf(index + n, "id%u\tc%u\ttrain\tshard\t%s\tm\n", id, id % 10, hex);
            for (int d = 0; d < 4; d++) x[r * 4 + d] = (float)s * 1000 + (float)r + (float)d / 8;
        }
        char name[64], p[700];
        const size_t shape[2] = {rows, 4};
        snprintf(name, sizeof name, "segments/%06u.tap0.npy", s);
        snprintf(p, sizeof p, "%s/%s", dir, name);
        OK(graft_npy_write(p, GRAFT_NPY_DTYPE_F32, 2, shape, x));
        snprintf(name, sizeof name, "segments/%06u.index.tsv", s);
        EXPECT(write_text(dir, name, index, n) == 0, "write %s", name);
    }
    OK(graft_cache_view_open(dir, &v));
    const size_t want = (size_t)segs * rows - (segs / 10) * 5;
    EXPECT(graft_cache_view_segments(v) == segs && graft_cache_view_rows(v) == want &&
               graft__cache_view_superseded(v) == (segs / 10) * 5 &&
               graft_cache_view_class_count(v) == 10,
           "%zu segments, %zu rows (want %zu), %d classes", graft_cache_view_segments(v),
           graft_cache_view_rows(v), want, graft_cache_view_class_count(v));
    /* All codes in one call, runs across segment boundaries. */
    float *all = malloc(want * 4 * sizeof *all);
    EXPECT(all, "out of memory");
    if (graft_cache_view_codes(v, 0, 0, want, all)) {
        free(all);
        EXPECT(0, "codes: %s", graft_last_error());
    }
    int bad = 0;
    for (size_t r = 0; r < want && !bad; r++) {
        graft_cache_row_info ri;
        graft_cache_view_row(v, r, &ri);
        graft__cache_seg_info si;
        graft__cache_view_segment(v, ri.segment, &si);
        const float w = (float)si.number * 1000 + (float)ri.segment_row;
        bad = all[r * 4] != w || all[r * 4 + 3] != w + 0.375f;
    }
    free(all);
    EXPECT(!bad, "codes of the many-segment view differ");
    graft_cache_view_close(v);
    v = NULL;
    /* A writer opening it loads every key. */
    OK(graft_cache_open(dir, &cfg, &c));
    EXPECT(graft_cache_committed_rows(c) == want, "writer sees %zu rows",
           graft_cache_committed_rows(c));
out:
    free(index);
    free(x);
    graft_cache_view_close(v);
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

/* ---- npy dtypes ------------------------------------------------------------------------------ */

static int check_npy_dtypes(char *msg, size_t msglen) {
    char dir[512] = "", path[600];
    int status = GRAFT_CHECK_PASS;
    graft_npy a = {0};
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/a.npy", dir);
    const int32_t i32[6] = {0, -1, INT32_MAX, INT32_MIN, 7, 42};
    const int64_t i64[6] = {0, -1, INT64_MAX, INT64_MIN, 1ll << 40, -5};
    const uint16_t f16[6] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000};
    const struct {
        graft_npy_dtype dtype;
        const void *data;
        size_t elem;
        const char *descr;
    } cases[3] = {{GRAFT_NPY_DTYPE_I32, i32, 4, "'<i4'"},
                  {GRAFT_NPY_DTYPE_I64, i64, 8, "'<i8'"},
                  {GRAFT_NPY_DTYPE_F16, f16, 2, "'<f2'"}};
    const size_t shape[2] = {2, 3};
    for (int k = 0; k < 3; k++) {
        EXPECT(graft_npy_dtype_size(cases[k].dtype) == cases[k].elem, "dtype size %d", k);
        OK(graft_npy_write(path, cases[k].dtype, 2, shape, cases[k].data));
        OK(graft_npy_read(path, &a));
        EXPECT(a.dtype == cases[k].dtype && a.rank == 2 && a.count == 6 &&
                   !memcmp(a.data, cases[k].data, 6 * cases[k].elem),
               "%s round trip", cases[k].descr);
        graft_npy_free(&a);
        size_t len;
        char *t = read_text(dir, "a.npy", &len);
        EXPECT(t && memmem(t, len, cases[k].descr, 5) && (len - 6 * cases[k].elem) % 64 == 0,
               "%s header", cases[k].descr);
        /* The header alone: where the data starts and how long it is. */
        graft_npy_header h;
        int e = graft_npy_header_parse(t, 128, &h);
        int ok = !e && h.dtype == cases[k].dtype && h.data_offset == len - 6 * cases[k].elem &&
                 h.data_bytes == 6 * cases[k].elem && h.shape[1] == 3 && !h.swapped;
        /* Big-endian: the same values, swapped by the reader. */
        char *be = memmem(t, len, cases[k].descr, 5);
        be[1] = '>';
        for (size_t i = 0; i < 6; i++) {
            char *el = t + h.data_offset + i * cases[k].elem;
            for (size_t x = 0, y = cases[k].elem - 1; x < y; x++, y--) {
                char tmp = el[x];
                el[x] = el[y], el[y] = tmp;
            }
        }
        e = e ? e : graft_npy_parse(t, len, &a);
        ok = ok && !e && !memcmp(a.data, cases[k].data, 6 * cases[k].elem);
        graft_npy_free(&a);
        EXPECT_ERR(graft_npy_header_parse(t, 40, &h), GRAFT_ECORRUPT, "truncated", "short header");
        free(t);
        EXPECT(ok, "%s: header parse or big-endian read", cases[k].descr);
    }
    char hdr[GRAFT_NPY_HEADER_MAX];
    size_t hlen;
    const size_t big[8] = {SIZE_MAX / 2, 1, 1, 1, 1, 1, 1, 1};
    EXPECT_ERR(graft_npy_header_format(hdr, sizeof hdr, GRAFT_NPY_DTYPE_I64, 8, big, &hlen),
               GRAFT_ERANGE, NULL, "overflowing shape");
    EXPECT_ERR(graft_npy_header_format(hdr, 64, GRAFT_NPY_DTYPE_F16, 2, shape, &hlen),
               GRAFT_EINVAL, NULL, "small buffer");
    OK(graft_npy_header_format(hdr, sizeof hdr, GRAFT_NPY_DTYPE_F16, 0, NULL, &hlen));
    EXPECT(hlen % 64 == 0 && hdr[hlen - 1] == '\n', "scalar header: %zu bytes", hlen);
out:
    graft_npy_free(&a);
    rm_rf(dir);
    return status;
}

/* ---- the CLI --------------------------------------------------------------------------------- */

/* BUILD/graft, found from this runner at BUILD/tests/run_tests (or $GRAFT_BIN). */
static int graft_bin(char *out, size_t cap) {
    const char *env = getenv("GRAFT_BIN");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, X_OK);
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(self, '/');
        if (!slash) return -1;
        *slash = '\0';
    }
    snprintf(out, cap, "%s/graft", self);
    return access(out, X_OK);
}

/* Runs a command, its stdout into *out (malloc'd); returns the exit status. */
static int run_capture(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_capture(char **out, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    *out = NULL;
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *t = realloc(buf, cap * 2);
            if (!t) break;
            buf = t;
            cap *= 2;
        }
    }
    if (buf) buf[len] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int check_cli(char *msg, size_t msglen) {
    char bin[PATH_MAX + 16], dir[512] = "", sub[600], key[64];
    if (graft_bin(bin, sizeof bin))
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP, "%s not found (build it, or set "
                               "GRAFT_BIN)", bin);
    int status = GRAFT_CHECK_PASS, rc;
    char *out = NULL;
    graft_cache *c = NULL;
    graft_cache_view *v = NULL;
    graft_npy X = {0}, y = {0};
    EXPECT(make_tmpdir(dir, sizeof dir) == 0, "mkdtemp: %s", strerror(errno));
    snprintf(sub, sizeof sub, "%s/cache", dir);
    const graft_cache_config cfg = test_config(GRAFT_CACHE_DTYPE_F32);
    OK(graft_cache_open(sub, &cfg, &c));
    for (unsigned i = 0; i < 12; i++) OK(append_sample(c, i, 0, key, sizeof key));
    OK(commit(c));
    for (unsigned i = 12; i < 20; i++) OK(append_sample(c, i, 0, key, sizeof key));
    OK(append_sample(c, 2, 1, key, sizeof key)); /* supersedes sample 2 */
    OK(commit(c));
    uint8_t sha[32];
    fake_sha(sha, 5);
    OK(graft_cache_reject(c, "s.tar", "a.jpg", "bad-a", sha, "truncated JPEG"));
    OK(graft_cache_reject(c, "s.tar", "b.jpg", "bad-b", NULL, "truncated JPEG"));
    OK(graft_cache_reject(c, "s.tar", "c.jpg", "bad-c", NULL, "no image member"));
    graft_cache_close(c);
    c = NULL;
    OK(graft_cache_view_open(sub, &v));
    const size_t N = graft_cache_view_rows(v);
    EXPECT(N == 20, "view rows %zu", N);

    rc = run_capture(&out, "%s cache ls %s", bin, sub);
    EXPECT(rc == 0 && strstr(out, "000001") && strstr(out, "12 (11 live)") &&
               strstr(out, "000002") && strstr(out, "float32") && strstr(out, "k000000..k000011"),
           "ls (%d):\n%s", rc, out ? out : "");
    free(out);
    rc = run_capture(&out, "%s cache stat %s", bin, sub);
    EXPECT(rc == 0 && strstr(out, "rows        20 (and 1 superseded") &&
               strstr(out, cfg.model_sha256) && strstr(out, "pool/out (2, 1, 3)") &&
               strstr(out, "rejects     3") && strstr(out, "     2    truncated JPEG") &&
               strstr(out, "  train     5"),
           "stat (%d):\n%s", rc, out ? out : "");
    free(out);
    rc = run_capture(&out, "%s cache stat --json %s", bin, sub);
    EXPECT(rc == 0 && strstr(out, "\"rows\": 20") && strstr(out, "\"superseded\": 1") &&
               strstr(out, "\"ants\": ") &&
               strstr(out, "{\"count\": 3, \"top_reasons\": "
                           "[{\"reason\": \"truncated JPEG\", \"count\": 2}"),
           "stat --json (%d):\n%s", rc, out ? out : "");
    {
        /* Valid JSON for Python. */
        char cmd[1024], *jout = NULL;
        snprintf(cmd, sizeof cmd, "%s -c 'import json,sys; d=json.load(sys.stdin); "
                 "print(d[\"rows\"], d[\"splits\"][\"train\"], d[\"taps\"][1][\"shape\"])'",
                 python_bin());
        if (system("test -x /usr/bin/python3") == 0 || getenv("GRAFT_PYTHON")) {
            int prc = run_capture(&jout, "%s cache stat --json %s | %s", bin, sub, cmd);
            int ok = prc == 0 && jout && !strcmp(jout, "20 5 [2, 1, 3]\n");
            char copy[300];
            snprintf(copy, sizeof copy, "%s", jout ? jout : "");
            free(jout);
            EXPECT(ok, "stat --json is not valid JSON (%d): %s", prc, copy);
        }
    }
    free(out);
    rc = run_capture(&out, "%s cache verify %s", bin, sub);
    EXPECT(rc == 0 && strstr(out, ": OK: 2 segments, 20 rows (1 superseded)"), "verify (%d):\n%s",
           rc, out ? out : "");
    free(out);
    out = NULL;

    /* npy export: X, y, keys, classes parsed back against the view. */
    char edir[700], path[800];
    snprintf(edir, sizeof edir, "%s/exp", dir);
    rc = run_capture(&out, "%s cache export %s --format npy --tap pool/out -o %s 2>&1", bin, sub,
                     edir);
    EXPECT(rc == 0, "export npy (%d): %s", rc, out ? out : "");
    free(out);
    out = NULL;
    snprintf(path, sizeof path, "%s/X.npy", edir);
    OK(graft_npy_read(path, &X));
    snprintf(path, sizeof path, "%s/y.npy", edir);
    OK(graft_npy_read(path, &y));
    EXPECT(X.dtype == GRAFT_NPY_DTYPE_F32 && X.rank == 2 && X.shape[0] == N &&
               X.shape[1] == TAP1_DIM && y.dtype == GRAFT_NPY_DTYPE_I64 && y.rank == 1 &&
               y.shape[0] == N,
           "export npy shapes");
    {
        float *want = malloc(N * TAP1_DIM * sizeof *want);
        EXPECT(want, "out of memory");
        graft_cache_view_codes(v, 1, 0, N, want);
        int same = !memcmp(want, X.data, N * TAP1_DIM * sizeof *want);
        free(want);
        EXPECT(same, "X.npy differs from the view");
        for (size_t r = 0; r < N; r++) {
            graft_cache_row_info ri;
            graft_cache_view_row(v, r, &ri);
            EXPECT(((int64_t *)y.data)[r] == ri.label, "y[%zu] = %lld, label %d", r,
                   (long long)((int64_t *)y.data)[r], ri.label);
        }
        char *keys = read_text(edir, "keys.txt", NULL),
             *classes = read_text(edir, "classes.txt", NULL);
        int ok = keys && classes && !strncmp(keys, "k000000\nk000001\nk000003\n"
                                                   "train/we\\\\ird\\tkey\\n4\nk000005\n", 54) &&
                 !strcmp(classes, "ants\nbees\nwasps\\tand\\\\hornets\n");
        char got[200];
        snprintf(got, sizeof got, "%.60s | %.60s", keys ? keys : "(none)",
                 classes ? classes : "(none)");
        free(keys);
        free(classes);
        EXPECT(ok, "keys.txt or classes.txt: %s", got);
    }
    /* libsvm, val split only: "label idx:val", 1-based, zeros left out. */
    rc = run_capture(&out, "%s cache export %s --format libsvm --split val", bin, sub);
    EXPECT(rc == 0 && out, "export libsvm (%d)", rc);
    {
        size_t line_no = 0, r = 0;
        char *save = NULL;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            graft_cache_row_info ri;
            while (r < N && (graft_cache_view_row(v, r, &ri), ri.split != GRAFT_SPLIT_VAL)) r++;
            EXPECT(r < N, "libsvm: more lines than val rows");
            float x[TAP0_DIM], got[TAP0_DIM] = {0};
            graft_cache_view_codes(v, 0, r, 1, x);
            char *s = line, *end;
            long label = strtol(s, &end, 10);
            EXPECT(end != s && label == ri.label, "libsvm line %zu: label %ld, want %d", line_no,
                   label, ri.label);
            for (s = end; *s == ' ';) {
                long idx = strtol(s + 1, &end, 10);
                EXPECT(*end == ':' && idx >= 1 && idx <= TAP0_DIM, "libsvm line %zu: '%s'", line_no,
                       s);
                got[idx - 1] = strtof(end + 1, &s);
            }
            EXPECT(!memcmp(got, x, sizeof x) && !strstr(line, " 3:"), "libsvm line %zu values: %s",
                   line_no, line);
            line_no++;
            r++;
        }
        EXPECT(line_no == 5, "libsvm: %zu val lines", line_no);
    }
    free(out);
    /* csv to a file, every row: header, quoted fields, values. */
    snprintf(path, sizeof path, "%s/all.csv", dir);
    rc = run_capture(&out, "%s cache export %s --format csv -o %s", bin, sub, path);
    EXPECT(rc == 0, "export csv (%d)", rc);
    free(out);
    out = read_text(dir, "all.csv", NULL);
    EXPECT(out && !strncmp(out, "key,label,split,f0,f1,f2,f3,f4\nk000000,bees,none,", 49),
           "csv header: %.80s", out ? out : "");
    EXPECT(strstr(out, "\n\"train/we\\ird\tkey\n19\",,test,") &&
               strstr(out, "\nk000006,wasps\tand\\hornets,val,"),
           "csv quoting:\n%.600s", out);
    {
        size_t rows = 0;
        for (char *p = strstr(out, "\nk"); p; p = strstr(p + 1, "\nk")) {
            char k[16];
            float vals[TAP0_DIM];
            if (sscanf(p + 1, "%15[^,]", k) != 1) continue;
            char *f = p + 1;
            for (int comma = 0; comma < 3; comma++) f = strchr(f, ',') + 1;
            for (int d = 0; d < TAP0_DIM; d++) {
                vals[d] = strtof(f, &f);
                f++;
            }
            unsigned i = (unsigned)atoi(k + 1);
            float c0[TAP0_DIM], c1[TAP1_DIM];
            fake_codes(i, i == 2 ? 1 : 0, c0, c1);
            EXPECT(!memcmp(c0, vals, sizeof c0), "csv row %s values", k);
            rows++;
        }
        EXPECT(rows == 16, "csv: %zu plain-key rows", rows);
    }
    free(out);
    out = NULL;

    /* Usage errors, and verify failing on a damaged cache. */
    rc = run_capture(&out, "%s cache export %s --format xml 2>/dev/null", bin, sub);
    EXPECT(rc == 2, "bad format: exit %d", rc);
    free(out);
    rc = run_capture(&out, "%s cache export %s --format csv --tap nope 2>/dev/null", bin, sub);
    EXPECT(rc == 2, "bad tap: exit %d", rc);
    free(out);
    rc = run_capture(&out, "%s cache frobnicate %s 2>/dev/null", bin, sub);
    EXPECT(rc == 2, "unknown subcommand: exit %d", rc);
    free(out);
    rc = run_capture(&out, "%s cache verify --help", bin);
    EXPECT(rc == 0 && strstr(out, "usage: graft cache verify"), "verify --help");
    free(out);
    graft_cache_view_close(v);
    v = NULL;
    EXPECT(corrupt(sub, 12) == 0 && corrupt(sub, 7) == 0, "damaging the cache");
    rc = run_capture(&out, "%s cache verify %s", bin, sub);
    EXPECT(rc == 1 && strstr(out, "problem  segments/000002.tap1.npy") &&
               strstr(out, "problem found"),
           "verify of a damaged cache (%d):\n%s", rc, out ? out : "");
    free(out);
    rc = run_capture(&out, "%s cache ls %s 2>&1", bin, sub);
    EXPECT(rc == 1 && strstr(out, "000002.tap1.npy"), "ls of a damaged cache (%d): %s", rc,
           out ? out : "");
out:
    free(out);
    graft_npy_free(&X);
    graft_npy_free(&y);
    graft_cache_view_close(v);
    graft_cache_close(c);
    rm_rf(dir);
    return status;
}

const graft_check graft_checks_cache[] = {
    {"cache", "half_conversion", check_half},
    {"cache", "create_reopen", check_create_reopen},
    {"cache", "resume_rejects", check_resume_rejects},
    {"cache", "supersede", check_supersede},
    {"cache", "mismatch_refused", check_mismatch},
    {"cache", "interrupted_commit", check_interrupted},
    {"cache", "threaded_write", check_threaded_write},
    {"cache", "numpy_mmap", check_numpy},
    {"cache", "disk_full", check_disk_full},
    {"cache", "corrupt_files", check_corrupt},
    {"cache", "append_errors", check_append_errors},
    {"cache", "keyset_scale", check_keyset_scale},
    {"cache", "many_segments", check_many_segments},
    {"cache", "npy_dtypes", check_npy_dtypes},
    {"cache", "cli", check_cli},
    {NULL, NULL, NULL},
};
