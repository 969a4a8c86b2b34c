/*
 * pipeline.h: `graft extract` as a library call: archives -> samples -> decoded, resized,
 * normalised images -> batches through the network -> CNN codes committed to a cache.
 *
 * One libuv loop on the calling thread drives the stages. Reading (libarchive) and committing
 * segments (fsync) run as libuv work requests, one at a time each; decoding runs as many work
 * requests at once as there are decode threads; the forward pass runs as one work request that
 * drives the kernel thread pool, so the next batch decodes while the current one computes.
 * Every queue between the stages is bounded (decode slots, samples read ahead), so memory stays
 * flat however large the dataset. Only the loop thread touches queues, the cache's append side
 * and the callbacks.
 */
#ifndef GRAFT_PIPELINE_H
#define GRAFT_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "dataset.h"
#include "graft.h"
#include "image.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Counters of a run, handed to the progress callback and returned at the end. */
typedef struct graft_extract_stats {
    uint64_t samples;          /* samples read (images found) */
    uint64_t extracted;        /* codes computed and appended this run */
    uint64_t committed;        /* rows committed this run (extracted minus the lost tail) */
    uint64_t cached;           /* skipped: already in the cache with the same content */
    uint64_t rejected_before;  /* skipped: rejected by an earlier run with the same content */
    uint64_t rejects;          /* bad samples this run (also in rejects.tsv) */
    uint64_t shard_errors;     /* shards that ended early */
    uint64_t segments;         /* segments committed this run */
    int shard_index, shard_count;
    uint64_t bytes_read, bytes_total; /* input bytes (compressed); total 0 when unknown */
    double elapsed;            /* seconds since the start */
    double setup_seconds;      /* of which: loading the model, hashing it, opening the cache */
    double forward_seconds;    /* time spent in forward passes */
    double decode_seconds;     /* summed over decode threads */
    int batches;
} graft_extract_stats;

typedef enum graft_extract_event_kind {
    GRAFT_EXTRACT_EVENT_REJECT = 1, /* a bad sample was skipped */
    GRAFT_EXTRACT_EVENT_SHARD_ERROR, /* a shard ended early */
    GRAFT_EXTRACT_EVENT_COMMIT       /* a segment was committed */
} graft_extract_event_kind;

/* An event; strings are borrowed for the callback. */
typedef struct graft_extract_event {
    graft_extract_event_kind kind;
    const char *shard, *member, *key, *reason;
    uint64_t rows;             /* COMMIT: rows in the segment */
} graft_extract_event;

/*
 * Called on the loop thread with each batch of fresh codes after they were appended to the
 * cache (to train while extracting). codes[t] is (n, dims[t]) floats (dims[t]: floats per
 * sample of tap t); rows[i] describes row i. Everything is borrowed for the call. A non-zero
 * return stops the run with that code (graft_last_error() should say why).
 */
typedef int (*graft_extract_codes_fn)(void *user, int n, const graft_cache_row *rows,
                                      const float *const *codes, const size_t *dims);

typedef struct graft_extract_options {
    const char *model_path;
    const char *const *taps;     /* tensor names; NULL/0: the model's default tap */
    int tap_count;
    graft_tap_options tap_opts;  /* ReLU and global pooling applied to every tap */
    graft_transform transform;   /* how images become network inputs */
    const char *cache_dir;       /* NULL: no cache; the codes only go to on_codes (predict) */
    graft_cache_dtype dtype;
    const char *const *inputs;   /* input specs, as graft_inputs_expand() takes them */
    int input_count;
    graft_reader_options read;
    int batch;                   /* images per forward pass; 0: 32 */
    int decode_threads;          /* 0: the number of cores */
    int segment_rows;            /* rows per committed segment; 0: 4096 */
    double commit_seconds;       /* also commit what is pending this often; 0: 60 */
    int strict;                  /* 1: the first bad sample stops the run (GRAFT_ECORRUPT) */
    int handle_signals;          /* 1: SIGINT/SIGTERM stop the run cleanly (GRAFT_ECANCELED) */
    double progress_seconds;     /* interval of on_progress; 0: 0.5 */
    void (*on_progress)(void *user, const graft_extract_stats *stats);
    void (*on_event)(void *user, const graft_extract_event *event);
    graft_extract_codes_fn on_codes;
    void *user;                  /* passed to on_progress and on_event */
    void *codes_user;            /* passed to on_codes */
    /* The augmentation seed (transform.random_crop, hflip): each image is transformed with
       a seed mixed from this and its key, so a (seed, key) pair gives the same tensor in
       every run, thread count and batch; ignored without augmentation. */
    uint64_t seed;
    /* Tensor names fusion must keep (graft_model_options.keep): a tap fusion would fold away,
       as `graft finetune --freeze-until` may name. NULL-terminated or NULL. */
    const char *const *keep;
} graft_extract_options;

/*
 * Runs the whole extraction and returns when every input is done, the run was stopped, or a
 * fatal error happened. Whatever was committed stays committed; rows computed but not yet
 * committed are committed before returning, except after a disk-full error. *stats (optional)
 * gets the final counters in every case. Bad samples and bad shards are events, not errors.
 * Errors: GRAFT_EINVAL (options), the model's load and net errors, the cache's open errors
 * (GRAFT_EMISMATCH for a cache made differently), GRAFT_ENOSPC/GRAFT_EIO (a commit failed:
 * the run stops there), GRAFT_ECANCELED (a signal, or graft_extract_stop), GRAFT_ECORRUPT
 * (a bad sample under strict), GRAFT_ENOMEM. graft_last_error() has the detail.
 */
int graft_extract_run(const graft_extract_options *opts, graft_extract_stats *stats);

/*
 * Asks the running extraction of this process to stop as after SIGINT. Async-signal-safe and
 * callable from any thread; does nothing when none runs.
 */
void graft_extract_stop(void);

/*
 * The SHA-256 of a file as 64 lowercase hex digits into hex[65] (the cache's model identity).
 * Errors: GRAFT_EIO.
 */
int graft_file_sha256(const char *path, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif
