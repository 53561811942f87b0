/* SPDX-License-Identifier: MIT */
/* Archive tests (migration 0002 and its operations), on SQLite and PostgreSQL. */
#include "archive_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/alerts.h"
#include "store/customers.h"
#include "store/db.h"
#include "store/devices.h"
#include "store/events.h"
#include "store/grams.h"
#include "store/messages.h"
#include "store/migrations.h"
#include "store/org.h"
#include "store/people.h"
#include "store/policy.h"
#include "store/scope.h"
#include "store/store.h"
#include "store/usage.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/id.h"

#define T0 1795831200000000LL /* 2026-11-28T10:00:00+08:00 */

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

/* --- building events ------------------------------------------------------------------------ */

static wp_event ev(enum wp_event_type type, int64_t seq)
{
    wp_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.seq = seq;
    e.raw = "{}";
    e.ts_us = T0 + seq * 1000000;
    e.size = e.amount_fen = e.duration_s = e.accuracy_cm = -1;
    return e;
}

static wp_event msg(int64_t seq, const char *peer_id, const char *phone, const char *text)
{
    wp_event e = ev(WP_EVENT_MESSAGE, seq);
    e.channel = "wechat";
    e.direction = WP_DIR_OUT;
    e.peer.id = peer_id;
    e.peer.phone = phone;
    e.peer.name = peer_id ? peer_id : phone;
    e.chat = peer_id;
    e.msgtype = "text";
    e.text = text;
    return e;
}

/* A device of employee emp enrolled in f's tenant; its id into out. */
static void device(struct tfx *f, char out[WP_ID_LEN + 1], const char *emp, const char *serial)
{
    char code[65], token[65], raw[80];
    wp_device d;
    snprintf(raw, sizeof raw, "code-%s", serial);
    wp_token_hash(code, raw);
    snprintf(raw, sizeof raw, "token-%s", serial);
    wp_token_hash(token, raw);
    OK(wp_store_enrollment_code_create(f->st, f->tenant, emp, code, wp_time_now_us() + 60000000));
    OK(wp_store_device_enroll(f->st, &d, code, serial, "Pixel", token, wp_time_now_us()));
    memcpy(out, d.id, WP_ID_LEN + 1);
}

static int apply(struct tfx *f, const char *dev, const char *emp, wp_event *events, size_t n,
                 int64_t *acked)
{
    wp_event_batch b;
    memset(&b, 0, sizeof b);
    b.tenant_id = f->tenant;
    b.device_id = dev;
    b.employee_id = emp;
    b.events = events;
    b.n = n;
    b.now_us = wp_time_now_us();
    OK(wp_store_begin(f->st));
    int err = wp_store_events_apply(f->st, &b);
    if (err == 0)
        OK(wp_store_commit(f->st));
    else
        OK(wp_store_rollback(f->st));
    if (acked)
        *acked = b.acked_seq;
    return err;
}

static int64_t count(struct tfx *f, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return tfx_raw1(f, sql);
}

/* --- schema ------------------------------------------------------------------------------------
 */

static void test_archive__schema(void **state)
{
    struct tfx *f = *state;
    int v = 0;
    OK(wp_store_schema_version(f->st, &v));
    assert_int_equal(v, wp_store_schema_latest());
    const char *tables[] = {"devices",        "enrollment_codes",
                            "customers",      "customer_identities",
                            "messages",       "calls",
                            "contact_events", "locations",
                            "alerts",         "quarantine",
                            "media",          "lexicons",
                            "tenant_policy",  "media_uploads"};
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
        assert_int_equal(count(f, tables[i]), 0);
    /* Every table but tenants and schema_version has tenant_id: on SQLite the FTS5 table has
     * it, and only its shadow tables (FTS5's own storage) do not. wrapped_keys names its
     * owner instead: a tenant's id, or "deployment" for the audit keys (docs/internals/keys.md). */
    assert_int_equal(
        tfx_raw(
            f,
            "SELECT count(*) FROM sqlite_master m WHERE m.type = 'table'"
            " AND m.name NOT IN ('tenants', 'schema_version', 'wrapped_keys')"
            " AND m.name NOT LIKE 'sqlite_%'"
            " AND NOT EXISTS (SELECT 1 FROM sqlite_master v WHERE v.type = 'table'"
            " AND v.sql LIKE 'CREATE VIRTUAL TABLE%' AND m.name LIKE v.name || '\\_%' ESCAPE"
            " '\\')"
            " AND NOT EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'tenant_id')",
            "SELECT count(*) FROM pg_tables t WHERE t.schemaname = current_schema()"
            " AND t.tablename NOT IN ('tenants', 'schema_version', 'wrapped_keys')"
            " AND NOT EXISTS (SELECT 1"
            " FROM information_schema.columns c WHERE c.table_schema = t.schemaname"
            " AND c.table_name = t.tablename AND c.column_name = 'tenant_id')"),
        0);
}

/* --- grams (backend-free) ------------------------------------------------------------------------
 */

static char *grams(const char *text, int query, enum wp_grams_form form)
{
    wp_buf b;
    wp_buf_init(&b, 1 << 20);
    OK(wp_grams__make(&b, NULL, text, strlen(text), query, form));
    return wp_buf_detach(&b, NULL);
}

static void test_archive__grams(void **state)
{
    char *g = grams("飞单Ab", 0, WP_GRAMS_SPACED);
    /* sorted bytewise: ASCII first, then the CJK grams */
    assert_string_equal(g, "a ab b 单 单a 飞 飞单");
    free(g);
    g = grams("飞", 1, WP_GRAMS_FTS_QUERY);
    assert_string_equal(g, "\"飞\"");
    free(g);
    g = grams("飞单飞单", 1, WP_GRAMS_FTS_QUERY);
    assert_string_equal(g, "\"单飞\" \"飞单\"");
    free(g);
    g = grams("Hi, 你好!", 1, WP_GRAMS_PG_ARRAY);
    assert_string_equal(g, "{\"hi\",\"你好\"}");
    free(g);
    g = grams("x", 1, WP_GRAMS_PG_ARRAY);
    assert_string_equal(g, "{\"x\"}");
    free(g);
    g = grams("!!! ...", 1, WP_GRAMS_PG_ARRAY);
    assert_string_equal(g, "{}");
    free(g);
    g = grams("ÀÉ", 0, WP_GRAMS_SPACED); /* Unicode lowercase */
    assert_string_equal(g, "à àé é");
    free(g);

    size_t(*hits)[2] = NULL, n = 0;
    const char *t = "Hello hello HELLO";
    OK(wp_grams__find(&hits, &n, t, strlen(t), "hELLo", 5));
    assert_int_equal(n, 3);
    assert_int_equal(hits[0][0], 0);
    assert_int_equal(hits[1][0], 6);
    assert_int_equal(hits[2][0], 12);
    assert_int_equal(hits[2][1], 17);
    free(hits);
    t = "这笔飞单飞单";
    OK(wp_grams__find(&hits, &n, t, strlen(t), "飞单", strlen("飞单")));
    assert_int_equal(n, 2);
    assert_int_equal(hits[0][0], 6);
    assert_int_equal(hits[0][1], 12);
    assert_int_equal(hits[1][0], 12);
    free(hits);
    OK(wp_grams__find(&hits, &n, "aaaa", 4, "aa", 2)); /* without overlap */
    assert_int_equal(n, 2);
    free(hits);
    OK(wp_grams__find(&hits, &n, "ab ba", 5, "aba", 3));
    assert_int_equal(n, 0);
    assert_null(hits);
}

/* --- devices and enrollment ---------------------------------------------------------------------
 */

static void test_archive__enroll(void **state)
{
    struct tfx *f = *state;
    char code[65], tok[65], tok2[65];
    wp_device d, d2, got;
    wp_time_set_fake(T0);
    wp_token_hash(code, "c1");
    wp_token_hash(tok, "t1");
    wp_token_hash(tok2, "t2");

    OK(wp_store_enrollment_code_create(f->st, f->tenant, f->emp1, code, T0 + 3600000000LL));
    assert_int_equal(wp_store_enrollment_code_create(f->st, f->tenant, f->emp1, code, T0 + 1),
                     WP_EEXISTS);
    OK(wp_store_device_enroll(f->st, &d, code, "SN1", "Mi 14", tok, T0));
    assert_string_equal(d.tenant_id, f->tenant);
    assert_string_equal(d.employee_id, f->emp1);
    assert_int_equal(d.acked_seq, 0);
    /* a code works once */
    assert_int_equal(wp_store_device_enroll(f->st, &d2, code, "SN2", "Mi 14", tok2, T0), WP_EAUTH);
    assert_string_equal(wp_error_last(), "enrollment code is unknown, used or expired");
    OK(wp_store_device_auth(f->st, &got, tok));
    assert_string_equal(got.id, d.id);
    assert_int_equal(wp_store_device_auth(f->st, &got, tok2), WP_EAUTH);
    char nothex[65] = "nothex";
    assert_int_equal(wp_store_device_auth(f->st, &got, nothex), WP_EAUTH);

    /* expired */
    wp_token_hash(code, "c2");
    OK(wp_store_enrollment_code_create(f->st, f->tenant, f->emp1, code, T0 + 10));
    assert_int_equal(wp_store_device_enroll(f->st, &d2, code, "SN2", "m", tok2, T0 + 10), WP_EAUTH);
    OK(wp_store_device_enroll(f->st, &d2, code, "SN2", "m", tok2, T0 + 9));

    /* bad serial */
    wp_token_hash(code, "c3");
    OK(wp_store_enrollment_code_create(f->st, f->tenant, f->emp1, code, T0 + 3600000000LL));
    char longs[300];
    memset(longs, 'x', 299);
    longs[299] = '\0';
    assert_int_equal(wp_store_device_enroll(f->st, &d2, code, longs, "m", tok2, T0), WP_EINVAL);
    assert_int_equal(wp_store_device_enroll(f->st, &d2, code, "", "m", tok2, T0), WP_EINVAL);

    /* a phone enrolled again: the old device stops working */
    wp_device d3;
    wp_token_hash(tok2, "t3");
    OK(wp_store_device_enroll(f->st, &d3, code, "SN1", "Mi 14", tok2, T0));
    assert_int_equal(wp_store_device_auth(f->st, &got, tok), WP_EAUTH);
    OK(wp_store_device_get(f->st, &got, f->tenant, d.id));
    assert_int_equal(got.revoked, 1);
    OK(wp_store_device_auth(f->st, &got, tok2));

    /* an employee who left: the device stops at once */
    tfx_exec(f, "UPDATE employees SET active = 0");
    assert_int_equal(wp_store_device_auth(f->st, &got, tok2), WP_EAUTH);
    wp_token_hash(code, "c4");
    assert_int_equal(wp_store_enrollment_code_create(f->st, f->tenant, f->emp1, code, T0 + 100),
                     WP_EINVAL);
    tfx_exec(f, "UPDATE employees SET active = 1");
    OK(wp_store_device_revoke(f->st, f->tenant, d3.id));
    assert_int_equal(wp_store_device_auth(f->st, &got, tok2), WP_EAUTH);

    /* a device disabled for a while (migration 0020): refused until enabled; a revoked one
     * cannot be enabled */
    wp_device d4;
    char tok4[65];
    wp_token_hash(code, "c5");
    wp_token_hash(tok4, "t4");
    OK(wp_store_enrollment_code_create(f->st, f->tenant, f->emp1, code, T0 + 3600000000LL));
    OK(wp_store_device_enroll(f->st, &d4, code, "SN4", "Mi 14", tok4, T0));
    assert_int_equal(d4.disabled_us, 0);
    OK(wp_store_device_set_disabled(f->st, &got, f->tenant, d4.id, 1, T0 + 5));
    assert_int_equal(got.disabled_us, T0 + 5);
    assert_int_equal(wp_store_device_auth(f->st, &got, tok4), WP_EAUTH);
    OK(wp_store_device_set_disabled(f->st, &got, f->tenant, d4.id, 1, T0 + 9));
    assert_int_equal(got.disabled_us, T0 + 5); /* disabled since the first time */
    OK(wp_store_device_set_disabled(f->st, &got, f->tenant, d4.id, 0, T0 + 10));
    assert_int_equal(got.disabled_us, 0);
    OK(wp_store_device_auth(f->st, &got, tok4));
    assert_string_equal(got.id, d4.id);
    assert_int_equal(wp_store_device_set_disabled(f->st, NULL, f->tenant, d3.id, 0, T0), WP_EBUSY);
    assert_int_equal(wp_store_device_set_disabled(f->st, NULL, f->tenant, d3.id, 1, T0), WP_EBUSY);

    /* another tenant sees nothing */
    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    assert_int_equal(wp_store_device_get(f->st, &got, other, d.id), WP_ENOTFOUND);
    assert_int_equal(wp_store_device_revoke(f->st, other, d.id), WP_ENOTFOUND);
    assert_int_equal(wp_store_device_set_disabled(f->st, NULL, other, d4.id, 1, T0), WP_ENOTFOUND);
    assert_int_equal(wp_store_enrollment_code_create(f->st, other, f->emp1, code, T0 + 100),
                     WP_ENOTFOUND);
}

static void test_archive__devices_list(void **state)
{
    struct tfx *f = *state;
    char ids[7][WP_ID_LEN + 1], serial[16];
    for (int i = 0; i < 7; i++) {
        wp_time_set_fake(T0 + i * 1000000);
        snprintf(serial, sizeof serial, "SN%d", i);
        device(f, ids[i], i < 4 ? f->emp1 : f->emp2, serial);
    }
    wp_device_filter flt = {.tenant_id = f->tenant, .limit = 3};
    wp_device_page p;
    int seen = 0;
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    do {
        flt.cursor = cursor;
        OK(wp_store_devices_list(f->st, &p, &flt));
        for (size_t i = 0; i < p.n; i++, seen++)
            assert_string_equal(p.items[i].id, ids[6 - seen]); /* newest first */
        memcpy(cursor, p.next_cursor, sizeof cursor);
        wp_device_page_release(&p);
    } while (cursor[0]);
    assert_int_equal(seen, 7);
    flt.employee_id = f->emp2;
    flt.cursor = NULL;
    flt.limit = 0;
    OK(wp_store_devices_list(f->st, &p, &flt));
    assert_int_equal(p.n, 3);
    assert_string_equal(p.next_cursor, "");
    wp_device_page_release(&p);
    /* one employee's scope: its devices, and none of another's */
    wp_scope emp1 = {.employee_id = f->emp1};
    flt.scope = &emp1;
    OK(wp_store_devices_list(f->st, &p, &flt));
    assert_int_equal(p.n, 0);
    wp_device_page_release(&p);
    flt.employee_id = NULL;
    OK(wp_store_devices_list(f->st, &p, &flt));
    assert_int_equal(p.n, 4);
    assert_string_equal(p.items[0].employee_id, f->emp1);
    wp_device_page_release(&p);
    flt.scope = NULL;
    flt.cursor = "garbage";
    assert_int_equal(wp_store_devices_list(f->st, &p, &flt), WP_EINVAL);
    flt.cursor = NULL;
    flt.limit = WP_PAGE_MAX + 1;
    assert_int_equal(wp_store_devices_list(f->st, &p, &flt), WP_EINVAL);
}

/* --- applying batches
 * ------------------------------------------------------------------------------ */

static void test_archive__resend_stores_nothing_twice(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1];
    int64_t acked = 0;
    device(f, dev, f->emp1, "SN1");
    wp_event e[4] = {msg(1, "wxid_a", NULL, "你好"), msg(2, "wxid_a", NULL, "在吗"),
                     ev(WP_EVENT_LOCATION, 3), ev(WP_EVENT_CALL, 4)};
    e[2].lat_e7 = 312300000;
    e[2].lon_e7 = 1214700000;
    e[3].direction = WP_DIR_IN;
    e[3].channel = "phone";
    e[3].peer.phone = "13900139000";
    e[3].duration_s = 63;
    OK(apply(f, dev, f->emp1, e, 4, &acked));
    assert_int_equal(acked, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(e[i].applied, 1);
        assert_int_equal(strlen(e[i].id), WP_ID_LEN);
    }
    assert_int_equal(strlen(e[0].customer_id), WP_ID_LEN);
    assert_string_equal(e[0].customer_id, e[1].customer_id);
    assert_int_equal(e[2].customer_id[0], 0);
    OK(apply(f, dev, f->emp1, e, 4, &acked));
    assert_int_equal(acked, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(e[i].applied, 0);
    assert_int_equal(count(f, "messages"), 2);
    assert_int_equal(count(f, "locations"), 1);
    assert_int_equal(count(f, "calls"), 1);
    assert_int_equal(count(f, "customers"), 2);
    assert_int_equal(tfx_raw1(f, "SELECT acked_seq FROM devices"), 4);

    /* old and new mixed: only the new ones */
    wp_event m[3] = {msg(3, "wxid_a", NULL, "x"), msg(5, "wxid_a", NULL, "y"),
                     msg(6, "wxid_a", NULL, "z")};
    OK(apply(f, dev, f->emp1, m, 3, &acked));
    assert_int_equal(acked, 6);
    assert_int_equal(m[0].applied, 0);
    assert_int_equal(m[1].applied, 1);
    assert_int_equal(count(f, "messages"), 4);

    /* a revoked device stores nothing */
    OK(wp_store_device_revoke(f->st, f->tenant, dev));
    wp_event r = msg(7, "wxid_a", NULL, "late");
    assert_int_equal(apply(f, dev, f->emp1, &r, 1, NULL), WP_EAUTH);
    assert_int_equal(count(f, "messages"), 4);
}

static void test_archive__quarantine(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1];
    int64_t acked = 0;
    device(f, dev, f->emp1, "SN1");
    wp_event e[4] = {msg(1, "wxid_a", NULL, "ok"), ev(WP_EVENT_REJECTED, 2),
                     ev(WP_EVENT_REJECTED, 0), ev(WP_EVENT_REJECTED, 1)};
    e[1].reason = "direction must be \"in\" or \"out\"";
    e[1].raw = "{\"seq\":2,\"type\":\"message\"}";
    e[2].reason = "seq is missing or not a positive integer";
    e[2].raw = "{\"type\":\"message\"}";
    e[3].reason = "seq 1 is not greater than 2 before it";
    OK(apply(f, dev, f->emp1, e, 4, &acked));
    assert_int_equal(acked, 2);
    assert_int_equal(count(f, "quarantine"), 3);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM quarantine WHERE seq = 2 AND raw ="
                                 " '{\"seq\":2,\"type\":\"message\"}'"),
                     1);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM quarantine WHERE seq IS NULL"), 2);
    assert_int_equal(count(f, "messages"), 1);
    /* resent: the ones with a seq are not stored again */
    OK(apply(f, dev, f->emp1, e, 2, &acked));
    assert_int_equal(count(f, "quarantine"), 3);
}

/* Is the quarantine row of seq exactly: raw the first keep bytes of whole, raw_len and
 * raw_sha256 those of whole? */
static int quarantined_as(struct tfx *f, int64_t seq, const char *whole, size_t keep)
{
    char sha[65], *sql = malloc(keep + 512);
    assert_non_null(sql);
    wp_token_hash(sha, whole);
    int n = snprintf(sql, keep + 512,
                     "SELECT count(*) FROM quarantine WHERE seq = %lld AND raw_len = %zu AND"
                     " raw_sha256 = '%s' AND raw = '",
                     (long long)seq, strlen(whole), sha);
    memcpy(sql + n, whole, keep); /* the test's raws hold no quote */
    snprintf(sql + n + keep, 512 - (size_t)n, "'");
    int64_t c = tfx_raw1(f, sql);
    free(sql);
    return c == 1;
}

/* A rejected event keeps its first WP_QUARANTINE_RAW_MAX bytes, cut before a character that
 * does not fit whole, with the length and SHA-256 of all of it. */
static void test_archive__quarantine_bounded(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1];
    device(f, dev, f->emp1, "SN1");
    wp_buf big, cjk, edge;
    wp_buf_init(&big, 1 << 20);
    wp_buf_init(&cjk, 1 << 20);
    wp_buf_init(&edge, 1 << 20);
    OK(wp_buf_adds(&big, "{\"seq\":1,\"text\":\""));
    for (int i = 0; i < 10000; i++)
        OK(wp_buf_addc(&big, 'x'));
    OK(wp_buf_adds(&big, "\"}"));
    OK(wp_buf_adds(&cjk, "{\"seq\":2,\"text\":\"")); /* 17 bytes, then 3 bytes a character */
    for (int i = 0; i < 3000; i++)
        OK(wp_buf_adds(&cjk, "飞"));
    OK(wp_buf_adds(&cjk, "\"}"));
    while (edge.len < WP_QUARANTINE_RAW_MAX) /* exactly the limit: kept whole */
        OK(wp_buf_addc(&edge, 'y'));
    wp_event e[4] = {ev(WP_EVENT_REJECTED, 1), ev(WP_EVENT_REJECTED, 2), ev(WP_EVENT_REJECTED, 3),
                     ev(WP_EVENT_REJECTED, 4)};
    e[0].raw = big.buf;
    e[1].raw = cjk.buf;
    e[2].raw = edge.buf;
    e[3].raw = "{\"seq\":4}";
    for (int i = 0; i < 4; i++)
        e[i].reason = "ts 'never' is not an rfc 3339 time";
    int64_t acked = 0;
    OK(apply(f, dev, f->emp1, e, 4, &acked));
    assert_int_equal(acked, 4);
    assert_true(quarantined_as(f, 1, big.buf, WP_QUARANTINE_RAW_MAX));
    /* 4094 bytes: the 1360th character would end at 4097 */
    assert_true(quarantined_as(f, 2, cjk.buf, 17 + 1359 * 3));
    assert_true(quarantined_as(f, 3, edge.buf, WP_QUARANTINE_RAW_MAX));
    assert_true(quarantined_as(f, 4, "{\"seq\":4}", 9));
    wp_buf_release(&big);
    wp_buf_release(&cjk);
    wp_buf_release(&edge);
}

static void test_archive__peers(void **state)
{
    struct tfx *f = *state;
    char d1[WP_ID_LEN + 1], d2[WP_ID_LEN + 1];
    device(f, d1, f->emp1, "SN1");
    device(f, d2, f->emp2, "SN2");

    /* first seen by channel id only */
    wp_event a = msg(1, "wxid_k2", NULL, "hi");
    a.peer.name = "王女士";
    OK(apply(f, d1, f->emp1, &a, 1, NULL));
    wp_customer c;
    OK(wp_store_customer_get(f->st, &c, f->tenant, a.customer_id));
    assert_string_equal(c.name, "王女士");
    assert_string_equal(c.owner_employee_id, f->emp1);
    assert_string_equal(c.phone, "");
    assert_int_equal(c.last_contact_us, a.ts_us);

    /* the phone learned later joins the same customer */
    wp_event b = msg(2, "wxid_k2", "13800138000", "hi again");
    OK(apply(f, d1, f->emp1, &b, 1, NULL));
    assert_string_equal(b.customer_id, a.customer_id);
    OK(wp_store_customer_get(f->st, &c, f->tenant, a.customer_id));
    assert_string_equal(c.phone, "13800138000");
    char **ids = NULL;
    size_t n = 0;
    OK(wp_store_customer_identities(f->st, &ids, &n, f->tenant, a.customer_id));
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "phone:13800138000");
    assert_string_equal(ids[1], "wechat:wxid_k2");
    wp_strings_free(ids, n);

    /* another employee's device: a call by phone finds the same customer, still owned by the
     * first employee */
    wp_event call = ev(WP_EVENT_CALL, 1);
    call.channel = "phone";
    call.direction = WP_DIR_IN;
    call.peer.phone = "13800138000";
    OK(apply(f, d2, f->emp2, &call, 1, NULL));
    assert_string_equal(call.customer_id, a.customer_id);
    OK(wp_store_customer_get(f->st, &c, f->tenant, a.customer_id));
    assert_string_equal(c.owner_employee_id, f->emp1);

    /* phone first, then the channel id: by phone */
    wp_event w = msg(2, "wxid_other", "13800138000", "x");
    w.channel = "wecom";
    OK(apply(f, d2, f->emp2, &w, 1, NULL));
    assert_string_equal(w.customer_id, a.customer_id);
    /* a new peer on emp2's device: owned by emp2 */
    wp_event nw = msg(3, "wxid_new", NULL, "x");
    OK(apply(f, d2, f->emp2, &nw, 1, NULL));
    assert_string_not_equal(nw.customer_id, a.customer_id);
    OK(wp_store_customer_get(f->st, &c, f->tenant, nw.customer_id));
    assert_string_equal(c.owner_employee_id, f->emp2);
    /* the same id on another channel is another identity */
    wp_event oc = msg(4, "wxid_k2", NULL, "x");
    oc.channel = "wecom";
    OK(apply(f, d2, f->emp2, &oc, 1, NULL));
    assert_string_not_equal(oc.customer_id, a.customer_id);
    /* location and group messages without a peer make no customer */
    wp_event g = msg(5, NULL, NULL, "group hello");
    g.chat = "group1@chatroom";
    g.group_id = "group1@chatroom";
    g.group_name = "VIP";
    OK(apply(f, d2, f->emp2, &g, 1, NULL));
    assert_string_equal(g.customer_id, "");
    assert_int_equal(count(f, "customers"), 3);

    /* tenant isolation: the same phone in another tenant is another customer */
    struct tfx o = *f;
    OK(wp_store_tenant_create(f->st, o.tenant, "Other"));
    wp_org_unit u;
    wp_employee e;
    OK(wp_store_org_unit_create(f->st, &u, o.tenant, NULL, "HQ", WP_ORG_HQ));
    OK(wp_store_employee_create(f->st, &e, o.tenant, u.id, "Zhang", "zhang", WP_ROLE_SALES, NULL));
    char od[WP_ID_LEN + 1];
    device(&o, od, e.id, "SN9");
    wp_event x = msg(1, "wxid_k2", "13800138000", "hi");
    memset(&x.customer_id, 0, sizeof x.customer_id);
    wp_event_batch bb;
    memset(&bb, 0, sizeof bb);
    bb.tenant_id = o.tenant;
    bb.device_id = od;
    bb.employee_id = e.id;
    bb.events = &x;
    bb.n = 1;
    bb.now_us = wp_time_now_us();
    OK(wp_store_events_apply(f->st, &bb));
    assert_string_not_equal(x.customer_id, a.customer_id);
    assert_int_equal(wp_store_customer_get(f->st, &c, o.tenant, a.customer_id), WP_ENOTFOUND);
    /* a device cannot write as another tenant's */
    bb.tenant_id = f->tenant;
    x.seq = 2;
    assert_int_equal(wp_store_events_apply(f->st, &bb), WP_EAUTH);
}

static void test_archive__recall_keeps_text(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1];
    device(f, dev, f->emp1, "SN1");
    wp_event e[4] = {msg(1, "wxid_a", NULL, "转我私人账户"), msg(2, "wxid_a", NULL, "second"),
                     msg(3, "wxid_a", NULL, NULL), msg(4, "wxid_a", NULL, NULL)};
    e[1].msgid = "m-2";
    e[2].msgtype = "revoke";
    e[2].revoked_seq = 1;
    e[3].msgtype = "revoke";
    e[3].revoked_msgid = "m-2";
    OK(apply(f, dev, f->emp1, e, 4, NULL));
    assert_int_equal(count(f, "messages"), 4);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM messages WHERE recalled = 1"), 2);
    assert_int_equal(
        tfx_raw1(f, "SELECT recalled_us FROM messages WHERE seq = 1 AND text = '转我私人账户'"),
        e[2].ts_us);
    assert_int_equal(tfx_raw1(f, "SELECT recalled FROM messages WHERE msgid = 'm-2'"), 1);
    /* the recalled text is still found */
    wp_message_filter flt;
    memset(&flt, 0, sizeof flt);
    flt.tenant_id = f->tenant;
    flt.q = "私人";
    wp_message_page p;
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 1);
    assert_int_equal(p.items[0].recalled, 1);
    assert_string_equal(p.items[0].text, "转我私人账户");
    wp_message_page_release(&p);
}

static void test_archive__alerts(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1];
    device(f, dev, f->emp1, "SN1");
    const char *text = "这单走飞单吧";
    wp_alert_draft a[2];
    memset(a, 0, sizeof a);
    a[0].kind = "sensitive_word";
    a[0].category = "private_deal";
    a[0].pattern = "飞单";
    a[0].action = "block";
    a[0].matched = text + 9;
    a[0].matched_len = 6;
    a[0].start = 9;
    a[0].end = 15;
    a[1].kind = "customer_deleted";
    a[1].start = a[1].end = -1;
    wp_event e[2] = {msg(1, "wxid_a", NULL, text), ev(WP_EVENT_CONTACT, 2)};
    e[0].alerts = &a[0];
    e[0].n_alerts = 1;
    e[1].channel = "wechat";
    e[1].action = "deleted";
    e[1].peer.id = "wxid_a";
    e[1].alerts = &a[1];
    e[1].n_alerts = 1;
    OK(apply(f, dev, f->emp1, e, 2, NULL));
    assert_int_equal(strlen(a[0].id), WP_ID_LEN);

    wp_alert_filter flt;
    memset(&flt, 0, sizeof flt);
    flt.tenant_id = f->tenant;
    wp_alert_page p;
    OK(wp_store_alerts_list(f->st, &p, &flt));
    assert_int_equal(p.n, 2);
    assert_string_equal(p.items[0].kind, "customer_deleted"); /* newest first */
    assert_string_equal(p.items[0].message_id, "");
    assert_string_equal(p.items[0].customer_id, e[0].customer_id);
    assert_string_equal(p.items[1].id, a[0].id);
    assert_string_equal(p.items[1].message_id, e[0].id);
    assert_string_equal(p.items[1].matched, "飞单");
    assert_string_equal(p.items[1].category, "private_deal");
    assert_string_equal(p.items[1].pattern, "飞单");
    assert_int_equal(p.items[1].start, 9);
    assert_int_equal(p.items[1].status, WP_ALERT_OPEN);
    assert_null(p.items[0].pattern);
    wp_alert_page_release(&p);

    OK(wp_store_alert_set_status(f->st, f->tenant, a[0].id, WP_ALERT_RESOLVED));
    flt.status = WP_ALERT_OPEN;
    OK(wp_store_alerts_list(f->st, &p, &flt));
    assert_int_equal(p.n, 1);
    wp_alert_page_release(&p);
    flt.status = 0;
    flt.kind = "sensitive_word";
    OK(wp_store_alerts_list(f->st, &p, &flt));
    assert_int_equal(p.n, 1);
    assert_int_equal(p.items[0].status, WP_ALERT_RESOLVED);
    wp_alert_page_release(&p);
    flt.kind = NULL;
    flt.employee_id = f->emp2;
    OK(wp_store_alerts_list(f->st, &p, &flt));
    assert_int_equal(p.n, 0);
    wp_alert_page_release(&p);
    flt.employee_id = NULL;
    wp_scope emp1 = {.employee_id = f->emp1};
    flt.scope = &emp1;
    OK(wp_store_alerts_list(f->st, &p, &flt));
    assert_int_equal(p.n, 2);
    wp_alert_page_release(&p);
    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    assert_int_equal(wp_store_alert_set_status(f->st, other, a[0].id, WP_ALERT_OPEN), WP_ENOTFOUND);
    flt.tenant_id = other;
    flt.scope = NULL;
    OK(wp_store_alerts_list(f->st, &p, &flt));
    assert_int_equal(p.n, 0);
    wp_alert_page_release(&p);
}

/* --- search
 * ------------------------------------------------------------------------------------------ */

static const char *const corpus[] = {
    "这笔可以飞单给你",        /* 0 */
    "飞机几点起飞",            /* 1: 飞 but not 飞单 */
    "单飞行程已确认",          /* 2: 单飞, not 飞单 */
    "加我微信abc123聊",        /* 3 */
    "Hello World from WeChat", /* 4 */
    "HELLO again",             /* 5 */
    "ab ba",                   /* 6: has the grams of "aba" but not "aba" */
    "保本保息稳赚不赔",        /* 7 */
    "今天天气不错",            /* 8 */
    "客户说保本保息是真的吗",  /* 9 */
};
#define NCORPUS (sizeof corpus / sizeof *corpus)

/* The corpus indexes that q finds, as a bit set, newest first checked. */
static unsigned search_set(struct tfx *f, const char *q, const char *(*ids)[NCORPUS])
{
    wp_message_filter flt;
    wp_message_page p;
    memset(&flt, 0, sizeof flt);
    flt.tenant_id = f->tenant;
    flt.q = q;
    flt.limit = WP_PAGE_MAX;
    OK(wp_store_messages_search(f->st, &p, &flt));
    unsigned set = 0;
    int64_t prev = INT64_MAX;
    for (size_t i = 0; i < p.n; i++) {
        assert_true(p.items[i].ts_us <= prev);
        prev = p.items[i].ts_us;
        assert_true(p.items[i].n_highlights > 0);
        for (size_t k = 0; k < NCORPUS; k++)
            if (strcmp((*ids)[k], p.items[i].id) == 0)
                set |= 1u << k;
    }
    wp_message_page_release(&p);
    return set;
}

static void test_archive__search(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1];
    char idbuf[NCORPUS][WP_ID_LEN + 1];
    const char *ids[NCORPUS];
    device(f, dev, f->emp1, "SN1");
    wp_event e[NCORPUS];
    for (size_t i = 0; i < NCORPUS; i++)
        e[i] = msg((int64_t)i + 1, i % 2 ? "wxid_a" : "wxid_b", NULL, corpus[i]);
    OK(apply(f, dev, f->emp1, e, NCORPUS, NULL));
    for (size_t i = 0; i < NCORPUS; i++) {
        memcpy(idbuf[i], e[i].id, sizeof idbuf[i]);
        ids[i] = idbuf[i];
    }
#define B(i) (1u << (i))
    assert_int_equal(search_set(f, "飞", &ids), B(0) | B(1) | B(2));
    assert_int_equal(search_set(f, "飞单", &ids), B(0));
    assert_int_equal(search_set(f, "单飞", &ids), B(2));
    assert_int_equal(search_set(f, "保本保息", &ids), B(7) | B(9));
    assert_int_equal(search_set(f, "稳赚不赔", &ids), B(7));
    assert_int_equal(search_set(f, "微信abc", &ids), B(3));
    assert_int_equal(search_set(f, "信a", &ids), B(3));
    assert_int_equal(search_set(f, "c123聊", &ids), B(3));
    assert_int_equal(search_set(f, "hello", &ids), B(4) | B(5));
    assert_int_equal(search_set(f, "HeLLo wORLD", &ids), B(4));
    assert_int_equal(search_set(f, "wechat", &ids), B(4));
    assert_int_equal(search_set(f, "aba", &ids), 0);
    assert_int_equal(search_set(f, "ab", &ids), B(3) | B(6));
    assert_int_equal(search_set(f, "a", &ids), B(3) | B(4) | B(5) | B(6));
    assert_int_equal(search_set(f, "天天", &ids), B(8));
    assert_int_equal(search_set(f, "飞单飞单", &ids), 0);
    assert_int_equal(search_set(f, "不存在", &ids), 0);
    assert_int_equal(search_set(f, "可以飞单", &ids), B(0));
    assert_int_equal(search_set(f, "可以 飞单", &ids), 0);
#undef B

    /* highlights are byte offsets in the text */
    wp_message_filter flt;
    wp_message_page p;
    memset(&flt, 0, sizeof flt);
    flt.tenant_id = f->tenant;
    flt.q = "飞单";
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 1);
    assert_int_equal(p.items[0].n_highlights, 1);
    assert_int_equal(p.items[0].highlights[0][0], 12);
    assert_int_equal(p.items[0].highlights[0][1], 18);
    assert_string_equal(p.items[0].channel, "wechat");
    assert_string_equal(p.items[0].msgtype, "text");
    assert_int_equal(p.items[0].direction, WP_DIR_OUT);
    assert_string_equal(p.items[0].customer_id, e[0].customer_id);
    wp_message_page_release(&p);

    /* filters */
    flt.q = "飞";
    flt.customer_id = e[1].customer_id; /* wxid_a: odd indexes */
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].id, e[1].id);
    wp_message_page_release(&p);
    flt.customer_id = NULL;
    flt.from_us = e[1].ts_us;
    flt.to_us = e[2].ts_us;
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].id, e[1].id);
    wp_message_page_release(&p);
    flt.from_us = flt.to_us = 0;
    flt.employee_id = f->emp2;
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 0);
    wp_message_page_release(&p);
    flt.employee_id = NULL;
    flt.channel = "sms";
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 0);
    wp_message_page_release(&p);
    flt.channel = NULL;
    wp_org_unit u;
    OK(wp_store_org_unit_get(f->st, &u, f->tenant, f->unit));
    wp_scope scope = {.org_path = u.path};
    flt.scope = &scope;
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 3);
    wp_message_page_release(&p);
    scope.org_path = "/notapath";
    assert_int_equal(wp_store_messages_search(f->st, &p, &flt), WP_EINVAL);
    scope.org_path = NULL;
    scope.employee_id = f->emp2;
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 0);
    wp_message_page_release(&p);

    /* another tenant finds nothing */
    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    memset(&flt, 0, sizeof flt);
    flt.tenant_id = other;
    flt.q = "飞";
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 0);
    wp_message_page_release(&p);
}

/* Pages walked with the cursor give every hit once, in order, even while new messages
 * arrive and with candidates that the exact test drops between hits. */
static void test_archive__search_pagination(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1];
    enum { N = 60 };
    device(f, dev, f->emp1, "SN1");
    wp_event e[N];
    char texts[N][64];
    for (int i = 0; i < N; i++) {
        /* every third: a real hit; the rest: the query's grams without the query */
        snprintf(texts[i], sizeof texts[i], i % 3 == 0 ? "第%d条 客户要飞单" : "第%d条 飞机 单号",
                 i);
        e[i] = msg(i + 1, "wxid_a", NULL, texts[i]);
        e[i].ts_us = T0 + (i / 2) * 1000000; /* pairs share a ts: the id breaks the tie */
    }
    OK(apply(f, dev, f->emp1, e, N, NULL));

    wp_message_filter flt;
    memset(&flt, 0, sizeof flt);
    flt.tenant_id = f->tenant;
    flt.q = "飞单";
    flt.limit = 200;
    wp_message_page all;
    OK(wp_store_messages_search(f->st, &all, &flt));
    assert_int_equal(all.n, N / 3);
    assert_string_equal(all.next_cursor, "");

    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    size_t seen = 0;
    int pages = 0;
    int64_t seq = N;
    do {
        wp_message_page p;
        flt.limit = 3;
        flt.cursor = cursor;
        OK(wp_store_messages_search(f->st, &p, &flt));
        for (size_t i = 0; i < p.n; i++, seen++)
            assert_string_equal(p.items[i].id, all.items[seen].id);
        memcpy(cursor, p.next_cursor, sizeof cursor);
        wp_message_page_release(&p);
        pages++;
        /* a new hit arrives, newer than everything: it is not on the later pages */
        wp_event late = msg(++seq, "wxid_a", NULL, "新的飞单");
        late.ts_us = T0 + 1000000000LL + seq;
        OK(apply(f, dev, f->emp1, &late, 1, NULL));
    } while (cursor[0]);
    assert_int_equal(seen, N / 3);
    assert_int_equal(pages, (N / 3 + 2) / 3); /* 20 hits, 3 a page */
    wp_message_page_release(&all);

    /* without a query, the same walk over every message */
    flt.q = NULL;
    flt.cursor = NULL;
    flt.limit = 7;
    wp_message_page p;
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 7);
    assert_true(p.next_cursor[0] != '\0');
    wp_message_page_release(&p);
    flt.cursor = "12.zz";
    assert_int_equal(wp_store_messages_search(f->st, &p, &flt), WP_EINVAL);
}

/* Every page of a search with flt, cursor to cursor, `limit` a page: the hits' ids into ids
 * (at most cap), checking they come strictly newest first (ts_us, then id, descending). */
static size_t search_all(struct tfx *f, wp_message_filter *flt, unsigned limit,
                         char (*ids)[WP_ID_LEN + 1], size_t cap)
{
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    int64_t last_t = INT64_MAX;
    char last_id[WP_ID_LEN + 1] = "g";
    size_t n = 0;
    (void)f;
    do {
        wp_message_page p;
        flt->limit = limit;
        flt->cursor = cursor;
        OK(wp_store_messages_search(f->st, &p, flt));
        for (size_t i = 0; i < p.n; i++) {
            const wp_message *m = &p.items[i];
            assert_true(m->ts_us < last_t || (m->ts_us == last_t && strcmp(m->id, last_id) < 0));
            last_t = m->ts_us;
            memcpy(last_id, m->id, sizeof last_id);
            assert_true(n < cap);
            memcpy(ids[n++], m->id, WP_ID_LEN + 1);
        }
        memcpy(cursor, p.next_cursor, sizeof cursor);
        wp_message_page_release(&p);
    } while (cursor[0]);
    flt->cursor = NULL;
    return n;
}

/* The messages whose text holds q and whose time is in [from, to) (0: open), newest first, as
 * the plain time-index walk lists them (no query: no search index involved). */
static size_t search_expected(struct tfx *f, const char *q, int64_t from, int64_t to,
                              char (*ids)[WP_ID_LEN + 1], size_t cap)
{
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    size_t n = 0;
    do {
        wp_message_filter flt;
        wp_message_page p;
        memset(&flt, 0, sizeof flt);
        flt.tenant_id = f->tenant;
        flt.limit = 200;
        flt.cursor = cursor;
        OK(wp_store_messages_search(f->st, &p, &flt));
        for (size_t i = 0; i < p.n; i++) {
            const wp_message *m = &p.items[i];
            if (m->text && strstr(m->text, q) && (!from || m->ts_us >= from) &&
                (!to || m->ts_us < to)) {
                assert_true(n < cap);
                memcpy(ids[n++], m->id, WP_ID_LEN + 1);
            }
        }
        memcpy(cursor, p.next_cursor, sizeof cursor);
        wp_message_page_release(&p);
    } while (cursor[0]);
    return n;
}

/* Whether EXPLAIN QUERY PLAN of sql (binds: text a, text b, int c) has each of want (NULL
 * ended) and none of avoid. */
static int plan_is(struct tfx *f, const char *sql, const char *a, const char *b, int64_t c,
                   const char *const *want, const char *avoid)
{
    struct wp_stmt *s = NULL;
    char line[4096];
    wp_buf all;
    int ok = 1;
    wp_buf_init(&all, 1 << 16);
    snprintf(line, sizeof line, "EXPLAIN QUERY PLAN %s", sql);
    OK(wp_db_prepare(f->st, &s, line));
    wp_db_bind_text(s, 1, a);
    wp_db_bind_text(s, 2, b);
    wp_db_bind_int64(s, 3, c);
    while (wp_db_step(s) == WP_DB_ROW) {
        OK(wp_buf_adds(&all, wp_db_col_text(s, 3)));
        OK(wp_buf_adds(&all, "\n"));
    }
    wp_db_done(s);
    for (size_t i = 0; want[i]; i++)
        ok &= strstr(all.buf, want[i]) != NULL;
    if (avoid && strstr(all.buf, avoid))
        ok = 0;
    if (!ok)
        print_message("plan:\n%s", all.buf);
    wp_buf_release(&all);
    return ok;
}

/* PostgreSQL: whether EXPLAIN of sql (binds: text a, text b) names want and not avoid. */
static int pg_plan_is(struct tfx *f, const char *sql, const char *a, const char *b,
                      const char *want, const char *avoid)
{
    struct wp_stmt *s = NULL;
    char line[4096];
    wp_buf all;
    int ok;
    wp_buf_init(&all, 1 << 16);
    snprintf(line, sizeof line, "EXPLAIN %s", sql);
    OK(wp_db_prepare(f->st, &s, line));
    wp_db_bind_text(s, 1, a);
    wp_db_bind_text(s, 2, b);
    while (wp_db_step(s) == WP_DB_ROW) {
        OK(wp_buf_adds(&all, wp_db_col_text(s, 0)));
        OK(wp_buf_adds(&all, "\n"));
    }
    wp_db_done(s);
    ok = strstr(all.buf, want) != NULL && !strstr(all.buf, avoid);
    if (!ok)
        print_message("plan:\n%s", all.buf);
    wp_buf_release(&all);
    return ok;
}

/* On SQLite a query without a customer or employee filter walks the search index newest
 * first by search key (it sorts by millisecond), one with such a filter starts from the
 * search index when it matches few rows and from the time index otherwise. On PostgreSQL a
 * query without those filters walks the time index over windows of rows (2,048, then four
 * times more) and may go on from a window's last row with the GIN index; with them, the
 * planner's plan. Every plan gives the same pages as the plain time-index walk, also when many
 * messages share a millisecond or a timestamp and rows arrive out of time order, page
 * boundaries falling inside a millisecond. The index merges 16 segments at a time
 * (migration 0004). */
static void test_archive__search_plans(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1];
    enum { N = 4400, BATCH = 400, EVERY = 1000 };
    static wp_event e[BATCH];
    static char texts[BATCH][64];
    static char want[N][WP_ID_LEN + 1], got[N][WP_ID_LEN + 1];
    device(f, dev, f->emp1, "SN1");
    for (int b = 0; b < N / BATCH; b++) {
        for (int j = 0; j < BATCH; j++) {
            int i = b * BATCH + j, k = (i * 7919) % N; /* not the arrival order */
            snprintf(texts[j], sizeof texts[j],
                     i % EVERY == 7 ? "第%d条 飞单 稀有词" : "第%d条 飞单", i);
            e[j] = msg(i + 1, "wxid_a", NULL, texts[j]);
            /* four messages a millisecond, three of them at the same microsecond */
            e[j].ts_us = T0 + (int64_t)(k / 4) * 1000 + (k % 4 == 3);
        }
        OK(apply(f, dev, f->emp1, e, BATCH, NULL));
    }
    wp_message_filter flt;
    wp_message_page p;
    memset(&flt, 0, sizeof flt);
    flt.tenant_id = f->tenant;
    flt.q = "飞单"; /* every message: more than the index-first plan takes */
    OK(wp_store_messages_search(f->st, &p, &flt));
    assert_int_equal(p.n, 50);
    assert_int_equal(p.items[0].ts_us, T0 + (int64_t)(N / 4 - 1) * 1000 + 1);
    assert_int_equal(p.items[49].ts_us, T0 + (int64_t)(N / 4 - 13) * 1000);
    assert_true(p.next_cursor[0] != '\0');
    wp_message_page_release(&p);

    const struct {
        const char *q;
        int64_t from, to;
        size_t n;
    } cases[] = {
        {"飞单", 0, 0, N},
        {"稀有词", 0, 0, N / EVERY + 1}, /* i = 7, 1007, 2007, 3007, 4007 */
        {"飞单", T0 + 300 * 1000 + 1, T0 + 700 * 1000 + 1, 1600},
        {"第4", 0, 0, 1 + 10 + 100 + 400}, /* 4, 40-49, 400-499, 4000-4399 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t n = search_expected(f, cases[c].q, cases[c].from, cases[c].to, want, N);
        assert_int_equal(n, cases[c].n);
        const char *emps[] = {NULL, f->emp1}; /* without, then with an employee filter */
        const unsigned limits[] = {50, 7};
        for (size_t x = 0; x < 2; x++) {
            for (size_t l = 0; l < 2; l++) {
                memset(&flt, 0, sizeof flt);
                flt.tenant_id = f->tenant;
                flt.q = cases[c].q;
                flt.from_us = cases[c].from;
                flt.to_us = cases[c].to;
                flt.employee_id = emps[x];
                assert_int_equal(search_all(f, &flt, limits[l], got, N), n);
                for (size_t i = 0; i < n; i++)
                    assert_string_equal(got[i], want[i]);
            }
        }
    }
    if (f->kind != WP_STORE_SQLITE) {
        /* the two shapes pg_search() in src/store/ops_messages.c forces, whatever the
         * statistics say: the walk cannot use the GIN index (a query's grams in a filter),
         * the index plan cannot use the time index's order (it sorts) */
        for (int analyzed = 0; analyzed < 2; analyzed++) {
            if (analyzed)
                tfx_exec(f, "ANALYZE messages");
            assert_true(pg_plan_is(f,
                                   "SELECT m.id FROM messages m WHERE m.tenant_id = ? AND (m.grams"
                                   " @> CAST(? AS text[])) IS TRUE ORDER BY m.ts_us DESC, m.id"
                                   " DESC LIMIT 100",
                                   f->tenant, "{飞单}", "(grams @> '{飞单}'::text[]) IS TRUE",
                                   "messages_grams"));
            assert_true(pg_plan_is(f,
                                   "SELECT m.id FROM messages m WHERE m.tenant_id = ? AND m.grams"
                                   " @> CAST(? AS text[]) ORDER BY m.ts_us + 0 DESC, m.id DESC"
                                   " LIMIT 100",
                                   f->tenant, "{稀有,有词}", "Sort", "messages_ts"));
        }
        return;
    }
    assert_int_equal(tfx_raw1(f, "SELECT v FROM message_fts_config WHERE k = 'automerge'"), 16);
    /* every search key is its millisecond's (grams.h) */
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM messages WHERE skey >> 21 != ts_us / 1000"),
                     0);
    /* the shapes src/store/ops_messages.c uses: the walk, in the index's order, no sort ... */
    const char *walk[] = {"SCAN message_fts VIRTUAL TABLE",
                          "SEARCH m USING INDEX messages_skey (skey=?)", NULL};
    assert_true(plan_is(f,
                        "SELECT m.id FROM message_fts CROSS JOIN messages m ON m.skey ="
                        " message_fts.rowid WHERE message_fts MATCH ? AND message_fts.rowid <= 9"
                        " AND message_fts.rowid >= 0 AND m.tenant_id = ? AND m.text IS NOT NULL"
                        " ORDER BY message_fts.rowid DESC LIMIT ?",
                        "稀有 有词", f->tenant, 100, walk, "TEMP B-TREE"));
    /* ... and a rare query under an employee filter, from the index */
    assert_true(plan_is(f,
                        "SELECT m.id FROM message_fts CROSS JOIN messages m ON m.skey ="
                        " message_fts.rowid WHERE message_fts MATCH ? AND m.tenant_id = ?"
                        " AND m.text IS NOT NULL ORDER BY m.ts_us DESC, m.id DESC LIMIT ?",
                        "稀有 有词", f->tenant, 100, walk, NULL));
}

/* A call looks at a bounded number of candidates (20,000): past it, a short page and a cursor
 * that goes on where it stopped, on every plan; candidates here are messages with the query's
 * grams but not the query, many to a millisecond. */
static void test_archive__search_budget(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1];
    enum { N = 21000, BATCH = 1000 };
    static wp_event e[BATCH];
    device(f, dev, f->emp1, "SN1");
    for (int b = 0; b < N / BATCH; b++) {
        for (int j = 0; j < BATCH; j++) {
            int i = b * BATCH + j;
            e[j] = msg(i + 1, "wxid_a", NULL, i == 0 ? "客户要飞单号" : "飞单 单号");
            e[j].ts_us = T0 + (int64_t)(i / 3) * 1000;
        }
        OK(apply(f, dev, f->emp1, e, BATCH, NULL));
    }
    const char *emps[] = {NULL, f->emp1};
    for (size_t x = 0; x < 2; x++) {
        wp_message_filter flt;
        wp_message_page p;
        memset(&flt, 0, sizeof flt);
        flt.tenant_id = f->tenant;
        flt.q = "飞单号";
        flt.employee_id = emps[x];
        OK(wp_store_messages_search(f->st, &p, &flt));
        assert_int_equal(p.n, 0);
        assert_true(p.next_cursor[0] != '\0');
        char cursor[WP_ARCHIVE_CURSOR_MAX];
        memcpy(cursor, p.next_cursor, sizeof cursor);
        wp_message_page_release(&p);
        flt.cursor = cursor;
        OK(wp_store_messages_search(f->st, &p, &flt));
        assert_int_equal(p.n, 1);
        assert_string_equal(p.items[0].text, "客户要飞单号");
        assert_string_equal(p.next_cursor, "");
        wp_message_page_release(&p);
    }
}

/* Migration 0007 on a store written before it (no search key, the search index keyed by rid,
 * rids in an order unrelated to time): every message gets its millisecond's key, the index
 * follows, and every plan answers as the plain time-index walk does. SQLite only
 * (PostgreSQL's 0007 changes nothing). */
static void test_archive__search_key_migration(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1];
    enum { N = 300 };
    static wp_event e[N];
    static char texts[N][64], want[N][WP_ID_LEN + 1], got[N][WP_ID_LEN + 1];
    if (f->kind != WP_STORE_SQLITE)
        skip(); /* a test of SQLite: SKIPPED on PostgreSQL, not passed */
    device(f, dev, f->emp1, "SN1");
    for (int i = 0; i < N; i++) {
        int k = (i * 37) % N;
        snprintf(texts[i], sizeof texts[i], i % 5 ? "第%d条 飞单" : "第%d条 稀有词", i);
        e[i] = msg(i + 1, "wxid_a", NULL, texts[i]);
        e[i].ts_us = T0 + (int64_t)(k / 3) * 1000 + (k % 2);
    }
    e[0].ts_us = 5; /* the first millisecond of 1970 */
    e[1].ts_us = 0;
    OK(apply(f, dev, f->emp1, e, N, NULL));
    /* back to the old layout */
    tfx_exec(f, "DROP INDEX messages_skey");
    tfx_exec(f, "ALTER TABLE messages DROP COLUMN skey");
    tfx_exec(f, "UPDATE messages SET rid = -rid");
    tfx_exec(f, "UPDATE messages SET rid = (SELECT count(*) FROM messages o WHERE o.id <="
                " messages.id)");
    tfx_exec(f, "INSERT INTO message_fts (message_fts) VALUES ('delete-all')");
    struct wp_stmt *s = NULL;
    wp_buf g;
    wp_buf_init(&g, 1 << 16);
    for (int64_t rid = 1; rid <= N; rid++) {
        const char *text = NULL;
        OK(wp_db_prepare(f->st, &s, "SELECT text FROM messages WHERE rid = ?"));
        wp_db_bind_int64(s, 1, rid);
        assert_int_equal(wp_db_step(s), WP_DB_ROW);
        text = wp_db_col_text(s, 0);
        wp_buf_reset(&g);
        OK(wp_grams__make(&g, NULL, text, strlen(text), 0, WP_GRAMS_SPACED));
        wp_db_done(s);
        OK(wp_db_prepare(f->st, &s, "INSERT INTO message_fts (rowid, grams) VALUES (?, ?)"));
        wp_db_bind_int64(s, 1, rid);
        wp_db_bind_text(s, 2, g.buf);
        assert_true(wp_db_step(s) >= 0);
        wp_db_done(s);
    }
    wp_buf_release(&g);
    assert_int_equal(tfx_raw1(f, "SELECT max(rid) FROM messages"), N);

    /* 0007 as the upgrade of such a store runs it (later migrations are not undone) */
    const struct wp_migration *m = wp_migrations_sqlite;
    while (m->version && strcmp(m->name, "0007_search_time_key") != 0)
        m++;
    assert_int_equal(m->version, 7);
    OK(wp_store_begin(f->st));
    OK(wp_db_exec(f->st, m->sql));
    OK(wp_store_commit(f->st));
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM messages WHERE skey >> 21 !="
                                 " max(ts_us, 0) / 1000 OR skey <= 0 OR skey IS NULL"),
                     0);
    assert_int_equal(tfx_raw1(f, "SELECT count(DISTINCT skey) FROM messages"), N);
    assert_int_equal(tfx_raw1(f, "SELECT v FROM message_fts_config WHERE k = 'automerge'"), 16);
    const char *qs[] = {"飞单", "稀有词", "条"};
    const size_t counts[] = {N - N / 5, N / 5, N};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(search_expected(f, qs[i], 0, 0, want, N), counts[i]);
        for (int x = 0; x < 2; x++) { /* the walk, then the employee-filtered plan */
            wp_message_filter flt;
            memset(&flt, 0, sizeof flt);
            flt.tenant_id = f->tenant;
            flt.q = qs[i];
            flt.employee_id = x ? f->emp1 : NULL;
            assert_int_equal(search_all(f, &flt, 20, got, N), counts[i]);
            for (size_t j = 0; j < counts[i]; j++)
                assert_string_equal(got[j], want[j]);
        }
    }
    /* a new message gets the next number of its millisecond, and the next row id */
    wp_event late = msg(N + 1, "wxid_a", NULL, "新的飞单");
    late.ts_us = 7;
    OK(apply(f, dev, f->emp1, &late, 1, NULL));
    assert_int_equal(tfx_raw1(f, "SELECT max(skey) FROM messages WHERE skey < 2097152"), 3);
    assert_int_equal(tfx_raw1(f, "SELECT max(rid) FROM messages"), N + 1);
}

/* Several batches as one operation (the writer's merged rounds): all stored, their grams
 * searchable, acked_seq per device; one failing batch stores nothing of any. */
static void test_archive__apply_many(void **state)
{
    struct tfx *f = *state;
    char d1[WP_ID_LEN + 1], d2[WP_ID_LEN + 1];
    device(f, d1, f->emp1, "SN1");
    device(f, d2, f->emp2, "SN2");
    wp_event a[3], b[2], c[1];
    for (int i = 0; i < 3; i++)
        a[i] = msg(i + 1, "wxid_a", NULL, "合并飞单");
    a[0].ts_us = a[1].ts_us; /* one millisecond, out of order with a[2] below */
    a[2].ts_us = T0;
    for (int i = 0; i < 2; i++)
        b[i] = msg(i + 1, "wxid_b", NULL, "合并飞单");
    c[0] = msg(4, "wxid_a", NULL, "合并飞单");
    wp_event_batch bs[3];
    wp_event_batch *p[3] = {&bs[0], &bs[1], &bs[2]};
    const char *devs[3] = {d1, d2, d1}, *emps[3] = {f->emp1, f->emp2, f->emp1};
    wp_event *evs[3] = {a, b, c};
    size_t ns[3] = {3, 2, 1}, failed = 9;
    for (int i = 0; i < 3; i++) {
        memset(&bs[i], 0, sizeof bs[i]);
        bs[i].tenant_id = f->tenant;
        bs[i].device_id = devs[i];
        bs[i].employee_id = emps[i];
        bs[i].events = evs[i];
        bs[i].n = ns[i];
        bs[i].now_us = wp_time_now_us();
    }
    OK(wp_store_events_apply_many(f->st, p, 3, &failed));
    assert_int_equal(bs[0].acked_seq, 3);
    assert_int_equal(bs[1].acked_seq, 2);
    assert_int_equal(bs[2].acked_seq, 4); /* the same device again, after the first batch */
    assert_int_equal(count(f, "messages"), 6);
    wp_message_filter flt;
    static char got[8][WP_ID_LEN + 1];
    memset(&flt, 0, sizeof flt);
    flt.tenant_id = f->tenant;
    flt.q = "合并飞单";
    assert_int_equal(search_all(f, &flt, 2, got, 8), 6);

    /* a revoked device in the middle: nothing of the three is stored */
    OK(wp_store_device_revoke(f->st, f->tenant, d2));
    a[0] = msg(5, "wxid_a", NULL, "第二轮");
    b[0] = msg(3, "wxid_b", NULL, "第二轮");
    c[0] = msg(6, "wxid_a", NULL, "第二轮");
    ns[0] = ns[1] = ns[2] = 1;
    for (int i = 0; i < 3; i++)
        bs[i].n = ns[i];
    assert_int_equal(wp_store_events_apply_many(f->st, p, 3, &failed), WP_EAUTH);
    assert_int_equal(failed, 1);
    assert_int_equal(count(f, "messages"), 6);
    assert_int_equal(a[0].applied, 0);
    /* and the connection is usable: the good ones alone */
    OK(wp_store_events_apply_many(f->st, p, 1, &failed));
    assert_int_equal(count(f, "messages"), 7);
}

/* --- PostgreSQL: lost connections and two nodes at once ------------------------------------ */

/* One batch of a device, its own transaction; the batch's outcome into *out. */
static void apply_batch_as(struct tfx *f, wp_event_batch *out, const char *dev, const char *emp,
                           wp_event *events, size_t n)
{
    memset(out, 0, sizeof *out);
    out->tenant_id = f->tenant;
    out->device_id = dev;
    out->employee_id = emp;
    out->events = events;
    out->n = n;
    out->now_us = wp_time_now_us();
    OK(wp_store_events_apply(f->st, out));
}

static void usage_is(struct tfx *f, int64_t archive, int64_t media, int64_t quarantine)
{
    wp_usage u;
    OK(wp_store_usage_get(f->st, &u, f->tenant));
    assert_int_equal(u.used[WP_USAGE_ARCHIVE], archive);
    assert_int_equal(u.used[WP_USAGE_MEDIA], media);
    assert_int_equal(u.used[WP_USAGE_QUARANTINE], quarantine);
}

/* Usage is counted with the writes (archive: raw JSON and message texts; quarantine: the kept
 * slices; media: file sizes, once), a batch or file past a limit is refused whole without
 * failing its neighbours, resends need no room, and the counters equal what migration 0015
 * computes from the rows. */
static void test_archive__usage(void **state)
{
    struct tfx *f = *state;
    char d1[WP_ID_LEN + 1], d2[WP_ID_LEN + 1];
    wp_event_batch b;
    wp_usage u;
    device(f, d1, f->emp1, "SN1");
    device(f, d2, f->emp2, "SN2");
    OK(wp_store_usage_get(f->st, &u, f->tenant));
    assert_int_equal(u.limit[WP_USAGE_ARCHIVE], 100LL << 30);
    assert_int_equal(u.limit[WP_USAGE_MEDIA], 1LL << 40);
    assert_int_equal(u.limit[WP_USAGE_QUARANTINE], 256LL << 20);
    assert_int_equal(
        u.is_set[WP_USAGE_ARCHIVE] + u.is_set[WP_USAGE_MEDIA] + u.is_set[WP_USAGE_QUARANTINE], 0);
    usage_is(f, 0, 0, 0);

    wp_event e[3] = {msg(1, "wxid_a", NULL, "hello"), ev(WP_EVENT_LOCATION, 2),
                     ev(WP_EVENT_REJECTED, 3)};
    e[0].raw = "{\"seq\":1,\"text\":\"hello\"}"; /* 24 bytes */
    e[2].raw = "{\"seq\":3,\"ts\":\"never\"}";   /* 22 bytes */
    e[2].reason = "ts 'never' is not an rfc 3339 time";
    apply_batch_as(f, &b, d1, f->emp1, e, 3);
    assert_int_equal(b.refused, 0);
    assert_int_equal(b.acked_seq, 3);
    usage_is(f, 24 + 5 + 2, 0, 22);

    /* past the archive limit: nothing stored, acked_seq unchanged, the refusal says why */
    OK(wp_store_usage_set_limit(f->st, f->tenant, WP_USAGE_ARCHIVE, 31 + 2 + 3 - 1));
    wp_event n[1] = {msg(4, "wxid_new", NULL, "big")}; /* raw "{}": 2 + 3 bytes */
    apply_batch_as(f, &b, d1, f->emp1, n, 1);
    assert_int_equal(b.refused, 1);
    assert_int_equal(b.refusal.kind, WP_USAGE_ARCHIVE);
    assert_int_equal(b.refusal.used, 31);
    assert_int_equal(b.refusal.limit, 35);
    assert_int_equal(b.refusal.needed, 5);
    assert_int_equal(b.acked_seq, 3);
    assert_int_equal(n[0].applied, 0);
    assert_int_equal(count(f, "messages"), 1);
    assert_int_equal(count(f, "customers"), 1);
    assert_int_equal(tfx_raw1(f, "SELECT acked_seq FROM devices WHERE serial = 'SN1'"), 3);
    usage_is(f, 31, 0, 22);
    assert_int_equal(wp_usage_refuse(&b.refusal), WP_EQUOTA);
    assert_string_equal(wp_error_last(), "the tenant's archive limit is reached: 31 of 35 bytes"
                                         " used, this needs 5 more; an admin can raise"
                                         " 'archive_limit_bytes' in the settings");
    /* a resend needs no room */
    apply_batch_as(f, &b, d1, f->emp1, e, 3);
    assert_int_equal(b.refused, 0);
    assert_int_equal(b.acked_seq, 3);
    /* the quarantine has its own limit */
    OK(wp_store_usage_set_limit(f->st, f->tenant, WP_USAGE_QUARANTINE, 22));
    wp_event q[1] = {ev(WP_EVENT_REJECTED, 4)};
    q[0].reason = "bad";
    apply_batch_as(f, &b, d1, f->emp1, q, 1);
    assert_int_equal(b.refused, 1);
    assert_int_equal(b.refusal.kind, WP_USAGE_QUARANTINE);
    assert_int_equal(count(f, "quarantine"), 1);

    /* merged: the batch past the limit is refused alone, the round goes on */
    OK(wp_store_usage_set_limit(f->st, f->tenant, WP_USAGE_ARCHIVE, 31 + 4));
    wp_event big[1] = {msg(4, "wxid_a", NULL, "large")}, small[1] = {msg(1, "wxid_b", NULL, "hi")};
    wp_event_batch bs[2];
    wp_event_batch *p[2] = {&bs[0], &bs[1]};
    memset(bs, 0, sizeof bs);
    bs[0] = (wp_event_batch){f->tenant, d1, f->emp1, big, 1, wp_time_now_us(), 0, 0, {0}, WP_BATCH_DEVICE, 0};
    bs[1] = (wp_event_batch){f->tenant, d2, f->emp2, small, 1, wp_time_now_us(), 0, 0, {0}, WP_BATCH_DEVICE, 0};
    size_t failed = 9;
    OK(wp_store_events_apply_many(f->st, p, 2, &failed));
    assert_int_equal(bs[0].refused, 1);
    assert_int_equal(bs[0].acked_seq, 3);
    assert_int_equal(big[0].applied, 0);
    assert_int_equal(bs[1].refused, 0);
    assert_int_equal(bs[1].acked_seq, 1);
    assert_int_equal(small[0].applied, 1);
    usage_is(f, 35, 0, 22);

    /* media: a new file counts once; past the limit it is not recorded */
    char h1[65], h2[65];
    int created = 0;
    wp_token_hash(h1, "one");
    wp_token_hash(h2, "two");
    OK(wp_store_usage_set_limit(f->st, f->tenant, WP_USAGE_MEDIA, 10));
    OK(wp_store_media_add(f->st, &created, f->tenant, d1, h1, 8));
    assert_int_equal(created, 1);
    OK(wp_store_media_add(f->st, &created, f->tenant, d1, h1, 8));
    assert_int_equal(created, 0);
    OK(wp_store_media_add(f->st, &created, f->tenant, d2, h1, 8)); /* another device: 201 */
    assert_int_equal(created, 1);
    usage_is(f, 35, 8, 22); /* ... and the file counts once */
    assert_int_equal(wp_store_media_add(f->st, &created, f->tenant, d1, h2, 5), WP_EQUOTA);
    assert_int_equal(wp_usage_refusal_last()->kind, WP_USAGE_MEDIA);
    assert_int_equal(wp_usage_refusal_last()->needed, 5);
    int64_t size;
    assert_int_equal(wp_store_media_get(f->st, &size, f->tenant, h2), WP_ENOTFOUND);
    usage_is(f, 35, 8, 22);
    OK(wp_store_usage_set_limit(f->st, f->tenant, WP_USAGE_MEDIA, -1)); /* the default again */
    OK(wp_store_media_add(f->st, &created, f->tenant, d1, h2, 5));
    OK(wp_store_usage_get(f->st, &u, f->tenant));
    assert_int_equal(u.used[WP_USAGE_MEDIA], 13);
    assert_int_equal(u.limit[WP_USAGE_MEDIA], 1LL << 40);
    assert_int_equal(u.is_set[WP_USAGE_MEDIA], 0);
    assert_int_equal(u.is_set[WP_USAGE_ARCHIVE], 1);

    assert_int_equal(wp_store_usage_set_limit(f->st, f->tenant, WP_USAGE_MEDIA, -2), WP_EINVAL);
    assert_int_equal(
        wp_store_usage_set_limit(f->st, f->tenant, WP_USAGE_MEDIA, WP_USAGE_LIMIT_MAX + 1),
        WP_EINVAL);
    assert_int_equal(wp_store_usage_set_limit(f->st, f->tenant, WP_USAGE_KINDS, 1), WP_EINVAL);

    /* the counters are what migration 0015 computes from the rows */
    const struct wp_migration *m =
        f->kind == WP_STORE_SQLITE ? wp_migrations_sqlite : wp_migrations_pg;
    while (m->version && strcmp(m->name, "0015_storage_limits") != 0)
        m++;
    assert_int_equal(m->version, 15);
    const char *fill = strstr(m->sql, "INSERT INTO tenant_usage");
    assert_non_null(fill);
    tfx_exec(f, "DELETE FROM tenant_usage");
    tfx_exec(f, fill);
    usage_is(f, 35, 13, 22);
}

static int64_t backend_pid(wp_store *st)
{
    struct wp_stmt *s = NULL;
    int64_t pid = 0;
    OK(wp_db_prepare(st, &s, "SELECT pg_backend_pid()"));
    if (wp_db_step(s) == WP_DB_ROW)
        pid = wp_db_col_int64(s, 0);
    wp_db_done(s);
    assert_true(pid > 0);
    return pid;
}

/* The server ends the session (as a restart does) and waits until it is gone. */
static void kill_backend(struct tfx *f, int64_t pid)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT CAST(pg_terminate_backend(%lld, 10000) AS int)",
             (long long)pid);
    assert_int_equal(tfx_raw1(f, sql), 1);
}

/* A session the server ended (57P01, as a restart or pg_terminate_backend does) is reopened by
 * the next call, which is sent again (it had not run), prepared statements prepared again;
 * inside a transaction every call fails until the rollback, so nothing continues on the new
 * session as if it were the old one. */
static void test_archive__pg_reconnect(void **state)
{
    struct tfx *f = *state;
    char dev[WP_ID_LEN + 1], id[WP_ID_LEN + 1];
    wp_customer c;
    if (f->kind != WP_STORE_PG)
        skip(); /* a test of PostgreSQL: SKIPPED on SQLite, not passed */
    device(f, dev, f->emp1, "SN1");
    wp_id_new(id);
    assert_int_equal(wp_store_customer_get(f->st, &c, f->tenant, id), WP_ENOTFOUND);
    int64_t pid = backend_pid(f->st);
    kill_backend(f, pid);
    assert_int_equal(wp_store_customer_get(f->st, &c, f->tenant, id), WP_ENOTFOUND);
    assert_true(backend_pid(f->st) != pid);
    kill_backend(f, backend_pid(f->st)); /* a transaction's first statement, BEGIN, too */
    wp_event e = msg(1, "wxid_a", NULL, "重连以后");
    OK(apply(f, dev, f->emp1, &e, 1, NULL));
    assert_int_equal(count(f, "messages"), 1);

    /* in a transaction */
    OK(wp_store_begin(f->st));
    wp_event_batch b;
    memset(&b, 0, sizeof b);
    b.tenant_id = f->tenant;
    b.device_id = dev;
    b.employee_id = f->emp1;
    e = msg(2, "wxid_a", NULL, "丢失的事务");
    b.events = &e;
    b.n = 1;
    b.now_us = wp_time_now_us();
    OK(wp_store_events_apply(f->st, &b));
    kill_backend(f, backend_pid(f->st));
    /* the store's unavailability, not a failure of the call: the API answers 503 */
    assert_int_equal(wp_store_customer_get(f->st, &c, f->tenant, id), WP_EUNAVAIL);
    assert_int_equal(wp_store_customer_get(f->st, &c, f->tenant, id), WP_EUNAVAIL);
    assert_int_equal(wp_store_commit(f->st), WP_EUNAVAIL);
    assert_int_equal(wp_store_customer_get(f->st, &c, f->tenant, id), WP_ENOTFOUND);
    assert_int_equal(count(f, "messages"), 1);
    OK(wp_store_begin(f->st)); /* and transactions work again */
    OK(wp_store_events_apply(f->st, &b));
    OK(wp_store_commit(f->st));
    assert_int_equal(count(f, "messages"), 2);
}

struct racer {
    wp_store *st;
    struct tfx *f;
    const char *dev, *emp;
    wp_event e;
    int err;
};

static void *race_apply(void *arg)
{
    struct racer *r = arg;
    wp_event_batch b;
    memset(&b, 0, sizeof b);
    b.tenant_id = r->f->tenant;
    b.device_id = r->dev;
    b.employee_id = r->emp;
    b.events = &r->e;
    b.n = 1;
    b.now_us = wp_time_now_us();
    if ((r->err = wp_store_begin(r->st)) == 0 && (r->err = wp_store_events_apply(r->st, &b)) == 0)
        r->err = wp_store_commit(r->st);
    else
        wp_store_rollback(r->st);
    return NULL;
}

/* Two nodes meet the same new peer at once: node B looks it up before node A commits, so both
 * create a customer; B's identity insert waits for A's, and B then gives way to A's
 * customer. One customer, both messages on it. */
static void test_archive__pg_identity_race(void **state)
{
    struct tfx *f = *state;
    char d1[WP_ID_LEN + 1], d2[WP_ID_LEN + 1], sql[160];
    if (f->kind != WP_STORE_PG)
        skip(); /* a test of PostgreSQL: SKIPPED on SQLite, not passed */
    device(f, d1, f->emp1, "SN1");
    device(f, d2, f->emp2, "SN2");
    struct racer r;
    memset(&r, 0, sizeof r);
    r.f = f;
    r.dev = d2;
    r.emp = f->emp2;
    r.e = msg(1, "wxid_new", "13800138000", "你好，我是新客户");
    OK(wp_store_open(&r.st, f->dir, f->url));

    OK(wp_store_begin(f->st)); /* node A: stored, not committed */
    wp_event_batch b;
    wp_event e = msg(1, "wxid_new", "13800138000", "您好");
    memset(&b, 0, sizeof b);
    b.tenant_id = f->tenant;
    b.device_id = d1;
    b.employee_id = f->emp1;
    b.events = &e;
    b.n = 1;
    b.now_us = wp_time_now_us();
    OK(wp_store_events_apply(f->st, &b));

    pthread_t t;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = %lld",
             (long long)backend_pid(r.st));
    assert_int_equal(pthread_create(&t, NULL, race_apply, &r), 0);
    /* node B waits on A's identity row: a lock wait, seen from the server (no sleep) */
    long polls = 0;
    while (tfx_raw1(f, sql) == 0 && polls < 100000)
        polls++;
    assert_true(polls < 100000);
    OK(wp_store_commit(f->st));
    assert_int_equal(pthread_join(t, NULL), 0);
    OK(r.err);
    wp_store_free(r.st);

    assert_int_equal(count(f, "customers"), 1);
    assert_string_equal(r.e.customer_id, e.customer_id);
    assert_int_equal(tfx_raw1(f, "SELECT count(DISTINCT customer_id) FROM messages"), 1);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM customer_identities"), 2);
    assert_int_equal(tfx_raw1(f, "SELECT count(DISTINCT customer_id) FROM customer_identities"), 1);
}

/* --- customers
 * ---------------------------------------------------------------------------------------- */

static void test_archive__customers_list(void **state)
{
    struct tfx *f = *state;
    char d1[WP_ID_LEN + 1], d2[WP_ID_LEN + 1];
    device(f, d1, f->emp1, "SN1");
    device(f, d2, f->emp2, "SN2");
    wp_event a[5], b[2];
    const char *names[5] = {"王女士", "李先生", "Zhao Min", "张总", "刘女士"};
    char pid[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(pid[i], sizeof pid[i], "wxid_%d", i);
        wp_time_set_fake(T0 + i * 1000000);
        a[i] = msg(i + 1, pid[i], NULL, "hi");
        a[i].peer.name = names[i];
        OK(apply(f, d1, f->emp1, &a[i], 1, NULL));
    }
    wp_time_set_fake(T0 + 10000000);
    b[0] = msg(1, "wxid_x", "138-0013-8001", "hi");
    b[0].peer.phone = "13800138001";
    b[1] = msg(2, "wxid_y", NULL, "hi");
    OK(apply(f, d2, f->emp2, b, 2, NULL));

    wp_customer_filter flt;
    memset(&flt, 0, sizeof flt);
    flt.tenant_id = f->tenant;
    flt.limit = 2;
    wp_customer_page p;
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    int seen = 0;
    do {
        flt.cursor = cursor;
        OK(wp_store_customers_list(f->st, &p, &flt));
        seen += (int)p.n;
        memcpy(cursor, p.next_cursor, sizeof cursor);
        wp_customer_page_release(&p);
    } while (cursor[0]);
    assert_int_equal(seen, 7);

    flt.limit = 0;
    flt.cursor = NULL;
    flt.owner_employee_id = f->emp1;
    OK(wp_store_customers_list(f->st, &p, &flt));
    assert_int_equal(p.n, 5);
    assert_string_equal(p.items[0].name, "刘女士"); /* newest first */
    assert_string_equal(p.items[4].name, "王女士");
    wp_customer_page_release(&p);
    flt.owner_employee_id = NULL;
    flt.q = "女士";
    OK(wp_store_customers_list(f->st, &p, &flt));
    assert_int_equal(p.n, 2);
    wp_customer_page_release(&p);
    flt.q = "zhao";
    OK(wp_store_customers_list(f->st, &p, &flt));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].name, "Zhao Min");
    wp_customer_page_release(&p);
    flt.q = "0013";
    OK(wp_store_customers_list(f->st, &p, &flt));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].owner_employee_id, f->emp2);
    wp_customer_page_release(&p);
    flt.q = "%";
    OK(wp_store_customers_list(f->st, &p, &flt));
    assert_int_equal(p.n, 0);
    wp_customer_page_release(&p);
    flt.q = NULL;
    wp_org_unit u;
    OK(wp_store_org_unit_get(f->st, &u, f->tenant, f->unit));
    wp_scope scope = {.org_path = u.path};
    flt.scope = &scope;
    OK(wp_store_customers_list(f->st, &p, &flt));
    assert_int_equal(p.n, 7);
    wp_customer_page_release(&p);
}

/* --- policy, lexicons, media
 * --------------------------------------------------------------------------- */

static void test_archive__policy(void **state)
{
    struct tfx *f = *state;
    wp_policy_row row;
    int64_t v = 0, lv = 0;
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(wp_store_policy_get(f->st, &row, f->tenant), WP_ENOTFOUND);
    OK(wp_store_policy_init(f->st, f->tenant, "飞单\tprivate_deal\tblock\n", 26));
    OK(wp_store_policy_init(f->st, f->tenant, "other", 5)); /* no change */
    OK(wp_store_policy_get(f->st, &row, f->tenant));
    assert_int_equal(row.version, 1);
    assert_int_equal(row.lexicon_version, 1);
    assert_int_equal(row.money_alert_fen, WP_MONEY_ALERT_DEFAULT_FEN);
    OK(wp_store_lexicon_get(f->st, &lv, &text, &len, f->tenant));
    assert_int_equal(lv, 1);
    assert_string_equal(text, "飞单\tprivate_deal\tblock\n");
    free(text);

    OK(wp_store_lexicon_put(f->st, &v, f->tenant, "私单\n", 7));
    assert_int_equal(v, 2);
    OK(wp_store_policy_set_money_alert(f->st, &v, f->tenant, 100));
    assert_int_equal(v, 3);
    OK(wp_store_policy_get(f->st, &row, f->tenant));
    assert_int_equal(row.version, 3);
    assert_int_equal(row.lexicon_version, 2);
    assert_int_equal(row.money_alert_fen, 100);
    OK(wp_store_lexicon_get(f->st, &lv, &text, &len, f->tenant));
    assert_int_equal(lv, 2);
    assert_int_equal(len, 7);
    free(text);
    assert_int_equal(wp_store_policy_set_money_alert(f->st, &v, f->tenant, -1), WP_EINVAL);
    assert_int_equal(wp_store_lexicon_put(f->st, &v, f->tenant, "a\0b", 3), WP_EINVAL);

    /* a tenant's first lexicon by put */
    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    OK(wp_store_lexicon_put(f->st, &v, other, "x\n", 2));
    assert_int_equal(v, 1);
    OK(wp_store_lexicon_get(f->st, &lv, &text, &len, other));
    assert_string_equal(text, "x\n");
    free(text);
}

static void test_archive__media(void **state)
{
    struct tfx *f = *state;
    const char *h = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    char d1[WP_ID_LEN + 1], d2[WP_ID_LEN + 1];
    int created = -1;
    int64_t size = 0;
    device(f, d1, f->emp1, "SN-M1");
    device(f, d2, f->emp2, "SN-M2");
    OK(wp_store_media_add(f->st, &created, f->tenant, d1, h, 4));
    assert_int_equal(created, 1);
    OK(wp_store_media_add(f->st, &created, f->tenant, d1, h, 4));
    assert_int_equal(created, 0);
    /* another device: new for it, whoever else holds the file */
    OK(wp_store_media_add(f->st, &created, f->tenant, d2, h, 4));
    assert_int_equal(created, 1);
    assert_int_equal(count(f, "media"), 1);
    assert_int_equal(count(f, "media_uploads"), 2);
    OK(wp_store_media_get(f->st, &size, f->tenant, h));
    assert_int_equal(size, 4);
    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    assert_int_equal(wp_store_media_get(f->st, &size, other, h), WP_ENOTFOUND);
    char upper[65] = "ABC";
    assert_int_equal(wp_store_media_add(f->st, &created, f->tenant, d1, upper, 4), WP_EINVAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest suite[] = {
    T(test_archive__schema),
    T(test_archive__enroll),
    T(test_archive__devices_list),
    T(test_archive__resend_stores_nothing_twice),
    T(test_archive__quarantine),
    T(test_archive__quarantine_bounded),
    T(test_archive__peers),
    T(test_archive__recall_keeps_text),
    T(test_archive__alerts),
    T(test_archive__search),
    T(test_archive__search_pagination),
    T(test_archive__search_plans),
    T(test_archive__search_budget),
    T(test_archive__search_key_migration),
    T(test_archive__apply_many),
    T(test_archive__pg_reconnect),
    T(test_archive__pg_identity_race),
    T(test_archive__customers_list),
    T(test_archive__policy),
    T(test_archive__media),
    T(test_archive__usage),
};

static const struct CMUnitTest once[] = {
    cmocka_unit_test(test_archive__grams),
};

int main(void)
{
    int failed = cmocka_run_group_tests_name("store_archive", once, NULL, NULL);
    failed += tfx_run("store_archive", suite, sizeof suite / sizeof *suite);
    return failed ? 1 : 0;
}
