/* SPDX-License-Identifier: MIT */
/* The buffer of audited reads (src/api/audit_worker.c, docs/internals/audit.md "Batched, so
 * search stays fast"), on both backends: a full buffer refuses a read after 5 s rather than
 * serve it unrecorded and loses none it took; a row the store refuses is dropped alone; the
 * rows land tenant by tenant in the order they came; a handler waiting for its reads gets
 * them written. */
#include "../store/archive_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "store/audit.h"
#include "store/org.h"
#include "util/buf.h"
#include "util/error.h"
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

/* What the worker's wake did: counted, and (flush set) ran the flush at once on st, as
 * serve's scheduler would soon after. */
struct waker {
    int calls, flush;
    wp_store *st;
    api_audit_worker *w;
};

static void on_wake(void *ctx)
{
    struct waker *k = ctx;
    k->calls++;
    if (k->flush) {
        wp_buf note;
        wp_buf_init(&note, 4096);
        OK(api_audit_worker_flush(k->st, k->w, 0, &note));
        wp_buf_release(&note);
    }
}

static api_audit_worker *worker(struct waker *k)
{
    api_audit_worker *w;
    api_audit_worker_config c = {.audit_key = key, .wake = on_wake, .wake_ctx = k};
    OK(api_audit_worker_new(&w, &c));
    k->w = w;
    return w;
}

/* A read of tenant t, the i-th of a test (its time T0 + i). */
static int push(api_audit_worker *w, const char *t, const char *action, int i)
{
    char details[48];
    snprintf(details, sizeof details, "{\"n\":%d}", i);
    wp_audit_entry e = {.tenant_id = t,
                        .ts_us = T0 + i,
                        .actor = "employee:aaaaaaaaaaaaaaaaaaaaaaaa",
                        .action = action,
                        .details = details,
                        .client = "127.0.0.1"};
    return api_audit_worker_push(w, &e);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void verify_ok(struct tfx *f)
{
    wp_audit_verdict v;
    OK(wp_store_audit_verify(f->st, key, NULL, &v));
    if (!v.ok)
        fail_msg("verify: row %lld: %s", (long long)v.bad_seq, v.why);
}

/* Reads in the chain out of the order they were pushed (by their time). */
static int64_t out_of_order(struct tfx *f)
{
    return tfx_raw1(f, "SELECT count(*) FROM audit_log a JOIN audit_log b"
                       " ON b.tenant_id = a.tenant_id AND b.seq = a.seq + 1"
                       " WHERE a.action = 'messages.read' AND b.action = 'messages.read'"
                       " AND b.ts_us <= a.ts_us");
}

/* 20,000 reads wait; the next one waits 5 s for room and is refused; the flush then writes
 * every read it took, in order, and the buffer takes reads again. The flush is asked for once
 * 500 rows wait, and again while a read waits for room. */
static void test_audit_worker__full_buffer_refuses_and_loses_nothing(void **state)
{
    struct tfx *f = *state;
    struct waker k = {.st = f->st};
    api_audit_worker *w = worker(&k);

    for (int i = 1; i <= 20000; i++) {
        OK(push(w, f->tenant, "messages.read", i));
        if (i == 499)
            assert_int_equal(k.calls, 0);
        if (i == 500)
            assert_int_equal(k.calls, 1);
    }
    assert_int_equal(k.calls, 1);
    assert_int_equal(api_audit_worker_waiting(w), 20000);

    double t0 = now_s();
    assert_int_equal(push(w, f->tenant, "messages.read", 20001), WP_EIO);
    double waited = now_s() - t0;
    assert_non_null(strstr(wp_error_last(), "the audit log cannot keep up: the read is refused"));
    if (waited < 4.9 || waited > 30)
        fail_msg("the refused read waited %.1f s, wanted 5", waited);
    assert_true(k.calls > 1);
    assert_int_equal(api_audit_worker_waiting(w), 20000);

    wp_buf note;
    wp_buf_init(&note, 4096);
    OK(api_audit_worker_flush(f->st, w, 0, &note));
    assert_int_equal(note.len, 0);
    assert_int_equal(api_audit_worker_waiting(w), 0);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE action = 'messages.read'"),
                     20000);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE details = '{\"n\":20001}'"),
                     0);
    assert_int_equal(out_of_order(f), 0);
    verify_ok(f);

    OK(push(w, f->tenant, "messages.read", 20002));
    assert_int_equal(api_audit_worker_waiting(w), 1);
    OK(api_audit_worker_flush(f->st, w, 0, &note));
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE action = 'messages.read'"),
                     20001);
    wp_buf_release(&note);
    api_audit_worker_free(w);
}

static void *flush_later(void *arg)
{
    struct waker *k = arg;
    wp_buf note;
    usleep(300 * 1000);
    wp_buf_init(&note, 4096);
    int err = api_audit_worker_flush(k->st, k->w, 0, &note);
    wp_buf_release(&note);
    return (void *)(intptr_t)err;
}

/* A full buffer that gets room while a read waits (the flush ran): the read goes in, well
 * before the 5 s after which it would be refused. */
static void test_audit_worker__room_while_waiting(void **state)
{
    struct tfx *f = *state;
    struct waker k = {.st = f->st};
    api_audit_worker *w = worker(&k);
    for (int i = 1; i <= 20000; i++)
        OK(push(w, f->tenant, "messages.read", i));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, flush_later, &k), 0);
    double t0 = now_s();
    OK(push(w, f->tenant, "messages.read", 20001));
    double waited = now_s() - t0;
    void *ret;
    pthread_join(t, &ret);
    assert_int_equal((intptr_t)ret, 0);
    if (waited < 0.25 || waited > 4.5)
        fail_msg("the read waited %.2f s, wanted it to go in once the flush made room", waited);
    assert_int_equal(api_audit_worker_waiting(w), 1);
    wp_buf note;
    wp_buf_init(&note, 4096);
    OK(api_audit_worker_flush(f->st, w, 0, &note));
    wp_buf_release(&note);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE action = 'messages.read'"),
                     20001);
    assert_int_equal(out_of_order(f), 0);
    verify_ok(f);
    api_audit_worker_free(w);
}

/* One row the store refuses (an action of capitals) is dropped and named; the rows around it,
 * of its tenant and of another, are written, each tenant's in the order they came. */
static void test_audit_worker__a_refused_row_is_dropped_alone(void **state)
{
    struct tfx *f = *state;
    struct waker k = {.st = f->st};
    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    api_audit_worker *w = worker(&k);

    OK(push(w, f->tenant, "messages.read", 1));
    OK(push(w, other, "messages.read", 2));
    OK(push(w, f->tenant, "Messages.Read", 3));
    OK(push(w, f->tenant, "messages.read", 4));
    OK(push(w, other, "messages.read", 5));

    wp_buf note;
    wp_buf_init(&note, 4096);
    assert_int_equal(api_audit_worker_flush(f->st, w, 0, &note), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "a read (Messages.Read) was dropped"));
    assert_non_null(note.buf);
    if (!strstr(note.buf, "dropped=1") || strstr(note.buf, "rows_waiting"))
        fail_msg("note is '%.*s'", (int)note.len, note.buf);
    assert_int_equal(api_audit_worker_waiting(w), 0);

    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE action = 'messages.read' AND tenant_id = '%s'",
             f->tenant);
    assert_int_equal(tfx_raw1(f, sql), 2);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE action = 'messages.read' AND tenant_id = '%s'",
             other);
    assert_int_equal(tfx_raw1(f, sql), 2);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE lower(action) <> action"),
                     0);
    assert_int_equal(out_of_order(f), 0);
    verify_ok(f);

    /* the next round has nothing to say */
    wp_buf_reset(&note);
    OK(api_audit_worker_flush(f->st, w, 0, &note));
    assert_int_equal(note.len, 0);
    wp_buf_release(&note);
    api_audit_worker_free(w);
}

/* The store fails while the buffer is written (each store operation of a flush in turn, the
 * hook of X-Workphone-Test-Fail: store=N; 13 reads of two tenants, so each N is a few
 * batches' statements): the flush answers WP_EIO and says how many rows
 * wait ("rows_waiting=N"); what was written and what waits always add up to every read, and
 * the next flush writes the rest, each tenant's in the order they came. */
static void test_audit_worker__store_fails_and_no_read_is_lost(void **state)
{
    struct tfx *f = *state;
    struct waker k = {.st = f->st};
    char other[WP_ID_LEN + 1], sql[256];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    api_audit_worker *w = worker(&k);
    int total = 0;
    for (int i = 1; i <= 13; i++, total++)
        OK(push(w, i % 4 == 0 ? other : f->tenant, "messages.read", i));

    wp_buf note;
    wp_buf_init(&note, 4096);
    unsigned failures = 0;
    int whole = 0;
    for (unsigned n = 1; n < 1000 && !whole; n++) {
        wp_buf_reset(&note);
        wp_test_hooks_store_arm(n);
        int err = api_audit_worker_flush(f->st, w, 0, &note);
        int fired = wp_test_hooks_store_fired();
        wp_test_hooks_store_arm(0);
        int64_t written =
            tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE action = 'messages.read'");
        size_t waiting = api_audit_worker_waiting(w);
        if (!fired) {
            OK(err);
            assert_int_equal(waiting, 0);
            assert_int_equal(written, total);
            whole = 1;
            continue;
        }
        failures++;
        assert_int_equal(err, WP_EIO);
        assert_true(waiting > 0);
        assert_int_equal(written + (int64_t)waiting, total);
        char want[40];
        snprintf(want, sizeof want, "rows_waiting=%zu", waiting);
        if (!note.buf || !strstr(note.buf, want))
            fail_msg("store operation %u failed: note is '%.*s', wanted %s", n, (int)note.len,
                     note.buf ? note.buf : "", want);
    }
    assert_true(whole);
    assert_true(failures >= 2);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE action = 'messages.read' AND tenant_id = '%s'",
             other);
    assert_int_equal(tfx_raw1(f, sql), 3);
    assert_int_equal(out_of_order(f), 0);
    verify_ok(f);
    wp_buf_release(&note);
    api_audit_worker_free(w);
}

/* A handler waiting for its reads (GET /api/v1/audit) asks for the flush and returns once they
 * are written; with nothing to flush them it gives up after its time, WP_EIO. */
static void test_audit_worker__sync(void **state)
{
    struct tfx *f = *state;
    struct waker k = {.st = f->st};
    api_audit_worker *w = worker(&k);

    OK(api_audit_worker_sync(w, 10)); /* nothing pushed: nothing to wait for */
    OK(push(w, f->tenant, "timeline.read", 1));
    double t0 = now_s();
    assert_int_equal(api_audit_worker_sync(w, 200), WP_EIO);
    if (now_s() - t0 < 0.19)
        fail_msg("sync gave up after %.3f s, wanted 0.2", now_s() - t0);
    assert_true(k.calls >= 1);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE action = 'timeline.read'"),
                     0);

    k.flush = 1;
    OK(api_audit_worker_sync(w, 2000));
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE action = 'timeline.read'"),
                     1);
    assert_int_equal(api_audit_worker_waiting(w), 0);
    verify_ok(f);
    api_audit_worker_free(w);
    api_audit_worker_free(NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest suite[] = {
    T(test_audit_worker__full_buffer_refuses_and_loses_nothing),
    T(test_audit_worker__room_while_waiting),
    T(test_audit_worker__a_refused_row_is_dropped_alone),
    T(test_audit_worker__store_fails_and_no_read_is_lost),
    T(test_audit_worker__sync),
};

int main(void)
{
    /* the store failure hook (docs/internals/util.md), armed by one test only */
    setenv("WORKPHONE_TEST_HOOKS", "1", 1);
    if (wp_test_hooks_load() < 0)
        return 1;
    return tfx_run("api_audit_worker", suite, sizeof suite / sizeof suite[0]) ? 1 : 0;
}
