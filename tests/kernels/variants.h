/*
 * tests/kernels/variants.h: what the kernel checks that loop over every ISA variant share: a
 * seeded xorshift generator, the variant list, pinning a variant and thread count, the note
 * naming the variants that ran, and the expected-error-code check. Header-only (static
 * functions), included by check_*.c files.
 */
#ifndef GRAFT_TESTS_VARIANTS_H
#define GRAFT_TESTS_VARIANTS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graft/graft.h"
#include "graft/kernels.h"
#include "../check.h"

typedef struct rng {
    uint64_t s;
} rng;
static inline uint64_t rng_next(rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}
/* Uniform in [lo, hi). */
static inline double rng_uniform(rng *r, double lo, double hi) {
    return lo + (hi - lo) * ((rng_next(r) >> 11) / 9007199254740992.0);
}
static inline rng rng_seed(uint64_t seed) { return (rng){seed * 0x9e3779b97f4a7c15ull + 7}; }

static const graft_isa all_isas[] = {GRAFT_ISA_SCALAR, GRAFT_ISA_AVX2, GRAFT_ISA_AVX512,
                                     GRAFT_ISA_NEON};
#define NISAS ((int)(sizeof all_isas / sizeof all_isas[0]))

/* Pins the variant and thread count; 0 when the CPU lacks the variant. */
static inline int use(graft_isa isa, int threads) {
    if (!graft_isa_available(isa) || graft_isa_set(isa) != GRAFT_OK) return 0;
    return graft_threads_set(threads) == GRAFT_OK;
}
static inline void restore(int threads) {
    graft_isa_set(GRAFT_ISA_AUTO);
    graft_threads_set(threads);
}

static inline float *falloc(size_t n) { return malloc(sizeof(float) * (n ? n : 1)); }

/* Appends the names of the variants that ran, for a passing check's message. */
static inline void ran_note(char *msg, size_t msglen, const int *ran) {
    char buf[128] = "";
    for (int v = 0; v < NISAS; v++)
        if (ran[v]) {
            strncat(buf, graft_isa_name(all_isas[v]), sizeof buf - strlen(buf) - 2);
            strncat(buf, " ", sizeof buf - strlen(buf) - 1);
        }
    snprintf(msg, msglen, "variants run: %s(the others are not on this CPU)", buf);
}

/* In a check taking (char *msg, size_t msglen): returns a failure unless call gives code. */
#define EXPECT(call, code, what)                                                               \
    do {                                                                                       \
        int got_ = (call);                                                                     \
        if (got_ != (code))                                                                    \
            return graft_check_fail(msg, msglen, "%s: returned %d, want %d (%s)", what, got_,  \
                                    code, graft_last_error());                                 \
    } while (0)

#endif
