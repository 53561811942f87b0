/* SPDX-License-Identifier: MIT */
/* WeCom settings: sealed secrets, checked private keys, loading (settings.h). */
#include "wecom/settings.h"
#include "store/wecom_archive.h"
#include "util/error.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_PREFIX "s1:"
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

/* The sealing key: a subkey of the audit key, so a data dir's keys stay one file. */
static void seal_key(unsigned char out[crypto_aead_xchacha20poly1305_ietf_KEYBYTES],
                     const unsigned char key[WP_AUDIT_KEY_LEN])
{
    crypto_kdf_derive_from_key(out, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, 16,
                               "wpwecom_", key);
}

/* What a sealed value is bound to: "<tenant>\n<field>". */
static int bound(char *out, size_t cap, const char *tenant_id, const char *field)
{
    int n = snprintf(out, cap, "%s\n%s", tenant_id ? tenant_id : "", field ? field : "");
    if (n < 0 || (size_t)n >= cap)
        return wp_error_set(WP_EINVAL, "tenant or field name is too long");
    return n;
}

int wp_wecom_seal(char **out, const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id,
                  const char *field, const char *plain)
{
    unsigned char k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    char ad[128];
    size_t len = strlen(plain);
    int adlen, err = 0;

    if (len > WP_WECOM_PEM_MAX)
        return wp_error_set(WP_EINVAL, "'%s' is longer than %u bytes", field, WP_WECOM_PEM_MAX);
    if ((adlen = bound(ad, sizeof ad, tenant_id, field)) < 0)
        return adlen;
    size_t blen = NONCE_LEN + len + TAG_LEN;
    size_t b64 = sodium_base64_encoded_len(blen, sodium_base64_VARIANT_ORIGINAL);
    unsigned char *box = malloc(blen);
    char *s = malloc(sizeof SEAL_PREFIX + b64);
    if (!box || !s) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    seal_key(k, key);
    randombytes_buf(box, NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(box + NONCE_LEN, NULL, (const unsigned char *)plain,
                                               len, (const unsigned char *)ad, (size_t)adlen,
                                               NULL, box, k);
    memcpy(s, SEAL_PREFIX, sizeof SEAL_PREFIX - 1);
    sodium_bin2base64(s + sizeof SEAL_PREFIX - 1, b64, box, blen,
                      sodium_base64_VARIANT_ORIGINAL);
    *out = s;
    s = NULL;
out:
    sodium_memzero(k, sizeof k);
    free(box);
    free(s);
    return err;
}

int wp_wecom_unseal(char **out, const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id,
                    const char *field, const char *sealed)
{
    unsigned char k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    char ad[128];
    size_t blen = 0, plen = 0;
    int adlen, err = 0;
    unsigned char *box = NULL;
    char *plain = NULL;

    if ((adlen = bound(ad, sizeof ad, tenant_id, field)) < 0)
        return adlen;
    size_t slen = sealed ? strlen(sealed) : 0;
    if (slen < sizeof SEAL_PREFIX - 1 || memcmp(sealed, SEAL_PREFIX, sizeof SEAL_PREFIX - 1) != 0)
        return wp_error_set(WP_EINVAL, "the sealed %s is not a sealed value", field);
    slen -= sizeof SEAL_PREFIX - 1;
    if (!(box = malloc(slen + 1))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (sodium_base642bin(box, slen + 1, sealed + sizeof SEAL_PREFIX - 1, slen, NULL, &blen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        blen < NONCE_LEN + TAG_LEN) {
        err = wp_error_set(WP_EINVAL, "the sealed %s does not open", field);
        goto out;
    }
    if (!(plain = malloc(blen - NONCE_LEN - TAG_LEN + 1))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    seal_key(k, key);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)plain, (unsigned long long *)&plen, NULL, box + NONCE_LEN,
            blen - NONCE_LEN, (const unsigned char *)ad, (size_t)adlen, box, k) != 0) {
        err = wp_error_set(WP_EINVAL, "the sealed %s does not open (another audit key?)", field);
        goto out;
    }
    plain[plen] = '\0';
    *out = plain;
    plain = NULL;
out:
    sodium_memzero(k, sizeof k);
    if (plain) {
        sodium_memzero(plain, blen - NONCE_LEN - TAG_LEN + 1);
        free(plain);
    }
    free(box);
    return err;
}

int wp_wecom_key_check(wp_wecom_key_info *out, const char *pem)
{
    unsigned char *der = NULL, digest[32];
    char hex[65];
    EVP_PKEY *pk = NULL;
    BIO *bio = NULL;
    int err = 0, len;

    if (!pem || !*pem)
        return wp_error_set(WP_EINVAL, "the key is empty");
    if (strlen(pem) > WP_WECOM_PEM_MAX)
        return wp_error_set(WP_EINVAL, "the key is longer than %u bytes", WP_WECOM_PEM_MAX);
    if (!(bio = BIO_new_mem_buf(pem, -1)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    /* no passphrase callback: an encrypted key is refused rather than prompted for */
    pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    if (!pk) {
        err = wp_error_set(WP_EINVAL, "not a PEM private key (PKCS#1 or PKCS#8, unencrypted)");
        goto out;
    }
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        err = wp_error_set(WP_EINVAL, "not an RSA key");
        goto out;
    }
    if (EVP_PKEY_get_bits(pk) < WP_WECOM_KEY_BITS_MIN) {
        err = wp_error_set(WP_EINVAL, "an RSA key of %d bits: at least %d are needed",
                           EVP_PKEY_get_bits(pk), WP_WECOM_KEY_BITS_MIN);
        goto out;
    }
    if ((len = i2d_PUBKEY(pk, &der)) <= 0) {
        err = wp_error_set(WP_EINVAL, "the key's public half cannot be encoded");
        goto out;
    }
    crypto_hash_sha256(digest, der, (unsigned long long)len);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    out->bits = EVP_PKEY_get_bits(pk);
    snprintf(out->fingerprint, sizeof out->fingerprint, "sha256:%.16s", hex);
out:
    OPENSSL_free(der);
    EVP_PKEY_free(pk);
    BIO_free(bio);
    return err;
}

/* Open one sealed field into out ("" when not set). */
static int open_field(char *out, size_t cap, const unsigned char *key, const char *tenant_id,
                      const char *field, const char *sealed)
{
    char *plain = NULL;
    int err;
    out[0] = '\0';
    if (!sealed[0])
        return 0;
    if ((err = wp_wecom_unseal(&plain, key, tenant_id, field, sealed)) < 0)
        return err;
    size_t n = strlen(plain);
    if (n >= cap)
        err = wp_error_set(WP_EINVAL, "the sealed %s is too long", field);
    else
        memcpy(out, plain, n + 1);
    sodium_memzero(plain, n);
    free(plain);
    return err;
}

int wp_wecom_settings_load(wp_store *st, wp_wecom_settings *out,
                           const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id)
{
    wp_wecom_settings *s = out;
    int err;
    memset(s, 0, sizeof *s);
    if ((err = wp_store_wecom_settings_get(st, &s->row, tenant_id)) < 0)
        return err;
    if ((err = open_field(s->callback_token, sizeof s->callback_token, key, tenant_id,
                          "callback_token", s->row.callback_token)) < 0 ||
        (err = open_field(s->encoding_aes_key, sizeof s->encoding_aes_key, key, tenant_id,
                          "encoding_aes_key", s->row.encoding_aes_key)) < 0 ||
        (err = open_field(s->contact_secret, sizeof s->contact_secret, key, tenant_id,
                          "contact_secret", s->row.contact_secret)) < 0 ||
        (err = open_field(s->archive_secret, sizeof s->archive_secret, key, tenant_id,
                          "archive_secret", s->row.archive_secret)) < 0 ||
        (err = open_field(s->proxy_password, sizeof s->proxy_password, key, tenant_id,
                          "proxy_password", s->row.proxy_password)) < 0) {
        wp_wecom_settings_wipe(s);
        return err;
    }
    s->api_base = s->row.api_base[0] ? s->row.api_base : WP_WECOM_API_BASE_DEFAULT;
    return 0;
}

void wp_wecom_settings_wipe(wp_wecom_settings *s)
{
    if (s)
        sodium_memzero(s, sizeof *s);
}
