/* SPDX-License-Identifier: MIT */
/* The audit log: list and verify (placeholder). */
#include "api/api.h"

int api_audit_list(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_audit_verify(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}

int api_audit(wp_http_ctx *ctx, wp_store *st, const char *action, const char *target,
              const json_t *details)
{
    (void)ctx, (void)st, (void)action, (void)target, (void)details;
    return 0;
}

int api_audit_as(wp_http_ctx *ctx, wp_store *st, const char *tenant_id, const char *actor,
                 const char *action, const char *target, const json_t *details)
{
    (void)ctx, (void)st, (void)tenant_id, (void)actor, (void)action, (void)target,
        (void)details;
    return 0;
}
