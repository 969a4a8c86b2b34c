/*
 * tests/pipeline/test_protobuf.c: the Criterion suite around the plain checks of
 * check_protobuf.c (the wire reader and the ONNX decoder on hand-made and malformed buffers).
 */
#include <criterion/criterion.h>

#include "../check.h"

static void run_check(const char *name) {
    for (const graft_check *c = graft_checks_protobuf; c->name; c++) {
        if (strcmp(c->name, name) != 0) continue;
        char msg[1024] = "";
        int st = c->fn(msg, sizeof msg);
        if (st == GRAFT_CHECK_SKIP) cr_skip_test("%s", msg);
        cr_assert_eq(st, GRAFT_CHECK_PASS, "%s", msg);
        return;
    }
    cr_assert_fail("no check named %s", name);
}

#define PROTOBUF_TEST(name) \
    Test(protobuf, name, .timeout = 300) { run_check(#name); }

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
