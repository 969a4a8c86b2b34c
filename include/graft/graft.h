/*
 * graft.h: the core of graft's public API: versions, error codes, the CPU/ISA probe and the
 * kernel thread pool settings. Every other public header includes this one.
 *
 * graft turns images into CNN codes with its own kernels and trains classifiers on them. This
 * header holds what every stage shares; the kernels (GEMM, later convolution) are declared in
 * kernels.h. Nothing here allocates on behalf of the caller except where a function says so.
 */
#ifndef GRAFT_GRAFT_H
#define GRAFT_GRAFT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GRAFT_VERSION_MAJOR 0
#define GRAFT_VERSION_MINOR 1
#define GRAFT_VERSION_PATCH 0
#define GRAFT_VERSION_STRING "0.1.0"

/* Returns GRAFT_VERSION_STRING as compiled into the library (may differ from the header's). */
const char *graft_version(void);

/*
 * Error codes. 0 is success; every failure is negative. One list generates the enum, the names
 * and the one-line messages, as libuv does with its errno table. Functions that fail also leave
 * a detailed message for the calling thread in graft_last_error().
 */
#define GRAFT_ERRNO_MAP(X)                                                    \
    X(OK, 0, "success")                                                       \
    X(EINVAL, -1, "invalid argument")                                         \
    X(ENOMEM, -2, "out of memory")                                            \
    X(EUNSUPPORTED, -3, "not supported on this machine or build")             \
    X(EIO, -4, "input/output error")                                          \
    X(ECORRUPT, -5, "corrupt or malformed data")                              \
    X(ERANGE, -6, "value or size out of range")                               \
    X(EMISMATCH, -7, "does not match what was expected")                      \
    X(ENOSPC, -8, "no space left on device")                                  \
    X(ECANCELED, -9, "stopped before completion")

typedef enum graft_err {
#define GRAFT__ERR_ENUM(name, code, msg) GRAFT_##name = (code),
    GRAFT_ERRNO_MAP(GRAFT__ERR_ENUM)
#undef GRAFT__ERR_ENUM
} graft_err;

/* "GRAFT_EINVAL" for GRAFT_EINVAL; "GRAFT_UNKNOWN" for a code outside the list. */
const char *graft_err_name(int err);
/* The one-line message of a code: "invalid argument". Static storage; never NULL. */
const char *graft_strerror(int err);
/*
 * The detailed message of the most recent failure on the calling thread, e.g.
 * "sgemm: lda = 3 is smaller than K = 7 (A not transposed)". Thread-local storage owned by
 * graft, valid until the next graft call on the same thread; "" when nothing failed yet.
 */
const char *graft_last_error(void);

/*
 * Instruction-set variants of the kernels. GRAFT_ISA_AUTO asks for the best one the CPU and OS
 * support. The values are ordered by preference within an architecture.
 */
typedef enum graft_isa {
    GRAFT_ISA_AUTO = 0,
    GRAFT_ISA_SCALAR,
    GRAFT_ISA_AVX2,   /* AVX2 + FMA3, x86-64 */
    GRAFT_ISA_AVX512, /* AVX-512 F/VL/DQ/BW, x86-64 */
    GRAFT_ISA_NEON,   /* Advanced SIMD, aarch64 */
    GRAFT_ISA_COUNT
} graft_isa;

/* "scalar", "avx2", "avx512", "neon" ("auto" for GRAFT_ISA_AUTO). */
const char *graft_isa_name(graft_isa isa);
/* Parses a name as above; GRAFT_EINVAL for an unknown name. *out written only on success. */
int graft_isa_parse(const char *name, graft_isa *out);

/* What the processor and the operating system offer, as probed once at first use. */
typedef struct graft_cpu_info {
    char arch[16];          /* "x86_64", "aarch64", ... */
    char vendor[16];        /* "GenuineIntel", "AuthenticAMD", "" when unknown */
    char model_name[64];    /* brand string, "" when unknown */
    int has_avx2_fma;       /* cpuid AVX2+FMA and the OS saves YMM state (xgetbv) */
    int has_avx512;         /* cpuid AVX-512F/VL/DQ/BW and the OS saves ZMM/opmask state */
    int has_neon;           /* aarch64: always */
    size_t l1d_bytes, l2_bytes, l3_bytes; /* per core (L3: shared); 0 when unknown */
    int cores;              /* online logical processors */
} graft_cpu_info;

/* Fills *out with the probed CPU facts. Never fails; thread-safe. */
void graft_cpu_get_info(graft_cpu_info *out);
/* 1 when the kernels of `isa` can run on this CPU (GRAFT_ISA_AUTO and SCALAR: always). */
int graft_isa_available(graft_isa isa);

/*
 * The ISA the kernels use. On first use it is the environment's GRAFT_ISA when set
 * (scalar|avx2|avx512|neon|auto), else the best available. A GRAFT_ISA naming an unknown or
 * unavailable variant is an error, reported by graft_isa_current() and by every kernel call
 * (GRAFT_EUNSUPPORTED / GRAFT_EINVAL with a message) rather than silently ignored.
 */
int graft_isa_current(graft_isa *out);
/*
 * Pins the kernels to `isa` for the whole process (tests and benches iterate variants this
 * way); GRAFT_ISA_AUTO picks the best again. GRAFT_EUNSUPPORTED when the CPU lacks it. Not to be
 * called while kernels run on other threads.
 */
int graft_isa_set(graft_isa isa);

/*
 * Threads of the kernel thread pool, shared by every parallel kernel. On first use it is the
 * environment's GRAFT_THREADS when set (1..256), else the number of online cores. Results of
 * every kernel are bit-identical for any thread count.
 */
int graft_threads_get(void);
/* Resizes the pool (1..256); GRAFT_EINVAL outside that range. Not while kernels run. */
int graft_threads_set(int threads);

#ifdef __cplusplus
}
#endif
#endif
