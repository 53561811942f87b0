/* SPDX-License-Identifier: MIT */
/* GET /api/v1/customers/{id}/timeline: a customer's messages, calls, contact events, alerts
 * and CRM events (owner, pool, stage, grade, edits, follow-ups) as one stream, newest first. */
#include "api/api.h"
#include "store/customers.h"
#include "store/messages.h"
#include "store/store.h"
#include "util/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Is (t1, id1) newer than (t2, id2)? The order both store lists use. */
static int newer(int64_t t1, const char *id1, int64_t t2, const char *id2)
{
    return t1 > t2 || (t1 == t2 && strcmp(id1, id2) > 0);
}

static json_t *message_json(const wp_message *m)
{
    json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:o,s:s,s:o,s:b}", "type", "message", "id", m->id,
                          "ts", api_jtime(m->ts_us), "channel", api_jstr(m->channel, 1),
                          "direction", api_jstr(wp_direction_name(m->direction), 1),
                          "employee_id", m->employee_id, "msgtype", api_jstr(m->msgtype, 1),
                          "recalled", m->recalled);
    /* what the archive shows of it: the media, file, link, amounts and the recall */
    if (o && (json_object_set_new(o, "text", api_jstr(m->text, 0)) < 0 ||
              api_message_fields(o, m) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *item_json(const wp_timeline_item *it)
{
    switch (it->type) {
    case WP_TL_EVENT: {
        json_t *d;
        if (api_jparse(&d, it->details, 0) < 0)
            return NULL;
        return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "type", "event", "id", it->id, "ts",
                         api_jtime(it->ts_us), "kind", api_jstr(it->kind, 1), "actor",
                         api_jstr(it->actor, 1), "details", d ? d : json_object());
    }
    case WP_TL_CALL:
        return json_pack("{s:s,s:s,s:o,s:s,s:o,s:o,s:o}", "type", "call", "id", it->id, "ts",
                         api_jtime(it->ts_us), "employee_id", it->employee_id, "direction",
                         api_jstr(it->direction, 1), "duration_s",
                         it->num >= 0 ? json_integer(it->num) : json_null(), "recording",
                         api_jstr(it->recording, 1));
    case WP_TL_CONTACT:
        return json_pack("{s:s,s:s,s:o,s:s,s:o,s:o}", "type", "contact", "id", it->id, "ts",
                         api_jtime(it->ts_us), "employee_id", it->employee_id, "action",
                         api_jstr(it->kind, 1), "channel", api_jstr(it->channel, 1));
    case WP_TL_ALERT:
        return json_pack("{s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:o}", "type", "alert", "id", it->id,
                         "ts", api_jtime(it->ts_us), "employee_id", it->employee_id, "kind",
                         api_jstr(it->kind, 1), "status", api_jstr(it->status, 1), "category",
                         api_jstr(it->category, 1), "message_id", api_jstr(it->message_id, 1));
    }
    return json_null();
}

int api_customers_timeline(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id"), *cursor = wp_http_query(ctx, "cursor");
    wp_store *st = NULL;
    wp_customer_crm cu;
    api_scope scope;
    wp_message_page mp;
    wp_timeline_page tp;
    unsigned limit;
    json_t *items = NULL;
    int err;

    memset(&cu, 0, sizeof cu);
    memset(&mp, 0, sizeof mp);
    memset(&tp, 0, sizeof tp);
    if ((err = api_query_limit(ctx, &limit)) < 0)
        return err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_crm_get(st, &cu, c->tenant_id, id)) < 0)
        goto out;
    /* A reader sees the conversations of employees in its scope and those an explicit act
     * handed to it (the store's scope); one that only met the customer does not see the CRM
     * events of its owner. A salesperson does not see a pool customer (its row still names
     * it as the last owner). */
    enum api_access access;
    if (cu.in_pool && scope.store.employee_id) {
        err = wp_error_set(WP_ENOTFOUND, "customer '%s' not found", id);
        goto out;
    }
    if ((err = api_scope_customer_access(ctx, st, &scope, &cu.base, &access)) < 0)
        goto out;
    wp_message_filter mf = {.tenant_id = c->tenant_id, .customer_id = id, .cursor = cursor,
                            .limit = limit, .scope = &scope.store};
    wp_timeline_filter tf = {.tenant_id = c->tenant_id, .customer_id = id, .cursor = cursor,
                             .limit = limit, .scope = &scope.store,
                             .no_events = access == API_ACCESS_MET};
    if ((err = api_view_for_store(ctx, &mf.view)) < 0)
        goto out;
    if ((err = wp_store_messages_search(st, &mp, &mf)) < 0 ||
        (err = wp_store_customer_timeline(st, &tp, &tf)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    if ((err = api_audit_customer_read(ctx, "timeline.read", id)) < 0) /* audited */
        goto out;
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    size_t i = 0, k = 0, n = 0;
    int64_t last_t = 0;
    const char *last_id = NULL;
    while (n < limit && (i < mp.n || k < tp.n)) {
        json_t *o;
        if (k == tp.n || (i < mp.n && newer(mp.items[i].ts_us, mp.items[i].id, tp.items[k].ts_us,
                                            tp.items[k].id))) {
            last_t = mp.items[i].ts_us;
            last_id = mp.items[i].id;
            o = message_json(&mp.items[i++]);
        } else {
            last_t = tp.items[k].ts_us;
            last_id = tp.items[k].id;
            o = item_json(&tp.items[k++]);
        }
        if (json_array_append_new(items, o) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    char next[WP_ARCHIVE_CURSOR_MAX] = "";
    if (last_id && (i < mp.n || k < tp.n || mp.next_cursor[0] || tp.next_cursor[0]))
        snprintf(next, sizeof next, "%" PRId64 ".%s", last_t, last_id);
    err = api_reply_page(ctx, items, next);
    items = NULL;
out:
    json_decref(items);
    wp_message_page_release(&mp);
    wp_timeline_page_release(&tp);
    wp_customer_crm_release(&cu);
    api_store_release(ctx, st);
    return err;
}
