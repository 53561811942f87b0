/* SPDX-License-Identifier: MIT */
/* The tenant's integrations: WeCom (CONTRACT §6, GET/PUT /api/v1/integrations/wecom) with the
 * chat archive's state, its held records and a retry. Secrets are sealed before they are stored
 * (src/wecom/settings.c), never answered back, never logged, never in an audit row: those name
 * the fields that changed, not their values. */
#include "api/api.h"
#include "store/store.h"
#include "store/wecom_archive.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/utf8.h"
#include "wecom/archive.h"
#include "wecom/settings.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define AES_KEY_LEN 43 /* characters of an EncodingAESKey */

/* The secret fields, as the body and the sealing name them. */
static const char *const secret_fields[] = {"callback_token", "encoding_aes_key", "contact_secret",
                                            "archive_secret", "proxy_password", NULL};

static char *row_secret(wp_wecom_settings_row *r, size_t i)
{
    char *v[] = {r->callback_token, r->encoding_aes_key, r->contact_secret, r->archive_secret,
                 r->proxy_password};
    return v[i];
}

/* Where WeCom sends this tenant's callbacks, as the request reached us: what the admin pastes
 * into WeCom's console. */
static json_t *callback_url(wp_http_ctx *ctx, const char *tenant_id)
{
    const char *host = wp_http_header(ctx, "Host");
    char url[512];
    int ok = host && *host && strlen(host) < 256 &&
             strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
                 strlen(host);
    snprintf(url, sizeof url, "%s%s%s/api/v1/wecom/callback/%s",
             ok ? (wp_http_is_https(ctx) ? "https" : "http") : "", ok ? "://" : "",
             ok ? host : "", tenant_id);
    return json_string(url);
}

static json_t *state_json(const wp_wecom_archive_state *s)
{
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o*,s:o,s:o,s:b}", "seq",
        (json_int_t)s->seq, "records", (json_int_t)s->records, "stored", (json_int_t)s->stored,
        "duplicates", (json_int_t)s->duplicates, "pulls", (json_int_t)s->pulls, "errors",
        (json_int_t)s->errors, "failures", (json_int_t)s->failures, "held", (json_int_t)s->held,
        "held_retryable", (json_int_t)s->held_retryable, "last_pull_at",
        api_jtime(s->last_pull_us), "last_record_at", api_jtime(s->last_record_us), "last_error",
        s->last_error[0] ? json_string(s->last_error) : NULL, "last_error_at",
        api_jtime(s->last_error_us), "next_pull_at", api_jtime(s->next_due_us), "retry_pending",
        s->retry_gen > s->retried_gen);
}

/* The settings as GET answers them: never a secret, only whether each is set. */
static int settings_json(wp_http_ctx *ctx, wp_store *st, const char *tenant_id, json_t **out)
{
    wp_wecom_settings_row row;
    wp_wecom_archive_state s;
    wp_wecom_key_row *keys = NULL;
    size_t n = 0;
    json_t *o = NULL, *secrets = NULL, *ks = NULL;
    int err, configured;

    memset(&row, 0, sizeof row);
    if ((err = wp_store_wecom_settings_get(st, &row, tenant_id)) < 0 && err != WP_ENOTFOUND)
        return err;
    configured = err == 0;
    if (!configured) { /* the defaults a first PUT gets */
        row.archive_enabled = 1;
        row.pull_limit = 1000;
        row.pull_interval_s = 60;
        row.backoff_max_s = 600;
        row.timeout_s = 10;
    }
    if ((err = wp_store_wecom_archive_state_get(st, &s, tenant_id)) < 0 ||
        (err = wp_store_wecom_keys_list(st, &keys, &n, tenant_id, 0)) < 0)
        return err;
    if (!(secrets = json_object()) || !(ks = json_array()))
        goto oom;
    for (size_t i = 0; secret_fields[i]; i++)
        if (json_object_set_new(secrets, secret_fields[i], json_boolean(row_secret(&row, i)[0])) <
            0)
            goto oom;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(ks, json_pack("{s:I,s:s,s:i,s:o}", "version",
                                                (json_int_t)keys[i].version, "fingerprint",
                                                keys[i].fingerprint, "bits", keys[i].bits,
                                                "created_at", api_jtime(keys[i].created_us))) < 0)
            goto oom;
    o = json_pack("{s:b,s:o,s:s,s:b,s:o,s:o,s:o,s:O,s:b,s:i,s:i,s:i,s:i,s:O,s:o,s:I,s:o}",
                  "configured", configured, "corp_id", api_jstr(row.corp_id, 1), "api_base",
                  row.api_base[0] ? row.api_base : WP_WECOM_API_BASE_DEFAULT, "api_base_default",
                  !row.api_base[0], "callback_url", callback_url(ctx, tenant_id), "sdk_path",
                  api_jstr(row.sdk_path, 1), "proxy", api_jstr(row.proxy, 1), "secrets", secrets,
                  "archive_enabled", row.archive_enabled, "pull_limit", row.pull_limit,
                  "pull_interval_s", row.pull_interval_s, "backoff_max_s", row.backoff_max_s,
                  "timeout_s", row.timeout_s, "archive_private_keys", ks, "archive_state",
                  state_json(&s), "version", (json_int_t)row.version, "updated_at",
                  api_jtime(row.updated_us));
    if (!o)
        goto oom;
    *out = o;
    err = 0;
out:
    json_decref(secrets);
    json_decref(ks);
    wp_wecom_key_rows_free(keys, n);
    sodium_memzero(&row, sizeof row);
    return err;
oom:
    err = wp_error_set(WP_ENOMEM, "out of memory");
    goto out;
}

int api_integrations_wecom_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    json_t *o = NULL;
    int err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = settings_json(ctx, st, c->tenant_id, &o);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    return wp_http_reply_json(ctx, 200, o);
}

/* body[field]: absent (*set 0), null or "" (*set 1, *out NULL: cleared), or a one-line string
 * of at most max bytes (*set 1). */
static int opt_text(json_t *body, const char *field, size_t max, int *set, const char **out)
{
    json_t *v = json_object_get(body, field);
    *set = v != NULL;
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return wp_error_set(WP_EINVAL, "'%s' must be a string or null", field);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > max)
        return wp_error_set(WP_EINVAL, "'%s' is longer than %zu bytes", field, max);
    if (len && wp_text_check(field, s, len, max, 0) < 0)
        return WP_EINVAL;
    *out = len ? s : NULL;
    return 0;
}

/* body[field] as an integer in [lo, hi] into *out; absent: unchanged. */
static int opt_int(json_t *body, const char *field, int lo, int hi, int *out)
{
    json_t *v = json_object_get(body, field);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return wp_error_set(WP_EINVAL, "'%s' must be an integer from %d to %d", field, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

/* A URL a server is reached at: http(s)://, printable ASCII without blanks. */
static int check_url(const char *field, const char *u)
{
    if (!u)
        return 0;
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        return wp_error_set(WP_EINVAL, "'%s' must start with https:// or http://", field);
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return wp_error_set(WP_EINVAL, "'%s' holds a blank or a non-ASCII character", field);
    return 0;
}

static int add_name(json_t *changed, const char *name)
{
    return json_array_append_new(changed, json_string(name)) < 0
               ? wp_error_set(WP_ENOMEM, "out of memory")
               : 0;
}

/* A text field of the row: set (a copy) when the body gives it. */
static int put_text(json_t *changed, char *dst, size_t cap, const char *name, int set,
                    const char *v)
{
    if (!set)
        return 0;
    if (strcmp(dst, v ? v : "") != 0) {
        int err = add_name(changed, name);
        if (err < 0)
            return err;
    }
    snprintf(dst, cap, "%s", v ? v : "");
    return 0;
}

/* The private keys of the body: [{"version": N, "pem": "..." | null}]. Checked before the
 * transaction; pem null removes that version. */
struct key_in {
    int64_t version;
    const char *pem; /* NULL: remove */
    wp_wecom_key_info info;
};

static int parse_keys(json_t *body, struct key_in *out, size_t *n)
{
    json_t *v = json_object_get(body, "archive_private_keys"), *k;
    size_t i;
    *n = 0;
    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) > WP_WECOM_KEYS_MAX)
        return wp_error_set(WP_EINVAL, "'archive_private_keys' must be an array of at most %d"
                                       " {\"version\", \"pem\"}",
                            WP_WECOM_KEYS_MAX);
    json_array_foreach(v, i, k)
    {
        json_t *ver = json_object_get(k, "version"), *pem = json_object_get(k, "pem"), *ign;
        struct key_in *x = &out[(*n)++];
        const char *keyname;
        memset(x, 0, sizeof *x); /* "pem": null leaves pem NULL: a removal */
        if (!json_is_object(k))
            return wp_error_set(WP_EINVAL, "'archive_private_keys[%zu]' is not an object", i);
        json_object_foreach(k, keyname, ign)
        {
            if (strcmp(keyname, "version") != 0 && strcmp(keyname, "pem") != 0)
                return wp_error_set(WP_EINVAL,
                                    "'archive_private_keys[%zu]' has an unknown field '%s'", i,
                                    keyname);
        }
        if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
            json_integer_value(ver) > INT32_MAX)
            return wp_error_set(WP_EINVAL, "'archive_private_keys[%zu]' needs a \"version\" from"
                                           " 1 (WeCom's publickey_ver)",
                                i);
        x->version = (int64_t)json_integer_value(ver);
        for (size_t j = 0; j + 1 < *n; j++)
            if (out[j].version == x->version)
                return wp_error_set(WP_EINVAL, "'archive_private_keys' names version %lld twice",
                                    (long long)x->version);
        if (json_is_null(pem))
            continue;
        if (!json_is_string(pem))
            return wp_error_set(WP_EINVAL, "'archive_private_keys[%zu].pem' must be a string"
                                           " (a PEM private key) or null (remove it)",
                                i);
        x->pem = json_string_value(pem);
        if (wp_wecom_key_check(&x->info, x->pem) < 0) {
            char why[200];
            snprintf(why, sizeof why, "%s", wp_error_last());
            return wp_error_set(WP_EINVAL, "'archive_private_keys[%zu].pem': %s", i, why);
        }
    }
    return 0;
}

/* PUT {"corp_id", "callback_token", "encoding_aes_key", "contact_secret", "archive_secret",
 * "archive_private_keys": [{"version", "pem"}], "api_base", "sdk_path", "proxy",
 * "proxy_password", "archive_enabled", "pull_limit", "pull_interval_s", "backoff_max_s",
 * "timeout_s"}: a merge. A field left out keeps its value (the console never sees the secrets
 * it would have to send back); null or "" clears an optional one; keys are added or replaced
 * by version, and removed with "pem": null. */
int api_integrations_wecom_put(wp_http_ctx *ctx)
{
    static const char *const fields[] = {
        "corp_id",        "callback_token",  "encoding_aes_key", "contact_secret",
        "archive_secret", "archive_private_keys", "api_base",    "sdk_path",
        "proxy",          "proxy_password",  "archive_enabled",  "pull_limit",
        "pull_interval_s", "backoff_max_s",  "timeout_s",        NULL};
    const api_caller *c = api_caller_of(ctx);
    const wp_app *app = ctx->app;
    wp_store *st = NULL;
    wp_wecom_settings_row row;
    struct key_in keys[WP_WECOM_KEYS_MAX];
    size_t n_keys = 0;
    json_t *body, *changed = NULL, *added = NULL, *removed = NULL, *details = NULL, *reply = NULL;
    const char *corp_id, *api_base, *sdk_path, *proxy, *secrets[5];
    int set_corp, set_base, set_sdk, set_proxy, set_secret[5], err;
    int64_t version = 0;

    memset(&row, 0, sizeof row);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = opt_text(body, "corp_id", WP_WECOM_CORP_ID_MAX, &set_corp, &corp_id)) < 0 ||
        (err = opt_text(body, "api_base", WP_WECOM_URL_MAX, &set_base, &api_base)) < 0 ||
        (err = check_url("api_base", api_base)) < 0 ||
        (err = opt_text(body, "sdk_path", WP_WECOM_PATH_MAX, &set_sdk, &sdk_path)) < 0 ||
        (err = opt_text(body, "proxy", WP_WECOM_URL_MAX, &set_proxy, &proxy)) < 0 ||
        (err = parse_keys(body, keys, &n_keys)) < 0)
        return err;
    for (size_t i = 0; secret_fields[i]; i++)
        if ((err = opt_text(body, secret_fields[i], WP_WECOM_SECRET_MAX, &set_secret[i],
                            &secrets[i])) < 0)
            return err;
    if (corp_id && strspn(corp_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                       strlen(corp_id))
        return wp_error_set(WP_EINVAL, "'corp_id' must be letters, digits, '_' or '-'");
    if (set_corp && !corp_id)
        return wp_error_set(WP_EINVAL, "'corp_id' cannot be cleared");
    if (secrets[1] && (strlen(secrets[1]) != AES_KEY_LEN ||
                       strspn(secrets[1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789") != AES_KEY_LEN))
        return wp_error_set(WP_EINVAL, "'encoding_aes_key' must be %d letters and digits",
                            AES_KEY_LEN);
    if (sdk_path && (err = wp_wecom_archiver_sdk_path_ok(app->wecom_archive, sdk_path)) < 0)
        return err;

    if (!(changed = json_array()) || !(added = json_array()) || !(removed = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if ((err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    if ((err = wp_store_wecom_settings_get(st, &row, c->tenant_id)) == WP_ENOTFOUND) {
        if (!corp_id) {
            err = wp_error_set(WP_EINVAL, "'corp_id' is required the first time");
            goto out;
        }
        memset(&row, 0, sizeof row);
        row.archive_enabled = 1;
        row.pull_limit = 1000;
        row.pull_interval_s = 60;
        row.backoff_max_s = 600;
        row.timeout_s = 10;
    } else if (err < 0) {
        goto out;
    }
    if ((err = put_text(changed, row.corp_id, sizeof row.corp_id, "corp_id", set_corp,
                        corp_id)) < 0 ||
        (err = put_text(changed, row.api_base, sizeof row.api_base, "api_base", set_base,
                        api_base)) < 0 ||
        (err = put_text(changed, row.sdk_path, sizeof row.sdk_path, "sdk_path", set_sdk,
                        sdk_path)) < 0 ||
        (err = put_text(changed, row.proxy, sizeof row.proxy, "proxy", set_proxy, proxy)) < 0)
        goto out;
    int before[5] = {row.archive_enabled, row.pull_limit, row.pull_interval_s, row.backoff_max_s,
                     row.timeout_s};
    json_t *en = json_object_get(body, "archive_enabled");
    if (en && !json_is_boolean(en)) {
        err = wp_error_set(WP_EINVAL, "'archive_enabled' must be true or false");
        goto out;
    }
    if (en)
        row.archive_enabled = json_is_true(en);
    if ((err = opt_int(body, "pull_limit", 1, WP_WECOM_PULL_MAX, &row.pull_limit)) < 0 ||
        (err = opt_int(body, "pull_interval_s", 1, 86400, &row.pull_interval_s)) < 0 ||
        (err = opt_int(body, "backoff_max_s", 1, 86400, &row.backoff_max_s)) < 0 ||
        (err = opt_int(body, "timeout_s", 1, 300, &row.timeout_s)) < 0)
        goto out;
    int after[5] = {row.archive_enabled, row.pull_limit, row.pull_interval_s, row.backoff_max_s,
                    row.timeout_s};
    static const char *const numbers[] = {"archive_enabled", "pull_limit", "pull_interval_s",
                                          "backoff_max_s", "timeout_s"};
    for (int i = 0; i < 5 && err == 0; i++)
        if (before[i] != after[i])
            err = add_name(changed, numbers[i]);
    /* the secrets: sealed for this tenant and field; named in the audit row, never shown */
    for (size_t i = 0; secret_fields[i] && err == 0; i++) {
        char *sealed = NULL;
        if (!set_secret[i])
            continue;
        if (secrets[i] &&
            (err = wp_wecom_seal(&sealed, app->audit_key, c->tenant_id, secret_fields[i],
                                 secrets[i])) < 0)
            break;
        if (sealed && strlen(sealed) > WP_WECOM_SEALED_MAX)
            err = wp_error_set(WP_EINVAL, "'%s' is too long", secret_fields[i]);
        else
            snprintf(row_secret(&row, i), WP_WECOM_SEALED_MAX + 1, "%s", sealed ? sealed : "");
        free(sealed);
        if (err == 0)
            err = add_name(changed, secret_fields[i]);
    }
    if (err < 0 || (err = wp_store_wecom_settings_put(st, &version, c->tenant_id, &row,
                                                      wp_time_now_us())) < 0)
        goto out;
    for (size_t i = 0; i < n_keys && err == 0; i++) {
        char *sealed = NULL, field[40];
        snprintf(field, sizeof field, "archive_key_%lld", (long long)keys[i].version);
        if (keys[i].pem && (err = wp_wecom_seal(&sealed, app->audit_key, c->tenant_id, field,
                                                keys[i].pem)) < 0)
            break;
        err = wp_store_wecom_key_put(st, c->tenant_id, keys[i].version, sealed,
                                     keys[i].info.fingerprint, keys[i].info.bits,
                                     wp_time_now_us());
        free(sealed);
        if (err == 0)
            err = json_array_append_new(
                      keys[i].pem ? added : removed,
                      keys[i].pem ? json_pack("{s:I,s:s}", "version", (json_int_t)keys[i].version,
                                              "fingerprint", keys[i].info.fingerprint)
                                  : json_integer(keys[i].version)) < 0
                      ? wp_error_set(WP_ENOMEM, "out of memory")
                      : 0;
    }
    if (err < 0)
        goto out;
    if (!(details = json_pack("{s:O,s:O,s:O,s:I}", "changed", changed, "keys_added", added,
                              "keys_removed", removed, "version", (json_int_t)version))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    /* the reply is read before the commit: a read that failed after it would answer an
     * error for settings that were stored */
    err = settings_json(ctx, st, c->tenant_id, &reply);
    /* and made before it (api_audit_reply): nothing left to fail after it */
    json_t *answer = err == 0 ? reply : NULL;
    if (err == 0)
        reply = NULL;
    err = api_audit_reply(ctx, st, err, "wecom.settings.put", "tenant", c->tenant_id, details,
                          answer, 200);
    st = NULL;
    if (err == 0)
        wp_wecom_archiver_kick(app->wecom_archive);
out:
    if (st)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    sodium_memzero(&row, sizeof row);
    json_decref(changed);
    json_decref(added);
    json_decref(removed);
    json_decref(details);
    json_decref(reply);
    return err;
}

/* GET ?kind=&limit=&cursor=: the records the archive holds back, newest seq first, without
 * their contents (what was said is read through the archive's search, audited). */
int api_integrations_wecom_held(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_wecom_held_row *rows = NULL;
    char next[WP_ARCHIVE_CURSOR_MAX];
    wp_store *st = NULL;
    json_t *items = NULL;
    unsigned limit;
    size_t n = 0;
    int err;

    if ((err = api_query_limit(ctx, &limit)) < 0)
        return err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_wecom_held_list(st, &rows, &n, next, c->tenant_id,
                                   wp_http_query(ctx, "kind"), wp_http_query(ctx, "cursor"),
                                   limit);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    if (!(items = json_array()))
        goto oom;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s,s:o,s:o,s:s,s:s,s:I,s:o,s:o}", "id", rows[i].id, "seq",
                              rows[i].seq ? json_integer(rows[i].seq) : json_null(), "msgid",
                              api_jstr(rows[i].msgid, 1), "kind", rows[i].kind, "reason",
                              rows[i].reason, "attempts", (json_int_t)rows[i].attempts,
                              "created_at", api_jtime(rows[i].created_us), "updated_at",
                              api_jtime(rows[i].updated_us));
        if (!o || json_array_append_new(items, o) < 0)
            goto oom;
    }
    wp_wecom_held_rows_free(rows, n);
    return api_reply_page(ctx, items, next[0] ? next : NULL);
oom:
    wp_wecom_held_rows_free(rows, n);
    json_decref(items);
    return wp_error_set(WP_ENOMEM, "out of memory");
}

/* POST: try the retryable held records again now (after a key or a wecom_userid was added). */
int api_integrations_wecom_retry(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const wp_app *app = ctx->app;
    wp_wecom_settings_row row;
    wp_store *st = NULL;
    int err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) == 0 &&
        (err = wp_store_wecom_settings_get(st, &row, c->tenant_id)) == 0)
        err = wp_store_wecom_archive_kick(st, c->tenant_id);
    sodium_memzero(&row, sizeof row);
    if (err == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "the tenant has no wecom settings");
    if ((err = api_audit_commit(ctx, st, err, "wecom.archive.retry", "tenant", c->tenant_id,
                                API_AUDIT_NO_DETAILS)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    api_store_release(ctx, st);
    wp_wecom_archiver_kick(app->wecom_archive);
    return wp_http_reply_empty(ctx, 202);
}
