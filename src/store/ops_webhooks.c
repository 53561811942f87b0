/* SPDX-License-Identifier: MIT */
/* Webhooks (migration 0024): subscriptions, the outbox, frozen events and the delivery queue. */
#include "store/alerts.h"
#include "store/db.h"
#include "store/internal.h"
#include "store/seal.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "util/error.h"
#include "util/id.h"

#include <stdlib.h>
#include <string.h>

/* --- subscriptions -------------------------------------------------------------------------- */

#define HOOK_COLS                                                                                  \
    "w.id, w.name, w.url, w.format, w.events, w.alert_kinds, w.org_unit_id, u.path, w.secret,"    \
    " w.allow_private, w.console_url, w.active, w.created_by, w.created_us, w.updated_us"
#define HOOK_FROM                                                                                  \
    " FROM webhooks w LEFT JOIN org_units u ON u.tenant_id = w.tenant_id AND u.id = w.org_unit_id"

/* A webhook's deliveries by status (columns 15, 16, 17 after HOOK_COLS). */
#define HOOK_COUNTS                                                                            \
    " (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.tenant_id = w.tenant_id"              \
    "  AND d.webhook_id = w.id AND d.status = 'pending'),"                                     \
    " (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.tenant_id = w.tenant_id"              \
    "  AND d.webhook_id = w.id AND d.status = 'delivered'),"                                   \
    " (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.tenant_id = w.tenant_id"              \
    "  AND d.webhook_id = w.id AND d.status = 'dead')"

static void read_counts(struct wp_stmt *s, wp_webhook *w)
{
    w->pending = wp_db_col_int64(s, 15);
    w->delivered = wp_db_col_int64(s, 16);
    w->dead = wp_db_col_int64(s, 17);
}

static int read_hook(struct wp_stmt *s, int col, wp_webhook *w)
{
    int err;
    memset(w, 0, sizeof *w);
    if ((err = wp_db_col_copy(s, col + 0, w->id, sizeof w->id)) < 0 ||
        (err = wp_db_col_copy(s, col + 1, w->name, sizeof w->name)) < 0 ||
        (err = wp_db_col_copy(s, col + 2, w->url, sizeof w->url)) < 0 ||
        (err = wp_db_col_copy(s, col + 3, w->format, sizeof w->format)) < 0 ||
        (err = wp_db_col_copy(s, col + 4, w->events, sizeof w->events)) < 0 ||
        (err = wp_db_col_copy_opt(s, col + 5, w->alert_kinds, sizeof w->alert_kinds)) < 0 ||
        (err = wp_db_col_copy_opt(s, col + 6, w->org_unit_id, sizeof w->org_unit_id)) < 0 ||
        (err = wp_db_col_copy_opt(s, col + 7, w->org_unit_path, sizeof w->org_unit_path)) < 0 ||
        (err = wp_db_col_copy_opt(s, col + 8, w->secret, sizeof w->secret)) < 0)
        return err;
    w->allow_private = wp_db_col_int64(s, col + 9) != 0;
    if ((err = wp_db_col_copy_opt(s, col + 10, w->console_url, sizeof w->console_url)) < 0)
        return err;
    w->active = wp_db_col_int64(s, col + 11) != 0;
    if ((err = wp_db_col_copy_opt(s, col + 12, w->created_by, sizeof w->created_by)) < 0)
        return err;
    w->created_us = wp_db_col_int64(s, col + 13);
    w->updated_us = wp_db_col_int64(s, col + 14);
    return 0;
}

int wp_store_webhooks_list(wp_store *st, wp_webhook **out, size_t *n, const char *tenant_id,
                           int active_only)
{
    struct wp_stmt *s = NULL;
    wp_webhook *v = NULL;
    size_t cap = 0, k = 0;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT " HOOK_COLS "," HOOK_COUNTS HOOK_FROM
             " WHERE w.tenant_id = ? AND (CAST(? AS BIGINT) = 0 OR w.active = 1) ORDER BY w.created_us, w.id"
             " LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, active_only ? 1 : 0);
    wp_db_bind_int64(s, 3, WP_WEBHOOKS_MAX);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = read_hook(s, 0, &v[k])) < 0)
            break;
        read_counts(s, &v[k]);
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

int wp_store_webhook_get(wp_store *st, wp_webhook *out, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("webhook", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " HOOK_COLS "," HOOK_COUNTS HOOK_FROM
                             " WHERE w.tenant_id = ? AND w.id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = read_hook(s, 0, out)) == 0)
            read_counts(s, out);
    } else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "webhook '%s' not found", id);
    wp_db_done(s);
    return err;
}

/* The webhook's unit must be one of the tenant's. */
static int check_unit(wp_store *st, const char *tenant_id, const char *unit_id)
{
    int err;
    if (!unit_id || !*unit_id)
        return 0;
    if (wp_store__check_id("org unit", unit_id) < 0)
        return wp_error_set(WP_EINVAL, "'org_unit_id': not an org unit's id");
    if ((err = wp_store__unit_exists(st, tenant_id, unit_id)) == WP_ENOTFOUND)
        return wp_error_set(WP_EINVAL, "'org_unit_id': org unit '%s' not found", unit_id);
    return err;
}

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

int wp_store_webhook_create(wp_store *st, wp_webhook *w, const char *tenant_id, int64_t now_us)
{
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_name("name", w->name, WP_WEBHOOK_NAME_MAX)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store__tenant_cap(st, "SELECT COUNT(*) FROM webhooks WHERE tenant_id = ?",
                                    tenant_id, WP_WEBHOOKS_MAX, "webhooks")) == 0 &&
        (err = check_unit(st, tenant_id, w->org_unit_id)) == 0) {
        wp_id_new(w->id);
        w->created_us = w->updated_us = now_us;
        err = wp_db_run(st,
                        "INSERT INTO webhooks (tenant_id, id, name, url, format, events,"
                        " alert_kinds, org_unit_id, secret, allow_private, console_url, active,"
                        " created_by, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                        " ?, ?, ?, ?, ?, ?)",
                        "tttttttttititii", tenant_id, w->id, w->name, w->url, w->format,
                        w->events, or_null(w->alert_kinds), or_null(w->org_unit_id),
                        or_null(w->secret), (int64_t)(w->allow_private != 0),
                        or_null(w->console_url), (int64_t)(w->active != 0),
                        or_null(w->created_by), now_us, now_us);
    }
    return wp_store__op_end(st, err);
}

int wp_store_webhook_update(wp_store *st, wp_webhook *w, const char *tenant_id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("webhook", w->id)) < 0 ||
        (err = wp_store__check_name("name", w->name, WP_WEBHOOK_NAME_MAX)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = check_unit(st, tenant_id, w->org_unit_id)) < 0 ||
        (err = wp_db_prepare(st, &s,
                             "UPDATE webhooks SET name = ?, url = ?, format = ?, events = ?,"
                             " alert_kinds = ?, org_unit_id = ?, secret = ?, allow_private = ?,"
                             " console_url = ?, active = ?, updated_us = ?"
                             " WHERE tenant_id = ? AND id = ? RETURNING created_us")) < 0)
        return wp_store__op_end(st, err);
    wp_db_bind_text(s, 1, w->name);
    wp_db_bind_text(s, 2, w->url);
    wp_db_bind_text(s, 3, w->format);
    wp_db_bind_text(s, 4, w->events);
    wp_db_bind_text_or_null(s, 5, or_null(w->alert_kinds));
    wp_db_bind_text_or_null(s, 6, or_null(w->org_unit_id));
    wp_db_bind_text_or_null(s, 7, or_null(w->secret));
    wp_db_bind_int64(s, 8, w->allow_private != 0);
    wp_db_bind_text_or_null(s, 9, or_null(w->console_url));
    wp_db_bind_int64(s, 10, w->active != 0);
    wp_db_bind_int64(s, 11, now_us);
    wp_db_bind_text(s, 12, tenant_id);
    wp_db_bind_text(s, 13, w->id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        w->created_us = wp_db_col_int64(s, 0);
        w->updated_us = now_us;
        err = 0;
    } else if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "webhook '%s' not found", w->id);
    }
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

int wp_store_webhook_delete(wp_store *st, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("webhook", id)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_run(st, "DELETE FROM webhook_deliveries WHERE tenant_id = ? AND webhook_id = ?",
                         "tt", tenant_id, id)) == 0 &&
        (err = wp_db_prepare(st, &s,
                             "DELETE FROM webhooks WHERE tenant_id = ? AND id = ? RETURNING id")) ==
            0) {
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_text(s, 2, id);
        if ((err = wp_db_step(s)) == WP_DB_DONE)
            err = wp_error_set(WP_ENOTFOUND, "webhook '%s' not found", id);
        else if (err == WP_DB_ROW)
            err = 0;
        wp_db_done(s);
    }
    return wp_store__op_end(st, err);
}

/* --- deliveries ----------------------------------------------------------------------------- */

#define DELIVERY_COLS                                                                              \
    "d.id, d.webhook_id, d.event_id, e.event, e.alert_kind, d.status, d.attempts, e.ts_us,"       \
    " d.next_us, d.last_code, d.last_error, d.last_us, d.delivered_us, d.created_us"
#define DELIVERY_FROM                                                                              \
    " FROM webhook_deliveries d JOIN webhook_events e ON e.tenant_id = d.tenant_id"               \
    " AND e.id = d.event_id"

static int64_t col_opt(struct wp_stmt *s, int col)
{
    return wp_db_col_isnull(s, col) ? 0 : wp_db_col_int64(s, col);
}

/* A text column cut to fit cap (at a character's start), "" for NULL. */
static void col_cut(struct wp_stmt *s, int col, char *out, size_t cap)
{
    const char *t = wp_db_col_text(s, col);
    size_t n = t ? strlen(t) : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80)
            n--;
    }
    if (n)
        memcpy(out, t, n);
    out[n] = '\0';
}

static int read_delivery(struct wp_stmt *s, wp_webhook_delivery *d)
{
    int err;
    memset(d, 0, sizeof *d);
    if ((err = wp_db_col_copy(s, 0, d->id, sizeof d->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, d->webhook_id, sizeof d->webhook_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, d->event_id, sizeof d->event_id)) < 0 ||
        (err = wp_db_col_copy(s, 3, d->event, sizeof d->event)) < 0 ||
        (err = wp_db_col_copy_opt(s, 4, d->alert_kind, sizeof d->alert_kind)) < 0 ||
        (err = wp_db_col_copy(s, 5, d->status, sizeof d->status)) < 0)
        return err;
    d->attempts = wp_db_col_int64(s, 6);
    d->ts_us = wp_db_col_int64(s, 7);
    d->next_us = wp_db_col_int64(s, 8);
    d->last_code = col_opt(s, 9);
    col_cut(s, 10, d->last_error, sizeof d->last_error);
    d->last_us = col_opt(s, 11);
    d->delivered_us = col_opt(s, 12);
    d->created_us = wp_db_col_int64(s, 13);
    return 0;
}

static int check_status(const char *status)
{
    if (status && strcmp(status, "pending") && strcmp(status, "delivered") &&
        strcmp(status, "dead"))
        return wp_error_set(WP_EINVAL, "status must be pending, delivered or dead");
    return 0;
}

int wp_store_webhook_deliveries_list(wp_store *st, wp_webhook_delivery_page *out,
                                     const wp_webhook_delivery_filter *f)
{
    struct wp_stmt *s = NULL;
    wp_webhook_delivery_page p;
    char cid[WP_ID_LEN + 1] = "";
    int64_t ct = 0;
    int has = 0, err;
    unsigned limit;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    memset(out, 0, sizeof *out);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (f->webhook_id && (err = wp_store__check_id("webhook", f->webhook_id)) < 0) ||
        (err = check_status(f->status)) < 0 || (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " DELIVERY_COLS DELIVERY_FROM
                             " WHERE d.tenant_id = ? AND (CAST(? AS TEXT) IS NULL OR"
                             " d.webhook_id = ?) AND (CAST(? AS TEXT) IS NULL OR d.status = ?)"
                             " AND (CAST(? AS BIGINT) = 0 OR d.created_us < ? OR (d.created_us = ? AND d.id < ?))"
                             " ORDER BY d.created_us DESC, d.id DESC LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, f->tenant_id);
    wp_db_bind_text_or_null(s, 2, f->webhook_id);
    wp_db_bind_text(s, 3, f->webhook_id ? f->webhook_id : "");
    wp_db_bind_text_or_null(s, 4, f->status);
    wp_db_bind_text(s, 5, f->status ? f->status : "");
    wp_db_bind_int64(s, 6, has);
    wp_db_bind_int64(s, 7, ct);
    wp_db_bind_int64(s, 8, ct);
    wp_db_bind_text(s, 9, cid);
    wp_db_bind_int64(s, 10, (int64_t)limit + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_webhook_delivery *last = &p.items[p.n - 1];
            wp_cursor__make(p.next_cursor, last->created_us, last->id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0 ||
            (err = read_delivery(s, &p.items[p.n])) < 0)
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

void wp_webhook_delivery_page_release(wp_webhook_delivery_page *p)
{
    if (p) {
        free(p->items);
        memset(p, 0, sizeof *p);
    }
}

int wp_store_webhook_delivery_get(wp_store *st, wp_webhook_delivery *out, const char *tenant_id,
                                  const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("delivery", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " DELIVERY_COLS DELIVERY_FROM
                             " WHERE d.tenant_id = ? AND d.id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = read_delivery(s, out);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "delivery '%s' not found", id);
    wp_db_done(s);
    return err;
}

int wp_store_webhook_redeliver(wp_store *st, wp_webhook_delivery *out, const char *tenant_id,
                               const char *id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store_webhook_delivery_get(st, out, tenant_id, id)) < 0)
        return wp_store__op_end(st, err);
    if (!strcmp(out->status, "pending"))
        return wp_store__op_end(
            st, wp_error_set(WP_EBUSY, "delivery '%s' is pending already: it is retried", id));
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE webhook_deliveries SET status = 'pending', next_us = ?,"
                             " window_us = ?, lease_us = 0 WHERE tenant_id = ? AND id = ?"
                             " AND status <> 'pending' RETURNING id")) < 0)
        return wp_store__op_end(st, err);
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_int64(s, 2, now_us);
    wp_db_bind_text(s, 3, tenant_id);
    wp_db_bind_text(s, 4, id);
    if ((err = wp_db_step(s)) == WP_DB_DONE)
        err = wp_error_set(WP_EBUSY, "delivery '%s' is pending already: it is retried", id);
    else if (err == WP_DB_ROW)
        err = 0;
    wp_db_done(s);
    if (err == 0)
        err = wp_store_webhook_delivery_get(st, out, tenant_id, id);
    return wp_store__op_end(st, err);
}

/* --- the outbox and the events --------------------------------------------------------------- */

int wp_store_webhook_outbox_next(wp_store *st, wp_webhook_outbox_row *out, size_t max, size_t *n)
{
    struct wp_stmt *s = NULL;
    size_t k = 0;
    int err;
    *n = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT seq, tenant_id, source, subject_id, created_us"
                             " FROM webhook_outbox ORDER BY seq LIMIT ?")) < 0)
        return err;
    wp_db_bind_int64(s, 1, (int64_t)max);
    while (k < max && (err = wp_db_step(s)) == WP_DB_ROW) {
        wp_webhook_outbox_row *r = &out[k];
        r->seq = wp_db_col_int64(s, 0);
        if ((err = wp_db_col_copy(s, 1, r->tenant_id, sizeof r->tenant_id)) < 0 ||
            (err = wp_db_col_copy(s, 2, r->source, sizeof r->source)) < 0 ||
            (err = wp_db_col_copy(s, 3, r->subject_id, sizeof r->subject_id)) < 0)
            break;
        r->created_us = wp_db_col_int64(s, 4);
        k++;
    }
    wp_db_done(s);
    if (err < 0)
        return err;
    *n = k;
    return 0;
}

int wp_store_webhook_outbox_take(wp_store *st, int *taken, int64_t seq)
{
    struct wp_stmt *s = NULL;
    int err;
    *taken = 0;
    if ((err = wp_db_prepare(st, &s, "DELETE FROM webhook_outbox WHERE seq = ? RETURNING seq")) < 0)
        return err;
    wp_db_bind_int64(s, 1, seq);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *taken = 1;
        err = 0;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_webhook_alert(wp_store *st, wp_webhook_alert *out, const char *tenant_id,
                           const char *id)
{
    struct wp_stmt *s = NULL;
    wp_strpool *pool = NULL;
    wp_alert *a = &out->a;
    int err;

    memset(out, 0, sizeof *out);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("alert", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT id, ts_us, kind, status, employee_id, device_id, customer_id,"
                             " message_id, category, pattern, action, matched, match_start,"
                             " match_end, other_employee_id FROM alerts"
                             " WHERE tenant_id = ? AND id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "alert '%s' not found", id);
    } else if (err == WP_DB_ROW) {
        err = 0;
        a->ts_us = wp_db_col_int64(s, 1);
        if (wp_alert_status_parse(&a->status, wp_db_col_text(s, 3)) < 0)
            a->status = WP_ALERT_OPEN;
        if ((err = wp_db_col_copy(s, 0, a->id, sizeof a->id)) < 0 ||
            (err = wp_db_col_copy(s, 2, a->kind, sizeof a->kind)) < 0 ||
            (err = wp_db_col_copy(s, 4, a->employee_id, sizeof a->employee_id)) < 0 ||
            (err = wp_db_col_copy_opt(s, 5, a->device_id, sizeof a->device_id)) < 0 ||
            (err = wp_db_col_copy_opt(s, 6, a->customer_id, sizeof a->customer_id)) < 0 ||
            (err = wp_db_col_copy_opt(s, 7, a->message_id, sizeof a->message_id)) < 0 ||
            (err = wp_strpool__dup(&pool, &a->category, wp_db_col_text(s, 8))) < 0 ||
            (err = wp_strpool__dup(&pool, &a->pattern, wp_db_col_text(s, 9))) < 0 ||
            (err = wp_strpool__dup(&pool, &a->action, wp_db_col_text(s, 10))) < 0 ||
            (err = wp_seal__col_dup(st, &pool, &a->matched, s, 11,
                                    &(wp_seal_at){tenant_id, "alerts", "matched", id})) < 0 ||
            (err = wp_db_col_copy_opt(s, 14, a->other_employee_id,
                                      sizeof a->other_employee_id)) < 0) {
        }
        a->start = wp_db_col_isnull(s, 12) ? -1 : wp_db_col_int64(s, 12);
        a->end = wp_db_col_isnull(s, 13) ? -1 : wp_db_col_int64(s, 13);
    }
    wp_db_done(s);
    out->mem = pool;
    if (err < 0)
        wp_webhook_alert_release(out);
    return err;
}

void wp_webhook_alert_release(wp_webhook_alert *a)
{
    if (a) {
        wp_strpool__free(a->mem);
        memset(a, 0, sizeof *a);
    }
}

int wp_store_webhook_event_add(wp_store *st, int *made, const wp_webhook_event *e,
                               int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    *made = 0;
    if (strlen(e->payload) > WP_WEBHOOK_PAYLOAD_MAX || strlen(e->view) > WP_WEBHOOK_PAYLOAD_MAX ||
        strlen(e->event) > WP_WEBHOOK_EVENT_MAX)
        return wp_error_set(WP_EINVAL, "webhook event '%s' is too large", e->event);
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO webhook_events (tenant_id, id, event, subject_id,"
                             " alert_kind, employee_id, ts_us, payload, view, created_us)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                             " RETURNING id")) < 0)
        return err;
    wp_db_bind_text(s, 1, e->tenant_id);
    wp_db_bind_text(s, 2, e->id);
    wp_db_bind_text(s, 3, e->event);
    wp_db_bind_text(s, 4, e->subject_id);
    wp_db_bind_text_or_null(s, 5, e->alert_kind);
    wp_db_bind_text_or_null(s, 6, e->employee_id);
    wp_db_bind_int64(s, 7, e->ts_us);
    wp_db_bind_text(s, 8, e->payload);
    wp_db_bind_text(s, 9, e->view);
    wp_db_bind_int64(s, 10, now_us);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *made = 1;
        err = 0;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_webhook_delivery_add(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                                  const char *webhook_id, const char *event_id, int64_t now_us)
{
    wp_id_new(out_id);
    return wp_db_run(st,
                     "INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event_id, status,"
                     " attempts, next_us, lease_us, window_us, created_us) VALUES (?, ?, ?, ?,"
                     " 'pending', 0, ?, 0, ?, ?)",
                     "ttttiii", tenant_id, out_id, webhook_id, event_id, now_us, now_us, now_us);
}

/* --- the queue -------------------------------------------------------------------------------- */

int wp_store_webhook_due(wp_store *st, wp_webhook_due *out, size_t max, size_t *n, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    size_t k = 0;
    int err;
    *n = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT d.tenant_id, d.id FROM webhook_deliveries d JOIN webhooks w"
                             " ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id"
                             " WHERE d.status = 'pending' AND d.next_us <= ? AND d.lease_us <= ?"
                             " AND w.active = 1 ORDER BY d.next_us, d.id LIMIT ?")) < 0)
        return err;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_int64(s, 2, now_us);
    wp_db_bind_int64(s, 3, (int64_t)max);
    while (k < max && (err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_db_col_copy(s, 0, out[k].tenant_id, sizeof out[k].tenant_id)) < 0 ||
            (err = wp_db_col_copy(s, 1, out[k].id, sizeof out[k].id)) < 0)
            break;
        k++;
    }
    wp_db_done(s);
    if (err < 0)
        return err;
    *n = k;
    return 0;
}

static char *col_strdup(struct wp_stmt *s, int col)
{
    const char *t = wp_db_col_text(s, col);
    return strdup(t ? t : "");
}

int wp_store_webhook_claim(wp_store *st, wp_webhook_job *out, int *got, const char *tenant_id,
                           const char *id, int64_t now_us, int64_t lease_us)
{
    struct wp_stmt *s = NULL;
    int err;

    memset(out, 0, sizeof *out);
    *got = 0;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE webhook_deliveries SET lease_us = ? WHERE tenant_id = ?"
                             " AND id = ? AND status = 'pending' AND next_us <= ?"
                             " AND lease_us <= ? RETURNING attempts, window_us, webhook_id,"
                             " event_id")) < 0)
        return err;
    wp_db_bind_int64(s, 1, lease_us);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, id);
    wp_db_bind_int64(s, 4, now_us);
    wp_db_bind_int64(s, 5, now_us);
    char hook_id[WP_ID_LEN + 1] = "";
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        out->attempts = wp_db_col_int64(s, 0);
        out->window_us = wp_db_col_int64(s, 1);
        if ((err = wp_db_col_copy(s, 2, hook_id, sizeof hook_id)) == 0)
            err = wp_db_col_copy(s, 3, out->event_id, sizeof out->event_id);
        if (err == 0)
            err = WP_DB_ROW;
    }
    wp_db_done(s);
    if (err != WP_DB_ROW)
        return err < 0 ? err : 0;
    memcpy(out->tenant_id, tenant_id, sizeof out->tenant_id);
    memcpy(out->id, id, sizeof out->id);
    out->lease_us = lease_us;
    if ((err = wp_store_webhook_get(st, &out->hook, tenant_id, hook_id)) < 0 ||
        (err = wp_db_prepare(st, &s,
                             "SELECT event, alert_kind, ts_us, payload, view FROM webhook_events"
                             " WHERE tenant_id = ? AND id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, out->event_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        out->ts_us = wp_db_col_int64(s, 2);
        out->payload = col_strdup(s, 3);
        out->view = col_strdup(s, 4);
        if ((err = wp_db_col_copy(s, 0, out->event, sizeof out->event)) == 0)
            err = wp_db_col_copy_opt(s, 1, out->alert_kind, sizeof out->alert_kind);
        if (err == 0 && (!out->payload || !out->view))
            err = wp_error_set(WP_ENOMEM, "out of memory");
    } else if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EIO, "store: delivery '%s' has no event", id);
    }
    wp_db_done(s);
    if (err < 0) {
        wp_webhook_job_release(out);
        return err;
    }
    *got = 1;
    return 0;
}

void wp_webhook_job_release(wp_webhook_job *j)
{
    if (j) {
        free(j->payload);
        free(j->view);
        j->payload = j->view = NULL;
    }
}

int wp_store_webhook_record(wp_store *st, const wp_webhook_job *j, const wp_webhook_result *r)
{
    int delivered = !strcmp(r->status, "delivered");
    char err_text[WP_WEBHOOK_ERROR_MAX + 1] = "";
    if (r->error) {
        size_t n = strlen(r->error);
        if (n > WP_WEBHOOK_ERROR_MAX) {
            n = WP_WEBHOOK_ERROR_MAX;
            while (n > 0 && ((unsigned char)r->error[n] & 0xc0) == 0x80)
                n--;
        }
        memcpy(err_text, r->error, n);
        err_text[n] = '\0';
    }
    return wp_db_run(st,
                     "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1,"
                     " next_us = ?, lease_us = 0, last_code = ?, last_error = ?, last_us = ?,"
                     " delivered_us = ? WHERE tenant_id = ? AND id = ? AND lease_us = ?"
                     " AND status = 'pending'",
                     "tiitiitti", r->status, r->next_us ? r->next_us : r->at_us, r->code,
                     r->error ? err_text : NULL, r->at_us, delivered ? r->at_us : (int64_t)0,
                     j->tenant_id, j->id, j->lease_us);
}

int wp_store_webhooks_prune(wp_store *st, int64_t *n, int64_t before_us)
{
    struct wp_stmt *s = NULL;
    int err;
    *n = 0;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "DELETE FROM webhook_deliveries WHERE status <> 'pending'"
                             " AND COALESCE(last_us, created_us) < ? RETURNING id")) == 0) {
        wp_db_bind_int64(s, 1, before_us);
        while ((err = wp_db_step(s)) == WP_DB_ROW)
            (*n)++;
        wp_db_done(s);
    }
    if (err >= 0)
        err = wp_db_run(st,
                        "DELETE FROM webhook_events WHERE created_us < ? AND NOT EXISTS"
                        " (SELECT 1 FROM webhook_deliveries d WHERE d.tenant_id ="
                        " webhook_events.tenant_id AND d.event_id = webhook_events.id)",
                        "i", before_us);
    return wp_store__op_end(st, err < 0 ? err : 0);
}
