/*
 * tests/run_checks.c: a plain-C runner for the checks of tests/check.h, used where Criterion is
 * not available (the aarch64 build under qemu-user, `make test-neon`).
 *
 * It runs every check of every table below in order, prints one line per check and a summary,
 * and exits 1 when any check failed. An optional argument keeps only the checks whose
 * "suite::name" contains it. It does not fork, time or retry checks: a crash ends the run, and
 * the lines already printed show which check was running.
 *
 * Usage: run_checks [FILTER]
 */
#include <stdio.h>
#include <string.h>

#include "check.h"

/* Every table the runner knows; adding a check_*.c file adds one line here. */
static const graft_check *const check_tables[] = {
    graft_checks_gemm,
    graft_checks_pooling,
    graft_checks_eltwise,
    graft_checks_vmath,
    graft_checks_conv,
    graft_checks_conv_grad,
    graft_checks_grad,
    graft_checks_lrn_grad,
    graft_checks_winograd,
    graft_checks_protobuf,
    graft_checks_onnx_loader,
    graft_checks_onnx_ops,
    graft_checks_models,
    graft_checks_onnx_graph,
    graft_checks_net,
    graft_checks_tflite,
    graft_checks_image,
    graft_checks_learn,
    graft_checks_top,
#ifndef GRAFT_NO_IO_CHECKS /* libuv, libarchive and OpenSSL: host builds only */
    graft_checks_read,
    graft_checks_cache,
    graft_checks_loop,
    graft_checks_finetune,
    graft_checks_torch_grads, /* the fixtures need Debian's python3-torch */
#endif
};

#define CHECK_MSG_BYTES 1024

int main(int argc, char **argv) {
    if (argc > 2) {
        fprintf(stderr, "usage: %s [FILTER]\n", argv[0]);
        return 2;
    }
    const char *filter = argc == 2 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;

    for (size_t t = 0; t < sizeof check_tables / sizeof check_tables[0]; t++) {
        for (const graft_check *check = check_tables[t]; check->fn; check++) {
            char full_name[256];
            snprintf(full_name, sizeof full_name, "%s::%s", check->suite, check->name);
            if (filter && !strstr(full_name, filter)) continue;

            /* Flushed before running so that a crash still shows the last line printed. */
            fflush(stdout);
            char msg[CHECK_MSG_BYTES] = "";
            int status = check->fn(msg, sizeof msg);
            /* A check may fill msg to the brim; never trust it to be terminated. */
            msg[sizeof msg - 1] = '\0';
            switch (status) {
            case GRAFT_CHECK_PASS:
                printf("[PASS] %s\n", full_name);
                passed++;
                break;
            case GRAFT_CHECK_SKIP:
                printf("[SKIP] %s: %s\n", full_name, msg[0] ? msg : "no reason given");
                skipped++;
                break;
            case GRAFT_CHECK_FAIL:
                printf("[FAIL] %s: %s\n", full_name, msg[0] ? msg : "no message");
                failed++;
                break;
            default:
                /* An unknown status is a bug in the check, and must not pass silently. */
                printf("[FAIL] %s: unknown check status %d%s%s\n", full_name, status,
                       msg[0] ? ": " : "", msg);
                failed++;
                break;
            }
        }
    }

    if (filter && passed + failed + skipped == 0)
        fprintf(stderr, "run_checks: no check matches \"%s\"\n", filter);
    printf("run_checks: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
