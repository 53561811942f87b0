/* SPDX-License-Identifier: MIT */
/* The client of WeCom's API on libcurl: the access token per tenant, calls with bounded tries,
 * and the parsers of the answers workphone reads. */
#include "wecom/wecom_int.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_MAX 1024                      /* bytes of an access token */
#define TOKEN_EARLY_US (300LL * 1000000)    /* fetched again this long before it expires */
#define BACKOFF_MAX_MS 30000

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- the parsers ---------------------------------------------------------------------------- */

static int64_t int_of(const json_t *o, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* A string member of at most cap - 1 bytes into out ("" when absent); longer ones are cut on a
 * character (names) or refused (ids: *ok 0). */
static void str_of(char *out, size_t cap, const json_t *o, const char *key, int cut, int *ok)
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t n = s ? strlen(s) : 0;
    out[0] = '\0';
    if (!s)
        return;
    if (n >= cap) {
        if (!cut) {
            *ok = 0;
            return;
        }
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

int wp_wecom_parse_token(char **token, int64_t *expires_in, int64_t *errcode, const char *text,
                         size_t len)
{
    json_t *j = wp_json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    int err = 0;
    if (!json_is_object(j)) {
        json_decref(j);
        return wp_error_set(WP_EINVAL, "gettoken: the answer is not a JSON object");
    }
    *errcode = int_of(j, "errcode", 0);
    const char *t = json_string_value(json_object_get(j, "access_token"));
    if (*errcode != 0) {
        err = wp_error_set(WP_EAUTH, "gettoken: errcode %lld: %.200s", (long long)*errcode,
                           json_string_value(json_object_get(j, "errmsg"))
                               ? json_string_value(json_object_get(j, "errmsg"))
                               : "");
    } else if (!t || !*t || strlen(t) >= TOKEN_MAX ||
               strcspn(t, " \r\n&#") != strlen(t)) {
        err = wp_error_set(WP_EINVAL, "gettoken: no usable access_token");
    } else if (!(*token = strdup(t))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
    } else {
        *expires_in = int_of(j, "expires_in", 7200);
        if (*expires_in < 60 || *expires_in > 86400)
            *expires_in = 7200;
    }
    json_decref(j);
    return err;
}

int wp_wecom_parse_customers(wp_wecom_customer_result *v, size_t *n, size_t max,
                             char next_cursor[256], const json_t *answer, int status)
{
    const json_t *arr = json_object_get(answer, "customer"), *it;
    size_t i, k = 0;
    int ok = 1;
    if (next_cursor)
        str_of(next_cursor, 256, answer, "next_cursor", 0, &ok);
    if (!ok)
        return wp_error_set(WP_EINVAL, "next_cursor is too long");
    json_array_foreach(arr, i, it)
    {
        if (k >= max)
            break;
        int good = 1;
        str_of(v[k].external_userid, sizeof v[k].external_userid, it, "external_userid", 0,
               &good);
        if (!good || !v[k].external_userid[0])
            continue;
        v[k].value = int_of(it, status ? "status" : "errcode", status ? 0 : -1);
        k++;
    }
    *n = k;
    return 0;
}

int wp_wecom_parse_contacts(wp_wecom_contact *v, size_t *n, size_t max, char next_cursor[256],
                            const json_t *answer)
{
    const json_t *arr = json_object_get(answer, "external_contact_list"), *it;
    size_t i, k = 0;
    int ok = 1;
    str_of(next_cursor, 256, answer, "next_cursor", 0, &ok);
    if (!ok)
        return wp_error_set(WP_EINVAL, "next_cursor is too long");
    json_array_foreach(arr, i, it)
    {
        const json_t *c = json_object_get(it, "external_contact");
        const json_t *f = json_object_get(it, "follow_info");
        int good = 1;
        if (k >= max)
            break;
        memset(&v[k], 0, sizeof v[k]);
        str_of(v[k].external_userid, sizeof v[k].external_userid, c, "external_userid", 0, &good);
        str_of(v[k].userid, sizeof v[k].userid, f, "userid", 0, &good);
        str_of(v[k].name, sizeof v[k].name, c, "name", 1, &good);
        if (!good || !v[k].external_userid[0] || !v[k].userid[0])
            continue;
        const json_t *phones = json_object_get(f, "remark_mobiles");
        const char *p = json_string_value(json_array_get(phones, 0));
        if (p && strlen(p) < sizeof v[k].phone)
            memcpy(v[k].phone, p, strlen(p) + 1);
        v[k].createtime = int_of(f, "createtime", 0);
        if (v[k].createtime < 0 || v[k].createtime > 253402300799LL)
            v[k].createtime = 0;
        k++;
    }
    *n = k;
    return 0;
}

/* --- HTTP ----------------------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    return wp_buf_add(arg, data, size * n) == 0 ? size * n : 0;
}

/* One request: GET url, or POST body as JSON. *status the HTTP status; the answer in out.
 * WP_EIO on a transport failure. */
static int http(wp_wecom *w, long *status, wp_buf *out, const char *url, const char *body)
{
    struct curl_slist *hdr = NULL;
    CURL *h;
    CURLcode rc;
    int err = 0;

    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK || !(h = curl_easy_init()))
        return wp_error_set(WP_EIO, "wecom: libcurl could not start");
    wp_buf_reset(out);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)w->o.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(w->o.timeout_ms < 5000 ? w->o.timeout_ms
                                                                                : 5000));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "workphone");
    if (body) {
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    if ((rc = curl_easy_perform(h)) != CURLE_OK)
        err = wp_error_set(WP_EIO, "wecom: %s", curl_easy_strerror(rc));
    else
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return err;
}

static void pause_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

static unsigned backoff(const wp_wecom *w, unsigned attempt)
{
    unsigned long ms = (unsigned long)w->o.backoff_ms << (attempt < 16 ? attempt : 16);
    return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : (unsigned)ms;
}

/* --- the access token ----------------------------------------------------------------------- */

static void fingerprint(unsigned char fp[32], const wp_wecom_config *cfg)
{
    crypto_generichash_state s;
    crypto_generichash_init(&s, NULL, 0, 32);
    crypto_generichash_update(&s, (const unsigned char *)cfg->api_base, strlen(cfg->api_base) + 1);
    crypto_generichash_update(&s, (const unsigned char *)cfg->corp_id, strlen(cfg->corp_id) + 1);
    crypto_generichash_update(&s, (const unsigned char *)cfg->contact_secret,
                              strlen(cfg->contact_secret) + 1);
    crypto_generichash_final(&s, fp, 32);
}

static struct wecom_token *token_slot(wp_wecom *w, const char *tenant_id)
{
    for (size_t i = 0; i < w->n_tokens; i++)
        if (!strcmp(w->tokens[i].tenant_id, tenant_id))
            return &w->tokens[i];
    if (w->n_tokens == w->cap_tokens) {
        size_t cap = w->cap_tokens ? 2 * w->cap_tokens : 8;
        struct wecom_token *v = realloc(w->tokens, cap * sizeof *v);
        if (!v)
            return NULL;
        w->tokens = v;
        w->cap_tokens = cap;
    }
    struct wecom_token *t = &w->tokens[w->n_tokens++];
    memset(t, 0, sizeof *t);
    memcpy(t->tenant_id, tenant_id, strlen(tenant_id) + 1);
    return t;
}

/* A valid token into out (cached, or fetched now). fresh: fetch one even if cached. */
static int token_get(wp_wecom *w, char out[TOKEN_MAX], const char *tenant_id,
                     const wp_wecom_config *cfg, int fresh, wp_buf *ans)
{
    unsigned char fp[32];
    int64_t now = wp_time_now_us(), expires_in = 0, errcode = 0;
    char *tok = NULL, *url = NULL, *id = NULL, *sec = NULL;
    long status = 0;
    int err = 0;

    fingerprint(fp, cfg);
    pthread_mutex_lock(&w->mu);
    struct wecom_token *t = token_slot(w, tenant_id);
    if (t && !fresh && t->token && !memcmp(t->fp, fp, sizeof fp) &&
        now < t->expires_us - TOKEN_EARLY_US) {
        memcpy(out, t->token, strlen(t->token) + 1);
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    pthread_mutex_unlock(&w->mu);
    if (!t)
        return wp_error_set(WP_ENOMEM, "out of memory");
    CURL *h = curl_easy_init();
    if (h) {
        id = curl_easy_escape(h, cfg->corp_id, 0);
        sec = curl_easy_escape(h, cfg->contact_secret, 0);
    }
    size_t cap = strlen(cfg->api_base) + 64 + (id ? strlen(id) : 0) + (sec ? strlen(sec) : 0);
    if (!id || !sec || !(url = malloc(cap))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(url, cap, "%s/cgi-bin/gettoken?corpid=%s&corpsecret=%s", cfg->api_base, id, sec);
    for (unsigned a = 0; a < w->o.attempts; a++) {
        if (a)
            pause_ms(backoff(w, a - 1));
        if ((err = http(w, &status, ans, url, NULL)) < 0)
            continue;
        if (status >= 500) {
            err = wp_error_set(WP_EIO, "wecom: gettoken: HTTP %ld", status);
            continue;
        }
        err = wp_wecom_parse_token(&tok, &expires_in, &errcode, ans->buf, ans->len);
        if (err == WP_EAUTH && (errcode == 45009 || errcode == 45033 || errcode == -1))
            continue; /* busy or rate-limited: wait and try again */
        break;
    }
    if (err < 0)
        goto out;
    pthread_mutex_lock(&w->mu);
    if ((t = token_slot(w, tenant_id))) {
        if (t->token)
            sodium_memzero(t->token, strlen(t->token));
        free(t->token);
        t->token = tok;
        tok = NULL;
        memcpy(t->fp, fp, sizeof fp);
        t->expires_us = now + expires_in * 1000000;
        memcpy(out, t->token, strlen(t->token) + 1);
    } else {
        err = wp_error_set(WP_ENOMEM, "out of memory");
    }
    pthread_mutex_unlock(&w->mu);
out:
    if (sec)
        sodium_memzero(sec, strlen(sec));
    if (url)
        sodium_memzero(url, strlen(url));
    curl_free(id);
    curl_free(sec);
    free(url);
    free(tok);
    curl_easy_cleanup(h);
    return err;
}

/* --- a call --------------------------------------------------------------------------------- */

static int is_token_error(int64_t e)
{
    return e == 40014 || e == 42001 || e == 40001;
}

static int is_busy(int64_t e)
{
    return e == 45009 || e == 45033 || e == -1;
}

int wp_wecom_api(wp_wecom *w, json_t **out, int64_t *errcode, const char *tenant_id,
                 const wp_wecom_config *cfg, const char *path, const json_t *body)
{
    char token[TOKEN_MAX], *text = NULL, *url = NULL;
    wp_buf ans;
    json_t *j = NULL;
    long status = 0;
    size_t cap = strlen(cfg->api_base) + strlen(path) + TOKEN_MAX + 64;
    int err = 0, refreshed = 0;

    if (!cfg->contact_secret[0])
        return wp_error_set(WP_EINVAL, "the tenant has no WeCom contact_secret");
    wp_buf_init(&ans, WP_WECOM_ANSWER_MAX);
    if (body && !(text = wp_json_dumps(body, JSON_COMPACT))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (!(url = malloc(cap))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (unsigned a = 0; a < w->o.attempts; a++) {
        if (a)
            pause_ms(backoff(w, a - 1));
        if ((err = token_get(w, token, tenant_id, cfg, 0, &ans)) < 0)
            goto out; /* token_get tried already */
        snprintf(url, cap, "%s/cgi-bin/%s?access_token=%s", cfg->api_base, path, token);
        if ((err = http(w, &status, &ans, url, text)) < 0)
            continue;
        if (status >= 500 || status == 429) {
            err = wp_error_set(WP_EIO, "wecom: %s: HTTP %ld", path, status);
            continue;
        }
        json_decref(j);
        if (!(j = wp_json_loadb(ans.buf, ans.len, 0, NULL)) || !json_is_object(j)) {
            err = wp_error_set(WP_EIO, "wecom: %s: the answer is not a JSON object", path);
            goto out;
        }
        *errcode = int_of(j, "errcode", 0);
        if (is_token_error(*errcode) && !refreshed) {
            /* WeCom dropped the token (expired early, or the secret changed): once more with a
             * new one, at once */
            pthread_mutex_lock(&w->mu);
            struct wecom_token *t = token_slot(w, tenant_id);
            if (t)
                t->expires_us = 0;
            pthread_mutex_unlock(&w->mu);
            refreshed = 1;
            a--;
            continue;
        }
        if (is_busy(*errcode)) {
            err = wp_error_set(WP_EIO, "wecom: %s: rate limited (errcode %lld)", path,
                               (long long)*errcode);
            continue;
        }
        err = 0;
        break;
    }
    if (err == 0 && !j)
        err = wp_error_set(WP_EIO, "wecom: %s: no answer", path);
    if (err == 0) {
        *out = j;
        j = NULL;
    }
out:
    sodium_memzero(token, sizeof token);
    if (url)
        sodium_memzero(url, cap);
    json_decref(j);
    free(text);
    free(url);
    wp_buf_release(&ans);
    return err;
}
