/* SPDX-License-Identifier: MIT */
/* Replies: JSON bodies, the one WP_E* to HTTP mapping, and what handlers read of a request. */
#include "http/internal.h"
#include "util/error.h"
#include "util/testhooks.h"
#include "util/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Seconds a client waits before sending again a request the store could not take or the
 * server was too busy for (503): a PostgreSQL restart takes about that long, and a device
 * agent backs off further by itself. */
#define WP_HTTP_STORE_RETRY_AFTER_S "1"

void wp_http_error_map(int err, unsigned *status, const char **code, int *expose)
{
    *expose = 1;
    switch (err) {
    case WP_EINVAL:
        *status = 400, *code = "invalid_request";
        return;
    case WP_EAUTH:
        *status = 401, *code = "unauthorized";
        return;
    case WP_ENOTFOUND:
        *status = 404, *code = "not_found";
        return;
    case WP_EEXISTS:
        *status = 409, *code = "already_exists";
        return;
    case WP_EBUSY:
        *status = 409, *code = "conflict";
        return;
    case WP_ELIMIT:
        /* a count or size rule of the domain (batch length, tree depth, text length); the
         * transport's own body limit answers 413 before any handler runs */
        *status = 422, *code = "limit_exceeded";
        return;
    case WP_EQUOTA:
        /* the tenant's stored bytes reached a limit its admin sets (issue 13): nothing was
         * stored; a device keeps what it sent and tries again later */
        *status = 507, *code = "quota_exceeded";
        return;
    case WP_EFULL:
        /* the server's own disk is full (docs/internals/store.md, "Full disk"): nothing was
         * stored; the same request succeeds once space returns, without a restart. The cause
         * (a path, SQLite's words) goes to the log, the client gets 503 and Retry-After. */
        *status = 503, *code = "storage_full", *expose = 0;
        return;
    case WP_EUNAVAIL:
        /* the store is gone for now (PostgreSQL restarting): nothing was stored, the same
         * request can be sent again after Retry-After; the message may name the host */
        *status = 503, *code = "store_unavailable", *expose = 0;
        return;
    case WP_EOVERLOAD:
        /* a bounded queue is full (docs/internals/overload.md): nothing was stored; the
         * reply carries Retry-After and the client sends the same thing again later */
        *status = 503, *code = "overloaded";
        return;
    case WP_ECORRUPT:
        /* a stored file no longer matches its hash (docs/internals/integrity.md): the server
         * cannot answer it until an administrator restores it from a backup; the message
         * names the file by its hash only, never by its path */
        *status = 503, *code = "media_corrupt";
        return;
    case WP_EDISABLED:
        /* the operator disabled the tenant (`workphone tenant disable`): the message says so,
         * and nothing else changes until it is enabled again */
        *status = 403, *code = "tenant_disabled";
        return;
    }
    /* WP_ENOMEM, WP_EIO, WP_ESCHEMA and anything unknown: the client cannot fix it, and the
     * message may name files, hosts or SQL, so it stays in the server log */
    *status = 500, *code = "internal_error", *expose = 0;
}

/* The sentence a client gets when the real message stays in the log. */
static const char *generic_message(unsigned status, int err)
{
    switch (err) {
    case WP_EFULL:
        return "the server's storage is full: nothing was stored; try again later";
    case WP_EUNAVAIL:
        return "the store is unavailable for now; nothing was stored: try again later";
    case WP_EOVERLOAD:
        return "the server is overloaded; try again later";
    case WP_ECORRUPT:
        return "the stored file is damaged";
    }
    switch (status) {
    case 400:
        return "the request is not valid";
    case 401:
        return "authentication is required";
    case 404:
        return "not found";
    case 409:
        return "it exists already";
    case 422:
        return "a limit was exceeded";
    case 507:
        return "a storage limit was reached";
    }
    return "internal error; the request id identifies it in the server log";
}

/* Queue resp (taken over) with the headers every reply carries. */
static int queue_response(struct wp_http__req *r, unsigned status, const char *content_type,
                          struct MHD_Response *resp, size_t len)
{
    int ok = MHD_YES;
    if (content_type)
        ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    ok &= MHD_add_response_header(resp, "X-Request-Id", r->id);
    ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ok &= MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->srv->tls_cert)
        ok &= MHD_add_response_header(resp, "Strict-Transport-Security", WP_HTTP_HSTS);
    for (const struct wp_http__header *h = r->headers; h; h = h->next)
        ok &= MHD_add_response_header(resp, h->name, h->value);
    /* the injected store or allocation failure fired in this handler (test hooks only) */
    if (wp_test_hooks_store_fired())
        ok &= MHD_add_response_header(resp, "X-Workphone-Test-Failed", "store");
    if (wp_test_hooks_alloc_fired())
        ok &= MHD_add_response_header(resp, "X-Workphone-Test-Failed", "alloc");
    /* while stopping, do not invite the client to send more on this connection */
    if (atomic_load(&r->srv->stopping))
        ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (ok == MHD_YES && r->offloaded && !r->pending) {
        /* a device worker's thread: kept until libmicrohttpd's thread takes it */
        r->pending = resp;
        r->pending_status = status;
        r->replied = 1;
        r->status = status;
        r->bytes = len;
        return 0;
    }
    if (ok == MHD_YES)
        ok = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES)
        return wp_error_set(WP_EIO, "libmicrohttpd refused the reply");
    r->replied = 1;
    r->status = status;
    r->bytes = len;
    return 0;
}

/* A response holding data (malloc'ed, taken over: freed here on failure); NULL: empty. */
static struct MHD_Response *response_of(char *data, size_t len)
{
    struct MHD_Response *resp =
        data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        free(data);
    return resp;
}

static int queue(struct wp_http__req *r, unsigned status, const char *content_type, char *data,
                 size_t len)
{
    if (r->replied) {
        free(data);
        return 0;
    }
    struct MHD_Response *resp = response_of(data, len);
    if (!resp)
        return wp_error_set(WP_ENOMEM, "out of memory");
    return queue_response(r, status, content_type, resp, len);
}

int wp_http_reply_fd(wp_http_ctx *ctx, unsigned status, const char *content_type, int fd,
                     uint64_t size)
{
    struct wp_http__req *r = (struct wp_http__req *)ctx;
    if (r->replied) {
        close(fd);
        return 0;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd(size, fd);
    if (!resp) {
        close(fd);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    return queue_response(r, status, content_type, resp, (size_t)size);
}

struct stream {
    long (*read)(void *cls, void *buf, size_t max);
    void (*done)(void *cls);
    void *cls;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    (void)pos; /* in order: libmicrohttpd asks for each byte once */
    long n = s->read(s->cls, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    s->done(s->cls);
    free(s);
}

int wp_http_reply_stream(wp_http_ctx *ctx, unsigned status, const char *content_type,
                         uint64_t size, long (*read)(void *cls, void *buf, size_t max),
                         void (*done)(void *cls), void *cls)
{
    struct wp_http__req *r = (struct wp_http__req *)ctx;
    struct stream *s;
    if (r->replied || !(s = malloc(sizeof *s))) {
        done(cls);
        return r->replied ? 0 : wp_error_set(WP_ENOMEM, "out of memory");
    }
    s->read = read, s->done = done, s->cls = cls;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(size, 64 * 1024, stream_read, s, stream_free);
    if (!resp) {
        stream_free(s);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    return queue_response(r, status, content_type, resp, (size_t)size);
}

int wp_http_reply_bytes(wp_http_ctx *ctx, unsigned status, const char *content_type, char *data,
                        size_t len)
{
    return queue((struct wp_http__req *)ctx, status, content_type, data, len);
}

int wp_http_reply_empty(wp_http_ctx *ctx, unsigned status)
{
    return queue((struct wp_http__req *)ctx, status, NULL, NULL, 0);
}

int wp_http_reply_json(wp_http_ctx *ctx, unsigned status, json_t *body)
{
    struct wp_http__req *r = (struct wp_http__req *)ctx;
    int err;
    if (!body)
        return wp_http_reply_error(ctx, wp_error_set(WP_ENOMEM, "out of memory"));
    if (r->srv->opts.reply_filter && (err = r->srv->opts.reply_filter(ctx, body)) < 0) {
        json_decref(body);
        return wp_http_reply_error(ctx, err);
    }
    /* wp_json_dumps allocates with malloc (a wp_buf), so libmicrohttpd may free() it; unlike
     * json_dumps it gives NULL rather than broken text when an allocation fails inside */
    char *text = wp_json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return wp_http_reply_error(ctx, wp_error_set(WP_ENOMEM, "cannot serialize the reply"));
    return queue(r, status, "application/json", text, strlen(text));
}

/* The error body of CONTRACT, written by hand so that a message with broken UTF-8 (user
 * bytes cut by the error buffer) still comes out as valid JSON. Takes ownership of details. */
static int reply_error_body(struct wp_http__req *r, unsigned status, const char *code,
                            const char *message, json_t *details, const char *retry_after)
{
    wp_buf b;
    int err = 0;
    char *d = details ? wp_json_dumps(details, JSON_COMPACT) : NULL;
    json_decref(details);
    wp_buf_init(&b, 64 * 1024);
    if ((err = wp_buf_adds(&b, "{\"error\":{\"code\":")) < 0 ||
        (err = wp_json_str(&b, code, strlen(code))) < 0 ||
        (err = wp_buf_adds(&b, ",\"message\":")) < 0 ||
        (err = wp_json_str(&b, message, strlen(message))) < 0 ||
        (err = wp_buf_adds(&b, ",\"details\":")) < 0 || (err = wp_buf_adds(&b, d ? d : "{}")) < 0 ||
        (err = wp_buf_adds(&b, "}}")) < 0)
        goto out;
    if (status == 401)
        wp_http_add_header(&r->ctx, "WWW-Authenticate", "Bearer");
    if (retry_after)
        wp_http_add_header(&r->ctx, "Retry-After", retry_after);
    size_t len;
    char *text = wp_buf_detach(&b, &len);
    err = queue(r, status, "application/json", text, len);
out:
    free(d);
    wp_buf_release(&b);
    return err;
}

/* When a client may send the same request again (seconds), for the 503s that pass by
 * themselves; NULL for the others (damaged media does not pass by waiting). */
static const char *retry_after(int err)
{
    switch (err) {
    case WP_EFULL:
        return WP_HTTP_RETRY_AFTER_S;
    case WP_EUNAVAIL:
    case WP_EOVERLOAD:
        return WP_HTTP_STORE_RETRY_AFTER_S;
    }
    return NULL;
}

int wp_http_reply_error(wp_http_ctx *ctx, int err)
{
    struct wp_http__req *r = (struct wp_http__req *)ctx;
    unsigned status;
    const char *code;
    int expose;
    wp_http_error_map(err, &status, &code, &expose);
    const char *msg = wp_error_last();
    if (!expose) {
        r->err = err;
        snprintf(r->err_msg, sizeof r->err_msg, "%s", msg);
    }
    if (!expose || !*msg)
        msg = generic_message(status, err);
    reply_error_body(r, status, code, msg, NULL, retry_after(err));
    return err;
}

int wp_http_reply_fail(wp_http_ctx *ctx, unsigned status, const char *code, json_t *details,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_error_body((struct wp_http__req *)ctx, status, code, msg, details, NULL);
    return WP_EINVAL;
}

int wp_http_body_object_or_reply(wp_http_ctx *ctx, json_t **out)
{
    if (!ctx->body)
        return wp_http_reply_fail(ctx, 400, "invalid_json", NULL, "a JSON object body is needed");
    if (!json_is_object(ctx->body))
        return wp_http_reply_fail(ctx, 400, "invalid_json", NULL, "the body must be a JSON object");
    *out = ctx->body;
    return 0;
}

static int header_push(wp_http_ctx *ctx, struct wp_http__header **list, const char *name,
                       const char *value)
{
    struct wp_http__header *h = wp_arena_alloc(ctx->arena, sizeof *h);
    if (!h || !(h->name = wp_arena_strdup(ctx->arena, name)) ||
        !(h->value = wp_arena_strdup(ctx->arena, value)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    h->next = *list;
    *list = h;
    return 0;
}

int wp_http_add_header(wp_http_ctx *ctx, const char *name, const char *value)
{
    return header_push(ctx, &((struct wp_http__req *)ctx)->headers, name, value);
}

int wp_http_ready_header(wp_http_ctx *ctx, const char *name, const char *value)
{
    return header_push(ctx, &((struct wp_http__req *)ctx)->ready_headers, name, value);
}

int wp_http_ready_json(wp_http_ctx *ctx, unsigned status, json_t *body)
{
    struct wp_http__req *r = (struct wp_http__req *)ctx;
    char *text = NULL;
    size_t len = 0;
    int err;
    if (r->ready) {
        json_decref(body);
        return wp_error_set(WP_EINVAL, "a reply is ready already");
    }
    if (body) {
        if (r->srv->opts.reply_filter && (err = r->srv->opts.reply_filter(ctx, body)) < 0) {
            json_decref(body);
            return err;
        }
        text = wp_json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (!text)
            return wp_error_set(WP_ENOMEM, "cannot serialize the reply");
        len = strlen(text);
    } else if (status != 204) {
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    struct MHD_Response *resp = response_of(text, len);
    if (!resp)
        return wp_error_set(WP_ENOMEM, "out of memory");
    r->ready = resp;
    r->ready_status = status;
    r->ready_len = len;
    return 0;
}

int wp_http_ready_send(wp_http_ctx *ctx)
{
    struct wp_http__req *r = (struct wp_http__req *)ctx;
    struct MHD_Response *resp = r->ready;
    if (!resp)
        return wp_error_set(WP_EINVAL, "no reply is ready");
    r->ready = NULL;
    if (r->replied) {
        MHD_destroy_response(resp);
        return 0;
    }
    /* the ready headers join the reply's own: a pointer walk, nothing allocated */
    struct wp_http__header **end = &r->headers;
    while (*end)
        end = &(*end)->next;
    *end = r->ready_headers;
    r->ready_headers = NULL;
    return queue_response(r, r->ready_status, r->ready_len ? "application/json" : NULL, resp,
                          r->ready_len);
}

const char *wp_http_param(const wp_http_ctx *ctx, const char *name)
{
    const struct wp_http__req *r = (const struct wp_http__req *)ctx;
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_params; i++)
        if (r->params[i].name_len == n && !memcmp(r->params[i].name, name, n))
            return r->params[i].value;
    return NULL;
}

const char *wp_http_query(const wp_http_ctx *ctx, const char *name)
{
    const struct wp_http__req *r = (const struct wp_http__req *)ctx;
    for (size_t i = 0; i < r->n_query; i++)
        if (!strcmp(r->query[i].key, name))
            return r->query[i].value;
    return NULL;
}

const char *wp_http_header(const wp_http_ctx *ctx, const char *name)
{
    const struct wp_http__req *r = (const struct wp_http__req *)ctx;
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int wp_http__json_depth_ok(const char *s, size_t len, int max)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return 0;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 1;
}
