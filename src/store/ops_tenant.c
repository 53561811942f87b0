/* SPDX-License-Identifier: MIT */
/* Store operations on tenants. */
#include "store/db.h"
#include "store/org.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <string.h>

int wp_store_tenant_create(wp_store *st, char out[WP_ID_LEN + 1], const char *name)
{
    struct wp_stmt *s = NULL;
    char id[WP_ID_LEN + 1];
    int err;

    if ((err = wp_store__check_name("tenant name", name, WP_TENANT_NAME_MAX)) < 0)
        return err;
    wp_id_new(id);
    if ((err = wp_store__op_begin(st, 0)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO tenants (id, name, created_us) VALUES (?, ?, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, id);
    wp_db_bind_text(s, 2, name);
    wp_db_bind_int64(s, 3, wp_time_now_us());
    if ((err = wp_db_step(s)) == WP_EEXISTS)
        err = wp_error_set(WP_EEXISTS, "tenant '%s' exists already", name);
    if (err < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        memcpy(out, id, sizeof id);
    return err;
}

int wp_store_tenant_find(wp_store *st, char out[WP_ID_LEN + 1], const char *name)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_name("tenant name", name, WP_TENANT_NAME_MAX)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s, "SELECT id FROM tenants WHERE name = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, name);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", name);
        goto out;
    }
    err = wp_db_col_copy(s, 0, out, WP_ID_LEN + 1);
out:
    wp_db_done(s);
    return err;
}

int wp_store_tenant_count(wp_store *st, int64_t *out)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_db_prepare(st, &s, "SELECT count(*) FROM tenants")) < 0)
        goto out;
    if ((err = wp_db_step(s)) < 0)
        goto out;
    *out = err == WP_DB_ROW ? wp_db_col_int64(s, 0) : 0;
    err = 0;
out:
    wp_db_done(s);
    return err;
}
