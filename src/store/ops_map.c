/* SPDX-License-Identifier: MIT */
/* The tiles the console's maps show (migration 0029; map.h). docs/internals/map_tiles.md. */
#include "store/map.h"
#include "store/db.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <string.h>

int wp_map_tiles_url_check(const char *url, size_t len)
{
    size_t chars = 0;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f)
            return wp_error_set(WP_EINVAL,
                                "'map_tiles_url' must not hold spaces or control characters");
        if ((c & 0xc0) != 0x80)
            chars++;
    }
    if (chars > WP_MAP_TILES_URL_MAX)
        return wp_error_set(WP_EINVAL, "'map_tiles_url' is longer than %d characters",
                            WP_MAP_TILES_URL_MAX);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return wp_error_set(WP_EINVAL, "'map_tiles_url' must begin with http:// or https://");
    /* url is NUL-terminated (a JSON string without NUL: the caller checks) */
    if (!strstr(url, "{z}") || !strstr(url, "{x}") || !strstr(url, "{y}"))
        return wp_error_set(WP_EINVAL, "'map_tiles_url' must contain {z}, {x} and {y}");
    return 0;
}

int wp_store_map_settings_get(wp_store *st, wp_map_settings *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_map_settings v = {"", 0};
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT tiles_url, crs FROM map_settings WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *u = wp_db_col_text(s, 0), *crs = wp_db_col_text(s, 1);
        if (u && strlen(u) < sizeof v.tiles_url)
            memcpy(v.tiles_url, u, strlen(u) + 1);
        v.gcj02 = crs && !strcmp(crs, "gcj02");
    }
    wp_db_done(s);
    if (err < 0)
        return err;
    *out = v;
    return 0;
}

int wp_store_map_settings_put(wp_store *st, const char *tenant_id, const wp_map_settings *v)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_map_tiles_url_check(v->tiles_url, strlen(v->tiles_url))) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO map_settings (tenant_id, tiles_url, crs, updated_us)"
                             " VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET"
                             " tiles_url = excluded.tiles_url, crs = excluded.crs,"
                             " updated_us = excluded.updated_us")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, v->tiles_url);
    wp_db_bind_text(s, 3, v->gcj02 ? "gcj02" : "wgs84");
    wp_db_bind_int64(s, 4, wp_time_now_us());
    if ((err = wp_db_step(s)) == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
    wp_db_done(s);
    return err < 0 ? err : 0;
}
