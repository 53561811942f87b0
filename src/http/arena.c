/* SPDX-License-Identifier: MIT */
/* Request arena: a list of blocks, each carved from the front. */
#include "http/arena.h"
#include "util/error.h"
#include "util/testhooks.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_MIN 4096

struct block {
    struct block *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char data[];
};

struct wp_arena {
    struct block *head;
    size_t total; /* bytes handed out or reserved in blocks */
    size_t limit;
};

int wp_arena_new(wp_arena **out, size_t limit)
{
    wp_arena *a = calloc(1, sizeof *a);
    if (!a)
        return wp_error_set(WP_ENOMEM, "out of memory");
    a->limit = limit;
    *out = a;
    return 0;
}

void wp_arena_free(wp_arena *a)
{
    if (!a)
        return;
    for (struct block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

static struct block *add_block(wp_arena *a, size_t cap)
{
    if (cap > a->limit - a->total || cap > SIZE_MAX - sizeof(struct block)) {
        wp_error_set(WP_ELIMIT, "request memory limit of %zu bytes reached", a->limit);
        return NULL;
    }
    struct block *b = malloc(sizeof *b + cap);
    if (!b) {
        wp_error_set(WP_ENOMEM, "out of memory");
        return NULL;
    }
    b->cap = cap;
    b->used = 0;
    b->next = a->head;
    a->head = b;
    a->total += cap;
    return b;
}

void *wp_arena_alloc(wp_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (wp_test_hooks_alloc_fails()) {
        wp_error_set(WP_ENOMEM, "out of memory");
        return NULL;
    }
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - align)
        return NULL;
    n = (n + align - 1) & ~(align - 1);
#ifdef WP_ARENA_MALLOC
    struct block *b = add_block(a, n);
#else
    struct block *b = a->head;
    if (!b || b->cap - b->used < n) {
        /* big allocations get a block of their own so the current one keeps serving */
        b = add_block(a, n > BLOCK_MIN / 4 ? n : BLOCK_MIN);
        if (b && n > BLOCK_MIN / 4 && b->next) {
            /* keep the partly used block at the head: it still has room for small things */
            struct block *big = b;
            a->head = big->next;
            big->next = a->head->next;
            a->head->next = big;
            b = big;
        }
    }
#endif
    if (!b)
        return NULL;
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *wp_arena_strndup(wp_arena *a, const char *s, size_t n)
{
    char *p = n < SIZE_MAX ? wp_arena_alloc(a, n + 1) : NULL;
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *wp_arena_strdup(wp_arena *a, const char *s)
{
    return wp_arena_strndup(a, s, strlen(s));
}
