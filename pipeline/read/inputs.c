/*
 * pipeline/read/inputs.c: input specs -> the list of shard paths the reader walks
 * (graft_inputs_expand in include/graft/dataset.h).
 *
 * Each spec, in order: "-" stays as it is (standard input); "@FILE" is replaced by the specs
 * FILE lists, one a line (blank lines and '#' comments skipped, nesting up to 8 deep); a spec
 * naming an existing path is taken literally, so that a file called "a{1,2}.tar" or "x[1].tar"
 * still works; otherwise braces are expanded (lists "{a,b}", numeric ranges "{000..099}" with
 * their zero padding, letter ranges "{a..e}", nested and repeated groups, as bash does), then
 * every result holding '*', '?' or '[' goes through glob(3), its matches sorted bytewise.
 *
 * Nothing is opened here except @lists, and no path is checked: a missing shard is the
 * reader's SHARD_ERROR later. Only a glob that matches nothing and a list file that lists
 * nothing are errors, since they almost always mean a typo.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels.h"
#include "read.h"

#define LIST_DEPTH_MAX 8
#define BRACE_GROUPS_MAX 64

/* A growing array of malloc'd strings. */
typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static void strlist_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Takes ownership of s (freed on failure). */
static int strlist_push(strlist *l, char *s) {
    if (!s) return graft__fail(GRAFT_ENOMEM, "inputs: out of memory");
    if (l->n >= GRAFT__INPUTS_MAX) {
        free(s);
        return graft__fail(GRAFT_EINVAL, "inputs: the specs expand to more than %zu paths",
                           GRAFT__INPUTS_MAX);
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            free(s);
            return graft__fail(GRAFT_ENOMEM, "inputs: out of memory");
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return GRAFT_OK;
}

static char *concat3(const char *a, size_t na, const char *b, size_t nb, const char *c) {
    size_t nc = strlen(c);
    char *s = malloc(na + nb + nc + 1);
    if (!s) return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb);
    memcpy(s + na + nb, c, nc + 1);
    return s;
}

/* ---- braces -------------------------------------------------------------------------------- */

/* Parses an optionally signed decimal integer filling exactly s[0..n). */
static int parse_int(const char *s, size_t n, long long *out) {
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n || n - i > 15) return 0; /* 15 digits: no overflow, and far beyond any range */
    long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 1;
}

/* bash pads a range to the wider end when either end is written with a leading zero. */
static int zero_padded(const char *s, size_t n) {
    if (n && (s[0] == '-' || s[0] == '+')) s++, n--;
    return n > 1 && s[0] == '0';
}

static int expand_rec(const char *s, strlist *out, int groups);

/* Expands prefix + each item of the range body[0..n) + suffix; 0 when body is no range. */
static int expand_range(const char *prefix, size_t np, const char *body, size_t n,
                        const char *suffix, strlist *out, int groups, int *handled) {
    *handled = 0;
    const char *dots = NULL;
    for (size_t i = 0; i + 1 < n; i++)
        if (body[i] == '.' && body[i + 1] == '.') {
            dots = body + i;
            break;
        }
    if (!dots) return GRAFT_OK;
    const char *a = body, *b = dots + 2;
    size_t na = (size_t)(dots - body), nb = n - na - 2;
    long long lo, hi;
    char item[64];
    if (parse_int(a, na, &lo) && parse_int(b, nb, &hi)) {
        int width = 0;
        if (zero_padded(a, na) || zero_padded(b, nb)) width = (int)(na > nb ? na : nb);
        unsigned long long span = lo <= hi ? (unsigned long long)(hi - lo)
                                           : (unsigned long long)(lo - hi);
        if (span >= GRAFT__INPUTS_MAX)
            return graft__fail(GRAFT_EINVAL, "inputs: brace range {%.*s} has more than %zu "
                               "items", (int)n, body, GRAFT__INPUTS_MAX);
        *handled = 1;
        long long step = lo <= hi ? 1 : -1;
        for (long long v = lo;; v += step) {
            /* bash keeps the width including a minus sign: {-05..5} gives -05 ... 005 */
            int len = v < 0 ? snprintf(item, sizeof item, "-%0*lld", width ? width - 1 : 0, -v)
                            : snprintf(item, sizeof item, "%0*lld", width, v);
            char *s = concat3(prefix, np, item, (size_t)len, suffix);
            if (!s) return graft__fail(GRAFT_ENOMEM, "inputs: out of memory");
            int rc = expand_rec(s, out, groups + 1);
            free(s);
            if (rc) return rc;
            if (v == hi) break;
        }
        return GRAFT_OK;
    }
    if (na == 1 && nb == 1 && ((a[0] >= 'a' && a[0] <= 'z' && b[0] >= 'a' && b[0] <= 'z') ||
                               (a[0] >= 'A' && a[0] <= 'Z' && b[0] >= 'A' && b[0] <= 'Z'))) {
        *handled = 1;
        int step = a[0] <= b[0] ? 1 : -1;
        for (int c = a[0];; c += step) {
            item[0] = (char)c;
            char *s = concat3(prefix, np, item, 1, suffix);
            if (!s) return graft__fail(GRAFT_ENOMEM, "inputs: out of memory");
            int rc = expand_rec(s, out, groups + 1);
            free(s);
            if (rc) return rc;
            if (c == b[0]) break;
        }
    }
    return GRAFT_OK;
}

/*
 * Expands the first brace group of s and recurses on each result, so groups later in s and
 * groups inside an alternative are expanded in turn. `groups` counts the levels so far.
 */
static int expand_rec(const char *s, strlist *out, int groups) {
    const char *open = strchr(s, '{');
    if (!open) {
        if (strchr(s, '}'))
            return graft__fail(GRAFT_EINVAL, "inputs: unmatched '}' in \"%s\"", s);
        return strlist_push(out, strdup(s));
    }
    if (groups >= BRACE_GROUPS_MAX)
        return graft__fail(GRAFT_EINVAL, "inputs: more than %d brace groups in one spec",
                           BRACE_GROUPS_MAX);
    /* The matching '}' and the top-level commas between them. */
    int depth = 0, commas = 0;
    const char *close = NULL;
    for (const char *p = open; *p; p++) {
        if (*p == '{') depth++;
        else if (*p == '}' && --depth == 0) {
            close = p;
            break;
        } else if (*p == ',' && depth == 1)
            commas++;
    }
    if (!close) return graft__fail(GRAFT_EINVAL, "inputs: unmatched '{' in \"%s\"", s);
    for (const char *p = s; p < open; p++)
        if (*p == '}') return graft__fail(GRAFT_EINVAL, "inputs: unmatched '}' in \"%s\"", s);

    size_t np = (size_t)(open - s);
    const char *body = open + 1, *suffix = close + 1;
    size_t nbody = (size_t)(close - body);
    if (commas == 0) {
        int handled, rc = expand_range(s, np, body, nbody, suffix, out, groups, &handled);
        if (rc || handled) return rc;
        return graft__fail(GRAFT_EINVAL, "inputs: malformed brace expression {%.*s} in \"%s\" "
                           "(expected {a,b,...}, {N..M} or {x..y})", (int)nbody, body, s);
    }
    const char *item = body;
    depth = 0;
    for (const char *p = body;; p++) {
        if (p < close && *p == '{') depth++;
        else if (p < close && *p == '}') depth--;
        if (p == close || (*p == ',' && depth == 0)) {
            char *t = concat3(s, np, item, (size_t)(p - item), suffix);
            if (!t) return graft__fail(GRAFT_ENOMEM, "inputs: out of memory");
            int rc = expand_rec(t, out, groups + 1);
            free(t);
            if (rc) return rc;
            if (p == close) break;
            item = p + 1;
        }
    }
    return GRAFT_OK;
}

static int to_array(strlist *l, char ***paths, int *count) {
    if (l->n == 0) {
        /* An empty list is still a valid malloc'd array, freed by graft_paths_free. */
        l->v = malloc(sizeof *l->v);
        if (!l->v) return graft__fail(GRAFT_ENOMEM, "inputs: out of memory");
    }
    *paths = l->v;
    *count = (int)l->n;
    l->v = NULL;
    l->n = l->cap = 0;
    return GRAFT_OK;
}

int graft__expand_braces(const char *spec, char ***paths, int *count) {
    if (!spec || !paths || !count) return graft__fail(GRAFT_EINVAL, "inputs: NULL argument");
    strlist l = {0};
    int rc = expand_rec(spec, &l, 0);
    if (!rc) rc = to_array(&l, paths, count);
    strlist_free(&l);
    return rc;
}

/* ---- globs and lists ----------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int glob_into(const char *pattern, const char *spec, strlist *out) {
    if (!strpbrk(pattern, "*?[")) return strlist_push(out, strdup(pattern));
    glob_t g;
    memset(&g, 0, sizeof g);
    /* Unsorted from glob(3), whose order follows the locale's collation; sorted bytewise
       below so that the shard order is the same everywhere. */
    int grc = glob(pattern, GLOB_NOSORT, NULL, &g);
    if (grc == GLOB_NOMATCH) {
        globfree(&g);
        return graft__fail(GRAFT_EIO, "inputs: \"%s\" matches no file", spec);
    }
    if (grc == GLOB_NOSPACE) {
        globfree(&g);
        return graft__fail(GRAFT_ENOMEM, "inputs: out of memory expanding \"%s\"", spec);
    }
    if (grc != 0) {
        globfree(&g);
        return graft__fail(GRAFT_EIO, "inputs: cannot expand \"%s\" (read error)", spec);
    }
    qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cmp_str);
    int rc = GRAFT_OK;
    for (size_t i = 0; i < g.gl_pathc && !rc; i++) rc = strlist_push(out, strdup(g.gl_pathv[i]));
    globfree(&g);
    return rc;
}

static int expand_spec(const char *spec, strlist *out, int list_depth);

/* Reads a whole small text file into a malloc'd NUL-terminated buffer. */
static int read_text(const char *path, char **out) {
    FILE *f = fopen(path, "rb");
    if (!f) return graft__fail(GRAFT_EIO, "inputs: cannot open list file %s: %s", path,
                               strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = GRAFT_OK;
    for (;;) {
        if (!buf) {
            rc = graft__fail(GRAFT_ENOMEM, "inputs: out of memory reading %s", path);
            break;
        }
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    if (!rc && ferror(f)) rc = graft__fail(GRAFT_EIO, "inputs: cannot read list file %s", path);
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    return GRAFT_OK;
}

static int expand_list(const char *file, strlist *out, int list_depth) {
    if (list_depth >= LIST_DEPTH_MAX)
        return graft__fail(GRAFT_EINVAL, "inputs: @%s: list files nested more than %d deep",
                           file, LIST_DEPTH_MAX);
    char *text = NULL;
    int rc = read_text(file, &text);
    if (rc) return rc;
    size_t before = out->n;
    char *line = text;
    while (!rc && *line) {
        char *end = strchr(line, '\n');
        char *next = end ? end + 1 : line + strlen(line);
        if (!end) end = next;
        while (line < end && (*line == ' ' || *line == '\t')) line++;
        while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) end--;
        *end = '\0';
        if (*line && *line != '#') rc = expand_spec(line, out, list_depth + 1);
        line = next;
    }
    free(text);
    if (!rc && out->n == before)
        rc = graft__fail(GRAFT_EIO, "inputs: list file %s lists no input", file);
    return rc;
}

static int expand_spec(const char *spec, strlist *out, int list_depth) {
    if (!spec[0]) return graft__fail(GRAFT_EINVAL, "inputs: empty input spec");
    if (strcmp(spec, "-") == 0) return strlist_push(out, strdup(spec));
    if (spec[0] == '@') return expand_list(spec + 1, out, list_depth);
    struct stat st;
    if (stat(spec, &st) == 0 || !strpbrk(spec, "{}*?["))
        return strlist_push(out, strdup(spec));
    strlist braces = {0};
    int rc = expand_rec(spec, &braces, 0);
    for (size_t i = 0; i < braces.n && !rc; i++) rc = glob_into(braces.v[i], spec, out);
    strlist_free(&braces);
    return rc;
}

int graft_inputs_expand(const char *const *specs, int spec_count, char ***paths, int *count) {
    if (!paths || !count || spec_count < 0 || (spec_count > 0 && !specs))
        return graft__fail(GRAFT_EINVAL, "inputs: NULL argument");
    strlist l = {0};
    int rc = GRAFT_OK;
    for (int i = 0; i < spec_count && !rc; i++) {
        if (!specs[i]) rc = graft__fail(GRAFT_EINVAL, "inputs: spec %d is NULL", i);
        else rc = expand_spec(specs[i], &l, 0);
    }
    if (!rc) rc = to_array(&l, paths, count);
    strlist_free(&l);
    return rc;
}

void graft_paths_free(char **paths, int count) {
    if (!paths) return;
    for (int i = 0; i < count; i++) free(paths[i]);
    free(paths);
}
