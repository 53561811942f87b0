/* SPDX-License-Identifier: MIT */
/* The org tree (CONTRACT §5): list, create, get, rename and move, delete. A tenant has one top
 * unit, made by `workphone init`; every other unit hangs below it. */
#include "api/api.h"
#include "store/org.h"
#include "store/store.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static json_t *unit_json(const wp_org_unit *u)
{
    return json_pack("{s:s,s:o,s:o,s:s,s:i}", "id", u->id, "name", api_jstr(u->name, 0),
                     "parent_id", api_jstr(u->parent_id, 1), "kind", wp_org_kind_name(u->kind),
                     "depth", wp_org_unit_depth(u));
}

static json_t *unit_item(const void *u, const void *arg)
{
    return unit_json(u);
}

/* body[field] as an id: *out NULL for null (when nullable); WP_EINVAL naming field. */
static int body_id(json_t *body, const char *field, int nullable, const char **out)
{
    json_t *v = json_object_get(body, field);
    *out = NULL;
    if (nullable && (!v || json_is_null(v)))
        return 0;
    const char *s = json_string_value(v);
    if (!api_is_id(s))
        return wp_error_set(WP_EINVAL, "'%s' must be an org unit id%s", field,
                            nullable ? " or null" : "");
    *out = s;
    return 0;
}

/* The unit of the path's {id}, when the caller may see it; else 404. */
static int unit_in_scope(wp_http_ctx *ctx, wp_store *st, wp_org_unit *out)
{
    const api_caller *c = api_caller_of(ctx);
    api_scope scope;
    int err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_org_unit_get(st, out, c->tenant_id, wp_http_param(ctx, "id"))) < 0)
        return err;
    return api_scope_allows_org_unit(&scope, out);
}

int api_org_units_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_org_unit_page page;
    api_scope scope;
    wp_org_unit_filter f = {.tenant_id = c->tenant_id};
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_query_limit(ctx, &f.limit)) < 0)
        return err;
    f.cursor = wp_http_query(ctx, "cursor");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    f.scope = &scope.store; /* a salesperson sees its own unit */
    if ((err = wp_store_org_units_list(st, &page, &f)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    err = api_reply_items(ctx, page.items, page.n, sizeof *page.items, unit_item, NULL,
                          page.next_cursor);
out:
    wp_org_unit_page_release(&page);
    api_store_release(ctx, st);
    return err;
}

int api_org_units_get(wp_http_ctx *ctx)
{
    wp_store *st = NULL;
    wp_org_unit u;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = unit_in_scope(ctx, st, &u);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    return wp_http_reply_json(ctx, 200, unit_json(&u));
}

/* POST {"name", "parent_id", "kind"}. A second top unit is refused (409): scopes, the console's
 * tree and the demo all assume one root per tenant. */
int api_org_units_create(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"name", "parent_id", "kind", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_org_unit u, top;
    api_scope scope;
    enum wp_org_kind kind;
    const char *name, *parent_id, *kind_s;
    json_t *body, *details = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "name", API_FIELD_REQUIRED, &name)) < 0 ||
        (err = body_id(body, "parent_id", 1, &parent_id)) < 0 ||
        (err = api_body_str(body, "kind", API_FIELD_REQUIRED, &kind_s)) < 0)
        return err;
    if (wp_org_kind_parse(&kind, kind_s) < 0)
        return wp_error_set(WP_EINVAL, "'kind' must be hq, region, store or team");

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0 || (err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    /* a parent the caller may not see is one that does not exist */
    if (parent_id && ((err = wp_store_org_unit_get(st, &top, c->tenant_id, parent_id)) < 0 ||
                      (err = api_scope_allows_org_unit(&scope, &top)) < 0)) {
        err = api_field_error(err, "parent_id");
        goto out;
    }
    if (!parent_id) {
        if ((err = wp_store_org_unit_top(st, &top, c->tenant_id)) == 0) {
            err = wp_error_set(
                WP_EBUSY, "the tenant has a top org unit already ('%s'): give 'parent_id'", top.id);
            goto out;
        }
        if (err != WP_ENOTFOUND)
            goto out;
    }
    if ((err = wp_store_org_unit_create(st, &u, c->tenant_id, parent_id, name, kind)) < 0) {
        if (err == WP_ENOTFOUND)
            err = api_field_error(err, "parent_id");
        else if (err == WP_EINVAL)
            err = api_field_error(err, "name");
        goto out;
    }
    if (!(details = json_pack("{s:o,s:o,s:s}", "name", api_jstr(u.name, 0), "parent_id",
                              api_jstr(u.parent_id, 1), "kind", wp_org_kind_name(u.kind)))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = api_audit_reply(ctx, st, 0, "org_unit.create", "org_unit", u.id, details, unit_json(&u),
                          201);
    st = NULL;
out:
    if (st)
        wp_store_rollback(st);
    json_decref(details);
    api_store_release(ctx, st);
    return err;
}

/* PATCH {"name"?, "parent_id"?}: rename and/or move (with the whole subtree). */
int api_org_units_update(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"name", "parent_id", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_org_unit before, u;
    const char *name, *parent_id;
    json_t *body, *details = NULL, *jp;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "name", API_FIELD_NOT_NULL, &name)) < 0 ||
        (err = body_id(body, "parent_id", 1, &parent_id)) < 0)
        return err;
    jp = json_object_get(body, "parent_id");
    if (!name && !jp)
        return wp_error_set(WP_EINVAL, "nothing to change: give 'name' or 'parent_id'");

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0 || (err = unit_in_scope(ctx, st, &before)) < 0)
        goto out;
    u = before;
    if (jp && !parent_id && *before.parent_id) {
        err = wp_error_set(WP_EINVAL, "'parent_id' cannot be null: a tenant has one top org unit");
        goto out;
    }
    if (name && (err = wp_store_org_unit_rename(st, &u, c->tenant_id, before.id, name)) < 0) {
        err = api_field_error(err, "name");
        goto out;
    }
    if (parent_id &&
        (err = wp_store_org_unit_move(st, &u, c->tenant_id, before.id, parent_id)) < 0) {
        err = api_field_error(err, "parent_id");
        goto out;
    }
    /* a manager key whose unit left its creator's subtree ends with the move */
    if (parent_id && (err = api_keys_end_unheld(ctx, st, NULL, NULL)) < 0)
        goto out;
    if (!(details = json_object()) ||
        (name && (json_object_set_new(details, "name", api_jstr(u.name, 0)) < 0 ||
                  json_object_set_new(details, "old_name", api_jstr(before.name, 0)) < 0)) ||
        (parent_id &&
         (json_object_set_new(details, "parent_id", api_jstr(u.parent_id, 1)) < 0 ||
          json_object_set_new(details, "old_parent_id", api_jstr(before.parent_id, 1)) < 0))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = api_audit_reply(ctx, st, 0, "org_unit.update", "org_unit", u.id, details, unit_json(&u),
                          200);
    st = NULL;
out:
    if (st)
        wp_store_rollback(st);
    json_decref(details);
    api_store_release(ctx, st);
    return err;
}

int api_org_units_delete(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_org_unit u;
    json_t *details = NULL;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0 || (err = unit_in_scope(ctx, st, &u)) < 0 ||
        (err = wp_store_org_unit_delete(st, c->tenant_id, u.id)) < 0)
        goto out;
    if (!(details = json_pack("{s:o,s:o,s:s}", "name", api_jstr(u.name, 0), "parent_id",
                              api_jstr(u.parent_id, 1), "kind", wp_org_kind_name(u.kind)))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = api_audit_reply(ctx, st, 0, "org_unit.delete", "org_unit", u.id, details, NULL, 204);
    st = NULL;
out:
    if (st)
        wp_store_rollback(st);
    json_decref(details);
    api_store_release(ctx, st);
    return err;
}
