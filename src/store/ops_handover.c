/* SPDX-License-Identifier: MIT */
/* Store operations on handovers (离职继承 / 在职继承, migration 0008): moving an employee's
 * customers to successors in one transaction, ending a leaver's access, and the report. */
#include "store/access.h"
#include "store/crm_internal.h"
#include "store/customers.h"
#include "store/db.h"
#include "store/seal.h"
#include "store/handovers.h"
#include "store/internal.h"
#include "store/people.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HANDOVER_COLUMNS                                                                           \
    "h.id, h.from_employee_id, h.to_employees, h.reason, h.keep_read_access,"                      \
    " h.idempotency_key, h.actor, h.customers_moved, h.sessions_revoked, h.devices_revoked,"      \
    " h.api_keys_revoked, h.created_us"

static int read_handover(struct wp_stmt *s, wp_handover *out)
{
    wp_handover h;
    int err;
    memset(&h, 0, sizeof h);
    if ((err = wp_db_col_copy(s, 0, h.id, sizeof h.id)) < 0 ||
        (err = wp_db_col_copy(s, 1, h.from_employee_id, sizeof h.from_employee_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, h.to_employees, sizeof h.to_employees)) < 0 ||
        (err = wp_db_col_copy(s, 6, h.actor, sizeof h.actor)) < 0)
        return err;
    if (!wp_db_col_isnull(s, 5) &&
        (err = wp_db_col_copy(s, 5, h.idempotency_key, sizeof h.idempotency_key)) < 0)
        return err;
    const char *reason = wp_db_col_text(s, 3);
    h.departure = reason && !strcmp(reason, "departure");
    h.keep_read_access = wp_db_col_int64(s, 4) != 0;
    h.customers_moved = wp_db_col_int64(s, 7);
    h.sessions_revoked = wp_db_col_int64(s, 8);
    h.devices_revoked = wp_db_col_int64(s, 9);
    h.api_keys_revoked = wp_db_col_int64(s, 10);
    h.created_us = wp_db_col_int64(s, 11);
    *out = h;
    return 0;
}

/* The one handover a statement selects (tenant, then one text value, bound). *found 0 when
 * none. */
static int handover_one(wp_store *st, wp_handover *out, int *found, const char *sql,
                        const char *tenant_id, const char *v1, const char *v2)
{
    struct wp_stmt *s = NULL;
    int err;
    *found = 0;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, v1);
    if (v2)
        wp_db_bind_text(s, 3, v2);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *found = 1;
        err = read_handover(s, out);
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_handover_get(wp_store *st, wp_handover *out, const char *tenant_id, const char *id)
{
    int err, found;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("handover", id)) < 0)
        return err;
    if ((err = handover_one(st, out, &found,
                            "SELECT " HANDOVER_COLUMNS
                            " FROM handovers h WHERE h.tenant_id = ? AND h.id = ?",
                            tenant_id, id, NULL)) < 0)
        return err;
    return found ? 0 : wp_error_set(WP_ENOTFOUND, "handover '%s' not found", id);
}

/* Count the rows a statement (tenant, employee bound) counts. */
static int count2(wp_store *st, int64_t *out, const char *sql, const char *a, const char *b)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, a);
    wp_db_bind_text(s, 2, b);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *out = wp_db_col_int64(s, 0);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* Run a statement with the values bound in order: text (t), int64 (i). */
static int check_request(const wp_handover_request *r)
{
    int err;
    if ((err = wp_store__check_id("tenant", r->tenant_id)) < 0 ||
        (err = wp_store__check_id("employee", r->from_employee_id)) < 0 ||
        (err = wp_crm__check_actor(&r->who)) < 0)
        return err;
    if (r->n_to == 0)
        return wp_error_set(WP_EINVAL, "a handover needs at least one successor");
    if (r->n_to > WP_HANDOVER_TO_MAX)
        return wp_error_set(WP_EINVAL, "a handover has at most %d successors",
                            WP_HANDOVER_TO_MAX);
    for (size_t i = 0; i < r->n_to; i++) {
        if ((err = wp_store__check_id("successor", r->to_employee_ids[i])) < 0)
            return err;
        if (!strcmp(r->to_employee_ids[i], r->from_employee_id))
            return wp_error_set(WP_EINVAL, "an employee cannot hand its customers to itself");
        for (size_t k = 0; k < i; k++)
            if (!strcmp(r->to_employee_ids[i], r->to_employee_ids[k]))
                return wp_error_set(WP_EINVAL, "successor '%s' is named twice",
                                    r->to_employee_ids[i]);
    }
    for (size_t i = 0; r->weights && i < r->n_to; i++)
        if (r->weights[i] < 1 || r->weights[i] > 100)
            return wp_error_set(WP_EINVAL, "'weights' are whole numbers from 1 to 100");
    if (r->idempotency_key) {
        size_t len = strlen(r->idempotency_key);
        if (len == 0 || len > WP_HANDOVER_KEY_MAX)
            return wp_error_set(WP_EINVAL, "'idempotency_key' must be 1..%d bytes",
                                WP_HANDOVER_KEY_MAX);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)r->idempotency_key[i] < 0x21 ||
                (unsigned char)r->idempotency_key[i] > 0x7e)
                return wp_error_set(WP_EINVAL, "'idempotency_key' must be printable ASCII");
    }
    return 0;
}

/* The employee's active flag, its row locked for the transaction (PostgreSQL): handovers of
 * one employee run one after the other, and the later sees what the earlier moved. */
static int lock_employee(wp_store *st, int *active, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE employees SET active = active WHERE tenant_id = ? AND id = ?"
                             " RETURNING active")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *active = wp_db_col_int64(s, 0) != 0;
    wp_db_done(s);
    if (err == WP_DB_DONE)
        return wp_error_set(WP_ENOTFOUND, "employee '%s' not found", id);
    return err < 0 ? err : 0;
}

/* The customers the employee owns (not in the pool), oldest first. */
static int owned(wp_store *st, char (**ids)[WP_ID_LEN + 1], size_t *n, const char *tenant_id,
                 const char *employee_id)
{
    struct wp_stmt *s = NULL;
    size_t cap = 0;
    int err;
    *ids = NULL;
    *n = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT id FROM customers WHERE tenant_id = ? AND owner_employee_id"
                             " = ? AND in_pool = 0 ORDER BY created_us, id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)ids, &cap, *n, sizeof **ids)) < 0 ||
            (err = wp_db_col_copy(s, 0, (*ids)[*n], WP_ID_LEN + 1)) < 0)
            break;
        (*n)++;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* Give customer id to succ when r's leaver still owns it (outside the pool): *still 1 then. */
static int move_if_owned(wp_store *st, int *still, const wp_handover_request *r, const char *id,
                         const char *succ)
{
    struct wp_stmt *s = NULL;
    int err;
    *still = 0;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE customers SET owner_employee_id = ?, owner_since_us = ?"
                             " WHERE tenant_id = ? AND id = ? AND owner_employee_id = ?"
                             " AND in_pool = 0 RETURNING id")) < 0)
        return err;
    wp_db_bind_text(s, 1, succ);
    wp_db_bind_int64(s, 2, r->now_us);
    wp_db_bind_text(s, 3, r->tenant_id);
    wp_db_bind_text(s, 4, id);
    wp_db_bind_text(s, 5, r->from_employee_id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err < 0)
        return err;
    *still = err == WP_DB_ROW;
    return 0;
}

/* The body of a handover, inside the open transaction. */
static int handover_tx(wp_store *st, wp_handover *out, int *replayed,
                       const wp_handover_request *r)
{
    const char *reason = r->departure ? "departure" : "transfer";
    char (*ids)[WP_ID_LEN + 1] = NULL;
    char hid[WP_ID_LEN + 1], details[512];
    size_t n = 0, moved = 0;
    int64_t sessions = 0, devices = 0, keys = 0;
    wp_api_key_end *ended = NULL;
    size_t n_ended = 0;
    int err, active = 0, found = 0;
    wp_buf to;

    wp_buf_init(&to, sizeof out->to_employees);
    if ((err = lock_employee(st, &active, r->tenant_id, r->from_employee_id)) < 0)
        goto out;
    if (r->idempotency_key) {
        if ((err = handover_one(st, out, &found,
                                "SELECT " HANDOVER_COLUMNS " FROM handovers h"
                                " WHERE h.tenant_id = ? AND h.idempotency_key = ?",
                                r->tenant_id, r->idempotency_key, NULL)) < 0)
            goto out;
        if (found) {
            if (strcmp(out->from_employee_id, r->from_employee_id) ||
                out->departure != r->departure)
                err = wp_error_set(WP_EBUSY,
                                   "idempotency key '%s' was used for another handover",
                                   r->idempotency_key);
            else
                *replayed = 1;
            goto out;
        }
    }
    /* A departure locks the leaver's devices before it lists the customers: a batch being
     * stored from one of them (it holds its device's row) commits first and its new customers
     * are in the list; a later one waits, then finds its device revoked. */
    if (r->departure &&
        (err = wp_db_run(st,
                   "UPDATE devices SET revoked = revoked WHERE tenant_id = ? AND employee_id = ?"
                   " AND revoked = 0",
                   "tt", r->tenant_id, r->from_employee_id)) < 0)
        goto out;
    if ((err = owned(st, &ids, &n, r->tenant_id, r->from_employee_id)) < 0)
        goto out;
    /* Nothing left to move and nothing left to end: the request repeats the last one */
    if (!r->idempotency_key && n == 0 && (!r->departure || !active)) {
        if ((err = handover_one(st, out, &found,
                                "SELECT " HANDOVER_COLUMNS " FROM handovers h"
                                " WHERE h.tenant_id = ? AND h.from_employee_id = ?"
                                " AND h.reason = ? ORDER BY h.created_us DESC, h.id DESC"
                                " LIMIT 1",
                                r->tenant_id, r->from_employee_id, reason)) < 0)
            goto out;
        if (found) {
            *replayed = 1;
            goto out;
        }
    }
    err = wp_buf_addc(&to, '[');
    for (size_t i = 0; i < r->n_to && err == 0; i++) {
        int ok = 0;
        if ((err = lock_employee(st, &ok, r->tenant_id, r->to_employee_ids[i])) < 0)
            goto out;
        if (!ok) {
            err = wp_error_set(WP_EINVAL, "successor '%s' is not active", r->to_employee_ids[i]);
            goto out;
        }
        err = wp_buf_addf(&to, "%s\"%s\"", i ? "," : "", r->to_employee_ids[i]);
    }
    if (err == 0)
        err = wp_buf_addc(&to, ']');
    if (err < 0)
        goto out;
    wp_id_new(hid);
    if ((err = wp_db_run(st,
                   "INSERT INTO handovers (tenant_id, id, from_employee_id, to_employees, reason,"
                   " keep_read_access, idempotency_key, actor, customers_moved,"
                   " sessions_revoked, devices_revoked, api_keys_revoked, created_us)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?)",
                   "tttttitti", r->tenant_id, hid, r->from_employee_id, to.buf, reason,
                   (int64_t)(!r->departure && r->keep_read_access), r->idempotency_key,
                   r->who.actor, r->now_us)) < 0)
        goto out;
    long cur[WP_HANDOVER_TO_MAX] = {0}, total = 0;
    for (size_t k = 0; r->weights && k < r->n_to; k++)
        total += (long)r->weights[k];
    for (size_t i = 0; i < n; i++) {
        size_t pick = moved % r->n_to;
        if (r->weights) { /* each successor's turn comes in proportion to its weight */
            pick = 0;
            for (size_t k = 0; k < r->n_to; k++) {
                cur[k] += (long)r->weights[k];
                if (cur[k] > cur[pick])
                    pick = k;
            }
            cur[pick] -= total;
        }
        const char *succ = r->to_employee_ids[pick];
        snprintf(details, sizeof details,
                 "{\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"%s\",\"handover_id\":\"%s\"}",
                 r->from_employee_id, succ, reason, hid);
        /* Only while it is still the leaver's: a parallel assign, claim or release that
         * committed since the list was read keeps its move (PostgreSQL re-checks the WHERE
         * on the row's newest version once its lock is free). */
        int still = 0;
        if ((err = move_if_owned(st, &still, r, ids[i], succ)) < 0)
            goto out;
        if (!still) { /* its turn was not used: the weights' counters go back */
            for (size_t k = 0; r->weights && k < r->n_to; k++)
                cur[k] -= (long)r->weights[k];
            if (r->weights)
                cur[pick] += total;
            continue;
        }
        moved++;
        if ((err = wp_crm__event_insert(st, NULL, r->tenant_id, ids[i], "owner_changed", &r->who,
                                        details, r->now_us)) < 0 ||
            (err = wp_crm__history_follows(st, r->tenant_id, ids[i], r->from_employee_id, succ,
                                           reason, !r->departure && r->keep_read_access,
                                           r->now_us)) < 0 ||
            (err = wp_db_run(st,
                       "INSERT INTO handover_items (tenant_id, handover_id, customer_id,"
                       " to_employee_id) VALUES (?, ?, ?, ?)",
                       "tttt", r->tenant_id, hid, ids[i], succ)) < 0)
            goto out;
        if (!r->departure && r->keep_read_access &&
            (err = wp_db_run(st,
                       "INSERT INTO customer_read_grants (tenant_id, customer_id, employee_id,"
                       " handover_id, created_us) VALUES (?, ?, ?, ?, ?) ON CONFLICT"
                       " (tenant_id, customer_id, employee_id) DO UPDATE SET handover_id ="
                       " excluded.handover_id, created_us = excluded.created_us",
                       "tttti", r->tenant_id, ids[i], r->from_employee_id, hid, r->now_us)) < 0)
            goto out;
        if (r->fail_after && moved == r->fail_after) {
            err = wp_error_set(WP_EIO, "handover: failing after %u moves (test hook)",
                               r->fail_after);
            goto out;
        }
    }
    if (r->departure) {
        wp_employee_change c = WP_EMPLOYEE_CHANGE_INIT;
        wp_employee e;
        c.active = 0;
        if ((err = wp_store_employee_update(st, &e, r->tenant_id, r->from_employee_id, &c)) < 0 ||
            (err = wp_store_sessions_revoke_employee(st, &sessions, r->tenant_id,
                                                     r->from_employee_id, r->now_us)) < 0 ||
            (err = count2(st, &devices,
                          "SELECT count(*) FROM devices WHERE tenant_id = ? AND employee_id = ?"
                          " AND revoked = 0",
                          r->tenant_id, r->from_employee_id)) < 0 ||
            (err = wp_db_run(st,
                       "UPDATE devices SET revoked = 1 WHERE tenant_id = ? AND employee_id = ?"
                       " AND revoked = 0",
                       "tt", r->tenant_id, r->from_employee_id)) < 0 ||
            (err = wp_store_api_keys_end_unheld(st, &ended, &n_ended, r->tenant_id,
                                                    r->from_employee_id, r->now_us)) < 0)
            goto out;
        keys = (int64_t)n_ended;
    }
    if ((err = wp_db_run(st,
                   "UPDATE handovers SET customers_moved = ?, sessions_revoked = ?,"
                   " devices_revoked = ?, api_keys_revoked = ? WHERE tenant_id = ? AND id = ?",
                   "iiiitt", (int64_t)moved, sessions, devices, keys, r->tenant_id, hid)) < 0 ||
        (err = wp_store_handover_get(st, out, r->tenant_id, hid)) < 0)
        goto out;
    if (r->keys_ended) {
        *r->keys_ended = ended;
        *r->n_keys_ended = n_ended;
        ended = NULL;
    }
out:
    free(ended);
    free(ids);
    wp_buf_release(&to);
    return err;
}

int wp_store_handover_run(wp_store *st, wp_handover *out, int *replayed,
                          const wp_handover_request *r)
{
    wp_handover h;
    int err, own = !st->in_tx, again = 0;

    if ((err = check_request(r)) < 0)
        return err;
    if (own && (err = wp_store_begin(st)) < 0)
        return err;
    memset(&h, 0, sizeof h);
    err = handover_tx(st, &h, &again, r);
    if (own) {
        if (err < 0)
            wp_store_rollback(st);
        else
            err = wp_store_commit(st);
    }
    if (err < 0)
        return err;
    *out = h;
    *replayed = again;
    return 0;
}

int wp_store_handovers_list(wp_store *st, wp_handover_page *out, const wp_handover_filter *f)
{
    struct wp_stmt *s = NULL;
    wp_handover_page p;
    struct wp_scope_bind sc;
    char cid[WP_ID_LEN + 1] = "";
    int64_t ct = 0;
    int has = 0, err, b = 1;
    unsigned limit;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (f->from_employee_id && (err = wp_store__check_id("employee", f->from_employee_id)) < 0) ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0)
        goto out;
    const char *from = f->from_employee_id;
    if (wp_scope__employee(&from, &sc)) { /* another employee's handovers: none in scope */
        *out = p;
        goto out;
    }
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT " HANDOVER_COLUMNS " FROM handovers h WHERE h.tenant_id = ?"
             " AND (CAST(? AS TEXT) IS NULL OR h.from_employee_id = ?)"
             " AND (CAST(? AS BIGINT) = 0 OR h.from_employee_id IN (SELECT se.id FROM"
             " employees se JOIN org_units so ON so.tenant_id = se.tenant_id AND so.id ="
             " se.org_unit_id WHERE se.tenant_id = h.tenant_id AND so.path >= ? AND so.path < ?))"
             " AND (CAST(? AS BIGINT) = 0 OR h.created_us < ? OR (h.created_us = ? AND h.id < ?))"
             " ORDER BY h.created_us DESC, h.id DESC LIMIT ?")) < 0)
        goto out;
    wp_db_bind_text(s, b++, f->tenant_id);
    wp_db_bind_text_or_null(s, b++, from);
    wp_db_bind_text_or_null(s, b++, from);
    wp_db_bind_int64(s, b++, sc.org_path != NULL);
    wp_db_bind_text(s, b++, sc.lo);
    wp_db_bind_text(s, b++, sc.hi);
    wp_db_bind_int64(s, b++, has);
    wp_db_bind_int64(s, b++, ct);
    wp_db_bind_int64(s, b++, ct);
    wp_db_bind_text(s, b++, cid);
    wp_db_bind_int64(s, b++, (int64_t)limit + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_cursor__make(p.next_cursor, p.items[p.n - 1].created_us, p.items[p.n - 1].id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0 ||
            (err = read_handover(s, &p.items[p.n])) < 0)
            goto out;
        p.n++;
    }
    if (err < 0)
        goto out;
    *out = p;
    p.items = NULL;
    err = 0;
out:
    wp_db_done(s);
    free(p.items);
    return err;
}

void wp_handover_page_release(wp_handover_page *p)
{
    if (!p)
        return;
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

int wp_store_handover_items(wp_store *st, wp_handover_item **out, size_t *n,
                            const char *tenant_id, const char *handover_id,
                            const char *after_customer_id, unsigned limit)
{
    struct wp_stmt *s = NULL;
    wp_handover_item *v = NULL;
    size_t cap = 0, k = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("handover", handover_id)) < 0)
        return err;
    if (after_customer_id && *after_customer_id &&
        (err = wp_store__check_id("cursor", after_customer_id)) < 0)
        return wp_error_set(WP_EINVAL, "invalid cursor");
    if (limit == 0 || limit > WP_HANDOVER_ITEMS_MAX)
        return wp_error_set(WP_EINVAL, "limit must be 1..%d", WP_HANDOVER_ITEMS_MAX);
    if ((err = wp_db_prepare(st, &s,
                             "SELECT i.customer_id, c.name, i.to_employee_id FROM handover_items i"
                             " JOIN customers c ON c.tenant_id = i.tenant_id AND c.id ="
                             " i.customer_id WHERE i.tenant_id = ? AND i.handover_id = ?"
                             " AND i.customer_id > ? ORDER BY i.customer_id LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, handover_id);
    wp_db_bind_text(s, 3, after_customer_id ? after_customer_id : "");
    wp_db_bind_int64(s, 4, limit);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = wp_db_col_copy(s, 0, v[k].customer_id, sizeof v[k].customer_id)) < 0 ||
            (err = wp_seal__col_copy_opt(
                 st, s, 1, v[k].customer_name, sizeof v[k].customer_name,
                 &(wp_seal_at){tenant_id, "customers", "name", v[k].customer_id})) < 0 ||
            (err = wp_db_col_copy(s, 2, v[k].to_employee_id, sizeof v[k].to_employee_id)) < 0)
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

int wp_store_customer_assign(wp_store *st, int *changed, char previous_owner[WP_ID_LEN + 1],
                             const char *tenant_id, const char *id, const char *to_employee_id,
                             const wp_crm_actor *who, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    char from[WP_ID_LEN + 1], details[256];
    int err, active = 0, in_pool = 0, merged = 0;

    *changed = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", id)) < 0 ||
        (err = wp_store__check_id("employee", to_employee_id)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    /* the new owner's row is locked: it cannot leave while it is given a customer */
    if ((err = lock_employee(st, &active, tenant_id, to_employee_id)) < 0)
        goto out;
    if (!active) {
        err = wp_error_set(WP_EINVAL, "employee '%s' is not active", to_employee_id);
        goto out;
    }
    /* The customer's row is locked as it is read (an UPDATE that changes nothing: SELECT ...
     * FOR UPDATE in portable SQL), so a parallel assign or handover of the same customer waits
     * and then sees this one's owner: each move starts from the owner it replaces. */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE customers SET owner_employee_id = owner_employee_id"
                             " WHERE tenant_id = ? AND id = ?"
                             " RETURNING owner_employee_id, in_pool, merged_into")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "customer '%s' not found", id);
        goto out;
    }
    if (err < 0 || (err = wp_db_col_copy(s, 0, from, sizeof from)) < 0)
        goto out;
    in_pool = wp_db_col_int64(s, 1) != 0;
    merged = !wp_db_col_isnull(s, 2);
    if (previous_owner)
        memcpy(previous_owner, from, WP_ID_LEN + 1);
    wp_db_done(s);
    s = NULL;
    if (in_pool || merged) {
        err = wp_error_set(WP_EBUSY, in_pool ? "customer '%s' is in the pool: assign it there"
                                             : "customer '%s' was merged into another",
                           id);
        goto out;
    }
    if (!strcmp(from, to_employee_id))
        goto out; /* already theirs: nothing moves */
    snprintf(details, sizeof details, "{\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"assigned\"}",
             from, to_employee_id);
    if ((err = wp_db_run(st,
                   "UPDATE customers SET owner_employee_id = ?, owner_since_us = ?"
                   " WHERE tenant_id = ? AND id = ?",
                   "titt", to_employee_id, now_us, tenant_id, id)) < 0 ||
        (err = wp_crm__event_insert(st, NULL, tenant_id, id, "owner_changed", who, details,
                                    now_us)) < 0 ||
        (err = wp_crm__history_follows(st, tenant_id, id, from, to_employee_id, "assign", 0,
                                       now_us)) < 0)
        goto out;
    *changed = 1;
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}
