/*
 * tests/onnx/test_onnx_loader.c: the Criterion suite around the plain checks of
 * check_onnx_loader.c (the ONNX decoder and the node test loader on libonnx-testdata).
 */

#include "../crit_check.h"


#define ONNX_LOADER_TEST(name) GRAFT_CHECK_TEST(onnx_loader, graft_checks_onnx_loader, name)

ONNX_LOADER_TEST(decodes_all_conformance_files)
ONNX_LOADER_TEST(relu_known_values)
ONNX_LOADER_TEST(conv_with_strides_padding_attributes)
ONNX_LOADER_TEST(cast_inputs_convert_exactly)
ONNX_LOADER_TEST(integer_and_bool_inputs)
ONNX_LOADER_TEST(lists_tests_by_prefix)
ONNX_LOADER_TEST(loader_errors)
ONNX_LOADER_TEST(loads_every_node_case)
