/* SPDX-License-Identifier: MIT */
/* GET /api/v1/health (liveness: says which store the server runs on) and GET /api/v1/ready
 * (readiness: whether the store answers), for load balancers and operators. */
#include "api/api.h"
#include "ingest/ingest.h"
#include "store/store.h"
#include "util/error.h"

#include <stdio.h>

int api_health_get(wp_http_ctx *ctx)
{
    const wp_app *app = ctx->app;
    const char *store = app->backend == WP_STORE_PG ? "postgresql" : "sqlite";
    return wp_http_reply_json(ctx, 200,
                              json_pack("{s:s,s:s,s:s}", "status", "ok", "version",
                                        app->version ? app->version : "unknown", "store", store));
}

/* Ready when a pooled store connection answers SELECT 1 and the ingest writer takes batches;
 * else 503 store_unavailable with Retry-After, whatever the cause (the log has it): nothing in
 * the answer names a host, a file or SQL. */
int api_ready_get(wp_http_ctx *ctx)
{
    const wp_app *app = ctx->app;
    wp_store *st = NULL;
    int err;
    if (!wp_ingest_writer_running(app->ingest)) {
        err = wp_error_set(WP_EUNAVAIL, "the ingest writer is not running");
        goto out;
    }
    if ((err = api_store_acquire(ctx, &st)) < 0 || (err = wp_store_ping(st)) < 0) {
        /* keep the cause for the log, answer as unavailable */
        char why[200];
        snprintf(why, sizeof why, "%s", wp_error_last());
        err = wp_error_set(WP_EUNAVAIL, "the store does not answer: %s", why);
        goto out;
    }
    err = wp_http_reply_json(ctx, 200, json_pack("{s:s}", "status", "ready"));
out:
    api_store_release(ctx, st);
    return err < 0 ? wp_http_reply_error(ctx, err) : err;
}
