/* SPDX-License-Identifier: MIT */
/* The WeCom chat archive (会话内容存档; migration 0022, ops_wecom_archive.c): the tenant's WeCom
 * settings as stored (secrets sealed by src/wecom, opaque here), the archive's private keys,
 * the connector's state and the records it holds back, and the one operation that stores a
 * pull: its messages, what it held and its cursor, in one transaction.
 * docs/internals/wecom_archive.md has the design. */
#ifndef WP_STORE_WECOM_ARCHIVE_H
#define WP_STORE_WECOM_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "store/events.h"
#include "store/people.h"
#include "store/store.h"
#include "util/id.h"

#define WP_WECOM_CORP_ID_MAX 64   /* bytes of a corp id */
#define WP_WECOM_URL_MAX 512      /* bytes of api_base and proxy */
#define WP_WECOM_PATH_MAX 1024    /* bytes of sdk_path */
#define WP_WECOM_SEALED_MAX 1024  /* bytes of a sealed secret as stored */
#define WP_WECOM_FINGERPRINT_MAX 31
#define WP_WECOM_ERROR_MAX 511    /* bytes of the state's last error */
#define WP_WECOM_MSGID_MAX 256    /* bytes of a msgid */
#define WP_WECOM_HELD_KIND_MAX 31
#define WP_WECOM_HELD_REASON_MAX 511

/* A tenant's row of wecom_config. Sealed fields hold what src/wecom/settings.c made, "" when
 * not set; the store never looks inside them. */
typedef struct wp_wecom_settings_row {
    char corp_id[WP_WECOM_CORP_ID_MAX + 1];
    char api_base[WP_WECOM_URL_MAX + 1]; /* "" for WeCom's own */
    char callback_token[WP_WECOM_SEALED_MAX + 1];   /* sealed */
    char encoding_aes_key[WP_WECOM_SEALED_MAX + 1]; /* sealed */
    char contact_secret[WP_WECOM_SEALED_MAX + 1];   /* sealed */
    char archive_secret[WP_WECOM_SEALED_MAX + 1];   /* sealed */
    char sdk_path[WP_WECOM_PATH_MAX + 1];           /* "" for the operator's default */
    char proxy[WP_WECOM_URL_MAX + 1];               /* "" for none */
    char proxy_password[WP_WECOM_SEALED_MAX + 1];   /* sealed */
    int archive_enabled;
    int pull_limit;      /* records a GetChatData may answer, 1..1000 */
    int pull_interval_s; /* between pulls once caught up */
    int backoff_max_s;   /* the longest wait after failures */
    int timeout_s;       /* of one SDK call */
    int64_t version;     /* moves on every put */
    int64_t updated_us;
} wp_wecom_settings_row;

/* The tenant's settings. @return 0; WP_ENOTFOUND when it has none. */
int wp_store_wecom_settings_get(wp_store *st, wp_wecom_settings_row *out, const char *tenant_id);

/* Write the tenant's settings whole (in->version is ignored: it moves by one, from 1), make its
 * archive state row if missing, and, as the keys or secrets may open what failed before, move
 * the state's retry_gen and make the archive due at once. *version gets the new version.
 * @return 0; WP_EINVAL (corp_id empty, a number out of its range); WP_ENOTFOUND (tenant) */
int wp_store_wecom_settings_put(wp_store *st, int64_t *version, const char *tenant_id,
                                const wp_wecom_settings_row *in, int64_t now_us);

/* One of the archive's private keys. pem (sealed) is filled only when asked for. */
typedef struct wp_wecom_key_row {
    int64_t version;
    char fingerprint[WP_WECOM_FINGERPRINT_MAX + 1];
    int bits;
    int64_t created_us;
    char *pem; /* malloc'ed, or NULL */
} wp_wecom_key_row;

/* The tenant's keys by version, with their sealed PEM when with_pem. Caller frees with
 * wp_wecom_key_rows_free(). */
int wp_store_wecom_keys_list(wp_store *st, wp_wecom_key_row **out, size_t *n,
                             const char *tenant_id, int with_pem);
void wp_wecom_key_rows_free(wp_wecom_key_row *v, size_t n);

/* Add or replace the key of a version (sealed pem); pem NULL removes it. */
int wp_store_wecom_key_put(wp_store *st, const char *tenant_id, int64_t version,
                           const char *sealed_pem, const char *fingerprint, int bits,
                           int64_t now_us);

/* Where the connector stands (a tenant without a row: all zero). held counts the records it
 * holds back, retryable those tried again when retry_gen moves. */
typedef struct wp_wecom_archive_state {
    int64_t seq, records, stored, duplicates, pulls, errors;
    int64_t failures;
    int64_t last_pull_us, last_record_us, last_error_us, next_due_us; /* 0: never / now */
    int64_t retry_gen, retried_gen;
    char last_error[WP_WECOM_ERROR_MAX + 1];
    int64_t held, held_retryable;
} wp_wecom_archive_state;

int wp_store_wecom_archive_state_get(wp_store *st, wp_wecom_archive_state *out,
                                     const char *tenant_id);

/* A pull failed: the error (one line, cut to WP_WECOM_ERROR_MAX bytes on a character), one
 * more failure in a row and in all, and the next try at next_due_us. */
int wp_store_wecom_archive_failed(wp_store *st, const char *tenant_id, const char *error,
                                  int64_t now_us, int64_t next_due_us);

/* A pull that answered nothing new (caught up): it counts as a pull at now_us, ends the
 * failures in a row, and the next one is at next_due_us. */
int wp_store_wecom_archive_schedule(wp_store *st, const char *tenant_id, int64_t now_us,
                                    int64_t next_due_us);

/* Something may open what was held back (an employee got its wecom_userid, an admin asked):
 * retry_gen moves and the archive is due at once. Inside the caller's transaction when one is
 * open. A tenant without settings: nothing to do, 0. */
int wp_store_wecom_archive_kick(wp_store *st, const char *tenant_id);

/* The tenants whose archive is enabled, has a secret, and is due at now_us, most overdue first.
 * Caller frees *out (NULL when none). */
int wp_store_wecom_archive_due(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n,
                               int64_t now_us);

/* The device through which the archive stores an employee's records: its source device
 * "wecom_archive" (wp_store_device_source, devices.h). */
int wp_store_wecom_archive_device(wp_store *st, char out[WP_ID_LEN + 1], const char *tenant_id,
                                  const char *employee_id, int64_t now_us);

/* An employee's WeCom UserID. */
typedef struct wp_wecom_userid {
    char userid[WP_WECOM_USERID_MAX + 1];
    char employee_id[WP_ID_LEN + 1];
} wp_wecom_userid;

/* Every employee of the tenant with a wecom_userid, active or not (a leaver's records are still
 * its own), sorted by userid (bytewise, for bsearch). Caller frees *out. */
int wp_store_wecom_userids(wp_store *st, wp_wecom_userid **out, size_t *n, const char *tenant_id);

/* --- held records ------------------------------------------------------------------------- */

/* A record to hold back (all borrowed). kind: "unknown_employee", "no_key", "bad_key",
 * "decrypt" (tried again when retry_gen moves), "invalid_record", "invalid_message",
 * "too_large". */
typedef struct wp_wecom_held {
    int64_t seq; /* 0: the record had no usable one */
    const char *msgid, *kind, *reason;
    const char *record;  /* the record as GetChatData gave it */
    const char *message; /* the decrypted message, or NULL */
} wp_wecom_held;

/* A held record as stored. */
typedef struct wp_wecom_held_row {
    char id[WP_ID_LEN + 1];
    int64_t seq;
    char msgid[WP_WECOM_MSGID_MAX + 1];
    char kind[WP_WECOM_HELD_KIND_MAX + 1];
    char reason[WP_WECOM_HELD_REASON_MAX + 1];
    char *record, *message; /* malloc'ed when asked for, else NULL */
    int64_t attempts, created_us, updated_us;
} wp_wecom_held_row;

/* The records to try again: retryable kinds, seq > after_seq, by seq, at most limit, with
 * their record and message. Caller frees with wp_wecom_held_rows_free(). */
int wp_store_wecom_held_retryable(wp_store *st, wp_wecom_held_row **out, size_t *n,
                                  const char *tenant_id, int64_t after_seq, unsigned limit);

/* The held records for the console, newest seq first, without record and message: kind NULL
 * for all; cursor as returned in next_cursor ("" or NULL: from the start). next_cursor gets
 * the seq to go on below ("" at the end). */
int wp_store_wecom_held_list(wp_store *st, wp_wecom_held_row **out, size_t *n,
                             char next_cursor[WP_ARCHIVE_CURSOR_MAX], const char *tenant_id,
                             const char *kind, const char *cursor, unsigned limit);
void wp_wecom_held_rows_free(wp_wecom_held_row *v, size_t n);

/* --- one pull, stored ----------------------------------------------------------------------- */

/* What one pull (a page of GetChatData, or a pass over held records) stores. */
typedef struct wp_wecom_pull {
    const char *tenant_id;
    int64_t from_seq; /* the cursor the pull started from: another node that stored this page
                       * first moved it, and the operation refuses (WP_EBUSY), storing nothing */
    int64_t to_seq;   /* the cursor after it (from_seq for a pass over held records) */
    wp_event_batch **batches; /* per employee, source WP_BATCH_WECOM_ARCHIVE */
    size_t n_batches;
    const wp_wecom_held *held; /* records held back now (a held one again: kind, reason and
                                * attempts change) */
    size_t n_held;
    const int64_t *released; /* seqs of held records stored now */
    size_t n_released;
    int64_t records;        /* new records in the page (0 for a pass over held ones) */
    int pulled;             /* 1: a GetChatData answered (counted in pulls, last_pull_us) */
    int64_t last_record_us; /* the newest message time stored; 0: none */
    int64_t retried_gen;    /* the retry generation a finished pass reached; -1: unchanged */
    int64_t next_due_us;
    int64_t now_us;
    /* out */
    int64_t stored, duplicates;
    wp_usage_refusal refusal; /* WP_EQUOTA: which limit */
} wp_wecom_pull;

/* Store a pull atomically: the batches (wp_store_events_apply's work, the WeCom dedupe
 * included), held records inserted or updated, released ones deleted, and the state: seq
 * to_seq, the counters, failures 0, next_due_us. Held records count in the tenant's quarantine
 * usage until released.
 * @return 0; WP_EBUSY (the cursor is not from_seq any more: nothing stored); WP_EQUOTA (a
 *         storage limit: nothing stored, refusal says which); WP_EAUTH (an archive device was
 *         revoked meanwhile: nothing stored); WP_EIO */
int wp_store_wecom_archive_apply(wp_store *st, wp_wecom_pull *p);

#endif
