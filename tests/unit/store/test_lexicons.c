/* SPDX-License-Identifier: MIT */
/* Lexicons of org units in the store (migration 0017): the chain a phone's unit gets, the one
 * counter of versions, and the version of a path moving exactly when something on it changes. */
#include "archive_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/org.h"
#include "store/people.h"
#include "store/policy.h"
#include "store/store.h"
#include "util/error.h"

/* HQ (the seed's unit) → 华东 → 上海一店 and 杭州一店; a salesperson in each store. */
struct org {
    char east[WP_ID_LEN + 1], sh[WP_ID_LEN + 1], hz[WP_ID_LEN + 1];
    char sh_emp[WP_ID_LEN + 1], hz_emp[WP_ID_LEN + 1];
};

static int setup(void **state)
{
    struct tfx *f = calloc(1, sizeof *f);
    struct org *o = calloc(1, sizeof *o);
    wp_org_unit u;
    wp_employee e;
    assert_non_null(f);
    assert_non_null(o);
    tfx_seed(f);
    OK(wp_store_org_unit_create(f->st, &u, f->tenant, f->unit, "华东", WP_ORG_REGION));
    memcpy(o->east, u.id, sizeof o->east);
    OK(wp_store_org_unit_create(f->st, &u, f->tenant, o->east, "上海一店", WP_ORG_STORE));
    memcpy(o->sh, u.id, sizeof o->sh);
    OK(wp_store_org_unit_create(f->st, &u, f->tenant, o->east, "杭州一店", WP_ORG_STORE));
    memcpy(o->hz, u.id, sizeof o->hz);
    OK(wp_store_employee_create(f->st, &e, f->tenant, o->sh, "吴销售", "wu", WP_ROLE_SALES, NULL));
    memcpy(o->sh_emp, e.id, sizeof o->sh_emp);
    OK(wp_store_employee_create(f->st, &e, f->tenant, o->hz, "郑销售", "zheng", WP_ROLE_SALES,
                                NULL));
    memcpy(o->hz_emp, e.id, sizeof o->hz_emp);
    OK(wp_store_policy_init(f->st, f->tenant, "飞单\tprivate_deal\tblock\n", 26));
    f->user = o;
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

static wp_policy_chain of_employee(struct tfx *f, const char *emp)
{
    wp_policy_chain c;
    OK(wp_store_policy_chain(f->st, &c, f->tenant, emp, NULL));
    return c;
}

static wp_policy_chain of_unit(struct tfx *f, const char *unit)
{
    wp_policy_chain c;
    OK(wp_store_policy_chain(f->st, &c, f->tenant, NULL, unit));
    return c;
}

static int64_t put(struct tfx *f, const char *unit, const char *text, int64_t entries)
{
    int64_t v = 0;
    OK(wp_store_unit_lexicon_put(f->st, &v, f->tenant, unit, text, strlen(text), entries));
    return v;
}

static void test_store_lexicons__chain(void **state)
{
    struct tfx *f = *state;
    struct org *o = f->user;

    /* no unit has a lexicon: the tenant's policy alone, as before */
    wp_policy_chain c = of_employee(f, o->sh_emp);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.version, 1);
    assert_int_equal(c.lexicon_version, 1);
    assert_int_equal(c.row.money_alert_fen, WP_MONEY_ALERT_DEFAULT_FEN);

    int64_t ve = put(f, o->east, "看房\tproperty\talert\n", 1);
    int64_t vs = put(f, o->sh, "首付贷\tproperty\tblock\n", 1);
    assert_true(ve > 1 && vs > ve);
    c = of_employee(f, o->sh_emp);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.links[0].org_unit_id, o->east); /* top first */
    assert_string_equal(c.links[1].org_unit_id, o->sh);
    assert_int_equal(c.links[1].version, vs);
    assert_int_equal(c.version, vs);
    assert_int_equal(c.lexicon_version, vs);
    /* the other store has the region's only */
    c = of_employee(f, o->hz_emp);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.links[0].org_unit_id, o->east);
    assert_int_equal(c.version, ve);
    /* by unit, the same; the top unit has nothing of its own */
    c = of_unit(f, o->sh);
    assert_int_equal(c.n, 2);
    c = of_unit(f, f->unit);
    assert_int_equal(c.n, 0);
    /* the HQ salesperson: the tenant's alone */
    c = of_employee(f, f->emp1);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.version, 1);

    /* an unknown employee or unit has no links; a tenant without a policy is ENOTFOUND */
    c = of_employee(f, "0123456789abcdef01234567");
    assert_int_equal(c.n, 0);
    char other[WP_ID_LEN + 1];
    OK(wp_store_tenant_create(f->st, other, "Other"));
    assert_int_equal(wp_store_policy_chain(f->st, &c, other, o->sh_emp, NULL), WP_ENOTFOUND);
    assert_int_equal(wp_store_unit_lexicon_put(f->st, &ve, f->tenant, "0123456789abcdef01234567",
                                               "x\n", 2, 1),
                     WP_ENOTFOUND);
    /* another tenant's unit is not this tenant's */
    assert_int_equal(wp_store_unit_lexicon_put(f->st, &ve, other, o->sh, "x\n", 2, 1),
                     WP_ENOTFOUND);

    char *text = NULL;
    size_t len = 0;
    int64_t v = 0;
    OK(wp_store_unit_lexicon_get(f->st, &v, &text, &len, f->tenant, o->sh));
    assert_int_equal(v, vs);
    assert_string_equal(text, "首付贷\tproperty\tblock\n");
    assert_int_equal(len, strlen(text));
    free(text);
    assert_int_equal(wp_store_unit_lexicon_get(f->st, &v, &text, &len, f->tenant, o->hz),
                     WP_ENOTFOUND);

    wp_unit_lexicon_info *items = NULL;
    size_t n = 0;
    OK(wp_store_unit_lexicons_list(f->st, &items, &n, f->tenant));
    assert_int_equal(n, 2);
    assert_string_equal(items[0].org_unit_id, o->east); /* tree order */
    assert_string_equal(items[1].org_unit_id, o->sh);
    assert_int_equal(items[1].entries, 1);
    free(items);
}

/* A path's version moves exactly when something on it changes: its units' lexicons, the
 * tenant's lexicon or settings; not for a lexicon of another branch. */
static void test_store_lexicons__versions_move(void **state)
{
    struct tfx *f = *state;
    struct org *o = f->user;
    int64_t v = 0;

    int64_t sh0 = of_employee(f, o->sh_emp).version, hz0 = of_employee(f, o->hz_emp).version;
    put(f, o->sh, "首付贷\tproperty\tblock\n", 1);
    int64_t sh1 = of_employee(f, o->sh_emp).version, hz1 = of_employee(f, o->hz_emp).version;
    assert_true(sh1 > sh0);
    assert_int_equal(hz1, hz0); /* another store's lexicon is not on its path */
    put(f, o->east, "看房\n", 1);
    int64_t sh2 = of_employee(f, o->sh_emp).version, hz2 = of_employee(f, o->hz_emp).version;
    assert_true(sh2 > sh1 && hz2 > hz1);

    /* the tenant's lexicon and settings: above everything given before, on every path */
    OK(wp_store_lexicon_put(f->st, &v, f->tenant, "私单\n", 7));
    assert_true(v > sh2);
    wp_policy_chain c = of_employee(f, o->sh_emp);
    assert_int_equal(c.version, v);
    assert_int_equal(c.lexicon_version, v);
    assert_int_equal(c.row.lexicon_version, v);
    OK(wp_store_policy_set_money_alert(f->st, &v, f->tenant, 100));
    c = of_employee(f, o->sh_emp);
    assert_int_equal(c.version, v);
    assert_int_equal(c.lexicon_version, v - 1); /* a setting is no lexicon */
    assert_int_equal(c.row.money_alert_fen, 100);
    int64_t touched = 0;
    OK(wp_store_policy_touch(f->st, &touched, f->tenant));
    assert_int_equal(touched, v + 1);

    /* a unit's next version is above the tenant's */
    int64_t hz = put(f, o->hz, "# nothing yet\n", 0);
    assert_true(hz > touched);
    c = of_employee(f, o->hz_emp);
    assert_int_equal(c.version, hz); /* the policy moved: the text changed */
    assert_int_equal(c.lexicon_version, touched - 2); /* the scanner did not: nothing added */
    assert_int_equal(c.n, 2);
    assert_int_equal(c.links[1].entries, 0);
    /* emptied: still a version of its own, above the one before */
    int64_t sh3 = put(f, o->sh, "", 0);
    c = of_employee(f, o->sh_emp);
    assert_int_equal(c.version, sh3);
    assert_true(sh3 > hz);
}

/* A unit's lexicon goes with the unit; an employee moved gets the new path's chain. */
static void test_store_lexicons__moves_and_deletes(void **state)
{
    struct tfx *f = *state;
    struct org *o = f->user;
    wp_org_unit u, moved;
    wp_employee e;

    put(f, o->sh, "首付贷\n", 1);
    wp_employee_change ch = WP_EMPLOYEE_CHANGE_INIT;
    ch.org_unit_id = o->hz;
    OK(wp_store_employee_update(f->st, &e, f->tenant, o->sh_emp, &ch));
    assert_int_equal(of_employee(f, o->sh_emp).n, 0);
    /* the store moved under the top: its chain is the store alone */
    OK(wp_store_org_unit_create(f->st, &u, f->tenant, o->sh, "上海一店一组", WP_ORG_TEAM));
    put(f, o->east, "看房\n", 1);
    assert_int_equal(of_unit(f, u.id).n, 2);
    OK(wp_store_org_unit_move(f->st, &moved, f->tenant, o->sh, f->unit));
    assert_int_equal(of_unit(f, u.id).n, 1); /* the region is no longer above the team */
    wp_policy_chain c = of_unit(f, o->sh);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.links[0].org_unit_id, o->sh);
    /* deleted with its unit */
    put(f, u.id, "组内词\n", 1);
    assert_int_equal(of_unit(f, u.id).n, 2);
    OK(wp_store_org_unit_delete(f->st, f->tenant, u.id));
    wp_unit_lexicon_info *items = NULL;
    size_t n = 0;
    OK(wp_store_unit_lexicons_list(f->st, &items, &n, f->tenant));
    assert_int_equal(n, 2); /* the team's went with it */
    /* both right under the top now: in tree order, which between siblings is the order of
     * their ids (made in the same millisecond, they differ in their random part) */
    int east_first = strcmp(o->east, o->sh) < 0;
    assert_string_equal(items[east_first ? 0 : 1].org_unit_id, o->east);
    assert_string_equal(items[east_first ? 1 : 0].org_unit_id, o->sh);
    free(items);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest suite[] = {
    T(test_store_lexicons__chain),
    T(test_store_lexicons__versions_move),
    T(test_store_lexicons__moves_and_deletes),
};

int main(void)
{
    return tfx_run("store_lexicons", suite, sizeof suite / sizeof suite[0]) ? 1 : 0;
}
