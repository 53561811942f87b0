/* SPDX-License-Identifier: MIT */
/* The tiles the console's maps show (migration 0029; ops_map.c). docs/internals/map_tiles.md.
 * The server keeps the tenant's choice and hands it to the console (GET /api/v1/settings);
 * it never fetches a tile itself. */
#ifndef WP_STORE_MAP_H
#define WP_STORE_MAP_H

#include "store/store.h"

#define WP_MAP_TILES_URL_MAX 500 /* characters */

typedef struct wp_map_settings {
    char tiles_url[WP_MAP_TILES_URL_MAX * 4 + 1]; /* "": no tiles (the console's grid) */
    int gcj02;                                    /* 1: the tiles expect GCJ-02, 0: WGS-84 */
} wp_map_settings;

/* The tenant's map settings; "" and WGS-84 when none were set. */
int wp_store_map_settings_get(wp_store *st, wp_map_settings *out, const char *tenant_id);

/* Store both (the caller has validated the URL: wp_map_tiles_url_check). */
int wp_store_map_settings_put(wp_store *st, const char *tenant_id, const wp_map_settings *v);

/* 0 when url is "" or an http:// or https:// template of at most WP_MAP_TILES_URL_MAX
 * characters with {z}, {x} and {y}, without control characters or spaces; else WP_EINVAL
 * naming the field 'map_tiles_url'. */
int wp_map_tiles_url_check(const char *url, size_t len);

#endif
