/* SPDX-License-Identifier: MIT */
/* What devices report (migration 0002; ops_events.c): the writer's one operation. src/ingest
 * writes through wp_store_events_apply(); the console reads what it stored through the lists of
 * customers.h, messages.h and alerts.h. */
#ifndef WP_STORE_EVENTS_H
#define WP_STORE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/usage.h"
#include "util/id.h"

/* bytes of a rejected event's raw JSON that the quarantine keeps (cut on a character), beside
 * the whole event's length and SHA-256: a device cannot fill the store through rejects */
#define WP_QUARANTINE_RAW_MAX 4096

#define WP_CHECKIN_NOTE_MAX 4000 /* bytes of a check-in's note: 1000 characters of CJK text */

enum wp_event_type {
    WP_EVENT_REJECTED = 0, /* failed validation: quarantined with its reason, its raw JSON
                            * bounded (WP_QUARANTINE_RAW_MAX) */
    WP_EVENT_MESSAGE,
    WP_EVENT_CALL,
    WP_EVENT_CONTACT,
    WP_EVENT_LOCATION,
    WP_EVENT_CHECKIN, /* migration 0028: a clock-in, clock-out or customer visit */
};

/* The other party of an event, as the device saw it; any field may be NULL. */
typedef struct wp_peer {
    const char *id;    /* channel id (wxid_..., a WeCom userid, an e-mail address) */
    const char *name;  /* display name */
    const char *phone; /* normalized by the validator (wp_ingest: digits, optional leading +) */
} wp_peer;

/* An alert an event raises, decided by src/ingest before the write. */
typedef struct wp_alert_draft {
    const char *kind;     /* "sensitive_word", "customer_deleted", "customer_blocked", "money" */
    const char *category; /* lexicon category; money: the msgtype; NULL otherwise */
    const char *pattern;  /* sensitive_word: the lexicon pattern; NULL otherwise */
    const char *action;   /* sensitive_word: "alert" | "block"; NULL otherwise */
    const char *matched;  /* sensitive_word: the original slice of the text; NULL otherwise */
    size_t matched_len;
    int64_t start, end;     /* byte offsets of matched in the text; -1 when none */
    char id[WP_ID_LEN + 1]; /* out: set when the alert is stored */
} wp_alert_draft;

/* One validated event. Every pointer is borrowed (from the parsed request) for the call. */
typedef struct wp_event {
    int64_t seq; /* 0 when the event had no usable seq (rejected only) */
    enum wp_event_type type;
    const char *reason; /* WP_EVENT_REJECTED: why, one line */
    const char *raw;    /* the event as JSON text, kept on every row; never NULL */
    int64_t ts_us;
    const char *channel; /* message, contact; calls: "phone" */
    enum wp_direction direction;
    wp_peer peer;
    /* message */
    const char *chat, *group_id, *group_name;
    const char *msgtype, *msgid, *text, *media, *filename, *url, *title, *memo;
    int64_t size, amount_fen; /* -1 when absent */
    int64_t revoked_seq;      /* revoke: 0 when absent */
    const char *revoked_msgid;
    /* call */
    int64_t duration_s; /* -1 when absent */
    const char *recording;
    /* contact */
    const char *action;
    /* location: degrees * 1e7 and centimetres, so both backends store exact integers */
    int64_t lat_e7, lon_e7, accuracy_cm; /* accuracy_cm -1 when absent */
    /* location: 1 when it lies outside the employee's working hours and the tenant's
     * locations_off_duty is "drop" (decided by src/ingest): handled (it moves acked_seq) but
     * no row is written */
    int off_duty;
    /* checkin (also lat_e7, lon_e7, accuracy_cm; peer for a visit): kind "in", "out" or
     * "visit"; photo a media ref or NULL; note NULL or up to WP_CHECKIN_NOTE_MAX bytes;
     * inside_geofence -1 (no fence known), 0 or 1, and the fence's id ("" when none) */
    const char *checkin_kind, *photo, *note;
    int inside_geofence;
    char fence_id[WP_ID_LEN + 1];
    wp_alert_draft *alerts;
    size_t n_alerts;
    /* out, set by wp_store_events_apply() */
    int applied; /* 1: stored now; 0: skipped (seq <= acked_seq, or the batch refused) */
    char id[WP_ID_LEN + 1];          /* the row's id ("" when skipped) */
    char customer_id[WP_ID_LEN + 1]; /* the peer's customer ("" when none) */
    /* out: 1 when a WeCom message was stored already by the other path (the phone's agent or
     * the chat archive: the same msgid, or the same employee, peer, msgtype and text or media
     * within WP_WECOM_DEDUPE_WINDOW_US): nothing is written for it, its alerts were raised
     * with the first copy (n_alerts is set to 0), and id names the stored row */
    int duplicate;
    /* out: a location that left the employee's geofences in force: the geofence alert */
    char fence_alert_id[WP_ID_LEN + 1];
} wp_event;

/* Where a batch comes from. */
enum wp_batch_source {
    WP_BATCH_DEVICE = 0, /* a phone's agent: its own seqs, those <= acked_seq sent before */
    /* the WeCom chat archive (src/wecom) through the employee's archive device
     * (wp_store_wecom_archive_device): seqs are the archive's, unique in the tenant's corp and
     * not checked against acked_seq (a held record stored later has an older one; the
     * connector's cursor and the msgid keep records from being stored twice); acked_seq
     * becomes the highest stored */
    WP_BATCH_WECOM_ARCHIVE,
};

/* How far apart in time the agent's and the archive's copies of one WeCom message without a
 * common msgid may be and still be taken for one (their clocks differ: the phone's, WeCom's). */
#define WP_WECOM_DEDUPE_WINDOW_US (120LL * 1000000)

typedef struct wp_event_batch {
    const char *tenant_id, *device_id, *employee_id;
    wp_event *events; /* in the order received */
    size_t n;
    int64_t now_us;
    int64_t acked_seq; /* out: the device's acked_seq after the batch */
    /* out: 1 when the batch would pass one of the tenant's storage limits: nothing of it is
     * stored, acked_seq did not move, and refusal says which limit (see wp_usage_refuse) */
    int refused;
    wp_usage_refusal refusal;
    enum wp_batch_source source; /* WP_BATCH_DEVICE unless the chat archive stores it */
    int assign_seq; /* 1: the events' seqs are given by the store, counting on from the
                     * device's acked_seq under its row lock (a server reporting through a
                     * source device, wp_store_device_source: two nodes never take one seq) */
} wp_event_batch;

/* Store one batch atomically (inside the caller's transaction: a savepoint). What it adds
 * counts in the tenant's usage (archive: raw JSON and message texts; quarantine: the kept
 * slices), in the same transaction; a batch that would pass a limit is refused whole (refused,
 * and 0 returned; events resent with seq <= acked_seq need no room). The device row is
 * locked (PostgreSQL: FOR UPDATE semantics via UPDATE ... RETURNING) and its acked_seq read;
 * events with seq <= acked_seq are skipped; each peer is resolved to a customer (phone
 * identity, else channel-id identity, within the tenant; created on first sight owned by
 * employee_id; identities learned later are added); rows, alerts and quarantine rows are
 * inserted; a revoke marks its target recalled; acked_seq moves to the highest seq handled.
 * WP_EAUTH when the device is revoked; WP_EIO (nothing stored) otherwise. */
int wp_store_events_apply(wp_store *st, wp_event_batch *b);

/* Store n batches as one operation, as wp_store_events_apply() each but without a savepoint
 * per batch (SQLite: their search grams go to the index together, after all rows). All or
 * nothing: if a batch fails, nothing of any is stored, *failed gets its index, and the error
 * is returned; the caller can then apply the batches one by one. */
int wp_store_events_apply_many(wp_store *st, wp_event_batch **b, size_t n, size_t *failed);

#endif
