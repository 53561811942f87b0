/* SPDX-License-Identifier: MIT */
/* Plumbing shared by the store test fixtures: PostgreSQL connections and temp-dir removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/buf.h"

#include "pg_util.h"

const char *test_pg_url(const char *name, int *failed)
{
    const char *url = getenv("WORKPHONE_TEST_PG_URL");
    const char *skip = getenv("WORKPHONE_TEST_SKIP_PG");
    if (url && *url)
        return url;
    if (skip && strcmp(skip, "1") == 0) {
        fprintf(stderr, "%s: PostgreSQL half SKIPPED: WORKPHONE_TEST_PG_URL is not set and "
                        "WORKPHONE_TEST_SKIP_PG=1\n", name);
        return NULL;
    }
    fprintf(stderr, "%s: FAIL: WORKPHONE_TEST_PG_URL is not set: run under scripts/with-pg, or "
                    "set WORKPHONE_TEST_SKIP_PG=1 to skip the PostgreSQL half\n", name);
    (*failed)++;
    return NULL;
}

/* A conninfo string equal to url but for dbname (and extra options, when non-NULL). */
char *test_pg_conninfo(const char *url, const char *dbname, const char *options)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    if (!opts)
        fail_msg("cannot parse WORKPHONE_TEST_PG_URL: %s", err ? err : "out of memory");
    wp_buf b;
    wp_buf_init(&b, 8192);
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = o->val;
        if (strcmp(o->keyword, "dbname") == 0)
            v = dbname;
        if (!v)
            continue;
        assert_int_equal(wp_buf_addf(&b, "%s%s='", b.len ? " " : "", o->keyword), 0);
        for (const char *p = v; *p; p++) {
            if (*p == '\'' || *p == '\\')
                assert_int_equal(wp_buf_addc(&b, '\\'), 0);
            assert_int_equal(wp_buf_addc(&b, *p), 0);
        }
        if (options && strcmp(o->keyword, "options") == 0) {
            assert_int_equal(wp_buf_addf(&b, " %s", options), 0);
            options = NULL;
        }
        assert_int_equal(wp_buf_addc(&b, '\''), 0);
    }
    if (options)
        assert_int_equal(wp_buf_addf(&b, " options='%s'", options), 0);
    PQconninfoFree(opts);
    return wp_buf_detach(&b, NULL);
}

static void quiet(void *arg, const char *message)
{
}

PGconn *test_pg_connect(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to postgresql: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

void test_pg_run(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

int test_rm_tree(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
