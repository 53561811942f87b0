/* SPDX-License-Identifier: MIT */
/* What the handlers share: store connections, query parameters, JSON values, pages, request
 * bodies, audited writes. */
#include "api/api.h"
#include "store/customers.h"
#include "store/history.h"
#include "store/org.h"
#include "store/people.h"
#include "store/pool.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_store_acquire(wp_http_ctx *ctx, wp_store **out)
{
    const wp_app *app = ctx->app;
    if (!app || !app->pool)
        return wp_error_set(WP_EIO, "the server has no store");
    return wp_store_connpool_acquire(app->pool, out);
}

void api_store_release(wp_http_ctx *ctx, wp_store *st)
{
    const wp_app *app = ctx->app;
    if (st)
        wp_store_connpool_release(app->pool, st);
}

int api_query_limit(const wp_http_ctx *ctx, unsigned *out)
{
    const char *s = wp_http_query(ctx, "limit");
    if (!s) {
        *out = WP_PAGE_DEFAULT;
        return 0;
    }
    /* digits only: strtoul would take " 5", "+5" and "5x" */
    unsigned long v = 0;
    size_t n = strlen(s);
    int ok = n >= 1 && n <= 3;
    for (size_t i = 0; ok && i < n; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (!ok || v < 1 || v > WP_PAGE_MAX)
        return wp_error_set(WP_EINVAL, "limit must be a whole number from 1 to %d",
                            WP_PAGE_MAX);
    *out = (unsigned)v;
    return 0;
}

int api_query_time(const wp_http_ctx *ctx, const char *name, int64_t *out)
{
    const char *s = wp_http_query(ctx, name);
    *out = 0;
    if (!s || !*s)
        return 0;
    if (wp_time_parse(out, s) < 0)
        return wp_error_set(WP_EINVAL, "'%s' is not an RFC 3339 time (2026-11-22T10:00:00+08:00)",
                            name);
    return 0;
}

int api_is_id(const char *s)
{
    return s && strlen(s) == WP_ID_LEN && strspn(s, "0123456789abcdef") == WP_ID_LEN;
}

int api_query_id(const wp_http_ctx *ctx, const char *name, const char **out)
{
    const char *s = wp_http_query(ctx, name);
    *out = NULL;
    if (!s || !*s)
        return 0;
    if (!api_is_id(s))
        return wp_error_set(WP_EINVAL, "'%s' is not an id", name);
    *out = s;
    return 0;
}

int api_jparse(json_t **out, const char *text, size_t flags)
{
    if (!text) {
        *out = NULL;
        return 0;
    }
    json_t *v = wp_json_loads(text, flags, NULL), *again = wp_json_loads(text, flags, NULL);
    int same = (!v && !again) || (v && again && json_equal(v, again));
    json_decref(again);
    if (!same) {
        json_decref(v);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    *out = v;
    return 0;
}

json_t *api_jstr(const char *s, int empty_is_null)
{
    if (!s || (empty_is_null && !*s))
        return json_null();
    size_t n = strlen(s);
    if (wp_utf8_valid(s, n))
        return json_stringn(s, n);
    /* the store keeps what validation let in, which is UTF-8; this is belt and braces so
     * that one damaged row never fails a whole page */
    char *fixed = malloc(n * 3 + 1);
    if (!fixed)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = wp_utf8_seq((const unsigned char *)s + i, n - i);
        if (k) {
            memcpy(fixed + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(fixed, o);
    free(fixed);
    return j;
}

json_t *api_jtime(int64_t us)
{
    if (!us)
        return json_null();
    char buf[40];
    wp_time_format(buf, us, 0);
    return json_string(buf);
}

int api_reply_items(wp_http_ctx *ctx, const void *v, size_t n, size_t size,
                    json_t *(*to_json)(const void *item, const void *arg), const void *arg,
                    const char *next_cursor)
{
    const char *p = v;
    json_t *items = json_array();
    for (size_t i = 0; items && i < n; i++)
        if (json_array_append_new(items, to_json(p + i * size, arg)) < 0) {
            json_decref(items);
            items = NULL;
        }
    if (!items)
        return wp_error_set(WP_ENOMEM, "out of memory");
    return api_reply_page(ctx, items, next_cursor);
}

int api_reply_page(wp_http_ctx *ctx, json_t *items, const char *next_cursor)
{
    if (!items)
        return wp_error_set(WP_ENOMEM, "out of memory");
    return wp_http_reply_json(ctx, 200,
                              json_pack("{s:o,s:o}", "items", items, "next_cursor",
                                        api_jstr(next_cursor, 1)));
}

/* --- request bodies ----------------------------------------------------------------------- */

int api_body_check_fields(json_t *body, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key) != 0)
            a++;
        if (!*a) {
            /* at most 64 bytes of the name, cut between characters: the message is UTF-8 */
            int n = (int)strnlen(key, 64);
            while (n > 0 && key[n] && ((unsigned char)key[n] & 0xC0) == 0x80)
                n--;
            return wp_error_set(WP_EINVAL, "unknown field '%.*s'", n, key);
        }
    }
    return 0;
}

int api_field_error(int err, const char *field)
{
    char msg[256];
    if (err != WP_ENOTFOUND && err != WP_EINVAL)
        return err;
    snprintf(msg, sizeof msg, "%s", wp_error_last());
    return wp_error_set(WP_EINVAL, "'%s': %s", field, msg);
}

int api_body_str(json_t *body, const char *field, unsigned flags, const char **out)
{
    json_t *v = json_object_get(body, field);
    *out = NULL;
    if (!v || (json_is_null(v) && !(flags & API_FIELD_NOT_NULL))) {
        if (flags & API_FIELD_REQUIRED)
            return wp_error_set(WP_EINVAL, "'%s' is required", field);
        return 0;
    }
    if (!json_is_string(v))
        return wp_error_set(WP_EINVAL, "'%s' must be a string", field);
    *out = json_string_value(v);
    return 0;
}

/* --- writes ------------------------------------------------------------------------------- */

const json_t api_audit__no_details = {.type = JSON_NULL, .refcount = (size_t)-1};

int api_audit_commit(wp_http_ctx *ctx, wp_store *st, int err, const char *action, const char *kind,
                     const char *id, const json_t *details)
{
    char target[WP_ID_LEN + 64];
    if (err == 0 && !details)
        err = wp_error_set(WP_ENOMEM, "out of memory"); /* a json_pack() that failed */
    if (details == API_AUDIT_NO_DETAILS)
        details = NULL;
    if (err == 0) {
        snprintf(target, sizeof target, "%s:%s", kind, id);
        err = api_audit(ctx, st, action, target, details);
    }
    if (err == 0)
        err = wp_store_commit(st);
    if (err != 0)
        wp_store_rollback(st);
    return err;
}

int api_delete_audited(wp_http_ctx *ctx,
                       int (*del)(wp_store *st, const char *tenant_id, const char *id),
                       const char *action, const char *kind)
{
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    int err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    err = del(st, api_caller_of(ctx)->tenant_id, id);
    return api_write_reply(ctx, st, err, action, kind, id, (json_t *)API_AUDIT_NO_DETAILS, 204);
}

int api_write_reply(wp_http_ctx *ctx, wp_store *st, int err, const char *action, const char *kind,
                    const char *id, json_t *body, int status)
{
    if (err == 0 && !body)
        err = wp_error_set(WP_ENOMEM, "out of memory"); /* a json_pack() that failed */
    return api_audit_reply(ctx, st, err, action, kind, id, body,
                           body == API_AUDIT_NO_DETAILS ? NULL : body, status);
}

int api_audit_reply(wp_http_ctx *ctx, wp_store *st, int err, const char *action, const char *kind,
                    const char *id, const json_t *details, json_t *body, int status)
{
    char target[WP_ID_LEN + 64];
    if (err == 0 && !details)
        err = wp_error_set(WP_ENOMEM, "out of memory"); /* a json_pack() that failed */
    if (details == API_AUDIT_NO_DETAILS)
        details = NULL;
    if (err == 0) {
        snprintf(target, sizeof target, "%s:%s", kind, id);
        err = api_audit(ctx, st, action, target, details);
    }
    /* the reply is made before the commit (wp_http_ready_json): nothing left to fail after it;
     * body may be details, which the audit row has used by now */
    if (status == 204) {
        json_decref(body);
        body = NULL;
    }
    if (err == 0)
        err = wp_http_ready_json(ctx, (unsigned)status, body);
    else
        json_decref(body);
    if (err == 0)
        err = wp_store_commit(st);
    if (err != 0)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    return err < 0 ? err : wp_http_ready_send(ctx);
}
