/* SPDX-License-Identifier: MIT */
/* Inside libwpagent: the handle, its locks, and helpers shared by the agent's files. */
#ifndef WP_AGENT_INT_H
#define WP_AGENT_INT_H

#include "scan/scan.h"
#include "util/buf.h"
#include "util/geo_fence.h"
#include "util/tz.h"
#include "workphone/agent.h"

#include <pthread.h>
#include <sqlite3.h>

#define WP_AGENT_EVENT_MAX (256u * 1024)       /* bytes of one event's JSON */
#define WP_AGENT_BATCH_BYTES (1u << 20)        /* bytes of one POST body (the server takes 8 MiB) */
#define WP_AGENT_BATCH_LIMIT 1000u             /* events in one batch: the server's limit */
#define WP_AGENT_MEDIA_MAX (100u * 1024 * 1024) /* the server's limit per file */
#define WP_AGENT_TEXT_MAX (64 * 1024)          /* check: the server's limit on "text" */
#define WP_AGENT_SEQ_MAX 9007199254740991LL    /* the largest seq the server takes (2^53 - 1) */
#define WP_AGENT_REPLY_MAX (16u << 20)         /* bytes of a server answer (a policy is <= 8 MiB) */
#define WP_AGENT_MSG_MAX 256
#define WP_AGENT_ETAG_MAX 128                   /* bytes of a policy's ETag, quotes and NUL */
#define WP_AGENT_RETRY_AFTER_MAX_S 86400u       /* a longer Retry-After is taken as this */

/* One geofence of the policy (docs/internals/geofence.md), its shape in e7 degrees. */
struct wp_agent_fence {
    char id[40], name[128];
    wp_geo_fence shape;
    int64_t (*pts)[2];   /* polygon: owned; shape.pts borrows it */
    int has_schedule;    /* 0: the working hours */
    unsigned days;
    int from_min, to_min;
};

/* The field part of the policy and the employee's fence state (field.c). Under mu. */
struct wp_agent_field {
    int have_policy;     /* a policy was parsed */
    int keep;            /* locations_off_duty "keep"; 0: "drop" (the default) */
    int have_hours;      /* the policy's working hours, in a zone this device knows */
    char zone[WP_TZ_NAME_MAX + 1];
    wp_tz tz;
    unsigned days;
    int from_min, to_min;
    struct wp_agent_fence *fences;
    size_t n;
    /* the state, as the server's geofence_state; kept in meta */
    int state; /* enum wp_agent_fence_state */
    int64_t since_us;
    char fence_id[40], fence_name[128];         /* inside: the fence; outside: the one left */
    char last_in_id[40], last_in_name[128];     /* the fence last seen inside */
};

/* What one location point does to the state (wp_agent__field_decide). */
struct wp_agent_fence_step {
    int changed, left, returned, state;
    int64_t since_us;
    const struct wp_agent_fence *inside; /* decided inside this fence; borrowed from the field */
    const char *fence_id, *fence_name;   /* left or returned to; borrowed from the field */
};

/* Locks, always taken in this order (never two others at once):
 *   net_mu   one network operation at a time (enroll, sync); held across HTTP calls;
 *   mu       the database and the counters below; never held across a network call;
 *   check_mu the scanner and the scan scratch of check; never held across I/O;
 *   err_mu   the last error message (taken alone, under any of the others). */
struct wp_agent {
    pthread_mutex_t net_mu, mu, check_mu, err_mu;
    wp_agent_options o;
    char *dir;
    wp_agent_transport tr;
    sqlite3 *db;

    /* under mu: mirrors of the meta table, loaded at open */
    int64_t next_seq, acked_seq;
    uint64_t outbox_events, outbox_bytes, media_pending, rejected;
    char device_id[64], token[128], server[512], etag[WP_AGENT_ETAG_MAX];
    int64_t policy_version;
    unsigned failures, retry_after_ms;
    unsigned server_wait_ms; /* the Retry-After of the attempt's last refusal (5xx, 429); 0: none */
    struct wp_agent_field field;

    /* under check_mu */
    wp_scanner *scanner;
    wp_scan_result result;
    wp_buf masked;

    char msg[WP_AGENT_MSG_MAX]; /* under err_mu */
};

/* Set the handle's message (printf-style) and return code. */
int wp_agent__fail(wp_agent *a, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Map a WP_E* of util/ or scan/ to a WP_AGENT_E*, keeping wp_error_last() as the message. */
int wp_agent__from_wp(wp_agent *a, int wp_err);

/* A SQLite failure as WP_AGENT_EIO (WP_AGENT_EFULL for SQLITE_FULL), naming what was done. */
int wp_agent__db_fail(wp_agent *a, const char *what);

/* Write a meta key (text or integer). Under mu, inside the caller's transaction if any. */
int wp_agent__meta_set_text(wp_agent *a, const char *key, const char *value);
int wp_agent__meta_set_int(wp_agent *a, const char *key, int64_t value);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK, under mu. */
int wp_agent__begin(wp_agent *a);
int wp_agent__commit(wp_agent *a);
void wp_agent__rollback(wp_agent *a);

/* "<dir>/media/<hex>" into out (the caller's, at least PATH_MAX). */
int wp_agent__media_path(wp_agent *a, char *out, size_t size, const char *hex);

/* POST body (JSON) to path; 0 on a 2xx (the answer is dropped), else as http() maps it.
 * Caller holds net_mu, not mu. */
int wp_agent__post_json(wp_agent *a, const char *path, const char *body);

/* Send the notes kept offline (notice.c), oldest first: each one sent or refused by the server
 * (WP_AGENT_EPROTO: dropped, counted in meta notes_refused) is deleted. Under net_mu, not mu.
 * @return 0 when none is left, else the error that stopped it (the rest wait) */
int wp_agent__notes_flush(wp_agent *a);

/* Compile a lexicon and make it the scanner of check. Caller holds no lock. */
int wp_agent__policy_install(wp_agent *a, const char *lexicon, size_t len);

/* Scan text with s into r. When json is non-NULL, *json gets the verdict of
 * POST /api/v1/device/check as the server writes it (the same jansson construction and
 * JSON_COMPACT dump as wp_ingest_check; malloc'ed, caller frees). masked is scratch.
 * Returns 0 or a WP_E* with wp_error_last(). */
int wp_agent__verdict(char **json, const wp_scanner *s, wp_scan_result *r, wp_buf *masked,
                      const char *text, size_t len);

/* Parse a policy's field part (settings, geofences) into *out; the state is left zero.
 * 0, or -1 when policy is not a JSON object (or out of memory). Release *out with
 * wp_agent__field_release. */
int wp_agent__field_parse(struct wp_agent_field *out, const char *policy, size_t len);
void wp_agent__field_release(struct wp_agent_field *f);

/* Make *nf the handle's field (keeping the state); *nf is emptied. Under mu. */
void wp_agent__field_install(wp_agent *a, struct wp_agent_field *nf);

/* 1 when t_us is within the policy's working hours; 0 when not, or not known. */
int wp_agent__field_on_duty(const struct wp_agent_field *f, int64_t t_us);

/* The server's state machine (store/ops_geofence.c, one_point) for one point: *step says what
 * changes; nothing is changed yet. Under mu. Returns 0. */
int wp_agent__field_decide(const struct wp_agent_field *f, struct wp_agent_fence_step *step,
                           int64_t t_us, int64_t lat_e7, int64_t lon_e7, int64_t accuracy_cm);

/* Apply a step to the handle's state and keep it in meta (one transaction). Under mu. */
int wp_agent__field_apply(wp_agent *a, const struct wp_agent_fence_step *step);

#endif
