/*
 * tests/onnx/test_onnx_loader.c: the Criterion suite around the plain checks of
 * check_onnx_loader.c (the ONNX decoder and the node test loader on libonnx-testdata).
 */
#include <criterion/criterion.h>

#include "../check.h"

static void run_check(const char *name) {
    for (const graft_check *c = graft_checks_onnx_loader; c->name; c++) {
        if (strcmp(c->name, name) != 0) continue;
        char msg[1024] = "";
        int st = c->fn(msg, sizeof msg);
        if (st == GRAFT_CHECK_SKIP) cr_skip_test("%s", msg);
        cr_assert_eq(st, GRAFT_CHECK_PASS, "%s", msg);
        return;
    }
    cr_assert_fail("no check named %s", name);
}

#define ONNX_LOADER_TEST(name) \
    Test(onnx_loader, name, .timeout = 300) { run_check(#name); }

ONNX_LOADER_TEST(decodes_all_conformance_files)
ONNX_LOADER_TEST(relu_known_values)
ONNX_LOADER_TEST(conv_with_strides_padding_attributes)
ONNX_LOADER_TEST(cast_inputs_convert_exactly)
ONNX_LOADER_TEST(integer_and_bool_inputs)
ONNX_LOADER_TEST(lists_tests_by_prefix)
ONNX_LOADER_TEST(loader_errors)
ONNX_LOADER_TEST(loads_every_node_case)
