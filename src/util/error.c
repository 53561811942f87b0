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
    int n = vsnprintf(last, sizeof last, fmt, ap);
    va_end(ap);
    /* A message cut short ends on a whole character, not inside one: it goes out in JSON
     * error bodies and logs, which want UTF-8 */
    if (n >= (int)sizeof last) {
        size_t end = sizeof last - 1;
        size_t lead = end;
        while (lead > 0 && ((unsigned char)last[lead - 1] & 0xC0) == 0x80 && end - lead < 3)
            lead--;
        if (lead > 0 && (unsigned char)last[lead - 1] >= 0xC0) {
            unsigned char c = (unsigned char)last[lead - 1];
            size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (end - (lead - 1) < need)
                last[lead - 1] = '\0';
        }
    }
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
    case WP_EOVERLOAD: return "overloaded";
    case WP_ECORRUPT: return "corrupt";
    case WP_EDISABLED: return "tenant_disabled";
    }
    return "error";
}
