/* SPDX-License-Identifier: MIT */
/* What each role may see of personal data (placeholder). */
#include "api/api.h"

int api_roles_get(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_roles_put(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

