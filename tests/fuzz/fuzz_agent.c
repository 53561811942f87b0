/* SPDX-License-Identifier: MIT */
/* libFuzzer target: whatever a server (or a proxy in the way) answers to libwpagent — to the
 * enrollment, the policy, the media uploads and the event batches — through the agent's real
 * code, with a transport that replays the input. The outbox must stay consistent whatever
 * comes back: no event is lost unless acknowledged, and check answers with a valid verdict.
 *
 * Input: records of [status selector: 1 byte][body length: 2 bytes, little-endian][body],
 * one per request in order; when they run out, every request fails as a network error. */
#include "workphone/agent.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct replay {
    const uint8_t *p, *end;
};

static int replay_send(void *ctx, const wp_agent_request *req, wp_agent_response *resp)
{
    static const int statuses[] = {200, 201, 304, 400, 401, 404, 413, 500, 503, 0};
    struct replay *r = ctx;
    (void)req;
    if (r->end - r->p < 3) {
        r->p = r->end;
        return wp_agent_response_error(resp, WP_AGENT_ENET, "fuzz: no more answers");
    }
    int status = statuses[r->p[0] % (sizeof statuses / sizeof statuses[0])];
    size_t len = (size_t)r->p[1] | (size_t)r->p[2] << 8;
    r->p += 3;
    if (len > (size_t)(r->end - r->p))
        len = (size_t)(r->end - r->p);
    if (status == 0) {
        r->p += len;
        return wp_agent_response_error(resp, WP_AGENT_ENET, "fuzz: connection reset");
    }
    int err = wp_agent_response_header(resp, "ETag", "\"7\"");
    if (err == 0)
        err = wp_agent_response_body(resp, r->p, len);
    r->p += len;
    return err < 0 ? err : wp_agent_response_status(resp, status);
}

static void no_sleep(void *ctx, unsigned ms)
{
    (void)ctx, (void)ms;
}

static void rm_dir(const char *dir)
{
    static const char *const files[] = {"agent.db", "agent.db-wal", "agent.db-shm"};
    char path[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/media", dir);
    rmdir(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* tmpfs when there is one: the outbox fsyncs every commit */
    char dir[64];
    snprintf(dir, sizeof dir, "%s/wp-fuzz-agent.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    FUZZ_ASSERT(mkdtemp(dir) != NULL, "mkdtemp");

    struct replay r = {data, data + size};
    wp_agent_transport t = {replay_send, NULL, &r};
    wp_agent_options o = WP_AGENT_OPTIONS_INIT;
    o.dir = dir;
    o.transport = &t;
    o.batch_max = 2;
    o.max_attempts = 2;
    o.sleep_ms = no_sleep;
    wp_agent *a = NULL;
    int err = wp_agent_new(&a, &o);
    FUZZ_ASSERT(err == 0, "open: %d", err);

    static const char ev[] = "{\"type\":\"message\",\"ts\":\"2026-11-22T10:00:00+08:00\","
                             "\"channel\":\"wechat\",\"direction\":\"out\",\"peer\":{\"id\":\"w\"},"
                             "\"chat\":\"w\",\"msgtype\":\"text\",\"text\":\"飞单\"}";
    for (int i = 0; i < 3; i++)
        FUZZ_ASSERT(wp_agent_record(a, NULL, ev, sizeof ev - 1) == 0, "record");

    err = wp_agent_enroll(a, "http://fuzz.invalid", "AAAA-BBBB-CCCC", "S", "M");
    wp_agent_status st;
    wp_agent_status_get(a, &st);
    FUZZ_ASSERT((err == 0) == (st.enrolled != 0), "enroll %d but enrolled=%d", err, st.enrolled);
    if (err == 0) {
        err = wp_agent_sync(a);
        wp_agent_status_get(a, &st);
        /* exactly the acknowledged events are gone */
        int64_t gone = st.acked_seq >= 3 ? 3 : st.acked_seq;
        FUZZ_ASSERT(st.acked_seq >= 0, "acked_seq %lld", (long long)st.acked_seq);
        FUZZ_ASSERT(st.outbox_events == (uint64_t)(3 - gone), "%llu events left, acked %lld",
                    (unsigned long long)st.outbox_events, (long long)st.acked_seq);
        FUZZ_ASSERT(err != 0 || st.outbox_events == 0, "sync succeeded with events left");
        FUZZ_ASSERT(st.next_seq == 4, "next_seq %lld", (long long)st.next_seq);
    }
    char *verdict = NULL;
    enum wp_agent_action act;
    err = wp_agent_check(a, &act, &verdict, "飞*单 13800138000", strlen("飞*单 13800138000"));
    FUZZ_ASSERT(err == 0 || err == WP_AGENT_ENOPOLICY, "check: %d", err);
    if (err == 0) {
        json_t *j = json_loads(verdict, 0, NULL);
        FUZZ_ASSERT(json_is_object(j) && json_is_string(json_object_get(j, "action")) &&
                        json_is_array(json_object_get(j, "matches")),
                    "verdict %s", verdict);
        json_decref(j);
        wp_agent_string_free(verdict);
    }
    wp_agent_free(a);
    rm_dir(dir);
    return 0;
}
