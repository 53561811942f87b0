/* SPDX-License-Identifier: MIT */
/* Handovers (CONTRACT §5): hand an employee's customers to successors, list them, and the
 * report as JSON or a CSV download. */
#include "api/api.h"
#include "api/csv.h"
#include "store/access.h"
#include "store/handovers.h"
#include "store/people.h"
#include "store/store.h"
#include "store/wecom.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"
#include "util/testhooks.h"
#include "wecom/wecom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *handover_json(const wp_handover *h)
{
    json_t *to = NULL;
    /* api_jparse: jansson's lexer drops a character it cannot keep (an id one digit short) */
    if (api_jparse(&to, h->to_employees, 0) < 0)
        return NULL;
    return json_pack("{s:s,s:s,s:o,s:s,s:b,s:o,s:s,s:I,s:I,s:I,s:I,s:o}", "id", h->id,
                     "from_employee", h->from_employee_id, "to_employees", to ? to : json_array(),
                     "reason", h->departure ? "departure" : "transfer", "keep_read_access",
                     h->keep_read_access, "idempotency_key", api_jstr(h->idempotency_key, 1),
                     "actor", h->actor, "customers_moved", (json_int_t)h->customers_moved,
                     "sessions_revoked", (json_int_t)h->sessions_revoked, "devices_revoked",
                     (json_int_t)h->devices_revoked, "api_keys_revoked",
                     (json_int_t)h->api_keys_revoked, "created_at", api_jtime(h->created_us));
}

static json_t *handover_item(const void *h, const void *arg)
{
    return handover_json(h);
}

/* POST /api/v1/handovers: admins and managers (the route's manage right) */
int api_handovers_create(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"from_employee",   "to_employee", "to_employees",
                                         "weights",         "reason",      "keep_read_access",
                                         "idempotency_key", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *to_ids[WP_HANDOVER_TO_MAX], *reason = NULL;
    wp_handover_request r = {.tenant_id = c->tenant_id, .to_employee_ids = to_ids};
    wp_store *st = NULL;
    wp_handover h;
    api_scope scope;
    char actor[64];
    json_t *body, *v;
    wp_api_key_end *keys_ended = NULL;
    size_t n_keys_ended = 0;
    int err, replayed = 0;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "from_employee", API_FIELD_REQUIRED, &r.from_employee_id)) < 0 ||
        (err = api_body_str(body, "reason", API_FIELD_REQUIRED, &reason)) < 0 ||
        (err = api_body_str(body, "idempotency_key", 0, &r.idempotency_key)) < 0)
        return err;
    if (!api_is_id(r.from_employee_id))
        return wp_error_set(WP_EINVAL, "'from_employee' is not an id");
    if (!strcmp(reason, "departure"))
        r.departure = 1;
    else if (strcmp(reason, "transfer"))
        return wp_error_set(WP_EINVAL, "'reason' must be departure or transfer");
    if ((v = json_object_get(body, "keep_read_access")) && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return wp_error_set(WP_EINVAL, "'keep_read_access' must be true or false");
        if (json_is_true(v) && r.departure)
            return wp_error_set(WP_EINVAL, "'keep_read_access' is for transfers only");
        r.keep_read_access = json_is_true(v);
    }
    json_t *one = json_object_get(body, "to_employee"),
           *many = json_object_get(body, "to_employees");
    if ((one && !json_is_null(one)) == (many && !json_is_null(many)))
        return wp_error_set(WP_EINVAL, "give one of 'to_employee' and 'to_employees'");
    if (one && !json_is_null(one)) {
        if (!api_is_id(json_string_value(one)))
            return wp_error_set(WP_EINVAL, "'to_employee' is not an id");
        to_ids[r.n_to++] = json_string_value(one);
    } else {
        size_t i;
        if (!json_is_array(many) || json_array_size(many) == 0 ||
            json_array_size(many) > WP_HANDOVER_TO_MAX)
            return wp_error_set(WP_EINVAL, "'to_employees' must be 1..%d ids", WP_HANDOVER_TO_MAX);
        json_array_foreach(many, i, v)
        {
            if (!api_is_id(json_string_value(v)))
                return wp_error_set(WP_EINVAL, "'to_employees' item %zu is not an id", i);
            to_ids[r.n_to++] = json_string_value(v);
        }
    }
    /* a split by rule: one weight per successor, each gets customers in proportion */
    unsigned weights[WP_HANDOVER_TO_MAX];
    json_t *jw = json_object_get(body, "weights");
    if (jw && !json_is_null(jw)) {
        size_t i;
        if (!json_is_array(jw) || json_array_size(jw) != r.n_to)
            return wp_error_set(WP_EINVAL, "'weights' must hold one number per successor");
        json_array_foreach(jw, i, v)
        {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100)
                return wp_error_set(WP_EINVAL, "'weights' item %zu must be 1..100", i);
            weights[i] = (unsigned)json_integer_value(v);
        }
        r.weights = weights;
    }
    /* tests: make the Nth move fail, to show that nothing is left half done */
    r.fail_after = wp_test_hooks_get()->handover_fail_after;
    api_crm_actor(ctx, &r.who, actor);
    r.now_us = wp_time_now_us();
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    /* the leaver must be someone the caller is over, every successor in its scope (404
     * outside); a manager does not hand customers to itself */
    const char *self = api_caller_employee_id(c);
    for (size_t i = 0; i <= r.n_to; i++) {
        wp_employee e;
        if ((err = wp_store_employee_get(st, &e, c->tenant_id,
                                         i ? to_ids[i - 1] : r.from_employee_id)) < 0)
            goto out;
        if (i == 0) {
            if ((err = api_scope_may_manage_employee_or_reply(ctx, st, &scope, &e, 0,
                                                              "hand over")) < 0)
                goto out;
            continue;
        }
        if ((err = api_scope_allows_employee(ctx, st, &scope, &e)) < 0)
            goto out;
        if (scope.store.org_path && self && !strcmp(self, e.id)) {
            err = wp_http_reply_fail(ctx, 403, "forbidden", NULL,
                                     "a manager may not hand customers to itself");
            goto out;
        }
    }
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    json_t *d = NULL;
    int64_t wecom_planned = 0;
    r.keys_ended = &keys_ended;
    r.n_keys_ended = &n_keys_ended;
    /* the moved customers that WeCom knows are handed over there too, by the WeCom jobs */
    if ((err = wp_store_handover_run(st, &h, &replayed, &r)) == 0 &&
        (err = api_keys_audit_ended(ctx, st, keys_ended, n_keys_ended)) == 0 &&
        (err = wp_store_wecom_transfers_plan(st, &wecom_planned, c->tenant_id, h.id, r.now_us)) ==
            0) {
        json_t *to = NULL;
        if (api_jparse(&to, h.to_employees, 0) == 0) /* else d stays NULL: out of memory */
            d = json_pack(
            "{s:s,s:s,s:o,s:I,s:I,s:I,s:I}", "handover_id", h.id, "reason", reason, "to_employees",
            to ? to : json_array(), "customers_moved", (json_int_t)h.customers_moved,
            "sessions_revoked", (json_int_t)h.sessions_revoked, "devices_revoked",
            (json_int_t)h.devices_revoked, "api_keys_revoked", (json_int_t)h.api_keys_revoked);
    }
    /* the reply is built before the commit: out of memory there hands nothing over, rather
     * than a 201 short of a field */
    json_t *o = err == 0 ? handover_json(&h) : NULL;
    if (err == 0 && (!o || json_object_set_new(o, "replayed", json_boolean(replayed)) < 0 ||
                     json_object_set_new(o, "wecom_transfers", json_integer(wecom_planned)) < 0))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    /* a replay changes nothing but is still a request to change: it is recorded too */
    err = api_audit_reply(ctx, st, err, replayed ? "handover.replay" : "handover.create",
                          "employee", r.from_employee_id, d, o, replayed ? 200 : 201);
    st = NULL;
    json_decref(d);
    if (err == 0 && wecom_planned > 0)
        wp_wecom_kick(((const wp_app *)ctx->app)->wecom, "wecom_transfers");
out:
    free(keys_ended);
    api_store_release(ctx, st);
    return err;
}

/* GET /api/v1/handovers: admins and auditors all, managers those of leavers in their subtree,
 * a salesperson its own. ?from_employee= filters. */
int api_handovers_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_handover_page page;
    api_scope scope;
    wp_handover_filter f = {.tenant_id = c->tenant_id};
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_query_limit(ctx, &f.limit)) < 0 ||
        (err = api_query_id(ctx, "from_employee", &f.from_employee_id)) < 0)
        return err;
    f.cursor = wp_http_query(ctx, "cursor");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    f.scope = &scope.store;
    if (scope.store.employee_id) {
        if (f.from_employee_id && strcmp(f.from_employee_id, scope.store.employee_id))
            goto reply;
        f.from_employee_id = scope.store.employee_id;
    }
    if ((err = wp_store_handovers_list(st, &page, &f)) < 0)
        goto out;
reply:
    api_store_release(ctx, st);
    st = NULL;
    err = api_reply_items(ctx, page.items, page.n, sizeof *page.items, handover_item, NULL,
                          page.next_cursor);
out:
    wp_handover_page_release(&page);
    api_store_release(ctx, st);
    return err;
}

/* A customer's handover in WeCom (store/wecom.h): null when it has no WeCom external userid
 * (or the tenant no WeCom settings). */
static json_t *wecom_json(const wp_wecom_transfer *t)
{
    if (!t)
        return json_null();
    return json_pack("{s:s,s:s,s:o,s:o,s:I,s:o}", "state", wp_wecom_state_name(t->state),
                     "external_userid", t->external_userid, "reason", api_jstr(t->reason, 1),
                     "errcode", t->errcode >= 0 ? json_integer(t->errcode) : json_null(),
                     "attempts", (json_int_t)t->attempts, "updated_at",
                     api_jtime(t->updated_us));
}

/* How many customers of the handover are in each WeCom state; null when none has one. */
static json_t *wecom_summary(const wp_wecom_transfer *v, size_t n)
{
    int64_t k[WP_WECOM_SKIPPED + 1] = {0};
    json_t *o;
    if (n == 0)
        return json_null();
    for (size_t i = 0; i < n; i++)
        k[v[i].state]++;
    if (!(o = json_object()))
        return NULL;
    for (int s = 0; s <= WP_WECOM_SKIPPED; s++)
        json_object_set_new(o, wp_wecom_state_name((enum wp_wecom_transfer_state)s),
                            json_integer(k[s]));
    return o;
}

#define CSV_MAX (64u * 1024 * 1024)
#define REPORT_PAGE_MAX 500

/* The whole report as CSV, in w. */
static int report_csv(wp_store *st, api_csv *w, const char *tenant_id, const char *id)
{
    char after[WP_ID_LEN + 1] = "";
    int err;
    if ((err = api_csv_cell(w, "customer_id")) < 0 ||
        (err = api_csv_cell(w, "customer_name")) < 0 ||
        (err = api_csv_cell(w, "to_employee_id")) < 0 || (err = api_csv_row_end(w)) < 0)
        return err;
    while (err == 0) {
        wp_handover_item *v = NULL;
        size_t n = 0;
        if ((err = wp_store_handover_items(st, &v, &n, tenant_id, id, after,
                                           WP_HANDOVER_ITEMS_MAX)) < 0)
            break;
        for (size_t i = 0; i < n && err == 0; i++) {
            if ((err = api_csv_cell(w, v[i].customer_id)) == 0 &&
                (err = api_csv_cell(w, v[i].customer_name)) == 0 &&
                (err = api_csv_cell(w, v[i].to_employee_id)) == 0)
                err = api_csv_row_end(w);
        }
        if (n)
            memcpy(after, v[n - 1].customer_id, sizeof after);
        free(v);
        if (n < WP_HANDOVER_ITEMS_MAX)
            break;
    }
    return err;
}

/* GET /api/v1/handovers/{id}: the handover and its report (customers, paged by ?limit= up to
 * 1000 and ?cursor=); ?format=csv downloads the whole report, audited as an export. */
int api_handovers_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id"), *format = wp_http_query(ctx, "format");
    const char *cursor = wp_http_query(ctx, "cursor"), *lim = wp_http_query(ctx, "limit");
    /* the report's customers: ?limit= (default 100, at most REPORT_PAGE_MAX), ?cursor= */
    wp_store *st = NULL;
    wp_handover h;
    wp_handover_item *v = NULL;
    wp_wecom_transfer *wt = NULL;
    size_t n = 0, n_wt = 0;
    api_scope scope;
    unsigned limit = 100;
    json_t *o = NULL, *arr = NULL;
    api_csv csv;
    int err, want_csv = 0;

    api_csv_init(&csv, ctx, CSV_MAX);
    if (format && *format) {
        if (!strcmp(format, "csv"))
            want_csv = 1;
        else if (strcmp(format, "json"))
            return wp_error_set(WP_EINVAL, "'format' must be json or csv");
    }
    if (lim) {
        char *end = NULL;
        unsigned long l = strtoul(lim, &end, 10);
        if (!*lim || *end || l < 1 || l > REPORT_PAGE_MAX ||
            strspn(lim, "0123456789") != strlen(lim))
            return wp_error_set(WP_EINVAL, "'limit' must be 1..%d", REPORT_PAGE_MAX);
        limit = (unsigned)l;
    }
    if (cursor && *cursor && !api_is_id(cursor))
        return wp_error_set(WP_EINVAL, "invalid cursor");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_handover_get(st, &h, c->tenant_id, id)) < 0)
        goto out;
    wp_employee from;
    if ((err = wp_store_employee_get(st, &from, c->tenant_id, h.from_employee_id)) < 0 ||
        (err = api_scope_allows_employee(ctx, st, &scope, &from)) < 0) {
        if (err == WP_ENOTFOUND)
            err = wp_error_set(WP_ENOTFOUND, "handover '%s' not found", id);
        goto out;
    }
    if (want_csv) {
        if ((err = wp_store_begin(st)) < 0)
            goto out;
        err = report_csv(st, &csv, c->tenant_id, id);
        json_t *d = err ? NULL
                        : json_pack("{s:s,s:I}", "format", "csv", "customers",
                                    (json_int_t)h.customers_moved);
        err = api_audit_commit(ctx, st, err, "handover.export", "handover", id, d);
        json_decref(d);
        if (err < 0)
            goto out;
        api_store_release(ctx, st);
        st = NULL;
        char name[WP_ID_LEN + 32];
        snprintf(name, sizeof name, "handover-%s.csv", id);
        err = api_csv_reply(ctx, &csv, name);
        goto out;
    }
    if ((err = wp_store_handover_items(st, &v, &n, c->tenant_id, id, cursor, limit + 1)) < 0 ||
        (err = wp_store_wecom_transfers_of(st, &wt, &n_wt, c->tenant_id, id, NULL, 0)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    if (!(o = handover_json(&h)) || !(arr = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && i < limit; i++) {
        const wp_wecom_transfer *t = NULL;
        for (size_t k = 0; k < n_wt && !t; k++)
            if (!strcmp(wt[k].customer_id, v[i].customer_id))
                t = &wt[k];
        if (json_array_append_new(arr, json_pack("{s:s,s:o,s:s,s:o}", "customer_id",
                                                 v[i].customer_id, "name",
                                                 api_jstr(v[i].customer_name, 0), "to_employee",
                                                 v[i].to_employee_id, "wecom", wecom_json(t))) <
            0) {
            err = wp_error_set(WP_ENOMEM, "out of memory"); /* not a report short of a row */
            goto out;
        }
    }
    int bad = json_object_set_new(o, "customers", arr);
    arr = NULL;
    bad |= json_object_set_new(o, "wecom", wecom_summary(wt, n_wt));
    bad |= json_object_set_new(o, "next_cursor",
                               n > limit ? json_string(v[limit - 1].customer_id) : json_null());
    if (bad) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = wp_http_reply_json(ctx, 200, o);
    o = NULL;
out:
    free(v);
    json_decref(o);
    json_decref(arr);
    api_csv_release(&csv);
    api_store_release(ctx, st);
    free(wt);
    return err;
}
