/* SPDX-License-Identifier: MIT */
/* GET /api/v1/messages: the archive of chats, searched by any substring, newest first. */
#include "api/api.h"
#include "store/messages.h"
#include "store/store.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

int api_message_fields(json_t *o, const wp_message *m)
{
    int bad = 0;
    if (m->recalled_us)
        bad |= json_object_set_new(o, "recalled_at", api_jtime(m->recalled_us));
    if (m->media)
        bad |= json_object_set_new(o, "media", api_jstr(m->media, 0));
    if (m->filename)
        bad |= json_object_set_new(o, "filename", api_jstr(m->filename, 0));
    if (m->size >= 0)
        bad |= json_object_set_new(o, "size", json_integer(m->size));
    if (m->url)
        bad |= json_object_set_new(o, "url", api_jstr(m->url, 0));
    if (m->title)
        bad |= json_object_set_new(o, "title", api_jstr(m->title, 0));
    if (m->amount_fen >= 0)
        bad |= json_object_set_new(o, "amount_fen", json_integer(m->amount_fen));
    if (m->memo)
        bad |= json_object_set_new(o, "memo", api_jstr(m->memo, 0));
    return bad ? -1 : 0;
}

static json_t *message_json(const wp_message *m, int with_highlight)
{
    json_t *hl = json_null();
    if (with_highlight) {
        json_decref(hl);
        if (!(hl = json_array()))
            return NULL;
        for (size_t i = 0; i < m->n_highlights; i++)
            if (json_array_append_new(hl, json_pack("{s:I,s:I}", "start",
                                                    (json_int_t)m->highlights[i][0], "end",
                                                    (json_int_t)m->highlights[i][1])) < 0) {
                json_decref(hl);
                return NULL;
            }
    }
    json_t *group = m->group_id ? json_pack("{s:o,s:o}", "id", api_jstr(m->group_id, 0), "name",
                                            api_jstr(m->group_name, 0))
                                : json_null();
    json_t *o = json_pack(
        "{s:s,s:o,s:o,s:o,s:s,s:o,s:s,s:I,s:o,s:o,s:o,s:{s:o,s:o},s:o,s:o,s:b,s:o}", "id", m->id,
        "ts", api_jtime(m->ts_us), "channel", api_jstr(m->channel, 0), "direction",
        api_jstr(wp_direction_name(m->direction), 0), "employee_id", m->employee_id,
        "customer_id", api_jstr(m->customer_id, 1), "device_id", m->device_id, "seq",
        (json_int_t)m->seq, "msgtype", api_jstr(m->msgtype, 0), "text", api_jstr(m->text, 0),
        "chat", api_jstr(m->chat, 0), "peer", "id", api_jstr(m->peer_id, 0), "name",
        api_jstr(m->peer_name, 0), "group", group, "msgid", api_jstr(m->msgid, 0), "recalled",
        m->recalled, "highlight", hl);
    if (!o)
        return NULL;
    /* the fields of the other message types, only where they are set */
    int bad = api_message_fields(o, m);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A caller who may not see personal data searches the texts as it sees them, so a hit inside a
 * masked span is none. Long runs of digits stay refused all the same: how long a search takes
 * still depends on the stored texts behind the masks, and one probe at a time a timing would
 * tell whether a number appears in a chat. */
#define API_PII_QUERY_DIGITS 6

static int digits_in(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s >= '0' && *s <= '9';
    return n;
}

int api_messages_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_message_page page;
    api_scope scope;
    wp_message_filter f = {.tenant_id = c->tenant_id};
    json_t *items = NULL;
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_query_limit(ctx, &f.limit)) < 0 ||
        (err = api_query_id(ctx, "customer", &f.customer_id)) < 0 ||
        (err = api_query_id(ctx, "employee", &f.employee_id)) < 0 ||
        (err = api_query_time(ctx, "from", &f.from_us)) < 0 ||
        (err = api_query_time(ctx, "to", &f.to_us)) < 0)
        return err;
    f.q = wp_http_query(ctx, "q");
    f.channel = wp_http_query(ctx, "channel");
    f.cursor = wp_http_query(ctx, "cursor");
    if (f.channel && !*f.channel)
        f.channel = NULL;
    int searching = f.q && *f.q;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    f.scope = &scope.store;
    /* the query meets texts as the caller sees them: a hit inside a masked span is none */
    if ((err = api_view_for_store(ctx, &f.view)) < 0)
        goto out;
    if (!scope.see_phone && digits_in(f.q) >= API_PII_QUERY_DIGITS) {
        err = wp_error_set(WP_EINVAL, "searching for %d or more digits needs the right to see "
                                      "personal data", API_PII_QUERY_DIGITS);
        goto out;
    }
    if ((err = wp_store_messages_search(st, &page, &f)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    if ((err = api_audit_messages_read(ctx, &f, &page)) < 0) /* who read what: audited */
        goto out;
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < page.n; i++) {
        if (json_array_append_new(items, message_json(&page.items[i], searching)) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    }
    err = api_reply_page(ctx, items, page.next_cursor);
    items = NULL;
out:
    json_decref(items);
    wp_message_page_release(&page);
    api_store_release(ctx, st);
    return err;
}

/* POST /api/v1/messages/{id}/unmask: one message as it was stored, for a role allowed to ask
 * (the route's unmask right) that sees the message. The audit row commits before anything is
 * answered. */
int api_messages_unmask(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    wp_message_page page;
    api_scope scope;
    char target[WP_ID_LEN + 16];
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    wp_message_filter f = {.tenant_id = c->tenant_id, .id = id, .limit = 1,
                           .scope = &scope.store};
    if ((err = wp_store_messages_search(st, &page, &f)) < 0)
        goto out;
    if (page.n == 0) {
        err = wp_error_set(WP_ENOTFOUND, "message '%s' not found", id);
        goto out;
    }
    snprintf(target, sizeof target, "message:%s", id);
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    json_t *d = json_pack("{s:s}", "customer", page.items[0].customer_id);
    err = d ? api_audit(ctx, st, "message.unmask", target, d)
            : wp_error_set(WP_ENOMEM, "out of memory"); /* not a row without its details */
    json_decref(d);
    if (err < 0 || (err = wp_store_commit(st)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    err = api_reply_revealed(ctx, 200, message_json(&page.items[0], 0));
out:
    if (err < 0 && st)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    wp_message_page_release(&page);
    return err;
}
