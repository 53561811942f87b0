/* SPDX-License-Identifier: MIT */
/* GET/PUT /api/v1/retention and GET/POST/DELETE /api/v1/legal-holds: how long each channel
 * and alert category is kept, and the holds that stop every purge of what they cover
 * (docs/internals/retention.md). Admins only: the route table says so. */
#include "api/api.h"
#include "store/retention.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static json_t *rules_json(const wp_retention_rule *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = json_pack("{s:s,s:s,s:i,s:o}", "kind",
                              v[i].kind == WP_RETENTION_CATEGORY ? "category" : "channel", "name",
                              v[i].name, "days", v[i].days, "updated_at",
                              api_jtime(v[i].updated_us));
        if (!o || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a ? json_pack("{s:o}", "rules", a) : NULL;
}

static int rules_answer(wp_store *st, const char *tenant_id, json_t **out)
{
    wp_retention_rule *v = NULL;
    size_t n = 0;
    int err;
    if ((err = wp_store_retention_get(st, &v, &n, tenant_id)) < 0)
        return err;
    *out = rules_json(v, n);
    free(v);
    return *out ? 0 : wp_error_set(WP_ENOMEM, "out of memory");
}

int api_retention_get(wp_http_ctx *ctx)
{
    wp_store *st = NULL;
    json_t *o = NULL;
    int err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = rules_answer(st, api_caller_of(ctx)->tenant_id, &o);
    api_store_release(ctx, st);
    return err < 0 ? err : wp_http_reply_json(ctx, 200, o);
}

/* One rule of the body: {"kind": "channel"|"category", "name", "days"}. */
static int parse_rule(wp_retention_rule *r, json_t *o, size_t i)
{
    static const char *const fields[] = {"kind", "name", "days", NULL};
    const char *kind, *name;
    json_t *days;
    int err;
    if (!json_is_object(o))
        return wp_error_set(WP_EINVAL, "rules[%zu] must be an object {\"kind\", \"name\", \"days\"}",
                            i);
    if ((err = api_body_check_fields(o, fields)) < 0) {
        char why[200];
        snprintf(why, sizeof why, "%s", wp_error_last());
        return wp_error_set(err, "rules[%zu]: %s", i, why);
    }
    kind = json_string_value(json_object_get(o, "kind"));
    name = json_string_value(json_object_get(o, "name"));
    days = json_object_get(o, "days");
    memset(r, 0, sizeof *r);
    if (!kind || (strcmp(kind, "channel") && strcmp(kind, "category")))
        return wp_error_set(WP_EINVAL, "rules[%zu].kind must be 'channel' or 'category'", i);
    r->kind = strcmp(kind, "category") ? WP_RETENTION_CHANNEL : WP_RETENTION_CATEGORY;
    if (!name || strlen(name) >= sizeof r->name)
        return wp_error_set(WP_EINVAL, "rules[%zu].name must be a string of 1-%d characters", i,
                            WP_RETENTION_NAME_MAX);
    memcpy(r->name, name, strlen(name) + 1);
    if (!json_is_integer(days) || json_integer_value(days) < WP_RETENTION_DAYS_MIN ||
        json_integer_value(days) > WP_RETENTION_DAYS_MAX)
        return wp_error_set(WP_EINVAL, "rules[%zu].days must be a whole number %d-%d", i,
                            WP_RETENTION_DAYS_MIN, WP_RETENTION_DAYS_MAX);
    r->days = (int)json_integer_value(days);
    return 0;
}

/* PUT {"rules": [...]}: the whole list (a rule not listed goes: kept forever again), in one
 * transaction with its audit row retention.put (details: the body). */
int api_retention_put(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"rules", NULL};
    wp_retention_rule *v = NULL;
    wp_store *st = NULL;
    json_t *body, *rules, *o = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0 ||
        (err = api_body_check_fields(body, fields)) < 0)
        return err;
    rules = json_object_get(body, "rules");
    if (!json_is_array(rules))
        return wp_error_set(WP_EINVAL, "'rules' must be a list of rules");
    size_t n = json_array_size(rules);
    if (n > WP_RETENTION_RULES_MAX)
        return wp_error_set(WP_EINVAL, "'rules' has more than %d rules", WP_RETENTION_RULES_MAX);
    if (!(v = wp_arena_alloc(ctx->arena, (n + 1) * sizeof *v)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if ((err = parse_rule(&v[i], json_array_get(rules, i), i)) < 0)
            return err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    const char *tenant = api_caller_of(ctx)->tenant_id;
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    if ((err = wp_store_retention_put(st, tenant, v, n, wp_time_now_us())) == 0 &&
        (err = api_audit(ctx, st, "retention.put", "retention", body)) == 0 &&
        (err = rules_answer(st, tenant, &o)) == 0) {
        /* the reply is made before the commit: nothing left to fail after it */
        err = wp_http_ready_json(ctx, 200, o);
        o = NULL;
    }
    if (err < 0 || (err = wp_store_commit(st)) < 0) {
        json_decref(o);
        wp_store_rollback(st);
        goto out;
    }
    api_store_release(ctx, st);
    return wp_http_ready_send(ctx);
out:
    api_store_release(ctx, st);
    return err;
}

static json_t *ids_json(const char (*v)[WP_ID_LEN + 1], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *hold_json(const void *item, const void *arg)
{
    const wp_legal_hold *h = item;
    (void)arg;
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:b,s:s,s:o,s:o,s:o,s:o}", "id", h->id, "name",
                     h->name, "reason", h->reason, "customer_ids",
                     ids_json((const char(*)[WP_ID_LEN + 1])h->customers, h->n_customers),
                     "employee_ids",
                     ids_json((const char(*)[WP_ID_LEN + 1])h->employees, h->n_employees),
                     "active", !h->lifted_us, "created_by", h->created_by, "created_at",
                     api_jtime(h->created_us), "lifted_at", api_jtime(h->lifted_us), "lifted_by",
                     api_jstr(h->lifted_by, 0), "lift_reason", api_jstr(h->lift_reason, 0));
}

int api_legal_holds_list(wp_http_ctx *ctx)
{
    wp_store *st = NULL;
    wp_legal_hold *v = NULL;
    size_t n = 0;
    int err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_legal_holds_list(st, &v, &n, api_caller_of(ctx)->tenant_id);
    api_store_release(ctx, st);
    if (err == 0)
        err = api_reply_items(ctx, v, n, sizeof *v, hold_json, NULL, NULL);
    wp_legal_holds_free(v, n);
    return err;
}

/* body[field]: a list of ids (absent or null: none), in ctx's arena. */
static int id_list(wp_http_ctx *ctx, json_t *body, const char *field, char (**out)[WP_ID_LEN + 1],
                   size_t *n)
{
    json_t *a = json_object_get(body, field), *x;
    size_t i;
    *out = NULL;
    *n = 0;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return wp_error_set(WP_EINVAL, "'%s' must be a list of ids", field);
    if (json_array_size(a) > WP_HOLD_SUBJECTS_MAX)
        return wp_error_set(WP_EINVAL, "a hold names at most %d customers and employees",
                            WP_HOLD_SUBJECTS_MAX);
    if (!(*out = wp_arena_alloc(ctx->arena, (json_array_size(a) + 1) * sizeof **out)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    json_array_foreach(a, i, x)
    {
        if (!api_is_id(json_string_value(x)))
            return wp_error_set(WP_EINVAL, "'%s'[%zu] is not an id", field, i);
        memcpy((*out)[i], json_string_value(x), WP_ID_LEN + 1);
    }
    *n = json_array_size(a);
    return 0;
}

static int hold_answer(wp_store *st, const char *tenant, const char *id, json_t **out)
{
    wp_legal_hold h;
    int err;
    if ((err = wp_store_legal_hold_get(st, &h, tenant, id)) < 0)
        return err;
    *out = hold_json(&h, NULL);
    wp_legal_hold_release(&h);
    return *out ? 0 : wp_error_set(WP_ENOMEM, "out of memory");
}

/* POST {"name", "reason", "customer_ids"?, "employee_ids"?}: 201 the hold, audited as
 * legal_hold.create on legal_hold:<id>. */
int api_legal_holds_create(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"name", "reason", "customer_ids", "employee_ids", NULL};
    const api_caller *c = api_caller_of(ctx);
    char id[WP_ID_LEN + 1], actor[64];
    char(*cust)[WP_ID_LEN + 1], (*emp)[WP_ID_LEN + 1];
    size_t nc, ne;
    const char *name, *reason;
    wp_store *st = NULL;
    json_t *body, *o = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0 ||
        (err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "name", API_FIELD_REQUIRED, &name)) < 0 ||
        (err = api_body_str(body, "reason", API_FIELD_REQUIRED, &reason)) < 0 ||
        (err = id_list(ctx, body, "customer_ids", &cust, &nc)) < 0 ||
        (err = id_list(ctx, body, "employee_ids", &emp, &ne)) < 0)
        return err;
    snprintf(actor, sizeof actor, "employee:%s", api_caller_employee_id(c));
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    if ((err = wp_store_legal_hold_create(st, id, c->tenant_id, name, reason,
                                          (const char(*)[WP_ID_LEN + 1])cust, nc,
                                          (const char(*)[WP_ID_LEN + 1])emp, ne, actor,
                                          wp_time_now_us())) == 0)
        err = hold_answer(st, c->tenant_id, id, &o);
    return api_write_reply(ctx, st, err, "legal_hold.create", "legal_hold", id, o, 201);
}

/* DELETE /api/v1/legal-holds/{id} {"reason"}: lift it (it stays listed, lifted); 200 the hold,
 * audited as legal_hold.lift. */
int api_legal_holds_lift(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"reason", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id"), *reason;
    char actor[64];
    wp_store *st = NULL;
    json_t *body, *o = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0 ||
        (err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "reason", API_FIELD_REQUIRED, &reason)) < 0)
        return err;
    if (!api_is_id(id))
        return wp_error_set(WP_ENOTFOUND, "legal hold not found");
    snprintf(actor, sizeof actor, "employee:%s", api_caller_employee_id(c));
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    if ((err = wp_store_legal_hold_lift(st, c->tenant_id, id, reason, actor,
                                        wp_time_now_us())) == 0)
        err = hold_answer(st, c->tenant_id, id, &o);
    return api_write_reply(ctx, st, err, "legal_hold.lift", "legal_hold", id, o, 200);
}
