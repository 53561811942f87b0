/* SPDX-License-Identifier: MIT */
/* GET /api/v1/health: for load balancers and operators; says which store the server runs on. */
#include "api/api.h"
#include "store/store.h"

int api_health_get(wp_http_ctx *ctx)
{
    const wp_app *app = ctx->app;
    const char *store = app->backend == WP_STORE_PG ? "postgresql" : "sqlite";
    return wp_http_reply_json(ctx, 200,
                              json_pack("{s:s,s:s,s:s}", "status", "ok", "version",
                                        app->version ? app->version : "unknown", "store", store));
}
