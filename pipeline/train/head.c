/*
 * pipeline/train/head.c: the trained head: its file format (see include/graft/learn.h for
 * the layout), the scaler it carries and its scores through graft_sgemm.
 *
 * The file is little-endian whatever the host, reals stored bit for bit, and closed by a
 * CRC-32 of everything before it. Reading trusts nothing: each count is checked against
 * limits and against the bytes actually there before anything is allocated, so a truncated,
 * corrupted or future-version file is refused with the field named, never crashes.
 *
 * It does not train (learn.c) or evaluate (eval.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graft/kernels.h"
#include "kernels.h"
#include "train.h"

#define HEAD_MAX_K (1 << 20)
#define HEAD_MAX_D ((size_t)1 << 28)
#define HEAD_MAX_NAME 4096
#define HEAD_MAX_META ((size_t)1 << 20)
#define HEAD_FIXED_BYTES 32
#define PREDICT_ROWS 1024

/* ---- CRC-32 (reflected, polynomial 0xEDB88320), as zlib ---------------------------------- */

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int j = 0; j < 8; j++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t graft__crc32(const void *buf, size_t len) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init);
    const uint8_t *p = buf;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* ---- the struct -------------------------------------------------------------------------- */

void graft_head_destroy(graft_head *h) {
    if (!h) return;
    if (h->class_names)
        for (int k = 0; k < h->K; k++) free(h->class_names[k]);
    free(h->class_names);
    free(h->mean);
    free(h->inv_std);
    free(h->W);
    free(h->b);
    free(h->meta);
    free(h);
}

static const char *name_problem(const char *name) {
    if (!name) return "is NULL";
    size_t len = strlen(name);
    if (len == 0) return "is empty";
    if (len > HEAD_MAX_NAME) return "is longer than 4096 bytes";
    if (strchr(name, '\n') || strchr(name, '\r')) return "holds a newline";
    return NULL;
}

/* Allocates a head for (D, K) with every array, names unset. */
static graft_head *head_alloc(graft_loss loss, int scale, size_t D, int K) {
    graft_head *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->loss = loss;
    h->scale = scale;
    h->D = D;
    h->K = K;
    h->class_names = calloc((size_t)K, sizeof *h->class_names);
    h->W = calloc((size_t)K * D, sizeof *h->W);
    h->b = calloc((size_t)K, sizeof *h->b);
    h->meta = calloc(1, 1);
    int ok = h->class_names && h->W && h->b && h->meta;
    if (scale & GRAFT_SCALE_STANDARDIZE) {
        h->mean = calloc(D, sizeof *h->mean);
        h->inv_std = malloc(D * sizeof *h->inv_std);
        ok = ok && h->mean && h->inv_std;
        if (h->inv_std)
            for (size_t d = 0; d < D; d++) h->inv_std[d] = 1.0f;
    }
    if (!ok) {
        graft_head_destroy(h);
        return NULL;
    }
    return h;
}

int graft_head_create(graft_loss loss, int scale, size_t D, int K,
                      const char *const *class_names, graft_head **out) {
    if (!out || !class_names) return graft__fail(GRAFT_EINVAL, "head: NULL argument");
    if ((unsigned)loss >= GRAFT_LOSS_COUNT)
        return graft__fail(GRAFT_EINVAL, "head: unknown loss %d", (int)loss);
    if (scale & ~GRAFT_SCALE_ALL)
        return graft__fail(GRAFT_EINVAL, "head: unknown scale flags 0x%x", scale);
    if (D < 1 || D > HEAD_MAX_D)
        return graft__fail(GRAFT_EINVAL, "head: D = %zu is outside 1..%zu", D, HEAD_MAX_D);
    if (K < 1 || K > HEAD_MAX_K)
        return graft__fail(GRAFT_EINVAL, "head: K = %d is outside 1..%d", K, HEAD_MAX_K);
    for (int k = 0; k < K; k++) {
        const char *why = name_problem(class_names[k]);
        if (why) return graft__fail(GRAFT_EINVAL, "head: the name of class %d %s", k, why);
    }
    graft_head *h = head_alloc(loss, scale, D, K);
    if (!h) return graft__fail(GRAFT_ENOMEM, "head: out of memory for %d x %zu weights", K, D);
    for (int k = 0; k < K; k++) {
        h->class_names[k] = strdup(class_names[k]);
        if (!h->class_names[k]) {
            graft_head_destroy(h);
            return graft__fail(GRAFT_ENOMEM, "head: out of memory");
        }
    }
    *out = h;
    return GRAFT_OK;
}

int graft_head_clone(const graft_head *h, graft_head **out) {
    if (!h || !out) return graft__fail(GRAFT_EINVAL, "head clone: NULL argument");
    graft_head *c;
    int err = graft_head_create(h->loss, h->scale, h->D, h->K,
                                (const char *const *)h->class_names, &c);
    if (err) return err;
    memcpy(c->W, h->W, (size_t)h->K * h->D * sizeof *c->W);
    memcpy(c->b, h->b, (size_t)h->K * sizeof *c->b);
    if (h->mean) {
        memcpy(c->mean, h->mean, h->D * sizeof *c->mean);
        memcpy(c->inv_std, h->inv_std, h->D * sizeof *c->inv_std);
    }
    if ((err = graft_head_set_meta(c, h->meta))) {
        graft_head_destroy(c);
        return err;
    }
    *out = c;
    return GRAFT_OK;
}

int graft_head_set_meta(graft_head *h, const char *text) {
    if (!h) return graft__fail(GRAFT_EINVAL, "head: NULL argument");
    if (!text) text = "";
    size_t len = strlen(text);
    if (len > HEAD_MAX_META)
        return graft__fail(GRAFT_EINVAL, "head: meta text of %zu bytes exceeds 1 MiB", len);
    char *copy = strdup(text);
    if (!copy) return graft__fail(GRAFT_ENOMEM, "head: out of memory");
    free(h->meta);
    h->meta = copy;
    return GRAFT_OK;
}

/* ---- encoding ---------------------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_reals(uint8_t *p, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        put_u32(p + 4 * i, bits);
    }
}

/* Reads n reals; returns the index of the first non-finite one, or n. */
static size_t get_reals(const uint8_t *p, float *x, size_t n) {
    size_t bad = n;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = get_u32(p + 4 * i);
        memcpy(&x[i], &bits, 4);
        if (bad == n && !isfinite(x[i])) bad = i;
    }
    return bad;
}

static size_t first_nonfinite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}

int graft_head_encode(const graft_head *h, void **buf, size_t *len) {
    if (!h || !buf || !len) return graft__fail(GRAFT_EINVAL, "head encode: NULL argument");
    if ((unsigned)h->loss >= GRAFT_LOSS_COUNT || (h->scale & ~GRAFT_SCALE_ALL) || h->D < 1 ||
        h->D > HEAD_MAX_D || h->K < 1 || h->K > HEAD_MAX_K)
        return graft__fail(GRAFT_EINVAL, "head encode: malformed head (loss %d, scale 0x%x, "
                           "D %zu, K %d)", (int)h->loss, h->scale, h->D, h->K);
    int std = (h->scale & GRAFT_SCALE_STANDARDIZE) != 0;
    if (std && (!h->mean || !h->inv_std))
        return graft__fail(GRAFT_EINVAL, "head encode: STANDARDIZE without mean and inv_std");
    size_t KD = (size_t)h->K * h->D, bad;
    if ((bad = first_nonfinite(h->W, KD)) < KD)
        return graft__fail(GRAFT_EINVAL, "head encode: W[%zu][%zu] is not finite",
                           bad / h->D, bad % h->D);
    if ((bad = first_nonfinite(h->b, (size_t)h->K)) < (size_t)h->K)
        return graft__fail(GRAFT_EINVAL, "head encode: b[%zu] is not finite", bad);
    if (std && ((bad = first_nonfinite(h->mean, h->D)) < h->D ||
                (bad = first_nonfinite(h->inv_std, h->D)) < h->D))
        return graft__fail(GRAFT_EINVAL, "head encode: scaler entry %zu is not finite", bad);
    const char *meta = h->meta ? h->meta : "";
    size_t meta_len = strlen(meta);
    if (meta_len > HEAD_MAX_META)
        return graft__fail(GRAFT_EINVAL, "head encode: meta text exceeds 1 MiB");
    size_t total = HEAD_FIXED_BYTES;
    for (int k = 0; k < h->K; k++) {
        const char *why = name_problem(h->class_names ? h->class_names[k] : NULL);
        if (why) return graft__fail(GRAFT_EINVAL, "head encode: the name of class %d %s", k, why);
        total += 4 + strlen(h->class_names[k]);
    }
    total += meta_len + (std ? 8 * h->D : 0) + 4 * (KD + (size_t)h->K) + 4;
    uint8_t *p = malloc(total);
    if (!p) return graft__fail(GRAFT_ENOMEM, "head encode: out of memory for %zu bytes", total);
    memcpy(p, GRAFT_HEAD_MAGIC, 8);
    put_u32(p + 8, GRAFT_HEAD_VERSION);
    put_u32(p + 12, (uint32_t)h->loss);
    put_u32(p + 16, (uint32_t)h->scale);
    put_u32(p + 20, (uint32_t)h->D);
    put_u32(p + 24, (uint32_t)h->K);
    put_u32(p + 28, (uint32_t)meta_len);
    size_t at = HEAD_FIXED_BYTES;
    for (int k = 0; k < h->K; k++) {
        size_t l = strlen(h->class_names[k]);
        put_u32(p + at, (uint32_t)l);
        memcpy(p + at + 4, h->class_names[k], l);
        at += 4 + l;
    }
    memcpy(p + at, meta, meta_len);
    at += meta_len;
    if (std) {
        put_reals(p + at, h->mean, h->D);
        put_reals(p + at + 4 * h->D, h->inv_std, h->D);
        at += 8 * h->D;
    }
    put_reals(p + at, h->W, KD);
    at += 4 * KD;
    put_reals(p + at, h->b, (size_t)h->K);
    at += 4 * (size_t)h->K;
    put_u32(p + at, graft__crc32(p, at));
    *buf = p;
    *len = total;
    return GRAFT_OK;
}

int graft__write_file_atomic(const char *path, const void *buf, size_t len, const char *what) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) return graft__fail(GRAFT_ENOMEM, "%s: out of memory", what);
    snprintf(tmp, plen + 32, "%s.tmp%ld", path, (long)getpid());
    int err = GRAFT_OK, e = 0;
    const char *op = "open";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        e = errno;
    } else {
        op = "write";
        for (size_t at = 0; at < len && !e;) {
            ssize_t n = write(fd, (const char *)buf + at, len - at);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) e = n < 0 ? errno : EIO;
            else at += (size_t)n;
        }
        if (!e && fsync(fd) != 0) e = errno, op = "fsync";
        if (close(fd) != 0 && !e) e = errno, op = "close";
    }
    if (!e && rename(tmp, path) != 0) e = errno, op = "rename";
    if (e) {
        int code = e == ENOSPC || e == EDQUOT || e == EFBIG ? GRAFT_ENOSPC : GRAFT_EIO;
        err = graft__fail(code, "%s: %s %s: %s", what, op, strcmp(op, "rename") ? tmp : path,
                          strerror(e));
        if (fd >= 0) unlink(tmp);
        free(tmp);
        return err;
    }
    free(tmp);
    /* The rename is durable once the directory is: without this a crash may bring the old
       file back (or none), even though the new one's bytes reached the disk. */
    char *dir = strdup(path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
        int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return GRAFT_OK;
}

int graft_head_save(const graft_head *h, const char *path) {
    if (!path) return graft__fail(GRAFT_EINVAL, "head save: NULL path");
    void *buf;
    size_t len;
    int err = graft_head_encode(h, &buf, &len);
    if (err) return err;
    err = graft__write_file_atomic(path, buf, len, "head save");
    free(buf);
    return err;
}

/* ---- decoding ---------------------------------------------------------------------------- */

#define CORRUPT(...) graft__fail(GRAFT_ECORRUPT, "head file: " __VA_ARGS__)

int graft_head_decode(const void *buf, size_t len, graft_head **out) {
    if (!buf || !out) return graft__fail(GRAFT_EINVAL, "head decode: NULL argument");
    const uint8_t *p = buf;
    if (len < 8 || memcmp(p, GRAFT_HEAD_MAGIC, 8) != 0)
        return CORRUPT("not a graft head (the magic \"%s\" is missing)", GRAFT_HEAD_MAGIC);
    if (len < 12) return CORRUPT("truncated: %zu bytes, the header alone is %d", len,
                                 HEAD_FIXED_BYTES);
    uint32_t version = get_u32(p + 8);
    if (version != GRAFT_HEAD_VERSION)
        return CORRUPT("version %u is not supported (this graft reads version %d)", version,
                       GRAFT_HEAD_VERSION);
    if (len < HEAD_FIXED_BYTES + 4)
        return CORRUPT("truncated: %zu bytes, the header alone is %d", len,
                       HEAD_FIXED_BYTES + 4);
    /* The checksum first: once it holds, a bad field is a writer's bug, not damage, and the
       messages below can be trusted to describe what was written. */
    uint32_t stored = get_u32(p + len - 4), computed = graft__crc32(p, len - 4);
    uint32_t loss = get_u32(p + 12), scale = get_u32(p + 16), D = get_u32(p + 20);
    uint32_t K = get_u32(p + 24), meta_len = get_u32(p + 28);
    if (loss >= GRAFT_LOSS_COUNT) return CORRUPT("unknown loss %u", loss);
    if (scale & ~(uint32_t)GRAFT_SCALE_ALL) return CORRUPT("unknown scale flags 0x%x", scale);
    if (D < 1 || D > HEAD_MAX_D) return CORRUPT("D = %u is outside 1..%zu", D, HEAD_MAX_D);
    if (K < 1 || K > HEAD_MAX_K) return CORRUPT("K = %u is outside 1..%d", K, HEAD_MAX_K);
    if (meta_len > HEAD_MAX_META) return CORRUPT("meta length %u exceeds 1 MiB", meta_len);
    int std = (scale & GRAFT_SCALE_STANDARDIZE) != 0;
    size_t KD = (size_t)K * D;
    /* The smallest file these counts allow (names of one byte): checked before the names are
       walked, so a huge K in a short file fails here. */
    size_t least = HEAD_FIXED_BYTES + 5 * (size_t)K + meta_len + (std ? 8 * (size_t)D : 0) +
                   4 * (KD + K) + 4;
    if (len < least)
        return CORRUPT("truncated: %zu bytes, the header announces at least %zu", len, least);
    if (stored != computed)
        return CORRUPT("checksum mismatch (stored %08x, computed %08x over %zu bytes)", stored,
                       computed, len - 4);
    graft_head *h = head_alloc((graft_loss)loss, (int)scale, D, (int)K);
    if (!h) return graft__fail(GRAFT_ENOMEM, "head file: out of memory for %u x %u", K, D);
    int err;
    size_t at = HEAD_FIXED_BYTES;
    size_t tail = meta_len + (std ? 8 * (size_t)D : 0) + 4 * (KD + K) + 4;
    for (uint32_t k = 0; k < K; k++) {
        if (len - at < 4 + tail) {
            err = CORRUPT("truncated in the name of class %u", k);
            goto fail;
        }
        uint32_t l = get_u32(p + at);
        if (l < 1 || l > HEAD_MAX_NAME) {
            err = CORRUPT("the name of class %u has length %u (1..%d)", k, l, HEAD_MAX_NAME);
            goto fail;
        }
        if (len - at - 4 < l + tail) {
            err = CORRUPT("truncated in the name of class %u", k);
            goto fail;
        }
        if (memchr(p + at + 4, 0, l) || memchr(p + at + 4, '\n', l) ||
            memchr(p + at + 4, '\r', l)) {
            err = CORRUPT("the name of class %u holds a NUL or newline", k);
            goto fail;
        }
        h->class_names[k] = strndup((const char *)p + at + 4, l);
        if (!h->class_names[k]) {
            err = graft__fail(GRAFT_ENOMEM, "head file: out of memory");
            goto fail;
        }
        at += 4 + l;
    }
    if (len - at != tail) {
        err = CORRUPT("%zu bytes where the header announces %zu", len, at + tail);
        goto fail;
    }
    if (memchr(p + at, 0, meta_len)) {
        err = CORRUPT("the meta text holds a NUL byte");
        goto fail;
    }
    free(h->meta);
    h->meta = strndup((const char *)p + at, meta_len);
    if (!h->meta) {
        err = graft__fail(GRAFT_ENOMEM, "head file: out of memory");
        goto fail;
    }
    at += meta_len;
    size_t bad;
    if (std) {
        if ((bad = get_reals(p + at, h->mean, D)) < D) {
            err = CORRUPT("mean[%zu] is not finite", bad);
            goto fail;
        }
        if ((bad = get_reals(p + at + 4 * (size_t)D, h->inv_std, D)) < D) {
            err = CORRUPT("inv_std[%zu] is not finite", bad);
            goto fail;
        }
        at += 8 * (size_t)D;
    }
    if ((bad = get_reals(p + at, h->W, KD)) < KD) {
        err = CORRUPT("W[%zu][%zu] is not finite", bad / D, bad % D);
        goto fail;
    }
    at += 4 * KD;
    if ((bad = get_reals(p + at, h->b, K)) < K) {
        err = CORRUPT("b[%zu] is not finite", bad);
        goto fail;
    }
    *out = h;
    return GRAFT_OK;
fail:
    graft_head_destroy(h);
    return err;
}

int graft_head_load(const char *path, graft_head **out) {
    if (!path || !out) return graft__fail(GRAFT_EINVAL, "head load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return graft__fail(GRAFT_EIO, "head load: %s: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int err = GRAFT_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                err = graft__fail(GRAFT_ENOMEM, "head load: %s: out of memory", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) err = graft__fail(GRAFT_EIO, "head load: %s: read error", path);
            break;
        }
    }
    fclose(f);
    if (!err) {
        err = graft_head_decode(buf, len, out);
        if (err && err != GRAFT_ENOMEM) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", graft_last_error());
            err = graft__fail(err, "%s: %s", path, msg);
        }
    }
    free(buf);
    return err;
}

/* ---- scores ------------------------------------------------------------------------------ */

int graft__head_scores(const graft_head *h, const float *X, size_t n, float *scores,
                       float *Zbuf) {
    graft__scale_rows(h->scale, h->D, X, n, Zbuf);
    graft__standardize(h->mean, h->inv_std, h->D, Zbuf, n);
    /* The learners' own product, so a head scores its training and validation rows with the
       bits the learner saw. */
    return graft__scores(Zbuf, n, h->D, h->W, h->b, h->K, scores);
}

int graft_head_transform(const graft_head *h, const float *X, size_t n, float *Z) {
    if (!h || ((!X || !Z) && n)) return graft__fail(GRAFT_EINVAL, "head transform: NULL");
    graft__scale_rows(h->scale, h->D, X, n, Z);
    graft__standardize(h->mean, h->inv_std, h->D, Z, n);
    return GRAFT_OK;
}

int graft_head_predict(const graft_head *h, const float *X, size_t n, float *scores) {
    if (!h || ((!X || !scores) && n)) return graft__fail(GRAFT_EINVAL, "head predict: NULL");
    if (n == 0) return GRAFT_OK;
    size_t rows = n < PREDICT_ROWS ? n : PREDICT_ROWS;
    float *Z = malloc(rows * h->D * sizeof *Z);
    if (!Z) return graft__fail(GRAFT_ENOMEM, "head predict: out of memory");
    int err = GRAFT_OK;
    for (size_t i = 0; i < n && !err; i += rows) {
        size_t m = n - i < rows ? n - i : rows;
        err = graft__head_scores(h, X + i * h->D, m, scores + i * (size_t)h->K, Z);
    }
    free(Z);
    return err;
}

int graft_head_proba(const graft_head *h, const float *X, size_t n, float *proba) {
    if (h && h->loss != GRAFT_LOSS_SOFTMAX)
        return graft__fail(GRAFT_EINVAL, "head proba: a %s head gives scores, not "
                           "probabilities", graft_loss_name(h->loss));
    int err = graft_head_predict(h, X, n, proba);
    if (err || n == 0) return err;
    return graft_softmax(proba, proba, n, (size_t)h->K, 0);
}
