/* SPDX-License-Identifier: MIT */
/* Helpers the store's operations share (internal.h): cursors, page sizes, a string pool. */
#include "store/internal.h"
#include "store/store.h"
#include "util/error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_BLOCK 8192

struct wp_strpool {
    struct wp_strpool *next;
    size_t used, cap;
    char data[];
};

int wp_strpool__dup(wp_strpool **pool, const char **out, const char *s)
{
    if (!s) {
        *out = NULL;
        return 0;
    }
    size_t n = strlen(s) + 1;
    wp_strpool *p = *pool;
    if (!p || p->cap - p->used < n) {
        size_t cap = n > POOL_BLOCK ? n : POOL_BLOCK;
        wp_strpool *b = malloc(sizeof *b + cap);
        if (!b)
            return wp_error_set(WP_ENOMEM, "out of memory");
        b->next = p;
        b->used = 0;
        b->cap = cap;
        *pool = p = b;
    }
    char *dst = p->data + p->used;
    memcpy(dst, s, n);
    p->used += n;
    *out = dst;
    return 0;
}

void wp_strpool__free(wp_strpool *pool)
{
    while (pool) {
        wp_strpool *next = pool->next;
        free(pool);
        pool = next;
    }
}

void wp_cursor__make(char out[WP_ARCHIVE_CURSOR_MAX], int64_t t, const char *id)
{
    snprintf(out, WP_ARCHIVE_CURSOR_MAX, "%" PRId64 ".%s", t, id);
}

int wp_cursor__parse(int *has, int64_t *t, char id[WP_ID_LEN + 1], const char *cursor)
{
    *has = 0;
    if (!cursor || !*cursor)
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(cursor, &end, 10);
    if (errno || end == cursor || *end != '.' || strlen(end + 1) != WP_ID_LEN)
        return wp_error_set(WP_EINVAL, "invalid cursor");
    /* only the spelling wp_cursor__make() gives: no blanks, '+' or leading zeros, so that one
     * position has one cursor */
    char canon[24];
    snprintf(canon, sizeof canon, "%lld", v);
    if ((size_t)(end - cursor) != strlen(canon) || memcmp(cursor, canon, strlen(canon)) != 0)
        return wp_error_set(WP_EINVAL, "invalid cursor");
    for (const char *p = end + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return wp_error_set(WP_EINVAL, "invalid cursor");
    memcpy(id, end + 1, WP_ID_LEN + 1);
    *t = v;
    *has = 1;
    return 0;
}

int wp_page__limit(unsigned *out, unsigned limit)
{
    if (limit == 0)
        limit = WP_PAGE_DEFAULT;
    if (limit > WP_PAGE_MAX)
        return wp_error_set(WP_EINVAL, "limit must be 1..%d", WP_PAGE_MAX);
    *out = limit;
    return 0;
}

int wp_array__grow(void **v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*v, ncap * sz);
    if (!p)
        return wp_error_set(WP_ENOMEM, "out of memory");
    *v = p;
    *cap = ncap;
    return 0;
}
