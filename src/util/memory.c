/* SPDX-License-Identifier: MIT */
#include "util/memory.h"

#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

void wp_memory_limit_arenas(void)
{
#ifdef __GLIBC__
    const char *env = getenv("MALLOC_ARENA_MAX");
    if (!env || !*env)
        mallopt(M_ARENA_MAX, WP_MEMORY_ARENAS);
#endif
}

void wp_memory_trim(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}
