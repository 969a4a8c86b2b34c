/*
 * tests/pipeline/test_cache.c: the Criterion suite around the plain checks of check_cache.c
 * (the feature cache: writing, resuming, superseding, crash safety, reading, float16, the
 * `graft cache` command).
 */

#include "../crit_check.h"

#define CACHE_TEST(name) GRAFT_CHECK_TEST(cache, graft_checks_cache, name)

CACHE_TEST(half_conversion)
CACHE_TEST(create_reopen)
CACHE_TEST(resume_rejects)
CACHE_TEST(supersede)
CACHE_TEST(mismatch_refused)
CACHE_TEST(interrupted_commit)
CACHE_TEST(threaded_write)
CACHE_TEST(numpy_mmap)
CACHE_TEST(disk_full)
CACHE_TEST(corrupt_files)
CACHE_TEST(append_errors)
CACHE_TEST(keyset_scale)
CACHE_TEST(many_segments)
CACHE_TEST(npy_dtypes)
CACHE_TEST(cli)
