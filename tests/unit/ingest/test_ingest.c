/* SPDX-License-Identifier: MIT */
/* Ingest through its API: enrollment, events and their replies, the group-commit writer under
 * concurrency and failures, check, policy, lexicon and media; on SQLite and PostgreSQL. */
#include "test_ingest.h"
#include "store/devices.h"
#include "store/org.h"
#include "store/people.h"
#include "store/policy.h"
#include "store/pool.h"
#include "store/usage.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "ingest/ingest_int.h"
#include "util/buf.h"
#include "util/clock.h"

struct ifx {
    struct tfx f;
    wp_store_connpool *pool;
    wp_ingest *ing;
};

/* The events below are of 2026-11-22: the server's clock is set beside them, so their times
 * stay inside the accepted window (WP_INGEST_TS_*) whenever the tests run. */
#define NOW_US 1795348800000000LL /* 2026-11-22T12:00:00Z */

static int setup(void **state)
{
    struct ifx *x = calloc(1, sizeof *x);
    assert_non_null(x);
    wp_time_set_fake(NOW_US);
    tfx_seed(&x->f);
    OK(wp_store_connpool_new(&x->pool, x->f.dir, x->f.url, 0));
    wp_ingest_config cfg = WP_INGEST_CONFIG_INIT;
    cfg.data_dir = x->f.dir;
    cfg.db_url = x->f.url;
    cfg.pool = x->pool;
    OK(wp_ingest_new(&x->ing, &cfg));
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct ifx *x = *state;
    wp_ingest_free(x->ing);
    wp_store_connpool_free(x->pool);
    tfx_release(&x->f);
    free(x);
    wp_time_set_fake(0);
    return 0;
}

/* Enroll a device for employee emp; the device (as authenticated) into out. */
static void enroll(struct ifx *x, wp_device *out, const char *emp, const char *serial)
{
    char code[WP_ENROLL_CODE_MAX], token[WP_DEVICE_TOKEN_MAX];
    wp_device ed;
    OK(wp_ingest_enrollment_code_create(x->ing, NULL, code, x->f.tenant, emp, 0));
    OK(wp_ingest_enroll(x->ing, NULL, &ed, token, code, serial, "Pixel 9"));
    OK(wp_ingest_device_auth(x->ing, out, token));
    assert_string_equal(out->id, ed.id);
}

static int events(struct ifx *x, json_t **reply, const wp_device *d, const char *body_text)
{
    json_t *body = J(body_text);
    int err = wp_ingest_events(x->ing, reply, d, body);
    json_decref(body);
    return err;
}

static int64_t count(struct ifx *x, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return tfx_raw1(&x->f, sql);
}

#define TS "\"ts\": \"2026-11-22T10:00:00+08:00\""

/* A text message event. */
static int add_msg(wp_buf *b, int64_t seq, const char *peer, const char *text)
{
    return wp_buf_addf(b,
                       "%s{\"seq\": %lld, \"type\": \"message\", " TS ", \"channel\": \"wechat\","
                       " \"direction\": \"out\", \"peer\": {\"id\": \"%s\"}, \"chat\": \"%s\","
                       " \"msgtype\": \"text\", \"text\": \"%s\"}",
                       b->len > 12 ? "," : "", (long long)seq, peer, peer, text);
}

/* --- enrollment
 * ------------------------------------------------------------------------------------ */

static void test_ingest__enroll(void **state)
{
    struct ifx *x = *state;
    char code[WP_ENROLL_CODE_MAX], token[WP_DEVICE_TOKEN_MAX];
    wp_device ed;
    wp_device d;
    OK(wp_ingest_enrollment_code_create(x->ing, NULL, code, x->f.tenant, x->f.emp1, 600));
    assert_int_equal(strlen(code), 14);
    assert_int_equal(code[4], '-');
    /* typed back in lower case without dashes */
    char typed[32];
    size_t k = 0;
    for (const char *p = code; *p; p++)
        if (*p != '-')
            typed[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    typed[k] = '\0';
    OK(wp_ingest_enroll(x->ing, NULL, &ed, token, typed, "SN-1", "Mi 14"));
    assert_int_equal(strncmp(token, "wpd_", 4), 0);
    assert_int_equal(strlen(token), 47);
    OK(wp_ingest_device_auth(x->ing, &d, token));
    assert_string_equal(d.id, ed.id);
    assert_string_equal(d.tenant_id, x->f.tenant);
    assert_string_equal(d.employee_id, x->f.emp1);
    /* only the hash is stored */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM devices WHERE token_hash = '%s'", token);
    assert_int_equal(tfx_raw1(&x->f, sql), 0);
    assert_int_equal(wp_ingest_enroll(x->ing, NULL, &ed, token, code, "SN-2", "m"), WP_EAUTH);
    assert_int_equal(wp_ingest_enroll(x->ing, NULL, &ed, token, "", "SN-2", "m"), WP_EAUTH);
    assert_int_equal(wp_ingest_device_auth(x->ing, &d, "wpd_nope"), WP_EAUTH);
    assert_int_equal(wp_ingest_device_auth(x->ing, &d, ""), WP_EAUTH);
    assert_int_equal(wp_ingest_enrollment_code_create(x->ing, NULL, code, x->f.tenant, x->f.emp1, -1),
                     WP_EINVAL);
    char other[WP_ID_LEN + 1];
    wp_id_new(other);
    assert_int_equal(wp_ingest_enrollment_code_create(x->ing, NULL, code, x->f.tenant, other, 0),
                     WP_ENOTFOUND);
    /* expired: the clock moves past the ttl */
    wp_time_set_fake(wp_time_now_us());
    OK(wp_ingest_enrollment_code_create(x->ing, NULL, code, x->f.tenant, x->f.emp1, 60));
    wp_time_set_fake(wp_time_now_us() + 60 * 1000000LL);
    assert_int_equal(wp_ingest_enroll(x->ing, NULL, &ed, token, code, "SN-3", "m"), WP_EAUTH);
}

/* --- events
 * --------------------------------------------------------------------------------------- */

static void test_ingest__events_reply(void **state)
{
    struct ifx *x = *state;
    wp_device d;
    json_t *r = NULL;
    enroll(x, &d, x->f.emp1, "SN1");
    const char *body =
        "{\"events\": ["
        "{\"seq\": 1, \"type\": \"message\", " TS
        ", \"channel\": \"wechat\", \"direction\": \"out\","
        " \"peer\": {\"id\": \"wxid_k2\", \"name\": \"王女士\", \"phone\": \"13800138000\"},"
        " \"chat\": \"wxid_k2\", \"msgtype\": \"text\", \"text\": \"这笔可以飞*单给你\"},"
        "{\"seq\": 2, \"type\": \"call\", " TS ", \"direction\": \"in\","
        " \"peer\": {\"phone\": \"13900139000\"}, \"duration_s\": 63},"
        "{\"seq\": 3, \"type\": \"contact\", " TS
        ", \"channel\": \"wechat\", \"action\": \"deleted\","
        " \"peer\": {\"id\": \"wxid_k2\"}},"
        /* a Monday morning: within the default working hours, so the location is kept */
        "{\"seq\": 4, \"type\": \"location\", \"ts\": \"2026-11-23T10:00:00+08:00\","
        " \"lat\": 31.23, \"lon\": 121.47,"
        " \"accuracy_m\": 12},"
        "{\"seq\": 5, \"type\": \"message\", " TS
        ", \"channel\": \"wechat\", \"direction\": \"in\","
        " \"peer\": {\"id\": \"wxid_k2\"}, \"msgtype\": \"transfer\", \"amount_fen\": 600000},"
        "{\"seq\": 6, \"type\": \"location\", " TS ", \"lat\": 300, \"lon\": 1},"
        "{\"type\": \"location\"}"
        "]}";
    OK(events(x, &r, &d, body));
    assert_int_equal(json_integer_value(json_object_get(r, "acked_seq")), 6);
    json_t *alerts = json_object_get(r, "alerts"), *rej = json_object_get(r, "rejected");
    assert_int_equal(json_array_size(alerts), 3);
    json_t *a0 = json_array_get(alerts, 0);
    assert_string_equal(json_string_value(json_object_get(a0, "kind")), "sensitive_word");
    assert_string_equal(json_string_value(json_object_get(a0, "category")), "private_deal");
    assert_string_equal(json_string_value(json_object_get(a0, "pattern")), "飞单");
    assert_string_equal(json_string_value(json_object_get(a0, "action")), "block");
    assert_string_equal(json_string_value(json_object_get(a0, "text")), "飞*单");
    assert_string_equal(json_string_value(json_object_get(a0, "status")), "open");
    assert_string_equal(json_string_value(json_object_get(a0, "ts")), "2026-11-22T10:00:00+08:00");
    assert_string_equal(json_string_value(json_object_get(a0, "employee_id")), x->f.emp1);
    assert_int_equal(json_string_length(json_object_get(a0, "id")), WP_ID_LEN);
    assert_int_equal(json_string_length(json_object_get(a0, "message_id")), WP_ID_LEN);
    assert_int_equal(json_string_length(json_object_get(a0, "customer_id")), WP_ID_LEN);
    json_t *a1 = json_array_get(alerts, 1);
    assert_string_equal(json_string_value(json_object_get(a1, "kind")), "customer_deleted");
    assert_true(json_is_null(json_object_get(a1, "message_id")));
    assert_true(json_equal(json_object_get(a1, "customer_id"), json_object_get(a0, "customer_id")));
    json_t *a2 = json_array_get(alerts, 2);
    assert_string_equal(json_string_value(json_object_get(a2, "kind")), "money");
    assert_string_equal(json_string_value(json_object_get(a2, "category")), "transfer");
    assert_int_equal(json_array_size(rej), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rej, 0), "seq")), 6);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(rej, 0), "reason")),
                           "lat must be"));
    assert_true(json_is_null(json_object_get(json_array_get(rej, 1), "seq")));
    json_decref(r);

    assert_int_equal(count(x, "messages"), 2);
    assert_int_equal(count(x, "calls"), 1);
    assert_int_equal(count(x, "contact_events"), 1);
    assert_int_equal(count(x, "locations"), 1);
    assert_int_equal(count(x, "quarantine"), 2);
    assert_int_equal(count(x, "alerts"), 3);
    assert_int_equal(count(x, "customers"), 2);

    /* the same batch again: nothing new, nothing rejected but the seq-less event again */
    OK(events(x, &r, &d, body));
    assert_int_equal(json_integer_value(json_object_get(r, "acked_seq")), 6);
    assert_int_equal(json_array_size(json_object_get(r, "alerts")), 0);
    assert_int_equal(json_array_size(json_object_get(r, "rejected")), 1);
    json_decref(r);
    assert_int_equal(count(x, "messages"), 2);
    assert_int_equal(count(x, "alerts"), 3);
    assert_int_equal(count(x, "quarantine"), 3);

    /* an empty batch answers the acked seq */
    OK(events(x, &r, &d, "{\"events\": []}"));
    assert_int_equal(json_integer_value(json_object_get(r, "acked_seq")), 6);
    json_decref(r);
    /* shape errors store nothing */
    assert_int_equal(events(x, &r, &d, "{\"events\": 5}"), WP_EINVAL);
    assert_int_equal(events(x, &r, &d, "[]"), WP_EINVAL);
    /* a revoked device */
    OK(wp_store_device_revoke(x->f.st, x->f.tenant, d.id));
    assert_int_equal(events(x, &r, &d,
                            "{\"events\": [{\"seq\": 7, \"type\": \"location\", " TS ","
                            " \"lat\": 1, \"lon\": 1}]}"),
                     WP_EAUTH);
    assert_int_equal(count(x, "locations"), 1);
}

/* --- the writer
 * ----------------------------------------------------------------------------------- */

struct submitter {
    struct ifx *x;
    wp_device d;
    int batches, per_batch;
    int first_seq;
    int err; /* the first error */
    int64_t acked;
};

static void *submit_main(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < s->batches && s->err == 0; i++) {
        wp_buf b;
        wp_buf_init(&b, 1 << 20);
        int err = wp_buf_adds(&b, "{\"events\": [");
        for (int k = 0; k < s->per_batch && err == 0; k++) {
            char peer[300], text[64];
            int64_t seq = s->first_seq + (int64_t)i * s->per_batch + k;
            snprintf(peer, sizeof peer, "wxid_%s_%d", s->d.serial, k % 5);
            snprintf(text, sizeof text, "第%lld条消息", (long long)seq);
            err = add_msg(&b, seq, peer, text);
        }
        if (err == 0)
            err = wp_buf_adds(&b, "]}");
        json_t *body = err == 0 ? json_loads(b.buf, 0, NULL) : NULL;
        json_t *r = NULL;
        if (!body)
            err = WP_EINVAL;
        if (err == 0)
            err = wp_ingest_events(s->x->ing, &r, &s->d, body);
        if (err == 0)
            s->acked = json_integer_value(json_object_get(r, "acked_seq"));
        json_decref(r);
        json_decref(body);
        wp_buf_release(&b);
        s->err = err;
    }
    return NULL;
}

static void test_ingest__concurrent_submitters(void **state)
{
    struct ifx *x = *state;
    enum { THREADS = 8, BATCHES = 25, PER = 20 };
    struct submitter s[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        char serial[16];
        snprintf(serial, sizeof serial, "SN%d", i);
        memset(&s[i], 0, sizeof s[i]);
        s[i].x = x;
        s[i].batches = BATCHES;
        s[i].per_batch = PER;
        s[i].first_seq = 1;
        enroll(x, &s[i].d, i % 2 ? x->f.emp2 : x->f.emp1, serial);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, submit_main, &s[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        if (s[i].err)
            fail_msg("submitter %d: %d (%s)", i, s[i].err, wp_error_last());
        assert_int_equal(s[i].acked, BATCHES * PER);
    }
    assert_int_equal(count(x, "messages"), THREADS * BATCHES * PER);
    assert_int_equal(count(x, "customers"), THREADS * 5);
    assert_int_equal(tfx_raw1(&x->f, "SELECT count(*) FROM devices WHERE acked_seq = 500"),
                     THREADS);
    uint64_t merged = 0, batches = 0, alone = 0;
    wp_writer__stats(wp_ingest__writer(x->ing), &merged, &batches, &alone);
    assert_int_equal(batches, THREADS * BATCHES);
    assert_true(merged >= 1 && merged <= batches);
    assert_int_equal(alone, 0);

    /* everything again: stored once */
    for (int i = 0; i < THREADS; i++) {
        s[i].err = 0;
        assert_int_equal(pthread_create(&t[i], NULL, submit_main, &s[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(s[i].err, 0);
    assert_int_equal(count(x, "messages"), THREADS * BATCHES * PER);
}

/* Two nodes (two ingest objects on one store) take the same device's batches at once, as when
 * an agent retries on another node: the device row's lock keeps each event stored once. */
static void test_ingest__two_nodes_one_device(void **state)
{
    struct ifx *x = *state;
    enum { BATCHES = 30, PER = 10 };
    wp_store_connpool *pool2 = NULL; /* a node has its own connections */
    wp_ingest *node2 = NULL;
    OK(wp_store_connpool_new(&pool2, x->f.dir, x->f.url, 0));
    wp_ingest_config cfg = WP_INGEST_CONFIG_INIT;
    cfg.data_dir = x->f.dir;
    cfg.db_url = x->f.url;
    cfg.pool = pool2;
    OK(wp_ingest_new(&node2, &cfg));
    struct submitter s[2];
    memset(s, 0, sizeof s);
    enroll(x, &s[0].d, x->f.emp1, "SN1");
    s[1].d = s[0].d;
    struct ifx x2 = *x;
    x2.ing = node2;
    s[0].x = x;
    s[1].x = &x2;
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        s[i].batches = BATCHES;
        s[i].per_batch = PER;
        s[i].first_seq = 1;
        assert_int_equal(pthread_create(&t[i], NULL, submit_main, &s[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    wp_ingest_free(node2);
    wp_store_connpool_free(pool2);
    for (int i = 0; i < 2; i++) {
        if (s[i].err)
            fail_msg("node %d: %d", i + 1, s[i].err);
        assert_int_equal(s[i].acked, BATCHES * PER);
    }
    assert_int_equal(count(x, "messages"), BATCHES * PER);
    assert_int_equal(count(x, "customers"), 5);
}

/* Start n submitters of one batch each while the writer holds, so they merge into one
 * transaction; returns after all are done. */
static void held_round(struct ifx *x, struct submitter *s, int n)
{
    pthread_t t[8];
    struct wp_writer *w = wp_ingest__writer(x->ing);
    wp_writer__hold(w, 1);
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&t[i], NULL, submit_main, &s[i]), 0);
    wp_writer__wait_queued(w, (size_t)n);
    wp_writer__hold(w, 0);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

static void test_ingest__writer_merges_and_isolates(void **state)
{
    struct ifx *x = *state;
    struct submitter s[4];
    for (int i = 0; i < 4; i++) {
        char serial[16];
        snprintf(serial, sizeof serial, "SN%d", i);
        memset(&s[i], 0, sizeof s[i]);
        s[i].x = x;
        s[i].batches = 1;
        s[i].per_batch = 10;
        s[i].first_seq = 1;
        enroll(x, &s[i].d, x->f.emp1, serial);
    }
    /* device 2 is revoked after it authenticated: its batch fails, the others commit */
    OK(wp_store_device_revoke(x->f.st, x->f.tenant, s[2].d.id));
    uint64_t m0, b0, a0, m1, b1, a1;
    wp_writer__stats(wp_ingest__writer(x->ing), &m0, &b0, &a0);
    held_round(x, s, 4);
    wp_writer__stats(wp_ingest__writer(x->ing), &m1, &b1, &a1);
    assert_int_equal(m1 - m0, 1); /* one transaction */
    assert_int_equal(b1 - b0, 4);
    assert_int_equal(s[0].err, 0);
    assert_int_equal(s[1].err, 0);
    assert_int_equal(s[2].err, WP_EAUTH);
    assert_int_equal(s[3].err, 0);
    assert_int_equal(count(x, "messages"), 30);

    /* the merged commit fails: each batch is retried alone, and stored once */
    for (int i = 0; i < 4; i++) {
        s[i].err = 0;
        s[i].first_seq = 11;
    }
    wp_writer__fail_commits(wp_ingest__writer(x->ing), 1);
    held_round(x, s, 4);
    wp_writer__stats(wp_ingest__writer(x->ing), &m0, &b0, &a0);
    assert_int_equal(a0 - a1, 4);
    assert_int_equal(s[0].err, 0);
    assert_int_equal(s[1].err, 0);
    assert_int_equal(s[2].err, WP_EAUTH);
    assert_int_equal(s[3].err, 0);
    assert_int_equal(s[0].acked, 20);
    assert_int_equal(count(x, "messages"), 60);
}

/* A merged round counts its usage once per tenant, in its transaction (on PostgreSQL just
 * before the commit): the tenant's usage grows by exactly what the round stored; when the
 * round's sum passes the limit, exactly the batches that do not fit are refused (in queue
 * order), as if each were counted alone; a round whose commit fails counts nothing twice. */
static void test_ingest__round_counts_usage(void **state)
{
    struct ifx *x = *state;
    struct submitter s[3];
    uint64_t m0, b0, a0, m1, b1, a1;
    struct wp_writer *w = wp_ingest__writer(x->ing);
    for (int i = 0; i < 3; i++) {
        char serial[16];
        snprintf(serial, sizeof serial, "SN%d", i);
        memset(&s[i], 0, sizeof s[i]);
        s[i].x = x;
        s[i].batches = 1;
        s[i].per_batch = 10;
        s[i].first_seq = 11; /* every round's seqs and texts have the same length */
        enroll(x, &s[i].d, x->f.emp1, serial);
    }
    wp_writer__stats(w, &m0, &b0, &a0);
    held_round(x, s, 3);
    wp_writer__stats(w, &m1, &b1, &a1);
    assert_int_equal(m1 - m0, 1);
    assert_int_equal(a1 - a0, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s[i].err, 0);
        assert_int_equal(s[i].acked, 20);
    }
    int64_t used = tfx_raw1(&x->f, "SELECT archive_bytes FROM tenant_usage");
    int64_t one = used / 3; /* what one batch adds */
    assert_true(one > 10 * 10);
    assert_int_equal(used, 3 * one);
    assert_int_equal(count(x, "messages"), 30);

    /* room for two and a half batches: the first two queued are stored, the third refused */
    OK(wp_store_usage_set_limit(x->f.st, x->f.tenant, WP_USAGE_ARCHIVE, used + 2 * one + one / 2));
    for (int i = 0; i < 3; i++)
        s[i].first_seq = 21;
    held_round(x, s, 3);
    wp_writer__stats(w, &m0, &b0, &a0);
    assert_int_equal(m0 - m1, 1); /* one round, no batch retried alone */
    assert_int_equal(a0 - a1, 0);
    int refused = 0;
    for (int i = 0; i < 3; i++) {
        if (s[i].err == WP_EQUOTA) {
            refused++;
            assert_int_equal(s[i].acked, 20);
            assert_int_equal(tfx_raw1(&x->f, "SELECT count(*) FROM devices WHERE acked_seq = 20"),
                             1);
        } else {
            assert_int_equal(s[i].err, 0);
            assert_int_equal(s[i].acked, 30);
        }
    }
    assert_int_equal(refused, 1);
    assert_int_equal(count(x, "messages"), 50);
    assert_int_equal(tfx_raw1(&x->f, "SELECT archive_bytes FROM tenant_usage"), used + 2 * one);
    used += 2 * one;

    /* room for all: the merged commit fails, each batch is stored alone and counted once */
    OK(wp_store_usage_set_limit(x->f.st, x->f.tenant, WP_USAGE_ARCHIVE, -1));
    for (int i = 0; i < 3; i++) {
        s[i].err = 0;
        s[i].first_seq = s[i].acked == 20 ? 21 : 31;
    }
    wp_writer__fail_commits(w, 1);
    held_round(x, s, 3);
    wp_writer__stats(w, &m1, &b1, &a1);
    assert_int_equal(a1 - a0, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s[i].err, 0);
        assert_int_equal(s[i].acked, s[i].first_seq + 9);
    }
    assert_int_equal(count(x, "messages"), 80);
    assert_int_equal(tfx_raw1(&x->f, "SELECT archive_bytes FROM tenant_usage"), used + 3 * one);
}

/* --- check, policy, lexicon
 * ------------------------------------------------------------------------ */

static const char *check_action(struct ifx *x, const char *text, json_t **keep)
{
    json_t *body =
        json_pack("{s:s,s:{s:s},s:s}", "channel", "wechat", "peer", "id", "wxid_k2", "text", text);
    OK(wp_ingest_check(x->ing, keep, x->f.tenant, NULL, NULL, body));
    json_decref(body);
    return json_string_value(json_object_get(*keep, "action"));
}

static void test_ingest__check_and_lexicon(void **state)
{
    struct ifx *x = *state;
    json_t *r = NULL;
    assert_string_equal(check_action(x, "今天天气不错", &r), "allow");
    assert_int_equal(json_array_size(json_object_get(r, "matches")), 0);
    assert_string_equal(json_string_value(json_object_get(r, "masked")), "今天天气不错");
    json_decref(r);
    assert_string_equal(check_action(x, "这笔可以飞*单给你", &r), "block");
    assert_string_equal(json_string_value(json_object_get(r, "masked")), "这笔可以***给你");
    json_t *m = json_array_get(json_object_get(r, "matches"), 0);
    assert_int_equal(json_integer_value(json_object_get(m, "start")), 12);
    assert_int_equal(json_integer_value(json_object_get(m, "end")), 19);
    assert_string_equal(json_string_value(json_object_get(m, "text")), "飞*单");
    json_decref(r);
    assert_string_equal(check_action(x, "我的手机13800138000", &r), "mask");
    json_decref(r);

    int64_t v0 = 0, v = 0, lv = 0;
    OK(wp_ingest_policy(x->ing, &v0, NULL, NULL, x->f.tenant, NULL));
    assert_int_equal(v0, 1);
    char *text = NULL;
    size_t len = 0;
    OK(wp_ingest_lexicon_get(x->ing, &lv, &text, &len, x->f.tenant));
    assert_int_equal(len, wp_ingest__default_lexicon_len);
    assert_memory_equal(text, wp_ingest__default_lexicon, len);
    free(text);

    /* a bad lexicon names its line and changes nothing */
    const char *badlex = "苹果\tfruit\tblock\n香蕉\tfruit\tblok\n";
    assert_int_equal(wp_ingest_lexicon_put(x->ing, NULL, &v, x->f.tenant, badlex, strlen(badlex)),
                     WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "lexicon:2:"));
    assert_int_equal(wp_ingest_lexicon_put(x->ing, NULL, &v, x->f.tenant, "\xff\n", 2), WP_EINVAL);
    OK(wp_ingest_policy(x->ing, &v, NULL, NULL, x->f.tenant, NULL));
    assert_int_equal(v, v0);

    const char *lex = "苹果\tfruit\tblock\n";
    OK(wp_ingest_lexicon_put(x->ing, NULL, &v, x->f.tenant, lex, strlen(lex)));
    assert_int_equal(v, v0 + 1);
    /* live at once: check and events */
    assert_string_equal(check_action(x, "买苹果", &r), "block");
    json_decref(r);
    assert_string_equal(check_action(x, "这笔可以飞单给你", &r), "allow");
    json_decref(r);
    wp_device d;
    enroll(x, &d, x->f.emp1, "SN1");
    OK(events(x, &r, &d,
              "{\"events\": [{\"seq\": 1, \"type\": \"message\", " TS ", \"channel\": \"wechat\","
              " \"direction\": \"out\", \"peer\": {\"id\": \"w\"}, \"msgtype\": \"text\","
              " \"text\": \"苹果和飞单\"}]}"));
    json_t *alerts = json_object_get(r, "alerts");
    assert_int_equal(json_array_size(alerts), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(alerts, 0), "category")),
                        "fruit");
    json_decref(r);

    /* the policy: its version is the ETag, the settings move it too */
    json_t *p = NULL;
    OK(wp_ingest_policy(x->ing, &v, NULL, &p, x->f.tenant, NULL));
    assert_int_equal(v, v0 + 1);
    assert_int_equal(json_integer_value(json_object_get(p, "version")), v);
    assert_string_equal(json_string_value(json_object_get(p, "lexicon")), lex);
    assert_true(json_is_array(json_object_get(p, "geofences")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(p, "settings"), "money_alert_fen")),
        WP_MONEY_ALERT_DEFAULT_FEN);
    json_decref(p);
    OK(wp_ingest_money_alert_set(x->ing, NULL, &v, x->f.tenant, 100));
    assert_int_equal(v, v0 + 2);
    assert_int_equal(wp_ingest_money_alert_set(x->ing, NULL, &v, x->f.tenant, -1), WP_EINVAL);
    OK(events(x, &r, &d,
              "{\"events\": [{\"seq\": 2, \"type\": \"message\", " TS ", \"channel\": \"wechat\","
              " \"direction\": \"in\", \"peer\": {\"id\": \"w\"}, \"msgtype\": \"redpacket\","
              " \"amount_fen\": 100}]}"));
    assert_int_equal(json_array_size(json_object_get(r, "alerts")), 1);
    json_decref(r);

    /* another node's put (straight into the store) is seen on the next request */
    const char *lex2 = "香蕉\tfruit\talert\n";
    OK(wp_store_lexicon_put(x->f.st, &v, x->f.tenant, lex2, strlen(lex2)));
    assert_string_equal(check_action(x, "香蕉", &r), "alert");
    json_decref(r);
    assert_string_equal(check_action(x, "苹果", &r), "allow");
    json_decref(r);

    json_t *bad = J("{\"text\": 5}");
    assert_int_equal(wp_ingest_check(x->ing, &r, x->f.tenant, NULL, NULL, bad), WP_EINVAL);
    json_decref(bad);
}

/* --- lexicons of org units
 * ------------------------------------------------------------------------ */

/* The alerts' patterns of a one-message batch, as "a,b,". */
static const char *alerted(struct ifx *x, const wp_device *d, int64_t seq, const char *text)
{
    static char out[256];
    json_t *r = NULL;
    wp_buf b;
    wp_buf_init(&b, 4096);
    OK(wp_buf_adds(&b, "{\"events\": ["));
    OK(add_msg(&b, seq, "wxid_u", text));
    OK(wp_buf_adds(&b, "]}"));
    OK(events(x, &r, d, b.buf));
    wp_buf_release(&b);
    out[0] = '\0';
    json_t *a;
    size_t i;
    json_array_foreach(json_object_get(r, "alerts"), i, a)
    {
        size_t n = strlen(out);
        snprintf(out + n, sizeof out - n, "%s,", json_string_value(json_object_get(a, "pattern")));
    }
    json_decref(r);
    return out;
}

static const char *device_check(struct ifx *x, const wp_device *d, const char *text)
{
    static char action[16];
    json_t *body = json_pack("{s:s}", "text", text), *r = NULL;
    OK(wp_ingest_check(x->ing, &r, x->f.tenant, d->employee_id, NULL, body));
    snprintf(action, sizeof action, "%s", json_string_value(json_object_get(r, "action")));
    json_decref(r);
    json_decref(body);
    return action;
}

static void test_ingest__unit_lexicons(void **state)
{
    struct ifx *x = *state;
    wp_org_unit east, sh, hz;
    wp_employee e;
    wp_device dsh, dhz, dhq;
    int64_t v = 0, vsh = 0, vhz = 0;
    char etag_sh[WP_INGEST_ETAG_MAX], etag_hz[WP_INGEST_ETAG_MAX], etag[WP_INGEST_ETAG_MAX];
    const char *lex = "飞单\tprivate_deal\tblock\n私单\tprivate_deal\talert\n";

    OK(wp_ingest_lexicon_put(x->ing, NULL, &v, x->f.tenant, lex, strlen(lex)));
    OK(wp_store_org_unit_create(x->f.st, &east, x->f.tenant, x->f.unit, "华东", WP_ORG_REGION));
    OK(wp_store_org_unit_create(x->f.st, &sh, x->f.tenant, east.id, "上海一店", WP_ORG_STORE));
    OK(wp_store_org_unit_create(x->f.st, &hz, x->f.tenant, east.id, "杭州一店", WP_ORG_STORE));
    OK(wp_store_employee_create(x->f.st, &e, x->f.tenant, sh.id, "吴", "wu", WP_ROLE_SALES, NULL));
    enroll(x, &dsh, e.id, "SN-SH");
    OK(wp_store_employee_create(x->f.st, &e, x->f.tenant, hz.id, "郑", "zh", WP_ROLE_SALES, NULL));
    enroll(x, &dhz, e.id, "SN-HZ");
    enroll(x, &dhq, x->f.emp1, "SN-HQ");
    OK(wp_ingest_policy(x->ing, &vsh, etag_sh, NULL, x->f.tenant, dsh.employee_id));
    assert_int_equal(vsh, v);
    assert_int_equal(strcmp(etag_sh, "\"") > 0, 1);
    char want[32];
    snprintf(want, sizeof want, "\"%lld\"", (long long)v);
    assert_string_equal(etag_sh, want); /* no unit adds anything: the tenant's, as before */

    /* a word for the Shanghai store only: its phones get it, the other store's do not */
    const char *shlex = "# 上海一店\n看房\tproperty\tblock\nallow:严禁飞单\n";
    wp_scan_union_report rep = {0};
    OK(wp_ingest_unit_lexicon_put(x->ing, NULL, &v, &rep, x->f.tenant, sh.id, shlex,
                                  strlen(shlex)));
    assert_int_equal(rep.n, 1); /* its exception would lift the tenant's block */
    assert_string_equal(rep.items[0].blocked, "飞单");
    wp_scan_union_report_release(&rep);
    assert_string_equal(alerted(x, &dsh, 1, "周末看房吗"), "看房,");
    assert_string_equal(alerted(x, &dhz, 1, "周末看房吗"), "");
    assert_string_equal(alerted(x, &dhq, 1, "周末看房吗"), "");
    assert_string_equal(device_check(x, &dsh, "看房"), "block");
    assert_string_equal(device_check(x, &dhz, "看房"), "allow");
    /* the store's exception does not lift the tenant's block */
    assert_string_equal(alerted(x, &dsh, 2, "公司严禁飞单"), "飞单,");
    assert_string_equal(device_check(x, &dsh, "公司严禁飞单"), "block");

    /* the policy: the Shanghai phone's moved and names the store; Hangzhou's did not */
    json_t *p = NULL;
    int64_t v2 = 0;
    OK(wp_ingest_policy(x->ing, &v2, etag, &p, x->f.tenant, dsh.employee_id));
    assert_int_equal(v2, v);
    assert_true(strcmp(etag, etag_sh) != 0);
    assert_int_equal(strncmp(etag + 1 + snprintf(want, sizeof want, "%lld", (long long)v), "-", 1),
                     0);
    const char *plex = json_string_value(json_object_get(p, "lexicon"));
    assert_non_null(strstr(plex, "看房\tproperty\tblock\n"));
    assert_non_null(strstr(plex, "飞单\tprivate_deal\tblock\n"));
    assert_non_null(strstr(plex, "# not applied (would lift the block of '飞单' set above): "
                                 "allow:严禁飞单\n"));
    /* what the phone gets compiles to the server's verdicts (the agent compiles the same) */
    wp_scanner *agent = NULL;
    OK(wp_scan_compile(&agent, plex, strlen(plex), NULL));
    wp_scanner_unref(agent);
    json_decref(p);
    OK(wp_ingest_policy(x->ing, &vhz, etag_hz, &p, x->f.tenant, dhz.employee_id));
    assert_int_equal(vhz, vsh);
    assert_null(strstr(json_string_value(json_object_get(p, "lexicon")), "看房"));
    json_decref(p);

    /* the region's entry reaches both stores; where both list a word, the store's wins */
    const char *eastlex = "看房\tproperty\talert\n首付贷\tproperty\talert\n";
    OK(wp_ingest_unit_lexicon_put(x->ing, NULL, &v, NULL, x->f.tenant, east.id, eastlex,
                                  strlen(eastlex)));
    assert_string_equal(device_check(x, &dhz, "看房"), "alert");
    assert_string_equal(device_check(x, &dsh, "看房"), "block");
    assert_string_equal(device_check(x, &dsh, "首付贷"), "alert");
    assert_string_equal(device_check(x, &dhq, "首付贷"), "allow");
    OK(wp_ingest_policy(x->ing, &v2, etag, NULL, x->f.tenant, dhz.employee_id));
    assert_true(v2 > vhz);

    /* the tenant's lexicon changes: every chain is compiled again on its next request */
    const char *lex2 = "飞单\tprivate_deal\tblock\n看房\tproperty\tmask\n";
    OK(wp_ingest_lexicon_put(x->ing, NULL, &v, x->f.tenant, lex2, strlen(lex2)));
    assert_string_equal(device_check(x, &dsh, "看房"), "block"); /* the store's still wins */
    assert_string_equal(device_check(x, &dhq, "看房"), "mask");
    assert_string_equal(device_check(x, &dhz, "私单"), "allow");
    /* another node's put of a unit's lexicon (straight into the store) is seen next request */
    const char *hzlex = "私单\tprivate_deal\tblock\n";
    OK(wp_store_unit_lexicon_put(x->f.st, &v, x->f.tenant, hz.id, hzlex, strlen(hzlex), 1));
    assert_string_equal(device_check(x, &dhz, "私单"), "block");

    /* emptied: the store adds nothing, its phones share the region's scanner again */
    OK(wp_ingest_unit_lexicon_put(x->ing, NULL, &v, NULL, x->f.tenant, sh.id, "# none\n", 7));
    assert_string_equal(device_check(x, &dsh, "看房"), "alert");
    char *text = NULL;
    size_t len = 0;
    OK(wp_ingest_unit_lexicon_get(x->ing, &v2, &text, &len, x->f.tenant, sh.id));
    assert_int_equal(v2, v);
    assert_string_equal(text, "# none\n");
    free(text);
    OK(wp_ingest_unit_lexicon_get(x->ing, &v2, &text, &len, x->f.tenant, x->f.unit));
    assert_int_equal(v2, 0);
    assert_string_equal(text, "");
    free(text);

    /* a bad line names its own line; too large is refused; an unknown unit is not found */
    assert_int_equal(wp_ingest_unit_lexicon_put(x->ing, NULL, &v, NULL, x->f.tenant, sh.id,
                                                "a\nb\tc\tblok\n", 11),
                     WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "lexicon:2:"));
    assert_int_equal(wp_ingest_unit_lexicon_put(x->ing, NULL, &v, NULL, x->f.tenant,
                                                "0123456789abcdef01234567", "a\n", 2),
                     WP_ENOTFOUND);
    char *big = malloc(WP_INGEST_UNIT_LEXICON_MAX + 1);
    memset(big, 'a', WP_INGEST_UNIT_LEXICON_MAX + 1);
    assert_int_equal(wp_ingest_unit_lexicon_put(x->ing, NULL, &v, NULL, x->f.tenant, sh.id, big,
                                                WP_INGEST_UNIT_LEXICON_MAX + 1),
                     WP_ELIMIT);
    free(big);

    /* the union as a unit's phones get it, and with a draft in place of its own */
    wp_buf b;
    wp_buf_init(&b, 1 << 20);
    OK(wp_ingest_unit_lexicon_union(x->ing, &b, NULL, etag, x->f.tenant, hz.id, NULL, 0));
    assert_non_null(strstr(b.buf, "# ---- org unit "));
    assert_non_null(strstr(b.buf, hzlex));
    wp_buf_reset(&b);
    OK(wp_ingest_unit_lexicon_union(x->ing, &b, NULL, NULL, x->f.tenant, hz.id, "贷款\n", 7));
    assert_null(strstr(b.buf, hzlex));
    assert_non_null(strstr(b.buf, "贷款\n"));
    wp_buf_release(&b);

    wp_unit_lexicon_info *items = NULL;
    size_t n = 0;
    OK(wp_ingest_unit_lexicons_list(x->ing, &items, &n, x->f.tenant));
    assert_int_equal(n, 3);
    free(items);
}

/* --- media
 * ---------------------------------------------------------------------------------------- */

static void test_ingest__media(void **state)
{
    struct ifx *x = *state;
    const char *ref = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    wp_device d, d2;
    int created = -1;
    enroll(x, &d, x->f.emp1, "SN-MEDIA-1");
    enroll(x, &d2, x->f.emp2, "SN-MEDIA-2");
    const char *dev = d.id;
    OK(wp_ingest_media_put(x->ing, &created, x->f.tenant, dev, ref, "test", 4));
    assert_int_equal(created, 1);
    OK(wp_ingest_media_put(x->ing, &created, x->f.tenant, dev, ref, "test", 4));
    assert_int_equal(created, 0);
    /* another device holding the same file is told nothing of the first (CONTRACT §4) */
    OK(wp_ingest_media_put(x->ing, &created, x->f.tenant, d2.id, ref, "test", 4));
    assert_int_equal(created, 1);
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/media/9f/86/%s", x->f.dir, ref + 7);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 4);

    /* wrong bytes for the name: refused, nothing left behind */
    const char *ref2 = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
    assert_int_equal(wp_ingest_media_put(x->ing, &created, x->f.tenant, dev, ref2, "bar", 3),
                     WP_EINVAL);
    snprintf(path, sizeof path, "%s/media/2c/26", x->f.dir);
    assert_int_equal(tfx_raw1(&x->f, "SELECT count(*) FROM media"), 1);
    char file[sizeof path + 80];
    snprintf(file, sizeof file, "%s/%s", path, ref2 + 7);
    assert_int_equal(stat(file, &sb), -1);
    /* streamed, in pieces */
    wp_media_upload *up = NULL;
    OK(wp_ingest_media_begin(x->ing, &up, x->f.tenant, dev, ref2));
    OK(wp_ingest_media_write(up, "fo", 2));
    OK(wp_ingest_media_write(up, "o", 1));
    OK(wp_ingest_media_finish(up, &created));
    assert_int_equal(created, 1);
    int fd = -1;
    wp_media_reader *rd = NULL;
    int64_t size = 0;
    OK(wp_ingest_media_open(x->ing, &fd, &rd, &size, x->f.tenant, ref2));
    char buf[8] = "";
    assert_int_equal(read(fd, buf, sizeof buf), 3);
    assert_memory_equal(buf, "foo", 3);
    assert_int_equal(size, 3);
    close(fd);
    assert_int_equal(wp_ingest_media_put(x->ing, &created, x->f.tenant, dev, "sha256:xyz", "a", 1),
                     WP_EINVAL);

    /* another tenant: the file is shared on disk, the row is its own */
    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(x->f.st, other, "Other"));
    assert_int_equal(wp_ingest_media_open(x->ing, &fd, &rd, &size, other, ref), WP_ENOTFOUND);
    wp_org_unit ou;
    wp_employee oe;
    wp_device od;
    char code[WP_ENROLL_CODE_MAX], token[WP_DEVICE_TOKEN_MAX];
    OK(wp_store_org_unit_create(x->f.st, &ou, other, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_employee_create(x->f.st, &oe, other, ou.id, "Wang", "wang", WP_ROLE_SALES, NULL));
    OK(wp_ingest_enrollment_code_create(x->ing, NULL, code, other, oe.id, 0));
    OK(wp_ingest_enroll(x->ing, NULL, &od, token, code, "SN-OTHER", "Pixel 9"));
    OK(wp_ingest_media_put(x->ing, &created, other, od.id, ref, "test", 4));
    assert_int_equal(created, 1);
}

struct moved {
    int calls, damaged, stray; /* reports; of them, bar's bytes and the stray file */
};

static void moved_bad(void *ctx, const char *path, const char *why)
{
    struct moved *m = ctx;
    m->calls++;
    m->damaged += strstr(path, "fcde2b2edba56bf4") && strstr(why, "no longer match");
    m->stray += strstr(path, "notes.txt") && strstr(why, "not a media file's name");
}

static int exists(const char *root, const char *hex)
{
    char path[PATH_MAX + 128];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%.2s/%.2s/%s", root, hex, hex + 2, hex);
    return stat(path, &sb) == 0;
}

/* A node's own DIR/media moved into a shared media root (docs/internals/cluster.md): a file
 * the root lacks is copied with its hash checked and removed from DIR/media; one the root has
 * whole is just removed; one whose bytes no longer match its name stays, reported; then an
 * ingest on that root serves them, and new uploads go there. */
static void test_ingest__media_dir_adopt(void **state)
{
    struct ifx *x = *state;
    const char *test = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const char *foo = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
    const char *bar = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9";
    char own[PATH_MAX + 16], shared[PATH_MAX + 16], ref[72], path[PATH_MAX + 128];
    wp_device d;
    int created;
    enroll(x, &d, x->f.emp1, "SN-ADOPT");
    snprintf(ref, sizeof ref, "sha256:%s", test);
    OK(wp_ingest_media_put(x->ing, &created, x->f.tenant, d.id, ref, "test", 4));
    snprintf(ref, sizeof ref, "sha256:%s", foo);
    OK(wp_ingest_media_put(x->ing, &created, x->f.tenant, d.id, ref, "foo", 3));
    snprintf(ref, sizeof ref, "sha256:%s", bar);
    OK(wp_ingest_media_put(x->ing, &created, x->f.tenant, d.id, ref, "bar", 3));
    snprintf(own, sizeof own, "%s/media", x->f.dir);
    snprintf(shared, sizeof shared, "%s/shared", x->f.dir);
    assert_int_equal(mkdir(shared, 0700), 0);
    /* bar's bytes changed on disk; foo is in the shared root already */
    snprintf(path, sizeof path, "%s/fc/de/%s", own, bar);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("baz", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/2c", shared);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/2c/26", shared);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/2c/26/%s", shared, foo);
    assert_non_null(f = fopen(path, "wb"));
    fputs("foo", f);
    fclose(f);

    /* a stray file with no media name: reported, left alone */
    snprintf(path, sizeof path, "%s/fc/de/notes.txt", own);
    assert_non_null(f = fopen(path, "wb"));
    fclose(f);
    struct moved m = {0};
    size_t files = 99;
    int64_t bytes = 99;
    OK(wp_ingest_media_adopt(own, shared, &files, &bytes, moved_bad, &m));
    assert_int_equal(files, 1);
    assert_int_equal(bytes, 4);
    assert_int_equal(m.calls, 2);
    assert_int_equal(m.damaged, 1);
    assert_int_equal(m.stray, 1);
    assert_int_equal(unlink(path), 0);
    m.calls = 1;
    assert_true(exists(shared, test) && exists(shared, foo) && !exists(shared, bar));
    assert_true(!exists(own, test) && !exists(own, foo) && exists(own, bar));
    /* again: nothing more to move, the damaged file still reported */
    OK(wp_ingest_media_adopt(own, shared, &files, &bytes, moved_bad, &m));
    assert_int_equal(files, 0);
    assert_int_equal(m.calls, 2);

    /* an ingest on the shared root serves what moved and stores new uploads there */
    wp_ingest *ing = NULL;
    wp_ingest_config cfg = WP_INGEST_CONFIG_INIT;
    cfg.data_dir = x->f.dir;
    cfg.db_url = x->f.url;
    cfg.pool = x->pool;
    cfg.media_dir = shared;
    OK(wp_ingest_new(&ing, &cfg));
    int fd = -1;
    wp_media_reader *rd = NULL;
    int64_t size = 0;
    snprintf(ref, sizeof ref, "sha256:%s", test);
    OK(wp_ingest_media_open(ing, &fd, &rd, &size, x->f.tenant, ref));
    assert_int_equal(size, 4);
    close(fd);
    snprintf(ref, sizeof ref, "sha256:%s", bar);
    assert_int_equal(wp_ingest_media_open(ing, &fd, &rd, &size, x->f.tenant, ref), WP_EIO);
    const char *qux = "21f58d27f827d295ffcd860c65045685e3baf1ad4506caa0140113b316647534";
    snprintf(ref, sizeof ref, "sha256:%s", qux);
    OK(wp_ingest_media_put(ing, &created, x->f.tenant, d.id, ref, "qux", 3));
    assert_true(exists(shared, qux) && !exists(own, qux));
    size_t checked = 0;
    OK(wp_ingest_media_check_all(shared, &checked, moved_bad, &m));
    assert_int_equal(checked, 3);
    assert_int_equal(m.calls, 2);
    wp_ingest_free(ing);
}

/* Past a storage limit: a batch is WP_EQUOTA with nothing stored or acked, and the same batch
 * passes once the limit is raised; a media file new to the tenant is not kept (on disk
 * neither), one it has passes. */
static void test_ingest__storage_limits(void **state)
{
    struct ifx *x = *state;
    wp_device d;
    json_t *r = NULL;
    wp_buf b;
    wp_buf_init(&b, 1 << 16);
    enroll(x, &d, x->f.emp1, "SN1");
    OK(wp_buf_adds(&b, "{\"events\": ["));
    OK(add_msg(&b, 1, "wxid_q", "quota"));
    OK(wp_buf_adds(&b, "]}"));
    OK(wp_store_usage_set_limit(x->f.st, x->f.tenant, WP_USAGE_ARCHIVE, 10));
    assert_int_equal(events(x, &r, &d, b.buf), WP_EQUOTA);
    assert_null(r);
    assert_int_equal(wp_usage_refusal_last()->kind, WP_USAGE_ARCHIVE);
    assert_int_equal(wp_usage_refusal_last()->used, 0);
    int64_t need = wp_usage_refusal_last()->needed;
    assert_true(need > 10);
    assert_int_equal(count(x, "messages"), 0);
    assert_int_equal(tfx_raw1(&x->f, "SELECT acked_seq FROM devices"), 0);
    OK(wp_store_usage_set_limit(x->f.st, x->f.tenant, WP_USAGE_ARCHIVE, need));
    OK(events(x, &r, &d, b.buf));
    assert_int_equal(json_integer_value(json_object_get(r, "acked_seq")), 1);
    json_decref(r);
    assert_int_equal(count(x, "messages"), 1);
    wp_buf_release(&b);

    const char *ref = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const char *ref2 = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
    int created = -1;
    OK(wp_store_usage_set_limit(x->f.st, x->f.tenant, WP_USAGE_MEDIA, 5));
    OK(wp_ingest_media_put(x->ing, &created, x->f.tenant, d.id, ref, "test", 4));
    assert_int_equal(wp_ingest_media_admit(x->ing, x->f.tenant, ref2, 3), WP_EQUOTA);
    assert_int_equal(wp_ingest_media_admit(x->ing, x->f.tenant, ref, 4), 0); /* it has it */
    OK(wp_ingest_media_admit(x->ing, x->f.tenant, ref2, 1));
    assert_int_equal(wp_ingest_media_put(x->ing, &created, x->f.tenant, d.id, ref2, "foo", 3),
                     WP_EQUOTA);
    char path[PATH_MAX + 128];
    struct stat sb;
    snprintf(path, sizeof path, "%s/media/2c/26/%s", x->f.dir, ref2 + 7);
    assert_int_equal(stat(path, &sb), -1);
    OK(wp_ingest_media_put(x->ing, &created, x->f.tenant, d.id, ref, "test", 4));
    assert_int_equal(created, 0);
    assert_int_equal(tfx_raw1(&x->f, "SELECT media_bytes FROM tenant_usage"), 4);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest suite[] = {
    T(test_ingest__enroll),
    T(test_ingest__events_reply),
    T(test_ingest__concurrent_submitters),
    T(test_ingest__writer_merges_and_isolates),
    T(test_ingest__round_counts_usage),
    T(test_ingest__two_nodes_one_device),
    T(test_ingest__check_and_lexicon),
    T(test_ingest__unit_lexicons),
    T(test_ingest__media),
    T(test_ingest__media_dir_adopt),
    T(test_ingest__storage_limits),
};

int main(void)
{
    int failed = _cmocka_run_group_tests("ingest_event", event_tests, event_tests_n, NULL, NULL);
    failed += tfx_run("ingest", suite, sizeof suite / sizeof *suite);
    return failed ? 1 : 0;
}
