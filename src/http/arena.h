/* SPDX-License-Identifier: MIT */
/* A memory arena for one request: many small allocations, freed together (h2o's mem pool). */
#ifndef WP_HTTP_ARENA_H
#define WP_HTTP_ARENA_H

#include <stddef.h>

typedef struct wp_arena wp_arena;

/* A new, empty arena that refuses to hold more than limit bytes in all.
 * Built with WP_ARENA_MALLOC (sanitizer and debug builds), every allocation is its own
 * malloc so that AddressSanitizer and valgrind see each one.
 * @return 0 or WP_ENOMEM. Caller owns *out; release with wp_arena_free(). */
int wp_arena_new(wp_arena **out, size_t limit);

/* Free the arena and everything allocated from it. NULL is a no-op. */
void wp_arena_free(wp_arena *a);

/* n bytes aligned for any type, uninitialized; NULL when out of memory or past the limit
 * (wp_error_last() says which). Borrowed; valid until wp_arena_free(). */
void *wp_arena_alloc(wp_arena *a, size_t n);

/* A NUL-terminated copy of s[0..n); NULL as wp_arena_alloc. */
char *wp_arena_strndup(wp_arena *a, const char *s, size_t n);
char *wp_arena_strdup(wp_arena *a, const char *s);

#endif
