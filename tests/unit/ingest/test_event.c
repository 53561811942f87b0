/* SPDX-License-Identifier: MIT */
/* Event validation (CONTRACT §4): every type and msgtype, and every way an event is bad. */
#include "store/events.h"
#include "store/store.h"
#include "test_ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_int.h"
#include "util/error.h"

json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v)
        fail_msg("bad test json (%s): %s", e.text, text);
    return v;
}

/* The server's clock at TS below (2026-11-22T02:00:00Z), a device that acked nothing yet. */
static const wp_ingest_bounds BOUNDS = {1795312800000000LL, 0};

/* Validate one event given as JSON text into b (alive until done()); returns its event. */
static const wp_event *one(wp_ingest_batch *b, json_t **body, const char *event)
{
    char text[70000];
    snprintf(text, sizeof text, "{\"events\": [%s]}", event);
    *body = J(text);
    OK(wp_ingest__validate(b, *body, &BOUNDS));
    assert_int_equal(b->b.n, 1);
    return &b->b.events[0];
}

static void done(wp_ingest_batch *b, json_t *body)
{
    wp_ingest__batch_release(b);
    json_decref(body);
}

/* The event is accepted with this type. */
static void ok_event(const char *event, enum wp_event_type type)
{
    wp_ingest_batch b;
    json_t *body;
    const wp_event *e = one(&b, &body, event);
    if (e->type != type)
        fail_msg("%s: type %d, reason %s", event, (int)e->type, e->reason ? e->reason : "-");
    assert_non_null(e->raw);
    done(&b, body);
}

/* The event is rejected, with a reason containing why. */
static void bad_event(const char *event, const char *why)
{
    wp_ingest_batch b;
    json_t *body;
    const wp_event *e = one(&b, &body, event);
    if (e->type != WP_EVENT_REJECTED)
        fail_msg("accepted: %s", event);
    if (!strstr(e->reason, why))
        fail_msg("%s: reason '%s' lacks '%s'", event, e->reason, why);
    assert_non_null(e->raw);
    done(&b, body);
}

#define TS "\"ts\": \"2026-11-22T10:00:00+08:00\""
#define MSG                                                                                        \
    "\"seq\": 1, \"type\": \"message\", " TS                                                       \
    ", \"channel\": \"wechat\", \"direction\": \"out\", \"peer\": {\"id\": \"wxid_k2\"}, "

static void test_ingest_event__every_type(void **state)
{
    wp_ingest_batch b;
    json_t *body;
    const wp_event *e =
        one(&b, &body,
            "{\"seq\": 7, \"type\": \"message\", \"ts\": \"2026-11-22T10:00:00+08:00\","
            " \"channel\": \"wechat\", \"direction\": \"out\", \"peer\": {\"id\":"
            " \"wxid_k2\", \"name\": \"王女士\", \"phone\": \"+86 138-0013-8000\"},"
            " \"chat\": \"wxid_k2\", \"msgtype\": \"text\", \"text\": \"你好\","
            " \"extra\": [1, 2]}");
    assert_int_equal(e->type, WP_EVENT_MESSAGE);
    assert_int_equal(e->seq, 7);
    assert_int_equal(e->ts_us, 1795312800000000LL);
    assert_string_equal(e->channel, "wechat");
    assert_int_equal(e->direction, WP_DIR_OUT);
    assert_string_equal(e->peer.id, "wxid_k2");
    assert_string_equal(e->peer.name, "王女士");
    assert_string_equal(e->peer.phone, "13800138000");
    assert_string_equal(e->chat, "wxid_k2");
    assert_string_equal(e->text, "你好");
    assert_non_null(strstr(e->raw, "\"extra\":[1,2]")); /* kept raw, unknown fields too */
    assert_string_equal(b.x[0].ts_text, "2026-11-22T10:00:00+08:00");
    done(&b, body);

    const char *h = "\"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"";
    char ev[1024];
    const char *media_types[] = {"image", "voice", "video", "file"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(ev, sizeof ev,
                 "{" MSG "\"msgtype\": \"%s\", \"media\": %s, \"filename\": \"a.pdf\","
                 " \"size\": 1234}",
                 media_types[i], h);
        ok_event(ev, WP_EVENT_MESSAGE);
    }
    ok_event("{" MSG "\"msgtype\": \"image\"}", WP_EVENT_MESSAGE); /* media not uploaded yet */
    ok_event("{" MSG "\"msgtype\": \"link\", \"url\": \"https://example.com/a\", \"title\": \"A\"}",
             WP_EVENT_MESSAGE);
    ok_event("{" MSG "\"msgtype\": \"card\", \"card\": {\"name\": \"x\"}}", WP_EVENT_MESSAGE);
    ok_event("{" MSG "\"msgtype\": \"location\", \"lat\": 1, \"lon\": 2}", WP_EVENT_MESSAGE);
    ok_event("{" MSG "\"msgtype\": \"redpacket\", \"amount_fen\": 20000, \"memo\": \"恭喜\"}",
             WP_EVENT_MESSAGE);
    ok_event("{" MSG "\"msgtype\": \"transfer\", \"amount_fen\": 0}", WP_EVENT_MESSAGE);
    ok_event("{" MSG "\"msgtype\": \"revoke\", \"revoked_seq\": 3}", WP_EVENT_MESSAGE);
    ok_event("{" MSG "\"msgtype\": \"revoke\", \"revoked_msgid\": \"m1\"}", WP_EVENT_MESSAGE);
    ok_event("{" MSG "\"msgtype\": \"miniprogram\", \"whatever\": true}", WP_EVENT_MESSAGE);
    ok_event("{" MSG "\"msgtype\": \"text\", \"text\": \"\"}", WP_EVENT_MESSAGE);
    ok_event("{\"seq\": 1, \"type\": \"message\", " TS ", \"channel\": \"wecom\", \"direction\":"
             " \"in\", \"chat\": \"g1\", \"group\": {\"id\": \"g1\", \"name\": \"VIP\"}, \"peer\":"
             " {\"id\": \"u1\"}, \"msgtype\": \"text\", \"text\": \"hi\"}",
             WP_EVENT_MESSAGE);
    ok_event("{\"seq\": 1, \"type\": \"message\", " TS ", \"channel\": \"sms\", \"direction\":"
             " \"in\", \"peer\": {\"id\": \"10086\"}, \"msgtype\": \"text\", \"text\": \"hi\"}",
             WP_EVENT_MESSAGE);

    e = one(&b, &body,
            "{\"seq\": 2, \"type\": \"call\", " TS ", \"direction\": \"in\", \"peer\":"
            " {\"phone\": \"13900139000\"}, \"duration_s\": 63, \"recording\":"
            " \"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}");
    assert_int_equal(e->type, WP_EVENT_CALL);
    assert_string_equal(e->channel, "phone");
    assert_int_equal(e->duration_s, 63);
    assert_string_equal(e->peer.phone, "13900139000");
    assert_non_null(e->recording);
    done(&b, body);

    const char *actions[] = {"added", "deleted", "blocked", "unblocked", "renamed"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(ev, sizeof ev,
                 "{\"seq\": 3, \"type\": \"contact\", " TS ", \"channel\": \"wechat\","
                 " \"action\": \"%s\", \"peer\": {\"id\": \"wxid_k2\"}}",
                 actions[i]);
        ok_event(ev, WP_EVENT_CONTACT);
    }

    e = one(&b, &body,
            "{\"seq\": 4, \"type\": \"location\", " TS ", \"lat\": 31.23, \"lon\": 121.47,"
            " \"accuracy_m\": 12.5}");
    assert_int_equal(e->type, WP_EVENT_LOCATION);
    assert_int_equal(e->lat_e7, 312300000);
    assert_int_equal(e->lon_e7, 1214700000);
    assert_int_equal(e->accuracy_cm, 1250);
    done(&b, body);
    ok_event("{\"seq\": 4, \"type\": \"location\", " TS ", \"lat\": -90, \"lon\": 180}",
             WP_EVENT_LOCATION);
}

static void test_ingest_event__bad_events(void **state)
{
    char ev[80000];
    bad_event("42", "not an object");
    bad_event("{\"type\": \"message\"}", "seq is missing");
    bad_event("{\"seq\": 0, \"type\": \"message\"}", "seq is missing or not a positive");
    bad_event("{\"seq\": -3, \"type\": \"message\"}", "not a positive integer");
    bad_event("{\"seq\": \"1\", \"type\": \"message\"}", "not a positive integer");
    bad_event("{\"seq\": 1.5, \"type\": \"message\"}", "not a positive integer");
    bad_event("{\"seq\": 1, " TS "}", "type is missing");
    bad_event("{\"seq\": 1, \"type\": \"sms\", " TS "}", "unknown type 'sms'");
    bad_event("{\"seq\": 1, \"type\": 5, " TS "}", "type is not a string");
    bad_event("{\"seq\": 1, \"type\": \"location\", \"lat\": 1, \"lon\": 1}", "ts is missing");
    bad_event("{\"seq\": 1, \"type\": \"location\", \"ts\": \"yesterday\", \"lat\": 1, \"lon\": 1}",
              "not an rfc 3339 time");
    bad_event("{\"seq\": 1, \"type\": \"message\", " TS ", \"direction\": \"out\","
              " \"msgtype\": \"text\", \"text\": \"x\"}",
              "channel is missing");
    bad_event("{\"seq\": 1, \"type\": \"message\", " TS
              ", \"channel\": \"\", \"direction\": \"out\","
              " \"msgtype\": \"text\", \"text\": \"x\"}",
              "channel is empty");
    bad_event("{" MSG "\"direction\": \"sideways\", \"msgtype\": \"text\", \"text\": \"x\"}",
              "direction must be");
    bad_event("{\"seq\": 1, \"type\": \"message\", " TS ", \"channel\": \"wechat\","
              " \"msgtype\": \"text\", \"text\": \"x\"}",
              "direction is missing");
    bad_event("{" MSG "\"text\": \"x\"}", "msgtype is missing");
    bad_event("{" MSG "\"msgtype\": \"text\"}", "a text message has no text");
    bad_event("{" MSG "\"msgtype\": \"text\", \"text\": 5}", "text is not a string");
    bad_event("{" MSG "\"msgtype\": \"text\", \"text\": \"a\\u0000b\"}", "nul character");
    /* 64 KiB of text is fine, one byte more is not */
    size_t k = (size_t)snprintf(ev, sizeof ev, "{" MSG "\"msgtype\": \"text\", \"text\": \"");
    memset(ev + k, 'a', WP_ARCHIVE_TEXT_MAX);
    snprintf(ev + k + WP_ARCHIVE_TEXT_MAX, sizeof ev - k - WP_ARCHIVE_TEXT_MAX, "\"}");
    ok_event(ev, WP_EVENT_MESSAGE);
    memset(ev + k, 'a', WP_ARCHIVE_TEXT_MAX + 1);
    snprintf(ev + k + WP_ARCHIVE_TEXT_MAX + 1, sizeof ev - k - WP_ARCHIVE_TEXT_MAX - 1, "\"}");
    bad_event(ev, "text is longer than 65536 bytes");
    /* 256 bytes per id or name */
    k = (size_t)snprintf(ev, sizeof ev,
                         "{" MSG "\"msgtype\": \"text\", \"text\": \"x\", \"chat\": \"");
    memset(ev + k, 'c', 257);
    snprintf(ev + k + 257, sizeof ev - k - 257, "\"}");
    bad_event(ev, "chat is longer than 256 bytes");
    k = (size_t)snprintf(ev, sizeof ev,
                         "{\"seq\": 1, \"type\": \"message\", " TS ", \"channel\": \"wechat\","
                         " \"direction\": \"in\", \"msgtype\": \"text\", \"text\": \"x\","
                         " \"peer\": {\"name\": \"");
    memset(ev + k, 'n', 257);
    snprintf(ev + k + 257, sizeof ev - k - 257, "\"}}");
    bad_event(ev, "peer.name is longer than 256 bytes");
    bad_event("{" MSG "\"msgtype\": \"file\", \"filename\": \"a.pdf\"}", "no media");
    bad_event("{" MSG "\"msgtype\": \"file\", \"media\": \"sha256:ABC\"}", "64 lowercase hex");
    bad_event("{" MSG
              "\"msgtype\": \"image\", \"media\": \"md5:9f86d081884c7d659a2feaa0c55ad015a3bf"
              "4f1b2b0b822cd15d6c15b0f00a08\"}",
              "64 lowercase hex");
    bad_event("{" MSG
              "\"msgtype\": \"file\", \"media\": \"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf"
              "4f1b2b0b822cd15d6c15b0f00a08\", \"size\": -1}",
              "size must be an integer");
    bad_event("{" MSG "\"msgtype\": \"link\", \"title\": \"t\"}", "no url");
    bad_event("{" MSG "\"msgtype\": \"redpacket\"}", "a redpacket has no amount_fen");
    bad_event("{" MSG "\"msgtype\": \"transfer\", \"amount_fen\": -5}", "amount_fen must be");
    bad_event("{" MSG "\"msgtype\": \"transfer\", \"amount_fen\": 1.5}", "amount_fen must be");
    bad_event("{" MSG "\"msgtype\": \"revoke\"}", "neither revoked_seq nor revoked_msgid");
    bad_event("{" MSG "\"msgtype\": \"revoke\", \"revoked_seq\": 0}", "revoked_seq must be");
    bad_event("{" MSG "\"msgtype\": \"text\", \"text\": \"x\", \"group\": \"g1\"}",
              "group is not an object");
    bad_event("{" MSG "\"msgtype\": \"text\", \"text\": \"x\", \"group\": {\"name\": \"n\"}}",
              "group.id is missing");
    bad_event("{\"seq\": 1, \"type\": \"message\", " TS ", \"channel\": \"wechat\", \"direction\":"
              " \"out\", \"peer\": \"wxid\", \"msgtype\": \"text\", \"text\": \"x\"}",
              "peer is not an object");
    bad_event(
        "{\"seq\": 1, \"type\": \"message\", " TS ", \"channel\": \"wechat\", \"direction\":"
        " \"out\", \"peer\": {\"phone\": \"call me\"}, \"msgtype\": \"text\", \"text\": \"x\"}",
        "is not a phone number");
    bad_event("{\"seq\": 2, \"type\": \"call\", " TS ", \"direction\": \"in\"}", "peer is missing");
    bad_event("{\"seq\": 2, \"type\": \"call\", " TS ", \"direction\": \"in\", \"peer\":"
              " {\"name\": \"x\"}}",
              "neither id nor phone");
    bad_event("{\"seq\": 2, \"type\": \"call\", " TS ", \"direction\": \"in\", \"peer\":"
              " {\"phone\": \"13900139000\"}, \"duration_s\": -1}",
              "duration_s must be");
    bad_event("{\"seq\": 2, \"type\": \"call\", " TS ", \"direction\": \"in\", \"peer\":"
              " {\"phone\": \"13900139000\"}, \"recording\": \"x\"}",
              "recording must be");
    bad_event("{\"seq\": 3, \"type\": \"contact\", " TS ", \"channel\": \"wechat\", \"action\":"
              " \"liked\", \"peer\": {\"id\": \"w\"}}",
              "action must be");
    bad_event("{\"seq\": 3, \"type\": \"contact\", " TS ", \"channel\": \"wechat\", \"peer\":"
              " {\"id\": \"w\"}}",
              "action is missing");
    bad_event("{\"seq\": 3, \"type\": \"contact\", " TS ", \"channel\": \"wechat\", \"action\":"
              " \"added\"}",
              "peer is missing");
    bad_event("{\"seq\": 4, \"type\": \"location\", " TS ", \"lat\": 91, \"lon\": 0}",
              "lat must be from -90 to 90");
    bad_event("{\"seq\": 4, \"type\": \"location\", " TS ", \"lat\": 1}", "lon is missing");
    bad_event("{\"seq\": 4, \"type\": \"location\", " TS ", \"lat\": \"1\", \"lon\": 1}",
              "lat is missing or not a number");
    bad_event("{\"seq\": 4, \"type\": \"location\", " TS ", \"lat\": 1, \"lon\": 1, \"accuracy_m\":"
              " -2}",
              "accuracy_m must be");
}

/* Seqs must increase within a batch; an invalid event keeps its seq (it still moves
 * acked_seq), the reply's seq is null when there was none. */
static void test_ingest_event__seq_order(void **state)
{
    wp_ingest_batch b;
    json_t *body = J("{\"events\": ["
                     "{\"seq\": 5, \"type\": \"location\", " TS ", \"lat\": 1, \"lon\": 1},"
                     "{\"seq\": 3, \"type\": \"location\", " TS ", \"lat\": 1, \"lon\": 1},"
                     "{\"seq\": 6, \"type\": \"location\", " TS ", \"lat\": 100, \"lon\": 1},"
                     "{\"seq\": 6, \"type\": \"location\", " TS ", \"lat\": 1, \"lon\": 1},"
                     "{\"type\": \"location\", " TS ", \"lat\": 1, \"lon\": 1},"
                     "{\"seq\": 9, \"type\": \"location\", " TS ", \"lat\": 1, \"lon\": 1}]}");
    OK(wp_ingest__validate(&b, body, &BOUNDS));
    assert_int_equal(b.b.n, 6);
    assert_int_equal(b.b.events[0].type, WP_EVENT_LOCATION);
    assert_int_equal(b.b.events[1].type, WP_EVENT_REJECTED);
    assert_string_equal(b.b.events[1].reason, "seq 3 is not greater than 5 before it");
    assert_int_equal(b.b.events[1].seq, 3);
    assert_int_equal(b.b.events[2].type, WP_EVENT_REJECTED);
    assert_int_equal(b.b.events[2].seq, 6);
    assert_int_equal(b.b.events[3].type, WP_EVENT_REJECTED);
    assert_string_equal(b.b.events[3].reason, "seq 6 is not greater than 6 before it");
    assert_int_equal(b.b.events[4].type, WP_EVENT_REJECTED);
    assert_int_equal(b.b.events[4].seq, 0);
    assert_null(b.x[4].seq_json);
    assert_int_equal(b.b.events[5].type, WP_EVENT_LOCATION);
    done(&b, body);
}

/* ts must lie within 180 days before and 24 hours after the server's time (edges included);
 * seq within 1..2^53 - 1 and at most 10^9 past the highest seq before it. A refused seq is
 * not kept (0: it cannot move acked_seq), and the events after it are judged without it. */
static void test_ingest_event__windows(void **state)
{
    wp_ingest_batch b;
    const char *window = "is outside the accepted window, 180 days before to 24 hours after the"
                         " server's time 2026-11-22T02:00:00Z";
    char want[256];
#define LOC(seq, ts)                                                                               \
    "{\"seq\": " seq ", \"type\": \"location\", \"ts\": \"" ts "\", \"lat\": 1, \"lon\": 1}"
    /* clang-format off */
    json_t *body = J("{\"events\": ["
                     LOC("1", "2026-05-26T02:00:00Z") ","
                     LOC("2", "2026-05-26T01:59:59.999999Z") ","
                     LOC("3", "2026-11-23T10:00:00+08:00") ","
                     LOC("4", "2026-11-23T02:00:00.000001Z") ","
                     LOC("5", "9999-12-31T23:59:59Z") ","
                     LOC("6", "1970-01-01T00:00:00Z") ","
                     LOC("9223372036854775807", "2026-11-22T10:00:00+08:00") ","
                     LOC("9007199254740992", "2026-11-22T10:00:00+08:00") ","
                     LOC("1000000007", "2026-11-22T10:00:00+08:00") ","
                     LOC("1000000006", "2026-11-22T10:00:00+08:00") ","
                     LOC("9007199254740991", "2026-11-22T10:00:00+08:00") "]}");
    /* clang-format on */
    OK(wp_ingest__validate(&b, body, &BOUNDS));
    const wp_event *e = b.b.events;
    assert_int_equal(e[0].type, WP_EVENT_LOCATION); /* exactly 180 days before */
    assert_int_equal(e[1].type, WP_EVENT_REJECTED);
    snprintf(want, sizeof want, "ts_out_of_range: ts '2026-05-26T01:59:59.999999Z' %s", window);
    assert_string_equal(e[1].reason, want);
    assert_int_equal(e[1].seq, 2); /* a bad time keeps its seq: handled, it moves acked_seq */
    assert_int_equal(e[2].type, WP_EVENT_LOCATION); /* exactly 24 hours after */
    assert_int_equal(e[3].type, WP_EVENT_REJECTED);
    assert_int_equal(e[4].type, WP_EVENT_REJECTED);
    snprintf(want, sizeof want, "ts_out_of_range: ts '9999-12-31T23:59:59Z' %s", window);
    assert_string_equal(e[4].reason, want);
    assert_int_equal(e[5].type, WP_EVENT_REJECTED);
    assert_int_equal(e[5].seq, 6);
    assert_int_equal(e[6].type, WP_EVENT_REJECTED);
    assert_string_equal(e[6].reason, "seq_out_of_range: seq 9223372036854775807 is greater than"
                                     " 9007199254740991 (2^53 - 1)");
    assert_int_equal(e[6].seq, 0); /* quarantined without a seq */
    assert_int_equal(json_integer_value(b.x[6].seq_json), INT64_MAX); /* the reply shows it */
    assert_int_equal(e[7].type, WP_EVENT_REJECTED);
    assert_int_equal(e[7].seq, 0);
    assert_int_equal(e[8].type, WP_EVENT_REJECTED);
    assert_string_equal(e[8].reason, "seq_too_far_ahead: seq 1000000007 is more than 1000000000"
                                     " past 6, the highest seq before it");
    assert_int_equal(e[8].seq, 0);
    assert_int_equal(e[9].type, WP_EVENT_LOCATION); /* exactly 10^9 past 6 */
    assert_int_equal(e[9].seq, 1000000006);
    assert_int_equal(e[10].type, WP_EVENT_REJECTED);
    assert_int_equal(e[10].seq, 0);
    done(&b, body);

    /* the device's acked_seq counts as a seq before the batch */
    wp_ingest_bounds acked = {BOUNDS.now_us, 5000000000LL};
    body = J("{\"events\": [" LOC("6000000000", "2026-11-22T10:00:00+08:00") ","
             LOC("6000000001", "2026-11-22T10:00:00+08:00") "]}");
    OK(wp_ingest__validate(&b, body, &acked));
    assert_int_equal(b.b.events[0].type, WP_EVENT_LOCATION);
    assert_int_equal(b.b.events[1].type, WP_EVENT_LOCATION);
    wp_ingest__batch_release(&b);
    acked.acked_seq = 4999999999LL;
    OK(wp_ingest__validate(&b, body, &acked));
    assert_int_equal(b.b.events[0].type, WP_EVENT_REJECTED);
    assert_string_equal(b.b.events[0].reason, "seq_too_far_ahead: seq 6000000000 is more than"
                                              " 1000000000 past 4999999999, the highest seq"
                                              " before it");
    assert_int_equal(b.b.events[1].type, WP_EVENT_REJECTED);
    wp_ingest__batch_release(&b);
    /* without bounds (the simulator's self-check): no window, only the range */
    OK(wp_ingest__validate(&b, body, NULL));
    assert_int_equal(b.b.events[0].type, WP_EVENT_LOCATION);
    done(&b, body);
#undef LOC
}

static void test_ingest_event__bad_bodies(void **state)
{
    wp_ingest_batch b;
    json_t *body = J("[1]");
    assert_int_equal(wp_ingest__validate(&b, body, &BOUNDS), WP_EINVAL);
    assert_string_equal(wp_error_last(), "body is not a json object");
    done(&b, body);
    body = J("{}");
    assert_int_equal(wp_ingest__validate(&b, body, &BOUNDS), WP_EINVAL);
    assert_string_equal(wp_error_last(), "body has no \"events\"");
    done(&b, body);
    body = J("{\"events\": {}}");
    assert_int_equal(wp_ingest__validate(&b, body, &BOUNDS), WP_EINVAL);
    assert_string_equal(wp_error_last(), "\"events\" is not an array");
    done(&b, body);
    body = J("{\"events\": []}");
    OK(wp_ingest__validate(&b, body, &BOUNDS));
    assert_int_equal(b.b.n, 0);
    done(&b, body);
    body = json_pack("{s:[]}", "events");
    json_t *arr = json_object_get(body, "events");
    for (int i = 0; i < WP_INGEST_MAX_EVENTS; i++)
        json_array_append_new(arr, json_integer(i));
    OK(wp_ingest__validate(&b, body, &BOUNDS));
    assert_int_equal(b.b.n, WP_INGEST_MAX_EVENTS);
    wp_ingest__batch_release(&b);
    json_array_append_new(arr, json_integer(0));
    assert_int_equal(wp_ingest__validate(&b, body, &BOUNDS), WP_EINVAL);
    assert_string_equal(wp_error_last(), "a batch holds at most 1000 events, not 1001");
    done(&b, body);
}

static void test_ingest_event__phone(void **state)
{
    char out[WP_ARCHIVE_PHONE_MAX + 1];
    OK(wp_ingest__phone(out, "13800138000"));
    assert_string_equal(out, "13800138000");
    OK(wp_ingest__phone(out, "+86 138 0013 8000"));
    assert_string_equal(out, "13800138000");
    OK(wp_ingest__phone(out, "0086-138-0013-8000"));
    assert_string_equal(out, "13800138000");
    OK(wp_ingest__phone(out, "(021) 6234.5678"));
    assert_string_equal(out, "02162345678");
    OK(wp_ingest__phone(out, "+1 415 555 0100"));
    assert_string_equal(out, "+14155550100");
    OK(wp_ingest__phone(out, "10086"));
    assert_string_equal(out, "10086");
    assert_int_equal(wp_ingest__phone(out, "12"), WP_EINVAL);
    assert_int_equal(wp_ingest__phone(out, "1380013800a"), WP_EINVAL);
    assert_int_equal(wp_ingest__phone(out, "1+2345"), WP_EINVAL);
    assert_int_equal(wp_ingest__phone(out, "123456789012345678901"), WP_EINVAL);
}

/* Alerts: one per distinct alerting pattern, none for mask-only personal data, money at the
 * threshold and above, contacts deleted or blocked. */
static void test_ingest_event__alerts(void **state)
{
    wp_scanner *s = NULL;
    const char *lex = "飞单\tprivate_deal\tblock\n私单\tprivate_deal\talert\n";
    OK(wp_scan_compile(&s, lex, strlen(lex), NULL));
    wp_ingest_batch b;
    json_t *body =
        J("{\"events\": ["
          "{" MSG "\"seq\": 1, \"msgtype\": \"text\", \"text\": \"飞单飞单 私单 13800138000\"},"
          "{" MSG "\"seq\": 2, \"msgtype\": \"text\", \"text\": \"手机 13800138000\"},"
          "{" MSG "\"seq\": 3, \"msgtype\": \"redpacket\", \"amount_fen\": 500000},"
          "{" MSG "\"seq\": 4, \"msgtype\": \"transfer\", \"amount_fen\": 499999},"
          "{" MSG "\"seq\": 5, \"msgtype\": \"text\", \"text\": \"x\", \"amount_fen\": 900000},"
          "{\"seq\": 6, \"type\": \"contact\", " TS
          ", \"channel\": \"wechat\", \"action\": \"deleted\","
          " \"peer\": {\"id\": \"w\"}},"
          "{\"seq\": 7, \"type\": \"contact\", " TS
          ", \"channel\": \"wechat\", \"action\": \"blocked\","
          " \"peer\": {\"id\": \"w\"}},"
          "{\"seq\": 8, \"type\": \"contact\", " TS
          ", \"channel\": \"wechat\", \"action\": \"added\","
          " \"peer\": {\"id\": \"w\"}}]}");
    OK(wp_ingest__validate(&b, body, &BOUNDS));
    OK(wp_ingest__alerts(&b, s, 500000));
    wp_event *e = b.b.events;
    assert_int_equal(e[0].n_alerts, 2);
    assert_string_equal(e[0].alerts[0].pattern, "飞单");
    assert_string_equal(e[0].alerts[0].action, "block");
    assert_int_equal(e[0].alerts[0].start, 0);
    assert_int_equal(e[0].alerts[0].matched_len, 6);
    assert_string_equal(e[0].alerts[1].pattern, "私单");
    assert_string_equal(e[0].alerts[1].action, "alert");
    assert_string_equal(e[0].alerts[1].kind, "sensitive_word");
    assert_int_equal(e[1].n_alerts, 0); /* a phone number is masked, not alerted */
    assert_int_equal(e[2].n_alerts, 1);
    assert_string_equal(e[2].alerts[0].kind, "money");
    assert_string_equal(e[2].alerts[0].category, "redpacket");
    assert_int_equal(e[3].n_alerts, 0);
    assert_int_equal(e[4].n_alerts, 0);
    assert_int_equal(e[5].n_alerts, 1);
    assert_string_equal(e[5].alerts[0].kind, "customer_deleted");
    assert_string_equal(e[6].alerts[0].kind, "customer_blocked");
    assert_int_equal(e[7].n_alerts, 0);
    done(&b, body);
    wp_scanner_unref(s);
}

const struct CMUnitTest event_tests[] = {
    cmocka_unit_test(test_ingest_event__every_type),
    cmocka_unit_test(test_ingest_event__bad_events),
    cmocka_unit_test(test_ingest_event__seq_order),
    cmocka_unit_test(test_ingest_event__windows),
    cmocka_unit_test(test_ingest_event__bad_bodies),
    cmocka_unit_test(test_ingest_event__phone),
    cmocka_unit_test(test_ingest_event__alerts),
};
const size_t event_tests_n = sizeof event_tests / sizeof *event_tests;
