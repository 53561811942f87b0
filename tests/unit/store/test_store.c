/* SPDX-License-Identifier: MIT */
/* Store tests: one suite run on SQLite and, when WORKPHONE_TEST_PG_URL is set, PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/access.h"
#include "store/db.h"
#include "store/org.h"
#include "store/people.h"
#include "store/scope.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/id.h"

#include "pg_util.h"

#define OK(expr)                                                                                   \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s -> %d (%s)", #expr, rc_, wp_error_last());                                \
    } while (0)

/* The backend a group runs on. */
struct backend {
    enum wp_store_backend kind;
    char root[512];    /* sqlite: the run's temp dir */
    const char *url;   /* pg: WORKPHONE_TEST_PG_URL */
    char dbname[64];   /* pg: the run's database */
    char *db_conninfo; /* pg: conninfo of the run's database */
    int n;             /* fixtures made so far */
};
static struct backend backend;

/* One test's own store location: a fresh dir (SQLite) or a fresh schema (PostgreSQL). */
struct fx {
    wp_store *st;
    char dir[PATH_MAX];
    char *url; /* pg: the run's database with search_path set to this test's schema */
};

/* --- PostgreSQL plumbing --------------------------------------------------------------- */

static int group_setup_sqlite(void **state)
{
    memset(&backend, 0, sizeof backend);
    backend.kind = WP_STORE_SQLITE;
    const char *tmp = getenv("TMPDIR");
    snprintf(backend.root, sizeof backend.root, "%s/wp-store-test.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(backend.root)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

static int group_teardown_sqlite(void **state)
{
    return test_rm_tree(backend.root);
}

static int group_setup_pg(void **state)
{
    char id[WP_ID_LEN + 1], sql[128];
    memset(&backend, 0, sizeof backend);
    backend.kind = WP_STORE_PG;
    backend.url = getenv("WORKPHONE_TEST_PG_URL");
    wp_id_new(id);
    snprintf(backend.dbname, sizeof backend.dbname, "wp_test_%s", id);
    PGconn *c = test_pg_connect(backend.url);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", backend.dbname);
    test_pg_run(c, sql);
    PQfinish(c);
    backend.db_conninfo = test_pg_conninfo(backend.url, backend.dbname, NULL);
    return 0;
}

static int group_teardown_pg(void **state)
{
    char sql[128];
    PGconn *c = test_pg_connect(backend.url);
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", backend.dbname);
    test_pg_run(c, sql);
    PQfinish(c);
    free(backend.db_conninfo);
    return 0;
}

static int fx_open(struct fx *f, wp_store **out)
{
    return wp_store_open(out, f->dir, f->url);
}

/* A fresh location with nothing in it. */
static int setup_empty(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    int n = ++backend.n;
    if (backend.kind == WP_STORE_SQLITE) {
        snprintf(f->dir, sizeof f->dir, "%s/t%d", backend.root, n);
        assert_int_equal(mkdir(f->dir, 0700), 0);
    } else {
        char sql[64], opt[64];
        snprintf(sql, sizeof sql, "CREATE SCHEMA t%d", n);
        PGconn *c = test_pg_connect(backend.db_conninfo);
        test_pg_run(c, sql);
        PQfinish(c);
        snprintf(opt, sizeof opt, "-c search_path=t%d", n);
        f->url = test_pg_conninfo(backend.url, backend.dbname, opt);
    }
    *state = f;
    return 0;
}

/* A fresh location with a store open on it. */
static int setup(void **state)
{
    setup_empty(state);
    struct fx *f = *state;
    OK(fx_open(f, &f->st));
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    wp_store_free(f->st);
    free(f->url);
    free(f);
    wp_time_set_fake(0);
    return 0;
}

/* --- looking at the database from outside the store ------------------------------------ */

static sqlite3 *lite_connect(struct fx *f)
{
    char path[PATH_MAX + 16];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/workphone.db", f->dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        fail_msg("sqlite open %s: %s", path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Run a statement on a connection of its own; the first column of the first row. */
static int64_t raw(struct fx *f, const char *sqlite_sql, const char *pg_sql)
{
    int64_t v = 0;
    if (backend.kind == WP_STORE_SQLITE) {
        sqlite3 *db = lite_connect(f);
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(db, sqlite_sql, -1, &s, NULL) != SQLITE_OK)
            fail_msg("%s: %s", sqlite_sql, sqlite3_errmsg(db));
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
        else if (rc != SQLITE_DONE)
            fail_msg("%s: %s", sqlite_sql, sqlite3_errmsg(db));
        sqlite3_finalize(s);
        sqlite3_close(db);
    } else {
        PGconn *c = test_pg_connect(f->url);
        PGresult *r = PQexec(c, pg_sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            fail_msg("%s: %s", pg_sql, PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
    }
    return v;
}

/* The same SQL on both backends. */
static int64_t raw1(struct fx *f, const char *sql)
{
    return raw(f, sql, sql);
}

static int64_t table_exists(struct fx *f, const char *name)
{
    char a[256], b[256];
    snprintf(a, sizeof a, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
             name);
    snprintf(b, sizeof b,
             "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
             " AND tablename = '%s'",
             name);
    return raw(f, a, b);
}

/* --- open and migrations --------------------------------------------------------------- */

static void test_store__open_migrates_to_latest(void **state)
{
    struct fx *f = *state;
    int v = -1;
    assert_true(wp_store_schema_latest() >= 1);
    OK(wp_store_schema_version(f->st, &v));
    assert_int_equal(v, wp_store_schema_latest());
    assert_int_equal(wp_store_backend(f->st), backend.kind);
    assert_int_equal(raw1(f, "SELECT count(*) FROM schema_version"), wp_store_schema_latest());
    assert_int_equal(raw1(f, "SELECT max(version) FROM schema_version"), wp_store_schema_latest());
    assert_true(table_exists(f, "schema_version"));
    assert_true(table_exists(f, "tenants"));
    assert_true(table_exists(f, "org_units"));
    assert_true(table_exists(f, "employees"));
    /* Every table but tenants and schema_version belongs to a tenant (wrapped_keys by its
     * owner: the deployment's keys or a tenant's data keys, migration 0035). */
    assert_int_equal(
        raw(f,
            "SELECT count(*) FROM sqlite_master m WHERE m.type = 'table'"
            " AND m.name NOT IN ('tenants', 'schema_version', 'wrapped_keys')"
            " AND m.name NOT LIKE 'sqlite_%'"
            " AND NOT EXISTS (SELECT 1 FROM sqlite_master v WHERE v.type = 'table'"
            " AND v.sql LIKE 'CREATE VIRTUAL TABLE%' AND m.name LIKE v.name || '\\_%' ESCAPE '\\')"
            " AND NOT EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'tenant_id')",
            "SELECT count(*) FROM pg_tables t WHERE t.schemaname = current_schema()"
            " AND t.tablename NOT IN ('tenants', 'schema_version', 'wrapped_keys')"
            " AND NOT EXISTS (SELECT 1 FROM"
            " information_schema.columns c WHERE c.table_schema = t.schemaname"
            " AND c.table_name = t.tablename AND c.column_name = 'tenant_id')"),
        0);
    if (backend.kind == WP_STORE_SQLITE) {
        assert_int_equal(
            raw1(f, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
    }
}

static void test_store__reopen_is_noop(void **state)
{
    struct fx *f = *state;
    char id[WP_ID_LEN + 1], again[WP_ID_LEN + 1];
    int64_t applied = raw1(f, "SELECT sum(applied_us) FROM schema_version");
    OK(wp_store_tenant_create(f->st, id, "Acme"));
    wp_store_free(f->st);
    f->st = NULL;
    wp_time_set_fake(applied + 1000000); /* a second migration run would record this time */
    OK(fx_open(f, &f->st));
    assert_int_equal(raw1(f, "SELECT count(*) FROM schema_version"), wp_store_schema_latest());
    assert_int_equal(raw1(f, "SELECT sum(applied_us) FROM schema_version"), applied);
    OK(wp_store_tenant_find(f->st, again, "Acme"));
    assert_string_equal(again, id);
}

/* A rolling upgrade's older node: a newer schema that holds all of this binary's migrations
 * opens, unchanged, and says how far ahead it is; one whose migrations differ is refused. */
static void test_store__newer_schema_is_refused(void **state)
{
    struct fx *f = *state;
    int latest = wp_store_schema_latest(), future = latest + 4, ahead = -1;
    char sql[256], want[200];
    wp_store_free(f->st);
    f->st = NULL;
    snprintf(sql, sizeof sql,
             "INSERT INTO schema_version (version, name, applied_us) VALUES (%d, 'future', 0)",
             future);
    raw1(f, sql);
    int64_t rows = raw1(f, "SELECT count(*) FROM schema_version");

    wp_store *st = NULL;
    OK(fx_open(f, &st));
    OK(wp_store_schema_ahead(st, &ahead));
    assert_int_equal(ahead, 4);
    wp_store_free(st);
    st = NULL;
    assert_int_equal(raw1(f, "SELECT count(*) FROM schema_version"), rows);

    /* one of ours under another name: not the schema this binary knows */
    raw1(f, "UPDATE schema_version SET name = 'other' WHERE version = 2");
    assert_int_equal(fx_open(f, &st), WP_ESCHEMA);
    assert_null(st);
    snprintf(want, sizeof want,
             "store schema version %d is newer than this workphone (knows %d); upgrade workphone",
             future, latest);
    assert_string_equal(wp_error_last(), want);
    assert_int_equal(raw1(f, "SELECT count(*) FROM schema_version"), rows);
    assert_int_equal(raw1(f, "SELECT max(version) FROM schema_version"), future);
}

/* A store made by a newer workphone that has only its schema_version yet: nothing of ours
 * may be applied to it. */
static void test_store__newer_schema_gets_no_migration(void **state)
{
    struct fx *f = *state;
    raw1(f, "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_us BIGINT NOT NULL)");
    raw1(f, "INSERT INTO schema_version (version, name, applied_us) VALUES (99, 'x', 0)");
    wp_store *st = NULL;
    assert_int_equal(fx_open(f, &st), WP_ESCHEMA);
    assert_non_null(strstr(wp_error_last(), "store schema version 99 is newer"));
    assert_false(table_exists(f, "tenants"));
    assert_false(table_exists(f, "org_units"));
    assert_int_equal(raw1(f, "SELECT count(*) FROM schema_version"), 1);
}

struct opener {
    struct fx *f;
    wp_store *st;
    int rc;
    char msg[256];
};

static void *open_thread(void *arg)
{
    struct opener *o = arg;
    o->rc = fx_open(o->f, &o->st);
    snprintf(o->msg, sizeof o->msg, "%s", wp_error_last());
    return NULL;
}

/* Two nodes starting at once on an empty store: both come up, migrations applied once. */
static void test_store__concurrent_open_migrates_once(void **state)
{
    struct fx *f = *state;
    struct opener o[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        memset(&o[i], 0, sizeof o[i]);
        o[i].f = f;
        assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 4; i++) {
        if (o[i].rc != 0)
            fail_msg("open %d: %d %s", i, o[i].rc, o[i].msg);
        wp_store_free(o[i].st);
    }
    assert_int_equal(raw1(f, "SELECT count(*) FROM schema_version"), wp_store_schema_latest());
}

static void test_store__open_errors(void **state)
{
    struct fx *f = *state;
    wp_store *st = NULL;
    if (backend.kind == WP_STORE_SQLITE) {
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/missing/dir", f->dir);
        assert_int_equal(wp_store_open(&st, dir, NULL), WP_EIO);
        assert_non_null(strstr(wp_error_last(), "cannot open store"));
    } else {
        /* port 1 on loopback: nothing listens there */
        assert_int_equal(
            wp_store_open(&st, NULL, "postgresql://wp:sekret-pw@127.0.0.1:1/x?connect_timeout=5"),
            WP_EUNAVAIL);
        assert_non_null(strstr(wp_error_last(), "cannot connect to postgresql"));
        assert_null(strstr(wp_error_last(), "sekret-pw"));
        assert_int_equal(wp_store_open(&st, NULL, "postgresql://wp:sekret-pw@127.0.0.1/x?bogus=1"),
                         WP_EINVAL);
        assert_null(strstr(wp_error_last(), "sekret-pw"));
    }
    assert_null(st);
    assert_int_equal(wp_store_open(&st, NULL, NULL), WP_EINVAL);
}

/* --- the statement layer ------------------------------------------------------------- */

static void test_store__statements(void **state)
{
    struct fx *f = *state;
    struct wp_stmt *s = NULL, *again = NULL;
    /* `?` inside literals and comments is not a placeholder */
    static const char sql[] = "SELECT ? || 'it''s ?' /* ? */ || ?";
    OK(wp_db_prepare(f->st, &s, sql));
    wp_db_bind_text(s, 1, "a");
    wp_db_bind_text(s, 2, "b");
    assert_int_equal(wp_db_step(s), WP_DB_ROW);
    assert_string_equal(wp_db_col_text(s, 0), "ait's ?b");
    assert_int_equal(wp_db_step(s), WP_DB_DONE);
    wp_db_done(s);
    /* prepared once per connection */
    OK(wp_db_prepare(f->st, &again, sql));
    assert_ptr_equal(again, s);
    wp_db_bind_text(again, 1, "x");
    wp_db_bind_null(again, 2);
    assert_int_equal(wp_db_step(again), WP_DB_ROW);
    assert_true(wp_db_col_isnull(again, 0));
    wp_db_done(again);

    /* PostgreSQL infers a parameter's type from its context: integer here without the cast */
    OK(wp_db_prepare(f->st, &s, "SELECT CAST(? AS BIGINT) + 1"));
    wp_db_bind_int64(s, 1, INT64_C(1) << 40);
    assert_int_equal(wp_db_step(s), WP_DB_ROW);
    assert_int_equal(wp_db_col_int64(s, 0), (INT64_C(1) << 40) + 1);
    wp_db_done(s);
}

/* The subtree query's shape uses the (tenant_id, path) index, also as a generic plan. */
static void test_store__subtree_query_uses_index(void **state)
{
    struct fx *f = *state;
    if (backend.kind == WP_STORE_SQLITE) {
        struct wp_stmt *s = NULL;
        int found = 0;
        OK(wp_db_prepare(f->st, &s,
                         "EXPLAIN QUERY PLAN SELECT id FROM org_units WHERE tenant_id = ?"
                         " AND path >= ? AND path < ? ORDER BY path"));
        wp_db_bind_text(s, 1, "t");
        wp_db_bind_text(s, 2, "/a/");
        wp_db_bind_text(s, 3, "/a0");
        while (wp_db_step(s) == WP_DB_ROW)
            found |= strstr(wp_db_col_text(s, 3),
                            "org_units_path (tenant_id=? AND path>? AND path<?)") != NULL;
        wp_db_done(s);
        assert_true(found);
        return;
    }
    assert_int_equal(raw1(f, "SELECT count(*) FROM information_schema.columns WHERE"
                             " table_schema = current_schema() AND table_name = 'org_units'"
                             " AND column_name = 'path' AND collation_name = 'C'"),
                     1);
    PGconn *c = test_pg_connect(f->url);
    test_pg_run(c, "SET plan_cache_mode = force_generic_plan");
    test_pg_run(c, "SET enable_seqscan = off");
    test_pg_run(c, "PREPARE q (text, text, text) AS SELECT id FROM org_units WHERE tenant_id = $1"
                   " AND path >= $2 AND path < $3 ORDER BY path");
    PGresult *r = PQexec(c, "EXPLAIN EXECUTE q('t', '/a/', '/a0')");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int found = 0;
    for (int i = 0; i < PQntuples(r); i++)
        found |= strstr(PQgetvalue(r, i, 0),
                        "Index Cond: ((tenant_id = $1) AND (path >= $2) AND (path < $3))") != NULL;
    if (!found)
        for (int i = 0; i < PQntuples(r); i++)
            fprintf(stderr, "plan: %s\n", PQgetvalue(r, i, 0));
    PQclear(r);
    PQfinish(c);
    assert_true(found);
}

/* --- tenants ----------------------------------------------------------------------------- */

static void test_store__tenants(void **state)
{
    struct fx *f = *state;
    char a[WP_ID_LEN + 1], b[WP_ID_LEN + 1], found[WP_ID_LEN + 1];
    int64_t n = -1;
    OK(wp_store_tenant_count(f->st, &n));
    assert_int_equal(n, 0);
    OK(wp_store_tenant_create(f->st, a, "Acme"));
    assert_int_equal(strlen(a), WP_ID_LEN);
    OK(wp_store_tenant_create(f->st, b, "华南销售有限公司"));
    assert_string_not_equal(a, b);
    OK(wp_store_tenant_find(f->st, found, "Acme"));
    assert_string_equal(found, a);
    OK(wp_store_tenant_find(f->st, found, "华南销售有限公司"));
    assert_string_equal(found, b);

    memcpy(found, "unchanged", 10);
    assert_int_equal(wp_store_tenant_create(f->st, found, "Acme"), WP_EEXISTS);
    assert_string_equal(wp_error_last(), "tenant 'Acme' exists already");
    assert_string_equal(found, "unchanged");
    assert_int_equal(wp_store_tenant_find(f->st, found, "acme"), WP_ENOTFOUND);
    assert_int_equal(wp_store_tenant_find(f->st, found, "Nobody"), WP_ENOTFOUND);
    OK(wp_store_tenant_count(f->st, &n));
    assert_int_equal(n, 2);
}

static void repeat(char *out, const char *unit, int times)
{
    size_t len = strlen(unit);
    for (int i = 0; i < times; i++)
        memcpy(out + i * len, unit, len);
    out[times * len] = '\0';
}

static void test_store__name_limits(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1], name[512];
    wp_org_unit u;
    wp_employee e;
    int64_t n = 0;

    repeat(name, "字", 100);
    OK(wp_store_tenant_create(f->st, t, name));
    repeat(name, "字", 101);
    assert_int_equal(wp_store_tenant_create(f->st, t, name), WP_EINVAL);
    assert_string_equal(wp_error_last(), "tenant name is longer than 100 characters");
    repeat(name, "a", 100);
    OK(wp_store_tenant_create(f->st, t, name));
    repeat(name, "a", 101);
    assert_int_equal(wp_store_tenant_create(f->st, t, name), WP_EINVAL);
    assert_int_equal(wp_store_tenant_create(f->st, t, ""), WP_EINVAL);
    assert_string_equal(wp_error_last(), "tenant name is empty");
    static const char *const bad[] = {
        "caf\xc3",
        "\xc3\x28",
        "\xc0\xaf" /* overlong '/' */,
        "\xed\xa0\x80" /* surrogate */,
        "\xf4\x90\x80\x80" /* past U+10FFFF */,
        "\xff",
        "\x80x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(wp_store_tenant_create(f->st, t, bad[i]), WP_EINVAL);
        assert_string_equal(wp_error_last(), "tenant name is not valid utf-8");
    }
    assert_int_equal(wp_store_tenant_create(f->st, t, "a\nb"), WP_EINVAL);
    assert_string_equal(wp_error_last(), "tenant name contains a control character (U+000A)");
    assert_int_equal(wp_store_tenant_create(f->st, t, "a\xc2\x85"), WP_EINVAL); /* U+0085 */
    OK(wp_store_tenant_count(f->st, &n));
    assert_int_equal(n, 2);

    repeat(name, "é", 100);
    OK(wp_store_org_unit_create(f->st, &u, t, NULL, name, WP_ORG_HQ));
    assert_string_equal(u.name, name);
    repeat(name, "é", 101);
    assert_int_equal(wp_store_org_unit_create(f->st, &u, t, NULL, name, WP_ORG_HQ), WP_EINVAL);
    assert_string_equal(wp_error_last(), "org unit name is longer than 100 characters");
    assert_int_equal(wp_store_org_unit_create(f->st, &u, t, NULL, "\xe4\xb8", WP_ORG_HQ),
                     WP_EINVAL);

    repeat(name, "😀", 100); /* 4 bytes each: the longest name fits wp_employee.name */
    OK(wp_store_employee_create(f->st, &e, t, u.id, name, "emoji", WP_ROLE_SALES, NULL));
    OK(wp_store_employee_get(f->st, &e, t, e.id));
    assert_string_equal(e.name, name);
    repeat(name, "😀", 101);
    assert_int_equal(wp_store_employee_create(f->st, &e, t, u.id, name, "e2", WP_ROLE_SALES, NULL),
                     WP_EINVAL);
    assert_string_equal(wp_error_last(), "employee name is longer than 100 characters");
    repeat(name, "u", 64);
    OK(wp_store_employee_create(f->st, &e, t, u.id, "U", name, WP_ROLE_SALES, NULL));
    repeat(name, "u", 65);
    assert_int_equal(wp_store_employee_create(f->st, &e, t, u.id, "U", name, WP_ROLE_SALES, NULL),
                     WP_EINVAL);
    assert_int_equal(wp_store_employee_create(f->st, &e, t, u.id, "U", "a b", WP_ROLE_SALES, NULL),
                     WP_EINVAL);
    assert_int_equal(wp_store_employee_create(f->st, &e, t, u.id, "U", "\xff", WP_ROLE_SALES, NULL),
                     WP_EINVAL);
    assert_int_equal(raw1(f, "SELECT count(*) FROM employees"), 2);
}

/* --- the org tree ---------------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Compare a subtree result with the expected ids, in any order. */
static void assert_subtree(wp_store *st, const char *tenant, const char *top, const char **want,
                           size_t nwant)
{
    char(*ids)[WP_ID_LEN + 1] = NULL;
    size_t n = 0;
    OK(wp_store_org_unit_subtree(st, &ids, &n, tenant, top));
    assert_int_equal(n, nwant);
    char(*exp)[WP_ID_LEN + 1] = calloc(nwant, sizeof *exp);
    for (size_t i = 0; i < nwant; i++)
        memcpy(exp[i], want[i], WP_ID_LEN + 1);
    qsort(ids, n, sizeof *ids, cmp_id);
    qsort(exp, nwant, sizeof *exp, cmp_id);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(ids[i], exp[i]);
    free(exp);
    free(ids);
}

static void test_store__org_tree(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1], other[WP_ID_LEN + 1], path[256];
    wp_org_unit hq, ra, rb, sa1, sa2, sb1, team, hq2, x, got;

    OK(wp_store_tenant_create(f->st, t, "Acme"));
    OK(wp_store_tenant_create(f->st, other, "Other"));
    OK(wp_store_org_unit_create(f->st, &hq, t, NULL, "总部", WP_ORG_HQ));
    assert_string_equal(hq.parent_id, "");
    snprintf(path, sizeof path, "/%s/", hq.id);
    assert_string_equal(hq.path, path);
    OK(wp_store_org_unit_create(f->st, &ra, t, hq.id, "South", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &rb, t, hq.id, "North", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &sa1, t, ra.id, "Store A1", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &sa2, t, ra.id, "Store A2", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &sb1, t, rb.id, "Store B1", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &team, t, sa1.id, "Team", WP_ORG_TEAM));
    /* a second root in the tenant and a tree in another tenant stay out of every subtree */
    OK(wp_store_org_unit_create(f->st, &hq2, t, "", "Second HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &x, other, NULL, "Their HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &x, other, x.id, "Their region", WP_ORG_REGION));

    snprintf(path, sizeof path, "/%s/%s/%s/%s/", hq.id, ra.id, sa1.id, team.id);
    assert_string_equal(team.path, path);
    assert_string_equal(team.parent_id, sa1.id);
    OK(wp_store_org_unit_get(f->st, &got, t, team.id));
    assert_string_equal(got.id, team.id);
    assert_string_equal(got.parent_id, sa1.id);
    assert_string_equal(got.name, "Team");
    assert_int_equal(got.kind, WP_ORG_TEAM);
    assert_string_equal(got.path, path);
    OK(wp_store_org_unit_get(f->st, &got, t, hq.id));
    assert_string_equal(got.parent_id, "");
    assert_string_equal(got.name, "总部");
    assert_int_equal(raw1(f, "SELECT max(depth) FROM org_units"), 4);

    const char *all[] = {hq.id, ra.id, rb.id, sa1.id, sa2.id, sb1.id, team.id};
    assert_subtree(f->st, t, hq.id, all, 7);
    const char *south[] = {ra.id, sa1.id, sa2.id, team.id};
    assert_subtree(f->st, t, ra.id, south, 4);
    const char *north[] = {rb.id, sb1.id};
    assert_subtree(f->st, t, rb.id, north, 2);
    const char *a1[] = {sa1.id, team.id};
    assert_subtree(f->st, t, sa1.id, a1, 2);
    const char *leaf[] = {team.id};
    assert_subtree(f->st, t, team.id, leaf, 1);
    const char *second[] = {hq2.id};
    assert_subtree(f->st, t, hq2.id, second, 1);

    char(*ids)[WP_ID_LEN + 1] = NULL;
    size_t n = 0;
    assert_int_equal(wp_store_org_unit_subtree(f->st, &ids, &n, other, hq.id), WP_ENOTFOUND);
    assert_null(ids);
}

static void test_store__org_depth_limit(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1];
    wp_org_unit u, deeper;
    OK(wp_store_tenant_create(f->st, t, "Deep"));
    OK(wp_store_org_unit_create(f->st, &u, t, NULL, "level 1", WP_ORG_HQ));
    for (int level = 2; level <= 32; level++) {
        char name[32];
        snprintf(name, sizeof name, "level %d", level);
        OK(wp_store_org_unit_create(f->st, &u, t, u.id, name, WP_ORG_TEAM));
    }
    assert_int_equal(strlen(u.path), 1 + 32 * (WP_ID_LEN + 1));
    assert_int_equal(wp_store_org_unit_create(f->st, &deeper, t, u.id, "level 33", WP_ORG_TEAM),
                     WP_ELIMIT);
    assert_int_equal(raw1(f, "SELECT count(*) FROM org_units"), 32);
    assert_int_equal(raw1(f, "SELECT max(depth) FROM org_units"), 32);
}

static void test_store__org_parent_in_other_tenant(void **state)
{
    struct fx *f = *state;
    char t1[WP_ID_LEN + 1], t2[WP_ID_LEN + 1], nobody[WP_ID_LEN + 1];
    wp_org_unit u1, u;
    OK(wp_store_tenant_create(f->st, t1, "One"));
    OK(wp_store_tenant_create(f->st, t2, "Two"));
    OK(wp_store_org_unit_create(f->st, &u1, t1, NULL, "HQ", WP_ORG_HQ));
    assert_int_equal(wp_store_org_unit_create(f->st, &u, t2, u1.id, "Stolen", WP_ORG_REGION),
                     WP_ENOTFOUND);
    assert_non_null(strstr(wp_error_last(), u1.id));
    assert_int_equal(wp_store_org_unit_get(f->st, &u, t2, u1.id), WP_ENOTFOUND);
    wp_id_new(nobody);
    assert_int_equal(wp_store_org_unit_create(f->st, &u, nobody, NULL, "HQ", WP_ORG_HQ),
                     WP_ENOTFOUND);
    assert_int_equal(wp_store_org_unit_create(f->st, &u, t1, NULL, "HQ", (enum wp_org_kind)9),
                     WP_EINVAL);
    assert_int_equal(wp_store_org_unit_get(f->st, &u, t1, "' OR 1=1 --"), WP_ENOTFOUND);
    assert_int_equal(wp_store_org_unit_get(f->st, &u, NULL, u1.id), WP_EINVAL);
    assert_int_equal(raw1(f, "SELECT count(*) FROM org_units"), 1);
}

static void test_store__kind_and_role_names(void **state)
{
    enum wp_org_kind k;
    enum wp_role r;
    for (int i = WP_ORG_HQ; i <= WP_ORG_TEAM; i++) {
        OK(wp_org_kind_parse(&k, wp_org_kind_name((enum wp_org_kind)i)));
        assert_int_equal(k, i);
    }
    for (int i = WP_ROLE_ADMIN; i <= WP_ROLE_SALES; i++) {
        OK(wp_role_parse(&r, wp_role_name((enum wp_role)i)));
        assert_int_equal(r, i);
    }
    assert_string_equal(wp_org_kind_name(WP_ORG_STORE), "store");
    assert_string_equal(wp_role_name(WP_ROLE_AUDITOR), "auditor");
    assert_int_equal(wp_org_kind_parse(&k, "HQ"), WP_EINVAL);
    assert_int_equal(wp_role_parse(&r, "root"), WP_EINVAL);
    assert_int_equal(wp_role_parse(&r, NULL), WP_EINVAL);
    assert_null(wp_role_name((enum wp_role)0));
}

/* --- employees ----------------------------------------------------------------------- */

#define HASH "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

static void test_store__employees(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1], t2[WP_ID_LEN + 1];
    wp_org_unit hq, elsewhere;
    wp_employee e, got;
    char *hash = NULL;

    wp_time_set_fake(INT64_C(1795000000123456));
    OK(wp_store_tenant_create(f->st, t, "Acme"));
    OK(wp_store_tenant_create(f->st, t2, "Other"));
    OK(wp_store_org_unit_create(f->st, &hq, t, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &elsewhere, t2, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_employee_create(f->st, &e, t, hq.id, "王小明", "xiaoming", WP_ROLE_MANAGER, HASH));
    assert_string_equal(e.tenant_id, t);
    assert_int_equal(e.active, 1);
    assert_int_equal(e.created_us, INT64_C(1795000000123456));

    OK(wp_store_employee_get(f->st, &got, t, e.id));
    assert_string_equal(got.id, e.id);
    assert_string_equal(got.tenant_id, t);
    assert_string_equal(got.org_unit_id, hq.id);
    assert_string_equal(got.name, "王小明");
    assert_string_equal(got.username, "xiaoming");
    assert_int_equal(got.role, WP_ROLE_MANAGER);
    assert_int_equal(got.active, 1);
    assert_int_equal(got.created_us, INT64_C(1795000000123456));

    memset(&got, 0, sizeof got);
    OK(wp_store_employee_find_login(f->st, &got, &hash, t, "xiaoming"));
    assert_string_equal(got.id, e.id);
    assert_string_equal(hash, HASH);
    free(hash);
    hash = NULL;
    OK(wp_store_employee_find_login(f->st, &got, NULL, t, "xiaoming"));

    assert_int_equal(wp_store_employee_create(f->st, &got, t, hq.id, "Other Ming", "xiaoming",
                                              WP_ROLE_SALES, HASH),
                     WP_EEXISTS);
    assert_string_equal(wp_error_last(), "username 'xiaoming' is taken");
    assert_null(strstr(wp_error_last(), "argon2"));
    /* the unit must be in the same tenant */
    assert_int_equal(
        wp_store_employee_create(f->st, &got, t, elsewhere.id, "X", "x", WP_ROLE_SALES, HASH),
        WP_ENOTFOUND);
    assert_int_equal(
        wp_store_employee_create(f->st, &got, t, hq.id, "X", "x", (enum wp_role)0, HASH),
        WP_EINVAL);
    assert_int_equal(wp_store_employee_create(f->st, &got, t, hq.id, "X", "x", WP_ROLE_SALES, ""),
                     WP_EINVAL);

    /* an employee without a password has no login */
    OK(wp_store_employee_create(f->st, &got, t, hq.id, "No Login", "nologin", WP_ROLE_SALES, NULL));
    assert_int_equal(wp_store_employee_find_login(f->st, &got, &hash, t, "nologin"), WP_ENOTFOUND);
    assert_null(hash);
    assert_int_equal(wp_store_employee_find_login(f->st, &got, &hash, t, "nobody"), WP_ENOTFOUND);
    assert_int_equal(wp_store_employee_find_login(f->st, &got, &hash, t, "XIAOMING"), WP_ENOTFOUND);
    assert_int_equal(raw1(f, "SELECT count(*) FROM employees"), 2);
}

static void test_store__tenant_isolation(void **state)
{
    struct fx *f = *state;
    char t1[WP_ID_LEN + 1], t2[WP_ID_LEN + 1];
    wp_org_unit u1, u2;
    wp_employee e1, e2, got;
    char *hash = NULL;

    OK(wp_store_tenant_create(f->st, t1, "One"));
    OK(wp_store_tenant_create(f->st, t2, "Two"));
    OK(wp_store_org_unit_create(f->st, &u1, t1, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &u2, t2, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_employee_create(f->st, &e1, t1, u1.id, "Admin One", "admin", WP_ROLE_ADMIN, "h1"));
    OK(wp_store_employee_create(f->st, &e2, t2, u2.id, "Admin Two", "admin", WP_ROLE_ADMIN, "h2"));

    OK(wp_store_employee_find_login(f->st, &got, &hash, t1, "admin"));
    assert_string_equal(got.id, e1.id);
    assert_string_equal(hash, "h1");
    free(hash);
    OK(wp_store_employee_find_login(f->st, &got, &hash, t2, "admin"));
    assert_string_equal(got.id, e2.id);
    assert_string_equal(hash, "h2");
    free(hash);

    assert_int_equal(wp_store_employee_get(f->st, &got, t2, e1.id), WP_ENOTFOUND);
    assert_int_equal(wp_store_employee_get(f->st, &got, t1, e2.id), WP_ENOTFOUND);
    assert_int_equal(wp_store_org_unit_get(f->st, &u1, t2, u1.id), WP_ENOTFOUND);
    OK(wp_store_employee_get(f->st, &got, t1, e1.id));
}

/* --- org tree changes and lists ----------------------------------------------------- */

static void expect_path(wp_store *st, const char *tenant, const wp_org_unit *u, const char *want,
                        int depth)
{
    wp_org_unit got;
    OK(wp_store_org_unit_get(st, &got, tenant, u->id));
    assert_string_equal(got.path, want);
    assert_int_equal(wp_org_unit_depth(&got), depth);
}

static void test_store__org_rename_move(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1], other[WP_ID_LEN + 1], path[256];
    wp_org_unit hq, ra, rb, sa1, sb1, team, x, got, before;
    wp_employee e;

    OK(wp_store_tenant_create(f->st, t, "Acme"));
    OK(wp_store_tenant_create(f->st, other, "Other"));
    OK(wp_store_org_unit_create(f->st, &hq, t, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &ra, t, hq.id, "South", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &rb, t, hq.id, "North", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &sa1, t, ra.id, "Store A1", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &sb1, t, rb.id, "Store B1", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &team, t, sa1.id, "Team", WP_ORG_TEAM));
    OK(wp_store_org_unit_create(f->st, &x, other, NULL, "Their HQ", WP_ORG_HQ));
    OK(wp_store_employee_create(f->st, &e, t, sa1.id, "Seller", "seller", WP_ROLE_SALES, HASH));

    OK(wp_store_org_unit_top(f->st, &got, t));
    assert_string_equal(got.id, hq.id);
    assert_int_equal(wp_org_unit_depth(&got), 1);

    OK(wp_store_org_unit_rename(f->st, &got, t, ra.id, "华南"));
    assert_string_equal(got.name, "华南");
    assert_string_equal(got.path, ra.path);
    OK(wp_store_org_unit_get(f->st, &got, t, ra.id));
    assert_string_equal(got.name, "华南");
    assert_int_equal(wp_store_org_unit_rename(f->st, &got, t, ra.id, ""), WP_EINVAL);
    assert_int_equal(wp_store_org_unit_rename(f->st, &got, other, ra.id, "Mine"), WP_ENOTFOUND);

    /* the store A1 subtree (with its team and its employee) goes to the north */
    OK(wp_store_org_unit_move(f->st, &got, t, sa1.id, rb.id));
    snprintf(path, sizeof path, "/%s/%s/%s/", hq.id, rb.id, sa1.id);
    assert_string_equal(got.path, path);
    assert_string_equal(got.parent_id, rb.id);
    expect_path(f->st, t, &sa1, path, 3);
    snprintf(path, sizeof path, "/%s/%s/%s/%s/", hq.id, rb.id, sa1.id, team.id);
    expect_path(f->st, t, &team, path, 4);
    OK(wp_store_org_unit_get(f->st, &got, t, team.id));
    assert_string_equal(got.parent_id, sa1.id);
    const char *north[] = {rb.id, sb1.id, sa1.id, team.id};
    assert_subtree(f->st, t, rb.id, north, 4);
    const char *south[] = {ra.id};
    assert_subtree(f->st, t, ra.id, south, 1);
    OK(wp_store_employee_get(f->st, &e, t, e.id));
    assert_string_equal(e.org_unit_id, sa1.id);

    /* up a level: depths shrink */
    OK(wp_store_org_unit_move(f->st, &got, t, team.id, hq.id));
    snprintf(path, sizeof path, "/%s/%s/", hq.id, team.id);
    expect_path(f->st, t, &team, path, 2);
    OK(wp_store_org_unit_move(f->st, &got, t, team.id, sa1.id));
    snprintf(path, sizeof path, "/%s/%s/%s/%s/", hq.id, rb.id, sa1.id, team.id);
    expect_path(f->st, t, &team, path, 4);

    /* no cycles; the present parent is no change */
    OK(wp_store_org_unit_get(f->st, &before, t, rb.id));
    assert_int_equal(wp_store_org_unit_move(f->st, &got, t, rb.id, rb.id), WP_EINVAL);
    assert_int_equal(wp_store_org_unit_move(f->st, &got, t, rb.id, team.id), WP_EINVAL);
    assert_int_equal(wp_store_org_unit_move(f->st, &got, t, hq.id, sb1.id), WP_EINVAL);
    assert_int_equal(wp_store_org_unit_move(f->st, &got, t, rb.id, x.id), WP_ENOTFOUND);
    assert_int_equal(wp_store_org_unit_move(f->st, &got, other, rb.id, x.id), WP_ENOTFOUND);
    OK(wp_store_org_unit_move(f->st, &got, t, rb.id, hq.id));
    expect_path(f->st, t, &rb, before.path, 2);
    const char *all[] = {hq.id, ra.id, rb.id, sa1.id, sb1.id, team.id};
    assert_subtree(f->st, t, hq.id, all, 6);

    /* a failed move inside a transaction leaves it usable */
    OK(wp_store_begin(f->st));
    assert_int_equal(wp_store_org_unit_move(f->st, &got, t, rb.id, team.id), WP_EINVAL);
    OK(wp_store_org_unit_move(f->st, &got, t, sb1.id, ra.id));
    OK(wp_store_rollback(f->st));
    OK(wp_store_org_unit_get(f->st, &got, t, sb1.id));
    assert_string_equal(got.parent_id, rb.id);
}

static void test_store__org_move_depth_limit(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1];
    wp_org_unit hq, a, side, u, got;
    OK(wp_store_tenant_create(f->st, t, "Deep"));
    OK(wp_store_org_unit_create(f->st, &hq, t, NULL, "level 1", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &a, t, hq.id, "level 2", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &side, t, hq.id, "side", WP_ORG_REGION));
    u = a;
    for (int level = 3; level <= 32; level++)
        OK(wp_store_org_unit_create(f->st, &u, t, u.id, "deeper", WP_ORG_TEAM));
    /* a's subtree is 31 levels: under side (level 2) it would reach 33 */
    assert_int_equal(wp_store_org_unit_move(f->st, &got, t, a.id, side.id), WP_ELIMIT);
    OK(wp_store_org_unit_get(f->st, &got, t, u.id));
    assert_int_equal(wp_org_unit_depth(&got), 32);
    assert_int_equal(raw1(f, "SELECT max(depth) FROM org_units"), 32);
    /* one level less fits */
    OK(wp_store_org_unit_delete(f->st, t, u.id));
    OK(wp_store_org_unit_move(f->st, &got, t, a.id, side.id));
    assert_int_equal(raw1(f, "SELECT max(depth) FROM org_units"), 32);
}

static void test_store__org_delete(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1], other[WP_ID_LEN + 1];
    wp_org_unit hq, r, s1, s2, x, got;
    wp_employee e;
    wp_employee_change ch = WP_EMPLOYEE_CHANGE_INIT;

    OK(wp_store_tenant_create(f->st, t, "Acme"));
    OK(wp_store_tenant_create(f->st, other, "Other"));
    OK(wp_store_org_unit_create(f->st, &hq, t, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &r, t, hq.id, "Region", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &s1, t, r.id, "Store 1", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &s2, t, r.id, "Store 2", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &x, other, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_employee_create(f->st, &e, t, s1.id, "Seller", "seller", WP_ROLE_SALES, HASH));

    assert_int_equal(wp_store_org_unit_delete(f->st, t, r.id), WP_EBUSY);  /* child units */
    assert_int_equal(wp_store_org_unit_delete(f->st, t, s1.id), WP_EBUSY); /* an employee */
    /* ... even one who left: history refers to the unit */
    ch.active = 0;
    OK(wp_store_employee_update(f->st, &e, t, e.id, &ch));
    assert_int_equal(wp_store_org_unit_delete(f->st, t, s1.id), WP_EBUSY);
    assert_int_equal(wp_store_org_unit_delete(f->st, other, s2.id), WP_ENOTFOUND);
    OK(wp_store_org_unit_delete(f->st, t, s2.id));
    assert_int_equal(wp_store_org_unit_get(f->st, &got, t, s2.id), WP_ENOTFOUND);
    assert_int_equal(wp_store_org_unit_delete(f->st, t, s2.id), WP_ENOTFOUND);
    assert_int_equal(raw1(f, "SELECT count(*) FROM org_units"), 4);

    /* inside a transaction a refusal keeps it usable */
    OK(wp_store_begin(f->st));
    assert_int_equal(wp_store_org_unit_delete(f->st, t, r.id), WP_EBUSY);
    OK(wp_store_org_unit_create(f->st, &got, t, r.id, "Store 3", WP_ORG_STORE));
    OK(wp_store_commit(f->st));
    assert_int_equal(raw1(f, "SELECT count(*) FROM org_units"), 5);
}

static void test_store__org_units_list(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1], other[WP_ID_LEN + 1];
    wp_org_unit hq, ra, rb, sa1, sa2, sb1, x;
    wp_org_unit_page p;

    OK(wp_store_tenant_create(f->st, t, "Acme"));
    OK(wp_store_tenant_create(f->st, other, "Other"));
    OK(wp_store_org_unit_create(f->st, &hq, t, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &ra, t, hq.id, "A", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &rb, t, hq.id, "B", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &sa1, t, ra.id, "A1", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &sa2, t, ra.id, "A2", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &sb1, t, rb.id, "B1", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &x, other, NULL, "HQ", WP_ORG_HQ));

    wp_org_unit_filter all = {.tenant_id = t};
    OK(wp_store_org_units_list(f->st, &p, &all));
    assert_int_equal(p.n, 6);
    assert_string_equal(p.next_cursor, "");
    assert_string_equal(p.items[0].id, hq.id);
    for (size_t i = 1; i < p.n; i++) { /* tree order: every parent before its children */
        assert_true(strcmp(p.items[i - 1].path, p.items[i].path) < 0);
        int seen = 0;
        for (size_t k = 0; k < i; k++)
            seen |= !strcmp(p.items[k].id, p.items[i].parent_id);
        assert_true(seen);
    }
    wp_org_unit_page_release(&p);

    /* pages of 4 then 2, no overlap */
    wp_org_unit_filter paged = {.tenant_id = t, .limit = 4};
    OK(wp_store_org_units_list(f->st, &p, &paged));
    assert_int_equal(p.n, 4);
    char cursor[WP_ID_LEN + 1], last[WP_ID_LEN + 1];
    memcpy(cursor, p.next_cursor, sizeof cursor);
    memcpy(last, p.items[3].id, sizeof last);
    assert_string_equal(cursor, last);
    wp_org_unit_page_release(&p);
    paged.cursor = cursor;
    OK(wp_store_org_units_list(f->st, &p, &paged));
    assert_int_equal(p.n, 2);
    assert_string_equal(p.next_cursor, "");
    for (size_t i = 0; i < p.n; i++)
        assert_string_not_equal(p.items[i].id, last);
    wp_org_unit_page_release(&p);

    /* a manager's subtree; a salesperson's own unit */
    wp_scope ra_scope = {.org_path = ra.path};
    wp_org_unit_filter sub = {.tenant_id = t, .scope = &ra_scope};
    OK(wp_store_org_units_list(f->st, &p, &sub));
    assert_int_equal(p.n, 3);
    assert_string_equal(p.items[0].id, ra.id);
    for (size_t i = 0; i < p.n; i++)
        assert_true(!strcmp(p.items[i].id, ra.id) || !strcmp(p.items[i].parent_id, ra.id));
    wp_org_unit_page_release(&p);
    wp_employee seller;
    OK(wp_store_employee_create(f->st, &seller, t, sb1.id, "Seller", "seller", WP_ROLE_SALES,
                                NULL));
    wp_scope seller_scope = {.employee_id = seller.id};
    wp_org_unit_filter one = {.tenant_id = t, .scope = &seller_scope};
    OK(wp_store_org_units_list(f->st, &p, &one));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].id, sb1.id);
    wp_org_unit_page_release(&p);
    wp_org_unit_filter not_theirs = {.tenant_id = other, .scope = &seller_scope};
    OK(wp_store_org_units_list(f->st, &p, &not_theirs));
    assert_int_equal(p.n, 0);
    wp_org_unit_page_release(&p);
    wp_org_unit_filter theirs = {.tenant_id = other};
    OK(wp_store_org_units_list(f->st, &p, &theirs));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].id, x.id);
    wp_org_unit_page_release(&p);

    wp_org_unit_filter bad = {.tenant_id = t, .cursor = "nope"};
    assert_int_equal(wp_store_org_units_list(f->st, &p, &bad), WP_EINVAL);
    bad.cursor = x.id; /* another tenant's unit is no cursor here */
    assert_int_equal(wp_store_org_units_list(f->st, &p, &bad), WP_EINVAL);
    wp_org_unit_filter big = {.tenant_id = t, .limit = 201};
    assert_int_equal(wp_store_org_units_list(f->st, &p, &big), WP_EINVAL);
    wp_scope x_scope = {.org_path = "x"};
    wp_org_unit_filter badscope = {.tenant_id = t, .scope = &x_scope};
    assert_int_equal(wp_store_org_units_list(f->st, &p, &badscope), WP_EINVAL);
    wp_scope both = {.org_path = ra.path, .employee_id = seller.id}; /* one or the other */
    badscope.scope = &both;
    assert_int_equal(wp_store_org_units_list(f->st, &p, &badscope), WP_EINVAL);
}

/* --- employee changes and lists -------------------------------------------------------- */

static void test_store__employee_update(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1], other[WP_ID_LEN + 1], *hash = NULL;
    wp_org_unit hq, r, x;
    wp_employee admin, e, got;
    int64_t n = -1;

    wp_time_set_fake(INT64_C(1795000000000000));
    OK(wp_store_tenant_create(f->st, t, "Acme"));
    OK(wp_store_tenant_create(f->st, other, "Other"));
    OK(wp_store_org_unit_create(f->st, &hq, t, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &r, t, hq.id, "Region", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &x, other, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_employee_create(f->st, &admin, t, hq.id, "Boss", "boss", WP_ROLE_ADMIN, HASH));
    OK(wp_store_employee_create(f->st, &e, t, hq.id, "Ming", "ming", WP_ROLE_SALES, HASH));

    wp_employee_change ch = {
        .name = "王小明", .org_unit_id = r.id, .role = WP_ROLE_MANAGER, .active = -1};
    OK(wp_store_employee_update(f->st, &got, t, e.id, &ch));
    assert_string_equal(got.name, "王小明");
    assert_string_equal(got.org_unit_id, r.id);
    assert_int_equal(got.role, WP_ROLE_MANAGER);
    assert_int_equal(got.active, 1);
    assert_string_equal(got.username, "ming");
    assert_int_equal(got.created_us, e.created_us);
    OK(wp_store_employee_get(f->st, &got, t, e.id));
    assert_string_equal(got.name, "王小明");
    assert_int_equal(got.role, WP_ROLE_MANAGER);

    wp_employee_change off = WP_EMPLOYEE_CHANGE_INIT;
    off.active = 0;
    OK(wp_store_employee_update(f->st, &got, t, e.id, &off));
    assert_int_equal(got.active, 0);
    assert_string_equal(got.name, "王小明"); /* the rest stays */
    assert_string_equal(got.org_unit_id, r.id);

    /* the unit must be in the tenant; bad values change nothing */
    wp_employee_change bad = WP_EMPLOYEE_CHANGE_INIT;
    bad.org_unit_id = x.id;
    assert_int_equal(wp_store_employee_update(f->st, &got, t, e.id, &bad), WP_ENOTFOUND);
    bad.org_unit_id = NULL;
    bad.name = "";
    assert_int_equal(wp_store_employee_update(f->st, &got, t, e.id, &bad), WP_EINVAL);
    bad.name = NULL;
    bad.role = 9;
    assert_int_equal(wp_store_employee_update(f->st, &got, t, e.id, &bad), WP_EINVAL);
    assert_int_equal(wp_store_employee_update(f->st, &got, other, e.id, &off), WP_ENOTFOUND);
    OK(wp_store_employee_get(f->st, &got, t, e.id));
    assert_string_equal(got.org_unit_id, r.id);

    /* the last active admin stays one */
    OK(wp_store_employee_count_admins(f->st, &n, t));
    assert_int_equal(n, 1);
    wp_employee_change demote = WP_EMPLOYEE_CHANGE_INIT;
    demote.role = WP_ROLE_AUDITOR;
    assert_int_equal(wp_store_employee_update(f->st, &got, t, admin.id, &demote), WP_EBUSY);
    assert_int_equal(wp_store_employee_update(f->st, &got, t, admin.id, &off), WP_EBUSY);
    OK(wp_store_employee_get(f->st, &got, t, admin.id));
    assert_int_equal(got.role, WP_ROLE_ADMIN);
    assert_int_equal(got.active, 1);
    /* an inactive admin does not count; an active one does */
    wp_employee_change promote = {.role = WP_ROLE_ADMIN, .active = -1};
    OK(wp_store_employee_update(f->st, &got, t, e.id, &promote));
    OK(wp_store_employee_count_admins(f->st, &n, t));
    assert_int_equal(n, 1);
    assert_int_equal(wp_store_employee_update(f->st, &got, t, admin.id, &demote), WP_EBUSY);
    wp_employee_change on = WP_EMPLOYEE_CHANGE_INIT;
    on.active = 1;
    OK(wp_store_employee_update(f->st, &got, t, e.id, &on));
    OK(wp_store_employee_count_admins(f->st, &n, t));
    assert_int_equal(n, 2);
    OK(wp_store_employee_update(f->st, &got, t, admin.id, &demote));
    assert_int_equal(got.role, WP_ROLE_AUDITOR);
    assert_int_equal(wp_store_employee_update(f->st, &got, t, e.id, &off), WP_EBUSY);
    /* a change that keeps an admin an active admin is fine */
    wp_employee_change rename = {.name = "Ming Wang", .active = 1};
    OK(wp_store_employee_update(f->st, &got, t, e.id, &rename));

    /* passwords */
    OK(wp_store_employee_set_password(f->st, t, e.id, "$argon2id$new"));
    OK(wp_store_employee_find_login(f->st, &got, &hash, t, "ming"));
    assert_string_equal(hash, "$argon2id$new");
    free(hash);
    assert_int_equal(wp_store_employee_set_password(f->st, t, e.id, ""), WP_EINVAL);
    assert_int_equal(wp_store_employee_set_password(f->st, other, e.id, "h"), WP_ENOTFOUND);
}

static void names_of(const wp_employee_page *p, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p->n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "", p->items[i].username);
}

static void expect_list(wp_store *st, const wp_employee_filter *f, const char *want)
{
    wp_employee_page p;
    char got[512];
    OK(wp_store_employees_list(st, &p, f));
    names_of(&p, got, sizeof got);
    assert_string_equal(got, want);
    wp_employee_page_release(&p);
}

static void test_store__employees_list(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1], other[WP_ID_LEN + 1];
    wp_org_unit hq, ra, rb, sa, x;
    wp_employee boss, ma, sa1, sa2, mb, sb, aud, them;
    wp_employee_page p;

    OK(wp_store_tenant_create(f->st, t, "Acme"));
    OK(wp_store_tenant_create(f->st, other, "Other"));
    OK(wp_store_org_unit_create(f->st, &hq, t, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &ra, t, hq.id, "A", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &rb, t, hq.id, "B", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &sa, t, ra.id, "A store", WP_ORG_STORE));
    OK(wp_store_org_unit_create(f->st, &x, other, NULL, "HQ", WP_ORG_HQ));
    /* created one microsecond apart: newest first is the reverse of this */
    int64_t now = INT64_C(1795000000000000);
    struct {
        wp_employee *e;
        const char *unit, *name, *user;
        enum wp_role role;
    } mk[] = {
        {&boss, hq.id, "The Boss", "boss", WP_ROLE_ADMIN},
        {&ma, ra.id, "Anna Manager", "anna", WP_ROLE_MANAGER},
        {&sa1, sa.id, "王小明", "wang", WP_ROLE_SALES},
        {&sa2, sa.id, "Li 100%", "li_lei", WP_ROLE_SALES},
        {&mb, rb.id, "Bob Manager", "bob", WP_ROLE_MANAGER},
        {&sb, rb.id, "Carl", "carl", WP_ROLE_SALES},
        {&aud, hq.id, "Audrey", "audrey", WP_ROLE_AUDITOR},
    };
    for (size_t i = 0; i < sizeof mk / sizeof *mk; i++) {
        wp_time_set_fake(now + (int64_t)i);
        OK(wp_store_employee_create(f->st, mk[i].e, t, mk[i].unit, mk[i].name, mk[i].user,
                                    mk[i].role, HASH));
    }
    OK(wp_store_employee_create(f->st, &them, other, x.id, "Them", "them", WP_ROLE_ADMIN, HASH));
    wp_employee_change off = WP_EMPLOYEE_CHANGE_INIT;
    off.active = 0;
    OK(wp_store_employee_update(f->st, &sa2, t, sa2.id, &off));

    wp_employee_filter all = {.tenant_id = t};
    expect_list(f->st, &all, "audrey,carl,bob,li_lei,wang,anna,boss");
    wp_scope ra_scope = {.org_path = ra.path}, self_scope = {.employee_id = sa1.id};
    wp_employee_filter scoped = {.tenant_id = t, .scope = &ra_scope};
    expect_list(f->st, &scoped, "li_lei,wang,anna");
    wp_employee_filter self = {.tenant_id = t, .scope = &self_scope};
    expect_list(f->st, &self, "wang");
    wp_employee_filter by_unit = {.tenant_id = t, .org_path = sa.path};
    expect_list(f->st, &by_unit, "li_lei,wang");
    /* a filter outside the scope finds nothing */
    wp_employee_filter outside = {.tenant_id = t, .scope = &ra_scope, .org_path = rb.path};
    expect_list(f->st, &outside, "");
    wp_employee_filter role = {.tenant_id = t, .role = WP_ROLE_MANAGER};
    expect_list(f->st, &role, "bob,anna");
    wp_employee_filter active = {.tenant_id = t, .active = WP_ACTIVE_ONLY, .org_path = ra.path};
    expect_list(f->st, &active, "wang,anna");
    wp_employee_filter gone = {.tenant_id = t, .active = WP_ACTIVE_NOT};
    expect_list(f->st, &gone, "li_lei");
    wp_employee_filter q = {.tenant_id = t, .q = "MANAGER"};
    expect_list(f->st, &q, "bob,anna");
    q.q = "小";
    expect_list(f->st, &q, "wang");
    q.q = "AUD"; /* the username */
    expect_list(f->st, &q, "audrey");
    q.q = "%";
    expect_list(f->st, &q, "li_lei");
    q.q = "_";
    expect_list(f->st, &q, "li_lei");
    wp_employee_filter theirs = {.tenant_id = other};
    expect_list(f->st, &theirs, "them");

    /* pages */
    wp_employee_filter paged = {.tenant_id = t, .limit = 3};
    OK(wp_store_employees_list(f->st, &p, &paged));
    assert_int_equal(p.n, 3);
    char cursor[WP_EMPLOYEE_CURSOR_MAX];
    memcpy(cursor, p.next_cursor, sizeof cursor);
    assert_true(cursor[0] != '\0');
    wp_employee_page_release(&p);
    paged.cursor = cursor;
    expect_list(f->st, &paged, "li_lei,wang,anna");
    OK(wp_store_employees_list(f->st, &p, &paged));
    memcpy(cursor, p.next_cursor, sizeof cursor);
    wp_employee_page_release(&p);
    expect_list(f->st, &paged, "boss");

    wp_employee_filter bad = {.tenant_id = t, .cursor = "garbage"};
    assert_int_equal(wp_store_employees_list(f->st, &p, &bad), WP_EINVAL);
    wp_employee_filter badrole = {.tenant_id = t, .role = 7};
    assert_int_equal(wp_store_employees_list(f->st, &p, &badrole), WP_EINVAL);
    wp_employee_filter badactive = {.tenant_id = t, .active = 5};
    assert_int_equal(wp_store_employees_list(f->st, &p, &badactive), WP_EINVAL);
    wp_scope x_scope = {.org_path = "/x"};
    wp_employee_filter badscope = {.tenant_id = t, .scope = &x_scope};
    assert_int_equal(wp_store_employees_list(f->st, &p, &badscope), WP_EINVAL);
}

/* --- transactions -------------------------------------------------------------------- */

static void test_store__rollback_leaves_nothing(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1];
    wp_org_unit u, sub;
    wp_employee e;
    int64_t n = -1;

    OK(wp_store_rollback(f->st)); /* harmless without a transaction */
    assert_int_equal(wp_store_commit(f->st), WP_EINVAL);
    OK(wp_store_begin(f->st));
    assert_int_equal(wp_store_begin(f->st), WP_EINVAL);
    OK(wp_store_tenant_create(f->st, t, "Gone"));
    OK(wp_store_org_unit_create(f->st, &u, t, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &sub, t, u.id, "Region", WP_ORG_REGION));
    OK(wp_store_employee_create(f->st, &e, t, sub.id, "Temp", "temp", WP_ROLE_SALES, HASH));
    OK(wp_store_tenant_count(f->st, &n));
    assert_int_equal(n, 1); /* visible inside */
    OK(wp_store_rollback(f->st));

    OK(wp_store_tenant_count(f->st, &n));
    assert_int_equal(n, 0);
    assert_int_equal(wp_store_tenant_find(f->st, t, "Gone"), WP_ENOTFOUND);
    assert_int_equal(raw1(f, "SELECT count(*) FROM org_units"), 0);
    assert_int_equal(raw1(f, "SELECT count(*) FROM employees"), 0);

    OK(wp_store_begin(f->st));
    OK(wp_store_tenant_create(f->st, t, "Kept"));
    OK(wp_store_commit(f->st));
    assert_int_equal(raw1(f, "SELECT count(*) FROM tenants"), 1);
}

/* A failed operation inside a transaction has no effect and leaves the transaction usable, on
 * both backends (PostgreSQL aborts a transaction on any error without the savepoint). */
/* A full disk (SQLITE_FULL; here the connection's max_page_count) in the middle of a
 * transaction: SQLite rolls all of it back by itself. What follows until the caller's ROLLBACK
 * is refused with the same WP_EFULL, not committed on its own outside the transaction the
 * caller thinks open; then the store works again (docs/internals/store.md, "Full disk"). */
static void test_store__full_disk_refuses_the_rest(void **state)
{
    struct fx *f = *state;
    if (backend.kind != WP_STORE_SQLITE)
        return; /* a full PostgreSQL disk is out of scope */
    char pragma[64], big[3001];
    struct wp_stmt *s = NULL;
    int err = 0, n = 0;
    OK(wp_db_exec(f->st, "CREATE TABLE disk_t (x TEXT)"));
    snprintf(pragma, sizeof pragma, "PRAGMA max_page_count = %lld",
             (long long)raw1(f, "PRAGMA page_count") + 4);
    OK(wp_db_exec(f->st, pragma));
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    OK(wp_store_begin(f->st));
    OK(wp_db_prepare(f->st, &s, "INSERT INTO disk_t VALUES (?)"));
    while (n < 100) {
        wp_db_bind_text(s, 1, big);
        if ((err = wp_db_step(s)) < 0)
            break;
        wp_db_done(s);
        OK(wp_db_prepare(f->st, &s, "INSERT INTO disk_t VALUES (?)"));
        n++;
    }
    wp_db_done(s);
    assert_int_equal(err, WP_EFULL);
    assert_true(n >= 1);
    assert_int_equal(wp_db_exec(f->st, "INSERT INTO disk_t VALUES ('after')"), WP_EFULL);
    assert_true(wp_store_commit(f->st) < 0);
    assert_int_equal(raw1(f, "SELECT count(*) FROM disk_t"), 0);
    /* space again: the next transaction commits */
    OK(wp_db_exec(f->st, "PRAGMA max_page_count = 1073741823"));
    OK(wp_store_begin(f->st));
    OK(wp_db_exec(f->st, "INSERT INTO disk_t VALUES ('again')"));
    OK(wp_store_commit(f->st));
    assert_int_equal(raw1(f, "SELECT count(*) FROM disk_t"), 1);
}

static void test_store__failed_op_keeps_transaction(void **state)
{
    struct fx *f = *state;
    char a[WP_ID_LEN + 1], b[WP_ID_LEN + 1], c[WP_ID_LEN + 1];
    wp_org_unit u, bad;
    OK(wp_store_begin(f->st));
    OK(wp_store_tenant_create(f->st, a, "A"));
    assert_int_equal(wp_store_tenant_create(f->st, b, "A"), WP_EEXISTS);
    OK(wp_store_org_unit_create(f->st, &u, a, NULL, "HQ", WP_ORG_HQ));
    wp_id_new(c);
    assert_int_equal(wp_store_org_unit_create(f->st, &bad, c, NULL, "HQ", WP_ORG_HQ), WP_ENOTFOUND);
    assert_int_equal(wp_store_org_unit_create(f->st, &bad, a, c, "HQ", WP_ORG_HQ), WP_ENOTFOUND);
    OK(wp_store_tenant_create(f->st, b, "B"));
    OK(wp_store_commit(f->st));
    assert_int_equal(raw1(f, "SELECT count(*) FROM tenants"), 2);
    assert_int_equal(raw1(f, "SELECT count(*) FROM org_units"), 1);
    OK(wp_store_tenant_find(f->st, c, "B"));
    assert_string_equal(c, b);
}

/* --- no SQL built from values -------------------------------------------------------- */

/* A printf-like call: any name ending in "printf" (snprintf, asprintf, sqlite3_mprintf, ...)
 * and the wp_buf's own. */
static int is_formatter(const char *name, size_t n)
{
    return (n >= 6 && strncmp(name + n - 6, "printf", 6) == 0) ||
           (n == 11 && strncmp(name, "wp_buf_addf", 11) == 0);
}

static regex_t sql_re, conv_re;

/* Append the contents of the string literals in s[0..end) to lits. */
static void literals_of(const char *s, const char *end, wp_buf *lits)
{
    for (const char *p = s; p < end; p++) {
        if (*p == '\'') { /* a character literal */
            for (p++; p < end && *p != '\''; p++)
                p += *p == '\\';
        } else if (*p == '"') {
            const char *q = p + 1;
            while (q < end && *q != '"')
                q += *q == '\\' ? 2 : 1;
            assert_int_equal(wp_buf_add(lits, p + 1, (size_t)(q - p - 1)), 0);
            p = q;
        }
    }
}

static int is_ident(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Whether the C source calls a printf-like function with a format that is SQL and has a
 * conversion: SQL built from values. *line gets the first offending line. */
static int formats_sql(const char *src, int *line)
{
    int ln = 1;
    for (const char *p = src; *p; p++) {
        if (*p == '\n') {
            ln++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            for (const char *q = p; q < (e ? e : p + strlen(p)); q++)
                ln += *q == '\n';
            if (!e)
                break;
            p = e + 1;
        } else if (p[0] == '/' && p[1] == '/') {
            p += strcspn(p, "\n") - 1;
        } else if (*p == '"' || *p == '\'') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                p += *p == '\\' && p[1];
            if (!*p)
                break;
        } else if (is_ident(*p) && (p == src || !is_ident(p[-1]))) {
            size_t n = 0;
            while (is_ident(p[n]))
                n++;
            int hit = is_formatter(p, n);
            const char *q = p + n;
            q += strspn(q, " \t\n");
            if (hit && *q == '(') {
                /* the call's arguments, up to the matching parenthesis */
                int depth = 0;
                const char *e = q;
                for (; *e; e++) {
                    if (*e == '"' || *e == '\'') {
                        char c = *e;
                        for (e++; *e && *e != c; e++)
                            e += *e == '\\' && e[1];
                        if (!*e)
                            break;
                    } else if (*e == '(') {
                        depth++;
                    } else if (*e == ')' && --depth == 0) {
                        break;
                    }
                }
                wp_buf lits;
                wp_buf_init(&lits, 1 << 20);
                literals_of(q, e, &lits);
                int bad = regexec(&sql_re, lits.buf, 0, NULL, 0) == 0 &&
                          regexec(&conv_re, lits.buf, 0, NULL, 0) == 0;
                wp_buf_release(&lits);
                if (bad) {
                    *line = ln;
                    return 1;
                }
            }
            p += n - 1;
        }
    }
    return 0;
}

static struct {
    int files;
    int saw_store;
    wp_buf bad;
} scan;

static int scan_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    size_t len = strlen(path);
    if (flag != FTW_F || len < 2 || (strcmp(path + len - 2, ".c") && strcmp(path + len - 2, ".h")))
        return 0;
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    wp_buf src;
    wp_buf_init(&src, 16 << 20);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        assert_int_equal(wp_buf_add(&src, chunk, n), 0);
    fclose(fp);
    int line = 0;
    if (formats_sql(src.buf, &line))
        assert_int_equal(wp_buf_addf(&scan.bad, "  %s:%d\n", path, line), 0);
    wp_buf_release(&src);
    scan.files++;
    scan.saw_store |= strstr(path, "/src/store/ops_tenant.c") != NULL;
    return 0;
}

/* --- login attempts: counted and recorded in one step -------------------------------- */

#define LOGIN_T0 INT64_C(1795766400000000) /* 2026-11-27T08:00:00Z */
#define LOGIN_WINDOW (15 * 60 * INT64_C(1000000))
#define LOGIN_AT_ONCE 16

struct attempter {
    struct fx *f;
    pthread_barrier_t *go;
    const char *user, *client;
    int rc, recorded;
    char msg[256];
};

/* One node: its own connection, an attempt when all are ready. */
static void *attempt_thread(void *arg)
{
    struct attempter *a = arg;
    wp_store *st = NULL;
    wp_login_throttle t;
    a->rc = fx_open(a->f, &st);
    pthread_barrier_wait(a->go);
    if (a->rc == 0)
        a->rc = wp_store_login_attempt(st, &t, "", a->user, a->client, LOGIN_T0, LOGIN_WINDOW,
                                       5, 30);
    a->recorded = a->rc == 0 && !t.user_unlock_us && !t.client_unlock_us;
    snprintf(a->msg, sizeof a->msg, "%s", wp_error_last());
    wp_store_free(st);
    return NULL;
}

/* n attempts at once, each on a connection of its own (as many nodes would): how many were
 * recorded. user NULL: another account each. */
static int attempts_at_once(struct fx *f, int n, const char *user, const char *client)
{
    struct attempter a[40];
    pthread_t t[40];
    char names[40][16];
    pthread_barrier_t go;
    int recorded = 0;
    assert_true(n <= 40);
    pthread_barrier_init(&go, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "ghost%d", i);
        a[i] = (struct attempter){.f = f, .go = &go, .user = user ? user : names[i],
                                  .client = client};
        assert_int_equal(pthread_create(&t[i], NULL, attempt_thread, &a[i]), 0);
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < n; i++) {
        if (a[i].rc != 0)
            fail_msg("attempt %d: %d %s", i, a[i].rc, a[i].msg);
        recorded += a[i].recorded;
    }
    return recorded;
}

/* The lockout holds exactly when attempts come at once from several nodes: 5 per account,
 * 30 per address, never more (issue 13: the count used to be read before the slow password
 * check and the failure written after it). */
static void test_store__login_attempts_at_once(void **state)
{
    struct fx *f = *state;
    assert_int_equal(attempts_at_once(f, LOGIN_AT_ONCE, "locky", "10.0.0.1"), 5);
    assert_int_equal(raw1(f, "SELECT count(*) FROM login_failures"), 5);
    assert_int_equal(attempts_at_once(f, 35, NULL, "10.0.0.2"), 30);
    assert_int_equal(raw1(f, "SELECT count(*) FROM login_failures WHERE client = '10.0.0.2'"),
                     30);
}

static void test_store__login_attempts(void **state)
{
    struct fx *f = *state;
    wp_login_throttle t;
    int64_t w = LOGIN_WINDOW;
    char longname[80];
    memset(longname, 'x', 70);
    longname[70] = '\0';

    for (int i = 0; i < 5; i++) {
        OK(wp_store_login_attempt(f->st, &t, "", "locky", "10.0.0.1", LOGIN_T0 + i, w, 5, 30));
        assert_int_equal(t.user_failures, i);
        assert_int_equal(t.user_unlock_us, 0);
        assert_int_equal(t.client_unlock_us, 0);
    }
    /* the sixth is refused and not recorded; it unlocks when the oldest of the 5 expires */
    OK(wp_store_login_attempt(f->st, &t, "", "locky", "10.0.0.9", LOGIN_T0 + 10, w, 5, 30));
    assert_int_equal(t.user_failures, 5);
    assert_int_equal(t.user_unlock_us, LOGIN_T0 + w);
    assert_int_equal(t.client_unlock_us, 0);
    assert_int_equal(raw1(f, "SELECT count(*) FROM login_failures"), 5);
    /* another tenant's account of that name is another account */
    OK(wp_store_login_attempt(f->st, &t, "t2", "locky", "10.0.0.9", LOGIN_T0 + 10, w, 5, 30));
    assert_int_equal(t.user_unlock_us, 0);
    /* a good password settles: the failures go */
    OK(wp_store_login_failures_clear(f->st, "", "locky"));
    OK(wp_store_login_attempt(f->st, &t, "", "locky", "10.0.0.1", LOGIN_T0 + 20, w, 5, 30));
    assert_int_equal(t.user_unlock_us, 0);
    /* the window passes: rows past it are not counted, and deleted on the way */
    for (int i = 0; i < 4; i++)
        OK(wp_store_login_attempt(f->st, &t, "", "locky", "10.0.0.1", LOGIN_T0 + 21 + i, w, 5,
                                  30));
    OK(wp_store_login_attempt(f->st, &t, "", "locky", "10.0.0.1", LOGIN_T0 + 30, w, 5, 30));
    assert_int_not_equal(t.user_unlock_us, 0);
    OK(wp_store_login_attempt(f->st, &t, "", "locky", "10.0.0.1", LOGIN_T0 + 20 + w, w, 5, 30));
    assert_int_equal(t.user_unlock_us, 0);
    assert_int_equal(raw1(f, "SELECT count(*) FROM login_failures WHERE tenant_id = ''"), 5);
    /* a name longer than any account is cut as it is kept, so it locks all the same */
    for (int i = 0; i < 5; i++)
        OK(wp_store_login_attempt(f->st, &t, "", longname, "10.0.1.1", LOGIN_T0, w, 5, 30));
    OK(wp_store_login_attempt(f->st, &t, "", longname, "10.0.1.2", LOGIN_T0, w, 5, 30));
    assert_int_equal(t.user_unlock_us, LOGIN_T0 + w);
    assert_int_equal(wp_store_login_attempt(f->st, &t, NULL, "a", "b", LOGIN_T0, w, 5, 30),
                     WP_EINVAL);
}

static void test_store__no_sql_from_formatted_values(void **state)
{
    int line = 0;
    assert_int_equal(regcomp(&sql_re,
                             "(^|[^a-z_])(select[^a-z_].*[^a-z_]from|insert[[:space:]]+into|"
                             "update[^a-z_].*[^a-z_]set|delete[[:space:]]+from)([^a-z_]|$)",
                             REG_EXTENDED | REG_ICASE | REG_NOSUB),
                     0);
    assert_int_equal(
        regcomp(&conv_re, "%[-+ #0-9.*]*[hlLqjzt]*[diouxXeEfgGcsp]", REG_EXTENDED | REG_NOSUB), 0);
    /* the detector itself: it must catch these and pass those */
    assert_true(
        formats_sql("x = wp_buf_addf(&b, \"SELECT id FROM t WHERE name = '%s'\", n);", &line));
    assert_true(formats_sql("/* a\n */\nsnprintf(q, sizeof q,\n  \"delete from tenants\"\n"
                            "  \" where id = %s\", id);",
                            &line));
    assert_int_equal(line, 3);
    assert_true(formats_sql("n = snprintf(q, n, \"UPDATE t SET a = %lld\", (long long)v);", &line));
    assert_false(formats_sql("err = wp_buf_addf(b, \"$%d\", ++n);", &line));
    assert_false(formats_sql("wp_error_set(WP_EIO, \"cannot select from %s\", x);", &line));
    assert_false(formats_sql("prepare(st, \"SELECT id FROM t WHERE name = ?\");", &line));
    assert_false(formats_sql("/* snprintf(q, n, \"SELECT a FROM b WHERE c = %s\", v) */", &line));

    const char *root = getenv("WORKPHONE_SOURCE_ROOT");
    if (!root)
        fail_msg("%s", "WORKPHONE_SOURCE_ROOT is not set (tests/meson.build sets it)");
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/src", root);
    wp_buf_init(&scan.bad, 1 << 20);
    assert_int_equal(nftw(src, scan_file, 16, FTW_PHYS), 0);
    assert_true(scan.files > 5);
    assert_true(scan.saw_store);
    if (scan.bad.len)
        fail_msg("SQL built by formatting values (use bound parameters):\n%s", scan.bad.buf);
    wp_buf_release(&scan.bad);
    regfree(&sql_re);
    regfree(&conv_re);
}

/* --------------------------------------------------------------------------------------- */

/* A key acts for its creator: it authenticates only while the creator holds it, and
 * _end_unheld revokes those that no longer are, saying why (migration 0014). */
static void test_store__api_keys_end_with_creator(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1], h[4][65];
    wp_org_unit hq, ra, rb;
    wp_employee boss, creator, got;
    wp_api_key k[4], a;
    wp_api_key_end *ended = NULL;
    size_t n = 9;
    int64_t now = INT64_C(1795000000000000);

    wp_time_set_fake(now);
    OK(wp_store_tenant_create(f->st, t, "Acme"));
    OK(wp_store_org_unit_create(f->st, &hq, t, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_org_unit_create(f->st, &ra, t, hq.id, "A", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &rb, t, hq.id, "B", WP_ORG_REGION));
    OK(wp_store_employee_create(f->st, &boss, t, hq.id, "Boss", "boss", WP_ROLE_ADMIN, HASH));
    OK(wp_store_employee_create(f->st, &creator, t, hq.id, "Kai", "kai", WP_ROLE_ADMIN, HASH));
    const enum wp_role roles[4] = {WP_ROLE_ADMIN, WP_ROLE_AUDITOR, WP_ROLE_MANAGER,
                                   WP_ROLE_ADMIN};
    for (int i = 0; i < 4; i++) {
        char raw[32];
        snprintf(raw, sizeof raw, "key-%d", i);
        wp_token_hash(h[i], raw);
        OK(wp_store_api_key_create(f->st, &k[i], t, raw, roles[i],
                                   roles[i] == WP_ROLE_MANAGER ? ra.id : NULL, "wpk_abcdefgh",
                                   h[i], i == 3 ? NULL : creator.id, now));
        assert_int_equal(wp_store_api_key_auth(f->st, &a, h[i], now),
                         i == 3 ? WP_EAUTH : 0); /* no known creator: never live */
    }
    OK(wp_store_api_keys_end_unheld(f->st, &ended, &n, t, NULL, now));
    assert_int_equal(n, 0); /* all held; the creatorless one is left alone */
    assert_null(ended);

    /* the creator becomes a manager of the top unit: the admin and auditor keys end */
    wp_employee_change ch = WP_EMPLOYEE_CHANGE_INIT;
    ch.role = WP_ROLE_MANAGER;
    OK(wp_store_employee_update(f->st, &got, t, creator.id, &ch));
    assert_int_equal(wp_store_api_key_auth(f->st, &a, h[0], now), WP_EAUTH);
    OK(wp_store_api_key_auth(f->st, &a, h[2], now));
    OK(wp_store_api_keys_end_unheld(f->st, &ended, &n, t, creator.id, now + 1));
    assert_int_equal(n, 2);
    int first = !strcmp(ended[0].key.id, k[0].id) ? 0 : 1; /* made in the same microsecond */
    assert_string_equal(ended[first].key.id, k[0].id);
    assert_string_equal(ended[1 - first].key.id, k[1].id);
    assert_string_equal(ended[0].reason, "creator_role");
    assert_string_equal(ended[1].reason, "creator_role");
    assert_int_equal(ended[1].key.revoked_us, now + 1);
    free(ended);

    /* moved to region B it no longer manages region A: the manager key ends */
    ch = (wp_employee_change)WP_EMPLOYEE_CHANGE_INIT;
    ch.org_unit_id = rb.id;
    OK(wp_store_employee_update(f->st, &got, t, creator.id, &ch));
    assert_int_equal(wp_store_api_key_auth(f->st, &a, h[2], now), WP_EAUTH);
    OK(wp_store_api_keys_end_unheld(f->st, &ended, &n, t, NULL, now + 2));
    assert_int_equal(n, 1);
    assert_string_equal(ended[0].reason, "creator_unit");
    free(ended);
    OK(wp_store_api_keys_end_unheld(f->st, &ended, &n, t, NULL, now + 3));
    assert_int_equal(n, 0); /* once */

    /* a key of an admin who is deactivated */
    wp_token_hash(h[0], "key-boss");
    OK(wp_store_api_key_create(f->st, &k[0], t, "boss's", WP_ROLE_AUDITOR, NULL, "wpk_abcdefgh",
                               h[0], boss.id, now));
    ch = (wp_employee_change)WP_EMPLOYEE_CHANGE_INIT;
    ch.role = WP_ROLE_ADMIN;
    OK(wp_store_employee_update(f->st, &got, t, creator.id, &ch));
    ch = (wp_employee_change)WP_EMPLOYEE_CHANGE_INIT;
    ch.active = 0;
    OK(wp_store_employee_update(f->st, &got, t, boss.id, &ch));
    assert_int_equal(wp_store_api_key_auth(f->st, &a, h[0], now), WP_EAUTH);
    OK(wp_store_api_keys_end_unheld(f->st, &ended, &n, t, boss.id, now + 4));
    assert_int_equal(n, 1);
    assert_string_equal(ended[0].reason, "creator_inactive");
    free(ended);
}

/* Who handles alerts by default, and that sales never may (migration 0014). */
static void test_store__role_settings(void **state)
{
    struct fx *f = *state;
    char t[WP_ID_LEN + 1];
    wp_role_setting rs;

    OK(wp_store_tenant_create(f->st, t, "Acme"));
    for (int r = WP_ROLE_ADMIN; r <= WP_ROLE_SALES; r++) {
        OK(wp_store_role_setting_get(f->st, &rs, t, (enum wp_role)r));
        assert_int_equal(rs.handle_alerts, r != WP_ROLE_SALES);
    }
    OK(wp_store_role_setting_get(f->st, &rs, t, WP_ROLE_AUDITOR));
    rs.handle_alerts = 0;
    OK(wp_store_role_setting_put(f->st, t, &rs, 5));
    OK(wp_store_role_setting_get(f->st, &rs, t, WP_ROLE_AUDITOR));
    assert_int_equal(rs.handle_alerts, 0);
    assert_int_equal(rs.unmask, 1);
    OK(wp_store_role_setting_get(f->st, &rs, t, WP_ROLE_SALES));
    rs.handle_alerts = 1;
    assert_int_equal(wp_store_role_setting_put(f->st, t, &rs, 5), WP_EINVAL);
    rs.handle_alerts = 0;
    rs.view_pii = 1;
    OK(wp_store_role_setting_put(f->st, t, &rs, 5));
    OK(wp_store_role_setting_get(f->st, &rs, t, WP_ROLE_SALES));
    assert_int_equal(rs.handle_alerts, 0);
    assert_int_equal(rs.view_pii, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define T_EMPTY(name) cmocka_unit_test_setup_teardown(name, setup_empty, teardown)

static const struct CMUnitTest suite[] = {
    T(test_store__open_migrates_to_latest),
    T(test_store__reopen_is_noop),
    T(test_store__newer_schema_is_refused),
    T_EMPTY(test_store__newer_schema_gets_no_migration),
    T_EMPTY(test_store__concurrent_open_migrates_once),
    T_EMPTY(test_store__open_errors),
    T(test_store__statements),
    T(test_store__subtree_query_uses_index),
    T(test_store__tenants),
    T(test_store__name_limits),
    T(test_store__org_tree),
    T(test_store__org_depth_limit),
    T(test_store__org_parent_in_other_tenant),
    T(test_store__employees),
    T(test_store__tenant_isolation),
    T(test_store__org_rename_move),
    T(test_store__org_move_depth_limit),
    T(test_store__org_delete),
    T(test_store__org_units_list),
    T(test_store__employee_update),
    T(test_store__employees_list),
    T(test_store__rollback_leaves_nothing),
    T(test_store__failed_op_keeps_transaction),
    T(test_store__full_disk_refuses_the_rest),
    T(test_store__login_attempts),
    T(test_store__login_attempts_at_once),
    T(test_store__api_keys_end_with_creator),
    T(test_store__role_settings),
};

static const struct CMUnitTest once[] = {
    cmocka_unit_test(test_store__kind_and_role_names),
    cmocka_unit_test(test_store__no_sql_from_formatted_values),
};

int main(void)
{
    int failed = cmocka_run_group_tests_name("store", once, NULL, NULL);
    failed += cmocka_run_group_tests_name("store_sqlite", suite, group_setup_sqlite,
                                          group_teardown_sqlite);
    if (test_pg_url("store", &failed))
        failed += cmocka_run_group_tests_name("store_pg", suite, group_setup_pg, group_teardown_pg);
    return failed ? 1 : 0;
}
