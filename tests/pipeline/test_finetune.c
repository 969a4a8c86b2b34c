/*
 * tests/pipeline/test_finetune.c: the Criterion suite around check_finetune.c (`graft
 * finetune` end to end on the demo data: JSON epochs, the cache reused, bit-for-bit resume,
 * refused checkpoints, the exported ONNX, --augment).
 */
#include "../crit_check.h"

#define FINETUNE_TEST(name) GRAFT_CHECK_TEST(finetune, graft_checks_finetune, name)

FINETUNE_TEST(cli)
FINETUNE_TEST(resume_bitwise)
FINETUNE_TEST(checkpoint_refused)
FINETUNE_TEST(export_logits)
FINETUNE_TEST(augment)
FINETUNE_TEST(hymenoptera_beats_linear)
