/* SPDX-License-Identifier: MIT */
/* Working hours in the store (migration 0018): the defaults, a unit's override inherited down
 * the tree, night shifts, another zone and its summer time, the working time between two
 * instants, and the analytics rollups starting over after a change. */
#include "archive_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/org.h"
#include "store/people.h"
#include "store/store.h"
#include "store/workhours.h"
#include "util/error.h"

#define S 1000000LL
#define WED_2330 (1795620600LL * S) /* 2026-11-25T23:30:00+08:00, a Wednesday */
#define THU_0905 (1795655100LL * S) /* 2026-11-26T09:05:00+08:00 */
#define FRI_1700 (1795770000LL * S) /* 2026-11-27T17:00:00+08:00 */
#define MON_1000 (1796004000LL * S) /* 2026-11-30T10:00:00+08:00 */
#define HOUR (3600LL * S)

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

static int64_t between(struct tfx *f, const char *emp, int64_t a, int64_t b)
{
    wp_workcal *c = NULL;
    OK(wp_workcal_load(&c, f->st, f->tenant));
    int64_t v = wp_workcal_between_us(c, wp_workcal_of(c, emp, NULL), a, b);
    wp_workcal_free(c);
    return v;
}

static int working(struct tfx *f, const char *emp, int64_t t)
{
    wp_employee_hours w;
    OK(wp_store_employee_working(f->st, &w, f->tenant, emp, t));
    return w.working;
}

static void test_store_workhours__defaults(void **state)
{
    struct tfx *f = *state;
    wp_workhours_settings s;
    OK(wp_store_workhours_get(f->st, &s, f->tenant));
    assert_string_equal(s.time_zone, "Asia/Shanghai");
    assert_true(!s.zone_set && !s.tenant_set && s.n_units == 0);
    assert_true(s.tenant.days == 0x1f && s.tenant.from_min == 540 && s.tenant.to_min == 1080);
    wp_workhours_settings_release(&s);
    /* a customer who wrote at 23:30 and was answered at 09:05 waited 5 minutes of work */
    assert_int_equal(between(f, f->emp1, WED_2330, THU_0905), 300 * S);
    /* Friday 17:00 to Monday 10:00: an hour on Friday, an hour on Monday */
    assert_int_equal(between(f, f->emp1, FRI_1700, MON_1000), 2 * HOUR);
    assert_int_equal(between(f, f->emp1, MON_1000, FRI_1700), 0);
    /* an employee the calendar does not know has the tenant's hours */
    assert_int_equal(between(f, "000000000000000000000000", FRI_1700, MON_1000), 2 * HOUR);
    assert_int_equal(working(f, f->emp1, FRI_1700), 1);
    assert_int_equal(working(f, f->emp1, FRI_1700 + HOUR), 0);
    assert_int_equal(working(f, f->emp1, FRI_1700 + 17 * HOUR), 0); /* Saturday 10:00 */
    wp_employee_hours w;
    assert_int_equal(wp_store_employee_working(f->st, &w, f->tenant, "000000000000000000000000",
                                               FRI_1700),
                     WP_ENOTFOUND);
}

static void test_store_workhours__units(void **state)
{
    struct tfx *f = *state;
    wp_org_unit region, shop;
    wp_employee e;
    wp_workhours sat = {0x3f, 10 * 60, 19 * 60}; /* Monday to Saturday, 10:00-19:00 */
    wp_workhours night = {0x4f, 22 * 60, 6 * 60}; /* Sunday to Thursday, 22:00-06:00 */
    wp_workhours all = {0x7f, 0, 1440};
    wp_workhours bad = {0x1f, 600, 600};

    OK(wp_store_org_unit_create(f->st, &region, f->tenant, f->unit, "East", WP_ORG_REGION));
    OK(wp_store_org_unit_create(f->st, &shop, f->tenant, region.id, "Shop", WP_ORG_STORE));
    OK(wp_store_employee_create(f->st, &e, f->tenant, shop.id, "Wu", "wu", WP_ROLE_SALES, NULL));
    assert_int_equal(wp_store_workhours_set(f->st, f->tenant, region.id, &bad, 1), WP_EINVAL);
    assert_int_equal(
        wp_store_workhours_set(f->st, f->tenant, "000000000000000000000000", &sat, 1),
        WP_ENOTFOUND);
    assert_int_equal(wp_store_workhours_set_zone(f->st, f->tenant, "Mars/Olympus", 1), WP_EINVAL);

    /* the analytics start over after a change */
    tfx_exec(f, "INSERT INTO analytics_state (tenant_id, msg_rid, pending_rid, pending_xid,"
                " calls_us, alerts_us, run_us) SELECT id, 5, 0, 0, 0, 0, 0 FROM tenants");
    OK(wp_store_workhours_set(f->st, f->tenant, region.id, &sat, 1));
    assert_int_equal(tfx_raw1(f, "SELECT COUNT(*) FROM analytics_state"), 0);

    /* the shop inherits the region's; the seed's employees (at the top) keep the tenant's */
    wp_employee_hours w;
    OK(wp_store_employee_working(f->st, &w, f->tenant, e.id, FRI_1700 + 17 * HOUR));
    assert_true(w.working && !strcmp(w.from_unit, region.id));
    assert_int_equal(working(f, f->emp1, FRI_1700 + 17 * HOUR), 0);
    /* Friday 17:00 to Monday 10:00 in the shop: Friday 2 h, Saturday 9 h, Monday 0 */
    assert_int_equal(between(f, e.id, FRI_1700, MON_1000), 11 * HOUR);
    /* the shop's own night shift: Sunday 22:00 to Monday 06:00, nothing on Friday night */
    OK(wp_store_workhours_set(f->st, f->tenant, shop.id, &night, 2));
    assert_int_equal(between(f, e.id, FRI_1700, MON_1000), 8 * HOUR);
    assert_int_equal(working(f, e.id, MON_1000 - 5 * HOUR), 1); /* Monday 05:00 */
    assert_int_equal(working(f, e.id, MON_1000 - 4 * HOUR), 0); /* Monday 06:00 */
    /* removed: the region's again */
    OK(wp_store_workhours_set(f->st, f->tenant, shop.id, NULL, 3));
    assert_int_equal(between(f, e.id, FRI_1700, MON_1000), 11 * HOUR);
    /* the tenant all day: wall-clock time */
    OK(wp_store_workhours_set(f->st, f->tenant, NULL, &all, 4));
    assert_int_equal(between(f, f->emp1, WED_2330, THU_0905), THU_0905 - WED_2330);

    wp_workhours_settings s;
    OK(wp_store_workhours_get(f->st, &s, f->tenant));
    assert_true(s.tenant_set && s.tenant.days == 0x7f && s.n_units == 1);
    assert_string_equal(s.units[0].org_unit_id, region.id);
    wp_workhours_settings_release(&s);
}

static void test_store_workhours__zone(void **state)
{
    struct tfx *f = *state;
    FILE *z = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    if (!z)
        skip();
    fclose(z);
    OK(wp_store_workhours_set_zone(f->st, f->tenant, "Europe/Berlin", 1));
    /* 09:00 in Berlin: 08:00Z in winter (Friday 27 March 2026), 07:00Z in summer (Monday 30) */
    assert_int_equal(working(f, f->emp1, 1774598340LL * S), 0); /* 07:59Z Friday */
    assert_int_equal(working(f, f->emp1, 1774598400LL * S), 1); /* 08:00Z Friday */
    assert_int_equal(working(f, f->emp1, 1774854000LL * S), 1); /* 07:00Z Monday */
    assert_int_equal(working(f, f->emp1, 1774854000LL * S - 1), 0);
    /* Friday 08:00Z to Monday 08:00Z: Friday's 9 h and Monday's first hour */
    assert_int_equal(between(f, f->emp1, 1774598400LL * S, 1774857600LL * S), 10 * HOUR);
    OK(wp_store_workhours_set_zone(f->st, f->tenant, NULL, 2));
    wp_workhours_settings s;
    OK(wp_store_workhours_get(f->st, &s, f->tenant));
    assert_true(!s.zone_set && !strcmp(s.time_zone, "Asia/Shanghai"));
    wp_workhours_settings_release(&s);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest suite[] = {
    T(test_store_workhours__defaults),
    T(test_store_workhours__units),
    T(test_store_workhours__zone),
};

int main(void)
{
    return tfx_run("store_workhours", suite, sizeof suite / sizeof suite[0]) ? 1 : 0;
}
