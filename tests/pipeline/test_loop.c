/*
 * tests/pipeline/test_loop.c: the Criterion suite around check_loop.c (`graft extract` end to
 * end: resume, SIGKILL, broken shards, --strict, standard input, a full disk, hymenoptera).
 */
#include "../crit_check.h"

#define LOOP_TEST(name) GRAFT_CHECK_TEST(loop, graft_checks_loop, name)

LOOP_TEST(demo_end_to_end)
LOOP_TEST(sigkill_resume)
LOOP_TEST(sigint)
LOOP_TEST(bad_shard)
LOOP_TEST(strict)
LOOP_TEST(stdin)
LOOP_TEST(disk_full)
LOOP_TEST(hymenoptera)
LOOP_TEST(train_eval_predict)
LOOP_TEST(export)
