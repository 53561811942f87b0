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
#include "scan/union.h"
#include "store/audit.h"
#include "store/events.h"
#include "store/policy.h"
#include "store/pool.h"
#include "store/store.h"
#include "util/buf.h"

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

/* --- the lexicons in force (policy.c) ------------------------------------------------------ */

struct wp_policy_cache; /* (tenant, chain of unit lexicons) → compiled scanner and its text */

int wp_policy__cache_new(struct wp_policy_cache **out);
void wp_policy__cache_free(struct wp_policy_cache *c);

/* A lexicon text shared by the cache and its readers (immutable; NUL-terminated). */
typedef struct wp_policy_text {
    _Atomic unsigned refs;
    size_t len;
    char text[];
} wp_policy_text;

int wp_policy__text_new(wp_policy_text **out, const char *text, size_t len);
wp_policy_text *wp_policy__text_ref(wp_policy_text *t);
void wp_policy__text_unref(wp_policy_text *t); /* NULL is a no-op */

/* What applies to the phones of an employee or an org unit, or to the tenant alone. */
typedef struct wp_policy_now {
    wp_policy_chain chain; /* the tenant's row, the unit lexicons on the path, the versions */
    wp_scanner *scanner;   /* a reference */
    wp_policy_text *text;  /* a reference: the lexicon the scanner was compiled from, the one
                            * the phones get (the union of the chain: src/scan/union.h) */
} wp_policy_now;

/* The tenant's policy row and the chain of unit lexicons of employee_id's unit or of
 * org_unit_id (both NULL: the row alone), the policy made with the default lexicon on first
 * use. One statement. */
int wp_policy__chain(wp_ingest *ing, wp_store *st, wp_policy_chain *c, const char *tenant_id,
                     const char *employee_id, const char *org_unit_id);

/* The policy of the phones of employee_id, or of org_unit_id, or of the tenant alone (both
 * NULL): one statement on st, then the cache; the scanner is compiled (outside any lock) when
 * the store's lexicon version of that chain moved past the one cached. The tenant's policy is
 * created with the default lexicon on first use. An unknown employee or unit gets the
 * tenant's. Release *out with wp_policy__now_release (also after a failure). */
int wp_policy__current(wp_ingest *ing, wp_store *st, wp_policy_now *out, const char *tenant_id,
                       const char *employee_id, const char *org_unit_id);
void wp_policy__now_release(wp_policy_now *p);

/* Install the tenant's own scanner, compiled from text for lexicon_version (ignored if an
 * equal or newer one is in). */
int wp_policy__install(wp_ingest *ing, const char *tenant_id, wp_scanner *s, const char *text,
                       size_t len, int64_t lexicon_version);

/* Append to out the union of the tenant's lexicon and those of the chain's units that add
 * entries (each read from st); with draft_unit, draft (draft_len bytes) stands for that unit's
 * own lexicon (the last of the chain, added when it has none). *version (may be NULL) gets
 * the highest version read. rep as for wp_scan_union. */
int wp_policy__union(wp_store *st, wp_buf *out, wp_scan_union_report *rep, int64_t *version,
                     const char *tenant_id, const wp_policy_chain *c, const char *draft_unit,
                     const char *draft, size_t draft_len);

/* The ETag of a chain's policy: "<version>" when no unit on the path adds entries (the
 * tenant's policy version, as before unit lexicons), else "<version>-<16 hex>", the hex naming
 * the units that add entries (the version alone names the content only along one path). */
void wp_policy__etag(char out[WP_INGEST_ETAG_MAX], const wp_policy_chain *c);

/* --- the writer (writer.c) ---------------------------------------------------------------- */

struct wp_writer;

/* Start the writer thread on its own connection (taken over: the writer frees it). */
int wp_writer__start(struct wp_writer **out, wp_store *st, const char *data_dir,
                     const char *db_url);
/* 1 while the writer thread takes batches (it has started and is not stopping). */
int wp_writer__running(struct wp_writer *w);

/* Commit what is queued, stop the thread, free. NULL is a no-op. */
void wp_writer__stop(struct wp_writer *w);
/* Queue the batch (bytes: what it holds in memory) and wait until it is committed (0) or
 * failed (its WP_E*). WP_EOVERLOAD at once, nothing queued, when the queue holds its bound of
 * batches or the batch would pass its bound of bytes (wp_writer__limits). */
int wp_writer__submit(struct wp_writer *w, wp_event_batch *b, size_t bytes);
/* The queue's bounds; 0: the defaults (WP_INGEST_QUEUE_*_DEFAULT). */
void wp_writer__limits(struct wp_writer *w, size_t max_batches, size_t max_bytes);

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
    char *media_dir; /* the media root: media_dir of the config, else <data_dir>/media */
    char *default_lexicon; /* malloc */
    size_t default_lexicon_len;
    struct wp_writer *writer;
    struct wp_policy_cache *policies;
    wp_store_connpool *pool; /* borrowed: connections for calls on the caller's thread */
    /* counters for wp_ingest_stats_get */
    _Atomic uint64_t n_events, n_rejected, n_alerts, n_off_duty;
    unsigned char audit_key[WP_AUDIT_KEY_LEN]; /* for re-grading after a batch */
    int regrade;                               /* audit_key is set */
    /* with a master key: the tenants' data keys, and media are encrypted; NULL: plain */
    struct wp_media_keys *keys;
};

/* --- media at rest (mediacrypt.c; docs/internals/keys.md, "Media") ------------------------ */

#include <sodium.h>

#include "store/keys.h"

#define WP_MEDIA_MAGIC "WPMEDIA1"
#define WP_MEDIA_HDR 40 /* magic, key version (8 bytes little-endian), the stream's header */
#define WP_MEDIA_CHUNK 65536
#define WP_MEDIA_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES

struct wp_media_keys;
/* The keyring: takes a copy of mk, wiped by _free (and every key it unwrapped with it). */
int wp_media_keys__new(struct wp_media_keys **out, const wp_master_key *mk);
void wp_media_keys__free(struct wp_media_keys *k);
/* Every tenant's data keys, all versions, unwrapped now. */
int wp_media_keys__preload(struct wp_media_keys *k, wp_store_connpool *pool);
/* For tenant_id: name (when name and hex are given) gets the keyed name of the content hash
 * hex; key (when given) the file key of version want (0: the newest, asked of the store),
 * *version its version. @return 0, WP_ECORRUPT when version want is not in the store, or as
 * wp_store_keys_get() */
int wp_media_keys__get(struct wp_media_keys *k, wp_store_connpool *pool,
                       unsigned char key[WP_KEY_LEN], int64_t *version, char name[65],
                       const char *tenant_id, const char *hex, int64_t want);

/* The file key a data key gives (subkey 2). */
void wp_media_crypt__file_key(unsigned char key[WP_KEY_LEN], const unsigned char dk[WP_KEY_LEN]);

struct wp_media_crypt {
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned char ad[16]; /* the clear header, authenticated with the first chunk */
    int first;
};
/* The bytes on disk for plain bytes of plaintext. */
int64_t wp_media_crypt__size(int64_t plain);
/* The file starts with the magic; its key version (-1: not an encrypted file). */
int wp_media_crypt__is(int fd);
int64_t wp_media_crypt__version(int fd);
void wp_media_crypt__begin(struct wp_media_crypt *c, unsigned char hdr[WP_MEDIA_HDR],
                           const unsigned char key[WP_KEY_LEN], int64_t version);
/* out gets len + WP_MEDIA_ABYTES bytes */
void wp_media_crypt__push(struct wp_media_crypt *c, unsigned char *out, const unsigned char *in,
                          size_t len, int final);
int wp_media_crypt__start(struct wp_media_crypt *c, const unsigned char hdr[WP_MEDIA_HDR],
                          const unsigned char key[WP_KEY_LEN]);
/* @return 0 or WP_ECORRUPT (the chunk fails authentication) */
int wp_media_crypt__pull(struct wp_media_crypt *c, unsigned char *out, size_t *outlen,
                         int *final, const unsigned char *in, size_t len);

struct wp_writer *wp_ingest__writer(wp_ingest *ing);

/* The built-in copy of data/lexicon/default.txt (generated at build time). */
extern const char wp_ingest__default_lexicon[];
extern const size_t wp_ingest__default_lexicon_len;

#endif
