/* SPDX-License-Identifier: MIT */
/* The tenant's archive keys (archive.h): a record's encrypt_random_key is base64 of RSA
 * PKCS#1 v1.5 under the public key of its publickey_ver; WeCom rotates keys, so several are
 * kept, one per version. */
#include "wecom/archive.h"
#include "wecom/settings.h"
#include "util/error.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    int64_t version;
    EVP_PKEY *pk;
};

struct wp_wecom_keyring {
    struct entry *v;
    size_t n;
};

static int add_pem(wp_wecom_keyring *kr, int64_t version, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    BIO_free(bio);
    if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pk);
        return 0; /* checked when stored: left out */
    }
    struct entry *v = realloc(kr->v, (kr->n + 1) * sizeof *v);
    if (!v) {
        EVP_PKEY_free(pk);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    kr->v = v;
    v[kr->n].version = version;
    v[kr->n++].pk = pk;
    return 0;
}

int wp_wecom_keyring_from_pem(wp_wecom_keyring **out, const int64_t *versions,
                              const char *const *pems, size_t n)
{
    wp_wecom_keyring *kr = calloc(1, sizeof *kr);
    int err = 0;
    if (!kr)
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && err == 0; i++)
        err = add_pem(kr, versions[i], pems[i]);
    if (err < 0) {
        wp_wecom_keyring_free(kr);
        return err;
    }
    *out = kr;
    return 0;
}

int wp_wecom_keyring_new(wp_wecom_keyring **out, const wp_wecom_key_row *keys, size_t n,
                         const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id)
{
    wp_wecom_keyring *kr = calloc(1, sizeof *kr);
    int err = 0;
    if (!kr)
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && err == 0; i++) {
        char *pem = NULL, field[40];
        if (!keys[i].pem)
            continue;
        snprintf(field, sizeof field, "archive_key_%lld", (long long)keys[i].version);
        if (wp_wecom_unseal(&pem, key, tenant_id, field, keys[i].pem) < 0)
            continue; /* sealed under another audit key: as if missing (no_key, held) */
        err = add_pem(kr, keys[i].version, pem);
        sodium_memzero(pem, strlen(pem));
        free(pem);
    }
    if (err < 0) {
        wp_wecom_keyring_free(kr);
        return err;
    }
    *out = kr;
    return 0;
}

void wp_wecom_keyring_free(wp_wecom_keyring *kr)
{
    if (!kr)
        return;
    for (size_t i = 0; i < kr->n; i++)
        EVP_PKEY_free(kr->v[i].pk);
    free(kr->v);
    free(kr);
}

int wp_wecom_keyring_decrypt(wp_wecom_keyring *kr, char *out, size_t cap, int64_t version,
                             const char *b64)
{
    unsigned char ct[1024], pt[1024];
    size_t ctlen = 0, ptlen = sizeof pt;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    int err = 0;

    for (size_t i = 0; i < kr->n && !pk; i++)
        if (kr->v[i].version == version)
            pk = kr->v[i].pk;
    if (!pk)
        return wp_error_set(WP_ENOTFOUND, "no private key of version %lld", (long long)version);
    if (!b64 || sodium_base642bin(ct, sizeof ct, b64, strlen(b64), " \r\n", &ctlen, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) != 0 ||
        ctlen == 0)
        return wp_error_set(WP_EINVAL, "encrypt_random_key is not base64");
    if (!(ctx = EVP_PKEY_CTX_new(pk, NULL)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (EVP_PKEY_decrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_decrypt(ctx, pt, &ptlen, ct, ctlen) <= 0) {
        err = wp_error_set(WP_EINVAL, "the private key of version %lld does not open"
                                      " encrypt_random_key",
                           (long long)version);
        goto out;
    }
    if (ptlen == 0 || ptlen >= cap || memchr(pt, '\0', ptlen)) {
        err = wp_error_set(WP_EINVAL, "the random key of version %lld is not a key",
                           (long long)version);
        goto out;
    }
    memcpy(out, pt, ptlen);
    out[ptlen] = '\0';
out:
    sodium_memzero(pt, sizeof pt);
    EVP_PKEY_CTX_free(ctx);
    return err;
}
