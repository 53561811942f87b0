/* SPDX-License-Identifier: MIT */
/* The statement layer under the store's operations: one small vtable per backend. */
#ifndef WP_STORE_DB_H
#define WP_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "store/migrations.h"
#include "store/store.h"
#include "store/usage.h"

/* What wp_db_step() returns besides a negative WP_E*. */
enum { WP_DB_DONE = 0, WP_DB_ROW = 1 };

/* A prepared statement. Each backend embeds this as its first member. Statements live in
 * the connection's cache from their first use until wp_store_free(). */
struct wp_stmt {
    const struct wp_db_ops *ops;
    char *sql;            /* the portable text it was prepared from: the cache key */
    struct wp_stmt *next; /* cache bucket chain */
    int err;              /* first bind error, reported by the next step */
    int busy;             /* handed out by wp_db_prepare, not yet wp_db_done */
};

/* SQL given to prepare is portable, with `?` placeholders numbered from 1 in order (where
 * PostgreSQL cannot infer a parameter's type from a column, write CAST(? AS BIGINT)). Text
 * passed to bind_text is borrowed until the statement is reset. Errors map to WP_E*:
 * unique violation → WP_EEXISTS, foreign key → WP_ENOTFOUND, check/not null → WP_EINVAL,
 * anything else → WP_EIO; the message is set with wp_error_set(). */
struct wp_db_ops {
    enum wp_store_backend backend;
    const struct wp_migration *migrations;
    void (*close)(wp_store *st);
    /* Run a script of one or more statements without parameters (migrations, tx control). */
    int (*exec)(wp_store *st, const char *script);
    /* Start a transaction that is going to write (SQLite: BEGIN IMMEDIATE). */
    int (*begin)(wp_store *st);
    /* Inside a transaction: keep other nodes out of the migrations until it ends. */
    int (*lock_migrations)(wp_store *st);
    int (*prepare)(wp_store *st, struct wp_stmt **out, const char *sql);
    void (*finalize)(struct wp_stmt *s);
    void (*bind_text)(struct wp_stmt *s, int idx, const char *v);
    void (*bind_int64)(struct wp_stmt *s, int idx, int64_t v);
    void (*bind_null)(struct wp_stmt *s, int idx);
    int (*step)(struct wp_stmt *s);
    const char *(*col_text)(struct wp_stmt *s, int col); /* NULL for SQL NULL */
    int64_t (*col_int64)(struct wp_stmt *s, int col);
    int (*col_isnull)(struct wp_stmt *s, int col);
    void (*reset)(struct wp_stmt *s); /* also clears the bindings */
};

#define WP_DB_CACHE_BUCKETS 64

enum wp_op_state { WP_OP_NONE, WP_OP_TX, WP_OP_SAVEPOINT };

/* The base of each backend's connection state (struct wp_sqlite, struct wp_pg). */
struct wp_store {
    const struct wp_db_ops *ops;
    int in_tx; /* inside wp_store_begin() .. commit/rollback */
    int op;    /* what wp_store__op_begin() opened: enum wp_op_state */
    int background; /* wp_store_set_background(): SQLite pauses after the lock was held */
    struct wp_stmt *cache[WP_DB_CACHE_BUCKETS];
};

/* Backends: connect and fill *out; nothing is migrated yet. */
int wp_db__sqlite_open(wp_store **out, const char *path);
int wp_db__pg_open(wp_store **out, const char *conninfo);

/* PostgreSQL only (backup.c): run a `COPY ... TO STDOUT` (text) and hand each row to data,
 * counting them in *rows; run a `COPY ... FROM STDIN` fed by read (bytes, 0 at the end, or a
 * negative WP_E* that aborts it). @return 0, data's or read's error, or the server's */
int wp_db__pg_copy_out(wp_store *st, const char *sql,
                       int (*data)(void *ctx, const char *p, size_t n), void *ctx, int64_t *rows);
int wp_db__pg_copy_in(wp_store *st, const char *sql,
                      long (*read)(void *ctx, char *buf, size_t cap), void *ctx);

/* The prepared statement for sql, from the cache or prepared now. Pair every successful
 * call with wp_db_done(). A statement is not reentrant: it cannot be handed out twice. On
 * failure *out is NULL (wp_db_done(NULL) is a no-op); the store failure hook counts each call,
 * cached or not, as one operation. */
int wp_db_prepare(wp_store *st, struct wp_stmt **out, const char *sql);

/* Reset the statement and give it back to the cache. NULL is a no-op. */
void wp_db_done(struct wp_stmt *s);

/* Reset the statement (and clear its bindings) but keep it: a caller running one statement
 * once per row holds it from the first row to wp_db_done(), instead of looking it up in the
 * cache again for every row. */
void wp_db_reset(struct wp_stmt *s);

int wp_db_exec(wp_store *st, const char *script);

static inline void wp_db_bind_text(struct wp_stmt *s, int idx, const char *v)
{
    s->ops->bind_text(s, idx, v);
}
static inline void wp_db_bind_int64(struct wp_stmt *s, int idx, int64_t v)
{
    s->ops->bind_int64(s, idx, v);
}
static inline void wp_db_bind_null(struct wp_stmt *s, int idx)
{
    s->ops->bind_null(s, idx);
}
/* Text, or NULL for NULL. */
static inline void wp_db_bind_text_or_null(struct wp_stmt *s, int idx, const char *v)
{
    if (v)
        s->ops->bind_text(s, idx, v);
    else
        s->ops->bind_null(s, idx);
}
/* WP_DB_ROW, WP_DB_DONE or a negative WP_E*. */
static inline int wp_db_step(struct wp_stmt *s)
{
    if (s->err < 0)
        return s->err;
    return s->ops->step(s);
}
/* Borrowed; valid until the next step or wp_db_done(). */
static inline const char *wp_db_col_text(struct wp_stmt *s, int col)
{
    return s->ops->col_text(s, col);
}
static inline int64_t wp_db_col_int64(struct wp_stmt *s, int col)
{
    return s->ops->col_int64(s, col);
}
static inline int wp_db_col_isnull(struct wp_stmt *s, int col)
{
    return s->ops->col_isnull(s, col);
}

/* Copy a text column into a fixed buffer: WP_EIO when it is NULL or does not fit (the
 * schema and the validation keep that from happening, so it means a damaged store). */
int wp_db_col_copy(struct wp_stmt *s, int col, char *buf, size_t cap);

/* The same for a nullable column: SQL NULL gives "". */
int wp_db_col_copy_opt(struct wp_stmt *s, int col, char *buf, size_t cap);

/* --- helpers for the operations (ops_*.c) ------------------------------------------- */

/* Run one statement that returns no rows the caller wants, its parameters given by types: 't'
 * a text (const char *, NULL binds NULL), 'i' an int64_t. @return 0 or the step's error */
int wp_db_run(wp_store *st, const char *sql, const char *types, ...);

/* Make one operation atomic: inside wp_store_begin() a savepoint, so a failed operation
 * leaves the caller's transaction usable on both backends (PostgreSQL would otherwise abort
 * it); outside, a transaction of its own when the operation runs several statements
 * (many != 0), else nothing (the statement's autocommit is atomic already). */
int wp_store__op_begin(wp_store *st, int many);
/* Commit or release on err == 0, else roll back; returns err or the commit's error. */
int wp_store__op_end(wp_store *st, int err);

/* Validate a name: not empty, then wp_text_check() (one line: no control characters).
 * WP_EINVAL naming field. */
int wp_store__check_name(const char *field, const char *s, size_t max_chars);

/* Validate free text (a comment, a note): wp_text_check() with WP_TEXT_MULTILINE (no control
 * characters but LF and TAB); NULL is "". WP_EINVAL naming field. */
int wp_store__check_text(const char *field, const char *s, size_t max_chars);

/* Validate a required id argument: WP_EINVAL when NULL or empty, WP_ENOTFOUND when it is not
 * the shape wp_id_new() makes (such an id cannot exist). what names it in messages. */
int wp_store__check_id(const char *what, const char *id);

/* 0 when the tenant has the org unit unit_id, WP_ENOTFOUND ("org unit '<id>' not found") when
 * not, or the store's error. */
int wp_store__unit_exists(wp_store *st, const char *tenant_id, const char *unit_id);

/* 1 when h is a lowercase hex SHA-256 (64 characters): only such strings reach a token_hash
 * column, anything else cannot match a row. */
int wp_store__is_hash(const char *h);

/* Count add[] bytes (WP_USAGE_*; 0: none of that kind) in the tenant's usage, inside the
 * caller's operation, unless one that grows would pass its limit: then nothing is counted,
 * *refused says which, and WP_EQUOTA is returned (wp_usage_refuse). (src/store/ops_usage.c) */
int wp_store__usage_add(wp_store *st, const char *tenant_id, const int64_t add[WP_USAGE_KINDS],
                        wp_usage_refusal *refused);

/* The created_us to stamp on a call or an alert stored at now_us: now_us, or just past the
 * tenant's rollup watermarks when the clock is behind them (it stepped back after a fold):
 * the rollup takes the rows stored past its watermarks, and one stamped below them would be
 * neither folded nor counted live (issue 17; docs/internals/analytics.md). (ops_analytics.c) */
int wp_store__stored_us(wp_store *st, const char *tenant_id, int64_t now_us, int64_t *out);

/* Every tenant's id, in id order, for the jobs that run tenant by tenant (src/store/
 * ops_customer.c). Caller frees *out (NULL when there is none). */
int wp_store__tenant_ids(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n);

/* The check before a create: WP_ELIMIT "a tenant has at most <max> <what>" when count_sql
 * ("SELECT COUNT(*) FROM t WHERE tenant_id = ?") counts max or more rows of tenant_id. */
int wp_store__tenant_cap(wp_store *st, const char *count_sql, const char *tenant_id, int max,
                         const char *what);

#endif
