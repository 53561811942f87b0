/* SPDX-License-Identifier: MIT */
/* What a caller sees and may act on: its scope, and the single-object questions asked of it. */
#include "api/api.h"
#include "store/history.h"
#include "util/error.h"

#include <string.h>

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

    memset(out, 0, sizeof *out);
    if (!c || (c->kind != API_CALLER_EMPLOYEE && c->kind != API_CALLER_KEY))
        return wp_error_set(WP_EAUTH, "authentication is required");
    role = c->kind == API_CALLER_KEY ? c->key.role : c->employee.role;
    out->see_phone = c->rs.view_pii;
    out->unit_id = c->kind == API_CALLER_KEY ? "" : c->employee.org_unit_id;
    switch (role) {
    case WP_ROLE_ADMIN:
    case WP_ROLE_AUDITOR:
        out->all = 1;
        return 0;
    case WP_ROLE_MANAGER:
        /* the subtree of the manager's own unit, or of the unit the key was made for */
        return unit_path(ctx, st, &out->store.org_path, c->tenant_id,
                         c->kind == API_CALLER_KEY ? c->key.org_unit_id
                                                   : c->employee.org_unit_id);
    case WP_ROLE_SALES:
        if (c->kind != API_CALLER_EMPLOYEE)
            break;
        out->store.employee_id = c->employee.id;
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
    if (scope->store.employee_id) {
        /* a customer in the public pool is nobody's: its last owner claims it back first */
        if (!c->in_pool && !strcmp(c->owner_employee_id, scope->store.employee_id))
            return 0;

    } else if (scope->store.org_path) {
        wp_employee owner;
        wp_org_unit u;
        if ((err = wp_store_employee_get(st, &owner, c->tenant_id, c->owner_employee_id)) < 0 &&
            err != WP_ENOTFOUND)
            return err;
        if (err == 0) {
            if ((err = wp_store_org_unit_get(st, &u, c->tenant_id, owner.org_unit_id)) < 0 &&
                err != WP_ENOTFOUND)
                return err;
            if (err == 0 && !strncmp(u.path, scope->store.org_path, strlen(scope->store.org_path)))
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
    if (scope->store.employee_id && (err = wp_store_customer_read_granted(st, &yes, c->tenant_id, c->id,
                                                                    scope->store.employee_id)) < 0)
        return err;
    if (yes)
        return 0;
    /* a customer its device met (or a device in its subtree): the record and those
     * conversations, nothing of the owner's. A customer in the pool is nobody's: it is
     * claimed from the pool, not read through an old conversation. */
    if (!c->in_pool &&
        (err = wp_store_customer_met(st, &yes, c->tenant_id, c->id, &scope->store)) < 0)
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
                                        &scope->store)) < 0)
        return err;
    return yes ? 0 : wp_error_set(WP_ENOTFOUND, "not found");
}

int api_scope_allows_employee(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_employee *e)
{
    (void)ctx;
    if (scope->all)
        return 0;
    if (scope->store.employee_id) {
        if (!strcmp(e->id, scope->store.employee_id))
            return 0;
    } else if (scope->store.org_path) {
        wp_org_unit u;
        int err = wp_store_org_unit_get(st, &u, e->tenant_id, e->org_unit_id);
        if (err < 0 && err != WP_ENOTFOUND)
            return err;
        if (err == 0 && !strncmp(u.path, scope->store.org_path, strlen(scope->store.org_path)))
            return 0;
    }
    return wp_error_set(WP_ENOTFOUND, "employee '%s' not found", e->id);
}

int api_scope_allows_org_unit(const api_scope *scope, const wp_org_unit *u)
{
    if (scope->all)
        return 0;
    if (scope->store.org_path && !strncmp(u->path, scope->store.org_path, strlen(scope->store.org_path)))
        return 0;
    if (scope->store.employee_id && scope->unit_id && !strcmp(u->id, scope->unit_id))
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
    /* No route reaches this today: every caller of this function sits behind the right admin,
     * manage or handle_alerts, which salespeople never hold and auditors hold only with
     * handle_alerts (returned above). It stays as the refusal a future route would get. */
    return wp_http_reply_fail(ctx, 403, "forbidden", NULL, "the role '%s' may not %s others",
                              wp_role_name(role), what);
}
