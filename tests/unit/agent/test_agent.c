/* SPDX-License-Identifier: MIT */
/* libwpagent against a real `workphone serve` over loopback: durability across kill -9, the
 * server going away and coming back, injected 5xx, timeouts and lost answers, a full outbox,
 * and the offline check answering exactly as the server does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server.h"
#include "workphone/agent.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static test_server srv;

/* --- a transport that wraps the curl one and injects failures ------------------------------ */

enum fault { PASS = 0, HTTP_503, HTTP_503_FULL, TIMEOUT, LOST, DIE, STOP_SERVER };

struct faulty {
    wp_agent_transport inner;
    const char *only;          /* faults apply to requests whose URL contains this; NULL: all */
    const enum fault *script;  /* one per matching request, then PASS */
    size_t n_script, next;
    enum fault always;         /* when not PASS: every matching request, after the script */
    int matched;               /* matching requests seen */
    char log[64];              /* one letter a matching request: E events, G policy, M media */
};

static int faulty_send(void *ctx, const wp_agent_request *req, wp_agent_response *resp)
{
    struct faulty *f = ctx;
    enum fault what = PASS;
    if (!f->only || strstr(req->url, f->only)) {
        f->matched++;
        what = f->next < f->n_script ? f->script[f->next++] : f->always;
        size_t l = strlen(f->log);
        if (l + 1 < sizeof f->log)
            f->log[l] = strstr(req->url, "/events") ? 'E' : strstr(req->url, "/policy") ? 'G' : 'M';
    }
    switch (what) {
    case HTTP_503:
        wp_agent_response_status(resp, 503);
        static const char busy[] = "{\"error\":{\"code\":\"unavailable\",\"message\":\"x\"}}";
        wp_agent_response_body(resp, busy, sizeof busy - 1);
        return 0;
    case HTTP_503_FULL: /* the server's disk is full: it says when to come back */
        wp_agent_response_status(resp, 503);
        wp_agent_response_header(resp, "Retry-After", "7");
        static const char full[] = "{\"error\":{\"code\":\"storage_full\",\"message\":\"x\"}}";
        wp_agent_response_body(resp, full, sizeof full - 1);
        return 0;
    case TIMEOUT:
        return wp_agent_response_error(resp, WP_AGENT_ENET, "injected: operation timed out");
    default:
        break;
    }
    int err = f->inner.send(f->inner.ctx, req, resp);
    if (what == DIE)
        raise(SIGKILL); /* the server has answered; the agent never learns it */
    if (what == STOP_SERVER)
        server_stop(&srv);
    if (what == LOST && err == 0)
        return wp_agent_response_error(resp, WP_AGENT_ENET, "injected: answer lost");
    return err;
}

static void faulty_free(void *ctx)
{
    struct faulty *f = ctx;
    f->inner.free(f->inner.ctx);
}

/* --- sleeping without sleeping ------------------------------------------------------------- */

struct sleeper {
    unsigned delays[64];
    size_t n;
    size_t restart_at; /* restart the server at this sleep (1-based); 0: never */
};

static void fake_sleep(void *ctx, unsigned ms)
{
    struct sleeper *s = ctx;
    if (s->n < 64)
        s->delays[s->n] = ms;
    s->n++;
    if (s->restart_at && s->n == s->restart_at)
        server_restart(&srv);
}

/* --- helpers ------------------------------------------------------------------------------- */

struct agent_fx {
    char dir[512];
    wp_agent *a;
    struct faulty f;
    struct sleeper sl;
};

static wp_agent *open_agent(struct agent_fx *fx, unsigned batch, uint64_t max_bytes,
                            unsigned attempts)
{
    wp_agent_options o = WP_AGENT_OPTIONS_INIT;
    wp_agent_transport t;
    wp_agent *a = NULL;
    memset(&fx->f.inner, 0, sizeof fx->f.inner);
    assert_int_equal(wp_agent_transport_curl(&fx->f.inner), 0);
    t.send = faulty_send;
    t.free = faulty_free;
    t.ctx = &fx->f;
    o.dir = fx->dir;
    o.transport = &t;
    o.batch_max = batch;
    o.max_outbox_bytes = max_bytes;
    o.max_attempts = attempts;
    o.sleep_ms = fake_sleep;
    o.sleep_ctx = &fx->sl;
    int err = wp_agent_new(&a, &o);
    assert_int_equal(err, 0);
    return a;
}

static void fx_init(struct agent_fx *fx, const char *tag)
{
    memset(fx, 0, sizeof *fx);
    make_tmpdir(fx->dir, tag);
}

static void fx_enroll(struct agent_fx *fx)
{
    char code[64];
    server_code(&srv, code);
    int err = wp_agent_enroll(fx->a, srv.base, code, "SN-T", "test");
    if (err) {
        char msg[256];
        wp_agent_last_error(fx->a, msg, sizeof msg);
        fail_msg("enroll: %d %s", err, msg);
    }
}

static void fx_done(struct agent_fx *fx)
{
    wp_agent_free(fx->a);
    fx->a = NULL;
    rm_rf(fx->dir);
}

static int record_text(wp_agent *a, int64_t *seq, const char *prefix, int i)
{
    char ev[512];
    snprintf(ev, sizeof ev,
             "{\"type\":\"message\",\"ts\":\"2026-11-22T10:00:00+08:00\",\"channel\":\"wechat\","
             "\"direction\":\"out\",\"peer\":{\"id\":\"wxid_t%d\"},\"chat\":\"wxid_t%d\","
             "\"msgtype\":\"text\",\"text\":\"%s%d\"}",
             i % 7, i % 7, prefix, i);
    return wp_agent_record(a, seq, ev, strlen(ev));
}

static int sync_ok(wp_agent *a)
{
    int err = wp_agent_sync(a);
    if (err) {
        char msg[256];
        wp_agent_last_error(a, msg, sizeof msg);
        fprintf(stderr, "sync: %d %s\n", err, msg);
    }
    return err;
}

/* Every i < n with want[i] is stored exactly once, no other text with the prefix is. */
static void assert_stored_once(const char *prefix, const int *want, int n)
{
    int *counts = calloc((size_t)n, sizeof *counts);
    assert_non_null(counts);
    int total = server_tally(&srv, prefix, counts, n);
    int expected = 0;
    for (int i = 0; i < n; i++) {
        int w = want ? want[i] : 1;
        expected += w;
        if (counts[i] != w)
            fail_msg("'%s%d' stored %d times, want %d", prefix, i, counts[i], w);
    }
    assert_int_equal(total, expected);
    free(counts);
}

static wp_agent_status status_of(wp_agent *a)
{
    wp_agent_status st;
    assert_int_equal(wp_agent_status_get(a, &st), 0);
    return st;
}

/* --- tests --------------------------------------------------------------------------------- */

static void test_agent__lifecycle_and_errors(void **state)
{
    (void)state;
    struct agent_fx fx;
    fx_init(&fx, "life");
    fx.a = open_agent(&fx, 0, 0, 1);
    enum wp_agent_action act;
    char msg[256];

    assert_int_equal(wp_agent_sync(fx.a), WP_AGENT_ENOTENROLLED);
    assert_int_equal(wp_agent_check(fx.a, &act, NULL, "x", 1), WP_AGENT_ENOPOLICY);
    assert_int_equal(wp_agent_enroll(fx.a, srv.base, "AAAA-BBBB-CCCC", "S", "M"), WP_AGENT_EAUTH);
    assert_int_equal(wp_agent_enroll(fx.a, "ftp://x", "AAAA-BBBB-CCCC", "S", "M"),
                     WP_AGENT_EINVAL);
    /* events recorded before enrollment wait for it */
    int64_t seq = 0;
    assert_int_equal(record_text(fx.a, &seq, "life-", 0), 0);
    assert_int_equal(seq, 1);
    fx_enroll(&fx);
    char code[64];
    server_code(&srv, code);
    assert_int_equal(wp_agent_enroll(fx.a, srv.base, code, "S", "M"), WP_AGENT_EEXISTS);

    /* the token lives in a file no one else may read */
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/agent.db", fx.dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    snprintf(path, sizeof path, "%s", fx.dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);

    /* bad events: nothing recorded, no seq spent */
    static const char *const bad[] = {"[1]", "{\"seq\":5,\"type\":\"message\"}", "{\"ts\":\"x\"}",
                                      "{\"type\":\"call\",\"ts\":\"yesterday\"}", "{\"type\":"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(wp_agent_record(fx.a, NULL, bad[i], strlen(bad[i])), WP_AGENT_EINVAL);
    const char *many[] = {"{\"type\":\"location\",\"lat\":1,\"lon\":2}", "{\"type\":"};
    size_t lens[] = {strlen(many[0]), strlen(many[1])};
    assert_int_equal(wp_agent_record_many(fx.a, NULL, many, lens, 2), WP_AGENT_EINVAL);
    wp_agent_last_error(fx.a, msg, sizeof msg);
    assert_non_null(strstr(msg, "event 2:"));
    assert_int_equal(status_of(fx.a).next_seq, 2);
    assert_int_equal(status_of(fx.a).outbox_events, 1);

    /* typed helpers make events the server takes */
    wp_agent_peer peer = {"wxid_life", "王女士", "13800138000"};
    assert_int_equal(wp_agent_record_text(fx.a, &seq, 0, "wechat", "out", &peer, NULL, "life-1"),
                     0);
    assert_int_equal(seq, 2);
    assert_int_equal(wp_agent_record_call(fx.a, NULL, 0, "in", &peer, 63, NULL), 0);
    assert_int_equal(wp_agent_record_contact(fx.a, NULL, 0, "wechat", "added", &peer), 0);
    /* at a working time (Monday 10:00 in Shanghai): under the default "drop" a point off duty
     * would not be recorded (test_agent_field.c) */
    assert_int_equal(wp_agent_record_location(fx.a, NULL, 1796608800000000LL, 31.23, 121.47, 12),
                     WP_AGENT_LOCATION_RECORDED);
    assert_int_equal(sync_ok(fx.a), 0);
    wp_agent_status s = status_of(fx.a);
    assert_int_equal(s.acked_seq, 5);
    assert_int_equal(s.outbox_events, 0);
    assert_int_equal(s.outbox_bytes, 0);
    assert_int_equal(s.rejected, 0);
    assert_true(s.policy_version > 0);
    assert_string_equal(s.last_error, "");
    assert_stored_once("life-", NULL, 2);
    fx_done(&fx);
}

/* A child records events and is SIGKILLed in the middle; every event whose record call
 * returned is in the outbox after reopening, and sync stores each exactly once. */
static void test_agent__kill9_between_record_and_sync(void **state)
{
    (void)state;
    struct agent_fx fx;
    fx_init(&fx, "kill");
    fx.a = open_agent(&fx, 0, 0, 1);
    fx_enroll(&fx);
    wp_agent_free(fx.a);
    fx.a = NULL;

    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        wp_agent *a = open_agent(&fx, 0, 0, 1);
        for (int i = 0;; i++) {
            if (record_text(a, NULL, "kill-", i) != 0)
                _exit(3);
            /* said only after the record call returned: the parent counts these */
            if (write(p[1], "r", 1) != 1)
                _exit(4);
        }
    }
    close(p[1]);
    char c;
    int acked = 0;
    while (acked < 40 && read(p[0], &c, 1) == 1)
        acked++;
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    close(p[0]);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    assert_int_equal(acked, 40);

    fx.a = open_agent(&fx, 16, 0, 1);
    wp_agent_status s = status_of(fx.a);
    assert_true(s.outbox_events >= 40);
    assert_int_equal(s.next_seq, (int64_t)s.outbox_events + 1); /* no seq skipped or reused */
    int n = (int)s.outbox_events;
    assert_int_equal(sync_ok(fx.a), 0);
    assert_int_equal(status_of(fx.a).acked_seq, n);
    assert_int_equal(status_of(fx.a).outbox_events, 0);
    assert_stored_once("kill-", NULL, n);
    fx_done(&fx);
}

/* The server stores a batch and the agent dies before it learns so: after reopening, it sends
 * the batch again and the server stores nothing twice. */
static void test_agent__kill9_after_server_stored(void **state)
{
    (void)state;
    struct agent_fx fx;
    fx_init(&fx, "kill2");
    fx.a = open_agent(&fx, 10, 0, 1);
    fx_enroll(&fx);
    for (int i = 0; i < 25; i++)
        assert_int_equal(record_text(fx.a, NULL, "kill2-", i), 0);
    wp_agent_free(fx.a);
    fx.a = NULL;

    static const enum fault die_second[] = {PASS, DIE};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        wp_agent *a = open_agent(&fx, 10, 0, 1);
        fx.f.only = "/device/events";
        fx.f.script = die_second;
        fx.f.n_script = 2;
        wp_agent_sync(a);
        _exit(5); /* not reached: the second batch kills it */
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    fx.a = open_agent(&fx, 10, 0, 1);
    wp_agent_status s = status_of(fx.a);
    assert_int_equal(s.acked_seq, 10);     /* the first batch's answer was applied */
    assert_int_equal(s.outbox_events, 15); /* the second was stored by the server only */
    int want[25];
    for (int i = 0; i < 25; i++)
        want[i] = 1;
    for (int i = 20; i < 25; i++)
        want[i] = 0;
    assert_stored_once("kill2-", want, 25);
    assert_int_equal(sync_ok(fx.a), 0);
    assert_int_equal(status_of(fx.a).acked_seq, 25);
    assert_stored_once("kill2-", NULL, 25);
    fx_done(&fx);
}

/* The server stops in the middle of a sync (after the first batch) and comes back while the
 * agent backs off: one sync call ends with every event stored once. */
static void test_agent__server_down_then_up(void **state)
{
    (void)state;
    struct agent_fx fx;
    fx_init(&fx, "down");
    fx.a = open_agent(&fx, 100, 0, 6);
    fx_enroll(&fx);
    for (int i = 0; i < 250; i++)
        assert_int_equal(record_text(fx.a, NULL, "down-", i), 0);
    static const enum fault stop_after_first[] = {STOP_SERVER};
    fx.f.only = "/device/events";
    fx.f.script = stop_after_first;
    fx.f.n_script = 1;
    fx.sl.restart_at = 3; /* two failed attempts on a dead port, then it is back */
    assert_int_equal(sync_ok(fx.a), 0);
    assert_int_equal(fx.sl.n, 3);
    /* exponential with jitter: each delay lies in the upper half of its step */
    unsigned step = 500;
    for (size_t i = 0; i < 3; i++, step *= 2) {
        assert_in_range(fx.sl.delays[i], step / 2, step);
    }
    wp_agent_status s = status_of(fx.a);
    assert_int_equal(s.acked_seq, 250);
    assert_int_equal(s.failures, 0);
    assert_int_equal(s.retry_after_ms, 0);
    assert_stored_once("down-", NULL, 250);
    fx_done(&fx);
}

/* 5xx, timeouts and answers lost after the server stored (events and media): backoff, no loss,
 * no duplicates; the media are on the server before the events that name them. */
static void test_agent__injected_faults(void **state)
{
    (void)state;
    struct agent_fx fx;
    fx_init(&fx, "fault");
    fx.a = open_agent(&fx, 10, 0, 10);
    fx_enroll(&fx);

    /* a real timeout first: a server that takes the connection and never answers */
    int hole = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(hole, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(hole, 8), 0);
    assert_int_equal(getsockname(hole, (struct sockaddr *)&sa, &sl), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    wp_agent_free(fx.a);
    {
        wp_agent_options o = WP_AGENT_OPTIONS_INIT;
        o.dir = fx.dir;
        o.timeout_ms = 200;
        o.max_attempts = 2;
        o.sleep_ms = fake_sleep;
        o.sleep_ctx = &fx.sl;
        assert_int_equal(wp_agent_new(&fx.a, &o), 0);
    }
    assert_int_equal(record_text(fx.a, NULL, "fault-", 0), 0);
    assert_int_equal(wp_agent_set_server(fx.a, url), 0);
    assert_int_equal(wp_agent_sync(fx.a), WP_AGENT_ENET);
    close(hole);
    assert_int_equal(fx.sl.n, 1);
    wp_agent_status ts = status_of(fx.a);
    assert_int_equal(ts.failures, 2);
    assert_true(ts.retry_after_ms >= 500 && ts.retry_after_ms <= 1000);
    assert_non_null(strstr(ts.last_error, "POST /api/v1/device/events"));
    assert_int_equal(wp_agent_set_server(fx.a, srv.base), 0);
    wp_agent_free(fx.a);
    memset(&fx.sl, 0, sizeof fx.sl);
    fx.a = open_agent(&fx, 10, 0, 10);

    char media[2][600], refs[2][72];
    for (int k = 0; k < 2; k++) {
        snprintf(media[k], sizeof media[k], "%s/rec%d.amr", fx.dir, k);
        FILE *f = fopen(media[k], "wb");
        assert_non_null(f);
        for (int i = 0; i < 5000; i++)
            fprintf(f, "%d-%d,", k, i);
        fclose(f);
        assert_int_equal(wp_agent_media_add(fx.a, refs[k], media[k]), 0);
        assert_int_equal(strncmp(refs[k], "sha256:", 7), 0);
    }
    char again[72];
    assert_int_equal(wp_agent_media_add(fx.a, again, media[0]), 0); /* one copy */
    assert_string_equal(again, refs[0]);
    assert_int_equal(status_of(fx.a).media_pending, 2);
    for (int i = 1; i < 35; i++) {
        if (i == 3 || i == 23) {
            char ev[512];
            snprintf(ev, sizeof ev,
                     "{\"type\":\"message\",\"ts\":\"2026-11-22T10:00:00+08:00\",\"channel\":"
                     "\"wechat\",\"direction\":\"out\",\"peer\":{\"id\":\"wxid_f\"},\"chat\":"
                     "\"wxid_f\",\"msgtype\":\"voice\",\"media\":\"%s\",\"text\":\"fault-%d\"}",
                     refs[i == 23], i);
            assert_int_equal(wp_agent_record(fx.a, NULL, ev, strlen(ev)), 0);
        } else {
            assert_int_equal(record_text(fx.a, NULL, "fault-", i), 0);
        }
    }
    /* In request order: PUT media 0 (lost), PUT media 0, POST batch 1 (lost after the server
     * stored it), POST batch 1 (503), POST batch 1 (timeout), POST batch 1 (stored nothing
     * twice), POST batch 2, PUT media 1, POST batch 3 (lost), then everything passes. */
    static const enum fault script[] = {LOST, PASS, LOST, HTTP_503, TIMEOUT,
                                        PASS, PASS, PASS, LOST};
    memset(fx.f.log, 0, sizeof fx.f.log);
    fx.f.only = "/api/v1/device/";
    fx.f.script = script;
    fx.f.n_script = sizeof script / sizeof script[0];
    assert_int_equal(sync_ok(fx.a), 0);
    /* each media file went up before the first batch naming it (batches 1 and 3), and every
     * failed request was tried again */
    assert_string_equal(fx.f.log, "MMEEEEEMEEEG");
    /* five failures; the count goes on from the two of the black hole (kept on disk across
     * the reopening) until progress, after which the step starts over */
    static const unsigned steps[] = {2000, 4000, 8000, 16000, 500};
    assert_int_equal(fx.sl.n, 5);
    for (size_t i = 0; i < 5; i++)
        assert_in_range(fx.sl.delays[i], steps[i] / 2, steps[i]);
    wp_agent_status s = status_of(fx.a);
    assert_int_equal(s.acked_seq, 35);
    assert_int_equal(s.media_pending, 0);
    assert_int_equal(s.outbox_bytes, 0);
    assert_stored_once("fault-", NULL, 35);

    for (int k = 0; k < 2; k++) {
        /* on the server, content-addressed (src/ingest/media.c: <data>/media/ab/cd/<hex>) */
        const char *hex = refs[k] + 7;
        char stored[700];
        snprintf(stored, sizeof stored, "%s/media/%.2s/%.2s/%s", srv.data, hex, hex + 2, hex);
        assert_int_equal(access(stored, F_OK), 0);
        /* and the agent's copy is gone once uploaded and every event naming it acknowledged */
        char local[700];
        snprintf(local, sizeof local, "%s/media/%s", fx.dir, hex);
        assert_int_equal(access(local, F_OK), -1);
    }
    fx_done(&fx);
}

/* A small outbox fills: a clear error, nothing half-recorded, earlier events intact and sent. */
static void test_agent__outbox_full(void **state)
{
    (void)state;
    struct agent_fx fx;
    fx_init(&fx, "full");
    fx.a = open_agent(&fx, 0, 4096, 1);
    fx_enroll(&fx);
    int n = 0, err;
    while ((err = record_text(fx.a, NULL, "full-", n)) == 0)
        n++;
    assert_int_equal(err, WP_AGENT_EFULL);
    char msg[256];
    wp_agent_last_error(fx.a, msg, sizeof msg);
    assert_non_null(strstr(msg, "outbox is full"));
    assert_true(n >= 10);
    wp_agent_status s = status_of(fx.a);
    assert_int_equal(s.outbox_events, n);
    assert_int_equal(s.next_seq, n + 1); /* the refused event took no seq */
    assert_true(s.outbox_bytes <= 4096);

    /* media count too */
    char path[600], ref[72];
    snprintf(path, sizeof path, "%s/big.bin", fx.dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 8192; i++)
        fputc(i & 0xff, f);
    fclose(f);
    assert_int_equal(wp_agent_media_add(fx.a, ref, path), WP_AGENT_EFULL);

    /* reopened: the same events, still refusing more */
    wp_agent_free(fx.a);
    fx.a = open_agent(&fx, 0, 4096, 1);
    assert_int_equal(status_of(fx.a).outbox_events, n);
    assert_int_equal(record_text(fx.a, NULL, "full-", n), WP_AGENT_EFULL);
    assert_int_equal(sync_ok(fx.a), 0);
    assert_stored_once("full-", NULL, n);
    assert_int_equal(record_text(fx.a, NULL, "full-", n), 0); /* room again */
    assert_int_equal(sync_ok(fx.a), 0);
    assert_stored_once("full-", NULL, n + 1);
    fx_done(&fx);
}

/* A server whose disk is full answers 503 with Retry-After: the events stay in the outbox,
 * each next attempt waits at least Retry-After (more than the backoff would), and the sync
 * goes through once the server has space again. */
static void test_agent__full_server_retry_after(void **state)
{
    (void)state;
    struct agent_fx fx;
    fx_init(&fx, "503");
    fx.a = open_agent(&fx, 10, 0, 10);
    fx_enroll(&fx);
    for (int i = 0; i < 15; i++)
        assert_int_equal(record_text(fx.a, NULL, "ra-", i), 0);
    static const enum fault script[] = {HTTP_503_FULL, HTTP_503_FULL, PASS, HTTP_503_FULL};
    fx.f.only = "/api/v1/device/events";
    fx.f.matched = 0; /* enrollment's requests counted before the filter */
    fx.f.script = script;
    fx.f.n_script = sizeof script / sizeof script[0];
    assert_int_equal(sync_ok(fx.a), 0);
    /* batch 1 refused twice, stored; batch 2 refused once, stored: three waits of >= 7 s,
     * where the backoff alone would have waited 0.25..0.5, 0.5..1 and 0.25..0.5 s */
    assert_int_equal(fx.f.matched, 5);
    assert_int_equal(fx.sl.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_in_range(fx.sl.delays[i], 7000, 7000);
    wp_agent_status s = status_of(fx.a);
    assert_int_equal(s.outbox_events, 0);
    assert_int_equal(s.acked_seq, 15);
    assert_int_equal(s.retry_after_ms, 0);
    assert_stored_once("ra-", NULL, 15);

    /* one attempt only: the events stay, the status says to wait the server's 7 s */
    assert_int_equal(record_text(fx.a, NULL, "ra-", 15), 0);
    wp_agent_free(fx.a);
    fx.a = open_agent(&fx, 10, 0, 1);
    static const enum fault once[] = {HTTP_503_FULL};
    fx.f.script = once;
    fx.f.n_script = 1;
    fx.f.next = 0;
    assert_int_equal(wp_agent_sync(fx.a), WP_AGENT_ENET);
    s = status_of(fx.a);
    assert_int_equal(s.outbox_events, 1);
    assert_int_equal(s.retry_after_ms, 7000);
    assert_non_null(strstr(s.last_error, "HTTP 503"));
    assert_int_equal(sync_ok(fx.a), 0);
    assert_stored_once("ra-", NULL, 16);
    fx_done(&fx);
}

/* The offline check gives, byte for byte, what POST /api/v1/device/check gives. */
static void test_agent__check_equals_server(void **state)
{
    (void)state;
    struct agent_fx fx;
    fx_init(&fx, "check");
    fx.a = open_agent(&fx, 0, 0, 1);
    fx_enroll(&fx);
    int64_t v1 = status_of(fx.a).policy_version;
    assert_true(v1 > 0);

    static const char lexicon[] = "飞单\tprivate_deal\tblock\n"
                                  "私单\tprivate_deal\talert\n"
                                  "保本保息\tfalse_promise\tblock\n"
                                  "加我vx\tcontact_leak\n"
                                  "re:返[0-9]{1,2}个点\trebate\talert\n"
                                  "内部价\tprice\tmask\n"
                                  "allow:单飞行程\n";
    int status;
    json_t *j = server_call(&srv, "PUT", "/api/v1/lexicon", NULL, "text/plain", lexicon, &status,
                            NULL);
    assert_int_equal(status, 200);
    json_decref(j);

    /* the agent still has the old policy until it syncs; the ETag brings the new one */
    assert_int_equal(sync_ok(fx.a), 0);
    int64_t v2 = status_of(fx.a).policy_version;
    assert_true(v2 > v1);
    assert_int_equal(sync_ok(fx.a), 0); /* 304: unchanged */
    assert_int_equal(status_of(fx.a).policy_version, v2);

    /* a device token for asking the server */
    char code[64], body[256];
    server_code(&srv, code);
    snprintf(body, sizeof body, "{\"code\":\"%s\",\"serial\":\"S2\",\"model\":\"M\"}", code);
    j = server_call(&srv, "POST", "/api/v1/device/enroll", "", "application/json", body, &status,
                    NULL);
    assert_int_equal(status, 201);
    char token[128];
    snprintf(token, sizeof token, "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);

    /* and an agent that cannot reach anyone: the check is offline */
    wp_agent_free(fx.a);
    fx.f.always = TIMEOUT;
    fx.a = open_agent(&fx, 0, 0, 1);
    assert_int_equal(wp_agent_sync(fx.a), WP_AGENT_ENET);

    static const char *const texts[] = {
        "这笔可以飞单给你", "飞*单", "飛單", "飞 单", "飞😀单", "ＦＥＩ飞\u200b单", "加我ＶＸ",
        "加我 V X 聊", "保本保息，放心", "私单也行", "返12个点", "返 1 2 个点", "单飞行程安排好了",
        "我的手机13800138000", "身份证11010519491231002X", "卡号6222021234567894",
        "邮箱 a.b@example.com", "内部价给你", "hello", "", "飞单飞单私单", "\"quoted\" \\ \t tab",
        "①③⑧⓪⓪①③⑧⓪⓪⓪",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *local = NULL, *remote = NULL;
        enum wp_agent_action act;
        assert_int_equal(wp_agent_check(fx.a, &act, &local, texts[i], strlen(texts[i])), 0);
        json_t *req = json_pack("{s:s,s:{s:s},s:s}", "channel", "wechat", "peer", "id", "wxid_c",
                                "text", texts[i]);
        char *req_s = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        j = server_call(&srv, "POST", "/api/v1/device/check", token, "application/json", req_s,
                        &status, &remote);
        free(req_s);
        assert_int_equal(status, 200);
        if (strcmp(local, remote) != 0)
            fail_msg("text %zu '%s':\n local  %s\n server %s", i, texts[i], local, remote);
        /* the action out-parameter agrees with the JSON */
        static const char *const names[] = {"allow", "mask", "alert", "block"};
        assert_string_equal(json_string_value(json_object_get(j, "action")), names[act]);
        json_decref(j);
        free(remote);
        wp_agent_string_free(local);
    }
    enum wp_agent_action act;
    assert_int_equal(wp_agent_check(fx.a, &act, NULL, "飞*单", strlen("飞*单")), 0);
    assert_int_equal(act, WP_AGENT_BLOCK);

    /* over 64 KiB: refused, as the server does */
    size_t big = 64 * 1024 + 1;
    char *t = malloc(big);
    assert_non_null(t);
    memset(t, 'a', big);
    assert_int_equal(wp_agent_check(fx.a, &act, NULL, t, big), WP_AGENT_EINVAL);
    free(t);

    /* put the default lexicon back for whoever comes next */
    FILE *f = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/data/lexicon/default.txt", getenv("WORKPHONE_SOURCE_ROOT"));
    f = fopen(path, "rb");
    assert_non_null(f);
    char *def = calloc(1, 1 << 20);
    assert_non_null(def);
    size_t dl = fread(def, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(dl > 0);
    j = server_call(&srv, "PUT", "/api/v1/lexicon", NULL, "text/plain", def, &status, NULL);
    assert_int_equal(status, 200);
    json_decref(j);
    free(def);
    fx_done(&fx);
}

/* Threads share one handle: recorders, a checker and a syncer at once. */
struct thr {
    wp_agent *a;
    int base;
    int err;
};

static void *recorder(void *arg)
{
    struct thr *t = arg;
    for (int i = 0; i < 100 && !t->err; i++)
        t->err = record_text(t->a, NULL, "thr-", t->base + i);
    return NULL;
}

static void *syncer(void *arg)
{
    struct thr *t = arg;
    for (int i = 0; i < 5; i++)
        wp_agent_sync(t->a);
    return NULL;
}

static void *checker(void *arg)
{
    struct thr *t = arg;
    for (int i = 0; i < 500 && !t->err; i++) {
        enum wp_agent_action act;
        t->err = wp_agent_check(t->a, &act, NULL, "飞*单", strlen("飞*单"));
        if (!t->err && act != WP_AGENT_BLOCK)
            t->err = -100;
    }
    return NULL;
}

static void test_agent__threads(void **state)
{
    (void)state;
    struct agent_fx fx;
    fx_init(&fx, "thr");
    fx.a = open_agent(&fx, 50, 0, 3);
    fx_enroll(&fx);
    pthread_t th[6];
    struct thr t[6];
    for (int i = 0; i < 6; i++) {
        t[i] = (struct thr){fx.a, i * 100, 0};
        pthread_create(&th[i], NULL, i < 4 ? recorder : i == 4 ? syncer : checker, &t[i]);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(t[i].err, 0);
    assert_int_equal(t[5].err, 0);
    assert_int_equal(sync_ok(fx.a), 0);
    assert_int_equal(status_of(fx.a).acked_seq, 400);
    assert_stored_once("thr-", NULL, 400);
    fx_done(&fx);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    server_start(&srv);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    server_destroy(&srv);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent__lifecycle_and_errors),
        cmocka_unit_test(test_agent__kill9_between_record_and_sync),
        cmocka_unit_test(test_agent__kill9_after_server_stored),
        cmocka_unit_test(test_agent__server_down_then_up),
        cmocka_unit_test(test_agent__injected_faults),
        cmocka_unit_test(test_agent__outbox_full),
        cmocka_unit_test(test_agent__full_server_retry_after),
        cmocka_unit_test(test_agent__check_equals_server),
        cmocka_unit_test(test_agent__threads),
    };
    return cmocka_run_group_tests_name("agent", tests, group_setup, group_teardown);
}
