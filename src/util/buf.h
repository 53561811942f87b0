/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a mandatory cap (curl's dynbuf, git's strbuf invariants). */
#ifndef WP_UTIL_BUF_H
#define WP_UTIL_BUF_H

#include <stddef.h>

/* Invariants: buf is never NULL and always NUL-terminated; len <= cap_limit. */
typedef struct wp_buf {
    char *buf;
    size_t len;
    size_t alloc;
    size_t limit; /* the most bytes it may ever hold */
} wp_buf;

/* Start an empty buffer that may grow to limit bytes. Allocates nothing yet. */
void wp_buf_init(wp_buf *b, size_t limit);

/* Free the memory; the buffer is empty and usable again. */
void wp_buf_release(wp_buf *b);

/* Empty the buffer, keeping its memory. */
void wp_buf_reset(wp_buf *b);

/* Append bytes; WP_ELIMIT past the limit (nothing appended), WP_ENOMEM. */
__attribute__((warn_unused_result)) int wp_buf_add(wp_buf *b, const void *data, size_t len);
__attribute__((warn_unused_result)) int wp_buf_adds(wp_buf *b, const char *s);
__attribute__((warn_unused_result)) int wp_buf_addc(wp_buf *b, char c);
__attribute__((warn_unused_result, format(printf, 2, 3))) int wp_buf_addf(wp_buf *b,
                                                                          const char *fmt, ...);

/* Take the bytes out: the caller owns the returned string (free()); the buffer is empty. */
char *wp_buf_detach(wp_buf *b, size_t *len);

#endif
