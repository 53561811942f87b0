/* SPDX-License-Identifier: MIT */
/* The scripts library (话术): approved reply templates by category; admins and managers keep
 * them, everyone lists and searches them (issue 7). */
#include "api/api.h"
#include "store/scripts.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static json_t *script_json(const wp_script *s)
{
    return json_pack("{s:s,s:o,s:o,s:o,s:I,s:o,s:o}", "id", s->id, "category",
                     api_jstr(s->category, 0), "title", api_jstr(s->title, 0), "text",
                     api_jstr(s->text, 0), "usage_count", (json_int_t)s->usage_count,
                     "created_at", api_jtime(s->created_us), "updated_at",
                     api_jtime(s->updated_us));
}

static json_t *script_item(const void *s, const void *arg)
{
    return script_json(s);
}

/* GET /api/v1/scripts?category=&q=: every role (the library is what salespeople reply with). */
int api_scripts_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_script_filter f = {.tenant_id = c->tenant_id};
    wp_script_page page;
    wp_store *st = NULL;
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_query_limit(ctx, &f.limit)) < 0)
        return err;
    f.category = wp_http_query(ctx, "category");
    if (f.category && !*f.category)
        f.category = NULL;
    f.q = wp_http_query(ctx, "q");
    f.cursor = wp_http_query(ctx, "cursor");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_scripts_list(st, &page, &f);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    err = api_reply_items(ctx, page.items, page.n, sizeof *page.items, script_item, NULL,
                          page.next_cursor);
    wp_script_page_release(&page);
    return err;
}

static int script_write(wp_http_ctx *ctx, int create)
{
    static const char *const fields[] = {"category", "title", "text", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *category = NULL, *title = NULL, *text = NULL;
    wp_store *st = NULL;
    wp_script s;
    json_t *body, *o = NULL;
    int err;

    memset(&s, 0, sizeof s);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "category", create ? API_FIELD_REQUIRED : 0, &category)) < 0 ||
        (err = api_body_str(body, "title", create ? API_FIELD_REQUIRED : 0, &title)) < 0 ||
        (err = api_body_str(body, "text", create ? API_FIELD_REQUIRED : 0, &text)) < 0)
        return err;
    if (!create && !category && !title && !text)
        return wp_error_set(WP_EINVAL, "nothing to change: give 'category', 'title' or 'text'");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    err = wp_store_script_put(st, &s, c->tenant_id, create ? NULL : wp_http_param(ctx, "id"),
                              category, title, text, wp_time_now_us());
    if (err == 0 && !(o = script_json(&s)))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    json_t *d = err == 0 ? json_pack("{s:s,s:s,s:b}", "category", s.category, "title", s.title,
                                     "text_changed", text != NULL)
                         : NULL;
    err = api_audit_reply(ctx, st, err, create ? "script.create" : "script.update", "script", s.id,
                          d, o, create ? 201 : 200);
    st = NULL;
    o = NULL;
    json_decref(d);
out:
    json_decref(o);
    wp_script_release(&s);
    api_store_release(ctx, st);
    return err;
}

int api_scripts_create(wp_http_ctx *ctx)
{
    return script_write(ctx, 1);
}

int api_scripts_update(wp_http_ctx *ctx)
{
    return script_write(ctx, 0);
}

int api_scripts_delete(wp_http_ctx *ctx)
{
    return api_delete_audited(ctx, wp_store_script_delete, "script.delete", "script");
}
