/* SPDX-License-Identifier: MIT */
/* Password hashing (argon2id, libsodium) and the password policy. */
#ifndef WP_UTIL_PASSWORD_H
#define WP_UTIL_PASSWORD_H

#include <stddef.h>

#define WP_PASSWORD_MIN 8    /* characters */
#define WP_PASSWORD_MAX 256  /* bytes */
#define WP_PASSWORD_HASH_MAX 128

/* Check a new password against the policy: WP_PASSWORD_MIN..MAX, valid UTF-8, not all
 * whitespace. Returns 0 or WP_EINVAL with a message saying what is wrong (never the password). */
int wp_password_check(const char *pw);

/* Hash a password with argon2id (interactive limits) into out (NUL-terminated).
 * Returns 0, WP_EINVAL (policy) or WP_ENOMEM. */
int wp_password_hash(char out[WP_PASSWORD_HASH_MAX], const char *pw);

/* 1 when pw matches the stored hash, 0 when not (or the hash is malformed). */
int wp_password_verify(const char *hash, const char *pw);

#endif
