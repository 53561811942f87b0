/* SPDX-License-Identifier: MIT */
/* The callback's crypto as WeCom documents it: a SHA-1 signature, AES-256-CBC with the
 * EncodingAESKey (OpenSSL's libcrypto; libsodium has no CBC). */
#include "wecom/wecom.h"
#include "util/error.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 32 /* WeCom pads to 32-byte blocks (PKCS#7 with k = 32), not AES's 16 */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void wp_wecom_signature(char out[41], const char *token, const char *timestamp, const char *nonce,
                        const char *encrypted)
{
    const char *v[4] = {token, timestamp, nonce, encrypted};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    qsort(v, 4, sizeof *v, cmp_str);
    out[0] = '\0';
    if (c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1 &&
        EVP_DigestUpdate(c, v[0], strlen(v[0])) == 1 &&
        EVP_DigestUpdate(c, v[1], strlen(v[1])) == 1 &&
        EVP_DigestUpdate(c, v[2], strlen(v[2])) == 1 &&
        EVP_DigestUpdate(c, v[3], strlen(v[3])) == 1 && EVP_DigestFinal_ex(c, md, &md_len) == 1 &&
        md_len == 20)
        sodium_bin2hex(out, 41, md, 20);
    EVP_MD_CTX_free(c);
}

int wp_wecom_signature_ok(const char *sig, const char *token, const char *timestamp,
                          const char *nonce, const char *encrypted)
{
    char want[41], got[41];
    if (!sig || strlen(sig) != 40)
        return 0;
    for (int i = 0; i < 40; i++)
        got[i] = (char)(sig[i] >= 'A' && sig[i] <= 'F' ? sig[i] + 32 : sig[i]);
    got[40] = '\0';
    wp_wecom_signature(want, token, timestamp, nonce, encrypted);
    return want[0] && sodium_memcmp(want, got, 40) == 0;
}

/* The 32-byte key of a 43-character EncodingAESKey: base64 of 258 bits, whose last 2 WeCom
 * does not keep at zero, so a strict decoder (libsodium's) refuses real keys. */
static int aes_key(unsigned char key[32], const char *encoding_aes_key)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    if (!encoding_aes_key || strlen(encoding_aes_key) != WP_WECOM_AES_KEY_LEN)
        return wp_error_set(WP_EINVAL, "the EncodingAESKey must be %d characters",
                            WP_WECOM_AES_KEY_LEN);
    for (size_t i = 0; i < WP_WECOM_AES_KEY_LEN; i++) {
        const char *p = memchr(abc, encoding_aes_key[i], 64);
        if (!p || !encoding_aes_key[i])
            return wp_error_set(WP_EINVAL, "the EncodingAESKey is not base64");
        acc = (acc << 6) | (uint32_t)(p - abc);
        bits += 6;
        if (bits >= 8 && k < 32) {
            bits -= 8;
            key[k++] = (unsigned char)(acc >> bits);
        }
    }
    return 0;
}

/* AES-256-CBC without OpenSSL's padding (ours is to 32 bytes): in and out len bytes, a
 * multiple of 16. */
static int cbc(unsigned char *out, const unsigned char *in, size_t len, const unsigned char key[32],
               int enc)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0, ok;
    ok = c && len <= INT32_MAX &&
         EVP_CipherInit_ex(c, EVP_aes_256_cbc(), NULL, key, key, enc) == 1 &&
         EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
         EVP_CipherUpdate(c, out, &n1, in, (int)len) == 1 &&
         EVP_CipherFinal_ex(c, out + n1, &n2) == 1 && (size_t)(n1 + n2) == len;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : wp_error_set(WP_EINVAL, "aes: the message does not decrypt");
}

int wp_wecom_decrypt(char **out, size_t *len, char receiver[WP_WECOM_ID_MAX + 1],
                     const char *aes_key_text, const char *b64)
{
    unsigned char key[32], *raw = NULL, *plain = NULL;
    size_t b64_len = b64 ? strlen(b64) : 0, raw_len = 0;
    int err;

    if ((err = aes_key(key, aes_key_text)) < 0)
        return err;
    if (b64_len == 0 || b64_len > 4 * (size_t)WP_WECOM_BODY_MAX)
        return wp_error_set(WP_EINVAL, "the encrypted message is empty or too long");
    if (!(raw = malloc(b64_len)) || !(plain = malloc(b64_len))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (sodium_base642bin(raw, b64_len, b64, b64_len, "\r\n", &raw_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        err = wp_error_set(WP_EINVAL, "the encrypted message is not base64");
        goto out;
    }
    if (raw_len == 0 || raw_len % BLOCK != 0) {
        err = wp_error_set(WP_EINVAL, "the encrypted message is not whole 32-byte blocks");
        goto out;
    }
    if ((err = cbc(plain, raw, raw_len, key, 0)) < 0)
        goto out;
    size_t pad = plain[raw_len - 1];
    if (pad < 1 || pad > BLOCK) {
        err = wp_error_set(WP_EINVAL, "the message's padding is wrong");
        goto out;
    }
    for (size_t i = 1; i <= pad; i++)
        if (plain[raw_len - i] != pad) {
            err = wp_error_set(WP_EINVAL, "the message's padding is wrong");
            goto out;
        }
    size_t body = raw_len - pad;
    if (body < 20) {
        err = wp_error_set(WP_EINVAL, "the message is too short");
        goto out;
    }
    size_t msg_len = (size_t)plain[16] << 24 | (size_t)plain[17] << 16 | (size_t)plain[18] << 8 |
                     (size_t)plain[19];
    if (msg_len > body - 20) {
        err = wp_error_set(WP_EINVAL, "the message's length is wrong");
        goto out;
    }
    size_t rlen = body - 20 - msg_len;
    if (rlen > WP_WECOM_ID_MAX)
        rlen = WP_WECOM_ID_MAX;
    memcpy(receiver, plain + 20 + msg_len, rlen);
    receiver[rlen] = '\0';
    char *m = malloc(msg_len + 1);
    if (!m) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(m, plain + 20, msg_len);
    m[msg_len] = '\0';
    *out = m;
    *len = msg_len;
    err = 0;
out:
    if (plain)
        sodium_memzero(plain, b64_len);
    free(raw);
    free(plain);
    sodium_memzero(key, sizeof key);
    return err;
}

int wp_wecom_encrypt(char **out, const char *aes_key_text, const char *msg, size_t len,
                     const char *receiver, const unsigned char random16[16])
{
    unsigned char key[32], *plain = NULL, *enc = NULL;
    size_t rlen = strlen(receiver), body = 20 + len + rlen, total, b64_cap;
    char *b64 = NULL;
    int err;

    if ((err = aes_key(key, aes_key_text)) < 0)
        return err;
    if (len > WP_WECOM_BODY_MAX)
        return wp_error_set(WP_ELIMIT, "message too long");
    total = (body / BLOCK + 1) * BLOCK;
    b64_cap = sodium_base64_ENCODED_LEN(total, sodium_base64_VARIANT_ORIGINAL);
    if (!(plain = malloc(total)) || !(enc = malloc(total)) || !(b64 = malloc(b64_cap))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(plain, random16, 16);
    plain[16] = (unsigned char)(len >> 24);
    plain[17] = (unsigned char)(len >> 16);
    plain[18] = (unsigned char)(len >> 8);
    plain[19] = (unsigned char)len;
    memcpy(plain + 20, msg, len);
    memcpy(plain + 20 + len, receiver, rlen);
    memset(plain + body, (int)(total - body), total - body);
    if ((err = cbc(enc, plain, total, key, 1)) < 0)
        goto out;
    sodium_bin2base64(b64, b64_cap, enc, total, sodium_base64_VARIANT_ORIGINAL);
    *out = b64;
    b64 = NULL;
out:
    free(plain);
    free(enc);
    free(b64);
    sodium_memzero(key, sizeof key);
    return err;
}
