/* SPDX-License-Identifier: MIT */
/* The sender: the deliveries due, held by a lease, posted with libcurl a few at a time (each
 * connection's address checked again as it is opened, redirects not followed, no proxy), and
 * each outcome recorded: delivered, retried later with backoff and jitter, or dead. */
#include "webhooks/webhooks.h"
#include "webhooks/webhooks_int.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define RESP_KEEP 1024  /* bytes of an answer kept to read a robot's errcode */
#define LEASE_S 300     /* a delivery is held this long by the run that sends it */

struct xfer {
    wp_webhook_job job;
    int claimed;
    CURL *h;
    struct curl_slist *hdrs;
    wp_buf body;
    char *url;
    char resp[RESP_KEEP + 1];
    size_t resp_n;
    char refused[200]; /* why the address check refused the connection */
    char error[WP_WEBHOOK_ERROR_MAX + 1];
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n, room = RESP_KEEP - x->resp_n;
    size_t k = len < room ? len : room;
    memcpy(x->resp + x->resp_n, data, k);
    x->resp_n += k;
    x->resp[x->resp_n] = '\0';
    return len;
}

/* DNS rebinding: the name was checked when the webhook was made, the address is checked here,
 * for every connection curl opens. */
static curl_socket_t on_open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct xfer *x = arg;
    const char *why;
    if (purpose == CURLSOCKTYPE_IPCXN && !x->job.hook.allow_private &&
        !wp_webhooks_addr_public(&a->addr, &why)) {
        char text[INET6_ADDRSTRLEN] = "?";
        const void *p = a->family == AF_INET
                            ? (const void *)&((const struct sockaddr_in *)(void *)&a->addr)->sin_addr
                            : (const void *)&((const struct sockaddr_in6 *)(void *)&a->addr)
                                  ->sin6_addr;
        inet_ntop(a->family, p, text, sizeof text);
        snprintf(x->refused, sizeof x->refused,
                 "refused: %s is a %s address (the webhook does not allow_private)", text, why);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static int add_header(struct xfer *x, const char *h)
{
    struct curl_slist *n = curl_slist_append(x->hdrs, h);
    if (!n)
        return wp_error_set(WP_ENOMEM, "out of memory");
    x->hdrs = n;
    return 0;
}

/* DingTalk's timestamp and sign, as query parameters: the sign URL-encoded. */
static int dingtalk_url(struct xfer *x)
{
    char sig[WP_WEBHOOKS_SIG_MAX], enc[3 * WP_WEBHOOKS_SIG_MAX];
    const char *url = x->job.hook.url;
    int64_t ts = wp_time_real_us() / 1000;
    size_t o = 0;
    wp_webhooks_sign_dingtalk(sig, x->job.hook.secret, ts);
    for (const char *p = sig; *p && o + 4 < sizeof enc; p++) {
        if (*p == '+' || *p == '/' || *p == '=')
            o += (size_t)snprintf(enc + o, sizeof enc - o, "%%%02X", (unsigned char)*p);
        else
            enc[o++] = *p;
    }
    enc[o] = '\0';
    size_t cap = strlen(url) + strlen(enc) + 64;
    if (!(x->url = malloc(cap)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    snprintf(x->url, cap, "%s%stimestamp=%" PRId64 "&sign=%s", url, strchr(url, '?') ? "&" : "?",
             ts, enc);
    return 0;
}

/* Feishu's timestamp and sign go in the body. */
static int feishu_sign(struct xfer *x)
{
    char sig[WP_WEBHOOKS_SIG_MAX], ts[32];
    json_error_t je;
    int64_t t = wp_time_real_us() / 1000000;
    json_t *o = json_loadb(x->body.buf, x->body.len, 0, &je);
    int err;
    wp_webhooks_sign_feishu(sig, x->job.hook.secret, t);
    snprintf(ts, sizeof ts, "%" PRId64, t);
    if (!o || json_object_set_new(o, "timestamp", json_string(ts)) < 0 ||
        json_object_set_new(o, "sign", json_string(sig)) < 0) {
        json_decref(o);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    char *s = wp_json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return wp_error_set(WP_ENOMEM, "out of memory");
    wp_buf_reset(&x->body);
    err = wp_buf_add(&x->body, s, strlen(s));
    free(s);
    return err;
}

/* The request of a delivery held. */
static int build(wp_webhooks *w, struct xfer *x)
{
    const wp_webhook *hook = &x->job.hook;
    char h[WP_WEBHOOKS_SIG_MAX + 64];
    int err;

    if (!wp_webhooks_may_carry(hook, x->job.alert_kind[0] ? x->job.alert_kind : NULL))
        return wp_error_set(WP_EINVAL, "insider alerts go to json webhooks of the whole tenant only");
    if (!strcmp(hook->format, "json")) {
        if ((err = wp_buf_add(&x->body, x->job.payload, strlen(x->job.payload))) < 0)
            return err;
    } else {
        json_error_t je;
        json_t *view = json_loads(x->job.view, 0, &je);
        if (!view)
            return wp_error_set(WP_EIO, "store: the event's view is not JSON");
        err = wp_webhooks_render(&x->body, hook->format, x->job.event, view, hook->console_url,
                                 x->job.ts_us);
        json_decref(view);
        if (err < 0)
            return err;
    }
    if (hook->secret[0] && !strcmp(hook->format, "dingtalk") && (err = dingtalk_url(x)) < 0)
        return err;
    if (hook->secret[0] && !strcmp(hook->format, "feishu") && (err = feishu_sign(x)) < 0)
        return err;
    if (!x->url && !(x->url = strdup(hook->url)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = add_header(x, "Content-Type: application/json; charset=utf-8")) < 0 ||
        (err = add_header(x, "Expect:")) < 0)
        return err;
    if (!strcmp(hook->format, "json")) {
        snprintf(h, sizeof h, "X-Workphone-Event: %s", x->job.event);
        if ((err = add_header(x, h)) < 0)
            return err;
        snprintf(h, sizeof h, "X-Workphone-Delivery: %s", x->job.id);
        if ((err = add_header(x, h)) < 0)
            return err;
        if (hook->secret[0]) {
            char sig[WP_WEBHOOKS_SIG_MAX];
            wp_webhooks_sign_json(sig, hook->secret, wp_time_real_us() / 1000000, x->body.buf,
                                  x->body.len);
            snprintf(h, sizeof h, "X-Workphone-Signature: %s", sig);
            if ((err = add_header(x, h)) < 0)
                return err;
        }
    }
    if (!(x->h = curl_easy_init()))
        return wp_error_set(WP_ENOMEM, "out of memory");
    CURL *c = x->h;
    curl_easy_setopt(c, CURLOPT_URL, x->url);
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L); /* each connection's address is checked */
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)w->o.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(w->o.timeout_ms < 5000 ? w->o.timeout_ms : 5000));
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "workphone-webhooks/1");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body.buf);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    return 0;
}

/* A robot answers 200 with its own error code when it refuses a message (a bad sign, a
 * keyword missing): 0 when the answer says it was taken. */
static int robot_refused(const struct xfer *x, char *why, size_t cap)
{
    json_error_t je;
    const char *fmt = x->job.hook.format;
    if (!strcmp(fmt, "json"))
        return 0;
    json_t *r = json_loadb(x->resp, x->resp_n, 0, &je);
    const char *code_key = !strcmp(fmt, "feishu") ? "code" : "errcode";
    json_t *code = json_object_get(r, code_key);
    if (!code && !strcmp(fmt, "feishu"))
        code = json_object_get(r, "StatusCode");
    json_int_t v = json_is_integer(code) ? json_integer_value(code) : 0;
    if (v) {
        const char *msg = json_string_value(json_object_get(r, !strcmp(fmt, "feishu") ? "msg"
                                                                                     : "errmsg"));
        snprintf(why, cap, "%s %lld: %.200s", code_key, (long long)v, msg ? msg : "");
    }
    json_decref(r);
    return v != 0;
}

static void record(wp_store *st, struct xfer *x, int ok, long code, const char *error,
                   struct wp_webhooks_sent *out)
{
    wp_webhook_result r = {.code = code, .error = ok ? NULL : error};
    r.at_us = wp_time_now_us();
    if (ok) {
        r.status = "delivered";
        out->sent++;
    } else if (r.at_us >= x->job.window_us + (int64_t)WP_WEBHOOKS_RETRY_S * 1000000) {
        r.status = "dead";
        out->dead++;
    } else {
        int64_t d = wp_webhooks_backoff_s(x->job.attempts + 1) * 1000000;
        r.status = "pending";
        r.next_us = r.at_us + d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 / 1000 + 1)) * 1000;
        out->failed++;
    }
    /* a failure to record leaves the lease to expire: the attempt is made again */
    (void)wp_store_webhook_record(st, &x->job, &r);
}

static void finish(wp_store *st, struct xfer *x, CURLcode rc, struct wp_webhooks_sent *out)
{
    long code = 0;
    char why[WP_WEBHOOK_ERROR_MAX + 1];
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        snprintf(why, sizeof why, "%s", x->refused[0] ? x->refused : curl_easy_strerror(rc));
        record(st, x, 0, code, why, out);
    } else if (code < 200 || code > 299) {
        snprintf(why, sizeof why, "HTTP %ld%s", code,
                 code >= 300 && code < 400 ? " (redirects are not followed)" : "");
        record(st, x, 0, code, why, out);
    } else if (robot_refused(x, why, sizeof why)) {
        record(st, x, 0, code, why, out);
    } else {
        record(st, x, 1, code, NULL, out);
    }
}

static void xfer_release(struct xfer *x)
{
    if (x->h)
        curl_easy_cleanup(x->h);
    curl_slist_free_all(x->hdrs);
    wp_buf_release(&x->body);
    free(x->url);
    wp_webhook_job_release(&x->job);
    memset(x, 0, sizeof *x);
}

int wp_webhooks__send(wp_webhooks *w, wp_store *st, struct wp_webhooks_sent *out)
{
    wp_webhook_due *due = NULL;
    struct xfer *xs = NULL;
    CURLM *m = NULL;
    size_t n = 0, running = 0, next = 0;
    int err;

    if (!(due = calloc(w->o.batch, sizeof *due)) || !(xs = calloc(w->o.batch, sizeof *xs))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < w->o.batch; i++)
        wp_buf_init(&xs[i].body, 2 * WP_WEBHOOK_PAYLOAD_MAX);
    int64_t now = wp_time_now_us();
    if ((err = wp_store_webhook_due(st, due, w->o.batch, &n, now)) < 0 || !n)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct xfer *x = &xs[i];
        int got = 0;
        if ((err = wp_store_webhook_claim(st, &x->job, &got, due[i].tenant_id, due[i].id, now,
                                          now + (int64_t)LEASE_S * 1000000)) < 0)
            goto out;
        if (!(x->claimed = got))
            continue;
        if (build(w, x) < 0) {
            snprintf(x->error, sizeof x->error, "%s", wp_error_last());
            record(st, x, 0, 0, x->error, out);
            curl_easy_cleanup(x->h);
            x->h = NULL;
        }
    }
    if (!(m = curl_multi_init())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    while (next < n || running) {
        for (; running < w->o.parallel && next < n; next++)
            if (xs[next].h && curl_multi_add_handle(m, xs[next].h) == CURLM_OK)
                running++;
        int still = 0, q = 0;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &q))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(m, msg->easy_handle);
            running--;
            if (x)
                finish(st, x, rc, out);
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 200, NULL);
    }
    err = 0;
out:
    if (xs)
        for (size_t i = 0; i < w->o.batch; i++) {
            if (m && xs[i].h)
                curl_multi_remove_handle(m, xs[i].h);
            xfer_release(&xs[i]);
        }
    if (m)
        curl_multi_cleanup(m);
    free(xs);
    free(due);
    return err;
}
