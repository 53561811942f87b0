/* SPDX-License-Identifier: MIT */
/* libwpagent: the device agent an Android or iOS app embeds (CONTRACT §4, docs/internals/agent.md).
 *
 * One wp_agent handle owns one directory: a durable outbox (SQLite, WAL, synchronous=FULL),
 * the device's credentials, copies of media waiting for upload and the offline policy. No global
 * state: any number of handles may live in one process, on different directories. Every call is
 * thread-safe on a shared handle; network calls (enroll, sync) run one at a time per handle and
 * never block record or check, which only wait for the disk and for the engine.
 *
 * Every function returns 0 or a negative WP_AGENT_E* code; the handle keeps a one-line message
 * of its last error (wp_agent_last_error). */
#ifndef WORKPHONE_AGENT_H
#define WORKPHONE_AGENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wp_agent wp_agent;

enum wp_agent_error {
    WP_AGENT_OK = 0,
    WP_AGENT_EINVAL = -1,       /* bad argument or event: the message names it */
    WP_AGENT_ENOMEM = -2,
    WP_AGENT_EIO = -3,          /* the local disk or database failed */
    WP_AGENT_ENET = -4,         /* no answer, a timeout, or a 5xx: retried with backoff */
    WP_AGENT_EAUTH = -5,        /* the server refused the code or the token (revoked device) */
    WP_AGENT_EFULL = -6,        /* the outbox holds max_outbox_bytes, or the disk is full:
                                 * nothing kept; sync first, or free space */
    WP_AGENT_ENOTENROLLED = -7, /* enroll first */
    WP_AGENT_EEXISTS = -8,      /* already enrolled */
    WP_AGENT_ENOPOLICY = -9,    /* no policy fetched yet: check cannot answer offline */
    WP_AGENT_EPROTO = -10,      /* the server's answer is not what the protocol says */
};

/* A short fixed name for a code ("invalid argument", "outbox full", ...). Never NULL; static. */
const char *wp_agent_strerror(int code);

/* --- transport: how the agent speaks HTTP ----------------------------------------------------- */

/* One HTTP request. Everything is borrowed for the duration of the send call. */
typedef struct wp_agent_request {
    const char *method;          /* "GET", "POST" or "PUT" */
    const char *url;             /* absolute, e.g. "https://wp.example.com/api/v1/device/events" */
    const char *const *headers;  /* n_headers lines "Name: value" (Authorization, Content-Type) */
    size_t n_headers;
    const void *body;            /* body_len bytes to send, or NULL (see body_file) */
    const char *body_file;       /* when non-NULL: send the body_len bytes of this file instead */
    size_t body_len;
    unsigned timeout_ms;         /* for the whole exchange */
} wp_agent_request;

/* Where a transport puts the answer; owned by the agent. */
typedef struct wp_agent_response wp_agent_response;

/* Called by a transport while it receives an answer. Each returns 0, or WP_AGENT_EPROTO when the
 * body passes the agent's limit (the transport should then give up and return that code). */
int wp_agent_response_status(wp_agent_response *r, int http_status);
int wp_agent_response_header(wp_agent_response *r, const char *name, const char *value);
int wp_agent_response_body(wp_agent_response *r, const void *data, size_t len);

/* A transport that gets no answer says why in one line (the agent's last error names it) and
 * returns what this returns: code (WP_AGENT_ENET for a network failure). why is borrowed. */
int wp_agent_response_error(wp_agent_response *r, int code, const char *why);

/* An HTTP client the app supplies (Android and iOS bring their own stack), or the default one.
 * send() returns 0 once a whole answer was received, whatever its status; WP_AGENT_ENET when
 * none was (no connection, timeout, reset); or the code a wp_agent_response_* call returned.
 * The agent calls send() from one thread at a time per handle. free(ctx), when non-NULL, is
 * called once by wp_agent_free(). */
typedef struct wp_agent_transport {
    int (*send)(void *ctx, const wp_agent_request *req, wp_agent_response *resp);
    void (*free)(void *ctx);
    void *ctx;
} wp_agent_transport;

/* The default transport, on libcurl (TLS verification on; proxies from the environment).
 * @return 0; WP_AGENT_ENOMEM. Caller owns *out until it hands it to wp_agent_new (which takes
 * ownership), or releases it with out->free(out->ctx). */
int wp_agent_transport_curl(wp_agent_transport *out);

/* --- lifecycle -------------------------------------------------------------------------------- */

typedef struct wp_agent_options {
    const char *dir;              /* the app's private directory for the agent; created 0700 */
    const wp_agent_transport *transport; /* NULL: wp_agent_transport_curl() */
    uint64_t max_outbox_bytes;    /* events + media waiting; 0: 64 MiB */
    unsigned batch_max;           /* events per POST, 1..1000; 0: 100 */
    unsigned max_attempts;        /* tries of one wp_agent_sync call; 0: 5 */
    unsigned backoff_base_ms;     /* first delay after a failure; 0: 500 */
    unsigned backoff_max_ms;      /* cap of the delay; 0: 300000 */
    unsigned timeout_ms;          /* per request; 0: 30000 */
    /* Waits between failed attempts; NULL: nanosleep. Tests and apps with their own scheduler
     * replace it (an app may return at once and let its job scheduler call sync again). */
    void (*sleep_ms)(void *ctx, unsigned ms);
    void *sleep_ctx;
} wp_agent_options;
#define WP_AGENT_OPTIONS_INIT {NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL}

/* Open (or create) the agent's directory: <dir>/agent.db and <dir>/media/.
 * @param[out] out  the handle; untouched on failure
 * @return 0; WP_AGENT_EINVAL (no dir, bad option); WP_AGENT_EIO; WP_AGENT_ENOMEM.
 * opts is copied; the transport is taken over (also on failure, when its free is called).
 * Caller owns *out; release with wp_agent_free(). */
int wp_agent_new(wp_agent **out, const wp_agent_options *opts);

/* Close the handle. No call may be running on it. NULL is a no-op. */
void wp_agent_free(wp_agent *a);

/* Copy the handle's last error message ("" when none) into buf (always NUL-terminated when size
 * > 0). Returns the message's full length, like snprintf. */
size_t wp_agent_last_error(wp_agent *a, char *buf, size_t size);

/* Free a string the agent returned (wp_agent_check's verdict). NULL is a no-op. */
void wp_agent_string_free(char *s);

/* --- enrollment ------------------------------------------------------------------------------- */

/* Enroll with a one-time code (POST /api/v1/device/enroll) and keep the device id, token and
 * server URL in the directory's database (mode 0600). Then fetches the policy once, so that
 * check works offline from the start (a failure there is not an enrollment failure).
 * @param server  base URL, e.g. "https://wp.example.com"; serial and model may be NULL
 * @return 0; WP_AGENT_EEXISTS; WP_AGENT_EAUTH (code used, expired or unknown); WP_AGENT_ENET;
 *         WP_AGENT_EPROTO; WP_AGENT_EIO. All strings are borrowed. */
int wp_agent_enroll(wp_agent *a, const char *server, const char *code, const char *serial,
                    const char *model);

/* Point an enrolled agent at another base URL (a moved server); kept on disk. */
int wp_agent_set_server(wp_agent *a, const char *server);

/* --- recording events ------------------------------------------------------------------------- */

/* Record one event: a JSON object of CONTRACT §4 without "seq" (the agent assigns the next one;
 * "ts" is added, as now, when missing). Returns once the event is durable on disk.
 * @param[out] out_seq  its seq, or NULL
 * @return 0; WP_AGENT_EINVAL (not an object, a "seq", no "type", a bad "ts", over 256 KiB);
 *         WP_AGENT_EFULL (nothing recorded: sync first); WP_AGENT_EIO. json is borrowed. */
int wp_agent_record(wp_agent *a, int64_t *out_seq, const char *json, size_t len);

/* Record n events in one transaction (one fsync): all of them or, on any error, none.
 * *out_first_seq gets the first one's seq (the others follow it). Arrays are borrowed. */
int wp_agent_record_many(wp_agent *a, int64_t *out_first_seq, const char *const *jsons,
                         const size_t *lens, size_t n);

/* A peer of CONTRACT §4; any field may be NULL, at least one of id and phone is needed. */
typedef struct wp_agent_peer {
    const char *id, *name, *phone;
} wp_agent_peer;

/* Typed helpers that build the JSON above. ts_us is microseconds since the epoch; 0: now.
 * direction is "in" or "out". All strings are borrowed. */
int wp_agent_record_text(wp_agent *a, int64_t *out_seq, int64_t ts_us, const char *channel,
                         const char *direction, const wp_agent_peer *peer, const char *chat,
                         const char *text);
int wp_agent_record_call(wp_agent *a, int64_t *out_seq, int64_t ts_us, const char *direction,
                         const wp_agent_peer *peer, int64_t duration_s,
                         const char *recording_ref /* "sha256:<hex>" or NULL */);
int wp_agent_record_contact(wp_agent *a, int64_t *out_seq, int64_t ts_us, const char *channel,
                            const char *action, const wp_agent_peer *peer);

/* What wp_agent_record_location did with a point (docs/internals/agent.md, "Field staff"). */
enum wp_agent_location_result {
    WP_AGENT_LOCATION_RECORDED = 0,
    WP_AGENT_LOCATION_OFF_DUTY = 1, /* NOT recorded: outside the working hours of the policy
                                     * under locations_off_duty "drop"; no seq spent, *out_seq
                                     * is 0. Nothing off duty leaves the phone. */
    WP_AGENT_LOCATION_LEFT = 2,     /* recorded; the employee has just left the fences in force
                                     * (inside → outside, beyond the hysteresis band): the
                                     * server raises one geofence alert for this point. Warn. */
    WP_AGENT_LOCATION_RETURNED = 3, /* recorded; back inside a fence after leaving */
};

/* Record a location (lat, lon in WGS-84 degrees; accuracy_m in metres, 0: unknown) and decide, offline
 * and with the server's rule, the employee's side of the policy's geofences in force at ts_us
 * (wp_agent_status: fence_state). Before any policy (or with a time zone this device cannot
 * load) every point is recorded and nothing is decided.
 * @return a wp_agent_location_result (>= 0), or the errors of wp_agent_record. */
int wp_agent_record_location(wp_agent *a, int64_t *out_seq, int64_t ts_us, double lat,
                             double lon, double accuracy_m);

/* Copy a file (a recording, an attachment) into the agent's directory and register it for
 * upload. out_ref gets "sha256:<64 hex>" for the events that refer to it ("media",
 * "recording"); sync uploads it before any event that names it. Adding the same content twice
 * keeps one copy. The copy counts against max_outbox_bytes until uploaded.
 * @return 0; WP_AGENT_EINVAL (unreadable, over 100 MiB); WP_AGENT_EFULL; WP_AGENT_EIO.
 * path is borrowed; out_ref is the caller's. */
int wp_agent_media_add(wp_agent *a, char out_ref[72], const char *path);

/* --- sync ------------------------------------------------------------------------------------- */

/* Upload pending media and events in batches until the outbox is empty, then the notes kept
 * offline (wp_agent_notice_ack, wp_agent_auto_message_sent), then refresh the policy.
 * A failed attempt (WP_AGENT_ENET, WP_AGENT_EPROTO) is retried up to max_attempts times with
 * exponential backoff and jitter, waiting at least a refusal's Retry-After (a server whose disk
 * is full answers 503 with one); progress is kept after every acknowledged batch, so an
 * interrupted sync (a crash, a lost answer) resumes where the server's acked_seq says and the
 * server stores nothing twice.
 * @return 0 (outbox empty); the last attempt's error; WP_AGENT_EAUTH, WP_AGENT_ENOTENROLLED,
 *         WP_AGENT_EIO and WP_AGENT_EFULL (this disk is full: the events stay and are sent
 *         again by the next sync) at once (no retry). */
int wp_agent_sync(wp_agent *a);

/* --- offline check ---------------------------------------------------------------------------- */

enum wp_agent_action {
    WP_AGENT_ALLOW = 0,
    WP_AGENT_MASK = 1,
    WP_AGENT_ALERT = 2,
    WP_AGENT_BLOCK = 3, /* the app must not send the message */
};

/* The verdict on a text before it is sent, from the offline copy of the policy, with the
 * server's engine: the same answer as POST /api/v1/device/check.
 * @param[out] out_action  the verdict's action
 * @param[out] out_json    NULL, or gets the verdict as the server writes it:
 *                         {"action","matches":[{"pattern","category","action","start","end",
 *                         "text"}],"masked"}; caller frees with wp_agent_string_free()
 * @return 0; WP_AGENT_ENOPOLICY; WP_AGENT_EINVAL (over 64 KiB, as the server); WP_AGENT_ENOMEM.
 * text is borrowed (any bytes; invalid UTF-8 counts as noise). */
int wp_agent_check(wp_agent *a, enum wp_agent_action *out_action, char **out_json,
                   const char *text, size_t len);

/* --- the notice (issue 20) -------------------------------------------------------------------- */

/* What the employee is told about what this phone records (the administrator's text, PUT
 * /api/v1/notice), from the offline copy of the policy: the app shows it after enrollment and
 * whenever its version moves past the one acknowledged. auto_message is the first message the
 * app proposes to send a new customer, so that the customer is told too (NULL when none).
 * @param[out] out_text          the notice, malloc'ed; free with wp_agent_string_free()
 * @param[out] out_version       its version (0: the server's default text)
 * @param[out] out_acknowledged  1 when wp_agent_notice_ack() recorded this version; may be NULL
 * @param[out] out_auto_message  malloc'ed or NULL; may be NULL (not wanted)
 * @return 0; WP_AGENT_ENOPOLICY (no policy yet, or a server too old to send a notice);
 *         WP_AGENT_ENOMEM. Nothing is set on failure. */
int wp_agent_notice(wp_agent *a, char **out_text, int64_t *out_version, int *out_acknowledged,
                    char **out_auto_message);

/* Tell the server that the employee read and acknowledged that version of the notice
 * (POST /api/v1/device/notice-ack; administrators see it per employee) and remember it.
 * Works offline: when the server cannot be reached the acknowledgement is remembered and kept
 * on disk, and the next wp_agent_sync() sends it (after the events recorded before it;
 * wp_agent_status: notes_pending). Notes are sent in the order they were made.
 * @return 0 (sent, or kept for the next sync); WP_AGENT_ENOTENROLLED; WP_AGENT_EAUTH;
 *         WP_AGENT_EPROTO (a version the server never gave: nothing is remembered);
 *         WP_AGENT_EIO. */
int wp_agent_notice_ack(wp_agent *a, int64_t version);

/* Tell the server that the app sent the automatic first message (wp_agent_notice's
 * auto_message) to a customer, named as the phone knows it: channel and peer_id (its id
 * there), or phone (channel and peer_id NULL). The server records that the customer was told
 * (a consent "auto_message", POST /api/v1/device/consents). Works offline, like
 * wp_agent_notice_ack: sent by the next sync after the events recorded before it (which make
 * the customer known to the server). A kept note the server refuses when the sync sends it is
 * dropped and counted (wp_agent_status: notes_refused).
 * @param ts_us  when it was sent; 0: now
 * @return 0 (sent, or kept for the next sync); WP_AGENT_EINVAL; WP_AGENT_ENOTENROLLED;
 *         WP_AGENT_EAUTH; WP_AGENT_EPROTO (no customer of this phone has that identity).
 *         Strings borrowed. */
int wp_agent_auto_message_sent(wp_agent *a, const char *channel, const char *peer_id,
                               const char *phone, int64_t ts_us);

/* --- status ----------------------------------------------------------------------------------- */

typedef struct wp_agent_status {
    int enrolled;
    char device_id[64];
    char server[512];
    int64_t next_seq;        /* the seq the next recorded event gets */
    int64_t acked_seq;       /* the server has stored every event up to this one */
    uint64_t outbox_events;  /* recorded, not yet acknowledged */
    uint64_t outbox_bytes;   /* their JSON, plus media waiting for upload */
    uint64_t media_pending;  /* media files not yet uploaded */
    uint64_t rejected;       /* events the server listed as rejected (kept raw there) */
    int64_t policy_version;  /* 0: none yet */
    unsigned failures;       /* failed sync attempts in a row */
    unsigned retry_after_ms; /* the delay before the next attempt: the backoff, at least the
                              * server's Retry-After (a 503 of a full disk); 0 after a success */
    char last_error[256];    /* of the last sync ("" after a success), kept on disk */
    /* field staff, from the policy (what the employee is told) */
    char locations_off_duty[8]; /* "drop" (the default, also before any policy): locations
                                 * outside working hours are not recorded; or "keep" */
    int on_duty;             /* now within the policy's working hours: 1, 0; -1 not known */
    char time_zone[72];      /* of the working hours; "" when not known */
    unsigned fences;         /* geofences in the policy that bind the employee */
    int fence_state;         /* enum wp_agent_fence_state */
    int64_t fence_since_us;  /* of the point that decided it; 0 when unknown */
    char fence_id[40];       /* inside: the fence; outside: the fence left ("" if none) */
    char fence_name[128];
    /* notes for the server that are not events (a notice acknowledged, an automatic first
     * message sent) made while it could not be reached: sent by the next sync */
    uint64_t notes_pending;
    uint64_t notes_refused; /* of those, refused by the server when sent (dropped) */
} wp_agent_status;

enum wp_agent_fence_state {
    WP_AGENT_FENCE_UNKNOWN = 0, /* nothing decided yet (no fence in force at any point) */
    WP_AGENT_FENCE_INSIDE = 1,
    WP_AGENT_FENCE_OUTSIDE = 2, /* outside every fence in force since fence_since_us */
};

/* Fill *out (the caller's). */
int wp_agent_status_get(wp_agent *a, wp_agent_status *out);

#ifdef __cplusplus
}
#endif

#endif
