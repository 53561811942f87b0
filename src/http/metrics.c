/* SPDX-License-Identifier: MIT */
/* Request counters and latency histograms, kept with atomics, served as Prometheus text 0.0.4. */
#include "http/internal.h"
#include "util/error.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

const uint64_t wp_http__bucket_us[WP_HTTP_BUCKETS] = {
    1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const bucket_le[WP_HTTP_BUCKETS] = {
    "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};

const unsigned wp_http__statuses[WP_HTTP_STATUSES] = {
    200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405,
    406, 408, 409, 410, 412, 413, 415, 422, 429, 500, 501, 503, 0,
};

static const char *const method_names[WP_M_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
};

int wp_http__method_index(const char *method)
{
    for (int i = 0; i < WP_M_OTHER; i++)
        if (!strcmp(method, method_names[i]))
            return i;
    return WP_M_OTHER;
}

const char *wp_http__method_name(int idx)
{
    return idx >= 0 && idx < WP_M_COUNT ? method_names[idx] : "other";
}

static size_t status_index(unsigned status)
{
    size_t i = 0;
    while (i < WP_HTTP_STATUSES - 1 && wp_http__statuses[i] != status)
        i++;
    return i;
}

int wp_http__metrics_init(struct wp_http__metrics *m, size_t n_routes)
{
    m->n_slots = n_routes + 1;
    size_t per = m->n_slots * WP_M_COUNT;
    m->requests = calloc(per * WP_HTTP_STATUSES, sizeof *m->requests);
    m->buckets = calloc(per * (WP_HTTP_BUCKETS + 1), sizeof *m->buckets);
    m->sum_us = calloc(per, sizeof *m->sum_us);
    if (!m->requests || !m->buckets || !m->sum_us) {
        wp_http__metrics_release(m);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    return 0;
}

void wp_http__metrics_release(struct wp_http__metrics *m)
{
    free(m->requests);
    free(m->buckets);
    free(m->sum_us);
    memset(m, 0, sizeof *m);
}

void wp_http__metrics_record(struct wp_http__metrics *m, size_t slot, int method, unsigned status,
                             uint64_t dur_us)
{
    if (slot >= m->n_slots)
        slot = m->n_slots - 1;
    size_t sm = slot * WP_M_COUNT + (size_t)method;
    size_t b = 0;
    while (b < WP_HTTP_BUCKETS && dur_us > wp_http__bucket_us[b])
        b++;
    atomic_fetch_add_explicit(&m->requests[sm * WP_HTTP_STATUSES + status_index(status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->buckets[sm * (WP_HTTP_BUCKETS + 1) + b], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us[sm], dur_us, memory_order_relaxed);
}

/* Keep the first error of a sequence of appends; later appends still run but change nothing
 * that matters, since the text is thrown away. */
static void acc(int *err, int r)
{
    if (r < 0 && !*err)
        *err = r;
}

/* A label value: route patterns are ours, but escape as the format asks anyway. */
static void add_label(int *err, wp_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') {
            acc(err, wp_buf_addc(b, '\\'));
            acc(err, wp_buf_addc(b, *v));
        } else if (*v == '\n') {
            acc(err, wp_buf_adds(b, "\\n"));
        } else {
            acc(err, wp_buf_addc(b, *v));
        }
    }
}

/* name{route="...",method="..." (the caller closes the braces) */
static void series(int *err, wp_buf *b, const char *name, const char *route, int method)
{
    acc(err, wp_buf_adds(b, name));
    acc(err, wp_buf_adds(b, "{route=\""));
    add_label(err, b, route);
    acc(err, wp_buf_addf(b, "\",method=\"%s\"", wp_http__method_name(method)));
}

static int render(wp_buf *b, wp_http_server *srv)
{
    const struct wp_http__metrics *m = &srv->metrics;
    int err = 0;
    acc(&err, wp_buf_adds(b, "# HELP workphone_http_requests_total HTTP requests answered, by "
                             "route pattern, method and status.\n"
                             "# TYPE workphone_http_requests_total counter\n"));
    for (size_t s = 0; s < m->n_slots; s++) {
        const char *route = s < srv->opts.n_routes ? srv->opts.routes[s].pattern : "unmatched";
        for (int me = 0; me < WP_M_COUNT; me++) {
            size_t sm = s * WP_M_COUNT + (size_t)me;
            for (size_t st = 0; st < WP_HTTP_STATUSES; st++) {
                uint64_t v = atomic_load_explicit(&m->requests[sm * WP_HTTP_STATUSES + st],
                                                  memory_order_relaxed);
                if (!v)
                    continue;
                char status[16];
                if (wp_http__statuses[st])
                    snprintf(status, sizeof status, "%u", wp_http__statuses[st]);
                else
                    snprintf(status, sizeof status, "other");
                series(&err, b, "workphone_http_requests_total", route, me);
                acc(&err, wp_buf_addf(b, ",status=\"%s\"} %" PRIu64 "\n", status, v));
            }
        }
    }
    acc(&err, wp_buf_adds(b, "# HELP workphone_http_request_duration_seconds Time from the "
                             "request line to the last byte of the reply.\n"
                             "# TYPE workphone_http_request_duration_seconds histogram\n"));
    for (size_t s = 0; s < m->n_slots; s++) {
        const char *route = s < srv->opts.n_routes ? srv->opts.routes[s].pattern : "unmatched";
        for (int me = 0; me < WP_M_COUNT; me++) {
            size_t sm = s * WP_M_COUNT + (size_t)me;
            uint64_t counts[WP_HTTP_BUCKETS + 1], total = 0;
            for (size_t k = 0; k <= WP_HTTP_BUCKETS; k++) {
                counts[k] = atomic_load_explicit(&m->buckets[sm * (WP_HTTP_BUCKETS + 1) + k],
                                                 memory_order_relaxed);
                total += counts[k];
            }
            if (!total)
                continue;
            uint64_t cum = 0;
            for (size_t k = 0; k <= WP_HTTP_BUCKETS; k++) {
                cum += counts[k];
                series(&err, b, "workphone_http_request_duration_seconds_bucket", route, me);
                acc(&err, wp_buf_addf(b, ",le=\"%s\"} %" PRIu64 "\n",
                                      k < WP_HTTP_BUCKETS ? bucket_le[k] : "+Inf", cum));
            }
            uint64_t sum = atomic_load_explicit(&m->sum_us[sm], memory_order_relaxed);
            series(&err, b, "workphone_http_request_duration_seconds_sum", route, me);
            acc(&err, wp_buf_addf(b, "} %" PRIu64 ".%06" PRIu64 "\n", sum / 1000000,
                                  sum % 1000000));
            series(&err, b, "workphone_http_request_duration_seconds_count", route, me);
            acc(&err, wp_buf_addf(b, "} %" PRIu64 "\n", cum));
        }
    }
    acc(&err, wp_buf_addf(b, "# HELP workphone_http_requests_in_flight Requests received and "
                             "not yet answered.\n"
                             "# TYPE workphone_http_requests_in_flight gauge\n"
                             "workphone_http_requests_in_flight %ld\n",
                          atomic_load(&srv->active)));
    if (!err && srv->opts.metrics)
        err = srv->opts.metrics(srv->opts.app, b);
    return err;
}

int wp_http__addr_is_loopback(const struct sockaddr *sa)
{
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

/* Who may scrape: with a token, whoever sends it (compared as hashes, so in constant time
 * whatever its length); without one, loopback clients that no proxy relayed (a reverse
 * proxy on the same host connects from loopback on behalf of anyone, and says so in
 * X-Forwarded-For or Forwarded). */
int wp_http__metrics_authorize(struct wp_http__req *r)
{
    wp_http_ctx *ctx = &r->ctx;
    if (r->srv->has_metrics_token) {
        const char *bearer = wp_http_bearer(ctx);
        unsigned char h[sizeof r->srv->metrics_token_hash];
        if (!bearer)
            return wp_error_set(WP_EAUTH, "/metrics needs its token (Authorization: Bearer)");
        crypto_generichash(h, sizeof h, (const unsigned char *)bearer, strlen(bearer), NULL, 0);
        if (sodium_memcmp(h, r->srv->metrics_token_hash, sizeof h) != 0)
            return wp_error_set(WP_EAUTH, "wrong token for /metrics");
        return 0;
    }
    if (r->loopback && !wp_http_header(ctx, "X-Forwarded-For") &&
        !wp_http_header(ctx, "Forwarded"))
        return 0;
    return wp_http_reply_fail(ctx, 403, "forbidden", NULL,
                              "/metrics answers loopback clients only; give the server a "
                              "metrics token to scrape it from elsewhere");
}

int wp_http_metrics_get(wp_http_ctx *ctx)
{
    struct wp_http__req *r = (struct wp_http__req *)ctx;
    wp_buf b;
    wp_buf_init(&b, 16u * 1024 * 1024);
    int err = render(&b, r->srv);
    if (err < 0) {
        wp_buf_release(&b);
        return err;
    }
    size_t len;
    char *text = wp_buf_detach(&b, &len);
    return wp_http_reply_bytes(ctx, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
