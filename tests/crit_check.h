/*
 * tests/crit_check.h: runs one plain check (tests/check.h) as the body of a Criterion test:
 * SKIP becomes a skipped test, FAIL a failed assertion carrying the check's message, and the
 * message of a passing check is logged (conformance counts, shapes covered).
 */
#ifndef GRAFT_TESTS_CRIT_CHECK_H
#define GRAFT_TESTS_CRIT_CHECK_H

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <string.h>

#include "check.h"

static inline void graft_crit_run(const graft_check *table, const char *name) {
    for (const graft_check *c = table; c->name; c++) {
        if (strcmp(c->name, name) != 0) continue;
        char msg[1024] = "";
        int st = c->fn(msg, sizeof msg);
        if (st == GRAFT_CHECK_SKIP) cr_skip_test("%s", msg);
        cr_assert_eq(st, GRAFT_CHECK_PASS, "%s", msg);
        if (msg[0]) cr_log_info("%s: %s", name, msg);
        return;
    }
    cr_assert_fail("no check named %s", name);
}

/* Test(suite, name) running the check `name` of `table`. */
#define GRAFT_CHECK_TEST(suite, table, name) \
    Test(suite, name, .timeout = 600) { graft_crit_run(table, #name); }

#endif
