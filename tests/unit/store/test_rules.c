/* SPDX-License-Identifier: MIT */
/* Customer rules in the store (migration 0010): tags and tagging, SOP reminders (due times,
 * closing by a follow-up, overdue alerts, idempotent runs). */
#include "archive_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit.h"
#include "store/customers.h"
#include "store/merge.h"
#include "store/rules.h"
#include "store/scripts.h"
#include "store/store.h"
#include "store/tags.h"
#include "util/error.h"
#include "util/id.h"

#define T0 1795831200000000LL /* 2026-11-28T10:00:00+08:00 */
#define HOUR 3600000000LL

static const unsigned char key[WP_AUDIT_KEY_LEN] = "0123456789abcdef0123456789abcdef";

struct cx {
    char cust[3][WP_ID_LEN + 1];
};

static int setup(void **state)
{
    struct tfx *f = calloc(1, sizeof *f);
    struct cx *x = calloc(1, sizeof *x);
    char sql[512];
    assert_non_null(f);
    assert_non_null(x);
    tfx_seed(f);
    f->user = x;
    /* two customers of emp1 created at T0, one of emp2 an hour later, graded A */
    for (int i = 0; i < 3; i++) {
        wp_id_new(x->cust[i]);
        snprintf(sql, sizeof sql,
                 "INSERT INTO customers (tenant_id, id, name, owner_employee_id, created_us,"
                 " grade) VALUES ('%s', '%s', 'customer %d', '%s', %lld, %s)",
                 f->tenant, x->cust[i], i, i < 2 ? f->emp1 : f->emp2,
                 (long long)(T0 + (i == 2) * HOUR), i == 2 ? "'A'" : "NULL");
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

static void test_store_rules__tags(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    wp_crm_actor who = {.actor = "system"};
    wp_tag g, t1, t2, t;
    wp_tag *v = NULL;
    size_t n = 0;
    int changed = -1;

    OK(wp_store_tag_create(f->st, &g, f->tenant, 1, NULL, "意向", "#AABBCC", T0));
    assert_string_equal(g.color, "#aabbcc");
    assert_int_equal(wp_store_tag_create(f->st, &t, f->tenant, 1, NULL, "意向", NULL, T0),
                     WP_EEXISTS);
    assert_int_equal(wp_store_tag_create(f->st, &t, f->tenant, 0, NULL, "x", "blue", T0),
                     WP_EINVAL);
    assert_int_equal(wp_store_tag_create(f->st, &t, f->tenant, 0, "000000000000000000000000",
                                         "x", NULL, T0),
                     WP_EINVAL);
    OK(wp_store_tag_create(f->st, &t1, f->tenant, 0, g.id, "hot", NULL, T0));
    OK(wp_store_tag_create(f->st, &t2, f->tenant, 0, NULL, "vip", NULL, T0));
    /* the same name in another group is another tag */
    OK(wp_store_tag_create(f->st, &t, f->tenant, 0, NULL, "hot", NULL, T0));
    OK(wp_store_tags_list(f->st, &v, &n, f->tenant, 0, g.id));
    assert_int_equal(n, 1);
    free(v);

    const char *set[] = {t1.id, t2.id};
    OK(wp_store_customer_tags_change(f->st, &changed, f->tenant, x->cust[0], 1, set, 2, NULL, 0,
                                     NULL, 0, &who, T0 + 1));
    assert_int_equal(changed, 2);
    OK(wp_store_customer_tags_change(f->st, &changed, f->tenant, x->cust[0], 1, set, 2, NULL, 0,
                                     NULL, 0, &who, T0 + 2));
    assert_int_equal(changed, 0);
    const char *bogus[] = {"000000000000000000000000"};
    assert_int_equal(wp_store_customer_tags_change(f->st, &changed, f->tenant, x->cust[0], 0, NULL,
                                                   0, bogus, 1, NULL, 0, &who, T0),
                     WP_EINVAL);
    OK(wp_store_customer_tags_change(f->st, &changed, f->tenant, x->cust[1], 0, NULL, 0, set, 1,
                                     NULL, 0, &who, T0 + 3));
    assert_true(tfx_raw1(f, "SELECT COUNT(*) FROM customer_events WHERE kind = 'tags_changed'") ==
                2);

    char(*ids)[WP_ID_LEN + 1] = NULL;
    OK(wp_store_customers_with_tag(f->st, &ids, &n, f->tenant, t1.id, NULL, 10));
    assert_int_equal(n, 2);
    free(ids);

    assert_int_equal(wp_store_tag_delete(f->st, NULL, f->tenant, 1, g.id, &who, T0), WP_EBUSY);
    int64_t untagged = 0;
    OK(wp_store_tag_delete(f->st, &untagged, f->tenant, 0, t1.id, &who, T0 + 4));
    assert_true(untagged == 2);
    OK(wp_store_customer_tags(f->st, &v, &n, f->tenant, x->cust[0]));
    assert_int_equal(n, 1);
    assert_string_equal(v[0].id, t2.id);
    free(v);
    assert_true(tfx_raw1(f, "SELECT COUNT(*) FROM customer_events WHERE kind = 'tags_changed'") ==
                4);
    OK(wp_store_tag_delete(f->st, NULL, f->tenant, 1, g.id, &who, T0));
    /* a failed change inside a transaction leaves it usable (PostgreSQL aborts otherwise) */
    OK(wp_store_begin(f->st));
    assert_int_equal(wp_store_customer_tags_change(f->st, &changed, f->tenant, x->cust[0], 0, NULL,
                                                   0, bogus, 1, NULL, 0, &who, T0),
                     WP_EINVAL);
    OK(wp_store_tag_update(f->st, &t, f->tenant, 0, t2.id, "vip!", NULL, NULL));
    OK(wp_store_commit(f->st));
    OK(wp_store_tag_get(f->st, &t, f->tenant, 0, t2.id));
    assert_string_equal(t.name, "vip!");
}

static int64_t run_rules(struct tfx *f, wp_rules_result *r, int64_t now)
{
    memset(r, 0, sizeof *r);
    OK(wp_store_crm_rules_run(f->st, r, key, now));
    return r->reminders;
}

static void test_store_rules__sop(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    wp_crm_actor who = {.actor = "system"};
    wp_rules_result r;
    wp_sop_rule lead = {.interval_h = 24, .grace_h = 12, .active = 1};
    wp_sop_rule a = {.interval_h = 72, .grace_h = 0, .active = 1};
    wp_reminder_page p;
    wp_reminder_filter rf = {.tenant_id = f->tenant, .now_us = T0};

    snprintf(lead.name, sizeof lead.name, "new lead");
    snprintf(lead.stage, sizeof lead.stage, "lead");
    snprintf(a.name, sizeof a.name, "grade A");
    snprintf(a.grade, sizeof a.grade, "A");
    OK(wp_store_sop_rule_put(f->st, &lead, f->tenant, 1, T0));
    OK(wp_store_sop_rule_put(f->st, &a, f->tenant, 1, T0));
    lead.interval_h = 0;
    assert_int_equal(wp_store_sop_rule_put(f->st, &lead, f->tenant, 0, T0), WP_EINVAL);
    lead.interval_h = 24;

    assert_true(run_rules(f, &r, T0 + 24 * HOUR - 1) == 0);
    assert_true(run_rules(f, &r, T0 + 24 * HOUR) == 2); /* emp1's two: customer 2 is an hour younger */
    assert_true(run_rules(f, &r, T0 + 24 * HOUR) == 0);
    assert_true(run_rules(f, &r, T0 + 25 * HOUR) == 1);
    /* emp1's reminders, earliest first; customer 0 gets a follow-up: done at once */
    rf.employee_id = f->emp1;
    OK(wp_store_reminders_list(f->st, &p, &rf));
    assert_int_equal(p.n, 2);
    assert_true(p.items[0].due_us == T0 + 24 * HOUR);
    free(p.items);
    OK(wp_store_customer_follow_up(f->st, NULL, f->tenant, x->cust[0], "called", &who,
                                   T0 + 30 * HOUR));
    OK(wp_store_reminders_list(f->st, &p, &rf));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].customer_id, x->cust[1]);
    free(p.items);
    rf.state = WP_REMINDER_DONE;
    OK(wp_store_reminders_list(f->st, &p, &rf));
    assert_int_equal(p.n, 1);
    assert_true(p.items[0].done_us == T0 + 30 * HOUR);
    free(p.items);

    /* at +73 h: customer 2's grade A reminder, customer 0's again 24 h after its follow-up;
     * alerts for what is open past its grace: customer 1, customer 2's two, customer 0's new
     * one (due +54 h, overdue +66 h) */
    run_rules(f, &r, T0 + 73 * HOUR);
    assert_true(r.closed == 1 && r.reminders == 2 && r.overdue == 4);
    run_rules(f, &r, T0 + 73 * HOUR);
    assert_true(r.closed == 0 && r.overdue == 0 && r.reminders == 0);
    assert_true(tfx_raw1(f, "SELECT COUNT(*) FROM alerts WHERE kind = 'followup_overdue'") == 4);
    assert_true(tfx_raw1(f, "SELECT COUNT(*) FROM audit_log WHERE action = 'reminder.overdue'") ==
                4);
    rf.state = WP_REMINDER_OVERDUE;
    rf.now_us = T0 + 73 * HOUR;
    rf.employee_id = f->emp2;
    OK(wp_store_reminders_list(f->st, &p, &rf));
    assert_int_equal(p.n, 2);
    assert_true(p.items[0].alert_id[0] != '\0');
    free(p.items);
    /* paging */
    rf.employee_id = NULL;
    rf.state = WP_REMINDER_ANY;
    rf.limit = 2;
    OK(wp_store_reminders_list(f->st, &p, &rf));
    assert_int_equal(p.n, 2);
    char cur[WP_ARCHIVE_CURSOR_MAX];
    memcpy(cur, p.next_cursor, sizeof cur);
    assert_true(cur[0] != '\0');
    free(p.items);
    rf.cursor = cur;
    OK(wp_store_reminders_list(f->st, &p, &rf));
    assert_int_equal(p.n, 2);
    assert_true(p.items[0].due_us >= T0 + 25 * HOUR);
    free(p.items);
    OK(wp_store_sop_rule_delete(f->st, f->tenant, lead.id));
    assert_int_equal(wp_store_sop_rule_delete(f->st, f->tenant, lead.id), WP_ENOTFOUND);
    assert_true(tfx_raw1(f, "SELECT COUNT(*) FROM reminders") == 1);
}

static void test_store_rules__grading(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    wp_crm_actor who = {.actor = "system"};
    wp_rules_result r;
    wp_tag t;
    wp_grade_rule g0 = {.grade = "A", .min_messages = -1, .messages_days = -1,
                        .contact_within_days = -1, .no_contact_days = -1, .active = 1};
    wp_grade_rule g1 = g0, g2 = g0, bad = g0;
    int64_t changed = 0;

    OK(wp_store_tag_create(f->st, &t, f->tenant, 0, NULL, "hot", NULL, T0));
    const char *one[] = {t.id};
    OK(wp_store_customer_tags_change(f->st, NULL, f->tenant, x->cust[1], 0, NULL, 0, one, 1, NULL,
                                     0, &who, T0));
    memcpy(g0.tag_id, t.id, sizeof g0.tag_id);
    g1.position = 1;
    g1.no_contact_days = 7;
    memcpy(g1.grade, "D", 2);
    g2.position = 2;
    memcpy(g2.stage, "lead", 5);
    memcpy(g2.grade, "C", 2);
    OK(wp_store_grade_rule_put(f->st, &g2, f->tenant, 1, T0)); /* made first, tried last */
    OK(wp_store_grade_rule_put(f->st, &g0, f->tenant, 1, T0));
    OK(wp_store_grade_rule_put(f->st, &g1, f->tenant, 1, T0));
    assert_int_equal(wp_store_grade_rule_put(f->st, &bad, f->tenant, 1, T0), WP_EINVAL);
    bad.min_messages = 3;
    assert_int_equal(wp_store_grade_rule_put(f->st, &bad, f->tenant, 1, T0), WP_EINVAL);

    memset(&r, 0, sizeof r);
    OK(wp_store_crm_rules_run(f->st, &r, key, T0 + 2 * HOUR));
    assert_true(r.graded == 3); /* 1: A by its tag; 0 and 2 (was A): C as leads */
    wp_customer c;
    OK(wp_store_customer_get(f->st, &c, f->tenant, x->cust[1]));
    assert_string_equal(c.grade, "A");
    OK(wp_store_customer_get(f->st, &c, f->tenant, x->cust[2]));
    assert_string_equal(c.grade, "C");
    memset(&r, 0, sizeof r);
    OK(wp_store_crm_rules_run(f->st, &r, key, T0 + 2 * HOUR));
    assert_true(r.graded == 0);

    /* a person's grade pins the customer; a week without contact makes the others D */
    wp_crm_actor boss = {.actor = "employee:x", .employee_id = f->emp1};
    wp_customer_edit e = {.grade = "B"};
    OK(wp_store_customer_edit(f->st, NULL, f->tenant, x->cust[0], &e, &boss, T0 + 3 * HOUR));
    OK(wp_store_begin(f->st));
    OK(wp_store_grade_rules_apply(f->st, &changed, key, f->tenant, x->cust[2], T0 + 8 * 24 * HOUR));
    OK(wp_store_commit(f->st));
    assert_true(changed == 1);
    memset(&r, 0, sizeof r);
    OK(wp_store_crm_rules_run(f->st, &r, key, T0 + 8 * 24 * HOUR));
    assert_true(r.graded == 0);
    OK(wp_store_customer_get(f->st, &c, f->tenant, x->cust[0]));
    assert_string_equal(c.grade, "B");
    OK(wp_store_customer_get(f->st, &c, f->tenant, x->cust[2]));
    assert_string_equal(c.grade, "D");
    assert_true(tfx_raw1(f, "SELECT COUNT(*) FROM customer_events WHERE kind = 'grade_changed'"
                            " AND actor LIKE 'rule:%'") == 4);
    assert_true(tfx_raw1(f, "SELECT COUNT(*) FROM audit_log WHERE action = 'customer.grade_rule'") ==
                4);
}

static void test_store_rules__scripts(void **state)
{
    struct tfx *f = *state;
    wp_script s, s2;
    wp_script_page p;
    wp_script_filter sf = {.tenant_id = f->tenant};
    char *norm = NULL;
    int64_t uses = 0;

    OK(wp_script_normalize(&norm, "您好！Welcome， 欢迎 光临 🙂\n"));
    assert_string_equal(norm, "您好welcome欢迎光临");
    free(norm);
    memset(&s, 0, sizeof s);
    OK(wp_store_script_put(f->st, &s, f->tenant, NULL, "开场", "问候", "您好，欢迎光临！", T0));
    assert_true(s.usage_count == 0);
    wp_script_release(&s);
    OK(wp_store_script_put(f->st, &s, f->tenant, NULL, "报价", "Price", "Our price is 100", T0 + 1));
    assert_int_equal(wp_store_script_put(f->st, &s2, f->tenant, NULL, "x", "y", "", T0),
                     WP_EINVAL);
    assert_int_equal(wp_store_script_put(f->st, &s2, f->tenant, NULL, "x", NULL, "z", T0),
                     WP_EINVAL);
    sf.q = "PRICE";
    OK(wp_store_scripts_list(f->st, &p, &sf));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].id, s.id);
    wp_script_page_release(&p);
    sf.q = "50%";
    OK(wp_store_scripts_list(f->st, &p, &sf));
    assert_int_equal(p.n, 0);
    wp_script_page_release(&p);
    sf.q = NULL;
    sf.category = "开场";
    OK(wp_store_scripts_list(f->st, &p, &sf));
    assert_int_equal(p.n, 1);
    wp_script_page_release(&p);
    /* the counter starts over with a new text; a title alone keeps it */
    tfx_exec(f, "UPDATE scripts SET usage_count = 7");
    OK(wp_store_script_put(f->st, &s2, f->tenant, s.id, NULL, "Price list", NULL, T0 + 2));
    assert_true(s2.usage_count == 7);
    wp_script_release(&s2);
    OK(wp_store_script_put(f->st, &s2, f->tenant, s.id, NULL, NULL, "Our price is 90", T0 + 3));
    assert_true(s2.usage_count == 0);
    assert_string_equal(s2.title, "Price list");
    wp_script_release(&s2);
    OK(wp_store_scripts_count(f->st, &uses, T0));
    assert_true(uses == 0);
    OK(wp_store_script_delete(f->st, f->tenant, s.id));
    assert_int_equal(wp_store_script_delete(f->st, f->tenant, s.id), WP_ENOTFOUND);
    wp_script_release(&s);
}

static void test_store_rules__merge(void **state)
{
    struct tfx *f = *state;
    struct cx *x = f->user;
    wp_crm_actor who = {.actor = "system"};
    wp_merge_result r;
    wp_tag t;
    char m[WP_ID_LEN + 1], sql[512];
    int64_t n = 0;

    snprintf(sql, sizeof sql,
             "INSERT INTO customer_identities (tenant_id, kind, value, customer_id, created_us)"
             " VALUES ('%s', 'wechat', 'wxid_b', '%s', 1)",
             f->tenant, x->cust[1]);
    tfx_exec(f, sql);
    OK(wp_store_tag_create(f->st, &t, f->tenant, 0, NULL, "hot", NULL, T0));
    const char *one[] = {t.id};
    OK(wp_store_customer_tags_change(f->st, NULL, f->tenant, x->cust[1], 0, NULL, 0, one, 1, NULL,
                                     0, &who, T0));
    OK(wp_store_customer_tags_change(f->st, NULL, f->tenant, x->cust[0], 0, NULL, 0, one, 1, NULL,
                                     0, &who, T0));
    assert_int_equal(wp_store_customer_merge(f->st, &r, f->tenant, x->cust[0], x->cust[0], &who,
                                             T0),
                     WP_EINVAL);
    OK(wp_store_customer_merge(f->st, &r, f->tenant, x->cust[0], x->cust[1], &who, T0 + 1));
    assert_true(r.identities == 1 && r.events == 1);
    OK(wp_store_customer_merged_into(f->st, m, f->tenant, x->cust[1]));
    assert_string_equal(m, x->cust[0]);
    OK(wp_store_customer_merged_into(f->st, m, f->tenant, x->cust[0]));
    assert_string_equal(m, "");
    assert_int_equal(wp_store_customer_merge(f->st, &r, f->tenant, x->cust[0], x->cust[1], &who,
                                             T0),
                     WP_EBUSY);
    assert_int_equal(wp_store_customer_merge(f->st, &r, f->tenant, x->cust[1], x->cust[2], &who,
                                             T0),
                     WP_EBUSY);
    n = tfx_raw1(f, "SELECT COUNT(*) FROM customer_tags");
    assert_true(n == 1);
    assert_true(tfx_raw1(f, "SELECT COUNT(*) FROM customer_events WHERE kind = 'merged'") == 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest suite[] = {
    T(test_store_rules__tags),
    T(test_store_rules__sop),
    T(test_store_rules__grading),
    T(test_store_rules__scripts),
    T(test_store_rules__merge),
};

int main(void)
{
    return tfx_run("store_rules", suite, sizeof suite / sizeof suite[0]) ? 1 : 0;
}
