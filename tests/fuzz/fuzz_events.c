/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a device's events body (JSON bytes) through the validator and the alert
 * step, checking what the writer and the store rely on. The input is the request body. */
#include "ingest/ingest_int.h"
#include "store/events.h"
#include "store/store.h"
#include "util/error.h"
#include "util/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const wp_scanner *scanner(void)
{
    static wp_scanner *s;
    if (!s) {
        const char *lex = "飞单\tprivate_deal\tblock\n私单\tprivate_deal\talert\n"
                          "re:返[0-9]{1,2}个点\trebate\talert\nallow:严禁飞单\n";
        int rc = wp_scan_compile(&s, lex, strlen(lex), NULL);
        FUZZ_ASSERT(rc == 0, "lexicon: %s", wp_error_last());
    }
    return s;
}

/* A field the store binds as text: NULL, or valid UTF-8 of at most max bytes. */
static void field(const char *name, const char *s, size_t max)
{
    if (!s)
        return;
    size_t n = strlen(s);
    FUZZ_ASSERT(n <= max, "%s is %zu bytes", name, n);
    FUZZ_ASSERT(wp_utf8_valid(s, n), "%s is not utf-8", name);
}

/* The server's clock and the device's acked_seq the validator is given. */
static const wp_ingest_bounds bounds = {1795312800000000LL /* 2026-11-22T02:00:00Z */, 1000};

/* last: the highest seq of an accepted event before e; hi: the highest seq kept before it */
static void check_event(const wp_event *e, const struct wp_ingest_extra *x, int64_t *last,
                        int64_t *hi)
{
    FUZZ_ASSERT(e->raw && *e->raw, "no raw text");
    /* a seq the store keeps moves acked_seq, by at most WP_INGEST_SEQ_AHEAD_MAX */
    int64_t before = *hi > bounds.acked_seq ? *hi : bounds.acked_seq;
    FUZZ_ASSERT(e->seq >= 0 && e->seq <= WP_INGEST_SEQ_MAX, "seq %lld", (long long)e->seq);
    FUZZ_ASSERT(e->seq - before <= WP_INGEST_SEQ_AHEAD_MAX, "seq %lld after %lld",
                (long long)e->seq, (long long)before);
    if (e->seq > *hi)
        *hi = e->seq;
    if (e->type == WP_EVENT_REJECTED) {
        FUZZ_ASSERT(e->reason && *e->reason, "rejected without a reason");
        FUZZ_ASSERT(e->n_alerts == 0, "a rejected event raised alerts");
        return;
    }
    FUZZ_ASSERT(e->ts_us >= bounds.now_us - WP_INGEST_TS_PAST_MAX_US &&
                    e->ts_us <= bounds.now_us + WP_INGEST_TS_FUTURE_MAX_US,
                "ts %lld outside the window", (long long)e->ts_us);
    FUZZ_ASSERT(e->type >= WP_EVENT_MESSAGE && e->type <= WP_EVENT_LOCATION, "type %d",
                (int)e->type);
    FUZZ_ASSERT(e->seq > *last, "seq %lld after %lld", (long long)e->seq, (long long)*last);
    *last = e->seq;
    FUZZ_ASSERT(x->ts_text != NULL, "no ts");
    field("channel", e->channel, WP_ARCHIVE_FIELD_MAX);
    field("peer.id", e->peer.id, WP_ARCHIVE_FIELD_MAX);
    field("peer.name", e->peer.name, WP_ARCHIVE_FIELD_MAX);
    field("chat", e->chat, WP_ARCHIVE_FIELD_MAX);
    field("msgtype", e->msgtype, WP_ARCHIVE_FIELD_MAX);
    field("text", e->text, WP_ARCHIVE_TEXT_MAX);
    if (e->peer.phone) {
        size_t n = strlen(e->peer.phone);
        FUZZ_ASSERT(n >= 3 && n <= WP_ARCHIVE_PHONE_MAX, "phone '%s'", e->peer.phone);
        for (size_t i = 0; i < n; i++)
            FUZZ_ASSERT((e->peer.phone[i] >= '0' && e->peer.phone[i] <= '9') ||
                            (i == 0 && e->peer.phone[i] == '+'),
                        "phone '%s'", e->peer.phone);
    }
    switch (e->type) {
    case WP_EVENT_MESSAGE:
        FUZZ_ASSERT(e->channel && e->msgtype && e->direction != WP_DIR_NONE, "message fields");
        break;
    case WP_EVENT_CALL:
        FUZZ_ASSERT(e->peer.id || e->peer.phone, "a call without a peer");
        break;
    case WP_EVENT_CONTACT:
        FUZZ_ASSERT(e->action && (e->peer.id || e->peer.phone), "contact fields");
        break;
    default:
        FUZZ_ASSERT(e->lat_e7 >= -900000000 && e->lat_e7 <= 900000000, "lat %lld",
                    (long long)e->lat_e7);
        FUZZ_ASSERT(e->lon_e7 >= -1800000000 && e->lon_e7 <= 1800000000, "lon %lld",
                    (long long)e->lon_e7);
    }
    for (size_t k = 0; k < e->n_alerts; k++) {
        const wp_alert_draft *a = &e->alerts[k];
        FUZZ_ASSERT(a->kind && *a->kind, "alert without a kind");
        if (a->matched) {
            size_t n = strlen(e->text);
            FUZZ_ASSERT(a->start >= 0 && a->start < a->end && (size_t)a->end <= n,
                        "match %lld..%lld in %zu bytes", (long long)a->start, (long long)a->end, n);
            FUZZ_ASSERT(a->matched == e->text + a->start, "matched is not the text's slice");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!body)
        return 0;
    wp_ingest_batch b;
    int rc = wp_ingest__validate(&b, body, &bounds);
    json_t *events = json_is_object(body) ? json_object_get(body, "events") : NULL;
    if (json_is_array(events) && json_array_size(events) <= WP_INGEST_MAX_EVENTS) {
        FUZZ_ASSERT(rc == 0, "a well-shaped body failed: %d %s", rc, wp_error_last());
        FUZZ_ASSERT(b.b.n == json_array_size(events), "%zu events of %zu", b.b.n,
                    json_array_size(events));
    } else {
        FUZZ_ASSERT(rc == WP_EINVAL, "a bad body gave %d", rc);
    }
    if (rc == 0) {
        rc = wp_ingest__alerts(&b, scanner(), 500000);
        FUZZ_ASSERT(rc == 0, "alerts: %d %s", rc, wp_error_last());
        int64_t last = 0, hi = 0;
        for (size_t i = 0; i < b.b.n; i++)
            check_event(&b.b.events[i], &b.x[i], &last, &hi);
    }
    wp_ingest__batch_release(&b);
    json_decref(body);
    return 0;
}
