/* SPDX-License-Identifier: MIT */
/* The API handlers (one file per resource) and the application state they share. */
#ifndef WP_API_H
#define WP_API_H

#include "http/http.h"
#include "store/store.h"

/* What every handler can reach through ctx->app. Set up once by `workphone serve` before the
 * server starts and read-only afterwards, so threads share it without locks. */
typedef struct wp_app {
    const char *version;           /* of this binary, for /api/v1/health */
    const char *data_dir;          /* media and keys live here */
    const char *db_url;            /* NULL: the SQLite file in data_dir */
    enum wp_store_backend backend; /* the store the server opened at start */
} wp_app;

/* GET /api/v1/health: {"status":"ok","version":"...","store":"sqlite"|"postgresql"}. */
int api_health_get(wp_http_ctx *ctx);

#endif
