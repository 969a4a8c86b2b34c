/*
 * pipeline/cli/cache_cmds.c: `graft cache ls|stat|verify|export DIR`, the commands that look
 * into a feature cache made by `graft extract`: its segments, a summary (model, taps, rows
 * per split and class, rejects), a full integrity check, and exports of the codes for other
 * tools (npy for numpy, libsvm, csv).
 *
 * Everything goes through the cache's read side (graft/cache.h's view, plus the internal
 * segment listing and verifier of pipeline/cache); nothing here writes into a cache. Exit
 * status: 0 success, 1 a failed run (or, for verify, problems found), 2 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "../cache/cache_internal.h"
#include "cli.h"
#include "graft/cache.h"
#include "graft/npy.h"

static const char cache_usage[] =
    "usage: graft cache COMMAND DIR [options]\n"
    "\n"
    "Looks into the feature cache DIR that `graft extract` wrote.\n"
    "\n"
    "commands:\n"
    "  ls DIR        one line per segment: number, rows, dtype, bytes, first..last key\n"
    "  stat DIR      what made the codes, rows per split and class, segments, rejects\n"
    "  verify DIR    re-read and check everything; exit 1 when problems are found\n"
    "  export DIR    write the codes as npy, libsvm or csv for other tools\n"
    "\n"
    "'graft cache COMMAND --help' describes a command.\n";

static int usage_error(const char *cmd, const char *usage, const char *what) {
    fprintf(stderr, "graft cache %s: %s\n\n%s", cmd, what, usage);
    return 2;
}

/* Parses just --help for the commands that take no options but DIR. */
static int parse_dir_only(int argc, char **argv, const char *usage, const char **dir) {
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        return 2;
    }
    if (optind + 1 != argc) return usage_error(argv[0], usage, "expected one DIR");
    *dir = argv[optind];
    return -1;
}

static void fmt_bytes(char *buf, size_t cap, uint64_t b) {
    if (b >= ((uint64_t)1 << 30)) snprintf(buf, cap, "%.2f GiB", (double)b / (1 << 30));
    else if (b >= ((uint64_t)1 << 20)) snprintf(buf, cap, "%.2f MiB", (double)b / (1 << 20));
    else if (b >= 1024) snprintf(buf, cap, "%.1f KiB", (double)b / 1024);
    else snprintf(buf, cap, "%llu B", (unsigned long long)b);
}

static int open_view(const char *cmd, const char *dir, graft_cache_view **v) {
    int err = graft_cache_view_open(dir, v);
    if (err) {
        fprintf(stderr, "graft cache %s: %s\n", cmd, graft_last_error());
        if (err == GRAFT_ECORRUPT)
            fprintf(stderr, "('graft cache verify %s' lists every problem)\n", dir);
    }
    return err;
}

/* ---- ls -------------------------------------------------------------------------------------- */

static const char ls_usage[] =
    "usage: graft cache ls DIR\n"
    "\n"
    "One line per committed segment: its number, rows (and how many of them later segments\n"
    "superseded), dtype, bytes on disk, and its first..last key.\n";

static int cmd_ls(int argc, char **argv) {
    const char *dir;
    int rc = parse_dir_only(argc, argv, ls_usage, &dir);
    if (rc >= 0) return rc;
    graft_cache_view *v;
    if (open_view("ls", dir, &v)) return 1;
    const char *dtype = graft__cache_dtype_name(graft_cache_view_dtype(v));
    printf("%-8s %10s %-8s %11s  %s\n", "segment", "rows", "dtype", "bytes", "keys");
    for (size_t s = 0; s < graft_cache_view_segments(v); s++) {
        graft__cache_seg_info si;
        graft__cache_view_segment(v, s, &si);
        char stem[24], bytes[32], rows[48];
        graft__cache_seg_stem(si.number, stem);
        fmt_bytes(bytes, sizeof bytes, si.bytes);
        if (si.live_rows == si.rows)
            snprintf(rows, sizeof rows, "%zu", si.rows);
        else
            snprintf(rows, sizeof rows, "%zu (%zu live)", si.rows, si.live_rows);
        printf("%-8s %10s %-8s %11s  %s..%s\n", stem, rows, dtype, bytes,
               si.first_key ? si.first_key : "", si.last_key ? si.last_key : "");
    }
    graft_cache_view_close(v);
    return 0;
}

/* ---- stat ------------------------------------------------------------------------------------ */

static const char stat_usage[] =
    "usage: graft cache stat DIR [--json]\n"
    "\n"
    "Summarises the cache: the manifest (model path and sha256, taps with shapes,\n"
    "preprocessing, dtype, graft version), rows in total, per split and per class,\n"
    "segments, bytes on disk, rejected samples with their most common reasons, and rows\n"
    "superseded by later extractions of the same key.\n"
    "\n"
    "  --json       print one JSON object instead\n"
    "  -h, --help   show this help\n";

typedef struct reason_count {
    char *reason;
    size_t count;
} reason_count;

static int cmp_reason(const void *a, const void *b) {
    const reason_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->reason, y->reason);
}

/* rejects.tsv: the number of lines and the reasons by frequency (*reasons malloc'd). */
static size_t load_reject_reasons(const char *dir, reason_count **reasons, size_t *nreasons) {
    char path[4096], *text;
    size_t len, total = 0, n = 0;
    *reasons = NULL;
    *nreasons = 0;
    snprintf(path, sizeof path, "%s/" GRAFT__CACHE_REJECTS, dir);
    if (graft__cache_read_file(path, SIZE_MAX / 2, &text, &len, NULL)) return 0;
    graft__keyset seen = {0};
    reason_count *v = NULL;
    size_t cap = 0;
    for (char *p = text, *end = text + len; p < end;) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break;
        *eol = '\0';
        char *reason = p;
        int tabs = 0;
        for (char *q = p; *q; q++)
            if (*q == '\t' && ++tabs == 4) reason = q + 1;
        p = eol + 1;
        if (tabs != 4 || !strncmp(reason, "reason", 7)) continue;
        total++;
        int created;
        graft__keyent *e = graft__keyset_insert(&seen, reason, &created);
        if (!e) break;
        if (created) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                reason_count *t = realloc(v, cap * sizeof *v);
                if (!t) break;
                v = t;
            }
            e->aux = n;
            v[n].reason = strdup(reason);
            v[n].count = 0;
            if (!v[n].reason) break;
            n++;
        }
        v[e->aux].count++;
    }
    graft__keyset_free(&seen);
    free(text);
    if (v) qsort(v, n, sizeof *v, cmp_reason);
    *reasons = v;
    *nreasons = n;
    return total;
}

/* Sum of file sizes in DIR and DIR/segments. */
static uint64_t dir_bytes(const char *dir) {
    uint64_t total = 0;
    const char *subs[2] = {"", "/" GRAFT__CACHE_SEGDIR};
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s%s", dir, subs[i]);
        DIR *d = opendir(path);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char file[4400];
            struct stat st;
            snprintf(file, sizeof file, "%s/%s", path, e->d_name);
            if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) total += (uint64_t)st.st_size;
        }
        closedir(d);
    }
    return total;
}

#define TOP_REASONS 5

static int cmd_stat(int argc, char **argv) {
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c, json = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(stat_usage, stdout);
            return 0;
        }
        if (c == 'j') {
            json = 1;
            continue;
        }
        return 2;
    }
    if (optind + 1 != argc) return usage_error("stat", stat_usage, "expected one DIR");
    const char *dir = argv[optind];
    graft_cache_view *v;
    if (open_view("stat", dir, &v)) return 1;

    const size_t rows = graft_cache_view_rows(v);
    const int K = graft_cache_view_class_count(v);
    size_t split_rows[4] = {0}, unlabeled = 0;
    size_t *class_rows = calloc((size_t)K + 1, sizeof *class_rows);
    if (!class_rows) {
        graft_cache_view_close(v);
        fprintf(stderr, "graft cache stat: out of memory\n");
        return 1;
    }
    for (size_t r = 0; r < rows; r++) {
        graft_cache_row_info ri;
        graft_cache_view_row(v, r, &ri);
        split_rows[(unsigned)ri.split & 3]++;
        if (ri.label < 0) unlabeled++;
        else class_rows[ri.label]++;
    }
    reason_count *reasons;
    size_t nreasons;
    const size_t rejects = load_reject_reasons(dir, &reasons, &nreasons);
    const uint64_t bytes = dir_bytes(dir);
    const size_t segments = graft_cache_view_segments(v),
                 superseded = graft__cache_view_superseded(v);
    const int taps = graft_cache_view_tap_count(v);
    const char *dtype = graft__cache_dtype_name(graft_cache_view_dtype(v));

    if (json) {
        printf("{\"dir\": ");
        graft__json_string(stdout, dir);
        printf(", \"graft\": ");
        graft__json_string(stdout, graft__cache_view_graft_version(v));
        printf(", \"created\": ");
        graft__json_string(stdout, graft__cache_view_created(v));
        printf(", \"model\": {\"path\": ");
        graft__json_string(stdout, graft_cache_view_model_path(v));
        printf(", \"sha256\": ");
        graft__json_string(stdout, graft_cache_view_model_sha256(v));
        printf("}, \"taps\": [");
        for (int t = 0; t < taps; t++) {
            const graft_cache_tap *tap = graft_cache_view_tap(v, t);
            printf("%s{\"name\": ", t ? ", " : "");
            graft__json_string(stdout, tap->name);
            printf(", \"shape\": [");
            for (int d = 0; d < tap->rank; d++)
                printf("%s%lld", d ? ", " : "", (long long)tap->dims[d]);
            printf("]}");
        }
        printf("], \"preprocess\": ");
        graft__json_string(stdout, graft_cache_view_preprocess(v));
        printf(", \"dtype\": \"%s\", \"rows\": %zu, \"splits\": {", dtype, rows);
        for (int s = 0; s < 4; s++)
            printf("%s\"%s\": %zu", s ? ", " : "", graft__cache_split_name((graft_split)s),
                   split_rows[s]);
        printf("}, \"classes\": {");
        for (int k = 0; k < K; k++) {
            printf("%s", k ? ", " : "");
            graft__json_string(stdout, graft_cache_view_class_name(v, k));
            printf(": %zu", class_rows[k]);
        }
        printf("}, \"unlabeled\": %zu, \"segments\": %zu, \"bytes\": %llu, \"superseded\": %zu, "
               "\"rejects\": {\"count\": %zu, \"top_reasons\": [", unlabeled, segments,
               (unsigned long long)bytes, superseded, rejects);
        for (size_t i = 0; i < nreasons && i < TOP_REASONS; i++) {
            printf("%s{\"reason\": ", i ? ", " : "");
            graft__json_string(stdout, reasons[i].reason);
            printf(", \"count\": %zu}", reasons[i].count);
        }
        printf("]}}\n");
    } else {
        char b[32];
        printf("cache       %s\n", dir);
        printf("made by     graft %s, %s\n", graft__cache_view_graft_version(v),
               graft__cache_view_created(v));
        printf("model       %s\n", graft_cache_view_model_path(v));
        printf("sha256      %s\n", graft_cache_view_model_sha256(v));
        for (int t = 0; t < taps; t++) {
            char shape[128];
            graft__cache_shape_format(graft_cache_view_tap(v, t), shape, sizeof shape);
            printf("tap %-7d %s %s (%zu values)\n", t, graft_cache_view_tap(v, t)->name, shape,
                   graft_cache_view_dim(v, t));
        }
        printf("preprocess  %s\n", graft_cache_view_preprocess(v));
        printf("dtype       %s\n", dtype);
        printf("rows        %zu", rows);
        if (superseded) printf(" (and %zu superseded by later extractions)", superseded);
        printf("\n");
        for (int s = 0; s < 4; s++)
            if (split_rows[s])
                printf("  %-9s %zu\n", graft__cache_split_name((graft_split)s), split_rows[s]);
        printf("classes     %d\n", K);
        for (int k = 0; k < K; k++) printf("  %-9s %zu\n", graft_cache_view_class_name(v, k),
                                           class_rows[k]);
        if (unlabeled) printf("  %-9s %zu\n", "(none)", unlabeled);
        fmt_bytes(b, sizeof b, bytes);
        printf("segments    %zu\n", segments);
        printf("bytes       %s (%llu)\n", b, (unsigned long long)bytes);
        printf("rejects     %zu\n", rejects);
        for (size_t i = 0; i < nreasons && i < TOP_REASONS; i++)
            printf("  %6zu    %s\n", reasons[i].count, reasons[i].reason);
    }
    for (size_t i = 0; i < nreasons; i++) free(reasons[i].reason);
    free(reasons);
    free(class_rows);
    graft_cache_view_close(v);
    return 0;
}

/* ---- verify ---------------------------------------------------------------------------------- */

static const char verify_usage[] =
    "usage: graft cache verify DIR\n"
    "\n"
    "Re-reads the whole cache: the manifest, every index (fields, sha256 hashes), every npy\n"
    "file (header, dtype and shape against the manifest, rows against the index, size) and\n"
    "every code value (NaN or infinity is a problem), classes.txt and rejects.tsv. Files left\n"
    "by an interrupted run are warnings: readers ignore them and the next writer removes them.\n"
    "Prints each finding and a verdict; exit status 0 when sound, 1 when problems were found.\n";

static void verify_report(void *ctx, graft__verify_level level, const char *file,
                          const char *what) {
    static const char *const names[] = {"note", "warning", "problem"};
    (void)ctx;
    printf("%-8s %s: %s\n", names[level], file, what);
}

static int cmd_verify(int argc, char **argv) {
    const char *dir;
    int rc = parse_dir_only(argc, argv, verify_usage, &dir);
    if (rc >= 0) return rc;
    graft__verify_stats st;
    if (graft__cache_verify(dir, verify_report, NULL, &st)) {
        fprintf(stderr, "graft cache verify: %s\n", graft_last_error());
        return 1;
    }
    if (st.problems) {
        printf("verify %s: %zu problem%s found (%zu warnings)\n", dir, st.problems,
               st.problems == 1 ? "" : "s", st.warnings);
        return 1;
    }
    printf("verify %s: OK: %zu segments, %zu rows (%zu superseded), %zu values checked, %zu "
           "rejects, %zu warnings\n", dir, st.segments, st.live_rows, st.superseded,
           st.values_checked, st.rejects, st.warnings);
    return 0;
}

/* ---- export ---------------------------------------------------------------------------------- */

static const char export_usage[] =
    "usage: graft cache export DIR --format npy|libsvm|csv [options]\n"
    "\n"
    "Writes the current codes of one tap (superseded rows left out), flattened to D values:\n"
    "  npy      a directory (default DIR/export) with X.npy (N, D) float32, y.npy (N,) int64\n"
    "           (class index, -1 when unlabeled), keys.txt and classes.txt (one per line)\n"
    "  libsvm   'label idx:val ...' lines: label is the class index (-1 when unlabeled),\n"
    "           indices start at 1, zeros are left out; to OUT or standard output\n"
    "  csv      a 'key,label,split,f0,...' header, then one row per sample; to OUT or\n"
    "           standard output\n"
    "\n"
    "  -f, --format FMT     npy, libsvm or csv (required)\n"
    "  -t, --tap NAME       the tap to export (default: the first)\n"
    "  -s, --split SPLIT    only rows of train, val, test or none\n"
    "  -o, --output OUT     the directory (npy) or file (libsvm, csv)\n"
    "  -h, --help           show this help\n";

typedef enum export_format { EXPORT_NPY, EXPORT_LIBSVM, EXPORT_CSV } export_format;

/* Writes a field quoted when it holds a comma, quote or line break (RFC 4180). */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Key and class names, one per line, escaped like index fields (a name never spans lines). */
static void text_line(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '\n') fputs("\\n", f);
        else if (*s == '\t') fputs("\\t", f);
        else if (*s == '\r') fputs("\\r", f);
        else if (*s == '\\') fputs("\\\\", f);
        else fputc(*s, f);
    }
    fputc('\n', f);
}

static int close_checked(FILE *f, const char *path) {
    int bad = ferror(f);
    int e = errno;
    if (f != stdout) {
        if (fclose(f) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
    } else if (fflush(f) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) fprintf(stderr, "graft cache export: %s: write failed: %s\n", path, strerror(e));
    return bad;
}

/* Rows to export: indices into the view, in order. */
static size_t *select_rows(const graft_cache_view *v, int split, size_t *n) {
    const size_t rows = graft_cache_view_rows(v);
    size_t *sel = malloc((rows ? rows : 1) * sizeof *sel);
    if (!sel) return NULL;
    *n = 0;
    for (size_t r = 0; r < rows; r++) {
        graft_cache_row_info ri;
        graft_cache_view_row(v, r, &ri);
        if (split < 0 || (int)ri.split == split) sel[(*n)++] = r;
    }
    return sel;
}

static int export_npy(const graft_cache_view *v, int tap, const size_t *sel, size_t n,
                      const char *out) {
    char path[4200];
    const size_t D = graft_cache_view_dim(v, tap);
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "graft cache export: %s: %s\n", out, strerror(errno));
        return 1;
    }
    /* X.npy streamed: the header, then the rows in blocks, so that exports larger than memory
     * work. */
    snprintf(path, sizeof path, "%.4000s/X.npy", out);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "graft cache export: %s: %s\n", path, strerror(errno));
        return 1;
    }
    char header[GRAFT_NPY_HEADER_MAX];
    size_t hlen, shape[2] = {n, D};
    graft_npy_header_format(header, sizeof header, GRAFT_NPY_DTYPE_F32, 2, shape, &hlen);
    fwrite(header, 1, hlen, f);
    const size_t block = 256;
    float *buf = malloc(block * D * sizeof *buf);
    int64_t *y = malloc((n ? n : 1) * sizeof *y);
    if (!buf || !y) {
        fprintf(stderr, "graft cache export: out of memory\n");
        free(buf);
        free(y);
        fclose(f);
        return 1;
    }
    for (size_t i = 0; i < n;) {
        /* The longest run of consecutive view rows, at most one block. */
        size_t run = 1;
        while (i + run < n && run < block && sel[i + run] == sel[i] + run) run++;
        if (graft_cache_view_codes(v, tap, sel[i], run, buf)) {
            fprintf(stderr, "graft cache export: %s\n", graft_last_error());
            break;
        }
        if (fwrite(buf, sizeof *buf, run * D, f) != run * D) break;
        i += run;
    }
    free(buf);
    int bad = close_checked(f, path);
    for (size_t i = 0; i < n; i++) {
        graft_cache_row_info ri;
        graft_cache_view_row(v, sel[i], &ri);
        y[i] = ri.label;
    }
    snprintf(path, sizeof path, "%.4000s/y.npy", out);
    size_t yshape[1] = {n};
    if (!bad && graft_npy_write(path, GRAFT_NPY_DTYPE_I64, 1, yshape, y)) {
        fprintf(stderr, "graft cache export: %s\n", graft_last_error());
        bad = 1;
    }
    free(y);
    snprintf(path, sizeof path, "%.4000s/keys.txt", out);
    if (!bad && (f = fopen(path, "w")) != NULL) {
        for (size_t i = 0; i < n; i++) {
            graft_cache_row_info ri;
            graft_cache_view_row(v, sel[i], &ri);
            text_line(f, ri.key);
        }
        bad = close_checked(f, path);
    } else if (!bad) {
        fprintf(stderr, "graft cache export: %s: %s\n", path, strerror(errno));
        bad = 1;
    }
    snprintf(path, sizeof path, "%.4000s/classes.txt", out);
    if (!bad && (f = fopen(path, "w")) != NULL) {
        for (int k = 0; k < graft_cache_view_class_count(v); k++)
            text_line(f, graft_cache_view_class_name(v, k));
        bad = close_checked(f, path);
    } else if (!bad) {
        fprintf(stderr, "graft cache export: %s: %s\n", path, strerror(errno));
        bad = 1;
    }
    if (!bad)
        fprintf(stderr, "exported %zu rows of %zu values to %s/{X,y}.npy, keys.txt, classes.txt\n",
                n, D, out);
    return bad;
}

static int export_text(const graft_cache_view *v, int tap, const size_t *sel, size_t n,
                       export_format fmt, const char *out) {
    const size_t D = graft_cache_view_dim(v, tap);
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "graft cache export: %s: %s\n", out, strerror(errno));
        return 1;
    }
    float *x = malloc((D ? D : 1) * sizeof *x);
    if (!x) {
        if (out) fclose(f);
        fprintf(stderr, "graft cache export: out of memory\n");
        return 1;
    }
    if (fmt == EXPORT_CSV) {
        fputs("key,label,split", f);
        for (size_t d = 0; d < D; d++) fprintf(f, ",f%zu", d);
        fputc('\n', f);
    }
    int bad = 0;
    for (size_t i = 0; i < n && !bad && !ferror(f); i++) {
        graft_cache_row_info ri;
        graft_cache_view_row(v, sel[i], &ri);
        if (graft_cache_view_codes(v, tap, sel[i], 1, x)) {
            fprintf(stderr, "graft cache export: %s\n", graft_last_error());
            bad = 1;
            break;
        }
        if (fmt == EXPORT_LIBSVM) {
            fprintf(f, "%d", ri.label);
            /* %.9g: every float32 value reads back exactly. */
            for (size_t d = 0; d < D; d++)
                if (x[d] != 0.0f) fprintf(f, " %zu:%.9g", d + 1, (double)x[d]);
        } else {
            csv_field(f, ri.key);
            fputc(',', f);
            csv_field(f, ri.label >= 0 ? graft_cache_view_class_name(v, ri.label) : "");
            fprintf(f, ",%s", graft__cache_split_name(ri.split));
            for (size_t d = 0; d < D; d++) fprintf(f, ",%.9g", (double)x[d]);
        }
        fputc('\n', f);
    }
    free(x);
    bad |= close_checked(f, out ? out : "standard output");
    return bad;
}

static int cmd_export(int argc, char **argv) {
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"tap", required_argument, 0, 't'},
                                         {"split", required_argument, 0, 's'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *format = NULL, *tap_name = NULL, *split_name = NULL, *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:t:s:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 't': tap_name = optarg; break;
        case 's': split_name = optarg; break;
        case 'o': out = optarg; break;
        case 'h': fputs(export_usage, stdout); return 0;
        default: return 2;
        }
    }
    if (optind + 1 != argc) return usage_error("export", export_usage, "expected one DIR");
    const char *dir = argv[optind];
    export_format fmt;
    if (!format) return usage_error("export", export_usage, "--format is required");
    if (!strcmp(format, "npy")) fmt = EXPORT_NPY;
    else if (!strcmp(format, "libsvm")) fmt = EXPORT_LIBSVM;
    else if (!strcmp(format, "csv")) fmt = EXPORT_CSV;
    else return usage_error("export", export_usage, "--format must be npy, libsvm or csv");
    int split = -1;
    if (split_name) {
        graft_split s;
        if (graft__cache_split_parse(split_name, &s))
            return usage_error("export", export_usage,
                               "--split must be train, val, test or none");
        split = (int)s;
    }
    graft_cache_view *v;
    if (open_view("export", dir, &v)) return 1;
    int tap = 0;
    if (tap_name) {
        tap = -1;
        for (int t = 0; t < graft_cache_view_tap_count(v); t++)
            if (!strcmp(graft_cache_view_tap(v, t)->name, tap_name)) tap = t;
        if (tap < 0) {
            fprintf(stderr, "graft cache export: the cache has no tap '%s'; it has:", tap_name);
            for (int t = 0; t < graft_cache_view_tap_count(v); t++)
                fprintf(stderr, " %s", graft_cache_view_tap(v, t)->name);
            fprintf(stderr, "\n");
            graft_cache_view_close(v);
            return 2;
        }
    }
    size_t n;
    size_t *sel = select_rows(v, split, &n);
    int rc = 1;
    if (!sel) {
        fprintf(stderr, "graft cache export: out of memory\n");
    } else if (fmt == EXPORT_NPY) {
        char def[4200];
        snprintf(def, sizeof def, "%s/export", dir);
        rc = export_npy(v, tap, sel, n, out ? out : def);
    } else {
        rc = export_text(v, tap, sel, n, fmt, out);
    }
    free(sel);
    graft_cache_view_close(v);
    return rc;
}

/* ---- dispatch -------------------------------------------------------------------------------- */

int graft__cmd_cache(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"ls", cmd_ls}, {"stat", cmd_stat}, {"verify", cmd_verify}, {"export", cmd_export}};
    if (argc < 2) {
        fputs(cache_usage, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(cache_usage, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "graft cache: unknown command '%s'\n\n%s", argv[1], cache_usage);
    return 2;
}
