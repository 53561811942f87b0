/* SPDX-License-Identifier: MIT */
/* The data scope in SQL (scope.h): which rows a reader may see, checked once and appended to
 * the statements of every list the same way. */
#include "store/db.h"
#include "store/internal.h"
#include "store/query.h"
#include "store/scope.h"
#include "util/error.h"

#include <string.h>

int wp_scope__range(char lo[1024], char hi[1024], const char *path)
{
    size_t len = strlen(path); /* never NULL: each caller checks its filter's path first */
    if (len < 2 || len >= 1024 || path[0] != '/' || path[len - 1] != '/')
        return wp_error_set(WP_EINVAL, "invalid org scope");
    memcpy(lo, path, len + 1);
    memcpy(hi, path, len + 1);
    hi[len - 1] = '/' + 1;
    return 0;
}

int wp_scope__check(struct wp_scope_bind *out, const char *tenant_id, const wp_scope *scope)
{
    int err;
    out->tenant_id = tenant_id;
    out->employee_id = scope ? scope->employee_id : NULL;
    out->org_path = scope ? scope->org_path : NULL;
    out->lo[0] = out->hi[0] = '\0';
    if (out->employee_id && out->org_path)
        return wp_error_set(WP_EINVAL, "a scope is an org subtree or one employee, not both");
    if (out->employee_id && (err = wp_store__check_id("employee", out->employee_id)) < 0)
        return err;
    if (out->org_path && (err = wp_scope__range(out->lo, out->hi, out->org_path)) < 0)
        return err;
    return 0;
}

int wp_scope__employee(const char **employee_id, const struct wp_scope_bind *s)
{
    if (!s->employee_id)
        return 0;
    if (*employee_id && strcmp(*employee_id, s->employee_id) != 0)
        return 1;
    *employee_id = s->employee_id;
    return 0;
}

/* The employees of the org subtree [lo, hi), as a subquery. */
#define SUBTREE_EMPLOYEES                                                                          \
    "SELECT se.id FROM employees se JOIN org_units so ON so.tenant_id = se.tenant_id AND"          \
    " so.id = se.org_unit_id WHERE se.tenant_id = ? AND so.path >= ? AND so.path < ?"

void wp_query__in_subtree(struct wp_query *q, const char *col, const char *tenant_id,
                          const char *lo, const char *hi)
{
    wp_query__sql(q, " AND ");
    wp_query__sql(q, col);
    wp_query__sql(q, " IN (" SUBTREE_EMPLOYEES ")");
    wp_query__text(q, tenant_id);
    wp_query__text(q, lo);
    wp_query__text(q, hi);
}

void wp_query__scope_employees(struct wp_query *q, const char *col, const struct wp_scope_bind *s)
{
    if (s->org_path)
        wp_query__in_subtree(q, col, s->tenant_id, s->lo, s->hi);
    if (s->employee_id) {
        wp_query__sql(q, " AND ");
        wp_query__sql(q, col);
        wp_query__sql(q, " = ?");
        wp_query__text(q, s->employee_id);
    }
}

void wp_query__scope_customers(struct wp_query *q, const char *owner_col, const char *id_col,
                               const struct wp_scope_bind *s)
{
    if (s->employee_id) {
        wp_query__sql(q, " AND (");
        wp_query__sql(q, owner_col);
        wp_query__sql(q, " = ? OR ");
        wp_query__sql(q, id_col);
        wp_query__sql(q, " IN (SELECT g.customer_id FROM customer_read_grants g WHERE"
                         " g.tenant_id = ? AND g.employee_id = ?))");
        wp_query__text(q, s->employee_id);
        wp_query__text(q, s->tenant_id);
        wp_query__text(q, s->employee_id);
    }
    if (s->org_path)
        wp_query__in_subtree(q, owner_col, s->tenant_id, s->lo, s->hi);
}

/* The scope of what people said (messages, calls, alerts): a row is seen through the employee
 * who had it (emp_col) — the employee itself, or a manager over it — or through a history
 * grant that an explicit act handed to someone in scope (its customer cust_col, its employee
 * the grant's source). Owning the customer now gives nothing more: a device that reports the
 * same number opens no one's conversation (ops_history.c). other_col (NULL: none) names a
 * second employee the row is about (a collision's owner), whose managers see it too. The
 * customer_id IN (...) term lets the planner start from the grants' customers. */
void wp_query__scope_history(struct wp_query *q, const char *emp_col, const char *cust_col,
                             const char *other_col, const struct wp_scope_bind *s)
{
    const char *tenant_id = s->tenant_id, *lo = s->lo, *hi = s->hi;
    const char *employee_id = s->employee_id;
    if (wp_scope__all(s))
        return;
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
