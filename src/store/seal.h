/* SPDX-License-Identifier: MIT */
/* Sealed fields (docs/internals/encryption.md, "Sealed fields"): a value encrypted with
 * XChaCha20-Poly1305 under a tenant's data key, bound to the tenant, table, column and row it
 * belongs to, and the process's keyring of unwrapped tenant keys that the store seals and
 * opens with. Without a keyring (no master key) nothing is sealed and values read as stored. */
#ifndef WP_STORE_SEAL_H
#define WP_STORE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/keys.h"
#include "store/store.h"
#include "util/buf.h"

/* The first byte of a sealed value. A stored value that does not start with it is legacy
 * plaintext, read as it is. */
#define WP_SEAL_V1 '\x01'

/* The cap of a buffer that holds a short field sealed (a phone, a name: 4/3 of 256 bytes and
 * the format's 56 characters fit). */
#define WP_SEAL_SMALL_MAX 1024
/* The cap of one that holds a customer's notes sealed (4,000 characters of 4 bytes). */
#define WP_SEAL_NOTES_MAX (32u * 1024)

/* Where a value lives: its associated data. */
typedef struct wp_seal_at {
    const char *tenant_id, *table, *column, *row_id;
} wp_seal_at;

/* --- the format (no keyring involved) ------------------------------------------------------ */

/* Seal len bytes of plain with key (key_version is written beside it) for the place at.
 * out gets the stored text: WP_SEAL_V1, then base64 (URL-safe, no padding) of the key version
 * (varint), a random 24-byte nonce, the ciphertext and its 16-byte tag. The associated data is
 * the version byte, the key version and at's four strings, each length-prefixed.
 * @return 0 or WP_ENOMEM */
int wp_seal__seal(wp_buf *out, const unsigned char key[WP_KEY_LEN], int64_t key_version,
                  const wp_seal_at *at, const char *plain, size_t len);

/* The key version a sealed value names. @return 0, or WP_ECORRUPT (not a sealed value, or
 * cut short) */
int wp_seal__version(int64_t *key_version, const char *stored, size_t len);

/* Open what wp_seal__seal() made with the same key and place into out (NUL-terminated).
 * @return 0, or WP_ECORRUPT when it was altered, moved to another place or sealed under
 *         another key; out holds nothing then */
int wp_seal__open(wp_buf *out, const unsigned char key[WP_KEY_LEN], const wp_seal_at *at,
                  const char *stored, size_t len);

static inline int wp_seal__is_sealed(const char *stored)
{
    return stored && stored[0] == WP_SEAL_V1;
}

/* --- the keyring: the process's tenants' keys ---------------------------------------------- */

/* Give the store the master key (copied; serve and the commands that load one call this), or
 * take it away (NULL: every cached key wiped). Without one nothing is sealed. */
void wp_seal_keyring_set(const wp_master_key *mk);

/* Whether a master key is set. */
int wp_seal_keyring_on(void);

/* Seal plain for at under the tenant's newest data key when a keyring is set: *res points
 * into b (sealed) or is plain itself (no keyring, or plain NULL). @return 0 or the key's
 * error (wp_store_keys_get) */
int wp_seal__text(wp_store *st, wp_buf *b, const char **res, const wp_seal_at *at,
                  const char *plain);

/* Open a stored value: *res is stored itself when it is NULL or legacy plaintext, else its
 * plaintext in b. A value that does not open (wp_seal__open()'s WP_ECORRUPT, or no keyring)
 * is logged (event=seal_open, the place, never the bytes) and gives WP_EIO, whose message
 * names the place only: the API answers a 500 internal_error and keeps the message in its log
 * (WP_ECORRUPT would be the API's media_corrupt 503, which is shown). */
int wp_seal__open_text(wp_store *st, wp_buf *b, const char **res, const wp_seal_at *at,
                       const char *stored);

/* The tenant's gram key (crypto_kdf, context "wpgrams", from data key version 1: it does not
 * rotate with the data key) into key; *have = 0 when no keyring is set (grams stay plain). */
int wp_seal__gram_key(wp_store *st, unsigned char key[WP_KEY_LEN], int *have,
                      const char *tenant_id);

struct wp_stmt;

/* wp_db_col_copy_opt() of a column that may hold a short sealed value (at says where): a
 * sealed value is opened into buf (cap bytes with its NUL), legacy plaintext copied, NULL ""
 * @return 0, WP_EIO (too long, or it does not open: wp_seal__open_text()) */
int wp_seal__col_copy_opt(wp_store *st, struct wp_stmt *s, int col, char *buf, size_t cap,
                          const wp_seal_at *at);

/* --- blind indexes: lookups of phone identities ------------------------------------------- */

/* The first byte of a blind index as stored; then base64 (URL-safe, no padding) of 16 bytes. */
#define WP_SEAL_BLIND '\x02'
#define WP_SEAL_BLIND_LEN 23

/* The blind index of value under an index key into out (NUL-terminated): the first 16 bytes
 * of BLAKE2b keyed with key over value as the store has it (phones are digits already:
 * ingest's wp_ingest_phone_normalize and the API's check). */
void wp_seal__blind_make(char out[WP_SEAL_BLIND_LEN + 1], const unsigned char key[WP_KEY_LEN],
                         const char *value);

/* What an identity of kind is stored and looked up by: a phone's blind index under the
 * tenant's index key (crypto_kdf, context "wpblind", from data key version 1: it does not
 * rotate) when a keyring is set, else value itself; other kinds (WeChat, WeCom ids, e-mail)
 * stay as they are. *res points at out or is value. @return 0 or the key's error */
int wp_seal__lookup(wp_store *st, char out[WP_SEAL_BLIND_LEN + 1], const char **res,
                    const char *tenant_id, const char *kind, const char *value);
/* --- sealing the rows written before the master key (`keys seal-data`) -------------------- */

/* Called for a row that could not be (re)sealed: its id and why (never its bytes). */
typedef void (*wp_seal_bad_fn)(void *ctx, const char *message_id, const char *why);

/* One batch of the tenant's messages after *after_rid (by rid, at most limit rows), in one
 * transaction: each row whose text or raw is legacy plaintext, or sealed under a key version
 * older than newest, is sealed again under the tenant's newest data key; a row whose text was
 * plaintext gets its search entry rebuilt with keyed grams (its plain grams taken out). A value
 * that does not open is left as it is, reported to bad. *after_rid moves to the last row read;
 * *done = 1 when there are no more. The counts are added to. @return 0 or the store's error */
int wp_store_messages_seal_batch(wp_store *st, const char *tenant_id, int64_t newest,
                                 int64_t *after_rid, size_t limit, int *done, int64_t *sealed,
                                 int64_t *resealed, int64_t *problems, wp_seal_bad_fn bad,
                                 void *ctx);

/* The tenant's flag tenants.plain_messages (migration 0041): set when it has a message text
 * in plain text (`keys migrate`; *set = whether it is set now), cleared when it has none left
 * (`keys seal-data`). While it is set a search asks the index for the query's plain grams as
 * well as its keyed ones. @return 0 or the store's error */
int wp_store_messages_plain_mark(wp_store *st, const char *tenant_id, int *set);
int wp_store_messages_plain_clear(wp_store *st, const char *tenant_id, int *cleared);

/* Whether the tenant's flag is set. @return 0 or the store's error */
int wp_store_messages_plain_get(wp_store *st, const char *tenant_id, int *set);

/* How many of the tenant's messages are still plaintext (*plain) or sealed under a key
 * version older than newest (*older). @return 0 or the store's error */
int wp_store_messages_seal_count(wp_store *st, const char *tenant_id, int64_t newest,
                                 int64_t *plain, int64_t *older);

/* After rows were sealed: leave none of their old plaintext in the store's files. SQLite:
 * the search index optimized (its deleted entries merged away), secure_delete on, VACUUM,
 * then a WAL checkpoint(TRUNCATE); *incomplete = 1 when readers kept the checkpoint from
 * emptying the WAL. PostgreSQL: VACUUM FULL messages, then CHECKPOINT (*incomplete = 1 with
 * its error in wp_error_last() when this user may not: the dead tuples are gone, the old WAL
 * segments stay until the server's next checkpoint). @return 0 or the store's error */
int wp_store_seal_compact(wp_store *st, int *incomplete);

#endif
