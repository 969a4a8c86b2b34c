/*
 * pipeline/cli/cli.h: the subcommands main.c's table dispatches to, from the other files of
 * the command line. Each takes its own argv (argv[0] is the subcommand) and returns the exit
 * status: 0 success, 1 a failed run, 2 a usage error.
 */
#ifndef GRAFT_PIPELINE_CLI_H
#define GRAFT_PIPELINE_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "graft/image.h"
#include "graft/model.h"
#include "graft/pipeline.h"

int graft__cmd_info(int argc, char **argv);
int graft__cmd_classify(int argc, char **argv);
int graft__cmd_cache(int argc, char **argv);
int graft__cmd_extract(int argc, char **argv);
int graft__cmd_demo_data(int argc, char **argv);
int graft__cmd_train(int argc, char **argv);
int graft__cmd_eval(int argc, char **argv);
int graft__cmd_predict(int argc, char **argv);
int graft__cmd_export(int argc, char **argv);
int graft__cmd_finetune(int argc, char **argv);

/* s as a JSON string literal, quotes included (NULL prints ""); main.c. */
void graft__json_string(FILE *f, const char *s);
/* "a,b,c" into up to max finite floats: the count, or -1 (transform_flags.c). */
int graft__parse_floats(const char *s, float *v, int max);
/*
 * The value of `key=` in a head's meta text (one key=value per line, as `graft train` writes
 * the model sha256, tap and preprocessing there), copied into out[cap]: 1 found, 0 not
 * (train_cmds.c).
 */
int graft__head_meta_get(const char *meta, const char *key, char *out, size_t cap);

/* ---- preprocessing flags shared by the image commands (transform_flags.c) ---------------- */

/* getopt codes of the flags below; commands keep their own codes under this. */
#define GRAFT__TRANSFORM_OPT_BASE 0x1000

/* What the flags said; graft__transform_flags_init marks everything unset. */
typedef struct graft__transform_flags {
    const char *preset;    /* NULL: the model's own preprocessing */
    float mean[3], std[3];
    int n_mean, n_std;     /* 0 unset, 1 (all channels) or 3 */
    int height, width;     /* 0 unset */
    int resize;            /* -1 unset */
    int filter;            /* -1 unset, else a graft_resample */
    size_t max_pixels;     /* 0 unset */
    int dct_scaling;
} graft__transform_flags;

/* --preset --mean --std --size --resize --filter --max-pixels --dct-scaling, ending in a zero
 * entry: append them to a command's getopt_long table. */
extern const struct option graft__transform_longopts[];
/* Their help lines, in the usage texts' two-column layout. */
extern const char graft__transform_usage[];

void graft__transform_flags_init(graft__transform_flags *f);
/*
 * Takes one option getopt_long returned: 0 when it was a transform flag and its argument is
 * good, > 0 when its argument is bad (the reason in err), < 0 when it is not a transform
 * flag (the command's own unknown option). `arg` must outlive f (getopt's optarg does).
 */
int graft__transform_flag(graft__transform_flags *f, int opt, const char *arg, char *err,
                          size_t errlen);
/*
 * The transform the flags ask for: the preset, else the model's preprocessing (m may be
 * NULL: the imagenet preset), then every flag given on top. 0, or non-zero with the reason
 * in err (a combination graft_transform_apply would refuse).
 */
int graft__transform_resolve(const graft__transform_flags *f, const graft_model *m,
                             graft_transform *out, char *err, size_t errlen);

/* ---- the extraction's progress on the terminal, for extract and finetune (progress.c) ---- */

/* What a command's progress callbacks need; their `user` pointer. Zero it, then set the flags. */
typedef struct graft__progress {
    const char *cmd;    /* "extract", "finetune": names the command in messages */
    int tty, json, quiet;
    /*
     * 1: graft extract's fuller report: JSON progress lines (every 5 s) and commit lines, and
     * a bar that counts cached rows as "skipped" and ends with an ETA. 0: finetune's, which
     * reports epochs instead and whose bar says "cached".
     */
    int extract;
    int bar_shown;      /* a bar stands on stderr's last line */
    double json_last;   /* elapsed seconds of the last JSON progress line */
} graft__progress;

/* Erases the bar, if one is shown, so that a line can be printed in its place. */
void graft__progress_clear(graft__progress *p);
/* graft_extract_options.on_progress: redraws the bar on a terminal (or a JSON line). */
void graft__progress_on_progress(void *user, const graft_extract_stats *st);
/* graft_extract_options.on_event: a reject or a shard error on stderr, or as JSON on stdout. */
void graft__progress_on_event(void *user, const graft_extract_event *ev);

#endif
