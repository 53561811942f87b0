/* SPDX-License-Identifier: MIT */
/* Employees and their accounts (CONTRACT §5): list, create, get, change, set a password.
 * Password hashes never leave the store; deactivating an employee or setting its password ends
 * its sessions in the same transaction. */
#include "api/api.h"
#include "store/org.h"
#include "store/people.h"
#include "store/store.h"
#include "store/wecom_archive.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/password.h"
#include "wecom/archive.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define USERNAME_MAX 64
#define USERNAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@"

static json_t *employee_json(const wp_employee *e)
{
    return json_pack("{s:s,s:o,s:s,s:s,s:s,s:b,s:o,s:o}", "id", e->id, "name",
                     api_jstr(e->name, 0), "username", e->username, "org_unit_id", e->org_unit_id,
                     "role", wp_role_name(e->role), "active", e->active, "created_at",
                     api_jtime(e->created_us), "wecom_userid", api_jstr(e->wecom_userid, 1));
}

static json_t *employee_item(const void *e, const void *arg)
{
    return employee_json(e);
}

/* body["org_unit_id"] as an id; absent: NULL, or WP_EINVAL when required. */
static int body_unit_id(json_t *body, int required, const char **out)
{
    int err = api_body_str(body, "org_unit_id",
                           API_FIELD_NOT_NULL | (required ? API_FIELD_REQUIRED : 0), out);
    if (err < 0 || !*out)
        return err;
    if (!api_is_id(*out))
        return wp_error_set(WP_EINVAL, "'org_unit_id' must be an org unit id");
    return 0;
}

static int body_role(json_t *body, int required, int *out)
{
    const char *s;
    enum wp_role r;
    int err =
        api_body_str(body, "role", API_FIELD_NOT_NULL | (required ? API_FIELD_REQUIRED : 0), &s);
    *out = 0;
    if (err < 0 || !s)
        return err;
    if (wp_role_parse(&r, s) < 0)
        return wp_error_set(WP_EINVAL, "'role' must be admin, manager, auditor or sales");
    *out = (int)r;
    return 0;
}

/* The same rule as `workphone init --admin`: what people type at a login prompt. */
static int check_username(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > USERNAME_MAX || strspn(u, USERNAME_CHARS) != n)
        return wp_error_set(WP_EINVAL, "'username' must be 1-%d of a-z A-Z 0-9 . _ - @",
                            USERNAME_MAX);
    return 0;
}

static int check_password(const char *pw)
{
    char msg[256];
    if (wp_password_check(pw) == 0)
        return 0;
    snprintf(msg, sizeof msg, "%s", wp_error_last());
    return wp_error_set(WP_EINVAL, "'password': %s", msg);
}

/* GET ?org_unit= (with its subtree) &role= &active=true|false &q= &limit= &cursor= */
int api_employees_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_employee_page page;
    wp_org_unit unit;
    api_scope scope;
    wp_employee_filter f = {.tenant_id = c->tenant_id};
    const char *unit_id, *s;
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_query_limit(ctx, &f.limit)) < 0 ||
        (err = api_query_id(ctx, "org_unit", &unit_id)) < 0)
        return err;
    if ((s = wp_http_query(ctx, "role")) && *s) {
        enum wp_role r;
        if (wp_role_parse(&r, s) < 0)
            return wp_error_set(WP_EINVAL, "'role' must be admin, manager, auditor or sales");
        f.role = (int)r;
    }
    if ((s = wp_http_query(ctx, "active")) && *s) {
        if (!strcmp(s, "true"))
            f.active = WP_ACTIVE_ONLY;
        else if (!strcmp(s, "false"))
            f.active = WP_ACTIVE_NOT;
        else
            return wp_error_set(WP_EINVAL, "'active' must be true or false");
    }
    f.q = wp_http_query(ctx, "q");
    f.cursor = wp_http_query(ctx, "cursor");

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    f.scope = &scope.store;
    if (unit_id) {
        /* a unit that does not exist has no employees: an empty page, as for any filter */
        if ((err = wp_store_org_unit_get(st, &unit, c->tenant_id, unit_id)) == WP_ENOTFOUND)
            goto reply;
        if (err < 0)
            goto out;
        f.org_path = unit.path;
    }
    if ((err = wp_store_employees_list(st, &page, &f)) < 0)
        goto out;
reply:
    api_store_release(ctx, st);
    st = NULL;
    err = api_reply_items(ctx, page.items, page.n, sizeof *page.items, employee_item, NULL,
                          page.next_cursor);
out:
    wp_employee_page_release(&page);
    api_store_release(ctx, st);
    return err;
}

int api_employees_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_employee e;
    api_scope scope;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) == 0 &&
        (err = wp_store_employee_get(st, &e, c->tenant_id, wp_http_param(ctx, "id"))) == 0)
        err = api_scope_allows_employee(ctx, st, &scope, &e);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    return wp_http_reply_json(ctx, 200, employee_json(&e));
}

/* POST {"name", "org_unit_id", "role", "username", "password"} */
int api_employees_create(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"name",     "org_unit_id", "role",
                                         "username", "password",    NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_employee e;
    wp_org_unit unit;
    api_scope scope;
    const char *name, *unit_id, *username, *password;
    char hash[WP_PASSWORD_HASH_MAX];
    json_t *body, *details = NULL;
    int role, err;

    memset(hash, 0, sizeof hash);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "name", API_FIELD_REQUIRED, &name)) < 0 ||
        (err = body_unit_id(body, 1, &unit_id)) < 0 || (err = body_role(body, 1, &role)) < 0 ||
        (err = api_body_str(body, "username", API_FIELD_REQUIRED, &username)) < 0 ||
        (err = check_username(username)) < 0 ||
        (err = api_body_str(body, "password", API_FIELD_REQUIRED, &password)) < 0 ||
        (err = check_password(password)) < 0)
        return err;
    if ((err = wp_password_hash(hash, password)) < 0)
        goto out;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    if ((err = wp_store_begin(st)) < 0 || (err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    /* a unit the caller may not see is one that does not exist */
    if ((err = wp_store_org_unit_get(st, &unit, c->tenant_id, unit_id)) < 0 ||
        (err = api_scope_allows_org_unit(&scope, &unit)) < 0) {
        err = api_field_error(err, "org_unit_id");
        goto out;
    }
    if ((err = wp_store_employee_create(st, &e, c->tenant_id, unit_id, name, username,
                                        (enum wp_role)role, hash)) < 0) {
        if (err == WP_ENOTFOUND)
            err = api_field_error(err, "org_unit_id");
        else if (err == WP_EINVAL)
            err = api_field_error(err, "name");
        goto out;
    }
    if (!(details =
              json_pack("{s:o,s:s,s:s,s:s}", "name", api_jstr(e.name, 0), "username", e.username,
                        "org_unit_id", e.org_unit_id, "role", wp_role_name(e.role)))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = api_audit_reply(ctx, st, 0, "employee.create", "employee", e.id, details,
                          employee_json(&e), 201);
    st = NULL;
out:
    if (st)
        wp_store_rollback(st);
    sodium_memzero(hash, sizeof hash);
    json_decref(details);
    api_store_release(ctx, st);
    return err;
}

/* PATCH {"name"?, "org_unit_id"?, "role"?, "active"?, "wecom_userid"?}. Deactivating ends every
 * session of the employee at once; the tenant's last active admin can be neither demoted nor
 * deactivated. A wecom_userid (null or "": none) is how WeCom's archive and callbacks find the
 * employee: the archive's records held for want of it are tried again. */
int api_employees_update(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"name",   "org_unit_id",  "role",
                                         "active", "wecom_userid", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_employee before, after;
    wp_org_unit unit;
    api_scope scope;
    wp_employee_change ch = WP_EMPLOYEE_CHANGE_INIT;
    int64_t revoked = 0, keys_ended = 0;
    json_t *body, *details = NULL, *ja;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "name", API_FIELD_NOT_NULL, &ch.name)) < 0 ||
        (err = body_unit_id(body, 0, &ch.org_unit_id)) < 0 ||
        (err = body_role(body, 0, &ch.role)) < 0)
        return err;
    if ((ja = json_object_get(body, "active"))) {
        if (!json_is_boolean(ja))
            return wp_error_set(WP_EINVAL, "'active' must be true or false");
        ch.active = json_is_true(ja);
    }
    if ((ja = json_object_get(body, "wecom_userid"))) {
        if (!json_is_null(ja) && !json_is_string(ja))
            return wp_error_set(WP_EINVAL, "'wecom_userid' must be a string or null");
        ch.wecom_userid = json_is_string(ja) ? json_string_value(ja) : "";
    }
    if (!ch.name && !ch.org_unit_id && !ch.role && ch.active < 0 && !ch.wecom_userid)
        return wp_error_set(WP_EINVAL, "nothing to change: give 'name', 'org_unit_id', 'role',"
                                       " 'active' or 'wecom_userid'");

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    /* nobody changes its own role, unit or state: renaming oneself (and naming one's own
     * WeCom UserID) is all */
    unsigned self_ok = !ch.org_unit_id && !ch.role && ch.active < 0 ? API_MANAGE_SELF : 0;
    if ((err = wp_store_begin(st)) < 0 || (err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_employee_get(st, &before, c->tenant_id, wp_http_param(ctx, "id"))) < 0 ||
        (err = api_scope_may_manage_employee_or_reply(ctx, st, &scope, &before, self_ok,
                                                      "change")) < 0)
        goto out;
    /* a unit the caller may not see is one that does not exist */
    if (ch.org_unit_id &&
        ((err = wp_store_org_unit_get(st, &unit, c->tenant_id, ch.org_unit_id)) < 0 ||
         (err = api_scope_allows_org_unit(&scope, &unit)) < 0)) {
        err = api_field_error(err, "org_unit_id");
        goto out;
    }
    if ((err = wp_store_employee_update(st, &after, c->tenant_id, before.id, &ch)) < 0) {
        if (err == WP_ENOTFOUND)
            err = api_field_error(err, "org_unit_id");
        else if (err == WP_EINVAL && !strstr(wp_error_last(), "wecom_userid"))
            err = api_field_error(err, "name");
        goto out;
    }
    /* a new WeCom UserID may be what held archive records waited for */
    int wecom_moved = strcmp(before.wecom_userid, after.wecom_userid) != 0;
    if (wecom_moved && after.wecom_userid[0] &&
        (err = wp_store_wecom_archive_kick(st, c->tenant_id)) < 0)
        goto out;
    if (before.active && !after.active &&
        (err = wp_store_sessions_revoke_employee(st, &revoked, c->tenant_id, after.id,
                                                 wp_time_now_us())) < 0)
        goto out;
    /* the API keys it made act for it: those it no longer holds end with the change */
    if ((err = api_keys_end_unheld(ctx, st, after.id, &keys_ended)) < 0)
        goto out;
    /* what changed, from what */
    if (!(details = json_object())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    int bad = 0;
    if (strcmp(before.name, after.name) != 0)
        bad |= json_object_set_new(
            details, "name", json_pack("[o,o]", api_jstr(before.name, 0), api_jstr(after.name, 0)));
    if (strcmp(before.org_unit_id, after.org_unit_id) != 0)
        bad |= json_object_set_new(details, "org_unit_id",
                                   json_pack("[s,s]", before.org_unit_id, after.org_unit_id));
    if (before.role != after.role)
        bad |= json_object_set_new(
            details, "role",
            json_pack("[s,s]", wp_role_name(before.role), wp_role_name(after.role)));
    if (before.active != after.active)
        bad |=
            json_object_set_new(details, "active", json_pack("[b,b]", before.active, after.active));
    if (wecom_moved)
        bad |= json_object_set_new(details, "wecom_userid",
                                   json_pack("[o,o]", api_jstr(before.wecom_userid, 1),
                                             api_jstr(after.wecom_userid, 1)));
    if (revoked)
        bad |= json_object_set_new(details, "sessions_revoked", json_integer(revoked));
    if (keys_ended)
        bad |= json_object_set_new(details, "api_keys_revoked", json_integer(keys_ended));
    if (bad) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = api_audit_reply(ctx, st, 0, "employee.update", "employee", after.id, details,
                          employee_json(&after), 200);
    st = NULL;
    if (err == 0 && wecom_moved)
        wp_wecom_archiver_kick(((const wp_app *)ctx->app)->wecom_archive);
out:
    if (st)
        wp_store_rollback(st);
    json_decref(details);
    api_store_release(ctx, st);
    return err;
}

/* PUT {"password"}: an admin sets someone else's password (its own goes through
 * /auth/password, which asks for the current one); that employee's sessions end. */
int api_employees_password_reset(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"password", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_employee e;
    api_scope scope;
    const char *password;
    char hash[WP_PASSWORD_HASH_MAX];
    int64_t revoked = 0;
    json_t *body, *details = NULL;
    int err;

    memset(hash, 0, sizeof hash);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "password", API_FIELD_REQUIRED, &password)) < 0 ||
        (err = check_password(password)) < 0)
        return err;
    /* hashed before a store connection is taken from the pool: argon2id is slow on purpose */
    if ((err = wp_password_hash(hash, password)) < 0 || (err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    if ((err = wp_store_begin(st)) < 0 || (err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_employee_get(st, &e, c->tenant_id, wp_http_param(ctx, "id"))) < 0 ||
        (err = api_scope_may_manage_employee_or_reply(ctx, st, &scope, &e, 0,
                                                      "reset the password of")) < 0 ||
        (err = wp_store_employee_set_password(st, c->tenant_id, e.id, hash)) < 0 ||
        (err = wp_store_sessions_revoke_employee(st, &revoked, c->tenant_id, e.id,
                                                 wp_time_now_us())) < 0)
        goto out;
    if (!(details = json_pack("{s:I}", "sessions_revoked", (json_int_t)revoked))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = wp_http_ready_json(ctx, 204, NULL);
    err = api_audit_commit(ctx, st, err, "employee.password_reset", "employee", e.id, details);
    api_store_release(ctx, st);
    st = NULL;
    if (err == 0)
        err = wp_http_ready_send(ctx);
out:
    if (st)
        wp_store_rollback(st);
    sodium_memzero(hash, sizeof hash);
    json_decref(details);
    api_store_release(ctx, st);
    return err;
}
