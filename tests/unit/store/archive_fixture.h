/* SPDX-License-Identifier: MIT */
/* Test fixtures shared by the archive and ingest tests: a fresh store location per test on
 * SQLite and (when WORKPHONE_TEST_PG_URL is set) PostgreSQL, and a seeded tenant. */
#ifndef WP_TEST_ARCHIVE_FIXTURE_H
#define WP_TEST_ARCHIVE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>

#include "store/store.h"
#include "util/error.h"

#define OK(expr)                                                                                   \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s -> %d (%s)", #expr, rc_, wp_error_last());                                \
    } while (0)

/* One test's location: a fresh dir (SQLite) or a fresh schema (PostgreSQL). */
struct tfx {
    enum wp_store_backend kind;
    char dir[PATH_MAX];
    char *url; /* pg: conninfo with search_path set to this test's schema; NULL on SQLite */
    wp_store *st;
    /* a seeded tenant with one org unit and two sales employees */
    char tenant[WP_ID_LEN + 1], unit[WP_ID_LEN + 1], emp1[WP_ID_LEN + 1], emp2[WP_ID_LEN + 1];
    void *user; /* for the test file */
};

/* Make a fresh location (nothing opened). */
void tfx_location(struct tfx *f);
/* A fresh location, the store opened on it, and the seed. */
void tfx_seed(struct tfx *f);
void tfx_release(struct tfx *f);

/* The first column of the first row, on a connection of its own (0 when no row). */
int64_t tfx_raw(struct tfx *f, const char *sqlite_sql, const char *pg_sql);
int64_t tfx_raw1(struct tfx *f, const char *sql);
/* Run a statement that returns nothing. */
void tfx_exec(struct tfx *f, const char *sql);

/* Run the suite on SQLite and, when configured, PostgreSQL; returns the failure count.
 * setup/teardown are per test and get a struct tfx * in *state. */
int tfx_run(const char *name, const struct CMUnitTest *suite, size_t n);

#endif
