/* SPDX-License-Identifier: MIT */
/* GET /api/v1/media/{ref}: a stored recording or attachment, for the console's player. */
#include "api/api.h"
#include "store/policy.h"
#include "store/store.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MEDIA_REFS_MAX 64 /* the messages and calls looked at to find one in scope */

/* A file is in the caller's scope when a message or call that names it is: seen through the
 * employee who had it, or handed on by an explicit act (api_scope_sees_history). Else it does
 * not exist for the caller. */
static int media_in_scope(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                          const char *tenant_id, const char *ref)
{
    wp_media_ref refs[MEDIA_REFS_MAX];
    size_t n = 0;
    int err;

    if ((err = wp_store_media_refs(st, refs, MEDIA_REFS_MAX, &n, tenant_id, ref)) < 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        if ((err = api_scope_sees_history(ctx, st, scope, tenant_id, refs[i].employee_id,
                                          refs[i].customer_id)) != WP_ENOTFOUND)
            return err;
    }
    return wp_error_set(WP_ENOTFOUND, "media '%.80s' not found", ref);
}

/* Audited like an export: a recording leaves the archive. A HEAD (which runs this handler)
 * sends no byte of it, so it is no download. */
int api_media_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *ref = wp_http_param(ctx, "ref");
    const wp_app *app = ctx->app;
    wp_store *st = NULL;
    api_scope scope;
    char target[128];
    int64_t size = 0;
    int fd = -1, err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = media_in_scope(ctx, st, &scope, c->tenant_id, ref)) < 0 ||
        (err = wp_ingest_media_open(app->ingest, &fd, &size, c->tenant_id, ref)) < 0)
        goto out;
    if (strcmp(ctx->method, "HEAD") != 0) {
        snprintf(target, sizeof target, "media:%.80s", ref);
        json_t *d = json_pack("{s:I}", "bytes", (json_int_t)size);
        if ((err = wp_store_begin(st)) == 0 &&
            (err = api_audit(ctx, st, "media.download", target, d)) == 0)
            err = wp_store_commit(st);
        json_decref(d);
        if (err < 0) {
            wp_store_rollback(st);
            goto out;
        }
    }
    api_store_release(ctx, st);
    st = NULL;
    if ((err = wp_http_add_header(ctx, "Cache-Control", "private, max-age=3600")) < 0)
        goto out;
    err = wp_http_reply_fd(ctx, 200, "application/octet-stream", fd, (uint64_t)size);
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    api_store_release(ctx, st);
    return err;
}
