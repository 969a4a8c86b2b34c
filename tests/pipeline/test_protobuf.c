/*
 * tests/pipeline/test_protobuf.c: the Criterion suite around the plain checks of
 * check_protobuf.c (the wire reader and the ONNX decoder on hand-made and malformed buffers).
 */

#include "../crit_check.h"


#define PROTOBUF_TEST(name) GRAFT_CHECK_TEST(protobuf, graft_checks_protobuf, name)

PROTOBUF_TEST(varint_limits)
PROTOBUF_TEST(reader_fields)
PROTOBUF_TEST(packed_fields)
PROTOBUF_TEST(hand_made_model)
PROTOBUF_TEST(truncated_every_offset)
PROTOBUF_TEST(malformed_models)
PROTOBUF_TEST(deep_nesting)
PROTOBUF_TEST(random_and_mutated_bytes)
PROTOBUF_TEST(absurd_dims)
PROTOBUF_TEST(tensor_data_consistency)
PROTOBUF_TEST(tensor_conversions)
PROTOBUF_TEST(file_loaders)
