/*
 * kernels/dispatch.c: chooses the ISA variant of every kernel. The choice is made once, from
 * the environment's GRAFT_ISA or else the most capable variant the probe (cpu.c) allows, and
 * can be pinned later with graft_isa_set() by tests and benches. A GRAFT_ISA that cannot be
 * honoured is an error that every kernel call reports, never a silent fallback, so a bench or
 * test that asked for avx512 never measures something else.
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"

static const char *const isa_names[GRAFT_ISA_COUNT] = {"auto", "scalar", "avx2", "avx512",
                                                       "neon"};

const char *graft_isa_name(graft_isa isa) {
    return (unsigned)isa < GRAFT_ISA_COUNT ? isa_names[isa] : "unknown";
}

int graft_isa_parse(const char *name, graft_isa *out) {
    for (int i = 0; name && i < GRAFT_ISA_COUNT; i++)
        if (strcmp(name, isa_names[i]) == 0) {
            *out = (graft_isa)i;
            return GRAFT_OK;
        }
    return graft__fail(GRAFT_EINVAL, "unknown ISA \"%s\" (expected scalar, avx2, avx512, neon"
                                     " or auto)", name ? name : "(null)");
}

static graft_isa best_isa(void) {
    if (graft_isa_available(GRAFT_ISA_AVX512)) return GRAFT_ISA_AVX512;
    if (graft_isa_available(GRAFT_ISA_AVX2)) return GRAFT_ISA_AVX2;
    if (graft_isa_available(GRAFT_ISA_NEON)) return GRAFT_ISA_NEON;
    return GRAFT_ISA_SCALAR;
}

/* The selection: either a usable ISA or the error explaining why GRAFT_ISA was refused. */
static graft_isa isa_selected;
static int isa_env_err;
static char isa_env_msg[160];
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

static int have_kernel(graft_isa isa) {
    return graft_isa_available(isa) && graft__sgemm_kernel_for(isa) != NULL;
}

static void select_from_env(void) {
    const char *env = getenv("GRAFT_ISA");
    isa_selected = best_isa();
    if (!env || !*env) return;
    graft_isa want;
    if (graft_isa_parse(env, &want) != GRAFT_OK) {
        isa_env_err = GRAFT_EINVAL;
        snprintf(isa_env_msg, sizeof isa_env_msg,
                 "GRAFT_ISA=%s is not a known variant (scalar, avx2, avx512, neon, auto)", env);
        return;
    }
    if (want == GRAFT_ISA_AUTO) return;
    if (!have_kernel(want)) {
        isa_env_err = GRAFT_EUNSUPPORTED;
        snprintf(isa_env_msg, sizeof isa_env_msg,
                 "GRAFT_ISA=%s is not available on this CPU (%s); unset it or choose %s", env,
                 graft__cpu()->arch, graft_isa_name(best_isa()));
        return;
    }
    isa_selected = want;
}

int graft_isa_current(graft_isa *out) {
    pthread_once(&isa_once, select_from_env);
    if (isa_env_err) return graft__fail(isa_env_err, "%s", isa_env_msg);
    *out = isa_selected;
    return GRAFT_OK;
}

int graft_isa_set(graft_isa isa) {
    pthread_once(&isa_once, select_from_env);
    if ((unsigned)isa >= GRAFT_ISA_COUNT)
        return graft__fail(GRAFT_EINVAL, "graft_isa_set: %d is not a graft_isa", (int)isa);
    if (isa == GRAFT_ISA_AUTO) isa = best_isa();
    if (!have_kernel(isa))
        return graft__fail(GRAFT_EUNSUPPORTED, "ISA %s is not available on this CPU (%s)",
                           graft_isa_name(isa), graft__cpu()->arch);
    isa_selected = isa;
    isa_env_err = 0; /* an explicit choice overrides a bad environment */
    return GRAFT_OK;
}

/*
 * Blocking per variant. KC keeps an MR x KC micro-panel of A in L1 (48 KiB here) next to the
 * B micro-panel being streamed; NC keeps a KC x NC block of B in half of L2 (1 MiB here); MC
 * bounds the packed block of A, which streams from L3 or memory once per block of B.
 */
static const graft__sgemm_kernel sgemm_kernels[] = {
    {GRAFT_ISA_SCALAR, GRAFT__REF_MR, GRAFT__REF_NR, 256, 512, 256, 0, graft_sgemm_ukr_ref, NULL,
     graft_sgemv_dot_ref, graft_sgemv_axpy_ref},
#if defined(__x86_64__)
    {GRAFT_ISA_AVX2, 6, 16, 256, 4080, 168, 1, graft_sgemm_ukr_6x16_avx2,
     graft_sgemm_pack_a_6_avx2, graft_sgemv_dot_avx2, graft_sgemv_axpy_avx2},
    {GRAFT_ISA_AVX512, 14, 32, 384, 320, 4032, 0, graft_sgemm_ukr_14x32_avx512,
     graft_sgemm_pack_a_14_avx512, graft_sgemv_dot_avx512,
     graft_sgemv_axpy_avx512},
#endif
#if defined(__aarch64__)
    {GRAFT_ISA_NEON, 8, 12, 256, 480, 1024, 0, graft_sgemm_ukr_8x12_neon, NULL,
     graft_sgemv_dot_ref, graft_sgemv_axpy_ref},
#endif
};

const graft__sgemm_kernel *graft__sgemm_kernel_for(graft_isa isa) {
    for (size_t i = 0; i < sizeof sgemm_kernels / sizeof sgemm_kernels[0]; i++)
        if (sgemm_kernels[i].isa == isa) return &sgemm_kernels[i];
    return NULL;
}

int graft__sgemm_kernel_current(const graft__sgemm_kernel **out) {
    graft_isa isa;
    int err = graft_isa_current(&isa);
    if (err) return err;
    *out = graft__sgemm_kernel_for(isa);
    return GRAFT_OK;
}
