/* SPDX-License-Identifier: MIT */
/* The device protocol (CONTRACT §4): enroll, events, check, policy and media uploads. */
#include "api/api.h"
#include "store/privacy.h"
#include "store/devices.h"
#include "store/store.h"
#include "store/usage.h"
#include "util/error.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static wp_ingest *ingest_of(wp_http_ctx *ctx)
{
    return ((const wp_app *)ctx->app)->ingest;
}

/* POST /api/v1/device/enroll: public, the one-time code is the credential. */
int api_device_enroll(wp_http_ctx *ctx)
{
    json_t *body;
    char token[WP_DEVICE_TOKEN_MAX];
    int err;

    if (!ingest_of(ctx))
        return wp_error_set(WP_EIO, "the server has no store");
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    const char *code = json_string_value(json_object_get(body, "code"));
    const char *serial = json_string_value(json_object_get(body, "serial"));
    const char *model = json_string_value(json_object_get(body, "model"));
    if (!code || !*code)
        return wp_error_set(WP_EINVAL, "'code' is required");
    /* The device is the actor (the code was its credential); its audit row commits with the
     * enrollment, or neither happens and the token is never shown. */
    wp_device dev;
    wp_store *st = NULL;
    wp_notice notice = {0};
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) == 0 &&
        (err = wp_ingest_enroll(ingest_of(ctx), st, &dev, token, code, serial, model)) == 0) {
        char actor[16 + WP_ID_LEN];
        snprintf(actor, sizeof actor, "device:%s", dev.id);
        json_t *details = json_pack("{s:s,s:s,s:s}", "employee_id", dev.employee_id, "serial",
                                    dev.serial, "model", dev.model);
        err = details ? api_audit_as(ctx, st, dev.tenant_id, actor, "device.enroll", actor,
                                     details)
                      : wp_error_set(WP_ENOMEM, "out of memory"); /* not a row without them */
        json_decref(details);
        /* what the employee is told on enrollment (issue 20), read with the enrollment */
        if (err == 0)
            err = wp_store_notice_get(st, &notice, dev.tenant_id);
        /* the reply is made before the commit: nothing left to fail after it */
        if (err == 0)
            err = wp_http_ready_json(ctx, 201,
                                     json_pack("{s:s,s:s,s:{s:s,s:I}}", "device_id", dev.id,
                                               "token", token, "notice", "text", notice.text,
                                               "version", (json_int_t)notice.version));
        if (err == 0)
            err = wp_store_commit(st);
    }
    if (err < 0)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    if (err < 0) {
        wp_notice_release(&notice);
        sodium_memzero(token, sizeof token);
        /* the tenant's devices limit (workphone tenant set --max-devices) is the one count an
         * enrollment can pass: details name it as the other limits' replies do */
        if (err == WP_ELIMIT)
            return wp_http_reply_fail(ctx, 422, "limit_exceeded",
                                      json_pack("{s:s}", "limit", "devices_limit"), "%s",
                                      wp_error_last());
        return err;
    }
    err = wp_http_ready_send(ctx);
    wp_notice_release(&notice);
    sodium_memzero(token, sizeof token);
    return err;
}

/* 507 quota_exceeded for the WP_EQUOTA just returned: which limit, what is used, the limit
 * and what the request needed, in details. Nothing was stored; a device keeps its outbox and
 * tries again later (a 5xx). */
static int quota_reply(wp_http_ctx *ctx)
{
    const wp_usage_refusal *r = wp_usage_refusal_last();
    char msg[256], limit[32];
    snprintf(msg, sizeof msg, "%s", wp_error_last());
    if (r->storage)
        snprintf(limit, sizeof limit, "storage_limit");
    else
        snprintf(limit, sizeof limit, "%s_limit_bytes", wp_usage_kind_name(r->kind));
    return wp_http_reply_fail(ctx, 507, "quota_exceeded",
                              json_pack("{s:s,s:I,s:I,s:I}", "limit", limit, "used_bytes",
                                        (json_int_t)r->used, "limit_bytes", (json_int_t)r->limit,
                                        "needed_bytes", (json_int_t)r->needed),
                              "%s", msg);
}

/* POST /api/v1/device/events: answered once every event up to acked_seq is committed. */
int api_device_events(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    json_t *body, *reply = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = wp_ingest_events(ingest_of(ctx), &reply, &c->device, body)) == WP_EQUOTA)
        return quota_reply(ctx);
    if (err < 0)
        return err;
    return wp_http_reply_json(ctx, 200, reply);
}

/* POST /api/v1/device/check: the verdict on a text before the agent sends it. */
int api_device_check(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    json_t *body, *reply = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = wp_ingest_check(ingest_of(ctx), &reply, c->tenant_id, c->device.employee_id, NULL,
                               body)) < 0)
        return err;
    return wp_http_reply_json(ctx, 200, reply);
}

/* Does an If-None-Match header ("\"7\"", "W/\"7\"", "\"6\", \"7\"", "*") name this ETag? */
static int etag_matches(const char *header, const char *etag)
{
    size_t n = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (!strncmp(p, "W/", 2))
            p += 2;
        if (!strncmp(p, etag, n) && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
            return 1;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

/* GET /api/v1/device/policy for the device's employee (the lexicons of its unit's path), with
 * its ETag: the policy version, and which units add to it when some do. */
int api_device_policy(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *emp = c->device.employee_id;
    json_t *policy = NULL;
    int64_t version;
    char etag[WP_INGEST_ETAG_MAX];
    int err;

    const char *inm = wp_http_header(ctx, "If-None-Match");
    if (inm) {
        /* the cheap question first: most polls find nothing new */
        if ((err = wp_ingest_policy(ingest_of(ctx), &version, etag, NULL, c->tenant_id, emp)) < 0)
            return err;
        if (etag_matches(inm, etag)) {
            if ((err = wp_http_add_header(ctx, "ETag", etag)) < 0)
                return err;
            return wp_http_reply_empty(ctx, 304);
        }
    }
    if ((err = wp_ingest_policy(ingest_of(ctx), &version, etag, &policy, c->tenant_id, emp)) < 0)
        return err;
    if ((err = wp_http_add_header(ctx, "ETag", etag)) < 0) {
        json_decref(policy);
        return err;
    }
    return wp_http_reply_json(ctx, 200, policy);
}

/* --- PUT /api/v1/device/media/sha256:<hex>: streamed to disk, hash checked at the end ---- */

struct media_put {
    wp_media_upload *up;
    char ref[80];
    uint64_t size;
};

static int media_write(void *arg, const char *data, size_t len)
{
    struct media_put *m = arg;
    m->size += len;
    return wp_ingest_media_write(m->up, data, len);
}

static int media_end(wp_http_ctx *ctx, void *arg, int err)
{
    struct media_put *m = arg;
    int created = 0;
    /* release() aborts the upload. The message is set again: other requests of this thread
     * may have set theirs since write() failed. */
    if (err == WP_ELIMIT)
        return wp_error_set(WP_ELIMIT, "a media file may not be larger than %u bytes",
                            WP_INGEST_MEDIA_MAX);
    if (err < 0)
        return wp_error_set(err, "the media file could not be stored");
    wp_media_upload *up = m->up;
    m->up = NULL; /* finish frees it, whatever it returns */
    if ((err = wp_ingest_media_finish(up, &created)) == WP_EQUOTA)
        return quota_reply(ctx);
    if (err < 0)
        return err;
    return wp_http_reply_json(ctx, created ? 201 : 200,
                              json_pack("{s:s,s:I,s:b}", "ref", m->ref, "size",
                                        (json_int_t)m->size, "created", created));
}

static void media_release(void *arg)
{
    struct media_put *m = arg;
    wp_ingest_media_abort(m->up);
    m->up = NULL;
}

int api_device_media_put(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *ref = wp_http_param(ctx, "ref");
    int err;

    /* refused before a byte is read when the client says up front that it is too big */
    const char *cl = wp_http_header(ctx, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long len = strtoull(cl, &end, 10);
        if (errno == ERANGE || len > WP_INGEST_MEDIA_MAX) {
            wp_http_add_header(ctx, "Connection", "close");
            return wp_http_reply_fail(ctx, 413, "body_too_large",
                                      json_pack("{s:I}", "limit_bytes",
                                                (json_int_t)WP_INGEST_MEDIA_MAX),
                                      "a media file may not be larger than %u bytes",
                                      WP_INGEST_MEDIA_MAX);
        }
        /* and when it would pass the tenant's media limit (without a length, finish says) */
        if ((err = wp_ingest_media_admit(ingest_of(ctx), c->tenant_id, ref, (int64_t)len)) ==
            WP_EQUOTA) {
            wp_http_add_header(ctx, "Connection", "close");
            return quota_reply(ctx);
        }
        if (err < 0)
            return err;
    }
    struct media_put *m = wp_arena_alloc(ctx->arena, sizeof *m);
    if (!m)
        return wp_error_set(WP_ENOMEM, "out of memory");
    memset(m, 0, sizeof *m);
    snprintf(m->ref, sizeof m->ref, "%s", ref);
    if ((err = wp_ingest_media_begin(ingest_of(ctx), &m->up, c->tenant_id, c->device.id, ref)) <
        0)
        return err;
    wp_http_body_sink sink = {media_write, media_end, media_release, m};
    wp_http_body_sink_set(ctx, &sink);
    return 0;
}
