/* SPDX-License-Identifier: MIT */
/* The module's object: options, the access tokens' cache, the kick. */
#include "wecom/wecom_int.h"
#include "wecom/settings.h"
#include "util/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int wp_wecom_new(wp_wecom **out, const wp_wecom_options *o)
{
    wp_wecom *w;
    if (!o->ingest || !o->pool || !o->audit_key)
        return wp_error_set(WP_EINVAL, "wecom: no ingest, store pool or audit key");
    if (!(w = calloc(1, sizeof *w)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    w->o = *o;
    memcpy(w->key, o->audit_key, sizeof w->key);
    w->o.audit_key = NULL;
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
    sodium_memzero(w->key, sizeof w->key);
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
    err = wp_wecom__config_st(w, st, out, tenant_id);
    wp_store_connpool_release(w->o.pool, st);
    return err;
}

static void copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) /* the PUT takes no longer ones: a field too long is one not set */
        n = 0;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* The settings the archive's PUT writes (one table, secrets sealed), opened. */
int wp_wecom__config_st(wp_wecom *w, wp_store *st, wp_wecom_config *out, const char *tenant_id)
{
    wp_wecom_settings s;
    int err;
    if ((err = wp_wecom_settings_load(st, &s, w->key, tenant_id)) < 0)
        return err;
    memset(out, 0, sizeof *out);
    copy(out->corp_id, sizeof out->corp_id, s.row.corp_id);
    copy(out->callback_token, sizeof out->callback_token, s.callback_token);
    copy(out->encoding_aes_key, sizeof out->encoding_aes_key, s.encoding_aes_key);
    copy(out->contact_secret, sizeof out->contact_secret, s.contact_secret);
    copy(out->api_base, sizeof out->api_base, s.api_base);
    out->updated_us = s.row.updated_us;
    wp_wecom_settings_wipe(&s);
    return 0;
}
