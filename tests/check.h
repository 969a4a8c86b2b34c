/*
 * tests/check.h: checks written as plain C functions, so that the same checks run inside the
 * Criterion suites (the test_*.c files) and in the plain runner (tests/run_checks.c) used for the
 * aarch64 build under qemu-user, where Criterion is not available.
 */
#ifndef GRAFT_TESTS_CHECK_H
#define GRAFT_TESTS_CHECK_H

#include <stddef.h>
#include <stdint.h>

#define GRAFT_CHECK_PASS 0
#define GRAFT_CHECK_FAIL 1
#define GRAFT_CHECK_SKIP 2

/* A check returns one of the codes above and, on FAIL or SKIP, says why in msg. */
typedef int (*graft_check_fn)(char *msg, size_t msglen);

typedef struct graft_check {
    const char *suite;
    const char *name;
    graft_check_fn fn;
} graft_check;

/* Writes the formatted reason into msg and returns GRAFT_CHECK_FAIL (or `code`). */
int graft_check_fail(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int graft_check_say(char *msg, size_t msglen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Writes len bytes to a new file in $TMPDIR (else /tmp), its path into path[cap]; 0 or -1.
 * The caller unlinks it.
 */
int graft_check_write_temp(const void *p, size_t len, char *path, size_t cap);

/* Appends the formatted text to msg[len] (always terminated; a full msg just stops growing). */
void graft_check_append(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 when path names a regular file (symbolic links followed). */
int graft_check_file_exists(const char *path);
/* Runs the formatted shell command (system()): its exit status, or -1 when it did not exit. */
int graft_check_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Bits from..from+7 of a sweep case's seed, hashed (splitmix64's finalizer), as a choice among
 * n. Sweeps pick their parameters this way: residues of the case index tie them to the loops'
 * shapes (idx % 3 over an inner loop of 6 window sizes gave each size one fixed set of LRN
 * parameters), and so does a plain multiplicative hash, whose low bits follow the index's.
 */
static inline int graft_check_pick(uint64_t seed, int from, int n) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (int)(z >> from & 0xff) % n;
}

/* Each check_*.c exports one table ending with a {NULL, NULL, NULL} entry. */
extern const graft_check graft_checks_gemm[];
extern const graft_check graft_checks_pooling[];
extern const graft_check graft_checks_eltwise[];
extern const graft_check graft_checks_vmath[];
extern const graft_check graft_checks_conv[];
extern const graft_check graft_checks_grad[];
extern const graft_check graft_checks_conv_grad[];
extern const graft_check graft_checks_lrn_grad[];
extern const graft_check graft_checks_winograd[];
extern const graft_check graft_checks_protobuf[];
extern const graft_check graft_checks_onnx_loader[];
extern const graft_check graft_checks_onnx_ops[];
extern const graft_check graft_checks_models[];
extern const graft_check graft_checks_onnx_graph[];
extern const graft_check graft_checks_net[];
extern const graft_check graft_checks_tflite[];
extern const graft_check graft_checks_image[];
extern const graft_check graft_checks_learn[];
extern const graft_check graft_checks_top[];
extern const graft_check graft_checks_loop[];
extern const graft_check graft_checks_read[];
extern const graft_check graft_checks_cache[];
extern const graft_check graft_checks_finetune[];
extern const graft_check graft_checks_torch_grads[];

#endif
