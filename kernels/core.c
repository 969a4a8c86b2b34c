/*
 * kernels/core.c: version and error reporting shared by the whole library: the code tables
 * generated from GRAFT_ERRNO_MAP and the per-thread detail message behind graft_last_error().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"

const char *graft_version(void) { return GRAFT_VERSION_STRING; }

const char *graft_err_name(int err) {
    switch (err) {
#define GRAFT__ERR_NAME(name, code, msg) \
    case (code):                         \
        return "GRAFT_" #name;
        GRAFT_ERRNO_MAP(GRAFT__ERR_NAME)
#undef GRAFT__ERR_NAME
    }
    return "GRAFT_UNKNOWN";
}

const char *graft_strerror(int err) {
    switch (err) {
#define GRAFT__ERR_MSG(name, code, msg) \
    case (code):                        \
        return msg;
        GRAFT_ERRNO_MAP(GRAFT__ERR_MSG)
#undef GRAFT__ERR_MSG
    }
    return "unknown error";
}

/* Thread-local so that stateless kernels can explain a failure without a context object. */
static _Thread_local char last_error[512];

const char *graft_last_error(void) { return last_error; }

int graft__fail(int err, const char *fmt, ...) {
    /* Formatted aside first: callers may pass graft_last_error() itself as an argument, to
       wrap a lower layer's message in context. */
    char buf[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(last_error, buf, sizeof buf);
    return err;
}
