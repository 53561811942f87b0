/* SPDX-License-Identifier: MIT */
/* GET /api/v1/devices: the enrolled devices of the tenant, newest first. */
#include "api/api.h"
#include "store/devices.h"
#include "store/store.h"
#include "util/error.h"

#include <string.h>

static json_t *device_json(const wp_device *d)
{
    return json_pack("{s:s,s:s,s:o,s:o,s:I,s:b,s:o,s:o}", "id", d->id, "employee_id",
                     d->employee_id, "serial", api_jstr(d->serial, 0), "model",
                     api_jstr(d->model, 0), "acked_seq", (json_int_t)d->acked_seq, "revoked",
                     d->revoked, "created_at", api_jtime(d->created_us), "last_seen_at",
                     api_jtime(d->last_seen_us));
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
