/*
 * tests/pipeline/test_read.c: the Criterion suite around the plain checks of check_read.c
 * (the read stage: input specs, archives, directory trees, stdin, WebDataset samples, labels,
 * splits, broken shards).
 */

#include "../crit_check.h"

#define READ_TEST(name) GRAFT_CHECK_TEST(read, graft_checks_read, name)

READ_TEST(api_basics)
READ_TEST(webdataset_formats)
READ_TEST(label_sources)
READ_TEST(class_folders)
READ_TEST(broken_shards)
READ_TEST(truncation_everywhere)
READ_TEST(stdin)
READ_TEST(input_specs)
READ_TEST(labels_csv)
READ_TEST(val_fraction)
READ_TEST(zip_encrypted)
READ_TEST(shared_hymenoptera)
