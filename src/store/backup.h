/* SPDX-License-Identifier: MIT */
/* What `workphone backup` and `restore` need of the store: a consistent copy of the SQLite
 * file while it is written, the rows of every table, and on PostgreSQL a dump of every table
 * in one snapshot and its load into an empty database (docs/backup.md). */
#ifndef WP_STORE_BACKUP_H
#define WP_STORE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Copy the live SQLite store <data_dir>/workphone.db into the new file dest with SQLite's
 * online backup (one read transaction: consistent while a server writes). @return 0 or
 * WP_EIO naming the file. dest is the caller's to remove on failure. */
int wp_store_sqlite_snapshot(const char *data_dir, const char *dest);

/* Calls cb with each of the store's tables (not schema_version, nor SQLite's own, nor the
 * shadow tables of full-text indexes) and its row count, in an order where a table comes after
 * every table it references (PostgreSQL: its foreign keys; SQLite: name order). Inside the
 * caller's transaction when there is one. A cb returning non-zero stops and is returned. */
int wp_store_table_counts(wp_store *st, int (*cb)(void *ctx, const char *table, int64_t rows),
                          void *ctx);

/* PostgreSQL: dump every table of wp_store_table_counts()' list in one REPEATABLE READ, READ
 * ONLY transaction: begin(ctx, table) then data(ctx, bytes, n) for each piece of
 * `COPY table TO STDOUT` (text format), then end(ctx, table, rows). *schema_version gets the
 * snapshot's version. A callback's non-zero return stops the dump and is returned.
 * @return 0, WP_EINVAL on SQLite, WP_EIO/WP_EUNAVAIL with wp_error_last(). */
typedef struct wp_store_dump_cb {
    int (*begin)(void *ctx, const char *table);
    int (*data)(void *ctx, const char *bytes, size_t n);
    int (*end)(void *ctx, const char *table, int64_t rows);
    void *ctx;
} wp_store_dump_cb;
int wp_store_pg_dump(wp_store *st, int *schema_version, const wp_store_dump_cb *cb);

/* PostgreSQL: 1 in *empty when the database at url has no table in its current schema.
 * @return 0 or WP_EIO/WP_EUNAVAIL */
int wp_store_pg_is_empty(const char *url, int *empty);

/* Open the store at url (PostgreSQL) migrated to exactly version (not past it), for a restore.
 * @return as wp_store_open(). Caller owns *out. */
int wp_store_open_at(wp_store **out, const char *url, int version);

/* PostgreSQL, inside the caller's transaction: `COPY table FROM STDIN` fed by read(ctx, buf,
 * cap), which returns the bytes it put in buf, 0 at the end of the table's data, or a negative
 * WP_E* that aborts the copy. table must be one of wp_store_table_counts()' names.
 * @return 0, the reader's error, or WP_EIO/WP_EINVAL with wp_error_last() */
int wp_store_pg_load(wp_store *st, const char *table,
                     long (*read)(void *ctx, char *buf, size_t cap), void *ctx);

/* PostgreSQL, inside the caller's transaction, around the loads: drop the indexes no
 * constraint stands on, keeping their definitions (pg_get_indexdef) in *defs, and make them
 * again once the rows are in, as pg_restore does: one sort per index instead of an index
 * update per row. indexes_make frees defs (also on failure; with st NULL it only
 * frees them). */
int wp_store_pg_indexes_drop(wp_store *st, char ***defs, size_t *n);
int wp_store_pg_indexes_make(wp_store *st, char **defs, size_t n);

/* PostgreSQL, after the loads: move every identity column's sequence past the column's
 * largest value, so the next generated value is new. */
int wp_store_pg_reset_identities(wp_store *st);

/* One tenant's rows in each table of wp_store_table_counts()' list (tenants: its own row):
 * cb(ctx, table, rows) for each. Inside the caller's transaction when there is one. */
int wp_store_tenant_counts(wp_store *st, const char *tenant_id,
                           int (*cb)(void *ctx, const char *table, int64_t rows), void *ctx);
/* The media files of the tenant that no other tenant of the store has, by their path under
 * the media root (ab/cd/<name>): the files a deletion of the tenant removes. cb's negative
 * return stops and is returned. */
int wp_store_tenant_media_own(wp_store *st, const char *tenant_id,
                              int (*cb)(void *ctx, const char *path), void *ctx);
/* Inside the caller's transaction: delete every row of the tenant in every table (its search
 * index entries too), then the tenant. On SQLite with secure_delete on (the freed space is
 * zeroed) and the foreign keys checked at the commit. The media files are the caller's. */
int wp_store_tenant_purge(wp_store *st, const char *tenant_id);
/* SQLite, after a purge has committed: rewrite the search index without what was deleted
 * (FTS5 'optimize') and checkpoint the WAL into the file and truncate it. *wal_busy is 1 when
 * another connection's reader kept the WAL from being truncated. PostgreSQL: nothing. */
int wp_store_sqlite_scrub(wp_store *st, int *wal_busy);
/* One tenant's rows of every table of wp_store_table_counts()' list, in one snapshot (a read
 * transaction; PostgreSQL: REPEATABLE READ, READ ONLY), through cb as for wp_store_pg_dump():
 * each table's data is JSON lines, the first the array of its column names (from the catalog,
 * in their order), then one array of values a row: integer columns as numbers, every other
 * value as its text (PostgreSQL's text form), NULL as null. The same on both backends, so
 * the file does not depend on where it came from. A message's sealed fields are opened, and
 * the path of media and retention_files rows names the file by its sha256 (ab/cd/<sha256>),
 * as the export carries it plain (an encrypted file's keyed name means nothing elsewhere).
 * *schema_version gets the store's. */
int wp_store_tenant_dump(wp_store *st, const char *tenant_id, int *schema_version,
                         const wp_store_dump_cb *cb);
/* The tenant's media files: cb(ctx, name, sha256, size), name the file's name on disk (as
 * wp_store_media_each gives it), in name order; a negative return stops. */
int wp_store_tenant_media_each(wp_store *st, const char *tenant_id,
                               int (*cb)(void *ctx, const char *name, const char *sha256,
                                         int64_t size),
                               void *ctx);
/* Loading an export (`workphone tenant import`), inside the caller's transaction. */
enum { WP_STORE_VALUE_NULL = 0, WP_STORE_VALUE_INT, WP_STORE_VALUE_TEXT };
typedef struct wp_store_value {
    int type;      /* WP_STORE_VALUE_* */
    int64_t i;     /* INT */
    const char *s; /* TEXT; borrowed */
} wp_store_value;
/* keep[i] = 1 for each of cols[0..n) that the table has. WP_EINVAL: no such table. */
int wp_store_table_has(wp_store *st, const char *table, const char *const *cols, size_t n,
                       unsigned char *keep);
/* INSERT INTO table (cols) VALUES (v): names must be plain lowercase names. WP_EEXISTS when a
 * key is taken; the message names the table. */
int wp_store_row_insert(wp_store *st, const char *table, const char *const *cols,
                        const wp_store_value *v, size_t n);
/* The search index of the tenant's messages loaded without it: SQLite gives each a search key
 * and its FTS5 entry, PostgreSQL its grams array (grams.h), as storing them does. */
int wp_store_tenant_reindex(wp_store *st, const char *tenant_id);
/* Inside the load's transaction, first: SQLite checks the foreign keys at the commit. */
int wp_store_load_begin(wp_store *st);
/* Delete the tenant's rows of one table (the webhook outbox rows the triggers made while its
 * alerts were loaded). */
int wp_store_tenant_table_clear(wp_store *st, const char *tenant_id, const char *table);
/* The row number (rid) of the tenant's message id; 0 when there is none. */
int wp_store_message_rid(wp_store *st, const char *tenant_id, const char *id, int64_t *rid);
#endif
