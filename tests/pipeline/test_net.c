/*
 * tests/pipeline/test_net.c: the Criterion suite around check_net.c (the model runtime on
 * small ONNX graphs the test writes).
 */
#include "../crit_check.h"

#define NET_TEST(name) GRAFT_CHECK_TEST(net, graft_checks_net, name)

NET_TEST(forward_matches_loops)
NET_TEST(int8_weights)
NET_TEST(external_data)
NET_TEST(taps)
NET_TEST(microbatch_equals_batch)
NET_TEST(bad_models)
NET_TEST(memory_plan)
NET_TEST(fc_as_conv)
