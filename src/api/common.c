/* SPDX-License-Identifier: MIT */
/* What the handlers share: store connections, query parameters, JSON values, pages, masking. */
#include "api/api.h"
#include "store/customers.h"
#include "store/history.h"
#include "store/org.h"
#include "store/people.h"
#include "store/pool.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_store_acquire(wp_http_ctx *ctx, wp_store **out)
{
    const wp_app *app = ctx->app;
    if (!app || !app->pool)
        return wp_error_set(WP_EIO, "the server has no store");
    return wp_store_connpool_acquire(app->pool, out);
}

void api_store_release(wp_http_ctx *ctx, wp_store *st)
{
    const wp_app *app = ctx->app;
    if (st)
        wp_store_connpool_release(app->pool, st);
}

int api_query_limit(const wp_http_ctx *ctx, unsigned *out)
{
    const char *s = wp_http_query(ctx, "limit");
    if (!s) {
        *out = WP_PAGE_DEFAULT;
        return 0;
    }
    /* digits only: strtoul would take " 5", "+5" and "5x" */
    unsigned long v = 0;
    size_t n = strlen(s);
    int ok = n >= 1 && n <= 3;
    for (size_t i = 0; ok && i < n; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (!ok || v < 1 || v > WP_PAGE_MAX)
        return wp_error_set(WP_EINVAL, "limit must be a whole number from 1 to %d",
                            WP_PAGE_MAX);
    *out = (unsigned)v;
    return 0;
}

int api_query_time(const wp_http_ctx *ctx, const char *name, int64_t *out)
{
    const char *s = wp_http_query(ctx, name);
    *out = 0;
    if (!s || !*s)
        return 0;
    if (wp_time_parse(out, s) < 0)
        return wp_error_set(WP_EINVAL, "'%s' is not an RFC 3339 time (2026-11-22T10:00:00+08:00)",
                            name);
    return 0;
}

int api_query_id(const wp_http_ctx *ctx, const char *name, const char **out)
{
    const char *s = wp_http_query(ctx, name);
    *out = NULL;
    if (!s || !*s)
        return 0;
    size_t n = strlen(s);
    int ok = n == WP_ID_LEN;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (!ok)
        return wp_error_set(WP_EINVAL, "'%s' is not an id", name);
    *out = s;
    return 0;
}

json_t *api_jstr(const char *s, int empty_is_null)
{
    if (!s || (empty_is_null && !*s))
        return json_null();
    size_t n = strlen(s);
    if (wp_utf8_valid(s, n))
        return json_stringn(s, n);
    /* the store keeps what validation let in, which is UTF-8; this is belt and braces so
     * that one damaged row never fails a whole page */
    char *fixed = malloc(n * 3 + 1);
    if (!fixed)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = wp_utf8_seq((const unsigned char *)s + i, n - i);
        if (k) {
            memcpy(fixed + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(fixed, o);
    free(fixed);
    return j;
}

json_t *api_jtime(int64_t us)
{
    if (!us)
        return json_null();
    char buf[40];
    wp_time_format(buf, us, 0);
    return json_string(buf);
}

int api_reply_items(wp_http_ctx *ctx, const void *v, size_t n, size_t size,
                    json_t *(*to_json)(const void *item, const void *arg), const void *arg,
                    const char *next_cursor)
{
    const char *p = v;
    json_t *items = json_array();
    for (size_t i = 0; items && i < n; i++)
        if (json_array_append_new(items, to_json(p + i * size, arg)) < 0) {
            json_decref(items);
            items = NULL;
        }
    if (!items)
        return wp_error_set(WP_ENOMEM, "out of memory");
    return api_reply_page(ctx, items, next_cursor);
}

int api_reply_page(wp_http_ctx *ctx, json_t *items, const char *next_cursor)
{
    if (!items)
        return wp_error_set(WP_ENOMEM, "out of memory");
    return wp_http_reply_json(ctx, 200,
                              json_pack("{s:o,s:o}", "items", items, "next_cursor",
                                        api_jstr(next_cursor, 1)));
}

/* --- scope ------------------------------------------------------------------------------- */

/* The org path of a unit, copied into the request's arena. */
static int unit_path(wp_http_ctx *ctx, wp_store *st, const char **out, const char *tenant_id,
                     const char *unit_id)
{
    wp_org_unit u;
    int err = wp_store_org_unit_get(st, &u, tenant_id, unit_id);
    if (err < 0)
        return err;
    if (!(*out = wp_arena_strdup(ctx->arena, u.path)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

int api_scope_for(wp_http_ctx *ctx, wp_store *st, api_scope *out)
{
    const api_caller *c = api_caller_of(ctx);
    enum wp_role role;
    int err;

    memset(out, 0, sizeof *out);
    if (!c || (c->kind != API_CALLER_EMPLOYEE && c->kind != API_CALLER_KEY))
        return wp_error_set(WP_EAUTH, "authentication is required");
    role = c->kind == API_CALLER_KEY ? c->key.role : c->employee.role;
    out->see_phone = c->rs.view_pii;
    out->may_unmask = c->rs.unmask || c->rs.view_pii;
    out->unit_id = c->kind == API_CALLER_KEY ? "" : c->employee.org_unit_id;
    switch (role) {
    case WP_ROLE_ADMIN:
    case WP_ROLE_AUDITOR:
        out->all = 1;
        return 0;
    case WP_ROLE_MANAGER:
        /* the subtree of the manager's own unit, or of the unit the key was made for */
        err = unit_path(ctx, st, &out->org_path, c->tenant_id,
                        c->kind == API_CALLER_KEY ? c->key.org_unit_id : c->employee.org_unit_id);
        out->store.org_path = out->org_path;
        return err;
    case WP_ROLE_SALES:
        if (c->kind != API_CALLER_EMPLOYEE)
            break;
        out->employee_id = out->store.employee_id = c->employee.id;
        return 0;
    }
    return wp_error_set(WP_EAUTH, "unknown role");
}

int api_scope_allows_customer(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_customer *c)
{
    int err;
    if (scope->all)
        return 0;
    if (scope->employee_id) {
        /* a customer in the public pool is nobody's: its last owner claims it back first */
        if (!c->in_pool && !strcmp(c->owner_employee_id, scope->employee_id))
            return 0;

    } else if (scope->org_path) {
        wp_employee owner;
        wp_org_unit u;
        if ((err = wp_store_employee_get(st, &owner, c->tenant_id, c->owner_employee_id)) < 0 &&
            err != WP_ENOTFOUND)
            return err;
        if (err == 0) {
            if ((err = wp_store_org_unit_get(st, &u, c->tenant_id, owner.org_unit_id)) < 0 &&
                err != WP_ENOTFOUND)
                return err;
            if (err == 0 && !strncmp(u.path, scope->org_path, strlen(scope->org_path)))
                return 0;
        }
    }
    return wp_error_set(WP_ENOTFOUND, "customer '%s' not found", c->id);
}

int api_scope_customer_access(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_customer *c, enum api_access *out)
{
    int err = api_scope_allows_customer(ctx, st, scope, c), yes = 0;
    *out = API_ACCESS_RECORD;
    if (err != WP_ENOTFOUND)
        return err;
    /* a customer it handed over in a transfer that kept its read access */
    if (scope->employee_id && (err = wp_store_customer_read_granted(st, &yes, c->tenant_id, c->id,
                                                                    scope->employee_id)) < 0)
        return err;
    if (yes)
        return 0;
    /* a customer its device met (or a device in its subtree): the record and those
     * conversations, nothing of the owner's. A customer in the pool is nobody's: it is
     * claimed from the pool, not read through an old conversation. */
    if (!c->in_pool &&
        (err = wp_store_customer_met(st, &yes, c->tenant_id, c->id, scope->employee_id,
                                     scope->employee_id ? NULL : scope->org_path)) < 0)
        return err;
    if (yes) {
        *out = API_ACCESS_MET;
        return 0;
    }
    *out = API_ACCESS_NONE;
    return wp_error_set(WP_ENOTFOUND, "customer '%s' not found", c->id);
}

int api_scope_reads_customer(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                             const wp_customer *c)
{
    enum api_access a;
    return api_scope_customer_access(ctx, st, scope, c, &a);
}

int api_scope_sees_history(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                           const char *tenant_id, const char *employee_id, const char *customer_id)
{
    wp_employee e;
    int err, yes = 0;
    if (scope->all)
        return 0;
    if ((err = wp_store_employee_get(st, &e, tenant_id, employee_id)) == 0 &&
        (err = api_scope_allows_employee(ctx, st, scope, &e)) == 0)
        return 0;
    if (err != WP_ENOTFOUND)
        return err;
    if (customer_id && *customer_id &&
        (err = wp_store_history_granted(st, &yes, tenant_id, customer_id, employee_id,
                                        scope->employee_id,
                                        scope->employee_id ? NULL : scope->org_path)) < 0)
        return err;
    return yes ? 0 : wp_error_set(WP_ENOTFOUND, "not found");
}

int api_scope_allows_employee(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_employee *e)
{
    (void)ctx;
    if (scope->all)
        return 0;
    if (scope->employee_id) {
        if (!strcmp(e->id, scope->employee_id))
            return 0;
    } else if (scope->org_path) {
        wp_org_unit u;
        int err = wp_store_org_unit_get(st, &u, e->tenant_id, e->org_unit_id);
        if (err < 0 && err != WP_ENOTFOUND)
            return err;
        if (err == 0 && !strncmp(u.path, scope->org_path, strlen(scope->org_path)))
            return 0;
    }
    return wp_error_set(WP_ENOTFOUND, "employee '%s' not found", e->id);
}

int api_scope_allows_org_unit(const api_scope *scope, const wp_org_unit *u)
{
    if (scope->all)
        return 0;
    if (scope->org_path && !strncmp(u->path, scope->org_path, strlen(scope->org_path)))
        return 0;
    if (scope->employee_id && scope->unit_id && !strcmp(u->id, scope->unit_id))
        return 0;
    return wp_error_set(WP_ENOTFOUND, "org unit '%s' not found", u->id);
}

const char *api_caller_employee_id(const api_caller *c)
{
    if (!c)
        return NULL;
    switch (c->kind) {
    case API_CALLER_EMPLOYEE:
        return c->employee.id;
    case API_CALLER_KEY:
        return c->key.created_by;
    default:
        return NULL;
    }
}

int api_scope_may_manage_employee_or_reply(wp_http_ctx *ctx, wp_store *st,
                                           const api_scope *scope, const wp_employee *e,
                                           unsigned flags, const char *what)
{
    const api_caller *c = api_caller_of(ctx);
    const char *self = api_caller_employee_id(c);
    int err;

    if ((err = api_scope_allows_employee(ctx, st, scope, e)) < 0)
        return err;
    if (self && *self && !strcmp(self, e->id) && !(flags & API_MANAGE_SELF))
        return wp_http_reply_fail(ctx, 403, "forbidden", NULL,
                                  c->kind == API_CALLER_KEY
                                      ? "an API key acts for the employee who made it, who may "
                                        "not %s themselves"
                                      : "nobody may %s themselves",
                                  what);
    enum wp_role role = c->kind == API_CALLER_KEY ? c->key.role : c->employee.role;
    switch (role) {
    case WP_ROLE_ADMIN:
        return 0;
    case WP_ROLE_AUDITOR:
        if ((flags & API_MANAGE_ALERTS) && c->rs.handle_alerts)
            return 0;
        break;
    case WP_ROLE_MANAGER: {
        /* in the scope, so in the subtree; the manager's own unit holds its peers */
        const char *unit = c->kind == API_CALLER_KEY ? c->key.org_unit_id
                                                     : c->employee.org_unit_id;
        if (e->role == WP_ROLE_ADMIN || e->role == WP_ROLE_AUDITOR)
            return wp_http_reply_fail(ctx, 403, "forbidden", NULL,
                                      "only admins may %s an admin or an auditor", what);
        if (e->role == WP_ROLE_SALES || strcmp(e->org_unit_id, unit) != 0)
            return 0;
        return wp_http_reply_fail(ctx, 403, "forbidden", NULL,
                                  "a manager may %s the salespeople of its unit and below and "
                                  "the managers of the units below its own, not its peers",
                                  what);
    }
    case WP_ROLE_SALES:
        break;
    }
    return wp_http_reply_fail(ctx, 403, "forbidden", NULL, "the role '%s' may not %s others",
                              wp_role_name(role), what);
}

/* --- request bodies ----------------------------------------------------------------------- */

int api_body_check_fields(json_t *body, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key) != 0)
            a++;
        if (!*a)
            return wp_error_set(WP_EINVAL, "unknown field '%.64s'", key);
    }
    return 0;
}

int api_field_error(int err, const char *field)
{
    char msg[256];
    if (err != WP_ENOTFOUND && err != WP_EINVAL)
        return err;
    snprintf(msg, sizeof msg, "%s", wp_error_last());
    return wp_error_set(WP_EINVAL, "'%s': %s", field, msg);
}

int api_body_str(json_t *body, const char *field, int required, const char **out)
{
    json_t *v = json_object_get(body, field);
    *out = NULL;
    if (!v && !required)
        return 0;
    if (!json_is_string(v))
        return wp_error_set(WP_EINVAL, "'%s' is required and must be a string", field);
    *out = json_string_value(v);
    return 0;
}

/* --- writes ------------------------------------------------------------------------------- */

int api_audit_commit(wp_http_ctx *ctx, wp_store *st, int err, const char *action, const char *kind,
                     const char *id, const json_t *details)
{
    char target[WP_ID_LEN + 64];
    if (err == 0) {
        snprintf(target, sizeof target, "%s:%s", kind, id);
        err = api_audit(ctx, st, action, target, details);
    }
    if (err == 0)
        err = wp_store_commit(st);
    if (err != 0)
        wp_store_rollback(st);
    return err;
}

int api_delete_audited(wp_http_ctx *ctx,
                       int (*del)(wp_store *st, const char *tenant_id, const char *id),
                       const char *action, const char *kind)
{
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    int err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    err = del(st, api_caller_of(ctx)->tenant_id, id);
    return api_write_reply(ctx, st, err, action, kind, id, NULL, 204);
}

int api_write_reply(wp_http_ctx *ctx, wp_store *st, int err, const char *action, const char *kind,
                    const char *id, json_t *body, int status)
{
    if (err == 0 && status != 204 && !body)
        err = wp_error_set(WP_ENOMEM, "out of memory");
    err = api_audit_commit(ctx, st, err, action, kind, id, body);
    api_store_release(ctx, st);
    if (err < 0) {
        json_decref(body);
        return err;
    }
    if (status == 204) {
        json_decref(body);
        return wp_http_reply_empty(ctx, 204);
    }
    return wp_http_reply_json(ctx, status, body);
}
