/*
 * tests/finetune/test_top.c: the Criterion suite around check_top.c (the trainable top's
 * gradients against finite differences on every ISA, freeze rules, SGD, ONNX export).
 */

#include "../crit_check.h"

#define TOP_TEST(name) GRAFT_CHECK_TEST(top, graft_checks_top, name)

TOP_TEST(gradients_smooth)
TOP_TEST(gradients_bn_concat_smoothing)
TOP_TEST(gradients_bn_train)
TOP_TEST(gradients_partial_freeze_hinge)
TOP_TEST(freeze_rules)
TOP_TEST(sgd_step)
TOP_TEST(export_partial)
TOP_TEST(export_whole)
