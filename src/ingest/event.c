/* SPDX-License-Identifier: MIT */
/* Event validation (CONTRACT §4): a request body into the store's wp_event structs. An event
 * that fails is not an error: it becomes WP_EVENT_REJECTED with a reason and is quarantined. */
#include "ingest/ingest_int.h"
#include "store/events.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/utf8.h"
#include "util/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_MAX WP_ARCHIVE_FIELD_MAX /* ids and names */
#define URL_MAX 4096
#define TITLE_MAX 1024
#define MEMO_MAX 1024
#define AMOUNT_MAX 100000000000000LL /* fen: a trillion yuan, far past any real transfer */
#define SIZE_MAX_BYTES (1LL << 50)
#define DURATION_MAX (1LL << 31)

/* Record why an event is rejected; returns -1 so checks can `return bad(...)`. */
__attribute__((format(printf, 2, 3))) static int bad(struct wp_ingest_extra *x, const char *fmt,
                                                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->reason, sizeof x->reason, fmt, ap);
    va_end(ap);
    return -1;
}

/* An optional string member: absent or null → NULL; otherwise a string of 0..max bytes (1..max
 * when nonempty is set) without NUL. */
static int opt_str(struct wp_ingest_extra *x, const json_t *obj, const char *key, const char *label,
                   size_t max, int nonempty, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(x, "%s is not a string", label);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (strlen(s) != len)
        return bad(x, "%s contains a nul character", label);
    if (!wp_utf8_valid(s, len)) /* jansson checks this when parsing; a built value may not be */
        return bad(x, "%s is not valid utf-8", label);
    if (len > max)
        return bad(x, "%s is longer than %zu bytes", label, max);
    if (nonempty && len == 0)
        return bad(x, "%s is empty", label);
    *out = s;
    return 0;
}

static int req_str(struct wp_ingest_extra *x, const json_t *obj, const char *key, const char *label,
                   size_t max, const char **out)
{
    if (opt_str(x, obj, key, label, max, 1, out) < 0)
        return -1;
    if (!*out)
        return bad(x, "%s is missing", label);
    return 0;
}

/* An optional integer in [0, max]; absent → -1. */
static int opt_uint(struct wp_ingest_extra *x, const json_t *obj, const char *key, long long max,
                    int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    *out = -1;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return bad(x, "%s must be an integer from 0 to %lld", key, max);
    *out = json_integer_value(v);
    return 0;
}

/* "sha256:" and 64 lowercase hex digits. */
static int media_ref(struct wp_ingest_extra *x, const json_t *obj, const char *key,
                     const char **out)
{
    if (opt_str(x, obj, key, key, 80, 1, out) < 0)
        return -1;
    const char *s = *out;
    if (!s)
        return 0;
    int ok = strlen(s) == 71 && strncmp(s, "sha256:", 7) == 0;
    for (size_t i = 7; ok && i < 71; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    return ok ? 0 : bad(x, "%s must be \"sha256:\" and 64 lowercase hex digits", key);
}

int wp_ingest__phone(char out[WP_ARCHIVE_PHONE_MAX + 1], const char *in)
{
    char d[WP_ARCHIVE_PHONE_MAX + 1];
    size_t n = 0;
    int plus = 0;
    for (const char *p = in; *p; p++) {
        if (*p == '+' && n == 0 && !plus)
            plus = 1;
        else if (*p >= '0' && *p <= '9') {
            if (n >= 20)
                return wp_error_set(WP_EINVAL, "phone number is too long");
            d[n++] = *p;
        } else if (!strchr(" -.()", *p))
            return wp_error_set(WP_EINVAL, "phone number has a character that is not a digit");
    }
    d[n] = '\0';
    if (n < 3)
        return wp_error_set(WP_EINVAL, "phone number is too short");
    /* The same mainland mobile arrives as 13800138000, +86 138..., 0086 138...: keep one form. */
    const char *keep = d;
    if (plus && n == 13 && strncmp(d, "86", 2) == 0 && d[2] == '1')
        keep = d + 2, plus = 0;
    else if (!plus && n == 15 && strncmp(d, "0086", 4) == 0 && d[4] == '1')
        keep = d + 4;
    snprintf(out, WP_ARCHIVE_PHONE_MAX + 1, "%s%s", plus ? "+" : "", keep);
    return 0;
}

int wp_ingest_phone_normalize(char out[WP_ARCHIVE_PHONE_MAX + 1], const char *in)
{
    return wp_ingest__phone(out, in);
}

static int parse_peer(struct wp_ingest_extra *x, wp_event *e, const json_t *ev, int required)
{
    json_t *p = json_object_get(ev, "peer");
    if (!p || json_is_null(p))
        return required ? bad(x, "peer is missing") : 0;
    if (!json_is_object(p))
        return bad(x, "peer is not an object");
    const char *phone = NULL;
    if (opt_str(x, p, "id", "peer.id", FIELD_MAX, 1, &e->peer.id) < 0 ||
        opt_str(x, p, "name", "peer.name", FIELD_MAX, 1, &e->peer.name) < 0 ||
        opt_str(x, p, "phone", "peer.phone", FIELD_MAX, 1, &phone) < 0)
        return -1;
    /* On phone and SMS channels the peer's id is its number. */
    if (!phone && e->peer.id && e->channel &&
        (strcmp(e->channel, "phone") == 0 || strcmp(e->channel, "sms") == 0))
        phone = e->peer.id;
    if (phone) {
        if (wp_ingest__phone(x->phone, phone) < 0)
            return bad(x, "peer.phone '%.40s' is not a phone number", phone);
        e->peer.phone = x->phone;
    }
    if (required && !e->peer.id && !e->peer.phone)
        return bad(x, "peer has neither id nor phone");
    return 0;
}

static int parse_direction(struct wp_ingest_extra *x, wp_event *e, const json_t *ev)
{
    const char *d = NULL;
    if (req_str(x, ev, "direction", "direction", FIELD_MAX, &d) < 0)
        return -1;
    if (strcmp(d, "in") == 0)
        e->direction = WP_DIR_IN;
    else if (strcmp(d, "out") == 0)
        e->direction = WP_DIR_OUT;
    else
        return bad(x, "direction must be \"in\" or \"out\"");
    return 0;
}

static int parse_message(struct wp_ingest_extra *x, wp_event *e, const json_t *ev)
{
    if (req_str(x, ev, "channel", "channel", FIELD_MAX, &e->channel) < 0 ||
        parse_direction(x, e, ev) < 0 || parse_peer(x, e, ev, 0) < 0 ||
        opt_str(x, ev, "chat", "chat", FIELD_MAX, 1, &e->chat) < 0 ||
        req_str(x, ev, "msgtype", "msgtype", FIELD_MAX, &e->msgtype) < 0 ||
        opt_str(x, ev, "msgid", "msgid", FIELD_MAX, 1, &e->msgid) < 0 ||
        opt_str(x, ev, "text", "text", WP_ARCHIVE_TEXT_MAX, 0, &e->text) < 0 ||
        media_ref(x, ev, "media", &e->media) < 0 ||
        opt_str(x, ev, "filename", "filename", FIELD_MAX, 1, &e->filename) < 0 ||
        opt_uint(x, ev, "size", SIZE_MAX_BYTES, &e->size) < 0 ||
        opt_str(x, ev, "url", "url", URL_MAX, 1, &e->url) < 0 ||
        opt_str(x, ev, "title", "title", TITLE_MAX, 0, &e->title) < 0 ||
        opt_uint(x, ev, "amount_fen", AMOUNT_MAX, &e->amount_fen) < 0 ||
        opt_str(x, ev, "memo", "memo", MEMO_MAX, 0, &e->memo) < 0)
        return -1;
    json_t *g = json_object_get(ev, "group");
    if (g && !json_is_null(g)) {
        if (!json_is_object(g))
            return bad(x, "group is not an object");
        if (req_str(x, g, "id", "group.id", FIELD_MAX, &e->group_id) < 0 ||
            opt_str(x, g, "name", "group.name", FIELD_MAX, 1, &e->group_name) < 0)
            return -1;
    }
    const char *t = e->msgtype;
    if (strcmp(t, "text") == 0) {
        if (!e->text)
            return bad(x, "a text message has no text");
    } else if (strcmp(t, "file") == 0) {
        if (!e->media)
            return bad(x, "a file message has no media");
    } else if (strcmp(t, "link") == 0) {
        if (!e->url)
            return bad(x, "a link message has no url");
    } else if (strcmp(t, "redpacket") == 0 || strcmp(t, "transfer") == 0) {
        if (e->amount_fen < 0)
            return bad(x, "a %s has no amount_fen", t);
    } else if (strcmp(t, "revoke") == 0) {
        json_t *rs = json_object_get(ev, "revoked_seq");
        if (rs && !json_is_null(rs)) {
            if (!json_is_integer(rs) || json_integer_value(rs) <= 0)
                return bad(x, "revoked_seq must be a positive integer");
            e->revoked_seq = json_integer_value(rs);
        }
        if (opt_str(x, ev, "revoked_msgid", "revoked_msgid", FIELD_MAX, 1, &e->revoked_msgid) < 0)
            return -1;
        if (!e->revoked_seq && !e->revoked_msgid)
            return bad(x, "a revoke has neither revoked_seq nor revoked_msgid");
    }
    /* image, voice, video, card, location and other words are stored as they come */
    return 0;
}

static int parse_call(struct wp_ingest_extra *x, wp_event *e, const json_t *ev)
{
    if (opt_str(x, ev, "channel", "channel", FIELD_MAX, 1, &e->channel) < 0)
        return -1;
    if (!e->channel)
        e->channel = "phone";
    if (parse_direction(x, e, ev) < 0 || parse_peer(x, e, ev, 1) < 0 ||
        opt_uint(x, ev, "duration_s", DURATION_MAX, &e->duration_s) < 0 ||
        media_ref(x, ev, "recording", &e->recording) < 0)
        return -1;
    return 0;
}

static int parse_contact(struct wp_ingest_extra *x, wp_event *e, const json_t *ev)
{
    static const char *const actions[] = {"added", "deleted", "blocked", "unblocked", "renamed"};
    if (req_str(x, ev, "channel", "channel", FIELD_MAX, &e->channel) < 0 ||
        req_str(x, ev, "action", "action", FIELD_MAX, &e->action) < 0 ||
        parse_peer(x, e, ev, 1) < 0)
        return -1;
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
        if (strcmp(e->action, actions[i]) == 0)
            return 0;
    return bad(x, "action must be added, deleted, blocked, unblocked or renamed");
}

static int coord(struct wp_ingest_extra *x, const json_t *ev, const char *key, double lim,
                 int64_t *out)
{
    json_t *v = json_object_get(ev, key);
    if (!v || !json_is_number(v))
        return bad(x, "%s is missing or not a number", key);
    double d = json_number_value(v);
    if (!(d >= -lim && d <= lim))
        return bad(x, "%s must be from %g to %g", key, -lim, lim);
    *out = llround(d * 1e7);
    return 0;
}

static int parse_location(struct wp_ingest_extra *x, wp_event *e, const json_t *ev)
{
    if (coord(x, ev, "lat", 90, &e->lat_e7) < 0 || coord(x, ev, "lon", 180, &e->lon_e7) < 0)
        return -1;
    json_t *a = json_object_get(ev, "accuracy_m");
    if (a && !json_is_null(a)) {
        double d = json_is_number(a) ? json_number_value(a) : -1;
        if (!(d >= 0 && d <= 1e7))
            return bad(x, "accuracy_m must be a number from 0 to 10000000");
        e->accuracy_cm = llround(d * 100);
    }
    return 0;
}

/* Characters of UTF-8 text (the validator checked it): its bytes that do not continue one. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

#define NOTE_CHARS_MAX 1000

/* CONTRACT §4 checkin: kind in|out|visit, coordinates as a location's, photo (a media ref),
 * note, and for a visit optionally the customer as peer (with a channel for a peer id). */
static int parse_checkin(struct wp_ingest_extra *x, wp_event *e, const json_t *ev)
{
    if (req_str(x, ev, "kind", "kind", FIELD_MAX, &e->checkin_kind) < 0)
        return -1;
    if (strcmp(e->checkin_kind, "in") != 0 && strcmp(e->checkin_kind, "out") != 0 &&
        strcmp(e->checkin_kind, "visit") != 0)
        return bad(x, "kind must be \"in\", \"out\" or \"visit\"");
    if (parse_location(x, e, ev) < 0 || media_ref(x, ev, "photo", &e->photo) < 0 ||
        opt_str(x, ev, "note", "note", WP_CHECKIN_NOTE_MAX, 0, &e->note) < 0 ||
        opt_str(x, ev, "channel", "channel", FIELD_MAX, 1, &e->channel) < 0)
        return -1;
    if (e->note && utf8_chars(e->note) > NOTE_CHARS_MAX)
        return bad(x, "note is longer than %d characters", NOTE_CHARS_MAX);
    json_t *p = json_object_get(ev, "peer");
    if (p && !json_is_null(p) && strcmp(e->checkin_kind, "visit") != 0)
        return bad(x, "only a visit names a peer");
    if (parse_peer(x, e, ev, 0) < 0)
        return -1;
    if (e->peer.id && !e->peer.phone && !e->channel)
        return bad(x, "peer.id needs a channel");
    if (!e->peer.id && !e->peer.phone && p && !json_is_null(p))
        return bad(x, "peer has neither id nor phone");
    return 0;
}

/* Fill e from ev; -1 with x->reason when it is invalid. *max_seq is the highest usable seq
 * before it in the batch. */
static int parse_event(struct wp_ingest_extra *x, wp_event *e, const json_t *ev, int64_t *max_seq,
                       const wp_ingest_bounds *bounds)
{
    if (!json_is_object(ev))
        return bad(x, "event is not an object");
    json_t *seq = json_object_get(ev, "seq");
    if (json_is_integer(seq))
        x->seq_json = seq;
    if (!json_is_integer(seq) || json_integer_value(seq) <= 0)
        return bad(x, "seq is missing or not a positive integer");
    int64_t sv = json_integer_value(seq);
    /* A seq refused here is not kept (e->seq stays 0): it must not move acked_seq. */
    if (sv > WP_INGEST_SEQ_MAX)
        return bad(x, "seq_out_of_range: seq %lld is greater than %lld (2^53 - 1)", (long long)sv,
                   WP_INGEST_SEQ_MAX);
    int64_t before = *max_seq;
    if (bounds && bounds->acked_seq > before)
        before = bounds->acked_seq;
    if (bounds && sv - before > WP_INGEST_SEQ_AHEAD_MAX)
        return bad(x,
                   "seq_too_far_ahead: seq %lld is more than %lld past %lld, the highest seq"
                   " before it",
                   (long long)sv, WP_INGEST_SEQ_AHEAD_MAX, (long long)before);
    e->seq = sv;
    /* Each seq must pass the ones before it in the batch; a late one keeps its seq for the
     * reply but cannot move acked_seq (the store quarantines it without one). */
    if (e->seq <= *max_seq)
        return bad(x, "seq %lld is not greater than %lld before it", (long long)e->seq,
                   (long long)*max_seq);
    *max_seq = e->seq;

    const char *type = NULL, *ts = NULL;
    if (req_str(x, ev, "type", "type", FIELD_MAX, &type) < 0 ||
        req_str(x, ev, "ts", "ts", 64, &ts) < 0)
        return -1;
    if (wp_time_parse(&e->ts_us, ts) < 0)
        return bad(x, "ts '%.64s' is not an rfc 3339 time", ts);
    if (bounds && (e->ts_us < bounds->now_us - WP_INGEST_TS_PAST_MAX_US ||
                   e->ts_us > bounds->now_us + WP_INGEST_TS_FUTURE_MAX_US)) {
        char now[40];
        wp_time_format(now, bounds->now_us, 0);
        return bad(x,
                   "ts_out_of_range: ts '%.64s' is outside the accepted window, %lld days"
                   " before to %lld hours after the server's time %s",
                   ts, WP_INGEST_TS_PAST_MAX_US / 86400000000LL,
                   WP_INGEST_TS_FUTURE_MAX_US / 3600000000LL, now);
    }
    x->ts_text = ts;
    if (strcmp(type, "message") == 0) {
        e->type = WP_EVENT_MESSAGE;
        return parse_message(x, e, ev);
    }
    if (strcmp(type, "call") == 0) {
        e->type = WP_EVENT_CALL;
        return parse_call(x, e, ev);
    }
    if (strcmp(type, "contact") == 0) {
        e->type = WP_EVENT_CONTACT;
        return parse_contact(x, e, ev);
    }
    if (strcmp(type, "location") == 0) {
        e->type = WP_EVENT_LOCATION;
        return parse_location(x, e, ev);
    }
    if (strcmp(type, "checkin") == 0) {
        e->type = WP_EVENT_CHECKIN;
        return parse_checkin(x, e, ev);
    }
    return bad(x, "unknown type '%.64s'", type);
}

static void event_init(wp_event *e)
{
    memset(e, 0, sizeof *e);
    e->size = e->amount_fen = e->duration_s = e->accuracy_cm = -1;
    e->inside_geofence = -1;
}

int wp_ingest__validate(wp_ingest_batch *out, const json_t *body, const wp_ingest_bounds *bounds)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(body))
        return wp_error_set(WP_EINVAL, "body is not a json object");
    json_t *events = json_object_get(body, "events");
    if (!events)
        return wp_error_set(WP_EINVAL, "body has no \"events\"");
    if (!json_is_array(events))
        return wp_error_set(WP_EINVAL, "\"events\" is not an array");
    size_t n = json_array_size(events);
    if (n > WP_INGEST_MAX_EVENTS)
        return wp_error_set(WP_EINVAL, "a batch holds at most %d events, not %zu",
                            WP_INGEST_MAX_EVENTS, n);
    if (n && (!(out->b.events = calloc(n, sizeof *out->b.events)) ||
              !(out->x = calloc(n, sizeof *out->x))))
        return wp_error_set(WP_ENOMEM, "out of memory");
    out->b.n = n;
    int64_t max_seq = 0;
    for (size_t i = 0; i < n; i++) {
        wp_event *e = &out->b.events[i];
        struct wp_ingest_extra *x = &out->x[i];
        const json_t *ev = json_array_get(events, i);
        event_init(e);
        if (!(x->raw = wp_json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY)))
            return wp_error_set(WP_ENOMEM, "out of memory");
        e->raw = x->raw;
        if (parse_event(x, e, ev, &max_seq, bounds) < 0) {
            int64_t seq = e->seq;
            event_init(e);
            e->raw = x->raw;
            e->type = WP_EVENT_REJECTED;
            e->reason = x->reason;
            e->seq = seq; /* 0 unless the seq itself was fine */
        }
    }
    return 0;
}

void wp_ingest__batch_release(wp_ingest_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; b->x && i < b->b.n; i++) {
        free(b->x[i].raw);
        free(b->x[i].alerts);
    }
    free(b->x);
    free(b->b.events);
    memset(b, 0, sizeof *b);
}
