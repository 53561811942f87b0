/* SPDX-License-Identifier: MIT */
/* GET /api/v1/customers and /api/v1/customers/{id} (CONTRACT §5), phones masked by role. */
#include "api/api.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static json_t *customer_json(const wp_customer *c, const api_scope *scope)
{
    char masked[WP_ARCHIVE_PHONE_MAX + 8];
    const char *phone = c->phone;
    if (!scope->see_phone && *phone) {
        api_mask_phone(masked, sizeof masked, phone);
        phone = masked;
    }
    /* tags are not kept yet: always [] so that integrations can rely on the field */
    return json_pack("{s:s,s:o,s:o,s:s,s:o,s:o,s:[],s:o,s:o}", "id", c->id, "name",
                     api_jstr(c->name, 0), "phone", api_jstr(phone, 1), "owner_employee_id",
                     c->owner_employee_id, "grade", api_jstr(c->grade, 1), "stage",
                     api_jstr(c->stage, 1), "tags", "created_at", api_jtime(c->created_us),
                     "last_contact_at", api_jtime(c->last_contact_us));
}

/* Digits in a search could find a customer by a phone the caller may not see, one probe at a
 * time; such a caller searches names without digits only. */
static int has_digit(const char *s)
{
    return s && strpbrk(s, "0123456789") != NULL;
}

int api_customers_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_customer_page page;
    api_scope scope;
    wp_customer_filter f = {.tenant_id = c->tenant_id};
    json_t *items = NULL;
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_query_limit(ctx, &f.limit)) < 0 ||
        (err = api_query_id(ctx, "owner", &f.owner_employee_id)) < 0)
        return err;
    f.q = wp_http_query(ctx, "q");
    f.cursor = wp_http_query(ctx, "cursor");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    if (!scope.see_phone && has_digit(f.q)) {
        err = wp_error_set(WP_EINVAL, "searching customers by digits needs the right to see "
                                      "phone numbers");
        goto out;
    }
    f.scope_org_path = scope.org_path;
    if (scope.employee_id) {
        if (f.owner_employee_id && strcmp(f.owner_employee_id, scope.employee_id) != 0)
            goto reply; /* someone else's customers: none in scope */
        f.owner_employee_id = scope.employee_id;
    }
    if ((err = wp_store_customers_list(st, &page, &f)) < 0)
        goto out;
reply:
    api_store_release(ctx, st);
    st = NULL;
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < page.n; i++)
        if (json_array_append_new(items, customer_json(&page.items[i], &scope)) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    err = api_reply_page(ctx, items, page.next_cursor);
    items = NULL;
out:
    json_decref(items);
    wp_customer_page_release(&page);
    api_store_release(ctx, st);
    return err;
}

int api_customers_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    wp_customer cu;
    api_scope scope;
    char **ids = NULL;
    size_t n_ids = 0;
    json_t *o = NULL, *arr = NULL;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_get(st, &cu, c->tenant_id, id)) < 0 ||
        (err = api_scope_allows_customer(ctx, st, &scope, &cu)) < 0 ||
        (err = wp_store_customer_identities(st, &ids, &n_ids, c->tenant_id, id)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    if (!(o = customer_json(&cu, &scope)) || !(arr = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    /* "kind:value"; a phone identity is masked like the phone */
    for (size_t i = 0; i < n_ids; i++) {
        char buf[WP_ARCHIVE_PHONE_MAX + 16];
        const char *v = ids[i];
        if (!scope.see_phone && !strncmp(v, "phone:", 6)) {
            char m[WP_ARCHIVE_PHONE_MAX + 8];
            api_mask_phone(m, sizeof m, v + 6);
            snprintf(buf, sizeof buf, "phone:%s", m);
            v = buf;
        }
        if (json_array_append_new(arr, api_jstr(v, 0)) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (json_object_set_new(o, "identities", arr) < 0) {
        arr = NULL;
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    arr = NULL;
    err = wp_http_reply_json(ctx, 200, o);
    o = NULL;
out:
    json_decref(o);
    json_decref(arr);
    wp_strings_free(ids, n_ids);
    api_store_release(ctx, st);
    return err;
}

int api_customers_unmask(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}
