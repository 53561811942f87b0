/* SPDX-License-Identifier: MIT */
/* Notice and consent, and what employees see about themselves (issue 20;
 * docs/internals/transparency.md): /customers/{id}/consents, /me/privacy, /me/viewers,
 * /notice and the device's acknowledgement of it. */
#include "api/api.h"
#include "store/customers.h"
#include "ingest/ingest.h"
#include "store/policy.h"
#include "store/privacy.h"
#include "store/retention.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIEWERS_SYNC_MS 2000 /* how long /me/viewers waits for this node's buffered reads */

static json_t *consent_json(const wp_consent *c)
{
    return json_pack("{s:s,s:s,s:s,s:o,s:s,s:o,s:o,s:o}", "id", c->id, "customer_id",
                     c->customer_id, "method", c->method, "at", api_jtime(c->at_us), "by", c->by,
                     "note", api_jstr(c->note, 1), "evidence", api_jstr(c->evidence, 1),
                     "created_at", api_jtime(c->created_us));
}

/* GET /api/v1/customers/{id}/consents: how and when the customer was told, newest first, for
 * whoever reads the customer. */
int api_consents_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    wp_customer cu;
    api_scope scope;
    wp_consent *v = NULL;
    size_t n = 0;
    json_t *items = NULL;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_get(st, &cu, c->tenant_id, id)) < 0 ||
        (err = api_scope_reads_customer(ctx, st, &scope, &cu)) < 0 ||
        (err = wp_store_consents_list(st, &v, &n, c->tenant_id, id)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(items, consent_json(&v[i])) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    err = api_reply_page(ctx, items, NULL);
    items = NULL;
out:
    json_decref(items);
    wp_consents_free(v, n);
    api_store_release(ctx, st);
    return err;
}

/* POST /api/v1/customers/{id}/consents {"method", "at"?, "note"?, "evidence"?}: record how
 * the customer was told; "at" defaults to now. Whoever may change the customer (its owner,
 * their managers, admins: api_scope_allows_customer) may; 404 for anyone else. */
int api_consents_create(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"method", "at", "note", "evidence", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    const char *method = NULL, *at = NULL, *note = NULL, *evidence = NULL;
    wp_store *st = NULL;
    wp_customer cu;
    api_scope scope;
    wp_consent rec;
    wp_crm_actor who;
    char actor[64];
    json_t *body;
    int64_t now = wp_time_now_us(), at_us = now;
    int err;

    memset(&rec, 0, sizeof rec);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "method", API_FIELD_REQUIRED, &method)) < 0 ||
        (err = api_body_str(body, "at", 0, &at)) < 0 ||
        (err = api_body_str(body, "note", 0, &note)) < 0 ||
        (err = api_body_str(body, "evidence", 0, &evidence)) < 0)
        return err;
    if (!wp_consent_method_ok(method))
        return wp_error_set(WP_EINVAL, "'method' must be auto_message, signed_form, verbal or "
                                       "other");
    if (at && *at) {
        if (wp_time_parse(&at_us, at) < 0)
            return wp_error_set(WP_EINVAL, "'at' must be an RFC 3339 time");
        if (at_us > now + 5 * 60 * INT64_C(1000000))
            return wp_error_set(WP_EINVAL, "'at' is in the future");
    }
    api_crm_actor(ctx, &who, actor);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_get(st, &cu, c->tenant_id, id)) < 0 ||
        (err = api_scope_allows_customer(ctx, st, &scope, &cu)) < 0 ||
        (err = wp_store_begin(st)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    err = wp_store_consent_add(st, &rec, c->tenant_id, id, method, at_us, actor, note, evidence,
                               now);
    json_t *o = err ? NULL : consent_json(&rec);
    free(rec.note);
    free(rec.evidence);
    return api_write_reply(ctx, st, api_field_error(err, "note"), "consent.create", "customer",
                           id, o, 201);
}

/* --- what an employee sees about themselves -------------------------------------------- */

/* The channels a work phone captures (CONTRACT §4: the agent reports these), and the
 * retention of each: a channel without a rule is kept until deleted by policy (days null). */
static const char *const captured[] = {"wechat", "wecom", "sms", "call", "email", NULL};

static json_t *retention_json(const wp_retention_rule *r, size_t n, int *ok)
{
    json_t *chans = json_array(), *cats = json_array();
    *ok = chans && cats;
    for (size_t k = 0; *ok && captured[k]; k++) {
        json_t *days = json_null();
        for (size_t i = 0; i < n; i++)
            if (r[i].kind == WP_RETENTION_CHANNEL && !strcmp(r[i].name, captured[k]))
                days = json_integer(r[i].days);
        *ok = json_array_append_new(chans, json_pack("{s:s,s:o}", "channel", captured[k],
                                                     "days", days)) == 0;
    }
    for (size_t i = 0; *ok && i < n; i++) {
        int known = r[i].kind != WP_RETENTION_CHANNEL;
        for (size_t k = 0; !known && captured[k]; k++)
            known = !strcmp(r[i].name, captured[k]);
        json_t *to = r[i].kind == WP_RETENTION_CHANNEL ? chans : cats;
        if (r[i].kind == WP_RETENTION_CHANNEL && known)
            continue; /* listed above */
        *ok = json_array_append_new(to, json_pack("{s:s,s:i}",
                                                  r[i].kind == WP_RETENTION_CHANNEL ? "channel"
                                                                                    : "category",
                                                  r[i].name, "days", r[i].days)) == 0;
    }
    if (!*ok) {
        json_decref(chans);
        json_decref(cats);
        return NULL;
    }
    /* json_pack takes chans and cats, also when it fails */
    json_t *o = json_pack("{s:o,s:o}", "channels", chans, "categories", cats);
    *ok = o != NULL;
    return o;
}

/* GET /api/v1/me/privacy: what is recorded about the caller's work phone and for how long
 * (the tenant's device policy and retention rules), and the notice it was given. Signed-in
 * employees only, about themselves. */
int api_me_privacy(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_policy_row pol;
    wp_retention_rule *rules = NULL;
    size_t n_rules = 0;
    wp_notice notice;
    int64_t acked_v = 0, acked_us = 0;
    int err, ok = 0;

    memset(&notice, 0, sizeof notice);
    if (c->kind != API_CALLER_EMPLOYEE)
        return wp_http_reply_fail(ctx, 403, "forbidden", NULL,
                                  "only a signed-in employee has a privacy page");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_policy_get(st, &pol, c->tenant_id)) == WP_ENOTFOUND) {
        memset(&pol, 0, sizeof pol); /* no policy yet: the defaults */
        err = 0;
    }
    if (err < 0 || (err = wp_store_retention_get(st, &rules, &n_rules, c->tenant_id)) < 0 ||
        (err = wp_store_notice_get(st, &notice, c->tenant_id)) < 0 ||
        (err = wp_store_notice_acked(st, &acked_v, &acked_us, c->tenant_id, c->employee.id)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    json_t *ret = retention_json(rules, n_rules, &ok), *chans = json_array();
    for (size_t k = 0; chans && captured[k]; k++)
        if (json_array_append_new(chans, json_string(captured[k])) < 0) {
            json_decref(chans);
            chans = NULL;
        }
    json_t *o = ok && chans
                    ? json_pack("{s:{s:s,s:s,s:s},s:o,s:b,s:{s:b,s:s,s:b},s:o,s:{s:s,s:I,s:o,s:o}}",
                                "employee", "id", c->employee.id, "name", c->employee.name, "role",
                                wp_role_name(c->employee.role), "channels", chans, "recordings",
                                1, "location", "tracking", 1, "off_duty",
                                pol.locations_keep ? "keep" : "drop", "working_hours_only",
                                !pol.locations_keep, "retention", ret, "notice", "text",
                                notice.text, "version", (json_int_t)notice.version,
                                "acknowledged_version",
                                acked_us ? json_integer(acked_v) : json_null(),
                                "acknowledged_at", api_jtime(acked_us))
                    : NULL;
    if (!o) {
        if (!ok || !chans) {
            json_decref(ret);
            json_decref(chans);
        }
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = wp_http_reply_json(ctx, 200, o);
out:
    free(rules);
    wp_notice_release(&notice);
    api_store_release(ctx, st);
    return err;
}

static const char *viewer_kind(const char *actor)
{
    if (!strncmp(actor, "employee:", 9))
        return "employee";
    if (!strncmp(actor, "apikey:", 7))
        return "api_key";
    return "system";
}

/* GET /api/v1/me/viewers?cursor=&limit=: who read the caller's conversations or unmasked
 * its customers' data, and when, newest first (wp_store_viewers_list). Only about the caller
 * itself: no parameter names anyone else. */
int api_me_viewers(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const wp_app *app = ctx->app;
    wp_store *st = NULL;
    wp_viewer_page page;
    unsigned limit;
    json_t *items = NULL;
    int err;

    memset(&page, 0, sizeof page);
    if (c->kind != API_CALLER_EMPLOYEE)
        return wp_http_reply_fail(ctx, 403, "forbidden", NULL,
                                  "only a signed-in employee has a privacy page");
    if ((err = api_query_limit(ctx, &limit)) < 0)
        return err;
    /* reads are buffered up to a second (docs/internals/audit.md): wait for this node's */
    if (app && app->audit_worker)
        api_audit_worker_sync(app->audit_worker, VIEWERS_SYNC_MS);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_viewers_list(st, &page, c->tenant_id, c->employee.id,
                                wp_http_query(ctx, "cursor"), limit);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < page.n; i++) {
        const wp_viewer *v = &page.items[i];
        const char *colon = strchr(v->target, ':');
        json_t *o = json_pack("{s:o,s:s,s:o,s:o,s:s,s:o,s:o}", "at", api_jtime(v->ts_us),
                              "viewer_kind", viewer_kind(v->actor), "viewer_id",
                              api_jstr(strchr(v->actor, ':') ? strchr(v->actor, ':') + 1 : NULL, 1),
                              "name", api_jstr(v->name, 1), "action", v->action, "role",
                              api_jstr(v->role, 1), "target",
                              !v->target[0] ? json_null() /* a search: no one target */
                                            : json_pack("{s:s%,s:s}", "kind", v->target,
                                                        colon ? (size_t)(colon - v->target)
                                                              : strlen(v->target),
                                                        "id", colon ? colon + 1 : ""));
        if (json_array_append_new(items, o) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    }
    err = api_reply_page(ctx, items, page.next_cursor[0] ? page.next_cursor : NULL);
    items = NULL;
out:
    json_decref(items);
    wp_viewer_page_release(&page);
    return err;
}

/* --- the enrollment notice ---------------------------------------------------------------- */

static json_t *notice_json(const wp_notice *n)
{
    return json_pack("{s:s,s:I,s:o,s:o}", "text", n->text, "version", (json_int_t)n->version,
                     "auto_message", api_jstr(n->auto_message, 1), "updated_at",
                     api_jtime(n->updated_us));
}

/* GET /api/v1/notice: what employees are told on enrollment and the automatic first message. */
int api_notice_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_notice n;
    int err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_notice_get(st, &n, c->tenant_id);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    err = wp_http_reply_json(ctx, 200, notice_json(&n));
    wp_notice_release(&n);
    return err;
}

/* PUT /api/v1/notice {"text"?, "auto_message"?}: admins set them (text up to 2000
 * characters, not empty; auto_message up to 500, null or "" for none). */
int api_notice_put(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"text", "auto_message", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *text = NULL, *am = NULL;
    wp_store *st = NULL;
    wp_notice n;
    json_t *body;
    int err;

    memset(&n, 0, sizeof n);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "text", API_FIELD_NOT_NULL, &text)) < 0 ||
        (err = api_body_str(body, "auto_message", 0, &am)) < 0)
        return err;
    if (text && !*text)
        return wp_error_set(WP_EINVAL, "'text' must not be empty");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    err = wp_store_notice_put(st, &n, c->tenant_id, text,
                              json_object_get(body, "auto_message") != NULL, am,
                              wp_time_now_us());
    if (err == WP_EINVAL)
        err = api_field_error(err, text ? "text" : "auto_message");
    json_t *o = err ? NULL : notice_json(&n);
    wp_notice_release(&n);
    /* the details: the notice as set, texts and version */
    return api_write_reply(ctx, st, err, "notice.put", "notice", c->tenant_id, o, 200);
}

/* GET /api/v1/notice/acks?cursor=&limit=: admins see, employee by employee (active ones, by
 * id), the last notice version each acknowledged on a phone and when (null: never). */
int api_notice_acks(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_notice_ack_row *v = NULL;
    size_t n = 0;
    unsigned limit;
    int err, more = 0;
    json_t *items = NULL;

    if ((err = api_query_limit(ctx, &limit)) < 0)
        return err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_notice_acks_list(st, &v, &n, &more, c->tenant_id,
                                    wp_http_query(ctx, "cursor"), limit);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(
                items, json_pack("{s:s,s:o,s:o,s:o}", "employee_id", v[i].employee_id, "name",
                                 api_jstr(v[i].name, 0), "acknowledged_version",
                                 v[i].acked_us ? json_integer(v[i].version) : json_null(),
                                 "acknowledged_at", api_jtime(v[i].acked_us))) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    err = api_reply_page(ctx, items, more && n ? v[n - 1].employee_id : NULL);
    items = NULL;
out:
    json_decref(items);
    wp_notice_ack_rows_free(v, n);
    return err;
}

/* POST /api/v1/device/notice-ack {"version"}: the phone's employee read and acknowledged
 * that version of the notice. 201 the first time, 200 after (the first time is kept). */
int api_device_notice_ack(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"version", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    json_t *body, *v;
    int64_t at = 0;
    int created = 0, err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0)
        return err;
    if (!(v = json_object_get(body, "version")) || !json_is_integer(v) ||
        json_integer_value(v) < 0)
        return wp_error_set(WP_EINVAL, "'version' must be a whole number >= 0");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    err = wp_store_notice_ack(st, &created, &at, c->tenant_id, c->device.employee_id,
                              c->device.id, json_integer_value(v), wp_time_now_us());
    json_t *o = err ? NULL
                    : json_pack("{s:I,s:o,s:b}", "version", (json_int_t)json_integer_value(v),
                                "acknowledged_at", api_jtime(at), "created", created);
    return api_write_reply(ctx, st, err, "notice.ack", "employee", c->device.employee_id, o,
                           created ? 201 : 200);
}

/* 0 when the customer is one the scope reads (owned, kept after a transfer, or met). */
static int device_customer(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                           const char *tenant_id, const char *customer_id)
{
    wp_customer cu;
    int err = wp_store_customer_get(st, &cu, tenant_id, customer_id);
    return err < 0 ? err : api_scope_reads_customer(ctx, st, scope, &cu);
}

/* POST /api/v1/device/consents {"channel", "peer_id"} or {"phone"}, "at"?: the phone reports
 * that it sent the automatic first message (settings.auto_message) to a customer, named as the
 * phone knows it (its channel id, or its phone number). Recorded as a consent "auto_message"
 * by "device:<id>" when the customer is one the phone's employee owns or met; 404 otherwise, as
 * for a customer that does not exist. Audited as consent.create. */
int api_device_consents_create(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"channel", "peer_id", "phone", "at", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *channel = NULL, *peer = NULL, *raw_phone = NULL, *at = NULL;
    char phone[WP_ARCHIVE_PHONE_MAX + 1], cid[WP_ID_LEN + 1], actor[16 + WP_ID_LEN];
    wp_store *st = NULL;
    wp_consent rec;
    json_t *body;
    int64_t now = wp_time_now_us(), at_us = now;
    int err;

    memset(&rec, 0, sizeof rec);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "channel", 0, &channel)) < 0 ||
        (err = api_body_str(body, "peer_id", 0, &peer)) < 0 ||
        (err = api_body_str(body, "phone", 0, &raw_phone)) < 0 ||
        (err = api_body_str(body, "at", 0, &at)) < 0)
        return err;
    if (raw_phone && *raw_phone) {
        if (wp_ingest_phone_normalize(phone, raw_phone) < 0)
            return api_field_error(WP_EINVAL, "phone");
    } else if (!channel || !*channel || !peer || !*peer) {
        return wp_error_set(WP_EINVAL, "'phone', or 'channel' and 'peer_id', are required");
    }
    if (at && *at) {
        if (wp_time_parse(&at_us, at) < 0)
            return wp_error_set(WP_EINVAL, "'at' must be an RFC 3339 time");
        if (at_us > now + 5 * 60 * INT64_C(1000000))
            return wp_error_set(WP_EINVAL, "'at' is in the future");
    }
    snprintf(actor, sizeof actor, "device:%s", c->device.id);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    /* the phone reads as its employee would: a salesperson's scope of one */
    api_scope mine = {.store = {.employee_id = c->device.employee_id}};
    err = raw_phone && *raw_phone
              ? wp_store_customer_find(st, cid, c->tenant_id, "phone", phone)
              : wp_store_customer_find(st, cid, c->tenant_id, channel, peer);
    if (err == 0)
        err = device_customer(ctx, st, &mine, c->tenant_id, cid);
    if (err == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "no customer of this phone has that identity");
    if (err < 0 || (err = wp_store_begin(st)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    err = wp_store_consent_add(st, &rec, c->tenant_id, cid, "auto_message", at_us, actor, NULL,
                               NULL, now);
    json_t *o = err ? NULL : consent_json(&rec);
    free(rec.note);
    free(rec.evidence);
    return api_write_reply(ctx, st, err, "consent.create", "customer", cid, o, 201);
}
