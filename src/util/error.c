/* SPDX-License-Identifier: MIT */
/* Thread-local last-error message. */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last[512];

int wp_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last, sizeof last, fmt, ap);
    va_end(ap);
    return code;
}

const char *wp_error_last(void)
{
    return last;
}

void wp_error_clear(void)
{
    last[0] = '\0';
}

int wp_error_errno_code(int errnum)
{
    return errnum == ENOSPC || errnum == EDQUOT ? WP_EFULL : WP_EIO;
}

const char *wp_error_name(int code)
{
    switch (code) {
    case WP_OK: return "ok";
    case WP_ENOTFOUND: return "not_found";
    case WP_EEXISTS: return "exists";
    case WP_EINVAL: return "invalid";
    case WP_ELIMIT: return "limit";
    case WP_EAUTH: return "unauthorized";
    case WP_ENOMEM: return "no_memory";
    case WP_EIO: return "io_error";
    case WP_ESCHEMA: return "schema_too_new";
    case WP_EBUSY: return "busy";
    case WP_EQUOTA: return "quota_exceeded";
    case WP_EFULL: return "storage_full";
    case WP_EUNAVAIL: return "store_unavailable";
    }
    return "error";
}
