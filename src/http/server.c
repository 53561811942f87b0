/* SPDX-License-Identifier: MIT */
/* The libmicrohttpd glue: request lifecycle, limits, routing, the request log, graceful stop. */
#include "http/internal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"
#include "util/testhooks.h"
#include "util/log.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ARENA_LIMIT (16u * 1024 * 1024)
#define DRAIN_MIN (1024u * 1024)
#define STREAM_TIMEOUT_FACTOR 10 /* request_timeout_s of WP_ROUTE_STREAM_BODY routes */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- the request log ------------------------------------------------------------------- */

static const char *term_name(enum MHD_RequestTerminationCode t)
{
    switch (t) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK: return NULL;
    case MHD_REQUEST_TERMINATED_WITH_ERROR: return "error";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR: return "read_error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT: return "client_abort";
    }
    return "unknown";
}

/* One line per request (util/log.h escapes every value, so no client can forge a line or a
 * field). Never the query string, the headers or the body: they carry tokens, passwords and
 * personal data. */
static void log_request(const struct wp_http__req *r, enum MHD_RequestTerminationCode toe,
                        uint64_t dur_us)
{
    const wp_http_server *srv = r->srv;
    if (srv->opts.log_fd < 0)
        return;
    wp_buf b;
    const char *term = term_name(toe);
    wp_log_start(&b, r->status >= 500 ? "error" : !r->status || term ? "warn" : "info", "http");
    wp_log_add(&b, "id", r->id);
    wp_log_addn(&b, "client", r->client, 64);
    wp_log_addn(&b, "method", r->ctx.method ? r->ctx.method : "-", 16);
    wp_log_addn(&b, "path", r->ctx.path ? r->ctx.path : "-", 512);
    wp_log_addn(&b, "route", r->route >= 0 ? srv->opts.routes[r->route].pattern : "-", 256);
    wp_log_addf(&b, "status", "%u", r->status);
    wp_log_addf(&b, "bytes", "%zu", r->bytes);
    wp_log_addf(&b, "dur_us", "%llu", (unsigned long long)dur_us);
    if (term)
        wp_log_add(&b, "term", term);
    if (r->err) {
        wp_log_add(&b, "error", wp_error_name(r->err));
        wp_log_addn(&b, "error_msg", r->err_msg, sizeof r->err_msg);
    }
    wp_log_end(&b, srv->opts.log_fd);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                            va_list ap)
{
    const wp_http_server *srv = cls;
    if (srv->opts.log_fd < 0)
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    wp_buf b;
    wp_log_start(&b, "warn", "mhd");
    wp_log_addn(&b, "msg", msg, sizeof msg);
    wp_log_end(&b, srv->opts.log_fd);
}

/* --- one request ----------------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    wp_http_server *srv = cls;
    struct wp_http__req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (wp_arena_new(&r->ctx.arena, ARENA_LIMIT) < 0) {
        free(r);
        return NULL;
    }
    r->srv = srv;
    r->conn = conn;
    r->t0_ns = mono_ns();
    r->wall_us = wp_time_real_us();
    r->route = -1;
    r->method = WP_M_OTHER;
    r->uri = wp_arena_strdup(r->ctx.arena, uri);
    /* the path now, so that the log names it even when libmicrohttpd refuses the headers */
    r->ctx.path = wp_arena_strndup(r->ctx.arena, uri, strcspn(uri, "?"));
    wp_id_new(r->id);
    wp_buf_init(&r->body, srv->opts.max_body_bytes);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->client,
                  sizeof r->client);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->client,
                  sizeof r->client);
    else
        snprintf(r->client, sizeof r->client, "-");
    r->loopback = wp_http__addr_is_loopback(sa) != 0;
    r->ctx.request_id = r->id;
    r->ctx.client = r->client;
    r->ctx.app = srv->opts.app;
    r->ctx.raw_body = "";
    atomic_fetch_add(&srv->active, 1);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    wp_http_server *srv = cls;
    struct wp_http__req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    uint64_t dur_us = (uint64_t)(mono_ns() - r->t0_ns) / 1000;
    if (r->status)
        wp_http__metrics_record(&srv->metrics,
                                r->route >= 0 ? (size_t)r->route : srv->opts.n_routes,
                                r->method, r->status, dur_us);
    log_request(r, toe, dur_us);
    if (r->ctx.auth && srv->opts.release)
        srv->opts.release(&r->ctx);
    if (r->has_sink && r->sink.release)
        r->sink.release(r->sink.arg);
    if (r->pending) /* a device worker's reply the connection closed before taking */
        MHD_destroy_response(r->pending);
    if (r->ready) /* a write's reply that was never sent (its commit failed) */
        MHD_destroy_response(r->ready);
    json_decref(r->ctx.body);
    wp_buf_release(&r->body);
    wp_arena_free(r->ctx.arena);
    free(r);
    if (atomic_fetch_sub(&srv->active, 1) == 1 && atomic_load(&srv->stopping)) {
        pthread_mutex_lock(&srv->mu);
        pthread_cond_broadcast(&srv->idle);
        pthread_mutex_unlock(&srv->mu);
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode a query key or value (s[0..n)): '+' is a space, %XX a byte, %00 refused. */
static char *query_decode(wp_arena *a, const char *s, size_t n)
{
    char *out = wp_arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0)) {
                wp_error_set(WP_EINVAL, "the query string has a bad %%-escape");
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

int wp_http__parse_query(wp_arena *a, const char *q, struct wp_http__qpair **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!q || !q[1])
        return 0;
    size_t cap = 1;
    for (const char *p = q + 1; *p; p++)
        cap += *p == '&';
    if (cap > WP_HTTP__MAX_QUERY_PARAMS)
        return wp_error_set(WP_EINVAL, "more than %d query parameters", WP_HTTP__MAX_QUERY_PARAMS);
    struct wp_http__qpair *query = wp_arena_alloc(a, cap * sizeof *query);
    if (!query)
        return WP_ENOMEM;
    for (const char *p = q + 1; *p;) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        if (kend > p) {
            struct wp_http__qpair *qp = &query[*n];
            qp->key = query_decode(a, p, (size_t)(kend - p));
            qp->value = eq ? query_decode(a, eq + 1, (size_t)(end - eq - 1)) : "";
            if (!qp->key || !qp->value)
                return WP_EINVAL;
            ++*n;
        }
        p = *end ? end + 1 : end;
    }
    *out = query;
    return 0;
}

static int reply_too_large(struct wp_http__req *r)
{
    json_t *d = json_pack("{s:I}", "limit_bytes", (json_int_t)r->srv->opts.max_body_bytes);
    return wp_http_reply_fail(&r->ctx, 413, "body_too_large", d,
                              "the request body is larger than %zu bytes",
                              r->srv->opts.max_body_bytes);
}

/* A WP_ROUTE_STREAM_BODY handler runs as soon as the request is let through: it refuses at
 * once or installs the sink that takes the body. */
static int start_stream(struct wp_http__req *r)
{
    wp_error_clear();
    int err = r->ctx.route->handler(&r->ctx);
    if (r->replied)
        return err;
    if (err < 0)
        return wp_http_reply_error(&r->ctx, err);
    if (!r->has_sink)
        return wp_http_reply_error(&r->ctx,
                                   wp_error_set(WP_EIO, "handler of %s %s installed no body sink",
                                                r->ctx.route->method, r->ctx.route->pattern));
    return 0;
}

static int reply_cross_origin(wp_http_ctx *ctx)
{
    return wp_http_reply_fail(ctx, 403, "cross_origin", NULL,
                              "a request from another origin's page is refused here (Origin "
                              "does not match Host)");
}

/* 1 when Content-Type is application/json, parameters (charset) allowed. */
static int json_content_type(struct MHD_Connection *conn)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    static const char want[] = "application/json";
    if (!ct)
        return 0;
    ct += strspn(ct, " \t");
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return 0;
    ct += sizeof want - 1;
    ct += strspn(ct, " \t");
    return *ct == '\0' || *ct == ';';
}

/* --- framing: what a proxy in front could read differently ------------------------------- */

struct framing {
    int content_length, transfer_encoding, host;
    const char *te;       /* the (last) Transfer-Encoding value */
    const char *bad_name; /* a header name that is not a token */
};

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct framing *f = cls;
    (void)kind;
    const unsigned char *k = (const unsigned char *)key;
    if (!*k)
        f->bad_name = key;
    for (; *k; k++)
        if (!is_tchar(*k))
            f->bad_name = key;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
        f->content_length++;
    else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        f->transfer_encoding++, f->te = value;
    else if (!strcasecmp(key, MHD_HTTP_HEADER_HOST))
        f->host++;
    return MHD_YES;
}

/* Refuse a request whose length a proxy and libmicrohttpd could see differently (RFC 9112
 * 6.1, 6.3; a request smuggled behind it would bypass what the proxy checks): two
 * Content-Length, Content-Length with Transfer-Encoding, a transfer coding other than one
 * "chunked", Transfer-Encoding in HTTP/1.0, a header name with a blank or another non-token
 * character (`Content-Length :` is not Content-Length to libmicrohttpd), two Host. 400
 * bad_framing, before anything else runs, and the connection is closed after it: what
 * follows on it cannot be told apart from the body. @return 1 when it replied */
static int refuse_framing(struct wp_http__req *r, const char *method, const char *version)
{
    struct framing f = {0};
    const char *why = NULL;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &f);
    if (f.bad_name)
        why = "a header name holds a blank or a character that is not allowed";
    else if (f.content_length > 1)
        why = "more than one Content-Length";
    else if (f.transfer_encoding && f.content_length)
        why = "both Content-Length and Transfer-Encoding";
    else if (f.transfer_encoding > 1)
        why = "more than one Transfer-Encoding";
    else if (f.transfer_encoding && strcasecmp(f.te, "chunked") != 0)
        why = "a transfer coding other than chunked";
    else if (f.transfer_encoding && !strcmp(version, MHD_HTTP_VERSION_1_0))
        why = "Transfer-Encoding in an HTTP/1.0 request";
    else if (f.host > 1)
        why = "more than one Host";
    if (!why)
        return 0;
    r->ctx.method = wp_arena_strdup(r->ctx.arena, method);
    r->method = wp_http__method_index(method);
    if (wp_http_add_header(&r->ctx, MHD_HTTP_HEADER_CONNECTION, "close") < 0)
        wp_http_reply_error(&r->ctx, wp_error_set(WP_ENOMEM, "out of memory"));
    else
        wp_http_reply_fail(&r->ctx, 400, "bad_framing", NULL,
                           "the request's length cannot be told for sure: %s", why);
    return 1;
}

/* The first call: the request line and headers are in, the body (if any) is not. Route,
 * check what can be checked now, and reply early when the answer is already known. */
static int begin(struct wp_http__req *r, const char *method)
{
    wp_http_server *srv = r->srv;
    wp_arena *a = r->ctx.arena;
    int err;
    r->ctx.method = wp_arena_strdup(a, method);
    r->method = wp_http__method_index(method);
    if (!r->uri || !r->ctx.path || !r->ctx.method)
        return wp_http_reply_error(&r->ctx, wp_error_set(WP_ENOMEM, "out of memory"));
    const char *q = strchr(r->uri, '?');
    size_t plen = strlen(r->ctx.path);

    char *segs[WP_HTTP_MAX_SEGMENTS];
    size_t nsegs = 0;
    char allow[64];
    long i = -1;
    err = wp_http__split_path(a, r->uri, plen, segs, &nsegs);
    if (err == WP_EINVAL)
        return wp_http_reply_fail(&r->ctx, 400, "invalid_path", NULL, "%s", wp_error_last());
    if (err == WP_ENOMEM)
        return wp_http_reply_error(&r->ctx, err);
    if (err == 0)
        i = wp_http__route_find(srv->opts.routes, srv->opts.n_routes, method, segs, nsegs,
                                r->params, &r->n_params, allow, sizeof allow);
    if (i == -1 && wp_http__static_wanted(r))
        return wp_http__static_serve(r);
    if (i == -1)
        return wp_http_reply_fail(&r->ctx, 404, "not_found", NULL, "no endpoint at '%.200s'",
                                  r->ctx.path);
    if (i == -2) {
        if ((err = wp_http_add_header(&r->ctx, MHD_HTTP_HEADER_ALLOW, allow)) < 0)
            return wp_http_reply_error(&r->ctx, err);
        if (r->method == WP_M_OPTIONS)
            return wp_http_reply_empty(&r->ctx, 204);
        return wp_http_reply_fail(&r->ctx, 405, "method_not_allowed", NULL,
                                  "'%.200s' answers %s, not %.16s", r->ctx.path, allow, method);
    }
    r->route = i;
    r->ctx.route = &srv->opts.routes[i];
    if ((err = wp_http__parse_query(r->ctx.arena, q, &r->query, &r->n_query)) < 0)
        return wp_http_reply_error(&r->ctx, err);
    if ((r->ctx.route->flags & WP_ROUTE_SAME_ORIGIN) && !wp_http_origin_ok(&r->ctx))
        return reply_cross_origin(&r->ctx);

    /* The rights check, in this one place, before a byte of the body is read. Without a hook
     * a route that needs more than public stays closed. */
    if (r->ctx.route->right == WP_RIGHT_METRICS) {
        wp_error_clear();
        if ((err = wp_http__metrics_authorize(r)) < 0)
            return r->replied ? err : wp_http_reply_error(&r->ctx, err);
    } else if (r->ctx.route->right != WP_RIGHT_PUBLIC) {
        if (!srv->opts.authorize)
            return wp_http_reply_error(&r->ctx,
                                       wp_error_set(WP_EAUTH, "authentication is required"));
        wp_error_clear();
        err = srv->opts.authorize(&r->ctx);
        if (r->replied)
            return err;
        if (err < 0)
            return wp_http_reply_error(&r->ctx, err);
    }
    if ((r->ctx.route->flags & WP_ROUTE_JSON_ONLY) && !json_content_type(r->conn))
        return wp_http_reply_fail(&r->ctx, 415, "unsupported_media_type", NULL,
                                  "%s %s takes Content-Type: application/json only",
                                  r->ctx.route->method, r->ctx.route->pattern);
    if (r->ctx.route->flags & WP_ROUTE_STREAM_BODY)
        return start_stream(r);

    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long len = strtoull(cl, &end, 10);
        if (errno == ERANGE || len > srv->opts.max_body_bytes) {
            /* refused before a byte of the body is read: no 100 Continue goes out, and
             * libmicrohttpd closes the connection after this reply */
            wp_http_add_header(&r->ctx, MHD_HTTP_HEADER_CONNECTION, "close");
            return reply_too_large(r);
        }
    }
    return 0;
}

static int take_body(struct wp_http__req *r, const char *data, size_t n)
{
    const wp_http_options *o = &r->srv->opts;
    /* a streamed route takes files (media up to 100 MiB) from phones on mobile networks:
     * minutes, not seconds; a silent connection is still cut by the idle timeout */
    unsigned limit_s = o->request_timeout_s * (r->has_sink ? STREAM_TIMEOUT_FACTOR : 1);
    if (mono_ns() - r->t0_ns > (int64_t)limit_s * 1000000000) {
        snprintf(r->err_msg, sizeof r->err_msg, "upload still arriving after %us", limit_s);
        r->err = WP_ELIMIT;
        return WP_ELIMIT;
    }
    if (r->has_sink && !r->sink_err) {
        int err = r->sink.write(r->sink.arg, data, n);
        if (err < 0) {
            /* the sink refused: keep the error for end() and drain the rest */
            r->sink_err = err;
            r->drained = 0;
        }
        return 0;
    }
    if (r->too_large || r->has_sink) {
        /* thrown away, so the client hears its 413 once it stops sending; a client that
         * keeps going past the drain allowance is cut off */
        r->drained += n;
        size_t allowance = o->max_body_bytes > DRAIN_MIN ? o->max_body_bytes : DRAIN_MIN;
        if (r->drained > (uint64_t)o->max_body_bytes + allowance) {
            snprintf(r->err_msg, sizeof r->err_msg, "chunked body went on past the limit");
            r->err = WP_ELIMIT;
            return WP_ELIMIT;
        }
        return 0;
    }
    if (r->body_failed)
        return 0;
    int err = wp_buf_add(&r->body, data, n);
    if (err == WP_ELIMIT) {
        r->too_large = 1;
        r->drained = (uint64_t)r->body.len + n;
        wp_buf_release(&r->body);
    } else if (err < 0) {
        r->body_failed = 1;
        wp_buf_release(&r->body);
    }
    return 0;
}

static void run_handler(struct wp_http__req *r);

/* A device worker: runs the handlers of WP_ROUTE_SHARED requests, one at a time, then resumes
 * their connections. Queued requests are all run before it stops. */
static void *device_worker(void *arg)
{
    wp_http_server *srv = arg;
    pthread_mutex_lock(&srv->jobs_mu);
    for (;;) {
        while (!srv->jobs_head && !srv->jobs_stop)
            pthread_cond_wait(&srv->jobs_cv, &srv->jobs_mu);
        struct wp_http__req *r = srv->jobs_head;
        if (!r)
            break;
        srv->jobs_head = r->next_job;
        if (!srv->jobs_head)
            srv->jobs_tail = &srv->jobs_head;
        pthread_mutex_unlock(&srv->jobs_mu);
        run_handler(r);
        atomic_store(&r->offload_done, 1);
        atomic_fetch_sub(&srv->shared, 1);
        MHD_resume_connection(r->conn); /* on_request is called again, on its own thread */
        pthread_mutex_lock(&srv->jobs_mu);
    }
    pthread_mutex_unlock(&srv->jobs_mu);
    return NULL;
}

void wp_http__queue_pending(struct wp_http__req *r)
{
    struct MHD_Response *resp = r->pending;
    r->pending = NULL;
    r->offloaded = 0;
    if (resp && MHD_queue_response(r->conn, r->pending_status, resp) != MHD_YES) {
        r->status = 0; /* the connection is closed without a reply; the log says so */
        snprintf(r->err_msg, sizeof r->err_msg, "libmicrohttpd refused the reply");
        r->err = WP_EIO;
    }
    if (resp)
        MHD_destroy_response(resp);
}

/* The last call: the whole body is in. Parse it, run the handler, make sure there is a reply. */
static void finish(struct wp_http__req *r)
{
    wp_http_ctx *ctx = &r->ctx;
    if (r->has_sink) {
        wp_error_clear();
        int err = r->sink.end(ctx, r->sink.arg, r->sink_err);
        if (r->replied)
            return;
        if (err == WP_ELIMIT)
            wp_http_reply_fail(ctx, 413, "body_too_large", NULL, "%s", wp_error_last());
        else
            wp_http_reply_error(ctx, err < 0 ? err
                                             : wp_error_set(WP_EIO, "body sink of %s %s did not "
                                                                    "reply",
                                                            ctx->route->method,
                                                            ctx->route->pattern));
        return;
    }
    if (r->too_large) {
        reply_too_large(r);
        return;
    }
    if (r->body_failed) {
        wp_http_reply_error(ctx, wp_error_set(WP_ENOMEM, "out of memory for the request body"));
        return;
    }
    ctx->raw_body = r->body.buf;
    ctx->raw_body_len = r->body.len;
    if (r->body.len && !(ctx->route->flags & WP_ROUTE_RAW_BODY)) {
        if (!wp_http__json_depth_ok(r->body.buf, r->body.len, WP_HTTP_MAX_JSON_DEPTH)) {
            wp_http_reply_fail(ctx, 400, "invalid_json",
                               json_pack("{s:i}", "max_depth", WP_HTTP_MAX_JSON_DEPTH),
                               "the JSON body nests deeper than %d levels",
                               WP_HTTP_MAX_JSON_DEPTH);
            return;
        }
        json_error_t je;
        ctx->body = wp_json_loadb(r->body.buf, r->body.len, JSON_REJECT_DUPLICATES, &je);
        if (!ctx->body) {
            wp_http_reply_fail(ctx, 400, "invalid_json",
                               json_pack("{s:i,s:i}", "line", je.line, "column", je.column),
                               "the body is not valid JSON: %s", je.text);
            return;
        }
    }
    wp_error_clear();
    if (ctx->route->flags & WP_ROUTE_SHARED) {
        wp_http_server *srv = r->srv;
        if (atomic_fetch_add(&srv->shared, 1) >= srv->opts.device_threads) {
            /* every device worker is taken: answer now rather than queue without bound */
            atomic_fetch_sub(&srv->shared, 1);
            atomic_fetch_add(&srv->shared_refused, 1);
            wp_http_reply_error(ctx, wp_error_set(WP_EOVERLOAD,
                                                  "every thread for device uploads is busy; "
                                                  "send the same events again after "
                                                  "Retry-After"));
            return;
        }
        /* libmicrohttpd's thread goes back to its other connections; a device worker runs
         * the handler (it waits for the commit) and resumes this connection */
        r->offloaded = 1;
        MHD_suspend_connection(r->conn);
        pthread_mutex_lock(&srv->jobs_mu);
        r->next_job = NULL;
        *srv->jobs_tail = r;
        srv->jobs_tail = &r->next_job;
        pthread_cond_signal(&srv->jobs_cv);
        pthread_mutex_unlock(&srv->jobs_mu);
        return;
    }
    run_handler(r);
}

/* With the test hooks on, the header X-Workphone-Test-Fail: store=N or alloc=N (1..1000000)
 * arms the injected store or allocation failure for this request's handler
 * (docs/internals/util.md). 0, or -1 after replying 400 to a malformed header. With the hooks
 * off the header is ignored. */
static int arm_test_fail(struct wp_http__req *r)
{
    if (!wp_test_hooks_get()->on)
        return 0;
    const char *v = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Workphone-Test-Fail");
    if (!v)
        return 0;
    char *end = NULL;
    unsigned long n = 0;
    int alloc = !strncmp(v, "alloc=", 6);
    if ((alloc || !strncmp(v, "store=", 6)) && v[6] >= '0' && v[6] <= '9')
        n = strtoul(v + 6, &end, 10);
    if (!end || *end || n < 1 || n > 1000000) {
        wp_http_reply_fail(&r->ctx, 400, "invalid_request", NULL,
                           "X-Workphone-Test-Fail must be store=N or alloc=N, N 1..1000000");
        return -1;
    }
    if (alloc)
        wp_test_hooks_alloc_arm((unsigned)n);
    else
        wp_test_hooks_store_arm((unsigned)n);
    return 0;
}

/* Run a parsed request's handler and make sure there is a reply. */
static void run_handler(struct wp_http__req *r)
{
    wp_http_ctx *ctx = &r->ctx;
    wp_error_clear();
    if (arm_test_fail(r) < 0)
        return;
    int err = ctx->route->handler(ctx);
    if (!r->replied) {
        if (err >= 0)
            err = wp_error_set(WP_EIO, "handler of %s %s returned without a reply",
                               ctx->route->method, ctx->route->pattern);
        wp_http_reply_error(ctx, err);
    }
    wp_test_hooks_store_arm(0);
    wp_test_hooks_alloc_arm(0);
}

static int announces_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (cl && strcmp(cl, "0") != 0) ||
           MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct wp_http__req *r = *con_cls;
    if (!r)
        return MHD_NO; /* on_uri ran out of memory */
    if (r->offloaded) {
        /* called again after a device worker resumed the connection */
        if (!atomic_load(&r->offload_done))
            return MHD_YES;
        int had = r->pending != NULL;
        wp_http__queue_pending(r);
        return had && r->status ? MHD_YES : MHD_NO;
    }
    if (r->replied) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->started) {
        r->started = 1;
        r->conn = conn;
        if (refuse_framing(r, method, version))
            return MHD_YES;
        /* A reply before the body is read makes libmicrohttpd close the connection, which is
         * right when a body is coming that we do not want (413, 401, 404) and a waste when
         * there is none: then everything waits for the last call. */
        if (!announces_body(conn))
            return MHD_YES;
        r->begun = 1;
        begin(r, method);
        return MHD_YES;
    }
    if (*upload_size) {
        int err = take_body(r, upload_data, *upload_size);
        *upload_size = 0;
        return err < 0 ? MHD_NO : MHD_YES;
    }
    if (!r->begun) {
        r->begun = 1;
        begin(r, method);
        if (r->replied)
            return MHD_YES;
    }
    finish(r);
    return r->replied || r->offloaded ? MHD_YES : MHD_NO;
}

/* --- what handlers read of the credentials ------------------------------------------------ */

const char *wp_http_bearer(const wp_http_ctx *ctx)
{
    const char *h = wp_http_header(ctx, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h)
        return NULL;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return NULL;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    return n ? wp_arena_strndup(ctx->arena, h, n) : NULL;
}

const char *wp_http_cookie(const wp_http_ctx *ctx, const char *name)
{
    const struct wp_http__req *r = (const struct wp_http__req *)ctx;
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

/* host[:port] (a name, an IPv4 address or a [IPv6] literal) into its host and port; port
 * -1 when not given. 0, or -1 when it does not parse. */
int wp_http__parse_authority(const char *s, size_t n, const char **host, size_t *hlen, long *port)
{
    const char *end = s + n, *p;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || close == s + 1)
            return -1;
        for (p = s + 1; p < close; p++)
            if (!*p || !strchr("0123456789abcdefABCDEF:.", *p)) /* strchr finds the NUL */
                return -1;
        p = close + 1;
    } else {
        for (p = s; p < end && *p != ':'; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~'))
                return -1;
        if (p == s)
            return -1;
    }
    *host = s;
    *hlen = (size_t)(p - s);
    *port = -1;
    if (p == end)
        return 0;
    if (*p != ':' || p + 1 == end || end - (p + 1) > 5)
        return -1;
    long v = 0;
    for (p++; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

int wp_http_is_https(const wp_http_ctx *ctx)
{
    const struct wp_http__req *r = (const struct wp_http__req *)ctx;
    if (r->srv->tls_cert)
        return 1;
    const char *proto = wp_http_header(ctx, "X-Forwarded-Proto");
    return proto && !strcasecmp(proto, "https");
}

int wp_http_origin_ok(const wp_http_ctx *ctx)
{
    const char *origin = wp_http_header(ctx, "Origin");
    if (!origin)
        return 1;
    int https = wp_http_is_https(ctx);
    const char *scheme = https ? "https://" : "http://";
    long dflt = https ? 443 : 80;
    size_t sl = strlen(scheme);
    const char *host_hdr = wp_http_header(ctx, MHD_HTTP_HEADER_HOST);
    const char *oh, *hh;
    size_t ohl, hhl;
    long op, hp;
    if (!host_hdr || strncasecmp(origin, scheme, sl) != 0 ||
        wp_http__parse_authority(origin + sl, strlen(origin + sl), &oh, &ohl, &op) < 0 ||
        wp_http__parse_authority(host_hdr, strlen(host_hdr), &hh, &hhl, &hp) < 0)
        return 0;
    if (op < 0)
        op = dflt;
    if (hp < 0)
        hp = dflt;
    return ohl == hhl && !strncasecmp(oh, hh, ohl) && op == hp;
}

void wp_http_body_sink_set(wp_http_ctx *ctx, const wp_http_body_sink *sink)
{
    struct wp_http__req *r = (struct wp_http__req *)ctx;
    r->sink = *sink;
    r->has_sink = 1;
}

/* --- the server ------------------------------------------------------------------------ */

static void fill_defaults(wp_http_options *o)
{
    if (!o->threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = n > 0 && n < 256 ? (unsigned)n : 1;
    }
    if (!o->max_connections)
        o->max_connections = 1024;
    if (!o->device_threads)
        o->device_threads = o->threads;
    if (!o->idle_timeout_s)
        o->idle_timeout_s = 30;
    if (!o->request_timeout_s)
        o->request_timeout_s = 60;
    if (!o->max_header_bytes)
        o->max_header_bytes = 64 * 1024;
    if (!o->max_body_bytes)
        o->max_body_bytes = WP_HTTP_DEFAULT_BODY_MAX;
}

/* While stopping, a new connection is closed as soon as it is accepted: no new requests. (Not
 * MHD_quiesce_daemon(): with epoll and a thread pool, 0.9.75 can remove the listen socket
 * from a worker's epoll set twice, racing the worker, and abort the process.) */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    const wp_http_server *srv = cls;
    (void)addr, (void)len;
    return atomic_load(&srv->stopping) ? MHD_NO : MHD_YES;
}

static struct MHD_Daemon *start(wp_http_server *srv, const struct sockaddr *addr,
                                unsigned poll_flag)
{
    const wp_http_options *o = &srv->opts;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME | poll_flag;
    uint16_t port;
    if (addr->sa_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
        port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    } else {
        port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
    }
    /* HTTPS: the certificate and key from memory (copies the server keeps), TLS 1.2 on */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)WP_HTTP_TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    if (srv->tls_cert)
        flags |= MHD_USE_TLS;
    /* the logger first, so that libmicrohttpd's messages about the other options reach it */
    return MHD_start_daemon(
        flags, port, on_accept, srv, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_ARRAY, srv->tls_cert ? tls : tls + 3, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)o->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)o->max_header_bytes,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_END);
}

int wp_http_server_new(wp_http_server **out, const wp_http_options *opts)
{
    int err;
    if (!opts->routes || !opts->n_routes)
        return wp_error_set(WP_EINVAL, "no routes");
    if ((err = wp_http_routes_check(opts->routes, opts->n_routes)) < 0)
        return err;
    if (sodium_init() < 0)
        return wp_error_set(WP_EIO, "libsodium cannot start");
    wp_http_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return wp_error_set(WP_ENOMEM, "out of memory");
    srv->opts = *opts;
    fill_defaults(&srv->opts);
    if (opts->metrics_token) {
        if (!*opts->metrics_token) {
            free(srv);
            return wp_error_set(WP_EINVAL, "the metrics token is empty");
        }
        crypto_generichash(srv->metrics_token_hash, sizeof srv->metrics_token_hash,
                           (const unsigned char *)opts->metrics_token,
                           strlen(opts->metrics_token), NULL, 0);
        srv->has_metrics_token = 1;
        srv->opts.metrics_token = NULL; /* borrowed: only its hash is kept */
    }
    srv->opts.tls = NULL; /* borrowed: copied below */
    if (opts->tls && opts->tls->cert_pem) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            free(srv);
            return wp_error_set(WP_EINVAL, "this libmicrohttpd was built without TLS");
        }
        if (!(srv->tls_cert = strdup(opts->tls->cert_pem)) ||
            !(srv->tls_key = strdup(opts->tls->key_pem ? opts->tls->key_pem : ""))) {
            free(srv->tls_cert);
            free(srv);
            return wp_error_set(WP_ENOMEM, "out of memory");
        }
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->idle, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->jobs_mu, NULL);
    pthread_cond_init(&srv->jobs_cv, NULL);
    srv->jobs_tail = &srv->jobs_head;
    srv->stopped = 1; /* until the daemon runs, free has nothing to stop */
    if (!(srv->workers = calloc(srv->opts.device_threads, sizeof *srv->workers))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (; srv->n_workers < srv->opts.device_threads; srv->n_workers++)
        if (pthread_create(&srv->workers[srv->n_workers], NULL, device_worker, srv) != 0) {
            err = wp_error_set(WP_ENOMEM, "cannot start the device upload threads");
            goto out;
        }
    if ((err = wp_http__metrics_init(&srv->metrics, srv->opts.n_routes)) < 0)
        goto out;

    struct sockaddr_in def = {.sin_family = AF_INET, .sin_port = htons(opts->port)};
    def.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const struct sockaddr *addr = opts->addr ? opts->addr : (const struct sockaddr *)&def;
    if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) {
        err = wp_error_set(WP_EINVAL, "the listen address is neither IPv4 nor IPv6");
        goto out;
    }
    /* epoll where libmicrohttpd was built with it, else poll, else select */
    srv->d = start(srv, addr,
                   MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES  ? MHD_USE_EPOLL
                   : MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES ? MHD_USE_POLL
                                                                           : 0);
    if (!srv->d) {
        char host[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;
        if (addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, host, sizeof host);
            port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
        } else {
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, host,
                      sizeof host);
            port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
        }
        err = wp_error_set(WP_EIO, "cannot listen on %s%s%s:%u (in use, or not an address of this "
                                   "host; the server log has the reason)",
                           addr->sa_family == AF_INET6 ? "[" : "", host,
                           addr->sa_family == AF_INET6 ? "]" : "", port);
        goto out;
    }
    srv->stopped = 0;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : opts->port;
    *out = srv;
    return 0;
out:
    wp_http_server_free(srv);
    return err;
}

uint16_t wp_http_server_port(const wp_http_server *srv)
{
    return srv->port;
}

static void stop_workers(wp_http_server *srv)
{
    pthread_mutex_lock(&srv->jobs_mu);
    srv->jobs_stop = 1;
    pthread_cond_broadcast(&srv->jobs_cv);
    pthread_mutex_unlock(&srv->jobs_mu);
    for (unsigned i = 0; i < srv->n_workers; i++)
        pthread_join(srv->workers[i], NULL);
    srv->n_workers = 0;
}

int wp_http_server_stop(wp_http_server *srv, unsigned wait_ms)
{
    if (srv->stopped)
        return 0;
    atomic_store(&srv->stopping, 1); /* from now on on_accept() turns connections away */
    if (srv->opts.on_stopping)
        srv->opts.on_stopping(srv->opts.on_stopping_arg);

    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += wait_ms / 1000;
    dl.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&srv->mu);
    while (atomic_load(&srv->active) > 0)
        if (pthread_cond_timedwait(&srv->idle, &srv->mu, &dl) == ETIMEDOUT)
            break;
    long left = atomic_load(&srv->active);
    pthread_mutex_unlock(&srv->mu);

    /* libmicrohttpd must not stop with a connection suspended: the device workers finish
     * every upload handed to them (the writer still runs) and resume its connection first */
    stop_workers(srv);
    MHD_stop_daemon(srv->d);
    srv->d = NULL;
    srv->stopped = 1;
    return (int)left;
}

void wp_http_server_free(wp_http_server *srv)
{
    if (!srv)
        return;
    wp_http_server_stop(srv, 0);
    stop_workers(srv); /* when the daemon never started */
    free(srv->workers);
    pthread_cond_destroy(&srv->jobs_cv);
    pthread_mutex_destroy(&srv->jobs_mu);
    wp_http__metrics_release(&srv->metrics);
    pthread_cond_destroy(&srv->idle);
    pthread_mutex_destroy(&srv->mu);
    free(srv->tls_cert);
    if (srv->tls_key) {
        sodium_memzero(srv->tls_key, strlen(srv->tls_key));
        free(srv->tls_key);
    }
    free(srv);
}
