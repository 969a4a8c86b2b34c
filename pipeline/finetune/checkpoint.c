/*
 * pipeline/finetune/checkpoint.c: the fine-tuning checkpoint file (graft_top_save,
 * graft_top_load in include/graft/finetune.h): everything a run needs to continue bit for bit
 * where it stopped, the parameters, the SGD momentum buffers and the step count, plus the
 * caller's meta text (pipeline/loop/finetune.c keeps the epoch, the best accuracy and the
 * options there).
 *
 * Layout, little-endian whatever the host, reals stored bit for bit:
 *   0    magic "GRFTCKPT" (8 bytes)
 *   8    version (u32, 1)
 *   12   signature bytes S (u32), then S bytes: graft__top_signature() of the saving top
 *        steps (u64)
 *        meta bytes M (u32, <= 64 KiB), then M bytes of text
 *        parameter count P (u32)
 *        P times: numel (u64), numel reals of data, numel reals of momentum, in the order
 *        of graft_top_param_get()
 *        state count S (u32), then S times: numel (u64), numel reals (graft__top_state:
 *        batch norm's running statistics under bn_train)
 *   end - 4  CRC-32 (as zlib's crc32()) of every byte before it
 *
 * Loading trusts nothing: every length is checked against the bytes there before it is
 * used, the checksum before any field is believed, the signature before anything is
 * copied, and the top is written only once every check passed. It does not know what the
 * meta text means, and it does not write the ONNX export (top.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graft/finetune.h"
#include "kernels.h"
#include "top_internal.h"
#include "../train/train.h"

#define CKPT_MAGIC "GRFTCKPT"
#define CKPT_VERSION 2
#define CKPT_MAX_META ((size_t)64 << 10)
#define CKPT_MAX_SIGNATURE ((size_t)16 << 20)

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void put_reals(uint8_t *p, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        put_u32(p + 4 * i, bits);
    }
}

static void get_reals(const uint8_t *p, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = get_u32(p + 4 * i);
        memcpy(&x[i], &bits, 4);
    }
}

int graft_top_save(const graft_top *t, const char *path, const char *meta) {
    if (!t || !path) return graft__fail(GRAFT_EINVAL, "checkpoint save: NULL argument");
    /* The accessors take a mutable top; saving only reads through them. */
    graft_top *mt = (graft_top *)t;
    if (!meta) meta = "";
    size_t meta_len = strlen(meta);
    if (meta_len > CKPT_MAX_META)
        return graft__fail(GRAFT_EINVAL, "checkpoint save: meta text of %zu bytes exceeds 64 KiB",
                           meta_len);
    const char *sig = graft__top_signature(t);
    size_t sig_len = sig ? strlen(sig) : 0;
    int P = graft_top_param_count(t);
    size_t total = 8 + 4 + 4 + sig_len + 8 + 4 + meta_len + 4 + 4;
    for (int i = 0; i < P; i++) total += 8 + 8 * graft_top_param_get(mt, i)->numel;
    int S = graft__top_state_count(t);
    size_t numel;
    total += 4;
    for (int i = 0; i < S; i++) {
        graft__top_state(mt, i, &numel);
        total += 8 + 4 * numel;
    }
    uint8_t *buf = malloc(total);
    if (!buf)
        return graft__fail(GRAFT_ENOMEM, "checkpoint save: out of memory for %zu bytes", total);
    size_t at = 0;
    memcpy(buf, CKPT_MAGIC, 8);
    put_u32(buf + 8, CKPT_VERSION);
    put_u32(buf + 12, (uint32_t)sig_len);
    memcpy(buf + 16, sig, sig_len);
    at = 16 + sig_len;
    put_u64(buf + at, graft__top_steps(t));
    put_u32(buf + at + 8, (uint32_t)meta_len);
    memcpy(buf + at + 12, meta, meta_len);
    at += 12 + meta_len;
    put_u32(buf + at, (uint32_t)P);
    at += 4;
    for (int i = 0; i < P; i++) {
        const graft_top_param *p = graft_top_param_get(mt, i);
        put_u64(buf + at, p->numel);
        put_reals(buf + at + 8, p->data, p->numel);
        put_reals(buf + at + 8 + 4 * p->numel, graft__top_momentum(mt, i), p->numel);
        at += 8 + 8 * p->numel;
    }
    put_u32(buf + at, (uint32_t)S);
    at += 4;
    for (int i = 0; i < S; i++) {
        const float *x = graft__top_state(mt, i, &numel);
        put_u64(buf + at, numel);
        put_reals(buf + at + 8, x, numel);
        at += 8 + 4 * numel;
    }
    put_u32(buf + at, graft__crc32(buf, at));
    int err = graft__write_file_atomic(path, buf, total, "checkpoint save");
    free(buf);
    return err;
}

/* Reads the whole file into a malloc'd buffer. */
static int read_file(const char *path, uint8_t **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return graft__fail(GRAFT_EIO, "checkpoint %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return graft__fail(GRAFT_EIO, "checkpoint %s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return graft__fail(GRAFT_ENOMEM, "checkpoint %s: out of memory for %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int e = ferror(f) ? errno : 0;
    fclose(f);
    if (got != n) {
        free(buf);
        return graft__fail(GRAFT_EIO, "checkpoint %s: read %zu of %zu bytes%s%s", path, got, n,
                           e ? ": " : "", e ? strerror(e) : "");
    }
    *out = buf;
    *len = n;
    return GRAFT_OK;
}

/* The first line where two signatures differ, quoted, for the mismatch message. */
static void first_difference(const char *a, size_t a_len, const char *b, char *msg,
                             size_t cap) {
    size_t b_len = strlen(b), ia = 0, ib = 0;
    for (int line = 1;; line++) {
        size_t ea = ia, eb = ib;
        while (ea < a_len && a[ea] != '\n') ea++;
        while (eb < b_len && b[eb] != '\n') eb++;
        if (ea - ia != eb - ib || memcmp(a + ia, b + ib, ea - ia) != 0 ||
            (ea >= a_len) != (eb >= b_len)) {
            snprintf(msg, cap, "line %d: the checkpoint has \"%.*s\", this top \"%.*s\"", line,
                     (int)(ea - ia < 200 ? ea - ia : 200), a + ia,
                     (int)(eb - ib < 200 ? eb - ib : 200), b + ib);
            return;
        }
        if (ea >= a_len) break;
        ia = ea + 1;
        ib = eb + 1;
    }
    snprintf(msg, cap, "the signatures differ");
}

#define CORRUPT(...) graft__fail(GRAFT_ECORRUPT, __VA_ARGS__)

int graft_top_load(graft_top *t, const char *path, char **meta) {
    if (!t || !path) return graft__fail(GRAFT_EINVAL, "checkpoint load: NULL argument");
    uint8_t *p = NULL;
    size_t len = 0;
    int err = read_file(path, &p, &len);
    if (err) return err;
    const char *sig = graft__top_signature(t);
    if (!sig) sig = "";
    int P = graft_top_param_count(t);
    char *meta_copy = NULL;
    size_t at, sig_len, meta_len, meta_at, params_at, state_at;
    uint64_t steps;

    if (len < 8 || memcmp(p, CKPT_MAGIC, 8) != 0) {
        err = CORRUPT("%s: not a graft checkpoint (the magic \"%s\" is missing)", path,
                      CKPT_MAGIC);
        goto done;
    }
    if (len < 16) {
        err = CORRUPT("%s: truncated: %zu bytes, the header alone is 16", path, len);
        goto done;
    }
    uint32_t version = get_u32(p + 8);
    if (version != CKPT_VERSION) {
        err = CORRUPT("%s: version %u is not supported (this graft reads version %d)", path,
                      version, CKPT_VERSION);
        goto done;
    }
    /* The structure first, so that a cut file says "truncated" rather than "checksum". */
    sig_len = get_u32(p + 12);
    at = 16;
    if (sig_len > CKPT_MAX_SIGNATURE || len - at < sig_len + 12) {
        err = CORRUPT("%s: truncated or damaged: a signature of %zu bytes in a file of %zu",
                      path, sig_len, len);
        goto done;
    }
    at += sig_len;
    steps = get_u64(p + at);
    meta_len = get_u32(p + at + 8);
    meta_at = at + 12;
    if (meta_len > CKPT_MAX_META || len - meta_at < meta_len + 4) {
        err = CORRUPT("%s: truncated or damaged: meta text of %zu bytes in a file of %zu", path,
                      meta_len, len);
        goto done;
    }
    at = meta_at + meta_len;
    uint32_t file_P = get_u32(p + at);
    at += 4;
    params_at = at;
    for (uint32_t i = 0; i < file_P; i++) {
        if (len - at < 8) {
            err = CORRUPT("%s: truncated: %zu bytes, parameter %u starts at %zu", path, len, i,
                          at);
            goto done;
        }
        uint64_t numel = get_u64(p + at);
        if (numel > (len - at - 8) / 8) {
            err = CORRUPT("%s: truncated: %zu bytes, parameter %u needs %llu more from %zu",
                          path, len, i, (unsigned long long)(8 * numel), at + 8);
            goto done;
        }
        at += 8 + 8 * (size_t)numel;
    }
    if (len - at < 4) {
        err = CORRUPT("%s: truncated: %zu bytes, the state count is missing", path, len);
        goto done;
    }
    uint32_t file_S = get_u32(p + at);
    at += 4;
    state_at = at;
    for (uint32_t i = 0; i < file_S; i++) {
        uint64_t numel;
        if (len - at < 8 || (numel = get_u64(p + at)) > (len - at - 8) / 4) {
            err = CORRUPT("%s: truncated: %zu bytes, state %u at %zu does not fit", path, len,
                          i, at);
            goto done;
        }
        at += 8 + 4 * (size_t)numel;
    }
    if (len - at < 4) {
        err = CORRUPT("%s: truncated: %zu bytes, the checksum is missing", path, len);
        goto done;
    }
    if (len - at > 4) {
        err = CORRUPT("%s: %zu bytes after the checksum", path, len - at - 4);
        goto done;
    }
    uint32_t stored = get_u32(p + at), computed = graft__crc32(p, at);
    if (stored != computed) {
        err = CORRUPT("%s: checksum mismatch (stored %08x, computed %08x over %zu bytes)", path,
                      stored, computed, at);
        goto done;
    }
    if (sig_len != strlen(sig) || memcmp(p + 16, sig, sig_len) != 0) {
        char why[600];
        first_difference((const char *)p + 16, sig_len, sig, why, sizeof why);
        err = graft__fail(GRAFT_EMISMATCH, "checkpoint %s belongs to another top (model, freeze "
                          "point, features or classes): %s", path, why);
        goto done;
    }
    if ((int)file_P != P) {
        err = graft__fail(GRAFT_EMISMATCH, "checkpoint %s: %u parameters, this top has %d",
                          path, file_P, P);
        goto done;
    }
    at = params_at;
    for (int i = 0; i < P; i++) {
        graft_top_param *q = graft_top_param_get(t, i);
        if (get_u64(p + at) != q->numel) {
            err = graft__fail(GRAFT_EMISMATCH, "checkpoint %s: parameter %s has %llu elements, "
                              "this top's %zu", path, q->name,
                              (unsigned long long)get_u64(p + at), q->numel);
            goto done;
        }
        at += 8 + 8 * q->numel;
    }
    int S = graft__top_state_count(t);
    if ((int)file_S != S) {
        err = graft__fail(GRAFT_EMISMATCH, "checkpoint %s: %u state buffers, this top has %d",
                          path, file_S, S);
        goto done;
    }
    at = state_at;
    for (int i = 0; i < S; i++) {
        size_t numel;
        graft__top_state(t, i, &numel);
        if (get_u64(p + at) != numel) {
            err = graft__fail(GRAFT_EMISMATCH, "checkpoint %s: state %d has %llu elements, "
                              "this top's %zu", path, i, (unsigned long long)get_u64(p + at),
                              numel);
            goto done;
        }
        at += 8 + 4 * numel;
    }
    for (size_t i = 0; i < meta_len; i++)
        if (p[meta_at + i] == '\0') {
            err = CORRUPT("%s: a NUL byte in the meta text", path);
            goto done;
        }
    if (meta) {
        meta_copy = malloc(meta_len + 1);
        if (!meta_copy) {
            err = graft__fail(GRAFT_ENOMEM, "checkpoint %s: out of memory", path);
            goto done;
        }
        memcpy(meta_copy, p + meta_at, meta_len);
        meta_copy[meta_len] = '\0';
    }
    /* Everything checks: only now does the top change. */
    at = params_at;
    for (int i = 0; i < P; i++) {
        graft_top_param *q = graft_top_param_get(t, i);
        get_reals(p + at + 8, q->data, q->numel);
        get_reals(p + at + 8 + 4 * q->numel, graft__top_momentum(t, i), q->numel);
        at += 8 + 8 * q->numel;
    }
    at = state_at;
    for (int i = 0; i < S; i++) {
        size_t numel;
        float *x = graft__top_state(t, i, &numel);
        get_reals(p + at + 8, x, numel);
        at += 8 + 4 * numel;
    }
    graft__top_set_steps(t, steps);
    if (meta) *meta = meta_copy;
    meta_copy = NULL;
done:
    free(meta_copy);
    free(p);
    return err;
}
