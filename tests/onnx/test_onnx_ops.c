/*
 * tests/onnx/test_onnx_ops.c: the Criterion suite around the ONNX conformance checks of
 * check_onnx_ops.c.
 */

#include "../crit_check.h"


#define ONNX_TEST(name) GRAFT_CHECK_TEST(onnx_ops, graft_checks_onnx_ops, name)

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
