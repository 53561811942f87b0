/* SPDX-License-Identifier: MIT */
/* The org tree: list, create, get, rename and move, delete (placeholder). */
#include "api/api.h"

int api_org_units_list(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_org_units_create(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_org_units_get(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_org_units_update(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_org_units_delete(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

