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

struct wp_strpool;
/* A nullable text column that may hold a short sealed value (at says where) copied into the
 * pool opened (NULL stays NULL). @return 0, WP_ENOMEM, WP_EIO (wp_seal__open_text()) */
int wp_seal__col_dup(wp_store *st, struct wp_strpool **pool, const char **out, struct wp_stmt *s,
                     int col, const wp_seal_at *at);

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

/* What a stored value needs from seal-data: nothing (NULL, or sealed under newest), sealing
 * (plaintext), or sealing again (an older key version); BAD when it names no version. */
enum wp_seal_need { WP_SEAL_NEED_NONE, WP_SEAL_NEED_PLAIN, WP_SEAL_NEED_OLDER, WP_SEAL_NEED_BAD };
enum wp_seal_need wp_seal__need(const char *stored, int64_t newest);

/* Called for a row that could not be (re)sealed: what it is ("message", "customer", "phone
 * identity of customer"), its id and why (never its bytes). */
typedef void (*wp_seal_bad_fn)(void *ctx, const char *what, const char *id, const char *why);

/* Each of vals wiped and freed (NULL after). */
void wp_seal__vals_free(char **vals, int n);

/* The column's text copied (*out NULL for NULL). @return 0 or WP_ENOMEM */
int wp_seal__dup_col(char **out, struct wp_stmt *s, int col);

/* A row of seal-data: its tenant, what bad() calls it ("message"), its table, its n sealed
 * columns and its id (the associated data of each). */
struct wp_seal_row {
    const char *tenant_id, *what, *table;
    const char *const *cols;
    int n;
    const char *id;
};

/* The row's values (vals[c] of column cols[c]) each opened and sealed again under the newest
 * key when it needs it (need[c]; res[c] the form to write, ob[c] and sb[c] its buffers).
 * *act = 0: nothing to write (nothing needed, or a value that names no version or does not
 * open: reported to bad, counted in *problems); 1: something was plaintext; 2: re-sealed only.
 * @return 0 or the store's error */
int wp_seal__row(wp_store *st, int *act, const struct wp_seal_row *row, char *const *vals,
                 int64_t newest, wp_buf *ob, wp_buf *sb, const char **res, enum wp_seal_need *need,
                 int64_t *problems, wp_seal_bad_fn bad, void *ctx);

/* stored opened into b (*plain; legacy plaintext as it is), then sealed under the tenant's
 * newest key into out (*res, the form to write). @return 0, WP_EIO when it does not open */
int wp_seal__reseal(wp_store *st, wp_buf *b, wp_buf *out, const char **res, const char **plain,
                    const wp_seal_at *at, const char *stored);

/* A phone identity stored before the master key (its value the number itself) found by number
 * and converted in place, in the caller's transaction: its value becomes blind (the blind index
 * wp_seal__lookup() made of number), the number sealed beside it. Lookups call it when the
 * blind index missed: a store loaded without a key, or a node running without one, keeps such
 * rows until seal-data, and the customer they name is found through them meanwhile.
 * *customer = the identity's customer, "" when the tenant has no such row.
 * @return 0 or the store's error */
int wp_seal__identity_adopt(wp_store *st, char customer[WP_ID_LEN + 1], const char *tenant_id,
                            const char *blind, const char *number);

/* A table whose rows are sealed by their text id (the associated data's row): its name, what
 * seal-data's bad() calls a row of it ("call"), its sealed columns, and the statements of
 * wp_store_rows_seal_batch() and _count() (NULL for messages, which have their own). */
struct wp_seal_table {
    const char *table, *what;
    const char *const *cols;
    int n;
    const char *batch_lite, *batch_pg, *update, *count;
    const char *kind; /* only rows whose kind column is this (NULL: all) */
};

/* customers (name, phone, company, notes), calls and contact_events (peer_name, peer_phone,
 * raw), checkins (raw), alerts of kind sensitive_word (matched: the words a rule caught) */
extern const struct wp_seal_table wp_seal__customers, wp_seal__calls, wp_seal__contact_events,
    wp_seal__checkins, wp_seal__alerts;

/* The sealed columns of table (those above and messages: text, raw, peer_name, peer_phone),
 * NULL for a table that has none sealed by its row's id. Static; never freed. */
const struct wp_seal_table *wp_seal__table(const char *table);

/* Whether column is one of t's sealed columns (0 when t is NULL); _row_: in a row whose kind
 * column is kind (t->kind, when set, must be it). */
int wp_seal__col_sealed(const struct wp_seal_table *t, const char *column);
int wp_seal__row_sealed(const struct wp_seal_table *t, const char *column, const char *kind);

/* One batch of the tenant's rows of t after *after_id (by id, at most limit, in one
 * transaction): each row with a sealed column in plaintext or under an older version than
 * newest gets them sealed under the newest key (the associated data of ingest's write). A
 * value that does not open is left as it is, reported to bad. *after_id moves to the last row
 * read; *done = 1 when there are no more. The counts as wp_store_messages_seal_batch().
 * @return 0 or the store's error */
int wp_store_rows_seal_batch(wp_store *st, const struct wp_seal_table *t, const char *tenant_id,
                             int64_t newest, char after_id[WP_ID_LEN + 1], size_t limit, int *done,
                             int64_t *sealed, int64_t *resealed, int64_t *problems,
                             wp_seal_bad_fn bad, void *ctx);

/* How many of the tenant's rows of t hold a plaintext value (*plain) or one sealed under an
 * older version (*older) and none in plaintext. @return 0 or the store's error */
int wp_store_rows_seal_count(wp_store *st, const struct wp_seal_table *t, const char *tenant_id,
                             int64_t newest, int64_t *plain, int64_t *older);

/* One batch of the tenant's customers after *after_id (by id, at most limit): a name, phone,
 * company or notes in plaintext or under an older version than newest sealed under the newest;
 * then, with *done set, nothing else. The counts as wp_store_messages_seal_batch(). */
int wp_store_customers_seal_batch(wp_store *st, const char *tenant_id, int64_t newest,
                                  char after_id[WP_ID_LEN + 1], size_t limit, int *done,
                                  int64_t *sealed, int64_t *resealed, int64_t *problems,
                                  wp_seal_bad_fn bad, void *ctx);

/* One batch of the tenant's phone identities after *after (by value; "" first; at most limit;
 * after holds WP_SEAL_BLIND_LEN + 1 bytes or more, at least the longest number): each stored
 * by its number gets its blind index with the number sealed beside it (*indexed); each whose
 * sealed number is under an older version is sealed again (*resealed). A number whose blind
 * index another row holds already (written by a node without the key after the conversion)
 * is dropped when that row names the same customer, else left and reported to bad. */
int wp_store_identities_seal_batch(wp_store *st, const char *tenant_id, int64_t newest, char *after,
                                   size_t after_cap, size_t limit, int *done, int64_t *indexed,
                                   int64_t *resealed, int64_t *problems, wp_seal_bad_fn bad,
                                   void *ctx);

/* How many of the tenant's customers hold a plaintext field (*plain) or one sealed under an
 * older version (*older), and how many phone identities are still stored by their number
 * (*unindexed). @return 0 or the store's error */
int wp_store_customers_seal_count(wp_store *st, const char *tenant_id, int64_t newest,
                                  int64_t *plain, int64_t *older, int64_t *unindexed);

/* One batch of the tenant's messages after *after_rid (by rid, at most limit rows), in one
 * transaction: each row whose text, raw, peer_name or peer_phone is legacy plaintext, or sealed
 * under a key version older than newest, is sealed again under the tenant's newest data key; a row
 * whose text was plaintext gets its search entry rebuilt with keyed grams (its plain grams taken
 * out). A value that does not open is left as it is, reported to bad. *after_rid moves to the last
 * row read; *done = 1 when there are no more. The counts are added to. @return 0 or the store's
 * error */
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
 * emptying the WAL. PostgreSQL: VACUUM FULL of the sealed tables (messages, customers,
 * customer_identities, calls, contact_events, checkins), then CHECKPOINT (*incomplete = 1 with
 * its error in wp_error_last() when this user may not: the dead tuples are gone, the old WAL
 * segments stay until the server's next checkpoint). @return 0 or the store's error */
int wp_store_seal_compact(wp_store *st, int *incomplete);

#endif
