/* SPDX-License-Identifier: MIT */
/* The public pool (公海): list, release, claim, assign, its settings. */
#include "api/api.h"
#include "store/customers.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <string.h>

static json_t *customer_item(const void *c, const void *scope)
{
    return api_crm_customer_json(c, scope);
}

/* GET /api/v1/pool: the pool is the tenant's, open to every role (that is what it is for);
 * phones are masked as everywhere. ?reason= filters. */
int api_pool_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_pool_page page;
    api_scope scope;
    wp_pool_filter f = {.tenant_id = c->tenant_id};
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_query_limit(ctx, &f.limit)) < 0)
        return err;
    f.cursor = wp_http_query(ctx, "cursor");
    f.reason = wp_http_query(ctx, "reason");
    if (f.reason && !*f.reason)
        f.reason = NULL;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_pool_list(st, &page, &f)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    err = api_reply_items(ctx, page.items, page.n, sizeof *page.items, customer_item, &scope,
                          page.next_cursor);
out:
    wp_pool_page_release(&page);
    api_store_release(ctx, st);
    return err;
}

/* Reply to a move the pool's rules refused: 409 or 429 with details, else the error. */
static int refused_or_error(wp_http_ctx *ctx, const wp_pool_move *m, int err)
{
    char when[40] = "";
    if (m->retry_after_us)
        wp_time_format(when, m->retry_after_us, 0);
    switch (m->refused) {
    case WP_POOL_COOLDOWN:
        return wp_http_reply_fail(ctx, 409, "cooldown", json_pack("{s:s}", "retry_after", when),
                                  "%s", wp_error_last());
    case WP_POOL_DAILY_LIMIT:
        return wp_http_reply_fail(ctx, 429, "claim_limit",
                                  m->retry_after_us ? json_pack("{s:s}", "retry_after", when)
                                                    : NULL,
                                  "%s", wp_error_last());
    case WP_POOL_NOT_IN_POOL:
        return wp_http_reply_fail(ctx, 409, "not_in_pool", NULL, "%s", wp_error_last());
    case WP_POOL_IN_POOL:
        return wp_http_reply_fail(ctx, 409, "in_pool", NULL, "%s", wp_error_last());
    default:
        return err;
    }
}

/* The move and its audit row in one transaction, answered with the customer after it as the
 * caller sees it: read and made the reply (wp_http_ready_json) before the commit, so that
 * nothing is left to fail after it, and sent once committed. */
static int move_audited(wp_http_ctx *ctx, wp_store *st, wp_pool_move *m, int release,
                        const char *action, const api_scope *scope)
{
    wp_customer_crm cu;
    int err;
    if ((err = wp_store_begin(st)) < 0)
        return err;
    err = release ? wp_store_pool_release(st, m) : wp_store_pool_take(st, m);
    json_t *d = err ? NULL
                    : json_pack("{s:o,s:o,s:o,s:o}", "reason", api_jstr(m->reason, 1), "from",
                                api_jstr(m->previous_owner, 1), "to", api_jstr(m->employee_id, 1),
                                "note", api_jstr(m->note, 1));
    if (err == 0 && (err = wp_store_customer_crm_get(st, &cu, m->tenant_id, m->customer_id)) == 0) {
        err = wp_http_ready_json(ctx, 200, api_crm_customer_json(&cu, scope));
        wp_customer_crm_release(&cu);
    }
    err = api_audit_commit(ctx, st, err, action, "customer", m->customer_id, d);
    json_decref(d);
    return err < 0 ? err : wp_http_ready_send(ctx);
}

/* POST /api/v1/customers/{id}/release {"reason"?: "manual", "note"?}: the owner or a
 * manager above it (the customer's scope) puts it into the pool. */
int api_customers_release(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"reason", "note", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_customer cu;
    api_scope scope;
    char actor[64];
    json_t *body;
    wp_pool_move m = {.tenant_id = c->tenant_id, .customer_id = wp_http_param(ctx, "id")};
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "reason", 0, &m.reason)) < 0 ||
        (err = api_body_str(body, "note", 0, &m.note)) < 0)
        return err;
    if (!m.reason)
        m.reason = "manual";
    if (strcmp(m.reason, "manual") && strcmp(m.reason, "inactive"))
        return wp_error_set(WP_EINVAL, "'reason' must be manual or inactive");
    api_crm_actor(ctx, &m.who, actor);
    m.now_us = wp_time_now_us();
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_get(st, &cu, c->tenant_id, m.customer_id)) < 0 ||
        (err = api_scope_allows_customer(ctx, st, &scope, &cu)) < 0)
        goto out;
    if ((err = move_audited(ctx, st, &m, 1, "pool.release", &scope)) < 0)
        err = refused_or_error(ctx, &m, err);
out:
    api_store_release(ctx, st);
    return err;
}

/* 0 for a customer in the pool (which everyone sees). An owned one is not in the pool, and
 * outside the caller's scope it does not exist: 404 as for a missing id, before anything
 * about the pool is told (else 409 not_in_pool, replied). */
static int not_in_pool_or_reply(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                                const wp_customer_crm *cu)
{
    int err;
    if (cu->in_pool)
        return 0;
    wp_customer base = cu->base;
    if ((err = api_scope_allows_customer(ctx, st, scope, &base)) < 0)
        return err;
    return wp_http_reply_fail(ctx, 409, "not_in_pool", NULL, "customer '%s' is not in the pool",
                              cu->base.id);
}

/* POST /api/v1/pool/{id}/claim {"note"?}: the calling employee takes the customer, within the
 * daily limit and not as its last owner within the cooldown. */
int api_pool_claim(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"note", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_customer_crm cu;
    api_scope scope;
    char actor[64];
    json_t *body;
    wp_pool_move m = {.tenant_id = c->tenant_id, .customer_id = wp_http_param(ctx, "id"),
                      .claim = 1};
    int err;

    memset(&cu, 0, sizeof cu);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "note", 0, &m.note)) < 0)
        return err;
    api_crm_actor(ctx, &m.who, actor);
    m.now_us = wp_time_now_us();
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_crm_get(st, &cu, c->tenant_id, m.customer_id)) < 0)
        goto out;
    if ((err = not_in_pool_or_reply(ctx, st, &scope, &cu)) < 0)
        goto out;
    if (c->kind != API_CALLER_EMPLOYEE) {
        err = wp_error_set(WP_EINVAL, "only an employee claims; an integration assigns");
        goto out;
    }
    m.employee_id = c->employee.id;
    if ((err = move_audited(ctx, st, &m, 0, "pool.claim", &scope)) < 0)
        err = refused_or_error(ctx, &m, err);
out:
    wp_customer_crm_release(&cu);
    api_store_release(ctx, st);
    return err;
}

/* POST /api/v1/pool/{id}/assign {"employee_id", "note"?}: an admin, or a manager to an
 * employee of its subtree (the route's manage right). */
int api_pool_assign(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"employee_id", "note", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_customer_crm cu;
    wp_employee emp;
    api_scope scope;
    char actor[64];
    json_t *body;
    wp_pool_move m = {.tenant_id = c->tenant_id, .customer_id = wp_http_param(ctx, "id")};
    int err;

    memset(&cu, 0, sizeof cu);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "employee_id", API_FIELD_REQUIRED, &m.employee_id)) < 0 ||
        (err = api_body_str(body, "note", 0, &m.note)) < 0)
        return err;
    if (!api_is_id(m.employee_id))
        return wp_error_set(WP_EINVAL, "'employee_id' is not an id");
    api_crm_actor(ctx, &m.who, actor);
    m.now_us = wp_time_now_us();
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_crm_get(st, &cu, c->tenant_id, m.customer_id)) < 0 ||
        (err = not_in_pool_or_reply(ctx, st, &scope, &cu)) < 0 ||
        (err = wp_store_employee_get(st, &emp, c->tenant_id, m.employee_id)) < 0 ||
        (err = api_scope_allows_employee(ctx, st, &scope, &emp)) < 0)
        goto out;
    if ((err = move_audited(ctx, st, &m, 0, "pool.assign", &scope)) < 0)
        err = refused_or_error(ctx, &m, err);
out:
    wp_customer_crm_release(&cu);
    api_store_release(ctx, st);
    return err;
}

static json_t *settings_json(const wp_crm_settings *s)
{
    return json_pack("{s:i,s:i,s:i,s:o}", "pool_claim_daily_max", s->claim_daily_max,
                     "pool_cooldown_days", s->cooldown_days, "reclaim_inactive_days",
                     s->reclaim_inactive_days, "updated_at", api_jtime(s->updated_us));
}

/* GET /api/v1/pool/settings */
int api_pool_settings_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_crm_settings s;
    int err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_crm_settings_get(st, &s, c->tenant_id);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    return wp_http_reply_json(ctx, 200, settings_json(&s));
}

static int int_field(json_t *body, const char *name, int *out)
{
    json_t *v = json_object_get(body, name);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000)
        return wp_error_set(WP_EINVAL, "'%s' must be a whole number of 0 or more", name);
    *out = (int)json_integer_value(v);
    return 0;
}

/* PUT /api/v1/pool/settings: fields left out keep their value. */
int api_pool_settings_put(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"pool_claim_daily_max", "pool_cooldown_days",
                                         "reclaim_inactive_days", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_crm_settings s;
    json_t *body, *d = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0)
        return err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    if ((err = wp_store_crm_settings_get(st, &s, c->tenant_id)) < 0 ||
        (err = int_field(body, "pool_claim_daily_max", &s.claim_daily_max)) < 0 ||
        (err = int_field(body, "pool_cooldown_days", &s.cooldown_days)) < 0 ||
        (err = int_field(body, "reclaim_inactive_days", &s.reclaim_inactive_days)) < 0 ||
        (err = wp_store_crm_settings_put(st, c->tenant_id, &s, wp_time_now_us())) < 0 ||
        (err = wp_store_crm_settings_get(st, &s, c->tenant_id)) < 0 || !(d = settings_json(&s)) ||
        (err = api_audit(ctx, st, "pool.settings", NULL, d)) < 0 ||
        /* the reply is made before the commit: nothing left to fail after it */
        (err = wp_http_ready_json(ctx, 200, json_incref(d))) < 0 ||
        (err = wp_store_commit(st)) < 0) {
        if (err == 0)
            err = wp_error_set(WP_ENOMEM, "out of memory");
        wp_store_rollback(st);
        goto out;
    }
    api_store_release(ctx, st);
    st = NULL;
    err = wp_http_ready_send(ctx);
out:
    json_decref(d);
    api_store_release(ctx, st);
    return err;
}
