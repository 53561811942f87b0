/* SPDX-License-Identifier: MIT */
/* GET /api/v1/alerts and PATCH /api/v1/alerts/{id}: what ingest raised, and its handling. */
#include "api/api.h"
#include "store/alerts.h"
#include "store/customers.h"
#include "store/insider.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

#define KIND_MAX 32 /* bytes of a kind filter: the store's WP_ARCHIVE_WORD_MAX */

static json_t *alert_json(const wp_alert *a)
{
    json_t *o = json_pack("{s:s,s:o,s:s,s:o,s:s,s:o,s:o,s:o,s:s}", "id", a->id, "ts",
                          api_jtime(a->ts_us), "kind", a->kind, "category",
                          api_jstr(a->category, 0), "employee_id", a->employee_id, "customer_id",
                          api_jstr(a->customer_id, 1), "message_id", api_jstr(a->message_id, 1),
                          "device_id", api_jstr(a->device_id, 1), "status",
                          wp_alert_status_name(a->status));
    if (!o)
        return NULL;
    /* a sensitive word: which pattern, what it does, what the text said and where */
    int bad = 0;
    if (a->pattern)
        bad |= json_object_set_new(o, "pattern", api_jstr(a->pattern, 0));
    if (a->action)
        bad |= json_object_set_new(o, "action", api_jstr(a->action, 0));
    if (a->matched)
        bad |= json_object_set_new(o, "text", api_jstr(a->matched, 0));
    if (a->start >= 0 && a->end >= 0) {
        bad |= json_object_set_new(o, "start", json_integer(a->start));
        bad |= json_object_set_new(o, "end", json_integer(a->end));
    }
    /* a collision names the customer's owner too */
    if (a->other_employee_id[0])
        bad |= json_object_set_new(o, "other_employee_id", json_string(a->other_employee_id));
    /* who handled it last, and what they said */
    bad |= json_object_set_new(o, "comment", api_jstr(a->comment, 1));
    bad |= json_object_set_new(o, "handled_by", api_jstr(a->handled_by, 1));
    bad |= json_object_set_new(o, "updated_at", api_jtime(a->updated_us));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The list's filters: ?customer= &employee= &from= &to= &status= &kind=. */
static int parse_filter(wp_http_ctx *ctx, wp_alert_filter *f)
{
    int err;
    if ((err = api_query_id(ctx, "customer", &f->customer_id)) < 0 ||
        (err = api_query_id(ctx, "employee", &f->employee_id)) < 0 ||
        (err = api_query_time(ctx, "from", &f->from_us)) < 0 ||
        (err = api_query_time(ctx, "to", &f->to_us)) < 0)
        return err;
    const char *status = wp_http_query(ctx, "status");
    if (status && *status) {
        enum wp_alert_status s;
        if ((err = wp_alert_status_parse(&s, status)) < 0)
            return err;
        f->status = (int)s;
    }
    f->kind = wp_http_query(ctx, "kind");
    if (f->kind && !*f->kind)
        f->kind = NULL;
    if (f->kind && strlen(f->kind) > KIND_MAX)
        return wp_error_set(WP_EINVAL, "'kind' is longer than %d bytes", KIND_MAX);
    return 0;
}

/* What arrived is counted up to a moment a little in the past: an alert is stored with the
 * time its transaction began, and a transaction of the ingest writer lasts milliseconds, so
 * one that commits late still lands after the next look's `since`. */
#define COUNT_LAG_US 2000000

/* GET /api/v1/alerts/count: {"count": N, "new": M, "checked_at": t}. count: the alerts the list
 * with the same filters would page through (the open-alert badge: ?status=open); new: of them,
 * those stored after ?since= (an earlier answer's checked_at) up to checked_at, which the next
 * look passes as since. Scoped like the list. */
int api_alerts_count(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    api_scope scope;
    wp_alert_filter f = {.tenant_id = c->tenant_id};
    int64_t since = 0, count = 0, recent = 0;
    int err;

    if ((err = parse_filter(ctx, &f)) < 0 || (err = api_query_time(ctx, "since", &since)) < 0)
        return err;
    int64_t until = wp_time_now_us() - COUNT_LAG_US;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) == 0) {
        f.scope = &scope.store;
        err = wp_store_alerts_count(st, &count, &recent, &f, since, until);
    }
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    return wp_http_reply_json(ctx, 200,
                              json_pack("{s:I,s:o,s:o}", "count", (json_int_t)count, "new",
                                        since ? json_integer(recent) : json_null(), "checked_at",
                                        api_jtime(until)));
}

int api_alerts_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_alert_page page;
    api_scope scope;
    wp_alert_filter f = {.tenant_id = c->tenant_id};
    json_t *items = NULL;
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_query_limit(ctx, &f.limit)) < 0 || (err = parse_filter(ctx, &f)) < 0)
        return err;
    f.cursor = wp_http_query(ctx, "cursor");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    f.scope = &scope.store;
    if ((err = wp_store_alerts_list(st, &page, &f)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < page.n; i++)
        if (json_array_append_new(items, alert_json(&page.items[i])) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    err = api_reply_page(ctx, items, page.next_cursor);
    items = NULL;
out:
    json_decref(items);
    wp_alert_page_release(&page);
    api_store_release(ctx, st);
    return err;
}

/* PATCH /api/v1/alerts/{id} {"status": "open"|"acknowledged"|"resolved", "comment"?}. */
int api_alerts_update(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    json_t *body;
    enum wp_alert_status status;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    const char *s = json_string_value(json_object_get(body, "status"));
    if (!s)
        return wp_error_set(WP_EINVAL, "'status' is required: open, acknowledged or resolved");
    if ((err = wp_alert_status_parse(&status, s)) < 0)
        return err;
    json_t *jc = json_object_get(body, "comment");
    if (jc && !json_is_null(jc) && !json_is_string(jc))
        return wp_error_set(WP_EINVAL, "'comment' must be a string");
    const char *comment = json_string_value(jc);
    char actor[64];
    wp_crm_actor who;
    api_crm_actor(ctx, &who, actor);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    /* an alert outside the caller's scope does not exist for it; inside, it is handled by
     * those over the employee it is about, never by that employee. A collision names the
     * customer's owner too: the managers over either side handle it. */
    api_scope scope;
    wp_employee emp;
    char emp_id[WP_ID_LEN + 1], other_id[WP_ID_LEN + 1];
    char kind[WP_ARCHIVE_WORD_MAX + 1];
    if ((err = api_scope_for(ctx, st, &scope)) == 0 &&
        (err = wp_store_alert_kind(st, kind, c->tenant_id, id)) == 0 &&
        /* an insider alert exists for admins and auditors only (not for the one it is about) */
        (err = !scope.all && wp_alert_kind_is_insider(kind) ? WP_ENOTFOUND : 0) == 0 &&
        (err = wp_store_alert_employee(st, emp_id, other_id, c->tenant_id, id)) == 0 &&
        (err = wp_store_employee_get(st, &emp, c->tenant_id, emp_id)) == 0 &&
        (err = api_scope_allows_employee(ctx, st, &scope, &emp)) == WP_ENOTFOUND && other_id[0] &&
        (err = wp_store_employee_get(st, &emp, c->tenant_id, other_id)) == 0)
        err = api_scope_allows_employee(ctx, st, &scope, &emp);
    if (err == 0)
        err = api_scope_may_manage_employee_or_reply(ctx, st, &scope, &emp, API_MANAGE_ALERTS,
                                                     "handle the alerts about");
    if (err == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "alert '%s' not found", id);
    /* the change and its audit row commit together */
    if (err == 0 && (err = wp_store_begin(st)) == 0) {
        char target[16 + WP_ID_LEN];
        snprintf(target, sizeof target, "alert:%s", id);
        json_t *details = json_pack("{s:s}", "status", wp_alert_status_name(status));
        if (!details || (comment && *comment &&
                         json_object_set_new(details, "comment", json_string(comment)) < 0))
            err = wp_error_set(WP_ENOMEM, "out of memory");
        if (err == 0 &&
            (err = wp_store_alert_handle(st, c->tenant_id, id, status, comment, actor)) == 0 &&
            (err = api_audit(ctx, st, "alert.update", target, details)) == 0 &&
            /* the reply is made before the commit: nothing left to fail after it */
            (err = wp_http_ready_json(ctx, 200,
                                      json_pack("{s:s,s:s,s:o,s:s}", "id", id, "status",
                                                wp_alert_status_name(status), "comment",
                                                api_jstr(comment, 1), "handled_by", actor))) == 0)
            err = wp_store_commit(st);
        else
            wp_store_rollback(st);
        json_decref(details);
    }
    api_store_release(ctx, st);
    return err < 0 ? err : wp_http_ready_send(ctx);
}
