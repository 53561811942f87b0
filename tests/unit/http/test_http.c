/* SPDX-License-Identifier: MIT */
/* Tests of src/http, with the route table of src/api/routes.c: the table, and a real server
 * on loopback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/api.h"
#include "http/http.h"
#include "http/internal.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"

#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- handlers of the test routes ------------------------------------------------------- */

static atomic_int handler_calls;
static sem_t slow_entered, slow_release, stopping;

static int h_params(wp_http_ctx *ctx)
{
    const char *q = wp_http_query(ctx, "q");
    return wp_http_reply_json(
        ctx, 200,
        json_pack("{s:s,s:s,s:s?,s:b,s:s?}", "id", wp_http_param(ctx, "id"), "name",
                  wp_http_param(ctx, "name"), "q", q, "missing_is_null",
                  wp_http_param(ctx, "nope") == NULL, "empty", wp_http_query(ctx, "empty")));
}

static int h_echo(wp_http_ctx *ctx)
{
    atomic_fetch_add(&handler_calls, 1);
    return wp_http_reply_json(ctx, 200,
                              json_pack("{s:O?,s:I}", "body", ctx->body, "raw_len",
                                        (json_int_t)ctx->raw_body_len));
}

static int h_object(wp_http_ctx *ctx)
{
    json_t *obj;
    int err = wp_http_body_object_or_reply(ctx, &obj);
    if (err < 0)
        return err;
    return wp_http_reply_json(ctx, 200, json_pack("{s:I}", "keys", (json_int_t)json_object_size(obj)));
}

static int h_fail(wp_http_ctx *ctx)
{
    int code = (int)strtol(wp_http_param(ctx, "code"), NULL, 10);
    return wp_error_set(code, "detail %d at /var/lib/workphone/db", code);
}

static int h_noreply(wp_http_ctx *ctx)
{
    return 0;
}

/* A write's reply made before its "commit" (the path's last part: ok, or fail for a commit
 * that fails after it, or twice for a second ready reply). */
static int h_ready(wp_http_ctx *ctx)
{
    const char *how = wp_http_param(ctx, "how");
    int err;
    if ((err = wp_http_ready_header(ctx, "Set-Cookie", "s=abc")) < 0 ||
        (err = wp_http_ready_json(ctx, 201, json_pack("{s:s}", "made", "before"))) < 0)
        return err;
    if (!strcmp(how, "twice"))
        return wp_http_ready_json(ctx, 204, NULL);
    if (!strcmp(how, "fail"))
        return wp_error_set(WP_EUNAVAIL, "the commit failed");
    return wp_http_ready_send(ctx);
}

static int h_admin(wp_http_ctx *ctx)
{
    atomic_fetch_add(&handler_calls, 1);
    return wp_http_reply_json(ctx, 200, json_pack("{s:s}", "secret", "admin only"));
}

static int h_slow(wp_http_ctx *ctx)
{
    sem_post(&slow_entered);
    sem_wait(&slow_release);
    return wp_http_reply_json(ctx, 200, json_pack("{s:s}", "slow", "done"));
}

/* --- the rights check and streamed bodies ------------------------------------------------ */

static atomic_int auth_calls, sink_releases;

/* A stand-in for the application's check: "good" is alice, who may do anything; "reader" is
 * bob, who may only read (403 otherwise); anything else is unknown (401). */
static int t_authorize(wp_http_ctx *ctx)
{
    atomic_fetch_add(&auth_calls, 1);
    const char *b = wp_http_bearer(ctx);
    if (b && !strcmp(b, "good")) {
        ctx->auth = (void *)"alice";
        return 0;
    }
    if (b && !strcmp(b, "reader")) {
        if (ctx->route->right != WP_RIGHT_READ)
            return wp_http_reply_fail(ctx, 403, "forbidden", NULL, "bob only reads");
        ctx->auth = (void *)"bob";
        return 0;
    }
    return wp_error_set(WP_EAUTH, "who are you");
}

static int h_who(wp_http_ctx *ctx)
{
    atomic_fetch_add(&handler_calls, 1);
    return wp_http_reply_json(ctx, 200, json_pack("{s:s}", "who", (const char *)ctx->auth));
}

static int h_creds(wp_http_ctx *ctx)
{
    return wp_http_reply_json(ctx, 200,
                              json_pack("{s:s?,s:s?}", "bearer", wp_http_bearer(ctx), "cookie",
                                        wp_http_cookie(ctx, "c")));
}

#define STREAM_LIMIT 5000

struct t_sink {
    size_t bytes, pieces;
    unsigned long sum;
};

static int t_sink_write(void *arg, const char *data, size_t len)
{
    struct t_sink *k = arg;
    if (k->bytes + len > STREAM_LIMIT)
        return wp_error_set(WP_ELIMIT, "over the stream limit");
    for (size_t i = 0; i < len; i++)
        k->sum += (unsigned char)data[i];
    k->bytes += len;
    k->pieces++;
    return 0;
}

static int t_sink_end(wp_http_ctx *ctx, void *arg, int err)
{
    struct t_sink *k = arg;
    if (err < 0)
        return wp_error_set(err, "the stream stopped at %zu bytes", k->bytes);
    return wp_http_reply_json(ctx, 201,
                              json_pack("{s:I,s:I}", "bytes", (json_int_t)k->bytes, "sum",
                                        (json_int_t)k->sum));
}

static void t_sink_release(void *arg)
{
    atomic_fetch_add(&sink_releases, 1);
    free(arg);
}

static int h_stream(wp_http_ctx *ctx)
{
    atomic_fetch_add(&handler_calls, 1);
    if (wp_http_query(ctx, "refuse"))
        return wp_http_reply_fail(ctx, 409, "refused", NULL, "not this one");
    if (wp_http_query(ctx, "nosink"))
        return 0;
    struct t_sink *k = calloc(1, sizeof *k);
    if (!k)
        return WP_ENOMEM;
    wp_http_body_sink sink = {t_sink_write, t_sink_end, t_sink_release, k};
    wp_http_body_sink_set(ctx, &sink);
    return 0;
}

static const wp_http_route test_rows[] = {
    {"GET", "/t/items/{id}/sub/{name}", h_params, WP_RIGHT_PUBLIC, 0},
    {"POST", "/t/echo", h_echo, WP_RIGHT_PUBLIC, 0},
    {"POST", "/t/object", h_object, WP_RIGHT_PUBLIC, 0},
    {"GET", "/t/fail/{code}", h_fail, WP_RIGHT_PUBLIC, 0},
    {"GET", "/t/noreply", h_noreply, WP_RIGHT_PUBLIC, 0},
    {"GET", "/t/ready/{how}", h_ready, WP_RIGHT_PUBLIC, 0},
    {"GET", "/t/admin", h_admin, WP_RIGHT_ADMIN, 0},
    {"GET", "/t/slow", h_slow, WP_RIGHT_PUBLIC, 0},
    {"GET", "/t/who", h_who, WP_RIGHT_READ, 0},
    {"POST", "/t/who", h_who, WP_RIGHT_WRITE, 0},
    {"GET", "/t/creds", h_creds, WP_RIGHT_PUBLIC, 0},
    {"PUT", "/t/stream", h_stream, WP_RIGHT_PUBLIC, WP_ROUTE_STREAM_BODY},
    {"POST", "/t/stream", h_stream, WP_RIGHT_WRITE, WP_ROUTE_STREAM_BODY},
};

/* --- a server per test ----------------------------------------------------------------- */

static struct {
    wp_http_server *srv;
    wp_http_route routes[256]; /* the server's table and the test rows, with room for more */
    size_t n_routes;
    wp_app app;
    char base[64];
    FILE *log;
    int (*authorize)(wp_http_ctx *ctx);
} T;

static void on_stopping(void *arg)
{
    sem_post(&stopping);
}

static void start(size_t max_body)
{
    size_t n;
    const wp_http_route *prod = api_routes(&n);
    assert_true(n + sizeof test_rows / sizeof test_rows[0] <= sizeof T.routes / sizeof T.routes[0]);
    memcpy(T.routes, prod, n * sizeof *prod);
    memcpy(T.routes + n, test_rows, sizeof test_rows);
    T.n_routes = n + sizeof test_rows / sizeof test_rows[0];
    T.app = (wp_app){.version = "test-9.9", .backend = WP_STORE_SQLITE};
    T.log = tmpfile();
    assert_non_null(T.log);
    wp_http_options o = WP_HTTP_OPTIONS_INIT;
    o.port = 0;
    o.routes = T.routes;
    o.n_routes = T.n_routes;
    o.app = &T.app;
    o.threads = 2;
    o.max_body_bytes = max_body;
    o.log_fd = fileno(T.log);
    o.on_stopping = on_stopping;
    o.authorize = T.authorize;
    int err = wp_http_server_new(&T.srv, &o);
    if (err < 0)
        fail_msg("server: %s", wp_error_last());
    assert_int_not_equal(wp_http_server_port(T.srv), 0);
    snprintf(T.base, sizeof T.base, "http://127.0.0.1:%u", wp_http_server_port(T.srv));
}

static void reset_sems(void)
{
    sem_destroy(&slow_entered);
    sem_destroy(&slow_release);
    sem_destroy(&stopping);
    sem_init(&slow_entered, 0, 0);
    sem_init(&slow_release, 0, 0);
    sem_init(&stopping, 0, 0);
    atomic_store(&handler_calls, 0);
    atomic_store(&auth_calls, 0);
    atomic_store(&sink_releases, 0);
}

static int setup(void **state)
{
    reset_sems();
    T.authorize = NULL;
    start(0);
    return 0;
}

static int setup_small_body(void **state)
{
    reset_sems();
    T.authorize = NULL;
    start(1024);
    return 0;
}

/* With the rights check, and a body limit that streamed routes must not be held to. */
static int setup_auth(void **state)
{
    reset_sems();
    T.authorize = t_authorize;
    start(1024);
    return 0;
}

static int teardown(void **state)
{
    wp_http_server_free(T.srv);
    T.srv = NULL;
    if (T.log)
        fclose(T.log);
    T.log = NULL;
    return 0;
}

/* --- a small HTTP client --------------------------------------------------------------- */

struct resp {
    long status;
    wp_buf body;
    char ctype[128], reqid[64], allow[128], connection[32], www_auth[64], retry_after[16],
        cookie[64];
    json_t *json;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    return wp_buf_add(&r->body, p, size * n) == 0 ? size * n : 0;
}

static void grab(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' '))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
        vl--;
    snprintf(out, cap, "%.*s", (int)vl, v);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t len = size * n;
    grab(p, len, "Content-Type", r->ctype, sizeof r->ctype);
    grab(p, len, "X-Request-Id", r->reqid, sizeof r->reqid);
    grab(p, len, "Allow", r->allow, sizeof r->allow);
    grab(p, len, "Connection", r->connection, sizeof r->connection);
    grab(p, len, "WWW-Authenticate", r->www_auth, sizeof r->www_auth);
    grab(p, len, "Retry-After", r->retry_after, sizeof r->retry_after);
    grab(p, len, "Set-Cookie", r->cookie, sizeof r->cookie);
    return len;
}

struct upload {
    const char *data;
    size_t len, off;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = size * n;
    if (k > 700)
        k = 700; /* several chunks */
    if (k > u->len - u->off)
        k = u->len - u->off;
    memcpy(buf, u->data + u->off, k);
    u->off += k;
    return k;
}

enum { PLAIN = 0, CHUNKED = 1, EXPECT = 2 };

static void resp_free(struct resp *r)
{
    wp_buf_release(&r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* One request on handle c (reused between calls: keep-alive), or on a fresh one. No cmocka
 * assertion in here, so that other threads may call it. */
static CURLcode perform(CURL *c, struct resp *r, const char *method, const char *path,
                        const char *body, size_t body_len, int mode, const char *extra_header)
{
    int own = !c;
    if (own)
        c = curl_easy_init();
    if (!c)
        return CURLE_OUT_OF_MEMORY;
    memset(r, 0, sizeof *r);
    wp_buf_init(&r->body, 1 << 20);
    char url[512];
    snprintf(url, sizeof url, "%s%s", T.base, path);
    struct curl_slist *h = NULL;
    struct upload up = {body, body_len, 0};
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET"))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        if (strcmp(method, "POST"))
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (mode & CHUNKED) {
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &up);
            h = curl_slist_append(h, "Transfer-Encoding: chunked");
        } else {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
        }
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, mode & EXPECT ? "Expect: 100-continue" : "Expect:");
    }
    if (extra_header)
        h = curl_slist_append(h, extra_header);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->body.len)
        r->json = json_loadb(r->body.buf, r->body.len, 0, NULL);
    if (own)
        curl_easy_cleanup(c);
    return rc;
}

static void request(CURL *c, struct resp *r, const char *method, const char *path, const char *body,
                    size_t body_len, int mode, const char *extra_header)
{
    CURLcode rc = perform(c, r, method, path, body, body_len, mode, extra_header);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
}

static void get(struct resp *r, const char *path)
{
    request(NULL, r, "GET", path, NULL, 0, PLAIN, NULL);
}

/* An error reply of CONTRACT: JSON content type, {"error":{"code","message","details":{}}}. */
static void assert_error(const struct resp *r, long status, const char *code)
{
    assert_int_equal(r->status, status);
    assert_string_equal(r->ctype, "application/json");
    assert_non_null(r->json);
    json_t *e = json_object_get(r->json, "error");
    assert_true(json_is_object(e));
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_true(json_string_length(json_object_get(e, "message")) > 0);
    assert_true(json_is_object(json_object_get(e, "details")));
    assert_int_equal(strlen(r->reqid), WP_ID_LEN);
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* --- the route table ------------------------------------------------------------------- */

static void test_http_routes__table_is_valid(void **state)
{
    size_t n;
    const wp_http_route *rt = api_routes(&n);
    assert_true(n >= 2);
    assert_int_equal(wp_http_routes_check(rt, n), 0);
    int health = 0, metrics = 0;
    /* every row × every right: each row names a right, API rows live under /api/v1/ */
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(wp_http_right_name(rt[i].right), "?");
        assert_true(!strncmp(rt[i].pattern, "/api/v1/", 8) || !strcmp(rt[i].pattern, "/metrics"));
        if (!strcmp(rt[i].pattern, "/api/v1/health")) {
            health = 1;
            assert_int_equal(rt[i].right, WP_RIGHT_PUBLIC);
        }
        if (!strcmp(rt[i].pattern, "/metrics")) {
            metrics = 1;
            assert_int_equal(rt[i].right, WP_RIGHT_METRICS);
        }
    }
    assert_true(health && metrics);
    for (int r = WP_RIGHT_PUBLIC; r <= WP_RIGHT_COUNT; r++)
        assert_string_not_equal(wp_http_right_name((enum wp_http_right)r), "?");
}

/* Every row of the table is in docs/openapi.yaml, under its method, with its right. */
static void test_http_routes__documented(void **state)
{
    const char *root = getenv("WORKPHONE_SOURCE_ROOT");
    if (!root)
        skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/openapi.yaml", root);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char doc[1 << 20];
    size_t len = fread(doc, 1, sizeof doc - 1, f);
    doc[len] = '\0';
    fclose(f);
    size_t n;
    const wp_http_route *rt = api_routes(&n);
    for (size_t i = 0; i < n; i++) {
        char key[300], method[16], right[64];
        snprintf(key, sizeof key, "\n  %s:\n", rt[i].pattern);
        const char *block = strstr(doc, key);
        if (!block)
            fail_msg("%s is not in docs/openapi.yaml", rt[i].pattern);
        block += strlen(key);
        const char *end = strstr(block, "\n  /");
        if (!end)
            end = strstr(block, "\ncomponents:");
        size_t k;
        for (k = 0; rt[i].method[k] && k < sizeof method - 6; k++)
            method[4 + k] = (char)(rt[i].method[k] - 'A' + 'a');
        memcpy(method, "    ", 4);
        memcpy(method + 4 + k, ":\n", 3);
        const char *op = strstr(block, method);
        if (!op || (end && op > end))
            fail_msg("%s %s is not in docs/openapi.yaml", rt[i].method, rt[i].pattern);
        snprintf(right, sizeof right, "x-workphone-right: %s\n", wp_http_right_name(rt[i].right));
        const char *r = strstr(op, "x-workphone-right:");
        if (!r || (end && r > end) || strncmp(r, right, strlen(right)))
            fail_msg("%s %s: docs/openapi.yaml does not say '%.*s'", rt[i].method, rt[i].pattern,
                     (int)strlen(right) - 1, right);
    }
}

static void test_http_routes__check_refuses_bad_rows(void **state)
{
    static const struct {
        wp_http_route row;
        const char *why;
    } bad[] = {
        {{"FETCH", "/a", h_noreply, WP_RIGHT_PUBLIC, 0}, "unknown method"},
        {{"GET", "a/b", h_noreply, WP_RIGHT_PUBLIC, 0}, "must start"},
        {{"GET", "/a//b", h_noreply, WP_RIGHT_PUBLIC, 0}, "empty segment"},
        {{"GET", "/a/", h_noreply, WP_RIGHT_PUBLIC, 0}, "empty segment"},
        {{"GET", "/a/{x", h_noreply, WP_RIGHT_PUBLIC, 0}, "has '{'"},
        {{"GET", "/a/{X}", h_noreply, WP_RIGHT_PUBLIC, 0}, "parameter 'X'"},
        {{"GET", "/a/{x}/{x}", h_noreply, WP_RIGHT_PUBLIC, 0}, "twice"},
        {{"GET", "/a%20b", h_noreply, WP_RIGHT_PUBLIC, 0}, "has '%'"},
        {{"GET", "/a", NULL, WP_RIGHT_PUBLIC, 0}, "no handler"},
        {{"GET", "/a", h_noreply, (enum wp_http_right)0, 0}, "unknown right"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(wp_http_routes_check(&bad[i].row, 1), WP_EINVAL);
        if (!strstr(wp_error_last(), bad[i].why))
            fail_msg("row %zu: '%s' lacks '%s'", i, wp_error_last(), bad[i].why);
    }
    /* a literal row after a {param} row at the same place never answers */
    wp_http_route hidden[] = {{"GET", "/c/{id}", h_noreply, WP_RIGHT_READ, 0},
                              {"GET", "/c/search", h_noreply, WP_RIGHT_READ, 0}};
    assert_int_equal(wp_http_routes_check(hidden, 2), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "hidden by route 0"));
    wp_http_route dup[] = {{"GET", "/c", h_noreply, WP_RIGHT_READ, 0},
                           {"GET", "/c", h_noreply, WP_RIGHT_READ, 0}};
    assert_int_equal(wp_http_routes_check(dup, 2), WP_EINVAL);
    /* literal first is fine, and the same path for two methods is fine */
    wp_http_route good[] = {{"GET", "/c/search", h_noreply, WP_RIGHT_READ, 0},
                            {"GET", "/c/{id}", h_noreply, WP_RIGHT_READ, 0},
                            {"DELETE", "/c/{id}", h_noreply, WP_RIGHT_WRITE, 0},
                            {"GET", "/c/{id}/timeline", h_noreply, WP_RIGHT_READ, 0},
                            {"GET", "/", h_noreply, WP_RIGHT_PUBLIC, 0}};
    assert_int_equal(wp_http_routes_check(good, 5), 0);
}

static void test_http_routes__split_and_find(void **state)
{
    wp_arena *a;
    char *segs[WP_HTTP_MAX_SEGMENTS];
    size_t n;
    assert_int_equal(wp_arena_new(&a, 1 << 20), 0);
    const char *p = "/a/b%20c/%2F";
    assert_int_equal(wp_http__split_path(a, p, strlen(p), segs, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(segs[0], "a");
    assert_string_equal(segs[1], "b c");
    assert_string_equal(segs[2], "/");
    assert_int_equal(wp_http__split_path(a, "/x%zz", 5, segs, &n), WP_EINVAL);
    assert_int_equal(wp_http__split_path(a, "/x%2", 4, segs, &n), WP_EINVAL);
    assert_int_equal(wp_http__split_path(a, "/x%00y", 6, segs, &n), WP_EINVAL);
    assert_int_equal(wp_http__split_path(a, "x", 1, segs, &n), WP_EINVAL);
    char deep[200];
    for (int i = 0; i <= WP_HTTP_MAX_SEGMENTS; i++)
        memcpy(deep + 2 * i, "/a", 3);
    assert_int_equal(wp_http__split_path(a, deep, strlen(deep), segs, &n), WP_ELIMIT);

    wp_http_route rt[] = {{"GET", "/c/search", h_noreply, WP_RIGHT_READ, 0},
                          {"GET", "/c/{id}", h_noreply, WP_RIGHT_READ, 0},
                          {"PUT", "/c/{id}", h_noreply, WP_RIGHT_WRITE, 0},
                          {"GET", "/c/{id}/t/{k}", h_noreply, WP_RIGHT_READ, 0}};
    struct wp_http__param params[WP_HTTP_MAX_PARAMS];
    size_t np = 99;
    char allow[64];
    p = "/c/k%2F1/t/x";
    assert_int_equal(wp_http__split_path(a, p, strlen(p), segs, &n), 0);
    assert_int_equal(wp_http__route_find(rt, 4, "GET", segs, n, params, &np, allow, sizeof allow),
                     3);
    assert_int_equal(np, 2);
    assert_int_equal(params[0].name_len, 2);
    assert_memory_equal(params[0].name, "id", 2);
    assert_string_equal(params[0].value, "k/1");
    assert_string_equal(params[1].value, "x");
    p = "/c/search";
    assert_int_equal(wp_http__split_path(a, p, strlen(p), segs, &n), 0);
    assert_int_equal(wp_http__route_find(rt, 4, "HEAD", segs, n, params, &np, allow, sizeof allow),
                     0);
    assert_int_equal(np, 0);
    p = "/c/7";
    assert_int_equal(wp_http__split_path(a, p, strlen(p), segs, &n), 0);
    assert_int_equal(wp_http__route_find(rt, 4, "POST", segs, n, params, &np, allow, sizeof allow),
                     -2);
    assert_string_equal(allow, "GET, HEAD, PUT, OPTIONS");
    p = "/c/7/t";
    assert_int_equal(wp_http__split_path(a, p, strlen(p), segs, &n), 0);
    assert_int_equal(wp_http__route_find(rt, 4, "GET", segs, n, params, &np, allow, sizeof allow),
                     -1);
    p = "/c//t/x"; /* an empty segment never fills a {param} */
    assert_int_equal(wp_http__split_path(a, p, strlen(p), segs, &n), 0);
    assert_int_equal(wp_http__route_find(rt, 4, "GET", segs, n, params, &np, allow, sizeof allow),
                     -1);
    wp_arena_free(a);
}

static void test_http_arena__allocations(void **state)
{
    wp_arena *a;
    assert_int_equal(wp_arena_new(&a, 64 * 1024), 0);
    for (int i = 1; i < 300; i++) {
        char *p = wp_arena_alloc(a, (size_t)i % 37 + 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        memset(p, 'x', (size_t)i % 37 + 1);
    }
    char *big = wp_arena_alloc(a, 5000);
    assert_non_null(big);
    memset(big, 'y', 5000);
    char *s = wp_arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    assert_string_equal(wp_arena_strdup(a, "kept"), "kept");
    /* past the limit: NULL, not a crash */
    assert_null(wp_arena_alloc(a, 128 * 1024));
    wp_arena_free(a);
    wp_arena_free(NULL);
}

static void test_http_json__depth(void **state)
{
    char s[200];
    int i;
    for (i = 0; i < 33; i++)
        s[i] = '[';
    s[i] = '\0';
    assert_false(wp_http__json_depth_ok(s, strlen(s), 32));
    assert_true(wp_http__json_depth_ok(s + 1, strlen(s + 1), 32));
    const char *str = "{\"a\":\"[[[[[[\\\"[[[[\"}";
    assert_true(wp_http__json_depth_ok(str, strlen(str), 2));
}

/* --- the server ------------------------------------------------------------------------ */

static void test_http_server__health(void **state)
{
    struct resp r;
    get(&r, "/api/v1/health");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(jstr(r.json, "status"), "ok");
    assert_string_equal(jstr(r.json, "version"), "test-9.9");
    assert_string_equal(jstr(r.json, "store"), "sqlite");
    resp_free(&r);
    T.app.backend = WP_STORE_PG;
    get(&r, "/api/v1/health");
    assert_string_equal(jstr(r.json, "store"), "postgresql");
    resp_free(&r);
    request(NULL, &r, "HEAD", "/api/v1/health", NULL, 0, PLAIN, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    resp_free(&r);
}

static void test_http_server__params_and_query(void **state)
{
    struct resp r;
    get(&r, "/t/items/a%2Fb/sub/x%20y?q=hello+world%21&empty=&flag");
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "id"), "a/b");
    assert_string_equal(jstr(r.json, "name"), "x y");
    assert_string_equal(jstr(r.json, "q"), "hello world!");
    assert_string_equal(jstr(r.json, "empty"), "");
    assert_true(json_is_true(json_object_get(r.json, "missing_is_null")));
    resp_free(&r);
    get(&r, "/t/items/1/sub/2");
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(json_object_get(r.json, "q")));
    resp_free(&r);
    get(&r, "/t/items/1/sub/2?q=%zz");
    assert_error(&r, 400, "invalid_request");
    resp_free(&r);
    get(&r, "/t/items/%zz/sub/2");
    assert_error(&r, 400, "invalid_path");
    resp_free(&r);
}

static void test_http_server__not_found(void **state)
{
    static const char *const paths[] = {"/nope", "/api/v1/health/", "/api/v1//health",
                                        "/api/v1/health/x", "/t/items//sub/x", "/"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct resp r;
        get(&r, paths[i]);
        assert_error(&r, 404, "not_found");
        resp_free(&r);
    }
    /* with a body on its way: answered before it is read */
    struct resp r;
    request(NULL, &r, "POST", "/nope", "{}", 2, PLAIN, NULL);
    assert_error(&r, 404, "not_found");
    resp_free(&r);
}

static void test_http_server__method_not_allowed(void **state)
{
    struct resp r;
    request(NULL, &r, "DELETE", "/api/v1/health", NULL, 0, PLAIN, NULL);
    assert_error(&r, 405, "method_not_allowed");
    assert_string_equal(r.allow, "GET, HEAD, OPTIONS");
    resp_free(&r);
    request(NULL, &r, "POST", "/api/v1/health", "{}", 2, PLAIN, NULL);
    assert_error(&r, 405, "method_not_allowed");
    resp_free(&r);
    request(NULL, &r, "OPTIONS", "/t/echo", NULL, 0, PLAIN, NULL);
    assert_int_equal(r.status, 204);
    assert_string_equal(r.allow, "POST, OPTIONS");
    resp_free(&r);
}

static void test_http_server__json_bodies(void **state)
{
    struct resp r;
    const char *ok = "{\"a\":[1,2,{\"b\":\"\\u00e9\"}]}";
    request(NULL, &r, "POST", "/t/echo", ok, strlen(ok), PLAIN, NULL);
    assert_int_equal(r.status, 200);
    json_t *want = json_loads(ok, 0, NULL);
    assert_true(json_equal(json_object_get(r.json, "body"), want));
    json_decref(want);
    resp_free(&r);

    request(NULL, &r, "POST", "/t/echo", "", 0, PLAIN, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(json_object_get(r.json, "body")));
    resp_free(&r);

    static const char *const bad[] = {"{bad", "{\"a\":1} trailing", "{\"a\":1,\"a\":2}", "42",
                                      "\xff\xfe"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        request(NULL, &r, "POST", "/t/echo", bad[i], strlen(bad[i]), PLAIN, NULL);
        assert_error(&r, 400, "invalid_json");
        resp_free(&r);
    }
    request(NULL, &r, "POST", "/t/echo", "{bad", 4, PLAIN, NULL);
    json_t *d = json_object_get(json_object_get(r.json, "error"), "details");
    assert_int_equal(json_integer_value(json_object_get(d, "line")), 1);
    resp_free(&r);

    char deep[100];
    size_t k = 0;
    for (int i = 0; i < 33; i++)
        deep[k++] = '[';
    for (int i = 0; i < 33; i++)
        deep[k++] = ']';
    request(NULL, &r, "POST", "/t/echo", deep, k, PLAIN, NULL);
    assert_error(&r, 400, "invalid_json");
    d = json_object_get(json_object_get(r.json, "error"), "details");
    assert_int_equal(json_integer_value(json_object_get(d, "max_depth")), 32);
    resp_free(&r);
    /* 32 levels are fine */
    request(NULL, &r, "POST", "/t/echo", deep + 1, k - 2, PLAIN, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(atomic_load(&handler_calls), 3); /* the bad bodies never reached it */

    request(NULL, &r, "POST", "/t/object", "[1]", 3, PLAIN, NULL);
    assert_error(&r, 400, "invalid_json");
    resp_free(&r);
    request(NULL, &r, "POST", "/t/object", NULL, 0, PLAIN, NULL);
    assert_error(&r, 400, "invalid_json");
    resp_free(&r);
    request(NULL, &r, "POST", "/t/object", "{\"x\":1,\"y\":2}", 13, PLAIN, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "keys")), 2);
    resp_free(&r);
}

/* A JSON document of exactly len bytes: {"p":"xxx..."} */
static char *json_of_len(size_t len)
{
    char *s = malloc(len + 1);
    assert_non_null(s);
    memset(s, 'x', len);
    memcpy(s, "{\"p\":\"", 6);
    memcpy(s + len - 2, "\"}", 2);
    s[len] = '\0';
    return s;
}

static void test_http_server__body_limit_content_length(void **state)
{
    struct resp r;
    char *at = json_of_len(1024), *over = json_of_len(2048);
    request(NULL, &r, "POST", "/t/echo", at, 1024, PLAIN, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "raw_len")), 1024);
    resp_free(&r);
    /* refused from the Content-Length, before the body is sent (curl waits for 100 Continue) */
    request(NULL, &r, "POST", "/t/echo", over, 2048, EXPECT, NULL);
    assert_error(&r, 413, "body_too_large");
    json_t *d = json_object_get(json_object_get(r.json, "error"), "details");
    assert_int_equal(json_integer_value(json_object_get(d, "limit_bytes")), 1024);
    resp_free(&r);
    assert_int_equal(atomic_load(&handler_calls), 1);
    free(at);
    free(over);
}

static void test_http_server__body_limit_chunked(void **state)
{
    struct resp r;
    char *small = json_of_len(900), *over = json_of_len(4096);
    request(NULL, &r, "POST", "/t/echo", small, 900, CHUNKED, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "raw_len")), 900);
    resp_free(&r);
    /* no length up front: found while streaming, the rest is thrown away, then 413 */
    request(NULL, &r, "POST", "/t/echo", over, 4096, CHUNKED, NULL);
    assert_error(&r, 413, "body_too_large");
    resp_free(&r);
    request(NULL, &r, "POST", "/t/echo", over, 4096, CHUNKED | EXPECT, NULL);
    assert_error(&r, 413, "body_too_large");
    resp_free(&r);
    assert_int_equal(atomic_load(&handler_calls), 1);
    free(small);
    free(over);
}

static void test_http_server__keep_alive(void **state)
{
    CURL *c = curl_easy_init();
    long conns, port0 = 0, port;
    for (int i = 0; i < 4; i++) {
        struct resp r;
        request(c, &r, "GET", i == 2 ? "/nope" : "/api/v1/health", NULL, 0, PLAIN, NULL);
        assert_int_equal(r.status, i == 2 ? 404 : 200);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
        curl_easy_getinfo(c, CURLINFO_LOCAL_PORT, &port);
        if (conns != (i == 0 ? 1 : 0))
            fail_msg("request %d opened %ld connections", i, conns);
        if (i == 0)
            port0 = port;
        assert_int_equal(port, port0);
        resp_free(&r);
    }
    curl_easy_cleanup(c);
}

static void test_http_server__request_ids(void **state)
{
    char ids[20][WP_ID_LEN + 1];
    for (int i = 0; i < 20; i++) {
        struct resp r;
        get(&r, i % 2 ? "/api/v1/health" : "/nope");
        assert_int_equal(strlen(r.reqid), WP_ID_LEN);
        assert_int_equal(strspn(r.reqid, "0123456789abcdef"), WP_ID_LEN);
        memcpy(ids[i], r.reqid, WP_ID_LEN + 1);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);
        resp_free(&r);
    }
}

static void test_http_server__error_mapping(void **state)
{
    static const struct {
        int err;
        long status;
        const char *code;
    } cases[] = {
        {WP_EINVAL, 400, "invalid_request"}, {WP_EAUTH, 401, "unauthorized"},
        {WP_ENOTFOUND, 404, "not_found"},    {WP_EEXISTS, 409, "already_exists"},
        {WP_ELIMIT, 422, "limit_exceeded"},  {WP_ENOMEM, 500, "internal_error"},
        {WP_EIO, 500, "internal_error"},     {WP_ESCHEMA, 500, "internal_error"},
        {WP_EUNAVAIL, 503, "store_unavailable"}, {-99, 500, "internal_error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned status;
        const char *code;
        int expose;
        wp_http_error_map(cases[i].err, &status, &code, &expose);
        assert_int_equal(status, cases[i].status);
        assert_string_equal(code, cases[i].code);
        assert_int_equal(expose, status < 500);

        char path[64];
        snprintf(path, sizeof path, "/t/fail/%d", cases[i].err);
        struct resp r;
        get(&r, path);
        assert_error(&r, cases[i].status, cases[i].code);
        const char *msg = jstr(json_object_get(r.json, "error"), "message");
        if (cases[i].status < 500) {
            assert_non_null(strstr(msg, "detail"));
        } else {
            /* never the internals of a 5xx */
            assert_null(strstr(msg, "detail"));
            assert_null(strstr(msg, "/var/lib"));
        }
        if (cases[i].status == 401)
            assert_string_equal(r.www_auth, "Bearer");
        /* the store is gone for a moment: the client is told when to try again */
        assert_string_equal(r.retry_after, cases[i].status == 503 ? "1" : "");
        resp_free(&r);
    }
}

static void test_http_server__no_reply_is_500(void **state)
{
    struct resp r;
    get(&r, "/t/noreply");
    assert_error(&r, 500, "internal_error");
    resp_free(&r);
}

/* A ready reply goes out whole with its own headers; when the write fails instead, the error
 * goes out without them (no session cookie on a failed login). */
static void test_http_server__ready_reply(void **state)
{
    struct resp r;
    get(&r, "/t/ready/ok");
    assert_int_equal(r.status, 201);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(jstr(r.json, "made"), "before");
    assert_string_equal(r.cookie, "s=abc");
    resp_free(&r);
    get(&r, "/t/ready/fail");
    assert_error(&r, 503, "store_unavailable");
    assert_string_equal(r.cookie, "");
    resp_free(&r);
    get(&r, "/t/ready/twice");
    assert_error(&r, 400, "invalid_request");
    assert_string_equal(r.cookie, "");
    resp_free(&r);
}

static void test_http_server__closed_rights(void **state)
{
    /* no auth layer yet: a non-public route answers 401 and its handler never runs */
    struct resp r;
    get(&r, "/t/admin");
    assert_error(&r, 401, "unauthorized");
    assert_int_equal(atomic_load(&handler_calls), 0);
    resp_free(&r);
}

static void test_http_server__authorize(void **state)
{
    struct resp r;
    request(NULL, &r, "GET", "/t/who", NULL, 0, PLAIN, NULL);
    assert_error(&r, 401, "unauthorized");
    assert_string_equal(r.www_auth, "Bearer");
    assert_string_equal(jstr(json_object_get(r.json, "error"), "message"), "who are you");
    resp_free(&r);
    request(NULL, &r, "GET", "/t/who", NULL, 0, PLAIN, "Authorization: Bearer nobody");
    assert_error(&r, 401, "unauthorized");
    resp_free(&r);
    request(NULL, &r, "GET", "/t/who", NULL, 0, PLAIN, "Authorization: Basic Z29vZA==");
    assert_error(&r, 401, "unauthorized");
    resp_free(&r);
    assert_int_equal(atomic_load(&handler_calls), 0);

    /* ctx->auth reaches the handler */
    request(NULL, &r, "GET", "/t/who", NULL, 0, PLAIN, "Authorization: Bearer good");
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "who"), "alice");
    resp_free(&r);
    request(NULL, &r, "GET", "/t/who", NULL, 0, PLAIN, "Authorization:   bearer \t reader  ");
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "who"), "bob");
    resp_free(&r);

    /* a reply of the check itself (403) stands, and the handler never runs, also when a
     * body was announced */
    int calls = atomic_load(&handler_calls);
    request(NULL, &r, "POST", "/t/who", "{\"a\":1}", 7, EXPECT, "Authorization: Bearer reader");
    assert_error(&r, 403, "forbidden");
    resp_free(&r);
    request(NULL, &r, "POST", "/t/who", "{\"a\":1}", 7, PLAIN, NULL);
    assert_error(&r, 401, "unauthorized");
    resp_free(&r);
    assert_int_equal(atomic_load(&handler_calls), calls);
    request(NULL, &r, "POST", "/t/who", "{\"a\":1}", 7, PLAIN, "Authorization: Bearer good");
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* public and metrics routes never ask */
    int asked = atomic_load(&auth_calls);
    get(&r, "/api/v1/health");
    assert_int_equal(r.status, 200);
    resp_free(&r);
    get(&r, "/metrics");
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(atomic_load(&auth_calls), asked);
}

static void test_http_server__credentials(void **state)
{
    struct resp r;
    request(NULL, &r, "GET", "/t/creds", NULL, 0, PLAIN, "Cookie: a=1; c=tok-9; d=2");
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "cookie"), "tok-9");
    assert_true(json_is_null(json_object_get(r.json, "bearer")));
    resp_free(&r);
    static const struct {
        const char *header, *bearer;
    } cases[] = {
        {"Authorization: Bearer abc", "abc"},
        {"Authorization: BEARER   abc  ", "abc"},
        {"Authorization: Bearer", NULL},
        {"Authorization: Bearer   ", NULL},
        {"Authorization: Bearerabc", NULL},
        {"Authorization: Basic abc", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        request(NULL, &r, "GET", "/t/creds", NULL, 0, PLAIN, cases[i].header);
        assert_int_equal(r.status, 200);
        if (cases[i].bearer)
            assert_string_equal(jstr(r.json, "bearer"), cases[i].bearer);
        else if (!json_is_null(json_object_get(r.json, "bearer")))
            fail_msg("%s: bearer '%s'", cases[i].header, jstr(r.json, "bearer"));
        assert_true(json_is_null(json_object_get(r.json, "cookie")));
        resp_free(&r);
    }
}

static void assert_has(const char *text, const char *what);

static unsigned long sum_of(const char *s, size_t n)
{
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (unsigned char)s[i];
    return sum;
}

static void test_http_server__stream_body(void **state)
{
    struct resp r;
    char *big = malloc(STREAM_LIMIT + 1000);
    assert_non_null(big);
    for (size_t i = 0; i < STREAM_LIMIT + 1000; i++)
        big[i] = (char)(i * 7 + 3);
    int requests = 0;

    /* past the server's 1024-byte body limit: the sink sets the limit of its route */
    request(NULL, &r, "PUT", "/t/stream", big, 3000, PLAIN, NULL);
    requests++;
    assert_int_equal(r.status, 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "bytes")), 3000);
    assert_int_equal(json_integer_value(json_object_get(r.json, "sum")), sum_of(big, 3000));
    resp_free(&r);
    request(NULL, &r, "PUT", "/t/stream", big, STREAM_LIMIT, CHUNKED, NULL);
    requests++;
    assert_int_equal(r.status, 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "sum")),
                     sum_of(big, STREAM_LIMIT));
    resp_free(&r);
    request(NULL, &r, "PUT", "/t/stream", "", 0, PLAIN, NULL);
    requests++;
    assert_int_equal(r.status, 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "bytes")), 0);
    resp_free(&r);

    /* the sink refuses: the rest is drained, and its WP_ELIMIT is a 413 */
    request(NULL, &r, "PUT", "/t/stream", big, STREAM_LIMIT + 1000, PLAIN, NULL);
    requests++;
    assert_error(&r, 413, "body_too_large");
    assert_has(jstr(json_object_get(r.json, "error"), "message"), "the stream stopped at");
    resp_free(&r);
    request(NULL, &r, "PUT", "/t/stream", big, STREAM_LIMIT + 1000, CHUNKED, NULL);
    requests++;
    assert_error(&r, 413, "body_too_large");
    resp_free(&r);

    /* the handler may refuse before the body; installing no sink is a bug: 500 */
    request(NULL, &r, "PUT", "/t/stream?refuse=1", big, 3000, EXPECT, NULL);
    assert_error(&r, 409, "refused");
    resp_free(&r);
    request(NULL, &r, "PUT", "/t/stream?nosink=1", big, 100, PLAIN, NULL);
    assert_error(&r, 500, "internal_error");
    resp_free(&r);

    /* the rights check comes first */
    int calls = atomic_load(&handler_calls);
    request(NULL, &r, "POST", "/t/stream", big, 3000, EXPECT, "Authorization: Bearer reader");
    assert_error(&r, 403, "forbidden");
    resp_free(&r);
    assert_int_equal(atomic_load(&handler_calls), calls);
    request(NULL, &r, "POST", "/t/stream", big, 3000, PLAIN, "Authorization: Bearer good");
    requests++;
    assert_int_equal(r.status, 201);
    resp_free(&r);

    wp_http_server_stop(T.srv, 10000); /* every completion has run */
    assert_int_equal(atomic_load(&sink_releases), requests);
    free(big);
}

static void assert_has(const char *text, const char *what)
{
    if (!text || !strstr(text, what))
        fail_msg("missing: %s\n--- in:\n%.4000s", what, text ? text : "(nothing)");
}

static void test_http_server__metrics(void **state)
{
    CURL *c = curl_easy_init();
    struct resp r;
    long conns;
    /* all on one connection: each request completes (and counts) before the next is read */
    static const char *const paths[] = {"/api/v1/health", "/api/v1/health", "/api/v1/health",
                                        "/nope", "/t/fail/-3", "/metrics"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (i)
            resp_free(&r);
        request(c, &r, "GET", paths[i], NULL, 0, PLAIN, NULL);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
        assert_int_equal(conns, i == 0);
    }
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    const char *m = r.body.buf;
    assert_has(m, "# TYPE workphone_http_requests_total counter\n");
    assert_has(m, "\nworkphone_http_requests_total{route=\"/api/v1/health\",method=\"GET\","
                  "status=\"200\"} 3\n");
    assert_has(m, "\nworkphone_http_requests_total{route=\"unmatched\",method=\"GET\","
                  "status=\"404\"} 1\n");
    assert_has(m, "\nworkphone_http_requests_total{route=\"/t/fail/{code}\",method=\"GET\","
                  "status=\"400\"} 1\n");
    assert_has(m, "# TYPE workphone_http_request_duration_seconds histogram\n");
    assert_has(m, "\nworkphone_http_request_duration_seconds_bucket{route=\"/api/v1/health\","
                  "method=\"GET\",le=\"+Inf\"} 3\n");
    assert_has(m, "\nworkphone_http_request_duration_seconds_count{route=\"/api/v1/health\","
                  "method=\"GET\"} 3\n");
    assert_has(m, "\nworkphone_http_request_duration_seconds_sum{route=\"/api/v1/health\","
                  "method=\"GET\"} ");
    assert_has(m, "\nworkphone_http_requests_in_flight 1\n"); /* this very request */
    /* buckets are cumulative: le="10" of health is 3 unless a request took over 10 s */
    assert_null(strstr(m, "route=\"/metrics\"")); /* counted once it has completed */
    resp_free(&r);
    request(c, &r, "GET", "/metrics", NULL, 0, PLAIN, NULL);
    assert_has(r.body.buf, "\nworkphone_http_requests_total{route=\"/metrics\",method=\"GET\","
                           "status=\"200\"} 1\n");
    resp_free(&r);
    curl_easy_cleanup(c);
}

/* Who /metrics answers without a token: loopback peers only (the integration test also
 * reaches it from a non-loopback address of the host, where the machine has one). */
static void test_http_metrics__loopback_addresses(void **state)
{
    static const struct {
        const char *addr;
        int loopback;
    } cases[] = {
        {"127.0.0.1", 1},      {"127.255.255.254", 1}, {"127.0.0.2", 1},
        {"126.255.255.255", 0}, {"128.0.0.1", 0},      {"10.0.0.1", 0},
        {"192.0.2.2", 0},      {"0.0.0.0", 0},         {"::1", 1},
        {"::ffff:127.0.0.1", 1}, {"::ffff:10.0.0.1", 0}, {"::", 0},
        {"::2", 0},            {"fe80::1", 0},         {"::127.0.0.1", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        if (strchr(cases[i].addr, ':')) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            in6->sin6_family = AF_INET6;
            assert_int_equal(inet_pton(AF_INET6, cases[i].addr, &in6->sin6_addr), 1);
        } else {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            in->sin_family = AF_INET;
            assert_int_equal(inet_pton(AF_INET, cases[i].addr, &in->sin_addr), 1);
        }
        if (wp_http__addr_is_loopback((const struct sockaddr *)&ss) != cases[i].loopback)
            fail_msg("%s: loopback should be %d", cases[i].addr, cases[i].loopback);
    }
    assert_int_equal(wp_http__addr_is_loopback(NULL), 0);
}

static struct resp slow_resp;
static CURLcode slow_rc;

static void *slow_client(void *arg)
{
    slow_rc = perform(NULL, &slow_resp, "GET", "/t/slow", NULL, 0, PLAIN, NULL);
    return NULL;
}

static void *stopper(void *arg)
{
    int *left = arg;
    *left = wp_http_server_stop(T.srv, 60000);
    return NULL;
}

static void test_http_server__graceful_stop(void **state)
{
    struct resp *r = &slow_resp;
    pthread_t client, stop;
    int left = -1;
    uint16_t port = wp_http_server_port(T.srv);
    assert_int_equal(pthread_create(&client, NULL, slow_client, NULL), 0);
    sem_wait(&slow_entered); /* the handler is running */
    assert_int_equal(pthread_create(&stop, NULL, stopper, &left), 0);
    sem_wait(&stopping); /* new connections are turned away; stop waits for the handler */

    /* a new connection gets no answer: it is closed (or refused) without a response */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        static const char req[] = "GET /t/echo HTTP/1.1\r\nHost: x\r\n\r\n";
        char buf[64];
        (void)send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        assert_true(got <= 0); /* closed (0) or reset (-1): never an answer */
    } else {
        assert_int_equal(errno, ECONNREFUSED);
    }
    close(fd);

    sem_post(&slow_release);
    pthread_join(client, NULL);
    pthread_join(stop, NULL);
    assert_int_equal(slow_rc, CURLE_OK);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r->json, "slow"), "done");
    assert_string_equal(r->connection, "close");
    assert_int_equal(left, 0);
    assert_int_equal(wp_http_server_stop(T.srv, 0), 0); /* idempotent */
    resp_free(r);
}

static void test_http_server__request_log(void **state)
{
    struct resp r;
    const char *body = "{\"password\":\"SECRETBODY\"}";
    request(NULL, &r, "POST", "/t/echo?token=SECRETQUERY", body, strlen(body), PLAIN,
            "Authorization: Bearer SECRETAUTH");
    assert_int_equal(r.status, 200);
    char id[WP_ID_LEN + 1];
    memcpy(id, r.reqid, sizeof id);
    resp_free(&r);
    get(&r, "/t/fail/-7");
    assert_int_equal(r.status, 500);
    resp_free(&r);
    wp_http_server_stop(T.srv, 10000); /* every completion (and log line) has run */

    char text[8192];
    rewind(T.log);
    size_t n = fread(text, 1, sizeof text - 1, T.log);
    text[n] = '\0';
    assert_null(strstr(text, "SECRET"));
    char want[128];
    snprintf(want, sizeof want, "level=info event=http id=%s client=127.0.0.1 method=POST "
                                "path=/t/echo route=/t/echo status=200 bytes=", id);
    assert_has(text, want);
    assert_has(text, " dur_us=");
    /* the 5xx line keeps what the client was not told */
    assert_has(text, "level=error event=http");
    assert_has(text, "status=500");
    assert_has(text, "error=io_error error_msg=\"detail -7 at /var/lib/workphone/db\"");
    /* one line per request: two requests, two http lines */
    int lines = 0;
    for (const char *p = text; (p = strstr(p, "event=http")); p++)
        lines++;
    assert_int_equal(lines, 2);
}

static void test_http_server__listen_conflict(void **state)
{
    wp_http_options o = WP_HTTP_OPTIONS_INIT;
    o.port = wp_http_server_port(T.srv);
    o.routes = T.routes;
    o.n_routes = T.n_routes;
    o.log_fd = -1;
    wp_http_server *second = NULL;
    assert_int_equal(wp_http_server_new(&second, &o), WP_EIO);
    assert_null(second);
    assert_non_null(strstr(wp_error_last(), "cannot listen on 127.0.0.1:"));
    wp_http_route bad = {"GET", "nope", h_noreply, WP_RIGHT_PUBLIC, 0};
    o.routes = &bad;
    o.n_routes = 1;
    assert_int_equal(wp_http_server_new(&second, &o), WP_EINVAL);
}

/* --- the web console's static files (src/http/static.c) ------------------------------------ */

static struct {
    char dir[64];   /* a temp dir holding root/ (the console) and secret.txt beside it */
    char root[128]; /* what web_dir names */
} W;

struct wresp {
    long status;
    wp_buf body;
    char ctype[128], cache[128], encoding[32], etag[96], vary[64], csp[512];
};

static size_t w_on_header(char *p, size_t size, size_t n, void *ud)
{
    struct wresp *r = ud;
    size_t len = size * n;
    grab(p, len, "Content-Type", r->ctype, sizeof r->ctype);
    grab(p, len, "Cache-Control", r->cache, sizeof r->cache);
    grab(p, len, "Content-Encoding", r->encoding, sizeof r->encoding);
    grab(p, len, "ETag", r->etag, sizeof r->etag);
    grab(p, len, "Vary", r->vary, sizeof r->vary);
    grab(p, len, "Content-Security-Policy", r->csp, sizeof r->csp);
    return len;
}

static size_t w_on_body(char *p, size_t size, size_t n, void *ud)
{
    struct wresp *r = ud;
    return wp_buf_add(&r->body, p, size * n) == 0 ? size * n : 0;
}

/* A request sent as is (no path normalization by curl); no automatic decompression. */
static void wget_(struct wresp *r, const char *method, const char *path, const char *header)
{
    memset(r, 0, sizeof *r);
    wp_buf_init(&r->body, 1 << 20);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[512];
    snprintf(url, sizeof url, "%s%s", T.base, path);
    struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, w_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, w_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET"))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void wresp_free(struct wresp *r)
{
    wp_buf_release(&r->body);
}

static void put_file(const char *rel, const char *content)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", W.dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void start_web(const char *web_dir)
{
    T.log = tmpfile();
    assert_non_null(T.log);
    size_t n;
    const wp_http_route *prod = api_routes(&n);
    memcpy(T.routes, prod, n * sizeof *prod);
    T.n_routes = n;
    T.app = (wp_app){.version = "test-9.9", .backend = WP_STORE_SQLITE};
    wp_http_options o = WP_HTTP_OPTIONS_INIT;
    o.port = 0;
    o.routes = T.routes;
    o.n_routes = T.n_routes;
    o.app = &T.app;
    o.threads = 2;
    o.log_fd = fileno(T.log);
    o.web_dir = web_dir;
    if (wp_http_server_new(&T.srv, &o) < 0)
        fail_msg("server: %s", wp_error_last());
    snprintf(T.base, sizeof T.base, "http://127.0.0.1:%u", wp_http_server_port(T.srv));
}

/* A built console in W.root, and beside it (outside) a secret that nothing may reach. */
static int setup_web(void **state)
{
    reset_sems();
    T.authorize = NULL;
    snprintf(W.dir, sizeof W.dir, "/tmp/wp-web.XXXXXX");
    assert_non_null(mkdtemp(W.dir));
    snprintf(W.root, sizeof W.root, "%s/root", W.dir);
    char p[256];
    assert_int_equal(mkdir(W.root, 0700), 0);
    snprintf(p, sizeof p, "%s/assets", W.root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/sub", W.root);
    assert_int_equal(mkdir(p, 0700), 0);
    put_file("secret.txt", "TOP-SECRET");
    put_file("root/index.html", "<!doctype html><title>console</title>");
    put_file("root/assets/app-1a2b.js", "console.log('app');");
    put_file("root/assets/app-1a2b.js.gz", "GZIPPED-BYTES");
    put_file("root/assets/app-1a2b.css", "body{}");
    put_file("root/.hidden", "HIDDEN");
    put_file("root/logo.svg", "<svg/>");
    char target[256];
    snprintf(target, sizeof target, "%s/secret.txt", W.dir);
    snprintf(p, sizeof p, "%s/link.txt", W.root);
    assert_int_equal(symlink(target, p), 0);
    snprintf(p, sizeof p, "%s/assets/up", W.root);
    assert_int_equal(symlink(W.dir, p), 0);
    start_web(W.root);
    return 0;
}

static int teardown_web(void **state)
{
    teardown(state);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", W.dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void test_http_static__files_and_cache(void **state)
{
    struct wresp r;
    wget_(&r, "GET", "/", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/html; charset=utf-8");
    assert_string_equal(r.cache, "no-cache");
    assert_non_null(strstr(r.csp, "script-src 'self'"));
    assert_string_equal(r.body.buf, "<!doctype html><title>console</title>");
    wresp_free(&r);

    wget_(&r, "GET", "/assets/app-1a2b.js", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/javascript; charset=utf-8");
    assert_string_equal(r.cache, "public, max-age=31536000, immutable");
    assert_string_equal(r.encoding, "");
    assert_string_equal(r.body.buf, "console.log('app');");
    assert_string_equal(r.vary, "Accept-Encoding");
    wresp_free(&r);

    wget_(&r, "GET", "/assets/app-1a2b.css", NULL);
    assert_string_equal(r.ctype, "text/css; charset=utf-8");
    wresp_free(&r);
    wget_(&r, "GET", "/logo.svg", NULL);
    assert_string_equal(r.ctype, "image/svg+xml");
    assert_string_equal(r.cache, "no-cache");
    wresp_free(&r);

    wget_(&r, "HEAD", "/assets/app-1a2b.js", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    wresp_free(&r);
}

static void test_http_static__gzip(void **state)
{
    struct wresp r;
    wget_(&r, "GET", "/assets/app-1a2b.js", "Accept-Encoding: br, gzip;q=0.8");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.encoding, "gzip");
    assert_string_equal(r.ctype, "text/javascript; charset=utf-8");
    assert_string_equal(r.body.buf, "GZIPPED-BYTES");
    wresp_free(&r);
    wget_(&r, "GET", "/assets/app-1a2b.js", "Accept-Encoding: gzip;q=0, deflate");
    assert_string_equal(r.encoding, "");
    assert_string_equal(r.body.buf, "console.log('app');");
    wresp_free(&r);
    /* no .gz sibling: the file as it is, whatever the client takes */
    wget_(&r, "GET", "/assets/app-1a2b.css", "Accept-Encoding: gzip");
    assert_string_equal(r.encoding, "");
    assert_string_equal(r.body.buf, "body{}");
    wresp_free(&r);
}

static void test_http_static__etag(void **state)
{
    struct wresp r;
    wget_(&r, "GET", "/", NULL);
    assert_true(strlen(r.etag) > 2);
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", r.etag);
    wresp_free(&r);
    wget_(&r, "GET", "/", inm);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body.len, 0);
    wresp_free(&r);
    wget_(&r, "GET", "/", "If-None-Match: \"other\"");
    assert_int_equal(r.status, 200);
    wresp_free(&r);
}

static void test_http_static__spa_fallback(void **state)
{
    static const char *const pages[] = {"/archive", "/customers/01HZX", "/alerts?status=open",
                                        "/sub", "/a/b/c/d", "//double"};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        struct wresp r;
        wget_(&r, "GET", pages[i], NULL);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.ctype, "text/html; charset=utf-8");
        assert_string_equal(r.cache, "no-cache");
        assert_string_equal(r.body.buf, "<!doctype html><title>console</title>");
        wresp_free(&r);
    }
    /* a missing asset is 404, not the page: browsers would keep it for a year */
    struct wresp r;
    wget_(&r, "GET", "/assets/app-0000.js", NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.ctype, "application/json");
    wresp_free(&r);
}

static void test_http_static__api_keeps_json(void **state)
{
    static const char *const paths[] = {"/api/v1/nope", "/api", "/api/", "/metrics/x",
                                        "/api/v1/health/x"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct resp r;
        get(&r, paths[i]);
        assert_error(&r, 404, "not_found");
        resp_free(&r);
    }
    struct resp r;
    request(NULL, &r, "POST", "/", "{}", 2, PLAIN, NULL);
    assert_error(&r, 404, "not_found");
    resp_free(&r);
    request(NULL, &r, "DELETE", "/archive", NULL, 0, PLAIN, NULL);
    assert_error(&r, 404, "not_found");
    resp_free(&r);
    get(&r, "/api/v1/health");
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void test_http_static__no_escape(void **state)
{
    static const char *const paths[] = {
        "/../secret.txt",          "/%2e%2e/secret.txt",         "/%2E%2E/secret.txt",
        "/assets/../../secret.txt", "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/..%2fsecret.txt",        "/link.txt",                  "/assets/up/secret.txt",
        "/.hidden",                "/%2ehidden",                 "/assets/..%5c..%5csecret.txt",
        "/./index.html",           "/assets/%2e/app-1a2b.js",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct wresp r;
        wget_(&r, "GET", paths[i], NULL);
        if (strstr(r.body.buf, "TOP-SECRET") || strstr(r.body.buf, "HIDDEN"))
            fail_msg("%s leaked a file outside the console: %s", paths[i], r.body.buf);
        /* refused outright, or (a symlink out, a file the console does not have) the page */
        if (r.status != 404 && strcmp(r.body.buf, "<!doctype html><title>console</title>"))
            fail_msg("%s: HTTP %ld %s", paths[i], r.status, r.body.buf);
        wresp_free(&r);
    }
    /* a symlink leading out of the directory is no file of the console */
    struct wresp r;
    wget_(&r, "GET", "/assets/up/secret.txt", NULL);
    assert_int_equal(r.status, 404);
    wresp_free(&r);
    wget_(&r, "GET", "/%2e%2e/secret.txt", NULL);
    assert_int_equal(r.status, 404);
    wresp_free(&r);
}

static void test_http_static__not_built(void **state)
{
    /* the server in this test serves W.root; another with an empty dir shows the page */
    wp_http_server_free(T.srv);
    T.srv = NULL;
    fclose(T.log);
    T.log = NULL;
    char empty[160];
    snprintf(empty, sizeof empty, "%s/sub", W.root);
    start_web(empty);
    struct wresp r;
    wget_(&r, "GET", "/", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/html; charset=utf-8");
    assert_non_null(strstr(r.body.buf, "make web"));
    assert_null(strstr(r.body.buf, W.dir));
    wresp_free(&r);
    wget_(&r, "GET", "/customers", NULL);
    assert_non_null(strstr(r.body.buf, "not built"));
    wresp_free(&r);
    struct resp a;
    get(&a, "/api/v1/health");
    assert_int_equal(a.status, 200);
    resp_free(&a);
    /* built while the server runs: served at once */
    put_file("root/sub/index.html", "<p>now built</p>");
    wget_(&r, "GET", "/", NULL);
    assert_string_equal(r.body.buf, "<p>now built</p>");
    wresp_free(&r);
    /* a dir that does not exist at all is "not built" too */
    wp_http_server_free(T.srv);
    T.srv = NULL;
    fclose(T.log);
    T.log = NULL;
    start_web("/nonexistent/web/dist");
    wget_(&r, "GET", "/", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.buf, "not built"));
    wresp_free(&r);
}

static void test_http_static__default_dir(void **state)
{
    const char *d = wp_http_web_dir_default();
    size_t n = strlen(d);
    assert_true(n > 8);
    assert_string_equal(d + n - 8, "web/dist");
    assert_true(d[0] == '/');
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sem_init(&slow_entered, 0, 0);
    sem_init(&slow_release, 0, 0);
    sem_init(&stopping, 0, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_routes__table_is_valid),
        cmocka_unit_test(test_http_routes__documented),
        cmocka_unit_test(test_http_routes__check_refuses_bad_rows),
        cmocka_unit_test(test_http_routes__split_and_find),
        cmocka_unit_test(test_http_arena__allocations),
        cmocka_unit_test(test_http_json__depth),
        cmocka_unit_test(test_http_metrics__loopback_addresses),
        cmocka_unit_test_setup_teardown(test_http_server__health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__params_and_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__method_not_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__json_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__body_limit_content_length,
                                        setup_small_body, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__body_limit_chunked, setup_small_body,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http_server__keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__request_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__error_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__ready_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__no_reply_is_500, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__closed_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__authorize, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__credentials, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__stream_body, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__graceful_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__request_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_server__listen_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_static__files_and_cache, setup_web,
                                        teardown_web),
        cmocka_unit_test_setup_teardown(test_http_static__gzip, setup_web, teardown_web),
        cmocka_unit_test_setup_teardown(test_http_static__etag, setup_web, teardown_web),
        cmocka_unit_test_setup_teardown(test_http_static__spa_fallback, setup_web, teardown_web),
        cmocka_unit_test_setup_teardown(test_http_static__api_keeps_json, setup_web,
                                        teardown_web),
        cmocka_unit_test_setup_teardown(test_http_static__no_escape, setup_web, teardown_web),
        cmocka_unit_test_setup_teardown(test_http_static__not_built, setup_web, teardown_web),
        cmocka_unit_test(test_http_static__default_dir),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
