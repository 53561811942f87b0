/* SPDX-License-Identifier: MIT */
/* The audit log (migration 0006): appends, lists, the key, and verify finding tampered rows. */
#include "archive_fixture.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/audit.h"
#include "store/insider.h"
#include "store/org.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/id.h"
#include "util/testhooks.h"

#define T0 1795831200000000LL /* 2026-11-28T10:00:00+08:00 */

static const unsigned char key[WP_AUDIT_KEY_LEN] = "0123456789abcdef0123456789abcdef";

static int setup(void **state)
{
    struct tfx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tfx_seed(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct tfx *f = *state;
    tfx_release(f);
    free(f);
    return 0;
}

/* Append row number i of a test's log to tenant t. */
static void append(wp_store *st, const char *t, int i, char id[WP_ID_LEN + 1])
{
    char target[64], details[64];
    snprintf(target, sizeof target, "customer:%024d", i);
    snprintf(details, sizeof details, "{\"n\":%d}", i);
    wp_audit_entry e = {.tenant_id = t,
                        .ts_us = T0 + i * 1000000LL,
                        .actor = i % 2 ? "employee:aaaaaaaaaaaaaaaaaaaaaaaa" : "system",
                        .action = i % 3 ? "lexicon.put" : "auth.login",
                        .target = target,
                        .details = details,
                        .client = "127.0.0.1"};
    OK(wp_store_audit_append(st, key, &e, id));
}

/* Rows 1..n, a hundred to a transaction (as many appends in one would make PostgreSQL walk
 * that many versions of the tenant's row at each one). */
static void append_n(struct tfx *f, int n)
{
    for (int i = 1; i <= n; i++) {
        if (i % 100 == 1)
            OK(wp_store_begin(f->st));
        append(f->st, f->tenant, i, NULL);
        if (i % 100 == 0 || i == n)
            OK(wp_store_commit(f->st));
    }
}

static wp_audit_verdict verify(struct tfx *f, const char *tenant)
{
    wp_audit_verdict v;
    OK(wp_store_audit_verify(f->st, key, tenant, &v));
    return v;
}

/* The id of the row with this seq (from the list). */
static void id_of(struct tfx *f, int64_t seq, char out[WP_ID_LEN + 1])
{
    wp_audit_page p;
    wp_audit_filter flt = {.tenant_id = f->tenant, .limit = WP_PAGE_MAX};
    OK(wp_store_audit_list(f->st, &p, &flt));
    out[0] = '\0';
    for (size_t i = 0; i < p.n; i++)
        if (p.items[i].seq == seq)
            memcpy(out, p.items[i].id, WP_ID_LEN + 1);
    wp_audit_page_release(&p);
    assert_int_equal(strlen(out), WP_ID_LEN);
}

/* verify names row seq (with id bad_id; NULL: that row's id) and says why. */
static void expect_bad(struct tfx *f, int64_t seq, const char *bad_id, const char *why)
{
    char id[WP_ID_LEN + 1] = "";
    wp_audit_verdict v = verify(f, NULL);
    if (bad_id)
        snprintf(id, sizeof id, "%s", bad_id);
    else
        id_of(f, seq, id);
    assert_int_equal(v.ok, 0);
    assert_string_equal(v.tenant_id, f->tenant);
    assert_int_equal(v.bad_seq, seq);
    assert_string_equal(v.bad_id, id);
    if (!strstr(v.why, why))
        fail_msg("why is '%s', wanted '%s' in it", v.why, why);
    /* the same for the tenant alone */
    wp_audit_verdict one = verify(f, f->tenant);
    assert_int_equal(one.ok, 0);
    assert_int_equal(one.bad_seq, seq);
    assert_string_equal(one.why, v.why);
}

/* --- appends, lists ------------------------------------------------------------------------ */

/* More rows than verify reads at a time, so its walk crosses chunks. */
static void test_store_audit__chain_intact_after_many_appends(void **state)
{
    struct tfx *f = *state;
    wp_audit_verdict v = verify(f, NULL);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 0);
    append_n(f, 2345);
    v = verify(f, NULL);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 2345);
    v = verify(f, f->tenant);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 2345);
    assert_int_equal(tfx_raw1(f, "SELECT min(seq) FROM audit_log"), 1);
    assert_int_equal(tfx_raw1(f, "SELECT max(seq) FROM audit_log"), 2345);
    assert_int_equal(tfx_raw1(f, "SELECT count(DISTINCT seq) FROM audit_log"), 2345);
    assert_int_equal(tfx_raw1(f, "SELECT seq FROM audit_heads"), 2345);
    /* the first row chains to 64 zeros, every other one to the row before it */
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log a JOIN audit_log b"
                                 " ON b.seq = a.seq + 1 WHERE b.prev_hash = a.hash"),
                     2344);
    assert_int_equal(tfx_raw1(f,
                              "SELECT count(*) FROM audit_log WHERE seq = 1 AND prev_hash = '"
                              "0000000000000000000000000000000000000000000000000000000000000000'"),
                     1);
    /* another key does not verify a single row */
    unsigned char other[WP_AUDIT_KEY_LEN];
    memcpy(other, key, sizeof other);
    other[0] ^= 1;
    OK(wp_store_audit_verify(f->st, other, NULL, &v));
    assert_int_equal(v.ok, 0);
    assert_int_equal(v.bad_seq, 1);
    assert_non_null(strstr(v.why, "row altered"));
}

static void test_store_audit__list(void **state)
{
    struct tfx *f = *state;
    char id5[WP_ID_LEN + 1];
    wp_audit_page p;
    append_n(f, 4);
    append(f->st, f->tenant, 5, id5);

    wp_audit_filter flt = {.tenant_id = f->tenant, .limit = 2};
    OK(wp_store_audit_list(f->st, &p, &flt));
    assert_int_equal(p.n, 2);
    assert_int_equal(p.items[0].seq, 5); /* newest first */
    assert_string_equal(p.items[0].id, id5);
    assert_int_equal(p.items[0].ts_us, T0 + 5000000LL);
    assert_string_equal(p.items[0].actor, "employee:aaaaaaaaaaaaaaaaaaaaaaaa");
    assert_string_equal(p.items[0].action, "lexicon.put");
    assert_string_equal(p.items[0].target, "customer:000000000000000000000005");
    assert_string_equal(p.items[0].details, "{\"n\":5}");
    assert_string_equal(p.items[0].client, "127.0.0.1");
    assert_int_equal(strlen(p.items[0].hash), 64);
    assert_string_equal(p.items[0].prev_hash, p.items[1].hash);
    assert_int_equal(p.items[1].seq, 4);
    assert_true(p.next_cursor[0]);
    char cursor[WP_ARCHIVE_CURSOR_MAX];
    memcpy(cursor, p.next_cursor, sizeof cursor);
    wp_audit_page_release(&p);
    flt.cursor = cursor;
    flt.limit = 10;
    OK(wp_store_audit_list(f->st, &p, &flt));
    assert_int_equal(p.n, 3);
    assert_int_equal(p.items[0].seq, 3);
    assert_int_equal(p.items[2].seq, 1);
    assert_string_equal(p.next_cursor, "");
    wp_audit_page_release(&p);

    /* filters: actor exact, action a prefix, target exact, time range [from, to) */
    wp_audit_filter a = {.tenant_id = f->tenant, .actor = "system"};
    OK(wp_store_audit_list(f->st, &p, &a));
    assert_int_equal(p.n, 2); /* 2 and 4 */
    assert_int_equal(p.items[0].seq, 4);
    wp_audit_page_release(&p);
    wp_audit_filter b = {.tenant_id = f->tenant, .action = "auth."};
    OK(wp_store_audit_list(f->st, &p, &b));
    assert_int_equal(p.n, 1); /* 3 */
    assert_int_equal(p.items[0].seq, 3);
    wp_audit_page_release(&p);
    wp_audit_filter b2 = {.tenant_id = f->tenant, .action = "auth.login_failed"};
    OK(wp_store_audit_list(f->st, &p, &b2));
    assert_int_equal(p.n, 0);
    wp_audit_page_release(&p);
    wp_audit_filter b3 = {.tenant_id = f->tenant, .action = "%"};
    OK(wp_store_audit_list(f->st, &p, &b3));
    assert_int_equal(p.n, 0); /* no wildcard */
    wp_audit_page_release(&p);
    wp_audit_filter c = {.tenant_id = f->tenant, .target = "customer:000000000000000000000002"};
    OK(wp_store_audit_list(f->st, &p, &c));
    assert_int_equal(p.n, 1);
    assert_int_equal(p.items[0].seq, 2);
    wp_audit_page_release(&p);
    wp_audit_filter d = {
        .tenant_id = f->tenant, .from_us = T0 + 2000000LL, .to_us = T0 + 4000000LL};
    OK(wp_store_audit_list(f->st, &p, &d));
    assert_int_equal(p.n, 2);
    assert_int_equal(p.items[0].seq, 3);
    assert_int_equal(p.items[1].seq, 2);
    wp_audit_page_release(&p);

    wp_audit_filter bad = {.tenant_id = f->tenant, .cursor = "nope"};
    assert_int_equal(wp_store_audit_list(f->st, &p, &bad), WP_EINVAL);
}

static void test_store_audit__entry_checks(void **state)
{
    struct tfx *f = *state;
    char long_target[WP_AUDIT_FIELD_MAX + 2];
    memset(long_target, 'x', sizeof long_target - 1);
    long_target[sizeof long_target - 1] = '\0';
    wp_audit_entry ok = {.tenant_id = f->tenant, .actor = "system", .action = "tenant.create"};
    wp_audit_entry e = ok;
    e.action = "Tenant.Create";
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    e = ok;
    e.action = "";
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    e = ok;
    e.actor = NULL;
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    e = ok;
    e.details = "[1]";
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    e = ok;
    e.target = long_target;
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    e = ok;
    e.target = "line\nbreak";
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    e = ok;
    e.tenant_id = "bbbbbbbbbbbbbbbbbbbbbbbb";
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_ENOTFOUND);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log"), 0);

    /* none of that left a trace: the chain starts at 1; NULL details are {}, "" target NULL */
    e = ok;
    e.target = "";
    char id[WP_ID_LEN + 1];
    OK(wp_store_audit_append(f->st, key, &e, id));
    wp_audit_page p;
    wp_audit_filter flt = {.tenant_id = f->tenant};
    OK(wp_store_audit_list(f->st, &p, &flt));
    assert_int_equal(p.n, 1);
    assert_int_equal(p.items[0].seq, 1);
    assert_string_equal(p.items[0].id, id);
    assert_string_equal(p.items[0].details, "{}");
    assert_null(p.items[0].target);
    assert_null(p.items[0].client);
    assert_true(p.items[0].ts_us > 0); /* 0 is now */
    wp_audit_page_release(&p);
    assert_int_equal(verify(f, NULL).ok, 1);
}

/* What the store refuses beyond the shapes above (audit.h, wp_audit_entry): an action past 64
 * characters, details that are not one JSON object's text or past their limit, fields whose
 * characters fit but whose bytes do not, a tenant id of no shape, a batch of two tenants; and
 * an empty client is none. Nothing refused leaves a row. */
static void test_store_audit__entry_limits(void **state)
{
    struct tfx *f = *state;
    static char act[80], big[WP_AUDIT_DETAILS_MAX + 8], wide[WP_AUDIT_FIELD_MAX * 3 + 1];
    wp_audit_entry ok = {.tenant_id = f->tenant, .actor = "system", .action = "tenant.create"};
    wp_audit_entry e = ok;

    memset(act, 'a', 65);
    act[65] = '\0';
    e.action = act;
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "is not 1-64 of a-z 0-9 . _"));

    big[0] = '{';
    memset(big + 1, ' ', WP_AUDIT_DETAILS_MAX - 1);
    big[WP_AUDIT_DETAILS_MAX] = '}';
    big[WP_AUDIT_DETAILS_MAX + 1] = '\0';
    e = ok;
    e.details = big; /* one byte past the limit */
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "longer than"));
    static const char *const not_objects[] = {"",         "{",      "}",
                                              "{\"a\":1", "\"{}\"", "{\"a\":\"\xff\"}"};
    for (size_t i = 0; i < sizeof not_objects / sizeof *not_objects; i++) {
        e = ok;
        e.details = not_objects[i];
        assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
        assert_non_null(strstr(wp_error_last(), "not a JSON object"));
    }

    /* 100 characters of three bytes each: within 256 characters, past 256 bytes */
    for (int i = 0; i < 100; i++)
        memcpy(wide + 3 * i, "\xe5\xbc\xa0", 3);
    wide[300] = '\0';
    e = ok;
    e.target = wide;
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "longer than 256 bytes"));
    e = ok;
    e.actor = wide;
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    wide[66] = '\0'; /* 22 characters, 66 bytes: a client is at most 64 */
    e = ok;
    e.client = wide;
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "audit client is longer than 64 bytes"));
    e = ok;
    e.client = "10.0.0.1\r\n";
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    e = ok;
    e.tenant_id = "nope";
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_ENOTFOUND);

    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    int64_t before = tfx_raw1(f, "SELECT count(*) FROM audit_log");
    wp_audit_entry two[2] = {ok, ok};
    two[1].tenant_id = other;
    assert_int_equal(wp_store_audit_append_batch(f->st, key, two, 2, NULL), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "of one tenant"));
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log"), before);

    memset(act, 'a', 64);
    act[64] = '\0';
    e = ok;
    e.action = act; /* 64 is the most */
    e.client = "";
    OK(wp_store_audit_append(f->st, key, &e, NULL));
    wp_audit_page p;
    wp_audit_filter flt = {.tenant_id = f->tenant, .limit = 1};
    OK(wp_store_audit_list(f->st, &p, &flt));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].action, act);
    assert_null(p.items[0].client);
    wp_audit_page_release(&p);
    assert_int_equal(verify(f, NULL).ok, 1);
}

/* The list's filters: "" is no filter, as absent; a customer is an id; a field past what the
 * store keeps is refused. */
static void test_store_audit__list_filters(void **state)
{
    struct tfx *f = *state;
    wp_audit_page p;
    char long_field[WP_AUDIT_FIELD_MAX + 2];
    append_n(f, 4);

    wp_audit_filter none = {
        .tenant_id = f->tenant, .actor = "", .action = "", .target = "", .customer_id = ""};
    OK(wp_store_audit_list(f->st, &p, &none));
    assert_int_equal(p.n, 4);
    wp_audit_page_release(&p);
    wp_audit_filter cust = {.tenant_id = f->tenant, .customer_id = "000000000000000000000003"};
    OK(wp_store_audit_list(f->st, &p, &cust));
    assert_int_equal(p.n, 1);
    assert_int_equal(p.items[0].seq, 3);
    wp_audit_page_release(&p);
    cust.customer_id = "NOT-AN-ID";
    assert_int_equal(wp_store_audit_list(f->st, &p, &cust), WP_ENOTFOUND);

    memset(long_field, 'x', sizeof long_field - 1);
    long_field[sizeof long_field - 1] = '\0';
    wp_audit_filter a = {.tenant_id = f->tenant, .actor = long_field};
    assert_int_equal(wp_store_audit_list(f->st, &p, &a), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "'actor' is longer than 256 bytes"));
    wp_audit_filter b = {.tenant_id = f->tenant, .action = long_field};
    assert_int_equal(wp_store_audit_list(f->st, &p, &b), WP_EINVAL);
    wp_audit_filter c = {.tenant_id = f->tenant, .target = long_field};
    assert_int_equal(wp_store_audit_list(f->st, &p, &c), WP_EINVAL);
    long_field[WP_AUDIT_FIELD_MAX] = '\0'; /* 256: kept, so it may be asked for */
    OK(wp_store_audit_list(f->st, &p, &c));
    assert_int_equal(p.n, 0);
    wp_audit_page_release(&p);
    wp_audit_filter t = {.tenant_id = "nope"};
    assert_int_equal(wp_store_audit_list(f->st, &p, &t), WP_ENOTFOUND);
}

/* A row appended in a transaction that rolls back is gone, and the chain goes on from the
 * last committed row; a failed append inside a transaction leaves the transaction usable. */
static void test_store_audit__rollback_leaves_no_row(void **state)
{
    struct tfx *f = *state;
    append_n(f, 3);
    OK(wp_store_begin(f->st));
    append(f->st, f->tenant, 4, NULL);
    append(f->st, f->tenant, 5, NULL);
    OK(wp_store_rollback(f->st));
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log"), 3);
    assert_int_equal(tfx_raw1(f, "SELECT seq FROM audit_heads"), 3);
    assert_int_equal(verify(f, NULL).ok, 1);

    OK(wp_store_begin(f->st));
    wp_audit_entry e = {.tenant_id = f->tenant, .actor = "system", .action = "BAD"};
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    append(f->st, f->tenant, 4, NULL);
    OK(wp_store_commit(f->st));
    wp_audit_verdict v = verify(f, NULL);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 4);
    assert_int_equal(tfx_raw1(f, "SELECT max(seq) FROM audit_log"), 4);
}

/* Each tenant has its own chain; a broken one is named by its tenant. */
static void test_store_audit__tenants_have_own_chains(void **state)
{
    struct tfx *f = *state;
    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    for (int i = 1; i <= 6; i++)
        append(f->st, i % 2 ? f->tenant : other, i, NULL);
    assert_int_equal(tfx_raw1(f, "SELECT max(seq) FROM audit_log"), 3);
    wp_audit_verdict v = verify(f, NULL);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 6);
    assert_int_equal(verify(f, other).rows, 3);
    /* a row moved to another tenant does not verify there */
    char sql[160];
    snprintf(sql, sizeof sql,
             "UPDATE audit_log SET tenant_id = '%s' WHERE tenant_id = '%s' AND seq = 3", other,
             f->tenant);
    tfx_exec(f, "DELETE FROM audit_log WHERE seq = 3 AND actor = 'system'");
    tfx_exec(f, sql);
    v = verify(f, other);
    assert_int_equal(v.ok, 0);
    assert_string_equal(v.tenant_id, other);
    assert_int_equal(v.bad_seq, 3);
    assert_non_null(strstr(v.why, "row altered"));
    assert_int_equal(verify(f, f->tenant).ok, 0); /* its own chain lost its end */
}

/* --- tampering ----------------------------------------------------------------------------- */

static void test_store_audit__altered_row(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "UPDATE audit_log SET details = '{\"n\":33}' WHERE seq = 3");
    expect_bad(f, 3, NULL, "row altered");
}

static void test_store_audit__altered_time(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "UPDATE audit_log SET ts_us = ts_us + 1 WHERE seq = 2");
    expect_bad(f, 2, NULL, "row altered");
}

/* Whoever edits a row cannot make its hash fit without the key: rewriting the hash column
 * (and the next row's prev_hash) still leaves a row that does not hash to it. */
static void test_store_audit__altered_row_and_hash(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "UPDATE audit_log SET actor = 'system', hash = '"
                "1111111111111111111111111111111111111111111111111111111111111111' WHERE seq = 2");
    tfx_exec(f, "UPDATE audit_log SET prev_hash = '"
                "1111111111111111111111111111111111111111111111111111111111111111' WHERE seq = 3");
    expect_bad(f, 2, NULL, "row altered");
}

static void test_store_audit__altered_last_row(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "UPDATE audit_log SET target = NULL WHERE seq = 5");
    expect_bad(f, 5, NULL, "row altered");
}

static void test_store_audit__removed_row(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "DELETE FROM audit_log WHERE seq = 3");
    expect_bad(f, 4, NULL, "row 3 removed");
    tfx_exec(f, "DELETE FROM audit_log WHERE seq = 2");
    expect_bad(f, 4, NULL, "rows 2-3 removed");
}

static void test_store_audit__removed_first_row(void **state)
{
    struct tfx *f = *state;
    append_n(f, 3);
    tfx_exec(f, "DELETE FROM audit_log WHERE seq = 1");
    expect_bad(f, 2, NULL, "row 1 removed");
}

/* The head still says 5 rows: the end of the log is missing. */
static void test_store_audit__removed_last_row(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "DELETE FROM audit_log WHERE seq >= 4");
    expect_bad(f, 4, "", "rows 4-5 removed from the end");
    tfx_exec(f, "DELETE FROM audit_log");
    expect_bad(f, 1, "", "rows 1-5 removed from the end");
}

/* A row added after the last one, chained to it but hashed without the key. */
static void test_store_audit__inserted_last_row(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "INSERT INTO audit_log (tenant_id, seq, id, ts_us, actor, action, target, details,"
                " client, prev_hash, hash) SELECT tenant_id, 6, 'ffffffffffffffffffffffff', ts_us,"
                " actor, action, target, details, client, hash,"
                " '2222222222222222222222222222222222222222222222222222222222222222'"
                " FROM audit_log WHERE seq = 5");
    expect_bad(f, 6, NULL, "row inserted");
}

/* A row slipped in between 2 and 3 (the rows after it renumbered): the chain goes around it. */
static void test_store_audit__inserted_row(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3");
    tfx_exec(f, "UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000");
    tfx_exec(f, "INSERT INTO audit_log (tenant_id, seq, id, ts_us, actor, action, target, details,"
                " client, prev_hash, hash) SELECT tenant_id, 3, 'ffffffffffffffffffffffff', ts_us,"
                " actor, action, target, details, client, hash,"
                " '3333333333333333333333333333333333333333333333333333333333333333'"
                " FROM audit_log WHERE seq = 2");
    expect_bad(f, 3, NULL, "row inserted");
}

/* A genuine row copied in again (only possible with the unique index gone) repeats a seq. */
static void test_store_audit__duplicated_row(void **state)
{
    struct tfx *f = *state;
    append_n(f, 4);
    if (f->kind == WP_STORE_PG) {
        tfx_exec(f, "ALTER TABLE audit_log DROP CONSTRAINT audit_log_tenant_id_seq_key");
    } else {
        /* SQLite cannot drop a table constraint: rebuild the table without it */
        tfx_exec(f, "CREATE TABLE audit_copy AS SELECT * FROM audit_log");
        tfx_exec(f, "DROP TABLE audit_log");
        tfx_exec(f, "ALTER TABLE audit_copy RENAME TO audit_log");
    }
    tfx_exec(f, "INSERT INTO audit_log SELECT tenant_id, seq, 'ffffffffffffffffffffffff', ts_us,"
                " actor, action, target, details, client, prev_hash, hash, format FROM audit_log"
                " WHERE seq = 2");
    expect_bad(f, 2, "ffffffffffffffffffffffff", "row inserted: seq 2 comes twice");
}

static void test_store_audit__head_tampering(void **state)
{
    struct tfx *f = *state;
    append_n(f, 3);
    tfx_exec(f, "UPDATE audit_heads SET hash = 'x'");
    expect_bad(f, 3, NULL, "head record does not match row 3");
    tfx_exec(f, "UPDATE audit_heads SET seq = 2");
    expect_bad(f, 3, "", "head record was moved back to row 2");
    tfx_exec(f, "DELETE FROM audit_heads");
    expect_bad(f, 3, NULL, "head record is missing");
}

/* --- the end of the chain: the head's MAC, the tenant's length record (migration 0016) ----- */

#define SET_HEAD_TO_3                                                                              \
    "UPDATE audit_heads SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3)"

/* Rows appended now carry encoding 2, a MAC'ed head and the tenant's length record. */
static void test_store_audit__records_written(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE format = 2"), 5);
    assert_int_equal(tfx_raw1(f, "SELECT length(mac) FROM audit_heads"), 64);
    assert_int_equal(tfx_raw1(f, "SELECT audit_seq FROM tenants"), 5);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM tenants t JOIN audit_log a ON"
                                 " a.tenant_id = t.id AND a.seq = 5 AND a.hash = t.audit_hash"),
                     1);
    assert_int_equal(tfx_raw1(f, "SELECT length(audit_mac) FROM tenants"), 64);
    wp_audit_verdict v = verify(f, NULL);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.notes, 0);
}

/* Rows cut off the end and the head set back to the last row kept (both values are in the
 * database): the head's MAC no longer fits, and the tenant's record still says 5. */
static void test_store_audit__truncated_head_set_back(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "DELETE FROM audit_log WHERE seq >= 4");
    tfx_exec(f, SET_HEAD_TO_3);
    expect_bad(f, 4, "", "rows 4-5 removed from the end");
    /* the head deleted and made again by hand: the same */
    tfx_exec(f, "DELETE FROM audit_heads");
    tfx_exec(f, "INSERT INTO audit_heads (tenant_id, seq, hash) SELECT tenant_id, seq, hash"
                " FROM audit_log WHERE seq = 3");
    expect_bad(f, 4, "", "rows 4-5 removed from the end");
    /* a head with the right values and a MAC that is not one */
    tfx_exec(f, "UPDATE audit_heads SET mac = '"
                "4444444444444444444444444444444444444444444444444444444444444444'");
    expect_bad(f, 4, "", "length record says 5");
}

/* Every row gone, and the head: the tenant's record says there were 5. */
static void test_store_audit__whole_log_deleted(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "DELETE FROM audit_log");
    tfx_exec(f, "DELETE FROM audit_heads");
    expect_bad(f, 1, "", "the whole log was deleted");
}

/* The record rewritten to fit a shorter chain, without the key: its MAC does not fit. */
static void test_store_audit__length_record_forged(void **state)
{
    struct tfx *f = *state;
    append_n(f, 5);
    tfx_exec(f, "DELETE FROM audit_log WHERE seq >= 4");
    tfx_exec(f, SET_HEAD_TO_3);
    tfx_exec(f, "UPDATE tenants SET audit_seq = 3,"
                " audit_hash = (SELECT hash FROM audit_log WHERE seq = 3)");
    expect_bad(f, 3, NULL, "length record is forged");
}

/* A record set back to an earlier, genuine state (saved before rows were added): it names a
 * row that is not the last. */
static void test_store_audit__length_record_replayed(void **state)
{
    struct tfx *f = *state;
    append_n(f, 3);
    tfx_exec(f, "CREATE TABLE saved AS SELECT audit_seq, audit_hash, audit_mac FROM tenants");
    append_n(f, 2);
    tfx_exec(f, "UPDATE tenants SET audit_seq = (SELECT audit_seq FROM saved),"
                " audit_hash = (SELECT audit_hash FROM saved),"
                " audit_mac = (SELECT audit_mac FROM saved)");
    expect_bad(f, 4, "", "length record was set back to row 3");
}

/* A chain written since migration 0016 without its record, or without the head's MAC. */
static void test_store_audit__records_missing(void **state)
{
    struct tfx *f = *state;
    append_n(f, 3);
    tfx_exec(f, "UPDATE tenants SET audit_seq = NULL, audit_hash = NULL, audit_mac = NULL");
    expect_bad(f, 3, NULL, "length record is missing");
    tfx_exec(f, "UPDATE audit_heads SET mac = NULL");
    expect_bad(f, 3, NULL, "length record is missing");
}

/* A length record without its MAC is as good as a forged one. */
static void test_store_audit__length_record_mac_missing(void **state)
{
    struct tfx *f = *state;
    append_n(f, 3);
    tfx_exec(f, "UPDATE tenants SET audit_mac = NULL");
    expect_bad(f, 3, NULL,
               "the tenant's length record is forged: its MAC does not match (it says 3 rows)");
}

static void test_store_audit__head_mac_missing(void **state)
{
    struct tfx *f = *state;
    append_n(f, 3);
    tfx_exec(f, "UPDATE audit_heads SET mac = NULL");
    expect_bad(f, 3, NULL, "head record has no MAC");
    tfx_exec(f, "UPDATE audit_heads SET mac = '"
                "5555555555555555555555555555555555555555555555555555555555555555'");
    expect_bad(f, 3, NULL, "head record was rewritten");
}

/* --- a chain written before migration 0016 ------------------------------------------------- */

static void put_u64_test(crypto_generichash_state *h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (56 - 8 * i));
    crypto_generichash_update(h, b, sizeof b);
}

static void put_text_test(crypto_generichash_state *h, const char *s)
{
    unsigned char tag = s != NULL;
    crypto_generichash_update(h, &tag, 1);
    if (!s)
        return;
    put_u64_test(h, strlen(s));
    crypto_generichash_update(h, (const unsigned char *)s, strlen(s));
}

/* Rows 1..n as the audit log of before migration 0016 wrote them (encoding 1, a head without
 * a MAC, no record in the tenant), the encoding spelled out again here: old rows must verify
 * as long as there are old stores. */
static void legacy_chain_of(struct tfx *f, const char *tenant, int n)
{
    char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000";
    char sql[1024], id[WP_ID_LEN + 1], hash[65];
    for (int i = 1; i <= n; i++) {
        crypto_generichash_state h;
        unsigned char bin[32];
        wp_id_new(id);
        crypto_generichash_init(&h, key, WP_AUDIT_KEY_LEN, sizeof bin);
        put_text_test(&h, "workphone.audit.v1");
        put_text_test(&h, tenant);
        put_u64_test(&h, (uint64_t)i);
        put_text_test(&h, id);
        put_u64_test(&h, (uint64_t)(T0 + i));
        put_text_test(&h, "system");
        put_text_test(&h, "test.old");
        put_text_test(&h, NULL);
        put_text_test(&h, "{}");
        put_text_test(&h, NULL);
        put_text_test(&h, prev);
        crypto_generichash_final(&h, bin, sizeof bin);
        sodium_bin2hex(hash, sizeof hash, bin, sizeof bin);
        snprintf(sql, sizeof sql,
                 "INSERT INTO audit_log (tenant_id, seq, id, ts_us, actor, action, target,"
                 " details, client, prev_hash, hash) VALUES ('%s', %d, '%s', %lld, 'system',"
                 " 'test.old', NULL, '{}', NULL, '%s', '%s')",
                 tenant, i, id, (long long)(T0 + i), prev, hash);
        tfx_exec(f, sql);
        memcpy(prev, hash, sizeof prev);
    }
    snprintf(sql, sizeof sql,
             "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ('%s', %d, '%s')", tenant, n,
             prev);
    tfx_exec(f, sql);
}

static void legacy_chain(struct tfx *f, int n)
{
    legacy_chain_of(f, f->tenant, n);
}

/* Before its first append since the upgrade, an old chain has no record: verify passes and
 * says so. The first append writes the record, and from then on it is required. */
static void test_store_audit__legacy_chain(void **state)
{
    struct tfx *f = *state;
    legacy_chain(f, 4);
    wp_audit_verdict v = verify(f, NULL);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 4);
    assert_int_equal(v.notes, 1);
    if (!strstr(v.note, "no length record") || !strstr(v.note, f->tenant))
        fail_msg("note is '%s'", v.note);
    /* nothing to sign yet: its head has no MAC */
    wp_audit_checkpoint cp;
    static const unsigned char seed0[WP_AUDIT_SIGN_SEED_LEN] = "fedcba9876543210fedcba9876543210";
    assert_int_equal(wp_store_audit_checkpoint(f->st, &cp, key, seed0, f->tenant, T0),
                     WP_ENOTFOUND);
    append_n(f, 2);
    v = verify(f, NULL);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 6);
    assert_int_equal(v.notes, 0);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE format = 1"), 4);
    assert_int_equal(tfx_raw1(f, "SELECT audit_seq FROM tenants"), 6);
    /* now the chain is sealed: made to look old again, it is caught */
    tfx_exec(f, "UPDATE tenants SET audit_seq = NULL, audit_hash = NULL, audit_mac = NULL");
    tfx_exec(f, "UPDATE audit_heads SET mac = NULL");
    expect_bad(f, 6, NULL, "length record is missing");
    /* and an old row cannot be passed off as a new one, nor a new one as old */
    tfx_exec(f, "UPDATE audit_log SET format = 2 WHERE seq = 2");
    expect_bad(f, 2, NULL, "row altered");
    tfx_exec(f, "UPDATE audit_log SET format = 1 WHERE seq = 2");
    tfx_exec(f, "UPDATE audit_log SET format = 1 WHERE seq = 5");
    expect_bad(f, 5, NULL, "row altered");
}

/* Two old chains: each is counted among the notes, the note names one of them, and both
 * verify. */
static void test_store_audit__legacy_chains_two_tenants(void **state)
{
    struct tfx *f = *state;
    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    tfx_exec(f, "DELETE FROM audit_log");
    tfx_exec(f, "DELETE FROM audit_heads");
    tfx_exec(f, "UPDATE tenants SET audit_seq = NULL, audit_hash = NULL, audit_mac = NULL");
    legacy_chain_of(f, f->tenant, 3);
    legacy_chain_of(f, other, 2);
    wp_audit_verdict v = verify(f, NULL);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 5);
    assert_int_equal(v.notes, 2);
    if (!strstr(v.note, "no length record") ||
        (!strstr(v.note, f->tenant) && !strstr(v.note, other)))
        fail_msg("note is '%s'", v.note);
}

/* A tenant made before 0016 without any row (no audit log yet) is not an error. */
static void test_store_audit__tenant_without_log(void **state)
{
    struct tfx *f = *state;
    wp_audit_verdict v = verify(f, f->tenant);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 0);
}

/* --- signed checkpoints -------------------------------------------------------------------- */

static const unsigned char seed[WP_AUDIT_SIGN_SEED_LEN] = "fedcba9876543210fedcba9876543210";

static void checkpoint_line(struct tfx *f, char *line, size_t cap)
{
    wp_audit_checkpoint cp;
    OK(wp_store_audit_checkpoint(f->st, &cp, key, seed, f->tenant, T0));
    OK(wp_audit_checkpoint_format(line, cap, &cp));
}

static wp_audit_verdict verify_line(struct tfx *f, const char *line)
{
    wp_audit_checkpoint cp;
    unsigned char pub[WP_AUDIT_SIGN_PUB_LEN];
    wp_audit_verdict v;
    wp_audit_sign_public(pub, seed);
    OK(wp_audit_checkpoint_parse(&cp, line));
    OK(wp_store_audit_verify_checkpoint(f->st, key, pub, &cp, &v));
    return v;
}

static void test_store_audit__checkpoint(void **state)
{
    struct tfx *f = *state;
    char line[1024], bad[1200];
    wp_audit_checkpoint cp;
    append_n(f, 5);
    checkpoint_line(f, line, sizeof line);
    OK(wp_audit_checkpoint_parse(&cp, line));
    assert_string_equal(cp.tenant_id, f->tenant);
    assert_int_equal(cp.seq, 5);
    assert_int_equal(cp.ts_us, T0);
    if (strncmp(line, "event=audit_checkpoint tenant=", 30) != 0)
        fail_msg("line is '%s'", line);
    wp_audit_verdict v = verify_line(f, line);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 5);
    /* the log goes on: the checkpoint is still a prefix of it; a log line's own fields around
     * it do not matter */
    append_n(f, 3);
    snprintf(bad, sizeof bad, "ts=2026-11-28T02:00:00Z level=info %s", line);
    v = verify_line(f, bad);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 8);

    /* a line edited by hand does not verify */
    snprintf(bad, sizeof bad, "%s", line);
    char *p = strstr(bad, " seq=5 ");
    assert_non_null(p);
    p[5] = '4';
    v = verify_line(f, bad);
    assert_int_equal(v.ok, 0);
    if (!strstr(v.why, "signature"))
        fail_msg("why is '%s'", v.why);

    /* whoever holds the audit key rewrites the whole log, shorter: it verifies on its own,
     * not against the checkpoint */
    tfx_exec(f, "DELETE FROM audit_log");
    tfx_exec(f, "DELETE FROM audit_heads");
    tfx_exec(f, "UPDATE tenants SET audit_seq = NULL, audit_hash = NULL, audit_mac = NULL");
    append_n(f, 3);
    assert_int_equal(verify(f, NULL).ok, 1);
    v = verify_line(f, line);
    assert_int_equal(v.ok, 0);
    if (!strstr(v.why, "checkpoint"))
        fail_msg("why is '%s'", v.why);
    /* ... or as long, or longer: row 5 is not the row that was signed */
    append_n(f, 4);
    assert_int_equal(verify(f, NULL).ok, 1);
    v = verify_line(f, line);
    assert_int_equal(v.ok, 0);
    assert_int_equal(v.bad_seq, 5);
    if (!strstr(v.why, "checkpoint"))
        fail_msg("why is '%s'", v.why);
}

static void test_store_audit__checkpoint_refuses_a_bad_head(void **state)
{
    struct tfx *f = *state;
    wp_audit_checkpoint cp;
    assert_int_equal(wp_store_audit_checkpoint(f->st, &cp, key, seed, f->tenant, T0),
                     WP_ENOTFOUND); /* no log yet */
    append_n(f, 2);
    tfx_exec(f, "UPDATE audit_heads SET hash = (SELECT hash FROM audit_log WHERE seq = 1)");
    assert_int_equal(wp_store_audit_checkpoint(f->st, &cp, key, seed, f->tenant, T0), WP_EIO);
}

static void test_store_audit__checkpoint_parse(void **state)
{
    (void)state;
    wp_audit_checkpoint cp;
    assert_int_equal(wp_audit_checkpoint_parse(&cp, "event=audit_checkpoint tenant=x"), WP_EINVAL);
    assert_int_equal(wp_audit_checkpoint_parse(&cp, ""), WP_EINVAL);
    assert_int_equal(wp_audit_checkpoint_parse(&cp, "seq=1 seq=2"), WP_EINVAL);
}

/* The line with one field's value replaced (the field must be in it). */
static void with_field(char *out, size_t cap, const char *line, const char *name, const char *value)
{
    char key_eq[32];
    snprintf(key_eq, sizeof key_eq, " %s=", name);
    const char *p = strstr(line, key_eq);
    assert_non_null(p);
    p += strlen(key_eq);
    size_t rest = strcspn(p, " ");
    snprintf(out, cap, "%.*s%s%s", (int)(p - line), line, value, p + rest);
}

/* Each field of a checkpoint line is checked for its shape, and the message names it; words
 * of a log line without '=' around it do not matter. */
static void test_store_audit__checkpoint_parse_fields(void **state)
{
    struct tfx *f = *state;
    static char line[1024], bad[4096];
    wp_audit_checkpoint cp;
    append_n(f, 2);
    checkpoint_line(f, line, sizeof line);
    snprintf(bad, sizeof bad, "Dec  7 13:00:01 host workphone[42]: %s", line);
    OK(wp_audit_checkpoint_parse(&cp, bad));
    assert_int_equal(cp.seq, 2);

    static const struct {
        const char *name, *value, *why;
    } cases[] = {
        {"tenant", "nope", "'tenant' is not an id"},
        {"seq", "0", "'seq' is not a row number"},
        {"seq", "-1", "'seq' is not a row number"},
        {"seq", "", "'seq' is not a row number"},
        {"seq", "1234567890123456789", "'seq' is not a row number"},
        {"hash", "abc", "'hash' is not 64 hex digits"},
        {"hash", "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
         "'hash' is not 64 hex digits"},
        {"time_us", "soon", "'time_us' is not a time"},
        {"key", "0123456789abcdeg", "'key' is not 16 hex digits"},
        {"sig", "00", "'sig' is not 128 hex digits"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        with_field(bad, sizeof bad, line, cases[i].name, cases[i].value);
        assert_int_equal(wp_audit_checkpoint_parse(&cp, bad), WP_EINVAL);
        if (!strstr(wp_error_last(), cases[i].why))
            fail_msg("%s=%s: the error is '%s'", cases[i].name, cases[i].value, wp_error_last());
    }
    /* a value as long as a line may be is too long; a line past four of those is refused */
    char longv[WP_AUDIT_CHECKPOINT_LINE_MAX + 1];
    memset(longv, 'a', WP_AUDIT_CHECKPOINT_LINE_MAX);
    longv[WP_AUDIT_CHECKPOINT_LINE_MAX] = '\0';
    with_field(bad, sizeof bad, line, "sig", longv);
    assert_int_equal(wp_audit_checkpoint_parse(&cp, bad), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "'sig' is too long"));
    memset(bad, ' ', 4 * WP_AUDIT_CHECKPOINT_LINE_MAX + 1);
    snprintf(bad + 4 * WP_AUDIT_CHECKPOINT_LINE_MAX + 1 - strlen(line), strlen(line) + 1, "%s",
             line);
    assert_int_equal(wp_audit_checkpoint_parse(&cp, bad), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "at most 1600 bytes"));
}

/* A checkpoint is checked against a chain that verifies: when the chain itself does not, its
 * own verdict is the answer, naming the row. */
static void test_store_audit__checkpoint_on_a_broken_chain(void **state)
{
    struct tfx *f = *state;
    char line[1024];
    append_n(f, 5);
    checkpoint_line(f, line, sizeof line);
    tfx_exec(f, "UPDATE audit_log SET details = '{\"n\":33}' WHERE seq = 3");
    wp_audit_verdict v = verify_line(f, line);
    assert_int_equal(v.ok, 0);
    assert_int_equal(v.bad_seq, 3);
    if (!strstr(v.why, "row altered"))
        fail_msg("why is '%s'", v.why);
}

/* A chain spliced from two histories: row 2 appended again after the ends were set back to
 * row 1, and the old row 3 (genuine, keyed) put after it. Each row verifies alone; the chain
 * does not go from the new row 2 to the old row 3. */
static void test_store_audit__spliced_chain(void **state)
{
    struct tfx *f = *state;
    append_n(f, 1);
    tfx_exec(f, "CREATE TABLE saved_heads AS SELECT * FROM audit_heads");
    tfx_exec(f,
             "CREATE TABLE saved_tenant AS SELECT audit_seq, audit_hash, audit_mac FROM tenants");
    append(f->st, f->tenant, 2, NULL);
    append(f->st, f->tenant, 3, NULL);
    tfx_exec(f, "CREATE TABLE saved_log AS SELECT * FROM audit_log WHERE seq = 3");
    tfx_exec(f, "DELETE FROM audit_log WHERE seq >= 2");
    tfx_exec(f, "DELETE FROM audit_heads");
    tfx_exec(f, "INSERT INTO audit_heads SELECT * FROM saved_heads");
    tfx_exec(f, "UPDATE tenants SET audit_seq = (SELECT audit_seq FROM saved_tenant),"
                " audit_hash = (SELECT audit_hash FROM saved_tenant),"
                " audit_mac = (SELECT audit_mac FROM saved_tenant)");
    assert_int_equal(verify(f, NULL).ok, 1);
    append(f->st, f->tenant, 22, NULL);
    tfx_exec(f, "INSERT INTO audit_log SELECT * FROM saved_log");
    expect_bad(f, 3, NULL, "row does not chain to row 2");
}

/* More of the ends, of checkpoints and of what is refused. */
static void test_store_audit__more_edges(void **state)
{
    struct tfx *f = *state;
    wp_audit_page p;
    wp_audit_checkpoint cp;
    char line[1024];

    wp_audit_entry e = {.tenant_id = f->tenant, .actor = "system"};
    assert_int_equal(wp_store_audit_append(f->st, key, &e, NULL), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "audit action is empty"));
    wp_audit_filter big = {.tenant_id = f->tenant, .limit = WP_PAGE_MAX + 1};
    assert_int_equal(wp_store_audit_list(f->st, &p, &big), WP_EINVAL);

    /* an imported tenant without rows: nothing to re-seal */
    int64_t rows = -1;
    OK(wp_store_begin(f->st));
    OK(wp_store_audit_reseal(f->st, key, f->tenant, &rows));
    OK(wp_store_commit(f->st));
    assert_int_equal(rows, 0);

    append_n(f, 4);
    checkpoint_line(f, line, sizeof line);
    OK(wp_audit_checkpoint_parse(&cp, line));
    assert_int_equal(wp_audit_checkpoint_format(line, 10, &cp), WP_EINVAL);
    assert_int_equal(wp_store_audit_checkpoint(f->st, &cp, key, seed, "nope", T0), WP_ENOTFOUND);
    /* a signature that is not hex, handed over as it is: it does not verify */
    wp_audit_checkpoint odd = cp;
    odd.sig[0] = 'z';
    unsigned char pub[WP_AUDIT_SIGN_PUB_LEN];
    wp_audit_verdict v;
    wp_audit_sign_public(pub, seed);
    OK(wp_store_audit_verify_checkpoint(f->st, key, pub, &odd, &v));
    assert_int_equal(v.ok, 0);
    assert_non_null(strstr(v.why, "signature does not verify"));

    /* the length record's hash gone: as forged as a MAC gone */
    tfx_exec(f, "CREATE TABLE saved_tenant AS SELECT audit_hash FROM tenants");
    tfx_exec(f, "UPDATE tenants SET audit_hash = NULL");
    expect_bad(f, 4, NULL, "the tenant's length record is forged");
    tfx_exec(f, "UPDATE tenants SET audit_hash = (SELECT audit_hash FROM saved_tenant)");
    assert_int_equal(verify(f, NULL).ok, 1);

    /* the last row deleted, the head left: no checkpoint of a row that is not there */
    tfx_exec(f, "DELETE FROM audit_log WHERE seq = 4");
    assert_int_equal(wp_store_audit_checkpoint(f->st, &cp, key, seed, f->tenant, T0), WP_EIO);
    assert_non_null(strstr(wp_error_last(), "names row 4, which is not there as it says"));
}

/* An old chain (no length record) with its last row deleted: its head still says where it
 * ended. */
static void test_store_audit__legacy_chain_cut(void **state)
{
    struct tfx *f = *state;
    legacy_chain(f, 4);
    tfx_exec(f, "DELETE FROM audit_log WHERE seq = 4");
    expect_bad(f, 4, "", "row 4 removed from the end");
}

/* Two tenants with broken chains: verify of the whole store names the first in id order. */
static void test_store_audit__first_broken_tenant(void **state)
{
    struct tfx *f = *state;
    char other[WP_ID_LEN + 1], sql[200];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    for (int i = 1; i <= 6; i++)
        append(f->st, i % 2 ? f->tenant : other, i, NULL);
    tfx_exec(f, "UPDATE audit_log SET details = '{\"n\":0}' WHERE seq = 2");
    const char *first = strcmp(f->tenant, other) < 0 ? f->tenant : other;
    wp_audit_verdict v = verify(f, NULL);
    assert_int_equal(v.ok, 0);
    assert_string_equal(v.tenant_id, first);
    assert_int_equal(v.bad_seq, 2);
    snprintf(sql, sizeof sql, "DELETE FROM audit_log WHERE tenant_id = '%s' AND seq = 2", first);
    tfx_exec(f, sql);
    v = verify(f, NULL);
    assert_int_equal(v.ok, 0);
    assert_string_equal(v.tenant_id, first); /* still the first: now a row removed */
    assert_non_null(strstr(v.why, "row 2 removed"));
}

/* --- a store that fails -------------------------------------------------------------------- */

/* What a failed operation must leave: the audit tables, the tenant's length record, alerts
 * and insider settings as they were. */
struct snap {
    int64_t rows, head, rec, alerts, settings;
};

static struct snap snap_of(struct tfx *f)
{
    struct snap x = {
        tfx_raw1(f, "SELECT count(*) FROM audit_log"),
        tfx_raw1(f, "SELECT coalesce(sum(seq), 0) FROM audit_heads"),
        tfx_raw1(f, "SELECT coalesce(sum(audit_seq), 0) FROM tenants"),
        tfx_raw1(f, "SELECT count(*) FROM alerts"),
        tfx_raw1(f, "SELECT count(*) FROM insider_settings"),
    };
    return x;
}

typedef int (*store_op)(struct tfx *f, void *arg);

/* Run op with its Nth store operation failed (the hook of X-Workphone-Test-Fail: store=N,
 * docs/internals/util.md), N = 1, 2, ... until it runs whole: each failed run must answer
 * WP_EIO (never a verdict, a page or a success) and leave the store as it was. Then op runs
 * once more without a failure and its answer is returned. *failed gets how many Ns failed. */
static int sweep(struct tfx *f, const char *name, store_op op, void *arg, unsigned *failed)
{
    for (unsigned n = 1; n < 10000; n++) {
        struct snap before = snap_of(f);
        wp_test_hooks_store_arm(n);
        int err = op(f, arg);
        int fired = wp_test_hooks_store_fired();
        wp_test_hooks_store_arm(0);
        if (!fired) {
            *failed = n - 1;
            return err;
        }
        if (err != WP_EIO)
            fail_msg("%s, store operation %u failed: %d (%s), wanted WP_EIO", name, n, err,
                     wp_error_last());
        struct snap after = snap_of(f);
        if (memcmp(&before, &after, sizeof before) != 0)
            fail_msg("%s, store operation %u failed: the store changed (rows %lld -> %lld, "
                     "alerts %lld -> %lld)",
                     name, n, (long long)before.rows, (long long)after.rows,
                     (long long)before.alerts, (long long)after.alerts);
        wp_audit_verdict v;
        OK(wp_store_audit_verify(f->st, key, NULL, &v));
        if (!v.ok && !strstr(name, "broken"))
            fail_msg("%s, store operation %u failed: the chain no longer verifies: %s", name, n,
                     v.why);
    }
    fail_msg("%s: never ran whole", name);
    return -1;
}

static int op_append(struct tfx *f, void *arg)
{
    (void)arg;
    wp_audit_entry e = {
        .tenant_id = f->tenant, .actor = "system", .action = "test.append", .details = "{\"a\":1}"};
    return wp_store_audit_append(f->st, key, &e, NULL);
}

static int op_append_batch(struct tfx *f, void *arg)
{
    (void)arg;
    wp_audit_entry e[3] = {
        {.tenant_id = f->tenant, .actor = "system", .action = "test.batch"},
        {.tenant_id = f->tenant, .actor = "system", .action = "test.batch", .target = "x:1"},
        {.tenant_id = f->tenant, .actor = "system", .action = "test.batch", .client = "::1"},
    };
    return wp_store_audit_append_batch(f->st, key, e, 3, NULL);
}

static int op_list(struct tfx *f, void *arg)
{
    wp_audit_page p;
    wp_audit_filter *flt = arg;
    int err = wp_store_audit_list(f->st, &p, flt);
    if (err == 0) {
        flt->limit = (unsigned)p.n; /* what a whole run gave */
        wp_audit_page_release(&p);
    }
    return err;
}

static int op_verify(struct tfx *f, void *arg)
{
    wp_audit_verdict *v = arg;
    const char *t = v->tenant_id[0] ? f->tenant : NULL;
    return wp_store_audit_verify(f->st, key, t, v);
}

static int op_any(struct tfx *f, void *arg)
{
    return wp_store_audit_any(f->st, arg);
}

static int op_chains(struct tfx *f, void *arg)
{
    char(*ids)[WP_ID_LEN + 1] = NULL;
    size_t n = 0;
    int err = wp_store_audit_chains(f->st, &ids, &n);
    *(size_t *)arg = n;
    free(ids);
    return err;
}

static int op_head(struct tfx *f, void *arg)
{
    return wp_store_audit_head(f->st, f->tenant, arg);
}

static const unsigned char sweep_seed[WP_AUDIT_SIGN_SEED_LEN] = "fedcba9876543210fedcba9876543210";

static int op_checkpoint(struct tfx *f, void *arg)
{
    return wp_store_audit_checkpoint(f->st, arg, key, sweep_seed, f->tenant, T0);
}

struct cp_arg {
    wp_audit_checkpoint cp;
    wp_audit_verdict v;
};

static int op_verify_checkpoint(struct tfx *f, void *arg)
{
    struct cp_arg *a = arg;
    unsigned char pub[WP_AUDIT_SIGN_PUB_LEN];
    wp_audit_sign_public(pub, sweep_seed);
    return wp_store_audit_verify_checkpoint(f->st, key, pub, &a->cp, &a->v);
}

static int op_reseal(struct tfx *f, void *arg)
{
    int err;
    if ((err = wp_store_begin(f->st)) < 0)
        return err;
    if ((err = wp_store_audit_reseal(f->st, key, f->tenant, arg)) < 0) {
        wp_store_rollback(f->st);
        return err;
    }
    return wp_store_commit(f->st);
}

/* An unmasking past the limit, as a handler does it: its row, then the check that raises the
 * alert, in one transaction. */
static int op_unmask(struct tfx *f, void *arg)
{
    wp_insider_result *r = arg;
    const char *actor = "employee:aaaaaaaaaaaaaaaaaaaaaaaa";
    wp_audit_entry e = {.tenant_id = f->tenant,
                        .actor = actor,
                        .action = "customer.unmask",
                        .target = "customer:cccccccccccccccccccccccc"};
    int err;
    if ((err = wp_store_begin(f->st)) < 0)
        return err;
    if ((err = wp_store_audit_append(f->st, key, &e, NULL)) < 0 ||
        (err = wp_store_insider_check(f->st, r, key, f->tenant, actor, f->emp1,
                                      "customer.unmask")) < 0) {
        wp_store_rollback(f->st);
        return err;
    }
    return wp_store_commit(f->st);
}

static int op_settings_get(struct tfx *f, void *arg)
{
    return wp_store_insider_settings_get(f->st, arg, f->tenant);
}

static int op_settings_put(struct tfx *f, void *arg)
{
    return wp_store_insider_settings_put(f->st, f->tenant, arg);
}

static int op_alert_kind(struct tfx *f, void *arg)
{
    char kind[WP_ARCHIVE_WORD_MAX + 1];
    return wp_store_alert_kind(f->st, kind, f->tenant, arg);
}

/* Every operation of the audit store and the insider check with each of its store operations
 * failed in turn: the failure is answered as WP_EIO, nothing is half written (no row without
 * its head, no alert without its row), a verify never passes or blames a row for want of a
 * read, and the run without the failure gives the documented answer. */
static void test_store_audit__store_failures(void **state)
{
    struct tfx *f = *state;
    unsigned n;
    append_n(f, 3);

    OK(sweep(f, "append", op_append, NULL, &n));
    assert_true(n >= 3);
    OK(sweep(f, "append batch", op_append_batch, NULL, &n));
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log"), 7);

    wp_audit_filter flt = {.tenant_id = f->tenant, .action = "test.", .limit = 10};
    OK(sweep(f, "list", op_list, &flt, &n));
    assert_int_equal(flt.limit, 4);
    assert_true(n >= 1);

    wp_audit_verdict v;
    memset(&v, 0, sizeof v);
    OK(sweep(f, "verify", op_verify, &v, &n));
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 7);
    assert_true(n >= 3);
    memset(&v, 0, sizeof v);
    snprintf(v.tenant_id, sizeof v.tenant_id, "%s", f->tenant);
    OK(sweep(f, "verify one tenant", op_verify, &v, &n));
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, 7);

    int any = 0;
    OK(sweep(f, "any", op_any, &any, &n));
    assert_int_equal(any, 1);
    size_t chains = 0;
    OK(sweep(f, "chains", op_chains, &chains, &n));
    assert_int_equal(chains, 1);
    char head[WP_AUDIT_HASH_HEX + 1];
    OK(sweep(f, "head", op_head, head, &n));
    assert_int_equal(strlen(head), WP_AUDIT_HASH_HEX);

    struct cp_arg cp;
    OK(sweep(f, "checkpoint", op_checkpoint, &cp.cp, &n));
    assert_int_equal(cp.cp.seq, 7);
    assert_string_equal(cp.cp.hash, head);
    OK(sweep(f, "verify checkpoint", op_verify_checkpoint, &cp, &n));
    assert_int_equal(cp.v.ok, 1);
    assert_int_equal(cp.v.rows, 7);

    int64_t resealed = 0;
    OK(sweep(f, "reseal", op_reseal, &resealed, &n));
    assert_int_equal(resealed, 7);

    wp_insider_settings is = {.unmask_per_hour = 1, .export_per_day = 5};
    OK(sweep(f, "insider settings put", op_settings_put, &is, &n));
    wp_insider_settings got;
    OK(sweep(f, "insider settings get", op_settings_get, &got, &n));
    assert_int_equal(got.unmask_per_hour, 1);
    assert_int_equal(got.export_per_day, 5);
    wp_insider_result r;
    OK(sweep(f, "unmask", op_unmask, &r, &n)); /* 1: within the limit */
    assert_int_equal(r.count, 1);
    assert_string_equal(r.alert_id, "");
    OK(sweep(f, "unmask past the limit", op_unmask, &r, &n));
    assert_int_equal(r.count, 2);
    assert_int_equal(strlen(r.alert_id), WP_ID_LEN);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM alerts"), 1);
    char alert[WP_ID_LEN + 1];
    memcpy(alert, r.alert_id, sizeof alert);
    OK(sweep(f, "unmask with the alert raised", op_unmask, &r, &n));
    assert_int_equal(r.count, 3);
    assert_string_equal(r.alert_id, ""); /* one alert a window */
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM alerts"), 1);
    OK(sweep(f, "alert kind", op_alert_kind, alert, &n));
    assert_int_equal(
        sweep(f, "alert kind of no alert", op_alert_kind, "eeeeeeeeeeeeeeeeeeeeeeee", &n),
        WP_ENOTFOUND);

    /* a broken chain: each failed read is an error, never the verdict; whole, the verdict */
    tfx_exec(f, "DELETE FROM audit_log WHERE seq = 2");
    memset(&v, 0, sizeof v);
    OK(sweep(f, "verify a broken chain", op_verify, &v, &n));
    assert_int_equal(v.ok, 0);
    assert_int_equal(v.bad_seq, 3);
    if (!strstr(v.why, "row 2 removed"))
        fail_msg("why is '%s'", v.why);
}

/* --- insider alerts -------------------------------------------------------------------------- */

static void insider_append(struct tfx *f, const char *actor, const char *action,
                           wp_insider_result *r)
{
    wp_audit_entry e = {.tenant_id = f->tenant,
                        .actor = actor,
                        .action = action,
                        .target = "customer:cccccccccccccccccccccccc"};
    OK(wp_store_begin(f->st));
    OK(wp_store_audit_append(f->st, key, &e, NULL));
    OK(wp_store_insider_check(f->st, r, key, f->tenant, actor, f->emp1, action));
    OK(wp_store_commit(f->st));
}

/* Past the limit within the window, one alert about the employee, not one per request; the
 * next window can raise another. */
static void test_store_audit__insider_alert_once_per_window(void **state)
{
    struct tfx *f = *state;
    char actor[64], sql[256];
    wp_insider_result r;
    wp_insider_settings is;
    snprintf(actor, sizeof actor, "employee:%s", f->emp1);
    wp_time_set_fake(T0);
    OK(wp_store_insider_settings_get(f->st, &is, f->tenant));
    assert_int_equal(is.unmask_per_hour, WP_INSIDER_UNMASK_PER_HOUR_DEFAULT);
    assert_int_equal(is.export_per_day, WP_INSIDER_EXPORT_PER_DAY_DEFAULT);
    is.unmask_per_hour = 3;
    is.export_per_day = 2;
    OK(wp_store_insider_settings_put(f->st, f->tenant, &is));
    for (int i = 1; i <= 3; i++) {
        insider_append(f, actor, "customer.unmask", &r);
        assert_int_equal(r.count, i);
        assert_string_equal(r.alert_id, "");
    }
    insider_append(f, actor, "customer.unmask", &r);
    assert_int_equal(r.count, 4);
    assert_int_equal(strlen(r.alert_id), WP_ID_LEN);
    for (int i = 0; i < 5; i++) {
        insider_append(f, actor, "customer.unmask", &r);
        assert_string_equal(r.alert_id, "");
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM alerts WHERE kind = 'mass_unmask' AND employee_id = '%s'"
             " AND status = 'open'",
             f->emp1);
    assert_int_equal(tfx_raw1(f, sql), 1);
    /* the alert's own audit row */
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE action = 'alert.raise'"
                                 " AND actor = 'system'"),
                     1);
    /* other actions and other people count apart */
    insider_append(f, actor, "lexicon.put", &r);
    assert_int_equal(r.count, 0);
    insider_append(f, actor, "media.download", &r);
    assert_int_equal(r.count, 1);
    insider_append(f, actor, "handover.export", &r);
    assert_int_equal(r.count, 2);
    insider_append(f, actor, "media.download", &r);
    assert_int_equal(r.count, 3);
    assert_int_equal(strlen(r.alert_id), WP_ID_LEN);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM alerts WHERE kind = 'mass_export'"), 1);
    /* an hour on, the old unmaskings have left the window */
    wp_time_set_fake(T0 + 3601000000LL);
    for (int i = 1; i <= 3; i++) {
        insider_append(f, actor, "customer.unmask", &r);
        assert_int_equal(r.count, i);
    }
    insider_append(f, actor, "customer.unmask", &r);
    assert_int_equal(strlen(r.alert_id), WP_ID_LEN);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM alerts WHERE kind = 'mass_unmask'"), 2);
    /* 0 turns it off */
    is.unmask_per_hour = 0;
    OK(wp_store_insider_settings_put(f->st, f->tenant, &is));
    for (int i = 0; i < 5; i++) {
        insider_append(f, actor, "customer.unmask", &r);
        assert_string_equal(r.alert_id, "");
    }
    is.export_per_day = -1;
    assert_int_equal(wp_store_insider_settings_put(f->st, f->tenant, &is), WP_EINVAL);
    assert_int_equal(verify(f, NULL).ok, 1);
}

/* An append at a time of the test's choosing (the row's ts_us is the clock's now). */
static void insider_at(struct tfx *f, int64_t us, const char *actor, const char *employee,
                       const char *action, wp_insider_result *r)
{
    wp_audit_entry e = {.tenant_id = f->tenant,
                        .actor = actor,
                        .action = action,
                        .target = "customer:cccccccccccccccccccccccc"};
    wp_time_set_fake(us);
    OK(wp_store_begin(f->st));
    OK(wp_store_audit_append(f->st, key, &e, NULL));
    OK(wp_store_insider_check(f->st, r, key, f->tenant, actor, employee, action));
    OK(wp_store_commit(f->st));
}

/* The threshold N at its edges (docs/internals/audit.md, "Insider alerts"): N actions in the
 * window raise nothing, the N+1th raises one alert with the documented text; the window is the
 * last 60 minutes (24 hours for exports), so a row exactly one window old has left it, a row one
 * microsecond younger has not; the alert itself holds for one window. */
static void test_store_audit__insider_threshold_edges(void **state)
{
    struct tfx *f = *state;
    char actor[64], sql[512];
    wp_insider_result r;
    wp_insider_settings is = {.unmask_per_hour = 3, .export_per_day = 2};
    const int64_t H = 3600 * 1000000LL, D = 24 * H;
    snprintf(actor, sizeof actor, "employee:%s", f->emp1);
    wp_time_set_fake(T0);
    OK(wp_store_insider_settings_put(f->st, f->tenant, &is));
    OK(wp_store_insider_settings_get(f->st, &is, f->tenant));
    assert_int_equal(is.unmask_per_hour, 3);
    assert_int_equal(is.export_per_day, 2);
    assert_int_equal(is.updated_us, T0);

    /* N-1 and N: counted, nothing raised; the limit in force is reported */
    insider_at(f, T0, actor, f->emp1, "customer.unmask", &r);
    insider_at(f, T0 + 1, actor, f->emp1, "message.unmask", &r);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.limit, 3);
    assert_string_equal(r.alert_id, "");
    insider_at(f, T0 + 2, actor, f->emp1, "customer.unmask", &r);
    assert_int_equal(r.count, 3);
    assert_string_equal(r.alert_id, "");
    /* one window later to the microsecond, the first row (at T0) has left it: still 3 */
    insider_at(f, T0 + H, actor, f->emp1, "customer.unmask", &r);
    assert_int_equal(r.count, 3);
    assert_string_equal(r.alert_id, "");
    /* a microsecond less than a window after the second row: it is in, 4 > 3 raises */
    insider_at(f, T0 + 1 + H - 1, actor, f->emp1, "customer.unmask", &r);
    assert_int_equal(r.count, 4);
    assert_int_equal(strlen(r.alert_id), WP_ID_LEN);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM alerts WHERE id = '%s' AND kind = 'mass_unmask' AND category ="
             " 'insider' AND employee_id = '%s' AND pattern = '%s' AND matched = '4 unmaskings in"
             " 60 minutes (limit 3)' AND status = 'open' AND ts_us = %lld",
             r.alert_id, f->emp1, actor, (long long)(T0 + H));
    assert_int_equal(tfx_raw1(f, sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE actor = 'system' AND action = 'alert.raise'"
             " AND target = 'alert:%s'",
             r.alert_id);
    assert_int_equal(tfx_raw1(f, sql), 1);
    /* past N again while the alert is younger than a window: none again */
    insider_at(f, T0 + H + 1, actor, f->emp1, "customer.unmask", &r);
    assert_int_equal(r.count, 4); /* T0+2, T0+H twice, now */
    assert_string_equal(r.alert_id, "");
    insider_at(f, T0 + 2 * H - 2, actor, f->emp1, "customer.unmask", &r);
    assert_int_equal(r.count, 4);
    assert_string_equal(r.alert_id, "");
    insider_at(f, T0 + 2 * H - 1, actor, f->emp1, "customer.unmask", &r);
    assert_int_equal(r.count, 5); /* the alert (T0+H) is a microsecond younger than a window */
    assert_string_equal(r.alert_id, "");
    /* exactly one window after the alert it no longer holds, and the count is past N */
    insider_at(f, T0 + 2 * H, actor, f->emp1, "customer.unmask", &r);
    assert_int_equal(r.count, 4); /* T0+H+1, T0+2H-2, T0+2H-1, now */
    assert_int_equal(strlen(r.alert_id), WP_ID_LEN);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM alerts WHERE kind = 'mass_unmask'"), 2);

    /* exports: a 24-hour window, N = 2 */
    const int64_t E = T0 + 3 * D;
    insider_at(f, E, actor, f->emp1, "customers.export", &r);
    assert_int_equal(r.count, 1);
    insider_at(f, E + D - 1, actor, f->emp1, "audit.export", &r);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.limit, 2);
    assert_string_equal(r.alert_id, "");
    insider_at(f, E + D, actor, f->emp1, "timeline.export", &r); /* E's row left */
    assert_int_equal(r.count, 2);
    assert_string_equal(r.alert_id, "");
    insider_at(f, E + D + 1, actor, f->emp1, "alerts.export", &r);
    assert_int_equal(r.count, 3);
    assert_int_equal(strlen(r.alert_id), WP_ID_LEN);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM alerts WHERE id = '%s' AND kind = 'mass_export' AND matched ="
             " '3 exports in 1440 minutes (limit 2)'",
             r.alert_id);
    assert_int_equal(tfx_raw1(f, sql), 1);
    /* unmaskings and exports count apart */
    insider_at(f, E + D + 2, actor, f->emp1, "message.unmask", &r);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.alert_id, "");

    /* limit 1: the first is within it, the second past it */
    is.unmask_per_hour = 1;
    OK(wp_store_insider_settings_put(f->st, f->tenant, &is));
    char other[64];
    snprintf(other, sizeof other, "employee:%s", f->emp2);
    insider_at(f, T0 + 10 * D, other, f->emp2, "customer.unmask", &r);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.limit, 1);
    assert_string_equal(r.alert_id, "");
    insider_at(f, T0 + 10 * D + 1, other, f->emp2, "customer.unmask", &r);
    assert_int_equal(r.count, 2);
    assert_int_equal(strlen(r.alert_id), WP_ID_LEN);
    assert_int_equal(verify(f, NULL).ok, 1);
}

/* An actor with no known employee (an API key nobody is known to have made) is counted and
 * raises nothing; the check refuses a bad actor or employee id, and counts nothing for an
 * action it does not know, and the thresholds refuse values out of 0..WP_INSIDER_MAX. */
static void test_store_audit__insider_without_employee_and_bad_input(void **state)
{
    struct tfx *f = *state;
    const char *actor = "apikey:dddddddddddddddddddddddd";
    wp_insider_result r;
    wp_insider_settings is = {.unmask_per_hour = 1, .export_per_day = 1};
    OK(wp_store_insider_settings_put(f->st, f->tenant, &is));
    for (int i = 1; i <= 3; i++) {
        insider_at(f, T0 + i, actor, NULL, "customer.unmask", &r);
        assert_int_equal(r.count, i);
        assert_string_equal(r.alert_id, "");
        insider_at(f, T0 + i, actor, "", "media.download", &r);
        assert_int_equal(r.count, i);
        assert_string_equal(r.alert_id, "");
    }
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM alerts"), 0);

    OK(wp_store_begin(f->st));
    memset(&r, 0x55, sizeof r);
    OK(wp_store_insider_check(f->st, &r, key, f->tenant, actor, f->emp1, NULL));
    assert_int_equal(r.count, 0);
    assert_int_equal(r.limit, 0);
    assert_string_equal(r.alert_id, "");
    OK(wp_store_insider_check(f->st, &r, key, f->tenant, actor, f->emp1, "customer.update"));
    assert_int_equal(r.count, 0);
    static const char *const bad_actors[] = {
        NULL,
        "",
        "system",
        ":dddddddddddddddddddddddd",
        "Employee:dddddddddddddddddddddddd",
        "averyveryverylongkind:dddddddddddddddddddddddd",
        "employee:dddd",
        "employee:\"x\"",
    };
    for (size_t i = 0; i < sizeof bad_actors / sizeof *bad_actors; i++)
        assert_int_equal(wp_store_insider_check(f->st, &r, key, f->tenant, bad_actors[i], f->emp1,
                                                "customer.unmask"),
                         WP_EINVAL);
    assert_int_equal(
        wp_store_insider_check(f->st, &r, key, f->tenant, actor, "nope", "customer.unmask"),
        WP_ENOTFOUND); /* an id of no shape ids have cannot exist (store/db.h) */
    assert_int_equal(
        wp_store_insider_check(f->st, &r, key, "nope", actor, f->emp1, "customer.unmask"),
        WP_ENOTFOUND);
    assert_int_equal(wp_store_insider_check(f->st, &r, key, "", actor, f->emp1, "customer.unmask"),
                     WP_EINVAL);
    OK(wp_store_rollback(f->st));

    is = (wp_insider_settings){.unmask_per_hour = WP_INSIDER_MAX, .export_per_day = 0};
    OK(wp_store_insider_settings_put(f->st, f->tenant, &is));
    is.unmask_per_hour = WP_INSIDER_MAX + 1;
    assert_int_equal(wp_store_insider_settings_put(f->st, f->tenant, &is), WP_EINVAL);
    is.unmask_per_hour = -1;
    assert_int_equal(wp_store_insider_settings_put(f->st, f->tenant, &is), WP_EINVAL);
    is = (wp_insider_settings){.unmask_per_hour = 0, .export_per_day = WP_INSIDER_MAX + 1};
    assert_int_equal(wp_store_insider_settings_put(f->st, f->tenant, &is), WP_EINVAL);
    assert_int_equal(wp_store_insider_settings_put(f->st, "nope", &is), WP_ENOTFOUND);
    is.export_per_day = 5;
    assert_int_equal(wp_store_insider_settings_put(f->st, "eeeeeeeeeeeeeeeeeeeeeeee", &is),
                     WP_ENOTFOUND);
    assert_int_equal(wp_store_insider_settings_get(f->st, &is, "nope"), WP_ENOTFOUND);
    /* a tenant that never set them: the defaults, never set */
    OK(wp_store_insider_settings_get(f->st, &is, "eeeeeeeeeeeeeeeeeeeeeeee"));
    assert_int_equal(is.unmask_per_hour, WP_INSIDER_UNMASK_PER_HOUR_DEFAULT);
    assert_int_equal(is.export_per_day, WP_INSIDER_EXPORT_PER_DAY_DEFAULT);
    assert_int_equal(is.updated_us, 0);
    OK(wp_store_insider_settings_get(f->st, &is, f->tenant));
    assert_int_equal(is.unmask_per_hour, WP_INSIDER_MAX);
    assert_int_equal(is.export_per_day, 0);

    /* the kind of an alert, and the kinds only admins and auditors see */
    char kind[WP_ARCHIVE_WORD_MAX + 1];
    assert_int_equal(wp_store_alert_kind(f->st, kind, f->tenant, "eeeeeeeeeeeeeeeeeeeeeeee"),
                     WP_ENOTFOUND);
    assert_int_equal(wp_store_alert_kind(f->st, kind, f->tenant, "nope"), WP_ENOTFOUND);
    assert_int_equal(wp_store_alert_kind(f->st, kind, "nope", "eeeeeeeeeeeeeeeeeeeeeeee"),
                     WP_ENOTFOUND);
    assert_int_equal(wp_store_alert_kind(f->st, kind, f->tenant, NULL), WP_EINVAL);
    assert_int_equal(wp_alert_kind_is_insider("mass_unmask"), 1);
    assert_int_equal(wp_alert_kind_is_insider("mass_export"), 1);
    assert_int_equal(wp_alert_kind_is_insider("sensitive_word"), 0);
    assert_int_equal(wp_alert_kind_is_insider(NULL), 0);
}

/* --- concurrency -------------------------------------------------------------------------- */

struct appender {
    struct tfx *f;
    int from, n, err;
    int lock_tenant_first; /* as an employee update does before its audit row */
};

static void *append_many(void *arg)
{
    struct appender *a = arg;
    wp_store *st = NULL;
    if ((a->err = wp_store_open(&st, a->f->dir, a->f->url)) < 0)
        return NULL;
    for (int i = 0; i < a->n && a->err == 0; i++) {
        char details[32];
        snprintf(details, sizeof details, "{\"i\":%d}", a->from + i);
        wp_audit_entry e = {.tenant_id = a->f->tenant,
                            .actor = "system",
                            .action = "test.append",
                            .details = details};
        /* each in a transaction that also does other work, as a handler's would */
        if ((a->err = wp_store_begin(st)) < 0)
            break;
        if (a->lock_tenant_first) {
            wp_employee_change ch = WP_EMPLOYEE_CHANGE_INIT;
            wp_employee out;
            ch.name = (a->from + i) % 2 ? "Li Lei" : "Li Lei 2";
            if ((a->err = wp_store_employee_update(st, &out, a->f->tenant, a->f->emp1, &ch)) < 0) {
                wp_store_rollback(st);
                break;
            }
        }
        a->err = wp_store_audit_append(st, key, &e, NULL);
        if (a->err == 0)
            a->err = wp_store_commit(st);
        else
            wp_store_rollback(st);
    }
    wp_store_free(st);
    return NULL;
}

/* Two connections (two server nodes) appending at once make one unbroken chain. */
static void test_store_audit__concurrent_appends(void **state)
{
    struct tfx *f = *state;
    enum { THREADS = 3, EACH = 40 };
    pthread_t th[THREADS];
    struct appender a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct appender){.f = f, .from = i * EACH, .n = EACH, .lock_tenant_first = i == 0};
        assert_int_equal(pthread_create(&th[i], NULL, append_many, &a[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (a[i].err)
            fail_msg("appender %d: %d (%s)", i, a[i].err, wp_error_last());
    }
    wp_audit_verdict v = verify(f, NULL);
    assert_int_equal(v.ok, 1);
    assert_int_equal(v.rows, THREADS * EACH);
    assert_int_equal(tfx_raw1(f, "SELECT count(DISTINCT details) FROM audit_log"), THREADS * EACH);
}

/* --- the key ------------------------------------------------------------------------------- */

static void test_store_audit__key_file(void **state)
{
    struct tfx *f = *state;
    unsigned char k1[WP_AUDIT_KEY_LEN], k2[WP_AUDIT_KEY_LEN], zero[WP_AUDIT_KEY_LEN] = {0};
    char path[PATH_MAX + 32];
    struct stat sb;
    memset(k1, 0, sizeof k1);
    assert_int_equal(wp_audit_key_load(k1, f->dir, 0), WP_ENOTFOUND);
    assert_memory_equal(k1, zero, sizeof zero); /* untouched */
    OK(wp_audit_key_load(k1, f->dir, 1));
    assert_memory_not_equal(k1, zero, sizeof zero);
    OK(wp_audit_key_load(k2, f->dir, 0));
    assert_memory_equal(k1, k2, sizeof k1);
    OK(wp_audit_key_load(k2, f->dir, 1)); /* there already: read, not replaced */
    assert_memory_equal(k1, k2, sizeof k1);
    snprintf(path, sizeof path, "%s/keys", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/keys/audit.key", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, WP_AUDIT_KEY_LEN);

    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(wp_audit_key_load(k2, f->dir, 1), WP_EIO);
    assert_non_null(strstr(wp_error_last(), "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(truncate(path, 31), 0);
    assert_int_equal(wp_audit_key_load(k2, f->dir, 1), WP_EIO);
    assert_non_null(strstr(wp_error_last(), "32 bytes"));
}

/* load() refuses, with WP_EIO and the key untouched, every state of the key file but a
 * regular 0600 file of the right size (src/store/audit.h); a data dir it cannot use at all is
 * WP_EINVAL. Root ignores permissions, so the states are made of what stands where: a file
 * where the keys directory should be, a directory or a symlink where the key should be. */
static void expect_refused(struct tfx *f, int create, int want, const char *why)
{
    unsigned char k[WP_AUDIT_KEY_LEN], zero[WP_AUDIT_KEY_LEN] = {0};
    memset(k, 0, sizeof k);
    assert_int_equal(wp_audit_key_load(k, f->dir, create), want);
    if (!strstr(wp_error_last(), why))
        fail_msg("error is '%s', wanted '%s' in it", wp_error_last(), why);
    assert_memory_equal(k, zero, sizeof zero);
}

static void path_in(char *out, size_t cap, struct tfx *f, const char *rel)
{
    assert_true((size_t)snprintf(out, cap, "%s/%s", f->dir, rel) < cap);
}

static void write_file(const char *path, const char *bytes, size_t n, mode_t mode)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_store_audit__key_file_states(void **state)
{
    struct tfx *f = *state;
    char keys[PATH_MAX + 32], kpath[PATH_MAX + 32], other[PATH_MAX + 32], tmp[PATH_MAX + 64];
    unsigned char k1[WP_AUDIT_KEY_LEN], k2[WP_AUDIT_KEY_LEN], zero[WP_AUDIT_KEY_LEN] = {0};
    path_in(keys, sizeof keys, f, "keys");
    path_in(kpath, sizeof kpath, f, "keys/audit.key");
    path_in(other, sizeof other, f, "elsewhere.key");

    /* no data dir */
    memset(k1, 0, sizeof k1);
    assert_int_equal(wp_audit_key_load(k1, NULL, 1), WP_EINVAL);
    assert_int_equal(wp_audit_key_load(k1, "", 1), WP_EINVAL);
    assert_memory_equal(k1, zero, sizeof zero);

    /* a file where the keys directory should be: not created over, not read through */
    write_file(keys, "x", 1, 0600);
    expect_refused(f, 0, WP_EIO, "cannot open audit key");
    expect_refused(f, 1, WP_EIO, "cannot open audit key");
    assert_int_equal(unlink(keys), 0);

    /* a directory where the key should be */
    assert_int_equal(mkdir(keys, 0700), 0);
    assert_int_equal(mkdir(kpath, 0700), 0);
    expect_refused(f, 1, WP_EIO, "not a regular file");
    assert_int_equal(rmdir(kpath), 0);

    /* a symlink to a good key: not followed (a link can be swapped under the server) */
    write_file(other, "0123456789abcdef0123456789abcdef", 32, 0600);
    assert_int_equal(symlink(other, kpath), 0);
    expect_refused(f, 0, WP_EIO, "cannot open audit key");
    expect_refused(f, 1, WP_EIO, "cannot open audit key");
    assert_int_equal(unlink(kpath), 0);

    /* readable by its group alone, or longer than a key */
    write_file(kpath, "0123456789abcdef0123456789abcdef", 32, 0640);
    expect_refused(f, 1, WP_EIO, "chmod 600");
    write_file(kpath, "0123456789abcdef0123456789abcdefX", 33, 0600);
    expect_refused(f, 1, WP_EIO, "not 32 bytes long");
    write_file(kpath, "", 0, 0600);
    expect_refused(f, 1, WP_EIO, "not 32 bytes long"); /* empty is not missing: not replaced */
    write_file(kpath, "0123456789abcdef0123456789abcdef", 32, 0600);
    OK(wp_audit_key_load(k1, f->dir, 0));
    assert_memory_equal(k1, "0123456789abcdef0123456789abcdef", 32);
    assert_int_equal(unlink(kpath), 0);

    /* the leftover of a crashed run with this pid is no obstacle, and is gone after */
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", kpath, (long)getpid());
    write_file(tmp, "short", 5, 0600);
    OK(wp_audit_key_load(k1, f->dir, 1));
    assert_memory_not_equal(k1, zero, sizeof zero);
    assert_int_equal(access(tmp, F_OK), -1);
    OK(wp_audit_key_load(k2, f->dir, 0));
    assert_memory_equal(k1, k2, sizeof k1);

    /* the checkpoint seed is a key of its own, by the same rules */
    unsigned char s1[WP_AUDIT_SIGN_SEED_LEN], s2[WP_AUDIT_SIGN_SEED_LEN];
    assert_int_equal(wp_audit_sign_key_load(s1, f->dir, 0), WP_ENOTFOUND);
    OK(wp_audit_sign_key_load(s1, f->dir, 1));
    OK(wp_audit_sign_key_load(s2, f->dir, 0));
    assert_memory_equal(s1, s2, sizeof s1);
    assert_memory_not_equal(s1, k1, sizeof s1);
    path_in(tmp, sizeof tmp, f, "keys/checkpoint.key");
    assert_int_equal(chmod(tmp, 0604), 0);
    assert_int_equal(wp_audit_sign_key_load(s2, f->dir, 1), WP_EIO);

    /* keys is a dangling symlink: mkdir finds it there, the key cannot be made in it */
    assert_int_equal(unlink(tmp), 0);
    assert_int_equal(unlink(kpath), 0);
    assert_int_equal(rmdir(keys), 0);
    path_in(other, sizeof other, f, "no-such-dir");
    assert_int_equal(symlink(other, keys), 0);
    expect_refused(f, 1, WP_EIO, "cannot create");
    assert_int_equal(unlink(keys), 0);
}

/* A data dir that does not exist is not made, and one whose path is too long is refused. */
static void test_store_audit__key_dir_missing_or_too_long(void **state)
{
    struct tfx *f = *state;
    unsigned char k[WP_AUDIT_KEY_LEN], zero[WP_AUDIT_KEY_LEN] = {0};
    char dir[5000];
    memset(k, 0, sizeof k);
    snprintf(dir, sizeof dir, "%s/missing", f->dir);
    assert_int_equal(wp_audit_key_load(k, dir, 0), WP_ENOTFOUND);
    assert_int_equal(wp_audit_key_load(k, dir, 1), WP_EIO);
    assert_non_null(strstr(wp_error_last(), "cannot create"));
    assert_int_equal(access(dir, F_OK), -1);

    /* the keys dir fits in a path, the key file's name does not */
    memset(dir, 'a', 4085);
    dir[0] = '/';
    dir[4085] = '\0';
    assert_int_equal(wp_audit_key_load(k, dir, 1), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "too long"));
    /* longer than any path */
    memset(dir, 'a', 4200);
    dir[0] = '/';
    dir[4200] = '\0';
    assert_int_equal(wp_audit_key_load(k, dir, 1), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "too long"));
    /* a real dir whose key path fits but whose temporary file name does not: refused before
     * anything is written */
    size_t n = (size_t)snprintf(dir, sizeof dir, "%s", f->dir);
    const size_t want = 4078; /* + "/keys/audit.key" = 4093 < PATH_MAX, + ".<pid>.tmp" > it */
    assert_true(n < want - 20);
    while (n < want) {
        size_t part = want - n - 1 > 200 ? 200 : want - n - 1;
        dir[n++] = '/';
        memset(dir + n, 'd', part);
        n += part;
        dir[n] = '\0';
        assert_int_equal(mkdir(dir, 0700), 0);
    }
    assert_int_equal(strlen(dir), want);
    assert_int_equal(wp_audit_key_load(k, dir, 1), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "too long"));
    assert_memory_equal(k, zero, sizeof zero);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest suite[] = {
    T(test_store_audit__chain_intact_after_many_appends),
    T(test_store_audit__list),
    T(test_store_audit__entry_checks),
    T(test_store_audit__entry_limits),
    T(test_store_audit__list_filters),
    T(test_store_audit__rollback_leaves_no_row),
    T(test_store_audit__tenants_have_own_chains),
    T(test_store_audit__altered_row),
    T(test_store_audit__altered_time),
    T(test_store_audit__altered_row_and_hash),
    T(test_store_audit__altered_last_row),
    T(test_store_audit__removed_row),
    T(test_store_audit__removed_first_row),
    T(test_store_audit__removed_last_row),
    T(test_store_audit__inserted_last_row),
    T(test_store_audit__inserted_row),
    T(test_store_audit__duplicated_row),
    T(test_store_audit__head_tampering),
    T(test_store_audit__records_written),
    T(test_store_audit__truncated_head_set_back),
    T(test_store_audit__whole_log_deleted),
    T(test_store_audit__length_record_forged),
    T(test_store_audit__length_record_replayed),
    T(test_store_audit__records_missing),
    T(test_store_audit__length_record_mac_missing),
    T(test_store_audit__head_mac_missing),
    T(test_store_audit__legacy_chain),
    T(test_store_audit__legacy_chains_two_tenants),
    T(test_store_audit__tenant_without_log),
    T(test_store_audit__checkpoint),
    T(test_store_audit__checkpoint_refuses_a_bad_head),
    T(test_store_audit__checkpoint_parse),
    T(test_store_audit__checkpoint_parse_fields),
    T(test_store_audit__checkpoint_on_a_broken_chain),
    T(test_store_audit__spliced_chain),
    T(test_store_audit__more_edges),
    T(test_store_audit__legacy_chain_cut),
    T(test_store_audit__first_broken_tenant),
    T(test_store_audit__store_failures),
    T(test_store_audit__insider_alert_once_per_window),
    T(test_store_audit__insider_threshold_edges),
    T(test_store_audit__insider_without_employee_and_bad_input),
    T(test_store_audit__concurrent_appends),
    T(test_store_audit__key_file),
    T(test_store_audit__key_file_states),
    T(test_store_audit__key_dir_missing_or_too_long),
};

int main(void)
{
    /* the store failure hook (docs/internals/util.md) for test_store_audit__store_failures;
     * armed by nothing else, it changes nothing for the other tests */
    setenv("WORKPHONE_TEST_HOOKS", "1", 1);
    if (wp_test_hooks_load() < 0)
        return 1;
    return tfx_run("store_audit", suite, sizeof suite / sizeof suite[0]) ? 1 : 0;
}
