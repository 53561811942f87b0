/* SPDX-License-Identifier: MIT */
/* Enrolled devices: the list, and stopping one (revoked for good, or disabled for a while). */
#include "api/api.h"
#include "store/devices.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <string.h>

static json_t *device_json(const wp_device *d)
{
    return json_pack("{s:s,s:s,s:o,s:o,s:I,s:b,s:b,s:o,s:o,s:o}", "id", d->id, "employee_id",
                     d->employee_id, "serial", api_jstr(d->serial, 0), "model",
                     api_jstr(d->model, 0), "acked_seq", (json_int_t)d->acked_seq, "revoked",
                     d->revoked, "disabled", d->disabled_us != 0, "disabled_at",
                     api_jtime(d->disabled_us), "created_at", api_jtime(d->created_us),
                     "last_seen_at", api_jtime(d->last_seen_us));
}

int api_devices_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_device_page page = {0};
    api_scope scope;
    wp_device_filter f = {.tenant_id = c->tenant_id};
    json_t *items = NULL;
    int err;

    if ((err = api_query_limit(ctx, &f.limit)) < 0 ||
        (err = api_query_id(ctx, "employee", &f.employee_id)) < 0)
        return err;
    f.cursor = wp_http_query(ctx, "cursor");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    f.scope = &scope.store;
    if (scope.store.employee_id) {
        if (f.employee_id && strcmp(f.employee_id, scope.store.employee_id) != 0)
            goto empty; /* someone else's devices: none in scope */
        f.employee_id = scope.store.employee_id;
    }
    if ((err = wp_store_devices_list(st, &page, &f)) < 0)
        goto out;
empty:
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < page.n; i++)
        if (json_array_append_new(items, device_json(&page.items[i])) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    api_store_release(ctx, st);
    st = NULL;
    err = api_reply_page(ctx, items, page.next_cursor);
    items = NULL;
out:
    json_decref(items);
    wp_device_page_release(&page);
    api_store_release(ctx, st);
    return err;
}

/* In st's open transaction: the device of the path, when the caller may act on it as on its
 * employee (api_scope_may_manage_employee_or_reply: admins, and managers over that employee).
 * A device whose employee is outside the scope is not found, worded as a missing device. */
static int device_to_manage(wp_http_ctx *ctx, wp_store *st, wp_device *out, unsigned flags,
                            const char *what)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    api_scope scope;
    wp_employee e;
    int err;

    if (!api_is_id(id))
        return wp_error_set(WP_ENOTFOUND, "device '%.32s' not found", id);
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_device_get(st, out, c->tenant_id, id)) < 0)
        return err;
    if ((err = wp_store_employee_get(st, &e, c->tenant_id, out->employee_id)) < 0 ||
        (err = api_scope_allows_employee(ctx, st, &scope, &e)) < 0)
        return err == WP_ENOTFOUND ? wp_error_set(WP_ENOTFOUND, "device '%s' not found", id) : err;
    /* one's own device, where the act allows it: whoever holds the route's right (a manager is
     * not over itself, yet revokes its own lost phone) */
    const char *self = api_caller_employee_id(c);
    if ((flags & API_MANAGE_SELF) && self && !strcmp(self, e.id))
        return 0;
    return api_scope_may_manage_employee_or_reply(ctx, st, &scope, &e, flags, what);
}

/* What an audit row of a device names: whose it is and which phone. */
static json_t *device_details(const wp_device *d)
{
    return json_pack("{s:s,s:o,s:o}", "employee_id", d->employee_id, "serial",
                     api_jstr(d->serial, 0), "model", api_jstr(d->model, 0));
}

/* POST /api/v1/devices/{id}/revoke: the token stops for good (the phone enrolls again). One's
 * own device too: a lost phone only loses power by it. Revoking a revoked device is 200. */
int api_devices_revoke(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_device d;
    json_t *details = NULL;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0 ||
        (err = device_to_manage(ctx, st, &d, API_MANAGE_SELF, "revoke the devices of")) < 0)
        goto out;
    int was = d.revoked;
    if ((err = wp_store_device_revoke(st, c->tenant_id, d.id)) < 0)
        goto out;
    d.revoked = 1; /* what the revoke wrote; the rest of the row stays */
    if (!(details = device_details(&d)) ||
        json_object_set_new(details, "revoked", json_pack("[b,b]", was, 1)) < 0) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err =
        api_audit_reply(ctx, st, 0, "device.revoke", "device", d.id, details, device_json(&d), 200);
    st = NULL;
out:
    if (st)
        wp_store_rollback(st);
    json_decref(details);
    api_store_release(ctx, st);
    return err;
}

/* PATCH /api/v1/devices/{id} {"disabled": bool}: a disabled device's token answers 401 until it
 * is enabled. Not one's own device (nobody lifts a stop put on itself); a revoked device is
 * 409 (revoking is for good). */
int api_devices_update(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"disabled", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_device before, after;
    json_t *body, *jd, *details = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0)
        return err;
    if (!(jd = json_object_get(body, "disabled")))
        return wp_error_set(WP_EINVAL, "nothing to change: give 'disabled'");
    if (!json_is_boolean(jd))
        return wp_error_set(WP_EINVAL, "'disabled' must be true or false");
    int disabled = json_is_true(jd);

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0 ||
        (err = device_to_manage(ctx, st, &before, 0,
                                disabled ? "disable the devices of" : "enable the devices of")) <
            0 ||
        (err = wp_store_device_set_disabled(st, &after, c->tenant_id, before.id, disabled,
                                            wp_time_now_us())) < 0)
        goto out;
    if (!(details = device_details(&after)) ||
        json_object_set_new(details, "disabled",
                            json_pack("[b,b]", before.disabled_us != 0, after.disabled_us != 0)) <
            0) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = api_audit_reply(ctx, st, 0, "device.update", "device", after.id, details,
                          device_json(&after), 200);
    st = NULL;
out:
    if (st)
        wp_store_rollback(st);
    json_decref(details);
    api_store_release(ctx, st);
    return err;
}
