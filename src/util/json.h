/* SPDX-License-Identifier: MIT */
/* Writing JSON text by hand where it is on a hot path (jansson parses and builds elsewhere),
 * and jansson's text written so that a failed allocation cannot leave it broken. */
#ifndef WP_UTIL_JSON_H
#define WP_UTIL_JSON_H

#include "util/buf.h"

#include <stddef.h>

struct json_t;

/* Append s[0..len) as a quoted JSON string. Control characters, quotes and backslashes are
 * escaped; each byte that is not part of well-formed UTF-8 becomes U+FFFD, so the output is
 * always valid JSON. Returns 0 or the wp_buf error. */
__attribute__((warn_unused_result)) int wp_json_str(wp_buf *b, const char *s, size_t len);

/* json_dumps(v, flags), except that a failed allocation anywhere in the writing makes it
 * return NULL: jansson 2.14 ignores a failed write of an object's key and carries on, so a
 * failed allocation there gives a key cut short, text that is not JSON (a reply, an audit
 * row's details). The writing goes through a wp_buf (counted by the allocation test hook).
 * @return the text, or NULL (WP_ENOMEM set) when out of memory or v cannot be written.
 * Caller owns the text; release with free(). */
char *wp_json_dumps(const struct json_t *v, size_t flags);

#endif
