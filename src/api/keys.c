/* SPDX-License-Identifier: MIT */
/* API keys for integrations: list, create (the key is shown once), revoke. */
#include "api/api.h"
#include "store/access.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/id.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *key_json(const wp_api_key *k)
{
    return json_pack("{s:s,s:o,s:s,s:o,s:s,s:o,s:o,s:o,s:o}", "id", k->id, "name",
                     api_jstr(k->name, 0), "role", wp_role_name(k->role), "org_unit_id",
                     api_jstr(k->org_unit_id, 1), "prefix", k->prefix, "created_by",
                     api_jstr(k->created_by, 1), "created_at", api_jtime(k->created_us),
                     "last_used_at", api_jtime(k->last_used_us), "revoked_at",
                     api_jtime(k->revoked_us));
}

int api_keys_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_api_key *v = NULL;
    size_t n = 0;
    json_t *items = NULL;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_api_keys_list(st, &v, &n, c->tenant_id);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(items, key_json(&v[i])) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    err = api_reply_page(ctx, items, NULL);
    items = NULL;
out:
    json_decref(items);
    free(v);
    return err;
}

int api_keys_create(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    json_t *body, *o = NULL;
    wp_store *st = NULL;
    wp_api_key k;
    enum wp_role role;
    char token[WP_DEVICE_TOKEN_MAX], hash[65], prefix[WP_API_KEY_PREFIX_LEN + 1], target[64];
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *role_s = json_string_value(json_object_get(body, "role"));
    json_t *ju = json_object_get(body, "org_unit_id");
    if (!name)
        return wp_error_set(WP_EINVAL, "'name' is a required string");
    if (!role_s || wp_role_parse(&role, role_s) < 0 || role == WP_ROLE_SALES)
        return wp_error_set(WP_EINVAL, "'role' must be admin, manager or auditor");
    if (ju && !json_is_null(ju) && !json_is_string(ju))
        return wp_error_set(WP_EINVAL, "'org_unit_id' must be an org unit's id");
    const char *unit = json_string_value(ju);
    if (role != WP_ROLE_MANAGER && unit && *unit)
        return wp_error_set(WP_EINVAL, "'org_unit_id' is only for a manager key");

    if ((err = wp_token_new(token, sizeof token, API_KEY_PREFIX)) < 0)
        return err;
    wp_token_hash(hash, token);
    memcpy(prefix, token, WP_API_KEY_PREFIX_LEN); /* "wpk_" and 8 random characters */
    prefix[WP_API_KEY_PREFIX_LEN] = '\0';
    if ((err = api_store_acquire(ctx, &st)) < 0 || (err = wp_store_begin(st)) < 0)
        goto out;
    /* a key made with a key acts for the same person as the key that made it */
    if ((err = wp_store_api_key_create(st, &k, c->tenant_id, name, role, unit, prefix, hash,
                                       api_caller_employee_id(c), wp_time_now_us())) < 0)
        goto out;
    snprintf(target, sizeof target, "api_key:%s", k.id);
    json_t *d = json_pack("{s:s,s:s,s:s}", "name", name, "role", role_s, "prefix", prefix);
    /* a NULL d (out of memory) would write the row without its details */
    err = d ? api_audit(ctx, st, "api_key.create", target, d)
            : wp_error_set(WP_ENOMEM, "out of memory");
    json_decref(d);
    if (err < 0)
        goto out;
    /* the reply (with the only copy of the secret) is made before the commit */
    if (!(o = key_json(&k)) || json_object_set_new(o, "key", json_string(token)) < 0) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = wp_http_ready_json(ctx, 201, o);
    o = NULL;
    if (err < 0 || (err = wp_store_commit(st)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    err = wp_http_ready_send(ctx);
out:
    if (err < 0 && st)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    json_decref(o);
    sodium_memzero(token, sizeof token);
    return err;
}

int api_keys_revoke(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    char target[64];
    int err;

    snprintf(target, sizeof target, "api_key:%.40s", id);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) == 0 &&
        (err = wp_store_api_key_revoke(st, c->tenant_id, id, wp_time_now_us())) == 0 &&
        (err = api_audit(ctx, st, "api_key.revoke", target, NULL)) == 0 &&
        (err = wp_http_ready_json(ctx, 204, NULL)) == 0) /* made before the commit */
        err = wp_store_commit(st);
    if (err < 0)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    return err < 0 ? err : wp_http_ready_send(ctx);
}

int api_keys_audit_ended(wp_http_ctx *ctx, wp_store *st, const wp_api_key_end *v, size_t n)
{
    char target[64];
    int err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        const wp_api_key *k = &v[i].key;
        json_t *d = json_pack("{s:s,s:s,s:o,s:s}", "reason", v[i].reason, "creator",
                              k->created_by, "name", api_jstr(k->name, 0), "role",
                              wp_role_name(k->role));
        snprintf(target, sizeof target, "api_key:%s", k->id);
        err = d ? api_audit(ctx, st, "api_key.revoke", target, d)
                : wp_error_set(WP_ENOMEM, "out of memory");
        json_decref(d);
    }
    return err;
}

int api_keys_end_unheld(wp_http_ctx *ctx, wp_store *st, const char *creator_id, int64_t *n)
{
    wp_api_key_end *v = NULL;
    size_t len = 0;
    int err = wp_store_api_keys_end_unheld(st, &v, &len, api_caller_of(ctx)->tenant_id,
                                           creator_id, wp_time_now_us());
    if (err == 0)
        err = api_keys_audit_ended(ctx, st, v, len);
    free(v);
    if (n)
        *n = (int64_t)len;
    return err;
}
