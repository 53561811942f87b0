/* SPDX-License-Identifier: MIT */
/* Merging two customer records of one person (migration 0010): everything that points at the
 * merged record moves to the survivor, in one operation; the merged record stays a tombstone. */
#include "store/crm_internal.h"
#include "store/customers.h"
#include "store/db.h"
#include "store/seal.h"
#include "store/merge.h"
#include "store/store.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

int wp_store_customer_merged_into(wp_store *st, char out[WP_ID_LEN + 1], const char *tenant_id,
                                  const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT merged_into FROM customers WHERE tenant_id = ? AND id = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        out[0] = '\0';
        err = wp_db_col_isnull(s, 0) ? 0 : wp_db_col_copy(s, 0, out, WP_ID_LEN + 1);
    } else if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "customer '%s' not found", id);
    }
    wp_db_done(s);
    return err;
}

/* Run one statement bound (tenant, survivor, from) or (tenant, from) and count its rows. */
static int move(wp_store *st, int64_t *count, const char *sql, const char *tenant,
                const char *survivor, const char *from)
{
    struct wp_stmt *s = NULL;
    int err, k = 1;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    if (survivor)
        wp_db_bind_text(s, k++, survivor);
    wp_db_bind_text(s, k++, tenant);
    wp_db_bind_text(s, k, from);
    while ((err = wp_db_step(s)) == WP_DB_ROW)
        if (count)
            (*count)++;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_customer_merge(wp_store *st, wp_merge_result *out, const char *tenant_id,
                            const char *survivor_id, const char *from_id,
                            const wp_crm_actor *who, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_merge_result r;
    wp_customer_crm a, b;
    char m[WP_ID_LEN + 1], details[512];
    wp_buf sb, cb, tb;
    int err;

    wp_buf_init(&sb, WP_SEAL_SMALL_MAX);
    wp_buf_init(&cb, WP_SEAL_SMALL_MAX * 2);
    wp_buf_init(&tb, WP_SEAL_NOTES_MAX);
    memset(&r, 0, sizeof r);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", survivor_id)) < 0 ||
        (err = wp_store__check_id("customer", from_id)) < 0 || (err = wp_crm__check_actor(who)) < 0)
        return err;
    if (!strcmp(survivor_id, from_id))
        return wp_error_set(WP_EINVAL, "'from': a customer cannot be merged into itself");
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store_customer_crm_get(st, &a, tenant_id, survivor_id)) < 0 ||
        (err = wp_store_customer_crm_get(st, &b, tenant_id, from_id)) < 0 ||
        (err = wp_store_customer_merged_into(st, m, tenant_id, survivor_id)) < 0)
        goto out;
    if (*m) {
        err = wp_error_set(WP_EBUSY, "customer '%s' was merged into '%s'", survivor_id, m);
        goto out;
    }
    /* the tombstone first, guarded: of two merges of one record, one finds it taken */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE customers SET merged_into = ? WHERE tenant_id = ? AND id = ?"
                             " AND merged_into IS NULL RETURNING id")) < 0)
        goto out;
    wp_db_bind_text(s, 1, survivor_id);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, from_id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_DB_DONE)
        err = wp_error_set(WP_EBUSY, "customer '%s' was merged already", from_id);
    if (err < 0)
        goto out;
#define MOVE(table)                                                                                \
    "UPDATE " table " SET customer_id = ? WHERE tenant_id = ? AND customer_id = ? RETURNING 1"
    if ((err = move(st, &r.identities, MOVE("customer_identities"), tenant_id, survivor_id,
                    from_id)) < 0 ||
        (err = move(st, &r.messages, MOVE("messages"), tenant_id, survivor_id, from_id)) < 0 ||
        (err = move(st, &r.calls, MOVE("calls"), tenant_id, survivor_id, from_id)) < 0 ||
        (err = move(st, &r.contact_events, MOVE("contact_events"), tenant_id, survivor_id,
                    from_id)) < 0 ||
        (err = move(st, &r.alerts, MOVE("alerts"), tenant_id, survivor_id, from_id)) < 0 ||
        (err = move(st, &r.events, MOVE("customer_events"), tenant_id, survivor_id, from_id)) <
            0 ||
        (err = move(st, &r.tags,
                    "INSERT INTO customer_tags (tenant_id, customer_id, tag_id, created_us)"
                    " SELECT tenant_id, ?, tag_id, created_us FROM customer_tags WHERE"
                    " tenant_id = ? AND customer_id = ? ON CONFLICT DO NOTHING RETURNING 1",
                    tenant_id, survivor_id, from_id)) < 0 ||
        (err = move(st, NULL, "DELETE FROM customer_tags WHERE tenant_id = ? AND customer_id = ?",
                    tenant_id, NULL, from_id)) < 0 ||
        (err = move(st, NULL,
                    "INSERT INTO customer_read_grants (tenant_id, customer_id, employee_id,"
                    " handover_id, created_us) SELECT tenant_id, ?, employee_id, handover_id,"
                    " created_us FROM customer_read_grants WHERE tenant_id = ? AND customer_id"
                    " = ? ON CONFLICT DO NOTHING",
                    tenant_id, survivor_id, from_id)) < 0 ||
        (err = move(st, NULL,
                    "DELETE FROM customer_read_grants WHERE tenant_id = ? AND customer_id = ?",
                    tenant_id, NULL, from_id)) < 0 ||
        (err = move(st, NULL, "DELETE FROM reminders WHERE tenant_id = ? AND customer_id = ?",
                    tenant_id, NULL, from_id)) < 0 ||
        (err = wp_crm__history_merge(st, tenant_id, survivor_id, from_id,
                                     a.base.owner_employee_id, b.base.owner_employee_id,
                                     now_us)) < 0)
        goto out;
#undef MOVE
    /* what the survivor lacks, from the merged record (its phone sealed again for the
     * survivor's row) */
    wp_seal_at at = {tenant_id, "customers", "phone", survivor_id};
    wp_seal_at at_company = {tenant_id, "customers", "company", survivor_id};
    wp_seal_at at_notes = {tenant_id, "customers", "notes", survivor_id};
    const char *phone = NULL, *company = NULL, *notes = NULL;
    if ((err = wp_seal__text(st, &sb, &phone, &at, *b.base.phone ? b.base.phone : NULL)) < 0 ||
        (err = wp_seal__text(st, &cb, &company, &at_company, *b.company ? b.company : NULL)) < 0 ||
        (err = wp_seal__text(st, &tb, &notes, &at_notes, b.notes && *b.notes ? b.notes : NULL)) < 0)
        goto out;
    if ((err = wp_db_prepare(
             st, &s,
             "UPDATE customers SET last_contact_us = CASE WHEN COALESCE(last_contact_us, 0) >="
             " CAST(? AS BIGINT) THEN last_contact_us ELSE CAST(? AS BIGINT) END,"
             " phone = COALESCE(NULLIF(phone, ''), ?), grade = COALESCE(NULLIF(grade, ''), ?),"
             " stage = COALESCE(NULLIF(stage, ''), ?), company = COALESCE(NULLIF(company, ''), ?),"
             " notes = COALESCE(NULLIF(notes, ''), ?) WHERE tenant_id = ? AND id = ?")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, b.base.last_contact_us);
    wp_db_bind_int64(s, 2, b.base.last_contact_us);
    wp_db_bind_text_or_null(s, 3, phone);
    wp_db_bind_text_or_null(s, 4, *b.base.grade ? b.base.grade : NULL);
    wp_db_bind_text_or_null(s, 5, *b.base.stage ? b.base.stage : NULL);
    wp_db_bind_text_or_null(s, 6, company);
    wp_db_bind_text_or_null(s, 7, notes);
    wp_db_bind_text(s, 8, tenant_id);
    wp_db_bind_text(s, 9, survivor_id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err < 0)
        goto out;
    snprintf(details, sizeof details,
             "{\"from\":\"%s\",\"identities\":%lld,\"messages\":%lld,\"calls\":%lld,"
             "\"alerts\":%lld,\"events\":%lld}",
             from_id, (long long)r.identities, (long long)r.messages, (long long)r.calls,
             (long long)r.alerts, (long long)r.events);
    if ((err = wp_crm__event_insert(st, NULL, tenant_id, survivor_id, "merged", who, details,
                                    now_us)) < 0)
        goto out;
    snprintf(details, sizeof details, "{\"into\":\"%s\"}", survivor_id);
    err = wp_crm__event_insert(st, NULL, tenant_id, from_id, "merged_into", who, details, now_us);
out:
    wp_buf_release(&sb);
    wp_buf_release(&cb);
    wp_buf_release(&tb);
    wp_customer_crm_release(&a);
    wp_customer_crm_release(&b);
    if ((err = wp_store__op_end(st, err < 0 ? err : 0)) == 0 && out)
        *out = r;
    return err;
}
