/* SPDX-License-Identifier: MIT */
/* Who reads whose conversations (migration 0013): history grants handed on by explicit acts,
 * and the employees whose devices met a customer. The read side is wp_query__scope_history() in
 * scope.c; docs/internals/crm.md has the rules. */
#include "store/crm_internal.h"
#include "store/db.h"
#include "store/query.h"
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

/* Is there a row of table (customer_contacts, history_grants) for the customer whose
 * employee_id is in scope? source (may be NULL) narrows it to the grants of one source. */
static int exists_in_scope(wp_store *st, int *out, const char *table, const char *tenant_id,
                           const char *customer_id, const char *source, const wp_scope *scope)
{
    struct wp_scope_bind sb;
    struct wp_stmt *s = NULL;
    struct wp_query q;
    int err;

    *out = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0 ||
        (source && (err = wp_store__check_id("employee", source)) < 0) ||
        (err = wp_scope__check(&sb, tenant_id, scope)) < 0)
        return err;
    if (!sb.employee_id && !sb.org_path)
        return 0; /* the whole tenant reads the record anyway: nobody asks */
    wp_query__init(&q, 2048);
    wp_query__sql(&q, "SELECT 1 FROM ");
    wp_query__sql(&q, table);
    wp_query__sql(&q, " t WHERE t.tenant_id = ? AND t.customer_id = ?");
    wp_query__text(&q, tenant_id);
    wp_query__text(&q, customer_id);
    if (source) {
        wp_query__sql(&q, " AND t.source_employee_id = ?");
        wp_query__text(&q, source);
    }
    wp_query__scope_employees(&q, "t.employee_id", &sb);
    wp_query__sql(&q, " LIMIT 1");
    if ((err = wp_query__prepare(&q, st, &s)) == 0 && (err = wp_db_step(s)) == WP_DB_ROW)
        *out = 1;
    wp_db_done(s);
    wp_buf_release(&q.sql);
    return err < 0 ? err : 0;
}

int wp_store_customer_met(wp_store *st, int *out, const char *tenant_id, const char *customer_id,
                          const wp_scope *scope)
{
    return exists_in_scope(st, out, "customer_contacts", tenant_id, customer_id, NULL, scope);
}

int wp_store_history_granted(wp_store *st, int *out, const char *tenant_id, const char *customer_id,
                             const char *source_employee_id, const wp_scope *scope)
{
    if (!source_employee_id)
        return wp_error_set(WP_EINVAL, "a grant's source employee is required");
    return exists_in_scope(st, out, "history_grants", tenant_id, customer_id, source_employee_id,
                           scope);
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
