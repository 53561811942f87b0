/* SPDX-License-Identifier: MIT */
/* What the handlers share: store connections, query parameters, JSON values, pages, masking. */
#include "api/api.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_store_acquire(wp_http_ctx *ctx, wp_store **out)
{
    const wp_app *app = ctx->app;
    if (!app || !app->ingest)
        return wp_error_set(WP_EIO, "the server has no store");
    return wp_ingest_store_acquire(app->ingest, out);
}

void api_store_release(wp_http_ctx *ctx, wp_store *st)
{
    const wp_app *app = ctx->app;
    if (st)
        wp_ingest_store_release(app->ingest, st);
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

int api_query_id(const wp_http_ctx *ctx, const char *name, const char **out)
{
    const char *s = wp_http_query(ctx, name);
    *out = NULL;
    if (!s || !*s)
        return 0;
    size_t n = strlen(s);
    int ok = n == WP_ID_LEN;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (!ok)
        return wp_error_set(WP_EINVAL, "'%s' is not an id", name);
    *out = s;
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

int api_reply_page(wp_http_ctx *ctx, json_t *items, const char *next_cursor)
{
    if (!items)
        return wp_error_set(WP_ENOMEM, "out of memory");
    return wp_http_reply_json(ctx, 200,
                              json_pack("{s:o,s:o}", "items", items, "next_cursor",
                                        api_jstr(next_cursor, 1)));
}

void api_mask_phone(char *out, size_t cap, const char *phone)
{
    size_t n = phone ? strlen(phone) : 0;
    if (n >= 11) /* 138****8000; +8613800138000 → +86138****8000 */
        snprintf(out, cap, "%.*s****%s", (int)(n - 8), phone, phone + n - 4);
    else if (n >= 7)
        snprintf(out, cap, "****%s", phone + n - 4);
    else
        snprintf(out, cap, "%s", n ? "****" : "");
}

/* --- scope ------------------------------------------------------------------------------- */

int api_scope_for(wp_http_ctx *ctx, wp_store *st, api_scope *out)
{
    const api_caller *c = api_caller_of(ctx);
    memset(out, 0, sizeof *out);
    if (!c || c->kind != API_CALLER_EMPLOYEE)
        return wp_error_set(WP_EAUTH, "authentication is required");
    const wp_employee *e = &c->employee;
    out->unit_id = e->org_unit_id;
    switch (e->role) {
    case WP_ROLE_ADMIN:
        out->all = 1;
        out->see_phone = 1;
        return 0;
    case WP_ROLE_AUDITOR:
        out->all = 1;
        return 0;
    case WP_ROLE_MANAGER: {
        /* the subtree of the manager's own unit */
        wp_org_unit u;
        int err = wp_store_org_unit_get(st, &u, e->tenant_id, e->org_unit_id);
        if (err < 0)
            return err;
        if (!(out->org_path = wp_arena_strdup(ctx->arena, u.path)))
            return wp_error_set(WP_ENOMEM, "out of memory");
        return 0;
    }
    case WP_ROLE_SALES:
        out->employee_id = e->id;
        return 0;
    }
    return wp_error_set(WP_EAUTH, "unknown role");
}

int api_scope_allows_customer(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_customer *c)
{
    int err;
    if (scope->all)
        return 0;
    if (scope->employee_id) {
        if (!strcmp(c->owner_employee_id, scope->employee_id))
            return 0;
    } else if (scope->org_path) {
        wp_employee owner;
        wp_org_unit u;
        if ((err = wp_store_employee_get(st, &owner, c->tenant_id, c->owner_employee_id)) < 0 &&
            err != WP_ENOTFOUND)
            return err;
        if (err == 0) {
            if ((err = wp_store_org_unit_get(st, &u, c->tenant_id, owner.org_unit_id)) < 0 &&
                err != WP_ENOTFOUND)
                return err;
            if (err == 0 && !strncmp(u.path, scope->org_path, strlen(scope->org_path)))
                return 0;
        }
    }
    return wp_error_set(WP_ENOTFOUND, "customer '%s' not found", c->id);
}

int api_scope_allows_employee(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_employee *e)
{
    (void)ctx;
    if (scope->all)
        return 0;
    if (scope->employee_id) {
        if (!strcmp(e->id, scope->employee_id))
            return 0;
    } else if (scope->org_path) {
        wp_org_unit u;
        int err = wp_store_org_unit_get(st, &u, e->tenant_id, e->org_unit_id);
        if (err < 0 && err != WP_ENOTFOUND)
            return err;
        if (err == 0 && !strncmp(u.path, scope->org_path, strlen(scope->org_path)))
            return 0;
    }
    return wp_error_set(WP_ENOTFOUND, "employee '%s' not found", e->id);
}

int api_scope_allows_org_unit(const api_scope *scope, const wp_org_unit *u)
{
    if (scope->all)
        return 0;
    if (scope->org_path && !strncmp(u->path, scope->org_path, strlen(scope->org_path)))
        return 0;
    if (scope->employee_id && scope->unit_id && !strcmp(u->id, scope->unit_id))
        return 0;
    return wp_error_set(WP_ENOTFOUND, "org unit '%s' not found", u->id);
}
