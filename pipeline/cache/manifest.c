/*
 * pipeline/cache/manifest.c: manifest.json, the record of what made a cache's codes: written
 * once when the cache is created, read by every writer that appends and every view.
 *
 * A small JSON writer (strings escaped per RFC 8259; bytes >= 0x80 passed through, so UTF-8
 * names stay readable) and a bounded, schema-driven parser: it reads exactly the fields of
 * the manifest, skips unknown keys (a later version may add some) with a nesting limit, and
 * refuses anything malformed with GRAFT_ECORRUPT naming the file and the byte. It is not a
 * general JSON library: no DOM, no floating-point values kept, no \u0000 in strings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"
#include "kernels.h"

#define MANIFEST_FORMAT "graft-cache"
#define MANIFEST_VERSION 1
/* Unknown values nest at most this deep before the parser gives up. */
#define JSON_MAX_DEPTH 32
/* A dimension above this is not a CNN code (and products of four stay far from overflow). */
#define DIM_MAX ((int64_t)1 << 32)

const char *graft__cache_dtype_name(graft_cache_dtype dtype) {
    return dtype == GRAFT_CACHE_DTYPE_F16 ? "float16" : "float32";
}

size_t graft__cache_tap_dim(const graft_cache_tap *tap) {
    size_t d = 1;
    for (int r = 0; r < tap->rank; r++) d *= (size_t)tap->dims[r];
    return d;
}

void graft__cache_shape_format(const graft_cache_tap *tap, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int r = 0; r < tap->rank && n < cap; r++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", r ? ", " : "",
                              (long long)tap->dims[r]);
    if (n < cap) snprintf(buf + n, cap - n, ")");
}

/* ---- the writer ------------------------------------------------------------------------------ */

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_grow(strbuf *b, size_t extra) {
    if (b->oom || b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    sb_grow(b, (size_t)n);
    if (b->oom) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sb_json_string(strbuf *b, const char *s) {
    sb_grow(b, strlen(s) * 6 + 2);
    if (b->oom) return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': *o++ = '\\', *o++ = '"'; break;
        case '\\': *o++ = '\\', *o++ = '\\'; break;
        case '\n': *o++ = '\\', *o++ = 'n'; break;
        case '\r': *o++ = '\\', *o++ = 'r'; break;
        case '\t': *o++ = '\\', *o++ = 't'; break;
        case '\b': *o++ = '\\', *o++ = 'b'; break;
        case '\f': *o++ = '\\', *o++ = 'f'; break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                o += sprintf(o, "\\u%04x", *p);
            else
                *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->p);
}

int graft__cache_config_check(const graft_cache_config *cfg) {
    if (!cfg) return graft__fail(GRAFT_EINVAL, "cache: NULL config");
    uint8_t sha[32];
    if (!cfg->model_sha256 ||
        graft__cache_hex_parse(cfg->model_sha256, strlen(cfg->model_sha256), sha))
        return graft__fail(GRAFT_EINVAL, "cache: model_sha256 is not 64 lowercase hex digits");
    if (cfg->tap_count < 1 || cfg->tap_count > GRAFT_CACHE_MAX_TAPS || !cfg->taps)
        return graft__fail(GRAFT_EINVAL, "cache: %d taps (1 to %d)", cfg->tap_count,
                           GRAFT_CACHE_MAX_TAPS);
    for (int t = 0; t < cfg->tap_count; t++) {
        const graft_cache_tap *tap = &cfg->taps[t];
        if (!tap->name || !tap->name[0])
            return graft__fail(GRAFT_EINVAL, "cache: tap %d has no name", t);
        if (tap->rank < 1 || tap->rank > GRAFT_CACHE_MAX_RANK)
            return graft__fail(GRAFT_EINVAL, "cache: tap %s has rank %d (1 to %d)", tap->name,
                               tap->rank, GRAFT_CACHE_MAX_RANK);
        for (int r = 0; r < tap->rank; r++)
            if (tap->dims[r] < 1 || tap->dims[r] > DIM_MAX)
                return graft__fail(GRAFT_EINVAL, "cache: tap %s has dimension %lld", tap->name,
                                   (long long)tap->dims[r]);
        if (graft__cache_tap_dim(tap) > ((size_t)1 << 31))
            return graft__fail(GRAFT_EINVAL, "cache: tap %s has more than 2^31 values per "
                               "sample", tap->name);
    }
    if (!cfg->preprocess) return graft__fail(GRAFT_EINVAL, "cache: NULL preprocess");
    if (cfg->dtype != GRAFT_CACHE_DTYPE_F32 && cfg->dtype != GRAFT_CACHE_DTYPE_F16)
        return graft__fail(GRAFT_EINVAL, "cache: unknown dtype %d", (int)cfg->dtype);
    return GRAFT_OK;
}

int graft__manifest_format(const graft_cache_config *cfg, const char *created, char **text,
                           size_t *len) {
    int err = graft__cache_config_check(cfg);
    if (err) return err;
    strbuf b = {0};
    sb_printf(&b, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"graft\": ", MANIFEST_FORMAT,
              MANIFEST_VERSION);
    sb_json_string(&b, GRAFT_VERSION_STRING);
    sb_printf(&b, ",\n  \"created\": ");
    sb_json_string(&b, created);
    sb_printf(&b, ",\n  \"model\": {\"path\": ");
    sb_json_string(&b, cfg->model_path ? cfg->model_path : "");
    sb_printf(&b, ", \"sha256\": ");
    sb_json_string(&b, cfg->model_sha256);
    sb_printf(&b, "},\n  \"taps\": [");
    for (int t = 0; t < cfg->tap_count; t++) {
        sb_printf(&b, "%s\n    {\"name\": ", t ? "," : "");
        sb_json_string(&b, cfg->taps[t].name);
        sb_printf(&b, ", \"shape\": [");
        for (int r = 0; r < cfg->taps[t].rank; r++)
            sb_printf(&b, "%s%lld", r ? ", " : "", (long long)cfg->taps[t].dims[r]);
        sb_printf(&b, "]}");
    }
    sb_printf(&b, "\n  ],\n  \"preprocess\": ");
    sb_json_string(&b, cfg->preprocess);
    sb_printf(&b, ",\n  \"dtype\": \"%s\"\n}\n", graft__cache_dtype_name(cfg->dtype));
    if (b.oom) {
        free(b.p);
        return graft__fail(GRAFT_ENOMEM, "cache: out of memory formatting the manifest");
    }
    *text = b.p;
    *len = b.len;
    return GRAFT_OK;
}

/* ---- the parser ------------------------------------------------------------------------------ */

typedef struct jparse {
    const char *start, *p, *end;
    const char *path;
    int err; /* set once: later failures keep the first message */
} jparse;

static int jfail(jparse *j, int code, const char *what) {
    if (!j->err)
        j->err = graft__fail(code, "%s: %s (at byte %zu)", j->path, what,
                             (size_t)(j->p - j->start));
    return j->err;
}

static void jws(jparse *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jpeek(jparse *j, char c) {
    jws(j);
    return j->p < j->end && *j->p == c;
}

static int jexpect(jparse *j, char c, const char *what) {
    if (!jpeek(j, c)) return jfail(j, GRAFT_ECORRUPT, what);
    j->p++;
    return 0;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* A string into a malloc'd UTF-8 buffer (*out), or just skipped when out is NULL. */
static int jstring(jparse *j, char **out) {
    if (jexpect(j, '"', "expected a string")) return j->err;
    /* The decoded string is never longer than its escaped form. */
    const char *q = j->p;
    while (q < j->end && *q != '"') q += *q == '\\' ? 2 : 1;
    if (q >= j->end) return jfail(j, GRAFT_ECORRUPT, "unterminated string");
    char *buf = NULL, *o = NULL;
    if (out) {
        buf = malloc((size_t)(q - j->p) + 1);
        if (!buf) return jfail(j, GRAFT_ENOMEM, "out of memory");
        o = buf;
    }
    while (*j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20) {
            free(buf);
            return jfail(j, GRAFT_ECORRUPT, "control character in a string");
        }
        if (c != '\\') {
            if (o) *o++ = (char)c;
            j->p++;
            continue;
        }
        const char e = j->p[1];
        j->p += 2;
        unsigned cp;
        switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (j->end - j->p < 4 || hex4(j->p, &cp)) {
                free(buf);
                return jfail(j, GRAFT_ECORRUPT, "bad \\u escape");
            }
            j->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                unsigned lo;
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                    hex4(j->p + 2, &lo) || lo < 0xdc00 || lo >= 0xe000) {
                    free(buf);
                    return jfail(j, GRAFT_ECORRUPT, "unpaired UTF-16 surrogate");
                }
                j->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                free(buf);
                return jfail(j, GRAFT_ECORRUPT, "unpaired UTF-16 surrogate");
            }
            if (cp == 0) {
                free(buf);
                return jfail(j, GRAFT_ECORRUPT, "\\u0000 in a string");
            }
            break;
        default:
            free(buf);
            j->p -= 2;
            return jfail(j, GRAFT_ECORRUPT, "bad escape in a string");
        }
        if (!o) continue;
        /* UTF-8: a \u escape is 6 or 12 bytes and encodes into at most 4. */
        if (cp < 0x80) {
            *o++ = (char)cp;
        } else if (cp < 0x800) {
            *o++ = (char)(0xc0 | cp >> 6);
            *o++ = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            *o++ = (char)(0xe0 | cp >> 12);
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
            *o++ = (char)(0x80 | (cp & 0x3f));
        } else {
            *o++ = (char)(0xf0 | cp >> 18);
            *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
            *o++ = (char)(0x80 | (cp & 0x3f));
        }
    }
    j->p++;
    if (out) {
        *o = '\0';
        *out = buf;
    }
    return 0;
}

/* A JSON number; *is_int and *ival when it is a plain integer that fits. */
static int jnumber(jparse *j, int *is_int, int64_t *ival) {
    jws(j);
    int neg = 0, integral = 1, overflow = 0;
    int64_t v = 0;
    if (j->p < j->end && *j->p == '-') neg = 1, j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jfail(j, GRAFT_ECORRUPT, "bad number");
    if (*j->p == '0' && j->end - j->p > 1 && j->p[1] >= '0' && j->p[1] <= '9')
        return jfail(j, GRAFT_ECORRUPT, "bad number (leading zero)");
    for (; j->p < j->end && *j->p >= '0' && *j->p <= '9'; j->p++) {
        if (v > (INT64_MAX - 9) / 10) overflow = 1;
        else v = v * 10 + (*j->p - '0');
    }
    if (j->p < j->end && *j->p == '.') {
        integral = 0;
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return jfail(j, GRAFT_ECORRUPT, "bad number");
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        integral = 0;
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return jfail(j, GRAFT_ECORRUPT, "bad number");
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    if (is_int) *is_int = integral && !overflow;
    if (ival) *ival = neg ? -v : v;
    return 0;
}

static int jword(jparse *j, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return jfail(j, GRAFT_ECORRUPT, "unexpected token");
    j->p += n;
    return 0;
}

static int jskip(jparse *j, int depth) {
    if (depth > JSON_MAX_DEPTH) return jfail(j, GRAFT_ECORRUPT, "nested too deeply");
    jws(j);
    if (j->p >= j->end) return jfail(j, GRAFT_ECORRUPT, "unexpected end");
    switch (*j->p) {
    case '"': return jstring(j, NULL);
    case 't': return jword(j, "true");
    case 'f': return jword(j, "false");
    case 'n': return jword(j, "null");
    case '[':
        j->p++;
        if (jpeek(j, ']')) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (jskip(j, depth + 1)) return j->err;
            if (jpeek(j, ']')) {
                j->p++;
                return 0;
            }
            if (jexpect(j, ',', "expected ',' or ']'")) return j->err;
        }
    case '{':
        j->p++;
        if (jpeek(j, '}')) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (jstring(j, NULL) || jexpect(j, ':', "expected ':'") || jskip(j, depth + 1))
                return j->err;
            if (jpeek(j, '}')) {
                j->p++;
                return 0;
            }
            if (jexpect(j, ',', "expected ',' or '}'")) return j->err;
        }
    default: return jnumber(j, NULL, NULL);
    }
}

/*
 * Iterates an object's members: call with *first = 1; returns 1 with the key in *key
 * (malloc'd, the caller frees) positioned at the value, 0 at the closing brace, -1 on error.
 */
static int jmember(jparse *j, int *first, char **key) {
    if (*first) {
        if (jexpect(j, '{', "expected an object")) return -1;
        *first = 0;
        if (jpeek(j, '}')) {
            j->p++;
            return 0;
        }
    } else {
        if (jpeek(j, '}')) {
            j->p++;
            return 0;
        }
        if (jexpect(j, ',', "expected ',' or '}'")) return -1;
    }
    if (jstring(j, key)) return -1;
    if (jexpect(j, ':', "expected ':'")) {
        free(*key);
        return -1;
    }
    return 1;
}

/* A string member value replacing *dst. */
static int jstring_into(jparse *j, char **dst) {
    char *s;
    if (jstring(j, &s)) return -1;
    free(*dst);
    *dst = s;
    return 0;
}

static int parse_shape(jparse *j, graft_cache_tap *tap) {
    if (jexpect(j, '[', "tap shape: expected an array")) return -1;
    tap->rank = 0;
    if (jpeek(j, ']')) {
        jfail(j, GRAFT_ECORRUPT, "tap shape is empty");
        return -1;
    }
    for (;;) {
        int is_int;
        int64_t v;
        if (jnumber(j, &is_int, &v)) return -1;
        if (!is_int || v < 1 || v > DIM_MAX) {
            jfail(j, GRAFT_ECORRUPT, "tap shape: a dimension is not an integer in 1..2^32");
            return -1;
        }
        if (tap->rank == GRAFT_CACHE_MAX_RANK) {
            jfail(j, GRAFT_ECORRUPT, "tap shape has more than 4 dimensions");
            return -1;
        }
        tap->dims[tap->rank++] = v;
        if (jpeek(j, ']')) {
            j->p++;
            return 0;
        }
        if (jexpect(j, ',', "tap shape: expected ',' or ']'")) return -1;
    }
}

static int parse_tap(jparse *j, graft_cache_tap *tap) {
    int first = 1, r, have_shape = 0;
    char *key, *name = NULL;
    while ((r = jmember(j, &first, &key)) == 1) {
        int bad;
        if (!strcmp(key, "name")) {
            bad = jstring_into(j, &name);
        } else if (!strcmp(key, "shape")) {
            bad = parse_shape(j, tap);
            have_shape = 1;
        } else {
            bad = jskip(j, 2);
        }
        free(key);
        if (bad) r = -1;
        if (r < 0) break;
    }
    if (r == 0 && (!name || !name[0] || !have_shape)) {
        jfail(j, GRAFT_ECORRUPT, "a tap lacks its name or shape");
        r = -1;
    }
    if (r < 0) {
        free(name);
        return -1;
    }
    tap->name = name;
    return 0;
}

void graft__manifest_free(graft__manifest *m) {
    if (!m) return;
    free(m->graft_version);
    free(m->created);
    free(m->model_path);
    free(m->model_sha256);
    free(m->preprocess);
    for (int t = 0; t < m->tap_count; t++) free((char *)m->taps[t].name);
    memset(m, 0, sizeof *m);
}

int graft__manifest_parse(const char *text, size_t len, const char *path, graft__manifest *out) {
    jparse j = {text, text, text + len, path, 0};
    graft__manifest m = {0};
    char *format = NULL, *dtype = NULL, *key;
    int first = 1, r, have_version = 0, have_taps = 0;
    int64_t version = 0;
    while ((r = jmember(&j, &first, &key)) == 1) {
        int bad = 0;
        if (!strcmp(key, "format")) {
            bad = jstring_into(&j, &format);
        } else if (!strcmp(key, "version")) {
            int is_int;
            bad = jnumber(&j, &is_int, &version);
            if (!bad && !is_int) bad = jfail(&j, GRAFT_ECORRUPT, "version is not an integer");
            have_version = 1;
        } else if (!strcmp(key, "graft")) {
            bad = jstring_into(&j, &m.graft_version);
        } else if (!strcmp(key, "created")) {
            bad = jstring_into(&j, &m.created);
        } else if (!strcmp(key, "preprocess")) {
            bad = jstring_into(&j, &m.preprocess);
        } else if (!strcmp(key, "dtype")) {
            bad = jstring_into(&j, &dtype);
        } else if (!strcmp(key, "model")) {
            int mfirst = 1, mr;
            char *mkey;
            while ((mr = jmember(&j, &mfirst, &mkey)) == 1) {
                int mbad = !strcmp(mkey, "path")     ? jstring_into(&j, &m.model_path)
                           : !strcmp(mkey, "sha256") ? jstring_into(&j, &m.model_sha256)
                                                     : jskip(&j, 2);
                free(mkey);
                if (mbad) {
                    mr = -1;
                    break;
                }
            }
            bad = mr < 0;
        } else if (!strcmp(key, "taps")) {
            for (int t = 0; t < m.tap_count; t++) free((char *)m.taps[t].name);
            m.tap_count = 0;
            have_taps = 1;
            bad = jexpect(&j, '[', "taps: expected an array");
            if (!bad && jpeek(&j, ']')) {
                j.p++;
            } else {
                while (!bad) {
                    if (m.tap_count == GRAFT_CACHE_MAX_TAPS) {
                        bad = jfail(&j, GRAFT_ECORRUPT, "more than 16 taps");
                        break;
                    }
                    memset(&m.taps[m.tap_count], 0, sizeof m.taps[0]);
                    if (parse_tap(&j, &m.taps[m.tap_count])) {
                        bad = 1;
                        break;
                    }
                    m.tap_count++;
                    if (jpeek(&j, ']')) {
                        j.p++;
                        break;
                    }
                    bad = jexpect(&j, ',', "taps: expected ',' or ']'");
                }
            }
        } else {
            bad = jskip(&j, 1);
        }
        free(key);
        if (bad) {
            r = -1;
            break;
        }
    }
    if (r == 0) {
        jws(&j);
        if (j.p != j.end) jfail(&j, GRAFT_ECORRUPT, "text after the manifest object");
    }
    uint8_t sha[32];
    if (!j.err && (!format || strcmp(format, MANIFEST_FORMAT) != 0))
        jfail(&j, GRAFT_ECORRUPT, "not a graft cache manifest (format is not \"graft-cache\")");
    if (!j.err && !have_version) jfail(&j, GRAFT_ECORRUPT, "no version");
    if (!j.err && version != MANIFEST_VERSION)
        j.err = graft__fail(GRAFT_EUNSUPPORTED, "%s: cache format version %lld (this graft "
                            "reads version %d)", path, (long long)version, MANIFEST_VERSION);
    if (!j.err && (!m.model_sha256 ||
                   graft__cache_hex_parse(m.model_sha256, strlen(m.model_sha256), sha)))
        jfail(&j, GRAFT_ECORRUPT, "model.sha256 is missing or not 64 lowercase hex digits");
    if (!j.err && (!have_taps || m.tap_count == 0)) jfail(&j, GRAFT_ECORRUPT, "no taps");
    if (!j.err && !m.preprocess) jfail(&j, GRAFT_ECORRUPT, "no preprocess");
    if (!j.err) {
        if (dtype && !strcmp(dtype, "float32")) m.dtype = GRAFT_CACHE_DTYPE_F32;
        else if (dtype && !strcmp(dtype, "float16")) m.dtype = GRAFT_CACHE_DTYPE_F16;
        else jfail(&j, GRAFT_ECORRUPT, "dtype is not \"float32\" or \"float16\"");
    }
    if (!j.err && !m.model_path && !(m.model_path = strdup("")))
        jfail(&j, GRAFT_ENOMEM, "out of memory");
    if (!j.err && !m.graft_version && !(m.graft_version = strdup("?")))
        jfail(&j, GRAFT_ENOMEM, "out of memory");
    if (!j.err && !m.created && !(m.created = strdup("?")))
        jfail(&j, GRAFT_ENOMEM, "out of memory");
    free(format);
    free(dtype);
    if (j.err) {
        graft__manifest_free(&m);
        return j.err;
    }
    *out = m;
    return GRAFT_OK;
}

int graft__manifest_load(const char *dir, graft__manifest *m) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" GRAFT__CACHE_MANIFEST, dir);
    char *text;
    size_t len;
    int err = graft__cache_read_file(path, GRAFT__CACHE_MANIFEST_MAX, &text, &len, NULL);
    if (err == GRAFT_ERANGE) return graft__fail(GRAFT_ECORRUPT, "%s", graft_last_error());
    if (err) return err;
    err = graft__manifest_parse(text, len, path, m);
    free(text);
    return err;
}

/* ---- comparing with a config ----------------------------------------------------------------- */

static void taps_format(const graft_cache_tap *taps, int count, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int t = 0; t < count && n < cap; t++) {
        char shape[128];
        graft__cache_shape_format(&taps[t], shape, sizeof shape);
        n += (size_t)snprintf(buf + n, cap - n, "%s%s %s", t ? ", " : "", taps[t].name, shape);
    }
}

int graft__manifest_compare(const graft__manifest *m, const graft_cache_config *cfg,
                            const char *dir) {
    int err = graft__cache_config_check(cfg);
    if (err) return err;
    if (strcmp(m->model_sha256, cfg->model_sha256) != 0)
        return graft__fail(GRAFT_EMISMATCH, "cache %s was made with model sha256 %s (%s), not "
                           "%s (%s)", dir, m->model_sha256, m->model_path,
                           cfg->model_sha256, cfg->model_path ? cfg->model_path : "");
    int same = m->tap_count == cfg->tap_count;
    for (int t = 0; same && t < m->tap_count; t++) {
        const graft_cache_tap *a = &m->taps[t], *b = &cfg->taps[t];
        same = strcmp(a->name, b->name) == 0 && a->rank == b->rank;
        for (int r = 0; same && r < a->rank; r++) same = a->dims[r] == b->dims[r];
    }
    if (!same) {
        char have[200], want[200];
        taps_format(m->taps, m->tap_count, have, sizeof have);
        taps_format(cfg->taps, cfg->tap_count, want, sizeof want);
        return graft__fail(GRAFT_EMISMATCH, "cache %s was made with taps [%s], not [%s]", dir,
                           have, want);
    }
    if (strcmp(m->preprocess, cfg->preprocess) != 0)
        return graft__fail(GRAFT_EMISMATCH, "cache %s was made with preprocess \"%.160s\", not "
                           "\"%.160s\"", dir, m->preprocess, cfg->preprocess);
    if (m->dtype != cfg->dtype)
        return graft__fail(GRAFT_EMISMATCH, "cache %s was made with dtype %s, not %s", dir,
                           graft__cache_dtype_name(m->dtype), graft__cache_dtype_name(cfg->dtype));
    return GRAFT_OK;
}
