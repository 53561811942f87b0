/* SPDX-License-Identifier: MIT */
/* Ingest: what devices send (CONTRACT §4) — enrollment, authentication, event validation,
 * scanning with the tenant's lexicon, and the group-commit writer that makes batches durable.
 * Knows nothing of HTTP: handlers in src/api call these and map WP_E* to replies.
 *
 * Threads: a wp_ingest is shared by every handler thread. It owns one writer thread with its own
 * store connection, and borrows from the caller's pool of store connections (store/pool.h) for
 * short reads and writes made on the caller's thread (enroll, auth, check, policy, lexicon,
 * media). */
#ifndef WP_INGEST_H
#define WP_INGEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/scan.h"
#include "scan/union.h"
#include "store/devices.h"
#include "store/policy.h"
#include "store/events.h"
#include "store/pool.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/id.h"

typedef struct wp_ingest wp_ingest;

#define WP_INGEST_MAX_EVENTS 1000                /* events in one batch */
#define WP_INGEST_MEDIA_MAX (100u * 1024 * 1024) /* bytes in one media file */
#define WP_INGEST_LEXICON_MAX (8u * 1024 * 1024) /* bytes of lexicon text */
/* bytes of an org unit's own lexicon: a chain of 32 stays within the engine's 64 MiB */
#define WP_INGEST_UNIT_LEXICON_MAX (1024u * 1024)
#define WP_INGEST_ETAG_MAX 96 /* a policy's ETag with its quotes and NUL: "N" or "N-<16 hex>",
                              * then "-g<16 hex>" when geofences bind the phone and
                              * "-h<16 hex>" when its working hours or zone are not the
                              * default */
#define WP_ENROLL_CODE_MAX 20                    /* "XXXX-XXXX-XXXX" + NUL fits */
#define WP_DEVICE_TOKEN_MAX 64                   /* "wpd_" + 43 characters + NUL fits */
#define WP_ENROLL_TTL_DEFAULT_S (24 * 3600)
#define WP_ENROLL_TTL_MAX_S (30 * 24 * 3600)

/* The window an event's ts must lie in, around the server's time when it arrives. 180 days
 * back: a phone kept offline for weeks, or switched off for a season, still delivers its
 * outbox; a clock reset after a flat battery (1970, 2000) does not pass. 24 hours ahead:
 * clock skew and a wrong time zone (at most ±14 h) pass; a far-future time would become a
 * customer's last contact and keep it from the pool for ever. Outside: rejected,
 * "ts_out_of_range". */
#define WP_INGEST_TS_PAST_MAX_US (180LL * 24 * 3600 * 1000000)
#define WP_INGEST_TS_FUTURE_MAX_US (24LL * 3600 * 1000000)
/* seq is 1..2^53 - 1, exact as a JSON number in every client (JavaScript included)... */
#define WP_INGEST_SEQ_MAX 9007199254740991LL
/* ... and at most 10^9 past the highest seq before it (the device's acked_seq, or an earlier
 * event of the batch): a counter that jumps further is broken, and acked_seq must not follow
 * it (a seq near the top would make every later event look sent before). */
#define WP_INGEST_SEQ_AHEAD_MAX 1000000000LL

typedef struct wp_ingest_config {
    const char *data_dir;             /* required */
    /* the media root, every node's one directory when several serve one PostgreSQL (a
     * shared mount: docs/internals/cluster.md); NULL: <data_dir>/media */
    const char *media_dir;
    const char *db_url;               /* NULL: the SQLite file in data_dir */
    const char *default_lexicon_path; /* NULL: the copy of data/lexicon/default.txt built in */
    wp_store_connpool *pool;          /* borrowed, required: outlives the wp_ingest */
    /* the audit key (copied): when set, the grading rules re-grade the customers of each
     * stored batch at once, with their audit rows; NULL: only the jobs do */
    const unsigned char *audit_key;
    /* The writer's queue is bounded (docs/internals/overload.md): past this many batches
     * waiting, or this many bytes of them, a batch is refused with WP_EOVERLOAD (nothing
     * stored). 0: WP_INGEST_QUEUE_BATCHES_DEFAULT, WP_INGEST_QUEUE_BYTES_DEFAULT. */
    size_t queue_batches, queue_bytes;
    /* the master key (copied, wiped by wp_ingest_free): media are written encrypted under
     * each tenant's data key (docs/internals/keys.md, "Media"); NULL: plain, as before */
    const struct wp_master_key *master_key;
} wp_ingest_config;
#define WP_INGEST_QUEUE_BATCHES_DEFAULT 1024
#define WP_INGEST_QUEUE_BYTES_DEFAULT (256u * 1024 * 1024)
/* clang-format off */
#define WP_INGEST_CONFIG_INIT {NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL}
/* clang-format on */

/* Open the writer's store connection and start the writer thread. The store is migrated by that
 * connection unless a connection of the pool was opened first. cfg's strings are copied.
 * @return 0; WP_EINVAL (no data_dir or pool, unreadable default lexicon); WP_EIO; WP_ESCHEMA;
 *         WP_ENOMEM.
 * Caller owns *out; release with wp_ingest_free(). */
int wp_ingest_new(wp_ingest **out, const wp_ingest_config *cfg);

/* Stop the writer once every queued batch is committed (its waiters are answered) and close its
 * connection (the pool is the caller's). No other call may be running or start. NULL is a
 * no-op. */
void wp_ingest_free(wp_ingest *ing);

/* --- enrollment and authentication ------------------------------------------------------- */

/* Make a one-time enrollment code for an employee, valid ttl_s seconds (0: the default, 24 h;
 * at most WP_ENROLL_TTL_MAX_S). The code is 12 characters of an unambiguous alphabet grouped
 * "XXXX-XXXX-XXXX" (60 bits); only its hash is stored. Case, spaces and dashes do not matter
 * when it is typed back.
 * tx: the caller's store connection, inside its transaction (so an audit row can commit
 * with the code), or NULL to use one of the pool's on its own.
 * @return 0; WP_ENOTFOUND (employee not in tenant); WP_EINVAL (inactive employee, bad ttl).
 * out is filled (NUL-terminated) on success. */
int wp_ingest_enrollment_code_create(wp_ingest *ing, wp_store *tx, char out[WP_ENROLL_CODE_MAX],
                                     const char *tenant_id, const char *employee_id, int64_t ttl_s);

/* Enroll a device with a code (CONTRACT §4: POST /api/v1/device/enroll). The token is
 * "wpd_" + 43 url-safe characters, returned once; only its SHA-256 is stored.
 * @return 0; WP_EAUTH (code unknown, used or expired; employee inactive); WP_EINVAL (serial or
 *         model missing, not UTF-8, longer than 256 bytes).
 * tx as for wp_ingest_enrollment_code_create. out (the new device) and token are filled on
 * success; the token is a secret: never log it. */
int wp_ingest_enroll(wp_ingest *ing, wp_store *tx, wp_device *out,
                     char token[WP_DEVICE_TOKEN_MAX], const char *code, const char *serial,
                     const char *model);

/* The device a bearer token belongs to. WP_EAUTH when unknown, revoked, or its employee is
 * inactive (same message for all). out is the caller's. */
int wp_ingest_device_auth(wp_ingest *ing, wp_device *out, const char *bearer_token);

/* --- events -------------------------------------------------------------------------------- */

/* Whose lexicons apply (docs/internals/ingest.md, "Lexicons of org units"): where a call
 * takes an employee_id, it means the lexicons of the path from the top unit down to that
 * employee's unit (its phones' policy); an org_unit_id, those of that unit's path; neither,
 * the tenant's own lexicon alone. */

/* POST /api/v1/device/events. Validates every event (an invalid one is quarantined, its first
 * 4 KiB raw, and listed in "rejected" with its seq and reason; the stream moves on), scans
 * message texts with the lexicons of the device's employee, hands the batch to the writer
 * and returns once it is committed.
 * *reply = {"acked_seq": N, "alerts": [alert...], "rejected": [{"seq": N|null, "reason": "..."}]}
 * where alert = {"id","ts","kind","category","employee_id","customer_id","message_id","status",
 * "seq", and for sensitive words "pattern","action","text"}.
 * @return 0; WP_EINVAL (body not an object, "events" missing or not an array, more than
 *         WP_INGEST_MAX_EVENTS events; the message says which); WP_EAUTH (device revoked
 *         meanwhile); WP_EQUOTA (the batch would pass a storage limit of the tenant: nothing
 *         stored, acked_seq unchanged; wp_usage_refusal_last() says which); WP_EIO (not
 *         stored: the device must send again); WP_ENOMEM.
 * body is borrowed. Caller owns *reply (json_decref). */
int wp_ingest_events(wp_ingest *ing, json_t **reply, const wp_device *dev, const json_t *body);

/* wp_ingest_events() as if the batch arrived at now_us instead of the clock's time: the window
 * events' times must lie in, and the time the store records for what the batch creates
 * (customers, alerts, rows) are taken from it. For a replay of weeks of a simulated company
 * in process (src/sim/local.c), so its customers are met when its phones met them. */
int wp_ingest_events_at(wp_ingest *ing, json_t **reply, const wp_device *dev, const json_t *body,
                        int64_t now_us);
/* Events made outside the device protocol (the WeCom chat archive, src/wecom), scanned as a
 * device's are: each message of events[0..n) gets its alerts (sensitive words with the lexicons
 * in force for employee_id's phones, the tenant's and its unit path's, read through st; money)
 * in e->alerts and e->n_alerts. *out holds the alert drafts and the scanner their patterns come
 * from: free it with wp_ingest_scan_free() once the
 * events are stored (or dropped).
 * @return 0; WP_ENOMEM; store errors. events are borrowed. Caller owns *out. */
typedef struct wp_ingest_scan wp_ingest_scan;
int wp_ingest_scan_events(wp_ingest *ing, wp_store *st, wp_ingest_scan **out,
                          const char *tenant_id, const char *employee_id, wp_event *events,
                          size_t n);
void wp_ingest_scan_free(wp_ingest_scan *s); /* NULL is a no-op */
/* Events a server reports for one of the tenant's employees rather than its phone (source
 * "wecom": WeCom's customer-contact callback and contact list, src/wecom), stored exactly as a
 * device's events: validated (without the time window: a contact list tells of old adds),
 * scanned, peers resolved to customers, alerts raised, through the writer. They go through
 * the employee's source device (wp_store_device_source), whose seqs the store gives under its
 * row lock, so two nodes reporting at once lose nothing. events is a JSON array of CONTRACT §4
 * events without "seq" (any given is replaced). *reply is as wp_ingest_events()'s.
 * @return as wp_ingest_events(); WP_EAUTH when the source device was revoked meanwhile (the
 *         employee left); WP_ENOTFOUND (employee). events is borrowed; caller owns *reply. */
int wp_ingest_source_events(wp_ingest *ing, json_t **reply, const char *tenant_id,
                            const char *employee_id, const char *source, const json_t *events);

/* POST /api/v1/device/check: {"channel", "peer", "text"} →
 * {"action": "allow"|"alert"|"block"|"mask", "matches": [{"pattern","category","action",
 * "start","end","text"}], "masked": "..."} with the lexicons in force for employee_id or
 * org_unit_id (or the tenant's alone). Nothing is stored.
 * @return 0; WP_EINVAL ("text" missing, not a string, or over 64 KiB). Caller owns *reply. */
int wp_ingest_check(wp_ingest *ing, json_t **reply, const char *tenant_id,
                    const char *employee_id, const char *org_unit_id, const json_t *body);

/* GET /api/v1/device/policy for the phones of employee_id (NULL: the tenant's policy alone):
 * *policy = {"version": N, "lexicon": "...", "geofences": [], "settings": {"money_alert_fen":
 * N}, "scripts": [{"id","category","title","text"}]}, the lexicon being the union of the
 * tenant's and those of the units on the path (src/scan/union.h). *version is N: the highest
 * version of the tenant policy and of those lexicons, stable until one of them changes; etag
 * (may be NULL) gets the ETag (wp_policy__etag: "N" when no unit on the path adds entries).
 * A tenant without a lexicon gets the default one (version 1). policy may be NULL to ask for
 * the version only (cheap: for If-None-Match). Caller owns *policy. */
int wp_ingest_policy(wp_ingest *ing, int64_t *version, char etag[WP_INGEST_ETAG_MAX],
                     json_t **policy, const char *tenant_id, const char *employee_id);

/* Drop the compiled lexicons of tenant_id (NULL: of every tenant) kept in memory: another
 * node changed them (docs/internals/cluster.md). The next use compiles them again. Any thread.
 * (Each use also checks the store's lexicon version, so a missed drop costs memory, not a
 * stale scan.) */
void wp_ingest_forget(wp_ingest *ing, const char *tenant_id);

/* The tenant's scanner for its lexicon in force (with the personal-data detectors), brought
 * up to date with the store st first: what masks personal data in the console's answers.
 * Caller owns *out (wp_scanner_unref). */
int wp_ingest_scanner(wp_ingest *ing, wp_store *st, wp_scanner **out,
                      const char *tenant_id);

/* --- lexicon and settings (console) --------------------------------------------------------- */

/* The lexicon in force. *text is malloc'ed (caller frees), NUL-terminated, *len bytes. */
int wp_ingest_lexicon_get(wp_ingest *ing, int64_t *version, char **text, size_t *len,
                          const char *tenant_id);

/* Replace the tenant's lexicon. The text is compiled first: WP_EINVAL with wp_error_last()
 * "lexicon:<line>: <what>" and nothing changes; WP_ELIMIT past WP_INGEST_LEXICON_MAX. On
 * success the new version is live for events and check at once (on this node; other nodes
 * see the version move on their next request). *version gets the new policy version.
 * tx as for wp_ingest_enrollment_code_create; with a tx the new version goes live when the
 * next request after the commit sees it (a transaction may still roll back). */
int wp_ingest_lexicon_put(wp_ingest *ing, wp_store *tx, int64_t *version, const char *tenant_id,
                          const char *text, size_t len);

/* --- lexicons of org units ------------------------------------------------------------------ */

/* An org unit's own lexicon: *text malloc'ed (caller frees), "" with *version 0 when it has
 * none (the caller checks that the unit exists). */
int wp_ingest_unit_lexicon_get(wp_ingest *ing, int64_t *version, char **text, size_t *len,
                               const char *tenant_id, const char *org_unit_id);

/* Replace an org unit's own lexicon (an empty text, or comments only: the unit adds nothing).
 * The text is compiled alone first (WP_EINVAL "lexicon:<line>: <what>", its own line numbers)
 * and as the union its phones get (WP_ELIMIT past the engine's limits); WP_ELIMIT past
 * WP_INGEST_UNIT_LEXICON_MAX. rep (may be NULL) gets the allow: entries of the text that the
 * union leaves out (wp_scan_union). *version gets the unit lexicon's version. tx as for
 * wp_ingest_lexicon_put; the phones' scanners are compiled on their next request.
 * WP_ENOTFOUND for a unit not in the tenant. */
int wp_ingest_unit_lexicon_put(wp_ingest *ing, wp_store *tx, int64_t *version,
                               wp_scan_union_report *rep, const char *tenant_id,
                               const char *org_unit_id, const char *text, size_t len);

/* Append to out the lexicon the phones of org_unit_id get (the union of the chain), with
 * draft (draft_len bytes) in place of the unit's own lexicon when draft is not NULL. rep (may
 * be NULL) as for wp_scan_union; etag (may be NULL) gets that of the unit's policy (for a
 * draft, of the policy in force). */
int wp_ingest_unit_lexicon_union(wp_ingest *ing, wp_buf *out, wp_scan_union_report *rep,
                                 char etag[WP_INGEST_ETAG_MAX], const char *tenant_id,
                                 const char *org_unit_id, const char *draft, size_t draft_len);

/* The units of the tenant that have a lexicon of their own, in tree order. Caller frees *out. */
int wp_ingest_unit_lexicons_list(wp_ingest *ing, wp_unit_lexicon_info **out, size_t *n,
                                 const char *tenant_id);

/* The tenant's policy settings, read on st (a transaction's connection too, so that what a
 * change answers is what it stored): *settings = {"money_alert_fen": N, "locations_off_duty":
 * "drop"|"keep"}, *version the tenant policy's version. The policy is created with the default
 * lexicon on first use. Caller owns *settings. */
int wp_ingest_settings_get(wp_ingest *ing, wp_store *st, int64_t *version, json_t **settings,
                           const char *tenant_id);

/* Set the tenant's locations_off_duty: keep 1 "keep", 0 "drop" (CONTRACT §4 policy
 * settings); as wp_ingest_money_alert_set(). */
int wp_ingest_locations_off_duty_set(wp_ingest *ing, wp_store *tx, int64_t *version,
                                     const char *tenant_id, int keep);

/* Set the money alert threshold: a redpacket or transfer with amount_fen >= fen raises a
 * "money" alert. WP_EINVAL when fen < 0. *version gets the new policy version. */
int wp_ingest_money_alert_set(wp_ingest *ing, wp_store *tx, int64_t *version,
                              const char *tenant_id, int64_t fen);

/* --- media ---------------------------------------------------------------------------------- */

/* PUT /api/v1/device/media/sha256:<hex> by device_id. ref is "sha256:<64 lowercase hex>". The
 * bytes are hashed; a mismatch is WP_EINVAL and nothing is kept. The file is content-addressed
 * at <media root>/ab/cd/<hex> (the media_dir of wp_ingest_config), or with a master key
 * encrypted under the tenant's data key at ab/cd/<keyed hash of hex> (docs/internals/keys.md):
 * written to a temp file, fsynced, renamed, directory fsynced, and the device is recorded as one that uploaded it (the console reaches a file only
 * through that device's messages and calls). *created is 1 (201) unless this same device
 * uploaded it before (0, 200): what other devices hold is never told. A file new to the tenant
 * counts in its media usage; past the limit it is not kept.
 * @return 0; WP_EINVAL (bad ref, hash mismatch); WP_ELIMIT (over WP_INGEST_MEDIA_MAX);
 *         WP_EQUOTA (past the tenant's media limit: wp_usage_refusal_last()); WP_EIO. */
/* The media root: DIR/media, or the shared directory of media_dir= (borrowed). */
const char *wp_ingest_media_dir(const wp_ingest *ing);

int wp_ingest_media_put(wp_ingest *ing, int *created, const char *tenant_id,
                        const char *device_id, const char *ref, const void *bytes, size_t len);

/* Before an upload of size bytes (-1: not known yet) is read: 0 when the tenant has the file
 * already or it fits in the tenant's media limit, else WP_EQUOTA (wp_usage_refuse). Finish
 * checks again with the real size. */
int wp_ingest_media_admit(wp_ingest *ing, const char *tenant_id, const char *ref, int64_t size);

/* The same, streamed: begin, write the body in pieces, then finish (or abort). */
typedef struct wp_media_upload wp_media_upload;
int wp_ingest_media_begin(wp_ingest *ing, wp_media_upload **out, const char *tenant_id,
                          const char *device_id, const char *ref);
int wp_ingest_media_write(wp_media_upload *up, const void *bytes, size_t len); /* WP_ELIMIT */
/* Check the hash, store, and free up. Frees up whatever it returns. */
int wp_ingest_media_finish(wp_media_upload *up, int *created);
/* A file whose hash is known only once its bytes are (the WeCom archive's downloads): begin
 * without a name; finish names it "sha256:<hex>" of what was written, into ref, and stores it
 * as wp_ingest_media_finish() does (for device_id, which may be a server's source device). */
int wp_ingest_media_begin_unnamed(wp_ingest *ing, wp_media_upload **out, const char *tenant_id,
                                  const char *device_id);
int wp_ingest_media_finish_named(wp_media_upload *up, int *created, char ref[72]);
void wp_ingest_media_abort(wp_media_upload *up); /* NULL is a no-op */

/* Open a stored media file for reading (console downloads). WP_ENOTFOUND unless the tenant has
 * it; WP_ECORRUPT when its bytes no longer hash to its name (read through once to check: see
 * docs/internals/integrity.md), or its length is not the stored one. *fd is the caller's to
 * close, positioned at 0; *size its length. */
/* Whether the file at path (open as fd when fd >= 0, else opened here) hashes to hex (64
 * lowercase hex digits): 0; WP_ECORRUPT when it does not; WP_EIO when it cannot be read. */
int wp_ingest_media_verify(int fd, const char *path, const char *hex);

/* Every file under <media_dir>/ab/cd/: cb(ctx, path, why) for each one whose bytes do not
 * hash to its name, or that cannot be read (why says which); temp files of uploads in progress
 * (".tmp-") are left alone. *checked counts the files hashed. 0, or WP_EIO when the media
 * directory cannot be walked (a missing one holds no file: 0). cb's strings are borrowed. */
int wp_ingest_media_check_all(const char *media_dir, size_t *checked,
                              void (*cb)(void *ctx, const char *path, const char *why),
                              void *ctx);

/* Move every file of the media root from into the media root to (a node's own DIR/media into
 * the shared media_dir): each copied with its hash checked, fsynced and renamed into place,
 * then removed from from; one already in to (and whole) is just removed from from. A file whose
 * bytes do not match its name, or that cannot be removed, stays and is reported through
 * cb(ctx, path, why). *files and *bytes count what was copied. 0, or WP_EIO/WP_ENOSPC when a
 * copy could not be made (what was moved before stays moved: running it again goes on). */
int wp_ingest_media_adopt(const char *from, const char *to, size_t *files, int64_t *bytes,
                          void (*cb)(void *ctx, const char *path, const char *why), void *ctx);

/* With a master key: every plain media file the store lists gets each tenant that has it an
 * encrypted copy under its keyed name (checked against its sha256 as it is read), the row
 * names that copy, and the plain file goes once every tenant's copy is there; and every
 * encrypted file under an older key version than its tenant's newest (after `keys
 * rotate-tenant`) is re-encrypted under the newest, in place of the old (same name; a download
 * reading the old one meanwhile finishes with it). Resumable: a copy in place is kept, so
 * running it again goes on where it stopped. cb(ctx, path, why) for a file that is missing or
 * fails its check (left as it is). *converted counts the copies made, *removed the plain files
 * removed, *reencrypted the files re-encrypted. @return 0, WP_EINVAL (no master key), or
 * WP_EIO/WP_ENOSPC when a copy could not be made */
int wp_ingest_media_encrypt_all(wp_ingest *ing, size_t *converted, size_t *removed,
                                size_t *reencrypted,
                                void (*cb)(void *ctx, const char *path, const char *why),
                                void *ctx);

/* The bytes on disk of a media file of plain bytes: plain, or encrypted (the clear header and
 * 17 bytes a 64 KiB chunk; docs/internals/keys.md). */
int64_t wp_ingest_media_stored_size(int64_t plain, int encrypted);

/* An encrypted media file, checked whole (every chunk authenticated, the sha256 of the
 * plaintext compared) before its first byte is handed out; read in order. */
typedef struct wp_media_reader wp_media_reader;
/* Up to max bytes of the plaintext into buf: the count, 0 at the end, or WP_ECORRUPT when the
 * file changed since it was checked (the reply is cut off: the status went out already). */
long wp_media_reader_read(wp_media_reader *rd, void *buf, size_t max);
/* The first plaintext bytes (up to 12), for the type of an image. */
const unsigned char *wp_media_reader_head(const wp_media_reader *rd, size_t *len);
void wp_media_reader_free(wp_media_reader *rd); /* NULL is a no-op */

/* Open a stored media file for reading: *fd (a plain file, checked, at offset 0; *rd NULL) or
 * *rd (an encrypted one, checked; *fd -1), *size its plaintext bytes. WP_ENOTFOUND unless the
 * tenant has it; WP_ECORRUPT when its bytes fail the check; WP_EIO when it is missing. Caller
 * closes *fd or frees *rd. */
int wp_ingest_media_open(wp_ingest *ing, int *fd, wp_media_reader **rd, int64_t *size,
                         const char *tenant_id, const char *ref);

/* Media written encrypted outside serve, with one tenant's data key in hand (`workphone tenant
 * import`, inside the transaction that makes the tenant and its key; docs/internals/keys.md,
 * "Media"). name gets the keyed name of the content hash hex (64 lowercase hex) under the
 * tenant's data key of version 1 dk1, as serve names it. */
void wp_media_keyed_name(char name[65], const unsigned char dk1[32], const char *hex);
/* A file of plaintext whose sha256 is hex, written encrypted under data key dk of version
 * (and named with dk1) at <media_root>/ab/cd/<keyed name>: to a temp file beside it, fsynced,
 * renamed, the directory fsynced; the plaintext never reaches the disk. @return 0, WP_EINVAL
 * (a path too long), WP_EIO, WP_ENOSPC or WP_ENOMEM. Caller owns *out; release with
 * wp_media_sealer_finish() or wp_media_sealer_abort() (which removes the temp file). */
typedef struct wp_media_upload wp_media_sealer; /* an upload without an ingest */
int wp_media_sealer_begin(wp_media_sealer **out, const char *media_root,
                          const unsigned char dk1[32], const unsigned char dk[32], int64_t version,
                          const char *hex);
int wp_media_sealer_write(wp_media_sealer *w, const void *bytes, size_t len); /* WP_ELIMIT */
/* The plaintext's sha256 checked against hex (WP_ECORRUPT, nothing kept), then the file put in
 * place (a file already at its name is kept: the same tenant's same content); path gets its
 * full path. Frees w whatever it returns. */
int wp_media_sealer_finish(wp_media_sealer *w, char path[4096]);
void wp_media_sealer_abort(wp_media_sealer *w); /* NULL is a no-op */

/* Counters since the process started, for /metrics. Commit buckets are cumulative upper
 * bounds in microseconds: WP_INGEST_COMMIT_BUCKETS_US. */
#define WP_INGEST_COMMIT_BUCKETS 8
#define WP_INGEST_COMMIT_BUCKETS_US {1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000}
typedef struct wp_ingest_stats {
    uint64_t events;         /* events received in accepted batches (resends included) */
    uint64_t rejected;       /* events that failed validation, kept in quarantine */
    uint64_t alerts;         /* alerts raised by events */
    uint64_t off_duty_dropped; /* locations outside working hours handled, not kept ("drop") */
    uint64_t batches;        /* batches written */
    uint64_t transactions;   /* group commits (each holds one or more batches) */
    uint64_t retried_alone;  /* batches retried alone after a merged commit failed */
    uint64_t queue_depth;    /* batches waiting for the writer now */
    uint64_t queue_bytes;    /* and the bytes they hold */
    uint64_t queue_refused;  /* batches refused (503) because the queue was full */
    uint64_t commit_count, commit_us_sum;
    uint64_t commit_le[WP_INGEST_COMMIT_BUCKETS + 1]; /* per bucket, last is +Inf; not cumulative */
} wp_ingest_stats;

/* Fill *out with the counters. Thread-safe. */
void wp_ingest_stats_get(wp_ingest *ing, wp_ingest_stats *out);

/* 1 while the group-commit writer thread runs and takes batches, 0 once it is stopping (or
 * never started); for the readiness probe. Thread-safe. */
int wp_ingest_writer_running(wp_ingest *ing);

/* A phone number as the archive keeps it (what devices report is normalized the same way, so a
 * customer made by a person is found again by its calls): spaces, dashes, dots and brackets
 * dropped, an optional leading '+', 3..20 digits, "+86"/"0086" in front of a mainland mobile
 * dropped. WP_EINVAL saying why when it is not one. */
int wp_ingest_phone_normalize(char out[WP_ARCHIVE_PHONE_MAX + 1], const char *in);

/* A geofence as the API and the phones' policy show it (CONTRACT §7): {"id", "name",
 * "org_unit_id", "shape", "schedule", "created_at", "updated_at"}. New reference; NULL when out
 * of memory. */
struct wp_geofence;
json_t *wp_ingest_geofence_json(const struct wp_geofence *f);

#endif
