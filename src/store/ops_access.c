/* SPDX-License-Identifier: MIT */
/* Store operations on access: API keys, failed logins, what each role may see (migration 0005). */
#include "store/access.h"
#include "store/alerts.h"
#include "store/db.h"
#include "store/people.h"
#include "store/policy.h"
#include "store/store.h"
#include "util/error.h"
#include "util/id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_COLUMNS                                                                                \
    "k.id, k.tenant_id, k.name, k.role, k.org_unit_id, k.prefix, k.created_by, k.created_us,"      \
    " k.last_used_us, k.revoked_us"

/* A key with its creator (e), the key's unit (ku) and the creator's (eu). */
#define KEY_FROM                                                                                   \
    " FROM api_keys k LEFT JOIN employees e ON e.tenant_id = k.tenant_id AND e.id = k.created_by"  \
    " LEFT JOIN org_units ku ON ku.tenant_id = k.tenant_id AND ku.id = k.org_unit_id"              \
    " LEFT JOIN org_units eu ON eu.tenant_id = e.tenant_id AND eu.id = e.org_unit_id"

/* A key acts for its creator, so it holds only while the creator does: active, and an admin
 * (which holds every key), an auditor for an auditor key, or a manager whose subtree holds
 * the unit of a manager key. NULL (not true) for a key of no known creator. */
#define KEY_UNIT_HELD "substr(ku.path, 1, length(eu.path)) = eu.path"
#define KEY_HELD                                                                                   \
    "(e.active = 1 AND (e.role = 'admin' OR (k.role = 'auditor' AND e.role = 'auditor') OR"        \
    " (k.role = 'manager' AND e.role = 'manager' AND " KEY_UNIT_HELD ")))"

/* A key's last use is written at most this often: a busy integration would else write on
 * every call. */
#define LAST_USED_GRAIN_US (60 * INT64_C(1000000))

static int read_key(struct wp_stmt *s, wp_api_key *k)
{
    int err;
    memset(k, 0, sizeof *k);
    if ((err = wp_db_col_copy(s, 0, k->id, sizeof k->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, k->tenant_id, sizeof k->tenant_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, k->name, sizeof k->name)) < 0 ||
        (err = wp_db_col_copy_opt(s, 4, k->org_unit_id, sizeof k->org_unit_id)) < 0 ||
        (err = wp_db_col_copy(s, 5, k->prefix, sizeof k->prefix)) < 0 ||
        (err = wp_db_col_copy_opt(s, 6, k->created_by, sizeof k->created_by)) < 0)
        return err;
    if (wp_role_parse(&k->role, wp_db_col_text(s, 3)) < 0)
        return wp_error_set(WP_EIO, "store: API key '%s' has an unknown role", k->id);
    k->created_us = wp_db_col_int64(s, 7);
    k->last_used_us = wp_db_col_isnull(s, 8) ? 0 : wp_db_col_int64(s, 8);
    k->revoked_us = wp_db_col_isnull(s, 9) ? 0 : wp_db_col_int64(s, 9);
    return 0;
}

int wp_store_api_key_create(wp_store *st, wp_api_key *out, const char *tenant_id, const char *name,
                            enum wp_role role, const char *org_unit_id, const char *prefix,
                            const char token_hash[65], const char *created_by, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_api_key k;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_name("name", name, WP_API_KEY_NAME_MAX)) < 0)
        return err;
    if (role == WP_ROLE_SALES || !wp_role_name(role))
        return wp_error_set(WP_EINVAL, "role of an API key is admin, manager or auditor");
    if (role == WP_ROLE_MANAGER) {
        if (!org_unit_id || !*org_unit_id)
            return wp_error_set(WP_EINVAL, "org_unit_id is required for a manager key");
        if ((err = wp_store__check_id("org unit", org_unit_id)) < 0)
            return err;
    } else {
        org_unit_id = NULL;
    }
    if (!wp_store__is_hash(token_hash))
        return wp_error_set(WP_EINVAL, "API key hash is not a hex SHA-256");
    if (!prefix || strlen(prefix) > WP_API_KEY_PREFIX_LEN)
        return wp_error_set(WP_EINVAL, "API key prefix is too long");

    memset(&k, 0, sizeof k);
    wp_id_new(k.id);
    memcpy(k.tenant_id, tenant_id, WP_ID_LEN);
    snprintf(k.name, sizeof k.name, "%s", name);
    k.role = role;
    if (org_unit_id)
        snprintf(k.org_unit_id, sizeof k.org_unit_id, "%s", org_unit_id);
    snprintf(k.prefix, sizeof k.prefix, "%s", prefix);
    if (created_by)
        snprintf(k.created_by, sizeof k.created_by, "%s", created_by);
    k.created_us = now_us;

    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO api_keys (tenant_id, id, name, role, org_unit_id,"
                             " prefix, token_hash, created_by, created_us)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, k.id);
    wp_db_bind_text(s, 3, name);
    wp_db_bind_text(s, 4, wp_role_name(role));
    wp_db_bind_text_or_null(s, 5, org_unit_id);
    wp_db_bind_text(s, 6, prefix);
    wp_db_bind_text(s, 7, token_hash);
    wp_db_bind_text_or_null(s, 8, created_by && *created_by ? created_by : NULL);
    wp_db_bind_int64(s, 9, now_us);
    err = wp_db_step(s);
    if (err == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "org unit '%s' not found", org_unit_id);
    else if (err == WP_EEXISTS)
        err = wp_error_set(WP_EEXISTS, "API key collision");
    if (err < 0)
        goto out;
    *out = k;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_api_key_auth(wp_store *st, wp_api_key *out, const char token_hash[65], int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_api_key k;
    int err;

    if (!wp_store__is_hash(token_hash))
        return wp_error_set(WP_EAUTH, "invalid or revoked API key");
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " KEY_COLUMNS ", t.disabled_us" KEY_FROM
                             " JOIN tenants t ON t.id = k.tenant_id WHERE k.token_hash = ?"
                             " AND k.revoked_us IS NULL AND " KEY_HELD)) < 0)
        goto out;
    wp_db_bind_text(s, 1, token_hash);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EAUTH, "invalid or revoked API key");
        goto out;
    }
    if (!wp_db_col_isnull(s, 10)) {
        err = wp_error_set(WP_EDISABLED, "this tenant is disabled: its API keys are refused "
                                         "until the operator enables it again");
        goto out;
    }
    if ((err = read_key(s, &k)) < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    if (k.last_used_us <= now_us - LAST_USED_GRAIN_US) {
        if ((err = wp_db_prepare(st, &s,
                                 "UPDATE api_keys SET last_used_us = ?"
                                 " WHERE tenant_id = ? AND id = ?")) < 0)
            goto out;
        wp_db_bind_int64(s, 1, now_us);
        wp_db_bind_text(s, 2, k.tenant_id);
        wp_db_bind_text(s, 3, k.id);
        if ((err = wp_db_step(s)) < 0)
            goto out;
        k.last_used_us = now_us;
    }
    *out = k;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_api_keys_list(wp_store *st, wp_api_key **out, size_t *n, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_api_key *v = NULL;
    size_t len = 0;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (!(v = calloc(WP_PAGE_MAX, sizeof *v)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " KEY_COLUMNS " FROM api_keys k WHERE k.tenant_id = ?"
                             " ORDER BY k.created_us DESC, k.id DESC LIMIT ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, WP_PAGE_MAX);
    while ((err = wp_db_step(s)) == WP_DB_ROW && len < WP_PAGE_MAX)
        if ((err = read_key(s, &v[len++])) < 0)
            goto out;
    if (err < 0)
        goto out;
    *out = v;
    *n = len;
    v = NULL;
    err = 0;
out:
    wp_db_done(s);
    free(v);
    return err;
}

int wp_store_api_key_revoke(wp_store *st, const char *tenant_id, const char *id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("API key", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE api_keys SET revoked_us = COALESCE(revoked_us, ?)"
                             " WHERE tenant_id = ? AND id = ? RETURNING id")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = err == WP_DB_ROW ? 0 : wp_error_set(WP_ENOTFOUND, "API key '%s' not found", id);
out:
    wp_db_done(s);
    return err;
}

/* Why a key its creator no longer holds ends (see KEY_HELD). */
static const char *unheld_reason(struct wp_stmt *s, const wp_api_key *k)
{
    enum wp_role role;
    if (wp_db_col_isnull(s, 10))
        return "creator_unknown";
    if (wp_db_col_int64(s, 11) != 1)
        return "creator_inactive";
    if (wp_role_parse(&role, wp_db_col_text(s, 12)) < 0 || role != k->role)
        return "creator_role";
    return "creator_unit"; /* a manager no longer over the key's unit */
}

int wp_store_api_keys_end_unheld(wp_store *st, wp_api_key_end **out, size_t *n,
                                 const char *tenant_id, const char *creator_id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_api_key_end *v = NULL;
    size_t len = 0, cap = 0;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (creator_id && (err = wp_store__check_id("employee", creator_id)) < 0))
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " KEY_COLUMNS ", e.id, e.active, e.role" KEY_FROM
                             " WHERE k.tenant_id = ? AND k.revoked_us IS NULL"
                             " AND k.created_by IS NOT NULL"
                             " AND (CAST(? AS TEXT) IS NULL OR k.created_by = ?)"
                             " AND CASE WHEN " KEY_HELD " THEN 0 ELSE 1 END = 1"
                             " ORDER BY k.created_us, k.id")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text_or_null(s, 2, creator_id);
    wp_db_bind_text_or_null(s, 3, creator_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : 4;
            wp_api_key_end *nv = realloc(v, ncap * sizeof *v);
            if (!nv) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                goto out;
            }
            v = nv;
            cap = ncap;
        }
        if ((err = read_key(s, &v[len].key)) < 0)
            goto out;
        v[len].reason = unheld_reason(s, &v[len].key);
        len++;
    }
    if (err < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    for (size_t i = 0; i < len; i++) {
        if ((err = wp_db_prepare(st, &s,
                                 "UPDATE api_keys SET revoked_us = ?"
                                 " WHERE tenant_id = ? AND id = ? AND revoked_us IS NULL")) < 0)
            goto out;
        wp_db_bind_int64(s, 1, now_us);
        wp_db_bind_text(s, 2, tenant_id);
        wp_db_bind_text(s, 3, v[i].key.id);
        if ((err = wp_db_step(s)) < 0)
            goto out;
        wp_db_done(s);
        s = NULL;
        v[i].key.revoked_us = now_us;
    }
    err = 0;
out:
    wp_db_done(s);
    /* the keys are the caller's only once they are ended for good: a COMMIT that fails
     * (its own store operation) keeps them, and frees the list */
    if ((err = wp_store__op_end(st, err)) < 0) {
        free(v);
        return err;
    }
    *out = v;
    *n = len;
    return 0;
}

/* --- failed logins --------------------------------------------------------------------- */

/* How many rows a query of failures counts, and the ts of the max-th newest. */
static int count_failures(wp_store *st, int64_t *count, int64_t *unlock, const char *sql,
                          const char *a, const char *b, int64_t since, int max, int64_t window_us)
{
    struct wp_stmt *s = NULL;
    int err;

    *count = 0;
    *unlock = 0;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        goto out;
    int i = 1;
    wp_db_bind_text(s, i++, a);
    if (b)
        wp_db_bind_text(s, i++, b);
    wp_db_bind_int64(s, i++, since);
    wp_db_bind_int64(s, i, max);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        ++*count;
        if (*count == max)
            *unlock = wp_db_col_int64(s, 0) + window_us;
    }
    if (err < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

/* The account's name as the failures keep it: at most 64 bytes (the longest username), cut at
 * a character boundary. A longer name matches no account but still counts for its address. */
static void failure_name(char out[65], const char *username)
{
    size_t n = strlen(username);
    if (n > 64) {
        n = 64;
        while (n && ((unsigned char)username[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out, username, n);
    out[n] = '\0';
}

/* A 32-bit key for PostgreSQL's advisory locks (FNV-1a). Two accounts sharing one only take
 * turns: the key serializes, the counts are by the real columns. */
static int64_t lock_key(const char *a, const char *b)
{
    uint32_t h = 2166136261u;
    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0xffu) * 16777619u; /* a separator no UTF-8 text holds */
    for (const char *p = b; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return (int64_t)(int32_t)h;
}

/* Lock key in class (cls, key) until the transaction ends (PostgreSQL only). */
static int advisory_lock(wp_store *st, int64_t cls, int64_t key)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT pg_advisory_xact_lock(CAST(? AS INTEGER),"
                             " CAST(? AS INTEGER))")) < 0)
        return err;
    wp_db_bind_int64(s, 1, cls);
    wp_db_bind_int64(s, 2, key);
    err = wp_db_step(s);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_login_attempt(wp_store *st, wp_login_throttle *out, const char *tenant_id,
                           const char *username, const char *client, int64_t now_us,
                           int64_t window_us, int user_max, int client_max)
{
    struct wp_stmt *s = NULL;
    char name[65];
    int err;

    memset(out, 0, sizeof *out);
    if (!tenant_id || !username || !client || user_max < 1 || client_max < 1)
        return wp_error_set(WP_EINVAL, "a login attempt needs a tenant, a user and a client");
    failure_name(name, username);

    /* rows past the window go first, in a statement of their own: every attempt deletes the
     * same old rows in the same order, and none holds a lock below while it waits */
    if (!st->in_tx) {
        if ((err = wp_db_prepare(st, &s, "DELETE FROM login_failures WHERE ts_us <= ?")) < 0)
            return err;
        wp_db_bind_int64(s, 1, now_us - window_us);
        err = wp_db_step(s);
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            return err;
    }

    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    /* Count and record as one step. SQLite: BEGIN IMMEDIATE holds the only writer's lock.
     * PostgreSQL: READ COMMITTED would let two nodes count the same rows and both record, so
     * each attempt first takes the account's and then the address's advisory lock, released
     * at commit once its row is visible (always in that order, and in two classes, so that
     * two attempts never wait for each other). */
    if (wp_store_backend(st) == WP_STORE_PG &&
        ((err = advisory_lock(st, 0x77700001, lock_key(tenant_id, name))) < 0 ||
         (err = advisory_lock(st, 0x77700002, lock_key(client, ""))) < 0))
        goto out;
    /* newest first, at most max rows: the max-th is the one whose expiry unlocks */
    if ((err = count_failures(st, &out->user_failures, &out->user_unlock_us,
                              "SELECT ts_us FROM login_failures WHERE tenant_id = ?"
                              " AND username = ? AND ts_us > ? ORDER BY ts_us DESC LIMIT ?",
                              tenant_id, name, now_us - window_us, user_max, window_us)) < 0 ||
        (err = count_failures(st, &out->client_failures, &out->client_unlock_us,
                              "SELECT ts_us FROM login_failures WHERE client = ?"
                              " AND ts_us > ? ORDER BY ts_us DESC LIMIT ?",
                              client, NULL, now_us - window_us, client_max, window_us)) < 0)
        goto out;
    if (out->user_unlock_us || out->client_unlock_us)
        goto out; /* refused: nothing recorded */
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO login_failures (tenant_id, username, client, ts_us)"
                             " VALUES (?, ?, ?, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, name);
    wp_db_bind_text(s, 3, client);
    wp_db_bind_int64(s, 4, now_us);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

int wp_store_login_attempt_undo(wp_store *st, const char *tenant_id, const char *username,
                                const char *client, int64_t at_us)
{
    struct wp_stmt *s = NULL;
    char name[65];
    int err;
    failure_name(name, username);
    /* the rows of one account, client and time are alike: any one of them goes */
    if ((err = wp_db_prepare(st, &s,
                             wp_store_backend(st) == WP_STORE_PG
                                 ? "DELETE FROM login_failures WHERE ctid IN (SELECT ctid FROM"
                                   " login_failures WHERE tenant_id = ? AND username = ?"
                                   " AND client = ? AND ts_us = ? LIMIT 1)"
                                 : "DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM"
                                   " login_failures WHERE tenant_id = ? AND username = ?"
                                   " AND client = ? AND ts_us = ? LIMIT 1)")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, name);
    wp_db_bind_text(s, 3, client);
    wp_db_bind_int64(s, 4, at_us);
    err = wp_db_step(s);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_login_failures_clear(wp_store *st, const char *tenant_id, const char *username)
{
    struct wp_stmt *s = NULL;
    char name[65];
    int err;
    failure_name(name, username);
    if ((err = wp_db_prepare(
             st, &s, "DELETE FROM login_failures WHERE tenant_id = ? AND username = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, name);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

/* --- role settings ----------------------------------------------------------------------- */

int wp_store_role_setting_get(wp_store *st, wp_role_setting *out, const char *tenant_id,
                              enum wp_role role)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (!wp_role_name(role))
        return wp_error_set(WP_EINVAL, "unknown role");
    memset(out, 0, sizeof *out);
    out->role = role;
    out->view_pii = role == WP_ROLE_ADMIN;
    out->unmask = role != WP_ROLE_SALES;
    out->handle_alerts = role != WP_ROLE_SALES;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT view_pii, unmask, updated_us, handle_alerts FROM role_settings"
                             " WHERE tenant_id = ? AND role = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, wp_role_name(role));
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_ROW) {
        out->view_pii = wp_db_col_int64(s, 0) != 0;
        out->unmask = wp_db_col_int64(s, 1) != 0;
        out->updated_us = wp_db_col_int64(s, 2);
        if (!wp_db_col_isnull(s, 3)) /* NULL: a row written before the setting existed */
            out->handle_alerts = wp_db_col_int64(s, 3) != 0;
    }
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_role_setting_put(wp_store *st, const char *tenant_id, const wp_role_setting *rs,
                              int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (!wp_role_name(rs->role))
        return wp_error_set(WP_EINVAL, "unknown role");
    if (rs->role == WP_ROLE_SALES && rs->handle_alerts)
        return wp_error_set(WP_EINVAL, "'handle_alerts' cannot be granted to sales: nobody "
                                       "handles the alerts about themselves");
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO role_settings (tenant_id, role, view_pii, unmask,"
                             " updated_us, handle_alerts) VALUES (?, ?, ?, ?, ?, ?)"
                             " ON CONFLICT (tenant_id, role) DO UPDATE SET"
                             " view_pii = excluded.view_pii, unmask = excluded.unmask,"
                             " updated_us = excluded.updated_us,"
                             " handle_alerts = excluded.handle_alerts")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, wp_role_name(rs->role));
    wp_db_bind_int64(s, 3, rs->view_pii ? 1 : 0);
    wp_db_bind_int64(s, 4, rs->unmask ? 1 : 0);
    wp_db_bind_int64(s, 5, now_us);
    wp_db_bind_int64(s, 6, rs->handle_alerts ? 1 : 0);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

/* --- ownership, for scope checks ------------------------------------------------------------ */

int wp_store_alert_employee(wp_store *st, char out[WP_ID_LEN + 1], char other[WP_ID_LEN + 1],
                            const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("alert", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT employee_id, other_employee_id FROM alerts WHERE"
                             " tenant_id = ? AND id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "alert '%s' not found", id);
        goto out;
    }
    if ((err = wp_db_col_copy(s, 0, out, WP_ID_LEN + 1)) == 0)
        err = wp_db_col_copy_opt(s, 1, other, WP_ID_LEN + 1);
out:
    wp_db_done(s);
    return err;
}

int wp_store_media_refs(wp_store *st, wp_media_ref *out, size_t max, size_t *n,
                        const char *tenant_id, const char *ref)
{
    struct wp_stmt *s = NULL;
    int err;

    *n = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (!ref || strlen(ref) != 71 || strncmp(ref, "sha256:", 7) != 0)
        return wp_error_set(WP_ENOTFOUND, "media not found");
    /* only rows whose own device uploaded the file: a hash alone opens nothing */
    if ((err = wp_db_prepare(st, &s,
                             "SELECT m.employee_id, m.customer_id FROM messages m"
                             " JOIN media_uploads u ON u.tenant_id = m.tenant_id"
                             " AND u.sha256 = ? AND u.device_id = m.device_id"
                             " WHERE m.tenant_id = ? AND m.media = ?"
                             " UNION ALL SELECT c.employee_id, c.customer_id FROM calls c"
                             " JOIN media_uploads u ON u.tenant_id = c.tenant_id"
                             " AND u.sha256 = ? AND u.device_id = c.device_id"
                             " WHERE c.tenant_id = ? AND c.recording = ?"
                             " UNION ALL SELECT k.employee_id, k.customer_id FROM checkins k"
                             " JOIN media_uploads u ON u.tenant_id = k.tenant_id"
                             " AND u.sha256 = ? AND u.device_id = k.device_id"
                             " WHERE k.tenant_id = ? AND k.photo = ? LIMIT ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, ref + 7);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, ref);
    wp_db_bind_text(s, 4, ref + 7);
    wp_db_bind_text(s, 5, tenant_id);
    wp_db_bind_text(s, 6, ref);
    wp_db_bind_text(s, 7, ref + 7);
    wp_db_bind_text(s, 8, tenant_id);
    wp_db_bind_text(s, 9, ref);
    wp_db_bind_int64(s, 10, (int64_t)max);
    while (*n < max && (err = wp_db_step(s)) == WP_DB_ROW) {
        wp_media_ref *r = &out[*n];
        if ((err = wp_db_col_copy(s, 0, r->employee_id, sizeof r->employee_id)) < 0 ||
            (err = wp_db_col_copy_opt(s, 1, r->customer_id, sizeof r->customer_id)) < 0)
            goto out;
        ++*n;
    }
    if (err < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    return err;
}
