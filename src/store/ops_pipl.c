/* SPDX-License-Identifier: MIT */
/* A customer's personal data: all of it for a data request, and its erasure (pipl.h). */
#include "store/pipl.h"
#include "store/db.h"
#include "store/internal.h"
#include "store/seal.h"
#include "util/error.h"

#include <assert.h>
#include <string.h>

#define COLS_MAX 24
#define OPENED_MAX (64u * 1024 * 1024) /* bytes of an opened field, at most */

/* One section of a data request: its rows, the columns named as the JSON names them. Every
 * statement takes (tenant_id, customer_id). */
struct section {
    const char *name, *sql, *types;
    const char *cols[COLS_MAX];
};

static const struct section sections[] = {
    {"customer",
     "SELECT id, name, phone, company, notes, owner_employee_id, grade, stage, deal_amount_fen,"
     " created_us, last_contact_us, last_follow_up_us, in_pool, pool_reason, merged_into,"
     " erased_us FROM customers WHERE tenant_id = ? AND id = ?",
     "ttttttttiTTTitTT",
     {"id", "name", "phone", "company", "notes", "owner_employee_id", "grade", "stage",
      "deal_amount_fen", "created_at", "last_contact_at", "last_follow_up_at", "in_pool",
      "pool_reason", "merged_into", "erased_at"}},
    {"identities",
     /* a phone's blind index (value) names the row its sealed number opens for: last */
     "SELECT kind, COALESCE(sealed, value), created_us, value FROM customer_identities WHERE"
     " tenant_id = ? AND customer_id = ? ORDER BY created_us, kind, value",
     "ttT",
     {"kind", "value", "created_at"}},
    {"tags",
     "SELECT t.id, t.name, ct.created_us FROM customer_tags ct JOIN tags t ON t.tenant_id ="
     " ct.tenant_id AND t.id = ct.tag_id WHERE ct.tenant_id = ? AND ct.customer_id = ?"
     " ORDER BY ct.created_us, t.id",
     "ttT",
     {"id", "name", "added_at"}},
    {"history",
     "SELECT id, ts_us, kind, actor, actor_employee_id, details FROM customer_events"
     " WHERE tenant_id = ? AND customer_id = ? ORDER BY ts_us, id",
     "tTtttt",
     {"id", "at", "kind", "actor", "employee_id", "details"}},
    {"messages",
     "SELECT id, ts_us, channel, direction, employee_id, chat, group_name, peer_id, peer_name,"
     " peer_phone, msgtype, text, media, filename, size, url, title, amount_fen, memo, recalled"
     " FROM messages WHERE tenant_id = ? AND customer_id = ? ORDER BY ts_us, device_id, seq",
     "tTttttttttttttittiti",
     {"id", "at", "channel", "direction", "employee_id", "chat", "group_name", "peer_id",
      "peer_name", "peer_phone", "msgtype", "text", "media", "filename", "size", "url", "title",
      "amount_fen", "memo", "recalled"}},
    {"calls",
     "SELECT id, ts_us, direction, employee_id, peer_id, peer_name, peer_phone, duration_s,"
     " recording FROM calls WHERE tenant_id = ? AND customer_id = ? ORDER BY ts_us, device_id, seq",
     "tTtttttit",
     {"id", "at", "direction", "employee_id", "peer_id", "peer_name", "peer_phone",
      "duration_s", "recording"}},
    {"contact_events",
     "SELECT id, ts_us, channel, action, employee_id, peer_id, peer_name, peer_phone"
     " FROM contact_events WHERE tenant_id = ? AND customer_id = ? ORDER BY ts_us, id",
     "tTtttttt",
     {"id", "at", "channel", "action", "employee_id", "peer_id", "peer_name", "peer_phone"}},
    {"alerts",
     "SELECT id, ts_us, kind, category, employee_id, message_id, matched, status"
     " FROM alerts WHERE tenant_id = ? AND customer_id = ? ORDER BY ts_us, id",
     "tTtttttt",
     {"id", "at", "kind", "category", "employee_id", "message_id", "matched", "status"}},
    {"handovers",
     "SELECT h.id, h.created_us, h.from_employee_id, i.to_employee_id, h.reason"
     " FROM handover_items i JOIN handovers h ON h.tenant_id = i.tenant_id AND h.id ="
     " i.handover_id WHERE i.tenant_id = ? AND i.customer_id = ? ORDER BY h.created_us, h.id",
     "tTttt",
     {"id", "at", "from_employee_id", "to_employee_id", "reason"}},
    {"checkins",
     "SELECT id, ts_us, kind, employee_id FROM checkins WHERE tenant_id = ?"
     " AND customer_id = ? ORDER BY ts_us, id",
     "tTtt",
     {"id", "at", "kind", "employee_id"}},
};

static int customer_data(wp_store *st, const char *tenant_id, const char *customer_id,
                         int (*cb)(void *ctx, const wp_data_row *row), void *ctx,
                         const char **values, wp_buf *opened);

int wp_store_customer_data(wp_store *st, const char *tenant_id, const char *customer_id,
                           int (*cb)(void *ctx, const wp_data_row *row), void *ctx)
{
    const char *values[COLS_MAX];
    wp_buf opened[COLS_MAX];
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0)
        return err;
    for (size_t i = 0; i < COLS_MAX; i++)
        wp_buf_init(&opened[i], OPENED_MAX);
    err = customer_data(st, tenant_id, customer_id, cb, ctx, values, opened);
    for (size_t i = 0; i < COLS_MAX; i++)
        wp_buf_release(&opened[i]);
    return err;
}

static int customer_data(wp_store *st, const char *tenant_id, const char *customer_id,
                         int (*cb)(void *ctx, const wp_data_row *row), void *ctx,
                         const char **values, wp_buf *opened)
{
    int err = 0;
    for (size_t k = 0; k < sizeof sections / sizeof *sections; k++) {
        const struct section *sec = &sections[k];
        struct wp_stmt *s = NULL;
        size_t n = strlen(sec->types), rows = 0;
        assert(n < COLS_MAX && sec->cols[n - 1] && !sec->cols[n]); /* a name for each column */
        if ((err = wp_db_prepare(st, &s, sec->sql)) < 0)
            return err;
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_text(s, 2, customer_id);
        while ((err = wp_db_step(s)) == WP_DB_ROW) {
            for (size_t i = 0; i < n; i++)
                values[i] = wp_db_col_isnull(s, (int)i) ? NULL : wp_db_col_text(s, (int)i);
            /* a sealed field opens for its row (each section's table is its name, its
             * first column the row's id; the customer's row is in customers, an identity's
             * is its blind index): the export holds plaintext, as before */
            int idt = !strcmp(sec->name, "identities");
            const char *table = k == 0 ? "customers" : idt ? "customer_identities" : sec->name;
            const char *row = idt ? wp_db_col_text(s, (int)n) : values[0];
            for (size_t i = 1; i < n && err >= 0; i++)
                if (wp_seal__is_sealed(values[i])) {
                    wp_seal_at at = {tenant_id, table, sec->cols[i], row};
                    err = wp_seal__open_text(st, &opened[i], &values[i], &at, values[i]);
                }
            if (err < 0)
                break;
            wp_data_row r = {sec->name, n, sec->cols, values, sec->types};
            rows++;
            if ((err = cb(ctx, &r)) != 0)
                break;
        }
        wp_db_done(s);
        if (err < 0)
            return err;
        if (k == 0 && rows == 0)
            return wp_error_set(WP_ENOTFOUND, "customer '%s' not found", customer_id);
    }
    return 0;
}

/* A hold in force on the customer, its owner, or an employee of its messages or calls. */
static int held_by(wp_store *st, char hold_id[WP_ID_LEN + 1], const char *tenant_id,
                   const char *customer_id)
{
    struct wp_stmt *s = NULL;
    int err;
    hold_id[0] = '\0';
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT h.id FROM legal_holds h JOIN legal_hold_subjects s ON s.tenant_id ="
             " h.tenant_id AND s.hold_id = h.id WHERE h.tenant_id = ? AND h.lifted_us IS NULL"
             " AND ((s.kind = 'customer' AND s.subject_id = ?) OR (s.kind = 'employee' AND"
             " (s.subject_id IN (SELECT owner_employee_id FROM customers WHERE tenant_id = ?"
             " AND id = ?) OR s.subject_id IN (SELECT employee_id FROM messages WHERE"
             " tenant_id = ? AND customer_id = ?) OR s.subject_id IN (SELECT employee_id FROM"
             " calls WHERE tenant_id = ? AND customer_id = ?))))"
             " ORDER BY h.created_us, h.id LIMIT 1")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    /* the parameters: tenant, customer, then (tenant, customer) three times */
    wp_db_bind_text(s, 2, customer_id);
    for (int i = 0; i < 3; i++) {
        wp_db_bind_text(s, 3 + 2 * i, tenant_id);
        wp_db_bind_text(s, 4 + 2 * i, customer_id);
    }
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = wp_db_col_copy(s, 0, hold_id, WP_ID_LEN + 1);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* DELETE ... WHERE tenant_id = ? AND customer_id = ?, counted in *n (may be NULL). */
static int drop(wp_store *st, int64_t *n, const char *table, const char *tenant_id,
                const char *customer_id)
{
    static const struct {
        const char *table, *sql;
    } del[] = {
        {"alerts", "DELETE FROM alerts WHERE tenant_id = ? AND customer_id = ? RETURNING 1"},
        {"contact_events",
         "DELETE FROM contact_events WHERE tenant_id = ? AND customer_id = ? RETURNING 1"},
        {"customer_events",
         "DELETE FROM customer_events WHERE tenant_id = ? AND customer_id = ? RETURNING 1"},
        {"customer_identities",
         "DELETE FROM customer_identities WHERE tenant_id = ? AND customer_id = ? RETURNING 1"},
        {"customer_tags",
         "DELETE FROM customer_tags WHERE tenant_id = ? AND customer_id = ? RETURNING 1"},
        {"reminders", "DELETE FROM reminders WHERE tenant_id = ? AND customer_id = ? RETURNING 1"},
        {"customer_read_grants",
         "DELETE FROM customer_read_grants WHERE tenant_id = ? AND customer_id = ? RETURNING 1"},
        {"history_grants",
         "DELETE FROM history_grants WHERE tenant_id = ? AND customer_id = ? RETURNING 1"},
        {"customer_contacts",
         "DELETE FROM customer_contacts WHERE tenant_id = ? AND customer_id = ? RETURNING 1"},
        {"checkins",
         "UPDATE checkins SET customer_id = NULL WHERE tenant_id = ? AND customer_id = ?"
         " RETURNING 1"},
    };
    struct wp_stmt *s = NULL;
    size_t k = 0;
    int64_t c = 0;
    int err;
    while (strcmp(del[k].table, table))
        k++;
    if ((err = wp_db_prepare(st, &s, del[k].sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW)
        c++;
    wp_db_done(s);
    if (n)
        *n += c;
    return err < 0 ? err : 0;
}

int wp_store_customer_erase(wp_store *st, wp_erasure *out, char hold_id[WP_ID_LEN + 1],
                            const char *tenant_id, const char *customer_id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int64_t erased = -1;
    int err;

    memset(out, 0, sizeof *out);
    hold_id[0] = '\0';
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT COALESCE(erased_us, 0) FROM customers WHERE tenant_id = ?"
                             " AND id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        erased = wp_db_col_int64(s, 0);
    wp_db_done(s);
    if (err < 0)
        return err;
    if (erased < 0)
        return wp_error_set(WP_ENOTFOUND, "customer '%s' not found", customer_id);
    if (erased > 0)
        return wp_error_set(WP_EBUSY, "customer '%s' is erased already", customer_id);
    if ((err = held_by(st, hold_id, tenant_id, customer_id)) < 0)
        return err;
    if (hold_id[0])
        return wp_error_set(WP_EBUSY, "customer '%s' is under legal hold '%s'", customer_id,
                            hold_id);
    if ((err = wp_store__retention_erase_customer(st, &out->rows, tenant_id, customer_id)) < 0 ||
        (err = drop(st, &out->alerts_other, "alerts", tenant_id, customer_id)) < 0 ||
        (err = drop(st, &out->contact_events, "contact_events", tenant_id, customer_id)) < 0 ||
        (err = drop(st, &out->history, "customer_events", tenant_id, customer_id)) < 0 ||
        (err = drop(st, &out->identities, "customer_identities", tenant_id, customer_id)) < 0 ||
        (err = drop(st, &out->tags, "customer_tags", tenant_id, customer_id)) < 0 ||
        (err = drop(st, &out->reminders, "reminders", tenant_id, customer_id)) < 0 ||
        (err = drop(st, NULL, "customer_read_grants", tenant_id, customer_id)) < 0 ||
        (err = drop(st, NULL, "history_grants", tenant_id, customer_id)) < 0 ||
        (err = drop(st, NULL, "customer_contacts", tenant_id, customer_id)) < 0 ||
        (err = drop(st, NULL, "checkins", tenant_id, customer_id)) < 0)
        return err;
    /* the tombstone, and the records merged into it (they hold a name and a phone too) */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE customers SET name = ?, phone = NULL, company = NULL,"
                             " notes = NULL, grade = NULL, stage = NULL, deal_amount_fen = NULL,"
                             " last_contact_us = NULL, last_follow_up_us = NULL, stage_us = NULL,"
                             " in_pool = 0, pooled_us = NULL, pool_reason = NULL, erased_us = ?"
                             " WHERE tenant_id = ? AND (id = ? OR merged_into = ?) RETURNING id")) <
        0)
        return err;
    wp_db_bind_text(s, 1, WP_CUSTOMER_ERASED_NAME);
    wp_db_bind_int64(s, 2, now_us);
    wp_db_bind_text(s, 3, tenant_id);
    wp_db_bind_text(s, 4, customer_id);
    wp_db_bind_text(s, 5, customer_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW)
        out->merged += strcmp(wp_db_col_text(s, 0), customer_id) != 0;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_scrub(wp_store *st)
{
    if (wp_store_backend(st) != WP_STORE_SQLITE)
        return 0;
    return wp_db_exec(st, "INSERT INTO message_fts (message_fts) VALUES ('optimize');"
                          " PRAGMA wal_checkpoint(TRUNCATE);");
}
