/*
 * tests/model/test_tflite.c: the Criterion suite around the plain TFLite importer checks of
 * check_tflite.c (kept in plain C so the aarch64 build can run them under qemu).
 */

#include "../crit_check.h"

#define TFLITE_TEST(name) GRAFT_CHECK_TEST(tflite, graft_checks_tflite, name)

TFLITE_TEST(conv_options)
TFLITE_TEST(pool_options)
TFLITE_TEST(fully_connected)
TFLITE_TEST(binary_ops)
TFLITE_TEST(unary_ops)
TFLITE_TEST(axis_and_shape_ops)
TFLITE_TEST(dynamic_batch)
TFLITE_TEST(preproc_metadata_labels)
TFLITE_TEST(rejects_bad_models)
TFLITE_TEST(truncated_and_corrupted)
TFLITE_TEST(sample_models_run)
TFLITE_TEST(reader_bounds)
TFLITE_TEST(real_models_match_references)
TFLITE_TEST(embedding_matches_onnx)
