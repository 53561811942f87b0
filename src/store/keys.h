/* SPDX-License-Identifier: MIT */
/* The key hierarchy (migration 0035; keys.c; docs/internals/keys.md): a master key kept apart
 * from the data wraps the audit key, the checkpoint seed and each tenant's data keys, which
 * live wrapped in the store, so every node of a group reads them from the one database. */
#ifndef WP_STORE_KEYS_H
#define WP_STORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define WP_KEY_LEN 32    /* bytes of the master key and of every key it wraps */
#define WP_KEY_FP_LEN 16 /* hex digits of a fingerprint */
#define WP_KEY_WRAPPED_HEX ((24 + WP_KEY_LEN + 16) * 2) /* nonce, ciphertext, tag */
#define WP_KEY_COMMAND_TIMEOUT_MS 10000                 /* master_key_command= gets this long */
#define WP_KEY_OWNER_DEPLOYMENT "deployment" /* the owner of the audit key and the seed */

/* The master key in memory, with its fingerprint. Wipe it with wp_keys_master_wipe(). */
typedef struct wp_master_key {
    unsigned char key[WP_KEY_LEN];
    char fp[WP_KEY_FP_LEN + 1];
} wp_master_key;

/* The fingerprint of a key: the first 8 bytes of BLAKE2b-256 over the text
 * "workphone.key.fingerprint.v1" keyed with it, in hex. It names a key; it does not reveal it. */
void wp_keys_fingerprint(char fp[WP_KEY_FP_LEN + 1], const unsigned char key[WP_KEY_LEN]);

/* The master key from text: exactly 32 bytes as they are, or 64 hex digits, or base64 of 32
 * bytes (blanks and line ends around it dropped). what names the source in the message.
 * @return 0, or WP_EINVAL ("master key file '/k': not 32 bytes, 64 hex digits or base64 of
 *         32 bytes"); the text is never quoted */
int wp_keys_master_parse(wp_master_key *out, const char *text, size_t len, const char *what);

/* The master key from a file: a regular file, not a symlink, no permission for group and
 * others, outside data_dir (a backup copies the data dir; NULL: not checked).
 * @return 0; WP_ENOTFOUND when it does not exist; WP_EIO or WP_EINVAL with the reason */
int wp_keys_master_from_file(wp_master_key *out, const char *path, const char *data_dir);

/* The master key from a command: command split at blanks (no shell, no quoting), run with
 * stdin from /dev/null and stderr left to ours (the log); what it prints on stdout is the key
 * (wp_keys_master_parse). Killed after timeout_ms.
 * @return 0, or WP_EIO naming the command and why: it could not run, exited with N, was killed
 *         by a signal, timed out, printed no key */
int wp_keys_master_from_command(wp_master_key *out, const char *command, int timeout_ms);

void wp_keys_master_wipe(wp_master_key *mk);

/* Wrap key with crypto_aead_xchacha20poly1305_ietf under the master key, a random nonce, and
 * as associated data the text "workphone.key.v1", owner (the tenant id), purpose and version,
 * each length-prefixed: a wrapped key copied to another tenant, purpose or version does not
 * open. out gets WP_KEY_WRAPPED_HEX hex digits and a NUL. */
void wp_keys_wrap(char out[WP_KEY_WRAPPED_HEX + 1], const wp_master_key *mk,
                  const unsigned char key[WP_KEY_LEN], const char *owner, const char *purpose,
                  int64_t version);

/* Open what wp_keys_wrap() made with the same owner, purpose and version.
 * @return 0, or WP_ECORRUPT when it is not hex of the right length or does not open (altered,
 *         another master key, other associated data); key untouched on failure */
int wp_keys_unwrap(unsigned char key[WP_KEY_LEN], const wp_master_key *mk, const char *wrapped,
                   const char *owner, const char *purpose, int64_t version);

/* --- the store's wrapped keys --------------------------------------------------------- */

/* Read and unwrap a key: version 0 is the newest one not retired. *version_out (may be NULL)
 * gets its version.
 * @return 0; WP_ENOTFOUND when there is none; WP_EAUTH when it was wrapped by another master
 *         key (the message names both fingerprints); WP_ECORRUPT when it does not open */
int wp_store_keys_get(wp_store *st, unsigned char key[WP_KEY_LEN], int64_t *version_out,
                      const wp_master_key *mk, const char *owner, const char *purpose,
                      int64_t version);

/* Read version 1 of a key, or make it when there is none: the bytes of import (a key file
 * that `keys migrate` moves into the store), else random ones. Two callers at once end with
 * one key (the loser reads the winner's). When import is given and the store holds another
 * key already: WP_EEXISTS. Else as wp_store_keys_get(). */
int wp_store_keys_ensure(wp_store *st, unsigned char key[WP_KEY_LEN], const wp_master_key *mk,
                         const char *owner, const char *purpose, const unsigned char *import);

/* A new version of a key (random), the newest from now on; the older ones stay readable.
 * @return 0 with *version_out, WP_ENOTFOUND when there is no version yet, or as
 *         wp_store_keys_get() for the newest one (it proves mk is the store's master key) */
int wp_store_keys_rotate(wp_store *st, int64_t *version_out, const wp_master_key *mk,
                         const char *owner, const char *purpose);

/* Rewrap every key under next, in one transaction (none or all): each must open with cur.
 * *n gets how many. @return 0, or as wp_store_keys_get() */
int wp_store_keys_rewrap(wp_store *st, int64_t *n, const wp_master_key *cur,
                         const wp_master_key *next);

/* One wrapped key as `keys status` shows it: never its bytes. */
typedef struct wp_key_info {
    char owner[64], purpose[16];
    int64_t version, created_us, retired_us; /* retired_us 0: read still */
    char master_fp[WP_KEY_FP_LEN + 1];
} wp_key_info;

/* Every wrapped key, by owner, purpose and version. Caller frees *out with free().
 * @return 0 or WP_EIO, WP_ENOMEM */
int wp_store_keys_list(wp_store *st, wp_key_info **out, size_t *n);

/* The fingerprint of the master key that wraps the store's audit key into fp, or "" when the
 * store has no wrapped keys (an install that keeps its keys in files). @return 0 or WP_EIO */
int wp_store_keys_master_fp(wp_store *st, char fp[WP_KEY_FP_LEN + 1]);

#endif
