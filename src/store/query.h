/* SPDX-License-Identifier: MIT */
/* A statement assembled from fixed SQL fragments, its values bound in order when prepared
 * (ops_messages.c, ops_audit.c, ops_analytics.c, ...): filters whose shape depends on the
 * request, never values. */
#ifndef WP_STORE_QUERY_H
#define WP_STORE_QUERY_H

#include "store/db.h"
#include "store/internal.h"
#include "store/store.h"
#include "store/store.h"
#include "util/buf.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#define WP_QUERY_BINDS_MAX 96

struct wp_query {
    wp_buf sql;
    int err, n; /* err: the first failed append, reported by wp_query__prepare() */
    struct {
        const char *text; /* borrowed: must outlive the prepare */
        int64_t num;
        int is_text;
    } v[WP_QUERY_BINDS_MAX];
};

/* An empty statement of at most sql_max bytes; release with wp_buf_release(&q->sql). */
static inline void wp_query__init(struct wp_query *q, size_t sql_max)
{
    memset(q, 0, sizeof *q);
    wp_buf_init(&q->sql, sql_max);
}

static inline void wp_query__sql(struct wp_query *q, const char *frag)
{
    if (q->err == 0)
        q->err = wp_buf_adds(&q->sql, frag);
}

static inline void wp_query__text(struct wp_query *q, const char *v)
{
    assert(q->n < WP_QUERY_BINDS_MAX);
    q->v[q->n].text = v;
    q->v[q->n++].is_text = 1;
}

static inline void wp_query__int(struct wp_query *q, int64_t v)
{
    assert(q->n < WP_QUERY_BINDS_MAX);
    q->v[q->n].num = v;
    q->v[q->n++].is_text = 0;
}

/* Prepare the statement on st and bind its values. @return 0, the append error, or the
 * prepare's; on success the caller ends *out with wp_db_done(). */
static inline int wp_query__prepare(struct wp_query *q, wp_store *st, struct wp_stmt **out)
{
    int err;
    if (q->err < 0)
        return q->err;
    if ((err = wp_db_prepare(st, out, q->sql.buf)) < 0)
        return err;
    for (int i = 0; i < q->n; i++) {
        if (q->v[i].is_text)
            wp_db_bind_text(*out, i + 1, q->v[i].text);
        else
            wp_db_bind_int64(*out, i + 1, q->v[i].num);
    }
    return 0;
}

/* --- the scope in SQL (scope.c) ----------------------------------------------------------
 * Each appends " AND ..." to q, nothing for the whole tenant. Column names are SQL text (fixed
 * by the caller); s and its strings are borrowed until the prepare. */

/* Rows whose employee (column col) sits in the org subtree [lo, hi) of tenant_id: a filter on
 * a unit, or an org scope. */
void wp_query__in_subtree(struct wp_query *q, const char *col, const char *tenant_id,
                          const char *lo, const char *hi);

/* Rows whose employee (column col) is in scope: that employee, or one of the subtree. */
void wp_query__scope_employees(struct wp_query *q, const char *col, const struct wp_scope_bind *s);

/* Customers in scope (owner_col their owner, id_col their id): owned by an employee of the
 * subtree; or for one employee, its own and those it keeps read access to after a transfer
 * (customer_read_grants). */
void wp_query__scope_customers(struct wp_query *q, const char *owner_col, const char *id_col,
                               const struct wp_scope_bind *s);

/* The scope of what people said (messages, calls, contact events, alerts): rows of an
 * employee in scope (the employee itself, else the employees of the subtree), or that an
 * explicit act handed to someone in scope (history_grants: the row's customer cust_col, its
 * employee emp_col the grant's source). other_col (NULL: none) names a second employee the
 * row is about. */
void wp_query__scope_history(struct wp_query *q, const char *emp_col, const char *cust_col,
                             const char *other_col, const struct wp_scope_bind *s);

#endif
