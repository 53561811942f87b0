/* SPDX-License-Identifier: MIT */
/* Opaque ids and secret tokens from libsodium's random generator. */
#ifndef WP_UTIL_ID_H
#define WP_UTIL_ID_H

#include <stddef.h>

#define WP_ID_LEN 24 /* characters, without the NUL */

/* Write a new id into out (WP_ID_LEN chars + NUL): 12 hex digits of the current time in
 * milliseconds then 12 random hex digits, so ids sort roughly by creation time. */
void wp_id_new(char out[WP_ID_LEN + 1]);

/* Write prefix + 43 url-safe random characters (256 bits) + NUL into out; cap is out's size,
 * at least strlen(prefix) + 44. Returns 0, or WP_ELIMIT when out is too small. */
int wp_token_new(char *out, size_t cap, const char *prefix);

/* The hex SHA-256 of a token (64 chars + NUL), what the store keeps instead of the token. */
void wp_token_hash(char out[65], const char *token);

#endif
