/* SPDX-License-Identifier: MIT */
/* What the files of src/http share and nothing else sees: the server, request and metrics. */
#ifndef WP_HTTP_INTERNAL_H
#define WP_HTTP_INTERNAL_H

#include "http/http.h"
#include "util/buf.h"
#include "util/id.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

/* Methods as metrics see them: a fixed set, so a client cannot grow the label space. */
enum { WP_M_GET, WP_M_HEAD, WP_M_POST, WP_M_PUT, WP_M_PATCH, WP_M_DELETE, WP_M_OPTIONS,
       WP_M_OTHER, WP_M_COUNT };

int wp_http__method_index(const char *method);
const char *wp_http__method_name(int idx);

/* Latency buckets in microseconds; one more bucket counts +Inf. */
#define WP_HTTP_BUCKETS 12
extern const uint64_t wp_http__bucket_us[WP_HTTP_BUCKETS];

/* The statuses the counters keep apart; anything else is counted as "other". */
#define WP_HTTP_STATUSES 26
extern const unsigned wp_http__statuses[WP_HTTP_STATUSES]; /* last entry 0: other */

/* Counters for /metrics. Slot i is route i; slot n_routes counts requests no route matched. */
struct wp_http__metrics {
    size_t n_slots;
    _Atomic uint64_t *requests; /* [slot][method][status] */
    _Atomic uint64_t *buckets;  /* [slot][method][bucket + 1], not cumulative */
    _Atomic uint64_t *sum_us;   /* [slot][method] */
};

int wp_http__metrics_init(struct wp_http__metrics *m, size_t n_routes);
void wp_http__metrics_release(struct wp_http__metrics *m);
void wp_http__metrics_record(struct wp_http__metrics *m, size_t slot, int method, unsigned status,
                             uint64_t dur_us);

/* 1 for a loopback address: IPv4 127.0.0.0/8, IPv6 ::1 and ::ffff:127.0.0.0/104. */
int wp_http__addr_is_loopback(const struct sockaddr *sa);

struct wp_http__param {
    const char *name; /* points into the pattern, not NUL-terminated */
    size_t name_len;
    const char *value;
};

/* Split a raw path ("/a/b%20c") into percent-decoded segments allocated from a.
 * @return 0; WP_EINVAL (not starting with '/', bad %-escape, %00); WP_ELIMIT (more than
 *         WP_HTTP_MAX_SEGMENTS segments) */
int wp_http__split_path(wp_arena *a, const char *path, size_t len, char **segs, size_t *nsegs);

/* Split a query string ("?a=1&b=%20") into decoded pairs allocated from a: '+' is a space,
 * %XX a byte, a pair without '=' has the value "", an empty key is skipped.
 * @return 0 (*out NULL and *n 0 for no query); WP_EINVAL (bad %-escape, %00, more than
 *         WP_HTTP__MAX_QUERY_PARAMS pairs); WP_ENOMEM */
#define WP_HTTP__MAX_QUERY_PARAMS 64
struct wp_http__qpair;
int wp_http__parse_query(wp_arena *a, const char *q, struct wp_http__qpair **out, size_t *n);

/* The request path as a relative file name under the console's directory (static.c):
 * 0, or -1 for a path that would leave it or does not fit cap. */
int wp_http__rel_path(const char *path, char *out, size_t cap);

/* host[:port] of a Host or Origin header (server.c): 0, or -1 when it does not parse; port -1
 * when not given. */
int wp_http__parse_authority(const char *s, size_t n, const char **host, size_t *hlen, long *port);

/* The first row matching method and segments: its index, with *n_params params filled in.
 * -1 when no row has this path; -2 when rows have it for other methods: allow then holds
 * them ("GET, HEAD, OPTIONS"). */
long wp_http__route_find(const wp_http_route *routes, size_t n, const char *method,
                         char *const *segs, size_t nsegs, struct wp_http__param *params,
                         size_t *n_params, char *allow, size_t allow_cap);

/* 1 when the text nests arrays and objects no deeper than max (strings are skipped). */
int wp_http__json_depth_ok(const char *s, size_t len, int max);

struct wp_http__header {
    struct wp_http__header *next;
    const char *name, *value;
};

struct wp_http__qpair {
    const char *key, *value;
};

/* One request, from its request line to the end of its reply. ctx comes first: handlers get
 * &req->ctx and the server gets the request back with a cast. */
struct wp_http__req {
    wp_http_ctx ctx;
    wp_http_server *srv;
    struct MHD_Connection *conn;
    int64_t t0_ns;   /* monotonic, at the request line */
    int64_t wall_us; /* real time, at the request line, for the log */
    const char *uri; /* raw, query included */
    long route;      /* index in the table, or -1 */
    int method;      /* WP_M_* */
    struct wp_http__param params[WP_HTTP_MAX_PARAMS];
    size_t n_params;
    struct wp_http__qpair *query;
    size_t n_query;
    struct wp_http__header *headers; /* added to the reply */
    /* a write's reply made before its commit (wp_http_ready_*): sent by wp_http_ready_send,
     * dropped with its headers when the request ends unsent */
    struct MHD_Response *ready;
    struct wp_http__header *ready_headers;
    unsigned ready_status;
    size_t ready_len;
    wp_buf body;
    uint64_t drained; /* bytes thrown away after the body passed its limit */
    unsigned started : 1, begun : 1, replied : 1, too_large : 1, body_failed : 1;
    unsigned has_sink : 1; /* a WP_ROUTE_STREAM_BODY handler installed sink */
    unsigned loopback : 1; /* the peer's address is a loopback one */
    wp_http_body_sink sink;
    int sink_err; /* the first error of sink.write; the rest of the body is drained */
    unsigned status;    /* what was queued; 0 when nothing was */
    size_t bytes;       /* body bytes queued */
    int err;            /* the WP_E* behind a 5xx, for the log */
    char err_msg[160];  /* its message, for the log only */
    char id[WP_ID_LEN + 1];
    char client[INET6_ADDRSTRLEN];
    /* A WP_ROUTE_SHARED request: its connection is suspended and a device worker runs the
     * handler, whose reply waits in pending until the connection is resumed and libmicrohttpd
     * calls on_request again on its own thread (docs/internals/overload.md). */
    unsigned offloaded : 1;   /* handed to the device workers */
    _Atomic int offload_done; /* the handler returned; pending (or nothing) is its reply */
    struct MHD_Response *pending;
    unsigned pending_status;
    struct wp_http__req *next_job;
};

/* Queue the reply a device worker left in r->pending (on libmicrohttpd's thread). */
void wp_http__queue_pending(struct wp_http__req *r);

struct wp_http_server {
    struct MHD_Daemon *d;
    wp_http_options opts; /* with the defaults filled in */
    uint16_t port;
    atomic_int stopping;
    int stopped;
    atomic_long active; /* requests between their request line and their completion */
    atomic_uint shared; /* WP_ROUTE_SHARED requests handed to the workers and not done */
    _Atomic uint64_t shared_refused; /* and those refused because all were taken */
    /* the device workers: opts.device_threads threads running WP_ROUTE_SHARED handlers */
    pthread_t *workers;
    unsigned n_workers;
    pthread_mutex_t jobs_mu;
    pthread_cond_t jobs_cv;
    struct wp_http__req *jobs_head, **jobs_tail;
    int jobs_stop;
    pthread_mutex_t mu;
    pthread_cond_t idle; /* signalled when active drops to 0 while stopping */
    struct wp_http__metrics metrics;
    char *tls_cert, *tls_key; /* PEM copies of wp_http_options.tls; NULL: plain http */
    int has_metrics_token;
    unsigned char metrics_token_hash[32]; /* BLAKE2b of wp_http_options.metrics_token */
};

/* Let a WP_RIGHT_METRICS request through (0), or reply 401/403 and return the error. */
int wp_http__metrics_authorize(struct wp_http__req *r);

/* 1 when the request is one for the console's static files (wp_http_options.web_dir): a GET
 * or HEAD outside /api and /metrics. */
int wp_http__static_wanted(const struct wp_http__req *r);

/* Reply to such a request with a file, index.html, a JSON 404 (a missing asset, a path that
 * tries to leave the directory) or the page saying the console is not built. Always replies. */
int wp_http__static_serve(struct wp_http__req *r);

#endif
