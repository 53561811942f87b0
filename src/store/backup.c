/* SPDX-License-Identifier: MIT */
/* The store's side of backup and restore: SQLite's online backup, the tables in dependency
 * order with their counts, PostgreSQL's dump and load by COPY (docs/backup.md). */
#include "store/backup.h"
#include "store/db.h"
#include "store/grams.h"
#include "store/internal.h"
#include "store/seal.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/json.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TABLES 256
#define OPENED_MAX (64u * 1024 * 1024) /* bytes of an opened text, at most */
#define SEALED_COLS_MAX 10 /* the sealed columns of a row, at most (messages have 9) */
#define NAME_MAX_LEN 63

/* Table and column names go into SQL text (COPY and COUNT cannot bind them): only names of
 * the catalog's, and only of the shape workphone's migrations give them, are used. */
static int plain_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n > 0 && n <= NAME_MAX_LEN;
}

struct tables {
    char name[MAX_TABLES][NAME_MAX_LEN + 1];
    size_t n;
};

static int add_name(struct tables *t, const char *name)
{
    if (!name || !plain_name(name))
        return wp_error_set(WP_EIO, "unexpected table name '%.64s'", name ? name : "");
    if (t->n == MAX_TABLES)
        return wp_error_set(WP_ELIMIT, "more than %d tables", MAX_TABLES);
    memcpy(t->name[t->n++], name, strlen(name) + 1);
    return 0;
}

static size_t index_of(const struct tables *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->name[i], name))
            return i;
    return t->n;
}

/* The tables, each after those it references (their foreign keys, on both backends: a
 * tenant's export loads in this order on either), else in name order. */
static int list_tables(wp_store *st, struct tables *out)
{
    static const char sqlite_sql[] =
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
        "AND name NOT LIKE 'sqlite%' AND name <> 'schema_version' ORDER BY name";
    static const char pg_sql[] =
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
        "AND NOT c.relispartition AND c.relname <> 'schema_version' ORDER BY c.relname";
    static const char edges_sql[] =
        "SELECT c.relname, f.relname FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE k.contype = 'f' AND n.nspname = current_schema() AND k.conrelid <> k.confrelid";
    static const char sqlite_edges_sql[] =
        "SELECT m.name, f.\"table\" FROM pragma_table_list m, pragma_foreign_key_list(m.name) f "
        "WHERE m.schema = 'main' AND m.type = 'table' AND f.\"table\" <> m.name";
    int pg = wp_store_backend(st) == WP_STORE_PG;
    struct tables *all = NULL;
    unsigned char (*dep)[MAX_TABLES] = NULL; /* dep[a][b]: a references b */
    unsigned char placed[MAX_TABLES] = {0};
    struct wp_stmt *s = NULL;
    int err;

    out->n = 0;
    if ((err = wp_db_prepare(st, &s, pg ? pg_sql : sqlite_sql)) < 0)
        goto out;
    if (!(all = calloc(1, sizeof *all)) || !(dep = calloc(MAX_TABLES, sizeof *dep))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    while ((err = wp_db_step(s)) == WP_DB_ROW)
        if ((err = add_name(all, wp_db_col_text(s, 0))) < 0)
            goto out;
    if (err < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    if ((err = wp_db_prepare(st, &s, pg ? edges_sql : sqlite_edges_sql)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        size_t a = index_of(all, wp_db_col_text(s, 0)), b = index_of(all, wp_db_col_text(s, 1));
        if (a < all->n && b < all->n)
            dep[a][b] = 1;
    }
    if (err < 0)
        goto out;
    while (out->n < all->n) {
        size_t before = out->n;
        for (size_t a = 0; a < all->n; a++) {
            if (placed[a])
                continue;
            size_t b = 0;
            while (b < all->n && (!dep[a][b] || placed[b]))
                b++;
            if (b == all->n) {
                placed[a] = 1;
                if ((err = add_name(out, all->name[a])) < 0)
                    goto out;
            }
        }
        if (out->n == before) {
            err = wp_error_set(WP_EIO, "the tables' foreign keys form a cycle");
            goto out;
        }
    }
    err = 0;
out:
    if (err > 0)
        err = 0;
    wp_db_done(s);
    free(all);
    free(dep);
    return err;
}

static int count_rows(wp_store *st, const char *table, int64_t *rows)
{
    struct wp_stmt *s = NULL;
    wp_buf sql;
    int err;
    wp_buf_init(&sql, 256);
    if ((err = wp_buf_adds(&sql, "SELECT COUNT(*) FROM ")) < 0 ||
        (err = wp_buf_adds(&sql, table)) < 0 || (err = wp_db_prepare(st, &s, sql.buf)) < 0)
        goto out;
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *rows = wp_db_col_int64(s, 0);
        err = 0;
    } else if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EIO, "no count of '%s'", table);
    }
out:
    wp_db_done(s);
    wp_buf_release(&sql);
    return err;
}

int wp_store_table_counts(wp_store *st, int (*cb)(void *ctx, const char *table, int64_t rows),
                          void *ctx)
{
    struct tables *t = calloc(1, sizeof *t);
    int err;
    if (!t)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = list_tables(st, t)) < 0)
        goto out;
    for (size_t i = 0; i < t->n; i++) {
        int64_t rows = 0;
        if ((err = count_rows(st, t->name[i], &rows)) < 0 || (err = cb(ctx, t->name[i], rows)))
            goto out;
    }
out:
    free(t);
    return err;
}

int wp_store_sqlite_snapshot(const char *data_dir, const char *dest)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *bk = NULL;
    wp_buf path;
    int err = 0, rc;
    wp_buf_init(&path, 4096);
    if ((err = wp_buf_adds(&path, data_dir)) < 0 || (err = wp_buf_adds(&path, "/workphone.db")) < 0)
        goto out;
    if (sqlite3_open_v2(path.buf, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        err = wp_error_set(WP_EIO, "cannot open '%s': %s", path.buf,
                           src ? sqlite3_errmsg(src) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(src, 5000);
    if (sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        err = wp_error_set(WP_EIO, "cannot create '%s': %s", dest,
                           dst ? sqlite3_errmsg(dst) : "out of memory");
        goto out;
    }
    /* a scratch copy: the caller syncs what it makes of it, so no journal and no syncs here */
    if (sqlite3_exec(dst, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", NULL, NULL,
                     NULL) != SQLITE_OK) {
        err = wp_error_set(WP_EIO, "cannot set up '%s': %s", dest, sqlite3_errmsg(dst));
        goto out;
    }
    if (!(bk = sqlite3_backup_init(dst, "main", src, "main"))) {
        err = wp_error_set(WP_EIO, "cannot back up '%s': %s", path.buf, sqlite3_errmsg(dst));
        goto out;
    }
    /* all pages in one step: one read transaction on the source, a snapshot of one moment,
     * which a WAL-mode writer does not wait for */
    while ((rc = sqlite3_backup_step(bk, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED)
        sqlite3_sleep(50);
    if (rc != SQLITE_DONE)
        err = wp_error_set(WP_EIO, "backup of '%s' failed: %s", path.buf, sqlite3_errstr(rc));
    rc = sqlite3_backup_finish(bk);
    if (err == 0 && rc != SQLITE_OK)
        err = wp_error_set(WP_EIO, "backup of '%s' failed: %s", path.buf, sqlite3_errstr(rc));
out:
    sqlite3_close_v2(src);
    if (dst && sqlite3_close(dst) != SQLITE_OK && err == 0)
        err = wp_error_set(WP_EIO, "cannot close '%s'", dest);
    wp_buf_release(&path);
    return err;
}

/* Rows of a table that references itself must come after the rows they name: the org tree by
 * its materialized path, a parent's being a prefix of its children's. */
static const char *order_of(const char *table)
{
    return !strcmp(table, "org_units") ? " ORDER BY path" : "";
}

int wp_store_pg_dump(wp_store *st, int *schema_version, const wp_store_dump_cb *cb)
{
    struct tables *t = NULL;
    wp_buf sql;
    int err;
    wp_buf_init(&sql, 512);
    if (wp_store_backend(st) != WP_STORE_PG)
        return wp_error_set(WP_EINVAL, "not a postgresql store");
    if (!(t = calloc(1, sizeof *t)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = wp_db_exec(st, "BEGIN")) < 0)
        goto out;
    if ((err = wp_db_exec(st, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")) < 0 ||
        (err = wp_store_schema_version(st, schema_version)) < 0 || (err = list_tables(st, t)) < 0)
        goto rollback;
    for (size_t i = 0; i < t->n; i++) {
        int64_t rows = 0;
        wp_buf_reset(&sql);
        if ((err = wp_buf_adds(&sql, "COPY (SELECT * FROM ")) < 0 ||
            (err = wp_buf_adds(&sql, t->name[i])) < 0 ||
            (err = wp_buf_adds(&sql, order_of(t->name[i]))) < 0 ||
            (err = wp_buf_adds(&sql, ") TO STDOUT")) < 0)
            goto rollback;
        if ((err = cb->begin(cb->ctx, t->name[i])) ||
            (err = wp_db__pg_copy_out(st, sql.buf, cb->data, cb->ctx, &rows)) ||
            (err = cb->end(cb->ctx, t->name[i], rows)))
            goto rollback;
    }
    err = wp_db_exec(st, "COMMIT");
    goto out;
rollback:
    wp_db_exec(st, "ROLLBACK");
out:
    free(t);
    wp_buf_release(&sql);
    return err;
}

int wp_store_pg_is_empty(const char *url, int *empty)
{
    static const char sql[] =
        "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S')";
    wp_store *st = NULL;
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db__pg_open(&st, url)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        goto out;
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *empty = wp_db_col_int64(s, 0) == 0;
        err = 0;
    } else if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EIO, "postgresql: no answer");
    }
out:
    wp_db_done(s);
    wp_store_free(st);
    return err;
}

int wp_store_pg_load(wp_store *st, const char *table,
                     long (*read)(void *ctx, char *buf, size_t cap), void *ctx)
{
    wp_buf sql;
    int err;
    if (!plain_name(table) || !strcmp(table, "schema_version"))
        return wp_error_set(WP_EINVAL, "table '%.64s' is not one workphone dumps", table);
    wp_buf_init(&sql, 256);
    if ((err = wp_buf_adds(&sql, "COPY ")) < 0 || (err = wp_buf_adds(&sql, table)) < 0 ||
        (err = wp_buf_adds(&sql, " FROM STDIN")) < 0)
        goto out;
    err = wp_db__pg_copy_in(st, sql.buf, read, ctx);
out:
    wp_buf_release(&sql);
    return err;
}

int wp_store_pg_indexes_drop(wp_store *st, char ***defs, size_t *n)
{
    /* the indexes no constraint stands on (those of primary keys and unique constraints
     * stay: the foreign keys need them), as pg_get_indexdef() gives them back */
    static const char sql[] =
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
        "ORDER BY c.relname";
    struct wp_stmt *s = NULL;
    char **out = NULL, (*names)[NAME_MAX_LEN + 1] = NULL;
    size_t count = 0;
    wp_buf drop;
    int err;
    wp_buf_init(&drop, 256);
    *defs = NULL;
    *n = 0;
    if (!(out = calloc(MAX_TABLES * 4, sizeof *out)) ||
        !(names = calloc(MAX_TABLES * 4, sizeof *names))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *name = wp_db_col_text(s, 0), *def = wp_db_col_text(s, 1);
        if (!name || !def || !plain_name(name) || count == MAX_TABLES * 4) {
            err = wp_error_set(WP_EIO, "unexpected index '%.64s'", name ? name : "");
            goto out;
        }
        if (!(out[count] = strdup(def))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(names[count++], name, strlen(name) + 1);
    }
    if (err < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    for (size_t i = 0; i < count; i++) {
        wp_buf_reset(&drop);
        if ((err = wp_buf_adds(&drop, "DROP INDEX ")) < 0 ||
            (err = wp_buf_adds(&drop, names[i])) < 0 || (err = wp_db_exec(st, drop.buf)) < 0)
            goto out;
    }
    *defs = out;
    *n = count;
    out = NULL;
    err = 0;
out:
    wp_db_done(s);
    if (out)
        for (size_t i = 0; i < count; i++)
            free(out[i]);
    free(out);
    free(names);
    wp_buf_release(&drop);
    return err;
}

int wp_store_pg_indexes_make(wp_store *st, char **defs, size_t n)
{
    int err = 0;
    for (size_t i = 0; i < n; i++) {
        if (err == 0 && st)
            err = wp_db_exec(st, defs[i]);
        free(defs[i]);
    }
    free(defs);
    return err;
}

int wp_store_pg_reset_identities(wp_store *st)
{
    static const char cols_sql[] =
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY 1, 2";
    struct wp_stmt *s = NULL;
    char names[32][2][NAME_MAX_LEN + 1];
    size_t n = 0;
    wp_buf sql;
    int err;
    wp_buf_init(&sql, 512);
    if ((err = wp_db_prepare(st, &s, cols_sql)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *t = wp_db_col_text(s, 0), *c = wp_db_col_text(s, 1);
        if (!t || !c || !plain_name(t) || !plain_name(c) || n == 32) {
            err = wp_error_set(WP_EIO, "unexpected identity column");
            goto out;
        }
        memcpy(names[n][0], t, strlen(t) + 1);
        memcpy(names[n][1], c, strlen(c) + 1);
        n++;
    }
    if (err < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    for (size_t i = 0; i < n; i++) {
        wp_buf_reset(&sql);
        /* setval(seq, max + 1, false): the next value is max + 1, also on an empty table */
        if ((err = wp_buf_adds(&sql, "SELECT setval(pg_get_serial_sequence(?, ?), "
                                     "COALESCE((SELECT max(")) < 0 ||
            (err = wp_buf_adds(&sql, names[i][1])) < 0 ||
            (err = wp_buf_adds(&sql, ") FROM ")) < 0 ||
            (err = wp_buf_adds(&sql, names[i][0])) < 0 ||
            (err = wp_buf_adds(&sql, "), 0) + 1, false)")) < 0)
            goto out;
        if ((err = wp_db_run(st, sql.buf, "tt", names[i][0], names[i][1])) < 0)
            goto out;
    }
    err = 0;
out:
    wp_db_done(s);
    wp_buf_release(&sql);
    return err;
}

/* --- one tenant's rows: count and delete ---------------------------------------------- */

/* The column that names a table's tenant: tenant_id, but the tenants table's own id and the
 * wrapped keys' owner (a tenant's data keys; migration 0035). */
static const char *tenant_column(const char *table)
{
    return !strcmp(table, "tenants") ? "id" : !strcmp(table, "wrapped_keys") ? "owner" : "tenant_id";
}

/* "SELECT COUNT(*) FROM t WHERE tenant_id = ?" or "DELETE FROM t WHERE ...". */
static int tenant_sql(wp_buf *sql, const char *verb, const char *table)
{
    int err;
    wp_buf_reset(sql);
    if ((err = wp_buf_adds(sql, verb)) < 0 || (err = wp_buf_adds(sql, table)) < 0 ||
        (err = wp_buf_adds(sql, " WHERE ")) < 0 ||
        (err = wp_buf_adds(sql, tenant_column(table))) < 0 || (err = wp_buf_adds(sql, " = ?")) < 0)
        return err;
    return 0;
}

int wp_store_tenant_counts(wp_store *st, const char *tenant_id,
                           int (*cb)(void *ctx, const char *table, int64_t rows), void *ctx)
{
    struct tables *t = calloc(1, sizeof *t);
    struct wp_stmt *s = NULL;
    wp_buf sql;
    int err;
    wp_buf_init(&sql, 256);
    if (!t)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = list_tables(st, t)) < 0)
        goto out;
    for (size_t i = 0; i < t->n; i++) {
        if ((err = tenant_sql(&sql, "SELECT COUNT(*) FROM ", t->name[i])) < 0 ||
            (err = wp_db_prepare(st, &s, sql.buf)) < 0)
            goto out;
        wp_db_bind_text(s, 1, tenant_id);
        if ((err = wp_db_step(s)) != WP_DB_ROW) {
            if (err >= 0)
                err = wp_error_set(WP_EIO, "no count of '%s'", t->name[i]);
            goto out;
        }
        int64_t rows = wp_db_col_int64(s, 0);
        wp_db_done(s);
        s = NULL;
        if ((err = cb(ctx, t->name[i], rows)))
            goto out;
    }
out:
    wp_db_done(s);
    wp_buf_release(&sql);
    free(t);
    return err;
}

/* SQLite: take the tenant's messages out of the contentless search index, which keeps no
 * tenant column to delete by: FTS5's 'delete' command with the grams each one was indexed
 * with (ops_events.c: wp_grams__make of its text). */
static int unindex_messages(wp_store *st, const char *tenant_id)
{
    struct wp_stmt *s = NULL, *d = NULL;
    wp_buf grams, opened;
    unsigned char gk[WP_GRAM_KEY_LEN];
    int keyed = 0, err;
    wp_buf_init(&grams, 2u * 1024 * 1024);
    wp_buf_init(&opened, OPENED_MAX);
    if ((err = wp_db_prepare(st, &s,
                             "SELECT skey, text, id FROM messages WHERE tenant_id = ?"
                             " AND skey IS NOT NULL AND text IS NOT NULL")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_seal__gram_key(st, gk, &keyed, tenant_id)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *text = NULL;
        wp_seal_at at = {tenant_id, "messages", "text", wp_db_col_text(s, 2)};
        /* a text stored before the master key (not sealed yet: keys seal-data) has plain
         * grams */
        int sealed = wp_seal__is_sealed(wp_db_col_text(s, 1));
        if ((err = wp_seal__open_text(st, &opened, &text, &at, wp_db_col_text(s, 1))) < 0)
            goto out;
        wp_buf_reset(&grams);
        if ((err = wp_grams__make_keyed(&grams, NULL, text, strlen(text), 0, WP_GRAMS_SPACED,
                                        keyed && sealed ? gk : NULL)) < 0)
            goto out;
        if (grams.len == 0) /* nothing was indexed */
            continue;
        if ((err = wp_db_prepare(st, &d,
                                 "INSERT INTO message_fts (message_fts, rowid,"
                                 " tenant_id, grams) VALUES ('delete', ?, ?, ?)")) < 0)
            goto out;
        wp_db_bind_int64(d, 1, wp_db_col_int64(s, 0));
        wp_db_bind_text(d, 2, tenant_id);
        wp_db_bind_text(d, 3, grams.buf);
        err = wp_db_step(d);
        wp_db_done(d);
        d = NULL;
        if (err < 0)
            goto out;
    }
    if (err > 0)
        err = 0;
out:
    wp_db_done(s);
    sodium_memzero(gk, sizeof gk);
    wp_buf_release(&grams);
    wp_buf_release(&opened);
    return err;
}

int wp_store_tenant_media_own(wp_store *st, const char *tenant_id,
                              int (*cb)(void *ctx, const char *path), void *ctx)
{
    struct wp_stmt *s = NULL;
    int err;
    /* by the name on disk: a plain file (named by its sha256) may be another tenant's too, an
     * encrypted one (a keyed name) is this tenant's own */
    if ((err = wp_db_prepare(st, &s,
                             "SELECT DISTINCT m.path FROM media m WHERE m.tenant_id = ? AND"
                             " NOT EXISTS (SELECT 1 FROM media o WHERE o.path = m.path"
                             " AND o.tenant_id <> m.tenant_id)"
                             " ORDER BY m.path")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *path = wp_db_col_text(s, 0);
        if (path && *path && (err = cb(ctx, path)) < 0)
            break;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_tenant_purge(wp_store *st, const char *tenant_id)
{
    struct tables *t = calloc(1, sizeof *t);
    struct wp_stmt *s = NULL;
    wp_buf sql;
    int err, sqlite = wp_store_backend(st) == WP_STORE_SQLITE;
    wp_buf_init(&sql, 256);
    if (!t)
        return wp_error_set(WP_ENOMEM, "out of memory");
    /* SQLite: freed cells and pages are overwritten with zeros, so the file keeps no trace;
     * its tables are in name order, so the foreign keys are checked at the commit */
    if (sqlite && ((err = wp_db_exec(st, "PRAGMA secure_delete = ON")) < 0 ||
                   (err = wp_db_exec(st, "PRAGMA defer_foreign_keys = ON")) < 0 ||
                   (err = unindex_messages(st, tenant_id)) < 0))
        goto out;
    if ((err = list_tables(st, t)) < 0)
        goto out;
    for (size_t i = t->n; i-- > 0;) { /* those that reference others first */
        if (!strcmp(t->name[i], "tenants"))
            continue;
        if ((err = tenant_sql(&sql, "DELETE FROM ", t->name[i])) < 0 ||
            (err = wp_db_prepare(st, &s, sql.buf)) < 0)
            goto out;
        wp_db_bind_text(s, 1, tenant_id);
        err = wp_db_step(s);
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            goto out;
    }
    if ((err = tenant_sql(&sql, "DELETE FROM ", "tenants")) < 0 ||
        (err = wp_db_prepare(st, &s, sql.buf)) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    err = wp_db_step(s);
    wp_db_done(s);
    s = NULL;
    err = err < 0 ? err : 0;
out:
    wp_buf_release(&sql);
    free(t);
    return err;
}

int wp_store_sqlite_scrub(wp_store *st, int *wal_busy)
{
    struct wp_stmt *s = NULL;
    int err;
    *wal_busy = 0;
    if (wp_store_backend(st) != WP_STORE_SQLITE)
        return 0;
    if ((err = wp_db_exec(st, "PRAGMA secure_delete = ON")) < 0 ||
        (err = wp_db_exec(st, "INSERT INTO message_fts (message_fts) VALUES ('optimize')")) < 0 ||
        (err = wp_db_prepare(st, &s, "PRAGMA wal_checkpoint(TRUNCATE)")) < 0)
        return err;
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *wal_busy = wp_db_col_int64(s, 0) != 0;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* --- one tenant's rows: a portable dump ------------------------------------------------ */

#define MAX_COLUMNS 128

struct columns {
    char name[MAX_COLUMNS][NAME_MAX_LEN + 1];
    unsigned char number[MAX_COLUMNS]; /* 1: an integer column, written as a JSON number */
    size_t n;
};

/* The table's columns in their order, from the catalog. */
static int table_columns(wp_store *st, const char *table, struct columns *c)
{
    static const char sqlite_sql[] =
        "SELECT name, upper(type) FROM pragma_table_info(?) ORDER BY cid";
    static const char pg_sql[] =
        "SELECT column_name, CASE WHEN data_type IN ('bigint', 'integer', 'smallint')"
        " THEN 'INTEGER' ELSE data_type END FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position";
    struct wp_stmt *s = NULL;
    int err;
    c->n = 0;
    if ((err = wp_db_prepare(st, &s, wp_store_backend(st) == WP_STORE_PG ? pg_sql : sqlite_sql)) <
        0)
        return err;
    wp_db_bind_text(s, 1, table);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *name = wp_db_col_text(s, 0), *type = wp_db_col_text(s, 1);
        if (!name || !plain_name(name)) {
            err = wp_error_set(WP_EIO, "unexpected column name in '%s'", table);
            break;
        }
        if (c->n == MAX_COLUMNS) {
            err = wp_error_set(WP_ELIMIT, "more than %d columns in '%s'", MAX_COLUMNS, table);
            break;
        }
        memcpy(c->name[c->n], name, strlen(name) + 1);
        c->number[c->n++] = type && !strcmp(type, "INTEGER");
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* One table's rows of the tenant as JSON lines: the column names, then a row an array. */
static int dump_tenant_table(wp_store *st, const char *tenant_id, const char *table,
                             const wp_store_dump_cb *cb)
{
    struct columns *c = calloc(1, sizeof *c);
    struct wp_stmt *s = NULL;
    wp_buf sql, line, opened;
    int64_t rows = 0;
    int err;
    wp_buf_init(&sql, 16384);
    wp_buf_init(&line, 64u << 20);
    wp_buf_init(&opened, OPENED_MAX);
    if (!c)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = table_columns(st, table, c)) < 0)
        goto out;
    if ((err = wp_buf_adds(&sql, "SELECT ")) < 0 || (err = wp_buf_addc(&line, '[')) < 0)
        goto out;
    for (size_t i = 0; i < c->n; i++)
        if ((i && ((err = wp_buf_addc(&sql, ',')) < 0 || (err = wp_buf_addc(&line, ',')) < 0)) ||
            (err = wp_buf_adds(&sql, c->name[i])) < 0 ||
            (err = wp_json_str(&line, c->name[i], strlen(c->name[i]))) < 0)
            goto out;
    if ((err = wp_buf_adds(&sql, " FROM ")) < 0 || (err = wp_buf_adds(&sql, table)) < 0 ||
        (err = wp_buf_adds(&sql, " WHERE ")) < 0 ||
        (err = wp_buf_adds(&sql, tenant_column(table))) < 0 ||
        (err = wp_buf_adds(&sql, " = ?")) < 0 ||
        (err = wp_buf_adds(&sql, order_of(table))) < 0 || (err = wp_buf_adds(&line, "]\n")) < 0)
        goto out;
    if ((err = cb->begin(cb->ctx, table)) || (err = cb->data(cb->ctx, line.buf, line.len)))
        goto out;
    if ((err = wp_db_prepare(st, &s, sql.buf)) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    /* sealed fields leave opened: the export is read by another deployment, whose keys are not
     * these (tenant import seals them again under its own); a phone identity leaves as its
     * number (value), without its blind index, which is this deployment's */
    int id_col = -1, value_col = -1, sealed_col = -1;
    int idt = !strcmp(table, "customer_identities");
    const struct wp_seal_table *sealed_of = wp_seal__table(table);
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->name[i], "id") && sealed_of)
            id_col = (int)i;
        else if (idt && !strcmp(c->name[i], "value"))
            value_col = (int)i;
        else if (idt && !strcmp(c->name[i], "sealed"))
            sealed_col = (int)i;
    /* the media files leave plain, under their sha256 (an encrypted one is opened by the
     * export, docs/internals/keys.md): the rows that name a file on disk name that one */
    int path_col = -1, sha_col = -1;
    for (size_t i = 0; i < c->n && (!strcmp(table, "media") || !strcmp(table, "retention_files"));
         i++)
        if (!strcmp(c->name[i], "path"))
            path_col = (int)i;
        else if (!strcmp(c->name[i], "sha256"))
            sha_col = (int)i;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        wp_buf_reset(&line);
        if ((err = wp_buf_addc(&line, '[')) < 0)
            goto out;
        for (size_t i = 0; i < c->n; i++) {
            char num[32];
            if (i && (err = wp_buf_addc(&line, ',')) < 0)
                goto out;
            if (wp_db_col_isnull(s, (int)i) || (int)i == sealed_col) {
                err = wp_buf_adds(&line, "null");
            } else if ((int)i == value_col && sealed_col >= 0 && !wp_db_col_isnull(s, sealed_col)) {
                const char *v = NULL;
                wp_seal_at at = {tenant_id, table, "value", wp_db_col_text(s, (int)i)};
                if ((err = wp_seal__open_text(st, &opened, &v, &at,
                                              wp_db_col_text(s, sealed_col))) < 0)
                    goto out;
                err = wp_json_str(&line, v, strlen(v));
            } else if (c->number[i]) {
                snprintf(num, sizeof num, "%lld", (long long)wp_db_col_int64(s, (int)i));
                err = wp_buf_adds(&line, num);
            } else if ((int)i == path_col && sha_col >= 0 && wp_db_col_text(s, sha_col) &&
                       strlen(wp_db_col_text(s, sha_col)) == 64) {
                const char *sha = wp_db_col_text(s, sha_col);
                char plain[80];
                snprintf(plain, sizeof plain, "%.2s/%.2s/%.64s", sha, sha + 2, sha);
                err = wp_json_str(&line, plain, strlen(plain));
            } else {
                const char *v = wp_db_col_text(s, (int)i);
                if (id_col >= 0 && wp_seal__col_sealed(sealed_of, c->name[i]) &&
                    wp_seal__is_sealed(v)) {
                    wp_seal_at at = {tenant_id, table, c->name[i], wp_db_col_text(s, id_col)};
                    if ((err = wp_seal__open_text(st, &opened, &v, &at, v)) < 0)
                        goto out;
                }
                err = wp_json_str(&line, v, strlen(v));
            }
            if (err < 0)
                goto out;
        }
        if ((err = wp_buf_adds(&line, "]\n")) < 0 || (err = cb->data(cb->ctx, line.buf, line.len)))
            goto out;
        rows++;
    }
    if (err < 0)
        goto out;
    err = cb->end(cb->ctx, table, rows);
out:
    wp_db_done(s);
    wp_buf_release(&sql);
    wp_buf_release(&line);
    wp_buf_release(&opened);
    free(c);
    return err > 0 ? 0 : err;
}

int wp_store_tenant_dump(wp_store *st, const char *tenant_id, int *schema_version,
                         const wp_store_dump_cb *cb)
{
    struct tables *t = calloc(1, sizeof *t);
    int err, pg = wp_store_backend(st) == WP_STORE_PG;
    if (!t)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = wp_db_exec(st, "BEGIN")) < 0)
        goto out;
    if ((pg && (err = wp_db_exec(st, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ,"
                                     " READ ONLY")) < 0) ||
        (err = wp_store_schema_version(st, schema_version)) < 0 || (err = list_tables(st, t)) < 0)
        goto rollback;
    for (size_t i = 0; i < t->n; i++)
        if ((err = dump_tenant_table(st, tenant_id, t->name[i], cb)))
            goto rollback;
    err = wp_db_exec(st, "COMMIT");
    goto out;
rollback:
    wp_db_exec(st, "ROLLBACK");
out:
    free(t);
    return err;
}

int wp_store_tenant_media_each(wp_store *st, const char *tenant_id,
                               int (*cb)(void *ctx, const char *name, const char *sha256,
                                         int64_t size),
                               void *ctx)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT path, sha256, size FROM media WHERE tenant_id = ?"
                             " ORDER BY path")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *path = wp_db_col_text(s, 0), *sha = wp_db_col_text(s, 1);
        /* ab/cd/<64 hex>: the file's name on disk (its sha256, or a keyed name when encrypted,
         * docs/internals/keys.md) */
        if (path && sha && strlen(path) == 70 &&
            (err = cb(ctx, path + 6, sha, wp_db_col_int64(s, 2))) < 0)
            break;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* --- one tenant's rows: loading an export ---------------------------------------------- */

int wp_store_table_has(wp_store *st, const char *table, const char *const *cols, size_t n,
                       unsigned char *keep)
{
    struct columns *c = calloc(1, sizeof *c);
    int err;
    if (!c)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (!plain_name(table)) {
        err = wp_error_set(WP_EINVAL, "unexpected table name '%.64s'", table);
        goto out;
    }
    if ((err = table_columns(st, table, c)) < 0)
        goto out;
    if (c->n == 0) {
        err = wp_error_set(WP_EINVAL, "no table '%s' in this store", table);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        keep[i] = 0;
        for (size_t j = 0; j < c->n; j++)
            if (!strcmp(cols[i], c->name[j]))
                keep[i] = 1;
    }
out:
    free(c);
    return err;
}

int wp_store_row_insert(wp_store *st, const char *table, const char *const *cols,
                        const wp_store_value *v, size_t n)
{
    struct wp_stmt *s = NULL;
    wp_buf sql, seal[SEALED_COLS_MAX];
    char blind[WP_SEAL_BLIND_LEN + 1];
    int sealed = 0, err;
    wp_buf_init(&sql, 16384);
    for (size_t i = 0; i < SEALED_COLS_MAX; i++)
        wp_buf_init(&seal[i], OPENED_MAX);
    if (!plain_name(table) || n == 0)
        return wp_error_set(WP_EINVAL, "unexpected table name '%.64s'", table);
    if ((err = wp_buf_adds(&sql, "INSERT INTO ")) < 0 || (err = wp_buf_adds(&sql, table)) < 0 ||
        (err = wp_buf_adds(&sql, " (")) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!plain_name(cols[i])) {
            err = wp_error_set(WP_EINVAL, "unexpected column name '%.64s'", cols[i]);
            goto out;
        }
        if ((i && (err = wp_buf_addc(&sql, ',')) < 0) || (err = wp_buf_adds(&sql, cols[i])) < 0)
            goto out;
    }
    if ((err = wp_buf_adds(&sql, ") VALUES (")) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if ((err = wp_buf_adds(&sql, i ? ",?" : "?")) < 0)
            goto out;
    if ((err = wp_buf_addc(&sql, ')')) < 0 || (err = wp_db_prepare(st, &s, sql.buf)) < 0)
        goto out;
    /* a message's text, peer's name and phone and raw event, a customer's name, phone,
     * company and notes, a call's and a contact event's peer and raw event, a check-in's raw
     * event and an alert's matched words are sealed to their row under this deployment's keys when it has a master key
     * (the export carries them opened: wp_seal__table); a phone identity is kept by its blind
     * index, its number sealed beside it */
    const struct wp_seal_table *sealed_of = wp_seal__table(table);
    int idt = !strcmp(table, "customer_identities");
    const char *tenant = NULL, *id = NULL, *kind = NULL, *look = NULL;
    int value_col = -1, sealed_col = -1;
    for (size_t i = 0; i < n; i++)
        if (v[i].type == WP_STORE_VALUE_TEXT && !strcmp(cols[i], "tenant_id"))
            tenant = v[i].s;
        else if (v[i].type == WP_STORE_VALUE_TEXT && !strcmp(cols[i], "id"))
            id = v[i].s;
        else if (v[i].type == WP_STORE_VALUE_TEXT && !strcmp(cols[i], "kind"))
            kind = v[i].s;
        else if (v[i].type == WP_STORE_VALUE_TEXT && !strcmp(cols[i], "value"))
            value_col = (int)i;
        else if (!strcmp(cols[i], "sealed"))
            sealed_col = (int)i;
    if (idt && tenant && kind && value_col >= 0 && sealed_col >= 0 &&
        v[sealed_col].type != WP_STORE_VALUE_TEXT &&
        (err = wp_seal__lookup(st, blind, &look, tenant, kind, v[value_col].s)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (look && look != v[value_col].s && (int)i == value_col)
            wp_db_bind_text(s, (int)i + 1, look);
        else if (look && look != v[value_col].s && (int)i == sealed_col) {
            const char *res = NULL;
            wp_seal_at at = {tenant, table, "value", look};
            if ((err = wp_seal__text(st, &seal[0], &res, &at, v[value_col].s)) < 0)
                goto out;
            wp_db_bind_text(s, (int)i + 1, res);
        } else if (v[i].type == WP_STORE_VALUE_INT)
            wp_db_bind_int64(s, (int)i + 1, v[i].i);
        else if (v[i].type == WP_STORE_VALUE_TEXT && tenant && id && sealed < SEALED_COLS_MAX &&
                 wp_seal__row_sealed(sealed_of, cols[i], kind) && !wp_seal__is_sealed(v[i].s)) {
            const char *res = NULL;
            wp_seal_at at = {tenant, table, cols[i], id};
            if ((err = wp_seal__text(st, &seal[sealed], &res, &at, v[i].s)) < 0)
                goto out;
            wp_db_bind_text(s, (int)i + 1, res);
            sealed++;
        } else if (v[i].type == WP_STORE_VALUE_TEXT)
            wp_db_bind_text(s, (int)i + 1, v[i].s);
        else
            wp_db_bind_null(s, (int)i + 1);
    }
    err = wp_db_step(s);
    if (err < 0) {
        char why[300];
        snprintf(why, sizeof why, "%s", wp_error_last());
        err = wp_error_set(err == WP_EEXISTS ? WP_EEXISTS : err, "table '%s': %s", table, why);
    } else {
        err = 0;
    }
out:
    wp_db_done(s);
    wp_buf_release(&sql);
    for (size_t i = 0; i < SEALED_COLS_MAX; i++)
        wp_buf_release(&seal[i]);
    return err;
}

struct unindexed {
    int64_t rid, ts_us;
    char *text;
    int sealed; /* stored sealed: keyed grams; else plain ones, as ingest gave before the key */
};

int wp_store_tenant_reindex(wp_store *st, const char *tenant_id)
{
    int pg = wp_store_backend(st) == WP_STORE_PG;
    struct wp_stmt *s = NULL;
    struct unindexed *v = NULL;
    size_t n = 0, cap = 0;
    wp_buf grams, opened;
    unsigned char gk[WP_GRAM_KEY_LEN];
    int keyed = 0, err;
    wp_buf_init(&grams, 2u * 1024 * 1024);
    wp_buf_init(&opened, OPENED_MAX);
    if ((err = wp_seal__gram_key(st, gk, &keyed, tenant_id)) < 0)
        goto out;
    if ((err = wp_db_prepare(st, &s,
                             pg ? "SELECT rid, ts_us, text, id FROM messages WHERE"
                                  " tenant_id = ? AND text IS NOT NULL AND grams = '{}'"
                                  " ORDER BY rid"
                                : "SELECT rid, ts_us, text, id FROM messages WHERE"
                                  " tenant_id = ? AND skey IS NULL ORDER BY ts_us, rid")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (n == cap && (err = wp_array__grow((void **)&v, &cap, n, sizeof *v)) < 0)
            break;
        const char *t = NULL;
        wp_seal_at at = {tenant_id, "messages", "text", wp_db_col_text(s, 3)};
        if ((err = wp_seal__open_text(st, &opened, &t, &at, wp_db_col_text(s, 2))) < 0)
            break;
        v[n].rid = wp_db_col_int64(s, 0);
        v[n].ts_us = wp_db_col_int64(s, 1);
        v[n].sealed = wp_seal__is_sealed(wp_db_col_text(s, 2));
        v[n].text = NULL;
        if (t && !(v[n].text = strdup(t))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    wp_db_done(s);
    s = NULL;
    if (err < 0)
        goto out;
    err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        wp_buf_reset(&grams);
        if (v[i].text &&
            (err = wp_grams__make_keyed(&grams, NULL, v[i].text, strlen(v[i].text), 0,
                                        pg ? WP_GRAMS_PG_ARRAY : WP_GRAMS_SPACED,
                                        keyed && v[i].sealed ? gk : NULL)) < 0)
            break;
        if (pg) {
            if ((err = wp_db_prepare(st, &s,
                                     "UPDATE messages SET grams = CAST(? AS TEXT[])"
                                     " WHERE rid = ?")) < 0)
                break;
            wp_db_bind_text(s, 1, grams.len ? grams.buf : "{}");
            wp_db_bind_int64(s, 2, v[i].rid);
            err = wp_db_step(s);
            wp_db_done(s);
            s = NULL;
            err = err < 0 ? err : 0;
            continue;
        }
        /* SQLite: the next search key free in its millisecond, as ops_events.c gives one */
        int64_t g = wp_skey__group(v[i].ts_us), last = -1, key;
        if ((err = wp_db_prepare(st, &s,
                                 "SELECT max(skey) FROM messages WHERE skey >= ? AND"
                                 " skey <= ?")) < 0)
            break;
        wp_db_bind_int64(s, 1, wp_skey__group_first(g));
        wp_db_bind_int64(s, 2, wp_skey__group_last(g));
        if ((err = wp_db_step(s)) == WP_DB_ROW && !wp_db_col_isnull(s, 0))
            last = wp_db_col_int64(s, 0);
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            break;
        if (last == wp_skey__group_last(g)) {
            err = wp_error_set(WP_ELIMIT, "more than %ld messages in one millisecond",
                               1L << WP_SKEY_LOW_BITS);
            break;
        }
        key = last < 0 ? wp_skey__group_first(g) : last + 1;
        if (key == 0)
            key = 1;
        if ((err = wp_db_prepare(st, &s, "UPDATE messages SET skey = ? WHERE rid = ?")) < 0)
            break;
        wp_db_bind_int64(s, 1, key);
        wp_db_bind_int64(s, 2, v[i].rid);
        err = wp_db_step(s);
        wp_db_done(s);
        s = NULL;
        if (err < 0 || grams.len == 0) {
            err = err < 0 ? err : 0;
            continue;
        }
        if ((err = wp_db_prepare(st, &s,
                                 "INSERT INTO message_fts (rowid, tenant_id, grams)"
                                 " VALUES (?, ?, ?)")) < 0)
            break;
        wp_db_bind_int64(s, 1, key);
        wp_db_bind_text(s, 2, tenant_id);
        wp_db_bind_text(s, 3, grams.buf);
        err = wp_db_step(s);
        wp_db_done(s);
        s = NULL;
        err = err < 0 ? err : 0;
    }
out:
    wp_db_done(s);
    for (size_t i = 0; i < n; i++)
        free(v[i].text);
    free(v);
    sodium_memzero(gk, sizeof gk);
    wp_buf_release(&grams);
    wp_buf_release(&opened);
    return err;
}

int wp_store_message_rid(wp_store *st, const char *tenant_id, const char *id, int64_t *rid)
{
    struct wp_stmt *s = NULL;
    int err;
    *rid = 0;
    if ((err = wp_db_prepare(st, &s, "SELECT rid FROM messages WHERE tenant_id = ? AND id = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *rid = wp_db_col_int64(s, 0);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_load_begin(wp_store *st)
{
    return wp_store_backend(st) == WP_STORE_SQLITE
               ? wp_db_exec(st, "PRAGMA defer_foreign_keys = ON")
               : 0;
}

int wp_store_tenant_table_clear(wp_store *st, const char *tenant_id, const char *table)
{
    struct wp_stmt *s = NULL;
    wp_buf sql;
    int err;
    wp_buf_init(&sql, 256);
    if (!plain_name(table))
        return wp_error_set(WP_EINVAL, "unexpected table name '%.64s'", table);
    if ((err = tenant_sql(&sql, "DELETE FROM ", table)) < 0 ||
        (err = wp_db_prepare(st, &s, sql.buf)) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    err = wp_db_step(s);
    err = err < 0 ? err : 0;
out:
    wp_db_done(s);
    wp_buf_release(&sql);
    return err;
}
