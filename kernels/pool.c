/*
 * kernels/pool.c: the kernel thread pool. Every parallel kernel (GEMM today, convolutions and
 * backprop later) runs its tasks here, so the number of compute threads stays GRAFT_THREADS
 * however many kernels a network calls. The pipeline's decode workers live in libuv's own pool;
 * the two never share threads.
 *
 * A region (graft__pool_begin .. end) owns the whole pool; regions from different user threads
 * take turns. Each pool thread owns a scratch buffer (GEMM packing space) that only grows and
 * is faulted in once, because first-touch page faults cost ~11 us per 4 KiB page here.
 *
 * Idle workers spin briefly before sleeping on a condition variable: a network calls many
 * small kernels back to back and a futex wake per call would cost more than some of them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels.h"

#define POOL_MAX_THREADS 256
#define SPIN_ITERS 200000

typedef struct pool_thread {
    pthread_t tid;
    unsigned start_generation; /* the job generation already past when the worker started */
    void *scratch;
    size_t scratch_bytes;
} pool_thread;

/*
 * Thread t's home tasks of the current job: from `next` (set to the range's first task) up to
 * `end`, claimed from the front by whichever thread gets there. A line each, so that claiming
 * does not bounce one line between the cores.
 */
typedef struct task_range {
    _Alignas(64) atomic_int next;
    int end;
} task_range;

static struct {
    pthread_mutex_t region; /* held from begin to end */
    pthread_mutex_t mu;     /* guards the condition variables' predicates */
    pthread_cond_t wake, done;
    int threads;            /* pool threads including the caller (index 0) */
    pool_thread th[POOL_MAX_THREADS];
    /* the current job */
    graft__task_fn fn;
    void *ctx;
    int ntasks;
    task_range range[POOL_MAX_THREADS];
    atomic_int busy_workers;
    atomic_uint generation;
    atomic_int shutdown;
} pool = {.region = PTHREAD_MUTEX_INITIALIZER,
          .mu = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

/*
 * The pool thread whose task this thread is running, -1 outside tasks. A kernel called from
 * inside a task (a net running one micro-batch per thread) runs serially on that thread with
 * its scratch instead of waiting for the region its caller holds.
 */
static _Thread_local int in_task = -1;

/*
 * A thread runs its home range of the tasks first, then takes what is left of the others'
 * ranges. Home ranges are contiguous and cut the same way in every job, and kernels number
 * their tasks in memory order (pixels, rows, tiles), so a thread mostly reads what it wrote in
 * the layer before, from its own cache: with one shared counter the tasks fell to the threads
 * at random, and MobileNetV2 at batch 1 ran some layers slower on two threads than on one,
 * fetching its input from the other core's cache.
 */
static void run_tasks(int thread) {
    in_task = thread;
    for (int i = 0; i < pool.threads; i++) {
        task_range *r = &pool.range[(thread + i) % pool.threads];
        int t;
        while ((t = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed)) < r->end)
            pool.fn(pool.ctx, t, thread);
    }
    in_task = -1;
}

static void *worker_main(void *arg) {
    int self = (int)(size_t)arg;
    unsigned seen = pool.th[self].start_generation;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen &&
               !atomic_load(&pool.shutdown) && spins < SPIN_ITERS) {
            spins++;
            __asm__ volatile("" ::: "memory");
        }
        if (gen == seen && !atomic_load(&pool.shutdown)) {
            pthread_mutex_lock(&pool.mu);
            while ((gen = atomic_load(&pool.generation)) == seen && !atomic_load(&pool.shutdown))
                pthread_cond_wait(&pool.wake, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
        }
        if (atomic_load(&pool.shutdown)) return NULL;
        seen = gen;
        run_tasks(self);
        if (atomic_fetch_sub_explicit(&pool.busy_workers, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.mu);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
    }
}

static void stop_workers(void) {
    pthread_mutex_lock(&pool.mu);
    atomic_store(&pool.shutdown, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 1; i < pool.threads; i++) pthread_join(pool.th[i].tid, NULL);
    atomic_store(&pool.shutdown, 0);
    pool.threads = 1;
}

/* Starts workers 1..want-1; a thread that cannot be created just leaves the pool smaller. */
static void start_workers(int want) {
    pool.threads = 1;
    for (int i = 1; i < want; i++) {
        pool.th[i].start_generation = atomic_load(&pool.generation);
        if (pthread_create(&pool.th[i].tid, NULL, worker_main, (void *)(size_t)i) != 0) break;
        pool.threads = i + 1;
    }
}

static char threads_env_note[128];

static void pool_init(void) {
    int n = graft__cpu()->cores;
    const char *env = getenv("GRAFT_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 1 && v <= POOL_MAX_THREADS)
            n = (int)v;
        else
            snprintf(threads_env_note, sizeof threads_env_note,
                     "GRAFT_THREADS=%s ignored (expected 1..%d); using %d", env,
                     POOL_MAX_THREADS, n);
    }
    if (n > POOL_MAX_THREADS) n = POOL_MAX_THREADS;
    start_workers(n);
}

/* A note about an ignored GRAFT_THREADS, "" when none; for `graft cpu`. */
const char *graft__pool_env_note(void) {
    pthread_once(&pool_once, pool_init);
    return threads_env_note;
}

int graft_threads_get(void) {
    pthread_once(&pool_once, pool_init);
    return pool.threads;
}

int graft_threads_set(int threads) {
    pthread_once(&pool_once, pool_init);
    if (threads < 1 || threads > POOL_MAX_THREADS)
        return graft__fail(GRAFT_EINVAL, "threads = %d is outside 1..%d", threads,
                           POOL_MAX_THREADS);
    pthread_mutex_lock(&pool.region);
    if (threads != pool.threads) {
        stop_workers();
        start_workers(threads);
    }
    pthread_mutex_unlock(&pool.region);
    return GRAFT_OK;
}

/* Grows one thread's scratch; huge pages where the kernel gives them, faulted in now. */
static int grow_scratch(pool_thread *t, size_t bytes) {
    const size_t huge = 2u << 20;
    size_t size = (bytes + huge - 1) & ~(huge - 1);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    madvise(p, size, MADV_HUGEPAGE);
    memset(p, 0, size);
    if (t->scratch) munmap(t->scratch, t->scratch_bytes);
    t->scratch = p;
    t->scratch_bytes = size;
    return 0;
}

int graft__pool_begin(size_t scratch_bytes, int *threads) {
    if (in_task >= 0) {
        pool_thread *t = &pool.th[in_task];
        if (t->scratch_bytes < scratch_bytes && grow_scratch(t, scratch_bytes) != 0)
            return graft__fail(GRAFT_ENOMEM, "kernel pool: cannot map %zu bytes of scratch: %s",
                               scratch_bytes, strerror(errno));
        *threads = 1;
        return GRAFT_OK;
    }
    pthread_once(&pool_once, pool_init);
    pthread_mutex_lock(&pool.region);
    for (int i = 0; i < pool.threads; i++) {
        if (pool.th[i].scratch_bytes >= scratch_bytes) continue;
        if (grow_scratch(&pool.th[i], scratch_bytes) != 0) {
            pthread_mutex_unlock(&pool.region);
            return graft__fail(GRAFT_ENOMEM, "kernel pool: cannot map %zu bytes of scratch: %s",
                               scratch_bytes, strerror(errno));
        }
    }
    *threads = pool.threads;
    return GRAFT_OK;
}

void *graft__pool_scratch(int thread) { return pool.th[in_task >= 0 ? in_task : thread].scratch; }

int graft__pool_threads(void) { return in_task >= 0 ? 1 : graft_threads_get(); }

void graft__pool_run(int ntasks, graft__task_fn fn, void *ctx) {
    if (ntasks <= 0) return;
    if (in_task >= 0 || ntasks == 1 || pool.threads == 1) {
        int outer = in_task;
        in_task = outer >= 0 ? outer : 0;
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
        in_task = outer;
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.ntasks = ntasks;
    for (int t = 0; t < pool.threads; t++) {
        atomic_store_explicit(&pool.range[t].next, (int)((long)ntasks * t / pool.threads),
                              memory_order_relaxed);
        pool.range[t].end = (int)((long)ntasks * (t + 1) / pool.threads);
    }
    atomic_store(&pool.busy_workers, pool.threads - 1);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);

    run_tasks(0);

    int spins = 0;
    while (atomic_load_explicit(&pool.busy_workers, memory_order_acquire) > 0 &&
           spins++ < SPIN_ITERS)
        __asm__ volatile("" ::: "memory");
    if (atomic_load(&pool.busy_workers) > 0) {
        pthread_mutex_lock(&pool.mu);
        while (atomic_load(&pool.busy_workers) > 0) pthread_cond_wait(&pool.done, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
    }
}

void graft__pool_end(void) {
    if (in_task < 0) pthread_mutex_unlock(&pool.region);
}
