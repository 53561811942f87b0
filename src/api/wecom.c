/* SPDX-License-Identifier: MIT */
/* WeCom customer contact (CONTRACT §6): the callback WeCom calls, and the console's "sync the
 * contact list now". The callback is public and proves itself by WeCom's signature. */
#include "api/api.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "wecom/wecom.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static wp_wecom *wecom_of(wp_http_ctx *ctx)
{
    return ((const wp_app *)ctx->app)->wecom;
}

/* A refusal as its 4xx; the message says what was wrong, never a secret. */
static int refusal_reply(wp_http_ctx *ctx, const wp_wecom_outcome *o)
{
    static const struct {
        unsigned status;
        const char *code;
    } map[] = {
        [WP_WECOM_NOT_CONFIGURED] = {404, "not_found"},
        [WP_WECOM_BAD_REQUEST] = {400, "invalid_request"},
        [WP_WECOM_BAD_SIGNATURE] = {403, "bad_signature"},
        [WP_WECOM_STALE] = {403, "stale_timestamp"},
        [WP_WECOM_REPLAYED] = {409, "replayed"},
        [WP_WECOM_WRONG_RECEIVER] = {403, "wrong_receiver"},
    };
    wp_log_line(2, "info", "wecom_callback", "refused", map[o->refused].code, NULL);
    return wp_http_reply_fail(ctx, map[o->refused].status, map[o->refused].code, NULL, "%s",
                              wp_error_last());
}

/* WeCom takes a plain "success" for an event it need not send again. */
static int reply_text(wp_http_ctx *ctx, const char *text, size_t len)
{
    char *b = malloc(len + 1);
    if (!b)
        return wp_error_set(WP_ENOMEM, "out of memory");
    memcpy(b, text, len + 1);
    return wp_http_reply_bytes(ctx, 200, "text/plain; charset=utf-8", b, len);
}

static int request_of(wp_http_ctx *ctx, wp_wecom_request *r)
{
    const char *tenant = wp_http_param(ctx, "tenant_id");
    if (!api_is_id(tenant))
        return wp_error_set(WP_ENOTFOUND, "tenant not found");
    memset(r, 0, sizeof *r);
    r->tenant_id = tenant;
    r->msg_signature = wp_http_query(ctx, "msg_signature");
    r->timestamp = wp_http_query(ctx, "timestamp");
    r->nonce = wp_http_query(ctx, "nonce");
    r->echostr = wp_http_query(ctx, "echostr");
    r->now_us = wp_time_now_us();
    return 0;
}

/* GET /api/v1/wecom/callback/{tenant_id}: WeCom checks the URL: answer echostr decrypted. */
int api_wecom_callback_get(wp_http_ctx *ctx)
{
    wp_wecom_request r;
    wp_wecom_outcome o;
    int err;

    if (!wecom_of(ctx))
        return wp_error_set(WP_ENOTFOUND, "WeCom is not served here");
    if ((err = request_of(ctx, &r)) < 0 || (err = wp_wecom_callback_verify(wecom_of(ctx), &o, &r)) < 0)
        return err;
    if (o.refused)
        err = refusal_reply(ctx, &o);
    else
        err = reply_text(ctx, o.echo, strlen(o.echo));
    wp_wecom_outcome_release(&o);
    return err;
}

/* POST: the body is read into a buffer capped at WP_WECOM_BODY_MAX (413 past it). */
struct callback_body {
    wp_buf b;
};

static int body_write(void *arg, const char *data, size_t len)
{
    struct callback_body *cb = arg;
    return wp_buf_add(&cb->b, data, len);
}

static int body_end(wp_http_ctx *ctx, void *arg, int err)
{
    struct callback_body *cb = arg;
    wp_wecom_request r;
    wp_wecom_outcome o;

    if (err == WP_ELIMIT)
        return wp_error_set(WP_ELIMIT, "a callback's body may not be larger than %u bytes",
                            WP_WECOM_BODY_MAX);
    if (err < 0)
        return err;
    if ((err = request_of(ctx, &r)) < 0)
        return err;
    r.body = cb->b.buf;
    r.body_len = cb->b.len;
    if ((err = wp_wecom_callback_event(wecom_of(ctx), &o, &r)) < 0)
        return err; /* not kept: WeCom sends it again */
    if (o.refused) {
        err = refusal_reply(ctx, &o);
    } else {
        char n[24];
        snprintf(n, sizeof n, "%zu", json_array_size(o.alerts));
        wp_log_line(2, "info", "wecom_callback", "tenant", r.tenant_id, "outcome", o.what,
                    "why", o.why ? o.why : "", "alerts", n, NULL);
        err = reply_text(ctx, "success", 7);
    }
    wp_wecom_outcome_release(&o);
    return err;
}

static void body_release(void *arg)
{
    struct callback_body *cb = arg;
    wp_buf_release(&cb->b);
}

/* POST /api/v1/wecom/callback/{tenant_id}: a customer-contact event (a WP_ROUTE_STREAM_BODY
 * route, so the body has a limit of its own). */
int api_wecom_callback_post(wp_http_ctx *ctx)
{
    const char *cl = wp_http_header(ctx, "Content-Length");
    if (!wecom_of(ctx))
        return wp_error_set(WP_ENOTFOUND, "WeCom is not served here");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long len = strtoull(cl, &end, 10);
        if (errno == ERANGE || len > WP_WECOM_BODY_MAX) {
            wp_http_add_header(ctx, "Connection", "close");
            return wp_http_reply_fail(ctx, 413, "body_too_large",
                                      json_pack("{s:I}", "limit_bytes",
                                                (json_int_t)WP_WECOM_BODY_MAX),
                                      "a callback's body may not be larger than %u bytes",
                                      WP_WECOM_BODY_MAX);
        }
    }
    struct callback_body *cb = wp_arena_alloc(ctx->arena, sizeof *cb);
    if (!cb)
        return wp_error_set(WP_ENOMEM, "out of memory");
    wp_buf_init(&cb->b, WP_WECOM_BODY_MAX);
    wp_http_body_sink sink = {body_write, body_end, body_release, cb};
    wp_http_body_sink_set(ctx, &sink);
    return 0;
}

/* POST /api/v1/integrations/wecom/contacts/sync (admin): read the contact list and retry the
 * transfers now rather than at their next time. 202. */
int api_wecom_sync(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    /* the reply is made before the commit (api_audit_reply): nothing left to fail after it */
    if ((err = api_audit_reply(ctx, st, 0, "wecom.sync", "tenant", c->tenant_id,
                               API_AUDIT_NO_DETAILS, json_pack("{s:b}", "queued", 1), 202)) < 0)
        return err;
    wp_wecom_kick(wecom_of(ctx), "wecom_contacts");
    wp_wecom_kick(wecom_of(ctx), "wecom_transfers");
    return 0;
}
