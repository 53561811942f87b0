/* SPDX-License-Identifier: MIT */
/* A tenant's WeCom settings (CONTRACT §6) as workphone uses them: the secrets sealed at rest
 * (XChaCha20-Poly1305 under a key derived from the audit key, bound to the tenant and the
 * field, so the database alone reveals none and a sealed value cannot be moved to another
 * tenant or field), the archive's private keys checked and fingerprinted, and the whole loaded
 * with its secrets open for the code that calls WeCom. Nothing here logs a secret or puts one
 * in an error message. */
#ifndef WP_WECOM_SETTINGS_H
#define WP_WECOM_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "store/audit.h"
#include "store/store.h"
#include "store/wecom.h"
#include "store/wecom_archive.h"

#define WP_WECOM_PEM_MAX (16u * 1024)    /* bytes of a private key's PEM */
#define WP_WECOM_KEYS_MAX 32             /* private keys a tenant keeps */
#define WP_WECOM_KEY_BITS_MIN 1024       /* WeCom's keys are 2048 bits */

/* Seal plain (at most WP_WECOM_SECRET_MAX bytes, or a PEM up to WP_WECOM_PEM_MAX) for
 * tenant_id's field: "s1:" + base64 of nonce and box. *out is malloc'ed.
 * @return 0; WP_EINVAL (too long); WP_ENOMEM. Caller owns *out (free). */
int wp_wecom_seal(char **out, const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id,
                  const char *field, const char *plain);

/* Open what wp_wecom_seal() made for the same tenant and field. *out is malloc'ed and
 * NUL-terminated. @return 0; WP_EINVAL ("the sealed <field> does not open": another key, tenant
 * or field, or altered); WP_ENOMEM. Caller owns *out: wipe it (sodium_memzero) and free. */
int wp_wecom_unseal(char **out, const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id,
                    const char *field, const char *sealed);

/* What a private key is: its size and fingerprint ("sha256:" and 16 hex digits of the SHA-256
 * of its public key in DER). */
typedef struct wp_wecom_key_info {
    int bits;
    char fingerprint[WP_WECOM_FINGERPRINT_MAX + 1];
} wp_wecom_key_info;

/* Check that pem is an RSA private key (PKCS#1 or PKCS#8, unencrypted) of at least
 * WP_WECOM_KEY_BITS_MIN bits. @return 0; WP_EINVAL naming what is wrong (never the key). */
int wp_wecom_key_check(wp_wecom_key_info *out, const char *pem);

/* The settings with their secrets open ("" when not set). */
typedef struct wp_wecom_settings {
    wp_wecom_settings_row row; /* as stored: sealed fields */
    char callback_token[WP_WECOM_SECRET_MAX + 1];
    char encoding_aes_key[WP_WECOM_SECRET_MAX + 1];
    char contact_secret[WP_WECOM_SECRET_MAX + 1];
    char archive_secret[WP_WECOM_SECRET_MAX + 1];
    char proxy_password[WP_WECOM_SECRET_MAX + 1];
    const char *api_base; /* row.api_base, or WP_WECOM_API_BASE_DEFAULT */
} wp_wecom_settings;

/* Read and open the tenant's settings. @return 0; WP_ENOTFOUND (none); WP_EINVAL (a secret
 * does not open: the audit key changed); store errors. Wipe *out with wp_wecom_settings_wipe(). */
int wp_wecom_settings_load(wp_store *st, wp_wecom_settings *out,
                           const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id);
void wp_wecom_settings_wipe(wp_wecom_settings *s);

#endif
