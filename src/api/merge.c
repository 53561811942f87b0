/* SPDX-License-Identifier: MIT */
/* POST /api/v1/customers/{id}/merge: two records of one person become one (issue 7). */
#include "api/api.h"
#include "store/customers.h"
#include "store/merge.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

/* The caller must see and may write both customers (sales: both its own, neither in the
 * pool); outside that, 404 as for a missing one. One transaction with the audit row. */
int api_customers_merge(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"from", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id"), *from = NULL;
    char actor[64], target[WP_ID_LEN + 16];
    wp_customer_crm cu[2];
    wp_merge_result r;
    wp_crm_actor who;
    wp_store *st = NULL;
    api_scope scope;
    json_t *body, *d = NULL, *o = NULL;
    int err;

    memset(cu, 0, sizeof cu);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "from", API_FIELD_REQUIRED, &from)) < 0)
        return err;
    if (!api_is_id(from))
        return wp_error_set(WP_EINVAL, "'from' is not a customer id");
    api_crm_actor(ctx, &who, actor);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    const char *ids[2] = {id, from};
    for (int i = 0; i < 2; i++) {
        if ((err = wp_store_customer_crm_get(st, &cu[i], c->tenant_id, ids[i])) < 0)
            goto out;
        if (cu[i].in_pool && scope.store.employee_id) {
            err = wp_error_set(WP_ENOTFOUND, "customer '%s' not found", ids[i]);
            goto out;
        }
        if ((err = api_scope_allows_customer(ctx, st, &scope, &cu[i].base)) < 0)
            goto out;
    }
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    err = wp_store_customer_merge(st, &r, c->tenant_id, id, from, &who, wp_time_now_us());
    if (err == 0 &&
        !(d = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "into", id, "from", from,
                        "identities", (json_int_t)r.identities, "messages",
                        (json_int_t)r.messages, "calls", (json_int_t)r.calls, "contact_events",
                        (json_int_t)r.contact_events, "alerts", (json_int_t)r.alerts, "events",
                        (json_int_t)r.events)))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    if (err == 0) {
        snprintf(target, sizeof target, "customer:%s", id);
        err = api_audit(ctx, st, "customer.merge", target, d);
    }
    /* the reply is read before the commit: a read that failed after it would answer an
     * error for a merge that was made */
    if (err == 0) {
        wp_customer_crm_release(&cu[0]);
        err = wp_store_customer_crm_get(st, &cu[0], c->tenant_id, id);
    }
    /* and made before it: nothing left to fail after it */
    if (err == 0 &&
        (!(o = api_crm_customer_json(&cu[0], &scope)) || json_object_set(o, "merged", d) < 0))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    if (err == 0) {
        err = wp_http_ready_json(ctx, 200, o);
        o = NULL;
    }
    if (err == 0)
        err = wp_store_commit(st);
    if (err < 0) {
        wp_store_rollback(st);
        goto out;
    }
    api_store_release(ctx, st);
    st = NULL;
    err = wp_http_ready_send(ctx);
out:
    json_decref(o);
    json_decref(d);
    wp_customer_crm_release(&cu[0]);
    wp_customer_crm_release(&cu[1]);
    api_store_release(ctx, st);
    return err;
}
