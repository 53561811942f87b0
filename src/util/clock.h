/* SPDX-License-Identifier: MIT */
/* The clock (injectable, so tests control time) and RFC 3339 text. */
#ifndef WP_UTIL_CLOCK_H
#define WP_UTIL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Microseconds since the Unix epoch: the real clock, or the fake one when set. */
int64_t wp_time_now_us(void);

/* Fix the clock at us (tests); 0 returns to the real clock. Process-wide. Only the test hooks
 * (util/testhooks.h, behind WORKPHONE_TEST_HOOKS=1) set it from the environment. */
void wp_time_set_fake(int64_t us);

/* For testhooks.c only: from now on, whenever the file at path changes, its content (an RFC
 * 3339 time) fixes the clock, as wp_time_set_fake() would. Call before any thread starts.
 * @return 0; WP_EINVAL when the path is too long */
int wp_time__follow(const char *path);

/* The wall clock, whatever a test set: for log lines, which must stay in order. */
int64_t wp_time_real_us(void);

/* Format us as RFC 3339 with the given offset from UTC in minutes, e.g.
 * 2026-11-22T10:00:00+08:00 (fractions only when non-zero, as .ffffff). out needs 40 bytes. */
void wp_time_format(char out[40], int64_t us, int offset_min);

/* Parse RFC 3339 (T or space, optional fraction, Z or +hh:mm) into *out_us.
 * Returns 0 or WP_EINVAL. */
int wp_time_parse(int64_t *out_us, const char *s);

#endif
