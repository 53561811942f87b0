/* SPDX-License-Identifier: MIT */
/* The data scope in SQL: which rows of what people said a reader may see (query.h). */
#include "store/query.h"

/* The employees of the org subtree [lo, hi), as a subquery. */
#define SUBTREE_EMPLOYEES                                                                          \
    "SELECT se.id FROM employees se JOIN org_units so ON so.tenant_id = se.tenant_id AND"          \
    " so.id = se.org_unit_id WHERE se.tenant_id = ? AND so.path >= ? AND so.path < ?"

/* The scope of what people said (messages, calls, alerts): a row is seen through the employee
 * who had it (emp_col) — the employee itself, or a manager over it — or through a history
 * grant that an explicit act handed to someone in scope (its customer cust_col, its employee
 * the grant's source). Owning the customer now gives nothing more: a device that reports the
 * same number opens no one's conversation (ops_history.c). other_col (NULL: none) names a
 * second employee the row is about (a collision's owner), whose managers see it too. The
 * customer_id IN (...) term lets the planner start from the grants' customers. */
void wp_query__scope_history(struct wp_query *q, const char *emp_col, const char *cust_col,
                             const char *other_col, const char *tenant_id, const char *lo,
                             const char *hi, const char *employee_id)
{
    wp_query__sql(q, " AND (");
    wp_query__sql(q, emp_col);
    if (employee_id) {
        wp_query__sql(q, " = ?");
        wp_query__text(q, employee_id);
        if (other_col) {
            wp_query__sql(q, " OR ");
            wp_query__sql(q, other_col);
            wp_query__sql(q, " = ?");
            wp_query__text(q, employee_id);
        }
        wp_query__sql(q, " OR (");
        wp_query__sql(q, cust_col);
        wp_query__sql(q, " IN (SELECT g.customer_id FROM history_grants g WHERE g.tenant_id = ?"
                         " AND g.employee_id = ?) AND EXISTS (SELECT 1 FROM history_grants g2"
                         " WHERE g2.tenant_id = ? AND g2.customer_id = ");
        wp_query__sql(q, cust_col);
        wp_query__sql(q, " AND g2.employee_id = ? AND g2.source_employee_id = ");
        wp_query__sql(q, emp_col);
        wp_query__sql(q, ")))");
        wp_query__text(q, tenant_id);
        wp_query__text(q, employee_id);
        wp_query__text(q, tenant_id);
        wp_query__text(q, employee_id);
        return;
    }
    wp_query__sql(q, " IN (" SUBTREE_EMPLOYEES ")");
    wp_query__text(q, tenant_id);
    wp_query__text(q, lo);
    wp_query__text(q, hi);
    if (other_col) {
        wp_query__sql(q, " OR ");
        wp_query__sql(q, other_col);
        wp_query__sql(q, " IN (" SUBTREE_EMPLOYEES ")");
        wp_query__text(q, tenant_id);
        wp_query__text(q, lo);
        wp_query__text(q, hi);
    }
    wp_query__sql(q, " OR (");
    wp_query__sql(q, cust_col);
    wp_query__sql(q, " IN (SELECT g.customer_id FROM history_grants g WHERE g.tenant_id = ? AND"
                     " g.employee_id IN (" SUBTREE_EMPLOYEES ")) AND EXISTS (SELECT 1 FROM"
                     " history_grants g2 WHERE g2.tenant_id = ? AND g2.customer_id = ");
    wp_query__sql(q, cust_col);
    wp_query__sql(q, " AND g2.source_employee_id = ");
    wp_query__sql(q, emp_col);
    wp_query__sql(q, " AND g2.employee_id IN (" SUBTREE_EMPLOYEES "))))");
    wp_query__text(q, tenant_id);
    wp_query__text(q, tenant_id);
    wp_query__text(q, lo);
    wp_query__text(q, hi);
    wp_query__text(q, tenant_id);
    wp_query__text(q, tenant_id);
    wp_query__text(q, lo);
    wp_query__text(q, hi);
}
