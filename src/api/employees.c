/* SPDX-License-Identifier: MIT */
/* Employees and their accounts (placeholder). */
#include "api/api.h"

int api_employees_list(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_employees_create(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_employees_get(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_employees_update(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_employees_password_reset(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

