/* SPDX-License-Identifier: MIT */
/* The HTTP layer: a libmicrohttpd server that routes through the table it is given, request
 * contexts and JSON replies. */
#ifndef WP_HTTP_H
#define WP_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/arena.h"
#include "util/buf.h"

#define WP_HTTP_MAX_PARAMS 8         /* {param} segments in one pattern */
#define WP_HTTP_MAX_SEGMENTS 32      /* path segments; deeper paths are not routed */
#define WP_HTTP_MAX_JSON_DEPTH 32    /* nesting of arrays and objects in a request body */
#define WP_HTTP_DEFAULT_BODY_MAX (8u * 1024 * 1024)
#define WP_HTTP_RETRY_AFTER_S "10"   /* seconds, in a 503 for a full disk: when to try again */

/* What a caller needs to be allowed through a route. Every right but WP_RIGHT_PUBLIC and
 * WP_RIGHT_METRICS is checked by wp_http_options.authorize before the handler runs (and before
 * the body is read); a server without that hook refuses those routes with 401, so a handler is
 * never reachable without its check. */
enum wp_http_right {
    WP_RIGHT_PUBLIC = 1, /* anyone */
    WP_RIGHT_METRICS,    /* the Prometheus scraper: loopback clients, or the bearer token of
                          * wp_http_options.metrics_token from anyone */
    WP_RIGHT_DEVICE,     /* an enrolled device's bearer token */
    WP_RIGHT_READ,       /* a console user or API key that may read within its scope */
    WP_RIGHT_WRITE,      /* ... and change things within its scope */
    WP_RIGHT_ADMIN,      /* tenant administrators */
    WP_RIGHT_SESSION,    /* any logged-in console user, whatever its role: its own session */
    WP_RIGHT_AUDIT,      /* who reads the audit log: admins and auditors */
    WP_RIGHT_HANDLE_ALERTS, /* acknowledge and resolve alerts: admins, managers, and auditors
                             * where the tenant's role settings say so (never sales) */
    WP_RIGHT_MANAGE,     /* decide for others within the scope (assign customers, hand over,
                          * keep tags and scripts): admins and managers */
    WP_RIGHT_UNMASK,     /* see one object's personal data, audited: roles whose settings in
                          * the tenant grant unmask or view_pii */
};
#define WP_RIGHT_COUNT 11

/* "public", "metrics", "device", "read", "write", "admin", "session", "audit",
 * "handle_alerts", "manage", "unmask"; "?" else. */
const char *wp_http_right_name(enum wp_http_right r);

enum wp_http_route_flags {
    WP_ROUTE_RAW_BODY = 1 << 0,    /* hand the body over as bytes; do not parse it as JSON */
    WP_ROUTE_CHANGES_NOTHING = 1 << 2, /* a POST that only computes (a check): no audit row */
    WP_ROUTE_STREAM_BODY = 1 << 1, /* the handler runs before the body is read and takes it in
                                    * pieces through wp_http_body_sink_set(); the server's
                                    * body limit does not apply: the sink sets its own */
    WP_ROUTE_JSON_ONLY = 1 << 3,   /* a Content-Type other than application/json is 415
                                    * unsupported_media_type: no browser form or text/plain
                                    * post of another site can reach it without a preflight */
    WP_ROUTE_SAME_ORIGIN = 1 << 4, /* an Origin header other than the request's own origin
                                    * (wp_http_origin_ok()) is 403 cross_origin */
    WP_ROUTE_SHARED = 1 << 5,      /* a handler that waits (a device upload waits for the
                                    * commit): run on wp_http_options.device_threads threads of
                                    * their own; all taken, 503 overloaded + Retry-After */
};

typedef struct wp_http_ctx wp_http_ctx;

/* A handler replies with one of the wp_http_reply_* functions and returns 0, or returns a
 * negative WP_E* without replying and the server replies with wp_http_reply_error(). It runs on
 * one of the server's threads and must not block for long: other connections share it. */
typedef int (*wp_http_handler)(wp_http_ctx *ctx);

/* One row of a route table. pattern is an absolute path whose segments are literals or
 * {name} (matching one non-empty segment, percent-decoded, exposed by wp_http_param()).
 * Rows are tried in order; wp_http_routes_check() refuses a row that an earlier one hides. */
typedef struct wp_http_route {
    const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE"; GET also answers HEAD */
    const char *pattern;
    wp_http_handler handler;
    enum wp_http_right right;
    unsigned flags; /* enum wp_http_route_flags */
} wp_http_route;

/* Validate a table: methods, patterns ({name} of [a-z_][a-z0-9_]*, no empty segment, at most
 * WP_HTTP_MAX_PARAMS params), handlers, rights, and no row hidden by an earlier one.
 * @return 0 or WP_EINVAL with wp_error_last() naming the row */
int wp_http_routes_check(const wp_http_route *routes, size_t n);

/* What a handler sees of its request. Everything here is borrowed and valid until the handler
 * returns; allocate what must live as long from ctx->arena. */
struct wp_http_ctx {
    const char *method;         /* as sent: "GET", "HEAD", "POST", ... */
    const char *path;           /* the path as sent, still percent-encoded, without the query */
    const wp_http_route *route; /* the row that matched */
    json_t *body;               /* the parsed JSON body; NULL when there was none (or RAW_BODY) */
    const char *raw_body;       /* the body bytes, NUL-terminated; "" when there was none */
    size_t raw_body_len;
    const char *client;     /* the peer's address: "127.0.0.1", "::1" */
    const char *request_id; /* also sent back as X-Request-Id and logged */
    void *app;              /* wp_http_options.app: the application's shared state */
    wp_arena *arena;        /* freed when the request completes */
    void *auth;             /* who is calling: set by wp_http_options.authorize; NULL on
                             * public routes */
};

/* The decoded value of the route's {name} segment; NULL when the pattern has none. */
const char *wp_http_param(const wp_http_ctx *ctx, const char *name);

/* The first decoded value of query parameter name ('+' is a space); NULL when absent. */
const char *wp_http_query(const wp_http_ctx *ctx, const char *name);

/* A request header (case-insensitive name); NULL when absent. */
const char *wp_http_header(const wp_http_ctx *ctx, const char *name);

/* The credential of an `Authorization: Bearer <token>` header (scheme case-insensitive,
 * surrounding blanks dropped); NULL when there is none or the token is empty. */
const char *wp_http_bearer(const wp_http_ctx *ctx);

/* The value of cookie name in the request's Cookie header; NULL when absent. */
const char *wp_http_cookie(const wp_http_ctx *ctx, const char *name);

/* 1 when the request came over https: the server's own TLS (wp_http_options.tls), or a
 * proxy in front said so with `X-Forwarded-Proto: https` (as the origin check has always
 * read it: a client that sends it to a plain-http server only makes its own cookies Secure,
 * which its browser then drops). Session cookies are Secure then. */
int wp_http_is_https(const wp_http_ctx *ctx);

/* 1 when the request has no Origin header (not a browser's, or a browser's same-origin GET)
 * or its Origin is the request's own: the same scheme (https when wp_http_is_https(), else
 * http), host (as the Host header names it, case-insensitive) and port (80 or 443 when
 * not given). 0 for any other origin, "null", or an Origin or Host that does not parse. */
int wp_http_origin_ok(const wp_http_ctx *ctx);

/* Where a WP_ROUTE_STREAM_BODY handler sends the body. The handler installs it and returns 0
 * without replying (or replies at once to refuse the request: 401, 413 on Content-Length).
 * write() gets the body in pieces as it arrives; a negative WP_E* from it stops the writing: the
 * rest of the body is thrown away (and the connection cut past a drain allowance). end() runs
 * once the body is in, with 0 or that error, and replies like a handler (a negative return
 * without a reply is replied with wp_http_reply_error(); WP_ELIMIT answers 413
 * body_too_large). release() runs once when the request completes, whatever happened (the
 * client may have gone away before end()): it frees arg. */
typedef struct wp_http_body_sink {
    int (*write)(void *arg, const char *data, size_t len);
    int (*end)(wp_http_ctx *ctx, void *arg, int err);
    void (*release)(void *arg);
    void *arg;
} wp_http_body_sink;

/* Install the sink of a WP_ROUTE_STREAM_BODY request (copied). Only from its handler. */
void wp_http_body_sink_set(wp_http_ctx *ctx, const wp_http_body_sink *sink);

/* Add a header to the reply that is about to be sent. Copies both strings.
 * @return 0 or WP_ENOMEM */
int wp_http_add_header(wp_http_ctx *ctx, const char *name, const char *value);

/* A write's reply, made whole before the write commits: what can fail for want of memory
 * (serializing, the masking filter, copying headers) then happens before the change is stored,
 * and an error answered after a commit cannot hide a stored change from the client.
 * wp_http_ready_json() serializes body (taken over; NULL with status 204: no body) and keeps
 * the reply; wp_http_ready_header() adds a header to it only (an error answered instead never
 * carries it: a session cookie, say); wp_http_ready_send() queues it after the commit. A ready
 * reply never sent is dropped when the request ends.
 * @return 0, or WP_ENOMEM / WP_EIO (send: WP_EINVAL when nothing is ready) */
int wp_http_ready_json(wp_http_ctx *ctx, unsigned status, json_t *body);
int wp_http_ready_header(wp_http_ctx *ctx, const char *name, const char *value);
int wp_http_ready_send(wp_http_ctx *ctx);

/* Reply with a JSON document. Takes ownership of body (NULL replies WP_ENOMEM's 500).
 * @return 0, or WP_ENOMEM / WP_EIO when nothing could be queued */
int wp_http_reply_json(wp_http_ctx *ctx, unsigned status, json_t *body);

/* Reply with bytes of the given content type. Takes ownership of data (malloc'ed; may be NULL
 * when len is 0). */
int wp_http_reply_bytes(wp_http_ctx *ctx, unsigned status, const char *content_type, char *data,
                        size_t len);

/* Reply with no body (204, 304). */
int wp_http_reply_empty(wp_http_ctx *ctx, unsigned status);

/* Reply with size bytes of the file open at fd (taken over: closed when sent, or at once on
 * failure). For downloads of stored media. */
int wp_http_reply_fd(wp_http_ctx *ctx, unsigned status, const char *content_type, int fd,
                     uint64_t size);

/* Reply with size bytes that read(cls, buf, max) hands out in order (the count, 0 at the end,
 * < 0 cuts the connection: the status went out already); done(cls) when the reply is over or
 * could not be made (cls is taken over). For encrypted media, decrypted as they are sent. */
int wp_http_reply_stream(wp_http_ctx *ctx, unsigned status, const char *content_type,
                         uint64_t size, long (*read)(void *cls, void *buf, size_t max),
                         void (*done)(void *cls), void *cls);

/* The one mapping from a WP_E* code to HTTP: *status, the snake_case *code of the error body,
 * and whether wp_error_last() may be shown to the client (*expose; never for a 500). */
void wp_http_error_map(int err, unsigned *status, const char **code, int *expose);

/* Reply {"error":{"code","message","details":{}}} for a WP_E* code, through
 * wp_http_error_map(): the message is wp_error_last() for 4xx and a generic sentence for 5xx;
 * a 503 carries Retry-After: WP_HTTP_RETRY_AFTER_S for a full disk (WP_EFULL), 1 s for the store
 * gone or busy and for overload, none for damaged media (WP_ECORRUPT).
 * @return err, so that `return wp_http_reply_error(ctx, err);` propagates it */
int wp_http_reply_error(wp_http_ctx *ctx, int err);

/* Reply an error body with an explicit status and code, for errors that are not a WP_E*
 * (invalid_json, body_too_large, method_not_allowed). Takes ownership of details (NULL: {}).
 * @return WP_EINVAL, so that helpers can return it */
int wp_http_reply_fail(wp_http_ctx *ctx, unsigned status, const char *code, json_t *details,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The request's body as a JSON object, or a 400 invalid_json reply when there is no body or it
 * is not an object. @return 0 (borrowed *out, valid until the handler returns) or WP_EINVAL */
int wp_http_body_object_or_reply(wp_http_ctx *ctx, json_t **out);

/* GET /metrics in Prometheus text: the layer's own counters, then wp_http_options.metrics.
 * For the application's route table, on a row whose right is WP_RIGHT_METRICS (which the
 * layer checks itself before calling it). */
int wp_http_metrics_get(wp_http_ctx *ctx);

/* Where the console's built files are when nothing else says: web/dist of the source tree
 * this binary was built from (compiled in). Borrowed; static. */
const char *wp_http_web_dir_default(void);

/* --- TLS (src/http/tls.c) ------------------------------------------------------------- */

/* A certificate (chain) and its private key, PEM, as the server serves them. */
typedef struct wp_http_tls {
    char *cert_pem, *key_pem; /* NUL-terminated; NULL: plain http */
    int key_group_readable;   /* the key file's group may read it: the caller warns */
} wp_http_tls;

/* Read and check a certificate and its key from PEM files: both readable regular files of at
 * most 1 MiB, the certificate one GnuTLS parses, the key an unencrypted one that belongs to
 * it, the key file not readable by others (group-readable is allowed, as Debian's ssl-cert
 * group has it, and reported in key_group_readable).
 * @return 0; WP_EINVAL with wp_error_last() naming the flag (--tls-cert, --tls-key) and the
 *         file; WP_ENOMEM. *out untouched on failure.
 * Caller owns *out's strings; release with wp_http_tls_release(). */
int wp_http_tls_load(wp_http_tls *out, const char *cert_path, const char *key_path);

/* Free the strings (the key wiped first). NULL is a no-op. */
void wp_http_tls_release(wp_http_tls *t);

/* HTTPS at least TLS 1.2, in GnuTLS's priority syntax. */
#define WP_HTTP_TLS_PRIORITIES "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-SSL3.0"

/* Sent with every reply of a server that serves TLS itself: a year. */
#define WP_HTTP_HSTS "max-age=31536000"

/* --- the server ------------------------------------------------------------------------ */

typedef struct wp_http_server wp_http_server;

typedef struct wp_http_options {
    const struct sockaddr *addr; /* IPv4 or IPv6, port included; NULL: 127.0.0.1:port */
    uint16_t port;               /* when addr is NULL; 0 picks a free port */
    const wp_http_route *routes; /* checked with wp_http_routes_check(); borrowed */
    size_t n_routes;
    void *app;                /* handed to handlers as ctx->app; borrowed */
    unsigned threads;         /* 0: one per online core */
    unsigned max_connections; /* 0: 1024; past it a new connection is closed at once */
    /* WP_ROUTE_SHARED handlers (they wait for the writer's commit) run on this many threads
     * of their own, the connection suspended meanwhile, so libmicrohttpd's threads stay free
     * for everything else; while all are taken one more answers 503 overloaded with
     * Retry-After at once. 0: as many as threads. */
    unsigned device_threads;
    unsigned idle_timeout_s;  /* a connection silent this long is closed; 0: 30 */
    unsigned request_timeout_s; /* an upload still arriving after this is cut (ten times
                                 * this on WP_ROUTE_STREAM_BODY routes); 0: 60 */
    size_t max_header_bytes;    /* per-connection memory for the request line and headers; 0: 64 KiB */
    size_t max_body_bytes;      /* 0: WP_HTTP_DEFAULT_BODY_MAX */
    int log_fd;                 /* one line per request; -1: none */
    /* The rights check, run for every route whose right is not public or metrics, once the
     * headers are in and before the body is read. It sets ctx->auth and returns 0 to let the
     * request through, or returns a negative WP_E* (WP_EAUTH: 401), having replied itself when
     * the answer is not that mapping (403). NULL: such routes answer 401. */
    int (*authorize)(wp_http_ctx *ctx);
    /* The outbound boundary: every JSON body a handler replies with (wp_http_reply_json)
     * passes through it before it is written out, and may be changed in place (personal data
     * masked for the caller). A negative WP_E* fails the reply with a 500 instead. NULL: none. */
    int (*reply_filter)(wp_http_ctx *ctx, json_t *body);
    /* Called once when a request that passed authorize completes, whatever happened: releases
     * what authorize took for it. NULL: none. */
    void (*release)(wp_http_ctx *ctx);
    /* The web console (src/http/static.c): a GET or HEAD that no route answers, outside /api
     * and /metrics, is a file of this directory (assets/ cached for a year, the rest
     * revalidated, a .gz sibling sent to clients that take gzip), else index.html (the
     * console's router reads the path), else a page saying how to build the console. The
     * directory is looked at on every request. NULL: such requests answer 404 as JSON. */
    const char *web_dir;
    /* The bearer token GET /metrics asks of every client, compared in constant time; NULL:
     * loopback clients only (127.0.0.0/8, ::1), without a token. Borrowed during
     * wp_http_server_new(), which keeps only its hash. */
    const char *metrics_token;
    /* Appends the application's own series (Prometheus text) to /metrics; NULL: none. */
    int (*metrics)(void *app, wp_buf *out);
    /* Test hook: called by wp_http_server_stop() once new connections are turned away and
     * before it waits for requests in flight. */
    void (*on_stopping)(void *arg);
    void *on_stopping_arg;
    /* Serve HTTPS with this certificate and key (wp_http_tls_load(); borrowed during
     * wp_http_server_new(), which copies them): TLS 1.2 and later only
     * (WP_HTTP_TLS_PRIORITIES), every reply with Strict-Transport-Security: WP_HTTP_HSTS,
     * wp_http_is_https() 1. NULL or no cert_pem: plain http. */
    const wp_http_tls *tls;
} wp_http_options;

#define WP_HTTP_OPTIONS_INIT {.port = 8080, .log_fd = 2}

/* Start serving on a pool of threads (epoll, or poll where epoll is missing).
 * @return 0; WP_EINVAL (bad route table or options, message says which); WP_EIO (cannot
 *         listen: address in use, permission); WP_ENOMEM
 * Caller owns *out; stop it with wp_http_server_stop() and release with wp_http_server_free(). */
int wp_http_server_new(wp_http_server **out, const wp_http_options *opts);

/* The port the server listens on (the one picked when options asked for 0). */
uint16_t wp_http_server_port(const wp_http_server *srv);

/* Stop gracefully: close the listening socket, let requests in flight finish for up to
 * wait_ms milliseconds (their replies carry Connection: close), then stop every thread.
 * @return how many requests were cut short (0 when all finished). Idempotent; call it from one
 *         thread at a time. */
int wp_http_server_stop(wp_http_server *srv, unsigned wait_ms);

/* Stop (without waiting) if still running and release. NULL is a no-op. */
void wp_http_server_free(wp_http_server *srv);

#endif
