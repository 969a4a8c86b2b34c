/*
 * tests/kernels/test_dispatch.c: ISA selection and thread settings as a user meets them,
 * through the environment of a real `graft` process (the choice is made once per process,
 * so each case needs its own), plus the CPU probe's invariants and the error tables.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graft/graft.h"

#ifndef GRAFT_BUILD_DIR
#define GRAFT_BUILD_DIR "build"
#endif

/* Runs `env graft args` and returns its exit status; its stdout+stderr go to out. */
static int run_graft(const char *env, const char *args, char *out, size_t len) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "env %s %s/graft %s 2>&1", env, GRAFT_BUILD_DIR, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(dispatch, graft_isa_forces_a_variant) {
    char out[4096];
    cr_assert_eq(run_graft("GRAFT_ISA=scalar", "cpu", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "in use: scalar (from GRAFT_ISA)"), "%s", out);
    if (graft_isa_available(GRAFT_ISA_AVX2)) {
        cr_assert_eq(run_graft("GRAFT_ISA=avx2", "cpu", out, sizeof out), 0, "%s", out);
        cr_assert(strstr(out, "in use: avx2"), "%s", out);
    }
}

Test(dispatch, unavailable_isa_is_a_clear_error) {
    char out[4096];
    const char *missing = NULL;
    for (int i = GRAFT_ISA_SCALAR; i < GRAFT_ISA_COUNT; i++)
        if (!graft_isa_available((graft_isa)i)) missing = graft_isa_name((graft_isa)i);
    if (!missing) cr_skip_test("this CPU has every variant");
    char env[64];
    snprintf(env, sizeof env, "GRAFT_ISA=%s", missing);
    cr_assert_eq(run_graft(env, "cpu", out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "is not available on this CPU"), "%s", out);
    /* The selftest must refuse too rather than silently run another variant. */
    cr_assert_neq(run_graft(env, "selftest", out, sizeof out), 0, "%s", out);
}

Test(dispatch, unknown_isa_name_is_refused) {
    char out[4096];
    cr_assert_eq(run_graft("GRAFT_ISA=sse9", "cpu", out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "GRAFT_ISA=sse9 is not a known variant"), "%s", out);
}

Test(dispatch, graft_threads_sizes_the_pool) {
    char out[4096];
    cr_assert_eq(run_graft("GRAFT_THREADS=1", "cpu", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "threads    1 (from GRAFT_THREADS)"), "%s", out);
    cr_assert_eq(run_graft("GRAFT_THREADS=3", "cpu", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "threads    3"), "%s", out);
    cr_assert_eq(run_graft("GRAFT_THREADS=zero", "cpu", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "GRAFT_THREADS=zero ignored"), "%s", out);
}

Test(dispatch, cli_help_and_usage_errors) {
    char out[4096];
    cr_assert_eq(run_graft("", "--help", out, sizeof out), 0);
    cr_assert(strstr(out, "cpu") && strstr(out, "version") && strstr(out, "selftest"), "%s", out);
    cr_assert_eq(run_graft("", "version", out, sizeof out), 0);
    cr_assert(strstr(out, GRAFT_VERSION_STRING), "%s", out);
    cr_assert_eq(run_graft("", "frobnicate", out, sizeof out), 2);
    cr_assert(strstr(out, "unknown command 'frobnicate'"), "%s", out);
    cr_assert_eq(run_graft("", "cpu --help", out, sizeof out), 0);
    cr_assert(strstr(out, "usage: graft cpu"), "%s", out);
}

Test(dispatch, probe_is_consistent) {
    graft_cpu_info ci;
    graft_cpu_get_info(&ci);
    cr_assert_gt(ci.cores, 0);
    cr_assert(graft_isa_available(GRAFT_ISA_SCALAR));
    /* AVX-512 kernels also use AVX2/FMA instructions in their epilogues. */
    if (ci.has_avx512) cr_assert(ci.has_avx2_fma);
    graft_isa isa;
    cr_assert_eq(graft_isa_current(&isa), GRAFT_OK, "%s", graft_last_error());
    cr_assert(graft_isa_available(isa));
    for (int i = 0; i < GRAFT_ISA_COUNT; i++) {
        graft_isa back;
        cr_assert_eq(graft_isa_parse(graft_isa_name((graft_isa)i), &back), GRAFT_OK);
        cr_assert_eq(back, (graft_isa)i);
    }
}

Test(errors, every_code_has_a_name_and_message) {
    static const int codes[] = {GRAFT_OK,     GRAFT_EINVAL,   GRAFT_ENOMEM, GRAFT_EUNSUPPORTED,
                                GRAFT_EIO,    GRAFT_ECORRUPT, GRAFT_ERANGE};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        cr_assert_str_neq(graft_err_name(codes[i]), "GRAFT_UNKNOWN");
        cr_assert_str_neq(graft_strerror(codes[i]), "unknown error");
    }
    cr_assert_str_eq(graft_err_name(GRAFT_EINVAL), "GRAFT_EINVAL");
    cr_assert_str_eq(graft_err_name(12345), "GRAFT_UNKNOWN");
}
