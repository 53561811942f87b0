/* SPDX-License-Identifier: MIT */
/* Alerts: their statuses, the list (newest first, with cursors, within the reader's scope)
 * and the status changes of those who handle them. */
#include "store/alerts.h"
#include "store/db.h"
#include "store/internal.h"
#include "store/seal.h"
#include "store/query.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define SQL_MAX 4096

static const char *const status_names[] = {
    [WP_ALERT_OPEN] = "open",
    [WP_ALERT_ACKNOWLEDGED] = "acknowledged",
    [WP_ALERT_RESOLVED] = "resolved",
};

const char *wp_alert_status_name(enum wp_alert_status s)
{
    if ((int)s < WP_ALERT_OPEN || (int)s > WP_ALERT_RESOLVED)
        return NULL;
    return status_names[s];
}

int wp_alert_status_parse(enum wp_alert_status *out, const char *s)
{
    for (int i = WP_ALERT_OPEN; s && i <= WP_ALERT_RESOLVED; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            *out = (enum wp_alert_status)i;
            return 0;
        }
    }
    return wp_error_set(WP_EINVAL, "status must be open, acknowledged or resolved");
}

#define ALERT_COLUMNS                                                                              \
    "a.id, a.ts_us, a.kind, a.status, a.employee_id, a.device_id, a.customer_id, a.message_id,"    \
    " a.category, a.pattern, a.action, a.matched, a.match_start, a.match_end, a.comment,"          \
    " a.handled_by, a.updated_us, a.other_employee_id"

static int read_alert(wp_store *st, const char *tenant_id, struct wp_stmt *s, wp_alert *a,
                      wp_strpool **pool)
{
    int err;
    memset(a, 0, sizeof *a);
    if ((err = wp_db_col_copy(s, 0, a->id, sizeof a->id)) < 0)
        return err;
    a->ts_us = wp_db_col_int64(s, 1);
    if ((err = wp_db_col_copy(s, 2, a->kind, sizeof a->kind)) < 0)
        return err;
    if (wp_alert_status_parse(&a->status, wp_db_col_text(s, 3)) < 0)
        return wp_error_set(WP_EIO, "store: alert '%s' has an unknown status", a->id);
    if ((err = wp_db_col_copy(s, 4, a->employee_id, sizeof a->employee_id)) < 0 ||
        (err = wp_col__id(s, 5, a->device_id)) < 0 || (err = wp_col__id(s, 6, a->customer_id)) < 0 ||
        (err = wp_col__id(s, 7, a->message_id)) < 0 || (err = wp_col__dup(pool, &a->category, s, 8)) < 0 ||
        (err = wp_col__dup(pool, &a->pattern, s, 9)) < 0 ||
        (err = wp_col__dup(pool, &a->action, s, 10)) < 0)
        return err;
    wp_seal_at at = {tenant_id, "alerts", "matched", a->id};
    if ((err = wp_seal__col_dup(st, pool, &a->matched, s, 11, &at)) < 0)
        return err;
    a->start = wp_col__opt_int(s, 12, -1);
    a->end = wp_col__opt_int(s, 13, -1);
    if ((err = wp_col__dup(pool, &a->comment, s, 14)) < 0 ||
        (err = wp_col__dup(pool, &a->handled_by, s, 15)) < 0)
        return err;
    a->updated_us = wp_db_col_int64(s, 16);
    return wp_col__id(s, 17, a->other_employee_id);
}

/* The filter's conditions (not its cursor) after "WHERE a.tenant_id = ?", bound in order. */
static void alerts_where(struct wp_query *q, const wp_alert_filter *f,
                         const struct wp_scope_bind *sc)
{
    if (f->kind) {
        wp_query__sql(q, " AND a.kind = ?");
        wp_query__text(q, f->kind);
    }
    if (f->status) {
        wp_query__sql(q, " AND a.status = ?");
        wp_query__text(q, wp_alert_status_name((enum wp_alert_status)f->status));
    }
    if (f->employee_id) {
        wp_query__sql(q, " AND a.employee_id = ?");
        wp_query__text(q, f->employee_id);
    }
    if (f->customer_id) {
        wp_query__sql(q, " AND a.customer_id = ?");
        wp_query__text(q, f->customer_id);
    }
    if (f->from_us) {
        wp_query__sql(q, " AND a.ts_us >= ?");
        wp_query__int(q, f->from_us);
    }
    if (f->to_us) {
        wp_query__sql(q, " AND a.ts_us < ?");
        wp_query__int(q, f->to_us);
    }
    if (!wp_scope__all(sc)) {
        wp_query__scope_history(q, "a.employee_id", "a.customer_id", "a.other_employee_id", sc);
        /* insider alerts are for admins and auditors (the whole tenant) only */
        wp_query__sql(q, " AND a.kind NOT IN ('mass_unmask', 'mass_export')");
    }
}

int wp_store_alerts_list(wp_store *st, wp_alert_page *out, const wp_alert_filter *f)
{
    struct wp_stmt *s = NULL;
    struct wp_query q;
    wp_alert_page p;
    wp_strpool *pool = NULL;
    struct wp_scope_bind sc;
    char cid[WP_ID_LEN + 1];
    int64_t ct = 0;
    int has = 0, err;
    unsigned limit;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    wp_query__init(&q, SQL_MAX);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_store__check_opt_id("customer", f->customer_id)) < 0 ||
        (err = wp_store__check_opt_id("employee", f->employee_id)) < 0 ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0)
        goto out;
    if (f->status && !wp_alert_status_name((enum wp_alert_status)f->status)) {
        err = wp_error_set(WP_EINVAL, "status must be open, acknowledged or resolved");
        goto out;
    }
    wp_query__sql(&q, "SELECT " ALERT_COLUMNS " FROM alerts a WHERE a.tenant_id = ?");
    wp_query__text(&q, f->tenant_id);
    alerts_where(&q, f, &sc);
    if (has) {
        wp_query__sql(&q, " AND (a.ts_us < ? OR (a.ts_us = ? AND a.id < ?))");
        wp_query__int(&q, ct);
        wp_query__int(&q, ct);
        wp_query__text(&q, cid);
    }
    wp_query__sql(&q, " ORDER BY a.ts_us DESC, a.id DESC LIMIT ?");
    wp_query__int(&q, (int64_t)limit + 1);
    if ((err = wp_query__prepare(&q, st, &s)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_cursor__make(p.next_cursor, p.items[p.n - 1].ts_us, p.items[p.n - 1].id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0 ||
            (err = read_alert(st, f->tenant_id, s, &p.items[p.n], &pool)) < 0)
            goto out;
        p.n++;
    }
    if (err < 0)
        goto out;
    p.mem = pool;
    pool = NULL;
    *out = p;
    p.items = NULL;
    err = 0;
out:
    wp_db_done(s);
    free(p.items);
    wp_strpool__free(pool);
    wp_buf_release(&q.sql);
    return err;
}

int wp_store_alerts_count(wp_store *st, int64_t *count, int64_t *recent, const wp_alert_filter *f,
                          int64_t since_us, int64_t until_us)
{
    struct wp_stmt *s = NULL;
    struct wp_query q;
    struct wp_scope_bind sc;
    int err;

    wp_query__init(&q, SQL_MAX);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_store__check_opt_id("customer", f->customer_id)) < 0 ||
        (err = wp_store__check_opt_id("employee", f->employee_id)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0)
        goto out;
    if (f->status && !wp_alert_status_name((enum wp_alert_status)f->status)) {
        err = wp_error_set(WP_EINVAL, "status must be open, acknowledged or resolved");
        goto out;
    }
    wp_query__sql(&q, "SELECT COUNT(*), COALESCE(SUM(CASE WHEN a.created_us > ? AND"
                      " a.created_us <= ? THEN 1 ELSE 0 END), 0) FROM alerts a"
                      " WHERE a.tenant_id = ?");
    wp_query__int(&q, since_us);
    wp_query__int(&q, until_us);
    wp_query__text(&q, f->tenant_id);
    alerts_where(&q, f, &sc);
    if ((err = wp_query__prepare(&q, st, &s)) < 0)
        goto out;
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *count = wp_db_col_int64(s, 0);
        *recent = since_us ? wp_db_col_int64(s, 1) : 0;
        err = 0;
    } else if (err >= 0) {
        err = wp_error_set(WP_EIO, "store: no count of alerts");
    }
out:
    wp_db_done(s);
    wp_buf_release(&q.sql);
    return err;
}

void wp_alert_page_release(wp_alert_page *p)
{
    if (!p)
        return;
    free(p->items);
    wp_strpool__free(p->mem);
    memset(p, 0, sizeof *p);
}

int wp_store_alert_set_status(wp_store *st, const char *tenant_id, const char *id,
                              enum wp_alert_status status)
{
    return wp_store_alert_handle(st, tenant_id, id, status, NULL, NULL);
}

int wp_store_alert_handle(wp_store *st, const char *tenant_id, const char *id,
                          enum wp_alert_status status, const char *comment, const char *actor)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("alert", id)) < 0)
        return err;
    if (!wp_alert_status_name(status))
        return wp_error_set(WP_EINVAL, "status must be open, acknowledged or resolved");
    if (comment && *comment &&
        (err = wp_store__check_text("comment", comment, WP_ALERT_COMMENT_MAX)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 0)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE alerts SET status = ?, updated_us = ?,"
                             " comment = COALESCE(?, comment), handled_by = COALESCE(?, handled_by)"
                             " WHERE tenant_id = ? AND id = ? RETURNING id")) < 0)
        goto out;
    wp_db_bind_text(s, 1, wp_alert_status_name(status));
    wp_db_bind_int64(s, 2, wp_time_now_us());
    wp_db_bind_text_or_null(s, 3, comment && *comment ? comment : NULL);
    wp_db_bind_text_or_null(s, 4, actor);
    wp_db_bind_text(s, 5, tenant_id);
    wp_db_bind_text(s, 6, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = err == WP_DB_ROW ? 0 : wp_error_set(WP_ENOTFOUND, "alert '%s' not found", id);
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

int wp_store_alert_media_corrupt(wp_store *st, int *raised, char id[WP_ID_LEN + 1],
                                 const char *tenant_id, const char *ref, const char *employee_id,
                                 const char *customer_id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    *raised = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("employee", employee_id)) < 0)
        return err;
    wp_id_new(id);
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO alerts (tenant_id, id, ts_us, kind, category,"
                             " employee_id, customer_id, matched, status, created_us, updated_us)"
                             " VALUES (?, ?, ?, 'media_corrupt', 'integrity', ?, ?, ?, 'open',"
                             " ?, ?) ON CONFLICT (tenant_id, matched)"
                             " WHERE kind = 'media_corrupt' DO NOTHING RETURNING id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    wp_db_bind_int64(s, 3, now_us);
    wp_db_bind_text(s, 4, employee_id);
    if (customer_id && *customer_id)
        wp_db_bind_text(s, 5, customer_id);
    else
        wp_db_bind_null(s, 5);
    wp_db_bind_text(s, 6, ref);
    wp_db_bind_int64(s, 7, now_us);
    wp_db_bind_int64(s, 8, now_us);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *raised = 1;
        err = wp_db_step(s); /* RETURNING's statement ends on the next step */
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}
