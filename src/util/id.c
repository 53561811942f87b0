/* SPDX-License-Identifier: MIT */
/* Ids and tokens. */
#include "util/id.h"
#include "util/error.h"
#include "util/clock.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

static const char hexd[] = "0123456789abcdef";

void wp_id_new(char out[WP_ID_LEN + 1])
{
    uint64_t ms = (uint64_t)(wp_time_now_us() / 1000);
    for (int i = 11; i >= 0; i--) {
        out[i] = hexd[ms & 15];
        ms >>= 4;
    }
    unsigned char r[6];
    randombytes_buf(r, sizeof r);
    for (int i = 0; i < 6; i++) {
        out[12 + 2 * i] = hexd[r[i] >> 4];
        out[13 + 2 * i] = hexd[r[i] & 15];
    }
    out[WP_ID_LEN] = '\0';
}

int wp_token_new(char *out, size_t cap, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (cap < pl + 44)
        return wp_error_set(WP_ELIMIT, "token buffer too small");
    unsigned char r[32];
    randombytes_buf(r, sizeof r);
    memcpy(out, prefix, pl);
    sodium_bin2base64(out + pl, cap - pl, r, sizeof r, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(r, sizeof r);
    return 0;
}

void wp_token_hash(char out[65], const char *token)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, 65, h, sizeof h);
}
