/* SPDX-License-Identifier: MIT */
/* The one writer of log lines: logfmt, every value escaped, one write() per line. */
#ifndef WP_UTIL_LOG_H
#define WP_UTIL_LOG_H

#include "util/buf.h"

#include <stddef.h>

/* Bytes of one line with its LF. A line this short goes to a pipe in one piece (PIPE_BUF), so
 * lines of different threads and processes never interleave; a field that would not fit is
 * left out whole, so a line never ends inside a value. */
#define WP_LOG_LINE_MAX 4096

/* Start a line in b (initialized here): "ts=<the wall clock, RFC 3339 UTC> level=L event=E".
 * The time is the real one even when a test fakes the clock (wp_time_real_us()), so the lines
 * of a server stay in order. level and event are written as they are: pass literals.
 * Caller owns b; wp_log_end() writes and releases it. */
void wp_log_start(wp_buf *b, const char *level, const char *event);

/* Append " key=value". The value goes as it is when it is not empty and holds only quiet
 * characters (ASCII letters, digits and /_.~:%@!$&'()*+,;=-{}[]), else in double quotes with
 * '"' and '\' escaped by a '\' and every other byte below 0x20 or from 0x7f on as \xNN: no
 * value can end a line or forge a field. The key is written as it is: pass a literal. */
void wp_log_add(wp_buf *b, const char *key, const char *value);

/* wp_log_add() of at most max bytes of value; a longer value is cut and ends in "..." inside
 * its quotes. */
void wp_log_addn(wp_buf *b, const char *key, const char *value, size_t max);

/* wp_log_add() of a formatted value ("%lld", "%u"). */
void wp_log_addf(wp_buf *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append fields that are already logfmt (" k=v k2=v2", as a wp_log_add() into another buffer
 * makes them, or the store's checkpoint line), with a blank before them when they lack one.
 * Left out when they hold a byte below 0x20 (no line break slips in this way). */
void wp_log_add_fields(wp_buf *b, const char *fields);

/* End the line with LF and write it to fd in one write(); release b. fd < 0: nothing is
 * written (b is still released). */
void wp_log_end(wp_buf *b, int fd);

/* A whole line at once: after level and event, pairs of key and value (strings, each through
 * wp_log_add()), then NULL: wp_log_line(2, "info", "stopped", "requests_cut", "0", NULL). */
void wp_log_line(int fd, const char *level, const char *event, ...)
    __attribute__((sentinel));

#endif
