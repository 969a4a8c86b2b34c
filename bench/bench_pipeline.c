/*
 * bench/bench_pipeline.c: images/s of the decode stage on ONE core: graft_transform_apply
 * with the imagenet preset (decode + Resize(256) + CenterCrop(224) + ToTensor + Normalize,
 * CHW) against Pillow + torchvision's transforms doing the same (bench/pipeline_pil.py, run by
 * Debian's /usr/bin/python3 in a child process of this run), on the hymenoptera JPEGs read
 * from ../shared/data/hymenoptera.tar in memory (libarchive; no file per image).
 *
 * Before timing, graft's tensor for one photo is compared with torchvision's (they must be
 * bit-identical). Then each side makes several passes over all photos, single-threaded; the
 * medians are reported with their ratio, and for context graft's full decode alone, graft
 * with dct_scaling on, Pillow's decode alone, and graft's Resize(256) + CenterCrop(224) alone
 * on already decoded photos for every resize ISA this CPU has (where the time goes). Rates are
 * images per CPU-second of the thread doing the work (Python: process_time, torch at one
 * thread), so that other load on a shared machine inflates neither side. Output: one JSON
 * line on stdout; the table and progress on stderr.
 *
 * Not here: threads (the extract loop spreads images over cores), formats other than JPEG,
 * augmentation.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <getopt.h>
#include <math.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "graft/graft.h"
#include "graft/image.h"
#include "graft/kernels.h"
#include "graft/npy.h"

typedef struct photo {
    char *name;
    uint8_t *data;
    size_t len;
} photo;

typedef struct photo_set {
    photo *v;
    int n, cap;
} photo_set;

static int by_name(const void *a, const void *b) {
    return strcmp(((const photo *)a)->name, ((const photo *)b)->name);
}

static int ends_with_jpg(const char *s) {
    size_t n = strlen(s);
    return (n > 4 && !strcasecmp(s + n - 4, ".jpg")) || (n > 5 && !strcasecmp(s + n - 5, ".jpeg"));
}

static int load_tar(const char *path, photo_set *ps) {
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        fprintf(stderr, "bench_pipeline: %s: %s\n", path, archive_error_string(a));
        archive_read_free(a);
        return -1;
    }
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        int64_t size = archive_entry_size(e);
        if (archive_entry_filetype(e) != AE_IFREG || !name || !ends_with_jpg(name) || size <= 0)
            continue;
        if (ps->n == ps->cap) {
            ps->cap = ps->cap ? ps->cap * 2 : 256;
            ps->v = realloc(ps->v, sizeof(photo) * (size_t)ps->cap);
            if (!ps->v) abort();
        }
        photo *p = &ps->v[ps->n];
        p->name = strdup(name);
        p->data = malloc((size_t)size);
        p->len = (size_t)size;
        if (!p->name || !p->data) abort();
        if (archive_read_data(a, p->data, p->len) != (la_ssize_t)p->len) {
            fprintf(stderr, "bench_pipeline: %s: %s: short read\n", path, name);
            archive_read_free(a);
            return -1;
        }
        ps->n++;
    }
    archive_read_free(a);
    qsort(ps->v, (size_t)ps->n, sizeof(photo), by_name);
    return ps->n ? 0 : -1;
}

/* CPU seconds of the calling thread. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One pass over every photo; images per CPU-second. Exits on the first failure. */
static double pass_transform(const graft_transform *t, const photo_set *ps, float *out) {
    double t0 = cpu_seconds();
    for (int i = 0; i < ps->n; i++)
        if (graft_transform_apply(t, ps->v[i].data, ps->v[i].len, 0, GRAFT_IMAGE_LAYOUT_CHW,
                                  out)) {
            fprintf(stderr, "bench_pipeline: %s: %s\n", ps->v[i].name, graft_last_error());
            exit(1);
        }
    return ps->n / (cpu_seconds() - t0);
}

static double pass_decode(const photo_set *ps) {
    double t0 = cpu_seconds();
    for (int i = 0; i < ps->n; i++) {
        graft_image img = {0};
        if (graft_image_decode(ps->v[i].data, ps->v[i].len, NULL, &img)) {
            fprintf(stderr, "bench_pipeline: %s: %s\n", ps->v[i].name, graft_last_error());
            exit(1);
        }
        graft_image_free(&img);
    }
    return ps->n / (cpu_seconds() - t0);
}

static double median_of(double (*pass)(const graft_transform *, const photo_set *, float *),
                        const graft_transform *t, const photo_set *ps, float *out, int repeats) {
    double r[64];
    pass(t, ps, out); /* warm-up: scratch, caches, page faults */
    for (int k = 0; k < repeats; k++) r[k] = pass(t, ps, out);
    return bench_median(r, repeats);
}

static double pass_decode_adapter(const graft_transform *t, const photo_set *ps, float *out) {
    (void)t;
    (void)out;
    return pass_decode(ps);
}

/* Resize(256) + CenterCrop(224) of decoded photos with the current ISA; images per CPU-s. */
static double pass_resize(const graft_image *imgs, int n) {
    double t0 = cpu_seconds();
    for (int i = 0; i < n; i++) {
        graft_image out = {0};
        if (graft_image_resize_center_crop(&out, &imgs[i], 256, 224, 224,
                                           GRAFT_RESAMPLE_BILINEAR)) {
            fprintf(stderr, "bench_pipeline: resize: %s\n", graft_last_error());
            exit(1);
        }
        graft_image_free(&out);
    }
    return n / (cpu_seconds() - t0);
}

static const char usage[] =
    "usage: bench_pipeline [--tar PATH] [--repeats N] [--python PATH] [--no-ref] [--quick]\n"
    "  --tar PATH      the photos (default $GRAFT_SHARED/data/hymenoptera.tar, GRAFT_SHARED\n"
    "                  defaulting to ../shared)\n"
    "  --repeats N     timed passes per contender (default 5; --quick: 2)\n"
    "  --python PATH   the interpreter with torchvision (default /usr/bin/python3)\n"
    "  --no-ref        graft only\n"
    "  --only WHAT     time only transform, dct, decode or resize (graft only; for\n"
    "                  profilers)\n";

int main(int argc, char **argv) {
    static const struct option opts[] = {{"tar", required_argument, 0, 't'},
                                         {"repeats", required_argument, 0, 'r'},
                                         {"python", required_argument, 0, 'p'},
                                         {"no-ref", no_argument, 0, 'n'},
                                         {"quick", no_argument, 0, 'q'},
                                         {"only", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    char tar_default[1024];
    const char *shared = getenv("GRAFT_SHARED");
    snprintf(tar_default, sizeof tar_default, "%s/data/hymenoptera.tar",
             shared && *shared ? shared : "../shared");
    const char *tar = tar_default, *python = "/usr/bin/python3";
    int repeats = 5, ref = 1, c;
    const char *only = NULL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't': tar = optarg; break;
        case 'r': repeats = atoi(optarg); break;
        case 'p': python = optarg; break;
        case 'n': ref = 0; break;
        case 'q': repeats = 2; break;
        case 'o': only = optarg, ref = 0; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (repeats < 1 || repeats > 64) {
        fputs(usage, stderr);
        return 2;
    }
    photo_set ps = {0};
    if (load_tar(tar, &ps)) {
        fprintf(stderr, "bench_pipeline: no JPEG photos in %s\n", tar);
        return 1;
    }
    graft_isa isa;
    if (graft_isa_current(&isa)) {
        fprintf(stderr, "bench_pipeline: %s\n", graft_last_error());
        return 1;
    }
    fprintf(stderr, "bench_pipeline: %d photos from %s, ISA %s, %d repeats\n", ps.n, tar,
            graft_isa_name(isa), repeats);

    graft_transform t, tdct;
    graft_transform_preset("imagenet", 224, &t);
    tdct = t;
    tdct.dct_scaling = 1;
    float *out = malloc(sizeof(float) * 3 * 224 * 224);
    if (!out) return 1;

    /* Correctness once: graft's tensor against torchvision's for the first photo. */
    char check_path[] = "/tmp/graft-bench-pipeline-XXXXXX.npy";
    int have_ref = 0;
    double ref_rate = 0, ref_decode = 0;
    char ref_name[128] = "";
    if (ref) {
        int fd = mkstemps(check_path, 4);
        if (fd >= 0) close(fd);
        char cmd[2400];
        snprintf(cmd, sizeof cmd, "%s bench/pipeline_pil.py '%s' %d %s", python, tar, repeats,
                 check_path);
        fprintf(stderr, "bench_pipeline: %s\n", cmd);
        /* Pillow runs first and alone; graft's passes come after it in the same process
         * state. */
        FILE *pp = popen(cmd, "r");
        char line[1024] = "";
        if (pp) {
            char *got = fgets(line, sizeof line, pp);
            int rc = pclose(pp);
            if (got && rc == 0) {
                char *p = strstr(line, "\"images_per_s\": ");
                char *q = strstr(line, "\"decode_images_per_s\": ");
                char *r = strstr(line, "\"ref\": \"");
                if (p && q && r) {
                    ref_rate = atof(p + 16);
                    ref_decode = atof(q + 23);
                    sscanf(r + 8, "%127[^\"]", ref_name);
                    have_ref = ref_rate > 0;
                }
            }
        }
        if (!have_ref) {
            fprintf(stderr, "bench_pipeline: the Python side failed (needs %s with torchvision); "
                            "rerun with --no-ref to time graft alone\n", python);
            unlink(check_path);
            return 1;
        }
        graft_npy want = {0};
        if (graft_npy_read(check_path, &want) || want.count != 3 * 224 * 224 ||
            graft_transform_apply(&t, ps.v[0].data, ps.v[0].len, 0, GRAFT_IMAGE_LAYOUT_CHW,
                                  out)) {
            fprintf(stderr, "bench_pipeline: check failed: %s\n", graft_last_error());
            unlink(check_path);
            return 1;
        }
        unlink(check_path);
        double d = 0;
        for (size_t i = 0; i < want.count; i++)
            d = fmax(d, fabs((double)out[i] - ((const float *)want.data)[i]));
        graft_npy_free(&want);
        if (d != 0) {
            fprintf(stderr, "bench_pipeline: %s: graft differs from torchvision by %g\n",
                    ps.v[0].name, d);
            return 1;
        }
        fprintf(stderr, "bench_pipeline: check ok: %s bit-identical to torchvision\n",
                ps.v[0].name);
    }

    const int all = !only;
    const double rate = all || !strcmp(only, "transform")
                            ? median_of(pass_transform, &t, &ps, out, repeats) : 0;
    const double rate_dct = all || !strcmp(only, "dct")
                                ? median_of(pass_transform, &tdct, &ps, out, repeats) : 0;
    const double rate_decode = all || !strcmp(only, "decode")
                                   ? median_of(pass_decode_adapter, &t, &ps, out, repeats) : 0;

    /* The resize alone, per ISA, on the first photos decoded once. */
    enum { RESIZE_PHOTOS = 48 };
    double resize_rate[GRAFT_ISA_COUNT] = {0};
    if (all || !strcmp(only, "resize")) {
        graft_image imgs[RESIZE_PHOTOS];
        const int nr = ps.n < RESIZE_PHOTOS ? ps.n : RESIZE_PHOTOS;
        for (int i = 0; i < nr; i++) {
            memset(&imgs[i], 0, sizeof imgs[i]);
            if (graft_image_decode(ps.v[i].data, ps.v[i].len, NULL, &imgs[i])) return 1;
        }
        for (int k = GRAFT_ISA_SCALAR; k < GRAFT_ISA_COUNT; k++) {
            if (!graft_isa_available((graft_isa)k) || graft_isa_set((graft_isa)k)) continue;
            double r[64];
            pass_resize(imgs, nr);
            for (int rep = 0; rep < repeats; rep++) r[rep] = pass_resize(imgs, nr);
            resize_rate[k] = bench_median(r, repeats);
        }
        graft_isa_set(isa);
        for (int i = 0; i < nr; i++) graft_image_free(&imgs[i]);
    }

    printf("{\"case\": \"imagenet-224\", \"threads\": 1, \"isa\": \"%s\", \"images\": %d, "
           "\"graft_images_per_s\": %.1f, \"graft_dct_images_per_s\": %.1f, "
           "\"graft_decode_images_per_s\": %.1f",
           graft_isa_name(isa), ps.n, rate, rate_dct, rate_decode);
    if (have_ref)
        printf(", \"ref\": \"%s\", \"ref_images_per_s\": %.1f, \"ref_decode_images_per_s\": %.1f, "
               "\"ratio\": %.2f, \"ratio_dct\": %.2f",
               ref_name, ref_rate, ref_decode, rate / ref_rate, rate_dct / ref_rate);
    for (int k = GRAFT_ISA_SCALAR; k < GRAFT_ISA_COUNT; k++)
        if (resize_rate[k] > 0)
            printf(", \"resize_%s_images_per_s\": %.1f", graft_isa_name((graft_isa)k),
                   resize_rate[k]);
    printf("}\n");
    fflush(stdout);
    fprintf(stderr, "\n| contender | images/s (1 core) | vs Pillow+torchvision |\n|---|---|---|\n");
    if (have_ref)
        fprintf(stderr, "| %s: decode+Resize+CenterCrop+ToTensor+Normalize | %.0f | 1.00 |\n"
                        "| Pillow decode alone | %.0f | |\n", ref_name, ref_rate, ref_decode);
    fprintf(stderr, "| graft_transform_apply (imagenet) | %.0f | %s%.2f |\n", rate,
            have_ref ? "" : "n/a ", have_ref ? rate / ref_rate : 0.0);
    fprintf(stderr, "| graft_transform_apply (imagenet, dct_scaling) | %.0f | %s%.2f |\n",
            rate_dct, have_ref ? "" : "n/a ", have_ref ? rate_dct / ref_rate : 0.0);
    fprintf(stderr, "| graft full JPEG decode alone | %.0f | |\n", rate_decode);
    for (int k = GRAFT_ISA_SCALAR; k < GRAFT_ISA_COUNT; k++)
        if (resize_rate[k] > 0)
            fprintf(stderr, "| graft Resize(256)+CenterCrop(224) alone, %s | %.0f | |\n",
                    graft_isa_name((graft_isa)k), resize_rate[k]);
    for (int i = 0; i < ps.n; i++) {
        free(ps.v[i].name);
        free(ps.v[i].data);
    }
    free(ps.v);
    free(out);
    return 0;
}
