/* SPDX-License-Identifier: MIT */
/* argon2id password hashes. */
#include "util/password.h"
#include "util/error.h"
#include "util/utf8.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

int wp_password_check(const char *pw)
{
    size_t len = strlen(pw);
    if (len == 0)
        return wp_error_set(WP_EINVAL, "password is empty");
    if (len > WP_PASSWORD_MAX)
        return wp_error_set(WP_EINVAL, "password is longer than %d bytes", WP_PASSWORD_MAX);
    if (!wp_utf8_valid(pw, len))
        return wp_error_set(WP_EINVAL, "password is not valid UTF-8");
    if (wp_utf8_count(pw, len) < WP_PASSWORD_MIN)
        return wp_error_set(WP_EINVAL, "password is shorter than %d characters", WP_PASSWORD_MIN);
    if (strspn(pw, " \t\r\n") == len)
        return wp_error_set(WP_EINVAL, "password is only whitespace");
    return 0;
}

int wp_password_hash(char out[WP_PASSWORD_HASH_MAX], const char *pw)
{
    int err = wp_password_check(pw);
    if (err < 0)
        return err;
    if (sodium_init() < 0)
        return wp_error_set(WP_ENOMEM, "libsodium failed to start");
    static_assert(crypto_pwhash_STRBYTES <= WP_PASSWORD_HASH_MAX, "hash buffer too small");
    if (crypto_pwhash_str_alg(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return wp_error_set(WP_ENOMEM, "out of memory while hashing a password");
    return 0;
}

int wp_password_verify(const char *hash, const char *pw)
{
    if (sodium_init() < 0)
        return 0;
    return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}
