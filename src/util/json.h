/* SPDX-License-Identifier: MIT */
/* Writing JSON text by hand where it is on a hot path (jansson parses and builds elsewhere),
 * and jansson's text written so that a failed allocation cannot leave it broken. */
#ifndef WP_UTIL_JSON_H
#define WP_UTIL_JSON_H

#include "util/buf.h"

#include <stddef.h>

struct json_t;
struct json_error_t;

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

/* json_loadb() and json_loads(), with the allocation test hook (X-Workphone-Test-Fail: alloc=N)
 * kept out while jansson parses: jansson 2.14 ignores a failed allocation in its lexer and then
 * reads past its buffer (akheron/jansson#362, unfixed in Debian 12), so a failure injected there
 * would crash inside jansson rather than test workphone. What the parse returns is still failed
 * by the hook where workphone uses it. Outside the tests nothing differs from jansson's own. */
struct json_t *wp_json_loadb(const char *text, size_t len, size_t flags,
                             struct json_error_t *err);
struct json_t *wp_json_loads(const char *text, size_t flags, struct json_error_t *err);

/* Nonzero while this thread is inside wp_json_loadb() (for the test hook's allocator). */
int wp_json_parsing(void);

#endif
