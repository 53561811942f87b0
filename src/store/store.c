/* SPDX-License-Identifier: MIT */
/* The store's common part: open and migrate, transactions, the statement cache, validation. */
#include "store/db.h"
#include "store/integrity.h"
#include "store/migrations.h"
#include "store/backup.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/testhooks.h"
#include "util/utf8.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQLITE_FILE WP_STORE_SQLITE_FILE

/* Portable: the same text on both backends. */
static const char create_schema_version[] = "CREATE TABLE IF NOT EXISTS schema_version (\n"
                                            "    version INTEGER PRIMARY KEY,\n"
                                            "    name TEXT NOT NULL,\n"
                                            "    applied_us BIGINT NOT NULL\n"
                                            ")";

/* The rolling upgrade test's newer release (WORKPHONE_TEST_MIGRATION_EXTRA=1, a test hook):
 * this binary plus one additive migration, as docs/deploy.md asks of a release's migrations. */
static const struct wp_migration extra_migration = {
    0, "test_rolling_extra",
    "ALTER TABLE devices ADD COLUMN rolling_note TEXT NOT NULL DEFAULT '';\n"
    "CREATE TABLE rolling_extra (id TEXT NOT NULL PRIMARY KEY, note TEXT NOT NULL);\n"};

/* The newest migration this binary knows: the last embedded one, plus the test hook's. */
static int latest_of(const struct wp_migration *m)
{
    int n = 0;
    while (m[n].version)
        n++;
    return n + (wp_test_hooks_get()->migration_extra ? 1 : 0);
}

/* Migration v (1..latest_of(m)). */
static const struct wp_migration *migration_at(const struct wp_migration *m, int v)
{
    static _Thread_local struct wp_migration extra;
    int n = 0;
    while (m[n].version)
        n++;
    if (v <= n)
        return &m[v - 1];
    extra = extra_migration;
    extra.version = v;
    return &extra;
}

int wp_store_schema_latest(void)
{
    return latest_of(wp_migrations_sqlite);
}

void wp_store_set_background(wp_store *st)
{
    st->background = 1;
}

enum wp_store_backend wp_store_backend(const wp_store *st)
{
    return st->ops->backend;
}

int wp_store_writer_tune(wp_store *st)
{
    char sql[64];
    if (wp_store_backend(st) != WP_STORE_SQLITE)
        return 0;
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", WP_STORE_WRITER_CACHE_KIB);
    return wp_db_exec(st, sql);
}

/* --- the statement cache ------------------------------------------------------------ */

static unsigned hash_sql(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % WP_DB_CACHE_BUCKETS;
}

int wp_db_prepare(wp_store *st, struct wp_stmt **out, const char *sql)
{
    unsigned h = hash_sql(sql);
    struct wp_stmt *s;
    *out = NULL;
    /* The store failure hook counts a prepare as one operation, cached or not, as it counts a
     * step or an exec: so a test fails each prepare of a request in turn (WP_EIO). */
    int err = wp_test_hooks_store_op(NULL);
    if (err < 0)
        return err;
    for (s = st->cache[h]; s; s = s->next) {
        if (strcmp(s->sql, sql) == 0) {
            assert(!s->busy && "statement handed out twice");
            s->busy = 1;
            s->err = 0;
            *out = s;
            return 0;
        }
    }
    char *copy = strdup(sql);
    if (!copy)
        return wp_error_set(WP_ENOMEM, "out of memory");
    err = st->ops->prepare(st, &s, sql);
    if (err < 0) {
        free(copy);
        return err;
    }
    s->ops = st->ops;
    s->sql = copy;
    s->next = st->cache[h];
    s->err = 0;
    s->busy = 1;
    st->cache[h] = s;
    *out = s;
    return 0;
}

void wp_db_done(struct wp_stmt *s)
{
    if (!s)
        return;
    s->ops->reset(s);
    s->err = 0;
    s->busy = 0;
}

void wp_db_reset(struct wp_stmt *s)
{
    s->ops->reset(s);
    s->err = 0;
}

int wp_db_exec(wp_store *st, const char *script)
{
    return st->ops->exec(st, script);
}

int wp_db_col_copy(struct wp_stmt *s, int col, char *buf, size_t cap)
{
    const char *v = wp_db_col_text(s, col);
    if (!v)
        return wp_error_set(WP_EIO, "store: unexpected null in column %d", col);
    size_t n = strlen(v);
    if (n >= cap)
        return wp_error_set(WP_EIO, "store: value in column %d is too long", col);
    memcpy(buf, v, n + 1);
    return 0;
}

/* --- open, migrate, free ------------------------------------------------------------ */

int wp_db_col_copy_opt(struct wp_stmt *s, int col, char *buf, size_t cap)
{
    if (wp_db_col_isnull(s, col)) {
        buf[0] = '\0';
        return 0;
    }
    return wp_db_col_copy(s, col, buf, cap);
}

static int read_version(wp_store *st, int *out)
{
    struct wp_stmt *s = NULL;
    int err = wp_db_prepare(st, &s, "SELECT max(version) FROM schema_version");
    if (err < 0)
        goto out;
    if ((err = wp_db_step(s)) < 0)
        goto out;
    *out = err == WP_DB_ROW && !wp_db_col_isnull(s, 0) ? (int)wp_db_col_int64(s, 0) : 0;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

static int record_version(wp_store *st, const struct wp_migration *m)
{
    struct wp_stmt *s = NULL;
    int err = wp_db_prepare(
        st, &s, "INSERT INTO schema_version (version, name, applied_us) VALUES (?, ?, ?)");
    if (err < 0)
        goto out;
    wp_db_bind_int64(s, 1, m->version);
    wp_db_bind_text(s, 2, m->name);
    wp_db_bind_int64(s, 3, wp_time_now_us());
    if ((err = wp_db_step(s)) > 0)
        err = 0;
out:
    wp_db_done(s);
    return err;
}

/* Does the store hold every migration this binary knows, 1..latest, under the same names? Then
 * a newer schema is ours plus what a newer release added, which is additive for one release
 * (docs/deploy.md, "Rolling upgrade"): this binary can serve it. Sets *out to 1 or 0. */
static int known_all_applied(wp_store *st, const struct wp_migration *m, int latest, int *out)
{
    struct wp_stmt *s = NULL;
    int err, n = 0;
    *out = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT version, name FROM schema_version WHERE version <= ?"
                             " ORDER BY version")) < 0)
        return err;
    wp_db_bind_int64(s, 1, latest);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *name = wp_db_col_text(s, 1);
        if (n >= latest || wp_db_col_int64(s, 0) != n + 1 || !name ||
            strcmp(name, migration_at(m, n + 1)->name))
            break;
        n++;
    }
    wp_db_done(s);
    if (err < 0)
        return err;
    *out = n == latest;
    return 0;
}

/* One migration per transaction, each with its schema_version row, under the migration lock;
 * the version is read again after taking the lock, so a node that waited for another one
 * applies only what is still missing. With the test hook WORKPHONE_TEST_MIGRATE_TO=N (behind
 * WORKPHONE_TEST_HOOKS=1 only) it stops at version N and fails, so the store stays at N and
 * nothing runs on a schema this binary does not expect. */
static int migrate(wp_store *st, int upto)
{
    const struct wp_migration *m = st->ops->migrations;
    int latest = latest_of(m), stop = (int)wp_test_hooks_get()->migrate_to;
    if (upto > latest)
        return wp_error_set(WP_ESCHEMA,
                            "schema version %d is newer than this workphone (knows %d); "
                            "upgrade workphone",
                            upto, latest);
    if (upto > 0)
        latest = upto;
    if (stop > latest)
        return wp_error_set(WP_EINVAL, "WORKPHONE_TEST_MIGRATE_TO=%d: this workphone knows %d",
                            stop, latest);
    if (stop)
        latest = stop;
    for (;;) {
        int cur = 0, err;
        if ((err = st->ops->begin(st)) < 0)
            return err;
        if ((err = st->ops->lock_migrations(st)) < 0 ||
            (err = st->ops->exec(st, create_schema_version)) < 0 ||
            (err = read_version(st, &cur)) < 0)
            goto fail;
        if (stop && cur > stop) {
            err = wp_error_set(WP_ESCHEMA,
                               "store schema version %d is past "
                               "WORKPHONE_TEST_MIGRATE_TO=%d",
                               cur, stop);
            goto fail;
        }
        if (stop && cur == stop) {
            st->ops->exec(st, "ROLLBACK");
            return wp_error_set(WP_ESCHEMA,
                                "store schema version %d: stopped there by "
                                "WORKPHONE_TEST_MIGRATE_TO (a test hook)",
                                cur);
        }
        if (cur > latest && !upto) {
            /* an older node beside a newer one: serve the newer schema when it holds all of
             * ours (wp_store_schema_ahead() tells serve to warn); refuse any other */
            int ours = 0;
            if ((err = known_all_applied(st, m, latest, &ours)) < 0)
                goto fail;
            if (ours)
                return st->ops->exec(st, "ROLLBACK");
        }
        if (cur > latest) {
            err = wp_error_set(WP_ESCHEMA,
                               "store schema version %d is newer than this workphone (knows %d); "
                               "upgrade workphone",
                               cur, latest);
            goto fail;
        }
        if (cur == latest) /* nothing to do, and nothing was changed */
            return st->ops->exec(st, "ROLLBACK");
        const struct wp_migration *next = migration_at(m, cur + 1);
        if ((err = st->ops->exec(st, next->sql)) < 0) {
            /* keep the backend's reason, but say which migration it was */
            char why[400];
            snprintf(why, sizeof why, "%s", wp_error_last());
            err = wp_error_set(err, "migration %s: %s", next->name, why);
            goto fail;
        }
        if ((err = record_version(st, next)) < 0 || (err = st->ops->exec(st, "COMMIT")) < 0)
            goto fail;
        continue;
    fail:
        st->ops->exec(st, "ROLLBACK");
        return err;
    }
}

static int join_path(char **out, const char *dir, const char *file)
{
    wp_buf b;
    wp_buf_init(&b, 4096);
    int err;
    if ((err = wp_buf_adds(&b, dir)) < 0 ||
        (b.len && b.buf[b.len - 1] != '/' && (err = wp_buf_addc(&b, '/')) < 0) ||
        (err = wp_buf_adds(&b, file)) < 0) {
        wp_buf_release(&b);
        return err == WP_ELIMIT ? wp_error_set(WP_EINVAL, "data dir path is too long") : err;
    }
    *out = wp_buf_detach(&b, NULL);
    return 0;
}

static int open_upto(wp_store **out, const char *data_dir, const char *db_url, int upto)
{
    wp_store *st = NULL;
    char *path = NULL;
    int err;

    if (db_url && *db_url) {
        err = wp_db__pg_open(&st, db_url);
    } else {
        if (!data_dir || !*data_dir) {
            err = wp_error_set(WP_EINVAL, "store: no data dir and no database url");
            goto out;
        }
        if ((err = join_path(&path, data_dir, SQLITE_FILE)) < 0)
            goto out;
        err = wp_db__sqlite_open(&st, path);
    }
    if (err < 0)
        goto out;
    if ((err = migrate(st, upto)) < 0)
        goto out;
    *out = st;
    st = NULL;
out:
    wp_store_free(st);
    free(path);
    return err;
}

int wp_store_ping(wp_store *st)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, "SELECT 1")) < 0)
        goto out;
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = err == WP_DB_ROW ? 0 : wp_error_set(WP_EIO, "the store answered SELECT 1 with no row");
out:
    wp_db_done(s);
    return err;
}

int wp_store_open(wp_store **out, const char *data_dir, const char *db_url)
{
    return open_upto(out, data_dir, db_url, 0);
}

int wp_store_open_at(wp_store **out, const char *url, int version)
{
    if (version < 1)
        return wp_error_set(WP_EINVAL, "schema version %d: not a version", version);
    return open_upto(out, NULL, url, version);
}

int wp_store_durability_off(wp_store *st, char *out, size_t cap)
{
    static const char *const names[] = {"fsync", "synchronous_commit"};
    size_t len = 0;
    out[0] = '\0';
    if (wp_store_backend(st) != WP_STORE_PG)
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char sql[64], v[32] = "";
        struct wp_stmt *s = NULL;
        int err;
        snprintf(sql, sizeof sql, "SHOW %s", names[i]);
        if ((err = wp_db_prepare(st, &s, sql)) < 0)
            return err;
        err = wp_db_step(s);
        if (err == WP_DB_ROW)
            err = wp_db_col_copy(s, 0, v, sizeof v);
        wp_db_done(s);
        if (err < 0)
            return err;
        /* synchronous_commit: on, remote_apply, remote_write and local wait for the local
         * flush; only off does not */
        if (strcmp(v, "off") == 0)
            len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s=off",
                                    len ? " " : "", names[i]);
    }
    return 0;
}

void wp_store_free(wp_store *st)
{
    if (!st)
        return;
    if (st->in_tx)
        st->ops->exec(st, "ROLLBACK");
    for (size_t i = 0; i < WP_DB_CACHE_BUCKETS; i++) {
        struct wp_stmt *s = st->cache[i];
        while (s) {
            struct wp_stmt *next = s->next;
            char *sql = s->sql;
            st->ops->finalize(s);
            free(sql);
            s = next;
        }
    }
    st->ops->close(st);
}

int wp_store_schema_version(wp_store *st, int *out)
{
    return read_version(st, out);
}

int wp_store_schema_ahead(wp_store *st, int *out)
{
    int cur = 0, err = read_version(st, &cur), latest = wp_store_schema_latest();
    if (err < 0)
        return err;
    *out = cur > latest ? cur - latest : 0;
    return 0;
}

/* --- transactions -------------------------------------------------------------------- */

int wp_store_begin(wp_store *st)
{
    if (st->in_tx)
        return wp_error_set(WP_EINVAL, "store: a transaction is open already");
    int err = st->ops->begin(st);
    if (err < 0)
        return err;
    st->in_tx = 1;
    return 0;
}

int wp_store_commit(wp_store *st)
{
    if (!st->in_tx)
        return wp_error_set(WP_EINVAL, "store: commit without a transaction");
    st->in_tx = 0;
    int err = st->ops->exec(st, "COMMIT");
    if (err < 0) /* SQLite keeps the transaction open after a failed COMMIT */
        st->ops->exec(st, "ROLLBACK");
    return err;
}

int wp_store_rollback(wp_store *st)
{
    if (!st->in_tx)
        return 0;
    st->in_tx = 0;
    return st->ops->exec(st, "ROLLBACK");
}

int wp_store__op_begin(wp_store *st, int many)
{
    int err = 0;
    assert(st->op == WP_OP_NONE && "operations do not nest");
    if (st->in_tx) {
        if ((err = st->ops->exec(st, "SAVEPOINT wp_op")) == 0)
            st->op = WP_OP_SAVEPOINT;
    } else if (many) {
        if ((err = st->ops->begin(st)) == 0)
            st->op = WP_OP_TX;
    }
    return err;
}

int wp_store__op_end(wp_store *st, int err)
{
    int how = st->op;
    st->op = WP_OP_NONE;
    if (how == WP_OP_SAVEPOINT) {
        if (err < 0) {
            st->ops->exec(st, "ROLLBACK TO SAVEPOINT wp_op");
            st->ops->exec(st, "RELEASE SAVEPOINT wp_op");
            return err;
        }
        return st->ops->exec(st, "RELEASE SAVEPOINT wp_op");
    }
    if (how == WP_OP_TX) {
        if (err < 0) {
            st->ops->exec(st, "ROLLBACK");
            return err;
        }
        if ((err = st->ops->exec(st, "COMMIT")) < 0)
            st->ops->exec(st, "ROLLBACK");
    }
    return err;
}

/* --- validation ------------------------------------------------------------------------ */

int wp_store__check_name(const char *field, const char *s, size_t max_chars)
{
    if (!s || !*s)
        return wp_error_set(WP_EINVAL, "%s is empty", field);
    return wp_text_check(field, s, strlen(s), max_chars, 0);
}

int wp_store__check_id(const char *what, const char *id)
{
    if (!id || !*id)
        return wp_error_set(WP_EINVAL, "%s is missing", what);
    size_t n = strlen(id);
    int ok = n == WP_ID_LEN;
    for (size_t i = 0; ok && i < n; i++)
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (!ok)
        return wp_error_set(WP_ENOTFOUND, "%s not found", what);
    return 0;
}

int wp_store__unit_exists(wp_store *st, const char *tenant_id, const char *unit_id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, "SELECT 1 FROM org_units WHERE tenant_id = ? AND id = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, unit_id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_DB_DONE)
        return wp_error_set(WP_ENOTFOUND, "org unit '%s' not found", unit_id);
    return err < 0 ? err : 0;
}

int wp_store__is_hash(const char *h)
{
    if (!h || strlen(h) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return 0;
    return 1;
}

int wp_store__check_text(const char *field, const char *s, size_t max_chars)
{
    return wp_text_check(field, s ? s : "", s ? strlen(s) : 0, max_chars, WP_TEXT_MULTILINE);
}

int wp_db_run(wp_store *st, const char *sql, const char *types, ...)
{
    struct wp_stmt *s = NULL;
    va_list ap;
    int err;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    va_start(ap, types);
    for (int i = 0; types[i]; i++) {
        if (types[i] == 't')
            wp_db_bind_text_or_null(s, i + 1, va_arg(ap, const char *));
        else
            wp_db_bind_int64(s, i + 1, va_arg(ap, int64_t));
    }
    va_end(ap);
    err = wp_db_step(s);
    wp_db_done(s);
    return err < 0 ? err : 0;
}
