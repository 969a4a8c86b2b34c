/*
 * tests/finetune/test_torch_grads.c: the Criterion suite around check_torch_grads.c: graft's
 * trainable top against PyTorch autograd on the networks of tests/finetune/gen_grads.py, and
 * its ONNX export run by graft, PyTorch and ONNX Runtime. Absent fixtures are skipped tests.
 */

#include "../crit_check.h"

#define TORCH_GRADS_TEST(name) GRAFT_CHECK_TEST(torch_grads, graft_checks_torch_grads, name)

TORCH_GRADS_TEST(cnn)
TORCH_GRADS_TEST(cnn_partial)
TORCH_GRADS_TEST(mbv2)
TORCH_GRADS_TEST(mbv2_partial)
TORCH_GRADS_TEST(branches)
TORCH_GRADS_TEST(branches_partial)
TORCH_GRADS_TEST(cnn_smooth)
TORCH_GRADS_TEST(cnn_smooth_partial)
TORCH_GRADS_TEST(cnn_hinge)
TORCH_GRADS_TEST(cnn_hinge_partial)
TORCH_GRADS_TEST(avgpool_pad)
TORCH_GRADS_TEST(avgpool_pad_partial)
TORCH_GRADS_TEST(shuffle)
TORCH_GRADS_TEST(shuffle_partial)
TORCH_GRADS_TEST(lrn)
TORCH_GRADS_TEST(lrn_partial)
TORCH_GRADS_TEST(lrn_even)
TORCH_GRADS_TEST(lrn_even_partial)
TORCH_GRADS_TEST(export_mbv2)
TORCH_GRADS_TEST(export_mbv2_fused)
TORCH_GRADS_TEST(export_branches)
TORCH_GRADS_TEST(export_cnn_fused)
TORCH_GRADS_TEST(export_shuffle)
TORCH_GRADS_TEST(export_lrn_fused)
TORCH_GRADS_TEST(export_lrn_even)
