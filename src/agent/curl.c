/* SPDX-License-Identifier: MIT */
/* The default transport of libwpagent, on libcurl: one easy handle reused across requests, so
 * a sync's batches share one connection. */
#include "agent/agent_int.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct curl_tr {
    CURL *h;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe before libcurl 7.84 and must run once per process;
 * pthread_once makes it so whatever the app's threads do. It is never undone: the app may have
 * its own uses of libcurl. */
static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct call {
    wp_agent_response *resp;
    FILE *in;
    int err; /* what a response callback returned */
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct call *c = arg;
    int err = wp_agent_response_body(c->resp, data, size * n);
    if (err < 0) {
        c->err = err;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return size * n;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    struct call *c = arg;
    size_t len = size * n;
    char name[64], value[256];
    const char *colon = memchr(line, ':', len);
    if (!colon || (size_t)(colon - line) >= sizeof name)
        return len; /* the status line, a blank line, or a header we do not need */
    size_t nl = (size_t)(colon - line);
    memcpy(name, line, nl);
    name[nl] = '\0';
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if ((size_t)(end - v) >= sizeof value)
        return len;
    memcpy(value, v, (size_t)(end - v));
    value[end - v] = '\0';
    int err = wp_agent_response_header(c->resp, name, value);
    if (err < 0) {
        c->err = err;
        return 0;
    }
    return len;
}

static int curl_send(void *ctx, const wp_agent_request *req, wp_agent_response *resp)
{
    struct curl_tr *t = ctx;
    struct curl_slist *hdrs = NULL;
    struct call c = {resp, NULL, 0};
    CURL *h = t->h;
    int err = 0;

    curl_easy_reset(h);
    for (size_t i = 0; i < req->n_headers; i++) {
        struct curl_slist *n = curl_slist_append(hdrs, req->headers[i]);
        if (!n) {
            curl_slist_free_all(hdrs);
            return wp_agent_response_error(resp, WP_AGENT_ENOMEM, "out of memory");
        }
        hdrs = n;
    }
    /* no "Expect: 100-continue" round trip before a body */
    struct curl_slist *n = curl_slist_append(hdrs, "Expect:");
    if (n)
        hdrs = n;
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
    if (!strcmp(req->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (req->body_file) {
        if (!(c.in = fopen(req->body_file, "rb"))) {
            curl_slist_free_all(hdrs);
            return wp_agent_response_error(resp, WP_AGENT_EIO, "cannot open the media file");
        }
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READDATA, c.in);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
    CURLcode rc = curl_easy_perform(h);
    if (c.err < 0) {
        err = c.err;
    } else if (rc != CURLE_OK) {
        err = wp_agent_response_error(resp, WP_AGENT_ENET, curl_easy_strerror(rc));
    } else {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        err = wp_agent_response_status(resp, (int)status);
    }
    if (c.in)
        fclose(c.in);
    curl_slist_free_all(hdrs);
    return err;
}

static void tr_free(void *ctx)
{
    struct curl_tr *t = ctx;
    if (!t)
        return;
    curl_easy_cleanup(t->h);
    free(t);
}

int wp_agent_transport_curl(wp_agent_transport *out)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return WP_AGENT_ENOMEM;
    struct curl_tr *t = calloc(1, sizeof *t);
    if (!t)
        return WP_AGENT_ENOMEM;
    if (!(t->h = curl_easy_init())) {
        free(t);
        return WP_AGENT_ENOMEM;
    }
    out->send = curl_send;
    out->free = tr_free;
    out->ctx = t;
    return 0;
}
