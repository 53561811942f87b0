/* SPDX-License-Identifier: MIT */
/* Who is calling: the rights check of every non-public route, login, logout and the session. */
#include "api/api.h"
#include "store/access.h"
#include "store/org.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/id.h"
#include "util/password.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SESSION_PREFIX "wps_"
#define BAD_LOGIN "invalid username or password"

int api_role_allows(enum wp_role role, const wp_role_setting *rs, enum wp_http_right right)
{
    switch (right) {
    case WP_RIGHT_HANDLE_ALERTS:
        return role != WP_ROLE_SALES && rs->handle_alerts;
    case WP_RIGHT_SESSION:
    case WP_RIGHT_READ:
        return 1;
    case WP_RIGHT_WRITE:
        return role == WP_ROLE_ADMIN || role == WP_ROLE_MANAGER || role == WP_ROLE_SALES;
    case WP_RIGHT_MANAGE:
        return role == WP_ROLE_ADMIN || role == WP_ROLE_MANAGER;
    case WP_RIGHT_UNMASK:
        return rs->unmask || rs->view_pii;
    case WP_RIGHT_AUDIT:
        return role == WP_ROLE_ADMIN || role == WP_ROLE_AUDITOR;
    case WP_RIGHT_ADMIN:
        return role == WP_ROLE_ADMIN;
    default:
        return 0;
    }
}

/* The CSRF token of a session: derived from the session token, which an attacker's page can
 * neither read (HttpOnly) nor guess, so nothing more needs storing. */
static void csrf_of(char out[65], const char *token)
{
    char buf[128];
    snprintf(buf, sizeof buf, "workphone-csrf:%s", token);
    wp_token_hash(out, buf);
    sodium_memzero(buf, sizeof buf);
}

/* OPTIONS never gets here: no route has it, so the router answers it (204 with Allow) before
 * any authorization (src/http/server.c). */
static int safe_method(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

const api_caller *api_caller_of(const wp_http_ctx *ctx)
{
    return ctx->auth;
}

static int forbidden(wp_http_ctx *ctx, const char *who)
{
    return wp_http_reply_fail(ctx, 403, "forbidden", NULL, "%s may not use %s %s", who,
                              ctx->route->method, ctx->route->pattern);
}

/* A caller without the right to see personal data gets its tenant's scanner, which masks
 * every answer it is sent (src/api/view.c); the release hook drops it. ctx->auth is set at
 * once, so that the scanner is released even when the request is refused later. */
static int view_setup(wp_http_ctx *ctx, wp_store *st, api_caller *c, const char *tenant_id)
{
    const wp_app *app = ctx->app;
    ctx->auth = c;
    if (c->rs.view_pii)
        return 0;
    return wp_ingest_scanner(app->ingest, st, &c->scanner, tenant_id);
}

/* An integration's key: its role's rights, no session of its own. */
static int authorize_key(wp_http_ctx *ctx, api_caller *c, const char *token)
{
    wp_store *st = NULL;
    char hash[65];
    char who[64];
    int err;

    if (strlen(token) > 100)
        return wp_error_set(WP_EAUTH, "invalid or revoked API key");
    wp_token_hash(hash, token);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_api_key_auth(st, &c->key, hash, wp_time_now_us())) == 0 &&
        (err = wp_store_role_setting_get(st, &c->rs, c->key.tenant_id, c->key.role)) == 0)
        err = view_setup(ctx, st, c, c->key.tenant_id);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    c->kind = API_CALLER_KEY;
    c->tenant_id = c->key.tenant_id;
    if (ctx->route->right == WP_RIGHT_SESSION ||
        !api_role_allows(c->key.role, &c->rs, ctx->route->right)) {
        snprintf(who, sizeof who, "an API key with the role '%s'", wp_role_name(c->key.role));
        return forbidden(ctx, who);
    }
    ctx->auth = c;
    return 0;
}

int api_authorize(wp_http_ctx *ctx)
{
    const wp_app *app = ctx->app;
    enum wp_http_right right = ctx->route->right;
    wp_store *st = NULL;
    wp_session se;
    int err;

    if (!app || !app->ingest)
        return wp_error_set(WP_EAUTH, "authentication is required");
    api_caller *c = wp_arena_alloc(ctx->arena, sizeof *c);
    if (!c)
        return wp_error_set(WP_ENOMEM, "out of memory");
    memset(c, 0, sizeof *c);
    const char *bearer = wp_http_bearer(ctx);

    if (right == WP_RIGHT_DEVICE) {
        if (!bearer)
            return wp_error_set(WP_EAUTH, "a device token is required (Authorization: Bearer)");
        if ((err = wp_ingest_device_auth(app->ingest, &c->device, bearer)) < 0)
            return err;
        c->kind = API_CALLER_DEVICE;
        c->tenant_id = c->device.tenant_id;
        ctx->auth = c;
        return 0;
    }

    const char *token = bearer;
    if (!token) {
        token = wp_http_cookie(ctx, API_SESSION_COOKIE);
        c->via_cookie = 1;
    }
    if (!token || !*token)
        return wp_error_set(WP_EAUTH, "authentication is required: log in at /api/v1/auth/login");
    if (!c->via_cookie && !strncmp(token, API_KEY_PREFIX, strlen(API_KEY_PREFIX)))
        return authorize_key(ctx, c, token);
    /* Beside the CSRF token below: a browser names the page's origin on every cross-origin
     * request, and no page of another origin has any business writing with our cookie. */
    if (c->via_cookie && !safe_method(ctx->method) && !wp_http_origin_ok(ctx))
        return wp_http_reply_fail(ctx, 403, "cross_origin", NULL,
                                  "a cookie-authenticated %s from another origin's page is "
                                  "refused (Origin does not match Host)",
                                  ctx->method);
    if (strncmp(token, SESSION_PREFIX, strlen(SESSION_PREFIX)) != 0 || strlen(token) > 100)
        return wp_error_set(WP_EAUTH, "invalid or expired session");
    wp_token_hash(c->session_hash, token);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_session_auth(st, &se, c->session_hash, wp_time_now_us())) == 0 &&
        (err = wp_store_role_setting_get(st, &c->rs, se.employee.tenant_id,
                                         se.employee.role)) == 0)
        err = view_setup(ctx, st, c, se.employee.tenant_id);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    c->kind = API_CALLER_EMPLOYEE;
    c->employee = se.employee;
    c->tenant_id = c->employee.tenant_id;
    c->session_expires_us = se.expires_us;
    csrf_of(c->csrf_token, token);

    /* A browser sends the cookie along with any page's form or fetch; only our own console can
     * know the CSRF token to send with it. A bearer header is never sent by a browser on its
     * own, so it needs none. */
    if (c->via_cookie && !safe_method(ctx->method)) {
        const char *h = wp_http_header(ctx, API_CSRF_HEADER);
        if (!h || strlen(h) != 64 || sodium_memcmp(h, c->csrf_token, 64) != 0)
            return wp_http_reply_fail(ctx, 403, "csrf_failed", NULL,
                                      "a cookie-authenticated %s needs the " API_CSRF_HEADER
                                      " header of the login reply",
                                      ctx->method);
    }
    if (!api_role_allows(c->employee.role, &c->rs, right)) {
        char who[64];
        snprintf(who, sizeof who, "the role '%s'", wp_role_name(c->employee.role));
        return forbidden(ctx, who);
    }
    ctx->auth = c;
    return 0;
}

/* --- login --------------------------------------------------------------------------------- */

/* A real argon2id hash to check unknown usernames against, so that a login for a name that
 * does not exist takes as long as one with a wrong password. */
static char dummy_hash[WP_PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    if (wp_password_hash(dummy_hash, "workphone-no-such-user") < 0)
        dummy_hash[0] = '\0';
}

static json_t *employee_json(const wp_employee *e)
{
    return json_pack("{s:s,s:s,s:o,s:s,s:s,s:s}", "id", e->id, "tenant_id", e->tenant_id, "name",
                     api_jstr(e->name, 0), "username", e->username, "role", wp_role_name(e->role),
                     "org_unit_id", e->org_unit_id);
}

static int session_cookie(wp_http_ctx *ctx, const char *token, long max_age)
{
    char v[256];
    /* Secure over https only (serve's own TLS, or a TLS proxy in front): on plain http a
     * browser would drop the cookie */
    snprintf(v, sizeof v, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s",
             API_SESSION_COOKIE, token, max_age, wp_http_is_https(ctx) ? "; Secure" : "");
    /* with the ready reply only: an error answered instead never sets it */
    int err = wp_http_ready_header(ctx, "Set-Cookie", v);
    sodium_memzero(v, sizeof v);
    return err;
}

/* {"username", "via"}: the name as given, cut at 64 bytes on a character boundary (jansson
 * refuses half a character), never the password. */
static json_t *attempt_details(const char *username, const char *via)
{
    size_t n = strnlen(username, 65);
    if (n > 64) {
        n = 64;
        while (n && ((unsigned char)username[n] & 0xc0) == 0x80)
            n--;
    }
    return json_pack("{s:s%,s:s}", "username", username, n, "via", via);
}

static void actor_of(char out[WP_ID_LEN + 16], const wp_employee *emp)
{
    snprintf(out, WP_ID_LEN + 16, emp->id[0] ? "employee:%s" : "anonymous", emp->id);
}

/* A refused login costs an attacker nothing (no password is checked), so writing each to the
 * audit chain would let anyone flood it. The first refusal of an account (or, when the address
 * is what is locked, of the address) in a minute is audited; the rest of that minute only
 * answer 429. The first claims the minute before it writes its row, so refusals at once write
 * one row; a claim whose row could not be written is given back, so the next refusal is
 * audited. Per node: a few nodes write a few rows. A slot table, not a list: a collision at
 * worst audits one refusal more. */
#define THROTTLE_SLOTS 1024
static struct {
    uint64_t key;
    int64_t minute;
} throttle_seen[THROTTLE_SLOTS];
static pthread_mutex_t throttle_mu = PTHREAD_MUTEX_INITIALIZER;

/* (a, b)'s slot and key, and now_us's minute. a and b are never NULL: a tenant key or
 * "address", a username or ctx->client (an array). */
static size_t throttle_slot(uint64_t *key, int64_t *minute, const char *a, const char *b,
                            int64_t now_us)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;
    for (const char *p = b; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    *key = h;
    *minute = now_us / 60000000;
    return (size_t)(h % THROTTLE_SLOTS);
}

/* 1 when this is (a, b)'s first refusal in now_us's minute: the minute is claimed for it. */
static int throttle_claim(const char *a, const char *b, int64_t now_us)
{
    uint64_t h;
    int64_t minute;
    size_t i = throttle_slot(&h, &minute, a, b, now_us);
    pthread_mutex_lock(&throttle_mu);
    int first = throttle_seen[i].key != h || throttle_seen[i].minute != minute;
    if (first) {
        throttle_seen[i].key = h;
        throttle_seen[i].minute = minute;
    }
    pthread_mutex_unlock(&throttle_mu);
    return first;
}

/* Give back a claim whose audit row could not be written. */
static void throttle_unclaim(const char *a, const char *b, int64_t now_us)
{
    uint64_t h;
    int64_t minute;
    size_t i = throttle_slot(&h, &minute, a, b, now_us);
    pthread_mutex_lock(&throttle_mu);
    if (throttle_seen[i].key == h && throttle_seen[i].minute == minute)
        throttle_seen[i].minute = INT64_MIN;
    pthread_mutex_unlock(&throttle_mu);
}

/* Take this attempt's place among the failures before the password is checked. The store
 * counts and records in one step, so logins sent at once cannot all pass a count that none of
 * them has raised yet: past 5 for the account or 30 for the address, 429 with Retry-After,
 * without checking the password, and an audit row in the tenant the login named (tenant_id;
 * NULL: none), once a minute (throttle_claim). Unknown accounts lock the same way as real ones. A good password later clears
 * the account's failures, this one included; a wrong one leaves it counted. */
static int attempt_or_reply(wp_http_ctx *ctx, wp_store *st, const char *tenant_id,
                            const char *tenant_key, const char *username,
                            const wp_employee *emp, const char *via, int *refused,
                            int64_t *counted_us)
{
    wp_login_throttle t;
    int64_t now = wp_time_now_us();
    char actor[WP_ID_LEN + 16], v[32];
    int err;

    *refused = 0;
    if ((err = wp_store_login_attempt(st, &t, tenant_key, username, ctx->client, now,
                                      (int64_t)API_LOGIN_WINDOW_S * 1000000, API_LOGIN_USER_MAX,
                                      API_LOGIN_CLIENT_MAX)) < 0)
        return err;
    int64_t unlock = t.user_unlock_us > t.client_unlock_us ? t.user_unlock_us : t.client_unlock_us;
    if (!unlock) {
        *counted_us = now;
        return 0;
    }
    *refused = 1;
    /* at least 1: the store counts failures younger than the window, so unlock > now */
    long retry = (long)((unlock - now + 999999) / 1000000);
    const char *key_a = t.user_unlock_us ? tenant_key : "address";
    const char *key_b = t.user_unlock_us ? username : ctx->client;
    if (tenant_id && throttle_claim(key_a, key_b, now)) {
        json_t *d = attempt_details(username, via);
        actor_of(actor, emp);
        if (!d)
            err = wp_error_set(WP_ENOMEM, "out of memory"); /* not a row without its details */
        else if ((err = wp_store_begin(st)) == 0 &&
                 (err = api_audit_as(ctx, st, tenant_id, actor, "auth.login_throttled", NULL,
                                     d)) == 0)
            err = wp_store_commit(st);
        if (err < 0)
            wp_store_rollback(st);
        json_decref(d);
        if (err < 0) {
            throttle_unclaim(key_a, key_b, now);
            return err;
        }
    }
    snprintf(v, sizeof v, "%ld", retry);
    if ((err = wp_http_add_header(ctx, "Retry-After", v)) < 0)
        return err;
    return wp_http_reply_fail(ctx, 429, "too_many_attempts",
                              json_pack("{s:I}", "retry_after_s", (json_int_t)retry),
                              "too many failed logins %s; try again in %ld seconds",
                              t.user_unlock_us ? "for this account" : "from this address", retry);
}

/* The request that counted an attempt at counted_us failed with err, not for a wrong password:
 * take the attempt back (a store that failed is no guess at the password). Best effort: the
 * request's own error is what the client gets. */
static void attempt_undo(wp_http_ctx *ctx, const char *tenant_key, const char *username,
                         int64_t counted_us, int err)
{
    wp_store *st = NULL;
    if (err >= 0 || !counted_us || api_store_acquire(ctx, &st) < 0)
        return;
    (void)wp_store_login_attempt_undo(st, tenant_key, username, ctx->client, counted_us);
    api_store_release(ctx, st);
}

/* A failed login is audited in the tenant it named (when it named one); it was counted
 * before the password was checked. @return WP_EAUTH, or the store's error */
static int login_failed(wp_http_ctx *ctx, const char *tenant_id, const char *username,
                        const wp_employee *emp, const char *via)
{
    wp_store *st = NULL;
    char actor[WP_ID_LEN + 16];
    int err;

    if (!tenant_id)
        return wp_error_set(WP_EAUTH, BAD_LOGIN);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    actor_of(actor, emp);
    json_t *d = attempt_details(username, via);
    err = d ? api_audit_as(ctx, st, tenant_id, actor, "auth.login_failed", NULL, d)
            : wp_error_set(WP_ENOMEM, "out of memory"); /* not a row without its details */
    json_decref(d);
    if (err < 0)
        goto out;
    err = wp_store_commit(st);
out:
    if (err < 0 && st)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    return err < 0 ? err : wp_error_set(WP_EAUTH, BAD_LOGIN);
}

int api_auth_login(wp_http_ctx *ctx)
{
    json_t *body;
    wp_store *st = NULL;
    wp_employee emp;
    char tenant_id[WP_ID_LEN + 1], *hash = NULL;
    char token[WP_DEVICE_TOKEN_MAX], token_hash[65], csrf[65];
    int err, ok, refused, known_tenant = 0;
    int64_t counted_us = 0;
    wp_tenant tenant_row;

    memset(&emp, 0, sizeof emp);
    memset(&tenant_row, 0, sizeof tenant_row);
    tenant_id[0] = '\0';
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    const char *username = json_string_value(json_object_get(body, "username"));
    const char *password = json_string_value(json_object_get(body, "password"));
    json_t *jt = json_object_get(body, "tenant");
    if (!username || !password)
        return wp_error_set(WP_EINVAL, "'username' and 'password' are required strings");
    if (jt && !json_is_null(jt) && !json_is_string(jt))
        return wp_error_set(WP_EINVAL, "'tenant' must be a tenant's name");
    const char *tenant = json_string_value(jt);

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if (tenant && *tenant)
        err = wp_store_tenant_find(st, tenant_id, tenant);
    else
        err = wp_store_tenant_sole(st, tenant_id);
    if (err == WP_EINVAL && !(tenant && *tenant))
        goto out; /* "tenant is required": the deployment has several */
    if (err == 0) {
        known_tenant = 1;
        if ((err = wp_store_tenant_get(st, &tenant_row, tenant_id)) == 0)
            err = wp_store_employee_find_login(st, &emp, &hash, tenant_id, username);
    }
    if (err < 0 && err != WP_ENOTFOUND && err != WP_EINVAL)
        goto out;
    if ((err = attempt_or_reply(ctx, st, known_tenant ? tenant_id : NULL,
                                known_tenant ? tenant_id : "", username, &emp, "login",
                                &refused, &counted_us)) < 0 ||
        refused)
        goto out;
    api_store_release(ctx, st);
    st = NULL;

    /* the same work and the same answer for an unknown tenant, an unknown user, a wrong
     * password and an inactive account: nothing tells them apart */
    if (strlen(password) > WP_PASSWORD_MAX) {
        ok = 0;
    } else if (hash) {
        ok = wp_password_verify(hash, password);
    } else {
        pthread_once(&dummy_once, make_dummy);
        if (dummy_hash[0])
            (void)wp_password_verify(dummy_hash, password);
        ok = 0;
    }
    if (!ok || !emp.active) {
        counted_us = 0; /* a wrong password stays counted */
        err = login_failed(ctx, known_tenant ? tenant_id : NULL, username, &emp, "login");
        goto out;
    }
    /* told only to who knows the password; the attempt is taken back (attempt_undo) */
    if (tenant_row.disabled_us) {
        err = wp_error_set(WP_EDISABLED, "tenant '%s' is disabled: its accounts cannot sign in "
                                         "until the operator enables it again",
                           tenant_row.name);
        goto out;
    }

    if ((err = wp_token_new(token, sizeof token, SESSION_PREFIX)) < 0)
        goto out;
    wp_token_hash(token_hash, token);
    csrf_of(csrf, token);
    int64_t now = wp_time_now_us(), expires = now + (int64_t)API_SESSION_TTL_S * 1000000;
    char actor[WP_ID_LEN + 16];
    snprintf(actor, sizeof actor, "employee:%s", emp.id);
    if ((err = api_store_acquire(ctx, &st)) < 0 || (err = wp_store_begin(st)) < 0)
        goto out;
    if ((err = wp_store_session_create(st, tenant_id, emp.id, token_hash, ctx->client, now,
                                       expires)) < 0 ||
        (err = wp_store_login_failures_clear(st, tenant_id, username)) < 0 ||
        (err = api_audit_as(ctx, st, tenant_id, actor, "auth.login", actor, NULL)) < 0 ||
        (err = session_cookie(ctx, token, API_SESSION_TTL_S)) < 0 ||
        (err = wp_http_ready_json(ctx, 200,
                                  json_pack("{s:s,s:s,s:o,s:o}", "token", token, "csrf_token",
                                            csrf, "expires_at", api_jtime(expires), "employee",
                                            employee_json(&emp)))) < 0 ||
        (err = wp_store_commit(st)) < 0)
        goto out;
    err = wp_http_ready_send(ctx);
out:
    if (err < 0 && st)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    attempt_undo(ctx, known_tenant ? tenant_id : "", username, counted_us, err);
    if (hash) {
        sodium_memzero(hash, strlen(hash));
        free(hash);
    }
    sodium_memzero(token, sizeof token);
    return err;
}

int api_auth_logout(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) == 0 &&
        (err = wp_store_session_revoke(st, c->session_hash, wp_time_now_us())) == 0 &&
        (err = api_audit(ctx, st, "auth.logout", NULL, NULL)) == 0 &&
        (err = session_cookie(ctx, "", 0)) == 0 && (err = wp_http_ready_json(ctx, 204, NULL)) == 0)
        err = wp_store_commit(st);
    if (err < 0)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    return err < 0 ? err : wp_http_ready_send(ctx);
}

int api_auth_session(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    return wp_http_reply_json(ctx, 200,
                              json_pack("{s:o,s:s,s:o,s:b}", "employee",
                                        employee_json(&c->employee), "csrf_token", c->csrf_token,
                                        "expires_at", api_jtime(c->session_expires_us),
                                        "via_cookie", c->via_cookie));
}

/* Change one's own password: the current one is checked (a wrong one counts as a failed
 * login), every session of the employee ends, and a new session is answered, so the caller
 * stays logged in and a stolen token does not. Only people have passwords: the route's right
 * is session, which API keys and devices never hold. */
int api_auth_password(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    json_t *body;
    wp_store *st = NULL;
    wp_employee emp;
    char *hash = NULL, new_hash[WP_PASSWORD_HASH_MAX];
    char token[WP_DEVICE_TOKEN_MAX], token_hash[65], csrf[65];
    int err, refused;
    int64_t counted_us = 0;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    const char *cur = json_string_value(json_object_get(body, "current_password"));
    const char *next = json_string_value(json_object_get(body, "new_password"));
    if (!cur || !next)
        return wp_error_set(WP_EINVAL,
                            "'current_password' and 'new_password' are required strings");
    if ((err = wp_password_check(next)) < 0)
        return err;
    if (!strcmp(cur, next))
        return wp_error_set(WP_EINVAL, "new_password is the same as the current one");

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_employee_find_login(st, &emp, &hash, c->tenant_id,
                                            c->employee.username)) < 0 ||
        (err = attempt_or_reply(ctx, st, c->tenant_id, c->tenant_id, c->employee.username, &emp,
                                "password_change", &refused, &counted_us)) < 0 ||
        refused)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    if (strlen(cur) > WP_PASSWORD_MAX || !wp_password_verify(hash, cur)) {
        counted_us = 0; /* a wrong password stays counted */
        err = login_failed(ctx, c->tenant_id, c->employee.username, &emp, "password_change");
        if (err == WP_EAUTH)
            err = wp_error_set(WP_EINVAL, "current_password is wrong");
        goto out;
    }
    if ((err = wp_password_hash(new_hash, next)) < 0 ||
        (err = wp_token_new(token, sizeof token, SESSION_PREFIX)) < 0)
        goto out;
    wp_token_hash(token_hash, token);
    csrf_of(csrf, token);
    int64_t now = wp_time_now_us(), expires = now + (int64_t)API_SESSION_TTL_S * 1000000;
    if ((err = api_store_acquire(ctx, &st)) < 0 || (err = wp_store_begin(st)) < 0)
        goto out;
    if ((err = wp_store_employee_set_password(st, c->tenant_id, emp.id, new_hash)) < 0 ||
        (err = wp_store_sessions_revoke_employee(st, NULL, c->tenant_id, emp.id, now)) < 0 ||
        (err = wp_store_session_create(st, c->tenant_id, emp.id, token_hash, ctx->client, now,
                                       expires)) < 0 ||
        (err = wp_store_login_failures_clear(st, c->tenant_id, c->employee.username)) < 0 ||
        (err = api_audit(ctx, st, "auth.password_change", NULL, NULL)) < 0 ||
        (err = session_cookie(ctx, token, API_SESSION_TTL_S)) < 0 ||
        (err = wp_http_ready_json(ctx, 200,
                                  json_pack("{s:s,s:s,s:o}", "token", token, "csrf_token", csrf,
                                            "expires_at", api_jtime(expires)))) < 0 ||
        (err = wp_store_commit(st)) < 0)
        goto out;
    err = wp_http_ready_send(ctx);
out:
    if (err < 0 && st)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    attempt_undo(ctx, c->tenant_id, c->employee.username, counted_us, err);
    if (hash) {
        sodium_memzero(hash, strlen(hash));
        free(hash);
    }
    sodium_memzero(new_hash, sizeof new_hash);
    sodium_memzero(token, sizeof token);
    return err;
}
