/*
 * pipeline/loop/extract.c: the libuv wiring of `graft extract` (include/graft/pipeline.h).
 *
 * Dataflow, all decisions on the loop thread:
 *
 *   read job ──samples──▶ decode slots (ring, in read order) ──▶ batch buffer ──▶ forward job
 *   (1 at a time)         (decode jobs on the libuv pool)       (2, alternating)   (1 at a time)
 *                                                                                    │ codes
 *                                              commit job (1 at a time) ◀── cache append
 *
 * Back-pressure is the ring: a read is only issued when it has room for a whole read chunk, a
 * slot is only released into a batch buffer that is not being computed, so a slow forward pass
 * stops the decoders, which stops the reader. Memory is therefore fixed at start: the ring's
 * image buffers and the two batch buffers, allocated once (first-touch faults are dear here).
 * Rows keep the read order inside the cache, so two runs over the same data write the same
 * segments.
 *
 * The stages themselves know nothing of libuv: graft_reader_next, graft_transform_apply,
 * graft_net_run and graft_cache_write are plain blocking calls made from work requests.
 * Stopping (a signal, graft_extract_stop, a strict reject, a failed commit) stops issuing new
 * work, lets what runs finish, commits what was computed (unless the disk is full) and closes
 * every handle before returning.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "graft/pipeline.h"
#include "kernels.h"

#define READ_CHUNK 16 /* samples per read request: amortises the hop to a worker */

typedef struct extract extract;

/* One sample travelling through decode. Owned by the ring; `img` is carved from one block. */
typedef struct slot {
    uv_work_t work;
    extract *x;
    graft_sample s;
    float *img;         /* (H, W, 3), written by the decode job */
    int busy, decoded;  /* taken by a sample; its decode job has finished */
    int status;         /* GRAFT_OK or the decode error */
    char reason[256];
    double secs;
} slot;

/* Metadata of one row of a batch; strings owned here until the batch is appended. */
typedef struct row_meta {
    char *key, *label, *member;
    const char *shard;
    graft_split split;
    uint8_t sha256[32];
} row_meta;

typedef struct batch {
    float *x;           /* (batch, H, W, 3) */
    row_meta *rows;
    int n;              /* rows filled */
    int computing;      /* handed to the forward job */
} batch;

struct extract {
    const graft_extract_options *o;
    uv_loop_t loop;
    uv_timer_t progress_timer, commit_timer;
    uv_signal_t sigint, sigterm;
    uv_async_t stop_async;
    int handles_open;

    graft_model *model;
    graft_net *net;
    graft_cache *cache;
    graft_reader *reader;
    int H, W, N;
    int micro;          /* images per pass of the net (N when not micro-batched) */
    int tap_count;
    size_t tap_dim[GRAFT_CACHE_MAX_TAPS];
    size_t img_floats;

    /* read stage */
    uv_work_t read_work;
    int reading, read_ended;
    graft_sample read_buf[READ_CHUNK];
    int read_count, read_status;
    char read_error[256];

    /* decode ring: slots [head, tail) are busy, in read order */
    slot *slots;
    int cap;
    uint64_t head, tail;
    float *img_block;
    size_t img_block_bytes;

    /* batches: fill alternates between the two */
    batch batches[2];
    int fill;           /* index of the batch being filled */
    uv_work_t forward_work;
    int forwarding, forward_batch, forward_status;
    char forward_error[256];
    double forward_secs;

    /* commits */
    uv_work_t commit_work;
    graft_cache_segment *commit_seg;
    int committing, commit_status, commit_failed;
    uint64_t commit_rows;
    char commit_error[512];

    /* run state */
    int stopping;       /* no new reads or decodes */
    int fatal;          /* error code that ends the run (0 none) */
    char fatal_msg[600];
    int disk_full;      /* no commit may be attempted any more */
    int finished;       /* handles closing */
    graft_extract_stats st;
    double t0;
};

static _Atomic(extract *) current_run;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void set_fatal(extract *x, int err, const char *msg) {
    if (!x->fatal) {
        x->fatal = err;
        snprintf(x->fatal_msg, sizeof x->fatal_msg, "%s", msg);
    }
    x->stopping = 1;
}

static void emit_event(extract *x, graft_extract_event_kind kind, const char *shard,
                       const char *member, const char *key, const char *reason, uint64_t rows) {
    if (!x->o->on_event) return;
    graft_extract_event ev = {kind, shard, member, key, reason, rows};
    x->o->on_event(x->o->user, &ev);
}

static void pump(extract *x);

/* ---- a bad sample ------------------------------------------------------------------------- */

static void reject(extract *x, const graft_sample *s, const char *reason) {
    x->st.rejects++;
    emit_event(x, GRAFT_EXTRACT_EVENT_REJECT, s->shard, s->member, s->key, reason, 0);
    int rc = !x->cache ? GRAFT_OK
                       : graft_cache_reject(x->cache, s->shard, s->member ? s->member : "",
                                            s->key ? s->key : "",
                                            s->event == GRAFT_READ_SAMPLE ? s->sha256 : NULL,
                                            reason);
    if (rc) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", graft_last_error());
        if (rc == GRAFT_ENOSPC) x->disk_full = 1;
        set_fatal(x, rc, msg);
        return;
    }
    if (x->o->strict) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %s: %s (--strict)", s->shard,
                 s->member ? s->member : (s->key ? s->key : "?"), reason);
        set_fatal(x, GRAFT_ECORRUPT, msg);
    }
}

/* ---- read ---------------------------------------------------------------------------------- */

static void read_job(uv_work_t *w) {
    extract *x = w->data;
    x->read_count = 0;
    x->read_status = GRAFT_OK;
    for (int i = 0; i < READ_CHUNK; i++) {
        graft_sample *s = &x->read_buf[i];
        memset(s, 0, sizeof *s);
        int rc = graft_reader_next(x->reader, s);
        if (rc) {
            x->read_status = rc;
            snprintf(x->read_error, sizeof x->read_error, "%s", graft_last_error());
            break;
        }
        x->read_count++;
        if (s->event == GRAFT_READ_END) break;
    }
}

static void decode_job(uv_work_t *w);
static void decode_done(uv_work_t *w, int status);

static void read_done(uv_work_t *w, int status) {
    extract *x = w->data;
    x->reading = 0;
    if (x->read_status) {
        char msg[600];
        snprintf(msg, sizeof msg, "reading the inputs: %s", x->read_error);
        set_fatal(x, x->read_status, msg);
    }
    for (int i = 0; i < x->read_count; i++) {
        graft_sample *s = &x->read_buf[i];
        switch (s->event) {
        case GRAFT_READ_END:
            x->read_ended = 1;
            break;
        case GRAFT_READ_SHARD_ERROR:
            x->st.shard_errors++;
            emit_event(x, GRAFT_EXTRACT_EVENT_SHARD_ERROR, s->shard, NULL, NULL, s->reason, 0);
            break;
        case GRAFT_READ_REJECT:
            if (!x->stopping) reject(x, s, s->reason ? s->reason : "rejected");
            break;
        case GRAFT_READ_SAMPLE: {
            x->st.samples++;
            if (x->stopping) break;
            int known = x->cache ? graft_cache_contains(x->cache, s->key, s->sha256) : 0;
            if (known == 1) {
                x->st.cached++;
                break;
            }
            if (known == 2) {
                x->st.rejected_before++;
                break;
            }
            /* read_room() guaranteed a free slot for every sample of the chunk */
            slot *sl = &x->slots[x->tail % (uint64_t)x->cap];
            x->tail++;
            sl->s = *s;
            memset(s, 0, sizeof *s); /* ownership moved to the slot */
            sl->busy = 1;
            sl->decoded = 0;
            sl->secs = 0;
            sl->status = GRAFT_OK;
            sl->reason[0] = '\0';
            sl->work.data = sl;
            int rc = uv_queue_work(&x->loop, &sl->work, decode_job, decode_done);
            if (rc) {
                sl->decoded = 1;
                sl->status = GRAFT_EIO;
                snprintf(sl->reason, sizeof sl->reason, "cannot queue decode: %s",
                         uv_strerror(rc));
            }
            break;
        }
        }
        graft_sample_clear(s);
    }
    (void)status;
    pump(x);
}

static int ring_used(const extract *x) { return (int)(x->tail - x->head); }

static void maybe_read(extract *x) {
    if (x->reading || x->read_ended || x->stopping) return;
    if (x->cap - ring_used(x) < READ_CHUNK) return;
    x->reading = 1;
    x->read_work.data = x;
    int rc = uv_queue_work(&x->loop, &x->read_work, read_job, read_done);
    if (rc) {
        x->reading = 0;
        char msg[256];
        snprintf(msg, sizeof msg, "cannot queue a read: %s", uv_strerror(rc));
        set_fatal(x, GRAFT_EIO, msg);
    }
}

/* ---- decode -------------------------------------------------------------------------------- */

/* The augmentation seed of one sample: a function of the run's seed and the key alone, so
   the same image gets the same crop whichever thread decodes it and in whatever batch. */
static uint64_t sample_seed(uint64_t seed, const char *key) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)(key ? key : ""); *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    uint64_t z = h ^ (seed * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void decode_job(uv_work_t *w) {
    slot *sl = w->data;
    extract *x = sl->x;
    double t = now_seconds();
    int rc = graft_transform_apply(&x->o->transform, sl->s.data, sl->s.size,
                                   sample_seed(x->o->seed, sl->s.key), GRAFT_IMAGE_LAYOUT_HWC,
                                   sl->img);
    sl->status = rc;
    if (rc) snprintf(sl->reason, sizeof sl->reason, "%s", graft_last_error());
    /* The bytes are not needed any more: give the memory back while the sample waits. */
    free(sl->s.data);
    sl->s.data = NULL;
    sl->secs = now_seconds() - t;
}

static void decode_done(uv_work_t *w, int status) {
    slot *sl = w->data;
    extract *x = sl->x;
    sl->decoded = 1;
    if (status == UV_ECANCELED) {
        sl->status = GRAFT_ECANCELED;
        snprintf(sl->reason, sizeof sl->reason, "canceled");
    }
    x->st.decode_seconds += sl->secs;
    pump(x);
}

/* ---- batches and forward ------------------------------------------------------------------- */

static void row_meta_clear(row_meta *r) {
    free(r->key);
    free(r->label);
    free(r->member);
    memset(r, 0, sizeof *r);
}

/* Moves decoded slots, in read order, into the batch being filled. */
static void drain_ring(extract *x) {
    while (x->head < x->tail) {
        slot *sl = &x->slots[x->head % (uint64_t)x->cap];
        if (!sl->decoded) break;
        batch *b = &x->batches[x->fill];
        if (sl->status == GRAFT_OK && !x->stopping) {
            if (b->computing || b->n == x->N) break; /* wait for the forward pass */
            memcpy(b->x + (size_t)b->n * x->img_floats, sl->img, x->img_floats * sizeof(float));
            row_meta *r = &b->rows[b->n++];
            r->key = sl->s.key;
            r->label = sl->s.label;
            r->member = sl->s.member;
            r->shard = sl->s.shard;
            r->split = sl->s.split;
            memcpy(r->sha256, sl->s.sha256, 32);
            sl->s.key = sl->s.label = sl->s.member = NULL;
        } else if (sl->status != GRAFT_OK && sl->status != GRAFT_ECANCELED && !x->stopping) {
            reject(x, &sl->s, sl->reason);
        }
        graft_sample_clear(&sl->s);
        sl->busy = 0;
        x->head++;
    }
}

static void forward_job(uv_work_t *w) {
    extract *x = w->data;
    batch *b = &x->batches[x->forward_batch];
    double t = now_seconds();
    /* Rows past b->n hold stale images from an earlier batch: computed and ignored. */
    x->forward_status = graft_net_run_partial(x->net, b->x, GRAFT_LAYOUT_NHWC, b->n);
    if (x->forward_status)
        snprintf(x->forward_error, sizeof x->forward_error, "%s", graft_last_error());
    x->forward_secs = now_seconds() - t;
}

static void maybe_commit(extract *x, int force);

static void forward_done(uv_work_t *w, int status) {
    extract *x = w->data;
    batch *b = &x->batches[x->forward_batch];
    x->forwarding = 0;
    x->st.forward_seconds += x->forward_secs;
    x->st.batches++;
    if (x->forward_status) {
        char msg[600];
        snprintf(msg, sizeof msg, "forward pass: %s", x->forward_error);
        set_fatal(x, x->forward_status, msg);
    } else {
        const float *codes[GRAFT_CACHE_MAX_TAPS];
        for (int t = 0; t < x->tap_count; t++) {
            int rank;
            int64_t dims[GRAFT_MODEL_MAX_RANK];
            graft_net_tap(x->net, t, &codes[t], &rank, dims);
        }
        graft_cache_row *rows = calloc((size_t)b->n, sizeof *rows);
        for (int i = 0; i < b->n && !x->fatal; i++) {
            row_meta *r = &b->rows[i];
            graft_cache_row row = {r->key, r->label, r->shard, r->member, r->split, {0}};
            memcpy(row.sha256, r->sha256, 32);
            const float *row_codes[GRAFT_CACHE_MAX_TAPS];
            for (int t = 0; t < x->tap_count; t++) row_codes[t] = codes[t] + (size_t)i * x->tap_dim[t];
            int rc = x->cache ? graft_cache_append(x->cache, &row, row_codes) : GRAFT_OK;
            if (rc) {
                char msg[600];
                snprintf(msg, sizeof msg, "%s", graft_last_error());
                set_fatal(x, rc, msg);
                break;
            }
            x->st.extracted++;
            if (rows) rows[i] = row;
        }
        if (x->o->on_codes && !x->fatal) {
            if (!rows) {
                set_fatal(x, GRAFT_ENOMEM, "out of memory");
            } else {
                int rc = x->o->on_codes(x->o->codes_user, b->n, rows, codes, x->tap_dim);
                if (rc) {
                    char msg[600];
                    snprintf(msg, sizeof msg, "%s", graft_last_error());
                    set_fatal(x, rc, msg);
                }
            }
        }
        free(rows);
    }
    for (int i = 0; i < b->n; i++) row_meta_clear(&b->rows[i]);
    b->n = 0;
    b->computing = 0;
    (void)status;
    maybe_commit(x, 0);
    pump(x);
}

static void maybe_forward(extract *x) {
    if (x->forwarding || x->fatal) return;
    batch *b = &x->batches[x->fill];
    int input_done = x->read_ended && x->head == x->tail && !x->reading;
    /* After a stop, rows already in a batch are dropped: only a running pass completes. */
    if (x->stopping || b->computing || b->n == 0) return;
    /* A micro-batched net costs the same per image in short batches, so an idle forward pass
       starts on what is decoded instead of waiting for a full batch (the start of a run, or a
       slow source); while it computes, the next batch fills up. Other nets wait for N. */
    if (b->n < x->N && !input_done && !(x->micro < x->N && b->n >= x->micro)) return;
    b->computing = 1;
    x->forwarding = 1;
    x->forward_batch = x->fill;
    x->fill ^= 1;
    x->forward_work.data = x;
    int rc = uv_queue_work(&x->loop, &x->forward_work, forward_job, forward_done);
    if (rc) {
        x->forwarding = 0;
        b->computing = 0;
        char msg[256];
        snprintf(msg, sizeof msg, "cannot queue the forward pass: %s", uv_strerror(rc));
        set_fatal(x, GRAFT_EIO, msg);
    }
}

/* ---- commits ------------------------------------------------------------------------------- */

static void commit_job(uv_work_t *w) {
    extract *x = w->data;
    x->commit_status = graft_cache_write(x->cache, x->commit_seg);
    x->commit_seg = NULL; /* consumed either way */
    if (x->commit_status)
        snprintf(x->commit_error, sizeof x->commit_error, "%s", graft_last_error());
}

static void commit_done(uv_work_t *w, int status) {
    extract *x = w->data;
    x->committing = 0;
    (void)status;
    if (x->commit_status) {
        if (x->commit_status == GRAFT_ENOSPC) x->disk_full = 1;
        x->commit_failed = 1;
        char msg[600];
        snprintf(msg, sizeof msg, "committing a segment: %s", x->commit_error);
        set_fatal(x, x->commit_status, msg);
    } else {
        x->st.segments++;
        x->st.committed += x->commit_rows;
        emit_event(x, GRAFT_EXTRACT_EVENT_COMMIT, NULL, NULL, NULL, NULL, x->commit_rows);
    }
    maybe_commit(x, 0);
    pump(x);
}

/* Starts a commit when enough rows are pending (or any, when forced) and none is running. */
static void maybe_commit(extract *x, int force) {
    /* Rows computed before a stop or an error are still good codes: they are committed too,
       unless committing itself failed (a full disk, an I/O error). */
    if (!x->cache || x->committing || x->disk_full || x->commit_failed) return;
    size_t pending = graft_cache_pending(x->cache);
    if (pending == 0) return;
    if (!force && pending < (size_t)x->o->segment_rows) return;
    graft_cache_segment *seg = NULL;
    int rc = graft_cache_seal(x->cache, &seg);
    if (rc || !seg) {
        if (rc) set_fatal(x, rc, graft_last_error());
        return;
    }
    x->commit_seg = seg;
    x->commit_rows = pending;
    x->committing = 1;
    x->commit_work.data = x;
    rc = uv_queue_work(&x->loop, &x->commit_work, commit_job, commit_done);
    if (rc) {
        /* Cannot happen with a live loop; the rows of this segment are lost, say so. */
        x->committing = 0;
        char msg[256];
        snprintf(msg, sizeof msg, "cannot queue a commit: %s", uv_strerror(rc));
        set_fatal(x, GRAFT_EIO, msg);
    }
}

/* ---- progress, signals, shutdown ------------------------------------------------------------ */

static void fill_progress(extract *x) {
    graft_reader_progress p;
    graft_reader_get_progress(x->reader, &p);
    x->st.shard_index = p.shard_index;
    x->st.shard_count = graft_reader_shard_count(x->reader);
    x->st.bytes_read = p.bytes_read;
    x->st.bytes_total = p.bytes_total;
    x->st.elapsed = now_seconds() - x->t0;
}

static void on_progress_timer(uv_timer_t *t) {
    extract *x = t->data;
    fill_progress(x);
    if (x->o->on_progress) x->o->on_progress(x->o->user, &x->st);
}

static void on_commit_timer(uv_timer_t *t) {
    extract *x = t->data;
    if (!x->stopping) maybe_commit(x, 1);
}

static void request_stop(extract *x, const char *why) {
    if (x->stopping && x->fatal) return;
    set_fatal(x, GRAFT_ECANCELED, why);
    /* Decodes not started yet are dropped; the running ones finish. */
    for (uint64_t i = x->head; i < x->tail; i++) {
        slot *sl = &x->slots[i % (uint64_t)x->cap];
        if (!sl->decoded) uv_cancel((uv_req_t *)&sl->work);
    }
    pump(x);
}

static void on_signal(uv_signal_t *h, int signum) {
    extract *x = h->data;
    request_stop(x, signum == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
}

static void on_stop_async(uv_async_t *h) { request_stop(h->data, "stopped"); }

void graft_extract_stop(void) {
    extract *x = atomic_load(&current_run);
    if (x) uv_async_send(&x->stop_async);
}

static void on_handle_closed(uv_handle_t *h) {
    extract *x = h->data;
    x->handles_open--;
}

static void close_handles(extract *x) {
    if (x->finished) return;
    x->finished = 1;
    uv_handle_t *hs[] = {(uv_handle_t *)&x->progress_timer, (uv_handle_t *)&x->commit_timer,
                         (uv_handle_t *)&x->stop_async,
                         x->o->handle_signals ? (uv_handle_t *)&x->sigint : NULL,
                         x->o->handle_signals ? (uv_handle_t *)&x->sigterm : NULL};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        if (!hs[i]) continue;
        x->handles_open++;
        uv_close(hs[i], on_handle_closed);
    }
}

/* The one place that decides what runs next; called after every completion. */
static void pump(extract *x) {
    if (x->finished) return;
    drain_ring(x);
    maybe_forward(x);
    drain_ring(x); /* the forward may have freed the batch the ring was waiting for */
    maybe_read(x);

    int input_done = (x->read_ended || x->stopping) && !x->reading && x->head == x->tail;
    int computing = x->forwarding;
    int rows_waiting = !x->stopping && x->batches[x->fill].n > 0;
    if (!input_done || computing || rows_waiting) return;
    /* Everything computed is appended: commit the rest, then close. */
    if (!x->committing) maybe_commit(x, 1);
    if (x->committing) return;
    close_handles(x);
}

/* ---- set-up --------------------------------------------------------------------------------- */

static int open_model(extract *x, char *preprocess, size_t cap) {
    const graft_extract_options *o = x->o;
    graft_model_options mo = {0};
    mo.keep = o->keep;
    int rc = graft_model_load(o->model_path, &mo, &x->model);
    if (rc) return rc;
    x->H = o->transform.height;
    x->W = o->transform.width;
    rc = graft_net_create(x->model, x->N, x->H, x->W, o->taps, o->tap_count, &o->tap_opts,
                          &x->net);
    if (rc) return rc;
    x->tap_count = graft_net_tap_count(x->net);
    x->micro = graft_net_microbatch(x->net);
    if (x->tap_count < 1 || x->tap_count > GRAFT_CACHE_MAX_TAPS)
        return graft__fail(GRAFT_EINVAL, "extract: %d taps (at most %d)", x->tap_count,
                           GRAFT_CACHE_MAX_TAPS);
    char desc[1024];
    rc = graft_transform_describe(&o->transform, desc, sizeof desc);
    if (rc) return rc;
    static const char *const pool_names[] = {"none", "avg", "max"};
    int pool = o->tap_opts.pool >= 0 && o->tap_opts.pool <= 2 ? (int)o->tap_opts.pool : 0;
    snprintf(preprocess, cap, "%s tap_relu=%d tap_pool=%s", desc, o->tap_opts.relu ? 1 : 0,
             pool_names[pool]);
    return GRAFT_OK;
}

static int open_cache(extract *x, const char *preprocess) {
    const graft_extract_options *o = x->o;
    int rc;
    graft_cache_tap taps[GRAFT_CACHE_MAX_TAPS];
    for (int t = 0; t < x->tap_count; t++) {
        const float *data;
        int rank;
        int64_t dims[GRAFT_MODEL_MAX_RANK];
        rc = graft_net_tap(x->net, t, &data, &rank, dims);
        if (rc) return rc;
        if (rank < 2 || rank - 1 > GRAFT_CACHE_MAX_RANK)
            return graft__fail(GRAFT_EUNSUPPORTED, "extract: tap %s has rank %d",
                               graft_net_tap_name(x->net, t), rank);
        taps[t].name = graft_net_tap_name(x->net, t);
        taps[t].rank = rank - 1;
        size_t dim = 1;
        for (int d = 1; d < rank; d++) {
            taps[t].dims[d - 1] = dims[d];
            dim *= (size_t)dims[d];
        }
        x->tap_dim[t] = dim;
    }
    if (!o->cache_dir) return GRAFT_OK; /* codes only go to on_codes */
    char sha[65];
    rc = graft_file_sha256(o->model_path, sha);
    if (rc) return rc;
    graft_cache_config cfg = {o->model_path, sha, x->tap_count, taps, preprocess, o->dtype};
    return graft_cache_open(o->cache_dir, &cfg, &x->cache);
}

static int alloc_buffers(extract *x) {
    x->img_floats = (size_t)x->H * (size_t)x->W * 3;
    x->cap = 2 * x->N > READ_CHUNK * 2 ? 2 * x->N : READ_CHUNK * 2;
    x->slots = calloc((size_t)x->cap, sizeof *x->slots);
    if (!x->slots) return graft__fail(GRAFT_ENOMEM, "extract: out of memory");
    /* One block for the ring images and both batches, so it is mapped and faulted once. */
    size_t per = x->img_floats * sizeof(float);
    size_t bytes = per * ((size_t)x->cap + 2 * (size_t)x->N);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return graft__fail(GRAFT_ENOMEM, "extract: cannot map %zu bytes of image buffers", bytes);
    if (bytes >= (4u << 20)) madvise(p, bytes, MADV_HUGEPAGE);
    x->img_block = p;
    x->img_block_bytes = bytes;
    for (int i = 0; i < x->cap; i++) {
        x->slots[i].x = x;
        x->slots[i].img = x->img_block + (size_t)i * x->img_floats;
    }
    for (int b = 0; b < 2; b++) {
        x->batches[b].x = x->img_block + ((size_t)x->cap + (size_t)b * x->N) * x->img_floats;
        x->batches[b].rows = calloc((size_t)x->N, sizeof(row_meta));
        if (!x->batches[b].rows) return graft__fail(GRAFT_ENOMEM, "extract: out of memory");
    }
    return GRAFT_OK;
}

static void free_all(extract *x) {
    for (int b = 0; b < 2; b++) {
        if (!x->batches[b].rows) continue;
        for (int i = 0; i < x->N; i++) row_meta_clear(&x->batches[b].rows[i]);
        free(x->batches[b].rows);
    }
    if (x->slots)
        for (int i = 0; i < x->cap; i++) graft_sample_clear(&x->slots[i].s);
    for (int i = 0; i < READ_CHUNK; i++) graft_sample_clear(&x->read_buf[i]);
    free(x->slots);
    if (x->img_block) munmap(x->img_block, x->img_block_bytes);
    graft_reader_destroy(x->reader);
    graft_cache_close(x->cache);
    graft_net_destroy(x->net);
    graft_model_destroy(x->model);
}

/* libuv reads UV_THREADPOOL_SIZE once, at the first work request of the process. */
static void size_uv_pool(int decode_threads) {
    if (getenv("UV_THREADPOOL_SIZE")) return;
    char v[16];
    /* decoders + the read, forward and commit requests, which each hold a thread */
    snprintf(v, sizeof v, "%d", decode_threads + 3);
    setenv("UV_THREADPOOL_SIZE", v, 0);
}

int graft_extract_run(const graft_extract_options *opts, graft_extract_stats *stats) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (!opts || !opts->model_path || !opts->inputs || opts->input_count < 1 ||
        (!opts->cache_dir && !opts->on_codes))
        return graft__fail(GRAFT_EINVAL,
                           "extract: a model, at least one input, and a cache or on_codes needed");
    if (opts->transform.width < 1 || opts->transform.height < 1)
        return graft__fail(GRAFT_EINVAL, "extract: the transform has no input size");

    graft_extract_options o = *opts;
    if (o.batch <= 0) o.batch = 32;
    if (o.segment_rows <= 0) o.segment_rows = 4096;
    if (o.commit_seconds <= 0) o.commit_seconds = 60;
    if (o.progress_seconds <= 0) o.progress_seconds = 0.5;
    if (o.decode_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.decode_threads = n > 0 ? (int)n : 1;
    }

    extract *x = calloc(1, sizeof *x);
    if (!x) return graft__fail(GRAFT_ENOMEM, "extract: out of memory");
    x->o = &o;
    x->N = o.batch;
    x->t0 = now_seconds();
    char preprocess[1200];
    int rc = open_model(x, preprocess, sizeof preprocess);
    if (!rc) rc = alloc_buffers(x);
    if (!rc) rc = open_cache(x, preprocess);
    if (!rc) rc = graft_reader_create(o.inputs, o.input_count, &o.read, &x->reader);
    if (rc) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", graft_last_error());
        free_all(x);
        free(x);
        return graft__fail(rc, "%s", msg);
    }
    x->st.shard_count = graft_reader_shard_count(x->reader);
    x->st.setup_seconds = now_seconds() - x->t0;

    size_uv_pool(o.decode_threads);
    uv_loop_init(&x->loop);
    uv_timer_init(&x->loop, &x->progress_timer);
    uv_timer_init(&x->loop, &x->commit_timer);
    uv_async_init(&x->loop, &x->stop_async, on_stop_async);
    x->progress_timer.data = x->commit_timer.data = x->stop_async.data = x;
    uint64_t prog_ms = (uint64_t)(o.progress_seconds * 1000) ? (uint64_t)(o.progress_seconds * 1000) : 1;
    uint64_t commit_ms = (uint64_t)(o.commit_seconds * 1000) ? (uint64_t)(o.commit_seconds * 1000) : 1;
    uv_timer_start(&x->progress_timer, on_progress_timer, prog_ms, prog_ms);
    uv_timer_start(&x->commit_timer, on_commit_timer, commit_ms, commit_ms);
    if (o.handle_signals) {
        uv_signal_init(&x->loop, &x->sigint);
        uv_signal_init(&x->loop, &x->sigterm);
        x->sigint.data = x->sigterm.data = x;
        uv_signal_start(&x->sigint, on_signal, SIGINT);
        uv_signal_start(&x->sigterm, on_signal, SIGTERM);
    }
    atomic_store(&current_run, x);

    pump(x);
    uv_run(&x->loop, UV_RUN_DEFAULT);

    atomic_store(&current_run, NULL);
    fill_progress(x);
    if (o.on_progress) o.on_progress(o.user, &x->st);
    int close_rc = uv_loop_close(&x->loop);
    rc = x->fatal;
    if (stats) *stats = x->st;
    char msg[600];
    snprintf(msg, sizeof msg, "%s", x->fatal_msg);
    free_all(x);
    free(x);
    if (rc) return graft__fail(rc, "%s", msg);
    if (close_rc) return graft__fail(GRAFT_EIO, "extract: the event loop did not close: %s",
                                     uv_strerror(close_rc));
    return GRAFT_OK;
}
