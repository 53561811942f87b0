/* SPDX-License-Identifier: MIT */
/* Small UTF-8 checks used to validate input. */
#ifndef WP_UTIL_UTF8_H
#define WP_UTIL_UTF8_H

#include <stddef.h>

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or NUL bytes). */
int wp_utf8_valid(const char *s, size_t len);

/* Number of code points in well-formed UTF-8. */
size_t wp_utf8_count(const char *s, size_t len);

/* Length in bytes of the well-formed UTF-8 sequence at s (at most len), or 0 if invalid. */
size_t wp_utf8_seq(const unsigned char *s, size_t len);

#endif
