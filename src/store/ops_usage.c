/* SPDX-License-Identifier: MIT */
/* What each tenant stores and may store (migration 0015): the byte counters that every write
 * moves in its own transaction, the limits an admin sets, and the refusal past them. */
#include "store/db.h"
#include "store/org.h"
#include "store/store.h"
#include "store/usage.h"
#include "util/error.h"

#include <string.h>

static const char *const kind_names[WP_USAGE_KINDS] = {"archive", "media", "quarantine"};
static const int64_t defaults[WP_USAGE_KINDS] = {WP_USAGE_ARCHIVE_DEFAULT, WP_USAGE_MEDIA_DEFAULT,
                                                 WP_USAGE_QUARANTINE_DEFAULT};

static _Thread_local wp_usage_refusal last_refusal;

const char *wp_usage_kind_name(enum wp_usage_kind k)
{
    return (unsigned)k < WP_USAGE_KINDS ? kind_names[k] : "unknown";
}

int wp_usage_refuse(const wp_usage_refusal *r)
{
    last_refusal = *r;
    if (r->storage)
        return wp_error_set(WP_EQUOTA,
                            "the tenant's storage limit is reached: %lld of %lld bytes used, this"
                            " needs %lld more; the operator can raise 'storage_limit' (workphone"
                            " tenant set --max-storage-mb)",
                            (long long)r->used, (long long)r->limit, (long long)r->needed);
    const char *name = wp_usage_kind_name(r->kind);
    return wp_error_set(WP_EQUOTA,
                        "the tenant's %s limit is reached: %lld of %lld bytes used, this needs"
                        " %lld more; an admin can raise '%s_limit_bytes' in the settings",
                        name, (long long)r->used, (long long)r->limit, (long long)r->needed, name);
}

const wp_usage_refusal *wp_usage_refusal_last(void)
{
    return &last_refusal;
}

int wp_store_usage_get(wp_store *st, wp_usage *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_usage u;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    memset(&u, 0, sizeof u);
    memcpy(u.limit, defaults, sizeof u.limit);
    if ((err = wp_db_prepare(st, &s,
                             "SELECT archive_bytes, media_bytes, quarantine_bytes, archive_limit,"
                             " media_limit, quarantine_limit FROM tenant_usage"
                             " WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        for (int k = 0; k < WP_USAGE_KINDS; k++) {
            u.used[k] = wp_db_col_int64(s, k);
            if (!wp_db_col_isnull(s, WP_USAGE_KINDS + k)) {
                u.limit[k] = wp_db_col_int64(s, WP_USAGE_KINDS + k);
                u.is_set[k] = 1;
            }
        }
    }
    wp_db_done(s);
    if (err < 0)
        return err;
    *out = u;
    return 0;
}

int wp_store_usage_set_limit(wp_store *st, const char *tenant_id, enum wp_usage_kind k,
                             int64_t limit)
{
    /* a column name cannot be a parameter: one statement per kind */
    static const char *const sql[WP_USAGE_KINDS] = {
        "INSERT INTO tenant_usage (tenant_id, archive_limit) VALUES (?, ?) ON CONFLICT"
        " (tenant_id) DO UPDATE SET archive_limit = excluded.archive_limit",
        "INSERT INTO tenant_usage (tenant_id, media_limit) VALUES (?, ?) ON CONFLICT"
        " (tenant_id) DO UPDATE SET media_limit = excluded.media_limit",
        "INSERT INTO tenant_usage (tenant_id, quarantine_limit) VALUES (?, ?) ON CONFLICT"
        " (tenant_id) DO UPDATE SET quarantine_limit = excluded.quarantine_limit",
    };
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((unsigned)k >= WP_USAGE_KINDS)
        return wp_error_set(WP_EINVAL, "unknown storage limit %d", (int)k);
    if (limit < -1 || limit > WP_USAGE_LIMIT_MAX)
        return wp_error_set(WP_EINVAL, "a storage limit is 0..%lld bytes",
                            (long long)WP_USAGE_LIMIT_MAX);
    if ((err = wp_db_prepare(st, &s, sql[k])) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if (limit < 0)
        wp_db_bind_null(s, 2);
    else
        wp_db_bind_int64(s, 2, limit);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_ENOTFOUND)
        return wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
    return err < 0 ? err : 0;
}

int wp_store__usage_add(wp_store *st, const char *tenant_id, const int64_t add[WP_USAGE_KINDS],
                        wp_usage_refusal *refused)
{
    /* One statement counts and checks: the update happens only when every kind that grows
     * stays within its limit (on PostgreSQL the row lock orders two nodes, and the WHERE is
     * evaluated again on the row the other one committed). A tenant's first row is inserted
     * unchecked: it had used nothing, and no single write comes near a default limit. */
    static const char sql[] =
        "INSERT INTO tenant_usage (tenant_id, archive_bytes, media_bytes, quarantine_bytes)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET"
        " archive_bytes = tenant_usage.archive_bytes + excluded.archive_bytes,"
        " media_bytes = tenant_usage.media_bytes + excluded.media_bytes,"
        " quarantine_bytes = tenant_usage.quarantine_bytes + excluded.quarantine_bytes"
        " WHERE (excluded.archive_bytes = 0 OR tenant_usage.archive_bytes"
        " + excluded.archive_bytes <= COALESCE(tenant_usage.archive_limit, CAST(? AS BIGINT)))"
        " AND (excluded.media_bytes = 0 OR tenant_usage.media_bytes"
        " + excluded.media_bytes <= COALESCE(tenant_usage.media_limit, CAST(? AS BIGINT)))"
        " AND (excluded.quarantine_bytes = 0 OR tenant_usage.quarantine_bytes"
        " + excluded.quarantine_bytes <= COALESCE(tenant_usage.quarantine_limit,"
        " CAST(? AS BIGINT)))"
        /* the operator's limit of the whole tenant (migration 0033) */
        " AND (excluded.archive_bytes + excluded.media_bytes + excluded.quarantine_bytes <= 0"
        " OR tenant_usage.archive_bytes + tenant_usage.media_bytes + tenant_usage.quarantine_bytes"
        " + excluded.archive_bytes + excluded.media_bytes + excluded.quarantine_bytes <="
        " COALESCE((SELECT t.storage_limit FROM tenants t WHERE t.id = tenant_usage.tenant_id),"
        " CAST(? AS BIGINT))) RETURNING tenant_id";
    struct wp_stmt *s = NULL;
    wp_usage u;
    int err, any = 0;

    for (int k = 0; k < WP_USAGE_KINDS; k++)
        any |= add[k] != 0;
    if (!any)
        return 0;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    for (int k = 0; k < WP_USAGE_KINDS; k++) {
        wp_db_bind_int64(s, 2 + k, add[k]);
        wp_db_bind_int64(s, 2 + WP_USAGE_KINDS + k, defaults[k]);
    }
    wp_db_bind_int64(s, 2 + 2 * WP_USAGE_KINDS, WP_USAGE_LIMIT_MAX);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_DB_ROW)
        return 0;
    if (err < 0)
        return err;
    /* refused: say which limit (the first kind that does not fit) */
    if ((err = wp_store_usage_get(st, &u, tenant_id)) < 0)
        return err;
    int pick = -1;
    for (int k = 0; k < WP_USAGE_KINDS && pick < 0; k++)
        if (add[k] > 0 && u.used[k] + add[k] > u.limit[k])
            pick = k;
    if (pick < 0) { /* every kind fits its own limit: the tenant's storage limit refused it */
        wp_tenant t;
        if ((err = wp_store_tenant_get(st, &t, tenant_id)) < 0)
            return err;
        wp_usage_refusal r = {WP_USAGE_ARCHIVE, 0, t.storage_limit, 0, 1};
        for (int k = 0; k < WP_USAGE_KINDS; k++)
            r.used += u.used[k], r.needed += add[k];
        *refused = r;
        return wp_usage_refuse(&r);
    }
    for (int k = 0; k < WP_USAGE_KINDS && pick < 0; k++) /* cannot happen: it did not fit */
        if (add[k] > 0)
            pick = k;
    wp_usage_refusal r = {(enum wp_usage_kind)pick, u.used[pick], u.limit[pick], add[pick], 0};
    *refused = r;
    return wp_usage_refuse(&r);
}
