/* SPDX-License-Identifier: MIT */
/* GET /api/v1/media/{ref}: a stored recording or attachment, for the console's player. */
#include "api/api.h"
#include "store/alerts.h"
#include "store/policy.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MEDIA_REFS_MAX 64 /* the messages and calls looked at to find one in scope */

/* A file is in the caller's scope when a message or call that names it is: seen through the
 * employee who had it, or handed on by an explicit act (api_scope_sees_history). Else it does
 * not exist for the caller. */
static int media_in_scope(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                          const char *tenant_id, const char *ref, wp_media_ref *seen)
{
    wp_media_ref refs[MEDIA_REFS_MAX];
    size_t n = 0;
    int err;

    if ((err = wp_store_media_refs(st, refs, MEDIA_REFS_MAX, &n, tenant_id, ref)) < 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        if ((err = api_scope_sees_history(ctx, st, scope, tenant_id, refs[i].employee_id,
                                          refs[i].customer_id)) != WP_ENOTFOUND) {
            *seen = refs[i];
            return err;
        }
    }
    return wp_error_set(WP_ENOTFOUND, "media '%.80s' not found", ref);
}

/* The type of a file shown in the page, from its first bytes (the store keeps none): the
 * images a chat carries; anything else is plain bytes. */
static const char *sniff(int fd, const wp_media_reader *rd)
{
    unsigned char b[12] = {0};
    size_t hl = 0;
    const unsigned char *h = rd ? wp_media_reader_head(rd, &hl) : NULL;
    ssize_t n = h ? (ssize_t)hl : pread(fd, b, sizeof b, 0);
    if (h)
        memcpy(b, h, hl);
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return "image/jpeg";
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6)))
        return "image/gif";
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4))
        return "image/webp";
    return "application/octet-stream";
}

static long reader_read(void *cls, void *buf, size_t max)
{
    return wp_media_reader_read(cls, buf, max);
}

static void reader_done(void *cls)
{
    wp_media_reader_free(cls);
}

/* The file's bytes no longer match its hash: one alert for the tenant's admins (once per
 * file, however often it is asked for: the store keeps the first), audited as alert.raise
 * with the request that found it; then the caller answers 503 media_corrupt
 * (docs/internals/integrity.md). The error returned is the damage, unless the alert could
 * not be stored. */
static int raise_corrupt(wp_http_ctx *ctx, wp_store *st, const char *tenant_id, const char *ref,
                         const wp_media_ref *seen)
{
    char why[256], id[WP_ID_LEN + 1], target[WP_ID_LEN + 8];
    int err, raised = 0;
    snprintf(why, sizeof why, "%s", wp_error_last());
    if ((err = wp_store_begin(st)) < 0)
        return err;
    if ((err = wp_store_alert_media_corrupt(st, &raised, id, tenant_id, ref, seen->employee_id,
                                            seen->customer_id, wp_time_now_us())) == 0 &&
        raised) {
        json_t *d = json_pack("{s:s,s:s}", "kind", "media_corrupt", "media", ref);
        snprintf(target, sizeof target, "alert:%s", id);
        err = d ? api_audit(ctx, st, "alert.raise", target, d)
                : wp_error_set(WP_ENOMEM, "out of memory");
        json_decref(d);
    }
    if (err == 0)
        err = wp_store_commit(st);
    if (err < 0) {
        wp_store_rollback(st);
        return err;
    }
    if (raised)
        wp_log_line(2, "warn", "media_corrupt", "tenant", tenant_id, "media", ref, "alert", id,
                    "why", why, NULL);
    return wp_error_set(WP_ECORRUPT, "%s; an administrator restores it from a backup", why);
}

/* Two ways out (docs/internals/api.md, "Media"). A download (the default: a file saved, a
 * recording kept) is audited like an export, media.download, which the insider alerts count.
 * ?view=1 is the console showing what a chat holds in the page (an image's thumbnail, a voice
 * message played): a read of the conversation like its text, audited as a buffered read,
 * media.view, which they do not count, answered inline. A HEAD (which runs this handler) sends
 * no byte, so it is neither. */
int api_media_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *ref = wp_http_param(ctx, "ref"), *v = wp_http_query(ctx, "view");
    const wp_app *app = ctx->app;
    wp_store *st = NULL;
    api_scope scope;
    wp_media_ref seen;
    char target[128];
    wp_media_reader *rd = NULL;
    int64_t size = 0;
    int fd = -1, err, view = 0;

    if (v && *v) {
        if (strcmp(v, "1") != 0)
            return wp_error_set(WP_EINVAL, "'view' must be 1 (shown in the page) or absent");
        view = 1;
    }
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = media_in_scope(ctx, st, &scope, c->tenant_id, ref, &seen)) < 0)
        goto out;
    if ((err = wp_ingest_media_open(app->ingest, &fd, &rd, &size, c->tenant_id, ref)) ==
        WP_ECORRUPT)
        err = raise_corrupt(ctx, st, c->tenant_id, ref, &seen);
    if (err < 0)
        goto out;
    snprintf(target, sizeof target, "media:%.80s", ref);
    json_t *d = json_pack("{s:I}", "bytes", (json_int_t)size);
    if (!d) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (view) {
        api_store_release(ctx, st);
        st = NULL;
        err = api_audit_read(ctx, "media.view", target, d); /* nothing for a HEAD */
    } else if (strcmp(ctx->method, "HEAD") != 0) {
        if ((err = wp_store_begin(st)) == 0 &&
            (err = api_audit(ctx, st, "media.download", target, d)) == 0)
            err = wp_store_commit(st);
        if (err < 0)
            wp_store_rollback(st);
    }
    json_decref(d);
    if (err < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    if ((err = wp_http_add_header(ctx, "Cache-Control", "private, max-age=3600")) < 0 ||
        (err = wp_http_add_header(ctx, "Content-Disposition", view ? "inline" : "attachment")) <
            0)
        goto out;
    const char *type = view ? sniff(fd, rd) : "application/octet-stream";
    if (rd) { /* encrypted: checked whole already, decrypted chunk by chunk as it goes out */
        err = wp_http_reply_stream(ctx, 200, type, (uint64_t)size, reader_read, reader_done, rd);
        rd = NULL;
    } else {
        err = wp_http_reply_fd(ctx, 200, type, fd, (uint64_t)size);
        fd = -1;
    }
out:
    if (fd >= 0)
        close(fd);
    wp_media_reader_free(rd);
    api_store_release(ctx, st);
    return err;
}
