/* SPDX-License-Identifier: MIT */
/* Follow-up SOP rules, their reminders and overdue alerts, and the rules job (migration 0010). */
#include "store/audit.h"
#include "store/crm_internal.h"
#include "store/customers.h"
#include "store/db.h"
#include "store/seal.h"
#include "store/internal.h"
#include "store/rules.h"
#include "store/scripts.h"
#include "store/store.h"
#include "store/tags.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_US (3600 * INT64_C(1000000))
#define RULES_BATCH 200

/* A customer's base: the latest of creation, change of owner and follow-up (portable SQL:
 * SQLite's MAX(a, b) is PostgreSQL's GREATEST). */
#define MAX2(a, b) "(CASE WHEN " a " >= " b " THEN " a " ELSE " b " END)"
#define BASE_SQL                                                                                   \
    MAX2(MAX2("c.created_us", "COALESCE(c.owner_since_us, 0)"), "COALESCE(c.last_follow_up_us, 0)")

static const char *const grades[] = {"A", "B", "C", "D"};
static const char *const stages[] = {"lead", "contacted", "intent", "deal", "lost"};

static int one_of(const char *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, v[i]))
            return 1;
    return 0;
}

/* --- rules --------------------------------------------------------------------------------- */

/* Step a rule's INSERT, or its UPDATE ... RETURNING created_us (into *created_us; no row:
 * WP_ENOTFOUND naming what), and release s. */
static int put_step(struct wp_stmt *s, int create, int64_t *created_us, const char *what,
                    const char *id)
{
    int err = wp_db_step(s);
    if (!create && err == WP_DB_ROW)
        *created_us = wp_db_col_int64(s, 0);
    else if (!create && err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "%s '%s' not found", what, id);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

#define SOP_COLS "id, name, grade, stage, interval_h, grace_h, active, created_us, updated_us"

static int read_sop(struct wp_stmt *s, wp_sop_rule *r)
{
    int err;
    memset(r, 0, sizeof *r);
    if ((err = wp_db_col_copy(s, 0, r->id, sizeof r->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, r->name, sizeof r->name)) < 0 ||
        (err = wp_db_col_copy(s, 2, r->grade, sizeof r->grade)) < 0 ||
        (err = wp_db_col_copy(s, 3, r->stage, sizeof r->stage)) < 0)
        return err;
    r->interval_h = (int)wp_db_col_int64(s, 4);
    r->grace_h = (int)wp_db_col_int64(s, 5);
    r->active = (int)wp_db_col_int64(s, 6);
    r->created_us = wp_db_col_int64(s, 7);
    r->updated_us = wp_db_col_int64(s, 8);
    return 0;
}

int wp_store_sop_rules_list(wp_store *st, wp_sop_rule **out, size_t *n, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_sop_rule *v = NULL;
    size_t cap = 0, k = 0;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " SOP_COLS " FROM sop_rules WHERE tenant_id = ?"
                             " ORDER BY created_us, id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = read_sop(s, &v[k])) < 0)
            break;
        k++;
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

int wp_store_sop_rule_get(wp_store *st, wp_sop_rule *out, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("sop rule", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " SOP_COLS " FROM sop_rules WHERE tenant_id = ? AND id = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = read_sop(s, out);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "sop rule '%s' not found", id);
    wp_db_done(s);
    return err;
}

int wp_store_sop_rule_put(wp_store *st, wp_sop_rule *r, const char *tenant_id, int create,
                          int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_name("'name'", r->name, 100)) < 0)
        return err;
    if (*r->grade && !one_of(r->grade, grades, 4))
        return wp_error_set(WP_EINVAL, "'grade' must be A, B, C or D");
    if (*r->stage && !one_of(r->stage, stages, 5))
        return wp_error_set(WP_EINVAL, "'stage' must be lead, contacted, intent, deal or lost");
    if (r->interval_h < 1 || r->interval_h > WP_SOP_HOURS_MAX)
        return wp_error_set(WP_EINVAL, "'interval_hours' must be 1..%d", WP_SOP_HOURS_MAX);
    if (r->grace_h < 0 || r->grace_h > WP_SOP_HOURS_MAX)
        return wp_error_set(WP_EINVAL, "'grace_hours' must be 0..%d", WP_SOP_HOURS_MAX);
    r->active = r->active ? 1 : 0;
    if (create) {
        if ((err = wp_store__tenant_cap(st, "SELECT COUNT(*) FROM sop_rules WHERE tenant_id = ?",
                                        tenant_id, WP_RULES_MAX, "sop rules")) < 0)
            return err;
        wp_id_new(r->id);
        r->created_us = now_us;
        err = wp_db_prepare(st, &s,
                            "INSERT INTO sop_rules (name, grade, stage, interval_h, grace_h,"
                            " active, updated_us, tenant_id, id, created_us)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    } else {
        if ((err = wp_store__check_id("sop rule", r->id)) < 0)
            return err;
        err = wp_db_prepare(st, &s,
                            "UPDATE sop_rules SET name = ?, grade = ?, stage = ?, interval_h = ?,"
                            " grace_h = ?, active = ?, updated_us = ? WHERE tenant_id = ?"
                            " AND id = ? RETURNING created_us");
    }
    if (err < 0)
        return err;
    wp_db_bind_text(s, 1, r->name);
    wp_db_bind_text(s, 2, r->grade);
    wp_db_bind_text(s, 3, r->stage);
    wp_db_bind_int64(s, 4, r->interval_h);
    wp_db_bind_int64(s, 5, r->grace_h);
    wp_db_bind_int64(s, 6, r->active);
    wp_db_bind_int64(s, 7, now_us);
    wp_db_bind_text(s, 8, tenant_id);
    wp_db_bind_text(s, 9, r->id);
    if (create)
        wp_db_bind_int64(s, 10, now_us);
    if ((err = put_step(s, create, &r->created_us, "sop rule", r->id)) < 0)
        return err;
    r->updated_us = now_us;
    return 0;
}

int wp_store_sop_rule_delete(wp_store *st, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("sop rule", id)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s, "DELETE FROM reminders WHERE tenant_id = ? AND rule_id = ?")) <
        0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err < 0 || (err = wp_db_prepare(st, &s,
                                        "DELETE FROM sop_rules WHERE tenant_id = ? AND id = ?"
                                        " RETURNING id")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "sop rule '%s' not found", id);
    else if (err > 0)
        err = 0;
out:
    return wp_store__op_end(st, err);
}

/* --- reminders ----------------------------------------------------------------------------- */

/* done: the stored time, or (not yet closed by the job) the customer's new base once a
 * follow-up or change of owner moved it, or when it went to the pool; 0 while open. */
#define REM_SELECT                                                                                 \
    "SELECT r.id, r.rule_id, r.customer_id, r.employee_id, s.name, c.name, r.base_us, r.due_us,"  \
    " r.overdue_us, r.created_us, CASE WHEN r.done_us IS NOT NULL THEN r.done_us WHEN"           \
    " c.in_pool = 1 THEN COALESCE(c.pooled_us, 1) WHEN " BASE_SQL " > r.base_us THEN " BASE_SQL  \
    " ELSE 0 END AS done, r.alert_id FROM reminders r JOIN sop_rules s ON s.tenant_id ="          \
    " r.tenant_id AND s.id = r.rule_id JOIN customers c ON c.tenant_id = r.tenant_id AND c.id ="  \
    " r.customer_id"

static int read_reminder(wp_store *st, struct wp_stmt *s, wp_reminder *r, const char *tenant_id)
{
    int err;
    memset(r, 0, sizeof *r);
    if ((err = wp_db_col_copy(s, 0, r->id, sizeof r->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, r->rule_id, sizeof r->rule_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, r->customer_id, sizeof r->customer_id)) < 0 ||
        (err = wp_db_col_copy(s, 3, r->employee_id, sizeof r->employee_id)) < 0 ||
        (err = wp_db_col_copy(s, 4, r->rule_name, sizeof r->rule_name)) < 0 ||
        (err = wp_seal__col_copy_opt(
             st, s, 5, r->customer_name, sizeof r->customer_name,
             &(wp_seal_at){tenant_id, "customers", "name", r->customer_id})) < 0)
        return err;
    r->base_us = wp_db_col_int64(s, 6);
    r->due_us = wp_db_col_int64(s, 7);
    r->overdue_us = wp_db_col_int64(s, 8);
    r->created_us = wp_db_col_int64(s, 9);
    r->done_us = wp_db_col_int64(s, 10);
    if (!wp_db_col_isnull(s, 11))
        return wp_db_col_copy(s, 11, r->alert_id, sizeof r->alert_id);
    return 0;
}

int wp_store_reminders_list(wp_store *st, wp_reminder_page *out, const wp_reminder_filter *f)
{
    struct wp_stmt *s = NULL;
    wp_reminder_page p;
    struct wp_scope_bind sc;
    char cid[WP_ID_LEN + 1] = "";
    int64_t ct = 0;
    int has = 0, err;
    unsigned limit;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0)
        return err;
    const char *emp = f->employee_id;
    if (wp_scope__employee(&emp, &sc)) { /* another employee's reminders: none in scope */
        *out = p;
        return 0;
    }
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT * FROM (" REM_SELECT " WHERE r.tenant_id = ?"
             " AND (CAST(? AS TEXT) IS NULL OR r.employee_id = ?)"
             " AND (CAST(? AS TEXT) IS NULL OR r.employee_id IN (SELECT se.id FROM employees se"
             " JOIN org_units so ON so.tenant_id = se.tenant_id AND so.id = se.org_unit_id"
             " WHERE se.tenant_id = r.tenant_id AND so.path >= ? AND so.path < ?))"
             " AND (CAST(? AS BIGINT) = 0 OR r.due_us > ? OR (r.due_us = ? AND r.id > ?))) q"
             " WHERE (CAST(? AS BIGINT) = 3 OR (CAST(? AS BIGINT) = 2 AND q.done <> 0)"
             " OR (CAST(? AS BIGINT) < 2 AND q.done = 0 AND (CAST(? AS BIGINT) = 0 OR"
             " q.overdue_us <= ?))) ORDER BY q.due_us, q.id LIMIT ?")) < 0)
        return err;
    int k = 1;
    wp_db_bind_text(s, k++, f->tenant_id);
    wp_db_bind_text_or_null(s, k++, emp);
    wp_db_bind_text(s, k++, emp ? emp : "");
    wp_db_bind_text_or_null(s, k++, sc.org_path);
    wp_db_bind_text(s, k++, sc.lo);
    wp_db_bind_text(s, k++, sc.hi);
    wp_db_bind_int64(s, k++, has);
    wp_db_bind_int64(s, k++, ct);
    wp_db_bind_int64(s, k++, ct);
    wp_db_bind_text(s, k++, cid);
    for (int i = 0; i < 4; i++)
        wp_db_bind_int64(s, k++, (int64_t)f->state);
    wp_db_bind_int64(s, k++, f->now_us);
    wp_db_bind_int64(s, k, (int64_t)limit + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_cursor__make(p.next_cursor, p.items[p.n - 1].due_us, p.items[p.n - 1].id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0 ||
            (err = read_reminder(st, s, &p.items[p.n], f->tenant_id)) < 0)
            break;
        p.n++;
    }
    wp_db_done(s);
    if (err < 0) {
        free(p.items);
        return err;
    }
    *out = p;
    return 0;
}

int wp_store_reminder_get(wp_store *st, wp_reminder *out, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("reminder", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s, REM_SELECT " WHERE r.tenant_id = ? AND r.id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = read_reminder(st, s, out, tenant_id);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "reminder '%s' not found", id);
    wp_db_done(s);
    return err;
}

int wp_store_reminder_done(wp_store *st, const char *tenant_id, const char *id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("reminder", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE reminders SET done_us = COALESCE(done_us, ?)"
                             " WHERE tenant_id = ? AND id = ? RETURNING id")) < 0)
        return err;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_DB_DONE)
        return wp_error_set(WP_ENOTFOUND, "reminder '%s' not found", id);
    return err < 0 ? err : 0;
}

/* --- the job ------------------------------------------------------------------------------- */

static int audit_system(wp_store *st, const unsigned char *key, const char *tenant,
                        const char *action, const char *target_kind, const char *target_id,
                        const char *details, int64_t now_us)
{
    char target[WP_ID_LEN + 32];
    snprintf(target, sizeof target, "%s:%s", target_kind, target_id);
    wp_audit_entry a = {.tenant_id = tenant,
                        .ts_us = now_us,
                        .actor = "system",
                        .action = action,
                        .target = target,
                        .details = details};
    return wp_store_audit_append(st, key, &a, NULL);
}

/* Commit on success, roll back on failure; the caller's error wins. */
static int tx_end(wp_store *st, int err)
{
    if (err < 0) {
        wp_store_rollback(st);
        return err;
    }
    return wp_store_commit(st);
}

struct due {
    char customer[WP_ID_LEN + 1], owner[WP_ID_LEN + 1];
    int64_t base;
};

/* Customers a rule makes due now with no reminder for their base yet. */
static int sop_pick(wp_store *st, struct due *v, size_t *n, const char *tenant,
                    const wp_sop_rule *r, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    *n = 0;
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT c.id, c.owner_employee_id, " BASE_SQL " FROM customers c JOIN employees e"
             " ON e.tenant_id = c.tenant_id AND e.id = c.owner_employee_id WHERE c.tenant_id = ?"
             " AND c.in_pool = 0 AND c.merged_into IS NULL AND e.active = 1"
             " AND (CAST(? AS TEXT) = '' OR COALESCE(c.grade, '') = ?)"
             " AND (CAST(? AS TEXT) = '' OR COALESCE(NULLIF(c.stage, ''), 'lead') = ?)"
             " AND " BASE_SQL " <= ? AND NOT EXISTS (SELECT 1 FROM reminders x WHERE"
             " x.tenant_id = c.tenant_id AND x.rule_id = ? AND x.customer_id = c.id AND"
             " x.base_us = " BASE_SQL ") ORDER BY c.id LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant);
    wp_db_bind_text(s, 2, r->grade);
    wp_db_bind_text(s, 3, r->grade);
    wp_db_bind_text(s, 4, r->stage);
    wp_db_bind_text(s, 5, r->stage);
    wp_db_bind_int64(s, 6, now_us - r->interval_h * HOUR_US);
    wp_db_bind_text(s, 7, r->id);
    wp_db_bind_int64(s, 8, RULES_BATCH);
    while ((err = wp_db_step(s)) == WP_DB_ROW && *n < RULES_BATCH) {
        struct due *d = &v[*n];
        if ((err = wp_db_col_copy(s, 0, d->customer, sizeof d->customer)) < 0 ||
            (err = wp_db_col_copy(s, 1, d->owner, sizeof d->owner)) < 0)
            break;
        d->base = wp_db_col_int64(s, 2);
        (*n)++;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* One reminder and its audit row; *made 0 when it exists already (a parallel run). */
static int sop_remind(wp_store *st, int *made, const unsigned char *key, const char *tenant,
                      const wp_sop_rule *r, const struct due *d, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    char id[WP_ID_LEN + 1], details[256];
    int64_t due = d->base + r->interval_h * HOUR_US;
    int err;

    *made = 0;
    wp_id_new(id);
    if ((err = wp_store_begin(st)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO reminders (tenant_id, id, rule_id, customer_id,"
                             " employee_id, base_us, due_us, overdue_us, created_us)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                             " ON CONFLICT (tenant_id, rule_id, customer_id, base_us) DO NOTHING"
                             " RETURNING id")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant);
    wp_db_bind_text(s, 2, id);
    wp_db_bind_text(s, 3, r->id);
    wp_db_bind_text(s, 4, d->customer);
    wp_db_bind_text(s, 5, d->owner);
    wp_db_bind_int64(s, 6, d->base);
    wp_db_bind_int64(s, 7, due);
    wp_db_bind_int64(s, 8, due + r->grace_h * HOUR_US);
    wp_db_bind_int64(s, 9, now_us);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err != WP_DB_ROW)
        goto out;
    snprintf(details, sizeof details,
             "{\"rule_id\":\"%s\",\"customer_id\":\"%s\",\"employee_id\":\"%s\"}", r->id,
             d->customer, d->owner);
    if ((err = audit_system(st, key, tenant, "reminder.create", "reminder", id, details,
                            now_us)) == 0)
        *made = 1;
out:
    return tx_end(st, err < 0 ? err : 0);
}

/* Persist the reminders a follow-up, a change of owner or the pool closed. */
static int sop_close(wp_store *st, int64_t *closed, const char *tenant, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE reminders SET done_us = ? WHERE tenant_id = ? AND done_us IS"
                             " NULL AND EXISTS (SELECT 1 FROM customers c WHERE c.tenant_id ="
                             " reminders.tenant_id AND c.id = reminders.customer_id AND"
                             " (c.in_pool = 1 OR " BASE_SQL " > reminders.base_us))"
                             " RETURNING id")) < 0)
        return err;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_text(s, 2, tenant);
    while ((err = wp_db_step(s)) == WP_DB_ROW)
        (*closed)++;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

struct late {
    char id[WP_ID_LEN + 1], customer[WP_ID_LEN + 1], employee[WP_ID_LEN + 1];
    char rule_name[404];
    int64_t overdue;
};

/* The alert of one late reminder and its audit row, in a transaction of its own; *set 0 when
 * the reminder was closed or alerted meanwhile. */
static int overdue_one(wp_store *st, int *set, const unsigned char *key, const char *tenant,
                       const struct late *l, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    char aid[WP_ID_LEN + 1], details[256];
    int64_t stored_us = now_us;
    int err;

    *set = 0;
    wp_id_new(aid);
    if ((err = wp_store_begin(st)) < 0)
        return err;
    if ((err = wp_store__stored_us(st, tenant, now_us, &stored_us)) < 0)
        goto out;
    /* claim the reminder first: a parallel run that got there raises no second alert */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE reminders SET alert_id = ? WHERE tenant_id = ? AND id = ?"
                             " AND alert_id IS NULL AND done_us IS NULL RETURNING id")) < 0)
        goto out;
    wp_db_bind_text(s, 1, aid);
    wp_db_bind_text(s, 2, tenant);
    wp_db_bind_text(s, 3, l->id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err != WP_DB_ROW)
        goto out;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO alerts (tenant_id, id, ts_us, kind, category,"
                             " employee_id, customer_id, pattern, status, created_us, updated_us)"
                             " VALUES (?, ?, ?, 'followup_overdue', 'sop', ?, ?, ?, 'open', ?, ?)")) <
        0)
        goto out;
    wp_db_bind_text(s, 1, tenant);
    wp_db_bind_text(s, 2, aid);
    wp_db_bind_int64(s, 3, l->overdue);
    wp_db_bind_text(s, 4, l->employee);
    wp_db_bind_text(s, 5, l->customer);
    wp_db_bind_text(s, 6, l->rule_name);
    wp_db_bind_int64(s, 7, stored_us);
    wp_db_bind_int64(s, 8, now_us);
    if ((err = wp_db_step(s)) >= 0) {
        snprintf(details, sizeof details, "{\"reminder_id\":\"%s\",\"customer_id\":\"%s\"}",
                 l->id, l->customer);
        err = audit_system(st, key, tenant, "reminder.overdue", "alert", aid, details, now_us);
    }
    wp_db_done(s);
    if (err == 0)
        *set = 1;
out:
    if (err < 0 || !*set) {
        wp_store_rollback(st);
        return err < 0 ? err : 0;
    }
    return wp_store_commit(st);
}

/* Open reminders past their grace with no alert yet, and the alert for each. */
static int sop_overdue(wp_store *st, int64_t *alerts, const unsigned char *key,
                       const char *tenant, int64_t now_us)
{
    struct late *v = malloc(RULES_BATCH * sizeof *v);
    int err = 0;
    if (!v)
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (;;) {
        struct wp_stmt *s = NULL;
        size_t n = 0;
        if ((err = wp_db_prepare(
                 st, &s,
                 "SELECT r.id, r.customer_id, r.employee_id, s.name, r.overdue_us FROM reminders"
                 " r JOIN sop_rules s ON s.tenant_id = r.tenant_id AND s.id = r.rule_id JOIN"
                 " customers c ON c.tenant_id = r.tenant_id AND c.id = r.customer_id WHERE"
                 " r.tenant_id = ? AND r.done_us IS NULL AND r.alert_id IS NULL AND"
                 " r.overdue_us <= ? AND c.in_pool = 0 AND " BASE_SQL " = r.base_us"
                 " ORDER BY r.overdue_us, r.id LIMIT ?")) < 0)
            break;
        wp_db_bind_text(s, 1, tenant);
        wp_db_bind_int64(s, 2, now_us);
        wp_db_bind_int64(s, 3, RULES_BATCH);
        while ((err = wp_db_step(s)) == WP_DB_ROW && n < RULES_BATCH) {
            struct late *l = &v[n];
            if ((err = wp_db_col_copy(s, 0, l->id, sizeof l->id)) < 0 ||
                (err = wp_db_col_copy(s, 1, l->customer, sizeof l->customer)) < 0 ||
                (err = wp_db_col_copy(s, 2, l->employee, sizeof l->employee)) < 0 ||
                (err = wp_db_col_copy(s, 3, l->rule_name, sizeof l->rule_name)) < 0)
                break;
            l->overdue = wp_db_col_int64(s, 4);
            n++;
        }
        wp_db_done(s);
        if (err < 0 || n == 0)
            break;
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            int set = 0;
            if ((err = overdue_one(st, &set, key, tenant, &v[i], now_us)) < 0)
                goto out;
            *alerts += set;
            any |= set;
        }
        if (!any || n < RULES_BATCH)
            break;
    }
out:
    free(v);
    return err;
}

static int sop_run(wp_store *st, wp_rules_result *out, const unsigned char *key,
                   const char *tenant, int64_t now_us)
{
    wp_sop_rule *rules = NULL;
    struct due *v = NULL;
    size_t n_rules = 0;
    int err;

    if ((err = sop_close(st, &out->closed, tenant, now_us)) < 0 ||
        (err = wp_store_sop_rules_list(st, &rules, &n_rules, tenant)) < 0)
        return err;
    if (!(v = malloc(RULES_BATCH * sizeof *v))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_rules; i++) {
        if (!rules[i].active)
            continue;
        for (;;) {
            size_t n = 0;
            int any = 0;
            if ((err = sop_pick(st, v, &n, tenant, &rules[i], now_us)) < 0 || n == 0)
                break;
            for (size_t k = 0; k < n; k++) {
                int made = 0;
                if ((err = sop_remind(st, &made, key, tenant, &rules[i], &v[k], now_us)) < 0)
                    goto out;
                out->reminders += made;
                any |= made;
            }
            if (!any || n < RULES_BATCH)
                break;
        }
        if (err < 0)
            goto out;
    }
    err = sop_overdue(st, &out->overdue, key, tenant, now_us);
out:
    free(v);
    free(rules);
    return err;
}

/* --- grading rules ------------------------------------------------------------------------- */

#define GRADE_COLS                                                                                 \
    "id, position, grade, stage, min_messages, messages_days, contact_within_days,"              \
    " no_contact_days, tag_id, active, created_us, updated_us"

static int opt_int(struct wp_stmt *s, int col)
{
    return wp_db_col_isnull(s, col) ? -1 : (int)wp_db_col_int64(s, col);
}

static int read_grade(struct wp_stmt *s, wp_grade_rule *r)
{
    int err;
    memset(r, 0, sizeof *r);
    if ((err = wp_db_col_copy(s, 0, r->id, sizeof r->id)) < 0 ||
        (err = wp_db_col_copy(s, 2, r->grade, sizeof r->grade)) < 0 ||
        (err = wp_db_col_copy(s, 3, r->stage, sizeof r->stage)) < 0 ||
        (err = wp_db_col_copy(s, 8, r->tag_id, sizeof r->tag_id)) < 0)
        return err;
    r->position = (int)wp_db_col_int64(s, 1);
    r->min_messages = opt_int(s, 4);
    r->messages_days = opt_int(s, 5);
    r->contact_within_days = opt_int(s, 6);
    r->no_contact_days = opt_int(s, 7);
    r->active = (int)wp_db_col_int64(s, 9);
    r->created_us = wp_db_col_int64(s, 10);
    r->updated_us = wp_db_col_int64(s, 11);
    return 0;
}

int wp_store_grade_rules_list(wp_store *st, wp_grade_rule **out, size_t *n,
                              const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_grade_rule *v = NULL;
    size_t cap = 0, k = 0;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " GRADE_COLS " FROM grade_rules WHERE tenant_id = ?"
                             " ORDER BY position, created_us, id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = read_grade(s, &v[k])) < 0)
            break;
        k++;
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

int wp_store_grade_rule_get(wp_store *st, wp_grade_rule *out, const char *tenant_id,
                            const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("grade rule", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " GRADE_COLS
                             " FROM grade_rules WHERE tenant_id = ? AND id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = read_grade(s, out);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "grade rule '%s' not found", id);
    wp_db_done(s);
    return err;
}

static void bind_opt(struct wp_stmt *s, int idx, int v)
{
    if (v < 0)
        wp_db_bind_null(s, idx);
    else
        wp_db_bind_int64(s, idx, v);
}

int wp_store_grade_rule_put(wp_store *st, wp_grade_rule *r, const char *tenant_id, int create,
                            int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (!one_of(r->grade, grades, 4))
        return wp_error_set(WP_EINVAL, "'grade' must be A, B, C or D");
    if (*r->stage && !one_of(r->stage, stages, 5))
        return wp_error_set(WP_EINVAL, "'stage' must be lead, contacted, intent, deal or lost");
    if ((r->min_messages < 0) != (r->messages_days < 0) || r->min_messages > 1000000 ||
        r->messages_days == 0 || r->messages_days > WP_CRM_DAYS_MAX)
        return wp_error_set(WP_EINVAL, "'min_messages' (0..1000000) and 'messages_days' (1..%d)"
                                       " go together", WP_CRM_DAYS_MAX);
    if (r->contact_within_days > WP_CRM_DAYS_MAX || r->no_contact_days > WP_CRM_DAYS_MAX)
        return wp_error_set(WP_EINVAL, "days must be 0..%d", WP_CRM_DAYS_MAX);
    if (r->position < 0 || r->position > 1000000)
        return wp_error_set(WP_EINVAL, "'position' must be 0..1000000");
    if (!*r->stage && r->min_messages < 0 && r->contact_within_days < 0 &&
        r->no_contact_days < 0 && !*r->tag_id)
        return wp_error_set(WP_EINVAL, "a grading rule needs at least one condition");
    if (*r->tag_id) {
        wp_tag t;
        if ((err = wp_store_tag_get(st, &t, tenant_id, 0, r->tag_id)) == WP_ENOTFOUND)
            return wp_error_set(WP_EINVAL, "'tag_id': tag '%s' not found", r->tag_id);
        if (err < 0)
            return err;
    }
    r->active = r->active ? 1 : 0;
    if (create) {
        if ((err = wp_store__tenant_cap(st, "SELECT COUNT(*) FROM grade_rules WHERE tenant_id = ?",
                                        tenant_id, WP_RULES_MAX, "grading rules")) < 0)
            return err;
        wp_id_new(r->id);
        r->created_us = now_us;
        err = wp_db_prepare(st, &s,
                            "INSERT INTO grade_rules (position, grade, stage, min_messages,"
                            " messages_days, contact_within_days, no_contact_days, tag_id, active,"
                            " updated_us, tenant_id, id, created_us)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    } else {
        if ((err = wp_store__check_id("grade rule", r->id)) < 0)
            return err;
        err = wp_db_prepare(st, &s,
                            "UPDATE grade_rules SET position = ?, grade = ?, stage = ?,"
                            " min_messages = ?, messages_days = ?, contact_within_days = ?,"
                            " no_contact_days = ?, tag_id = ?, active = ?, updated_us = ?"
                            " WHERE tenant_id = ? AND id = ? RETURNING created_us");
    }
    if (err < 0)
        return err;
    wp_db_bind_int64(s, 1, r->position);
    wp_db_bind_text(s, 2, r->grade);
    wp_db_bind_text(s, 3, r->stage);
    bind_opt(s, 4, r->min_messages);
    bind_opt(s, 5, r->messages_days);
    bind_opt(s, 6, r->contact_within_days);
    bind_opt(s, 7, r->no_contact_days);
    wp_db_bind_text(s, 8, r->tag_id);
    wp_db_bind_int64(s, 9, r->active);
    wp_db_bind_int64(s, 10, now_us);
    wp_db_bind_text(s, 11, tenant_id);
    wp_db_bind_text(s, 12, r->id);
    if (create)
        wp_db_bind_int64(s, 13, now_us);
    if ((err = put_step(s, create, &r->created_us, "grade rule", r->id)) < 0)
        return err;
    r->updated_us = now_us;
    return 0;
}

int wp_store_grade_rule_delete(wp_store *st, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("grade rule", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "DELETE FROM grade_rules WHERE tenant_id = ? AND id = ? RETURNING id")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_DB_DONE)
        return wp_error_set(WP_ENOTFOUND, "grade rule '%s' not found", id);
    return err < 0 ? err : 0;
}

#define GRADE_BATCH 500

struct regrade {
    char customer[WP_ID_LEN + 1], from[WP_ARCHIVE_WORD_MAX + 1];
    size_t rule; /* index into the rules */
};

/* The first active rule each customer meets, as one CASE over the rules in order: one query
 * for a batch of customers. Conditions whose value is bound keep the text fixed per shape. */
static int grade_sql(wp_buf *b, const wp_grade_rule *rules, size_t n)
{
    int err = wp_buf_adds(b, "SELECT c.id, COALESCE(c.grade, ''), CASE");
    for (size_t i = 0; err == 0 && i < n; i++) {
        const wp_grade_rule *r = &rules[i];
        if (!r->active)
            continue;
        if ((err = wp_buf_adds(b, " WHEN 1 = 1")) == 0 && *r->stage)
            err = wp_buf_adds(b, " AND COALESCE(NULLIF(c.stage, ''), 'lead') = ?");
        if (err == 0 && r->min_messages >= 0)
            err = wp_buf_adds(b, " AND (SELECT COUNT(*) FROM messages m WHERE m.tenant_id ="
                                 " c.tenant_id AND m.customer_id = c.id AND m.ts_us >= ?) >= ?");
        if (err == 0 && r->contact_within_days >= 0)
            err = wp_buf_adds(b, " AND COALESCE(c.last_contact_us, 0) >= ?");
        if (err == 0 && r->no_contact_days >= 0)
            err = wp_buf_adds(b, " AND COALESCE(c.last_contact_us, c.created_us) < ?");
        if (err == 0 && *r->tag_id)
            err = wp_buf_adds(b, " AND EXISTS (SELECT 1 FROM customer_tags ct WHERE"
                                 " ct.tenant_id = c.tenant_id AND ct.customer_id = c.id AND"
                                 " ct.tag_id = ?)");
        if (err == 0)
            err = wp_buf_adds(b, " THEN CAST(? AS BIGINT)"); /* the rule's index */
    }
    if (err == 0)
        err = wp_buf_adds(
            b, " ELSE -1 END FROM customers c WHERE c.tenant_id = ? AND c.in_pool = 0"
               " AND c.merged_into IS NULL"
               " AND (CAST(? AS TEXT) IS NULL OR c.id = ?) AND c.id > ?"
               " AND COALESCE((SELECT e.actor FROM customer_events e WHERE e.tenant_id ="
               " c.tenant_id AND e.customer_id = c.id AND e.kind = 'grade_changed'"
               " ORDER BY e.ts_us DESC, e.id DESC LIMIT 1), 'rule:') LIKE 'rule:%'"
               " ORDER BY c.id LIMIT ?");
    return err;
}

static int grade_pick(wp_store *st, struct regrade *v, size_t *n, char last[WP_ID_LEN + 1],
                      const char *sql, const wp_grade_rule *rules, size_t n_rules,
                      const char *tenant, const char *customer, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err, k = 1;
    size_t seen = 0;
    *n = 0;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    for (size_t i = 0; i < n_rules; i++) {
        const wp_grade_rule *r = &rules[i];
        if (!r->active)
            continue;
        if (*r->stage)
            wp_db_bind_text(s, k++, r->stage);
        if (r->min_messages >= 0) {
            wp_db_bind_int64(s, k++, now_us - r->messages_days * 24 * HOUR_US);
            wp_db_bind_int64(s, k++, r->min_messages);
        }
        if (r->contact_within_days >= 0)
            wp_db_bind_int64(s, k++, now_us - r->contact_within_days * 24 * HOUR_US);
        if (r->no_contact_days >= 0)
            wp_db_bind_int64(s, k++, now_us - r->no_contact_days * 24 * HOUR_US);
        if (*r->tag_id)
            wp_db_bind_text(s, k++, r->tag_id);
        wp_db_bind_int64(s, k++, (int64_t)i);
    }
    wp_db_bind_text(s, k++, tenant);
    wp_db_bind_text_or_null(s, k++, customer);
    wp_db_bind_text(s, k++, customer ? customer : "");
    wp_db_bind_text(s, k++, last);
    wp_db_bind_int64(s, k, GRADE_BATCH);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        struct regrade *g = &v[*n];
        int64_t rule = wp_db_col_int64(s, 2);
        seen++;
        if ((err = wp_db_col_copy(s, 0, last, WP_ID_LEN + 1)) < 0 ||
            (err = wp_db_col_copy(s, 1, g->from, sizeof g->from)) < 0)
            break;
        if (rule < 0 || (size_t)rule >= n_rules || !strcmp(g->from, rules[rule].grade))
            continue;
        memcpy(g->customer, last, WP_ID_LEN + 1);
        g->rule = (size_t)rule;
        (*n)++;
    }
    wp_db_done(s);
    if (err < 0)
        return err;
    return seen == GRADE_BATCH; /* 1: there may be more */
}

/* One change: the grade (if it is still what was read), its event and audit row. */
static int grade_one(wp_store *st, int *done, const unsigned char *key, const char *tenant,
                     const struct regrade *g, const wp_grade_rule *r, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    char actor[WP_ID_LEN + 8], details[256];
    wp_crm_actor who = {.actor = actor};
    int err, own = !st->in_tx;

    *done = 0;
    /* in the caller's transaction: no savepoint of our own (the audit append takes one), so on
     * failure the caller rolls back */
    if (own && (err = wp_store_begin(st)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE customers SET grade = ? WHERE tenant_id = ? AND id = ?"
                             " AND COALESCE(grade, '') = ? RETURNING id")) < 0)
        goto out;
    wp_db_bind_text(s, 1, r->grade);
    wp_db_bind_text(s, 2, tenant);
    wp_db_bind_text(s, 3, g->customer);
    wp_db_bind_text(s, 4, g->from);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err != WP_DB_ROW)
        goto out;
    snprintf(actor, sizeof actor, "rule:%s", r->id);
    snprintf(details, sizeof details, "{\"field\":\"grade\",\"from\":%s%s%s,\"to\":\"%s\",\"rule_id\":\"%s\"}",
             *g->from ? "\"" : "", *g->from ? g->from : "null", *g->from ? "\"" : "", r->grade,
             r->id);
    if ((err = wp_crm__event_insert(st, NULL, tenant, g->customer, "grade_changed", &who,
                                    details, now_us)) < 0 ||
        (err = audit_system(st, key, tenant, "customer.grade_rule", "customer", g->customer,
                            details, now_us)) < 0)
        goto out;
    *done = 1;
out:
    if (err > 0)
        err = 0;
    return own ? tx_end(st, err) : err;
}

int wp_store_grade_rules_apply(wp_store *st, int64_t *changed, const unsigned char *audit_key,
                               const char *tenant_id, const char *customer_id, int64_t now_us)
{
    wp_grade_rule *rules = NULL;
    struct regrade *v = NULL;
    size_t n_rules = 0, active = 0;
    char last[WP_ID_LEN + 1] = "";
    wp_buf sql;
    int err;

    wp_buf_init(&sql, 256 * 1024);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (customer_id && (err = wp_store__check_id("customer", customer_id)) < 0) ||
        (err = wp_store_grade_rules_list(st, &rules, &n_rules, tenant_id)) < 0)
        return err;
    for (size_t i = 0; i < n_rules; i++)
        active += rules[i].active;
    if (active == 0)
        goto out;
    if (grade_sql(&sql, rules, n_rules) < 0 || !(v = malloc(GRADE_BATCH * sizeof *v))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        size_t n = 0;
        int more = grade_pick(st, v, &n, last, sql.buf, rules, n_rules, tenant_id, customer_id,
                              now_us);
        if ((err = more) < 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            int done = 0;
            if ((err = grade_one(st, &done, audit_key, tenant_id, &v[i], &rules[v[i].rule],
                                 now_us)) < 0)
                goto out;
            if (changed)
                *changed += done;
        }
        if (!more)
            break;
    }
    err = 0;
out:
    wp_buf_release(&sql);
    free(v);
    free(rules);
    return err;
}

int wp_store_crm_rules_run(wp_store *st, wp_rules_result *out, const unsigned char *audit_key,
                           int64_t now_us)
{
    char(*tenants)[WP_ID_LEN + 1] = NULL;
    size_t n = 0;
    int err;

    if ((err = wp_store__tenant_ids(st, &tenants, &n)) < 0)
        return err;
    for (size_t i = 0; err >= 0 && i < n; i++) {
        err = sop_run(st, out, audit_key, tenants[i], now_us);
        if (err >= 0)
            err = wp_store_grade_rules_apply(st, &out->graded, audit_key, tenants[i], NULL,
                                             now_us);
    }
    free(tenants);
    if (err >= 0)
        err = wp_store_scripts_count(st, &out->script_uses, now_us);
    return err < 0 ? err : 0;
}
