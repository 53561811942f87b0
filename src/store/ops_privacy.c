/* SPDX-License-Identifier: MIT */
/* Consents, the employees' notice and its acknowledgements, and who viewed an employee's
 * conversations (privacy.h; migration 0038). */
#include "store/db.h"
#include "store/internal.h"
#include "store/policy.h"
#include "store/privacy.h"
#include "util/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wp_consent_method_ok(const char *m)
{
    return m && (!strcmp(m, "auto_message") || !strcmp(m, "signed_form") ||
                 !strcmp(m, "verbal") || !strcmp(m, "other"));
}

/* A copy of a nullable text column into *out (NULL for NULL). */
static int col_dup(struct wp_stmt *s, int col, char **out)
{
    const char *t = wp_db_col_text(s, col);
    *out = NULL;
    if (!t)
        return 0;
    if (!(*out = strdup(t)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

static int evidence_ok(const char *e)
{
    return e && strlen(e) == 71 && !strncmp(e, "sha256:", 7) && wp_store__is_hash(e + 7);
}

int wp_store_consent_add(wp_store *st, wp_consent *out, const char *tenant_id,
                         const char *customer_id, const char *method, int64_t at_us,
                         const char *by, const char *note, const char *evidence, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    memset(out, 0, sizeof *out);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0)
        return err;
    if (!wp_consent_method_ok(method))
        return wp_error_set(WP_EINVAL, "'method' must be auto_message, signed_form, verbal or "
                                       "other");
    if (note && (err = wp_store__check_text("note", note, WP_CONSENT_NOTE_MAX)) < 0)
        return err;
    if (evidence && !evidence_ok(evidence))
        return wp_error_set(WP_EINVAL, "'evidence' must be a media ref sha256:<64 hex digits>");
    if (!by || strlen(by) >= WP_ACTOR_MAX)
        return wp_error_set(WP_EINVAL, "consent without an actor");
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s, "SELECT count(*) FROM customer_consents"
                                     " WHERE tenant_id = ? AND customer_id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_ROW && wp_db_col_int64(s, 0) >= WP_CONSENTS_MAX) {
        err = wp_error_set(WP_ELIMIT, "a customer has at most %d consent records",
                           WP_CONSENTS_MAX);
        goto out;
    }
    wp_db_done(s);
    s = NULL;
    wp_id_new(out->id);
    err = wp_db_run(st,
                    "INSERT INTO customer_consents (tenant_id, id, customer_id, method, at_us,"
                    " by_actor, note, evidence, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    "ttttittti", tenant_id, out->id, customer_id, method, at_us, by,
                    note && *note ? note : NULL, evidence, now_us);
    if (err < 0)
        goto out;
    snprintf(out->customer_id, sizeof out->customer_id, "%s", customer_id);
    snprintf(out->method, sizeof out->method, "%s", method);
    snprintf(out->by, sizeof out->by, "%s", by);
    out->at_us = at_us;
    out->created_us = now_us;
    if ((note && *note && !(out->note = strdup(note))) ||
        (evidence && !(out->evidence = strdup(evidence))))
        err = wp_error_set(WP_ENOMEM, "out of memory");
out:
    wp_db_done(s);
    if (err < 0) {
        free(out->note);
        free(out->evidence);
        out->note = out->evidence = NULL;
    }
    return wp_store__op_end(st, err);
}

int wp_store_consents_list(wp_store *st, wp_consent **out, size_t *n, const char *tenant_id,
                           const char *customer_id)
{
    struct wp_stmt *s = NULL;
    wp_consent *v = NULL;
    size_t cap = 0, k = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT id, method, at_us, by_actor, note, evidence, created_us"
                             " FROM customer_consents WHERE tenant_id = ? AND customer_id = ?"
                             " ORDER BY at_us DESC, id DESC")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0)
            break;
        wp_consent *c = &v[k];
        memset(c, 0, sizeof *c);
        snprintf(c->customer_id, sizeof c->customer_id, "%s", customer_id);
        if ((err = wp_db_col_copy(s, 0, c->id, sizeof c->id)) < 0 ||
            (err = wp_db_col_copy(s, 1, c->method, sizeof c->method)) < 0 ||
            (err = wp_db_col_copy(s, 3, c->by, sizeof c->by)) < 0)
            break;
        c->at_us = wp_db_col_int64(s, 2);
        c->created_us = wp_db_col_int64(s, 6);
        k++;
        if ((err = col_dup(s, 4, &c->note)) < 0 || (err = col_dup(s, 5, &c->evidence)) < 0)
            break;
    }
    wp_db_done(s);
    if (err < 0) {
        wp_consents_free(v, k);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}

void wp_consents_free(wp_consent *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].note);
        free(v[i].evidence);
    }
    free(v);
}

/* --- the notice ------------------------------------------------------------------------ */

int wp_store_notice_get(wp_store *st, wp_notice *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int err;

    memset(out, 0, sizeof *out);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s, "SELECT notice_text, notice_version, auto_message,"
                                     " updated_us FROM privacy_notice WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_ROW) {
        out->version = wp_db_col_int64(s, 1);
        out->updated_us = wp_db_col_int64(s, 3);
        if ((err = col_dup(s, 0, &out->text)) < 0 || (err = col_dup(s, 2, &out->auto_message)) < 0)
            goto out;
    }
    err = 0;
    if (!out->text && !(out->text = strdup(WP_NOTICE_DEFAULT)))
        err = wp_error_set(WP_ENOMEM, "out of memory");
out:
    wp_db_done(s);
    if (err < 0)
        wp_notice_release(out);
    return err;
}

void wp_notice_release(wp_notice *n)
{
    if (!n)
        return;
    free(n->text);
    free(n->auto_message);
    n->text = n->auto_message = NULL;
}

int wp_store_notice_put(wp_store *st, wp_notice *out, const char *tenant_id, const char *text,
                        int set_auto, const char *auto_message, int64_t now_us)
{
    wp_notice cur;
    int err;

    memset(out, 0, sizeof *out);
    if (text && ((err = wp_store__check_text("notice", text, WP_NOTICE_TEXT_MAX)) < 0))
        return err;
    if (text && !*text)
        return wp_error_set(WP_EINVAL, "'notice' must not be empty");
    if (set_auto && auto_message &&
        (err = wp_store__check_text("auto_message", auto_message, WP_AUTO_MESSAGE_MAX)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store_notice_get(st, &cur, tenant_id)) < 0)
        goto out;
    int64_t version = cur.version;
    if (text && (version == 0 || strcmp(text, cur.text)))
        version++;
    const char *t = text ? text : cur.text;
    const char *am = set_auto ? (auto_message && *auto_message ? auto_message : NULL)
                              : cur.auto_message;
    err = wp_db_run(st,
                    "INSERT INTO privacy_notice (tenant_id, notice_text, notice_version,"
                    " auto_message, updated_us) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id)"
                    " DO UPDATE SET notice_text = excluded.notice_text, notice_version ="
                    " excluded.notice_version, auto_message = excluded.auto_message,"
                    " updated_us = excluded.updated_us",
                    "ttiti", tenant_id, t, version, am, now_us);
    if (err == 0)
        err = wp_store_policy_touch(st, NULL, tenant_id);
    if (err == 0)
        err = wp_store_notice_get(st, out, tenant_id);
out:
    wp_notice_release(&cur);
    return wp_store__op_end(st, err);
}

int wp_store_notice_ack(wp_store *st, int *created, int64_t *acked_us, const char *tenant_id,
                        const char *employee_id, const char *device_id, int64_t version,
                        int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_notice cur;
    int err;

    if ((err = wp_store__check_id("employee", employee_id)) < 0 ||
        (err = wp_store__check_id("device", device_id)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store_notice_get(st, &cur, tenant_id)) < 0)
        goto out;
    if (version < 0 || version > cur.version) {
        err = wp_error_set(WP_EINVAL, "'version' %" PRId64 " is not a notice version given",
                           version);
        goto out;
    }
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO notice_acks (tenant_id, employee_id, version, device_id,"
                             " acked_us) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                             " RETURNING acked_us")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    wp_db_bind_int64(s, 3, version);
    wp_db_bind_text(s, 4, device_id);
    wp_db_bind_int64(s, 5, now_us);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    *created = err == WP_DB_ROW;
    wp_db_done(s);
    s = NULL;
    if ((err = wp_db_prepare(st, &s, "SELECT acked_us FROM notice_acks WHERE tenant_id = ? AND"
                                     " employee_id = ? AND version = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    wp_db_bind_int64(s, 3, version);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    *acked_us = err == WP_DB_ROW ? wp_db_col_int64(s, 0) : now_us;
    err = 0;
out:
    wp_db_done(s);
    wp_notice_release(&cur);
    return wp_store__op_end(st, err);
}

int wp_store_notice_acked(wp_store *st, int64_t *version, int64_t *acked_us,
                          const char *tenant_id, const char *employee_id)
{
    struct wp_stmt *s = NULL;
    int err;
    *version = *acked_us = 0;
    if ((err = wp_db_prepare(st, &s, "SELECT version, acked_us FROM notice_acks WHERE"
                                     " tenant_id = ? AND employee_id = ?"
                                     " ORDER BY version DESC LIMIT 1")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *version = wp_db_col_int64(s, 0);
        *acked_us = wp_db_col_int64(s, 1);
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_notice_acks_list(wp_store *st, wp_notice_ack_row **out, size_t *n, int *more,
                              const char *tenant_id, const char *cursor, unsigned limit)
{
    struct wp_stmt *s = NULL;
    wp_notice_ack_row *v = NULL;
    size_t cap = 0, k = 0;
    int err;

    *out = NULL;
    *n = 0;
    *more = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_page__limit(&limit, limit)) < 0)
        return err;
    if (cursor && *cursor && wp_store__check_id("cursor", cursor) < 0)
        return wp_error_set(WP_EINVAL, "invalid cursor");
    if ((err = wp_db_prepare(st, &s,
                             "SELECT e.id, e.name, a.version, a.acked_us FROM employees e"
                             " LEFT JOIN notice_acks a ON a.tenant_id = e.tenant_id AND"
                             " a.employee_id = e.id AND a.version = (SELECT max(version) FROM"
                             " notice_acks b WHERE b.tenant_id = e.tenant_id AND"
                             " b.employee_id = e.id)"
                             " WHERE e.tenant_id = ? AND e.active = 1 AND e.id > ?"
                             " ORDER BY e.id LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, cursor && *cursor ? cursor : "");
    wp_db_bind_int64(s, 3, (int64_t)limit + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (k == limit) {
            *more = 1;
            continue;
        }
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0)
            break;
        memset(&v[k], 0, sizeof v[k]);
        if ((err = wp_db_col_copy(s, 0, v[k].employee_id, sizeof v[k].employee_id)) < 0)
            break;
        v[k].version = wp_db_col_isnull(s, 2) ? 0 : wp_db_col_int64(s, 2);
        v[k].acked_us = wp_db_col_isnull(s, 3) ? 0 : wp_db_col_int64(s, 3);
        k++;
        if ((err = col_dup(s, 1, &v[k - 1].name)) < 0)
            break;
    }
    wp_db_done(s);
    if (err < 0) {
        wp_notice_ack_rows_free(v, k);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}

void wp_notice_ack_rows_free(wp_notice_ack_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

/* --- who viewed ------------------------------------------------------------------------ */

int wp_store_viewers_list(wp_store *st, wp_viewer_page *out, const char *tenant_id,
                          const char *employee_id, const char *cursor, unsigned limit)
{
    struct wp_stmt *s = NULL;
    char self[WP_ACTOR_MAX], target[WP_ACTOR_MAX], like[WP_ID_LEN + 8];
    int64_t before_ts = INT64_MAX, before_seq = INT64_MAX;
    size_t cap = 0;
    int err;

    memset(out, 0, sizeof *out);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("employee", employee_id)) < 0 ||
        (err = wp_page__limit(&limit, limit)) < 0)
        return err;
    if (cursor && *cursor) { /* "<ts_us>.<seq>" of the last row of the page before */
        char *end, *end2;
        long long t = strtoll(cursor, &end, 10), q = 0;
        if (end != cursor && *end == '.')
            q = strtoll(end + 1, &end2, 10);
        if (end == cursor || *end != '.' || *end2 || t <= 0 || q <= 0)
            return wp_error_set(WP_EINVAL, "invalid cursor");
        before_ts = t;
        before_seq = q;
    }
    snprintf(self, sizeof self, "employee:%s", employee_id);
    snprintf(target, sizeof target, "employee:%s", employee_id);
    /* a search or list that showed the employee's messages names them in details.employees
     * (or read by employee_id=): an id is [0-9a-z] only, no wildcard to escape */
    snprintf(like, sizeof like, "%%\"%s\"%%", employee_id);
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT a.seq, a.ts_us, a.actor, a.action, a.target, e.name, e.role"
             " FROM audit_log a LEFT JOIN employees e ON e.tenant_id = a.tenant_id"
             " AND substr(a.actor, 1, 9) = 'employee:' AND e.id = substr(a.actor, 10)"
             " WHERE a.tenant_id = ? AND a.actor <> ?"
             " AND (a.ts_us < ? OR (a.ts_us = ? AND a.seq < ?)) AND ("
             " (a.action = 'messages.read' AND a.target = ?)"
             " OR (a.action IN ('messages.read', 'timeline.read', 'customer.unmask')"
             " AND a.target IN (SELECT 'customer:' || c.id FROM customers c"
             " WHERE c.tenant_id = ? AND c.owner_employee_id = ?))"
             " OR (a.action = 'message.unmask' AND a.target IN (SELECT 'message:' || m.id"
             " FROM messages m WHERE m.tenant_id = ? AND m.employee_id = ?))"
             " OR (a.action IN ('messages.read', 'messages.search') AND a.details LIKE ?))"
             " ORDER BY a.ts_us DESC, a.seq DESC LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, self);
    wp_db_bind_int64(s, 3, before_ts);
    wp_db_bind_int64(s, 4, before_ts);
    wp_db_bind_int64(s, 5, before_seq);
    wp_db_bind_text(s, 6, target);
    wp_db_bind_text(s, 7, tenant_id);
    wp_db_bind_text(s, 8, employee_id);
    wp_db_bind_text(s, 9, tenant_id);
    wp_db_bind_text(s, 10, employee_id);
    wp_db_bind_text(s, 11, like);
    wp_db_bind_int64(s, 12, (int64_t)limit + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (out->n == limit) {
            snprintf(out->next_cursor, sizeof out->next_cursor, "%" PRId64 ".%" PRId64,
                     out->items[out->n - 1].ts_us, out->items[out->n - 1].seq);
            continue;
        }
        if ((err = wp_array__grow((void **)&out->items, &cap, out->n, sizeof *out->items)) < 0)
            break;
        wp_viewer *v = &out->items[out->n];
        memset(v, 0, sizeof *v);
        v->seq = wp_db_col_int64(s, 0);
        v->ts_us = wp_db_col_int64(s, 1);
        if ((err = wp_db_col_copy(s, 2, v->actor, sizeof v->actor)) < 0 ||
            (err = wp_db_col_copy(s, 3, v->action, sizeof v->action)) < 0 ||
            (err = wp_db_col_copy_opt(s, 4, v->target, sizeof v->target)) < 0)
            break;
        out->n++;
        if ((err = col_dup(s, 5, &v->name)) < 0 || (err = col_dup(s, 6, &v->role)) < 0)
            break;
    }
    wp_db_done(s);
    if (err < 0) {
        wp_viewer_page_release(out);
        return err;
    }
    return 0;
}

void wp_viewer_page_release(wp_viewer_page *p)
{
    for (size_t i = 0; p->items && i < p->n; i++) {
        free(p->items[i].name);
        free(p->items[i].role);
    }
    free(p->items);
    p->items = NULL;
    p->n = 0;
}
