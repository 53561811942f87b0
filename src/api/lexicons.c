/* SPDX-License-Identifier: MIT */
/* Lexicons of org units: GET/PUT /api/v1/lexicon?unit=, the union a unit's phones get
 * (?view=effective), GET /api/v1/lexicons, and the test box for a unit's draft. */
#include "api/api.h"
#include "scan/union.h"
#include "scan/verdict.h"
#include "store/org.h"
#include "store/policy.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static wp_ingest *ingest_of(wp_http_ctx *ctx)
{
    return ((const wp_app *)ctx->app)->ingest;
}

int api_lexicon_unit_check(wp_http_ctx *ctx, const char *id)
{
    wp_store *st = NULL;
    api_scope scope;
    wp_org_unit u;
    int err;
    if (!api_is_id(id))
        return wp_error_set(WP_EINVAL, "'unit' must be an org unit id");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) == 0 &&
        (err = wp_store_org_unit_get(st, &u, api_caller_of(ctx)->tenant_id, id)) == 0)
        err = api_scope_allows_org_unit(&scope, &u);
    api_store_release(ctx, st);
    return err;
}

/* The allow: entries of the unit's own lexicon that its phones do not get:
 * [{"line", "allow", "lifts", "set_by"}], set_by the unit that set the block, null for the
 * tenant's lexicon. New reference; NULL when out of memory. */
static json_t *not_applied(const wp_scan_union_report *rep, const char *unit)
{
    json_t *a = json_array();
    (void)unit;
    for (size_t i = 0; a && i < rep->n; i++) {
        const wp_scan_lifted *x = &rep->items[i];
        const char *by = x->blocked_label;
        if (by && !strncmp(by, "org unit ", 9))
            by += 9;
        json_t *o = json_pack("{s:i,s:s,s:s,s:o}", "line", (int)x->line, "allow", x->allow, "lifts",
                              x->blocked, "set_by", api_jstr(by, 1));
        if (!o || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The report's items about the last level only (the unit's own lexicon). */
static void keep_last_level(wp_scan_union_report *rep)
{
    size_t last = 0, k = 0;
    for (size_t i = 0; i < rep->n; i++)
        if (rep->items[i].level > last)
            last = rep->items[i].level;
    for (size_t i = 0; i < rep->n; i++) {
        if (rep->items[i].level == last) {
            rep->items[k++] = rep->items[i];
        } else {
            free(rep->items[i].allow);
            free(rep->items[i].blocked);
            free(rep->items[i].blocked_label);
        }
    }
    rep->n = k;
}

static int add_etag(wp_http_ctx *ctx, int64_t version)
{
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"", (long long)version);
    return wp_http_add_header(ctx, "ETag", etag);
}

/* A 200 with body (taken) and version as its ETag, made ready before a commit. */
static int ready_etag(wp_http_ctx *ctx, json_t *body, int64_t version)
{
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"", (long long)version);
    int err = wp_http_ready_json(ctx, 200, body);
    return err < 0 ? err : wp_http_ready_header(ctx, "ETag", etag);
}

int api_unit_lexicon_get(wp_http_ctx *ctx, const char *unit)
{
    const api_caller *c = api_caller_of(ctx);
    const char *view = wp_http_query(ctx, "view");
    int err;

    if (view && *view && strcmp(view, "own") != 0 && strcmp(view, "effective") != 0)
        return wp_error_set(WP_EINVAL, "'view' must be own or effective");
    if (view && !strcmp(view, "effective")) {
        /* what the unit's phones get: the union of its path, its policy's ETag */
        char etag[WP_INGEST_ETAG_MAX];
        wp_buf b;
        size_t len;
        wp_buf_init(&b, WP_SCAN_MAX_LEXICON_BYTES);
        if ((err = wp_ingest_unit_lexicon_union(ingest_of(ctx), &b, NULL, etag, c->tenant_id,
                                                unit, NULL, 0)) < 0 ||
            (err = wp_http_add_header(ctx, "ETag", etag)) < 0) {
            wp_buf_release(&b);
            return err;
        }
        char *text = wp_buf_detach(&b, &len);
        if (!text)
            return wp_error_set(WP_ENOMEM, "out of memory");
        return wp_http_reply_bytes(ctx, 200, "text/plain; charset=utf-8", text, len);
    }
    int64_t version = 0;
    char *text = NULL;
    size_t len = 0;
    if ((err = wp_ingest_unit_lexicon_get(ingest_of(ctx), &version, &text, &len, c->tenant_id,
                                          unit)) < 0)
        return err;
    if ((err = add_etag(ctx, version)) < 0) {
        free(text);
        return err;
    }
    return wp_http_reply_bytes(ctx, 200, "text/plain; charset=utf-8", text, len);
}

/* "lexicon:<line>: ..." → line, else 0 */
static long error_line(const char *msg)
{
    if (strncmp(msg, "lexicon:", 8) != 0)
        return 0;
    char *end;
    long line = strtol(msg + 8, &end, 10);
    return end > msg + 8 && *end == ':' && line > 0 ? line : 0;
}

static int invalid_lexicon(wp_http_ctx *ctx)
{
    const char *msg = wp_error_last();
    long line = error_line(msg);
    return wp_http_reply_fail(ctx, 400, "invalid_lexicon",
                              line ? json_pack("{s:i}", "line", (int)line) : NULL, "%s", msg);
}

int api_unit_lexicon_put(wp_http_ctx *ctx, const char *unit)
{
    const api_caller *c = api_caller_of(ctx);
    wp_scan_union_report rep = {NULL, 0};
    wp_store *st = NULL;
    json_t *details = NULL, *reply = NULL, *skipped = NULL;
    int64_t version = 0;
    char sha[65], target[WP_ID_LEN + 16];
    int err;

    wp_token_hash(sha, ctx->raw_body);
    snprintf(target, sizeof target, "org_unit:%s", unit);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) == 0 &&
        (err = wp_ingest_unit_lexicon_put(ingest_of(ctx), st, &version, &rep, c->tenant_id, unit,
                                          ctx->raw_body, ctx->raw_body_len)) == 0) {
        details = json_pack("{s:s,s:I,s:I,s:s}", "org_unit_id", unit, "version",
                            (json_int_t)version, "bytes", (json_int_t)ctx->raw_body_len, "sha256",
                            sha);
        err = details ? api_audit(ctx, st, "lexicon.put", target, details)
                      : wp_error_set(WP_ENOMEM, "out of memory");
        /* the reply is made before the commit: nothing left to fail after it */
        if (err == 0) {
            keep_last_level(&rep);
            if (!(skipped = not_applied(&rep, unit)) ||
                !(reply = json_pack("{s:I,s:s,s:o}", "version", (json_int_t)version, "org_unit_id",
                                    unit, "not_applied", skipped)))
                err = wp_error_set(WP_ENOMEM, "out of memory");
            else
                err = ready_etag(ctx, reply, version);
        }
        if (err == 0)
            err = wp_store_commit(st);
    }
    if (err < 0)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    json_decref(details);
    wp_scan_union_report_release(&rep);
    if (err == WP_EINVAL)
        return invalid_lexicon(ctx);
    return err < 0 ? err : wp_http_ready_send(ctx);
}

static json_t *info_json(const void *item, const void *arg)
{
    const wp_unit_lexicon_info *x = item;
    (void)arg;
    return json_pack("{s:s,s:I,s:I,s:o}", "org_unit_id", x->org_unit_id, "version",
                     (json_int_t)x->version, "entries", (json_int_t)x->entries, "updated_at",
                     api_jtime(x->updated_us));
}

/* GET /api/v1/lexicons: the org units with a lexicon of their own, in tree order, those in the
 * caller's scope (a manager its subtree's, a salesperson its unit's). One page. */
int api_lexicons_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_unit_lexicon_info *items = NULL;
    wp_store *st = NULL;
    api_scope scope;
    size_t n = 0, k = 0;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = api_scope_for(ctx, st, &scope);
    api_store_release(ctx, st);
    if (err < 0 ||
        (err = wp_ingest_unit_lexicons_list(ingest_of(ctx), &items, &n, c->tenant_id)) < 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        wp_org_unit u;
        memset(&u, 0, sizeof u);
        memcpy(u.id, items[i].org_unit_id, sizeof u.id);
        snprintf(u.path, sizeof u.path, "%s", items[i].path);
        if (api_scope_allows_org_unit(&scope, &u) == 0)
            items[k++] = items[i];
    }
    wp_error_clear();
    err = api_reply_items(ctx, items, k, sizeof *items, info_json, NULL, NULL);
    free(items);
    return err;
}

int api_unit_lexicon_check(wp_http_ctx *ctx, json_t *body, const char *unit)
{
    const api_caller *c = api_caller_of(ctx);
    json_t *lex = json_object_get(body, "lexicon"), *t = json_object_get(body, "text");
    json_t *reply = NULL, *skipped = NULL;
    wp_scan_union_report rep = {NULL, 0};
    wp_scanner *s = NULL;
    wp_scan_result r;
    wp_buf b, masked;
    int err;

    if (!lex || json_is_null(lex)) {
        if ((err = wp_ingest_check(ingest_of(ctx), &reply, c->tenant_id, NULL, unit, body)) < 0)
            return err;
        return wp_http_reply_json(ctx, 200, reply);
    }
    if (!json_is_string(lex) || !json_is_string(t))
        return wp_error_set(WP_EINVAL, "'text' and 'lexicon' must be strings");
    /* the draft alone first, so that a bad line is named by its own number */
    wp_scan_options opts = WP_SCAN_OPTIONS_INIT;
    opts.source_name = "lexicon";
    if ((err = wp_scan_compile(&s, json_string_value(lex), json_string_length(lex), &opts)) < 0)
        return err == WP_EINVAL ? invalid_lexicon(ctx) : err;
    wp_scanner_unref(s);
    s = NULL;
    wp_buf_init(&b, WP_SCAN_MAX_LEXICON_BYTES);
    wp_buf_init(&masked, 4 * WP_ARCHIVE_TEXT_MAX);
    wp_scan_result_init(&r);
    if ((err = wp_ingest_unit_lexicon_union(ingest_of(ctx), &b, &rep, NULL, c->tenant_id, unit,
                                            json_string_value(lex), json_string_length(lex))) < 0)
        goto out;
    opts.source_name = "lexicon union";
    if ((err = wp_scan_compile(&s, b.buf, b.len, &opts)) < 0 ||
        (err = wp_scan_verdict(&reply, s, &r, &masked, json_string_value(t),
                               json_string_length(t))) < 0)
        goto out;
    keep_last_level(&rep);
    if (!(skipped = not_applied(&rep, unit)) ||
        json_object_set_new(reply, "not_applied", skipped) < 0) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = wp_http_reply_json(ctx, 200, reply);
    reply = NULL;
out:
    json_decref(reply);
    wp_scan_union_report_release(&rep);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
    wp_buf_release(&masked);
    wp_buf_release(&b);
    return err;
}
