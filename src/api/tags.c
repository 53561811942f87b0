/* SPDX-License-Identifier: MIT */
/* Tag groups and tags (admins and managers keep them) and the tags of a customer (issue 7). */
#include "api/api.h"
#include "store/customers.h"
#include "store/people.h"
#include "store/store.h"
#include "store/tags.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* A tag (group 0) or a tag group as JSON. New reference. */
static json_t *tag_json(const wp_tag *t, int group)
{
    if (group)
        return json_pack("{s:s,s:o,s:s,s:o}", "id", t->id, "name", api_jstr(t->name, 0),
                         "color", t->color, "created_at", api_jtime(t->created_us));
    return json_pack("{s:s,s:o,s:o,s:s,s:o}", "id", t->id, "group_id", api_jstr(t->group_id, 1),
                     "name", api_jstr(t->name, 0), "color", t->color, "created_at",
                     api_jtime(t->created_us));
}

/* Tag groups and tags are one kind of row in the store (group 1 or 0): each handler below says
 * which it serves, and these helpers do the work for both. */

/* The whole list (at most WP_TAGS_MAX), open to every role: tags are the tenant's vocabulary.
 * gid: tags of that group only ("" for tags in no group); NULL: all. */
static int tag_list(wp_http_ctx *ctx, int group, const char *gid)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_tag *v = NULL;
    size_t n = 0;
    json_t *items = NULL;
    int err;

    if (gid && *gid && !api_is_id(gid))
        return wp_error_set(WP_EINVAL, "'group_id' is not an id");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_tags_list(st, &v, &n, c->tenant_id, group, gid);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    if (!(items = json_array()))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; err == 0 && i < n; i++)
        if (json_array_append_new(items, tag_json(&v[i], group)) < 0)
            err = wp_error_set(WP_ENOMEM, "out of memory");
    free(v);
    if (err < 0) {
        json_decref(items);
        return err;
    }
    return api_reply_page(ctx, items, NULL);
}

/* POST: create; PATCH /{id}: change name, color (and a tag's group_id). */
static int tag_write(wp_http_ctx *ctx, int group, int create)
{
    static const char *const tag_fields[] = {"name", "color", "group_id", NULL};
    static const char *const group_fields[] = {"name", "color", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *name = NULL, *color = NULL, *gid = NULL;
    wp_store *st = NULL;
    wp_tag t;
    json_t *body, *o = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, group ? group_fields : tag_fields)) < 0 ||
        (err = api_body_str(body, "name", create ? API_FIELD_REQUIRED : 0, &name)) < 0 ||
        (err = api_body_str(body, "color", 0, &color)) < 0 ||
        (err = api_body_str(body, "group_id", 0, &gid)) < 0)
        return err;
    if (!create && !name && !color && !json_object_get(body, "group_id"))
        return wp_error_set(WP_EINVAL, "nothing to change: give 'name', 'color' or 'group_id'");
    if (!create && !gid && json_is_null(json_object_get(body, "group_id")))
        gid = ""; /* null moves the tag out of its group */
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    if (create)
        err = wp_store_tag_create(st, &t, c->tenant_id, group, gid, name, color,
                                  wp_time_now_us());
    else
        err = wp_store_tag_update(st, &t, c->tenant_id, group, wp_http_param(ctx, "id"), name,
                                  color, gid);
    if (err == 0)
        o = tag_json(&t, group);
    return api_write_reply(ctx, st, err,
                           group ? (create ? "tag_group.create" : "tag_group.update")
                                 : (create ? "tag.create" : "tag.update"),
                           group ? "tag_group" : "tag", t.id, o, create ? 201 : 200);
out:
    api_store_release(ctx, st);
    return err;
}

/* DELETE: a tag leaves every customer that had it (each a timeline event); a group must be
 * empty first (409). */
static int tag_delete(wp_http_ctx *ctx, int group)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    char actor[64];
    wp_crm_actor who;
    wp_store *st = NULL;
    int64_t untagged = 0;
    json_t *d = NULL;
    int err;

    api_crm_actor(ctx, &who, actor);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    err = wp_store_tag_delete(st, &untagged, c->tenant_id, group, id, &who, wp_time_now_us());
    if (err == 0 && !(d = json_pack("{s:I}", "untagged_customers", (json_int_t)untagged)))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    return api_write_reply(ctx, st, err, group ? "tag_group.delete" : "tag.delete",
                           group ? "tag_group" : "tag", id, d, 204);
out:
    api_store_release(ctx, st);
    return err;
}

int api_tag_groups_list(wp_http_ctx *ctx)
{
    return tag_list(ctx, 1, NULL);
}

int api_tag_groups_create(wp_http_ctx *ctx)
{
    return tag_write(ctx, 1, 1);
}

int api_tag_groups_update(wp_http_ctx *ctx)
{
    return tag_write(ctx, 1, 0);
}

int api_tag_groups_delete(wp_http_ctx *ctx)
{
    return tag_delete(ctx, 1);
}

/* GET /api/v1/tags?group_id= ("" for tags in no group) */
int api_tags_list(wp_http_ctx *ctx)
{
    return tag_list(ctx, 0, wp_http_query(ctx, "group_id"));
}

int api_tags_create(wp_http_ctx *ctx)
{
    return tag_write(ctx, 0, 1);
}

int api_tags_update(wp_http_ctx *ctx)
{
    return tag_write(ctx, 0, 0);
}

int api_tags_delete(wp_http_ctx *ctx)
{
    return tag_delete(ctx, 0);
}

/* body[field] as an array of tag ids (borrowed strings in *out, malloc'ed array); absent: 0. */
static int id_list(json_t *body, const char *field, const char ***out, size_t *n, int *given)
{
    json_t *a = json_object_get(body, field), *v;
    size_t i;
    *out = NULL;
    *n = 0;
    *given = a != NULL;
    if (!a)
        return 0;
    if (!json_is_array(a))
        return wp_error_set(WP_EINVAL, "'%s' must be an array of tag ids", field);
    if (json_array_size(a) > WP_CUSTOMER_TAGS_MAX)
        return wp_error_set(WP_EINVAL, "'%s' has more than %d tags", field,
                            WP_CUSTOMER_TAGS_MAX);
    if (json_array_size(a) == 0)
        return 0;
    if (!(*out = calloc(json_array_size(a), sizeof **out)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || !api_is_id(json_string_value(v))) {
            free(*out);
            *out = NULL;
            return wp_error_set(WP_EINVAL, "'%s' must be an array of tag ids", field);
        }
        (*out)[i] = json_string_value(v);
    }
    *n = json_array_size(a);
    return 0;
}

/* PUT /api/v1/customers/{id}/tags: {"tags": [ids]} sets them, {"add": [...], "remove": [...]}
 * changes some. The write right within the caller's scope (sales: its own customers, not pool
 * ones). Answers {"tags": [...], "changed": n}. */
int api_customers_tags_put(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"tags", "add", "remove", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    const char **set = NULL, **add = NULL, **rem = NULL;
    size_t n_set = 0, n_add = 0, n_rem = 0;
    int set_given = 0, g1, g2, changed = 0, err;
    char actor[64];
    wp_crm_actor who;
    wp_customer_crm cu;
    wp_store *st = NULL;
    wp_tag *v = NULL;
    size_t n = 0;
    api_scope scope;
    json_t *body, *tags = NULL, *d = NULL;

    memset(&cu, 0, sizeof cu);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = id_list(body, "tags", &set, &n_set, &set_given)) < 0 ||
        (err = id_list(body, "add", &add, &n_add, &g1)) < 0 ||
        (err = id_list(body, "remove", &rem, &n_rem, &g2)) < 0)
        goto out;
    if (!set_given && !g1 && !g2) {
        err = wp_error_set(WP_EINVAL, "give 'tags', or 'add' and/or 'remove'");
        goto out;
    }
    api_crm_actor(ctx, &who, actor);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_crm_get(st, &cu, c->tenant_id, id)) < 0)
        goto out;
    if (cu.in_pool && scope.store.employee_id) {
        err = wp_error_set(WP_ENOTFOUND, "customer '%s' not found", id);
        goto out;
    }
    if ((err = api_scope_allows_customer(ctx, st, &scope, &cu.base)) < 0 ||
        (err = api_customer_not_erased(&cu.base)) < 0 || (err = wp_store_begin(st)) < 0)
        goto out;
    err = wp_store_customer_tags_change(st, &changed, c->tenant_id, id, set_given, set, n_set,
                                        add, n_add, rem, n_rem, &who, wp_time_now_us());
    if (err == 0)
        err = wp_store_customer_tags(st, &v, &n, c->tenant_id, id);
    if (err == 0 && (!(tags = api_tags_json(v, n)) ||
                     !(d = json_pack("{s:O,s:i}", "tags", tags, "changed", changed))))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    /* the details are the reply, made before the commit (api_write_reply) */
    err = api_write_reply(ctx, st, err, "customer.tags", "customer", id, d, 200);
    st = NULL;
    d = NULL;
out:
    json_decref(tags);
    json_decref(d);
    free(v);
    free(set);
    free(add);
    free(rem);
    wp_customer_crm_release(&cu);
    api_store_release(ctx, st);
    return err;
}
