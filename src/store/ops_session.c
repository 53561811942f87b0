/* SPDX-License-Identifier: MIT */
/* Store operations on console login sessions: create, authenticate, revoke (migration 0003). */
#include "store/db.h"
#include "store/people.h"
#include "store/store.h"
#include "util/error.h"

#include <string.h>

int wp_store_session_create(wp_store *st, const char *tenant_id, const char *employee_id,
                            const char token_hash[65], const char *client, int64_t now_us,
                            int64_t expires_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("employee", employee_id)) < 0)
        return err;
    if (!wp_store__is_hash(token_hash))
        return wp_error_set(WP_EINVAL, "session token hash is not a hex SHA-256");
    if (expires_us <= now_us)
        return wp_error_set(WP_EINVAL, "session would expire before it starts");
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    /* Sessions dead for a day go (a revoked one dies at its expiry at the latest). Through
     * the expires_us index, so a login never scans the table. */
    if ((err = wp_db_prepare(st, &s, "DELETE FROM sessions WHERE expires_us < ?")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, now_us - 86400 * INT64_C(1000000));
    if ((err = wp_db_step(s)) < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO sessions (token_hash, tenant_id, employee_id,"
                             " created_us, expires_us, client) VALUES (?, ?, ?, ?, ?, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, token_hash);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, employee_id);
    wp_db_bind_int64(s, 4, now_us);
    wp_db_bind_int64(s, 5, expires_us);
    wp_db_bind_text_or_null(s, 6, client);
    err = wp_db_step(s);
    if (err == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "employee '%s' not found", employee_id);
    else if (err == WP_EEXISTS)
        err = wp_error_set(WP_EEXISTS, "session token collision");
    if (err < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

int wp_store_session_auth(wp_store *st, wp_session *out, const char token_hash[65],
                          int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_session se;
    int err;

    if (!wp_store__is_hash(token_hash))
        return wp_error_set(WP_EAUTH, "invalid or expired session");
    if ((err = wp_db_prepare(st, &s,
                             "SELECT e.id, e.tenant_id, e.org_unit_id, e.name, e.username,"
                             " e.role, e.active, e.created_us, s.created_us, s.expires_us,"
                             " t.disabled_us FROM sessions s JOIN employees e"
                             " ON e.tenant_id = s.tenant_id AND e.id = s.employee_id"
                             " JOIN tenants t ON t.id = s.tenant_id"
                             " WHERE s.token_hash = ? AND s.revoked_us IS NULL"
                             " AND s.expires_us > ? AND e.active = 1")) < 0)
        goto out;
    wp_db_bind_text(s, 1, token_hash);
    wp_db_bind_int64(s, 2, now_us);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EAUTH, "invalid or expired session");
        goto out;
    }
    if (!wp_db_col_isnull(s, 10)) {
        err = wp_error_set(WP_EDISABLED, "this tenant is disabled: its accounts cannot sign in "
                                         "until the operator enables it again");
        goto out;
    }
    memset(&se, 0, sizeof se);
    wp_employee *e = &se.employee;
    if ((err = wp_db_col_copy(s, 0, e->id, sizeof e->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, e->tenant_id, sizeof e->tenant_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, e->org_unit_id, sizeof e->org_unit_id)) < 0 ||
        (err = wp_db_col_copy(s, 3, e->name, sizeof e->name)) < 0 ||
        (err = wp_db_col_copy(s, 4, e->username, sizeof e->username)) < 0)
        goto out;
    if (wp_role_parse(&e->role, wp_db_col_text(s, 5)) < 0) {
        err = wp_error_set(WP_EIO, "store: employee '%s' has an unknown role", e->id);
        goto out;
    }
    e->active = wp_db_col_int64(s, 6) != 0;
    e->created_us = wp_db_col_int64(s, 7);
    se.created_us = wp_db_col_int64(s, 8);
    se.expires_us = wp_db_col_int64(s, 9);
    *out = se;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_session_revoke(wp_store *st, const char token_hash[65], int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if (!wp_store__is_hash(token_hash))
        return 0;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE sessions SET revoked_us = ?"
                             " WHERE token_hash = ? AND revoked_us IS NULL")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_text(s, 2, token_hash);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_sessions_revoke_employee(wp_store *st, int64_t *n, const char *tenant_id,
                                      const char *employee_id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int64_t live = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("employee", employee_id)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT count(*) FROM sessions WHERE tenant_id = ?"
                             " AND employee_id = ? AND revoked_us IS NULL AND expires_us > ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    wp_db_bind_int64(s, 3, now_us);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    live = err == WP_DB_ROW ? wp_db_col_int64(s, 0) : 0;
    wp_db_done(s);
    s = NULL;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE sessions SET revoked_us = ? WHERE tenant_id = ?"
                             " AND employee_id = ? AND revoked_us IS NULL")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, employee_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0 && n)
        *n = live;
    return err;
}

int wp_store_tenant_sole(wp_store *st, char out[WP_ID_LEN + 1])
{
    struct wp_stmt *s = NULL;
    char id[WP_ID_LEN + 1];
    int err, rows = 0;

    if ((err = wp_db_prepare(st, &s, "SELECT id FROM tenants ORDER BY id LIMIT 2")) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (rows++ == 0 && (err = wp_db_col_copy(s, 0, id, sizeof id)) < 0)
            goto out;
    }
    if (err < 0)
        goto out;
    if (rows == 0)
        err = wp_error_set(WP_ENOTFOUND, "no tenant");
    else if (rows > 1)
        err = wp_error_set(WP_EINVAL, "tenant is required");
    else
        memcpy(out, id, sizeof id);
out:
    wp_db_done(s);
    return err;
}
