/*
 * tests/pipeline/check_loop.c: `graft extract` end to end: the libuv pipeline of
 * pipeline/loop/ over archives the test generates (`graft demo-data`: JPEG and PNG textures in
 * class folders, a truncated JPEG and a README among them), checked through the cache's view:
 * which keys, labels and splits arrive, that the codes equal an independent decode + forward of
 * the same bytes, that a second run resumes, that a SIGKILL'd run resumed gives exactly the
 * keys and vectors of an uninterrupted one, that broken shards end alone, and that a cache made
 * differently is refused. Plus hymenoptera.tar with a shared MobileNet when ../shared exists.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "graft/learn.h"
#include "graft/pipeline.h"

#ifndef GRAFT_BUILD_DIR
#define GRAFT_BUILD_DIR "build"
#endif

#define DEMO_CLASSES 6

static int make_tmpdir(char *dir, size_t cap) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/graft-loop-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static const char *graft_bin(void) { return GRAFT_BUILD_DIR "/graft"; }

/* demo-data with `per_class` training images into dir/name, members under prefix/. */
static int make_demo(const char *dir, int per_class, const char *prefix, const char *name,
                     int seed) {
    return graft_check_run("%s demo-data -n %d --seed %d --prefix %s --name %s %s >/dev/null",
                           graft_bin(), per_class, seed, prefix, name, dir);
}

static int demo_transform(graft_transform *t) { return graft_transform_preset("imagenet", 64, t); }

static void demo_options(graft_extract_options *o, const char *dir, const char *cache,
                         const char *const *inputs, int n_inputs, char *model, size_t cap) {
    memset(o, 0, sizeof *o);
    snprintf(model, cap, "%s/demo.onnx", dir);
    o->model_path = model;
    o->cache_dir = cache;
    o->inputs = inputs;
    o->input_count = n_inputs;
    o->batch = 8;
    o->segment_rows = 16;
    demo_transform(&o->transform);
}

/* Rows of the view whose key starts with prefix. */
static size_t count_prefix(const graft_cache_view *v, const char *prefix) {
    size_t n = 0;
    for (size_t r = 0; r < graft_cache_view_rows(v); r++) {
        graft_cache_row_info ri;
        graft_cache_view_row(v, r, &ri);
        n += strncmp(ri.key, prefix, strlen(prefix)) == 0;
    }
    return n;
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* Reads member `name` of the tar at `path` into a malloc'd buffer. */
static uint8_t *tar_member(const char *path, const char *name, size_t *len) {
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    uint8_t *out = NULL;
    if (archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK) {
        struct archive_entry *e;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
            if (strcmp(archive_entry_pathname(e), name) != 0) continue;
            *len = (size_t)archive_entry_size(e);
            out = malloc(*len ? *len : 1);
            if (out && archive_read_data(a, out, *len) != (la_ssize_t)*len) {
                free(out);
                out = NULL;
            }
            break;
        }
    }
    archive_read_free(a);
    return out;
}

/* The code of one image computed without the pipeline: decode, transform, forward. */
static int direct_code(const char *model_path, const graft_transform *t, const uint8_t *bytes,
                       size_t len, float *code, size_t dim, char *msg, size_t msglen) {
    graft_model *m = NULL;
    graft_net *net = NULL;
    float *x = malloc(sizeof(float) * (size_t)t->width * (size_t)t->height * 3);
    int rc = x ? graft_model_load(model_path, NULL, &m) : GRAFT_ENOMEM;
    if (!rc) rc = graft_net_create(m, 1, t->height, t->width, NULL, 0, NULL, &net);
    if (!rc) rc = graft_transform_apply(t, bytes, len, 0, GRAFT_IMAGE_LAYOUT_HWC, x);
    if (!rc) rc = graft_net_run(net, x, GRAFT_LAYOUT_NHWC);
    if (!rc) {
        const float *y;
        int rank;
        int64_t dims[GRAFT_MODEL_MAX_RANK];
        rc = graft_net_tap(net, 0, &y, &rank, dims);
        if (!rc) memcpy(code, y, dim * sizeof(float));
    }
    if (rc) graft_check_fail(msg, msglen, "direct forward: %s", graft_last_error());
    graft_net_destroy(net);
    graft_model_destroy(m);
    free(x);
    return rc;
}

static int check_demo_end_to_end(char *msg, size_t msglen) {
    char dir[512], cache[600], model[600], tar[600];
    if (make_tmpdir(dir, sizeof dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    int per_class = 12, val = (per_class + 2) / 3;
    if (make_demo(dir, per_class, "demo", "a.tar", 1))
        return graft_check_fail(msg, msglen, "graft demo-data failed");
    snprintf(cache, sizeof cache, "%s/cache", dir);
    snprintf(tar, sizeof tar, "%s/a.tar", dir);
    const char *inputs[1] = {tar};
    graft_extract_options o;
    demo_options(&o, dir, cache, inputs, 1, model, sizeof model);
    graft_extract_stats st;
    int rc = graft_extract_run(&o, &st);
    if (rc) return graft_check_fail(msg, msglen, "extract: %s", graft_last_error());
    uint64_t images = (uint64_t)DEMO_CLASSES * (uint64_t)(per_class + val);
    if (st.extracted != images || st.committed != images || st.rejects != 2 || st.cached)
        return graft_check_fail(msg, msglen,
                                "extracted %llu committed %llu rejects %llu cached %llu, "
                                "expected %llu, %llu, 2, 0",
                                (unsigned long long)st.extracted, (unsigned long long)st.committed,
                                (unsigned long long)st.rejects, (unsigned long long)st.cached,
                                (unsigned long long)images, (unsigned long long)images);
    char path[700];
    snprintf(path, sizeof path, "%s/rejects.tsv", cache);
    int lines = count_lines(path);
    if (lines < 2 || lines > 3) /* a header line is allowed */
        return graft_check_fail(msg, msglen, "rejects.tsv has %d lines, expected the 2 rejects",
                                lines);

    graft_cache_view *v = NULL;
    if (graft_cache_view_open(cache, &v))
        return graft_check_fail(msg, msglen, "view: %s", graft_last_error());
    int fail = 0;
    if (graft_cache_view_rows(v) != images || graft_cache_view_class_count(v) != DEMO_CLASSES ||
        graft_cache_view_dim(v, 0) != 128) {
        fail = graft_check_fail(msg, msglen, "view: %zu rows, %d classes, dim %zu",
                                graft_cache_view_rows(v), graft_cache_view_class_count(v),
                                graft_cache_view_dim(v, 0));
    }
    /* Rows keep the read order: the first row is the first image of the tar. */
    size_t n_val = 0;
    for (size_t r = 0; r < graft_cache_view_rows(v) && !fail; r++) {
        graft_cache_row_info ri;
        graft_cache_view_row(v, r, &ri);
        const char *cls = graft_cache_view_class_name(v, ri.label);
        if (ri.label < 0 || !strstr(ri.key, cls))
            fail = graft_check_fail(msg, msglen, "row %zu: key %s has label %s", r, ri.key,
                                    ri.label < 0 ? "(none)" : cls);
        else if ((ri.split == GRAFT_SPLIT_VAL) != (strstr(ri.key, "/val/") != NULL))
            fail = graft_check_fail(msg, msglen, "row %zu: key %s has split %s", r, ri.key,
                                    graft_split_name(ri.split));
        n_val += ri.split == GRAFT_SPLIT_VAL;
    }
    if (!fail && n_val != (size_t)DEMO_CLASSES * (size_t)val)
        fail = graft_check_fail(msg, msglen, "%zu val rows", n_val);
    /* Three rows (first, a PNG, last) against an independent forward of the same bytes. */
    size_t probe[3] = {0, 4, graft_cache_view_rows(v) - 1};
    for (int p = 0; p < 3 && !fail; p++) {
        graft_cache_row_info ri;
        graft_cache_view_row(v, probe[p], &ri);
        size_t len = 0;
        uint8_t *bytes = tar_member(tar, ri.member, &len);
        float got[128], want[128];
        if (!bytes) {
            fail = graft_check_fail(msg, msglen, "member %s not in the tar", ri.member);
            break;
        }
        graft_cache_view_codes(v, 0, probe[p], 1, got);
        if (direct_code(model, &o.transform, bytes, len, want, 128, msg, msglen)) fail = 1;
        for (int i = 0; i < 128 && !fail; i++)
            if (got[i] != want[i])
                fail = graft_check_fail(msg, msglen, "%s: code[%d] = %g, direct forward %g",
                                        ri.key, i, got[i], want[i]);
        free(bytes);
    }
    graft_cache_view_close(v);
    if (fail) return GRAFT_CHECK_FAIL;

    /* A second run over the same data resumes: nothing is extracted again. */
    rc = graft_extract_run(&o, &st);
    /* The truncated JPEG is known by its hash; the README has no image bytes to hash. */
    if (rc || st.extracted || st.cached != images || st.rejected_before != 1)
        return graft_check_fail(msg, msglen,
                                "second run: rc %d, extracted %llu, cached %llu, rejected "
                                "before %llu (expected 0, %llu, 1)",
                                rc, (unsigned long long)st.extracted,
                                (unsigned long long)st.cached,
                                (unsigned long long)st.rejected_before, (unsigned long long)images);

    /* Other preprocessing on the same cache is refused, naming what differs. */
    o.transform.resize = 80;
    rc = graft_extract_run(&o, &st);
    if (rc != GRAFT_EMISMATCH || !strstr(graft_last_error(), "preprocess"))
        return graft_check_fail(msg, msglen, "other preprocessing: rc %d (%s)", rc,
                                graft_last_error());
    graft_check_run("rm -rf %s", dir);
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "%llu images, 2 rejects, resumed",
                           (unsigned long long)images);
}

/* Loads every (key -> code) of a cache into parallel arrays sorted as the view gives them. */
static int compare_caches(const char *a_dir, const char *b_dir, char *msg, size_t msglen) {
    graft_cache_view *a = NULL, *b = NULL;
    if (graft_cache_view_open(a_dir, &a) || graft_cache_view_open(b_dir, &b)) {
        graft_cache_view_close(a);
        return graft_check_fail(msg, msglen, "view: %s", graft_last_error());
    }
    int fail = 0;
    size_t n = graft_cache_view_rows(a), dim = graft_cache_view_dim(a, 0);
    if (graft_cache_view_rows(b) != n || graft_cache_view_dim(b, 0) != dim)
        fail = graft_check_fail(msg, msglen, "%zu rows vs %zu", n, graft_cache_view_rows(b));
    float *ca = malloc(sizeof(float) * dim), *cb = malloc(sizeof(float) * dim);
    /* Keys are unique in each view; match them by a linear scan of b (small caches). */
    for (size_t r = 0; r < n && !fail; r++) {
        graft_cache_row_info ra;
        graft_cache_view_row(a, r, &ra);
        size_t s = 0;
        graft_cache_row_info rb;
        for (; s < n; s++) {
            graft_cache_view_row(b, s, &rb);
            if (!strcmp(ra.key, rb.key)) break;
        }
        if (s == n) {
            fail = graft_check_fail(msg, msglen, "key %s missing after the resume", ra.key);
            break;
        }
        graft_cache_view_codes(a, 0, r, 1, ca);
        graft_cache_view_codes(b, 0, s, 1, cb);
        if (memcmp(ca, cb, sizeof(float) * dim) || ra.label != rb.label || ra.split != rb.split)
            fail = graft_check_fail(msg, msglen, "key %s differs after the resume", ra.key);
    }
    free(ca);
    free(cb);
    graft_cache_view_close(a);
    graft_cache_view_close(b);
    return fail;
}

static int count_segments(const char *cache) {
    char path[700];
    snprintf(path, sizeof path, "%s/segments", cache);
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".index.tsv") != NULL && e->d_name[0] != '.';
    closedir(d);
    return n;
}

/*
 * Starts `graft extract` of dir/a.tar into cache, slowed to one image per pass, one decode
 * thread and 8-row segments so that it can be caught mid-way; output to `out`. Once `segments`
 * segments are committed (or after 6 s) sends `sig` and reaps it: *committed and *status.
 * -1 when fork fails.
 */
static int interrupt_extract(const char *dir, const char *cache, const char *out,
                             const char *mode, int segments, int sig, int *committed,
                             int *status) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char model[600], tar[600];
        snprintf(model, sizeof model, "%s/demo.onnx", dir);
        snprintf(tar, sizeof tar, "%s/a.tar", dir);
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(graft_bin(), "graft", "extract", "-m", model, "-c", cache, "--size", "64", "-b",
              "1", "--segment-rows", "8", "--decode-threads", "1", mode, tar, (char *)NULL);
        _exit(127);
    }
    *committed = 0;
    for (int i = 0; i < 3000 && *committed < segments; i++) {
        usleep(2000);
        *committed = count_segments(cache);
    }
    kill(pid, sig);
    waitpid(pid, status, 0);
    return 0;
}

static int check_sigkill_resume(char *msg, size_t msglen) {
    char dir[512];
    if (make_tmpdir(dir, sizeof dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    if (make_demo(dir, 150, "demo", "a.tar", 3))
        return graft_check_fail(msg, msglen, "graft demo-data failed");
    const char *flags = "--size 64 -b 4 --segment-rows 8 -q";
    if (graft_check_run("%s extract -m %s/demo.onnx -c %s/whole %s %s/a.tar >/dev/null",
                        graft_bin(), dir, dir, flags, dir))
        return graft_check_fail(msg, msglen, "uninterrupted run failed");

    /* The run to kill: slowed to one image per pass and one thread so it is caught mid-way. */
    char cache[600];
    snprintf(cache, sizeof cache, "%s/killed", dir);
    int segments = 0, status;
    if (interrupt_extract(dir, cache, "/dev/null", "-q", 3, SIGKILL, &segments, &status))
        return graft_check_fail(msg, msglen, "fork: %s", strerror(errno));
    if (segments < 3) return graft_check_fail(msg, msglen, "no segment committed in 6 s");
    if (WIFEXITED(status))
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP,
                               "the run finished before it could be killed");
    int before = count_segments(cache);
    if (graft_check_run("%s extract -m %s/demo.onnx -c %s %s %s/a.tar >/dev/null", graft_bin(), dir,
                        cache, flags, dir))
        return graft_check_fail(msg, msglen, "resumed run failed");
    char whole[600];
    snprintf(whole, sizeof whole, "%s/whole", dir);
    if (compare_caches(whole, cache, msg, msglen)) return GRAFT_CHECK_FAIL;
    graft_check_run("rm -rf %s", dir);
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS,
                           "killed after %d segments; resumed cache equals the uninterrupted one",
                           before);
}

/*
 * SIGINT mid-run: the run stops cleanly (exit 130), everything it says it committed is in the
 * cache and verifies, and the next run resumes to the complete set.
 */
static int check_sigint(char *msg, size_t msglen) {
    char dir[512], cache[600], out[600];
    if (make_tmpdir(dir, sizeof dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    if (make_demo(dir, 150, "demo", "a.tar", 4))
        return graft_check_fail(msg, msglen, "graft demo-data failed");
    snprintf(cache, sizeof cache, "%s/cache", dir);
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    int segments = 0, status;
    if (interrupt_extract(dir, cache, out, "--json", 2, SIGINT, &segments, &status))
        return graft_check_fail(msg, msglen, "fork: %s", strerror(errno));
    if (segments < 2) return graft_check_fail(msg, msglen, "no segment committed in 6 s");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP,
                               "the run finished before the signal arrived");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 130)
        return graft_check_fail(msg, msglen, "SIGINT: %s %d, expected exit 130",
                                WIFEXITED(status) ? "exit" : "signal",
                                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    /* The summary's committed count is what the cache holds, and it verifies. */
    FILE *f = fopen(out, "r");
    char line[4096];
    long committed = -1;
    while (f && fgets(line, sizeof line, f)) {
        const char *c = strstr(line, "\"event\":\"summary\"");
        const char *k = c ? strstr(line, "\"committed\":") : NULL;
        if (k) committed = atol(k + 12);
    }
    if (f) fclose(f);
    graft_cache_view *v = NULL;
    if (graft_cache_view_open(cache, &v))
        return graft_check_fail(msg, msglen, "view after SIGINT: %s", graft_last_error());
    size_t rows = graft_cache_view_rows(v);
    graft_cache_view_close(v);
    if (committed < 1 || (size_t)committed != rows)
        return graft_check_fail(msg, msglen, "summary says %ld committed, the cache has %zu",
                                committed, rows);
    if (graft_check_run("%s cache verify %s >/dev/null", graft_bin(), cache))
        return graft_check_fail(msg, msglen, "graft cache verify failed after SIGINT");
    if (graft_check_run("%s extract -m %s/demo.onnx -c %s --size 64 -q %s/a.tar >/dev/null 2>&1",
                        graft_bin(), dir, cache, dir))
        return graft_check_fail(msg, msglen, "the resumed run failed");
    if (graft_cache_view_open(cache, &v))
        return graft_check_fail(msg, msglen, "view after the resume: %s", graft_last_error());
    size_t all = graft_cache_view_rows(v);
    graft_cache_view_close(v);
    if (all != (size_t)DEMO_CLASSES * (150 + 50))
        return graft_check_fail(msg, msglen, "%zu rows after the resume", all);
    graft_check_run("rm -rf %s", dir);
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "stopped with %zu rows committed",
                           rows);
}

typedef struct events {
    int rejects, shard_errors;
    char first_shard_error[512];
} events;

static void record_event(void *user, const graft_extract_event *ev) {
    events *e = user;
    if (ev->kind == GRAFT_EXTRACT_EVENT_REJECT) e->rejects++;
    if (ev->kind == GRAFT_EXTRACT_EVENT_SHARD_ERROR && !e->shard_errors++)
        snprintf(e->first_shard_error, sizeof e->first_shard_error, "%s: %s", ev->shard,
                 ev->reason);
}

static int check_bad_shard(char *msg, size_t msglen) {
    char dir[512], cache[600], model[600], a[600], b[600], broken[600];
    if (make_tmpdir(dir, sizeof dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    if (make_demo(dir, 30, "one", "a.tar", 1) || make_demo(dir, 10, "two", "b.tar", 2))
        return graft_check_fail(msg, msglen, "graft demo-data failed");
    snprintf(a, sizeof a, "%s/a.tar", dir);
    snprintf(b, sizeof b, "%s/b.tar", dir);
    snprintf(broken, sizeof broken, "%s/broken.tar.gz", dir);
    /* A gzip'd copy of a.tar cut in the middle of its compressed stream. (libarchive loses
       the last 64 KiB block before the cut, so the cut is well into the archive.) */
    if (graft_check_run(
            "gzip -c %s > %s.full && head -c $(( $(stat -c %%s %s.full) / 2 )) %s.full > %s", a,
            broken, broken, broken, broken))
        return graft_check_fail(msg, msglen, "cannot write the broken shard");
    snprintf(cache, sizeof cache, "%s/cache", dir);
    const char *inputs[3] = {broken, b, "/nonexistent/shard.tar"};
    graft_extract_options o;
    demo_options(&o, dir, cache, inputs, 3, model, sizeof model);
    events ev = {0};
    o.on_event = record_event;
    o.user = &ev;
    graft_extract_stats st;
    int rc = graft_extract_run(&o, &st);
    if (rc) return graft_check_fail(msg, msglen, "extract: %s", graft_last_error());
    if (st.shard_errors != 2 || ev.shard_errors != 2 || !strstr(ev.first_shard_error, "broken"))
        return graft_check_fail(msg, msglen, "%llu shard errors (first: %s), expected 2",
                                (unsigned long long)st.shard_errors, ev.first_shard_error);
    graft_cache_view *v = NULL;
    if (graft_cache_view_open(cache, &v))
        return graft_check_fail(msg, msglen, "view: %s", graft_last_error());
    size_t from_b = count_prefix(v, "two/"), from_a = count_prefix(v, "one/");
    graft_cache_view_close(v);
    size_t all_b = (size_t)DEMO_CLASSES * (10 + 4), all_a = (size_t)DEMO_CLASSES * (30 + 10);
    if (from_b != all_b || from_a == 0 || from_a >= all_a)
        return graft_check_fail(msg, msglen,
                                "%zu rows from the good shard (want %zu), %zu from the broken "
                                "one (want some, not all)",
                                from_b, all_b, from_a);
    graft_check_run("rm -rf %s", dir);
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "broken shard gave %zu rows first",
                           from_a);
}

static int check_strict(char *msg, size_t msglen) {
    char dir[512], cache[600], model[600], tar[600];
    if (make_tmpdir(dir, sizeof dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    if (make_demo(dir, 10, "demo", "a.tar", 1))
        return graft_check_fail(msg, msglen, "graft demo-data failed");
    snprintf(tar, sizeof tar, "%s/a.tar", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    const char *inputs[1] = {tar};
    graft_extract_options o;
    demo_options(&o, dir, cache, inputs, 1, model, sizeof model);
    o.strict = 1;
    graft_extract_stats st;
    int rc = graft_extract_run(&o, &st);
    if (rc != GRAFT_ECORRUPT || !strstr(graft_last_error(), "truncated"))
        return graft_check_fail(msg, msglen, "strict: rc %d (%s), expected GRAFT_ECORRUPT naming "
                                "the truncated member", rc, graft_last_error());
    /* What was computed before the stop is committed and readable. */
    graft_cache_view *v = NULL;
    if (graft_cache_view_open(cache, &v))
        return graft_check_fail(msg, msglen, "view after strict stop: %s", graft_last_error());
    size_t rows = graft_cache_view_rows(v);
    graft_cache_view_close(v);
    if (rows != st.committed)
        return graft_check_fail(msg, msglen, "%zu rows in the cache, %llu committed", rows,
                                (unsigned long long)st.committed);
    graft_check_run("rm -rf %s", dir);
    return GRAFT_CHECK_PASS;
}

/* Standard input through the CLI, and its JSON lines. */
static int check_stdin(char *msg, size_t msglen) {
    char dir[512];
    if (make_tmpdir(dir, sizeof dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    if (make_demo(dir, 5, "demo", "a.tar", 1))
        return graft_check_fail(msg, msglen, "graft demo-data failed");
    char out[600];
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    int rc = graft_check_run(
        "gzip -c %s/a.tar | %s extract -m %s/demo.onnx -c %s/cache --size 64 --json - "
        "> %s 2>&1",
        dir, graft_bin(), dir, dir, out);
    FILE *f = fopen(out, "r");
    char line[4096], summary[4096] = "";
    int rejects = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "\"event\":\"summary\"")) snprintf(summary, sizeof summary, "%s", line);
        if (strstr(line, "\"event\":\"reject\"")) rejects++;
    }
    if (f) fclose(f);
    char want[64];
    snprintf(want, sizeof want, "\"extracted\":%d,", DEMO_CLASSES * (5 + 2));
    if (rc || !strstr(summary, want) || rejects != 2)
        return graft_check_fail(msg, msglen, "exit %d, %d reject lines, summary: %s", rc,
                                rejects, summary[0] ? summary : "(none)");
    graft_check_run("rm -rf %s", dir);
    return GRAFT_CHECK_PASS;
}

/* A cache on a 256 KiB tmpfs: the disk fills, the run stops, committed segments stay good. */
static int check_disk_full(char *msg, size_t msglen) {
    char dir[512], mnt[600], cache[700], model[600], tar[600];
    if (make_tmpdir(dir, sizeof dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    snprintf(mnt, sizeof mnt, "%s/small", dir);
    mkdir(mnt, 0755);
    if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=256k") != 0) {
        graft_check_run("rm -rf %s", dir);
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP,
                               "cannot mount a small tmpfs (needs root): %s", strerror(errno));
    }
    int fail = 0;
    if (make_demo(dir, 300, "demo", "a.tar", 1)) {
        fail = graft_check_fail(msg, msglen, "graft demo-data failed");
        goto done;
    }
    snprintf(tar, sizeof tar, "%s/a.tar", dir);
    snprintf(cache, sizeof cache, "%s/cache", mnt);
    const char *inputs[1] = {tar};
    graft_extract_options o;
    demo_options(&o, dir, cache, inputs, 1, model, sizeof model);
    o.segment_rows = 64;
    graft_extract_stats st;
    int rc = graft_extract_run(&o, &st);
    if (rc != GRAFT_ENOSPC) {
        fail = graft_check_fail(msg, msglen, "rc %d (%s), expected GRAFT_ENOSPC", rc,
                                graft_last_error());
        goto done;
    }
    graft_cache_view *v = NULL;
    if (graft_cache_view_open(cache, &v)) {
        fail = graft_check_fail(msg, msglen, "view after a full disk: %s", graft_last_error());
        goto done;
    }
    size_t rows = graft_cache_view_rows(v);
    graft_cache_view_close(v);
    if (rows == 0 || rows != st.committed)
        fail = graft_check_fail(msg, msglen, "%zu rows readable, %llu committed", rows,
                                (unsigned long long)st.committed);
    else
        graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "%zu rows committed before the disk filled",
                        rows);
done:
    umount(mnt);
    graft_check_run("rm -rf %s", dir);
    return fail ? GRAFT_CHECK_FAIL : GRAFT_CHECK_PASS;
}

/* hymenoptera.tar through the shared MobileNet V1 embedding model. */
static int check_hymenoptera(char *msg, size_t msglen) {
    const char *root = getenv("GRAFT_SHARED");
    char tar[1024], model[1024], dir[512], cache[600];
    snprintf(tar, sizeof tar, "%s/data/hymenoptera.tar", root && *root ? root : "../shared");
    snprintf(model, sizeof model, "%s/models/mobilenet_v1_1.0_224_embedding.onnx",
             root && *root ? root : "../shared");
    if (access(tar, R_OK) || access(model, R_OK))
        return graft_check_say(msg, msglen, GRAFT_CHECK_SKIP,
                               "%s or %s not found: set GRAFT_SHARED to the shared data directory",
                               tar, model);
    if (make_tmpdir(dir, sizeof dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    snprintf(cache, sizeof cache, "%s/cache", dir);
    const char *inputs[1] = {tar};
    graft_extract_options o = {0};
    o.model_path = model;
    o.cache_dir = cache;
    o.inputs = inputs;
    o.input_count = 1;
    graft_transform_preset("stretch", 224, &o.transform);
    graft_extract_stats st;
    int rc = graft_extract_run(&o, &st);
    if (rc) return graft_check_fail(msg, msglen, "extract: %s", graft_last_error());
    graft_cache_view *v = NULL;
    if (graft_cache_view_open(cache, &v))
        return graft_check_fail(msg, msglen, "view: %s", graft_last_error());
    size_t rows = graft_cache_view_rows(v), train = 0, val = 0;
    int fail = 0;
    for (size_t r = 0; r < rows; r++) {
        graft_cache_row_info ri;
        graft_cache_view_row(v, r, &ri);
        train += ri.split == GRAFT_SPLIT_TRAIN;
        val += ri.split == GRAFT_SPLIT_VAL;
    }
    if (graft_cache_view_class_count(v) != 2 || strcmp(graft_cache_view_class_name(v, 0), "ants") ||
        graft_cache_view_dim(v, 0) != 1024 || rows + st.rejects != st.samples + st.rejects ||
        rows < 390 || train + val != rows)
        fail = graft_check_fail(msg, msglen, "%zu rows (%zu train, %zu val), %d classes, %llu "
                                "rejects", rows, train, val, graft_cache_view_class_count(v),
                                (unsigned long long)st.rejects);
    graft_cache_view_close(v);
    graft_check_run("rm -rf %s", dir);
    if (fail) return GRAFT_CHECK_FAIL;
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS,
                           "%zu codes (%zu train, %zu val), %llu rejects, %.1f img/s", rows,
                           train, val, (unsigned long long)st.rejects,
                           st.elapsed > 0 ? (double)st.extracted / st.elapsed : 0.0);
}


/* Reads the first line of a command's output into buf; the exit status, or -1. */
static int run_capture(char *buf, size_t cap, const char *cmd) {
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    buf[0] = '\0';
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * train, eval and predict through the CLI on the demo data: the head learns the textures, eval's
 * accuracy is what predict's labels give on the same val images, and a corrupted head file or a
 * head meeting another model's codes is refused.
 */
static int check_train_eval_predict(char *msg, size_t msglen) {
    char dir[512], cmd[4096], out[65536];
    if (make_tmpdir(dir, sizeof dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    if (make_demo(dir, 40, "demo", "a.tar", 5))
        return graft_check_fail(msg, msglen, "graft demo-data failed");
    const char *g = graft_bin();
    if (graft_check_run("%s extract -m %s/demo.onnx --size 64 --resize 0 -q -c %s/cache %s/a.tar "
                        ">/dev/null 2>&1",
                        g, dir, dir, dir) ||
        graft_check_run("%s train -c %s/cache -o %s/head.bin --C 0.1,1 >/dev/null", g, dir, dir))
        return graft_check_fail(msg, msglen, "extract or train failed");
    snprintf(cmd, sizeof cmd, "%s eval -c %s/cache -o %s/head.bin --json", g, dir, dir);
    if (run_capture(out, sizeof out, cmd))
        return graft_check_fail(msg, msglen, "eval failed: %s", out);
    const char *acc = strstr(out, "\"accuracy\": ");
    const char *rows = strstr(out, "\"n\": ");
    if (!acc || !rows) return graft_check_fail(msg, msglen, "eval JSON without accuracy: %s", out);
    double accuracy = atof(acc + 12);
    long n = atol(rows + 5);
    if (n != DEMO_CLASSES * 14 || accuracy < 0.5)
        return graft_check_fail(msg, msglen, "eval: %ld rows, accuracy %.3f", n, accuracy);
    /* predict's labels on the val images give the same accuracy. */
    snprintf(cmd, sizeof cmd,
             "%s predict %s/demo.onnx %s/head.bin %s/a.tar 2>/dev/null | awk -F, "
             "'$1 ~ /\\/val\\// {split($1, a, \"/\"); n++; if (a[3] == $2) ok++} "
             "END {printf \"%%d %%d\", ok, n}'",
             g, dir, dir, dir);
    int ok = -1, total = -1;
    if (run_capture(out, sizeof out, cmd) || sscanf(out, "%d %d", &ok, &total) != 2 ||
        total != n || fabs((double)ok / total - accuracy) > 1e-9)
        return graft_check_fail(msg, msglen, "predict: %d/%d correct, eval said %.6f of %ld", ok,
                                total, accuracy, n);
    /* A plain image file is an input too: one sample keyed by its file name. */
    char tar[600], one[600];
    snprintf(tar, sizeof tar, "%s/a.tar", dir);
    snprintf(one, sizeof one, "%s/one.jpg", dir);
    size_t len = 0;
    uint8_t *bytes = tar_member(tar, "demo/val/vstripes/vstripes_0000.jpg", &len);
    FILE *f = bytes ? fopen(one, "wb") : NULL;
    if (!f || fwrite(bytes, 1, len, f) != len) {
        free(bytes);
        if (f) fclose(f);
        return graft_check_fail(msg, msglen, "cannot write %s", one);
    }
    fclose(f);
    free(bytes);
    snprintf(cmd, sizeof cmd, "%s predict %s/demo.onnx %s/head.bin %s", g, dir, dir, one);
    if (run_capture(out, sizeof out, cmd) || strncmp(out, "one,", 4) || strchr(out, '\n') !=
        out + strlen(out) - 1)
        return graft_check_fail(msg, msglen, "predict on one image file: %s", out);
    /* A flipped byte in the head file is refused by every command. */
    if (graft_check_run("cp %s/head.bin %s/bad.bin && printf 'X' | dd of=%s/bad.bin bs=1 seek=40 "
                        "conv=notrunc 2>/dev/null",
                        dir, dir, dir))
        return graft_check_fail(msg, msglen, "cannot write the corrupted head");
    snprintf(cmd, sizeof cmd, "%s eval -c %s/cache -o %s/bad.bin 2>&1", g, dir, dir);
    if (run_capture(out, sizeof out, cmd) != 1 || !strstr(out, "head file"))
        return graft_check_fail(msg, msglen, "a corrupted head was not refused: %s", out);
    /* The head against another model's codes. */
    if (make_demo(dir, 2, "other", "b.tar", 6) == 0) {
        /* demo-data rewrote demo.onnx with seed 6: other weights, another sha256 */
        snprintf(cmd, sizeof cmd, "%s predict %s/demo.onnx %s/head.bin %s/b.tar 2>&1", g, dir,
                 dir, dir);
        if (run_capture(out, sizeof out, cmd) != 1 || !strstr(out, "sha256"))
            return graft_check_fail(msg, msglen, "another model's codes were not refused: %s",
                                    out);
    }
    graft_check_run("rm -rf %s", dir);
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "val accuracy %.3f on %ld rows",
                           accuracy, n);
}

/*
 * graft export: the network up to the tap plus the head as one ONNX file. graft runs it and
 * gets the head's probabilities on the codes of the original network (1e-5), python3-onnx's
 * checker accepts it (when installed), and ONNX Runtime gives the same numbers
 * (tests/pipeline/ort_export.js, when onnxruntime-node is in GRAFT_BUILD_DIR/node_modules).
 */
static int check_export(char *msg, size_t msglen) {
    char dir[512], model[600], head_path[600], out[600], tar[600];
    if (make_tmpdir(dir, sizeof dir)) return graft_check_fail(msg, msglen, "mkdtemp failed");
    if (make_demo(dir, 20, "demo", "a.tar", 7))
        return graft_check_fail(msg, msglen, "graft demo-data failed");
    const char *g = graft_bin();
    snprintf(model, sizeof model, "%s/demo.onnx", dir);
    snprintf(head_path, sizeof head_path, "%s/head.bin", dir);
    snprintf(out, sizeof out, "%s/exported.onnx", dir);
    snprintf(tar, sizeof tar, "%s/a.tar", dir);
    if (graft_check_run(
            "%s extract -m %s --size 64 --resize 0 --relu -q -c %s/cache %s >/dev/null 2>&1", g,
            model, dir, tar) ||
        graft_check_run("%s train -c %s/cache -o %s --scale sqrt,l2,standardize >/dev/null", g, dir,
                        head_path) ||
        graft_check_run("%s export %s %s %s >/dev/null", g, model, head_path, out))
        return graft_check_fail(msg, msglen, "extract, train or export failed");
    graft_head *h = NULL;
    if (graft_head_load(head_path, &h))
        return graft_check_fail(msg, msglen, "head: %s", graft_last_error());
    graft_transform t;
    graft_transform_preset("imagenet", 64, &t);
    t.resize = 0;
    enum { N = 4 };
    static const char *const members[N] = {
        "demo/val/checker/checker_0000.jpg", "demo/val/dots/dots_0004.png",
        "demo/val/rings/rings_0001.jpg", "demo/train/vstripes/vstripes_0003.jpg"};
    size_t px = (size_t)64 * 64 * 3;
    float *x_nhwc = malloc(sizeof(float) * N * px), *x_nchw = malloc(sizeof(float) * N * px);
    int fail = 0;
    for (int i = 0; i < N && !fail; i++) {
        size_t len = 0;
        uint8_t *bytes = tar_member(tar, members[i], &len);
        if (!bytes || graft_transform_apply(&t, bytes, len, 0, GRAFT_IMAGE_LAYOUT_HWC,
                                            x_nhwc + i * px) ||
            graft_transform_apply(&t, bytes, len, 0, GRAFT_IMAGE_LAYOUT_CHW, x_nchw + i * px))
            fail = graft_check_fail(msg, msglen, "%s: %s", members[i], graft_last_error());
        free(bytes);
    }
    /* The reference: the original network's ReLU'd codes through the head. */
    graft_model *m = NULL, *e = NULL;
    graft_net *net = NULL, *enet = NULL;
    graft_tap_options relu = {1, GRAFT_TAP_POOL_NONE};
    float ref[N * 64], got_scores[N * 64];
    const char *probs_tap[1] = {"probabilities"};
    if (!fail && (graft_model_load(model, NULL, &m) ||
                  graft_net_create(m, N, 64, 64, NULL, 0, &relu, &net) ||
                  graft_net_run(net, x_nhwc, GRAFT_LAYOUT_NHWC)))
        fail = graft_check_fail(msg, msglen, "original: %s", graft_last_error());
    if (!fail) {
        const float *codes;
        graft_net_tap(net, 0, &codes, NULL, NULL);
        if (graft_head_proba(h, codes, N, ref))
            fail = graft_check_fail(msg, msglen, "proba: %s", graft_last_error());
    }
    if (!fail && (graft_model_load(out, NULL, &e) ||
                  graft_net_create(e, N, 64, 64, probs_tap, 1, NULL, &enet) ||
                  graft_net_run(enet, x_nchw, GRAFT_LAYOUT_NCHW)))
        fail = graft_check_fail(msg, msglen, "exported: %s", graft_last_error());
    if (!fail) {
        const float *p;
        graft_net_tap(enet, 0, &p, NULL, NULL);
        memcpy(got_scores, p, sizeof(float) * N * (size_t)h->K);
        for (int i = 0; i < N * h->K && !fail; i++)
            if (fabsf(got_scores[i] - ref[i]) > 1e-5f)
                fail = graft_check_fail(msg, msglen, "probability %d: exported %g, head %g", i,
                                        got_scores[i], ref[i]);
    }
    graft_net_destroy(net);
    graft_net_destroy(enet);
    graft_model_destroy(m);
    graft_model_destroy(e);
    const char *how = "graft";
    if (!fail && graft_check_run("/usr/bin/python3 -c 'import onnx' 2>/dev/null") == 0) {
        if (graft_check_run(
                "/usr/bin/python3 -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]"
                "), full_check=True)' %s",
                out))
            fail = graft_check_fail(msg, msglen, "onnx.checker refused %s", out);
        else
            how = "graft, onnx.checker";
    }
    char node_modules[700];
    snprintf(node_modules, sizeof node_modules, "%s/node_modules/onnxruntime-node",
             GRAFT_BUILD_DIR);
    if (!fail && access(node_modules, R_OK) == 0 &&
        graft_check_run("node --version >/dev/null 2>&1") == 0) {
        /* ONNX Runtime on the same NCHW input, written raw. */
        char raw[700], cmd[4096], res[65536];
        snprintf(raw, sizeof raw, "%s/x.f32", dir);
        FILE *f = fopen(raw, "wb");
        if (!f || fwrite(x_nchw, sizeof(float), N * px, f) != N * px) fail = 1;
        if (f) fclose(f);
        snprintf(cmd, sizeof cmd,
                 "NODE_PATH=%s/node_modules node tests/pipeline/ort_export.js %s %s %d 3 64 64 "
                 "probabilities 2>&1", GRAFT_BUILD_DIR, out, raw, N);
        if (!fail && run_capture(res, sizeof res, cmd) == 0) {
            char *p = res;
            for (int i = 0; i < N * h->K && !fail; i++) {
                char *end;
                float v = strtof(p, &end);
                if (end == p || fabsf(v - ref[i]) > 1e-4f)
                    fail = graft_check_fail(msg, msglen, "ONNX Runtime probability %d: %g, head "
                                            "%g", i, v, ref[i]);
                p = end;
            }
            if (!fail) how = "graft, onnx.checker, ONNX Runtime";
        } else if (!fail) {
            fail = graft_check_fail(msg, msglen, "ort_export.js failed: %s", res);
        }
    }
    free(x_nhwc);
    free(x_nchw);
    graft_head_destroy(h);
    if (fail) return GRAFT_CHECK_FAIL;
    graft_check_run("rm -rf %s", dir);
    return graft_check_say(msg, msglen, GRAFT_CHECK_PASS, "exported head checked by %s", how);
}

const graft_check graft_checks_loop[] = {
    {"loop", "demo_end_to_end", check_demo_end_to_end},
    {"loop", "sigkill_resume", check_sigkill_resume},
    {"loop", "sigint", check_sigint},
    {"loop", "bad_shard", check_bad_shard},
    {"loop", "strict", check_strict},
    {"loop", "stdin", check_stdin},
    {"loop", "disk_full", check_disk_full},
    {"loop", "hymenoptera", check_hymenoptera},
    {"loop", "train_eval_predict", check_train_eval_predict},
    {"loop", "export", check_export},
    {NULL, NULL, NULL},
};
