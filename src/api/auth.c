/* SPDX-License-Identifier: MIT */
/* Who is calling: the rights check of every non-public route, login, logout and the session. */
#include "api/api.h"
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

/* The rights of each role. Until the data scopes of the next issue land, managers and sales
 * get their own session and nothing else; widening this table is all it will take, since
 * every console list already filters through api_scope_for(). */
static int role_allows(enum wp_role role, enum wp_http_right right)
{
    switch (right) {
    case WP_RIGHT_SESSION:
        return 1;
    case WP_RIGHT_READ:
        return role == WP_ROLE_ADMIN || role == WP_ROLE_AUDITOR;
    case WP_RIGHT_WRITE:
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

static int safe_method(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS");
}

const api_caller *api_caller_of(const wp_http_ctx *ctx)
{
    return ctx->auth;
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
    /* wpk_ API keys will be told apart here */
    if (strncmp(token, SESSION_PREFIX, strlen(SESSION_PREFIX)) != 0 || strlen(token) > 100)
        return wp_error_set(WP_EAUTH, "invalid or expired session");
    wp_token_hash(c->session_hash, token);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_session_auth(st, &se, c->session_hash, wp_time_now_us());
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
    if (!role_allows(c->employee.role, right))
        return wp_http_reply_fail(ctx, 403, "forbidden", NULL,
                                  "the role '%s' may not use %s %s", wp_role_name(c->employee.role),
                                  ctx->route->method, ctx->route->pattern);
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
    const char *proto = wp_http_header(ctx, "X-Forwarded-Proto");
    /* Secure only behind a TLS proxy: on plain http a browser would drop the cookie */
    snprintf(v, sizeof v, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s",
             API_SESSION_COOKIE, token, max_age,
             proto && !strcasecmp(proto, "https") ? "; Secure" : "");
    int err = wp_http_add_header(ctx, "Set-Cookie", v);
    sodium_memzero(v, sizeof v);
    return err;
}

int api_auth_login(wp_http_ctx *ctx)
{
    json_t *body;
    wp_store *st = NULL;
    wp_employee emp;
    char tenant_id[WP_ID_LEN + 1], *hash = NULL;
    char token[WP_DEVICE_TOKEN_MAX], token_hash[65], csrf[65];
    int err, ok;

    memset(&emp, 0, sizeof emp);
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
    if (err == 0)
        err = wp_store_employee_find_login(st, &emp, &hash, tenant_id, username);
    api_store_release(ctx, st);
    st = NULL;
    if (err < 0 && err != WP_ENOTFOUND && err != WP_EINVAL)
        goto out;

    /* the same work and the same answer for an unknown tenant, an unknown user, a wrong
     * password and an inactive account: nothing tells them apart */
    if (strlen(password) > WP_PASSWORD_MAX) {
        ok = 0;
    } else if (err == 0) {
        ok = wp_password_verify(hash, password);
    } else {
        pthread_once(&dummy_once, make_dummy);
        if (dummy_hash[0])
            (void)wp_password_verify(dummy_hash, password);
        ok = 0;
    }
    if (!ok || !emp.active) {
        err = wp_error_set(WP_EAUTH, BAD_LOGIN);
        goto out;
    }

    if ((err = wp_token_new(token, sizeof token, SESSION_PREFIX)) < 0)
        goto out;
    wp_token_hash(token_hash, token);
    csrf_of(csrf, token);
    int64_t now = wp_time_now_us(), expires = now + (int64_t)API_SESSION_TTL_S * 1000000;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    if ((err = wp_store_session_create(st, tenant_id, emp.id, token_hash, ctx->client, now,
                                       expires)) < 0)
        goto out;
    if ((err = session_cookie(ctx, token, API_SESSION_TTL_S)) < 0)
        goto out;
    err = wp_http_reply_json(ctx, 200,
                             json_pack("{s:s,s:s,s:o,s:o}", "token", token, "csrf_token", csrf,
                                       "expires_at", api_jtime(expires), "employee",
                                       employee_json(&emp)));
out:
    api_store_release(ctx, st);
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
    err = wp_store_session_revoke(st, c->session_hash, wp_time_now_us());
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    if ((err = session_cookie(ctx, "", 0)) < 0)
        return err;
    return wp_http_reply_empty(ctx, 204);
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

int api_auth_password(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 501, "not_implemented", NULL, "not implemented yet");
}
