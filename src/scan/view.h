/* SPDX-License-Identifier: MIT */
/* What a reader without the right to see personal data gets of a text or a JSON value: the
 * masking engine of the console's reply boundary (src/api/view.c) and of the messages the
 * webhooks post to group robots (src/webhooks). No I/O, no HTTP. */
#ifndef WP_SCAN_VIEW_H
#define WP_SCAN_VIEW_H

#include <jansson.h>
#include <stddef.h>

#include "scan/scan.h"
#include "util/buf.h"

#define WP_SCAN_VIEW_PHONE_MAX 32 /* bytes of a phone number the view shows in part */

/* The built-in personal-data detectors alone (no lexicon): the view of a reader of no tenant.
 * NULL when they could not be built (out of memory). Borrowed; lives as long as the process. */
const wp_scanner *wp_scan_view_pii(void);

/* Append text as the reader sees it to out: every mask match of s (the personal-data detectors
 * and the lexicon's mask entries) replaced by one '*' per character, repeated until nothing
 * more is found (noise skipping can make a pattern whole across a span masked before), so a
 * masked text masks to itself. *changed says whether anything was masked.
 * @return 0; WP_ENOMEM (s NULL, or out of memory); WP_ELIMIT from out */
int wp_scan_view_text(const wp_scanner *s, wp_buf *out, int *changed, const char *text,
                      size_t len);

/* A phone number as the reader gets it: 138****8000 (all but the first len-8 and the last 4
 * characters hidden; shorter numbers show their last 4 at most). Always NUL-terminated. */
void wp_scan_view_phone(char *out, size_t cap, const char *phone);

/* Mask every string of v in place as the reader sees it, except the values of keys that are
 * the system's own words (ids, times, states, kinds, hashes: a fixed list in view.c) and
 * values that are references ("customer:<id>", an id, "sha256:<hex>"); "phone" keys and
 * "phone:" identities show 138****8000.
 * @return 0; WP_EINVAL (nested deeper than 64); WP_ENOMEM */
int wp_scan_view_json(const wp_scanner *s, json_t *v);

#endif
