/* SPDX-License-Identifier: MIT */
/* Inside src/ingest: the validated batch, the tenant scanners, the writer, and test hooks. */
#ifndef WP_INGEST_INT_H
#define WP_INGEST_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/ingest.h"
#include "scan/scan.h"
#include "store/audit.h"
#include "store/events.h"
#include "store/policy.h"
#include "store/pool.h"
#include "store/store.h"

#define WP_INGEST_REASON_MAX 200

/* What the validator keeps per event besides the store's wp_event. */
struct wp_ingest_extra {
    char *raw;           /* json_dumps of the event (malloc) */
    const char *ts_text; /* the event's own "ts" string, borrowed from the body */
    json_t *seq_json;    /* the event's seq for "rejected": an integer, or NULL */
    char phone[WP_ARCHIVE_PHONE_MAX + 1];
    char reason[WP_INGEST_REASON_MAX];
    wp_alert_draft *alerts; /* malloc; wp_event.alerts points here */
};

/* A request's events, validated: the store's batch plus what the reply needs. */
typedef struct wp_ingest_batch {
    wp_event_batch b;
    struct wp_ingest_extra *x; /* b.n of them */
} wp_ingest_batch;

/* What seqs and times are checked against (ingest.h: WP_INGEST_TS_*, WP_INGEST_SEQ_*). */
typedef struct wp_ingest_bounds {
    int64_t now_us;    /* the server's time: ts within [now - 180 days, now + 24 hours] */
    int64_t acked_seq; /* the device's acked_seq as last read (it only grows, so a stale one
                        * is stricter, never looser) */
} wp_ingest_bounds;

/* Validate body ({"events": [...]}) into out. Events that fail are WP_EVENT_REJECTED with a
 * reason (and ordered-seq violations too); a seq past WP_INGEST_SEQ_MAX or too far ahead is
 * rejected with seq 0 (it cannot move acked_seq; the reply still shows it). bounds NULL: no
 * time window and no look-ahead limit (the simulator's and benchmarks' own checks). The call
 * fails only on the body's shape: WP_EINVAL (not an object, "events" missing or not an
 * array, too many events), WP_ENOMEM.
 * Borrowed from body: every string in out; body must outlive out. Release with
 * wp_ingest__batch_release (also after a failure). */
int wp_ingest__validate(wp_ingest_batch *out, const json_t *body, const wp_ingest_bounds *bounds);
void wp_ingest__batch_release(wp_ingest_batch *b);

/* Add the alerts of each event: sensitive words (one per distinct pattern with action alert or
 * block, at its first match), money, deleted or blocked customers. scanner may be NULL. */
int wp_ingest__alerts(wp_ingest_batch *b, const wp_scanner *scanner, int64_t money_alert_fen);

/* Normalize a phone number into out: spaces, dashes, dots and brackets dropped, an optional
 * leading '+', then 3..20 digits; "+86"/"0086" in front of an 11-digit mainland number is
 * dropped. WP_EINVAL when it is not one. */
int wp_ingest__phone(char out[WP_ARCHIVE_PHONE_MAX + 1], const char *in);

/* --- tenant policies (policy.c) ---------------------------------------------------------- */

struct wp_policy_cache; /* tenant id → current scanner */

int wp_policy__cache_new(struct wp_policy_cache **out);
void wp_policy__cache_free(struct wp_policy_cache *c);

/* The tenant's current scanner (a reference: unref it) and policy row, reloading the scanner
 * when the lexicon version moved; the policy is created with the default lexicon on first
 * use. */
int wp_policy__current(wp_ingest *ing, wp_store *st, wp_scanner **scanner, wp_policy_row *row,
                       const char *tenant_id);

/* Install a scanner compiled for lexicon_version (ignored if an equal or newer one is in). */
int wp_policy__install(wp_ingest *ing, const char *tenant_id, wp_scanner *s,
                       int64_t lexicon_version);

/* --- the writer (writer.c) ---------------------------------------------------------------- */

struct wp_writer;

/* Start the writer thread on its own connection (taken over: the writer frees it). */
int wp_writer__start(struct wp_writer **out, wp_store *st, const char *data_dir,
                     const char *db_url);
/* Commit what is queued, stop the thread, free. NULL is a no-op. */
void wp_writer__stop(struct wp_writer *w);
/* Queue the batch and wait until it is committed (0) or failed (its WP_E*). */
int wp_writer__submit(struct wp_writer *w, wp_event_batch *b);

/* Test hooks: hold merging until released (queued batches wait), wait until n batches are
 * queued, make the next n merged commits fail (so batches are retried alone), and count the
 * merged transactions and batches retried alone. */
void wp_writer__hold(struct wp_writer *w, int hold);
void wp_writer__wait_queued(struct wp_writer *w, size_t n);
void wp_writer__fail_commits(struct wp_writer *w, int n);
void wp_writer__stats(struct wp_writer *w, uint64_t *merged_tx, uint64_t *batches,
                      uint64_t *retried_alone);
/* The writer's part of wp_ingest_stats (batches, transactions, queue, commit times). */
void wp_writer__stats_fill(struct wp_writer *w, wp_ingest_stats *out);

/* --- the ingest object --------------------------------------------------------------------- */

struct wp_ingest {
    char *data_dir, *db_url;
    char *default_lexicon; /* malloc */
    size_t default_lexicon_len;
    struct wp_writer *writer;
    struct wp_policy_cache *policies;
    wp_store_connpool *pool; /* borrowed: connections for calls on the caller's thread */
    /* counters for wp_ingest_stats_get */
    _Atomic uint64_t n_events, n_rejected, n_alerts;
    unsigned char audit_key[WP_AUDIT_KEY_LEN]; /* for re-grading after a batch */
    int regrade;                               /* audit_key is set */
};

struct wp_writer *wp_ingest__writer(wp_ingest *ing);

/* The built-in copy of data/lexicon/default.txt (generated at build time). */
extern const char wp_ingest__default_lexicon[];
extern const size_t wp_ingest__default_lexicon_len;

#endif
