/* SPDX-License-Identifier: MIT */
/* What tz.c keeps to itself, exposed for its fuzz target (tests/fuzz/fuzz_tz.c) only. */
#ifndef WP_UTIL_TZ_INT_H
#define WP_UTIL_TZ_INT_H

#include "util/tz.h"

/* The smallest and largest offset a TZif file may give (RFC 8536 3.2: more than -25 hours,
 * less than 26 hours). */
#define WP_TZ_OFFSET_MIN (-89999)
#define WP_TZ_OFFSET_MAX 93599

/* The 64-bit part of a TZif file (version 2 and later) into z (zeroed by the caller, z->fixed
 * 0): transitions strictly ascending, every offset within the bounds above. 0, or -1 for a
 * file that is not one (z may then hold arrays: wp_tz_release() it). */
int wp_tz__parse(wp_tz *z, const unsigned char *d, size_t len);

#endif
