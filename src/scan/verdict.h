/* SPDX-License-Identifier: MIT */
/* The verdict of a pre-send check as JSON (CONTRACT §4 `check`), shared by server and agent. */
#ifndef WP_SCAN_VERDICT_H
#define WP_SCAN_VERDICT_H

#include <jansson.h>

#include "scan/scan.h"
#include "util/buf.h"

/* Scan text with s and build {"action": "allow"|"alert"|"block"|"mask", "matches":
 * [{"pattern","category","action","start","end","text"}], "masked": "..."}. r and masked are
 * the caller's scratch (reused across calls; masked must allow 4x the text). Caller owns *out.
 * @return 0; WP_ELIMIT; WP_ENOMEM */
int wp_scan_verdict(json_t **out, const wp_scanner *s, wp_scan_result *r, wp_buf *masked,
                    const char *text, size_t len);

#endif
