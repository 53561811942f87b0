/* SPDX-License-Identifier: MIT */
/* Who reads whose conversations (migration 0013): history grants handed on by explicit acts,
 * and the employees whose devices met a customer. The read side is wp_query__scope_history() in
 * scope.c; docs/internals/crm.md has the rules. */
#include "store/crm_internal.h"
#include "store/db.h"
#include "store/history.h"
#include "store/internal.h"
#include "store/store.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int wp_crm__history_follows(wp_store *st, const char *tenant_id, const char *customer_id,
                            const char *from, const char *to, const char *via, int keep_from,
                            int64_t now_us)
{
    int err;
    if (!from || !*from || !to || !strcmp(from, to))
        return 0;
    /* the predecessor's own conversations, and those it had been handed */
    if ((err = wp_db_run(st,
                         "INSERT INTO history_grants (tenant_id, customer_id, employee_id,"
                         " source_employee_id, via, created_us) VALUES (?, ?, ?, ?, ?, ?)"
                         " ON CONFLICT DO NOTHING",
                         "ttttti", tenant_id, customer_id, to, from, via, now_us)) < 0)
        return err;
    if ((err = wp_db_run(st,
                         "INSERT INTO history_grants (tenant_id, customer_id, employee_id,"
                         " source_employee_id, via, created_us) SELECT tenant_id, customer_id,"
                         " ?, source_employee_id, ?, ? FROM history_grants WHERE tenant_id = ?"
                         " AND customer_id = ? AND employee_id = ? AND source_employee_id <> ?"
                         " ON CONFLICT DO NOTHING",
                         "ttitttt", to, via, now_us, tenant_id, customer_id, from, to)) < 0)
        return err;
    if (keep_from)
        return 0;
    return wp_db_run(st,
                     "DELETE FROM history_grants WHERE tenant_id = ? AND customer_id = ? AND"
                     " employee_id = ?",
                     "ttt", tenant_id, customer_id, from);
}

int wp_crm__history_merge(wp_store *st, const char *tenant_id, const char *survivor_id,
                          const char *from_id, const char *survivor_owner, const char *from_owner,
                          int64_t now_us)
{
    int err;
    /* the merged record's grants and contacts become the survivor's ... */
    if ((err = wp_db_run(st,
                         "INSERT INTO history_grants (tenant_id, customer_id, employee_id,"
                         " source_employee_id, via, created_us) SELECT tenant_id, ?, employee_id,"
                         " source_employee_id, via, created_us FROM history_grants WHERE"
                         " tenant_id = ? AND customer_id = ? ON CONFLICT DO NOTHING",
                         "ttt", survivor_id, tenant_id, from_id)) < 0 ||
        (err = wp_db_run(st, "DELETE FROM history_grants WHERE tenant_id = ? AND customer_id = ?",
                         "tt", tenant_id, from_id)) < 0 ||
        (err = wp_db_run(st,
                         "INSERT INTO customer_contacts (tenant_id, customer_id, employee_id,"
                         " first_us) SELECT tenant_id, ?, employee_id, first_us FROM"
                         " customer_contacts WHERE tenant_id = ? AND customer_id = ?"
                         " ON CONFLICT DO NOTHING",
                         "ttt", survivor_id, tenant_id, from_id)) < 0 ||
        (err =
             wp_db_run(st, "DELETE FROM customer_contacts WHERE tenant_id = ? AND customer_id = ?",
                       "tt", tenant_id, from_id)) < 0)
        return err;
    /* ... and merging is an explicit act: the survivor's owner is handed the history the
     * merged record's owner had with it */
    return wp_crm__history_follows(st, tenant_id, survivor_id, from_owner, survivor_owner, "merge",
                                   1, now_us);
}

int wp_store_customer_met(wp_store *st, int *out, const char *tenant_id, const char *customer_id,
                          const char *employee_id, const char *org_path)
{
    struct wp_stmt *s = NULL;
    char lo[1024], hi[1024];
    int err;

    *out = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0 ||
        (employee_id && (err = wp_store__check_id("employee", employee_id)) < 0) ||
        (org_path && (err = wp_scope__range(lo, hi, org_path)) < 0))
        return err;
    if (employee_id)
        err = wp_db_prepare(st, &s,
                            "SELECT 1 FROM customer_contacts WHERE tenant_id = ? AND"
                            " customer_id = ? AND employee_id = ?");
    else if (org_path)
        err = wp_db_prepare(st, &s,
                            "SELECT 1 FROM customer_contacts cc JOIN employees se ON"
                            " se.tenant_id = cc.tenant_id AND se.id = cc.employee_id JOIN"
                            " org_units so ON so.tenant_id = se.tenant_id AND so.id ="
                            " se.org_unit_id WHERE cc.tenant_id = ? AND cc.customer_id = ? AND"
                            " so.path >= ? AND so.path < ? LIMIT 1");
    else
        return 0;
    if (err < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    if (employee_id) {
        wp_db_bind_text(s, 3, employee_id);
    } else {
        wp_db_bind_text(s, 3, lo);
        wp_db_bind_text(s, 4, hi);
    }
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *out = 1;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_history_granted(wp_store *st, int *out, const char *tenant_id, const char *customer_id,
                             const char *source_employee_id, const char *employee_id,
                             const char *org_path)
{
    struct wp_stmt *s = NULL;
    char lo[1024], hi[1024];
    int err;

    *out = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0 ||
        (err = wp_store__check_id("employee", source_employee_id)) < 0 ||
        (employee_id && (err = wp_store__check_id("employee", employee_id)) < 0) ||
        (org_path && (err = wp_scope__range(lo, hi, org_path)) < 0))
        return err;
    if (employee_id)
        err = wp_db_prepare(st, &s,
                            "SELECT 1 FROM history_grants WHERE tenant_id = ? AND customer_id = ?"
                            " AND source_employee_id = ? AND employee_id = ?");
    else if (org_path)
        err = wp_db_prepare(st, &s,
                            "SELECT 1 FROM history_grants g JOIN employees se ON se.tenant_id ="
                            " g.tenant_id AND se.id = g.employee_id JOIN org_units so ON"
                            " so.tenant_id = se.tenant_id AND so.id = se.org_unit_id WHERE"
                            " g.tenant_id = ? AND g.customer_id = ? AND g.source_employee_id = ?"
                            " AND so.path >= ? AND so.path < ? LIMIT 1");
    else
        return 0;
    if (err < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    wp_db_bind_text(s, 3, source_employee_id);
    if (employee_id) {
        wp_db_bind_text(s, 4, employee_id);
    } else {
        wp_db_bind_text(s, 4, lo);
        wp_db_bind_text(s, 5, hi);
    }
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *out = 1;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_customer_contacts(wp_store *st, wp_customer_contact **out, size_t *n,
                               const char *tenant_id, const char *customer_id)
{
    struct wp_stmt *s = NULL;
    wp_customer_contact *v = NULL;
    size_t cap = 0, k = 0;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT cc.employee_id, cc.first_us, e.name FROM customer_contacts"
                             " cc JOIN employees e ON e.tenant_id = cc.tenant_id AND e.id ="
                             " cc.employee_id WHERE cc.tenant_id = ? AND cc.customer_id = ?"
                             " ORDER BY cc.first_us, cc.employee_id LIMIT 200")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = wp_db_col_copy(s, 0, v[k].employee_id, sizeof v[k].employee_id)) < 0 ||
            (err = wp_db_col_copy(s, 2, v[k].employee_name, sizeof v[k].employee_name)) < 0)
            break;
        v[k++].first_us = wp_db_col_int64(s, 1);
    }
    wp_db_done(s);
    if (err < 0) {
        free(v);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}
