/* SPDX-License-Identifier: MIT */
/* The C allocator's footprint in a long-running server (glibc; elsewhere these do nothing).
 * glibc gives each thread that contends for the heap an arena of its own (up to 8 per core)
 * and keeps what is freed inside each: a server's RSS then grows with its thread count and
 * its busiest minute, not with what it holds (BENCHMARKS.md, the soak). */
#ifndef WP_UTIL_MEMORY_H
#define WP_UTIL_MEMORY_H

/* Cap the arenas at WP_MEMORY_ARENAS, unless MALLOC_ARENA_MAX is set in the environment (the
 * operator's choice wins). Call before any thread starts. */
void wp_memory_limit_arenas(void);

#define WP_MEMORY_ARENAS 2

/* Give the pages that every arena holds free back to the kernel (malloc_trim). */
void wp_memory_trim(void);

#endif
