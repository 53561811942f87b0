/* SPDX-License-Identifier: MIT */
/* Customer asset protection in the store (migration 0008): handovers (atomic, idempotent,
 * split), the pool (release, claim rules, assign), the reclaim job, the timeline, edits. */
#include "archive_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit.h"
#include "store/customers.h"
#include "store/handovers.h"
#include "store/people.h"
#include "store/store.h"
#include "util/error.h"
#include "util/id.h"

#define T0 1795831200000000LL /* 2026-11-28T10:00:00+08:00 */
#define DAY 86400000000LL

static const unsigned char key[WP_AUDIT_KEY_LEN] = "0123456789abcdef0123456789abcdef";

struct cx {
    char emp3[WP_ID_LEN + 1], admin[WP_ID_LEN + 1];
    char cust[6][WP_ID_LEN + 1];
};

static int setup(void **state)
{
    struct tfx *f = calloc(1, sizeof *f);
    struct cx *x = calloc(1, sizeof *x);
    wp_employee e;
    char sql[512];
    assert_non_null(f);
    assert_non_null(x);
    tfx_seed(f);
    f->user = x;
    OK(wp_store_employee_create(f->st, &e, f->tenant, f->unit, "Wang Wu", "wangwu", WP_ROLE_SALES,
                                NULL));
    memcpy(x->emp3, e.id, sizeof x->emp3);
    OK(wp_store_employee_create(f->st, &e, f->tenant, f->unit, "Boss", "boss", WP_ROLE_ADMIN,
                                NULL));
    memcpy(x->admin, e.id, sizeof x->admin);
    /* five customers of emp1, created one second apart; one of emp2 */
    for (int i = 0; i < 6; i++) {
        wp_id_new(x->cust[i]);
        snprintf(sql, sizeof sql,
                 "INSERT INTO customers (tenant_id, id, name, owner_employee_id, created_us,"
                 " last_contact_us) VALUES ('%s', '%s', 'customer %d', '%s', %lld, %lld)",
                 f->tenant, x->cust[i], i, i < 5 ? f->emp1 : f->emp2,
                 (long long)(T0 - 10 * DAY + i * 1000000LL), (long long)(T0 - DAY));
        tfx_exec(f, sql);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct tfx *f = *state;
    free(f->user);
    tfx_release(f);
    free(f);
    return 0;
}

static int64_t count_owned(struct tfx *f, const char *emp)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM customers WHERE owner_employee_id = '%s' AND in_pool = 0", emp);
    return tfx_raw1(f, sql);
}

static wp_handover_request departure(struct tfx *f, const char *const *to, size_t n)
{
    wp_handover_request r = {.tenant_id = f->tenant,
                             .from_employee_id = f->emp1,
                             .to_employee_ids = to,
                             .n_to = n,
                             .departure = 1,
                             .who = {.actor = "system"},
                             .now_us = T0};
    return r;
}

/* A failure at the third move leaves nothing moved, alone or in the caller's transaction. */
static void test_store_customers__handover_atomic(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    const char *to[] = {f->emp2, x->emp3};
    wp_handover h;
    int replayed = 0;
    wp_handover_request r = departure(f, to, 2);
    r.fail_after = 3;
    assert_int_equal(wp_store_handover_run(f->st, &h, &replayed, &r), WP_EIO);
    OK(wp_store_begin(f->st));
    assert_int_equal(wp_store_handover_run(f->st, &h, &replayed, &r), WP_EIO);
    OK(wp_store_rollback(f->st));
    assert_int_equal(count_owned(f, f->emp1), 5);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM handovers"), 0);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM handover_items"), 0);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM customer_events"), 0);
    wp_employee e;
    OK(wp_store_employee_get(f->st, &e, f->tenant, f->emp1));
    assert_true(e.active);
}

/* An even split, round-robin in creation order; the leaver ends; a repeat changes nothing. */
static void test_store_customers__handover_split_and_replay(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    const char *to[] = {f->emp2, x->emp3};
    wp_handover h, again;
    int replayed = 1;
    char tok[65], sql[256];
    memset(tok, 'a', 64);
    tok[64] = '\0';
    OK(wp_store_session_create(f->st, f->tenant, f->emp1, tok, NULL, T0 - 1, T0 + DAY));
    wp_handover_request r = departure(f, to, 2);
    OK(wp_store_handover_run(f->st, &h, &replayed, &r));
    assert_int_equal(replayed, 0);
    assert_int_equal(h.customers_moved, 5);
    assert_int_equal(h.sessions_revoked, 1);
    assert_int_equal(count_owned(f, f->emp1), 0);
    assert_int_equal(count_owned(f, f->emp2), 3 + 1); /* 0, 2, 4 and its own */
    assert_int_equal(count_owned(f, x->emp3), 2);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM customers WHERE id = '%s' AND owner_employee_id"
                              " = '%s'", x->cust[1], x->emp3);
    assert_int_equal(tfx_raw1(f, sql), 1);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM customer_events WHERE kind = 'owner_changed'"),
                     5);
    wp_session se;
    assert_int_equal(wp_store_session_auth(f->st, &se, tok, T0), WP_EAUTH);
    wp_handover_item *items = NULL;
    size_t n = 0;
    OK(wp_store_handover_items(f->st, &items, &n, f->tenant, h.id, NULL, 3));
    assert_int_equal(n, 3);
    char after[WP_ID_LEN + 1];
    memcpy(after, items[2].customer_id, sizeof after);
    free(items);
    OK(wp_store_handover_items(f->st, &items, &n, f->tenant, h.id, after, 3));
    assert_int_equal(n, 2);
    free(items);

    OK(wp_store_handover_run(f->st, &again, &replayed, &r));
    assert_int_equal(replayed, 1);
    assert_string_equal(again.id, h.id);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM handovers"), 1);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM customer_events"), 5);

    wp_handover_page page;
    wp_handover_filter hf = {.tenant_id = f->tenant};
    OK(wp_store_handovers_list(f->st, &page, &hf));
    assert_int_equal(page.n, 1);
    assert_string_equal(page.items[0].id, h.id);
    wp_handover_page_release(&page);
}

/* A split by rule: weights 1 and 4 over five customers give one and four; a weight out of
 * 1..100 is refused. */
static void test_store_customers__handover_weighted(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    const char *to[] = {f->emp2, x->emp3};
    unsigned weights[] = {1, 4}, bad[] = {0, 4};
    wp_handover h;
    int replayed = 0;
    wp_handover_request r = departure(f, to, 2);
    r.weights = bad;
    assert_int_equal(wp_store_handover_run(f->st, &h, &replayed, &r), WP_EINVAL);
    r.weights = weights;
    OK(wp_store_handover_run(f->st, &h, &replayed, &r));
    assert_int_equal(h.customers_moved, 5);
    assert_int_equal(count_owned(f, f->emp2), 1 + 1); /* one, and its own */
    assert_int_equal(count_owned(f, x->emp3), 4);
}

static void test_store_customers__handover_key_and_refusals(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    const char *to[] = {f->emp2}, *self[] = {f->emp1}, *twice[] = {f->emp2, f->emp2};
    wp_handover h, h2;
    int replayed;
    wp_handover_request r = departure(f, to, 1);
    r.departure = 0;
    r.idempotency_key = "req-1";
    OK(wp_store_handover_run(f->st, &h, &replayed, &r));
    assert_int_equal(h.customers_moved, 5);
    OK(wp_store_handover_run(f->st, &h2, &replayed, &r));
    assert_int_equal(replayed, 1);
    assert_string_equal(h2.id, h.id);
    r.from_employee_id = f->emp2;
    r.to_employee_ids = self; /* emp1: a new request under the same key */
    assert_int_equal(wp_store_handover_run(f->st, &h2, &replayed, &r), WP_EBUSY);
    r.idempotency_key = NULL;
    r.to_employee_ids = twice;
    r.n_to = 2;
    assert_int_equal(wp_store_handover_run(f->st, &h2, &replayed, &r), WP_EINVAL);
    r.to_employee_ids = to;
    r.n_to = 1;
    assert_int_equal(wp_store_handover_run(f->st, &h2, &replayed, &r), WP_EINVAL); /* itself */
    /* the last active admin cannot leave: nothing moves */
    const char *to_admin[] = {x->emp3};
    wp_handover_request a = departure(f, to_admin, 1);
    a.from_employee_id = x->admin;
    assert_int_equal(wp_store_handover_run(f->st, &h2, &replayed, &a), WP_EBUSY);
    /* an unknown successor */
    const char *ghost[] = {"0123456789abcdef01234567"};
    wp_handover_request g = departure(f, ghost, 1);
    g.from_employee_id = f->emp2;
    assert_int_equal(wp_store_handover_run(f->st, &h2, &replayed, &g), WP_ENOTFOUND);
    assert_int_equal(count_owned(f, f->emp2), 6);
}

static wp_pool_move move(struct tfx *f, const char *customer, const char *emp, int64_t now)
{
    wp_pool_move m = {.tenant_id = f->tenant,
                      .customer_id = customer,
                      .employee_id = emp,
                      .reason = "manual",
                      .claim = 1,
                      .who = {.actor = "system"},
                      .now_us = now};
    return m;
}

static void test_store_customers__pool_rules(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    wp_crm_settings s;
    OK(wp_store_crm_settings_get(f->st, &s, f->tenant));
    assert_int_equal(s.claim_daily_max, WP_CRM_CLAIM_DAILY_MAX_DEFAULT);
    s.claim_daily_max = 2;
    OK(wp_store_crm_settings_put(f->st, f->tenant, &s, T0));
    s.cooldown_days = -1;
    assert_int_equal(wp_store_crm_settings_put(f->st, f->tenant, &s, T0), WP_EINVAL);

    for (int i = 0; i < 4; i++) {
        wp_pool_move m = move(f, x->cust[i], NULL, T0);
        OK(wp_store_pool_release(f->st, &m));
        assert_string_equal(m.previous_owner, f->emp1);
    }
    wp_pool_move m = move(f, x->cust[0], NULL, T0);
    assert_int_equal(wp_store_pool_release(f->st, &m), WP_EBUSY);
    assert_int_equal(m.refused, WP_POOL_IN_POOL);
    /* the last owner, within the cooldown */
    m = move(f, x->cust[0], f->emp1, T0 + DAY);
    assert_int_equal(wp_store_pool_take(f->st, &m), WP_EBUSY);
    assert_int_equal(m.refused, WP_POOL_COOLDOWN);
    assert_true(m.retry_after_us == T0 + 7 * DAY);
    m = move(f, x->cust[0], f->emp1, T0 + 7 * DAY);
    OK(wp_store_pool_take(f->st, &m)); /* ... and after it */
    /* two claims a day */
    m = move(f, x->cust[1], f->emp2, T0 + 8 * DAY);
    OK(wp_store_pool_take(f->st, &m));
    m = move(f, x->cust[1], x->emp3, T0 + 8 * DAY);
    assert_int_equal(wp_store_pool_take(f->st, &m), WP_EBUSY);
    assert_int_equal(m.refused, WP_POOL_NOT_IN_POOL);
    m = move(f, x->cust[2], f->emp2, T0 + 8 * DAY + 1);
    OK(wp_store_pool_take(f->st, &m));
    m = move(f, x->cust[3], f->emp2, T0 + 8 * DAY + 2);
    assert_int_equal(wp_store_pool_take(f->st, &m), WP_ELIMIT);
    assert_int_equal(m.refused, WP_POOL_DAILY_LIMIT);
    assert_true(m.retry_after_us == T0 + 9 * DAY);
    m = move(f, x->cust[3], f->emp2, T0 + 9 * DAY);
    OK(wp_store_pool_take(f->st, &m)); /* 24 hours later */
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM customers WHERE in_pool = 1"), 0);
    /* assigning ignores the rules */
    m = move(f, x->cust[4], NULL, T0 + 9 * DAY);
    OK(wp_store_pool_release(f->st, &m));
    m = move(f, x->cust[4], f->emp2, T0 + 9 * DAY);
    m.claim = 0;
    OK(wp_store_pool_take(f->st, &m));
    assert_int_equal(count_owned(f, f->emp2), 5);
}

static void test_store_customers__reclaim(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    wp_reclaim_result r = {0, 0};
    wp_employee_change ch = WP_EMPLOYEE_CHANGE_INIT;
    wp_employee e;
    char sql[256];
    OK(wp_store_pool_reclaim(f->st, &r, key, T0));
    assert_true(r.owner_left == 0 && r.inactive == 0);
    ch.active = 0;
    OK(wp_store_employee_update(f->st, &e, f->tenant, f->emp2, &ch));
    OK(wp_store_pool_reclaim(f->st, &r, key, T0));
    assert_true(r.owner_left == 1 && r.inactive == 0);
    /* a follow-up keeps customer 0 out of the inactivity rule */
    wp_crm_actor who = {.actor = "system"};
    char ev[WP_ID_LEN + 1];
    OK(wp_store_customer_follow_up(f->st, ev, f->tenant, x->cust[0], "called back", &who,
                                   T0 + 20 * DAY));
    memset(&r, 0, sizeof r);
    OK(wp_store_pool_reclaim(f->st, &r, key, T0 + 29 * DAY - 1));
    assert_true(r.inactive == 0);
    OK(wp_store_pool_reclaim(f->st, &r, key, T0 + 29 * DAY + 1));
    assert_true(r.inactive == 4);
    OK(wp_store_pool_reclaim(f->st, &r, key, T0 + 29 * DAY + 2));
    assert_true(r.inactive == 4);
    snprintf(sql, sizeof sql, "SELECT in_pool FROM customers WHERE id = '%s'", x->cust[0]);
    assert_int_equal(tfx_raw1(f, sql), 0);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM audit_log WHERE action = 'pool.reclaim'"),
                     5);
    wp_audit_verdict v;
    OK(wp_store_audit_verify(f->st, key, f->tenant, &v));
    assert_true(v.ok);
    wp_pool_page page;
    wp_pool_filter pf = {.tenant_id = f->tenant, .reason = "inactive", .limit = 3};
    OK(wp_store_pool_list(f->st, &page, &pf));
    assert_int_equal(page.n, 3);
    assert_true(page.next_cursor[0] != '\0');
    pf.cursor = page.next_cursor;
    wp_pool_page next;
    OK(wp_store_pool_list(f->st, &next, &pf));
    assert_int_equal(next.n, 1);
    wp_pool_page_release(&page);
    wp_pool_page_release(&next);
}

static void test_store_customers__edit_and_timeline(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    wp_crm_actor who = {.actor = "system"};
    wp_customer_edit ed = {.stage = "intent", .grade = "A", .company = "Acme Ltd", .notes = "vip"};
    wp_customer_crm c;
    int changed = 0;
    OK(wp_store_customer_edit(f->st, &changed, f->tenant, x->cust[0], &ed, &who, T0 + 1));
    assert_int_equal(changed, 4);
    OK(wp_store_customer_edit(f->st, &changed, f->tenant, x->cust[0], &ed, &who, T0 + 2));
    assert_int_equal(changed, 0);
    wp_customer_edit bad = {.grade = "E"};
    assert_int_equal(wp_store_customer_edit(f->st, &changed, f->tenant, x->cust[0], &bad, &who, T0),
                     WP_EINVAL);
    OK(wp_store_customer_crm_get(f->st, &c, f->tenant, x->cust[0]));
    assert_string_equal(c.base.stage, "intent");
    assert_string_equal(c.company, "Acme Ltd");
    assert_string_equal(c.notes, "vip");
    assert_true(c.stage_us == T0 + 1);
    wp_customer_crm_release(&c);
    char ev[WP_ID_LEN + 1];
    OK(wp_store_customer_follow_up(f->st, ev, f->tenant, x->cust[0], "note", &who, T0 + 3));
    wp_timeline_page p;
    wp_timeline_filter tf = {.tenant_id = f->tenant, .customer_id = x->cust[0], .limit = 3};
    OK(wp_store_customer_timeline(f->st, &p, &tf));
    assert_int_equal(p.n, 3);
    assert_string_equal(p.items[0].kind, "follow_up");
    assert_true(p.items[0].ts_us == T0 + 3);
    for (size_t i = 1; i < p.n; i++)
        assert_true(p.items[i].ts_us <= p.items[i - 1].ts_us);
    char cur[WP_ARCHIVE_CURSOR_MAX];
    memcpy(cur, p.next_cursor, sizeof cur);
    wp_timeline_page_release(&p);
    tf.cursor = cur;
    OK(wp_store_customer_timeline(f->st, &p, &tf));
    assert_int_equal(p.n, 2);
    assert_string_equal(p.next_cursor, "");
    wp_timeline_page_release(&p);
}

/* A session's refusals, as store/people.h documents them (the API makes its own hashes and
 * ids, so only the store's own test reaches these): an employee the tenant does not have and
 * a tenant that is not an id (WP_ENOTFOUND: it names nothing), a token hash already used
 * (WP_EEXISTS), a hash that is not one and an expiry not after the start (WP_EINVAL); sessions
 * dead for a day go
 * when the next is made; a session ends at its expiry and at a logout, and logging out twice
 * is no error. */
static void test_store_customers__session_refusals(void **state)
{
    struct tfx *f = *state;
    char tok[65], other[65], dead[65], short_hash[65] = "abc";
    wp_session se;
    memset(tok, 'a', 64);
    memset(other, 'b', 64);
    memset(dead, 'c', 64);
    tok[64] = other[64] = dead[64] = '\0';
    assert_int_equal(wp_store_session_create(f->st, f->tenant, "000000000000000000000000", tok,
                                             NULL, T0, T0 + DAY),
                     WP_ENOTFOUND);
    assert_int_equal(wp_store_session_create(f->st, f->tenant, f->emp1, short_hash, NULL, T0,
                                             T0 + DAY),
                     WP_EINVAL);
    assert_int_equal(wp_store_session_create(f->st, "tenant", f->emp1, tok, NULL, T0, T0 + DAY),
                     WP_ENOTFOUND);
    assert_int_equal(wp_store_session_create(f->st, f->tenant, f->emp1, tok, NULL, T0, T0),
                     WP_EINVAL);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM sessions"), 0);
    /* dead two days before T0: gone when the next session is made at T0 */
    OK(wp_store_session_create(f->st, f->tenant, f->emp1, dead, NULL, T0 - 3 * DAY, T0 - 2 * DAY));
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM sessions"), 1);
    OK(wp_store_session_create(f->st, f->tenant, f->emp1, tok, "127.0.0.1", T0, T0 + DAY));
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM sessions"), 1);
    assert_int_equal(wp_store_session_create(f->st, f->tenant, f->emp2, tok, NULL, T0, T0 + DAY),
                     WP_EEXISTS);
    OK(wp_store_session_auth(f->st, &se, tok, T0 + 1));
    assert_string_equal(se.employee.id, f->emp1);
    assert_int_equal(wp_store_session_auth(f->st, &se, tok, T0 + DAY), WP_EAUTH);
    assert_int_equal(wp_store_session_auth(f->st, &se, other, T0 + 1), WP_EAUTH);
    OK(wp_store_session_revoke(f->st, tok, T0 + 2));
    assert_int_equal(wp_store_session_auth(f->st, &se, tok, T0 + 3), WP_EAUTH);
    OK(wp_store_session_revoke(f->st, tok, T0 + 4));
    OK(wp_store_session_revoke(f->st, other, T0 + 4));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest suite[] = {
    T(test_store_customers__handover_atomic),
    T(test_store_customers__handover_split_and_replay),
    T(test_store_customers__handover_weighted),
    T(test_store_customers__handover_key_and_refusals),
    T(test_store_customers__pool_rules),
    T(test_store_customers__reclaim),
    T(test_store_customers__edit_and_timeline),
    T(test_store_customers__session_refusals),
};

int main(void)
{
    return tfx_run("store_customers", suite, sizeof suite / sizeof suite[0]) ? 1 : 0;
}
