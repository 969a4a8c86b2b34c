/*
 * tests/onnx/test_onnx_graph.c: the Criterion suite around check_onnx_graph.c, the ONNX
 * conformance node tests run through the whole model runtime.
 */
#include "../crit_check.h"

#define GRAPH_TEST(name) GRAFT_CHECK_TEST(onnx_graph, graft_checks_onnx_graph, name)

GRAPH_TEST(node)
GRAPH_TEST(pytorch_converted)
