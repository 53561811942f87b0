/* SPDX-License-Identifier: MIT */
/* POST /api/v1/employees/{id}/enrollment-codes: a one-time code that enrolls one device. */
#include "api/api.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <sodium.h>
#include <stdio.h>

int api_enrollment_codes_create(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const wp_app *app = ctx->app;
    const char *employee_id = wp_http_param(ctx, "id");
    char code[WP_ENROLL_CODE_MAX];
    int64_t ttl_s = 0;
    int err;

    /* the body is optional: {} or nothing gives the default lifetime */
    if (ctx->body) {
        if (!json_is_object(ctx->body))
            return wp_http_reply_fail(ctx, 400, "invalid_json", NULL,
                                      "the body must be a JSON object");
        json_t *t = json_object_get(ctx->body, "ttl_s");
        if (t && !json_is_null(t)) {
            if (!json_is_integer(t) || json_integer_value(t) < 1 ||
                json_integer_value(t) > WP_ENROLL_TTL_MAX_S)
                return wp_error_set(WP_EINVAL, "'ttl_s' must be a whole number of seconds from "
                                               "1 to %d",
                                    WP_ENROLL_TTL_MAX_S);
            ttl_s = json_integer_value(t);
        }
    }
    int64_t now = wp_time_now_us();
    int64_t expires = now + (ttl_s ? ttl_s : WP_ENROLL_TTL_DEFAULT_S) * INT64_C(1000000);
    /* The code and its audit row commit together; should the row fail, the code is never
     * shown. The code itself never goes into the log. */
    wp_store *st = NULL;
    char target[16 + WP_ID_LEN];
    snprintf(target, sizeof target, "employee:%s", employee_id);
    json_t *details = json_pack("{s:o}", "expires_at", api_jtime(expires));
    if ((err = api_store_acquire(ctx, &st)) == 0) {
        if (!details)
            err = wp_error_set(WP_ENOMEM, "out of memory"); /* not a row without its details */
        else if ((err = wp_store_begin(st)) == 0 &&
                 (err = wp_ingest_enrollment_code_create(app->ingest, st, code, c->tenant_id,
                                                         employee_id, ttl_s)) == 0 &&
                 (err = api_audit(ctx, st, "enrollment_code.create", target, details)) == 0 &&
                 /* the reply is made before the commit: nothing left to fail after it */
                 (err = wp_http_ready_json(ctx, 201,
                                           json_pack("{s:s,s:s,s:o}", "code", code, "employee_id",
                                                     employee_id, "expires_at",
                                                     api_jtime(expires)))) == 0)
            err = wp_store_commit(st);
        if (err < 0)
            wp_store_rollback(st);
        api_store_release(ctx, st);
    }
    json_decref(details);
    if (err == 0)
        err = wp_http_ready_send(ctx);
    sodium_memzero(code, sizeof code);
    return err;
}
