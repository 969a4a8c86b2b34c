/*
 * tests/models/test_models.c: the Criterion suite around the whole-network checks of
 * check_models.c (torchvision exports against PyTorch, the shared pretrained MobileNets
 * against their reference outputs). A model whose files are absent is a skipped test.
 */

#include "../crit_check.h"

#define MODELS_TEST(name) GRAFT_CHECK_TEST(models, graft_checks_models, name)

MODELS_TEST(alexnet_opset13)
MODELS_TEST(alexnet_opset17)
MODELS_TEST(vgg16_opset13)
MODELS_TEST(vgg16_opset17)
MODELS_TEST(resnet18_opset13)
MODELS_TEST(resnet18_opset17)
MODELS_TEST(resnet50_opset13)
MODELS_TEST(resnet50_opset17)
MODELS_TEST(squeezenet1_1_opset13)
MODELS_TEST(squeezenet1_1_opset17)
MODELS_TEST(densenet121_opset13)
MODELS_TEST(densenet121_opset17)
MODELS_TEST(googlenet_opset13)
MODELS_TEST(googlenet_opset17)
MODELS_TEST(inception_v3_opset13)
MODELS_TEST(inception_v3_opset17)
MODELS_TEST(mobilenet_v2_opset13)
MODELS_TEST(mobilenet_v2_opset17)
MODELS_TEST(mobilenet_v3_small_opset13)
MODELS_TEST(mobilenet_v3_small_opset17)
MODELS_TEST(mobilenet_v3_large_opset13)
MODELS_TEST(mobilenet_v3_large_opset17)
MODELS_TEST(shufflenet_v2_x1_0_opset13)
MODELS_TEST(shufflenet_v2_x1_0_opset17)
MODELS_TEST(efficientnet_b0_opset13)
MODELS_TEST(efficientnet_b0_opset17)
MODELS_TEST(regnet_y_400mf_opset13)
MODELS_TEST(regnet_y_400mf_opset17)
MODELS_TEST(mnasnet1_0_opset13)
MODELS_TEST(mnasnet1_0_opset17)
MODELS_TEST(resnet18_at_160)
MODELS_TEST(mobilenet_v2_at_160)
MODELS_TEST(squeezenet1_1_at_160)
MODELS_TEST(alexnet_at_256)
MODELS_TEST(vgg16_at_256)
MODELS_TEST(weight_budget)
MODELS_TEST(shared_mobilenet_v2)
MODELS_TEST(shared_mobilenet_v1_025)
MODELS_TEST(shared_mobilenet_v1_embedding)
