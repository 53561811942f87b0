/* SPDX-License-Identifier: MIT */
/* The audit log: the rows handlers append (api_audit, api_audit_read), and GET
 * /api/v1/audit[/verify]. */
#include "api/api.h"
#include "store/audit.h"
#include "store/insider.h"
#include "store/messages.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTOR_MAX 64 /* "employee:" + an id, with room */
#define AUDIT_SYNC_MS 2000 /* the longest GET /api/v1/audit waits for buffered reads */

static const unsigned char *key_of(wp_http_ctx *ctx)
{
    const wp_app *app = ctx->app;
    return app ? app->audit_key : NULL;
}

/* "employee:<id>", "apikey:<id>", "device:<id>": who the audit log says did it. */
static int actor_of(const api_caller *c, char out[ACTOR_MAX])
{
    switch (c->kind) {
    case API_CALLER_EMPLOYEE:
        snprintf(out, ACTOR_MAX, "employee:%s", c->employee.id);
        return 0;
    case API_CALLER_DEVICE:
        snprintf(out, ACTOR_MAX, "device:%s", c->device.id);
        return 0;
    case API_CALLER_KEY:
        snprintf(out, ACTOR_MAX, "apikey:%s", c->key.id);
        return 0;
    }
    return wp_error_set(WP_EAUTH, "unknown caller");
}

/* HEAD runs the GET handler, but sends no body: nothing was read out or downloaded. */
static int is_head(const wp_http_ctx *ctx)
{
    return ctx->method && !strcmp(ctx->method, "HEAD");
}

int api_audit_as(wp_http_ctx *ctx, wp_store *st, const char *tenant_id, const char *actor,
                 const char *action, const char *target, const json_t *details)
{
    const unsigned char *key = key_of(ctx);
    char *text = NULL;
    int err;

    if (is_head(ctx))
        return 0;
    if (!key)
        return wp_error_set(WP_EIO, "the server has no audit key");
    /* sorted keys: the same facts give the same text, whoever wrote them */
    if (details && !(text = wp_json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    wp_audit_entry e = {.tenant_id = tenant_id,
                        .actor = actor,
                        .action = action,
                        .target = target,
                        .details = text,
                        .client = ctx->client};
    err = wp_store_audit_append(st, key, &e, NULL);
    free(text);
    return err;
}

int api_audit(wp_http_ctx *ctx, wp_store *st, const char *action, const char *target,
              const json_t *details)
{
    const api_caller *c = api_caller_of(ctx);
    char actor[ACTOR_MAX];
    int err;
    if (!c)
        return wp_error_set(WP_EAUTH, "authentication is required");
    if ((err = actor_of(c, actor)) < 0)
        return err;
    if ((err = api_audit_as(ctx, st, c->tenant_id, actor, action, target, details)) < 0 ||
        is_head(ctx))
        return err;
    /* too many unmaskings or exports by one person raise an alert (actions that do not count
     * cost nothing here); an API key's is about the employee who made it */
    const char *who = c->kind == API_CALLER_EMPLOYEE ? c->employee.id
                      : c->kind == API_CALLER_KEY    ? c->key.created_by
                                                     : NULL;
    wp_insider_result r;
    return wp_store_insider_check(st, &r, key_of(ctx), c->tenant_id, actor, who, action);
}

int api_audit_read(wp_http_ctx *ctx, const char *action, const char *target,
                   const json_t *details)
{
    const api_caller *c = api_caller_of(ctx);
    const wp_app *app = ctx->app;
    char actor[ACTOR_MAX], *text = NULL;
    wp_store *st = NULL;
    int err;

    if (is_head(ctx))
        return 0;
    if (!c)
        return wp_error_set(WP_EAUTH, "authentication is required");
    if ((err = actor_of(c, actor)) < 0)
        return err;
    if (details && !(text = wp_json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    wp_audit_entry e = {.tenant_id = c->tenant_id,
                        .ts_us = wp_time_now_us(),
                        .actor = actor,
                        .action = action,
                        .target = target,
                        .details = text,
                        .client = ctx->client};
    if (app && app->audit_worker) {
        err = api_audit_worker_push(app->audit_worker, &e);
    } else if (!key_of(ctx)) {
        err = wp_error_set(WP_EIO, "the server has no audit key");
    } else if ((err = api_store_acquire(ctx, &st)) == 0) {
        /* no thread to buffer for (a server without one): a row of its own, now */
        err = wp_store_audit_append(st, key_of(ctx), &e, NULL);
        api_store_release(ctx, st);
    }
    free(text);
    return err;
}

int api_audit_customer_read(wp_http_ctx *ctx, const char *action, const char *customer_id)
{
    char target[WP_ID_LEN + 16];
    snprintf(target, sizeof target, "customer:%s", customer_id);
    return api_audit_read(ctx, action, target, NULL);
}

/* One row per request: the filters it read by, the query, how many messages it showed, and,
 * unless it read one customer's conversation (then that is the target), which customers they
 * were about, so that ?customer= finds the search among the reads of each; unless it read one
 * employee's, whose messages they were, so that /me/viewers shows each employee the read. */
int api_audit_messages_read(wp_http_ctx *ctx, const wp_message_filter *f,
                            const wp_message_page *page)
{
    int searching = f->q && *f->q, err, bad = 0;
    char target[WP_ID_LEN + 16] = "";
    json_t *d = json_object(), *customers = NULL;
    if (!d)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (f->customer_id)
        snprintf(target, sizeof target, "customer:%s", f->customer_id);
    else if (f->employee_id)
        snprintf(target, sizeof target, "employee:%s", f->employee_id);
    if (searching)
        bad |= json_object_set_new(d, "q", api_jstr(f->q, 0));
    if (f->customer_id)
        bad |= json_object_set_new(d, "customer_id", json_string(f->customer_id));
    if (f->employee_id)
        bad |= json_object_set_new(d, "employee_id", json_string(f->employee_id));
    if (f->channel)
        bad |= json_object_set_new(d, "channel", api_jstr(f->channel, 0));
    bad |= json_object_set_new(d, "results", json_integer((json_int_t)page->n));
    if (!f->customer_id) {
        if (!(customers = json_array()))
            bad = 1;
        for (size_t i = 0; customers && i < page->n; i++) {
            const char *id = page->items[i].customer_id;
            int seen = !*id;
            for (size_t k = 0; !seen && k < i; k++)
                seen = !strcmp(page->items[k].customer_id, id);
            if (!seen)
                bad |= json_array_append_new(customers, json_string(id));
        }
        bad |= json_object_set_new(d, "customers", customers);
    }
    if (!f->employee_id) { /* whose messages they were: /me/viewers shows them the read */
        json_t *employees = json_array();
        bad |= !employees;
        for (size_t i = 0; employees && i < page->n; i++) {
            const char *id = page->items[i].employee_id;
            int seen = !*id;
            for (size_t k = 0; !seen && k < i; k++)
                seen = !strcmp(page->items[k].employee_id, id);
            if (!seen)
                bad |= json_array_append_new(employees, json_string(id));
        }
        bad |= json_object_set_new(d, "employees", employees);
    }
    err = bad ? wp_error_set(WP_ENOMEM, "out of memory")
              : api_audit_read(ctx, searching ? "messages.search" : "messages.read",
                               target[0] ? target : NULL, d);
    json_decref(d);
    return err;
}

/* --- GET /api/v1/audit ------------------------------------------------------------------- */

static json_t *row_json(const wp_audit_row *r)
{
    /* details is a JSON object as text; a damaged one is shown as the text it is, but not
     * one that could not be read for want of memory */
    json_t *details;
    if (api_jparse(&details, r->details, JSON_DECODE_ANY) < 0)
        return NULL;
    if (!json_is_object(details)) {
        json_decref(details);
        details = api_jstr(r->details, 0);
    }
    /* everything through api_jstr: a row edited behind workphone's back may hold any bytes */
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:o}", "id", api_jstr(r->id, 0),
                     "ts", api_jtime(r->ts_us), "actor", api_jstr(r->actor, 0), "action",
                     api_jstr(r->action, 0), "target", api_jstr(r->target, 1), "details",
                     details, "client", api_jstr(r->client, 1), "seq", (json_int_t)r->seq,
                     "hash", api_jstr(r->hash, 0), "prev_hash", api_jstr(r->prev_hash, 0));
}

/* ?name=: absent or empty → NULL; longer than the store keeps → WP_EINVAL. */
static int query_field(const wp_http_ctx *ctx, const char *name, const char **out)
{
    const char *s = wp_http_query(ctx, name);
    *out = s && *s ? s : NULL;
    if (*out && strlen(*out) > WP_AUDIT_FIELD_MAX)
        return wp_error_set(WP_EINVAL, "'%s' is longer than %d bytes", name, WP_AUDIT_FIELD_MAX);
    return 0;
}

int api_audit_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_audit_page page;
    wp_audit_filter f = {.tenant_id = c->tenant_id};
    json_t *items = NULL;
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_query_limit(ctx, &f.limit)) < 0 ||
        (err = query_field(ctx, "actor", &f.actor)) < 0 ||
        (err = query_field(ctx, "action", &f.action)) < 0 ||
        (err = query_field(ctx, "target", &f.target)) < 0 ||
        (err = api_query_id(ctx, "customer", &f.customer_id)) < 0 ||
        (err = api_query_time(ctx, "from", &f.from_us)) < 0 ||
        (err = api_query_time(ctx, "to", &f.to_us)) < 0)
        return err;
    f.cursor = wp_http_query(ctx, "cursor");
    /* the reads this node still buffers go in first, so the list shows them (a slow store
     * only delays it: the rows follow within a second) */
    const wp_app *app = ctx->app;
    if (app && app->audit_worker)
        api_audit_worker_sync(app->audit_worker, AUDIT_SYNC_MS);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_audit_list(st, &page, &f);
    api_store_release(ctx, st);
    if (err < 0)
        goto out;
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < page.n; i++)
        if (json_array_append_new(items, row_json(&page.items[i])) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    err = api_reply_page(ctx, items, page.next_cursor);
    items = NULL;
out:
    json_decref(items);
    wp_audit_page_release(&page);
    return err;
}

/* GET /api/v1/audit/verify: walks the caller's tenant's chain on this request's thread (a
 * long log takes a while; `workphone audit verify` does the same offline). */
int api_audit_verify(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const unsigned char *key = key_of(ctx);
    wp_store *st = NULL;
    wp_audit_verdict v;
    int err;

    if (!key)
        return wp_error_set(WP_EIO, "the server has no audit key");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_audit_verify(st, key, c->tenant_id, &v);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    json_t *bad = v.ok ? json_null()
                       : json_pack("{s:I,s:o,s:s}", "seq", (json_int_t)v.bad_seq, "id",
                                   api_jstr(v.bad_id, 1), "why", v.why);
    return wp_http_reply_json(ctx, 200,
                              json_pack("{s:b,s:I,s:o,s:o}", "ok", v.ok, "rows",
                                        (json_int_t)v.rows, "first_bad", bad, "note",
                                        api_jstr(v.note, 1)));
}
