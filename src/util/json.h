/* SPDX-License-Identifier: MIT */
/* Writing JSON text by hand where it is on a hot path (jansson parses and builds elsewhere). */
#ifndef WP_UTIL_JSON_H
#define WP_UTIL_JSON_H

#include "util/buf.h"

/* Append s[0..len) as a quoted JSON string. Control characters, quotes and backslashes are
 * escaped; each byte that is not part of well-formed UTF-8 becomes U+FFFD, so the output is
 * always valid JSON. Returns 0 or the wp_buf error. */
__attribute__((warn_unused_result)) int wp_json_str(wp_buf *b, const char *s, size_t len);

#endif
