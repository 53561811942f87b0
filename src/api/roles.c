/* SPDX-License-Identifier: MIT */
/* What each role may do and see: its rights and its view of personal data (per tenant). */
#include "api/api.h"
#include "store/access.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static json_t *role_json(const wp_role_setting *rs)
{
    static const enum wp_http_right rights[] = {WP_RIGHT_SESSION, WP_RIGHT_READ, WP_RIGHT_WRITE,
                                                WP_RIGHT_MANAGE, WP_RIGHT_UNMASK,
                                                WP_RIGHT_HANDLE_ALERTS, WP_RIGHT_AUDIT,
                                                WP_RIGHT_ADMIN};
    json_t *r = json_array();
    int bad = !r;
    for (size_t i = 0; !bad && i < sizeof rights / sizeof rights[0]; i++)
        if (api_role_allows(rs->role, rs, rights[i]))
            bad = json_array_append_new(r, json_string(wp_http_right_name(rights[i]))) < 0;
    if (bad) { /* not a list of rights cut short */
        json_decref(r);
        return NULL;
    }
    return json_pack("{s:s,s:o,s:b,s:b,s:b,s:o}", "role", wp_role_name(rs->role), "rights",
                     r, "view_pii", rs->view_pii, "unmask", rs->unmask,
                     "handle_alerts", rs->handle_alerts, "updated_at", api_jtime(rs->updated_us));
}

int api_roles_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_role_setting rs[4];
    json_t *items = NULL;
    int err = 0;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    for (int r = WP_ROLE_ADMIN; r <= WP_ROLE_SALES && err == 0; r++)
        err = wp_store_role_setting_get(st, &rs[r - 1], c->tenant_id, (enum wp_role)r);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    if (!(items = json_array()))
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (int i = 0; i < 4; i++)
        if (json_array_append_new(items, role_json(&rs[i])) < 0) {
            json_decref(items);
            return wp_error_set(WP_ENOMEM, "out of memory");
        }
    return api_reply_page(ctx, items, NULL);
}

static int opt_bool(json_t *body, const char *name, int *v)
{
    json_t *j = json_object_get(body, name);
    if (!j)
        return 0;
    if (!json_is_boolean(j))
        return wp_error_set(WP_EINVAL, "'%s' must be true or false", name);
    *v = json_is_true(j);
    return 0;
}

int api_roles_put(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *name = wp_http_param(ctx, "role");
    json_t *body;
    wp_store *st = NULL;
    wp_role_setting rs;
    enum wp_role role;
    char target[32];
    int err;

    if (wp_role_parse(&role, name) < 0)
        return wp_error_set(WP_ENOTFOUND, "role '%.32s' not found", name);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (strcmp(k, "view_pii") && strcmp(k, "unmask") && strcmp(k, "handle_alerts"))
            return wp_error_set(WP_EINVAL,
                                "unknown field '%.40s' (view_pii, unmask, handle_alerts)", k);
    }
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    wp_role_setting before; /* read in the transaction that changes it */
    if ((err = wp_store_begin(st)) < 0 ||
        (err = wp_store_role_setting_get(st, &rs, c->tenant_id, role)) < 0)
        goto out;
    before = rs;
    if ((err = opt_bool(body, "view_pii", &rs.view_pii)) < 0 ||
        (err = opt_bool(body, "unmask", &rs.unmask)) < 0 ||
        (err = opt_bool(body, "handle_alerts", &rs.handle_alerts)) < 0)
        goto out;
    rs.updated_us = wp_time_now_us();
    snprintf(target, sizeof target, "role:%s", wp_role_name(role));
    /* each setting as [before, after], as employee.update records its changes */
    json_t *d = json_pack("{s:[b,b],s:[b,b],s:[b,b]}", "view_pii", before.view_pii, rs.view_pii,
                          "unmask", before.unmask, rs.unmask, "handle_alerts",
                          before.handle_alerts, rs.handle_alerts);
    if (!d)
        err = wp_error_set(WP_ENOMEM, "out of memory"); /* not a row without its details */
    else if ((err = wp_store_role_setting_put(st, c->tenant_id, &rs, rs.updated_us)) == 0 &&
             (err = api_audit(ctx, st, "role.update", target, d)) == 0 &&
             (err = wp_http_ready_json(ctx, 200, role_json(&rs))) == 0)
        err = wp_store_commit(st);
    json_decref(d);
    if (err < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    err = wp_http_ready_send(ctx);
out:
    if (err < 0 && st)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    return err;
}
