/* SPDX-License-Identifier: MIT */
/* Store operations on customers beyond the archive (migration 0008): CRM fields and edits,
 * follow-ups, the timeline, the public pool and its reclaim rules, CRM settings. */
#include "store/audit.h"
#include "store/crm_internal.h"
#include "store/customers.h"
#include "store/db.h"
#include "store/seal.h"
#include "store/internal.h"
#include "store/query.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"
#include "util/json.h"
#include "util/testhooks.h"
#include "util/utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_US (86400 * INT64_C(1000000))
#define RECLAIM_BATCH 200

/* --- shared helpers ------------------------------------------------------------------------ */

int wp_store__tenant_ids(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n)
{
    struct wp_stmt *s = NULL;
    char(*v)[WP_ID_LEN + 1] = NULL;
    size_t k = 0, cap = 0;
    int err;

    if ((err = wp_db_prepare(st, &s, "SELECT id FROM tenants ORDER BY id")) < 0)
        return err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = wp_db_col_copy(s, 0, v[k], sizeof *v)) < 0)
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

int wp_store__tenant_cap(wp_store *st, const char *count_sql, const char *tenant_id, int max,
                         const char *what)
{
    struct wp_stmt *s = NULL;
    int64_t count = 0;
    int err;

    if ((err = wp_db_prepare(st, &s, count_sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        count = wp_db_col_int64(s, 0);
    wp_db_done(s);
    if (err < 0)
        return err;
    if (count >= max)
        return wp_error_set(WP_ELIMIT, "a tenant has at most %d %s", max, what);
    return 0;
}

int wp_crm__check_actor(const wp_crm_actor *who)
{
    if (!who || !who->actor || !*who->actor || strlen(who->actor) > 256)
        return wp_error_set(WP_EINVAL, "actor is missing or too long");
    if (who->employee_id)
        return wp_store__check_id("employee", who->employee_id);
    return 0;
}

int wp_crm__event_insert(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                         const char *customer_id, const char *kind, const wp_crm_actor *who,
                         const char *details, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    char id[WP_ID_LEN + 1];
    int err;

    if (details && strlen(details) > WP_CRM_DETAILS_MAX)
        return wp_error_set(WP_EINVAL, "event details are longer than %d bytes",
                            WP_CRM_DETAILS_MAX);
    wp_id_new(id);
    if ((err = wp_db_prepare(
             st, &s,
             "INSERT INTO customer_events (tenant_id, id, customer_id, ts_us, kind,"
             " actor, actor_employee_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    wp_db_bind_text(s, 3, customer_id);
    wp_db_bind_int64(s, 4, now_us);
    wp_db_bind_text(s, 5, kind);
    wp_db_bind_text(s, 6, who->actor);
    wp_db_bind_text_or_null(s, 7, who->employee_id);
    wp_db_bind_text(s, 8, details ? details : "{}");
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_ENOTFOUND)
        return wp_error_set(WP_ENOTFOUND, "customer '%s' not found", customer_id);
    if (err < 0)
        return err;
    if (out_id)
        memcpy(out_id, id, sizeof id);
    return 0;
}

/* A field of free text (notes, a follow-up): wp_text_check() with LF and TAB allowed. */
static int check_text(const char *field, const char *s, size_t max)
{
    return wp_text_check(field, s, strlen(s), max, WP_TEXT_MULTILINE);
}

/* Append "key": "value" (a JSON string; NULL: null) to a JSON object being built. */
static int json_kv(wp_buf *b, const char *key, const char *v)
{
    int err;
    if (b->len > 1 && (err = wp_buf_addc(b, ',')) < 0)
        return err;
    if ((err = wp_json_str(b, key, strlen(key))) < 0 || (err = wp_buf_addc(b, ':')) < 0)
        return err;
    return v ? wp_json_str(b, v, strlen(v)) : wp_buf_adds(b, "null");
}

/* Append "key": n (a JSON number; n < 0: null) to a JSON object being built. */
static int json_kn(wp_buf *b, const char *key, int64_t n)
{
    char num[24];
    int err;
    if (b->len > 1 && (err = wp_buf_addc(b, ',')) < 0)
        return err;
    if ((err = wp_json_str(b, key, strlen(key))) < 0 || (err = wp_buf_addc(b, ':')) < 0)
        return err;
    snprintf(num, sizeof num, "%lld", (long long)n);
    return wp_buf_adds(b, n < 0 ? "null" : num);
}

/* --- settings ------------------------------------------------------------------------------ */

int wp_store_crm_settings_get(wp_store *st, wp_crm_settings *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT pool_claim_daily_max, pool_cooldown_days,"
                             " reclaim_inactive_days, updated_us FROM crm_settings"
                             " WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_ROW) {
        out->claim_daily_max = (int)wp_db_col_int64(s, 0);
        out->cooldown_days = (int)wp_db_col_int64(s, 1);
        out->reclaim_inactive_days = (int)wp_db_col_int64(s, 2);
        out->updated_us = wp_db_col_int64(s, 3);
    } else {
        out->claim_daily_max = WP_CRM_CLAIM_DAILY_MAX_DEFAULT;
        out->cooldown_days = WP_CRM_COOLDOWN_DAYS_DEFAULT;
        out->reclaim_inactive_days = WP_CRM_RECLAIM_DAYS_DEFAULT;
        out->updated_us = 0;
    }
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_crm_settings_put(wp_store *st, const char *tenant_id, const wp_crm_settings *v,
                              int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (v->claim_daily_max < 0 || v->claim_daily_max > WP_CRM_CLAIMS_MAX)
        return wp_error_set(WP_EINVAL, "'pool_claim_daily_max' must be 0..%d", WP_CRM_CLAIMS_MAX);
    if (v->cooldown_days < 0 || v->cooldown_days > WP_CRM_DAYS_MAX)
        return wp_error_set(WP_EINVAL, "'pool_cooldown_days' must be 0..%d", WP_CRM_DAYS_MAX);
    if (v->reclaim_inactive_days < 0 || v->reclaim_inactive_days > WP_CRM_DAYS_MAX)
        return wp_error_set(WP_EINVAL, "'reclaim_inactive_days' must be 0..%d", WP_CRM_DAYS_MAX);
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO crm_settings (tenant_id, pool_claim_daily_max,"
                             " pool_cooldown_days, reclaim_inactive_days, updated_us)"
                             " VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET"
                             " pool_claim_daily_max = excluded.pool_claim_daily_max,"
                             " pool_cooldown_days = excluded.pool_cooldown_days,"
                             " reclaim_inactive_days = excluded.reclaim_inactive_days,"
                             " updated_us = excluded.updated_us")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, v->claim_daily_max);
    wp_db_bind_int64(s, 3, v->cooldown_days);
    wp_db_bind_int64(s, 4, v->reclaim_inactive_days);
    wp_db_bind_int64(s, 5, now_us);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_ENOTFOUND)
        return wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
    return err < 0 ? err : 0;
}

/* --- one customer -------------------------------------------------------------------------- */

#define CRM_COLUMNS                                                                                \
    "c.id, c.tenant_id, c.name, c.phone, c.owner_employee_id, c.grade, c.stage, c.created_us,"     \
    " c.last_contact_us, c.company, c.notes, c.in_pool, c.pooled_us, c.pool_reason,"               \
    " c.owner_since_us, c.last_follow_up_us, c.stage_us, c.deal_amount_fen, c.erased_us"

static int64_t opt_int(struct wp_stmt *s, int col)
{
    return wp_db_col_isnull(s, col) ? 0 : wp_db_col_int64(s, col);
}

static int read_crm(wp_store *st, struct wp_stmt *s, wp_customer_crm *out, int with_notes)
{
    wp_customer_crm c;
    wp_customer *b = &c.base;
    int err;
    memset(&c, 0, sizeof c);
    if ((err = wp_db_col_copy(s, 0, b->id, sizeof b->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, b->tenant_id, sizeof b->tenant_id)) < 0 ||
        (err = wp_seal__col_copy_opt(st, s, 2, b->name, sizeof b->name,
                                     &(wp_seal_at){b->tenant_id, "customers", "name", b->id})) < 0)
        return err;
    wp_seal_at at = {b->tenant_id, "customers", "phone", b->id};
    if ((err = wp_seal__col_copy_opt(st, s, 3, b->phone, sizeof b->phone, &at)) < 0 ||
        (err = wp_db_col_copy(s, 4, b->owner_employee_id, sizeof b->owner_employee_id)) < 0 ||
        (err = wp_db_col_copy_opt(s, 5, b->grade, sizeof b->grade)) < 0 ||
        (err = wp_db_col_copy_opt(s, 6, b->stage, sizeof b->stage)) < 0 ||
        (err = wp_seal__col_copy_opt(st, s, 9, c.company, sizeof c.company,
                                     &(wp_seal_at){b->tenant_id, "customers", "company", b->id})) <
            0 ||
        (err = wp_db_col_copy_opt(s, 13, c.pool_reason, sizeof c.pool_reason)) < 0)
        return err;
    b->created_us = wp_db_col_int64(s, 7);
    b->last_contact_us = opt_int(s, 8);
    c.in_pool = wp_db_col_int64(s, 11) != 0;
    c.pooled_us = opt_int(s, 12);
    c.owner_since_us = opt_int(s, 14);
    c.last_follow_up_us = opt_int(s, 15);
    c.stage_us = opt_int(s, 16);
    c.deal_amount_fen = wp_db_col_isnull(s, 17) ? -1 : wp_db_col_int64(s, 17);
    b->erased_us = opt_int(s, 18);
    if (with_notes && !wp_db_col_isnull(s, 10)) {
        const char *notes = NULL;
        wp_buf nb;
        wp_buf_init(&nb, WP_SEAL_NOTES_MAX);
        wp_seal_at at_notes = {b->tenant_id, "customers", "notes", b->id};
        if ((err = wp_seal__open_text(st, &nb, &notes, &at_notes, wp_db_col_text(s, 10))) == 0 &&
            !(c.notes = strdup(notes)))
            err = wp_error_set(WP_ENOMEM, "out of memory");
        wp_buf_release(&nb);
        if (err < 0)
            return err;
    }
    *out = c;
    return 0;
}

void wp_customer_crm_release(wp_customer_crm *c)
{
    if (!c)
        return;
    free(c->notes);
    c->notes = NULL;
}

int wp_store_customer_crm_get(wp_store *st, wp_customer_crm *out, const char *tenant_id,
                              const char *id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " CRM_COLUMNS
                             " FROM customers c WHERE c.tenant_id = ? AND c.id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "customer '%s' not found", id);
        goto out;
    }
    err = read_crm(st, s, out, 1);
out:
    wp_db_done(s);
    return err;
}

int wp_store_customer_event_add(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                                const char *customer_id, const char *kind, const wp_crm_actor *who,
                                const char *details, int64_t now_us)
{
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0 ||
        (err = wp_crm__check_actor(who)) < 0)
        return err;
    if (!kind || !*kind || strlen(kind) > WP_ARCHIVE_WORD_MAX ||
        strspn(kind, "abcdefghijklmnopqrstuvwxyz_") != strlen(kind))
        return wp_error_set(WP_EINVAL, "event kind must be of a-z and _");
    return wp_crm__event_insert(st, out_id, tenant_id, customer_id, kind, who, details, now_us);
}

static const char *const stages[] = {"lead", "contacted", "intent", "deal", "lost"};
static const char *const grades[] = {"A", "B", "C", "D"};

static int one_of(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, set[i]))
            return 1;
    return 0;
}

int wp_store_customer_edit_check(const wp_customer_edit *e)
{
    int err;
    if (e->name && (err = wp_store__check_name("'name'", e->name, 100)) < 0)
        return err;
    if (e->company && (err = wp_text_check("'company'", e->company, strlen(e->company),
                                           WP_CRM_COMPANY_MAX, 0)) < 0)
        return err;
    if (e->notes && (err = check_text("'notes'", e->notes, WP_CRM_TEXT_MAX)) < 0)
        return err;
    if (e->stage && !one_of(e->stage, stages, sizeof stages / sizeof stages[0]))
        return wp_error_set(WP_EINVAL, "'stage' must be lead, contacted, intent, deal or lost");
    if (e->grade && !one_of(e->grade, grades, sizeof grades / sizeof grades[0]))
        return wp_error_set(WP_EINVAL, "'grade' must be A, B, C or D");
    if (e->deal_amount_set &&
        (e->deal_amount_fen < -1 || e->deal_amount_fen > WP_CRM_DEAL_AMOUNT_MAX))
        return wp_error_set(WP_EINVAL, "'deal_amount_fen' must be 0-%lld or null",
                            (long long)WP_CRM_DEAL_AMOUNT_MAX);
    return 0;
}

/* Set one column and record the change: kind with {"field", "from", "to"}. */
static int edit_field(wp_store *st, const char *sql, const char *tenant_id, const char *id,
                      const char *field, const char *kind, const char *from, const char *to,
                      const wp_crm_actor *who, int64_t now_us, const int64_t *amount)
{
    struct wp_stmt *s = NULL;
    wp_buf d;
    int err;

    /* only the stage keeps the time of its last transition */
    int timed = !strcmp(field, "stage"), i = 1;
    /* a name, company and notes are sealed to their row with a master key (encryption.md) */
    const char *stored = to;
    wp_buf sb;
    wp_buf_init(&sb, WP_SEAL_NOTES_MAX);
    wp_seal_at at = {tenant_id, "customers", field, id};
    int seal = !strcmp(field, "name") || !strcmp(field, "company") || !strcmp(field, "notes");
    if ((seal && (err = wp_seal__text(st, &sb, &stored, &at, to)) < 0) ||
        (err = wp_db_prepare(st, &s, sql)) < 0) {
        wp_buf_release(&sb);
        return err;
    }
    if (*to)
        wp_db_bind_text(s, i++, stored);
    else
        wp_db_bind_null(s, i++);
    if (timed)
        wp_db_bind_int64(s, i++, now_us);
    wp_db_bind_text(s, i++, tenant_id);
    wp_db_bind_text(s, i, id);
    err = wp_db_step(s);
    wp_db_done(s);
    wp_buf_release(&sb);
    if (err < 0)
        return err;
    wp_buf_init(&d, WP_CRM_DETAILS_MAX);
    /* notes can be long: the event says they changed, not what they were */
    int full = strcmp(field, "notes") != 0;
    if ((err = wp_buf_addc(&d, '{')) < 0 || (err = json_kv(&d, "field", field)) < 0 ||
        (full && (err = json_kv(&d, "from", *from ? from : NULL)) < 0) ||
        (full && (err = json_kv(&d, "to", *to ? to : NULL)) < 0) ||
        (amount && (err = json_kn(&d, "deal_amount_fen", *amount)) < 0) ||
        (err = wp_buf_addc(&d, '}')) < 0) {
        wp_buf_release(&d);
        /* only a full buffer is the caller's text; a failed allocation is the server's */
        return err == WP_ENOMEM ? err : wp_error_set(WP_EINVAL, "details too long");
    }
    err = wp_crm__event_insert(st, NULL, tenant_id, id, kind, who, d.buf, now_us);
    wp_buf_release(&d);
    return err;
}

/* Set the deal's amount (-1: none); alone (with_event), an "edited" event with from/to numbers. */
static int edit_amount(wp_store *st, const char *tenant_id, const char *id, int64_t from,
                       int64_t to, int with_event, const wp_crm_actor *who, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_buf d;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE customers SET deal_amount_fen = ?"
                             " WHERE tenant_id = ? AND id = ?")) < 0)
        return err;
    if (to >= 0)
        wp_db_bind_int64(s, 1, to);
    else
        wp_db_bind_null(s, 1);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err < 0 || !with_event)
        return err < 0 ? err : 0;
    wp_buf_init(&d, WP_CRM_DETAILS_MAX);
    if ((err = wp_buf_addc(&d, '{')) < 0 || (err = json_kv(&d, "field", "deal_amount_fen")) < 0 ||
        (err = json_kn(&d, "from", from)) < 0 || (err = json_kn(&d, "to", to)) < 0 ||
        (err = wp_buf_addc(&d, '}')) < 0) {
        wp_buf_release(&d);
        /* only a full buffer is the caller's text; a failed allocation is the server's */
        return err == WP_ENOMEM ? err : wp_error_set(WP_EINVAL, "details too long");
    }
    err = wp_crm__event_insert(st, NULL, tenant_id, id, "edited", who, d.buf, now_us);
    wp_buf_release(&d);
    return err;
}

int wp_store_customer_edit(wp_store *st, int *changed, const char *tenant_id, const char *id,
                           const wp_customer_edit *e, const wp_crm_actor *who, int64_t now_us)
{
    wp_customer_crm c;
    int err, n = 0;

    memset(&c, 0, sizeof c);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", id)) < 0 || (err = wp_crm__check_actor(who)) < 0 ||
        (err = wp_store_customer_edit_check(e)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store_customer_crm_get(st, &c, tenant_id, id)) < 0)
        goto out;
    int stage_moves = e->stage && strcmp(e->stage, c.base.stage);
    int amount_moves = e->deal_amount_set && e->deal_amount_fen != c.deal_amount_fen;
    if (e->name && strcmp(e->name, c.base.name) &&
        (err = edit_field(st,
                          "UPDATE customers SET name = ?"
                          " WHERE tenant_id = ? AND id = ?",
                          tenant_id, id, "name", "edited", c.base.name, e->name, who, now_us, NULL)) < 0)
        goto out;
    n += e->name && strcmp(e->name, c.base.name);
    if (e->company && strcmp(e->company, c.company) &&
        (err = edit_field(st,
                          "UPDATE customers SET company = ?"
                          " WHERE tenant_id = ? AND id = ?",
                          tenant_id, id, "company", "edited", c.company, e->company, who, now_us, NULL)) <
            0)
        goto out;
    n += e->company && strcmp(e->company, c.company);
    const char *old_notes = c.notes ? c.notes : "";
    if (e->notes && strcmp(e->notes, old_notes) &&
        (err = edit_field(st,
                          "UPDATE customers SET notes = ?"
                          " WHERE tenant_id = ? AND id = ?",
                          tenant_id, id, "notes", "edited", old_notes, e->notes, who, now_us, NULL)) < 0)
        goto out;
    n += e->notes && strcmp(e->notes, old_notes);
    if (e->stage && strcmp(e->stage, c.base.stage) &&
        (err = edit_field(st,
                          "UPDATE customers SET stage = ?, stage_us = ?"
                          " WHERE tenant_id = ? AND id = ?",
                          tenant_id, id, "stage", "stage_changed", c.base.stage, e->stage, who,
                          now_us, amount_moves ? &e->deal_amount_fen : NULL)) < 0)
        goto out;
    n += e->stage && strcmp(e->stage, c.base.stage);
    if (e->grade && strcmp(e->grade, c.base.grade) &&
        (err = edit_field(st,
                          "UPDATE customers SET grade = ?"
                          " WHERE tenant_id = ? AND id = ?",
                          tenant_id, id, "grade", "grade_changed", c.base.grade, e->grade, who,
                          now_us, NULL)) < 0)
        goto out;
    n += e->grade && strcmp(e->grade, c.base.grade);
    if (amount_moves && (err = edit_amount(st, tenant_id, id, c.deal_amount_fen,
                                           e->deal_amount_fen, !stage_moves, who, now_us)) < 0)
        goto out;
    n += amount_moves && !stage_moves;
    err = 0;
out:
    wp_customer_crm_release(&c);
    if ((err = wp_store__op_end(st, err)) == 0 && changed)
        *changed = n;
    return err;
}

int wp_store_customer_follow_up(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                                const char *id, const char *text, const wp_crm_actor *who,
                                int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_buf d;
    int err;

    wp_buf_init(&d, WP_CRM_DETAILS_MAX);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", id)) < 0 || (err = wp_crm__check_actor(who)) < 0)
        return err;
    if (!text || !*text)
        return wp_error_set(WP_EINVAL, "'text' is required");
    if ((err = check_text("'text'", text, WP_CRM_TEXT_MAX)) < 0)
        return err;
    if ((err = wp_buf_addc(&d, '{')) < 0 || (err = json_kv(&d, "text", text)) < 0 ||
        (err = wp_buf_addc(&d, '}')) < 0) {
        wp_buf_release(&d);
        return err == WP_ENOMEM ? err : wp_error_set(WP_EINVAL, "'text' is too long");
    }
    if ((err = wp_store__op_begin(st, 1)) < 0)
        goto out;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE customers SET last_follow_up_us = ?"
                             " WHERE tenant_id = ? AND id = ? RETURNING id")) < 0)
        goto end;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "customer '%s' not found", id);
    if (err < 0)
        goto end;
    err = wp_crm__event_insert(st, out_id, tenant_id, id, "follow_up", who, d.buf, now_us);
end:
    err = wp_store__op_end(st, err);
out:
    wp_buf_release(&d);
    return err;
}

int wp_store_customer_read_granted(wp_store *st, int *out, const char *tenant_id,
                                   const char *customer_id, const char *employee_id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0 ||
        (err = wp_store__check_id("employee", employee_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT 1 FROM customer_read_grants WHERE tenant_id = ?"
                             " AND customer_id = ? AND employee_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    wp_db_bind_text(s, 3, employee_id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err < 0)
        return err;
    *out = err == WP_DB_ROW;
    return 0;
}

/* --- the pool ------------------------------------------------------------------------------ */

static int check_reason(const char *r)
{
    if (!r || (strcmp(r, "manual") && strcmp(r, "inactive") && strcmp(r, "owner_left")))
        return wp_error_set(WP_EINVAL, "'reason' must be manual, inactive or owner_left");
    return 0;
}

/* The details of a pool event: {"reason"?, "from"?, "to"?, "note"?}. */
static int pool_details(wp_buf *d, const char *reason, const char *from, const char *to,
                        const char *note)
{
    int err = wp_buf_addc(d, '{');
    if (err == 0 && reason)
        err = json_kv(d, "reason", reason);
    if (err == 0 && from)
        err = json_kv(d, "from", from);
    if (err == 0 && to)
        err = json_kv(d, "to", to);
    if (err == 0 && note)
        err = json_kv(d, "note", note);
    if (err == 0)
        err = wp_buf_addc(d, '}');
    if (err == WP_ENOMEM)
        return err;
    return err < 0 ? wp_error_set(WP_EINVAL, "details too long") : 0;
}

enum rule { RULE_NONE, RULE_INACTIVE, RULE_OWNER_LEFT };

/* The release, inside an open operation. rule re-checks a reclaim rule in the UPDATE itself
 * (the customer may have been contacted since it was picked): *moved 0 when it no longer
 * holds. */
static int release_locked(wp_store *st, wp_pool_move *m, enum rule rule, int64_t cutoff, int *moved)
{
    static const char *const sql[] = {
        [RULE_NONE] = "UPDATE customers SET in_pool = 1, pooled_us = ?, pool_reason = ?"
                      " WHERE tenant_id = ? AND id = ? AND in_pool = 0"
                      " RETURNING owner_employee_id",
        [RULE_INACTIVE] =
            "UPDATE customers SET in_pool = 1, pooled_us = ?, pool_reason = ?"
            " WHERE tenant_id = ? AND id = ? AND in_pool = 0"
            " AND COALESCE(last_contact_us, 0) < ? AND COALESCE(last_follow_up_us, 0) < ?"
            " AND COALESCE(owner_since_us, 0) < ? AND created_us < ?"
            " RETURNING owner_employee_id",
        [RULE_OWNER_LEFT] =
            "UPDATE customers SET in_pool = 1, pooled_us = ?, pool_reason = ?"
            " WHERE tenant_id = ? AND id = ? AND in_pool = 0 AND owner_employee_id IN"
            " (SELECT e.id FROM employees e WHERE e.tenant_id = ? AND e.active = 0)"
            " RETURNING owner_employee_id",
    };
    struct wp_stmt *s = NULL;
    wp_buf d;
    int err;

    *moved = 0;
    wp_buf_init(&d, WP_CRM_DETAILS_MAX);
    if ((err = wp_db_prepare(st, &s, sql[rule])) < 0)
        goto out;
    wp_db_bind_int64(s, 1, m->now_us);
    wp_db_bind_text(s, 2, m->reason);
    wp_db_bind_text(s, 3, m->tenant_id);
    wp_db_bind_text(s, 4, m->customer_id);
    if (rule == RULE_INACTIVE)
        for (int i = 5; i <= 8; i++)
            wp_db_bind_int64(s, i, cutoff);
    if (rule == RULE_OWNER_LEFT)
        wp_db_bind_text(s, 5, m->tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = 0;
        goto out;
    }
    if ((err = wp_db_col_copy(s, 0, m->previous_owner, sizeof m->previous_owner)) < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    if ((err = pool_details(&d, m->reason, m->previous_owner, NULL, m->note)) < 0 ||
        (err = wp_crm__event_insert(st, m->event_id, m->tenant_id, m->customer_id, "pooled",
                                    &m->who, d.buf, m->now_us)) < 0)
        goto out;
    *moved = 1;
out:
    wp_db_done(s);
    wp_buf_release(&d);
    return err;
}

static int check_move(const wp_pool_move *m)
{
    int err;
    if ((err = wp_store__check_id("tenant", m->tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", m->customer_id)) < 0 ||
        (err = wp_crm__check_actor(&m->who)) < 0)
        return err;
    if (m->note && (err = check_text("'note'", m->note, WP_CRM_TEXT_MAX)) < 0)
        return err;
    return 0;
}

int wp_store_pool_release(wp_store *st, wp_pool_move *m)
{
    int err, moved = 0;
    m->refused = WP_POOL_OK;
    m->previous_owner[0] = m->event_id[0] = '\0';
    if ((err = check_move(m)) < 0 || (err = check_reason(m->reason)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = release_locked(st, m, RULE_NONE, 0, &moved)) < 0)
        goto out;
    if (!moved) {
        wp_customer c;
        if ((err = wp_store_customer_get(st, &c, m->tenant_id, m->customer_id)) < 0)
            goto out;
        m->refused = WP_POOL_IN_POOL;
        err = wp_error_set(WP_EBUSY, "customer '%s' is in the pool already", m->customer_id);
    }
out:
    return wp_store__op_end(st, err);
}

int wp_store_pool_take(wp_store *st, wp_pool_move *m)
{
    struct wp_stmt *s = NULL;
    wp_customer_crm c;
    wp_crm_settings set;
    wp_buf d;
    int err, active = 0;

    memset(&c, 0, sizeof c);
    m->refused = WP_POOL_OK;
    m->retry_after_us = 0;
    m->previous_owner[0] = m->event_id[0] = '\0';
    if ((err = check_move(m)) < 0 || (err = wp_store__check_id("employee", m->employee_id)) < 0)
        return err;
    wp_buf_init(&d, WP_CRM_DETAILS_MAX);
    if ((err = wp_store__op_begin(st, 1)) < 0)
        goto out;
    /* The new owner's row is written first: on PostgreSQL that locks it, so parallel claims
     * of one employee count each other's claims */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE employees SET active = active WHERE tenant_id = ? AND id = ?"
                             " RETURNING active")) < 0)
        goto end;
    wp_db_bind_text(s, 1, m->tenant_id);
    wp_db_bind_text(s, 2, m->employee_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        active = wp_db_col_int64(s, 0) != 0;
    wp_db_done(s);
    s = NULL;
    if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "employee '%s' not found", m->employee_id);
    if (err < 0 || (err = wp_store_customer_crm_get(st, &c, m->tenant_id, m->customer_id)) < 0)
        goto end;
    if (!c.in_pool) {
        m->refused = WP_POOL_NOT_IN_POOL;
        err = wp_error_set(WP_EBUSY, "customer '%s' is not in the pool", m->customer_id);
        goto end;
    }
    if (!active) {
        m->refused = WP_POOL_OWNER_INACTIVE;
        err = wp_error_set(WP_EINVAL, "employee '%s' is not active", m->employee_id);
        goto end;
    }
    if (m->claim) {
        if ((err = wp_store_crm_settings_get(st, &set, m->tenant_id)) < 0)
            goto end;
        int64_t until = c.pooled_us + set.cooldown_days * DAY_US;
        if (!strcmp(c.base.owner_employee_id, m->employee_id) && m->now_us < until) {
            m->refused = WP_POOL_COOLDOWN;
            m->retry_after_us = until;
            err = wp_error_set(WP_EBUSY,
                               "the last owner may claim this customer back %d days after it "
                               "left, not sooner",
                               set.cooldown_days);
            goto end;
        }
        if ((err = wp_db_prepare(st, &s,
                                 "SELECT count(*), min(ts_us) FROM customer_events"
                                 " WHERE tenant_id = ? AND actor_employee_id = ?"
                                 " AND kind = 'claimed' AND ts_us > ?")) < 0)
            goto end;
        wp_db_bind_text(s, 1, m->tenant_id);
        wp_db_bind_text(s, 2, m->employee_id);
        wp_db_bind_int64(s, 3, m->now_us - DAY_US);
        int64_t claims = 0, oldest = 0;
        if ((err = wp_db_step(s)) == WP_DB_ROW) {
            claims = wp_db_col_int64(s, 0);
            oldest = opt_int(s, 1);
        }
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            goto end;
        if (claims >= set.claim_daily_max) {
            m->refused = WP_POOL_DAILY_LIMIT;
            m->retry_after_us = claims ? oldest + DAY_US : 0;
            err = wp_error_set(WP_ELIMIT, "at most %d claims from the pool in 24 hours",
                               set.claim_daily_max);
            goto end;
        }
    }
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE customers SET in_pool = 0, pooled_us = NULL,"
                             " pool_reason = NULL, owner_employee_id = ?, owner_since_us = ?"
                             " WHERE tenant_id = ? AND id = ? AND in_pool = 1 RETURNING id")) < 0)
        goto end;
    wp_db_bind_text(s, 1, m->employee_id);
    wp_db_bind_int64(s, 2, m->now_us);
    wp_db_bind_text(s, 3, m->tenant_id);
    wp_db_bind_text(s, 4, m->customer_id);
    err = wp_db_step(s);
    wp_db_done(s);
    s = NULL;
    if (err == WP_DB_DONE) { /* taken by a parallel claim since it was read */
        m->refused = WP_POOL_NOT_IN_POOL;
        err = wp_error_set(WP_EBUSY, "customer '%s' is not in the pool", m->customer_id);
    }
    if (err < 0)
        goto end;
    memcpy(m->previous_owner, c.base.owner_employee_id, sizeof m->previous_owner);
    if ((err = wp_crm__history_follows(st, m->tenant_id, m->customer_id,
                                       c.base.owner_employee_id, m->employee_id,
                                       m->claim ? "claim" : "assign", 0, m->now_us)) < 0)
        goto end;
    /* a claim is the claimer's act: its events are what the daily limit counts */
    wp_crm_actor who = {m->who.actor, m->claim ? m->employee_id : m->who.employee_id};
    if ((err = pool_details(&d, NULL, c.base.owner_employee_id, m->employee_id, m->note)) < 0 ||
        (err = wp_crm__event_insert(st, m->event_id, m->tenant_id, m->customer_id,
                                    m->claim ? "claimed" : "assigned", &who, d.buf, m->now_us)) < 0)
        goto end;
    err = 0;
end:
    wp_db_done(s);
    err = wp_store__op_end(st, err);
out:
    wp_customer_crm_release(&c);
    wp_buf_release(&d);
    return err;
}

int wp_store_pool_list(wp_store *st, wp_pool_page *out, const wp_pool_filter *f)
{
    struct wp_stmt *s = NULL;
    wp_pool_page p;
    struct wp_scope_bind sc;
    char cid[WP_ID_LEN + 1];
    int64_t ct = 0;
    int has = 0, err, bind = 1;
    unsigned limit;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0 ||
        (f->reason && (err = check_reason(f->reason)) < 0))
        goto out;
    /* The filters are optional through "? IS NULL" tests on bound values: one fixed text. */
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT " CRM_COLUMNS " FROM customers c WHERE c.tenant_id = ? AND c.in_pool = 1"
             " AND (CAST(? AS TEXT) IS NULL OR c.pool_reason = ?)"
             " AND (CAST(? AS TEXT) IS NULL OR c.owner_employee_id IN (SELECT se.id FROM"
             " employees se JOIN org_units so ON so.tenant_id = se.tenant_id AND so.id ="
             " se.org_unit_id WHERE se.tenant_id = c.tenant_id AND so.path >= ? AND so.path < ?))"
             " AND (CAST(? AS TEXT) IS NULL OR c.owner_employee_id = ?)"
             " AND (CAST(? AS BIGINT) = 0 OR c.pooled_us < ? OR (c.pooled_us = ? AND c.id < ?))"
             " ORDER BY c.pooled_us DESC, c.id DESC LIMIT ?")) < 0)
        goto out;
    wp_db_bind_text(s, bind++, f->tenant_id);
    wp_db_bind_text_or_null(s, bind++, f->reason);
    wp_db_bind_text_or_null(s, bind++, f->reason);
    wp_db_bind_text_or_null(s, bind++, sc.org_path ? sc.lo : NULL);
    wp_db_bind_text(s, bind++, sc.lo);
    wp_db_bind_text(s, bind++, sc.hi);
    wp_db_bind_text_or_null(s, bind++, sc.employee_id);
    wp_db_bind_text(s, bind++, sc.employee_id ? sc.employee_id : "");
    wp_db_bind_int64(s, bind++, has);
    wp_db_bind_int64(s, bind++, ct);
    wp_db_bind_int64(s, bind++, ct);
    wp_db_bind_text(s, bind++, has ? cid : "");
    wp_db_bind_int64(s, bind++, (int64_t)limit + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_cursor__make(p.next_cursor, p.items[p.n - 1].pooled_us, p.items[p.n - 1].base.id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0 ||
            (err = read_crm(st, s, &p.items[p.n], 0)) < 0)
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

void wp_pool_page_release(wp_pool_page *p)
{
    if (!p)
        return;
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

/* --- the reclaim job ----------------------------------------------------------------------- */

/* Up to RECLAIM_BATCH customers of the tenant a rule picks now. */
static int reclaim_pick(wp_store *st, char (*ids)[WP_ID_LEN + 1], size_t *n, const char *tenant,
                        enum rule rule, int64_t cutoff)
{
    struct wp_stmt *s = NULL;
    int err;
    *n = 0;
    if (rule == RULE_OWNER_LEFT) {
        err = wp_db_prepare(st, &s,
                            "SELECT c.id FROM customers c JOIN employees e ON e.tenant_id ="
                            " c.tenant_id AND e.id = c.owner_employee_id WHERE c.tenant_id = ?"
                            " AND c.in_pool = 0 AND c.merged_into IS NULL AND e.active = 0"
                            " ORDER BY c.id LIMIT ?");
        if (err == 0) {
            wp_db_bind_text(s, 1, tenant);
            wp_db_bind_int64(s, 2, RECLAIM_BATCH);
        }
    } else {
        err = wp_db_prepare(st, &s,
                            "SELECT c.id FROM customers c WHERE c.tenant_id = ? AND c.in_pool = 0"
                            " AND c.merged_into IS NULL AND COALESCE(c.last_contact_us, 0) < ?"
                            " AND COALESCE(c.last_follow_up_us, 0) < ?"
                            " AND COALESCE(c.owner_since_us, 0) < ? AND c.created_us < ?"
                            " ORDER BY c.id LIMIT ?");
        if (err == 0) {
            wp_db_bind_text(s, 1, tenant);
            for (int i = 2; i <= 5; i++)
                wp_db_bind_int64(s, i, cutoff);
            wp_db_bind_int64(s, 6, RECLAIM_BATCH);
        }
    }
    if (err < 0)
        return err;
    while ((err = wp_db_step(s)) == WP_DB_ROW && *n < RECLAIM_BATCH)
        if ((err = wp_db_col_copy(s, 0, ids[(*n)++], WP_ID_LEN + 1)) < 0)
            break;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* One reclaim move with its audit row, in a transaction of its own. */
static int reclaim_one(wp_store *st, int *moved, const unsigned char *key, const char *tenant,
                       const char *customer, enum rule rule, int64_t cutoff, int64_t now_us)
{
    wp_pool_move m = {.tenant_id = tenant,
                      .customer_id = customer,
                      .reason = rule == RULE_OWNER_LEFT ? "owner_left" : "inactive",
                      .who = {.actor = "system"},
                      .now_us = now_us};
    char target[WP_ID_LEN + 16], details[128];
    int err;

    if ((err = wp_store_begin(st)) < 0)
        return err;
    if ((err = release_locked(st, &m, rule, cutoff, moved)) < 0 || !*moved)
        goto out;
    snprintf(target, sizeof target, "customer:%s", customer);
    snprintf(details, sizeof details, "{\"reason\":\"%s\",\"previous_owner\":\"%s\"}", m.reason,
             m.previous_owner);
    wp_audit_entry a = {.tenant_id = tenant,
                        .ts_us = now_us,
                        .actor = "system",
                        .action = "pool.reclaim",
                        .target = target,
                        .details = details};
    if ((err = wp_store_audit_append(st, key, &a, NULL)) == 0)
        wp_test_hooks_job_step(); /* a test may kill the process here: nothing is committed */
out:
    if (err < 0) {
        wp_store_rollback(st);
        return err;
    }
    return wp_store_commit(st);
}

static int reclaim_rule(wp_store *st, int64_t *count, const unsigned char *key, const char *tenant,
                        enum rule rule, int64_t cutoff, int64_t now_us)
{
    char(*ids)[WP_ID_LEN + 1] = malloc(RECLAIM_BATCH * sizeof *ids);
    size_t n;
    int err = 0;
    if (!ids)
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (;;) {
        int any = 0;
        if ((err = reclaim_pick(st, ids, &n, tenant, rule, cutoff)) < 0 || n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            int moved = 0;
            if ((err = reclaim_one(st, &moved, key, tenant, ids[i], rule, cutoff, now_us)) < 0)
                goto out;
            *count += moved;
            any |= moved;
        }
        /* the picked rows no longer qualify once moved; none moved means they changed under
         * us (and would be picked again): stop rather than spin */
        if (!any || n < RECLAIM_BATCH)
            break;
    }
out:
    free(ids);
    return err;
}

int wp_store_pool_reclaim(wp_store *st, wp_reclaim_result *out, const unsigned char *audit_key,
                          int64_t now_us)
{
    char(*tenants)[WP_ID_LEN + 1] = NULL;
    size_t n = 0;
    int err;

    if ((err = wp_store__tenant_ids(st, &tenants, &n)) < 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        wp_crm_settings set;
        if ((err = wp_store_crm_settings_get(st, &set, tenants[i])) < 0 ||
            (err = reclaim_rule(st, &out->owner_left, audit_key, tenants[i], RULE_OWNER_LEFT, 0,
                                now_us)) < 0)
            goto out;
        if (set.reclaim_inactive_days > 0 &&
            (err = reclaim_rule(st, &out->inactive, audit_key, tenants[i], RULE_INACTIVE,
                                now_us - set.reclaim_inactive_days * DAY_US, now_us)) < 0)
            goto out;
    }
    err = 0;
out:
    free(tenants);
    return err;
}

/* --- the timeline -------------------------------------------------------------------------- */

/* Four sources with the same columns: type, id, ts, employee, kind, actor, details,
 * direction, recording, channel, status, category, message_id, num; each after the cursor and
 * within the reader's scope (calls, contact events and alerts by the employee who had them:
 * wp_query__scope_history, scope.c). */
#define TL_NT "CAST(NULL AS TEXT)"
#define TL_NI "CAST(NULL AS BIGINT)"
static const char *const timeline_branches[] = {
    "SELECT 1 AS t, id, ts_us, actor_employee_id, kind, actor, details, " TL_NT ", " TL_NT
    ", " TL_NT ", " TL_NT ", " TL_NT ", " TL_NT ", " TL_NI
    " FROM customer_events WHERE tenant_id = ? AND customer_id = ?",
    "SELECT 2, id, ts_us, employee_id, " TL_NT ", " TL_NT ", " TL_NT
    ", direction, recording, " TL_NT ", " TL_NT ", " TL_NT ", " TL_NT
    ", duration_s FROM calls WHERE tenant_id = ? AND customer_id = ?",
    "SELECT 3, id, ts_us, employee_id, action, " TL_NT ", " TL_NT ", " TL_NT ", " TL_NT
    ", channel, " TL_NT ", " TL_NT ", " TL_NT ", " TL_NI
    " FROM contact_events WHERE tenant_id = ? AND customer_id = ?",
    "SELECT 4, id, ts_us, employee_id, kind, " TL_NT ", " TL_NT ", " TL_NT ", " TL_NT
    ", " TL_NT ", status, category, message_id, " TL_NI
    " FROM alerts WHERE tenant_id = ? AND customer_id = ?",
};

int wp_store_customer_timeline(wp_store *st, wp_timeline_page *out, const wp_timeline_filter *f)
{
    struct wp_stmt *s = NULL;
    struct wp_query q;
    wp_timeline_page p;
    wp_strpool *pool = NULL;
    struct wp_scope_bind sc;
    char cid[WP_ID_LEN + 1] = "";
    int64_t ct = 0;
    int has = 0, err, first = 1;
    unsigned limit;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    wp_query__init(&q, 16384);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", f->customer_id)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0 ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0)
        goto out;
    for (int b = 0; b < 4; b++) {
        if (b == 0 && f->no_events)
            continue;
        if (!first)
            wp_query__sql(&q, " UNION ALL ");
        first = 0;
        wp_query__sql(&q, timeline_branches[b]);
        wp_query__text(&q, f->tenant_id);
        wp_query__text(&q, f->customer_id);
        if (has) {
            wp_query__sql(&q, " AND (ts_us < ? OR (ts_us = ? AND id < ?))");
            wp_query__int(&q, ct);
            wp_query__int(&q, ct);
            wp_query__text(&q, cid);
        }
        if (b > 0)
            wp_query__scope_history(&q, "employee_id", "customer_id",
                                    b == 3 ? "other_employee_id" : NULL, &sc);
    }
    wp_query__sql(&q, " ORDER BY ts_us DESC, id DESC LIMIT ?");
    wp_query__int(&q, (int64_t)limit + 1);
    if ((err = wp_query__prepare(&q, st, &s)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_cursor__make(p.next_cursor, p.items[p.n - 1].ts_us, p.items[p.n - 1].id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0)
            goto out;
        wp_timeline_item *it = &p.items[p.n];
        memset(it, 0, sizeof *it);
        it->type = (enum wp_timeline_kind)wp_db_col_int64(s, 0);
        it->ts_us = wp_db_col_int64(s, 2);
        it->num = wp_db_col_isnull(s, 13) ? -1 : wp_db_col_int64(s, 13);
        if ((err = wp_db_col_copy(s, 1, it->id, sizeof it->id)) < 0 ||
            (err = wp_db_col_copy_opt(s, 3, it->employee_id, sizeof it->employee_id)) < 0 ||
            (err = wp_strpool__dup(&pool, &it->kind, wp_db_col_text(s, 4))) < 0 ||
            (err = wp_strpool__dup(&pool, &it->actor, wp_db_col_text(s, 5))) < 0 ||
            (err = wp_strpool__dup(&pool, &it->details, wp_db_col_text(s, 6))) < 0 ||
            (err = wp_strpool__dup(&pool, &it->direction, wp_db_col_text(s, 7))) < 0 ||
            (err = wp_strpool__dup(&pool, &it->recording, wp_db_col_text(s, 8))) < 0 ||
            (err = wp_strpool__dup(&pool, &it->channel, wp_db_col_text(s, 9))) < 0 ||
            (err = wp_strpool__dup(&pool, &it->status, wp_db_col_text(s, 10))) < 0 ||
            (err = wp_strpool__dup(&pool, &it->category, wp_db_col_text(s, 11))) < 0 ||
            (err = wp_strpool__dup(&pool, &it->message_id, wp_db_col_text(s, 12))) < 0)
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
    wp_buf_release(&q.sql);
    wp_strpool__free(pool);
    free(p.items);
    return err;
}

void wp_timeline_page_release(wp_timeline_page *p)
{
    if (!p)
        return;
    free(p->items);
    wp_strpool__free(p->mem);
    p->items = NULL;
    p->mem = NULL;
    p->n = 0;
}
