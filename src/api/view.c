/* SPDX-License-Identifier: MIT */
/* What a caller may see of people's text and numbers: the one boundary every reply passes. */
#include "api/api.h"
#include "scan/scan.h"
#include "scan/view.h"
#include "store/store.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The masking engine is src/scan/view.c (the webhooks' robot messages use it too); this file
 * decides who gets it. */

static const api_caller no_caller;

static const api_caller *caller(const wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    return c ? c : &no_caller;
}

int api_view_clear(const wp_http_ctx *ctx)
{
    const api_caller *c = caller(ctx);
    return c->kind == API_CALLER_DEVICE ||
           ((c->kind == API_CALLER_EMPLOYEE || c->kind == API_CALLER_KEY) && c->rs.view_pii);
}

static const wp_scanner *scanner_of(const wp_http_ctx *ctx)
{
    const api_caller *c = caller(ctx);
    return c->scanner ? c->scanner : wp_scan_view_pii();
}

int api_view_mask_buf(const wp_http_ctx *ctx, wp_buf *out, int *changed, const char *text,
                      size_t len)
{
    if (api_view_clear(ctx)) {
        *changed = 0;
        return wp_buf_add(out, text, len);
    }
    return wp_scan_view_text(scanner_of(ctx), out, changed, text, len);
}

static int store_view(void *arg, wp_buf *out, int *changed, const char *text, size_t len)
{
    return api_view_mask_buf(arg, out, changed, text, len);
}

int api_view_for_store(wp_http_ctx *ctx, const wp_text_view **out)
{
    *out = NULL;
    if (api_view_clear(ctx))
        return 0;
    wp_text_view *v = wp_arena_alloc(ctx->arena, sizeof *v);
    if (!v)
        return wp_error_set(WP_ENOMEM, "out of memory");
    v->fn = store_view;
    v->arg = ctx;
    *out = v;
    return 0;
}

int api_view_text(wp_http_ctx *ctx, const char **out, size_t *out_len, const char *text, size_t len)
{
    wp_buf b;
    int changed = 0, err;

    *out = text;
    *out_len = len;
    if (!text || !len || api_view_clear(ctx))
        return 0;
    wp_buf_init(&b, len + 1);
    if ((err = wp_scan_view_text(scanner_of(ctx), &b, &changed, text, len)) < 0 || !changed)
        goto out;
    char *m = wp_arena_strndup(ctx->arena, b.buf, b.len);
    if (!m) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    *out = m;
    *out_len = b.len;
out:
    wp_buf_release(&b);
    return err;
}

/* --- the reply boundary -------------------------------------------------------------------- */

/* A phone number as people without the right to see it get it: 138****8000. */
void api_mask_phone(char *out, size_t cap, const char *phone)
{
    wp_scan_view_phone(out, cap, phone);
}

int api_view_reply(wp_http_ctx *ctx, json_t *body)
{
    const api_caller *c = caller(ctx);
    if (api_view_clear(ctx) || c->reveal)
        return 0;
    return wp_scan_view_json(scanner_of(ctx), body);
}

void api_view_release(wp_http_ctx *ctx)
{
    api_caller *c = ctx->auth;
    if (c && c->scanner) {
        wp_scanner_unref(c->scanner);
        c->scanner = NULL;
    }
}

int api_reply_revealed(wp_http_ctx *ctx, unsigned status, json_t *body)
{
    api_caller *c = ctx->auth;
    if (c)
        c->reveal = 1;
    return wp_http_reply_json(ctx, status, body);
}

int api_view_edit(wp_http_ctx *ctx, const char *field, const char *current, const char **value)
{
    const char *shown;
    size_t n;
    int err;
    if (!*value || !current || !*current || api_view_clear(ctx))
        return 0;
    if ((err = api_view_text(ctx, &shown, &n, current, strlen(current))) < 0)
        return err;
    if (shown == current)
        return 0; /* nothing of it was hidden */
    if (!strcmp(*value, shown)) {
        *value = NULL; /* the form sent back what it was shown: unchanged */
        return 0;
    }
    if (strstr(*value, "**"))
        return wp_error_set(WP_EINVAL,
                            "'%s' holds personal data this role sees masked: replace the whole "
                            "value, or have it unmasked first, rather than save the stars",
                            field);
    return 0;
}
