/* SPDX-License-Identifier: MIT */
/* The module's object: options, the access tokens' cache, the kick. */
#include "wecom/wecom_int.h"
#include "util/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int wp_wecom_new(wp_wecom **out, const wp_wecom_options *o)
{
    wp_wecom *w;
    if (!o->ingest || !o->pool)
        return wp_error_set(WP_EINVAL, "wecom: no ingest or store pool");
    if (!(w = calloc(1, sizeof *w)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    w->o = *o;
    if (!w->o.timeout_ms)
        w->o.timeout_ms = 15000;
    if (!w->o.attempts)
        w->o.attempts = 4;
    if (!w->o.backoff_ms)
        w->o.backoff_ms = 500;
    if (!w->o.poll_s)
        w->o.poll_s = 600;
    pthread_mutex_init(&w->mu, NULL);
    *out = w;
    return 0;
}

void wp_wecom_free(wp_wecom *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_tokens; i++) {
        if (w->tokens[i].token)
            sodium_memzero(w->tokens[i].token, strlen(w->tokens[i].token));
        free(w->tokens[i].token);
    }
    free(w->tokens);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void wp_wecom_kick(wp_wecom *w, const char *task)
{
    if (w && w->o.kick)
        w->o.kick(w->o.kick_ctx, task);
}

int wp_wecom__config(wp_wecom *w, wp_wecom_config *out, const char *tenant_id)
{
    wp_store *st = NULL;
    int err;
    if ((err = wp_store_connpool_acquire(w->o.pool, &st)) < 0)
        return err;
    err = wp_store_wecom_config_get(st, out, tenant_id);
    wp_store_connpool_release(w->o.pool, st);
    return err;
}
