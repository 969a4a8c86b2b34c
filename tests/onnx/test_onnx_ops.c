/*
 * tests/onnx/test_onnx_ops.c: the Criterion suite around the ONNX conformance checks of
 * check_onnx_ops.c.
 */
#include <criterion/criterion.h>

#include "../check.h"

static void run_check(const char *name) {
    for (const graft_check *c = graft_checks_onnx_ops; c->name; c++) {
        if (strcmp(c->name, name) != 0) continue;
        char msg[1024] = "";
        int st = c->fn(msg, sizeof msg);
        if (st == GRAFT_CHECK_SKIP) cr_skip_test("%s", msg);
        cr_assert_eq(st, GRAFT_CHECK_PASS, "%s", msg);
        cr_log_info("%s: %s", name, msg);
        return;
    }
    cr_assert_fail("no check named %s", name);
}

#define ONNX_TEST(name) \
    Test(onnx_ops, name, .timeout = 300) { run_check(#name); }

ONNX_TEST(conv)
ONNX_TEST(conv_pytorch)
ONNX_TEST(pool)
ONNX_TEST(pool_pytorch)
ONNX_TEST(activations)
ONNX_TEST(softmax)
ONNX_TEST(lrn)
ONNX_TEST(batchnorm)
ONNX_TEST(batchnorm_pytorch)
ONNX_TEST(add_mul)
ONNX_TEST(concat)
