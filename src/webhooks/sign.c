/* SPDX-License-Identifier: MIT */
/* The signatures: ours on json deliveries, and those DingTalk's and Feishu's robots require. */
#include "webhooks/webhooks.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void hmac(unsigned char mac[crypto_auth_hmacsha256_BYTES], const char *key, size_t klen,
                 const char *msg1, size_t len1, const char *msg2, size_t len2)
{
    crypto_auth_hmacsha256_state h;
    crypto_auth_hmacsha256_init(&h, (const unsigned char *)key, klen);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)msg1, len1);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)msg2, len2);
    crypto_auth_hmacsha256_final(&h, mac);
    sodium_memzero(&h, sizeof h);
}

void wp_webhooks_sign_json(char out[WP_WEBHOOKS_SIG_MAX], const char *secret, int64_t t,
                           const char *body, size_t len)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char head[32], hex[2 * sizeof mac + 1];
    int n = snprintf(head, sizeof head, "%" PRId64 ".", t);
    hmac(mac, secret, strlen(secret), head, (size_t)n, body, len);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(out, WP_WEBHOOKS_SIG_MAX, "t=%" PRId64 ",v1=%s", t, hex);
}

void wp_webhooks_sign_dingtalk(char out[WP_WEBHOOKS_SIG_MAX], const char *secret, int64_t ts_ms)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char head[32];
    int n = snprintf(head, sizeof head, "%" PRId64 "\n", ts_ms);
    hmac(mac, secret, strlen(secret), head, (size_t)n, secret, strlen(secret));
    sodium_bin2base64(out, WP_WEBHOOKS_SIG_MAX, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
}

void wp_webhooks_sign_feishu(char out[WP_WEBHOOKS_SIG_MAX], const char *secret, int64_t ts_s)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char key[WP_WEBHOOK_SECRET_MAX + 32];
    int n = snprintf(key, sizeof key, "%" PRId64 "\n%s", ts_s, secret);
    hmac(mac, key, (size_t)n < sizeof key ? (size_t)n : sizeof key - 1, "", 0, "", 0);
    sodium_memzero(key, sizeof key);
    sodium_bin2base64(out, WP_WEBHOOKS_SIG_MAX, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
}
