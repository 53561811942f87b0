/* SPDX-License-Identifier: MIT */
/* What the store's operations share and nothing outside src/store sees: cursors, page sizes,
 * the string pool that pages keep their text in (internal.c), and the scope checked for SQL
 * (scope.c). */
#ifndef WP_STORE_INTERNAL_H
#define WP_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"
#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

/* Strings a page hands out live here until the page is released. */
typedef struct wp_strpool wp_strpool;

/* A copy of s (NULL stays NULL) in *pool (created on first use). WP_ENOMEM. */
int wp_strpool__dup(wp_strpool **pool, const char **out, const char *s);
void wp_strpool__free(wp_strpool *pool);

/* Column readers the list operations share. */

/* A nullable text column copied into the pool (NULL stays NULL). WP_ENOMEM. */
static inline int wp_col__dup(wp_strpool **pool, const char **out, struct wp_stmt *s, int col)
{
    return wp_strpool__dup(pool, out, wp_db_col_text(s, col));
}

/* A nullable id column into a fixed buffer ("" for NULL). */
static inline int wp_col__id(struct wp_stmt *s, int col, char out[WP_ID_LEN + 1])
{
    return wp_db_col_copy_opt(s, col, out, WP_ID_LEN + 1);
}

/* An integer column, absent for NULL. */
static inline int64_t wp_col__opt_int(struct wp_stmt *s, int col, int64_t absent)
{
    return wp_db_col_isnull(s, col) ? absent : wp_db_col_int64(s, col);
}

/* An optional id filter: NULL passes, else it must be an id. WP_EINVAL naming what. */
static inline int wp_store__check_opt_id(const char *what, const char *id)
{
    return id ? wp_store__check_id(what, id) : 0;
}

/* A list cursor is "<int64>.<id>" (a time, then the row's id to break ties). */
void wp_cursor__make(char out[WP_ARCHIVE_CURSOR_MAX], int64_t t, const char *id);
/* *has = 0 for NULL or "", else the parts; WP_EINVAL "invalid cursor". */
int wp_cursor__parse(int *has, int64_t *t, char id[WP_ID_LEN + 1], const char *cursor);

/* 0 → WP_PAGE_DEFAULT; WP_EINVAL past WP_PAGE_MAX. */
int wp_page__limit(unsigned *out, unsigned limit);

/* Append (checked) one growable-array slot: *v has *n items of size sz and room for *cap. */
int wp_array__grow(void **v, size_t *cap, size_t n, size_t sz);

/* --- the scope (scope.c) ------------------------------------------------------------------- */

/* [lo, hi) of the paths in the subtree whose top has path (see ops_org.c; path not NULL).
 * WP_EINVAL when path is not a materialized path. */
int wp_scope__range(char lo[1024], char hi[1024], const char *path);

/* A scope checked, as its SQL binds it. */
struct wp_scope_bind {
    const char *tenant_id;
    const char *employee_id; /* one employee, or NULL */
    const char *org_path;    /* an org subtree, or NULL (both NULL: the whole tenant) */
    char lo[1024], hi[1024]; /* org_path: the subtree's paths [lo, hi); else "" */
};

/* Check scope (NULL: the whole tenant) of tenant_id and fill *out (its strings borrowed from
 * scope). @return 0; WP_EINVAL (both an employee and a subtree, or a path that is not one);
 * WP_ENOTFOUND (an employee id no row can have) */
int wp_scope__check(struct wp_scope_bind *out, const char *tenant_id, const wp_scope *scope);

/* 1 when s is the whole tenant. */
static inline int wp_scope__all(const struct wp_scope_bind *s)
{
    return !s->employee_id && !s->org_path;
}

/* A filter on one employee (*employee_id, NULL: any) within s: a scope of one employee makes
 * it that employee. @return 1 when the filter and the scope name different employees (nothing
 * is in scope), else 0. */
int wp_scope__employee(const char **employee_id, const struct wp_scope_bind *s);

/* --- events (ops_events.c) ------------------------------------------------------------------ */

struct wp_event_batch;
/* wp_store_events_apply_many() inside an operation the caller opened (wp_store__op_begin):
 * the chat archive stores its batches and moves its cursor in one transaction
 * (ops_wecom_archive.c). On failure the caller's op_end rolls back; *failed names the batch. */
int wp_store__events_apply_in_op(wp_store *st, struct wp_event_batch **b, size_t n,
                                 size_t *failed);

#endif
