/* SPDX-License-Identifier: MIT */
/* Webhooks (CONTRACT §6, admin): subscriptions, the test event, delivery history and the dead
 * letters' redelivery. What the events say and how they are sent is src/webhooks'. */
#include "api/api.h"
#include "store/webhooks.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/id.h"
#include "webhooks/webhooks.h"
#include "util/json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_MAX 10      /* events of one webhook */
#define ALERT_KINDS_MAX 32 /* alert kinds of one webhook */
#define SECRET_PREFIX "whsec_"

static void wake(wp_http_ctx *ctx)
{
    const wp_app *app = ctx->app;
    if (app && app->webhooks_wake)
        app->webhooks_wake(app->webhooks_wake_ctx);
}

/* a stored list; NULL (out of memory) when it cannot be read as it is stored */
static json_t *list_json(const char *text)
{
    json_t *v = NULL;
    if (text && *text && api_jparse(&v, text, 0) < 0)
        return NULL;
    return v ? v : json_null();
}

static json_t *hook_json(const wp_webhook *w)
{
    char shown[WP_WEBHOOK_URL_MAX + 1];
    wp_webhooks_url_shown(shown, sizeof shown, w->url);
    json_t *o = json_pack(
        "{s:s,s:o,s:s,s:s,s:o,s:o,s:o,s:b,s:o,s:b,s:b,s:o,s:o,s:o,s:{s:I,s:I,s:I}}", "id", w->id,
        "name", api_jstr(w->name, 0), "url", shown, "format", w->format, "events",
        list_json(w->events), "alert_kinds", list_json(w->alert_kinds), "org_unit_id",
        api_jstr(w->org_unit_id, 1), "allow_private", w->allow_private, "console_url",
        api_jstr(w->console_url, 1), "active", w->active, "has_secret", w->secret[0] != 0,
        "created_by", api_jstr(w->created_by, 1), "created_at", api_jtime(w->created_us),
        "updated_at", api_jtime(w->updated_us), "deliveries", "pending", (json_int_t)w->pending,
        "delivered", (json_int_t)w->delivered, "dead", (json_int_t)w->dead);
    return o;
}

/* What the audit row says of a webhook: never its secret, the url as shown. */
static json_t *hook_audit(const wp_webhook *w)
{
    json_t *o = hook_json(w);
    if (o) {
        json_object_del(o, "deliveries");
        json_object_del(o, "created_at");
        json_object_del(o, "updated_at");
        json_object_del(o, "created_by");
    }
    return o;
}

static json_t *delivery_json(const void *item, const void *arg)
{
    const wp_webhook_delivery *d = item;
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", d->id,
                     "webhook_id", d->webhook_id, "event_id", d->event_id, "event", d->event,
                     "alert_kind", api_jstr(d->alert_kind, 1), "status", d->status, "attempts",
                     (json_int_t)d->attempts, "event_at", api_jtime(d->ts_us), "next_attempt_at",
                     strcmp(d->status, "pending") ? json_null() : api_jtime(d->next_us),
                     "last_code", d->last_code ? json_integer(d->last_code) : json_null(),
                     "last_error", api_jstr(d->last_error, 1), "last_attempt_at",
                     api_jtime(d->last_us), "delivered_at", api_jtime(d->delivered_us),
                     "created_at", api_jtime(d->created_us));
}

/* --- bodies --------------------------------------------------------------------------------- */

static int word_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= WP_ARCHIVE_WORD_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz_") == n;
}

/* body[field], an array of distinct strings each passing ok, as compact JSON into out ("" for
 * an empty array when empty_ok). */
static int list_field(char *out, size_t cap, json_t *v, const char *field, size_t max,
                      int (*ok)(const char *), const char *what, int empty_ok)
{
    size_t i, n = json_array_size(v);
    json_t *x;
    if (!json_is_array(v))
        return wp_error_set(WP_EINVAL, "'%s' must be an array of %s", field, what);
    if ((!n && !empty_ok) || n > max)
        return wp_error_set(WP_EINVAL, "'%s' must hold 1 to %zu %s", field, max, what);
    json_array_foreach(v, i, x)
    {
        const char *s = json_string_value(x);
        if (!s || !ok(s))
            return wp_error_set(WP_EINVAL, "'%s': '%.64s' is not one of the %s", field,
                                s ? s : "(not a string)", what);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s, json_string_value(json_array_get(v, j))))
                return wp_error_set(WP_EINVAL, "'%s': '%.64s' is listed twice", field, s);
    }
    if (!n) {
        out[0] = '\0';
        return 0;
    }
    char *s = wp_json_dumps(v, JSON_COMPACT);
    if (!s)
        return wp_error_set(WP_ENOMEM, "out of memory");
    int fits = strlen(s) < cap;
    if (fits)
        memcpy(out, s, strlen(s) + 1);
    free(s);
    return fits ? 0 : wp_error_set(WP_EINVAL, "'%s' is too long", field);
}

static int bool_field(int *out, json_t *body, const char *field)
{
    json_t *v = json_object_get(body, field);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return wp_error_set(WP_EINVAL, "'%s' must be true or false", field);
    *out = json_is_true(v);
    return 0;
}

/* A string field into out (cap bytes): absent leaves out; null empties it when nullable. */
static int str_field(char *out, size_t cap, json_t *body, const char *field, int nullable,
                     int *given)
{
    json_t *v = json_object_get(body, field);
    if (given)
        *given = v != NULL;
    if (!v)
        return 0;
    if (json_is_null(v) && nullable) {
        out[0] = '\0';
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s)
        return wp_error_set(WP_EINVAL, "'%s' must be a string", field);
    if (strlen(s) >= cap)
        return wp_error_set(WP_EINVAL, "'%s' is longer than %zu bytes", field, cap - 1);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

/* The url may be reached: a 400 url_not_allowed when only its address stands in the way. */
static int url_or_reply(wp_http_ctx *ctx, const char *url, int allow_private)
{
    int err;
    if ((err = wp_webhooks_url_check("url", url, 1)) < 0)
        return err;
    if (!allow_private && wp_webhooks_url_check("url", url, 0) < 0)
        return wp_http_reply_fail(ctx, 400, "url_not_allowed", NULL, "%s", wp_error_last());
    return 0;
}

static const char *const fields[] = {"name", "url", "events", "format", "secret",
                                     "alert_kinds", "org_unit_id", "allow_private",
                                     "console_url", "active", NULL};

/* Apply body to w (a new webhook when creating); *url_changed: the url is new. */
static int apply(wp_http_ctx *ctx, wp_webhook *w, json_t *body, int creating, int *url_changed)
{
    char url[WP_WEBHOOK_URL_MAX + 1] = "", shown[WP_WEBHOOK_URL_MAX + 1];
    int given = 0, err;
    json_t *v;

    *url_changed = 0;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = str_field(w->name, sizeof w->name, body, "name", 0, NULL)) < 0 ||
        (err = str_field(w->format, sizeof w->format, body, "format", 0, NULL)) < 0 ||
        (err = str_field(w->secret, sizeof w->secret, body, "secret", 1, NULL)) < 0 ||
        (err = str_field(w->org_unit_id, sizeof w->org_unit_id, body, "org_unit_id", 1, NULL)) <
            0 ||
        (err = str_field(w->console_url, sizeof w->console_url, body, "console_url", 1, NULL)) <
            0 ||
        (err = str_field(url, sizeof url, body, "url", 0, &given)) < 0 ||
        (err = bool_field(&w->allow_private, body, "allow_private")) < 0 ||
        (err = bool_field(&w->active, body, "active")) < 0)
        return err;
    if (given) { /* the url as it was shown (its tokens cut) means unchanged */
        wp_webhooks_url_shown(shown, sizeof shown, w->url);
        if (creating || strcmp(url, shown)) {
            memcpy(w->url, url, sizeof url);
            *url_changed = 1;
        }
    }
    if (creating && !w->url[0])
        return wp_error_set(WP_EINVAL, "'url' is required");
    if (!wp_webhooks_format_ok(w->format))
        return wp_error_set(WP_EINVAL, "'format' must be json, wecom, dingtalk or feishu");
    if ((v = json_object_get(body, "events")) &&
        (err = list_field(w->events, sizeof w->events, v, "events", EVENTS_MAX,
                          wp_webhooks_event_ok, "events", 0)) < 0)
        return err;
    if (!w->events[0])
        return wp_error_set(WP_EINVAL, "'events' is required: alert.raised, customer.deleted, "
                                       "customer.blocked, customer.collision, handover.completed");
    if ((v = json_object_get(body, "alert_kinds")) && !json_is_null(v) &&
        (err = list_field(w->alert_kinds, sizeof w->alert_kinds, v, "alert_kinds",
                          ALERT_KINDS_MAX, word_ok, "alert kinds", 1)) < 0)
        return err;
    if (v && json_is_null(v))
        w->alert_kinds[0] = '\0';
    if (w->org_unit_id[0] && !api_is_id(w->org_unit_id))
        return wp_error_set(WP_EINVAL, "'org_unit_id' is not an org unit's id");
    if (w->console_url[0] && (err = wp_webhooks_url_check("console_url", w->console_url, 1)) < 0)
        return err;
    if (!w->name[0]) { /* named by its host */
        const char *h = strstr(w->url, "://");
        h = h ? h + 3 : w->url;
        size_t n = strcspn(h, "/?#");
        n = n < WP_WEBHOOK_NAME_MAX ? n : WP_WEBHOOK_NAME_MAX;
        while (n > 0 && ((unsigned char)h[n] & 0xc0) == 0x80)
            n--;
        snprintf(w->name, sizeof w->name, "%.*s", (int)n, h);
    }
    return 0;
}

/* --- handlers ------------------------------------------------------------------------------- */

int api_webhooks_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_webhook *v = NULL;
    size_t n = 0;
    json_t *items;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_webhooks_list(st, &v, &n, c->tenant_id, 0);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    items = json_array();
    for (size_t i = 0; items && i < n; i++)
        if (json_array_append_new(items, hook_json(&v[i])) < 0) {
            json_decref(items);
            items = NULL;
        }
    free(v);
    return api_reply_page(ctx, items, NULL);
}

int api_webhooks_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_webhook *w = malloc(sizeof *w);
    int err;

    if (!w)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = api_store_acquire(ctx, &st)) == 0) {
        err = wp_store_webhook_get(st, w, c->tenant_id, wp_http_param(ctx, "id"));
        api_store_release(ctx, st);
    }
    if (err == 0)
        err = wp_http_reply_json(ctx, 200, hook_json(w));
    free(w);
    return err;
}

int api_webhooks_create(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_webhook *w = calloc(1, sizeof *w);
    char made_secret[64] = "";
    json_t *body, *o = NULL;
    int err, changed;

    if (!w)
        return wp_error_set(WP_ENOMEM, "out of memory");
    snprintf(w->format, sizeof w->format, "json");
    w->active = 1;
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0 ||
        (err = apply(ctx, w, body, 1, &changed)) < 0 ||
        (err = url_or_reply(ctx, w->url, w->allow_private)) < 0)
        goto out;
    if (!strcmp(w->format, "json") && !w->secret[0]) { /* a json delivery is always signed */
        if ((err = wp_token_new(made_secret, sizeof made_secret, SECRET_PREFIX)) < 0)
            goto out;
        memcpy(w->secret, made_secret, strlen(made_secret) + 1);
    }
    const char *by = api_caller_employee_id(c);
    snprintf(w->created_by, sizeof w->created_by, "%s", by ? by : "");
    if ((err = api_store_acquire(ctx, &st)) < 0 || (err = wp_store_begin(st)) < 0)
        goto out;
    if ((err = wp_store_webhook_create(st, w, c->tenant_id, wp_time_now_us())) < 0) {
        wp_store_rollback(st);
        goto out;
    }
    json_t *d = hook_audit(w);
    /* the reply (the secret made shown once) is made before the commit (api_audit_reply) */
    if (!(o = hook_json(w)) ||
        (made_secret[0] && json_object_set_new(o, "secret", json_string(made_secret)) < 0))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    err = api_audit_reply(ctx, st, err, "webhook.create", "webhook", w->id, d, o, 201);
    st = NULL;
    o = NULL;
    json_decref(d);
out:
    api_store_release(ctx, st);
    json_decref(o);
    sodium_memzero(made_secret, sizeof made_secret);
    sodium_memzero(w, sizeof *w);
    free(w);
    return err;
}

int api_webhooks_update(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    wp_webhook *w = malloc(sizeof *w);
    json_t *body;
    int err, url_changed = 0, was_private;

    if (!w)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        goto out;
    /* read, check the change outside any transaction (a url check may resolve a name), then
     * write: the last write wins, as for every PATCH */
    if ((err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    err = wp_store_webhook_get(st, w, c->tenant_id, id);
    api_store_release(ctx, st);
    st = NULL;
    if (err < 0)
        goto out;
    was_private = w->allow_private;
    if ((err = apply(ctx, w, body, 0, &url_changed)) < 0)
        goto out;
    if ((url_changed || (was_private && !w->allow_private)) &&
        (err = url_or_reply(ctx, w->url, w->allow_private)) < 0)
        goto out;
    if (!strcmp(w->format, "json") && !w->secret[0]) {
        err = wp_error_set(WP_EINVAL, "'secret': a json webhook is always signed");
        goto out;
    }
    if ((err = api_store_acquire(ctx, &st)) < 0 || (err = wp_store_begin(st)) < 0)
        goto out;
    err = wp_store_webhook_update(st, w, c->tenant_id, wp_time_now_us());
    json_t *d = err == 0 ? hook_audit(w) : NULL;
    if (err == 0 && json_object_get(body, "secret"))
        json_object_set_new(d, "secret_changed", json_true());
    /* the answer, with its counts, is read before the commit: a read that failed after it
     * would answer an error for a change that was stored */
    if (err == 0) {
        w->pending = w->delivered = w->dead = 0;
        err = wp_store_webhook_get(st, w, c->tenant_id, id);
    }
    err = api_audit_reply(ctx, st, err, "webhook.update", "webhook", id, d,
                          err == 0 ? hook_json(w) : NULL, 200);
    st = NULL;
    json_decref(d);
out:
    api_store_release(ctx, st);
    sodium_memzero(w, sizeof *w);
    free(w);
    return err;
}

int api_webhooks_delete(wp_http_ctx *ctx)
{
    return api_delete_audited(ctx, wp_store_webhook_delete, "webhook.delete", "webhook");
}

int api_webhooks_test(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    wp_webhook *w = malloc(sizeof *w);
    char event_id[WP_ID_LEN + 1], delivery_id[WP_ID_LEN + 1];
    int err;

    if (!w)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = api_store_acquire(ctx, &st)) < 0 || (err = wp_store_begin(st)) < 0)
        goto out;
    if ((err = wp_store_webhook_get(st, w, c->tenant_id, id)) == 0)
        err = wp_webhooks_test_event(st, event_id, delivery_id, c->tenant_id, w,
                                     wp_time_now_us());
    json_t *d = err == 0 ? json_pack("{s:s,s:s}", "event_id", event_id, "delivery_id",
                                     delivery_id)
                         : NULL;
    err = api_audit_reply(ctx, st, err, "webhook.test", "webhook", id, d,
                          err == 0 ? json_pack("{s:s,s:s,s:s}", "event_id", event_id, "delivery_id",
                                               delivery_id, "event", "webhook.test")
                                   : NULL,
                          202);
    st = NULL;
    json_decref(d);
    if (err == 0)
        wake(ctx);
out:
    if (err < 0 && st)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    sodium_memzero(w, sizeof *w);
    free(w);
    return err;
}

static int deliveries(wp_http_ctx *ctx, const char *webhook_id)
{
    const api_caller *c = api_caller_of(ctx);
    wp_webhook_delivery_filter f = {.tenant_id = c->tenant_id, .webhook_id = webhook_id};
    wp_webhook_delivery_page p;
    wp_store *st = NULL;
    const char *status = wp_http_query(ctx, "status");
    int err;

    f.status = status && *status ? status : NULL;
    f.cursor = wp_http_query(ctx, "cursor");
    if ((err = api_query_limit(ctx, &f.limit)) < 0 || (err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if (webhook_id) { /* 404 for a webhook that is not there, not an empty page */
        wp_webhook *w = malloc(sizeof *w);
        err = w ? wp_store_webhook_get(st, w, c->tenant_id, webhook_id)
                : wp_error_set(WP_ENOMEM, "out of memory");
        free(w);
    }
    if (err == 0)
        err = wp_store_webhook_deliveries_list(st, &p, &f);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    err = api_reply_items(ctx, p.items, p.n, sizeof *p.items, delivery_json, NULL,
                          p.next_cursor[0] ? p.next_cursor : NULL);
    wp_webhook_delivery_page_release(&p);
    return err;
}

int api_webhooks_deliveries(wp_http_ctx *ctx)
{
    return deliveries(ctx, wp_http_param(ctx, "id"));
}

int api_webhook_deliveries_list(wp_http_ctx *ctx)
{
    const char *hook = NULL;
    int err;
    if ((err = api_query_id(ctx, "webhook", &hook)) < 0)
        return err;
    return deliveries(ctx, hook);
}

int api_webhook_deliveries_redeliver(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_webhook_delivery d;
    wp_store *st = NULL;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) == 0)
        err = wp_store_webhook_redeliver(st, &d, c->tenant_id, id, wp_time_now_us());
    json_t *det = err == 0 ? json_pack("{s:s,s:s,s:s}", "webhook_id", d.webhook_id, "event_id",
                                       d.event_id, "event", d.event)
                           : NULL;
    err = api_audit_reply(ctx, st, err, "webhook.redeliver", "webhook_delivery", id, det,
                          err == 0 ? delivery_json(&d, NULL) : NULL, 200);
    json_decref(det);
    if (err == 0)
        wake(ctx);
    return err;
}
