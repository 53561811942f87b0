/* SPDX-License-Identifier: MIT */
/* The audit log (migration 0006; ops_audit.c, audit_key.c).
 * One row per write, login (and failed login), unmasking and export, never updated or
 * deleted by workphone. Each tenant's rows form a chain: row n carries seq n and the keyed
 * BLAKE2b of a canonical encoding of its fields and of row n-1's hash, so editing, removing
 * or inserting a row breaks the chain at that row. The key lives in the data dir
 * (keys/audit.key), not in the database: whoever can write the database alone cannot forge a
 * chain. */
#ifndef WP_STORE_AUDIT_H
#define WP_STORE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/id.h"

#define WP_AUDIT_KEY_LEN 32
#define WP_AUDIT_HASH_HEX 64
#define WP_AUDIT_FIELD_MAX 256           /* bytes of an actor or a target */
#define WP_AUDIT_DETAILS_MAX (16 * 1024) /* bytes of details */

/* Read <data_dir>/keys/audit.key, creating it (0600 in a 0700 dir, random) when create is
 * set and it is missing. A key file others may read, or of the wrong size, is refused.
 * @return 0; WP_ENOTFOUND (missing and !create); WP_EIO; WP_EINVAL (no data dir, or a path
 *         too long for the key or its temporary file). key is untouched on failure. */
int wp_audit_key_load(unsigned char key[WP_AUDIT_KEY_LEN], const char *data_dir, int create);

typedef struct wp_audit_entry {
    const char *tenant_id;
    int64_t ts_us;
    const char *actor;   /* "employee:<id>", "apikey:<id>", "device:<id>", "system" */
    const char *action;  /* dotted verb: "auth.login", "auth.login_failed", "employee.create",
                          * "customer.unmask", "lexicon.put", ... */
    const char *target;  /* "employee:<id>", "customer:<id>", ...; NULL or "" when none */
    const char *details; /* a JSON object as text; NULL for {} */
    const char *client;  /* the caller's address; NULL when none */
} wp_audit_entry;

/* Append one row to the tenant's chain, inside the caller's transaction when there is one (so
 * the row and the change it records commit together). ts_us 0 is now. The tenant's row stays
 * locked until that transaction ends: appends of one tenant are serialized, also across server
 * nodes on PostgreSQL (a transaction that appends and locks the tenant row itself must lock
 * it first, before its append). out_id (may be NULL) gets its id.
 * @return 0; WP_EINVAL (a field too long or with control characters, an action not of
 *         a-z 0-9 . _, details not a JSON object); WP_ENOTFOUND (no such tenant); WP_EIO */
int wp_store_audit_append(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                          const wp_audit_entry *e, char out_id[WP_ID_LEN + 1]);

/* Append n rows of one tenant (v[i].tenant_id all the same, else WP_EINVAL) as
 * wp_store_audit_append() does one, in order, with one lock and one move of the chain's end:
 * how buffered rows (reads) are written. out_id (may be NULL) gets the last row's id. */
int wp_store_audit_append_batch(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                                const wp_audit_entry *v, size_t n, char out_id[WP_ID_LEN + 1]);

typedef struct wp_audit_row {
    char id[WP_ID_LEN + 1];
    int64_t seq, ts_us;
    const char *actor, *action, *target, *details, *client; /* owned by the page */
    char prev_hash[WP_AUDIT_HASH_HEX + 1], hash[WP_AUDIT_HASH_HEX + 1];
} wp_audit_row;

typedef struct wp_audit_filter {
    const char *tenant_id;
    const char *actor, *action, *target; /* NULL: any; action "auth." matches a prefix */
    /* NULL: any; else rows about this customer: target "customer:<id>", and reads of
     * messages (messages.read, messages.search) whose details list it among "customers" */
    const char *customer_id;
    int64_t from_us, to_us;
    const char *cursor;
    unsigned limit;
} wp_audit_filter;

typedef struct wp_audit_page {
    wp_audit_row *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
    void *mem;
} wp_audit_page;

/* Rows, newest (highest seq) first, as stored. WP_EINVAL for a bad cursor or a filter
 * longer than WP_AUDIT_FIELD_MAX. Release with wp_audit_page_release(). */
int wp_store_audit_list(wp_store *st, wp_audit_page *out, const wp_audit_filter *f);
void wp_audit_page_release(wp_audit_page *p);

typedef struct wp_audit_verdict {
    int ok;            /* 1: every chain intact */
    int64_t rows;      /* rows checked */
    char tenant_id[WP_ID_LEN + 1]; /* when !ok: the chain that broke */
    int64_t bad_seq;   /* ... the first row that does not fit (for a removed row: the row after
                        * the gap) */
    char bad_id[WP_ID_LEN + 1];    /* "" when that row is gone */
    char why[160];     /* "row altered", "row 41 removed", "row inserted", ... */
    int notes;         /* chains that verified with a reservation: no length record yet */
    char note[240];    /* the first of them, naming its tenant; "" when none */
} wp_audit_verdict;

/* *any = 1 when the store holds at least one audit row, of any tenant (a lost key must not be
 * silently replaced then: every row would verify as altered). */
int wp_store_audit_any(wp_store *st, int *any);

/* Walk the chain of one tenant (or of every chain in the store, in tenant id order, when
 * tenant_id is NULL) from its first row, and compare its end with the head row. Stops at the
 * first row that does not fit: one whose contents do not hash to its hash ("row altered"),
 * one the chain goes around or that repeats a seq or lies past the head ("row inserted"),
 * a genuine row after a gap ("row N removed"), a head past the last row ("... removed from
 * the end"). Runs beside appends: it needs no snapshot. docs/internals/audit.md says what a
 * chain cannot show.
 * @return 0 with *out filled (a broken chain is not an error); WP_EIO; WP_ENOMEM */
int wp_store_audit_verify(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                          const char *tenant_id, wp_audit_verdict *out);

/* --- the end of the chain, and signed checkpoints (migration 0016) ---------------------------
 * An append also moves two records of where the chain ends, both keyed with the audit key: the
 * head's MAC (audit_heads.mac over tenant, seq, hash) and the tenant's length record
 * (tenants.audit_seq, audit_hash, audit_mac), so rows cut off the end are found even when the
 * head is set back or deleted. Verify reports such a record forged, missing, set back, or a log
 * deleted whole. A chain written before migration 0016 has neither until its next append:
 * verify passes it with a note. Whoever holds the audit key can rewrite all of that; a
 * checkpoint, signed with an Ed25519 key of its own and kept outside the database (the server
 * log), shows that the log still holds the rows it had then. */

#define WP_AUDIT_SIGN_SEED_LEN 32 /* an Ed25519 seed: keys/checkpoint.key */
#define WP_AUDIT_SIGN_PUB_LEN 32
#define WP_AUDIT_CHECKPOINT_LINE_MAX 400

/* Read <data_dir>/keys/checkpoint.key (the seed checkpoints are signed with), creating it when
 * create is set and it is missing, with the rules of wp_audit_key_load(). */
int wp_audit_sign_key_load(unsigned char seed[WP_AUDIT_SIGN_SEED_LEN], const char *data_dir,
                           int create);

/* The public key of a seed: what a checkpoint is checked with. */
void wp_audit_sign_public(unsigned char pub[WP_AUDIT_SIGN_PUB_LEN],
                          const unsigned char seed[WP_AUDIT_SIGN_SEED_LEN]);

/* A tenant's chain as it stood: its length (the last seq), that row's hash, when, and the
 * Ed25519 signature over those (domain "workphone.audit.checkpoint.v1"). */
typedef struct wp_audit_checkpoint {
    char tenant_id[WP_ID_LEN + 1];
    int64_t seq;
    char hash[WP_AUDIT_HASH_HEX + 1];
    int64_t ts_us;
    char key_id[17]; /* the first 16 hex digits of the public key that signed it */
    char sig[129];   /* hex */
} wp_audit_checkpoint;

/* Sign where tenant_id's chain ends now (made at now_us). The head is checked first (its MAC,
 * and the row it names): a head that does not verify is not signed.
 * @return 0; WP_ENOTFOUND (the tenant has no audit row yet, or only rows from before
 *         migration 0016 and no append since); WP_EIO (a head that does not verify, or store
 *         errors) */
int wp_store_audit_checkpoint(wp_store *st, wp_audit_checkpoint *out,
                              const unsigned char key[WP_AUDIT_KEY_LEN],
                              const unsigned char seed[WP_AUDIT_SIGN_SEED_LEN],
                              const char *tenant_id, int64_t now_us);

/* One logfmt line: "event=audit_checkpoint tenant=<id> seq=<n> hash=<hex> time_us=<n>
 * key=<16 hex> sig=<128 hex>". @return 0; WP_EINVAL when cap is too small */
int wp_audit_checkpoint_format(char *out, size_t cap, const wp_audit_checkpoint *cp);

/* The fields of such a line, wherever it is in a longer logfmt line (other keys are skipped).
 * @return 0; WP_EINVAL naming what is missing, repeated or malformed */
int wp_audit_checkpoint_parse(wp_audit_checkpoint *out, const char *line);

/* Whether the store still holds what cp signed: the signature checks with pub, the tenant's
 * chain verifies (as wp_store_audit_verify), and its row cp->seq is there with cp->hash.
 * A log rewritten with the audit key after the checkpoint, shorter or not, fails here.
 * @return 0 with *out filled (not ok: why); WP_EIO; WP_ENOMEM */
int wp_store_audit_verify_checkpoint(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                                     const unsigned char pub[WP_AUDIT_SIGN_PUB_LEN],
                                     const wp_audit_checkpoint *cp, wp_audit_verdict *out);

/* The tenants that have a chain (a head row), in id order: what serve checkpoints. Caller
 * frees *out (NULL when none). */
int wp_store_audit_chains(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n);

/* The hash the tenant's chain ends with (its head); the genesis hash when it has none. */
int wp_store_audit_head(wp_store *st, const char *tenant_id, char hash[WP_AUDIT_HASH_HEX + 1]);

/* An imported tenant's chain (`workphone tenant import`), verified with the key it came with
 * before this: hash every row again, in seq order, with this store's key, and move its head and
 * length record, so `audit verify` passes on this store's nodes. What the rows say is kept;
 * the caller appends a row saying it was re-sealed and where the source chain ended. Inside the
 * caller's transaction. *rows gets the rows re-sealed. */
int wp_store_audit_reseal(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                          const char *tenant_id, int64_t *rows);

#endif
