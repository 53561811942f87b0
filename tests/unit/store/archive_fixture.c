/* SPDX-License-Identifier: MIT */
/* Test fixtures for the archive and ingest tests (see archive_fixture.h). */
#include "archive_fixture.h"
#include "pg_util.h"
#include "store/org.h"
#include "store/people.h"
#include "store/store.h"

#include <ftw.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/id.h"

static struct {
    enum wp_store_backend kind;
    char root[512];
    const char *url;
    char dbname[64];
    char *db_conninfo;
    int n;
} tb;


/* The run's temp dir: SQLite files, and media on both backends. */
static int make_root(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tb.root, sizeof tb.root, "%s/wp-archive-test.XXXXXX", tmp ? tmp : "/tmp");
    return mkdtemp(tb.root) ? 0 : -1;
}

static int setup_sqlite(void **state)
{
    memset(&tb, 0, sizeof tb);
    tb.kind = WP_STORE_SQLITE;
    return make_root();
}

static int teardown_sqlite(void **state)
{
    return test_rm_tree(tb.root);
}

static int setup_pg(void **state)
{
    char id[WP_ID_LEN + 1], sql[128];
    memset(&tb, 0, sizeof tb);
    tb.kind = WP_STORE_PG;
    tb.url = getenv("WORKPHONE_TEST_PG_URL");
    wp_id_new(id);
    snprintf(tb.dbname, sizeof tb.dbname, "wp_test_%s", id);
    PGconn *c = test_pg_connect(tb.url);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", tb.dbname);
    test_pg_run(c, sql);
    PQfinish(c);
    tb.db_conninfo = test_pg_conninfo(tb.url, tb.dbname, NULL);
    return make_root(); /* media still live in a data dir on PostgreSQL */
}

static int teardown_pg(void **state)
{
    char sql[128];
    PGconn *c = test_pg_connect(tb.url);
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", tb.dbname);
    test_pg_run(c, sql);
    PQfinish(c);
    free(tb.db_conninfo);
    return teardown_sqlite(state);
}

void tfx_location(struct tfx *f)
{
    int n = ++tb.n;
    f->kind = tb.kind;
    snprintf(f->dir, sizeof f->dir, "%s/t%d", tb.root, n);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    if (tb.kind == WP_STORE_PG) {
        char sql[64], opt[64];
        snprintf(sql, sizeof sql, "CREATE SCHEMA t%d", n);
        PGconn *c = test_pg_connect(tb.db_conninfo);
        test_pg_run(c, sql);
        PQfinish(c);
        snprintf(opt, sizeof opt, "-c search_path=t%d", n);
        f->url = test_pg_conninfo(tb.url, tb.dbname, opt);
    }
}

void tfx_seed(struct tfx *f)
{
    wp_org_unit u;
    wp_employee e;
    tfx_location(f);
    OK(wp_store_open(&f->st, f->dir, f->url));
    OK(wp_store_tenant_create(f->st, f->tenant, "Acme"));
    OK(wp_store_org_unit_create(f->st, &u, f->tenant, NULL, "HQ", WP_ORG_HQ));
    memcpy(f->unit, u.id, sizeof f->unit);
    OK(wp_store_employee_create(f->st, &e, f->tenant, u.id, "Li Lei", "lilei", WP_ROLE_SALES,
                                NULL));
    memcpy(f->emp1, e.id, sizeof f->emp1);
    OK(wp_store_employee_create(f->st, &e, f->tenant, u.id, "Han Meimei", "hanmeimei",
                                WP_ROLE_SALES, NULL));
    memcpy(f->emp2, e.id, sizeof f->emp2);
}

void tfx_release(struct tfx *f)
{
    wp_store_free(f->st);
    f->st = NULL;
    free(f->url);
    f->url = NULL;
    wp_time_set_fake(0);
}

static sqlite3 *lite_connect(struct tfx *f)
{
    char path[PATH_MAX + 16];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/workphone.db", f->dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        fail_msg("sqlite open %s: %s", path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 5000);
    return db;
}

int64_t tfx_raw(struct tfx *f, const char *sqlite_sql, const char *pg_sql)
{
    int64_t v = 0;
    if (f->kind == WP_STORE_SQLITE) {
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

int64_t tfx_raw1(struct tfx *f, const char *sql)
{
    return tfx_raw(f, sql, sql);
}

void tfx_exec(struct tfx *f, const char *sql)
{
    tfx_raw1(f, sql);
}

int tfx_run(const char *name, const struct CMUnitTest *suite, size_t n)
{
    char label[128];
    snprintf(label, sizeof label, "%s_sqlite", name);
    int failed = _cmocka_run_group_tests(label, suite, n, setup_sqlite, teardown_sqlite);
    snprintf(label, sizeof label, "%s_pg", name);
    if (test_pg_url(name, &failed))
        failed += _cmocka_run_group_tests(label, suite, n, setup_pg, teardown_pg);
    return failed;
}
