/* SPDX-License-Identifier: MIT */
/* Store operations on tenants. */
#include "store/db.h"
#include "store/internal.h"
#include "store/org.h"
#include "store/store.h"
#include "store/usage.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdlib.h>
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

#define TENANT_COLUMNS                                                                             \
    "t.id, t.name, t.created_us, t.disabled_us, t.devices_limit,"                                  \
    " (SELECT count(*) FROM employees e WHERE e.tenant_id = t.id),"                                \
    " (SELECT count(*) FROM devices d WHERE d.tenant_id = t.id AND d.revoked = 0),"                \
    " coalesce((SELECT u.archive_bytes + u.media_bytes + u.quarantine_bytes"                       \
    " FROM tenant_usage u WHERE u.tenant_id = t.id), 0), t.storage_limit"

static int read_tenant(struct wp_stmt *s, wp_tenant *t)
{
    int err;
    memset(t, 0, sizeof *t);
    if ((err = wp_db_col_copy(s, 0, t->id, sizeof t->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, t->name, sizeof t->name)) < 0)
        return err;
    t->created_us = wp_db_col_int64(s, 2);
    t->disabled_us = wp_db_col_isnull(s, 3) ? 0 : wp_db_col_int64(s, 3);
    t->devices_limit = wp_db_col_isnull(s, 4) ? -1 : wp_db_col_int64(s, 4);
    t->employees = wp_db_col_int64(s, 5);
    t->devices = wp_db_col_int64(s, 6);
    t->used_bytes = wp_db_col_int64(s, 7);
    t->storage_limit = wp_db_col_isnull(s, 8) ? -1 : wp_db_col_int64(s, 8);
    return 0;
}

int wp_store_tenants_list(wp_store *st, wp_tenant **out, size_t *n)
{
    struct wp_stmt *s = NULL;
    wp_tenant *v = NULL;
    size_t len = 0, cap = 0;
    int err;

    if ((err = wp_db_prepare(st, &s, "SELECT " TENANT_COLUMNS " FROM tenants t ORDER BY t.name")) <
        0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (len == cap && (err = wp_array__grow((void **)&v, &cap, len, sizeof *v)) < 0)
            goto out;
        if ((err = read_tenant(s, &v[len])) < 0)
            goto out;
        len++;
    }
    if (err < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    if (err < 0) {
        free(v);
        return err;
    }
    *out = v;
    *n = len;
    return 0;
}

int wp_store_tenant_get(wp_store *st, wp_tenant *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s, "SELECT " TENANT_COLUMNS " FROM tenants t WHERE t.id = ?")) <
        0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
        goto out;
    }
    err = read_tenant(s, out);
out:
    wp_db_done(s);
    return err;
}

/* UPDATE tenants SET <col> = value (NULL when value < 0 or, for disabled_us, 0). */
static int set_column(wp_store *st, const char *sql, const char *tenant_id, int64_t value)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        goto out;
    if (value < 0)
        wp_db_bind_null(s, 1);
    else
        wp_db_bind_int64(s, 1, value);
    wp_db_bind_text(s, 2, tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
        goto out;
    }
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_tenant_set_disabled(wp_store *st, const char *tenant_id, int64_t disabled_us)
{
    return set_column(st, "UPDATE tenants SET disabled_us = ? WHERE id = ? RETURNING id",
                      tenant_id, disabled_us > 0 ? disabled_us : -1);
}

int wp_store_tenant_set_devices_limit(wp_store *st, const char *tenant_id, int64_t limit)
{
    if (limit < -1 || limit > WP_TENANT_DEVICES_MAX)
        return wp_error_set(WP_EINVAL, "devices limit %lld is not 0-%d (or none)",
                            (long long)limit, WP_TENANT_DEVICES_MAX);
    return set_column(st, "UPDATE tenants SET devices_limit = ? WHERE id = ? RETURNING id",
                      tenant_id, limit);
}

int wp_store_tenant_set_storage_limit(wp_store *st, const char *tenant_id, int64_t bytes)
{
    struct wp_stmt *s = NULL;
    int err;
    if (bytes < -1 || bytes > WP_USAGE_LIMIT_MAX)
        return wp_error_set(WP_EINVAL, "storage limit %lld is not 0-%lld bytes (or none)",
                            (long long)bytes, (long long)WP_USAGE_LIMIT_MAX);
    if ((err = set_column(st, "UPDATE tenants SET storage_limit = ? WHERE id = ? RETURNING id",
                          tenant_id, bytes)) < 0)
        return err;
    /* the usage row: an insert of a tenant's first bytes is not checked (ops_usage.c) */
    if ((err = wp_db_prepare(st, &s, "INSERT INTO tenant_usage (tenant_id) VALUES (?)"
                                     " ON CONFLICT (tenant_id) DO NOTHING")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    err = wp_db_step(s);
    wp_db_done(s);
    return err < 0 ? err : 0;
}
