/* SPDX-License-Identifier: MIT */
/* Plumbing shared by the store test fixtures: PostgreSQL connections and temp-dir removal. */
#ifndef WP_TEST_PG_UTIL_H
#define WP_TEST_PG_UTIL_H

#include <libpq-fe.h>

/* A conninfo string equal to url but for dbname (and extra options, when non-NULL).
 * Caller frees it with free(). Fails the test on a bad url. */
char *test_pg_conninfo(const char *url, const char *dbname, const char *options);

/* Connect, with notices silenced; fails the test when it cannot. */
PGconn *test_pg_connect(const char *conninfo);

/* Run a statement; fails the test on error. */
void test_pg_run(PGconn *c, const char *sql);

/* Remove a directory tree (nftw, depth first). Returns nftw's result. */
int test_rm_tree(const char *path);

#endif
