/*
 * pipeline/read/labels.c: where a sample's label and split come from, as the reader decides
 * them: label members (.cls, .txt, .json), class folders, the --labels CSV file, split
 * folder names and the val_fraction hash (include/graft/dataset.h; internals in read.h).
 *
 * The .json scanner is deliberately tiny and bounded instead of a JSON library: it reads one
 * member of at most GRAFT__LABEL_MEMBER_MAX bytes in a single forward pass without recursion,
 * picks a top-level "label" (else "class") string or number, or a bare top-level string or
 * number, and refuses anything malformed rather than guessing. It does not validate nested
 * values beyond balancing their brackets and strings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels.h"
#include "read.h"

/* ---- splits -------------------------------------------------------------------------------- */

const char *graft_split_name(graft_split split) {
    switch (split) {
    case GRAFT_SPLIT_NONE: return "none";
    case GRAFT_SPLIT_TRAIN: return "train";
    case GRAFT_SPLIT_VAL: return "val";
    case GRAFT_SPLIT_TEST: return "test";
    }
    return "none";
}

/* The split a name stands for (case-insensitive), NONE for any other name. */
static graft_split split_of_name(const char *s, size_t n) {
    static const struct {
        const char *name;
        graft_split split;
    } names[] = {
        {"train", GRAFT_SPLIT_TRAIN},  {"val", GRAFT_SPLIT_VAL}, {"valid", GRAFT_SPLIT_VAL},
        {"validation", GRAFT_SPLIT_VAL}, {"test", GRAFT_SPLIT_TEST},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == n && strncasecmp(s, names[i].name, n) == 0)
            return names[i].split;
    return GRAFT_SPLIT_NONE;
}

int graft_split_parse(const char *name, graft_split *out) {
    if (!name || !out) return graft__fail(GRAFT_EINVAL, "split: NULL argument");
    if (strcasecmp(name, "none") == 0) {
        *out = GRAFT_SPLIT_NONE;
        return GRAFT_OK;
    }
    graft_split s = split_of_name(name, strlen(name));
    if (s == GRAFT_SPLIT_NONE)
        return graft__fail(GRAFT_EINVAL, "split: unknown split \"%s\" (expected train, val, "
                           "valid, validation, test or none)", name);
    *out = s;
    return GRAFT_OK;
}

graft_split graft__split_from_path(const char *path, size_t len) {
    /* Walk the directory components from the deepest outwards; the file name is skipped. */
    size_t end = len;
    while (end > 0 && path[end - 1] != '/') end--;
    while (end > 0) {
        size_t comp_end = end - 1; /* at the '/' closing the component */
        size_t start = comp_end;
        while (start > 0 && path[start - 1] != '/') start--;
        graft_split s = split_of_name(path + start, comp_end - start);
        if (s != GRAFT_SPLIT_NONE) return s;
        end = start;
    }
    return GRAFT_SPLIT_NONE;
}

graft_split graft__split_from_shard(const char *shard, int is_dir) {
    if (!shard || strcmp(shard, "-") == 0) return GRAFT_SPLIT_NONE;
    size_t end = strlen(shard);
    while (end > 1 && shard[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && shard[start - 1] != '/') start--;
    if (!is_dir) {
        size_t stop = start;
        while (stop < end && shard[stop] == '.') stop++;
        while (stop < end && shard[stop] != '.') stop++;
        end = stop;
    }
    return split_of_name(shard + start, end - start);
}

double graft__key_fraction(const char *key, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 0x100000001b3ull;
    }
    /* FNV's low bits mix poorly for short keys that differ in the last byte; the splitmix64
       finaliser spreads every input bit over the whole word before the top bits are used. */
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (double)(h >> 11) * 0x1.0p-53;
}

int graft__dir_label(const char *path, const char **start, size_t *len) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    const char *p = slash;
    while (p > path && p[-1] != '/') p--;
    size_t n = (size_t)(slash - p);
    if (n == 0 || split_of_name(p, n) != GRAFT_SPLIT_NONE) return 0;
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
    *start = p;
    *len = n;
    return 1;
}

/* ---- label members ------------------------------------------------------------------------- */

graft__label_kind graft__label_kind_of(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) return GRAFT__LABEL_KIND_NONE;
    if (strcasecmp(dot + 1, "cls") == 0) return GRAFT__LABEL_KIND_CLS;
    if (strcasecmp(dot + 1, "json") == 0) return GRAFT__LABEL_KIND_JSON;
    if (strcasecmp(dot + 1, "txt") == 0) return GRAFT__LABEL_KIND_TXT;
    return GRAFT__LABEL_KIND_NONE;
}

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
                                        c == '\f' || c == '\v'; }

/* Trims, validates (see read.h) and copies a label; 1, 0 (not usable) or GRAFT_ENOMEM. */
static int finish_label(const uint8_t *p, size_t n, char **out) {
    while (n && is_space(p[0])) p++, n--;
    while (n && is_space(p[n - 1])) n--;
    if (n == 0 || n > GRAFT__LABEL_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f) return 0;
    char *s = malloc(n + 1);
    if (!s) return graft__fail(GRAFT_ENOMEM, "labels: out of memory");
    memcpy(s, p, n);
    s[n] = '\0';
    *out = s;
    return 1;
}

static void skip_bom(const uint8_t **p, size_t *n) {
    if (*n >= 3 && (*p)[0] == 0xef && (*p)[1] == 0xbb && (*p)[2] == 0xbf) *p += 3, *n -= 3;
}

/* The JSON scanner's cursor. */
typedef struct jscan {
    const uint8_t *p, *end;
} jscan;

static void j_ws(jscan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int j_hex4(jscan *s, unsigned *out) {
    if (s->end - s->p < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s->p[i]);
        if (h < 0) return 0;
        v = v * 16 + (unsigned)h;
    }
    s->p += 4;
    *out = v;
    return 1;
}

/* Encodes a code point (at most 0x10ffff) as UTF-8 into out; returns the byte count. */
static size_t utf8_encode(uint32_t cp, uint8_t out[4]) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Parses the string at s->p (which is '"'). When buf is given, decodes it as UTF-8 into
 * buf[0..cap) and sets *len (*len > cap means it did not fit, the bytes are then cut). 1 when
 * well formed, else 0.
 */
static int j_string(jscan *s, uint8_t *buf, size_t cap, size_t *len) {
    size_t n = 0;
    s->p++;
    for (;;) {
        if (s->p >= s->end) return 0;
        uint8_t c = *s->p++;
        uint32_t cp;
        if (c == '"') break;
        if (c < 0x20) return 0;
        if (c != '\\') {
            if (buf && n < cap) buf[n] = c;
            n++;
            continue;
        }
        if (s->p >= s->end) return 0;
        c = *s->p++;
        switch (c) {
        case '"': case '\\': case '/': cp = c; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u': {
            unsigned u, lo;
            if (!j_hex4(s, &u)) return 0;
            if (u >= 0xdc00 && u <= 0xdfff) return 0; /* a lone low surrogate */
            if (u >= 0xd800 && u <= 0xdbff) {
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u') return 0;
                s->p += 2;
                if (!j_hex4(s, &lo) || lo < 0xdc00 || lo > 0xdfff) return 0;
                cp = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            } else {
                cp = u;
            }
            break;
        }
        default: return 0;
        }
        uint8_t enc[4];
        size_t k = utf8_encode(cp, enc);
        for (size_t i = 0; i < k; i++, n++)
            if (buf && n < cap) buf[n] = enc[i];
    }
    if (len) *len = n;
    return 1;
}

/* A JSON number at s->p (grammar of RFC 8259); 1 when well formed, else 0. */
static int j_number(jscan *s) {
    const uint8_t *p = s->p, *e = s->end;
    if (p < e && *p == '-') p++;
    if (p >= e) return 0;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < e && *p >= '0' && *p <= '9') p++;
    else return 0;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || *p < '0' || *p > '9') return 0;
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || *p < '0' || *p > '9') return 0;
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    s->p = p;
    return 1;
}

static int j_literal(jscan *s, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return 0;
    s->p += n;
    return 1;
}

/* Skips one value of any kind; nested containers by a depth counter, not recursion. */
static int j_skip(jscan *s) {
    if (s->p >= s->end) return 0;
    uint8_t c = *s->p;
    if (c == '"') return j_string(s, NULL, 0, NULL);
    if (c == '-' || (c >= '0' && c <= '9')) return j_number(s);
    if (c == 't') return j_literal(s, "true");
    if (c == 'f') return j_literal(s, "false");
    if (c == 'n') return j_literal(s, "null");
    if (c != '{' && c != '[') return 0;
    size_t depth = 0;
    while (s->p < s->end) {
        c = *s->p;
        if (c == '"') {
            if (!j_string(s, NULL, 0, NULL)) return 0;
            continue;
        }
        s->p++;
        if (c == '{' || c == '[') depth++;
        else if ((c == '}' || c == ']') && --depth == 0) return 1;
    }
    return 0;
}

/*
 * A string or number value at s->p as label text into buf (cap bytes): *len, and 1; 0 when the
 * value is of another kind (skipped) or malformed (*bad set).
 */
static int j_scalar(jscan *s, uint8_t *buf, size_t cap, size_t *len, int *bad) {
    if (s->p < s->end && *s->p == '"') {
        if (!j_string(s, buf, cap, len)) return *bad = 1, 0;
        return 1;
    }
    if (s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
        const uint8_t *start = s->p;
        if (!j_number(s)) return *bad = 1, 0;
        size_t n = (size_t)(s->p - start);
        memcpy(buf, start, n < cap ? n : cap);
        *len = n;
        return 1;
    }
    if (!j_skip(s)) *bad = 1;
    return 0;
}

static int parse_json(const uint8_t *p, size_t n, char **out) {
    /* Label text is at most GRAFT__LABEL_MAX bytes after trimming; a little more room lets
       finish_label see surrounding blanks, and anything longer is refused. */
    enum { CAP = GRAFT__LABEL_MAX + 64 };
    uint8_t *vals = malloc(2 * CAP);
    if (!vals) return graft__fail(GRAFT_ENOMEM, "labels: out of memory");
    uint8_t *label = vals, *klass = vals + CAP;
    size_t label_len = 0, class_len = 0;
    int have_label = 0, have_class = 0, bad = 0;
    jscan s = {p, p + n};
    j_ws(&s);
    if (s.p < s.end && *s.p == '{') {
        s.p++;
        j_ws(&s);
        if (s.p < s.end && *s.p == '}') {
            s.p++;
        } else {
            for (;;) {
                uint8_t key[16];
                size_t key_len;
                j_ws(&s);
                if (s.p >= s.end || *s.p != '"' || !j_string(&s, key, sizeof key, &key_len)) {
                    bad = 1;
                    break;
                }
                j_ws(&s);
                if (s.p >= s.end || *s.p != ':') {
                    bad = 1;
                    break;
                }
                s.p++;
                j_ws(&s);
                int is_label = key_len == 5 && memcmp(key, "label", 5) == 0;
                int is_class = key_len == 5 && memcmp(key, "class", 5) == 0;
                if (is_label) have_label = j_scalar(&s, label, CAP, &label_len, &bad);
                else if (is_class) have_class = j_scalar(&s, klass, CAP, &class_len, &bad);
                else if (!j_skip(&s)) bad = 1;
                if (bad) break;
                j_ws(&s);
                if (s.p < s.end && *s.p == ',') {
                    s.p++;
                    continue;
                }
                if (s.p < s.end && *s.p == '}') {
                    s.p++;
                    break;
                }
                bad = 1;
                break;
            }
        }
    } else {
        have_label = j_scalar(&s, label, CAP, &label_len, &bad);
    }
    j_ws(&s);
    int rc = 0;
    if (!bad && s.p == s.end) {
        if (have_label && label_len <= CAP) rc = finish_label(label, label_len, out);
        else if (have_class && class_len <= CAP) rc = finish_label(klass, class_len, out);
    }
    free(vals);
    return rc;
}

int graft__label_parse(graft__label_kind kind, const uint8_t *buf, size_t len, char **out) {
    if (!buf || len > GRAFT__LABEL_MEMBER_MAX) return 0;
    skip_bom(&buf, &len);
    switch (kind) {
    case GRAFT__LABEL_KIND_CLS: {
        size_t a = 0, b = len;
        while (a < b && is_space(buf[a])) a++;
        while (b > a && is_space(buf[b - 1])) b--;
        size_t i = a;
        if (i < b && (buf[i] == '-' || buf[i] == '+')) i++;
        if (i == b) return 0;
        for (; i < b; i++)
            if (buf[i] < '0' || buf[i] > '9') return 0;
        return finish_label(buf + a, b - a, out);
    }
    case GRAFT__LABEL_KIND_TXT: return finish_label(buf, len, out);
    case GRAFT__LABEL_KIND_JSON: return parse_json(buf, len, out);
    default: return 0;
    }
}

/* ---- the --labels CSV file ----------------------------------------------------------------- */

typedef struct label_entry {
    const char *key, *label; /* into the map's text */
    size_t key_len;
    uint64_t hash;
} label_entry;

struct graft__label_map {
    char *text;          /* the whole file, fields unescaped and terminated in place */
    label_entry *slots;  /* open addressing, linear probing; key == NULL is empty */
    size_t cap, count;
};

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static const char *strip_dot_slash(const char *key, size_t *len) {
    while (*len >= 2 && key[0] == '.' && key[1] == '/') key += 2, *len -= 2;
    while (*len >= 1 && key[0] == '/') key++, (*len)--;
    return key;
}

static int map_grow(graft__label_map *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    label_entry *slots = calloc(cap, sizeof *slots);
    if (!slots) return graft__fail(GRAFT_ENOMEM, "labels: out of memory");
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key) continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (slots[j].key) j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return GRAFT_OK;
}

/* Later lines win over earlier ones for the same key. */
static int map_put(graft__label_map *m, const char *key, size_t key_len, const char *label) {
    if ((m->count + 1) * 2 > m->cap) {
        int rc = map_grow(m);
        if (rc) return rc;
    }
    uint64_t h = hash_bytes(key, key_len);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) {
        label_entry *e = &m->slots[j];
        if (e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
            e->label = label;
            return GRAFT_OK;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j] = (label_entry){key, label, key_len, h};
    m->count++;
    return GRAFT_OK;
}

const char *graft__label_map_find(const graft__label_map *m, const char *key, size_t key_len) {
    if (!m || !m->cap) return NULL;
    key = strip_dot_slash(key, &key_len);
    uint64_t h = hash_bytes(key, key_len);
    for (size_t j = h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        const label_entry *e = &m->slots[j];
        if (!e->key) return NULL;
        if (e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
            return e->label;
    }
}

size_t graft__label_map_size(const graft__label_map *m) { return m ? m->count : 0; }

void graft__label_map_destroy(graft__label_map *m) {
    if (!m) return;
    free(m->slots);
    free(m->text);
    free(m);
}

/*
 * One CSV field starting at *pp (RFC 4180 quoting; unquoted fields trimmed of blanks),
 * unescaped in place and NUL-terminated. *end_char gets what ended it: ',', '\n' or '\0' (end
 * of text). Returns 0, or -1 when a quoted field is malformed. *line counts line breaks.
 */
static int csv_field(char **pp, char *end, char **field, size_t *len, char *end_char,
                     int *line) {
    char *p = *pp;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p < end && *p == '"') {
        char *w = ++p, *start = p;
        for (;;) {
            if (p >= end) return -1;
            if (*p == '"') {
                if (p + 1 < end && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                    continue;
                }
                p++;
                break;
            }
            if (*p == '\n') (*line)++;
            *w++ = *p++;
        }
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (p < end && *p != ',' && *p != '\n') return -1;
        *end_char = p < end ? *p : '\0';
        *field = start;
        *len = (size_t)(w - start);
        *w = '\0';
        *pp = p < end ? p + 1 : p;
        return 0;
    }
    char *start = p;
    while (p < end && *p != ',' && *p != '\n') p++;
    char *stop = p;
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t' || stop[-1] == '\r')) stop--;
    *end_char = p < end ? *p : '\0';
    *field = start;
    *len = (size_t)(stop - start);
    *stop = '\0'; /* stop <= p: the terminator overwrites only what was already read */
    *pp = p < end ? p + 1 : p;
    return 0;
}

static int load_text(const char *path, char **text, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return graft__fail(GRAFT_EIO, "labels: cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = NULL;
    for (;;) {
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            fclose(f);
            return graft__fail(GRAFT_ENOMEM, "labels: out of memory reading %s", path);
        }
        buf = nb;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return graft__fail(GRAFT_EIO, "labels: cannot read %s", path);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return GRAFT_OK;
}

int graft__label_map_load(const char *path, graft__label_map **out) {
    if (!path || !out) return graft__fail(GRAFT_EINVAL, "labels: NULL argument");
    graft__label_map *m = calloc(1, sizeof *m);
    if (!m) return graft__fail(GRAFT_ENOMEM, "labels: out of memory");
    size_t n = 0;
    int rc = load_text(path, &m->text, &n);
    if (rc) {
        free(m);
        return rc;
    }
    if (memchr(m->text, '\0', n)) {
        graft__label_map_destroy(m);
        return graft__fail(GRAFT_ECORRUPT, "labels: %s holds NUL bytes: not a text file", path);
    }
    char *p = m->text, *end = m->text + n;
    if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3;
    int line = 1, first = 1;
    while (p < end) {
        int rec_line = line;
        char *key, *label, ec;
        size_t key_len, label_len;
        if (csv_field(&p, end, &key, &key_len, &ec, &line)) {
            rc = graft__fail(GRAFT_ECORRUPT, "labels: %s:%d: malformed quoted field", path,
                             rec_line);
            break;
        }
        if (ec != ',') {
            if (ec == '\n') line++;
            if (key_len == 0) continue; /* a blank line */
            rc = graft__fail(GRAFT_ECORRUPT, "labels: %s:%d: expected \"key,label\", found no "
                             "comma", path, rec_line);
            break;
        }
        if (csv_field(&p, end, &label, &label_len, &ec, &line)) {
            rc = graft__fail(GRAFT_ECORRUPT, "labels: %s:%d: malformed quoted field", path,
                             rec_line);
            break;
        }
        /* Further columns are ignored, but still parsed so that quoted commas are honoured. */
        while (ec == ',') {
            char *extra;
            size_t extra_len;
            if (csv_field(&p, end, &extra, &extra_len, &ec, &line)) {
                rc = graft__fail(GRAFT_ECORRUPT, "labels: %s:%d: malformed quoted field", path,
                                 rec_line);
                break;
            }
        }
        if (rc) break;
        if (ec == '\n') line++;
        if (first && strcasecmp(key, "key") == 0 && strcasecmp(label, "label") == 0) {
            first = 0;
            continue;
        }
        first = 0;
        const char *k = strip_dot_slash(key, &key_len);
        if (key_len == 0) {
            rc = graft__fail(GRAFT_ECORRUPT, "labels: %s:%d: empty key", path, rec_line);
            break;
        }
        char *checked;
        int ok = finish_label((const uint8_t *)label, label_len, &checked);
        if (ok < 0) {
            rc = ok;
            break;
        }
        if (ok == 0) {
            rc = graft__fail(GRAFT_ECORRUPT, "labels: %s:%d: empty, over-long or multi-line "
                             "label for key \"%s\"", path, rec_line, k);
            break;
        }
        /* The trimmed label is no longer than the field: write it back in place. */
        size_t cl = strlen(checked);
        memmove(label, checked, cl + 1);
        free(checked);
        rc = map_put(m, k, key_len, label);
        if (rc) break;
    }
    if (rc) {
        graft__label_map_destroy(m);
        return rc;
    }
    *out = m;
    return GRAFT_OK;
}
