/*
 * tests/check_common.c: helpers every check file shares (see check.h). Named check_*.c so
 * the Makefile links it into both the Criterion suite and the plain aarch64 runner.
 */
#include <stdarg.h>
#include <stdio.h>

#include "check.h"

int graft_check_say(char *msg, size_t msglen, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return code;
}

int graft_check_fail(char *msg, size_t msglen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return GRAFT_CHECK_FAIL;
}
