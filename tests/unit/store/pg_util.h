/* SPDX-License-Identifier: MIT */
/* Plumbing shared by the store test fixtures: PostgreSQL connections and temp-dir removal. */
#ifndef WP_TEST_PG_UTIL_H
#define WP_TEST_PG_UTIL_H

#include <libpq-fe.h>

/* The PostgreSQL half of a test (issue 17): WORKPHONE_TEST_PG_URL, or NULL when it is not set.
 * Then the half is skipped when WORKPHONE_TEST_SKIP_PG=1 asks for it (said on stderr), and
 * otherwise it fails: *failed is incremented and the reason said, so that a run without
 * PostgreSQL never passes as if it had tested it. name names the test in the message. */
const char *test_pg_url(const char *name, int *failed);

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
