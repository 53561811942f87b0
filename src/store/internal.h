/* SPDX-License-Identifier: MIT */
/* What the store's operations share and nothing outside src/store sees (internal.c): cursors,
 * page sizes, org-scope ranges and the string pool that pages keep their text in. */
#ifndef WP_STORE_INTERNAL_H
#define WP_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Strings a page hands out live here until the page is released. */
typedef struct wp_strpool wp_strpool;

/* A copy of s (NULL stays NULL) in *pool (created on first use). WP_ENOMEM. */
int wp_strpool__dup(wp_strpool **pool, const char **out, const char *s);
void wp_strpool__free(wp_strpool *pool);

/* A list cursor is "<int64>.<id>" (a time, then the row's id to break ties). */
void wp_cursor__make(char out[WP_ARCHIVE_CURSOR_MAX], int64_t t, const char *id);
/* *has = 0 for NULL or "", else the parts; WP_EINVAL "invalid cursor". */
int wp_cursor__parse(int *has, int64_t *t, char id[WP_ID_LEN + 1], const char *cursor);

/* 0 → WP_PAGE_DEFAULT; WP_EINVAL past WP_PAGE_MAX. */
int wp_page__limit(unsigned *out, unsigned limit);

/* [lo, hi) of the paths in the subtree whose top has path (see ops_org.c). WP_EINVAL when path
 * is not a materialized path. */
int wp_scope__range(char lo[1024], char hi[1024], const char *path);

/* Append (checked) one growable-array slot: *v has *n items of size sz and room for *cap. */
int wp_array__grow(void **v, size_t *cap, size_t n, size_t sz);

#endif
