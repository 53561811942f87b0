/* SPDX-License-Identifier: MIT */
/* Which objects a caller reaches (src/api/scope.c, docs/internals/api.md "Scope"): each role
 * and an API key against employees, customers and org units in its own unit, a child, a
 * sibling, the parent and another tenant, on both backends. */
#include "../store/archive_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "store/alerts.h"
#include "store/customers.h"
#include "store/devices.h"
#include "store/org.h"
#include "store/people.h"
#include "util/error.h"
#include "util/id.h"
#include "util/testhooks.h"

/* HQ (f->unit) > A > A1, and HQ > B; another tenant with its own top unit. */
struct world {
    char A[WP_ID_LEN + 1], A1[WP_ID_LEN + 1], B[WP_ID_LEN + 1], X[WP_ID_LEN + 1];
    char tenant2[WP_ID_LEN + 1];
    wp_employee admin, auditor, mgr_a, sales_a, mgr_a1, sales_a1, sales_b, sales_hq, mgr_b;
    wp_employee other; /* a salesperson of the other tenant */
};

enum { N_PEOPLE = 10 };

static wp_employee *people(struct world *w, size_t i)
{
    wp_employee *all[N_PEOPLE] = {&w->admin,    &w->auditor, &w->mgr_a,   &w->sales_a,
                                  &w->mgr_a1,   &w->sales_a1, &w->sales_b, &w->sales_hq,
                                  &w->mgr_b,    &w->other};
    return all[i];
}

static void unit(struct tfx *f, char out[WP_ID_LEN + 1], const char *tenant, const char *parent,
                 const char *name)
{
    wp_org_unit u;
    OK(wp_store_org_unit_create(f->st, &u, tenant, parent, name, parent ? WP_ORG_STORE : WP_ORG_HQ));
    memcpy(out, u.id, WP_ID_LEN + 1);
}

static void person(struct tfx *f, wp_employee *out, const char *tenant, const char *unit_id,
                   const char *username, enum wp_role role)
{
    OK(wp_store_employee_create(f->st, out, tenant, unit_id, username, username, role, NULL));
}

static int setup(void **state)
{
    struct tfx *f = calloc(1, sizeof *f);
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(f);
    assert_non_null(w);
    tfx_seed(f);
    f->user = w;
    unit(f, w->A, f->tenant, f->unit, "A");
    unit(f, w->A1, f->tenant, w->A, "A1");
    unit(f, w->B, f->tenant, f->unit, "B");
    person(f, &w->admin, f->tenant, f->unit, "admin", WP_ROLE_ADMIN);
    person(f, &w->auditor, f->tenant, f->unit, "auditor", WP_ROLE_AUDITOR);
    person(f, &w->mgr_a, f->tenant, w->A, "mgr_a", WP_ROLE_MANAGER);
    person(f, &w->sales_a, f->tenant, w->A, "sales_a", WP_ROLE_SALES);
    person(f, &w->mgr_a1, f->tenant, w->A1, "mgr_a1", WP_ROLE_MANAGER);
    person(f, &w->sales_a1, f->tenant, w->A1, "sales_a1", WP_ROLE_SALES);
    person(f, &w->sales_b, f->tenant, w->B, "sales_b", WP_ROLE_SALES);
    person(f, &w->sales_hq, f->tenant, f->unit, "sales_hq", WP_ROLE_SALES);
    person(f, &w->mgr_b, f->tenant, w->B, "mgr_b", WP_ROLE_MANAGER);
    OK(wp_store_tenant_create(f->st, w->tenant2, "Other"));
    unit(f, w->X, w->tenant2, NULL, "X");
    person(f, &w->other, w->tenant2, w->X, "other", WP_ROLE_SALES);
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

/* A request context for a caller. */
struct req {
    wp_http_ctx ctx;
    api_caller c;
    api_scope scope;
};

static void as_employee(struct tfx *f, struct req *r, const wp_employee *e)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(wp_arena_new(&r->ctx.arena, 1 << 16), 0);
    r->c.kind = API_CALLER_EMPLOYEE;
    r->c.employee = *e;
    r->c.tenant_id = r->c.employee.tenant_id;
    r->c.rs.view_pii = e->role != WP_ROLE_SALES;
    r->ctx.auth = &r->c;
    OK(api_scope_for(&r->ctx, f->st, &r->scope));
}

static void as_key(struct tfx *f, struct req *r, enum wp_role role, const char *unit_id,
                   int want)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(wp_arena_new(&r->ctx.arena, 1 << 16), 0);
    r->c.kind = API_CALLER_KEY;
    r->c.key.role = role;
    snprintf(r->c.key.tenant_id, sizeof r->c.key.tenant_id, "%s", f->tenant);
    snprintf(r->c.key.org_unit_id, sizeof r->c.key.org_unit_id, "%s", unit_id ? unit_id : "");
    r->c.tenant_id = r->c.key.tenant_id;
    r->ctx.auth = &r->c;
    assert_int_equal(api_scope_for(&r->ctx, f->st, &r->scope), want);
}

static void done(struct req *r)
{
    wp_arena_free(r->ctx.arena);
}

/* The people the caller reaches, as a string of 0/1 in the order of people(). */
static void reaches(struct tfx *f, struct req *r, const char *want)
{
    struct world *w = f->user;
    char got[N_PEOPLE + 1], cust[N_PEOPLE + 1];
    for (size_t i = 0; i < N_PEOPLE; i++) {
        const wp_employee *e = people(w, i);
        int err = api_scope_allows_employee(&r->ctx, f->st, &r->scope, e);
        assert_true(err == 0 || err == WP_ENOTFOUND);
        got[i] = err == 0 ? '1' : '0';
        /* a customer that person owns: reached by the same callers */
        wp_customer c;
        memset(&c, 0, sizeof c);
        wp_id_new(c.id);
        memcpy(c.tenant_id, e->tenant_id, sizeof c.tenant_id);
        memcpy(c.owner_employee_id, e->id, sizeof c.owner_employee_id);
        err = api_scope_allows_customer(&r->ctx, f->st, &r->scope, &c);
        assert_true(err == 0 || err == WP_ENOTFOUND);
        cust[i] = err == 0 ? '1' : '0';
        enum api_access a = API_ACCESS_RECORD;
        int err2 = api_scope_customer_access(&r->ctx, f->st, &r->scope, &c, &a);
        assert_int_equal(err2, err);
        assert_int_equal(a, err ? API_ACCESS_NONE : API_ACCESS_RECORD);
    }
    got[N_PEOPLE] = cust[N_PEOPLE] = '\0';
    assert_string_equal(got, want);
    assert_string_equal(cust, want);
}

/* The units the caller reaches: HQ, A, A1, B. */
static void reaches_units(struct tfx *f, struct req *r, const char *want)
{
    struct world *w = f->user;
    const char *ids[4] = {f->unit, w->A, w->A1, w->B};
    char got[5];
    for (size_t i = 0; i < 4; i++) {
        wp_org_unit u;
        OK(wp_store_org_unit_get(f->st, &u, f->tenant, ids[i]));
        int err = api_scope_allows_org_unit(&r->scope, &u);
        assert_true(err == 0 || err == WP_ENOTFOUND);
        got[i] = err == 0 ? '1' : '0';
    }
    got[4] = '\0';
    assert_string_equal(got, want);
}

/*                       admin auditor mgr_a sales_a mgr_a1 sales_a1 sales_b sales_hq mgr_b other */
static void test_api_scope__roles_by_position(void **state)
{
    struct tfx *f = *state;
    struct world *w = f->user;
    struct req r;

    /* admins and auditors: the whole tenant (another tenant's objects are not found by the
     * store: every get is by tenant) */
    as_employee(f, &r, &w->admin);
    assert_int_equal(r.scope.all, 1);
    assert_int_equal(r.scope.see_phone, 1);
    reaches_units(f, &r, "1111");
    done(&r);
    as_employee(f, &r, &w->auditor);
    assert_int_equal(r.scope.all, 1);
    done(&r);
    wp_employee e;
    assert_int_equal(wp_store_employee_get(f->st, &e, f->tenant, w->other.id), WP_ENOTFOUND);

    /* a manager: its own unit (itself, its peers) and every unit below; not its parent, not a
     * sibling, not another tenant */
    as_employee(f, &r, &w->mgr_a);
    assert_int_equal(r.scope.all, 0);
    assert_string_equal(r.scope.unit_id, w->A);
    assert_non_null(r.scope.store.org_path);
    assert_null(r.scope.store.employee_id);
    reaches(f, &r, "0011110000");
    reaches_units(f, &r, "0110");
    done(&r);
    /* the manager of the child: the child only */
    as_employee(f, &r, &w->mgr_a1);
    reaches(f, &r, "0000110000");
    reaches_units(f, &r, "0010");
    done(&r);
    /* the sibling's manager */
    as_employee(f, &r, &w->mgr_b);
    reaches(f, &r, "0000001010");
    reaches_units(f, &r, "0001");
    done(&r);

    /* a salesperson: itself and its own customers; of the units, its own */
    as_employee(f, &r, &w->sales_a);
    assert_int_equal(r.scope.all, 0);
    assert_int_equal(r.scope.see_phone, 0);
    assert_string_equal(r.scope.store.employee_id, w->sales_a.id);
    assert_null(r.scope.store.org_path);
    reaches(f, &r, "0001000000");
    reaches_units(f, &r, "0100");
    done(&r);
    as_employee(f, &r, &w->sales_hq); /* at the top: still itself alone */
    reaches(f, &r, "0000000100");
    reaches_units(f, &r, "1000");
    done(&r);
}

static void test_api_scope__keys(void **state)
{
    struct tfx *f = *state;
    struct world *w = f->user;
    struct req r;
    /* a manager's key: the subtree of the unit it was made for; its own unit is "" */
    as_key(f, &r, WP_ROLE_MANAGER, w->A, 0);
    assert_string_equal(r.scope.unit_id, "");
    reaches(f, &r, "0011110000");
    reaches_units(f, &r, "0110");
    done(&r);
    as_key(f, &r, WP_ROLE_ADMIN, NULL, 0);
    assert_int_equal(r.scope.all, 1);
    done(&r);
    as_key(f, &r, WP_ROLE_AUDITOR, NULL, 0);
    assert_int_equal(r.scope.all, 1);
    done(&r);
    /* no key is a salesperson's (the store refuses to make one): no scope */
    as_key(f, &r, WP_ROLE_SALES, NULL, WP_EAUTH);
    done(&r);
    /* a manager's key whose unit is gone: the store's answer */
    as_key(f, &r, WP_ROLE_MANAGER, "eeeeeeeeeeeeeeeeeeeeeeee", WP_ENOTFOUND);
    done(&r);
}

static void test_api_scope__no_employee_caller(void **state)
{
    struct tfx *f = *state;
    wp_http_ctx ctx;
    api_caller c;
    api_scope scope;
    memset(&ctx, 0, sizeof ctx);
    memset(&c, 0, sizeof c);
    assert_int_equal(wp_arena_new(&ctx.arena, 1 << 16), 0);
    /* nobody, and a device: no scope at all */
    assert_int_equal(api_scope_for(&ctx, f->st, &scope), WP_EAUTH);
    c.kind = API_CALLER_DEVICE;
    ctx.auth = &c;
    assert_int_equal(api_scope_for(&ctx, f->st, &scope), WP_EAUTH);
    assert_null(api_caller_employee_id(NULL));
    assert_null(api_caller_employee_id(&c));
    c.kind = API_CALLER_KEY;
    snprintf(c.key.created_by, sizeof c.key.created_by, "%s", f->emp1);
    assert_string_equal(api_caller_employee_id(&c), f->emp1); /* a key acts for its maker */
    wp_arena_free(ctx.arena);
}

/* A customer in the public pool is nobody's: its last owner, a salesperson, no longer reaches it;
 * managers over that owner and admins still do. A customer whose owner is gone is reached by
 * the whole-tenant roles only. */
static void test_api_scope__pool_and_missing_owner(void **state)
{
    struct tfx *f = *state;
    struct world *w = f->user;
    struct req r;
    wp_customer c;
    enum api_access a;
    memset(&c, 0, sizeof c);
    wp_id_new(c.id);
    memcpy(c.tenant_id, f->tenant, sizeof c.tenant_id);
    memcpy(c.owner_employee_id, w->sales_a.id, sizeof c.owner_employee_id);
    c.in_pool = 1;
    as_employee(f, &r, &w->sales_a);
    assert_int_equal(api_scope_allows_customer(&r.ctx, f->st, &r.scope, &c), WP_ENOTFOUND);
    assert_int_equal(api_scope_customer_access(&r.ctx, f->st, &r.scope, &c, &a), WP_ENOTFOUND);
    assert_int_equal(a, API_ACCESS_NONE);
    assert_int_equal(api_scope_reads_customer(&r.ctx, f->st, &r.scope, &c), WP_ENOTFOUND);
    c.in_pool = 0;
    assert_int_equal(api_scope_reads_customer(&r.ctx, f->st, &r.scope, &c), 0);
    c.in_pool = 1;
    done(&r);
    as_employee(f, &r, &w->mgr_a);
    assert_int_equal(api_scope_allows_customer(&r.ctx, f->st, &r.scope, &c), 0);
    done(&r);
    wp_id_new(c.owner_employee_id); /* an owner the store does not know */
    c.in_pool = 0;
    as_employee(f, &r, &w->mgr_a);
    assert_int_equal(api_scope_allows_customer(&r.ctx, f->st, &r.scope, &c), WP_ENOTFOUND);
    done(&r);
    as_employee(f, &r, &w->admin);
    assert_int_equal(api_scope_allows_customer(&r.ctx, f->st, &r.scope, &c), 0);
    assert_int_equal(api_scope_customer_access(&r.ctx, f->st, &r.scope, &c, &a), 0);
    assert_int_equal(a, API_ACCESS_RECORD);
    done(&r);
}

/* History (messages, calls, alerts) of an employee: seen by whoever reaches that employee;
 * anyone else only through a grant, which nobody here has. */
static void test_api_scope__history(void **state)
{
    struct tfx *f = *state;
    struct world *w = f->user;
    struct req r;
    as_employee(f, &r, &w->mgr_a);
    OK(api_scope_sees_history(&r.ctx, f->st, &r.scope, f->tenant, w->sales_a1.id, NULL));
    assert_int_equal(api_scope_sees_history(&r.ctx, f->st, &r.scope, f->tenant, w->sales_b.id,
                                            "eeeeeeeeeeeeeeeeeeeeeeee"),
                     WP_ENOTFOUND);
    assert_int_equal(api_scope_sees_history(&r.ctx, f->st, &r.scope, f->tenant, w->sales_hq.id,
                                            ""),
                     WP_ENOTFOUND);
    /* an employee that does not exist: not found, not an error */
    assert_int_equal(api_scope_sees_history(&r.ctx, f->st, &r.scope, f->tenant,
                                            "eeeeeeeeeeeeeeeeeeeeeeee", NULL),
                     WP_ENOTFOUND);
    done(&r);
    as_employee(f, &r, &w->sales_a);
    OK(api_scope_sees_history(&r.ctx, f->st, &r.scope, f->tenant, w->sales_a.id, NULL));
    assert_int_equal(
        api_scope_sees_history(&r.ctx, f->st, &r.scope, f->tenant, w->mgr_a.id, NULL),
        WP_ENOTFOUND);
    done(&r);
    as_employee(f, &r, &w->auditor);
    OK(api_scope_sees_history(&r.ctx, f->st, &r.scope, f->tenant, w->sales_b.id, NULL));
    done(&r);
}

/* --- the same scopes as the store's lists take them -------------------------------------- */

/* Whether list holds id, as a 0/1 string over the people of this tenant (other excluded). */
static void listed(struct tfx *f, const char *what, char ids[][WP_ID_LEN + 1], size_t n_ids,
                   char (*have)[WP_ID_LEN + 1], size_t n_have, const char *want)
{
    char got[N_PEOPLE + 1];
    for (size_t i = 0; i < n_ids; i++) {
        got[i] = '0';
        for (size_t k = 0; k < n_have; k++)
            if (!strcmp(ids[i], have[k]))
                got[i] = '1';
    }
    got[n_ids] = '\0';
    if (strcmp(got, want))
        fail_msg("%s listed %s, wanted %s", what, got, want);
    (void)f;
}

/* Employees, customers and alerts listed for the caller: each list filtered by the scope
 * api_scope_for() made, so what a list shows is what the single-object checks allow. */
static void lists_for(struct tfx *f, struct req *r, char cust[][WP_ID_LEN + 1],
                      const char *want_people, const char *want_alerts)
{
    struct world *w = f->user;
    const wp_scope *sc = r->scope.all ? NULL : &r->scope.store;
    char ids[N_PEOPLE - 1][WP_ID_LEN + 1], have[64][WP_ID_LEN + 1];
    size_t n = 0;
    for (size_t i = 0; i < N_PEOPLE - 1; i++)
        memcpy(ids[i], people(w, i)->id, WP_ID_LEN + 1);

    wp_employee_page ep;
    wp_employee_filter ef = {.tenant_id = f->tenant, .scope = sc, .limit = WP_PAGE_MAX};
    OK(wp_store_employees_list(f->st, &ep, &ef));
    for (size_t i = 0; i < ep.n && n < 64; i++)
        memcpy(have[n++], ep.items[i].id, WP_ID_LEN + 1);
    wp_employee_page_release(&ep);
    listed(f, "employees", ids, N_PEOPLE - 1, have, n, want_people);

    wp_customer_page cp;
    wp_customer_filter cf = {.tenant_id = f->tenant, .scope = sc, .limit = WP_PAGE_MAX};
    OK(wp_store_customers_list(f->st, &cp, &cf));
    n = 0;
    for (size_t i = 0; i < cp.n && n < 64; i++)
        memcpy(have[n++], cp.items[i].id, WP_ID_LEN + 1);
    wp_customer_page_release(&cp);
    listed(f, "customers", cust, N_PEOPLE - 1, have, n, want_people);

    wp_device_page dp;
    wp_device_filter df = {.tenant_id = f->tenant, .scope = sc, .limit = WP_PAGE_MAX};
    OK(wp_store_devices_list(f->st, &dp, &df));
    n = 0;
    for (size_t i = 0; i < dp.n && n < 64; i++)
        memcpy(have[n++], dp.items[i].employee_id, WP_ID_LEN + 1);
    wp_device_page_release(&dp);
    listed(f, "devices of", ids, N_PEOPLE - 1, have, n, want_people);

    wp_alert_page ap;
    wp_alert_filter af = {.tenant_id = f->tenant, .scope = sc, .limit = WP_PAGE_MAX};
    OK(wp_store_alerts_list(f->st, &ap, &af));
    n = 0;
    size_t insider = 0;
    for (size_t i = 0; i < ap.n && n < 64; i++) {
        memcpy(have[n++], ap.items[i].employee_id, WP_ID_LEN + 1);
        insider += !strcmp(ap.items[i].kind, "mass_unmask");
    }
    wp_alert_page_release(&ap);
    /* an insider alert is the whole-tenant roles' alone */
    assert_int_equal(insider, sc ? 0 : 1);
    listed(f, "alerts about", ids, N_PEOPLE - 1, have, n, want_alerts);
}

static void test_api_scope__lists(void **state)
{
    struct tfx *f = *state;
    struct world *w = f->user;
    struct req r;
    char cust[N_PEOPLE - 1][WP_ID_LEN + 1], existing[WP_ID_LEN + 1], sql[768];
    const char *field = NULL;
    wp_crm_actor who = {.actor = "system"};
    /* a customer owned by each person of the tenant, a keyword alert about each, a device */
    for (size_t i = 0; i < N_PEOPLE - 1; i++) {
        const wp_employee *e = people(w, i);
        char name[96];
        snprintf(name, sizeof name, "customer of %s", e->username);
        char phone[16];
        snprintf(phone, sizeof phone, "1380013800%zu", i);
        wp_customer_new cn = {.name = name, .phone = phone, .owner_employee_id = e->id,
                              .via = "api"};
        OK(wp_store_customer_create(f->st, cust[i], existing, &field, f->tenant, &cn, &who,
                                    1795831200000000LL));
        char id[WP_ID_LEN + 1];
        wp_id_new(id);
        snprintf(sql, sizeof sql,
                 "INSERT INTO alerts (tenant_id, id, ts_us, kind, category, employee_id, pattern,"
                 " matched, status, created_us, updated_us) VALUES ('%s', '%s', %zu,"
                 " 'sensitive_word', 'custom', '%s', 'x', 'x', 'open', 1, 1)",
                 f->tenant, id, 1000 + i, e->id);
        tfx_exec(f, sql);
        OK(wp_store_device_source(f->st, id, f->tenant, e->id, "test", 1795831200000000LL));
    }
    /* an insider alert about sales_a: for the whole-tenant roles only */
    char id[WP_ID_LEN + 1];
    wp_id_new(id);
    snprintf(sql, sizeof sql,
             "INSERT INTO alerts (tenant_id, id, ts_us, kind, category, employee_id, pattern,"
             " matched, status, created_us, updated_us) VALUES ('%s', '%s', 5000, 'mass_unmask',"
             " 'insider', '%s', 'x', 'x', 'open', 1, 1)",
             f->tenant, id, w->sales_a.id);
    tfx_exec(f, sql);

    /*                                   admin auditor mgr_a sales_a mgr_a1 sales_a1 sales_b
     *                                   sales_hq mgr_b */
    as_employee(f, &r, &w->admin);
    lists_for(f, &r, cust, "111111111", "111111111");
    done(&r);
    as_employee(f, &r, &w->mgr_a);
    lists_for(f, &r, cust, "001111000", "001111000");
    done(&r);
    as_employee(f, &r, &w->mgr_a1);
    lists_for(f, &r, cust, "000011000", "000011000");
    done(&r);
    as_employee(f, &r, &w->mgr_b);
    lists_for(f, &r, cust, "000000101", "000000101");
    done(&r);
    as_employee(f, &r, &w->sales_a1);
    lists_for(f, &r, cust, "000001000", "000001000");
    done(&r);
    as_key(f, &r, WP_ROLE_MANAGER, w->A, 0);
    lists_for(f, &r, cust, "001111000", "001111000");
    done(&r);
}

/* A scope is a subtree or one employee, never both, and a subtree is a path of the store's
 * shape: anything else is refused, not read as "everything". */
static void test_api_scope__bad_store_scopes(void **state)
{
    struct tfx *f = *state;
    struct world *w = f->user;
    static const char *const bad_paths[] = {"", "/", "abc/", "/abc", "x"};
    wp_employee_page ep;
    wp_scope sc = {.org_path = NULL, .employee_id = w->sales_a.id};
    wp_employee_filter ef = {.tenant_id = f->tenant, .scope = &sc};
    for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
        sc = (wp_scope){.org_path = bad_paths[i]};
        assert_int_equal(wp_store_employees_list(f->st, &ep, &ef), WP_EINVAL);
        assert_non_null(strstr(wp_error_last(), "invalid org scope"));
    }
    /* a path of 1024 bytes is longer than any unit's */
    char longp[1025];
    memset(longp, 'a', 1024);
    longp[0] = longp[1023] = '/';
    longp[1024] = '\0';
    sc = (wp_scope){.org_path = longp};
    assert_int_equal(wp_store_employees_list(f->st, &ep, &ef), WP_EINVAL);
    longp[1022] = '/';
    longp[1023] = '\0'; /* 1023 bytes: a path of the right shape, of no unit: nobody */
    OK(wp_store_employees_list(f->st, &ep, &ef));
    assert_int_equal(ep.n, 0);
    wp_employee_page_release(&ep);
    wp_org_unit u;
    OK(wp_store_org_unit_get(f->st, &u, f->tenant, w->A));
    sc = (wp_scope){.org_path = u.path, .employee_id = w->sales_a.id};
    assert_int_equal(wp_store_employees_list(f->st, &ep, &ef), WP_EINVAL);
    sc = (wp_scope){.employee_id = "nope"};
    assert_int_equal(wp_store_employees_list(f->st, &ep, &ef), WP_ENOTFOUND);

    /* a salesperson asking for another's devices gets none; its own, its own */
    char dev[WP_ID_LEN + 1];
    OK(wp_store_device_source(f->st, dev, f->tenant, w->sales_a.id, "test", 1795831200000000LL));
    OK(wp_store_device_source(f->st, dev, f->tenant, w->sales_b.id, "test", 1795831200000000LL));
    wp_device_page dp;
    sc = (wp_scope){.employee_id = w->sales_a.id};
    wp_device_filter df = {.tenant_id = f->tenant, .employee_id = w->sales_b.id, .scope = &sc};
    OK(wp_store_devices_list(f->st, &dp, &df));
    assert_int_equal(dp.n, 0);
    wp_device_page_release(&dp);
    df.employee_id = w->sales_a.id;
    OK(wp_store_devices_list(f->st, &dp, &df));
    assert_int_equal(dp.n, 1);
    assert_string_equal(dp.items[0].employee_id, w->sales_a.id);
    wp_device_page_release(&dp);
    df.employee_id = NULL;
    OK(wp_store_devices_list(f->st, &dp, &df));
    assert_int_equal(dp.n, 1);
    wp_device_page_release(&dp);
}

/* What each role sees of personal data by default (docs/internals/api.md, "Personal data"):
 * admins unmasked; managers, auditors and salespeople masked; a tenant's setting changes it. */
static void test_api_scope__who_sees_personal_data(void **state)
{
    struct tfx *f = *state;
    struct world *w = f->user;
    const wp_employee *who[4] = {&w->admin, &w->mgr_a, &w->auditor, &w->sales_a};
    const int clear[4] = {1, 0, 0, 0};
    for (size_t i = 0; i < 4; i++) {
        struct req r;
        as_employee(f, &r, who[i]);
        OK(wp_store_role_setting_get(f->st, &r.c.rs, f->tenant, who[i]->role));
        assert_int_equal(api_view_clear(&r.ctx), clear[i]);
        /* the scope says the same */
        OK(api_scope_for(&r.ctx, f->st, &r.scope));
        assert_int_equal(r.scope.see_phone, clear[i]);
        const char *out;
        size_t n;
        OK(api_view_text(&r.ctx, &out, &n, "电话13800138000", strlen("电话13800138000")));
        assert_string_equal(out, clear[i] ? "电话13800138000" : "电话***********");
        done(&r);
    }
    /* the tenant lets its salespeople see personal data: they do */
    wp_role_setting rs;
    OK(wp_store_role_setting_get(f->st, &rs, f->tenant, WP_ROLE_SALES));
    rs.view_pii = 1;
    OK(wp_store_role_setting_put(f->st, f->tenant, &rs, 1795831200000000LL));
    struct req r;
    as_employee(f, &r, &w->sales_a);
    OK(wp_store_role_setting_get(f->st, &r.c.rs, f->tenant, WP_ROLE_SALES));
    assert_int_equal(api_view_clear(&r.ctx), 1);
    done(&r);
}

/* Run call with its 1st, 2nd, ... store statement failing until it runs without the failure:
 * a check whose store fails answers WP_EIO, never a yes (0) nor a no (WP_ENOTFOUND); the run
 * that does not fail answers want. */
#define SWEEP(want, call)                                                                          \
    do {                                                                                           \
        for (unsigned n_ = 1;; n_++) {                                                             \
            assert_true(n_ < 20);                                                                  \
            wp_test_hooks_store_arm(n_);                                                           \
            int rc_ = (call);                                                                      \
            int fired_ = wp_test_hooks_store_fired();                                              \
            wp_test_hooks_store_arm(0);                                                            \
            if (!fired_) {                                                                         \
                if (n_ == 1)                                                                       \
                    fail_msg("%s: no statement failed", #call);                                    \
                assert_int_equal(rc_, (want));                                                     \
                break;                                                                             \
            }                                                                                      \
            if (rc_ != WP_EIO)                                                                     \
                fail_msg("%s with statement %u failing -> %d", #call, n_, rc_);                   \
        }                                                                                          \
    } while (0)

/* A store failing inside each scope check (the test hook of util/testhooks.h): the caller's
 * scope, a manager's customer, employee and history checks, a salesperson's customer reached
 * through a transfer's grant or a met conversation. */
static void test_api_scope__store_fails(void **state)
{
    struct tfx *f = *state;
    struct world *w = f->user;
    struct req r;
    wp_customer c;
    enum api_access a;
    memset(&c, 0, sizeof c);
    wp_id_new(c.id);
    memcpy(c.tenant_id, f->tenant, sizeof c.tenant_id);
    memcpy(c.owner_employee_id, w->sales_a.id, sizeof c.owner_employee_id);

    as_employee(f, &r, &w->mgr_a);
    SWEEP(0, api_scope_for(&r.ctx, f->st, &r.scope));
    SWEEP(0, api_scope_allows_customer(&r.ctx, f->st, &r.scope, &c));
    SWEEP(0, api_scope_allows_employee(&r.ctx, f->st, &r.scope, &w->sales_a1));
    done(&r);
    as_employee(f, &r, &w->mgr_b);
    SWEEP(WP_ENOTFOUND, api_scope_allows_customer(&r.ctx, f->st, &r.scope, &c));
    SWEEP(WP_ENOTFOUND, api_scope_customer_access(&r.ctx, f->st, &r.scope, &c, &a));
    assert_int_equal(a, API_ACCESS_NONE);
    SWEEP(WP_ENOTFOUND, api_scope_sees_history(&r.ctx, f->st, &r.scope, f->tenant, w->sales_a.id,
                                               c.id));
    done(&r);
    as_employee(f, &r, &w->sales_b);
    SWEEP(WP_ENOTFOUND, api_scope_customer_access(&r.ctx, f->st, &r.scope, &c, &a));
    SWEEP(WP_ENOTFOUND,
          api_scope_sees_history(&r.ctx, f->st, &r.scope, f->tenant, w->sales_a.id, c.id));
    done(&r);
}

/* The rights of each role (api/api.h): public, metrics and device are no role's right (their
 * routes are not authorized by role), and an unknown right is refused. */
static void test_api_scope__rights(void **state)
{
    (void)state;
    const enum wp_role roles[] = {WP_ROLE_ADMIN, WP_ROLE_MANAGER, WP_ROLE_AUDITOR, WP_ROLE_SALES};
    /* one row per role, one column per right from WP_RIGHT_PUBLIC (1) to WP_RIGHT_UNMASK (11) */
    const char *want[] = {"00011111111", "00011010111", "00010011101", "00011010000"};
    for (size_t i = 0; i < 4; i++) {
        wp_role_setting rs = {.role = roles[i],
                              .view_pii = roles[i] == WP_ROLE_ADMIN,
                              .unmask = roles[i] != WP_ROLE_SALES,
                              .handle_alerts = roles[i] != WP_ROLE_SALES};
        char got[WP_RIGHT_COUNT + 1];
        for (int r = 1; r <= WP_RIGHT_COUNT; r++)
            got[r - 1] = api_role_allows(roles[i], &rs, (enum wp_http_right)r) ? '1' : '0';
        got[WP_RIGHT_COUNT] = '\0';
        assert_string_equal(got, want[i]);
        assert_int_equal(api_role_allows(roles[i], &rs, (enum wp_http_right)(WP_RIGHT_COUNT + 1)),
                         0);
    }
    /* sales never handles alerts, whatever a row says; view_pii alone is enough to unmask */
    wp_role_setting sales = {.role = WP_ROLE_SALES, .handle_alerts = 1, .view_pii = 1};
    assert_int_equal(api_role_allows(WP_ROLE_SALES, &sales, WP_RIGHT_HANDLE_ALERTS), 0);
    assert_int_equal(api_role_allows(WP_ROLE_SALES, &sales, WP_RIGHT_UNMASK), 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest suite[] = {
    T(test_api_scope__roles_by_position), T(test_api_scope__keys),
    T(test_api_scope__no_employee_caller), T(test_api_scope__pool_and_missing_owner),
    T(test_api_scope__history), T(test_api_scope__lists), T(test_api_scope__bad_store_scopes),
    T(test_api_scope__who_sees_personal_data), T(test_api_scope__store_fails),
    T(test_api_scope__rights),
};

int main(void)
{
    /* the store's failure hook (util/testhooks.h) is armed only by this process's tests */
    setenv("WORKPHONE_TEST_HOOKS", "1", 1);
    if (wp_test_hooks_load() < 0)
        return 1;
    return tfx_run("api_scope", suite, sizeof suite / sizeof suite[0]) ? 1 : 0;
}
